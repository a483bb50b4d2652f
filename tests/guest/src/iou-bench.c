// SPDX-License-Identifier: GPL-2.0
/*
 * READ_FIXED random reads with O_DIRECT from a block device, one buffer
 * per queue slot, registered pinned (flags 0) or unpinned
 * (IORING_RSRC_REGISTER_UNPINNED through IORING_REGISTER_BUFFERS2): the
 * registration flag itself measured, with no sysctl. Modes are interleaved
 * round by round, their order alternating. Buffers are 4 KiB pages, and
 * for 128 KiB also transparent huge pages (bs "128k-thp": one 2 MiB
 * aligned MADV_HUGEPAGE area for all slots). One JSON line per run.
 *
 *   iou-bench DEVICE ROUNDS MILLISECONDS [KIB QD MODE]
 *
 * With KIB, QD and MODE (pinned or unpinned) only that run, for profiling.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/fs.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

const char *bench_name = "iou-bench";

static const char *const mode_name[] = { "pinned", "unpinned" };

static void register_slots(struct io_uring *ring, char *buf, size_t bs,
			   unsigned int qd, int unpinned)
{
	struct iovec iov[32];
	unsigned int i;

	for (i = 0; i < qd; i++) {
		iov[i].iov_base = buf + i * bs;
		iov[i].iov_len = bs;
	}
	register_buffers(ring, iov, qd, unpinned);
}

static void queue_read(struct io_uring *ring, int fd, char *buf, size_t bs,
		       unsigned int slot, uint64_t blocks)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	uint64_t block = (uint64_t)random() % blocks;

	io_uring_prep_read_fixed(sqe, fd, buf + slot * bs, bs, block * bs, slot);
	sqe->user_data = slot;
}

#define THP_SIZE	(2UL << 20)

/* @len bytes in transparent huge pages where the kernel can give them. */
static char *map_thp(size_t len, char **area, size_t *area_len)
{
	char *p;

	*area_len = len + THP_SIZE;
	*area = mmap(NULL, *area_len, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (*area == MAP_FAILED)
		fail("mmap", errno);
	p = (char *)(((uintptr_t)*area + THP_SIZE - 1) & ~(THP_SIZE - 1));
	if (madvise(p, len, MADV_HUGEPAGE))
		fail("madvise(MADV_HUGEPAGE)", errno);
	memset(p, 1, len);
	return p;
}

/* IOPS of @ms milliseconds of QD @qd reads of @bs bytes. */
static double run(int fd, uint64_t dev_size, size_t bs, unsigned int qd,
		  int unpinned, bool thp, unsigned int ms)
{
	uint64_t blocks = dev_size / bs, done = 0, t0, end;
	struct io_uring ring;
	size_t area_len = bs * qd;
	unsigned int i;
	char *buf, *area;
	int ret;

	if (thp)
		buf = map_thp(bs * qd, &area, &area_len);
	else
		buf = area = map_populated(bs * qd);
	ret = io_uring_queue_init(qd, &ring, 0);
	if (ret)
		fail("io_uring_queue_init", -ret);
	register_slots(&ring, buf, bs, qd, unpinned);
	for (i = 0; i < qd; i++)
		queue_read(&ring, fd, buf, bs, i, blocks);
	t0 = now_ns();
	end = t0 + ms * 1000000ULL;
	for (;;) {
		i = submit_and_reap(&ring, bs);
		done++;
		if (now_ns() >= end)
			break;
		queue_read(&ring, fd, buf, bs, i, blocks);
	}
	t0 = now_ns() - t0;
	io_uring_queue_exit(&ring);
	munmap(area, area_len);
	return done * 1e9 / t0;
}

static void report(unsigned int round, size_t bs, bool thp, unsigned int qd,
		   int mode, double iops)
{
	printf("{\"bench\":\"iou-bench\",\"round\":%u,\"bs\":\"%zuk%s\","
	       "\"qd\":%u,\"mode\":\"%s\",\"iops\":%.0f}\n",
	       round, bs >> 10, thp ? "-thp" : "", qd, mode_name[mode], iops);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const size_t sizes[] = { 4096, 131072, 131072 };
	static const bool thps[] = { false, false, true };
	static const unsigned int depths[] = { 1, 32 };
	unsigned int rounds, ms, round, s, d, m;
	uint64_t dev_size;
	int fd, mode;

	if (argc != 4 && argc != 7) {
		fprintf(stderr, "usage: iou-bench DEVICE ROUNDS MILLISECONDS [KIB QD MODE]\n");
		return 2;
	}
	rounds = atoi(argv[2]);
	ms = atoi(argv[3]);
	fd = open_device(argv[1], &dev_size);
	if (argc == 7) {
		size_t bs = strtoul(argv[4], NULL, 0) << 10;
		unsigned int qd = atoi(argv[5]);

		mode = !strcmp(argv[6], "unpinned");
		if (!bs || !qd || qd > 32 || (!mode && strcmp(argv[6], "pinned")))
			fail("KIB QD MODE", EINVAL);
		for (round = 1; round <= rounds; round++)
			report(round, bs, false, qd, mode,
			       run(fd, dev_size, bs, qd, mode, false, ms));
		return 0;
	}
	for (round = 1; round <= rounds; round++)
		for (s = 0; s < 3; s++)
			for (d = 0; d < 2; d++)
				for (m = 0; m < 2; m++) {
					mode = (m + round) % 2;
					report(round, sizes[s], thps[s], depths[d], mode,
					       run(fd, dev_size, sizes[s], depths[d],
						   mode, thps[s], ms));
				}
	return 0;
}
