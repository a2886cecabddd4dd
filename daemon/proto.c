/*
 * The host <-> child protocol of the process executors: one JSON object
 * per SOCK_SEQPACKET message over a socketpair, so message boundaries come
 * from the kernel; messages between services travel as binary frames
 * instead, since their bytes need not be text (proto.h). Also the
 * settings tree as JSON, for the trip.
 *
 * host -> child: {"t":"config", "name", "executor", "file", "settings",
 *                 "heartbeat_every"}, {"t":"stop"}, {"t":"reload","settings"},
 *                {"t":"answer","id","err"} (to a send or a watch),
 *                PROTO_MAIL frames (for message())
 * child -> host: {"t":"started"}, {"t":"ready"}, {"t":"hb"},
 *                {"t":"log","level","msg"}, {"t":"fail","reason"},
 *                {"t":"startfail","reason"}, {"t":"reloaded","rc"},
 *                {"t":"delivered","n","lost"} (PROTO_MAIL frames handled),
 *                {"t":"watch","id","name"}, PROTO_SEND frames (tend_send)
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tendd.h"
#include "proto.h"

int proto_send(int fd, json_t *msg)
{
	char *text = json_dumps(msg, JSON_COMPACT);
	ssize_t n;

	json_decref(msg);
	if (text == NULL) {
		errno = ENOMEM;
		return -1;
	}
	do
		n = send(fd, text, strlen(text), MSG_NOSIGNAL);
	while (n < 0 && errno == EINTR);
	free(text);
	return n < 0 ? -1 : 0;
}

/* One frame of several pieces; flags add to MSG_NOSIGNAL (MSG_DONTWAIT). */
int proto_sendv(int fd, const struct iovec *iov, int n, int flags)
{
	struct msghdr mh = {.msg_iov = (struct iovec *)iov,
	                    .msg_iovlen = (size_t)n};
	ssize_t sent;

	do
		sent = sendmsg(fd, &mh, MSG_NOSIGNAL | flags);
	while (sent < 0 && errno == EINTR);
	return sent < 0 ? -1 : 0;
}

/*
 * One frame as it came, into buf (PROTO_MSG_MAX bytes hold any): its
 * length; 0 with errno 0 when the channel is closed; -1 with errno
 * (EAGAIN: none now).
 */
ssize_t proto_recv_raw(int fd, void *buf, size_t size)
{
	ssize_t n;

	do
		n = recv(fd, buf, size, MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n == 0)
		errno = 0;
	return n;
}

/* A JSON frame's object, or NULL with errno EPROTO. */
json_t *proto_parse(const void *buf, size_t len)
{
	json_t *msg = json_loadb(buf, len, 0, NULL);

	if (msg == NULL || !json_is_object(msg)) {
		json_decref(msg);
		errno = EPROTO;
		return NULL;
	}
	return msg;
}

/* One message, or NULL: errno EAGAIN (none now), 0 (closed), or other. */
json_t *proto_recv(int fd)
{
	char buf[PROTO_MSG_MAX];
	ssize_t n = proto_recv_raw(fd, buf, sizeof(buf));

	if (n <= 0)
		return NULL;
	return proto_parse(buf, (size_t)n);
}

const char *proto_type(json_t *msg)
{
	const char *t = json_string_value(json_object_get(msg, "t"));
	return t ? t : "";
}

json_t *settings_to_json(const struct setting *s)
{
	json_t *out;

	switch (s->type) {
	case SETTING_INT:
		return json_integer(s->v.i);
	case SETTING_FLOAT:
		return json_real(s->v.d);
	case SETTING_STRING:
		return json_string(s->v.s);
	case SETTING_BOOL:
		return json_boolean(s->v.b);
	case SETTING_GROUP:
		out = json_object();
		for (size_t i = 0; i < s->nkids; i++)
			json_object_set_new(out, s->kids[i].name,
			                    settings_to_json(&s->kids[i]));
		return out;
	case SETTING_LIST:
		out = json_array();
		for (size_t i = 0; i < s->nkids; i++)
			json_array_append_new(out, settings_to_json(&s->kids[i]));
		return out;
	}
	return json_null();
}

/* The inverse; line numbers do not travel, so they are 0. */
int settings_from_json(struct setting *to, const char *name, json_t *j)
{
	size_t i, n;
	const char *key;
	json_t *v;

	memset(to, 0, sizeof(*to));
	if (name && (to->name = strdup(name)) == NULL)
		return -1;
	switch (json_typeof(j)) {
	case JSON_INTEGER:
		to->type = SETTING_INT;
		to->v.i = json_integer_value(j);
		return 0;
	case JSON_REAL:
		to->type = SETTING_FLOAT;
		to->v.d = json_real_value(j);
		return 0;
	case JSON_STRING:
		to->type = SETTING_STRING;
		return (to->v.s = strdup(json_string_value(j))) ? 0 : -1;
	case JSON_TRUE:
	case JSON_FALSE:
		to->type = SETTING_BOOL;
		to->v.b = json_is_true(j);
		return 0;
	case JSON_OBJECT:
		to->type = SETTING_GROUP;
		n = json_object_size(j);
		break;
	case JSON_ARRAY:
		to->type = SETTING_LIST;
		n = json_array_size(j);
		break;
	default:
		return -1;
	}
	to->kids = n ? calloc(n, sizeof(*to->kids)) : NULL;
	if (n && to->kids == NULL)
		return -1;
	to->nkids = n;
	i = 0;
	if (to->type == SETTING_GROUP) {
		json_object_foreach(j, key, v)
			if (settings_from_json(&to->kids[i++], key, v) < 0)
				return -1;
	} else {
		json_array_foreach(j, i, v)
			if (settings_from_json(&to->kids[i], NULL, v) < 0)
				return -1;
	}
	return 0;
}
