/*
 * worker: an example run() plugin, for the thread and process executors.
 * run() is an ordinary blocking loop: do a unit of work, heartbeat, then
 * wait `interval` seconds on tend_stop_fd() so that a stop request ends
 * the wait at once instead of after a full interval.
 *
 *   settings = { interval = 2.0; };
 *
 * reload() is called from another thread than run()'s, while run() runs:
 * it only stores the new interval, which the loop reads at its next turn.
 */
#include <poll.h>
#include <stdlib.h>

#include <tend/plugin.h>

struct worker {
	_Atomic int interval_ms;
};

/* The interval setting in milliseconds, or -1 when it is wrong (logged). */
static int interval_ms(struct tend_ctx *ctx)
{
	double interval = 2.0;

	if (tend_setting_double(ctx, "interval", &interval) < 0)
		return -1;
	if (interval <= 0 || interval > 86400) {
		tend_log(ctx, TEND_LOG_ERROR,
		         "interval must be positive, at most a day");
		return -1;
	}
	return (int)(interval * 1000);
}

static int worker_init(struct tend_ctx *ctx)
{
	struct worker *w = calloc(1, sizeof(*w));

	if (w == NULL)
		return -1;
	tend_set_data(ctx, w);
	w->interval_ms = interval_ms(ctx);
	return w->interval_ms < 0 ? -1 : 0;
}

static int worker_run(struct tend_ctx *ctx)
{
	struct worker *w = tend_data(ctx);
	unsigned long jobs = 0;
	struct pollfd stop = {.fd = tend_stop_fd(ctx), .events = POLLIN};

	tend_log(ctx, TEND_LOG_INFO, "working every %gs",
	         w->interval_ms / 1000.0);
	while (!tend_stopping(ctx)) {
		jobs++;
		tend_heartbeat(ctx);
		tend_log(ctx, TEND_LOG_INFO, "job %lu done", jobs);
		/* sleep, but wake as soon as the host asks us to stop */
		poll(&stop, 1, w->interval_ms);
	}
	tend_log(ctx, TEND_LOG_INFO, "stopping after %lu jobs", jobs);
	return 0;
}

static int worker_reload(struct tend_ctx *ctx)
{
	struct worker *w = tend_data(ctx);
	int ms = interval_ms(ctx);

	if (ms < 0)
		return 1; /* restart me: init() will say what is wrong */
	w->interval_ms = ms;
	tend_log(ctx, TEND_LOG_INFO, "now working every %gs", ms / 1000.0);
	return 0;
}

static void worker_fini(struct tend_ctx *ctx) { free(tend_data(ctx)); }

TEND_PLUGIN(.name = "worker", .version = "1.1",
            .executors = TEND_EXEC_RUN, .init = worker_init,
            .run = worker_run, .reload = worker_reload,
            .fini = worker_fini);
