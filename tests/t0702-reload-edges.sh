#!/bin/bash
# Reloads and dependencies meeting hand-made changes and shutdown: each
# case once made a reload wait forever, a service start when it should
# not, or tendd misreport. Every reload here must end, in bounded time.
. "$(dirname "$0")/lib-tendd.sh"

# reload_within SECONDS: tendctl reload, which must answer in time
reload_within() { timeout "$1" "$TENDCTL" -s "$SOCK" reload >"$T/reload.out" 2>&1; }

# --- a service being removed cannot be started meanwhile
write_conf <<'EOF2'
services = (
  { name = "keep"; plugin = "ticker.so"; executor = "async"; },
  { name = "old"; plugin = "msgtest.so"; executor = "thread"; settings = { stop_delay = 1.0; }; }
);
EOF2
start_tendd || exit 1
wait_for 10 state_is old ready
write_conf <<'EOF2'
services = (
  { name = "keep"; plugin = "ticker.so"; executor = "async"; }
);
EOF2
reload_within 20 &
reloader=$!
wait_for 5 state_is old stopping
out=$(tctl start old 2>&1)
is $? 1 "removing: tendctl start of the service being removed is refused"
like "$out" "no service named 'old'" "as if it were gone already"
wait "$reloader"
is $? 0 "removing: the reload ends"
check "removing: and the service is gone" eval '! tctl status old'

# --- a reload replacing a service that is stopped by hand meanwhile
write_conf <<'EOF2'
services = (
  { name = "svc"; plugin = "msgtest.so"; executor = "thread"; settings = { stop_delay = 1.0; }; }
);
EOF2
tctl reload >/dev/null
wait_for 10 state_is svc ready
sed -i 's/executor = "thread"/executor = "process"/' "$T/tend.conf"
reload_within 20 &
reloader=$!
wait_for 5 state_is svc stopping
check "replacing: tendctl stop meanwhile" tctl stop svc
wait "$reloader"
is $? 0 "replacing: the reload ends"
is "$(field svc state)" stopped "replacing: the service stays stopped"
like "$(cat "$T/reload.out")" 'svc: stopped since' "replacing: the report says so"

# --- added, depending on a service that is stopped: waits, reload ends
write_conf <<'EOF2'
services = (
  { name = "db"; plugin = "ticker.so"; executor = "async"; }
);
EOF2
tctl reload >/dev/null
tctl stop db >/dev/null
write_conf <<'EOF2'
services = (
  { name = "db"; plugin = "ticker.so"; executor = "async"; },
  { name = "web"; plugin = "ticker.so"; executor = "async"; depends = [ "db" ]; }
);
EOF2
reload_within 10
is $? 0 "waiting: a reload adding a service that waits ends"
like "$(cat "$T/reload.out")" 'web: waiting for what it depends on' "waiting: and says why"
is "$(field web waiting)" true "waiting: the service waits"

# --- tendctl stop on a waiting service: it stays stopped
check "waiting: tendctl stop" tctl stop web
check "waiting: db starts" tctl start db
wait_for 10 state_is db ready
tctl status >/dev/null # a loop pass after db got ready
is "$(field web state)" stopped "waiting: a stopped service does not start when its dependency is ready"
is "$(field web waiting)" null "waiting: and no longer waits"

# --- dropping a dependency that is down lets the waiting service start
write_conf <<'EOF2'
services = (
  { name = "db"; plugin = "misbehave.so"; executor = "async";
    restart = { policy = "temporary"; }; settings = { action = "start_fail"; }; },
  { name = "web"; plugin = "ticker.so"; executor = "async"; depends = [ "db" ]; }
);
EOF2
reload_within 10
wait_for 10 state_is db failed
check "dropped: tendctl start web" tctl start web # it is stopped since above
sed -i 's/ depends = \[ "db" \];//' "$T/tend.conf"
reload_within 10
check "dropped: once the dependency is dropped, the service starts" wait_for 10 state_is web ready
stop_tendd
is "$TENDD_STATUS" 0 "tendd exits 0"
check_clean_log

# --- a service mid-restart at SIGTERM does not start again
write_conf <<'EOF2'
services = (
  { name = "x"; plugin = "msgtest.so"; executor = "thread"; settings = { stop_delay = 0.5; }; },
  { name = "y"; plugin = "msgtest.so"; executor = "thread"; settings = { stop_delay = 1.0; }; }
);
EOF2
start_tendd || exit 1
wait_for 10 state_is y ready
tctl restart x >/dev/null
stop_tendd
is "$TENDD_STATUS" 0 "shutdown: tendd exits 0"
is "$(log_count 'x: started')" 1 "shutdown: x, mid-restart, is not started again"

# --- settings too big for a child are a clear failure, and a reload ends
BIG=$(head -c 70000 /dev/zero | tr '\0' x)
write_conf <<EOF2
services = (
  { name = "big"; plugin = "worker.so"; executor = "process";
    restart = { policy = "temporary"; }; settings = { blob = "$BIG"; }; },
  { name = "w"; plugin = "worker.so"; executor = "process"; }
);
EOF2
start_tendd || exit 1
wait_for 10 state_is big failed
like "$(field big last_exit)" 'settings too large for a child: [0-9]+ bytes as JSON, at most 65536' \
	"big: the start fails and says why"
wait_for 10 state_is w ready
sed -i "s/name = \"w\"; plugin = \"worker.so\"; executor = \"process\"; }/name = \"w\"; plugin = \"worker.so\"; executor = \"process\"; settings = { blob = \"$BIG\"; }; }/" "$T/tend.conf"
reload_within 20
check "big: a reload handing a child too much ends" true
like "$(cat "$T/reload.out")" 'w: ' "big: with a line for it"
check "big: which is logged" log_has 'w: settings too large for a child'
stop_tendd
is "$TENDD_STATUS" 0 "tendd exits 0"
check_clean_log

# --- services are matched by name whatever their order: reversed, one
# removed and one added in the middle, one changed; the reply lists each
# order_conf NAME[:changed]...: async tickers, in that order
order_conf() {
	local n sep=
	{
		echo "services = ("
		for n in "$@"; do
			printf '%s  { name = "%s"; plugin = "ticker.so"; executor = "async";%s }' \
				"$sep" "${n%%:*}" "$([ "$n" != "${n%:changed}" ] && echo ' stop_timeout = 3.0;')"
			sep=$',\n'
		done
		printf '\n);\n'
	} | write_conf
}
outcomes() {
	perl -MJSON::PP -0777 -ne 'print join " ", map "$_->{name}=$_->{outcome}",
		@{decode_json($_)->{reload}{services}}' "$1"
}
order_conf a b c d e f g h
start_tendd || exit 1
wait_for 10 state_is h ready
order_conf h g f x e c:changed b a
tctl --json reload >"$T/j"
is $? 0 "order: the reload succeeds"
is "$(outcomes "$T/j")" \
	"h=unchanged g=unchanged f=unchanged x=added e=unchanged c=reconfigured b=unchanged a=unchanged d=removed" \
	"order: each service is found by name, in any order"
order_conf h g f x e c:changed b a
tctl --json reload >"$T/j"
is "$(outcomes "$T/j")" \
	"h=unchanged g=unchanged f=unchanged x=unchanged e=unchanged c=unchanged b=unchanged a=unchanged" \
	"order: then nothing changed"
stop_tendd
is "$TENDD_STATUS" 0 "tendd exits 0"

# --- a reason with a quote, a backslash and a tab is escaped in the reply
odd="$T/"$'q"b\\s\tt'
mkdir -p "$odd"
cp "$B/plugins/ticker.so" "$odd/ticker.so"
esc=$(printf '%s' "$odd" | sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/\t/\\t/g')
printf 'services = (\n  { name = "odd"; plugin = "%s/ticker.so"; executor = "async"; },\n  { name = "fine"; plugin = "ticker.so"; executor = "async"; }\n);\n' \
	"$esc" | write_conf
start_tendd || exit 1
wait_for 10 state_is odd ready
printf 'not a shared object\n' >"$odd/ticker.so.new"
mv -f "$odd/ticker.so.new" "$odd/ticker.so"
tctl --json reload >"$T/j"
is $? 1 "escape: the reload reports a failed service"
is "$(ODD=$odd perl -MJSON::PP -0777 -ne '
	my ($s) = grep { $_->{name} eq "odd" } @{decode_json($_)->{reload}{services}};
	print $s->{outcome}, " ", index($s->{reason}, "cannot load \x27$ENV{ODD}/ticker.so\x27") >= 0 ? "named" : "not named: $s->{reason}"' "$T/j")" \
	"failed named" "escape: the reason, with the odd path, reads back from the JSON"
like "$(cat "$T/j")" 'q\\"b\\\\s\\tt/ticker.so' "escape: quote, backslash and tab are escaped"
is "$(outcomes "$T/j")" "odd=failed fine=unchanged" "escape: and the other service is unchanged"
stop_tendd
is "$TENDD_STATUS" 0 "tendd exits 0"
check_clean_log
done_testing
