#!/bin/bash
# What a thread costs tendd: it runs with glibc's static TLS reserve for
# one link namespace (executing itself once to get it, keeping its pid and
# name, respecting a GLIBC_TUNABLES that sets it), and a thread-async
# service that waits gives back the stack its start-up touched.
. "$(dirname "$0")/lib-tendd.sh"

# what an in-process plugin reads of tendd's GLIBC_TUNABLES (its
# /proc/PID/environ shows only the first tunable: glibc parses it in place)
tunables() {
	wait_for 10 log_has ' deep: env GLIBC_TUNABLES' &&
		sed -n 's/.* deep: env GLIBC_TUNABLES[= ]//p' "$T/log" | tail -1
}

# stack_rss_kb TID: resident KiB of the mapping that holds the stack of
# tendd's thread TID, read while the thread waits in a system call
stack_rss_kb() {
	local call first rest start end in=0
	read -ra call <"/proc/$TENDD_PID/task/$1/syscall" || return 1
	[ "${#call[@]}" -ge 3 ] || return 1 # "running"
	local sp=$((call[${#call[@]} - 2]))
	while read -r first rest; do
		case $first in
		*-*)
			start=$((16#${first%-*}))
			end=$((16#${first#*-}))
			in=$((sp >= start && sp < end))
			;;
		Rss:)
			if [ "$in" = 1 ]; then
				echo "${rest%% *}"
				return 0
			fi
			;;
		esac
	done <"/proc/$TENDD_PID/smaps"
	return 1
}

write_conf <<'EOF2'
services = (
  { name = "deep"; plugin = "misbehave.so"; executor = "thread-async";
    settings = { action = "none"; stack_kb = 256;
                 show_env = "GLIBC_TUNABLES"; }; },
  { name = "deepthread"; plugin = "misbehave.so"; executor = "thread";
    settings = { action = "none"; stack_kb = 256; }; }
);
EOF2

unset GLIBC_TUNABLES
start_tendd || exit 1
is "$(tunables)" "glibc.rtld.nns=1" \
	"tendd runs with GLIBC_TUNABLES=glibc.rtld.nns=1"
is "$(cat "/proc/$TENDD_PID/comm")" tendd \
	"it keeps its pid and its name across the exec"
for s in deep deepthread; do
	check "$s is ready" wait_for 10 state_is $s ready
done

deep=$(field deep tid)
check "the thread-async thread waits in its loop" \
	wait_for 10 stack_rss_kb "$deep"
rss=$(stack_rss_kb "$deep")
[ "$rss" -lt 64 ]
ok $? "after a 256 KiB start-up, a waiting thread-async thread holds ${rss} KiB of stack (< 64)"
thr=$(field deepthread tid)
check "the thread service's thread waits in poll()" \
	wait_for 10 stack_rss_kb "$thr"
rss=$(stack_rss_kb "$thr")
[ "$rss" -ge 256 ]
ok $? "a thread service, which keeps its stack, holds ${rss} KiB (>= 256: the measure sees it)"
stop_tendd TERM
is "$TENDD_STATUS" 0 "tendd exits 0"

GLIBC_TUNABLES=glibc.malloc.arena_max=2 start_tendd || exit 1
is "$(tunables)" "glibc.malloc.arena_max=2:glibc.rtld.nns=1" \
	"other tunables are kept, the namespace count is added"
stop_tendd TERM

GLIBC_TUNABLES=glibc.rtld.nns=2 start_tendd || exit 1
is "$(tunables)" "glibc.rtld.nns=2" "a namespace count already set is left alone"
check "and tendd runs with it" wait_for 10 state_is deep ready
stop_tendd TERM
check_clean_log
done_testing
