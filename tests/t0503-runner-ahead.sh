#!/bin/bash
# A process service restarting fast (its run lasted under a second, and
# it is restarted at once) has its next runner made ahead: a tend-runner
# in its cgroup, waiting, which the next run takes over, pid and all. It
# outlives the leftovers' kill of the run it was made beside, goes when
# that run reaches a second, or when the service stops; a delayed restart
# never gets one, nor a TEND_PLUGIN_RERUN plugin whose runner is kept.
# Run with cgroups and with the subreaper fallback.
. "$(dirname "$0")/lib-tendd.sh"

# runners_of NAME: tendd's tend-runner children serving NAME
runners_of() {
	local p
	for p in $(pgrep -P "$TENDD_PID" -x tend-runner); do
		{ tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null |
			grep -qx "TEND_SERVICE=$1" && echo "$p"
	done
}

# ahead_of NAME: those that are not its current run (before or after
# they were listed: a restart may come in between)
ahead_of() {
	local before after p list
	before=$(field "$1" pid)
	list=$(runners_of "$1")
	after=$(field "$1" pid)
	for p in $list; do
		[ "$p" != "$before" ] && [ "$p" != "$after" ] && echo "$p"
	done
}

for cg in true false; do
	rm -f "$T/once"
	TEND_EXTRA="cgroups = $cg;" write_conf <<EOF2
services = (
  { name = "loop"; plugin = "misbehave.so"; executor = "process";
    restart = { backoff = "immediate"; intensity = 100; period = 1.0; };
    rlimits = { core = 0; };
    settings = { action = "segv"; after = 0.3; }; },
  { name = "once"; plugin = "misbehave.so"; executor = "process-async";
    restart = { backoff = "immediate"; };
    settings = { action = "fail"; after = 0.1; once = "$T/once"; }; },
  { name = "slow"; plugin = "misbehave.so"; executor = "process";
    restart = { backoff = "fixed"; delay = 0.4; intensity = 100; };
    rlimits = { core = 0; };
    settings = { action = "segv"; after = 0.1; }; },
  { name = "prog"; plugin = "exec.so"; executor = "process";
    restart = { backoff = "immediate"; intensity = 100; period = 1.0; };
    rlimits = { core = 0; };
    settings = { cmdline = "sh -c 'sleep 0.3; kill -SEGV \$\$'"; }; },
  { name = "kept"; plugin = "exec.so"; executor = "process";
    restart = { backoff = "immediate"; intensity = 100; period = 1.0; };
    rlimits = { core = 0; };
    settings = { cmdline = "sh -c 'sleep 0.3; mkdir $T/crashed.$cg 2>/dev/null && kill -SEGV \$\$; exit 3'"; }; }
);
EOF2
	start_tendd || exit 1
	diag "cgroups = $cg"

	# first once, whose runner made ahead lives a second from 0.1 s on
	check "once, restarted at once after 0.1 s, has a runner made ahead" \
		wait_for 10 eval '[ -n "$(ahead_of once)" ]'
	pid=$(field once pid)
	check "which goes when its run is a second old" \
		wait_for 10 eval '[ -z "$(ahead_of once)" ]'
	is "$(field once pid)" "$pid" "the run itself goes on"
	is "$(field once restarts)" 1 "restarted once"

	check "loop is restarted at once" \
		wait_for 10 eval '[ "$(field loop restarts)" -ge 1 ]'
	# its runner made ahead, seen within one run of loop (n restarts)
	steady_ahead() {
		n=$(field loop restarts)
		ahead=$(ahead_of loop)
		[ -n "$ahead" ] && [ "$(field loop restarts)" = "$n" ]
	}
	check "a runner is made ahead for loop's next run" \
		wait_for 10 steady_ahead # which leaves n and ahead set
	is "$(echo "$ahead" | wc -l)" 1 "one, not more"
	if [ "$cg" = true ]; then
		like "$(cat "/proc/$ahead/cgroup" 2>/dev/null)" '/loop$' \
			"it waits in loop's cgroup"
	fi
	check "loop's next run takes the runner made ahead over: same pid" \
		wait_for 10 eval '[ "$(field loop pid)" = "$ahead" ]'
	n=$(field loop restarts)
	check "and crashes in turn, after 0.3 s: the plugin ran in it" \
		wait_for 10 eval '[ "$(field loop restarts)" -gt $n ]'

	# look all through two of slow's runs, each 0.1 s, then 0.4 s down
	n=$(field slow restarts) seen=
	deadline=$(($(date +%s) + 10))
	while [ "$(field slow restarts)" -lt $((n + 2)) ] &&
		[ "$(date +%s)" -lt "$deadline" ]; do
		seen=$seen$(ahead_of slow)
	done
	check "slow is restarted twice (each after 0.4 s)" \
		test "$(field slow restarts)" -ge $((n + 2))
	is "$seen" "" "a delayed restart never has a runner made ahead"

	# exec.so keeps its runner for a program that exits, not for one
	# killed by a signal, which its runner passes on by dying the same way
	check "a program killed by a signal under exec.so, restarted at once, has a runner made ahead" \
		wait_for 10 eval '[ -n "$(ahead_of prog)" ]'
	# its first run dies by a signal (a runner made ahead for the next),
	# the others exit: from then on, it is the kept runner again
	check "kept's first run is killed by a signal and restarted" \
		wait_for 10 eval '[ "$(field kept restarts)" -ge 2 ]'
	n=$(field kept restarts) most=0
	deadline=$(($(date +%s) + 10))
	while [ "$(field kept restarts)" -lt $((n + 2)) ] &&
		[ "$(date +%s)" -lt "$deadline" ]; do
		c=$(runners_of kept | wc -l)
		[ "$c" -gt "$most" ] && most=$c
	done
	check "one that exits is restarted twice" \
		test "$(field kept restarts)" -ge $((n + 2))
	is "$most" 1 "in its kept runner: never a second one"
	p=$(field kept pid)
	n=$(field kept restarts)
	check "and restarted again" \
		wait_for 10 eval '[ "$(field kept restarts)" -gt $n ]'
	is "$(field kept pid)" "$p" "by the same runner"

	tctl stop loop >/dev/null
	check "loop stops" wait_for 10 state_is loop stopped
	check "and no runner of loop is left, made ahead or not" \
		wait_for 10 eval '[ -z "$(runners_of loop)" ]'
	stop_tendd TERM
	is "$TENDD_STATUS" 0 "tendd exits 0"
	check_clean_log
done
done_testing
