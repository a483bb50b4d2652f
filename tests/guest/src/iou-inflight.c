// SPDX-License-Identifier: GPL-2.0
/*
 * The process changes the memory of a registered buffer while a request
 * on it is in flight. A slow memory-backed null_blk (each command ends
 * 300 ms after it starts) keeps an O_DIRECT READ_FIXED of 16 pages in
 * flight, and meanwhile the process:
 *
 *   idle      does nothing: a lent span holds no pin (the point of
 *             lending), a pinned request one per page;
 *
 * The next three read the span once first, so that the read in flight
 * is lent over the mirror's cached bvecs, as every request after the
 * first is; idle's is the first, looked up.
 *
 *   dontneed  MADV_DONTNEEDs the span: its old pages stay pinned until
 *             the read ends (the invalidation parks a pin on each), then
 *             every pin is released;
 *   migrate   move_pages() to the other node: no page moves while the
 *             read is in flight, every page once it ended;
 *   fork      forks, and writes the span while the child lives: fork
 *             copied the pages for the child, so the parent keeps its
 *             own (same pfns), as it does with pins.
 *   busy      reads run back to back on the span while the other half
 *             of the buffer, read before, is idle: move_pages() moves no
 *             page being read, moves the idle half even though spans are
 *             out on the other (a page is pinned only while a span that
 *             used it is out), and moves the busy half once reads stop;
 *             compaction runs meanwhile.
 *
 *   oom       (lent spans only) the process, in a 32 MiB memcg, is
 *             OOM-killed with a read in flight on a device that takes 10 s,
 *             and a thread asleep in another such read keeps its mm alive:
 *             the OOM reaper's non-blockable invalidation parks pins on the
 *             lent pages and frees the rest while the reads are in flight,
 *             and everything comes back once they end.
 *
 * Each case in three modes: unpinned with lent spans
 * (kernel.io_uring_unpinned_request_pins=0), unpinned with a pin per
 * request (=1), and pinned at registration. Without the pins that
 * invalidations park, "dontneed" would see no pin, "migrate" would move
 * the pages under the read and "fork" would give the parent new pages.
 *
 *   iou-inflight SLOW_DEVICE [SLOWER_DEVICE MEMCG_DIR]
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdint.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest-test.h"


#define NPAGES		16
#define max(a, b)	((a) > (b) ? (a) : (b))
#define PAGE		4096
#define SIZE		(NPAGES * PAGE)
/* The registered buffer: the SIZE bytes the cases read, then as many idle. */
#define BUF_SIZE	(2 * SIZE)
#define SYSCTL		"/proc/sys/kernel/io_uring_unpinned_request_pins"

enum mode { LENT, REQUEST_PINS, PINNED };
static const char *const mode_name[] = { "lent", "request pins", "pinned" };

static int dev_fd, pagemap;
/* Pins held before any case, with none of this program's rings alive. */
static long pins_idle;

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
	long held = pins_now();
	int i;

	for (i = 0; i < 100 && held != want; i++) {
		usleep(20000);
		held = pins_now();
	}
	return held;
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
	*buf = map_anon(BUF_SIZE, PROT_READ | PROT_WRITE);
	if (madvise(*buf, BUF_SIZE, MADV_NOHUGEPAGE))
		die("madvise");
	memset(*buf, 0xaa, BUF_SIZE);
	if (write_file(SYSCTL, mode == REQUEST_PINS ? "1" : "0"))
		die(SYSCTL);
	iov.iov_base = *buf;
	iov.iov_len = BUF_SIZE;
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

/*
 * Read the span once, so that the next read of it is lent over the
 * mirror's cached bvecs, as every request after the first is.
 */
static void read_before(struct io_uring *ring, unsigned char *buf)
{
	start_read(ring, buf);
	if (end_read(ring) != SIZE)
		die("read before");
}

/*
 * A ring is freed, and the pins of its pinned buffer released, after
 * io_uring_queue_exit() returned: wait for that, so that the next case
 * does not count a release it did not cause.
 */
static void teardown(struct io_uring *ring, unsigned char *buf)
{
	long left;

	io_uring_queue_exit(ring);
	munmap(buf, BUF_SIZE);
	write_file(SYSCTL, "0");
	left = pins_settled(pins_idle) - pins_idle;
	if (left)
		diag("%ld pins still held 2 s after the ring was closed", left);
}

static void case_idle(enum mode mode)
{
	long base, during, want = mode == REQUEST_PINS ? NPAGES : 0;
	struct io_uring ring;
	unsigned char *buf;
	int res;

	setup(&ring, &buf, mode);
	base = pins_now();
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
	read_before(&ring, buf);
	base = pins_now();
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
	read_before(&ring, buf);
	base = pins_now();
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
	read_before(&ring, buf);
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

/* Pages of @pages that move_pages() moved off node @from now. */
static unsigned int move_all(void **pages, int from)
{
	int nodes[NPAGES], status[NPAGES];
	unsigned int i, moved = 0;

	for (i = 0; i < NPAGES; i++)
		nodes[i] = !from;
	syscall(__NR_move_pages, 0, NPAGES, pages, nodes, status, MPOL_MF_MOVE);
	for (i = 0; i < NPAGES; i++)
		moved += node_of(pages[i]) != from;
	return moved;
}

#define BUSY_QD		3

struct busy_reads {
	struct io_uring *ring;
	unsigned char *buf;
	int stop;
	int submitted;
	int done;
	int failed;
};

static void submit_busy_read(struct busy_reads *br)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(br->ring);

	io_uring_prep_read_fixed(sqe, dev_fd, br->buf, SIZE, 0, 0);
	if (io_uring_submit(br->ring) != 1)
		die("submit");
	__atomic_add_fetch(&br->submitted, 1, __ATOMIC_SEQ_CST);
}

/*
 * BUSY_QD reads of the first SIZE bytes, 100 ms apart on the 300 ms
 * device, each submitted again as it ends until told to stop: some read
 * of those pages is always in flight.
 */
static void *busy_thread(void *arg)
{
	struct busy_reads *br = arg;
	struct io_uring_cqe *cqe;
	int inflight, res;

	for (inflight = 0; inflight < BUSY_QD; inflight++) {
		submit_busy_read(br);
		usleep(100000);
	}
	while (inflight) {
		if (io_uring_wait_cqe(br->ring, &cqe))
			die("wait");
		res = cqe->res;
		io_uring_cqe_seen(br->ring, cqe);
		inflight--;
		__atomic_add_fetch(&br->done, 1, __ATOMIC_SEQ_CST);
		br->failed += res != SIZE;
		if (!__atomic_load_n(&br->stop, __ATOMIC_SEQ_CST)) {
			submit_busy_read(br);
			inflight++;
		}
	}
	return NULL;
}

/*
 * busy: reads run back to back on the first half of the buffer while the
 * second half, read once before, is idle. A move_pages() of the busy half
 * while reads are in flight moves nothing (and, with lent spans, starts a
 * new epoch); once the reads from before it have ended, the idle half
 * moves at the first try, as its spans are all returned, though later
 * spans are out on the other half; compaction runs; the busy half moves
 * once the reads stop.
 */
static void case_busy(enum mode mode)
{
	unsigned int i, busy_moved = 0, idle_moved, after_moved;
	long want = mode == PINNED ? 0 : NPAGES;
	void *busy[NPAGES], *idle[NPAGES];
	struct busy_reads br = { 0 };
	struct io_uring ring;
	unsigned char *buf;
	pthread_t thread;
	long base;
	int from, first;

	setup(&ring, &buf, mode);
	for (i = 0; i < NPAGES; i++) {
		busy[i] = buf + i * PAGE;
		idle[i] = buf + SIZE + i * PAGE;
	}
	from = node_of(buf);
	/* The idle half is read, and returned, before anything else. */
	start_read(&ring, buf + SIZE);
	if (end_read(&ring) != SIZE)
		die("read of the idle half");
	base = pins_now();
	br.ring = &ring;
	br.buf = buf;
	if (pthread_create(&thread, NULL, busy_thread, &br))
		die("pthread_create");
	usleep(350000);
	busy_moved += move_all(busy, from);
	/* Until the reads issued before that move have all ended, in order. */
	first = __atomic_load_n(&br.submitted, __ATOMIC_SEQ_CST);
	while (__atomic_load_n(&br.done, __ATOMIC_SEQ_CST) < first)
		usleep(10000);
	idle_moved = move_all(idle, from);
	write_file("/proc/sys/vm/compact_memory", "1");
	for (i = 0; i < 5; i++) {
		usleep(100000);
		busy_moved += move_all(busy, from);
	}
	__atomic_store_n(&br.stop, 1, __ATOMIC_SEQ_CST);
	pthread_join(thread, NULL);
	pins_settled(base);
	after_moved = move_all(busy, from);
	tap(br.failed == 0 && busy_moved == 0 && idle_moved == want &&
	    after_moved == want,
	    "%s, busy: %d reads back to back (%d failed); the busy pages moved %u times while read (want 0), %u after (want %ld); the idle ones, %u (want %ld)",
	    mode_name[mode], br.done, br.failed, busy_moved, after_moved, want,
	    idle_moved, want);
	teardown(&ring, buf);
}

/*
 * The victim: a thread asleep in a read of the 10 s device keeps the mm
 * alive after the kill, so that the OOM reaper, not exit_mmap(), frees
 * the memory; a READ_FIXED of the lent span is at the device too. Both
 * are seen at the device before the allocations that end in the kill
 * start; the parent is told how long before the READ_FIXED the
 * holder's read got there.
 */
static void __attribute__((noreturn)) oom_child(const char *cg, const char *dev,
						int fd, int ready)
{
	pthread_t holder;
	struct io_uring ring;
	unsigned char *buf;
	struct io_uring_sqe *sqe;
	char path[4096], pid[32];
	double held, gap;
	char *p;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (write_file(path, pid))
		_exit(3);
	/* Most of the 32 MiB first, so that the kill comes soon after the reads. */
	p = mmap(NULL, 26 << 20, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		_exit(7);
	setup(&ring, &buf, LENT);
	if (pthread_create(&holder, NULL, hold_mm_in_read, &fd))
		_exit(6);
	if (!device_reaches(dev, 1, 20))
		_exit(8);
	held = now();
	sqe = io_uring_get_sqe(&ring);
	io_uring_prep_read_fixed(sqe, fd, buf, SIZE, 0, 0);
	if (io_uring_submit(&ring) != 1)
		_exit(4);
	if (!device_reaches(dev, 2, 2))
		_exit(9);
	/* How long after the holder's read the READ_FIXED got to the device. */
	gap = now() - held;
	if (write(ready, &gap, sizeof(gap)) != sizeof(gap))
		_exit(5);
	for (;;) {
		p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED)
			memset(p, 1, 1 << 20);
	}
}

/*
 * Whether the case was judged: a failure after a kill later than
 * OOM_LATEST_KILL into the holder's read is told in a diagnostic, not
 * failed, and the caller tries again (the third try is judged).
 */
static bool case_oom(const char *slower, const char *cg, bool last)
{
	long base, kills0, during = -1, end = -1, held, inflight_at_most = -1;
	double t0, gap, held_since, killed = 0, reaped = 0, into_read = -1;
	int fd, kmsg, pipefd[2], status = 0;
	bool exited = false, by_reaper, balanced, ok;
	pid_t child;

	if (!device_reaches(slower, 0, 12)) {
		tap(false, "lent, oom: %ld reads still in flight at %s before the case (want 0)",
		    device_inflight(slower), slower);
		return true;
	}
	fd = open(slower, O_RDONLY | O_DIRECT);
	if (fd < 0 || pipe(pipefd))
		die(slower);
	base = pins_settled(pins_idle);
	kills0 = cg_value(cg, "memory.events", "oom_kill");
	kmsg = kmsg_from_now();
	child = fork();
	if (child < 0)
		die("fork");
	if (!child)
		oom_child(cg, slower, fd, pipefd[1]);
	close(pipefd[1]);
	if (read(pipefd[0], &gap, sizeof(gap)) != sizeof(gap)) {
		waitpid(child, &status, 0);
		tap(false, "lent, oom: the child ended (status 0x%x) before both reads were at the device (exit 8: not the holder's in 20 s, 9: not the READ_FIXED in 2 s)",
		    status);
		close(kmsg);
		close(fd);
		close(pipefd[0]);
		return true;
	}
	/* The child wrote as soon as the READ_FIXED was at the device. */
	held_since = now() - gap;
	/* Until the kill, then while the exit waits for the 10 s read. */
	for (t0 = now(); now() - t0 < 30 && !exited; usleep(20000)) {
		exited = waitpid(child, &status, WNOHANG) == child;
		if (!killed && cg_value(cg, "memory.events", "oom_kill") > kills0) {
			killed = now();
			into_read = killed - held_since;
		}
		if (killed && !exited && !reaped &&
		    cg_value(cg, "memory.current", NULL) < 8 << 20)
			reaped = now();
		/* The most held at once while the reaped child still exists. */
		if (reaped && !exited) {
			held = pins_now() - base;
			if (held > during)
				inflight_at_most = device_inflight(slower);
			during = max(during, held);
		}
	}
	if (!exited) {
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
	}
	for (t0 = now(); now() - t0 < 10; usleep(50000)) {
		end = cg_value(cg, "memory.current", NULL);
		if (end < 1 << 20)
			break;
	}
	by_reaper = oom_reaped(kmsg, child);
	close(fd);
	close(pipefd[0]);
	balanced = pins_settled(base) == base;
	ok = exited && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL && killed &&
	     by_reaper && reaped && during == NPAGES + 1 && balanced && end < 1 << 20;
	if (!ok && !last && into_read > OOM_LATEST_KILL) {
		diag("oom: the kill came %.1f s into the holder's 10 s read, too late for the reaper's turn: again",
		     into_read);
		pins_settled(base);
		return false;
	}
	if (during != NPAGES + 1)
		diag("oom: %ld reads at the device when the most pins were held, %.1f s after the kill",
		     inflight_at_most, reaped - killed);
	tap(ok, "lent, oom: killed %s %.1f s into the holder's read (the READ_FIXED at the device %.1f s in), memory freed %.1f s after the kill %s with %ld pins held (want %d: parked, and the holder's own read) while the reads were in flight; %ld KiB left in the memcg at the end, pins %s",
	    killed ? "by the OOM killer" : "NOT by the OOM killer", into_read,
	    gap, reaped ? reaped - killed : -1.0,
	    by_reaper ? "by the OOM reaper" : "NOT by the OOM reaper", during, NPAGES + 1,
	    end >> 10, balanced ? "balanced" : "NOT balanced");
	return true;
}

int main(int argc, char **argv)
{
	bool numa = !access("/sys/devices/system/node/node1", F_OK);
	void *pattern;
	enum mode mode;
	int i;

	if (argc != 2 && argc != 4) {
		fprintf(stderr, "usage: %s SLOW_DEVICE [SLOWER_DEVICE MEMCG_DIR]\n",
			argv[0]);
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
	pins_idle = pins_now();
	printf("TAP version 13\n1..%d\n", 16);
	for (mode = LENT; mode <= PINNED; mode++) {
		case_idle(mode);
		case_dontneed(mode);
		if (numa)
			case_migrate(mode);
		else
			skip("migrate", "one NUMA node");
		case_fork(mode);
		if (numa)
			case_busy(mode);
		else
			skip("busy", "one NUMA node");
	}
	for (i = 0; argc == 4 && i < 3 && !case_oom(argv[2], argv[3], i == 2); i++)
		;
	if (argc != 4)
		skip("lent, oom", "no slower device or memcg");
	return tap_failed ? 1 : 0;
}
