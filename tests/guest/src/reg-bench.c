// SPDX-License-Identifier: GPL-2.0
/*
 * Registration cost of io_uring fixed buffers, pinned vs unpinned: time of
 * register + unregister of one buffer of each size, the memory already
 * faulted in, modes interleaved round by round (order alternating). Also
 * the latency of the first 4 KiB read after registration: unpinned, it
 * pays the page-table walk registration no longer does. One JSON line per
 * sample on stdout.
 *
 *   reg-bench ROUNDS SIZE_MIB...
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

const char *bench_name = "reg-bench";

static const char *const mode_name[] = { "pinned", "unpinned" };

/* Time of the first READ_FIXED of 4 KiB from /dev/zero into @buf. */
static uint64_t first_read_ns(struct io_uring *ring, int fd, void *buf)
{
	struct io_uring_cqe *cqe;
	uint64_t t0 = now_ns();

	io_uring_prep_read_fixed(io_uring_get_sqe(ring), fd, buf, 4096, 0, 0);
	io_uring_submit(ring);
	if (io_uring_wait_cqe(ring, &cqe) || cqe->res != 4096)
		fail("first read", cqe ? -cqe->res : EIO);
	io_uring_cqe_seen(ring, cqe);
	return now_ns() - t0;
}

int main(int argc, char **argv)
{
	int rounds, round, i, m, mode, ret, zero;
	struct io_uring ring;

	if (argc < 3) {
		fprintf(stderr, "usage: reg-bench ROUNDS SIZE_MIB...\n");
		return 2;
	}
	rounds = atoi(argv[1]);
	zero = open("/dev/zero", O_RDONLY);
	ret = io_uring_queue_init(4, &ring, 0);
	if (ret || zero < 0)
		fail("setup", ret ? -ret : errno);
	for (i = 2; i < argc; i++) {
		size_t len = strtoull(argv[i], NULL, 0) << 20;
		void *buf = map_populated(len);

		for (round = 1; round <= rounds; round++) {
			for (m = 0; m < 2; m++) {
				struct iovec iov = { .iov_base = buf, .iov_len = len };
				uint64_t t0, reg, first;

				mode = (m + round) % 2;
				t0 = now_ns();
				register_buffers(&ring, &iov, 1, mode);
				reg = now_ns() - t0;
				first = first_read_ns(&ring, zero, buf);
				t0 = now_ns();
				io_uring_unregister_buffers(&ring);
				printf("{\"bench\":\"register\",\"round\":%d,\"mib\":%zu,\"mode\":\"%s\","
				       "\"register_ns\":%llu,\"register_unregister_ns\":%llu,"
				       "\"first_read_ns\":%llu}\n", round, len >> 20,
				       mode_name[mode], (unsigned long long)reg,
				       (unsigned long long)(reg + now_ns() - t0),
				       (unsigned long long)first);
				fflush(stdout);
			}
		}
		munmap(buf, len);
	}
	return 0;
}
