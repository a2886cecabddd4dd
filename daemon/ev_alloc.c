/*
 * libev's memory. A loop keeps a table indexed by fd number (16 bytes an
 * fd, up to the highest fd it watches) and zero-fills it as it grows;
 * fds being the whole process's, with many loops (a thread-async service
 * has one) nearly all of each table is zeros. So blocks of a page or more
 * get pages of their own, from mmap and mremap, and ev_alloc_trim() gives
 * back those of their pages that are entirely zero: they still read as
 * zeros, so libev sees the same contents, and they take no memory until
 * written again. Smaller blocks come from malloc.
 *
 * A page must not be written while it is checked and given back, so a
 * trim looks only at the blocks of one loop being set up (its tag), and
 * only at those the calling thread made or resized: a plugin's own loop,
 * which may already run on another thread, is never looked at.
 */
#include <ev.h>
#include <malloc.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "tendd.h"

/* A large block: a mapping of its own, whole pages. */
struct block {
	char *base;
	size_t len;
	const void *tag;              /* the loop it belongs to, or NULL */
	struct block *chain;          /* in its hash bucket */
	struct block *next, **pprev;  /* in a thread's list, if in one */
};

/*
 * Every large block, by address; and, per thread, the tagged blocks it
 * made or resized since they were last trimmed. Both change under `lock`,
 * so that a block made by one thread can be resized or freed by another.
 */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct block **buckets;
static size_t nbuckets, nblocks;
static size_t page_size;
static __thread struct block *touched;
static __thread const void *making; /* the tag for what this thread makes */

/* Detaches a thread's list as it exits; without it, nothing is listed. */
static pthread_key_t exit_key;
static bool can_list;

static size_t bucket_of(const void *p)
{
	return ((uintptr_t)p / page_size) & (nbuckets - 1);
}

static struct block *find(const void *p)
{
	struct block *b;

	if (nbuckets == 0)
		return NULL;
	for (b = buckets[bucket_of(p)]; b; b = b->chain)
		if (b->base == p)
			return b;
	return NULL;
}

/* More buckets when they fill; if none can be had, longer chains. */
static void rehash(void)
{
	size_t n = nbuckets ? nbuckets * 2 : 64, old = nbuckets;
	struct block **bs = calloc(n, sizeof(*bs)), **was = buckets;

	if (bs == NULL)
		return;
	buckets = bs;
	nbuckets = n;
	for (size_t i = 0; i < old; i++)
		while (was[i]) {
			struct block *b = was[i];
			was[i] = b->chain;
			b->chain = buckets[bucket_of(b->base)];
			buckets[bucket_of(b->base)] = b;
		}
	free(was);
}

static void hash_link(struct block *b)
{
	b->chain = buckets[bucket_of(b->base)];
	buckets[bucket_of(b->base)] = b;
}

static void hash_unlink(struct block *b)
{
	struct block **at = &buckets[bucket_of(b->base)];

	while (*at != b)
		at = &(*at)->chain;
	*at = b->chain;
}

static void unlist(struct block *b)
{
	if (b->pprev == NULL)
		return;
	*b->pprev = b->next;
	if (b->next)
		b->next->pprev = b->pprev;
	b->next = NULL;
	b->pprev = NULL;
}

/*
 * Lock held. The calling thread made or resized b, so uses it: its trims
 * look at b now, no other thread's.
 */
static void list_touched(struct block *b)
{
	unlist(b);
	if (making)
		b->tag = making;
	if (b->tag == NULL || !can_list)
		return;
	if (touched == NULL)
		pthread_setspecific(exit_key, &touched); /* non-NULL: called */
	b->next = touched;
	if (touched)
		touched->pprev = &b->next;
	touched = b;
	b->pprev = &touched;
}

static void on_thread_exit(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&lock);
	while (touched)
		unlist(touched);
	pthread_mutex_unlock(&lock);
}

static size_t whole_pages(size_t size)
{
	return (size + page_size - 1) & ~(page_size - 1);
}

static void *large_new(size_t size)
{
	struct block *b = malloc(sizeof(*b));
	size_t len = whole_pages(size);
	void *p;

	if (b == NULL)
		return NULL;
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
	         -1, 0);
	if (p == MAP_FAILED) {
		free(b);
		return NULL;
	}
	*b = (struct block){.base = p, .len = len};
	pthread_mutex_lock(&lock);
	if (nblocks >= nbuckets)
		rehash();
	if (nbuckets == 0) {
		pthread_mutex_unlock(&lock);
		munmap(p, len);
		free(b);
		return NULL;
	}
	hash_link(b);
	nblocks++;
	list_touched(b);
	pthread_mutex_unlock(&lock);
	return p;
}

/* Lock held. The pages added read as zeros; the ones kept, unchanged. */
static void *large_resize(struct block *b, size_t size)
{
	size_t len = whole_pages(size);
	void *p;

	if (len == b->len)
		return b->base;
	p = mremap(b->base, b->len, len, MREMAP_MAYMOVE);
	if (p == MAP_FAILED)
		return NULL;
	hash_unlink(b);
	b->base = p;
	b->len = len;
	hash_link(b);
	list_touched(b); /* libev zero-fills what it added */
	return p;
}

/* Lock held. */
static void large_free(struct block *b)
{
	unlist(b);
	hash_unlink(b);
	if (--nblocks == 0) {
		free(buckets);
		buckets = NULL;
		nbuckets = 0;
	}
	munmap(b->base, b->len);
	free(b);
}

/* A large block, or NULL: ours are page-aligned, so most need no lookup. */
static struct block *large_find(void *p)
{
	struct block *b;

	if (p == NULL || (uintptr_t)p % page_size != 0)
		return NULL;
	pthread_mutex_lock(&lock);
	b = find(p);
	pthread_mutex_unlock(&lock);
	return b;
}

/* A heap block moves to a large one. */
static void *to_large(void *ptr, size_t size)
{
	void *p = large_new(size);
	size_t had;

	if (p == NULL || ptr == NULL)
		return p;
	had = malloc_usable_size(ptr);
	memcpy(p, ptr, had < size ? had : size);
	free(ptr);
	return p;
}

/* A large block moves to the heap. */
static void *to_heap(struct block *b, size_t size)
{
	void *p = malloc(size);

	if (p == NULL)
		return NULL;
	memcpy(p, b->base, size);
	pthread_mutex_lock(&lock);
	large_free(b);
	pthread_mutex_unlock(&lock);
	return p;
}

void *ev_alloc_realloc(void *ptr, long size)
{
	struct block *b = large_find(ptr);
	void *p;

	if (size <= 0) {
		if (b) {
			pthread_mutex_lock(&lock);
			large_free(b);
			pthread_mutex_unlock(&lock);
		} else {
			free(ptr);
		}
		return NULL;
	}
	if (b == NULL)
		return (size_t)size < page_size ? realloc(ptr, (size_t)size)
		                                : to_large(ptr, (size_t)size);
	if ((size_t)size < page_size)
		return to_heap(b, (size_t)size);
	pthread_mutex_lock(&lock);
	p = large_resize(b, (size_t)size);
	pthread_mutex_unlock(&lock);
	return p;
}

void ev_alloc_init(void)
{
	page_size = (size_t)sysconf(_SC_PAGESIZE);
	can_list = pthread_key_create(&exit_key, on_thread_exit) == 0;
	ev_set_allocator(ev_alloc_realloc);
}

/* Whole page: the first 8 bytes are zero and each equals the 8th after. */
static bool page_is_zero(const char *p)
{
	static const uint64_t zero;

	return memcmp(p, &zero, sizeof(zero)) == 0 &&
	       memcmp(p, p + sizeof(zero), page_size - sizeof(zero)) == 0;
}

/*
 * Only pages in memory are read: the others cost nothing (or are in
 * swap, where reading would bring them back). Runs of zero pages are
 * given back with one madvise each.
 */
static void release_zero_pages(struct block *b)
{
	unsigned char in_memory[256];
	size_t pages = b->len / page_size;
	char *run = NULL;

	for (size_t first = 0; first < pages; first += sizeof(in_memory)) {
		size_t n = pages - first;
		char *at = b->base + first * page_size;

		if (n > sizeof(in_memory))
			n = sizeof(in_memory);
		if (mincore(at, n * page_size, in_memory) < 0)
			memset(in_memory, 1, n);
		for (size_t i = 0; i < n; i++, at += page_size) {
			if ((in_memory[i] & 1) && page_is_zero(at)) {
				if (run == NULL)
					run = at;
				continue;
			}
			if (run)
				madvise(run, (size_t)(at - run), MADV_DONTNEED);
			run = NULL;
		}
	}
	if (run)
		madvise(run, (size_t)(b->base + b->len - run), MADV_DONTNEED);
}

void ev_alloc_tag(const void *tag) { making = tag; }

void ev_alloc_trim(const void *tag)
{
	struct block *b, *next;

	pthread_mutex_lock(&lock);
	for (b = touched; b; b = next) {
		next = b->next;
		if (b->tag != tag)
			continue;
		unlist(b);
		release_zero_pages(b);
	}
	pthread_mutex_unlock(&lock);
}
