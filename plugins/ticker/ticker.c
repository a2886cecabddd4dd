/*
 * ticker: an example start() plugin, for the async, thread-async and
 * process-async executors. It logs a line every `interval` seconds and
 * heartbeats each time, so a `watchdog` on the service sees it alive.
 *
 *   settings = { interval = 1.0; message = "tick"; };
 *
 * The shape every start() plugin has: init() reads the settings and
 * allocates, start() puts watchers on tend_loop() and returns at once,
 * stop() removes them, fini() frees. reload() takes new settings without
 * a restart: the count goes on.
 */
#include <ev.h>
#include <stdlib.h>

#include <tend/plugin.h>

struct ticker {
	ev_timer timer;
	struct tend_ctx *ctx;
	double interval;
	const char *message;
	unsigned long count;
};

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct ticker *t = w->data;

	(void)loop, (void)revents;
	t->count++;
	tend_heartbeat(t->ctx);
	tend_log(t->ctx, TEND_LOG_INFO, "%s %lu", t->message, t->count);
}

/* Read the settings into `t`; -1 when they are wrong (logged). */
static int read_settings(struct tend_ctx *ctx, struct ticker *t)
{
	double interval = 1.0;
	const char *message = "tick";

	if (tend_setting_double(ctx, "interval", &interval) < 0 ||
	    tend_setting_string(ctx, "message", &message) < 0)
		return -1; /* the host has logged file:line and the key */
	if (interval <= 0) {
		tend_log(ctx, TEND_LOG_ERROR, "interval must be positive");
		return -1;
	}
	t->interval = interval;
	t->message = message;
	return 0;
}

static int ticker_init(struct tend_ctx *ctx)
{
	struct ticker *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return -1;
	t->ctx = ctx;
	if (read_settings(ctx, t) < 0) {
		free(t);
		return -1;
	}
	tend_set_data(ctx, t);
	return 0;
}

static int ticker_start(struct tend_ctx *ctx)
{
	struct ticker *t = tend_data(ctx);

	ev_timer_init(&t->timer, on_tick, t->interval, t->interval);
	t->timer.data = t;
	ev_timer_start(tend_loop(ctx), &t->timer);
	tend_log(ctx, TEND_LOG_INFO, "ticking every %gs", t->interval);
	return 0;
}

static void ticker_stop(struct tend_ctx *ctx)
{
	struct ticker *t = tend_data(ctx);

	ev_timer_stop(tend_loop(ctx), &t->timer);
	tend_log(ctx, TEND_LOG_INFO, "stopped after %lu ticks", t->count);
}

/* Called on the plugin's loop, like start() and stop(). */
static int ticker_reload(struct tend_ctx *ctx)
{
	struct ticker *t = tend_data(ctx);

	if (read_settings(ctx, t) < 0)
		return 1; /* restart me: init() will say what is wrong */
	ev_timer_stop(tend_loop(ctx), &t->timer);
	ev_timer_set(&t->timer, t->interval, t->interval);
	ev_timer_start(tend_loop(ctx), &t->timer);
	tend_log(ctx, TEND_LOG_INFO, "now ticking every %gs", t->interval);
	return 0;
}

static void ticker_fini(struct tend_ctx *ctx) { free(tend_data(ctx)); }

TEND_PLUGIN(.name = "ticker", .version = "1.1",
            .executors = TEND_EXEC_START, .init = ticker_init,
            .start = ticker_start, .stop = ticker_stop,
            .reload = ticker_reload, .fini = ticker_fini);
