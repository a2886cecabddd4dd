/*
 * Live reconfiguration (SIGHUP, tendctl reload).
 *
 * A reload reads and checks the whole config again (the main file and
 * every drop-in) before it changes anything: a config with any error is
 * rejected, and the services run on as they were. Otherwise each service
 * is compared with the one of the same name and only the difference is
 * applied: new services start, removed ones stop, changed ones restart;
 * a change of settings alone is handed to the plugin's reload() where it
 * runs, and a change of the supervisor's own parameters (restart
 * strategy, timeouts) is applied in place. A plugin file replaced on disk
 * (new inode or new bytes) is a change of every service using it.
 *
 * A reload is over once every change it made has settled: a started
 * service is ready or failed, a removed one is down, reload() answered.
 * Its report says, per service, what happened. Reloads never overlap:
 * requests made while one runs are served by one more reload after it,
 * and SIGHUPs within RELOAD_HOLDOFF of the previous one wait for it to
 * pass, so a burst of signals makes one or two reloads.
 */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tendd.h"

#define RELOAD_HOLDOFF 1.0 /* seconds between reloads made by SIGHUP */

enum wait {
	W_NONE,
	W_RUN,    /* a new run: ready, or failed */
	W_RELOAD, /* the plugin's reload() to answer */
	W_DOWN,   /* removed: to be down */
};

struct item_state {
	struct supervisor *sv;
	enum wait wait;
	unsigned long seq; /* start_seq before: a new run has a higher one */
	bool fresh;        /* a supervisor this reload created */
};

struct waiter {
	reload_done_fn *fn;
	void *arg;
	struct waiter *next;
};

static struct ev_loop *loop;
static struct tend_config *current; /* globals of the config running */
static bool debug_forced;           /* tendd -d: the log level stays */
static unsigned long counter;

static struct reload_report *running; /* being applied */
static struct item_state *states;     /* running's, item by item */
static struct waiter *waiters;        /* of the running reload */
static struct waiter *queued;         /* of the next one */
static bool next_wanted;
static char next_origin[64];
static struct reload_report *last; /* the last one applied or rejected */
static double last_signal_start = -1e9;
static ev_timer settle;  /* after a change of state: all settled now? */
static ev_idle tidy;     /* frees what the last reload left, when idle */
static struct tend_config *retired; /* the config it replaced */
static ev_timer kick;    /* the next reload, after this one or a holdoff */

static const char *const outcome_names[] = {
    [RO_UNCHANGED] = "unchanged", [RO_ADDED] = "added",
    [RO_REMOVED] = "removed",     [RO_RESTARTED] = "restarted",
    [RO_RECONFIGURED] = "reconfigured", [RO_FAILED] = "failed",
};

const char *reload_outcome_name(enum reload_outcome o)
{
	return outcome_names[o];
}

const struct reload_report *reload_last(void) { return last; }

static void report_free(struct reload_report *r)
{
	if (r == NULL)
		return;
	errors_clear(&r->errors);
	errors_clear(&r->notes);
	for (size_t i = 0; i < r->nitems; i++)
		free(r->items[i].reason);
	free(r->items);
	free(r);
}

/* r->items has room for every item: plan() made it. */
static struct reload_item *add_item(struct reload_report *r, const char *name,
                                    enum reload_outcome o)
{
	struct reload_item *it = &r->items[r->nitems++];

	memset(it, 0, sizeof(*it));
	memcpy(it->name, name, strnlen(name, sizeof(it->name) - 1));
	it->outcome = o;
	return it;
}

static void set_reason(struct reload_item *it, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void set_reason(struct reload_item *it, const char *fmt, ...)
{
	va_list ap;

	free(it->reason);
	it->reason = NULL;
	va_start(ap, fmt);
	if (vasprintf(&it->reason, fmt, ap) < 0)
		fatalx("out of memory");
	va_end(ap);
	if (it->reason[0] == '\0') {
		free(it->reason);
		it->reason = NULL;
	}
}

/* The services running, to find each name of the new config among. */
struct lookup {
	struct supervisor **sv; /* in their order: the config's */
	size_t n;
	size_t next;    /* where the next name most likely is */
	size_t *sorted; /* positions by name, made at the first miss */
};

static int by_name(const void *a, const void *b, void *arg)
{
	struct supervisor **sv = arg;

	return strcmp(sv[*(const size_t *)a]->cfg.name,
	              sv[*(const size_t *)b]->cfg.name);
}

/*
 * The position of the running service named `name`, or -1. A config
 * mostly keeps its order, so the place after the last one found is
 * tried first: one comparison a service. Otherwise a binary search, on
 * names sorted at the first miss.
 */
static long find_running(struct lookup *l, const char *name)
{
	size_t lo = 0, hi = l->n;

	if (l->next < l->n && strcmp(l->sv[l->next]->cfg.name, name) == 0)
		return (long)l->next++;
	if (l->sorted == NULL) {
		l->sorted = calloc(l->n + 1, sizeof(*l->sorted));
		if (l->sorted == NULL)
			fatalx("out of memory");
		for (size_t i = 0; i < l->n; i++)
			l->sorted[i] = i;
		qsort_r(l->sorted, l->n, sizeof(*l->sorted), by_name, l->sv);
	}
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, l->sv[l->sorted[mid]]->cfg.name);
		if (c == 0) {
			l->next = l->sorted[mid] + 1;
			return (long)l->sorted[mid];
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return -1;
}

/* What a service runs now, or will once its current run is over. */
static const struct service_config *config_of(const struct supervisor *sv)
{
	return sv->next ? sv->next : &sv->cfg;
}

static struct plugin *plugin_of(const struct supervisor *sv)
{
	return sv->next ? sv->next_plugin : sv->plugin;
}

/* The plan for one service that is in both configs. */
static enum reload_outcome classify(const struct supervisor *sv,
                                    const struct service_config *sc,
                                    const struct plugin *p, char *why,
                                    size_t len)
{
	unsigned d = service_config_diff(config_of(sv), sc);

	if (p == NULL)
		return RO_FAILED;
	if (p != plugin_of(sv)) {
		snprintf(why, len, plugin_of(sv) ? "plugin file replaced"
		                                 : "plugin loads again");
		return RO_RESTARTED;
	}
	if (d & SC_DIFF_RUN) {
		snprintf(why, len, "config changed");
		return RO_RESTARTED;
	}
	if (d == 0)
		return RO_UNCHANGED;
	if (sv->next) {
		/* a replacement waits for the current run to end */
		snprintf(why, len, "config changed");
		return RO_RESTARTED;
	}
	if (sv->state == SV_FAILED || sv->state == SV_EXITED ||
	    sv->state == SV_BACKOFF) {
		/* down by itself: the change may be the fix, try it now */
		snprintf(why, len, "config changed");
		return RO_RESTARTED;
	}
	if ((d & SC_DIFF_SETTINGS) &&
	    (p->api.reload == NULL || sv->state == SV_STARTING)) {
		snprintf(why, len, p->api.reload ? "settings changed while "
		                                   "starting"
		                                 : "settings changed; the "
		                                   "plugin has no reload()");
		return RO_RESTARTED;
	}
	snprintf(why, len, "%s%s%s",
	         d & SC_DIFF_SETTINGS ? "settings" : "",
	         d == (SC_DIFF_SETTINGS | SC_DIFF_SUPERVISOR) ? " and " : "",
	         d & SC_DIFF_SUPERVISOR ? "restart strategy or timeouts" : "");
	/* (SC_DIFF_SUPERVISOR also covers depends, escalate and mailbox) */
	return RO_RECONFIGURED;
}

/* tend.* keys that apply at once; the others are noted. */
static void apply_globals(struct reload_report *r, struct tend_config *to)
{
	struct tend_config *from = current;

	if (!debug_forced && to->log_level != from->log_level) {
		log_threshold = to->log_level;
		errors_add(&r->notes, "log.level", 0, "%s -> %s",
		           log_level_name(from->log_level),
		           log_level_name(to->log_level));
	}
	if (strcmp(to->control_socket, from->control_socket) != 0 ||
	    to->control_mode != from->control_mode ||
	    to->control_uid != from->control_uid ||
	    to->control_gid != from->control_gid) {
		struct control_access a = {to->control_socket, to->control_mode,
		                           to->control_uid, to->control_gid};
		char err[512];
		if (control_move(&a, err, sizeof(err)) < 0) {
			errors_add(&r->notes, "control.socket", 0,
			           "kept '%s': %s", from->control_socket, err);
			free(to->control_socket);
			to->control_socket = strdup(from->control_socket);
			to->control_mode = from->control_mode;
			to->control_uid = from->control_uid;
			to->control_gid = from->control_gid;
			if (to->control_socket == NULL)
				fatalx("out of memory");
		} else {
			errors_add(&r->notes, "control.socket", 0,
			           "'%s' mode %04o", to->control_socket,
			           to->control_mode);
		}
	}
	if (to->cgroups != from->cgroups)
		errors_add(&r->notes, "cgroups", 0,
		           "a change takes effect when tendd restarts");
}

/*
 * Compare `cfg` with what runs and fill r->items. When applying, also
 * make the changes: `cfg`'s services and `plugins` are taken over.
 */
static void plan(struct reload_report *r, struct tend_config *cfg,
                 struct plugin **plugins, char **load_errors, bool apply)
{
	size_t nold = services_count(), nnew = 0;
	struct supervisor **old = calloc(nold + 1, sizeof(*old));
	struct supervisor **list = calloc(nold + cfg->nservices + 1,
	                                  sizeof(*list));
	bool *kept = calloc(nold + 1, sizeof(*kept));
	struct lookup lookup = {.sv = old, .n = nold};

	r->items = calloc(nold + cfg->nservices + 1, sizeof(*r->items));
	if (old == NULL || list == NULL || kept == NULL || r->items == NULL)
		fatalx("out of memory");
	for (size_t i = 0; i < nold; i++)
		old[i] = services_at(i);
	if (apply) {
		states = calloc(cfg->nservices + nold + 1, sizeof(*states));
		if (states == NULL)
			fatalx("out of memory");
	}

	for (size_t i = 0; i < cfg->nservices; i++) {
		struct service_config *sc = &cfg->services[i];
		long at = find_running(&lookup, sc->name);
		struct supervisor *sv = at >= 0 ? old[at] : NULL;
		struct reload_item *it;
		struct item_state *st;
		char why[REASON_MAX] = "";
		enum reload_outcome o;

		if (sv) {
			kept[at] = true;
			o = classify(sv, sc, plugins[i], why, sizeof(why));
		} else {
			o = plugins[i] ? RO_ADDED : RO_FAILED;
		}
		it = add_item(r, sc->name, o);
		if (o == RO_FAILED)
			set_reason(it, "%s", load_errors[i]);
		else if (why[0] != '\0') /* most are unchanged: no reason */
			set_reason(it, "%s", why);
		if (!apply)
			continue;

		st = &states[r->nitems - 1];
		if (sv == NULL) {
			sv = supervisor_new(loop, sc, plugins[i]);
			if (plugins[i] == NULL)
				supervisor_set_plugin_error(sv, load_errors[i]);
			st->wait = W_RUN; /* started below, in order */
			st->fresh = true;
		} else if (o == RO_RESTARTED || o == RO_FAILED) {
			st->seq = sv->start_seq;
			if (supervisor_replace(sv, sc, plugins[i],
			                       load_errors[i])) {
				st->wait = W_RUN;
			} else if (o != RO_FAILED) {
				it->outcome = RO_RECONFIGURED;
				set_reason(it, "stopped: the new config "
				               "applies at its next start");
			}
		} else {
			if (!sv->next && supervisor_update(sv, sc))
				st->wait = W_RELOAD;
			plugin_put(plugins[i]); /* what is left of sc: on_tidy() */
		}
		plugins[i] = NULL;
		st->sv = sv;
		list[nnew++] = sv;
	}
	for (size_t i = 0; i < nold; i++) {
		if (kept[i])
			continue;
		add_item(r, old[i]->cfg.name, RO_REMOVED);
		if (!apply)
			continue;
		states[r->nitems - 1] = (struct item_state){
		    .sv = old[i], .wait = W_DOWN};
		old[i]->removing = true;
		list[nnew++] = old[i];
	}
	if (apply) {
		/* the new order: the config's, then those still stopping */
		services_adopt(list, nnew);
		services_start_waiting(); /* depends may have changed */
		for (size_t i = 0; i < r->nitems; i++) {
			struct supervisor *sv = states[i].sv;
			if (states[i].fresh)
				services_start(sv);
			else if (states[i].wait == W_DOWN)
				supervisor_stop(sv);
		}
	} else {
		free(list);
	}
	free(old);
	free(kept);
	free(lookup.sorted);
}

static void log_report(const struct reload_report *r)
{
	unsigned n[RO_FAILED + 1] = {0};

	for (size_t i = 0; i < r->errors.count; i++)
		log_write(TEND_LOG_ERROR, "config", "%s", r->errors.msgs[i]);
	for (size_t i = 0; i < r->notes.count; i++)
		log_notice("reload %lu: %s", r->id, r->notes.msgs[i]);
	for (size_t i = 0; i < r->nitems; i++) {
		const struct reload_item *it = &r->items[i];
		n[it->outcome]++;
		log_at(it->outcome == RO_FAILED      ? TEND_LOG_ERROR
		       : it->outcome == RO_UNCHANGED ? TEND_LOG_DEBUG
		                                     : TEND_LOG_NOTICE,
		       "tendd", "reload %lu: %s: %s%s%s%s", r->id, it->name,
		       r->dry_run ? "would be " : "",
		       outcome_names[it->outcome], it->reason ? ": " : "",
		       it->reason ? it->reason : "");
	}
	if (r->rejected)
		log_error("reload %lu (%s): config rejected, %zu error%s; "
		          "still running the previous config",
		          r->id, r->origin, r->errors.count,
		          r->errors.count == 1 ? "" : "s");
	else
		log_notice("reload %lu (%s)%s: %u added, %u removed, %u "
		           "restarted, %u reconfigured, %u unchanged, %u "
		           "failed, in %.1f ms",
		           r->id, r->origin, r->dry_run ? ", dry run" : "",
		           n[RO_ADDED], n[RO_REMOVED], n[RO_RESTARTED],
		           n[RO_RECONFIGURED], n[RO_UNCHANGED], n[RO_FAILED],
		           r->took * 1e3);
}

static void call_waiters(struct waiter *w, const struct reload_report *r)
{
	while (w) {
		struct waiter *next = w->next;
		if (w->fn)
			w->fn(w->arg, r);
		free(w);
		w = next;
	}
}

static void finish(struct reload_report *r, struct waiter *w)
{
	r->took = mono_now() - r->started;
	log_report(r);
	call_waiters(w, r);
	if (r->dry_run) {
		report_free(r);
		return;
	}
	report_free(last);
	last = r;
	if (!services_shutting_down())
		notify_ready(); /* also after a rejected one: the old config runs */
}

/* Read and check the config, load its plugins: NULL if rejected. */
static struct tend_config *load(struct reload_report *r,
                                struct plugin ***plugins, char ***errs)
{
	struct tend_config *cfg = config_load(current->file, &r->errors);

	if (cfg == NULL) {
		r->rejected = true;
		return NULL;
	}
	*plugins = calloc(cfg->nservices + 1, sizeof(**plugins));
	*errs = calloc(cfg->nservices + 1, sizeof(**errs));
	if (*plugins == NULL || *errs == NULL)
		fatalx("out of memory");
	plugins_load(cfg, *plugins, &r->errors, *errs);
	return cfg;
}

static void unload(struct tend_config *cfg, struct plugin **plugins,
                   char **errs)
{
	for (size_t i = 0; i < cfg->nservices; i++) {
		plugin_put(plugins[i]);
		free(errs[i]);
	}
	free(plugins);
	free(errs);
}

static struct reload_report *report_new(bool dry_run, const char *origin)
{
	struct reload_report *r = calloc(1, sizeof(*r));

	if (r == NULL)
		fatalx("out of memory");
	r->id = ++counter;
	r->dry_run = dry_run;
	snprintf(r->origin, sizeof(r->origin), "%s", origin);
	r->started = mono_now();
	return r;
}

static void dry_run(const char *origin, struct waiter *w)
{
	struct reload_report *r = report_new(true, origin);
	struct plugin **plugins = NULL;
	char **errs = NULL;
	struct tend_config *cfg = load(r, &plugins, &errs);

	if (cfg) {
		plan(r, cfg, plugins, errs, false);
		unload(cfg, plugins, errs);
		config_free(cfg);
	}
	finish(r, w);
}

static bool settled(void);

static void kick_after(double wait)
{
	ev_timer_stop(loop, &kick);
	ev_timer_set(&kick, wait > 0 ? wait : 0., 0.);
	ev_timer_start(loop, &kick);
}

static void begin(const char *origin)
{
	struct reload_report *r = report_new(false, origin);
	struct plugin **plugins = NULL;
	char **errs = NULL;
	struct tend_config *cfg;

	log_notice("reload %lu (%s): reading '%s'", r->id, origin,
	           current->file);
	notify_reloading();
	cfg = load(r, &plugins, &errs);
	if (cfg == NULL) {
		struct waiter *w = waiters;
		waiters = NULL;
		finish(r, w);
		return;
	}
	running = r;
	apply_globals(r, cfg);
	services_set_groups(cfg);
	plan(r, cfg, plugins, errs, true);
	unload(cfg, plugins, errs);
	config_free(retired); /* the loop was not idle since the last one */
	retired = current;
	current = cfg;
	settled();
}

/* A config whose services are made: what they did not take over. */
static void drop_services(struct tend_config *cfg)
{
	config_drop_parsed(cfg);
	for (size_t i = 0; i < cfg->nservices; i++)
		service_config_clear(&cfg->services[i]);
	free(cfg->services);
	cfg->services = NULL;
	cfg->nservices = 0;
}

/*
 * Free what the last reload left: the config it replaced, libconfig's
 * tree of the new one, the service configs nothing took over. Freeing a
 * thousand services is work the reply need not wait for: it is done once
 * the reload is over and the loop idle, the reply written.
 */
static void on_tidy(struct ev_loop *l, ev_idle *w, int revents)
{
	(void)revents;
	ev_idle_stop(l, w);
	config_free(retired);
	retired = NULL;
	if (current)
		drop_services(current);
}

/* Has every change settled? Finishes the reload when so. */
static bool settled(void)
{
	struct reload_report *r = running;
	bool stopping = services_shutting_down();
	bool all = true;
	struct waiter *w;

	for (size_t i = 0; i < r->nitems; i++) {
		struct item_state *st = &states[i];
		struct reload_item *it = &r->items[i];
		struct supervisor *sv = st->sv;
		char how[REASON_MAX + 64];

		switch (st->wait) {
		case W_NONE:
			continue;
		case W_RUN:
			if (sv->state == SV_STOPPED) {
				set_reason(it, sv->waiting ? "waiting for what it "
				                             "depends on"
				                           : "stopped since");
				break;
			}
			if (sv->start_seq == st->seq && !stopping) {
				all = false; /* the old run is still stopping */
				continue;
			}
			if (sv->state == SV_READY ||
			    (sv->state == SV_EXITED && sv->last &&
			     !exit_is_failure(sv->last)))
				break;
			if (sv->state == SV_BACKOFF || sv->state == SV_FAILED ||
			    sv->state == SV_EXITED) {
				if (sv->last)
					exit_describe(sv->last, how, sizeof(how));
				else
					snprintf(how, sizeof(how), "%s",
					         sv_state_name(sv->state));
				it->outcome = RO_FAILED;
				set_reason(it, "%s", how);
				break;
			}
			if (stopping) {
				it->outcome = RO_FAILED;
				set_reason(it, "tendd is shutting down");
				break;
			}
			all = false;
			continue;
		case W_RELOAD:
			if (sv->reloading && !stopping) {
				all = false;
				continue;
			}
			if (sv->reload_rc != 0) {
				it->outcome = RO_RESTARTED;
				set_reason(it, "reload() returned %d",
				           sv->reload_rc);
				st->wait = W_RUN;
				st->seq = sv->reload_seq;
				sv->reload_rc = 0;
				all = false;
				continue;
			}
			break;
		case W_DOWN:
			if (!sv_state_is_down(sv->state) && !stopping) {
				all = false;
				continue;
			}
			if (!stopping)
				services_remove(sv);
			break;
		}
		st->wait = W_NONE;
	}
	if (!all)
		return false;
	free(states);
	states = NULL;
	running = NULL;
	w = waiters;
	waiters = NULL;
	finish(r, w);
	ev_idle_start(loop, &tidy);
	/* SIGHUPs alone are held off; someone waiting for a reply is not */
	if (next_wanted && !stopping)
		kick_after(queued == NULL
		               ? last_signal_start + RELOAD_HOLDOFF - mono_now()
		               : 0);
	return true;
}

static void on_settle(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l, (void)w, (void)revents;
	if (running)
		settled();
}

/*
 * A service changed state, or its reload() answered: look again, from
 * the loop rather than from inside the supervisor, which may still be
 * using the service (settled() may free it).
 */
static void on_change(void *arg, struct supervisor *sv, enum sv_state from)
{
	(void)arg, (void)sv, (void)from;
	if (running && !ev_is_active(&settle))
		ev_timer_start(loop, &settle);
}

/* Start the reload that was asked for while another ran. */
static void on_kick(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l, (void)revents;
	ev_timer_stop(loop, w);
	if (running || !next_wanted || services_shutting_down())
		return;
	next_wanted = false;
	waiters = queued;
	queued = NULL;
	if (strcmp(next_origin, "SIGHUP") == 0)
		last_signal_start = mono_now();
	begin(next_origin);
}

static struct waiter *waiter_new(reload_done_fn *fn, void *arg)
{
	struct waiter *w = calloc(1, sizeof(*w));

	if (w == NULL)
		fatalx("out of memory");
	w->fn = fn;
	w->arg = arg;
	return w;
}

/*
 * Reload the config (or, with dry_run, only say what a reload would do),
 * and call fn(arg, report) when done: maybe before this returns, maybe
 * much later. `origin` says who asked, for the log.
 */
void reload_request(bool dry, const char *origin, reload_done_fn *fn,
                    void *arg)
{
	struct waiter *w = waiter_new(fn, arg);

	if (services_shutting_down()) {
		struct reload_report *r = report_new(dry, origin);
		r->rejected = true;
		errors_add(&r->errors, "tendd", 0, "shutting down: no reload");
		call_waiters(w, r);
		report_free(r);
		return;
	}
	if (dry) {
		dry_run(origin, w);
		return;
	}
	if (running) {
		w->next = queued;
		queued = w;
		next_wanted = true;
		snprintf(next_origin, sizeof(next_origin), "%s", origin);
		return;
	}
	/* this one also serves a SIGHUP held off */
	ev_timer_stop(loop, &kick);
	next_wanted = false;
	w->next = queued;
	queued = NULL;
	waiters = w;
	begin(origin);
}

/* SIGHUP: reload, at most once per RELOAD_HOLDOFF. */
void reload_signal(void)
{
	double now = mono_now(), wait = last_signal_start + RELOAD_HOLDOFF - now;

	if (services_shutting_down())
		return;
	if (running || wait > 0) {
		next_wanted = true;
		if (queued == NULL) /* else a tendctl reload will serve it */
			snprintf(next_origin, sizeof(next_origin), "SIGHUP");
		if (!running && !ev_is_active(&kick))
			kick_after(wait);
		return;
	}
	last_signal_start = now;
	begin("SIGHUP");
}

/* The waiter with this `arg` went away: do not call it. */
void reload_cancel(void *arg)
{
	for (struct waiter *w = waiters; w; w = w->next)
		if (w->arg == arg)
			w->fn = NULL;
	for (struct waiter *w = queued; w; w = w->next)
		if (w->arg == arg)
			w->fn = NULL;
}

/* Takes over `cfg` (its globals: the services were taken already). */
void reload_init(struct ev_loop *l, struct tend_config *cfg, bool debug)
{
	loop = l;
	current = cfg;
	drop_services(cfg); /* the services are made */
	debug_forced = debug;
	ev_timer_init(&settle, on_settle, 0., 0.);
	ev_idle_init(&tidy, on_tidy);
	ev_init(&kick, on_kick);
	supervisor_observe(on_change, NULL);
}

void reload_shutdown(void)
{
	ev_timer_stop(loop, &settle);
	ev_timer_stop(loop, &kick);
	ev_idle_stop(loop, &tidy);
	call_waiters(waiters, NULL);
	call_waiters(queued, NULL);
	waiters = queued = NULL;
	free(states);
	states = NULL;
	report_free(running);
	running = NULL;
	report_free(last);
	last = NULL;
	config_free(retired);
	retired = NULL;
	config_free(current);
	current = NULL;
}
