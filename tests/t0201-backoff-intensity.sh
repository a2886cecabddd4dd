#!/bin/bash
# Backoff waits grow by their kind and are forgotten after a stable run;
# too many restarts within the period give up into `failed`, which a
# start by hand leaves again.
. "$(dirname "$0")/lib-tendd.sh"

write_conf <<'EOF2'
services = (
  { name = "exp"; plugin = "misbehave.so"; executor = "thread";
    restart = { backoff = "exponential"; delay = 0.05; max_delay = 0.2;
                jitter = 0.0; reset = 100.0; intensity = 100; };
    settings = { action = "fail"; after = 0.01; }; },
  { name = "lin"; plugin = "misbehave.so"; executor = "async";
    restart = { backoff = "linear"; delay = 0.05; max_delay = 10.0;
                jitter = 0.0; reset = 100.0; intensity = 100; };
    settings = { action = "fail"; after = 0.01; }; },
  { name = "stable"; plugin = "misbehave.so"; executor = "thread-async";
    restart = { backoff = "exponential"; delay = 0.05; max_delay = 10.0;
                jitter = 0.0; reset = 0.1; intensity = 100; };
    settings = { action = "fail"; after = 0.15; }; },
  { name = "giveup"; plugin = "misbehave.so"; executor = "thread";
    restart = { backoff = "immediate"; intensity = 2; period = 30.0; };
    settings = { action = "fail"; after = 0.01; }; },
  { name = "slow"; plugin = "misbehave.so"; executor = "async";
    restart = { backoff = "fixed"; delay = 60.0; max_delay = 60.0; };
    settings = { action = "error"; after = 0.01; }; }
);
EOF2
start_tendd || exit 1

waits() { # the backoff waits logged for $1, in order
	grep -Eo " $1: restarting in [0-9.]+s" "$T/log" | awk '{print $NF}' | head -"$2" | tr '\n' ' '
}
enough() { [ "$(log_count " $1: restarting in")" -ge "$2" ]; }

check "exponential waits were logged" wait_for 20 enough exp 5
is "$(waits exp 5)" "0.050s 0.100s 0.200s 0.200s 0.200s " "exponential doubles up to max_delay"
check "linear waits were logged" wait_for 20 enough lin 4
is "$(waits lin 4)" "0.050s 0.100s 0.150s 0.200s " "linear grows by delay"
check "stable waits were logged" wait_for 20 enough stable 3
is "$(waits stable 3)" "0.050s 0.050s 0.050s " "a run longer than reset forgets past failures"

check "giveup is failed" wait_for 20 state_is giveup failed
is "$(field giveup gave_up)" true "status says it gave up"
is "$(field giveup restarts)" 2 "after intensity restarts"
like "$(field giveup last_exit)" '^failed: on purpose$' "the last reason is kept"
runs=$(log_count ' giveup: started')
is "$runs" 3 "it ran intensity + 1 times"
tctl start giveup >/dev/null
is "$?" 0 "a failed service can be started by hand"
check "it runs again" wait_for 20 eval '[ "$(log_count " giveup: started")" -gt 3 ]'
check "and, still failing, gives up again" wait_for 20 eval '[ "$(log_count " giveup: giving up")" -eq 2 ]'
is "$(log_count ' giveup: started')" 6 "after a full new allowance of restarts"

check "slow waits in backoff" wait_for 20 state_is slow backoff
like "$(field slow next_start_in)" '^[0-9]+(\.[0-9]+)?$' "status says when it starts next"
like "$(field slow last_exit)" '^exit code 3$' "and why it ended"
tctl stop slow >/dev/null
check "a service in backoff stops at once" state_is slow stopped
check "its restart is cancelled" log_has ' slow: restart cancelled$'

stop_tendd
is "$TENDD_STATUS" 0 "tendd exits 0"
check_clean_log
done_testing
