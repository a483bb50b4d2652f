/* SPDX-License-Identifier: GPL-2.0 */
/*
 * umirror: access to a process's memory through mmu notifiers, without
 * long-term page pins. See Documentation/mm/umirror.rst.
 */
#ifndef _LINUX_UMIRROR_H
#define _LINUX_UMIRROR_H

#include <linux/bits.h>
#include <linux/mmu_notifier.h>
#include <linux/spinlock.h>
#include <linux/types.h>
#include <linux/workqueue.h>

struct bio_vec;
struct iov_iter;

/* Bytes one batch (umirror_batch_begin()) may access in one lock hold. */
#define UMIRROR_BATCH_BYTES	PAGE_SIZE

/* umirror_init() flags */
#define UMIRROR_WRITE	BIT(0)	/* the range will be written: fault it writable */
#define UMIRROR_MAP	BIT(1)	/* I/O will borrow pages: umirror_map_bvec() */
#define UMIRROR_FLAGS	(UMIRROR_WRITE | UMIRROR_MAP)

/* Epochs a UMIRROR_MAP mirror counts borrowed spans in; a power of two. */
#define UMIRROR_EPOCHS	16

/**
 * struct umirror_stats - what a mirror did, for tests and benchmarks
 * @faults: successful hmm_range_fault() calls
 * @pages_faulted: pages those calls made valid
 * @invalidations: notifier invalidations that overlapped the range
 * @pages_invalidated: valid pages those invalidations cleared
 * @pins: pages pinned by umirror_pin_bvec()
 * @cache_bytes: memory the pfn cache (and its park state) uses now
 * @maps: spans umirror_map_bvec() lent without taking page references
 * @maps_marked: of those, spans lent from what earlier spans marked,
 *	with no page looked up (all of the span's pages used before in the
 *	same way, and not invalidated since)
 * @maps_cached: of those, spans umirror_map_iter() lent as an iterator
 *	over the mirror's own bvecs, with no bvec filled
 * @map_busy: umirror_map_bvec() calls refused with -EBUSY (all epochs in
 *	use, or a span too long): the caller pinned instead
 * @parks: pins invalidations took on pages a borrowed span may be using
 * @parked: of those, pins held now; each keeps one page from being freed,
 *	migrated or reused until the spans that may use it are returned
 * @parked_max: the most pins held parked at once
 * @unparks: parked pins released
 */
struct umirror_stats {
	u64 faults;
	u64 pages_faulted;
	u64 invalidations;
	u64 pages_invalidated;
	u64 pins;
	u64 cache_bytes;
	u64 maps;
	u64 maps_marked;
	u64 maps_cached;
	u64 map_busy;
	u64 parks;
	u64 parked;
	u64 parked_max;
	u64 unparks;
};

struct umirror_park;

/**
 * struct umirror - a mirror of one user virtual range of one mm
 * @notifier: the interval notifier covering the @nr_pages pages at @base
 * @mm: the mirrored mm, held with mmgrab()
 * @start: first user address of the range, as given to umirror_init()
 *	(with its address tag, if any)
 * @end: end of the range (exclusive), named as @start
 * @base: first page of the range in the mm, untagged
 * @nr_pages: pages covered, from @base
 * @flags: UMIRROR_* flags given to umirror_init()
 * @lock: protects @chunks and @stats, and orders them against @notifier's
 *	sequence; a spinlock, so invalidation never sleeps
 * @chunks: the pfn cache, one HMM pfn per page of [@base, @end) kept in
 *	page-sized chunks allocated on first fault; a NULL chunk holds no
 *	valid entry. An entry is trusted only while HMM_PFN_VALID is set,
 *	under @lock
 * @nr_chunks: entries in @chunks
 * @parks: for a UMIRROR_MAP mirror, one park per chunk, allocated with it:
 *	which entries borrowed spans may use, and the pins invalidations
 *	took on them
 * @spills: parked pins moved out of their park when a new page was
 *	faulted in their place; struct umirror_spill, under @lock
 * @epoch: the epoch new borrowed spans are counted in, under @lock; 64
 *	bits, so that an epoch number is never reused
 * @oldest: no span of an epoch before it is outstanding, under @lock
 * @epochs_full: @epoch could not move on after a park: lending stops
 *	until it can, under @lock
 * @borrowed: outstanding borrowed spans, per epoch modulo UMIRROR_EPOCHS;
 *	returned from any context, so atomic
 * @release_work: releases parked pins once their spans are returned
 * @stats: counters, updated under @lock
 *
 * All fields are private to mm/umirror.c; use the functions below.
 */
struct umirror {
	struct mmu_interval_notifier notifier;
	struct mm_struct *mm;
	unsigned long start;
	unsigned long end;
	unsigned long base;
	unsigned long nr_pages;
	unsigned int flags;
	spinlock_t lock;	/* see @lock above */
	unsigned long **chunks;
	unsigned long nr_chunks;
	struct umirror_park **parks;
	struct list_head spills;
	u64 epoch;
	u64 oldest;
	bool epochs_full;
	atomic_t borrowed[UMIRROR_EPOCHS];
	struct delayed_work release_work;
	struct umirror_stats stats;
};

/**
 * struct umirror_batch - small accesses made in one hold of a mirror's lock
 * @um: the mirror, locked from umirror_batch_begin() to umirror_batch_end()
 * @bytes: what the accesses of this hold cost, at most UMIRROR_BATCH_BYTES
 * @err: the error of the first failed access; every later one fails alike
 * @miss_addr: after -EAGAIN, the first address of the access that missed
 * @miss_len: bytes from @miss_addr to fault
 * @miss_write: whether that access writes
 * @touched: the page last made ready for access in this batch
 *
 * All fields are private to mm/umirror.c.
 */
struct umirror_batch {
	struct umirror *um;
	size_t bytes;
	int err;
	unsigned long miss_addr;
	size_t miss_len;
	bool miss_write;
	struct page *touched;
};

int umirror_init(struct umirror *um, struct mm_struct *mm, unsigned long uaddr,
		 size_t len, unsigned int flags);
void umirror_fini(struct umirror *um);
int umirror_check(struct umirror *um);
int umirror_fault(struct umirror *um, unsigned long uaddr, size_t len,
		  bool write);
int umirror_read(struct umirror *um, void *dst, unsigned long uaddr,
		 size_t len);
int umirror_write(struct umirror *um, unsigned long uaddr, const void *src,
		  size_t len);
int umirror_pin_bvec(struct umirror *um, unsigned long uaddr, size_t len,
		     bool write, struct bio_vec *bv, unsigned int max_bv,
		     unsigned int *nr_bv);
int umirror_pin_bvec_nowait(struct umirror *um, unsigned long uaddr,
			    size_t len, bool write, struct bio_vec *bv,
			    unsigned int max_bv, unsigned int *nr_bv);
void umirror_unpin_bvec(struct bio_vec *bv, unsigned int nr_bv, bool dirty);
int umirror_map_bvec(struct umirror *um, unsigned long uaddr, size_t len,
		     bool write, struct bio_vec *bv, unsigned int max_bv,
		     unsigned int *nr_bv, u32 *ticket);
int umirror_map_bvec_nowait(struct umirror *um, unsigned long uaddr,
			    size_t len, bool write, struct bio_vec *bv,
			    unsigned int max_bv, unsigned int *nr_bv,
			    u32 *ticket);
int umirror_map_iter(struct umirror *um, unsigned long uaddr, size_t len,
		     bool write, struct iov_iter *iter, struct bio_vec *bv,
		     unsigned int max_bv, u32 *ticket);
int umirror_map_iter_nowait(struct umirror *um, unsigned long uaddr,
			    size_t len, bool write, struct iov_iter *iter,
			    struct bio_vec *bv, unsigned int max_bv,
			    u32 *ticket);
void umirror_unmap_bvec(struct umirror *um, u32 ticket);
void umirror_get_stats(struct umirror *um, struct umirror_stats *stats);
void umirror_batch_begin(struct umirror *um, struct umirror_batch *b);
int umirror_batch_end(struct umirror_batch *b);
int umirror_batch_read(struct umirror_batch *b, void *dst,
		       unsigned long uaddr, size_t len);
int umirror_batch_write(struct umirror_batch *b, unsigned long uaddr,
			const void *src, size_t len);
int umirror_batch_get(struct umirror_batch *b, unsigned long uaddr, u64 *val,
		      size_t size);
int umirror_batch_put(struct umirror_batch *b, unsigned long uaddr, u64 val,
		      size_t size);
int umirror_batch_set_bit(struct umirror_batch *b, unsigned long uaddr,
			  unsigned int nr);
int umirror_batch_fault(struct umirror_batch *b);

/**
 * umirror_is_of_mm() - whether a mirror mirrors a given mm
 * @um: the mirror
 * @mm: the mm, e.g. current->mm
 *
 * The mirror holds its mm with mmgrab(), so the address cannot be reused
 * by another mm while the mirror exists.
 *
 * Return: true if @um mirrors @mm.
 */
static inline bool umirror_is_of_mm(const struct umirror *um,
				    const struct mm_struct *mm)
{
	return um->mm == mm;
}

#endif /* _LINUX_UMIRROR_H */
