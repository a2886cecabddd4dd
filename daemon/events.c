/*
 * Executor reports reach the supervisors through one queue drained on the
 * main loop. Service threads post to it under a mutex and wake the loop
 * with an ev_async; the main loop posts to it too (for async plugins that
 * call tend_fail() from inside their own callbacks), so that a supervisor
 * never acts while plugin code is still on the stack.
 */
#include <ev.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "tendd.h"

struct event {
	struct instance *inst;
	enum instance_event kind;
	struct exit_info info;
	struct event *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct event *head, **tail = &head;
static ev_async wake;
static struct ev_loop *loop;

static void dispatch(struct event *e)
{
	struct instance *inst = e->inst;

	if (inst->abandoned) {
		/* the thread we gave up on has finished after all */
		if (e->kind == IE_EXITED) {
			log_warnx("abandoned instance of '%s' has ended",
			          inst->name);
			inst->ops->reap(inst);
			inst->sv->abandoned--;
			instance_free(inst);
		}
		return;
	}
	supervisor_event(inst->sv, inst, e->kind,
	                 e->kind == IE_EXITED || e->kind == IE_RELOADED
	                     ? &e->info
	                     : NULL);
}

static void drain(struct ev_loop *l, ev_async *w, int revents)
{
	struct event *list;

	(void)l, (void)w, (void)revents;
	pthread_mutex_lock(&lock);
	list = head;
	head = NULL;
	tail = &head;
	pthread_mutex_unlock(&lock);
	while (list) {
		struct event *next = list->next;
		dispatch(list);
		free(list);
		list = next;
	}
}

int events_init(struct ev_loop *main_loop)
{
	loop = main_loop;
	ev_async_init(&wake, drain);
	ev_async_start(loop, &wake);
	return 0;
}

/* Queue an event for the main loop. Safe from any thread. */
void events_post(struct instance *inst, enum instance_event kind,
                 const struct exit_info *info)
{
	struct event *e = malloc(sizeof(*e));

	if (e == NULL)
		fatalx("out of memory");
	e->inst = inst;
	e->kind = kind;
	if (info)
		e->info = *info;
	e->next = NULL;
	pthread_mutex_lock(&lock);
	*tail = e;
	tail = &e->next;
	pthread_mutex_unlock(&lock);
	ev_async_send(loop, &wake);
}

void events_shutdown(void)
{
	struct event *list;

	ev_async_stop(loop, &wake);
	pthread_mutex_lock(&lock);
	list = head;
	head = NULL;
	tail = &head;
	pthread_mutex_unlock(&lock);
	while (list) {
		struct event *next = list->next;
		free(list);
		list = next;
	}
}
