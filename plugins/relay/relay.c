/*
 * relay: an example of messages between services, for every executor. It
 * passes each message it gets on to the service named by `to`, in the
 * order they came. When `to` refuses one for now (its mailbox is full,
 * or it is restarting), the relay keeps it and what follows, up to
 * `buffer` messages, and tries again every few milliseconds: that is how
 * a sender answers backpressure. A message over the buffer is dropped,
 * counted and said in the log; nothing is lost without a word.
 *
 *   settings = { to = "sink"; buffer = 1024; };
 *
 * message() is called on the plugin's loop under start() executors, and
 * on another thread than run()'s under run() executors: the queue is
 * under a mutex, one caller at a time sends from it, and no lock is held
 * while tend_send() runs. run() is woken through an eventfd to try again.
 */
#include <errno.h>
#include <ev.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <tend/plugin.h>

#define RETRY 0.005 /* seconds between tries while `to` refuses */

struct item {
	struct item *next;
	size_t len;
	char data[];
};

struct relay {
	struct tend_ctx *ctx;
	const char *to;
	long long buffer;
	pthread_mutex_t lock;
	struct item *head, **tail; /* under lock */
	long long queued;
	bool sending;              /* someone sends from the queue */
	unsigned long relayed, dropped, refused;
	int wake_fd;  /* run(): readable when the queue needs a retry */
	ev_timer retry; /* start(): while the queue needs one */
};

/* Under lock: the head is sent, or will never be. */
static void pop(struct relay *r)
{
	struct item *it = r->head;

	r->head = it->next;
	if (r->head == NULL)
		r->tail = &r->head;
	r->queued--;
	free(it);
}

/*
 * Send from the head of the queue until it is empty or `to` refuses.
 * Returns true when messages wait for a retry. Only one caller sends at
 * a time, so the order holds; another returns at once, and what it
 * queued is sent by the one that sends.
 */
static bool flush(struct relay *r)
{
	bool waiting;

	pthread_mutex_lock(&r->lock);
	if (r->sending) {
		pthread_mutex_unlock(&r->lock);
		return false;
	}
	r->sending = true;
	while (r->head) {
		struct item *it = r->head; /* only the sender pops it */
		int rc, err;

		pthread_mutex_unlock(&r->lock);
		rc = tend_send(r->ctx, r->to, it->data, it->len);
		err = errno;
		pthread_mutex_lock(&r->lock);
		if (rc == 0) {
			r->relayed++;
		} else if (err == EAGAIN || err == ESRCH) {
			r->refused++;
			break; /* for now: try again later */
		} else {
			r->dropped++; /* would fail the same way forever */
			tend_log(r->ctx, TEND_LOG_WARNING,
			         "cannot relay to '%s': %s: message dropped",
			         r->to, strerror(err));
		}
		pop(r);
	}
	r->sending = false;
	waiting = r->head != NULL;
	pthread_mutex_unlock(&r->lock);
	return waiting;
}

static void on_message(struct tend_ctx *ctx, const char *from,
                       const void *data, size_t len)
{
	struct relay *r = tend_data(ctx);
	struct item *it;

	(void)from;
	it = malloc(sizeof(*it) + len);
	if (it == NULL)
		return;
	it->next = NULL;
	it->len = len;
	memcpy(it->data, data, len);
	pthread_mutex_lock(&r->lock);
	if (r->queued >= r->buffer) {
		if (r->dropped++ % 1000 == 0)
			tend_log(ctx, TEND_LOG_WARNING,
			         "'%s' is behind: buffer of %lld full, %lu "
			         "dropped so far",
			         r->to, r->buffer, r->dropped);
		pthread_mutex_unlock(&r->lock);
		free(it);
		return;
	}
	*r->tail = it;
	r->tail = &it->next;
	r->queued++;
	pthread_mutex_unlock(&r->lock);
	if (!flush(r))
		return;
	if (tend_loop(ctx)) {
		/* start(): message() runs on the loop, so may touch it */
		if (!ev_is_active(&r->retry))
			ev_timer_start(tend_loop(ctx), &r->retry);
	} else {
		uint64_t one = 1;
		(void)!write(r->wake_fd, &one, sizeof(one));
	}
}

static void on_retry(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct relay *r = w->data;

	(void)revents;
	if (!flush(r))
		ev_timer_stop(loop, w);
}

static int relay_init(struct tend_ctx *ctx)
{
	struct relay *r = calloc(1, sizeof(*r));

	if (r == NULL)
		return -1;
	r->ctx = ctx;
	r->buffer = 1024;
	r->tail = &r->head;
	r->wake_fd = -1;
	pthread_mutex_init(&r->lock, NULL);
	tend_set_data(ctx, r);
	if (tend_setting_string(ctx, "to", &r->to) != 0 ||
	    tend_setting_int(ctx, "buffer", &r->buffer) < 0) {
		tend_log(ctx, TEND_LOG_ERROR, "needs `to`, a service's name");
		return -1;
	}
	if (r->buffer < 1) {
		tend_log(ctx, TEND_LOG_ERROR, "buffer must be at least 1");
		return -1;
	}
	ev_timer_init(&r->retry, on_retry, RETRY, RETRY);
	r->retry.data = r;
	r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return r->wake_fd < 0 ? -1 : 0;
}

static int relay_start(struct tend_ctx *ctx)
{
	struct relay *r = tend_data(ctx);

	tend_log(ctx, TEND_LOG_INFO, "relaying to '%s'", r->to);
	return 0;
}

static void relay_stop(struct tend_ctx *ctx)
{
	struct relay *r = tend_data(ctx);

	ev_timer_stop(tend_loop(ctx), &r->retry);
}

static int relay_run(struct tend_ctx *ctx)
{
	struct relay *r = tend_data(ctx);
	struct pollfd fds[2] = {{.fd = tend_stop_fd(ctx), .events = POLLIN},
	                        {.fd = r->wake_fd, .events = POLLIN}};
	bool waiting = false;
	uint64_t n;

	tend_log(ctx, TEND_LOG_INFO, "relaying to '%s'", r->to);
	while (!tend_stopping(ctx)) {
		poll(fds, 2, waiting ? (int)(RETRY * 1000) : -1);
		(void)!read(r->wake_fd, &n, sizeof(n));
		waiting = flush(r);
	}
	return 0;
}

static void relay_fini(struct tend_ctx *ctx)
{
	struct relay *r = tend_data(ctx);

	if (r->relayed || r->dropped)
		tend_log(ctx, TEND_LOG_INFO,
		         "relayed %lu messages to '%s' (refused for now %lu "
		         "times), dropped %lu, left %lld",
		         r->relayed, r->to, r->refused, r->dropped, r->queued);
	while (r->head)
		pop(r);
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

TEND_PLUGIN(.name = "relay", .version = "1.0",
            .executors = TEND_EXEC_START | TEND_EXEC_RUN, .init = relay_init,
            .start = relay_start, .run = relay_run, .stop = relay_stop,
            .message = on_message, .fini = relay_fini);
