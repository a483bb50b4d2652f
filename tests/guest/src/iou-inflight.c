// SPDX-License-Identifier: GPL-2.0
/*
 * The process changes the memory of a registered buffer while a request
 * on it is in flight. A slow memory-backed null_blk (each command ends
 * 300 ms after it starts) keeps an O_DIRECT READ_FIXED of 16 pages in
 * flight, and meanwhile the process:
 *
 *   idle      does nothing: a lent span holds no pin (the point of
 *             lending), a pinned request one per page;
 *   dontneed  MADV_DONTNEEDs the span: its old pages stay pinned until
 *             the read ends (the invalidation parks a pin on each), then
 *             every pin is released;
 *   migrate   move_pages() to the other node: no page moves while the
 *             read is in flight, every page once it ended;
 *   fork      forks, and writes the span while the child lives: fork
 *             copied the pages for the child, so the parent keeps its
 *             own (same pfns), as it does with pins.
 *
 * Each case in three modes: unpinned with lent spans
 * (kernel.io_uring_unpinned_request_pins=0), unpinned with a pin per
 * request (=1), and pinned at registration. Without the pins that
 * invalidations park, "dontneed" would see no pin, "migrate" would move
 * the pages under the read and "fork" would give the parent new pages.
 *
 *   iou-inflight SLOW_DEVICE
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest-test.h"

#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE			(1 << 1)
#endif
#ifndef IORING_RSRC_REGISTER_UNPINNED
#define IORING_RSRC_REGISTER_UNPINNED	(1U << 1)
#endif

#define NPAGES		16
#define PAGE		4096
#define SIZE		(NPAGES * PAGE)
#define SYSCTL		"/proc/sys/kernel/io_uring_unpinned_request_pins"

enum mode { LENT, REQUEST_PINS, PINNED };
static const char *const mode_name[] = { "lent", "request pins", "pinned" };

static int dev_fd, pagemap;

/* FOLL_PIN pins held now, the per-CPU counter deltas folded in first. */
static long pins_now(void)
{
	if (write_file("/proc/sys/vm/stat_refresh", "1"))
		die("vm.stat_refresh");
	return vmstat("nr_foll_pin_acquired") - vmstat("nr_foll_pin_released");
}

/* Pins outstanding, once any release in flight has come down to @want. */
static long pins_settled(long want)
{
	long now = pins_now();
	int i;

	for (i = 0; i < 100 && now != want; i++) {
		usleep(20000);
		now = pins_now();
	}
	return now;
}

static unsigned long pfn_of(const void *addr)
{
	uint64_t entry;

	if (pread(pagemap, &entry, sizeof(entry),
		  (uintptr_t)addr / PAGE * sizeof(entry)) != sizeof(entry))
		die("pagemap");
	return entry & (1ULL << 63) ? entry & ((1ULL << 55) - 1) : 0;
}

static int node_of(void *addr)
{
	int status = -1;

	if (syscall(__NR_move_pages, 0, 1, &addr, NULL, &status, 0))
		return -1;
	return status;
}

static void setup(struct io_uring *ring, unsigned char **buf, enum mode mode)
{
	struct io_uring_rsrc_register rr = { .nr = 1 };
	struct iovec iov;
	int ret;

	ret = io_uring_queue_init(4, ring, 0);
	if (ret) {
		errno = -ret;
		die("io_uring_queue_init");
	}
	*buf = map_anon(SIZE, PROT_READ | PROT_WRITE);
	if (madvise(*buf, SIZE, MADV_NOHUGEPAGE))
		die("madvise");
	memset(*buf, 0xaa, SIZE);
	if (write_file(SYSCTL, mode == REQUEST_PINS ? "1" : "0"))
		die(SYSCTL);
	iov.iov_base = *buf;
	iov.iov_len = SIZE;
	rr.flags = mode == PINNED ? 0 : IORING_RSRC_REGISTER_UNPINNED;
	rr.data = (uintptr_t)&iov;
	if (sys_register(ring->ring_fd, IORING_REGISTER_BUFFERS2, &rr, sizeof(rr)))
		die("register");
}

static void start_read(struct io_uring *ring, unsigned char *buf)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	io_uring_prep_read_fixed(sqe, dev_fd, buf, SIZE, 0, 0);
	if (io_uring_submit(ring) != 1)
		die("submit");
	/* Issued inline, now waiting at the device. */
	usleep(50000);
}

static int end_read(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	int res;

	if (io_uring_wait_cqe(ring, &cqe))
		die("wait");
	res = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return res;
}

static void teardown(struct io_uring *ring, unsigned char *buf)
{
	io_uring_queue_exit(ring);
	munmap(buf, SIZE);
	write_file(SYSCTL, "0");
}

static void case_idle(enum mode mode)
{
	long base, during, want = mode == REQUEST_PINS ? NPAGES : 0;
	struct io_uring ring;
	unsigned char *buf;
	int res;

	setup(&ring, &buf, mode);
	base = pins_settled(pins_now());
	start_read(&ring, buf);
	during = pins_now() - base;
	res = end_read(&ring);
	tap(res == SIZE && during == want && buf[0] == 0x5c && buf[SIZE - 1] == 0x5c,
	    "%s, idle: read %d bytes of 0x%x, %ld pins held in flight (want %ld)",
	    mode_name[mode], res, buf[0], during, want);
	teardown(&ring, buf);
}

static void case_dontneed(enum mode mode)
{
	long base, during, after, want = mode == PINNED ? 0 : NPAGES;
	struct io_uring ring;
	unsigned char *buf;
	int res, i, zero = 1;

	setup(&ring, &buf, mode);
	base = pins_settled(pins_now());
	start_read(&ring, buf);
	if (madvise(buf, SIZE, MADV_DONTNEED))
		die("MADV_DONTNEED");
	during = pins_now() - base;
	res = end_read(&ring);
	after = pins_settled(base) - base;
	/* The read (0x5c) went to the pages the process dropped. */
	for (i = 0; i < SIZE; i++)
		zero &= buf[i] == 0;
	tap(res == SIZE && during == want && after == 0 && zero,
	    "%s, dontneed: %ld pins kept the dropped pages in flight (want %ld), %ld after; the process sees %s",
	    mode_name[mode], during, want, after, zero ? "its new zero pages" : "other data");
	teardown(&ring, buf);
}

static void case_migrate(enum mode mode)
{
	int nodes[NPAGES], status[NPAGES], from, res;
	unsigned int i, moved_during = 0, moved_after = 0;
	long base, want_after = mode == PINNED ? 0 : NPAGES;
	struct io_uring ring;
	unsigned char *buf;
	void *pages[NPAGES];

	setup(&ring, &buf, mode);
	base = pins_settled(pins_now());
	from = node_of(buf);
	for (i = 0; i < NPAGES; i++) {
		pages[i] = buf + i * PAGE;
		nodes[i] = !from;
	}
	start_read(&ring, buf);
	syscall(__NR_move_pages, 0, NPAGES, pages, nodes, status, MPOL_MF_MOVE);
	for (i = 0; i < NPAGES; i++)
		moved_during += node_of(pages[i]) != from;
	res = end_read(&ring);
	/* The parked pins go once the read completed: let that happen. */
	pins_settled(base);
	syscall(__NR_move_pages, 0, NPAGES, pages, nodes, status, MPOL_MF_MOVE);
	for (i = 0; i < NPAGES; i++)
		moved_after += node_of(pages[i]) != from;
	tap(res == SIZE && moved_during == 0 && moved_after == want_after,
	    "%s, migrate: %u of %d pages moved in flight (want 0), %u after (want %ld)",
	    mode_name[mode], moved_during, NPAGES, moved_after, want_after);
	teardown(&ring, buf);
}

static void case_fork(enum mode mode)
{
	unsigned long before[NPAGES];
	unsigned int i, kept = 0;
	struct io_uring ring;
	unsigned char *buf;
	int pipefd[2], res, status;
	pid_t child;
	char c;

	setup(&ring, &buf, mode);
	for (i = 0; i < NPAGES; i++)
		before[i] = pfn_of(buf + i * PAGE);
	if (pipe(pipefd))
		die("pipe");
	start_read(&ring, buf);
	child = fork();
	if (child < 0)
		die("fork");
	if (!child) {
		close(pipefd[1]);
		/* Keep the child's mappings alive until the parent wrote. */
		if (read(pipefd[0], &c, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(pipefd[0]);
	for (i = 0; i < NPAGES; i++) {
		buf[i * PAGE + PAGE - 1] = 0x55;
		kept += pfn_of(buf + i * PAGE) == before[i];
	}
	close(pipefd[1]);
	waitpid(child, &status, 0);
	res = end_read(&ring);
	tap(res == SIZE && kept == NPAGES,
	    "%s, fork: the parent kept %u of %d pages across fork and its writes",
	    mode_name[mode], kept, NPAGES);
	teardown(&ring, buf);
}

int main(int argc, char **argv)
{
	bool numa = !access("/sys/devices/system/node/node1", F_OK);
	void *pattern;
	enum mode mode;

	if (argc != 2) {
		fprintf(stderr, "usage: %s SLOW_DEVICE\n", argv[0]);
		return 2;
	}
	dev_fd = open(argv[1], O_RDWR | O_DIRECT);
	pagemap = open("/proc/self/pagemap", O_RDONLY);
	if (dev_fd < 0 || pagemap < 0)
		die(argv[1]);
	/* What every read brings: 0x5c, never what the process has. */
	pattern = map_anon(SIZE, PROT_READ | PROT_WRITE);
	memset(pattern, 0x5c, SIZE);
	if (pwrite(dev_fd, pattern, SIZE, 0) != SIZE)
		die("pwrite");
	munmap(pattern, SIZE);
	printf("TAP version 13\n1..%d\n", 12);
	for (mode = LENT; mode <= PINNED; mode++) {
		case_idle(mode);
		case_dontneed(mode);
		if (numa)
			case_migrate(mode);
		else
			skip("migrate", "one NUMA node");
		case_fork(mode);
	}
	return tap_failed ? 1 : 0;
}
