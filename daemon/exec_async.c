/*
 * The async executor: the plugin's start() puts watchers on the host's own
 * loop and returns at once. Cheapest of all (no thread, no process) and
 * with no isolation at all: a plugin that blocks stalls every service, one
 * that crashes takes the daemon down.
 */
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>

#include "tendd.h"

struct async_state {
	bool started; /* start() succeeded: stop() is owed */
	bool done;    /* stop() and fini() have been called */
	ev_async mail; /* its mailbox has messages */
};

static struct async_state *state(struct instance *in) { return in->exec; }

/* From any sender's thread. */
static void mail_wake(void *arg)
{
	struct instance *in = arg;
	ev_async_send(in->loop, &state(in)->mail);
}

/* A batch at a time, so that a flood cannot starve the other services. */
static void on_mail(struct ev_loop *loop, ev_async *w, int revents)
{
	struct instance *in = w->data;

	(void)revents;
	if (mailbox_deliver(in->sv->mailbox, in, MAIL_BATCH))
		ev_async_send(loop, w);
}

static void finish(struct instance *in)
{
	struct async_state *st = state(in);

	if (st->done)
		return;
	st->done = true;
	if (st->started) {
		mailbox_unbind(in->sv->mailbox, in->mail_run);
		ev_async_stop(in->loop, &st->mail);
	}
	if (st->started && in->api->stop)
		in->api->stop(&in->ctx);
	if (in->api->fini)
		in->api->fini(&in->ctx);
}

static int async_start(struct instance *in, char *err, size_t errlen)
{
	struct async_state *st = calloc(1, sizeof(*st));
	struct exit_info info = {0};

	if (st == NULL)
		fatalx("out of memory");
	in->exec = st;
	(void)err, (void)errlen;
	if (in->api->init && in->api->init(&in->ctx) != 0) {
		info.kind = EXIT_START_FAILED;
		snprintf(info.reason, sizeof(info.reason), "init() failed");
	} else if (in->api->start(&in->ctx) != 0) {
		info.kind = EXIT_START_FAILED;
		snprintf(info.reason, sizeof(info.reason), "start() failed");
	} else {
		st->started = true;
		ev_async_init(&st->mail, on_mail);
		st->mail.data = in;
		ev_async_start(in->loop, &st->mail);
		mailbox_bind(in->sv->mailbox, in->mail_run, mail_wake, in);
		events_post(in, IE_STARTED, NULL);
		return 0;
	}
	if (in->ended)
		instance_exit_info(in, 0, &info);
	finish(in);
	events_post(in, IE_EXITED, &info);
	return 0;
}

static void async_stop(struct instance *in)
{
	struct exit_info info;

	if (state(in)->done)
		return; /* IE_EXITED is on its way already */
	in->stopping = 1;
	instance_exit_info(in, 0, &info);
	finish(in);
	events_post(in, IE_EXITED, &info);
}

/* Nothing can outlive async_stop(): it runs to completion. */
static bool async_kill(struct instance *in)
{
	(void)in;
	return false;
}

static void async_reap(struct instance *in) { (void)in; }

/* Called from the plugin's own callback: let the supervisor stop it. */
static void async_self_end(struct instance *in)
{
	events_post(in, IE_END, NULL);
}

/* On the host loop, like every other callback of an async plugin. */
static void async_reconfigure(struct instance *in)
{
	struct exit_info info = {.code = in->api->reload(&in->ctx)};
	events_post(in, IE_RELOADED, &info);
}

const struct executor_ops exec_async_ops = {
    .name = "async",
    .start = async_start,
    .stop = async_stop,
    .kill = async_kill,
    .reap = async_reap,
    .self_end = async_self_end,
    .reconfigure = async_reconfigure,
};
