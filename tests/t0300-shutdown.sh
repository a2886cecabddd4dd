#!/bin/bash
# SIGTERM and SIGINT stop services in reverse start order, each within
# stop_timeout; a thread that will not stop is reported and the daemon
# still exits, with status 1.
. "$(dirname "$0")/lib-tendd.sh"

write_conf <<'EOF2'
services = (
  { name = "first"; plugin = "worker.so"; executor = "thread";
    settings = { interval = 10.0; }; },
  { name = "second"; plugin = "ticker.so"; executor = "thread-async"; },
  { name = "third"; plugin = "ticker.so"; executor = "async"; }
);
EOF2
start_tendd || exit 1
for s in first second third; do wait_for 10 state_is $s ready; done
stop_tendd INT
is "$TENDD_STATUS" 0 "SIGINT stops tendd with status 0"
order=$(grep -Eo ' (first|second|third): stopping$' "$T/log" | tr -d ' ' | tr '\n' ' ')
is "$order" "third:stopping second:stopping first:stopping " "in reverse start order"
like "$(grep -E 'first: stopped after' "$T/log")" 'first: stopped after 0\.[0-9]+s$' "a blocking worker stops at once, woken through its stop fd"
check_clean_log

STOP_TIMEOUT=0.3 write_conf <<'EOF2'
services = (
  { name = "good"; plugin = "ticker.so"; executor = "async"; },
  { name = "stubborn"; plugin = "misbehave.so"; executor = "thread";
    settings = { action = "ignore_stop"; after = 0.0; }; },
  { name = "deaf"; plugin = "misbehave.so"; executor = "thread-async";
    settings = { action = "ignore_stop"; after = 0.05; }; }
);
EOF2
start_tendd || exit 1
for s in good stubborn deaf; do wait_for 10 state_is $s ready; done
pid=$TENDD_PID
stop_tendd TERM
is "$TENDD_STATUS" 1 "a thread that does not stop makes tendd exit 1"
check "stubborn is reported" log_has ' error +stubborn: thread [0-9]+ did not stop within 0.3s; abandoned'
check "deaf is reported" log_has ' error +deaf: thread [0-9]+ did not stop within 0.3s; abandoned'
check "the others still stopped" log_has ' good: stopped after'
check "the exit is explained" log_has 'exiting with status 1: a service did not stop'
[ ! -d "/proc/$pid" ]
ok $? "nothing is left running"
check_clean_log
done_testing
