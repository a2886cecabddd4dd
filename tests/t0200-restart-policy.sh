#!/bin/bash
# Restart policies under every in-process executor, with a plugin that
# fails on purpose: by returning an error, by tend_fail(), by exiting.
. "$(dirname "$0")/lib-tendd.sh"

EXECUTORS="async thread thread-async"
# name  policy  settings
CASES="
permclean  permanent action=\"exit\";
transclean transient action=\"exit\";
transfail  transient action=\"fail\";
transerror transient action=\"error\";
tempfail   temporary action=\"fail\";
initfail   permanent action=\"init_fail\";
"
{
	echo "services = ("
	sep=
	for e in $EXECUTORS; do
		printf '%s\n' "$CASES" | while read -r name policy settings; do
			[ -n "$name" ] || continue
			printf '%s{ name = "%s-%s"; plugin = "misbehave.so"; executor = "%s";\n' "$sep" "$e" "$name" "$e"
			printf '  restart = { policy = "%s"; backoff = "immediate"; intensity = 3; period = 60.0; };\n' "$policy"
			printf '  settings = { %s after = 0.05; }; }\n' "$settings"
			sep=,
		done
		sep=,
	done
	echo ");"
} | sed 's/^}/},/' | write_conf
start_tendd || exit 1

restarted() { [ "$(field "$1" restarts)" -ge "$2" ]; }

for e in $EXECUTORS; do
	check "$e: permanent restarts after a clean exit" wait_for 10 restarted $e-permclean 2
	like "$(field $e-permclean last_exit)" '^exited cleanly$' "$e: the clean exit is the last reason"

	check "$e: transient ends after a clean exit" wait_for 10 state_is $e-transclean exited
	is "$(field $e-transclean restarts)" 0 "$e: ... without a restart"

	check "$e: transient restarts after tend_fail" wait_for 10 restarted $e-transfail 1
	like "$(field $e-transfail last_exit)" '^failed: on purpose$' "$e: tend_fail's reason is kept"

	check "$e: transient restarts after an error" wait_for 10 restarted $e-transerror 1
	like "$(field $e-transerror last_exit)" '^exit code 3$' "$e: the exit code is kept"

	check "$e: temporary is failed after a failure" wait_for 10 state_is $e-tempfail failed
	is "$(field $e-tempfail restarts)" 0 "$e: ... and not restarted"
	is "$(field $e-tempfail gave_up)" false "$e: ... without giving up"

	check "$e: a failing init gives up in the end" wait_for 10 state_is $e-initfail failed
	like "$(field $e-initfail last_exit)" '^failed to start: init\(\) failed$' "$e: init failure is the reason"
	is "$(field $e-initfail restarts)" 3 "$e: after intensity (3) restarts"
	is "$(field $e-initfail gave_up)" true "$e: status says it gave up"
done
check "giving up is logged with the last reason" log_has 'thread-initfail: giving up: more than 3 restarts within 60s; last: failed to start: init\(\) failed$'
check "a failure is logged as a warning" log_has ' warning +async-transfail: failed: on purpose after [0-9.]+s$'

stop_tendd
is "$TENDD_STATUS" 0 "tendd exits 0"
check_clean_log
done_testing
