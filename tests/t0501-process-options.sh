#!/bin/bash
# Process options: a real unprivileged user and group, umask, workdir,
# a clean environment with additions, rlimits and no_new_privs, each
# checked in /proc on the running child.
. "$(dirname "$0")/lib-tendd.sh"

if ! test_user; then
	echo "1..0 # SKIP needs root and a user tendtest to create a user and drop privileges"
	exit 0
fi
USER_NAME=tendtest
uid=$TEST_UID
gid=$TEST_GID
mkdir -p "$T/work"

write_conf <<EOF2
services = (
  { name = "jailed"; plugin = "misbehave.so"; executor = "process";
    user = "$USER_NAME"; umask = "0027"; workdir = "work";
    env = { FOO = "bar"; LANG = "C"; };
    rlimits = { nofile = 256; core = 0; cpu = "infinity"; };
    no_new_privs = true;
    settings = { action = "none"; }; },
  { name = "plain"; plugin = "misbehave.so"; executor = "process-async";
    settings = { action = "none"; }; }
);
EOF2
HOME=/nowhere LEAK_CHECK=1 start_tendd || exit 1
wait_for 10 state_is jailed ready
pid=$(field jailed pid)
st=/proc/$pid/status
like "$(grep '^Uid:' "$st")" "^Uid:\s+$uid\s+$uid\s+$uid\s+$uid$" "runs as user $USER_NAME ($uid)"
like "$(grep '^Gid:' "$st")" "^Gid:\s+$gid\s+$gid\s+$gid\s+$gid$" "with its group ($gid)"
like "$(grep '^Groups:' "$st")" "^Groups:\s*($gid\s*)?$" "and no supplementary group of root's"
like "$(grep '^Umask:' "$st")" '^Umask:\s+0027$' "umask 0027"
like "$(grep '^NoNewPrivs:' "$st")" '^NoNewPrivs:\s+1$' "no_new_privs is set"
is "$(readlink /proc/$pid/cwd)" "$T/work" "workdir is its cwd"
like "$(grep '^Max open files' /proc/$pid/limits)" '^Max open files +256 +256 ' "rlimit nofile 256"
like "$(grep '^Max core file size' /proc/$pid/limits)" '^Max core file size +0 +0 ' "rlimit core 0"
like "$(grep '^Max cpu time' /proc/$pid/limits)" '^Max cpu time +unlimited +unlimited ' "rlimit cpu infinity"
env=$(tr '\0' '\n' </proc/$pid/environ)
like "$env" '^FOO=bar$' "env adds FOO"
like "$env" '^TEND_SERVICE=jailed$' "the child knows its service name"
user_home=$(getent passwd "$USER_NAME" | cut -d: -f6)
user_shell=$(getent passwd "$USER_NAME" | cut -d: -f7)
like "$env" "^HOME=$user_home\$" "HOME is its user's, not tendd's"
like "$env" "^USER=$USER_NAME\$" "and USER"
like "$env" "^LOGNAME=$USER_NAME\$" "and LOGNAME"
like "$env" "^SHELL=$user_shell\$" "and SHELL"
check "nothing of tendd's own environment" eval '! printf "%s\n" "$env" | grep -q "^LEAK_CHECK=\|^HOME=/nowhere"'

plain=$(field plain pid)
like "$(grep '^Uid:' /proc/$plain/status)" '^Uid:\s+0\s' "without user, the child keeps tendd's user"
like "$(grep '^NoNewPrivs:' /proc/$plain/status)" '^NoNewPrivs:\s+0$' "and no_new_privs is off by default"
like "$(tr '\0' '\n' </proc/$plain/environ)" "^HOME=$(getent passwd root | cut -d: -f6)\$" \
	"and the HOME of tendd's user, from the password database"

stop_tendd
is "$TENDD_STATUS" 0 "tendd exits 0"
check_clean_log
done_testing
