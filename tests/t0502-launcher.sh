#!/bin/bash
# The launcher: process services' runners are forks of one pre-started
# tend-runner, yet each is tendd's own child and looks, in /proc, like a
# runner tendd spawned itself. A launcher that dies or hangs costs no
# running service, and starts go on without it; nor does a plugin that
# starts a thread when loaded, after which the launcher forks no more.
. "$(dirname "$0")/lib-tendd.sh"

write_conf <<'EOF2'
services = (
  { name = "steady"; plugin = "worker.so"; executor = "process";
    env = { COLOUR = "blue"; };
    settings = { interval = 0.05; }; },
  { name = "crashy"; plugin = "misbehave.so"; executor = "process-async";
    restart = { backoff = "immediate"; intensity = 100; period = 1.0; };
    rlimits = { core = 0; };
    settings = { action = "segv"; after = 0.2; }; }
);
EOF2
start_tendd || exit 1

launcher() { # the launcher's pid: tendd's child with --launcher
	local p
	for p in $(pgrep -P "$TENDD_PID"); do
		tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null |
			grep -q '^tend-runner --launcher ' && echo "$p"
	done
}
L=$(launcher)
check "tendd started a launcher" test -n "$L"
pid=$(field steady pid)
is "$(awk '/^PPid:/ {print $2}' "/proc/$pid/status")" "$TENDD_PID" \
	"a launched runner is tendd's child"
is "$(tr '\0' ' ' <"/proc/$pid/cmdline")" "tend-runner steady $TENDD_PID " \
	"its command line is a runner's"
env=$(tr '\0' '\n' <"/proc/$pid/environ")
like "$env" '^COLOUR=blue$' "its environ shows the service's env"
like "$env" '^TEND_SERVICE=steady$' "and its name"
check "crashy is restarted" wait_for 10 eval '[ "$(field crashy restarts)" -ge 2 ]'
check "crashes are reported as SIGSEGV" log_has 'crashy: killed by signal 11'

# a launcher that dies: nothing running is touched, starts go on
kill -KILL "$L"
check "tendd notices the launcher's death" \
	wait_for 10 log_has "launcher pid $L killed by signal 9"
is "$(field steady pid)" "$pid" "a running service keeps its pid"
n=$(field crashy restarts)
check "crashy is still restarted" \
	wait_for 10 eval "[ \"\$(field crashy restarts)\" -ge $((n + 3)) ]"
check "a new launcher is started" \
	wait_for 10 eval '[ -n "$(launcher)" ] && [ "$(launcher)" != "$L" ]'

# a launcher that does not answer is killed, and the start still happens
L=$(launcher)
kill -STOP "$L"
tctl restart steady >/dev/null
check "a hung launcher is killed" \
	wait_for 10 log_has "launcher pid $L does not answer"
check "and the service started anyway" \
	wait_for 10 eval '[ "$(field steady state)" = ready ] &&
	                  [ "$(field steady pid)" != "$pid" ]'
check "tendd answers" tctl status

# a plugin that starts a thread when loaded: the launcher forks no more
check "a launcher is back" \
	wait_for 10 eval '[ -n "$(launcher)" ] && [ "$(launcher)" != "$L" ]'
sed -i 's/^);$/, { name = "threads"; plugin = "threadctor.so"; executor = "process"; }\n);/' \
	"$T/tend.conf"
tctl reload >/dev/null
check "a plugin that starts a thread still runs" \
	wait_for 10 eval '[ "$(field threads state)" = ready ]'
check "the launcher says why it forks no more" \
	log_has 'a plugin started a thread when loaded'
check "tendd spawns runners itself from then on" \
	log_has 'the launcher cannot fork runners'
pid=$(field steady pid)
tctl restart steady >/dev/null
check "and starts go on" wait_for 10 eval '[ "$(field steady state)" = ready ] &&
	                  [ "$(field steady pid)" != "$pid" ]'
check "no launcher is running" eval '[ -z "$(launcher)" ]'

stop_tendd TERM
is "$TENDD_STATUS" 0 "tendd exits 0"
check_clean_log

# the launcher ends with tendd; a run whose leftovers were killed does
# not spoil the next runs started in the same cgroup
write_conf <<EOF2
services = (
  { name = "steady"; plugin = "worker.so"; executor = "process";
    settings = { interval = 0.05; }; },
  { name = "forker"; plugin = "misbehave.so"; executor = "process";
    settings = { action = "fork"; after = 0.0; pidfile = "$T/grandchild"; }; }
);
EOF2
start_tendd || exit 1
for i in 1 2 3; do
	check "forker left a grandchild ($i)" wait_for 10 test -s "$T/grandchild"
	g=$(cat "$T/grandchild")
	rm -f "$T/grandchild"
	tctl restart forker >/dev/null
	check "its grandchild is killed with it ($i)" \
		wait_for 10 eval "! kill -0 $g 2>/dev/null"
	check "the next run starts and stays up ($i)" \
		wait_for 10 eval '[ "$(field forker state)" = ready ]'
done
check "no run was killed at birth" eval '! log_has "forker: killed by signal 9"'

L=$(launcher)
check "a launcher runs" test -n "$L"
stop_tendd TERM
is "$TENDD_STATUS" 0 "tendd exits 0"
check "the launcher ended with tendd" eval "! kill -0 $L"

# many runners at start-up: each run gets its own, watched from the start,
# even one whose runner is gone at once (its init() fails)
{
	echo 'services = ('
	for i in $(seq 1 60); do
		echo "  { name = \"w$i\"; plugin = \"worker.so\"; executor = \"process\";"
		echo "    settings = { interval = 86400.0; }; },"
	done
	echo '  { name = "early"; plugin = "misbehave.so"; executor = "process";'
	echo '    restart = { backoff = "fixed"; delay = 0.2; };'
	echo '    settings = { action = "init_fail"; }; }'
	echo ');'
} | write_conf
start_tendd || exit 1
check "60 process services started together are all ready" \
	wait_for 20 eval '[ "$(tctl --json status | grep -o "\"state\": *\"ready\"" | wc -l)" -eq 60 ]'
pids=$(for i in $(seq 1 60); do echo "$(field w$i pid)"; done)
is "$(echo "$pids" | sort -u | grep -c '^[1-9]')" 60 "each in a runner of its own"
kids=$(for p in $pids; do [ "$(ps -o ppid= -p "$p" | tr -d ' ')" = "$TENDD_PID" ] && echo "$p"; done | wc -l)
is "$kids" 60 "each runner a child of tendd"
mine=0
for i in $(seq 1 60); do
	p=$(field w$i pid)
	tr '\0' '\n' <"/proc/$p/environ" | grep -qx "TEND_SERVICE=w$i" &&
		mine=$((mine + 1))
done
is "$mine" 60 "and each service's pid is its own runner's"
check "a runner that died at once is seen to, and restarted" \
	wait_for 10 eval '[ "$(field early restarts)" -ge 2 ]'
like "$(field early last_exit)" 'failed to start: init\(\) failed' \
	"with the reason it gave"
stop_tendd TERM
is "$TENDD_STATUS" 0 "tendd exits 0"
done_testing
