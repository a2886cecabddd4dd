/*
 * crasher: a bench plugin that ends as soon as it has started, under every
 * executor, so that with backoff = "immediate" tendd restarts it over and
 * over. Each run writes one record to the file `file` (see bench.h): the
 * time init() was entered and the time just before the run ended, so that
 * tests/bench/run gets the restart latency of every cycle: the end of run
 * i to the init() of run i+1.
 *
 *   settings = { file = "/dev/shm/x"; life = 0.0; hard = false; };
 *
 * How a run ends (after `life` seconds): start() plugins from a timer
 * callback, run() plugins by returning from run(); with `hard` (for the
 * process executors) by _exit(1), as a crash would, otherwise by
 * tend_exit(ctx, 1) (start()) or run() returning 1.
 */
#include <ev.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include <tend/plugin.h>

#include "bench.h"

/* Mapped once per process: the runs of in-process executors share it, so
 * one crasher service per tendd (each child maps it for itself). */
static struct bench_file *file;

struct crasher {
	struct tend_ctx *ctx;
	uint64_t idx;
	double life;
	int hard; /* _exit(1) rather than tend_exit() or return 1 */
	ev_timer timer;
};

static void record_end(struct crasher *c)
{
	if (file && c->idx < file->cap) {
		file->rec[c->idx].b = bench_now();
		atomic_store(&file->n, c->idx + 1);
	}
}

static int crasher_init(struct tend_ctx *ctx)
{
	int64_t t = bench_now(); /* first: what follows is the run's */
	struct crasher *c = calloc(1, sizeof(*c));
	const char *path = NULL;

	if (c == NULL)
		return -1;
	tend_set_data(ctx, c);
	c->ctx = ctx;
	if (tend_setting_string(ctx, "file", &path) != 0 ||
	    tend_setting_double(ctx, "life", &c->life) < 0 ||
	    tend_setting_bool(ctx, "hard", &c->hard) < 0)
		return -1;
	if (file == NULL && (file = bench_map(path)) == NULL) {
		tend_log(ctx, TEND_LOG_ERROR, "cannot map '%s'", path);
		return -1;
	}
	c->idx = atomic_load(&file->n);
	if (c->idx < file->cap)
		file->rec[c->idx].a = t;
	return 0;
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct crasher *c = w->data;

	(void)loop, (void)revents;
	record_end(c);
	if (c->hard)
		_exit(1);
	tend_exit(c->ctx, 1);
}

static int crasher_start(struct tend_ctx *ctx)
{
	struct crasher *c = tend_data(ctx);

	ev_timer_init(&c->timer, on_timer, c->life, 0.);
	c->timer.data = c;
	ev_timer_start(tend_loop(ctx), &c->timer);
	return 0;
}

static void crasher_stop(struct tend_ctx *ctx)
{
	struct crasher *c = tend_data(ctx);

	ev_timer_stop(tend_loop(ctx), &c->timer);
}

static int crasher_run(struct tend_ctx *ctx)
{
	struct crasher *c = tend_data(ctx);

	if (c->life > 0) {
		struct pollfd stop = {.fd = tend_stop_fd(ctx), .events = POLLIN};
		poll(&stop, 1, (int)(c->life * 1000));
	}
	record_end(c);
	if (c->hard)
		_exit(1); /* a crash, as far as tendd can tell */
	return 1;
}

static void crasher_fini(struct tend_ctx *ctx) { free(tend_data(ctx)); }

TEND_PLUGIN(.name = "crasher", .version = "1.0",
            .executors = TEND_EXEC_START | TEND_EXEC_RUN,
            .init = crasher_init, .start = crasher_start,
            .stop = crasher_stop, .run = crasher_run,
            .fini = crasher_fini);
