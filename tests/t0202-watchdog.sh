#!/bin/bash
# A service that stops heartbeating for longer than its watchdog is hung:
# it is stopped and restarted by its policy, under every executor.
. "$(dirname "$0")/lib-tendd.sh"

{
	echo "services = ("
	for e in async thread thread-async; do
		cat <<-EOF2
		{ name = "$e"; plugin = "misbehave.so"; executor = "$e";
		  watchdog = 0.3;
		  restart = { backoff = "immediate"; intensity = 100; };
		  settings = { action = "stall"; after = 0.2; }; },
		EOF2
	done
	cat <<-EOF2
	{ name = "healthy"; plugin = "ticker.so"; executor = "async";
	  watchdog = 0.3; settings = { interval = 0.05; }; }
	);
	EOF2
} | write_conf
start_tendd || exit 1

for e in async thread thread-async; do
	check "$e: the hang is detected" wait_for 20 log_has " warning +$e: hung: no heartbeat for 0.3s$"
	check "$e: and the service restarted" wait_for 20 eval "[ \"\$(field $e restarts)\" -ge 1 ]"
	like "$(field $e last_exit)" '^hung: no heartbeat for 0.3s$' "$e: the reason is kept"
done
check "healthy has run past its watchdog" wait_for 20 log_has ' healthy: tick 12$'
is "$(field healthy restarts)" 0 "a heartbeating service is left alone"
is "$(field healthy state)" ready "and stays ready"

stop_tendd
is "$TENDD_STATUS" 0 "tendd exits 0"
check_clean_log
done_testing
