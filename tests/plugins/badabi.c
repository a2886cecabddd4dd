/* A plugin built for an ABI this tendd does not speak. */
#include <tend/plugin.h>

static int run(struct tend_ctx *ctx)
{
	(void)ctx;
	return 0;
}

__attribute__((visibility("default"))) extern const struct tend_plugin
    tend_plugin;
const struct tend_plugin tend_plugin = {
    .abi = TEND_ABI_VERSION + 98,
    .size = sizeof(struct tend_plugin),
    .name = "badabi",
    .executors = TEND_EXEC_RUN,
    .run = run,
};
