/* The process executors' protocol: see proto.c. */
#ifndef TEND_PROTO_H
#define TEND_PROTO_H

#include <jansson.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define PROTO_MSG_MAX 65536
/* The runner's exit status when the plugin could not be started. */
#define PROTO_EXIT_STARTFAIL 111
/* The fds a child finds its channel and its plugin copy on. */
#define PROTO_FD_CHANNEL 3
#define PROTO_FD_PLUGIN 4

/* Binary frames: the first byte says which (a JSON one starts with '{'). */
#define PROTO_MAIL 'M' /* host -> child: [M][n][from: n bytes][data] */
#define PROTO_SEND 'S' /* child -> host: [S][id: 4][n][to: n bytes][data] */

/*
 * The launcher (launcher.c, in tend-runner) forks runners for tendd. A
 * request is one datagram, a struct launch_req then the service's name
 * and nenv environment strings, each NUL-terminated, with the runner's
 * stdout, stderr, channel and plugin (and a cgroup directory when
 * LAUNCH_CGROUP) as SCM_RIGHTS. The answer is a struct launch_ans.
 */
#define PROTO_FD_LAUNCHER 3 /* the launcher's socket to tendd */
#define LAUNCH_REQ_MAX 65536
#define LAUNCH_CGROUP 1u
#define LAUNCH_FDS_MAX 5

struct launch_req {
	uint32_t flags;
	uint32_t nenv;
};

struct launch_ans {
	int32_t pid;  /* the runner, a child of tendd; 0: none */
	int32_t err;  /* errno when none */
};

struct setting;
int proto_send(int fd, json_t *msg); /* takes the reference */
int proto_sendv(int fd, const struct iovec *iov, int n, int flags);
json_t *proto_recv(int fd);
ssize_t proto_recv_raw(int fd, void *buf, size_t size);
json_t *proto_parse(const void *buf, size_t len);
const char *proto_type(json_t *msg);
json_t *settings_to_json(const struct setting *);
int settings_from_json(struct setting *to, const char *name, json_t *j);

#endif
