/*
 * Text that reaches JSON (reasons, log lines, error messages) comes from
 * plugins and clients and may be cut mid-character or not be UTF-8 at
 * all; jansson refuses such strings. Make it valid, in place.
 */
#include <stddef.h>

#include "tendd.h"

/* Length of the valid UTF-8 sequence at s, or 0. */
static size_t sequence(const unsigned char *s)
{
	size_t n;
	unsigned min;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if ((s[0] & 0xe0) == 0xc0)
		n = 2, min = 0x80, cp = s[0] & 0x1f;
	else if ((s[0] & 0xf0) == 0xe0)
		n = 3, min = 0x800, cp = s[0] & 0x0f;
	else if ((s[0] & 0xf8) == 0xf0)
		n = 4, min = 0x10000, cp = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

/* Replace every byte that is not part of valid UTF-8 with '?'. */
char *utf8_sanitize(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		size_t n = sequence(p);
		if (n == 0)
			*p++ = '?';
		else
			p += n;
	}
	return s;
}
