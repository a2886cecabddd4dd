/*
 * tendctl: talks to tendd over its control socket.
 *
 * The socket is -s PATH, else the control.socket of -c CONFIG, else
 * $TEND_SOCKET, else the default. Exit status: 0 done, 1 the daemon
 * refused or the command failed, 2 usage, 3 the daemon cannot be reached.
 */
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <jansson.h>
#include <libconfig.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#ifndef TEND_RUNDIR
#define TEND_RUNDIR "/run/tend"
#endif

#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3

static void usage(FILE *to)
{
	fprintf(to,
	        "usage: tendctl [-s SOCKET | -c CONFIG] [--json] COMMAND\n"
	        "commands:\n"
	        "  status [NAME]        state of every service, or of one\n"
	        "  start NAME           start a service (also a failed one)\n"
	        "  stop NAME            stop a service\n"
	        "  restart NAME         stop and start a service\n"
	        "  reload [--dry-run]   apply the config as it is now on "
	        "disk;\n"
	        "                       --dry-run: only say what would "
	        "change\n"
	        "  log-level LEVEL      debug, info, notice, warning or "
	        "error\n"
	        "  send NAME TEXT       send TEXT to a service's message()\n");
}

/*
 * The control.socket of a config file (default: the daemon's default).
 * A relative path is against the file's directory, as tendd reads it.
 */
static char *socket_from_config(const char *conf)
{
	config_t lc;
	const char *sock = NULL, *slash = strrchr(conf, '/');
	char *dir = slash ? strndup(conf, (size_t)(slash - conf + 1))
	                  : strdup("./");
	char *path;

	config_init(&lc);
	config_set_include_dir(&lc, dir);
	if (config_read_file(&lc, conf) != CONFIG_TRUE) {
		if (config_error_type(&lc) == CONFIG_ERR_FILE_IO)
			fprintf(stderr, "tendctl: cannot read '%s': %s\n", conf,
			        strerror(errno));
		else
			fprintf(stderr, "tendctl: %s:%d: %s\n",
			        config_error_file(&lc) ? config_error_file(&lc)
			                               : conf,
			        config_error_line(&lc), config_error_text(&lc));
		exit(EXIT_USAGE);
	}
	config_lookup_string(&lc, "tend.control.socket", &sock);
	if (sock == NULL)
		path = strdup(TEND_RUNDIR "/tend.sock");
	else if (sock[0] == '/')
		path = strdup(sock);
	else if (asprintf(&path, "%s%s", dir, sock) < 0)
		path = NULL;
	config_destroy(&lc);
	free(dir);
	if (path == NULL) {
		fprintf(stderr, "tendctl: out of memory\n");
		exit(EXIT_FAILED);
	}
	return path;
}

static int connect_to(const char *path)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(sun.sun_path))
		return -1;
	strcpy(sun.sun_path, path);
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Send one request line and read one reply line. */
static json_t *call(int fd, json_t *req)
{
	char *text = json_dumps(req, JSON_COMPACT);
	size_t len = strlen(text), cap = 65536, got = 0;
	char *buf = malloc(cap);
	json_t *reply = NULL;

	text = realloc(text, len + 2);
	text[len] = '\n';
	for (size_t off = 0; off < len + 1;) {
		ssize_t n = write(fd, text + off, len + 1 - off);
		if (n <= 0)
			goto out;
		off += (size_t)n;
	}
	for (;;) {
		ssize_t n;
		if (got == cap)
			buf = realloc(buf, cap *= 2);
		n = read(fd, buf + got, cap - got);
		if (n <= 0)
			goto out;
		got += (size_t)n;
		if (memchr(buf + got - n, '\n', (size_t)n))
			break;
	}
	reply = json_loadb(buf, got, JSON_DISABLE_EOF_CHECK, NULL);
out:
	free(text);
	free(buf);
	return reply;
}

static void fmt_duration(char *buf, size_t len, double s)
{
	if (s < 60)
		snprintf(buf, len, "%.1fs", s);
	else if (s < 3600)
		snprintf(buf, len, "%dm%02ds", (int)s / 60, (int)s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%dh%02dm", (int)s / 3600,
		         (int)s / 60 % 60);
	else
		snprintf(buf, len, "%dd%02dh", (int)s / 86400,
		         (int)s / 3600 % 24);
}

/* What a reload did (or, dry, would do), service by service. */
static int print_reload(json_t *rl)
{
	static const char *const outcomes[] = {
	    "added", "removed", "restarted", "reconfigured", "unchanged",
	    "failed"};
	unsigned n[6] = {0};
	json_t *services = json_object_get(rl, "services"), *s;
	json_t *errors = json_object_get(rl, "errors");
	bool dry = json_is_true(json_object_get(rl, "dry_run"));
	size_t i;

	if (strcmp(json_string_value(json_object_get(rl, "result")) ?: "",
	           "rejected") == 0) {
		fprintf(stderr,
		        "tendctl: config rejected, nothing changed%s:\n",
		        dry ? "" : "; the previous config still runs");
		json_array_foreach(errors, i, s)
		    fprintf(stderr, "%s\n", json_string_value(s));
		return EXIT_FAILED;
	}
	json_array_foreach(json_object_get(rl, "notes"), i, s)
	    printf("%-13s %s\n", "global", json_string_value(s));
	json_array_foreach(services, i, s)
	{
		const char *o = json_string_value(json_object_get(s, "outcome"));
		const char *why = json_string_value(json_object_get(s, "reason"));
		for (size_t k = 0; k < 6; k++)
			if (strcmp(o, outcomes[k]) == 0)
				n[k]++;
		printf("%-13s %s%s%s\n", o,
		       json_string_value(json_object_get(s, "name")),
		       why ? ": " : "", why ? why : "");
	}
	printf("%s%u added, %u removed, %u restarted, %u reconfigured, %u "
	       "unchanged, %u failed\n",
	       dry ? "dry run, nothing changed: would be " : "", n[0], n[1],
	       n[2], n[3], n[4], n[5]);
	return n[5] ? EXIT_FAILED : 0;
}

/* A reload that went wrong stays visible in status until the next one. */
static void print_last_reload(json_t *rl)
{
	const char *result = json_string_value(json_object_get(rl, "result"));
	char ago[32];
	json_t *s;
	size_t i;

	if (result == NULL || strcmp(result, "ok") == 0)
		return;
	fmt_duration(ago, sizeof(ago),
	             json_number_value(json_object_get(rl, "ago")));
	printf("last reload (%s, %s ago) %s:", 
	       json_string_value(json_object_get(rl, "origin")), ago,
	       strcmp(result, "rejected") == 0
	           ? "was rejected; the previous config still runs"
	           : "failed for");
	json_array_foreach(json_object_get(rl, "failed"), i, s)
	    printf(" %s", json_string_value(s));
	printf("\n");
	json_array_foreach(json_object_get(rl, "errors"), i, s)
	    printf("  %s\n", json_string_value(s));
	printf("\n");
}

static void print_table(json_t *services)
{
	size_t i;
	json_t *s;

	printf("%-24s %-9s %-13s %8s %9s %8s  %s\n", "NAME", "STATE",
	       "EXECUTOR", "PID/TID", "UPTIME", "RESTARTS", "LAST EXIT");
	json_array_foreach(services, i, s)
	{
		char up[32] = "-", id[32] = "-";
		const char *state =
		    json_string_value(json_object_get(s, "state"));
		const char *last =
		    json_string_value(json_object_get(s, "last_exit"));
		json_int_t pid = json_integer_value(json_object_get(s, "pid"));
		json_int_t tid = json_integer_value(json_object_get(s, "tid"));
		double uptime = json_number_value(json_object_get(s, "uptime"));

		if (pid || tid)
			snprintf(id, sizeof(id), "%lld",
			         (long long)(pid ? pid : tid));
		if (uptime > 0)
			fmt_duration(up, sizeof(up), uptime);
		printf("%-24s %-9s %-13s %8s %9s %8lld  %s%s\n",
		       json_string_value(json_object_get(s, "name")), state,
		       json_string_value(json_object_get(s, "executor")), id,
		       up,
		       (long long)json_integer_value(
		           json_object_get(s, "restarts")),
		       json_is_true(json_object_get(s, "gave_up"))
		           ? "gave up; "
		           : "",
		       last ? last : "-");
	}
}

/* One service in detail: `tendctl status NAME`. */
static void print_service(json_t *s)
{
	char buf[64];
	json_t *v, *line;
	size_t i;

	printf("%s: %s (%s)\n", json_string_value(json_object_get(s, "name")),
	       json_string_value(json_object_get(s, "state")),
	       json_string_value(json_object_get(s, "executor")));
	if ((v = json_object_get(s, "pid")) && json_integer_value(v))
		printf("  pid        %lld\n", (long long)json_integer_value(v));
	if ((v = json_object_get(s, "tid")) && json_integer_value(v))
		printf("  thread     %lld\n", (long long)json_integer_value(v));
	if (json_number_value(json_object_get(s, "uptime")) > 0) {
		fmt_duration(buf, sizeof(buf),
		             json_number_value(json_object_get(s, "uptime")));
		printf("  uptime     %s\n", buf);
	}
	fmt_duration(buf, sizeof(buf),
	             json_number_value(json_object_get(s, "since")));
	printf("  in state   %s\n", buf);
	printf("  restarts   %lld%s\n",
	       (long long)json_integer_value(json_object_get(s, "restarts")),
	       json_is_true(json_object_get(s, "gave_up")) ? " (gave up)" : "");
	if ((v = json_object_get(s, "next_start_in")))
		printf("  next start in %.1fs\n", json_number_value(v));
	if ((v = json_object_get(s, "last_exit")) && json_is_string(v))
		printf("  last exit  %s\n", json_string_value(v));
	if ((v = json_object_get(s, "output_dropped")) && json_integer_value(v))
		printf("  output dropped  %lld lines\n",
		       (long long)json_integer_value(v));
	if ((v = json_object_get(s, "messages")))
		printf("  messages   sent %lld, received %lld, refused %lld, "
		       "dropped %lld, queued %lld\n",
		       (long long)json_integer_value(json_object_get(v, "sent")),
		       (long long)json_integer_value(
		           json_object_get(v, "received")),
		       (long long)json_integer_value(
		           json_object_get(v, "refused")),
		       (long long)json_integer_value(
		           json_object_get(v, "dropped")),
		       (long long)json_integer_value(
		           json_object_get(v, "queued")));
	json_array_foreach(json_object_get(s, "log"), i, line)
	{
		time_t t = (time_t)json_number_value(json_object_get(line, "time"));
		struct tm tm;
		if (i == 0)
			printf("  last lines logged:\n");
		localtime_r(&t, &tm);
		strftime(buf, sizeof(buf), "%H:%M:%S", &tm);
		printf("    %s %-7s %s\n", buf,
		       json_string_value(json_object_get(line, "level")),
		       json_string_value(json_object_get(line, "msg")));
	}
}

/* The commands, and how many arguments each takes (min..max). */
static const struct command {
	const char *name;
	int min, max;
	const char *arg;  /* the request key the argument goes to */
	const char *arg2; /* and the second's */
} commands[] = {
    {"status", 0, 1, "name", NULL},  {"start", 1, 1, "name", NULL},
    {"stop", 1, 1, "name", NULL},    {"restart", 1, 1, "name", NULL},
    {"reload", 0, 0, NULL, NULL},    {"log-level", 1, 1, "level", NULL},
    {"send", 2, 2, "name", "data"},
};

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
	    {"json", no_argument, NULL, 'j'},
	    {"socket", required_argument, NULL, 's'},
	    {"config", required_argument, NULL, 'c'},
	    {"dry-run", no_argument, NULL, 'n'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const struct command *cmd = NULL;
	char *path = NULL;
	const char *arg = NULL;
	bool json = false, dry = false;
	json_t *req, *reply, *services, *data = NULL;
	int opt, fd, status, nargs;

	while ((opt = getopt_long(argc, argv, "s:c:jh", longopts, NULL)) !=
	       -1) {
		switch (opt) {
		case 's':
			free(path);
			path = strdup(optarg);
			break;
		case 'c':
			if (path == NULL)
				path = socket_from_config(optarg);
			break;
		case 'j':
			json = true;
			break;
		case 'n':
			dry = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad_usage;
		}
	}
	if (optind >= argc)
		goto bad_usage;
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[optind], commands[i].name) == 0)
			cmd = &commands[i];
	nargs = argc - optind - 1;
	if (cmd == NULL || nargs < cmd->min || nargs > cmd->max ||
	    (dry && strcmp(cmd->name, "reload") != 0))
		goto bad_usage;
	if (nargs)
		arg = argv[optind + 1];
	if (path == NULL && getenv("TEND_SOCKET"))
		path = strdup(getenv("TEND_SOCKET"));
	if (path == NULL)
		path = strdup(TEND_RUNDIR "/tend.sock");

	if (nargs > 1 && (data = json_string(argv[optind + 2])) == NULL) {
		fprintf(stderr, "tendctl: the text is not valid UTF-8\n");
		free(path);
		return EXIT_USAGE;
	}
	fd = connect_to(path);
	if (fd < 0) {
		fprintf(stderr, "tendctl: cannot reach tendd at '%s': %s\n",
		        path, strerror(errno));
		json_decref(data);
		free(path);
		return EXIT_UNREACHABLE;
	}
	req = json_pack("{s:i, s:s}", "v", 1, "cmd", cmd->name);
	if (arg)
		json_object_set_new(req, cmd->arg, json_string(arg));
	if (data)
		json_object_set_new(req, cmd->arg2, data);
	if (dry)
		json_object_set_new(req, "dry_run", json_true());
	reply = call(fd, req);
	json_decref(req);
	close(fd);
	if (reply == NULL) {
		fprintf(stderr, "tendctl: no valid reply from '%s'\n", path);
		free(path);
		return EXIT_UNREACHABLE;
	}
	free(path);
	status = json_is_true(json_object_get(reply, "ok")) ? 0 : EXIT_FAILED;
	services = json_object_get(reply, "services");
	if (json) {
		char *text = json_dumps(reply, JSON_INDENT(2));
		puts(text);
		free(text);
	} else if (json_object_get(reply, "reload") &&
	           strcmp(cmd->name, "reload") == 0) {
		status = print_reload(json_object_get(reply, "reload"));
	} else if (status != 0) {
		fprintf(stderr, "tendctl: %s\n",
		        json_string_value(json_object_get(reply, "error")));
	} else if (strcmp(cmd->name, "status") == 0 && arg) {
		print_service(json_array_get(services, 0));
	} else if (strcmp(cmd->name, "status") == 0) {
		print_last_reload(json_object_get(reply, "reload"));
		print_table(services);
	} else if (strcmp(cmd->name, "send") == 0) {
		printf("%s: message sent\n", arg);
	} else if (strcmp(cmd->name, "log-level") == 0) {
		printf("log level %s (was %s)\n",
		       json_string_value(json_object_get(reply, "level")),
		       json_string_value(json_object_get(reply, "was")));
	} else {
		printf("%s: %s\n", arg,
		       json_string_value(json_object_get(reply, "state")));
	}
	json_decref(reply);
	return status;
bad_usage:
	usage(stderr);
	free(path);
	return EXIT_USAGE;
}
