/*
 * The process and process-async executors: the plugin runs in a child, a
 * tend-runner (see runner.c) that the launcher forks (launcher.c), so a
 * crash, a leak or a hang hurts only that child. A run ends on the
 * runner's last word, or when it is reaped. An immediate restart may
 * take over a runner waiting in the supervisor's spare (adopt()): the
 * last run's, kept (a TEND_PLUGIN_RERUN plugin's), or one made ahead
 * while the last run ran (a service restarting fast). Host and child
 * talk over a SOCK_SEQPACKET socketpair (proto.c); the child's stdout and
 * stderr come back through pipes and are logged line by line under the
 * service's name, at a bounded rate: what is over the rate is dropped
 * and counted, so a child that floods its output cannot stall the daemon.
 *
 * Stopping: ask over the channel; after stop_timeout SIGTERM the child's
 * process group (and cgroup), after another stop_timeout SIGKILL them.
 * When the child is gone, whatever it left behind is killed: its process
 * group, and its cgroup where tend has one, or else (tendd being a child
 * subreaper) the orphans that carry its TEND_INSTANCE mark.
 */
#include <dirent.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto.h"
#include "tendd.h"

#define OUT_LINE_MAX 4096
#define OUT_RATE_LINES 1000 /* per second and stream, then dropped */
/*
 * Messages on their way to a child go many to a frame (PROTO_MAIL), and
 * the frames not yet acknowledged are bounded so that the channel never
 * fills with them: the host's other frames to the child (stop, reload,
 * answers) never wait for room. The kernel charges a frame against the
 * sending end's SO_SNDBUF by the memory that holds it, at most twice its
 * length (rounded up to a power of two) and about 1 KiB: frames in flight
 * are counted so, within half the buffer, and at most MAIL_FRAMES of
 * them. The buffer is asked to be CHAN_SNDBUF (the kernel doubles it,
 * up to net.core.wmem_max).
 */
#define MAIL_FRAMES 64
#define MAIL_FRAME_COST(len) (2 * (size_t)(len) + 1024)
#define CHAN_SNDBUF (512 * 1024)
/* Frames for a child that does not read: past this, it is not read either. */
#define OUT_FRAMES_MAX 10000

/* A frame for the child, waiting for room in the channel. */
struct out_frame {
	struct out_frame *next;
	size_t len;
	char text[];
};

struct out_pipe {
	ev_io io;
	int fd;
	bool is_err;
	char *buf; /* OUT_LINE_MAX bytes, once there is output: many never */
	size_t len;
	struct instance *in;
};

struct proc_state {
	ev_child child;
	ev_io chan_io;
	ev_timer kill_timer; /* SIGTERM, SIGKILL; a spare made ahead: FAST_RUN */
	ev_timer drop_timer; /* says how much output was dropped */
	int chan;
	int kill_stage; /* 0, then 1 after SIGTERM, 2 after SIGKILL */
	struct out_pipe out, err;
	struct exit_info told; /* what the child said before exiting */
	bool has_told;
	int said_exit; /* the status it said it exits with, + 1; 0: none */
	bool again;    /* ...and that it waits for a next run instead */
	pid_t runner;  /* for the next run (supervisor's spare); 0: not yet */
	bool ahead;    /* ...made ahead, not kept from a run */
	char mark[64]; /* TEND_INSTANCE=... */
	double window;  /* the current second of output */
	unsigned lines; /* logged in it */
	/* messages for the plugin, forwarded within the window */
	ev_async mail;       /* its mailbox has messages */
	ev_io chan_out;      /* the channel has room again */
	struct out_frame *outq, **outq_tail; /* waiting for that room */
	unsigned noutq;
	bool chan_eof;       /* the child closed it */
	bool mail_on;        /* the child runs the plugin: forward */
	struct out_frame *pending; /* an M frame waiting for room */
	unsigned pending_n;        /* its messages */
	unsigned frames;           /* M frames sent, not acknowledged yet */
	unsigned first;            /* the oldest's slot in the two below */
	unsigned inflight;         /* their messages */
	size_t inflight_cost;      /* their MAIL_FRAME_COST */
	size_t mail_window;        /* on that cost: half the SO_SNDBUF */
	uint16_t frame_n[MAIL_FRAMES];
	uint32_t frame_cost[MAIL_FRAMES];
};

static void process_drop_spare(struct supervisor *);

static char *cgroup_base; /* NULL: no cgroup, use the subreaper */
static unsigned long spawn_counter;
/* HOME, USER, LOGNAME and SHELL of tendd's user, for runners with no `user` */
static char *own_vars[4];

/*
 * A runner's user's variables, looked up here once (per config for a
 * `user`), not by each runner: a password database lookup in a fresh
 * process costs more than the rest of its start-up.
 */
static void user_vars(char *vars[4], const char *name, const char *home,
                      const char *shell)
{
	if (asprintf(&vars[0], "HOME=%s", home) < 0 ||
	    asprintf(&vars[1], "USER=%s", name) < 0 ||
	    asprintf(&vars[2], "LOGNAME=%s", name) < 0 ||
	    asprintf(&vars[3], "SHELL=%s", shell) < 0)
		fatalx("out of memory");
}

void exec_process_setup(const char *cgroup_dir)
{
	struct passwd *pw = getpwuid(geteuid());

	cgroup_base = cgroup_dir ? strdup(cgroup_dir) : NULL;
	if (pw)
		user_vars(own_vars, pw->pw_name, pw->pw_dir, pw->pw_shell);
}

void exec_process_shutdown(void)
{
	free(cgroup_base);
	cgroup_base = NULL;
	for (int i = 0; i < 4; i++) {
		free(own_vars[i]);
		own_vars[i] = NULL;
	}
}

const char *exec_process_tracking(void)
{
	return cgroup_base ? "cgroup" : "subreaper";
}

static struct proc_state *state(struct instance *in) { return in->exec; }

static void cgroup_path(const struct instance *in, char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", cgroup_base, in->name);
}

/* The runner waiting in the supervisor's spare for a next run, or 0. */
static pid_t spare_pid(const struct supervisor *sv)
{
	const struct proc_state *st = sv->spare;

	if (st && st->runner == 0) { /* made ahead: its pid is yet to come */
		spawn_runner_wait();
		st = sv->spare;
	}
	return st ? st->runner : 0;
}

/*
 * Kill everything in the instance's cgroup, or the orphans it marked,
 * but `keep` (its runner, kept for the next run; 0: none) and a runner
 * already waiting for that run.
 */
static void kill_leftovers(struct instance *in, int sig, pid_t keep)
{
	char path[4096];
	DIR *d;
	struct dirent *e;
	pid_t spare = spare_pid(in->sv);

	if (cgroup_base) {
		/*
		 * Not cgroup.kill: some kernels then SIGKILL every process
		 * later cloned into the cgroup, and runners are. A process
		 * forked while we read is found in the next round.
		 */
		cgroup_path(in, path, sizeof(path));
		strncat(path, "/cgroup.procs", sizeof(path) - strlen(path) - 1);
		for (int round = 0; round < (sig == SIGKILL ? 8 : 1); round++) {
			FILE *f = fopen(path, "re");
			long pid;
			bool any = false;
			while (f && fscanf(f, "%ld", &pid) == 1) {
				if (pid == keep || pid == spare)
					continue;
				any |= pid != in->pid;
				kill((pid_t)pid, sig);
			}
			if (f)
				fclose(f);
			if (!any)
				break;
		}
		return;
	}
	/* orphans were re-parented to us: find those carrying our mark */
	if ((d = opendir("/proc")) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		char env[8192];
		long pid = atol(e->d_name);
		ssize_t n;
		int fd;

		if (pid <= 0 || pid == in->pid || pid == keep || pid == spare)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/environ", pid);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		n = read(fd, env, sizeof(env) - 1);
		close(fd);
		for (ssize_t i = 0; n > 0 && i < n;) {
			if (strcmp(env + i, state(in)->mark) == 0) {
				kill((pid_t)pid, sig);
				break;
			}
			i += (ssize_t)strnlen(env + i, (size_t)(n - i)) + 1;
		}
	}
	closedir(d);
}

static void signal_all(struct instance *in, int sig)
{
	if (in->pid > 0)
		kill(-in->pid, sig); /* its process group (it leads a session) */
	kill_leftovers(in, sig, 0);
}

static void report_dropped(struct instance *in)
{
	if (in->output_dropped == in->output_dropped_logged)
		return;
	log_at(TEND_LOG_WARNING, in->name,
	       "output over %d lines/s: dropped %lu lines", OUT_RATE_LINES,
	       in->output_dropped - in->output_dropped_logged);
	in->output_dropped_logged = in->output_dropped;
}

static void on_drop_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)revents;
	report_dropped(w->data);
}

/* Log one line of the child's output, unless over the rate. */
static void emit_line(struct out_pipe *p, const char *line, size_t len)
{
	struct instance *in = p->in;
	struct proc_state *st = state(in);
	double now = mono_now();

	if (now - st->window >= 1.0) {
		st->window = now;
		st->lines = 0;
	}
	if (++st->lines > OUT_RATE_LINES) {
		/* said once a second at most, not once a line */
		if (in->output_dropped++ == in->output_dropped_logged &&
		    !ev_is_active(&st->drop_timer)) {
			ev_timer_set(&st->drop_timer, 1.0, 0.);
			ev_timer_start(in->sv->loop, &st->drop_timer);
		}
		return;
	}
	log_at(p->is_err ? TEND_LOG_WARNING : TEND_LOG_INFO, in->name, "%.*s",
	       (int)len, line);
}

static void split_lines(struct out_pipe *p, bool flush)
{
	char *start = p->buf, *nl;
	size_t left = p->len;

	while ((nl = memchr(start, '\n', left)) != NULL) {
		emit_line(p, start, (size_t)(nl - start));
		left -= (size_t)(nl - start) + 1;
		start = nl + 1;
	}
	/* a line longer than the buffer is cut; a last line is flushed */
	if (left == OUT_LINE_MAX || (flush && left > 0)) {
		emit_line(p, start, left);
		left = 0;
	}
	memmove(p->buf, start, left);
	p->len = left;
}

/* Read what is there, at most a bounded amount per wakeup. */
static void drain_pipe(struct out_pipe *p, bool to_eof)
{
	if (p->fd >= 0 && p->buf == NULL &&
	    (p->buf = malloc(OUT_LINE_MAX)) == NULL)
		fatalx("out of memory");
	for (int rounds = 0; p->fd >= 0 && (to_eof || rounds < 16); rounds++) {
		ssize_t n = read(p->fd, p->buf + p->len, OUT_LINE_MAX - p->len);
		if (n > 0) {
			p->len += (size_t)n;
			split_lines(p, false);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0) { /* EOF: every writer is gone */
			split_lines(p, true);
			ev_io_stop(p->in->sv->loop, &p->io);
			close(p->fd);
			p->fd = -1;
		}
		return;
	}
}

static void on_output(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop, (void)revents;
	drain_pipe(w->data, false);
}

/* 0, or why not (EAGAIN: the channel is full for now). */
static int send_now(int chan, const void *frame, size_t len)
{
	struct iovec iov = {(void *)frame, len};
	return proto_sendv(chan, &iov, 1, MSG_DONTWAIT) < 0 ? errno : 0;
}

/* A copy of a frame, to wait for room in the channel. */
static struct out_frame *frame_copy(const void *frame, size_t len)
{
	struct out_frame *f = malloc(sizeof(*f) + len);

	if (f == NULL)
		fatalx("out of memory");
	f->next = NULL;
	f->len = len;
	memcpy(f->text, frame, len);
	return f;
}

/*
 * A frame for the child. tendd never waits for a child: a frame that
 * finds the channel full waits, in order, for room (on_chan_out), and
 * while OUT_FRAMES_MAX wait, the child is not read either, so that it
 * cannot make them pile up without end.
 */
static void chan_send_bytes(struct instance *in, const void *frame,
                            size_t len)
{
	struct proc_state *st = state(in);
	struct out_frame *f;

	if (st->chan < 0)
		return;
	if (st->outq == NULL && send_now(st->chan, frame, len) != EAGAIN)
		return; /* sent, or the child is gone: its exit follows */
	f = frame_copy(frame, len);
	*st->outq_tail = f;
	st->outq_tail = &f->next;
	ev_io_start(in->sv->loop, &st->chan_out);
	if (++st->noutq == OUT_FRAMES_MAX) {
		log_at(TEND_LOG_WARNING, in->name,
		       "pid %d does not read its channel: not read either",
		       (int)in->pid);
		ev_io_stop(in->sv->loop, &st->chan_io);
	}
}

/* A JSON frame for the child (takes the reference), as chan_send_bytes. */
static void chan_send(struct instance *in, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);

	json_decref(msg);
	if (text)
		chan_send_bytes(in, text, strlen(text));
	free(text);
}

static void forward_mail(struct instance *in);

/* Room in the channel: the frames waiting first, then the mail. */
static void on_chan_out(struct ev_loop *loop, ev_io *w, int revents)
{
	struct instance *in = w->data;
	struct proc_state *st = state(in);

	(void)revents;
	while (st->outq) {
		struct out_frame *f = st->outq;
		if (send_now(st->chan, f->text, f->len) == EAGAIN)
			return;
		st->outq = f->next;
		if (st->outq == NULL)
			st->outq_tail = &st->outq;
		st->noutq--;
		free(f);
	}
	ev_io_stop(loop, w);
	if (!st->chan_eof)
		ev_io_start(loop, &st->chan_io);
	forward_mail(in);
}

/* From any sender's thread. */
static void mail_wake(void *arg)
{
	struct instance *in = arg;
	ev_async_send(in->sv->loop, &state(in)->mail);
}

/* Whether b comes from the sender of a, the mail before it. */
static bool same_sender(const struct mail *a, const struct mail *b)
{
	if (a == NULL)
		return false;
	if (a->block && a->block == b->block)
		return true; /* of one batch */
	return a->fromlen == b->fromlen &&
	       memcmp(a->from, b->from, a->fromlen) == 0;
}

/*
 * The next M frame: as many messages as the mailbox has and fit in
 * `room` bytes, packed into buf, which they leave (freed). Its length,
 * with *n its messages; 0 when none waits or the first does not fit.
 */
static size_t pack_mail(struct instance *in, unsigned char *buf, size_t room,
                        unsigned *n)
{
	struct mail *first, *prev = NULL;
	size_t at = PROTO_MAIL_HEAD;

	first = mailbox_take_some(in->sv->mailbox, in->mail_run,
	                          PROTO_BATCH_MAX, room - PROTO_MAIL_HEAD,
	                          PROTO_MAIL_EACH, n);
	if (first == NULL)
		return 0;
	for (struct mail *m = first; m; prev = m, m = m->next)
		at = proto_mail_add(buf, at,
		                    same_sender(prev, m) ? NULL : m->from,
		                    m->fromlen, m->data, m->len);
	mail_free_chain(first);
	proto_mail_finish(buf, *n);
	return at;
}

/* An M frame of `n` messages is on its way: it counts in the window. */
static void mail_sent(struct proc_state *st, size_t len, unsigned n)
{
	unsigned slot = (st->first + st->frames) % MAIL_FRAMES;

	st->frame_n[slot] = (uint16_t)n;
	st->frame_cost[slot] = (uint32_t)MAIL_FRAME_COST(len);
	st->frames++;
	st->inflight += n;
	st->inflight_cost += MAIL_FRAME_COST(len);
}

/*
 * Send the M frame f of `n` messages; false when the channel is full,
 * and on_chan_out() is to try again. A child that is gone loses them:
 * its exit is on its way.
 */
static bool send_mail(struct instance *in, const void *f, size_t len,
                      unsigned n)
{
	struct proc_state *st = state(in);

	switch (send_now(st->chan, f, len)) {
	case 0:
		mail_sent(st, len, n);
		break;
	case EAGAIN:
		ev_io_start(in->sv->loop, &st->chan_out);
		return false;
	default:
		mailbox_settle(in->sv->mailbox, in->mail_run, 0, n);
	}
	return true;
}

/*
 * Forward what the window allows, in order, many messages to a frame: a
 * frame waits (for acknowledgements, or for room in the channel) while
 * the window is full, and one frame is always allowed when none is on
 * its way, however big.
 */
static void forward_mail(struct instance *in)
{
	static unsigned char buf[PROTO_MSG_MAX]; /* main thread only */
	struct proc_state *st = state(in);

	if (st->pending) {
		if (ev_is_active(&st->chan_out) ||
		    !send_mail(in, st->pending->text, st->pending->len,
		               st->pending_n))
			return;
		free(st->pending);
		st->pending = NULL;
	}
	while (st->mail_on && !ev_is_active(&st->chan_out) &&
	       st->frames < MAIL_FRAMES) {
		size_t room = PROTO_MSG_MAX, len;
		unsigned n;

		if (st->frames > 0) {
			size_t left = st->mail_window > st->inflight_cost
			                  ? st->mail_window - st->inflight_cost
			                  : 0;
			if (left < MAIL_FRAME_COST(PROTO_MAIL_HEAD + 64))
				return;
			left = (left - MAIL_FRAME_COST(0)) / 2;
			room = left < room ? left : room;
		}
		if ((len = pack_mail(in, buf, room, &n)) == 0)
			return;
		if (!send_mail(in, buf, len, n)) {
			/* it waits for room, holding its place */
			st->pending = frame_copy(buf, len);
			st->pending_n = n;
			return;
		}
	}
}

static void on_mail(struct ev_loop *loop, ev_async *w, int revents)
{
	(void)loop, (void)revents;
	forward_mail(w->data);
}

/* The plugin runs: messages go to it from now on. */
static void mail_start(struct instance *in)
{
	struct proc_state *st = state(in);

	if (st->mail_on)
		return;
	st->mail_on = true;
	ev_async_start(in->sv->loop, &st->mail);
	mailbox_bind(in->sv->mailbox, in->mail_run, mail_wake, in);
}

/* The child is gone: what was on its way to it is lost. */
static void mail_stop(struct instance *in)
{
	struct proc_state *st = state(in);
	unsigned lost;

	if (!st->mail_on)
		return;
	st->mail_on = false;
	mailbox_unbind(in->sv->mailbox, in->mail_run);
	ev_async_stop(in->sv->loop, &st->mail);
	ev_io_stop(in->sv->loop, &st->chan_out);
	lost = st->inflight + (st->pending ? st->pending_n : 0);
	mailbox_settle(in->sv->mailbox, in->mail_run, 0, lost);
	if (lost) /* what its mailbox still held is said when it closes */
		log_at(TEND_LOG_NOTICE, in->name,
		       "run over: %u message%s on %s way to it dropped", lost,
		       lost == 1 ? "" : "s", lost == 1 ? "its" : "their");
	free(st->pending);
	st->pending = NULL;
	st->frames = st->inflight = 0;
	st->inflight_cost = 0;
}

/*
 * [D][frames][n]: the child handled the oldest `frames` M frames, and
 * gave `n` of their messages to message(); the others are lost. Never
 * more than were sent, whatever a child says.
 */
static void mail_acked(struct instance *in, const unsigned char *f,
                       size_t len)
{
	struct proc_state *st = state(in);
	uint32_t frames, n;
	unsigned msgs = 0;

	if (proto_delivered_parse(f, len, &frames, &n) < 0 || !st->mail_on)
		return;
	if (frames > st->frames)
		frames = st->frames;
	for (uint32_t i = 0; i < frames; i++) {
		msgs += st->frame_n[st->first];
		st->inflight_cost -= st->frame_cost[st->first];
		st->first = (st->first + 1) % MAIL_FRAMES;
	}
	st->frames -= frames;
	st->inflight -= msgs;
	if (n > msgs)
		n = msgs;
	mailbox_settle(in->sv->mailbox, in->mail_run, n, msgs - n);
	forward_mail(in);
}

static void answer(struct instance *in, uint32_t id, uint32_t n, int err)
{
	unsigned char buf[PROTO_ANSWER_LEN];

	proto_answer_pack(buf, id, n, err);
	chan_send_bytes(in, buf, sizeof(buf));
}

/*
 * tend_send() and tend_send_batch() in the child: a B frame, answered
 * with how many its receiver's mailbox took, the first ones, and why not
 * the next. The messages are copied from the frame as they are queued.
 */
static void on_batch(struct instance *in, const unsigned char *f, size_t len)
{
	static struct tend_msg msgs[PROTO_BATCH_MAX]; /* main thread only */
	char to[PROTO_TO_MAX + 1];
	uint32_t id;
	size_t n, k;
	int err = 0;

	if (proto_batch_parse(f, len, &id, to, msgs, &n) < 0)
		return; /* not our runner's */
	if (strlen(to) != (size_t)f[9]) {
		k = 0;
		err = ENOENT; /* no service has such a name */
	} else if (n == 1) {
		err = mailbox_send(in->sv->mailbox, in->name, to, msgs[0].data,
		                   msgs[0].len);
		k = err == 0;
	} else {
		k = mailbox_send_batch(in->sv->mailbox, in->name, to, msgs, n,
		                       &err);
	}
	answer(in, id, (uint32_t)k, err);
}

static void on_message(struct instance *in, json_t *msg)
{
	struct proc_state *st = state(in);
	const char *t = proto_type(msg);

	if (strcmp(t, "hb") == 0) {
		in->last_beat = mono_now();
	} else if (strcmp(t, "log") == 0) {
		int level = (int)json_integer_value(json_object_get(msg, "level"));
		const char *text = json_string_value(json_object_get(msg, "msg"));
		if (level <= log_threshold && text)
			log_write(level, in->name, "%s", text);
	} else if (strcmp(t, "watch") == 0) {
		const char *name = json_string_value(json_object_get(msg, "name"));
		json_int_t id = json_integer_value(json_object_get(msg, "id"));
		answer(in, (uint32_t)id, 0,
		       mailbox_watch(in->sv->mailbox, in->mail_run,
		                     name ? name : ""));
	} else if (strcmp(t, "started") == 0) {
		in->last_beat = mono_now();
		mail_start(in);
		events_post(in, IE_STARTED, NULL);
	} else if (strcmp(t, "ready") == 0) {
		if (!in->ready_sent++)
			events_post(in, IE_READY, NULL);
	} else if (strcmp(t, "reloaded") == 0) {
		struct exit_info info = {
		    .code = (int)json_integer_value(json_object_get(msg, "rc"))};
		events_post(in, IE_RELOADED, &info);
	} else if (strcmp(t, "exit") == 0) {
		st->said_exit =
		    (int)(json_integer_value(json_object_get(msg, "status")) &
		          0xff) + 1;
		st->again = json_is_true(json_object_get(msg, "again"));
	} else if (strcmp(t, "fail") == 0 || strcmp(t, "startfail") == 0) {
		const char *why = json_string_value(json_object_get(msg, "reason"));
		st->told.kind = t[0] == 'f' ? EXIT_FAILED : EXIT_START_FAILED;
		snprintf(st->told.reason, sizeof(st->told.reason), "%s",
		         why ? why : "no reason given");
		st->has_told = true;
	}
	json_decref(msg);
}

/*
 * Handle what the child sent, at most `max` frames (0: all there is):
 * a chatty child must not hold the main loop, whose level-triggered
 * watcher comes back for the rest. False once the channel is closed.
 */
static bool drain_channel(struct instance *in, unsigned max)
{
	static unsigned char buf[PROTO_MSG_MAX]; /* main thread only */
	ssize_t n;
	json_t *msg;

	for (unsigned k = 0; max == 0 || k < max; k++) {
		if ((n = proto_recv_raw(state(in)->chan, buf, sizeof(buf))) <= 0)
			break;
		if (buf[0] == PROTO_BATCH)
			on_batch(in, buf, (size_t)n);
		else if (buf[0] == PROTO_DELIVERED)
			mail_acked(in, buf, (size_t)n);
		else if ((msg = proto_parse(buf, (size_t)n)) != NULL)
			on_message(in, msg);
		n = -1;
		errno = EAGAIN; /* not closed, as far as we know */
	}
	return n < 0 && errno == EAGAIN;
}

static void run_over(struct instance *in, int status, bool keep);

static void on_channel(struct ev_loop *loop, ev_io *w, int revents)
{
	struct instance *in = w->data;
	struct proc_state *st = state(in);
	bool open = drain_channel(in, 256);

	(void)revents;
	if (st->said_exit && in->pid > 0) {
		/*
		 * Its last word, sent just before _exit(): the run is over
		 * now, not once the kernel has torn the process down (the
		 * slowest step of a restart). The loop reaps it unwatched.
		 */
		ev_child_stop(loop, &st->child);
		/* kept for a next run only if this one ended on its own */
		run_over(in, W_EXITCODE(st->said_exit - 1, 0),
		         st->again && !in->stopping && st->kill_stage == 0);
	} else if (!open) {
		st->chan_eof = true;
		ev_io_stop(loop, w); /* closed: the exit will follow */
	}
}

static void classify(struct instance *in, int status, struct exit_info *e)
{
	struct proc_state *st = state(in);

	memset(e, 0, sizeof(*e));
	if (st->has_told && (st->told.kind == EXIT_FAILED ||
	                     WEXITSTATUS(status) == PROTO_EXIT_STARTFAIL)) {
		*e = st->told;
	} else if (WIFSIGNALED(status)) {
		e->kind = EXIT_SIGNALED;
		e->code = WTERMSIG(status);
		e->core = WCOREDUMP(status);
	} else if (WEXITSTATUS(status) == 0) {
		e->kind = EXIT_CLEAN;
	} else {
		e->kind = EXIT_CODE;
		e->code = WEXITSTATUS(status);
	}
}

/*
 * The run ended with `status` (as waitpid() gives it). `keep`: its
 * runner lives on, waiting for a next run; what the run started dies.
 */
static void run_over(struct instance *in, int status, bool keep)
{
	struct proc_state *st = state(in);
	struct ev_loop *loop = in->sv->loop;
	struct exit_info info;

	ev_timer_stop(loop, &st->kill_timer);
	drain_channel(in, 0);
	mail_stop(in);
	classify(in, status, &info);
	if (keep) {
		st->runner = in->pid;
		kill_leftovers(in, SIGKILL, in->pid);
	} else {
		signal_all(in, SIGKILL); /* nothing it started may outlive it */
	}
	drain_pipe(&st->out, false);
	drain_pipe(&st->err, false);
	split_lines(&st->out, true);
	split_lines(&st->err, true);
	ev_timer_stop(loop, &st->drop_timer);
	report_dropped(in);
	in->pid = 0;
	events_post(in, IE_EXITED, &info);
}

static void on_child(struct ev_loop *loop, ev_child *w, int revents)
{
	(void)revents;
	ev_child_stop(loop, w);
	run_over(w->data, w->rstatus, false);
}

static void on_kill_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct instance *in = w->data;
	struct proc_state *st = state(in);

	(void)loop, (void)revents;
	if (in->pid <= 0)
		return;
	st->kill_stage = 2;
	log_at(TEND_LOG_WARNING, in->name,
	       "pid %d ignored SIGTERM for %gs: SIGKILL", (int)in->pid,
	       in->sv->cfg.stop_timeout);
	signal_all(in, SIGKILL);
}

/* An fd a child can be given with dup2 without clobbering another. */
static int high_fd(int fd)
{
	int hi;
	if (fd > PROTO_FD_PLUGIN)
		return fd;
	hi = fcntl(fd, F_DUPFD_CLOEXEC, 10);
	close(fd);
	return hi;
}

static char **child_env(const struct instance *in,
                        const struct service_config *sc, const char *mark)
{
	size_t n = 0, max = sc->proc.nenv + 8;
	char **env = calloc(max + 1, sizeof(char *));

	bool own_path = false;

	if (env == NULL)
		fatalx("out of memory");
	for (size_t i = 0; i < sc->proc.nenv; i++)
		own_path |= strncmp(sc->proc.env[i], "PATH=", 5) == 0;
	if (!own_path) /* the default, unless `env` sets one */
		env[n++] = strdup("PATH=/usr/local/sbin:/usr/local/bin:"
		                  "/usr/sbin:/usr/bin:/sbin:/bin");
	if (sc->proc.user) {
		user_vars(env + n, sc->proc.user, sc->proc.home, sc->proc.shell);
		n += 4;
	} else {
		for (int i = 0; i < 4 && own_vars[i]; i++)
			env[n++] = strdup(own_vars[i]);
	}
	if (asprintf(&env[n++], "TEND_SERVICE=%s", in->name) < 0)
		fatalx("out of memory");
	env[n++] = strdup(mark);
	for (size_t i = 0; i < sc->proc.nenv; i++)
		env[n++] = strdup(sc->proc.env[i]);
	return env;
}

static void free_env(char **env)
{
	for (char **e = env; *e; e++)
		free(*e);
	free(env);
}

/* The service's cgroup, made when missing; -1 without cgroups. */
static int open_cgroup(const struct instance *in)
{
	char path[4096];
	int fd;

	if (cgroup_base == NULL)
		return -1;
	cgroup_path(in, path, sizeof(path));
	if (mkdir(path, 0755) < 0 && errno != EEXIST) {
		log_warn("cannot create cgroup '%s'", path);
		return -1;
	}
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		log_warn("cannot open cgroup '%s'", path);
	return fd;
}

static json_t *config_message(const struct instance *in,
                              const struct service_config *sc)
{
	const struct proc_options *o = &sc->proc;
	static const char *const limit_names[RLIMITS] = {
	    "nofile", "core", "as", "nproc", "cpu", "fsize", "memlock", "stack"};
	json_t *msg = json_pack(
	    "{s:s, s:s, s:s, s:o, s:f}", "t", "config", "executor",
	    executor_name(sc->executor), "file", sc->file, "settings",
	    settings_to_json(&sc->settings->root), "heartbeat_every",
	    sc->watchdog > 0 ? sc->watchdog / 4 : 0.0);
	json_t *limits = json_object();

	(void)in;
	if (o->user)
		json_object_set_new(msg, "user", json_string(o->user));
	if (o->has_uid)
		json_object_set_new(msg, "uid", json_integer(o->uid));
	if (o->has_gid)
		json_object_set_new(msg, "gid", json_integer(o->gid));
	if (o->umask >= 0)
		json_object_set_new(msg, "umask", json_integer(o->umask));
	if (o->workdir)
		json_object_set_new(msg, "workdir", json_string(o->workdir));
	if (o->no_new_privs)
		json_object_set_new(msg, "no_new_privs", json_true());
	for (int i = 0; i < RLIMITS; i++)
		if (o->rlimit[i] != RLIMIT_UNSET)
			json_object_set_new(limits, limit_names[i],
			                    json_integer(o->rlimit[i]));
	json_object_set_new(msg, "rlimits", limits);
	return msg;
}

/* Ask for a bigger send buffer on tendd's end; the mail window is half. */
static size_t chan_window(int chan)
{
	int size = CHAN_SNDBUF;
	socklen_t len = sizeof(size);

	(void)setsockopt(chan, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
	if (getsockopt(chan, SOL_SOCKET, SO_SNDBUF, &size, &len) < 0 ||
	    size <= 0)
		size = 2 * MAIL_FRAME_COST(PROTO_MSG_MAX);
	return (size_t)size / 2;
}

static void watch_pipe(struct instance *in, struct out_pipe *p, int fd,
                       bool is_err)
{
	p->fd = fd;
	p->is_err = is_err;
	p->in = in;
	fcntl(fd, F_SETFL, O_NONBLOCK);
	ev_io_init(&p->io, on_output, fd, EV_READ);
	p->io.data = p;
	ev_io_start(in->sv->loop, &p->io);
}

/* Watch a run's child, channel and output; in->pid and st->chan are set. */
static void watch_run(struct instance *in, struct proc_state *st, int out,
                      int errp)
{
	/* libev reaps every child: watch it before the loop runs again */
	ev_child_init(&st->child, on_child, in->pid, 0);
	st->child.data = in;
	ev_child_start(in->sv->loop, &st->child);
	ev_io_init(&st->chan_io, on_channel, st->chan, EV_READ);
	st->chan_io.data = in;
	ev_io_start(in->sv->loop, &st->chan_io);
	ev_async_init(&st->mail, on_mail);
	st->mail.data = in;
	ev_io_init(&st->chan_out, on_chan_out, st->chan, EV_WRITE);
	st->chan_out.data = in;
	st->outq_tail = &st->outq;
	watch_pipe(in, &st->out, out, false);
	watch_pipe(in, &st->err, errp, true);
	ev_init(&st->kill_timer, on_kill_timer);
	st->kill_timer.data = in;
	ev_init(&st->drop_timer, on_drop_timer);
	st->drop_timer.data = in;
}

/*
 * The run takes over the runner waiting in the spare, kept from the last
 * run or made ahead, if it is still there: its channel, output pipes and
 * mark, and its pid. It gets `cfg` as a new runner does, and starts the
 * plugin (again, if kept). *kept: it was. False: spawn one.
 */
static bool adopt(struct instance *in, struct proc_state *st,
                  const char *cfg, size_t cfg_len, bool *kept)
{
	struct supervisor *sv = in->sv;
	struct proc_state *old = sv->spare;

	if (old->runner == 0) { /* made ahead: its pid is yet to come */
		spawn_runner_wait();
		if ((old = sv->spare) == NULL)
			return false;
	}
	if (ev_is_pending(&old->child) ||
	    send(old->chan, cfg, cfg_len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		process_drop_spare(sv); /* gone, or going */
		return false;
	}
	sv->spare = NULL;
	*kept = !old->ahead;
	ev_child_stop(sv->loop, &old->child);
	ev_timer_stop(sv->loop, &old->kill_timer); /* a runner made ahead */
	in->pid = old->runner;
	st->chan = old->chan;
	st->mail_window = old->mail_window;
	memcpy(st->mark, old->mark, sizeof(st->mark));
	st->out.buf = old->out.buf;
	st->err.buf = old->err.buf;
	watch_run(in, st, old->out.fd, old->err.fd);
	free(old);
	return true;
}

/*
 * A new runner for `in`, forked by the launcher into the service's cgroup:
 * its channel (where `cfg` waits, if not NULL), output pipes and mark go
 * in st. Its pid, or 0 with the reason in err. With `made`, the launcher
 * is asked and made(st, pid) gets its answer from the loop: 1 if asked.
 */
static pid_t spawn_for(struct instance *in, struct proc_state *st,
                       const char *cfg, size_t cfg_len, char *err,
                       size_t errlen, void (*made)(void *, pid_t))
{
	int chan[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
	struct runner_spawn spawn = {.name = in->name, .cgroup = -1};
	pid_t pid = 0;

	snprintf(st->mark, sizeof(st->mark), "TEND_INSTANCE=%d.%lu",
	         (int)getpid(), ++spawn_counter);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) < 0 ||
	    pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot make the child's channels: %s",
		         strerror(errno));
		goto fail;
	}
	/* its config waits in the channel: the runner reads it at once */
	if (cfg && send(chan[0], cfg, cfg_len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		snprintf(err, errlen, "cannot send the child its settings: %s",
		         strerror(errno));
		goto fail;
	}
	spawn.fds[0] = out[1] = high_fd(out[1]);
	spawn.fds[1] = errp[1] = high_fd(errp[1]);
	spawn.fds[2] = chan[1] = high_fd(chan[1]);
	spawn.fds[3] = in->plugin->memfd;
	spawn.cgroup = open_cgroup(in);
	spawn.env = child_env(in, &in->sv->cfg, st->mark);
	if (made)
		pid = spawn_runner_ahead(&spawn, made, st) ? 1 : 0;
	else
		pid = spawn_runner(&spawn, err, errlen);
	free_env(spawn.env);
	if (spawn.cgroup >= 0)
		close(spawn.cgroup);
	if (pid > 0) {
		st->chan = chan[0];
		st->out.fd = out[0];
		st->err.fd = errp[0];
		chan[0] = out[0] = errp[0] = -1;
		st->mail_window = chan_window(st->chan);
	}
fail:
	for (int i = 0; i < 2; i++) {
		if (chan[i] >= 0)
			close(chan[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	return pid;
}

static void make_standby(struct instance *in);

static int process_start(struct instance *in, char *err, size_t errlen)
{
	const struct service_config *sc = &in->sv->cfg;
	struct proc_state *st = calloc(1, sizeof(*st));
	json_t *cfg_msg;
	char *cfg;
	size_t cfg_len;
	bool kept = false;

	if (st == NULL)
		fatalx("out of memory");
	in->exec = st;
	st->out.fd = st->err.fd = st->chan = -1;
	cfg_msg = config_message(in, sc);
	cfg = json_dumps(cfg_msg, JSON_COMPACT);
	json_decref(cfg_msg);
	if (cfg == NULL)
		fatalx("out of memory");
	/* the child reads frames of at most PROTO_MSG_MAX bytes */
	if ((cfg_len = strlen(cfg)) > PROTO_MSG_MAX) {
		free(cfg);
		snprintf(err, errlen, "settings too large for a child: %zu "
		         "bytes as JSON, at most %d", cfg_len, PROTO_MSG_MAX);
		return -1;
	}
	if (!(in->sv->spare && adopt(in, st, cfg, cfg_len, &kept))) {
		in->pid = spawn_for(in, st, cfg, cfg_len, err, errlen, NULL);
		if (in->pid == 0) {
			free(cfg);
			return -1;
		}
		watch_run(in, st, st->out.fd, st->err.fd);
	}
	free(cfg);
	/* a run that ended on its own kept its runner: the next will too */
	if (in->sv->restarting_fast && in->sv->spare == NULL &&
	    !(kept && (in->plugin->api.flags & TEND_PLUGIN_RERUN)))
		make_standby(in);
	return 0;
}

static void process_stop(struct instance *in)
{
	struct proc_state *st = state(in);

	in->stopping = 1;
	if (st->chan >= 0)
		chan_send(in, json_pack("{s:s}", "t", "stop"));
}

/* The child swaps its settings and calls reload(); "reloaded" follows. */
static void process_reconfigure(struct instance *in)
{
	struct proc_state *st = state(in);
	json_t *msg;
	char *text;
	size_t len;

	if (st->chan < 0)
		return;
	msg = json_pack("{s:s, s:o}", "t", "reload", "settings",
	                settings_to_json(in->settings));
	text = json_dumps(msg, JSON_COMPACT);
	json_decref(msg);
	if (text == NULL)
		fatalx("out of memory");
	/* the child reads frames of at most PROTO_MSG_MAX bytes */
	if ((len = strlen(text)) > PROTO_MSG_MAX) {
		struct exit_info info = {.code = -1}; /* restart: start says why */
		log_at(TEND_LOG_ERROR, in->name, "settings too large for a "
		       "child: %zu bytes as JSON, at most %d", len, PROTO_MSG_MAX);
		events_post(in, IE_RELOADED, &info);
	} else {
		chan_send_bytes(in, text, len);
	}
	free(text);
}

/* Past stop_timeout: SIGTERM, and SIGKILL one stop_timeout later. */
static bool process_kill(struct instance *in)
{
	struct proc_state *st = state(in);

	if (in->pid <= 0 || st->kill_stage > 0)
		return false;
	st->kill_stage = 1;
	log_at(TEND_LOG_WARNING, in->name,
	       "pid %d did not stop within %gs: SIGTERM", (int)in->pid,
	       in->sv->cfg.stop_timeout);
	signal_all(in, SIGTERM);
	ev_timer_set(&st->kill_timer, in->sv->cfg.stop_timeout, 0.);
	ev_timer_start(in->sv->loop, &st->kill_timer);
	return false;
}

/* Close the channel and the output pipes. */
static void release(struct proc_state *st)
{
	if (st->chan >= 0)
		close(st->chan);
	st->chan = -1;
	for (struct out_pipe *p = &st->out; p; p = p == &st->out ? &st->err : NULL) {
		if (p->fd >= 0)
			close(p->fd);
		p->fd = -1;
		free(p->buf);
		p->buf = NULL;
	}
}

/*
 * A runner for the next run, kept from the last (TEND_PLUGIN_RERUN) or
 * made ahead: it waits for that run's config, in the supervisor's spare
 * until the next run takes it over (adopt()), or the supervisor lets it
 * go (process_drop_spare()).
 */
static void on_spare_gone(struct ev_loop *loop, ev_child *w, int revents)
{
	struct supervisor *sv = w->data;

	(void)revents;
	ev_child_stop(loop, w);
	((struct proc_state *)sv->spare)->runner = 0; /* reaped: no kill */
	process_drop_spare(sv);
}

static void keep_spare(struct instance *in, struct proc_state *st)
{
	ev_child_init(&st->child, on_spare_gone, st->runner, 0);
	st->child.data = in->sv;
	ev_child_start(in->sv->loop, &st->child);
	in->sv->spare = st;
	in->exec = NULL;
}

static void on_standby_unused(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop, (void)revents;
	process_drop_spare(w->data);
}

/*
 * A runner made ahead for the next run of a service restarting fast (the
 * last run lasted under a second, and was restarted at once): it waits in
 * the supervisor's spare for that run's config, as a kept runner does, so
 * that the restart skips the launcher's fork and the runner's set-up. It
 * holds no plugin code until then: the plugin is opened after the config,
 * as the user it names. It goes when the run it was made beside is
 * FAST_RUN old: a restart after that would not count as fast.
 *
 * The launcher's answer is read by the loop, not waited for: the run just
 * started may end before it comes. Until then its pid is 0, and what
 * needs it (adopt(), kill_leftovers()) waits for the answer.
 */
static void standby_made(void *arg, pid_t pid)
{
	struct proc_state *st = arg;
	struct supervisor *sv = st->child.data;
	struct pollfd gone = {.fd = st->chan, .events = POLLIN};

	/* dead already (the loop reaped it unwatched): its channel is shut */
	if (pid > 0 && poll(&gone, 1, 0) == 1 && (gone.revents & POLLHUP))
		pid = 0;
	if (pid == 0) {
		process_drop_spare(sv);
		return;
	}
	st->runner = pid;
	ev_child_set(&st->child, pid, 0);
	ev_child_start(sv->loop, &st->child);
}

static void make_standby(struct instance *in)
{
	struct proc_state *st = calloc(1, sizeof(*st));
	char err[REASON_MAX];

	if (st == NULL)
		fatalx("out of memory");
	st->out.fd = st->err.fd = st->chan = -1;
	st->ahead = true;
	ev_child_init(&st->child, on_spare_gone, 0, 0);
	st->child.data = in->sv;
	if (spawn_for(in, st, NULL, 0, err, sizeof(err), standby_made) == 0) {
		release(st);
		free(st);
		return;
	}
	ev_timer_init(&st->kill_timer, on_standby_unused, FAST_RUN, 0.);
	st->kill_timer.data = in->sv;
	ev_timer_start(in->sv->loop, &st->kill_timer);
	in->sv->spare = st;
}

static void process_drop_spare(struct supervisor *sv)
{
	struct proc_state *st = sv->spare;

	sv->spare = NULL;
	spawn_runner_forget(st); /* made ahead, not answered yet */
	ev_timer_stop(sv->loop, &st->kill_timer);
	/* pending: the loop has reaped it, and the pid may be another's */
	if (st->runner > 0 && !ev_is_pending(&st->child))
		kill(st->runner, SIGKILL); /* the loop reaps it */
	ev_child_stop(sv->loop, &st->child);
	release(st);
	free(st);
}

static void process_reap(struct instance *in)
{
	struct proc_state *st = state(in);
	struct ev_loop *loop = in->sv->loop;

	ev_child_stop(loop, &st->child);
	ev_timer_stop(loop, &st->kill_timer);
	ev_timer_stop(loop, &st->drop_timer);
	mail_stop(in);
	ev_io_stop(loop, &st->chan_io);
	ev_io_stop(loop, &st->chan_out);
	while (st->outq) {
		struct out_frame *f = st->outq;
		st->outq = f->next;
		free(f);
	}
	st->outq_tail = &st->outq;
	for (struct out_pipe *p = &st->out; p; p = p == &st->out ? &st->err : NULL)
		if (p->fd >= 0)
			ev_io_stop(loop, &p->io);
	/* a runner kept, with its plugin loaded, beats one made ahead */
	if (st->runner > 0 && in->sv->spare &&
	    ((struct proc_state *)in->sv->spare)->ahead)
		process_drop_spare(in->sv);
	if (st->runner > 0 && in->sv->spare == NULL) {
		keep_spare(in, st);
		return;
	}
	release(st);
	/* the cgroup stays for the next run: see exec_process_forget() */
}

/*
 * A service is gone: remove its cgroup, kept from run to run because
 * making one again costs as much as a fork. EBUSY while killed
 * processes die: then it is removed with the others when tendd exits.
 */
void exec_process_forget(const char *name)
{
	char path[4096];

	if (cgroup_base == NULL)
		return;
	snprintf(path, sizeof(path), "%s/%s", cgroup_base, name);
	rmdir(path);
}

/* The plugin's calls end in the child; nothing to do here. */
static void process_self_end(struct instance *in) { (void)in; }

const struct executor_ops exec_process_ops = {
    .name = "process",
    .start = process_start,
    .stop = process_stop,
    .kill = process_kill,
    .reap = process_reap,
    .self_end = process_self_end,
    .reconfigure = process_reconfigure,
    .drop_spare = process_drop_spare,
};

const struct executor_ops exec_process_async_ops = {
    .name = "process-async",
    .start = process_start,
    .stop = process_stop,
    .kill = process_kill,
    .reap = process_reap,
    .self_end = process_self_end,
    .reconfigure = process_reconfigure,
    .drop_spare = process_drop_spare,
};
