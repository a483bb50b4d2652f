// SPDX-License-Identifier: GPL-2.0
/*
 * A seeded, bounded fuzzer of io_uring registered buffers, pinned and
 * unpinned: random buffer registrations, updates, clones between rings,
 * unregistrations and fixed-buffer reads and writes, over an arena of
 * memory that changes under the registered buffers while they stay
 * registered. Every result is checked against what that call may
 * legitimately return, as io_uring/register.c, io_uring/rsrc.c and
 * io_uring/rw.c decide it and Documentation/mm/umirror.rst documents it;
 * a request that succeeds must have moved the bytes it asked for. At the
 * end, with every ring closed, the FOLL_PIN counters must be back where
 * they started, and a plain buffer must still work. Prints TAP.
 *
 *   iou-fuzz [--seed S] [--calls N] [--blockdev DEV] [--ext4 DIR] [-v]
 *
 * The same seed makes the same calls (the memory the calls land on is
 * the same too, but not what other processes do): a failure names its
 * seed and call number, and -v prints every call. DEV is a memory-backed
 * block device for O_DIRECT I/O (its first 16 MiB and last 1 MiB are
 * overwritten), DIR a directory on ext4 for an O_DIRECT file and a
 * MAP_SHARED mapping.
 *
 * The arena: NR_SLOTS slots of SLOT_SIZE bytes in one reservation, each
 * holding one mapping of a kind (anonymous, read-only, PROT_NONE, a hole,
 * hugetlb, memfd, tmpfs or ext4 MAP_SHARED, secretmem) at its start and
 * PROT_NONE after it, so that nothing else the process maps lands there;
 * plus the SQ ring of a ring never used (memory io_uring inserted) and
 * the [vvar] mapping (VM_PFNMAP). Every MUTATE_EVERY calls a slot is
 * remapped, mprotected or MADV_DONTNEEDed.
 *
 * The oracle is a model of each ring's buffer table (which slots are
 * filled, at which addresses, pinned or not). Argument checks have exact
 * answers; what depends on the memory behind a buffer has a set. Output
 * ends with "# fuzz: seed=S calls=N ok=K errnos=E", where K calls
 * succeeded and E distinct errnos were seen, and one line per operation,
 * "# fuzz op=NAME calls=N ok=K errnos=EFAULT,EINVAL,...".
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <liburing.h>
#include <linux/fs.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/vfs.h>
#include <time.h>
#include <unistd.h>

#include "guest-test.h"

/* What liburing 2.3's header lacks. */
#define REGISTER_CLONE_BUFFERS		30
#define REGISTER_SRC_REGISTERED		1U
#ifndef __NR_memfd_secret
#define __NR_memfd_secret		447
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB			(21 << MAP_HUGE_SHIFT)
#endif

#define NR_RINGS		3
#define NR_SLOTS		16
#define SLOT_SIZE		(4UL << 20)
#define HUGE_SIZE		(2UL << 20)
#define SECRET_SIZE		(64UL << 10)
#define MAX_BUFS		16384	/* IORING_MAX_REG_BUFFERS */
#define FILL_IOVS		64	/* iovecs made per registration at most */
#define MUTATE_EVERY		10
#define DEFAULT_CALLS		28000	/* about 60 s in the debug guest */
#define FILE_SPAN		(8UL << 20)	/* file offsets the I/O uses */
#define BLK_SPAN		(16UL << 20)
#define REQ_MARK		0x7a7a000000000000ULL
#define MAX_REPORTS		20

struct clone_buffers {
	uint32_t src_fd;
	uint32_t flags;
	uint32_t pad[6];
};

/* ---- PRNG: splitmix64 seeds xorshift64*, so that seed 0 works too. ---- */

static uint64_t rng;

static void rng_seed(uint64_t seed)
{
	uint64_t z = seed + 0x9e3779b97f4a7c15ULL;

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	rng = (z ^ (z >> 31)) | 1;
}

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

/* Uniform in [0, n); 0 for n == 0. */
static uint64_t below(uint64_t n)
{
	return n ? rnd() % n : 0;
}

static bool chance(unsigned int pct)
{
	return below(100) < pct;
}

/* ---- errno sets ---- */

struct eset {
	uint64_t w[3];		/* errnos below 192 */
};

static void es_add(struct eset *s, int e)
{
	if (e > 0 && e < 192)
		s->w[e / 64] |= 1ULL << (e % 64);
}

static bool es_has(const struct eset *s, int e)
{
	return e > 0 && e < 192 && (s->w[e / 64] >> (e % 64)) & 1;
}

static void es_or(struct eset *s, const struct eset *t)
{
	int i;

	for (i = 0; i < 3; i++)
		s->w[i] |= t->w[i];
}

static int es_count(const struct eset *s)
{
	return __builtin_popcountll(s->w[0]) + __builtin_popcountll(s->w[1]) +
	       __builtin_popcountll(s->w[2]);
}

static const char *ename(int e)
{
	const char *n = strerrorname_np(e);

	return n ? n : "E?";
}

/* "EFAULT,EINVAL" into @buf. */
static const char *es_str(const struct eset *s, char *buf, size_t size)
{
	size_t n = 0;
	int e;

	buf[0] = 0;
	for (e = 1; e < 192; e++)
		if (es_has(s, e) && n < size)
			n += snprintf(buf + n, size - n, "%s%s", n ? "," : "",
				      ename(e));
	return buf;
}

/* ---- the arena ---- */

enum kind {
	K_ANON, K_RO, K_NONE, K_HOLE, K_HUGETLB, K_MEMFD, K_TMPFS, K_EXT4,
	K_SECRET, NR_KINDS
};
static const char *const kind_name[] = {
	"anon", "ro", "none", "hole", "hugetlb", "memfd", "tmpfs-shared",
	"ext4-shared", "secretmem",
};

struct slot {
	enum kind kind;
	size_t len;
};

static unsigned char *arena;
static struct slot slots[NR_SLOTS];
static int kind_fd[NR_KINDS] = { [0 ... NR_KINDS - 1] = -1 };
static bool kind_ok[NR_KINDS];
static long page_size;

/* Special regions: memory io_uring mapped (a ring never entered), [vvar]. */
struct region {
	uint64_t base, len;
	const char *name;
};
static struct region special[2];
static int nr_special;

static unsigned char *slot_addr(int s)
{
	return arena + (size_t)s * SLOT_SIZE;
}

/*
 * What the kernel may do at each page of the arena now, through the user
 * address: nothing (PROT_NONE, a hole, secretmem, a shared mapping past
 * its file's end), read, or read and write; unknown after an mprotect()
 * that failed, which may have changed part of its range. An unpinned
 * request over pages that allow its access must not fail with -EFAULT.
 */
enum access { NO_ACCESS, READ_ONLY, READ_WRITE, UNKNOWN };
#define NR_PAGES	(NR_SLOTS * SLOT_SIZE / 4096)
static unsigned char page_access[NR_PAGES];
/* Pages no protection makes accessible to the kernel. */
static bool page_never[NR_PAGES];
/*
 * What the VMA over each page allows, as umirror_check() sees it: it
 * walks VMAs and asks check_vma_flags(), faulting nothing, so a shared
 * file mapping past its file's end passes (page_never says the kernel
 * cannot fault it), while a hole (no VMA) and secretmem
 * (vma_is_secretmem()) never do: page_novma[].
 */
static unsigned char page_vma[NR_PAGES];
static bool page_novma[NR_PAGES];
/*
 * When a mutation last changed which page backs each arena address
 * (a remap or MADV_DONTNEED; mprotect() keeps the pages): a pinned
 * buffer holds the pages of its registration, so its data can be
 * compared with what the process sees only where nothing changed since.
 */
static unsigned long page_gen[NR_PAGES], gen_now;

static void set_access(const unsigned char *at, size_t len, enum access a)
{
	size_t i, first = (at - arena) / page_size;

	for (i = first; i < first + len / page_size; i++) {
		page_access[i] = page_never[i] ? NO_ACCESS : a;
		page_vma[i] = page_novma[i] ? NO_ACCESS : a;
	}
}

static void set_never(const unsigned char *at, size_t len, bool never)
{
	size_t first = (at - arena) / page_size;

	memset(page_never + first, never, len / page_size);
}

static void set_novma(const unsigned char *at, size_t len, bool novma)
{
	size_t first = (at - arena) / page_size;

	memset(page_novma + first, novma, len / page_size);
}

/* The pages under [@at, @at + @len) change now. */
static void touch_pages(const unsigned char *at, size_t len)
{
	size_t i, first = (at - arena) / page_size;

	gen_now++;
	for (i = first; i < first + len / page_size && i < NR_PAGES; i++)
		page_gen[i] = gen_now;
}

/* Arena page indexes of [@addr, @addr + @len), @len > 0; false if outside. */
static bool arena_pages(uint64_t addr, uint64_t len, size_t *first, size_t *last)
{
	uint64_t base = (uintptr_t)arena;

	if (addr < base || len > NR_SLOTS * SLOT_SIZE ||
	    addr - base > NR_SLOTS * SLOT_SIZE - len)
		return false;
	*first = (addr - base) / page_size;
	*last = (addr + len - 1 - base) / page_size;
	return true;
}

/* Whether the process may read every page of the span (a data check). */
static bool span_readable(uint64_t addr, uint64_t len)
{
	size_t i, first, last;

	if (!arena_pages(addr, len, &first, &last))
		return false;
	for (i = first; i <= last; i++)
		if (page_access[i] != READ_ONLY && page_access[i] != READ_WRITE)
			return false;
	return true;
}

/* Whether no page of the span has changed since generation @gen. */
static bool span_untouched(uint64_t addr, uint64_t len, unsigned long gen)
{
	size_t i, first, last;

	if (!arena_pages(addr, len, &first, &last))
		return false;
	for (i = first; i <= last; i++)
		if (page_gen[i] > gen)
			return false;
	return true;
}

/* Whether every page of [@addr, @addr + @len) allows the access. */
static bool span_allows(uint64_t addr, uint64_t len, bool device_writes)
{
	uint64_t base = (uintptr_t)arena, i;

	if (addr < base || addr + len > base + NR_SLOTS * SLOT_SIZE)
		return false;
	for (i = (addr - base) / page_size; len && i <= (addr + len - 1 - base) / page_size; i++)
		if (page_access[i] != (device_writes ? READ_WRITE : READ_ONLY) &&
		    page_access[i] != READ_WRITE)
			return false;
	return true;
}

static uint64_t page_round(uint64_t len)
{
	return (len + page_size - 1) & ~((uint64_t)page_size - 1);
}

/* A length in [1, max], mostly small. */
static uint64_t some_len(uint64_t max)
{
	uint64_t l;

	if (!max)
		return 0;
	switch (below(10)) {
	case 0 ... 4:
		l = below(16 << 10) + 1;
		break;
	case 5 ... 7:
		l = below(256 << 10) + 1;
		break;
	default:
		l = below(max) + 1;
	}
	return l > max ? max : l;
}

/*
 * Put a mapping of @kind at the start of slot @s, PROT_NONE after it.
 * Unavailable kinds (no huge pages, no secretmem, no ext4) become
 * anonymous memory. Shared file mappings may reach past the end of the
 * file: the process never touches them, the kernel gets -EFAULT there.
 */
static void map_slot(int s, enum kind kind)
{
	unsigned char *at = slot_addr(s);
	int fixed = MAP_FIXED, fd;
	size_t len = chance(40) ? SLOT_SIZE : page_round(some_len(SLOT_SIZE));
	off_t off = 0;
	void *p;

	if (!kind_ok[kind])
		kind = K_ANON;
	fd = kind_fd[kind];
	if (mmap(at, SLOT_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_NORESERVE | fixed, -1, 0) != at)
		die("mmap reservation");
	touch_pages(at, SLOT_SIZE);
	set_never(at, SLOT_SIZE, false);
	set_novma(at, SLOT_SIZE, false);
	set_access(at, SLOT_SIZE, NO_ACCESS);
	switch (kind) {
	case K_HUGETLB:
		len = chance(50) ? HUGE_SIZE : 2 * HUGE_SIZE;
		p = mmap(at, len, PROT_READ | PROT_WRITE, MAP_PRIVATE |
			 MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB | fixed, -1, 0);
		if (p != MAP_FAILED)
			break;
		/* The pool is used up (pinned by registrations): anon. */
		kind = K_ANON;
		/* fall through */
	case K_ANON:
	case K_RO:
		p = mmap(at, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | fixed, -1, 0);
		if (p == MAP_FAILED)
			die("mmap anon");
		/* Sometimes populated, sometimes left for the kernel to fault. */
		if (chance(50))
			memset(at, (int)s, below(len) + 1);
		if (kind == K_RO && mprotect(at, len, PROT_READ))
			die("mprotect");
		break;
	case K_NONE:
		break;
	case K_HOLE:
		munmap(at, len);
		break;
	case K_SECRET:
		len = page_round(some_len(SECRET_SIZE));
		if (mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | fixed,
			 fd, 0) == MAP_FAILED)
			die("mmap secretmem");
		break;
	default:	/* shared file mappings */
		off = below(SLOT_SIZE / page_size) * page_size;
		if (chance(90) && off + len > SLOT_SIZE)
			off = SLOT_SIZE - len;
		if (mmap(at, len, PROT_READ | PROT_WRITE, MAP_SHARED | fixed,
			 fd, off) == MAP_FAILED)
			die("mmap shared file");
	}
	slots[s].kind = kind;
	slots[s].len = len;
	switch (kind) {
	case K_NONE:
		break;
	case K_HOLE:
	case K_SECRET:
		set_never(at, len, true);
		set_novma(at, len, true);
		set_access(at, len, NO_ACCESS);
		break;
	case K_RO:
		set_access(at, len, READ_ONLY);
		break;
	case K_ANON:
	case K_HUGETLB:
		set_access(at, len, READ_WRITE);
		break;
	default:	/* shared files of SLOT_SIZE bytes, mapped from @off */
		if (off + len > SLOT_SIZE)
			set_never(at + SLOT_SIZE - off, off + len - SLOT_SIZE, true);
		set_access(at, len, READ_WRITE);
	}
}

/*
 * A hole is the one part of the arena not mapped: fill the holes while
 * something maps memory without an address (a ring's mmap), so that it
 * cannot land in the arena, where a buffer could be registered over it.
 */
static void cover_holes(bool cover)
{
	int s;

	for (s = 0; s < NR_SLOTS; s++) {
		if (slots[s].kind != K_HOLE)
			continue;
		if (!cover)
			munmap(slot_addr(s), slots[s].len);
		else if (mmap(slot_addr(s), slots[s].len, PROT_NONE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
			 MAP_FAILED)
			die("cover hole");
	}
}

/* A kind, mostly memory that can be registered. */
static enum kind gen_kind(void)
{
	static const unsigned char weight[NR_KINDS] = {
		[K_ANON] = 35, [K_RO] = 7, [K_NONE] = 5, [K_HOLE] = 5,
		[K_HUGETLB] = 10, [K_MEMFD] = 12, [K_TMPFS] = 10, [K_EXT4] = 10,
		[K_SECRET] = 6,
	};
	unsigned int k, pick = below(100);

	for (k = 0; k < NR_KINDS - 1 && pick >= weight[k]; k++)
		pick -= weight[k];
	return k;
}

static unsigned long nr_remap, nr_mprotect, nr_dontneed;
/* Unpinned requests whose span the arena says is accessible: no -EFAULT. */
static unsigned long nr_efault_refused;

/* Change the memory under the registered buffers. */
static void mutate(void)
{
	int s = below(NR_SLOTS);
	size_t len = slots[s].len ? slots[s].len : page_size;
	size_t off = below(len / page_size) * page_size;
	size_t sub = page_round(some_len(len - off));
	/* indexed by enum access */
	static const int prots[] = {
		PROT_NONE, PROT_READ, PROT_READ | PROT_WRITE,
	};
	enum access prot;

	switch (below(4)) {
	case 0:
	case 1:
		nr_remap++;
		map_slot(s, gen_kind());
		break;
	case 2:
		nr_mprotect++;
		/* A hole stays a hole: mprotect fails there. */
		prot = below(3);
		set_access(slot_addr(s) + off, sub,
			   mprotect(slot_addr(s) + off, sub, prots[prot]) ? UNKNOWN : prot);
		break;
	default:
		nr_dontneed++;
		touch_pages(slot_addr(s) + off, sub);
		madvise(slot_addr(s) + off, sub, MADV_DONTNEED);
	}
}

/* Where @addr lies, for the report of a call. */
static const char *where(uint64_t addr)
{
	static char buf[4][48];
	static int n;
	char *b = buf[n++ & 3];
	uint64_t a = (uintptr_t)arena;
	int i;

	if (addr >= a && addr < a + NR_SLOTS * SLOT_SIZE) {
		i = (addr - a) / SLOT_SIZE;
		snprintf(b, 48, "s%d:%s+%#lx", i, kind_name[slots[i].kind],
			 (unsigned long)(addr - a - i * SLOT_SIZE));
		return b;
	}
	for (i = 0; i < nr_special; i++) {
		if (addr >= special[i].base &&
		    addr < special[i].base + special[i].len) {
			snprintf(b, 48, "%s+%#lx", special[i].name,
				 (unsigned long)(addr - special[i].base));
			return b;
		}
	}
	return addr ? "wild" : "NULL";
}

/*
 * An iovec to register: mostly a span of one slot, sometimes across
 * slots, of the special regions, and every shape io_buffer_validate()
 * and iovec_from_user() refuse.
 */
static void gen_iov(struct iovec *iov)
{
	int s = below(NR_SLOTS);
	uint64_t base = (uintptr_t)slot_addr(s);
	uint64_t off = chance(80) ? below(SLOT_SIZE / page_size) * page_size :
				    below(SLOT_SIZE);
	uint64_t len;
	const struct region *r;

	switch (below(100)) {
	case 0 ... 69:		/* within the slot's mapping */
		if (slots[s].len && chance(90))
			off = chance(80) ? below(slots[s].len / page_size) * page_size :
					   below(slots[s].len);
		len = some_len((slots[s].len > off ? slots[s].len : SLOT_SIZE) - off);
		if (chance(70))
			len = page_round(len);
		break;
	case 70 ... 75:		/* within the slot, past its mapping maybe */
		len = some_len(SLOT_SIZE - off);
		break;
	case 76 ... 78:		/* across slots, within the arena */
		len = below(NR_SLOTS * SLOT_SIZE - (base - (uintptr_t)arena) -
			    off) + 1;
		break;
	case 79 ... 82:		/* nr_special >= 1: the donor ring */
		r = &special[below(nr_special)];
		off = chance(70) ? 0 : below(r->len);
		base = r->base;
		len = some_len(r->len - off);
		break;
	case 83 ... 84:
		len = 0;
		break;
	case 85 ... 88:		/* sparse, or NULL with a length */
		base = off = 0;
		len = chance(70) ? 0 : some_len(SLOT_SIZE);
		break;
	case 89 ... 90:		/* over the 1 GiB limit */
		len = (1UL << 30) + 1 + below(1UL << 31);
		break;
	case 91 ... 92:		/* wraps the address space */
		base = ~0ULL - below(1 << 20);
		off = 0;
		len = below(1 << 21) + 1;
		break;
	case 93 ... 94:		/* a kernel address */
		base = 0xffff888000000000ULL + below(1ULL << 30) * page_size;
		off = 0;
		len = page_size * (below(4) + 1);
		break;
	case 95 ... 96:		/* a length iovec_from_user() refuses */
		len = (1ULL << 63) | below(1 << 20);
		break;
	case 97:		/* low memory */
		base = below(1 << 16);
		off = 0;
		len = page_size;
		break;
	default:
		base = rnd();
		off = 0;
		len = rnd() >> below(64);
	}
	iov->iov_base = (void *)(uintptr_t)(base + off);
	iov->iov_len = len;
}

/* ---- rings and their model ---- */

enum state { EMPTY, PINNED, UNPINNED };
static const char *const state_name[] = { "empty", "pinned", "unpinned" };

struct mslot {
	uint64_t base, len;
	enum state state;
	uint64_t tag;		/* posted when an update replaces the buffer */
	unsigned long gen;	/* gen_now at its registration */
};

struct fring {
	struct io_uring ring;
	int reg_index;		/* index of the registered ring fd, or -1 */
	unsigned int nr;	/* table size; 0: no table */
	struct mslot slot[MAX_BUFS];
	/* Tags of replaced buffers whose CQE has not been seen yet. */
	unsigned int nr_pending;
	uint64_t pending[MAX_BUFS];
};

static struct fring rings[NR_RINGS];
static struct io_uring donor;	/* only its mapping is used */
static bool sysctl_unpinned;
static unsigned long nr_tags, nr_tags_expected;
static void bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/*
 * A tag is posted once, by io_rsrc_put_work(), when the node that
 * __io_sqe_buffers_update() queued the replaced buffer on
 * (io_queue_rsrc_removal()) is put by the last request that used it. In
 * 6.12 nothing else posts one: __io_sqe_buffers_unregister(), a failed
 * registration and the ring's teardown drop the buffers and their tags
 * without a CQE.
 */
static void tag_expect(struct fring *fr, uint64_t tag)
{
	if (fr->nr_pending == MAX_BUFS)
		return;		/* a tag never posted shows at the next check */
	fr->pending[fr->nr_pending++] = tag;
	nr_tags_expected++;
}

static void tag_seen(struct fring *fr, uint64_t tag)
{
	unsigned int i;

	nr_tags++;
	for (i = 0; i < fr->nr_pending; i++) {
		if (fr->pending[i] != tag)
			continue;
		fr->pending[i] = fr->pending[--fr->nr_pending];
		return;
	}
	bad("ring %d: CQE with tag %#llx, not that of a replaced buffer (or twice)",
	    (int)(fr - rings), (unsigned long long)tag);
}

static void ring_open(struct fring *fr)
{
	int ret = io_uring_queue_init(16, &fr->ring, 0);

	if (ret) {
		errno = -ret;
		die("io_uring_queue_init");
	}
	/* Its index in the task's registered ring fds, for clones. */
	ret = io_uring_register_ring_fd(&fr->ring);
	fr->reg_index = ret == 1 ? (int)fr->ring.enter_ring_fd : -1;
	fr->nr = 0;
	fr->nr_pending = 0;
}

/* Reap what arrived besides requests: tags of buffers let go. */
static void drain(struct fring *fr)
{
	struct io_uring_cqe *cqe;

	while (!io_uring_peek_cqe(&fr->ring, &cqe)) {
		tag_seen(fr, cqe->user_data);
		io_uring_cqe_seen(&fr->ring, cqe);
	}
}

/*
 * Every tag expected has come: the last request using a replaced buffer
 * may free its node a little after its own CQE (io-wq, task_work), so
 * wait up to a second for stragglers.
 */
static void tags_check(struct fring *fr, const char *when)
{
	struct __kernel_timespec ts = { .tv_nsec = 10000000 };
	struct io_uring_cqe *cqe;
	int i;

	drain(fr);
	for (i = 0; i < 100 && fr->nr_pending; i++) {
		if (!io_uring_wait_cqe_timeout(&fr->ring, &cqe, &ts)) {
			tag_seen(fr, cqe->user_data);
			io_uring_cqe_seen(&fr->ring, cqe);
		}
	}
	if (fr->nr_pending)
		bad("ring %d %s: %u tags of replaced buffers never posted (first %#llx)",
		    (int)(fr - rings), when, fr->nr_pending,
		    (unsigned long long)fr->pending[0]);
	fr->nr_pending = 0;
}

/* What a successful registration of @iov with @flags leaves in @fr. */
static void model_set(struct fring *fr, unsigned int i, const struct iovec *iov,
		      unsigned int flags, uint64_t tag)
{
	struct mslot *m = &fr->slot[i];

	m->base = (uintptr_t)iov->iov_base;
	m->len = iov->iov_len;
	m->tag = tag;
	m->gen = gen_now;
	if (!iov->iov_base)
		m->state = EMPTY;
	else if (flags & IORING_RSRC_REGISTER_UNPINNED)
		m->state = UNPINNED;
	else if (flags & IORING_RSRC_REGISTER_PINNED)
		m->state = PINNED;
	else
		m->state = sysctl_unpinned ? UNPINNED : PINNED;
}

/* ---- statistics and the check of each call ---- */

enum op {
	OP_REGISTER, OP_REGISTER2, OP_UPDATE, OP_CLONE, OP_UNREGISTER,
	OP_RESET, OP_READ, OP_WRITE, NR_OPS
};
static const char *const op_name[] = {
	"REGISTER_BUFFERS", "REGISTER_BUFFERS2", "REGISTER_BUFFERS_UPDATE",
	"REGISTER_CLONE_BUFFERS", "UNREGISTER_BUFFERS", "RING_RESET",
	"READ_FIXED", "WRITE_FIXED",
};

static struct {
	unsigned long calls, ok;
	struct eset seen;
} stats[NR_OPS];

static uint64_t seed;
static unsigned long call_no, unexpected;
static const char *cur_op = "setup";
static bool verbose;
static char args[1024];

/* Append to the description of the current call. */
static void __attribute__((format(printf, 1, 2))) arg(const char *fmt, ...)
{
	size_t n = strlen(args);
	va_list ap;

	if (n >= sizeof(args) - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(args + n, sizeof(args) - n, fmt, ap);
	va_end(ap);
}

/* Record one call's result; @good says the oracle accepts it. */
static void account(enum op op, int ret, bool good, const char *want)
{
	stats[op].calls++;
	if (ret >= 0)
		stats[op].ok++;
	else
		es_add(&stats[op].seen, -ret);
	if (verbose)
		diag("call %lu %s %s -> %d %s", call_no, op_name[op], args, ret,
		     ret < 0 ? ename(-ret) : "");
	if (good)
		return;
	if (++unexpected <= MAX_REPORTS)
		tap(false, "seed=%llu call=%lu op=%s %s: got %d (%s), want %s",
		    (unsigned long long)seed, call_no, op_name[op], args, ret,
		    ret < 0 ? ename(-ret) : "success", want);
}

/* A check outside the errno oracle failed: report it as one. */
static void bad(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (++unexpected <= MAX_REPORTS)
		tap(false, "seed=%llu call=%lu op=%s: %s", (unsigned long long)seed,
		    call_no, cur_op, msg);
}

/* Check an errno-or-zero result against a set (@ok_allowed: 0 too). */
static void expect(enum op op, int ret, bool ok_allowed, const struct eset *s)
{
	char want[256], list[200];

	snprintf(want, sizeof(want), "%s%s%s", ok_allowed ? "success" : "",
		 ok_allowed && es_count(s) ? " or " : "",
		 es_str(s, list, sizeof(list)));
	account(op, ret, ret >= 0 ? ok_allowed : es_has(s, -ret), want);
}

static void expect_one(enum op op, int ret, int err)
{
	struct eset s = {};

	es_add(&s, err);
	expect(op, ret, !err, &s);
}

/* ---- registration ---- */

static struct iovec iovs[MAX_BUFS + 1];	/* entries past FILL_IOVS stay 0 */
static uint64_t tags[MAX_BUFS + 1];
static unsigned char *bad_ptr;		/* a PROT_NONE page */

/*
 * What registering one iovec may give, as io_sqe_buffers_register() and
 * __io_sqe_buffers_update() take them one after the other:
 * iovec_from_user() refuses a length that is negative as ssize_t
 * (-EINVAL), io_buffer_validate() a NULL base with a length, a zero
 * length or one over 1 GiB (-EFAULT) and an end that wraps
 * (-EOVERFLOW); a NULL base (an empty slot) may not carry a tag
 * (-EINVAL). Then pinning, or the mirror's umirror_init() and
 * umirror_check(), decide by the memory (mem_outcome()).
 */
struct iov_outcome {
	bool can_ok;
	struct eset fail;
};

/* x86-64 TASK_SIZE_MAX with 4-level paging: the guest has no LA57. */
#define USER_END	0x7ffffffff000ULL
static uint64_t mmap_min_addr = 65536;	/* vm.mmap_min_addr, read at start */

/*
 * What the memory under [@base, @base + @len) lets a registration give,
 * @len > 0 and the end not wrapping. Exact where the kernel decides from
 * the addresses and the VMAs alone:
 *  - an end past USER_END: the GUP of io_pin_pages() fails
 *    internal_get_user_pages_fast()'s "end > TASK_SIZE_MAX" (-EFAULT);
 *    umirror_init() fails "end > mm->task_size" with -EINVAL, which
 *    io_sqe_buffer_register_unpinned() turns into -EFAULT;
 *  - a start below vm.mmap_min_addr, where nothing can be mapped: the
 *    first page has no VMA, for GUP and for umirror_check() (-EFAULT);
 *  - [vvar] is VM_PFNMAP: check_vma_flags() refuses it (-EFAULT), for
 *    both;
 *  - an arena span, unpinned: umirror_check() walks the VMAs, faulting
 *    nothing, and check_vma_flags(FOLL_PIN | FOLL_WRITE) refuses a VMA
 *    without VM_WRITE and secretmem; a hole fails the walk. Success (or
 *    -ENOMEM) iff every page's VMA is writable (page_vma[]), else only
 *    -EFAULT;
 *  - an arena span, pinned: io_pin_pages() pins FOLL_WRITE |
 *    FOLL_LONGTERM and faults, so every page must be writable and
 *    faultable (page_access[]: not past a shared file's end, where the
 *    fault is SIGBUS), and check_vma_flags() -> writable_file_mapping_allowed()
 *    refuses a file mapping that needs dirty tracking (ext4, whatever
 *    its protection; shmem, memfd and hugetlb do not need it).
 * Pages of unknown protection, and memory outside the arena (the ring's
 * mmap, random user addresses), allow success, -EFAULT and -ENOMEM.
 */
static void mem_outcome(uint64_t base, uint64_t len, bool unpinned,
			struct iov_outcome *o)
{
	size_t i, first, last;
	bool unknown = false, bad = false;
	int k;

	if (base + len > USER_END || base < mmap_min_addr) {
		es_add(&o->fail, EFAULT);
		return;
	}
	for (k = 0; k < nr_special; k++) {
		if (strcmp(special[k].name, "vvar") ||
		    base >= special[k].base + special[k].len ||
		    base + len <= special[k].base)
			continue;
		es_add(&o->fail, EFAULT);
		return;
	}
	if (!arena_pages(base, len, &first, &last)) {
		o->can_ok = true;
		es_add(&o->fail, EFAULT);
		es_add(&o->fail, ENOMEM);
		return;
	}
	for (i = first; i <= last; i++) {
		enum access a = unpinned ? page_vma[i] : page_access[i];

		if (!unpinned && slots[i * page_size / SLOT_SIZE].kind == K_EXT4)
			bad = true;
		else if (a == UNKNOWN)
			unknown = true;
		else if (a != READ_WRITE)
			bad = true;
	}
	if (bad) {
		es_add(&o->fail, EFAULT);
		return;
	}
	o->can_ok = true;
	es_add(&o->fail, ENOMEM);
	if (unknown)
		es_add(&o->fail, EFAULT);
}

/* Whether a registration with @flags is unpinned: io_sqe_buffer_register(). */
static bool flags_unpinned(unsigned int flags)
{
	if (flags & IORING_RSRC_REGISTER_PINNED)
		return false;
	return flags & IORING_RSRC_REGISTER_UNPINNED || sysctl_unpinned;
}

static void classify_iov(const struct iovec *iov, uint64_t tag, bool tags_bad,
			 unsigned int flags, struct iov_outcome *o)
{
	uint64_t base = (uintptr_t)iov->iov_base, len = iov->iov_len, end;

	memset(o, 0, sizeof(*o));
	if ((int64_t)len < 0) {
		es_add(&o->fail, EINVAL);
	} else if (tags_bad) {
		es_add(&o->fail, EFAULT);
	} else if (!base) {
		if (len)
			es_add(&o->fail, EFAULT);
		else if (tag)
			es_add(&o->fail, EINVAL);
		else
			o->can_ok = true;
	} else if (!len || len > (1UL << 30)) {
		es_add(&o->fail, EFAULT);
	} else if (__builtin_add_overflow(base, len + page_size - 1, &end)) {
		es_add(&o->fail, EOVERFLOW);
	} else {
		mem_outcome(base, len, flags_unpinned(flags), o);
	}
}

/*
 * Errnos a whole-table registration of @nr iovecs may end with: that of
 * some iovec all of whose predecessors may succeed. *@can_ok: all may.
 */
static void table_outcome(unsigned int nr, const struct iovec *v,
			  const uint64_t *t, unsigned int flags, struct eset *s,
			  bool *can_ok)
{
	struct iov_outcome o;
	unsigned int i;

	*can_ok = true;
	for (i = 0; i < nr; i++) {
		classify_iov(&v[i], t ? t[i] : 0, false, flags, &o);
		es_or(s, &o.fail);
		if (!o.can_ok) {
			*can_ok = false;
			return;
		}
	}
}

static const char *flag_str(unsigned int flags)
{
	static char buf[64];

	snprintf(buf, sizeof(buf), "%#x%s%s%s", flags,
		 flags & IORING_RSRC_REGISTER_SPARSE ? ":sparse" : "",
		 flags & IORING_RSRC_REGISTER_UNPINNED ? ":unpinned" : "",
		 flags & IORING_RSRC_REGISTER_PINNED ? ":pinned" : "");
	return buf;
}

static void arg_iovs(unsigned int nr, const struct iovec *v, const uint64_t *t)
{
	unsigned int i;

	for (i = 0; i < nr && i < 4; i++)
		arg(" iov[%u]={%p (%s),%#zx%s}", i, v[i].iov_base,
		    where((uintptr_t)v[i].iov_base), v[i].iov_len,
		    t && t[i] ? ",tag" : "");
	if (nr > 4)
		arg(" ...");
}

/* A table size: mostly a few slots, sometimes the limits and past them. */
static unsigned int gen_nr(void)
{
	switch (below(100)) {
	case 0 ... 3:
		return 0;
	case 4 ... 6:
		return MAX_BUFS;
	case 7 ... 8:
		return MAX_BUFS + 1;
	case 9:
		return rnd();
	case 10 ... 19:
		return below(FILL_IOVS) + 1;
	case 20 ... 49:
		return below(8) + 1;
	default:
		return below(3) + 1;
	}
}

/* Fill iovs[] and tags[] for @nr buffers; returns how many were made. */
static unsigned int fill_iovs(unsigned int nr, bool with_tags)
{
	unsigned int i, n = nr < FILL_IOVS ? nr : FILL_IOVS;

	for (i = 0; i < n; i++) {
		gen_iov(&iovs[i]);
		tags[i] = with_tags && chance(30) ? rnd() | 1 : 0;
		/* A tag CQE must not pass for a request's (REQ_MARK). */
		if ((tags[i] & ~0xffffffffULL) == REQ_MARK)
			tags[i] ^= 1ULL << 63;
	}
	return n;
}

static void clear_iovs(unsigned int n)
{
	memset(iovs, 0, n * sizeof(iovs[0]));
	memset(tags, 0, n * sizeof(tags[0]));
}

/* Registration flags: the known ones, both pin flags, unknown bits. */
static unsigned int gen_flags(bool sparse_ok)
{
	static const unsigned int common[] = {
		0, IORING_RSRC_REGISTER_UNPINNED, IORING_RSRC_REGISTER_PINNED,
	};

	switch (below(100)) {
	case 0 ... 84:
		return common[below(3)];
	case 85 ... 88:
		return IORING_RSRC_REGISTER_UNPINNED | IORING_RSRC_REGISTER_PINNED;
	case 89 ... 93:
		return sparse_ok ? IORING_RSRC_REGISTER_SPARSE | common[below(3)] :
				   IORING_RSRC_REGISTER_SPARSE;
	case 94 ... 97:
		return 1U << (below(29) + 3);
	default:
		return rnd();
	}
}

/* A result that may differ between unpinned and pinned needs no model. */
static void register_model(struct fring *fr, unsigned int nr,
			   unsigned int flags, const uint64_t *t)
{
	unsigned int i;

	fr->nr = nr;
	for (i = 0; i < nr; i++)
		model_set(fr, i, &iovs[i], flags, t ? t[i] : 0);
}

/* IORING_REGISTER_BUFFERS: io_uring_register() then io_sqe_buffers_register(). */
static void op_register(struct fring *fr)
{
	unsigned int nr = gen_nr(), n = fill_iovs(nr, false);
	void *argp = chance(3) ? NULL : chance(3) ? (void *)bad_ptr : iovs;
	struct eset s = {};
	bool can_ok;
	int ret;

	arg("nr=%u arg=%s", nr, argp == iovs ? "iovs" : argp ? "bad" : "NULL");
	arg_iovs(nr, iovs, NULL);
	ret = sys_register(fr->ring.ring_fd, IORING_REGISTER_BUFFERS, argp, nr);
	if (!argp)
		expect_one(OP_REGISTER, ret, EFAULT);	/* register.c */
	else if (fr->nr)
		expect_one(OP_REGISTER, ret, EBUSY);
	else if (!nr || nr > MAX_BUFS)
		expect_one(OP_REGISTER, ret, EINVAL);
	else if (argp == bad_ptr) {
		/*
		 * io_sqe_buffers_register() allocates the tag table
		 * (io_rsrc_data_alloc()) and the buffer table before it reads
		 * the first iovec.
		 */
		es_add(&s, EFAULT);
		es_add(&s, ENOMEM);
		expect(OP_REGISTER, ret, false, &s);
	} else {
		table_outcome(nr, iovs, NULL, 0, &s, &can_ok);
		es_add(&s, ENOMEM);
		expect(OP_REGISTER, ret, can_ok, &s);
	}
	if (!ret)
		register_model(fr, nr, 0, NULL);
	clear_iovs(n);
}

/* IORING_REGISTER_BUFFERS2: io_register_rsrc(), io_sqe_buffers_register(). */
static void op_register2(struct fring *fr)
{
	struct io_uring_rsrc_register rr = {};
	unsigned int size = chance(95) ? sizeof(rr) : below(64);
	unsigned int n, flags;
	struct eset s = {};
	bool data, tags_bad, can_ok;
	void *argp = chance(3) ? (void *)bad_ptr : &rr;
	int ret;

	rr.nr = gen_nr();
	rr.flags = flags = gen_flags(true);
	data = !(flags & IORING_RSRC_REGISTER_SPARSE) ? chance(95) : chance(20);
	n = fill_iovs(rr.nr, true);
	rr.data = data ? (uintptr_t)iovs : 0;
	tags_bad = chance(3);
	rr.tags = tags_bad ? (uintptr_t)bad_ptr : chance(50) ? (uintptr_t)tags : 0;
	if (chance(3))
		rr.resv2 = rnd() | 1;
	arg("size=%u nr=%u flags=%s data=%s tags=%s resv2=%#llx", size, rr.nr,
	    flag_str(flags), data ? "iovs" : "NULL",
	    tags_bad ? "bad" : rr.tags ? "yes" : "NULL",
	    (unsigned long long)rr.resv2);
	if (data)
		arg_iovs(rr.nr, iovs, rr.tags == (uintptr_t)tags ? tags : NULL);
	ret = sys_register(fr->ring.ring_fd, IORING_REGISTER_BUFFERS2, argp, size);

	/* In the order io_register_rsrc() and io_sqe_buffers_register() check. */
	if (size != sizeof(rr))
		expect_one(OP_REGISTER2, ret, EINVAL);
	else if (argp == bad_ptr)
		expect_one(OP_REGISTER2, ret, EFAULT);
	else if (!rr.nr || rr.resv2)
		expect_one(OP_REGISTER2, ret, EINVAL);
	else if (flags & ~(IORING_RSRC_REGISTER_SPARSE |
			   IORING_RSRC_REGISTER_UNPINNED |
			   IORING_RSRC_REGISTER_PINNED) ||
		 (flags & IORING_RSRC_REGISTER_UNPINNED &&
		  flags & IORING_RSRC_REGISTER_PINNED))
		expect_one(OP_REGISTER2, ret, EINVAL);
	else if (flags & IORING_RSRC_REGISTER_SPARSE && data)
		expect_one(OP_REGISTER2, ret, EINVAL);
	else if (fr->nr)
		expect_one(OP_REGISTER2, ret, EBUSY);
	else if (rr.nr > MAX_BUFS)
		expect_one(OP_REGISTER2, ret, EINVAL);
	else if (tags_bad) {
		/* io_rsrc_data_alloc() allocates, then copies the tags. */
		es_add(&s, EFAULT);
		es_add(&s, ENOMEM);
		expect(OP_REGISTER2, ret, false, &s);
	}
	else {
		const uint64_t *t = rr.tags ? tags : NULL;

		if (data) {
			table_outcome(rr.nr, iovs, t, flags, &s, &can_ok);
		} else {
			/* No data: every slot empty, refused if tagged. */
			unsigned int i;

			can_ok = true;
			for (i = 0; t && i < n; i++)
				if (t[i])
					can_ok = false;
			if (!can_ok)
				es_add(&s, EINVAL);
		}
		es_add(&s, ENOMEM);
		expect(OP_REGISTER2, ret, can_ok, &s);
	}
	if (!ret) {
		if (!data)
			clear_iovs(n);
		register_model(fr, rr.nr, flags,
			       rr.tags && !tags_bad ? tags : NULL);
	}
	clear_iovs(n);
}

/* IORING_REGISTER_BUFFERS_UPDATE: io_register_rsrc_update(). */
static void op_update(struct fring *fr)
{
	struct io_uring_rsrc_update2 up = {};
	unsigned int size = chance(95) ? sizeof(up) : below(64);
	unsigned int nr, flags, n, i;
	void *argp = chance(3) ? (void *)bad_ptr : &up;
	bool tags_bad, good;
	struct iov_outcome o;
	struct eset s = {};
	char want[64];
	uint32_t sum;
	int ret;

	switch (below(10)) {
	case 0:
		up.offset = rnd();
		break;
	case 1:
		up.offset = fr->nr + below(3);
		break;
	default:
		up.offset = below(fr->nr ? fr->nr : 4);
	}
	nr = chance(4) ? 0 : chance(4) ? rnd() : chance(70) ? 1 : below(6) + 1;
	/* Mostly within the table. */
	if (fr->nr && nr && nr < 64 && chance(80) && up.offset < fr->nr &&
	    up.offset + nr > fr->nr)
		nr = fr->nr - up.offset;
	up.nr = nr;
	/* liburing 2.3 names the flags word resv */
	up.resv = flags = gen_flags(false);
	n = fill_iovs(nr, true);
	up.data = (uintptr_t)iovs;
	tags_bad = chance(3);
	up.tags = tags_bad ? (uintptr_t)bad_ptr : chance(50) ? (uintptr_t)tags : 0;
	if (chance(3))
		up.resv2 = rnd() | 1;
	arg("size=%u offset=%u nr=%u flags=%s tags=%s resv2=%#x table=%u", size,
	    up.offset, nr, flag_str(flags),
	    tags_bad ? "bad" : up.tags ? "yes" : "NULL", up.resv2, fr->nr);
	arg_iovs(nr, iovs, up.tags == (uintptr_t)tags ? tags : NULL);
	ret = sys_register(fr->ring.ring_fd, IORING_REGISTER_BUFFERS_UPDATE, argp,
			   size);

	if (size != sizeof(up))
		expect_one(OP_UPDATE, ret, EINVAL);
	else if (argp == bad_ptr)
		expect_one(OP_UPDATE, ret, EFAULT);
	else if (!nr || up.resv2)
		expect_one(OP_UPDATE, ret, EINVAL);
	else if (flags & ~(IORING_RSRC_REGISTER_UNPINNED |
			   IORING_RSRC_REGISTER_PINNED) ||
		 (flags & IORING_RSRC_REGISTER_UNPINNED &&
		  flags & IORING_RSRC_REGISTER_PINNED))
		expect_one(OP_UPDATE, ret, EINVAL);
	else if (__builtin_add_overflow(up.offset, nr, &sum))
		expect_one(OP_UPDATE, ret, EOVERFLOW);
	else if (!fr->nr)
		expect_one(OP_UPDATE, ret, ENXIO);
	else if (sum > fr->nr)
		expect_one(OP_UPDATE, ret, EINVAL);
	else {
		/*
		 * Slot by slot, stopping at the first failure: a positive
		 * count of the slots replaced, or the first slot's errno.
		 * A replacement may also fail allocating its node (-ENOMEM).
		 */
		if (ret > 0) {
			good = (unsigned int)ret <= nr;
			for (i = 0; good && i < (unsigned int)ret; i++) {
				classify_iov(&iovs[i], up.tags ? tags[i] : 0,
					     tags_bad, flags, &o);
				good = o.can_ok;
			}
			if (good && (unsigned int)ret < nr) {
				classify_iov(&iovs[ret], up.tags ? tags[ret] : 0,
					     tags_bad, flags, &o);
				good = es_count(&o.fail) || fr->slot[up.offset + ret].state != EMPTY;
			}
			snprintf(want, sizeof(want), "a count of slots that may succeed (1..%u)", nr);
			account(OP_UPDATE, ret, good, want);
		} else {
			classify_iov(&iovs[0], up.tags ? tags[0] : 0, tags_bad,
				     flags, &o);
			s = o.fail;
			if (fr->slot[up.offset].state != EMPTY)
				es_add(&s, ENOMEM);
			expect(OP_UPDATE, ret, false, &s);
		}
		for (i = 0; ret > 0 && i < (unsigned int)ret && i < nr; i++) {
			struct mslot *old = &fr->slot[up.offset + i];

			if (old->state != EMPTY && old->tag)
				tag_expect(fr, old->tag);
			model_set(fr, up.offset + i, &iovs[i], flags,
				  up.tags ? tags[i] : 0);
		}
	}
	clear_iovs(n);
}

/* IORING_REGISTER_CLONE_BUFFERS: io_register_clone_buffers(). */
static void op_clone(struct fring *fr)
{
	struct clone_buffers cb = {};
	struct fring *src = &rings[below(NR_RINGS)];
	unsigned int nr = chance(95) ? 1 : below(3);
	void *argp = chance(3) ? NULL : chance(3) ? (void *)bad_ptr : &cb;
	bool registered = false, pad_set;
	struct fring *from = NULL;
	int ret, err, kind = below(100);

	/* The source: a ring (maybe this one), by fd or registered index. */
	if (kind < 65) {
		cb.src_fd = src->ring.ring_fd;
		from = src;
	} else if (kind < 85) {
		registered = true;
		cb.flags = REGISTER_SRC_REGISTERED;
		cb.src_fd = chance(80) ? (unsigned int)src->reg_index : below(20);
		if ((int)cb.src_fd == src->reg_index)
			from = src;
		else
			for (int i = 0; i < NR_RINGS; i++)
				if ((int)cb.src_fd == rings[i].reg_index)
					from = &rings[i];
	} else if (kind < 92) {
		cb.src_fd = kind_fd[K_MEMFD];	/* not a ring */
	} else {
		cb.src_fd = 1000 + below(1000);	/* not open */
	}
	if (chance(5))
		cb.flags |= 1U << (below(31) + 1);
	if (chance(3))
		cb.pad[below(6)] = rnd() | 1;
	pad_set = cb.pad[0] | cb.pad[1] | cb.pad[2] | cb.pad[3] | cb.pad[4] |
		  cb.pad[5];
	arg("nr=%u arg=%s src_fd=%u%s flags=%#x pad=%s dst_table=%u src=%s(table %u)",
	    nr, argp == &cb ? "cb" : argp ? "bad" : "NULL", cb.src_fd,
	    registered ? "(registered index)" : "", cb.flags,
	    pad_set ? "set" : "0", fr->nr,
	    from ? (from == fr ? "self" : "ring") : "none", from ? from->nr : 0);
	ret = sys_register(fr->ring.ring_fd, REGISTER_CLONE_BUFFERS, argp, nr);

	/* The order of __io_uring_register(), io_register_clone_buffers(). */
	if (!argp || nr != 1)
		err = EINVAL;
	else if (fr->nr)
		err = EBUSY;
	else if (argp == bad_ptr)
		err = EFAULT;
	else if (cb.flags & ~REGISTER_SRC_REGISTERED || pad_set)
		err = EINVAL;
	else if (registered && cb.src_fd >= 16)	/* IO_RINGFD_REG_MAX */
		err = EINVAL;
	else if (!from && (registered || cb.src_fd >= 1000))
		err = EBADF;
	else if (!from)
		err = EOPNOTSUPP;
	else if (!from->nr)
		err = ENXIO;
	else
		err = 0;
	if (err || ret != -ENOMEM)
		expect_one(OP_CLONE, ret, err);
	else
		account(OP_CLONE, ret, true, "");
	if (!ret && from) {
		fr->nr = from->nr;
		memcpy(fr->slot, from->slot, from->nr * sizeof(fr->slot[0]));
		/* io_clone_buffers() allocates its table with no tags. */
		for (unsigned int i = 0; i < fr->nr; i++)
			fr->slot[i].tag = 0;
	}
}

/* IORING_UNREGISTER_BUFFERS: io_sqe_buffers_unregister(). */
static void op_unregister(struct fring *fr)
{
	void *argp = chance(3) ? (void *)iovs : NULL;
	unsigned int nr = chance(3) ? below(4) + 1 : 0;
	int ret;

	arg("arg=%s nr=%u table=%u", argp ? "set" : "NULL", nr, fr->nr);
	ret = sys_register(fr->ring.ring_fd, IORING_UNREGISTER_BUFFERS, argp, nr);
	expect_one(OP_UNREGISTER, ret, argp || nr ? EINVAL : fr->nr ? 0 : ENXIO);
	/*
	 * io_rsrc_ref_quiesce() has waited for every node queued before:
	 * the tags of buffers replaced until now are all posted.
	 */
	if (!ret) {
		fr->nr = 0;
		tags_check(fr, "after UNREGISTER_BUFFERS");
	}
}

/* Close a ring with whatever it holds and open a new one in its place. */
static void op_reset(struct fring *fr)
{
	arg("table=%u", fr->nr);
	/* Closing posts nothing: the tags expected must be there before. */
	tags_check(fr, "before close");
	cover_holes(true);
	io_uring_queue_exit(&fr->ring);
	ring_open(fr);
	cover_holes(false);
	account(OP_RESET, 0, true, "");
}

/* ---- requests ---- */

enum target { T_BLK, T_TMPFS, T_EXT4, NR_TARGETS };
static const char *const target_name[] = { "blockdev", "tmpfs", "ext4" };

static struct {
	int fd;
	bool direct;
	uint64_t size;		/* fixed for the block device */
} targets[NR_TARGETS] = { { -1 }, { -1 }, { -1 } };

static uint64_t target_size(enum target t)
{
	struct stat st;

	if (t == T_BLK)
		return targets[t].size;
	if (fstat(targets[t].fd, &st))
		die("fstat");
	return st.st_size;
}

/* Submit one request and return its result; -ETIME if it never ends. */
static int submit_one(struct fring *fr)
{
	struct __kernel_timespec ts = { .tv_sec = 60 };
	struct io_uring_cqe *cqe;
	int ret;

	ret = io_uring_submit(&fr->ring);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	for (;;) {
		ret = io_uring_wait_cqe_timeout(&fr->ring, &cqe, &ts);
		if (ret)
			return ret == -ETIME ? -ETIME : ret;
		if ((cqe->user_data & ~0xffffffffULL) == REQ_MARK)
			break;
		tag_seen(fr, cqe->user_data);
		io_uring_cqe_seen(&fr->ring, cqe);
	}
	ret = cqe->res;
	io_uring_cqe_seen(&fr->ring, cqe);
	return ret;
}

/*
 * Data checks. The fuzzer is the only user of its targets and runs one
 * request at a time, so right after a request has completed the target
 * holds what the request moved, whatever other requests wrote before.
 */
#define BOUNCE_SIZE	(16UL << 20)
static unsigned char *bounce;		/* BOUNCE_SIZE, page aligned */
static unsigned long nr_verified[2][2];	/* [write][pinned] */

/* Read [@off, @off + @len) of target @t; NULL if it cannot be read. */
static const unsigned char *target_read(enum target t, uint64_t off,
					uint64_t len)
{
	uint64_t aoff = off, alen = len;
	ssize_t r;

	/* O_DIRECT: whole logical blocks, into an aligned buffer. */
	if (targets[t].direct) {
		aoff = off & ~4095ULL;
		alen = ((off + len + 4095) & ~4095ULL) - aoff;
	}
	r = pread(targets[t].fd, bounce, alen, aoff);
	if (r < 0 || (uint64_t)r < off - aoff + len)
		return NULL;
	return bounce + (off - aoff);
}

/*
 * After a request on @m moved @n bytes between [@addr, @addr + @n) and
 * target @t at @off: the memory and the target must hold the same bytes.
 * Checked where the process can read every page of the span and sees the
 * pages the kernel used: always for an unpinned buffer (it names
 * addresses, io_import_unpinned() finds the pages mapped now), for a
 * pinned one only where no remap or MADV_DONTNEED has replaced a page
 * since its registration. A read into a span across slots is not
 * checked: two slots may map the same page of a shared file, and the
 * later part of the read then overwrites the earlier.
 */
static void verify_data(const struct mslot *m, enum target t, bool write,
			uint64_t addr, uint64_t off, uint64_t n)
{
	const unsigned char *mem = (const unsigned char *)(uintptr_t)addr;
	const unsigned char *held;
	uint64_t i, a = (uintptr_t)arena;

	if (!n || n > BOUNCE_SIZE - 8192 || !span_readable(addr, n))
		return;
	if (m->state == PINNED && !span_untouched(addr, n, m->gen))
		return;
	if (!write && (addr - a) / SLOT_SIZE != (addr + n - 1 - a) / SLOT_SIZE)
		return;
	held = target_read(t, off, n);
	if (!held) {
		bad("%s: cannot read back %#llx bytes at %#llx of %s: %s", args,
		    (unsigned long long)n, (unsigned long long)off,
		    target_name[t], strerror(errno));
		return;
	}
	nr_verified[write][m->state == PINNED]++;
	if (!memcmp(mem, held, n))
		return;
	for (i = 0; mem[i] == held[i]; i++)
		;
	bad("%s: %s buffer %s: memory and %s differ at byte %#llx of %#llx (memory %#04x, target %#04x)",
	    args, state_name[m->state], write ? "written out" : "read into",
	    target_name[t], (unsigned long long)i, (unsigned long long)n,
	    mem[i], held[i]);
}

/* A span for a request on @m: inside, aligned or not, or across its edges. */
static void gen_span(const struct mslot *m, bool direct, uint64_t *addr,
		     uint32_t *len)
{
	uint64_t a, rem, l, cap = chance(90) ? 256 << 10 : 8 << 20;

	if (m && m->state != EMPTY && chance(85)) {
		a = m->base + below(m->len);
		if (direct && chance(75))
			a = (a + 511) & ~511ULL;
		if (a >= m->base + m->len)
			a = m->base;
		rem = m->base + m->len - a;
		l = chance(5) ? 0 : some_len(rem < cap ? rem : cap);
		if (direct && chance(75) && l > 511)
			l &= ~511ULL;
		*addr = a;
		*len = l;
		return;
	}
	a = m ? m->base : (uintptr_t)arena;
	switch (below(5)) {
	case 0:		/* starts before */
		*addr = a - below(8192) - 1;
		*len = below(16384) + 1 + (a - *addr);
		break;
	case 1:		/* ends after */
		*addr = a + (m ? m->len : 0) - below(4096);
		*len = below(16384) + 4097;
		break;
	case 2:		/* huge */
		*addr = a;
		*len = chance(50) ? 0xffffffff : 1U << (below(8) + 24);
		break;
	case 3:		/* nothing, somewhere */
		*addr = chance(50) ? a : rnd();
		*len = 0;
		break;
	default:
		*addr = rnd();
		*len = rnd();
	}
}

/*
 * READ_FIXED or WRITE_FIXED. The span is checked against the slot at
 * prep (io_prep_rw_fixed(): index out of range, empty slot, span not
 * inside: -EFAULT, exactly). Inside, by target and mode:
 *  - any unpinned slot: -EFAULT where a page of the span is not mapped
 *    as the I/O needs it now (the arena's page_access[]), -ENOMEM (umirror.rst, "Requests can fail with errors a pinned
 *    buffer never gives them"); buffered I/O through the user address
 *    may come short, as read(2) does;
 *  - the block device, O_DIRECT: -EINVAL if position, length or address
 *    is not 512-aligned (blkdev_dio_invalid(), after blkdev_read_iter()
 *    and blkdev_write_iter() cut the length at the device's end), -ENOSPC
 *    for a write at or past its end; a read there gives 0, one across it
 *    comes short;
 *  - ext4 O_DIRECT: -EINVAL if misaligned (iomap_dio_bio_iter()), but
 *    a read of a hole or past EOF never checks (iomap_dio_hole_iter());
 *    reads past EOF come short;
 *  - RWF_NOWAIT: -EAGAIN, -EOPNOTSUPP (a file without FMODE_NOWAIT), or
 *    a short count.
 */
static void op_rw(struct fring *fr, bool write)
{
	enum op op = write ? OP_WRITE : OP_READ;
	enum target t;
	struct io_uring_sqe *sqe;
	const struct mslot *m = NULL;
	unsigned int i, idx, sqe_flags = chance(40) ? IOSQE_ASYNC : 0;
	bool nowait = chance(5), inside = false, misaligned, good;
	uint64_t addr, off, size, want_len, end, eff;
	uint32_t len;
	struct eset s = {};
	char want[256], list[128];
	int ret;

	do
		t = below(NR_TARGETS);
	while (targets[t].fd < 0);
	if (fr->nr && chance(90)) {
		/* Mostly a filled slot. */
		for (i = 0; i < 4; i++) {
			idx = below(fr->nr < FILL_IOVS ? fr->nr : FILL_IOVS);
			if (fr->slot[idx].state != EMPTY)
				break;
		}
	} else {
		idx = chance(50) ? fr->nr + below(2) : below(65536);
	}
	if (idx < fr->nr)
		m = &fr->slot[idx];
	gen_span(m, targets[t].direct, &addr, &len);
	if (t == T_BLK && chance(5))
		off = targets[t].size - below(1 << 20);
	else
		off = below(t == T_BLK ? BLK_SPAN : FILE_SPAN);
	if (targets[t].direct && chance(90))
		off &= ~511ULL;
	size = target_size(t);
	arg("ring=%d idx=%u(%s) addr=%#llx (%s) len=%#x off=%#llx target=%s%s%s size=%#llx",
	    (int)(fr - rings), idx, m ? state_name[m->state] : "none",
	    (unsigned long long)addr, where(addr), len, (unsigned long long)off,
	    target_name[t], sqe_flags ? " async" : "", nowait ? " nowait" : "",
	    (unsigned long long)size);
	if (m)
		arg(" buf={%#llx,%#llx}", (unsigned long long)m->base,
		    (unsigned long long)m->len);

	sqe = io_uring_get_sqe(&fr->ring);
	if (write)
		io_uring_prep_write_fixed(sqe, targets[t].fd, (void *)(uintptr_t)addr,
					  len, off, idx);
	else
		io_uring_prep_read_fixed(sqe, targets[t].fd, (void *)(uintptr_t)addr,
					 len, off, idx);
	sqe->flags |= sqe_flags;
	sqe->rw_flags = nowait ? RWF_NOWAIT : 0;
	sqe->user_data = REQ_MARK | (call_no & 0xffffffff);
	ret = submit_one(fr);
	if (ret == -ETIME) {
		tap(false, "seed=%llu call=%lu op=%s %s: no completion in 60 s",
		    (unsigned long long)seed, call_no, op_name[op], args);
		printf("Bail out! a request never completed\n");
		exit(1);
	}

	if (m && m->state != EMPTY && !__builtin_add_overflow(addr, (uint64_t)len, &end))
		inside = addr >= m->base && end <= m->base + m->len;
	if (!inside) {
		expect_one(op, ret, EFAULT);
		return;
	}
	/* The block device truncates I/O at its end before checking it. */
	eff = t == T_BLK && off < size && off + len > size ? size - off : len;
	misaligned = targets[t].direct && ((addr | eff | off) & 511);
	/* A read from the device writes the memory; a write reads it. */
	if (m->state == UNPINNED) {
		if (span_allows(addr, len, !write))
			nr_efault_refused++;
		else
			es_add(&s, EFAULT);
		es_add(&s, ENOMEM);
	}
	if (nowait) {
		es_add(&s, EAGAIN);
		es_add(&s, EOPNOTSUPP);
	}
	if (misaligned)
		es_add(&s, EINVAL);
	if (t == T_BLK && write && off >= size)
		es_add(&s, ENOSPC);
	if (ret < 0) {
		expect(op, ret, true, &s);
		return;
	}
	/* Success: the bytes asked for, short only where said above. */
	want_len = len;
	if ((!write || t == T_BLK) && off + len > size)
		want_len = off < size ? size - off : 0;
	good = (uint64_t)ret == want_len;
	if ((uint64_t)ret < want_len && (nowait ||
	    (m->state == UNPINNED && !targets[t].direct && ret > 0)))
		good = true;
	if (t == T_BLK && len && ((misaligned && !(!write && off >= size)) ||
				  (write && off >= size)))
		good = false;
	snprintf(want, sizeof(want), "%llu bytes%s or %s",
		 (unsigned long long)want_len,
		 t == T_BLK && misaligned ? " (misaligned: none)" : "",
		 es_str(&s, list, sizeof(list)));
	account(op, ret, good, want);
	if (good && ret > 0)
		verify_data(m, t, write, addr, off, ret);
}

/* ---- setup, the run, the checks at the end ---- */

static const char *blockdev, *ext4_dir;

/* An unlinked file of @size in @dir. */
static int scratch_file(const char *dir, size_t size, int flags)
{
	char path[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/iou-fuzz.XXXXXX", dir);
	fd = mkostemp(path, flags);
	if (fd < 0)
		die(path);
	unlink(path);
	if (ftruncate(fd, size))
		die("ftruncate");
	return fd;
}

static void find_vvar(void)
{
	char line[512];
	unsigned long lo, hi;
	FILE *f = fopen("/proc/self/maps", "r");

	if (!f)
		die("/proc/self/maps");
	while (fgets(line, sizeof(line), f)) {
		if (!strstr(line, "[vvar]") ||
		    sscanf(line, "%lx-%lx", &lo, &hi) != 2)
			continue;
		special[nr_special++] = (struct region){ lo, hi - lo, "vvar" };
		break;
	}
	fclose(f);
}

static void setup_kinds(void)
{
	void *p;
	int fd;

	kind_ok[K_ANON] = kind_ok[K_RO] = kind_ok[K_NONE] = kind_ok[K_HOLE] = true;
	p = mmap(NULL, HUGE_SIZE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB | MAP_HUGE_2MB, -1, 0);
	kind_ok[K_HUGETLB] = p != MAP_FAILED;
	if (p != MAP_FAILED)
		munmap(p, HUGE_SIZE);
	kind_fd[K_MEMFD] = memfd_create("iou-fuzz", 0);
	if (kind_fd[K_MEMFD] < 0 || ftruncate(kind_fd[K_MEMFD], SLOT_SIZE))
		die("memfd");
	kind_ok[K_MEMFD] = true;
	kind_fd[K_TMPFS] = scratch_file("/tmp", SLOT_SIZE, 0);
	kind_ok[K_TMPFS] = true;
	if (ext4_dir) {
		kind_fd[K_EXT4] = scratch_file(ext4_dir, SLOT_SIZE, 0);
		kind_ok[K_EXT4] = true;
	}
	fd = syscall(__NR_memfd_secret, 0);
	if (fd >= 0 && !ftruncate(fd, SECRET_SIZE)) {
		kind_fd[K_SECRET] = fd;
		kind_ok[K_SECRET] = true;
	}
	diag("kinds: hugetlb %s, secretmem %s, ext4 %s",
	     kind_ok[K_HUGETLB] ? "yes" : "no (vm.nr_hugepages)",
	     kind_ok[K_SECRET] ? "yes" : "no", ext4_dir ? "yes" : "no");
}

static void setup_targets(void)
{
	struct statfs sfs;

	if (blockdev) {
		targets[T_BLK].fd = open(blockdev, O_RDWR | O_DIRECT);
		if (targets[T_BLK].fd < 0 ||
		    ioctl(targets[T_BLK].fd, BLKGETSIZE64, &targets[T_BLK].size))
			die(blockdev);
		targets[T_BLK].direct = true;
	}
	targets[T_TMPFS].fd = scratch_file("/tmp", 4 << 20, 0);
	if (fstatfs(targets[T_TMPFS].fd, &sfs) || sfs.f_type != 0x01021994)
		diag("/tmp is not tmpfs: buffered I/O goes to its filesystem");
	if (ext4_dir) {
		targets[T_EXT4].fd = scratch_file(ext4_dir, 4 << 20, O_DIRECT);
		targets[T_EXT4].direct = true;
	}
}

/*
 * Everything the run maps without an address is mapped here, before the
 * arena has holes: the rings, the donor ring, the arrays of the oracle.
 */
static void setup(void)
{
	unsigned char *p;
	size_t size = NR_SLOTS * SLOT_SIZE + HUGE_SIZE;
	int i, ret;

	setup_kinds();
	setup_targets();
	bad_ptr = map_anon(page_size, PROT_NONE);
	bounce = map_anon(BOUNCE_SIZE, PROT_READ | PROT_WRITE);
	for (i = 0; i < NR_RINGS; i++)
		ring_open(&rings[i]);
	ret = io_uring_queue_init(8, &donor, 0);
	if (ret) {
		errno = -ret;
		die("io_uring_queue_init");
	}
	special[nr_special++] = (struct region){
		(uintptr_t)donor.sq.ring_ptr, donor.sq.ring_sz, "ring-mmap"
	};
	find_vvar();
	/* The arena, 2 MiB aligned for hugetlb. */
	p = mmap(NULL, size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_NORESERVE, -1, 0);
	if (p == MAP_FAILED)
		die("mmap arena");
	arena = (unsigned char *)(((uintptr_t)p + HUGE_SIZE - 1) & ~(HUGE_SIZE - 1));
	for (i = 0; i < NR_SLOTS; i++)
		map_slot(i, gen_kind());
}

/* D = acquired - released, folded exactly. */
static long pins_out(void)
{
	long acq, rel;

	pin_counts(&acq, &rel);
	return acq - rel;
}

/*
 * Every FOLL_PIN taken has been released. Rings are torn down by a
 * workqueue after close, which a loaded debug guest may run late: allow
 * up to 60 s, as the other tests that wait for teardown do.
 */
static void check_pins_balanced(long before)
{
	struct timespec t0, t1;
	long out = 0;
	int i;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < 1200; i++) {
		out = pins_out();
		if (out == before)
			break;
		usleep(50000);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (out != before)
		diag("pins still held after %.0f s: %ld", (double)(t1.tv_sec - t0.tv_sec),
		     out - before);
	tap(out == before,
	    "pins balanced after all rings closed (acquired - released: %ld, %ld before the run, %ld outstanding)",
	    out, before, out - before);
}

/*
 * After all that, a process registers and uses a buffer as ever: through
 * the mirror, so with O_DIRECT on the block device (buffered I/O would
 * copy through the user address and never use the mirror), aligned.
 */
static void check_sanity(void)
{
	size_t len = 64 << 10;
	unsigned char *buf = map_anon(2 * len, PROT_READ | PROT_WRITE);
	struct iovec iov = { buf, len };
	struct fring *fr = &rings[0];
	enum target t = targets[T_BLK].fd >= 0 ? T_BLK : T_TMPFS;
	struct io_uring_sqe *sqe;
	int w, r = -1, u;
	size_t i;

	ring_open(fr);
	for (i = 0; i < len; i++)
		buf[i] = (unsigned char)(i * 7 + 3);
	w = io_uring_register_buffers(&fr->ring, &iov, 1);
	u = update_buf(&fr->ring, 0, buf, 2 * len, IORING_RSRC_REGISTER_UNPINNED);
	if (!w && u == 1) {
		sqe = io_uring_get_sqe(&fr->ring);
		io_uring_prep_write_fixed(sqe, targets[t].fd, buf, len, 0, 0);
		sqe->user_data = REQ_MARK;
		w = submit_one(fr);
		sqe = io_uring_get_sqe(&fr->ring);
		io_uring_prep_read_fixed(sqe, targets[t].fd, buf + len, len, 0, 0);
		sqe->user_data = REQ_MARK;
		r = submit_one(fr);
	}
	tap(u == 1 && w == (int)len && r == (int)len && !memcmp(buf, buf + len, len),
	    "sanity: register, update to unpinned, write and read back 64 KiB on %s%s (update %d, write %d, read %d)",
	    target_name[t], targets[t].direct ? " with O_DIRECT" : "", u, w, r);
	io_uring_queue_exit(&fr->ring);
	munmap(buf, 2 * len);
}

static void report(void)
{
	unsigned long calls = 0, ok = 0;
	struct eset all = {};
	char list[512];
	int op;

	for (op = 0; op < NR_OPS; op++) {
		calls += stats[op].calls;
		ok += stats[op].ok;
		es_or(&all, &stats[op].seen);
	}
	diag("mutations: remap %lu, mprotect %lu, MADV_DONTNEED %lu; tag CQEs %lu",
	     nr_remap, nr_mprotect, nr_dontneed, nr_tags);
	diag("unpinned requests over accessible pages, where -EFAULT is wrong: %lu",
	     nr_efault_refused);
	diag("tags: %lu expected (of replaced buffers), %lu posted",
	     nr_tags_expected, nr_tags);
	diag("data verified: READ_FIXED %lu unpinned %lu pinned, WRITE_FIXED %lu unpinned %lu pinned",
	     nr_verified[0][0], nr_verified[0][1], nr_verified[1][0],
	     nr_verified[1][1]);
	diag("fuzz: seed=%llu calls=%lu ok=%lu errnos=%d",
	     (unsigned long long)seed, calls, ok, es_count(&all));
	for (op = 0; op < NR_OPS; op++)
		diag("fuzz op=%s calls=%lu ok=%lu errnos=%s", op_name[op],
		     stats[op].calls, stats[op].ok,
		     es_str(&stats[op].seen, list, sizeof(list)));
}

/* A ring with a table or without, when there is one, mostly. */
static struct fring *pick_ring(bool with_table)
{
	struct fring *fr = &rings[below(NR_RINGS)];
	int i;

	for (i = 0; i < 4 && !fr->nr != !with_table && chance(80); i++)
		fr = &rings[below(NR_RINGS)];
	return fr;
}

static void one_call(void)
{
	/* Per mille of the calls, and whether the op wants a ring with a table. */
	static const struct {
		unsigned short weight;
		bool table;
	} mix[NR_OPS] = {
		[OP_REGISTER] = { 50, false }, [OP_REGISTER2] = { 140, false },
		[OP_UPDATE] = { 170, true }, [OP_CLONE] = { 50, false },
		[OP_UNREGISTER] = { 15, true }, [OP_RESET] = { 3, true },
		[OP_READ] = { 286, true }, [OP_WRITE] = { 286, true },
	};
	unsigned int pick = below(1000);
	struct fring *fr;
	enum op op;

	for (op = 0; op < NR_OPS - 1 && pick >= mix[op].weight; op++)
		pick -= mix[op].weight;
	fr = pick_ring(mix[op].table);
	args[0] = 0;
	cur_op = op_name[op];
	switch (op) {
	case OP_REGISTER:
		op_register(fr);
		break;
	case OP_REGISTER2:
		op_register2(fr);
		break;
	case OP_UPDATE:
		op_update(fr);
		break;
	case OP_CLONE:
		op_clone(fr);
		break;
	case OP_UNREGISTER:
		op_unregister(fr);
		break;
	case OP_RESET:
		op_reset(fr);
		break;
	default:
		op_rw(fr, op == OP_WRITE);
	}
	drain(fr);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "seed", required_argument, NULL, 's' },
		{ "calls", required_argument, NULL, 'c' },
		{ "blockdev", required_argument, NULL, 'b' },
		{ "ext4", required_argument, NULL, 'e' },
		{ "verbose", no_argument, NULL, 'v' },
		{}
	};
	unsigned long calls = DEFAULT_CALLS;
	struct timespec t0, t1;
	long pins_before;
	char *end;
	FILE *f;
	int c, i;

	seed = time(NULL) ^ getpid();
	while ((c = getopt_long(argc, argv, "v", opts, NULL)) != -1) {
		switch (c) {
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'c':
			/* "N%": that share of the default */
			calls = strtoul(optarg, &end, 0);
			if (*end == '%')
				calls = DEFAULT_CALLS * calls / 100;
			break;
		case 'b': blockdev = optarg; break;
		case 'e': ext4_dir = optarg; break;
		case 'v': verbose = true; break;
		default:
			fprintf(stderr, "usage: %s [--seed S] [--calls N|N%%] [--blockdev DEV] [--ext4 DIR] [-v]\n",
				argv[0]);
			return 2;
		}
	}
	page_size = sysconf(_SC_PAGESIZE);
	setvbuf(stdout, NULL, _IOLBF, 0);
	diag("iou-fuzz --seed %llu --calls %lu%s%s%s%s",
	     (unsigned long long)seed, calls, blockdev ? " --blockdev " : "",
	     blockdev ?: "", ext4_dir ? " --ext4 " : "", ext4_dir ?: "");
	f = fopen("/proc/sys/kernel/io_uring_unpinned_buffers", "r");
	if (f) {
		sysctl_unpinned = fgetc(f) == '1';
		fclose(f);
	}
	f = fopen("/proc/sys/vm/mmap_min_addr", "r");
	if (f) {
		if (fscanf(f, "%llu", (unsigned long long *)&mmap_min_addr) != 1)
			mmap_min_addr = 65536;
		fclose(f);
	}
	pins_before = pins_out();
	rng_seed(seed);
	setup();

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (call_no = 1; call_no <= calls; call_no++) {
		one_call();
		if (!(call_no % MUTATE_EVERY))
			mutate();
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	diag("%lu calls in %.1f s", calls,
	     (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9);
	report();

	cur_op = "end";
	for (i = 0; i < NR_RINGS; i++)
		tags_check(&rings[i], "at the end");
	cover_holes(true);
	for (i = 0; i < NR_RINGS; i++)
		io_uring_queue_exit(&rings[i].ring);
	io_uring_queue_exit(&donor);
	munmap(arena, NR_SLOTS * SLOT_SIZE);
	tap(!unexpected, "every result was one its call may give (%lu unexpected, seed %llu)",
	    unexpected, (unsigned long long)seed);
	check_pins_balanced(pins_before);
	check_sanity();
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
