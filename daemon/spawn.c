/*
 * Starting a runner (see runner.c) for a process service: through the
 * launcher (launcher.c), a runner tendd starts once and that forks each
 * runner after it, or else by posix_spawn of a fresh one.
 *
 * A request to the launcher is answered at once, with the new runner's
 * pid: tendd waits for that answer (a fork of a small process) so that
 * the runner is watched before the loop can reap it. A runner made ahead
 * of its run (exec_process.c) is the exception: its answer is read by the
 * loop, and its caller checks that it is still there. The launcher is
 * tendd's child; when it dies, runners are spawned directly and a new
 * launcher is started at the next start, at most once a second. A
 * launcher that cannot fork runners (no clone3, say) is not restarted.
 */
#include <errno.h>
#include <ev.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "proto.h"
#include "tendd.h"

#define LAUNCHER_TIMEOUT 2    /* s: an answer never takes that long */
#define LAUNCHER_RESTART 1.0  /* s between two launchers */

static struct ev_loop *loop;
static const char *runner_path = TEND_LIBEXECDIR "/tend-runner";
static struct {
	pid_t pid;
	int sock;
	ev_child child;
	double started;
	bool unusable; /* it said it cannot fork runners */
} launcher = {.sock = -1};

/*
 * A request whose answer the loop reads (spawn_runner_ahead()); the next
 * launch() reads it first, answers coming in the order asked.
 */
static struct {
	ev_io io;
	bool waiting;
	void (*done)(void *arg, pid_t pid); /* NULL: forgotten */
	void *arg;
} ahead;

static void broken(ssize_t got);

/*
 * posix_spawn a fresh tend-runner with /dev/null on 0 and from[i] on
 * to[i], in a new session, with a clean signal mask; 0 or an errno.
 */
static int spawn_fresh(char *const argv[], char *const env[],
                       const int *from, const int *to, int n, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, all;
	int rc;

	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	for (int i = 0; i < n; i++)
		posix_spawn_file_actions_adddup2(&fa, from[i], to[i]);
	posix_spawnattr_init(&attr);
	sigemptyset(&none);
	sigfillset(&all);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &all);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID |
	                                    POSIX_SPAWN_SETSIGMASK |
	                                    POSIX_SPAWN_SETSIGDEF);
	rc = posix_spawn(pid, runner_path, &fa, &attr, argv, env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	return rc;
}

static void launcher_gone(void)
{
	if (ahead.waiting) { /* the answer will not come */
		ahead.waiting = false;
		ev_io_stop(loop, &ahead.io);
		if (ahead.done)
			ahead.done(ahead.arg, 0);
	}
	if (launcher.sock >= 0)
		close(launcher.sock);
	launcher.sock = -1;
	launcher.pid = 0;
	ev_child_stop(loop, &launcher.child);
}

static void on_launcher_exit(struct ev_loop *l, ev_child *w, int revents)
{
	(void)l, (void)revents;
	if (WIFSIGNALED(w->rstatus))
		log_at(TEND_LOG_WARNING, "tendd", "launcher pid %d killed by "
		       "signal %d: runners are spawned directly until a new "
		       "one is started", w->rpid, WTERMSIG(w->rstatus));
	else
		log_at(TEND_LOG_WARNING, "tendd", "launcher pid %d exited with "
		       "status %d", w->rpid, WEXITSTATUS(w->rstatus));
	launcher_gone();
}

static void launcher_start(void)
{
	char ppid[24];
	char *argv[] = {(char *)"tend-runner", (char *)"--launcher", ppid, NULL};
	char *env[] = {NULL};
	int sv[2], to = PROTO_FD_LAUNCHER;
	int rc;
	struct timeval tv = {.tv_sec = LAUNCHER_TIMEOUT};

	launcher.started = mono_now();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_warn("cannot make the launcher's socket");
		return;
	}
	snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
	rc = spawn_fresh(argv, env, &sv[1], &to, 1, &launcher.pid);
	close(sv[1]);
	if (rc != 0) {
		log_at(TEND_LOG_WARNING, "tendd", "cannot start the launcher "
		       "'%s': %s", runner_path, strerror(rc));
		close(sv[0]);
		launcher.pid = 0;
		return;
	}
	setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	launcher.sock = sv[0];
	ev_child_init(&launcher.child, on_launcher_exit, launcher.pid, 0);
	ev_child_start(loop, &launcher.child);
	log_debug("launcher pid %d", (int)launcher.pid);
}

void spawn_init(struct ev_loop *l, const char *runner)
{
	loop = l;
	if (runner)
		runner_path = runner;
	launcher_start();
}

void spawn_shutdown(void)
{
	pid_t pid = launcher.pid;

	if (pid <= 0)
		return;
	launcher_gone();
	kill(pid, SIGKILL);
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Send the launcher a request for `s`; false if it is gone. */
static bool ask(const struct runner_spawn *s)
{
	static char buf[LAUNCH_REQ_MAX];
	struct launch_req req = {.flags = s->cgroup >= 0 ? LAUNCH_CGROUP : 0};
	size_t len = sizeof(req), n;
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * LAUNCH_FDS_MAX)];
	} u;
	int nfds = s->cgroup >= 0 ? 5 : 4;
	struct iovec iov;
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
	                    .msg_control = u.buf,
	                    .msg_controllen = CMSG_SPACE(sizeof(int) * nfds)};
	struct cmsghdr *c;

	for (const char *str = s->name; str; str = s->env[req.nenv++]) {
		n = strlen(str) + 1;
		if (len + n > sizeof(buf))
			return false; /* too large to pass: posix_spawn takes it */
		memcpy(buf + len, str, n);
		len += n;
	}
	req.nenv--; /* the name went first */
	memcpy(buf, &req, sizeof(req));
	iov = (struct iovec){buf, len};
	memset(&u, 0, sizeof(u));
	c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
	memcpy(CMSG_DATA(c), s->fds, sizeof(int) * 4);
	if (nfds == 5)
		memcpy(CMSG_DATA(c) + sizeof(int) * 4, &s->cgroup, sizeof(int));
	if (sendmsg(launcher.sock, &mh, MSG_NOSIGNAL) < 0) {
		broken(-1);
		return false;
	}
	return true;
}

/* Never talk to that launcher again: `got` is what the last read gave. */
static void broken(ssize_t got)
{
	log_at(TEND_LOG_WARNING, "tendd", "launcher pid %d does not answer "
	       "(%s): killed", (int)launcher.pid,
	       got == 0 ? "closed" : strerror(errno));
	kill(launcher.pid, SIGKILL);
	launcher_gone();
}

/* The answer to the oldest request: the runner's pid, or 0. */
static pid_t answer(void)
{
	struct launch_ans ans;
	ssize_t got;

	do
		got = recv(launcher.sock, &ans, sizeof(ans), 0);
	while (got < 0 && errno == EINTR);
	if (got != sizeof(ans)) {
		broken(got); /* no answer, or half of one */
		return 0;
	}
	if (ans.pid > 0)
		return ans.pid;
	if (ans.err == ENOSYS || ans.err == EPERM) {
		log_at(TEND_LOG_NOTICE, "tendd", "the launcher cannot fork "
		       "runners (%s): they are spawned directly",
		       strerror(ans.err));
		launcher.unusable = true;
		kill(launcher.pid, SIGKILL);
		launcher_gone();
	}
	return 0;
}

/* The request waiting for its answer, if any: hand that answer over. */
static void finish_ahead(void)
{
	pid_t pid;

	if (!ahead.waiting)
		return;
	ahead.waiting = false;
	ev_io_stop(loop, &ahead.io);
	pid = launcher.sock >= 0 ? answer() : 0;
	/*
	 * Forgotten: its channel is closed, on which it exits by itself. No
	 * kill: the loop may have reaped it already, and the pid be another's.
	 */
	if (ahead.done)
		ahead.done(ahead.arg, pid);
}

static void on_ahead(struct ev_loop *l, ev_io *w, int revents)
{
	(void)l, (void)w, (void)revents;
	finish_ahead();
}

static bool launcher_ready(void)
{
	if (launcher.pid <= 0 && !launcher.unusable &&
	    mono_now() - launcher.started >= LAUNCHER_RESTART)
		launcher_start();
	return launcher.sock >= 0;
}

/* Ask the launcher; 0 when it could not, and the caller spawns. */
static pid_t launch(const struct runner_spawn *s)
{
	finish_ahead(); /* its answer comes first */
	if (!launcher_ready() || !ask(s))
		return 0;
	return answer();
}

bool spawn_runner_ahead(const struct runner_spawn *s,
                        void (*done)(void *arg, pid_t pid), void *arg)
{
	if (ahead.waiting || !launcher_ready() || !ask(s))
		return false;
	ahead.waiting = true;
	ahead.done = done;
	ahead.arg = arg;
	ev_io_init(&ahead.io, on_ahead, launcher.sock, EV_READ);
	ev_io_start(loop, &ahead.io);
	return true;
}

void spawn_runner_wait(void) { finish_ahead(); }

void spawn_runner_forget(void *arg)
{
	if (ahead.waiting && ahead.arg == arg)
		ahead.done = NULL;
}

/*
 * Move a runner spawned directly into its cgroup (the launcher's start
 * in theirs) before it runs any plugin code: it waits for its config,
 * sent after this.
 */
static void join_cgroup(pid_t pid, int dir)
{
	char text[32];
	int fd;

	snprintf(text, sizeof(text), "%d", (int)pid);
	if ((fd = openat(dir, "cgroup.procs", O_WRONLY | O_CLOEXEC)) < 0 ||
	    write(fd, text, strlen(text)) < 0)
		log_warn("cannot move pid %s into its service's cgroup", text);
	if (fd >= 0)
		close(fd);
}

pid_t spawn_runner(const struct runner_spawn *s, char *err, size_t errlen)
{
	static const int to[] = {1, 2, PROTO_FD_CHANNEL, PROTO_FD_PLUGIN};
	char ppid[24];
	char *argv[] = {(char *)"tend-runner", (char *)s->name, ppid, NULL};
	pid_t pid;
	int rc;

	if ((pid = launch(s)) > 0)
		return pid;
	snprintf(ppid, sizeof(ppid), "%d", (int)getpid());
	rc = spawn_fresh(argv, s->env, s->fds, to, 4, &pid);
	if (rc != 0) {
		snprintf(err, errlen, "cannot run '%s': %s", runner_path,
		         strerror(rc));
		return 0;
	}
	if (s->cgroup >= 0)
		join_cgroup(pid, s->cgroup);
	return pid;
}
