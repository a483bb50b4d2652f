/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the guest test programs (not the benchmarks, see bench.h) share:
 * TAP output, bailing out, /proc and /sys files, the FOLL_PIN counters
 * of /proc/vmstat, and the OOM cases' victims: a thread that keeps the mm
 * alive, reads in flight at a block device, the OOM reaper's log line.
 * Include it after the system headers.
 *
 * A program that defines GUEST_TEST_OWN_HELPERS before including it
 * brings its own tap(), skip(), die() and write_file() (umirror-gup, whose
 * cases may report from a child process); what is here calls those.
 */
#ifndef GUEST_TEST_H
#define GUEST_TEST_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <fcntl.h>
#include <unistd.h>

/* This kernel's uapi additions, absent from liburing 2.3's header. */
#ifndef IORING_RSRC_REGISTER_UNPINNED
#define IORING_RSRC_REGISTER_UNPINNED	(1U << 1)
#endif
#ifndef IORING_RSRC_REGISTER_PINNED
#define IORING_RSRC_REGISTER_PINNED	(1U << 2)
#endif
/* move_pages(2), which glibc does not wrap */
#ifndef MPOL_MF_MOVE
#define MPOL_MF_MOVE			(1 << 1)
#endif

static int tap_n, tap_failed;

#ifdef GUEST_TEST_OWN_HELPERS
static void die(const char *what);
static int write_file(const char *path, const char *text);
#else
static inline void tap(bool ok, const char *fmt, ...)
{
	va_list ap;

	printf("%sok %d - ", ok ? "" : "not ", ++tap_n);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	tap_failed += !ok;
}

static inline void skip(const char *what, const char *why)
{
	printf("ok %d - %s # SKIP %s\n", ++tap_n, what, why);
	fflush(stdout);
}

static inline void die(const char *what)
{
	printf("Bail out! %s: %s\n", what, strerror(errno));
	exit(1);
}

/* Write @text to a /proc or /sys file; 0 or -1. */
static inline int write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (!f)
		return -1;
	if (fputs(text, f) < 0) {
		fclose(f);
		return -1;
	}
	return fclose(f) ? -1 : 0;
}
#endif /* GUEST_TEST_OWN_HELPERS */

static inline void diag(const char *fmt, ...)
{
	va_list ap;

	fputs("# ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

/* Seconds on the monotonic clock. */
static inline double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static inline void *map_anon(size_t len, int prot)
{
	void *p = mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		die("mmap");
	return p;
}

static inline long vmstat(const char *name)
{
	char key[64];
	long val;
	FILE *f = fopen("/proc/vmstat", "r");

	if (!f)
		die("/proc/vmstat");
	while (fscanf(f, "%63s %ld", key, &val) == 2) {
		if (!strcmp(key, name)) {
			fclose(f);
			return val;
		}
	}
	fclose(f);
	return -1;
}

/*
 * The FOLL_PIN counters, exact: node counters wait in per-CPU deltas of up
 * to the stat threshold until folded; stat_refresh folds them all now.
 */
static inline void pin_counts(long *acquired, long *released)
{
	static bool warned;

	if (write_file("/proc/sys/vm/stat_refresh", "1") && !warned) {
		diag("cannot write /proc/sys/vm/stat_refresh: pin counts may lag");
		warned = true;
	}
	*acquired = vmstat("nr_foll_pin_acquired");
	*released = vmstat("nr_foll_pin_released");
}

#ifdef LIB_URING_H
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

/* io_uring_register(2), -errno on failure: for what liburing 2.3 lacks. */
static inline int sys_register(int ring_fd, unsigned int op, void *arg,
			       unsigned int nr)
{
	int ret = syscall(__NR_io_uring_register, ring_fd, op, arg, nr);

	return ret < 0 ? -errno : ret;
}

/* IORING_REGISTER_BUFFERS_UPDATE of one slot with registration @flags. */
static inline int update_buf(struct io_uring *ring, unsigned int slot,
			     void *buf, size_t len, unsigned int flags)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct io_uring_rsrc_update2 up = {
		.offset = slot,
		.data = (uintptr_t)&iov,
		.nr = 1,
	};

	/* liburing 2.3 names the flags word resv */
	up.resv = flags;
	return sys_register(ring->ring_fd, IORING_REGISTER_BUFFERS_UPDATE, &up,
			    sizeof(up));
}
#endif

/*
 * A number of cgroup file @file of @dir: the file's first (memory.current)
 * without @key, else that of the line "@key N" (memory.events); -1 if none.
 */
static inline long cg_value(const char *dir, const char *file, const char *key)
{
	size_t klen = key ? strlen(key) : 0;
	char path[4096], line[128];
	long val = -1, v;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, file);
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (!key) {
			if (sscanf(line, "%ld", &v) == 1)
				val = v;
			break;
		}
		if (!strncmp(line, key, klen) && line[klen] == ' ' &&
		    sscanf(line + klen, "%ld", &v) == 1) {
			val = v;
			break;
		}
	}
	fclose(f);
	return val;
}

/*
 * The OOM cases. The victim keeps its mm alive past the kill with a
 * thread asleep, uninterruptibly, in reads of a slow device
 * (hold_mm_in_read(), the fd at @arg), so that exit_mmap() waits for the
 * read and the OOM reaper, OOM_REAPER_DELAY (2 s) after the kill, gets
 * to the memory first. It allocates towards the kill only once
 * device_reaches() saw that read, and any request the case needs in
 * flight, at the device; the kill must then come early enough in the
 * read for the reaper's turn, which the callers report.
 */
/*
 * The latest a kill may come, in seconds into the holder's 10 s read, for
 * the reaper to be judged: its 2 s delay and up to 1 s of its retries
 * (oom_reap_task()) must fit before the read ends, with a margin.
 */
#define OOM_LATEST_KILL	6.0

static inline void *hold_mm_in_read(void *arg)
{
	static char block[4096] __attribute__((aligned(4096)));

	for (;;)
		if (pread(*(int *)arg, block, sizeof(block), 0) < 0)
			return NULL;
}

/* Reads in flight at block device @dev (a /dev path), or -1. */
static inline long device_inflight(const char *dev)
{
	const char *name = strrchr(dev, '/');
	char path[256];
	long reads = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/block/%s/inflight", name ? name + 1 : dev);
	f = fopen(path, "re");
	if (f) {
		if (fscanf(f, "%ld", &reads) != 1)
			reads = -1;
		fclose(f);
	}
	return reads;
}

/*
 * Until exactly @want reads are in flight at block device @dev, for at
 * most @seconds; false at once if the count cannot be read. Exactly: a
 * read of somebody else's would otherwise pass for the one waited for.
 */
static inline bool device_reaches(const char *dev, long want, double seconds)
{
	double t0 = now();
	long reads;

	while ((reads = device_inflight(dev)) != want) {
		if (reads < 0 || now() - t0 > seconds)
			return false;
		usleep(10000);
	}
	return true;
}

/* /dev/kmsg opened at its end, for oom_reaped(); -1 on error. */
static inline int kmsg_from_now(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK);

	if (fd >= 0 && lseek(fd, 0, SEEK_END) < 0) {
		close(fd);
		fd = -1;
	}
	return fd;
}

/*
 * Whether the kernel logged, since kmsg_from_now() returned @kmsg, that
 * the OOM reaper reaped @pid (a pid of an earlier process does not
 * count); closes @kmsg.
 */
static inline bool oom_reaped(int kmsg, pid_t pid)
{
	char rec[2048], want[64];
	bool found = false;
	ssize_t n;

	if (kmsg < 0)
		return false;
	snprintf(want, sizeof(want), "oom_reaper: reaped process %d ", pid);
	while ((n = read(kmsg, rec, sizeof(rec) - 1)) > 0 || (n < 0 && errno == EPIPE)) {
		if (n <= 0)
			continue;
		rec[n] = 0;
		found |= strstr(rec, want) != NULL;
	}
	close(kmsg);
	return found;
}

#endif /* GUEST_TEST_H */
