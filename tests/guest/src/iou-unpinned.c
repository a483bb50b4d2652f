// SPDX-License-Identifier: GPL-2.0
/*
 * io_uring registered buffers with and without long-term pins: data paths,
 * coherence with the registering process's address space, every consumer
 * of a registered buffer, and refusals. Prints TAP.
 *
 *   iou-unpinned [--blockdev DEV] [--ext4 DIR] [--nvme NGDEV]
 *
 * DEV is a memory-backed block device for O_DIRECT I/O, DIR a directory on
 * ext4, NGDEV an NVMe generic char device (/dev/ngXnY) for passthrough.
 * Tests whose resource is missing are reported as skipped.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <linux/nvme_ioctl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest-test.h"

/* What liburing 2.3's header lacks. */
#define REGISTER_CLONE_BUFFERS		30

/* user_data of the requests tests wait for; other CQEs (tags) are kept */
#define REQ_MARK			0x5157ULL

struct clone_buffers {
	uint32_t src_fd;
	uint32_t flags;
	uint32_t pad[6];
};

enum mode { PINNED, UNPINNED };
static const char *const mode_name[] = { "pinned", "unpinned" };

static long page_size;
static uint64_t other_cqes[16];
static unsigned int nr_other_cqes;
static const char *blockdev, *ext4_dir, *nvme_dev;

static void fill(void *buf, size_t len, unsigned int seed)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)(seed * 131 + i * 7 + (i >> 12));
}

static bool same(const void *buf, size_t len, unsigned int seed)
{
	unsigned char *want = malloc(len);
	bool eq;

	if (!want)
		die("malloc");
	fill(want, len, seed);
	eq = !memcmp(buf, want, len);
	free(want);
	return eq;
}

/* A file holding @len bytes of pattern @seed, for reads into buffers. */
static int pattern_file(const char *dir, size_t len, unsigned int seed)
{
	char path[256];
	void *buf = map_anon(len, PROT_READ | PROT_WRITE);
	int fd;

	snprintf(path, sizeof(path), "%s/iou-unpinned.XXXXXX", dir);
	fd = mkstemp(path);
	if (fd < 0)
		die("mkstemp");
	unlink(path);
	fill(buf, len, seed);
	if (pwrite(fd, buf, len, 0) != (ssize_t)len)
		die("pwrite");
	munmap(buf, len);
	return fd;
}

/* Register @nr buffers, pinned or unpinned, with IORING_REGISTER_BUFFERS2. */
static int register_bufs(struct io_uring *ring, const struct iovec *iov,
			 unsigned int nr, enum mode mode, const uint64_t *tags)
{
	struct io_uring_rsrc_register rr = {
		.nr = nr,
		.flags = mode == UNPINNED ? IORING_RSRC_REGISTER_UNPINNED : 0,
		.data = (uintptr_t)iov,
		.tags = (uintptr_t)tags,
	};

	return sys_register(ring->ring_fd, IORING_REGISTER_BUFFERS2, &rr,
			    sizeof(rr));
}

static int register_buf(struct io_uring *ring, void *buf, size_t len,
			enum mode mode)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };

	return register_bufs(ring, &iov, 1, mode, NULL);
}

static void ring_init(struct io_uring *ring, unsigned int flags)
{
	int ret = io_uring_queue_init(16, ring, flags);

	if (ret) {
		errno = -ret;
		die("io_uring_queue_init");
	}
}

/*
 * Submit one prepared SQE (user_data REQ_MARK) and return its result; other
 * CQEs that arrive meanwhile (buffer tags) are kept for took_cqe().
 */
static int submit_wait(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_submit(ring);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	for (;;) {
		ret = io_uring_wait_cqe(ring, &cqe);
		if (ret)
			return ret;
		if (cqe->user_data == REQ_MARK)
			break;
		if (nr_other_cqes < 16)
			other_cqes[nr_other_cqes++] = cqe->user_data;
		io_uring_cqe_seen(ring, cqe);
	}
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

/* Whether a CQE with @user_data arrived, waiting up to a second for it. */
static bool took_cqe(struct io_uring *ring, uint64_t user_data)
{
	struct __kernel_timespec ts = { .tv_sec = 1 };
	struct io_uring_cqe *cqe;
	unsigned int i;

	for (i = 0; i < nr_other_cqes; i++) {
		if (other_cqes[i] == user_data) {
			other_cqes[i] = other_cqes[--nr_other_cqes];
			return true;
		}
	}
	while (!io_uring_wait_cqe_timeout(ring, &cqe, &ts)) {
		bool hit = cqe->user_data == user_data;

		io_uring_cqe_seen(ring, cqe);
		if (hit)
			return true;
	}
	return false;
}

/* READ_FIXED or WRITE_FIXED of @len bytes at @buf (in slot @idx). */
static int rw_fixed(struct io_uring *ring, bool write, int fd, void *buf,
		    size_t len, off_t off, int idx, unsigned int sqe_flags)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (write)
		io_uring_prep_write_fixed(sqe, fd, buf, len, off, idx);
	else
		io_uring_prep_read_fixed(sqe, fd, buf, len, off, idx);
	sqe->flags |= sqe_flags;
	sqe->user_data = REQ_MARK;
	return submit_wait(ring);
}

/*
 * Every FOLL_PIN taken has been released. Rings are torn down by a
 * workqueue after close, so allow it a few seconds.
 */
static void check_pins_balanced(const char *after)
{
	long acq = 0, rel = 0;
	int i;

	for (i = 0; i < 100; i++) {
		acq = vmstat("nr_foll_pin_acquired");
		rel = vmstat("nr_foll_pin_released");
		if (acq == rel)
			break;
		usleep(50000);
	}
	tap(acq == rel, "pins balanced after %s (acquired %ld, released %ld)",
	    after, acq, rel);
}

/* The "FIELD: N kB" line of a /proc file, in KiB. */
static long proc_kib(const char *path, const char *field)
{
	char line[256], fmt[64];
	long kib = -1;
	FILE *f = fopen(path, "r");

	if (!f)
		die(path);
	snprintf(fmt, sizeof(fmt), "%s: %%ld kB", field);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, fmt, &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/*
 * Data paths: write a pattern from an unaligned span of a registered
 * buffer, read it back into another span, byte for byte.
 */
static void test_data_path(const char *what, int fd, bool direct, enum mode mode,
			   unsigned int sqe_flags)
{
	size_t len = direct ? 128 * 1024 : 3 * page_size + 123;
	size_t size = 4 * len + 4 * page_size;
	size_t woff = direct ? 0 : 1000, roff = size / 2 + (direct ? 0 : 77);
	unsigned char *buf = map_anon(size, PROT_READ | PROT_WRITE);
	struct io_uring ring;
	int ret, wret, rret;

	ring_init(&ring, 0);
	ret = register_buf(&ring, buf, size, mode);
	if (ret) {
		tap(false, "%s %s: register: %s", what, mode_name[mode], strerror(-ret));
		goto out;
	}
	fill(buf + woff, len, 5);
	wret = rw_fixed(&ring, true, fd, buf + woff, len, 0, 0, sqe_flags);
	rret = rw_fixed(&ring, false, fd, buf + roff, len, 0, 0, sqe_flags);
	tap(wret == (int)len && rret == (int)len && same(buf + roff, len, 5),
	    "%s %s: write_fixed %d, read_fixed %d, data intact", what,
	    mode_name[mode], wret, rret);
out:
	io_uring_queue_exit(&ring);
	munmap(buf, size);
}

static void test_data_paths(void)
{
	const char *dirs[] = { "/tmp", ext4_dir };
	char what[128];
	int i, fd;

	for (i = 0; i < 2; i++) {
		snprintf(what, sizeof(what), "buffered on %s", i ? "ext4" : "tmpfs");
		if (!dirs[i]) {
			skip(what, "no ext4 directory");
			continue;
		}
		fd = pattern_file(dirs[i], 1 << 20, 0);
		test_data_path(what, fd, false, UNPINNED, 0);
		snprintf(what, sizeof(what), "buffered on %s via io-wq",
			 i ? "ext4" : "tmpfs");
		test_data_path(what, fd, false, UNPINNED, IOSQE_ASYNC);
		close(fd);
	}

	if (blockdev) {
		fd = open(blockdev, O_RDWR | O_DIRECT);
		if (fd < 0)
			die(blockdev);
		test_data_path("O_DIRECT on the block device", fd, true, UNPINNED, 0);
		test_data_path("O_DIRECT on the block device via io-wq", fd, true,
			       UNPINNED, IOSQE_ASYNC);
		test_data_path("O_DIRECT on the block device", fd, true, PINNED, 0);
		close(fd);
	} else {
		skip("O_DIRECT on a block device", "no block device");
	}

	if (ext4_dir) {
		char path[256];

		snprintf(path, sizeof(path), "%s/direct", ext4_dir);
		fd = open(path, O_RDWR | O_CREAT | O_DIRECT, 0600);
		if (fd < 0 || ftruncate(fd, 1 << 20))
			die(path);
		test_data_path("O_DIRECT on ext4", fd, true, UNPINNED, 0);
		close(fd);
		unlink(path);
	} else {
		skip("O_DIRECT on ext4", "no ext4 directory");
	}
	check_pins_balanced("data paths");
}

/* A short read at end of file completes what there is. */
static void test_short_read(void)
{
	size_t size = 4 * page_size;
	unsigned char *buf = map_anon(size, PROT_READ | PROT_WRITE);
	int fd = pattern_file("/tmp", 5000, 9);
	struct io_uring ring;
	int ret;

	ring_init(&ring, 0);
	register_buf(&ring, buf, size, UNPINNED);
	ret = rw_fixed(&ring, false, fd, buf, size, 0, 0, 0);
	tap(ret == 5000 && same(buf, 5000, 9), "unpinned short read: %d of %zu bytes",
	    ret, size);
	io_uring_queue_exit(&ring);
	close(fd);
	munmap(buf, size);
}

/*
 * Coherence. Each case changes what the process maps at the buffer after
 * registration, then reads a pattern file into the buffer. Unpinned, the
 * process must see the data; pinned, the read goes to the page pinned at
 * registration, which the process no longer maps: stale, as documented.
 */
enum remap { DONTNEED, MUNMAP_MMAP, MREMAP, FORK_CHILD_WRITES, FORK_PARENT_WRITES };
static const char *const remap_name[] = {
	"MADV_DONTNEED", "munmap+mmap", "mremap away", "fork, child writes",
	"fork, parent writes",
};

static void test_coherence(enum remap how, enum mode mode)
{
	size_t size = 8 * page_size;
	int fd = pattern_file("/tmp", size, 3);
	unsigned char *buf = map_anon(size, PROT_READ | PROT_WRITE);
	unsigned char *moved = NULL;
	int to_parent[2], to_child[2], status, ret;
	struct io_uring ring;
	pid_t child = -1;
	char c;

	ring_init(&ring, 0);
	memset(buf, 'A', size);
	ret = register_buf(&ring, buf, size, mode);
	if (ret)
		die("register");
	/* One I/O first, so an unpinned mirror has the old pages cached. */
	rw_fixed(&ring, true, fd, buf, page_size, size, 0, 0);

	switch (how) {
	case DONTNEED:
		madvise(buf, size, MADV_DONTNEED);
		break;
	case MUNMAP_MMAP:
		munmap(buf, size);
		if (mmap(buf, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != buf)
			die("mmap fixed");
		memset(buf, 'B', size);
		break;
	case MREMAP:
		moved = mremap(buf, size, size, MREMAP_MAYMOVE | MREMAP_FIXED,
			       map_anon(size, PROT_NONE));
		if (moved == MAP_FAILED)
			die("mremap");
		break;
	case FORK_CHILD_WRITES:
	case FORK_PARENT_WRITES:
		if (pipe(to_parent) || pipe(to_child))
			die("pipe");
		child = fork();
		if (child < 0)
			die("fork");
		if (!child) {
			size_t i;

			if (how == FORK_CHILD_WRITES)
				memset(buf, 'C', size);
			if (write(to_parent[1], "x", 1) != 1 ||
			    read(to_child[0], &c, 1) != 1)
				_exit(2);
			/* The parent's read must not land in the child. */
			for (i = 0; i < size; i++)
				if (buf[i] != (how == FORK_CHILD_WRITES ? 'C' : 'A'))
					_exit(1);
			_exit(0);
		}
		if (read(to_parent[0], &c, 1) != 1)
			die("pipe read");
		if (how == FORK_PARENT_WRITES)
			memset(buf, 'D', size);
		break;
	}

	ret = rw_fixed(&ring, false, fd, buf, size, 0, 0, 0);
	if (how == MREMAP) {
		/* The old range is a hole now. */
		if (mode == UNPINNED)
			tap(ret == -EFAULT, "unpinned, %s: read into the old range: %d (want -EFAULT)",
			    remap_name[how], ret);
		else
			tap(ret == (int)size && same(moved, size, 3),
			    "pinned, %s: the read lands in the moved pages (stale registration)",
			    remap_name[how]);
		/* New memory at the old address. */
		if (mmap(buf, size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != buf)
			die("mmap fixed");
		ret = rw_fixed(&ring, false, fd, buf, size, 0, 0, 0);
		if (mode == UNPINNED)
			tap(ret == (int)size && same(buf, size, 3),
			    "unpinned, %s then mmap: the read lands in the new memory",
			    remap_name[how]);
		else
			tap(ret == (int)size && !same(buf, size, 3),
			    "pinned, %s then mmap: the new memory does not see the read (stale)",
			    remap_name[how]);
		munmap(moved, size);
	} else if (mode == UNPINNED || how >= FORK_CHILD_WRITES) {
		/* Fork copies pinned pages for the child: pinned stays right too. */
		tap(ret == (int)size && same(buf, size, 3),
		    "%s, %s: the process sees the read (%d)", mode_name[mode],
		    remap_name[how], ret);
	} else {
		tap(ret == (int)size && !same(buf, size, 3),
		    "pinned, %s: the process does not see the read (stale, documented)",
		    remap_name[how]);
	}
	if (child > 0) {
		if (write(to_child[1], "x", 1) != 1)
			die("pipe write");
		waitpid(child, &status, 0);
		tap(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		    "%s, %s: the child's memory is untouched", mode_name[mode],
		    remap_name[how]);
		close(to_parent[0]);
		close(to_parent[1]);
		close(to_child[0]);
		close(to_child[1]);
	}
	io_uring_queue_exit(&ring);
	munmap(buf, size);
	close(fd);
}

/*
 * A writable MAP_SHARED mapping of an ext4 file: FOLL_LONGTERM refuses it,
 * an unpinned buffer works and what is read into it reaches the file.
 */
static void test_shared_file(void)
{
	size_t size = 16 * page_size;
	int src = pattern_file("/tmp", size, 11);
	unsigned char *map, *check;
	struct io_uring ring;
	char path[256];
	int fd, ret;

	if (!ext4_dir) {
		skip("MAP_SHARED ext4 file as a registered buffer", "no ext4 directory");
		return;
	}
	snprintf(path, sizeof(path), "%s/shared", ext4_dir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || ftruncate(fd, size))
		die(path);
	map = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED)
		die("mmap shared");
	ring_init(&ring, 0);
	ret = register_buf(&ring, map, size, PINNED);
	tap(ret == -EFAULT, "pinned registration of a MAP_SHARED ext4 mapping: %d (want -EFAULT)",
	    ret);
	ret = register_buf(&ring, map, size, UNPINNED);
	tap(ret == 0, "unpinned registration of a MAP_SHARED ext4 mapping: %d", ret);
	ret = rw_fixed(&ring, false, src, map, size, 0, 0, 0);
	io_uring_queue_exit(&ring);
	msync(map, size, MS_SYNC);
	munmap(map, size);
	close(fd);
	/* Drop the page cache so the check reads what writeback stored. */
	fd = open("/proc/sys/vm/drop_caches", O_WRONLY);
	if (fd < 0 || write(fd, "1", 1) != 1)
		die("drop_caches");
	close(fd);
	check = map_anon(size, PROT_READ | PROT_WRITE);
	fd = open(path, O_RDONLY);
	tap(ret == (int)size && pread(fd, check, size, 0) == (ssize_t)size &&
	    same(check, size, 11), "read into the shared mapping reached the file after msync");
	close(fd);
	close(src);
	unlink(path);
	munmap(check, size);
	check_pins_balanced("shared file");
}

/* Pages of an idle registered buffer can move between NUMA nodes unpinned. */
static void test_move_pages(enum mode mode)
{
	const unsigned long n = 64;
	size_t size = n * page_size;
	unsigned char *buf = map_anon(size, PROT_READ | PROT_WRITE);
	int fd = pattern_file("/tmp", size, 4);
	int nodes[64], status[64], moved = 0, where;
	void *pages[64];
	struct io_uring ring;
	unsigned long i;
	long ret;

	if (access("/sys/devices/system/node/node1", F_OK)) {
		skip("move_pages of a registered buffer", "one NUMA node");
		close(fd);
		return;
	}
	for (i = 0; i < n; i++)
		pages[i] = buf + i * page_size;
	memset(buf, 1, size);
	ring_init(&ring, 0);
	if (register_buf(&ring, buf, size, mode))
		die("register");
	rw_fixed(&ring, false, fd, buf, size, 0, 0, 0);
	/* Where are they now? Move each to the other node. */
	syscall(__NR_move_pages, 0, n, pages, NULL, status, 0);
	for (i = 0; i < n; i++)
		nodes[i] = status[i] == 0 ? 1 : 0;
	where = status[0];
	ret = syscall(__NR_move_pages, 0, n, pages, nodes, status, MPOL_MF_MOVE);
	for (i = 0; i < n; i++)
		moved += status[i] == nodes[i];
	if (mode == UNPINNED)
		tap(ret == 0 && moved == (int)n,
		    "unpinned: move_pages moved %d of %lu idle buffer pages off node %d",
		    moved, n, where);
	else
		tap(moved == 0, "pinned: move_pages moved %d of %lu (pinned pages stay)",
		    moved, n);
	/* And the buffer still works where the pages went. */
	if (mode == UNPINNED) {
		ret = rw_fixed(&ring, false, fd, buf, size, 0, 0, 0);
		tap(ret == (long)size && same(buf, size, 4),
		    "unpinned: I/O after migration sees the moved pages");
	}
	io_uring_queue_exit(&ring);
	munmap(buf, size);
	close(fd);
}

/* The page frame behind @addr, from /proc/self/pagemap (root sees PFNs). */
static unsigned long pfn_of(int pagemap, const void *addr)
{
	uint64_t entry;

	if (pread(pagemap, &entry, sizeof(entry),
		  (uintptr_t)addr / page_size * sizeof(entry)) != sizeof(entry))
		die("pagemap");
	return entry & (1ULL << 63) ? entry & ((1ULL << 55) - 1) : 0;
}

/*
 * Full compaction (vm.compact_memory) moves the movable pages low in a
 * zone to free pages high in it: the pages of an idle unpinned buffer
 * among them, and none of a pinned one, whose raised refcount makes
 * compaction skip it. A filler takes most free memory while the buffer
 * is faulted, so that the buffer lies low, and is freed before compacting.
 */
static void test_compaction(enum mode mode)
{
	const unsigned long n = 8192;
	size_t size = n * page_size;
	unsigned char *buf = map_anon(size, PROT_READ | PROT_WRITE);
	int fd = pattern_file("/tmp", size, 5);
	int pagemap = open("/proc/self/pagemap", O_RDONLY);
	unsigned long *before = calloc(n, sizeof(*before));
	size_t filler_size = (size_t)proc_kib("/proc/meminfo", "MemFree") * 1024 / 10 * 8;
	unsigned long i, moved = 0;
	struct io_uring ring;
	void *filler;
	long ret;

	if (pagemap < 0 || !before)
		die("pagemap");
	filler = mmap(NULL, filler_size, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (filler == MAP_FAILED)
		die("filler");
	if (madvise(buf, size, MADV_NOHUGEPAGE))
		die("madvise");
	memset(buf, 1, size);
	munmap(filler, filler_size);
	ring_init(&ring, 0);
	if (register_buf(&ring, buf, size, mode))
		die("register");
	rw_fixed(&ring, false, fd, buf, size, 0, 0, 0);
	for (i = 0; i < n; i++)
		before[i] = pfn_of(pagemap, buf + i * page_size);
	if (write_file("/proc/sys/vm/compact_memory", "1"))
		die("compact_memory");
	for (i = 0; i < n; i++)
		moved += pfn_of(pagemap, buf + i * page_size) != before[i];
	if (mode == UNPINNED) {
		tap(moved > 0, "unpinned: compaction moved %lu of %lu idle buffer pages",
		    moved, n);
		ret = rw_fixed(&ring, false, fd, buf, size, 0, 0, 0);
		tap(ret == (long)size && same(buf, size, 5),
		    "unpinned: I/O after compaction sees the moved pages");
	} else {
		tap(moved == 0, "pinned: compaction moved %lu of %lu (pinned pages stay)",
		    moved, n);
	}
	io_uring_queue_exit(&ring);
	free(before);
	close(pagemap);
	munmap(buf, size);
	close(fd);
}

/*
 * RLIMIT_MEMLOCK: an unprivileged process with a 64 KiB limit registers
 * 1 GiB unpinned, without faulting it; pinning 1 MiB is refused.
 */
static void test_memlock(void)
{
	int fd = pattern_file("/tmp", 1 << 20, 6);
	int status;
	pid_t pid = fork();

	if (pid < 0)
		die("fork");
	if (!pid) {
		struct rlimit rl = { 64 << 10, 64 << 10 };
		size_t gib = 1UL << 30;
		struct timespec t0, t1;
		struct io_uring ring;
		unsigned char *big, *small;
		long rss0, rss1;
		int ret, bad = 0;

		if (setrlimit(RLIMIT_MEMLOCK, &rl) || setgid(65534) || setuid(65534))
			_exit(10);
		big = mmap(NULL, gib, PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		small = map_anon(1 << 20, PROT_READ | PROT_WRITE);
		memset(small, 1, 1 << 20);
		ring_init(&ring, 0);
		rss0 = proc_kib("/proc/self/status", "VmRSS");
		clock_gettime(CLOCK_MONOTONIC, &t0);
		ret = register_buf(&ring, big, gib, UNPINNED);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		rss1 = proc_kib("/proc/self/status", "VmRSS");
		printf("# unpinned 1 GiB registration: %d in %.3f ms, RSS %ld -> %ld KiB\n",
		       ret, (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6,
		       rss0, rss1);
		bad |= ret != 0;
		bad |= (rss1 - rss0 > 8192) << 1;
		ret = rw_fixed(&ring, false, fd, big + (512 << 20), 1 << 20, 0, 0, 0);
		bad |= (ret != 1 << 20 || !same(big + (512 << 20), 1 << 20, 6)) << 2;
		io_uring_queue_exit(&ring);
		ring_init(&ring, 0);
		ret = register_buf(&ring, small, 1 << 20, PINNED);
		printf("# pinned 1 MiB registration with a 64 KiB limit: %d\n", ret);
		bad |= (ret != -ENOMEM) << 3;
		io_uring_queue_exit(&ring);
		fflush(stdout);
		_exit(bad);
	}
	waitpid(pid, &status, 0);
	tap(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "RLIMIT_MEMLOCK 64 KiB: 1 GiB unpinned registers untouched and works, 1 MiB pinned is refused (status %d)",
	    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
	close(fd);
	check_pins_balanced("RLIMIT_MEMLOCK");
}

static int memfd_secret_map(size_t size, void **out)
{
	int fd = syscall(__NR_memfd_secret, 0);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, size))
		die("ftruncate secretmem");
	*out = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	return *out == MAP_FAILED ? -errno : 0;
}

/* Register on a ring with no table; leave it with none again. */
static int try_register(struct io_uring *ring, void *buf, size_t len,
			enum mode mode)
{
	int ret = register_buf(ring, buf, len, mode);

	if (!ret)
		io_uring_unregister_buffers(ring);
	return ret;
}

/* Registration refusals: each with its errno, the same in both modes. */
static void test_bad_registration(void)
{
	unsigned char *rw = map_anon(4 * page_size, PROT_READ | PROT_WRITE);
	unsigned char *none = map_anon(page_size, PROT_NONE);
	unsigned char *ro = map_anon(page_size, PROT_READ);
	unsigned char *hole = map_anon(3 * page_size, PROT_READ | PROT_WRITE);
	struct {
		const char *what;
		void *buf;
		size_t len;
		int want;
	} cases[] = {
		{ "zero length", rw, 0, -EFAULT },
		{ "over 1 GiB", rw, (1UL << 30) + page_size, -EFAULT },
		{ "address + length overflows", (void *)(~0UL - page_size + 1),
		  2 * page_size, -EOVERFLOW },
		{ "range with a hole", hole, 3 * page_size, -EFAULT },
		{ "PROT_NONE", none, page_size, -EFAULT },
		{ "read-only memory", ro, page_size, -EFAULT },
		{ "secretmem", NULL, page_size, -EFAULT },
	};
	struct io_uring ring;
	unsigned int i;
	int ret, mode;

	/* The ring's own mappings exist before the hole is made. */
	ring_init(&ring, 0);
	munmap(hole + page_size, page_size);
	if (memfd_secret_map(page_size, &cases[6].buf))
		cases[6].buf = NULL;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (mode = PINNED; mode <= UNPINNED; mode++) {
			if (!cases[i].buf) {
				skip(cases[i].what, "memfd_secret unavailable");
				continue;
			}
			ret = try_register(&ring, cases[i].buf, cases[i].len, mode);
			tap(ret == cases[i].want, "%s: %s: %d (want %d)",
			    mode_name[mode], cases[i].what, ret, cases[i].want);
		}
	}
	/*
	 * The ring's own mapping holds ordinary pages (vm_insert_pages()):
	 * whatever pinning says, the unpinned registration must agree.
	 */
	ret = try_register(&ring, ring.sq.ring_ptr, page_size, PINNED);
	i = try_register(&ring, ring.sq.ring_ptr, page_size, UNPINNED);
	tap((int)i == ret, "the ring's own mmap: pinned %d, unpinned %d", ret, (int)i);
	io_uring_queue_exit(&ring);
	if (cases[6].buf)
		munmap(cases[6].buf, page_size);
	munmap(rw, 4 * page_size);
	munmap(none, page_size);
	munmap(ro, page_size);
	munmap(hole, 3 * page_size);
}

static void test_bad_flags(void)
{
	unsigned char *buf = map_anon(page_size, PROT_READ | PROT_WRITE);
	struct iovec iov = { .iov_base = buf, .iov_len = page_size };
	struct io_uring_rsrc_register rr = {
		.nr = 1, .data = (uintptr_t)&iov, .flags = 1U << 7,
	};
	struct io_uring ring;
	int fds[1] = { 0 }, ret;

	ring_init(&ring, 0);
	ret = sys_register(ring.ring_fd, IORING_REGISTER_BUFFERS2, &rr, sizeof(rr));
	tap(ret == -EINVAL, "unknown registration flag: %d (want -EINVAL)", ret);
	rr.flags = IORING_RSRC_REGISTER_UNPINNED;
	rr.data = (uintptr_t)fds;
	ret = sys_register(ring.ring_fd, IORING_REGISTER_FILES2, &rr, sizeof(rr));
	tap(ret == -EINVAL, "unpinned flag on a file table: %d (want -EINVAL)", ret);
	register_buf(&ring, buf, page_size, PINNED);
	ret = update_buf(&ring, 0, buf, page_size, 1U << 7);
	tap(ret == -EINVAL, "unknown update flag: %d (want -EINVAL)", ret);
	io_uring_queue_exit(&ring);
	munmap(buf, page_size);
}

/* Request-time refusals of an unpinned buffer, and what still works. */
static void test_bad_requests(void)
{
	size_t size = 4 * page_size;
	unsigned char *buf = map_anon(size, PROT_READ | PROT_WRITE);
	int fd = pattern_file("/tmp", size, 8);
	struct io_uring ring;
	ssize_t want;
	int ret;

	ring_init(&ring, 0);
	register_buf(&ring, buf, size, UNPINNED);
	ret = rw_fixed(&ring, false, fd, buf + page_size, size, 0, 0, 0);
	tap(ret == -EFAULT, "unpinned: request beyond the buffer: %d (want -EFAULT)", ret);
	munmap(buf + page_size, page_size);
	/* Buffered I/O from the registering process copies as read(2) does. */
	want = pread(fd, buf, 2 * page_size, 0);
	ret = rw_fixed(&ring, false, fd, buf, 2 * page_size, 0, 0, 0);
	tap(ret == want && want == page_size,
	    "unpinned: buffered read over a page unmapped since: %d (read(2): %zd)",
	    ret, want);
	ret = rw_fixed(&ring, false, fd, buf + 2 * page_size, 2 * page_size, 0, 0, 0);
	tap(ret == 2 * page_size && same(buf + 2 * page_size, 2 * page_size, 8),
	    "unpinned: the rest of the buffer still works: %d", ret);
	mprotect(buf + 2 * page_size, 2 * page_size, PROT_READ);
	ret = rw_fixed(&ring, false, fd, buf + 2 * page_size, page_size, 0, 0, 0);
	tap(ret == -EFAULT, "unpinned: read into memory made read-only since: %d (want -EFAULT)",
	    ret);
	ret = rw_fixed(&ring, true, fd, buf + 2 * page_size, page_size, size, 0, 0);
	tap(ret == page_size, "unpinned: write from that read-only memory: %d", ret);
	io_uring_queue_exit(&ring);
	munmap(buf, size);
	close(fd);
	check_pins_balanced("bad requests");
}

static void test_hugetlb(enum mode mode)
{
	size_t size = 4UL << 20;
	int fd = pattern_file("/tmp", size, 12);
	struct io_uring ring;
	unsigned char *buf;
	int ret;

	buf = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (buf == MAP_FAILED) {
		skip("hugetlb buffer", "no huge pages (vm.nr_hugepages)");
		close(fd);
		return;
	}
	ring_init(&ring, 0);
	ret = register_buf(&ring, buf, size, mode);
	if (!ret)
		ret = rw_fixed(&ring, false, fd, buf + 4096, size - 8192, 0, 0, 0);
	tap(ret == (int)(size - 8192) && same(buf + 4096, size - 8192, 12),
	    "%s: hugetlb buffer: read %d", mode_name[mode], ret);
	io_uring_queue_exit(&ring);
	munmap(buf, size);
	close(fd);
}

/* Tables: mixed, sparse, tags, update, clone, fdinfo, the sysctl. */
#define ALIASES	16384

/* Kernel memory that registrations take: unreclaimable slab + vmalloc, KiB. */
static long kernel_kib(void)
{
	return proc_kib("/proc/meminfo", "SUnreclaim") +
	       proc_kib("/proc/meminfo", "VmallocUsed");
}

/*
 * The same range registered unpinned again in one ring shares the first
 * registration's mirror: each slot works and follows the process, a slot
 * replaced drops only its reference, and 16K aliases cost the table, not
 * 16K mirrors (each a pfn cache and a callback on every invalidation).
 */
static void test_aliases(unsigned char *a, unsigned char *b, size_t size, int fd)
{
	struct iovec *iov = calloc(ALIASES, sizeof(*iov));
	struct io_uring ring;
	long before, kib;
	int ret, r0, r1;
	unsigned int i;

	if (!iov)
		die("calloc");
	for (i = 0; i < ALIASES; i++)
		iov[i] = (struct iovec){ a, size };
	ring_init(&ring, 0);
	ret = register_bufs(&ring, iov, 2, UNPINNED, NULL);
	ret |= update_buf(&ring, 0, b, size, IORING_RSRC_REGISTER_UNPINNED) == 1 ? 0 : 1;
	madvise(a, size, MADV_DONTNEED);
	madvise(b, size, MADV_DONTNEED);
	r0 = rw_fixed(&ring, false, fd, b, size, 0, 0, 0);
	r1 = rw_fixed(&ring, false, fd, a, size, 0, 1, 0);
	tap(!ret && r0 == (int)size && r1 == (int)size && same(a, size, 13) &&
	    same(b, size, 13),
	    "two slots of one range: replacing one leaves the other following the process (%d, %d)",
	    r0, r1);
	io_uring_queue_exit(&ring);

	/* An alias is checked as a new registration is: read-only refuses. */
	ring_init(&ring, 0);
	ret = register_bufs(&ring, iov, 1, UNPINNED, NULL);
	mprotect(a, size, PROT_READ);
	r1 = update_buf(&ring, 0, a, size, IORING_RSRC_REGISTER_UNPINNED);
	mprotect(a, size, PROT_READ | PROT_WRITE);
	tap(!ret && r1 == -EFAULT,
	    "an alias of a range made read-only since is refused: update gives %d (want -EFAULT)",
	    r1);
	io_uring_queue_exit(&ring);

	ring_init(&ring, 0);
	before = kernel_kib();
	ret = register_bufs(&ring, iov, ALIASES, UNPINNED, NULL);
	kib = kernel_kib() - before;
	madvise(a, size, MADV_DONTNEED);
	r0 = rw_fixed(&ring, false, fd, a, size, 0, ALIASES - 1, 0);
	tap(!ret && kib < 2048 && r0 == (int)size && same(a, size, 13),
	    "%d aliases of one range share one mirror: %ld KiB of kernel memory (want < 2048), last slot reads %d",
	    ALIASES, kib, r0);
	io_uring_queue_exit(&ring);
	free(iov);
}

static void test_tables(void)
{
	size_t size = 4 * page_size;
	unsigned char *a = map_anon(size, PROT_READ | PROT_WRITE);
	unsigned char *b = map_anon(size, PROT_READ | PROT_WRITE);
	int fd = pattern_file("/tmp", size, 13);
	struct iovec iov[2] = { { a, size }, { b, size } };
	uint64_t tags[2] = { 0, 0xfeed };
	struct clone_buffers clone = { 0 };
	struct io_uring ring, ring2;
	struct io_uring_params p;
	char path[64], line[256];
	int ret, ra, rb, found = 0;
	FILE *f;

	/* Mixed: slot 0 pinned, slot 1 updated to unpinned. */
	ring_init(&ring, 0);
	ret = register_bufs(&ring, iov, 2, PINNED, tags);
	ret |= update_buf(&ring, 1, b, size, IORING_RSRC_REGISTER_UNPINNED) == 1 ? 0 : 1;
	madvise(a, size, MADV_DONTNEED);
	madvise(b, size, MADV_DONTNEED);
	ra = rw_fixed(&ring, false, fd, a, size, 0, 0, 0);
	rb = rw_fixed(&ring, false, fd, b, size, 0, 1, 0);
	tap(!ret && ra == (int)size && rb == (int)size && !same(a, size, 13) &&
	    same(b, size, 13), "mixed table: pinned slot stale, unpinned slot follows the process");
	tap(took_cqe(&ring, 0xfeed), "update posts the replaced buffer's tag");

	/* fdinfo lists both. */
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", ring.ring_fd);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f))
		found |= !strcmp(line, "UserBufs:\t2\n");
	if (f)
		fclose(f);
	tap(found, "fdinfo lists the mixed table");

	/* Clone to another ring: it still follows the registering process. */
	ring_init(&ring2, 0);
	clone.src_fd = ring.ring_fd;
	ret = sys_register(ring2.ring_fd, REGISTER_CLONE_BUFFERS, &clone, 1);
	io_uring_queue_exit(&ring);
	madvise(b, size, MADV_DONTNEED);
	rb = rw_fixed(&ring2, false, fd, b, size, 0, 1, 0);
	tap(!ret && rb == (int)size && same(b, size, 13),
	    "cloned unpinned buffer follows the process after the source ring closed");
	io_uring_queue_exit(&ring2);

	/* Sparse: empty slots refuse, filled ones work; tags on unregister. */
	ring_init(&ring, 0);
	{
		struct io_uring_rsrc_register rr = {
			.nr = 4,
			.flags = IORING_RSRC_REGISTER_SPARSE | IORING_RSRC_REGISTER_UNPINNED,
		};

		ret = sys_register(ring.ring_fd, IORING_REGISTER_BUFFERS2, &rr, sizeof(rr));
	}
	ret |= update_buf(&ring, 2, a, size, IORING_RSRC_REGISTER_UNPINNED) == 1 ? 0 : 1;
	ra = rw_fixed(&ring, false, fd, a, size, 0, 2, 0);
	rb = rw_fixed(&ring, false, fd, a, size, 0, 0, 0);
	tap(!ret && ra == (int)size && same(a, size, 13) && rb == -EFAULT,
	    "sparse unpinned table: filled slot works, empty slot gives -EFAULT (%d)", rb);
	io_uring_queue_exit(&ring);

	/* Replacing an unpinned buffer posts its tag. */
	ring_init(&ring, 0);
	ret = register_bufs(&ring, iov, 2, UNPINNED, tags);
	ret |= update_buf(&ring, 1, a, size, IORING_RSRC_REGISTER_UNPINNED) == 1 ? 0 : 1;
	tap(!ret && took_cqe(&ring, 0xfeed), "replacing an unpinned buffer posts its tag");
	io_uring_queue_exit(&ring);

	/*
	 * No feature bit: programs detect unpinned buffers by registering
	 * with the flag (-EINVAL without support). Bit 16 is upstream's
	 * IORING_FEAT_RW_ATTR, which this 6.12 kernel lacks: it stays clear.
	 */
	memset(&p, 0, sizeof(p));
	ret = io_uring_queue_init_params(4, &ring, &p);
	ra = ret ? ret : register_buf(&ring, a, size, UNPINNED);
	tap(!ret && !(p.features & (1U << 16)) && ra == 0,
	    "no feature bit (features 0x%x, bit 16 clear); detection by registering unpinned: %d",
	    p.features, ra);
	io_uring_queue_exit(&ring);
	/* And the sysctl for unmodified programs. */
	if (write_file("/proc/sys/kernel/io_uring_unpinned_buffers", "1"))
		die("kernel.io_uring_unpinned_buffers");
	ring_init(&ring, 0);
	ret = io_uring_register_buffers(&ring, iov, 1);
	madvise(a, size, MADV_DONTNEED);
	ra = rw_fixed(&ring, false, fd, a, size, 0, 0, 0);
	tap(!ret && ra == (int)size && same(a, size, 13),
	    "sysctl 1: plain IORING_REGISTER_BUFFERS registers unpinned");
	io_uring_queue_exit(&ring);
	if (write_file("/proc/sys/kernel/io_uring_unpinned_buffers", "0"))
		die("kernel.io_uring_unpinned_buffers");

	test_aliases(a, b, size, fd);
	munmap(a, size);
	munmap(b, size);
	close(fd);
	check_pins_balanced("table operations");
}

/* send_zc from an unpinned fixed buffer over TCP loopback. */
static void test_send_zc(void)
{
	size_t len = 64 * 1024;
	unsigned char *buf = map_anon(len, PROT_READ | PROT_WRITE);
	unsigned char *rcv = map_anon(len, PROT_READ | PROT_WRITE);
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);
	int lfd, tx, rx, round, res, notif, got_res, ret;
	struct io_uring ring;
	struct io_uring_cqe *cqe;
	size_t got;

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	tx = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || tx < 0 || bind(lfd, (void *)&addr, sizeof(addr)) ||
	    listen(lfd, 1) || getsockname(lfd, (void *)&addr, &alen) ||
	    connect(tx, (void *)&addr, sizeof(addr)))
		die("loopback TCP");
	rx = accept(lfd, NULL, NULL);
	if (rx < 0)
		die("accept");
	ring_init(&ring, 0);
	if (register_buf(&ring, buf, len, UNPINNED))
		die("register");
	for (round = 0; round < 2; round++) {
		/* The second round sends memory mapped after registration. */
		if (round)
			madvise(buf, len, MADV_DONTNEED);
		fill(buf, len, 20 + round);
		io_uring_prep_send_zc_fixed(io_uring_get_sqe(&ring), tx, buf, len,
					    0, 0, 0);
		io_uring_submit(&ring);
		res = notif = got_res = 0;
		/*
		 * Loopback delivery copies zerocopy frags into the receiver,
		 * so the notification does not wait for the read below.
		 */
		while (!got_res || !notif) {
			ret = io_uring_wait_cqe(&ring, &cqe);
			if (ret)
				die("wait send_zc");
			if (cqe->flags & IORING_CQE_F_NOTIF) {
				notif = 1;
			} else {
				res = cqe->res;
				got_res = 1;
			}
			io_uring_cqe_seen(&ring, cqe);
		}
		for (got = 0; res == (int)len && got < len; ) {
			ssize_t n = read(rx, rcv + got, len - got);

			if (n <= 0)
				die("recv");
			got += n;
		}
		tap(res == (int)len && same(rcv, len, 20 + round),
		    "send_zc from an unpinned fixed buffer%s: %d bytes arrive intact",
		    round ? " after MADV_DONTNEED" : "", res);
	}
	io_uring_queue_exit(&ring);
	close(tx);
	close(rx);
	close(lfd);
	munmap(buf, len);
	munmap(rcv, len);
	check_pins_balanced("send_zc");
}

/* NVMe passthrough (uring_cmd) with unpinned fixed buffers. */
static int nvme_io(struct io_uring *ring, int fd, unsigned int nsid, bool write,
		   void *buf, size_t len, int idx)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
	struct nvme_uring_cmd *cmd = (struct nvme_uring_cmd *)sqe->cmd;

	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = fd;
	sqe->cmd_op = NVME_URING_CMD_IO;
	sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
	sqe->buf_index = idx;
	cmd->opcode = write ? 0x01 : 0x02;
	cmd->nsid = nsid;
	cmd->addr = (uintptr_t)buf;
	cmd->data_len = len;
	cmd->cdw10 = 0;			/* starting LBA */
	cmd->cdw12 = len / 512 - 1;	/* blocks, zero-based */
	sqe->user_data = REQ_MARK;
	return submit_wait(ring);
}

static void test_nvme_passthrough(void)
{
	size_t len = 64 * 1024, size = 2 * len + page_size;
	unsigned char *buf;
	struct io_uring ring;
	int fd, nsid, w, r;

	if (!nvme_dev) {
		skip("NVMe passthrough with an unpinned buffer", "no NVMe device");
		return;
	}
	fd = open(nvme_dev, O_RDWR);
	if (fd < 0)
		die(nvme_dev);
	nsid = ioctl(fd, NVME_IOCTL_ID);
	buf = map_anon(size, PROT_READ | PROT_WRITE);
	ring_init(&ring, IORING_SETUP_SQE128 | IORING_SETUP_CQE32);
	if (register_buf(&ring, buf, size, UNPINNED))
		die("register");
	fill(buf, len, 30);
	w = nvme_io(&ring, fd, nsid, true, buf, len, 0);
	madvise(buf, size, MADV_DONTNEED);
	r = nvme_io(&ring, fd, nsid, false, buf + len + 512, len, 0);
	tap(w == 0 && r == 0 && same(buf + len + 512, len, 30),
	    "NVMe passthrough write and read through an unpinned buffer (%d, %d)", w, r);
	io_uring_queue_exit(&ring);
	munmap(buf, size);
	close(fd);
	check_pins_balanced("NVMe passthrough");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "blockdev", required_argument, NULL, 'b' },
		{ "ext4", required_argument, NULL, 'e' },
		{ "nvme", required_argument, NULL, 'n' },
		{}
	};
	int c, how;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'b': blockdev = optarg; break;
		case 'e': ext4_dir = optarg; break;
		case 'n': nvme_dev = optarg; break;
		default:
			fprintf(stderr, "usage: %s [--blockdev DEV] [--ext4 DIR] [--nvme NGDEV]\n",
				argv[0]);
			return 2;
		}
	}
	page_size = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);

	test_data_paths();
	test_short_read();
	for (how = DONTNEED; how <= FORK_PARENT_WRITES; how++) {
		test_coherence(how, PINNED);
		test_coherence(how, UNPINNED);
	}
	check_pins_balanced("coherence");
	test_shared_file();
	test_move_pages(PINNED);
	test_move_pages(UNPINNED);
	check_pins_balanced("move_pages");
	test_compaction(PINNED);
	test_compaction(UNPINNED);
	check_pins_balanced("compaction");
	test_memlock();
	test_bad_registration();
	test_bad_flags();
	test_bad_requests();
	test_hugetlb(PINNED);
	test_hugetlb(UNPINNED);
	check_pins_balanced("refusals and hugetlb");
	test_tables();
	test_send_zc();
	test_nvme_passthrough();
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
