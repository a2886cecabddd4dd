/*
 * A service's `settings` group as a small tree of its own, so that plugins
 * (and, later, child processes) never see libconfig, and so that two
 * configs can be compared on reload.
 */
#include <stdlib.h>
#include <string.h>

#include "tendd.h"

const struct setting *setting_lookup(const struct setting *root,
                                     const char *path)
{
	const struct setting *at = root;

	while (at && *path) {
		const char *dot = strchr(path, '.');
		size_t len = dot ? (size_t)(dot - path) : strlen(path);
		const struct setting *found = NULL;

		if (at->type != SETTING_GROUP)
			return NULL;
		for (size_t i = 0; i < at->nkids; i++) {
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
