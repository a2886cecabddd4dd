#!/bin/bash
# The exec plugin with real programs: sleep started, stopped and gone; a
# shell script that crashes or exits 3; a C program speaking sd_notify
# (ready only when it says so, kept alive by WATCHDOG=1); a notification
# from outside the program refused; a program ignoring SIGTERM, ended by
# the kill escalation in bounded time; stop_signal and reload_signal;
# readiness by a TCP port and by a file; the process options as the
# program sees them; cmdline split like a shell would; bad settings.
. "$(dirname "$0")/lib-tendd.sh"

CC=${CC:-cc}
chmod 0755 "$T" # the unprivileged user must reach its scripts
mkdir -p "$T/bin" "$T/work"

cat >"$T/notifier.c" <<'EOF'
/* sd_notify, as a program written for systemd's Type=notify does it */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void say(const char *msg)
{
	const char *e = getenv("NOTIFY_SOCKET");
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	size_t n;
	int fd;

	if (e == NULL || (n = strlen(e)) >= sizeof(a.sun_path))
		return;
	memcpy(a.sun_path, e, n);
	if (a.sun_path[0] == '@')
		a.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&a,
	       offsetof(struct sockaddr_un, sun_path) + n);
	close(fd);
}

int main(int argc, char **argv)
{
	long usec = getenv("WATCHDOG_USEC") ? atol(getenv("WATCHDOG_USEC")) : 0;

	if (argc == 3) { /* notifier MESSAGE SECONDS: say it, then linger */
		say(argv[1]);
		usleep((useconds_t)(atof(argv[2]) * 1e6));
		return 0;
	}
	if (argc == 2) { /* notifier quiet: ready, and never a WATCHDOG=1 */
		say("READY=1");
		pause();
	}
	printf("watchdog %ld usec\n", usec);
	fflush(stdout);
	say("STATUS=warming up");
	usleep(1500000);
	say("READY=1\nSTATUS=serving");
	for (;;) {
		usleep(usec ? (useconds_t)usec / 4 : 100000);
		if (usec)
			say("WATCHDOG=1");
	}
}
EOF
if ! "$CC" -o "$T/notifier" "$T/notifier.c" 2>"$T/cc.log"; then
	echo "1..0 # SKIP cannot compile with $CC: $(head -1 "$T/cc.log")"
	exit 0
fi

cat >"$T/crash.sh" <<'EOF'
#!/bin/sh
case $1 in
segv) kill -SEGV $$ ;;
*) exit "$1" ;;
esac
EOF
cat >"$T/deaf.sh" <<'EOF'
#!/bin/sh
trap '' TERM
echo "deaf to SIGTERM"
while :; do sleep 0.05; done
EOF
cat >"$T/sig.pl" <<'EOF'
$| = 1;
$SIG{HUP} = sub { print "got SIGHUP\n" };
$SIG{INT} = sub { print "got SIGINT\n"; exit 0 };
print "sig.pl runs\n";
select(undef, undef, undef, 0.05) while 1;
EOF
cat >"$T/listen.pl" <<'EOF'
use IO::Socket::INET;
select(undef, undef, undef, 1.5);
my $l = IO::Socket::INET->new(LocalAddr => "127.0.0.1", LocalPort => $ARGV[0],
                              Listen => 5, ReuseAddr => 1) or die "listen: $!";
print "listening\n";
sleep 1000;
EOF
cat >"$T/late-file.sh" <<'EOF'
#!/bin/sh
sleep 1.5
echo $$ >"$1"
exec sleep 1000
EOF
cat >"$T/bin/show-env" <<'EOF'
#!/bin/sh
echo "uid=$(id -u) cwd=$(pwd) umask=$(umask) foo=$FOO home=$HOME user=$USER"
exec sleep 1000
EOF
chmod +x "$T/crash.sh" "$T/deaf.sh" "$T/late-file.sh" "$T/bin/show-env"
echo stale >"$T/flag" # there before: it must be written again to count

PORT=$(perl -MIO::Socket::INET -e 'print IO::Socket::INET->new(
	LocalAddr => "127.0.0.1", LocalPort => 0, Listen => 1)->sockport')
OPT_USER=
RUN_UID=$(id -u)
RUN_HOME=$(getent passwd "$RUN_UID" | cut -d: -f6)
if test_user; then
	OPT_USER='user = "tendtest";'
	RUN_UID=$(id -u tendtest)
	RUN_HOME=$(getent passwd tendtest | cut -d: -f6)
fi

# conf ARGS STOPSIG: the config, with sleep's arguments and sig's stop_signal
conf() {
	sed -e "s|@T@|$T|g" -e "s|@PORT@|$PORT|g" -e "s|@ARGS@|$1|" \
		-e "s|@STOPSIG@|$2|" -e "s|@USER@|$OPT_USER|" <<'EOF' | STOP_TIMEOUT=2.0 write_conf
services = (
  { name = "sleeper"; plugin = "exec.so"; executor = "process";
    settings = { command = "sleep"; args = [ @ARGS@ ]; }; },
  { name = "segv"; plugin = "exec.so"; executor = "process";
    rlimits = { core = 0; };
    restart = { backoff = "immediate"; intensity = 100; };
    settings = { command = "@T@/crash.sh"; args = [ "segv" ]; }; },
  { name = "exit3"; plugin = "exec.so"; executor = "process";
    restart = { policy = "transient"; backoff = "immediate"; intensity = 100; };
    settings = { cmdline = "@T@/crash.sh 3"; }; },
  { name = "again"; plugin = "exec.so"; executor = "process";
    restart = { backoff = "immediate"; intensity = 100; period = 10.0; };
    settings = { cmdline = "sh -c 'sleep 0.5; exit 3'"; }; },
  { name = "later"; plugin = "exec.so"; executor = "process";
    restart = { backoff = "fixed"; delay = 0.2; intensity = 100; period = 10.0; };
    settings = { cmdline = "sh -c 'sleep 0.5; exit 3'"; }; },
  { name = "notifier"; plugin = "exec.so"; executor = "process";
    ready = "notify"; watchdog = 1.0;
    settings = { command = "@T@/notifier"; watchdog = 1.0; }; },
  { name = "quiet"; plugin = "exec.so"; executor = "process";
    ready = "notify"; watchdog = 0.6; restart = { policy = "temporary"; };
    settings = { command = "@T@/notifier"; args = [ "quiet" ]; watchdog = 0.6; }; },
  { name = "waiter"; plugin = "exec.so"; executor = "process";
    ready = "notify";
    settings = { command = "sleep"; args = [ "1000" ]; }; },
  { name = "deaf"; plugin = "exec.so"; executor = "process";
    stop_timeout = 0.5;
    settings = { command = "@T@/deaf.sh"; }; },
  { name = "sig"; plugin = "exec.so"; executor = "process";
    settings = { command = "perl"; args = [ "@T@/sig.pl" ];
                 stop_signal = "@STOPSIG@"; reload_signal = "SIGHUP"; }; },
  { name = "tcp"; plugin = "exec.so"; executor = "process";
    ready = "notify";
    settings = { command = "perl"; args = [ "@T@/listen.pl", "@PORT@" ];
                 ready_check = { tcp = "127.0.0.1:@PORT@"; }; }; },
  { name = "file"; plugin = "exec.so"; executor = "process";
    ready = "notify";
    settings = { command = "@T@/late-file.sh"; args = [ "@T@/flag" ];
                 ready_check = { file = "@T@/flag"; interval = 0.02; }; }; },
  { name = "opts"; plugin = "exec.so"; executor = "process";
    @USER@ workdir = "work"; umask = "0027";
    env = { FOO = "bar"; PATH = "@T@/bin:/usr/bin:/bin"; };
    settings = { command = "show-env"; }; },
  { name = "quoted"; plugin = "exec.so"; executor = "process";
    restart = { policy = "temporary"; };
    settings = { cmdline = "printf '[%s]' 'a b' \"c \\\"d\\\" \\$\" e\\ f ''"; }; },
  { name = "missing"; plugin = "exec.so"; executor = "process";
    restart = { policy = "temporary"; };
    settings = { command = "no-such-program-for-tend"; }; },
  { name = "unclosed"; plugin = "exec.so"; executor = "process";
    restart = { policy = "temporary"; };
    settings = { cmdline = "echo 'x"; }; },
  { name = "piped"; plugin = "exec.so"; executor = "process";
    restart = { policy = "temporary"; };
    settings = { cmdline = "echo x | cat"; }; },
  { name = "badargs"; plugin = "exec.so"; executor = "process";
    restart = { policy = "temporary"; };
    settings = { command = "echo"; args = ( "x", 3 ); }; }
);
EOF
}

# " name=state ... ": every service's state, in one status request
states() {
	tctl --json status | perl -MJSON::PP -0777 -ne 'print " ",
		join(" ", map { "$_->{name}=$_->{state}" } @{decode_json($_)->{services}}), " "'
}
prog_of() { ps -o pid= --ppid "$(field "$1" pid)" | tr -d ' '; }
gone() { [ ! -d "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
ms() { echo $(($(date +%s%N) / 1000000)); }

conf '"1000"' SIGINT
start_tendd || exit 1
# the three that wait 1.5 s before they are ready, seen in one status
started() { st=$(states) && ! [[ $st =~ (notifier|tcp|file)=starting ]]; }
wait_for 10 started
like "$st" ' notifier=running ' "notify: running until the program says READY=1"
like "$st" ' tcp=running ' "ready_check tcp: running while the port is closed"
like "$st" ' file=running ' "ready_check file: a stale file does not count"

# sleep: runs as the runner's child, in a session of its own
check "sleep runs" wait_for 10 state_is sleeper ready
sp=$(prog_of sleeper)
is "$(cat /proc/$sp/comm 2>/dev/null)" sleep "the program is the runner's child ($sp)"
is "$(ps -o sid= -p "$sp" | tr -d ' ')" "$sp" "in a session of its own"
is "$(ls /proc/$sp/fd | sort -n | tr '\n' ' ')" "0 1 2 " "with no descriptor but 0, 1 and 2"
env=$(tr '\0' '\n' </proc/$sp/environ)
like "$env" '^NOTIFY_SOCKET=@' "it has a NOTIFY_SOCKET"
like "$env" '^TEND_SERVICE=sleeper$' "and the service's environment"
like "$(cat "$T/log")" " sleeper: started pid $sp: /[a-z/]*/sleep 1000$" "its start is logged with its pid"

# crashes and exit codes, as for any process service
check "a script killing itself with SIGSEGV is restarted" \
	wait_for 20 eval '[ "$(field segv restarts)" -ge 2 ]'
like "$(field segv last_exit)" '^killed by signal 11 \(SIGSEGV\)$' "... as killed by signal 11"
check "a script exiting 3 is restarted (transient)" \
	wait_for 20 eval '[ "$(field exit3 restarts)" -ge 2 ]'
like "$(field exit3 last_exit)" '^exit code 3$' "... as exit code 3"

# restarted at once, the program runs again in the same runner (exec.so
# is a TEND_PLUGIN_RERUN plugin); after a delay, in a new one
# up NAME N: restarted more than N times and up, its runner's pid and its
# program's in RUN and PROG (one status, so that they belong together),
# the program's start logged (the runner holds what a run holds by then)
up() {
	local s
	s=$(tctl --json status "$1" 2>/dev/null | perl -MJSON::PP -0777 -ne '
		my $v = decode_json($_)->{services}[0];
		print "$v->{restarts} $v->{state} $v->{pid}"') || return 1
	set -- "$1" "$2" $s
	[ "$3" -gt "$2" ] && [ "$4" = ready ] || return 1
	RUN=$5 PROG=$(ps -o pid= --ppid "$5" | tr -d ' ')
	[ -n "$PROG" ] && grep -q " $1: started pid $PROG: " "$T/log"
}
check "again: restarted" wait_for 10 up again 0
ar=$RUN ap=$PROG n=$(field again restarts)
afd=$(ls /proc/$ar/fd | wc -l)
check "again: restarted twice more" wait_for 10 up again $((n + 1))
is "$RUN" "$ar" "again: the same runner ($ar) runs each immediate restart"
[ "$PROG" != "$ap" ]
ok $? "again: each run a new program ($ap, then $PROG)"
is "$(field again last_exit)" "exit code 3" "again: each run's end as it was"
is "$(ls /proc/$ar/fd | wc -l)" "$afd" "again: the runner keeps no more descriptors from run to run"
check "later: restarted" wait_for 10 up later 0
lr=$RUN n=$(field later restarts)
check "later: restarted again, after its delay" wait_for 10 up later "$n"
[ "$RUN" != "$lr" ]
ok $? "later: in a new runner ($lr, then $RUN)"
check "later: the runner of its last run ($lr) is gone" wait_for 5 gone "$lr"

# sd_notify
check "notify: ready once the program says READY=1" wait_for 10 state_is notifier ready
check "notify: STATUS= is logged" wait_for 5 log_has ' notifier: status: serving$'
check "notify: the program got WATCHDOG_USEC" log_has ' notifier: watchdog 1000000 usec$'
sleep 2
is "$(field notifier state)/$(field notifier restarts)" ready/0 \
	"notify: WATCHDOG=1 keeps a 1s watchdog fed"
check "notify: once ready, the plugin no longer beats for the program" \
	wait_for 10 eval '[ "$(field quiet last_exit)" = "hung: no heartbeat for 0.6s" ]'
wp=$(prog_of waiter)
sock=$(tr '\0' '\n' </proc/$wp/environ | sed -n 's/^NOTIFY_SOCKET=//p')
NOTIFY_SOCKET=$sock "$T/notifier" READY=1 1 &
rogue=$!
check "notify: READY=1 from outside the program's session is refused" \
	wait_for 5 log_has " waiter: notification from pid $rogue refused"
wait $rogue
is "$(field waiter state)" running "notify: and the service is not ready"

# readiness checks
check "ready_check tcp: ready once the port accepts" wait_for 10 state_is tcp ready
check "ready_check file: ready once the file is written" wait_for 10 state_is file ready
like "$(cat "$T/log")" "file: ready: '$T/flag' is there" "ready_check file: logged"

# process options reach the program
check "options: the program found on env's PATH runs" wait_for 10 log_has ' opts: uid='
like "$(grep ' opts: uid=' "$T/log")" "uid=$RUN_UID cwd=$T/work umask=0027 foo=bar home=$RUN_HOME user=" \
	"options: user ($RUN_UID), workdir, umask, env, HOME"

# cmdline and settings
check "cmdline: split like a shell would" \
	wait_for 10 log_has ' quoted: \[a b\]\[c "d" \$\]\[e f\]\[\]$'
check "cmdline: the program exits cleanly" wait_for 10 state_is quoted exited
check "cmdline: its words are logged quoted as a shell needs them" \
	log_has " quoted: started pid [0-9]+: /[a-z/]*/printf '\[%s\]' 'a b' 'c \"d\" \\\$' 'e f' ''$"
wait_for 10 state_is missing failed
is "$(field missing last_exit)" "failed: cannot run 'no-such-program-for-tend': not found in PATH" \
	"a program not in PATH fails, saying so"
wait_for 10 state_is unclosed failed
is "$(field unclosed last_exit)" "failed to start: init() failed" "a bad cmdline fails to start"
check "... saying why" log_has " unclosed: settings.cmdline: a ' is not closed$"
check "a | needs a shell: refused" log_has " piped: settings.cmdline: '\|' needs a shell"
check "args must be strings" log_has " badargs: .*settings.args.1: must be a string, not an integer$"

# stop: SIGTERM to the group, and it is gone
t0=$(ms)
tctl stop sleeper >/dev/null
check "stop: sleep is stopped" wait_for 10 state_is sleeper stopped
is "$(field sleeper last_exit)" stopped "stop: death by the stop signal is a clean stop"
check "stop: its pid $sp is gone" wait_for 5 gone "$sp"
diag "sleep stopped in $(($(ms) - t0)) ms"

# a program that ignores SIGTERM: the escalation ends it
dp=$(prog_of deaf)
t0=$(ms)
tctl stop deaf >/dev/null
check "deaf: stopped although it ignores SIGTERM" wait_for 10 state_is deaf stopped
took=$(($(ms) - t0))
[ "$took" -ge 400 ] && [ "$took" -lt 3000 ]
ok $? "deaf: after stop_timeout 0.5s, in bounded time ($took ms)"
is "$(field deaf last_exit)" "killed by signal 9 (SIGKILL)" "deaf: killed by SIGKILL"
check "deaf: the plugin SIGKILLed its process group" \
	log_has " deaf: pid $dp did not stop in time: SIGKILL to its process group$"
check "deaf: its pid $dp is gone" wait_for 5 gone "$dp"

# reload: a settings-only change keeps the program and sends reload_signal;
# a changed command line restarts it
check "sig: runs" wait_for 10 log_has ' sig: sig.pl runs$'
sig_runner=$(field sig pid)
sig_prog=$(prog_of sig)
tctl start sleeper >/dev/null
wait_for 10 state_is sleeper ready
sleeper_runner=$(field sleeper pid)
conf '"1001"' INT
tctl reload >"$T/reload.out"
like "$(cat "$T/reload.out")" '^reconfigured +sig: settings$' "reload: sig is reconfigured in place"
check "reload: reload_signal reaches the program" wait_for 10 log_has ' sig: got SIGHUP$'
is "$(field sig pid)/$(prog_of sig)" "$sig_runner/$sig_prog" "reload: same runner, same program"
check "reload: a new command line restarts" wait_for 10 eval \
	'state_is sleeper ready && [ "$(field sleeper pid)" != "$sleeper_runner" ]'
like "$(cat /proc/$(prog_of sleeper)/cmdline | tr '\0' ' ')" '^sleep 1001 $' "... with the new args"
tctl send sig reload >/dev/null
check "tendctl send NAME reload: reload_signal again" \
	wait_for 10 eval '[ "$(log_count " sig: got SIGHUP$")" = 2 ]'
tctl stop sig >/dev/null
check "stop_signal = INT is honoured" wait_for 10 log_has ' sig: got SIGINT$'
check "and the program's clean exit is a clean stop" wait_for 10 eval \
	'[ "$(field sig state)/$(field sig last_exit)" = stopped/stopped ]'

# shutdown: no program is left
progs="$(prog_of sleeper) $(prog_of notifier) $(prog_of waiter) $(prog_of tcp) $(prog_of file) $(prog_of opts)"
stop_tendd
is "$TENDD_STATUS" 0 "tendd exits 0"
left=
for p in $progs; do gone "$p" || left="$left $p"; done
is "$left" "" "no program is left after shutdown"
check_clean_log

# tendd killed outright: the program dies with its runner
write_conf <<EOF
services = ( { name = "orphan"; plugin = "exec.so"; executor = "process";
               settings = { command = "sleep"; args = [ "1000" ]; }; } );
EOF
start_tendd || exit 1
wait_for 10 state_is orphan ready
op=$(prog_of orphan)
exec 3>&2 2>/dev/null
kill -KILL "$TENDD_PID"
wait "$TENDD_PID"
exec 2>&3 3>&-
TENDD_PID=
check "a killed tendd leaves no program behind" wait_for 10 gone "$op"
done_testing
