// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring unpinned registered buffers: when a request holds page pins.
 * An unpinned buffer is pinned only while its I/O can reach the device,
 * never while a request waits (poll on an empty pipe, a link, a drain;
 * a zero-copy send parked on a full socket keeps only what it sent),
 * and I/O without O_DIRECT issued in the registering mm pins nothing at
 * all. Inline issue does not fault (misses go to io-wq), the uapi flags,
 * and what an unpinned buffer means to another process. Prints TAP.
 *
 *   iou-lifetime [--blockdev DEV] [--ext4 DIR]
 *
 * DEV is a memory-backed block device for O_DIRECT I/O (its first 4 MiB
 * are overwritten), DIR a directory on ext4. Tests whose resource is
 * missing are reported as skipped.
 *
 * Pins are counted from /proc/vmstat: D = nr_foll_pin_acquired -
 * nr_foll_pin_released, folded exactly through vm.stat_refresh. The
 * harness runs one test at a time, so nothing else pins meanwhile.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest-test.h"

/* What liburing 2.3's header lacks. */
#ifndef IORING_TIMEOUT_ETIME_SUCCESS
#define IORING_TIMEOUT_ETIME_SUCCESS	(1U << 5)
#endif
/* Upstream's IORING_FEAT_RW_ATTR, which 6.12 does not have. */
#define FEAT_BIT16			(1U << 16)
#define REGISTER_CLONE_BUFFERS		30

/* user_data of the request submit_wait() waits for */
#define REQ_MARK			0x5157ULL

#define SYSCTL_UNPINNED	"/proc/sys/kernel/io_uring_unpinned_buffers"

/* The block device's first DEV_LEN bytes hold pattern DEV_SEED. */
#define DEV_LEN				(4UL << 20)
#define DEV_SEED			77

#define MIB				(1UL << 20)

struct clone_buffers {
	uint32_t src_fd;
	uint32_t flags;
	uint32_t pad[6];
};

static long page_size;
static const char *blockdev, *ext4_dir;
static int dev_fd = -1;
static volatile sig_atomic_t sysctl_touched;

/* kernel.io_uring_unpinned_buffers back to 0 on every way out. */
static void sysctl_restore(void)
{
	int fd;

	if (!sysctl_touched)
		return;
	fd = open(SYSCTL_UNPINNED, O_WRONLY);
	if (fd >= 0) {
		if (write(fd, "0", 1) == 1)
			sysctl_touched = 0;
		close(fd);
	}
}

static void on_signal(int sig)
{
	sysctl_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void set_sysctl(int val)
{
	if (val)
		sysctl_touched = 1;
	if (write_file(SYSCTL_UNPINNED, val ? "1" : "0"))
		die("kernel.io_uring_unpinned_buffers");
	if (!val)
		sysctl_touched = 0;
}

/* Byte @off of pattern @seed: differs from page to page and within one. */
static unsigned char pattern(unsigned int seed, size_t off)
{
	return seed * 131 + off * 7 + (off >> 12) * 29;
}

static void fill(void *buf, size_t len, unsigned int seed, size_t off)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = pattern(seed, off + i);
}

static bool same(const void *buf, size_t len, unsigned int seed, size_t off)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != pattern(seed, off + i))
			return false;
	return true;
}

static bool all_bytes(const void *buf, size_t len, unsigned char c)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != c)
			return false;
	return true;
}

/* D: pins taken and not yet released, system-wide. */
static long pin_delta(void)
{
	long acq, rel;

	pin_counts(&acq, &rel);
	return acq - rel;
}

/* D once it equals @want, waiting up to @ms for ring teardown work. */
static long pin_delta_settled(long want, int ms)
{
	long d = pin_delta();

	while (d != want && ms > 0) {
		usleep(50000);
		ms -= 50;
		d = pin_delta();
	}
	return d;
}

/*
 * D before a measurement: rings of earlier tests are torn down by a
 * workqueue after close, so wait (up to 3 s) for D to return to where
 * the program started.
 */
static long d_start;

static long pin_baseline(void)
{
	return pin_delta_settled(d_start, 3000);
}

/* Resident set of this process, KiB, from /proc/self/statm. */
static long rss_kib(void)
{
	long size, resident;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f || fscanf(f, "%ld %ld", &size, &resident) != 2)
		die("/proc/self/statm");
	fclose(f);
	return resident * (page_size / 1024);
}

/* Threads of this process named iou-wrk-* (io-wq workers). */
static int count_iou_workers(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	char path[300], comm[64];
	int n = 0;

	if (!d)
		die("/proc/self/task");
	while ((e = readdir(d))) {
		FILE *f;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/self/task/%s/comm", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && !strncmp(comm, "iou-wrk-", 8))
			n++;
		fclose(f);
	}
	closedir(d);
	return n;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* A file in @dir (unlinked) holding @len bytes of pattern @seed. */
static int pattern_file(const char *dir, size_t len, unsigned int seed)
{
	char path[256];
	void *buf = map_anon(len, PROT_READ | PROT_WRITE);
	int fd;

	snprintf(path, sizeof(path), "%s/iou-lifetime.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		die("mkstemp");
	unlink(path);
	fill(buf, len, seed, 0);
	if (pwrite(fd, buf, len, 0) != (ssize_t)len)
		die("pwrite");
	munmap(buf, len);
	return fd;
}

/* Register @nr buffers with IORING_REGISTER_BUFFERS2 and @flags. */
static int register_bufs(struct io_uring *ring, const struct iovec *iov,
			 unsigned int nr, unsigned int flags)
{
	struct io_uring_rsrc_register rr = {
		.nr = nr,
		.flags = flags,
		.data = (uintptr_t)iov,
	};

	return sys_register(ring->ring_fd, IORING_REGISTER_BUFFERS2, &rr,
			    sizeof(rr));
}

static int register_buf(struct io_uring *ring, void *buf, size_t len,
			unsigned int flags)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	return register_bufs(ring, &iov, 1, flags);
}

/* CQEs reaped while waiting for another one, by user_data. */
static struct {
	uint64_t ud;
	int res;
} reaped[64];
static unsigned int nr_reaped;

static void ring_init(struct io_uring *ring, unsigned int entries,
		      unsigned int flags)
{
	int ret = io_uring_queue_init(entries, ring, flags);

	if (ret) {
		errno = -ret;
		die("io_uring_queue_init");
	}
	nr_reaped = 0;
}

static void keep(uint64_t ud, int res)
{
	if (nr_reaped < sizeof(reaped) / sizeof(reaped[0])) {
		reaped[nr_reaped].ud = ud;
		reaped[nr_reaped].res = res;
		nr_reaped++;
	}
}

static bool take(uint64_t ud, int *res)
{
	unsigned int i;

	for (i = 0; i < nr_reaped; i++) {
		if (reaped[i].ud == ud) {
			*res = reaped[i].res;
			reaped[i] = reaped[--nr_reaped];
			return true;
		}
	}
	return false;
}

/* Reap every CQE that is there now, without waiting. */
static void reap_ready(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;

	while (!io_uring_peek_cqe(ring, &cqe)) {
		keep(cqe->user_data, cqe->res);
		io_uring_cqe_seen(ring, cqe);
	}
}

/* Whether the CQE of @ud has arrived yet (it stays to be taken). */
static bool arrived(struct io_uring *ring, uint64_t ud)
{
	unsigned int i;

	reap_ready(ring);
	for (i = 0; i < nr_reaped; i++)
		if (reaped[i].ud == ud)
			return true;
	return false;
}

/* The result of @ud's CQE, waiting up to @ms for it; -ETIMEDOUT if none. */
static int wait_ud(struct io_uring *ring, uint64_t ud, int ms)
{
	double end = now_ms() + ms;
	struct io_uring_cqe *cqe;
	int res;

	for (;;) {
		struct __kernel_timespec ts = { 0, 50 * 1000 * 1000 };

		if (take(ud, &res))
			return res;
		if (now_ms() > end)
			return -ETIMEDOUT;
		if (!io_uring_wait_cqe_timeout(ring, &cqe, &ts)) {
			keep(cqe->user_data, cqe->res);
			io_uring_cqe_seen(ring, cqe);
		}
	}
}

static struct io_uring_sqe *prep_rw(struct io_uring *ring, bool write, int fd,
				    void *buf, size_t len, off_t off, int idx,
				    unsigned int sqe_flags, uint64_t ud)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (!sqe) {
		errno = EBUSY;
		die("io_uring_get_sqe");
	}
	if (write)
		io_uring_prep_write_fixed(sqe, fd, buf, len, off, idx);
	else
		io_uring_prep_read_fixed(sqe, fd, buf, len, off, idx);
	sqe->flags |= sqe_flags;
	sqe->user_data = ud;
	return sqe;
}

/* One READ_FIXED or WRITE_FIXED, submitted and waited for (30 s at most). */
static int rw_fixed(struct io_uring *ring, bool write, int fd, void *buf,
		    size_t len, off_t off, int idx, unsigned int sqe_flags)
{
	int ret;

	prep_rw(ring, write, fd, buf, len, off, idx, sqe_flags, REQ_MARK);
	ret = io_uring_submit(ring);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	return wait_ud(ring, REQ_MARK, 30000);
}

/* A pipe whose capacity is at least @size, so one write() fills it. */
static void pipe_of(int p[2], size_t size)
{
	if (pipe(p))
		die("pipe");
	if (size && fcntl(p[1], F_SETPIPE_SZ, (int)size) < (int)size)
		die("F_SETPIPE_SZ");
}

static bool need_blockdev(const char *what)
{
	if (dev_fd >= 0)
		return true;
	skip(what, "no block device");
	return false;
}

/*
 * 1. A READ_FIXED from an empty pipe parks in poll: it must hold no pins
 * while it waits. Pinning at prep holds the 256 pages of its 1 MiB span.
 */
static void test_pipe_parked(void)
{
	size_t len = MIB;
	unsigned char *buf = map_anon(len, PROT_READ | PROT_WRITE);
	unsigned char *data = map_anon(len, PROT_READ | PROT_WRITE);
	struct io_uring ring;
	long d0, d1;
	bool parked;
	int p[2], ret, res;

	ring_init(&ring, 16, 0);
	ret = register_buf(&ring, buf, len, IORING_RSRC_REGISTER_UNPINNED);
	if (ret) {
		tap(false, "pipe: register unpinned: %s", strerror(-ret));
		goto out;
	}
	pipe_of(p, len);
	d0 = pin_baseline();
	prep_rw(&ring, false, p[0], buf, len, 0, 0, 0, 1);
	io_uring_submit(&ring);
	usleep(200000);
	d1 = pin_delta();
	parked = !arrived(&ring, 1);
	tap(parked && d1 == d0,
	    "READ_FIXED of 1 MiB parked on an empty pipe for 200 ms: %s, pin delta grew by %ld (want 0)",
	    parked ? "still waiting" : "already completed", d1 - d0);
	fill(data, len, 21, 0);
	if (write(p[1], data, len) != (ssize_t)len)
		die("pipe write");
	res = wait_ud(&ring, 1, 10000);
	tap(res == (int)len && same(buf, len, 21, 0),
	    "the pipe read completes once written: %d bytes (want %zu), data %s",
	    res, len, res == (int)len && same(buf, len, 21, 0) ? "intact" : "wrong");
	close(p[0]);
	close(p[1]);
out:
	io_uring_queue_exit(&ring);
	munmap(buf, len);
	munmap(data, len);
}

/*
 * 2. An O_DIRECT READ_FIXED linked behind a 1 s IORING_OP_TIMEOUT. The
 * timeout has IORING_TIMEOUT_ETIME_SUCCESS: it completes with -ETIME but
 * without failing the link (io_timeout_fn() only sets REQ_F_FAIL without
 * that flag), so the read is issued when the timer fires. Every SQE of a
 * link is prepared at submission (io_init_req()), so a kernel that
 * imports at prep holds the read's pins for the whole second.
 */
static void test_link_parked(void)
{
	size_t len = MIB;
	off_t off = 0;
	unsigned char *buf;
	struct __kernel_timespec ts = { .tv_sec = 1 };
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	long d0, d1;
	bool parked;
	int ret, rt, rr;

	if (!need_blockdev("READ_FIXED linked behind a timeout"))
		return;
	buf = map_anon(len, PROT_READ | PROT_WRITE);
	ring_init(&ring, 16, 0);
	ret = register_buf(&ring, buf, len, IORING_RSRC_REGISTER_UNPINNED);
	if (ret) {
		tap(false, "link: register unpinned: %s", strerror(-ret));
		goto out;
	}
	d0 = pin_baseline();
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_timeout(sqe, &ts, 0, IORING_TIMEOUT_ETIME_SUCCESS);
	sqe->flags |= IOSQE_IO_LINK;
	sqe->user_data = 1;
	prep_rw(&ring, false, dev_fd, buf, len, off, 0, 0, 2);
	ret = io_uring_submit(&ring);
	usleep(300000);
	d1 = pin_delta();
	parked = !arrived(&ring, 1) && !arrived(&ring, 2);
	tap(ret == 2 && parked && d1 == d0,
	    "O_DIRECT READ_FIXED of 1 MiB linked behind a 1 s timeout, at 300 ms: %s, pin delta grew by %ld (want 0)",
	    parked ? "still waiting" : "already completed", d1 - d0);
	rt = wait_ud(&ring, 1, 10000);
	rr = wait_ud(&ring, 2, 30000);
	tap(rt == -ETIME && rr == (int)len && same(buf, len, DEV_SEED, off),
	    "the timeout completes (%d, want -ETIME) and the linked read runs: %d bytes, data %s",
	    rt, rr, rr == (int)len && same(buf, len, DEV_SEED, off) ? "intact" : "wrong");
out:
	io_uring_queue_exit(&ring);
	munmap(buf, len);
}

/*
 * An RWF_NOWAIT READ_FIXED cannot be handed to io-wq: on pages the mirror
 * does not hold (never used, or invalidated since) it must fault them
 * inline, as GUP does for a plain buffer, not fail with -EAGAIN forever.
 */
static void test_nowait_miss(void)
{
	const size_t len = 64 * 1024;
	const off_t off = 3 * MIB;
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	unsigned char *buf;
	int ret, round, res[2];

	if (!need_blockdev("RWF_NOWAIT READ_FIXED on pages not in the mirror"))
		return;
	buf = map_anon(len, PROT_READ | PROT_WRITE);
	ring_init(&ring, 4, 0);
	ret = register_buf(&ring, buf, len, IORING_RSRC_REGISTER_UNPINNED);
	if (ret) {
		tap(false, "RWF_NOWAIT: register unpinned: %s", strerror(-ret));
		goto out;
	}
	for (round = 0; round < 2; round++) {
		/* Round 1: never touched; round 2: invalidated since round 1. */
		if (round)
			madvise(buf, len, MADV_DONTNEED);
		sqe = prep_rw(&ring, false, dev_fd, buf, len, off, 0, 0, REQ_MARK);
		sqe->rw_flags = RWF_NOWAIT;
		ret = io_uring_submit(&ring);
		res[round] = ret == 1 ? wait_ud(&ring, REQ_MARK, 30000) : -EIO;
	}
	tap(res[0] == (int)len && res[1] == (int)len && same(buf, len, DEV_SEED, off),
	    "RWF_NOWAIT O_DIRECT READ_FIXED on pages not in the mirror: %d, then after MADV_DONTNEED %d (want %zu), data %s",
	    res[0], res[1], len, same(buf, len, DEV_SEED, off) ? "intact" : "wrong");
out:
	io_uring_queue_exit(&ring);
	munmap(buf, len);
}

/*
 * 3. An O_DIRECT READ_FIXED with IOSQE_IO_DRAIN behind an unfinished read
 * of an empty pipe: deferred until the pipe read completes, after its
 * prep (io_submit_sqe() prepares before io_drain_req() defers).
 */
static void test_drain_parked(void)
{
	size_t len = MIB;
	off_t off = MIB;
	unsigned char *buf;
	char small[64];
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	long d0, d1;
	bool parked;
	int p[2], ret, r1, r2;

	if (!need_blockdev("READ_FIXED with IOSQE_IO_DRAIN"))
		return;
	buf = map_anon(len, PROT_READ | PROT_WRITE);
	ring_init(&ring, 16, 0);
	ret = register_buf(&ring, buf, len, IORING_RSRC_REGISTER_UNPINNED);
	if (ret) {
		tap(false, "drain: register unpinned: %s", strerror(-ret));
		goto out;
	}
	pipe_of(p, 0);
	d0 = pin_baseline();
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read(sqe, p[0], small, sizeof(small), 0);
	sqe->user_data = 1;
	prep_rw(&ring, false, dev_fd, buf, len, off, 0, IOSQE_IO_DRAIN, 2);
	ret = io_uring_submit(&ring);
	usleep(200000);
	d1 = pin_delta();
	parked = !arrived(&ring, 1) && !arrived(&ring, 2);
	tap(ret == 2 && parked && d1 == d0,
	    "O_DIRECT READ_FIXED of 1 MiB drained behind an empty pipe's read for 200 ms: %s, pin delta grew by %ld (want 0)",
	    parked ? "still waiting" : "already completed", d1 - d0);
	if (write(p[1], "x", 1) != 1)
		die("pipe write");
	r1 = wait_ud(&ring, 1, 10000);
	r2 = wait_ud(&ring, 2, 30000);
	tap(r1 == 1 && r2 == (int)len && same(buf, len, DEV_SEED, off),
	    "the pipe read completes (%d) and the drained read runs: %d bytes, data %s",
	    r1, r2, r2 == (int)len && same(buf, len, DEV_SEED, off) ? "intact" : "wrong");
	close(p[0]);
	close(p[1]);
out:
	io_uring_queue_exit(&ring);
	munmap(buf, len);
}

/*
 * 4. Sixteen reads of different 64 MiB slices of a 1 GiB buffer, never
 * touched, each parked on its own empty pipe, under a 64 KiB
 * RLIMIT_MEMLOCK. Nothing may be pinned or faulted while they wait;
 * pinning at prep faults and pins the whole GiB (it fits in the guest).
 */
static void test_many_parked(void)
{
	const int n = 16;
	const size_t slice = 64 * MIB, size = n * slice;
	struct rlimit old, rl;
	int p[16][2], i, ret, bad = 0, first_bad = 0;
	struct io_uring ring;
	unsigned char *big;
	long d0, d1, d2, rss0, rss1;
	bool parked = true;

	/* The soft limit is what io_uring charges against; lower only it. */
	if (getrlimit(RLIMIT_MEMLOCK, &old))
		die("RLIMIT_MEMLOCK");
	rl = (struct rlimit){ 64 << 10, old.rlim_max };
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < rl.rlim_cur)
		rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_MEMLOCK, &rl))
		die("RLIMIT_MEMLOCK");
	big = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (big == MAP_FAILED)
		die("mmap 1 GiB");
	ring_init(&ring, 64, 0);
	ret = register_buf(&ring, big, size, IORING_RSRC_REGISTER_UNPINNED);
	if (ret) {
		tap(false, "16 parked reads: register 1 GiB unpinned: %s", strerror(-ret));
		goto out;
	}
	for (i = 0; i < n; i++)
		pipe_of(p[i], 0);
	rss0 = rss_kib();
	d0 = pin_baseline();
	for (i = 0; i < n; i++)
		prep_rw(&ring, false, p[i][0], big + i * slice, slice, 0, 0, 0,
			100 + i);
	ret = io_uring_submit(&ring);
	usleep(300000);
	d1 = pin_delta();
	rss1 = rss_kib();
	for (i = 0; i < n; i++)
		parked &= !arrived(&ring, 100 + i);
	tap(ret == n && parked && d1 == d0 && rss1 - rss0 < 4096,
	    "16 READ_FIXEDs of 64 MiB slices of an untouched 1 GiB buffer parked on empty pipes (RLIMIT_MEMLOCK 64 KiB): submitted %d, %s, pin delta grew by %ld (want 0), RSS grew by %ld KiB (want < 4096)",
	    ret, parked ? "all waiting" : "some completed", d1 - d0, rss1 - rss0);
	for (i = 0; i < n; i++)
		close(p[i][1]);
	for (i = 0; i < n; i++) {
		int res = wait_ud(&ring, 100 + i, 10000);

		if (res && !bad++)
			first_bad = res;
		close(p[i][0]);
	}
	d2 = pin_delta_settled(d0, 2000);
	tap(!bad && d2 == d0,
	    "write ends closed: %d of 16 reads complete with 0 (first other result %d), pin delta back to start (%+ld)",
	    n - bad, first_bad, d2 - d0);
out:
	io_uring_queue_exit(&ring);
	munmap(big, size);
	if (setrlimit(RLIMIT_MEMLOCK, &old))
		die("RLIMIT_MEMLOCK restore");
}

/*
 * A SEND_ZC with MSG_WAITALL of 4 MiB from an unpinned buffer over TCP
 * loopback, to a receiver that does not read, with SO_SNDBUF and
 * SO_RCVBUF small. It sends what the window and the send buffer take and
 * then parks in poll for the rest. While it waits it may keep pinned what
 * it sent (skbs still hold those pages until acknowledged) and at most one
 * more folio run, not the unsent remainder, which it pins again when it
 * goes on. Holding the import's pins across the wait keeps the whole span
 * pinned: about 1024 pages. Then the receiver reads everything: the send
 * completes with all 4 MiB intact, its notification follows, and the pins
 * go back to where they were.
 */
struct zc_state {
	int res;
	bool got_res, more, notif;
};

/* Reap every CQE there now: @ud's result and its notification. */
static void zc_reap(struct io_uring *ring, uint64_t ud, struct zc_state *z)
{
	struct io_uring_cqe *cqe;

	while (!io_uring_peek_cqe(ring, &cqe)) {
		if (cqe->user_data == ud) {
			if (cqe->flags & IORING_CQE_F_NOTIF) {
				z->notif = true;
			} else {
				z->res = cqe->res;
				z->more = cqe->flags & IORING_CQE_F_MORE;
				z->got_res = true;
			}
		} else {
			keep(cqe->user_data, cqe->res);
		}
		io_uring_cqe_seen(ring, cqe);
	}
}

static void test_send_zc_parked(void)
{
	const size_t len = 4 * MIB;
	const long pages = len / page_size;
	const unsigned int seed = 83;
	const uint64_t ud = 7;
	const int small = 16 * 1024;
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);
	struct zc_state z = { 0 };
	struct io_uring_sqe *sqe;
	struct io_uring ring;
	unsigned char *buf, *rcv;
	int lfd, tx, rx = -1, ret, inq = -1, outq = -1;
	long d0, d1, d2;
	size_t got = 0;
	double end;
	bool parked, ok;

	buf = map_anon(len, PROT_READ | PROT_WRITE);
	rcv = malloc(len);
	if (!rcv)
		die("malloc");
	/* Small pages, so the count is the span's 1024 pages. */
	madvise(buf, len, MADV_NOHUGEPAGE);
	fill(buf, len, seed, 0);
	memset(rcv, 0, len);

	/* The buffer sizes before listen and connect: the window stays small. */
	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	tx = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || tx < 0 ||
	    setsockopt(lfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) ||
	    setsockopt(tx, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) ||
	    bind(lfd, (void *)&addr, sizeof(addr)) || listen(lfd, 1) ||
	    getsockname(lfd, (void *)&addr, &alen) ||
	    connect(tx, (void *)&addr, sizeof(addr)))
		die("loopback TCP");
	rx = accept(lfd, NULL, NULL);
	if (rx < 0)
		die("accept");

	ring_init(&ring, 16, 0);
	ret = register_buf(&ring, buf, len, IORING_RSRC_REGISTER_UNPINNED);
	if (ret) {
		tap(false, "SEND_ZC: register unpinned: %s", strerror(-ret));
		goto out;
	}
	d0 = pin_baseline();
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_send_zc_fixed(sqe, tx, buf, len, MSG_WAITALL, 0, 0);
	sqe->user_data = ud;
	ret = io_uring_submit(&ring);
	usleep(300000);
	d1 = pin_delta();
	zc_reap(&ring, ud, &z);
	if (z.got_res && (z.res == -EINVAL || z.res == -EOPNOTSUPP)) {
		skip("SEND_ZC parked on a full TCP socket", "SEND_ZC not supported");
		skip("the parked SEND_ZC completes once read", "SEND_ZC not supported");
		goto out;
	}
	parked = !z.got_res;
	/* SIOCOUTQ: sent but unacknowledged, plus queued; SIOCINQ: unread. */
	if (ioctl(tx, TIOCOUTQ, &outq))
		outq = -1;
	if (ioctl(rx, FIONREAD, &inq))
		inq = -1;
	diag("SEND_ZC at 300 ms: sender has %d bytes in its queue, receiver %d unread",
	     outq, inq);
	tap(ret == 1 && parked && d1 - d0 < pages / 2,
	    "SEND_ZC MSG_WAITALL of 4 MiB from an unpinned buffer parked on a full TCP socket for 300 ms: %s, pin delta grew by %ld (want < %ld, the span has %ld pages)",
	    parked ? "still waiting" : "already completed", d1 - d0, pages / 2,
	    pages);

	/* Read it all here, watching the CQ between reads. */
	end = now_ms() + 30000;
	for (;;) {
		zc_reap(&ring, ud, &z);
		if (z.got_res && (!z.more || z.notif) &&
		    (z.res < 0 || got >= (size_t)z.res))
			break;
		if (now_ms() > end)
			break;
		/* Data still to come: all of it, or what the result says. */
		if (got < (z.got_res ? (size_t)z.res : len)) {
			struct pollfd pfd = { .fd = rx, .events = POLLIN };
			ssize_t n;

			if (poll(&pfd, 1, 20) <= 0)
				continue;
			n = recv(rx, rcv + got, len - got, MSG_DONTWAIT);
			if (n == 0)
				break;
			if (n < 0) {
				if (errno == EAGAIN || errno == EINTR)
					continue;
				die("recv");
			}
			got += n;
		} else {
			struct __kernel_timespec ts = { 0, 50 * 1000 * 1000 };
			struct io_uring_cqe *cqe;

			/* Only waits: zc_reap() takes it. */
			io_uring_wait_cqe_timeout(&ring, &cqe, &ts);
		}
	}
	d2 = pin_delta_settled(d0, 3000);
	ok = z.got_res && z.res == (int)len && got == len &&
	     same(rcv, len, seed, 0) && z.more && z.notif && d2 == d0;
	tap(ok, "the receiver reads: SEND_ZC completes with %d (want %zu), %zu bytes received, data %s, notification %s, pin delta back to start (%+ld)",
	    z.got_res ? z.res : -ETIMEDOUT, len, got,
	    got == len && same(rcv, len, seed, 0) ? "intact" : "wrong",
	    z.notif ? "arrived" : z.more ? "missing" : "not announced",
	    d2 - d0);
out:
	close(tx);
	close(rx);
	close(lfd);
	io_uring_queue_exit(&ring);
	munmap(buf, len);
	free(rcv);
}

/*
 * 5. I/O without O_DIRECT through an unpinned buffer, issued in the
 * registering mm (inline, io-wq, SQPOLL), pins no page at all:
 * nr_foll_pin_acquired does not move across a WRITE_FIXED and a
 * READ_FIXED. Pinning at prep moves it by the span's pages each time.
 */
struct target {
	const char *name;
	int wfd, rfd;	/* the same fd for a file */
	bool file;
};

static const char *const submit_name[] = { "inline", "IOSQE_ASYNC", "SQPOLL" };

/* @len bytes of what was written to @t, read back with plain syscalls. */
static bool read_back(struct target *t, unsigned char *out, size_t len)
{
	size_t got = 0;

	if (t->file)
		return pread(t->rfd, out, len, 0) == (ssize_t)len;
	while (got < len) {
		ssize_t n = read(t->rfd, out + got, len - got);

		if (n <= 0)
			return false;
		got += n;
	}
	return true;
}

static void nondirect_case(struct io_uring *ring, int idx, unsigned char *buf,
			   bool faulted, struct target *t, int how)
{
	const size_t len = 32 * 1024 + 123;
	const size_t woff = 1000, roff = 2 * len + 77;
	unsigned int sqe_flags = how == 1 ? IOSQE_ASYNC : 0;
	unsigned char *w = buf + woff, *r = buf + roff;
	unsigned char *check = malloc(len), *feed = malloc(len);
	long acq0, rel0, acq1, rel1;
	int wret, rret, try;
	bool wok, rok;

	if (!check || !feed)
		die("malloc");
	/*
	 * The counters are system-wide, and the harness copies this output
	 * (the last TAP line, through tee to a 9p file) while the next case
	 * runs; it was seen to pin a page meanwhile. So let it settle first,
	 * and try up to three times: pinning the span would add its pages
	 * every time.
	 */
	for (try = 0; try < 3; try++) {
		usleep(100000);
		/* Faulted: the process wrote the source; fresh: it is zeros. */
		if (faulted)
			fill(w, len, 40 + how, 0);
		fill(feed, len, 50 + how, 0);
		pin_counts(&acq0, &rel0);
		wret = rw_fixed(ring, true, t->wfd, w, len, 0, idx, sqe_flags);
		wok = wret == (int)len && read_back(t, check, len) &&
		      (faulted ? same(check, len, 40 + how, 0) : all_bytes(check, len, 0));
		if (t->file ? pwrite(t->wfd, feed, len, 0) != (ssize_t)len :
			      write(t->wfd, feed, len) != (ssize_t)len)
			die("feed");
		rret = rw_fixed(ring, false, t->rfd, r, len, 0, idx, sqe_flags);
		rok = rret == (int)len && same(r, len, 50 + how, 0);
		pin_counts(&acq1, &rel1);
		if (!wok || !rok || acq1 == acq0)
			break;
		/* A second try writes over what the first read in. */
		if (!faulted)
			memset(r, 0, len);
	}
	tap(wok && rok && acq1 == acq0,
	    "%s, %s, %s buffer: WRITE_FIXED %d (%s), READ_FIXED %d (%s), nr_foll_pin_acquired +%ld (want 0), released +%ld, try %d",
	    t->name, submit_name[how], faulted ? "faulted" : "fresh",
	    wret, wok ? "intact" : "wrong", rret, rok ? "intact" : "wrong",
	    acq1 - acq0, rel1 - rel0, try + 1 - (try == 3));
	free(check);
	free(feed);
}

static void test_nondirect(void)
{
	const size_t size = 4 * (32 * 1024 + 123) + 4 * 4096;
	const char *dirs[2] = { "/tmp", ext4_dir };
	struct target t[4] = {
		{ "buffered file on tmpfs", -1, -1, true },
		{ "buffered file on ext4", -1, -1, true },
		{ "pipe", -1, -1, false },
		{ "AF_UNIX socketpair", -1, -1, false },
	};
	int i, how, p[2], sv[2];

	for (i = 0; i < 2; i++) {
		if (dirs[i])
			t[i].wfd = t[i].rfd = pattern_file(dirs[i], size, 1);
	}
	pin_baseline();
	pipe_of(p, 0);
	t[2].rfd = p[0];
	t[2].wfd = p[1];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		die("socketpair");
	t[3].rfd = sv[1];
	t[3].wfd = sv[0];

	for (i = 0; i < 4; i++) {
		for (how = 0; how < 3; how++) {
			unsigned char *warm, *fresh;
			struct iovec iov[2];
			struct io_uring ring;
			int ret;

			if (t[i].wfd < 0) {
				char what[128];

				snprintf(what, sizeof(what), "%s, %s", t[i].name,
					 submit_name[how]);
				skip(what, "no ext4 directory");
				skip(what, "no ext4 directory");
				continue;
			}
			warm = map_anon(size, PROT_READ | PROT_WRITE);
			fresh = map_anon(size, PROT_READ | PROT_WRITE);
			memset(warm, 0xa5, size);
			iov[0] = (struct iovec){ warm, size };
			iov[1] = (struct iovec){ fresh, size };
			ring_init(&ring, 16, how == 2 ? IORING_SETUP_SQPOLL : 0);
			ret = register_bufs(&ring, iov, 2, IORING_RSRC_REGISTER_UNPINNED);
			if (ret) {
				tap(false, "%s, %s: register unpinned: %s", t[i].name,
				    submit_name[how], strerror(-ret));
				tap(false, "%s, %s: not run", t[i].name, submit_name[how]);
			} else {
				nondirect_case(&ring, 0, warm, true, &t[i], how);
				nondirect_case(&ring, 1, fresh, false, &t[i], how);
			}
			io_uring_queue_exit(&ring);
			munmap(warm, size);
			munmap(fresh, size);
		}
	}
	for (i = 0; i < 2; i++)
		if (t[i].wfd >= 0)
			close(t[i].wfd);
	close(p[0]);
	close(p[1]);
	close(sv[0]);
	close(sv[1]);
}

/*
 * 6. Inline submission does not wait for the mmap lock: a thread keeps
 * mprotect()ing a separate populated 256 MiB region while the main thread
 * submits O_DIRECT READ_FIXEDs into untouched parts of an unpinned buffer.
 * The inline issue only looks in the mirror's cache; the misses go to
 * io-wq, so workers must exist afterwards. Pinning at prep faults the
 * pages in the submitter and issues inline: no worker at all. Runs in a
 * fresh child, so that no earlier request of this task made workers.
 */
#define STORM_SAMPLES	65536

struct storm {
	unsigned char *region;
	size_t len;
	volatile int stop;
	volatile int calls;
	double *ms;
	int n;
};

static void *storm_thread(void *arg)
{
	struct storm *s = arg;
	int prot[2] = { PROT_READ, PROT_READ | PROT_WRITE };
	int k = 0;

	while (!s->stop) {
		double t0 = now_ms();

		mprotect(s->region, s->len, prot[k++ & 1]);
		if (s->n < STORM_SAMPLES)
			s->ms[s->n++] = now_ms() - t0;
		s->calls++;
	}
	return NULL;
}

struct storm_result {
	int workers_before, workers_after;
	int completed, intact, first_bad_res;
	int mprotects;
	double submit_max, submit_median, mprotect_median;
	int err;
};

static void storm_child(int out)
{
	const int n = 32;
	const size_t len = 64 * 1024, stride = 256 * 1024, size = n * stride;
	struct storm_result res = { 0 };
	struct storm s = { .len = 256 * MIB };
	double submit_ms[32];
	struct io_uring ring;
	unsigned char *buf;
	pthread_t th;
	int i, workers;

	s.ms = malloc(STORM_SAMPLES * sizeof(double));
	s.region = map_anon(s.len, PROT_READ | PROT_WRITE);
	buf = map_anon(size, PROT_READ | PROT_WRITE);
	if (!s.ms)
		_exit(3);
	/* Small pages: each mprotect walks 64K PTEs; each part misses alone. */
	madvise(s.region, s.len, MADV_NOHUGEPAGE);
	madvise(buf, size, MADV_NOHUGEPAGE);
	memset(s.region, 1, s.len);
	ring_init(&ring, 16, 0);
	if (register_buf(&ring, buf, size, IORING_RSRC_REGISTER_UNPINNED)) {
		res.err = 1;
		goto report;
	}
	res.workers_before = count_iou_workers();
	if (pthread_create(&th, NULL, storm_thread, &s)) {
		res.err = 2;
		goto report;
	}
	while (s.calls < 2)
		usleep(1000);
	for (i = 0; i < n; i++) {
		double t0;
		int r;

		/* Its own user_data: a late one is never taken for the next. */
		prep_rw(&ring, false, dev_fd, buf + i * stride, len, i * len, 0, 0,
			REQ_MARK + 1 + i);
		t0 = now_ms();
		r = io_uring_submit(&ring);
		submit_ms[i] = now_ms() - t0;
		if (submit_ms[i] > res.submit_max)
			res.submit_max = submit_ms[i];
		r = r == 1 ? wait_ud(&ring, REQ_MARK + 1 + i, 60000) : r;
		if (r == (int)len) {
			res.completed++;
			res.intact += same(buf + i * stride, len, DEV_SEED, i * len);
		} else if (!res.first_bad_res) {
			res.first_bad_res = r;
		}
		/* The most seen at once: an idle worker may exit. */
		workers = count_iou_workers();
		if (workers > res.workers_after)
			res.workers_after = workers;
	}
	s.stop = 1;
	pthread_join(th, NULL);
	res.mprotects = s.n;
	res.submit_median = median(submit_ms, n);
	res.mprotect_median = median(s.ms, s.n);
report:
	if (write(out, &res, sizeof(res)) != sizeof(res))
		_exit(4);
	io_uring_queue_exit(&ring);
	_exit(0);
}

static void test_inline_no_mmap_lock(void)
{
	struct storm_result res;
	int fds[2], status;
	bool ok;
	pid_t pid;

	if (!need_blockdev("inline submission under an mprotect storm"))
		return;
	if (pipe(fds))
		die("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		close(fds[0]);
		storm_child(fds[1]);
	}
	close(fds[1]);
	memset(&res, 0, sizeof(res));
	if (read(fds[0], &res, sizeof(res)) != sizeof(res))
		res.err = -1;
	close(fds[0]);
	waitpid(pid, &status, 0);
	diag("mprotect storm: %d calls on 256 MiB, median %.3f ms",
	     res.mprotects, res.mprotect_median);
	diag("submit latency over 32 reads: median %.3f ms, max %.3f ms",
	     res.submit_median, res.submit_max);
	diag("io-wq workers: %d before, up to %d during the reads", res.workers_before,
	     res.workers_after);
	ok = !res.err && res.completed == 32 && res.intact == 32;
	tap(ok, "32 O_DIRECT READ_FIXEDs into untouched parts of an unpinned buffer during an mprotect storm: %d complete, %d intact (first other result %d, error %d)",
	    res.completed, res.intact, res.first_bad_res, res.err);
	tap(!res.err && res.workers_before == 0 && res.workers_after > 0,
	    "the inline misses went to io-wq: up to %d iou-wrk workers during the reads (want > 0), %d before (want 0)",
	    res.workers_after, res.workers_before);
	tap(!res.err && res.mprotects > 0 &&
	    res.submit_median < 10 * res.mprotect_median,
	    "sanity: median submit %.3f ms < 10 x median mprotect %.3f ms",
	    res.submit_median, res.mprotect_median);
}

/*
 * 7. Detection and flags: no feature bit (bit 16 is upstream's
 * IORING_FEAT_RW_ATTR, not in 6.12), detection by registering,
 * IORING_RSRC_REGISTER_PINNED and its refusals, and the sysctl.
 */
static void test_flags(void)
{
	const size_t len = MIB;
	const long pages = len / page_size;
	unsigned char *buf = map_anon(len, PROT_READ | PROT_WRITE);
	struct io_uring_params p;
	struct io_uring ring;
	long d0, d1, d2;
	int ret, r1, r2, r3;

	memset(buf, 3, len);
	memset(&p, 0, sizeof(p));
	ret = io_uring_queue_init_params(4, &ring, &p);
	if (ret) {
		errno = -ret;
		die("io_uring_queue_init_params");
	}
	tap(!(p.features & FEAT_BIT16),
	    "io_uring_params.features 0x%x: bit 16 (upstream's IORING_FEAT_RW_ATTR) clear",
	    p.features);
	ret = register_buf(&ring, buf, len, IORING_RSRC_REGISTER_UNPINNED);
	tap(ret == 0, "detection: registering with IORING_RSRC_REGISTER_UNPINNED: %d (want 0)",
	    ret);
	if (!ret)
		io_uring_unregister_buffers(&ring);
	ret = register_buf(&ring, buf, len, 1U << 3);
	tap(ret == -EINVAL, "registration flag 1<<3: %d (want -EINVAL)", ret);
	ret = register_buf(&ring, buf, len,
			   IORING_RSRC_REGISTER_UNPINNED | IORING_RSRC_REGISTER_PINNED);
	tap(ret == -EINVAL, "register UNPINNED|PINNED: %d (want -EINVAL)", ret);
	if (!ret)
		io_uring_unregister_buffers(&ring);

	ret = register_buf(&ring, buf, len, 0);
	r1 = update_buf(&ring, 0, buf, len,
			IORING_RSRC_REGISTER_UNPINNED | IORING_RSRC_REGISTER_PINNED);
	r2 = update_buf(&ring, 0, buf, len, IORING_RSRC_REGISTER_PINNED);
	r3 = update_buf(&ring, 0, buf, len, IORING_RSRC_REGISTER_UNPINNED);
	tap(!ret && r1 == -EINVAL && r2 == 1 && r3 == 1,
	    "update UNPINNED|PINNED: %d (want -EINVAL); update PINNED: %d, UNPINNED: %d (want 1)",
	    r1, r2, r3);
	io_uring_unregister_buffers(&ring);

	set_sysctl(1);
	d0 = pin_baseline();
	ret = register_buf(&ring, buf, len, IORING_RSRC_REGISTER_PINNED);
	d1 = pin_delta();
	if (!ret)
		io_uring_unregister_buffers(&ring);
	d2 = pin_delta_settled(d0, 2000);
	tap(!ret && d1 - d0 >= pages && d2 == d0,
	    "sysctl 1: IORING_RSRC_REGISTER_PINNED registers pinned: %d, pin delta +%ld while registered (want >= %ld), %+ld after unregister (want 0)",
	    ret, d1 - d0, pages, d2 - d0);
	d0 = pin_baseline();
	{
		struct iovec iov = { buf, len };

		ret = io_uring_register_buffers(&ring, &iov, 1);
	}
	d1 = pin_delta();
	if (!ret)
		io_uring_unregister_buffers(&ring);
	tap(!ret && d1 == d0,
	    "sysctl 1: plain IORING_REGISTER_BUFFERS registers unpinned: %d, pin delta +%ld (want 0)",
	    ret, d1 - d0);
	set_sysctl(0);
	io_uring_queue_exit(&ring);
	munmap(buf, len);
}

/*
 * 8. Another process. (a) Cloning into a ring of another mm is refused
 * (io_clone_buffers() compares mm_account), pinned or not. (b) A child
 * submitting on the parent's ring writes the parent's memory, not its own
 * copy. (c) Once the registering process has exited, I/O gets -ESRCH.
 */
#ifndef __NR_pidfd_open
#define __NR_pidfd_open		434
#endif
#ifndef __NR_pidfd_getfd
#define __NR_pidfd_getfd	438
#endif
/* Fork; the child runs @fn and sends back @n ints; 0 or -1. */
static int in_child(void (*fn)(int *out, void *arg), void *arg, int *out, int n)
{
	int fds[2], status;
	pid_t pid;

	if (pipe(fds))
		die("pipe");
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		close(fds[0]);
		fn(out, arg);
		if (write(fds[1], out, n * sizeof(int)) != (ssize_t)(n * sizeof(int)))
			_exit(5);
		_exit(0);
	}
	close(fds[1]);
	status = read(fds[0], out, n * sizeof(int)) == (ssize_t)(n * sizeof(int));
	close(fds[0]);
	waitpid(pid, NULL, 0);
	return status ? 0 : -1;
}

static void clone_child(int *out, void *arg)
{
	const int *src = arg;
	struct io_uring ring;
	int i;

	ring_init(&ring, 4, 0);
	for (i = 0; i < 2; i++) {
		struct clone_buffers cb = { .src_fd = src[i] };

		out[i] = sys_register(ring.ring_fd, REGISTER_CLONE_BUFFERS, &cb, 1);
	}
	io_uring_queue_exit(&ring);
}

struct foreign {
	struct io_uring *ring;
	unsigned char *buf;
	size_t size, len;
	int file;
};

/* In the child: READ_FIXEDs on the parent's ring into the parent's buffer. */
static void foreign_child(int *out, void *arg)
{
	struct foreign *f = arg;

	out[0] = rw_fixed(f->ring, false, f->file, f->buf, f->len, 0, 0, 0);
	out[1] = dev_fd < 0 ? 0 :
		 rw_fixed(f->ring, false, dev_fd, f->buf + f->size / 2, f->len,
			  2 * MIB, 0, 0);
	/* The child's own copy still holds what the parent wrote before fork. */
	out[2] = all_bytes(f->buf, f->size, 'P');
}

static void test_cross_process(void)
{
	const size_t size = 256 * 1024, len = 64 * 1024;
	unsigned char *a = map_anon(size, PROT_READ | PROT_WRITE);
	unsigned char *b = map_anon(size, PROT_READ | PROT_WRITE);
	struct io_uring ra, rb;
	int src[2], out[3], ret, file;
	struct foreign f;
	bool ok;

	/* (a) clone from the parent's rings into a child's ring */
	memset(a, 1, size);
	ring_init(&ra, 4, 0);
	ring_init(&rb, 4, 0);
	ret = register_buf(&ra, a, size, 0);
	ret |= register_buf(&rb, b, size, IORING_RSRC_REGISTER_UNPINNED);
	src[0] = ra.ring_fd;
	src[1] = rb.ring_fd;
	if (ret || in_child(clone_child, src, out, 2))
		out[0] = out[1] = 1;
	tap(!ret && out[0] == -EINVAL && out[1] == -EINVAL,
	    "a child's ring cloning the parent's buffers: pinned source %d, unpinned source %d (want -EINVAL)",
	    out[0], out[1]);
	io_uring_queue_exit(&ra);
	io_uring_queue_exit(&rb);

	/* (b) a child submits on the parent's ring; the parent waits */
	file = pattern_file("/tmp", len, 61);
	memset(b, 'P', size);
	ring_init(&rb, 4, 0);
	ret = register_buf(&rb, b, size, IORING_RSRC_REGISTER_UNPINNED);
	f = (struct foreign){ &rb, b, size, len, file };
	if (ret || in_child(foreign_child, &f, out, 3))
		out[0] = out[1] = out[2] = -1;
	ok = !ret && out[0] == (int)len && same(b, len, 61, 0) &&
	     all_bytes(b + len, size / 2 - len, 'P') && out[2] == 1;
	tap(ok, "a child's buffered READ_FIXED on the parent's ring (%d) lands in the parent's unpinned buffer, the child's copy unchanged (%s)",
	    out[0], out[2] == 1 ? "yes" : "no");
	if (dev_fd >= 0)
		tap(!ret && out[1] == (int)len &&
		    same(b + size / 2, len, DEV_SEED, 2 * MIB) &&
		    all_bytes(b + size / 2 + len, size / 2 - len, 'P') && out[2] == 1,
		    "a child's O_DIRECT READ_FIXED on the parent's ring (%d) lands in the parent's unpinned buffer",
		    out[1]);
	else
		skip("a child's O_DIRECT READ_FIXED on the parent's ring", "no block device");
	/* The child moved the shared SQ tail: only tear this ring down. */
	io_uring_queue_exit(&rb);

	/*
	 * (c) A child registers an unpinned buffer, hands the ring over and
	 * exits. 6.12 refuses io_uring files in SCM_RIGHTS (scm_fp_copy()), so
	 * the parent takes the fd with pidfd_getfd(). The child's buffer lies
	 * where the parent has PROT_NONE: I/O through the parent's own mm
	 * would fail with -EFAULT instead of writing anything.
	 */
	{
		unsigned char *hole = map_anon(size, PROT_NONE);
		struct {
			struct io_uring_params p;
			int reg, fd;
		} msg;
		struct io_uring rc;
		int up[2], down[2], pidfd, rfd = -1, r1 = 0, r2 = 0;
		pid_t pid;
		char c = 'x';

		if (pipe(up) || pipe(down))
			die("pipe");
		fflush(stdout);
		pid = fork();
		if (pid < 0)
			die("fork");
		if (!pid) {
			struct io_uring ring;

			memset(&msg, 0, sizeof(msg));
			if (io_uring_queue_init_params(4, &ring, &msg.p))
				_exit(21);
			if (mmap(hole, size, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != hole)
				_exit(22);
			memset(hole, 'K', size);
			msg.reg = register_buf(&ring, hole, size,
					       IORING_RSRC_REGISTER_UNPINNED);
			msg.fd = ring.ring_fd;
			if (write(up[1], &msg, sizeof(msg)) != sizeof(msg) ||
			    read(down[0], &c, 1) != 1)
				_exit(23);
			_exit(0);
		}
		close(up[1]);
		close(down[0]);
		memset(&msg, 0, sizeof(msg));
		ret = read(up[0], &msg, sizeof(msg)) == sizeof(msg) ? 0 : -EIO;
		if (!ret) {
			pidfd = syscall(__NR_pidfd_open, pid, 0);
			rfd = pidfd < 0 ? -errno :
			      syscall(__NR_pidfd_getfd, pidfd, msg.fd, 0);
			if (rfd < 0 && pidfd >= 0)
				rfd = -errno;
			if (pidfd >= 0)
				close(pidfd);
		}
		/* Let the child exit, and wait until its mm is gone. */
		if (write(down[1], &c, 1) != 1)
			die("pipe write");
		waitpid(pid, NULL, 0);
		close(up[0]);
		close(down[1]);
		if (ret || msg.reg || rfd < 0) {
			tap(false, "ring taken from a child that exited: message %d, registration %d, pidfd_getfd %d",
			    ret, msg.reg, rfd);
		} else {
			memset(&rc, 0, sizeof(rc));
			ret = io_uring_queue_mmap(rfd, &msg.p, &rc);
			if (ret) {
				errno = -ret;
				die("io_uring_queue_mmap");
			}
			/* io_uring_queue_mmap() leaves this 0: waits need EXT_ARG */
			rc.features = msg.p.features;
			nr_reaped = 0;
			r1 = rw_fixed(&rc, false, file, hole, len, 0, 0, 0);
			if (dev_fd >= 0)
				r2 = rw_fixed(&rc, false, dev_fd, hole, len, 0, 0, 0);
			tap(r1 == -ESRCH && (dev_fd < 0 || r2 == -ESRCH),
			    "READ_FIXED on a ring whose registering process exited: buffered %d, O_DIRECT %d%s (want -ESRCH)",
			    r1, r2, dev_fd < 0 ? " (not run: no block device)" : "");
			io_uring_queue_exit(&rc);
		}
		munmap(hole, size);
	}
	close(file);
	munmap(a, size);
	munmap(b, size);
}

/* The block device's first DEV_LEN bytes get pattern DEV_SEED. */
static void prepare_blockdev(void)
{
	unsigned char *buf;

	if (!blockdev)
		return;
	dev_fd = open(blockdev, O_RDWR | O_DIRECT);
	if (dev_fd < 0)
		die(blockdev);
	buf = map_anon(DEV_LEN, PROT_READ | PROT_WRITE);
	fill(buf, DEV_LEN, DEV_SEED, 0);
	if (pwrite(dev_fd, buf, DEV_LEN, 0) != (ssize_t)DEV_LEN)
		die("pwrite to the block device");
	munmap(buf, DEV_LEN);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "blockdev", required_argument, NULL, 'b' },
		{ "ext4", required_argument, NULL, 'e' },
		{}
	};
	long d_end;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b': blockdev = optarg; break;
		case 'e': ext4_dir = optarg; break;
		default:
			fprintf(stderr, "usage: %s [--blockdev DEV] [--ext4 DIR]\n",
				argv[0]);
			return 2;
		}
	}
	page_size = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	atexit(sysctl_restore);
	signal(SIGTERM, on_signal);
	signal(SIGINT, on_signal);
	signal(SIGPIPE, SIG_IGN);
	/* Every registration here says which kind it wants, or expects 0. */
	sysctl_touched = 1;
	set_sysctl(0);

	prepare_blockdev();
	d_start = pin_delta_settled(0, 2000);
	diag("pin delta at start: %ld", d_start);

	test_pipe_parked();
	test_link_parked();
	test_drain_parked();
	test_nowait_miss();
	test_many_parked();
	test_send_zc_parked();
	test_nondirect();
	test_inline_no_mmap_lock();
	test_flags();
	test_cross_process();

	d_end = pin_delta_settled(d_start, 5000);
	tap(d_end == d_start, "pins balanced: pin delta at the end %ld, at the start %ld",
	    d_end, d_start);
	if (dev_fd >= 0)
		close(dev_fd);
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
