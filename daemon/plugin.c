/*
 * Plugin loading. A plugin file is copied into an anonymous memory file
 * and dlopen()ed from there, so that overwriting the .so on disk (cp over
 * it) cannot change code that is running. Loaded plugins are shared by
 * every service that uses the same file (same path and inode, same
 * content) and unloaded only when the last reference goes, that is when no
 * code of theirs can run any more.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tendd.h"

#define MIN_DESC_SIZE (offsetof(struct tend_plugin, fini) + sizeof(void *))

static struct plugin *loaded;
static unsigned generation; /* a loaded copy is checked once per pass */

/* Does the file hold the same bytes as our copy? */
static bool same_content(const struct plugin *p, int fd, size_t size)
{
	/* read, not mmap: a file truncated meanwhile (cp over it) would be
	 * a SIGBUS in tendd; here it is only a short read, not the same */
	char a[65536], b[sizeof(a)];

	for (off_t off = 0; (size_t)off < size;) {
		size_t want = size - (size_t)off < sizeof(a) ? size - (size_t)off
		                                             : sizeof(a);
		ssize_t n = pread(fd, a, want, off);
		if (n <= 0 || pread(p->memfd, b, (size_t)n, off) != n ||
		    memcmp(a, b, (size_t)n) != 0)
			return false;
		off += n;
	}
	return true;
}

/*
 * Is `p` a copy of the file at `path`? The same path and inode, and the
 * same bytes: `cp` over a plugin keeps its inode but not its content.
 * Once a copy differs it is never matched again.
 */
static bool same_file(struct plugin *p, const char *path,
                      const struct stat *st, int fd)
{
	if (p->stale || strcmp(p->path, path) != 0 || p->dev != st->st_dev ||
	    p->ino != st->st_ino)
		return false;
	if (p->checked == generation)
		return true;
	if (p->file_size != st->st_size ||
	    !same_content(p, fd, (size_t)st->st_size)) {
		p->stale = true;
		return false;
	}
	p->checked = generation;
	return true;
}

/* Look at the files again: a reload must see plugins replaced on disk. */
void plugins_recheck(void) { generation++; }

/* Copy `fd` into a sealed memory file; -1 with errno on failure. */
static int private_copy(int fd, off_t size)
{
	int mfd = memfd_create("tend-plugin", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	off_t off = 0;

	if (mfd < 0)
		return -1;
	while (off < size) {
		ssize_t n = sendfile(mfd, fd, &off, (size_t)(size - off));
		if (n <= 0) {
			int saved = n < 0 ? errno : EIO;
			close(mfd);
			errno = saved;
			return -1;
		}
	}
	(void)fcntl(mfd, F_ADD_SEALS,
	            F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL);
	return mfd;
}

/* dlerror() names the memory file; say the real path instead. */
static void dl_reason(char *err, size_t errlen, const char *path)
{
	const char *why = dlerror();
	const char *colon;

	if (why == NULL)
		why = "unknown error";
	if (strncmp(why, "/proc/self/fd/", 14) == 0 &&
	    (colon = strchr(why, ':')) != NULL)
		why = colon + 2;
	snprintf(err, errlen, "cannot load '%s': %s%s", path, why,
	         strstr(why, "static TLS") ? " (tendd's reserve for it is "
	         "small: see GLIBC_TUNABLES in tendd(8))" : "");
}

static int check_descriptor(const struct tend_plugin *d, const char *path,
                            char *err, size_t errlen)
{
	if (d->abi != TEND_ABI_VERSION) {
		snprintf(err, errlen,
		         "'%s' was built for plugin ABI %u, this tendd "
		         "speaks ABI %d: rebuild it against this tend's "
		         "plugin.h",
		         path, d->abi, TEND_ABI_VERSION);
		return -1;
	}
	if (d->size < MIN_DESC_SIZE) {
		snprintf(err, errlen,
		         "'%s': plugin descriptor is %u bytes, ABI %d needs "
		         "at least %zu",
		         path, d->size, TEND_ABI_VERSION, MIN_DESC_SIZE);
		return -1;
	}
	if (d->name == NULL || d->executors == 0 ||
	    (d->executors & ~(TEND_EXEC_START | TEND_EXEC_RUN))) {
		snprintf(err, errlen,
		         "'%s': plugin descriptor has no name or no valid "
		         "executors",
		         path);
		return -1;
	}
	if ((d->executors & TEND_EXEC_START) && d->start == NULL) {
		snprintf(err, errlen,
		         "'%s': supports start() executors but has no start",
		         path);
		return -1;
	}
	if ((d->executors & TEND_EXEC_RUN) && d->run == NULL) {
		snprintf(err, errlen,
		         "'%s': supports run() executors but has no run", path);
		return -1;
	}
	return 0;
}

/*
 * Unload, and free the memory file's name unless the library stays
 * mapped (a library marked NODELETE): then its fd number must never be
 * reused for another plugin.
 */
static void unload(void *handle, int mfd)
{
	char proc[64];

	dlclose(handle);
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", mfd);
	handle = dlopen(proc, RTLD_NOW | RTLD_NOLOAD);
	if (handle) {
		dlclose(handle);
		return;
	}
	close(mfd);
}

static struct plugin *load(const char *path, const struct stat *st, int fd,
                           char *err, size_t errlen)
{
	struct plugin *p;
	char proc[64];
	int mfd = private_copy(fd, st->st_size);
	void *h;
	const struct tend_plugin *desc;

	if (mfd < 0) {
		snprintf(err, errlen, "cannot copy '%s': %s", path,
		         strerror(errno));
		return NULL;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", mfd);
	/*
	 * The memory file stays open while the plugin is loaded: the dynamic
	 * linker knows a library by its name, and a reused fd number would
	 * give a second plugin the first one's name.
	 */
	h = dlopen(proc, RTLD_NOW | RTLD_LOCAL);
	if (h == NULL) {
		dl_reason(err, errlen, path);
		close(mfd);
		return NULL;
	}
	desc = dlsym(h, "tend_plugin");
	if (desc == NULL) {
		snprintf(err, errlen,
		         "'%s' is not a tend plugin: no 'tend_plugin' symbol "
		         "(declare it with TEND_PLUGIN)",
		         path);
		unload(h, mfd);
		return NULL;
	}
	if (check_descriptor(desc, path, err, errlen) < 0) {
		unload(h, mfd);
		return NULL;
	}
	p = calloc(1, sizeof(*p));
	if (p == NULL || (p->path = strdup(path)) == NULL)
		fatalx("out of memory");
	p->dev = st->st_dev;
	p->ino = st->st_ino;
	p->file_size = st->st_size;
	p->checked = generation;
	p->handle = h;
	p->memfd = mfd;
	p->desc = desc;
	memcpy(&p->api, desc,
	       desc->size < sizeof(p->api) ? desc->size : sizeof(p->api));
	return p;
}

/*
 * Get the plugin in file `path`, loading it unless the same file is loaded
 * already. Returns a reference to release with plugin_put(), or NULL with
 * the reason in `err`.
 */
struct plugin *plugin_get(const char *path, char *err, size_t errlen)
{
	struct stat st;
	struct plugin *p;
	int fd;

	/* found the same already in this pass: no need to look again */
	for (p = loaded; p; p = p->next)
		if (!p->stale && p->checked == generation &&
		    strcmp(p->path, path) == 0) {
			p->refs++;
			return p;
		}
	fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot open '%s': %s", path,
		         strerror(errno));
		if (fd >= 0)
			close(fd);
		return NULL;
	}
	for (p = loaded; p; p = p->next)
		if (same_file(p, path, &st, fd))
			break;
	if (p == NULL && (p = load(path, &st, fd, err, errlen)) != NULL) {
		p->next = loaded;
		loaded = p;
		log_debug("loaded plugin '%s' %s from '%s'", p->api.name,
		          p->api.version ? p->api.version : "", path);
	}
	close(fd);
	if (p)
		p->refs++;
	return p;
}

void plugin_put(struct plugin *p)
{
	struct plugin **at;

	if (p == NULL || --p->refs > 0)
		return;
	for (at = &loaded; *at != p; at = &(*at)->next)
		;
	*at = p->next;
	unload(p->handle, p->memfd);
	free(p->path);
	free(p);
}

const char *plugin_executors_str(uint32_t bits, char *buf, size_t len)
{
	buf[0] = '\0';
	for (int k = 0; k < EXEC_KINDS; k++)
		if (bits & executor_bit((enum executor_kind)k))
			snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
			         buf[0] ? ", " : "",
			         executor_name((enum executor_kind)k));
	return buf;
}

/*
 * The plugin of service `sc`, checked to support its executor. NULL when
 * it cannot be had, with the reason in `err` as "key: why" and the line
 * it is about in *line.
 */
struct plugin *plugin_for_service(const struct service_config *sc, char *err,
                                  size_t errlen, int *line)
{
	char why[512], list[128];
	struct plugin *p = plugin_get(sc->plugin_path, why, sizeof(why));

	if (p == NULL) {
		snprintf(err, errlen, "plugin: %s", why);
		*line = sc->plugin_line;
		return NULL;
	}
	if (!(p->api.executors & executor_bit(sc->executor))) {
		snprintf(err, errlen,
		         "executor: '%s' is not supported by plugin '%s' (it "
		         "supports: %s)",
		         executor_name(sc->executor), p->api.name,
		         plugin_executors_str(p->api.executors, list,
		                              sizeof(list)));
		*line = sc->executor_line;
		plugin_put(p);
		return NULL;
	}
	return p;
}

/*
 * Load every service's plugin into out[i] (NULL where it failed). Each
 * problem, with the service's file and line, goes to `errs`, or with
 * `why` (a reload, where a plugin failing fails only its service) to
 * why[i] (malloc'ed). Returns the number of problems. The caller
 * releases out[] with plugin_put().
 */
int plugins_load(const struct tend_config *cfg, struct plugin **out,
                 struct errors *errs, char **why)
{
	size_t before = errs->count, failed = 0;

	plugins_recheck();
	for (size_t i = 0; i < cfg->nservices; i++) {
		const struct service_config *sc = &cfg->services[i];
		char err[768];
		int line;

		out[i] = NULL;
		if (sc->plugin_path == NULL)
			continue;
		out[i] = plugin_for_service(sc, err, sizeof(err), &line);
		if (out[i] == NULL && why == NULL)
			errors_add(errs, sc->file, line, "%s", err);
		else if (out[i] == NULL &&
		         asprintf(&why[i], "%s:%d: %s", sc->file, line, err) < 0)
			fatalx("out of memory");
		failed += out[i] == NULL;
	}
	return (int)(why ? failed : errs->count - before);
}
