/*
 * The launcher: a small single-threaded tend-runner that tendd starts
 * once and that forks every runner after it. A fork of this process,
 * with its libraries already mapped and relocated, is several times
 * cheaper than tendd spawning and the dynamic linker starting a fresh
 * runner; and its fd table stays small however many services tendd runs.
 *
 * Each child is made with clone3(CLONE_PARENT), so it is tendd's child,
 * not ours: tendd reaps it and gets its status as for any child, and the
 * child's parent-death signal follows tendd. The launcher keeps no state
 * about its children; if it dies, tendd spawns runners itself until it
 * has started a new one.
 *
 * A raw clone3 skips what glibc's fork() does in the child; in a
 * single-threaded process with no atfork handlers what matters of it is
 * the thread's cached TID, which the kernel writes where glibc keeps it
 * (CLONE_CHILD_SETTID at the address glibc gave set_tid_address()).
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "proto.h"
#include "tendd.h"

extern char **environ;

/*
 * Anonymous memory, not a static array: /proc reads a process's
 * arguments and environment only from anonymous mappings, and a child's
 * are in here (see set_proc_view).
 */
#define ARGS_MAX (NAME_MAX_LEN + 64)
static char *req_buf;  /* LAUNCH_REQ_MAX + 1 bytes */
static char *args_buf; /* ARGS_MAX bytes */
static char *child_env[LAUNCH_REQ_MAX / 2];

/*
 * The child starts in the service's cgroup (CLONE_INTO_CGROUP): moving a
 * process there afterwards waits for an RCU grace period, milliseconds
 * on a busy machine, on every start that follows a quiet while. Where the
 * kernel refuses, the child moves itself before running anything else.
 */
static pid_t clone_parent(int *tid_addr, int cgroup, bool *in_cgroup)
{
	struct clone_args a = {
	    .flags = CLONE_PARENT | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID,
	    .child_tid = (uintptr_t)tid_addr,
	    /* exit_signal 0, as CLONE_PARENT requires: the child gets
	     * ours, so tendd gets SIGCHLD */
	};
	long pid;

	*in_cgroup = false;
	if (cgroup >= 0) {
		a.flags |= CLONE_INTO_CGROUP;
		a.cgroup = (uint64_t)cgroup;
		pid = syscall(SYS_clone3, &a, sizeof(a));
		if (pid >= 0) {
			*in_cgroup = true;
			return (pid_t)pid;
		}
		a.flags &= ~(uint64_t)CLONE_INTO_CGROUP;
	}
	return (pid_t)syscall(SYS_clone3, &a, sizeof(a));
}

static void join_cgroup(int dir)
{
	int fd = openat(dir, "cgroup.procs", O_WRONLY | O_CLOEXEC);

	if (fd < 0 || write(fd, "0", 1) < 0)
		fprintf(stderr, "cannot join the service's cgroup: %s\n",
		        strerror(errno));
	if (fd >= 0)
		close(fd);
}

/*
 * /proc/PID/cmdline and environ show the blocks exec left: for a fork of
 * ours, our own. Point them at the runner's arguments and environment,
 * as ps and tools expect, and as tendd needs when it has no cgroups: it
 * finds a runner's orphans by the mark in their environ. PR_SET_MM_MAP
 * needs no privilege, but wants the whole map: ours, read once from
 * /proc/self/stat, as a fork has the same.
 */
static struct prctl_mm_map mm_map;

static bool read_mm_map(void)
{
	/* the fields of proc(5), from 26 (startcode) to 51 (env_end) */
	unsigned long long v[52] = {0};
	char buf[1024], *p;
	FILE *f = fopen("/proc/self/stat", "re");
	size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	int field = 3;

	if (f)
		fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return false;
	for (p++; *p && field < 52; field++) {
		char *end;
		while (*p == ' ')
			p++;
		v[field] = strtoull(p, &end, 10);
		p = end;
		while (*p && *p != ' ')
			p++;
	}
	if (field < 52)
		return false;
	mm_map = (struct prctl_mm_map){
	    .start_code = v[26], .end_code = v[27], .start_stack = v[28],
	    .start_data = v[45], .end_data = v[46], .start_brk = v[47],
	    .arg_start = v[48], .arg_end = v[49],
	    .env_start = v[50], .env_end = v[51], .exe_fd = (uint32_t)-1};
	return true;
}

static bool set_proc_view(const char *args, size_t args_len,
                          const char *env, size_t env_len)
{
	struct prctl_mm_map m = mm_map;

	m.brk = (uint64_t)syscall(SYS_brk, 0);
	m.arg_start = (uintptr_t)args;
	m.arg_end = (uintptr_t)(args + args_len);
	m.env_start = (uintptr_t)env;
	m.env_end = (uintptr_t)(env + env_len);
	return prctl(PR_SET_MM, PR_SET_MM_MAP, &m, sizeof(m), 0) == 0;
}

/*
 * Load each plugin once here, so that a runner's dlopen() of its copy
 * finds it loaded already (glibc knows a file by device and inode): no
 * mapping, relocation or constructor per start. A plugin whose loading
 * starts a thread would make every later fork unsafe: then we fork no
 * more, and tendd spawns runners itself.
 */
#define PRELOAD_MAX 64
static struct {
	dev_t dev;
	ino_t ino;
	int fd; /* kept open: glibc knows a loaded file by name first */
} preloaded[PRELOAD_MAX];
static size_t npreloaded;
static bool threaded;

static size_t count_threads(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	size_t n = 0;

	while (d && (e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	if (d)
		closedir(d);
	return n;
}

static void preload(int fd)
{
	struct stat st;
	char path[64];

	if (npreloaded == PRELOAD_MAX || fstat(fd, &st) < 0)
		return;
	for (size_t i = 0; i < npreloaded; i++)
		if (preloaded[i].dev == st.st_dev && preloaded[i].ino == st.st_ino)
			return;
	if ((fd = fcntl(fd, F_DUPFD_CLOEXEC, 100)) < 0)
		return;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	if (dlopen(path, RTLD_NOW | RTLD_LOCAL) == NULL) {
		close(fd);
		return; /* the runner says why */
	}
	preloaded[npreloaded].dev = st.st_dev;
	preloaded[npreloaded].ino = st.st_ino;
	preloaded[npreloaded++].fd = fd;
	if (count_threads() > 1) {
		threaded = true;
		fprintf(stderr, "tend-runner: a plugin started a thread when "
		        "loaded: the launcher forks no more runners\n");
	}
}

/* In the child: become what posix_spawn made of a runner. */
static void become_runner(int sock, const int *fds, int nfds,
                          bool in_cgroup, const char *name, char **env)
{
	char *args = args_buf;
	size_t args_len, env_len = 0;
	sigset_t none;
	int null;

	close(sock);
	null = open("/dev/null", O_RDONLY);
	if (null < 0 || dup2(null, 0) < 0 || dup2(fds[0], 1) < 0 ||
	    dup2(fds[1], 2) < 0 || dup2(fds[2], PROTO_FD_CHANNEL) < 0 ||
	    dup2(fds[3], PROTO_FD_PLUGIN) < 0)
		_exit(127);
	if (null > PROTO_FD_PLUGIN)
		close(null);
	if (nfds == LAUNCH_FDS_MAX && !in_cgroup)
		join_cgroup(fds[4]);
	for (int i = 0; i < nfds; i++)
		if (fds[i] > PROTO_FD_PLUGIN)
			close(fds[i]);
	for (size_t i = 0; i < npreloaded; i++)
		close(preloaded[i].fd);
	/* tendd started us with default dispositions; we changed none */
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setsid();
	environ = env;
	/* as tendd spawns one: tend-runner NAME TENDD-PID */
	args_len = (size_t)snprintf(args, ARGS_MAX, "tend-runner%c%s%c%d",
	                            0, name, 0, (int)getppid()) + 1;
	for (char **e = env; *e; e++)
		env_len = (size_t)(*e + strlen(*e) + 1 - env[0]);
	set_proc_view(args, args_len, env[0] ? env[0] : args + args_len,
	              env_len);
}

/* Split a request into its name and environment; NULL when malformed. */
static const char *parse(size_t len, struct launch_req *req)
{
	char *p = req_buf + sizeof(*req), *end = req_buf + len;
	const char *name;

	if (len < sizeof(*req) + 2)
		return NULL;
	memcpy(req, req_buf, sizeof(*req));
	req_buf[len] = '\0';
	name = p;
	p += strlen(p) + 1;
	if (req->nenv >= sizeof(child_env) / sizeof(child_env[0]))
		return NULL;
	for (uint32_t i = 0; i < req->nenv; i++) {
		if (p >= end)
			return NULL;
		child_env[i] = p;
		p += strlen(p) + 1;
	}
	child_env[req->nenv] = NULL;
	return name;
}

static int receive(int sock, int *fds, int *nfds, ssize_t *len)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * LAUNCH_FDS_MAX)];
	} u;
	struct iovec iov = {req_buf, LAUNCH_REQ_MAX};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1,
	                    .msg_control = u.buf,
	                    .msg_controllen = sizeof(u.buf)};
	struct cmsghdr *c;

	*nfds = 0;
	do
		*len = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (*len < 0 && errno == EINTR);
	if (*len <= 0)
		return -1; /* tendd closed its end, or is gone */
	for (c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		*nfds = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		memcpy(fds, CMSG_DATA(c), (size_t)*nfds * sizeof(int));
	}
	if (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC))
		*len = 0; /* malformed: answered with EMSGSIZE */
	return 0;
}

const char *launcher_serve(pid_t tendd)
{
	int sock = PROTO_FD_LAUNCHER;
	int *tid_addr = NULL;
	bool env_shown;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != tendd)
		_exit(1);
	/*
	 * Received fds land on the lowest free numbers: keep 0 to 4 taken,
	 * so that none is a number a child dup2()s another onto.
	 */
	sock = fcntl(sock, F_DUPFD_CLOEXEC, 10);
	if (sock < 0)
		_exit(1);
	for (int fd = PROTO_FD_CHANNEL; fd <= PROTO_FD_PLUGIN; fd++)
		dup2(0, fd);
	req_buf = mmap(NULL, LAUNCH_REQ_MAX + 1 + ARGS_MAX,
	               PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (req_buf == MAP_FAILED)
		_exit(1);
	args_buf = req_buf + LAUNCH_REQ_MAX + 1;
	if (prctl(PR_GET_TID_ADDRESS, &tid_addr) < 0)
		tid_addr = NULL; /* tell tendd: it spawns runners itself */
	env_shown = read_mm_map() &&
	            set_proc_view((char *)(uintptr_t)mm_map.arg_start,
	                          mm_map.arg_end - mm_map.arg_start,
	                          (char *)(uintptr_t)mm_map.env_start,
	                          mm_map.env_end - mm_map.env_start);
	/*
	 * jansson seeds its hashes from /dev/urandom on first use: once
	 * here, not in every runner (what they parse comes from tendd).
	 */
	json_object_seed(0);
	for (;;) {
		struct launch_ans ans = {0};
		struct launch_req req;
		int fds[LAUNCH_FDS_MAX];
		int nfds, want;
		ssize_t len;
		const char *name;

		if (receive(sock, fds, &nfds, &len) < 0)
			_exit(0);
		name = len > 0 ? parse((size_t)len, &req) : NULL;
		want = name && (req.flags & LAUNCH_CGROUP) ? LAUNCH_FDS_MAX : 4;
		if (tid_addr == NULL || (name && !env_shown &&
		                         !(req.flags & LAUNCH_CGROUP))) {
			/* without a cgroup, tendd needs the marks in environ */
			ans.err = ENOSYS;
		} else if (name == NULL || nfds != want) {
			ans.err = EMSGSIZE;
		} else {
			bool in_cgroup = false;
			pid_t pid;

			preload(fds[3]);
			pid = threaded ? -1
			               : clone_parent(tid_addr,
			                              want == LAUNCH_FDS_MAX
			                                  ? fds[4] : -1,
			                              &in_cgroup);
			if (pid == 0) {
				become_runner(sock, fds, nfds, in_cgroup, name,
				              child_env);
				return name;
			}
			ans.pid = pid > 0 ? pid : 0;
			ans.err = threaded ? ENOSYS : pid > 0 ? 0 : errno;
		}
		for (int i = 0; i < nfds; i++)
			close(fds[i]);
		if (send(sock, &ans, sizeof(ans), MSG_NOSIGNAL) < 0)
			_exit(0);
	}
}
