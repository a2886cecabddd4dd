/*
 * A list of problems found while checking a config. Checking goes on past
 * the first problem so that one run of `tendd -t` reports all of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tendd.h"

void errors_add(struct errors *e, const char *file, int line,
                const char *fmt, ...)
{
	char msg[1024];
	char *text = NULL;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	int n = line > 0 ? asprintf(&text, "%s:%d: %s", file, line, msg)
	                 : asprintf(&text, "%s: %s", file, msg);
	char **grown = realloc(e->msgs, (e->count + 1) * sizeof(*grown));
	if (n < 0 || grown == NULL)
		fatalx("out of memory");
	e->msgs = grown;
	e->msgs[e->count++] = text;
}

/* As log lines, or plain "file:line: ..." lines for tendd -t. */
void errors_print(const struct errors *e, bool plain)
{
	for (size_t i = 0; i < e->count; i++)
		if (plain)
			fprintf(stderr, "%s\n", e->msgs[i]);
		else
			log_write(TEND_LOG_ERROR, "config", "%s", e->msgs[i]);
}

void errors_clear(struct errors *e)
{
	for (size_t i = 0; i < e->count; i++)
		free(e->msgs[i]);
	free(e->msgs);
	e->msgs = NULL;
	e->count = 0;
}
