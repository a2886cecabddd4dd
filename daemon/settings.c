/*
 * A service's `settings` group as a small tree of its own, so that plugins
 * (and, later, child processes) never see libconfig, and so that two
 * configs can be compared on reload.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tendd.h"

/* "3" as 3; anything but a few digits as SIZE_MAX, which no list reaches */
static size_t list_index(const char *s, size_t len)
{
	size_t i = 0;

	if (len == 0 || len > 9)
		return SIZE_MAX;
	for (size_t k = 0; k < len; k++) {
		if (s[k] < '0' || s[k] > '9')
			return SIZE_MAX;
		i = i * 10 + (size_t)(s[k] - '0');
	}
	return i;
}

/*
 * The setting at `path`, or NULL: "a.b" is b in group a, and "a.0" the
 * first element of list a.
 */
const struct setting *setting_lookup(const struct setting *root,
                                     const char *path)
{
	const struct setting *at = root;

	while (at && *path) {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);
		const struct setting *found = NULL;

		if (at->type == SETTING_LIST) {
			size_t i = list_index(path, len);
			found = i < at->nkids ? &at->kids[i] : NULL;
		} else if (at->type != SETTING_GROUP) {
			return NULL;
		}
		for (size_t i = 0; at->type == SETTING_GROUP && i < at->nkids;
		     i++) {
			const char *name = at->kids[i].name;
			if (strncmp(name, path, len) == 0 && name[len] == '\0') {
				found = &at->kids[i];
				break;
			}
		}
		at = found;
		path = dot ? dot + 1 : path + len;
	}
	return at;
}

/*
 * The typed reads behind tend_setting_*(), for the host and the runner
 * alike: 0 with *out set when `key` holds that type (an integer will do
 * for a double), 1 when absent (*out untouched), -1 when it holds another
 * type, with *found set so the caller can say so (setting_mismatch).
 */
static int typed(const struct setting *root, const char *key,
                 enum setting_type want, const struct setting **found)
{
	const struct setting *s = setting_lookup(root, key);

	*found = s;
	if (s == NULL)
		return 1;
	if (s->type != want && !(want == SETTING_FLOAT && s->type == SETTING_INT))
		return -1;
	return 0;
}

int setting_get_int(const struct setting *root, const char *key,
                    long long *out, const struct setting **found)
{
	int rc = typed(root, key, SETTING_INT, found);
	if (rc == 0)
		*out = (*found)->v.i;
	return rc;
}

int setting_get_double(const struct setting *root, const char *key,
                       double *out, const struct setting **found)
{
	int rc = typed(root, key, SETTING_FLOAT, found);
	if (rc == 0)
		*out = (*found)->type == SETTING_INT ? (double)(*found)->v.i
		                                     : (*found)->v.d;
	return rc;
}

int setting_get_string(const struct setting *root, const char *key,
                       const char **out, const struct setting **found)
{
	int rc = typed(root, key, SETTING_STRING, found);
	if (rc == 0)
		*out = (*found)->v.s;
	return rc;
}

int setting_get_bool(const struct setting *root, const char *key, int *out,
                     const struct setting **found)
{
	int rc = typed(root, key, SETTING_BOOL, found);
	if (rc == 0)
		*out = (*found)->v.b;
	return rc;
}

/* "file:line: settings.key: must be X, not Y" (no line when unknown). */
void setting_mismatch(char *buf, size_t len, const char *file, const char *key,
                      enum setting_type want, const struct setting *found)
{
	char at[32] = "";

	if (found->line > 0)
		snprintf(at, sizeof(at), ":%d", found->line);
	snprintf(buf, len, "%.512s%s: settings.%.256s: must be %s, not %s",
	         file, at, key, setting_type_name(want),
	         setting_type_name(found->type));
}

bool setting_equal(const struct setting *a, const struct setting *b)
{
	if (a->type != b->type)
		return false;
	if ((a->name == NULL) != (b->name == NULL) ||
	    (a->name && strcmp(a->name, b->name) != 0))
		return false;
	switch (a->type) {
	case SETTING_INT:
		return a->v.i == b->v.i;
	case SETTING_FLOAT:
		return a->v.d == b->v.d;
	case SETTING_STRING:
		return strcmp(a->v.s, b->v.s) == 0;
	case SETTING_BOOL:
		return a->v.b == b->v.b;
	case SETTING_GROUP:
	case SETTING_LIST:
		if (a->nkids != b->nkids)
			return false;
		for (size_t i = 0; i < a->nkids; i++)
			if (!setting_equal(&a->kids[i], &b->kids[i]))
				return false;
		return true;
	}
	return false;
}

const char *setting_type_name(enum setting_type t)
{
	static const char *const names[] = {
	    [SETTING_INT] = "an integer", [SETTING_FLOAT] = "a number",
	    [SETTING_STRING] = "a string", [SETTING_BOOL] = "a boolean",
	    [SETTING_GROUP] = "a group",  [SETTING_LIST] = "a list",
	};
	return names[t];
}

void setting_clear(struct setting *s)
{
	for (size_t i = 0; i < s->nkids; i++)
		setting_clear(&s->kids[i]);
	free(s->kids);
	free(s->name);
	if (s->type == SETTING_STRING)
		free(s->v.s);
	memset(s, 0, sizeof(*s));
}
