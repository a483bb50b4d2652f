// SPDX-License-Identifier: GPL-2.0
/*
 * GUP's rules as umirror must keep them, through the test_umirror debugfs
 * file (lib/test_umirror.c, see its header comment for the commands): a
 * mirror reaches a process's memory as pin_user_pages() and the uaccess
 * routines would, and its transient pins follow FOLL_PIN's rules. Prints
 * TAP.
 *
 *   umirror-gup [--ext4 DIR] [--cgroup DIR] [--reap-cgroup DIR] [--swap]
 *
 * DIR for --ext4 is a directory on ext4; for --cgroup and --reap-cgroup a
 * cgroup v2 directory with memory.max 32M and memory.swap.max 0, one for
 * the OOM case, one for the OOM reaper case; --swap says that swap is on,
 * for the pageout cases. Cases whose facility is missing are reported as
 * skipped. The cases:
 *
 *  - read-only pins of anonymous pages a forked child shares (a THP mapped
 *    by PTEs after a partial MADV_DONTNEED, a PMD-mapped THP, a 64 KiB
 *    mTHP, small pages) must make the pages exclusive first: after the
 *    parent writes them, the pinned pages are still the ones it maps
 *    ("compare" gives 0) and the child still reads its old data;
 *  - a fork while a writable pin is held gives the child a copy, so that
 *    what the "device" writes lands in the parent only;
 *  - KSM pages are unshared for a read-only pin, COWed for a writable one;
 *  - a hugetlb pin of 2 MiB counts 512 pins, and releases as many;
 *  - invalidations elsewhere in a 1 GiB mirror never fail a fault (EBUSY);
 *  - writes through a mirror dirty what they write (shmem, a clean
 *    swap-cache page, an MADV_FREE page, an ext4 page after writeback), so
 *    that reclaim and writeback keep the data;
 *  - faults on userfaultfd-armed pages wait for the handler;
 *  - protection keys are checked with the calling thread's rights;
 *  - a memcg OOM fails a fault with ENOMEM;
 *  - the OOM reaper zaps a killed process's mirrored memory, half of it
 *    held by pins, through a non-blockable invalidation: the process dies
 *    of SIGKILL, the reaper frees all but the pinned pages while a thread
 *    keeps the process from exiting, and the rest comes back when it exits;
 *  - a poisoned page fails a read with an error.
 *
 * After each case the FOLL_PIN counters of /proc/vmstat must balance.
 * Cases that may hang or die, or must run in another memcg, run in a
 * child process that reports its TAP lines back through shared memory.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/kernel-page-flags.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* tap(), skip(), die() and write_file() are this program's own, below. */
#define GUEST_TEST_OWN_HELPERS
#include "guest-test.h"

#define RUN_FILE	"/sys/kernel/debug/test_umirror/run"
#define THP_64K		"/sys/kernel/mm/transparent_hugepage/hugepages-64kB/enabled"
#define KSM_DIR		"/sys/kernel/mm/ksm/"

#define PAGE_SZ		4096UL
#define SZ_64K		(64UL << 10)
#define SZ_256K		(256UL << 10)
#define SZ_2M		(2UL << 20)
#define SZ_4M		(4UL << 20)
#define SZ_6M		(6UL << 20)
#define SZ_8M		(8UL << 20)
#define SZ_16M		(16UL << 20)
#define SZ_256M		(256UL << 20)
#define SZ_512M		(512UL << 20)
#define SZ_1G		(1UL << 30)

#define PF(bit)		(1ULL << (bit))

static int um_fd = -1;
static const char *ext4_dir, *cgroup_dir, *reap_cgroup_dir;
static bool have_swap;

/*
 * A case run in a child process (run_in_child()) reports its TAP lines
 * here, in memory shared with the parent, which prints them.
 */
#define REPORT_LINES	8
struct report {
	int nr;
	bool done;		/* the case got past the point where it may die */
	char stage[64];		/* what it was doing, for a child that died */
	struct {
		bool ok;
		bool skipped;
		char desc[400];
	} line[REPORT_LINES];
};
static struct report *report;	/* set in such a child only */

static void vtap(bool ok, bool skipped, const char *fmt, va_list ap)
{
	char desc[400];

	vsnprintf(desc, sizeof(desc), fmt, ap);
	if (report) {
		if (report->nr < REPORT_LINES) {
			report->line[report->nr].ok = ok;
			report->line[report->nr].skipped = skipped;
			snprintf(report->line[report->nr].desc,
				 sizeof(report->line[0].desc), "%s", desc);
		}
		report->nr++;
		return;
	}
	tap_n++;
	if (skipped)
		printf("ok %d - %s\n", tap_n, desc);
	else
		printf("%sok %d - %s\n", ok ? "" : "not ", tap_n, desc);
	fflush(stdout);
	tap_failed += !ok;
}

static void tap(bool ok, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vtap(ok, false, fmt, ap);
	va_end(ap);
}

/* A skipped test: @fmt gives "description # SKIP reason". */
static void skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vtap(true, true, fmt, ap);
	va_end(ap);
}

static void die(const char *what)
{
	int err = errno;

	if (report) {
		/* In a child: fail its case, not the whole program. */
		tap(false, "%s: setup failed: %s: %s", report->stage, what,
		    strerror(err));
		_exit(1);
	}
	printf("Bail out! %s: %s\n", what, strerror(err));
	exit(1);
}

/* The name of a positive errno ("EFAULT"), or "success" for 0. */
static const char *ename(int err)
{
	const char *name = err ? strerrorname_np(err) : "success";

	return name ? name : "unknown errno";
}

/* ---- The driver ---- */

static char um_error[200];	/* what the last failing command was, and why */

/*
 * Run one driver command; 0 or -errno. With @value, read the VALUE the
 * command left ("NSECS ITERATIONS VALUE").
 */
static int um(uint64_t *value, const char *fmt, ...)
{
	char cmd[128], out[96];
	unsigned long long v;
	va_list ap;
	ssize_t n;
	int err;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	if (write(um_fd, cmd, strlen(cmd)) < 0) {
		err = errno;
		snprintf(um_error, sizeof(um_error), "\"%s\" failed with %s",
			 cmd, ename(err));
		return -err;
	}
	if (!value)
		return 0;
	n = pread(um_fd, out, sizeof(out) - 1, 0);
	if (n <= 0)
		die("read " RUN_FILE);
	out[n] = '\0';
	if (sscanf(out, "%*u %*u %llu", &v) != 1) {
		errno = EPROTO;
		die("parse " RUN_FILE);
	}
	*value = v;
	return 0;
}

/*
 * One command on the driver file @fd, from any thread: 0 or -errno. It
 * leaves um_error alone, which belongs to the thread that uses um().
 */
static int um_cmd(int fd, const char *fmt, ...)
{
	char cmd[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return write(fd, cmd, strlen(cmd)) < 0 ? -errno : 0;
}

static void um_open(void)
{
	um_fd = open(RUN_FILE, O_RDWR | O_CLOEXEC);
	if (um_fd < 0 && report)
		die("open " RUN_FILE);
	if (um_fd < 0) {
		printf("Bail out! no %s (CONFIG_TEST_UMIRROR, debugfs): %s\n",
		       RUN_FILE, strerror(errno));
		exit(1);
	}
}

/* Release held pins, if any, keeping um_error for the failure it tells. */
static void um_release(void)
{
	char saved[sizeof(um_error)];

	memcpy(saved, um_error, sizeof(saved));
	um(NULL, "release");
	memcpy(um_error, saved, sizeof(saved));
}

static uint64_t fnv1a(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	uint64_t hash = 0xcbf29ce484222325ULL;

	while (len--) {
		hash ^= *p++;
		hash *= 0x100000001b3ULL;
	}
	return hash;
}

/* The hash the driver's read gives for @len bytes of value @b. */
static uint64_t fnv1a_of(unsigned char b, size_t len)
{
	unsigned char *buf = malloc(len);
	uint64_t hash;

	if (!buf)
		die("malloc");
	memset(buf, b, len);
	hash = fnv1a(buf, len);
	free(buf);
	return hash;
}

/* ---- Files and counters ---- */

static int write_file(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, val, strlen(val)) < 0)
		err = -errno;
	close(fd);
	return err;
}

static int read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, size - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* A small file's lines joined by ";", as a diagnostic. */
static void one_line(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, size - 1);
	char *p;

	if (fd >= 0)
		close(fd);
	if (n < 0)
		n = snprintf(buf, size, "(%s)", strerror(errno));
	buf[n] = '\0';
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	for (p = buf; (p = strchr(p, '\n')); p++)
		*p = ';';
}

/* Every FOLL_PIN taken has been released (a few seconds of slack). */
static void check_pins_balanced(const char *after)
{
	long acq = 0, rel = 0;
	int i;

	for (i = 0; i < 50; i++) {
		pin_counts(&acq, &rel);
		if (acq == rel)
			break;
		usleep(100000);
	}
	tap(acq == rel, "pins balanced after %s (nr_foll_pin_acquired %ld, nr_foll_pin_released %ld)",
	    after, acq, rel);
}

/* ---- Memory ---- */

/* Anonymous private memory of @len bytes at an @align-aligned address. */
static unsigned char *map_aligned(size_t len, size_t align)
{
	unsigned char *raw, *p;
	size_t size = len + align;

	raw = mmap(NULL, size, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		die("mmap");
	p = (unsigned char *)(((uintptr_t)raw + align - 1) & ~(align - 1));
	if (p > raw)
		munmap(raw, p - raw);
	if (raw + size > p + len)
		munmap(p + len, raw + size - (p + len));
	return p;
}

/* Byte @i of pattern @seed: differs from page to page and within a page. */
static unsigned char pattern(unsigned int seed, size_t i)
{
	return seed * 131 + i * 7 + (i >> 12) * 29;
}

static void fill(unsigned char *buf, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = pattern(seed, i);
}

/* Pages of [base + from, base + from + len) that do not hold pattern @seed. */
static unsigned long bad_pages(const unsigned char *base, size_t from,
			       size_t len, unsigned int seed)
{
	unsigned long bad = 0;
	size_t i, end = from + len;

	for (i = from; i < end; i += PAGE_SZ) {
		size_t j;

		for (j = i; j < i + PAGE_SZ && j < end; j++)
			if (base[j] != pattern(seed, j))
				break;
		bad += j < i + PAGE_SZ && j < end;
	}
	return bad;
}

static unsigned long bytes_not(const unsigned char *buf, size_t len,
			       unsigned char b)
{
	unsigned long n = 0;
	size_t i;

	for (i = 0; i < len; i++)
		n += buf[i] != b;
	return n;
}

/* Read every page with the CPU: read faults, or swap-ins. */
static void touch_read(const unsigned char *buf, size_t len)
{
	volatile unsigned char sink;
	size_t i;

	for (i = 0; i < len; i += PAGE_SZ)
		sink = buf[i];
	(void)sink;
}

/* Pages of the range that mincore() says are in memory. */
static unsigned long resident(const void *addr, size_t len)
{
	unsigned char vec[len / PAGE_SZ];
	unsigned long i, n = 0;

	if (mincore((void *)addr, len, vec))
		die("mincore");
	for (i = 0; i < len / PAGE_SZ; i++)
		n += vec[i] & 1;
	return n;
}

/*
 * /proc/kpageflags and PFNs of the @n pages mapped at @addr; 0 for both
 * where no page is mapped (root reads PFNs from /proc/self/pagemap).
 */
static void page_flags(const void *addr, unsigned long n, uint64_t *flags,
		       uint64_t *pfns)
{
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	int kf = open("/proc/kpageflags", O_RDONLY | O_CLOEXEC);
	unsigned long i;
	uint64_t ent;

	for (i = 0; i < n; i++) {
		flags[i] = pfns[i] = 0;
		if (pm < 0 || kf < 0)
			continue;
		if (pread(pm, &ent, sizeof(ent),
			  ((uintptr_t)addr / PAGE_SZ + i) * sizeof(ent)) != sizeof(ent))
			continue;
		if (!(ent & (1ULL << 63)))
			continue;
		pfns[i] = ent & ((1ULL << 55) - 1);
		if (pfns[i] && pread(kf, &flags[i], sizeof(flags[i]),
				     pfns[i] * sizeof(flags[i])) != sizeof(flags[i]))
			flags[i] = 0;
	}
	if (pm >= 0)
		close(pm);
	if (kf >= 0)
		close(kf);
}

/* Mapped pages of the @n at @addr whose flags have all of @set, none of @clear. */
static unsigned long count_pages(const void *addr, unsigned long n,
				 uint64_t set, uint64_t clear)
{
	uint64_t *flags = calloc(n, sizeof(*flags)), *pfns = calloc(n, sizeof(*pfns));
	unsigned long i, count = 0;

	if (!flags || !pfns)
		die("calloc");
	page_flags(addr, n, flags, pfns);
	for (i = 0; i < n; i++)
		count += pfns[i] && (flags[i] & set) == set && !(flags[i] & clear);
	free(flags);
	free(pfns);
	return count;
}

/*
 * Pages of the large anonymous folio whose head is mapped at @addr that
 * follow it, contiguous, in the next @max pages: 1 for a small page, 0 if
 * nothing (or no PFN) is there.
 */
static unsigned long folio_pages_at(const void *addr, unsigned long max)
{
	uint64_t *flags = calloc(max, sizeof(*flags)), *pfns = calloc(max, sizeof(*pfns));
	unsigned long n = 0;

	if (!flags || !pfns)
		die("calloc");
	page_flags(addr, max, flags, pfns);
	if (!pfns[0])
		goto out;
	n = 1;
	if (!(flags[0] & PF(KPF_THP)) || !(flags[0] & PF(KPF_COMPOUND_HEAD)))
		goto out;
	while (n < max && pfns[n] == pfns[0] + n &&
	       (flags[n] & PF(KPF_COMPOUND_TAIL)))
		n++;
out:
	free(flags);
	free(pfns);
	return n;
}

/* AnonHugePages (PMD-mapped THP) of the VMA holding @addr, in KiB. */
static long anon_huge_kib(const void *addr)
{
	unsigned long start, end, a = (uintptr_t)addr;
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false;
	long kib = -1;

	if (!f)
		die("/proc/self/smaps");
	while (fgets(line, sizeof(line), f)) {
		/* Field names never parse as "hex-hex": only VMA headers do. */
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = a >= start && a < end;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

/* ---- Children ---- */

/*
 * A forked child that keeps the parent's memory as it was at the fork and
 * answers each request with how many pages of its copy of
 * [base + from, base + from + len) no longer hold pattern @seed.
 */
struct kid {
	pid_t pid;
	int req;	/* parent to child */
	int ans;	/* child to parent */
};

static void kid_start(struct kid *k, const unsigned char *base, size_t from,
		      size_t len, unsigned int seed)
{
	int req[2], ans[2];
	uint32_t bad;
	char c;

	if (pipe(req) || pipe(ans))
		die("pipe");
	fflush(stdout);
	k->pid = fork();
	if (k->pid < 0)
		die("fork");
	if (!k->pid) {
		close(req[1]);
		close(ans[0]);
		while (read(req[0], &c, 1) == 1) {
			bad = bad_pages(base, from, len, seed);
			if (write(ans[1], &bad, sizeof(bad)) != sizeof(bad))
				break;
		}
		_exit(0);
	}
	close(req[0]);
	close(ans[1]);
	k->req = req[1];
	k->ans = ans[0];
}

/* The child's count of changed pages now, or -1 if it did not answer. */
static long kid_ask(struct kid *k)
{
	uint32_t bad;

	if (write(k->req, "?", 1) != 1 ||
	    read(k->ans, &bad, sizeof(bad)) != sizeof(bad))
		return -1;
	return bad;
}

static void kid_end(struct kid *k)
{
	close(k->req);
	close(k->ans);
	waitpid(k->pid, NULL, 0);
}

static void stage(const char *what)
{
	if (report)
		snprintf(report->stage, sizeof(report->stage), "%s", what);
}

/* Print the TAP lines a child reported. */
static void report_print(const struct report *r)
{
	int i;

	for (i = 0; i < r->nr && i < REPORT_LINES; i++) {
		if (r->line[i].skipped)
			skip("%s", r->line[i].desc);
		else
			tap(r->line[i].ok, "%s", r->line[i].desc);
	}
}

/*
 * Run @fn in a child with its own open file of the driver (so its own
 * mirror, of its own mm), killed by SIGALRM after @timeout seconds; print
 * the TAP lines it reported. A child that dies before it reported its
 * results (report->done) fails the case.
 */
static void run_in_child(const char *what, void (*fn)(void), unsigned int timeout)
{
	struct report *r;
	int status;
	pid_t pid;

	r = mmap(NULL, sizeof(*r), PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		die("mmap");
	/* Fault it in here: charged to this memcg, not the child's. */
	memset(r, 0, sizeof(*r));
	snprintf(r->stage, sizeof(r->stage), "%s", what);
	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		report = r;
		close(um_fd);
		um_open();
		alarm(timeout);
		fn();
		r->done = true;
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid)
		die("waitpid");
	report_print(r);
	if (WIFSIGNALED(status) && !r->done)
		tap(false, "%s: the child was killed by %s%s while at: %s",
		    what, strsignal(WTERMSIG(status)),
		    WTERMSIG(status) == SIGALRM ? " (timed out)" : "", r->stage);
	else if (WIFSIGNALED(status))
		diag("%s: the child was killed by %s after it reported", what,
		     strsignal(WTERMSIG(status)));
	else if (!r->done && !r->nr)
		tap(false, "%s: the child exited with status %d and reported nothing",
		    what, WEXITSTATUS(status));
	munmap(r, sizeof(*r));
}

/* ---- a-d: read-only pins of pages shared with a child ---- */

struct cow_case {
	const char *name;
	size_t len;		/* bytes mapped */
	size_t align;		/* their alignment */
	int advice;		/* MADV_HUGEPAGE, MADV_NOHUGEPAGE, or 0 */
	size_t zap;		/* bytes zapped at the start before the fork */
	unsigned long folio;	/* pages of the large folio wanted at the start */
	bool pmd;		/* that folio must be PMD-mapped */
};

/* Whether the memory is what the case needs; if not, the case is skipped. */
static bool cow_memory_ok(const struct cow_case *c, const unsigned char *buf)
{
	unsigned long n;
	long kib;

	if (c->folio) {
		n = folio_pages_at(buf, c->folio);
		if (n < c->folio) {
			skip("%s # SKIP no %lu KiB folio obtained (%lu pages of one at the start)",
			     c->name, c->folio * PAGE_SZ >> 10, n);
			return false;
		}
	}
	if (c->pmd) {
		kib = anon_huge_kib(buf);
		if (kib < (long)(SZ_2M >> 10)) {
			skip("%s # SKIP not PMD-mapped (AnonHugePages %ld kB)",
			     c->name, kib);
			return false;
		}
	}
	return true;
}

/*
 * The key regression test: a read-only pin of anonymous pages that a child
 * shares after fork() must make them exclusive to the parent first, as
 * pin_user_pages() does (FAULT_FLAG_UNSHARE). Otherwise the pin holds the
 * shared page, the parent's next write COWs away from it, and the "device"
 * reads a page the parent no longer maps: "compare" counts those pages.
 * Whether a page must be unshared is a property of the page, not of its
 * folio: after a partial MADV_DONTNEED splits the PMD, the head's flag is
 * stale (the head is no longer mapped).
 */
static void test_cow_unshare(const struct cow_case *c)
{
	unsigned char *buf = map_aligned(c->len, c->align);
	unsigned char *span = buf + c->zap;
	size_t len = c->len - c->zap;
	unsigned long i, npages = len / PAGE_SZ;
	uint64_t nr_bv = 0, differ = 0;
	struct kid kid;
	long bad;
	int ret;

	if (c->advice && madvise(buf, c->len, c->advice))
		die("madvise");
	fill(buf, c->len, 1);
	if (!cow_memory_ok(c, buf))
		goto out;
	if (c->zap) {
		if (madvise(buf, c->zap, MADV_DONTNEED))
			die("MADV_DONTNEED");
		diag("%s: after MADV_DONTNEED of %zu bytes: AnonHugePages %ld kB, %lu of %lu pages still in a large folio",
		     c->name, c->zap, anon_huge_kib(buf),
		     count_pages(span, npages, PF(KPF_THP), 0), npages);
	}
	kid_start(&kid, buf, c->zap, len, 1);

	ret = um(NULL, "mirror %lx %zu 0", (unsigned long)buf, c->len);
	if (!ret)
		ret = um(&nr_bv, "hold %lx %zu 0", (unsigned long)span, len);
	if (!ret) {
		/* A write the child must not see, and that must not COW. */
		for (i = 0; i < npages; i++)
			span[i * PAGE_SZ] ^= 0xff;
		ret = um(&differ, "compare");
	}
	um_release();
	if (ret)
		tap(false, "%s: read-only pin of pages shared with a child: %s",
		    c->name, um_error);
	else
		tap(differ == 0, "%s: read-only pin of %lu pages shared with a child, then the parent writes them: %" PRIu64 " pinned pages no longer mapped (want 0; %" PRIu64 " bvecs)",
		    c->name, npages, differ, nr_bv);

	bad = kid_ask(&kid);
	kid_end(&kid);
	if (bad < 0)
		tap(false, "%s: the child did not answer", c->name);
	else
		tap(bad == 0, "%s: the child still reads its old data after the parent's writes (%ld of %lu pages changed, want 0)",
		    c->name, bad, npages);
out:
	munmap(buf, c->len);
}

static void test_thp_pte(void)
{
	static const struct cow_case c = {
		.name = "THP mapped by PTEs after a partial MADV_DONTNEED",
		.len = SZ_2M, .align = SZ_2M, .advice = MADV_HUGEPAGE,
		.zap = PAGE_SZ, .folio = SZ_2M / PAGE_SZ, .pmd = true,
	};

	test_cow_unshare(&c);
}

static void test_thp_pmd(void)
{
	static const struct cow_case c = {
		.name = "PMD-mapped THP",
		.len = SZ_2M, .align = SZ_2M, .advice = MADV_HUGEPAGE,
		.folio = SZ_2M / PAGE_SZ, .pmd = true,
	};

	test_cow_unshare(&c);
}

/* The word in brackets of a THP "enabled" file: "always [inherit] never". */
static bool thp_setting(const char *path, char *word, size_t size)
{
	char buf[128], *open, *close;

	if (read_file(path, buf, sizeof(buf)))
		return false;
	open = strchr(buf, '[');
	close = open ? strchr(open, ']') : NULL;
	if (!close || (size_t)(close - open) > size)
		return false;
	snprintf(word, size, "%.*s", (int)(close - open - 1), open + 1);
	return true;
}

static void test_mthp(void)
{
	static const struct cow_case c = {
		.name = "64 KiB mTHP after a partial MADV_DONTNEED",
		.len = SZ_256K, .align = SZ_64K,
		.zap = PAGE_SZ, .folio = SZ_64K / PAGE_SZ,
	};
	char old[32];
	int ret;

	if (!thp_setting(THP_64K, old, sizeof(old))) {
		skip("%s # SKIP no %s", c.name, THP_64K);
		return;
	}
	ret = write_file(THP_64K, "always");
	if (ret) {
		skip("%s # SKIP cannot set %s: %s", c.name, THP_64K, ename(-ret));
		return;
	}
	test_cow_unshare(&c);
	ret = write_file(THP_64K, old);
	if (ret)
		diag("could not restore %s to %s: %s", THP_64K, old, ename(-ret));
}

static void test_small_pages(void)
{
	static const struct cow_case c = {
		.name = "small pages",
		.len = SZ_64K, .align = PAGE_SZ, .advice = MADV_NOHUGEPAGE,
	};

	test_cow_unshare(&c);
}

/* ---- e: fork while a writable pin is held ---- */

/*
 * Pages pinned when the process forks are copied for the child at once
 * (MMF_HAS_PINNED, folio_maybe_dma_pinned()), so that the device's write
 * through the pin lands in the parent, and the child keeps what it had.
 */
static void test_fork_while_pinned(void)
{
	const char *name = "fork with a writable pin held";
	size_t len = SZ_64K;
	unsigned char *buf = map_aligned(len, PAGE_SZ);
	uint64_t differ = 0;
	long at_fork, after;
	unsigned long wrong;
	struct kid kid;
	int ret;

	if (madvise(buf, len, MADV_NOHUGEPAGE))
		die("madvise");
	fill(buf, len, 5);
	ret = um(NULL, "mirror %lx %zu 1", (unsigned long)buf, len);
	if (!ret)
		ret = um(NULL, "hold %lx %zu 1", (unsigned long)buf, len);
	if (ret) {
		tap(false, "%s: %s", name, um_error);
		um_release();
		munmap(buf, len);
		return;
	}
	kid_start(&kid, buf, 0, len, 5);
	at_fork = kid_ask(&kid);
	ret = um(&differ, "compare");
	if (!ret)
		ret = um(NULL, "fill %u", 0x5a);
	um_release();
	after = kid_ask(&kid);
	kid_end(&kid);

	wrong = bytes_not(buf, len, 0x5a);
	if (ret)
		tap(false, "%s: %s", name, um_error);
	else
		tap(differ == 0 && wrong == 0, "%s: the device's fill reaches the parent (%" PRIu64 " pinned pages not mapped after the fork, want 0; %lu of %zu bytes not 0x5a, want 0)",
		    name, differ, wrong, len);
	tap(at_fork == 0 && after == 0, "%s: the child keeps its own copy (%ld pages changed at the fork, %ld after the fill; want 0, 0; -1 is no answer)",
	    name, at_fork, after);
	munmap(buf, len);
}

/* ---- f: KSM ---- */

struct ksm_saved {
	char run[16], pages_to_scan[16], sleep_millisecs[16];
};

static int ksm_save(struct ksm_saved *s)
{
	int ret;

	ret = read_file(KSM_DIR "run", s->run, sizeof(s->run));
	if (!ret)
		ret = read_file(KSM_DIR "pages_to_scan", s->pages_to_scan,
				sizeof(s->pages_to_scan));
	if (!ret)
		ret = read_file(KSM_DIR "sleep_millisecs", s->sleep_millisecs,
				sizeof(s->sleep_millisecs));
	return ret;
}

/* Scan fast: two identical pages merge within a second or two. */
static int ksm_start(void)
{
	int ret;

	ret = write_file(KSM_DIR "pages_to_scan", "1000");
	if (!ret)
		ret = write_file(KSM_DIR "sleep_millisecs", "10");
	if (!ret)
		ret = write_file(KSM_DIR "run", "1");
	return ret;
}

static void ksm_restore(const struct ksm_saved *s)
{
	/* 2 unmerges every KSM page; then back to what it was. */
	write_file(KSM_DIR "run", "2");
	write_file(KSM_DIR "run", s->run);
	write_file(KSM_DIR "pages_to_scan", s->pages_to_scan);
	write_file(KSM_DIR "sleep_millisecs", s->sleep_millisecs);
}

/* Both pages map one KSM page. */
static bool ksm_merged(const unsigned char *buf)
{
	uint64_t flags[2], pfns[2];

	page_flags(buf, 2, flags, pfns);
	return pfns[0] && pfns[0] == pfns[1] && (flags[0] & PF(KPF_KSM));
}

static long ksm_merging_pages(void)
{
	char buf[32];

	return read_file("/proc/self/ksm_merging_pages", buf, sizeof(buf)) ? -1 : atol(buf);
}

/*
 * A KSM page is never exclusive: a read-only pin must unshare it (copy),
 * a writable one must COW it, and neither may let the device reach the
 * KSM page that other mappings still share.
 */
static void ksm_pins(unsigned char *buf)
{
	uint64_t differ = 0;
	unsigned long p0, p1;
	int ret;

	ret = um(NULL, "mirror %lx %lu 1", (unsigned long)buf, 2 * PAGE_SZ);
	if (!ret)
		ret = um(NULL, "hold %lx %lu 0", (unsigned long)buf, PAGE_SZ);
	if (!ret) {
		memset(buf, 0x44, PAGE_SZ);
		ret = um(&differ, "compare");
	}
	um_release();
	if (ret)
		tap(false, "KSM: read-only pin of a KSM page: %s", um_error);
	else
		tap(differ == 0, "KSM: read-only pin of a KSM page, then a CPU write: %" PRIu64 " pinned pages no longer mapped (want 0)",
		    differ);

	ret = um(NULL, "hold %lx %lu 1", (unsigned long)(buf + PAGE_SZ), PAGE_SZ);
	if (!ret)
		ret = um(NULL, "fill %u", 0x77);
	um_release();
	p1 = bytes_not(buf + PAGE_SZ, PAGE_SZ, 0x77);
	p0 = bytes_not(buf, PAGE_SZ, 0x44);
	if (ret)
		tap(false, "KSM: writable pin of a KSM page: %s", um_error);
	else
		tap(!p1 && !p0, "KSM: writable pin of a KSM page, device fills 0x77: %lu bytes of page 1 not 0x77, %lu of page 0 not the CPU's 0x44 (want 0, 0)",
		    p1, p0);
}

static void test_ksm(void)
{
	unsigned char *buf;
	struct ksm_saved saved;
	double start;
	bool merged = false;
	int ret;

	if (access(KSM_DIR "run", F_OK)) {
		skip("KSM # SKIP no %srun", KSM_DIR);
		return;
	}
	ret = ksm_save(&saved);
	if (ret) {
		skip("KSM # SKIP cannot read %s: %s", KSM_DIR, ename(-ret));
		return;
	}
	ret = ksm_start();
	if (ret) {
		skip("KSM # SKIP cannot start ksmd: %s", ename(-ret));
		ksm_restore(&saved);
		return;
	}
	buf = map_aligned(2 * PAGE_SZ, PAGE_SZ);
	memset(buf, 0x33, 2 * PAGE_SZ);
	if (madvise(buf, 2 * PAGE_SZ, MADV_MERGEABLE)) {
		skip("KSM # SKIP MADV_MERGEABLE: %s", strerror(errno));
		goto out;
	}
	start = now();
	while (!(merged = ksm_merged(buf)) && now() - start < 30)
		usleep(50000);
	diag("KSM: %s after %.1f s (ksm_merging_pages %ld)",
	     merged ? "merged" : "NOT merged", now() - start,
	     ksm_merging_pages());
	if (!merged) {
		skip("KSM # SKIP the two pages were not merged in 30 s");
		goto out;
	}
	/* Keep ksmd from merging again what the pins unshare. */
	write_file(KSM_DIR "run", "0");
	ksm_pins(buf);
out:
	munmap(buf, 2 * PAGE_SZ);
	ksm_restore(&saved);
}

/* ---- g: hugetlb ---- */

/* A pin of a 2 MiB hugetlb page is 512 page pins, and as many releases. */
static void hugetlb_hold(unsigned char *buf, int write)
{
	long a0, r0, a1, r1, a2, r2;
	uint64_t nr_bv = 0, differ = 0;
	int ret;

	pin_counts(&a0, &r0);
	ret = um(&nr_bv, "hold %lx %lu %d", (unsigned long)buf, SZ_2M, write);
	pin_counts(&a1, &r1);
	if (!ret)
		ret = um(&differ, "compare");
	um_release();
	pin_counts(&a2, &r2);
	if (ret)
		tap(false, "hugetlb: %s pin of 2 MiB: %s",
		    write ? "writable" : "read-only", um_error);
	else
		/*
		 * The counters are global: a pin elsewhere in the guest may
		 * come or go meanwhile (seen: one), so at least 512 each way.
		 */
		tap(a1 - a0 >= 512 && r2 - r1 >= 512 && differ == 0,
		    "hugetlb: %s pin of 2 MiB: %" PRIu64 " bvec(s), acquired +%ld while held (want >= 512), %" PRIu64 " pages not mapped (want 0), released +%ld after release (want >= 512)",
		    write ? "writable" : "read-only", nr_bv, a1 - a0, differ,
		    r2 - r1);
}

static void test_hugetlb(void)
{
	unsigned char *buf;
	int ret;

	buf = mmap(NULL, SZ_2M, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (buf == MAP_FAILED) {
		skip("hugetlb # SKIP no 2 MiB hugetlb page (vm.nr_hugepages?): %s",
		     strerror(errno));
		return;
	}
	memset(buf, 0x3c, SZ_2M);
	ret = um(NULL, "mirror %lx %lu 1", (unsigned long)buf, SZ_2M);
	if (ret) {
		tap(false, "hugetlb: %s", um_error);
	} else {
		hugetlb_hold(buf, 0);
		hugetlb_hold(buf, 1);
	}
	munmap(buf, SZ_2M);
}

/* ---- h: invalidations elsewhere never fail a fault ---- */

struct churn {
	unsigned char *base;
	size_t len;
	volatile bool stop;
	unsigned long n;	/* MADV_DONTNEEDs done */
	int err;
};

/* Zap single pages of the mirror's second half as fast as possible. */
static void *churn_thread(void *arg)
{
	struct churn *c = arg;
	unsigned long i, pages = c->len / PAGE_SZ;
	unsigned char *p;

	for (i = 0; !c->stop; i++) {
		p = c->base + (i % pages) * PAGE_SZ;
		*p = 1;		/* something to zap */
		if (madvise(p, PAGE_SZ, MADV_DONTNEED)) {
			c->err = errno;
			break;
		}
		c->n++;
	}
	return NULL;
}

/*
 * A fault must retry on invalidations of its own pages only: one of a
 * large mirror that lands elsewhere must neither fail it (EBUSY) nor keep
 * it from finishing. Each round re-faults 512 pages after a zap, and the
 * read must see the zeroes the zap left, not stale pages.
 */
static void test_no_spurious_ebusy(void)
{
	struct churn c = { .len = SZ_512M };
	unsigned long rounds = 0, stale = 0, nerr = 0, errs[256] = { 0 };
	uint64_t zero_hash = fnv1a_of(0, SZ_2M), v;
	char errstr[256] = "none";
	unsigned char *buf;
	pthread_t thread;
	double start;
	size_t off;
	int ret, e;

	buf = mmap(NULL, SZ_1G, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap 1 GiB");
	/* Small pages: each zap is one page, each fault 512. */
	madvise(buf, SZ_1G, MADV_NOHUGEPAGE);
	ret = um(NULL, "mirror %lx %lu 1", (unsigned long)buf, SZ_1G);
	if (ret) {
		tap(false, "no spurious EBUSY: %s", um_error);
		munmap(buf, SZ_1G);
		return;
	}
	c.base = buf + SZ_512M;
	if (pthread_create(&thread, NULL, churn_thread, &c))
		die("pthread_create");
	for (start = now(); now() - start < 3; rounds++) {
		memset(buf, 0xa5, SZ_2M);
		if (madvise(buf, SZ_2M, MADV_DONTNEED))
			die("MADV_DONTNEED");
		ret = um(NULL, "fault %lx %lu 1", (unsigned long)buf, SZ_2M);
		if (ret) {
			errs[-ret < 256 ? -ret : 0]++;
			nerr++;
		}
		ret = um(&v, "read %lx %lu", (unsigned long)buf, SZ_2M);
		if (ret) {
			errs[-ret < 256 ? -ret : 0]++;
			nerr++;
		} else {
			stale += v != zero_hash;
		}
	}
	c.stop = true;
	pthread_join(thread, NULL);

	for (e = 0, off = 0; e < 256 && off < sizeof(errstr) - 32; e++)
		if (errs[e])
			off += snprintf(errstr + off, sizeof(errstr) - off, "%s%s x%lu",
					off ? ", " : "", ename(e), errs[e]);
	if (c.err)
		diag("the churn thread's MADV_DONTNEED failed: %s", ename(c.err));
	tap(rounds && c.n && !nerr && !stale && !c.err,
	    "no spurious EBUSY: %lu rounds of fault+read of 512 pages, %lu MADV_DONTNEEDs elsewhere in the 1 GiB mirror; failed commands: %s; reads not all zero: %lu (want no failure, 0)",
	    rounds, c.n, errstr, stale);
	munmap(buf, SZ_1G);
}

/* ---- i: dirtying ---- */

/*
 * One line for a dirtying case. The data must have survived reclaim or
 * writeback. The case proves something only if @pre pages were clean
 * before the mirror wrote them, and (@out >= 0) if MADV_PAGEOUT then took
 * @out pages; if not, it is skipped. @out is -1 where nothing was paged
 * out.
 */
static void dirty_result(const char *name, int ret, unsigned long wrong,
			 unsigned char b, unsigned long pre, const char *pre_what,
			 long out)
{
	char paged[32] = "";

	if (out >= 0)
		snprintf(paged, sizeof(paged), ", %ld paged out", out);
	if (ret)
		tap(false, "%s: %s", name, um_error);
	else if (wrong || (pre && out))
		tap(!wrong, "%s: %lu of %lu bytes read back not 0x%02x (want 0; %lu pages %s before the write%s)",
		    name, wrong, SZ_64K, b, pre, pre_what, paged);
	else
		skip("%s # SKIP nothing to prove: %lu pages %s before the write%s; data intact",
		     name, pre, pre_what, paged);
}

/*
 * shmem: a read-faulted page is clean; a clean shmem page that reclaim
 * finds is dropped, so the mirror's write must dirty it.
 */
static void dirty_shmem(void)
{
	const char *name = "dirtying: shmem page written through the mirror survives MADV_PAGEOUT";
	unsigned long pages = SZ_64K / PAGE_SZ, clean, out;
	unsigned char *buf;
	int fd, ret;

	fd = memfd_create("umirror-gup", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, SZ_64K))
		die("memfd");
	buf = mmap(NULL, SZ_64K, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (buf == MAP_FAILED)
		die("mmap memfd");
	touch_read(buf, SZ_64K);
	clean = count_pages(buf, pages, 0, PF(KPF_DIRTY));
	ret = um(NULL, "mirror %lx %lu 1", (unsigned long)buf, SZ_64K);
	if (!ret)
		ret = um(NULL, "write %lx %lu %u", (unsigned long)buf, SZ_64K, 0x41);
	if (madvise(buf, SZ_64K, MADV_PAGEOUT))
		die("MADV_PAGEOUT");
	out = pages - resident(buf, SZ_64K);
	dirty_result(name, ret, bytes_not(buf, SZ_64K, 0x41), 0x41, clean,
		     "clean", out);
	munmap(buf, SZ_64K);
	close(fd);
}

/*
 * A page read back from swap through the swap cache is clean: its data is
 * in the swap slot. Reclaim frees a clean swap-cache page without writing
 * it, so the mirror's write must dirty it. zram does synchronous I/O, and
 * a fault would swap in past the swap cache; MADV_WILLNEED reads into it.
 */
static void dirty_swapcache(void)
{
	const char *name = "dirtying: clean swap-cache page written through the mirror survives MADV_PAGEOUT";
	unsigned long pages = SZ_64K / PAGE_SZ, pre, out;
	unsigned char *buf = map_aligned(SZ_64K, PAGE_SZ);
	int ret;

	madvise(buf, SZ_64K, MADV_NOHUGEPAGE);
	memset(buf, 0x11, SZ_64K);
	if (madvise(buf, SZ_64K, MADV_PAGEOUT))
		die("MADV_PAGEOUT");
	out = pages - resident(buf, SZ_64K);
	if (madvise(buf, SZ_64K, MADV_WILLNEED))
		die("MADV_WILLNEED");
	touch_read(buf, SZ_64K);
	pre = count_pages(buf, pages, PF(KPF_SWAPCACHE), PF(KPF_DIRTY));
	diag("swap cache: %lu pages paged out first, %lu clean in the swap cache after reading back",
	     out, pre);
	ret = um(NULL, "mirror %lx %lu 1", (unsigned long)buf, SZ_64K);
	if (!ret)
		ret = um(NULL, "write %lx %lu %u", (unsigned long)buf, SZ_64K, 0x42);
	if (madvise(buf, SZ_64K, MADV_PAGEOUT))
		die("MADV_PAGEOUT");
	out = pages - resident(buf, SZ_64K);
	dirty_result(name, ret, bytes_not(buf, SZ_64K, 0x42), 0x42, pre,
		     "clean in the swap cache", out);
	munmap(buf, SZ_64K);
}

/*
 * MADV_FREE makes the pages lazily freed: clean PTEs, clean folios, which
 * reclaim discards unless they were written again. A write through the
 * mirror (writable PTEs: no fault) must count as one, else the read gives
 * zeroes. Reclaim keeps written pages in memory, so only the data tells.
 */
static void dirty_lazyfree(void)
{
	const char *name = "dirtying: MADV_FREE page written through the mirror survives MADV_PAGEOUT";
	unsigned long pages = SZ_64K / PAGE_SZ, wrong, zeroes;
	unsigned char *buf = map_aligned(SZ_64K, PAGE_SZ);
	int ret;

	madvise(buf, SZ_64K, MADV_NOHUGEPAGE);
	memset(buf, 0x12, SZ_64K);
	if (madvise(buf, SZ_64K, MADV_FREE))
		die("MADV_FREE");
	ret = um(NULL, "mirror %lx %lu 1", (unsigned long)buf, SZ_64K);
	if (!ret)
		ret = um(NULL, "write %lx %lu %u", (unsigned long)buf, SZ_64K, 0x43);
	if (madvise(buf, SZ_64K, MADV_PAGEOUT))
		die("MADV_PAGEOUT");
	diag("MADV_FREE: %lu of %lu pages resident after MADV_PAGEOUT",
	     resident(buf, SZ_64K), pages);
	wrong = bytes_not(buf, SZ_64K, 0x43);
	zeroes = SZ_64K - bytes_not(buf, SZ_64K, 0);
	if (ret)
		tap(false, "%s: %s", name, um_error);
	else
		tap(!wrong, "%s: %lu of %lu bytes not 0x43, %lu zero (want 0, 0)",
		    name, wrong, SZ_64K, zeroes);
	munmap(buf, SZ_64K);
}

/*
 * ext4: writeback cleans the page and write-protects its PTE; the second
 * write through the mirror must fault it writable again (page_mkwrite),
 * so that it is dirty and msync writes it. The disk must hold 0x52.
 */
static void dirty_ext4(void)
{
	const char *name = "dirtying: ext4 page written through the mirror after writeback reaches the disk";
	unsigned long pages = SZ_64K / PAGE_SZ, clean, n51;
	unsigned char *buf, *back;
	char path[4096];
	ssize_t n;
	int fd, ret;

	if (!ext4_dir) {
		skip("%s # SKIP no ext4 directory (--ext4)", name);
		return;
	}
	snprintf(path, sizeof(path), "%s/umirror-gup.XXXXXX", ext4_dir);
	fd = mkstemp(path);
	if (fd < 0 || ftruncate(fd, SZ_64K))
		die(path);
	buf = mmap(NULL, SZ_64K, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (buf == MAP_FAILED)
		die("mmap ext4 file");
	ret = um(NULL, "mirror %lx %lu 1", (unsigned long)buf, SZ_64K);
	if (!ret)
		ret = um(NULL, "write %lx %lu %u", (unsigned long)buf, SZ_64K, 0x51);
	if (msync(buf, SZ_64K, MS_SYNC))
		die("msync");
	clean = count_pages(buf, pages, 0, PF(KPF_DIRTY));
	if (!ret)
		ret = um(NULL, "write %lx %lu %u", (unsigned long)buf, SZ_64K, 0x52);
	if (msync(buf, SZ_64K, MS_SYNC))
		die("msync");
	munmap(buf, SZ_64K);
	close(fd);

	/* Read what the disk holds, not the page cache. */
	if (posix_memalign((void **)&back, PAGE_SZ, SZ_64K))
		die("posix_memalign");
	fd = open(path, O_RDONLY | O_DIRECT | O_CLOEXEC);
	if (fd < 0)
		die(path);
	posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
	n = pread(fd, back, SZ_64K, 0);
	if (n != (ssize_t)SZ_64K)
		die("O_DIRECT pread");
	close(fd);
	unlink(path);
	n51 = SZ_64K - bytes_not(back, SZ_64K, 0x51);
	if (!ret)
		diag("ext4: %lu bytes still 0x51 on disk", n51);
	dirty_result(name, ret, bytes_not(back, SZ_64K, 0x52), 0x52, clean,
		     "clean after the first msync", -1);
	free(back);
}

static void test_dirtying(void)
{
	cpu_set_t old, one;

	/* ext4 needs no swap: writeback, not reclaim, is what it checks. */
	dirty_ext4();
	if (!have_swap) {
		skip("dirtying: shmem # SKIP no swap (--swap)");
		skip("dirtying: clean swap-cache page # SKIP no swap (--swap)");
		skip("dirtying: MADV_FREE page # SKIP no swap (--swap)");
		return;
	}
	/*
	 * New pages and MADV_FREE's lazy-free move wait in per-CPU LRU
	 * batches, and MADV_PAGEOUT drains only this CPU's: stay on one.
	 */
	if (sched_getaffinity(0, sizeof(old), &old))
		die("sched_getaffinity");
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		die("sched_setaffinity");
	dirty_shmem();
	dirty_swapcache();
	dirty_lazyfree();
	sched_setaffinity(0, sizeof(old), &old);
}

/* ---- j: userfaultfd ---- */

struct uffd_region {
	int uffd;
	unsigned char *base;
	size_t len;
	pthread_t thread;
	volatile bool stop;
	volatile unsigned int served;
	int err;
};

/* Answer each missing-page fault with a page of 0x60 + its index. */
static void *uffd_handler(void *arg)
{
	struct uffd_region *r = arg;
	struct uffdio_copy copy;
	struct uffd_msg msg;
	unsigned char *page;
	struct pollfd pfd = { .fd = r->uffd, .events = POLLIN };
	unsigned long addr;

	page = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (page == MAP_FAILED) {
		r->err = errno;
		return NULL;
	}
	while (!r->stop) {
		if (poll(&pfd, 1, 100) <= 0)
			continue;
		if (read(r->uffd, &msg, sizeof(msg)) != sizeof(msg)) {
			if (errno == EAGAIN)
				continue;
			r->err = errno;
			break;
		}
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		addr = msg.arg.pagefault.address & ~(PAGE_SZ - 1);
		memset(page, 0x60 + (addr - (uintptr_t)r->base) / PAGE_SZ, PAGE_SZ);
		copy = (struct uffdio_copy) {
			.dst = addr, .src = (uintptr_t)page, .len = PAGE_SZ,
		};
		if (ioctl(r->uffd, UFFDIO_COPY, &copy) && errno != EEXIST) {
			r->err = errno;
			break;
		}
		r->served++;
	}
	munmap(page, PAGE_SZ);
	return NULL;
}

/* Map @len bytes armed for missing-page faults, with a handler thread. */
static int uffd_start(struct uffd_region *r, size_t len)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };

	memset(r, 0, sizeof(*r));
	r->len = len;
	r->base = map_aligned(len, PAGE_SZ);
	madvise(r->base, len, MADV_NOHUGEPAGE);
	/* No UFFD_USER_MODE_ONLY: the kernel's own faults must wait too. */
	r->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (r->uffd < 0)
		return -errno;
	reg.range.start = (uintptr_t)r->base;
	reg.range.len = len;
	if (ioctl(r->uffd, UFFDIO_API, &api) ||
	    ioctl(r->uffd, UFFDIO_REGISTER, &reg))
		return -errno;
	if (pthread_create(&r->thread, NULL, uffd_handler, r))
		die("pthread_create");
	return 0;
}

static void uffd_stop(struct uffd_region *r)
{
	r->stop = true;
	pthread_join(r->thread, NULL);
	close(r->uffd);
	munmap(r->base, r->len);
}

/* Run in a child: a hang is killed by the alarm and fails the case. */
static void uffd_case(void)
{
	size_t len = 4 * PAGE_SZ;
	struct uffd_region r;
	unsigned char want[4 * PAGE_SZ];
	uint64_t v = 0;
	unsigned long wrong;
	unsigned int i;
	int ret;

	stage("userfaultfd: setting up");
	ret = uffd_start(&r, len);
	if (ret) {
		skip("userfaultfd # SKIP userfaultfd: %s", ename(-ret));
		return;
	}
	for (i = 0; i < 4; i++)
		memset(want + i * PAGE_SZ, 0x60 + i, PAGE_SZ);
	stage("userfaultfd: read through a read-only mirror");
	ret = um(NULL, "mirror %lx %zu 0", (unsigned long)r.base, len);
	if (!ret)
		ret = um(&v, "read %lx %zu", (unsigned long)r.base, len);
	if (ret)
		tap(false, "userfaultfd: read through the mirror: %s (want success: wait for the handler)",
		    um_error);
	else
		tap(v == fnv1a(want, len) && r.served >= 1 && !r.err,
		    "userfaultfd: a read through the mirror waits for the handler: hash %s, %u faults served (want >= 1), handler error %s",
		    v == fnv1a(want, len) ? "matches" : "DIFFERS", r.served,
		    ename(r.err));
	uffd_stop(&r);

	stage("userfaultfd: write through a writable mirror");
	ret = uffd_start(&r, len);
	if (ret) {
		errno = -ret;
		die("userfaultfd");
	}
	ret = um(NULL, "mirror %lx %zu 1", (unsigned long)r.base, len);
	if (!ret)
		ret = um(NULL, "write %lx %zu %u", (unsigned long)r.base, len, 0x61);
	/* The pages are there if the write succeeded: no fault, no hang. */
	wrong = ret ? 0 : bytes_not(r.base, len, 0x61);
	if (ret)
		tap(false, "userfaultfd: write through the mirror: %s (want success: wait for the handler)",
		    um_error);
	else
		tap(!wrong && r.served >= 1 && !r.err,
		    "userfaultfd: a write through the mirror waits for the handler, then lands: %lu bytes not 0x61 (want 0), %u faults served (want >= 1), handler error %s",
		    wrong, r.served, ename(r.err));
	uffd_stop(&r);
	stage("userfaultfd: done");
}

static void test_uffd(void)
{
	run_in_child("userfaultfd", uffd_case, 60);
}

/* ---- k: protection keys ---- */

/* The errno of a read(2) or write(2) of one byte: the uaccess reference. */
static int rw_errno(ssize_t ret)
{
	return ret < 0 ? errno : 0;
}

static void pkey_reference(int key, unsigned char *buf)
{
	int p[2], werr, rerr;

	if (pipe(p))
		die("pipe");
	pkey_set(key, PKEY_DISABLE_ACCESS);
	werr = rw_errno(write(p[1], buf, 1));
	pkey_set(key, 0);
	if (write(p[1], "x", 1) != 1)
		die("write pipe");
	pkey_set(key, PKEY_DISABLE_WRITE);
	rerr = rw_errno(read(p[0], buf, 1));
	pkey_set(key, 0);
	close(p[0]);
	close(p[1]);
	tap(werr == EFAULT && rerr == EFAULT,
	    "protection keys, reference: write(2) from a no-access region gives %s, read(2) into a no-write region %s (want EFAULT, EFAULT)",
	    ename(werr), ename(rerr));
}

/* A fresh mirror for each step, so that each step faults and checks. */
static void pkey_steps(int key, unsigned char *buf, size_t len)
{
	uint64_t v = 0, want = fnv1a_of(0x21, len);
	int m, c, r, w;

	pkey_set(key, PKEY_DISABLE_ACCESS);
	m = um(NULL, "mirror %lx %zu 1", (unsigned long)buf, len);
	c = um(NULL, "check");
	r = um(&v, "read %lx %zu", (unsigned long)buf, len);
	w = um(NULL, "write %lx %zu %u", (unsigned long)buf, len, 0x22);
	pkey_set(key, 0);
	tap(!m && c == -EFAULT && r == -EFAULT && w == -EFAULT &&
	    !bytes_not(buf, len, 0x21),
	    "protection keys, access disabled: mirror %s, check %s, read %s, write %s (want success, EFAULT x3), memory unchanged: %s",
	    ename(-m), ename(-c), ename(-r), ename(-w),
	    bytes_not(buf, len, 0x21) ? "NO" : "yes");

	pkey_set(key, PKEY_DISABLE_WRITE);
	m = um(NULL, "mirror %lx %zu 1", (unsigned long)buf, len);
	w = um(NULL, "write %lx %zu %u", (unsigned long)buf, len, 0x23);
	pkey_set(key, 0);
	tap(!m && w == -EFAULT && !bytes_not(buf, len, 0x21),
	    "protection keys, write disabled: a write through a fresh mirror gives %s (want EFAULT), memory unchanged: %s",
	    ename(-w), bytes_not(buf, len, 0x21) ? "NO" : "yes");

	/*
	 * The read faults the pages in, and their PTEs are writable: the
	 * write then finds usable entries and faults nothing, yet the key
	 * still forbids it, as it would forbid pin_user_pages(FOLL_WRITE).
	 */
	pkey_set(key, PKEY_DISABLE_WRITE);
	m = um(NULL, "mirror %lx %zu 1", (unsigned long)buf, len);
	r = um(&v, "read %lx %zu", (unsigned long)buf, len);
	w = um(NULL, "write %lx %zu %u", (unsigned long)buf, len, 0x23);
	pkey_set(key, 0);
	tap(!m && !r && v == want && w == -EFAULT && !bytes_not(buf, len, 0x21),
	    "protection keys, write disabled: read %s (hash %s), then write %s (want success, EFAULT), memory unchanged: %s",
	    ename(-r), v == want ? "matches" : "DIFFERS", ename(-w),
	    bytes_not(buf, len, 0x21) ? "NO" : "yes");

	m = um(NULL, "mirror %lx %zu 1", (unsigned long)buf, len);
	r = um(&v, "read %lx %zu", (unsigned long)buf, len);
	w = um(NULL, "write %lx %zu %u", (unsigned long)buf, len, 0x24);
	tap(!m && !r && !w && !bytes_not(buf, len, 0x24),
	    "protection keys, access allowed again: read %s, write %s (want success), %lu bytes not 0x24 (want 0)",
	    ename(-r), ename(-w), bytes_not(buf, len, 0x24));
}

static void test_pkeys(void)
{
	size_t len = 4 * PAGE_SZ;
	unsigned char *buf;
	int key;

	key = pkey_alloc(0, 0);
	if (key < 0) {
		skip("protection keys # SKIP pkey_alloc: %s", ename(errno));
		return;
	}
	buf = map_aligned(len, PAGE_SZ);
	memset(buf, 0x21, len);
	if (pkey_mprotect(buf, len, PROT_READ | PROT_WRITE, key)) {
		skip("protection keys # SKIP pkey_mprotect: %s", ename(errno));
	} else {
		pkey_reference(key, buf);
		memset(buf, 0x21, len);
		pkey_steps(key, buf, len);
	}
	munmap(buf, len);
	pkey_free(key);
}

/* ---- l: memcg OOM ---- */

/*
 * Touch what the child writes once its memcg is full: a page it first
 * writes then would need a charge that fails, and a user fault that ends
 * in VM_FAULT_OOM without a victim is retried for ever.
 */
static void prefault_for_oom(void)
{
	volatile unsigned char stack[64 << 10];
	size_t i;

	/* Volatile stores, one per 256 bytes: not optimized away. */
	for (i = 0; i < sizeof(stack); i += 256)
		stack[i] = 0;
	memset(um_error, 0, sizeof(um_error));
	errno = 0;
}

/*
 * Run in a child, in the 32 MiB memcg without swap, unkillable: the OOM
 * killer has no victim, so the charge fails and the fault returns
 * VM_FAULT_OOM, which pin_user_pages() reports as ENOMEM (hmm alone says
 * EFAULT for every fault error).
 */
static void oom_case(void)
{
	char path[4096], pid[32], peak[32] = "?", events[256] = "?";
	unsigned char *buf;
	int ret;

	stage("OOM: joining the memcg");
	prefault_for_oom();
	snprintf(path, sizeof(path), "%s/cgroup.procs", cgroup_dir);
	snprintf(pid, sizeof(pid), "%d", getpid());
	ret = write_file(path, pid);
	if (ret) {
		errno = -ret;
		die(path);
	}
	ret = write_file("/proc/self/oom_score_adj", "-1000");
	if (ret) {
		errno = -ret;
		die("oom_score_adj");
	}
	buf = mmap(NULL, SZ_256M, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (buf == MAP_FAILED)
		die("mmap 256 MiB");
	madvise(buf, SZ_256M, MADV_NOHUGEPAGE);
	stage("OOM: faulting 256 MiB through the mirror");
	ret = um(NULL, "mirror %lx %lu 1", (unsigned long)buf, SZ_256M);
	if (!ret)
		ret = um(NULL, "fault %lx %lu 1", (unsigned long)buf, SZ_256M);
	/* Uncharge before anything else may need a page. */
	munmap(buf, SZ_256M);
	tap(ret == -ENOMEM,
	    "OOM in a memcg with nothing to kill: fault of 256 MiB through the mirror gives %s (want ENOMEM, as GUP gives for VM_FAULT_OOM)",
	    ename(-ret));
	report->done = true;
	snprintf(path, sizeof(path), "%s/memory.peak", cgroup_dir);
	read_file(path, peak, sizeof(peak));
	snprintf(path, sizeof(path), "%s/memory.events", cgroup_dir);
	one_line(path, events, sizeof(events));
	diag("OOM: memory.peak %s, memory.events: %s", peak, events);
}

static void test_oom(void)
{
	if (!cgroup_dir) {
		skip("OOM in a memcg # SKIP no cgroup directory (--cgroup)");
		return;
	}
	run_in_child("OOM in a memcg", oom_case, 60);
}

/* ---- m: the OOM reaper ---- */

/*
 * The OOM reaper (__oom_reap_task_mm()) zaps a killed process's private
 * memory under mmu_notifier_invalidate_range_start_nonblock(): the mirrors'
 * invalidate callbacks run where they must not sleep, and must not fail
 * either, or the reaper skips the whole VMA. It waits 2 s
 * (OOM_REAPER_DELAY) for the victim to exit on its own first, and a victim
 * that exits in time is never reaped: a thread of the child sleeps
 * uninterruptibly on a lock the parent holds (the gate), as a victim stuck
 * in the kernel would, until the reaper has had its turn.
 */

#define REAP_LEN	SZ_16M		/* mapped, written and mirrored */
#define REAP_HELD	SZ_8M		/* its first half, held by pins */
/*
 * memory.current once reaped: the pinned pages, and a little more (seen:
 * 8.3 to 10.2 MiB); a reap that skipped the mirrored area leaves over 16.
 */
#define REAP_REAPED	(REAP_HELD + SZ_6M)
/* memory.current once the child is gone */
#define REAP_GONE	SZ_4M
#define REAP_TIMEOUT	60		/* seconds, for the whole case */

enum reap_stuck {
	STUCK_NONE,		/* no gate: the killed child exits at once */
	STUCK_STARTED,		/* the thread is on its way to the gate */
	STUCK_ASLEEP,		/* seen asleep (D) at the gate */
	STUCK_RETURNED,		/* its command returned: the gate was open */
};

/*
 * What the child of the OOM reaper case tells its parent, in shared memory:
 * it is killed, not done, so the parent judges from this and from outside.
 */
struct reap_state {
	struct report report;		/* failures of its setup */
	char oom_score_adj[16];
	volatile bool allocating;	/* set up, allocating until killed */
	volatile bool finished;		/* allocated it all, not killed */
	volatile int stuck;		/* enum reap_stuck */
	volatile unsigned long reads, read_errors;
	volatile int read_err;		/* errno of the last failed read */
	volatile unsigned long nr_bv;	/* bvecs of the held half */
	volatile size_t touched;	/* bytes allocated once set up */
};

/*
 * The gate: a thread of the parent writes a read to a driver file that
 * waits, through a mirror, for a userfaultfd fault that nobody answers
 * until the gate opens; meanwhile it holds the file's locks (f_pos_lock,
 * the file being shared, and the driver's result->lock). The child
 * inherits the file, and a command that one of its threads writes to it
 * sleeps uninterruptibly on those locks: SIGKILL cannot end that thread,
 * so the killed child cannot exit, and its mm and files stay.
 */
struct gate {
	int fd;			/* the driver file the child inherits */
	int uffd;
	unsigned char *page;	/* the page the gate's read waits for */
	pthread_t thread;
	int err;		/* the read's result, once it returned */
	volatile bool returned;
};

static void *gate_thread(void *arg)
{
	struct gate *g = arg;

	g->err = um_cmd(g->fd, "mirror %lx %lu 0", (unsigned long)g->page, PAGE_SZ);
	if (!g->err)
		g->err = um_cmd(g->fd, "read %lx %lu", (unsigned long)g->page, PAGE_SZ);
	g->returned = true;
	return NULL;
}

/*
 * Close the gate: 0 once the gate's read waits for its fault, holding the
 * locks, or -errno and no gate (g->fd is -1).
 */
static int gate_close(struct gate *g)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct pollfd pfd;
	struct uffd_msg msg;
	int ret;

	memset(g, 0, sizeof(*g));
	g->fd = -1;
	/* No UFFD_USER_MODE_ONLY: the driver's fault must wait. */
	g->uffd = syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (g->uffd < 0)
		return -errno;
	g->page = map_aligned(PAGE_SZ, PAGE_SZ);
	reg.range.start = (uintptr_t)g->page;
	reg.range.len = PAGE_SZ;
	if (ioctl(g->uffd, UFFDIO_API, &api) ||
	    ioctl(g->uffd, UFFDIO_REGISTER, &reg)) {
		ret = -errno;
		goto out_uffd;
	}
	g->fd = open(RUN_FILE, O_RDWR | O_CLOEXEC);
	if (g->fd < 0) {
		ret = -errno;
		goto out_uffd;
	}
	if (pthread_create(&g->thread, NULL, gate_thread, g))
		die("pthread_create");
	pfd = (struct pollfd) { .fd = g->uffd, .events = POLLIN };
	if (poll(&pfd, 1, 5000) == 1 &&
	    read(g->uffd, &msg, sizeof(msg)) == sizeof(msg) &&
	    msg.event == UFFD_EVENT_PAGEFAULT)
		return 0;
	/* No fault in 5 s: closing the userfaultfd lets the read go on. */
	close(g->uffd);
	pthread_join(g->thread, NULL);
	ret = g->returned && g->err ? g->err : -ETIMEDOUT;
	close(g->fd);
	g->fd = -1;
	munmap(g->page, PAGE_SZ);
	return ret;
out_uffd:
	if (g->fd >= 0)
		close(g->fd);
	g->fd = -1;
	close(g->uffd);
	munmap(g->page, PAGE_SZ);
	return ret;
}

/* Open the gate: answer the fault; the read returns and drops the locks. */
static void gate_open(struct gate *g)
{
	struct uffdio_zeropage zero = {
		.range = { .start = (uintptr_t)g->page, .len = PAGE_SZ },
	};

	if (ioctl(g->uffd, UFFDIO_ZEROPAGE, &zero))
		diag("OOM reaper: UFFDIO_ZEROPAGE: %s; closing the userfaultfd instead",
		     ename(errno));
	/* Closing it wakes the read too, had the answer failed. */
	close(g->uffd);
	pthread_join(g->thread, NULL);
	if (g->err)
		diag("OOM reaper: the gate's read gave %s (want success)",
		     ename(-g->err));
	munmap(g->page, PAGE_SZ);
}

/* The state letter of thread @tid of this process ('R', 'S', 'D'...). */
static char thread_state(pid_t tid)
{
	char path[64], buf[512], *p;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	if (read_file(path, buf, sizeof(buf)))
		return '?';
	/* "tid (comm) S ...": comm may hold anything but ends at the last ')'. */
	p = strrchr(buf, ')');
	return p && p[1] == ' ' && p[2] ? p[2] : '?';
}

struct reap_reader {
	int fd;			/* its own driver file, its own mirror */
	unsigned char *base;
	struct reap_state *st;
};

/*
 * Read the half that is not held, for ever, each time through a fresh
 * mirror: each read faults its 2048 pages, so that faults are in progress
 * when the OOM killer strikes. Errors (ENOMEM near the limit, EINTR once
 * killed) are counted, never fatal.
 */
static void *reap_reader(void *arg)
{
	struct reap_reader *r = arg;
	size_t len = REAP_LEN - REAP_HELD;
	int ret;

	for (;;) {
		ret = um_cmd(r->fd, "mirror %lx %zu 0", (unsigned long)r->base, len);
		if (!ret)
			ret = um_cmd(r->fd, "read %lx %zu", (unsigned long)r->base, len);
		if (ret) {
			r->st->read_err = -ret;
			r->st->read_errors++;
		} else {
			r->st->reads++;
		}
	}
	return NULL;
}

struct reap_sleeper {
	int fd;			/* the gate's file */
	volatile pid_t tid;
	struct reap_state *st;
};

/* Sleep at the gate: any command takes the file's locks first. */
static void *reap_sleeper(void *arg)
{
	struct reap_sleeper *s = arg;

	s->tid = gettid();
	s->st->stuck = STUCK_STARTED;
	/* Nothing is held on the gate's file: a no-op, once it gets the locks. */
	um_cmd(s->fd, "release");
	s->st->stuck = STUCK_RETURNED;
	return NULL;
}

/*
 * The child: joins the memcg (keeping the oom_score_adj it inherited),
 * writes 16 MiB, mirrors it writable and holds its first half writable,
 * as an I/O in flight would; a thread reads the second half through a
 * mirror of its own, another sleeps at the gate @gate_fd (-1: no gate);
 * then it allocates until the OOM killer kills it. Never returns.
 */
static void reap_child(struct reap_state *st, int gate_fd)
{
	struct reap_sleeper sleeper = { .fd = gate_fd, .st = st };
	struct reap_reader reader = { .st = st };
	char path[4096], pid[32];
	volatile unsigned char *more;
	unsigned char *buf;
	pthread_t thread;
	uint64_t nr_bv = 0;
	double start;
	size_t off;
	int ret;

	report = &st->report;
	stage("OOM reaper: joining the memcg");
	snprintf(path, sizeof(path), "%s/cgroup.procs", reap_cgroup_dir);
	snprintf(pid, sizeof(pid), "%d", getpid());
	ret = write_file(path, pid);
	if (ret) {
		errno = -ret;
		die(path);
	}
	read_file("/proc/self/oom_score_adj", st->oom_score_adj,
		  sizeof(st->oom_score_adj));
	close(um_fd);
	um_open();
	reader.fd = open(RUN_FILE, O_RDWR | O_CLOEXEC);
	if (reader.fd < 0)
		die("open " RUN_FILE);

	stage("OOM reaper: writing 16 MiB");
	buf = map_aligned(REAP_LEN, PAGE_SZ);
	madvise(buf, REAP_LEN, MADV_NOHUGEPAGE);
	memset(buf, 0x5e, REAP_LEN);
	stage("OOM reaper: mirroring 16 MiB, holding 8 MiB");
	ret = um(NULL, "mirror %lx %lu 1", (unsigned long)buf, REAP_LEN);
	if (!ret)
		ret = um(&nr_bv, "hold %lx %lu 1", (unsigned long)buf, REAP_HELD);
	if (ret) {
		tap(false, "OOM reaper: setup: %s", um_error);
		_exit(1);
	}
	st->nr_bv = nr_bv;

	stage("OOM reaper: starting the reader");
	reader.base = buf + REAP_HELD;
	if (pthread_create(&thread, NULL, reap_reader, &reader))
		die("pthread_create");
	for (start = now(); !st->reads && now() - start < 5; )
		usleep(10000);
	if (!st->reads) {
		tap(false, "OOM reaper: setup: the reader thread read nothing in 5 s: %lu reads failed, the last with %s",
		    st->read_errors, ename(st->read_err));
		_exit(1);
	}

	if (gate_fd >= 0) {
		stage("OOM reaper: putting a thread to sleep at the gate");
		if (pthread_create(&thread, NULL, reap_sleeper, &sleeper))
			die("pthread_create");
		for (start = now(); now() - start < 5; usleep(10000)) {
			if (st->stuck == STUCK_RETURNED)
				break;
			if (sleeper.tid && thread_state(sleeper.tid) == 'D') {
				st->stuck = STUCK_ASLEEP;
				break;
			}
		}
	}

	stage("OOM reaper: allocating until the OOM killer comes");
	more = mmap(NULL, SZ_256M, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (more == MAP_FAILED)
		die("mmap 256 MiB");
	madvise((void *)more, SZ_256M, MADV_NOHUGEPAGE);
	st->allocating = true;
	for (off = 0; off < SZ_256M; off += PAGE_SZ) {
		more[off] = 1;
		st->touched = off + PAGE_SZ;
	}
	tap(false, "OOM reaper: the child touched 256 MiB more in its 32 MiB memcg and was not killed");
	st->finished = true;
	/* A thread asleep at the gate keeps it until the parent opens it. */
	_exit(1);
}

static long reap_current(void)
{
	return cg_value(reap_cgroup_dir, "memory.current", NULL);
}

static long reap_oom_kills(void)
{
	return cg_value(reap_cgroup_dir, "memory.events", "oom_kill");
}

/* @bytes in MiB, "?" for -1. */
static const char *mib(char *buf, size_t size, long bytes)
{
	if (bytes < 0)
		snprintf(buf, size, "?");
	else
		snprintf(buf, size, "%.1f", bytes / (double)(1 << 20));
	return buf;
}

/* How a child ended: "SIGKILL", "exit status 1". */
static const char *how_ended(char *buf, size_t size, int status)
{
	const char *sig;

	if (WIFSIGNALED(status)) {
		sig = sigabbrev_np(WTERMSIG(status));
		if (sig)
			snprintf(buf, size, "SIG%s", sig);
		else
			snprintf(buf, size, "signal %d", WTERMSIG(status));
	} else {
		snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
	}
	return buf;
}

static const char *const stuck_names[] = {
	[STUCK_NONE] = "no thread at the gate",
	[STUCK_STARTED] = "the thread at the gate was never seen asleep",
	[STUCK_ASLEEP] = "a thread asleep at the gate",
	[STUCK_RETURNED] = "the thread at the gate got through at once",
};

static void test_oom_reaper(void)
{
	long kills0, kills1, cur0, cur_kill = -1, cur_reap = -1, cur_end = -1;
	long acq, rel, pins_asleep = -1;
	double start, deadline, killed_at = 0, reap_s = 0, t;
	bool exited = false, alive = false, our_kill = false, reaped = false;
	char m[4][16], how[32], events[256], peak[32] = "?", path[4096];
	struct reap_state *st;
	struct gate gate;
	int status = 0, gate_err, stuck;
	pid_t pid, w;

	if (!reap_cgroup_dir) {
		skip("OOM reaper # SKIP no cgroup directory (--reap-cgroup)");
		return;
	}
	st = mmap(NULL, sizeof(*st), PROT_READ | PROT_WRITE,
		  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (st == MAP_FAILED)
		die("mmap");
	/* Fault it in here: charged to this memcg, not the child's. */
	memset(st, 0, sizeof(*st));
	snprintf(st->report.stage, sizeof(st->report.stage), "OOM reaper");
	kills0 = reap_oom_kills();
	cur0 = reap_current();
	gate_err = gate_close(&gate);
	if (gate_err)
		diag("OOM reaper: no gate (%s): the killed child will exit before the reaper's turn",
		     ename(-gate_err));

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		die("fork");
	if (!pid) {
		if (!gate_err)
			close(gate.uffd);
		reap_child(st, gate.fd);
	}

	/* Until the OOM kill, or until the child gives up, or dies. */
	start = now();
	deadline = start + REAP_TIMEOUT;
	for (;;) {
		w = waitpid(pid, &status, WNOHANG);
		if (w < 0)
			die("waitpid");
		if (w == pid) {
			exited = true;
			break;
		}
		if (reap_oom_kills() > kills0) {
			killed_at = now();
			break;
		}
		if (st->finished || st->report.nr || now() > deadline)
			break;
		usleep(20000);
	}

	/* The child cannot exit: only the reaper can free its memory. */
	if (killed_at && !gate_err && !exited) {
		cur_kill = reap_current();
		while ((t = now()) - killed_at < 10) {
			cur_reap = reap_current();
			reap_s = t - killed_at;
			if (cur_reap >= 0 && cur_reap < (long)REAP_REAPED) {
				reaped = true;
				break;
			}
			usleep(20000);
		}
		pin_counts(&acq, &rel);
		pins_asleep = acq - rel;
		w = waitpid(pid, &status, WNOHANG);
		alive = !w;
		exited = w == pid;
	}
	/* Read now: it stops being true when the gate opens. */
	stuck = st->stuck;
	if (!gate_err)
		gate_open(&gate);

	/* The child can exit now; at the deadline, make it. */
	while (!exited) {
		w = waitpid(pid, &status, WNOHANG);
		if (w < 0)
			die("waitpid");
		if (w == pid) {
			exited = true;
			break;
		}
		if (now() > deadline) {
			if (our_kill)
				break;
			kill(pid, SIGKILL);
			our_kill = true;
			deadline = now() + 10;
		}
		usleep(20000);
	}
	if (exited) {
		for (t = now(); now() - t < 10; usleep(50000)) {
			cur_end = reap_current();
			if (cur_end >= 0 && cur_end < (long)REAP_GONE)
				break;
		}
	}
	if (!gate_err)
		close(gate.fd);
	kills1 = reap_oom_kills();

	snprintf(path, sizeof(path), "%s/memory.events", reap_cgroup_dir);
	one_line(path, events, sizeof(events));
	snprintf(path, sizeof(path), "%s/memory.peak", reap_cgroup_dir);
	read_file(path, peak, sizeof(peak));
	diag("OOM reaper: memory.current (MiB) %s before, %s at the kill, %s after the reaper, %s at the end; memory.peak %s; memory.events: %s",
	     mib(m[0], sizeof(m[0]), cur0), mib(m[1], sizeof(m[1]), cur_kill),
	     mib(m[2], sizeof(m[2]), cur_reap), mib(m[3], sizeof(m[3]), cur_end),
	     peak, events);
	diag("OOM reaper: child's oom_score_adj %s, %lu bvecs held, %lu reads done and %lu failed (last %s), %zu KiB allocated after the setup; %s; %ld pins outstanding while it slept (%lu held)",
	     st->oom_score_adj[0] ? st->oom_score_adj : "?", st->nr_bv,
	     st->reads, st->read_errors, ename(st->read_err),
	     st->touched >> 10, stuck_names[stuck], pins_asleep,
	     REAP_HELD / PAGE_SZ);

	report_print(&st->report);
	if (st->report.nr)
		goto out;	/* its setup failed, or it was not killed */

	if (!exited)
		tap(false, "OOM reaper: the child did not die, even of our SIGKILL 10 s after the %d s timeout (at: %s)",
		    REAP_TIMEOUT, st->report.stage);
	else
		tap(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
		    !our_kill && st->allocating,
		    "OOM reaper: the child in the 32 MiB memcg dies of %s%s, at: %s (want SIGKILL, from the OOM killer, while allocating)",
		    how_ended(how, sizeof(how), status),
		    our_kill ? " (ours: timed out)" : "", st->report.stage);
	tap(kills0 >= 0 && kills1 > kills0,
	    "OOM reaper: memory.events of the memcg counts the kill: oom_kill %ld before, %ld after (want 1 more)",
	    kills0, kills1);
	if (gate_err)
		skip("OOM reaper: the reaper zaps the mirrored memory of a killed child that cannot exit # SKIP no gate to keep the child from exiting (userfaultfd: %s)",
		     ename(-gate_err));
	else
		tap(killed_at && stuck == STUCK_ASLEEP && alive && reaped,
		    "OOM reaper: the reaper zaps the mirrored memory of a killed child that cannot exit, through a non-blockable invalidation (%s%s): memory.current %s MiB at the kill, %s MiB %.1f s later (want a thread asleep at the gate, and < %lu MiB within 10 s: only the %lu MiB the pins hold)",
		    stuck_names[stuck],
		    !killed_at ? "; NO OOM kill seen while it lived" :
		    alive ? "" : "; the child EXITED",
		    mib(m[1], sizeof(m[1]), cur_kill),
		    mib(m[2], sizeof(m[2]), cur_reap), reap_s,
		    REAP_REAPED >> 20, REAP_HELD >> 20);
	tap(exited && cur_end >= 0 && cur_end < (long)REAP_GONE,
	    "OOM reaper: %s, memory.current of its memcg falls to %s MiB within 10 s (want < %lu MiB: the pins were released as its files closed)",
	    exited ? "once the child is reaped" : "the child was NOT reaped",
	    mib(m[3], sizeof(m[3]), cur_end), REAP_GONE >> 20);
out:
	munmap(st, sizeof(*st));
}

/* ---- n: hwpoison ---- */

static volatile sig_atomic_t sigbus_seen;

static void on_sigbus(int sig)
{
	sigbus_seen++;
}

/*
 * Run in a child: MADV_HWPOISON sends it SIGBUS (BUS_MCEERR_AR), which it
 * catches. The poisoned page is unmapped and its PTE is a hwpoison entry:
 * a read through the mirror must fail (GUP gives EFAULT without
 * FOLL_HWPOISON), and the page next to it must still read.
 */
static void hwpoison_case(void)
{
	struct sigaction sa = { .sa_handler = on_sigbus };
	unsigned char *buf = map_aligned(2 * PAGE_SZ, PAGE_SZ);
	uint64_t v0 = 0, v1 = 0;
	int m, r0, r1;

	sigaction(SIGBUS, &sa, NULL);
	madvise(buf, 2 * PAGE_SZ, MADV_NOHUGEPAGE);
	memset(buf, 0x71, 2 * PAGE_SZ);
	stage("hwpoison: MADV_HWPOISON");
	if (madvise(buf, PAGE_SZ, MADV_HWPOISON)) {
		if (errno == EPERM || errno == EINVAL)
			skip("hwpoison # SKIP MADV_HWPOISON: %s", ename(errno));
		else
			tap(false, "hwpoison: MADV_HWPOISON failed: %s", ename(errno));
		return;
	}
	diag("hwpoison: %d SIGBUS after MADV_HWPOISON", (int)sigbus_seen);
	stage("hwpoison: reads through the mirror");
	m = um(NULL, "mirror %lx %lu 0", (unsigned long)buf, 2 * PAGE_SZ);
	r0 = um(&v0, "read %lx %lu", (unsigned long)buf, PAGE_SZ);
	r1 = um(&v1, "read %lx %lu", (unsigned long)(buf + PAGE_SZ), PAGE_SZ);
	tap(!m && r0, "hwpoison: a read of the poisoned page through the mirror fails: mirror %s, read %s (want success, an error: EFAULT expected)",
	    ename(-m), ename(-r0));
	tap(!m && !r1 && v1 == fnv1a_of(0x71, PAGE_SZ),
	    "hwpoison: a read of the healthy page next to it succeeds: %s, hash %s",
	    ename(-r1), v1 == fnv1a_of(0x71, PAGE_SZ) ? "matches" : "DIFFERS");
	report->done = true;
	stage("hwpoison: after the reads");
}

static void test_hwpoison(void)
{
	run_in_child("hwpoison", hwpoison_case, 60);
}

/* ---- main ---- */

static const struct {
	const char *name;
	void (*fn)(void);
} cases[] = {
	{ "THP mapped by PTEs", test_thp_pte },
	{ "PMD-mapped THP", test_thp_pmd },
	{ "mTHP", test_mthp },
	{ "small pages", test_small_pages },
	{ "fork with a pin held", test_fork_while_pinned },
	{ "KSM", test_ksm },
	{ "hugetlb", test_hugetlb },
	{ "invalidation churn", test_no_spurious_ebusy },
	{ "dirtying", test_dirtying },
	{ "userfaultfd", test_uffd },
	{ "protection keys", test_pkeys },
	{ "OOM", test_oom },
	{ "OOM reaper", test_oom_reaper },
	/* Last: it leaves a poisoned page behind. */
	{ "hwpoison", test_hwpoison },
};

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "ext4", required_argument, NULL, 'e' },
		{ "cgroup", required_argument, NULL, 'c' },
		{ "reap-cgroup", required_argument, NULL, 'r' },
		{ "swap", no_argument, NULL, 's' },
		{}
	};
	unsigned int i;
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'e': ext4_dir = optarg; break;
		case 'c': cgroup_dir = optarg; break;
		case 'r': reap_cgroup_dir = optarg; break;
		case 's': have_swap = true; break;
		default:
			fprintf(stderr, "usage: %s [--ext4 DIR] [--cgroup DIR] [--reap-cgroup DIR] [--swap]\n",
				argv[0]);
			return 2;
		}
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (sysconf(_SC_PAGESIZE) != PAGE_SZ) {
		printf("Bail out! written for 4 KiB pages, not %ld\n",
		       sysconf(_SC_PAGESIZE));
		return 1;
	}
	/* A child that died must not kill us through its pipe. */
	signal(SIGPIPE, SIG_IGN);
	um_open();

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cases[i].fn();
		check_pins_balanced(cases[i].name);
	}
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
