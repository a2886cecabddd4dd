/*
 * The supervisor: one per service instance, a state machine on the main
 * loop. It starts the service through its executor, watches what the
 * executor reports, and restarts it by its restart strategy: policy,
 * backoff and intensity. Every state change goes to the observers.
 *
 * The machine is a table of small actions indexed by [state][event], in
 * the manner of s6-supervise: the dispatcher only finds the entry.
 */
#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tendd.h"

enum sv_event {
	SE_START,   /* asked to start */
	SE_STOP,    /* asked to stop */
	SE_STARTED, /* the executor runs the plugin */
	SE_READY,   /* the plugin said it is ready */
	SE_END,     /* an async plugin called tend_fail/tend_exit */
	SE_EXITED,  /* the run is over */
	SE_TIMER,   /* backoff over, or stop deadline passed */
	SE_HUNG,    /* the watchdog saw no heartbeat */
	SE_RELOADED, /* the plugin's reload() returned */
	SE_NEVENTS
};

typedef void action_fn(struct supervisor *, const struct exit_info *);

struct observer {
	sv_observer_fn *fn;
	void *arg;
	struct observer *next;
};

static struct observer *observers;
static sv_failure_fn *failure_hook;
static unsigned long start_counter;

static const char *const state_names[SV_NSTATES] = {
    [SV_STOPPED] = "stopped",   [SV_STARTING] = "starting",
    [SV_RUNNING] = "running",   [SV_READY] = "ready",
    [SV_STOPPING] = "stopping", [SV_BACKOFF] = "backoff",
    [SV_EXITED] = "exited",     [SV_FAILED] = "failed",
};

const char *sv_state_name(enum sv_state s) { return state_names[s]; }

/* Nothing runs and nothing will without a request or a timer. */
bool sv_state_is_down(enum sv_state s)
{
	return s == SV_STOPPED || s == SV_EXITED || s == SV_FAILED;
}

static void dispatch(struct supervisor *, enum sv_event,
                     const struct exit_info *);

/* Told of every restart after a failure, and of giving up (groups). */
void supervisor_on_failure(sv_failure_fn *fn) { failure_hook = fn; }

void supervisor_observe(sv_observer_fn *fn, void *arg)
{
	struct observer *o = calloc(1, sizeof(*o));

	if (o == NULL)
		fatalx("out of memory");
	o->fn = fn;
	o->arg = arg;
	o->next = observers;
	observers = o;
}

static void set_state(struct supervisor *sv, enum sv_state to)
{
	enum sv_state from = sv->state;

	sv->state = to;
	sv->since = mono_now();
	log_at(TEND_LOG_DEBUG, sv->cfg.name, "%s -> %s", state_names[from],
	       state_names[to]);
	for (struct observer *o = observers; o; o = o->next)
		o->fn(o->arg, sv, from);
}

/* Something the observers may want besides a state change. */
static void notify(struct supervisor *sv)
{
	for (struct observer *o = observers; o; o = o->next)
		o->fn(o->arg, sv, sv->state);
}

static ev_timer *timer(struct supervisor *sv) { return sv->timer; }
static ev_timer *watchdog(struct supervisor *sv) { return sv->watchdog; }

static void arm_timer(struct supervisor *sv, double after)
{
	ev_timer_stop(sv->loop, timer(sv));
	ev_timer_set(timer(sv), after, 0.);
	ev_timer_start(sv->loop, timer(sv));
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)revents;
	dispatch(w->data, SE_TIMER, NULL);
}

/* Re-arm for the next possible deadline; hung only once it has passed. */
static void on_watchdog(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct supervisor *sv = w->data;
	double left;

	(void)revents;
	if (sv->inst == NULL)
		return;
	left = sv->inst->last_beat + sv->cfg.watchdog - mono_now();
	if (left > 0) {
		w->repeat = left;
		ev_timer_again(loop, w);
		return;
	}
	ev_timer_stop(loop, w);
	dispatch(sv, SE_HUNG, NULL);
}

/* What the last run left for the next, if the next is not starting. */
static void drop_spare(struct supervisor *sv)
{
	if (sv->spare && sv->ops->drop_spare)
		sv->ops->drop_spare(sv);
}

/* Take the config a reload left waiting; nothing runs now. */
static void take_next(struct supervisor *sv)
{
	if (sv->next == NULL)
		return;
	drop_spare(sv); /* made for the old config */
	service_config_clear(&sv->cfg);
	sv->cfg = *sv->next;
	free(sv->next);
	sv->next = NULL;
	plugin_put(sv->plugin);
	sv->plugin = sv->next_plugin;
	sv->next_plugin = NULL;
	sv->ops = executor_ops(sv->cfg.executor);
}

/* *slot becomes a copy of *e, made on first use. */
static void keep_exit(struct exit_info **slot, const struct exit_info *e)
{
	if (*slot == NULL && (*slot = malloc(sizeof(**slot))) == NULL)
		fatalx("out of memory");
	**slot = *e;
}

static void drop_pending(struct supervisor *sv)
{
	free(sv->pending);
	sv->pending = NULL;
}

/* Clean up after a run, and remember how it ended. */
static void run_over(struct supervisor *sv, const struct exit_info *info)
{
	char how[REASON_MAX + 64];

	ev_timer_stop(sv->loop, timer(sv));
	ev_timer_stop(sv->loop, watchdog(sv));
	sv->reloading = false;
	if (sv->inst) {
		sv->output_dropped += sv->inst->output_dropped;
		if (!sv->inst->abandoned) {
			sv->ops->reap(sv->inst);
			instance_free(sv->inst);
		}
		sv->inst = NULL;
	}
	take_next(sv);
	keep_exit(&sv->last, sv->pending ? sv->pending : info);
	drop_pending(sv);
	exit_describe(sv->last, how, sizeof(how));
	log_at(exit_is_failure(sv->last) && !sv->stop_wanted
	           ? TEND_LOG_WARNING
	           : TEND_LOG_INFO,
	       sv->cfg.name, "%s after %.3fs", how,
	       mono_now() - sv->started_at);
}

static void begin_run(struct supervisor *sv)
{
	char err[REASON_MAX];
	struct exit_info info = {.kind = EXIT_START_FAILED};
	struct instance *in;

	sv->started_at = mono_now();
	sv->start_seq = ++start_counter;
	if (sv->plugin == NULL) {
		/* its plugin would not load: only a reload can change that */
		snprintf(info.reason, sizeof(info.reason), "%s",
		         sv->plugin_error ? sv->plugin_error : "no plugin");
		keep_exit(&sv->last, &info);
		log_at(TEND_LOG_ERROR, sv->cfg.name, "cannot start: %s",
		       info.reason);
		set_state(sv, SV_FAILED);
		return;
	}
	in = instance_new(sv, sv->ops, sv->plugin, &sv->cfg, sv->loop);
	set_state(sv, SV_STARTING);
	if (in == NULL) {
		snprintf(info.reason, sizeof(info.reason),
		         "cannot create an instance: %s", strerror(errno));
		dispatch(sv, SE_EXITED, &info);
		return;
	}
	if (sv->ops->start(in, err, sizeof(err)) < 0) {
		instance_free(in); /* nothing runs: nothing to reap */
		snprintf(info.reason, sizeof(info.reason), "%s", err);
		dispatch(sv, SE_EXITED, &info);
		return;
	}
	sv->inst = in;
}

/* Ask the run to end, with a deadline; `why` says why if not on request. */
static void begin_stop(struct supervisor *sv, const struct exit_info *why)
{
	if (why)
		keep_exit(&sv->pending, why);
	ev_timer_stop(sv->loop, watchdog(sv));
	set_state(sv, SV_STOPPING);
	arm_timer(sv, sv->cfg.stop_timeout);
	sv->ops->stop(sv->inst);
}

/* After an unrequested end: restart, wait, or give up, by the strategy. */
static void apply_strategy(struct supervisor *sv)
{
	const struct restart_config *rc = &sv->cfg.restart;
	bool failure = exit_is_failure(sv->last);
	bool restart;
	double now = mono_now(), wait;
	char how[REASON_MAX + 64];

	backoff_note_run(&sv->backoff, rc, now - sv->started_at);
	switch (rc->policy) {
	case POLICY_PERMANENT:
		restart = true;
		break;
	case POLICY_TRANSIENT:
		restart = failure;
		break;
	default:
		restart = false;
		break;
	}
	if (!restart) {
		set_state(sv, failure ? SV_FAILED : SV_EXITED);
		return;
	}
	if (!backoff_allow_restart(&sv->backoff, rc, now)) {
		exit_describe(sv->last, how, sizeof(how));
		log_at(TEND_LOG_ERROR, sv->cfg.name,
		          "giving up: more than %d restarts within %gs; last: "
		          "%s",
		          rc->intensity, rc->period, how);
		sv->gave_up = true;
		set_state(sv, SV_FAILED);
		if (failure_hook)
			(void)failure_hook(sv, true);
		return;
	}
	sv->backoff.failures++;
	wait = backoff_delay(rc, sv->backoff.failures, drand48());
	if (failure && failure_hook && failure_hook(sv, false)) {
		/* its group gave up: the group has stopped the others */
		sv->gave_up = true;
		set_state(sv, SV_FAILED);
		return;
	}
	sv->restarts++;
	if (wait <= 0) {
		/* the executor may ready the run after this one */
		sv->restarting_fast = now - sv->started_at < FAST_RUN;
		begin_run(sv);
		sv->restarting_fast = false;
		return;
	}
	log_at(TEND_LOG_INFO, sv->cfg.name, "restarting in %.3fs", wait);
	sv->next_start = now + wait;
	set_state(sv, SV_BACKOFF);
	arm_timer(sv, wait);
}

/* The actions. */

static void a_ignore(struct supervisor *sv, const struct exit_info *e)
{
	(void)sv, (void)e;
}

/* A start by hand forgets every past failure. */
static void a_start(struct supervisor *sv, const struct exit_info *e)
{
	(void)e;
	ev_timer_stop(sv->loop, timer(sv));
	sv->stop_wanted = false;
	sv->gave_up = false;
	sv->waiting = false;
	backoff_clear(&sv->backoff);
	begin_run(sv);
}

static void a_backoff_over(struct supervisor *sv, const struct exit_info *e)
{
	(void)e;
	if (sv->stop_wanted)
		set_state(sv, SV_STOPPED);
	else
		begin_run(sv);
}

static void a_stop_run(struct supervisor *sv, const struct exit_info *e)
{
	(void)e;
	log_at(TEND_LOG_INFO, sv->cfg.name, "stopping");
	begin_stop(sv, NULL);
}

static void a_to_stopped(struct supervisor *sv, const struct exit_info *e)
{
	(void)e;
	ev_timer_stop(sv->loop, timer(sv));
	set_state(sv, SV_STOPPED);
}

static void a_started(struct supervisor *sv, const struct exit_info *e)
{
	(void)e;
	if (sv->cfg.watchdog > 0) {
		ev_timer_set(watchdog(sv), sv->cfg.watchdog, 0.);
		ev_timer_start(sv->loop, watchdog(sv));
	}
	if (sv->inst->tid)
		log_at(TEND_LOG_INFO, sv->cfg.name, "started (%s, thread %d)",
		       sv->ops->name, (int)sv->inst->tid);
	else
		log_at(TEND_LOG_INFO, sv->cfg.name, "started (%s)",
		       sv->ops->name);
	if (sv->cfg.ready == READY_NOTIFY)
		arm_timer(sv, sv->cfg.ready_timeout);
	set_state(sv, sv->cfg.ready == READY_START ? SV_READY : SV_RUNNING);
}

static void a_ready(struct supervisor *sv, const struct exit_info *e)
{
	(void)e;
	if (sv->state == SV_STARTING)
		return; /* STARTED is still to come; it will see ready_sent */
	ev_timer_stop(sv->loop, timer(sv));
	log_at(TEND_LOG_INFO, sv->cfg.name, "ready");
	set_state(sv, SV_READY);
}

/* Stop a run that went wrong while up, saying why (`what`) in the log. */
static void stop_because(struct supervisor *sv, enum exit_kind kind,
                         const char *prefix, const char *what)
{
	struct exit_info why = {.kind = kind};

	snprintf(why.reason, sizeof(why.reason), "%s", what);
	log_at(TEND_LOG_WARNING, sv->cfg.name, "%s%s", prefix, what);
	begin_stop(sv, &why);
}

/* ready = "notify", and no word within ready_timeout: a failed start */
static void a_not_ready(struct supervisor *sv, const struct exit_info *e)
{
	char what[64];

	(void)e;
	snprintf(what, sizeof(what), "not ready within %gs",
	         sv->cfg.ready_timeout);
	stop_because(sv, EXIT_START_FAILED, "", what);
}

/* reload() answered: non-zero asks for a restart on the new settings. */
static void a_reloaded(struct supervisor *sv, const struct exit_info *e)
{
	sv->reloading = false;
	sv->reload_rc = e->code;
	sv->reload_seq = sv->start_seq; /* the restart below is a later run */
	if (e->code == 0) {
		log_at(TEND_LOG_INFO, sv->cfg.name, "reloaded its settings");
		notify(sv);
		return;
	}
	log_at(TEND_LOG_NOTICE, sv->cfg.name,
	       "reload() returned %d: restarting", e->code);
	notify(sv);
	sv->stop_wanted = true;
	sv->restart_wanted = true;
	begin_stop(sv, NULL);
}

static void a_end(struct supervisor *sv, const struct exit_info *e)
{
	(void)e;
	begin_stop(sv, NULL);
}

static void a_exited(struct supervisor *sv, const struct exit_info *e)
{
	run_over(sv, e);
	if (sv->stop_wanted)
		set_state(sv, SV_STOPPED);
	else
		apply_strategy(sv);
}

static void a_stopped(struct supervisor *sv, const struct exit_info *e)
{
	struct exit_info stopped = {.kind = EXIT_STOPPED};

	/* a run that ends cleanly because we asked it to was stopped */
	if (sv->stop_wanted && !exit_is_failure(e))
		e = &stopped;
	a_exited(sv, e);
	if (sv->restart_wanted) {
		sv->restart_wanted = false;
		a_start(sv, NULL); /* also cancels a backoff it chose */
	}
}

static void a_stop_deadline(struct supervisor *sv, const struct exit_info *e)
{
	struct exit_info late = {.kind = EXIT_STOP_TIMEOUT};

	(void)e;
	snprintf(late.reason, sizeof(late.reason), "still running after %gs",
	         sv->cfg.stop_timeout);
	if (!sv->ops->kill(sv->inst))
		return; /* the executor escalates; EXITED will come */
	sv->abandoned++;
	drop_pending(sv);
	a_stopped(sv, &late);
}

static void a_hung(struct supervisor *sv, const struct exit_info *e)
{
	char what[64];

	(void)e;
	snprintf(what, sizeof(what), "no heartbeat for %gs", sv->cfg.watchdog);
	stop_because(sv, EXIT_HUNG, "hung: ", what);
}

/* tendctl start while stopping: start again once it is down */
static void a_start_later(struct supervisor *sv, const struct exit_info *e)
{
	(void)e;
	sv->restart_wanted = true;
}

static void a_stop_backoff(struct supervisor *sv, const struct exit_info *e)
{
	log_at(TEND_LOG_INFO, sv->cfg.name, "restart cancelled");
	a_to_stopped(sv, e);
}

#define RUNNING_ROW(on_started, on_ready, on_timer, on_reloaded)            \
	{                                                                  \
		[SE_START] = a_ignore, [SE_STOP] = a_stop_run,             \
		[SE_STARTED] = on_started, [SE_READY] = on_ready,          \
		[SE_END] = a_end, [SE_EXITED] = a_exited,                  \
		[SE_TIMER] = on_timer, [SE_HUNG] = a_hung,                 \
		[SE_RELOADED] = on_reloaded,                               \
	}
#define DOWN_ROW(on_stop)                                                  \
	{                                                                  \
		[SE_START] = a_start, [SE_STOP] = on_stop,                 \
		[SE_STARTED] = a_ignore, [SE_READY] = a_ignore,            \
		[SE_END] = a_ignore, [SE_EXITED] = a_ignore,               \
		[SE_TIMER] = a_ignore, [SE_HUNG] = a_ignore,               \
		[SE_RELOADED] = a_ignore,                                  \
	}

static action_fn *const table[SV_NSTATES][SE_NEVENTS] = {
    [SV_STOPPED] = DOWN_ROW(a_ignore),
    [SV_EXITED] = DOWN_ROW(a_to_stopped),
    [SV_FAILED] = DOWN_ROW(a_to_stopped),
    [SV_STARTING] = RUNNING_ROW(a_started, a_ready, a_ignore, a_ignore),
    [SV_RUNNING] = RUNNING_ROW(a_ignore, a_ready, a_not_ready, a_reloaded),
    [SV_READY] = RUNNING_ROW(a_ignore, a_ignore, a_ignore, a_reloaded),
    [SV_STOPPING] =
        {
            [SE_START] = a_start_later,
            [SE_STOP] = a_ignore,
            [SE_STARTED] = a_ignore,
            [SE_READY] = a_ignore,
            [SE_END] = a_ignore,
            [SE_EXITED] = a_stopped,
            [SE_TIMER] = a_stop_deadline,
            [SE_HUNG] = a_ignore,
            [SE_RELOADED] = a_ignore,
        },
    [SV_BACKOFF] =
        {
            [SE_START] = a_start,
            [SE_STOP] = a_stop_backoff,
            [SE_STARTED] = a_ignore,
            [SE_READY] = a_ignore,
            [SE_END] = a_ignore,
            [SE_EXITED] = a_ignore,
            [SE_TIMER] = a_backoff_over,
            [SE_HUNG] = a_ignore,
            [SE_RELOADED] = a_ignore,
        },
};

static void dispatch(struct supervisor *sv, enum sv_event ev,
                     const struct exit_info *info)
{
	table[sv->state][ev](sv, info);
}

/* An executor's report, from the event queue. */
void supervisor_event(struct supervisor *sv, struct instance *in,
                      enum instance_event kind, const struct exit_info *info)
{
	static const enum sv_event map[] = {
	    [IE_STARTED] = SE_STARTED,
	    [IE_READY] = SE_READY,
	    [IE_END] = SE_END,
	    [IE_RELOADED] = SE_RELOADED,
	    [IE_EXITED] = SE_EXITED,
	};

	if (in != sv->inst)
		return; /* a report from a run already over */
	dispatch(sv, map[kind], info);
	if (kind == IE_EXITED && sv->inst == NULL)
		drop_spare(sv); /* not restarted at once */
	/* READY may have raced ahead of STARTED being handled */
	if (kind == IE_STARTED && sv->state == SV_RUNNING && in->ready_sent)
		dispatch(sv, SE_READY, NULL);
}

/*
 * A supervisor for `sc` (whose contents it takes over: sc is left empty)
 * running `plugin` (whose reference it takes over). It starts stopped.
 */
struct supervisor *supervisor_new(struct ev_loop *loop,
                                  struct service_config *sc,
                                  struct plugin *plugin)
{
	struct supervisor *sv = calloc(1, sizeof(*sv));
	ev_timer *t = calloc(2, sizeof(*t));

	if (sv == NULL || t == NULL)
		fatalx("out of memory");
	sv->cfg = *sc;
	memset(sc, 0, sizeof(*sc));
	sv->plugin = plugin;
	sv->ops = executor_ops(sv->cfg.executor);
	sv->loop = loop;
	sv->state = SV_STOPPED;
	sv->since = mono_now();
	ev_init(&t[0], on_timer);
	t[0].data = sv;
	ev_init(&t[1], on_watchdog);
	t[1].data = sv;
	sv->timer = &t[0];
	sv->watchdog = &t[1];
	sv->mailbox = mailbox_new(sv->cfg.name, sv->cfg.mailbox);
	return sv;
}

/* Free a supervisor whose service is down (or abandoned). */
void supervisor_free(struct supervisor *sv)
{
	if (sv == NULL)
		return;
	ev_timer_stop(sv->loop, timer(sv));
	ev_timer_stop(sv->loop, watchdog(sv));
	free(sv->timer);
	drop_spare(sv);
	if (sv->inst && !sv->inst->abandoned) {
		sv->ops->reap(sv->inst);
		instance_free(sv->inst);
	}
	plugin_put(sv->plugin);
	service_config_clear(&sv->cfg);
	if (sv->next) {
		plugin_put(sv->next_plugin);
		service_config_clear(sv->next);
		free(sv->next);
	}
	free(sv->last);
	free(sv->pending);
	free(sv->plugin_error);
	backoff_clear(&sv->backoff);
	mailbox_free(sv->mailbox);
	free(sv);
}

int supervisor_start(struct supervisor *sv)
{
	dispatch(sv, SE_START, NULL);
	return 0;
}

int supervisor_stop(struct supervisor *sv)
{
	sv->stop_wanted = true;
	sv->restart_wanted = false;
	sv->waiting = false;
	dispatch(sv, SE_STOP, NULL);
	return 0;
}

int supervisor_restart(struct supervisor *sv)
{
	if (sv->state == SV_STARTING || sv->state == SV_RUNNING ||
	    sv->state == SV_READY || sv->state == SV_STOPPING) {
		sv->stop_wanted = true;
		sv->restart_wanted = true;
		dispatch(sv, SE_STOP, NULL);
		return 0;
	}
	dispatch(sv, SE_START, NULL);
	return 0;
}

/*
 * A reload changed what runs: take over `sc` (left empty) and `plugin` (a
 * reference; NULL when it would not load, for the reason in `error`), and
 * run them. A run that is up is stopped and started again on the new
 * config; one in backoff, failed or exited starts now. Returns false when
 * the service stays stopped (stopped on request): the config waits for
 * its next start.
 */
bool supervisor_replace(struct supervisor *sv, struct service_config *sc,
                        struct plugin *plugin, const char *error)
{
	if (sv->next) {
		plugin_put(sv->next_plugin);
		service_config_clear(sv->next);
	} else if ((sv->next = malloc(sizeof(*sv->next))) == NULL) {
		fatalx("out of memory");
	}
	*sv->next = *sc;
	memset(sc, 0, sizeof(*sc));
	sv->next_plugin = plugin;
	supervisor_set_plugin_error(sv, error);
	if (sv->inst == NULL)
		take_next(sv);
	switch (sv->state) {
	case SV_STARTING:
	case SV_RUNNING:
	case SV_READY:
		sv->stop_wanted = true;
		sv->restart_wanted = true;
		log_at(TEND_LOG_INFO, sv->cfg.name, "config changed: restarting");
		dispatch(sv, SE_STOP, NULL);
		return true;
	case SV_STOPPING:
		if (sv->stop_wanted && !sv->restart_wanted)
			return false; /* stopping on request: stays down */
		sv->stop_wanted = true;
		sv->restart_wanted = true;
		return true;
	case SV_STOPPED:
		return false;
	default: /* backoff, exited, failed */
		dispatch(sv, SE_START, NULL);
		return true;
	}
}

/*
 * A reload changed only the settings and the supervisor's own parameters
 * (restart strategy, timeouts), or nothing: apply them in place (not while
 * a replacement waits: see supervisor_replace). When a run is up and
 * its settings changed, the plugin's reload() is called where it runs;
 * returns true when that answer (SE_RELOADED) is awaited.
 */
bool supervisor_update(struct supervisor *sv, struct service_config *sc)
{
	bool settings = !setting_equal(&sv->cfg.settings->root,
	                               &sc->settings->root);
	bool up = sv->inst && (sv->state == SV_RUNNING || sv->state == SV_READY);

	/* where it is written now, for later messages */
	free(sv->cfg.file);
	sv->cfg.file = sc->file;
	sc->file = NULL;
	sv->cfg.line = sc->line;
	sv->cfg.plugin_line = sc->plugin_line;
	sv->cfg.executor_line = sc->executor_line;
	sv->cfg.restart = sc->restart;
	sv->cfg.escalate = sc->escalate;
	{ /* the names it depends on */
		char **names = sv->cfg.depends;
		size_t n = sv->cfg.ndepends;
		sv->cfg.depends = sc->depends;
		sv->cfg.ndepends = sc->ndepends;
		sc->depends = names;
		sc->ndepends = n;
	}
	sv->cfg.stop_timeout = sc->stop_timeout;
	if (sv->cfg.ready_timeout != sc->ready_timeout &&
	    sv->state == SV_RUNNING && sv->cfg.ready == READY_NOTIFY) {
		/* the deadline running now moves with the timeout */
		double left = sv->started_at + sc->ready_timeout - mono_now();
		arm_timer(sv, left > 0 ? left : 0.);
	}
	sv->cfg.ready_timeout = sc->ready_timeout;
	sv->cfg.mailbox = sc->mailbox;
	mailbox_set_limit(sv->mailbox, sc->mailbox);
	if (sv->cfg.watchdog != sc->watchdog) {
		sv->cfg.watchdog = sc->watchdog;
		ev_timer_stop(sv->loop, watchdog(sv));
		if (up && sv->cfg.watchdog > 0) {
			sv->inst->last_beat = mono_now();
			ev_timer_set(watchdog(sv), sv->cfg.watchdog, 0.);
			ev_timer_start(sv->loop, watchdog(sv));
		}
	}
	if (!settings)
		return false;
	settings_unref(sv->cfg.settings);
	sv->cfg.settings = settings_ref(sc->settings);
	if (!up || sv->plugin->api.reload == NULL)
		return false;
	instance_set_settings(sv->inst, sv->cfg.settings);
	sv->reloading = true;
	sv->reload_rc = 0;
	sv->ops->reconfigure(sv->inst);
	return true;
}

/* Why its plugin would not load (NULL or "": it did), for its next start. */
void supervisor_set_plugin_error(struct supervisor *sv, const char *error)
{
	free(sv->plugin_error);
	sv->plugin_error = NULL;
	if (error && *error && (sv->plugin_error = strdup(error)) == NULL)
		fatalx("out of memory");
}
