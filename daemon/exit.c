/*
 * Why an instance ended, in words a user reads in the log and in status.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "tendd.h"

void exit_describe(const struct exit_info *e, char *buf, size_t len)
{
	switch (e->kind) {
	case EXIT_CLEAN:
		snprintf(buf, len, "exited cleanly");
		break;
	case EXIT_CODE:
		snprintf(buf, len, "exit code %d", e->code);
		break;
	case EXIT_FAILED:
		snprintf(buf, len, "failed: %s", e->reason);
		break;
	case EXIT_SIGNALED:
		snprintf(buf, len, "killed by signal %d (SIG%s)%s", e->code,
		         sigabbrev_np(e->code) ? sigabbrev_np(e->code) : "?",
		         e->core ? ", core dumped" : "");
		break;
	case EXIT_HUNG:
		snprintf(buf, len, "hung: %s", e->reason);
		break;
	case EXIT_START_FAILED:
		snprintf(buf, len, "failed to start: %s", e->reason);
		break;
	case EXIT_STOP_TIMEOUT:
		snprintf(buf, len, "did not stop in time: %s", e->reason);
		break;
	case EXIT_STOPPED:
		snprintf(buf, len, "stopped");
		break;
	}
}

/* transient services restart after these, and not after the others */
bool exit_is_failure(const struct exit_info *e)
{
	return e->kind != EXIT_CLEAN && e->kind != EXIT_STOPPED;
}
