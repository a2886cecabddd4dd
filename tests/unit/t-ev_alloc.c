/*
 * Tests of daemon/ev_alloc.c alone: large blocks keep their contents
 * through a trim and give back their zero pages (counted with mincore),
 * growing and shrinking across the boundary with the heap, freeing or
 * moving a block made since the last trim, trims that look only at one
 * tag's blocks and only at those the calling thread touched, and a real
 * libev loop whose table of fds reaches a high fd.
 */
#include <ev.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tap.h"
#include "tendd.h"

static size_t page;
static const char loop_a[] = "a", loop_b[] = "b"; /* tags */

/* Pages of [p, p + pages * page) in memory. */
static size_t resident(const void *p, size_t pages)
{
	unsigned char *in = malloc(pages);
	size_t n = 0;

	if (in == NULL || mincore((void *)p, pages * page, in) < 0) {
		free(in);
		return (size_t)-1;
	}
	for (size_t i = 0; i < pages; i++)
		n += in[i] & 1;
	free(in);
	return n;
}

/* The process's RSS in KiB, counted page by page (statm's is an estimate). */
static long rss_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/smaps_rollup", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "Rss: %ld kB", &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

/*
 * A large block of `pages` pages belonging to `tag`, zero-filled as libev
 * fills its tables.
 */
static char *zeroed(size_t pages, const void *tag)
{
	char *p;

	ev_alloc_tag(tag);
	p = ev_alloc_realloc(NULL, (long)(pages * page));
	ev_alloc_tag(NULL);
	if (p)
		memset(p, 0, pages * page);
	return p;
}

/* Every byte of [p, p + len) is zero but those at the offsets in marks. */
static bool only_marks(const char *p, size_t len, const size_t *marks,
                       size_t nmarks)
{
	for (size_t i = 0; i < len; i++) {
		bool marked = false;
		for (size_t k = 0; k < nmarks; k++)
			if (marks[k] == i)
				marked = true;
		if (marked ? p[i] != (char)(0x40 + (i % 31)) : p[i] != 0)
			return false;
	}
	return true;
}

static void mark(char *p, const size_t *marks, size_t nmarks)
{
	for (size_t k = 0; k < nmarks; k++)
		p[marks[k]] = (char)(0x40 + (marks[k] % 31));
}

static void test_small(void)
{
	char *p = ev_alloc_realloc(NULL, 100), *q;

	ok(p != NULL, "a small block");
	memset(p, 'x', 100);
	q = ev_alloc_realloc(p, 1000);
	ok(q && q[0] == 'x' && q[99] == 'x',
	   "grows on the heap, contents kept");
	ok(ev_alloc_realloc(q, 0) == NULL, "size 0 frees, returns NULL");
	ok(ev_alloc_realloc(NULL, 0) == NULL, "freeing NULL is nothing");
}

static void test_trim(void)
{
	const size_t pages = 64;
	const size_t marks[] = {3 * page + page - 1, 40 * page, 40 * page + 17};
	char *p = zeroed(pages, loop_a);
	long before, after;

	ok(p && (size_t)p % page == 0, "a large block has pages of its own");
	if (p == NULL)
		return;
	is_int(resident(p, pages), pages,
	       "zero-filled: all %zu pages in memory", pages);
	mark(p, marks, 3);
	ev_alloc_trim(loop_b);
	is_int(resident(p, pages), pages, "another tag's trim leaves it");
	ev_alloc_trim(loop_a);
	is_int(resident(p, pages), 2,
	       "its tag's: only the 2 pages with data left");
	p[10 * page] = 1;
	is_int(resident(p, pages), 3, "a write takes its page back");
	p[10 * page] = 0;
	ev_alloc_trim(loop_a);
	is_int(resident(p, pages), 3,
	       "not resized since: the next trim leaves it");
	before = rss_kib();
	ok(only_marks(p, pages * page, marks, 3),
	   "contents unchanged: the data, and zeros everywhere else");
	after = rss_kib();
	ok(after - before < 32, "reading the zeros takes no memory (%ld KiB)",
	   after - before);
	ev_alloc_realloc(p, 0);
}

static void test_grow(void)
{
	const size_t marks[] = {2 * page + 5};
	char *p = zeroed(16, loop_a);
	size_t big = 1024;

	mark(p, marks, 1);
	ev_alloc_trim(loop_a);
	is_int(resident(p, 16), 1, "16 pages, one with data");
	p = ev_alloc_realloc(p, (long)(big * page));
	if (!ok(p && (size_t)p % page == 0, "grown to %zu pages", big))
		return;
	is_int(resident(p, big), 1, "the pages given back stay out of memory");
	ok(only_marks(p, big * page, marks, 1),
	   "contents kept, and the new part reads as zeros");
	memset(p + 16 * page, 0, (big - 16) * page); /* as libev does */
	ev_alloc_trim(loop_a);
	is_int(resident(p, big), 1,
	       "grown without a tag set, it keeps its own: given back");
	ok(only_marks(p, big * page, marks, 1), "still the same contents");
	ev_alloc_realloc(p, 0);
}

static void test_shrink(void)
{
	char *p = ev_alloc_realloc(NULL, (long)(32 * page)), *q;
	bool same = true;

	for (size_t i = 0; i < 32 * page; i++)
		p[i] = (char)(i % 251);
	q = ev_alloc_realloc(p, (long)(8 * page));
	for (size_t i = 0; q && i < 8 * page; i++)
		same &= q[i] == (char)(i % 251);
	ok(q && same, "shrunk to 8 pages, the first 8 kept");
	p = ev_alloc_realloc(q, 100);
	same = p != NULL;
	for (size_t i = 0; p && i < 100; i++)
		same &= p[i] == (char)(i % 251);
	ok(same, "shrunk below a page: back on the heap, contents kept");
	q = ev_alloc_realloc(p, (long)(4 * page));
	same = q && (size_t)q % page == 0;
	for (size_t i = 0; q && i < 100; i++)
		same &= q[i] == (char)(i % 251);
	ok(same, "grown past a page again: pages of its own, contents kept");
	ev_alloc_realloc(q, 0);
}

static void test_untrimmed(void)
{
	char *a = zeroed(4, loop_a), *b = zeroed(4, loop_a), *c, *none;
	bool same = true;

	ok(ev_alloc_realloc(a, 0) == NULL,
	   "a block made but not trimmed is freed");
	for (size_t i = 0; i < 4 * page; i++)
		b[i] = (char)(i % 13);
	c = zeroed(4, loop_a); /* a neighbour: mremap may have to move b */
	b = ev_alloc_realloc(b, (long)(4096 * page));
	for (size_t i = 0; b && i < 4 * page; i++)
		same &= b[i] == (char)(i % 13);
	ok(b && same, "grown (moved or not), contents kept");
	ev_alloc_trim(loop_a);
	is_int(resident(b, 4096), 4, "the trim finds it where it went");
	none = zeroed(8, NULL);
	ev_alloc_trim(NULL);
	ev_alloc_trim(loop_a);
	is_int(resident(none, 8), 8,
	       "a block made without a tag (a plugin's loop) is never trimmed");
	ok(ev_alloc_realloc(b, 0) == NULL && ev_alloc_realloc(c, 0) == NULL &&
	       ev_alloc_realloc(none, 0) == NULL,
	   "all freed");
	ev_alloc_trim(loop_a);
	ok(true, "a trim with nothing made");
}

struct other {
	char *block; /* made there, or resized there when given */
	bool trim;
};

/* As a service thread: its loop's table grows in start(), untagged. */
static void *other_thread(void *arg)
{
	struct other *o = arg;
	const void *tag = o->block ? loop_a : loop_b;

	if (o->block) {
		o->block = ev_alloc_realloc(o->block, (long)(64 * page));
		memset(o->block + 32 * page, 0, 32 * page);
	} else {
		o->block = zeroed(32, loop_b);
	}
	if (o->trim)
		ev_alloc_trim(tag);
	return NULL;
}

static void test_threads(void)
{
	char *mine = zeroed(32, loop_b);
	struct other trims = {.trim = true}, leaves = {.trim = false};
	struct other grows = {.block = zeroed(32, loop_a), .trim = true};
	pthread_t t;

	pthread_create(&t, NULL, other_thread, &trims);
	pthread_join(t, NULL);
	is_int(resident(trims.block, 32), 0,
	       "a thread's trim gives back its block");
	is_int(resident(mine, 32), 32, "and leaves another thread's alone");
	pthread_create(&t, NULL, other_thread, &leaves);
	pthread_join(t, NULL);
	ev_alloc_trim(loop_b);
	is_int(resident(mine, 32), 0,
	       "the main thread's trim gives back its own");
	is_int(resident(leaves.block, 32), 32,
	       "not that of a thread that ended without trimming");
	ev_alloc_trim(loop_a);
	pthread_create(&t, NULL, other_thread, &grows);
	pthread_join(t, NULL);
	is_int(resident(grows.block, 64), 0,
	       "a block set up here, grown there: that thread's trim has it");
	ok(ev_alloc_realloc(leaves.block, 0) == NULL &&
	       ev_alloc_realloc(trims.block, 0) == NULL &&
	       ev_alloc_realloc(grows.block, 0) == NULL &&
	       ev_alloc_realloc(mine, 0) == NULL,
	   "blocks of ended threads are freed from another");
}

static int woken;

static void on_async(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	woken++;
}

/* A loop whose only fd is above 3,000: its table is ~64 KiB of zeros. */
static void test_loop(void)
{
	enum { LOW_FDS = 3000 };
	struct rlimit rl;
	int fds[LOW_FDS], n = 0;
	struct ev_loop *loop;
	ev_async a;
	long before, after;

	getrlimit(RLIMIT_NOFILE, &rl);
	rl.rlim_cur = rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
	while (n < LOW_FDS && (fds[n] = open("/dev/null", O_RDONLY)) >= 0)
		n++;
	if (n < LOW_FDS) {
		for (int i = 0; i < n; i++)
			close(fds[i]);
		printf("ok %d # skip fewer than %d fds allowed\n",
		       ++tap_state()->run, LOW_FDS);
		return;
	}
	ev_alloc_tag(loop_a);
	loop = ev_loop_new(EVFLAG_AUTO);
	ev_async_init(&a, on_async);
	ev_async_start(loop, &a); /* its eventfd is above every open fd */
	ev_alloc_tag(NULL);
	before = rss_kib();
	ev_alloc_trim(loop_a);
	after = rss_kib();
	ok(before - after >= 32,
	   "a loop watching an fd above %d: the trim gives back %ld KiB",
	   LOW_FDS, before - after);
	ev_async_send(loop, &a);
	ev_run(loop, EVRUN_NOWAIT);
	is_int(woken, 1, "and the loop works on: its wake-up arrives");
	ev_async_stop(loop, &a);
	ev_loop_destroy(loop);
	for (int i = 0; i < n; i++)
		close(fds[i]);
}

int main(void)
{
	log_init(TEND_LOG_ERROR);
	page = (size_t)sysconf(_SC_PAGESIZE);
	ev_alloc_init();
	rss_kib(); /* its first call takes memory of its own */
	test_small();
	test_trim();
	test_grow();
	test_shrink();
	test_untrimmed();
	test_threads();
	test_loop();
	return done_testing();
}
