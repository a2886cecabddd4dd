/*
 * The set of supervisors the daemon runs: created from a checked config,
 * started in config order (a service with `depends` once all it depends
 * on is ready), found by name, and stopped at shutdown one at a time,
 * each within its stop_timeout: latest started first, but never before
 * a service that depends on it.
 *
 * Also the supervision groups: when a member restarts after a failure,
 * its group restarts the others its strategy names, and counts; too many
 * group restarts within its period and the group gives up (all members
 * stop), which with `escalate` makes tendd exit for systemd to act.
 */
#include <ev.h>
#include <stdio.h>
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

struct group {
	struct group_config cfg; /* members are names: reloads swap services */
	struct backoff history;  /* group restarts, for intensity */
	bool failed;
	unsigned restarts;
};
static struct group *groups;
static size_t ngroups;
static void (*escalate)(const char *why);
/* a group acts on its members from the loop, never from inside the
 * supervisor whose failure it hears of: that one, or the member it
 * restarts, may be half-way through an action */
static struct ev_loop *group_loop;
static ev_timer group_timer;

static void on_change(void *arg, struct supervisor *, enum sv_state from);
static void on_group_timer(struct ev_loop *, ev_timer *, int);

bool services_shutting_down(void) { return shutting_down; }

size_t services_count(void) { return count; }

struct supervisor *services_at(size_t i) { return all[i]; }

struct supervisor *services_find(const char *name)
{
	for (size_t i = 0; i < count; i++)
		if (!all[i]->removing && strcmp(all[i]->cfg.name, name) == 0)
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
	static bool observing;

	if (!observing) {
		supervisor_observe(on_change, NULL);
		observing = true;
	}
	group_loop = loop;
	ev_timer_init(&group_timer, on_group_timer, 0., 0.);
	services_set_groups(cfg);
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
	exec_process_forget(sv->cfg.name);
	if (sv->abandoned == 0) {
		supervisor_free(sv);
		services_start_waiting(); /* it may have been waited for */
		return;
	}
	/* its abandoned thread reports to it when it ends: keep it */
	struct supervisor **grown = realloc(limbo, (nlimbo + 1) * sizeof(*grown));
	if (grown == NULL)
		fatalx("out of memory");
	limbo = grown;
	limbo[nlimbo++] = sv;
}

/* Is every service `sv` depends on ready? Names the first that is not. */
static bool dep_ready(struct supervisor *sv, size_t i, const char **missing)
{
	struct supervisor *d = services_find(sv->cfg.depends[i]);

	if (d && d->state != SV_READY) {
		sv->deps_next = i;
		*missing = d->cfg.name;
		return false;
	}
	return true;
}

/* From where the last look stopped, then the rest once: each look costs
 * about one lookup, not one per dependency (instances make many). */
static bool deps_ready(struct supervisor *sv, const char **missing)
{
	size_t n = sv->cfg.ndepends, from = sv->deps_next;

	for (size_t i = from; i < n; i++)
		if (!dep_ready(sv, i, missing))
			return false;
	for (size_t i = 0; i < from && i < n; i++)
		if (!dep_ready(sv, i, missing))
			return false;
	sv->deps_next = 0;
	return true;
}

/* Start it, or wait for what it depends on to be ready. */
void services_start(struct supervisor *sv)
{
	const char *missing = NULL;

	if (deps_ready(sv, &missing)) {
		supervisor_start(sv);
		return;
	}
	if (!sv->waiting)
		log_at(TEND_LOG_INFO, sv->cfg.name, "waiting for '%s' to be ready",
		       missing);
	sv->waiting = true;
}

void services_start_all(void)
{
	for (size_t i = 0; i < count; i++)
		services_start(all[i]);
}

/* Something got ready: start what waited for it, if it can start now. */
void services_start_waiting(void)
{
	const char *missing;

	for (size_t i = 0; i < count; i++)
		if (all[i]->waiting && all[i]->state == SV_STOPPED &&
		    deps_ready(all[i], &missing))
			supervisor_start(all[i]);
}

static int later_first(const void *a, const void *b)
{
	const struct supervisor *x = *(struct supervisor *const *)a;
	const struct supervisor *y = *(struct supervisor *const *)b;
	return x->start_seq < y->start_seq ? 1 : x->start_seq > y->start_seq ? -1 : 0;
}

/* Does a service not stopped yet depend on `sv`? */
static bool needed(const struct supervisor *sv)
{
	for (size_t i = order_next; i < order_len; i++) {
		const struct supervisor *o = order[i];
		if (o == sv || sv_state_is_down(o->state))
			continue;
		for (size_t k = 0; k < o->cfg.ndepends; k++)
			if (strcmp(o->cfg.depends[k], sv->cfg.name) == 0)
				return true;
	}
	return false;
}

/*
 * Put next in order[order_next] the latest started service that no
 * other one still running depends on.
 */
static void pick_next(void)
{
	for (size_t i = order_next; i < order_len; i++)
		if (!needed(order[i])) {
			struct supervisor *sv = order[i];
			memmove(&order[order_next + 1], &order[order_next],
			        (i - order_next) * sizeof(*order));
			order[order_next] = sv;
			return;
		}
}

static void stop_next(void)
{
	stepping = true;
	while (order_next < order_len) {
		struct supervisor *sv;
		pick_next();
		sv = order[order_next];
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
	(void)arg;
	if (!stepping && shutdown_done && order_next < order_len &&
	    order[order_next] == sv && sv_state_is_down(sv->state)) {
		order_next++;
		stop_next();
	}
	if (!shutting_down && sv->state == SV_READY && from != SV_READY)
		services_start_waiting();
}

static struct group *group_of(const struct supervisor *sv, size_t *at)
{
	for (size_t g = 0; g < ngroups; g++)
		for (size_t m = 0; m < groups[g].cfg.nmembers; m++)
			if (strcmp(groups[g].cfg.members[m], sv->cfg.name) == 0) {
				*at = m;
				return &groups[g];
			}
	return NULL;
}

const char *services_group_of(const struct supervisor *sv)
{
	size_t at;
	struct group *g = group_of(sv, &at);
	return g ? g->cfg.name : NULL;
}

static void on_group_timer(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l, (void)w, (void)revents;
	for (size_t i = 0; i < count; i++) {
		struct supervisor *o = all[i];
		bool stop = o->group_stop, restart = o->group_restart;
		o->group_stop = o->group_restart = false;
		if (stop)
			supervisor_stop(o);
		else if (restart && !shutting_down && !sv_state_is_down(o->state))
			supervisor_restart(o);
	}
}

static void group_order(struct supervisor *o, bool stop)
{
	if (stop)
		o->group_stop = true;
	else
		o->group_restart = true;
	if (!ev_is_active(&group_timer))
		ev_timer_start(group_loop, &group_timer);
}

static void give_up(struct group *g, const struct supervisor *failed,
                    const char *why)
{
	g->failed = true;
	log_error("group '%s' gives up: %s; stopping its members",
	          g->cfg.name, why);
	for (size_t m = 0; m < g->cfg.nmembers; m++) {
		struct supervisor *o = services_find(g->cfg.members[m]);
		if (o && o != failed)
			group_order(o, true);
	}
	if (g->cfg.escalate && escalate)
		escalate(g->cfg.name);
}

/*
 * A member restarts after a failure (or gave up): its group restarts the
 * members its strategy names. Returns true when the group gave up, so
 * the member must not restart either.
 */
static bool on_failure(struct supervisor *sv, bool gave_up)
{
	size_t at;
	struct group *g = group_of(sv, &at);
	struct restart_config limits = {0};
	char why[128];

	if (g == NULL || g->failed) {
		if (gave_up && sv->cfg.escalate && escalate)
			escalate(sv->cfg.name);
		return g != NULL;
	}
	if (gave_up) {
		snprintf(why, sizeof(why), "member '%s' gave up", sv->cfg.name);
		give_up(g, sv, why);
		if (sv->cfg.escalate && escalate && !g->cfg.escalate)
			escalate(sv->cfg.name);
		return true;
	}
	limits.intensity = g->cfg.intensity;
	limits.period = g->cfg.period;
	if (!backoff_allow_restart(&g->history, &limits, mono_now())) {
		snprintf(why, sizeof(why), "more than %d restarts within %gs",
		         g->cfg.intensity, g->cfg.period);
		give_up(g, sv, why);
		return true;
	}
	g->restarts++;
	if (g->cfg.strategy == GROUP_ONE_FOR_ONE)
		return false;
	log_notice("group '%s' (%s): '%s' failed, restarting %s",
	           g->cfg.name, group_strategy_name(g->cfg.strategy),
	           sv->cfg.name,
	           g->cfg.strategy == GROUP_ONE_FOR_ALL ? "every member"
	                                                : "the members after it");
	for (size_t m = g->cfg.strategy == GROUP_ONE_FOR_ALL ? 0 : at + 1;
	     m < g->cfg.nmembers; m++) {
		struct supervisor *o = services_find(g->cfg.members[m]);
		if (o && o != sv && !sv_state_is_down(o->state))
			group_order(o, false);
	}
	return false;
}

/* Take over `cfg`'s groups (left empty); they start afresh. */
void services_set_groups(struct tend_config *cfg)
{
	for (size_t g = 0; g < ngroups; g++) {
		for (size_t m = 0; m < groups[g].cfg.nmembers; m++)
			free(groups[g].cfg.members[m]);
		free(groups[g].cfg.members);
		free(groups[g].cfg.file);
		backoff_clear(&groups[g].history);
	}
	free(groups);
	groups = cfg->ngroups ? calloc(cfg->ngroups, sizeof(*groups)) : NULL;
	ngroups = cfg->ngroups;
	for (size_t g = 0; g < ngroups; g++)
		groups[g].cfg = cfg->groups[g];
	free(cfg->groups);
	cfg->groups = NULL;
	cfg->ngroups = 0;
	supervisor_on_failure(on_failure);
}

size_t services_groups(void) { return ngroups; }

void services_group_info(size_t i, const char **name, const char **strategy,
                         bool *failed, unsigned *restarts)
{
	*name = groups[i].cfg.name;
	*strategy = group_strategy_name(groups[i].cfg.strategy);
	*failed = groups[i].failed;
	*restarts = groups[i].restarts;
}

/* What tendd does when a group or a service with escalate gives up. */
void services_on_escalate(void (*fn)(const char *who)) { escalate = fn; }

/*
 * Stop every service, latest started first, and call done() when all are
 * down. No service restarts from here on.
 */
void services_shutdown(void (*done)(void))
{
	if (shutdown_done || order)
		return; /* already under way */
	order = calloc(count ? count : 1, sizeof(*order));
	if (order == NULL)
		fatalx("out of memory");
	memcpy(order, all, count * sizeof(*order));
	order_len = count;
	qsort(order, order_len, sizeof(*order), later_first);
	for (size_t i = 0; i < count; i++) {
		all[i]->stop_wanted = true;
		all[i]->restart_wanted = false;
	}
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
	if (group_loop)
		ev_timer_stop(group_loop, &group_timer);
	for (size_t i = 0; i < count; i++)
		supervisor_free(all[i]);
	for (size_t i = 0; i < nlimbo; i++)
		supervisor_free(limbo[i]);
	free(all);
	free(order);
	free(limbo);
	{
		struct tend_config none = {0};
		services_set_groups(&none);
	}
	all = order = limbo = NULL;
	count = order_len = order_next = nlimbo = 0;
}
