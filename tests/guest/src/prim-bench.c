// SPDX-License-Identifier: GPL-2.0
/*
 * Cost of umirror's primitives against what they replace, through the
 * test_umirror debugfs file (CONFIG_TEST_UMIRROR): copies at 8 B..64 KiB,
 * pin + unpin at 4 KiB..1 MiB on small pages and on a THP. The pair of a
 * comparison runs back to back, its order alternating by round. One JSON
 * line per measurement, in ns per operation.
 *
 *   prim-bench ROUNDS SCALE     SCALE divides the iteration counts
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

const char *bench_name = "prim-bench";

#define RUN_FILE	"/sys/kernel/debug/test_umirror/run"
#define THP_SIZE	(2UL << 20)

struct pair {
	const char *base, *umirror;
	size_t size;
	unsigned long iters;
	int thp;
};

static const struct pair pairs[] = {
	{ "copy_from_user", "umirror_read", 8, 20000, 0 },
	{ "copy_from_user", "umirror_read", 64, 20000, 0 },
	{ "copy_from_user", "umirror_read", 4096, 5000, 0 },
	{ "copy_from_user", "umirror_read", 65536, 500, 0 },
	{ "copy_to_user", "umirror_write", 8, 20000, 0 },
	{ "copy_to_user", "umirror_write", 64, 20000, 0 },
	{ "copy_to_user", "umirror_write", 4096, 5000, 0 },
	{ "copy_to_user", "umirror_write", 65536, 500, 0 },
	{ "pin_user_pages_fast", "umirror_pin_bvec", 4096, 5000, 0 },
	{ "pin_user_pages_fast", "umirror_pin_bvec", 65536, 1000, 0 },
	{ "pin_user_pages_fast", "umirror_pin_bvec", 1 << 20, 100, 0 },
	{ "pin_user_pages_fast", "umirror_pin_bvec", 4096, 5000, 1 },
	{ "pin_user_pages_fast", "umirror_pin_bvec", 65536, 1000, 1 },
	{ "pin_user_pages_fast", "umirror_pin_bvec", 1 << 20, 1000, 1 },
};

/* THP_SIZE of memory, THP-aligned, backed by one THP or by small pages. */
static char *map_pages(int thp)
{
	char *map = mmap(NULL, 2 * THP_SIZE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *buf;

	if (map == MAP_FAILED)
		fail("mmap", errno);
	buf = (char *)(((uintptr_t)map + THP_SIZE - 1) & ~(THP_SIZE - 1));
	if (madvise(buf, THP_SIZE, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE))
		fail("madvise", errno);
	memset(buf, 1, THP_SIZE);
	return buf;
}

static int thp_backed(const char *buf)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256];
	unsigned long start, end, kib;
	int in = 0, ret = 0;

	if (!f)
		fail("smaps", errno);
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx", &start, &end) == 2)
			in = start <= (uintptr_t)buf && (uintptr_t)buf < end;
		else if (in && sscanf(line, "AnonHugePages: %lu kB", &kib) == 1)
			ret = kib >= THP_SIZE >> 10;
	}
	fclose(f);
	return ret;
}

static double ns_per_op(const char *op, const char *buf, size_t size,
			unsigned long iters)
{
	unsigned long long ns;
	unsigned long n;
	char cmd[128], out[64];
	int fd, len;

	fd = open(RUN_FILE, O_RDWR);
	if (fd < 0)
		fail(RUN_FILE " (a kernel with CONFIG_TEST_UMIRROR and debugfs?)", errno);
	len = snprintf(cmd, sizeof(cmd), "%s %lx %zu %lu", op,
		       (unsigned long)buf, size, iters);
	if (write(fd, cmd, len) != len)
		fail(op, errno);
	len = read(fd, out, sizeof(out) - 1);
	if (len <= 0)
		fail("read result", errno);
	out[len] = '\0';
	if (sscanf(out, "%llu %lu", &ns, &n) != 2 || n != iters)
		fail("parse result", EINVAL);
	close(fd);
	return (double)ns / n;
}

int main(int argc, char **argv)
{
	unsigned int rounds, scale, round, i, k;
	char *pages[2];

	if (argc != 3) {
		fprintf(stderr, "usage: prim-bench ROUNDS SCALE\n");
		return 2;
	}
	rounds = atoi(argv[1]);
	scale = atoi(argv[2]);
	pages[0] = map_pages(0);
	pages[1] = map_pages(1);
	if (!thp_backed(pages[1]))
		fprintf(stderr, "prim-bench: no THP could be allocated; \"thp\" rows are small pages\n");
	for (round = 1; round <= rounds; round++) {
		for (i = 0; i < sizeof(pairs) / sizeof(pairs[0]); i++) {
			const struct pair *p = &pairs[i];
			unsigned long iters = p->iters / scale ? p->iters / scale : 1;

			for (k = 0; k < 2; k++) {
				const char *op = (k + round) % 2 ? p->umirror : p->base;

				printf("{\"bench\":\"primitive\",\"round\":%u,\"op\":\"%s\","
				       "\"baseline\":\"%s\",\"size\":%zu,\"pages\":\"%s\","
				       "\"ns\":%.1f}\n", round, op, p->base, p->size,
				       p->thp ? "thp" : "4k",
				       ns_per_op(op, pages[p->thp], p->size, iters));
				fflush(stdout);
			}
		}
	}
	return 0;
}
