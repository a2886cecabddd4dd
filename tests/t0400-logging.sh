#!/bin/bash
# Every log line says the time, the level and who speaks; log.level
# filters; JOURNAL_STREAM switches to journald's priority prefixes.
. "$(dirname "$0")/lib-tendd.sh"

CONF='services = ( { name = "clock"; plugin = "ticker.so"; executor = "async";
                    settings = { interval = 0.02; }; } );'

printf '%s\n' "$CONF" | write_conf
start_tendd || exit 1
wait_for 10 log_has ' clock: tick 3$'
stop_tendd
lines=$(grep -c . "$T/log")
good=$(grep -Ec '^[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3} (debug|info|notice|warning|error) +[A-Za-z0-9_.#-]+: ' "$T/log")
is "$good" "$lines" "every line has time, level and service ($lines lines)"
check "no debug lines at level info" eval '! log_has " debug "'
check "plugin lines carry the service name" log_has ' info +clock: tick 1$'

printf '%s\n' "$CONF" | TEND_EXTRA='log = { level = "warning"; };' write_conf
start_tendd || exit 1
# ticks are info lines: after 0.5 s of uptime some 25 would have shown
wait_for 10 eval 'awk "BEGIN { exit !($(field clock uptime) >= 0.5) }"'
stop_tendd
check "level warning hides info lines" eval '! grep -Eq " (info|notice) " "$T/log"'

printf '%s\n' "$CONF" | TEND_EXTRA='log = { level = "debug"; };' write_conf
start_tendd || exit 1
wait_for 10 log_has ' clock: tick 2$'
stop_tendd
check "level debug shows state changes" log_has ' debug +clock: starting -> ready$'

printf '%s\n' "$CONF" | write_conf
start_tendd -d || exit 1
stop_tendd
check "-d turns debug on" log_has ' debug +clock: '

printf '%s\n' "$CONF" | write_conf
: >"$T/log"
JOURNAL_STREAM=8:1234 "$TENDD" -c "$T/tend.conf" >>"$T/log" 2>&1 &
TENDD_PID=$!
wait_for 10 log_has 'clock: tick 1$'
stop_tendd
check "under journald lines start with a priority" log_has '^<6>clock: tick 1$'
check "and carry no timestamp" eval '! grep -Eq "^[0-9]{4}-" "$T/log"'
check "notice is priority 5" log_has '^<5>tendd: ready$'
check_clean_log
done_testing
