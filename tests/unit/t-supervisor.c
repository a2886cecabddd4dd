/*
 * Tests of the state machine in daemon/supervisor.c. This file is the
 * host: instance_new/instance_free, executor_ops, plugin_put and
 * service_config_clear are mocks
 * here, the executor only counts what it is asked to do, and its reports
 * are delivered by calling supervisor_event() directly. Timers (backoff,
 * stop deadline, watchdog) run on a real libev loop.
 */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tendd.h"

static struct ev_loop *loop;

/* What the mock executor was asked to do, and what it answers. */
static struct {
	int news, frees;
	int starts, stops, kills, reaps, self_ends, reconfigures;
	int start_rc;   /* start()'s answer */
	bool kill_gone; /* kill()'s answer: true abandons the instance */
	struct instance *abandoned[4];
	int nabandoned;
} mock;

/* The transitions the observer saw. */
static struct {
	enum sv_state from[32], to[32];
	struct supervisor *sv[32];
	int n;
	int bad_arg;
} seen;

/* The mock host. */

struct instance *instance_new(struct supervisor *sv,
                              const struct executor_ops *ops,
                              struct plugin *plugin,
                              const struct service_config *sc,
                              struct ev_loop *host_loop)
{
	struct instance *in = calloc(1, sizeof(*in));

	if (in == NULL)
		return NULL;
	in->sv = sv;
	in->ops = ops;
	in->plugin = plugin;
	in->settings = &sc->settings->root;
	in->file = sc->file;
	in->loop = host_loop;
	in->stop_fd = -1;
	in->last_beat = mono_now();
	snprintf(in->name, sizeof(in->name), "%s", sc->name);
	mock.news++;
	return in;
}

void instance_free(struct instance *in)
{
	if (in == NULL)
		return;
	mock.frees++;
	free(in);
}

void instance_set_settings(struct instance *in, struct settings *s)
{
	in->settings = &s->root;
}

void plugin_put(struct plugin *p) { (void)p; }

/* config.c's, which this test does not link: the parts a test sets */
static struct settings no_settings = {.refs = 1,
                                      .root = {.type = SETTING_GROUP}};

struct settings *settings_ref(struct settings *s) { return s; }
void settings_unref(struct settings *s) { (void)s; }

void service_config_clear(struct service_config *sc)
{
	free(sc->plugin);
	free(sc->plugin_path);
	free(sc->file);
	memset(sc, 0, sizeof(*sc));
}

static int mock_start(struct instance *in, char *err, size_t errlen)
{
	(void)in;
	mock.starts++;
	if (mock.start_rc < 0)
		snprintf(err, errlen, "mock start refused");
	return mock.start_rc;
}

static void mock_stop(struct instance *in)
{
	(void)in;
	mock.stops++;
}

/* Like a thread: gone means abandoned, left for its owner to free. */
static bool mock_kill(struct instance *in)
{
	mock.kills++;
	if (mock.kill_gone && mock.nabandoned < 4) {
		in->abandoned = true;
		mock.abandoned[mock.nabandoned++] = in;
	}
	return mock.kill_gone;
}

static void mock_reap(struct instance *in)
{
	(void)in;
	mock.reaps++;
}

static void mock_self_end(struct instance *in)
{
	(void)in;
	mock.self_ends++;
}

static void mock_reconfigure(struct instance *in)
{
	(void)in;
	mock.reconfigures++;
}

static const struct executor_ops mock_ops = {
    .name = "mock",
    .start = mock_start,
    .stop = mock_stop,
    .kill = mock_kill,
    .reap = mock_reap,
    .self_end = mock_self_end,
    .reconfigure = mock_reconfigure,
};

const struct executor_ops *executor_ops(enum executor_kind kind)
{
	(void)kind;
	return &mock_ops;
}

static void observer(void *arg, struct supervisor *sv, enum sv_state from)
{
	if (arg != &seen)
		seen.bad_arg++;
	if (seen.n < 32) {
		seen.sv[seen.n] = sv;
		seen.from[seen.n] = from;
		seen.to[seen.n] = sv->state;
		seen.n++;
	}
}

/* Loop helpers: run until a condition holds, bounded by a guard timer. */

static void on_guard(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l, (void)revents;
	*(bool *)w->data = true;
}

typedef bool until_fn(struct supervisor *, int);

static bool in_state(struct supervisor *sv, int state)
{
	return (int)sv->state == state;
}

static bool killed(struct supervisor *sv, int n)
{
	(void)sv;
	return mock.kills >= n;
}

static bool never(struct supervisor *sv, int n)
{
	(void)sv, (void)n;
	return false;
}

static bool run_until(until_fn *done, struct supervisor *sv, int arg,
                      double secs)
{
	bool expired = false;
	ev_timer guard;

	ev_timer_init(&guard, on_guard, secs, 0.);
	guard.data = &expired;
	ev_now_update(loop);
	ev_timer_start(loop, &guard);
	while (!done(sv, arg) && !expired)
		ev_run(loop, EVRUN_ONCE);
	ev_timer_stop(loop, &guard);
	return done(sv, arg);
}

/* Let `secs` pass on the loop, for "nothing happens" checks. */
static void run_for(double secs) { run_until(never, NULL, 0, secs); }

/* Test helpers. */

/* A service that restarts at once, stops in 5s, and is ready on start. */
static struct service_config base(const char *name)
{
	struct service_config sc = {
	    .executor = EXEC_ASYNC,
	    .restart =
	        {
	            .policy = POLICY_PERMANENT,
	            .backoff = BACKOFF_IMMEDIATE,
	            .delay = 0.05,
	            .max_delay = 1.0,
	            .jitter = 0.0,
	            .reset = 100.0,
	            .intensity = 5,
	            .period = 10.0,
	        },
	    .stop_timeout = 5.0,
	    .ready_timeout = 90.0,
	    .ready = READY_START,
	    .instances = 1,
	    .settings = &no_settings,
	};

	snprintf(sc.name, sizeof(sc.name), "%s", name);
	return sc;
}

/* The plugin every test service runs: the mock executors never look. */
static int no_reload(struct tend_ctx *ctx)
{
	(void)ctx;
	return 0;
}
static struct plugin the_plugin = {.api = {.reload = no_reload}};

/* A supervisor for `sc`, with the mock's counters cleared. */
static struct supervisor *new_sv(struct service_config *sc)
{
	memset(&mock, 0, sizeof(mock));
	ev_now_update(loop);
	return supervisor_new(loop, sc, &the_plugin);
}

/* Free it, and check that every instance was freed or abandoned. */
static void finish(struct supervisor *sv, const char *what)
{
	supervisor_free(sv);
	is_int(mock.frees + mock.nabandoned, mock.news,
	       "%s: every instance freed or abandoned", what);
	/* an abandoned thread's instance would be its own to free */
	for (int i = 0; i < mock.nabandoned; i++)
		free(mock.abandoned[i]);
	mock.nabandoned = 0;
}

static void report(struct supervisor *sv, enum instance_event kind)
{
	supervisor_event(sv, sv->inst, kind, NULL);
}

static void exited(struct supervisor *sv, enum exit_kind kind, int code)
{
	struct exit_info e = {.kind = kind, .code = code};

	supervisor_event(sv, sv->inst, IE_EXITED, &e);
}

/* Started and ready, with ready = start. */
static struct supervisor *ready_sv(struct service_config *sc)
{
	struct supervisor *sv = new_sv(sc);

	supervisor_start(sv);
	report(sv, IE_STARTED);
	return sv;
}

/* The tests. */

static void test_names(void)
{
	is_str(sv_state_name(SV_BACKOFF), "backoff", "state names");
	ok(sv_state_is_down(SV_STOPPED) && sv_state_is_down(SV_EXITED) &&
	       sv_state_is_down(SV_FAILED),
	   "stopped, exited and failed are down");
	ok(!sv_state_is_down(SV_BACKOFF) && !sv_state_is_down(SV_STOPPING) &&
	       !sv_state_is_down(SV_READY),
	   "backoff, stopping and ready are not down");
}

static void test_start(void)
{
	struct service_config sc = base("start");
	struct supervisor *sv = new_sv(&sc);

	ok(sc.name[0] == '\0', "supervisor_new takes the config over");
	is_str(sv->cfg.name, "start", "the supervisor has the config");
	is_int(sv->state, SV_STOPPED, "a new supervisor is stopped");
	is_int(mock.starts, 0, "and has started nothing");
	supervisor_start(sv);
	is_int(sv->state, SV_STARTING, "start -> starting");
	is_int(mock.starts, 1, "start: the executor's start is called");
	ok(sv->inst && sv->inst->sv == sv && sv->inst->ops == &mock_ops,
	   "start: the run is an instance of this supervisor");
	report(sv, IE_STARTED);
	is_int(sv->state, SV_READY, "ready = start: STARTED -> ready");
	supervisor_start(sv);
	is_int(mock.starts, 1, "start while ready is ignored");
	is_int(sv->state, SV_READY, "and leaves it ready");
	finish(sv, "start");
	is_int(mock.reaps, 1, "freeing a running supervisor reaps its run");
}

static void test_notify(void)
{
	struct service_config sc = base("notify");
	struct supervisor *sv;

	sc.ready = READY_NOTIFY;
	sv = new_sv(&sc);
	supervisor_start(sv);
	report(sv, IE_STARTED);
	is_int(sv->state, SV_RUNNING, "ready = notify: STARTED -> running");
	report(sv, IE_READY);
	is_int(sv->state, SV_READY, "ready = notify: READY -> ready");
	supervisor_stop(sv);
	exited(sv, EXIT_CLEAN, 0);

	/* READY handled before STARTED: STARTED sees ready_sent */
	supervisor_start(sv);
	sv->inst->ready_sent = 1;
	report(sv, IE_READY);
	is_int(sv->state, SV_STARTING, "READY before STARTED waits");
	report(sv, IE_STARTED);
	is_int(sv->state, SV_READY, "then STARTED makes it ready");
	finish(sv, "notify");
}

static void test_permanent_clean(void)
{
	struct service_config sc = base("permanent");
	struct supervisor *sv = ready_sv(&sc);

	exited(sv, EXIT_CLEAN, 0);
	is_int(sv->state, SV_STARTING,
	       "permanent, clean exit: starting again at once");
	is_int(sv->restarts, 1, "permanent, clean exit: restarts 1");
	is_int(mock.starts, 2, "permanent, clean exit: started twice");
	is_int(mock.reaps, 1, "the ended run was reaped");
	is_int(mock.frees, 1, "the ended run was freed");
	ok(sv->inst != NULL && mock.news == 2,
	   "the new run is a new instance");
	ok(sv->last && sv->last->kind == EXIT_CLEAN,
	   "last: exited cleanly");
	finish(sv, "permanent");
}

static void test_transient(void)
{
	struct service_config sc = base("transient");
	struct supervisor *sv;

	sc.restart.policy = POLICY_TRANSIENT;
	sv = ready_sv(&sc);
	exited(sv, EXIT_CLEAN, 0);
	is_int(sv->state, SV_EXITED, "transient, clean exit: exited");
	is_int(mock.starts, 1, "transient, clean exit: no restart");
	ok(sv->inst == NULL, "transient, clean exit: no run left");
	is_int(sv->restarts, 0, "transient, clean exit: restarts 0");
	finish(sv, "transient clean");

	sc = base("transient");
	sc.restart.policy = POLICY_TRANSIENT;
	sv = ready_sv(&sc);
	exited(sv, EXIT_CODE, 3);
	is_int(sv->state, SV_STARTING, "transient, exit code 3: restarted");
	is_int(sv->restarts, 1, "transient, exit code 3: restarts 1");
	ok(sv->last->kind == EXIT_CODE && sv->last->code == 3,
	   "transient, exit code 3: remembered");
	finish(sv, "transient failure");
}

static void test_temporary(void)
{
	struct service_config sc = base("temporary");
	struct supervisor *sv;

	sc.restart.policy = POLICY_TEMPORARY;
	sv = ready_sv(&sc);
	exited(sv, EXIT_CODE, 1);
	is_int(sv->state, SV_FAILED, "temporary, failure: failed");
	is_int(mock.starts, 1, "temporary, failure: no restart");
	ok(!sv->gave_up, "temporary, failure: not a give-up");
	finish(sv, "temporary failure");

	sc = base("temporary");
	sc.restart.policy = POLICY_TEMPORARY;
	sv = ready_sv(&sc);
	exited(sv, EXIT_CLEAN, 0);
	is_int(sv->state, SV_EXITED, "temporary, clean exit: exited");
	finish(sv, "temporary clean");
}

static void test_intensity(void)
{
	struct service_config sc = base("intensity");
	struct exit_info fail = {.kind = EXIT_FAILED, .reason = "boom"};
	struct supervisor *sv;

	sc.restart.intensity = 2;
	sv = ready_sv(&sc);
	supervisor_event(sv, sv->inst, IE_EXITED, &fail);
	is_int(sv->state, SV_STARTING, "intensity 2: failure 1 restarts");
	report(sv, IE_STARTED);
	supervisor_event(sv, sv->inst, IE_EXITED, &fail);
	is_int(sv->state, SV_STARTING, "intensity 2: failure 2 restarts");
	report(sv, IE_STARTED);
	supervisor_event(sv, sv->inst, IE_EXITED, &fail);
	is_int(sv->state, SV_FAILED, "intensity 2: failure 3 gives up");
	ok(sv->gave_up, "intensity 2: gave_up is set");
	is_int(sv->restarts, 2, "intensity 2: two restarts were made");
	is_int(mock.starts, 3, "intensity 2: three runs in all");
	ok(sv->inst == NULL, "intensity 2: no run left");

	supervisor_start(sv);
	is_int(sv->state, SV_STARTING, "start from failed: starting");
	ok(!sv->gave_up, "start from failed: gave_up cleared");
	is_int(sv->backoff.nhistory, 0, "start from failed: history cleared");
	is_int(mock.starts, 4, "start from failed: a fourth run");
	finish(sv, "intensity");
}

static void test_backoff_timer(void)
{
	struct service_config sc = base("backoff");
	struct supervisor *sv;
	double t0;

	sc.restart.backoff = BACKOFF_FIXED;
	sc.restart.delay = 0.05;
	sv = ready_sv(&sc);
	ev_now_update(loop);
	t0 = mono_now();
	exited(sv, EXIT_CODE, 1);
	is_int(sv->state, SV_BACKOFF, "fixed backoff: waiting");
	is_double(sv->next_start - t0, 0.05, 0.01,
	          "fixed backoff: next start in 0.05s");
	is_int(mock.starts, 1, "fixed backoff: not started yet");
	ok(run_until(in_state, sv, SV_STARTING, 5.0),
	   "fixed backoff: starting after the timer");
	ok(mono_now() - t0 >= 0.04, "fixed backoff: not before its time");
	is_int(mock.starts, 2, "fixed backoff: the second run");
	is_int(sv->restarts, 1, "fixed backoff: restarts 1");
	finish(sv, "backoff");
}

static void test_stop_backoff(void)
{
	struct service_config sc = base("stop-backoff");
	struct supervisor *sv;

	sc.restart.backoff = BACKOFF_FIXED;
	sc.restart.delay = 0.05;
	sv = ready_sv(&sc);
	exited(sv, EXIT_CODE, 1);
	is_int(sv->state, SV_BACKOFF, "stop in backoff: waiting first");
	supervisor_stop(sv);
	is_int(sv->state, SV_STOPPED, "stop in backoff: stopped");
	run_for(0.15);
	is_int(sv->state, SV_STOPPED, "stop in backoff: the timer is gone");
	is_int(mock.starts, 1, "stop in backoff: no restart");
	finish(sv, "stop in backoff");
}

static void test_stop(void)
{
	struct service_config sc = base("stop");
	struct supervisor *sv = ready_sv(&sc);

	supervisor_stop(sv);
	is_int(sv->state, SV_STOPPING, "stop while ready: stopping");
	is_int(mock.stops, 1, "stop while ready: executor asked to stop");
	supervisor_stop(sv);
	is_int(mock.stops, 1, "stop while stopping: asked only once");
	exited(sv, EXIT_CLEAN, 0);
	is_int(sv->state, SV_STOPPED, "stopped run exits: stopped");
	is_int(sv->last->kind, EXIT_STOPPED, "a clean end on request: stopped");
	is_int(mock.starts, 1, "a stopped service is not restarted");
	is_int(mock.reaps, 1, "the stopped run was reaped");
	supervisor_stop(sv);
	is_int(mock.stops, 1, "stop while stopped: nothing to ask");
	finish(sv, "stop");

	/* a failure while stopping is kept, not hidden as "stopped" */
	sc = base("stop");
	sv = ready_sv(&sc);
	supervisor_stop(sv);
	exited(sv, EXIT_CODE, 2);
	is_int(sv->state, SV_STOPPED, "failing while stopping: stopped");
	is_int(sv->last->kind, EXIT_CODE, "failing while stopping: kept");
	finish(sv, "stop failure");
}

static void test_stop_deadline(void)
{
	struct service_config sc = base("deadline");
	struct supervisor *sv;
	struct instance *old;
	struct exit_info clean = {.kind = EXIT_CLEAN};

	sc.stop_timeout = 0.05;
	sv = ready_sv(&sc);
	mock.kill_gone = true;
	old = sv->inst;
	supervisor_stop(sv);
	ok(run_until(in_state, sv, SV_STOPPED, 5.0),
	   "stop deadline, kill gone: stopped after the deadline");
	is_int(mock.kills, 1, "stop deadline: kill called once");
	ok(sv->abandoned == 1, "stop deadline: the run is counted abandoned");
	is_int(sv->last->kind, EXIT_STOP_TIMEOUT, "stop deadline: last says so");
	is_int(mock.reaps, 0, "stop deadline: an abandoned run is not reaped");
	ok(sv->inst == NULL, "stop deadline: the run is let go");
	/* the abandoned run may still report; it is over for us */
	supervisor_event(sv, old, IE_EXITED, &clean);
	is_int(sv->state, SV_STOPPED, "a late report from it is ignored");
	finish(sv, "deadline");

	/* kill can only ask: the state waits for the real end */
	sc = base("deadline");
	sc.stop_timeout = 0.05;
	sv = ready_sv(&sc);
	supervisor_stop(sv);
	ok(run_until(killed, sv, 1, 5.0), "stop deadline: kill asked");
	is_int(sv->state, SV_STOPPING, "kill not gone: still stopping");
	ok(sv->abandoned == 0, "kill not gone: nothing abandoned");
	exited(sv, EXIT_SIGNALED, 9);
	is_int(sv->state, SV_STOPPED, "kill not gone: stopped once exited");
	is_int(sv->last->kind, EXIT_SIGNALED, "kill not gone: last: signal");
	finish(sv, "deadline escalated");
}

static void test_restart(void)
{
	struct service_config sc = base("restart");
	struct supervisor *sv = ready_sv(&sc);

	supervisor_restart(sv);
	is_int(sv->state, SV_STOPPING, "restart while ready: stopping");
	is_int(mock.stops, 1, "restart while ready: executor asked to stop");
	exited(sv, EXIT_CLEAN, 0);
	is_int(sv->state, SV_STARTING, "restart: starting once exited");
	is_int(mock.starts, 2, "restart: a second run");
	ok(!sv->stop_wanted && !sv->restart_wanted,
	   "restart: no request left over");
	report(sv, IE_STARTED);
	is_int(sv->state, SV_READY, "restart: ready again");
	finish(sv, "restart");

	sc = base("restart");
	sv = new_sv(&sc);
	supervisor_restart(sv);
	is_int(sv->state, SV_STARTING, "restart while stopped: starts");
	finish(sv, "restart stopped");

	/* tendctl start while stopping: start again once down */
	sc = base("restart");
	sv = ready_sv(&sc);
	supervisor_stop(sv);
	supervisor_start(sv);
	is_int(sv->state, SV_STOPPING, "start while stopping: waits");
	exited(sv, EXIT_CLEAN, 0);
	is_int(sv->state, SV_STARTING, "start while stopping: then starts");
	finish(sv, "start while stopping");
}

static void test_stale(void)
{
	struct service_config sc = base("stale");
	struct supervisor *sv = ready_sv(&sc);
	struct instance old = {.sv = sv};
	struct exit_info fail = {.kind = EXIT_CODE, .code = 1};

	supervisor_event(sv, &old, IE_EXITED, &fail);
	is_int(sv->state, SV_READY, "an old run's EXITED is ignored");
	supervisor_event(sv, &old, IE_END, NULL);
	is_int(sv->state, SV_READY, "an old run's END is ignored");
	is_int(mock.stops + mock.reaps, 0, "and nothing was asked of it");
	ok(sv->last == NULL, "and nothing was recorded");
	finish(sv, "stale");
}

static void test_start_failure(void)
{
	struct service_config sc = base("start-fail");
	struct supervisor *sv;

	sc.restart.policy = POLICY_TEMPORARY;
	sv = new_sv(&sc);
	mock.start_rc = -1;
	supervisor_start(sv);
	is_int(sv->state, SV_FAILED, "start refused, temporary: failed");
	is_int(sv->last->kind, EXIT_START_FAILED, "last: failed to start");
	like(sv->last->reason, "mock start refused",
	     "last: the executor's reason");
	is_int(mock.reaps, 0, "a run that never started is not reaped");
	is_int(mock.frees, 1, "but it is freed");
	finish(sv, "start failure");

	/* immediate restarts of a start that fails stop at intensity */
	sc = base("start-fail");
	sc.restart.intensity = 2;
	sv = new_sv(&sc);
	mock.start_rc = -1;
	supervisor_start(sv);
	is_int(sv->state, SV_FAILED, "start keeps failing: failed");
	ok(sv->gave_up, "start keeps failing: gave up");
	is_int(mock.starts, 3, "start keeps failing: tried 1 + 2 times");
	finish(sv, "start failure loop");
}

static void test_end(void)
{
	struct service_config sc = base("end");
	struct supervisor *sv = ready_sv(&sc);

	report(sv, IE_END);
	is_int(sv->state, SV_STOPPING, "END: stopping");
	is_int(mock.stops, 1, "END: the executor is asked to stop");
	exited(sv, EXIT_CLEAN, 0);
	is_int(sv->state, SV_STARTING, "END, permanent: restarted");
	is_int(sv->restarts, 1, "END, permanent: restarts 1");
	finish(sv, "end");
}

static void on_beat(struct ev_loop *l, ev_timer *w, int revents)
{
	struct supervisor *sv = w->data;

	(void)l, (void)revents;
	if (sv->inst)
		sv->inst->last_beat = mono_now();
}

static void test_watchdog(void)
{
	struct service_config sc = base("watchdog");
	struct supervisor *sv;
	ev_timer beat;

	sc.watchdog = 0.05;
	sv = ready_sv(&sc);
	ev_timer_init(&beat, on_beat, 0.01, 0.01);
	beat.data = sv;
	ev_timer_start(loop, &beat);
	run_for(0.2);
	ev_timer_stop(loop, &beat);
	is_int(sv->state, SV_READY, "watchdog: heartbeats keep it running");
	ok(run_until(in_state, sv, SV_STOPPING, 5.0),
	   "watchdog: no heartbeat, stopping");
	is_int(mock.stops, 1, "watchdog: the executor is asked to stop");
	exited(sv, EXIT_CLEAN, 0);
	is_int(sv->last->kind, EXIT_HUNG, "watchdog: last: hung");
	is_int(sv->state, SV_STARTING, "watchdog, permanent: restarted");
	finish(sv, "watchdog");
}

static void test_observer(void)
{
	static const enum sv_state want[][2] = {
	    {SV_STOPPED, SV_STARTING},
	    {SV_STARTING, SV_READY},
	    {SV_READY, SV_STOPPING},
	    {SV_STOPPING, SV_STOPPED},
	};
	struct service_config sc = base("observed");
	struct supervisor *sv = new_sv(&sc);
	int n = (int)(sizeof(want) / sizeof(want[0]));

	seen.n = 0;
	supervisor_start(sv);
	report(sv, IE_STARTED);
	supervisor_stop(sv);
	exited(sv, EXIT_CLEAN, 0);
	is_int(seen.n, n, "observer: four transitions");
	for (int i = 0; i < n && i < seen.n; i++)
		ok(seen.sv[i] == sv && seen.from[i] == want[i][0] &&
		       seen.to[i] == want[i][1],
		   "observer: %s -> %s", sv_state_name(want[i][0]),
		   sv_state_name(want[i][1]));
	is_int(seen.bad_arg, 0, "observer: called with its argument");
	finish(sv, "observer");
}

static void test_ready_timeout(void)
{
	struct service_config sc = base("slow");
	struct supervisor *sv;

	sc.ready = READY_NOTIFY;
	sc.ready_timeout = 0.05;
	sc.restart.policy = POLICY_TEMPORARY;
	sv = new_sv(&sc);
	supervisor_start(sv);
	report(sv, IE_STARTED);
	is_int(sv->state, SV_RUNNING, "notify: running until ready");
	ok(run_until(in_state, sv, SV_STOPPING, 2.0),
	   "not ready within ready_timeout: stopped");
	exited(sv, EXIT_CLEAN, 0);
	is_int(sv->last->kind, EXIT_START_FAILED, "as a failed start");
	is_str(sv->last->reason, "not ready within 0.05s", "saying why");
	is_int(sv->state, SV_FAILED, "temporary: failed");

	supervisor_start(sv);
	report(sv, IE_STARTED);
	report(sv, IE_READY);
	ok(!run_until(in_state, sv, SV_STOPPING, 0.2),
	   "ready in time: the deadline is off");
	supervisor_stop(sv);
	exited(sv, EXIT_CLEAN, 0);

	/* a reload that shortens the timeout moves the running deadline */
	sv->cfg.ready_timeout = 60;
	supervisor_start(sv);
	report(sv, IE_STARTED);
	{
		struct service_config next = base("slow");
		next.ready = READY_NOTIFY;
		next.ready_timeout = 0.05;
		next.restart.policy = POLICY_TEMPORARY;
		supervisor_update(sv, &next);
		service_config_clear(&next);
	}
	ok(run_until(in_state, sv, SV_STOPPING, 2.0),
	   "a shorter ready_timeout applies to the run waiting for ready");
	exited(sv, EXIT_CLEAN, 0);
	finish(sv, "ready_timeout");
}

/* A config like base(name), marked by its watchdog. */
static struct service_config marked(const char *name, double watchdog)
{
	struct service_config sc = base(name);
	sc.watchdog = watchdog;
	return sc;
}

static void test_replace(void)
{
	struct service_config sc = base("swap"), next = marked("swap", 7);
	struct supervisor *sv = ready_sv(&sc);
	unsigned long seq = sv->start_seq;

	ok(supervisor_replace(sv, &next, &the_plugin, NULL),
	   "replace while ready: restarting");
	ok(next.name[0] == '\0', "replace takes the config over");
	is_int(sv->state, SV_STOPPING, "replace stops the run first");
	ok(sv->cfg.watchdog == 0 && sv->next,
	   "the running config stays until the run is over");
	exited(sv, EXIT_CLEAN, 0);
	is_int(sv->state, SV_STARTING, "then starts again");
	ok(sv->start_seq > seq, "as a new run");
	ok(sv->cfg.watchdog == 7 && !sv->next, "on the new config");
	is_int(sv->restarts, 0, "a replacement is not a restart");
	report(sv, IE_STARTED);
	is_int(sv->state, SV_READY, "and gets ready");

	/* stopped on request: the config waits for the next start */
	supervisor_stop(sv);
	exited(sv, EXIT_CLEAN, 0);
	next = marked("swap", 8);
	ok(!supervisor_replace(sv, &next, &the_plugin, NULL),
	   "replace while stopped: stays stopped");
	is_int(sv->state, SV_STOPPED, "still stopped");
	ok(sv->cfg.watchdog == 8, "with the new config in place");

	/* in backoff: starts now */
	sv->cfg.restart.backoff = BACKOFF_FIXED;
	sv->cfg.restart.delay = 60;
	supervisor_start(sv);
	report(sv, IE_STARTED);
	exited(sv, EXIT_CODE, 1);
	is_int(sv->state, SV_BACKOFF, "a failure waits in backoff");
	next = marked("swap", 9);
	ok(supervisor_replace(sv, &next, &the_plugin, NULL),
	   "replace in backoff: starts");
	is_int(sv->state, SV_STARTING, "at once, not after the delay");
	ok(sv->cfg.watchdog == 9, "on the new config");

	/* a plugin that would not load */
	report(sv, IE_STARTED);
	next = marked("swap", 10);
	ok(supervisor_replace(sv, &next, NULL, "x.conf:3: plugin: broken"),
	   "replace with a plugin that would not load");
	exited(sv, EXIT_CLEAN, 0);
	is_int(sv->state, SV_FAILED, "fails once the old run is over");
	is_int(sv->last->kind, EXIT_START_FAILED, "as a failed start");
	is_str(sv->last->reason, "x.conf:3: plugin: broken", "with the reason");
	supervisor_start(sv);
	is_int(sv->state, SV_FAILED, "start cannot help until a reload");
	next = marked("swap", 11);
	ok(supervisor_replace(sv, &next, &the_plugin, NULL),
	   "a good plugin again: starts");
	is_int(sv->state, SV_STARTING, "from failed");
	finish(sv, "replace");
}

static void test_update(void)
{
	static struct setting kid = {.name = (char *)"k", .type = SETTING_INT,
	                             .v.i = 1};
	static struct settings other = {
	    .refs = 1, .root = {.type = SETTING_GROUP, .kids = &kid, .nkids = 1}};
	struct service_config sc = base("upd"), next = base("upd");
	struct supervisor *sv = ready_sv(&sc);
	struct instance *run = sv->inst;
	struct exit_info answer = {.code = 0};

	next.restart.intensity = 42;
	ok(!supervisor_update(sv, &next), "strategy only: nothing to ask");
	is_int(sv->cfg.restart.intensity, 42, "applied in place");
	ok(sv->inst == run && sv->state == SV_READY, "the run goes on");
	is_int(mock.reconfigures, 0, "the plugin is not asked");

	next.settings = &other;
	ok(supervisor_update(sv, &next), "settings: reload() is asked");
	is_int(mock.reconfigures, 1, "through the executor");
	ok(sv->reloading, "and its answer awaited");
	ok(sv->inst->settings == &other.root, "the run sees the new settings");
	supervisor_event(sv, sv->inst, IE_RELOADED, &answer);
	ok(!sv->reloading && sv->state == SV_READY && sv->inst == run,
	   "reload() said 0: the same run goes on");

	next.settings = &no_settings;
	ok(supervisor_update(sv, &next), "settings again");
	answer.code = 3;
	supervisor_event(sv, sv->inst, IE_RELOADED, &answer);
	is_int(sv->reload_rc, 3, "reload() said 3");
	is_int(sv->state, SV_STOPPING, "so the run is stopped");
	unsigned long seq = sv->start_seq; /* the next run may reuse its memory */
	exited(sv, EXIT_CLEAN, 0);
	is_int(sv->state, SV_STARTING, "and started again");
	ok(sv->inst != NULL && sv->start_seq > seq, "as a new run");
	finish(sv, "update");
}

int main(void)
{
	loop = ev_default_loop(0);
	if (loop == NULL) {
		diag("no libev loop");
		return 2;
	}
	log_init(TEND_LOG_ERROR);
	supervisor_observe(observer, &seen);

	test_names();
	test_start();
	test_notify();
	test_permanent_clean();
	test_transient();
	test_temporary();
	test_intensity();
	test_backoff_timer();
	test_stop_backoff();
	test_stop();
	test_stop_deadline();
	test_restart();
	test_stale();
	test_start_failure();
	test_end();
	test_watchdog();
	test_observer();
	test_ready_timeout();
	test_replace();
	test_update();

	ev_loop_destroy(loop);
	return done_testing();
}
