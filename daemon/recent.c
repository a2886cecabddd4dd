/*
 * The last lines each service logged, for `tendctl status NAME`: a small
 * ring per name, filled from the log hook. Lines come from every thread
 * (plugins log from their own), hence the lock; it is held only to copy a
 * line in or out.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "tendd.h"

#define BUCKETS 1024

struct recent {
	char name[NAME_MAX_LEN + 8];
	struct recent_line lines[RECENT_LINES];
	unsigned next, count;
	struct recent *chain;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct recent *buckets[BUCKETS];

static unsigned hash(const char *s)
{
	unsigned h = 2166136261u; /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h % BUCKETS;
}

static struct recent **find(const char *name)
{
	struct recent **at = &buckets[hash(name)];

	while (*at && strcmp((*at)->name, name) != 0)
		at = &(*at)->chain;
	return at;
}

static void remember(int level, const char *who, const char *msg, size_t len)
{
	struct recent **at, *r;
	struct recent_line *l;
	struct timeval tv;

	/* the daemon's own lines are not a service's */
	if (strcmp(who, "tendd") == 0 || strcmp(who, "config") == 0 ||
	    strlen(who) >= NAME_MAX_LEN + 8)
		return;
	gettimeofday(&tv, NULL);
	pthread_mutex_lock(&lock);
	at = find(who);
	if (*at == NULL && (*at = calloc(1, sizeof(**at))) != NULL)
		strcpy((*at)->name, who);
	r = *at;
	if (r) {
		l = &r->lines[r->next];
		r->next = (r->next + 1) % RECENT_LINES;
		if (r->count < RECENT_LINES)
			r->count++;
		l->time = (double)tv.tv_sec + tv.tv_usec / 1e6;
		l->level = level;
		if (len >= sizeof(l->text))
			len = sizeof(l->text) - 1;
		memcpy(l->text, msg, len);
		l->text[len] = '\0';
	}
	pthread_mutex_unlock(&lock);
}

void recent_init(void) { log_set_hook(remember); }

/* The last lines `name` logged, oldest first, into out[]; how many. */
size_t recent_lines(const char *name, struct recent_line out[RECENT_LINES])
{
	struct recent *r;
	size_t n = 0;

	pthread_mutex_lock(&lock);
	r = *find(name);
	for (unsigned i = 0; r && i < r->count; i++)
		out[n++] = r->lines[(r->next + RECENT_LINES - r->count + i) %
		                    RECENT_LINES];
	pthread_mutex_unlock(&lock);
	return n;
}

/* A service is gone (a reload removed it): so are its lines. */
void recent_forget(const char *name)
{
	struct recent **at, *r;

	pthread_mutex_lock(&lock);
	at = find(name);
	r = *at;
	if (r)
		*at = r->chain;
	pthread_mutex_unlock(&lock);
	free(r);
}

void recent_free(void)
{
	log_set_hook(NULL);
	pthread_mutex_lock(&lock);
	for (int i = 0; i < BUCKETS; i++)
		while (buckets[i]) {
			struct recent *r = buckets[i];
			buckets[i] = r->chain;
			free(r);
		}
	pthread_mutex_unlock(&lock);
}
