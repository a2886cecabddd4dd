/*
 * Logging. Every line carries the time, the level and who speaks (the
 * daemon or a service), and is written with one write(2) so lines from
 * service threads never interleave. Under journald (JOURNAL_STREAM set)
 * the time is left to the journal and a <N> priority prefix is used.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "tendd.h"

#define LOG_LINE_SHORT 256 /* when a whole line cannot be allocated */

_Atomic int log_threshold = TEND_LOG_INFO;
static int log_journal;
static log_hook_fn *log_hook;

static const char *const level_names[] = {
	[TEND_LOG_ERROR] = "error",   [TEND_LOG_WARNING] = "warning",
	[TEND_LOG_NOTICE] = "notice", [TEND_LOG_INFO] = "info",
	[TEND_LOG_DEBUG] = "debug",
};

void log_init(int level)
{
	log_threshold = level;
	log_journal = getenv("JOURNAL_STREAM") != NULL;
}

void log_set_hook(log_hook_fn *fn) { log_hook = fn; }

int log_level_parse(const char *name)
{
	for (int i = TEND_LOG_ERROR; i <= TEND_LOG_DEBUG; i++)
		if (strcasecmp(name, level_names[i]) == 0)
			return i;
	return -1;
}

const char *log_level_name(int level)
{
	if (level < TEND_LOG_ERROR || level > TEND_LOG_DEBUG)
		return "?";
	return level_names[level];
}

/*
 * Format and write one line into line[size]: at most size - 1 bytes with
 * the newline, longer messages truncated.
 */
__attribute__((format(printf, 5, 0))) static void
log_format(int level, const char *who, char *line, size_t size,
           const char *fmt, va_list ap)
{
	size_t n = 0;

	if (log_journal) {
		n = (size_t)snprintf(line, size, "<%d>%s: ", level, who);
	} else {
		struct timeval tv;
		struct tm tm;
		gettimeofday(&tv, NULL);
		localtime_r(&tv.tv_sec, &tm);
		n = strftime(line, size, "%Y-%m-%d %H:%M:%S", &tm);
		n += (size_t)snprintf(line + n, size - n, ".%03ld %-7s %s: ",
		                      (long)tv.tv_usec / 1000,
		                      level_names[level], who);
	}
	if (n >= size - 2)
		n = size - 2;
	size_t head = n;
	int m = vsnprintf(line + n, size - n, fmt, ap);
	if (m < 0)
		m = 0;
	n += (size_t)m;
	if (n > size - 2)
		n = size - 2; /* truncated: keep the newline */
	line[n++] = '\n';
	line[n] = '\0';
	if (log_hook)
		log_hook(level, who, line + head, n - head - 1);
	(void)!write(STDERR_FILENO, line, n);
}

/* Without memory for a whole line: a short one, from the stack. */
__attribute__((noinline, format(printf, 3, 0))) static void
log_short(int level, const char *who, const char *fmt, va_list ap)
{
	char line[LOG_LINE_SHORT];

	log_format(level, who, line, sizeof(line), fmt, ap);
}

/*
 * The line is formatted on the heap: on the stack, its 2 KiB and printf's
 * own 2 KiB would take a service thread's stack into a third page (the
 * first holds its descriptor and TLS), 4 KiB more for every thread.
 */
void log_vwrite(int level, const char *who, const char *fmt, va_list ap)
{
	char *line = malloc(LOG_LINE_MAX);

	if (level < TEND_LOG_ERROR)
		level = TEND_LOG_ERROR;
	if (level > TEND_LOG_DEBUG)
		level = TEND_LOG_DEBUG;
	if (line == NULL) {
		log_short(level, who, fmt, ap);
		return;
	}
	log_format(level, who, line, LOG_LINE_MAX, fmt, ap);
	free(line);
}

void log_write(int level, const char *who, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vwrite(level, who, fmt, ap);
	va_end(ap);
}

void log_warn(const char *fmt, ...)
{
	char buf[LOG_LINE_MAX];
	int saved = errno;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_write(TEND_LOG_WARNING, "tendd", "%s: %s", buf, strerror(saved));
}

void fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vwrite(TEND_LOG_ERROR, "tendd", fmt, ap);
	va_end(ap);
	exit(EXIT_SOFTWARE);
}
