/*
 * Tests of daemon/mailbox.c alone: the registry by name, the bounded
 * FIFO and its errors, runs opening and closing, delivery and wake-ups,
 * watchers, and senders on many threads against a reader while the
 * registry changes.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "tendd.h"

static int send_text(struct mailbox *from_box, const char *from,
                     const char *to, const char *text)
{
	return mailbox_send(from_box, from, to, text, strlen(text));
}

/* Take one message of `run` and settle it as delivered; NULL if none. */
static char *take_text(struct mailbox *mb, unsigned long run, char *from,
                       size_t fromlen)
{
	struct mail *m = mailbox_take(mb, run);
	char *text;

	if (m == NULL)
		return NULL;
	text = strdup((char *)m->data);
	if (from)
		snprintf(from, fromlen, "%s", m->from);
	mailbox_settle(mb, run, 1, 0);
	mail_free(m);
	return text;
}

static void test_errors(void)
{
	struct mailbox *a = mailbox_new("a", 3), *b = mailbox_new("b", 10);
	struct mail_counts c;
	unsigned long run;
	char big[TEND_MSG_MAX + 1];

	is_int(send_text(b, "b", "nosuch", "x"), ENOENT, "unknown name: ENOENT");
	is_int(send_text(b, "b", "a", "x"), ESRCH, "never started: ESRCH");
	run = mailbox_open(a, 3, false);
	ok(run > 0, "a run has a number");
	is_int(send_text(b, "b", "a", "x"), EOPNOTSUPP,
	       "a plugin without message(): EOPNOTSUPP");
	run = mailbox_open(a, 3, true);
	for (int i = 1; i <= 3; i++) {
		char t[16];
		snprintf(t, sizeof(t), "%d", i);
		is_int(send_text(b, "b", "a", t), 0, "send %d of 3 fits", i);
	}
	is_int(send_text(b, "b", "a", "4"), EAGAIN, "the 4th: EAGAIN");
	is_int(mailbox_send(b, "b", NULL, "x", 1), EINVAL, "no name: EINVAL");
	is_int(mailbox_send(b, "b", "a", NULL, 1), EINVAL, "no data: EINVAL");
	memset(big, 'x', sizeof(big));
	is_int(mailbox_send(b, "b", "a", big, sizeof(big)), EMSGSIZE,
	       "one byte over TEND_MSG_MAX: EMSGSIZE");
	mailbox_counts(a, &c);
	is_int(c.refused, 3, "ESRCH, EOPNOTSUPP and EAGAIN are refusals");
	is_int(c.queued, 3, "3 queued");
	mailbox_counts(b, &c);
	is_int(c.sent, 3, "the sender counts what it sent");

	/* taken but not settled still counts against the limit */
	struct mail *m = mailbox_take(a, run);
	ok(m && strcmp((char *)m->data, "1") == 0 && m->len == 1 &&
	       strcmp(m->from, "b") == 0,
	   "the first in is the first out, with its sender");
	is_int(send_text(b, "b", "a", "4"), EAGAIN, "held: still full");
	mailbox_settle(a, run, 1, 0);
	mail_free(m);
	is_int(send_text(b, "b", "a", "4"), 0, "settled: room again");
	mailbox_set_limit(a, 1);
	is_int(send_text(b, "b", "a", "5"), EAGAIN, "a lower limit applies");
	mailbox_set_limit(a, 100);
	ok(mailbox_send(b, "b", "a", big, TEND_MSG_MAX) == 0,
	   "TEND_MSG_MAX bytes fit");

	mailbox_close(a, run);
	mailbox_counts(a, &c);
	is_int(c.dropped, 4, "closing drops what was not taken");
	is_int(c.received, 1, "and received counts what was delivered");
	is_int(c.queued, 0, "nothing queued");
	is_int(send_text(b, "b", "a", "x"), ESRCH, "closed: ESRCH");
	mailbox_free(a);
	mailbox_free(b);
	is_int(send_text(NULL, "t", "a", "x"), ENOENT, "freed: ENOENT");
}

static void test_runs(void)
{
	struct mailbox *a = mailbox_new("runs", 10);
	unsigned long r1 = mailbox_open(a, 10, true), r2;
	struct mail_counts c;
	char *t;

	send_text(NULL, "tendctl", "runs", "old");
	r2 = mailbox_open(a, 10, true);
	ok(r2 != r1, "a new run, a new number");
	mailbox_counts(a, &c);
	is_int(c.dropped, 1, "a new run drops the last one's mail");
	send_text(NULL, "tendctl", "runs", "new");
	ok(mailbox_take(a, r1) == NULL, "an old run takes nothing");
	mailbox_settle(a, r1, 0, 5);
	t = take_text(a, r2, NULL, 0);
	is_str(t, "new", "the current run takes its own");
	free(t);
	mailbox_counts(a, &c);
	is_int(c.dropped, 6, "an old run's lost ones are counted");
	mailbox_close(a, r1);
	is_int(send_text(NULL, "x", "runs", "y"), 0,
	       "closing an old run leaves the current one open");
	mailbox_state(a, "stopping", false);
	is_int(send_text(NULL, "x", "runs", "y"), ESRCH,
	       "a state that is not up closes it");
	mailbox_free(a);
}

static int wakes;
static void count_wake(void *arg) { (*(int *)arg)++; }

static void on_msg(struct tend_ctx *ctx, const char *from, const void *data,
                   size_t len)
{
	(void)ctx, (void)from, (void)data, (void)len;
	wakes += 100;
}

static void test_delivery(void)
{
	struct mailbox *a = mailbox_new("d", 10);
	unsigned long run = mailbox_open(a, 10, true);
	struct tend_plugin api = {.message = on_msg};
	struct instance in = {.api = &api, .mail_run = run};
	int n = 0;
	struct mail_counts c;

	send_text(NULL, "x", "d", "1");
	mailbox_bind(a, run, count_wake, &n);
	is_int(n, 1, "binding with mail waiting wakes at once");
	send_text(NULL, "x", "d", "2");
	is_int(n, 1, "a queue that was not empty: no second wake-up");
	mailbox_bind(a, run + 1, count_wake, &n);
	send_text(NULL, "x", "d", "3");
	is_int(n, 1, "binding another run changes nothing");
	wakes = 0;
	ok(mailbox_deliver(a, &in, 2), "2 of 3 delivered: more wait");
	is_int(wakes, 200, "message() called twice");
	mailbox_counts(a, &c);
	is_int(c.queued, 1, "the third still queued");
	ok(!mailbox_deliver(a, &in, 10), "the last, then none");
	is_int(wakes, 300, "message() called 3 times");
	send_text(NULL, "x", "d", "4");
	is_int(n, 2, "an empty queue wakes at its next message");
	ok(!mailbox_deliver(a, &in, 10), "delivered");
	mailbox_counts(a, &c);
	is_int(c.received, 4, "4 received");
	mailbox_unbind(a, run);
	send_text(NULL, "x", "d", "5");
	is_int(n, 2, "unbound: no wake-up");
	mailbox_free(a);
}

/* A message() that ends its run: what was taken with it is not given. */
static struct mailbox *closing;
static void close_on_msg(struct tend_ctx *ctx, const char *from,
                         const void *data, size_t len)
{
	(void)ctx, (void)from, (void)data, (void)len;
	wakes++;
	mailbox_state(closing, "stopping", false);
}

static void test_delivery_ends(void)
{
	struct tend_plugin api = {.message = close_on_msg};
	struct instance in = {.api = &api};
	struct mail_counts c;

	closing = mailbox_new("ends", 10);
	in.mail_run = mailbox_open(closing, 10, true);
	for (int i = 0; i < 5; i++)
		send_text(NULL, "x", "ends", "m");
	wakes = 0;
	ok(!mailbox_deliver(closing, &in, 64), "all 5 taken at once");
	is_int(wakes, 1, "the run ended in the first message(): one call");
	mailbox_counts(closing, &c);
	is_int(c.received, 1, "1 received");
	is_int(c.dropped, 4, "the 4 taken with it dropped");
	is_int(c.queued, 0, "none left");
	mailbox_free(closing);
}

static void test_batch(void)
{
	struct mailbox *a = mailbox_new("ba", 5), *b = mailbox_new("bb", 10);
	unsigned long run;
	struct tend_plugin api = {.message = on_msg};
	struct instance in = {.api = &api};
	struct tend_msg m[8];
	struct mail_counts c;
	char text[8][12], *t;
	int err, n = 0;

	for (int i = 0; i < 8; i++) {
		snprintf(text[i], sizeof(text[i]), "%d", i);
		m[i] = (struct tend_msg){text[i], strlen(text[i])};
	}
	is_int(mailbox_send_batch(b, "bb", "nosuch", m, 3, &err), 0,
	       "unknown name: none");
	is_int(err, ENOENT, "ENOENT");
	is_int(mailbox_send_batch(b, "bb", "ba", m, 3, &err), 0,
	       "not started: none");
	is_int(err, ESRCH, "ESRCH");
	run = in.mail_run = mailbox_open(a, 5, true);
	mailbox_bind(a, run, count_wake, &n);
	is_int(mailbox_send_batch(b, "bb", "ba", m, 0, &err), 0, "n = 0: none");
	is_int(err, 0, "and no error");
	is_int(mailbox_send_batch(b, "bb", "ba", m, 3, &err), 3, "3 of 3");
	is_int(err, 0, "no error");
	is_int(n, 1, "one wake-up for the batch");
	is_int(mailbox_send_batch(b, "bb", "ba", m + 3, 5, &err), 2,
	       "a mailbox of 5 takes 2 more of 5");
	is_int(err, EAGAIN, "then EAGAIN");
	is_int(n, 1, "no wake-up: it was not empty");
	is_int(mailbox_send_batch(b, "bb", "ba", m, 1, &err), 0, "full: none");
	is_int(err, EAGAIN, "EAGAIN");
	mailbox_counts(a, &c);
	is_int(c.refused, 3, "ESRCH, then each EAGAIN once");
	is_int(c.queued, 5, "5 queued");
	mailbox_counts(b, &c);
	is_int(c.sent, 5, "the sender counts each message");
	for (int i = 0; i < 5; i++) {
		t = take_text(a, run, NULL, 0);
		is_str(t, text[i], "message %d in order", i);
		free(t);
	}
	m[2].len = TEND_MSG_MAX + 1;
	is_int(mailbox_send_batch(b, "bb", "ba", m, 4, &err), 2,
	       "one too long: those before it");
	is_int(err, EMSGSIZE, "EMSGSIZE");
	is_int(mailbox_send_batch(b, "bb", "ba", m + 2, 2, &err), 0,
	       "the long one first: none");
	is_int(err, EMSGSIZE, "EMSGSIZE, before looking for the receiver");
	m[2] = (struct tend_msg){NULL, 1};
	is_int(mailbox_send_batch(b, "bb", "ba", m + 1, 2, &err), 1,
	       "no data with a length: those before it");
	is_int(err, EINVAL, "EINVAL");
	is_int(mailbox_send_batch(b, "bb", NULL, m, 1, &err), 0, "no name");
	is_int(err, EINVAL, "EINVAL");
	wakes = 0;
	ok(!mailbox_deliver(a, &in, 64), "delivered");
	is_int(wakes, 300, "the 3 accepted, no more");
	/* one allocation, freed with the last of its mails (LeakSanitizer) */
	is_int(mailbox_send_batch(b, "bb", "ba", m + 3, 4, &err), 4, "4 more");
	ok(mailbox_deliver(a, &in, 1), "one of them delivered, 3 wait");
	t = take_text(a, run, NULL, 0);
	is_str(t, "4", "one taken apart");
	free(t);
	mailbox_close(a, run);
	mailbox_counts(a, &c);
	is_int(c.dropped, 2, "the other 2 dropped with the run");
	mailbox_free(a);
	mailbox_free(b);
}

/* Its messages' numbers, in order, as the text says; -1 at a gap. */
static int chain_check(const struct mail *m, int from, unsigned n)
{
	for (unsigned i = 0; i < n; i++, m = m->next)
		if (m == NULL || atoi((const char *)m->data) != from + (int)i)
			return -1;
	return m == NULL ? 0 : -1;
}

static void *free_chain(void *arg)
{
	mail_free_chain(arg);
	return NULL;
}

/*
 * mailbox_take_some(): a chain of many at once, within a count and a
 * byte budget; and the mails of a batch, made in shared blocks, freed in
 * any order and on any thread.
 */
static void test_take_some(void)
{
	enum { N = 1500, SIZE = 100 };
	struct mailbox *a = mailbox_new("ts", 2000);
	unsigned long run = mailbox_open(a, 2000, true);
	static char text[N][SIZE + 1], big[40000];
	struct tend_msg m[N];
	struct mail *c1, *c2, *c3, *c4;
	struct mail_counts c;
	size_t each = SIZE + strlen("sender") + 3;
	unsigned n;
	pthread_t tid;
	int err;

	for (int i = 0; i < N; i++) {
		snprintf(text[i], sizeof(text[i]), "%*d", SIZE, i);
		m[i] = (struct tend_msg){text[i], SIZE};
	}
	is_int(mailbox_send_batch(NULL, "sender", "ts", m, N, &err), N,
	       "a batch of %d", N);
	memset(big, ' ', sizeof(big));
	memcpy(big + sizeof(big) - 4, "1500", 4);
	is_int(mailbox_send(NULL, "sender", "ts", big, sizeof(big)), 0,
	       "one of 40000 bytes, made alone");
	m[0] = (struct tend_msg){"1501", 4};
	is_int(mailbox_send_batch(NULL, "sender", "ts", m, 1, &err), 1,
	       "and one more batch");

	c1 = mailbox_take_some(a, run + 1, 10, SIZE_MAX, 0, &n);
	ok(c1 == NULL && n == 0, "another run takes none");
	c1 = mailbox_take_some(a, run, 10, SIZE_MAX, 3, &n);
	is_int(n, 10, "at most max: 10");
	is_int(chain_check(c1, 0, 10), 0, "the oldest, in order, a chain");
	c2 = mailbox_take_some(a, run, 100, 3 * each, 3, &n);
	is_int(n, 3, "a budget of 3 takes 3");
	is_int(chain_check(c2, 10, 3), 0, "the next 3");
	c3 = mailbox_take_some(a, run, 100, 3 * each - 1, 3, &n);
	is_int(n, 2, "a byte less takes 2");
	mail_free_chain(c3);
	c3 = mailbox_take_some(a, run, 100, each - 1, 3, &n);
	ok(c3 == NULL && n == 0, "the first does not fit: none");
	mailbox_counts(a, &c);
	is_int(c.queued, N + 2, "taken ones still count");
	/* chains of the same blocks, freed in another order, on 2 threads */
	c3 = mailbox_take_some(a, run, 600, SIZE_MAX, 3, &n);
	is_int(n, 600, "600 more");
	c4 = mailbox_take_some(a, run, 1000, SIZE_MAX, 3, &n);
	is_int(n, N + 2 - 615, "and the rest");
	is_int(chain_check(c4, 615, N + 2 - 615), 0,
	       "across blocks, the big one and the last batch, in order");
	pthread_create(&tid, NULL, free_chain, c3);
	mail_free_chain(c2);
	mail_free_chain(c4);
	pthread_join(tid, NULL);
	mail_free_chain(c1);
	mailbox_settle(a, run, N, 2);
	mailbox_counts(a, &c);
	ok(c.queued == 0 && c.received == N && c.dropped == 2,
	   "settled: %u queued, %lu received, %lu dropped", c.queued,
	   c.received, c.dropped);
	/* what is left in a mailbox, in blocks, goes with it */
	is_int(mailbox_send_batch(NULL, "sender", "ts", m, 300, &err), 300,
	       "300 more");
	c1 = mailbox_take_some(a, run, 100, SIZE_MAX, 3, &n);
	mailbox_free(a);
	mail_free_chain(c1);
	ok(1, "freed with its mailbox, before the chain taken from it");
}

static void test_watch(void)
{
	struct mailbox *x = mailbox_new("x", 10), *w = mailbox_new("w", 2);
	struct mailbox *mute = mailbox_new("mute", 2);
	unsigned long wr = mailbox_open(w, 2, true);
	char from[80], *t;
	struct mail_counts c;

	mailbox_open(mute, 2, false);
	is_int(mailbox_watch(w, wr, "nosuch"), ENOENT, "watch nosuch: ENOENT");
	is_int(mailbox_watch(mute, 0, "x"), EOPNOTSUPP,
	       "no message(): EOPNOTSUPP");
	is_int(mailbox_watch(w, wr, "x"), 0, "watch x");
	t = take_text(w, wr, from, sizeof(from));
	ok(t && strcmp(t, "stopped") == 0 && strcmp(from, "@x") == 0,
	   "its current state comes at once, from @x");
	free(t);
	is_int(mailbox_watch(w, wr, "x"), 0, "watch x again");
	ok(mailbox_take(w, wr) == NULL, "changes nothing");
	mailbox_state(x, "starting", true);
	mailbox_state(x, "ready", true);
	t = take_text(w, wr, NULL, 0);
	is_str(t, "starting", "then each change, in order");
	free(t);
	t = take_text(w, wr, NULL, 0);
	is_str(t, "ready", "ready");
	free(t);
	mailbox_state(x, "stopping", false);
	mailbox_state(x, "stopped", false);
	mailbox_state(x, "starting", true);
	mailbox_counts(w, &c);
	is_int(c.queued, 2, "a full mailbox keeps its 2");
	is_int(c.dropped, 1, "and the third change is dropped, counted");
	wr = mailbox_open(w, 2, true);
	mailbox_state(x, "ready", true);
	ok(mailbox_take(w, wr) == NULL, "a new run of w watches nothing");
	is_int(mailbox_watch(w, wr, "w"), 0, "a service may watch itself");
	t = take_text(w, wr, from, sizeof(from));
	ok(t && strcmp(t, "stopped") == 0 && strcmp(from, "@w") == 0,
	   "and is told its state");
	free(t);
	mailbox_free(x);
	mailbox_free(w);
	mailbox_free(mute);
}

static void test_registry(void)
{
	enum { N = 3000 };
	static struct mailbox *boxes[N];
	char name[32];
	struct mailbox *old = mailbox_new("dup", 5), *fresh;
	unsigned long r;
	bool all = true;
	char *t;

	mailbox_open(old, 5, true);
	fresh = mailbox_new("dup", 5);
	r = mailbox_open(fresh, 5, true);
	send_text(NULL, "t", "dup", "x");
	t = take_text(fresh, r, NULL, 0);
	is_str(t, "x", "the newest of a name wins");
	free(t);
	mailbox_free(old);
	is_int(send_text(NULL, "t", "dup", "y"), 0,
	       "freeing the hidden one leaves the newest found");
	mailbox_free(fresh);
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "svc-%d", i);
		boxes[i] = mailbox_new(name, 1);
		mailbox_open(boxes[i], 1, true);
	}
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "svc-%d", i);
		all = all && send_text(NULL, "t", name, "x") == 0;
	}
	ok(all, "%d mailboxes, each found by name", N);
	for (int i = 0; i < N; i += 2)
		mailbox_free(boxes[i]);
	all = true;
	for (int i = 0; i < N; i++) {
		snprintf(name, sizeof(name), "svc-%d", i);
		all = all && send_text(NULL, "t", name, "x") ==
		                 (i % 2 ? EAGAIN : ENOENT);
	}
	ok(all, "half freed: the others still there, and full");
	for (int i = 1; i < N; i += 2)
		mailbox_free(boxes[i]);
}

/* Senders on threads, a reader taking, the main thread changing names. */
enum { SENDERS = 4, PER_SENDER = 20000 };
static struct mailbox *sink;
static unsigned long sink_run;
static _Atomic int senders_done;

static void *sender(void *arg)
{
	char from[16], text[32];
	int id = (int)(long)arg;

	snprintf(from, sizeof(from), "s%d", id);
	for (int i = 1; i <= PER_SENDER;) {
		snprintf(text, sizeof(text), "%d", i);
		if (send_text(NULL, from, "sink", text) == 0)
			i++;
		else
			sched_yield(); /* EAGAIN: the reader catches up */
	}
	senders_done++;
	return NULL;
}

static void *reader(void *arg)
{
	int last[SENDERS] = {0}, *bad = arg;
	int got = 0;

	while (got < SENDERS * PER_SENDER) {
		struct mail *m = mailbox_take(sink, sink_run);
		int id, n;
		if (m == NULL) {
			sched_yield();
			continue;
		}
		id = m->from[1] - '0';
		n = atoi((char *)m->data);
		if (id < 0 || id >= SENDERS || n != last[id] + 1)
			(*bad)++;
		else
			last[id] = n;
		mailbox_settle(sink, sink_run, 1, 0);
		mail_free(m);
		got++;
	}
	return NULL;
}

static void test_threads(void)
{
	pthread_t s[SENDERS], r;
	struct mail_counts c;
	int bad = 0, churn = 0;

	sink = mailbox_new("sink", 64);
	sink_run = mailbox_open(sink, 64, true);
	pthread_create(&r, NULL, reader, &bad);
	for (long i = 0; i < SENDERS; i++)
		pthread_create(&s[i], NULL, sender, (void *)i);
	while (senders_done < SENDERS) {
		/* the registry changes under the senders' feet */
		char name[32];
		snprintf(name, sizeof(name), "churn-%d", churn++ % 50);
		mailbox_free(mailbox_new(name, 1));
	}
	for (int i = 0; i < SENDERS; i++)
		pthread_join(s[i], NULL);
	pthread_join(r, NULL);
	is_int(bad, 0, "%d senders x %d messages: each sender's in order",
	       SENDERS, PER_SENDER);
	mailbox_counts(sink, &c);
	is_int(c.received, SENDERS * PER_SENDER, "every one received");
	ok(c.refused > 0, "and the limit of 64 pushed back (%lu EAGAIN)",
	   c.refused);
	mailbox_free(sink);
}

int main(void)
{
	log_init(TEND_LOG_ERROR);
	test_errors();
	test_runs();
	test_delivery();
	test_delivery_ends();
	test_batch();
	test_take_some();
	test_watch();
	test_registry();
	test_threads();
	return done_testing();
}
