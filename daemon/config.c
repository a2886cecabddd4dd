/*
 * Reading and checking the config: the main file plus every *.conf in
 * include_dir. This is the only file that includes libconfig.h; what comes
 * out is a validated struct tend_config with every default filled in.
 * Checking goes on past the first problem and reports each one as
 * "file:line: key: what is wrong".
 */
#include <errno.h>
#include <glob.h>
#include <grp.h>
#include <pwd.h>
#include <sys/stat.h>
#include <libconfig.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tendd.h"

#ifndef TEND_PLUGINDIR
#define TEND_PLUGINDIR "/usr/local/lib/tend/plugins"
#endif
#ifndef TEND_RUNDIR
#define TEND_RUNDIR "/run/tend"
#endif

#define MAX_INSTANCES 10000
#define FOUND_BUCKETS 64

/* A plugin name looked up in this load, and the file found (or NULL). */
struct found_plugin {
	char *name;
	char *path;
	struct found_plugin *next;
};

struct loader {
	struct tend_config *cfg;
	struct errors *errs;
	const char *file;   /* the file being read */
	const char *incdir; /* where its @include paths start */
	char incbuf[PATH_MAX * 2];
	size_t room; /* cfg->services allocated */
	struct found_plugin *found[FOUND_BUCKETS];
	size_t *index; /* services by name: index + 1, 0 when free */
	size_t index_mask;
};

static const char *const executor_names[EXEC_KINDS + 1] = {
    [EXEC_ASYNC] = "async",
    [EXEC_THREAD] = "thread",
    [EXEC_THREAD_ASYNC] = "thread-async",
    [EXEC_PROCESS] = "process",
    [EXEC_PROCESS_ASYNC] = "process-async",
};
static const char *const policy_names[] = {"permanent", "transient",
                                           "temporary", NULL};
static const char *const backoff_names[] = {"immediate", "fixed", "linear",
                                            "exponential", NULL};
static const char *const ready_names[] = {"start", "notify", NULL};

const char *executor_name(enum executor_kind k) { return executor_names[k]; }

uint32_t executor_bit(enum executor_kind k) { return 1u << k; }

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);
	if (p == NULL)
		fatalx("out of memory");
	return p;
}

static char *xstrdup(const char *s)
{
	char *p = strdup(s);
	if (p == NULL)
		fatalx("out of memory");
	return p;
}

static int line_of(const config_setting_t *s)
{
	return s ? (int)config_setting_source_line(s) : 0;
}

/*
 * The file a setting was read from: @include makes it another one, named
 * as written, so relative to the include directory.
 */
static const char *file_of(struct loader *ld, const config_setting_t *s)
{
	const char *f = s ? config_setting_source_file(s) : NULL;

	if (f == NULL || strcmp(f, ld->file) == 0)
		return ld->file;
	if (f[0] == '/' || ld->incdir == NULL)
		return f;
	snprintf(ld->incbuf, sizeof(ld->incbuf), "%s/%s", ld->incdir, f);
	return ld->incbuf;
}

__attribute__((format(printf, 4, 5))) static void
fail(struct loader *ld, const config_setting_t *at, const char *key,
     const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	errors_add(ld->errs, file_of(ld, at), line_of(at), "%s: %s", key, msg);
}

static const char *type_name(const config_setting_t *s)
{
	switch (config_setting_type(s)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		return "an integer";
	case CONFIG_TYPE_FLOAT:
		return "a number";
	case CONFIG_TYPE_STRING:
		return "a string";
	case CONFIG_TYPE_BOOL:
		return "a boolean";
	case CONFIG_TYPE_GROUP:
		return "a group";
	case CONFIG_TYPE_ARRAY:
	case CONFIG_TYPE_LIST:
		return "a list";
	}
	return "unknown";
}

static int is_number(const config_setting_t *s)
{
	int t = config_setting_type(s);
	return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64 ||
	       t == CONFIG_TYPE_FLOAT;
}

static int is_integer(const config_setting_t *s)
{
	int t = config_setting_type(s);
	return t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64;
}

static void key_name(char *buf, size_t len, const char *prefix,
                     const char *key)
{
	snprintf(buf, len, "%s%s%s", prefix, *prefix ? "." : "", key);
}

/*
 * A group's members by key: at[k] is the member named keys[k], or NULL.
 * One pass over the group finds them all, where libconfig would scan the
 * group again for each key looked up.
 */
#define MEMBERS_MAX 24
struct members {
	const char *prefix; /* "tend.control": the group's name in messages */
	const char *const *keys;
	config_setting_t *at[MEMBERS_MAX];
};

/* Every member of `group` must be one of `keys`; m lists them by key. */
static void read_members(struct loader *ld, const config_setting_t *group,
                         const char *prefix, const char *const *keys,
                         struct members *m)
{
	int n = config_setting_length(group);

	memset(m, 0, sizeof(*m));
	m->prefix = prefix;
	m->keys = keys;
	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(group, i);
		const char *name = config_setting_name(s);
		size_t k;
		for (k = 0; keys[k]; k++)
			if (keys[k][0] == name[0] && strcmp(keys[k], name) == 0)
				break;
		if (keys[k] == NULL) {
			char key[128];
			key_name(key, sizeof(key), prefix, name);
			fail(ld, s, key, "unknown key");
		} else if (k < MEMBERS_MAX) {
			m->at[k] = s;
		}
	}
}

/* Key k's full name, for messages: "restart.delay". */
static const char *member_name(const struct members *m, int k, char *buf,
                               size_t len)
{
	key_name(buf, len, m->prefix, m->keys[k]);
	return buf;
}

/* A member that must be a group; NULL and an error otherwise. */
static config_setting_t *get_group(struct loader *ld, const struct members *m,
                                   int k)
{
	config_setting_t *s = m->at[k];
	char name[128];

	if (s == NULL)
		return NULL;
	if (config_setting_type(s) != CONFIG_TYPE_GROUP) {
		fail(ld, s, member_name(m, k, name, sizeof(name)),
		     "must be a group { ... }, not %s", type_name(s));
		return NULL;
	}
	return s;
}

/*
 * A number in [min, max] (min excluded when open_min): returns 0 and sets
 * *out when valid or absent (leaving the default), -1 after an error.
 */
static int get_double(struct loader *ld, const struct members *m, int k,
                      double *out, double min, bool open_min, double max)
{
	config_setting_t *s = m->at[k];
	char name[128];
	double v;

	if (s == NULL)
		return 0;
	if (!is_number(s)) {
		fail(ld, s, member_name(m, k, name, sizeof(name)),
		     "must be a number, not %s", type_name(s));
		return -1;
	}
	v = config_setting_get_float(s);
	if (is_integer(s))
		v = (double)config_setting_get_int64(s);
	if (!isfinite(v) || v < min || (open_min && v == min) || v > max) {
		fail(ld, s, member_name(m, k, name, sizeof(name)),
		     "must be %s %g and at most %g, not %g",
		     open_min ? "more than" : "at least", min, max, v);
		return -1;
	}
	*out = v;
	return 0;
}

static int get_int(struct loader *ld, const struct members *m, int k,
                   int *out, long long min, long long max)
{
	config_setting_t *s = m->at[k];
	char name[128];
	long long v;

	if (s == NULL)
		return 0;
	if (!is_integer(s)) {
		fail(ld, s, member_name(m, k, name, sizeof(name)),
		     "must be an integer, not %s", type_name(s));
		return -1;
	}
	v = config_setting_get_int64(s);
	if (v < min || v > max) {
		fail(ld, s, member_name(m, k, name, sizeof(name)),
		     "must be between %lld and %lld, not %lld", min, max, v);
		return -1;
	}
	*out = (int)v;
	return 0;
}

/* A string member; NULL when absent or after an error (see *bad). */
static const char *get_string(struct loader *ld, const struct members *m,
                              int k, bool *bad)
{
	config_setting_t *s = m->at[k];
	char name[128];

	if (s == NULL)
		return NULL;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		fail(ld, s, member_name(m, k, name, sizeof(name)),
		     "must be a string, not %s", type_name(s));
		if (bad)
			*bad = true;
		return NULL;
	}
	return config_setting_get_string(s);
}

static bool valid_name(const char *s);

static void get_bool(struct loader *ld, const struct members *m, int k,
                     bool *out)
{
	config_setting_t *s = m->at[k];
	char name[128];

	if (s == NULL)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL)
		fail(ld, s, member_name(m, k, name, sizeof(name)),
		     "must be true or false, not %s", type_name(s));
	else
		*out = config_setting_get_bool(s);
}

/*
 * A list of service names (`depends`, `members`): each must look like a
 * name; what they name is checked once every file is read.
 */
static char **get_names(struct loader *ld, const struct members *m, int k,
                        size_t *n, int *line)
{
	config_setting_t *s = m->at[k];
	char name[128], **out;
	int len;

	*n = 0;
	if (s == NULL)
		return NULL;
	member_name(m, k, name, sizeof(name));
	*line = line_of(s);
	if (config_setting_type(s) != CONFIG_TYPE_ARRAY &&
	    config_setting_type(s) != CONFIG_TYPE_LIST) {
		fail(ld, s, name, "must be a list of service names [ \"a\", "
		                  "... ], not %s",
		     type_name(s));
		return NULL;
	}
	len = config_setting_length(s);
	out = xcalloc((size_t)len + 1, sizeof(*out));
	for (int i = 0; i < len; i++) {
		config_setting_t *e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING ||
		    !valid_name(config_setting_get_string(e))) {
			fail(ld, e, name, "element %d must be a service name",
			     i + 1);
			continue;
		}
		out[(*n)++] = xstrdup(config_setting_get_string(e));
	}
	return out;
}

static void free_names(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* One of a fixed set of words; *out is its index. */
static void get_enum(struct loader *ld, const struct members *m, int k,
                     const char *const *words, int *out)
{
	const char *v = get_string(ld, m, k, NULL);
	char name[128], list[256] = "";

	if (v == NULL)
		return;
	for (int i = 0; words[i]; i++)
		if (words[i][0] == v[0] && strcmp(words[i], v) == 0) {
			*out = i;
			return;
		}
	for (int i = 0; words[i]; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
		         "%s%s", i ? ", " : "", words[i]);
	fail(ld, m->at[k], member_name(m, k, name, sizeof(name)),
	     "'%s' is not one of: %s", v, list);
}

/* A path as written, made absolute against the config's directory. */
static char *resolve_path(const struct tend_config *cfg, const char *p)
{
	char *out;
	if (p[0] == '/')
		return xstrdup(p);
	if (asprintf(&out, "%s/%s", cfg->dir, p) < 0)
		fatalx("out of memory");
	return out;
}

enum { CK_SOCKET, CK_MODE, CK_USER, CK_GROUP };
static const char *const control_keys[] = {
    [CK_SOCKET] = "socket", [CK_MODE] = "mode", [CK_USER] = "user",
    [CK_GROUP] = "group", NULL};

/*
 * libconfig reads 0660 as decimal, so a mode is a string of octal digits
 * ("0660"); an integer is taken as it is (0x1b0) if it fits.
 */
static void read_mode(struct loader *ld, const struct members *ctl)
{
	config_setting_t *s = ctl->at[CK_MODE];
	const char *text;
	char *end;
	long v;

	if (s == NULL)
		return;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		if (!is_integer(s) || config_setting_get_int64(s) < 0 ||
		    config_setting_get_int64(s) > 0777)
			fail(ld, s, "tend.control.mode",
			     "must be an octal string such as \"0660\"");
		else
			ld->cfg->control_mode = (int)config_setting_get_int64(s);
		return;
	}
	text = config_setting_get_string(s);
	errno = 0;
	v = strtol(text, &end, 8);
	if (*text == '\0' || *end != '\0' || errno || v < 0 || v > 0777)
		fail(ld, s, "tend.control.mode",
		     "'%s' is not an octal mode such as \"0660\"", text);
	else
		ld->cfg->control_mode = (int)v;
}

/* The socket's owner and group: who may talk to tendd (with the mode). */
static void read_owner(struct loader *ld, const struct members *ctl)
{
	const char *v;

	if ((v = get_string(ld, ctl, CK_USER, NULL)) != NULL) {
		struct passwd *pw = getpwnam(v);
		if (pw == NULL)
			fail(ld, ctl->at[CK_USER], "tend.control.user",
			     "no user named '%s'", v);
		else
			ld->cfg->control_uid = (long)pw->pw_uid;
	}
	if ((v = get_string(ld, ctl, CK_GROUP, NULL)) != NULL) {
		struct group *gr = getgrnam(v);
		if (gr == NULL)
			fail(ld, ctl->at[CK_GROUP], "tend.control.group",
			     "no group named '%s'", v);
		else
			ld->cfg->control_gid = (long)gr->gr_gid;
	}
}

static void read_control(struct loader *ld, config_setting_t *group)
{
	struct members ctl;
	const char *sock;

	if (group == NULL)
		return;
	read_members(ld, group, "tend.control", control_keys, &ctl);
	sock = get_string(ld, &ctl, CK_SOCKET, NULL);
	if (sock) {
		if (*sock == '\0' || strlen(sock) >= 100) {
			fail(ld, ctl.at[CK_SOCKET], "tend.control.socket",
			     "must be a path of 1 to 99 characters");
		} else {
			free(ld->cfg->control_socket);
			ld->cfg->control_socket = resolve_path(ld->cfg, sock);
		}
	}
	read_mode(ld, &ctl);
	read_owner(ld, &ctl);
}

static void read_plugin_path(struct loader *ld, config_setting_t *s)
{
	struct tend_config *cfg = ld->cfg;
	int n;

	if (s == NULL)
		return;
	if (config_setting_type(s) == CONFIG_TYPE_STRING) {
		cfg->plugin_path = xcalloc(1, sizeof(char *));
		cfg->plugin_path[0] =
		    resolve_path(cfg, config_setting_get_string(s));
		cfg->nplugin_path = 1;
		return;
	}
	if (!config_setting_is_aggregate(s) ||
	    config_setting_type(s) == CONFIG_TYPE_GROUP) {
		fail(ld, s, "tend.plugin_path",
		     "must be a string or a list of strings, not %s",
		     type_name(s));
		return;
	}
	n = config_setting_length(s);
	if (n == 0) {
		fail(ld, s, "tend.plugin_path",
		     "must name at least one directory");
		return;
	}
	cfg->plugin_path = xcalloc((size_t)n + 1, sizeof(char *));
	for (int i = 0; i < n; i++) {
		config_setting_t *e = config_setting_get_elem(s, i);
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			fail(ld, e, "tend.plugin_path",
			     "element %d must be a string, not %s", i + 1,
			     type_name(e));
			continue;
		}
		cfg->plugin_path[cfg->nplugin_path++] =
		    resolve_path(cfg, config_setting_get_string(e));
	}
}

enum { TK_PLUGIN_PATH, TK_INCLUDE_DIR, TK_CONTROL, TK_LOG, TK_STOP_TIMEOUT,
       TK_CGROUPS };
static const char *const tend_keys[] = {
    [TK_PLUGIN_PATH] = "plugin_path", [TK_INCLUDE_DIR] = "include_dir",
    [TK_CONTROL] = "control",         [TK_LOG] = "log",
    [TK_STOP_TIMEOUT] = "stop_timeout", [TK_CGROUPS] = "cgroups", NULL};

static void read_globals(struct loader *ld, config_setting_t *tend)
{
	static const char *const log_keys[] = {"level", NULL};
	struct tend_config *cfg = ld->cfg;
	struct members m, lm;
	config_setting_t *log;
	const char *s;

	read_members(ld, tend, "tend", tend_keys, &m);
	read_plugin_path(ld, m.at[TK_PLUGIN_PATH]);
	s = get_string(ld, &m, TK_INCLUDE_DIR, NULL);
	if (s)
		cfg->include_dir = resolve_path(cfg, s);
	read_control(ld, get_group(ld, &m, TK_CONTROL));
	log = get_group(ld, &m, TK_LOG);
	if (log) {
		read_members(ld, log, "tend.log", log_keys, &lm);
		s = get_string(ld, &lm, 0, NULL);
		if (s && (cfg->log_level = log_level_parse(s)) < 0) {
			fail(ld, lm.at[0], "tend.log.level",
			     "'%s' is not one of: debug, info, notice, "
			     "warning, error",
			     s);
			cfg->log_level = TEND_LOG_INFO;
		}
	}
	get_double(ld, &m, TK_STOP_TIMEOUT, &cfg->stop_timeout, 0, true,
	           86400);
	get_bool(ld, &m, TK_CGROUPS, &cfg->cgroups);
}

/* Copy a libconfig value into our own settings tree. */
static void copy_setting(struct setting *to, const config_setting_t *from)
{
	const char *name = config_setting_name(from);
	int n;

	to->name = name ? xstrdup(name) : NULL;
	to->line = line_of(from);
	switch (config_setting_type(from)) {
	case CONFIG_TYPE_INT:
	case CONFIG_TYPE_INT64:
		to->type = SETTING_INT;
		to->v.i = config_setting_get_int64(from);
		return;
	case CONFIG_TYPE_FLOAT:
		to->type = SETTING_FLOAT;
		to->v.d = config_setting_get_float(from);
		return;
	case CONFIG_TYPE_STRING:
		to->type = SETTING_STRING;
		to->v.s = xstrdup(config_setting_get_string(from));
		return;
	case CONFIG_TYPE_BOOL:
		to->type = SETTING_BOOL;
		to->v.b = config_setting_get_bool(from);
		return;
	case CONFIG_TYPE_GROUP:
		to->type = SETTING_GROUP;
		break;
	default:
		to->type = SETTING_LIST;
		break;
	}
	n = config_setting_length(from);
	to->kids = n ? xcalloc((size_t)n, sizeof(*to->kids)) : NULL;
	to->nkids = (size_t)n;
	for (int i = 0; i < n; i++)
		copy_setting(&to->kids[i], config_setting_get_elem(from, i));
}

/* A service's `settings` group as the root of its tree. */
static void copy_settings(struct settings *to, const config_setting_t *from)
{
	setting_clear(&to->root);
	copy_setting(&to->root, from);
	free(to->root.name);
	to->root.name = NULL;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > NAME_MAX_LEN)
		return false;
	for (; *s; s++)
		if (!(('a' <= *s && *s <= 'z') || ('A' <= *s && *s <= 'Z') ||
		      ('0' <= *s && *s <= '9') || *s == '_' || *s == '-' ||
		      *s == '.'))
			return false;
	return true;
}

/* Find a plugin file by name through plugin_path; NULL when absent. */
static char *find_plugin(const struct tend_config *cfg, const char *name)
{
	if (strchr(name, '/')) {
		char *p = resolve_path(cfg, name);
		if (access(p, R_OK) == 0)
			return p;
		free(p);
		return NULL;
	}
	for (size_t i = 0; i < cfg->nplugin_path; i++) {
		char *p;
		if (asprintf(&p, "%s/%s", cfg->plugin_path[i], name) < 0)
			fatalx("out of memory");
		if (access(p, R_OK) == 0)
			return p;
		free(p);
	}
	return NULL;
}

/*
 * find_plugin(), once per name and load: a thousand services may name
 * one plugin. (A file that appears meanwhile is found by the next load.)
 */
static char *plugin_file(struct loader *ld, const char *name)
{
	struct found_plugin **at =
	    &ld->found[name_hash(name) % FOUND_BUCKETS];
	struct found_plugin *f;

	for (f = *at; f; f = f->next)
		if (strcmp(f->name, name) == 0)
			break;
	if (f == NULL) {
		f = xcalloc(1, sizeof(*f));
		f->name = xstrdup(name);
		f->path = find_plugin(ld->cfg, name);
		f->next = *at;
		*at = f;
	}
	return f->path ? xstrdup(f->path) : NULL;
}

static void forget_plugins(struct loader *ld)
{
	for (size_t i = 0; i < FOUND_BUCKETS; i++)
		while (ld->found[i]) {
			struct found_plugin *f = ld->found[i];
			ld->found[i] = f->next;
			free(f->name);
			free(f->path);
			free(f);
		}
}

enum { RK_POLICY, RK_BACKOFF, RK_DELAY, RK_MAX_DELAY, RK_JITTER, RK_RESET,
       RK_INTENSITY, RK_PERIOD };
static const char *const restart_keys[] = {
    [RK_POLICY] = "policy",       [RK_BACKOFF] = "backoff",
    [RK_DELAY] = "delay",         [RK_MAX_DELAY] = "max_delay",
    [RK_JITTER] = "jitter",       [RK_RESET] = "reset",
    [RK_INTENSITY] = "intensity", [RK_PERIOD] = "period", NULL};

static void read_restart(struct loader *ld, config_setting_t *r,
                         struct restart_config *rc)
{
	struct members m;
	int v;

	if (r == NULL)
		return;
	read_members(ld, r, "restart", restart_keys, &m);
	v = (int)rc->policy;
	get_enum(ld, &m, RK_POLICY, policy_names, &v);
	rc->policy = (enum restart_policy)v;
	v = (int)rc->backoff;
	get_enum(ld, &m, RK_BACKOFF, backoff_names, &v);
	rc->backoff = (enum backoff_kind)v;
	get_double(ld, &m, RK_DELAY, &rc->delay, 0, false, 86400);
	get_double(ld, &m, RK_MAX_DELAY, &rc->max_delay, 0, false, 86400);
	get_double(ld, &m, RK_JITTER, &rc->jitter, 0, false, 1);
	get_double(ld, &m, RK_RESET, &rc->reset, 0, true, 86400);
	get_int(ld, &m, RK_INTENSITY, &rc->intensity, 0, 100);
	get_double(ld, &m, RK_PERIOD, &rc->period, 0, true, 86400);
	if (m.at[RK_MAX_DELAY] == NULL && rc->max_delay < rc->delay)
		rc->max_delay = rc->delay; /* the default cap yields */
	if (rc->max_delay < rc->delay)
		fail(ld, m.at[RK_MAX_DELAY], "restart.max_delay",
		     "must be at least restart.delay (%g), not %g", rc->delay,
		     rc->max_delay);
	if (m.at[RK_RESET] == NULL)
		rc->reset = rc->max_delay > 10.0 ? rc->max_delay : 10.0;
}

static void service_defaults(struct service_config *sc,
                             const struct tend_config *cfg)
{
	sc->restart = (struct restart_config){
	    .policy = POLICY_PERMANENT,
	    .backoff = BACKOFF_EXPONENTIAL,
	    .delay = 0.1,
	    .max_delay = 30.0,
	    .jitter = 0.1,
	    .reset = 30.0,
	    .intensity = 5,
	    .period = 10.0,
	};
	sc->stop_timeout = cfg->stop_timeout;
	sc->ready = READY_START;
	sc->ready_timeout = 90.0;
	sc->instances = 1;
	sc->mailbox = MAILBOX_DEFAULT;
	sc->settings = settings_new();
	sc->proc.umask = -1;
	for (int i = 0; i < RLIMITS; i++)
		sc->proc.rlimit[i] = RLIMIT_UNSET;
}

static void proc_clear(struct proc_options *o)
{
	free(o->user);
	free(o->home);
	free(o->shell);
	free(o->workdir);
	for (size_t i = 0; i < o->nenv; i++)
		free(o->env[i]);
	free(o->env);
}

static void proc_copy(struct proc_options *to, const struct proc_options *from)
{
	*to = *from;
	to->user = from->user ? xstrdup(from->user) : NULL;
	to->home = from->home ? xstrdup(from->home) : NULL;
	to->shell = from->shell ? xstrdup(from->shell) : NULL;
	to->workdir = from->workdir ? xstrdup(from->workdir) : NULL;
	to->env = from->nenv ? xcalloc(from->nenv, sizeof(char *)) : NULL;
	for (size_t i = 0; i < from->nenv; i++)
		to->env[i] = xstrdup(from->env[i]);
}

struct settings *settings_new(void)
{
	struct settings *s = calloc(1, sizeof(*s));

	if (s == NULL)
		fatalx("out of memory");
	s->refs = 1;
	s->root.type = SETTING_GROUP;
	return s;
}

struct settings *settings_ref(struct settings *s)
{
	s->refs++;
	return s;
}

void settings_unref(struct settings *s)
{
	if (s == NULL || --s->refs > 0)
		return;
	setting_clear(&s->root);
	free(s);
}

void service_config_clear(struct service_config *sc)
{
	proc_clear(&sc->proc);
	free(sc->plugin);
	free(sc->plugin_path);
	free(sc->file);
	settings_unref(sc->settings);
	free_names(sc->depends, sc->ndepends);
	memset(sc, 0, sizeof(*sc));
}

static struct service_config *add_service(struct loader *ld)
{
	struct tend_config *cfg = ld->cfg;

	if (cfg->nservices == ld->room) {
		/* doubling: a service at a time would copy them all each time */
		size_t room = ld->room ? 2 * ld->room : 64;
		struct service_config *grown =
		    realloc(cfg->services, room * sizeof(*grown));
		if (grown == NULL)
			fatalx("out of memory");
		cfg->services = grown;
		ld->room = room;
	}
	memset(&cfg->services[cfg->nservices], 0, sizeof(*cfg->services));
	return &cfg->services[cfg->nservices++];
}

/* An rlimit: a non-negative integer, or "infinity". */
static void read_rlimits(struct loader *ld, config_setting_t *g,
                         struct proc_options *o)
{
	static const char *const known[RLIMITS + 1] = {
	    "nofile", "core", "as", "nproc", "cpu", "fsize", "memlock", "stack",
	    NULL};
	struct members m;

	if (g == NULL)
		return;
	read_members(ld, g, "rlimits", known, &m);
	for (int i = 0; i < RLIMITS; i++) {
		config_setting_t *s = m.at[i];
		char key[64];
		if (s == NULL)
			continue;
		if (config_setting_type(s) == CONFIG_TYPE_STRING &&
		    strcmp(config_setting_get_string(s), "infinity") == 0)
			o->rlimit[i] = RLIMIT_INFINITE;
		else if (is_integer(s) && config_setting_get_int64(s) >= 0)
			o->rlimit[i] = config_setting_get_int64(s);
		else
			fail(ld, s, member_name(&m, i, key, sizeof(key)),
			     "must be a non-negative integer or \"infinity\"");
	}
}

static void read_env(struct loader *ld, config_setting_t *g,
                     struct proc_options *o)
{
	int n;

	if (g == NULL)
		return;
	n = config_setting_length(g);
	o->env = n ? xcalloc((size_t)n, sizeof(char *)) : NULL;
	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(g, i);
		char key[128];
		key_name(key, sizeof(key), "env", config_setting_name(s));
		if (config_setting_type(s) != CONFIG_TYPE_STRING) {
			fail(ld, s, key, "must be a string, not %s",
			     type_name(s));
			continue;
		}
		if (asprintf(&o->env[o->nenv], "%s=%s", config_setting_name(s),
		             config_setting_get_string(s)) < 0)
			fatalx("out of memory");
		o->nenv++;
	}
}

/* A service's keys; the process options from SK_USER to SK_NO_NEW_PRIVS. */
enum { SK_NAME, SK_PLUGIN, SK_EXECUTOR, SK_RESTART, SK_WATCHDOG, SK_READY,
       SK_READY_TIMEOUT, SK_INSTANCES, SK_STOP_TIMEOUT, SK_SETTINGS,
       SK_DEPENDS, SK_ESCALATE, SK_USER, SK_GROUP, SK_UMASK, SK_WORKDIR,
       SK_ENV, SK_RLIMITS, SK_NO_NEW_PRIVS, SK_MAILBOX };
static const char *const service_keys[] = {
    [SK_NAME] = "name",
    [SK_PLUGIN] = "plugin",
    [SK_EXECUTOR] = "executor",
    [SK_RESTART] = "restart",
    [SK_WATCHDOG] = "watchdog",
    [SK_READY] = "ready",
    [SK_READY_TIMEOUT] = "ready_timeout",
    [SK_INSTANCES] = "instances",
    [SK_STOP_TIMEOUT] = "stop_timeout",
    [SK_SETTINGS] = "settings",
    [SK_DEPENDS] = "depends",
    [SK_ESCALATE] = "escalate",
    [SK_USER] = "user",
    [SK_GROUP] = "group",
    [SK_UMASK] = "umask",
    [SK_WORKDIR] = "workdir",
    [SK_ENV] = "env",
    [SK_RLIMITS] = "rlimits",
    [SK_NO_NEW_PRIVS] = "no_new_privs",
    [SK_MAILBOX] = "mailbox",
    NULL};

/*
 * user, group, umask, workdir, env, rlimits, no_new_privs: checked here
 * (the user and group must exist, the workdir must be a directory) and
 * applied by the runner in the child.
 */
static void read_process_options(struct loader *ld, const struct members *m,
                                 struct service_config *sc)
{
	struct proc_options *o = &sc->proc;
	config_setting_t *s;
	const char *v;
	struct stat st;

	if (sc->executor != EXEC_PROCESS && sc->executor != EXEC_PROCESS_ASYNC) {
		for (int k = SK_USER; k <= SK_NO_NEW_PRIVS; k++)
			if ((s = m->at[k]))
				fail(ld, s, service_keys[k],
				     "only for the process executors, not '%s'",
				     executor_names[sc->executor]);
		return;
	}
	if ((v = get_string(ld, m, SK_USER, NULL)) != NULL) {
		struct passwd *pw = getpwnam(v);
		if (pw == NULL) {
			fail(ld, m->at[SK_USER], "user",
			     "no user named '%s'", v);
		} else {
			o->user = xstrdup(v);
			o->home = xstrdup(pw->pw_dir);
			o->shell = xstrdup(pw->pw_shell);
			o->has_uid = o->has_gid = true;
			o->uid = pw->pw_uid;
			o->gid = pw->pw_gid;
		}
	}
	if ((v = get_string(ld, m, SK_GROUP, NULL)) != NULL) {
		struct group *gr = getgrnam(v);
		if (gr == NULL) {
			fail(ld, m->at[SK_GROUP], "group",
			     "no group named '%s'", v);
		} else {
			o->has_gid = true;
			o->gid = gr->gr_gid;
		}
	}
	if ((s = m->at[SK_UMASK]) != NULL) {
		char *end;
		long mask = -1;
		if (config_setting_type(s) == CONFIG_TYPE_STRING) {
			v = config_setting_get_string(s);
			mask = strtol(v, &end, 8);
			if (*v == '\0' || *end != '\0')
				mask = -1;
		}
		if (mask < 0 || mask > 0777)
			fail(ld, s, "umask",
			     "must be an octal string such as \"0027\"");
		else
			o->umask = (int)mask;
	}
	if ((v = get_string(ld, m, SK_WORKDIR, NULL)) != NULL) {
		o->workdir = resolve_path(ld->cfg, v);
		if (stat(o->workdir, &st) < 0 || !S_ISDIR(st.st_mode))
			fail(ld, m->at[SK_WORKDIR], "workdir",
			     "'%s' is not a directory", o->workdir);
	}
	read_env(ld, get_group(ld, m, SK_ENV), o);
	read_rlimits(ld, get_group(ld, m, SK_RLIMITS), o);
	if ((s = m->at[SK_NO_NEW_PRIVS]) != NULL) {
		if (config_setting_type(s) != CONFIG_TYPE_BOOL)
			fail(ld, s, "no_new_privs", "must be true or false, not %s",
			     type_name(s));
		else
			o->no_new_privs = config_setting_get_bool(s);
	}
}

static void read_service(struct loader *ld, config_setting_t *svc)
{
	struct tend_config *cfg = ld->cfg;
	struct service_config sc = {0};
	struct members m;
	config_setting_t *s, *settings;
	const char *name, *plugin;
	bool bad = false;
	int v;

	service_defaults(&sc, cfg);
	sc.file = xstrdup(file_of(ld, svc));
	sc.line = line_of(svc);
	if (config_setting_type(svc) != CONFIG_TYPE_GROUP) {
		fail(ld, svc, "services",
		     "each service must be a group { ... }, not %s",
		     type_name(svc));
		goto drop;
	}
	read_members(ld, svc, "", service_keys, &m);

	name = get_string(ld, &m, SK_NAME, &bad);
	if (name == NULL) {
		if (!bad)
			fail(ld, svc, "name", "missing: every service needs "
			                      "a name");
		goto drop;
	}
	if (!valid_name(name)) {
		fail(ld, m.at[SK_NAME], "name",
		     "'%s' must be 1 to %d letters, digits, '_', '-' or '.'",
		     name, NAME_MAX_LEN);
		goto drop;
	}
	memcpy(sc.name, name, strlen(name) + 1); /* valid_name(): it fits */

	s = m.at[SK_EXECUTOR];
	sc.executor_line = line_of(s ? s : svc);
	if (s == NULL) {
		fail(ld, svc, "executor",
		     "missing for service '%s': one of async, thread, "
		     "thread-async, process, process-async",
		     name);
	} else {
		v = -1;
		get_enum(ld, &m, SK_EXECUTOR, executor_names, &v);
		sc.executor = v < 0 ? EXEC_ASYNC : (enum executor_kind)v;
	}

	bad = false;
	plugin = get_string(ld, &m, SK_PLUGIN, &bad);
	s = m.at[SK_PLUGIN];
	sc.plugin_line = line_of(s ? s : svc);
	if (plugin == NULL) {
		if (!bad)
			fail(ld, svc, "plugin",
			     "missing for service '%s'", name);
	} else {
		sc.plugin = xstrdup(plugin);
		sc.plugin_path = plugin_file(ld, plugin);
		if (sc.plugin_path == NULL) {
			char dirs[512] = "";
			for (size_t i = 0; i < cfg->nplugin_path; i++)
				snprintf(dirs + strlen(dirs),
				         sizeof(dirs) - strlen(dirs), "%s%s",
				         i ? ", " : "", cfg->plugin_path[i]);
			if (strchr(plugin, '/'))
				fail(ld, s, "plugin", "'%s' not found",
				     plugin);
			else
				fail(ld, s, "plugin",
				     "'%s' not found in plugin_path (%s)",
				     plugin, dirs);
		}
	}

	read_restart(ld, get_group(ld, &m, SK_RESTART), &sc.restart);
	get_double(ld, &m, SK_WATCHDOG, &sc.watchdog, 0, false, 86400);
	get_double(ld, &m, SK_STOP_TIMEOUT, &sc.stop_timeout, 0, true, 86400);
	v = (int)sc.ready;
	get_enum(ld, &m, SK_READY, ready_names, &v);
	sc.ready = (enum ready_mode)v;
	get_double(ld, &m, SK_READY_TIMEOUT, &sc.ready_timeout, 0, true,
	           86400);
	sc.depends = get_names(ld, &m, SK_DEPENDS, &sc.ndepends,
	                       &sc.depends_line);
	get_bool(ld, &m, SK_ESCALATE, &sc.escalate);
	get_int(ld, &m, SK_INSTANCES, &sc.instances, 1, MAX_INSTANCES);
	get_int(ld, &m, SK_MAILBOX, &sc.mailbox, 1, MAILBOX_MAX);
	settings = get_group(ld, &m, SK_SETTINGS);
	if (settings)
		copy_settings(sc.settings, settings);

	read_process_options(ld, &m, &sc);

	for (int i = 0; i < sc.instances; i++) {
		struct service_config *out = add_service(ld);
		*out = sc;
		if (sc.instances > 1)
			snprintf(out->name, sizeof(out->name), "%s#%d", name,
			         i);
		if (i > 0) {
			/* each instance owns its strings and settings */
			out->file = xstrdup(sc.file);
			out->plugin = sc.plugin ? xstrdup(sc.plugin) : NULL;
			out->plugin_path =
			    sc.plugin_path ? xstrdup(sc.plugin_path) : NULL;
			out->settings = settings_new();
			if (settings)
				copy_settings(out->settings, settings);
			out->depends = xcalloc(sc.ndepends + 1, sizeof(char *));
			for (size_t k = 0; k < sc.ndepends; k++)
				out->depends[k] = xstrdup(sc.depends[k]);
			proc_copy(&out->proc, &sc.proc);
		}
	}
	return;
drop:
	service_config_clear(&sc);
}

static void read_services(struct loader *ld, config_setting_t *root)
{
	config_setting_t *list = config_setting_get_member(root, "services");
	int n;

	if (list == NULL)
		return;
	if (config_setting_type(list) != CONFIG_TYPE_LIST) {
		fail(ld, list, "services", "must be a list ( {...}, ... ), "
		                           "not %s",
		     type_name(list));
		return;
	}
	n = config_setting_length(list);
	for (int i = 0; i < n; i++)
		read_service(ld, config_setting_get_elem(list, i));
}

/*
 * Parse one file, with @include paths relative to `dir`; 0 on success,
 * -1 after reporting a syntax error.
 */
static int parse_file(struct loader *ld, config_t *lc, const char *path,
                      const char *dir)
{
	config_init(lc);
	config_set_include_dir(lc, dir);
	ld->incdir = dir;
	if (config_read_file(lc, path) == CONFIG_TRUE)
		return 0;
	if (config_error_type(lc) == CONFIG_ERR_FILE_IO)
		errors_add(ld->errs, path, 0, "cannot read: %s",
		           strerror(errno ? errno : ENOENT));
	else
		errors_add(ld->errs,
		           config_error_file(lc) ? config_error_file(lc)
		                                 : path,
		           config_error_line(lc), "syntax error: %s",
		           config_error_text(lc));
	config_destroy(lc);
	return -1;
}

static void read_dropins(struct loader *ld)
{
	static const char *const known[] = {"services", NULL};
	char *pattern;
	glob_t g;

	if (ld->cfg->include_dir == NULL)
		return;
	if (asprintf(&pattern, "%s/*.conf", ld->cfg->include_dir) < 0)
		fatalx("out of memory");
	int rc = glob(pattern, 0, NULL, &g);
	free(pattern);
	if (rc == GLOB_NOMATCH)
		return;
	if (rc != 0) {
		errors_add(ld->errs, ld->cfg->include_dir, 0,
		           "cannot list include_dir");
		return;
	}
	for (size_t i = 0; i < g.gl_pathc; i++) {
		struct members root;
		config_t lc;
		ld->file = g.gl_pathv[i];
		if (parse_file(ld, &lc, g.gl_pathv[i], ld->cfg->include_dir) < 0)
			continue;
		read_members(ld, config_root_setting(&lc), "", known, &root);
		read_services(ld, config_root_setting(&lc));
		config_destroy(&lc);
	}
	ld->file = ld->cfg->file;
	globfree(&g);
}

static const char *const strategy_names[] = {"one_for_one", "one_for_all",
                                             "rest_for_one", NULL};

const char *group_strategy_name(enum group_strategy s)
{
	return strategy_names[s];
}

enum { GK_NAME, GK_STRATEGY, GK_MEMBERS, GK_INTENSITY, GK_PERIOD,
       GK_ESCALATE };
static const char *const group_keys[] = {
    [GK_NAME] = "name",           [GK_STRATEGY] = "strategy",
    [GK_MEMBERS] = "members",     [GK_INTENSITY] = "intensity",
    [GK_PERIOD] = "period",       [GK_ESCALATE] = "escalate", NULL};

static void read_group(struct loader *ld, config_setting_t *g)
{
	struct tend_config *cfg = ld->cfg;
	struct members m;
	struct group_config gc = {.strategy = GROUP_ONE_FOR_ONE,
	                          .intensity = 5, .period = 10.0};
	const char *name;
	bool bad = false;
	int v = 0;

	if (config_setting_type(g) != CONFIG_TYPE_GROUP) {
		fail(ld, g, "groups", "each group must be { ... }, not %s",
		     type_name(g));
		return;
	}
	read_members(ld, g, "groups", group_keys, &m);
	gc.file = xstrdup(file_of(ld, g));
	gc.line = line_of(g);
	name = get_string(ld, &m, GK_NAME, &bad);
	if (name == NULL || !valid_name(name)) {
		if (!bad)
			fail(ld, g, "groups.name",
			     "every group needs a name of 1 to %d letters, "
			     "digits, '_', '-' or '.'",
			     NAME_MAX_LEN);
		free(gc.file);
		return;
	}
	snprintf(gc.name, sizeof(gc.name), "%s", name);
	get_enum(ld, &m, GK_STRATEGY, strategy_names, &v);
	gc.strategy = (enum group_strategy)v;
	gc.members = get_names(ld, &m, GK_MEMBERS, &gc.nmembers,
	                       &gc.members_line);
	if (gc.nmembers == 0 && m.at[GK_MEMBERS] == NULL)
		fail(ld, g, "groups.members", "missing for group '%s'", name);
	get_int(ld, &m, GK_INTENSITY, &gc.intensity, 0, 100);
	get_double(ld, &m, GK_PERIOD, &gc.period, 0, true, 86400);
	get_bool(ld, &m, GK_ESCALATE, &gc.escalate);
	cfg->groups = realloc(cfg->groups, (cfg->ngroups + 1) * sizeof(gc));
	if (cfg->groups == NULL)
		fatalx("out of memory");
	cfg->groups[cfg->ngroups++] = gc;
}

static void read_groups(struct loader *ld, config_setting_t *root)
{
	config_setting_t *list = config_setting_get_member(root, "groups");

	if (list == NULL)
		return;
	if (config_setting_type(list) != CONFIG_TYPE_LIST) {
		fail(ld, list, "groups", "must be a list ( {...}, ... ), not %s",
		     type_name(list));
		return;
	}
	for (int i = 0; i < config_setting_length(list); i++)
		read_group(ld, config_setting_get_elem(list, i));
}

/* Where `name` is in the index: its slot, or the free slot it would take. */
static size_t *index_slot(const struct loader *ld, const char *name)
{
	size_t at = name_hash(name) & ld->index_mask;

	while (ld->index[at] &&
	       strcmp(ld->cfg->services[ld->index[at] - 1].name, name) != 0)
		at = (at + 1) & ld->index_mask;
	return &ld->index[at];
}

/* The index of the service named `name`, or -1. */
static int find_service(const struct loader *ld, const char *name)
{
	return (int)*index_slot(ld, name) - 1;
}

/* Instance i of the service written as `name` (name#i), or -1. */
static int find_instance(const struct loader *ld, const char *name, int i)
{
	char full[NAME_MAX_LEN + 16];

	snprintf(full, sizeof(full), "%s#%d", name, i);
	return find_service(ld, full);
}

static void add_name(char ***list, size_t *n, size_t *room, const char *name)
{
	if (*n + 1 >= *room) {
		*room = *room ? 2 * *room : 4;
		*list = realloc(*list, *room * sizeof(**list));
		if (*list == NULL)
			fatalx("out of memory");
	}
	(*list)[(*n)++] = xstrdup(name);
}

/*
 * Names as written to names of services: "web" is the service web, or
 * every instance of it (web#0, web#1...), in config order. An unknown
 * name is an error at `file:line` under `key`.
 */
static char **expand_names(struct loader *ld, char **names, size_t *n,
                           const char *file, int line, const char *key)
{
	char **out = NULL;
	size_t nout = 0, room = 0;

	for (size_t i = 0; i < *n; i++) {
		int exact = find_service(ld, names[i]);
		int k = find_instance(ld, names[i], 0);
		bool exact_first = exact >= 0 && (k < 0 || exact < k);

		if (exact < 0 && k < 0) {
			errors_add(ld->errs, file, line,
			           "%s: no service named '%s'", key, names[i]);
			continue;
		}
		if (exact_first)
			add_name(&out, &nout, &room, names[i]);
		for (int j = 1; k >= 0; k = find_instance(ld, names[i], j++))
			add_name(&out, &nout, &room, ld->cfg->services[k].name);
		if (exact >= 0 && !exact_first)
			add_name(&out, &nout, &room, names[i]);
	}
	free_names(names, *n);
	*n = nout;
	return out;
}

/* Depth-first: a service on the current path again is a cycle. */
static bool has_cycle(struct loader *ld, int at, char *mark, char *path,
                      size_t pathlen)
{
	struct service_config *sc = &ld->cfg->services[at];
	size_t used = strlen(path);

	if (mark[at] == 2)
		return false;
	if (mark[at] == 0 && sc->ndepends == 0) {
		mark[at] = 2; /* depends on nothing: on no cycle */
		return false;
	}
	snprintf(path + used, pathlen - used, "%s'%s'", used ? " -> " : "",
	         sc->name);
	if (mark[at] == 1)
		return true;
	mark[at] = 1;
	for (size_t i = 0; i < sc->ndepends; i++) {
		int d = find_service(ld, sc->depends[i]);
		if (d >= 0 && has_cycle(ld, d, mark, path, pathlen))
			return true;
	}
	mark[at] = 2;
	path[used] = '\0';
	return false;
}

/* depends and members name services that exist, without cycles. */
static void check_links(struct loader *ld)
{
	struct tend_config *cfg = ld->cfg;
	char *mark = xcalloc(cfg->nservices + 1, 1);
	char path[1024];

	for (size_t i = 0; i < cfg->nservices; i++) {
		struct service_config *sc = &cfg->services[i];
		sc->depends = expand_names(ld, sc->depends, &sc->ndepends,
		                           sc->file, sc->depends_line, "depends");
		for (size_t k = 0; k < sc->ndepends; k++)
			if (strcmp(sc->depends[k], sc->name) == 0)
				errors_add(ld->errs, sc->file, sc->depends_line,
				           "depends: '%s' depends on itself",
				           sc->name);
	}
	for (size_t i = 0; i < cfg->nservices; i++) {
		path[0] = '\0';
		if (has_cycle(ld, (int)i, mark, path, sizeof(path))) {
			struct service_config *sc = &cfg->services[i];
			errors_add(ld->errs, sc->file, sc->depends_line,
			           "depends: a cycle: %s", path);
			break;
		}
	}
	free(mark);
	for (size_t g = 0; g < cfg->ngroups; g++) {
		struct group_config *gc = &cfg->groups[g];
		gc->members = expand_names(ld, gc->members, &gc->nmembers,
		                           gc->file, gc->members_line,
		                           "groups.members");
		for (size_t h = 0; h < g; h++)
			if (strcmp(cfg->groups[h].name, gc->name) == 0)
				errors_add(ld->errs, gc->file, gc->line,
				           "groups.name: duplicate group '%s'",
				           gc->name);
		for (size_t m = 0; m < gc->nmembers; m++)
			for (size_t h = 0; h <= g; h++)
				for (size_t k = 0;
				     k < (h == g ? m : cfg->groups[h].nmembers); k++)
					if (strcmp(cfg->groups[h].members[k],
					           gc->members[m]) == 0)
						errors_add(
						    ld->errs, gc->file,
						    gc->members_line,
						    "groups.members: '%s' is in "
						    "group '%s' already",
						    gc->members[m],
						    cfg->groups[h].name);
	}
}

/*
 * Index every service by name (open addressing: a lookup costs about one
 * comparison, where scanning ten thousand services for each name of
 * `depends` would cost about a second). A name indexed already is a
 * duplicate.
 */
static void check_duplicates(struct loader *ld)
{
	struct tend_config *cfg = ld->cfg;
	size_t size = 16;

	while (size < 2 * cfg->nservices)
		size *= 2;
	ld->index = xcalloc(size, sizeof(*ld->index));
	ld->index_mask = size - 1;
	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct service_config *dup = &cfg->services[i], *first;
		size_t *slot = index_slot(ld, dup->name);
		if (*slot == 0) {
			*slot = i + 1;
			continue;
		}
		first = &cfg->services[*slot - 1];
		errors_add(ld->errs, dup->file, dup->line,
		           "name: duplicate service '%s', first defined at "
		           "%s:%d",
		           dup->name, first->file, first->line);
	}
}

static char *absolute(const char *path)
{
	char *abs;
	char cwd[PATH_MAX];

	if (path[0] == '/')
		return xstrdup(path);
	if (getcwd(cwd, sizeof(cwd)) == NULL)
		fatalx("cannot get the working directory");
	if (asprintf(&abs, "%s/%s", cwd, path) < 0)
		fatalx("out of memory");
	return abs;
}

/*
 * Read and check the config at `path`. Returns the config, or NULL with
 * every problem in `errs`. The caller frees it with config_free(), and
 * may free libconfig's tree of it sooner with config_drop_parsed().
 */
struct tend_config *config_load(const char *path, struct errors *errs)
{
	struct tend_config *cfg = xcalloc(1, sizeof(*cfg));
	static const char *const known[] = {"tend", "services", "groups", NULL};
	struct loader ld = {.cfg = cfg, .errs = errs};
	struct members root;
	config_setting_t *tend;
	config_t *lc = xcalloc(1, sizeof(*lc));
	size_t before = errs->count;
	char *slash;

	cfg->file = absolute(path);
	cfg->dir = xstrdup(cfg->file);
	slash = strrchr(cfg->dir, '/');
	slash[slash == cfg->dir ? 1 : 0] = '\0';
	cfg->control_socket = xstrdup(TEND_RUNDIR "/tend.sock");
	cfg->control_mode = 0660;
	cfg->control_uid = cfg->control_gid = -1;
	cfg->log_level = TEND_LOG_INFO;
	cfg->stop_timeout = 10.0;
	cfg->cgroups = true;
	ld.file = path;

	if (parse_file(&ld, lc, path, cfg->dir) < 0) {
		free(lc);
		goto out;
	}
	cfg->parsed = lc;
	read_members(&ld, config_root_setting(lc), "", known, &root);
	tend = get_group(&ld, &root, 0);
	if (tend)
		read_globals(&ld, tend);
	if (cfg->nplugin_path == 0) {
		free(cfg->plugin_path); /* a list of nothing but errors */
		cfg->plugin_path = xcalloc(1, sizeof(char *));
		cfg->plugin_path[cfg->nplugin_path++] = xstrdup(TEND_PLUGINDIR);
	}
	read_services(&ld, config_root_setting(lc));
	read_groups(&ld, config_root_setting(lc));
	read_dropins(&ld);
	check_duplicates(&ld);
	if (errs->count == before)
		check_links(&ld);
out:
	forget_plugins(&ld);
	free(ld.index);
	if (errs->count > before) {
		config_free(cfg);
		return NULL;
	}
	return cfg;
}

static bool same_string(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool same_proc(const struct proc_options *a,
                      const struct proc_options *b)
{
	if (!same_string(a->user, b->user) || !same_string(a->home, b->home) ||
	    !same_string(a->shell, b->shell) || a->has_uid != b->has_uid ||
	    a->has_gid != b->has_gid || (a->has_uid && a->uid != b->uid) ||
	    (a->has_gid && a->gid != b->gid) || a->umask != b->umask ||
	    !same_string(a->workdir, b->workdir) || a->nenv != b->nenv ||
	    a->no_new_privs != b->no_new_privs ||
	    memcmp(a->rlimit, b->rlimit, sizeof(a->rlimit)) != 0)
		return false;
	for (size_t i = 0; i < a->nenv; i++)
		if (strcmp(a->env[i], b->env[i]) != 0)
			return false;
	return true;
}

/*
 * What differs between two configs of one service, as SC_DIFF_* bits.
 * Where each was written (file, line) is no difference; which plugin file
 * is loaded is the caller's to compare.
 */
unsigned service_config_diff(const struct service_config *a,
                             const struct service_config *b)
{
	unsigned d = 0;
	const struct restart_config *ra = &a->restart, *rb = &b->restart;

	if (!setting_equal(&a->settings->root, &b->settings->root))
		d |= SC_DIFF_SETTINGS;
	if (ra->policy != rb->policy || ra->backoff != rb->backoff ||
	    ra->delay != rb->delay || ra->max_delay != rb->max_delay ||
	    ra->jitter != rb->jitter || ra->reset != rb->reset ||
	    ra->intensity != rb->intensity || ra->period != rb->period ||
	    a->watchdog != b->watchdog || a->stop_timeout != b->stop_timeout ||
	    a->ready_timeout != b->ready_timeout || a->mailbox != b->mailbox ||
	    a->escalate != b->escalate || a->ndepends != b->ndepends)
		d |= SC_DIFF_SUPERVISOR;
	for (size_t i = 0; i < a->ndepends && i < b->ndepends; i++)
		if (strcmp(a->depends[i], b->depends[i]) != 0)
			d |= SC_DIFF_SUPERVISOR;
	if (!same_string(a->plugin_path, b->plugin_path) ||
	    a->executor != b->executor || a->ready != b->ready ||
	    !same_proc(&a->proc, &b->proc))
		d |= SC_DIFF_RUN;
	/* a child paces its heartbeats by the watchdog it started with */
	if (a->watchdog != b->watchdog && (a->executor == EXEC_PROCESS ||
	                                   a->executor == EXEC_PROCESS_ASYNC))
		d |= SC_DIFF_RUN;
	return d;
}

/*
 * Free what libconfig read, which nothing refers to: a tree as big as the
 * file, left for later so that a reload can first do what is waited for.
 */
void config_drop_parsed(struct tend_config *cfg)
{
	if (cfg->parsed == NULL)
		return;
	config_destroy(cfg->parsed);
	free(cfg->parsed);
	cfg->parsed = NULL;
}

void config_free(struct tend_config *cfg)
{
	if (cfg == NULL)
		return;
	config_drop_parsed(cfg);
	for (size_t i = 0; i < cfg->nservices; i++)
		service_config_clear(&cfg->services[i]);
	free(cfg->services);
	for (size_t i = 0; i < cfg->ngroups; i++) {
		free_names(cfg->groups[i].members, cfg->groups[i].nmembers);
		free(cfg->groups[i].file);
	}
	free(cfg->groups);
	for (size_t i = 0; i < cfg->nplugin_path; i++)
		free(cfg->plugin_path[i]);
	free(cfg->plugin_path);
	free(cfg->include_dir);
	free(cfg->control_socket);
	free(cfg->file);
	free(cfg->dir);
	free(cfg);
}
