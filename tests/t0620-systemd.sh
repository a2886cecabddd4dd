#!/bin/bash
# systemd integration: the notify protocol spoken to a real datagram
# socket standing in for systemd (READY, RELOADING with MONOTONIC_USEC,
# STATUS, WATCHDOG from the main loop, STOPPING), and the unit file as
# systemd-analyze sees it.
. "$(dirname "$0")/lib-tendd.sh"

NOTES=$T/notes
# listen PATH: record each datagram on PATH as one line of $NOTES
listen() {
	perl -MSocket -MIO::Handle -e '
		my ($path, $out) = @ARGV;
		socket(my $s, AF_UNIX, SOCK_DGRAM, 0) or die "socket: $!";
		my $addr = $path =~ /^@/ ? "\0" . substr($path, 1) : $path;
		bind($s, pack_sockaddr_un($addr)) or die "bind: $!";
		open(my $f, ">>", $out) or die; $f->autoflush(1);
		print $f "listening\n";
		while (defined recv($s, my $buf, 65536, 0)) {
			$buf =~ s/\n/|/g; print $f "$buf\n";
		}
	' "$1" "$NOTES" &
	LISTENER=$!
	wait_for 5 grep -q listening "$NOTES"
}
notes_has() { grep -Eq -- "$1" "$NOTES"; }
notes_count() { grep -Ec -- "$1" "$NOTES"; }

write_conf <<'EOF2'
services = (
  { name = "clock"; plugin = "ticker.so"; executor = "async"; },
  { name = "jobs"; plugin = "worker.so"; executor = "process"; }
);
EOF2

: >"$NOTES"
listen "$T/notify"
NOTIFY_SOCKET=$T/notify WATCHDOG_USEC=200000 start_tendd || exit 1
check "READY=1 once the services are started" wait_for 10 notes_has '^READY=1\|STATUS=2 services'
check "STATUS= says how the services are" \
	wait_for 10 notes_has '^STATUS=2 services: 2 ready$'
check "WATCHDOG=1 every half WATCHDOG_USEC" wait_for 5 eval '[ $(notes_count "^WATCHDOG=1$") -ge 3 ]'
like "$(grep -m1 'watchdog' "$T/log")" 'systemd watchdog: pinging every 0.1s' \
	"the log says how often"

# a stuck main loop stops the pings: systemd then restarts tendd
kill -STOP "$TENDD_PID"
sleep 0.3 # nothing can be awaited: the point is that nothing comes
before=$(notes_count '^WATCHDOG=1$')
sleep 0.5
is "$(notes_count '^WATCHDOG=1$')" "$before" "a stopped main loop sends no WATCHDOG=1"
kill -CONT "$TENDD_PID"
check "and the pings come back with it" wait_for 5 eval '[ $(notes_count "^WATCHDOG=1$") -gt '"$before"' ]'

# reloads: RELOADING=1 with the monotonic time, then READY=1
check "a reload" tctl reload
check "RELOADING=1 with MONOTONIC_USEC" notes_has '^RELOADING=1\|MONOTONIC_USEC=[0-9]+\|'
usec=$(grep -m1 -o 'MONOTONIC_USEC=[0-9]*' "$NOTES" | cut -d= -f2)
now=$(perl -MTime::HiRes=clock_gettime,CLOCK_MONOTONIC -e 'printf "%d", clock_gettime(CLOCK_MONOTONIC) * 1e6')
ok $(( now - usec >= 0 && now - usec < 30000000 ? 0 : 1 )) "MONOTONIC_USEC is CLOCK_MONOTONIC in µs (${usec}, now ${now})"
line_reloading=$(grep -n '^RELOADING=1' "$NOTES" | head -1 | cut -d: -f1)
line_ready=$(grep -n '^READY=1.*last reload ok' "$NOTES" | head -1 | cut -d: -f1)
ok $(( line_ready > line_reloading ? 0 : 1 )) "READY=1 follows it, with the reload's result in STATUS"

echo 'services = (' >>"$T/tend.conf"
tctl reload >/dev/null 2>&1
check "a rejected reload is followed by READY=1 too" \
	wait_for 5 notes_has '^READY=1\|STATUS=.*last reload rejected$'

stop_tendd
check "STOPPING=1 at shutdown" notes_has '^STOPPING=1'
is "$TENDD_STATUS" 0 "tendd exits 0"
check_clean_log
kill "$LISTENER" 2>/dev/null
wait "$LISTENER" 2>/dev/null

# an abstract socket, and a watchdog meant for another process
sed -i '$d' "$T/tend.conf"
: >"$NOTES"
listen "@tend-test-$$"
NOTIFY_SOCKET=@tend-test-$$ WATCHDOG_USEC=100000 WATCHDOG_PID=1 start_tendd || exit 1
check "an abstract NOTIFY_SOCKET works" wait_for 10 notes_has '^READY=1'
tctl status >/dev/null
is "$(notes_count '^WATCHDOG=1$')" 0 "WATCHDOG_PID names another process: no pings"
check "services do not see NOTIFY_SOCKET" eval "! grep -qa NOTIFY_SOCKET /proc/$(field jobs pid)/environ"
stop_tendd
is "$TENDD_STATUS" 0 "tendd exits 0"
kill "$LISTENER" 2>/dev/null
wait "$LISTENER" 2>/dev/null

# the unit, with this build's paths, as systemd reads it
if command -v systemd-analyze >/dev/null; then
	sed -e "s|/usr/local/sbin/tendd|$TENDD|g" \
	    -e "s|/usr/local/etc/tend/tend.conf|$T/tend.conf|g" \
	    "$TOP/systemd/tend.service" >"$T/tend.service"
	out=$(systemd-analyze --man=no verify "$T/tend.service" 2>&1)
	is "$?:$out" "0:" "systemd-analyze verify finds nothing wrong with the unit"
	like "$(cat "$T/tend.service")" '^Type=notify$' "the unit is Type=notify"
	like "$(cat "$T/tend.service")" '^ExecReload=/bin/kill -HUP \$MAINPID$' "ExecReload sends SIGHUP"
	like "$(cat "$T/tend.service")" '^WatchdogSec=' "and sets WatchdogSec"
else
	ok 1 "systemd-analyze is installed (make test-deps)"
fi
done_testing
