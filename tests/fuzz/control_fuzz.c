/*
 * libFuzzer target for the control socket's request parser and dispatch
 * (daemon/control.c), built by `make fuzz` and smoke-run by `make test`
 * (tests/t0610-fuzz-control.sh).
 *
 * control.c is included whole, so its static functions and struct conn
 * are reachable, and it runs unchanged: each input is one client
 * connection, made the way on_accept() makes one but on one end of a
 * socketpair. The input is written into the other end in chunks, libev
 * runs control.c's callbacks (on_conn, on_readable, process_input,
 * handle, on_writable...) on the real fd, and what the daemon answers is
 * read back and checked. The connection ends the way the input says and
 * is freed through conn_free(), so LeakSanitizer sees what it leaves.
 *
 * Linked for real: log.c, recent.c, utf8.c, exit.c, errors.c, clock.c,
 * mailbox.c (each fake service has a mailbox: "clock" takes 2 messages,
 * "worker"'s plugin takes none, the others are not running, "later" has
 * none at all).
 * Stand-ins here: the service table (five fake supervisors: running,
 * ready with a process, failed, in backoff, waiting for what it depends
 * on; what they last exited of and a fake instance when up; two groups),
 * supervisor_start/stop/restart, the reload
 * machinery (reload_request completes synchronously or later, as the
 * input says, with a small fake report; reload_cancel behaves like
 * reload.c's), sv_state_name, executor_name and reload_outcome_name;
 * and geteuid(), for control.c only, so that "the daemon's own user, not
 * root" is tried when fuzzing as root.
 * control.c's log_write() calls are formatted and dropped (set
 * TEND_FUZZ_LOG=1 to see them) so that a run is not a flood on stderr.
 *
 * Input layout:
 *   byte 0  bits 0-1  who the client is, and who runs the daemon (its
 *                     geteuid() is faked): root and root; uid 1000 and
 *                     uid 1000; uid 65534 and root; uid 1000 and root
 *           bits 2-3  reloads complete: 0 at once, 1 later, 2 alternately
 *                     at once and later, 3 later, every other one (the
 *                     first too) with no report (tendd shutting down)
 *           bit  4    services_shutting_down() is true
 *           bits 5-6  how the client ends: 0 stays connected (the daemon
 *                     frees the connection), 1 shuts its writing side at
 *                     once, 2 waits for every reply then shuts its writing
 *                     side, 3 closes at once, before a pending reload's
 *                     reply is written
 *           bit  7    0xff N B in the stream stands for (N+1)*256 bytes B,
 *                     to reach the 64 KiB line limit with a short input
 *   byte 1  bits 0-2  chunk size: 0 varied, 1, 2, 7, 64, 1000, 4096, all
 *           bit  3    a second, idle client is connected too
 *           bit  4    a rejected reload happened before (status shows it)
 *           bit  5    a pending reload may complete at any chunk, not
 *                     only once nothing else moves
 *           bit  6    the client reads its replies only once the daemon
 *                     cannot go on without it: they fill the socket, and
 *                     the daemon has to wait to write
 *           bits 5-7  also the seed of the chunk sizes and of those
 *                     completions
 *   the rest: the bytes the client sends.
 *
 * Besides the sanitizers, these are checked and abort() when wrong:
 * every reply line is a JSON object with "v":1, a boolean "ok" and, when
 * not ok, an "error" string or a reload report; never the "cannot encode"
 * fallback; no
 * more replies than request lines; nothing after an error that closes
 * the connection; a reply is never cut short; the daemon never drops a
 * client that is still connected and has not closed its side, nor stalls
 * while one waits; a client that waits for all its replies gets one per
 * line.
 *
 * tests/fuzz/known/ holds inputs that once found bugs, run as
 * regressions by tests/t0610-fuzz-control.sh.
 */
#include <signal.h>
#include <stdint.h>

#include <unistd.h> /* declares geteuid() before it is redefined */

/* Formatted and dropped: see fuzz_log_write() below. */
#define log_write fuzz_log_write
/* Who the daemon runs as, in control.c: as the input says. */
static uid_t fake_euid;
#define geteuid() fake_euid
#include "../../daemon/control.c"
#undef log_write
#undef geteuid
void log_write(int level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool log_shown; /* TEND_FUZZ_LOG is set */

#define fail(...)                                                     \
	do {                                                          \
		fprintf(stderr, "control_fuzz: " __VA_ARGS__);        \
		fputc('\n', stderr);                                  \
		abort();                                              \
	} while (0)

void fuzz_log_write(int level, const char *who, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;

	va_start(ap, fmt);
	if (log_shown)
		log_vwrite(level, who, fmt, ap);
	else
		vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
}

/* --- The daemon's services, faked. --- */

#define NSERVICES 5
static struct supervisor services[NSERVICES];
static struct exit_info lasts[3]; /* what services 1 to 3 last ended with */
static struct instance instances[NSERVICES];
static bool shutting_down;

static void mailboxes_free(void)
{
	for (int i = 0; i < NSERVICES; i++) {
		mailbox_free(services[i].mailbox);
		services[i].mailbox = NULL;
	}
}

static void services_reset(void)
{
	static const struct {
		const char *name;
		enum executor_kind executor;
		enum sv_state state;
		pid_t pid;
		pid_t tid;
	} init[NSERVICES] = {
	    {"clock", EXEC_ASYNC, SV_RUNNING, 0, 0},
	    {"worker", EXEC_PROCESS, SV_READY, 4242, 0},
	    {"weird", EXEC_THREAD, SV_FAILED, 0, 4243},
	    {"later", EXEC_PROCESS_ASYNC, SV_BACKOFF, 0, 0},
	    {"after", EXEC_ASYNC, SV_STOPPED, 0, 0},
	};
	double now = mono_now();

	memset(services, 0, sizeof(services));
	memset(instances, 0, sizeof(instances));
	for (int i = 0; i < NSERVICES; i++) {
		struct supervisor *sv = &services[i];
		struct instance *in = &instances[i];

		snprintf(sv->cfg.name, sizeof(sv->cfg.name), "%s",
		         init[i].name);
		sv->cfg.executor = init[i].executor;
		sv->state = init[i].state;
		sv->since = now - 5;
		sv->started_at = now - 5;
		in->sv = sv;
		in->pid = init[i].pid;
		in->tid = init[i].tid;
		in->output_dropped = 3;
		snprintf(in->name, sizeof(in->name), "%s", init[i].name);
		if (!sv_state_is_down(sv->state) && sv->state != SV_BACKOFF)
			sv->inst = in;
	}
	for (int i = 0; i < NSERVICES; i++) {
		struct supervisor *sv = &services[i];
		if (i == 3) /* "later": no mailbox, as if not registered */
			continue;
		sv->cfg.mailbox = i == 0 ? 2 : MAILBOX_DEFAULT;
		sv->mailbox = mailbox_new(sv->cfg.name, sv->cfg.mailbox);
		if (sv->inst)
			sv->inst->mail_run = mailbox_open(
			    sv->mailbox, sv->cfg.mailbox, i == 0);
	}
	services[1].output_dropped = 7;
	services[1].restarts = 2;
	services[1].last = &lasts[0];
	services[1].last->kind = EXIT_SIGNALED;
	services[1].last->code = 9;
	services[1].last->core = true;
	services[4].waiting = true; /* for what it depends on */
	services[3].last = &lasts[1];
	services[3].last->kind = EXIT_HUNG;
	snprintf(lasts[1].reason, sizeof(lasts[1].reason),
	         "no heartbeat within 5s");
	services[3].next_start = now + 0.5;
	services[3].output_dropped = 1;
	services[2].last = &lasts[2];
	services[2].last->kind = EXIT_FAILED;
	services[2].gave_up = true;
	services[2].restarts = 5;
	/* cut mid-character, and not UTF-8 at all */
	snprintf(lasts[2].reason, sizeof(lasts[2].reason),
	         "bad \xff\xfe bytes, then \xc3\xa9\xc3");
}

size_t services_count(void) { return NSERVICES; }

struct supervisor *services_at(size_t i)
{
	if (i >= NSERVICES)
		fail("services_at(%zu): out of range", i);
	return &services[i];
}

struct supervisor *services_find(const char *name)
{
	for (size_t i = 0; i < NSERVICES; i++)
		if (strcmp(services[i].cfg.name, name) == 0)
			return &services[i];
	return NULL;
}

bool services_shutting_down(void) { return shutting_down; }

static const struct {
	const char *name, *strategy, *members[2];
	bool failed;
	unsigned restarts;
} groups[] = {
    {"pair", "one_for_all", {"clock", "worker"}, false, 1},
    {"lone", "rest_for_one", {"weird", NULL}, true, 4},
};
#define NGROUPS (sizeof(groups) / sizeof(*groups))

size_t services_groups(void) { return NGROUPS; }

void services_group_info(size_t i, const char **name, const char **strategy,
                         bool *failed, unsigned *restarts)
{
	if (i >= NGROUPS)
		fail("services_group_info(%zu): out of range", i);
	*name = groups[i].name;
	*strategy = groups[i].strategy;
	*failed = groups[i].failed;
	*restarts = groups[i].restarts;
}

const char *services_group_of(const struct supervisor *sv)
{
	for (size_t g = 0; g < NGROUPS; g++)
		for (size_t m = 0; m < 2; m++)
			if (groups[g].members[m] &&
			    strcmp(groups[g].members[m], sv->cfg.name) == 0)
				return groups[g].name;
	return NULL;
}

static void set_state(struct supervisor *sv, enum sv_state to)
{
	sv->state = to;
	sv->since = mono_now();
	sv->inst = sv_state_is_down(to) || to == SV_BACKOFF
	               ? NULL
	               : &instances[sv - services];
	if (to == SV_STARTING)
		sv->started_at = sv->since;
	if (to == SV_BACKOFF)
		sv->next_start = sv->since + 0.5;
}

int supervisor_start(struct supervisor *sv)
{
	sv->stop_wanted = false;
	if (sv->state == SV_STOPPING)
		sv->restart_wanted = true;
	else if (sv_state_is_down(sv->state) || sv->state == SV_BACKOFF)
		set_state(sv, SV_STARTING);
	return 0;
}

int supervisor_stop(struct supervisor *sv)
{
	sv->stop_wanted = true;
	sv->restart_wanted = false;
	if (sv->state == SV_BACKOFF)
		set_state(sv, SV_STOPPED);
	else if (!sv_state_is_down(sv->state))
		set_state(sv, SV_STOPPING);
	return 0;
}

int supervisor_restart(struct supervisor *sv)
{
	if (sv->state == SV_STARTING || sv->state == SV_RUNNING ||
	    sv->state == SV_READY || sv->state == SV_STOPPING) {
		sv->stop_wanted = true;
		sv->restart_wanted = true;
		set_state(sv, SV_STOPPING);
		return 0;
	}
	set_state(sv, SV_STARTING);
	return 0;
}

bool sv_state_is_down(enum sv_state s)
{
	return s == SV_STOPPED || s == SV_EXITED || s == SV_FAILED;
}

const char *sv_state_name(enum sv_state s)
{
	static const char *const names[SV_NSTATES] = {
	    [SV_STOPPED] = "stopped",   [SV_STARTING] = "starting",
	    [SV_RUNNING] = "running",   [SV_READY] = "ready",
	    [SV_STOPPING] = "stopping", [SV_BACKOFF] = "backoff",
	    [SV_EXITED] = "exited",     [SV_FAILED] = "failed",
	};
	if ((unsigned)s >= SV_NSTATES)
		fail("sv_state_name(%d)", (int)s);
	return names[s];
}

const char *executor_name(enum executor_kind k)
{
	static const char *const names[EXEC_KINDS] = {
	    [EXEC_ASYNC] = "async",
	    [EXEC_THREAD] = "thread",
	    [EXEC_THREAD_ASYNC] = "thread-async",
	    [EXEC_PROCESS] = "process",
	    [EXEC_PROCESS_ASYNC] = "process-async",
	};
	if ((unsigned)k >= EXEC_KINDS)
		fail("executor_name(%d)", (int)k);
	return names[k];
}

/* --- The reload machinery, faked. --- */

const char *reload_outcome_name(enum reload_outcome o)
{
	static const char *const names[] = {
	    [RO_UNCHANGED] = "unchanged", [RO_ADDED] = "added",
	    [RO_REMOVED] = "removed",     [RO_RESTARTED] = "restarted",
	    [RO_RECONFIGURED] = "reconfigured", [RO_FAILED] = "failed",
	};
	if ((unsigned)o > RO_FAILED)
		fail("reload_outcome_name(%d)", (int)o);
	return names[o];
}

struct waiter {
	reload_done_fn *fn; /* NULL once cancelled */
	void *arg;
	bool dry;
	bool no_report; /* complete with NULL: tendd is shutting down */
	char origin[64];
	struct waiter *next;
};

static struct waiter *pending; /* reloads to complete later */
static struct reload_report *last;
static unsigned long reload_ids;
static unsigned reload_mode; /* byte 0, bits 2-3 */
static unsigned reload_calls;

static void report_free(struct reload_report *r)
{
	if (r == NULL)
		return;
	errors_clear(&r->errors);
	errors_clear(&r->notes);
	for (size_t i = 0; i < r->nitems; i++)
		free(r->items[i].reason);
	free(r->items);
	free(r);
}

static void add_item(struct reload_report *r, const char *name,
                     enum reload_outcome o, const char *reason)
{
	struct reload_item *grown =
	    realloc(r->items, (r->nitems + 1) * sizeof(*grown));
	struct reload_item *it;

	if (grown == NULL)
		fail("out of memory");
	r->items = grown;
	it = &r->items[r->nitems++];
	memset(it, 0, sizeof(*it));
	snprintf(it->name, sizeof(it->name), "%s", name);
	it->outcome = o;
	if (reason && (it->reason = strdup(reason)) == NULL)
		fail("out of memory");
}

/* One of three kinds of report: applied, a service failed, rejected;
 * or, bare, one with nothing in it yet. */
static struct reload_report *report_new(bool dry, const char *origin,
                                        bool bare)
{
	struct reload_report *r = calloc(1, sizeof(*r));

	if (r == NULL)
		fail("out of memory");
	r->id = ++reload_ids;
	r->dry_run = dry;
	snprintf(r->origin, sizeof(r->origin), "%s", origin);
	r->started = mono_now() - 0.25;
	r->took = 0.25;
	switch (bare ? -1 : (int)(r->id % 3)) {
	case 0:
		add_item(r, "clock", RO_UNCHANGED, NULL);
		add_item(r, "worker", RO_RESTARTED, "config changed");
		add_item(r, "fresh", RO_ADDED, NULL);
		break;
	case 1:
		add_item(r, "clock", RO_RECONFIGURED, "settings changed");
		add_item(r, "worker", RO_FAILED,
		         "cannot load 'w\xffrker.so': \xc3");
		add_item(r, "gone", RO_REMOVED, NULL);
		errors_add(&r->notes, "tend", 0, "log.level: info -> debug");
		break;
	case 2:
		r->rejected = true;
		errors_add(&r->errors, "/etc/tend/tend.conf", 12,
		           "colour: unknown key \xe2\x82");
		errors_add(&r->errors, "/etc/tend/conf.d/x.conf", 0,
		           "syntax error");
		break;
	default:
		break;
	}
	return r;
}

static void complete(reload_done_fn *fn, void *arg, bool dry,
                     const char *origin, bool no_report)
{
	struct reload_report *r;

	if (no_report) {
		fn(arg, NULL);
		return;
	}
	r = report_new(dry, origin, false);
	fn(arg, r);
	if (dry) {
		report_free(r);
	} else {
		report_free(last);
		last = r;
	}
}

void reload_request(bool dry, const char *origin, reload_done_fn *fn,
                    void *arg)
{
	unsigned n = reload_calls++;
	struct waiter *w;

	if (shutting_down) { /* as reload.c: rejected, at once */
		struct reload_report *r = report_new(dry, origin, true);
		r->rejected = true;
		errors_add(&r->errors, "tendd", 0, "shutting down: no reload");
		fn(arg, r);
		report_free(r);
		return;
	}
	if (reload_mode == 0 || (reload_mode == 2 && n % 2 == 0)) {
		complete(fn, arg, dry, origin, false);
		return;
	}
	w = calloc(1, sizeof(*w));
	if (w == NULL)
		fail("out of memory");
	w->fn = fn;
	w->arg = arg;
	w->dry = dry;
	w->no_report = reload_mode == 3 && n % 2 == 0;
	snprintf(w->origin, sizeof(w->origin), "%s", origin);
	w->next = pending;
	pending = w;
}

void reload_cancel(void *arg)
{
	for (struct waiter *w = pending; w; w = w->next)
		if (w->arg == arg)
			w->fn = NULL;
}

const struct reload_report *reload_last(void) { return last; }

/* Complete every pending reload; true if there was one. */
static bool complete_pending(void)
{
	struct waiter *w = pending;

	pending = NULL;
	if (w == NULL)
		return false;
	while (w) {
		struct waiter *next = w->next;
		if (w->fn)
			complete(w->fn, w->arg, w->dry, w->origin,
			         w->no_report);
		free(w);
		w = next;
	}
	return true;
}

/* --- One client. --- */

static struct {
	struct conn *c;    /* NULL once control.c freed it */
	int peer;          /* the client's end, -1 once closed */
	bool peer_shut;    /* the client shut its writing side */
	bool idled;        /* its idle timeout expired, and freed it */
	bool freed_by_us;  /* conn_free() called here, not by control.c */
	bool eof;          /* the daemon's side is shut: all read */
	bool closing_seen; /* a reply that closes the connection came */
	bool slow;         /* reads only when the daemon is stuck */
	size_t lines_sent; /* complete request lines written */
	size_t replies;
	char *reply;       /* a reply line not yet complete */
	size_t replylen;
	uint32_t rng;
} cl;

static uint32_t next_random(void)
{
	uint32_t x = cl.rng;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return cl.rng = x;
}

static unsigned long callbacks; /* calls of control.c's on_conn() */

/* on_conn(), counted: a call is the daemon's side moving (level-triggered,
 * it is called only when the fd is ready for what the daemon waits for) */
static void counted_on_conn(struct ev_loop *l, ev_io *w, int revents)
{
	callbacks++;
	on_conn(l, w, revents);
}

static struct conn *conn_new(int fd, uid_t uid)
{
	/* as on_accept() does, but for the counting callback */
	struct conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		fail("out of memory");
	c->fd = fd;
	c->uid = uid;
	ev_io_init(&c->io, counted_on_conn, fd, EV_READ);
	c->io.data = c;
	ev_io_start(loop, &c->io);
	ev_init(&c->idle, on_idle);
	c->idle.repeat = CONTROL_IDLE;
	c->idle.data = c;
	ev_timer_again(loop, &c->idle);
	c->next = conns;
	conns = c;
	nconns++;
	return c;
}

static bool conn_alive(const struct conn *c)
{
	for (const struct conn *at = conns; at; at = at->next)
		if (at == c)
			return true;
	return false;
}

static void check_reply(const char *line, size_t len)
{
	json_error_t jerr;
	json_t *r = json_loadb(line, len, 0, &jerr), *ok, *err, *v;

	if (cl.closing_seen)
		fail("a reply after the one that closes the connection: %.*s",
		     (int)len, line);
	if (++cl.replies > cl.lines_sent + 1)
		fail("%zu replies to %zu request lines", cl.replies,
		     cl.lines_sent);
	if (r == NULL || !json_is_object(r))
		fail("reply is not a JSON object (%s): %.*s",
		     r ? "not an object" : jerr.text, (int)len, line);
	v = json_object_get(r, "v");
	ok = json_object_get(r, "ok");
	err = json_object_get(r, "error");
	if (!json_is_integer(v) || json_integer_value(v) != CONTROL_VERSION)
		fail("reply without \"v\":1: %.*s", (int)len, line);
	if (!json_is_boolean(ok))
		fail("reply without a boolean \"ok\": %.*s", (int)len, line);
	if (json_is_false(ok) && !json_is_string(err) &&
	    json_object_get(r, "reload") == NULL)
		fail("failure without an \"error\": %.*s", (int)len, line);
	if (json_is_string(err)) {
		const char *e = json_string_value(err);
		if (strcmp(e, "cannot encode the reply") == 0)
			fail("a reply could not be encoded");
		if (strncmp(e, "malformed request", 17) == 0 ||
		    strncmp(e, "request longer than", 19) == 0)
			cl.closing_seen = true;
	}
	json_decref(r);
}

/* Read what the daemon wrote; true if anything came. */
static bool drain(void)
{
	static char buf[65536];
	bool got = false;
	ssize_t n;

	if (cl.peer < 0 || cl.eof)
		return false;
	while ((n = read(cl.peer, buf, sizeof(buf))) > 0) {
		char *grown = realloc(cl.reply, cl.replylen + (size_t)n);
		char *start, *nl;
		if (grown == NULL)
			fail("out of memory");
		cl.reply = grown;
		memcpy(cl.reply + cl.replylen, buf, (size_t)n);
		cl.replylen += (size_t)n;
		got = true;
		start = cl.reply;
		while ((nl = memchr(start, '\n',
		                    cl.replylen - (size_t)(start - cl.reply)))) {
			check_reply(start, (size_t)(nl - start));
			start = nl + 1;
		}
		cl.replylen -= (size_t)(start - cl.reply);
		memmove(cl.reply, start, cl.replylen);
	}
	if (n == 0 || (n < 0 && errno == ECONNRESET)) {
		cl.eof = true;
		got = true;
		if (cl.replylen > 0 && !cl.freed_by_us && !cl.idled)
			fail("a reply cut short: %.*s", (int)cl.replylen,
			     cl.reply);
	} else if (errno != EAGAIN) {
		fail("read from the daemon: %s", strerror(errno));
	}
	return got;
}

/* Has control.c freed the client's connection? Should it have? */
static void check_alive(void)
{
	if (cl.c == NULL || conn_alive(cl.c))
		return;
	if (cl.peer_shut || cl.peer < 0 || cl.idled) {
		cl.c = NULL;
		return;
	}
	fail("the daemon dropped a client that is still connected");
}

/* Run the daemon's side until nothing moves; true if anything did. */
static bool pump(void)
{
	bool moved = false;

	for (int i = 0;; i++) {
		bool got = !cl.slow && drain();
		unsigned long before = callbacks;
		ev_run(loop, EVRUN_NOWAIT);
		check_alive();
		if (!got && callbacks == before && !(cl.slow && drain()))
			return moved;
		moved = true;
		if (i == 100000)
			fail("the connection never settles");
	}
}

/* Run until settled, completing pending reloads as they come. */
static void settle(void)
{
	do
		pump();
	while (complete_pending());
}

static size_t count_lines(const char *p, size_t n)
{
	const char *end = p + n, *nl;
	size_t lines = 0;

	while ((nl = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		lines++;
		p = nl + 1;
	}
	return lines;
}

static size_t chunk_size(unsigned kind, size_t written)
{
	static const size_t fixed[8] = {0, 1, 2, 7, 64, 1000, 4096, SIZE_MAX};
	static const size_t varied[] = {1,   2,    3,    5,    8,    13,
	                                64,  200,  1000, 4096, 16384, 65536};
	size_t n = fixed[kind & 7];

	if (n == 0)
		n = varied[next_random() % (sizeof(varied) / sizeof(*varied))];
	if (written > 8192 && n < 1024) /* keep long inputs fast */
		n = 1024;
	return n;
}

/* The stream the client sends, with 0xff N B runs expanded. */
static char *expand(const uint8_t *p, size_t n, bool rle, size_t *len)
{
	const size_t cap = 4 * CONTROL_LINE_MAX;
	size_t out = 0;
	char *buf;

	if (!rle) {
		buf = malloc(n ? n : 1);
		if (buf == NULL)
			fail("out of memory");
		memcpy(buf, p, n);
		*len = n;
		return buf;
	}
	buf = malloc(cap + n);
	if (buf == NULL)
		fail("out of memory");
	for (size_t i = 0; i < n; i++) {
		if (p[i] == 0xff && i + 2 < n) {
			size_t run = ((size_t)p[i + 1] + 1) * 256;
			if (out + run > cap) /* literal bytes go past cap */
				run = out < cap ? cap - out : 0;
			memset(buf + out, p[i + 2], run);
			out += run;
			i += 2;
		} else {
			buf[out++] = (char)p[i]; /* at most n of these */
		}
	}
	*len = out;
	return buf;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int saved;

	(void)argc, (void)argv;
	signal(SIGPIPE, SIG_IGN); /* as main.c */
	loop = ev_loop_new(EVFLAG_AUTO);
	if (loop == NULL)
		fail("ev_loop_new");
	log_shown = getenv("TEND_FUZZ_LOG") != NULL;
	/* What services logged, for status NAME: through log.c's hook
	 * into recent.c, with stderr out of the way meanwhile. */
	recent_init();
	saved = dup(STDERR_FILENO);
	if (!log_shown) {
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, STDERR_FILENO);
			close(null);
		}
	}
	for (int i = 0; i < RECENT_LINES + 1; i++)
		log_write(TEND_LOG_INFO, "clock", "tick %d", i);
	log_write(TEND_LOG_WARNING, "weird", "not UTF-8: \xff\xfe, cut: \xc3");
	log_write(TEND_LOG_ERROR, "weird", "%0300d", 7); /* cut at 199 */
	log_write(TEND_LOG_DEBUG, "worker", "caf\xc3\xa9");
	if (saved >= 0) {
		dup2(saved, STDERR_FILENO);
		close(saved);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uid_t client[4] = {0, 1000, 65534, 1000};
	static const uid_t runs_as[4] = {0, 1000, 0, 0};
	int sv[2];
	struct conn *bystander = NULL;
	unsigned end;
	char *stream;
	size_t len, off = 0;

	if (size < 2)
		return 0;
	/* the daemon's state, as at start-up */
	services_reset();
	log_threshold = TEND_LOG_INFO;
	shutting_down = data[0] & 0x10;
	reload_mode = (data[0] >> 2) & 3;
	reload_calls = 0;
	reload_ids = 0;
	if (data[1] & 0x10) { /* id 2: the rejected kind */
		reload_ids = 1;
		last = report_new(false, "SIGHUP", false);
	}
	end = (data[0] >> 5) & 3;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
	               sv) < 0)
		fail("socketpair: %s", strerror(errno));
	memset(&cl, 0, sizeof(cl));
	cl.peer = sv[1];
	cl.rng = 0x9e3779b9u ^ ((uint32_t)data[1] << 8 | data[0]);
	cl.slow = data[1] & 0x40;
	fake_euid = runs_as[data[0] & 3];
	cl.c = conn_new(sv[0], client[data[0] & 3]);
	if (data[1] & 0x08) { /* another client, idle, not at the head */
		int other[2];
		if (socketpair(AF_UNIX,
		               SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
		               other) < 0)
			fail("socketpair: %s", strerror(errno));
		bystander = conn_new(other[0], 65534);
		close(other[1]);
		/* it is closed, but is read only if the loop sees it:
		 * stop watching so that it stays until the end */
		ev_io_stop(loop, &bystander->io);
		ev_timer_stop(loop, &bystander->idle);
	}

	stream = expand(data + 2, size - 2, data[0] & 0x80, &len);
	while (off < len && cl.c) {
		size_t n = chunk_size(data[1], off);
		ssize_t w;

		if (n > len - off)
			n = len - off;
		w = write(cl.peer, stream + off, n);
		if (w > 0) {
			cl.lines_sent += count_lines(stream + off, (size_t)w);
			off += (size_t)w;
		} else if (errno != EAGAIN) {
			fail("write to the daemon: %s", strerror(errno));
		}
		if (!pump() && w < 0 && !complete_pending() && cl.c &&
		    !cl.c->draining)
			fail("stalled: the daemon reads nothing and waits for "
			     "nothing (inlen %zu, out %zu/%zu)",
			     cl.c->inlen, cl.c->outoff, cl.c->outlen);
		if ((data[1] & 0x20) && next_random() % 4 == 0)
			complete_pending();
	}
	free(stream);

	switch (end) {
	case 0: /* stays, silent: its idle timeout expires (it is kept if
	         * it waits for a reload); else the daemon frees it, as
	         * control_close() does */
		pump();
		if (cl.c) {
			cl.idled = !cl.c->waiting;
			ev_feed_event(loop, &cl.c->idle, EV_TIMER);
			pump();
			if (cl.c && !cl.c->waiting)
				fail("an idle client that waits for nothing "
				     "stays");
		}
		settle();
		break;
	case 1: /* shuts its side at once, maybe before a reply: every
	         * line it sent is answered all the same */
		shutdown(cl.peer, SHUT_WR);
		cl.peer_shut = true;
		pump();
		settle();
		if (!cl.closing_seen && cl.replies != cl.lines_sent)
			fail("%zu replies to %zu request lines, the client's "
			     "side shut",
			     cl.replies, cl.lines_sent);
		break;
	case 2: /* every reply first, then shuts its side */
		settle();
		if (cl.c && !cl.closing_seen && cl.replies != cl.lines_sent)
			fail("%zu replies to %zu request lines, all read",
			     cl.replies, cl.lines_sent);
		shutdown(cl.peer, SHUT_WR);
		cl.peer_shut = true;
		settle();
		if (cl.c)
			fail("the client closed and the daemon stays");
		break;
	case 3: /* gone at once, even before a reload's reply is out */
		close(cl.peer);
		cl.peer = -1;
		complete_pending();
		settle();
		break;
	}
	check_alive();
	if (cl.c) {
		cl.freed_by_us = true;
		conn_free(cl.c);
		cl.c = NULL;
	}
	settle(); /* a reload the connection waited for is cancelled */
	drain();
	if (bystander)
		conn_free(bystander);
	if (conns != NULL || nconns != 0)
		fail("%d connections left", nconns);
	if (cl.peer >= 0)
		close(cl.peer);
	free(cl.reply);
	report_free(last);
	last = NULL;
	mailboxes_free(); /* with the messages sent to them */
	return 0;
}
