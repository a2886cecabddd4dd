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

/*
 * Binary frames: the first byte says which (a JSON one starts with '{').
 * Numbers are in the host's byte order, unaligned.
 *
 * [B][id: 4][count: 4][n: 1][to: n bytes], then count times [len: 2][data]
 *     child -> host: tend_send() and tend_send_batch(), messages to `to`
 * [A][id: 4][n: 4][err: 4]
 *     host -> child: the answer to a B frame (n of them accepted, the
 *     first ones; err says why not the next) or to a watch (n is 0)
 * [M][count: 4], then count times [n: 1][from: n bytes][len: 2][data]
 *     host -> child: messages for message(); n is 0 when the sender is
 *     the one of the message before
 * [D][frames: 4][n: 4]
 *     child -> host: the oldest `frames` M frames not acknowledged yet
 *     are handled, and `n` of their messages reached message()
 */
#define PROTO_BATCH 'B'
#define PROTO_ANSWER 'A'
#define PROTO_MAIL 'M'
#define PROTO_DELIVERED 'D'
#define PROTO_BATCH_MAX 4096 /* messages in a B or an M frame, at most */
#define PROTO_ANSWER_LEN 13
#define PROTO_DELIVERED_LEN 9
#define PROTO_MAIL_HEAD 5   /* an M frame's bytes before its messages */
#define PROTO_MAIL_EACH 3   /* and per message, besides its sender and data */
#define PROTO_TO_MAX 80     /* the longest `to` a B frame carries */

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

struct tend_msg;

/* An M frame being read: see proto_mail_open(). */
struct proto_mail_reader {
	unsigned char *p, *end;
	uint32_t left;     /* messages not read yet */
	unsigned char *nul; /* where the last message's NUL went */
	unsigned char saved; /* the byte it replaced */
	char from[256];
};

struct setting;
size_t proto_batch_fit(size_t tolen, const struct tend_msg *msgs, size_t n,
                       size_t *count);
void proto_batch_pack(unsigned char *buf, uint32_t id, const char *to,
                      size_t tolen, const struct tend_msg *msgs,
                      size_t count);
int proto_batch_parse(const unsigned char *f, size_t len, uint32_t *id,
                      char *to, struct tend_msg *msgs, size_t *count);
void proto_answer_pack(unsigned char *buf, uint32_t id, uint32_t n, int err);
int proto_answer_parse(const unsigned char *f, size_t len, uint32_t *id,
                       uint32_t *n, int *err);
void proto_delivered_pack(unsigned char *buf, uint32_t frames, uint32_t n);
int proto_delivered_parse(const unsigned char *f, size_t len,
                          uint32_t *frames, uint32_t *n);
size_t proto_mail_add(unsigned char *buf, size_t at, const char *from,
                      size_t fromlen, const void *data, size_t len);
void proto_mail_finish(unsigned char *buf, uint32_t count);
int proto_mail_open(struct proto_mail_reader *r, unsigned char *f,
                    size_t len);
int proto_mail_next(struct proto_mail_reader *r, unsigned char **data,
                    size_t *len);
int proto_send(int fd, json_t *msg); /* takes the reference */
int proto_sendv(int fd, const struct iovec *iov, int n, int flags);
json_t *proto_recv(int fd);
ssize_t proto_recv_raw(int fd, void *buf, size_t size);
json_t *proto_parse(const void *buf, size_t len);
const char *proto_type(json_t *msg);
json_t *settings_to_json(const struct setting *);
int settings_from_json(struct setting *to, const char *name, json_t *j);

#endif
