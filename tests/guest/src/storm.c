// SPDX-License-Identifier: GPL-2.0
/*
 * A seeded, time-boxed storm: I/O on registered buffers while other
 * threads change the memory under it, the process forks, and rings come
 * and go with I/O in flight. Prints TAP and the figures of the run.
 *
 *   storm --seed S --seconds N --blockdev DEV --slow SLOW_DEV [--ext4 DIR]
 *         [--nvme NGDEV]
 *
 * I/O workers, each on its own ring and its own 2 MiB slot of memory,
 * registered as one fixed buffer:
 *
 *   nullb      O_DIRECT READ_FIXED/WRITE_FIXED on DEV (memory-backed), unpinned
 *   nullb-pin  the same, pinned at registration
 *   ext4       O_DIRECT on a file in DIR, unpinned
 *   tmpfs      buffered on a tmpfs file, unpinned
 *   send_zc    SEND_ZC over loopback TCP, unpinned
 *   nvme       NVMe passthrough (uring_cmd) on NGDEV, unpinned
 *
 * An operation writes a seeded pattern from one place of the slot to the
 * device, reads the device back with plain pread() into private memory
 * and compares, then reads it with READ_FIXED into another place of the
 * slot and compares again (send_zc: what arrives at the receiver). The
 * next operation first checks that what the last one left in the slot is
 * still there: nothing between operations (the fork child's writes, a
 * late device write, KSM, migration, swap) may change it. Half the
 * patterns repeat every page, so KSM finds identical pages to merge.
 * Requests go inline or through io-wq (IOSQE_ASYNC), up to four at once.
 * Slots are registered 2 MiB and a page less in turn, so that an update
 * of an unpinned slot makes a new mirror rather than finding it shared.
 *
 * Chaos threads meanwhile, on random slots:
 *
 *   preserving, at any time: move_pages() to the other node, MADV_PAGEOUT,
 *     MADV_HUGEPAGE/NOHUGEPAGE, MADV_COLLAPSE, a THP split through
 *     debugfs split_huge_pages, MADV_MERGEABLE/UNMERGEABLE, compaction,
 *     fork (the child writes every slot and exits), and re-registering
 *     the same range with IORING_REGISTER_BUFFERS_UPDATE;
 *   replacing, at any time: MADV_DONTNEED, mmap(MAP_FIXED) over the slot
 *     (what munmap() and mmap() do, without a window where a worker's
 *     own writes would fault);
 *   excluding the slot's worker: mprotect(PROT_READ or PROT_NONE) and
 *     back, mremap() away and back.
 *
 * Preserving changes keep the data: any difference is a mismatch, printed
 * with the seed, the worker, the offset, what was expected and what was
 * found. An operation a replacing change overlapped is not compared (the
 * memory it used is gone), but its requests must still return their
 * length: the mapping is swapped under the mmap lock, never absent. A
 * pinned worker registers its slot again after a replacement, as a
 * pinned buffer's user must. A ring-exit thread meanwhile registers
 * private buffers, submits reads on a slow device and closes the ring (or
 * exits a forked child) with the reads in flight.
 *
 * Pins balanced and memory returned are checked by the caller
 * (tests/guest/t/storm.sh), once every process has exited.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <linux/nvme_ioctl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest-test.h"

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE			25
#endif

#define PAGE		4096UL
#define SLOT		(2UL << 20)
/* What operations use: within either registered length. */
#define USABLE		(SLOT - PAGE)
#define MAX_IO		(256UL << 10)
#define MAX_QD		4
#define min(a, b)	((a) < (b) ? (a) : (b))
#define CHAOS_THREADS	2
/* Each worker's region of the block device or file. */
#define REGION		SLOT

enum target { NULLB, NULLB_PIN, EXT4, TMPFS, SEND_ZC, NVME, NR_TARGETS };
static const char *const target_name[] = {
	"nullb", "nullb-pin", "ext4", "tmpfs", "send_zc", "nvme",
};

enum chaos {
	C_MIGRATE, C_PAGEOUT, C_HUGE, C_NOHUGE, C_COLLAPSE, C_SPLIT, C_KSM,
	C_UNKSM, C_COMPACT, C_FORK, C_UPDATE,
	C_DONTNEED, C_REMAP,
	C_MPROTECT, C_MREMAP,
	NR_CHAOS
};
static const char *const chaos_name[] = {
	"move_pages", "pageout", "hugepage", "nohugepage", "collapse",
	"thp-split", "mergeable", "unmergeable", "compact", "fork",
	"buffers-update", "dontneed", "mmap-fixed", "mprotect", "mremap",
};
/* Relative weights: compaction and fork cost most under emulation. */
static const unsigned int chaos_weight[NR_CHAOS] = {
	[C_MIGRATE] = 6, [C_PAGEOUT] = 4, [C_HUGE] = 3, [C_NOHUGE] = 2,
	[C_COLLAPSE] = 2, [C_SPLIT] = 3, [C_KSM] = 2, [C_UNKSM] = 1,
	[C_COMPACT] = 1, [C_FORK] = 3, [C_UPDATE] = 3,
	[C_DONTNEED] = 3, [C_REMAP] = 2,
	[C_MPROTECT] = 3, [C_MREMAP] = 2,
};

struct worker {
	int id;
	enum target target;
	pthread_t thread;
	struct io_uring ring;
	unsigned char *slot;
	/* the I/O fd, and one to check what the device holds */
	int fd, check_fd, rx;
	unsigned int nsid;
	off_t region;
	uint64_t rng;
	/* held by the worker's operation and by chaos that excludes it */
	pthread_mutex_t io_lock;
	/* held by every chaos change of the slot's mappings */
	pthread_mutex_t shape_lock;
	/* odd while a replacing change runs; bumped before and after it */
	atomic_uint replaced;
	unsigned int replaced_seen;
	/* registrations so far: each uses the other length than the last */
	atomic_uint registrations;
	/*
	 * What the last verified operation left in the slot, to check again:
	 * the area it read into, and the one it wrote from where apart.
	 */
	size_t rest_off, rest_len, rest_woff;
	bool rest_write;
	uint64_t rest_tag, rest_pos;
	unsigned int rest_seen;
	bool rest_valid;
	/* figures */
	unsigned long ops, verified, unverified, rested, reregistered;
	unsigned long bytes, mismatches, bad_results;
};

static struct worker workers[NR_TARGETS];
static unsigned int nr_workers;
static uint64_t seed;
static atomic_int stop;
static atomic_ulong chaos_done[NR_CHAOS], chaos_failed[NR_CHAOS];
static atomic_ulong exits, exits_forked, exit_reads, pages_migrated;
static const char *blockdev, *slowdev, *ext4_dir, *nvme_dev;
static bool split_debugfs;
static pthread_mutex_t print_lock = PTHREAD_MUTEX_INITIALIZER;

static uint64_t next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static uint64_t below(uint64_t *s, uint64_t n)
{
	return next(s) % n;
}

/*
 * The pattern byte at device position @pos of a write tagged @tag: every
 * byte depends on the tag and the position, or, for a page-periodic tag,
 * on the position within the page, so that KSM can merge its pages.
 */
static unsigned char pattern(uint64_t tag, uint64_t pos)
{
	uint64_t z = tag & 1 ? pos % PAGE : pos;

	z = (z >> 3) * 0x9e3779b97f4a7c15ULL ^ tag * 0xbf58476d1ce4e5b9ULL;
	z ^= z >> 29;
	return z >> ((pos & 7) * 8);
}

static void fill(unsigned char *p, size_t len, uint64_t tag, uint64_t pos)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = pattern(tag, pos + i);
}

/* Compare; report the first difference of a worker's first mismatches. */
static bool matches(struct worker *w, const char *what, const unsigned char *p,
		    size_t len, uint64_t tag, uint64_t pos)
{
	size_t i;

	for (i = 0; i < len; i++) {
		if (p[i] == pattern(tag, pos + i))
			continue;
		if (w->mismatches >= 5)
			return false;
		pthread_mutex_lock(&print_lock);
		diag("MISMATCH seed=%llu worker=%s op=%lu %s: device offset %llu (+%zu of %zu): expected 0x%02x, found 0x%02x",
		     (unsigned long long)seed, target_name[w->target], w->ops,
		     what, (unsigned long long)(pos + i), i, len,
		     pattern(tag, pos + i), p[i]);
		pthread_mutex_unlock(&print_lock);
		return false;
	}
	return true;
}

static int register_slot(struct worker *w, bool update)
{
	unsigned int flags = w->target == NULLB_PIN ?
		IORING_RSRC_REGISTER_PINNED : IORING_RSRC_REGISTER_UNPINNED;
	struct iovec iov = {
		.iov_base = w->slot,
		.iov_len = atomic_fetch_add(&w->registrations, 1) & 1 ? USABLE : SLOT,
	};
	struct io_uring_rsrc_register rr = {
		.nr = 1, .flags = flags, .data = (uintptr_t)&iov,
	};

	/* An update returns how many slots it updated. */
	if (update)
		return min(update_buf(&w->ring, 0, w->slot, iov.iov_len, flags), 0);
	return sys_register(w->ring.ring_fd, IORING_REGISTER_BUFFERS2, &rr,
			    sizeof(rr));
}

static void prep_nvme(struct worker *w, struct io_uring_sqe *sqe, bool write,
		      void *buf, size_t len, off_t off)
{
	struct nvme_uring_cmd *cmd = (struct nvme_uring_cmd *)sqe->cmd;

	memset(sqe, 0, 2 * sizeof(*sqe));
	sqe->opcode = IORING_OP_URING_CMD;
	sqe->fd = w->fd;
	sqe->cmd_op = NVME_URING_CMD_IO;
	sqe->uring_cmd_flags = IORING_URING_CMD_FIXED;
	cmd->opcode = write ? 0x01 : 0x02;
	cmd->nsid = w->nsid;
	cmd->addr = (uintptr_t)buf;
	cmd->data_len = len;
	cmd->cdw10 = off / 512;
	cmd->cdw12 = len / 512 - 1;
}

/*
 * @len bytes between @buf and the device at @off, in up to MAX_QD requests
 * submitted together: 0 if each returned its length (NVMe: 0), else -1
 * (reported).
 */
static int fixed_io(struct worker *w, bool write, unsigned char *buf,
		    size_t len, off_t off)
{
	unsigned int i, queued = 0, n = 1 + below(&w->rng, MAX_QD);
	unsigned int sqe_flags = below(&w->rng, 3) ? 0 : IOSQE_ASYNC;
	size_t align = w->target == TMPFS ? 1 : 512, done = 0;
	struct io_uring_sqe *sqe;
	struct io_uring_cqe *cqe;
	int bad = 0;

	for (i = 0; i < n && done < len; i++) {
		size_t left = len - done;
		size_t part = i == n - 1 ? left : left / (n - i) / align * align;

		if (!part)
			continue;
		sqe = io_uring_get_sqe(&w->ring);
		if (w->target == NVME) {
			prep_nvme(w, sqe, write, buf + done, part, off + done);
		} else if (write) {
			io_uring_prep_write_fixed(sqe, w->fd, buf + done, part,
						  off + done, 0);
			sqe->flags |= sqe_flags;
		} else {
			io_uring_prep_read_fixed(sqe, w->fd, buf + done, part,
						 off + done, 0);
			sqe->flags |= sqe_flags;
		}
		io_uring_sqe_set_data64(sqe, part);
		done += part;
		queued++;
	}
	/* An SQE left behind would be submitted by the next operation. */
	if (io_uring_submit(&w->ring) != (int)queued)
		die("io_uring_submit");
	for (i = 0; i < queued; i++) {
		int want;

		if (io_uring_wait_cqe(&w->ring, &cqe))
			die("io_uring_wait_cqe");
		want = w->target == NVME ? 0 : (int)cqe->user_data;
		if (cqe->res != want) {
			pthread_mutex_lock(&print_lock);
			diag("BAD RESULT seed=%llu worker=%s op=%lu: %s of %llu bytes returned %d",
			     (unsigned long long)seed, target_name[w->target],
			     w->ops, write ? "write" : "read",
			     (unsigned long long)cqe->user_data, cqe->res);
			pthread_mutex_unlock(&print_lock);
			bad++;
		}
		io_uring_cqe_seen(&w->ring, cqe);
	}
	w->bad_results += bad;
	return bad ? -1 : 0;
}

/* Whether a replacing change ran since the worker read @seen. */
static bool was_replaced(struct worker *w, unsigned int seen)
{
	return (seen & 1) || atomic_load(&w->replaced) != seen;
}

/* SEND_ZC @len bytes of @buf, then receive them into @into; bytes sent. */
static long send_recv(struct worker *w, unsigned char *buf, size_t len,
		      unsigned char *into)
{
	struct io_uring_cqe *cqe;
	bool notif = false, got = false;
	int res = 0;
	size_t in;

	io_uring_prep_send_zc_fixed(io_uring_get_sqe(&w->ring), w->fd, buf,
				    len, 0, 0, 0);
	if (io_uring_submit(&w->ring) != 1)
		die("io_uring_submit");
	while (!got || !notif) {
		if (io_uring_wait_cqe(&w->ring, &cqe))
			die("io_uring_wait_cqe");
		if (cqe->flags & IORING_CQE_F_NOTIF) {
			notif = true;
		} else {
			res = cqe->res;
			got = true;
			/* no notification follows a CQE without F_MORE */
			notif = notif || !(cqe->flags & IORING_CQE_F_MORE);
		}
		io_uring_cqe_seen(&w->ring, cqe);
	}
	if (res < 0) {
		pthread_mutex_lock(&print_lock);
		diag("BAD RESULT seed=%llu worker=send_zc op=%lu: %d",
		     (unsigned long long)seed, w->ops, res);
		pthread_mutex_unlock(&print_lock);
		w->bad_results++;
		return res;
	}
	/* Loopback copies the frags into the receiver before the notification. */
	for (in = 0; in < (size_t)res; ) {
		ssize_t n = read(w->rx, into + in, res - in);

		if (n <= 0)
			die("recv");
		in += n;
	}
	return res;
}

/* After a replacing change, a pinned buffer names the old pages: re-register. */
static void follow_replacement(struct worker *w, unsigned int seen)
{
	int ret;

	if (seen == w->replaced_seen)
		return;
	w->replaced_seen = seen;
	if (w->target == NULLB_PIN || !below(&w->rng, 4)) {
		ret = register_slot(w, true);
		if (ret) {
			errno = -ret;
			die("re-register after a replacement");
		}
		w->reregistered++;
	}
}

/*
 * What the last verified operation left in the slot is still there, unless
 * a replacing change ran since. Copied first: the compare must not race
 * with a replacement that lands after the check.
 */
static void check_rest_at(struct worker *w, unsigned char *bounce, size_t off)
{
	memcpy(bounce, w->slot + off, w->rest_len);
	atomic_thread_fence(memory_order_acquire);
	if (was_replaced(w, w->rest_seen))
		return;
	if (!matches(w, "slot between operations", bounce, w->rest_len,
		     w->rest_tag, w->rest_pos))
		w->mismatches++;
	w->rested++;
}

static void check_rest(struct worker *w, unsigned char *bounce)
{
	if (!w->rest_valid)
		return;
	w->rest_valid = false;
	check_rest_at(w, bounce, w->rest_off);
	if (w->rest_write)
		check_rest_at(w, bounce, w->rest_woff);
}

static void one_op(struct worker *w, unsigned char *bounce)
{
	bool direct = w->target != TMPFS && w->target != SEND_ZC;
	size_t align = direct ? (w->target == EXT4 ? PAGE : 512) : 1;
	size_t max = w->target == SEND_ZC ? 64 << 10 : MAX_IO;
	size_t len = (1 + below(&w->rng, max / align)) * align;
	size_t woff = below(&w->rng, (USABLE - len) / align + 1) * align;
	size_t roff = below(&w->rng, (USABLE - len) / align + 1) * align;
	size_t doff = below(&w->rng, (REGION - len) / align + 1) * align;
	uint64_t tag = next(&w->rng), pos = w->region + doff;
	bool verified = false;
	unsigned int seen;
	long res;

	pthread_mutex_lock(&w->io_lock);
	seen = atomic_load(&w->replaced);
	follow_replacement(w, seen);
	check_rest(w, bounce);
	fill(w->slot + woff, len, tag, pos);
	if (w->target == SEND_ZC) {
		res = send_recv(w, w->slot + woff, len, bounce);
		verified = !was_replaced(w, seen) && res >= 0;
		if (verified && !matches(w, "send_zc received", bounce, res, tag, pos)) {
			w->mismatches++;
			verified = false;
		}
		roff = woff;
		goto out;
	}
	/* Write, and check what the device got. */
	res = fixed_io(w, true, w->slot + woff, len, pos);
	if (res)
		goto out;
	if (pread(w->check_fd, bounce, len, pos) != (ssize_t)len)
		die("pread of the device");
	if (was_replaced(w, seen))
		goto out;
	if (!matches(w, "device after WRITE_FIXED", bounce, len, tag, pos)) {
		w->mismatches++;
		goto out;
	}
	/* Read it back elsewhere in the slot, over a poison. */
	memset(w->slot + roff, 0xee, len);
	res = fixed_io(w, false, w->slot + roff, len, pos);
	memcpy(bounce, w->slot + roff, len);
	atomic_thread_fence(memory_order_acquire);
	if (res || was_replaced(w, seen))
		goto out;
	verified = matches(w, "slot after READ_FIXED", bounce, len, tag, pos);
	w->mismatches += !verified;
out:
	if (verified) {
		w->verified++;
		w->rest_valid = true;
		w->rest_off = roff;
		w->rest_woff = woff;
		/* The read overwrote the pattern where the areas overlap. */
		w->rest_write = woff + len <= roff || roff + len <= woff;
		w->rest_len = len;
		w->rest_tag = tag;
		w->rest_pos = pos;
		w->rest_seen = seen;
	} else {
		w->unverified++;
	}
	w->bytes += len;
	w->ops++;
	pthread_mutex_unlock(&w->io_lock);
}

static void stuck(int sig)
{
	static const char msg[] = "Bail out! threads still running 120 s after the storm ended\n";

	write(1, msg, sizeof(msg) - 1);
	_exit(1);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	unsigned char *bounce;

	if (posix_memalign((void **)&bounce, PAGE, MAX_IO))
		die("posix_memalign");
	while (!atomic_load(&stop)) {
		one_op(w, bounce);
		/* Now and then, drop the whole table and register again. */
		if (!below(&w->rng, 200)) {
			pthread_mutex_lock(&w->io_lock);
			if (io_uring_unregister_buffers(&w->ring) ||
			    register_slot(w, false))
				die("unregister and register again");
			w->reregistered++;
			pthread_mutex_unlock(&w->io_lock);
		}
	}
	free(bounce);
	return NULL;
}

static sigjmp_buf child_jmp;

static void child_segv(int sig)
{
	siglongjmp(child_jmp, 1);
}

/*
 * The forked child writes every slot it can (a slot may be moved away or
 * read-only right now) and exits: none of it may reach the parent.
 */
static void __attribute__((noreturn)) fork_child(void)
{
	static volatile unsigned int i;
	struct sigaction sa = { .sa_handler = child_segv };

	sigaction(SIGSEGV, &sa, NULL);
	for (i = 0; i < nr_workers; i++) {
		if (!sigsetjmp(child_jmp, 1))
			memset(workers[i].slot, 0xcc, SLOT);
	}
	_exit(0);
}

/* move_pages() of a random run of the slot to the node it is not on. */
static int chaos_migrate(struct worker *w, uint64_t *rng)
{
	unsigned int n = 1 + below(rng, 64), first = below(rng, SLOT / PAGE - n + 1);
	int nodes[64], status[64], i;
	void *pages[64];

	for (i = 0; i < (int)n; i++)
		pages[i] = w->slot + (first + i) * PAGE;
	/* nodes NULL: where they are now (a negative errno where unmapped) */
	if (syscall(__NR_move_pages, 0, n, pages, NULL, status, 0))
		return -1;
	for (i = 0; i < (int)n; i++)
		nodes[i] = status[i] == 1 ? 0 : 1;
	if (syscall(__NR_move_pages, 0, n, pages, nodes, status, MPOL_MF_MOVE) < 0)
		return -1;
	for (i = 0; i < (int)n; i++)
		if (status[i] == nodes[i])
			atomic_fetch_add(&pages_migrated, 1);
	return 0;
}

static int chaos_split(struct worker *w)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "%d,0x%lx,0x%lx", getpid(),
		 (unsigned long)w->slot, (unsigned long)w->slot + SLOT);
	return write_file("/sys/kernel/debug/split_huge_pages", cmd);
}

static int chaos_fork(void)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (!pid)
		fork_child();
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		die("the forked child did not exit cleanly");
	return 0;
}

/* Replace the slot by a fresh anonymous mapping at the same address. */
static int chaos_remap(struct worker *w, uint64_t *rng)
{
	void *p = mmap(w->slot, SLOT, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);

	if (p == MAP_FAILED)
		die("mmap(MAP_FIXED) over a slot");
	return madvise(w->slot, SLOT, below(rng, 2) ? MADV_HUGEPAGE : MADV_MERGEABLE);
}

/* mprotect part of the slot read-only or PROT_NONE, then back. */
static int chaos_mprotect(struct worker *w, uint64_t *rng)
{
	size_t len = (1 + below(rng, 32)) * PAGE;
	unsigned char *at = w->slot + below(rng, (SLOT - len) / PAGE + 1) * PAGE;
	int ret = mprotect(at, len, below(rng, 2) ? PROT_READ : PROT_NONE);

	usleep(below(rng, 2000));
	if (mprotect(at, len, PROT_READ | PROT_WRITE))
		die("mprotect back to read-write");
	return ret;
}

/*
 * mremap() the slot's pages to *@away and back: the same data at the same
 * address (KSM pages are copied on the move, mremap.c's move_vma()). MREMAP_DONTUNMAP leaves the slot mapped (empty) meanwhile, so
 * no other mmap() can take its place; the move back leaves a hole at
 * *@away, reserved again, or anew if another mmap() took it.
 */
static int chaos_mremap(struct worker *w, void **away)
{
	void *p = mremap(w->slot, SLOT, SLOT,
			 MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, *away);

	if (p == MAP_FAILED)
		return -1;
	usleep(500);
	if (mremap(*away, SLOT, SLOT, MREMAP_MAYMOVE | MREMAP_FIXED, w->slot) == MAP_FAILED)
		die("mremap back");
	p = mmap(*away, SLOT, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
		 -1, 0);
	if (p == MAP_FAILED)
		p = mmap(NULL, SLOT, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	*away = p;
	return 0;
}

static enum chaos pick_chaos(uint64_t *rng)
{
	unsigned int total = 0, i, r;

	for (i = 0; i < NR_CHAOS; i++)
		total += chaos_weight[i];
	r = below(rng, total);
	for (i = 0; r >= chaos_weight[i]; i++)
		r -= chaos_weight[i];
	return i;
}

static int chaos_one(enum chaos c, struct worker *w, uint64_t *rng, void **away)
{
	int ret = 0;

	pthread_mutex_lock(&w->shape_lock);
	switch (c) {
	case C_MIGRATE: ret = chaos_migrate(w, rng); break;
	case C_PAGEOUT: ret = madvise(w->slot, SLOT, MADV_PAGEOUT); break;
	case C_HUGE: ret = madvise(w->slot, SLOT, MADV_HUGEPAGE); break;
	case C_NOHUGE: ret = madvise(w->slot, SLOT, MADV_NOHUGEPAGE); break;
	case C_COLLAPSE: ret = madvise(w->slot, SLOT, MADV_COLLAPSE); break;
	case C_SPLIT: ret = split_debugfs ? chaos_split(w) : -1; break;
	case C_KSM: ret = madvise(w->slot, SLOT, MADV_MERGEABLE); break;
	case C_UNKSM: ret = madvise(w->slot, SLOT, MADV_UNMERGEABLE); break;
	case C_COMPACT: ret = write_file("/proc/sys/vm/compact_memory", "1"); break;
	case C_FORK: ret = chaos_fork(); break;
	case C_UPDATE: ret = register_slot(w, true); break;
	case C_DONTNEED:
	case C_REMAP:
		atomic_fetch_add(&w->replaced, 1);
		if (c == C_DONTNEED)
			ret = madvise(w->slot, SLOT, MADV_DONTNEED);
		else
			ret = chaos_remap(w, rng);
		atomic_fetch_add(&w->replaced, 1);
		break;
	case C_MPROTECT:
	case C_MREMAP:
		pthread_mutex_lock(&w->io_lock);
		ret = c == C_MPROTECT ? chaos_mprotect(w, rng) : chaos_mremap(w, away);
		pthread_mutex_unlock(&w->io_lock);
		break;
	case NR_CHAOS:
		break;
	}
	pthread_mutex_unlock(&w->shape_lock);
	return ret;
}

static void *chaos_main(void *arg)
{
	uint64_t rng = seed ^ (0x1000 + (uintptr_t)arg);
	void *away = mmap(NULL, SLOT, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (away == MAP_FAILED)
		die("mmap");
	while (!atomic_load(&stop)) {
		enum chaos c = pick_chaos(&rng);
		struct worker *w = &workers[below(&rng, nr_workers)];

		if (chaos_one(c, w, &rng, &away))
			atomic_fetch_add(&chaos_failed[c], 1);
		atomic_fetch_add(&chaos_done[c], 1);
		usleep(below(&rng, 20000));
	}
	return NULL;
}

/*
 * Register a private buffer, put reads in flight on the slow device, and
 * tear the ring down under them: by closing it, or by exiting a child.
 * Returns the number of reads submitted.
 */
static unsigned int ring_exit_once(uint64_t *rng, bool in_child)
{
	size_t len = 16 * PAGE;
	unsigned char *buf = map_anon(8 * len, PROT_READ | PROT_WRITE);
	unsigned int i, n = 1 + below(rng, 8);
	struct io_uring ring;
	struct iovec iov = { .iov_base = buf, .iov_len = 8 * len };
	struct io_uring_rsrc_register rr = {
		.nr = 1, .data = (uintptr_t)&iov,
		.flags = below(rng, 2) ? IORING_RSRC_REGISTER_UNPINNED :
			 IORING_RSRC_REGISTER_PINNED,
	};
	int fd = open(slowdev, O_RDONLY | O_DIRECT);

	if (fd < 0 || io_uring_queue_init(8, &ring, 0))
		die("ring-exit setup");
	if (sys_register(ring.ring_fd, IORING_REGISTER_BUFFERS2, &rr, sizeof(rr)))
		die("ring-exit register");
	for (i = 0; i < n; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);

		io_uring_prep_read_fixed(sqe, fd, buf + i * len, len, i * len, 0);
		if (below(rng, 2))
			sqe->flags |= IOSQE_ASYNC;
	}
	if (io_uring_submit(&ring) != (int)n)
		die("ring-exit submit");
	if (in_child)
		_exit(n);
	if (below(rng, 2))
		madvise(buf, 8 * len, MADV_DONTNEED);
	io_uring_queue_exit(&ring);
	close(fd);
	munmap(buf, 8 * len);
	return n;
}

static void *ring_exit_main(void *arg)
{
	uint64_t rng = seed ^ 0x2000;

	while (!atomic_load(&stop)) {
		if (below(&rng, 4)) {
			atomic_fetch_add(&exit_reads, ring_exit_once(&rng, false));
		} else {
			int status;
			pid_t pid = fork();

			if (pid < 0)
				die("fork");
			if (!pid)
				ring_exit_once(&rng, true);
			next(&rng);
			if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
			    WEXITSTATUS(status) < 1 || WEXITSTATUS(status) > 8)
				die("the ring-exit child did not exit with its reads in flight");
			atomic_fetch_add(&exit_reads, WEXITSTATUS(status));
			atomic_fetch_add(&exits_forked, 1);
		}
		atomic_fetch_add(&exits, 1);
		usleep(below(&rng, 50000));
	}
	return NULL;
}

static int open_or_die(const char *path, int flags)
{
	int fd = open(path, flags, 0600);

	if (fd < 0)
		die(path);
	return fd;
}

/* A loopback TCP connection: the worker sends on fd, receives on rx. */
static void connect_loopback(struct worker *w)
{
	struct sockaddr_in addr = { .sin_family = AF_INET };
	socklen_t alen = sizeof(addr);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	w->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || w->fd < 0 || bind(lfd, (void *)&addr, sizeof(addr)) ||
	    listen(lfd, 1) || getsockname(lfd, (void *)&addr, &alen) ||
	    connect(w->fd, (void *)&addr, sizeof(addr)))
		die("loopback TCP");
	w->rx = accept(lfd, NULL, NULL);
	if (w->rx < 0)
		die("accept");
	close(lfd);
}

static void setup_worker(struct worker *w, enum target t, unsigned char *slot)
{
	char path[4096];
	unsigned int ring_flags = 0;

	w->id = nr_workers;
	w->target = t;
	w->slot = slot;
	w->rng = seed ^ (0x100 + t);
	w->region = (off_t)t * REGION;
	pthread_mutex_init(&w->io_lock, NULL);
	pthread_mutex_init(&w->shape_lock, NULL);
	switch (t) {
	case NULLB:
	case NULLB_PIN:
		w->fd = open_or_die(blockdev, O_RDWR | O_DIRECT);
		w->check_fd = open_or_die(blockdev, O_RDONLY | O_DIRECT);
		break;
	case EXT4:
	case TMPFS:
		snprintf(path, sizeof(path), "%s/storm-%d",
			 t == EXT4 ? ext4_dir : "/tmp", getpid());
		w->fd = open_or_die(path, O_RDWR | O_CREAT | O_TRUNC |
				    (t == EXT4 ? O_DIRECT : 0));
		if (ftruncate(w->fd, w->region + REGION))
			die("ftruncate");
		w->check_fd = open_or_die(path, O_RDONLY | (t == EXT4 ? O_DIRECT : 0));
		unlink(path);
		break;
	case SEND_ZC:
		connect_loopback(w);
		break;
	case NVME:
		w->fd = open_or_die(nvme_dev, O_RDWR);
		w->nsid = ioctl(w->fd, NVME_IOCTL_ID);
		/* Checked through the namespace's block device: ngXnY is nvmeXnY. */
		if (strncmp(nvme_dev, "/dev/ng", 7))
			die("--nvme wants a /dev/ngXnY path");
		snprintf(path, sizeof(path), "/dev/nvme%s", nvme_dev + 7);
		w->check_fd = open_or_die(path, O_RDONLY | O_DIRECT);
		ring_flags = IORING_SETUP_SQE128 | IORING_SETUP_CQE32;
		break;
	case NR_TARGETS:
		break;
	}
	if (io_uring_queue_init(2 * MAX_QD, &w->ring, ring_flags))
		die("io_uring_queue_init");
	/* THP and KSM from the start; chaos toggles both later. */
	madvise(slot, SLOT, MADV_HUGEPAGE);
	madvise(slot, SLOT, MADV_MERGEABLE);
	memset(slot, 0, SLOT);
	errno = -register_slot(w, false);
	if (errno)
		die("register a slot");
	nr_workers++;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "seconds", required_argument, NULL, 't' },
		{ "blockdev", required_argument, NULL, 'b' },
		{ "slow", required_argument, NULL, 'w' },
		{ "ext4", required_argument, NULL, 'e' },
		{ "nvme", required_argument, NULL, 'n' },
		{}
	};
	pthread_t chaos[CHAOS_THREADS], exiter;
	unsigned long seconds = 60, ops = 0, verified = 0, bad = 0, mism = 0;
	unsigned long rested = 0;
	unsigned char *arena;
	unsigned int i;
	int opt;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 't': seconds = strtoul(optarg, NULL, 0); break;
		case 'b': blockdev = optarg; break;
		case 'w': slowdev = optarg; break;
		case 'e': ext4_dir = optarg; break;
		case 'n': nvme_dev = optarg; break;
		default:
			fprintf(stderr, "usage: storm --seed S --seconds N --blockdev DEV --slow SLOW_DEV [--ext4 DIR] [--nvme NGDEV]\n");
			return 2;
		}
	}
	if (!blockdev || !slowdev) {
		printf("Bail out! storm needs --blockdev and --slow (memory-backed block devices, the second slow)\n");
		return 1;
	}
	diag("storm: seed=%llu seconds=%lu", (unsigned long long)seed, seconds);
	split_debugfs = !access("/sys/kernel/debug/split_huge_pages", W_OK);
	/* Slots 2 MiB-aligned, so that each can be one THP. */
	arena = mmap(NULL, (NR_TARGETS + 1) * SLOT, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (arena == MAP_FAILED)
		die("mmap");
	arena = (unsigned char *)(((uintptr_t)arena + SLOT - 1) & ~(SLOT - 1));
	for (i = 0; i < NR_TARGETS; i++) {
		if ((i == EXT4 && !ext4_dir) || (i == NVME && !nvme_dev)) {
			diag("no %s: its worker is left out", target_name[i]);
			continue;
		}
		setup_worker(&workers[nr_workers], i, arena + nr_workers * SLOT);
	}
	for (i = 0; i < nr_workers; i++)
		if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]))
			die("pthread_create");
	for (i = 0; i < CHAOS_THREADS; i++)
		if (pthread_create(&chaos[i], NULL, chaos_main, (void *)(uintptr_t)i))
			die("pthread_create");
	if (pthread_create(&exiter, NULL, ring_exit_main, NULL))
		die("pthread_create");
	sleep(seconds);
	atomic_store(&stop, 1);
	/* A worker stuck in a request is a failure, not a hang of the suite. */
	signal(SIGALRM, stuck);
	alarm(120);
	for (i = 0; i < nr_workers; i++)
		pthread_join(workers[i].thread, NULL);
	for (i = 0; i < CHAOS_THREADS; i++)
		pthread_join(chaos[i], NULL);
	pthread_join(exiter, NULL);
	alarm(0);

	for (i = 0; i < nr_workers; i++) {
		struct worker *w = &workers[i];

		diag("storm io %s: ops=%lu verified=%lu unverified=%lu rested=%lu reregistered=%lu MiB=%lu mismatches=%lu bad_results=%lu",
		     target_name[w->target], w->ops, w->verified, w->unverified,
		     w->rested, w->reregistered, w->bytes >> 20, w->mismatches,
		     w->bad_results);
		tap(w->ops > 0 && w->verified > 0,
		    "%s worker ran %lu operations, %lu verified", target_name[w->target],
		    w->ops, w->verified);
		ops += w->ops;
		verified += w->verified;
		rested += w->rested;
		mism += w->mismatches;
		bad += w->bad_results;
		io_uring_queue_exit(&w->ring);
	}
	for (i = 0; i < NR_CHAOS; i++)
		diag("storm chaos %s: done=%lu failed=%lu", chaos_name[i],
		     atomic_load(&chaos_done[i]), atomic_load(&chaos_failed[i]));
	diag("storm migrate: pages=%lu", atomic_load(&pages_migrated));
	diag("storm ring-exit: rings=%lu forked=%lu reads=%lu",
	     atomic_load(&exits), atomic_load(&exits_forked), atomic_load(&exit_reads));
	tap(mism == 0, "no data mismatch in %lu verified operations (seed %llu)",
	    verified, (unsigned long long)seed);
	tap(bad == 0, "every request returned its length (%lu did not)", bad);
	tap(atomic_load(&exits) > 0, "%lu rings torn down with reads in flight",
	    atomic_load(&exits));
	tap(rested > 0, "%lu checks of what an operation left in memory, at the next",
	    rested);
	tap(atomic_load(&pages_migrated) > 0, "%lu pages of the slots migrated under the I/O",
	    atomic_load(&pages_migrated));
	printf("# storm: seed=%llu seconds=%lu ops=%lu verified=%lu mismatches=%lu bad_results=%lu\n",
	       (unsigned long long)seed, seconds, ops, verified, mism, bad);
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
