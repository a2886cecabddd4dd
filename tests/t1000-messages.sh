#!/bin/bash
# Messages between services (tend_send, tend_send_batch) and state
# subscriptions (tend_watch): delivery in order between every pair of
# executors, through a chain of relays under every executor, batches
# from every executor (many frames from a child, a full mailbox, errors
# in the middle), backpressure from a full mailbox, receivers restarting
# mid-stream, the errors a sender gets, `tendctl send`, the counters in
# status, a reload of `mailbox`, and no leak or sanitizer report.
. "$(dirname "$0")/lib-tendd.sh"

EXECS="async thread thread-async process process-async"
N=100

conf() {
	local e r
	echo "services = ("
	for e in $EXECS; do
		echo "  { name = \"r-$e\"; plugin = \"msgtest.so\"; executor = \"$e\"; settings = { expect = $N; }; },"
	done
	for e in $EXECS; do
		echo "  { name = \"s-$e\"; plugin = \"msgtest.so\"; executor = \"$e\";"
		echo "    settings = { to = \"r-async,r-thread,r-thread-async,r-process,r-process-async\"; count = $N; }; },"
	done
	# a chain of relays, one per executor, each sending from message()
	cat <<-EOF2
	  { name = "chain"; plugin = "msgtest.so"; executor = "process"; settings = { to = "c1"; count = 300; }; },
	  { name = "c1"; plugin = "relay.so"; executor = "process"; settings = { to = "c2"; }; },
	  { name = "c2"; plugin = "relay.so"; executor = "process-async"; settings = { to = "c3"; }; },
	  { name = "c3"; plugin = "relay.so"; executor = "thread"; settings = { to = "c4"; }; },
	  { name = "c4"; plugin = "relay.so"; executor = "thread-async"; settings = { to = "c5"; }; },
	  { name = "c5"; plugin = "relay.so"; executor = "async"; settings = { to = "end"; }; },
	  { name = "end"; plugin = "msgtest.so"; executor = "thread"; settings = { expect = 300; }; },
	EOF2
	for e in $EXECS; do
		echo "  { name = \"w-$e\"; plugin = \"msgtest.so\"; executor = \"$e\"; settings = { watch = \"target\"; }; },"
	done
	# batches: 3000 at once (many frames from a child) to the same
	# executor, and on command to a child that holds its first message
	for e in $EXECS; do
		echo "  { name = \"bs-$e\"; plugin = \"msgtest.so\"; executor = \"$e\";"
		echo "    settings = { to = \"br-$e\"; count = 3000; size = 100; batch = 3000; }; },"
		echo "  { name = \"br-$e\"; plugin = \"msgtest.so\"; executor = \"$e\"; mailbox = 5000; settings = { expect = 3000; }; },"
		echo "  { name = \"bc-$e\"; plugin = \"msgtest.so\"; executor = \"$e\"; },"
		echo "  { name = \"bh-$e\"; plugin = \"msgtest.so\"; executor = \"process\"; mailbox = 3000;"
		echo "    settings = { hold = \"$T/hold-$e\"; expect = 3001; }; },"
	done
	cat <<-EOF2
	  { name = "target"; plugin = "msgtest.so"; executor = "async"; },
	  { name = "slow-ta"; plugin = "msgtest.so"; executor = "thread-async"; mailbox = 8;
	    settings = { first = 0.5; slow = 0.002; expect = 300; }; },
	  { name = "fast-a"; plugin = "msgtest.so"; executor = "async"; settings = { to = "slow-ta"; count = 300; }; },
	  { name = "slow-p"; plugin = "msgtest.so"; executor = "process"; mailbox = 8;
	    settings = { first = 0.5; slow = 0.002; expect = 200; }; },
	  { name = "fast-pa"; plugin = "msgtest.so"; executor = "process-async"; settings = { to = "slow-p"; count = 200; }; },
	  { name = "flaky-p"; plugin = "msgtest.so"; executor = "process"; settings = { stop_delay = 0.2; }; },
	  { name = "stream-a"; plugin = "msgtest.so"; executor = "async"; settings = { to = "flaky-p"; count = 1000000; interval = 0.002; }; },
	  { name = "flaky-t"; plugin = "msgtest.so"; executor = "thread"; settings = { stop_delay = 0.2; }; },
	  { name = "stream-p"; plugin = "msgtest.so"; executor = "process"; settings = { to = "flaky-t"; count = 1000000; interval = 0.002; }; },
	  { name = "tick"; plugin = "ticker.so"; executor = "async"; settings = { interval = 60.0; }; },
	  { name = "idle"; plugin = "msgtest.so"; executor = "async"; },
	  { name = "p-enoent"; plugin = "msgtest.so"; executor = "async"; settings = { probe = "nosuch"; }; },
	  { name = "p-eopnotsupp"; plugin = "msgtest.so"; executor = "process"; settings = { probe = "tick"; }; },
	  { name = "p-emsgsize"; plugin = "msgtest.so"; executor = "process-async"; settings = { probe = "r-async"; probe_size = 65281; }; },
	  { name = "big"; plugin = "msgtest.so"; executor = "process-async"; },
	  { name = "p-big"; plugin = "msgtest.so"; executor = "process"; settings = { probe = "big"; probe_size = 65280; }; },
	  { name = "p-esrch"; plugin = "msgtest.so"; executor = "thread"; settings = { probe = "idle"; }; },
	  { name = "full"; plugin = "msgtest.so"; executor = "process"; mailbox = ${FULL_MAILBOX:-1}; settings = { slow = 1.0; }; }
	);
	EOF2
}
# `mailbox` is checked like every key
write_conf <<'EOF2'
services = (
  { name = "m"; plugin = "msgtest.so"; executor = "async"; mailbox = 0; }
);
EOF2
out=$("$TENDD" -t -c "$T/tend.conf" 2>&1)
is "$?" 78 "mailbox = 0 is a config error"
like "$out" "tend.conf:[0-9]+: mailbox: must be between 1 and 1000000, not 0" "which says where and why"

conf | write_conf
start_tendd || exit 1

# msg NAME KEY: one counter of `messages` in a service's status
msg() {
	tctl --json status "$1" 2>/dev/null | KEY=$2 perl -MJSON::PP -0777 -ne '
		print decode_json($_)->{services}[0]{messages}{$ENV{KEY}} // "null"'
}
in_order() { log_has " info +$1: all $2 from $3 in order$"; }

# --- every pair of executors, in order ---
for r in $EXECS; do
	for s in $EXECS; do
		check "s-$s -> r-$r: $N messages, in order" wait_for 20 in_order "r-$r" $N "s-$s"
	done
done
for e in $EXECS; do
	check "s-$e says it sent them all" wait_for 10 log_has " s-$e: sent $N to r-async,.*: eagain 0, esrch 0, other 0$"
	is "$(msg "s-$e" sent)" $((5 * N)) "s-$e: status counts $((5 * N)) sent"
	is "$(msg "r-$e" received)" $((5 * N)) "r-$e: status counts $((5 * N)) received"
	is "$(msg "r-$e" refused)" 0 "r-$e: none refused"
done
check "a chain of relays under every executor keeps the order" \
	wait_for 20 in_order end 300 c5
check "a relay counts what it received and sent" \
	wait_for 10 eval '[ "$(msg c3 received)/$(msg c3 sent)" = 300/300 ]'

# --- watching a service's state, under every executor ---
for e in $EXECS; do
	check "w-$e is told target's state at once" \
		wait_for 10 log_has " w-$e: watch target: (starting|ready)$"
	check "and that it is ready" wait_for 10 log_has " w-$e: watch target: ready$"
done
tctl restart target >/dev/null
check "target restarts" wait_for 10 eval '[ "$(log_count "target: started")" -ge 2 ]'
# the last states a watcher saw
watched() {
	grep -Eo " $1: watch target: [a-z]+$" "$T/log" | awk '{print $4}' | tail -5 | tr '\n' ' '
}
for e in $EXECS; do
	check "w-$e sees ready, stopping, stopped, starting, ready" \
		wait_for 10 eval '[ "$(watched w-'$e')" = "ready stopping stopped starting ready " ]'
done

# --- backpressure: a slow receiver with a small mailbox ---
for pair in "fast-a slow-ta 300" "fast-pa slow-p 200"; do
	set -- $pair
	check "$2 gets all $3 from $1, in order" wait_for 30 in_order "$2" "$3" "$1"
	line=$(grep -E " $1: sent $3 to $2: " "$T/log")
	eagain=$(sed -E 's/.*eagain ([0-9]+).*/\1/' <<<"$line")
	esrch=$(sed -E 's/.*esrch ([0-9]+).*/\1/' <<<"$line")
	[ -n "$eagain" ] && [ "$eagain" -gt 0 ]
	ok $? "$1 was pushed back: EAGAIN $eagain times"
	is "$(msg "$2" refused)" "$((eagain + esrch))" "$2 counted each refusal"
	is "$(msg "$2" received)" "$3" "$2 received $3, none dropped"
done

# --- errors a sender gets ---
check "ENOENT: no such service" wait_for 10 log_has ' p-enoent: probe nosuch: ENOENT$'
check "EOPNOTSUPP: its plugin has no message()" wait_for 10 log_has ' p-eopnotsupp: probe tick: EOPNOTSUPP$'
check "EMSGSIZE: over TEND_MSG_MAX" wait_for 10 log_has ' p-emsgsize: probe r-async: EMSGSIZE$'
check "TEND_MSG_MAX bytes go from a child to a child" wait_for 10 log_has ' p-big: probe big: ok$'
check "and arrive whole" wait_for 10 log_has " big: got 'p{100}' from p-big$"
tctl stop idle >/dev/null
wait_for 10 state_is idle stopped
tctl restart p-esrch >/dev/null
check "ESRCH at once: the receiver is stopped" wait_for 10 log_has ' p-esrch: probe idle: ESRCH$'

# --- tend_send_batch, from every executor ---
for e in $EXECS; do
	check "bs-$e -> br-$e: one batch of 3000 (100 bytes each), in order" \
		wait_for 20 in_order "br-$e" 3000 "bs-$e"
	line=$(grep -E " bs-$e: sent 3000 to br-$e: " "$T/log")
	like "$line" "eagain 0, esrch [0-9]+, other 0$" "bs-$e: no refusal but ESRCH before br-$e ran"
	esrch=$(sed -E 's/.*esrch ([0-9]+).*/\1/' <<<"$line")
	is "$(msg "bs-$e" sent)/$(msg "br-$e" received)/$(msg "br-$e" refused)" \
		"3000/3000/${esrch:-?}" "bs-$e, br-$e: 3000 sent and received, each ESRCH refused once"
done
# bc-$e sends on command (from message(): in a child, the channel's
# reader sends) to bh-$e, a child that holds its first message while
# the file hold-$e exists: its mailbox of 3000 is full after 2999 more
batch_cmd() { # batch_cmd EXEC ARGS WANT DESCRIPTION
	tctl send "bc-$1" "batch $2" >/dev/null
	check "$1: $4" wait_for 20 log_has " bc-$1: batch to ${2%% *}: $3$"
}
for e in $EXECS; do
	touch "$T/hold-$e"
	tctl send "bh-$e" hold >/dev/null
	wait_for 10 log_has " bh-$e: holding$"
	batch_cmd $e "bh-$e 3200 100" "2999 EAGAIN" "a batch to a full mailbox: the first 2999 accepted, EAGAIN"
	batch_cmd $e "bh-$e 5 16" "-1 EAGAIN" "one to a mailbox still full: -1, EAGAIN"
	rm -f "$T/hold-$e"
	check "$e: bh-$e gets them once it goes on" \
		wait_for 20 eval '[ "$(msg bh-'$e' received)" = 3000 ]'
	batch_cmd $e "bh-$e 5 16 2" "2 EMSGSIZE" "EMSGSIZE in the middle: the 2 before it accepted"
	check "$e: in order, across batches" wait_for 10 in_order "bh-$e" 3001 "bc-$e"
	batch_cmd $e "bh-$e 3 16 0" "-1 EMSGSIZE" "EMSGSIZE first: -1"
	batch_cmd $e "nosuch 3 16" "-1 ENOENT" "ENOENT: -1"
	batch_cmd $e "idle 3 16" "-1 ESRCH" "ESRCH: -1"
	batch_cmd $e "tick 3 16" "-1 EOPNOTSUPP" "EOPNOTSUPP: -1"
	is "$(msg "bc-$e" sent)/$(msg "bh-$e" received)/$(msg "bh-$e" refused)/$(msg "bh-$e" dropped)" \
		"3001/3002/2/0" "$e: status counts 3001 sent, 3002 received, 2 refused, none dropped"
done
# a child that dies holding a message: what was on its way to it (all
# of it, or the window's worth) and what waited in its mailbox (the rest)
# are dropped, counted and logged
touch "$T/hold-async"
tctl send bh-async hold >/dev/null
wait_for 10 eval '[ "$(log_count " bh-async: holding$")" = 2 ]'
batch_cmd async "bh-async 100 16" "100 ok" "100 more to the held child"
kill -KILL "$(field bh-async pid)"
check "the messages on their way to the dead child are logged" \
	wait_for 10 log_has " bh-async: run over: [0-9]+ messages on their way to it dropped$"
wait_for 10 eval '[ "$(msg bh-async dropped)" = 101 ]'
way=$(grep -E " bh-async: run over: [0-9]+ messages on their way" "$T/log" | sed -E 's/.*over: ([0-9]+).*/\1/')
left=$(grep -E " bh-async: run over: [0-9]+ undelivered" "$T/log" | sed -E 's/.*over: ([0-9]+).*/\1/')
is "$(( ${way:-0} + ${left:-0} ))/$(msg bh-async dropped)" "101/101" \
	"the two lines say all 101 (the held one too), as the dropped counter does"
rm -f "$T/hold-async"

# --- tendctl send ---
out=$(tctl send r-thread-async "hello, world" 2>&1)
is "$?" 0 "tendctl send exits 0"
is "$out" "r-thread-async: message sent" "and says so"
check "the plugin gets it from tendctl" wait_for 10 log_has " r-thread-async: got 'hello, world' from tendctl$"
out=$(tctl send idle hi 2>&1)
is "$?" 1 "tendctl send to a stopped service exits 1"
like "$out" "'idle' is not running \(stopped\)" "and says it is not running"
is "$(tctl --json send idle hi | perl -MJSON::PP -0777 -ne 'print decode_json($_)->{errno}')" ESRCH \
	"--json says ESRCH"
out=$(tctl send tick hi 2>&1)
is "$?" 1 "to a plugin without message(): exit 1"
like "$out" "'tick' takes no messages" "and why"
out=$(tctl send nosuch hi 2>&1)
is "$?" 1 "to no service: exit 1"
like "$out" "no service named 'nosuch'" "and why"
tctl send r-async >/dev/null 2>&1
is "$?" 2 "tendctl send without a text: exit 2"
tctl send r-async "$(printf 'bad \xff')" >/dev/null 2>&1
is "$?" 2 "a text that is not UTF-8: exit 2"
tctl send full one >/dev/null
out=$(tctl send full two 2>&1)
is "$?" 1 "to a full mailbox: exit 1"
like "$out" "mailbox of 'full' is full \(mailbox = 1\): try again later" "and says to try later"
check "the first is delivered once the slow receiver is done" \
	wait_for 10 log_has " full: got 'one' from tendctl$"
full_counted() {
	tctl status full | grep -Eq '^  messages   sent 0, received 1, refused 1, dropped 0, queued 0$'
}
check "status NAME shows the counters" wait_for 10 full_counted

# --- receivers restarting mid-stream ---
for pair in "stream-a flaky-p" "stream-p flaky-t"; do
	set -- $pair
	check "$2 receives the stream" wait_for 10 eval '[ "$(msg '$2' received)" -gt 20 ]'
	tctl restart "$2" >/dev/null
	check "$1 is refused while $2 restarts" wait_for 10 log_has " $1: refused by $2: ESRCH$"
	check "and sends again once it is back" wait_for 10 log_has " $1: accepted by $2 again after [0-9]+ refusals$"
	before=$(msg "$2" received)
	check "$2 receives again" wait_for 10 eval '[ "$(msg '$2' received)" -gt '"$before"' ]'
	is "$(field "$1" state)/$(field "$1" restarts)" "ready/0" "$1 never stopped"
done

# --- a reload changes the mailbox in place ---
FULL_MAILBOX=4 conf | write_conf
pid=$(field full pid)
out=$(tctl reload)
like "$out" '^reconfigured +full: ' "a new mailbox size is applied in place"
is "$(field full pid)" "$pid" "same process"
tctl send full a >/dev/null && tctl send full b >/dev/null
ok $? "a bigger mailbox takes more"

! log_has 'gap from'
ok $? "no receiver saw a message out of order"
stop_tendd
is "$TENDD_STATUS" 0 "tendd exits 0"
check_clean_log
done_testing
