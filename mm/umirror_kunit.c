// SPDX-License-Identifier: GPL-2.0
/*
 * KUnit tests for umirror. Each case runs in a kthread that kunit_vm_mmap()
 * gives a fresh mm; the test reads and changes that memory with its own
 * accessors (copy_{to,from}_user(), do_madvise(), vm_munmap()) and checks
 * that the mirror always sees what the process sees.
 */

#include <kunit/test.h>
#include <linux/bvec.h>
#include <linux/delay.h>
#include <linux/fs.h>
#include <linux/huge_mm.h>
#include <linux/kthread.h>
#include <linux/mm_inline.h>
#include <linux/mm.h>
#include <linux/mman.h>
#include <linux/mount.h>
#include <linux/random.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/shmem_fs.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/uio.h>
#include <linux/umirror.h>
#include <linux/vmalloc.h>
#include <linux/vmstat.h>
#include <asm/tlb.h>

KUNIT_DEFINE_ACTION_WRAPPER(vfree_action, vfree, const void *);

static void *kunit_vzalloc(struct kunit *test, size_t len)
{
	void *buf = vzalloc(len);

	KUNIT_ASSERT_NOT_NULL(test, buf);
	KUNIT_ASSERT_EQ(test, kunit_add_action_or_reset(test, vfree_action, buf), 0);
	return buf;
}

static unsigned long map_anon(struct kunit *test, size_t len, unsigned long prot)
{
	unsigned long addr;

	addr = kunit_vm_mmap(test, NULL, 0, len, prot,
			     MAP_PRIVATE | MAP_ANONYMOUS, 0);
	KUNIT_ASSERT_NE_MSG(test, addr, 0, "vm_mmap of %zu bytes failed", len);
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(addr));
	return addr;
}

static void *alloc_pattern(struct kunit *test, size_t len, u8 seed)
{
	u8 *buf = kunit_vzalloc(test, len);
	size_t i;

	for (i = 0; i < len; i++)
		buf[i] = seed + i * 7 + (i >> 12);
	return buf;
}

static void fill_user(struct kunit *test, unsigned long addr, const void *src,
		      size_t len)
{
	KUNIT_ASSERT_EQ(test, copy_to_user((void __user *)addr, src, len), 0);
}

static void read_user(struct kunit *test, void *dst, unsigned long addr,
		      size_t len)
{
	KUNIT_ASSERT_EQ(test, copy_from_user(dst, (void __user *)addr, len), 0);
}

/*
 * mprotect() of one whole VMA, done as do_mprotect_pkey() does it: a test
 * kthread has no system call to make. @access is VM_READ and/or VM_WRITE.
 */
static int test_mprotect(struct mm_struct *mm, unsigned long start, size_t len,
			 unsigned long access)
{
	VMA_ITERATOR(vmi, mm, start);
	struct vm_area_struct *vma, *prev;
	unsigned long newflags;
	struct mmu_gather tlb;
	int ret = -EINVAL;

	mmap_write_lock(mm);
	vma = vma_find(&vmi, start + len);
	if (!vma || vma->vm_start != start || vma->vm_end != start + len)
		goto out;
	newflags = (vma->vm_flags & ~VM_ACCESS_FLAGS) | access;
	prev = vma_prev(&vmi);
	vma = vma_find(&vmi, start + len);
	tlb_gather_mmu(&tlb, mm);
	ret = mprotect_fixup(&vmi, &tlb, vma, &prev, start, start + len, newflags);
	tlb_finish_mmu(&tlb);
out:
	mmap_write_unlock(mm);
	return ret;
}

static void init_mirror(struct kunit *test, struct umirror *um,
			unsigned long addr, size_t len, unsigned int flags)
{
	KUNIT_ASSERT_EQ(test, umirror_init(um, current->mm, addr, len, flags), 0);
}

/* Case 1: every (offset, length) class, both directions. */
static void umirror_test_copy_classes(struct kunit *test)
{
	const size_t size = SZ_4M + 2 * PAGE_SIZE;
	static const struct { size_t off, len; } cls[] = {
		{ 0, 1 }, { 100, 8 }, { 0, PAGE_SIZE }, { 17, PAGE_SIZE - 17 },
		{ PAGE_SIZE - 3, 7 }, { PAGE_SIZE - 1, PAGE_SIZE + 2 },
		{ 5, 3 * PAGE_SIZE + 11 }, { 1234, SZ_64K + 99 },
		{ PAGE_SIZE + 1, SZ_2M }, { 3, SZ_4M }, { 0, SZ_4M + 2 * PAGE_SIZE },
	};
	unsigned long addr = map_anon(test, size, PROT_READ | PROT_WRITE);
	u8 *pattern = alloc_pattern(test, size, 1);
	u8 *fresh = alloc_pattern(test, size, 99);
	u8 *buf = kunit_vzalloc(test, size);
	u8 *view = kunit_vzalloc(test, size);
	struct umirror um;
	unsigned int i;

	fill_user(test, addr, pattern, size);
	init_mirror(test, &um, addr, size, UMIRROR_WRITE);
	KUNIT_EXPECT_EQ(test, umirror_check(&um), 0);
	for (i = 0; i < ARRAY_SIZE(cls); i++) {
		size_t off = cls[i].off, len = cls[i].len;

		memset(buf, 0, len);
		KUNIT_ASSERT_EQ(test, umirror_read(&um, buf, addr + off, len), 0);
		KUNIT_EXPECT_MEMEQ_MSG(test, buf, pattern + off, len,
				       "read class %u (off %zu len %zu)", i, off, len);

		KUNIT_ASSERT_EQ(test, umirror_write(&um, addr + off, fresh + off, len), 0);
		read_user(test, view + off, addr + off, len);
		KUNIT_EXPECT_MEMEQ_MSG(test, view + off, fresh + off, len,
				       "write class %u (off %zu len %zu)", i, off, len);
		/* Restore, so the next class reads the pattern. */
		fill_user(test, addr + off, pattern + off, len);
	}
	/* Outside the mirror, and a zero length. */
	KUNIT_EXPECT_EQ(test, umirror_read(&um, buf, addr + size - 1, 2), -EFAULT);
	KUNIT_EXPECT_EQ(test, umirror_read(&um, buf, addr - 1, 1), -EFAULT);
	KUNIT_EXPECT_EQ(test, umirror_read(&um, buf, addr, 0), 0);
	umirror_fini(&um);
}

/* Case 2: after the process changes its mappings, the mirror follows. */
static void umirror_test_coherence(struct kunit *test)
{
	const size_t size = 8 * PAGE_SIZE;
	unsigned long addr = map_anon(test, size, PROT_READ | PROT_WRITE);
	u8 *old = alloc_pattern(test, size, 3);
	u8 *new = alloc_pattern(test, size, 77);
	u8 *zero = kunit_vzalloc(test, size);
	u8 *buf = kunit_vzalloc(test, size);
	struct umirror um;
	unsigned long again;

	fill_user(test, addr, old, size);
	init_mirror(test, &um, addr, size, UMIRROR_WRITE);
	KUNIT_ASSERT_EQ(test, umirror_read(&um, buf, addr, size), 0);
	KUNIT_EXPECT_MEMEQ(test, buf, old, size);

	/* MADV_DONTNEED: the fresh zero pages, not the freed ones. */
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, addr, size, MADV_DONTNEED), 0);
	KUNIT_ASSERT_EQ(test, umirror_read(&um, buf, addr, size), 0);
	KUNIT_EXPECT_MEMEQ(test, buf, zero, size);

	/* munmap + mmap at the same address: the new mapping's content. */
	fill_user(test, addr, old, size);
	KUNIT_ASSERT_EQ(test, umirror_read(&um, buf, addr, size), 0);
	KUNIT_ASSERT_EQ(test, vm_munmap(addr, size), 0);
	again = vm_mmap(NULL, addr, size, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0);
	KUNIT_ASSERT_EQ(test, again, addr);
	fill_user(test, addr, new, size);
	KUNIT_ASSERT_EQ(test, umirror_read(&um, buf, addr, size), 0);
	KUNIT_EXPECT_MEMEQ(test, buf, new, size);

	/* Writes through the mirror land in the new pages. */
	KUNIT_ASSERT_EQ(test, umirror_write(&um, addr, old, size), 0);
	read_user(test, buf, addr, size);
	KUNIT_EXPECT_MEMEQ(test, buf, old, size);

	/* mprotect(PROT_READ): reads see the content, writes are refused. */
	KUNIT_ASSERT_EQ(test, test_mprotect(current->mm, addr, size, VM_READ), 0);
	KUNIT_EXPECT_EQ(test, umirror_read(&um, buf, addr, size), 0);
	KUNIT_EXPECT_MEMEQ(test, buf, old, size);
	KUNIT_EXPECT_EQ(test, umirror_write(&um, addr, new, 1), -EFAULT);
	KUNIT_ASSERT_EQ(test, test_mprotect(current->mm, addr, size,
					    VM_READ | VM_WRITE), 0);
	KUNIT_EXPECT_EQ(test, umirror_write(&um, addr, new, size), 0);
	read_user(test, buf, addr, size);
	KUNIT_EXPECT_MEMEQ(test, buf, new, size);

	/* Remapped read-only: reads see it, writes are refused. */
	KUNIT_ASSERT_EQ(test, vm_munmap(addr, size), 0);
	again = vm_mmap(NULL, addr, size, PROT_READ,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, 0);
	KUNIT_ASSERT_EQ(test, again, addr);
	KUNIT_EXPECT_EQ(test, umirror_read(&um, buf, addr, size), 0);
	KUNIT_EXPECT_MEMEQ(test, buf, zero, size);
	KUNIT_EXPECT_EQ(test, umirror_write(&um, addr, new, 1), -EFAULT);

	/* Unmapped: a hole. */
	KUNIT_ASSERT_EQ(test, vm_munmap(addr, size), 0);
	KUNIT_EXPECT_EQ(test, umirror_read(&um, buf, addr, 1), -EFAULT);
	umirror_fini(&um);
}

/* Keep THP out of a range, where the kernel has THP. */
static void small_pages_only(struct kunit *test, unsigned long addr, size_t size)
{
	if (IS_ENABLED(CONFIG_TRANSPARENT_HUGEPAGE))
		KUNIT_ASSERT_EQ(test, do_madvise(current->mm, addr, size,
						 MADV_NOHUGEPAGE), 0);
}

/* Case 3: invalidating one page of a large range refaults only that page. */
static void umirror_test_invalidate_one_page(struct kunit *test)
{
	const size_t size = SZ_16M;
	unsigned long addr = map_anon(test, size, PROT_READ | PROT_WRITE);
	u8 *buf = kunit_vzalloc(test, size);
	struct umirror_stats before, after;
	struct umirror um;

	/* Small pages: zapping one page of a THP splits its PMD, 2 MiB. */
	small_pages_only(test, addr, size);
	memset(buf, 0x5a, size);
	fill_user(test, addr, buf, size);
	init_mirror(test, &um, addr, size, UMIRROR_WRITE);
	KUNIT_ASSERT_EQ(test, umirror_fault(&um, addr, size, true), 0);
	umirror_get_stats(&um, &before);
	KUNIT_EXPECT_EQ(test, before.pages_faulted, size >> PAGE_SHIFT);

	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, addr + SZ_8M, PAGE_SIZE,
					 MADV_DONTNEED), 0);
	KUNIT_ASSERT_EQ(test, umirror_read(&um, buf, addr, size), 0);
	umirror_get_stats(&um, &after);
	KUNIT_EXPECT_EQ(test, after.pages_invalidated - before.pages_invalidated, 1);
	KUNIT_EXPECT_EQ(test, after.pages_faulted - before.pages_faulted, 1);
	KUNIT_EXPECT_EQ(test, after.faults - before.faults, 1);
	KUNIT_EXPECT_EQ(test, buf[SZ_8M], 0);
	KUNIT_EXPECT_EQ(test, buf[SZ_8M - 1], 0x5a);
	KUNIT_EXPECT_EQ(test, buf[SZ_8M + PAGE_SIZE], 0x5a);
	umirror_fini(&um);
}

/*
 * A node counter with the per-CPU deltas not yet folded in: exact for the
 * pins this test takes, on any number of CPUs.
 */
static long node_stat_exact(enum node_stat_item item)
{
	struct pglist_data *pgdat;
	long sum = 0;
	int __maybe_unused cpu;

	for_each_online_pgdat(pgdat) {
		sum += atomic_long_read(&pgdat->vm_stat[item]);
#ifdef CONFIG_SMP
		for_each_online_cpu(cpu)
			sum += per_cpu_ptr(pgdat->per_cpu_nodestats, cpu)->vm_node_stat_diff[item];
#endif
	}
	return sum;
}

static unsigned long pins_outstanding(void)
{
	return node_stat_exact(NR_FOLL_PIN_ACQUIRED) -
	       node_stat_exact(NR_FOLL_PIN_RELEASED);
}

#ifdef CONFIG_TRANSPARENT_HUGEPAGE
/*
 * 2 MiB of anonymous memory, PMD-aligned, asked to be a THP, its first
 * byte written; whether it got one is for the caller to check.
 */
static unsigned long map_thp(struct kunit *test)
{
	unsigned long map = map_anon(test, 2 * HPAGE_PMD_SIZE,
				     PROT_READ | PROT_WRITE);
	unsigned long addr = ALIGN(map, HPAGE_PMD_SIZE);
	u8 one = 1;

	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, addr, HPAGE_PMD_SIZE,
					 MADV_HUGEPAGE), 0);
	fill_user(test, addr, &one, 1);
	return addr;
}

/* Case 4: a THP pins as one bvec per folio; pins are balanced. */
static void umirror_test_thp_pin(struct kunit *test)
{
	unsigned long addr = map_thp(test);
	unsigned long outstanding = pins_outstanding();
	struct bio_vec bv[4];
	struct folio *folio;
	unsigned int nr, pincount;
	struct umirror um;

	init_mirror(test, &um, addr, HPAGE_PMD_SIZE, UMIRROR_WRITE);
	KUNIT_ASSERT_EQ(test, umirror_pin_bvec(&um, addr, HPAGE_PMD_SIZE, true,
					       bv, ARRAY_SIZE(bv), &nr), 0);
	folio = page_folio(bv[0].bv_page);
	if (folio_order(folio) != HPAGE_PMD_ORDER) {
		umirror_unpin_bvec(bv, nr, false);
		umirror_fini(&um);
		kunit_skip(test, "no THP could be allocated");
	}
	KUNIT_EXPECT_EQ(test, nr, 1);
	KUNIT_EXPECT_EQ(test, bv[0].bv_len, HPAGE_PMD_SIZE);
	KUNIT_EXPECT_EQ(test, bv[0].bv_offset, 0);
	pincount = folio_maybe_dma_pinned(folio) ? atomic_read(&folio->_pincount) : 0;
	KUNIT_EXPECT_EQ(test, pincount, HPAGE_PMD_NR);
	KUNIT_EXPECT_EQ(test, pins_outstanding() - outstanding, HPAGE_PMD_NR);

	/* An unaligned span of the same folio: still one bvec. */
	umirror_unpin_bvec(bv, nr, true);
	KUNIT_ASSERT_EQ(test, umirror_pin_bvec(&um, addr + 100, SZ_64K, false,
					       bv, ARRAY_SIZE(bv), &nr), 0);
	KUNIT_EXPECT_EQ(test, nr, 1);
	KUNIT_EXPECT_EQ(test, bv[0].bv_offset, 100);
	KUNIT_EXPECT_EQ(test, bv[0].bv_len, SZ_64K);
	umirror_unpin_bvec(bv, nr, false);

	KUNIT_EXPECT_EQ(test, atomic_read(&folio->_pincount), 0);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), outstanding);
	umirror_fini(&um);
}

/*
 * Case 4b: a PMD split between fault and pin. The mirror faulted the THP
 * as one PMD mapping; zapping its last page splits the PMD and invalidates
 * the whole 2 MiB, so the pin refaults and takes exactly the pages the
 * process maps now, one bvec for the 511 pages left, counted page by page.
 */
static void umirror_test_thp_split_before_pin(struct kunit *test)
{
	unsigned long addr = map_thp(test);
	unsigned long outstanding = pins_outstanding();
	const size_t span = HPAGE_PMD_SIZE - PAGE_SIZE;
	struct page *first, *last;
	struct umirror_stats stats;
	struct bio_vec bv[4];
	unsigned int nr;
	struct umirror um;

	init_mirror(test, &um, addr, HPAGE_PMD_SIZE, UMIRROR_WRITE);
	KUNIT_ASSERT_EQ(test, umirror_fault(&um, addr, HPAGE_PMD_SIZE, true), 0);
	KUNIT_ASSERT_EQ(test, get_user_pages_fast(addr, 1, 0, &first), 1);
	if (folio_order(page_folio(first)) != HPAGE_PMD_ORDER) {
		put_page(first);
		umirror_fini(&um);
		kunit_skip(test, "no THP could be allocated");
	}
	put_page(first);

	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, addr + span, PAGE_SIZE,
					 MADV_DONTNEED), 0);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.pages_invalidated, HPAGE_PMD_NR);
	KUNIT_ASSERT_EQ(test, umirror_pin_bvec(&um, addr, span, false, bv,
					       ARRAY_SIZE(bv), &nr), 0);
	KUNIT_EXPECT_EQ(test, nr, 1);
	KUNIT_EXPECT_EQ(test, bv[0].bv_len, span);
	KUNIT_EXPECT_EQ(test, pins_outstanding() - outstanding, HPAGE_PMD_NR - 1);
	KUNIT_ASSERT_EQ(test, get_user_pages_fast(addr, 1, 0, &first), 1);
	KUNIT_ASSERT_EQ(test, get_user_pages_fast(addr + span - PAGE_SIZE, 1, 0,
						  &last), 1);
	KUNIT_EXPECT_PTR_EQ(test, bv[0].bv_page, first);
	KUNIT_EXPECT_PTR_EQ(test, nth_page(bv[0].bv_page, HPAGE_PMD_NR - 2), last);
	put_page(first);
	put_page(last);
	umirror_unpin_bvec(bv, nr, false);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), outstanding);
	umirror_fini(&um);
}

#endif

/* Case 4 on small pages: one bvec per page, -E2BIG leaves nothing pinned. */
static void umirror_test_pin_small_pages(struct kunit *test)
{
	const size_t size = 8 * PAGE_SIZE;
	unsigned long addr = map_anon(test, size, PROT_READ | PROT_WRITE);
	unsigned long outstanding = pins_outstanding();
	u8 *pattern = alloc_pattern(test, size, 9);
	struct bio_vec bv[8];
	struct umirror um;
	unsigned int nr, i;

	small_pages_only(test, addr, size);
	fill_user(test, addr, pattern, size);
	init_mirror(test, &um, addr, size, UMIRROR_WRITE);
	KUNIT_ASSERT_EQ(test, umirror_pin_bvec(&um, addr + 10, size - 20, false,
					       bv, ARRAY_SIZE(bv), &nr), 0);
	KUNIT_EXPECT_EQ(test, nr, 8);
	/* As GUP: fork must now copy pinned anonymous pages. */
	KUNIT_EXPECT_TRUE(test, test_bit(MMF_HAS_PINNED, &current->mm->flags));
	for (i = 0; i < nr; i++) {
		u8 *kaddr = kmap_local_page(bv[i].bv_page);

		KUNIT_EXPECT_MEMEQ(test, kaddr + bv[i].bv_offset,
				   pattern + i * PAGE_SIZE + bv[i].bv_offset,
				   bv[i].bv_len);
		kunmap_local(kaddr);
	}
	KUNIT_EXPECT_EQ(test, pins_outstanding() - outstanding, 8);
	umirror_unpin_bvec(bv, nr, false);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), outstanding);

	KUNIT_EXPECT_EQ(test, umirror_pin_bvec(&um, addr, size, false, bv, 3, &nr),
			-E2BIG);
	KUNIT_EXPECT_EQ(test, nr, 0);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), outstanding);
	umirror_fini(&um);
}

/*
 * Case 4, cache layout: the pfn cache is allocated a chunk (2 MiB of range
 * with 4 KiB pages) at a time on first use, so a 1 GiB mirror costs a page
 * of chunk pointers until then; a span across a chunk boundary, pinned in
 * more runs than one lock hold takes, holds exactly the process's data.
 */
static void umirror_test_lazy_cache(struct kunit *test)
{
	const size_t chunk_span = PAGE_SIZE / sizeof(unsigned long) * PAGE_SIZE;
	const size_t size = SZ_1G, span = 64 * PAGE_SIZE;
	const size_t pointers = size / chunk_span * sizeof(unsigned long *);
	unsigned long addr = map_anon(test, size, PROT_READ | PROT_WRITE);
	unsigned long at = addr + chunk_span - span / 2;
	unsigned long outstanding = pins_outstanding();
	u8 *pattern = alloc_pattern(test, span, 3);
	u8 *buf = kunit_vzalloc(test, span);
	unsigned int nr_bv = span / PAGE_SIZE, nr, i;
	struct bio_vec *bv = kunit_kcalloc(test, nr_bv, sizeof(*bv), GFP_KERNEL);
	struct umirror_stats stats;
	struct umirror um;

	KUNIT_ASSERT_NOT_NULL(test, bv);
	small_pages_only(test, at, span);
	fill_user(test, at, pattern, span);
	init_mirror(test, &um, addr, size, 0);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.cache_bytes, pointers);

	KUNIT_ASSERT_EQ(test, umirror_read(&um, buf, at, span), 0);
	KUNIT_EXPECT_MEMEQ(test, buf, pattern, span);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.cache_bytes, pointers + 2 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, stats.pages_faulted, span >> PAGE_SHIFT);

	KUNIT_ASSERT_EQ(test, umirror_pin_bvec(&um, at, span, false, bv, nr_bv,
					       &nr), 0);
	KUNIT_EXPECT_EQ(test, nr, nr_bv);
	for (i = 0; i < nr; i++) {
		u8 *kaddr = kmap_local_page(bv[i].bv_page);

		KUNIT_EXPECT_MEMEQ(test, kaddr, pattern + i * PAGE_SIZE, PAGE_SIZE);
		kunmap_local(kaddr);
	}
	KUNIT_EXPECT_EQ(test, pins_outstanding() - outstanding, nr_bv);
	umirror_unpin_bvec(bv, nr, false);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), outstanding);

	/* Unused chunks are skipped; the used ones lose exactly their pages. */
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, addr, size, MADV_DONTNEED), 0);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.pages_invalidated, span >> PAGE_SHIFT);
	KUNIT_ASSERT_EQ(test, umirror_read(&um, buf, at, span), 0);
	KUNIT_EXPECT_PTR_EQ(test, memchr_inv(buf, 0, span), NULL);
	umirror_fini(&um);
}

/* Case 5: what the mirror refuses, and with which errno. */
static void umirror_test_refusals(struct kunit *test)
{
	unsigned long addr = map_anon(test, 4 * PAGE_SIZE, PROT_READ | PROT_WRITE);
	unsigned long none = map_anon(test, PAGE_SIZE, PROT_NONE);
	unsigned long ro = map_anon(test, PAGE_SIZE, PROT_READ);
	unsigned long pfnmap = map_anon(test, PAGE_SIZE, PROT_READ | PROT_WRITE);
	struct vm_area_struct *vma;
	struct bio_vec bv[1];
	struct umirror um;
	unsigned int nr;
	u8 buf[8];

	/* Bad arguments. */
	KUNIT_EXPECT_EQ(test, umirror_init(&um, current->mm, addr, 0, 0), -EINVAL);
	KUNIT_EXPECT_EQ(test, umirror_init(&um, current->mm, ULONG_MAX - 10, 100, 0),
			-EINVAL);
	KUNIT_EXPECT_EQ(test, umirror_init(&um, current->mm, addr, PAGE_SIZE,
					   UMIRROR_FLAGS + 1), -EINVAL);
	KUNIT_EXPECT_EQ(test, umirror_init(&um, current->mm,
					   current->mm->task_size - PAGE_SIZE,
					   2 * PAGE_SIZE, 0), -EINVAL);

	/* A hole: the middle pages are unmapped. */
	KUNIT_ASSERT_EQ(test, vm_munmap(addr + PAGE_SIZE, 2 * PAGE_SIZE), 0);
	init_mirror(test, &um, addr, 4 * PAGE_SIZE, 0);
	KUNIT_EXPECT_EQ(test, umirror_check(&um), -EFAULT);
	KUNIT_EXPECT_EQ(test, umirror_read(&um, buf, addr, 8), 0);
	KUNIT_EXPECT_EQ(test, umirror_read(&um, buf, addr + PAGE_SIZE, 8), -EFAULT);
	KUNIT_EXPECT_EQ(test, umirror_pin_bvec(&um, addr, 2 * PAGE_SIZE, false,
					       bv, 1, &nr), -EFAULT);
	umirror_fini(&um);

	/* PROT_NONE. */
	init_mirror(test, &um, none, PAGE_SIZE, 0);
	KUNIT_EXPECT_EQ(test, umirror_check(&um), -EFAULT);
	KUNIT_EXPECT_EQ(test, umirror_read(&um, buf, none, 8), -EFAULT);
	umirror_fini(&um);

	/* Read-only memory: readable and pinnable for reading, not for writing. */
	init_mirror(test, &um, ro, PAGE_SIZE, 0);
	KUNIT_EXPECT_EQ(test, umirror_check(&um), 0);
	umirror_fini(&um);
	init_mirror(test, &um, ro, PAGE_SIZE, UMIRROR_WRITE);
	KUNIT_EXPECT_EQ(test, umirror_check(&um), -EFAULT);
	KUNIT_EXPECT_EQ(test, umirror_read(&um, buf, ro, 8), 0);
	KUNIT_EXPECT_EQ(test, umirror_write(&um, ro, buf, 8), -EFAULT);
	KUNIT_EXPECT_EQ(test, umirror_pin_bvec(&um, ro, 8, true, bv, 1, &nr), -EFAULT);
	KUNIT_EXPECT_EQ(test, umirror_pin_bvec(&um, ro, 8, false, bv, 1, &nr), 0);
	umirror_unpin_bvec(bv, nr, false);
	umirror_fini(&um);

	/*
	 * VM_PFNMAP, flagged as remap_pfn_range() flags a driver's mapping:
	 * no struct page behind it to copy through or pin.
	 */
	mmap_write_lock(current->mm);
	vma = vma_lookup(current->mm, pfnmap);
	KUNIT_ASSERT_NOT_NULL(test, vma);
	vm_flags_set(vma, VM_PFNMAP | VM_IO | VM_DONTEXPAND | VM_DONTDUMP);
	mmap_write_unlock(current->mm);
	init_mirror(test, &um, pfnmap, PAGE_SIZE, 0);
	KUNIT_EXPECT_EQ(test, umirror_check(&um), -EFAULT);
	KUNIT_EXPECT_EQ(test, umirror_read(&um, buf, pfnmap, 8), -EFAULT);
	KUNIT_EXPECT_EQ(test, umirror_pin_bvec(&um, pfnmap, 8, false, bv, 1, &nr),
			-EFAULT);
	umirror_fini(&um);
}

/* Case 6: a write through the mirror into a MAP_SHARED tmpfs file. */
static void umirror_test_shared_file(struct kunit *test)
{
	const size_t size = 4 * PAGE_SIZE;
	u8 *pattern = alloc_pattern(test, size, 21);
	u8 *buf = kunit_vzalloc(test, size);
	struct umirror um;
	struct file *file;
	unsigned long addr;
	loff_t pos = 0;

	file = shmem_file_setup("umirror-kunit", size, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR(file));
	addr = kunit_vm_mmap(test, file, 0, size, PROT_READ | PROT_WRITE,
			     MAP_SHARED, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(addr));
	KUNIT_ASSERT_NE(test, addr, 0);

	init_mirror(test, &um, addr, size, UMIRROR_WRITE);
	KUNIT_ASSERT_EQ(test, umirror_write(&um, addr + 3, pattern, size - 3), 0);
	KUNIT_ASSERT_EQ(test, kernel_read(file, buf, size, &pos), size);
	KUNIT_EXPECT_MEMEQ(test, buf + 3, pattern, size - 3);

	/* Dropping the mapping's pages keeps the file's data. */
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, addr, size, MADV_DONTNEED), 0);
	memset(buf, 0, size);
	KUNIT_ASSERT_EQ(test, umirror_read(&um, buf, addr + 3, size - 3), 0);
	KUNIT_EXPECT_MEMEQ(test, buf, pattern, size - 3);
	umirror_fini(&um);
	fput(file);
}

struct churn {
	struct mm_struct *mm;
	unsigned long addr;
	unsigned int npages;
};

static int churn_thread(void *data)
{
	struct churn *c = data;
	unsigned int i, page;

	kthread_use_mm(c->mm);
	for (i = 0; !kthread_should_stop(); i++) {
		page = get_random_u32_below(c->npages);
		if (i % 32) {
			do_madvise(c->mm, c->addr + page * PAGE_SIZE, PAGE_SIZE,
				   MADV_DONTNEED);
		} else {
			test_mprotect(c->mm, c->addr, c->npages * PAGE_SIZE, VM_READ);
			test_mprotect(c->mm, c->addr, c->npages * PAGE_SIZE,
				      VM_READ | VM_WRITE);
		}
		cond_resched();
	}
	kthread_unuse_mm(c->mm);
	return 0;
}

/*
 * Case 7: copies and pins while another thread invalidates the same range
 * (MADV_DONTNEED of single pages, mprotect() read-only and back). A write
 * succeeds, or fails with -EFAULT while the range is read-only; a page read
 * back after a successful write is what was written or a fresh zero page
 * (the other thread dropped it), never anything else. At the end the mirror
 * and the process agree, and pins are balanced. KASAN and lockdep watch.
 */
static void umirror_test_concurrent_invalidation(struct kunit *test)
{
	const unsigned int npages = 64;
	const size_t size = npages * PAGE_SIZE;
	unsigned long addr = map_anon(test, size, PROT_READ | PROT_WRITE);
	unsigned long outstanding = pins_outstanding();
	u8 *buf = kunit_vzalloc(test, PAGE_SIZE);
	u8 *all = kunit_vzalloc(test, size);
	u8 *view = kunit_vzalloc(test, size);
	struct churn c = { current->mm, addr, npages };
	struct umirror_stats stats;
	struct task_struct *thread;
	struct bio_vec bv[4];
	unsigned int i, j, nr, page, bad = 0, refused = 0, dropped = 0;
	struct umirror um;
	bool write;
	int ret;
	u8 gen;

	init_mirror(test, &um, addr, size, UMIRROR_WRITE);
	mmgrab(c.mm);
	thread = kthread_run(churn_thread, &c, "umirror-churn");
	KUNIT_ASSERT_FALSE(test, IS_ERR(thread));

	for (i = 0; i < 3000; i++) {
		page = i % npages;
		gen = 1 + i % 251;
		memset(buf, gen, PAGE_SIZE);
		ret = umirror_write(&um, addr + page * PAGE_SIZE, buf, PAGE_SIZE);
		KUNIT_ASSERT_TRUE(test, ret == 0 || ret == -EFAULT);
		refused += ret == -EFAULT;
		KUNIT_ASSERT_EQ(test, umirror_read(&um, buf, addr + page * PAGE_SIZE,
						   PAGE_SIZE), 0);
		for (j = 0; !ret && j < PAGE_SIZE; j++)
			bad += buf[j] != gen && buf[j] != 0;
		dropped += !ret && buf[0] == 0;
		write = i & 1;
		ret = umirror_pin_bvec(&um, addr + page * PAGE_SIZE, PAGE_SIZE,
				       write, bv, ARRAY_SIZE(bv), &nr);
		KUNIT_ASSERT_TRUE(test, ret == 0 || (write && ret == -EFAULT));
		if (!ret)
			umirror_unpin_bvec(bv, nr, write);
		cond_resched();
	}
	kthread_stop(thread);
	mmdrop(c.mm);

	KUNIT_EXPECT_EQ(test, bad, 0);
	umirror_get_stats(&um, &stats);
	kunit_info(test, "%llu invalidations; %u writes refused while read-only, %u pages dropped before read back",
		   stats.invalidations, refused, dropped);
	/* The other thread really ran against this one. */
	KUNIT_EXPECT_GT(test, stats.invalidations, 100);
	KUNIT_ASSERT_EQ(test, umirror_read(&um, all, addr, size), 0);
	read_user(test, view, addr, size);
	KUNIT_EXPECT_MEMEQ(test, all, view, size);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), outstanding);
	umirror_fini(&um);
}

/* Run one batch of @fn, faulting and retrying on misses; return tries. */
static int batch_retry(struct umirror *um, int (*fn)(struct umirror_batch *b, void *arg),
		       void *arg, unsigned int *tries)
{
	struct umirror_batch b;
	int ret;

	do {
		(*tries)++;
		umirror_batch_begin(um, &b);
		fn(&b, arg);
		ret = umirror_batch_end(&b);
	} while (ret == -EAGAIN && !(ret = umirror_batch_fault(&b)));
	return ret;
}

struct batch_args {
	unsigned long at;
	u8 *buf;
	size_t len;
};

static int batch_write_and_bit(struct umirror_batch *b, void *arg)
{
	struct batch_args *a = arg;

	umirror_batch_write(b, a->at, a->buf, a->len);
	return umirror_batch_set_bit(b, a->at + a->len + 8, 3);
}

/*
 * A batch: many small accesses in one lock hold, misses recorded and
 * faulted outside it, the first error sticky, the work a hold may do
 * bounded, single-copy-atomic values, and the pages refaulted after an
 * invalidation between batches.
 */
static void umirror_test_batch(struct kunit *test)
{
	const size_t size = 3 * PAGE_SIZE;
	unsigned long addr = map_anon(test, size, PROT_READ | PROT_WRITE);
	unsigned long fresh = map_anon(test, PAGE_SIZE, PROT_READ | PROT_WRITE);
	u8 *pattern = alloc_pattern(test, size, 5);
	u8 *page = kunit_vzalloc(test, 2 * PAGE_SIZE);
	unsigned long at = addr + 2 * PAGE_SIZE - 32;
	struct batch_args args;
	struct umirror_batch b;
	struct umirror um, *um2;
	unsigned int tries = 0, i, bad;
	u8 buf[64];
	u64 val;

	pattern[2 * PAGE_SIZE + 40] = 0;
	fill_user(test, addr, pattern, size);
	init_mirror(test, &um, addr, size, UMIRROR_WRITE);

	/* Nothing faulted into the mirror yet: a miss, recorded, sticky. */
	umirror_batch_begin(&um, &b);
	KUNIT_EXPECT_EQ(test, umirror_batch_read(&b, buf, addr + PAGE_SIZE - 8, 16), -EAGAIN);
	KUNIT_EXPECT_EQ(test, umirror_batch_read(&b, buf, addr + 100, 8), -EAGAIN);
	KUNIT_EXPECT_EQ(test, umirror_batch_end(&b), -EAGAIN);
	KUNIT_EXPECT_EQ(test, b.miss_addr, addr + PAGE_SIZE - 8);
	KUNIT_EXPECT_EQ(test, b.miss_len, 16);
	KUNIT_ASSERT_EQ(test, umirror_batch_fault(&b), 0);

	/* Several reads in one hold, one across a page boundary. */
	umirror_batch_begin(&um, &b);
	umirror_batch_read(&b, buf, addr + PAGE_SIZE - 8, 16);
	umirror_batch_read(&b, buf + 16, addr + 100, 8);
	KUNIT_EXPECT_EQ(test, umirror_batch_end(&b), 0);
	KUNIT_EXPECT_MEMEQ(test, buf, pattern + PAGE_SIZE - 8, 16);
	KUNIT_EXPECT_MEMEQ(test, buf + 16, pattern + 100, 8);

	/*
	 * A write across into page 2 and a bit in a cleared byte of it, as a
	 * used ring and a dirty log: page 2 misses once, and the write's first
	 * half, made before the miss, has taken effect by then.
	 */
	memset(buf, 0xab, 64);
	args = (struct batch_args){ at, buf, 64 };
	KUNIT_EXPECT_EQ(test, batch_retry(&um, batch_write_and_bit, &args, &tries), 0);
	KUNIT_EXPECT_GE(test, tries, 2);
	/* Pages 1 and 2: the write, the bit, and the pattern elsewhere. */
	read_user(test, page, addr + PAGE_SIZE, 2 * PAGE_SIZE);
	KUNIT_EXPECT_MEMEQ(test, page + PAGE_SIZE - 32, buf, 64);
	KUNIT_EXPECT_TRUE(test, test_bit(3 + 40 * BITS_PER_BYTE,
					 (unsigned long *)(page + PAGE_SIZE)));
	for (i = 0, bad = 0; i < 2 * PAGE_SIZE; i++)
		if ((i < PAGE_SIZE - 32 || i >= PAGE_SIZE + 32) && i != PAGE_SIZE + 40)
			bad += page[i] != pattern[PAGE_SIZE + i];
	KUNIT_EXPECT_EQ(test, bad, 0);
#ifdef __LITTLE_ENDIAN
	KUNIT_EXPECT_EQ(test, page[PAGE_SIZE + 40], (u8)BIT(3));
#endif

	/* Values, whole: aligned, of 1, 2, 4 or 8 bytes only. */
	umirror_batch_begin(&um, &b);
	umirror_batch_put(&b, addr + 2, 0xbeef, 2);
	umirror_batch_get(&b, addr + 2, &val, 2);
	KUNIT_EXPECT_EQ(test, umirror_batch_end(&b), 0);
	KUNIT_EXPECT_EQ(test, val, 0xbeef);
	umirror_batch_begin(&um, &b);
	KUNIT_EXPECT_EQ(test, umirror_batch_get(&b, addr + 1, &val, 2), -EINVAL);
	umirror_batch_end(&b);
	umirror_batch_begin(&um, &b);
	KUNIT_EXPECT_EQ(test, umirror_batch_get(&b, addr, &val, 3), -EINVAL);
	umirror_batch_end(&b);

	/* The first error sticks: later accesses do nothing and fail alike. */
	umirror_batch_begin(&um, &b);
	KUNIT_EXPECT_EQ(test, umirror_batch_read(&b, buf, addr + size - 4, 8), -EFAULT);
	KUNIT_EXPECT_EQ(test, umirror_batch_put(&b, addr, 0x55, 1), -EFAULT);
	KUNIT_EXPECT_EQ(test, umirror_batch_end(&b), -EFAULT);
	read_user(test, buf, addr, 1);
	KUNIT_EXPECT_EQ(test, buf[0], pattern[0]);
	umirror_batch_begin(&um, &b);
	KUNIT_EXPECT_EQ(test, umirror_batch_set_bit(&b, addr, BITS_PER_BYTE), -EINVAL);
	KUNIT_EXPECT_EQ(test, umirror_batch_end(&b), -EINVAL);

	/* The bound: exactly UMIRROR_BATCH_BYTES, and 16 at least an access. */
	umirror_batch_begin(&um, &b);
	umirror_batch_read(&b, page, addr, 100);
	KUNIT_EXPECT_EQ(test, umirror_batch_read(&b, page, addr, UMIRROR_BATCH_BYTES - 100), 0);
	KUNIT_EXPECT_EQ(test, umirror_batch_read(&b, page, addr, 1), -E2BIG);
	umirror_batch_end(&b);
	umirror_batch_begin(&um, &b);
	for (i = 0; i < UMIRROR_BATCH_BYTES / 16; i++)
		umirror_batch_get(&b, addr, &val, 1);
	KUNIT_EXPECT_EQ(test, b.err, 0);
	KUNIT_EXPECT_EQ(test, umirror_batch_get(&b, addr, &val, 1), -E2BIG);
	umirror_batch_end(&b);

	/* Invalidated between two batches: the next one misses, then sees zeros. */
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, addr, PAGE_SIZE, MADV_DONTNEED), 0);
	umirror_batch_begin(&um, &b);
	umirror_batch_read(&b, buf, addr + 100, 8);
	KUNIT_EXPECT_EQ(test, umirror_batch_end(&b), -EAGAIN);
	KUNIT_ASSERT_EQ(test, umirror_batch_fault(&b), 0);
	umirror_batch_begin(&um, &b);
	umirror_batch_read(&b, buf, addr + 100, 8);
	KUNIT_EXPECT_EQ(test, umirror_batch_end(&b), 0);
	KUNIT_EXPECT_TRUE(test, !memchr_inv(buf, 0, 8));
	umirror_fini(&um);

	/* A valid read-only entry (the zero page): reads hit, writes miss. */
	/* On the heap: two mirrors would make the frame too large. */
	um2 = kunit_kzalloc(test, sizeof(*um2), GFP_KERNEL);
	KUNIT_ASSERT_NOT_NULL(test, um2);
	init_mirror(test, um2, fresh, PAGE_SIZE, UMIRROR_WRITE);
	KUNIT_ASSERT_EQ(test, umirror_fault(um2, fresh, PAGE_SIZE, false), 0);
	umirror_batch_begin(um2, &b);
	KUNIT_EXPECT_EQ(test, umirror_batch_get(&b, fresh, &val, 8), 0);
	KUNIT_EXPECT_EQ(test, umirror_batch_put(&b, fresh, 1, 8), -EAGAIN);
	umirror_batch_end(&b);
	KUNIT_EXPECT_TRUE(test, b.miss_write);
	umirror_fini(um2);
}

struct batch_zap {
	struct mm_struct *mm;
	unsigned long addr;
	atomic_t done;
};

static int batch_zap_thread(void *data)
{
	struct batch_zap *z = data;

	kthread_use_mm(z->mm);
	do_madvise(z->mm, z->addr, PAGE_SIZE, MADV_DONTNEED);
	kthread_unuse_mm(z->mm);
	atomic_set(&z->done, 1);
	return 0;
}

/*
 * An invalidation waits for the end of a batch: a zap started while a
 * batch holds the page has not finished 100 ms later, the batch still
 * reads the old data, and the next batch misses.
 */
static void umirror_test_batch_holds(struct kunit *test)
{
	unsigned long addr = map_anon(test, PAGE_SIZE, PROT_READ | PROT_WRITE);
	struct batch_zap z = { current->mm, addr, ATOMIC_INIT(0) };
	struct task_struct *thread;
	struct umirror_batch b;
	struct umirror um;
	bool waited;
	u64 val;

	fill_user(test, addr, "\x42\x42\x42\x42\x42\x42\x42\x42", 8);
	init_mirror(test, &um, addr, PAGE_SIZE, UMIRROR_WRITE);
	KUNIT_ASSERT_EQ(test, umirror_fault(&um, addr, PAGE_SIZE, true), 0);
	mmgrab(z.mm);

	thread = kthread_create(batch_zap_thread, &z, "umirror-zap");
	if (IS_ERR(thread)) {
		mmdrop(z.mm);
		KUNIT_FAIL(test, "kthread_create: %ld", PTR_ERR(thread));
		umirror_fini(&um);
		return;
	}

	umirror_batch_begin(&um, &b);
	umirror_batch_get(&b, addr, &val, 8);
	wake_up_process(thread);
	mdelay(100);
	waited = !atomic_read(&z.done);
	umirror_batch_get(&b, addr, &val, 8);
	KUNIT_EXPECT_EQ(test, umirror_batch_end(&b), 0);
	KUNIT_EXPECT_TRUE(test, waited);
	KUNIT_EXPECT_EQ(test, val, 0x4242424242424242ULL);
	while (!atomic_read(&z.done))
		msleep(20);
	mmdrop(z.mm);

	umirror_batch_begin(&um, &b);
	KUNIT_EXPECT_EQ(test, umirror_batch_get(&b, addr, &val, 8), -EAGAIN);
	umirror_batch_end(&b);
	umirror_fini(&um);
}

static u64 invalidations(struct umirror *um)
{
	struct umirror_stats stats;

	umirror_get_stats(um, &stats);
	return stats.invalidations;
}

/*
 * Batches while another thread invalidates the same pages (single-page
 * MADV_DONTNEED, mprotect() read-only and back): a write and a read back
 * of 64 bytes across a page boundary in one batch always agree; a batch
 * that misses faults and retries, and a write refused while the range is
 * read-only ends with -EFAULT.
 */
static void umirror_test_batch_concurrent(struct kunit *test)
{
	const unsigned int npages = 16;
	const size_t size = npages * PAGE_SIZE;
	unsigned long addr = map_anon(test, size, PROT_READ | PROT_WRITE);
	u8 *all = kunit_vzalloc(test, size);
	u8 *view = kunit_vzalloc(test, size);
	struct churn c = { current->mm, addr, npages };
	unsigned int i, bad = 0, refused = 0, retries = 0, odd = 0;
	struct umirror_stats stats;
	struct task_struct *thread;
	struct umirror_batch b;
	unsigned long at;
	struct umirror um;
	u8 val[64], got[64];
	int ret;

	init_mirror(test, &um, addr, size, UMIRROR_WRITE);
	mmgrab(c.mm);
	thread = kthread_run(churn_thread, &c, "umirror-churn");
	KUNIT_ASSERT_FALSE(test, IS_ERR(thread));

	/*
	 * 3000 batches at least, and on until the other thread has
	 * invalidated the pages 200 times (however fast the batches run),
	 * within a bound.
	 */
	for (i = 0; i < 3000 || (i < 300000 && invalidations(&um) < 200); i++) {
		at = addr + (1 + i % (npages - 1)) * PAGE_SIZE - 32;
		memset(val, 1 + i % 251, sizeof(val));
		for (;;) {
			umirror_batch_begin(&um, &b);
			umirror_batch_write(&b, at, val, sizeof(val));
			umirror_batch_read(&b, got, at, sizeof(got));
			ret = umirror_batch_end(&b);
			if (ret != -EAGAIN)
				break;
			retries++;
			ret = umirror_batch_fault(&b);
			if (ret)
				break;
		}
		if (ret && ret != -EFAULT) {
			odd++;
			break;
		}
		refused += ret == -EFAULT;
		bad += !ret && memcmp(got, val, sizeof(val));
		cond_resched();
	}
	kthread_stop(thread);
	mmdrop(c.mm);

	KUNIT_EXPECT_EQ(test, odd, 0);
	KUNIT_EXPECT_EQ(test, bad, 0);
	umirror_get_stats(&um, &stats);
	kunit_info(test, "%llu invalidations; %u batches missed and retried, %u writes refused while read-only",
		   stats.invalidations, retries, refused);
	KUNIT_EXPECT_GT(test, stats.invalidations, 100);
	KUNIT_EXPECT_GT(test, retries, 0);
	KUNIT_ASSERT_EQ(test, umirror_read(&um, all, addr, size), 0);
	read_user(test, view, addr, size);
	KUNIT_EXPECT_MEMEQ(test, all, view, size);
	umirror_fini(&um);
}

/* Case 8: the mirror outlives its mm. */
static void umirror_test_outlives_mm(struct kunit *test)
{
	struct umirror um;
	struct mm_struct *mm;
	unsigned long addr;
	u8 buf[16] = { 1, 2, 3 };
	struct bio_vec bv[1];
	unsigned int nr;

	KUNIT_ASSERT_NULL(test, current->mm);
	mm = mm_alloc();
	KUNIT_ASSERT_NOT_NULL(test, mm);
	mm->task_size = TASK_SIZE;
	arch_pick_mmap_layout(mm, &current->signal->rlim[RLIMIT_STACK]);
	kthread_use_mm(mm);
	addr = vm_mmap(NULL, 0, PAGE_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(addr));
	KUNIT_ASSERT_EQ(test, umirror_init(&um, mm, addr, PAGE_SIZE, UMIRROR_WRITE), 0);
	KUNIT_EXPECT_EQ(test, umirror_write(&um, addr, buf, sizeof(buf)), 0);
	kthread_unuse_mm(mm);
	mmput(mm);	/* the last user: the address space is torn down */

	KUNIT_EXPECT_EQ(test, umirror_check(&um), -ESRCH);
	KUNIT_EXPECT_EQ(test, umirror_read(&um, buf, addr, sizeof(buf)), -ESRCH);
	KUNIT_EXPECT_EQ(test, umirror_pin_bvec(&um, addr, 8, false, bv, 1, &nr),
			-ESRCH);
	umirror_fini(&um);
}

struct far_churn {
	struct mm_struct *mm;
	unsigned long addr;
	unsigned int npages;
	unsigned long rounds;
};

/* MADV_DONTNEED of single pages of [addr, addr + npages), as fast as it goes. */
static int far_churn_thread(void *data)
{
	struct far_churn *c = data;

	kthread_use_mm(c->mm);
	while (!kthread_should_stop()) {
		do_madvise(c->mm, c->addr + get_random_u32_below(c->npages) * PAGE_SIZE,
			   PAGE_SIZE, MADV_DONTNEED);
		c->rounds++;
	}
	kthread_unuse_mm(c->mm);
	return 0;
}

/*
 * Case 9: invalidations elsewhere in a large mirror never fail an access.
 * Another thread zaps pages in the upper half of a 1 GiB mirror without
 * pause, while this one zaps and faults 2 MiB at its start, over and over:
 * each fault must succeed (GUP and uaccess never say -EBUSY). A regression
 * guard: a mirror that checked one sequence for the whole range passed it
 * too here, retrying until the other thread left it a gap.
 */
static void umirror_test_no_spurious_ebusy(struct kunit *test)
{
	const size_t size = SZ_1G, part = SZ_2M;
	unsigned long addr = kunit_vm_mmap(test, NULL, 0, size,
					   PROT_READ | PROT_WRITE,
					   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, 0);
	struct far_churn *c = kunit_kzalloc(test, sizeof(*c), GFP_KERNEL);
	u8 *buf = kunit_vzalloc(test, PAGE_SIZE);
	unsigned int i, failed = 0;
	struct task_struct *thread;
	struct umirror_stats stats;
	struct umirror um;
	int ret, last_err = 0;

	if (num_online_cpus() < 2)
		kunit_skip(test, "needs a second CPU for the other thread");
	KUNIT_ASSERT_NOT_NULL(test, c);
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(addr));
	KUNIT_ASSERT_NE(test, addr, 0);
	*c = (struct far_churn){ current->mm, addr + size / 2, size / 2 / PAGE_SIZE };
	init_mirror(test, &um, addr, size, UMIRROR_WRITE);
	mmgrab(c->mm);
	thread = kthread_run(far_churn_thread, c, "umirror-far-churn");
	if (IS_ERR(thread)) {
		mmdrop(c->mm);
		umirror_fini(&um);
		KUNIT_FAIL(test, "no churn thread: %ld", PTR_ERR(thread));
		return;
	}

	/* No assertion until the thread is stopped: it uses this mm. */
	for (i = 0; i < 40; i++) {
		KUNIT_EXPECT_EQ(test, do_madvise(current->mm, addr, part,
						 MADV_DONTNEED), 0);
		ret = umirror_fault(&um, addr, part, i & 1);
		if (!ret)
			ret = umirror_read(&um, buf, addr + part - PAGE_SIZE, PAGE_SIZE);
		if (ret) {
			failed++;
			last_err = ret;
		}
	}
	kthread_stop(thread);
	mmdrop(c->mm);
	umirror_get_stats(&um, &stats);
	kunit_info(test, "%u of %u faults failed (last %d); %lu zaps elsewhere, %llu invalidations",
		   failed, i, last_err, c->rounds, stats.invalidations);
	KUNIT_EXPECT_EQ(test, failed, 0);
	/* The other thread really ran against this one. */
	KUNIT_EXPECT_GT(test, c->rounds, 0);
	umirror_fini(&um);
}

/* Set @flags on the VMA at @addr, as the kernel would for such a mapping. */
static void set_vma_flags(struct kunit *test, unsigned long addr,
			  vm_flags_t flags)
{
	struct vm_area_struct *vma;

	mmap_write_lock(current->mm);
	vma = vma_lookup(current->mm, addr);
	KUNIT_ASSERT_NOT_NULL(test, vma);
	vm_flags_set(vma, flags);
	mmap_write_unlock(current->mm);
}

/*
 * Case 10: a shadow stack is VM_WRITE, but GUP's check_vma_flags() refuses
 * writes to it; so must a mirror, at check time and on access, also after
 * a read cached a page whose PTE is writable (the CPU wrote it). Reads
 * are allowed, as GUP allows them.
 */
static void umirror_test_shadow_stack(struct kunit *test)
{
	unsigned long addr = map_anon(test, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE);
	struct bio_vec bv[1];
	struct umirror um;
	unsigned int nr;
	u8 buf[8] = { 7 };

	if (VM_SHADOW_STACK == VM_NONE)
		kunit_skip(test, "no CONFIG_X86_USER_SHADOW_STACK");
	/* The second page has a writable, dirty PTE, as a used stack has. */
	fill_user(test, addr + PAGE_SIZE, buf, sizeof(buf));
	set_vma_flags(test, addr, VM_SHADOW_STACK);
	init_mirror(test, &um, addr, 2 * PAGE_SIZE, UMIRROR_WRITE);
	KUNIT_EXPECT_EQ(test, umirror_check(&um), -EFAULT);
	KUNIT_EXPECT_EQ(test, umirror_write(&um, addr, buf, sizeof(buf)), -EFAULT);
	KUNIT_EXPECT_EQ(test, umirror_pin_bvec(&um, addr, 8, true, bv, 1, &nr), -EFAULT);
	KUNIT_EXPECT_EQ(test, umirror_read(&um, buf, addr, sizeof(buf)), 0);
	KUNIT_EXPECT_EQ(test, umirror_pin_bvec(&um, addr, 8, false, bv, 1, &nr), 0);
	umirror_unpin_bvec(bv, nr, false);
	/* A read caches the written page; a write must still be refused. */
	KUNIT_EXPECT_EQ(test, umirror_read(&um, buf, addr + PAGE_SIZE, sizeof(buf)), 0);
	KUNIT_EXPECT_EQ(test, umirror_write(&um, addr + PAGE_SIZE, buf, sizeof(buf)),
			-EFAULT);
	KUNIT_EXPECT_EQ(test, umirror_pin_bvec(&um, addr + PAGE_SIZE, 8, true, bv, 1,
					       &nr), -EFAULT);
	umirror_fini(&um);
}

#ifdef CONFIG_ADDRESS_MASKING
/*
 * Case 11: a tagged address (x86 LAM, here LAM_U57 set on the test's mm)
 * mirrors the untagged range, as pin_user_pages() untags; accesses name
 * addresses with the same tag.
 */
static void umirror_test_tagged(struct kunit *test)
{
	const size_t size = 4 * PAGE_SIZE;
	unsigned long addr = map_anon(test, size, PROT_READ | PROT_WRITE);
	unsigned long tag = 0x2aUL << 57, tagged = addr | tag;
	u8 *data = alloc_pattern(test, size, 9);
	u8 *seen = kunit_vzalloc(test, size);
	struct page *page;
	struct bio_vec bv[4];
	struct umirror um;
	unsigned int nr;

	current->mm->context.untag_mask = ~GENMASK(62, 57);
	fill_user(test, addr, data, size);
	KUNIT_ASSERT_EQ(test, umirror_init(&um, current->mm, tagged + 100,
					   size - 100, UMIRROR_WRITE), 0);
	KUNIT_EXPECT_EQ(test, umirror_read(&um, seen, tagged + 100, size - 100), 0);
	KUNIT_EXPECT_MEMEQ(test, seen, data + 100, size - 100);
	KUNIT_EXPECT_EQ(test, umirror_write(&um, tagged + PAGE_SIZE, data, 16), 0);
	read_user(test, seen, addr + PAGE_SIZE, 16);
	KUNIT_EXPECT_MEMEQ(test, seen, data, 16);
	/* An untagged name of the same memory is outside the mirror. */
	KUNIT_EXPECT_EQ(test, umirror_read(&um, seen, addr + 100, 8), -EFAULT);
	KUNIT_ASSERT_EQ(test, umirror_pin_bvec(&um, tagged + 2 * PAGE_SIZE, 8, false,
					       bv, ARRAY_SIZE(bv), &nr), 0);
	KUNIT_ASSERT_EQ(test, get_user_pages_fast(addr + 2 * PAGE_SIZE, 1, 0, &page), 1);
	KUNIT_EXPECT_PTR_EQ(test, bv[0].bv_page, page);
	put_page(page);
	umirror_unpin_bvec(bv, nr, false);
	umirror_fini(&um);
	current->mm->context.untag_mask = -1UL;
}
#endif

/*
 * Case 12: pages used through a mirror are marked accessed, as GUP's
 * FOLL_TOUCH marks them, so reclaim does not take them for idle ones.
 */
static void umirror_test_marks_accessed(struct kunit *test)
{
	unsigned long addr = map_anon(test, 2 * PAGE_SIZE, PROT_READ | PROT_WRITE);
	u8 buf[8] = { 1 };
	struct page *pages[2];
	struct bio_vec bv[1];
	struct folio *folio;
	struct umirror um;
	unsigned int nr, i;

	if (lru_gen_enabled())
		kunit_skip(test, "MGLRU counts references in the folio flags");
	fill_user(test, addr, buf, 1);
	fill_user(test, addr + PAGE_SIZE, buf, 1);
	/* GUP-fast without FOLL_TOUCH: finds the pages, marks nothing. */
	KUNIT_ASSERT_EQ(test, get_user_pages_fast(addr, 2, 0, pages), 2);
	for (i = 0; i < 2; i++) {
		folio = page_folio(pages[i]);
		folio_clear_referenced(folio);
		/* A fresh anonymous folio starts inactive. */
		KUNIT_EXPECT_FALSE(test, folio_test_active(folio));
	}
	init_mirror(test, &um, addr, 2 * PAGE_SIZE, UMIRROR_WRITE);
	KUNIT_EXPECT_EQ(test, umirror_read(&um, buf, addr, sizeof(buf)), 0);
	KUNIT_ASSERT_EQ(test, umirror_pin_bvec(&um, addr + PAGE_SIZE, 8, true,
					       bv, 1, &nr), 0);
	umirror_unpin_bvec(bv, nr, true);
	for (i = 0; i < 2; i++) {
		folio = page_folio(pages[i]);
		KUNIT_EXPECT_TRUE_MSG(test, folio_test_referenced(folio) ||
				      folio_test_active(folio),
				      "page %u used through the mirror is not marked accessed", i);
		put_page(pages[i]);
	}
	umirror_fini(&um);
}

/*
 * umirror_pin_bvec_nowait() pins only what the cache holds as the access
 * needs it, and takes no mmap lock: the test holds it for writing around
 * every call, which would deadlock a call that took it.
 */
static void umirror_test_pin_nowait(struct kunit *test)
{
	const size_t size = 4 * PAGE_SIZE;
	unsigned long addr = map_anon(test, size, PROT_READ | PROT_WRITE);
	unsigned long before = pins_outstanding();
	struct mm_struct *mm = current->mm;
	struct bio_vec bv[4];
	struct umirror um;
	unsigned int nr = 1;
	int ret;

	init_mirror(test, &um, addr, size, UMIRROR_WRITE);

	/* Nothing faulted: a miss, nothing left pinned. */
	mmap_write_lock(mm);
	ret = umirror_pin_bvec_nowait(&um, addr, size, true, bv, 4, &nr);
	mmap_write_unlock(mm);
	KUNIT_EXPECT_EQ(test, ret, -EAGAIN);
	KUNIT_EXPECT_EQ(test, nr, 0);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), before);

	/* Faulted for reading (the zero page): a miss for a write pin. */
	KUNIT_ASSERT_EQ(test, umirror_fault(&um, addr, size, false), 0);
	mmap_write_lock(mm);
	ret = umirror_pin_bvec_nowait(&um, addr, size, true, bv, 4, &nr);
	mmap_write_unlock(mm);
	KUNIT_EXPECT_EQ(test, ret, -EAGAIN);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), before);

	/* Faulted writable: a hit, every page pinned once. */
	KUNIT_ASSERT_EQ(test, umirror_fault(&um, addr, size, true), 0);
	mmap_write_lock(mm);
	ret = umirror_pin_bvec_nowait(&um, addr, size, true, bv, 4, &nr);
	mmap_write_unlock(mm);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), before + 4);
	umirror_unpin_bvec(bv, nr, true);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), before);

	/* One page invalidated: a miss there, a hit elsewhere. */
	KUNIT_ASSERT_EQ(test, do_madvise(mm, addr + PAGE_SIZE, PAGE_SIZE,
					 MADV_DONTNEED), 0);
	mmap_write_lock(mm);
	ret = umirror_pin_bvec_nowait(&um, addr, size, false, bv, 4, &nr);
	KUNIT_EXPECT_EQ(test, ret, -EAGAIN);
	ret = umirror_pin_bvec_nowait(&um, addr + 2 * PAGE_SIZE, 2 * PAGE_SIZE,
				      false, bv, 4, &nr);
	mmap_write_unlock(mm);
	KUNIT_ASSERT_EQ(test, ret, 0);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), before + 2);
	umirror_unpin_bvec(bv, nr, false);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), before);
	umirror_fini(&um);
}

/*
 * A device moving data through a lent span: what DMA into or out of its
 * bvecs would do. Returns a sum of what it read.
 */
static unsigned int device_dma(struct bio_vec *bv, unsigned int nr,
			       bool write, u8 val)
{
	unsigned int i, sum = 0;
	size_t off, n, k;
	struct page *page;
	u8 *kaddr;

	for (i = 0; i < nr; i++) {
		for (off = bv[i].bv_offset; off < bv[i].bv_offset + bv[i].bv_len;
		     off += n) {
			page = nth_page(bv[i].bv_page, off >> PAGE_SHIFT);
			n = min_t(size_t, PAGE_SIZE - offset_in_page(off),
				  bv[i].bv_offset + bv[i].bv_len - off);
			kaddr = kmap_local_page(page);
			if (write)
				memset(kaddr + offset_in_page(off), val, n);
			for (k = 0; !write && k < n; k++)
				sum += kaddr[offset_in_page(off) + k];
			kunmap_local(kaddr);
		}
	}
	return sum;
}

static void flush_parked(struct umirror *um)
{
	flush_delayed_work(&um->release_work);
}

/*
 * Case 20: a lent span takes no page reference; a device write lands in
 * the process's pages; nothing is parked without an invalidation.
 */
static void umirror_test_lend(struct kunit *test)
{
	const size_t size = 8 * PAGE_SIZE;
	unsigned long addr = map_anon(test, size, PROT_READ | PROT_WRITE);
	unsigned long before = pins_outstanding();
	u8 *view = kunit_vzalloc(test, size);
	struct umirror_stats stats;
	struct bio_vec bv[8];
	unsigned int nr, i;
	struct umirror um;
	u32 ticket;

	small_pages_only(test, addr, size);
	memset(view, 1, size);
	fill_user(test, addr, view, size);
	init_mirror(test, &um, addr, size, UMIRROR_WRITE);
	KUNIT_EXPECT_EQ(test, umirror_map_bvec(&um, addr, size, true, bv, 8,
					       &nr, &ticket), -EINVAL);
	umirror_fini(&um);

	init_mirror(test, &um, addr, size, UMIRROR_WRITE | UMIRROR_MAP);
	KUNIT_ASSERT_EQ(test, umirror_fault(&um, addr, size, true), 0);
	/* An empty span would be a ticket that counts nothing. */
	KUNIT_EXPECT_EQ(test, umirror_map_bvec(&um, addr, 0, true, bv, 8, &nr,
					       &ticket), -EINVAL);
	KUNIT_ASSERT_EQ(test, umirror_map_bvec(&um, addr + 100, size - 200, true,
					       bv, ARRAY_SIZE(bv), &nr, &ticket), 0);
	KUNIT_EXPECT_EQ(test, nr, 8);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), before);
	for (i = 0; i < nr; i++)
		KUNIT_EXPECT_FALSE(test, folio_maybe_dma_pinned(page_folio(bv[i].bv_page)));
	/* Fork must copy the pages of a span out (rule C1 of the design). */
	KUNIT_EXPECT_TRUE(test, test_bit(MMF_HAS_PINNED, &current->mm->flags));
	device_dma(bv, nr, true, 7);
	umirror_unmap_bvec(&um, ticket);
	read_user(test, view, addr, size);
	KUNIT_EXPECT_EQ(test, view[99], 1);
	KUNIT_EXPECT_EQ(test, view[100], 7);
	KUNIT_EXPECT_EQ(test, view[size - 101], 7);
	KUNIT_EXPECT_EQ(test, view[size - 100], 1);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.maps, 1);
	KUNIT_EXPECT_EQ(test, stats.parks, 0);
	KUNIT_EXPECT_EQ(test, stats.pins, 0);

	umirror_fini(&um);
}

/*
 * Case 21: MADV_DONTNEED of a lent span's pages while the "device" still
 * writes them. The invalidation pins the old pages (the process gets new
 * zero pages), the device's late write lands in the old pages, which KASAN
 * and page poisoning would report if they had been freed, and the pins go
 * once the span is returned. A page faulted in place of a parked one
 * moves the pin to a spill, so the new page, lent and dropped in turn,
 * gets a pin of its own; with nothing lent, an invalidation parks
 * nothing.
 */
static void umirror_test_lend_invalidate(struct kunit *test)
{
	const size_t size = 4 * PAGE_SIZE;
	unsigned long addr = map_anon(test, size, PROT_READ | PROT_WRITE);
	unsigned long before = pins_outstanding();
	u8 *view = kunit_vzalloc(test, size);
	struct umirror_stats stats;
	struct bio_vec bv[4], bv2[4];
	unsigned int nr, nr2, i;
	struct page *old;
	struct umirror um;
	u32 ticket, ticket2;

	small_pages_only(test, addr, size);
	memset(view, 3, size);
	fill_user(test, addr, view, size);
	init_mirror(test, &um, addr, size, UMIRROR_WRITE | UMIRROR_MAP);
	KUNIT_ASSERT_EQ(test, umirror_map_bvec(&um, addr, 2 * PAGE_SIZE, true,
					       bv, ARRAY_SIZE(bv), &nr, &ticket), 0);
	KUNIT_ASSERT_EQ(test, nr, 2);
	old = bv[0].bv_page;

	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, addr, size, MADV_DONTNEED), 0);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.parks, 2);
	KUNIT_EXPECT_EQ(test, stats.parked, 2);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), before + 2);
	KUNIT_EXPECT_TRUE(test, folio_maybe_dma_pinned(page_folio(old)));
	KUNIT_EXPECT_GT(test, page_ref_count(old), 0);

	/* The process refaults a new page; the pin moves to a spill. */
	KUNIT_ASSERT_EQ(test, umirror_fault(&um, addr, size, true), 0);
	read_user(test, view, addr, size);
	for (i = 0; i < size; i++)
		KUNIT_ASSERT_EQ(test, view[i], 0);

	/* The device's late write: into the old pages, not the process's. */
	device_dma(bv, nr, true, 9);
	read_user(test, view, addr, size);
	KUNIT_EXPECT_EQ(test, view[0], 0);
	flush_parked(&um);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.parked, 2);

	/* The new pages, lent and dropped too: pinned apart from the old. */
	KUNIT_ASSERT_EQ(test, umirror_map_bvec(&um, addr, 2 * PAGE_SIZE, true,
					       bv2, ARRAY_SIZE(bv2), &nr2, &ticket2), 0);
	KUNIT_EXPECT_PTR_NE(test, bv2[0].bv_page, old);
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, addr, size, MADV_DONTNEED), 0);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.parks, 4);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), before + 4);
	/* The new pages' pins wait for the second span only. */
	umirror_unmap_bvec(&um, ticket2);
	flush_parked(&um);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.parked, 2);

	umirror_unmap_bvec(&um, ticket);
	flush_parked(&um);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.parked, 0);
	KUNIT_EXPECT_EQ(test, stats.unparks, 4);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), before);

	/* Returned spans hold nothing: an invalidation parks nothing. */
	KUNIT_ASSERT_EQ(test, umirror_map_bvec(&um, addr, size, false, bv,
					       ARRAY_SIZE(bv), &nr, &ticket), 0);
	umirror_unmap_bvec(&um, ticket);
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, addr, size, MADV_DONTNEED), 0);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.parks, 4);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), before);
	umirror_fini(&um);
}

/*
 * Case 22: mprotect() keeps the page: the parked pin continues across
 * the refault of the same page (no spill, one pin per page), and a span
 * still out at umirror_fini()'s caller's end is a bug, so the test
 * returns it first.
 */
static void umirror_test_lend_mprotect(struct kunit *test)
{
	const size_t size = 2 * PAGE_SIZE;
	unsigned long addr = map_anon(test, size, PROT_READ | PROT_WRITE);
	unsigned long before = pins_outstanding();
	struct umirror_stats stats;
	struct bio_vec bv[2], bv2[2];
	unsigned int nr, nr2;
	struct umirror um;
	u32 ticket, ticket2;

	small_pages_only(test, addr, size);
	fill_user(test, addr, "x", 1);
	fill_user(test, addr + PAGE_SIZE, "y", 1);
	init_mirror(test, &um, addr, size, UMIRROR_WRITE | UMIRROR_MAP);
	KUNIT_ASSERT_EQ(test, umirror_map_bvec(&um, addr, size, false, bv, 2,
					       &nr, &ticket), 0);
	KUNIT_ASSERT_EQ(test, test_mprotect(current->mm, addr, size, VM_READ), 0);
	KUNIT_ASSERT_EQ(test, umirror_map_bvec(&um, addr, size, false, bv2, 2,
					       &nr2, &ticket2), 0);
	KUNIT_EXPECT_PTR_EQ(test, bv2[0].bv_page, bv[0].bv_page);
	KUNIT_ASSERT_EQ(test, test_mprotect(current->mm, addr, size,
					    VM_READ | VM_WRITE), 0);
	umirror_get_stats(&um, &stats);
	/* Two invalidations, each pinning both pages: one pin per page. */
	KUNIT_EXPECT_EQ(test, stats.parks, 2);
	KUNIT_EXPECT_EQ(test, stats.parked, 2);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), before + 2);
	umirror_unmap_bvec(&um, ticket);
	flush_parked(&um);
	umirror_get_stats(&um, &stats);
	/* The second span, of a later epoch, still holds the pins. */
	KUNIT_EXPECT_EQ(test, stats.parked, 2);
	umirror_unmap_bvec(&um, ticket2);
	flush_parked(&um);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), before);
	umirror_fini(&um);
}

/* Lend page @y, drop it and return it: a park, which moves new spans on. */
static void park_elsewhere(struct kunit *test, struct umirror *um,
			   unsigned long y)
{
	struct bio_vec bv[1];
	unsigned int nr;
	u32 t;

	KUNIT_ASSERT_EQ(test, umirror_map_bvec(um, y, PAGE_SIZE, true, bv, 1, &nr, &t), 0);
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, y, PAGE_SIZE, MADV_DONTNEED), 0);
	umirror_unmap_bvec(um, t);
}

/*
 * Case 22b: spans of several epochs use one page and are returned out of
 * order. Span B, of a later epoch than A, still uses the page after A
 * is returned, the oldest epoch moved past A's and a third span C,
 * lent and returned meanwhile, used the page: dropping the page must
 * still pin it for B.
 */
static void umirror_test_lend_epoch_order(struct kunit *test)
{
	const size_t size = 2 * PAGE_SIZE;
	unsigned long addr = map_anon(test, size, PROT_READ | PROT_WRITE);
	unsigned long x = addr, y = addr + PAGE_SIZE;
	unsigned long before = pins_outstanding();
	struct umirror_stats stats;
	u32 a, b, c;
	struct bio_vec bv[1];
	unsigned int nr;
	struct umirror um;

	small_pages_only(test, addr, size);
	init_mirror(test, &um, addr, size, UMIRROR_WRITE | UMIRROR_MAP);
	KUNIT_ASSERT_EQ(test, umirror_map_bvec(&um, x, PAGE_SIZE, true, bv, 1, &nr, &a), 0);
	park_elsewhere(test, &um, y);
	KUNIT_ASSERT_EQ(test, umirror_map_bvec(&um, x, PAGE_SIZE, true, bv, 1, &nr, &b), 0);
	KUNIT_EXPECT_NE(test, a, b);
	umirror_unmap_bvec(&um, a);
	flush_parked(&um);
	/* Another park: the epoch A used is not live any more. */
	park_elsewhere(test, &um, y);
	KUNIT_ASSERT_EQ(test, umirror_map_bvec(&um, x, PAGE_SIZE, true, bv, 1, &nr, &c), 0);
	umirror_unmap_bvec(&um, c);
	flush_parked(&um);

	umirror_get_stats(&um, &stats);
	KUNIT_ASSERT_EQ(test, stats.parks, 2);
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, x, PAGE_SIZE, MADV_DONTNEED), 0);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ_MSG(test, stats.parks, 3, "the page span B uses was not pinned");
	/* And y's second pin waits for B too, whose epoch it shares. */
	KUNIT_EXPECT_EQ(test, pins_outstanding(), before + 2);
	umirror_unmap_bvec(&um, b);
	flush_parked(&um);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), before);
	umirror_fini(&um);
}

/*
 * Case 23: a span that stays out (a stuck I/O) bounds what it costs:
 * every invalidation of another lent page moves new spans to a new epoch,
 * pins parked for spans already returned are released meanwhile, and
 * once all epochs are live, lending refuses with -EBUSY until the stuck
 * span is returned.
 */
static void umirror_test_lend_epochs(struct kunit *test)
{
	const size_t size = 2 * PAGE_SIZE;
	unsigned long addr = map_anon(test, size, PROT_READ | PROT_WRITE);
	unsigned long before = pins_outstanding();
	struct umirror_stats stats;
	struct bio_vec bv[2];
	unsigned int nr, i;
	struct umirror um;
	u32 stuck, ticket;
	int ret = 0;

	small_pages_only(test, addr, size);
	init_mirror(test, &um, addr, size, UMIRROR_WRITE | UMIRROR_MAP);
	KUNIT_ASSERT_EQ(test, umirror_map_bvec(&um, addr, PAGE_SIZE, true, bv, 2,
					       &nr, &stuck), 0);
	for (i = 0; i < 2 * UMIRROR_EPOCHS && !ret; i++) {
		ret = umirror_map_bvec(&um, addr + PAGE_SIZE, PAGE_SIZE, true,
				       bv, 2, &nr, &ticket);
		if (ret)
			break;
		KUNIT_ASSERT_EQ(test, do_madvise(current->mm, addr + PAGE_SIZE,
						 PAGE_SIZE, MADV_DONTNEED), 0);
		umirror_unmap_bvec(&um, ticket);
		flush_parked(&um);
		umirror_get_stats(&um, &stats);
		/* The first park waits for the stuck span; the others not. */
		KUNIT_EXPECT_LE(test, stats.parked, 1);
	}
	KUNIT_EXPECT_EQ(test, ret, -EBUSY);
	KUNIT_EXPECT_EQ(test, i, UMIRROR_EPOCHS);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.map_busy, 1);
	KUNIT_EXPECT_EQ(test, stats.parks, UMIRROR_EPOCHS);
	/* Pinning still works meanwhile. */
	KUNIT_ASSERT_EQ(test, umirror_pin_bvec(&um, addr + PAGE_SIZE, PAGE_SIZE,
					       true, bv, 2, &nr), 0);
	umirror_unpin_bvec(bv, nr, true);

	umirror_unmap_bvec(&um, stuck);
	flush_parked(&um);
	KUNIT_ASSERT_EQ(test, umirror_map_bvec(&um, addr, size, true, bv, 2,
					       &nr, &ticket), 0);
	umirror_unmap_bvec(&um, ticket);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.parked, 0);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), before);
	umirror_fini(&um);
}

/*
 * Once every span of @um is returned: no pin stays parked, the pins held
 * are those held @before, and the mirror goes.
 */
static void fini_returned(struct kunit *test, struct umirror *um,
			  unsigned long before)
{
	struct umirror_stats stats;

	flush_parked(um);
	umirror_get_stats(um, &stats);
	KUNIT_EXPECT_EQ(test, stats.parked, 0);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), before);
	umirror_fini(um);
}

/* Pages a chunk of the pfn cache covers: one page of entries. */
#define TEST_CHUNK_PAGES	(PAGE_SIZE / sizeof(unsigned long))

static void lend_and_return(struct kunit *test, struct umirror *um,
			    unsigned long addr, size_t len, bool write,
			    struct bio_vec *bv, unsigned int *nr)
{
	u32 ticket;

	KUNIT_ASSERT_EQ(test, umirror_map_bvec(um, addr, len, write, bv, 4, nr,
					       &ticket), 0);
	umirror_unmap_bvec(um, ticket);
}

/*
 * Case 23b: a span whose pages earlier spans used the same way is lent
 * from the marks of its entries, with no lookup: the same bvecs, the data
 * in place, and an invalidation still pins its pages, though the epoch
 * that first marked them has drained. A page whose last span drained is
 * not pinned, though later spans are out. A device write needs entries
 * marked by a device write; a span across two chunks, and entries an
 * invalidation cleared, are looked up again.
 */
static void umirror_test_lend_marked(struct kunit *test)
{
	const size_t size = (TEST_CHUNK_PAGES + 4) * PAGE_SIZE;
	const size_t len = 4 * PAGE_SIZE - 200;
	unsigned long addr = map_anon(test, size, PROT_READ | PROT_WRITE);
	unsigned long boundary = addr + TEST_CHUNK_PAGES * PAGE_SIZE;
	unsigned long before = pins_outstanding();
	u8 *view = kunit_vzalloc(test, 4 * PAGE_SIZE);
	struct bio_vec bv[4], again[4];
	struct umirror_stats stats;
	unsigned int nr, nr2, i;
	struct page *old;
	struct umirror um;
	u32 ticket;

	small_pages_only(test, addr, size);
	memset(view, 1, 4 * PAGE_SIZE);
	fill_user(test, addr, view, 4 * PAGE_SIZE);
	init_mirror(test, &um, addr, size, UMIRROR_WRITE | UMIRROR_MAP);
	lend_and_return(test, &um, addr + 6 * PAGE_SIZE, PAGE_SIZE, true, bv, &nr);

	/* Looked up and marked for a device read; a device write looks again. */
	lend_and_return(test, &um, addr + 100, len, false, bv, &nr);
	lend_and_return(test, &um, addr + 100, len, true, bv, &nr);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.maps_marked, 0);
	KUNIT_ASSERT_EQ(test, nr, 4);

	/* Both directions now come from the marks, with the same bvecs. */
	for (i = 0; i < nr; i++)
		folio_clear_referenced(page_folio(bv[i].bv_page));
	KUNIT_ASSERT_EQ(test, umirror_map_bvec(&um, addr + 100, len, true, again,
					       4, &nr2, &ticket), 0);
	KUNIT_ASSERT_EQ(test, nr2, nr);
	for (i = 0; i < nr; i++) {
		/* Referenced as GUP-fast would, the first time in a period. */
		KUNIT_EXPECT_TRUE(test, folio_test_referenced(page_folio(again[i].bv_page)));
		KUNIT_EXPECT_PTR_EQ(test, again[i].bv_page, bv[i].bv_page);
		KUNIT_EXPECT_EQ(test, again[i].bv_offset, bv[i].bv_offset);
		KUNIT_EXPECT_EQ(test, again[i].bv_len, bv[i].bv_len);
	}
	device_dma(again, nr2, true, 5);
	umirror_unmap_bvec(&um, ticket);
	read_user(test, view, addr, 4 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, view[99], 1);
	KUNIT_EXPECT_EQ(test, view[100], 5);
	KUNIT_EXPECT_EQ(test, view[100 + len - 1], 5);
	KUNIT_EXPECT_EQ(test, view[100 + len], 1);
	lend_and_return(test, &um, addr + 100, len, false, again, &nr2);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.maps_marked, 2);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), before);

	/* A span across two chunks is looked up each time. */
	lend_and_return(test, &um, boundary - 2 * PAGE_SIZE, 4 * PAGE_SIZE, true,
			again, &nr2);
	lend_and_return(test, &um, boundary - 2 * PAGE_SIZE, 4 * PAGE_SIZE, true,
			again, &nr2);
	KUNIT_EXPECT_EQ(test, nr2, 4);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.maps_marked, 2);

	/* Epochs move on and drain; a span lent from marks is protected. */
	park_elsewhere(test, &um, addr + 4 * PAGE_SIZE);
	park_elsewhere(test, &um, addr + 5 * PAGE_SIZE);
	flush_parked(&um);
	KUNIT_ASSERT_EQ(test, umirror_map_bvec(&um, addr + 100, len, true, again,
					       4, &nr2, &ticket), 0);
	old = again[0].bv_page;
	/* Page 6's one span was returned epochs ago: its drop pins nothing. */
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, addr + 6 * PAGE_SIZE,
					 PAGE_SIZE, MADV_DONTNEED), 0);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ_MSG(test, stats.parked, 0, "a page no span out uses was pinned");
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, addr, 4 * PAGE_SIZE,
					 MADV_DONTNEED), 0);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.maps_marked, 3);
	KUNIT_EXPECT_EQ(test, stats.parked, 4);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), before + 4);
	KUNIT_EXPECT_TRUE(test, folio_maybe_dma_pinned(page_folio(old)));
	device_dma(again, nr2, true, 6);

	/* The marks went with the entries: the next span is looked up. */
	lend_and_return(test, &um, addr + 100, len, true, bv, &nr);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.maps_marked, 3);

	umirror_unmap_bvec(&um, ticket);
	fini_returned(test, &um, before);
}

/* Lend [addr, addr + len) for a device write as an iterator into *@iter. */
static void lend_iter(struct kunit *test, struct umirror *um,
		      unsigned long addr, size_t len, struct iov_iter *iter,
		      struct bio_vec *bv, u32 *ticket)
{
	KUNIT_ASSERT_EQ(test, umirror_map_iter(um, addr, len, true, iter, bv, 4,
					       ticket), 0);
	KUNIT_ASSERT_EQ(test, iov_iter_count(iter), len);
}

#ifdef CONFIG_TRANSPARENT_HUGEPAGE
/*
 * Case 23c: a span of a THP lent from marks is one bvec, as looked up:
 * pages of one PMD mapping share it. Lent as an iterator, it is one bvec
 * of the cache, to the end of the mapping, until the mapping is split.
 */
static void umirror_test_lend_marked_thp(struct kunit *test)
{
	unsigned long addr = map_thp(test);
	u8 *data = kunit_kzalloc(test, SZ_64K, GFP_KERNEL);
	struct umirror_stats stats;
	struct bio_vec bv[4];
	struct iov_iter iter;
	struct page *head;
	struct umirror um;
	unsigned int nr;
	u32 ticket;

	KUNIT_ASSERT_NOT_NULL(test, data);
	init_mirror(test, &um, addr, HPAGE_PMD_SIZE, UMIRROR_WRITE | UMIRROR_MAP);
	lend_and_return(test, &um, addr + 100, SZ_64K, true, bv, &nr);
	if (folio_order(page_folio(bv[0].bv_page)) != HPAGE_PMD_ORDER) {
		umirror_fini(&um);
		kunit_skip(test, "no THP could be allocated");
	}
	KUNIT_EXPECT_EQ(test, nr, 1);
	lend_and_return(test, &um, addr + 100, SZ_64K, true, bv, &nr);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.maps_marked, 1);
	KUNIT_EXPECT_EQ(test, nr, 1);
	KUNIT_EXPECT_EQ(test, bv[0].bv_offset, 100);
	KUNIT_EXPECT_EQ(test, bv[0].bv_len, SZ_64K);
	head = bv[0].bv_page;

	/* As an iterator: one cached bvec, from the span's first page on. */
	lend_iter(test, &um, addr + 3 * PAGE_SIZE + 5, SZ_32K, &iter, bv,
		  &ticket);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.maps_cached, 1);
	KUNIT_EXPECT_EQ(test, iter.nr_segs, 1);
	KUNIT_EXPECT_EQ(test, iter.iov_offset, 5);
	KUNIT_EXPECT_PTR_EQ(test, iter.bvec[0].bv_page, nth_page(head, 3));
	KUNIT_EXPECT_EQ(test, iter.bvec[0].bv_len, HPAGE_PMD_SIZE - 3 * PAGE_SIZE);
	memset(data, 9, SZ_32K);
	KUNIT_EXPECT_EQ(test, copy_to_iter(data, SZ_32K, &iter), SZ_32K);
	umirror_unmap_bvec(&um, ticket);
	read_user(test, data, addr + 3 * PAGE_SIZE, SZ_32K + 6);
	KUNIT_EXPECT_EQ(test, data[4], 0);
	KUNIT_EXPECT_EQ(test, data[5], 9);
	KUNIT_EXPECT_EQ(test, data[SZ_32K + 4], 9);
	KUNIT_EXPECT_EQ(test, data[SZ_32K + 5], 0);

	/* Zapping one page splits the mapping: nothing stays cached. */
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, addr + 20 * PAGE_SIZE,
					 PAGE_SIZE, MADV_DONTNEED), 0);
	lend_iter(test, &um, addr + 3 * PAGE_SIZE + 5, SZ_32K, &iter, bv,
		  &ticket);
	KUNIT_EXPECT_PTR_EQ(test, iter.bvec, (const struct bio_vec *)bv);
	umirror_unmap_bvec(&um, ticket);
	umirror_fini(&um);
}
#endif

/*
 * Case 24: lent spans written by the "device" while another thread
 * invalidates the range (MADV_DONTNEED, mprotect()). Every write lands in
 * a live page (KASAN watches), invalidations park pins, and at the end
 * everything parked is released and pins are balanced.
 */
static void umirror_test_lend_concurrent(struct kunit *test)
{
	const unsigned int npages = 64;
	const size_t size = npages * PAGE_SIZE;
	unsigned long addr = map_anon(test, size, PROT_READ | PROT_WRITE);
	unsigned long outstanding = pins_outstanding();
	struct churn c = { current->mm, addr, npages };
	unsigned int i, k, nr, page, lent = 0, refused = 0;
	struct umirror_stats stats;
	struct task_struct *thread;
	u8 *xfer = kunit_kzalloc(test, PAGE_SIZE, GFP_KERNEL);
	struct bio_vec bv[4];
	struct iov_iter iter;
	bool write, use_iter;
	struct umirror um;
	size_t moved;
	u32 ticket;
	int ret;

	KUNIT_ASSERT_NOT_NULL(test, xfer);
	small_pages_only(test, addr, size);
	init_mirror(test, &um, addr, size, UMIRROR_WRITE | UMIRROR_MAP);
	mmgrab(c.mm);
	thread = kthread_run(churn_thread, &c, "umirror-churn");
	KUNIT_ASSERT_FALSE(test, IS_ERR(thread));
	for (i = 0; i < 100000; i++) {
		umirror_get_stats(&um, &stats);
		if (i >= 3000 && stats.parks >= 100)
			break;
		/*
		 * Each span twice: the second is lent from marks or, every
		 * other pass over the spans, over the cache if it can.
		 */
		page = (i / 2 % 15) * 4;
		write = i / 2 & 1;
		use_iter = i / 30 & 1;
		if (use_iter)
			ret = umirror_map_iter(&um, addr + page * PAGE_SIZE,
					       4 * PAGE_SIZE, write, &iter, bv,
					       ARRAY_SIZE(bv), &ticket);
		else
			ret = umirror_map_bvec(&um, addr + page * PAGE_SIZE,
					       4 * PAGE_SIZE, write, bv,
					       ARRAY_SIZE(bv), &nr, &ticket);
		KUNIT_ASSERT_TRUE(test, ret == 0 || ret == -EFAULT || ret == -EBUSY);
		refused += !!ret;
		if (ret)
			continue;
		lent++;
		/* The device's transfer, spread over the invalidations. */
		for (k = 0, moved = 0; k < 4; k++) {
			if (!use_iter)
				device_dma(bv, nr, write, i);
			else if (write)
				moved += copy_to_iter(xfer, PAGE_SIZE, &iter);
			else
				moved += copy_from_iter(xfer, PAGE_SIZE, &iter);
			cond_resched();
		}
		KUNIT_EXPECT_EQ(test, moved, use_iter ? 4 * PAGE_SIZE : 0);
		umirror_unmap_bvec(&um, ticket);
	}
	kthread_stop(thread);
	mmdrop(c.mm);
	flush_parked(&um);
	umirror_get_stats(&um, &stats);
	kunit_info(test, "%u spans lent (%llu from marks, %llu over the cache), %u refused; %llu invalidations parked %llu pins, at most %llu at once",
		   lent, stats.maps_marked, stats.maps_cached, refused,
		   stats.invalidations, stats.parks, stats.parked_max);
	KUNIT_EXPECT_GE(test, stats.parks, 100);
	KUNIT_EXPECT_GT(test, stats.maps_marked, 0);
	KUNIT_EXPECT_GT(test, stats.maps_cached, 0);
	KUNIT_EXPECT_EQ(test, stats.parked, 0);
	KUNIT_EXPECT_EQ(test, stats.unparks, stats.parks);
	KUNIT_EXPECT_EQ(test, pins_outstanding(), outstanding);
	umirror_fini(&um);
}

/*
 * Rule 5: a span of small pages that spans used before is lent over the
 * mirror's own bvecs. A cache entry a span still out may read is not
 * rewritten when its page is replaced; it is once that span is returned.
 */
static void umirror_test_lend_cached(struct kunit *test)
{
	const size_t size = 8 * PAGE_SIZE;
	const size_t len = 4 * PAGE_SIZE - 200;
	unsigned long addr = map_anon(test, size, PROT_READ | PROT_WRITE);
	unsigned long before = pins_outstanding();
	u8 *data = kunit_kzalloc(test, len, GFP_KERNEL);
	u8 *view = kunit_vzalloc(test, 4 * PAGE_SIZE);
	struct bio_vec bv[4], first[4];
	struct iov_iter iter, out, copy;
	struct umirror_stats stats;
	struct page *old, *page;
	struct umirror um;
	u32 ticket, ticket2;
	unsigned int i;

	KUNIT_ASSERT_NOT_NULL(test, data);
	KUNIT_ASSERT_NOT_NULL(test, view);
	small_pages_only(test, addr, size);
	init_mirror(test, &um, addr, size, UMIRROR_WRITE | UMIRROR_MAP);

	/* Looked up into the caller's bvecs once, then over the cache. */
	lend_iter(test, &um, addr + 100, len, &iter, first, &ticket);
	KUNIT_EXPECT_PTR_EQ(test, iter.bvec, (const struct bio_vec *)first);
	umirror_unmap_bvec(&um, ticket);
	lend_iter(test, &um, addr + 100, len, &out, bv, &ticket);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.maps_cached, 1);
	KUNIT_ASSERT_PTR_NE(test, out.bvec, (const struct bio_vec *)bv);
	KUNIT_EXPECT_EQ(test, out.nr_segs, 4);
	KUNIT_EXPECT_EQ(test, out.iov_offset, 100);
	for (i = 0; i < 4; i++)
		KUNIT_EXPECT_PTR_EQ(test, out.bvec[i].bv_page, first[i].bv_page);

	/* A device write through it lands in the process's memory. */
	memset(data, 7, len);
	copy = out;
	KUNIT_EXPECT_EQ(test, copy_to_iter(data, len, &copy), len);
	read_user(test, view, addr, 4 * PAGE_SIZE);
	KUNIT_EXPECT_EQ(test, view[99], 0);
	KUNIT_EXPECT_EQ(test, view[100], 7);
	KUNIT_EXPECT_EQ(test, view[100 + len - 1], 7);
	KUNIT_EXPECT_EQ(test, view[100 + len], 0);

	/* Its first page replaced while it is out: the old one is pinned. */
	old = out.bvec[0].bv_page;
	KUNIT_ASSERT_EQ(test, do_madvise(current->mm, addr, PAGE_SIZE,
					 MADV_DONTNEED), 0);
	KUNIT_EXPECT_TRUE(test, folio_maybe_dma_pinned(page_folio(old)));
	for (i = 0; i < 2; i++) {
		lend_iter(test, &um, addr + 100, len, &iter, bv, &ticket2);
		KUNIT_EXPECT_PTR_EQ(test, iter.bvec, (const struct bio_vec *)bv);
		KUNIT_EXPECT_PTR_NE(test, bv[0].bv_page, old);
		KUNIT_EXPECT_PTR_EQ_MSG(test, out.bvec[0].bv_page, old,
					"a cache entry a span uses was rewritten");
		umirror_unmap_bvec(&um, ticket2);
	}
	page = bv[0].bv_page;

	/* Returned: the cache names the new page, for writes and reads. */
	umirror_unmap_bvec(&um, ticket);
	flush_parked(&um);
	lend_iter(test, &um, addr + 100, len, &iter, bv, &ticket2);
	umirror_unmap_bvec(&um, ticket2);
	lend_iter(test, &um, addr + 100, len, &iter, bv, &ticket2);
	KUNIT_EXPECT_PTR_NE(test, iter.bvec, (const struct bio_vec *)bv);
	KUNIT_EXPECT_PTR_EQ(test, iter.bvec[0].bv_page, page);
	umirror_unmap_bvec(&um, ticket2);
	KUNIT_ASSERT_EQ(test, umirror_map_iter(&um, addr + 100, len, false,
					       &iter, bv, 4, &ticket2), 0);
	KUNIT_EXPECT_EQ(test, iov_iter_rw(&iter), WRITE);
	umirror_unmap_bvec(&um, ticket2);
	umirror_get_stats(&um, &stats);
	KUNIT_EXPECT_EQ(test, stats.maps_cached, 3);

	/* A span across a page no span used yet is looked up. */
	lend_iter(test, &um, addr + 2 * PAGE_SIZE, 4 * PAGE_SIZE, &iter, bv,
		  &ticket2);
	KUNIT_EXPECT_PTR_EQ(test, iter.bvec, (const struct bio_vec *)bv);
	umirror_unmap_bvec(&um, ticket2);
	fini_returned(test, &um, before);
}

/*
 * Rule 5 on a file whose mapping takes write notifications (ramfs, with
 * filemap_page_mkwrite()): a read fault maps a page read-only, and a
 * write fault makes it writable in place with no notifier
 * (wp_page_shared()), which republishes its entry: its cache entry stays,
 * so that a truncation freeing the page under a span lent from the cache
 * holds the cache, and the new page does not replace that span's bvec.
 */
static void umirror_test_lend_cached_shared(struct kunit *test)
{
	struct file_system_type *ramfs = get_fs_type("ramfs");
	const size_t size = 4 * PAGE_SIZE, half = size / 2;
	unsigned long before = pins_outstanding();
	unsigned long addr, faults;
	struct umirror_stats stats;
	struct iov_iter iter, out;
	struct vfsmount *mnt;
	struct bio_vec bv[4];
	struct umirror um;
	struct file *file;
	struct page *old;
	u32 ticket, ticket2;
	int i;

	KUNIT_ASSERT_NOT_NULL(test, ramfs);
	mnt = kern_mount(ramfs);
	put_filesystem(ramfs);
	KUNIT_ASSERT_FALSE(test, IS_ERR(mnt));
	file = file_open_root_mnt(mnt, "umirror-kunit", O_CREAT | O_RDWR, 0600);
	kern_unmount(mnt);	/* the file holds the mount */
	KUNIT_ASSERT_FALSE(test, IS_ERR(file));
	KUNIT_ASSERT_EQ(test, vfs_truncate(&file->f_path, size), 0);
	addr = kunit_vm_mmap(test, file, 0, size, PROT_READ | PROT_WRITE,
			     MAP_SHARED, 0);
	KUNIT_ASSERT_FALSE(test, IS_ERR_VALUE(addr));
	init_mirror(test, &um, addr, size, UMIRROR_WRITE | UMIRROR_MAP);

	/* Read-faulted, so mapped read-only: cached for device reads only. */
	for (i = 0; i < 2; i++) {
		KUNIT_ASSERT_EQ(test, umirror_map_iter(&um, addr, half, false,
						       &iter, bv, 4, &ticket), 0);
		umirror_unmap_bvec(&um, ticket);
	}
	KUNIT_ASSERT_PTR_NE(test, iter.bvec, (const struct bio_vec *)bv);

	/* Made writable in place: still cached. */
	umirror_get_stats(&um, &stats);
	faults = stats.faults;
	KUNIT_ASSERT_EQ(test, umirror_fault(&um, addr, half, true), 0);
	umirror_get_stats(&um, &stats);
	KUNIT_ASSERT_GT_MSG(test, stats.faults, faults,
			    "the read fault mapped the pages writable");
	KUNIT_ASSERT_EQ(test, umirror_map_iter(&um, addr, half, false, &iter,
					       bv, 4, &ticket), 0);
	KUNIT_EXPECT_PTR_NE(test, iter.bvec, (const struct bio_vec *)bv);
	umirror_unmap_bvec(&um, ticket);

	/* The same in the other half with a span out over the cache... */
	for (i = 0; i < 2; i++) {
		KUNIT_ASSERT_EQ(test, umirror_map_iter(&um, addr + half, half,
						       false, &out, bv, 4,
						       &ticket), 0);
		if (!i)
			umirror_unmap_bvec(&um, ticket);
	}
	KUNIT_ASSERT_PTR_NE(test, out.bvec, (const struct bio_vec *)bv);
	old = out.bvec[0].bv_page;
	umirror_get_stats(&um, &stats);
	faults = stats.faults;
	KUNIT_ASSERT_EQ(test, umirror_fault(&um, addr + half, half, true), 0);
	umirror_get_stats(&um, &stats);
	KUNIT_ASSERT_GT(test, stats.faults, faults);
	/* ...then its pages truncated: new ones, lent from @bv meanwhile. */
	KUNIT_ASSERT_EQ(test, vfs_truncate(&file->f_path, half), 0);
	KUNIT_ASSERT_EQ(test, vfs_truncate(&file->f_path, size), 0);
	KUNIT_EXPECT_TRUE(test, folio_maybe_dma_pinned(page_folio(old)));
	KUNIT_ASSERT_EQ(test, umirror_map_iter(&um, addr + half, half, true,
					       &iter, bv, 4, &ticket2), 0);
	KUNIT_EXPECT_PTR_EQ(test, iter.bvec, (const struct bio_vec *)bv);
	KUNIT_EXPECT_PTR_NE(test, bv[0].bv_page, old);
	KUNIT_EXPECT_PTR_EQ_MSG(test, out.bvec[0].bv_page, old,
				"a cache entry a span uses was rewritten");
	umirror_unmap_bvec(&um, ticket2);

	umirror_unmap_bvec(&um, ticket);
	fini_returned(test, &um, before);
	fput(file);
}

static struct kunit_case umirror_test_cases[] = {
	KUNIT_CASE(umirror_test_copy_classes),
	KUNIT_CASE(umirror_test_coherence),
	KUNIT_CASE(umirror_test_invalidate_one_page),
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	KUNIT_CASE(umirror_test_thp_pin),
	KUNIT_CASE(umirror_test_thp_split_before_pin),
#endif
	KUNIT_CASE(umirror_test_pin_small_pages),
	KUNIT_CASE(umirror_test_pin_nowait),
	KUNIT_CASE(umirror_test_lazy_cache),
	KUNIT_CASE(umirror_test_refusals),
	KUNIT_CASE(umirror_test_shared_file),
	KUNIT_CASE_SLOW(umirror_test_concurrent_invalidation),
	KUNIT_CASE(umirror_test_batch),
	KUNIT_CASE(umirror_test_batch_holds),
	KUNIT_CASE_SLOW(umirror_test_batch_concurrent),
	KUNIT_CASE(umirror_test_outlives_mm),
	KUNIT_CASE_SLOW(umirror_test_no_spurious_ebusy),
	KUNIT_CASE(umirror_test_shadow_stack),
#ifdef CONFIG_ADDRESS_MASKING
	KUNIT_CASE(umirror_test_tagged),
#endif
	KUNIT_CASE(umirror_test_marks_accessed),
	KUNIT_CASE(umirror_test_lend),
	KUNIT_CASE(umirror_test_lend_invalidate),
	KUNIT_CASE(umirror_test_lend_mprotect),
	KUNIT_CASE(umirror_test_lend_epoch_order),
	KUNIT_CASE(umirror_test_lend_epochs),
	KUNIT_CASE(umirror_test_lend_marked),
	KUNIT_CASE(umirror_test_lend_cached),
	KUNIT_CASE(umirror_test_lend_cached_shared),
#ifdef CONFIG_TRANSPARENT_HUGEPAGE
	KUNIT_CASE(umirror_test_lend_marked_thp),
#endif
	KUNIT_CASE_SLOW(umirror_test_lend_concurrent),
	{}
};

static struct kunit_suite umirror_test_suite = {
	.name = "umirror",
	.test_cases = umirror_test_cases,
};

kunit_test_suite(umirror_test_suite);

MODULE_DESCRIPTION("KUnit tests for umirror");
MODULE_LICENSE("GPL");
