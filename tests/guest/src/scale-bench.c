// SPDX-License-Identifier: GPL-2.0
/*
 * Scale of unpinned registered buffers.
 *
 * 1. A process with 0, 1, 1K or 16K registered unpinned buffers (one page
 *    each): the cost of an unrelated munmap and mprotect elsewhere in its
 *    address space (each invalidation searches the mm's notifier tree),
 *    and of fork (which write-protects the buffers, and so invalidates
 *    every one of them). The buffer counts are interleaved round by round.
 * 2. Kernel memory (Slab unreclaimable + vmalloc, from /proc/meminfo) that
 *    registering 1 GiB takes, pinned and unpinned, and unpinned after
 *    every page has been used once by a READ_FIXED.
 * 3. Aliases: the same 64 KiB registered unpinned 1 or 16K times in one
 *    ring; the cost of a MADV_DONTNEED of one of its pages (each mirror of
 *    that memory would get a callback) and the kernel memory the
 *    registrations take.
 *
 * One JSON line per measurement.
 *
 *   scale-bench ROUNDS
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

const char *bench_name = "scale-bench";

#define PAGE		4096UL
#define MAX_BUFS	16384
#define OPS		200
#define FORKS		10

/* ns per munmap of a fresh 64 KiB mapping, and per mprotect of one. */
static void unrelated_ops(double *munmap_ns, double *mprotect_ns)
{
	uint64_t t_munmap = 0, t_mprotect = 0, t0;
	unsigned int i;
	char *p;

	for (i = 0; i < OPS; i++) {
		p = map_populated(16 * PAGE);
		t0 = now_ns();
		mprotect(p, 16 * PAGE, PROT_READ);
		t_mprotect += now_ns() - t0;
		t0 = now_ns();
		munmap(p, 16 * PAGE);
		t_munmap += now_ns() - t0;
	}
	*munmap_ns = (double)t_munmap / OPS;
	*mprotect_ns = (double)t_mprotect / OPS;
}

static double fork_ns(void)
{
	uint64_t t0 = now_ns();
	unsigned int i;
	pid_t pid;

	for (i = 0; i < FORKS; i++) {
		pid = fork();
		if (pid < 0)
			fail("fork", errno);
		if (!pid)
			_exit(0);
		waitpid(pid, NULL, 0);
	}
	return (double)(now_ns() - t0) / FORKS;
}

static void scale_run(unsigned int round, unsigned int nr, struct iovec *iov)
{
	double munmap_ns, mprotect_ns, fork_cost;
	struct io_uring ring;
	int ret;

	ret = io_uring_queue_init(4, &ring, 0);
	if (ret)
		fail("io_uring_queue_init", -ret);
	if (nr)
		register_buffers(&ring, iov, nr, 1);
	unrelated_ops(&munmap_ns, &mprotect_ns);
	fork_cost = fork_ns();
	io_uring_queue_exit(&ring);
	printf("{\"bench\":\"scale\",\"round\":%u,\"buffers\":%u,\"munmap_ns\":%.0f,"
	       "\"mprotect_ns\":%.0f,\"fork_ns\":%.0f}\n",
	       round, nr, munmap_ns, mprotect_ns, fork_cost);
	fflush(stdout);
}

/* Unreclaimable slab + vmalloc, KiB. */
static long kernel_kib(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	long v, sum = 0;

	if (!f)
		fail("/proc/meminfo", errno);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "SUnreclaim: %ld kB", &v) == 1 ||
		    sscanf(line, "VmallocUsed: %ld kB", &v) == 1)
			sum += v;
	fclose(f);
	return sum;
}

/* Read all of @buf once through READ_FIXED from /dev/zero. */
static void use_all(struct io_uring *ring, char *buf, size_t len)
{
	struct io_uring_cqe *cqe;
	int zero = open("/dev/zero", O_RDONLY);
	size_t off = 0;

	if (zero < 0)
		fail("/dev/zero", errno);
	while (off < len) {
		io_uring_prep_read_fixed(io_uring_get_sqe(ring), zero, buf + off,
					 len - off < (1 << 20) ? len - off : 1 << 20, 0, 0);
		io_uring_submit(ring);
		if (io_uring_wait_cqe(ring, &cqe))
			fail("wait", EIO);
		/* /dev/zero may return early when it should reschedule. */
		if (cqe->res <= 0)
			fail("read", cqe->res < 0 ? -cqe->res : EIO);
		off += cqe->res;
		io_uring_cqe_seen(ring, cqe);
	}
	close(zero);
}

static void memory_run(unsigned int round, int unpinned)
{
	size_t len = 1UL << 30;
	struct io_uring ring;
	struct iovec iov;
	long before, registered, used = 0;
	char *buf;
	int ret;

	buf = map_populated(len);
	ret = io_uring_queue_init(4, &ring, 0);
	if (ret)
		fail("io_uring_queue_init", -ret);
	iov.iov_base = buf;
	iov.iov_len = len;
	before = kernel_kib();
	register_buffers(&ring, &iov, 1, unpinned);
	registered = kernel_kib() - before;
	if (unpinned) {
		use_all(&ring, buf, len);
		used = kernel_kib() - before;
	}
	io_uring_queue_exit(&ring);
	munmap(buf, len);
	printf("{\"bench\":\"memory\",\"round\":%u,\"mode\":\"%s\",\"gib\":1,"
	       "\"registered_kib\":%ld,\"used_kib\":%ld}\n", round,
	       unpinned ? "unpinned" : "pinned", registered,
	       unpinned ? used : registered);
	fflush(stdout);
}

static void alias_run(unsigned int round, unsigned int nr, struct iovec *iov,
		      char *buf)
{
	struct io_uring ring;
	uint64_t t = 0, t0;
	long before, kib;
	unsigned int i;
	int ret;

	ret = io_uring_queue_init(4, &ring, 0);
	if (ret)
		fail("io_uring_queue_init", -ret);
	for (i = 0; i < nr; i++) {
		iov[i].iov_base = buf;
		iov[i].iov_len = 16 * PAGE;
	}
	before = kernel_kib();
	register_buffers(&ring, iov, nr, 1);
	kib = kernel_kib() - before;
	for (i = 0; i < OPS; i++) {
		buf[(i % 16) * PAGE] = 1;
		t0 = now_ns();
		madvise(buf + (i % 16) * PAGE, PAGE, MADV_DONTNEED);
		t += now_ns() - t0;
	}
	io_uring_queue_exit(&ring);
	printf("{\"bench\":\"alias\",\"round\":%u,\"aliases\":%u,"
	       "\"dontneed_ns\":%.0f,\"registered_kib\":%ld}\n",
	       round, nr, (double)t / OPS, kib);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	static const unsigned int counts[] = { 0, 1, 1024, MAX_BUFS };
	unsigned int rounds, round, i, n = 4;
	struct iovec *iov;
	char *pages;

	if (argc != 2) {
		fprintf(stderr, "usage: scale-bench ROUNDS\n");
		return 2;
	}
	rounds = atoi(argv[1]);
	pages = map_populated(MAX_BUFS * PAGE);
	iov = calloc(MAX_BUFS, sizeof(*iov));
	if (!iov)
		fail("calloc", ENOMEM);
	for (i = 0; i < MAX_BUFS; i++) {
		iov[i].iov_base = pages + i * PAGE;
		iov[i].iov_len = PAGE;
	}
	for (round = 1; round <= rounds; round++) {
		for (i = 0; i < n; i++)
			scale_run(round, counts[(i + round) % n], iov);
		memory_run(round, round % 2);
		memory_run(round, !(round % 2));
		alias_run(round, round % 2 ? 1 : MAX_BUFS, iov, pages);
		alias_run(round, round % 2 ? MAX_BUFS : 1, iov, pages);
	}
	return 0;
}
