/*
 * Telling systemd how tendd is doing (sd_notify(3)), written against the
 * documented datagram format: each message is one datagram of
 * "KEY=value" lines sent to the AF_UNIX socket named by $NOTIFY_SOCKET (a
 * path, or an abstract name after '@').
 *
 * READY=1 once the services are started and after each reload,
 * RELOADING=1 with MONOTONIC_USEC when a reload begins, STOPPING=1 at
 * shutdown, STATUS= a one-line summary (at most once a second), and,
 * when systemd set $WATCHDOG_USEC for us, WATCHDOG=1 every half of it
 * from a timer on the main loop: a stuck loop stops the pings and systemd
 * restarts tendd. Without $NOTIFY_SOCKET all of it does nothing.
 */
#include <errno.h>
#include <ev.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "tendd.h"

#define STATUS_EVERY 1.0 /* seconds between STATUS= updates at most */

static struct ev_loop *loop;
static int fd = -1;
static struct sockaddr_un addr;
static socklen_t addrlen;
static ev_timer watchdog, status_timer;
static char last_status[256];
static bool stopping;

static void send_text(const char *text)
{
	if (fd < 0)
		return;
	if (sendto(fd, text, strlen(text), MSG_NOSIGNAL,
	           (struct sockaddr *)&addr, addrlen) < 0 &&
	    errno != EAGAIN)
		log_debug("cannot notify systemd: %s", strerror(errno));
}

/* "3 services: 2 ready, 1 failed; last reload rejected" */
static void summary(char *buf, size_t len)
{
	unsigned n[SV_NSTATES] = {0};
	const struct reload_report *r = reload_last();
	size_t used;

	for (size_t i = 0; i < services_count(); i++)
		n[services_at(i)->state]++;
	used = (size_t)snprintf(buf, len, "%zu service%s: %u ready",
	                        services_count(),
	                        services_count() == 1 ? "" : "s",
	                        n[SV_READY]);
	for (int s = 0; s < SV_NSTATES && used < len; s++)
		if (s != SV_READY && n[s])
			used += (size_t)snprintf(buf + used, len - used,
			                         ", %u %s", n[s],
			                         sv_state_name((enum sv_state)s));
	if (r && used < len) {
		size_t failed = 0;
		for (size_t i = 0; i < r->nitems; i++)
			failed += r->items[i].outcome == RO_FAILED;
		snprintf(buf + used, len - used, "; last reload %s",
		         r->rejected ? "rejected" : failed ? "failed" : "ok");
	}
}

static void send_status(const char *prefix)
{
	char msg[384];

	summary(last_status, sizeof(last_status));
	snprintf(msg, sizeof(msg), "%sSTATUS=%s", prefix, last_status);
	send_text(msg);
}

static void on_watchdog(struct ev_loop *l, ev_timer *w, int revents)
{
	(void)l, (void)w, (void)revents;
	send_text("WATCHDOG=1");
}

/* Send STATUS= if the summary changed since the last one. */
static void on_status_timer(struct ev_loop *l, ev_timer *w, int revents)
{
	char now[sizeof(last_status)];

	(void)l, (void)w, (void)revents;
	summary(now, sizeof(now));
	if (!stopping && strcmp(now, last_status) != 0)
		send_status("");
}

static void on_change(void *arg, struct supervisor *sv, enum sv_state from)
{
	(void)arg, (void)sv, (void)from;
	if (!ev_is_active(&status_timer))
		ev_timer_start(loop, &status_timer);
}

/*
 * Find systemd's socket and watchdog, if any, and forget them in our
 * environment: nothing we start should talk to systemd as if it were us.
 */
void notify_init(struct ev_loop *l)
{
	const char *path = getenv("NOTIFY_SOCKET");
	const char *usec = getenv("WATCHDOG_USEC");
	const char *pid = getenv("WATCHDOG_PID");
	double every = 0;

	loop = l;
	ev_timer_init(&status_timer, on_status_timer, STATUS_EVERY, 0.);
	if (usec && (pid == NULL || atol(pid) == (long)getpid()))
		every = strtod(usec, NULL) / 2e6;
	if (path && (path[0] == '/' || path[0] == '@') &&
	    strlen(path) < sizeof(addr.sun_path)) {
		addr.sun_family = AF_UNIX;
		memcpy(addr.sun_path, path, strlen(path));
		if (path[0] == '@')
			addr.sun_path[0] = '\0';
		addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		                      strlen(path) + (path[0] == '/'));
		fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		            0);
		if (fd < 0)
			log_warn("cannot notify systemd");
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	if (fd < 0)
		return;
	supervisor_observe(on_change, NULL);
	if (every > 0) {
		ev_timer_init(&watchdog, on_watchdog, every, every);
		ev_timer_start(loop, &watchdog);
		log_info("systemd watchdog: pinging every %.3gs", every);
	}
}

void notify_ready(void) { send_status("READY=1\n"); }

void notify_reloading(void)
{
	struct timespec ts;
	char msg[128];

	clock_gettime(CLOCK_MONOTONIC, &ts);
	snprintf(msg, sizeof(msg),
	         "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=reloading",
	         (unsigned long long)ts.tv_sec * 1000000ULL +
	             (unsigned long long)ts.tv_nsec / 1000ULL);
	send_text(msg);
}

void notify_stopping(void)
{
	stopping = true;
	ev_timer_stop(loop, &status_timer);
	send_text("STOPPING=1\nSTATUS=stopping");
}

void notify_shutdown(void)
{
	if (loop) {
		ev_timer_stop(loop, &watchdog);
		ev_timer_stop(loop, &status_timer);
	}
	if (fd >= 0)
		close(fd);
	fd = -1;
}
