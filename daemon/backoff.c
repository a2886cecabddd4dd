/*
 * Restart arithmetic: how long to wait before the next start, and whether
 * a restart is still allowed by intensity/period. Functions of the
 * restart config, the failure count and the times handed in, so they can
 * be tested without a clock or a loop.
 */
#include <math.h>
#include <stdlib.h>

#include "tendd.h"

/*
 * The wait before restart number `failures` (1 for the first failure):
 * immediate 0, fixed d, linear d*n, exponential d*2^(n-1), capped at
 * max_delay, then spread by +/- jitter*wait using unit_random in [0,1).
 */
double backoff_delay(const struct restart_config *rc, unsigned failures,
                     double unit_random)
{
	double wait;
	unsigned n = failures ? failures : 1;

	switch (rc->backoff) {
	case BACKOFF_IMMEDIATE:
		return 0.0;
	case BACKOFF_FIXED:
		wait = rc->delay;
		break;
	case BACKOFF_LINEAR:
		wait = rc->delay * n;
		break;
	case BACKOFF_EXPONENTIAL:
	default:
		/* 2^63 is far past any cap: no overflow to care about */
		wait = rc->delay * ldexp(1.0, (int)(n > 64 ? 63 : n - 1));
		break;
	}
	if (rc->max_delay > 0 && wait > rc->max_delay)
		wait = rc->max_delay;
	wait += wait * rc->jitter * (2.0 * unit_random - 1.0);
	return wait < 0 ? 0 : wait;
}

/*
 * Record a restart at `now` and say whether it is allowed: false when it
 * would make more than `intensity` restarts within `period` seconds.
 */
bool backoff_allow_restart(struct backoff *b, const struct restart_config *rc,
                           double now)
{
	unsigned within = 0;
	unsigned keep = b->nhistory;

	for (unsigned i = 0; i < keep; i++) {
		unsigned idx = (b->head + RESTART_HISTORY - 1 - i) %
		               RESTART_HISTORY;
		if (now - b->history[idx] < rc->period)
			within++;
	}
	if ((int)within >= rc->intensity)
		return false;
	if (b->history == NULL &&
	    (b->history = malloc(RESTART_HISTORY * sizeof(double))) == NULL)
		fatalx("out of memory");
	b->history[b->head] = now;
	b->head = (b->head + 1) % RESTART_HISTORY;
	if (b->nhistory < RESTART_HISTORY)
		b->nhistory++;
	return true;
}

/*
 * An instance ended after running `ran_for` seconds: a long enough stable
 * run forgets the failures before it, so the next wait is short again.
 */
void backoff_note_run(struct backoff *b, const struct restart_config *rc,
                      double ran_for)
{
	if (ran_for >= rc->reset)
		b->failures = 0;
}

/* Forget every failure and restart. */
void backoff_clear(struct backoff *b)
{
	free(b->history);
	*b = (struct backoff){0};
}
