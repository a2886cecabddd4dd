/*
 * tend plugin ABI.
 *
 * The only header a plugin includes. A plugin exports one symbol, a
 * `const struct tend_plugin` named `tend_plugin`, made with TEND_PLUGIN().
 * It reaches the daemon only through the functions below, which call
 * through a table of function pointers carried by the context, so a plugin
 * needs no symbol exported by tendd and links against nothing of ours.
 *
 * Compatibility rules: both structs start with `abi` (the major version)
 * and `size` (their sizeof as compiled). The host refuses another major and
 * reads only the fields a plugin's `size` covers; fields are only ever
 * appended, and a zero field means "not provided".
 */
#ifndef TEND_PLUGIN_H
#define TEND_PLUGIN_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TEND_ABI_VERSION 1

struct ev_loop;  /* libev's loop, opaque here: include <ev.h> to use it */
struct tend_ctx; /* one per running instance of a service */

/* Executors, as a bit set in tend_plugin.executors. */
#define TEND_EXEC_ASYNC (1u << 0)         /* host loop, start()        */
#define TEND_EXEC_THREAD (1u << 1)        /* own thread, run()         */
#define TEND_EXEC_THREAD_ASYNC (1u << 2)  /* own thread + loop, start() */
#define TEND_EXEC_PROCESS (1u << 3)       /* child process, run()      */
#define TEND_EXEC_PROCESS_ASYNC (1u << 4) /* child + own loop, start() */
#define TEND_EXEC_START \
	(TEND_EXEC_ASYNC | TEND_EXEC_THREAD_ASYNC | TEND_EXEC_PROCESS_ASYNC)
#define TEND_EXEC_RUN (TEND_EXEC_THREAD | TEND_EXEC_PROCESS)

/* Log levels; the numbers are syslog's, so journald understands them. */
#define TEND_LOG_ERROR 3
#define TEND_LOG_WARNING 4
#define TEND_LOG_NOTICE 5
#define TEND_LOG_INFO 6
#define TEND_LOG_DEBUG 7

/*
 * What a plugin provides. Every callback gets the instance's context.
 *
 * init    optional; read settings, allocate state (tend_set_data). Non-zero
 *         means the instance failed to start.
 * start   start()-style executors (async, thread-async, process-async):
 *         add watchers to tend_loop() and return at once; non-zero = failed.
 * run     run()-style executors (thread, process): block until
 *         tend_stopping() is true, then return 0; non-zero = failed.
 * stop    start()-style executors: remove every watcher start() added.
 *         Called on the loop the plugin runs on.
 * reload  optional; settings changed, re-read them. Non-zero: restart me.
 * message optional; a message from another service (from is its name,
 *         or "tendctl"), or a state change of a service this run watches
 *         (from is "@name", data the new state's name). data[len] is
 *         always a NUL byte, not counted in len, so text can be used as a
 *         string. Called where start() plugins run (their loop); for
 *         run() plugins from another thread while run() runs, never after
 *         it returned, as reload() is.
 * fini    optional; free what init allocated. Called on the same thread
 *         as init, after run() returned or stop() was called, and also
 *         when init() itself failed, so all cleanup can live here.
 * flags   optional; TEND_PLUGIN_* (added with the field: a plugin built
 *         before it has none).
 */
struct tend_plugin {
	uint32_t abi;  /* TEND_ABI_VERSION at build time */
	uint32_t size; /* sizeof(struct tend_plugin) at build time */
	const char *name;
	const char *version;
	uint32_t executors; /* TEND_EXEC_* the plugin supports */
	int (*init)(struct tend_ctx *ctx);
	int (*start)(struct tend_ctx *ctx);
	int (*run)(struct tend_ctx *ctx);
	void (*stop)(struct tend_ctx *ctx);
	int (*reload)(struct tend_ctx *ctx);
	void (*message)(struct tend_ctx *ctx, const char *from,
	                const void *data, size_t len);
	void (*fini)(struct tend_ctx *ctx);
	uint32_t flags;
};

/*
 * Its init() may follow its fini() in the same process, as a new run:
 * nothing of a run outlives fini(). Under `process`, a run that ended on
 * its own and is restarted at once (backoff "immediate") then runs in
 * the same tend-runner, which skips starting a process.
 */
#define TEND_PLUGIN_RERUN (1u << 0)

/* One message of a batch: see tend_send_batch(). */
struct tend_msg {
	const void *data;
	size_t len;
};

/*
 * The host's table. Plugins use the tend_*() wrappers below rather than
 * this struct; it is public only so the wrappers can be inline.
 */
struct tend_host {
	uint32_t abi;
	uint32_t size;
	int (*setting_int)(struct tend_ctx *, const char *key, long long *out);
	int (*setting_double)(struct tend_ctx *, const char *key, double *out);
	int (*setting_string)(struct tend_ctx *, const char *key,
	                      const char **out);
	int (*setting_bool)(struct tend_ctx *, const char *key, int *out);
	void (*vlog)(struct tend_ctx *, int level, const char *fmt, va_list ap);
	void (*ready)(struct tend_ctx *);
	void (*heartbeat)(struct tend_ctx *);
	int (*stopping)(struct tend_ctx *);
	int (*stop_fd)(struct tend_ctx *);
	struct ev_loop *(*loop)(struct tend_ctx *);
	int (*send)(struct tend_ctx *, const char *to, const void *data,
	            size_t len);
	int (*watch)(struct tend_ctx *, const char *name);
	void (*vfail)(struct tend_ctx *, const char *fmt, va_list ap);
	void *(*data)(struct tend_ctx *);
	void (*set_data)(struct tend_ctx *, void *data);
	const char *(*name)(struct tend_ctx *);
	void (*exit)(struct tend_ctx *, int status);
	long (*send_batch)(struct tend_ctx *, const char *to,
	                   const struct tend_msg *msgs, size_t n);
};

/* The head of every context; the rest of it is the host's business. */
struct tend_ctx {
	const struct tend_host *host;
};

/* True when the host's table is recent enough to have member `fn`. */
#define TEND_HOST_HAS(ctx, fn)                                       \
	((ctx)->host->size >= offsetof(struct tend_host, fn) +       \
	                          sizeof((ctx)->host->fn) &&         \
	 (ctx)->host->fn != NULL)

/*
 * Settings: the service's `settings` group, by name ("a.b" reaches into a
 * nested group). Each returns 0 and writes *out when the key is set, 1 and
 * leaves *out alone when it is absent (so preset a default), and -1 when
 * it is set with another type (the host logs file:line and the key).
 * Integers are accepted where a double is asked for. Strings stay valid
 * until fini().
 */
static inline int tend_setting_int(struct tend_ctx *c, const char *key,
                                   long long *out)
{
	return c->host->setting_int(c, key, out);
}
static inline int tend_setting_double(struct tend_ctx *c, const char *key,
                                      double *out)
{
	return c->host->setting_double(c, key, out);
}
static inline int tend_setting_string(struct tend_ctx *c, const char *key,
                                      const char **out)
{
	return c->host->setting_string(c, key, out);
}
static inline int tend_setting_bool(struct tend_ctx *c, const char *key,
                                    int *out)
{
	return c->host->setting_bool(c, key, out);
}

/* Log a line under the service's name. Safe from any thread. */
__attribute__((format(printf, 3, 4))) static inline void
tend_log(struct tend_ctx *c, int level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	c->host->vlog(c, level, fmt, ap);
	va_end(ap);
}

/* With ready = "notify": the service is ready now. */
static inline void tend_ready(struct tend_ctx *c) { c->host->ready(c); }

/* I am alive; with `watchdog` set, a silence that long means hung. */
static inline void tend_heartbeat(struct tend_ctx *c)
{
	c->host->heartbeat(c);
}

/* run() plugins: non-zero once the host wants the service to stop. */
static inline int tend_stopping(struct tend_ctx *c)
{
	return c->host->stopping(c);
}

/* A file descriptor that becomes readable when stopping; for poll(). */
static inline int tend_stop_fd(struct tend_ctx *c)
{
	return c->host->stop_fd(c);
}

/* start() plugins: the libev loop to put watchers on (NULL under run()). */
static inline struct ev_loop *tend_loop(struct tend_ctx *c)
{
	return c->host->loop(c);
}

/* The largest message tend_send() takes, in bytes. */
#define TEND_MSG_MAX 65280

/*
 * Send `len` bytes to service `to` (an instance is "name#N"): its
 * message() gets them, after every message this instance sent it before.
 * Returns 0 once the message is in `to`'s mailbox, or -1 with errno:
 *   ENOENT     there is no service named `to`
 *   ESRCH      it is not running: stopped, stopping, in backoff, exited
 *              or failed. Nothing is kept for a later run.
 *   EOPNOTSUPP it runs, but its plugin has no message()
 *   EAGAIN     its mailbox is full (`mailbox` in its config): nothing was
 *              queued; try again later
 *   EMSGSIZE   len is over TEND_MSG_MAX
 *   EINVAL     to is NULL, or data is NULL and len is not 0
 * A message accepted but not yet handed to message() when `to`'s run
 * ends is dropped, and counted (tendctl status). Safe from any thread,
 * message() included.
 */
static inline int tend_send(struct tend_ctx *c, const char *to,
                            const void *data, size_t len)
{
	return c->host->send(c, to, data, len);
}

/*
 * Send msgs[0], msgs[1], ... msgs[n-1] to `to`, in that order, as n calls
 * of tend_send() would, but at the cost of about one: one lookup, one
 * lock and one wake-up of the receiver, and from a child process one
 * frame to tendd and one answer per 64 KiB of messages. Returns how many
 * were accepted, always the first ones: n, or k < n when msgs[k] was
 * refused, with errno saying why as tend_send() would (EAGAIN: the
 * mailbox took the first k, and is full); -1 with errno when the first
 * was refused. Safe from any thread.
 */
static inline long tend_send_batch(struct tend_ctx *c, const char *to,
                                   const struct tend_msg *msgs, size_t n)
{
	size_t k;

	if (TEND_HOST_HAS(c, send_batch))
		return c->host->send_batch(c, to, msgs, n);
	for (k = 0; k < n; k++) /* an older host: one at a time */
		if (c->host->send(c, to, msgs[k].data, msgs[k].len) < 0)
			return k ? (long)k : -1;
	return (long)n;
}

/*
 * Receive `name`'s state changes through message(), with from = "@name"
 * and data = the state it entered: "starting", "running", "ready",
 * "stopping", "backoff", "exited", "failed" or "stopped" (len is the
 * name's length; the NUL after it is not counted). Its current state
 * comes first, at once. Lasts until this run ends; watching a service
 * twice changes nothing. State changes count against the mailbox like
 * messages: one that finds it full is dropped, counted and logged.
 * Returns 0, or -1 with errno ENOENT (no such service) or EOPNOTSUPP (the
 * plugin has no message()).
 */
static inline int tend_watch(struct tend_ctx *c, const char *name)
{
	return c->host->watch(c, name);
}

/*
 * The service has failed, for the reason given; the host stops it and
 * applies the restart policy. Returns; under run(), return from run() next.
 */
__attribute__((format(printf, 2, 3))) static inline void
tend_fail(struct tend_ctx *c, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	c->host->vfail(c, fmt, ap);
	va_end(ap);
}

/*
 * The service has finished by itself with `status` (0: cleanly), as a
 * program's exit would; for start() plugins, which have no return value.
 */
static inline void tend_exit(struct tend_ctx *c, int status)
{
	c->host->exit(c, status);
}

/* The plugin's per-instance pointer, NULL until set. */
static inline void *tend_data(struct tend_ctx *c) { return c->host->data(c); }
static inline void tend_set_data(struct tend_ctx *c, void *data)
{
	c->host->set_data(c, data);
}

/* The instance's service name, e.g. "clock" or "web#2". */
static inline const char *tend_name(struct tend_ctx *c)
{
	return c->host->name(c);
}

/*
 * Declare the plugin: TEND_PLUGIN(.name = "x", .version = "1.0",
 * .executors = TEND_EXEC_START, .start = x_start, .stop = x_stop);
 */
#define TEND_PLUGIN(...)                                              \
	__attribute__((visibility("default"))) extern const struct   \
	    tend_plugin tend_plugin;                                  \
	const struct tend_plugin tend_plugin = {                      \
	    .abi = TEND_ABI_VERSION,                                  \
	    .size = sizeof(struct tend_plugin),                       \
	    __VA_ARGS__}

#ifdef __cplusplus
}
#endif

#endif /* TEND_PLUGIN_H */
