#!/bin/bash
# Process executors: a plugin that crashes, aborts, exits, hangs, ignores
# SIGTERM, forks a grandchild or floods its output is detected, classified
# and restarted, and neither tendd nor any other service is touched.
# Run once with cgroups and once with the subreaper fallback.
. "$(dirname "$0")/lib-tendd.sh"

run_suite() { # run_suite true|false
	local mode=$1 cg=$1
	[ "$cg" = true ] && mode=cgroup || mode=subreaper
	STOP_TIMEOUT=0.3 TEND_EXTRA="cgroups = $cg;" write_conf <<EOF2
services = (
  { name = "bystander"; plugin = "worker.so"; executor = "process";
    settings = { interval = 0.05; }; },
  { name = "calm"; plugin = "ticker.so"; executor = "process-async";
    settings = { interval = 0.05; }; },
  { name = "segv"; plugin = "misbehave.so"; executor = "process";
    restart = { backoff = "immediate"; intensity = 100; };
    rlimits = { core = 0; };
    settings = { action = "segv"; after = 0.05; }; },
  { name = "abort"; plugin = "misbehave.so"; executor = "process-async";
    restart = { backoff = "immediate"; intensity = 100; };
    rlimits = { core = 0; };
    settings = { action = "abort"; after = 0.05; }; },
  { name = "exit3"; plugin = "misbehave.so"; executor = "process";
    restart = { policy = "transient"; backoff = "immediate"; intensity = 100; };
    settings = { action = "_exit"; code = 3; after = 0.05; }; },
  { name = "hang"; plugin = "misbehave.so"; executor = "process";
    watchdog = 0.3;
    restart = { backoff = "immediate"; intensity = 100; };
    settings = { action = "hang"; after = 0.1; }; },
  { name = "deaf"; plugin = "misbehave.so"; executor = "process";
    settings = { action = "ignore_term"; after = 0.0; }; },
  { name = "forker"; plugin = "misbehave.so"; executor = "process";
    settings = { action = "fork"; after = 0.0; pidfile = "$T/grandchild"; }; },
  { name = "flood"; plugin = "misbehave.so"; executor = "process-async";
    restart = { policy = "temporary"; };
    settings = { action = "flood"; flood_mb = 10; after = 0.0; }; },
  { name = "notify"; plugin = "misbehave.so"; executor = "process";
    ready = "notify";
    settings = { action = "none"; notify = true; after = 1.0; }; },
  { name = "initfail"; plugin = "misbehave.so"; executor = "process";
    restart = { policy = "temporary"; };
    settings = { action = "init_fail"; }; }
);
EOF2
	start_tendd || return 1
	like "$(cat "$T/log")" "tracked by $mode" "$mode: process services are tracked by $mode"
	local host=$TENDD_PID
	check "$mode: ready = notify: running until the child says ready" wait_for 10 state_is notify running
	check "$mode: ... then ready once tend_ready() is called" wait_for 10 state_is notify ready
	wait_for 10 state_is bystander ready
	wait_for 10 state_is calm ready
	local by=$(field bystander pid) calm=$(field calm pid)
	[ "$by" -gt 0 ] && [ "$by" != "$host" ] && [ -d "/proc/$by" ]
	ok $? "$mode: a process service has a pid of its own ($by)"
	is "$(cat /proc/$by/comm)" "tend-runner" "$mode: it is a tend-runner"
	is "$(awk '{print $4}' /proc/$by/stat)" "$host" "$mode: a child of tendd"
	is "$(ps -o sid= -p "$by" | tr -d ' ')" "$by" "$mode: leading its own session"

	check "$mode: a segfault is detected and restarted" \
		wait_for 20 eval '[ "$(field segv restarts)" -ge 2 ]'
	like "$(field segv last_exit)" '^killed by signal 11 \(SIGSEGV\)$' "$mode: ... as SIGSEGV"
	check "$mode: an abort is detected and restarted" \
		wait_for 20 eval '[ "$(field abort restarts)" -ge 2 ]'
	like "$(field abort last_exit)" '^killed by signal 6 \(SIGABRT\)$' "$mode: ... as SIGABRT"
	check "$mode: _exit(3) is restarted (transient)" \
		wait_for 20 eval '[ "$(field exit3 restarts)" -ge 2 ]'
	like "$(field exit3 last_exit)" '^exit code 3$' "$mode: ... as exit code 3"
	check "$mode: a loop without heartbeat is hung and restarted" \
		wait_for 20 eval '[ "$(field hang restarts)" -ge 1 ]'
	like "$(field hang last_exit)" '^hung: no heartbeat for 0.3s$' "$mode: ... as hung"
	check "$mode: init failure in the child is a start failure" wait_for 20 state_is initfail failed
	like "$(field initfail last_exit)" '^failed to start: init\(\) failed$' "$mode: ... with its reason"
	check "$mode: child output is logged under the service" \
		wait_for 20 log_has ' info +flood: x{100}$'
	check "$mode: a 10 MiB flood ends" wait_for 60 log_has ' flood: flooded 10 MiB$'
	check "$mode: dropped output is said" wait_for 20 log_has ' warning +flood: output over 1000 lines/s: dropped [0-9]+ lines$'
	[ "$(field flood output_dropped)" -gt 0 ]
	ok $? "$mode: and counted in status ($(field flood output_dropped) lines)"

	# SIGTERM ignored: stop escalates to SIGKILL
	local deaf=$(field deaf pid)
	tctl stop deaf >/dev/null
	check "$mode: a child ignoring stop gets SIGTERM" wait_for 10 log_has " deaf: pid $deaf did not stop within 0.3s: SIGTERM$"
	check "$mode: and then SIGKILL" wait_for 10 log_has " deaf: pid $deaf ignored SIGTERM for 0.3s: SIGKILL$"
	check "$mode: and is stopped" wait_for 10 state_is deaf stopped
	like "$(field deaf last_exit)" '^killed by signal 9 \(SIGKILL\)$' "$mode: killed by SIGKILL"
	[ ! -d "/proc/$deaf" ]
	ok $? "$mode: pid $deaf is gone"

	# a grandchild that left with setsid() dies with the service
	wait_for 10 test -s "$T/grandchild"
	local gc=$(cat "$T/grandchild")
	[ -n "$gc" ] && [ -d "/proc/$gc" ] && [ "$(ps -o sid= -p "$gc" | tr -d ' ')" = "$gc" ]
	ok $? "$mode: the grandchild $gc runs in a session of its own"
	tctl stop forker >/dev/null
	check "$mode: stopping the service kills the grandchild" wait_for 10 eval "[ ! -d /proc/$gc ] || grep -q '^State:.*Z' /proc/$gc/status"

	is "$(field bystander pid)" "$by" "$mode: the bystander process kept its pid"
	is "$(field calm pid)" "$calm" "$mode: the process-async bystander kept its pid"
	is "$(field bystander restarts)" 0 "$mode: and never restarted"
	kill -0 "$host"
	ok $? "$mode: tendd is alive"

	stop_tendd TERM
	is "$TENDD_STATUS" 0 "$mode: tendd exits 0"
	gone() { [ ! -d "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
	gone "$by" && gone "$calm"
	ok $? "$mode: no child is left after shutdown"
	for p in $by $calm; do
		gone $p || diag "left: $(cat /proc/$p/status 2>/dev/null | head -7 | tr '\n' ' ')"
	done
	check_clean_log
	rm -f "$T/grandchild"
}

run_suite true
run_suite false

# A run ends on its runner's last word, before the runner is gone: one
# that takes a while to exit (a large memory to give back) is still in
# its cgroup when tendd, exiting, removes the cgroups. None is left.
STOP_TIMEOUT=2 write_conf <<'EOF2'
services = (
  { name = "hog"; plugin = "misbehave.so"; executor = "process";
    settings = { action = "none"; hold_mb = 512; }; }
);
EOF2
start_tendd || exit 1
cg=$(sed -n 's/.*tracked by cgroup \(\/[^ ]*\).*/\1/p' "$T/log")
if [ -z "$cg" ]; then
	ok 0 "a runner up in its cgroup # SKIP no cgroup here"
	ok 0 "tendd exits leaving no cgroup behind # SKIP no cgroup here"
	ok 0 "and having reaped that runner # SKIP no cgroup here"
	stop_tendd
else
	check "a runner holding 512 MiB is up, in its cgroup" \
		wait_for 20 eval '[ "$(field hog state)" = ready ] && grep -qx "$(field hog pid)" "$cg/hog/cgroup.procs"'
	hog=$(field hog pid)
	stop_tendd
	check "tendd exits leaving no cgroup behind ($cg)" eval "[ ! -d '$cg' ]"
	check "and having reaped that runner ($hog): no zombie left to init" \
		eval "[ ! -d /proc/$hog ]"
fi
is "$TENDD_STATUS" 0 "and exits 0"

# tendd killed outright: its children die with it, and a new tendd starts clean
STOP_TIMEOUT=0.3 write_conf <<'EOF2'
services = ( { name = "orphan"; plugin = "worker.so"; executor = "process"; } );
EOF2
start_tendd || exit 1
wait_for 10 state_is orphan ready
child=$(field orphan pid)
exec 3>&2 2>/dev/null # not bash's "Killed" notice in the TAP stream
kill -KILL "$TENDD_PID"
wait "$TENDD_PID"
exec 2>&3 3>&-
TENDD_PID=
check "a child does not outlive a killed tendd" wait_for 10 eval "[ ! -d /proc/$child ]"
start_tendd || exit 1
check "a restarted tendd runs its services again" wait_for 10 state_is orphan ready
stop_tendd
is "$TENDD_STATUS" 0 "and exits 0"
done_testing
