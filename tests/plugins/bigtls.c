/*
 * A plugin with initial-exec TLS, as some libraries have: it needs room
 * in glibc's static TLS reserve, which tendd keeps small (reexec.c).
 */
#include <tend/plugin.h>

#ifndef BIGTLS
#define BIGTLS 1024 /* glibc's default reserve has room, tendd's not */
#endif

__attribute__((visibility("default"))) extern __thread char bigtls_scratch[];
__thread char bigtls_scratch[BIGTLS] __attribute__((tls_model("initial-exec")));

static int bt_start(struct tend_ctx *ctx)
{
	bigtls_scratch[0] = 1;
	tend_log(ctx, TEND_LOG_INFO, "scratch %d", bigtls_scratch[0]);
	return 0;
}

TEND_PLUGIN(.name = "bigtls", .version = "1", .executors = TEND_EXEC_START,
            .start = bt_start);
