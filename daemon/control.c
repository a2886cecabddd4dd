/*
 * The control socket: a Unix stream socket speaking JSON, one request
 * object per line and one reply object per line (protocol version 1, see
 * README.md). A stale socket is replaced, the socket's mode comes from the
 * config, and SO_PEERCRED decides who may change anything: root or the
 * daemon's own user. A request that is not valid JSON or is longer than
 * CONTROL_LINE_MAX gets an error reply and the connection is closed.
 */
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "tendd.h"

#define CONTROL_VERSION 1
#define CONTROL_LINE_MAX 65536
#define CONTROL_CLIENTS_MAX 256
#define CONTROL_OUT_MAX (16 << 20) /* replies a client has not read */
#define CONTROL_IDLE 10.0          /* seconds a silent client is kept */

struct conn {
	ev_io io;
	ev_timer idle;
	int fd;
	uid_t uid;
	char in[CONTROL_LINE_MAX];
	size_t inlen;
	char *out;
	size_t outlen, outoff;
	bool closing;  /* close once the reply is out */
	bool draining; /* reply out, our side shut: discard until EOF */
	bool waiting;  /* for a reload to finish: its reply comes later */
	bool eof;      /* the client shut its side while waiting: reply,
	                * answer what it sent before, then close */
	struct conn *next;
};

static struct ev_loop *loop;
static ev_io listener;
static int listen_fd = -1;
static char *socket_path;
static struct conn *conns;
static int nconns;

static void conn_free(struct conn *c)
{
	struct conn **at;

	for (at = &conns; *at != c; at = &(*at)->next)
		;
	*at = c->next;
	if (c->waiting)
		reload_cancel(c);
	ev_io_stop(loop, &c->io);
	ev_timer_stop(loop, &c->idle);
	close(c->fd);
	free(c->out);
	free(c);
	nconns--;
}

/*
 * Watch for what the connection waits for: to write, else to read; but
 * nothing while it waits for a reload with its buffer full (read() of 0
 * bytes returns 0, taken for EOF) or after the client shut its side.
 */
static void conn_watch(struct conn *c)
{
	int want = c->outlen > c->outoff ? EV_WRITE
	           : c->draining ||
	                   (!c->eof && c->inlen < sizeof(c->in))
	               ? EV_READ
	               : 0;

	if (want == 0) {
		ev_io_stop(loop, &c->io);
		return;
	}
	if (c->io.events == want && ev_is_active(&c->io))
		return;
	ev_io_stop(loop, &c->io);
	ev_io_set(&c->io, c->fd, want);
	ev_io_start(loop, &c->io);
}

/* Queue a reply line (malloc'ed, taken over; NULL: it could not be made). */
static void queue_text(struct conn *c, char *text)
{
	static const char fallback[] =
	    "{\"v\":1,\"ok\":false,\"error\":\"cannot encode the reply\"}";
	size_t len;

	if (text == NULL)
		text = strdup(fallback);
	if (text == NULL)
		fatalx("out of memory");
	len = strlen(text);
	if (c->outlen + len + 1 > CONTROL_OUT_MAX) {
		free(text); /* it does not read its replies: stop answering */
		c->closing = true;
		return;
	}
	char *grown = realloc(c->out, c->outlen + len + 1);
	if (grown == NULL)
		fatalx("out of memory");
	c->out = grown;
	memcpy(c->out + c->outlen, text, len);
	c->out[c->outlen + len] = '\n';
	c->outlen += len + 1;
	free(text);
	conn_watch(c);
}

static void queue_reply(struct conn *c, json_t *reply)
{
	char *text = NULL;

	if (reply) {
		json_object_set_new(reply, "v", json_integer(CONTROL_VERSION));
		text = json_dumps(reply, JSON_COMPACT);
		json_decref(reply);
	}
	queue_text(c, text);
}

static json_t *error_reply(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));
static json_t *error_reply(const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return json_pack("{s:b, s:s}", "ok", 0, "error", utf8_sanitize(msg));
}

/* What its mailbox counted, over all its runs. */
static json_t *messages_json(const struct supervisor *sv)
{
	struct mail_counts mc;

	mailbox_counts(sv->mailbox, &mc);
	return json_pack("{s:I, s:I, s:I, s:I, s:I}", "sent",
	                 (json_int_t)mc.sent, "received",
	                 (json_int_t)mc.received, "refused",
	                 (json_int_t)mc.refused, "dropped",
	                 (json_int_t)mc.dropped, "queued",
	                 (json_int_t)mc.queued);
}

static json_t *describe(const struct supervisor *sv, double now)
{
	char last[REASON_MAX + 64] = "";
	const char *group;
	bool up = sv->state == SV_STARTING || sv->state == SV_RUNNING ||
	          sv->state == SV_READY || sv->state == SV_STOPPING;
	json_t *o;

	if (sv->last) {
		exit_describe(sv->last, last, sizeof(last));
		utf8_sanitize(last);
	}
	o = json_pack("{s:s, s:s, s:s, s:i, s:i, s:f, s:f, s:I, s:s*, s:b}",
	              "name", sv->cfg.name, "state", sv_state_name(sv->state),
	              "executor", executor_name(sv->cfg.executor), "pid",
	              up && sv->inst ? (int)sv->inst->pid : 0,
	              "tid", up && sv->inst ? (int)sv->inst->tid : 0,
	              "uptime", up ? now - sv->started_at : 0.0, "since",
	              now - sv->since, "restarts", (json_int_t)sv->restarts,
	              "last_exit", sv->last ? last : NULL, "gave_up",
	              sv->gave_up);
	if (sv->cfg.executor == EXEC_PROCESS ||
	    sv->cfg.executor == EXEC_PROCESS_ASYNC)
		json_object_set_new(o, "output_dropped",
		                    json_integer((json_int_t)sv->output_dropped +
		                                 (json_int_t)(sv->inst ? sv->inst->output_dropped : 0)));
	json_object_set_new(o, "messages", messages_json(sv));
	if (sv->state == SV_BACKOFF)
		json_object_set_new(o, "next_start_in",
		                    json_real(sv->next_start - now));
	if (sv->waiting && sv->state == SV_STOPPED)
		json_object_set_new(o, "waiting", json_true());
	if ((group = services_group_of(sv)) != NULL)
		json_object_set_new(o, "group", json_string(group));
	return o;
}

static json_t *groups_json(void)
{
	json_t *list = json_array();

	for (size_t i = 0; i < services_groups(); i++) {
		const char *name, *strategy;
		bool failed;
		unsigned restarts;
		services_group_info(i, &name, &strategy, &failed, &restarts);
		json_array_append_new(
		    list, json_pack("{s:s, s:s, s:s, s:I}", "name", name,
		                    "strategy", strategy, "state",
		                    failed ? "failed" : "running", "restarts",
		                    (json_int_t)restarts));
	}
	return list;
}

/* The last lines it logged, oldest first. */
static json_t *recent_log(const struct supervisor *sv)
{
	struct recent_line lines[RECENT_LINES];
	size_t n = recent_lines(sv->cfg.name, lines);
	json_t *list = json_array();

	for (size_t i = 0; i < n; i++)
		json_array_append_new(
		    list, json_pack("{s:f, s:s, s:s}", "time", lines[i].time,
		                    "level", log_level_name(lines[i].level),
		                    "msg", utf8_sanitize(lines[i].text)));
	return list;
}

static json_t *string_list(const struct errors *e)
{
	json_t *list = json_array();

	for (size_t i = 0; i < e->count; i++)
		json_array_append_new(list, json_string(utf8_sanitize(e->msgs[i])));
	return list;
}

static size_t failed_items(const struct reload_report *r)
{
	size_t n = 0;

	for (size_t i = 0; i < r->nitems; i++)
		n += r->items[i].outcome == RO_FAILED;
	return n;
}

static const char *reload_result(const struct reload_report *r)
{
	return r->rejected ? "rejected" : failed_items(r) ? "failed" : "ok";
}

/* The last reload, for status: how it went, and why not when it did not. */
static json_t *last_reload(double now)
{
	const struct reload_report *r = reload_last();
	json_t *o, *failed;

	if (r == NULL)
		return json_null();
	o = json_pack("{s:I, s:s, s:s, s:f, s:o}", "id", (json_int_t)r->id,
	              "result", reload_result(r), "origin", r->origin, "ago",
	              now - r->started, "errors", string_list(&r->errors));
	failed = json_array();
	for (size_t i = 0; i < r->nitems; i++)
		if (r->items[i].outcome == RO_FAILED)
			json_array_append_new(failed,
			                      json_string(r->items[i].name));
	json_object_set_new(o, "failed", failed);
	return o;
}

/* A reply's text, grown as it is written. */
struct text {
	char *s;
	size_t len, room;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->room) {
		size_t room = t->room ? t->room : 4096;
		char *grown;
		while (t->len + n + 1 > room)
			room *= 2;
		if ((grown = realloc(t->s, room)) == NULL)
			fatalx("out of memory");
		t->s = grown;
		t->room = room;
	}
	memcpy(t->s + t->len, s, n);
	t->len += n;
	t->s[t->len] = '\0';
}

static void text_str(struct text *t, const char *s)
{
	text_add(t, s, strlen(s));
}

/* `s` (valid UTF-8) as a JSON string, escaped as jansson would. */
static void text_json_string(struct text *t, const char *s)
{
	static const char *const short_escapes[0x20] = {
	    ['\b'] = "\\b", ['\f'] = "\\f", ['\n'] = "\\n",
	    ['\r'] = "\\r", ['\t'] = "\\t"};

	text_add(t, "\"", 1);
	while (*s) {
		unsigned char ch;
		size_t plain = 0;
		char esc[8];
		while (s[plain] && s[plain] != '"' && s[plain] != '\\' &&
		       (unsigned char)s[plain] >= 0x20)
			plain++;
		text_add(t, s, plain);
		s += plain;
		if ((ch = (unsigned char)*s++) == '\0')
			break;
		if (ch == '"' || ch == '\\')
			snprintf(esc, sizeof(esc), "\\%c", ch);
		else if (short_escapes[ch])
			snprintf(esc, sizeof(esc), "%s", short_escapes[ch]);
		else
			snprintf(esc, sizeof(esc), "\\u%04X", ch);
		text_str(t, esc);
	}
	text_add(t, "\"", 1);
}

/*
 * The reply to a reload: its summary made by jansson, then its list of
 * services (every one, a thousand or more) written directly, which costs
 * a small part of building a JSON object for each.
 */
static char *report_text(const struct reload_report *r)
{
	json_t *head = json_pack(
	    "{s:I, s:b, s:s, s:f, s:o, s:o}", "id", (json_int_t)r->id,
	    "dry_run", r->dry_run, "result",
	    r->dry_run && !r->rejected ? "planned"
	    : r->rejected              ? "rejected"
	                               : "applied",
	    "took", r->took, "errors", string_list(&r->errors), "notes",
	    string_list(&r->notes));
	char *summary = head ? json_dumps(head, JSON_COMPACT) : NULL;
	struct text t = {0};
	char end[32];

	json_decref(head);
	if (summary == NULL)
		return NULL;
	text_str(&t, !r->rejected && failed_items(r) == 0
	                 ? "{\"ok\":true,\"reload\":"
	                 : "{\"ok\":false,\"reload\":");
	text_add(&t, summary, strlen(summary) - 1); /* open: services follow */
	free(summary);
	text_str(&t, ",\"services\":[");
	for (size_t i = 0; i < r->nitems; i++) {
		const struct reload_item *it = &r->items[i];
		text_str(&t, i ? ",{\"name\":" : "{\"name\":");
		text_json_string(&t, it->name);
		text_str(&t, ",\"outcome\":\"");
		text_str(&t, reload_outcome_name(it->outcome));
		text_add(&t, "\"", 1);
		if (it->reason) {
			text_str(&t, ",\"reason\":");
			text_json_string(&t, utf8_sanitize(it->reason));
		}
		text_add(&t, "}", 1);
	}
	snprintf(end, sizeof(end), "]},\"v\":%d}", CONTROL_VERSION);
	text_str(&t, end);
	return t.s;
}

static void on_reloaded(void *arg, const struct reload_report *r)
{
	struct conn *c = arg;

	c->waiting = false;
	if (r)
		queue_text(c, report_text(r));
	else
		queue_reply(c, error_reply("tendd is shutting down"));
}

static bool may_change(const struct conn *c)
{
	return c->uid == 0 || c->uid == geteuid();
}

static json_t *cmd_reload(json_t *req, struct conn *c)
{
	bool dry = json_is_true(json_object_get(req, "dry_run"));
	char origin[64];

	if (!dry && !may_change(c))
		return error_reply("permission denied: 'reload' needs root or "
		                   "uid %d",
		                   (int)geteuid());
	snprintf(origin, sizeof(origin), "tendctl, uid %d", (int)c->uid);
	c->waiting = true;
	reload_request(dry, origin, on_reloaded, c);
	return NULL; /* on_reloaded() replies, maybe already has */
}

/* Until tendd restarts, or a reload changes log.level. */
static json_t *cmd_log_level(json_t *req, struct conn *c)
{
	const char *name = json_string_value(json_object_get(req, "level"));
	int level = name ? log_level_parse(name) : -1, was = log_threshold;

	if (!may_change(c))
		return error_reply("permission denied: 'log-level' needs root "
		                   "or uid %d",
		                   (int)geteuid());
	if (level < 0)
		return error_reply("'log-level' needs a level: debug, info, "
		                   "notice, warning or error");
	log_threshold = level;
	log_write(TEND_LOG_NOTICE, "tendd", "log level %s (was %s), set by uid %d",
	           log_level_name(level), log_level_name(was), (int)c->uid);
	return json_pack("{s:b, s:s, s:s}", "ok", 1, "level",
	                 log_level_name(level), "was", log_level_name(was));
}

static json_t *cmd_status(json_t *req)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	double now = mono_now();
	json_t *list = json_array();

	for (size_t i = 0; i < services_count(); i++) {
		struct supervisor *sv = services_at(i);
		json_t *one;
		if (name != NULL && strcmp(name, sv->cfg.name) != 0)
			continue;
		one = describe(sv, now);
		if (one == NULL) /* never drop a service from the list */
			one = json_pack("{s:s, s:s}", "name", sv->cfg.name,
			                "state", sv_state_name(sv->state));
		if (name)
			json_object_set_new(one, "log", recent_log(sv));
		json_array_append_new(list, one);
	}
	if (name && json_array_size(list) == 0) {
		json_decref(list);
		return error_reply("no service named '%s'", name);
	}
	return json_pack("{s:b, s:o, s:o, s:o}", "ok", 1, "services", list,
	                 "reload", last_reload(now), "groups", groups_json());
}

static json_t *cmd_change(json_t *req, struct conn *c, const char *cmd)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	struct supervisor *sv;

	if (!may_change(c))
		return error_reply("permission denied: '%s' needs root or "
		                   "uid %d",
		                   cmd, (int)geteuid());
	if (name == NULL)
		return error_reply("'%s' needs a service name", cmd);
	sv = services_find(name);
	if (sv == NULL)
		return error_reply("no service named '%s'", name);
	if (services_shutting_down())
		return error_reply("tendd is shutting down");
	if (strcmp(cmd, "start") == 0)
		supervisor_start(sv);
	else if (strcmp(cmd, "stop") == 0)
		supervisor_stop(sv);
	else
		supervisor_restart(sv);
	log_info("'%s' %s requested by uid %d", name, cmd, (int)c->uid);
	return json_pack("{s:b, s:s}", "ok", 1, "state",
	                 sv_state_name(sv->state));
}

static const char *errno_name(int err)
{
	switch (err) {
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EAGAIN: return "EAGAIN";
	case EMSGSIZE: return "EMSGSIZE";
	default: return "EINVAL";
	}
}

/* A message to a service, from "tendctl": as a plugin's tend_send(). */
static json_t *cmd_send(json_t *req, struct conn *c)
{
	const char *name = json_string_value(json_object_get(req, "name"));
	json_t *data = json_object_get(req, "data"), *reply;
	struct supervisor *sv;
	int err;

	if (!may_change(c))
		return error_reply("permission denied: 'send' needs root or "
		                   "uid %d",
		                   (int)geteuid());
	if (name == NULL || !json_is_string(data))
		return error_reply("'send' needs a service name and a \"data\" "
		                   "string");
	sv = services_find(name);
	if (sv == NULL)
		return error_reply("no service named '%s'", name);
	err = mailbox_send(NULL, "tendctl", name, json_string_value(data),
	                   json_string_length(data));
	log_debug("message to '%s' sent by uid %d: %s", name, (int)c->uid,
	          err ? errno_name(err) : "ok");
	switch (err) {
	case 0:
		return json_pack("{s:b}", "ok", 1);
	case ESRCH:
		reply = error_reply("'%s' is not running (%s): it takes no "
		                    "messages",
		                    name, sv_state_name(sv->state));
		break;
	case EOPNOTSUPP:
		reply = error_reply("'%s' takes no messages: its plugin has "
		                    "no message()",
		                    name);
		break;
	case EAGAIN:
		reply = error_reply("the mailbox of '%s' is full (mailbox = "
		                    "%d): try again later",
		                    name, sv->cfg.mailbox);
		break;
	case EMSGSIZE:
		reply = error_reply("message too long: %zu bytes, at most %d",
		                    json_string_length(data), TEND_MSG_MAX);
		break;
	default:
		reply = error_reply("no service named '%s'", name);
		break;
	}
	json_object_set_new(reply, "errno", json_string(errno_name(err)));
	return reply;
}

static json_t *handle(struct conn *c, const char *line, size_t len)
{
	json_error_t jerr;
	json_t *req = json_loadb(line, len, 0, &jerr), *reply;
	const char *cmd;

	if (req == NULL || !json_is_object(req)) {
		json_decref(req);
		c->closing = true;
		return error_reply("malformed request: %s",
		                   req ? "not an object" : jerr.text);
	}
	cmd = json_string_value(json_object_get(req, "cmd"));
	if (cmd == NULL)
		reply = error_reply("request has no \"cmd\"");
	else if (strcmp(cmd, "status") == 0)
		reply = cmd_status(req);
	else if (strcmp(cmd, "start") == 0 || strcmp(cmd, "stop") == 0 ||
	         strcmp(cmd, "restart") == 0)
		reply = cmd_change(req, c, cmd);
	else if (strcmp(cmd, "reload") == 0)
		reply = cmd_reload(req, c);
	else if (strcmp(cmd, "log-level") == 0)
		reply = cmd_log_level(req, c);
	else if (strcmp(cmd, "send") == 0)
		reply = cmd_send(req, c);
	else
		reply = error_reply("unknown command '%s'", cmd);
	json_decref(req);
	return reply;
}

/*
 * Answer the complete requests read so far, one at a time: the next is
 * read only once the reply to this one is written, so a client that does
 * not read its replies cannot make them pile up.
 */
static void process_input(struct conn *c)
{
	char *nl;

	if (!c->closing && !c->waiting && c->outlen == c->outoff &&
	    (nl = memchr(c->in, '\n', c->inlen)) != NULL) {
		size_t len = (size_t)(nl - c->in);
		json_t *reply = handle(c, c->in, len);
		memmove(c->in, nl + 1, c->inlen - len - 1);
		c->inlen -= len + 1;
		if (reply)
			queue_reply(c, reply);
	}
	if (!c->closing && !c->waiting && c->outlen == c->outoff &&
	    c->inlen == sizeof(c->in)) {
		c->closing = true;
		queue_reply(c, error_reply("request longer than %d bytes",
		                           CONTROL_LINE_MAX));
	}
}

/* Returns false when the connection is gone. */
static bool on_readable(struct conn *c)
{
	ssize_t n;

	if (c->draining) { /* nothing read now is answered */
		c->inlen = 0;
	}
	n = read(c->fd, c->in + c->inlen, sizeof(c->in) - c->inlen);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return true;
		if (n == 0 && c->waiting) { /* closed its side: still reply */
			c->eof = true;
			return true;
		}
		conn_free(c); /* the client is gone, or closed its side */
		return false;
	}
	if (c->draining)
		return true;
	c->inlen += (size_t)n;
	process_input(c);
	return true;
}

/*
 * The last reply is written: shut our side and read what the client is
 * still sending until it closes (or goes idle). Closing a Unix socket
 * with input unread resets it, and the client would lose the reply.
 */
static void conn_finish(struct conn *c)
{
	c->draining = true;
	shutdown(c->fd, SHUT_WR);
	conn_watch(c);
}

static void on_writable(struct conn *c)
{
	ssize_t n = write(c->fd, c->out + c->outoff, c->outlen - c->outoff);

	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_free(c);
		return;
	}
	c->outoff += (size_t)n;
	if (c->outoff < c->outlen)
		return;
	c->outoff = c->outlen = 0;
	if (c->closing) {
		conn_finish(c);
		return;
	}
	process_input(c); /* a request may be waiting already */
	if ((c->closing || (c->eof && !c->waiting)) && c->outlen == 0) {
		conn_finish(c);
		return;
	}
	conn_watch(c);
}

static void on_conn(struct ev_loop *l, ev_io *w, int revents)
{
	struct conn *c = w->data;

	(void)l;
	ev_timer_again(loop, &c->idle);
	if (revents & EV_WRITE) {
		on_writable(c);
		return; /* c may be gone */
	}
	if ((revents & EV_READ) && on_readable(c)) {
		if (c->closing && c->outlen == c->outoff && !c->draining)
			conn_finish(c);
		else
			conn_watch(c);
	}
}

/*
 * A client silent for CONTROL_IDLE seconds loses its connection, unless
 * it waits for us (a reload).
 */
static void on_idle(struct ev_loop *l, ev_timer *w, int revents)
{
	struct conn *c = w->data;

	(void)l, (void)revents;
	if (!c->waiting)
		conn_free(c);
}

static void on_accept(struct ev_loop *l, ev_io *w, int revents)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	struct conn *c;
	int fd;

	(void)l, (void)w, (void)revents;
	fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	if (nconns >= CONTROL_CLIENTS_MAX ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		close(fd);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		fatalx("out of memory");
	c->fd = fd;
	c->uid = cred.uid;
	ev_io_init(&c->io, on_conn, fd, EV_READ);
	c->io.data = c;
	ev_io_start(loop, &c->io);
	ev_init(&c->idle, on_idle);
	c->idle.repeat = CONTROL_IDLE;
	c->idle.data = c;
	ev_timer_again(loop, &c->idle);
	c->next = conns;
	conns = c;
	nconns++;
}

/* Is another daemon answering on `path`? */
static bool socket_alive(const struct sockaddr_un *sun)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	alive = connect(fd, (const struct sockaddr *)sun, sizeof(*sun)) == 0;
	close(fd);
	return alive;
}

/*
 * A listening socket on `path` with permissions `mode`, or -1 with the
 * reason in `err` (another daemon answers there, or it cannot be made).
 */
/* Give the socket its owner, group (ours unless set) and mode. */
static int set_access(const struct control_access *a)
{
	uid_t uid = a->uid < 0 ? geteuid() : (uid_t)a->uid;
	gid_t gid = a->gid < 0 ? getegid() : (gid_t)a->gid;

	return chown(a->path, uid, gid) < 0 || chmod(a->path, (mode_t)a->mode) < 0
	           ? -1
	           : 0;
}

static int listen_at(const struct control_access *a, char *err,
                     size_t errlen)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	const char *path = a->path;
	mode_t old;
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "control socket path '%s' is too long",
		         path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if (socket_alive(&sun)) {
		snprintf(err, errlen, "another tendd is listening on '%s'",
		         path);
		return -1;
	}
	unlink(path); /* stale, from a daemon that died */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "cannot create the control socket: %s",
		         strerror(errno));
		return -1;
	}
	old = umask(0177);
	if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 ||
	    set_access(a) < 0 || listen(fd, 64) < 0) {
		snprintf(err, errlen, "cannot listen on '%s': %s", path,
		         strerror(errno));
		umask(old);
		close(fd);
		return -1;
	}
	umask(old);
	return fd;
}

static void start_listening(int fd, const char *path)
{
	listen_fd = fd;
	socket_path = strdup(path);
	if (socket_path == NULL)
		fatalx("out of memory");
	ev_io_init(&listener, on_accept, listen_fd, EV_READ);
	ev_io_start(loop, &listener);
}

static void stop_listening(void)
{
	if (listen_fd < 0)
		return;
	ev_io_stop(loop, &listener);
	close(listen_fd);
	listen_fd = -1;
	unlink(socket_path);
	free(socket_path);
	socket_path = NULL;
}

/* Listen as `a` says; returns 0, or -1 after logging why not. */
int control_open(struct ev_loop *l, const struct control_access *a)
{
	char err[512];
	int fd;

	loop = l;
	fd = listen_at(a, err, sizeof(err));
	if (fd < 0) {
		log_error("%s", err);
		return -1;
	}
	start_listening(fd, a->path);
	return 0;
}

/*
 * A reload changed the socket: listen on the new path before leaving the
 * old one (connections open on it stay), or only change its access. On
 * failure the old socket stays and `err` says why.
 */
int control_move(const struct control_access *a, char *err, size_t errlen)
{
	int fd;

	if (socket_path && strcmp(a->path, socket_path) == 0) {
		if (set_access(a) < 0) {
			snprintf(err, errlen, "cannot change '%s': %s", a->path,
			         strerror(errno));
			return -1;
		}
		return 0;
	}
	fd = listen_at(a, err, errlen);
	if (fd < 0)
		return -1;
	stop_listening();
	start_listening(fd, a->path);
	return 0;
}

void control_close(void)
{
	while (conns)
		conn_free(conns);
	stop_listening();
}
