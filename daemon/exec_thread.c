/*
 * The thread executor: the plugin's run() blocks on a thread of its own
 * until tend_stopping() is true. A crash still takes the daemon down, and
 * a thread cannot be killed: one that does not stop within stop_timeout is
 * abandoned (and reported), and the daemon exits non-zero at shutdown.
 *
 * Also the thread helpers thread-async shares.
 */
#include <errno.h>
#include <ev.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tendd.h"

/*
 * Start fn(in) on a new thread with every signal blocked, so that signals
 * keep going to the main loop. Returns 0, or -1 with the reason in err.
 */
int thread_spawn(struct instance *in, void *(*fn)(void *), char *err,
                 size_t errlen)
{
	struct thread_state *st = in->exec;
	sigset_t all, old;
	int rc;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	rc = pthread_create(&st->thread, NULL, fn, in);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc != 0) {
		snprintf(err, errlen, "cannot create a thread: %s",
		         strerror(rc));
		return -1;
	}
	return 0;
}

/* First thing on the new thread: make it findable in /proc. */
void thread_begin(struct instance *in)
{
	char comm[16];

	in->tid = gettid();
	snprintf(comm, sizeof(comm), "%.15s", in->name);
	pthread_setname_np(pthread_self(), comm);
}

/*
 * An address just below the caller's stack pointer: a local of a frame
 * under it, on the thread's own stack even under AddressSanitizer.
 */
__attribute__((noinline, no_sanitize_address)) static uintptr_t
below_caller(void)
{
	volatile char here = 0;
	volatile uintptr_t at = (uintptr_t)&here;

	return at;
}

/*
 * Give back the stack pages below the one in use, before a loop blocks:
 * init(), start() and their logging reach deeper than ev_run() waiting in
 * epoll_wait(), and the pages they touched would stay resident for as
 * long as the thread lives. Below the stack pointer nothing is in use,
 * and from the system call on, nothing here goes deeper than its call
 * did: it is made directly, where a preloaded madvise() wrapper would
 * put its frame in the pages given back.
 * A page given back reads as zeros when it is next reached, so a loop
 * whose frames do not fit above the line only takes one back.
 */
void thread_trim_stack(void)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), low, top;
	pthread_attr_t attr;
	size_t size;
	void *base;
	int rc;

	if (pthread_getattr_np(pthread_self(), &attr) != 0)
		return;
	rc = pthread_attr_getstack(&attr, &base, &size);
	pthread_attr_destroy(&attr);
	low = (uintptr_t)base;
	top = below_caller() & ~(page - 1);
	if (rc == 0 && top > low && top <= low + size)
		syscall(SYS_madvise, base, top - low, MADV_DONTNEED);
}

/* Wake a run() that polls tend_stop_fd(). */
void thread_wake(struct instance *in)
{
	uint64_t one = 1;
	in->stopping = 1;
	(void)!write(in->stop_fd, &one, sizeof(one));
}

/*
 * A thread cannot be killed: leave it, and let the service move on. It
 * stays joinable, so that when it does end it is joined before anything
 * it may still use (its loop, its plugin) is released.
 */
bool thread_abandon(struct instance *in)
{
	struct thread_state *st = in->exec;

	if (pthread_tryjoin_np(st->thread, NULL) == 0) {
		st->joined = true; /* it just ended: its report is queued */
		return false;
	}
	in->abandoned = true;
	log_write(TEND_LOG_ERROR, in->name,
	          "thread %d did not stop within %gs; abandoned, still "
	          "running",
	          (int)in->tid, in->sv ? in->sv->cfg.stop_timeout : 0.0);
	return true;
}

void thread_reap(struct instance *in)
{
	struct thread_state *st = in->exec;
	if (!st->joined)
		pthread_join(st->thread, NULL);
	st->joined = true;
}

/*
 * A run() plugin blocks its thread, so reload() and message() are called
 * from the main loop while run() runs; `lock` keeps them from overlapping
 * fini().
 */
struct run_state {
	struct thread_state base; /* first: the thread helpers use it */
	pthread_mutex_t lock;
	bool running; /* between init() and the return of run() */
	ev_async mail;          /* its mailbox has messages */
	struct ev_loop *host;   /* the main loop, where they are delivered */
};

/* From any sender's thread. */
static void mail_wake(void *arg)
{
	struct instance *in = arg;
	struct run_state *st = in->exec;

	ev_async_send(st->host, &st->mail);
}

/* On the main loop; a batch at a time, and only while run() runs. */
static void on_mail(struct ev_loop *loop, ev_async *w, int revents)
{
	struct instance *in = w->data;
	struct run_state *st = in->exec;
	bool more = false;

	(void)revents;
	pthread_mutex_lock(&st->lock);
	if (st->running)
		more = mailbox_deliver(in->sv->mailbox, in, MAIL_BATCH);
	pthread_mutex_unlock(&st->lock);
	if (more)
		ev_async_send(loop, w);
}

/* Main thread: no wake-up or delivery after this. */
static void mail_off(struct instance *in)
{
	struct run_state *st = in->exec;

	mailbox_unbind(in->sv->mailbox, in->mail_run);
	ev_async_stop(st->host, &st->mail);
}

static void *thread_main(void *arg)
{
	struct instance *in = arg;
	struct run_state *st = in->exec;
	struct exit_info info = {0};

	thread_begin(in);
	if (in->api->init && in->api->init(&in->ctx) != 0) {
		info.kind = EXIT_START_FAILED;
		snprintf(info.reason, sizeof(info.reason), "init() failed");
		if (in->ended)
			instance_exit_info(in, 0, &info);
	} else {
		pthread_mutex_lock(&st->lock);
		st->running = true;
		pthread_mutex_unlock(&st->lock);
		ev_async_send(st->host, &st->mail); /* mail that came early */
		events_post(in, IE_STARTED, NULL);
		int rc = in->api->run(&in->ctx);
		pthread_mutex_lock(&st->lock);
		st->running = false;
		pthread_mutex_unlock(&st->lock);
		instance_exit_info(in, rc, &info);
	}
	if (in->api->fini)
		in->api->fini(&in->ctx);
	events_post(in, IE_EXITED, &info);
	return NULL;
}

static int thread_start(struct instance *in, char *err, size_t errlen)
{
	struct run_state *st = calloc(1, sizeof(*st));

	if (st == NULL)
		fatalx("out of memory");
	pthread_mutex_init(&st->lock, NULL);
	in->exec = st;
	st->host = in->loop;
	in->loop = NULL;
	ev_async_init(&st->mail, on_mail);
	st->mail.data = in;
	ev_async_start(st->host, &st->mail);
	mailbox_bind(in->sv->mailbox, in->mail_run, mail_wake, in);
	if (thread_spawn(in, thread_main, err, errlen) < 0) {
		mail_off(in); /* no reap follows a failed start */
		return -1;
	}
	return 0;
}

static void thread_reconfigure(struct instance *in)
{
	struct run_state *st = in->exec;
	struct exit_info info = {0};

	pthread_mutex_lock(&st->lock);
	if (st->running) {
		info.code = in->api->reload(&in->ctx);
		events_post(in, IE_RELOADED, &info);
	}
	pthread_mutex_unlock(&st->lock);
}

static void thread_run_reap(struct instance *in)
{
	struct run_state *st = in->exec;

	thread_reap(in);
	mail_off(in);
	pthread_mutex_destroy(&st->lock);
}

/* tend_fail()/tend_exit() on the service thread: run() returns next. */
static void thread_self_end(struct instance *in) { thread_wake(in); }

const struct executor_ops exec_thread_ops = {
    .name = "thread",
    .start = thread_start,
    .stop = thread_wake,
    .kill = thread_abandon,
    .reap = thread_run_reap,
    .self_end = thread_self_end,
    .reconfigure = thread_reconfigure,
};
