/*
 * crashprog: a tiny program for the exec plugin's restart latency, linked
 * statically so that no dynamic linker runs. It writes one record to the
 * file named by its argument (see bench.h): the time main() was entered
 * and the time just before it exits with status 1.
 *
 *   crashprog /dev/shm/tend-bench.../exec.rec
 */
#include "bench.h"

int main(int argc, char **argv)
{
	int64_t t = bench_now(); /* first: what follows is the run's */
	struct bench_file *f = argc > 1 ? bench_map(argv[1]) : NULL;

	if (f) {
		uint64_t i = atomic_load(&f->n);
		if (i < f->cap) {
			f->rec[i].a = t;
			f->rec[i].b = bench_now();
			atomic_store(&f->n, i + 1);
		}
	}
	_exit(1);
}
