/*
 * exec: supervise an ordinary program, under the process executor.
 *
 *   settings = { command = "/usr/bin/redis-server";
 *                args = [ "--port", "6380" ]; };
 *   settings = { cmdline = "redis-server --port 6380"; };
 *
 * The runner has already applied the service's process options (user,
 * group, umask, workdir, env, rlimits, no_new_privs) when run() is called,
 * so the program, a child of the runner, inherits them. run() forks it in
 * a session of its own (its pid leads its process group), with a clean
 * signal mask and default dispositions, the runner's stdout and stderr
 * (which tendd logs) and no other file descriptor, then waits for it, for
 * a stop request, for tendd's SIGTERM and for what the program says on
 * its NOTIFY_SOCKET.
 *
 * How the program ended becomes how the runner ends: an exit code is
 * returned by run(); death by a signal is repeated by fini(), which
 * raises the same signal on the runner, so that tendd reports "killed by
 * signal N" exactly. Stopping sends stop_signal (and SIGCONT) to the
 * program's process group; a death by that signal is a clean stop. When
 * the program outlives the service's stop_timeout, tendd's SIGTERM to the
 * runner (blocked here, read through a signalfd) makes the plugin
 * SIGKILL the program's process group.
 *
 * reload() and message() run on the runner's reader thread while run()
 * runs; `lock` keeps them from signalling a pid that run() has reaped.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <tend/plugin.h>

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"
#define NOTIFY_MAX 4096      /* the longest notification taken */
#define CONNECT_PATIENCE 1.0 /* seconds a ready_check connect may take */

extern char **environ;

/* A NULL-terminated, growable array of strings it owns. */
struct strv {
	char **v;
	size_t n, cap;
};

/* What the settings say. */
struct conf {
	struct strv argv; /* the program and its arguments */
	int stop_signal;
	int reload_signal;  /* 0: none */
	int notify;         /* give the program a NOTIFY_SOCKET */
	double watchdog;    /* > 0: WATCHDOG_USEC for the program */
	char *ready_tcp;    /* ready_check.tcp, "host:port" */
	char *ready_file;   /* ready_check.file */
	double ready_every; /* ready_check.interval */
};

/* The readiness check of one run. */
struct check {
	bool on;
	struct addrinfo *ai; /* tcp: resolved once */
	int fd;              /* tcp: a connect under way, or -1 */
	double since;        /* when that connect began */
	double next;         /* the next attempt */
	bool existed;        /* file: there before the program started */
	struct stat before;  /* as it was then */
	bool warned;
};

/* One run of the program. */
struct run {
	int sigfd;  /* SIGTERM, from tendd's escalation */
	int pidfd;  /* readable when the program ends; -1: poll for it */
	int status; /* waitpid()'s */
	bool stop_sent;
	int stop_sig;     /* the signal it was sent */
	bool killed;      /* SIGKILLed by us */
	double next_beat; /* heartbeats for the program until it is ready */
	struct check check;
};

struct exec {
	struct conf conf;
	_Atomic int stop_signal; /* reload() may change these two */
	_Atomic int reload_signal;
	pthread_mutex_t lock; /* pid, against reload() and message() */
	pid_t pid;            /* the program, until reaped; then 0 */
	int notify_fd;
	char notify_env[64]; /* NOTIFY_SOCKET=@... */
	bool ready;
	bool refused_said;
	int die_by; /* fini(): end by this signal */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *sig_name(int sig)
{
	const char *n = sigabbrev_np(sig);
	return n ? n : "?";
}

static int strv_push(struct strv *sv, const char *s, size_t len)
{
	char *copy;

	if (sv->n + 2 > sv->cap) {
		size_t cap = sv->cap ? sv->cap * 2 : 8;
		char **v = realloc(sv->v, cap * sizeof(*v));
		if (v == NULL)
			return -1;
		sv->v = v;
		sv->cap = cap;
	}
	if ((copy = strndup(s, len)) == NULL)
		return -1;
	sv->v[sv->n++] = copy;
	sv->v[sv->n] = NULL;
	return 0;
}

static void strv_clear(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	memset(sv, 0, sizeof(*sv));
}

static bool strv_equal(const struct strv *a, const struct strv *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

/*
 * Split `s` into words as a POSIX shell would, without running one:
 * blanks separate words; '...' keeps everything as it is; "..." too,
 * except that a backslash escapes \ " $ ` and a newline; a backslash
 * outside quotes escapes the next character. Nothing is expanded, so
 * what only a shell could do (unquoted | & ; < > ( ) $ `, a # starting a
 * word) is refused rather than passed on as an argument. 0, or -1 with
 * the reason in err.
 */
static int split_cmdline(const char *s, struct strv *out, char *err,
                         size_t errlen)
{
	char *word = malloc(strlen(s) + 1);
	size_t n = 0;
	bool in_word = false;

	if (word == NULL)
		goto nomem;
	while (*s) {
		char c = *s++;

		if (c == '\\' && *s == '\n') { /* a continued line */
			s++;
			continue;
		}
		if (c == ' ' || c == '\t' || c == '\n') {
			if (in_word && strv_push(out, word, n) < 0)
				goto nomem;
			in_word = false;
			n = 0;
			continue;
		}
		if (c == '#' && !in_word) {
			snprintf(err, errlen, "a word starts with '#': quote "
			         "it, there is no shell to make it a comment");
			goto fail;
		}
		in_word = true;
		if (c == '\\') {
			if (*s == '\0') {
				snprintf(err, errlen,
				         "it ends with a backslash");
				goto fail;
			}
			word[n++] = *s++;
		} else if (c == '\'') {
			while (*s && *s != '\'')
				word[n++] = *s++;
			if (*s++ == '\0') {
				snprintf(err, errlen, "a ' is not closed");
				goto fail;
			}
		} else if (c == '"') {
			for (; *s && *s != '"'; s++) {
				if (*s == '\\' && s[1] == '\n') {
					s++;
					continue;
				}
				if (*s == '\\' && s[1] &&
				    strchr("\\\"$`", s[1]))
					s++;
				else if (*s == '$' || *s == '`')
					goto shell;
				word[n++] = *s;
			}
			if (*s++ == '\0') {
				snprintf(err, errlen, "a \" is not closed");
				goto fail;
			}
		} else if (strchr("|&;<>()$`", c)) {
			s--;
			goto shell;
		} else {
			word[n++] = c;
		}
	}
	if (in_word && strv_push(out, word, n) < 0)
		goto nomem;
	free(word);
	if (out->n == 0) {
		snprintf(err, errlen, "no command in it");
		return -1;
	}
	return 0;
shell:
	snprintf(err, errlen, "'%c' needs a shell, and there is none: quote "
	         "it, or run sh -c '...'", *s);
	goto fail;
nomem:
	snprintf(err, errlen, "out of memory");
fail:
	free(word);
	return -1;
}

/* "SIGTERM", "TERM", "term" or "15"; -1 when it names no signal. */
static int signal_number(const char *name)
{
	const char *n = strncasecmp(name, "SIG", 3) == 0 ? name + 3 : name;
	char *end;
	long v;

	for (int s = 1; s < NSIG; s++) {
		const char *abbrev = sigabbrev_np(s);
		if (abbrev && strcasecmp(abbrev, n) == 0)
			return s;
	}
	v = strtol(name, &end, 10);
	return name[0] && *end == '\0' && v > 0 && v < NSIG ? (int)v : -1;
}

/* A signal setting into *sig (left alone when absent); -1 when wrong. */
static int read_signal(struct tend_ctx *ctx, const char *key, int *sig)
{
	const char *s;
	int rc = tend_setting_string(ctx, key, &s);

	if (rc != 0)
		return rc < 0 ? -1 : 0;
	if ((*sig = signal_number(s)) < 0) {
		tend_log(ctx, TEND_LOG_ERROR,
		         "settings.%s: '%s' is not a signal", key, s);
		return -1;
	}
	return 0;
}

/* `args`: a list of strings. */
static int read_args(struct tend_ctx *ctx, struct strv *argv)
{
	const char *s;
	char key[32];
	int rc;

	for (size_t i = 0;; i++) {
		snprintf(key, sizeof(key), "args.%zu", i);
		rc = tend_setting_string(ctx, key, &s);
		if (rc < 0)
			return -1; /* the host said which and why */
		if (rc == 1 && i > 0)
			return 0;
		if (rc == 1)
			break;
		if (strv_push(argv, s, strlen(s)) < 0)
			return -1;
	}
	/*
	 * No element 0: absent, or not a list. An empty list lands here too,
	 * and the settings API cannot tell it from a string or a number
	 * without logging a mismatch: leave args out for no arguments.
	 */
	rc = tend_setting_string(ctx, "args", &s);
	if (rc == 1)
		return 0;
	tend_log(ctx, TEND_LOG_ERROR, "settings.args: must be a list of "
	         "strings, at least one (leave it out for none; for one line "
	         "split like a shell would, use cmdline)");
	return -1;
}

/* "host:port" or "[v6]:port", with a port number. */
static bool valid_hostport(const char *s)
{
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	if (colon == NULL || colon == s)
		return false;
	port = strtol(colon + 1, &end, 10);
	return colon[1] && *end == '\0' && port > 0 && port < 65536;
}

static int read_ready_check(struct tend_ctx *ctx, struct conf *c)
{
	const char *tcp = NULL, *file = NULL;
	int bad = 0;

	bad |= tend_setting_string(ctx, "ready_check.tcp", &tcp) < 0;
	bad |= tend_setting_string(ctx, "ready_check.file", &file) < 0;
	bad |= tend_setting_double(ctx, "ready_check.interval",
	                           &c->ready_every) < 0;
	if (bad)
		return -1;
	if (tcp && file) {
		tend_log(ctx, TEND_LOG_ERROR,
		         "settings.ready_check: tcp or file, not both");
		return -1;
	}
	if (tcp && !valid_hostport(tcp)) {
		tend_log(ctx, TEND_LOG_ERROR,
		         "settings.ready_check.tcp: '%s' is not host:port",
		         tcp);
		return -1;
	}
	if (file && !file[0]) {
		tend_log(ctx, TEND_LOG_ERROR,
		         "settings.ready_check.file: is empty");
		return -1;
	}
	if (!(c->ready_every > 0 && c->ready_every <= 60)) {
		tend_log(ctx, TEND_LOG_ERROR,
		         "settings.ready_check.interval: must be over 0, at "
		         "most 60");
		return -1;
	}
	if ((tcp && (c->ready_tcp = strdup(tcp)) == NULL) ||
	    (file && (c->ready_file = strdup(file)) == NULL))
		return -1;
	return 0;
}

static void conf_clear(struct conf *c)
{
	strv_clear(&c->argv);
	free(c->ready_tcp);
	free(c->ready_file);
	memset(c, 0, sizeof(*c));
}

/* The settings, checked; -1 when anything is wrong, each problem logged. */
static int conf_read(struct tend_ctx *ctx, struct conf *c)
{
	const char *command = NULL, *cmdline = NULL;
	char why[256];
	int bad = 0;

	memset(c, 0, sizeof(*c));
	c->stop_signal = SIGTERM;
	c->notify = 1;
	c->ready_every = 0.05;
	bad |= tend_setting_string(ctx, "command", &command) < 0;
	bad |= tend_setting_string(ctx, "cmdline", &cmdline) < 0;
	if (command && cmdline) {
		tend_log(ctx, TEND_LOG_ERROR,
		         "settings: command or cmdline, not both");
		bad = 1;
	} else if (command) {
		if (!command[0]) {
			tend_log(ctx, TEND_LOG_ERROR,
			         "settings.command: is empty");
			bad = 1;
		} else if (strv_push(&c->argv, command, strlen(command)) < 0 ||
		           read_args(ctx, &c->argv) < 0) {
			bad = 1;
		}
	} else if (cmdline) {
		const char *first;
		if (tend_setting_string(ctx, "args.0", &first) != 1) {
			tend_log(ctx, TEND_LOG_ERROR, "settings.args: goes "
			         "with command, not with cmdline");
			bad = 1;
		} else if (split_cmdline(cmdline, &c->argv, why,
		                         sizeof(why)) < 0) {
			tend_log(ctx, TEND_LOG_ERROR, "settings.cmdline: %s",
			         why);
			bad = 1;
		}
	} else if (!bad) {
		tend_log(ctx, TEND_LOG_ERROR,
		         "settings.command: the program to run is required "
		         "(or settings.cmdline)");
		bad = 1;
	}
	bad |= read_signal(ctx, "stop_signal", &c->stop_signal) < 0;
	bad |= read_signal(ctx, "reload_signal", &c->reload_signal) < 0;
	bad |= tend_setting_bool(ctx, "notify", &c->notify) < 0;
	if (tend_setting_double(ctx, "watchdog", &c->watchdog) < 0) {
		bad = 1;
	} else if (!(c->watchdog >= 0 && c->watchdog <= 86400)) {
		tend_log(ctx, TEND_LOG_ERROR,
		         "settings.watchdog: must be 0 to 86400 seconds");
		bad = 1;
	}
	if (c->watchdog > 0 && !c->notify) {
		tend_log(ctx, TEND_LOG_ERROR, "settings.watchdog: the "
		         "program pings on NOTIFY_SOCKET: not with notify = "
		         "false");
		bad = 1;
	}
	bad |= read_ready_check(ctx, c) < 0;
	if (bad)
		conf_clear(c);
	return bad ? -1 : 0;
}

/* Whether the program must start again for `b` to take effect. */
static bool conf_same_program(const struct conf *a, const struct conf *b)
{
	return strv_equal(&a->argv, &b->argv) && a->notify == b->notify &&
	       a->watchdog == b->watchdog && !!a->ready_tcp == !!b->ready_tcp &&
	       (!a->ready_tcp || strcmp(a->ready_tcp, b->ready_tcp) == 0) &&
	       !!a->ready_file == !!b->ready_file &&
	       (!a->ready_file || strcmp(a->ready_file, b->ready_file) == 0) &&
	       a->ready_every == b->ready_every;
}

/* Send `sig` to the program, if it still runs; from any thread. */
static void signal_program(struct tend_ctx *ctx, struct exec *x, int sig,
                           const char *why)
{
	pid_t pid;

	pthread_mutex_lock(&x->lock);
	pid = x->pid;
	if (pid > 0)
		kill(pid, sig);
	pthread_mutex_unlock(&x->lock);
	if (pid > 0)
		tend_log(ctx, TEND_LOG_INFO, "%s: SIG%s to pid %d", why,
		         sig_name(sig), (int)pid);
	else
		tend_log(ctx, TEND_LOG_WARNING,
		         "%s: the program is not running", why);
}

/* The program's environment. */

/* `e` ("NAME=value") is the variable `name`. */
static bool is_var(const char *e, const char *name)
{
	size_t n = strlen(name);
	return strncmp(e, name, n) == 0 && e[n] == '=';
}

/* Both define the same variable. */
static bool same_var(const char *a, const char *b)
{
	size_t n = strcspn(a, "=");
	return strncmp(a, b, n) == 0 && b[n] == '=';
}

static bool has_var(const struct strv *env, const char *name)
{
	for (size_t i = 0; i < env->n; i++)
		if (is_var(env->v[i], name))
			return true;
	return false;
}

static int add_var(struct strv *env, const char *name, const char *value)
{
	char buf[4096];
	int n = snprintf(buf, sizeof(buf), "%s=%s", name, value);
	return n < 0 || (size_t)n >= sizeof(buf)
	           ? -1
	           : strv_push(env, buf, (size_t)n);
}

/*
 * The runner's environment (tendd's clean one plus `env`), each variable
 * once: a later definition wins, as `env` comes after tendd's defaults,
 * except for TEND_*, tendd's own. Then HOME, USER, LOGNAME and SHELL of
 * the user it runs as, unless set (tendd sets them for its runners: the
 * lookup is for older ones), and NOTIFY_SOCKET and WATCHDOG_USEC as the
 * settings say.
 */
static int program_env(const struct exec *x, struct strv *env)
{
	static const char *const names[] = {"HOME", "USER", "LOGNAME",
	                                    "SHELL"};
	struct passwd *pw = NULL;
	size_t n = 0;

	while (environ[n])
		n++;
	for (size_t i = 0; i < n; i++) {
		const char *e = environ[i];
		bool mine = strncmp(e, "TEND_", 5) == 0;
		bool keep =
		    strchr(e, '=') != NULL && !is_var(e, "WATCHDOG_PID") &&
		    !(x->conf.notify && is_var(e, "NOTIFY_SOCKET")) &&
		    !(x->conf.watchdog > 0 && is_var(e, "WATCHDOG_USEC"));

		for (size_t j = mine ? 0 : i + 1; keep && j < (mine ? i : n);
		     j++)
			keep = !same_var(e, environ[j]);
		if (keep && strv_push(env, e, strlen(e)) < 0)
			return -1;
	}
	for (int i = 0; i < 4; i++) {
		const char *value;
		if (has_var(env, names[i]))
			continue;
		if (pw == NULL && (pw = getpwuid(geteuid())) == NULL)
			break;
		value = i == 0 ? pw->pw_dir : i == 3 ? pw->pw_shell : pw->pw_name;
		if (add_var(env, names[i], value) < 0)
			return -1;
	}
	if (x->notify_fd >= 0 &&
	    strv_push(env, x->notify_env, strlen(x->notify_env)) < 0)
		return -1;
	if (x->conf.watchdog > 0) {
		char usec[32];
		snprintf(usec, sizeof(usec), "%lld",
		         (long long)(x->conf.watchdog * 1e6));
		if (add_var(env, "WATCHDOG_USEC", usec) < 0)
			return -1;
	}
	return 0;
}

/*
 * The file execvp() would run for `cmd`, searched in `path`: 0, or an
 * errno (ENOENT: nowhere; EACCES: found, but not executable).
 */
static int resolve(const char *cmd, const char *path, char *out, size_t len)
{
	int err = ENOENT;

	if (strchr(cmd, '/')) {
		snprintf(out, len, "%s", cmd);
		return 0;
	}
	for (const char *p = path;;) {
		const char *end = strchrnul(p, ':');
		struct stat st;

		if (end == p) /* an empty entry is the working directory */
			snprintf(out, len, "%s", cmd);
		else
			snprintf(out, len, "%.*s/%s", (int)(end - p), p, cmd);
		if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
			if (faccessat(AT_FDCWD, out, X_OK, AT_EACCESS) == 0)
				return 0;
			err = EACCES;
		}
		if (*end == '\0')
			return err;
		p = end + 1;
	}
}

/* Starting the program. */

/*
 * In the vfork()ed child, which borrows the runner's memory until it
 * execs: only async-signal-safe calls, nothing written but its own stack
 * frames. On failure the errno goes up `errfd` (close-on-exec, so a
 * successful exec closes it with nothing written).
 */
__attribute__((noreturn)) static void
child(const char *path, char **argv, char **envp, int errfd, pid_t parent)
{
	struct sigaction dfl = {.sa_handler = SIG_DFL}, old;
	sigset_t none;
	int e;

	/* an ignored signal stays ignored across exec: undo it */
	for (int s = 1; s < NSIG; s++)
		if (sigaction(s, NULL, &old) == 0 && old.sa_handler == SIG_IGN)
			sigaction(s, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	/* the runner is its only link to tendd: die with it */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != parent)
		_exit(127);
	/* the channel to tendd and the plugin's copy must not leak into it */
	if (close_range(3, ~0U, CLOSE_RANGE_CLOEXEC) < 0)
		for (int fd = 3; fd < 1024; fd++)
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	execve(path, argv, envp);
	e = errno;
	(void)!write(errfd, &e, sizeof(e));
	_exit(127);
}

/*
 * vfork and exec: the runner waits only for the exec, and copies no page
 * table. The pid, or -1 with errno.
 */
static pid_t spawn(const char *path, char **argv, char **envp)
{
	pid_t parent = getpid(), pid;
	int p[2], e;
	ssize_t n;

	if (pipe2(p, O_CLOEXEC) < 0)
		return -1;
	pid = vfork();
	if (pid == 0)
		child(path, argv, envp, p[1], parent);
	e = errno; /* the child's, if it failed: they share it */
	close(p[1]);
	if (pid < 0) {
		close(p[0]);
		errno = e;
		return -1;
	}
	do
		n = read(p[0], &e, sizeof(e));
	while (n < 0 && errno == EINTR);
	close(p[0]);
	if (n == sizeof(e)) { /* exec failed: the child is gone already */
		waitpid(pid, NULL, 0);
		errno = e;
		return -1;
	}
	return pid;
}

/* A datagram socket with an abstract name the kernel picks. */
static int notify_open(struct exec *x)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	socklen_t len = sizeof(sa_family_t);
	int one = 1;

	x->notify_fd =
	    socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (x->notify_fd < 0 ||
	    setsockopt(x->notify_fd, SOL_SOCKET, SO_PASSCRED, &one,
	               sizeof(one)) < 0 ||
	    bind(x->notify_fd, (struct sockaddr *)&a, len) < 0)
		return -1;
	len = sizeof(a);
	if (getsockname(x->notify_fd, (struct sockaddr *)&a, &len) < 0)
		return -1;
	len -= (socklen_t)offsetof(struct sockaddr_un, sun_path);
	/* sun_path[0] is the NUL of an abstract name; '@' stands for it */
	snprintf(x->notify_env, sizeof(x->notify_env), "NOTIFY_SOCKET=@%.*s",
	         (int)len - 1, a.sun_path + 1);
	return 0;
}

/* Before the program starts: note what the file check must not count. */
static void check_arm(const struct exec *x, struct check *c)
{
	c->fd = -1;
	c->on = x->conf.ready_tcp || x->conf.ready_file;
	c->next = now();
	if (x->conf.ready_file)
		c->existed = stat(x->conf.ready_file, &c->before) == 0;
}

/* Append `s` to line[*n], as much as fits. */
static void put(char *line, size_t size, size_t *n, const char *s)
{
	while (*s && *n + 1 < size)
		line[(*n)++] = *s++;
	line[*n] = '\0';
}

/* Append " arg", in single quotes when a shell would need them. */
static void put_arg(char *line, size_t size, size_t *n, const char *arg)
{
	static const char plain[] = "abcdefghijklmnopqrstuvwxyz"
	                            "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	                            "0123456789_./:=@%+,-";
	bool quote = arg[0] == '\0' || arg[strspn(arg, plain)] != '\0';

	put(line, size, n, quote ? " '" : " ");
	for (const char *c = arg; *c; c++)
		put(line, size, n,
		    *c == '\'' ? "'\\''" : (const char[]){*c, '\0'});
	if (quote)
		put(line, size, n, "'");
}

/* "started pid N: /usr/bin/prog arg...", the line cut short if long. */
static void say_started(struct tend_ctx *ctx, const struct exec *x,
                        const char *path)
{
	char line[512];
	size_t n = 0;

	put(line, sizeof(line), &n, path);
	for (size_t i = 1; i < x->conf.argv.n; i++)
		put_arg(line, sizeof(line), &n, x->conf.argv.v[i]);
	tend_log(ctx, TEND_LOG_INFO, "started pid %d: %s", (int)x->pid, line);
}

/* Start the program; -1 after tend_fail() says why. */
static int program_start(struct tend_ctx *ctx, struct exec *x, struct run *r)
{
	struct strv env = {0};
	char path[PATH_MAX];
	const char *search = DEFAULT_PATH;
	int err;

	if (x->conf.notify && notify_open(x) < 0) {
		tend_fail(ctx, "cannot make the notify socket: %s",
		          strerror(errno));
		return -1;
	}
	if (program_env(x, &env) < 0) {
		tend_fail(ctx, "cannot make its environment: out of memory");
		strv_clear(&env);
		return -1;
	}
	for (size_t i = 0; i < env.n; i++)
		if (is_var(env.v[i], "PATH"))
			search = env.v[i] + 5;
	err = resolve(x->conf.argv.v[0], search, path, sizeof(path));
	if (err != 0) {
		tend_fail(ctx, "cannot run '%s': %s", x->conf.argv.v[0],
		          err == ENOENT ? "not found in PATH" : strerror(err));
		strv_clear(&env);
		return -1;
	}
	check_arm(x, &r->check);
	pthread_mutex_lock(&x->lock);
	x->pid = spawn(path, x->conf.argv.v, env.v);
	err = errno;
	if (x->pid < 0)
		x->pid = 0;
	pthread_mutex_unlock(&x->lock);
	strv_clear(&env);
	if (x->pid == 0) {
		tend_fail(ctx, "cannot run '%s': %s", path, strerror(err));
		return -1;
	}
	r->pidfd = -1;
#ifdef SYS_pidfd_open
	r->pidfd = (int)syscall(SYS_pidfd_open, x->pid, 0);
#endif
	say_started(ctx, x, path);
	return 0;
}

/* What the program says on NOTIFY_SOCKET. */

/*
 * Only the program, or a process of its session, may speak for it. A
 * sender already gone cannot be placed; it is believed when it is of the
 * program's user, who could do as much by other means (systemd-notify
 * from a shell script exits at once).
 */
static bool notify_allowed(const struct exec *x, const struct ucred *cred)
{
	pid_t sid;

	if (cred->pid == x->pid)
		return true;
	sid = getsid(cred->pid);
	if (sid == x->pid)
		return true;
	return sid < 0 && errno == ESRCH && cred->uid == geteuid();
}

/* Said once a run: a sender that insists must not flood the log. */
static void refused(struct tend_ctx *ctx, struct exec *x,
                    const struct ucred *cred)
{
	if (x->refused_said)
		return;
	x->refused_said = true;
	tend_log(ctx, TEND_LOG_WARNING,
	         "notification from pid %d refused: not of pid %d's session",
	         cred ? (int)cred->pid : 0, (int)x->pid);
}

static void notify_line(struct tend_ctx *ctx, struct exec *x, const char *l)
{
	if (strcmp(l, "READY=1") == 0) {
		if (!x->ready)
			tend_ready(ctx);
		x->ready = true;
	} else if (strcmp(l, "WATCHDOG=1") == 0) {
		tend_heartbeat(ctx);
	} else if (strncmp(l, "STATUS=", 7) == 0) {
		tend_log(ctx, TEND_LOG_INFO, "status: %s", l + 7);
	} else if (strncmp(l, "ERRNO=", 6) == 0) {
		int e = atoi(l + 6);
		tend_log(ctx, TEND_LOG_INFO, "errno: %d (%s)", e, strerror(e));
	} else if (l[0]) {
		tend_log(ctx, TEND_LOG_DEBUG, "notify: %s: ignored", l);
	}
}

/* Descriptors passed along (FDSTORE=1): tend keeps none. */
static void close_passed(struct cmsghdr *h)
{
	size_t n = (h->cmsg_len - CMSG_LEN(0)) / sizeof(int);
	int fd;

	for (size_t i = 0; i < n; i++) {
		memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof(int));
		close(fd);
	}
}

static void notify_read(struct tend_ctx *ctx, struct exec *x)
{
	char buf[NOTIFY_MAX + 1];
	union {
		struct cmsghdr h;
		char space[CMSG_SPACE(sizeof(struct ucred)) +
		           CMSG_SPACE(sizeof(int) * 16)];
	} cm;

	for (;;) {
		struct iovec iov = {buf, NOTIFY_MAX};
		struct msghdr m = {.msg_iov = &iov,
		                   .msg_iovlen = 1,
		                   .msg_control = &cm,
		                   .msg_controllen = sizeof(cm)};
		struct ucred *cred = NULL;
		ssize_t n =
		    recvmsg(x->notify_fd, &m,
		            MSG_DONTWAIT | MSG_TRUNC | MSG_CMSG_CLOEXEC);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return;
		for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h;
		     h = CMSG_NXTHDR(&m, h)) {
			if (h->cmsg_level != SOL_SOCKET)
				continue;
			if (h->cmsg_type == SCM_CREDENTIALS)
				cred = (struct ucred *)CMSG_DATA(h);
			if (h->cmsg_type == SCM_RIGHTS)
				close_passed(h);
		}
		if (cred == NULL || !notify_allowed(x, cred)) {
			refused(ctx, x, cred);
			continue;
		}
		if (n > NOTIFY_MAX) {
			tend_log(ctx, TEND_LOG_WARNING,
			         "notification over %d bytes: ignored",
			         NOTIFY_MAX);
			continue;
		}
		buf[n] = '\0';
		for (char *l = buf, *nl; l; l = nl) {
			if ((nl = strchr(l, '\n')) != NULL)
				*nl++ = '\0';
			notify_line(ctx, x, l);
		}
	}
}

/* The readiness check. */

static void check_done(struct tend_ctx *ctx, struct exec *x, struct check *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->on = false;
	if (x->conf.ready_tcp)
		tend_log(ctx, TEND_LOG_INFO, "ready: %s accepts connections",
		         x->conf.ready_tcp);
	else
		tend_log(ctx, TEND_LOG_INFO, "ready: '%s' is there",
		         x->conf.ready_file);
	if (!x->ready)
		tend_ready(ctx);
	x->ready = true;
}

/* The file is there, and is not what was there before the program. */
static bool file_ready(const struct exec *x, const struct check *c)
{
	struct stat st;

	if (stat(x->conf.ready_file, &st) < 0)
		return false;
	return !c->existed || st.st_ino != c->before.st_ino ||
	       st.st_dev != c->before.st_dev ||
	       st.st_mtim.tv_sec != c->before.st_mtim.tv_sec ||
	       st.st_mtim.tv_nsec != c->before.st_mtim.tv_nsec ||
	       st.st_ctim.tv_sec != c->before.st_ctim.tv_sec ||
	       st.st_ctim.tv_nsec != c->before.st_ctim.tv_nsec;
}

/* ready_check.tcp's address, into c->ai; said once when it fails. */
static int resolve_tcp(struct tend_ctx *ctx, const char *hostport,
                       struct check *c)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM};
	char host[256];
	const char *colon = strrchr(hostport, ':');
	size_t len = (size_t)(colon - hostport);
	int rc;

	if (hostport[0] == '[' && colon[-1] == ']') {
		hostport++;
		len -= 2;
	}
	snprintf(host, sizeof(host), "%.*s", (int)len, hostport);
	rc = getaddrinfo(host, colon + 1, &hints, &c->ai);
	if (rc != 0) {
		if (!c->warned)
			tend_log(ctx, TEND_LOG_WARNING,
			         "ready_check: cannot resolve '%s': %s", host,
			         gai_strerror(rc));
		c->warned = true;
		c->ai = NULL;
		return -1;
	}
	return 0;
}

/* A connect to the address: 1 at once, 0 under way (c->fd), -1 refused. */
static int tcp_try(struct check *c)
{
	int fd = socket(c->ai->ai_family,
	                c->ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, c->ai->ai_addr, c->ai->ai_addrlen) == 0) {
		close(fd);
		return 1;
	}
	if (errno == EINPROGRESS) {
		c->fd = fd;
		c->since = now();
		return 0;
	}
	close(fd);
	return -1;
}

/* A step of the check: when it is due, or its connect has news. */
static void check_step(struct tend_ctx *ctx, struct exec *x, struct check *c,
                       short revents)
{
	double t = now();

	if (c->fd >= 0) {
		int err = 0;
		socklen_t len = sizeof(err);
		if (revents) {
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
			if (err == 0) {
				check_done(ctx, x, c);
				return;
			}
		} else if (t - c->since < CONNECT_PATIENCE) {
			return;
		}
		close(c->fd);
		c->fd = -1;
	}
	if (t < c->next)
		return;
	c->next = t + x->conf.ready_every;
	if (x->conf.ready_file) {
		if (file_ready(x, c))
			check_done(ctx, x, c);
		return;
	}
	if (c->ai == NULL && resolve_tcp(ctx, x->conf.ready_tcp, c) < 0)
		return;
	if (tcp_try(c) == 1)
		check_done(ctx, x, c);
}

/* Waiting for the program. */

static void stop_program(struct tend_ctx *ctx, struct exec *x, struct run *r)
{
	r->stop_sent = true;
	r->stop_sig = x->stop_signal;
	tend_log(ctx, TEND_LOG_INFO,
	         "stopping pid %d: SIG%s to its process group", (int)x->pid,
	         sig_name(r->stop_sig));
	kill(-x->pid, r->stop_sig);
	if (r->stop_sig != SIGKILL && r->stop_sig != SIGCONT)
		kill(-x->pid, SIGCONT); /* a stopped process must see it too */
}

/* tendd's SIGTERM: the program outlived stop_timeout. */
static void escalate(struct tend_ctx *ctx, struct exec *x, struct run *r)
{
	struct signalfd_siginfo si;

	while (read(r->sigfd, &si, sizeof(si)) > 0)
		;
	if (r->killed)
		return;
	r->killed = true;
	tend_log(ctx, TEND_LOG_WARNING,
	         "pid %d %s: SIGKILL to its process group", (int)x->pid,
	         r->stop_sent ? "did not stop in time" : "must go");
	kill(-x->pid, SIGKILL);
}

/* Reap the program if it has ended; true then. */
static bool reaped(struct exec *x, struct run *r)
{
	pid_t got;

	pthread_mutex_lock(&x->lock);
	got = waitpid(x->pid, &r->status, WNOHANG);
	if (got == x->pid || (got < 0 && errno == ECHILD)) {
		if (got < 0)
			r->status = 0;
		x->pid = 0;
	}
	pthread_mutex_unlock(&x->lock);
	return x->pid == 0;
}

/* The earlier of a poll() timeout and `wait` seconds. */
static int sooner(int timeout, double wait)
{
	int ms = wait > 0 ? (int)(wait * 1000) + 1 : 0;
	return timeout < 0 || ms < timeout ? ms : timeout;
}

/*
 * As systemd's, the watchdog of a program that speaks sd_notify starts
 * once it is ready: until then, its start-up is bounded by ready_timeout,
 * and the plugin heartbeats for it. Seconds to the next beat.
 */
static double beat_for_program(struct tend_ctx *ctx, const struct exec *x,
                               struct run *r)
{
	double t = now();

	if (t >= r->next_beat) {
		tend_heartbeat(ctx);
		r->next_beat = t + x->conf.watchdog / 4;
	}
	return r->next_beat - t;
}

enum { W_STOP, W_TERM, W_PID, W_NOTIFY, W_CHECK, W_N };

static void supervise(struct tend_ctx *ctx, struct exec *x, struct run *r)
{
	while (!reaped(x, r)) {
		struct pollfd p[W_N] = {
		    [W_STOP] = {r->stop_sent ? -1 : tend_stop_fd(ctx), POLLIN,
		                0},
		    [W_TERM] = {r->sigfd, POLLIN, 0},
		    [W_PID] = {r->pidfd, POLLIN, 0},
		    [W_NOTIFY] = {x->notify_fd, POLLIN, 0},
		    [W_CHECK] = {r->check.fd, POLLOUT, 0},
		};
		int timeout = r->pidfd < 0 ? 100 : -1;

		if (r->check.on)
			timeout = sooner(timeout, r->check.fd >= 0
			                              ? CONNECT_PATIENCE
			                              : r->check.next - now());
		if (x->conf.watchdog > 0 && !x->ready)
			timeout = sooner(timeout, beat_for_program(ctx, x, r));
		if (poll(p, W_N, timeout) < 0 && errno != EINTR)
			usleep(10000); /* cannot happen; do not spin */
		if (p[W_NOTIFY].revents)
			notify_read(ctx, x);
		if (p[W_STOP].revents && !r->stop_sent)
			stop_program(ctx, x, r);
		if (p[W_TERM].revents)
			escalate(ctx, x, r);
		if (r->check.on)
			check_step(ctx, x, &r->check, p[W_CHECK].revents);
	}
}

/*
 * How the program ended, as run()'s value: its exit code; 0 for a death
 * by the stop signal it was sent; for another signal, 128 + the signal,
 * and fini() raises it.
 */
static int outcome(struct tend_ctx *ctx, struct exec *x, const struct run *r,
                   pid_t pid)
{
	int sig;

	if (WIFEXITED(r->status))
		return WEXITSTATUS(r->status);
	sig = WTERMSIG(r->status);
	if (r->stop_sent && sig == r->stop_sig)
		return 0;
	if (WCOREDUMP(r->status))
		tend_log(ctx, TEND_LOG_WARNING,
		         "pid %d killed by signal %d (SIG%s), core dumped",
		         (int)pid, sig, sig_name(sig));
	x->die_by = sig;
	return 128 + sig;
}

static void run_clear(struct exec *x, struct run *r)
{
	if (r->sigfd >= 0)
		close(r->sigfd);
	if (r->pidfd >= 0)
		close(r->pidfd);
	if (r->check.fd >= 0)
		close(r->check.fd);
	if (r->check.ai)
		freeaddrinfo(r->check.ai);
	if (x->notify_fd >= 0)
		close(x->notify_fd);
	x->notify_fd = -1;
}

static int exec_run(struct tend_ctx *ctx)
{
	struct exec *x = tend_data(ctx);
	struct run r = {.sigfd = -1, .pidfd = -1, .check = {.fd = -1}};
	sigset_t term;
	pid_t pid;
	int rc;

	/* tendd's SIGTERM after stop_timeout is ours to act on */
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &term, NULL);
	r.sigfd = signalfd(-1, &term, SFD_CLOEXEC | SFD_NONBLOCK);
	if (r.sigfd < 0) {
		tend_fail(ctx, "cannot make a signalfd: %s", strerror(errno));
		return 1;
	}
	if (tend_stopping(ctx) || program_start(ctx, x, &r) < 0) {
		run_clear(x, &r);
		return tend_stopping(ctx) ? 0 : 1;
	}
	pid = x->pid;
	supervise(ctx, x, &r);
	rc = outcome(ctx, x, &r, pid);
	run_clear(x, &r);
	return rc;
}

static int exec_init(struct tend_ctx *ctx)
{
	struct exec *x = calloc(1, sizeof(*x));

	if (x == NULL)
		return -1;
	pthread_mutex_init(&x->lock, NULL);
	x->notify_fd = -1;
	tend_set_data(ctx, x);
	if (conf_read(ctx, &x->conf) < 0)
		return -1;
	x->stop_signal = x->conf.stop_signal;
	x->reload_signal = x->conf.reload_signal;
	return 0;
}

/*
 * New settings while the program runs. A change to what runs (command,
 * args, cmdline, notify, watchdog, ready_check) needs a new program:
 * non-zero asks tendd to restart the service. Otherwise stop_signal and
 * reload_signal take effect now, and reload_signal, if set, is sent.
 */
static int exec_reload(struct tend_ctx *ctx)
{
	struct exec *x = tend_data(ctx);
	struct conf fresh;
	bool same;

	if (conf_read(ctx, &fresh) < 0)
		return 1; /* a restart, whose init() says what is wrong */
	same = conf_same_program(&x->conf, &fresh);
	x->stop_signal = fresh.stop_signal;
	x->reload_signal = fresh.reload_signal;
	conf_clear(&fresh);
	if (!same) {
		tend_log(ctx, TEND_LOG_INFO, "the program changed: restarting");
		return 1;
	}
	if (x->reload_signal)
		signal_program(ctx, x, x->reload_signal, "reload");
	return 0;
}

/* `tendctl send NAME reload`, or `signal NAME`. */
static void exec_message(struct tend_ctx *ctx, const char *from,
                         const void *data, size_t len)
{
	struct exec *x = tend_data(ctx);
	const char *text = data;
	char why[128];
	int sig;

	(void)len;
	snprintf(why, sizeof(why), "asked by %.64s", from);
	if (strcmp(text, "reload") == 0) {
		if ((sig = x->reload_signal) == 0)
			tend_log(ctx, TEND_LOG_WARNING,
			         "%s to reload, but there is no reload_signal",
			         why);
		else
			signal_program(ctx, x, sig, why);
	} else if (strncmp(text, "signal ", 7) == 0 &&
	           (sig = signal_number(text + 7)) > 0) {
		signal_program(ctx, x, sig, why);
	} else {
		tend_log(ctx, TEND_LOG_WARNING,
		         "message from %.64s not understood: 'reload' or "
		         "'signal NAME' are",
		         from);
	}
}

/*
 * End the runner by the signal that ended the program. The program's
 * core, if it dumped one, is the one that matters: the runner adds none.
 */
static void die_by_signal(int sig)
{
	struct rlimit none = {0, 0};
	sigset_t set;

	setrlimit(RLIMIT_CORE, &none);
	signal(sig, SIG_DFL);
	sigemptyset(&set);
	sigaddset(&set, sig);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	raise(sig);
}

static void exec_fini(struct tend_ctx *ctx)
{
	struct exec *x = tend_data(ctx);
	int sig;

	if (x == NULL)
		return;
	sig = x->die_by;
	conf_clear(&x->conf);
	pthread_mutex_destroy(&x->lock);
	free(x);
	tend_set_data(ctx, NULL);
	if (sig > 0)
		die_by_signal(sig); /* the last thing: the runner ends here */
}

TEND_PLUGIN(.name = "exec", .version = "1.0", .executors = TEND_EXEC_PROCESS,
            .init = exec_init, .run = exec_run, .reload = exec_reload,
            .message = exec_message, .fini = exec_fini,
            .flags = TEND_PLUGIN_RERUN);
