/* A descriptor that claims to be shorter than ABI 1's. */
#include <tend/plugin.h>

__attribute__((visibility("default"))) extern const struct tend_plugin
    tend_plugin;
const struct tend_plugin tend_plugin = {
    .abi = TEND_ABI_VERSION,
    .size = 8,
    .name = "shortdesc",
};
