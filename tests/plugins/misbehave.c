/*
 * misbehave: a test plugin that runs under every executor and fails on
 * purpose, as its settings say:
 *
 *   action = "none"        run normally, heartbeating
 *            "fail"        tend_fail("on purpose") after `after` seconds
 *            "error"       run() returns `code` (start(): tend_exit(code))
 *            "exit"        finish with tend_exit(code), code 0 by default
 *            "stall"       stop heartbeating after `after`, still stoppable
 *            "ignore_stop" never stop (run loops; a loop callback blocks)
 *            "hang"        ignore_stop, and stop heartbeating
 *            "init_fail"   init() fails
 *            "start_fail"  start() fails
 *            "segv", "abort", "_exit"   crash, abort, _exit(code)
 *            "ignore_term" ignore SIGTERM and stop requests (process)
 *            "fork"        fork a grandchild that leaves with setsid()
 *                          and writes its pid to `pidfile`; run on
 *            "flood"       write `flood_mb` MiB to stdout, then run on
 *            "late_stop"   stop `late` seconds after being asked (thread-async)
 *   after  = 0.05;         seconds before the action
 *   reason = "on purpose"; tend_fail's reason
 *   code   = 3;
 *   notify = false;        call tend_ready() after `after`
 *   hold_mb = 0;           touch that many MiB in init(), kept to the end:
 *                          the process then takes a while to exit
 *   stack_kb = 0;          touch that many KiB of stack in init()
 *   show_env = "NAME";     log "env NAME=value" (or "env NAME unset") in init()
 *   once = "PATH";         act only if PATH is missing, and make it: a
 *                          restart then runs as action "none"
 */
#include <alloca.h>
#include <ev.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <tend/plugin.h>

struct mb {
	struct tend_ctx *ctx;
	const char *action;
	double after;
	long long code;
	int notify;
	double t0;
	int done;
	ev_timer tick;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int is(const struct mb *m, const char *action)
{
	return strcmp(m->action, action) == 0;
}

/* Deep frames, as a start-up that formats or parses much would have. */
__attribute__((noinline)) static void touch_stack(size_t len)
{
	char *p = alloca(len);

	memset(p, 1, len);
	__asm__ volatile("" : : "r"(p) : "memory"); /* keep the stores */
}

static int mb_init(struct tend_ctx *ctx)
{
	struct mb *m = calloc(1, sizeof(*m));
	long long hold = 0, deep = 0;
	const char *name;

	if (m == NULL)
		return -1;
	m->ctx = ctx;
	m->action = "none";
	m->after = 0.05;
	m->code = 3;
	tend_setting_string(ctx, "action", &m->action);
	tend_setting_double(ctx, "after", &m->after);
	tend_setting_int(ctx, "code", &m->code);
	tend_setting_bool(ctx, "notify", &m->notify);
	if (tend_setting_int(ctx, "hold_mb", &hold) == 0 && hold > 0) {
		size_t len = (size_t)hold << 20;
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		               MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p != MAP_FAILED)
			memset(p, 1, len); /* never unmapped: the exit does it */
	}
	if (tend_setting_string(ctx, "once", &name) == 0) {
		int fd = open(name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			m->action = "none"; /* done before */
		else
			close(fd);
	}
	if (tend_setting_string(ctx, "show_env", &name) == 0) {
		const char *value = getenv(name);
		tend_log(ctx, TEND_LOG_INFO, "env %s%s%s", name,
		         value ? "=" : " unset", value ? value : "");
	}
	if (tend_setting_int(ctx, "stack_kb", &deep) == 0 && deep > 0)
		touch_stack((size_t)deep << 10);
	if (is(m, "ignore_term"))
		signal(SIGTERM, SIG_IGN);
	if (is(m, "exit") && tend_setting_int(ctx, "code", &m->code) == 1)
		m->code = 0;
	m->t0 = now();
	tend_set_data(ctx, m);
	tend_log(ctx, TEND_LOG_INFO, "up: action %s after %gs", m->action,
	         m->after);
	return is(m, "init_fail") ? -1 : 0;
}

/* A grandchild that leaves the session and lingers, as daemons do. */
static void fork_away(struct mb *m)
{
	const char *pidfile = "/dev/null";
	pid_t pid;

	m->done = 1;
	tend_setting_string(m->ctx, "pidfile", &pidfile);
	pid = fork();
	if (pid == 0) {
		char buf[32];
		int fd;
		setsid();
		snprintf(buf, sizeof(buf), "%d\n", (int)getpid());
		fd = open(pidfile, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (fd >= 0) {
			(void)!write(fd, buf, strlen(buf));
			close(fd);
		}
		for (;;)
			pause();
	}
	tend_log(m->ctx, TEND_LOG_INFO, "forked %d", (int)pid);
}

static void flood(struct mb *m)
{
	char line[101];
	long long mb = 10;
	size_t total;

	m->done = 1;
	tend_setting_int(m->ctx, "flood_mb", &mb);
	memset(line, 'x', sizeof(line) - 1);
	line[sizeof(line) - 1] = '\n';
	total = (size_t)mb << 20;
	for (size_t n = 0; n < total; n += sizeof(line))
		if (write(1, line, sizeof(line)) < 0)
			break;
	tend_log(m->ctx, TEND_LOG_INFO, "flooded %lld MiB", mb);
}

/*
 * One step of the plan; returns 1 when a run() plugin should return now
 * (with *rc). Shared by run() and the start() plugins' timer.
 */
static int step(struct mb *m, int *rc)
{
	int due = now() - m->t0 >= m->after;

	if (!due) {
		tend_heartbeat(m->ctx);
		return 0;
	}
	if (m->notify && !m->done) {
		m->done = 1;
		tend_ready(m->ctx);
	}
	if (is(m, "fail")) {
		const char *reason = "on purpose";
		tend_setting_string(m->ctx, "reason", &reason);
		tend_fail(m->ctx, "%s", reason);
		*rc = 0;
		return 1;
	}
	if (is(m, "error")) {
		*rc = (int)m->code;
		return 1;
	}
	if (is(m, "exit")) {
		tend_exit(m->ctx, (int)m->code);
		*rc = 0;
		return 1;
	}
	if (is(m, "segv"))
		raise(SIGSEGV); /* as a wild pointer would, minus UBSan */
	if (is(m, "abort"))
		abort();
	if (is(m, "_exit"))
		_exit((int)m->code);
	if (is(m, "fork") && !m->done)
		fork_away(m);
	if (is(m, "flood") && !m->done)
		flood(m);
	if (!is(m, "stall") && !is(m, "hang"))
		tend_heartbeat(m->ctx);
	return 0;
}

static int mb_run(struct tend_ctx *ctx)
{
	struct mb *m = tend_data(ctx);
	struct pollfd stop = {.fd = tend_stop_fd(ctx), .events = POLLIN};
	int rc = 0;

	for (;;) {
		if (step(m, &rc))
			return rc;
		if (tend_stopping(ctx) && !is(m, "ignore_stop") &&
		    !is(m, "ignore_term") && !is(m, "hang"))
			return 0;
		if (is(m, "ignore_stop") || is(m, "ignore_term") || is(m, "hang"))
			usleep(10000);
		else
			poll(&stop, 1, 10);
	}
}

static void on_tick(struct ev_loop *loop, ev_timer *w, int revents)
{
	struct mb *m = w->data;
	int rc = 0;

	(void)loop, (void)revents;
	if (step(m, &rc) && is(m, "error"))
		tend_exit(m->ctx, rc);
	while (is(m, "ignore_stop") && now() - m->t0 >= m->after)
		usleep(10000); /* a callback that never returns */
}

static int mb_start(struct tend_ctx *ctx)
{
	struct mb *m = tend_data(ctx);

	if (is(m, "start_fail"))
		return -1;
	ev_timer_init(&m->tick, on_tick, 0., 0.01);
	m->tick.data = m;
	ev_timer_start(tend_loop(ctx), &m->tick);
	return 0;
}

static void mb_stop(struct tend_ctx *ctx)
{
	struct mb *m = tend_data(ctx);
	double late = 0;

	ev_timer_stop(tend_loop(ctx), &m->tick);
	tend_setting_double(ctx, "late", &late);
	if (is(m, "late_stop"))
		usleep((useconds_t)(late * 1e6));
}

static void mb_fini(struct tend_ctx *ctx) { free(tend_data(ctx)); }

TEND_PLUGIN(.name = "misbehave", .version = "1",
            .executors = TEND_EXEC_START | TEND_EXEC_RUN, .init = mb_init,
            .start = mb_start, .run = mb_run, .stop = mb_stop,
            .fini = mb_fini);
