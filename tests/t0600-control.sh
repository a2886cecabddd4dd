#!/bin/bash
# The control socket survives what a hostile or broken client sends:
# malformed, oversized, non-UTF-8, unread replies, idle connections; and
# a service whose failure reason is not UTF-8 still shows in status.
. "$(dirname "$0")/lib-tendd.sh"

write_conf <<'EOF2'
services = (
  { name = "clock"; plugin = "ticker.so"; executor = "async"; },
  { name = "weird"; plugin = "misbehave.so"; executor = "thread";
    restart = { policy = "temporary"; };
    settings = { action = "fail"; after = 0.0;
                 reason = "ééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé"; }; }
);
EOF2
start_tendd || exit 1
wait_for 10 state_is weird failed

# send RAW: one connection, bytes in, first reply line out (perl is core)
raw() {
	perl -MIO::Socket::UNIX -e '
		my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or exit 3;
		print $s $ARGV[1];
		$s->shutdown(1) if $ARGV[2];
		my $l = <$s>; print $l // "";
	' "$SOCK" "$1" "${2:-}"
}

like "$(raw 'not json
')" '"ok":false.*malformed request' "malformed JSON gets an error reply"
like "$(raw '[1,2]
')" '"ok":false.*not an object' "a non-object gets an error reply"
like "$(raw '{"cmd":"dance"}
')" '"ok":false.*unknown command' "an unknown command gets an error reply"
big=$(head -c 70000 /dev/zero | tr '\0' a)
like "$(raw "$big")" '"ok":false.*longer than 65536' "an oversized request gets an error reply"
name=$(printf 'é%.0s' $(seq 300))
like "$(raw "{\"cmd\":\"status\",\"name\":\"$name\"}
")" '"ok":false.*no service named' "a long UTF-8 name is answered, not fatal"
like "$(raw "$(printf '{"cmd":"sta\xfftus"}')
")" '"ok":false.*unable to decode byte 0xff' "bytes that are not UTF-8 are answered"
raw '{"cmd":"status"' 1 >/dev/null
kill -0 "$TENDD_PID"
ok $? "a truncated request does not hurt"

like "$(field weird last_exit)" '^failed: é+' "a reason cut mid-character still shows in status"

# a client that sends many requests and never reads
perl -MIO::Socket::UNIX -e '
	my $s = IO::Socket::UNIX->new(Peer => $ARGV[0]) or exit 3;
	$s->blocking(0);
	my $req = "{\"cmd\":\"status\"}\n" x 1000;
	for (1..200) { syswrite($s, $req); }
	sleep 1;
' "$SOCK" &
greedy=$!
rss_before=$(awk '/^VmRSS/ {print $2}' /proc/$TENDD_PID/status)
wait $greedy
rss_after=$(awk '/^VmRSS/ {print $2}' /proc/$TENDD_PID/status)
[ $((rss_after - rss_before)) -lt 65536 ]
ok $? "unread replies do not pile up (RSS grew $((rss_after - rss_before)) KiB)"
check "others are still served" tctl status clock

# idle connections do not lock others out
perl -MIO::Socket::UNIX -e '
	my @s = map { IO::Socket::UNIX->new(Peer => $ARGV[0]) } 1..100;
	sleep 3;
' "$SOCK" &
idle=$!
wait_for 5 eval "[ \$(ls /proc/$TENDD_PID/fd | wc -l) -gt 100 ]"
check "100 idle connections do not lock tendctl out" tctl status clock
kill $idle 2>/dev/null
wait $idle 2>/dev/null

stop_tendd
is "$TENDD_STATUS" 0 "tendd exits 0"
check_clean_log
done_testing
