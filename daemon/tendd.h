/*
 * tendd's private interfaces, grouped by the file that defines them.
 */
#ifndef TENDD_H
#define TENDD_H

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <sys/types.h>

#include "tend/plugin.h"

/* Exit codes (sysexits.h). */
#define EXIT_USAGE 64
#define EXIT_SOFTWARE 70
#define EXIT_OSERR 71
#define EXIT_CONFIG 78

#ifndef TEND_LIBEXECDIR
#define TEND_LIBEXECDIR "/usr/local/libexec/tend"
#endif

#define NAME_MAX_LEN 64
#define REASON_MAX 256
/*
 * s: a run shorter than this, restarted at once, is a service restarting
 * fast, whose executor may ready the run after (exec_process.c).
 */
#define FAST_RUN 1.0

/* A name's hash for the tables that look names up (FNV-1a). */
static inline size_t name_hash(const char *s)
{
	size_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* log.c */
#define LOG_LINE_MAX 2048
typedef void log_hook_fn(int level, const char *who, const char *msg,
                         size_t len);
extern _Atomic int log_threshold;
void log_init(int level);
void log_set_hook(log_hook_fn *fn);
int log_level_parse(const char *name);
const char *log_level_name(int level);
void log_vwrite(int level, const char *who, const char *fmt, va_list ap)
    __attribute__((format(printf, 3, 0)));
void log_write(int level, const char *who, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void fatalx(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), noreturn));
/* Check the level before formatting anything. */
#define log_at(level, who, ...)                                 \
	do {                                                    \
		if ((level) <= log_threshold)                   \
			log_write((level), (who), __VA_ARGS__); \
	} while (0)
#define log_error(...) log_at(TEND_LOG_ERROR, "tendd", __VA_ARGS__)
#define log_warnx(...) log_at(TEND_LOG_WARNING, "tendd", __VA_ARGS__)
#define log_notice(...) log_at(TEND_LOG_NOTICE, "tendd", __VA_ARGS__)
#define log_info(...) log_at(TEND_LOG_INFO, "tendd", __VA_ARGS__)
#define log_debug(...) log_at(TEND_LOG_DEBUG, "tendd", __VA_ARGS__)

/* errors.c: problems collected while checking a config, reported once */
struct errors {
	char **msgs;
	size_t count;
};
void errors_add(struct errors *, const char *file, int line,
                const char *fmt, ...) __attribute__((format(printf, 4, 5)));
void errors_print(const struct errors *, bool plain);
void errors_clear(struct errors *);

/* settings.c: a service's `settings` group, kept apart from libconfig */
enum setting_type {
	SETTING_INT,
	SETTING_FLOAT,
	SETTING_STRING,
	SETTING_BOOL,
	SETTING_GROUP,
	SETTING_LIST,
};
struct setting {
	char *name; /* NULL for list elements */
	enum setting_type type;
	int line;
	union {
		long long i;
		double d;
		char *s;
		int b;
	} v;
	struct setting *kids; /* groups and lists */
	size_t nkids;
};
const struct setting *setting_lookup(const struct setting *root,
                                     const char *path);
int setting_get_int(const struct setting *root, const char *key,
                    long long *out, const struct setting **found);
int setting_get_double(const struct setting *root, const char *key,
                       double *out, const struct setting **found);
int setting_get_string(const struct setting *root, const char *key,
                       const char **out, const struct setting **found);
int setting_get_bool(const struct setting *root, const char *key, int *out,
                     const struct setting **found);
void setting_mismatch(char *buf, size_t len, const char *file,
                      const char *key, enum setting_type want,
                      const struct setting *found);
bool setting_equal(const struct setting *, const struct setting *);
const char *setting_type_name(enum setting_type);
void setting_clear(struct setting *);

/* config.c: the only file that knows libconfig */
enum executor_kind {
	EXEC_ASYNC,
	EXEC_THREAD,
	EXEC_THREAD_ASYNC,
	EXEC_PROCESS,
	EXEC_PROCESS_ASYNC,
	EXEC_KINDS
};
enum restart_policy { POLICY_PERMANENT, POLICY_TRANSIENT, POLICY_TEMPORARY };
enum backoff_kind {
	BACKOFF_IMMEDIATE,
	BACKOFF_FIXED,
	BACKOFF_LINEAR,
	BACKOFF_EXPONENTIAL
};
enum ready_mode { READY_START, READY_NOTIFY };

/*
 * A service's settings, shared by its config and the runs of it: a run
 * keeps the tree it read from until it ends, even when a reload gives the
 * service a new one. Counted on the main thread only.
 */
struct settings {
	int refs;
	struct setting root; /* a SETTING_GROUP, maybe empty */
};
struct settings *settings_new(void);
struct settings *settings_ref(struct settings *);
void settings_unref(struct settings *);

struct restart_config {
	enum restart_policy policy;
	enum backoff_kind backoff;
	double delay;     /* first wait */
	double max_delay; /* cap */
	double jitter;    /* fraction of random spread, 0..1 */
	double reset;     /* stable run time that forgets past failures */
	int intensity;    /* more restarts than this within period: give up */
	double period;
};

/* Options of the process executors, applied by the runner. */
#define RLIMITS 8 /* nofile core as nproc cpu fsize memlock stack */
#define RLIMIT_UNSET (-2LL)
#define RLIMIT_INFINITE (-1LL)
struct proc_options {
	char *user;  /* for initgroups(); NULL when not set */
	char *home, *shell; /* user's, from the password database */
	bool has_uid, has_gid;
	uid_t uid;
	gid_t gid;
	int umask;   /* -1: inherited */
	char *workdir;
	char **env;  /* "NAME=value", added to a clean environment */
	size_t nenv;
	long long rlimit[RLIMITS];
	bool no_new_privs;
};

struct service_config {
	char name[NAME_MAX_LEN + 8]; /* room for "#NNNN" */
	char *plugin;                /* as written */
	char *plugin_path;           /* resolved */
	char *file;                  /* where it was defined */
	int line;
	int plugin_line;
	int executor_line;
	enum executor_kind executor;
	struct restart_config restart;
	double watchdog;
	double stop_timeout;
	enum ready_mode ready;
	double ready_timeout; /* notify: not ready by then is a failed start */
	int instances;
	int mailbox;   /* messages its mailbox holds */
	char **depends;  /* services it starts after, stops before */
	size_t ndepends;
	int depends_line;
	bool escalate;   /* giving up makes tendd exit (for systemd) */
	struct settings *settings;
	struct proc_options proc;
};

enum group_strategy {
	GROUP_ONE_FOR_ONE,  /* only the failed member restarts */
	GROUP_ONE_FOR_ALL,  /* every member restarts */
	GROUP_REST_FOR_ONE, /* the failed member and those after it */
};
struct group_config {
	char name[NAME_MAX_LEN + 1];
	enum group_strategy strategy;
	char **members; /* service names, in order */
	size_t nmembers;
	int intensity; /* more group restarts than this within period... */
	double period;
	bool escalate; /* ...and it gives up; escalate: tendd exits */
	char *file;
	int line, members_line;
};

struct tend_config {
	char *file; /* absolute path of the main file */
	char *dir;  /* its directory: relative paths start here */
	char **plugin_path;
	size_t nplugin_path;
	char *include_dir;
	char *control_socket;
	int control_mode;
	long control_uid, control_gid; /* the socket's owner; -1: ours */
	int log_level;
	double stop_timeout;
	bool cgroups; /* track process services in cgroups when possible */
	struct service_config *services;
	size_t nservices;
	struct group_config *groups;
	size_t ngroups;
	void *parsed; /* the main file as libconfig read it, or NULL */
};

struct tend_config *config_load(const char *path, struct errors *);
void config_drop_parsed(struct tend_config *);
void config_free(struct tend_config *);
void service_config_clear(struct service_config *);
const char *executor_name(enum executor_kind);
const char *group_strategy_name(enum group_strategy);
uint32_t executor_bit(enum executor_kind);
#define SC_DIFF_SETTINGS 1u   /* the settings group */
#define SC_DIFF_SUPERVISOR 2u /* restart strategy and timeouts */
#define SC_DIFF_RUN 4u        /* plugin, executor, readiness, process options */
unsigned service_config_diff(const struct service_config *,
                             const struct service_config *);

/* plugin.c: loading plugins from private copies */
struct plugin {
	char *path; /* the file it was read from */
	dev_t dev;
	ino_t ino;
	off_t file_size;
	unsigned checked; /* the pass it was last found the same as its file */
	bool stale;       /* the file changed: never used for a new start */
	void *handle;
	int memfd; /* the private copy */
	const struct tend_plugin *desc;
	struct tend_plugin api; /* desc, padded out to our size */
	int refs;
	struct plugin *next;
};
struct plugin *plugin_get(const char *path, char *err, size_t errlen);
void plugin_put(struct plugin *);
const char *plugin_executors_str(uint32_t bits, char *buf, size_t len);
int plugins_load(const struct tend_config *, struct plugin **out,
                 struct errors *, char **why);
struct plugin *plugin_for_service(const struct service_config *, char *err,
                                  size_t errlen, int *line);
void plugins_recheck(void);

/* backoff.c: pure restart arithmetic, no clocks or loops */
#define RESTART_HISTORY 101 /* intensity is at most 100 */
struct backoff {
	unsigned failures; /* consecutive, since the last reset */
	double *history;   /* restart times, a ring of RESTART_HISTORY made at
	                      the first: most services never restart */
	unsigned nhistory;
	unsigned head;
};
double backoff_delay(const struct restart_config *, unsigned failures,
                     double unit_random);
bool backoff_allow_restart(struct backoff *, const struct restart_config *,
                           double now);
void backoff_note_run(struct backoff *, const struct restart_config *,
                      double ran_for);
void backoff_clear(struct backoff *);

/* exit.c: why an instance ended */
enum exit_kind {
	EXIT_CLEAN,        /* finished with status 0 */
	EXIT_CODE,         /* returned or exited non-zero */
	EXIT_FAILED,       /* tend_fail(), with a reason */
	EXIT_SIGNALED,     /* killed by a signal */
	EXIT_HUNG,         /* no heartbeat within watchdog */
	EXIT_START_FAILED, /* could not start at all */
	EXIT_STOP_TIMEOUT, /* did not stop in time */
	EXIT_STOPPED,      /* stopped on request */
};
struct exit_info {
	enum exit_kind kind;
	int code; /* exit status or signal number */
	bool core;
	char reason[REASON_MAX];
};
void exit_describe(const struct exit_info *, char *buf, size_t len);
bool exit_is_failure(const struct exit_info *);

/* clock.c */
double mono_now(void); /* seconds on CLOCK_MONOTONIC */

/* reexec.c: executes tendd again with a small TLS reserve, or returns */
void reexec_for_small_tls(char **argv);

/*
 * ev_alloc.c: libev's allocator. Blocks of a page or more (a loop's table
 * of fds, once fds are in the hundreds) get pages of their own; smaller
 * ones come from malloc.
 *
 * ev_alloc_init() installs it; call it before any loop exists.
 * ev_alloc_realloc() is it: realloc() semantics, size 0 frees and returns
 * NULL.
 * ev_alloc_tag(tag): the large blocks the calling thread makes or resizes
 * from now on belong to `tag` (a loop being set up); NULL: to none. A
 * block keeps its tag when resized later.
 * ev_alloc_trim(tag): gives back the pages holding only zeros of tag's
 * blocks that the calling thread made or resized since they were last
 * trimmed; contents are unchanged. Call it only while no other thread
 * may use those blocks.
 */
void ev_alloc_init(void);
void *ev_alloc_realloc(void *ptr, long size);
void ev_alloc_tag(const void *tag);
void ev_alloc_trim(const void *tag);

/* host.c: instances, and the function table plugins call */
struct ev_loop;
struct supervisor;
struct executor_ops;

/* One run of a service: created at each start, freed after it ended. */
struct instance {
	struct tend_ctx ctx; /* first: plugins hold a pointer to it */
	struct supervisor *sv;
	const struct executor_ops *ops;
	const struct tend_plugin *api;
	struct plugin *plugin;            /* a reference, held while it runs */
	_Atomic(const struct setting *) settings; /* the latest it was given */
	struct settings **held;           /* every tree it was given */
	size_t nheld;
	char *file;                       /* config file, for setting errors */
	char name[NAME_MAX_LEN + 8];
	void *data;                       /* the plugin's */
	struct ev_loop *loop;             /* start() plugins' loop */
	int stop_fd;                      /* eventfd, readable once stopping */
	_Atomic int stopping;
	_Atomic int ready_sent;
	_Atomic double last_beat;         /* mono_now() of the last heartbeat */
	_Atomic int ended;                /* tend_fail or tend_exit was called */
	int end_status;                   /* tend_exit's, or -1 for fail */
	char *end_reason;                 /* tend_fail's, or NULL */
	bool abandoned;                   /* did not stop; left to itself */
	_Atomic pid_t tid;                /* thread id, 0 when on the host */
	pid_t pid;                        /* child process, or 0 */
	unsigned long output_dropped;     /* child output lines over the rate */
	unsigned long output_dropped_logged;
	void *exec;                       /* executor's private state */
	unsigned long mail_run;           /* its run in the mailbox */
};
struct instance *instance_new(struct supervisor *, const struct executor_ops *,
                              struct plugin *, const struct service_config *,
                              struct ev_loop *host_loop);
void instance_free(struct instance *);
void instance_set_settings(struct instance *, struct settings *);
void instance_exit_info(const struct instance *, int rc,
                        struct exit_info *out);

/* events.c: executor reports, from any thread, to the main loop */
enum instance_event {
	IE_STARTED, /* running the plugin */
	IE_READY,   /* tend_ready() */
	IE_END,     /* the plugin asked to end (async: stop it for me) */
	IE_RELOADED, /* reload() returned; its value in exit_info.code */
	IE_EXITED,  /* finished; the last event of an instance */
};
int events_init(struct ev_loop *main_loop);
void events_post(struct instance *, enum instance_event,
                 const struct exit_info *);
void events_shutdown(void);

/* exec_*.c: how a service runs, all behind the same operations */
struct executor_ops {
	const char *name;
	int (*start)(struct instance *, char *err, size_t errlen);
	void (*stop)(struct instance *);      /* ask; IE_EXITED follows */
	bool (*kill)(struct instance *);      /* deadline passed; true: gone */
	void (*reap)(struct instance *);      /* after IE_EXITED: release */
	void (*self_end)(struct instance *);  /* plugin called fail/exit */
	/* new settings are in place: call reload() where the plugin runs,
	 * then post IE_RELOADED (unless the run ends first) */
	void (*reconfigure)(struct instance *);
	/* optional: let go of what a run left for the next (sv->spare) */
	void (*drop_spare)(struct supervisor *);
};
extern const struct executor_ops exec_async_ops;
extern const struct executor_ops exec_thread_ops;
extern const struct executor_ops exec_thread_async_ops;
extern const struct executor_ops exec_process_ops;
extern const struct executor_ops exec_process_async_ops;
void exec_process_setup(const char *cgroup_dir);
void exec_process_shutdown(void);
void exec_process_forget(const char *service);

/* spawn.c: starting a runner, through the launcher when there is one */
struct runner_spawn {
	const char *name;
	char **env;
	int fds[4]; /* become the runner's stdout, stderr, channel, plugin */
	int cgroup; /* the cgroup directory to run it in, or -1 */
};
void spawn_init(struct ev_loop *loop, const char *runner);
pid_t spawn_runner(const struct runner_spawn *s, char *err, size_t errlen);
/* Through the launcher only; done(arg, pid or 0) later, from the loop. */
bool spawn_runner_ahead(const struct runner_spawn *s,
                        void (*done)(void *arg, pid_t pid), void *arg);
void spawn_runner_wait(void);          /* for that answer, now */
void spawn_runner_forget(void *arg);   /* no done(): close its channel */
void spawn_shutdown(void);
const char *exec_process_tracking(void);
const struct executor_ops *executor_ops(enum executor_kind);
/* The state of both thread executors starts with this. */
struct thread_state {
	pthread_t thread;
	bool joined;
};
int thread_spawn(struct instance *, void *(*fn)(void *), char *err,
                 size_t errlen);
void thread_begin(struct instance *);
void thread_trim_stack(void);
bool thread_abandon(struct instance *);
void thread_reap(struct instance *);
void thread_wake(struct instance *);

/* supervisor.c: the per-service state machine and restart strategy */
enum sv_state {
	SV_STOPPED,
	SV_STARTING,
	SV_RUNNING,
	SV_READY,
	SV_STOPPING,
	SV_BACKOFF,
	SV_EXITED,
	SV_FAILED,
	SV_NSTATES
};
struct supervisor {
	struct service_config cfg; /* owned */
	struct plugin *plugin;     /* a reference */
	const struct executor_ops *ops;
	struct ev_loop *loop;
	enum sv_state state;
	struct instance *inst; /* the current run, or NULL */
	struct backoff backoff;
	/* owned, NULL when none: most services never have them */
	struct exit_info *last;    /* why the last run ended */
	struct exit_info *pending; /* why we are ending it (hang, timeout) */
	bool stop_wanted;    /* stopping on request: do not restart */
	bool restart_wanted; /* tendctl restart: start again once stopped */
	unsigned abandoned;  /* runs that did not stop and still run */
	bool gave_up;        /* failed: too many restarts within period */
	unsigned restarts;
	unsigned long output_dropped; /* over all past runs */
	double since;      /* mono_now() when the state was entered */
	double started_at; /* mono_now() of the current run's start */
	double next_start; /* mono_now() the backoff ends */
	unsigned long start_seq; /* order of the last start, for shutdown */
	void *timer;             /* ev_timer: backoff, ready or stop deadline */
	void *watchdog;          /* ev_timer */
	/* reloads */
	struct service_config *next; /* to run once the current run is over */
	struct plugin *next_plugin;
	char *plugin_error; /* why plugin is NULL */
	bool reloading;     /* the plugin's reload() is yet to answer */
	int reload_rc;      /* its answer */
	unsigned long reload_seq; /* start_seq of the run that answered */
	struct mailbox *mailbox;  /* messages to it (mailbox.c) */
	void *spare;        /* its executor's, waiting for the next run */
	bool restarting_fast; /* this start: at once, after a run < FAST_RUN */
	bool waiting;       /* to start once what it depends on is ready */
	bool removing;      /* a reload removed it: stopping, then freed */
	bool group_restart, group_stop; /* its group's order, done from the loop */
	size_t deps_next;   /* the first dependency not ready at the last look */
};
typedef void sv_observer_fn(void *arg, struct supervisor *,
                            enum sv_state from);
/* true: do not restart it (its group gave up) */
typedef bool sv_failure_fn(struct supervisor *, bool gave_up);
struct supervisor *supervisor_new(struct ev_loop *, struct service_config *,
                                  struct plugin *);
void supervisor_free(struct supervisor *);
int supervisor_start(struct supervisor *);
int supervisor_stop(struct supervisor *);
int supervisor_restart(struct supervisor *);
void supervisor_event(struct supervisor *, struct instance *,
                      enum instance_event, const struct exit_info *);
void supervisor_observe(sv_observer_fn *, void *arg);
void supervisor_on_failure(sv_failure_fn *);
bool supervisor_replace(struct supervisor *, struct service_config *,
                        struct plugin *, const char *error);
bool supervisor_update(struct supervisor *, struct service_config *);
void supervisor_set_plugin_error(struct supervisor *, const char *error);
const char *sv_state_name(enum sv_state);
bool sv_state_is_down(enum sv_state);

/* services.c: every supervisor the daemon runs */
void services_create(struct ev_loop *, struct tend_config *,
                     struct plugin **plugins);
void services_start_all(void);
void services_start(struct supervisor *);
void services_start_waiting(void);
void services_set_groups(struct tend_config *);
size_t services_groups(void);
void services_group_info(size_t i, const char **name, const char **strategy,
                         bool *failed, unsigned *restarts);
const char *services_group_of(const struct supervisor *);
void services_on_escalate(void (*fn)(const char *who));
void services_adopt(struct supervisor **list, size_t n);
void services_remove(struct supervisor *);
size_t services_count(void);
struct supervisor *services_at(size_t i);
struct supervisor *services_find(const char *name);
void services_shutdown(void (*done)(void));
bool services_any_stuck(void);
bool services_shutting_down(void);
void services_free(void);

/* reload.c: live reconfiguration */
enum reload_outcome {
	RO_UNCHANGED,
	RO_ADDED,
	RO_REMOVED,
	RO_RESTARTED,
	RO_RECONFIGURED, /* in place: settings, restart strategy, timeouts */
	RO_FAILED,
};
struct reload_item {
	char name[NAME_MAX_LEN + 8];
	enum reload_outcome outcome;
	char *reason; /* or NULL */
};
struct reload_report {
	unsigned long id;
	bool dry_run;
	bool rejected;       /* the config has errors: nothing changed */
	char origin[64];     /* who asked */
	struct errors errors; /* why it was rejected */
	struct errors notes;  /* global settings changed */
	struct reload_item *items;
	size_t nitems;
	double started, took;
};
typedef void reload_done_fn(void *arg, const struct reload_report *);
void reload_init(struct ev_loop *, struct tend_config *, bool debug);
void reload_request(bool dry_run, const char *origin, reload_done_fn *,
                    void *arg);
void reload_signal(void);
void reload_cancel(void *arg);
const struct reload_report *reload_last(void);
const char *reload_outcome_name(enum reload_outcome);
void reload_shutdown(void);

/* recent.c: the last lines each service logged */
#define RECENT_LINES 5
struct recent_line {
	double time; /* seconds since the epoch */
	int level;
	char text[200];
};
void recent_init(void);
size_t recent_lines(const char *name, struct recent_line out[RECENT_LINES]);
void recent_forget(const char *name);
void recent_free(void);

/* notify.c: systemd's notification socket, when there is one */
void notify_init(struct ev_loop *);
void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_shutdown(void);

/* mailbox.c: messages between services, found by name from any thread */
struct mail_block;
struct mail {
	struct mail *next;
	struct mail_block *block;     /* NULL, or shared with its batch */
	uint32_t len;                 /* at most TEND_MSG_MAX */
	unsigned char fromlen;        /* strlen(from) */
	char from[NAME_MAX_LEN + 10]; /* a service, "@service" or "tendctl" */
	unsigned char data[];         /* len bytes, then a NUL */
};
struct mail_counts {
	unsigned long sent, received, refused, dropped;
	unsigned queued; /* waiting, or on their way to the plugin */
};
#define MAILBOX_DEFAULT 1024 /* messages, the `mailbox` key's default */
#define MAILBOX_MAX 1000000
#define MAIL_BATCH 64 /* delivered per wake-up, then other events run */
typedef void mailbox_wake_fn(void *arg);
struct mailbox *mailbox_new(const char *name, int limit);
void mailbox_free(struct mailbox *);
void mailbox_set_limit(struct mailbox *, int limit);
unsigned long mailbox_open(struct mailbox *, int limit, bool receives);
void mailbox_close(struct mailbox *, unsigned long run);
void mailbox_state(struct mailbox *, const char *state, bool up);
void mailbox_bind(struct mailbox *, unsigned long run, mailbox_wake_fn *,
                  void *arg);
void mailbox_unbind(struct mailbox *, unsigned long run);
void mail_free(struct mail *);
void mail_free_chain(struct mail *);
struct mail *mailbox_take(struct mailbox *, unsigned long run);
struct mail *mailbox_take_some(struct mailbox *, unsigned long run,
                               unsigned max, size_t bytes, size_t each,
                               unsigned *n);
void mailbox_settle(struct mailbox *, unsigned long run, unsigned delivered,
                    unsigned lost);
bool mailbox_deliver(struct mailbox *, struct instance *, unsigned max);
int mailbox_send(struct mailbox *from_box, const char *from, const char *to,
                 const void *data, size_t len);
/* What tend_send() refuses before looking for the receiver: 0 or errno. */
static inline int mail_refused_early(const struct tend_msg *msg)
{
	if (msg->data == NULL && msg->len > 0)
		return EINVAL;
	return msg->len > TEND_MSG_MAX ? EMSGSIZE : 0;
}
size_t mailbox_send_batch(struct mailbox *from_box, const char *from,
                          const char *to, const struct tend_msg *msgs,
                          size_t n, int *err);
int mailbox_watch(struct mailbox *watcher, unsigned long run,
                  const char *name);
void mailbox_counts(struct mailbox *, struct mail_counts *);

/* utf8.c */
char *utf8_sanitize(char *s);

/* launcher.c, in tend-runner: forks runners; returns in each of them */
const char *launcher_serve(pid_t tendd);

/* cgroup.c: where process services get cgroups of their own */
char *cgroup_find_base(void);
void cgroup_remove(const char *dir);

/* control.c: the control socket */
struct control_access {
	const char *path;
	int mode;
	long uid, gid; /* -1: leave as created */
};
int control_open(struct ev_loop *, const struct control_access *);
int control_move(const struct control_access *, char *err, size_t errlen);
void control_close(void);

#endif
