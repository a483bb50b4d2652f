// SPDX-License-Identifier: GPL-2.0
/*
 * I/O on registered buffers while the process keeps changing the memory
 * behind them. O_DIRECT READ_FIXED of 16 KiB blocks from a memory-backed
 * block device whose every block holds a known pattern, QD 8, one
 * registered buffer holding the 8 slots and a 1 MiB churn area. A second
 * thread, at a fixed rate, either MADV_DONTNEEDs a page of the churn area
 * or mprotect()s the whole area read-only and back; every invalidation
 * reaches the buffer's mirror. With "dontneed" the main thread also drops
 * every 8th slot it has checked, so the next read into it faults anew.
 * Every completed read is checked against the pattern: a mismatch is lost
 * data, and the program fails.
 *
 * Runs, interleaved by round: pinned without churn (the baseline), then
 * unpinned without churn, with dontneed and with mprotect. One JSON line
 * per run.
 *
 *   churn-bench DEVICE ROUNDS MILLISECONDS
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <linux/fs.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"

const char *bench_name = "churn-bench";

#define BS		16384
#define QD		8
#define CHURN_BYTES	(1 << 20)
#define CHURN_PERIOD_US	200
#define PAGE		4096

enum churn { CHURN_NONE, CHURN_DONTNEED, CHURN_MPROTECT };
static const char *const churn_name[] = { "none", "dontneed", "mprotect" };

struct churner {
	char *area;
	enum churn kind;
	atomic_int stop;
	unsigned long ops;
};

static uint64_t pattern(uint64_t block, size_t word)
{
	return (block + 1) * 0x9e3779b97f4a7c15ULL ^ word;
}

static void fill_block(uint64_t *p, uint64_t block)
{
	size_t w;

	for (w = 0; w < BS / 8; w++)
		p[w] = pattern(block, w);
}

static int block_ok(const uint64_t *p, uint64_t block)
{
	size_t w;

	for (w = 0; w < BS / 8; w++)
		if (p[w] != pattern(block, w))
			return 0;
	return 1;
}

static void *churn_thread(void *arg)
{
	struct churner *c = arg;

	while (!atomic_load(&c->stop)) {
		if (c->kind == CHURN_DONTNEED) {
			madvise(c->area + (random() % (CHURN_BYTES / PAGE)) * PAGE,
				PAGE, MADV_DONTNEED);
		} else {
			mprotect(c->area, CHURN_BYTES, PROT_READ);
			mprotect(c->area, CHURN_BYTES, PROT_READ | PROT_WRITE);
		}
		c->ops++;
		usleep(CHURN_PERIOD_US);
	}
	return NULL;
}

static void queue_read(struct io_uring *ring, int fd, char *buf,
		       unsigned int slot, uint64_t block)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

	io_uring_prep_read_fixed(sqe, fd, buf + slot * BS, BS, block * BS, 0);
	sqe->user_data = (block << 8) | slot;
}

static void run(int fd, uint64_t blocks, int unpinned, enum churn kind,
		unsigned int round, unsigned int ms)
{
	size_t len = QD * BS + CHURN_BYTES;
	struct churner c = { .kind = kind };
	struct iovec iov;
	uint64_t done = 0, errors = 0, t0, end, block, data;
	struct io_uring ring;
	pthread_t thread;
	unsigned int slot;
	char *buf;
	int ret;

	buf = map_populated(len);
	c.area = buf + QD * BS;
	iov.iov_base = buf;
	iov.iov_len = len;
	ret = io_uring_queue_init(QD, &ring, 0);
	if (ret)
		fail("io_uring_queue_init", -ret);
	register_buffers(&ring, &iov, 1, unpinned);
	if (kind != CHURN_NONE && pthread_create(&thread, NULL, churn_thread, &c))
		fail("pthread_create", EAGAIN);
	for (slot = 0; slot < QD; slot++)
		queue_read(&ring, fd, buf, slot, random() % blocks);
	t0 = now_ns();
	end = t0 + ms * 1000000ULL;
	for (;;) {
		data = submit_and_reap(&ring, BS);
		slot = data & 0xff;
		block = data >> 8;
		errors += !block_ok((uint64_t *)(buf + slot * BS), block);
		done++;
		if (now_ns() >= end)
			break;
		/* Drop the slot: the next read into it must find new pages. */
		if (kind == CHURN_DONTNEED && done % 8 == 0)
			madvise(buf + slot * BS, BS, MADV_DONTNEED);
		queue_read(&ring, fd, buf, slot, random() % blocks);
	}
	t0 = now_ns() - t0;
	if (kind != CHURN_NONE) {
		atomic_store(&c.stop, 1);
		pthread_join(thread, NULL);
	}
	/* Drain what is still in flight before the buffer goes away. */
	io_uring_queue_exit(&ring);
	munmap(buf, len);
	printf("{\"bench\":\"churn\",\"round\":%u,\"mode\":\"%s\",\"churn\":\"%s\","
	       "\"iops\":%.0f,\"churn_ops\":%lu,\"verified\":%llu,\"errors\":%llu}\n",
	       round, unpinned ? "unpinned" : "pinned", churn_name[kind],
	       done * 1e9 / t0, c.ops, (unsigned long long)done,
	       (unsigned long long)errors);
	fflush(stdout);
	if (errors) {
		fprintf(stderr, "churn-bench: %llu reads did not hold the device's data\n",
			(unsigned long long)errors);
		exit(1);
	}
}

/* Write the pattern to every block of the device. */
static void prepare(const char *dev, uint64_t blocks)
{
	uint64_t *block_buf;
	uint64_t b;
	int fd = open(dev, O_WRONLY | O_DIRECT);

	if (fd < 0 || posix_memalign((void **)&block_buf, PAGE, BS))
		fail(dev, errno);
	for (b = 0; b < blocks; b++) {
		fill_block(block_buf, b);
		if (pwrite(fd, block_buf, BS, b * BS) != BS)
			fail("write pattern", errno);
	}
	close(fd);
	free(block_buf);
}

int main(int argc, char **argv)
{
	static const struct { int unpinned; enum churn kind; } runs[] = {
		{ 0, CHURN_NONE }, { 1, CHURN_NONE },
		{ 1, CHURN_DONTNEED }, { 1, CHURN_MPROTECT },
	};
	unsigned int rounds, ms, round, i, n = sizeof(runs) / sizeof(runs[0]);
	uint64_t dev_size;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: churn-bench DEVICE ROUNDS MILLISECONDS\n");
		return 2;
	}
	rounds = atoi(argv[2]);
	ms = atoi(argv[3]);
	fd = open_device(argv[1], &dev_size);
	prepare(argv[1], dev_size / BS);
	for (round = 1; round <= rounds; round++)
		for (i = 0; i < n; i++) {
			unsigned int k = (i + round) % n;

			run(fd, dev_size / BS, runs[k].unpinned, runs[k].kind,
			    round, ms);
		}
	return 0;
}
