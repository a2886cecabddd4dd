/*
 * tend-runner: the child side of the process and process-async executors.
 *
 * tendd spawns a fresh runner per instance (never a bare fork of the
 * multi-threaded daemon). The runner finds its channel to tendd on fd 3
 * and a private copy of its plugin on fd 4, receives its settings, drops
 * privileges and applies limits as configured, then dlopen()s the plugin
 * and runs run() (process) or its own libev loop with start()
 * (process-async). Everything the plugin asks of the host goes over the
 * channel; a crash here is the child's alone.
 *
 * One thread reads the channel: the main thread (the loop's, for
 * process-async), or for process, once run() is called, a reader thread
 * of its own. tend_send(), tend_send_batch() and tend_watch() wait for
 * tendd's answer, so that they return what it says: another thread waits
 * on a condition variable for the reader to see it; the reader itself (in
 * message() or reload(), say) reads until its answer comes and keeps what
 * else came meanwhile for after. Messages come many to a frame, and are
 * acknowledged a frame at a time, once message() has had them all.
 */
#include <dlfcn.h>
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <grp.h>
#include <jansson.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "proto.h"
#include "tendd.h"

struct child {
	struct tend_ctx ctx; /* first, as in the host */
	const struct tend_plugin *api;
	_Atomic(const struct setting *) settings;
	struct setting first;     /* the settings it started with */
	pthread_mutex_t run_lock; /* process: reload(), message() vs fini() */
	bool running;             /* process: run() has not returned */
	bool blocking;            /* process, not process-async */
	char name[NAME_MAX_LEN + 8];
	char file[512];
	int chan;
	int stop_fd;
	_Atomic int stopping;
	_Atomic int ended;
	int end_status; /* tend_exit's; -1 after tend_fail */
	double hb_every, last_hb;
	void *data;
	struct ev_loop *loop;
	ev_io chan_watcher;
	pthread_mutex_t send_lock; /* run() plugins may log from any thread */
};

static struct child me = {.chan = PROTO_FD_CHANNEL,
                          .send_lock = PTHREAD_MUTEX_INITIALIZER,
                          .run_lock = PTHREAD_MUTEX_INITIALIZER};

/* A frame read from the channel, kept for later while awaiting an answer. */
struct frame {
	struct frame *next;
	size_t len;
	unsigned char buf[]; /* len bytes, then a NUL */
};

/* A tend_send(), tend_send_batch() or tend_watch() waiting for an answer. */
struct call {
	uint32_t id;
	bool done;
	uint32_t n; /* messages accepted */
	int err;
	struct call *next;
};

/* A next run's config, from the reader to the main thread (next_run()) */
static pthread_mutex_t next_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t next_came = PTHREAD_COND_INITIALIZER;
static json_t *next_cfg; /* under next_lock */

static pthread_mutex_t call_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t call_done = PTHREAD_COND_INITIALIZER;
static struct call *calls;        /* under call_lock */
static uint32_t last_call;        /* under call_lock */
static pthread_t reader;          /* under call_lock */
/* the reader's own */
static struct frame *deferred, **deferred_tail = &deferred;
static uint32_t ack_frames, ack_n; /* PROTO_MAIL frames not acknowledged */

static void say(json_t *msg)
{
	if (msg == NULL)
		return;
	pthread_mutex_lock(&me.send_lock);
	if (proto_send(me.chan, msg) < 0 && errno == EPIPE)
		_exit(1); /* tendd is gone; PDEATHSIG will follow anyway */
	pthread_mutex_unlock(&me.send_lock);
}

static void say_frame(const struct iovec *iov, int n)
{
	pthread_mutex_lock(&me.send_lock);
	if (proto_sendv(me.chan, iov, n, 0) < 0 && errno == EPIPE)
		_exit(1);
	pthread_mutex_unlock(&me.send_lock);
}

/* Could not start: say why, and exit with the agreed status. */
__attribute__((format(printf, 1, 2), noreturn)) static void
start_failed(const char *fmt, ...)
{
	char reason[REASON_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	say(json_pack("{s:s, s:s}", "t", "startfail", "reason",
	              utf8_sanitize(reason)));
	_exit(PROTO_EXIT_STARTFAIL);
}

/* The host table, child side. */

/* A setting of the wrong type: tendd logs it under our name. */
static int checked(const char *key, int rc, enum setting_type want,
                   const struct setting *found)
{
	char msg[1024];

	if (rc < 0) {
		setting_mismatch(msg, sizeof(msg), me.file, key, want, found);
		say(json_pack("{s:s, s:i, s:s}", "t", "log", "level",
		              TEND_LOG_ERROR, "msg", msg));
	}
	return rc;
}

static int c_int(struct tend_ctx *c, const char *k, long long *out)
{
	const struct setting *s;
	int rc = setting_get_int(me.settings, k, out, &s);
	(void)c;
	return checked(k, rc, SETTING_INT, s);
}

static int c_double(struct tend_ctx *c, const char *k, double *out)
{
	const struct setting *s;
	int rc = setting_get_double(me.settings, k, out, &s);
	(void)c;
	return checked(k, rc, SETTING_FLOAT, s);
}

static int c_string(struct tend_ctx *c, const char *k, const char **out)
{
	const struct setting *s;
	int rc = setting_get_string(me.settings, k, out, &s);
	(void)c;
	return checked(k, rc, SETTING_STRING, s);
}

static int c_bool(struct tend_ctx *c, const char *k, int *out)
{
	const struct setting *s;
	int rc = setting_get_bool(me.settings, k, out, &s);
	(void)c;
	return checked(k, rc, SETTING_BOOL, s);
}

__attribute__((format(printf, 3, 0))) static void
c_vlog(struct tend_ctx *c, int level, const char *fmt, va_list ap)
{
	char msg[LOG_LINE_MAX];
	(void)c;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	say(json_pack("{s:s, s:i, s:s}", "t", "log", "level", level, "msg",
	              utf8_sanitize(msg)));
}

static void c_ready(struct tend_ctx *c)
{
	(void)c;
	say(json_pack("{s:s}", "t", "ready"));
}

/* At most one message per hb_every: a busy loop must not flood tendd. */
static void c_heartbeat(struct tend_ctx *c)
{
	double now = mono_now();
	(void)c;
	if (me.hb_every <= 0 || now - me.last_hb < me.hb_every)
		return;
	me.last_hb = now;
	say(json_pack("{s:s}", "t", "hb"));
}

static int c_stopping(struct tend_ctx *c)
{
	(void)c;
	return me.stopping;
}

static int c_stop_fd(struct tend_ctx *c)
{
	(void)c;
	return me.stop_fd;
}

static struct ev_loop *c_loop(struct tend_ctx *c)
{
	(void)c;
	return me.loop;
}

static bool am_reader(void)
{
	bool r;

	pthread_mutex_lock(&call_lock);
	r = pthread_equal(reader, pthread_self());
	pthread_mutex_unlock(&call_lock);
	return r;
}

/*
 * The next frame into buf (PROTO_MSG_MAX bytes, and one more for a NUL
 * after it): its length, or 0 when none waits. Exits when tendd is gone.
 */
static size_t read_frame(unsigned char *buf)
{
	ssize_t n = proto_recv_raw(me.chan, buf, PROTO_MSG_MAX);

	if (n < 0 && errno == EAGAIN)
		return 0;
	if (n <= 0)
		_exit(1); /* the channel is closed: tendd is gone */
	buf[n] = '\0';
	return (size_t)n;
}

/* A copy of a frame, kept for after the answer awaited. */
static void defer(const unsigned char *buf, size_t len)
{
	struct frame *f = malloc(sizeof(*f) + len + 1);

	if (f == NULL)
		_exit(1);
	f->next = NULL;
	f->len = len;
	memcpy(f->buf, buf, len + 1);
	*deferred_tail = f;
	deferred_tail = &f->next;
}

/* An answer (PROTO_ANSWER) for a call: mark it done, wake whoever waits. */
static void answered(const unsigned char *f, size_t len)
{
	uint32_t id, n;
	int err;

	if (proto_answer_parse(f, len, &id, &n, &err) < 0)
		return;
	pthread_mutex_lock(&call_lock);
	for (struct call *c = calls; c; c = c->next)
		if (c->id == id) {
			c->n = n;
			c->err = err;
			c->done = true;
		}
	pthread_cond_broadcast(&call_done);
	pthread_mutex_unlock(&call_lock);
}

static void add_call(struct call *c)
{
	pthread_mutex_lock(&call_lock);
	c->id = ++last_call;
	c->next = calls;
	calls = c;
	pthread_mutex_unlock(&call_lock);
}

static void on_channel(struct ev_loop *loop, ev_io *w, int revents);

/*
 * Wait for tendd's answer to `c`, and forget the call. The reader reads
 * the channel itself, and keeps the other frames for after; anyone else
 * waits for the reader to see it.
 *
 * NEEDSWORK: under process-async, a thread of the plugin's own that sends
 * once the loop has ended (during stop() or fini()) waits for good: the
 * main thread, the reader, reads no more.
 */
static int await_answer(struct call *c)
{
	struct pollfd p = {.fd = me.chan, .events = POLLIN};
	struct call **at;

	if (am_reader()) {
		unsigned char buf[PROTO_MSG_MAX + 1];
		while (!c->done) {
			size_t len = read_frame(buf);
			if (len == 0) {
				if (poll(&p, 1, -1) < 0 && errno != EINTR)
					_exit(1);
			} else if (buf[0] == PROTO_ANSWER) {
				answered(buf, len);
			} else {
				defer(buf, len);
			}
		}
		/* outside a callback of the channel, who else would see them? */
		if (deferred && me.loop)
			ev_feed_event(me.loop, &me.chan_watcher, EV_READ);
	}
	pthread_mutex_lock(&call_lock);
	while (!c->done)
		pthread_cond_wait(&call_done, &call_lock);
	for (at = &calls; *at != c; at = &(*at)->next)
		;
	*at = c->next;
	pthread_mutex_unlock(&call_lock);
	return c->err;
}

/*
 * One B frame of msgs[0..n), at most as many as fit: how many tendd
 * accepted (*sent in the frame), with errno when fewer.
 */
static size_t send_frame(const char *to, size_t tolen,
                         const struct tend_msg *msgs, size_t n, size_t *sent)
{
	struct call call = {0};
	size_t len = proto_batch_fit(tolen, msgs, n, sent);
	unsigned char *buf = malloc(len);
	int err;

	if (buf == NULL) {
		errno = ENOMEM;
		return 0;
	}
	add_call(&call);
	proto_batch_pack(buf, call.id, to, tolen, msgs, *sent);
	say_frame((struct iovec[]){{buf, len}}, 1);
	free(buf);
	err = await_answer(&call);
	if (call.n >= *sent)
		return *sent;
	errno = err ? err : EPROTO;
	return call.n;
}

/*
 * tend_send_batch(): as many frames as the messages need, each waiting
 * for its answer before the next is sent, so that what was accepted is
 * always the first ones. The checks tendd would make first are made
 * here, in its order: EINVAL, the messages, then the name.
 */
static long c_send_batch(struct tend_ctx *c, const char *to,
                         const struct tend_msg *msgs, size_t n)
{
	size_t valid, tolen, done = 0;
	int bad = 0;

	(void)c;
	if (to == NULL) {
		errno = EINVAL;
		return -1;
	}
	for (valid = 0; valid < n; valid++)
		if ((bad = mail_refused_early(&msgs[valid])) != 0)
			break;
	tolen = strlen(to);
	if (valid > 0 && tolen > NAME_MAX_LEN + 8) {
		errno = ENOENT; /* no service has such a name */
		return -1;
	}
	while (done < valid) {
		size_t sent, took = send_frame(to, tolen, msgs + done,
		                               valid - done, &sent);
		done += took;
		if (took < sent)
			return done ? (long)done : -1;
	}
	if (done == n)
		return (long)n;
	errno = bad;
	return done ? (long)done : -1;
}

static int c_send(struct tend_ctx *c, const char *to, const void *d, size_t n)
{
	struct tend_msg msg = {d, n};

	return c_send_batch(c, to, &msg, 1) == 1 ? 0 : -1;
}

static int c_watch(struct tend_ctx *c, const char *name)
{
	struct call call = {0};
	int err;

	(void)c;
	if (name == NULL) {
		errno = EINVAL;
		return -1;
	}
	add_call(&call);
	say(json_pack("{s:s, s:I, s:s}", "t", "watch", "id",
	              (json_int_t)call.id, "name", name));
	err = await_answer(&call);
	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

static void end(int status, const char *reason)
{
	if (me.ended++)
		return;
	me.end_status = status;
	if (reason)
		say(json_pack("{s:s, s:s}", "t", "fail", "reason", reason));
	me.stopping = 1;
	if (me.loop)
		ev_break(me.loop, EVBREAK_ALL);
}

__attribute__((format(printf, 2, 0))) static void
c_vfail(struct tend_ctx *c, const char *fmt, va_list ap)
{
	char reason[REASON_MAX];
	(void)c;
	vsnprintf(reason, sizeof(reason), fmt, ap);
	end(-1, utf8_sanitize(reason));
}

static void c_exit(struct tend_ctx *c, int status)
{
	(void)c;
	end(status, NULL);
}

static void *c_data(struct tend_ctx *c)
{
	(void)c;
	return me.data;
}

static void c_set_data(struct tend_ctx *c, void *d)
{
	(void)c;
	me.data = d;
}

static const char *c_name(struct tend_ctx *c)
{
	(void)c;
	return me.name;
}

static const struct tend_host host_table = {
    .abi = TEND_ABI_VERSION,
    .size = sizeof(struct tend_host),
    .setting_int = c_int,
    .setting_double = c_double,
    .setting_string = c_string,
    .setting_bool = c_bool,
    .vlog = c_vlog,
    .ready = c_ready,
    .heartbeat = c_heartbeat,
    .stopping = c_stopping,
    .stop_fd = c_stop_fd,
    .loop = c_loop,
    .send = c_send,
    .watch = c_watch,
    .vfail = c_vfail,
    .data = c_data,
    .set_data = c_set_data,
    .name = c_name,
    .exit = c_exit,
    .send_batch = c_send_batch,
};

/*
 * New settings: swap them in and call reload(). The old tree is never
 * freed: the plugin may still hold its strings, and the child is short
 * lived next to a config.
 */
static void reload(json_t *settings)
{
	struct setting *fresh = calloc(1, sizeof(*fresh));
	int rc;

	if (fresh == NULL || settings_from_json(fresh, NULL, settings) < 0) {
		free(fresh);
		return;
	}
	pthread_mutex_lock(&me.run_lock);
	if (me.running) {
		me.settings = fresh;
		rc = me.api->reload ? me.api->reload(&me.ctx) : 0;
		say(json_pack("{s:s, s:i}", "t", "reloaded", "rc", rc));
	}
	pthread_mutex_unlock(&me.run_lock);
}

/* Tell tendd which of the PROTO_MAIL frames it sent were handled. */
static void flush_acks(void)
{
	unsigned char buf[PROTO_DELIVERED_LEN];

	if (ack_frames == 0)
		return;
	proto_delivered_pack(buf, ack_frames, ack_n);
	say_frame((struct iovec[]){{buf, sizeof(buf)}}, 1);
	ack_frames = ack_n = 0;
}

/*
 * A PROTO_MAIL frame (f[len] may be written): each of its messages to
 * message(), while it runs, then one acknowledgement. Small frames are
 * acknowledged together, at most 16 at a time, or when none is left to
 * read; a frame of many at once, so that the window moves on sooner.
 */
static void deliver(unsigned char *f, size_t len)
{
	struct proto_mail_reader r;
	unsigned char *data;
	size_t n;
	int count = proto_mail_open(&r, f, len);

	if (me.blocking)
		pthread_mutex_lock(&me.run_lock);
	while (count > 0 && proto_mail_next(&r, &data, &n) > 0) {
		if (!me.running || me.api->message == NULL)
			continue; /* lost */
		me.api->message(&me.ctx, r.from, data, n);
		ack_n++;
	}
	if (me.blocking)
		pthread_mutex_unlock(&me.run_lock);
	if (++ack_frames >= 16 || count >= 16)
		flush_acks();
}

/* A message from tendd. */
static void on_message(json_t *msg)
{
	const char *t = proto_type(msg);

	if (strcmp(t, "stop") == 0) {
		uint64_t one = 1;
		me.stopping = 1;
		(void)!write(me.stop_fd, &one, sizeof(one));
		if (me.loop)
			ev_break(me.loop, EVBREAK_ALL);
	} else if (strcmp(t, "reload") == 0) {
		reload(json_object_get(msg, "settings"));
	} else if (strcmp(t, "config") == 0) { /* a next run: see next_run() */
		pthread_mutex_lock(&next_lock);
		json_decref(next_cfg);
		next_cfg = msg;
		pthread_cond_signal(&next_came);
		pthread_mutex_unlock(&next_lock);
		return;
	}
	json_decref(msg);
}

/* A frame from tendd, in buf[0..len), and buf[len] may be written. */
static void handle(unsigned char *buf, size_t len)
{
	json_t *msg;

	if (buf[0] == PROTO_MAIL)
		deliver(buf, len);
	else if (buf[0] == PROTO_ANSWER)
		answered(buf, len);
	else if ((msg = proto_parse(buf, len)) != NULL)
		on_message(msg);
}

/* The reader: what was kept for later first, then what is there now. */
static void pump(void)
{
	static unsigned char buf[PROTO_MSG_MAX + 1]; /* the reader's */
	size_t len;

	for (;;) {
		struct frame *f = deferred;
		if (f) {
			deferred = f->next;
			if (deferred == NULL)
				deferred_tail = &deferred;
			handle(f->buf, f->len);
			free(f);
		} else if ((len = read_frame(buf)) > 0) {
			handle(buf, len);
		} else {
			break;
		}
	}
	flush_acks();
}

/* process: a thread reads the channel while run() blocks. */
static void *channel_reader(void *arg)
{
	struct pollfd p = {.fd = me.chan, .events = POLLIN};
	(void)arg;
	/* run_blocking() names us the reader before we may read */
	pthread_mutex_lock(&call_lock);
	pthread_mutex_unlock(&call_lock);
	for (;;) {
		pump();
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			return NULL;
	}
}

static void on_channel(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop, (void)w, (void)revents;
	pump();
}

static void set_limit(json_t *limits, const char *key, int resource)
{
	json_t *v = json_object_get(limits, key);
	struct rlimit rl;

	if (v == NULL)
		return;
	rl.rlim_cur = rl.rlim_max = json_integer_value(v) < 0
	                                ? RLIM_INFINITY
	                                : (rlim_t)json_integer_value(v);
	if (setrlimit(resource, &rl) < 0)
		start_failed("cannot set rlimit %s: %s", key, strerror(errno));
}

/* The process options, in an order that keeps each step permitted. */
static void apply_options(json_t *o)
{
	json_t *limits = json_object_get(o, "rlimits");
	const char *workdir = json_string_value(json_object_get(o, "workdir"));
	const char *user = json_string_value(json_object_get(o, "user"));
	json_t *uid = json_object_get(o, "uid"), *gid = json_object_get(o, "gid");
	json_t *mask = json_object_get(o, "umask");

	if (limits) {
		set_limit(limits, "nofile", RLIMIT_NOFILE);
		set_limit(limits, "core", RLIMIT_CORE);
		set_limit(limits, "as", RLIMIT_AS);
		set_limit(limits, "nproc", RLIMIT_NPROC);
		set_limit(limits, "cpu", RLIMIT_CPU);
		set_limit(limits, "fsize", RLIMIT_FSIZE);
		set_limit(limits, "memlock", RLIMIT_MEMLOCK);
		set_limit(limits, "stack", RLIMIT_STACK);
	}
	if (mask)
		umask((mode_t)json_integer_value(mask));
	if (gid) {
		gid_t g = (gid_t)json_integer_value(gid);
		if ((user ? initgroups(user, g) : setgroups(1, &g)) < 0 ||
		    setgid(g) < 0)
			start_failed("cannot change group to %d: %s", (int)g,
			             strerror(errno));
	}
	if (uid && setuid((uid_t)json_integer_value(uid)) < 0)
		start_failed("cannot change user to %d: %s",
		             (int)json_integer_value(uid), strerror(errno));
	if (workdir && chdir(workdir) < 0)
		start_failed("cannot change directory to '%s': %s", workdir,
		             strerror(errno));
	if (json_is_true(json_object_get(o, "no_new_privs")) &&
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		start_failed("cannot set no_new_privs: %s", strerror(errno));
}

static void load_plugin(void)
{
	char proc[64];
	void *h;

	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", PROTO_FD_PLUGIN);
	h = dlopen(proc, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL)
		start_failed("cannot load plugin: %s", dlerror());
	me.api = dlsym(h, "tend_plugin");
	if (me.api == NULL)
		start_failed("not a tend plugin: no 'tend_plugin' symbol");
	/* tendd checked this copy's descriptor; check the ABI once more */
	if (me.api->abi != TEND_ABI_VERSION)
		start_failed("plugin ABI %u, runner ABI %d", me.api->abi,
		             TEND_ABI_VERSION);
}

/* The run's settings and heartbeat period, from its config message. */
static void take_config(json_t *cfg)
{
	me.hb_every = json_real_value(json_object_get(cfg, "heartbeat_every"));
	me.last_hb = 0;
	if (settings_from_json(&me.first, NULL,
	                       json_object_get(cfg, "settings")) < 0)
		start_failed("bad settings");
	me.settings = &me.first;
}

/*
 * After a run of a TEND_PLUGIN_RERUN plugin that ended on its own: wait
 * for tendd to send the next run's config, or to close the channel,
 * which the reader takes for tendd's going (it exits). What a run left
 * is reset; the options (user, limits...) are the same, or tendd would
 * not have kept this runner.
 */
static void next_run(void)
{
	uint64_t drain;
	json_t *cfg;

	pthread_mutex_lock(&next_lock);
	while (next_cfg == NULL)
		pthread_cond_wait(&next_came, &next_lock);
	cfg = next_cfg;
	next_cfg = NULL;
	pthread_mutex_unlock(&next_lock);
	setting_clear(&me.first);
	take_config(cfg);
	json_decref(cfg);
	me.ended = 0;
	me.end_status = 0;
	me.stopping = 0;
	me.data = NULL;
	while (read(me.stop_fd, &drain, sizeof(drain)) > 0)
		;
}

/*
 * A fork's heap and stack are copied from the launcher's on first write.
 * A runner made ahead waits for its config (exec_process.c): parsing one
 * as proto_recv() would, first, has those page faults happen while it
 * waits rather than after the config comes (config to dlopen() took
 * 99 µs with them, 30 without). For the others it costs nothing: the
 * real parse would have taken the same faults.
 */
__attribute__((noinline)) static void warm_up(void)
{
	static const char sample[] =
	    "{\"t\":\"config\",\"file\":\"tend.conf\",\"settings\":{\"a\":1}}";
	char buf[PROTO_MSG_MAX];

	memcpy(buf, sample, sizeof(sample) - 1);
	json_decref(proto_parse(buf, sizeof(sample) - 1));
}

static json_t *receive_config(void)
{
	struct pollfd p = {.fd = me.chan, .events = POLLIN};
	json_t *msg = NULL;

	while (msg == NULL) {
		if (poll(&p, 1, -1) < 0 && errno != EINTR)
			_exit(1);
		msg = proto_recv(me.chan);
		if (msg == NULL && errno != EAGAIN)
			_exit(1);
	}
	if (strcmp(proto_type(msg), "config") != 0)
		start_failed("expected a config message");
	return msg;
}

static int run_blocking(void)
{
	static bool reading; /* the reader outlives a run */
	pthread_t tid;
	sigset_t all, old;
	int rc;

	pthread_mutex_lock(&me.run_lock);
	me.running = true; /* before the reader can look */
	pthread_mutex_unlock(&me.run_lock);
	if (!reading) {
		reading = true;
		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		pthread_mutex_lock(&call_lock);
		pthread_create(&tid, NULL, channel_reader, NULL);
		reader = tid;
		pthread_mutex_unlock(&call_lock);
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}
	say(json_pack("{s:s}", "t", "started"));
	rc = me.api->run(&me.ctx);
	pthread_mutex_lock(&me.run_lock);
	me.running = false;
	pthread_mutex_unlock(&me.run_lock);
	if (me.api->fini)
		me.api->fini(&me.ctx);
	return rc;
}

static int run_loop(void)
{
	me.loop = ev_default_loop(EVFLAG_AUTO);
	ev_io_init(&me.chan_watcher, on_channel, me.chan, EV_READ);
	ev_io_start(me.loop, &me.chan_watcher);
	if (me.api->start(&me.ctx) != 0) {
		if (me.api->fini)
			me.api->fini(&me.ctx);
		start_failed("start() failed");
	}
	me.running = true;
	say(json_pack("{s:s}", "t", "started"));
	/* frames init() or start() left for later, if they awaited answers */
	ev_feed_event(me.loop, &me.chan_watcher, EV_READ);
	if (!me.ended && !me.stopping)
		ev_run(me.loop, 0);
	me.running = false;
	if (me.api->stop)
		me.api->stop(&me.ctx);
	if (me.api->fini)
		me.api->fini(&me.ctx);
	return 0;
}

int main(int argc, char **argv)
{
	const char *name;
	json_t *cfg;
	bool blocking, reruns, again;
	pid_t parent;
	int rc;

	if (argc != 3) {
		fprintf(stderr, "tend-runner: started by tendd only\n");
		return 64;
	}
	parent = (pid_t)atol(argv[2]);
	/* the launcher returns in each runner it forks, as tendd's child */
	name = strcmp(argv[1], "--launcher") == 0 ? launcher_serve(parent)
	                                          : argv[1];
	/* die with tendd; and if it died already, do not start at all */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(1);
	snprintf(me.name, sizeof(me.name), "%s", name);
	me.ctx.host = &host_table;
	reader = pthread_self(); /* until run_blocking() starts its own */
	me.stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);

	warm_up();
	cfg = receive_config();
	blocking = json_is_string(json_object_get(cfg, "executor")) &&
	           strcmp(json_string_value(json_object_get(cfg, "executor")),
	                  "process") == 0;
	me.blocking = blocking;
	snprintf(me.file, sizeof(me.file), "%s",
	         json_string_value(json_object_get(cfg, "file")) ?: "?");
	take_config(cfg);
	apply_options(cfg);
	/*
	 * A crash of the plugin is the child's death by that signal, which
	 * tendd reports as such: no handler (a sanitizer's, say) may turn it
	 * into an ordinary exit.
	 */
	signal(SIGSEGV, SIG_DFL);
	signal(SIGBUS, SIG_DFL);
	signal(SIGFPE, SIG_DFL);
	signal(SIGILL, SIG_DFL);
	signal(SIGABRT, SIG_DFL);
	load_plugin();
	json_decref(cfg);

	/* a plugin built before the field has no flags */
	reruns = blocking &&
	         me.api->size >= offsetof(struct tend_plugin, flags) +
	                             sizeof(me.api->flags) &&
	         (me.api->flags & TEND_PLUGIN_RERUN);
	for (;;) {
		if (me.api->init && me.api->init(&me.ctx) != 0) {
			if (me.api->fini)
				me.api->fini(&me.ctx);
			start_failed("init() failed");
		}
		rc = blocking ? run_blocking() : run_loop();
		if (me.ended)
			rc = me.end_status < 0 ? 1 : me.end_status;
		again = reruns && !me.stopping;
		/*
		 * tendd ends the run on this, not on the exit, whose teardown
		 * of the process takes longer than anything before it. The
		 * plugin is done (fini() returned); threads of its own, if it
		 * left any, die with the process. No exit(): atexit handlers
		 * and destructors may be the plugin's.
		 */
		say(json_pack("{s:s, s:i, s:b}", "t", "exit", "status",
		              rc & 0xff, "again", again));
		if (!again)
			_exit(rc & 0xff);
		next_run();
	}
}
