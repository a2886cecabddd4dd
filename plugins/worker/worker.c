/*
 * worker: an example run() plugin, for the thread and process executors.
 * run() is an ordinary blocking loop: do a unit of work, heartbeat, then
 * wait `interval` seconds on tend_stop_fd() so that a stop request ends
 * the wait at once instead of after a full interval.
 *
 *   settings = { interval = 2.0; };
 */
#include <poll.h>

#include <tend/plugin.h>

static int worker_run(struct tend_ctx *ctx)
{
	double interval = 2.0;
	unsigned long jobs = 0;
	struct pollfd stop = {.fd = tend_stop_fd(ctx), .events = POLLIN};

	if (tend_setting_double(ctx, "interval", &interval) < 0)
		return 1;
	if (interval <= 0) {
		tend_log(ctx, TEND_LOG_ERROR, "interval must be positive");
		return 1;
	}
	tend_log(ctx, TEND_LOG_INFO, "working every %gs", interval);
	while (!tend_stopping(ctx)) {
		jobs++;
		tend_heartbeat(ctx);
		tend_log(ctx, TEND_LOG_INFO, "job %lu done", jobs);
		/* sleep, but wake as soon as the host asks us to stop */
		poll(&stop, 1, (int)(interval * 1000));
	}
	tend_log(ctx, TEND_LOG_INFO, "stopping after %lu jobs", jobs);
	return 0;
}

TEND_PLUGIN(.name = "worker", .version = "1.0",
            .executors = TEND_EXEC_RUN, .run = worker_run);
