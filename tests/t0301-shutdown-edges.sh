#!/bin/bash
# Shutdown with services already down (exited, failed, in backoff) keeps
# the reverse order and still waits for each; starts are refused while
# shutting down; a thread abandoned for stopping late is joined when it
# ends and no longer counts against the exit status.
. "$(dirname "$0")/lib-tendd.sh"

STOP_TIMEOUT=0.3 write_conf <<'EOF2'
services = (
  { name = "a"; plugin = "ticker.so"; executor = "async"; },
  { name = "b"; plugin = "misbehave.so"; executor = "thread";
    settings = { action = "ignore_stop"; after = 0.0; }; },
  { name = "done"; plugin = "misbehave.so"; executor = "async";
    restart = { policy = "transient"; };
    settings = { action = "exit"; after = 0.0; }; },
  { name = "broken"; plugin = "misbehave.so"; executor = "async";
    restart = { policy = "temporary"; };
    settings = { action = "fail"; after = 0.0; }; },
  { name = "waiting"; plugin = "misbehave.so"; executor = "async";
    restart = { backoff = "fixed"; delay = 60.0; max_delay = 60.0; };
    settings = { action = "fail"; after = 0.0; }; }
);
EOF2
start_tendd || exit 1
wait_for 10 state_is done exited
wait_for 10 state_is broken failed
wait_for 10 state_is waiting backoff
wait_for 10 state_is b ready
pid=$TENDD_PID
kill -TERM "$pid"
check "shutdown starts" wait_for 10 log_has 'signal 15: stopping'
tctl start done >/dev/null 2>&1
is "$?" 1 "tendctl start is refused while shutting down"
check "tendd ends even with a thread that will not stop" wait_for 20 eval "! kill -0 $pid 2>/dev/null"
wait "$pid"
is "$?" 1 "and exits 1 for it"
TENDD_PID=
order=$(grep -Eo ' (a|b): stopping$' "$T/log" | tr -d ' ' | tr '\n' ' ')
is "$order" "b:stopping a:stopping " "b is stopped (and waited for) before a"
check "b was abandoned" log_has ' error +b: thread [0-9]+ did not stop within 0.3s'
check "done was not started again" eval '[ "$(log_count " done: started")" -eq 1 ]'
check_clean_log

# a thread-async plugin that stops late: abandoned, then joined
STOP_TIMEOUT=0.2 write_conf <<'EOF2'
services = (
  { name = "late"; plugin = "misbehave.so"; executor = "thread-async";
    settings = { action = "late_stop"; late = 0.4; }; }
);
EOF2
start_tendd || exit 1
wait_for 10 state_is late ready
fds_before=$(ls /proc/$TENDD_PID/fd | wc -l)
for i in 1 2 3 4 5; do
	tctl restart late >/dev/null
	wait_for 10 eval "[ \"\$(log_count 'abandoned instance of .late. has ended')\" -ge $i ]"
	wait_for 10 state_is late ready
done
is "$(log_count 'abandoned instance of .late. has ended')" 5 "each late thread was abandoned, then joined when it ended"
fds_after=$(ls /proc/$TENDD_PID/fd | wc -l)
is "$fds_after" "$fds_before" "its loop and descriptors were released ($fds_after fds)"
tctl stop late >/dev/null
check "a late stop by hand is abandoned and joined too" \
	wait_for 10 eval "[ \"\$(log_count 'abandoned instance of .late. has ended')\" -eq 6 ]"
stop_tendd
is "$TENDD_STATUS" 0 "threads that ended after all do not make the exit fail"
check_clean_log
done_testing
