/*
 * The host side of the plugin ABI: the function table every context
 * carries, and the instance each context belongs to. These functions are
 * called from the plugin's own thread (which is the main thread for async
 * plugins), so they touch only the instance and thread-safe parts of the
 * daemon (the log, the event queue and the mailboxes).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tendd.h"

static bool observing; /* on_state() is a supervisor observer */

static struct instance *from_ctx(struct tend_ctx *ctx)
{
	/* ctx is the first member: this is the documented layout */
	return (struct instance *)ctx;
}

/* A setting of the wrong type is the config's fault: say where. */
static int checked(struct tend_ctx *ctx, const char *key, int rc,
                   enum setting_type want, const struct setting *found)
{
	struct instance *in = from_ctx(ctx);
	char msg[1024];

	if (rc < 0) {
		setting_mismatch(msg, sizeof(msg), in->file, key, want, found);
		log_write(TEND_LOG_ERROR, in->name, "%s", msg);
	}
	return rc;
}

static int host_setting_int(struct tend_ctx *ctx, const char *key,
                            long long *out)
{
	const struct setting *s;
	int rc = setting_get_int(from_ctx(ctx)->settings, key, out, &s);
	return checked(ctx, key, rc, SETTING_INT, s);
}

static int host_setting_double(struct tend_ctx *ctx, const char *key,
                               double *out)
{
	const struct setting *s;
	int rc = setting_get_double(from_ctx(ctx)->settings, key, out, &s);
	return checked(ctx, key, rc, SETTING_FLOAT, s);
}

static int host_setting_string(struct tend_ctx *ctx, const char *key,
                               const char **out)
{
	const struct setting *s;
	int rc = setting_get_string(from_ctx(ctx)->settings, key, out, &s);
	return checked(ctx, key, rc, SETTING_STRING, s);
}

static int host_setting_bool(struct tend_ctx *ctx, const char *key, int *out)
{
	const struct setting *s;
	int rc = setting_get_bool(from_ctx(ctx)->settings, key, out, &s);
	return checked(ctx, key, rc, SETTING_BOOL, s);
}

__attribute__((format(printf, 3, 0))) static void
host_vlog(struct tend_ctx *ctx, int level, const char *fmt, va_list ap)
{
	if (level <= log_threshold)
		log_vwrite(level, from_ctx(ctx)->name, fmt, ap);
}

static void host_ready(struct tend_ctx *ctx)
{
	struct instance *in = from_ctx(ctx);
	if (!in->ready_sent++)
		events_post(in, IE_READY, NULL);
}

static void host_heartbeat(struct tend_ctx *ctx)
{
	from_ctx(ctx)->last_beat = mono_now();
}

static int host_stopping(struct tend_ctx *ctx)
{
	return from_ctx(ctx)->stopping;
}

static int host_stop_fd(struct tend_ctx *ctx) { return from_ctx(ctx)->stop_fd; }

static struct ev_loop *host_loop(struct tend_ctx *ctx)
{
	return from_ctx(ctx)->loop;
}

static int host_send(struct tend_ctx *ctx, const char *to, const void *data,
                     size_t len)
{
	struct instance *in = from_ctx(ctx);
	int err = mailbox_send(in->sv->mailbox, in->name, to, data, len);

	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

static long host_send_batch(struct tend_ctx *ctx, const char *to,
                            const struct tend_msg *msgs, size_t n)
{
	struct instance *in = from_ctx(ctx);
	int err;
	size_t k = mailbox_send_batch(in->sv->mailbox, in->name, to, msgs, n,
	                              &err);

	if (k == 0 && err) {
		errno = err;
		return -1;
	}
	if (k < n)
		errno = err;
	return (long)k;
}

static int host_watch(struct tend_ctx *ctx, const char *name)
{
	struct instance *in = from_ctx(ctx);
	int err = mailbox_watch(in->sv->mailbox, in->mail_run, name);

	if (err) {
		errno = err;
		return -1;
	}
	return 0;
}

/* The first of tend_fail/tend_exit decides how the instance ended. */
static void end(struct instance *in, int status, const char *reason)
{
	if (in->ended++)
		return;
	in->end_status = status;
	if (reason)
		in->end_reason = strdup(reason); /* NULL: no reason given */
	in->ops->self_end(in);
}

__attribute__((format(printf, 2, 0))) static void
host_vfail(struct tend_ctx *ctx, const char *fmt, va_list ap)
{
	char reason[REASON_MAX];
	vsnprintf(reason, sizeof(reason), fmt, ap);
	end(from_ctx(ctx), -1, reason);
}

static void host_exit(struct tend_ctx *ctx, int status)
{
	end(from_ctx(ctx), status, NULL);
}

static void *host_data(struct tend_ctx *ctx) { return from_ctx(ctx)->data; }

static void host_set_data(struct tend_ctx *ctx, void *data)
{
	from_ctx(ctx)->data = data;
}

static const char *host_name(struct tend_ctx *ctx)
{
	return from_ctx(ctx)->name;
}

static const struct tend_host host_table = {
    .abi = TEND_ABI_VERSION,
    .size = sizeof(struct tend_host),
    .setting_int = host_setting_int,
    .setting_double = host_setting_double,
    .setting_string = host_setting_string,
    .setting_bool = host_setting_bool,
    .vlog = host_vlog,
    .ready = host_ready,
    .heartbeat = host_heartbeat,
    .stopping = host_stopping,
    .stop_fd = host_stop_fd,
    .loop = host_loop,
    .send = host_send,
    .watch = host_watch,
    .vfail = host_vfail,
    .data = host_data,
    .set_data = host_set_data,
    .name = host_name,
    .exit = host_exit,
    .send_batch = host_send_batch,
};

/*
 * Every state change reaches the service's mailbox: it takes mail only
 * while the service is up, and tells the runs that watch it.
 */
static void on_state(void *arg, struct supervisor *sv, enum sv_state from)
{
	bool up = sv->state == SV_STARTING || sv->state == SV_RUNNING ||
	          sv->state == SV_READY;

	(void)arg;
	if (from != sv->state)
		mailbox_state(sv->mailbox, sv_state_name(sv->state), up);
}

/*
 * A new instance of `sc`'s service, holding its own reference to the
 * plugin, and the run its mailbox takes mail for. Returns NULL when out
 * of file descriptors (errno set).
 */
struct instance *instance_new(struct supervisor *sv,
                              const struct executor_ops *ops,
                              struct plugin *plugin,
                              const struct service_config *sc,
                              struct ev_loop *host_loop)
{
	struct instance *in = calloc(1, sizeof(*in));

	if (in == NULL)
		fatalx("out of memory");
	in->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (in->stop_fd < 0) {
		free(in);
		return NULL;
	}
	in->ctx.host = &host_table;
	in->sv = sv;
	in->ops = ops;
	in->plugin = plugin;
	plugin->refs++;
	in->api = &plugin->api;
	in->file = strdup(sc->file);
	if (in->file == NULL)
		fatalx("out of memory");
	instance_set_settings(in, sc->settings);
	in->loop = host_loop;
	in->last_beat = mono_now();
	snprintf(in->name, sizeof(in->name), "%s", sc->name);
	if (!observing) {
		/* with the first run: before it, no mailbox is open */
		supervisor_observe(on_state, NULL);
		observing = true;
	}
	in->mail_run = mailbox_open(sv->mailbox, sc->mailbox,
	                            in->api->message != NULL);
	return in;
}

void instance_free(struct instance *in)
{
	if (in == NULL)
		return;
	mailbox_close(in->sv->mailbox, in->mail_run);
	close(in->stop_fd);
	plugin_put(in->plugin);
	for (size_t i = 0; i < in->nheld; i++)
		settings_unref(in->held[i]);
	free(in->held);
	free(in->file);
	free(in->exec);
	free(in->end_reason);
	free(in);
}

/*
 * Give a run new settings (main thread). The trees it was given before
 * stay alive until it ends: the plugin may still hold strings from them.
 */
void instance_set_settings(struct instance *in, struct settings *s)
{
	struct settings **grown =
	    realloc(in->held, (in->nheld + 1) * sizeof(*grown));

	if (grown == NULL)
		fatalx("out of memory");
	in->held = grown;
	in->held[in->nheld++] = settings_ref(s);
	in->settings = &s->root;
}

/* How an instance ended, from run()'s return code and what it called. */
void instance_exit_info(const struct instance *in, int rc,
                        struct exit_info *out)
{
	memset(out, 0, sizeof(*out));
	if (in->ended && in->end_status < 0) {
		out->kind = EXIT_FAILED;
		snprintf(out->reason, sizeof(out->reason), "%s",
		         in->end_reason ? in->end_reason : "no reason given");
		return;
	}
	if (in->ended)
		rc = in->end_status;
	out->kind = rc == 0 ? EXIT_CLEAN : EXIT_CODE;
	out->code = rc;
}
