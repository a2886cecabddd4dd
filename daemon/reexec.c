/*
 * tendd executes itself once at start, with glibc.rtld.nns=1 added to
 * GLIBC_TUNABLES. glibc reserves static TLS in every thread for four
 * dlmopen() namespaces, and tendd uses one; the reserve lies between a
 * thread's descriptor and its stack, and pushes an idle thread's frames
 * into a second stack page: each thread or thread-async service costs
 * 4 KiB more with it. The reserve is fixed when a program is loaded,
 * hence the exec, which keeps pid and arguments.
 *
 * Once loaded, tendd puts GLIBC_TUNABLES back as it was (TEND_TUNABLES_WAS
 * carries it across the exec, and says it happened), so that nothing
 * tendd or a plugin starts inherits the tunable. Left as they are: a
 * GLIBC_TUNABLES that sets glibc.rtld.nns already; a secure-execution run
 * (setuid, file capabilities), where glibc drops the tunable; a run
 * through an explicit ld.so, where /proc/self/exe is the loader; and a
 * run under valgrind, which would not follow the exec.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

#include "tendd.h"

#define TUNABLES "GLIBC_TUNABLES"
#define WAS "TEND_TUNABLES_WAS" /* its value before; empty: unset */
#define NNS "glibc.rtld.nns="

/* GLIBC_TUNABLES as `was` says it was: NULL or empty is unset. */
static void put_back(const char *was)
{
	if (was && *was)
		setenv(TUNABLES, was, 1);
	else
		unsetenv(TUNABLES);
}

void reexec_for_small_tls(char **argv)
{
	const char *was = getenv(WAS), *preload = getenv("LD_PRELOAD");
	char self[PATH_MAX], *set;
	ssize_t n;

	if (was) { /* this is the exec */
		put_back(was);
		unsetenv(WAS);
		return;
	}
	was = getenv(TUNABLES);
	if ((was && strstr(was, NNS)) || getauxval(AT_SECURE) ||
	    getauxval(AT_BASE) == 0 || (preload && strstr(preload, "vgpreload")))
		return;
	/* by its real name: an exec of /proc/self/exe names the process "exe" */
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0 || (size_t)n == sizeof(self) - 1)
		return;
	self[n] = '\0';
	if (asprintf(&set, "%s%s" NNS "1", was && *was ? was : "",
	             was && *was ? ":" : "") < 0)
		return;
	if (setenv(WAS, was ? was : "", 1) == 0 && setenv(TUNABLES, set, 1) == 0)
		execv(self, argv);
	/* still here: run as we are; `was` is still environ's first string */
	put_back(was);
	unsetenv(WAS);
	free(set);
}
