#!/bin/bash
# Who may use the control socket: its owner, group and mode come from the
# config, and changing commands need root or tendd's own user (checked
# with SO_PEERCRED); anyone who can open the socket may read status.
. "$(dirname "$0")/lib-tendd.sh"

if ! test_user; then
	echo "1..0 # SKIP needs root and a user tendtest to create a user and switch to it"
	exit 0
fi
USER_NAME=tendtest
uid=$TEST_UID
gid=$TEST_GID

# as_user CMD...: run as the unprivileged user, without root's groups
as_user() { setpriv --reuid="$uid" --regid="$gid" --clear-groups "$@"; }

cat >"$T/tend.conf" <<EOF2
tend = {
  plugin_path = [ "$B/plugins" ];
  control = { socket = "$SOCK"; mode = "0660"; group = "$USER_NAME"; };
};
services = (
  { name = "clock"; plugin = "ticker.so"; executor = "async"; }
);
EOF2
start_tendd || exit 1
wait_for 10 state_is clock ready

is "$(stat -c '%a %U %G' "$SOCK")" "660 root $USER_NAME" \
	"the socket has the mode and group of the config"
as_user "$TENDCTL" -s "$SOCK" status clock >/dev/null 2>&1
is $? 0 "another user in the socket's group may read status"
as_user "$TENDCTL" -s "$SOCK" reload --dry-run >/dev/null 2>&1
is $? 0 "and may ask what a reload would do"
for cmd in "stop clock" "start clock" "restart clock" "log-level debug" "reload"; do
	out=$(as_user "$TENDCTL" -s "$SOCK" $cmd 2>&1)
	is $? 1 "another user is refused '$cmd' (exit 1)"
	like "$out" "permission denied: '${cmd%% *}' needs root or uid 0" \
		"and told why"
done
is "$(field clock state)" ready "nothing the other user asked for happened"
check "nor did a reload" eval "! log_has 'reload [0-9]+ \\(tendctl, uid $uid\\): reading'"
log_has "log level debug" && ok 1 "the log level is unchanged" || ok 0 "the log level is unchanged"
check "root may" tctl log-level info

# without the group, the socket cannot be opened at all
sed -i "s/group = \"$USER_NAME\"; //" "$T/tend.conf"
check "a reload drops the group" tctl reload
is "$(stat -c '%G' "$SOCK")" root "the socket's group follows the config"
as_user "$TENDCTL" -s "$SOCK" status >/dev/null 2>&1
is $? 3 "others cannot reach tendd (exit 3)"

stop_tendd
is "$TENDD_STATUS" 0 "tendd exits 0"
check_clean_log
done_testing
