/*
 * bench.h: what the bench plugins and programs share with tests/bench/run.
 *
 * A record file (on tmpfs: /dev/shm) that every instance of a service maps:
 * the instances of a service run one after the other, each in its own run
 * (same process or not), so record i belongs to run i alone. The driver
 * reads it after tendd is gone; `n` says how many records are complete.
 * crashprog, whose instances may also run side by side (1,000 services
 * sharing a file), claims its record first: there `n` counts records
 * claimed, and a record's b is 0 until it is written.
 *
 *   crasher, crashprog: rec[i] = {CLOCK_MONOTONIC at init / main(),
 *                                 CLOCK_MONOTONIC just before the exit}
 *   pingpong:           rec[i] = {round trip in ns, 0}
 */
#ifndef TEND_BENCH_H
#define TEND_BENCH_H

#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define BENCH_MAGIC 0x74656e6462656e63ULL /* "tendbenc" */

struct bench_rec {
	int64_t a, b;
};

struct bench_file {
	uint64_t magic;
	uint64_t cap;       /* records the file has room for */
	_Atomic uint64_t n; /* complete records */
	uint64_t pad;
	struct bench_rec rec[];
};

static inline int64_t bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Map the record file the driver made (its size says its capacity). */
static inline struct bench_file *bench_map(const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	off_t size;
	void *p;

	if (fd < 0)
		return NULL;
	size = lseek(fd, 0, SEEK_END);
	p = size > (off_t)sizeof(struct bench_file)
	        ? mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED,
	               fd, 0)
	        : MAP_FAILED;
	close(fd);
	if (p == MAP_FAILED)
		return NULL;
	return p;
}

#endif
