/* The process executors' protocol: see proto.c. */
#ifndef TEND_PROTO_H
#define TEND_PROTO_H

#include <jansson.h>

#define PROTO_MSG_MAX 65536
/* The runner's exit status when the plugin could not be started. */
#define PROTO_EXIT_STARTFAIL 111
/* The fds a child finds its channel and its plugin copy on. */
#define PROTO_FD_CHANNEL 3
#define PROTO_FD_PLUGIN 4

struct setting;
int proto_send(int fd, json_t *msg); /* takes the reference */
json_t *proto_recv(int fd);
const char *proto_type(json_t *msg);
json_t *settings_to_json(const struct setting *);
int settings_from_json(struct setting *to, const char *name, json_t *j);

#endif
