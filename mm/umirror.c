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
 *    invalidation ran since the mmu_interval_read_begin() that preceded
 *    hmm_range_fault().
 * 2. umirror_invalidate() takes &umirror.lock, bumps the notifier sequence
 *    and clears exactly the entries of the invalidated subrange. It never
 *    sleeps, so it serves non-blockable invalidations too, and it never
 *    waits for I/O: a transient pin is what keeps a page alive during DMA.
 * 3. A page is touched (copied, or pinned) only under &umirror.lock while
 *    its entry is valid. Each lock hold copies at most one page, or pins at
 *    most UMIRROR_PIN_RUNS folio runs (a pin is one atomic add per run), so
 *    an invalidation waits for at most one page copy or a few pins.
 *
 * &umirror.lock is a leaf lock: nothing that may sleep or allocate runs
 * under it. mmu_interval_read_begin() may sleep until an invalidation ends
 * and is never called with the lock held. Notifiers run from reclaim, so
 * lockdep is taught at init that reclaim may take the lock.
 */

#include <linux/bvec.h>
#include <linux/export.h>
#include <linux/highmem.h>
#include <linux/hmm.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/secretmem.h>
#include <linux/slab.h>
#include <linux/umirror.h>

#include "internal.h"

/* Faults are made in chunks of at most this many pages. */
#define UMIRROR_FAULT_PAGES	(SZ_2M >> PAGE_SHIFT)
/* Pfn cache entries per chunk: a chunk is one page. */
#define UMIRROR_CHUNK_ENTRIES	(PAGE_SIZE / sizeof(unsigned long))
/* Folio runs umirror_pin_bvec() pins per lock hold. */
#define UMIRROR_PIN_RUNS	32

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

static bool umirror_invalidate(struct mmu_interval_notifier *mni,
			       const struct mmu_notifier_range *range,
			       unsigned long cur_seq)
{
	struct umirror *um = container_of(mni, struct umirror, notifier);
	unsigned long start = max(range->start, um->base);
	unsigned long end = min(range->end, PAGE_ALIGN(um->end));
	unsigned long first, last, i, cleared = 0;
	unsigned long *chunk;

	spin_lock(&um->lock);
	mmu_interval_set_seq(mni, cur_seq);
	if (start < end) {
		first = (start - um->base) >> PAGE_SHIFT;
		last = (end - 1 - um->base) >> PAGE_SHIFT;
		for (i = first; i <= last; i++) {
			chunk = umirror_chunk(um, i);
			if (!chunk) {
				/* Never faulted: on to the next chunk. */
				i |= UMIRROR_CHUNK_ENTRIES - 1;
				continue;
			}
			if (chunk[i % UMIRROR_CHUNK_ENTRIES] & HMM_PFN_VALID)
				cleared++;
			chunk[i % UMIRROR_CHUNK_ENTRIES] = 0;
		}
	}
	um->stats.invalidations++;
	um->stats.pages_invalidated += cleared;
	spin_unlock(&um->lock);
	return true;
}

static const struct mmu_interval_notifier_ops umirror_notifier_ops = {
	.invalidate = umirror_invalidate,
};

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
 * Return: 0, -EINVAL for unknown flags, a zero length or a range that wraps
 * or leaves the mm's address space, or -ENOMEM.
 */
int umirror_init(struct umirror *um, struct mm_struct *mm, unsigned long uaddr,
		 size_t len, unsigned int flags)
{
	unsigned long end, npages;
	int ret;

	might_sleep();
	if (flags & ~UMIRROR_FLAGS)
		return -EINVAL;
	if (!len || check_add_overflow(uaddr, len, &end) || end > mm->task_size)
		return -EINVAL;

	um->mm = mm;
	um->start = uaddr;
	um->end = end;
	um->base = uaddr & PAGE_MASK;
	um->flags = flags;
	spin_lock_init(&um->lock);
	memset(&um->stats, 0, sizeof(um->stats));
	npages = DIV_ROUND_UP(end - um->base, PAGE_SIZE);
	um->nr_chunks = DIV_ROUND_UP(npages, UMIRROR_CHUNK_ENTRIES);
	um->chunks = kvcalloc(um->nr_chunks, sizeof(*um->chunks),
			      GFP_KERNEL_ACCOUNT);
	if (!um->chunks)
		return -ENOMEM;
	um->stats.cache_bytes = um->nr_chunks * sizeof(*um->chunks);

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
 * Removes the notifier and frees the cache. Safe after the mm has exited.
 * Pins taken with umirror_pin_bvec() do not depend on the mirror and may be
 * released after this. May sleep.
 */
void umirror_fini(struct umirror *um)
{
	unsigned long i;

	might_sleep();
	mmu_interval_notifier_remove(&um->notifier);
	for (i = 0; i < um->nr_chunks; i++)
		kfree(um->chunks[i]);
	kvfree(um->chunks);
	um->chunks = NULL;
	mmdrop(um->mm);
}
EXPORT_SYMBOL_GPL(umirror_fini);

/* Refuse what the direct map cannot or must not reach. */
static int umirror_check_vmas(struct mm_struct *mm, unsigned long start,
			      unsigned long end)
{
	VMA_ITERATOR(vmi, mm, start);
	struct vm_area_struct *vma;

	mmap_assert_locked(mm);
	for_each_vma_range(vmi, vma, end) {
		/* Secret memory has no direct-map entry to kmap. */
		if (vma_is_secretmem(vma))
			return -EFAULT;
		/* No struct page to copy through or pin (also MMIO). */
		if (vma->vm_flags & (VM_IO | VM_PFNMAP))
			return -EFAULT;
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
 * Return: 0, -EFAULT if part of the range is unmapped, not readable, not
 * writable for a UMIRROR_WRITE mirror, secretmem or VM_IO/VM_PFNMAP,
 * -ESRCH if the mm has exited, -EINTR on a fatal signal.
 */
int umirror_check(struct umirror *um)
{
	VMA_ITERATOR(vmi, um->mm, um->base);
	vm_flags_t need = VM_READ | (um->flags & UMIRROR_WRITE ? VM_WRITE : 0);
	unsigned long addr = um->base, end = PAGE_ALIGN(um->end);
	struct mm_struct *mm = um->mm;
	struct vm_area_struct *vma;
	int ret;

	might_sleep();
	if (!mmget_not_zero(mm))
		return -ESRCH;
	ret = mmap_read_lock_killable(mm);
	if (ret)
		goto out_put;
	ret = umirror_check_vmas(mm, addr, end);
	/* Covered only if the walk reaches @end with no gap or missing right. */
	for_each_vma_range(vmi, vma, end) {
		if (ret || vma->vm_start > addr || (vma->vm_flags & need) != need)
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

/* Allocate the cache chunks that pages [first, first + npages) live in. */
static int umirror_alloc_chunks(struct umirror *um, unsigned long first,
				unsigned long npages)
{
	unsigned long c = first / UMIRROR_CHUNK_ENTRIES;
	unsigned long last = (first + npages - 1) / UMIRROR_CHUNK_ENTRIES;
	unsigned long *chunk;
	bool have;

	for (; c <= last; c++) {
		spin_lock(&um->lock);
		have = um->chunks[c];
		spin_unlock(&um->lock);
		if (have)
			continue;
		chunk = kzalloc(PAGE_SIZE, GFP_KERNEL_ACCOUNT);
		if (!chunk)
			return -ENOMEM;
		spin_lock(&um->lock);
		if (!um->chunks[c]) {
			um->chunks[c] = chunk;
			um->stats.cache_bytes += PAGE_SIZE;
			chunk = NULL;
		}
		spin_unlock(&um->lock);
		kfree(chunk);
	}
	return 0;
}

/*
 * Fault pages [first, first + npages) of the range and publish their pfns.
 * Rule 1 of the locking DOC.
 */
static int umirror_fault_pages(struct umirror *um, unsigned long first,
			       unsigned long npages, bool write)
{
	unsigned long timeout = jiffies + msecs_to_jiffies(HMM_RANGE_DEFAULT_TIMEOUT);
	struct hmm_range range = {
		.notifier = &um->notifier,
		.start = um->base + (first << PAGE_SHIFT),
		.end = um->base + ((first + npages) << PAGE_SHIFT),
		.default_flags = HMM_PFN_REQ_FAULT |
				 (write ? HMM_PFN_REQ_WRITE : 0),
	};
	struct mm_struct *mm = um->mm;
	unsigned long i, idx;
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

	for (;;) {
		if (fatal_signal_pending(current)) {
			ret = -EINTR;
			break;
		}
		if (time_after(jiffies, timeout)) {
			ret = -EBUSY;
			break;
		}
		range.notifier_seq = mmu_interval_read_begin(&um->notifier);
		mmap_read_lock(mm);
		ret = umirror_check_vmas(mm, range.start, range.end);
		if (!ret)
			ret = hmm_range_fault(&range);
		mmap_read_unlock(mm);
		if (ret == -EBUSY)
			continue;
		if (ret)
			break;

		spin_lock(&um->lock);
		if (mmu_interval_read_retry(&um->notifier, range.notifier_seq)) {
			spin_unlock(&um->lock);
			continue;
		}
		for (i = 0; i < npages; i++) {
			/* P2PDMA and device pages are not memory to kmap. */
			if (is_zone_device_page(hmm_pfn_to_page(range.hmm_pfns[i]))) {
				ret = -EFAULT;
				break;
			}
		}
		if (!ret) {
			for (i = 0; i < npages; i++) {
				idx = first + i;
				umirror_chunk(um, idx)[idx % UMIRROR_CHUNK_ENTRIES] =
					range.hmm_pfns[i];
			}
			um->stats.faults++;
			um->stats.pages_faulted += npages;
		}
		spin_unlock(&um->lock);
		break;
	}
	mmput(mm);
out_free:
	kfree(range.hmm_pfns);
	/* hmm_range_fault() says -EPERM for a write to a read-only VMA. */
	return ret == -EPERM ? -EFAULT : ret;
}

static bool umirror_entry_usable(unsigned long pfn, bool write)
{
	if (!(pfn & HMM_PFN_VALID))
		return false;
	return !write || (pfn & HMM_PFN_WRITE);
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

static unsigned long umirror_index(struct umirror *um, unsigned long uaddr)
{
	return (uaddr - um->base) >> PAGE_SHIFT;
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
 * VM_IO/VM_PFNMAP, device memory), -ESRCH if the mm has exited, -EBUSY if
 * invalidations kept racing with the fault, -EINTR, -ENOMEM.
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
			continue;
		}
		ret = umirror_fault_pages(um, idx, run, write);
		if (ret)
			return ret;
		idx += run;
	}
	return 0;
}
EXPORT_SYMBOL_GPL(umirror_fault);

/*
 * Copy between @buf and the range, one page per lock hold (rule 3).
 * Faulted entries may be invalidated again before they are used; give up
 * with -EBUSY when a page made no progress for HMM_RANGE_DEFAULT_TIMEOUT.
 */
static int umirror_copy(struct umirror *um, unsigned long uaddr, void *buf,
			size_t len, bool write)
{
	unsigned long idx, last, run, deadline = 0;
	struct page *page;
	void *kaddr;
	size_t offset, n;
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
			if (!deadline)
				deadline = jiffies + msecs_to_jiffies(HMM_RANGE_DEFAULT_TIMEOUT);
			else if (time_after(jiffies, deadline))
				return -EBUSY;
			ret = umirror_fault_pages(um, idx, run, write);
			if (ret)
				return ret;
			continue;
		}
		kaddr = kmap_local_page(page);
		if (write) {
			memcpy(kaddr + offset, buf, n);
			flush_dcache_page(page);
			/*
			 * As GUP's FOLL_TOUCH: a writable entry may map a
			 * clean page (anon, shmem); writeback-tracked files
			 * are already dirty, as mkclean would have
			 * invalidated the entry.
			 */
			if (!folio_test_dirty(page_folio(page)))
				folio_mark_dirty(page_folio(page));
		} else {
			memcpy(buf, kaddr + offset, n);
		}
		kunmap_local(kaddr);
		spin_unlock(&um->lock);

		deadline = 0;
		uaddr += n;
		buf += n;
		len -= n;
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

/* GUP pins anonymous pages only once exclusive; so do we. */
static bool umirror_anon_shared(struct folio *folio, struct page *page)
{
	if (!folio_test_anon(folio))
		return false;
	if (!folio_test_large(folio) || folio_test_hugetlb(folio))
		return !PageAnonExclusive(&folio->page);
	return !PageAnonExclusive(&folio->page) && !PageAnonExclusive(page);
}

/* Make the anonymous page at @uaddr exclusive, as GUP does for FOLL_PIN. */
static int umirror_unshare(struct umirror *um, unsigned long uaddr)
{
	struct mm_struct *mm = um->mm;
	int ret;

	if (!mmget_not_zero(mm))
		return -ESRCH;
	mmap_read_lock(mm);
	ret = fixup_user_fault(mm, uaddr, FAULT_FLAG_UNSHARE, NULL);
	mmap_read_unlock(mm);
	mmput(mm);
	return ret;
}

/*
 * Pages after @idx, up to @last, that continue @page inside its folio with
 * usable entries: one bvec, one try_grab_folio(). Called under the lock.
 */
static unsigned long umirror_folio_run(struct umirror *um, unsigned long idx,
				       unsigned long last, bool write,
				       struct folio *folio, struct page *page)
{
	unsigned long pfn = page_to_pfn(page);
	unsigned long max = folio_nr_pages(folio) - folio_page_idx(folio, page);
	unsigned long n;

	for (n = 1; n < max && idx + n <= last; n++) {
		unsigned long entry = umirror_pfn(um, idx + n);

		if (!umirror_entry_usable(entry, write) ||
		    page_to_pfn(hmm_pfn_to_page(entry)) != pfn + n)
			break;
	}
	return n;
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
 * mapped now, one bvec per run of pages within a folio. These are transient
 * pins for the duration of one I/O; release them with umirror_unpin_bvec().
 * An invalidation after this call does not wait for the pins: it only makes
 * the next call see the new pages. May sleep.
 *
 * Return: 0, -E2BIG if @bv is too small (nothing is left pinned), or an
 * errno as for umirror_fault().
 */
int umirror_pin_bvec(struct umirror *um, unsigned long uaddr, size_t len,
		     bool write, struct bio_vec *bv, unsigned int max_bv,
		     unsigned int *nr_bv)
{
	unsigned long idx, last, run, npages, deadline = 0;
	unsigned int nr = 0, runs = 0, offset;
	struct folio *folio;
	struct page *page;
	size_t bytes;
	int ret;

	might_sleep();
	*nr_bv = 0;
	ret = umirror_check_access(um, uaddr, len);
	if (ret || !len)
		return ret;
	/* Fork must copy pinned anonymous pages; see mm_set_has_pinned_flag(). */
	if (!test_bit(MMF_HAS_PINNED, &um->mm->flags))
		set_bit(MMF_HAS_PINNED, &um->mm->flags);

	last = umirror_index(um, uaddr + len - 1);
	spin_lock(&um->lock);
	while (len) {
		idx = umirror_index(um, uaddr);
		offset = offset_in_page(uaddr);

		if (runs == UMIRROR_PIN_RUNS) {
			/* Rule 3: let a waiting invalidation in. */
			spin_unlock(&um->lock);
			spin_lock(&um->lock);
			runs = 0;
		}
		page = umirror_lookup(um, idx, last, write, &run);
		if (page) {
			folio = page_folio(page);
			if (umirror_anon_shared(folio, page)) {
				page = NULL;
				run = 0;
			}
		}
		if (!page) {
			spin_unlock(&um->lock);
			if (!deadline)
				deadline = jiffies + msecs_to_jiffies(HMM_RANGE_DEFAULT_TIMEOUT);
			else if (time_after(jiffies, deadline))
				ret = -EBUSY;
			if (!ret)
				ret = run ? umirror_fault_pages(um, idx, run, write) :
					    umirror_unshare(um, uaddr);
			if (ret)
				goto err_unpin;
			spin_lock(&um->lock);
			runs = 0;
			continue;
		}
		if (nr == max_bv) {
			ret = -E2BIG;
			goto err_unlock;
		}
		npages = umirror_folio_run(um, idx, last, write, folio, page);
		ret = try_grab_folio(folio, npages, FOLL_PIN);
		if (ret)
			goto err_unlock;
		um->stats.pins += npages;
		runs++;

		bytes = min_t(size_t, len, (npages << PAGE_SHIFT) - offset);
		bvec_set_page(&bv[nr++], page, bytes, offset);
		deadline = 0;
		uaddr += bytes;
		len -= bytes;
	}
	spin_unlock(&um->lock);
	*nr_bv = nr;
	return 0;

err_unlock:
	spin_unlock(&um->lock);
err_unpin:
	umirror_unpin_bvec(bv, nr, false);
	return ret;
}
EXPORT_SYMBOL_GPL(umirror_pin_bvec);

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
