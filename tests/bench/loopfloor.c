/*
 * loopfloor: what a thread-async service costs at the least, measured
 * without tend: a thread blocked in ev_run() on a libev loop of its own,
 * set up as tendd sets it up. It prints how much VmRSS grew, per thread:
 *
 *   loopfloor N          N such threads: "per_thread_bytes B"
 *   loopfloor N thread   N threads blocked in read(), no loop: the share
 *                        of the thread (its stack, glibc's descriptor)
 *   loopfloor N loop     N loops, no thread: the share of libev
 *
 * A loop's fd table takes 16 bytes an fd, up to the highest fd it
 * watches, so fd numbers must run as high as in tendd: each service there
 * holds a stop eventfd and its loop's epoll fd and eventfd, so each one
 * here makes the same three, in the same order. As in tendd the loop is
 * made and its two ev_async started on the main thread, then the thread
 * runs it; large blocks get pages of their own, and those still all zero
 * after a loop is set up are given back (daemon/ev_alloc.c does more).
 */
#include <ev.h>
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

struct unit {
	struct ev_loop *loop;
	ev_async wake, mail; /* tendd's two */
	int stop_fd;
	pid_t tid;
	pthread_t thread;
};

static sem_t ready;
static size_t page;

/* libev's blocks of a page or more, each a mapping of its own */
struct block {
	char *p;
	size_t len;
	int fresh; /* made or resized since the last trim() */
};
static struct block *blocks;
static size_t nblocks, maxblocks;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static struct block *find(void *p)
{
	if (p == NULL || (uintptr_t)p % page)
		return NULL;
	for (size_t i = 0; i < nblocks; i++)
		if (blocks[i].p == p)
			return &blocks[i];
	return NULL;
}

static void *large_new(void *old, size_t len)
{
	char *p;

	if (nblocks == maxblocks) {
		struct block *bs = realloc(blocks, (maxblocks * 2 + 16) *
		                                   sizeof(*bs));
		if (bs == NULL)
			return NULL;
		blocks = bs;
		maxblocks = maxblocks * 2 + 16;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	         -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	if (old) { /* a heap block, under a page */
		memcpy(p, old, malloc_usable_size(old));
		free(old);
	}
	blocks[nblocks++] = (struct block){p, len, 1};
	return p;
}

static void *loop_realloc(void *ptr, long size)
{
	size_t len = ((size_t)size + page - 1) & ~(page - 1);
	struct block *b;
	void *p = NULL;

	pthread_mutex_lock(&lock);
	b = find(ptr);
	if (b && size == 0) {
		munmap(b->p, b->len);
		*b = blocks[--nblocks];
	} else if (b) {
		p = mremap(b->p, b->len, len, MREMAP_MAYMOVE);
		if (p == MAP_FAILED)
			p = NULL;
		else
			*b = (struct block){p, len, 1};
	} else if ((size_t)size < page) {
		if (size)
			p = realloc(ptr, (size_t)size);
		else
			free(ptr);
	} else {
		p = large_new(ptr, len);
	}
	pthread_mutex_unlock(&lock);
	return p;
}

static int page_is_zero(const char *p)
{
	const uint64_t *w = (const uint64_t *)p;

	for (size_t i = 0; i < page / sizeof(*w); i++)
		if (w[i])
			return 0;
	return 1;
}

/*
 * libev zero-fills what it adds to a table, which brings in every page of
 * it. Only blocks of the loop just set up are fresh: no other thread
 * writes to them while they are looked at.
 */
static void trim(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nblocks; i++) {
		if (!blocks[i].fresh)
			continue;
		blocks[i].fresh = 0;
		for (size_t off = 0; off < blocks[i].len; off += page)
			if (page_is_zero(blocks[i].p + off))
				madvise(blocks[i].p + off, page, MADV_DONTNEED);
	}
	pthread_mutex_unlock(&lock);
}

static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

/* The state letter of /proc/self/task/TID/stat, after "(comm)". */
static char task_state(pid_t tid)
{
	char path[64], buf[512], *s;
	size_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
	f = fopen(path, "r");
	if (f == NULL)
		return '?';
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	s = strrchr(buf, ')');
	return s && s[1] == ' ' ? s[2] : '?';
}

static void on_async(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)loop, (void)w, (void)revents;
}

static void *run_loop(void *arg)
{
	struct unit *u = arg;

	u->tid = gettid();
	sem_post(&ready);
	ev_run(u->loop, 0);
	return NULL;
}

static void *run_read(void *arg)
{
	struct unit *u = arg;
	uint64_t v;

	u->tid = gettid();
	sem_post(&ready);
	(void)!read(u->stop_fd, &v, sizeof(v));
	return NULL;
}

static int loop_new(struct unit *u)
{
	u->loop = ev_loop_new(EVFLAG_AUTO);
	if (u->loop == NULL)
		return -1;
	ev_async_init(&u->wake, on_async);
	ev_async_start(u->loop, &u->wake); /* makes the loop's eventfd */
	ev_async_init(&u->mail, on_async);
	ev_async_start(u->loop, &u->mail);
	trim();
	return 0;
}

/* All signals blocked, default attributes: as tendd starts its threads. */
static int spawn(struct unit *u, void *(*fn)(void *))
{
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&u->thread, NULL, fn, u);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc;
}

/* Every thread blocked in its last call: all it will touch is touched. */
static void wait_idle(struct unit *us, long n)
{
	struct timespec ms = {0, 1000000};

	for (long i = 0; i < n; i++)
		while (sem_wait(&ready) < 0)
			;
	for (long i = 0; i < n; i++)
		while (task_state(us[i].tid) != 'S')
			nanosleep(&ms, NULL);
}

int main(int argc, char **argv)
{
	const char *what = argc > 2 ? argv[2] : "full";
	int loops = strcmp(what, "thread") != 0;
	int threads = strcmp(what, "loop") != 0;
	long n = argc > 1 ? atol(argv[1]) : -1;
	struct rlimit rl;
	struct unit *us;
	long before, after;

	if (n < 1 || argc > 3 || (loops && threads && strcmp(what, "full"))) {
		fprintf(stderr, "usage: loopfloor N [full|thread|loop]\n");
		return 2;
	}
	page = (size_t)sysconf(_SC_PAGESIZE);
	ev_set_allocator(loop_realloc);
	/* three fds a unit: more than the usual soft limit of 1024 */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	sem_init(&ready, 0, 0);
	/* the units' own memory is not what is measured: touched before */
	us = malloc((size_t)n * sizeof(*us));
	if (us == NULL)
		return 1;
	for (long i = 0; i < n; i++)
		us[i].stop_fd = -1;
	before = rss_kib();
	for (long i = 0; i < n; i++) {
		struct unit *u = &us[i];

		u->stop_fd = eventfd(0, EFD_CLOEXEC);
		if (u->stop_fd < 0 || (loops && loop_new(u) < 0)) {
			perror("loopfloor");
			return 1;
		}
		if (threads && spawn(u, loops ? run_loop : run_read) != 0) {
			fprintf(stderr, "loopfloor: cannot create a thread\n");
			return 1;
		}
	}
	if (threads)
		wait_idle(us, n);
	after = rss_kib();
	if (before < 0 || after < 0)
		return 1;
	printf("per_thread_bytes %.0f\n", (after - before) * 1024.0 / n);
	exit(0); /* the threads stay blocked: nothing to join */
}
