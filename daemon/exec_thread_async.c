/*
 * The thread-async executor: a thread with its own libev loop, on which
 * the plugin's start() puts its watchers. A plugin that blocks stalls only
 * itself; it still shares the daemon's memory.
 */
#include <ev.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "tendd.h"

struct thread_async_state {
	struct thread_state base; /* first: the thread helpers use it */
	ev_async wake;            /* requests from the main loop */
	_Atomic int reload;       /* settings changed: call reload() */
	ev_async mail;            /* its mailbox has messages */
};

/* From any sender's thread. */
static void mail_wake(void *arg)
{
	struct instance *in = arg;
	struct thread_async_state *st = in->exec;

	ev_async_send(in->loop, &st->mail);
}

/* On the service's own loop; a batch at a time, then other events. */
static void on_mail(struct ev_loop *loop, ev_async *w, int revents)
{
	struct instance *in = w->data;

	(void)revents;
	if (mailbox_deliver(in->sv->mailbox, in, MAIL_BATCH))
		ev_async_send(loop, w);
}

/* On the service's own loop, between start() and stop(). */
static void on_wake(struct ev_loop *loop, ev_async *w, int revents)
{
	struct instance *in = w->data;
	struct thread_async_state *st = in->exec;

	(void)revents;
	if (in->stopping) {
		ev_break(loop, EVBREAK_ALL);
		return;
	}
	if (st->reload) {
		struct exit_info info = {0};
		st->reload = 0;
		info.code = in->api->reload(&in->ctx);
		events_post(in, IE_RELOADED, &info);
	}
}

/*
 * How a run ends: fini(), and its report to the main loop. Out of line,
 * with its 256-byte reason, so that the frames under an idle ev_run() stay
 * small: with tendd's static TLS reserve (reexec.c) a thread-async thread
 * then blocks with its descriptor, TLS and stack all in one page.
 */
__attribute__((noinline)) static void thread_async_end(struct instance *in,
                                                       const char *failed)
{
	struct exit_info info = {0};

	if (failed) {
		info.kind = EXIT_START_FAILED;
		snprintf(info.reason, sizeof(info.reason), "%s() failed",
		         failed);
	}
	if (!failed || in->ended)
		instance_exit_info(in, 0, &info);
	if (in->api->fini)
		in->api->fini(&in->ctx);
	/* the loop lives on until reaped: stop requests may still arrive */
	events_post(in, IE_EXITED, &info);
}

static void *thread_async_main(void *arg)
{
	struct instance *in = arg;
	const char *failed = NULL;

	thread_begin(in);
	if (in->api->init && in->api->init(&in->ctx) != 0) {
		failed = "init";
	} else if (in->api->start(&in->ctx) != 0) {
		failed = "start";
	} else {
		struct mailbox *mb = in->sv->mailbox;
		ev_alloc_trim(in); /* what start() added to the loop's tables */
		mailbox_bind(mb, in->mail_run, mail_wake, in);
		events_post(in, IE_STARTED, NULL);
		/* tend_fail() inside start() would be lost by ev_run */
		if (!in->ended && !in->stopping) {
			thread_trim_stack();
			ev_run(in->loop, 0);
		}
		mailbox_unbind(mb, in->mail_run);
		if (in->api->stop)
			in->api->stop(&in->ctx);
	}
	thread_async_end(in, failed);
	return NULL;
}

/*
 * The service's loop with its two wake-ups, or NULL. Its tables belong to
 * the instance (ev_alloc.c): with fds in the thousands they are mostly
 * zeros, given back here, before the thread takes the loop.
 *
 * NEEDSWORK: a table still under a page here (every fd below ~250) that
 * start() takes past one is made untagged, so is not given back after
 * start(); ev_alloc.c would have to know the loop's blocks on the heap.
 */
static struct ev_loop *loop_new(struct instance *in,
                                struct thread_async_state *st)
{
	struct ev_loop *loop;

	ev_alloc_tag(in);
	loop = ev_loop_new(EVFLAG_AUTO);
	if (loop) {
		ev_async_init(&st->wake, on_wake);
		st->wake.data = in;
		ev_async_start(loop, &st->wake);
		ev_async_init(&st->mail, on_mail);
		st->mail.data = in;
		ev_async_start(loop, &st->mail);
	}
	ev_alloc_tag(NULL);
	ev_alloc_trim(in);
	return loop;
}

static int thread_async_start(struct instance *in, char *err, size_t errlen)
{
	struct thread_async_state *st = calloc(1, sizeof(*st));

	if (st == NULL)
		fatalx("out of memory");
	in->exec = st;
	in->loop = loop_new(in, st);
	if (in->loop == NULL) {
		snprintf(err, errlen, "cannot create an event loop");
		return -1;
	}
	if (thread_spawn(in, thread_async_main, err, errlen) < 0) {
		ev_async_stop(in->loop, &st->mail);
		ev_async_stop(in->loop, &st->wake);
		ev_loop_destroy(in->loop);
		in->loop = NULL;
		return -1;
	}
	return 0;
}

static void thread_async_stop(struct instance *in)
{
	struct thread_async_state *st = in->exec;

	thread_wake(in);
	ev_async_send(in->loop, &st->wake);
}

static void thread_async_reap(struct instance *in)
{
	struct thread_async_state *st = in->exec;

	thread_reap(in);
	ev_async_stop(in->loop, &st->wake);
	ev_async_stop(in->loop, &st->mail);
	ev_loop_destroy(in->loop);
	in->loop = NULL;
}

static void thread_async_reconfigure(struct instance *in)
{
	struct thread_async_state *st = in->exec;

	st->reload = 1;
	ev_async_send(in->loop, &st->wake);
}

/* Called on the service thread, from a plugin callback. */
static void thread_async_self_end(struct instance *in)
{
	ev_break(in->loop, EVBREAK_ALL);
}

const struct executor_ops exec_thread_async_ops = {
    .name = "thread-async",
    .start = thread_async_start,
    .stop = thread_async_stop,
    .kill = thread_abandon,
    .reap = thread_async_reap,
    .self_end = thread_async_self_end,
    .reconfigure = thread_async_reconfigure,
};
