/*
 * Tests of the binary frames of daemon/proto.c: messages to a service
 * from a child (B), answers (A), messages to a child (M) and their
 * acknowledgements (D). Each is packed and read back, filled to its
 * limits, and refused when cut short or padded.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tendd.h"
#include "proto.h"

static unsigned char frame[PROTO_MSG_MAX + 1];

static void test_batch(void)
{
	struct tend_msg in[3] = {{"hello", 5}, {"", 0}, {"x\0y", 3}};
	static struct tend_msg out[PROTO_BATCH_MAX], many[5000];
	static char big[TEND_MSG_MAX], hundred[100];
	char to[PROTO_TO_MAX + 1], name[PROTO_TO_MAX + 1];
	size_t count, len, n;
	uint32_t id;

	len = proto_batch_fit(4, in, 3, &count);
	is_int(count, 3, "3 messages fit");
	is_int(len, 10 + 4 + 3 * 2 + 8, "header, name, a length each, data");
	proto_batch_pack(frame, 77, "sink", 4, in, count);
	is_int(proto_batch_parse(frame, len, &id, to, out, &n), 0, "read back");
	ok(id == 77 && strcmp(to, "sink") == 0 && n == 3, "id, name, count");
	ok(out[0].len == 5 && memcmp(out[0].data, "hello", 5) == 0 &&
	       out[1].len == 0 && out[2].len == 3 &&
	       memcmp(out[2].data, "x\0y", 3) == 0,
	   "each message, an empty one and bytes with a NUL too");
	is_int(proto_batch_parse(frame, len - 1, &id, to, out, &n), -1,
	       "cut short: refused");
	is_int(proto_batch_parse(frame, len + 1, &id, to, out, &n), -1,
	       "a byte too many: refused");
	frame[0] = PROTO_MAIL;
	is_int(proto_batch_parse(frame, len, &id, to, out, &n), -1,
	       "another kind: refused");

	for (int i = 0; i < 5000; i++)
		many[i] = (struct tend_msg){hundred, sizeof(hundred)};
	len = proto_batch_fit(4, many, 5000, &count);
	is_int(count, (PROTO_MSG_MAX - 14) / 102, "as many as fit in a frame");
	ok(len <= PROTO_MSG_MAX && len + 102 > PROTO_MSG_MAX,
	   "and the frame is full: %zu bytes", len);
	for (int i = 0; i < 5000; i++)
		many[i] = (struct tend_msg){"", 0};
	proto_batch_fit(4, many, 5000, &count);
	is_int(count, PROTO_BATCH_MAX, "empty ones: PROTO_BATCH_MAX at most");
	proto_batch_pack(frame, 1, "sink", 4, many, count);
	len = 10 + 4 + 2 * count;
	ok(proto_batch_parse(frame, len, &id, to, out, &n) == 0 &&
	       n == PROTO_BATCH_MAX,
	   "and read back");

	memset(name, 'n', PROTO_TO_MAX);
	many[0] = (struct tend_msg){big, sizeof(big)};
	many[1] = many[0];
	len = proto_batch_fit(PROTO_TO_MAX, many, 2, &count);
	ok(count == 1 && len <= PROTO_MSG_MAX,
	   "TEND_MSG_MAX bytes to the longest name fit alone");
	proto_batch_pack(frame, 2, name, PROTO_TO_MAX, many, 1);
	ok(proto_batch_parse(frame, len, &id, to, out, &n) == 0 &&
	       strlen(to) == PROTO_TO_MAX && out[0].len == TEND_MSG_MAX,
	   "and read back");
}

static void test_answers(void)
{
	unsigned char buf[PROTO_ANSWER_LEN + 1];
	uint32_t id, n, frames;
	int err;

	proto_answer_pack(buf, 0xdeadbeef, 2999, EAGAIN);
	ok(proto_answer_parse(buf, PROTO_ANSWER_LEN, &id, &n, &err) == 0 &&
	       id == 0xdeadbeef && n == 2999 && err == EAGAIN,
	   "an answer: id, how many, errno");
	is_int(proto_answer_parse(buf, PROTO_ANSWER_LEN - 1, &id, &n, &err),
	       -1, "cut short: refused");
	proto_delivered_pack(buf, 3, 700);
	ok(proto_delivered_parse(buf, PROTO_DELIVERED_LEN, &frames, &n) == 0 &&
	       frames == 3 && n == 700,
	   "an acknowledgement: frames, messages");
	is_int(proto_delivered_parse(buf, PROTO_DELIVERED_LEN + 1, &frames,
	                             &n),
	       -1, "padded: refused");
}

/* The reader's next message is `want` bytes of text, from `from`. */
static bool next_is(struct proto_mail_reader *r, const char *from,
                    const char *text, size_t want)
{
	unsigned char *data;
	size_t len;

	return proto_mail_next(r, &data, &len) == 1 &&
	       strcmp(r->from, from) == 0 && len == want &&
	       memcmp(data, text, want) == 0 && data[len] == '\0';
}

static void test_mail(void)
{
	struct proto_mail_reader r;
	unsigned char *data;
	size_t len, at = PROTO_MAIL_HEAD, full;
	static char big[TEND_MSG_MAX];

	at = proto_mail_add(frame, at, "a", 1, "one", 3);
	at = proto_mail_add(frame, at, NULL, 1, "two", 3);
	ok(at == PROTO_MAIL_HEAD + 2 * PROTO_MAIL_EACH + 1 + 6,
	   "the same sender again is not repeated");
	at = proto_mail_add(frame, at, "bee", 3, "", 0);
	at = proto_mail_add(frame, at, "ab", 2, "four", 4);
	proto_mail_finish(frame, 4);
	full = at;
	frame[full] = 'z';
	is_int(proto_mail_open(&r, frame, full), 4, "4 messages");
	ok(next_is(&r, "a", "one", 3), "the first, with a NUL after it");
	ok(next_is(&r, "a", "two", 3), "the second, from the same");
	ok(next_is(&r, "bee", "", 0), "an empty one from another");
	ok(next_is(&r, "ab", "four", 4), "the last, a NUL past the frame");
	is_int(proto_mail_next(&r, &data, &len), 0, "then none");
	ok(frame[full] == 'z' && frame[PROTO_MAIL_HEAD + 1 + 1 + 2 + 3] == 0,
	   "every byte put back");

	is_int(proto_mail_open(&r, frame, full - 1), 4, "cut short");
	for (int i = 0; i < 3; i++)
		proto_mail_next(&r, &data, &len);
	is_int(proto_mail_next(&r, &data, &len), -1, "the last is not whole");
	is_int(r.left, 1, "and is left");
	frame[PROTO_MAIL_HEAD] = 0;
	proto_mail_open(&r, frame, full);
	is_int(proto_mail_next(&r, &data, &len), -1,
	       "the first saying 'the same sender': refused");
	is_int(proto_mail_open(&r, frame, PROTO_MAIL_HEAD - 1), -1,
	       "no header: refused");

	at = proto_mail_add(frame, PROTO_MAIL_HEAD, "n123456789", 10, big,
	                    sizeof(big));
	proto_mail_finish(frame, 1);
	ok(at <= PROTO_MSG_MAX && proto_mail_open(&r, frame, at) == 1 &&
	       proto_mail_next(&r, &data, &len) == 1 && len == TEND_MSG_MAX,
	   "TEND_MSG_MAX bytes fit in one");
}

int main(void)
{
	test_batch();
	test_answers();
	test_mail();
	return done_testing();
}
