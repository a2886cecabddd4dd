/*
 * reloadrc: a test plugin, for every executor, whose reload() returns
 * what its new settings say, while init() always succeeds: a refused
 * reload is followed by a restart that works.
 *
 *   settings = { reload_rc = 7; };   reload() returns 7 (0 by default)
 *
 * Other settings are ignored; change one to make a reload call reload().
 */
#include <poll.h>

#include <tend/plugin.h>

static int rr_run(struct tend_ctx *ctx)
{
	struct pollfd stop = {.fd = tend_stop_fd(ctx), .events = POLLIN};

	while (!tend_stopping(ctx))
		poll(&stop, 1, 1000);
	return 0;
}

/* start() executors: nothing to watch, the loop runs on by itself */
static int rr_start(struct tend_ctx *ctx)
{
	(void)ctx;
	return 0;
}

static void rr_stop(struct tend_ctx *ctx) { (void)ctx; }

static int rr_reload(struct tend_ctx *ctx)
{
	long long rc = 0;

	tend_setting_int(ctx, "reload_rc", &rc);
	tend_log(ctx, TEND_LOG_INFO, "reload() returns %lld", rc);
	return (int)rc;
}

TEND_PLUGIN(.name = "reloadrc", .version = "1",
            .executors = TEND_EXEC_START | TEND_EXEC_RUN,
            .start = rr_start, .run = rr_run, .stop = rr_stop,
            .reload = rr_reload);
