/*
 * crashprog: a tiny program for restart latency and idle services, linked
 * statically so that no dynamic linker runs. It writes one record to the
 * file named by its argument (see bench.h): the time main() was entered
 * and the time just before it exits with status 1.
 *
 *   crashprog FILE            exits at once (make bench's exec restart)
 *   crashprog FILE SECONDS    lives that long first, and up to 10% more
 *                             (the start time's microseconds), so that
 *                             services started together drift apart
 *   crashprog FILE forever    never exits (b stays 0): an idle service
 *
 * With BENCH_REC set, FILE and SECONDS are BENCH_REC and BENCH_LIFE and
 * the arguments are ignored: under runit and s6, `run` is a link to this
 * program, so that no shell runs, and s6 passes it the service's name.
 * Many instances may share a file (1,000 services): each claims a record.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include "bench.h"

int main(int argc, char **argv)
{
	int64_t t = bench_now(); /* first: what follows is the run's */
	const char *file = getenv("BENCH_REC"), *life = getenv("BENCH_LIFE");
	struct bench_file *f;
	struct bench_rec *r = NULL;

	if (!file && argc > 1) {
		file = argv[1];
		life = argv[2]; /* argv[argc] is NULL */
	}
	f = file ? bench_map(file) : NULL;
	if (f) {
		uint64_t i = atomic_fetch_add(&f->n, 1);
		if (i < f->cap) {
			r = &f->rec[i];
			r->a = t;
		}
	}
	if (life) {
		/* a supervisor killed outright leaves no instance behind */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (!strcmp(life, "forever"))
			for (;;)
				pause();
		double s = strtod(life, NULL) * (1 + (t / 1000 % 100) / 1000.0);
		struct timespec ts = {(time_t)s, (long)((s - (time_t)s) * 1e9)};
		while (nanosleep(&ts, &ts))
			;
	}
	if (r)
		r->b = bench_now();
	_exit(1);
}
