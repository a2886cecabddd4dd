/*
 * A tiny TAP producer for the unit tests: ok(), is_int(), is_double(),
 * is_str(), like() print one "ok N - what" line each, and done_testing()
 * prints the plan last and gives main() its exit status. Failures add a
 * "# " diagnostic with file:line (on stderr, so prove shows it).
 */
#ifndef TAP_H
#define TAP_H

#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

struct tap_state {
	int run;
	int failed;
};

/* One counter per test program, without a global in the namespace. */
static inline struct tap_state *tap_state(void)
{
	static struct tap_state st;
	return &st;
}

__attribute__((format(printf, 4, 0))) static inline bool
tap_vok(const char *file, int line, bool pass, const char *fmt, va_list ap)
{
	struct tap_state *st = tap_state();

	st->run++;
	if (!pass)
		st->failed++;
	printf("%sok %d - ", pass ? "" : "not ", st->run);
	vprintf(fmt, ap);
	putchar('\n');
	fflush(stdout);
	if (!pass)
		fprintf(stderr, "#   Failed test %d at %s:%d\n", st->run, file,
		        line);
	return pass;
}

__attribute__((format(printf, 4, 5))) static inline bool
tap_ok(const char *file, int line, bool pass, const char *fmt, ...)
{
	va_list ap;
	bool r;

	va_start(ap, fmt);
	r = tap_vok(file, line, pass, fmt, ap);
	va_end(ap);
	return r;
}

__attribute__((format(printf, 5, 6))) static inline bool
tap_is_int(const char *file, int line, long long got, long long want,
           const char *fmt, ...)
{
	va_list ap;
	bool r;

	va_start(ap, fmt);
	r = tap_vok(file, line, got == want, fmt, ap);
	va_end(ap);
	if (!r)
		fprintf(stderr, "#          got: %lld\n#     expected: %lld\n",
		        got, want);
	return r;
}

__attribute__((format(printf, 6, 7))) static inline bool
tap_is_double(const char *file, int line, double got, double want,
              double eps, const char *fmt, ...)
{
	va_list ap;
	bool r;

	va_start(ap, fmt);
	/* written so that a NaN never passes */
	r = tap_vok(file, line, fabs(got - want) <= eps, fmt, ap);
	va_end(ap);
	if (!r)
		fprintf(stderr,
		        "#          got: %.17g\n#     expected: %.17g (+/- %g)\n",
		        got, want, eps);
	return r;
}

__attribute__((format(printf, 5, 6))) static inline bool
tap_is_str(const char *file, int line, const char *got, const char *want,
           const char *fmt, ...)
{
	va_list ap;
	bool r;

	va_start(ap, fmt);
	r = tap_vok(file, line,
	            got == want || (got && want && strcmp(got, want) == 0),
	            fmt, ap);
	va_end(ap);
	if (!r)
		fprintf(stderr, "#          got: %s%s%s\n#     expected: %s%s%s\n",
		        got ? "'" : "", got ? got : "NULL", got ? "'" : "",
		        want ? "'" : "", want ? want : "NULL", want ? "'" : "");
	return r;
}

/* `got` contains `part`. */
__attribute__((format(printf, 5, 6))) static inline bool
tap_like(const char *file, int line, const char *got, const char *part,
         const char *fmt, ...)
{
	va_list ap;
	bool r;

	va_start(ap, fmt);
	r = tap_vok(file, line, got && strstr(got, part), fmt, ap);
	va_end(ap);
	if (!r)
		fprintf(stderr, "#          got: %s\n#   to contain: %s\n",
		        got ? got : "NULL", part);
	return r;
}

/* A diagnostic line, for context around a failure. */
__attribute__((format(printf, 1, 2))) static inline void diag(const char *fmt,
                                                              ...)
{
	va_list ap;

	va_start(ap, fmt);
	fflush(stdout);
	fputs("# ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
}

/* The plan, printed last; the exit status of the test program. */
static inline int done_testing(void)
{
	struct tap_state *st = tap_state();

	printf("1..%d\n", st->run);
	if (st->failed)
		fprintf(stderr, "# Looks like you failed %d test%s of %d.\n",
		        st->failed, st->failed == 1 ? "" : "s", st->run);
	fflush(stdout);
	return st->failed ? 1 : 0;
}

#define ok(cond, ...) tap_ok(__FILE__, __LINE__, !!(cond), __VA_ARGS__)
#define is_int(got, want, ...) \
	tap_is_int(__FILE__, __LINE__, (long long)(got), (long long)(want), \
	           __VA_ARGS__)
#define is_double(got, want, eps, ...) \
	tap_is_double(__FILE__, __LINE__, (got), (want), (eps), __VA_ARGS__)
#define is_str(got, want, ...) \
	tap_is_str(__FILE__, __LINE__, (got), (want), __VA_ARGS__)
#define like(got, part, ...) \
	tap_like(__FILE__, __LINE__, (got), (part), __VA_ARGS__)

#endif
