/*
 * A plugin that starts a thread as soon as it is loaded, from an ELF
 * constructor, as some libraries do: the launcher must not fork after
 * loading it. run() just waits to be stopped.
 */
#include <poll.h>
#include <pthread.h>
#include <unistd.h>

#include <tend/plugin.h>

static void *idle(void *arg)
{
	(void)arg;
	for (;;)
		pause();
	return NULL;
}

__attribute__((constructor)) static void start_thread(void)
{
	pthread_t t;

	if (pthread_create(&t, NULL, idle, NULL) == 0)
		pthread_detach(t);
}

static int tc_run(struct tend_ctx *ctx)
{
	struct pollfd p = {.fd = tend_stop_fd(ctx), .events = POLLIN};

	tend_log(ctx, TEND_LOG_INFO, "running, pid %d", (int)getpid());
	while (!tend_stopping(ctx))
		poll(&p, 1, -1);
	return 0;
}

TEND_PLUGIN(.name = "threadctor", .version = "1",
            .executors = TEND_EXEC_RUN, .run = tc_run);
