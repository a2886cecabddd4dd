/*
 * The host side of the plugin ABI: the function table every context
 * carries, and the instance each context belongs to. These functions are
 * called from the plugin's own thread (which is the main thread for async
 * plugins), so they touch only the instance and thread-safe parts of the
 * daemon (the log and the event queue).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "tendd.h"

static struct instance *from_ctx(struct tend_ctx *ctx)
{
	/* ctx is the first member: this is the documented layout */
	return (struct instance *)ctx;
}

/* Look a setting up, reporting a present value of the wrong type. */
static const struct setting *lookup(struct instance *in, const char *key,
                                    enum setting_type want)
{
	const struct setting *s = setting_lookup(in->settings, key);

	if (s == NULL)
		return NULL;
	if (s->type != want && !(want == SETTING_FLOAT && s->type == SETTING_INT)) {
		log_write(TEND_LOG_ERROR, in->name,
		          "%s:%d: settings.%s: must be %s, not %s", in->file,
		          s->line, key, setting_type_name(want),
		          setting_type_name(s->type));
		errno = EINVAL;
		return (const struct setting *)-1;
	}
	return s;
}

#define SETTING_GETTER(fn, type_id, ctype, expr)                         \
	static int fn(struct tend_ctx *ctx, const char *key, ctype *out) \
	{                                                                \
		const struct setting *s =                                \
		    lookup(from_ctx(ctx), key, type_id);                 \
		if (s == NULL)                                           \
			return 1;                                        \
		if (s == (const struct setting *)-1)                     \
			return -1;                                       \
		*out = (expr);                                           \
		return 0;                                                \
	}
SETTING_GETTER(host_setting_int, SETTING_INT, long long, s->v.i)
SETTING_GETTER(host_setting_double, SETTING_FLOAT, double,
               s->type == SETTING_INT ? (double)s->v.i : s->v.d)
SETTING_GETTER(host_setting_string, SETTING_STRING, const char *, s->v.s)
SETTING_GETTER(host_setting_bool, SETTING_BOOL, int, s->v.b)

static void host_vlog(struct tend_ctx *ctx, int level, const char *fmt,
                      va_list ap)
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
	(void)ctx, (void)to, (void)data, (void)len;
	errno = ENOSYS; /* NEEDSWORK: messaging between services */
	return -1;
}

static int host_watch(struct tend_ctx *ctx, const char *name)
{
	(void)ctx, (void)name;
	errno = ENOSYS; /* NEEDSWORK: lifecycle subscriptions */
	return -1;
}

/* The first of tend_fail/tend_exit decides how the instance ended. */
static void end(struct instance *in, int status, const char *reason)
{
	if (in->ended++)
		return;
	in->end_status = status;
	snprintf(in->end_reason, sizeof(in->end_reason), "%s",
	         reason ? reason : "");
	in->ops->self_end(in);
}

static void host_vfail(struct tend_ctx *ctx, const char *fmt, va_list ap)
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
};

/*
 * A new instance of `sc`'s service, holding its own reference to the
 * plugin. Returns NULL when out of file descriptors (errno set).
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
	in->settings = &sc->settings;
	in->file = sc->file;
	in->loop = host_loop;
	in->last_beat = mono_now();
	snprintf(in->name, sizeof(in->name), "%s", sc->name);
	return in;
}

void instance_free(struct instance *in)
{
	if (in == NULL)
		return;
	close(in->stop_fd);
	plugin_put(in->plugin);
	free(in->exec);
	free(in);
}

/* How an instance ended, from run()'s return code and what it called. */
void instance_exit_info(const struct instance *in, int rc,
                        struct exit_info *out)
{
	memset(out, 0, sizeof(*out));
	if (in->ended && in->end_status < 0) {
		out->kind = EXIT_FAILED;
		snprintf(out->reason, sizeof(out->reason), "%s",
		         in->end_reason);
		return;
	}
	if (in->ended)
		rc = in->end_status;
	out->kind = rc == 0 ? EXIT_CLEAN : EXIT_CODE;
	out->code = rc;
}
