/*
 * Finding a cgroup v2 directory where tendd may create a cgroup per
 * process service: its own cgroup, when it is writable (delegated to it,
 * as with systemd's Delegate=yes, or when running as root). A cgroup lets
 * tendd find and kill everything a service started, even a process that
 * left its session with setsid(); without one, tendd falls back on being
 * a child subreaper.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tendd.h"

/* The cgroup2 mount point, from /proc/self/mountinfo. */
static int cgroup2_mount(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int found = -1;

	if (f == NULL)
		return -1;
	while (found < 0 && fgets(line, sizeof(line), f)) {
		char mnt[PATH_MAX], *dash = strstr(line, " - ");
		if (dash == NULL || strncmp(dash, " - cgroup2 ", 11) != 0)
			continue;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mnt) == 1) {
			snprintf(out, len, "%s", mnt);
			found = 0;
		}
	}
	fclose(f);
	return found;
}

/* Our own cgroup v2 path, the "0::/path" line of /proc/self/cgroup. */
static int own_cgroup(char *out, size_t len)
{
	FILE *f = fopen("/proc/self/cgroup", "re");
	char line[4096];
	int found = -1;

	if (f == NULL)
		return -1;
	while (found < 0 && fgets(line, sizeof(line), f))
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = '\0';
			snprintf(out, len, "%s", line + 3);
			found = 0;
		}
	fclose(f);
	return found;
}

/* Kill what is left in `dir`'s service cgroups and remove them all. */
/*
 * Wait, at most `secs`, for the cgroup at `path` to hold no process: a
 * killed process stays in it until it is gone, and so does a runner still
 * exiting after its last word.
 */
static void wait_empty(const char *path, double secs)
{
	char file[PATH_MAX * 3 + 16], buf[128];
	double end = mono_now() + secs, left;
	ssize_t n;
	int fd;

	snprintf(file, sizeof(file), "%s/cgroup.events", path);
	if ((fd = open(file, O_RDONLY | O_CLOEXEC)) < 0)
		return;
	while ((n = pread(fd, buf, sizeof(buf) - 1, 0)) > 0 &&
	       (left = end - mono_now()) > 0) {
		struct pollfd p = {.fd = fd, .events = POLLPRI};
		buf[n] = '\0';
		if (strstr(buf, "populated 0"))
			break;
		(void)poll(&p, 1, (int)(left * 1000) + 1); /* on a change */
	}
	close(fd);
}

void cgroup_remove(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[PATH_MAX * 3];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		int fd;
		if (e->d_type != DT_DIR || e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/cgroup.kill", dir, e->d_name);
		if ((fd = open(path, O_WRONLY | O_CLOEXEC)) >= 0) {
			(void)!write(fd, "1", 1);
			close(fd);
		}
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (rmdir(path) < 0 && errno == EBUSY) {
			wait_empty(path, 1.0);
			rmdir(path);
		}
	}
	closedir(d);
	rmdir(dir);
}

/*
 * A tendd that died left its cgroups: their processes were killed by
 * PDEATHSIG, but make sure, and clean up, so a new tendd starts clean.
 */
static void remove_stale(const char *parent)
{
	DIR *d = opendir(parent);
	struct dirent *e;
	char path[PATH_MAX * 3];

	if (d == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		long pid;
		char proc[64];
		if (strncmp(e->d_name, "tend.", 5) != 0 ||
		    (pid = atol(e->d_name + 5)) <= 0 || pid == getpid())
			continue;
		snprintf(proc, sizeof(proc), "/proc/%ld", pid);
		if (access(proc, F_OK) == 0)
			continue; /* a live tendd's */
		snprintf(path, sizeof(path), "%s/%s", parent, e->d_name);
		log_notice("removing cgroup '%s' of a tendd that died", path);
		cgroup_remove(path);
	}
	closedir(d);
}

/*
 * A directory under which a cgroup per service can be made, or NULL.
 * The caller frees it.
 */
char *cgroup_find_base(void)
{
	char mnt[PATH_MAX], own[PATH_MAX], probe[PATH_MAX * 2 + 64];
	char *base;

	if (cgroup2_mount(mnt, sizeof(mnt)) < 0 || own_cgroup(own, sizeof(own)) < 0)
		return NULL;
	snprintf(probe, sizeof(probe), "%s%s", mnt,
	         strcmp(own, "/") == 0 ? "" : own);
	remove_stale(probe);
	snprintf(probe + strlen(probe), sizeof(probe) - strlen(probe),
	         "/tend.%d", (int)getpid());
	if (mkdir(probe, 0755) < 0 && errno != EEXIST)
		return NULL;
	base = strdup(probe);
	return base;
}
