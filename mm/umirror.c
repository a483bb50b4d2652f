// SPDX-License-Identifier: GPL-2.0
/*
 * umirror: reach a process's memory from any kernel context through
 * hmm_range_fault() and an mmu_interval_notifier, with no long-term pins.
 */

/**
 * DOC: Locking
 *
 * A mirror caches one HMM pfn per page of its range, in page-sized chunks
 * allocated on the first fault in them, so that a mirror costs one pointer
 * per chunk until it is used. Three rules keep the cache coherent with the
 * process's page tables:
 *
 * 1. An entry becomes valid only in umirror_fault_pages(), under
 *    &umirror.lock, after mmu_interval_read_retry() confirmed that no
 *    invalidation of the faulted pages ran since the
 *    mmu_interval_read_begin() that preceded hmm_range_fault(). The
 *    sequence checked is that of a notifier covering only those pages (a
 *    fault window, inserted for the fault), so that an invalidation
 *    elsewhere in a large mirror never fails or repeats a fault.
 * 2. The invalidate callbacks of the mirror and of a fault window take
 *    &umirror.lock, bump their notifier's sequence and clear exactly the
 *    entries of the invalidated subrange. Both clear, so entries published
 *    between the two callbacks of one invalidation are cleared by the
 *    second. They never sleep, so they serve non-blockable invalidations
 *    too, and they never wait for I/O: a transient pin is what keeps a
 *    page alive during DMA.
 * 3. A page is touched (copied, or pinned) only under &umirror.lock while
 *    its entry is valid. Each lock hold copies at most one page, or
 *    UMIRROR_BATCH_BYTES in a batch of small accesses, or pins at most
 *    UMIRROR_PIN_RUNS folio runs (a pin is one atomic add per run), or
 *    looks up the UMIRROR_MAP_PAGES entries of one lent span at most (a
 *    few loads and stores each), so an invalidation waits for at most one
 *    page copy, a few pins or one span's lookups.
 *
 * A UMIRROR_MAP mirror also lends spans without taking page references
 * (umirror_map_bvec()): the I/O uses pages that only the process's page
 * tables hold. One more rule keeps them alive until the I/O ends:
 *
 * 4. A lent span is counted in the mirror's current epoch, in the same
 *    hold of &umirror.lock as the lookup of its entries, and each entry
 *    it used is marked with the first and the last epoch that used it;
 *    the mark stays until the entry is cleared, and a span whose entries
 *    are all marked needs no lookup (umirror_lend_marked()). An
 *    invalidation that clears such an entry while a span of an epoch
 *    between those two is out takes a FOLL_PIN pin on the page (the PTE still maps it,
 *    so its refcount is not zero and no freeze can have succeeded), parks
 *    it with the epochs it waits for, and moves new spans to the next
 *    epoch. The release work drops the pin, dirtying a page a device may
 *    have written, once those epochs are returned. Every path that frees
 *    a mapped page or decides from its refcount comes after the
 *    invalidation (see Documentation/mm/umirror.rst), so the parked pin
 *    is seen as a per-I/O pin would be. At most one pin is parked per
 *    entry; a page faulted in place of a pinned one moves the pin to a
 *    spill allocated before the lock. When all UMIRROR_EPOCHS epochs have
 *    spans out, lending stops (-EBUSY: the caller pins instead) until the
 *    oldest drains, so parked pins stay bounded however long a span is
 *    out: at most one per entry per epoch.
 * 5. A span in one chunk, each entry marked and cached, is lent as an
 *    iterator over the chunk's bvec cache, as a pinned buffer is
 *    imported (umirror_lend_cached()): no bvec is filled. A cache entry
 *    names the page of its entry (to the end of a huge mapping,
 *    umirror_cache()) while the entry's cached bit is set; the bit goes
 *    with the entry's marks (a republication of the same page keeps it,
 *    and drops only the write bit with write permission). The block
 *    layer reads a lent bvec until the I/O ends, so a cache entry a span
 *    may still use is never rewritten: when an invalidation parks a pin,
 *    the chunk's cache is held until the spans of that entry's epochs are
 *    returned, and a new page of the chunk is lent from the caller's
 *    bvecs until then.
 *
 * While &umirror.lock is held and an entry is valid, the page table entry
 * it was made from has not changed: every change of a present PTE that
 * matters here (zap, migration, swap-out, fork's write-protect, KSM,
 * mkclean, split) calls the notifiers first, and so waits for the lock.
 * The lock therefore plays the part of GUP-fast's re-read of the PTE after
 * grabbing the folio, and PageAnonExclusive() read under it is stable, as
 * folio_try_share_anon_rmap_pte() is only called after such a notifier.
 *
 * Nothing that may sleep or allocate runs under &umirror.lock. Marking a
 * folio accessed or dirty under it takes what follow_page_pte() takes under
 * the page table lock for FOLL_TOUCH: the LRU batch and LRU locks, and for
 * an anon or shmem folio's ->dirty_folio() no lock at all.
 * mmu_interval_read_begin() may sleep until an invalidation ends and is
 * never called with the lock held. Notifiers run from reclaim, so lockdep
 * is taught at init that reclaim may take the lock.
 */

#include <linux/backing-dev.h>
#include <linux/bvec.h>
#include <linux/cacheinfo.h>
#include <linux/export.h>
#include <linux/highmem.h>
#include <linux/hmm.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/nospec.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/umirror.h>
#include <linux/userfaultfd_k.h>

#include "internal.h"

/* Faults are made in chunks of at most this many pages. */
#define UMIRROR_FAULT_PAGES	(SZ_2M >> PAGE_SHIFT)
/* Pfn cache entries per chunk: a chunk is one page. */
#define UMIRROR_CHUNK_ENTRIES	(PAGE_SIZE / sizeof(unsigned long))
/* Folio runs umirror_pin_bvec() pins per lock hold. */
#define UMIRROR_PIN_RUNS	32
/* Pages in one bvec at most: bv_len is an unsigned int. */
#define UMIRROR_RUN_PAGES_MAX	(UINT_MAX >> PAGE_SHIFT)
/* Pages one lent span may cover: all are looked up in one lock hold. */
#define UMIRROR_MAP_PAGES	256
/* Misses without progress a lent span's lookup makes before it gives up. */
#define UMIRROR_MAP_RESTARTS	4
/* Parked pins the release work drops per lock hold. */
#define UMIRROR_RELEASE_BATCH	32
/* A page lent from marks gets its referenced flag set once per period. */
#define UMIRROR_REFERENCE_PERIOD	HZ
/* While pins stay parked, the release work looks again this often. */
#define UMIRROR_RELEASE_DELAY	msecs_to_jiffies(10)

/*
 * A pin an invalidation took on a page that spans of epochs [@first,
 * @last] may be using. @entry is the HMM pfn of the page with
 * HMM_PFN_VALID, and HMM_PFN_WRITE if a device may have written it; 0
 * when no pin is held.
 */
struct umirror_pin {
	unsigned long entry;
	u64 first;
	u64 last;
};

/*
 * Rule 4 state of one chunk: which entries lent spans used (@lent, and
 * @lent_write for spans a device writes), the first and the last epoch
 * that used each since it was faulted (@first_lent, and @last_lent or,
 * for the entries in @lent_now, @epoch), and the pins parked for its
 * entries. @cache holds a bvec per entry for spans lent with no lookup
 * (rule 5).
 */
struct umirror_park {
	unsigned int nr_pins;
	DECLARE_BITMAP(lent, UMIRROR_CHUNK_ENTRIES);
	DECLARE_BITMAP(lent_write, UMIRROR_CHUNK_ENTRIES);
	/* Entries lent in @epoch: their last_lent, folded in lazily. */
	DECLARE_BITMAP(lent_now, UMIRROR_CHUNK_ENTRIES);
	u64 epoch;
	/* Pages umirror_reference() referenced since @referenced_at. */
	DECLARE_BITMAP(referenced, UMIRROR_CHUNK_ENTRIES);
	unsigned long referenced_at;
	/* Entries @cache names as a span reading or writing them may use. */
	DECLARE_BITMAP(cached, UMIRROR_CHUNK_ENTRIES);
	DECLARE_BITMAP(cached_write, UMIRROR_CHUNK_ENTRIES);
	/* Of those, entries of a huge mapping: one bvec to its end. */
	DECLARE_BITMAP(cached_huge, UMIRROR_CHUNK_ENTRIES);
	/* Spans up to epoch @cache_until may use a stale @cache entry. */
	bool cache_held;
	u64 cache_until;
	u64 first_lent[UMIRROR_CHUNK_ENTRIES];
	u64 last_lent[UMIRROR_CHUNK_ENTRIES];
	struct umirror_pin pins[UMIRROR_CHUNK_ENTRIES];
	struct bio_vec cache[UMIRROR_CHUNK_ENTRIES];
};

/* Parked pins moved out of their park by a fault (rule 4). */
struct umirror_spill {
	struct list_head node;
	unsigned int nr;
	unsigned int used;
	unsigned int cap;
	struct umirror_pin pins[] __counted_by(cap);
};

static unsigned long *umirror_chunk(struct umirror *um, unsigned long idx)
{
	return um->chunks[idx / UMIRROR_CHUNK_ENTRIES];
}

/* The cached entry of page @idx; 0 (not valid) in a chunk not yet used. */
static unsigned long umirror_pfn(struct umirror *um, unsigned long idx)
{
	unsigned long *chunk = umirror_chunk(um, idx);

	lockdep_assert_held(&um->lock);
	return chunk ? chunk[idx % UMIRROR_CHUNK_ENTRIES] : 0;
}

/* Whether two HMM entries name the same page. */
static bool umirror_same_page(unsigned long a, unsigned long b)
{
	return !((a ^ b) & ~HMM_PFN_FLAGS);
}

/* Move the oldest epoch past those whose spans are all returned. */
static void umirror_drain_epochs(struct umirror *um)
{
	lockdep_assert_held(&um->lock);
	while (um->oldest != um->epoch &&
	       !atomic_read(&um->borrowed[um->oldest % UMIRROR_EPOCHS]))
		um->oldest++;
}

/*
 * Whether a span of an epoch in [@first, @last] may be out. Epochs before
 * the oldest have drained; at most UMIRROR_EPOCHS are live
 * (umirror_next_epoch()). Epochs are 64 bits and never wrap.
 */
static bool umirror_epochs_busy(struct umirror *um, u64 first, u64 last)
{
	u64 e;

	for (e = max(first, um->oldest); e <= last; e++)
		if (atomic_read(&um->borrowed[e % UMIRROR_EPOCHS]))
			return true;
	return false;
}

/*
 * After a park, count new spans in the next epoch, so that the parked
 * pin waits only for spans that were out; if every epoch is live, lend
 * no more until the oldest drains (rule 4).
 */
static void umirror_next_epoch(struct umirror *um)
{
	lockdep_assert_held(&um->lock);
	umirror_drain_epochs(um);
	um->epochs_full = um->epoch - um->oldest + 1 >= UMIRROR_EPOCHS;
	if (!um->epochs_full)
		um->epoch++;
}

/*
 * Whether a span may be lent now, before any entry is marked for it: not
 * while every epoch is live (rule 4).
 */
static bool umirror_may_lend(struct umirror *um)
{
	if (um->epochs_full)
		umirror_next_epoch(um);
	return !um->epochs_full;
}

/* Fold @park's lent_now into last_lent once the epoch moved on. */
static void umirror_park_epoch(struct umirror *um, struct umirror_park *park)
{
	unsigned int slot;

	lockdep_assert_held(&um->lock);
	if (park->epoch == um->epoch)
		return;
	for_each_set_bit(slot, park->lent_now, UMIRROR_CHUNK_ENTRIES)
		park->last_lent[slot] = park->epoch;
	bitmap_zero(park->lent_now, UMIRROR_CHUNK_ENTRIES);
	park->epoch = um->epoch;
}

/* The last epoch a span used entry @slot of @park in. */
static u64 umirror_last_lent(struct umirror_park *park, unsigned int slot)
{
	return test_bit(slot, park->lent_now) ? park->epoch :
						park->last_lent[slot];
}

/*
 * Park a pin on the page of the valid entry @slot of @park, which spans
 * of epochs [@park->first_lent[@slot], umirror_last_lent()] may be
 * using; a page a span
 * lent for a device write is dirtied when the pin goes, whatever the
 * entry allows now. The PTE still maps the page (rule 4), so its
 * refcount is held and the grab cannot fail; a slot keeps at most one
 * pin, whose epochs grow.
 */
static bool umirror_park_entry(struct umirror *um, struct umirror_park *park,
			       unsigned int slot, unsigned long entry)
{
	struct umirror_pin *pin = &park->pins[slot];
	unsigned long dirty = test_bit(slot, park->lent_write) ?
			      HMM_PFN_WRITE : 0;
	struct page *page = hmm_pfn_to_page(entry);
	u64 first = park->first_lent[slot];
	u64 last = umirror_last_lent(park, slot);

	lockdep_assert_held(&um->lock);
	if (!umirror_epochs_busy(um, first, last))
		return false;
	if (pin->entry) {
		/* A fault keeps a pin in its park only on its own page. */
		VM_WARN_ON_ONCE(!umirror_same_page(pin->entry, entry));
		pin->entry |= dirty;
		pin->first = min(pin->first, first);
		pin->last = max(pin->last, last);
		return true;
	}
	/* Cannot fail on a mapped page: refcount held, no freeze possible. */
	if (WARN_ON_ONCE(try_grab_folio(page_folio(page), 1, FOLL_PIN)))
		return false;
	pin->entry = page_to_pfn(page) | HMM_PFN_VALID | dirty;
	pin->first = first;
	pin->last = last;
	park->nr_pins++;
	um->stats.parks++;
	/* umirror_unmap_bvec() reads it without the lock. */
	WRITE_ONCE(um->stats.parked, um->stats.parked + 1);
	um->stats.parked_max = max(um->stats.parked_max, um->stats.parked);
	return true;
}

/*
 * Keep @park's cache entries as they are while spans of epochs up to
 * @last are out (rule 5).
 */
static void umirror_hold_cache(struct umirror_park *park, u64 last)
{
	park->cache_until = park->cache_held ? max(park->cache_until, last) :
					       last;
	park->cache_held = true;
}

/* An entry changed: cached again once a span found it usable (rule 5). */
static void umirror_uncache(struct umirror_park *park, unsigned int slot)
{
	__clear_bit(slot, park->cached);
	__clear_bit(slot, park->cached_write);
	__clear_bit(slot, park->cached_huge);
}

/* An entry cleared: no span used its next page yet (rules 4 and 5). */
static void umirror_clear_marks(struct umirror_park *park, unsigned int slot)
{
	__clear_bit(slot, park->lent);
	__clear_bit(slot, park->lent_write);
	umirror_uncache(park, slot);
}

/*
 * Clear the entries of [start, end) (mm addresses); rules 2 and 4.
 * Returns the number of valid entries cleared.
 */
static unsigned long umirror_clear(struct umirror *um, unsigned long start,
				   unsigned long end)
{
	unsigned long first, last, i, cleared = 0, slot;
	struct umirror_park *park = NULL;
	unsigned long *chunk;
	bool parked = false;

	lockdep_assert_held(&um->lock);
	start = max(start, um->base);
	end = min(end, um->base + (um->nr_pages << PAGE_SHIFT));
	if (start >= end)
		return 0;
	first = (start - um->base) >> PAGE_SHIFT;
	last = (end - 1 - um->base) >> PAGE_SHIFT;
	for (i = first; i <= last; i++) {
		chunk = umirror_chunk(um, i);
		if (!chunk) {
			/* Never faulted: on to the next chunk. */
			i |= UMIRROR_CHUNK_ENTRIES - 1;
			continue;
		}
		slot = i % UMIRROR_CHUNK_ENTRIES;
		if (um->parks)
			park = um->parks[i / UMIRROR_CHUNK_ENTRIES];
		if (chunk[slot] & HMM_PFN_VALID) {
			cleared++;
			/*
			 * A span lent from the cache may be among them; any
			 * park holds it, whether the entry is cached now or not.
			 */
			if (park && test_bit(slot, park->lent) &&
			    umirror_park_entry(um, park, slot, chunk[slot])) {
				parked = true;
				umirror_hold_cache(park,
						   umirror_last_lent(park, slot));
			}
		}
		chunk[slot] = 0;
		if (park)
			umirror_clear_marks(park, slot);
	}
	if (parked) {
		umirror_next_epoch(um);
		queue_delayed_work(system_unbound_wq, &um->release_work,
				   UMIRROR_RELEASE_DELAY);
	}
	return cleared;
}

static bool umirror_invalidate(struct mmu_interval_notifier *mni,
			       const struct mmu_notifier_range *range,
			       unsigned long cur_seq)
{
	struct umirror *um = container_of(mni, struct umirror, notifier);
	unsigned long cleared;

	spin_lock(&um->lock);
	mmu_interval_set_seq(mni, cur_seq);
	cleared = umirror_clear(um, range->start, range->end);
	um->stats.invalidations++;
	um->stats.pages_invalidated += cleared;
	spin_unlock(&um->lock);
	return true;
}

static const struct mmu_interval_notifier_ops umirror_notifier_ops = {
	.invalidate = umirror_invalidate,
};

/*
 * A notifier over the pages of one fault, for as long as the fault runs:
 * its sequence moves only when those pages are invalidated (rule 1).
 */
struct umirror_window {
	struct mmu_interval_notifier notifier;
	struct umirror *um;
};

static bool umirror_window_invalidate(struct mmu_interval_notifier *mni,
				      const struct mmu_notifier_range *range,
				      unsigned long cur_seq)
{
	struct umirror_window *win = container_of(mni, struct umirror_window,
						  notifier);
	struct umirror *um = win->um;

	spin_lock(&um->lock);
	mmu_interval_set_seq(mni, cur_seq);
	umirror_clear(um, range->start, range->end);
	spin_unlock(&um->lock);
	return true;
}

static const struct mmu_interval_notifier_ops umirror_window_ops = {
	.invalidate = umirror_window_invalidate,
};

/*
 * Move up to @max parked pins into @out: those whose spans are all
 * returned, or every one with @all. Resumes at chunk *@chunk, then takes
 * the spills. Returns how many were moved.
 */
static unsigned int umirror_collect_pins(struct umirror *um,
					 struct umirror_pin *out,
					 unsigned int max, unsigned long *chunk,
					 bool all)
{
	struct umirror_spill *spill, *next;
	struct umirror_park *park;
	struct umirror_pin *pin;
	unsigned int n = 0, i;

	lockdep_assert_held(&um->lock);
	for (; *chunk < um->nr_chunks; ++*chunk) {
		park = um->parks[*chunk];
		for (i = 0; park && park->nr_pins && i < UMIRROR_CHUNK_ENTRIES; i++) {
			pin = &park->pins[i];
			if (!pin->entry ||
			    (!all && umirror_epochs_busy(um, pin->first, pin->last)))
				continue;
			if (n == max)
				return n;
			out[n++] = *pin;
			pin->entry = 0;
			park->nr_pins--;
		}
	}
	list_for_each_entry_safe(spill, next, &um->spills, node) {
		for (i = 0; i < spill->used && spill->nr; i++) {
			pin = &spill->pins[i];
			if (!pin->entry ||
			    (!all && umirror_epochs_busy(um, pin->first, pin->last)))
				continue;
			if (n == max)
				return n;
			out[n++] = *pin;
			pin->entry = 0;
			spill->nr--;
		}
		if (!spill->nr) {
			list_del(&spill->node);
			um->stats.cache_bytes -= struct_size(spill, pins, spill->cap);
			kfree(spill);
		}
	}
	return n;
}

/*
 * Release parked pins outside the lock: a page a device may have written
 * is dirtied first, under its folio lock, then unpinned, as a per-I/O pin
 * is released (unpin_user_page_range_dirty_lock()).
 */
static void umirror_release_pins(struct umirror_pin *pins, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++)
		unpin_user_page_range_dirty_lock(hmm_pfn_to_page(pins[i].entry),
						 1, pins[i].entry & HMM_PFN_WRITE);
}

/* Release parked pins: those whose spans are returned, or all with @all. */
static bool umirror_unpark(struct umirror *um, bool all)
{
	struct umirror_pin pins[UMIRROR_RELEASE_BATCH];
	unsigned long chunk = 0;
	unsigned int n;
	bool parked;

	do {
		spin_lock(&um->lock);
		umirror_drain_epochs(um);
		n = umirror_collect_pins(um, pins, ARRAY_SIZE(pins), &chunk,
					 all);
		WRITE_ONCE(um->stats.parked, um->stats.parked - n);
		um->stats.unparks += n;
		parked = um->stats.parked;
		spin_unlock(&um->lock);
		umirror_release_pins(pins, n);
		cond_resched();
	} while (n == ARRAY_SIZE(pins));
	return parked;
}

static void umirror_release_work(struct work_struct *work)
{
	struct umirror *um = container_of(to_delayed_work(work), struct umirror,
					  release_work);

	/* A span may be returned without a kick: look again while pins stay. */
	if (umirror_unpark(um, false))
		queue_delayed_work(system_unbound_wq, &um->release_work,
				   UMIRROR_RELEASE_DELAY);
}

/**
 * umirror_init() - mirror a user range of an mm
 * @um: the mirror to set up
 * @mm: the mm the range belongs to; the mirror holds it with mmgrab()
 * @uaddr: first user address of the range
 * @len: length of the range in bytes
 * @flags: UMIRROR_WRITE if the range will be written
 *
 * Faults nothing: pages are faulted on first access, or by umirror_fault().
 * Costs one pointer per 2 MiB of range (with 4 KiB pages) until then. May
 * sleep; the first mirror of an mm registers its notifier subscription.
 *
 * @uaddr may carry an address tag (arm64 TBI, x86 LAM): the mirror covers
 * the untagged range, as pin_user_pages() untags with
 * untagged_addr_remote(), and later accesses name addresses the way @uaddr
 * does, tag included.
 *
 * Return: 0, -EINVAL for unknown flags, a zero length or a range that wraps
 * or leaves the mm's address space, -EOPNOTSUPP on a CPU whose data cache
 * is virtually aliased, -EINTR on a fatal signal, or -ENOMEM.
 */
int umirror_init(struct umirror *um, struct mm_struct *mm, unsigned long uaddr,
		 size_t len, unsigned int flags)
{
	unsigned long start, end, npages;
	unsigned int i;
	int ret;

	might_sleep();
	/*
	 * GUP flushes the user's alias of each page it returns on such caches
	 * (flush_anon_page() in __get_user_pages()); that needs the VMA, which
	 * an access through the cache does not have.
	 */
	if (cpu_dcache_is_aliasing())
		return -EOPNOTSUPP;
	if (flags & ~UMIRROR_FLAGS)
		return -EINVAL;
	if (!len || check_add_overflow(uaddr, len, &end))
		return -EINVAL;
	/* x86's untagged_addr_remote() reads the mm's LAM mask under the lock. */
	ret = mmap_read_lock_killable(mm);
	if (ret)
		return ret;
	start = untagged_addr_remote(mm, uaddr);
	mmap_read_unlock(mm);
	if (check_add_overflow(start, len, &end) || end > mm->task_size)
		return -EINVAL;

	um->mm = mm;
	um->start = uaddr;
	um->end = uaddr + len;
	um->base = start & PAGE_MASK;
	um->flags = flags;
	spin_lock_init(&um->lock);
	memset(&um->stats, 0, sizeof(um->stats));
	npages = DIV_ROUND_UP(end - um->base, PAGE_SIZE);
	um->nr_pages = npages;
	um->nr_chunks = DIV_ROUND_UP(npages, UMIRROR_CHUNK_ENTRIES);
	/* Near the top of a 57-bit address space this exceeds kvmalloc's limit. */
	um->chunks = kvcalloc(um->nr_chunks, sizeof(*um->chunks),
			      GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
	if (!um->chunks)
		return -ENOMEM;
	um->stats.cache_bytes = um->nr_chunks * sizeof(*um->chunks);
	um->parks = NULL;
	INIT_LIST_HEAD(&um->spills);
	um->epoch = 0;
	um->oldest = 0;
	um->epochs_full = false;
	for (i = 0; i < UMIRROR_EPOCHS; i++)
		atomic_set(&um->borrowed[i], 0);
	INIT_DELAYED_WORK(&um->release_work, umirror_release_work);
	if (flags & UMIRROR_MAP) {
		um->parks = kvcalloc(um->nr_chunks, sizeof(*um->parks),
				     GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
		if (!um->parks) {
			kvfree(um->chunks);
			return -ENOMEM;
		}
		um->stats.cache_bytes += um->nr_chunks * sizeof(*um->parks);
	}

	/* Reclaim invalidates mirrors: tell lockdep it may take the lock. */
	if (IS_ENABLED(CONFIG_LOCKDEP)) {
		fs_reclaim_acquire(GFP_KERNEL);
		spin_lock(&um->lock);
		spin_unlock(&um->lock);
		fs_reclaim_release(GFP_KERNEL);
	}

	ret = mmu_interval_notifier_insert(&um->notifier, mm, um->base,
					   npages << PAGE_SHIFT,
					   &umirror_notifier_ops);
	if (ret) {
		kvfree(um->parks);
		kvfree(um->chunks);
		return ret;
	}
	mmgrab(mm);
	return 0;
}
EXPORT_SYMBOL_GPL(umirror_init);

/**
 * umirror_fini() - tear down a mirror
 * @um: the mirror
 *
 * Removes the notifier, releases the pins invalidations parked and frees
 * the cache. Safe after the mm has exited. Pins taken with
 * umirror_pin_bvec() do not depend on the mirror and may be released
 * after this; every span lent by umirror_map_bvec() must have been
 * returned, and umirror_unmap_bvec() must have returned. May sleep.
 */
void umirror_fini(struct umirror *um)
{
	unsigned long i;
	int out = 0;

	might_sleep();
	mmu_interval_notifier_remove(&um->notifier);
	if (um->parks) {
		for (i = 0; i < UMIRROR_EPOCHS; i++)
			out |= atomic_read(&um->borrowed[i]);
		cancel_delayed_work_sync(&um->release_work);
		/*
		 * A span still out (a caller's bug) may use the pins and the
		 * parks' cached bvecs: leak them, spills too.
		 */
		if (!WARN_ON_ONCE(out)) {
			umirror_unpark(um, true);
			for (i = 0; i < um->nr_chunks; i++)
				kvfree(um->parks[i]);
			kvfree(um->parks);
		}
		um->parks = NULL;
	}
	for (i = 0; i < um->nr_chunks; i++)
		kfree(um->chunks[i]);
	kvfree(um->chunks);
	um->chunks = NULL;
	mmdrop(um->mm);
}
EXPORT_SYMBOL_GPL(umirror_fini);

/*
 * The VMA rules of the pin_user_pages() a mirror stands in for, decided by
 * GUP's own check_vma_flags() (mm/gup.c), never by a copy of it:
 * VM_IO/VM_PFNMAP and secretmem are refused, a write needs VM_WRITE and no
 * VM_SHADOW_STACK (a shadow stack is VM_WRITE, but only the CPU may write
 * it), a read needs VM_READ, and protection keys are checked through
 * arch_vma_access_permitted() with the current thread's rights, or not at
 * all when the caller is not a thread of the mirrored mm (FOLL_REMOTE, as
 * pin_user_pages_remote() does). With FOLL_PIN and no FOLL_LONGTERM a
 * writable MAP_SHARED file mapping is allowed, as for any short-term pin:
 * each pin is released when its I/O completes.
 *
 * fsdax VMAs get -EOPNOTSUPP, as check_vma_flags() gives FOLL_LONGTERM: a
 * mirror lives as long as a long-term pin would, and its pages are
 * ZONE_DEVICE, which the fault path refuses anyway.
 *
 * *@uffd is set when a VMA is armed for userfaultfd: hmm_range_fault() must
 * not fault those, as it faults without FAULT_FLAG_ALLOW_RETRY and
 * handle_userfault() would answer SIGBUS instead of waiting for the handler.
 *
 * *@no_write is set when a VMA of a read fault refuses writes by these
 * rules although its PTEs may be writable (a shadow stack's PTEs are
 * pte_write(); a protection key that denies writes leaves them writable):
 * the entries must then not carry HMM_PFN_WRITE, or a later write would
 * use them without being checked.
 */
static int umirror_check_vmas(struct mm_struct *mm, unsigned long start,
			      unsigned long end, bool write, bool *uffd,
			      bool *no_write)
{
	VMA_ITERATOR(vmi, mm, start);
	unsigned int gup_flags = FOLL_PIN | (write ? FOLL_WRITE : 0);
	struct vm_area_struct *vma;
	int ret;

	mmap_assert_locked(mm);
	if (mm != current->mm)
		gup_flags |= FOLL_REMOTE;
	*uffd = false;
	*no_write = false;
	for_each_vma_range(vmi, vma, end) {
		if (vma_is_fsdax(vma))
			return -EOPNOTSUPP;
		ret = check_vma_flags(vma, gup_flags);
		if (ret)
			return ret;
		*uffd |= userfaultfd_armed(vma);
		if (!write && check_vma_flags(vma, gup_flags | FOLL_WRITE))
			*no_write = true;
	}
	return 0;
}

/**
 * umirror_check() - check that the whole range can be reached, faulting nothing
 * @um: the mirror
 *
 * Walks the VMAs of the range, not its pages, so it costs the same for any
 * length: for users that want the errors pin_user_pages() would give at
 * setup time. The answer holds only until the process changes its mappings;
 * later accesses check again. May sleep.
 *
 * Return: 0, -EFAULT if part of the range is unmapped, or refused by GUP's
 * VMA rules for the access the mirror was set up for (no read or write
 * permission, a shadow stack for a UMIRROR_WRITE mirror, a protection key
 * that denies the calling thread, secretmem, VM_IO/VM_PFNMAP),
 * -EOPNOTSUPP for fsdax, -ESRCH if the mm has exited, -EINTR on a fatal
 * signal.
 */
int umirror_check(struct umirror *um)
{
	VMA_ITERATOR(vmi, um->mm, um->base);
	unsigned long addr = um->base, end = um->base + (um->nr_pages << PAGE_SHIFT);
	struct mm_struct *mm = um->mm;
	struct vm_area_struct *vma;
	bool uffd, no_write;
	int ret;

	might_sleep();
	if (!mmget_not_zero(mm))
		return -ESRCH;
	ret = mmap_read_lock_killable(mm);
	if (ret)
		goto out_put;
	ret = umirror_check_vmas(mm, addr, end, um->flags & UMIRROR_WRITE, &uffd,
				 &no_write);
	/* Covered only if the walk reaches @end with no gap. */
	for_each_vma_range(vmi, vma, end) {
		if (ret || vma->vm_start > addr)
			break;
		addr = vma->vm_end;
	}
	if (!ret && addr < end)
		ret = -EFAULT;
	mmap_read_unlock(mm);
out_put:
	mmput(mm);
	return ret;
}
EXPORT_SYMBOL_GPL(umirror_check);

/*
 * Allocate the cache chunks that pages [first, first + npages) live in,
 * charged to the mirrored mm's memory cgroup, not to whichever task
 * faults (an io-wq worker, a kthread).
 */
static int umirror_alloc_chunks(struct umirror *um, unsigned long first,
				unsigned long npages)
{
	unsigned long c = first / UMIRROR_CHUNK_ENTRIES;
	unsigned long last = (first + npages - 1) / UMIRROR_CHUNK_ENTRIES;
	struct mem_cgroup *memcg = NULL, *old_memcg = NULL;
	struct umirror_park *park = NULL;
	unsigned long *chunk;
	int ret = 0;
	bool have;

	for (; c <= last; c++) {
		spin_lock(&um->lock);
		have = um->chunks[c];
		spin_unlock(&um->lock);
		if (have)
			continue;
		if (!memcg) {
			memcg = get_mem_cgroup_from_mm(um->mm);
			old_memcg = set_active_memcg(memcg);
		}
		chunk = kzalloc(PAGE_SIZE, GFP_KERNEL_ACCOUNT);
		/* A lending mirror parks pins without allocating: rule 4. */
		if (chunk && um->parks)
			park = kvzalloc(sizeof(*park), GFP_KERNEL_ACCOUNT);
		if (!chunk || (um->parks && !park)) {
			kfree(chunk);
			ret = -ENOMEM;
			break;
		}
		spin_lock(&um->lock);
		if (!um->chunks[c]) {
			um->chunks[c] = chunk;
			um->stats.cache_bytes += PAGE_SIZE;
			if (park) {
				um->parks[c] = park;
				um->stats.cache_bytes += sizeof(*park);
			}
			chunk = NULL;
			park = NULL;
		}
		spin_unlock(&um->lock);
		kfree(chunk);
		kvfree(park);
		park = NULL;
	}
	if (memcg) {
		set_active_memcg(old_memcg);
		mem_cgroup_put(memcg);
	}
	return ret;
}

static bool umirror_entry_usable(unsigned long pfn, bool write)
{
	if (!(pfn & HMM_PFN_VALID))
		return false;
	return !write || (pfn & HMM_PFN_WRITE);
}

/*
 * Fault the pages of @range that hmm_range_fault() left unusable with
 * fixup_user_fault(), as GUP's slow path would: it reports VM_FAULT_OOM as
 * -ENOMEM (hmm says -EFAULT for every fault error), and it may drop the
 * mmap lock to wait, for a userfaultfd handler or a page lock, where hmm
 * may not. Once it has dropped the lock the VMAs may have changed, and the
 * caller must check them again before faulting more. Return 1 and set
 * *@addr to the first page faulted when some could be (the caller walks
 * again), 0 when every page is usable, or the errno of the first page that
 * cannot be faulted.
 */
static int umirror_fault_slow(struct umirror *um, struct hmm_range *range,
			      bool write, unsigned long *addr)
{
	unsigned int flags = (write ? FAULT_FLAG_WRITE : 0) |
			     (um->mm != current->mm ? FAULT_FLAG_REMOTE : 0);
	unsigned long i, npages = (range->end - range->start) >> PAGE_SHIFT;
	bool unlocked = false;
	int ret, faulted = 0;

	for (i = 0; i < npages && !unlocked; i++) {
		if (umirror_entry_usable(range->hmm_pfns[i], write))
			continue;
		/* A page hmm cannot map (special, device): no fault helps. */
		if (range->hmm_pfns[i] & HMM_PFN_ERROR)
			return -EFAULT;
		if (!faulted)
			*addr = range->start + (i << PAGE_SHIFT);
		ret = fixup_user_fault(um->mm, range->start + (i << PAGE_SHIFT),
				       flags, &unlocked);
		if (ret)
			return ret;
		faulted = 1;
	}
	return faulted;
}

/*
 * Parked pins that publishing @pfns at pages [first, first + npages)
 * would move to a spill: those on other pages than the new entries.
 */
static unsigned long umirror_spills_needed(struct umirror *um,
					   unsigned long first,
					   unsigned long npages,
					   const unsigned long *pfns)
{
	unsigned long i, idx, need = 0;
	struct umirror_park *park;
	struct umirror_pin *pin;

	lockdep_assert_held(&um->lock);
	for (i = 0; um->parks && i < npages; i++) {
		idx = first + i;
		park = um->parks[idx / UMIRROR_CHUNK_ENTRIES];
		if (!park->nr_pins)
			continue;
		pin = &park->pins[idx % UMIRROR_CHUNK_ENTRIES];
		need += pin->entry && !umirror_same_page(pin->entry, pfns[i]);
	}
	return need;
}

/*
 * Publish @entry for page @idx (rule 1). A new page starts unused by
 * spans (rule 4); an entry still valid is the same page, mapped as it
 * was but for write permission (do_wp_page() reuses a page in place with
 * no notifier), and keeps its use and its cache entry (rule 5). A pin
 * parked on another page moves to @spill, which umirror_spills_needed()
 * sized.
 */
static void umirror_publish(struct umirror *um, unsigned long idx,
			    unsigned long entry, struct umirror_spill *spill)
{
	unsigned long *slotp = &umirror_chunk(um, idx)[idx % UMIRROR_CHUNK_ENTRIES];
	unsigned int slot = idx % UMIRROR_CHUNK_ENTRIES;
	struct umirror_park *park;
	struct umirror_pin *pin;

	lockdep_assert_held(&um->lock);
	if (um->parks) {
		park = um->parks[idx / UMIRROR_CHUNK_ENTRIES];
		pin = &park->pins[slot];
		if (pin->entry && !umirror_same_page(pin->entry, entry)) {
			spill->pins[spill->used++] = *pin;
			spill->nr++;
			pin->entry = 0;
			park->nr_pins--;
		}
		if (!(*slotp & HMM_PFN_VALID))
			umirror_clear_marks(park, slot);
		else if (WARN_ON_ONCE(!umirror_same_page(*slotp, entry) ||
				      hmm_pfn_to_map_order(*slotp) !=
				      hmm_pfn_to_map_order(entry)))
			umirror_uncache(park, slot);
		else if (!(entry & HMM_PFN_WRITE))
			__clear_bit(slot, park->cached_write);
	}
	*slotp = entry;
}

/*
 * Fault pages [first, first + npages) of the range and publish their pfns.
 * Rule 1 of the locking DOC. Retries as long as it takes, as GUP does: only
 * a fatal signal or an error of the pages themselves ends it. A window
 * invalidated between a complete walk and its publication is halved, down
 * to one page, so that a thread zapping one page of it cannot keep the
 * others from being published: the caller looks up what is still missing
 * and faults again.
 */
static int umirror_fault_pages(struct umirror *um, unsigned long first,
			       unsigned long npages, bool write)
{
	struct umirror_window win = { .um = um };
	struct hmm_range range = {
		.notifier = &win.notifier,
		.start = um->base + (first << PAGE_SHIFT),
	};
	unsigned long fault_flags = HMM_PFN_REQ_FAULT |
				    (write ? HMM_PFN_REQ_WRITE : 0);
	unsigned long i, addr = 0, last_fixed = ULONG_MAX, spill_cap = 0;
	struct umirror_spill *spill = NULL;
	struct mm_struct *mm = um->mm;
	bool uffd, no_write, raced = false, inserted = false;
	int ret;

	ret = umirror_alloc_chunks(um, first, npages);
	if (ret)
		return ret;
	range.hmm_pfns = kmalloc_array(npages, sizeof(*range.hmm_pfns),
				       GFP_KERNEL);
	if (!range.hmm_pfns)
		return -ENOMEM;
	if (!mmget_not_zero(mm)) {
		ret = -ESRCH;
		goto out_free;
	}

	for (;; cond_resched()) {
		if (spill_cap && !spill) {
			spill = kmalloc(struct_size(spill, pins, spill_cap),
					GFP_KERNEL_ACCOUNT);
			if (!spill) {
				ret = -ENOMEM;
				break;
			}
			spill->cap = spill_cap;
			spill->used = 0;
			spill->nr = 0;
		}
		if (raced && npages > 1) {
			mmu_interval_notifier_remove(&win.notifier);
			inserted = false;
			npages = DIV_ROUND_UP(npages, 2);
		}
		raced = false;
		if (!inserted) {
			range.end = range.start + (npages << PAGE_SHIFT);
			ret = mmu_interval_notifier_insert(&win.notifier, mm,
							   range.start,
							   range.end - range.start,
							   &umirror_window_ops);
			if (ret)
				break;
			inserted = true;
		}
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		range.notifier_seq = mmu_interval_read_begin(&win.notifier);
		ret = mmap_read_lock_killable(mm);
		if (ret)
			break;
		ret = umirror_check_vmas(mm, range.start, range.end, write,
					 &uffd, &no_write);
		if (!ret) {
			/* Entries not reached keep their input: start clean. */
			memset(range.hmm_pfns, 0, npages * sizeof(*range.hmm_pfns));
			/* Look at userfaultfd pages only; fault them below. */
			range.default_flags = uffd ? 0 : fault_flags;
			ret = hmm_range_fault(&range);
			/* hmm says -EPERM for a write to a read-only PTE. */
			if (ret == -EFAULT || ret == -EPERM || (!ret && uffd))
				ret = umirror_fault_slow(um, &range, write, &addr);
			/*
			 * hmm failed on a page that faults fine: it cannot
			 * map that page (a special PTE in a VM_MIXEDMAP VMA).
			 */
			if (ret == 1 && !uffd && addr == last_fixed)
				ret = -EFAULT;
		}
		mmap_read_unlock(mm);
		if (ret == 1) {
			last_fixed = addr;
			continue;
		}
		/*
		 * hmm restarts after each fault it makes, and a COW break in
		 * that fault invalidates the window itself: the faulted pages
		 * stay, so walk again at the same size.
		 */
		if (ret == -EBUSY)
			continue;
		if (ret)
			break;

		spin_lock(&um->lock);
		if (mmu_interval_read_retry(&win.notifier, range.notifier_seq)) {
			spin_unlock(&um->lock);
			raced = true;
			continue;
		}
		for (i = 0; i < npages; i++) {
			/* P2PDMA and device pages are not memory to kmap. */
			if (is_zone_device_page(hmm_pfn_to_page(range.hmm_pfns[i]))) {
				ret = -EFAULT;
				break;
			}
		}
		if (!ret && umirror_spills_needed(um, first, npages, range.hmm_pfns) >
			    (spill ? spill->cap - spill->used : 0)) {
			/* Allocate where it may sleep, then walk again. */
			spin_unlock(&um->lock);
			spill_cap = npages;
			continue;
		}
		if (!ret) {
			for (i = 0; i < npages; i++)
				umirror_publish(um, first + i, range.hmm_pfns[i] &
						~(no_write ? HMM_PFN_WRITE : 0),
						spill);
			um->stats.faults++;
			um->stats.pages_faulted += npages;
			if (spill && spill->used) {
				list_add_tail(&spill->node, &um->spills);
				um->stats.cache_bytes += struct_size(spill, pins,
								     spill->cap);
				queue_delayed_work(system_unbound_wq,
						   &um->release_work, 0);
				spill = NULL;
			}
		}
		spin_unlock(&um->lock);
		break;
	}
	if (inserted)
		mmu_interval_notifier_remove(&win.notifier);
	mmput(mm);
out_free:
	kfree(spill);
	kfree(range.hmm_pfns);
	return ret;
}

/*
 * The page behind entry @idx if it may be accessed as asked, else NULL and
 * *@run is set to the number of unusable entries from @idx on, at most up
 * to @last: the pages to fault next.
 */
static struct page *umirror_lookup(struct umirror *um, unsigned long idx,
				   unsigned long last, bool write,
				   unsigned long *run)
{
	unsigned long n;

	if (umirror_entry_usable(umirror_pfn(um, idx), write))
		return hmm_pfn_to_page(umirror_pfn(um, idx));
	last = min(last, idx + UMIRROR_FAULT_PAGES - 1);
	for (n = 1; idx + n <= last; n++)
		if (umirror_entry_usable(umirror_pfn(um, idx + n), write))
			break;
	*run = n;
	return NULL;
}

static int umirror_check_access(struct umirror *um, unsigned long uaddr,
				size_t len)
{
	unsigned long end;

	if (check_add_overflow(uaddr, len, &end))
		return -EFAULT;
	if (uaddr < um->start || end > um->end)
		return -EFAULT;
	return 0;
}

/*
 * Page index of @uaddr, an address named as umirror_init() was (tagged),
 * and checked by umirror_check_access(). That check is a branch and the
 * address may come from a guest (a vhost dirty log bit), so the index is
 * clamped under speculation before it reaches the cache.
 */
static unsigned long umirror_index(struct umirror *um, unsigned long uaddr)
{
	return array_index_nospec((uaddr - um->start +
				   offset_in_page(um->start)) >> PAGE_SHIFT,
				  um->nr_pages);
}

/**
 * umirror_fault() - fault a part of the range into the mirror
 * @um: the mirror
 * @uaddr: first address to fault
 * @len: bytes to fault
 * @write: fault writable (breaks COW, dirties file pages)
 *
 * Only pages not already valid are faulted. Not needed before access, which
 * faults on demand; useful to move the cost out of a latency-sensitive path.
 * May sleep.
 *
 * Return: 0, -EFAULT if the span leaves the mirror, or a page of it cannot
 * be accessed as asked (hole, PROT_NONE, read-only for @write, secretmem,
 * VM_IO/VM_PFNMAP, device memory, or any VMA GUP's check_vma_flags()
 * refuses), -EOPNOTSUPP for fsdax, -ESRCH if the mm has exited, -EINTR
 * on a fatal signal, -ENOMEM (also when the fault itself runs out of
 * memory, as GUP reports VM_FAULT_OOM). Invalidations racing with the
 * fault make it retry, never fail.
 */
int umirror_fault(struct umirror *um, unsigned long uaddr, size_t len,
		  bool write)
{
	unsigned long idx, last, run;
	struct page *page;
	int ret;

	might_sleep();
	ret = umirror_check_access(um, uaddr, len);
	if (ret || !len)
		return ret;
	idx = umirror_index(um, uaddr);
	last = umirror_index(um, uaddr + len - 1);
	while (idx <= last) {
		spin_lock(&um->lock);
		page = umirror_lookup(um, idx, last, write, &run);
		spin_unlock(&um->lock);
		if (page) {
			idx++;
			cond_resched();
			continue;
		}
		/* It may publish fewer than @run pages: look again. */
		ret = umirror_fault_pages(um, idx, run, write);
		if (ret)
			return ret;
	}
	return 0;
}
EXPORT_SYMBOL_GPL(umirror_fault);

/*
 * Bring a faulted page into use as GUP's follow_page_pte() does with
 * FOLL_TOUCH and FOLL_PIN: make it accessible to the kernel (s390
 * protected guests) and mark it accessed, so reclaim does not take a page
 * used only through the mirror for an idle one. Under the lock (rule 3).
 */
static int umirror_touch(struct folio *folio)
{
	int ret = arch_make_folio_accessible(folio);

	if (!ret)
		folio_mark_accessed(folio);
	return ret;
}

/*
 * Dirty a folio about to be written, as GUP's FOLL_TOUCH does for a write
 * (follow_page_pte()), under the lock (rule 3). A writable entry may map a
 * clean anon or shmem folio, whose ->dirty_folio() only sets flags. A
 * folio of a mapping that can write back is normally dirty already: its
 * PTE became writable only through a write fault that dirtied it
 * (fault_dirty_shared_page(); vma_wants_writenotify() keeps such PTEs
 * read-only until then), and folio_clear_dirty_for_io() cleans it only
 * after folio_mkclean() has invalidated the entry. The warning catches
 * the exception: a driver's mmap that changed vm_page_prot, for which
 * vma_wants_writenotify() gives up early, as it does for GUP.
 */
static void umirror_dirty(struct folio *folio)
{
	if (folio_test_dirty(folio))
		return;
	VM_WARN_ON_ONCE_FOLIO(!folio_test_anon(folio) && folio->mapping &&
			      mapping_can_writeback(folio->mapping), folio);
	folio_mark_dirty(folio);
}

/*
 * Copy between @buf and the range, one page per lock hold (rule 3).
 * Faulted entries may be invalidated again before they are used: fault
 * again, as long as it takes, as uaccess would; a fatal signal ends it.
 */
static int umirror_copy(struct umirror *um, unsigned long uaddr, void *buf,
			size_t len, bool write)
{
	unsigned long idx, last, run;
	struct folio *folio;
	struct page *page;
	size_t offset, n;
	void *kaddr;
	int ret;

	might_sleep();
	ret = umirror_check_access(um, uaddr, len);
	if (ret || !len)
		return ret;
	last = umirror_index(um, uaddr + len - 1);
	while (len) {
		idx = umirror_index(um, uaddr);
		offset = offset_in_page(uaddr);
		n = min_t(size_t, len, PAGE_SIZE - offset);

		spin_lock(&um->lock);
		page = umirror_lookup(um, idx, last, write, &run);
		if (!page) {
			spin_unlock(&um->lock);
			if (fatal_signal_pending(current))
				return -EINTR;
			ret = umirror_fault_pages(um, idx, run, write);
			if (ret)
				return ret;
			cond_resched();
			continue;
		}
		folio = page_folio(page);
		ret = umirror_touch(folio);
		if (ret) {
			spin_unlock(&um->lock);
			return ret;
		}
		kaddr = kmap_local_page(page);
		if (write) {
			memcpy(kaddr + offset, buf, n);
			flush_dcache_page(page);
			umirror_dirty(folio);
		} else if (copy_mc_to_kernel(buf, kaddr + offset, n)) {
			/* A poisoned page: an error, as a user copy gives. */
			ret = -EFAULT;
		}
		kunmap_local(kaddr);
		spin_unlock(&um->lock);
		if (ret)
			return ret;

		uaddr += n;
		buf += n;
		len -= n;
		if (len)
			cond_resched();
	}
	return 0;
}

/**
 * umirror_read() - copy from the mirrored range
 * @um: the mirror
 * @dst: kernel buffer to copy to
 * @uaddr: user address to copy from, inside the range
 * @len: bytes to copy
 *
 * Works from any process context, including kthreads without an mm.
 * Sees exactly what the process sees now. May sleep.
 *
 * Return: 0, or an errno as for umirror_fault(); on error part of @dst may
 * have been written.
 */
int umirror_read(struct umirror *um, void *dst, unsigned long uaddr, size_t len)
{
	return umirror_copy(um, uaddr, dst, len, false);
}
EXPORT_SYMBOL_GPL(umirror_read);

/**
 * umirror_write() - copy into the mirrored range
 * @um: the mirror
 * @uaddr: user address to copy to, inside the range
 * @src: kernel buffer to copy from
 * @len: bytes to copy
 *
 * Works from any process context. Writes land in the pages the process
 * sees now, COW broken and file pages dirtied as a CPU write would. May
 * sleep.
 *
 * Return: 0, or an errno as for umirror_fault(); on error part of the range
 * may have been written.
 */
int umirror_write(struct umirror *um, unsigned long uaddr, const void *src,
		  size_t len)
{
	return umirror_copy(um, uaddr, (void *)src, len, true);
}
EXPORT_SYMBOL_GPL(umirror_write);

/*
 * What one access costs a batch, at least: a lookup, a kmap and a folio
 * flag update however few bytes it moves, so UMIRROR_BATCH_BYTES bounds
 * the work an invalidation may wait for, not only the bytes.
 */
#define UMIRROR_BATCH_ACCESS_MIN	16

/**
 * umirror_batch_begin() - start a batch of small accesses in one lock hold
 * @um: the mirror
 * @b: the batch, filled here
 *
 * Takes the mirror's spinlock: until umirror_batch_end() the caller may
 * only call the umirror_batch_*() accessors on @b, each a load, a store or
 * an atomic read-modify-write through kmap_local_page() of a page whose
 * entry is valid, and nothing that sleeps. An invalidation of the range
 * waits for the end of the batch, so all accesses of one batch reach the
 * pages the process maps at one moment; the process may still write them
 * meanwhile, so ordering against it (a barrier after reading a ring index)
 * stays the caller's. A batch may access at most UMIRROR_BATCH_BYTES,
 * every access counting at least 16: past that, accesses fail with -E2BIG,
 * and the caller ends the batch and goes on in a new one.
 *
 * The first access that fails makes every later one of the batch fail
 * alike without touching memory, and umirror_batch_end() returns it::
 *
 *	do {
 *		umirror_batch_begin(um, &b);
 *		umirror_batch_read(&b, &desc, addr, sizeof(desc));
 *		umirror_batch_put(&b, used_idx_addr, idx, sizeof(u16));
 *		ret = umirror_batch_end(&b);
 *	} while (ret == -EAGAIN && !(ret = umirror_batch_fault(&b)));
 *
 * Accesses made before a miss have taken effect: a batch that may be
 * retried must be one that can be done again.
 *
 * Context: process context, one open batch per task (batches of two
 * mirrors do not nest), no other umirror call until umirror_batch_end().
 */
void umirror_batch_begin(struct umirror *um, struct umirror_batch *b)
{
	b->um = um;
	b->bytes = 0;
	b->err = 0;
	b->miss_len = 0;
	b->touched = NULL;
	spin_lock(&um->lock);
}
EXPORT_SYMBOL_GPL(umirror_batch_begin);

/**
 * umirror_batch_end() - end a batch, letting invalidations in
 * @b: the batch
 *
 * Return: 0, or the error of the batch's first failed access.
 */
int umirror_batch_end(struct umirror_batch *b)
{
	spin_unlock(&b->um->lock);
	return b->err;
}
EXPORT_SYMBOL_GPL(umirror_batch_end);

/* The batch fails from here on, with its first error. */
static int umirror_batch_fail(struct umirror_batch *b, int err)
{
	if (!b->err)
		b->err = err;
	return b->err;
}

/*
 * Charge an access of [@uaddr, @uaddr + @len) to the batch, after checking
 * it lies in the range; a failed batch refuses every access.
 */
static int umirror_batch_account(struct umirror_batch *b, unsigned long uaddr,
				 size_t len)
{
	size_t cost = max_t(size_t, len, UMIRROR_BATCH_ACCESS_MIN);
	int ret;

	lockdep_assert_held(&b->um->lock);
	if (b->err)
		return b->err;
	ret = umirror_check_access(b->um, uaddr, len);
	if (ret)
		return umirror_batch_fail(b, ret);
	if (cost > UMIRROR_BATCH_BYTES - b->bytes)
		return umirror_batch_fail(b, -E2BIG);
	b->bytes += cost;
	return 0;
}

/*
 * The page behind @uaddr if its entry allows the access, made ready as
 * for any access (umirror_touch()); else NULL with the batch failed, and
 * on a miss [@uaddr, @uaddr + @len) recorded for umirror_batch_fault().
 */
static struct page *umirror_batch_page(struct umirror_batch *b,
				       unsigned long uaddr, size_t len,
				       bool write)
{
	struct umirror *um = b->um;
	unsigned long idx = umirror_index(um, uaddr), run;
	struct page *page;
	int ret;

	page = umirror_lookup(um, idx, idx, write, &run);
	if (!page) {
		b->miss_addr = uaddr;
		b->miss_len = len;
		b->miss_write = write;
		umirror_batch_fail(b, -EAGAIN);
		return NULL;
	}
	/* A batch is one access for FOLL_TOUCH: each page once. */
	if (page == b->touched)
		return page;
	ret = umirror_touch(page_folio(page));
	if (ret) {
		umirror_batch_fail(b, ret);
		return NULL;
	}
	b->touched = page;
	return page;
}

static int umirror_batch_copy(struct umirror_batch *b, unsigned long uaddr,
			      void *buf, size_t len, bool write)
{
	struct page *page;
	size_t offset, n;
	void *kaddr;
	int ret;

	ret = umirror_batch_account(b, uaddr, len);
	if (ret)
		return ret;
	while (len) {
		offset = offset_in_page(uaddr);
		n = min_t(size_t, len, PAGE_SIZE - offset);
		page = umirror_batch_page(b, uaddr, len, write);
		if (!page)
			return b->err;
		kaddr = kmap_local_page(page);
		if (write) {
			memcpy(kaddr + offset, buf, n);
			flush_dcache_page(page);
			umirror_dirty(page_folio(page));
		} else if (copy_mc_to_kernel(buf, kaddr + offset, n)) {
			ret = umirror_batch_fail(b, -EFAULT);
		}
		kunmap_local(kaddr);
		if (ret)
			return ret;
		uaddr += n;
		buf += n;
		len -= n;
	}
	return 0;
}

/**
 * umirror_batch_read() - copy from the range inside a batch
 * @b: the batch, begun
 * @dst: kernel buffer to copy to
 * @uaddr: user address to copy from, inside the range
 * @len: bytes to copy
 *
 * Not atomic: bytes may be copied one at a time. Read a value the process
 * may be changing (a ring index) with umirror_batch_get().
 *
 * Return: 0; -EAGAIN if a page is not in the mirror (see
 * umirror_batch_begin()); -EFAULT if the span leaves the range or a page
 * is poisoned; -E2BIG past the batch's bound; the error of an earlier
 * access of the batch; or an error of arch_make_folio_accessible(). Bytes
 * before a failing page have been copied.
 */
int umirror_batch_read(struct umirror_batch *b, void *dst,
		       unsigned long uaddr, size_t len)
{
	return umirror_batch_copy(b, uaddr, dst, len, false);
}
EXPORT_SYMBOL_GPL(umirror_batch_read);

/**
 * umirror_batch_write() - copy into the range inside a batch
 * @b: the batch, begun
 * @uaddr: user address to copy to, inside the range
 * @src: kernel buffer to copy from
 * @len: bytes to copy
 *
 * Not atomic, as umirror_batch_read(); the pages written are dirtied, as
 * by umirror_write().
 *
 * Return: as umirror_batch_read(); -EAGAIN also for a page mapped
 * read-only now (a COW to break, a file page to dirty).
 */
int umirror_batch_write(struct umirror_batch *b, unsigned long uaddr,
			const void *src, size_t len)
{
	return umirror_batch_copy(b, uaddr, (void *)src, len, true);
}
EXPORT_SYMBOL_GPL(umirror_batch_write);

/*
 * The kernel address of the naturally aligned @size bytes at @uaddr, with
 * their page mapped at *@kaddr, for one single-copy-atomic access.
 */
static void *umirror_batch_word(struct umirror_batch *b, unsigned long uaddr,
				size_t size, bool write, void **kaddr,
				struct page **pagep)
{
	if (!is_power_of_2(size) || size > sizeof(u64) ||
	    !IS_ALIGNED(uaddr, size)) {
		umirror_batch_fail(b, -EINVAL);
		return NULL;
	}
	if (umirror_batch_account(b, uaddr, size))
		return NULL;
	*pagep = umirror_batch_page(b, uaddr, size, write);
	if (!*pagep)
		return NULL;
	*kaddr = kmap_local_page(*pagep);
	return *kaddr + offset_in_page(uaddr);
}

/**
 * umirror_batch_get() - read one naturally aligned value inside a batch
 * @b: the batch, begun
 * @uaddr: user address of the value, inside the range
 * @val: where to store it, zero-extended
 * @size: 1, 2, 4 or 8 bytes
 *
 * One load (READ_ONCE()), as __get_user() does: a value the process
 * changes meanwhile is read whole, old or new.
 *
 * Return: as umirror_batch_read(); -EINVAL if @size is not one of those or
 * @uaddr is not aligned to it.
 */
int umirror_batch_get(struct umirror_batch *b, unsigned long uaddr, u64 *val,
		      size_t size)
{
	struct page *page;
	void *kaddr, *p;

	p = umirror_batch_word(b, uaddr, size, false, &kaddr, &page);
	if (!p)
		return b->err;
	switch (size) {
	case 1:
		*val = READ_ONCE(*(u8 *)p);
		break;
	case 2:
		*val = READ_ONCE(*(u16 *)p);
		break;
	case 4:
		*val = READ_ONCE(*(u32 *)p);
		break;
	default:
		*val = READ_ONCE(*(u64 *)p);
		break;
	}
	kunmap_local(kaddr);
	return 0;
}
EXPORT_SYMBOL_GPL(umirror_batch_get);

/**
 * umirror_batch_put() - write one naturally aligned value inside a batch
 * @b: the batch, begun
 * @uaddr: user address of the value, inside the range
 * @val: the value, truncated to @size
 * @size: 1, 2, 4 or 8 bytes
 *
 * One store (WRITE_ONCE()), as __put_user() does: the process sees the old
 * value or the new one. Dirties the page.
 *
 * Return: as umirror_batch_get(); -EAGAIN also for a page mapped
 * read-only now.
 */
int umirror_batch_put(struct umirror_batch *b, unsigned long uaddr, u64 val,
		      size_t size)
{
	struct page *page;
	void *kaddr, *p;

	p = umirror_batch_word(b, uaddr, size, true, &kaddr, &page);
	if (!p)
		return b->err;
	switch (size) {
	case 1:
		WRITE_ONCE(*(u8 *)p, val);
		break;
	case 2:
		WRITE_ONCE(*(u16 *)p, val);
		break;
	case 4:
		WRITE_ONCE(*(u32 *)p, val);
		break;
	default:
		WRITE_ONCE(*(u64 *)p, val);
		break;
	}
	flush_dcache_page(page);
	kunmap_local(kaddr);
	umirror_dirty(page_folio(page));
	return 0;
}
EXPORT_SYMBOL_GPL(umirror_batch_put);

/**
 * umirror_batch_set_bit() - set a bit of a bitmap in the range, atomically
 * @b: the batch, begun
 * @uaddr: a byte of the bitmap, inside the range
 * @nr: a bit number below BITS_PER_BYTE
 *
 * Does set_bit(@nr + 8 * offset_in_page(@uaddr)) on the page, as vhost's
 * set_bit_to_user() sets a dirty-log bit: the bit numbering of set_bit()
 * on the unsigned long that holds @uaddr (bit @nr of the byte at @uaddr on
 * little-endian machines), atomic against the process changing other bits
 * of the same word. That whole word must lie in the range. Dirties the
 * page.
 *
 * Return: as umirror_batch_put(); -EINVAL if @nr is too large.
 */
int umirror_batch_set_bit(struct umirror_batch *b, unsigned long uaddr,
			  unsigned int nr)
{
	unsigned long word = ALIGN_DOWN(uaddr, sizeof(unsigned long));
	struct page *page;
	void *kaddr;

	if (nr >= BITS_PER_BYTE)
		return umirror_batch_fail(b, -EINVAL);
	if (umirror_batch_account(b, word, sizeof(unsigned long)))
		return b->err;
	page = umirror_batch_page(b, word, sizeof(unsigned long), true);
	if (!page)
		return b->err;
	kaddr = kmap_local_page(page);
	set_bit(nr + offset_in_page(uaddr) * BITS_PER_BYTE, kaddr);
	flush_dcache_page(page);
	kunmap_local(kaddr);
	umirror_dirty(page_folio(page));
	return 0;
}
EXPORT_SYMBOL_GPL(umirror_batch_set_bit);

/**
 * umirror_batch_fault() - fault what a batch missed, after its end
 * @b: the batch, ended with -EAGAIN
 *
 * May sleep.
 *
 * Return: 0 (begin the batch again), an errno as for umirror_fault(), or
 * -EINVAL if the batch did not miss.
 */
int umirror_batch_fault(struct umirror_batch *b)
{
	might_sleep();
	lockdep_assert_not_held(&b->um->lock);
	if (WARN_ON_ONCE(b->err != -EAGAIN || !b->miss_len))
		return -EINVAL;
	return umirror_fault(b->um, b->miss_addr, b->miss_len, b->miss_write);
}
EXPORT_SYMBOL_GPL(umirror_batch_fault);

/*
 * Whether a read-only pin of the page behind @entry must first make it
 * exclusive, decided by GUP's gup_must_unshare() (mm/internal.h). A
 * writable entry maps an exclusive page already, so GUP asks only for a
 * read-only PTE (follow_page_pte(), gup_fast_pte_range()), and so do we.
 * GUP asks about the page that carries PageAnonExclusive for the mapping:
 * the page itself when a PTE maps it, the first page of the mapping when a
 * PMD or PUD maps it (follow_huge_pmd(), gup_fast_pmd_leaf(): a THP's or a
 * hugetlb folio's head; see __folio_add_anon_rmap()). The mapping order
 * is in the HMM entry (hmm_pfn_to_map_order()). After a PMD split each
 * page has its own flag and the head's may be stale, so the folio alone
 * cannot decide. Called under the lock, which keeps the entry, and so the
 * flag, stable (see the locking DOC).
 */
static bool umirror_must_unshare(unsigned long entry)
{
	unsigned long pfn = entry & ~HMM_PFN_FLAGS;

	if (entry & HMM_PFN_WRITE)
		return false;
	pfn &= ~((1UL << hmm_pfn_to_map_order(entry)) - 1);
	return gup_must_unshare(NULL, FOLL_PIN, pfn_to_page(pfn));
}

/*
 * The run of entries from @idx on, up to @last and at most a fault chunk,
 * that are valid but must be unshared before a read-only pin.
 */
static unsigned long umirror_shared_run(struct umirror *um, unsigned long idx,
					unsigned long last)
{
	unsigned long n, entry;

	last = min(last, idx + UMIRROR_FAULT_PAGES - 1);
	for (n = 1; idx + n <= last; n++) {
		entry = umirror_pfn(um, idx + n);
		if (!(entry & HMM_PFN_VALID) || !umirror_must_unshare(entry))
			break;
	}
	return n;
}

/*
 * Make the anonymous pages [idx, idx + npages) exclusive, as GUP does for
 * FOLL_PIN (FAULT_FLAG_UNSHARE), in one hold of the mmap lock. Breaking
 * the sharing invalidates the entries, and the caller faults them again;
 * a page that could be reused is only marked exclusive, in place.
 */
static int umirror_unshare(struct umirror *um, unsigned long idx,
			   unsigned long npages)
{
	unsigned int flags = FAULT_FLAG_UNSHARE |
			     (um->mm != current->mm ? FAULT_FLAG_REMOTE : 0);
	unsigned long addr = um->base + (idx << PAGE_SHIFT);
	unsigned long end = addr + (npages << PAGE_SHIFT);
	struct mm_struct *mm = um->mm;
	bool unlocked = false, uffd, no_write;
	int ret;

	if (!mmget_not_zero(mm))
		return -ESRCH;
	ret = mmap_read_lock_killable(mm);
	if (ret)
		goto out_put;
	/* The VMAs may have changed since the entries were faulted. */
	ret = umirror_check_vmas(mm, addr, end, false, &uffd, &no_write);
	/* Once the lock was dropped, they may have changed again: stop. */
	for (; addr < end && !ret && !unlocked; addr += PAGE_SIZE)
		ret = fixup_user_fault(mm, addr, flags, &unlocked);
	mmap_read_unlock(mm);
out_put:
	mmput(mm);
	return ret;
}

/*
 * Pages after @idx, up to @last, that continue @page inside its folio with
 * usable entries, none of which must be unshared first: one bvec, one
 * try_grab_folio(). Called under the lock.
 */
static unsigned long umirror_folio_run(struct umirror *um, unsigned long idx,
				       unsigned long last, bool write,
				       struct folio *folio, struct page *page)
{
	unsigned long pfn = page_to_pfn(page);
	unsigned long max = folio_nr_pages(folio) - folio_page_idx(folio, page);
	unsigned long n, entry;

	max = min(max, UMIRROR_RUN_PAGES_MAX);
	for (n = 1; n < max && idx + n <= last; n++) {
		entry = umirror_pfn(um, idx + n);
		if (!umirror_entry_usable(entry, write) ||
		    (entry & ~HMM_PFN_FLAGS) != pfn + n ||
		    (!write && umirror_must_unshare(entry)))
			break;
	}
	return n;
}

/*
 * Whether pages may change under a lent span with no invalidation. s390's
 * make_folio_secure() (arch/s390/kernel/uv.c) hands a page to a protected
 * KVM guest once folio_ref_freeze() succeeds at the count its mappings
 * explain (expected_folio_refs()), without calling any notifier; the page
 * may be mapped by this mm too, a memfd shared with the guest's VMM. Only
 * a reference, such as a pin, stops it: with KVM's page status extensions
 * built in, spans are pinned, never lent.
 */
static bool umirror_lend_refused(void)
{
	return IS_ENABLED(CONFIG_PGSTE);
}

/*
 * Cache the page of @entry, marked for a span with @write, in @park's
 * entry @slot, unless spans may still use what the cache entry names now
 * (rule 5). The page of a huge mapping (PMD, or hugetlb) is cached as a
 * bvec to the end of the mapping or of the chunk, whichever comes first:
 * every page there is mapped as long as @entry is valid, since any change
 * of a huge mapping (zap, split, migration, protection) invalidates all
 * of it, __split_huge_pmd() and try_to_migrate_one() included.
 */
static void umirror_cache(struct umirror *um, struct umirror_park *park,
			  unsigned int slot, unsigned long entry, bool write)
{
	unsigned int order = hmm_pfn_to_map_order(entry);
	unsigned long pfn = entry & ~HMM_PFN_FLAGS;
	struct bio_vec *bv = &park->cache[slot];
	struct page *page = pfn_to_page(pfn);
	unsigned long npages;

	lockdep_assert_held(&um->lock);
	npages = (1UL << order) - (pfn & ((1UL << order) - 1));
	npages = min(npages, UMIRROR_CHUNK_ENTRIES - slot);
	if (bv->bv_page != page || bv->bv_len != npages << PAGE_SHIFT) {
		if (park->cache_held &&
		    umirror_epochs_busy(um, um->oldest, park->cache_until))
			return;
		park->cache_held = false;
		bvec_set_page(bv, page, npages << PAGE_SHIFT, 0);
	}
	__set_bit(slot, park->cached);
	if (write)
		__set_bit(slot, park->cached_write);
	if (npages > 1)
		__set_bit(slot, park->cached_huge);
}

/*
 * Record that a span lent in the current epoch uses pages [idx, idx +
 * npages), and a device writes them with @write (rule 4); cache them
 * (rule 5).
 */
static void umirror_mark_lent(struct umirror *um, unsigned long idx,
			      unsigned long npages, bool write)
{
	struct umirror_park *park;
	unsigned int slot;

	lockdep_assert_held(&um->lock);
	for (; npages; npages--, idx++) {
		park = um->parks[idx / UMIRROR_CHUNK_ENTRIES];
		slot = idx % UMIRROR_CHUNK_ENTRIES;
		umirror_park_epoch(um, park);
		if (!__test_and_set_bit(slot, park->lent))
			park->first_lent[slot] = um->epoch;
		__set_bit(slot, park->lent_now);
		if (write)
			__set_bit(slot, park->lent_write);
		umirror_cache(um, park, slot, umirror_pfn(um, idx), write);
	}
}

/*
 * Whether all bits [@first, @last] of @map are set; a span of a few pages
 * usually lies in one word, tested inline.
 */
static bool umirror_all_set(const unsigned long *map, unsigned long first,
			    unsigned long last)
{
	if (first / BITS_PER_LONG == last / BITS_PER_LONG) {
		unsigned long mask = GENMASK(last % BITS_PER_LONG,
					     first % BITS_PER_LONG);

		return (map[first / BITS_PER_LONG] & mask) == mask;
	}
	return find_next_zero_bit(map, last + 1, first) > last;
}

/* Whether no bit [@first, @last] of @map is set. */
static bool umirror_none_set(const unsigned long *map, unsigned long first,
			     unsigned long last)
{
	if (first / BITS_PER_LONG == last / BITS_PER_LONG)
		return !(map[first / BITS_PER_LONG] &
			 GENMASK(last % BITS_PER_LONG, first % BITS_PER_LONG));
	return find_next_bit(map, last + 1, first) > last;
}

/*
 * Whether pages [@slot, @end] of @park's chunk are due the referenced
 * flag GUP-fast sets on each pin (gup_fast_pte_range()): here once per
 * UMIRROR_REFERENCE_PERIOD for a page in steady use, which keeps struct
 * page out of most lends.
 */
static bool umirror_reference_due(struct umirror_park *park,
				  unsigned long slot, unsigned long end)
{
	if (time_after(jiffies, park->referenced_at + UMIRROR_REFERENCE_PERIOD)) {
		bitmap_zero(park->referenced, UMIRROR_CHUNK_ENTRIES);
		park->referenced_at = jiffies;
	}
	return !umirror_all_set(park->referenced, slot, end);
}

static void umirror_reference(struct folio *folio)
{
	if (!folio_test_referenced(folio))
		folio_set_referenced(folio);
}

/*
 * Lend the span of pages [@idx, @last] as an iterator over its chunk's
 * bvec cache (rule 5), set up as io_import_fixed() does over a pinned
 * buffer's bvecs: the span lies in one chunk and each entry is cached for
 * the access, so a span before found it usable, touched, dirtied and
 * marked it as umirror_lend_marked() needs; either all its pages are
 * small, or its first page's bvec, to the end of its huge mapping, holds
 * it all. What is left is bitmaps: the check, the epoch the span is lent
 * in (rule 4), and the referenced flags once a period. Returns whether
 * the span was lent.
 */
static bool umirror_lend_cached(struct umirror *um, unsigned long idx,
				unsigned long last, unsigned int offset,
				size_t len, bool write, struct iov_iter *iter)
{
	unsigned long slot = idx % UMIRROR_CHUNK_ENTRIES;
	unsigned long end = slot + (last - idx), i, nr;
	struct umirror_park *park = um->parks[idx / UMIRROR_CHUNK_ENTRIES];

	lockdep_assert_held(&um->lock);
	if (!park || end >= UMIRROR_CHUNK_ENTRIES ||
	    !umirror_all_set(write ? park->cached_write : park->cached, slot,
			     end))
		return false;
	if (test_bit(slot, park->cached_huge)) {
		/* The bvec to the end of a huge mapping covers the span. */
		if (offset + len > park->cache[slot].bv_len)
			return false;
		nr = 1;
	} else {
		/* A bvec per small page, and none of a huge mapping. */
		if (!umirror_none_set(park->cached_huge, slot, end))
			return false;
		nr = end - slot + 1;
	}
	if (umirror_reference_due(park, slot, end)) {
		for (i = slot; i <= end; i++)
			umirror_reference(page_folio(park->cache[i].bv_page));
		bitmap_set(park->referenced, slot, end - slot + 1);
	}
	umirror_park_epoch(um, park);
	bitmap_set(park->lent_now, slot, end - slot + 1);
	iov_iter_bvec(iter, write ? ITER_DEST : ITER_SOURCE, &park->cache[slot],
		      nr, offset + len);
	if (offset)
		iov_iter_advance(iter, offset);
	return true;
}

/*
 * Lend the span of pages [@idx, @last] from the marks of its entries
 * alone, when spans lent before used each page as this one needs it: the
 * span lies in one chunk and each entry is marked lent, or lent_write for
 * a device write. __umirror_pin_bvec() marks an entry only once it found
 * it usable as asked and not to be unshared, made its folio accessible,
 * and for lent_write dirtied it. The mark is cleared with the entry
 * (umirror_clear(), umirror_publish()), and until then the page stays
 * exclusive (the locking DOC) and dirty ("Dirtying" in
 * Documentation/mm/umirror.rst); only the entry's write permission may
 * go, in a republish of the same page, so each entry is still checked.
 * What is left per page is that check, its bvec, and the referenced flag
 * when due (umirror_reference_due()); the span's epoch is a bitmap (rule
 * 4). Pages of one PMD mapping share a bvec; pages not cached yet for
 * the access are cached (rule 5), so that the next span fills none.
 * Returns the bvecs filled, or 0 if the span must be looked up.
 */
static unsigned int umirror_lend_marked(struct umirror *um, unsigned long idx,
					unsigned long last, unsigned int offset,
					size_t len, bool write,
					struct bio_vec *bv, unsigned int max_bv)
{
	unsigned long slot = idx % UMIRROR_CHUNK_ENTRIES;
	unsigned long end = slot + (last - idx);
	unsigned long *chunk = umirror_chunk(um, idx);
	unsigned long entry, pfn, prev = 0, first = slot;
	struct umirror_park *park;
	unsigned int nr = 0, order;
	bool reference;
	size_t bytes;

	lockdep_assert_held(&um->lock);
	if (!chunk || end >= UMIRROR_CHUNK_ENTRIES)
		return 0;
	park = um->parks[idx / UMIRROR_CHUNK_ENTRIES];
	if (!umirror_all_set(write ? park->lent_write : park->lent, slot, end))
		return 0;
	reference = umirror_reference_due(park, slot, end);
	for (; slot <= end; slot++, offset = 0, len -= bytes) {
		entry = chunk[slot];
		/* A valid entry republished without write keeps its marks. */
		if (!umirror_entry_usable(entry, write))
			return 0;
		if (!test_bit(slot, write ? park->cached_write : park->cached))
			umirror_cache(um, park, slot, entry, write);
		pfn = entry & ~HMM_PFN_FLAGS;
		order = hmm_pfn_to_map_order(entry);
		bytes = min_t(size_t, len, PAGE_SIZE - offset);
		if (nr && pfn == prev + 1 && !((pfn ^ prev) >> order)) {
			bv[nr - 1].bv_len += bytes;
			prev = pfn;
			continue;
		}
		if (nr == max_bv)
			return 0;
		if (reference)
			umirror_reference(pfn_folio(pfn));
		bvec_set_page(&bv[nr++], pfn_to_page(pfn), bytes, offset);
		prev = pfn;
	}
	if (reference)
		bitmap_set(park->referenced, first, end - first + 1);
	umirror_park_epoch(um, park);
	bitmap_set(park->lent_now, first, end - first + 1);
	return nr;
}

/*
 * umirror_pin_bvec() and, with @nowait, umirror_pin_bvec_nowait(): a page
 * not usable from the cache as it is fails the nowait call with -EAGAIN
 * where the other faults or unshares it, so the nowait call takes no lock
 * but the mirror's spinlock. With @ticket (umirror_map_bvec()) the pages
 * are lent, not pinned: the whole span is looked up in one hold, which
 * also counts it in the current epoch, and a miss starts over; a span
 * that misses again no further than before, more than
 * UMIRROR_MAP_RESTARTS times, is refused, as its pages keep changing.
 */
static int __umirror_pin_bvec(struct umirror *um, unsigned long uaddr,
			      size_t len, bool write, struct bio_vec *bv,
			      unsigned int max_bv, unsigned int *nr_bv,
			      bool nowait, u32 *ticket, struct iov_iter *iter)
{
	unsigned long idx, last, run, npages, span_addr = uaddr;
	unsigned int nr = 0, runs = 0, offset;
	size_t bytes, span_len = len;
	struct folio *folio;
	struct page *page;
	unsigned long last_miss = ULONG_MAX;
	unsigned int restarts = 0;
	int ret;

	*nr_bv = 0;
	ret = umirror_check_access(um, uaddr, len);
	if (ret)
		return ret;
	/* A span lent is a span counted: an empty one is refused. */
	if (ticket && (!um->parks || !len))
		return -EINVAL;
	if (!len)
		return 0;
	if (ticket && umirror_lend_refused()) {
		spin_lock(&um->lock);
		um->stats.map_busy++;
		spin_unlock(&um->lock);
		return -EBUSY;
	}
	/* Fork must copy pinned anonymous pages; see mm_set_has_pinned_flag(). */
	if (!test_bit(MMF_HAS_PINNED, &um->mm->flags))
		set_bit(MMF_HAS_PINNED, &um->mm->flags);

	idx = umirror_index(um, uaddr);
	last = umirror_index(um, uaddr + len - 1);
	spin_lock(&um->lock);
	if (ticket && (last - idx >= UMIRROR_MAP_PAGES || !umirror_may_lend(um)))
		goto busy;
	if (iter && umirror_lend_cached(um, idx, last, offset_in_page(uaddr),
					len, write, iter)) {
		um->stats.maps_cached++;
		iter = NULL;	/* set up over the cache */
		len = 0;	/* nothing left to look up */
	} else if (ticket) {
		nr = umirror_lend_marked(um, idx, last, offset_in_page(uaddr),
					 len, write, bv, max_bv);
		if (nr) {
			um->stats.maps_marked++;
			len = 0;
		}
	}
	while (len) {
		idx = umirror_index(um, uaddr);
		offset = offset_in_page(uaddr);

		if (runs == UMIRROR_PIN_RUNS && !ticket) {
			/* Rule 3: let a waiting invalidation in. */
			spin_unlock(&um->lock);
			cond_resched();
			spin_lock(&um->lock);
			runs = 0;
		}
		page = umirror_lookup(um, idx, last, write, &run);
		if (!page || (!write && umirror_must_unshare(umirror_pfn(um, idx)))) {
			if (page)
				run = umirror_shared_run(um, idx, last);
			spin_unlock(&um->lock);
			if (nowait)
				ret = -EAGAIN;
			else if (fatal_signal_pending(current))
				ret = -EINTR;
			else if (page)
				ret = umirror_unshare(um, idx, run);
			else
				ret = umirror_fault_pages(um, idx, run, write);
			if (ret)
				goto err_unpin;
			cond_resched();
			spin_lock(&um->lock);
			runs = 0;
			if (ticket) {
				/*
				 * Rule 4: one hold from lookup to count. A
				 * span whose pages keep being invalidated is
				 * pinned instead, in holds of its own.
				 */
				if ((last_miss != ULONG_MAX && idx <= last_miss &&
				     ++restarts > UMIRROR_MAP_RESTARTS) ||
				    !umirror_may_lend(um))
					goto busy;
				last_miss = idx;
				uaddr = span_addr;
				len = span_len;
				nr = 0;
			}
			continue;
		}
		if (nr == max_bv) {
			ret = -E2BIG;
			goto err_unlock;
		}
		folio = page_folio(page);
		npages = umirror_folio_run(um, idx, last, write, folio, page);
		if (!ticket) {
			ret = try_grab_folio(folio, npages, FOLL_PIN);
			if (ret)
				goto err_unlock;
		}
		bytes = min_t(size_t, len, (npages << PAGE_SHIFT) - offset);
		bvec_set_page(&bv[nr++], page, bytes, offset);
		ret = umirror_touch(folio);
		if (ret)
			goto err_unlock;
		if (write)
			umirror_dirty(folio);
		/* Marked only now: umirror_lend_marked() relies on all this. */
		if (ticket)
			umirror_mark_lent(um, idx, npages, write);
		else
			um->stats.pins += npages;
		runs++;
		uaddr += bytes;
		len -= bytes;
	}
	if (ticket) {
		/* UMIRROR_EPOCHS divides 2^32: the ticket names the slot. */
		*ticket = um->epoch;
		atomic_inc(&um->borrowed[um->epoch % UMIRROR_EPOCHS]);
		um->stats.maps++;
	}
	spin_unlock(&um->lock);
	*nr_bv = nr;
	if (iter)
		iov_iter_bvec(iter, write ? ITER_DEST : ITER_SOURCE, bv, nr,
			      span_len);
	return 0;

busy:
	um->stats.map_busy++;
	ret = -EBUSY;
err_unlock:
	spin_unlock(&um->lock);
err_unpin:
	if (!ticket)
		umirror_unpin_bvec(bv, nr, false);
	return ret;
}

/**
 * umirror_pin_bvec() - pin the pages of a span for one I/O
 * @um: the mirror
 * @uaddr: first user address, inside the range
 * @len: bytes
 * @write: the I/O writes the memory (device to memory)
 * @bv: array to fill, one entry per folio run
 * @max_bv: size of @bv
 * @nr_bv: set to the entries filled
 *
 * Takes FOLL_PIN references on exactly the pages of the span as they are
 * mapped now, one bvec per run of pages within a folio, by the rules of
 * pin_user_pages(): anonymous pages are made exclusive first, also for a
 * read-only pin, so that neither a fork nor a write of the process can
 * leave the I/O with a page the process no longer maps. These are
 * transient pins for the duration of one I/O; release them with
 * umirror_unpin_bvec(). An invalidation after this call does not wait for
 * the pins: it only makes the next call see the new pages. May sleep.
 *
 * Return: 0, -E2BIG if @bv is too small (nothing is left pinned), or an
 * errno as for umirror_fault().
 */
int umirror_pin_bvec(struct umirror *um, unsigned long uaddr, size_t len,
		     bool write, struct bio_vec *bv, unsigned int max_bv,
		     unsigned int *nr_bv)
{
	might_sleep();
	return __umirror_pin_bvec(um, uaddr, len, write, bv, max_bv, nr_bv,
				  false, NULL, NULL);
}
EXPORT_SYMBOL_GPL(umirror_pin_bvec);

/**
 * umirror_pin_bvec_nowait() - pin a span for one I/O if that cannot block
 * @um: the mirror
 * @uaddr: first user address, inside the range
 * @len: bytes
 * @write: the I/O writes the memory (device to memory)
 * @bv: array to fill, one entry per folio run
 * @max_bv: size of @bv
 * @nr_bv: set to the entries filled
 *
 * As umirror_pin_bvec(), but only from the pfn cache: it takes no mmap
 * lock, faults nothing, allocates nothing and does not sleep, so a caller
 * that must not block (io_uring's inline issue) can try it first and hand
 * the work to a context that may block when it fails. Only the mirror's
 * spinlock is taken.
 *
 * Return: 0, -EAGAIN if a page of the span is not in the cache as the
 * access needs it (not faulted, invalidated, read-only for @write, or
 * shared and to be made exclusive first; nothing is left pinned), or
 * -EFAULT, -E2BIG as for umirror_pin_bvec().
 */
int umirror_pin_bvec_nowait(struct umirror *um, unsigned long uaddr,
			    size_t len, bool write, struct bio_vec *bv,
			    unsigned int max_bv, unsigned int *nr_bv)
{
	return __umirror_pin_bvec(um, uaddr, len, write, bv, max_bv, nr_bv,
				  true, NULL, NULL);
}
EXPORT_SYMBOL_GPL(umirror_pin_bvec_nowait);

/**
 * umirror_unpin_bvec() - release pins taken by umirror_pin_bvec()
 * @bv: the bvecs
 * @nr_bv: how many
 * @dirty: the I/O wrote the pages: mark them dirty
 *
 * May sleep when @dirty (the folio lock is taken to dirty file pages).
 */
void umirror_unpin_bvec(struct bio_vec *bv, unsigned int nr_bv, bool dirty)
{
	unsigned long npages;
	unsigned int i;

	might_sleep_if(dirty);
	for (i = 0; i < nr_bv; i++) {
		npages = DIV_ROUND_UP(bv[i].bv_offset + bv[i].bv_len, PAGE_SIZE);
		unpin_user_page_range_dirty_lock(bv[i].bv_page, npages, dirty);
	}
}
EXPORT_SYMBOL_GPL(umirror_unpin_bvec);

/**
 * umirror_map_bvec() - lend the pages of a span to one I/O, unpinned
 * @um: the mirror, set up with UMIRROR_MAP
 * @uaddr: first user address, inside the range
 * @len: bytes, covering at most 256 pages
 * @write: the I/O writes the memory (device to memory)
 * @bv: array to fill, one entry per folio run
 * @max_bv: size of @bv
 * @nr_bv: set to the entries filled
 * @ticket: set to what umirror_unmap_bvec() needs to return the span
 *
 * Fills @bv as umirror_pin_bvec() does, by the same rules (anonymous
 * pages made exclusive, pages touched and, for @write, dirtied), but takes
 * no page reference: the span is counted in the mirror's current epoch
 * instead. While it is out, an invalidation of its pages pins them and
 * keeps the pins until every span that may use them is returned, so a
 * page is not freed, migrated, reused or shared by fork under the I/O,
 * and a page a device may have written is dirtied when it is released.
 * Return the span with umirror_unmap_bvec() once the I/O can no longer
 * touch the pages, and never keep a span out while waiting for anything
 * but the I/O itself: while it is out, pins invalidations park on its
 * pages stay. May sleep.
 *
 * Return: 0, -EBUSY if the span is longer than 256 pages, if too many
 * spans are still out across invalidations, if its pages keep being
 * invalidated while it is looked up, or on s390 with KVM, where pages can
 * change without an invalidation: pin it with
 * umirror_pin_bvec() instead; -EINVAL for a zero length or a mirror
 * without UMIRROR_MAP, or an errno as for umirror_pin_bvec().
 */
int umirror_map_bvec(struct umirror *um, unsigned long uaddr, size_t len,
		     bool write, struct bio_vec *bv, unsigned int max_bv,
		     unsigned int *nr_bv, u32 *ticket)
{
	might_sleep();
	return __umirror_pin_bvec(um, uaddr, len, write, bv, max_bv, nr_bv,
				  false, ticket, NULL);
}
EXPORT_SYMBOL_GPL(umirror_map_bvec);

/**
 * umirror_map_bvec_nowait() - lend a span to one I/O if that cannot block
 * @um: the mirror, set up with UMIRROR_MAP
 * @uaddr: first user address, inside the range
 * @len: bytes, covering at most 256 pages
 * @write: the I/O writes the memory (device to memory)
 * @bv: array to fill, one entry per folio run
 * @max_bv: size of @bv
 * @nr_bv: set to the entries filled
 * @ticket: set to what umirror_unmap_bvec() needs to return the span
 *
 * As umirror_map_bvec(), from the pfn cache only, taking no lock but the
 * mirror's spinlock, as umirror_pin_bvec_nowait() does.
 *
 * Return: 0, -EAGAIN as for umirror_pin_bvec_nowait(), or an errno as for
 * umirror_map_bvec().
 */
int umirror_map_bvec_nowait(struct umirror *um, unsigned long uaddr,
			    size_t len, bool write, struct bio_vec *bv,
			    unsigned int max_bv, unsigned int *nr_bv,
			    u32 *ticket)
{
	return __umirror_pin_bvec(um, uaddr, len, write, bv, max_bv, nr_bv,
				  true, ticket, NULL);
}
EXPORT_SYMBOL_GPL(umirror_map_bvec_nowait);

/**
 * umirror_map_iter() - lend a span to one I/O as an iterator, unpinned
 * @um: the mirror, set up with UMIRROR_MAP
 * @uaddr: first user address, inside the range
 * @len: bytes, covering at most 256 pages
 * @write: the I/O writes the memory (device to memory): @iter is
 *	ITER_DEST, else ITER_SOURCE
 * @iter: set up over the span's pages
 * @bv: array the pages may be filled in, one entry per folio run
 * @max_bv: size of @bv
 * @ticket: set to what umirror_unmap_bvec() needs to return the span
 *
 * As umirror_map_bvec(), by the same rules, but @iter may instead point
 * at bvecs the mirror keeps for the span's pages, the way a pinned
 * buffer's are imported: with no bvec filled, when earlier spans used the
 * same pages in the same way and nothing invalidated them since (one bvec
 * to the end of a huge mapping, else one per page).
 * Those bvecs stay as they are until the span is returned; @iter may be
 * advanced and reverted, never written through. May sleep.
 *
 * Return: 0, or an errno as for umirror_map_bvec().
 */
int umirror_map_iter(struct umirror *um, unsigned long uaddr, size_t len,
		     bool write, struct iov_iter *iter, struct bio_vec *bv,
		     unsigned int max_bv, u32 *ticket)
{
	unsigned int nr;

	might_sleep();
	return __umirror_pin_bvec(um, uaddr, len, write, bv, max_bv, &nr,
				  false, ticket, iter);
}
EXPORT_SYMBOL_GPL(umirror_map_iter);

/**
 * umirror_map_iter_nowait() - lend a span as an iterator if that cannot block
 * @um: the mirror, set up with UMIRROR_MAP
 * @uaddr: first user address, inside the range
 * @len: bytes, covering at most 256 pages
 * @write: the I/O writes the memory (device to memory)
 * @iter: set up over the span's pages
 * @bv: array the pages may be filled in, one entry per folio run
 * @max_bv: size of @bv
 * @ticket: set to what umirror_unmap_bvec() needs to return the span
 *
 * As umirror_map_iter(), from the pfn cache only, taking no lock but the
 * mirror's spinlock, as umirror_pin_bvec_nowait() does.
 *
 * Return: 0, -EAGAIN as for umirror_pin_bvec_nowait(), or an errno as for
 * umirror_map_bvec().
 */
int umirror_map_iter_nowait(struct umirror *um, unsigned long uaddr,
			    size_t len, bool write, struct iov_iter *iter,
			    struct bio_vec *bv, unsigned int max_bv,
			    u32 *ticket)
{
	unsigned int nr;

	return __umirror_pin_bvec(um, uaddr, len, write, bv, max_bv, &nr,
				  true, ticket, iter);
}
EXPORT_SYMBOL_GPL(umirror_map_iter_nowait);

/**
 * umirror_unmap_bvec() - return a lent span
 * @um: the mirror
 * @ticket: what umirror_map_bvec() or umirror_map_iter() set
 *
 * Once every span that may use a parked pin is returned, a work item
 * releases the pin. Any context, interrupts included.
 */
void umirror_unmap_bvec(struct umirror *um, u32 ticket)
{
	int left = atomic_dec_return(&um->borrowed[ticket % UMIRROR_EPOCHS]);

	WARN_ON_ONCE(left < 0);
	if (!left && READ_ONCE(um->stats.parked))
		mod_delayed_work(system_unbound_wq, &um->release_work, 0);
}
EXPORT_SYMBOL_GPL(umirror_unmap_bvec);

/**
 * umirror_get_stats() - read a mirror's counters
 * @um: the mirror
 * @stats: where to copy them
 */
void umirror_get_stats(struct umirror *um, struct umirror_stats *stats)
{
	spin_lock(&um->lock);
	*stats = um->stats;
	spin_unlock(&um->lock);
}
EXPORT_SYMBOL_GPL(umirror_get_stats);
