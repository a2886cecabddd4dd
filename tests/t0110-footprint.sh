#!/bin/bash
# What a thread costs tendd: it runs with glibc's static TLS reserve for
# one link namespace, executing itself once to get it (same pid and name)
# and then putting GLIBC_TUNABLES back as it was; a GLIBC_TUNABLES that
# sets the count, a setuid run and a run through ld.so are left as they
# are; a plugin that needs the reserve is told how to get it back. A
# thread-async service that waits gives back the stack its start-up
# touched.
. "$(dirname "$0")/lib-tendd.sh"

# VAR's value in the environment tendd was executed with (its last exec)
exec_env() {
	tr '\0' '\n' <"/proc/$TENDD_PID/environ" | sed -n "s/^$1=//p"
}
# the variables tendd's exec came with
exec_has() { tr '\0' '\n' <"/proc/$TENDD_PID/environ" | grep -q "^$1="; }

# what a plugin reads of VAR in tendd's environment, through service SVC
plugin_env() {
	wait_for 10 log_has " $1: env $2" &&
		sed -n "s/.* $1: env $2[= ]//p" "$T/log" | tail -1
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
  { name = "mark"; plugin = "misbehave.so"; executor = "async";
    settings = { action = "none"; show_env = "TEND_TUNABLES_WAS"; }; },
  { name = "deepthread"; plugin = "misbehave.so"; executor = "thread";
    settings = { action = "none"; stack_kb = 256; }; }
);
EOF2

unset GLIBC_TUNABLES
start_tendd || exit 1
is "$(exec_env GLIBC_TUNABLES)" "glibc.rtld.nns=1" \
	"tendd executed itself with GLIBC_TUNABLES=glibc.rtld.nns=1"
is "$(cat "/proc/$TENDD_PID/comm")" tendd \
	"it keeps its pid and its name across the exec"
is "$(plugin_env deep GLIBC_TUNABLES)" unset \
	"then unset GLIBC_TUNABLES again: a plugin sees none"
is "$(plugin_env mark TEND_TUNABLES_WAS)" unset \
	"nor the variable that carried it across"
for s in deep deepthread; do
	check "$s is ready" wait_for 10 state_is $s ready
done

# rss_of TID: set rss to stack_rss_kb TID, when it can be read
rss_of() { rss=$(stack_rss_kb "$1") && [ -n "$rss" ]; }

deep=$(field deep tid) rss=
check "the thread-async thread waits in its loop" wait_for 10 rss_of "$deep"
[ "$rss" -lt 64 ]
ok $? "after a 256 KiB start-up, a waiting thread-async thread holds ${rss} KiB of stack (< 64)"
thr=$(field deepthread tid) rss=
check "the thread service's thread waits in poll()" wait_for 10 rss_of "$thr"
[ "$rss" -ge 256 ]
ok $? "a thread service, which keeps its stack, holds ${rss} KiB (>= 256: the measure sees it)"
stop_tendd TERM
is "$TENDD_STATUS" 0 "tendd exits 0"

GLIBC_TUNABLES=glibc.malloc.arena_max=2 start_tendd || exit 1
is "$(exec_env TEND_TUNABLES_WAS)" "glibc.malloc.arena_max=2" \
	"with other tunables set, tendd executes itself too"
is "$(plugin_env deep GLIBC_TUNABLES)" "glibc.malloc.arena_max=2" \
	"and puts them back as they were"
stop_tendd TERM

GLIBC_TUNABLES=glibc.rtld.nns=2 start_tendd || exit 1
exec_has TEND_TUNABLES_WAS
ok $((!$?)) "a namespace count already set: no exec"
is "$(plugin_env deep GLIBC_TUNABLES)" "glibc.rtld.nns=2" "and it is kept"
check "and tendd runs with it" wait_for 10 state_is deep ready
stop_tendd TERM
check_clean_log

# the price: less room for plugins' initial-exec TLS, and the way out
write_conf <<'EOF2'
services = ( { name = "big"; plugin = "bigtls.so"; executor = "async"; } );
EOF2
out=$("$TENDD" -t -c "$T/tend.conf" 2>&1)
is "$?" 78 "a plugin with 1 KiB of initial-exec TLS does not load"
like "$out" 'tend\.conf:[0-9]+: plugin: .*static TLS block \(.*GLIBC_TUNABLES in tendd\(8\)\)' \
	"the error says so, and where to look"
out=$(GLIBC_TUNABLES=glibc.rtld.nns=4 "$TENDD" -t -c "$T/tend.conf" 2>&1)
is "$?" 0 "with GLIBC_TUNABLES=glibc.rtld.nns=4 it does"

# no exec where it would fail: through the dynamic loader, /proc/self/exe
# is the loader; setuid, glibc drops the tunable (and tendd would loop)
interp=$(readelf -l "$TENDD" | sed -n 's/.*interpreter: \(.*\)\]$/\1/p')
like "$(timeout 10 "$interp" "$TENDD" -V 2>&1)" '^tendd [0-9.]+ ' \
	"tendd run through $interp starts"
if test_user; then
	cp "$TENDD" "$T/tendd-setuid" && chmod 4755 "$T/tendd-setuid"
	like "$(timeout 10 setpriv --reuid=tendtest --regid=tendtest \
		--clear-groups "$T/tendd-setuid" -V 2>&1)" '^tendd [0-9.]+ ' \
		"a setuid tendd run by another user starts"
else
	ok 0 "# SKIP not root: no setuid run"
fi
done_testing
