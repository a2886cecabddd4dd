/*
 * pingpong: a bench plugin for messages between two services, under
 * every executor: their round trip (ping, pong) and their throughput
 * (flood, sink).
 *
 * Round trip. The "pong" service sends back whatever
 * it receives, to its sender. The "ping" service sends a message to
 * `peer`, and each time the echo arrives writes the round trip (ns) to the
 * next record of `file` (see bench.h) and sends the next one, from its
 * message() callback, until the file is full. So what is measured is
 * tend_send() -> tendd -> the peer's message() -> tend_send() -> tendd ->
 * message(), whatever the executors: no thread wake-up of run() is in it.
 *
 *   settings = { role = "ping"; peer = "pong"; file = "/dev/shm/x"; };
 *   settings = { role = "pong"; };
 *
 * The first message is sent once the peer takes it (every millisecond
 * until then: it may start after us).
 *
 * Throughput. The "flood" service sends 16-byte messages to `peer` as
 * fast as it takes them, one tend_send() each, or with `batch` > 1 that
 * many a tend_send_batch(); when its mailbox is full (EAGAIN) it waits
 * `backoff` seconds (50 us) and goes on. The "sink" counts what it
 * receives in rec[0].a of `file`, which the driver samples.
 *
 *   settings = { role = "flood"; peer = "sink"; backoff = 0.00005;
 *                batch = 1; };
 *   settings = { role = "sink"; file = "/dev/shm/x"; };
 */
#include <errno.h>
#include <ev.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <tend/plugin.h>

#include "bench.h"

#define FLOOD_TURN 256 /* messages per turn of the loop, at least */
#define BATCH_MAX 4096

enum role { PONG, PING, FLOOD, SINK };

struct pp {
	struct tend_ctx *ctx;
	enum role role;
	double backoff;
	long long batch;           /* flood: messages per send */
	struct tend_msg *msgs;     /* flood: `batch` of them */
	_Atomic uint64_t received; /* sink */
	ev_idle idle;              /* flood, start() executors */
	const char *peer;
	struct bench_file *file;
	int64_t sent_at;
	ev_timer retry;
};

static int pp_init(struct tend_ctx *ctx)
{
	struct pp *p = calloc(1, sizeof(*p));
	const char *role = "pong", *path = NULL;

	if (p == NULL)
		return -1;
	p->ctx = ctx;
	p->backoff = 0.00005;
	p->batch = 1;
	tend_set_data(ctx, p);
	if (tend_setting_string(ctx, "role", &role) < 0 ||
	    tend_setting_string(ctx, "peer", &p->peer) < 0 ||
	    tend_setting_string(ctx, "file", &path) < 0 ||
	    tend_setting_double(ctx, "backoff", &p->backoff) < 0 ||
	    tend_setting_int(ctx, "batch", &p->batch) < 0)
		return -1;
	if (p->batch < 1 || p->batch > BATCH_MAX) {
		tend_log(ctx, TEND_LOG_ERROR, "batch: 1 to %d", BATCH_MAX);
		return -1;
	}
	if ((p->msgs = calloc((size_t)p->batch, sizeof(*p->msgs))) == NULL)
		return -1;
	p->role = strcmp(role, "ping") == 0    ? PING
	          : strcmp(role, "flood") == 0 ? FLOOD
	          : strcmp(role, "sink") == 0  ? SINK
	                                       : PONG;
	if ((p->role == PING || p->role == SINK) &&
	    (path == NULL || (p->file = bench_map(path)) == NULL)) {
		tend_log(ctx, TEND_LOG_ERROR, "%s needs a file", role);
		return -1;
	}
	if ((p->role == PING || p->role == FLOOD) && p->peer == NULL) {
		tend_log(ctx, TEND_LOG_ERROR, "%s needs a peer", role);
		return -1;
	}
	if (p->role == SINK)
		atomic_store(&p->file->n, 1);
	return 0;
}

/* 0 once sent; -1 when the peer does not take it (yet). */
static int send_ping(struct pp *p)
{
	static const char text[] = "ping";

	p->sent_at = bench_now();
	return tend_send(p->ctx, p->peer, text, sizeof(text) - 1);
}

static void on_message(struct tend_ctx *ctx, const char *from,
                       const void *data, size_t len)
{
	struct pp *p = tend_data(ctx);
	uint64_t i;

	if (from[0] == '@')
		return;
	if (p->role == SINK) {
		p->file->rec[0].a = (int64_t)++p->received;
		return;
	}
	if (p->role != PING) {
		(void)tend_send(ctx, from, data, len);
		return;
	}
	i = atomic_load(&p->file->n);
	if (i >= p->file->cap)
		return; /* done */
	p->file->rec[i].a = bench_now() - p->sent_at;
	atomic_store(&p->file->n, i + 1);
	if (i + 1 < p->file->cap && send_ping(p) < 0)
		tend_log(ctx, TEND_LOG_ERROR, "cannot send to '%s': %s",
		         p->peer, strerror(errno));
}

/* A turn's messages; 0, or the errno that stopped them. */
static int flood(struct pp *p)
{
	static const char text[16] = "0123456789abcde";

	if (p->batch == 1) {
		for (int i = 0; i < FLOOD_TURN; i++)
			if (tend_send(p->ctx, p->peer, text, sizeof(text)) < 0)
				return errno;
		return 0;
	}
	for (long long i = 0; i < p->batch; i++)
		p->msgs[i] = (struct tend_msg){text, sizeof(text)};
	for (long long sent = 0; sent < FLOOD_TURN; sent += p->batch) {
		long n = tend_send_batch(p->ctx, p->peer, p->msgs,
		                         (size_t)p->batch);
		if (n < p->batch)
			return errno;
	}
	return 0;
}

static void on_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct pp *p = w->data;
	int err = flood(p);

	(void)revents;
	if (err == 0)
		return;
	ev_idle_stop(loop, w); /* full, or not there yet: wait a little */
	ev_timer_set(&p->retry, err == EAGAIN ? p->backoff : 0.001, 0.);
	ev_timer_start(loop, &p->retry);
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct pp *p = w->data;

	(void)revents;
	if (p->role == FLOOD) {
		ev_timer_stop(loop, w);
		ev_idle_start(loop, &p->idle);
	} else if (send_ping(p) == 0) {
		ev_timer_stop(loop, w);
	}
}

static int pp_start(struct tend_ctx *ctx)
{
	struct pp *p = tend_data(ctx);

	ev_timer_init(&p->retry, on_retry, 0., p->role == PING ? 0.001 : 0.);
	p->retry.data = p;
	ev_idle_init(&p->idle, on_idle);
	p->idle.data = p;
	if (p->role == PING || p->role == FLOOD)
		ev_timer_start(tend_loop(ctx), &p->retry);
	return 0;
}

static void pp_stop(struct tend_ctx *ctx)
{
	struct pp *p = tend_data(ctx);

	ev_timer_stop(tend_loop(ctx), &p->retry);
	ev_idle_stop(tend_loop(ctx), &p->idle);
}

static int pp_run(struct tend_ctx *ctx)
{
	struct pp *p = tend_data(ctx);
	struct pollfd stop = {.fd = tend_stop_fd(ctx), .events = POLLIN};
	int sent = p->role != PING;

	while (p->role == FLOOD && !tend_stopping(ctx)) {
		int err = flood(p);
		if (err == EAGAIN)
			usleep((useconds_t)(p->backoff * 1e6));
		else if (err)
			poll(&stop, 1, 1);
	}
	while (!tend_stopping(ctx)) {
		if (!sent)
			sent = send_ping(p) == 0;
		poll(&stop, 1, sent ? -1 : 1);
	}
	return 0;
}

static void pp_fini(struct tend_ctx *ctx)
{
	struct pp *p = tend_data(ctx);

	if (p)
		free(p->msgs);
	free(p);
}

TEND_PLUGIN(.name = "pingpong", .version = "1.0",
            .executors = TEND_EXEC_START | TEND_EXEC_RUN,
            .init = pp_init, .start = pp_start, .stop = pp_stop,
            .run = pp_run, .message = on_message, .fini = pp_fini);
