/*
 * Tests of daemon/backoff.c: the wait before each restart (by backoff
 * kind, capped, spread by jitter), the intensity/period window that makes
 * a service give up, and the reset of the failure count after a stable run.
 */
#include <limits.h>
#include <math.h>

#include "tap.h"
#include "tendd.h"

static struct restart_config rc_of(enum backoff_kind kind, double delay,
                                   double max_delay, double jitter)
{
	return (struct restart_config){
	    .policy = POLICY_PERMANENT,
	    .backoff = kind,
	    .delay = delay,
	    .max_delay = max_delay,
	    .jitter = jitter,
	    .reset = 10.0,
	    .intensity = 5,
	    .period = 10.0,
	};
}

static void test_kinds(void)
{
	static const char *const names[] = {"immediate", "fixed", "linear",
	                                    "exponential"};
	/* the waits for failures 1..5 with delay 0.5 and no cap in reach */
	static const double want[][5] = {
	    [BACKOFF_IMMEDIATE] = {0, 0, 0, 0, 0},
	    [BACKOFF_FIXED] = {0.5, 0.5, 0.5, 0.5, 0.5},
	    [BACKOFF_LINEAR] = {0.5, 1.0, 1.5, 2.0, 2.5},
	    [BACKOFF_EXPONENTIAL] = {0.5, 1.0, 2.0, 4.0, 8.0},
	};

	for (int k = BACKOFF_IMMEDIATE; k <= BACKOFF_EXPONENTIAL; k++) {
		struct restart_config rc = rc_of(k, 0.5, 100.0, 0.0);
		for (unsigned n = 1; n <= 5; n++)
			is_double(backoff_delay(&rc, n, 0.5), want[k][n - 1],
			          1e-12, "%s: wait after failure %u", names[k],
			          n);
	}
}

/* No failure counted yet is treated as the first: never a zero wait. */
static void test_zero_failures(void)
{
	struct restart_config rc = rc_of(BACKOFF_EXPONENTIAL, 0.5, 100.0, 0.0);

	is_double(backoff_delay(&rc, 0, 0.5), 0.5, 1e-12,
	          "exponential: failures 0 waits like failure 1");
	rc.backoff = BACKOFF_LINEAR;
	is_double(backoff_delay(&rc, 0, 0.5), 0.5, 1e-12,
	          "linear: failures 0 waits like failure 1");
}

static void test_cap(void)
{
	struct restart_config rc = rc_of(BACKOFF_EXPONENTIAL, 1.0, 5.0, 0.0);

	is_double(backoff_delay(&rc, 3, 0.5), 4.0, 1e-12,
	          "exponential below the cap: 4");
	is_double(backoff_delay(&rc, 4, 0.5), 5.0, 1e-12,
	          "exponential 8 is capped at max_delay 5");
	rc.backoff = BACKOFF_LINEAR;
	is_double(backoff_delay(&rc, 7, 0.5), 5.0, 1e-12,
	          "linear 7 is capped at max_delay 5");
	rc.backoff = BACKOFF_FIXED;
	rc.delay = 9.0;
	rc.max_delay = 3.0;
	is_double(backoff_delay(&rc, 1, 0.5), 3.0, 1e-12,
	          "fixed 9 is capped at max_delay 3");
}

static void test_jitter(void)
{
	/* failure 3 waits 4 before jitter; the spread is +/- 20% of that */
	struct restart_config rc = rc_of(BACKOFF_EXPONENTIAL, 1.0, 100.0, 0.2);

	is_double(backoff_delay(&rc, 3, 0.0), 4.0 * 0.8, 1e-12,
	          "unit_random 0 gives wait*(1-jitter)");
	is_double(backoff_delay(&rc, 3, 0.999999), 4.0 * 1.2, 1e-4,
	          "unit_random ~1 gives ~wait*(1+jitter)");
	ok(backoff_delay(&rc, 3, 0.999999) < 4.0 * 1.2,
	   "unit_random below 1 stays below wait*(1+jitter)");
	is_double(backoff_delay(&rc, 3, 0.5), 4.0, 1e-12,
	          "unit_random 0.5 gives the wait itself");
	/* jitter spreads the capped wait, not the uncapped one */
	rc.max_delay = 2.0;
	is_double(backoff_delay(&rc, 10, 0.0), 2.0 * 0.8, 1e-12,
	          "jitter applies to the capped wait");
	/* full jitter may reach zero, never below */
	rc.jitter = 1.0;
	is_double(backoff_delay(&rc, 1, 0.0), 0.0, 1e-12,
	          "jitter 1 with unit_random 0 waits 0");
	rc.backoff = BACKOFF_IMMEDIATE;
	is_double(backoff_delay(&rc, 1, 0.999999), 0.0, 0.0,
	          "immediate is not spread by jitter");
}

static void test_huge_failures(void)
{
	struct restart_config rc = rc_of(BACKOFF_EXPONENTIAL, 0.1, 30.0, 0.0);
	double w;

	w = backoff_delay(&rc, 1000, 0.5);
	ok(isfinite(w), "exponential, failures 1000: finite");
	is_double(w, 30.0, 1e-12, "exponential, failures 1000: max_delay");
	w = backoff_delay(&rc, UINT_MAX, 0.5);
	ok(isfinite(w), "exponential, failures UINT_MAX: finite");
	is_double(w, 30.0, 1e-12, "exponential, failures UINT_MAX: max_delay");
	/* around the 2^63 clamp */
	is_double(backoff_delay(&rc, 64, 0.5), 30.0, 1e-12,
	          "exponential, failures 64: max_delay");
	is_double(backoff_delay(&rc, 65, 0.5), 30.0, 1e-12,
	          "exponential, failures 65: max_delay");
	rc.backoff = BACKOFF_LINEAR;
	is_double(backoff_delay(&rc, UINT_MAX, 0.5), 30.0, 1e-12,
	          "linear, failures UINT_MAX: max_delay");
}

static void test_window(void)
{
	struct restart_config rc = rc_of(BACKOFF_IMMEDIATE, 0, 0, 0);
	struct backoff b = {0};

	rc.intensity = 3;
	rc.period = 10.0;
	ok(backoff_allow_restart(&b, &rc, 0.0), "restart 1 at t=0 allowed");
	ok(backoff_allow_restart(&b, &rc, 1.0), "restart 2 at t=1 allowed");
	ok(backoff_allow_restart(&b, &rc, 2.0), "restart 3 at t=2 allowed");
	ok(!backoff_allow_restart(&b, &rc, 3.0),
	   "restart 4 at t=3 refused: 3 within 10s already");
	is_int(b.nhistory, 3, "a refused restart is not recorded");
	ok(backoff_allow_restart(&b, &rc, 10.5),
	   "restart at t=10.5 allowed: t=0 left the window");
	ok(!backoff_allow_restart(&b, &rc, 10.6),
	   "restart at t=10.6 refused: t=1, 2 and 10.5 are within");
	/* now - t < period: a restart exactly `period` ago is out */
	ok(backoff_allow_restart(&b, &rc, 11.0),
	   "restart at t=11 allowed: t=1 is exactly 10s ago");
	backoff_clear(&b);
	ok(b.history == NULL && b.nhistory == 0 && b.failures == 0,
	   "clear forgets every restart");
	ok(backoff_allow_restart(&b, &rc, 11.1),
	   "and counts afresh: allowed again at t=11.1");
	backoff_clear(&b);
}

static void test_intensity_zero(void)
{
	struct restart_config rc = rc_of(BACKOFF_IMMEDIATE, 0, 0, 0);
	struct backoff b = {0};

	rc.intensity = 0;
	ok(!backoff_allow_restart(&b, &rc, 0.0),
	   "intensity 0 refuses the first restart");
	is_int(b.nhistory, 0, "intensity 0 records nothing");
	ok(b.history == NULL, "nor makes a history");
}

/* The history is a ring of RESTART_HISTORY: full, and wrapped over. */
static void test_ring(void)
{
	struct restart_config rc = rc_of(BACKOFF_IMMEDIATE, 0, 0, 0);
	struct backoff b = {0};
	int allowed = 0;
	double t;

	rc.intensity = 100;
	rc.period = 1e6;
	for (int i = 0; i < 100; i++)
		allowed += backoff_allow_restart(&b, &rc, i * 0.01);
	is_int(allowed, 100, "intensity 100: 100 restarts allowed");
	ok(!backoff_allow_restart(&b, &rc, 1.0),
	   "intensity 100: restart 101 refused");

	/* one restart per 1.5s within 2.5s: the ring wraps several times */
	backoff_clear(&b);
	rc.intensity = 2;
	rc.period = 2.5;
	allowed = 0;
	for (int i = 0; i < 3 * RESTART_HISTORY; i++)
		allowed += backoff_allow_restart(&b, &rc, i * 1.5);
	is_int(allowed, 3 * RESTART_HISTORY,
	       "spaced restarts all allowed across ring wraps");
	is_int(b.nhistory, RESTART_HISTORY, "the history stays bounded");
	t = (3 * RESTART_HISTORY - 1) * 1.5;
	ok(!backoff_allow_restart(&b, &rc, t + 0.1),
	   "after wrapping, the two newest restarts are still counted");
	backoff_clear(&b);
}

static void test_note_run(void)
{
	struct restart_config rc = rc_of(BACKOFF_EXPONENTIAL, 0.1, 30, 0);
	struct backoff b = {0};

	rc.reset = 10.0;
	b.failures = 4;
	backoff_note_run(&b, &rc, 9.99);
	is_int(b.failures, 4, "a run shorter than reset keeps the failures");
	backoff_note_run(&b, &rc, 10.0);
	is_int(b.failures, 0, "a run of exactly reset forgets the failures");
	b.failures = 2;
	backoff_note_run(&b, &rc, 3600.0);
	is_int(b.failures, 0, "a long run forgets the failures");
}

int main(void)
{
	test_kinds();
	test_zero_failures();
	test_cap();
	test_jitter();
	test_huge_failures();
	test_window();
	test_intensity_zero();
	test_ring();
	test_note_run();
	return done_testing();
}
