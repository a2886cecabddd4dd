/*
 * Tests of daemon/config.c through config_load(): config files written to
 * a mkdtemp() directory come back as a struct tend_config with every
 * default filled in, or as errors that read "FILE:LINE: KEY: what". The
 * plugin is an empty p.so there: config_load() only looks for the file.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"
#include "tendd.h"

static char dir[256];       /* the mkdtemp() directory */
static char conf[PATH_MAX]; /* dir/tend.conf, as handed to config_load */

/* Write `text` to dir/name, creating or replacing it. */
static void write_file(const char *name, const char *text)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0) {
		diag("cannot write %s: %s", path, strerror(errno));
		exit(2);
	}
}

static void remove_file(const char *name)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (unlink(path) != 0 && errno != ENOENT)
		diag("cannot remove %s: %s", path, strerror(errno));
}

/* `text` as tend.conf, loaded. */
static struct tend_config *load(const char *text, struct errors *errs)
{
	write_file("tend.conf", text);
	return config_load(conf, errs);
}

static void dump_errors(const struct errors *errs)
{
	for (size_t i = 0; i < errs->count; i++)
		diag("error: %s", errs->msgs[i]);
}

/*
 * `text` must be refused with exactly one error, which starts with
 * "FILE:LINE: KEY:" and contains `what`.
 */
static void refused(const char *text, const char *file, int line,
                    const char *key, const char *what, const char *desc)
{
	struct errors errs = {0};
	struct tend_config *cfg = load(text, &errs);
	char want[PATH_MAX + 128];
	const char *msg = errs.count ? errs.msgs[0] : NULL;

	snprintf(want, sizeof(want), "%s:%d: %s:", file, line, key);
	ok(cfg == NULL, "%s: refused", desc);
	if (!is_int(errs.count, 1, "%s: one error", desc))
		dump_errors(&errs);
	ok(msg && strncmp(msg, want, strlen(want)) == 0,
	   "%s: error at line %d, key %s", desc, line, key);
	if (msg && strncmp(msg, want, strlen(want)) != 0)
		diag("got '%s', want it to start with '%s'", msg, want);
	like(msg, what, "%s: error says what is wrong", desc);
	config_free(cfg);
	errors_clear(&errs);
}

static void test_defaults(void)
{
	static const char text[] =
	    "tend = {\n"                                       /* 1 */
	    "  plugin_path = [ \".\" ];\n"                     /* 2 */
	    "  stop_timeout = 7.5;\n"                          /* 3 */
	    "};\n"                                             /* 4 */
	    "services = (\n"                                   /* 5 */
	    "  {\n"                                            /* 6 */
	    "    name = \"a\";\n"                              /* 7 */
	    "    plugin = \"p.so\";\n"                         /* 8 */
	    "    executor = \"async\";\n"                      /* 9 */
	    "    settings = { n = 3; f = 2.5;\n"               /* 10 */
	    "                 g = { b = \"deep\"; on = true; }; };\n" /* 11 */
	    "  }\n"                                            /* 12 */
	    ");\n";
	struct errors errs = {0};
	struct tend_config *cfg = load(text, &errs);
	const struct service_config *sc;
	const struct setting *s;
	char want[PATH_MAX + 16];

	ok(cfg != NULL, "a valid config loads");
	if (!is_int(errs.count, 0, "a valid config has no errors"))
		dump_errors(&errs);
	if (cfg == NULL || cfg->nservices != 1) {
		ok(0, "one service");
		config_free(cfg);
		errors_clear(&errs);
		return;
	}
	is_str(cfg->file, conf, "the config's file is kept");
	is_str(cfg->dir, dir, "its directory is kept");
	is_double(cfg->stop_timeout, 7.5, 0, "tend.stop_timeout is read");
	is_int(cfg->control_mode, 0660, "control.mode defaults to 0660");
	is_int(cfg->nplugin_path, 1, "one plugin_path entry");
	snprintf(want, sizeof(want), "%s/.", dir);
	is_str(cfg->plugin_path[0], want,
	       "plugin_path is relative to the config's directory");

	sc = &cfg->services[0];
	is_str(sc->name, "a", "name");
	is_str(sc->plugin, "p.so", "plugin as written");
	snprintf(want, sizeof(want), "%s/./p.so", dir);
	is_str(sc->plugin_path, want, "plugin found on plugin_path");
	is_str(sc->file, conf, "the service knows its file");
	is_int(sc->line, 6, "the service's line is its '{'");
	is_int(sc->plugin_line, 8, "plugin_line");
	is_int(sc->executor_line, 9, "executor_line");
	is_int(sc->executor, EXEC_ASYNC, "executor async");
	is_int(sc->restart.policy, POLICY_PERMANENT, "policy: permanent");
	is_int(sc->restart.backoff, BACKOFF_EXPONENTIAL,
	       "backoff: exponential");
	is_double(sc->restart.delay, 0.1, 1e-12, "delay: 0.1");
	is_double(sc->restart.max_delay, 30.0, 1e-12, "max_delay: 30");
	is_double(sc->restart.jitter, 0.1, 1e-12, "jitter: 0.1");
	is_int(sc->restart.intensity, 5, "intensity: 5");
	is_double(sc->restart.period, 10.0, 1e-12, "period: 10");
	is_double(sc->restart.reset, 30.0, 1e-12,
	          "reset: max(max_delay, 10) = 30");
	is_double(sc->stop_timeout, 7.5, 1e-12,
	          "stop_timeout: from tend.stop_timeout");
	is_int(sc->instances, 1, "instances: 1");
	is_int(sc->ready, READY_START, "ready: start");
	is_double(sc->watchdog, 0.0, 0, "watchdog: off");

	is_int(sc->settings->root.type, SETTING_GROUP, "settings is a group");
	ok(sc->settings->root.name == NULL, "settings root has no name");
	s = setting_lookup(&sc->settings->root, "n");
	ok(s && s->type == SETTING_INT && s->v.i == 3, "settings n = 3");
	s = setting_lookup(&sc->settings->root, "f");
	ok(s && s->type == SETTING_FLOAT && s->v.d == 2.5,
	   "settings f = 2.5");
	s = setting_lookup(&sc->settings->root, "g.b");
	ok(s && s->type == SETTING_STRING, "settings g.b is a string");
	is_str(s ? s->v.s : NULL, "deep", "settings g.b = \"deep\"");
	is_int(s ? s->line : -1, 11, "settings g.b knows its line");
	s = setting_lookup(&sc->settings->root, "g.on");
	ok(s && s->type == SETTING_BOOL && s->v.b, "settings g.on = true");
	s = setting_lookup(&sc->settings->root, "g");
	ok(s && s->type == SETTING_GROUP && s->nkids == 2,
	   "settings g is a group of 2");
	ok(setting_lookup(&sc->settings->root, "g.x") == NULL,
	   "an absent nested key is NULL");
	ok(setting_lookup(&sc->settings->root, "n.b") == NULL,
	   "a key under a non-group is NULL");
	ok(setting_lookup(&sc->settings->root, "gg") == NULL,
	   "a key is matched whole, not by prefix");
	config_free(cfg);
	errors_clear(&errs);
}

/* Explicit values, and reset's default following max_delay. */
static void test_values(void)
{
	static const char text[] =
	    "tend = {\n"
	    "  plugin_path = \".\";\n"
	    "  control = { socket = \"run/t.sock\"; mode = \"0640\"; };\n"
	    "};\n"
	    "services = (\n"
	    "  { name = \"a\"; plugin = \"p.so\"; executor = \"thread\";\n"
	    "    restart = { max_delay = 5.0; }; },\n"
	    "  { name = \"b\"; plugin = \"./p.so\"; executor = \"thread-async\";\n"
	    "    restart = { delay = 1; max_delay = 60; }; },\n"
	    "  { name = \"c\"; plugin = \"p.so\"; executor = \"async\";\n"
	    "    ready = \"notify\"; watchdog = 2.0; stop_timeout = 3.0;\n"
	    "    restart = { policy = \"temporary\"; backoff = \"linear\";\n"
	    "                jitter = 0.0; reset = 2.5; intensity = 0;\n"
	    "                period = 1.5; }; }\n"
	    ");\n";
	struct errors errs = {0};
	struct tend_config *cfg = load(text, &errs);
	char want[PATH_MAX + 16];

	if (!ok(cfg != NULL && cfg->nservices == 3, "three services load"))
		dump_errors(&errs);
	if (cfg == NULL || cfg->nservices != 3) {
		config_free(cfg);
		errors_clear(&errs);
		return;
	}
	is_double(cfg->stop_timeout, 10.0, 0, "tend.stop_timeout: 10");
	is_int(cfg->control_mode, 0640, "control.mode \"0640\" is octal");
	snprintf(want, sizeof(want), "%s/run/t.sock", dir);
	is_str(cfg->control_socket, want,
	       "control.socket is relative to the config");
	is_double(cfg->services[0].restart.reset, 10.0, 1e-12,
	          "max_delay 5: reset defaults to 10");
	is_double(cfg->services[0].stop_timeout, 10.0, 1e-12,
	          "stop_timeout defaults to tend's default, 10");
	is_int(cfg->services[0].executor, EXEC_THREAD, "executor thread");
	is_double(cfg->services[1].restart.reset, 60.0, 1e-12,
	          "max_delay 60: reset defaults to 60");
	is_double(cfg->services[1].restart.delay, 1.0, 1e-12,
	          "an integer delay is taken");
	is_int(cfg->services[1].executor, EXEC_THREAD_ASYNC,
	       "executor thread-async");
	snprintf(want, sizeof(want), "%s/./p.so", dir);
	is_str(cfg->services[1].plugin_path, want,
	       "a plugin with a '/' is relative to the config");
	is_double(cfg->services[2].restart.reset, 2.5, 1e-12,
	          "reset given: kept");
	is_int(cfg->services[2].restart.policy, POLICY_TEMPORARY,
	       "policy temporary");
	is_int(cfg->services[2].restart.backoff, BACKOFF_LINEAR,
	       "backoff linear");
	is_int(cfg->services[2].restart.intensity, 0, "intensity 0");
	is_double(cfg->services[2].restart.period, 1.5, 1e-12, "period 1.5");
	is_double(cfg->services[2].restart.jitter, 0.0, 0, "jitter 0");
	is_int(cfg->services[2].ready, READY_NOTIFY, "ready notify");
	is_double(cfg->services[2].watchdog, 2.0, 1e-12, "watchdog 2");
	is_double(cfg->services[2].stop_timeout, 3.0, 1e-12,
	          "a service's own stop_timeout");
	config_free(cfg);
	errors_clear(&errs);
}

static void test_instances(void)
{
	static const char text[] =
	    "tend = { plugin_path = [ \".\" ]; };\n"
	    "services = (\n"
	    "  { name = \"x\"; plugin = \"p.so\"; executor = \"async\";\n"
	    "    instances = 3; settings = { k = 7; }; }\n"
	    ");\n";
	struct errors errs = {0};
	struct tend_config *cfg = load(text, &errs);
	char name[16];

	if (!ok(cfg != NULL && cfg->nservices == 3,
	        "instances = 3 gives three services"))
		dump_errors(&errs);
	for (size_t i = 0; cfg && i < cfg->nservices && i < 3; i++) {
		const struct service_config *sc = &cfg->services[i];
		const struct setting *k = setting_lookup(&sc->settings->root, "k");

		snprintf(name, sizeof(name), "x#%zu", i);
		is_str(sc->name, name, "instance %zu is named %s", i, name);
		is_int(sc->instances, 3, "%s knows there are 3", name);
		ok(k && k->type == SETTING_INT && k->v.i == 7,
		   "%s has its settings", name);
	}
	/* each owns its copy: config_free() frees each once (ASan checks) */
	if (cfg && cfg->nservices == 3) {
		ok(cfg->services[1].settings->root.kids !=
		       cfg->services[0].settings->root.kids,
		   "instances do not share settings");
		ok(cfg->services[2].file != cfg->services[0].file,
		   "instances do not share strings");
	}
	config_free(cfg);
	errors_clear(&errs);
}

/*
 * Names are looked up in an index: depends on a service with instances
 * names each instance, in config order; duplicates and missing plugins
 * are each reported once per service, in config order.
 */
static void test_links(void)
{
	struct errors errs = {0};
	struct tend_config *cfg;
	char want[2 * PATH_MAX + 128];

	cfg = load("tend = { plugin_path = [ \".\" ]; };\n"
	           "services = (\n"
	           "  { name = \"w\"; plugin = \"p.so\"; executor = \"async\";\n"
	           "    depends = [ \"c\", \"d\" ]; },\n"
	           "  { name = \"c\"; plugin = \"p.so\"; executor = \"async\";\n"
	           "    instances = 3; },\n"
	           "  { name = \"d\"; plugin = \"p.so\"; executor = \"async\";\n"
	           "    depends = [ \"c\" ]; }\n"
	           ");\n",
	           &errs);
	if (!ok(cfg != NULL, "depends on instances: loaded"))
		dump_errors(&errs);
	if (cfg && is_int(cfg->services[0].ndepends, 4,
	                  "w depends on c's three instances and d")) {
		is_str(cfg->services[0].depends[0], "c#0", "c#0 first");
		is_str(cfg->services[0].depends[1], "c#1", "then c#1");
		is_str(cfg->services[0].depends[2], "c#2", "then c#2");
		is_str(cfg->services[0].depends[3], "d", "then d");
	}
	config_free(cfg);
	errors_clear(&errs);

	cfg = load("tend = { plugin_path = [ \".\" ]; };\n"
	           "services = (\n"
	           "  { name = \"b\"; plugin = \"p.so\"; executor = \"async\"; },\n"
	           "  { name = \"a\"; plugin = \"p.so\"; executor = \"async\"; },\n"
	           "  { name = \"b\"; plugin = \"p.so\"; executor = \"async\"; },\n"
	           "  { name = \"a\"; plugin = \"p.so\"; executor = \"async\"; },\n"
	           "  { name = \"a\"; plugin = \"p.so\"; executor = \"async\"; }\n"
	           ");\n",
	           &errs);
	ok(cfg == NULL, "duplicates: refused");
	if (is_int(errs.count, 3, "duplicates: each one reported")) {
		snprintf(want, sizeof(want), "%s:5: name: duplicate service "
		         "'b', first defined at %s:3", conf, conf);
		is_str(errs.msgs[0], want, "the first duplicate first");
		snprintf(want, sizeof(want), "%s:6: name: duplicate service "
		         "'a', first defined at %s:4", conf, conf);
		is_str(errs.msgs[1], want, "then the next");
		snprintf(want, sizeof(want), "%s:7: name: duplicate service "
		         "'a', first defined at %s:4", conf, conf);
		is_str(errs.msgs[2], want, "each names the first definition");
	} else {
		dump_errors(&errs);
	}
	config_free(cfg);
	errors_clear(&errs);

	cfg = load("tend = { plugin_path = [ \".\" ]; };\n"
	           "services = (\n"
	           "  { name = \"a\"; plugin = \"no.so\"; executor = \"async\"; },\n"
	           "  { name = \"b\"; plugin = \"p.so\"; executor = \"async\"; },\n"
	           "  { name = \"c\"; plugin = \"no.so\"; executor = \"async\"; }\n"
	           ");\n",
	           &errs);
	ok(cfg == NULL, "a missing plugin: refused");
	if (is_int(errs.count, 2, "a missing plugin: once per service")) {
		snprintf(want, sizeof(want), "%s:3: plugin: 'no.so' not found",
		         conf);
		ok(strncmp(errs.msgs[0], want, strlen(want)) == 0,
		   "for the first service");
		snprintf(want, sizeof(want), "%s:5: plugin: 'no.so' not found",
		         conf);
		ok(strncmp(errs.msgs[1], want, strlen(want)) == 0,
		   "and for the other");
	} else {
		dump_errors(&errs);
	}
	config_free(cfg);
	errors_clear(&errs);
}

static void test_errors(void)
{
	char msg[PATH_MAX + 64];

	refused("tend = {\n"
	        "  plugin_path = [ \".\" ];\n"
	        "};\n"
	        "bogus = 1;\n"
	        "services = (\n"
	        "  { name = \"a\"; plugin = \"p.so\"; executor = \"async\"; }\n"
	        ");\n",
	        conf, 4, "bogus", "unknown key", "unknown top-level key");

	refused("tend = { plugin_path = [ \".\" ]; };\n"
	        "services = (\n"
	        "  {\n"
	        "    name = \"a\"; plugin = \"p.so\"; executor = \"async\";\n"
	        "    restart = {\n"
	        "      policy = \"transient\";\n"
	        "      foo = 1;\n"
	        "    };\n"
	        "  }\n"
	        ");\n",
	        conf, 7, "restart.foo", "unknown key", "unknown service key");

	refused("tend = { plugin_path = [ \".\" ]; };\n"
	        "services = (\n"
	        "  {\n"
	        "    name = \"a\"; plugin = \"p.so\"; executor = \"async\";\n"
	        "    restart = { delay = \"x\"; };\n"
	        "  }\n"
	        ");\n",
	        conf, 5, "restart.delay", "must be a number, not a string",
	        "wrong type");

	refused("tend = { plugin_path = [ \".\" ]; };\n"
	        "services = (\n"
	        "  {\n"
	        "    name = \"a\"; plugin = \"p.so\"; executor = \"async\";\n"
	        "\n"
	        "    restart = { jitter = 2.0; };\n"
	        "  }\n"
	        ");\n",
	        conf, 6, "restart.jitter", "at most 1", "out of range");

	refused("tend = { plugin_path = [ \".\" ]; };\n"
	        "services = (\n"
	        "  {\n"
	        "    name = \"a\"; plugin = \"p.so\"; executor = \"async\";\n"
	        "    restart = {\n"
	        "      policy = \"sometimes\";\n"
	        "    };\n"
	        "  }\n"
	        ");\n",
	        conf, 6, "restart.policy", "'sometimes' is not one of",
	        "bad enum");

	refused("tend = { plugin_path = [ \".\" ]; };\n"
	        "services = (\n"
	        "  { name = \"a\"; plugin = \"p.so\"; executor = \"async\"; },\n"
	        "  {\n"
	        "    plugin = \"p.so\"; executor = \"async\";\n"
	        "  }\n"
	        ");\n",
	        conf, 4, "name", "missing", "missing name");

	snprintf(msg, sizeof(msg), "first defined at %s:3", conf);
	refused("tend = { plugin_path = [ \".\" ]; };\n"
	        "services = (\n"
	        "  { name = \"a\"; plugin = \"p.so\"; executor = \"async\"; },\n"
	        "  { name = \"b\"; plugin = \"p.so\"; executor = \"async\"; },\n"
	        "  { name = \"a\"; plugin = \"p.so\"; executor = \"thread\"; }\n"
	        ");\n",
	        conf, 5, "name", msg, "duplicate name");

	refused("tend = { plugin_path = [ \".\" ]; };\n"
	        "services = (\n"
	        "  { name = \"a\"; executor = \"async\";\n"
	        "    plugin = \"nope.so\"; }\n"
	        ");\n",
	        conf, 4, "plugin", "'nope.so' not found in plugin_path",
	        "plugin not on plugin_path");

	refused("tend = {\n"
	        "  plugin_path = [ \".\" ];\n"
	        "  control = {\n"
	        "    mode = \"0999\";\n"
	        "  };\n"
	        "};\n",
	        conf, 4, "tend.control.mode", "'0999' is not an octal mode",
	        "control.mode 0999");

	refused("tend = { plugin_path = [ \".\" ]; };\n"
	        "services = (\n"
	        "  { name = \"a\"; executor = \"async\"; }\n"
	        ");\n",
	        conf, 3, "plugin", "missing for service 'a'",
	        "missing plugin");

	refused("tend = { plugin_path = [ \".\" ]; };\n"
	        "services = (\n"
	        "  { name = \"a\"; plugin = \"p.so\"; executor = \"thread\";\n"
	        "    user = \"root\"; }\n"
	        ");\n",
	        conf, 4, "user", "only for the process executors",
	        "a process option on a thread");
	refused("tend = { plugin_path = [ \".\" ]; };\n"
	        "services = (\n"
	        "  { name = \"a\"; plugin = \"p.so\"; executor = \"process\";\n"
	        "    user = \"no-such-user-here\"; }\n"
	        ");\n",
	        conf, 4, "user", "no user named", "an unknown user");
	refused("tend = { plugin_path = [ \".\" ]; };\n"
	        "services = (\n"
	        "  { name = \"a\"; plugin = \"p.so\"; executor = \"process\";\n"
	        "    rlimits = { nofile = -5; }; }\n"
	        ");\n",
	        conf, 4, "rlimits.nofile", "non-negative integer",
	        "a negative rlimit");
	refused("tend = { plugin_path = [ \".\" ]; };\n"
	        "services = (\n"
	        "  { name = \"a\"; plugin = \"p.so\"; executor = \"process\";\n"
	        "    workdir = \"p.so\"; }\n"
	        ");\n",
	        conf, 4, "workdir", "is not a directory", "a workdir that is a file");
	refused("tend = { plugin_path = [ \".\" ]; };\n"
	        "services = (\n"
	        "  { name = \"a\"; plugin = \"p.so\"; executor = \"process\";\n"
	        "    umask = \"0999\"; }\n"
	        ");\n",
	        conf, 4, "umask", "octal string", "a bad umask");
}

/* libconfig's message has no key: check the file and the line. */
static void test_syntax(void)
{
	struct errors errs = {0};
	struct tend_config *cfg;
	char want[PATH_MAX + 32];

	cfg = load("tend = {\n"
	           "  plugin_path = [ \".\" ];\n"
	           "  stop_timeout = ;\n"
	           "};\n",
	           &errs);
	snprintf(want, sizeof(want), "%s:3: syntax error", conf);
	ok(cfg == NULL, "syntax error: refused");
	if (!is_int(errs.count, 1, "syntax error: one error"))
		dump_errors(&errs);
	like(errs.count ? errs.msgs[0] : NULL, want,
	     "syntax error: reported at its line");
	config_free(cfg);
	errors_clear(&errs);
}

/* Every problem is reported, not only the first. */
static void test_many(void)
{
	struct errors errs = {0};
	struct tend_config *cfg;

	cfg = load("tend = { plugin_path = [ \".\" ]; bogus = 1; };\n"
	           "services = (\n"
	           "  { name = \"a\"; plugin = \"p.so\"; executor = \"async\";\n"
	           "    restart = { jitter = -1.0; intensity = 101; }; },\n"
	           "  { name = \"b\"; plugin = \"p.so\"; executor = \"xx\"; }\n"
	           ");\n",
	           &errs);
	ok(cfg == NULL, "several errors: refused");
	if (!is_int(errs.count, 4, "several errors: all four reported"))
		dump_errors(&errs);
	config_free(cfg);
	errors_clear(&errs);
}

static void test_dropins(void)
{
	static const char main_text[] =
	    "tend = {\n"
	    "  plugin_path = [ \".\" ];\n"
	    "  include_dir = \"conf.d\";\n"
	    "};\n"
	    "services = (\n"
	    "  { name = \"a\"; plugin = \"p.so\"; executor = \"async\"; }\n"
	    ");\n";
	struct errors errs = {0};
	struct tend_config *cfg;
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/conf.d", dir);
	if (mkdir(path, 0700) != 0) {
		diag("mkdir %s: %s", path, strerror(errno));
		exit(2);
	}

	/* an empty include_dir adds nothing */
	cfg = load(main_text, &errs);
	ok(cfg && cfg->nservices == 1, "an empty include_dir adds nothing");
	config_free(cfg);
	errors_clear(&errs);

	write_file("conf.d/good.conf",
	           "services = (\n"
	           "  { name = \"g\"; plugin = \"p.so\";\n"
	           "    executor = \"thread\"; }\n"
	           ");\n");
	write_file("conf.d/ignored.txt", "this is not a config\n");
	cfg = load(main_text, &errs);
	if (!ok(cfg && cfg->nservices == 2, "a drop-in adds its service"))
		dump_errors(&errs);
	if (cfg && cfg->nservices == 2) {
		snprintf(path, sizeof(path), "%s/conf.d/good.conf", dir);
		is_str(cfg->services[1].name, "g", "the drop-in's service");
		is_str(cfg->services[1].file, path,
		       "the drop-in's service knows its file");
		is_int(cfg->services[1].line, 2, "and its line");
	}
	config_free(cfg);
	errors_clear(&errs);

	snprintf(path, sizeof(path), "%s/conf.d/bad.conf", dir);
	write_file("conf.d/bad.conf",
	           "services = (\n"
	           "  {\n"
	           "    name = \"d\"; plugin = \"p.so\"; executor = \"async\";\n"
	           "    restart = { jitter = 5.0; };\n"
	           "  }\n"
	           ");\n");
	refused(main_text, path, 4, "restart.jitter", "at most 1",
	        "error in a drop-in");
	remove_file("conf.d/bad.conf");

	write_file("conf.d/bad.conf",
	           "services = (\n"
	           "  { name = ; plugin = \"p.so\"; }\n"
	           ");\n");
	refused(main_text, path, 2, "syntax error", "syntax error",
	        "syntax error in a drop-in");
	remove_file("conf.d/bad.conf");

	/* a drop-in may define only services */
	write_file("conf.d/bad.conf", "tend = { stop_timeout = 1.0; };\n");
	refused(main_text, path, 1, "tend", "unknown key",
	        "tend group in a drop-in");
	remove_file("conf.d/bad.conf");

	/* a duplicate across files names the first definition's file */
	write_file("conf.d/dup.conf",
	           "services = (\n"
	           "  { name = \"a\"; plugin = \"p.so\"; executor = \"async\"; }\n"
	           ");\n");
	snprintf(path, sizeof(path), "%s/conf.d/dup.conf", dir);
	{
		char first[PATH_MAX + 32];
		snprintf(first, sizeof(first), "first defined at %s:6", conf);
		refused(main_text, path, 2, "name", first,
		        "duplicate in a drop-in");
	}
	remove_file("conf.d/dup.conf");
	remove_file("conf.d/good.conf");
	remove_file("conf.d/ignored.txt");
	snprintf(path, sizeof(path), "%s/conf.d", dir);
	if (rmdir(path) != 0)
		diag("rmdir %s: %s", path, strerror(errno));
}

static void test_missing_file(void)
{
	struct errors errs = {0};
	char path[PATH_MAX + 32];

	snprintf(path, sizeof(path), "%s/absent.conf", dir);
	ok(config_load(path, &errs) == NULL, "a missing file is refused");
	like(errs.count ? errs.msgs[0] : NULL, "cannot read",
	     "a missing file: cannot read");
	errors_clear(&errs);
}

/* Found in review: each of these once misbehaved. */
static void test_regressions(void)
{
	struct errors errs = {0};
	struct tend_config *cfg;
	char cwd[PATH_MAX];

	refused("tend = { plugin_path = [ ];\n};\n", conf, 1,
	        "tend.plugin_path", "at least one directory",
	        "an empty plugin_path");

	cfg = load("tend = { plugin_path = \".\"; };\n"
	           "services = ( { name = \"a\"; plugin = \"p.so\";\n"
	           "  executor = \"async\"; restart = { delay = 60.0; }; } );\n",
	           &errs);
	ok(cfg != NULL, "a delay above the default cap is accepted");
	if (cfg)
		is_double(cfg->services[0].restart.max_delay, 60.0, 1e-9,
		          "and the default cap is raised to it");
	config_free(cfg);
	errors_clear(&errs);

	/* @include is relative to the config's directory, not the cwd */
	write_file("inc.cfg", "services = ( { name = \"i\"; plugin = \"p.so\"; "
	                      "executor = \"async\"; } );\n");
	if (getcwd(cwd, sizeof(cwd)) == NULL || chdir("/") != 0)
		diag("cannot change directory");
	cfg = load("tend = { plugin_path = \".\"; };\n@include \"inc.cfg\"\n",
	           &errs);
	ok(cfg && cfg->nservices == 1, "@include is found from another cwd");
	dump_errors(&errs);
	if (chdir(cwd) != 0)
		diag("cannot change back to %s", cwd);
	config_free(cfg);
	errors_clear(&errs);
	remove_file("inc.cfg");

	/* an error inside an @include'd file names that file */
	write_file("inc2.cfg", "services = ( { name = \"i\"; plugin = \"p.so\";\n"
	                       "  executor = \"async\"; watchdog = \"x\"; } );\n");
	{
		char inc[PATH_MAX + 16];
		snprintf(inc, sizeof(inc), "%s/inc2.cfg", dir);
		refused("tend = { plugin_path = \".\"; };\n@include \"inc2.cfg\"\n",
		        inc, 2, "watchdog", "must be a number",
		        "an error in an included file");
	}
	remove_file("inc2.cfg");
}

/* The difference between service `a` in text1 and in text2. */
static unsigned diff_of(const char *text1, const char *text2)
{
	static const char head[] = "tend = { plugin_path = [ \".\" ]; };\n";
	char buf[1024];
	struct errors errs = {0};
	struct tend_config *c1, *c2;
	unsigned d = ~0u;

	snprintf(buf, sizeof(buf), "%sservices = ( %s );\n", head, text1);
	c1 = load(buf, &errs);
	snprintf(buf, sizeof(buf), "%s\n\n# moved\nservices = ( %s );\n",
	         head, text2);
	c2 = load(buf, &errs);
	if (c1 && c2 && c1->nservices == 1 && c2->nservices == 1)
		d = service_config_diff(&c1->services[0], &c2->services[0]);
	else
		dump_errors(&errs);
	config_free(c1);
	config_free(c2);
	errors_clear(&errs);
	return d;
}

static void test_diff(void)
{
#define SVC "{ name = \"a\"; plugin = \"p.so\"; "
	is_int(diff_of(SVC "executor = \"async\"; settings = { k = 1; }; }",
	               SVC "executor = \"async\";\n settings = { k = 1; }; }"),
	       0, "moved lines are no difference");
	is_int(diff_of(SVC "executor = \"async\"; settings = { k = 1; }; }",
	               SVC "executor = \"async\"; settings = { k = 2; }; }"),
	       SC_DIFF_SETTINGS, "a setting's value");
	is_int(diff_of(SVC "executor = \"async\"; settings = { k = 1; }; }",
	               SVC "executor = \"async\"; settings = { k = 1.0; }; }"),
	       SC_DIFF_SETTINGS, "a setting's type");
	is_int(diff_of(SVC "executor = \"async\"; }",
	               SVC "executor = \"async\"; restart = { intensity = 9; }; }"),
	       SC_DIFF_SUPERVISOR, "the restart strategy");
	is_int(diff_of(SVC "executor = \"thread\"; watchdog = 1.0; }",
	               SVC "executor = \"thread\"; watchdog = 2.0; }"),
	       SC_DIFF_SUPERVISOR, "a thread's watchdog");
	is_int(diff_of(SVC "executor = \"process\"; watchdog = 1.0; }",
	               SVC "executor = \"process\"; watchdog = 2.0; }"),
	       SC_DIFF_SUPERVISOR | SC_DIFF_RUN,
	       "a child's watchdog: it paces its heartbeats by it");
	is_int(diff_of(SVC "executor = \"async\"; }",
	               SVC "executor = \"thread\"; }"),
	       SC_DIFF_RUN, "the executor");
	is_int(diff_of(SVC "executor = \"process\"; env = { A = \"1\"; }; }",
	               SVC "executor = \"process\"; env = { A = \"2\"; }; }"),
	       SC_DIFF_RUN, "a process option");
	is_int(diff_of(SVC "executor = \"async\"; ready = \"notify\"; }",
	               SVC "executor = \"async\"; ready = \"notify\"; "
	                   "ready_timeout = 5.0; settings = { k = 1; }; }"),
	       SC_DIFF_SUPERVISOR | SC_DIFF_SETTINGS, "ready_timeout and settings");
#undef SVC
}

/* A list's elements are reached as "key.N", from 0, as plugins read them. */
static void test_setting_lists(void)
{
	static const char text[] =
	    "tend = { plugin_path = \".\"; };\n"
	    "services = ( { name = \"a\"; plugin = \"p.so\";\n"
	    "  executor = \"async\"; settings = { l = [ \"x\", \"y\" ];\n"
	    "  m = ( 1, { k = \"deep\"; } ); e = [ ]; }; } );\n";
	struct errors errs = {0};
	struct tend_config *cfg = load(text, &errs);
	const struct setting *root, *s;
	const char *str = NULL;
	long long n = 0;

	if (!ok(cfg != NULL && cfg->nservices == 1, "lists: the config loads")) {
		dump_errors(&errs);
		config_free(cfg);
		errors_clear(&errs);
		return;
	}
	root = &cfg->services[0].settings->root;
	ok(setting_get_string(root, "l.0", &str, &s) == 0 &&
	       strcmp(str, "x") == 0,
	   "l.0 is the first element");
	ok(setting_get_string(root, "l.1", &str, &s) == 0 &&
	       strcmp(str, "y") == 0,
	   "l.1 the second");
	is_int(setting_get_string(root, "l.2", &str, &s), 1, "l.2 is absent");
	is_int(setting_get_string(root, "e.0", &str, &s), 1,
	       "an empty list has no element 0");
	ok(setting_lookup(root, "l.x") == NULL &&
	       setting_lookup(root, "l.-1") == NULL &&
	       setting_lookup(root, "l.+1") == NULL &&
	       setting_lookup(root, "l.99999999999") == NULL,
	   "only an index in range reaches into a list");
	ok(setting_get_int(root, "m.0", &n, &s) == 0 && n == 1, "m.0 = 1");
	ok(setting_get_string(root, "m.1.k", &str, &s) == 0 &&
	       strcmp(str, "deep") == 0,
	   "m.1.k reaches into a group in a list");
	is_int(setting_get_string(root, "m.0", &str, &s), -1,
	       "an element of another type is a mismatch");
	is_int(s ? s->line : -1, 4, "which knows its line");
	config_free(cfg);
	errors_clear(&errs);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	/* absolute, so the errors' file names are known exactly */
	if (tmp == NULL || tmp[0] != '/' || strlen(tmp) > 200)
		tmp = "/tmp";
	snprintf(dir, sizeof(dir), "%s/t-config.XXXXXX", tmp);
	if (mkdtemp(dir) == NULL) {
		diag("mkdtemp %s: %s", dir, strerror(errno));
		return 2;
	}
	snprintf(conf, sizeof(conf), "%s/tend.conf", dir);
	write_file("p.so", "");
	log_init(TEND_LOG_ERROR);

	test_defaults();
	test_values();
	test_instances();
	test_links();
	test_errors();
	test_syntax();
	test_many();
	test_dropins();
	test_missing_file();
	test_regressions();
	test_diff();
	test_setting_lists();

	remove_file("tend.conf");
	remove_file("p.so");
	if (rmdir(dir) != 0)
		diag("rmdir %s: %s", dir, strerror(errno));
	return done_testing();
}
