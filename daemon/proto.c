/*
 * The host <-> child protocol of the process executors: one JSON object
 * per SOCK_SEQPACKET message over a socketpair, so message boundaries come
 * from the kernel; messages between services travel as binary frames
 * instead, since their bytes need not be text (proto.h). Also the
 * settings tree as JSON, for the trip.
 *
 * host -> child: {"t":"config", "name", "executor", "file", "settings",
 *                 "heartbeat_every"}, {"t":"stop"}, {"t":"reload","settings"},
 *                PROTO_ANSWER frames (to a send or a watch),
 *                PROTO_MAIL frames (for message())
 * child -> host: {"t":"started"}, {"t":"ready"}, {"t":"hb"},
 *                {"t":"log","level","msg"}, {"t":"fail","reason"},
 *                {"t":"startfail","reason"}, {"t":"reloaded","rc"},
 *                {"t":"watch","id","name"}, PROTO_BATCH frames (tend_send,
 *                tend_send_batch), PROTO_DELIVERED (PROTO_MAIL frames
 *                handled)
 *
 * Messages travel many to a frame, the frames' layouts are in proto.h:
 * a frame costs two system calls and two wake-ups, a message in it a
 * copy.
 */
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "tendd.h"
#include "proto.h"

_Static_assert(1 + 4 + 4 + 1 + PROTO_TO_MAX + 2 + TEND_MSG_MAX <= PROTO_MSG_MAX,
               "a B frame holds a message of TEND_MSG_MAX bytes");
_Static_assert(PROTO_MAIL_HEAD + PROTO_MAIL_EACH +
                       sizeof(((struct mail *)0)->from) + TEND_MSG_MAX <=
                   PROTO_MSG_MAX,
               "an M frame holds a message of TEND_MSG_MAX bytes");
_Static_assert(NAME_MAX_LEN + 8 <= PROTO_TO_MAX, "a B frame holds any name");

static void put32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t get32(const unsigned char *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return v;
}
static void put16(unsigned char *p, uint16_t v) { memcpy(p, &v, 2); }
static uint16_t get16(const unsigned char *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

/*
 * How many of msgs[0..n) one B frame to a name of `tolen` bytes holds
 * (*count, at least 1 when n > 0: each is at most TEND_MSG_MAX, tolen at
 * most PROTO_TO_MAX), and that frame's length.
 */
size_t proto_batch_fit(size_t tolen, const struct tend_msg *msgs, size_t n,
                       size_t *count)
{
	size_t len = 10 + tolen, k;

	for (k = 0; k < n && k < PROTO_BATCH_MAX; k++) {
		if (len + 2 + msgs[k].len > PROTO_MSG_MAX)
			break;
		len += 2 + msgs[k].len;
	}
	*count = k;
	return len;
}

/* The B frame proto_batch_fit() measured, into buf. */
void proto_batch_pack(unsigned char *buf, uint32_t id, const char *to,
                      size_t tolen, const struct tend_msg *msgs, size_t count)
{
	unsigned char *p = buf + 10 + tolen;

	buf[0] = PROTO_BATCH;
	put32(buf + 1, id);
	put32(buf + 5, (uint32_t)count);
	buf[9] = (unsigned char)tolen;
	memcpy(buf + 10, to, tolen);
	for (size_t k = 0; k < count; k++) {
		put16(p, (uint16_t)msgs[k].len);
		if (msgs[k].len)
			memcpy(p + 2, msgs[k].data, msgs[k].len);
		p += 2 + msgs[k].len;
	}
}

/*
 * A B frame: its id, its receiver's name (NUL-terminated, into `to` of
 * PROTO_TO_MAX + 1 bytes) and its messages, pointing into the frame
 * (msgs holds PROTO_BATCH_MAX). 0, or -1 when it is not one whole.
 */
int proto_batch_parse(const unsigned char *f, size_t len, uint32_t *id,
                      char *to, struct tend_msg *msgs, size_t *count)
{
	const unsigned char *p, *end = f + len;
	size_t n, tolen;

	if (len < 10 || f[0] != PROTO_BATCH)
		return -1;
	*id = get32(f + 1);
	n = get32(f + 5);
	tolen = f[9];
	if (n > PROTO_BATCH_MAX || tolen > PROTO_TO_MAX || 10 + tolen > len)
		return -1;
	memcpy(to, f + 10, tolen);
	to[tolen] = '\0';
	p = f + 10 + tolen;
	for (size_t k = 0; k < n; k++) {
		if (end - p < 2 || (size_t)(end - p - 2) < get16(p))
			return -1;
		msgs[k].len = get16(p);
		msgs[k].data = p + 2;
		p += 2 + msgs[k].len;
	}
	*count = n;
	return p == end ? 0 : -1;
}

void proto_answer_pack(unsigned char *buf, uint32_t id, uint32_t n, int err)
{
	buf[0] = PROTO_ANSWER;
	put32(buf + 1, id);
	put32(buf + 5, n);
	put32(buf + 9, (uint32_t)err);
}

int proto_answer_parse(const unsigned char *f, size_t len, uint32_t *id,
                       uint32_t *n, int *err)
{
	if (len != PROTO_ANSWER_LEN || f[0] != PROTO_ANSWER)
		return -1;
	*id = get32(f + 1);
	*n = get32(f + 5);
	*err = (int)get32(f + 9);
	return 0;
}

void proto_delivered_pack(unsigned char *buf, uint32_t frames, uint32_t n)
{
	buf[0] = PROTO_DELIVERED;
	put32(buf + 1, frames);
	put32(buf + 5, n);
}

int proto_delivered_parse(const unsigned char *f, size_t len,
                          uint32_t *frames, uint32_t *n)
{
	if (len != PROTO_DELIVERED_LEN || f[0] != PROTO_DELIVERED)
		return -1;
	*frames = get32(f + 1);
	*n = get32(f + 5);
	return 0;
}

/*
 * Append a message to the M frame in buf, at offset `at` (an empty frame
 * starts at PROTO_MAIL_HEAD), from `from` (`fromlen` bytes, less than
 * 256), or with `from` NULL from the sender of the message before. The
 * caller has made sure it fits: at most PROTO_MAIL_EACH + fromlen + len
 * bytes. Returns the offset after it.
 */
size_t proto_mail_add(unsigned char *buf, size_t at, const char *from,
                      size_t fromlen, const void *data, size_t len)
{
	unsigned char *p = buf + at;

	if (from == NULL)
		fromlen = 0;
	*p++ = (unsigned char)fromlen;
	if (fromlen)
		memcpy(p, from, fromlen);
	p += fromlen;
	put16(p, (uint16_t)len);
	if (len)
		memcpy(p + 2, data, len);
	return (size_t)(p + 2 + len - buf);
}

/* The M frame in buf holds `count` messages: its header. */
void proto_mail_finish(unsigned char *buf, uint32_t count)
{
	buf[0] = PROTO_MAIL;
	put32(buf + 1, count);
}

/*
 * Read the M frame f[0..len), in place: f must have room for one byte
 * more (f[len]), since each message is given a NUL after it in turn.
 * Returns its number of messages, or -1 when it has no header.
 */
int proto_mail_open(struct proto_mail_reader *r, unsigned char *f,
                    size_t len)
{
	if (len < PROTO_MAIL_HEAD || f[0] != PROTO_MAIL ||
	    get32(f + 1) > PROTO_BATCH_MAX)
		return -1;
	r->p = f + PROTO_MAIL_HEAD;
	r->end = f + len;
	r->left = get32(f + 1);
	r->nul = NULL;
	r->from[0] = '\0';
	return (int)r->left;
}

/*
 * The next message: 1, with its data (NUL-terminated until the next
 * call) and length, and its sender in r->from; 0 when there is no more;
 * -1 when the rest of the frame is cut short (the messages left in
 * r->left are lost).
 */
int proto_mail_next(struct proto_mail_reader *r, unsigned char **data,
                    size_t *len)
{
	size_t n;

	if (r->nul) {
		*r->nul = r->saved;
		r->nul = NULL;
	}
	if (r->left == 0)
		return 0;
	n = r->end - r->p >= 1 ? r->p[0] : 0;
	if (r->end - r->p < (ptrdiff_t)(3 + n) ||
	    (n == 0 && r->from[0] == '\0'))
		return -1;
	if (n) {
		memcpy(r->from, r->p + 1, n);
		r->from[n] = '\0';
	}
	r->p += 1 + n;
	*len = get16(r->p);
	if ((size_t)(r->end - r->p - 2) < *len)
		return -1;
	*data = r->p + 2;
	r->p += 2 + *len;
	r->nul = r->p;
	r->saved = *r->p;
	*r->p = '\0';
	r->left--;
	return 1;
}

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
