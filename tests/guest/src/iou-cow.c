// SPDX-License-Identifier: GPL-2.0
/*
 * The GUP/COW bug class (CVE-2020-29374 and its relatives: a page
 * reference that outlives the mapping it was taken from) reproduced
 * through io_uring fixed buffers. Every case runs once on a buffer
 * registered pinned (FOLL_LONGTERM, IORING_RSRC_REGISTER_PINNED, so the
 * sysctl kernel.io_uring_unpinned_buffers cannot turn it unpinned) and
 * once on one registered with IORING_RSRC_REGISTER_UNPINNED; the outcome
 * each must have is written next to the case below and in its TAP line.
 *
 * null_blk copies a command's data when it issues it (null_handle_cmd),
 * however late it completes: on the 300 ms device a read "in flight" has
 * its span out (the pages may be reached, so fork and the mm must treat
 * them so), but its data is already there. Only the throttled device and
 * the pipe write data after the case acted.
 *
 *  1. The child reads the parent (CVE-2020-29374): the parent fills an
 *     anonymous buffer with "old" data and forks; the child registers its
 *     COW-shared view in a ring of its own; the parent then writes a
 *     secret to its buffer; the child WRITE_FIXEDs (O_DIRECT) its buffer
 *     to a block device. The sink must hold the child's old data, never
 *     the secret, in both modes. Variants:
 *       read before  the child's only access to its buffer before the
 *                    secret is a WRITE_FIXED, a read with no write fault
 *                    (the CVE's vmsplice), so an unpinned mirror takes
 *                    the shared page read-only;
 *       dontneed     the child MADV_DONTNEEDs its range before the parent
 *                    writes, so the parent's write reuses the page in
 *                    place: pinned, the sink holds the old data (the pin
 *                    keeps the child's private copy made at
 *                    registration); unpinned, the registration names the
 *                    child's addresses, which now map nothing: the
 *                    WRITE_FIXED faults them and sends zeros, as write(2)
 *                    of the range would.
 *     Both modes also report whether the child still shared its page
 *     frames with the parent when the parent wrote: pinned never (the
 *     registration's write fault broke COW), unpinned only when nothing
 *     but the registration happened (it faults nothing; a read through
 *     the buffer unshares, as a read-only FOLL_PIN does).
 *  2. Fork with a device write in flight: READ_FIXEDs into the middle of
 *     four pages on the throttled device, queued behind reads that use
 *     up its bandwidth for ~320 ms; fork, the parent writes the rest of
 *     those pages, then reads the spans: still its pre-fork data, so the
 *     device writes them after the fork and the parent's writes (and the
 *     reads must end >= 100 ms after submitting). Both modes: the parent
 *     sees the device data and its writes and kept its page frames; the
 *     child sees only its pre-fork data. Without a pin that makes fork
 *     copy the pages for the child, the parent's write would move it to
 *     new frames and the device would write the child's. A pipe variant
 *     has the data come from a pipe after the fork and the parent's
 *     writes: it lands in the parent only.
 *  3. MADV_DONTFORK: the child does not map the range at all (msync
 *     ENOMEM); the parent's read in flight at fork lands in the parent.
 *     Then the child submits READ_FIXEDs (O_DIRECT and buffered tmpfs) on
 *     the INHERITED ring: the data lands in the registering (parent's)
 *     memory in both modes. The same without MADV_DONTFORK, where the
 *     child maps a copy of the range at the same address: the child's
 *     requests must still reach the parent, and leave the child's memory
 *     alone. A READ_FIXED of all four pages before the fork puts them
 *     in an unpinned buffer's mirror (then a parked pin moves the read
 *     in flight to a later epoch, so fork pins only pages 0-1), and the
 *     parent writes every byte no read fills right after the fork, so
 *     the pages it shares with the child (unpinned: 2-3) move to new
 *     frames: a mirror that kept the frames fork write-protected would
 *     send the child's reads into the child.
 *  4. THP split with a read in flight: the buffer is one PMD-mapped THP;
 *     a READ_FIXED in flight into its first half while the parent splits
 *     it (MADV_DONTNEED or mprotect of one 4k page of the other half:
 *     AnonHugePages must drop), or forks and the child writes the THP.
 *     Then the parent writes the bytes of the span's pages the read does
 *     not fill (after a fork that shared them, that write moves them to
 *     new frames). Both modes: the data and the parent's writes land
 *     where the parent maps them, in the page frames it had, the dropped
 *     page reads zero, the protected one keeps its data, the child's
 *     writes stay in the child.
 *
 * At the end, every FOLL_PIN taken has been released.
 *
 *   iou-cow FAST_DEVICE SLOW_DEVICE THROTTLED_DEVICE
 *
 * All are memory-backed null_blk; the slow one completes each command
 * 300 ms after it started; the throttled one (mbps 1, no scheduler,
 * max_sectors 32) requeues what exceeds its 20971 bytes per 20 ms tick
 * and copies it when a later tick dispatches it.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <liburing.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest-test.h"


#define PAGE		4096
#define THP_SIZE	(2UL << 20)
#define SLOW_MS		300
#define RW		(PROT_READ | PROT_WRITE)

enum mode { PINNED, UNPINNED };
static const char *const mode_name[] = { "pinned", "unpinned" };

/*
 * Patterns, each byte a function of seed and position. The slope differs
 * per seed, so no run of one pattern equals a run of another, wherever
 * each starts (with one slope, S_DEV from 2048 equalled S_PRE from 5120).
 */
enum seed {
	S_OLD = 1, S_SECRET, S_SINK, S_PRE, S_POST, S_DEV, S_DEV2, S_FILE,
	S_KID,
};

static int fast_fd, slow_fd, thr_fd, pagemap;
static long pins_at_start;

static unsigned char pat(unsigned int seed, size_t i)
{
	return seed * 131 + i * (2 * seed + 5) + (i >> 9);
}

/* @len bytes of pattern @seed from its position @from. */
static void fill(void *buf, size_t len, unsigned int seed, size_t from)
{
	unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = pat(seed, from + i);
}

static bool same(const void *buf, size_t len, unsigned int seed, size_t from)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != pat(seed, from + i))
			return false;
	return true;
}

static bool zero(const void *buf, size_t len)
{
	const unsigned char *p = buf;
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

/* Any 512-byte sector of @buf holds its part of pattern @seed. */
static bool any_sector(const void *buf, size_t len, unsigned int seed)
{
	size_t off;

	for (off = 0; off < len; off += 512)
		if (same((const char *)buf + off, 512, seed, off))
			return true;
	return false;
}

/*
 * What @len bytes hold, for the seeds a case can expect there, their
 * patterns taken from position @from.
 */
static const char *what(const void *buf, size_t len, size_t from)
{
	static const char *const names[] = {
		[S_OLD] = "the old data", [S_SECRET] = "THE SECRET",
		[S_SINK] = "what it held before", [S_PRE] = "pre-fork data",
		[S_POST] = "the parent's writes", [S_DEV] = "device data",
		[S_DEV2] = "device data", [S_FILE] = "file data",
		[S_KID] = "the child's writes",
	};
	unsigned int s;

	for (s = S_OLD; s <= S_KID; s++)
		if (same(buf, len, s, from))
			return names[s];
	if (zero(buf, len))
		return "zeros";
	return any_sector(buf, len, S_SECRET) ? "PART OF THE SECRET" : "OTHER DATA";
}

/*
 * Whether a case that acted @t seconds after submitting missed its read:
 * @ended, the read had ended (or its data had landed) by then. A host
 * that stalls the emulated guest can delay the act that long: the case
 * did not happen then, which says nothing of the kernel, so the caller
 * runs it again; on the @last try, its @lines TAP lines are skipped.
 */
static bool missed(double t, bool ended, bool last, const char *what,
		   int lines)
{
	if (!ended)
		return false;
	diag("%s: acted %.0f ms after submitting, the read had ended%s",
	     what, t * 1e3, last ? "" : ": again");
	while (last && lines--)
		skip(what, "the action came after the read ended 3 times");
	return true;
}

static unsigned long pfn_of(const void *addr)
{
	uint64_t entry;

	if (pread(pagemap, &entry, sizeof(entry),
		  (uintptr_t)addr / PAGE * sizeof(entry)) != sizeof(entry))
		die("pagemap");
	return entry & (1ULL << 63) ? entry & ((1ULL << 55) - 1) : 0;
}

static void pfns(const unsigned char *buf, unsigned int n, unsigned long *out)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		out[i] = pfn_of(buf + i * PAGE);
}

/* Pages of @n whose frame is still that of @before. */
static unsigned int pfns_kept(const unsigned char *buf, unsigned int n,
			      const unsigned long *before)
{
	unsigned int i, kept = 0;

	for (i = 0; i < n; i++)
		kept += before[i] && pfn_of(buf + i * PAGE) == before[i];
	return kept;
}

/* Device @fd holds @len bytes of pattern @seed at @off. */
static void dev_fill(int fd, off_t off, size_t len, unsigned int seed)
{
	void *tmp = map_anon(len, RW);

	fill(tmp, len, seed, 0);
	if (pwrite(fd, tmp, len, off) != (ssize_t)len)
		die("pwrite");
	munmap(tmp, len);
}

/* What device @fd holds at @off, in a mapping the caller unmaps. */
static void *dev_get(int fd, off_t off, size_t len)
{
	void *tmp = map_anon(len, RW);

	if (pread(fd, tmp, len, off) != (ssize_t)len)
		memset(tmp, 0xee, len);
	return tmp;
}

/* An unlinked tmpfs file of @len bytes of pattern @seed. */
static int pattern_file(size_t len, unsigned int seed)
{
	char path[] = "/tmp/iou-cow.XXXXXX";
	void *tmp = map_anon(len, RW);
	int fd = mkstemp(path);

	if (fd < 0)
		die("mkstemp");
	unlink(path);
	fill(tmp, len, seed, 0);
	if (pwrite(fd, tmp, len, 0) != (ssize_t)len)
		die("pwrite");
	munmap(tmp, len);
	return fd;
}

static int ring_init(struct io_uring *ring)
{
	return io_uring_queue_init(8, ring, 0);
}

static int register_buf(struct io_uring *ring, void *buf, size_t len,
			enum mode mode)
{
	struct iovec iov = { .iov_base = buf, .iov_len = len };
	struct io_uring_rsrc_register rr = {
		.nr = 1,
		/* Pinned explicitly: flags 0 follow the sysctl. */
		.flags = mode == UNPINNED ? IORING_RSRC_REGISTER_UNPINNED :
					    IORING_RSRC_REGISTER_PINNED,
		.data = (uintptr_t)&iov,
	};

	return sys_register(ring->ring_fd, IORING_REGISTER_BUFFERS2, &rr,
			    sizeof(rr));
}

/* Queue a READ_FIXED or WRITE_FIXED on slot 0, not submitted yet. */
static void prep_rw(struct io_uring *ring, bool write, int fd, void *buf,
		    size_t len, off_t off)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	if (write)
		io_uring_prep_write_fixed(sqe, fd, buf, len, off, 0);
	else
		io_uring_prep_read_fixed(sqe, fd, buf, len, off, 0);
}

static int wait_res(struct io_uring *ring)
{
	struct io_uring_cqe *cqe;
	int ret = io_uring_wait_cqe(ring, &cqe);

	if (ret)
		return ret;
	ret = cqe->res;
	io_uring_cqe_seen(ring, cqe);
	return ret;
}

static int rw_fixed(struct io_uring *ring, bool write, int fd, void *buf,
		    size_t len, off_t off)
{
	int ret;

	prep_rw(ring, write, fd, buf, len, off);
	ret = io_uring_submit(ring);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	return wait_res(ring);
}

/*
 * A forked child and the two pipes to talk to it. The child says "ready"
 * with one byte, waits for "go", and ends with a report: results and a
 * line of text, which the parent judges (the child prints nothing, so
 * the TAP stream stays the parent's).
 */
struct kid {
	pid_t pid;
	int rd, wr;
};

struct report {
	int res[2];
	int shared;
	bool flag;
	char text[200];
};

static bool spawn(struct kid *k)
{
	int down[2], up[2];

	fflush(stdout);
	if (pipe(down) || pipe(up))
		die("pipe");
	k->pid = fork();
	if (k->pid < 0)
		die("fork");
	k->rd = k->pid ? up[0] : down[0];
	k->wr = k->pid ? down[1] : up[1];
	close(k->pid ? up[1] : down[1]);
	close(k->pid ? down[0] : up[0]);
	if (!k->pid) {
		/* The inherited fd shows the parent's page table, not ours. */
		close(pagemap);
		pagemap = open("/proc/self/pagemap", O_RDONLY);
	}
	return !k->pid;
}

static void tell(struct kid *k)
{
	if (write(k->wr, "x", 1) != 1 && !k->pid)
		_exit(3);
}

static bool hear(struct kid *k)
{
	char c;

	return read(k->rd, &c, 1) == 1;
}

static void __attribute__((noreturn)) kid_exit(struct kid *k, struct report *r)
{
	_exit(write(k->wr, r, sizeof(*r)) == sizeof(*r) ? 0 : 2);
}

/* The child's report; false (with the reason in @r) if it died instead. */
static bool collect(struct kid *k, struct report *r)
{
	int status = 0;
	bool got = read(k->rd, r, sizeof(*r)) == sizeof(*r);

	waitpid(k->pid, &status, 0);
	close(k->rd);
	close(k->wr);
	if (!got)
		snprintf(r->text, sizeof(r->text), "no report from the child (status 0x%x)",
			 status);
	return got && WIFEXITED(status) && !WEXITSTATUS(status);
}

/* ---- 1. the child reads the parent -------------------------------------- */

#define C1_SIZE		(4 * PAGE)

/*
 * The child: registers its COW-shared view, maybe reads it once through
 * the device (a WRITE_FIXED) and drops it, lets the parent write its
 * secret, then WRITE_FIXEDs the buffer to @sink and reports what the
 * sink holds.
 */
static void __attribute__((noreturn))
kid_reads(struct kid *k, enum mode mode, unsigned char *buf,
	  const unsigned long *parent_pfns, bool read_before, bool dontneed,
	  off_t sink)
{
	struct report r = { .res = { 0, 0 } };
	struct io_uring ring;
	unsigned char *out;
	int ret;

	ret = ring_init(&ring);
	if (!ret)
		ret = register_buf(&ring, buf, C1_SIZE, mode);
	if (ret) {
		snprintf(r.text, sizeof(r.text), "child: ring or register: %s",
			 strerror(-ret));
		kid_exit(k, &r);
	}
	/* A read through the buffer, before the secret, to another place. */
	if (read_before)
		r.res[0] = rw_fixed(&ring, true, fast_fd, buf, C1_SIZE,
				    sink + C1_SIZE);
	if (dontneed && madvise(buf, C1_SIZE, MADV_DONTNEED))
		r.res[0] = -errno;
	r.shared = pfns_kept(buf, C1_SIZE / PAGE, parent_pfns);
	tell(k);
	if (!hear(k))
		_exit(3);
	r.res[1] = rw_fixed(&ring, true, fast_fd, buf, C1_SIZE, sink);
	out = dev_get(fast_fd, sink, C1_SIZE);
	/* flag: the secret reached the sink, even one sector of it. */
	r.flag = any_sector(out, C1_SIZE, S_SECRET);
	snprintf(r.text, sizeof(r.text), "%s", what(out, C1_SIZE, 0));
	kid_exit(k, &r);
}

static void case_child_reads(enum mode mode, bool read_before, bool dontneed,
			     off_t sink)
{
	unsigned char *buf = map_anon(C1_SIZE, RW);
	unsigned long parent_pfns[C1_SIZE / PAGE];
	int want_shared;
	const char *want;
	struct report r;
	struct kid k;
	bool ok, want_zero;

	fill(buf, C1_SIZE, S_OLD, 0);
	pfns(buf, C1_SIZE / PAGE, parent_pfns);
	/* The sink holds neither: whatever it ends with, the child wrote. */
	dev_fill(fast_fd, sink, C1_SIZE, S_SINK);
	if (spawn(&k))
		kid_reads(&k, mode, buf, parent_pfns, read_before, dontneed, sink);
	if (hear(&k))
		/* The parent's write: in place if the child no longer maps it. */
		fill(buf, C1_SIZE, S_SECRET, 0);
	tell(&k);
	ok = collect(&k, &r);
	/*
	 * Unpinned and dropped: the registration names the child's
	 * addresses, which map nothing now; the read faults the zero page.
	 */
	want_zero = mode == UNPINNED && dontneed;
	want = want_zero ? "zeros" : "the old data";
	/*
	 * When the parent writes, the child shares its page frames only if
	 * nothing unshared them: a pinned registration write-faults (COW
	 * break), an unpinned read unshares as a read-only FOLL_PIN does,
	 * an unpinned registration alone faults nothing.
	 */
	want_shared = mode == UNPINNED && !read_before && !dontneed ?
		      C1_SIZE / PAGE : 0;
	ok = ok && !r.flag && r.res[1] == C1_SIZE && !strcmp(r.text, want) &&
	     (!read_before || r.res[0] == C1_SIZE) && r.shared == want_shared;
	tap(ok, "%s, child reads the parent%s%s: the child shared %d of %d page frames with the parent when it wrote (want %d); child's WRITE_FIXED %d, the sink holds %s (want %s, never the secret)",
	    mode_name[mode], read_before ? ", read before" : "",
	    dontneed ? ", dontneed" : "", r.shared, C1_SIZE / PAGE, want_shared,
	    r.res[1], r.text, want);
	munmap(buf, C1_SIZE);
}

/* ---- 2. fork with a device write in flight ----------------------------- */

#define C2_PAGES	4
#define C2_SIZE		(C2_PAGES * PAGE)
/* Each read fills the middle of one page; the parent writes the rest. */
#define SPAN_OFF	1024
#define SPAN_LEN	2048
/*
 * The throttled device lets 20971 bytes through per 20 ms tick and
 * requeues the rest in order: each 16 KiB filler ahead of the spans takes
 * a tick of its own, so the spans are copied ~C2_FILLERS ticks after
 * submitting. Fillers sit 32 KiB apart so none merge into a request the
 * budget can never pass.
 */
#define C2_FILLERS	16
#define C2_FILLER	(16 * 1024)
#define C2_FILL_OFF	(1 << 20)
/* How late the spans must end for the device to have written late. */
#define LATE_MS		100

static void start_spans(struct io_uring *ring, unsigned char *buf, off_t devoff)
{
	int i;

	for (i = 0; i < C2_PAGES; i++)
		prep_rw(ring, false, thr_fd, buf + i * PAGE + SPAN_OFF,
			SPAN_LEN, devoff + i * SPAN_LEN);
	if (io_uring_submit(ring) != C2_PAGES)
		die("submit");
}

static int end_spans(struct io_uring *ring)
{
	int i, bad = 0;

	for (i = 0; i < C2_PAGES; i++)
		bad += wait_res(ring) != SPAN_LEN;
	return bad;
}

/* Plain reads that hold the throttled device's queue for a while. */
static void start_fillers(struct io_uring *ring, unsigned char *buf)
{
	int i;

	for (i = 0; i < C2_FILLERS; i++)
		io_uring_prep_read(io_uring_get_sqe(ring), thr_fd,
				   buf + i * C2_FILLER, C2_FILLER,
				   C2_FILL_OFF + i * 2 * C2_FILLER);
	if (io_uring_submit(ring) != C2_FILLERS)
		die("submit fillers");
}

static int end_fillers(struct io_uring *ring)
{
	int i, bad = 0;

	for (i = 0; i < C2_FILLERS; i++)
		bad += wait_res(ring) != C2_FILLER;
	return bad;
}

/* The parts of page @i outside its read span hold pattern @seed. */
static bool outside_is(const unsigned char *buf, int i, unsigned int seed)
{
	size_t p = i * PAGE, end = SPAN_OFF + SPAN_LEN;

	return same(buf + p, SPAN_OFF, seed, p) &&
	       same(buf + p + end, PAGE - end, seed, p + end);
}

static bool span_is_dev(const unsigned char *buf, int i)
{
	return same(buf + i * PAGE + SPAN_OFF, SPAN_LEN, S_DEV, i * SPAN_LEN);
}

static bool span_is_pre(const unsigned char *buf, int i)
{
	return same(buf + i * PAGE + SPAN_OFF, SPAN_LEN, S_PRE,
		    i * PAGE + SPAN_OFF);
}

/*
 * The child, once the parent's reads ended: its memory is as at fork,
 * the spans too, as the device wrote them only after the fork.
 */
static void __attribute__((noreturn)) kid_prefork(struct kid *k, unsigned char *buf)
{
	struct report r;
	int i, dev = 0, pre = 0;
	bool outside = true;

	if (!hear(k))
		_exit(3);
	for (i = 0; i < C2_PAGES; i++) {
		outside &= outside_is(buf, i, S_PRE);
		dev += span_is_dev(buf, i);
		pre += span_is_pre(buf, i);
	}
	r.flag = outside && pre == C2_PAGES;
	snprintf(r.text, sizeof(r.text),
		 "outside the spans %s; %d of %d spans hold pre-fork data, %d device data",
		 outside ? "pre-fork data" : "NOT pre-fork data", pre, C2_PAGES,
		 dev);
	kid_exit(k, &r);
}

static bool case_fork_inflight(enum mode mode, off_t devoff, bool last)
{
	unsigned char *buf = map_anon(C2_SIZE, RW);
	unsigned char *filler = map_anon(C2_FILLERS * C2_FILLER, RW);
	unsigned long before[C2_PAGES];
	bool parent_ok = true, kid_ok;
	struct io_uring ring, fring;
	unsigned int kept;
	struct report r;
	double t0, t, te;
	int i, bad, early = 0, odd = 0, n = tap_n;
	char name[80];
	struct kid k;

	snprintf(name, sizeof(name), "%s, fork with reads in flight",
		 mode_name[mode]);
	madvise(buf, C2_SIZE, MADV_NOHUGEPAGE);
	dev_fill(thr_fd, devoff, C2_PAGES * SPAN_LEN, S_DEV);
	if (ring_init(&ring) || register_buf(&ring, buf, C2_SIZE, mode) ||
	    io_uring_queue_init(2 * C2_FILLERS, &fring, 0))
		die("ring");
	/* Once first, so the reads in flight use the mirror's cached pages. */
	start_spans(&ring, buf, devoff);
	end_spans(&ring);
	fill(buf, C2_SIZE, S_PRE, 0);
	pfns(buf, C2_PAGES, before);
	t0 = now();
	start_fillers(&fring, filler);
	start_spans(&ring, buf, devoff);
	usleep(30000);
	if (spawn(&k))
		kid_prefork(&k, buf);
	/* Write the rest of the very pages the device is to write. */
	for (i = 0; i < C2_PAGES; i++) {
		fill(buf + i * PAGE, SPAN_OFF, S_POST, i * PAGE);
		fill(buf + i * PAGE + SPAN_OFF + SPAN_LEN,
		     PAGE - SPAN_OFF - SPAN_LEN, S_POST,
		     i * PAGE + SPAN_OFF + SPAN_LEN);
	}
	/*
	 * The CPU's view now: the device has not written the spans yet.
	 * Device data there means it came before the act (timing, tried
	 * again); anything else but pre-fork data is wrong.
	 */
	for (i = 0; i < C2_PAGES; i++) {
		early += span_is_dev(buf, i);
		odd += !span_is_dev(buf, i) && !span_is_pre(buf, i);
	}
	t = now() - t0;
	kept = pfns_kept(buf, C2_PAGES, before);
	bad = end_spans(&ring);
	te = now() - t0;
	bad += end_fillers(&fring);
	for (i = 0; i < C2_PAGES; i++)
		parent_ok &= span_is_dev(buf, i) && outside_is(buf, i, S_POST);
	tell(&k);
	kid_ok = collect(&k, &r) && r.flag;
	if (missed(t, early && !odd, last, name, 2))
		goto out;
	tap(te >= LATE_MS / 1e3 && !odd && !bad && parent_ok && kept == C2_PAGES,
	    "%s: the parent wrote its pages %.0f ms after submitting, the spans held %s then, the reads ended %.0f ms after submitting (want >= %d), %d reads failed, it sees %s, kept %u of %d page frames",
	    name, t * 1e3, odd ? "OTHER DATA" : "pre-fork data", te * 1e3, LATE_MS, bad,
	    parent_ok ? "the device data and its writes" : "WRONG DATA", kept,
	    C2_PAGES);
	tap(kid_ok, "%s: the child sees %s (want pre-fork data everywhere)",
	    name, r.text);
out:
	io_uring_queue_exit(&ring);
	io_uring_queue_exit(&fring);
	munmap(buf, C2_SIZE);
	munmap(filler, C2_FILLERS * C2_FILLER);
	return tap_n != n;
}

/*
 * The same, with a pipe as the device: the request waits for data, which
 * comes after the fork and the parent's writes, as a late DMA would.
 */
static void __attribute__((noreturn)) kid_pipe(struct kid *k, unsigned char *buf)
{
	struct report r;

	if (!hear(k))
		_exit(3);
	r.flag = same(buf, 2 * PAGE, S_PRE, 0);
	snprintf(r.text, sizeof(r.text), "%s", what(buf, 2 * PAGE, 0));
	kid_exit(k, &r);
}

static void case_fork_pipe(enum mode mode)
{
	unsigned char *buf = map_anon(2 * PAGE, RW), *data = map_anon(SPAN_LEN, RW);
	struct io_uring ring;
	struct report r;
	struct kid k;
	int p[2], res;
	bool ok;

	madvise(buf, 2 * PAGE, MADV_NOHUGEPAGE);
	if (pipe(p) || ring_init(&ring) || register_buf(&ring, buf, 2 * PAGE, mode))
		die("pipe ring");
	fill(buf, 2 * PAGE, S_PRE, 0);
	prep_rw(&ring, false, p[0], buf + SPAN_OFF, SPAN_LEN, 0);
	if (io_uring_submit(&ring) != 1)
		die("submit");
	usleep(20000);
	if (spawn(&k)) {
		close(p[1]);
		kid_pipe(&k, buf);
	}
	fill(buf, SPAN_OFF, S_POST, 0);
	fill(buf + SPAN_OFF + SPAN_LEN, 2 * PAGE - SPAN_OFF - SPAN_LEN, S_POST,
	     SPAN_OFF + SPAN_LEN);
	fill(data, SPAN_LEN, S_DEV, 0);
	if (write(p[1], data, SPAN_LEN) != SPAN_LEN)
		die("pipe write");
	res = wait_res(&ring);
	ok = res == SPAN_LEN && same(buf + SPAN_OFF, SPAN_LEN, S_DEV, 0) &&
	     same(buf, SPAN_OFF, S_POST, 0) &&
	     same(buf + SPAN_OFF + SPAN_LEN, 2 * PAGE - SPAN_OFF - SPAN_LEN,
		  S_POST, SPAN_OFF + SPAN_LEN);
	tell(&k);
	tap(ok, "%s, fork, then data from a pipe: read %d, the parent sees %s",
	    mode_name[mode], res, ok ? "the data and its writes" : "WRONG DATA");
	ok = collect(&k, &r) && r.flag;
	tap(ok, "%s, fork, then data from a pipe: the child sees %s (want pre-fork data)",
	    mode_name[mode], r.text);
	io_uring_queue_exit(&ring);
	close(p[0]);
	close(p[1]);
	munmap(buf, 2 * PAGE);
	munmap(data, SPAN_LEN);
}

/* ---- 3. MADV_DONTFORK and the inherited ring ---------------------------- */

/*
 * Four pages, read spans in the middle: the parent's read fills
 * [SPAN_OFF, PAGE + SPAN_OFF + SPAN_LEN) of pages 0-1; the child's
 * O_DIRECT and buffered reads [SPAN_OFF, SPAN_OFF + SPAN_LEN) of pages 2
 * and 3. The parent writes the rest after the fork.
 */
#define C3_SIZE		(4 * PAGE)
#define C3_READ_LEN	(PAGE + SPAN_LEN)
/* On the fast device, after the child's span: what the buffer starts with. */
#define C3_PRE_OFF	(64 * 1024)

/* The bytes no read fills, [from, to). */
static const size_t c3_rest_range[][2] = {
	{ 0, SPAN_OFF },
	{ PAGE + SPAN_OFF + SPAN_LEN, 2 * PAGE + SPAN_OFF },
	{ 2 * PAGE + SPAN_OFF + SPAN_LEN, 3 * PAGE + SPAN_OFF },
	{ 3 * PAGE + SPAN_OFF + SPAN_LEN, C3_SIZE },
};

/* Fill the bytes no read fills with pattern @seed, or (@check) test them. */
static bool c3_rest(unsigned char *buf, unsigned int seed, bool check)
{
	bool ok = true;
	int i;

	for (i = 0; i < 4; i++) {
		size_t from = c3_rest_range[i][0];
		size_t len = c3_rest_range[i][1] - from;

		if (check)
			ok &= same(buf + from, len, seed, from);
		else
			fill(buf + from, len, seed, from);
	}
	return ok;
}

/* What the span of page @i (2 or 3) holds, its data being @seed. */
static const char *c3_span_what(const unsigned char *buf, int i,
				unsigned int seed, const char *name)
{
	const unsigned char *p = buf + i * PAGE + SPAN_OFF;

	if (same(p, SPAN_LEN, seed, 0))
		return name;
	if (same(p, SPAN_LEN, S_PRE, i * PAGE + SPAN_OFF))
		return "PRE-FORK DATA";
	return "OTHER DATA";
}

/*
 * The child: does it map the range? Then, once the parent's read ended,
 * READ_FIXEDs through the parent's ring into the spans of pages 2 and 3.
 */
static void __attribute__((noreturn))
kid_inherited(struct kid *k, struct io_uring *ring, unsigned char *buf,
	      off_t devoff, int file)
{
	struct report r;
	bool mapped = !(msync(buf, C3_SIZE, MS_ASYNC) && errno == ENOMEM);

	if (!hear(k))
		_exit(3);
	r.res[0] = rw_fixed(ring, false, fast_fd, buf + 2 * PAGE + SPAN_OFF,
			    SPAN_LEN, devoff);
	r.res[1] = rw_fixed(ring, false, file, buf + 3 * PAGE + SPAN_OFF,
			    SPAN_LEN, 0);
	/*
	 * flag: the child's own memory is as at fork: pre-fork data but in
	 * the parent's read span (null_blk may have copied it before fork).
	 */
	r.flag = !mapped || (c3_rest(buf, S_PRE, true) &&
			     same(buf + 2 * PAGE, 2 * PAGE, S_PRE, 2 * PAGE));
	snprintf(r.text, sizeof(r.text), "%s%s",
		 mapped ? "maps the range, its pages 2-3 hold " : "maps none of the range (msync ENOMEM)",
		 mapped ? what(buf + 2 * PAGE, 2 * PAGE, 2 * PAGE) : "");
	kid_exit(k, &r);
}

static bool case_inherited(enum mode mode, bool dontfork, off_t devoff,
			   bool last)
{
	unsigned char *buf = map_anon(C3_SIZE, RW);
	int file = pattern_file(SPAN_LEN, S_FILE), res, n = tap_n;
	bool ok, a_ok, data_ok, b_ok, c_ok, rest_ok;
	unsigned long before[C3_SIZE / PAGE];
	unsigned int kept, kept23, want23;
	struct io_uring ring;
	double t0, t, ts;
	struct report r;
	char name[80];
	struct kid k;

	snprintf(name, sizeof(name), "%s, %sfork with a read in flight",
		 mode_name[mode], dontfork ? "MADV_DONTFORK, " : "");
	madvise(buf, C3_SIZE, MADV_NOHUGEPAGE);
	if (dontfork && madvise(buf, C3_SIZE, MADV_DONTFORK))
		die("MADV_DONTFORK");
	dev_fill(slow_fd, devoff, C3_READ_LEN, S_DEV);
	dev_fill(fast_fd, devoff, SPAN_LEN, S_DEV2);
	dev_fill(fast_fd, devoff + C3_PRE_OFF, C3_SIZE, S_PRE);
	if (ring_init(&ring) || register_buf(&ring, buf, C3_SIZE, mode))
		die("ring");
	/*
	 * A read into all four pages before the fork, so an unpinned buffer
	 * has them all in its mirror, writable: fork's write-protect must
	 * take them out of it.
	 */
	if (rw_fixed(&ring, false, fast_fd, buf, C3_SIZE, devoff + C3_PRE_OFF) !=
	    C3_SIZE)
		die("first read");
	/*
	 * An unpinned buffer counts its spans in epochs, and fork pins (so
	 * copies for the child) every page used in an epoch that still has
	 * a span out; the epoch moves on only when an invalidation parks a
	 * pin. Park one (page 0 changes protection under a read on the
	 * slow device, of the data page 0 has), so that the read in flight
	 * at fork is of a later epoch than the first read: fork then shares
	 * pages 2-3 with the child, and the parent's write moves them to new
	 * frames.
	 */
	dev_fill(slow_fd, devoff + C3_PRE_OFF, PAGE, S_PRE);
	prep_rw(&ring, false, slow_fd, buf, PAGE, devoff + C3_PRE_OFF);
	if (io_uring_submit(&ring) != 1)
		die("submit");
	mprotect(buf, PAGE, PROT_READ);
	mprotect(buf, PAGE, RW);
	if (wait_res(&ring) != PAGE)
		die("epoch read");
	pfns(buf, C3_SIZE / PAGE, before);
	t0 = now();
	prep_rw(&ring, false, slow_fd, buf + SPAN_OFF, C3_READ_LEN, devoff);
	if (io_uring_submit(&ring) != 1)
		die("submit");
	ts = now() - t0;
	usleep(30000);
	if (spawn(&k))
		kid_inherited(&k, &ring, buf, devoff, file);
	/*
	 * Right after the fork, every byte no read fills: a page still
	 * shared with the child moves to a new frame in the parent.
	 */
	c3_rest(buf, S_POST, false);
	t = now() - t0;
	/* The parent's read ends before the child uses the ring. */
	res = wait_res(&ring);
	kept = pfns_kept(buf, 2, before);
	kept23 = pfns_kept(buf + 2 * PAGE, 2, before + 2);
	data_ok = same(buf + SPAN_OFF, C3_READ_LEN, S_DEV, 0) &&
		  c3_rest(buf, S_POST, true);
	a_ok = res == C3_READ_LEN && data_ok && kept == 2;
	tell(&k);
	ok = collect(&k, &r);
	if (t >= SLOW_MS / 1e3)
		diag("the submit took %.0f ms", ts * 1e3);
	if (missed(t, t >= SLOW_MS / 1e3, last, name, 2))
		goto out;
	/* The child's text says whether it maps the range. */
	tap(ok && a_ok && !strncmp(r.text, "maps none", 9) == dontfork,
	    "%s (the parent wrote its pages %.0f ms after submitting): the child %s; the parent's read %d, it sees %s, kept %u of 2 page frames",
	    name, t * 1e3, r.text, res,
	    data_ok ? "the device data and its writes" : "WRONG DATA", kept);
	b_ok = r.res[0] == SPAN_LEN &&
	       same(buf + 2 * PAGE + SPAN_OFF, SPAN_LEN, S_DEV2, 0);
	c_ok = r.res[1] == SPAN_LEN &&
	       same(buf + 3 * PAGE + SPAN_OFF, SPAN_LEN, S_FILE, 0);
	rest_ok = c3_rest(buf, S_POST, true);
	/*
	 * Pages 2-3 stay in their frames when pinned (fork copied them) or
	 * when the child maps nothing; unpinned and shared, the parent's
	 * write moved them, which is what puts a stale mirror to the test.
	 */
	want23 = mode == UNPINNED && !dontfork ? 0 : 2;
	tap(ok && b_ok && c_ok && rest_ok && r.flag && kept23 == want23,
	    "%s, %sinherited ring: the child's O_DIRECT READ_FIXED %d and buffered READ_FIXED %d; the parent's spans hold %s and %s (want device data and file data), the rest %s, pages 2-3 in %u of 2 frames they had (want %u)%s",
	    mode_name[mode], dontfork ? "MADV_DONTFORK, " : "", r.res[0], r.res[1],
	    c3_span_what(buf, 2, S_DEV2, "device data"),
	    c3_span_what(buf, 3, S_FILE, "file data"),
	    rest_ok ? "its writes" : "NOT ITS WRITES", kept23, want23,
	    r.flag ? "" : "; the child's own memory CHANGED");
out:
	io_uring_queue_exit(&ring);
	munmap(buf, C3_SIZE);
	close(file);
	return tap_n != n;
}

/* ---- 4. THP split with a read in flight --------------------------------- */

/*
 * The read fills C4_SPAN bytes from C4_OFF, in the first C4_PAGES pages;
 * the parent writes the rest of those pages, [0, C4_OFF) and
 * [C4_OFF + C4_SPAN, C4_END).
 */
#define C4_OFF		1024
#define C4_SPAN		(64 * 1024)
#define C4_PAGES	((C4_OFF + C4_SPAN + PAGE - 1) / PAGE)
#define C4_END		(C4_PAGES * PAGE)
/* The 4k page split off: in the half of the THP the read does not touch. */
#define C4_HOLE		(3 * THP_SIZE / 4)

enum split { SPLIT_DONTNEED, SPLIT_MPROTECT, SPLIT_FORK };
static const char *const split_name[] = {
	"MADV_DONTNEED of a 4k page", "mprotect of a 4k page", "fork, the child writes",
};

/* AnonHugePages of the VMA that holds @addr, in KiB; -1 if none. */
static long anon_huge_kib(const void *addr)
{
	unsigned long start, end, a = (uintptr_t)addr;
	char line[512];
	bool in = false;
	long kib = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		die("smaps");
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = start <= a && a < end;
		else if (in && sscanf(line, "AnonHugePages: %ld kB", &kib) == 1)
			break;
	}
	fclose(f);
	return kib;
}

/* A 2 MiB-aligned THP of pattern S_PRE inside a 4 MiB mapping, or NULL. */
static unsigned char *thp_get(unsigned char **map)
{
	unsigned char *thp;

	*map = map_anon(2 * THP_SIZE, RW);
	thp = (unsigned char *)(((uintptr_t)*map + THP_SIZE - 1) & ~(THP_SIZE - 1));
	madvise(thp, THP_SIZE, MADV_HUGEPAGE);
	fill(thp, THP_SIZE, S_PRE, 0);
	if (anon_huge_kib(thp) >= (long)(THP_SIZE >> 10))
		return thp;
	munmap(*map, 2 * THP_SIZE);
	return NULL;
}

/* The child writes the span and the split page, and then sees only those. */
static void __attribute__((noreturn)) kid_thp(struct kid *k, unsigned char *thp)
{
	struct report r;

	fill(thp, 2 * C4_SPAN, S_KID, 0);
	fill(thp + C4_HOLE, PAGE, S_KID, C4_HOLE);
	tell(k);
	if (!hear(k))
		_exit(3);
	r.flag = same(thp, 2 * C4_SPAN, S_KID, 0) &&
		 same(thp + C4_HOLE, PAGE, S_KID, C4_HOLE) &&
		 same(thp + 2 * C4_SPAN, C4_HOLE - 2 * C4_SPAN, S_PRE, 2 * C4_SPAN) &&
		 same(thp + C4_HOLE + PAGE, THP_SIZE - C4_HOLE - PAGE, S_PRE,
		      C4_HOLE + PAGE);
	snprintf(r.text, sizeof(r.text), "the child sees %s",
		 r.flag ? "its writes and pre-fork data" : "OTHER DATA");
	kid_exit(k, &r);
}

/* The parent's write, after the act, to the span's pages around it. */
static void thp_write_around(unsigned char *thp)
{
	fill(thp, C4_OFF, S_POST, 0);
	fill(thp + C4_OFF + C4_SPAN, C4_END - C4_OFF - C4_SPAN, S_POST,
	     C4_OFF + C4_SPAN);
}

/*
 * After the read: the span has the data, the rest of its pages the
 * parent's writes, the rest of the THP what the parent had.
 */
static bool thp_as_parent_left_it(const unsigned char *thp, enum split how)
{
	bool ok = same(thp, C4_OFF, S_POST, 0) &&
		  same(thp + C4_OFF, C4_SPAN, S_DEV, 0) &&
		  same(thp + C4_OFF + C4_SPAN, C4_END - C4_OFF - C4_SPAN, S_POST,
		       C4_OFF + C4_SPAN) &&
		  same(thp + C4_END, C4_HOLE - C4_END, S_PRE, C4_END) &&
		  same(thp + C4_HOLE + PAGE, THP_SIZE - C4_HOLE - PAGE, S_PRE,
		       C4_HOLE + PAGE);

	if (how == SPLIT_DONTNEED)
		return ok && zero(thp + C4_HOLE, PAGE);
	return ok && same(thp + C4_HOLE, PAGE, S_PRE, C4_HOLE);
}

static bool case_thp(enum mode mode, enum split how, off_t devoff, bool last)
{
	unsigned long before[C4_PAGES];
	unsigned char *map, *thp = thp_get(&map);
	struct report r = { .flag = true };
	long huge_before, huge_after;
	bool data_ok, huge_ok, kid_ok = true;
	struct io_uring ring;
	unsigned int kept;
	double t0, t;
	int res, n = tap_n;
	char name[80];
	struct kid k;

	snprintf(name, sizeof(name), "%s, THP, %s", mode_name[mode],
		 split_name[how]);
	if (!thp) {
		skip(name, "no THP for the buffer");
		return true;
	}
	dev_fill(slow_fd, devoff, C4_SPAN, S_DEV);
	if (ring_init(&ring) || register_buf(&ring, thp, THP_SIZE, mode))
		die("ring");
	/* Once first, so the read in flight uses the mirror's cached pages. */
	if (rw_fixed(&ring, false, slow_fd, thp + C4_OFF, C4_SPAN, devoff) !=
	    C4_SPAN)
		die("first read");
	fill(thp, C4_END, S_PRE, 0);
	huge_before = anon_huge_kib(thp);
	pfns(thp, C4_PAGES, before);
	t0 = now();
	prep_rw(&ring, false, slow_fd, thp + C4_OFF, C4_SPAN, devoff);
	if (io_uring_submit(&ring) != 1)
		die("submit");
	usleep(30000);
	switch (how) {
	case SPLIT_DONTNEED:
		madvise(thp + C4_HOLE, PAGE, MADV_DONTNEED);
		break;
	case SPLIT_MPROTECT:
		mprotect(thp + C4_HOLE, PAGE, PROT_READ);
		break;
	case SPLIT_FORK:
		if (spawn(&k))
			kid_thp(&k, thp);
		hear(&k);
		break;
	}
	huge_after = anon_huge_kib(thp);
	/*
	 * The span's pages: their frames stay the parent's through a split
	 * anyway, but a fork that shared them leaves them write-protected,
	 * and this write would move them to new frames the read misses.
	 */
	thp_write_around(thp);
	t = now() - t0;
	res = wait_res(&ring);
	kept = pfns_kept(thp, C4_PAGES, before);
	data_ok = res == C4_SPAN && thp_as_parent_left_it(thp, how);
	/* A split must show: the THP no longer PMD-mapped. */
	huge_ok = huge_before >= (long)(THP_SIZE >> 10) &&
		  (how == SPLIT_FORK || huge_after < huge_before);
	if (how == SPLIT_FORK) {
		tell(&k);
		kid_ok = collect(&k, &r) && r.flag;
	}
	if (missed(t, t >= SLOW_MS / 1e3, last, name, 1))
		goto out;
	tap(data_ok && huge_ok && kept == C4_PAGES && kid_ok,
	    "%s %.0f ms after submitting a read, the parent's writes around it then: AnonHugePages %ld -> %ld kB (want 2048 -> %s); read %d, the parent sees %s, kept %u of %d page frames%s%s",
	    name, t * 1e3, huge_before, huge_after,
	    how == SPLIT_FORK ? "any" : "less", res,
	    data_ok ? (how == SPLIT_DONTNEED ? "the data and its writes, and zeros in the dropped page" :
		       "the data and its writes where it maps them") : "WRONG DATA",
	    kept, C4_PAGES, how == SPLIT_FORK ? "; " : "",
	    how == SPLIT_FORK ? r.text : "");
out:
	io_uring_queue_exit(&ring);
	munmap(map, 2 * THP_SIZE);
	return tap_n != n;
}

/* ---- pins -------------------------------------------------------------- */

static long pins_held(void)
{
	long acq, rel;

	pin_counts(&acq, &rel);
	return acq - rel;
}

/*
 * Rings are torn down by a workqueue after close, and parked pins are
 * released by a work item once their epochs drain: allow them 60 s on a
 * slow emulated guest, done as soon as the count is back.
 */
static void check_pins_balanced(void)
{
	double t0 = now();
	long held = pins_held(), acq, rel;

	while (held != pins_at_start && now() - t0 < 60) {
		usleep(50000);
		held = pins_held();
	}
	if (held != pins_at_start) {
		pin_counts(&acq, &rel);
		diag("after %.0f s, %ld FOLL_PIN pins more than before the cases are still held (nr_foll_pin_acquired %ld, nr_foll_pin_released %ld)",
		     now() - t0, held - pins_at_start, acq, rel);
	}
	tap(held == pins_at_start,
	    "FOLL_PIN balanced once every ring is closed: %ld held (%ld before the cases), after %.1f s",
	    held, pins_at_start, now() - t0);
}

int main(int argc, char **argv)
{
	enum mode mode;
	enum split how;
	int v, try;

	if (argc != 4) {
		fprintf(stderr, "usage: %s FAST_DEVICE SLOW_DEVICE THROTTLED_DEVICE\n",
			argv[0]);
		return 2;
	}
	fast_fd = open(argv[1], O_RDWR | O_DIRECT);
	slow_fd = open(argv[2], O_RDWR | O_DIRECT);
	thr_fd = open(argv[3], O_RDWR | O_DIRECT);
	pagemap = open("/proc/self/pagemap", O_RDONLY);
	if (fast_fd < 0 || slow_fd < 0 || thr_fd < 0 || pagemap < 0)
		die("open");
	printf("TAP version 13\n");
	pins_at_start = pins_held();
	/*
	 * A case whose act came after its read ended (a stalled host) is run
	 * again, up to 3 times, then skipped.
	 *
	 * 1. The child reads the parent, 4 variants (bit 0: read before,
	 * bit 1: dontneed), each with its own 64 KiB of the fast device.
	 * Want: the sink holds the old data, never the secret; unpinned
	 * and dontneed, zeros.
	 */
	for (mode = PINNED; mode <= UNPINNED; mode++)
		for (v = 0; v < 4; v++)
			case_child_reads(mode, v & 1, v & 2,
					 (mode * 4 + v) * 64 * 1024);
	/*
	 * 2. Fork with reads in flight on the throttled device, then the
	 * parent writes the same pages, then the device writes the spans.
	 * Want, both modes: the parent sees the data and its writes in the
	 * frames it had, the child only its pre-fork data; with a pipe, the
	 * late data lands in the parent only.
	 */
	for (mode = PINNED; mode <= UNPINNED; mode++) {
		for (try = 0; !case_fork_inflight(mode, 0, try == 2); try++)
			;
		case_fork_pipe(mode);
	}
	/*
	 * 3. MADV_DONTFORK (the child maps nothing) and not; the parent
	 * writes around the spans after the fork; the child's requests on
	 * the inherited ring. Want, both modes: everything lands in the
	 * parent, with its writes, the child's memory stays as at fork.
	 */
	for (mode = PINNED; mode <= UNPINNED; mode++) {
		for (try = 0; !case_inherited(mode, true, 1 << 20, try == 2); try++)
			;
		for (try = 0; !case_inherited(mode, false, 1 << 20, try == 2); try++)
			;
	}
	/*
	 * 4. A THP split, or forked and written by the child, under a read;
	 * the parent writes around the span. Want, both modes: the split
	 * shows in AnonHugePages, the data and the parent's writes in the
	 * parent's frames, zeros in the dropped page, the child's writes in
	 * the child only.
	 */
	for (mode = PINNED; mode <= UNPINNED; mode++)
		for (how = SPLIT_DONTNEED; how <= SPLIT_FORK; how++)
			for (try = 0; !case_thp(mode, how, 2 << 20, try == 2); try++)
				;
	/* Want: as many FOLL_PIN pins held as before the cases. */
	check_pins_balanced();
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
