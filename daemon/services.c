/*
 * The set of supervisors the daemon runs: created from a checked config,
 * started in config order, found by name, and stopped in reverse start
 * order at shutdown, one at a time, each within its stop_timeout.
 */
#include <stdlib.h>
#include <string.h>

#include "tendd.h"

static struct supervisor **all;
static size_t count;
/* removed by a reload while a thread it abandoned still runs */
static struct supervisor **limbo;
static size_t nlimbo;

/* shutdown: services still to stop, latest started first */
static struct supervisor **order;
static size_t order_next, order_len;
static void (*shutdown_done)(void);
static bool shutting_down;
static bool stepping; /* inside stop_next(): on_change must not step */

bool services_shutting_down(void) { return shutting_down; }

size_t services_count(void) { return count; }

struct supervisor *services_at(size_t i) { return all[i]; }

struct supervisor *services_find(const char *name)
{
	for (size_t i = 0; i < count; i++)
		if (strcmp(all[i]->cfg.name, name) == 0)
			return all[i];
	return NULL;
}

/*
 * Create a supervisor for every service of `cfg`, taking over its service
 * configs (left empty) and the plugin references in plugins[].
 */
void services_create(struct ev_loop *loop, struct tend_config *cfg,
                     struct plugin **plugins)
{
	all = calloc(cfg->nservices ? cfg->nservices : 1, sizeof(*all));
	if (all == NULL)
		fatalx("out of memory");
	for (size_t i = 0; i < cfg->nservices; i++)
		all[count++] =
		    supervisor_new(loop, &cfg->services[i], plugins[i]);
}

/*
 * Make `list` (n supervisors, the array taken over) the services: a
 * reload's new order. Not while shutting down.
 */
void services_adopt(struct supervisor **list, size_t n)
{
	free(all);
	all = list;
	count = n;
}

/* Forget a service a reload removed, now that it is down, and free it. */
void services_remove(struct supervisor *sv)
{
	size_t i;

	for (i = 0; i < count && all[i] != sv; i++)
		;
	if (i == count)
		return;
	memmove(&all[i], &all[i + 1], (count - i - 1) * sizeof(*all));
	count--;
	recent_forget(sv->cfg.name);
	if (sv->abandoned == 0) {
		supervisor_free(sv);
		return;
	}
	/* its abandoned thread reports to it when it ends: keep it */
	struct supervisor **grown = realloc(limbo, (nlimbo + 1) * sizeof(*grown));
	if (grown == NULL)
		fatalx("out of memory");
	limbo = grown;
	limbo[nlimbo++] = sv;
}

void services_start_all(void)
{
	for (size_t i = 0; i < count; i++)
		supervisor_start(all[i]);
}

static int later_first(const void *a, const void *b)
{
	const struct supervisor *x = *(struct supervisor *const *)a;
	const struct supervisor *y = *(struct supervisor *const *)b;
	return x->start_seq < y->start_seq ? 1 : x->start_seq > y->start_seq ? -1 : 0;
}

static void stop_next(void)
{
	stepping = true;
	while (order_next < order_len) {
		struct supervisor *sv = order[order_next];
		supervisor_stop(sv);
		if (!sv_state_is_down(sv->state)) {
			stepping = false;
			return; /* on_change() resumes once it is down */
		}
		order_next++;
	}
	stepping = false;
	if (shutdown_done) {
		void (*done)(void) = shutdown_done;
		shutdown_done = NULL;
		done();
	}
}

static void on_change(void *arg, struct supervisor *sv, enum sv_state from)
{
	(void)arg, (void)from;
	if (!stepping && shutdown_done && order_next < order_len &&
	    order[order_next] == sv && sv_state_is_down(sv->state)) {
		order_next++;
		stop_next();
	}
}

/*
 * Stop every service, latest started first, and call done() when all are
 * down. No service restarts from here on.
 */
void services_shutdown(void (*done)(void))
{
	static bool observing;

	if (shutdown_done || order)
		return; /* already under way */
	if (!observing) {
		supervisor_observe(on_change, NULL);
		observing = true;
	}
	order = calloc(count ? count : 1, sizeof(*order));
	if (order == NULL)
		fatalx("out of memory");
	memcpy(order, all, count * sizeof(*order));
	order_len = count;
	qsort(order, order_len, sizeof(*order), later_first);
	for (size_t i = 0; i < count; i++)
		all[i]->stop_wanted = true;
	shutting_down = true;
	shutdown_done = done;
	stop_next();
}

/* Does a thread that would not stop still run plugin code? */
bool services_any_stuck(void)
{
	for (size_t i = 0; i < count; i++)
		if (all[i]->abandoned > 0)
			return true;
	for (size_t i = 0; i < nlimbo; i++)
		if (limbo[i]->abandoned > 0)
			return true;
	return false;
}

void services_free(void)
{
	for (size_t i = 0; i < count; i++)
		supervisor_free(all[i]);
	for (size_t i = 0; i < nlimbo; i++)
		supervisor_free(limbo[i]);
	free(all);
	free(order);
	free(limbo);
	all = order = limbo = NULL;
	count = order_len = order_next = nlimbo = 0;
}
