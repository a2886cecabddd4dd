/*
 * The process and process-async executors: the plugin runs in a child, a
 * fresh exec of tend-runner (see runner.c), so a crash, a leak or a hang
 * hurts only that child. Host and child talk over a SOCK_SEQPACKET
 * socketpair (proto.c); the child's stdout and stderr come back through
 * pipes and are logged line by line under the service's name, at a
 * bounded rate: what is over the rate is dropped and counted, so a child
 * that floods its output cannot stall the daemon.
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
 * Messages on their way to a child, not yet acknowledged: so few that the
 * channel never fills with them, and the host's other sends to the child
 * (stop, reload, answers) never wait for room.
 */
#define MAIL_WINDOW 64
#define MAIL_WINDOW_BYTES 65536
/* Frames for a child that does not read: past this, it is not read either. */
#define OUT_FRAMES_MAX 10000

/* A JSON frame for the child, waiting for room in the channel. */
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
	ev_timer kill_timer;
	ev_timer drop_timer; /* says how much output was dropped */
	int chan;
	int kill_stage; /* 0, then 1 after SIGTERM, 2 after SIGKILL */
	struct out_pipe out, err;
	struct exit_info told; /* what the child said before exiting */
	bool has_told;
	char mark[64]; /* TEND_INSTANCE=... */
	double window;  /* the current second of output */
	unsigned lines; /* logged in it */
	/* messages for the plugin, forwarded within MAIL_WINDOW */
	ev_async mail;       /* its mailbox has messages */
	ev_io chan_out;      /* the channel has room again */
	struct out_frame *outq, **outq_tail; /* waiting for that room */
	unsigned noutq;
	bool chan_eof;       /* the child closed it */
	bool mail_on;        /* the child runs the plugin: forward */
	struct mail *pending; /* taken, waiting for room, keeps its place */
	unsigned inflight;   /* sent, not acknowledged yet */
	size_t inflight_bytes;
	size_t sizes[MAIL_WINDOW]; /* of those in flight, oldest at first */
	unsigned first;
};

static char *cgroup_base; /* NULL: no cgroup, use the subreaper */
static unsigned long spawn_counter;

void exec_process_setup(const char *cgroup_dir)
{
	free(cgroup_base);
	cgroup_base = cgroup_dir ? strdup(cgroup_dir) : NULL;
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

/* Kill everything in the instance's cgroup, or the orphans it marked. */
static void kill_leftovers(struct instance *in, int sig)
{
	char path[4096];
	DIR *d;
	struct dirent *e;

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

		if (pid <= 0 || pid == in->pid)
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
	kill_leftovers(in, sig);
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
static int send_now(int chan, const char *text, size_t len)
{
	struct iovec iov = {(void *)text, len};
	return proto_sendv(chan, &iov, 1, MSG_DONTWAIT) < 0 ? errno : 0;
}

/*
 * A JSON frame for the child (takes the reference). tendd never waits
 * for a child: a frame that finds the channel full waits, in order, for
 * room (on_chan_out), and while OUT_FRAMES_MAX wait, the child is not
 * read either, so that it cannot make them pile up without end.
 */
static void chan_send(struct instance *in, json_t *msg)
{
	struct proc_state *st = state(in);
	char *text = json_dumps(msg, JSON_COMPACT);
	struct out_frame *f;
	size_t len;

	json_decref(msg);
	if (text == NULL || st->chan < 0) {
		free(text);
		return;
	}
	len = strlen(text);
	if (st->outq == NULL && send_now(st->chan, text, len) != EAGAIN) {
		free(text); /* sent, or the child is gone: its exit follows */
		return;
	}
	f = malloc(sizeof(*f) + len);
	if (f == NULL)
		fatalx("out of memory");
	f->next = NULL;
	f->len = len;
	memcpy(f->text, text, len);
	free(text);
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

static int send_mail(int chan, const struct mail *m)
{
	unsigned char head[2 + sizeof(m->from)];
	size_t n = strlen(m->from);
	struct iovec iov[2] = {{head, 2 + n}, {(void *)m->data, m->len}};

	head[0] = PROTO_MAIL;
	head[1] = (unsigned char)n;
	memcpy(head + 2, m->from, n);
	return proto_sendv(chan, iov, 2, MSG_DONTWAIT);
}

/*
 * Forward what the window allows, in order: a message that has to wait
 * (for an acknowledgement, or for room in the channel) holds the others.
 */
static void forward_mail(struct instance *in)
{
	struct proc_state *st = state(in);
	struct mailbox *mb = in->sv->mailbox;

	while (st->mail_on && !ev_is_active(&st->chan_out) &&
	       st->inflight < MAIL_WINDOW) {
		struct mail *m = st->pending;
		int rc;

		if (m == NULL)
			m = mailbox_take(mb, in->mail_run);
		if (m == NULL)
			return;
		st->pending = m;
		if (st->inflight > 0 &&
		    st->inflight_bytes + m->len > MAIL_WINDOW_BYTES)
			return;
		rc = send_mail(st->chan, m);
		if (rc < 0 && errno == EAGAIN) {
			ev_io_start(in->sv->loop, &st->chan_out);
			return;
		}
		st->pending = NULL;
		if (rc < 0) { /* the child is gone; its exit is on its way */
			mailbox_settle(mb, in->mail_run, 0, 1);
		} else {
			st->sizes[(st->first + st->inflight) % MAIL_WINDOW] =
			    m->len;
			st->inflight++;
			st->inflight_bytes += m->len;
		}
		mail_free(m);
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

	if (!st->mail_on)
		return;
	st->mail_on = false;
	mailbox_unbind(in->sv->mailbox, in->mail_run);
	ev_async_stop(in->sv->loop, &st->mail);
	ev_io_stop(in->sv->loop, &st->chan_out);
	mailbox_settle(in->sv->mailbox, in->mail_run, 0,
	               st->inflight + (st->pending != NULL));
	mail_free(st->pending);
	st->pending = NULL;
	st->inflight = 0;
}

/* The child handled `n` of the messages in flight, and lost `lost`. */
static void mail_acked(struct instance *in, json_t *msg)
{
	struct proc_state *st = state(in);
	json_int_t n = json_integer_value(json_object_get(msg, "n"));
	json_int_t lost = json_integer_value(json_object_get(msg, "lost"));

	/* never more than were sent, whatever a child says */
	n = n < 0 ? 0 : n > st->inflight ? st->inflight : n;
	lost = lost < 0 ? 0 : lost > st->inflight - n ? st->inflight - n : lost;
	for (json_int_t i = 0; i < n + lost; i++) {
		st->inflight_bytes -= st->sizes[st->first];
		st->first = (st->first + 1) % MAIL_WINDOW;
	}
	st->inflight -= (unsigned)(n + lost);
	mailbox_settle(in->sv->mailbox, in->mail_run, (unsigned)n,
	               (unsigned)lost);
	forward_mail(in);
}

static void answer(struct instance *in, json_int_t id, int err)
{
	chan_send(in, json_pack("{s:s, s:I, s:i}", "t", "answer", "id", id,
	                        "err", err));
}

/* tend_send() in the child: [S][id: 4][n][to: n bytes][data] */
static void on_send(struct instance *in, const unsigned char *f, size_t len)
{
	char to[NAME_MAX_LEN + 9];
	uint32_t id;
	size_t n;
	int err;

	if (len < 6 || 6 + (size_t)f[5] > len)
		return; /* not our runner's */
	memcpy(&id, f + 1, sizeof(id));
	n = f[5];
	if (n >= sizeof(to) || memchr(f + 6, '\0', n)) {
		err = ENOENT; /* no service has such a name */
	} else {
		memcpy(to, f + 6, n);
		to[n] = '\0';
		err = mailbox_send(in->sv->mailbox, in->name, to, f + 6 + n,
		                   len - 6 - n);
	}
	answer(in, id, err);
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
	} else if (strcmp(t, "delivered") == 0) {
		mail_acked(in, msg);
	} else if (strcmp(t, "watch") == 0) {
		const char *name = json_string_value(json_object_get(msg, "name"));
		answer(in, json_integer_value(json_object_get(msg, "id")),
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
	} else if (strcmp(t, "fail") == 0 || strcmp(t, "startfail") == 0) {
		const char *why = json_string_value(json_object_get(msg, "reason"));
		st->told.kind = t[0] == 'f' ? EXIT_FAILED : EXIT_START_FAILED;
		snprintf(st->told.reason, sizeof(st->told.reason), "%s",
		         why ? why : "no reason given");
		st->has_told = true;
	}
	json_decref(msg);
}

/* Handle what the child said; false once the channel is closed. */
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
		if (buf[0] == PROTO_SEND)
			on_send(in, buf, (size_t)n);
		else if ((msg = proto_parse(buf, (size_t)n)) != NULL)
			on_message(in, msg);
		n = -1;
		errno = EAGAIN; /* not closed, as far as we know */
	}
	return n < 0 && errno == EAGAIN;
}

static void on_channel(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)revents;
	if (!drain_channel(w->data, 256)) {
		state((struct instance *)w->data)->chan_eof = true;
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

static void on_child(struct ev_loop *loop, ev_child *w, int revents)
{
	struct instance *in = w->data;
	struct proc_state *st = state(in);
	struct exit_info info;

	(void)revents;
	ev_child_stop(loop, w);
	ev_timer_stop(loop, &st->kill_timer);
	drain_channel(in, 0);
	mail_stop(in);
	classify(in, w->rstatus, &info);
	signal_all(in, SIGKILL); /* nothing it started may outlive it */
	drain_pipe(&st->out, false);
	drain_pipe(&st->err, false);
	split_lines(&st->out, true);
	split_lines(&st->err, true);
	ev_timer_stop(loop, &st->drop_timer);
	report_dropped(in);
	in->pid = 0;
	events_post(in, IE_EXITED, &info);
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

static char **child_env(const struct instance *in, const struct service_config *sc)
{
	size_t n = 0, max = sc->proc.nenv + 4;
	char **env = calloc(max + 1, sizeof(char *));

	bool own_path = false;

	if (env == NULL)
		fatalx("out of memory");
	for (size_t i = 0; i < sc->proc.nenv; i++)
		own_path |= strncmp(sc->proc.env[i], "PATH=", 5) == 0;
	if (!own_path) /* the default, unless `env` sets one */
		env[n++] = strdup("PATH=/usr/local/sbin:/usr/local/bin:"
		                  "/usr/sbin:/usr/bin:/sbin:/bin");
	if (asprintf(&env[n++], "TEND_SERVICE=%s", in->name) < 0)
		fatalx("out of memory");
	env[n++] = strdup(state((struct instance *)in)->mark);
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

/* The child reads frames of at most PROTO_MSG_MAX bytes: a longer one
 * would reach it cut short, or not at all (EMSGSIZE). */
static size_t frame_len(json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	size_t len = text ? strlen(text) : 0;

	free(text);
	return len;
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

static int process_start(struct instance *in, char *err, size_t errlen)
{
	const struct service_config *sc = &in->sv->cfg;
	struct proc_state *st = calloc(1, sizeof(*st));
	int chan[2] = {-1, -1}, out[2] = {-1, -1}, errp[2] = {-1, -1};
	struct runner_spawn spawn = {.name = in->name, .cgroup = -1};
	json_t *cfg_msg;
	char *cfg;
	size_t cfg_len;

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
	snprintf(st->mark, sizeof(st->mark), "TEND_INSTANCE=%d.%lu",
	         (int)getpid(), ++spawn_counter);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, chan) < 0 ||
	    pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "cannot make the child's channels: %s",
		         strerror(errno));
		free(cfg);
		goto fail;
	}
	/* its config waits in the channel: the runner reads it at once */
	if (send(chan[0], cfg, cfg_len, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
		snprintf(err, errlen, "cannot send the child its settings: %s",
		         strerror(errno));
		free(cfg);
		goto fail;
	}
	free(cfg);
	spawn.fds[0] = out[1] = high_fd(out[1]);
	spawn.fds[1] = errp[1] = high_fd(errp[1]);
	spawn.fds[2] = chan[1] = high_fd(chan[1]);
	spawn.fds[3] = in->plugin->memfd;
	spawn.cgroup = open_cgroup(in);
	spawn.env = child_env(in, sc);
	in->pid = spawn_runner(&spawn, err, errlen);
	free_env(spawn.env);
	if (spawn.cgroup >= 0)
		close(spawn.cgroup);
	close(chan[1]);
	close(out[1]);
	close(errp[1]);
	chan[1] = out[1] = errp[1] = -1;
	if (in->pid == 0)
		goto fail;
	/* libev reaps every child: watch it before the loop runs again */
	ev_child_init(&st->child, on_child, in->pid, 0);
	st->child.data = in;
	ev_child_start(in->sv->loop, &st->child);

	st->chan = chan[0];
	ev_io_init(&st->chan_io, on_channel, st->chan, EV_READ);
	st->chan_io.data = in;
	ev_io_start(in->sv->loop, &st->chan_io);
	ev_async_init(&st->mail, on_mail);
	st->mail.data = in;
	ev_io_init(&st->chan_out, on_chan_out, st->chan, EV_WRITE);
	st->chan_out.data = in;
	st->outq_tail = &st->outq;
	watch_pipe(in, &st->out, out[0], false);
	watch_pipe(in, &st->err, errp[0], true);
	ev_init(&st->kill_timer, on_kill_timer);
	st->kill_timer.data = in;
	ev_init(&st->drop_timer, on_drop_timer);
	st->drop_timer.data = in;
	return 0;
fail:
	for (int i = 0; i < 2; i++) {
		if (chan[i] >= 0)
			close(chan[i]);
		if (out[i] >= 0)
			close(out[i]);
		if (errp[i] >= 0)
			close(errp[i]);
	}
	return -1;
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
	size_t len;

	if (st->chan < 0)
		return;
	msg = json_pack("{s:s, s:o}", "t", "reload", "settings",
	                settings_to_json(in->settings));
	if ((len = frame_len(msg)) > PROTO_MSG_MAX) {
		struct exit_info info = {.code = -1}; /* restart: start says why */
		log_at(TEND_LOG_ERROR, in->name, "settings too large for a "
		       "child: %zu bytes as JSON, at most %d", len, PROTO_MSG_MAX);
		json_decref(msg);
		events_post(in, IE_RELOADED, &info);
		return;
	}
	chan_send(in, msg);
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
	if (st->chan >= 0)
		close(st->chan);
	for (struct out_pipe *p = &st->out; p; p = p == &st->out ? &st->err : NULL) {
		if (p->fd >= 0) {
			ev_io_stop(loop, &p->io);
			close(p->fd);
			p->fd = -1;
		}
		free(p->buf);
		p->buf = NULL;
	}
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
};

const struct executor_ops exec_process_async_ops = {
    .name = "process-async",
    .start = process_start,
    .stop = process_stop,
    .kill = process_kill,
    .reap = process_reap,
    .self_end = process_self_end,
    .reconfigure = process_reconfigure,
};
