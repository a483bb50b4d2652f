// SPDX-License-Identifier: GPL-2.0
/*
 * Cost of umirror's primitives next to what they replace, measured in the
 * kernel: umirror_read()/umirror_write() against copy_from_user()/
 * copy_to_user(), and umirror_pin_bvec() + unpin against
 * pin_user_pages_fast() + unpin_user_pages(), on memory of the calling
 * process.
 *
 * A process writes "OP ADDR LEN ITERATIONS" to
 * /sys/kernel/debug/test_umirror/run; the write runs OP ITERATIONS times
 * on [ADDR, ADDR + LEN) of the writer's mm, after one untimed warm-up, and
 * a read of the same open file returns "NSECS ITERATIONS VALUE" of the
 * last command. OP is one of copy_from_user, copy_to_user, umirror_read,
 * umirror_write, pin_user_pages_fast, umirror_pin_bvec.
 *
 * For the guest tests of GUP's rules, an open file also keeps one mirror
 * of the writer's memory and the pins of one span (numbers in hex where
 * an address, else decimal; W is 0 or 1):
 *
 *   mirror ADDR LEN W   umirror_init(), UMIRROR_WRITE if W
 *   check               umirror_check()
 *   fault ADDR LEN W    umirror_fault()
 *   read ADDR LEN       umirror_read(); VALUE is the FNV-1a hash of the bytes
 *   write ADDR LEN B    umirror_write() of LEN bytes B
 *   hold ADDR LEN W     umirror_pin_bvec(), kept; VALUE is the bvec count
 *   fill B              write B over pages held with W, as a device would
 *   compare             VALUE: held pages the process no longer maps there
 *   release             umirror_unpin_bvec(), dirty if held with W
 *
 * A failing command fails the write() with its errno.
 */

#include <linux/bvec.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/pagemap.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/umirror.h>

#define TEST_UMIRROR_MAX_LEN	SZ_16M
#define TEST_UMIRROR_MAX_MIRROR	SZ_4G
#define TEST_UMIRROR_MAX_ITERS	10000000

enum test_umirror_op {
	OP_COPY_FROM_USER,
	OP_COPY_TO_USER,
	OP_UMIRROR_READ,
	OP_UMIRROR_WRITE,
	OP_PIN_USER_PAGES_FAST,
	OP_UMIRROR_PIN_BVEC,
};

static const char *const test_umirror_ops[] = {
	[OP_COPY_FROM_USER] = "copy_from_user",
	[OP_COPY_TO_USER] = "copy_to_user",
	[OP_UMIRROR_READ] = "umirror_read",
	[OP_UMIRROR_WRITE] = "umirror_write",
	[OP_PIN_USER_PAGES_FAST] = "pin_user_pages_fast",
	[OP_UMIRROR_PIN_BVEC] = "umirror_pin_bvec",
};

/* One open file: the result of its last command, a mirror, a held span. */
struct test_umirror_result {
	u64 nsecs;
	unsigned long iters;
	u64 value;
	struct mutex lock;	/* serializes the commands on this file */
	bool mirrored;
	struct umirror um;
	unsigned long hold_addr;
	size_t hold_len;
	bool hold_write;
	struct bio_vec *bv;
	unsigned int nr_bv;
};

/* What one iteration needs: buffers sized for the span, a mirror of it. */
struct test_umirror_run {
	enum test_umirror_op op;
	unsigned long addr;
	size_t len;
	unsigned long npages;
	void *kbuf;
	struct page **pages;
	struct bio_vec *bv;
	struct umirror um;
};

static int test_umirror_once(struct test_umirror_run *run)
{
	unsigned int nr;
	int ret;

	switch (run->op) {
	case OP_COPY_FROM_USER:
		return copy_from_user(run->kbuf, (void __user *)run->addr,
				      run->len) ? -EFAULT : 0;
	case OP_COPY_TO_USER:
		return copy_to_user((void __user *)run->addr, run->kbuf,
				    run->len) ? -EFAULT : 0;
	case OP_UMIRROR_READ:
		return umirror_read(&run->um, run->kbuf, run->addr, run->len);
	case OP_UMIRROR_WRITE:
		return umirror_write(&run->um, run->addr, run->kbuf, run->len);
	case OP_PIN_USER_PAGES_FAST:
		ret = pin_user_pages_fast(run->addr & PAGE_MASK, run->npages,
					  FOLL_WRITE, run->pages);
		if (ret > 0)
			unpin_user_pages(run->pages, ret);
		return ret == run->npages ? 0 : -EFAULT;
	case OP_UMIRROR_PIN_BVEC:
		ret = umirror_pin_bvec(&run->um, run->addr, run->len, true,
				       run->bv, run->npages, &nr);
		if (!ret)
			umirror_unpin_bvec(run->bv, nr, false);
		return ret;
	}
	return -EINVAL;
}

static int test_umirror_measure(struct test_umirror_run *run,
				unsigned long iters,
				struct test_umirror_result *result)
{
	unsigned long i;
	u64 start;
	int ret;

	/* Untimed: faults the span in, so the loop measures steady state. */
	ret = test_umirror_once(run);
	if (ret)
		return ret;
	start = ktime_get_ns();
	for (i = 0; i < iters; i++) {
		ret = test_umirror_once(run);
		if (ret)
			return ret;
		if (fatal_signal_pending(current))
			return -EINTR;
		cond_resched();
	}
	result->nsecs = ktime_get_ns() - start;
	result->iters = iters;
	return 0;
}

static int test_umirror_start(struct test_umirror_run *run)
{
	run->npages = DIV_ROUND_UP(offset_in_page(run->addr) + run->len,
				   PAGE_SIZE);
	run->kbuf = kvzalloc(run->len, GFP_KERNEL);
	run->pages = kvcalloc(run->npages, sizeof(*run->pages), GFP_KERNEL);
	run->bv = kvcalloc(run->npages, sizeof(*run->bv), GFP_KERNEL);
	if (!run->kbuf || !run->pages || !run->bv)
		return -ENOMEM;
	return umirror_init(&run->um, current->mm, run->addr, run->len,
			    UMIRROR_WRITE);
}

static const char *const test_umirror_cmds[] = {
	"mirror", "check", "fault", "read", "write", "hold", "fill", "compare",
	"release",
};

static void test_umirror_unhold(struct test_umirror_result *r)
{
	if (!r->bv)
		return;
	umirror_unpin_bvec(r->bv, r->nr_bv, r->hold_write);
	kvfree(r->bv);
	r->bv = NULL;
	r->nr_bv = 0;
}

static void test_umirror_unmirror(struct test_umirror_result *r)
{
	test_umirror_unhold(r);
	if (r->mirrored)
		umirror_fini(&r->um);
	r->mirrored = false;
}

static u64 test_umirror_fnv1a(const u8 *buf, size_t len)
{
	u64 hash = 0xcbf29ce484222325ULL;

	while (len--) {
		hash ^= *buf++;
		hash *= 0x100000001b3ULL;
	}
	return hash;
}

static int test_umirror_hold(struct test_umirror_result *r, unsigned long addr,
			     size_t len, bool write)
{
	unsigned int max_bv = DIV_ROUND_UP(offset_in_page(addr) + len, PAGE_SIZE);
	int ret;

	test_umirror_unhold(r);
	r->bv = kvcalloc(max_bv, sizeof(*r->bv), GFP_KERNEL);
	if (!r->bv)
		return -ENOMEM;
	ret = umirror_pin_bvec(&r->um, addr, len, write, r->bv, max_bv, &r->nr_bv);
	if (ret) {
		kvfree(r->bv);
		r->bv = NULL;
		return ret;
	}
	r->hold_addr = addr;
	r->hold_len = len;
	r->hold_write = write;
	r->value = r->nr_bv;
	return 0;
}

/* Write @byte over the held pages, as a device writing the buffer would. */
static void test_umirror_fill(struct test_umirror_result *r, u8 byte)
{
	unsigned int i;
	size_t done;
	void *kaddr;

	for (i = 0; i < r->nr_bv; i++) {
		struct bio_vec *bv = &r->bv[i];

		for (done = 0; done < bv->bv_len; ) {
			size_t off = bv->bv_offset + done;
			size_t n = min_t(size_t, bv->bv_len - done,
					 PAGE_SIZE - offset_in_page(off));
			struct page *page = nth_page(bv->bv_page, off >> PAGE_SHIFT);

			kaddr = kmap_local_page(page);
			memset(kaddr + offset_in_page(off), byte, n);
			kunmap_local(kaddr);
			done += n;
		}
	}
}

/* Held pages that are not the pages the process maps at their address now. */
static int test_umirror_compare(struct test_umirror_result *r)
{
	unsigned long first = r->hold_addr & PAGE_MASK;
	unsigned long npages = DIV_ROUND_UP(offset_in_page(r->hold_addr) +
					    r->hold_len, PAGE_SIZE);
	unsigned long i = 0, k, differ = 0;
	struct page **pages;
	unsigned int b;
	int ret;

	pages = kvcalloc(npages, sizeof(*pages), GFP_KERNEL);
	if (!pages)
		return -ENOMEM;
	ret = get_user_pages_fast(first, npages, 0, pages);
	if (ret != npages) {
		if (ret > 0)
			release_pages(pages, ret);
		kvfree(pages);
		return ret < 0 ? ret : -EFAULT;
	}
	for (b = 0; b < r->nr_bv; b++) {
		struct bio_vec *bv = &r->bv[b];
		unsigned long n = DIV_ROUND_UP(bv->bv_offset + bv->bv_len, PAGE_SIZE);

		for (k = 0; k < n && i < npages; k++, i++)
			differ += nth_page(bv->bv_page, k) != pages[i];
	}
	release_pages(pages, npages);
	kvfree(pages);
	r->value = differ;
	return 0;
}

static int test_umirror_command(struct test_umirror_result *r, const char *cmd)
{
	char op[32];
	unsigned long addr;
	unsigned int arg;
	size_t len;
	u8 *buf;
	int ret;

	r->value = 0;
	if (sscanf(cmd, "mirror %lx %zu %u", &addr, &len, &arg) == 3) {
		if (len > TEST_UMIRROR_MAX_MIRROR)
			return -EINVAL;
		test_umirror_unmirror(r);
		ret = umirror_init(&r->um, current->mm, addr, len,
				   arg ? UMIRROR_WRITE : 0);
		r->mirrored = !ret;
		return ret;
	}
	if (sscanf(cmd, "%31s", op) != 1 || !r->mirrored)
		return -EINVAL;
	if (!strcmp(op, "check"))
		return umirror_check(&r->um);
	if (sscanf(cmd, "fault %lx %zu %u", &addr, &len, &arg) == 3)
		return umirror_fault(&r->um, addr, len, arg);
	if (sscanf(cmd, "hold %lx %zu %u", &addr, &len, &arg) == 3) {
		if (!len || len > TEST_UMIRROR_MAX_LEN)
			return -EINVAL;
		return test_umirror_hold(r, addr, len, arg);
	}
	if (sscanf(cmd, "fill %u", &arg) == 1) {
		if (!r->bv)
			return -EINVAL;
		/*
		 * Only a pin for writing may be written: a read-only pin may
		 * hold the shared zero page, a KSM page or a read-only file.
		 */
		if (!r->hold_write)
			return -EPERM;
		test_umirror_fill(r, arg);
		return 0;
	}
	if (!strcmp(op, "compare"))
		return r->bv ? test_umirror_compare(r) : -EINVAL;
	if (!strcmp(op, "release")) {
		test_umirror_unhold(r);
		return 0;
	}
	if (sscanf(cmd, "read %lx %zu", &addr, &len) == 2 ||
	    sscanf(cmd, "write %lx %zu %u", &addr, &len, &arg) == 3) {
		if (!len || len > TEST_UMIRROR_MAX_LEN)
			return -EINVAL;
		buf = kvmalloc(len, GFP_KERNEL);
		if (!buf)
			return -ENOMEM;
		if (!strcmp(op, "read")) {
			ret = umirror_read(&r->um, buf, addr, len);
			if (!ret)
				r->value = test_umirror_fnv1a(buf, len);
		} else {
			memset(buf, arg, len);
			ret = umirror_write(&r->um, addr, buf, len);
		}
		kvfree(buf);
		return ret;
	}
	return -EINVAL;
}

static ssize_t test_umirror_write(struct file *file, const char __user *ubuf,
				  size_t count, loff_t *ppos)
{
	struct test_umirror_result *result = file->private_data;
	struct test_umirror_run run = {};
	unsigned long iters;
	char cmd[128], op[32];
	int ret;

	if (!current->mm)
		return -EINVAL;
	if (count >= sizeof(cmd))
		return -EINVAL;
	if (copy_from_user(cmd, ubuf, count))
		return -EFAULT;
	cmd[count] = '\0';
	if (sscanf(cmd, "%31s", op) != 1)
		return -EINVAL;
	if (match_string(test_umirror_cmds, ARRAY_SIZE(test_umirror_cmds), op) >= 0) {
		mutex_lock(&result->lock);
		ret = test_umirror_command(result, cmd);
		mutex_unlock(&result->lock);
		return ret ? ret : count;
	}
	if (sscanf(cmd, "%31s %lx %zu %lu", op, &run.addr, &run.len, &iters) != 4)
		return -EINVAL;
	ret = match_string(test_umirror_ops, ARRAY_SIZE(test_umirror_ops), op);
	if (ret < 0)
		return ret;
	run.op = ret;
	if (!run.len || run.len > TEST_UMIRROR_MAX_LEN || !iters ||
	    iters > TEST_UMIRROR_MAX_ITERS)
		return -EINVAL;

	ret = test_umirror_start(&run);
	if (!ret) {
		ret = test_umirror_measure(&run, iters, result);
		umirror_fini(&run.um);
	}
	kvfree(run.bv);
	kvfree(run.pages);
	kvfree(run.kbuf);
	return ret ? ret : count;
}

static ssize_t test_umirror_read(struct file *file, char __user *ubuf,
				 size_t count, loff_t *ppos)
{
	struct test_umirror_result *result = file->private_data;
	char out[72];
	int len;

	len = scnprintf(out, sizeof(out), "%llu %lu %llu\n", result->nsecs,
			result->iters, result->value);
	return simple_read_from_buffer(ubuf, count, ppos, out, len);
}

static int test_umirror_open(struct inode *inode, struct file *file)
{
	struct test_umirror_result *result;

	result = kzalloc(sizeof(*result), GFP_KERNEL);
	if (!result)
		return -ENOMEM;
	mutex_init(&result->lock);
	file->private_data = result;
	return 0;
}

static int test_umirror_release(struct inode *inode, struct file *file)
{
	struct test_umirror_result *result = file->private_data;

	test_umirror_unmirror(result);
	kfree(result);
	return 0;
}

static const struct file_operations test_umirror_fops = {
	.owner = THIS_MODULE,
	.open = test_umirror_open,
	.release = test_umirror_release,
	.read = test_umirror_read,
	.write = test_umirror_write,
	.llseek = default_llseek,
};

static struct dentry *test_umirror_dir;

static int __init test_umirror_init(void)
{
	test_umirror_dir = debugfs_create_dir("test_umirror", NULL);
	debugfs_create_file("run", 0600, test_umirror_dir, NULL,
			    &test_umirror_fops);
	return 0;
}

static void __exit test_umirror_exit(void)
{
	debugfs_remove_recursive(test_umirror_dir);
}

module_init(test_umirror_init);
module_exit(test_umirror_exit);
MODULE_DESCRIPTION("Cost of umirror's primitives against uaccess and GUP");
MODULE_LICENSE("GPL");
