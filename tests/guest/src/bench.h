/* SPDX-License-Identifier: GPL-2.0 */
/* What the benchmark programs share: a clock, failing, registering. */
#ifndef BENCH_H
#define BENCH_H

#include <errno.h>
#include <liburing.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <linux/fs.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#ifndef IORING_RSRC_REGISTER_UNPINNED
#define IORING_RSRC_REGISTER_UNPINNED	(1U << 1)
#endif

extern const char *bench_name;	/* defined by each program, for messages */

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static inline void fail(const char *what, int err)
{
	fprintf(stderr, "%s: %s: %s\n", bench_name, what, strerror(err));
	exit(1);
}

/* Submit what is queued, wait for one completion of @res bytes: its user_data. */
static inline uint64_t submit_and_reap(struct io_uring *ring, int res)
{
	struct io_uring_cqe *cqe;
	uint64_t data;
	int ret;

	io_uring_submit(ring);
	ret = io_uring_wait_cqe(ring, &cqe);
	if (ret)
		fail("wait", -ret);
	if (cqe->res != res)
		fail("read", cqe->res < 0 ? -cqe->res : EIO);
	data = cqe->user_data;
	io_uring_cqe_seen(ring, cqe);
	return data;
}

/* @len bytes of private anonymous memory, faulted in. */
static inline void *map_populated(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED)
		fail("mmap", errno);
	return p;
}

/* A block device opened for O_DIRECT reads; its size into *@size. */
static inline int open_device(const char *path, uint64_t *size)
{
	int fd = open(path, O_RDONLY | O_DIRECT);

	if (fd < 0 || ioctl(fd, BLKGETSIZE64, size))
		fail(path, errno);
	return fd;
}

/* IORING_REGISTER_BUFFERS2 of @nr buffers, pinned or unpinned; fails loudly. */
static inline void register_buffers(struct io_uring *ring,
				    const struct iovec *iov, unsigned int nr,
				    int unpinned)
{
	struct io_uring_rsrc_register rr = {
		.nr = nr,
		.flags = unpinned ? IORING_RSRC_REGISTER_UNPINNED : 0,
		.data = (uintptr_t)iov,
	};

	if (syscall(__NR_io_uring_register, ring->ring_fd,
		    IORING_REGISTER_BUFFERS2, &rr, sizeof(rr)) < 0)
		fail("register", errno);
}

#endif
