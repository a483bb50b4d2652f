// SPDX-License-Identifier: GPL-2.0
/*
 * vhost rings and dirty log, checked from the driver's side: a split ring
 * in "guest memory" (this process's memory, guest address 0 at mem) served
 * by vhost_test.ko (tools/virtio/vhost_test), which writes every byte of a
 * chain's writable buffers with the low byte of the chain's head and logs
 * what it wrote. Each round posts chains, kicks, may change the memory
 * under the worker (--churn), waits for every completion and checks:
 * each used entry names a posted chain with its length, each written
 * buffer holds its pattern, and with --log the dirty log has exactly the
 * bits of the pages written (the written buffers and the used ring) and
 * no other. The vhost.umirror parameter, set by the caller, picks how the
 * kernel reaches the rings and the log.
 *
 *   vhost-ring --memory anon|memfd|thp|secretmem [--log] [--rounds N]
 *              [--churn none|dontneed|mprotect|migrate|logremap]
 *              [--bad unmapped|ro-used|ro-used-late|log-unmapped|log-ro]
 *              [--log-pins any|none|some] [--small] [--seed S]
 *              [--pins-shared]
 *   vhost-ring --memory KIND [--log] --oom MEMCG_DIR [--hold SLOW_DEV]
 *
 * --small: every chain writes two buffers of 64 bytes on two pages, so
 * that the dirty log, not the copy, is most of the device's work (the
 * benchmark's measure of logging).
 * --pins-shared: other processes pin and unpin meanwhile (tests/guest/t/
 * storm.sh), so the system's FOLL_PIN counters say nothing of this run:
 * no pin checks.
 * --oom: the driver, in a 32 MiB memcg, keeps vhost busy on its rings
 * (and log) while it allocates until the OOM killer kills it. With --hold,
 * a thread asleep in a read of a slow device keeps the mm alive past the
 * kill, so that the OOM reaper, not exit_mmap(), frees the memory under
 * the mirrors, with an invalidation that may not block. Checked: killed
 * by the OOM killer, gone within 30 s, reaped where held, the memcg's
 * memory back under 1 MiB. The vhost worker is the owner's vhost_task and
 * dies with it, so nothing reaches the mirrors after the reap: the case
 * is the notifier's non-blockable invalidation and the teardown.
 * TAP lines; exit 0 if all passed.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/vhost.h>
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "guest-test.h"

/* drivers/vhost/test.h */
#define VHOST_TEST_RUN _IOW(VHOST_VIRTIO, 0x31, int)
#define VHOST_TEST_SET_BACKEND _IOW(VHOST_VIRTIO, 0x32, int)

#define PAGE		4096UL
#define MEM_SIZE	(8UL << 20)
#define NUM		256		/* ring entries */
#define DESC_OFF	0		/* page 0: 256 * 16 bytes */
#define AVAIL_OFF	PAGE		/* page 1 */
#define USED_OFF	(2 * PAGE)	/* page 2 */
#define DATA_OFF	(1UL << 20)
#define SLOT		(16 * 1024)	/* per chain: out buffer, then in buffers */
#define CHAINS		(NUM / 3)	/* chain c uses descriptors 3c..3c+2 */
#define LOG_BITS	(MEM_SIZE / PAGE)

static int vhost, kick, call, err_fd;
static uint8_t *mem, *ring_mem, *logmap;
static struct vring_desc *desc;
/* The desc ring's address as vhost is told it: desc, or a hole. */
static void *desc_user;
static struct vring_avail *avail;
static struct vring_used *used;
static uint16_t avail_idx, used_seen;
static size_t ring_len;
static bool use_log, ring_apart, small;
static const char *memory = "anon", *churn = "none", *bad = "";
static unsigned int seed = 1;

static void xioctl(unsigned long req, void *arg, const char *what)
{
	if (ioctl(vhost, req, arg) < 0)
		die(what);
}

/* Guest address of @p, which is in mem. */
static uint64_t gpa(const void *p)
{
	return (const uint8_t *)p - mem;
}

static void *map_memory(const char *kind, size_t len)
{
	uint8_t *p;
	int fd;

	if (!strcmp(kind, "memfd") || !strcmp(kind, "secretmem")) {
		fd = !strcmp(kind, "memfd") ? memfd_create("vhost-ring", 0) :
			syscall(SYS_memfd_secret, 0);
		if (fd < 0 || ftruncate(fd, len))
			die(kind);
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
		close(fd);
		if (p == MAP_FAILED)
			die("mmap");
		return p;
	}
	if (!strcmp(kind, "thp")) {
		/* 2 MiB aligned, so the rings sit in a THP. */
		p = map_anon(len + (2UL << 20), PROT_READ | PROT_WRITE);
		p = (uint8_t *)(((uintptr_t)p + (2UL << 20) - 1) &
				~((2UL << 20) - 1));
		if (madvise(p, len, MADV_HUGEPAGE))
			die("MADV_HUGEPAGE");
		return p;
	}
	return map_anon(len, PROT_READ | PROT_WRITE);
}

static void set_ring_addr(void)
{
	struct vhost_vring_addr addr = {
		.index = 0,
		.desc_user_addr = (uintptr_t)desc_user,
		.avail_user_addr = (uintptr_t)avail,
		.used_user_addr = (uintptr_t)used,
		.flags = use_log && !ring_apart ? 1 << VHOST_VRING_F_LOG : 0,
		.log_guest_addr = ring_apart ? 0 : gpa(used),
	};

	xioctl(VHOST_SET_VRING_ADDR, &addr, "VHOST_SET_VRING_ADDR");
}

static void set_log_base(uint8_t *log)
{
	uint64_t base = (uintptr_t)log;

	xioctl(VHOST_SET_LOG_BASE, &base, "VHOST_SET_LOG_BASE");
}

/* Set the vq up; false if starting it failed as a bad ring makes it fail. */
static bool setup(void)
{
	uint64_t features = 1ULL << VIRTIO_F_VERSION_1;
	struct vhost_memory *table;
	struct vhost_vring_state state = { .index = 0 };
	struct vhost_vring_file file = { .index = 0 };
	int run = 1;

	vhost = open("/dev/vhost-test", O_RDWR);
	if (vhost < 0)
		die("/dev/vhost-test (is vhost_test.ko loaded?)");
	xioctl(VHOST_SET_OWNER, NULL, "VHOST_SET_OWNER");
	if (use_log)
		features |= 1ULL << VHOST_F_LOG_ALL;
	xioctl(VHOST_SET_FEATURES, &features, "VHOST_SET_FEATURES");

	table = calloc(1, sizeof(*table) + sizeof(table->regions[0]));
	table->nregions = 1;
	table->regions[0].guest_phys_addr = 0;
	table->regions[0].memory_size = MEM_SIZE;
	table->regions[0].userspace_addr = (uintptr_t)mem;
	xioctl(VHOST_SET_MEM_TABLE, table, "VHOST_SET_MEM_TABLE");
	free(table);

	logmap = map_anon(PAGE, PROT_READ | PROT_WRITE);
	if (use_log)
		set_log_base(logmap);

	state.num = NUM;
	xioctl(VHOST_SET_VRING_NUM, &state, "VHOST_SET_VRING_NUM");
	state.num = 0;
	xioctl(VHOST_SET_VRING_BASE, &state, "VHOST_SET_VRING_BASE");
	set_ring_addr();
	kick = eventfd(0, EFD_NONBLOCK);
	call = eventfd(0, EFD_NONBLOCK);
	err_fd = eventfd(0, EFD_NONBLOCK);
	file.fd = kick;
	xioctl(VHOST_SET_VRING_KICK, &file, "VHOST_SET_VRING_KICK");
	file.fd = call;
	xioctl(VHOST_SET_VRING_CALL, &file, "VHOST_SET_VRING_CALL");
	file.fd = err_fd;
	xioctl(VHOST_SET_VRING_ERR, &file, "VHOST_SET_VRING_ERR");
	file.fd = 1;
	/* Starting reads the used index and writes the used flags. */
	if (ioctl(vhost, VHOST_TEST_SET_BACKEND, &file) ||
	    ioctl(vhost, VHOST_TEST_RUN, &run)) {
		if (errno != EFAULT)
			die("starting the vq");
		diag("starting the vq: %s", strerror(errno));
		return false;
	}
	return true;
}

/*
 * Wait for the FOLL_PIN counters to balance: pins of I/O in flight
 * elsewhere (the 9p share the output goes to) come and go. True if they
 * did within two seconds; the counts are left in *@acq and *@rel.
 */
static bool pins_settle(long *acq, long *rel)
{
	int i;

	for (i = 0; i < 20; i++) {
		pin_counts(acq, rel);
		if (*acq == *rel)
			return true;
		usleep(100 * 1000);
	}
	return false;
}

struct chain {
	uint16_t head;
	uint32_t in_off[2], in_len[2];	/* guest addresses, lengths */
	int nr_in;
};

static void post(struct chain *c)
{
	uint8_t *slot = mem + DATA_OFF + (size_t)(c->head / 3) * SLOT;
	struct vring_desc *d = &desc[c->head];
	uint32_t total, at;
	int i;

	/* A read-only buffer the device must never log, then writable ones. */
	d[0].addr = gpa(slot);
	d[0].len = 64;
	d[0].flags = VRING_DESC_F_NEXT;
	d[0].next = c->head + 1;
	c->nr_in = small ? 2 : 1 + rand() % 2;
	total = small ? 128 : 1 + rand() % (SLOT / 2 - 1);
	at = SLOT / 2 + rand() % (SLOT / 2 - total + 1);
	for (i = 0; i < c->nr_in; i++) {
		uint32_t len = c->nr_in == 1 ? total :
			i == 0 ? total / 2 + 1 : total - total / 2 - 1;

		if (!len)
			len = 1;
		if (small) {
			/* 64 bytes at the start of a page of their own. */
			len = 64;
			at = SLOT / 2 + i * PAGE;
		}
		c->in_off[i] = gpa(slot) + at;
		c->in_len[i] = len;
		memset(slot + at, 0xee, len);
		d[1 + i].addr = c->in_off[i];
		d[1 + i].len = len;
		d[1 + i].flags = VRING_DESC_F_WRITE |
			(i + 1 < c->nr_in ? VRING_DESC_F_NEXT : 0);
		d[1 + i].next = c->head + 2 + i;
		at += len;
	}
	avail->ring[avail_idx++ % NUM] = c->head;
}

static void churn_ring(int round)
{
	unsigned long pages = ring_len / PAGE;
	void *addrs[8];
	int nodes[8], status[8];
	unsigned long i;

	if (!strcmp(churn, "dontneed")) {
		/* A shared mapping keeps its data: only the PTEs go. */
		if (madvise(ring_mem, ring_len, MADV_DONTNEED))
			die("MADV_DONTNEED");
	} else if (!strcmp(churn, "mprotect")) {
		/* Each change rewrites the PTEs, and a THP's is split. */
		if (mprotect(ring_mem, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC) ||
		    mprotect(ring_mem, PAGE, PROT_READ | PROT_WRITE))
			die("mprotect");
	} else if (!strcmp(churn, "migrate")) {
		for (i = 0; i < pages && i < 8; i++) {
			addrs[i] = ring_mem + i * PAGE;
			nodes[i] = round % 2;
		}
		if (syscall(SYS_move_pages, 0, i, addrs, nodes, status, 0) < 0)
			die("move_pages");
	}
}

/* Between two rounds: a new log, the old one unmapped. */
static void remap_log(void)
{
	uint8_t *old = logmap;

	logmap = map_anon(PAGE, PROT_READ | PROT_WRITE);
	set_log_base(logmap);
	munmap(old, PAGE);
}

static bool wait_used(uint16_t want, int timeout_ms)
{
	struct pollfd p[2] = { { .fd = call, .events = POLLIN },
			       { .fd = err_fd, .events = POLLIN } };
	uint64_t v;

	while (__atomic_load_n(&used->idx, __ATOMIC_ACQUIRE) != want) {
		if (poll(p, 2, timeout_ms) <= 0 || (p[1].revents & POLLIN))
			return false;
		if (read(call, &v, sizeof(v)) < 0 && errno != EAGAIN)
			die("read call");
	}
	return true;
}

/* Check the round's completions and the log; returns failures. */
static int check_round(struct chain *chains, int n, int round)
{
	static uint8_t expect[LOG_BITS];
	int bad_len = 0, bad_data = 0, bad_bits = 0, missing = 0, extra = 0;
	uint32_t i, j, k;

	memset(expect, 0, sizeof(expect));
	expect[USED_OFF / PAGE] = !ring_apart;
	for (; used_seen != avail_idx; used_seen++) {
		struct vring_used_elem *e = &used->ring[used_seen % NUM];
		struct chain *c;

		if (e->id % 3 || e->id / 3 >= (uint32_t)n) {
			bad_len++;
			continue;
		}
		c = &chains[e->id / 3];
		if (e->len != c->in_len[0] + (c->nr_in > 1 ? c->in_len[1] : 0)) {
			bad_len++;
			continue;
		}
		for (j = 0; j < (uint32_t)c->nr_in; j++) {
			for (k = 0; k < c->in_len[j]; k++)
				if (mem[c->in_off[j] + k] != (e->id & 0xff))
					break;
			bad_data += k != c->in_len[j];
			for (k = c->in_off[j] / PAGE;
			     k <= (c->in_off[j] + c->in_len[j] - 1) / PAGE; k++)
				expect[k] = 1;
		}
	}
	if (use_log && strcmp(bad, "log-unmapped") && strcmp(bad, "log-ro")) {
		for (i = 0; i < LOG_BITS; i++) {
			bool set = logmap[i / 8] & (1 << (i % 8));

			missing += expect[i] && !set;
			extra += !expect[i] && set;
		}
		memset(logmap, 0, LOG_BITS / 8);
	}
	bad_bits = missing + extra;
	if (bad_len || bad_data || bad_bits)
		diag("round %d: %d bad used entries, %d buffers with wrong data, log: %d bits missing, %d extra",
		     round, bad_len, bad_data, missing, extra);
	return bad_len + bad_data + bad_bits;
}

static void place_rings(void)
{
	if (!strcmp(memory, "secretmem") || !strcmp(bad, "unmapped") ||
	    !strcmp(bad, "ro-used") || !strcmp(bad, "ro-used-late")) {
		/* The rings apart from guest memory: not logged. */
		ring_apart = true;
		ring_len = 4 * PAGE;
		ring_mem = map_memory(!strcmp(memory, "secretmem") ?
				      "secretmem" : "anon", ring_len);
	} else {
		ring_mem = mem;
		ring_len = 4 * PAGE;
	}
	memset(ring_mem, 0, ring_len);
	desc = (void *)(ring_mem + DESC_OFF);
	avail = (void *)(ring_mem + AVAIL_OFF);
	used = (void *)(ring_mem + USED_OFF);
	desc_user = desc;
	if (!strcmp(bad, "unmapped")) {
		/* vhost is given a hole for the desc ring. */
		desc_user = map_anon(PAGE, PROT_READ);
		munmap(desc_user, PAGE);
	}
}

/*
 * The victim: vhost serves its rings while it allocates until the kill.
 * With a holder (hold_mm_in_read() on @hold), most of the memcg is
 * populated first and the holder's read is seen at the device, so that
 * the kill comes a few rounds into that read; the parent is told how long
 * ago the read got there (0 without one).
 */
static void __attribute__((noreturn)) oom_child(const char *cg, const char *hold,
						int hold_fd, int ready)
{
	static struct chain chains[CHAINS];
	char path[4096], pid[32];
	double held_since = 0;
	pthread_t holder;
	int i, n, round;
	void *p;

	snprintf(path, sizeof(path), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	if (write_file(path, pid))
		_exit(3);
	mem = map_memory(memory, MEM_SIZE);
	memset(mem, 0, MEM_SIZE);
	place_rings();
	if (!setup())
		_exit(4);
	if (hold) {
		if (mmap(NULL, 18 << 20, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0) == MAP_FAILED)
			_exit(10);
		if (pthread_create(&holder, NULL, hold_mm_in_read, &hold_fd))
			_exit(6);
		if (!device_reaches(hold, 1, 20))
			_exit(9);
		held_since = now();
	}
	for (round = 0;; round++) {
		n = 1 + rand() % CHAINS;
		for (i = 0; i < n; i++) {
			chains[i].head = 3 * i;
			post(&chains[i]);
		}
		__atomic_store_n(&avail->idx, avail_idx, __ATOMIC_RELEASE);
		if (eventfd_write(kick, 1))
			_exit(7);
		/* Ready once vhost has served a round. */
		if (!wait_used(avail_idx, 20000) && !round)
			_exit(8);
		if (!round) {
			if (hold)
				held_since = now() - held_since;
			if (write(ready, &held_since, sizeof(held_since)) != sizeof(held_since))
				_exit(5);
		}
		p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED)
			memset(p, 1, 1 << 20);
	}
}

/*
 * Whether the case was judged: with a holder, a kill later than
 * OOM_LATEST_KILL into its read that exit_mmap() beat the reaper to is
 * told, not failed, and the caller tries again.
 */
static bool oom_case(const char *cg, const char *hold, bool last)
{
	long kills0 = cg_value(cg, "memory.events", "oom_kill"), end = -1;
	double t0, gone = -1, held_since = 0, into_read = -1;
	int hold_fd = -1, kmsg, pipefd[2], status = 0;
	bool exited = false, ready, reaped = false;
	pid_t child;

	if (hold && (hold_fd = open(hold, O_RDONLY | O_DIRECT)) < 0)
		die(hold);
	if (hold && !device_reaches(hold, 0, 12))
		diag("oom: %ld reads still in flight at %s before the case (want 0)",
		     device_inflight(hold), hold);
	if (pipe(pipefd))
		die("pipe");
	kmsg = kmsg_from_now();
	child = fork();
	if (child < 0)
		die("fork");
	if (!child)
		oom_child(cg, hold, hold_fd, pipefd[1]);
	close(pipefd[1]);
	ready = read(pipefd[0], &held_since, sizeof(held_since)) == sizeof(held_since);
	if (!ready)
		diag("oom: the child died before vhost served a round (exit 9: the holder's read was not at the device in 20 s)");
	held_since = now() - held_since;
	for (t0 = now(); now() - t0 < 30 && !exited; usleep(20000)) {
		exited = waitpid(child, &status, WNOHANG) == child;
		if (into_read < 0 && cg_value(cg, "memory.events", "oom_kill") > kills0)
			into_read = now() - held_since;
	}
	gone = now() - t0;
	if (!exited) {
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
	}
	for (t0 = now(); now() - t0 < 10; usleep(50000)) {
		end = cg_value(cg, "memory.current", NULL);
		if (end >= 0 && end < 1 << 20)
			break;
	}
	if (hold)
		reaped = oom_reaped(kmsg, child);
	else
		close(kmsg);
	close(pipefd[0]);
	if (hold_fd >= 0)
		close(hold_fd);
	if (hold && !last && ready && !reaped && into_read > OOM_LATEST_KILL) {
		diag("oom: the kill came %.1f s into the holder's 10 s read, too late for the reaper's turn: again",
		     into_read);
		return false;
	}
	tap(ready && exited && WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL &&
	    cg_value(cg, "memory.events", "oom_kill") > kills0,
	    "%s%s oom%s: killed by the OOM killer while vhost served its rings, gone %.1f s after the first round (want < 30; status 0x%x)",
	    memory, use_log ? " log" : "", hold ? " held" : "", gone, status);
	if (hold)
		tap(reaped, "%s%s oom held: the OOM reaper reaped it under the mirrors, the kill %.1f s into the holder's read",
		    memory, use_log ? " log" : "", into_read);
	tap(end >= 0 && end < 1 << 20, "%s%s oom%s: %ld KiB left in the memcg (want < 1024)",
	    memory, use_log ? " log" : "", hold ? " held" : "", end >> 10);
	return true;
}

int main(int argc, char **argv)
{
	static struct chain chains[CHAINS];
	const char *log_pins = "any";
	long acq0, rel0, acq1, rel1;
	int rounds = 20, round, i, n, fails = 0;
	bool completed, expect_error, settled, pins_shared = false;
	const char *oom = NULL, *hold = NULL;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--log"))
			use_log = true;
		else if (!strcmp(argv[i], "--small"))
			small = true;
		else if (!strcmp(argv[i], "--pins-shared"))
			pins_shared = true;
		else if (i + 1 < argc && !strcmp(argv[i], "--memory"))
			memory = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--rounds"))
			rounds = atoi(argv[++i]);
		else if (i + 1 < argc && !strcmp(argv[i], "--churn"))
			churn = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--bad"))
			bad = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--log-pins"))
			log_pins = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--oom"))
			oom = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--hold"))
			hold = argv[++i];
		else if (i + 1 < argc && !strcmp(argv[i], "--seed"))
			seed = strtoul(argv[++i], NULL, 0);
		else {
			fprintf(stderr, "usage: see the comment at the top of %s\n",
				__FILE__);
			return 2;
		}
	}
	srand(seed);
	if (oom) {
		for (i = 0; i < 3 && !oom_case(oom, hold, i == 2); i++)
			;
		return tap_failed ? 1 : 0;
	}
	mem = map_memory(!strcmp(memory, "secretmem") ? "anon" : memory,
			 MEM_SIZE);
	memset(mem, 0, MEM_SIZE);
	place_rings();
	if (!strcmp(bad, "ro-used") && mprotect(used, PAGE, PROT_READ))
		die("mprotect used ring");
	expect_error = !strcmp(bad, "unmapped") || !strcmp(bad, "ro-used") ||
		       !strcmp(bad, "ro-used-late");

	pins_settle(&acq0, &rel0);
	completed = setup();
	if (!strcmp(bad, "log-unmapped")) {
		munmap(logmap, PAGE);
	} else if (!strcmp(bad, "log-ro") &&
		   mprotect(logmap, PAGE, PROT_READ)) {
		die("mprotect log");
	}

	for (round = 0; round < rounds && completed; round++) {
		if (!strcmp(churn, "logremap") && round % 3 == 2)
			remap_log();
		/* After a round that worked: the used ring turns read-only. */
		if (!strcmp(bad, "ro-used-late") && round == 1 &&
		    mprotect(used, PAGE, PROT_READ))
			die("mprotect used ring");
		n = 1 + rand() % CHAINS;
		for (i = 0; i < n; i++) {
			chains[i].head = 3 * i;
			post(&chains[i]);
		}
		__atomic_store_n(&avail->idx, avail_idx, __ATOMIC_RELEASE);
		if (eventfd_write(kick, 1))
			die("kick");
		churn_ring(round);
		completed = wait_used(avail_idx, expect_error &&
				      (round || strcmp(bad, "ro-used-late")) ?
				      1000 : 20000);
		if (completed)
			fails += check_round(chains, n, round);
	}
	if (expect_error) {
		tap(!completed, "%s %s: the vq fails (error eventfd, no used entry)",
		    memory, bad);
	} else {
		tap(completed, "%s%s churn %s%s%s: %d rounds completed", memory,
		    use_log ? " log" : "", churn, *bad ? " bad " : "", bad,
		    round);
		tap(!fails, "%s%s churn %s%s%s: used entries, data%s exact",
		    memory, use_log ? " log" : "", churn, *bad ? " bad " : "",
		    bad, use_log ? " and log bits" : "");
	}
	close(vhost);
	if (pins_shared)
		return tap_failed ? 1 : 0;
	settled = pins_settle(&acq1, &rel1);
	tap(settled, "pins balanced (%ld acquired, %ld released during the run)",
	    acq1 - acq0, rel1 - rel0);
	/*
	 * A log write pins one page per bit without a mirror: thousands in
	 * a run. The few pins the output share takes are not the log's.
	 */
	if (!strcmp(log_pins, "none"))
		tap(acq1 - acq0 < 16, "the dirty log pinned nothing (%ld pins in all)",
		    acq1 - acq0);
	else if (!strcmp(log_pins, "some"))
		tap(acq1 - acq0 >= rounds, "the dirty log pinned its pages bit by bit (%ld pins)",
		    acq1 - acq0);
	return tap_failed ? 1 : 0;
}
