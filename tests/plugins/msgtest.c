/*
 * msgtest: a test plugin for messages between services, for every
 * executor. It sends numbered messages, checks the numbers it receives,
 * watches services, and logs what it saw, for tests/t1000-messages.sh.
 *
 *   settings = {
 *     to = "a,b";     send 1, 2, ... count to each of these, in turn
 *     count = 100;    messages per target
 *     interval = 0.0; seconds between rounds (0: as fast as they go)
 *     watch = "a,b";  tend_watch() these at start
 *     slow = 0.0;     seconds message() takes (a slow receiver)
 *     first = 0.0;    seconds the first message() takes (a stalled one)
 *     expect = 0;     log "all N from X in order" when X's Nth arrives
 *     probe = "x";    one tend_send() to x at start, its errno logged
 *     probe_size = 5; the probe's size
 *     stop_delay = 0; run() takes so long to return once asked to stop
 *     batch = 1;      with one target: send up to this many at once,
 *                     with tend_send_batch()
 *     size = 0;       bytes per message: the number, padded with spaces
 *                     in front to this size (0: as it is)
 *     hold = "path";  message() waits while this file exists
 *   };
 *
 * A message "batch TO N SIZE [BAD]" from tendctl sends N numbered
 * messages of SIZE bytes to TO with one tend_send_batch(), message BAD
 * (from 0) one byte over TEND_MSG_MAX, and logs "batch to TO: R ERR"
 * (what it returned, and errno or ok). Their numbers go on from where
 * the accepted ones of the command before ended, starting at 1.
 *
 * A send refused with EAGAIN or ESRCH is retried 1 ms later; the counts
 * of each refusal are in the last line: "sent N to a,b: eagain E, esrch S,
 * other O"; a run of ESRCH refusals is logged as it begins ("refused by
 * X: ESRCH") and ends ("accepted by X again after N refusals"). A number
 * out of sequence is logged as "gap from X: N after
 * M"; the first number of a sender in a run is taken as it comes (a
 * restarted receiver starts mid-stream). Other text is logged as "got
 * 'TEXT' from X", and a watched state as "watch X: STATE".
 */
#include <errno.h>
#include <ev.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <tend/plugin.h>

#define TARGETS 8
#define SENDERS 32
#define BATCH_MAX 100000

struct sender {
	char name[80];
	long long last;
	int gaps;
};

struct msgtest {
	struct tend_ctx *ctx;
	/* sending: on the plugin's loop, or in run() */
	char *to[TARGETS];
	int nto;
	char *to_list, *to_copy; /* as written; cut up by split() */
	long long count, sent;
	int next; /* target of the next send */
	unsigned long eagain, esrch, other;
	unsigned long down; /* ESRCH refusals in a row */
	double interval;
	long long batch, size;
	long long cmd_next; /* the next number a "batch" command sends */
	ev_idle idle;
	ev_timer pause;
	/* receiving: in message() */
	struct sender senders[SENDERS];
	int nsenders;
	long long expect;
	double slow, first;
	const char *hold;
	bool had_first;
};

static const char *errno_name(int e)
{
	switch (e) {
	case 0: return "ok";
	case ENOENT: return "ENOENT";
	case ESRCH: return "ESRCH";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EAGAIN: return "EAGAIN";
	case EMSGSIZE: return "EMSGSIZE";
	case EINVAL: return "EINVAL";
	default: return "other";
	}
}

static int split(char *list, char **out, int max)
{
	int n = 0;

	for (char *save = NULL, *t = strtok_r(list, ",", &save); t && n < max;
	     t = strtok_r(NULL, ",", &save))
		out[n++] = t;
	return n;
}

static void sleep_for(double s)
{
	struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
	nanosleep(&ts, NULL);
}

/*
 * n messages numbered from `first`, of m->size bytes each, message `bad`
 * one byte over TEND_MSG_MAX, to `to` with one tend_send_batch(). What
 * it returned; *texts is for the caller to free.
 */
static long send_numbered(struct msgtest *m, const char *to, long long first,
                          long long n, long long bad, char **texts)
{
	static const char big[TEND_MSG_MAX + 1];
	size_t each = (size_t)(m->size > 20 ? m->size : 20) + 1;
	struct tend_msg *msgs = calloc((size_t)n, sizeof(*msgs));
	long k;

	*texts = malloc((size_t)n * each);
	for (long long i = 0; i < n; i++) {
		char *t = *texts + (size_t)i * each;
		int len = snprintf(t, each, "%*lld", (int)m->size, first + i);
		msgs[i] = (struct tend_msg){t, (size_t)len};
		if (i == bad)
			msgs[i] = (struct tend_msg){big, sizeof(big)};
	}
	k = tend_send_batch(m->ctx, to, msgs, (size_t)n);
	free(msgs);
	return k;
}

/* "batch TO N SIZE [BAD]" from tendctl: see the top. */
static void command(struct msgtest *m, const char *text)
{
	char to[80], *texts;
	long long n = 0, size = 0, bad = -1;
	int got = sscanf(text, "batch %79s %lld %lld %lld", to, &n, &size, &bad);
	long k;
	int err;

	if (got < 3 || n < 0 || n > BATCH_MAX || size < 0 || size > 1000)
		return;
	m->size = size;
	if (m->cmd_next == 0)
		m->cmd_next = 1;
	k = send_numbered(m, to, m->cmd_next, n, bad, &texts);
	err = k == n ? 0 : errno;
	free(texts);
	if (k > 0)
		m->cmd_next += k;
	tend_log(m->ctx, TEND_LOG_INFO, "batch to %s: %ld %s", to, k,
	         errno_name(err));
}

/* While the `hold` file exists (a minute at most), wait. */
static void hold(struct msgtest *m)
{
	bool said = false;

	for (int i = 0; i < 6000 && access(m->hold, F_OK) == 0; i++) {
		if (!said)
			tend_log(m->ctx, TEND_LOG_INFO, "holding");
		said = true;
		sleep_for(0.01);
	}
}

static void message(struct tend_ctx *ctx, const char *from, const void *data,
                    size_t len)
{
	struct msgtest *m = tend_data(ctx);
	const char *text = data;
	struct sender *s = NULL;
	char *end;
	long long n;

	if (strcmp(from, "tendctl") == 0 && strncmp(text, "batch ", 6) == 0) {
		command(m, text);
		return;
	}
	if (m->hold)
		hold(m);
	if (!m->had_first && m->first > 0)
		sleep_for(m->first);
	m->had_first = true;
	if (m->slow > 0)
		sleep_for(m->slow);
	if (from[0] == '@') {
		tend_log(ctx, TEND_LOG_INFO, "watch %s: %s", from + 1, text);
		return;
	}
	n = strtoll(text, &end, 10);
	if (len == 0 || *end != '\0' || (size_t)(end - text) != len) {
		tend_log(ctx, TEND_LOG_INFO, "got '%.100s' from %s", text, from);
		return;
	}
	for (int i = 0; i < m->nsenders; i++)
		if (strcmp(m->senders[i].name, from) == 0)
			s = &m->senders[i];
	if (s == NULL && m->nsenders < SENDERS) {
		s = &m->senders[m->nsenders++];
		snprintf(s->name, sizeof(s->name), "%s", from);
		s->last = n - 1; /* the first of this run, whatever it is */
	}
	if (s == NULL)
		return;
	if (n != s->last + 1) {
		s->gaps++;
		tend_log(ctx, TEND_LOG_WARNING, "gap from %s: %lld after %lld",
		         from, n, s->last);
	}
	s->last = n;
	if (n == m->expect && s->gaps == 0)
		tend_log(ctx, TEND_LOG_INFO, "all %lld from %s in order", n,
		         from);
}

/*
 * With `batch`: up to that many at once to the only target; 0, or the
 * errno that says to wait and retry (the first ones may have gone).
 */
static int send_some(struct msgtest *m)
{
	long long n = m->count - m->sent;
	char *texts;
	long k;

	if (n > m->batch)
		n = m->batch;
	k = send_numbered(m, m->to[0], m->sent + 1, n, -1, &texts);
	free(texts);
	if (k > 0)
		m->sent += k;
	if (k < n && (errno == EAGAIN || errno == ESRCH)) {
		if (errno == ESRCH && m->down++ == 0)
			tend_log(m->ctx, TEND_LOG_INFO, "refused by %s: ESRCH",
			         m->to[0]);
		errno == EAGAIN ? m->eagain++ : m->esrch++;
		return errno;
	}
	if (k < n) {
		m->other++; /* skipped: a retry would fail the same way */
		tend_log(m->ctx, TEND_LOG_WARNING, "send to %s: %s", m->to[0],
		         errno_name(errno));
		m->sent += n - (k > 0 ? k : 0);
	}
	if (m->down)
		tend_log(m->ctx, TEND_LOG_INFO,
		         "accepted by %s again after %lu refusals", m->to[0],
		         m->down);
	m->down = 0;
	if (m->sent == m->count)
		tend_log(m->ctx, TEND_LOG_INFO,
		         "sent %lld to %s: eagain %lu, esrch %lu, other %lu",
		         m->count, m->to_list, m->eagain, m->esrch, m->other);
	return 0;
}

/* One send; 0, or the errno that says to wait and retry. */
static int send_one(struct msgtest *m)
{
	char text[1024];
	int len;

	if (m->sent >= m->count * m->nto)
		return 0;
	if (m->batch > 1 && m->nto == 1)
		return send_some(m);
	len = snprintf(text, sizeof(text), "%*lld", (int)m->size,
	               m->sent / m->nto + 1);
	if (tend_send(m->ctx, m->to[m->next], text, (size_t)len) < 0) {
		if (errno == ESRCH && m->down++ == 0)
			tend_log(m->ctx, TEND_LOG_INFO, "refused by %s: ESRCH",
			         m->to[m->next]);
		if (errno == EAGAIN || errno == ESRCH) {
			errno == EAGAIN ? m->eagain++ : m->esrch++;
			return errno;
		}
		m->other++; /* skipped: a retry would fail the same way */
		m->down = 0;
		tend_log(m->ctx, TEND_LOG_WARNING, "send to %s: %s",
		         m->to[m->next], errno_name(errno));
	}
	if (m->down)
		tend_log(m->ctx, TEND_LOG_INFO,
		         "accepted by %s again after %lu refusals",
		         m->to[m->next], m->down);
	m->down = 0;
	m->sent++;
	m->next = (m->next + 1) % m->nto;
	if (m->sent == m->count * m->nto)
		tend_log(m->ctx, TEND_LOG_INFO,
		         "sent %lld to %s: eagain %lu, esrch %lu, other %lu",
		         m->count, m->to_list, m->eagain, m->esrch, m->other);
	return 0;
}

static bool all_sent(const struct msgtest *m)
{
	return m->sent >= m->count * m->nto;
}

static void begin(struct msgtest *m)
{
	const char *probe = NULL, *watch = NULL;
	long long size = 5;

	if (tend_setting_string(m->ctx, "watch", &watch) == 0) {
		char *list = strdup(watch), *names[TARGETS];
		int n = split(list, names, TARGETS);
		for (int i = 0; i < n; i++)
			if (tend_watch(m->ctx, names[i]) < 0)
				tend_log(m->ctx, TEND_LOG_INFO, "watch %s: %s",
				         names[i], errno_name(errno));
		free(list);
	}
	if (tend_setting_string(m->ctx, "probe", &probe) == 0) {
		char *buf;
		int rc;
		tend_setting_int(m->ctx, "probe_size", &size);
		buf = calloc(1, (size_t)size + 1);
		memset(buf, 'p', (size_t)size);
		rc = tend_send(m->ctx, probe, buf, (size_t)size);
		tend_log(m->ctx, TEND_LOG_INFO, "probe %s: %s", probe,
		         errno_name(rc < 0 ? errno : 0));
		free(buf);
	}
}

static int mt_init(struct tend_ctx *ctx)
{
	struct msgtest *m = calloc(1, sizeof(*m));
	const char *to = NULL;

	m->ctx = ctx;
	m->count = 100;
	m->batch = 1;
	tend_setting_string(ctx, "to", &to);
	tend_setting_int(ctx, "count", &m->count);
	tend_setting_double(ctx, "interval", &m->interval);
	tend_setting_int(ctx, "expect", &m->expect);
	tend_setting_double(ctx, "slow", &m->slow);
	tend_setting_double(ctx, "first", &m->first);
	tend_setting_int(ctx, "batch", &m->batch);
	tend_setting_int(ctx, "size", &m->size);
	tend_setting_string(ctx, "hold", &m->hold);
	if (m->batch < 1 || m->batch > BATCH_MAX || m->size < 0 ||
	    m->size > 1000) {
		tend_log(ctx, TEND_LOG_ERROR, "batch: 1 to %d, size: 0 to 1000",
		         BATCH_MAX);
		free(m);
		return -1;
	}
	if (to) {
		m->to_list = strdup(to);
		m->to_copy = strdup(to);
		m->nto = split(m->to_copy, m->to, TARGETS);
	}
	if (m->nto == 0)
		m->count = 0;
	tend_set_data(ctx, m);
	return 0;
}

static void mt_fini(struct tend_ctx *ctx)
{
	struct msgtest *m = tend_data(ctx);

	if (m == NULL)
		return; /* init() refused the settings */
	free(m->to_copy);
	free(m->to_list);
	free(m);
}

/* start() executors: send from an idle watcher, pause 1 ms when refused. */
static void on_idle(struct ev_loop *loop, ev_idle *w, int revents)
{
	struct msgtest *m = w->data;

	(void)revents;
	for (int i = 0; i < 64 && !all_sent(m); i++) {
		if (send_one(m) != 0 || m->interval > 0) {
			ev_idle_stop(loop, w);
			ev_timer_set(&m->pause,
			             m->interval > 0 ? m->interval : 0.001, 0.);
			ev_timer_start(loop, &m->pause);
			return;
		}
	}
	if (all_sent(m))
		ev_idle_stop(loop, w);
}

static void on_pause(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct msgtest *m = w->data;

	(void)revents;
	ev_idle_start(loop, &m->idle);
}

static int mt_start(struct tend_ctx *ctx)
{
	struct msgtest *m = tend_data(ctx);

	ev_idle_init(&m->idle, on_idle);
	m->idle.data = m;
	ev_timer_init(&m->pause, on_pause, 0., 0.);
	m->pause.data = m;
	begin(m);
	if (!all_sent(m))
		ev_idle_start(tend_loop(ctx), &m->idle);
	return 0;
}

static void mt_stop(struct tend_ctx *ctx)
{
	struct msgtest *m = tend_data(ctx);

	ev_idle_stop(tend_loop(ctx), &m->idle);
	ev_timer_stop(tend_loop(ctx), &m->pause);
}

static int mt_run(struct tend_ctx *ctx)
{
	struct msgtest *m = tend_data(ctx);
	struct pollfd stop = {.fd = tend_stop_fd(ctx), .events = POLLIN};
	double delay = 0;

	begin(m);
	while (!tend_stopping(ctx)) {
		if (all_sent(m)) {
			poll(&stop, 1, 1000);
			continue;
		}
		if (send_one(m) != 0)
			poll(&stop, 1, 1);
		else if (m->interval > 0)
			poll(&stop, 1, (int)(m->interval * 1000));
	}
	tend_setting_double(ctx, "stop_delay", &delay);
	sleep_for(delay); /* stopping, and refusing messages, that long */
	return 0;
}

TEND_PLUGIN(.name = "msgtest", .version = "1",
            .executors = TEND_EXEC_START | TEND_EXEC_RUN, .init = mt_init,
            .start = mt_start, .run = mt_run, .stop = mt_stop,
            .message = message, .fini = mt_fini);
