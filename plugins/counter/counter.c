/*
 * counter: an example of messages between services, for every executor.
 * It counts the messages it receives and logs their rate every
 * `interval` seconds. With `send_to`, it also sends numbered messages
 * ("1", "2", ...) to that service, `rate` a second, or with rate = 0 as
 * fast as the receiver's mailbox takes them: a source for a chain such as
 * counter -> relay -> counter, whose last counter shows what came through.
 *
 *   settings = { interval = 5.0; send_to = "relay"; rate = 1000.0;
 *                count = 0; };   count: stop sending after so many (0: never)
 *
 * Numbered messages are checked as they arrive: one that does not follow
 * the one before (lost upstream, say a relay dropped it) is counted and
 * reported as out of sequence.
 *
 * message() runs on another thread than run() under run() executors, so
 * what it counts is atomic; the rest belongs to the loop or to run().
 */
#include <errno.h>
#include <ev.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tend/plugin.h>

#define BATCH 256    /* sends per turn of the loop, at most */
#define TICK 0.01    /* seconds between rounds of rate-limited sends */
#define BACKOFF 0.001 /* seconds to wait when the receiver refuses */

struct counter {
	struct tend_ctx *ctx;
	double interval, rate;
	const char *send_to;
	long long count;
	/* received, counted in message() */
	_Atomic unsigned long received, bytes, out_of_sequence;
	unsigned long long last; /* the last number seen, message() only */
	/* sent, and the report: the loop's, or run()'s */
	unsigned long long sent;
	unsigned long refused; /* EAGAIN or ESRCH: waited and tried again */
	bool sending;
	double since, started;
	unsigned long received_then, sent_then;
	ev_timer report, tick;
	ev_idle idle;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void on_message(struct tend_ctx *ctx, const char *from,
                       const void *data, size_t len)
{
	struct counter *c = tend_data(ctx);
	char *end;
	unsigned long long n;

	if (from[0] == '@')
		return; /* a watched service's state: not a message */
	c->received++;
	c->bytes += len;
	n = strtoull(data, &end, 10); /* data is NUL-terminated */
	if (end == (const char *)data || *end != '\0')
		return;
	if (c->last && n != c->last + 1)
		c->out_of_sequence++;
	c->last = n;
}

static void report(struct counter *c)
{
	double t = now(), dt = t - c->since;
	unsigned long rx = c->received, tx = (unsigned long)c->sent;

	if (rx != c->received_then)
		tend_log(c->ctx, TEND_LOG_INFO,
		         "received %lu messages in %.1fs: %.0f/s (total %lu, "
		         "%lu bytes, %lu out of sequence)",
		         rx - c->received_then, dt,
		         (double)(rx - c->received_then) / dt, rx,
		         (unsigned long)c->bytes,
		         (unsigned long)c->out_of_sequence);
	if (tx != c->sent_then)
		tend_log(c->ctx, TEND_LOG_INFO,
		         "sent %lu messages to '%s' in %.1fs: %.0f/s (total "
		         "%lu, refused for now %lu times)",
		         tx - c->sent_then, c->send_to, dt,
		         (double)(tx - c->sent_then) / dt, tx, c->refused);
	c->received_then = rx;
	c->sent_then = tx;
	c->since = t;
}

/*
 * Send what is due: up to `max`, and at `rate` up to where the rate says
 * by now. Returns false once the receiver refuses (wait a little).
 */
static bool produce(struct counter *c, int max)
{
	char text[32];

	for (int i = 0; i < max && c->sending; i++) {
		int len;
		if (c->rate > 0 &&
		    (double)c->sent >= c->rate * (now() - c->started))
			return true;
		len = snprintf(text, sizeof(text), "%llu", c->sent + 1);
		if (tend_send(c->ctx, c->send_to, text, (size_t)len) < 0) {
			if (errno == EAGAIN || errno == ESRCH) {
				c->refused++;
				return false;
			}
			tend_log(c->ctx, TEND_LOG_ERROR,
			         "cannot send to '%s': %s: no more sending",
			         c->send_to, strerror(errno));
			c->sending = false;
			return true;
		}
		if (++c->sent == (unsigned long long)c->count)
			c->sending = false;
	}
	return true;
}

static int counter_init(struct tend_ctx *ctx)
{
	struct counter *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return -1;
	c->ctx = ctx;
	c->interval = 5.0;
	tend_set_data(ctx, c);
	if (tend_setting_double(ctx, "interval", &c->interval) < 0 ||
	    tend_setting_string(ctx, "send_to", &c->send_to) < 0 ||
	    tend_setting_double(ctx, "rate", &c->rate) < 0 ||
	    tend_setting_int(ctx, "count", &c->count) < 0)
		return -1; /* the host has logged file:line and the key */
	if (c->interval <= 0 || c->rate < 0 || c->count < 0) {
		tend_log(ctx, TEND_LOG_ERROR,
		         "interval must be positive, rate and count at least 0");
		return -1;
	}
	c->sending = c->send_to != NULL;
	c->since = c->started = now();
	return 0;
}

/* start() executors: the loop sends when idle, or by the tick at a rate. */
static void on_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct counter *c = w->data;

	(void)revents;
	if (!produce(c, BATCH)) {
		ev_idle_stop(loop, w); /* refused: back off a little */
		ev_timer_set(&c->tick, BACKOFF, 0.);
		ev_timer_start(loop, &c->tick);
	} else if (!c->sending) {
		ev_idle_stop(loop, w);
	}
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct counter *c = w->data;

	(void)revents;
	if (c->rate > 0) {
		produce(c, 1 << 20);
		if (c->sending) {
			ev_timer_set(w, TICK, 0.);
			ev_timer_start(loop, w);
		}
	} else if (c->sending) {
		ev_idle_start(loop, &c->idle);
	}
}

static void on_report(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)revents;
	report(w->data);
}

static int counter_start(struct tend_ctx *ctx)
{
	struct counter *c = tend_data(ctx);
	struct ev_loop *loop = tend_loop(ctx);

	ev_timer_init(&c->report, on_report, c->interval, c->interval);
	c->report.data = c;
	ev_timer_start(loop, &c->report);
	ev_idle_init(&c->idle, on_idle);
	c->idle.data = c;
	ev_timer_init(&c->tick, on_tick, 0., 0.);
	c->tick.data = c;
	if (c->sending)
		ev_timer_start(loop, &c->tick);
	return 0;
}

static void counter_stop(struct tend_ctx *ctx)
{
	struct counter *c = tend_data(ctx);
	struct ev_loop *loop = tend_loop(ctx);

	ev_timer_stop(loop, &c->report);
	ev_timer_stop(loop, &c->tick);
	ev_idle_stop(loop, &c->idle);
}

static int counter_run(struct tend_ctx *ctx)
{
	struct counter *c = tend_data(ctx);
	struct pollfd stop = {.fd = tend_stop_fd(ctx), .events = POLLIN};
	double next_report = c->since + c->interval;

	while (!tend_stopping(ctx)) {
		double wait = next_report - now();
		if (c->sending && c->rate == 0) {
			wait = produce(c, BATCH) ? 0 : BACKOFF;
		} else if (c->sending) {
			produce(c, 1 << 20);
			wait = wait < TICK ? wait : TICK;
		}
		poll(&stop, 1, wait > 0 ? (int)(wait * 1000) : 0);
		if (now() >= next_report) {
			report(c);
			next_report += c->interval;
		}
	}
	return 0;
}

static void counter_fini(struct tend_ctx *ctx)
{
	struct counter *c = tend_data(ctx);

	if (c->received || c->sent)
		report(c);
	free(c);
}

TEND_PLUGIN(.name = "counter", .version = "1.0",
            .executors = TEND_EXEC_START | TEND_EXEC_RUN,
            .init = counter_init, .start = counter_start,
            .run = counter_run, .stop = counter_stop,
            .message = on_message, .fini = counter_fini);
