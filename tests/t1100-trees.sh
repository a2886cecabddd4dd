#!/bin/bash
# Supervision trees: depends orders start and stop; groups restart their
# members by strategy (checked by which PIDs changed after a real crash);
# a group that gives up stops its members, and with escalate tendd exits
# 75; bad links are config errors with file and line.
. "$(dirname "$0")/lib-tendd.sh"

pid_of() { field "$1" pid; }
# group_field KEY: a field of the first group in `tendctl --json status`
group_field() {
	tctl --json status | KEY=$1 perl -MJSON::PP -0777 -ne '
		my $g = decode_json($_)->{groups}[0]; print $g ? $g->{$ENV{KEY}} : "none"'
}
restarts_of() { field "$1" restarts; }

# --- config errors
write_conf <<'EOF2'
services = (
  { name = "x"; plugin = "worker.so"; executor = "thread"; depends = [ "y" ]; },
  { name = "y"; plugin = "worker.so"; executor = "thread";
    depends = [ "x" ]; },
  { name = "w"; plugin = "worker.so"; executor = "thread"; depends = [ "nope" ]; }
);
groups = ( { name = "g"; members = [ "w", "q" ]; },
           { name = "h"; members = [ "w" ]; } );
EOF2
out=$("$TENDD" -t -c "$T/tend.conf" 2>&1)
is $? 78 "bad links: tendd -t exits 78"
like "$out" "tend.conf:8: depends: a cycle: 'x' -> 'y' -> 'x'" "a cycle is named, with file and line"
like "$out" "tend.conf:11: depends: no service named 'nope'" "an unknown dependency is an error"
like "$out" "tend.conf:13: groups.members: no service named 'q'" "an unknown member is an error"
like "$out" "tend.conf:14: groups.members: 'w' is in group 'g' already" "a service is in one group at most"

# --- depends: start after ready, stop before
write_conf <<'EOF2'
services = (
  { name = "api"; plugin = "worker.so"; executor = "thread"; depends = [ "db", "cache" ]; },
  { name = "db"; plugin = "misbehave.so"; executor = "process"; ready = "notify";
    settings = { action = "none"; notify = true; after = 0.3; }; },
  { name = "cache"; plugin = "ticker.so"; executor = "async"; instances = 2; },
  { name = "web"; plugin = "worker.so"; executor = "process"; depends = [ "api" ]; }
);
EOF2
start_tendd || exit 1
check "depends: everything gets ready" wait_for 10 eval 'state_is web ready && state_is api ready'
line() { grep -n -- "$1" "$T/log" | head -1 | cut -d: -f1; }
ok $(( $(line 'db: ready') < $(line 'api: started') ? 0 : 1 )) "api starts only once db is ready"
ok $(( $(line 'api: started') < $(line 'web: started') ? 0 : 1 )) "web only once api is"
check "the wait is logged" log_has "api: waiting for '(db|cache#[01])' to be ready"
check "instances are depended on as a whole" log_has "api: started"
stop_tendd
is "$TENDD_STATUS" 0 "tendd exits 0"
ok $(( $(line 'web: stopped after') < $(line 'api: stopping$') ? 0 : 1 )) "web stops before api"
ok $(( $(line 'api: stopped after') < $(line 'db: stopping$') ? 0 : 1 )) "api stops before db"
check_clean_log

# --- a dependency that never gets ready holds its dependents
write_conf <<'EOF2'
services = (
  { name = "dep"; plugin = "misbehave.so"; executor = "thread";
    restart = { policy = "temporary"; }; settings = { action = "init_fail"; }; },
  { name = "user"; plugin = "worker.so"; executor = "thread"; depends = [ "dep" ]; }
);
EOF2
start_tendd || exit 1
check "never-ready: the dependency fails" wait_for 10 state_is dep failed
is "$(field user state)" stopped "its dependent does not start"
is "$(field user waiting)" true "and says it is waiting"
stop_tendd
is "$TENDD_STATUS" 0 "tendd exits 0"

# group_test STRATEGY: a, b, c in a group; b crashes once; which restarted?
group_conf() {
	write_conf <<EOF2
services = (
  { name = "a"; plugin = "worker.so"; executor = "process"; },
  { name = "b"; plugin = "misbehave.so"; executor = "process";
    restart = { backoff = "immediate"; };
    settings = { action = "segv"; after = 0.5; }; },
  { name = "c"; plugin = "worker.so"; executor = "process"; },
  { name = "out"; plugin = "worker.so"; executor = "process"; }
);
groups = ( { name = "g"; strategy = "$1"; members = [ "a", "b", "c" ];
             intensity = ${2:-20}; period = 10.0; ${3:-} } );
EOF2
}

for strategy in one_for_one one_for_all rest_for_one; do
	group_conf $strategy
	start_tendd || exit 1
	wait_for 10 eval 'state_is a ready && state_is b ready && state_is c ready && state_is out ready'
	a0=$(pid_of a) c0=$(pid_of c) out0=$(pid_of out)
	check "$strategy: b crashes and restarts" wait_for 10 eval '[ "$(restarts_of b)" -ge 1 ]'
	wait_for 10 eval 'state_is a ready && state_is c ready && state_is b ready'
	case $strategy in
	one_for_one) want_a=same want_c=same ;;
	one_for_all) want_a=new want_c=new ;;
	rest_for_one) want_a=same want_c=new ;;
	esac
	# the group acts from the loop, after b's own restart: wait for it
	[ $want_a = new ] && wait_for 10 eval '[ "$(pid_of a)" != "$a0" ] && state_is a ready'
	[ $want_c = new ] && wait_for 10 eval '[ "$(pid_of c)" != "$c0" ] && state_is c ready'
	[ "$(pid_of a)" = "$a0" ] && got_a=same || got_a=new
	[ "$(pid_of c)" = "$c0" ] && got_c=same || got_c=new
	is "$got_a" "$want_a" "$strategy: a (before b) is $want_a"
	is "$got_c" "$want_c" "$strategy: c (after b) is $want_c"
	is "$(pid_of out)" "$out0" "$strategy: a service outside the group is untouched"
	is "$(group_field name)/$(group_field strategy)" "g/$strategy" \
		"$strategy: status lists the group"
	is "$(field b group)" g "$strategy: and each member's group"
	stop_tendd
	is "$TENDD_STATUS" 0 "$strategy: tendd exits 0"
done
check_clean_log

# --- a group that gives up stops its members; escalate makes tendd exit 75
group_conf one_for_one 1
start_tendd || exit 1
check "give up: the group fails" wait_for 15 eval '[ "$(group_field state)" = failed ]'
check "its members stop" wait_for 10 eval 'state_is a stopped && state_is c stopped'
is "$(field b state)" failed "the failing member is failed"
is "$(field out state)" ready "services outside run on"
check "the log says why" log_has "group 'g' gives up: more than 1 restarts within 10s"
stop_tendd
is "$TENDD_STATUS" 0 "without escalate tendd runs on and exits 0"

group_conf one_for_all 1 "escalate = true;"
start_tendd || exit 1
check "escalate: tendd exits by itself" wait_for 20 eval '! kill -0 $TENDD_PID 2>/dev/null'
wait "$TENDD_PID"
is "$?" 75 "with status 75, so that systemd restarts it"
TENDD_PID=
check "having stopped every service" log_has "all services stopped"
check "and said why" log_has "'g' gave up and escalates"
check_clean_log
done_testing
