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
 * a read of the same open file returns "NSECS ITERATIONS" of the last run.
 * OP is one of copy_from_user, copy_to_user, umirror_read, umirror_write,
 * pin_user_pages_fast, umirror_pin_bvec.
 */

#include <linux/bvec.h>
#include <linux/debugfs.h>
#include <linux/fs.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/uaccess.h>
#include <linux/umirror.h>

#define TEST_UMIRROR_MAX_LEN	SZ_16M
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

/* One open file: the result of its last run. */
struct test_umirror_result {
	u64 nsecs;
	unsigned long iters;
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
	char out[48];
	int len;

	len = scnprintf(out, sizeof(out), "%llu %lu\n", result->nsecs,
			result->iters);
	return simple_read_from_buffer(ubuf, count, ppos, out, len);
}

static int test_umirror_open(struct inode *inode, struct file *file)
{
	struct test_umirror_result *result;

	result = kzalloc(sizeof(*result), GFP_KERNEL);
	file->private_data = result;
	return result ? 0 : -ENOMEM;
}

static int test_umirror_release(struct inode *inode, struct file *file)
{
	kfree(file->private_data);
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
