/*
 * The one clock durations are measured with: monotonic, so that a change
 * of the wall clock never restarts a service or resets its backoff.
 */
#include <time.h>

#include "tendd.h"

double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}
