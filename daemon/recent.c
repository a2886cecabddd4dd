/*
 * The last lines each service logged, for `tendctl status NAME`: a small
 * ring per name, filled from the log hook. Lines come from every thread
 * (plugins log from their own), hence the lock; it is held only to put a
 * line in or copy lines out.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "tendd.h"

#define BUCKETS 1024

/* A line kept at its own length: most are far shorter than the limit. */
struct kept {
	double time;
	int level;
	char text[]; /* at most sizeof(((struct recent_line *)0)->text) */
};

struct recent {
	char name[NAME_MAX_LEN + 8];
	struct kept *lines[RECENT_LINES];
	unsigned next, count;
	struct recent *chain;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct recent *buckets[BUCKETS];

static struct recent **find(const char *name)
{
	struct recent **at = &buckets[name_hash(name) % BUCKETS];

	while (*at && strcmp((*at)->name, name) != 0)
		at = &(*at)->chain;
	return at;
}

static void recent_release(struct recent *r)
{
	for (unsigned i = 0; r && i < RECENT_LINES; i++)
		free(r->lines[i]);
	free(r);
}

static void remember(int level, const char *who, const char *msg, size_t len)
{
	struct recent **at, *r;
	struct kept *l, *old = NULL;
	struct timeval tv;

	/* the daemon's own lines are not a service's */
	if (strcmp(who, "tendd") == 0 || strcmp(who, "config") == 0 ||
	    strlen(who) >= NAME_MAX_LEN + 8)
		return;
	if (len >= sizeof(((struct recent_line *)0)->text))
		len = sizeof(((struct recent_line *)0)->text) - 1;
	if ((l = malloc(sizeof(*l) + len + 1)) == NULL)
		return;
	gettimeofday(&tv, NULL);
	l->time = (double)tv.tv_sec + tv.tv_usec / 1e6;
	l->level = level;
	memcpy(l->text, msg, len);
	l->text[len] = '\0';
	pthread_mutex_lock(&lock);
	at = find(who);
	if (*at == NULL && (*at = calloc(1, sizeof(**at))) != NULL)
		strcpy((*at)->name, who);
	r = *at;
	if (r) {
		old = r->lines[r->next];
		r->lines[r->next] = l;
		r->next = (r->next + 1) % RECENT_LINES;
		if (r->count < RECENT_LINES)
			r->count++;
	} else {
		old = l;
	}
	pthread_mutex_unlock(&lock);
	free(old);
}

void recent_init(void) { log_set_hook(remember); }

/* The last lines `name` logged, oldest first, into out[]; how many. */
size_t recent_lines(const char *name, struct recent_line out[RECENT_LINES])
{
	struct recent *r;
	size_t n = 0;

	pthread_mutex_lock(&lock);
	r = *find(name);
	for (unsigned i = 0; r && i < r->count; i++) {
		const struct kept *l =
		    r->lines[(r->next + RECENT_LINES - r->count + i) %
		             RECENT_LINES];
		out[n].time = l->time;
		out[n].level = l->level;
		snprintf(out[n++].text, sizeof(out->text), "%s", l->text);
	}
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
	recent_release(r);
}

void recent_free(void)
{
	log_set_hook(NULL);
	pthread_mutex_lock(&lock);
	for (int i = 0; i < BUCKETS; i++)
		while (buckets[i]) {
			struct recent *r = buckets[i];
			buckets[i] = r->chain;
			recent_release(r);
		}
	pthread_mutex_unlock(&lock);
}
