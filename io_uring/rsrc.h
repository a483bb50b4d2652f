// SPDX-License-Identifier: GPL-2.0
#ifndef IOU_RSRC_H
#define IOU_RSRC_H

#include <linux/umirror.h>

#define IO_NODE_ALLOC_CACHE_MAX 32

#define IO_RSRC_TAG_TABLE_SHIFT	(PAGE_SHIFT - 3)
#define IO_RSRC_TAG_TABLE_MAX	(1U << IO_RSRC_TAG_TABLE_SHIFT)
#define IO_RSRC_TAG_TABLE_MASK	(IO_RSRC_TAG_TABLE_MAX - 1)

enum {
	IORING_RSRC_FILE		= 0,
	IORING_RSRC_BUFFER		= 1,
};

struct io_rsrc_put {
	u64 tag;
	union {
		void *rsrc;
		struct file *file;
		struct io_mapped_ubuf *buf;
	};
};

struct io_rsrc_data {
	struct io_ring_ctx		*ctx;

	u64				**tags;
	unsigned int			nr;
	u16				rsrc_type;
	bool				quiesce;
};

struct io_rsrc_node {
	struct io_ring_ctx		*ctx;
	int				refs;
	bool				empty;
	u16				type;
	struct list_head		node;
	struct io_rsrc_put		item;
};

struct io_mapped_ubuf {
	u64		ubuf;
	unsigned int	len;
	unsigned int	nr_bvecs;
	unsigned int    folio_shift;
	refcount_t	refs;
	unsigned long	acct_pages;
	/* Unpinned buffers: pages are reached through this; bvec[] is empty. */
	struct umirror	*mirror;
	struct bio_vec	bvec[] __counted_by(nr_bvecs);
};

#define IO_IMU_PINS_INLINE	8
/* Largest bvec array kept across requests: spans up to 1 MiB of 4K pages. */
#define IO_IMU_PINS_SPARE_MAX	256

/*
 * The pages one request holds of an unpinned registered buffer: pinned at
 * issue, released once the I/O can no longer touch them, or when the
 * request goes back to wait (io_imu_pins_release()). Allocated on the
 * first import that pins (io_imu_pins_get()), so requests that never pin
 * pay one pointer. @bvec is NULL when nothing is held, else @inline_bvec
 * or @spare; with @lender set it holds no pins but a span @lender lent
 * (umirror_map_iter()) under @ticket, whose iterator may be over the
 * lender's bvecs rather than @bvec. @spare, an array of @spare_nr bvecs
 * for spans past IO_IMU_PINS_INLINE pages, outlives the pins so that a recycled holder
 * imports again without allocating; io_imu_pins_free() frees it with the
 * holder, and release frees it if larger than IO_IMU_PINS_SPARE_MAX, so
 * idle holders keep little memory. @next chains older holders whose pins
 * must outlive a new import: a SEND_ZC's sent part, which the skbs use
 * until the notification; io_imu_pins_free() frees the chain.
 */
struct io_imu_pins {
	struct bio_vec		*bvec;
	unsigned int		nr;
	bool			dirty;
	struct umirror		*lender;
	u32			ticket;
	unsigned int		spare_nr;
	struct bio_vec		*spare;
	struct io_imu_pins	*next;
	struct bio_vec		inline_bvec[IO_IMU_PINS_INLINE];
};

struct io_imu_folio_data {
	/* Head folio can be partially included in the fixed buf */
	unsigned int	nr_pages_head;
	/* For non-head/tail folios, has to be fully included */
	unsigned int	nr_pages_mid;
	unsigned int	folio_shift;
	unsigned long	first_folio_page_idx;
};

void io_rsrc_node_ref_zero(struct io_rsrc_node *node);
void io_rsrc_node_destroy(struct io_ring_ctx *ctx, struct io_rsrc_node *ref_node);
struct io_rsrc_node *io_rsrc_node_alloc(struct io_ring_ctx *ctx);
int io_queue_rsrc_removal(struct io_rsrc_data *data, unsigned idx, void *rsrc);

int io_import_fixed(struct io_kiocb *req, int ddir, struct iov_iter *iter,
		    struct io_mapped_ubuf *imu, u64 buf_addr, size_t len,
		    struct io_imu_pins **holder, bool lend,
		    unsigned int issue_flags);
int io_import_fixed_check(struct io_mapped_ubuf *imu, u64 buf_addr,
			  size_t len);
void io_imu_pins_release(struct io_imu_pins *pins);
void io_imu_pins_trim(struct io_imu_pins *pins, const struct iov_iter *iter);
void io_imu_pins_free(struct io_imu_pins *pins);

/* Without CONFIG_UMIRROR (no MMU) no buffer is unpinned. */
static inline bool io_imu_unpinned(const struct io_mapped_ubuf *imu)
{
	return IS_ENABLED(CONFIG_UMIRROR) && imu->mirror;
}

/*
 * Whether I/O that does not DMA (no IOCB_DIRECT) may reach an unpinned
 * buffer through its user address, as read(2) would: only from a task of
 * the registering mm. See io_import_fixed().
 */
static inline bool io_imu_user_access(const struct io_mapped_ubuf *imu)
{
	return io_imu_unpinned(imu) && umirror_is_of_mm(imu->mirror, current->mm);
}

int io_register_clone_buffers(struct io_ring_ctx *ctx, void __user *arg);
void __io_sqe_buffers_unregister(struct io_ring_ctx *ctx);
int io_sqe_buffers_unregister(struct io_ring_ctx *ctx);
extern int sysctl_io_uring_unpinned_buffers;
extern int sysctl_io_uring_unpinned_request_pins;

int io_sqe_buffers_register(struct io_ring_ctx *ctx, void __user *arg,
			    unsigned int nr_args, u64 __user *tags,
			    unsigned int flags);
void __io_sqe_files_unregister(struct io_ring_ctx *ctx);
int io_sqe_files_unregister(struct io_ring_ctx *ctx);
int io_sqe_files_register(struct io_ring_ctx *ctx, void __user *arg,
			  unsigned nr_args, u64 __user *tags);

int io_register_files_update(struct io_ring_ctx *ctx, void __user *arg,
			     unsigned nr_args);
int io_register_rsrc_update(struct io_ring_ctx *ctx, void __user *arg,
			    unsigned size, unsigned type);
int io_register_rsrc(struct io_ring_ctx *ctx, void __user *arg,
			unsigned int size, unsigned int type);

static inline void io_put_rsrc_node(struct io_ring_ctx *ctx, struct io_rsrc_node *node)
{
	lockdep_assert_held(&ctx->uring_lock);

	if (node && !--node->refs)
		io_rsrc_node_ref_zero(node);
}

static inline void io_charge_rsrc_node(struct io_ring_ctx *ctx,
				       struct io_rsrc_node *node)
{
	node->refs++;
}

static inline void __io_req_set_rsrc_node(struct io_kiocb *req,
					  struct io_ring_ctx *ctx)
{
	lockdep_assert_held(&ctx->uring_lock);
	req->rsrc_node = ctx->rsrc_node;
	io_charge_rsrc_node(ctx, ctx->rsrc_node);
}

static inline void io_req_set_rsrc_node(struct io_kiocb *req,
					struct io_ring_ctx *ctx,
					unsigned int issue_flags)
{
	if (!req->rsrc_node) {
		io_ring_submit_lock(ctx, issue_flags);
		__io_req_set_rsrc_node(req, ctx);
		io_ring_submit_unlock(ctx, issue_flags);
	}
}

static inline u64 *io_get_tag_slot(struct io_rsrc_data *data, unsigned int idx)
{
	unsigned int off = idx & IO_RSRC_TAG_TABLE_MASK;
	unsigned int table_idx = idx >> IO_RSRC_TAG_TABLE_SHIFT;

	return &data->tags[table_idx][off];
}

static inline int io_rsrc_init(struct io_ring_ctx *ctx)
{
	ctx->rsrc_node = io_rsrc_node_alloc(ctx);
	return ctx->rsrc_node ? 0 : -ENOMEM;
}

int io_files_update(struct io_kiocb *req, unsigned int issue_flags);
int io_files_update_prep(struct io_kiocb *req, const struct io_uring_sqe *sqe);

int __io_account_mem(struct user_struct *user, unsigned long nr_pages);

static inline void __io_unaccount_mem(struct user_struct *user,
				      unsigned long nr_pages)
{
	atomic_long_sub(nr_pages, &user->locked_vm);
}

#endif
