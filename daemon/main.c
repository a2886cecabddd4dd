/*
 * tendd: options, the config check (-t), start-up order and shutdown.
 *
 * Start-up: read and check the whole config (loading every plugin) before
 * anything runs, open the control socket, then start the services and say
 * "ready". SIGHUP reloads the config (reload.c). SIGTERM or SIGINT stops
 * the services (dependents first, latest started first) and exits; the
 * status is 0 unless a service would not stop (1) or a group or service
 * with escalate gave up (75).
 */
#include <ev.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tendd.h"

#ifndef TEND_SYSCONFDIR
#define TEND_SYSCONFDIR "/usr/local/etc/tend"
#endif
#ifndef TEND_VERSION
#define TEND_VERSION "0.1.0"
#endif

#define EXIT_ESCALATED 75 /* EX_TEMPFAIL: restart me */

static struct ev_loop *loop;
static ev_signal sig_term, sig_int, sig_hup;
static ev_timer escalation;
static bool stopping;
static char escalated[NAME_MAX_LEN + 8]; /* who gave up, escalating */

static void usage(FILE *to)
{
	fprintf(to, "usage: tendd [-t] [-c FILE] [-d]\n"
	            "  -c FILE  config file (default " TEND_SYSCONFDIR
	            "/tend.conf)\n"
	            "  -t       check the config and its plugins, then exit\n"
	            "  -d       log at debug level\n"
	            "  -V       print the version\n");
}

/* Many services mean many descriptors: take all the kernel allows us. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/*
 * The runner beside our own binary (a build tree), else the installed
 * one; and a cgroup per process service when we may, else we adopt the
 * orphans our children leave (child subreaper).
 */
static char *setup_processes(const struct tend_config *cfg)
{
	static char runner[PATH_MAX + 16];
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	char *cg = NULL;

	if (n > 0) {
		exe[n] = '\0';
		*strrchr(exe, '/') = '\0';
		snprintf(runner, sizeof(runner), "%s/tend-runner", exe);
	}
	if (n <= 0 || access(runner, X_OK) < 0)
		snprintf(runner, sizeof(runner), "%s", TEND_LIBEXECDIR "/tend-runner");
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (cfg->cgroups)
		cg = cgroup_find_base();
	exec_process_setup(cg);
	spawn_init(loop, runner);
	log_info("process services: runner '%s', tracked by %s%s%s", runner,
	         exec_process_tracking(), cg ? " " : "", cg ? cg : "");
	return cg;
}

/*
 * A run ends on its runner's last word, before the runner is gone, and a
 * killed leftover takes a moment to die: reap what is left, for at most
 * `secs`, so that none outlives tendd as a zombie for its new parent.
 */
static void reap_children(double secs)
{
	double end = mono_now() + secs, left;
	sigset_t chld, old;
	pid_t pid;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	pthread_sigmask(SIG_BLOCK, &chld, &old);
	while ((pid = waitpid(-1, NULL, WNOHANG)) >= 0) {
		struct timespec ts;
		if (pid > 0)
			continue;
		if ((left = end - mono_now()) <= 0)
			break;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		(void)sigtimedwait(&chld, NULL, &ts); /* a child's end, or time */
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void all_stopped(void)
{
	log_info("all services stopped");
	ev_break(loop, EVBREAK_ALL);
}

static void on_stop_signal(struct ev_loop *l, ev_signal *w, int revents)
{
	(void)l, (void)revents;
	if (stopping) {
		log_notice("signal %d: shutdown already under way", w->signum);
		return;
	}
	stopping = true;
	notify_stopping();
	log_notice("signal %d: stopping %zu services", w->signum,
	           services_count());
	services_shutdown(all_stopped);
}

static void on_escalation(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l, (void)w, (void)revents;
	services_shutdown(all_stopped);
}

/*
 * A group or service with escalate = true gave up: stop everything and
 * exit 75, from the loop (the supervisor that gave up is mid-action).
 */
static void on_escalate(const char *who)
{
	if (stopping)
		return;
	stopping = true;
	snprintf(escalated, sizeof(escalated), "%s", who);
	notify_stopping();
	log_error("'%s' gave up and escalates: stopping %zu services, then "
	          "exiting %d",
	          who, services_count(), EXIT_ESCALATED);
	ev_timer_init(&escalation, on_escalation, 0., 0.);
	ev_timer_start(loop, &escalation);
}

static void on_hup(struct ev_loop *l, ev_signal *w, int revents)
{
	(void)l, (void)w, (void)revents;
	reload_signal();
}

static void watch_signal(ev_signal *w, void (*cb)(struct ev_loop *,
                                                  ev_signal *, int),
                         int sig)
{
	ev_signal_init(w, cb, sig);
	ev_signal_start(loop, w);
}

/* Load and check config and plugins; exits EX_CONFIG on any problem. */
static struct tend_config *load_or_exit(const char *file, bool check_only,
                                        struct plugin ***plugins)
{
	struct errors errs = {0};
	struct tend_config *cfg = config_load(file, &errs);

	if (cfg) {
		*plugins = calloc(cfg->nservices + 1, sizeof(**plugins));
		if (*plugins == NULL)
			fatalx("out of memory");
		plugins_load(cfg, *plugins, &errs, NULL);
	}
	if (errs.count == 0)
		return cfg;
	errors_print(&errs, check_only);
	if (check_only)
		fprintf(stderr, "tendd: config '%s' has %zu error%s\n", file,
		        errs.count, errs.count == 1 ? "" : "s");
	errors_clear(&errs);
	if (cfg) {
		for (size_t i = 0; i < cfg->nservices; i++)
			plugin_put((*plugins)[i]);
		free(*plugins);
		config_free(cfg);
	}
	exit(EXIT_CONFIG);
}

int main(int argc, char **argv)
{
	const char *file = TEND_SYSCONFDIR "/tend.conf";
	struct tend_config *cfg;
	struct plugin **plugins = NULL;
	bool check_only = false, debug = false;
	char *cgroup = NULL;
	int opt, status;

	reexec_for_small_tls(argv);
	ev_alloc_init(); /* before any loop, a plugin's included */
	while ((opt = getopt(argc, argv, "c:dtVh")) != -1) {
		switch (opt) {
		case 'c':
			file = optarg;
			break;
		case 'd':
			debug = true;
			break;
		case 't':
			check_only = true;
			break;
		case 'V':
			printf("tendd %s (plugin ABI %d)\n", TEND_VERSION,
			       TEND_ABI_VERSION);
			return 0;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	log_init(TEND_LOG_INFO);
	raise_fd_limit();
	cfg = load_or_exit(file, check_only, &plugins);
	if (check_only) {
		fprintf(stderr, "tendd: config '%s' is ok: %zu service%s\n",
		        file, cfg->nservices, cfg->nservices == 1 ? "" : "s");
		for (size_t i = 0; i < cfg->nservices; i++)
			plugin_put(plugins[i]);
		free(plugins);
		config_free(cfg);
		return 0;
	}
	log_init(debug ? TEND_LOG_DEBUG : cfg->log_level);
	recent_init();
	signal(SIGPIPE, SIG_IGN);
	srand48((long)getpid() ^ (long)(mono_now() * 1e6));

	loop = ev_default_loop(EVFLAG_AUTO);
	if (loop == NULL)
		fatalx("cannot initialise the event loop");
	watch_signal(&sig_term, on_stop_signal, SIGTERM);
	watch_signal(&sig_int, on_stop_signal, SIGINT);
	watch_signal(&sig_hup, on_hup, SIGHUP);
	events_init(loop);
	notify_init(loop);
	cgroup = setup_processes(cfg);
	if (control_open(loop, &(struct control_access){
	                           cfg->control_socket, cfg->control_mode,
	                           cfg->control_uid, cfg->control_gid}) < 0)
		exit(EXIT_OSERR);

	services_on_escalate(on_escalate);
	services_create(loop, cfg, plugins);
	free(plugins);
	reload_init(loop, cfg, debug); /* it keeps the config's globals */
	log_info("tendd %s starting %zu services from '%s'", TEND_VERSION,
	         services_count(), cfg->file);
	services_start_all();
	notify_ready();
	log_notice("ready");
	ev_run(loop, 0);

	status = services_any_stuck() ? 1 : escalated[0] ? EXIT_ESCALATED : 0;
	control_close();
	if (status == 1) {
		/* stuck threads may still run plugin code: unload nothing */
		log_error("exiting with status 1: a service did not stop");
		exit(status);
	}
	reload_shutdown();
	notify_shutdown();
	services_free();
	spawn_shutdown();
	reap_children(1.0);
	events_shutdown();
	if (cgroup)
		cgroup_remove(cgroup);
	free(cgroup);
	exec_process_shutdown();
	ev_loop_destroy(loop);
	recent_free();
	if (status)
		log_error("exiting with status %d: '%s' gave up", status,
		          escalated);
	else
		log_info("exited");
	return status;
}
