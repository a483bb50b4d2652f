// SPDX-License-Identifier: GPL-2.0

struct uring_cache {
	struct io_uring_sqe sqes[2];
	/* pages of an unpinned registered buffer the command holds */
	struct io_imu_pins *pins;
	/* of the ->uring_cmd() call in progress, for the buffer import */
	unsigned int issue_flags;
};

int io_uring_cmd(struct io_kiocb *req, unsigned int issue_flags);
int io_uring_cmd_prep(struct io_kiocb *req, const struct io_uring_sqe *sqe);
void io_uring_cmd_cleanup(struct io_kiocb *req);
void io_uring_cache_free(const void *entry);

bool io_uring_try_cancel_uring_cmd(struct io_ring_ctx *ctx,
				   struct task_struct *task, bool cancel_all);
