#!/bin/bash
# Live reload (SIGHUP, tendctl reload): only what changed is touched.
# Services are matched by name and added, removed, restarted (new pid or
# thread), reconfigured in place (same pid or thread, the plugin's
# reload()) or left alone; a config with errors is rejected and changes
# nothing; plugins replaced on disk restart their services; bursts of
# SIGHUP coalesce; --dry-run only tells; only root may reload.
. "$(dirname "$0")/lib-tendd.sh"

STOP_TIMEOUT=${STOP_TIMEOUT:-2.0}

# conf: the config from stdin, after the shared header, written
# atomically (a reload must never read half a file). PLUGDIR, when set,
# comes first in plugin_path; EXTRA is added to the tend group.
conf() {
	{
		cat <<-CONF
		tend = {
		  plugin_path = [ ${PLUGDIR:+\"$PLUGDIR\", }"$B/plugins", "$B/tests/plugins" ];
		  control = { socket = "$SOCK"; ${CTL_MODE:+mode = \"$CTL_MODE\";} };
		  stop_timeout = $STOP_TIMEOUT;
		  ${EXTRA:-}
		};
		CONF
		cat
	} >"$T/tend.conf.new" && mv -f "$T/tend.conf.new" "$T/tend.conf"
}

# reload [ARGS]: tendctl reload ARGS; sets RC, OUT (stdout), ERR (stderr)
reload() {
	tctl reload "$@" >"$T/out" 2>"$T/err"
	RC=$?
	OUT=$(cat "$T/out")
	ERR=$(cat "$T/err")
}

# summary A R S C U F: the last line of a reload's report
summary() {
	echo "$1 added, $2 removed, $3 restarted, $4 reconfigured, $5 unchanged, $6 failed"
}

# snap NAME: `tendctl --json status` into $T/NAME.json, with the time
# just before and just after asking, to tell a run that went on from one
# that started anew (async services have neither pid nor thread id)
snap() {
	date +%s.%N >"$T/$1.when"
	tctl --json status >"$T/$1.json"
	date +%s.%N >>"$T/$1.when"
}

# changed A B: the services of snapshot A whose run is not the one of B,
# sorted: gone, down in either, another pid or thread id, or an uptime
# that did not go on for the time between the two snapshots
changed() {
	T=$T perl -MJSON::PP -e '
		sub rd { local $/; open my $f, "<", $_[0] or die "$_[0]: $!"; my $t = <$f>; $t }
		my ($a, $b) = map { decode_json(rd("$ENV{T}/$_.json")) } @ARGV;
		my $a_end = (split /\n/, rd("$ENV{T}/$ARGV[0].when"))[1];
		my $b_start = (split /\n/, rd("$ENV{T}/$ARGV[1].when"))[0];
		my $gap = $b_start - $a_end;
		my %b = map { $_->{name} => $_ } @{$b->{services}};
		my %up = map { $_ => 1 } qw(running ready);
		my @out;
		for my $s (@{$a->{services}}) {
			my $t = $b{$s->{name}};
			if (!$t || !$up{$s->{state}} || !$up{$t->{state}} ||
			    $s->{pid} != $t->{pid} || $s->{tid} != $t->{tid} ||
			    $t->{uptime} < $s->{uptime} + $gap - 0.05) {
				push @out, $s->{name};
			}
		}
		print join(" ", sort @out), "\n";
	' "$1" "$2"
}

# jfield FILE PERL-EXPR: evaluate EXPR on the decoded JSON ($r) of FILE
jfield() {
	EXPR=$2 perl -MJSON::PP -0777 -ne '
		my $r = decode_json($_);
		my $v = eval $ENV{EXPR};
		die $@ if $@;
		print defined $v ? (JSON::PP::is_bool($v) ? ($v ? "true" : "false") : $v) : "null";
	' "$1"
}

# count_state STATE: how many services are in STATE
count_state() {
	tctl --json status | STATE=$1 perl -MJSON::PP -0777 -ne '
		print scalar grep { $_->{state} eq $ENV{STATE} } @{decode_json($_)->{services}};'
}

# finish NAME: stop tendd and check it ended cleanly; when this part had
# a failure, show its log (the next part's start clears it)
_failed_before=0
finish() {
	stop_tendd
	is "$TENDD_STATUS" 0 "$1: tendd exits 0"
	check_clean_log
	if [ "$_failed" -gt "$_failed_before" ]; then
		diag "$1 failed; the last lines of its log:"
		tail -40 "$T/log" | sed 's/^/#   /'
	fi
	_failed_before=$_failed
}

# aged NAME: the service has run for half a second, enough for changed()
# to tell its run from a new one by the uptime alone
aged() { perl -e 'exit !($ARGV[0] >= 0.5)' "$(field "$1" uptime)"; }

# line_of REGEX: the first line of the config matching REGEX
line_of() { grep -En -- "$1" "$T/tend.conf" | head -1 | cut -d: -f1; }

# ---------------------------------------------------------------------
# 1. 200 services, one changes: one restart, 199 runs go on untouched
many() { # many CHANGED-EXECUTOR
	local i
	for i in $(seq -w 0 189); do
		echo "  { name = \"s$i\"; plugin = \"ticker.so\"; executor = \"async\"; settings = { interval = 30.0; }; },"
	done
	echo '  { name = "th1"; plugin = "worker.so"; executor = "thread"; settings = { interval = 30.0; }; },'
	echo '  { name = "th2"; plugin = "worker.so"; executor = "thread"; settings = { interval = 30.0; }; },'
	echo '  { name = "ta1"; plugin = "ticker.so"; executor = "thread-async"; settings = { interval = 30.0; }; },'
	echo '  { name = "ta2"; plugin = "ticker.so"; executor = "thread-async"; settings = { interval = 30.0; }; },'
	echo '  { name = "pr1"; plugin = "worker.so"; executor = "process"; settings = { interval = 30.0; }; },'
	echo '  { name = "pr2"; plugin = "worker.so"; executor = "process"; settings = { interval = 30.0; }; },'
	echo '  { name = "pa1"; plugin = "ticker.so"; executor = "process-async"; settings = { interval = 30.0; }; },'
	echo "  { name = \"pa2\"; plugin = \"ticker.so\"; executor = \"$1\"; settings = { interval = 30.0; }; },"
	echo '  { name = "m1"; plugin = "misbehave.so"; executor = "thread-async"; settings = { action = "none"; }; },'
	echo '  { name = "m2"; plugin = "misbehave.so"; executor = "process-async"; settings = { action = "none"; }; }'
}
{ echo "services = ("; many process-async; echo ");"; } | conf
start_tendd || exit 1
check "200: every service is ready" wait_for 30 eval '[ "$(count_state ready)" = 200 ]'
# a restarted async service is told by its uptime: let them age a bit
wait_for 10 aged pa2
pa2=$(field pa2 pid)
snap before
{ echo "services = ("; many thread-async; echo ");"; } | conf
reload
is "$RC" 0 "200: tendctl reload exits 0"
like "$OUT" '^restarted +pa2: config changed$' "200: the changed service is restarted"
is "$(printf '%s\n' "$OUT" | tail -1)" "$(summary 0 0 1 0 199 0)" "200: and 199 are unchanged"
is "$(printf '%s\n' "$OUT" | grep -vc '^unchanged ')" 2 "200: no other line but unchanged ones"
snap after
is "$(changed before after)" "pa2" "200: every other service runs on: same pid, thread, uptime"
is "$(field pa2 executor)" "thread-async" "200: pa2 now runs under its new executor"
is "$(field pa2 state)" "ready" "200: and is ready"
[ "$(field pa2 tid)" -gt 0 ] && [ ! -d "/proc/$pa2" ]
ok $? "200: in a thread, and its old process ($pa2) is gone"
like "$(jfield "$T/after.json" '$r->{reload}{result}')" '^ok$' "200: status says the last reload went well"
check "200: the log names the restart" log_has "notice +tendd: reload 1: pa2: restarted: config changed$"
check "200: and sums it up" log_has "notice +tendd: reload 1 \(tendctl, uid 0\): $(summary 0 0 1 0 199 0), in [0-9.]+ ms$"
is "$(log_count 'reload 1: s[0-9]+: ')" 0 "200: unchanged services are not logged at info"
finish 200

# ---------------------------------------------------------------------
# 2. A config with an error is rejected and changes nothing; the error
#    shows in status until a good reload
mkdir -p "$T/conf.d"
cat >"$T/conf.d/10-extra.conf" <<'EOF2'
services = (
  { name = "extra"; plugin = "worker.so"; executor = "process"; settings = { interval = 0.2; }; }
);
EOF2
good2() {
	EXTRA="include_dir = \"conf.d\";" conf <<-'EOF2'
	services = (
	  { name = "a"; plugin = "ticker.so"; executor = "async"; settings = { interval = 0.2; }; },
	  { name = "b"; plugin = "worker.so"; executor = "thread"; settings = { interval = 0.2; }; },
	  { name = "c"; plugin = "ticker.so"; executor = "process-async"; settings = { interval = 0.2; }; }
	);
	EOF2
}
good2
start_tendd || exit 1
wait_for 10 eval '[ "$(count_state ready)" = 4 ]'
wait_for 10 aged a
snap before
# a syntax error in the main file, on a known line; the services change too
EXTRA="include_dir = \"conf.d\";" conf <<'EOF2'
services = (
  { name = "a"; plugin = "ticker.so"; executor = "async"; settings = { interval = 0.1; }; },
  { name = "b"; plugin = "worker.so"; executor = "process"; settings = { interval = 0.2; }; },
  { name = "new"; plugin = "ticker.so"; executor = "async"; settings = { interval = ; }; }
);
EOF2
bad=$(line_of '"new"')
reload
is "$RC" 1 "rejected: tendctl reload exits 1"
like "$ERR" '^tendctl: config rejected, nothing changed; the previous config still runs:$' "rejected: tendctl says so"
like "$ERR" "^$T/tend.conf:$bad: syntax error" "rejected: and names file and line of the error"
is "$OUT" "" "rejected: and prints no report on stdout"
check "rejected: the error is logged with file and line" log_has "error +config: $T/tend.conf:$bad: syntax error"
check "rejected: the log says nothing changed" \
	log_has "error +tendd: reload 1 \(tendctl, uid 0\): config rejected, 1 error; still running the previous config$"
snap after
is "$(changed before after)" "" "rejected: every service runs on as it was"
check "rejected: the service it would add is not there" eval '! tctl status new'
is "$(field a executor)/$(field b executor)" "async/thread" "rejected: executors are as before"
st=$(tctl status)
like "$st" '^last reload \(tendctl, uid 0, [0-9.]+[a-z]* ago\) was rejected; the previous config still runs:$' \
	"rejected: status shows the rejected reload"
like "$st" "^  $T/tend.conf:$bad: syntax error" "rejected: with its error"
is "$(jfield "$T/after.json" '$r->{reload}{result}')" "rejected" "rejected: --json status: result rejected"
like "$(jfield "$T/after.json" '$r->{reload}{origin}')" '^tendctl, uid 0$' "rejected: --json status: origin"
like "$(jfield "$T/after.json" '$r->{reload}{errors}[0]')" "^$T/tend.conf:$bad: syntax error" "rejected: --json status: errors"
is "$(jfield "$T/after.json" 'scalar @{$r->{reload}{failed}}')" 0 "rejected: --json status: no failed service"
# a semantic error in a drop-in file, by SIGHUP this time
good2
cat >"$T/conf.d/20-bad.conf" <<'EOF2'
services = (
  { name = "oops"; plugin = "worker.so"; executor = "process";
    colour = "blue"; }
);
EOF2
kill -HUP "$TENDD_PID"
check "rejected: an error in a drop-in is logged with its file and line" \
	wait_for 10 log_has "error +config: $T/conf.d/20-bad.conf:3: colour: "
check "rejected: by SIGHUP too" \
	wait_for 10 log_has "reload 2 \(SIGHUP\): config rejected, 1 error; still running the previous config$"
like "$(tctl status)" '^last reload \(SIGHUP, .*\) was rejected' "rejected: status shows the SIGHUP one now"
tctl --json reload >"$T/j"
is "$?" 1 "rejected: tendctl --json reload exits 1"
is "$(jfield "$T/j" '$r->{ok}')/$(jfield "$T/j" '$r->{reload}{result}')/$(jfield "$T/j" '$r->{reload}{dry_run}')" \
	"false/rejected/false" "rejected: --json reload: ok false, result rejected"
like "$(jfield "$T/j" 'join "|", @{$r->{reload}{errors}}')" "^$T/conf.d/20-bad.conf:3: colour: [^|]*$" \
	"rejected: --json reload: the one error, with its file and line"
is "$(jfield "$T/j" 'scalar @{$r->{reload}{services}}')" 0 "rejected: --json reload: no service outcome"
snap after2
is "$(changed before after2)" "" "rejected: still nothing changed"
rm "$T/conf.d/20-bad.conf"
reload
is "$RC" 0 "fixed: the fixed config reloads"
is "$(printf '%s\n' "$OUT" | tail -1)" "$(summary 0 0 0 0 4 0)" "fixed: nothing to change"
check "fixed: status no longer shows a rejected reload" eval '! tctl status | grep -q "^last reload"'
is "$(tctl --json status >"$T/j" && jfield "$T/j" '$r->{reload}{result}')" ok "fixed: --json status: result ok"
is "$(jfield "$T/j" 'scalar @{$r->{reload}{errors}}')" 0 "fixed: --json status: no errors"
rm -f "$T/conf.d/10-extra.conf"
finish rejected

# ---------------------------------------------------------------------
# 3. A service waiting in backoff is removed promptly, and never starts
conf <<'EOF2'
services = (
  { name = "calm"; plugin = "ticker.so"; executor = "async"; settings = { interval = 0.2; }; },
  { name = "flaky"; plugin = "misbehave.so"; executor = "process";
    restart = { backoff = "fixed"; delay = 1.5; jitter = 0.0; intensity = 100; };
    settings = { action = "fail"; after = 0.0; }; }
);
EOF2
start_tendd || exit 1
check "backoff: the failing service waits in backoff" wait_for 10 state_is flaky backoff
starts=$(log_count ' flaky: started')
conf <<'EOF2'
services = (
  { name = "calm"; plugin = "ticker.so"; executor = "async"; settings = { interval = 0.2; }; }
);
EOF2
t0=$(date +%s%N)
reload
ms=$((($(date +%s%N) - t0) / 1000000))
is "$RC" 0 "backoff: reload exits 0"
like "$OUT" '^removed +flaky$' "backoff: the service is removed"
is "$(printf '%s\n' "$OUT" | tail -1)" "$(summary 0 1 0 0 1 0)" "backoff: and nothing else changes"
[ "$ms" -lt 1000 ]
ok $? "backoff: promptly, not after its backoff (${ms} ms)"
check "backoff: it is gone from status" eval '! tctl status flaky'
like "$(tctl status flaky 2>&1)" "no service named 'flaky'" "backoff: tendctl says no such service"
is "$(tctl --json status | perl -MJSON::PP -0777 -ne 'print join " ", map $_->{name}, @{decode_json($_)->{services}}')" \
	"calm" "backoff: only calm is left"
# its backoff (1.5 s) would have ended by now: no start may follow
check "backoff: it never starts again" eval '! wait_for 2 eval "[ \$(log_count \" flaky: started\") -gt $starts ]"'
check "backoff: the log names the removal" log_has 'notice +tendd: reload 1: flaky: removed$'
finish backoff

# ---------------------------------------------------------------------
# 4. A plugin replaced by a broken one: its services fail with the reason,
#    the others run on; the good plugin back, they come back
mkdir -p "$T/plug"
cp "$B/plugins/ticker.so" "$B/plugins/worker.so" "$T/plug/"
broken4() {
	PLUGDIR=$T/plug conf <<-'EOF2'
	services = (
	  { name = "tick";  plugin = "ticker.so"; executor = "async"; settings = { interval = 0.2; }; },
	  { name = "tickp"; plugin = "ticker.so"; executor = "process-async"; settings = { interval = 0.2; }; },
	  { name = "work";  plugin = "worker.so"; executor = "process"; settings = { interval = 0.2; }; },
	  { name = "workt"; plugin = "worker.so"; executor = "thread"; settings = { interval = 0.2; }; },
	  { name = "mis";   plugin = "misbehave.so"; executor = "thread-async"; settings = { action = "none"; }; }
	);
	EOF2
}
broken4
start_tendd || exit 1
wait_for 10 eval '[ "$(count_state ready)" = 5 ]'
wait_for 10 aged tick
snap before
printf 'this is not a shared object, only text\n%.0s' $(seq 50) >"$T/plug/ticker.so.new"
mv -f "$T/plug/ticker.so.new" "$T/plug/ticker.so"
reload
is "$RC" 1 "broken: tendctl reload exits 1 when a service failed"
pl=$(line_of '"tick";')
like "$OUT" "^failed +tick: failed to start: $T/tend.conf:$pl: plugin: cannot load '$T/plug/ticker.so': invalid ELF header$" \
	"broken: the service fails with the loader's reason and the config line"
like "$OUT" '^failed +tickp: .*cannot load' "broken: so does the other one using the plugin"
is "$(printf '%s\n' "$OUT" | tail -1)" "$(summary 0 0 0 0 3 2)" "broken: the others are unchanged"
is "$(field tick state)/$(field tickp state)" "failed/failed" "broken: both are failed"
like "$(field tick last_exit)" "^failed to start: $T/tend.conf:$pl: plugin: cannot load '$T/plug/ticker.so': " \
	"broken: last_exit says why"
snap after
is "$(changed before after)" "tick tickp" "broken: the other services run on untouched"
st=$(tctl status)
like "$st" '^last reload \(tendctl, uid 0, .* ago\) failed for: tick tickp$' "broken: status shows the failed reload"
is "$(tctl --json status >"$T/j" && jfield "$T/j" '$r->{reload}{result}')" failed "broken: --json status: result failed"
is "$(jfield "$T/j" 'join " ", @{$r->{reload}{failed}}')" "tick tickp" "broken: --json status: the failed ones"
check "broken: the failure is logged as an error" log_has "error +tendd: reload 1: tick: failed: failed to start: $T/tend.conf:$pl: plugin: cannot load"
# a library that is not a tend plugin
install -m 0644 "$B/tests/plugins/noentry.so" "$T/plug/ticker.so"
reload
is "$RC" 1 "broken: a library with no tend_plugin: reload exits 1"
like "$OUT" "^failed +tick: failed to start: $T/tend.conf:$pl: plugin: '$T/plug/ticker.so' is not a tend plugin: no 'tend_plugin' symbol" \
	"broken: with the reason"
like "$(field tickp last_exit)" "is not a tend plugin" "broken: last_exit has the new reason"
snap after2
is "$(changed before after2)" "tick tickp" "broken: the others still run on"
# the good plugin again
install -m 0644 "$B/plugins/ticker.so" "$T/plug/ticker.so"
reload
is "$RC" 0 "broken: with the good plugin back, reload exits 0"
like "$OUT" '^restarted +tick: plugin loads again$' "broken: the service is restarted"
like "$OUT" '^restarted +tickp: plugin loads again$' "broken: both"
is "$(printf '%s\n' "$OUT" | tail -1)" "$(summary 0 0 2 0 3 0)" "broken: and the rest unchanged"
is "$(field tick state)/$(field tickp state)" "ready/ready" "broken: both are ready again"
check "broken: and tick again" wait_for 10 log_has 'info +tickp: tick 1$'
snap after3
is "$(changed before after3)" "tick tickp" "broken: the others never stopped"
check "broken: status shows no failed reload any more" eval '! tctl status | grep -q "^last reload"'
finish broken

# ---------------------------------------------------------------------
# 5. Settings alone change, under every executor: reload() in place
exec5() { # exec5 TICK WORK
	conf <<-EOF2
	services = (
	  { name = "as"; plugin = "ticker.so"; executor = "async"; settings = { interval = $1; }; },
	  { name = "ta"; plugin = "ticker.so"; executor = "thread-async"; settings = { interval = $1; }; },
	  { name = "pa"; plugin = "ticker.so"; executor = "process-async"; settings = { interval = $1; }; },
	  { name = "th"; plugin = "worker.so"; executor = "thread"; settings = { interval = $2; }; },
	  { name = "pr"; plugin = "worker.so"; executor = "process"; settings = { interval = $2; }; }
	);
	EOF2
}
exec5 1.0 1.0
start_tendd || exit 1
wait_for 10 eval '[ "$(count_state ready)" = 5 ]'
wait_for 10 aged as
snap before
exec5 0.25 3
reload
is "$RC" 0 "settings: reload exits 0"
for s in as ta pa th pr; do
	like "$OUT" "^reconfigured +$s: settings$" "settings: $s is reconfigured"
done
is "$(printf '%s\n' "$OUT" | tail -1)" "$(summary 0 0 0 5 0 0)" "settings: all five"
snap after
is "$(changed before after)" "" "settings: every one keeps its pid or thread and its uptime"
for s in as ta pa; do
	check "settings: $s: the plugin took the new interval" log_has "info +$s: now ticking every 0.25s$"
done
for s in th pr; do
	check "settings: $s: the plugin took the new interval" log_has "info +$s: now working every 3s$"
done
for s in as ta pa th pr; do
	check "settings: $s: the reload is logged" log_has "notice +tendd: reload 1: $s: reconfigured: settings$"
done
# the new interval is in use: ticks come 4 a second now
n=$(log_count 'info +ta: tick ')
check "settings: ticks come at the new pace (6 in 2 s)" wait_for 2 eval "[ \$(log_count 'info +ta: tick ') -ge $((n + 6)) ]"
finish settings

# ---------------------------------------------------------------------
# 6. A plugin file replaced on disk: by install (new inode), and by cp
#    over it in place while it runs
cp "$B/plugins/ticker.so" "$B/plugins/worker.so" "$T/plug/"
PLUGDIR=$T/plug conf <<'EOF2'
services = (
  { name = "t1"; plugin = "ticker.so"; executor = "process-async"; settings = { interval = 0.05; }; },
  { name = "t2"; plugin = "ticker.so"; executor = "thread-async"; settings = { interval = 0.05; }; },
  { name = "t3"; plugin = "ticker.so"; executor = "async"; settings = { interval = 0.05; }; },
  { name = "w1"; plugin = "worker.so"; executor = "process"; settings = { interval = 0.05; }; },
  { name = "w2"; plugin = "worker.so"; executor = "thread"; settings = { interval = 0.05; }; },
  { name = "m";  plugin = "misbehave.so"; executor = "thread"; settings = { action = "none"; }; }
);
EOF2
start_tendd || exit 1
wait_for 10 eval '[ "$(count_state ready)" = 6 ]'
wait_for 10 aged t3
snap before
# the same bytes under a new inode (the old one is kept by a link, or the
# file system could hand its number out again)
ln "$T/plug/ticker.so" "$T/old-ticker.so"
ino=$(stat -c %i "$T/plug/ticker.so")
install -m 0644 "$B/plugins/ticker.so" "$T/plug/ticker.so"
[ "$(stat -c %i "$T/plug/ticker.so")" != "$ino" ]
ok $? "install: the file has a new inode"
reload
is "$RC" 0 "install: reload exits 0"
for s in t1 t2 t3; do
	like "$OUT" "^restarted +$s: plugin file replaced$" "install: $s, using the new file, is restarted"
done
is "$(printf '%s\n' "$OUT" | tail -1)" "$(summary 0 0 3 0 3 0)" "install: the others are unchanged"
snap after
is "$(changed before after)" "t1 t2 t3" "install: only those using it have a new run"
wait_for 10 aged t3 # the youngest, restarted just now
# cp over worker.so in place: both its services run on from their copies
snap before2
jobs_w1=$(log_count 'info +w1: job ')
jobs_w2=$(log_count 'info +w2: job ')
cp "$B/tests/plugins/misbehave.so" "$T/plug/worker.so"
check "cp: the process service still works" wait_for 5 eval "[ \$(log_count 'info +w1: job ') -ge $((jobs_w1 + 10)) ]"
check "cp: the thread service still works" wait_for 5 eval "[ \$(log_count 'info +w2: job ') -ge $((jobs_w2 + 10)) ]"
kill -0 "$TENDD_PID"
ok $? "cp: tendd is alive"
snap after2
is "$(changed before2 after2)" "" "cp: nothing restarted by itself"
reload
is "$RC" 0 "cp: the next reload exits 0"
like "$OUT" '^restarted +w1: plugin file replaced$' "cp: the process service is restarted"
like "$OUT" '^restarted +w2: plugin file replaced$' "cp: the thread service is restarted"
is "$(printf '%s\n' "$OUT" | tail -1)" "$(summary 0 0 2 0 4 0)" "cp: the others are unchanged"
snap after3
is "$(changed before2 after3)" "w1 w2" "cp: only those have a new run"
check "cp: now running the new bytes" log_has 'info +w1: up: action none after'
check "cp: in the thread too" log_has 'info +w2: up: action none after'
finish replace

# ---------------------------------------------------------------------
# 7. --dry-run says what a reload would do, and does nothing
dry7() { # dry7 FINAL
	if [ "$1" = before ]; then
		conf <<-'EOF2'
		services = (
		  { name = "same"; plugin = "worker.so"; executor = "process"; settings = { interval = 0.5; }; },
		  { name = "tuned"; plugin = "ticker.so"; executor = "thread-async"; settings = { interval = 0.5; }; },
		  { name = "moved"; plugin = "worker.so"; executor = "thread"; settings = { interval = 0.5; }; },
		  { name = "gone"; plugin = "ticker.so"; executor = "async"; settings = { interval = 0.5; }; }
		);
		EOF2
	else
		conf <<-'EOF2'
		services = (
		  { name = "same"; plugin = "worker.so"; executor = "process"; settings = { interval = 0.5; }; },
		  { name = "tuned"; plugin = "ticker.so"; executor = "thread-async"; settings = { interval = 0.1; }; },
		  { name = "moved"; plugin = "worker.so"; executor = "process"; settings = { interval = 0.5; }; },
		  { name = "fresh"; plugin = "ticker.so"; executor = "async"; settings = { interval = 0.5; }; }
		);
		EOF2
	fi
}
dry7 before
start_tendd || exit 1
wait_for 10 eval '[ "$(count_state ready)" = 4 ]'
wait_for 10 aged gone
snap before
dry7 after
reload --dry-run
is "$RC" 0 "dry: exits 0"
plan=$(printf '%s\n' "$OUT" | sed '$d')
is "$plan" "unchanged     same
reconfigured  tuned: settings
restarted     moved: config changed
added         fresh
removed       gone" "dry: the plan, service by service"
is "$(printf '%s\n' "$OUT" | tail -1)" "dry run, nothing changed: would be $(summary 1 1 1 1 1 0)" "dry: the summary says it is a dry run"
snap after
is "$(changed before after)" "" "dry: nothing was restarted"
check "dry: the removed service is still there" state_is gone ready
check "dry: the added one is not" eval '! tctl status fresh'
is "$(field moved executor)" thread "dry: executors are as they were"
check "dry: the plugin's reload() was not called" eval '! log_has "tuned: now ticking"'
is "$(jfield "$T/after.json" '$r->{reload}')" null "dry: status has no last reload"
tctl --json reload --dry-run >"$T/j"
is "$(jfield "$T/j" '$r->{ok}')" true "dry: --json: ok"
is "$(jfield "$T/j" '$r->{reload}{dry_run}')" true "dry: --json: dry_run true"
is "$(jfield "$T/j" '$r->{reload}{result}')" planned "dry: --json: result planned"
is "$(jfield "$T/j" 'join ",", map { "$_->{name}=$_->{outcome}" } @{$r->{reload}{services}}')" \
	"same=unchanged,tuned=reconfigured,moved=restarted,fresh=added,gone=removed" "dry: --json: the outcomes"
is "$(jfield "$T/j" 'join ",", map { $_->{reason} // "-" } @{$r->{reload}{services}}')" \
	"-,settings,config changed,-,-" "dry: --json: the reasons"
check "dry: the log says it was a dry run" \
	log_has "reload [0-9]+ \(tendctl, uid 0\), dry run: $(summary 1 1 1 1 1 0), in"
check "dry: and what would be" log_has "reload [0-9]+: moved: would be restarted: config changed$"
# the config as it is now: a real reload does what was planned
reload
is "$RC" 0 "dry: the real reload exits 0"
is "$(printf '%s\n' "$OUT" | sed '$d')" "$plan" "dry: and does as planned"
snap after2
is "$(changed before after2)" "gone moved" "dry: now gone and moved changed"
is "$(field moved executor)" process "dry: moved is a process now"
check "dry: fresh is there now" state_is fresh ready
finish dry

# ---------------------------------------------------------------------
# 8. A burst of SIGHUP makes one or two reloads, and the last one reads
#    the last config
conf <<'EOF2'
services = (
  { name = "base"; plugin = "ticker.so"; executor = "async"; settings = { interval = 0.5; }; },
  { name = "old"; plugin = "worker.so"; executor = "thread"; settings = { interval = 0.5; }; }
);
EOF2
start_tendd || exit 1
wait_for 10 eval '[ "$(count_state ready)" = 2 ]'
conf <<'EOF2'
services = (
  { name = "base"; plugin = "ticker.so"; executor = "async"; settings = { interval = 0.5; }; },
  { name = "old"; plugin = "worker.so"; executor = "thread"; settings = { interval = 0.5; }; },
  { name = "late"; plugin = "worker.so"; executor = "process"; settings = { interval = 0.5; }; }
);
EOF2
t0=$(date +%s%N)
perl -e 'kill "HUP", $ARGV[0] for 1..100' "$TENDD_PID"
# edit again during the burst: the last config is what must run
conf <<'EOF2'
services = (
  { name = "base"; plugin = "ticker.so"; executor = "async"; settings = { interval = 0.5; }; },
  { name = "late"; plugin = "worker.so"; executor = "process"; settings = { interval = 0.5; }; },
  { name = "later"; plugin = "ticker.so"; executor = "process-async"; settings = { interval = 0.5; }; }
);
EOF2
# 50 more, spread over half a second
perl -MTime::HiRes=sleep -e 'for (1..50) { kill "HUP", $ARGV[0]; sleep 0.01 }' "$TENDD_PID"
burst_ms=$((($(date +%s%N) - t0) / 1000000))
diag "150 SIGHUPs sent in $burst_ms ms"
check "burst: the last config is applied" wait_for 10 eval 'state_is later ready && state_is late ready && ! tctl status old'
check "burst: a second reload follows the burst" wait_for 5 log_has 'reload 2 \(SIGHUP\): .* failed, in '
# any held-off reload runs at most 1 s after the last one began
if [ "$burst_ms" -lt 900 ]; then
	# a held-off reload begins at most 1 s after the one before
	check "burst: no third reload" eval '! wait_for 2 log_has "reload 3 "'
	n=$(log_count "reload [0-9]+ \(SIGHUP\): reading '$T/tend.conf'$")
	[ "$n" -ge 1 ] && [ "$n" -le 2 ]
	ok $? "burst: 150 SIGHUPs within a second made $n reloads"
else
	ok 0 "# skip: the burst took ${burst_ms} ms, too slow to count reloads"
fi
is "$(tctl --json status | perl -MJSON::PP -0777 -ne 'print join " ", sort map "$_->{name}:$_->{state}", @{decode_json($_)->{services}}')" \
	"base:ready late:ready later:ready" "burst: the services are those of the last config, all ready"
is "$(log_count ' late: started')" 1 "burst: late started once"
is "$(log_count ' base: started')" 1 "burst: base never restarted"
kill -0 "$TENDD_PID"
ok $? "burst: tendd is alive"
# five tendctl reloads at once, while the first waits for a slow start:
# each gets its report, and reloads never overlap in the log
conf <<'EOF2'
services = (
  { name = "base"; plugin = "ticker.so"; executor = "async"; settings = { interval = 0.5; }; },
  { name = "late"; plugin = "worker.so"; executor = "process"; settings = { interval = 0.5; }; },
  { name = "later"; plugin = "ticker.so"; executor = "process-async"; settings = { interval = 0.5; }; },
  { name = "slow"; plugin = "misbehave.so"; executor = "process"; ready = "notify";
    settings = { action = "none"; notify = true; after = 0.5; }; }
);
EOF2
pids=
for i in 1 2 3 4 5; do
	tctl reload >"$T/out$i" 2>&1 &
	pids="$pids $!"
done
fails=0
for p in $pids; do
	wait "$p" || fails=$((fails + 1))
done
is "$fails" 0 "concurrent: five tendctl reloads at once all exit 0"
is "$(cat "$T"/out[1-5] | grep -c ' unchanged, 0 failed$')" 5 "concurrent: each got a report"
is "$(cat "$T"/out[1-5] | grep -Ec '^added +slow$')" 1 "concurrent: one of them added the slow service"
check "concurrent: it is ready" state_is slow ready
seq=$(perl -ne 'print "$1$2 " if /reload (\d+) \(tendctl[^)]*\)(: reading|: \d+ added)/' "$T/log")
like "$seq" '^(([0-9]+): reading \2: [0-9]+ added )+$' "concurrent: each reload ends before the next begins ($seq)"
finish burst

# ---------------------------------------------------------------------
# 9. reload() refuses the new settings: the service is restarted on them.
#    reloadrc.so's reload() returns its reload_rc setting; ticker's and
#    worker's refuse a bad interval, and then their init() fails too.
RRC=$B/tests/plugins/reloadrc.so
check "reloadrc.so is built (tests/plugins/reloadrc.c, in TEST_PLUGINS)" test -f "$RRC"
rc9() { # rc9 INTERVAL RELOAD-RC GENERATION
	conf <<-EOF2
	services = (
	  { name = "tk"; plugin = "ticker.so"; executor = "thread-async";
	    restart = { policy = "temporary"; }; settings = { interval = $1; }; },
	  { name = "wk"; plugin = "worker.so"; executor = "process";
	    restart = { policy = "temporary"; }; settings = { interval = $1; }; },
	  { name = "r1"; plugin = "reloadrc.so"; executor = "async"; settings = { reload_rc = $2; gen = $3; }; },
	  { name = "r2"; plugin = "reloadrc.so"; executor = "thread"; settings = { reload_rc = $2; gen = $3; }; },
	  { name = "r3"; plugin = "reloadrc.so"; executor = "process-async"; settings = { reload_rc = $2; gen = $3; }; },
	  { name = "ok"; plugin = "ticker.so"; executor = "async"; settings = { interval = 0.5; }; }
	);
	EOF2
}
rc9 0.5 0 1
start_tendd || exit 1
wait_for 10 eval '[ "$(count_state ready)" = 6 ]'
wait_for 10 aged r1
snap before
rc9 -1.0 7 2
reload
is "$RC" 1 "reload(): exits 1: some services failed"
for s in r1 r2 r3; do
	like "$OUT" "^restarted +$s: reload\\(\\) returned 7$" "reload(): $s: reload() returned 7: restarted"
	check "reload(): $s: the plugin's reload() ran" log_has "info +$s: reload\\(\\) returns 7$"
	check "reload(): $s: the restart is logged" log_has "notice +$s: reload\\(\\) returned 7: restarting$"
done
check "reload(): ticker refused the interval" log_has 'error +tk: interval must be positive$'
check "reload(): worker too" log_has 'error +wk: interval must be positive, at most a day$'
check "reload(): ticker's reload() returned 1" log_has 'notice +tk: reload\(\) returned 1: restarting$'
check "reload(): worker's too" log_has 'notice +wk: reload\(\) returned 1: restarting$'
like "$OUT" '^failed +tk: failed to start: init\(\) failed$' "reload(): then its init() failed: outcome failed"
like "$OUT" '^failed +wk: failed to start: init\(\) failed$' "reload(): same for the process worker"
is "$(printf '%s\n' "$OUT" | tail -1)" "$(summary 0 0 3 0 1 2)" "reload(): the summary"
snap after
is "$(changed before after)" "r1 r2 r3 tk wk" "reload(): the restarted ones have new runs, ok runs on"
is "$(field r1 state)/$(field r2 state)/$(field r3 state)" "ready/ready/ready" "reload(): and are ready"
is "$(field tk state)/$(field wk state)" "failed/failed" "reload(): the failed ones are failed (temporary)"
like "$(tctl status)" '^last reload \(tendctl, uid 0, .* ago\) failed for: tk wk$' "reload(): status says which failed"
# the settings fixed: reload() says yes; the failed ones come back
wait_for 10 aged r1
snap mid
rc9 0.2 0 3
reload
is "$RC" 0 "reload(): settings fixed: exits 0"
for s in r1 r2 r3; do
	like "$OUT" "^reconfigured +$s: settings$" "reload(): $s: reload() returned 0: reconfigured"
done
snap after2
is "$(changed mid after2)" "tk wk" "reload(): r1 r2 r3 and ok run on"
like "$OUT" '^restarted +tk: config changed$' "reload(): a failed service whose settings were fixed is started again"
like "$OUT" '^restarted +wk: config changed$' "reload(): the process one too"
is "$(field tk state)/$(field wk state)" "ready/ready" "reload(): both run again"
check "reload(): with the new interval" log_has 'info +tk: ticking every 0.2s$'
finish reload-rc

# ---------------------------------------------------------------------
# 10. Other changes: restart strategy, timeouts and watchdog in place;
#     executor or ready mode: a restart; the log level at once
other10() { # other10 VARIANT
	local pol=permanent st=2.0 wd=0.0 ex=thread rdy=start lvl=info
	case $1 in
	changed) pol=transient st=3.0 wd=5.0 ex=process rdy=notify ;;
	debug) pol=transient st=3.0 wd=5.0 ex=process rdy=notify lvl=debug ;;
	warning) pol=transient st=3.0 wd=5.0 ex=process rdy=notify lvl=warning ;;
	esac
	EXTRA="log = { level = \"$lvl\"; };" conf <<-EOF2
	services = (
	  { name = "pol"; plugin = "worker.so"; executor = "process";
	    restart = { policy = "$pol"; delay = 0.2; }; settings = { interval = 0.1; }; },
	  { name = "st"; plugin = "worker.so"; executor = "thread"; stop_timeout = $st; settings = { interval = 0.1; }; },
	  { name = "wdt"; plugin = "ticker.so"; executor = "thread-async"; watchdog = $wd; settings = { interval = 0.1; }; },
	  { name = "wdp"; plugin = "ticker.so"; executor = "process-async"; watchdog = $wd; settings = { interval = 0.1; }; },
	  { name = "ex"; plugin = "worker.so"; executor = "$ex"; settings = { interval = 0.1; }; },
	  { name = "rdy"; plugin = "misbehave.so"; executor = "thread"; ready = "$rdy";
	    settings = { action = "none"; notify = true; after = 0.1; }; },
	  { name = "tk"; plugin = "ticker.so"; executor = "async"; settings = { interval = 0.1; }; }
	);
	EOF2
}
other10 base
start_tendd || exit 1
wait_for 10 eval '[ "$(count_state ready)" = 7 ]'
wait_for 10 aged tk
snap before
other10 changed
reload
is "$RC" 0 "other: reload exits 0"
like "$OUT" '^reconfigured +pol: restart strategy or timeouts$' "other: a restart policy change is applied in place"
like "$OUT" '^reconfigured +st: restart strategy or timeouts$' "other: so is a stop_timeout change"
like "$OUT" '^reconfigured +wdt: restart strategy or timeouts$' "other: so is a watchdog change (thread-async)"
like "$OUT" '^restarted +wdp: config changed$' "other: a watchdog change of a process restarts it"
like "$OUT" '^restarted +ex: config changed$' "other: an executor change restarts"
like "$OUT" '^restarted +rdy: config changed$' "other: a ready mode change restarts"
like "$OUT" '^unchanged +tk$' "other: tk is unchanged"
is "$(printf '%s\n' "$OUT" | tail -1)" "$(summary 0 0 3 3 1 0)" "other: the summary"
snap after
is "$(changed before after)" "ex rdy wdp" "other: only the restarted ones have new runs"
check "other: rdy is ready by tend_ready() now" log_has 'info +rdy: ready$'
is "$(field ex executor)" process "other: ex runs as a process now"
# log level: debug lines appear
is "$(log_count ' debug ')" 0 "other: no debug line at info"
other10 debug
reload
is "$RC" 0 "other: a log level change reloads"
like "$OUT" '^global +log[._]level: info -> debug$' "other: the change is reported"
check "other: debug lines are logged now" log_has 'debug +tendd: reload [0-9]+: tk: unchanged$'
tctl restart tk >/dev/null
check "other: state changes at debug" wait_for 5 log_has 'debug +tk: ready -> stopping$'
other10 warning
reload
is "$RC" 0 "other: to warning"
like "$OUT" '^global +log[._]level: debug -> warning$' "other: reported"
n=$(log_count ' info ')
check "other: info lines stop" eval '! wait_for 1 eval "[ \$(log_count \" info \") -gt $n ]"'
finish other

# ---------------------------------------------------------------------
# 11. ready_timeout: a notify service that never says ready fails
ready11() { # ready11 [ANOTHER-SERVICE]
	conf <<-EOF2
	services = (
	  { name = "mute"; plugin = "misbehave.so"; executor = "process"; ready = "notify";
	    ready_timeout = 0.5; restart = { policy = "temporary"; };
	    settings = { action = "none"; }; },
	  { name = "mutet"; plugin = "misbehave.so"; executor = "thread-async"; ready = "notify";
	    ready_timeout = 0.3; restart = { policy = "temporary"; };
	    settings = { action = "none"; }; },
	  { name = "talks"; plugin = "misbehave.so"; executor = "process"; ready = "notify";
	    ready_timeout = 5.0; settings = { action = "none"; notify = true; after = 0.2; }; }
	  ${1:+, $1}
	);
	EOF2
}
ready11
start_tendd || exit 1
check "ready_timeout: a service that says ready is ready" wait_for 10 state_is talks ready
check "ready_timeout: one that never does fails" wait_for 10 state_is mute failed
like "$(field mute last_exit)" '^failed to start: not ready within 0.5s$' "ready_timeout: as not ready within 0.5s"
check "ready_timeout: under thread-async too" wait_for 10 state_is mutet failed
like "$(field mutet last_exit)" '^failed to start: not ready within 0.3s$' "ready_timeout: within its own timeout"
check "ready_timeout: it is logged" log_has 'warning +mute: not ready within 0.5s$'
# added by a reload: the reload waits for it, and reports the failure
ready11 '{ name = "newmute"; plugin = "misbehave.so"; executor = "process-async"; ready = "notify";
    ready_timeout = 0.4; restart = { policy = "temporary"; }; settings = { action = "none"; }; }'
reload
is "$RC" 1 "ready_timeout: a reload adding one exits 1"
like "$OUT" '^failed +newmute: failed to start: not ready within 0.4s$' "ready_timeout: it failed, with the reason"
finish ready_timeout

# ---------------------------------------------------------------------
# 12. A thread that will not stop in time is abandoned: a reload that
#     removes it is over then, whatever else happens (here nothing else
#     does: the other service ticks once a minute)
late12() { # late12 [MORE-SERVICES]
	STOP_TIMEOUT=0.3 conf <<-EOF2
	services = (
	  { name = "quiet"; plugin = "ticker.so"; executor = "async"; settings = { interval = 60.0; }; }
	  $*
	);
	EOF2
}
late12 ', { name = "slowstop"; plugin = "misbehave.so"; executor = "thread-async";
    settings = { action = "late_stop"; late = 2.0; after = 60.0; }; }'
start_tendd || exit 1
wait_for 10 state_is slowstop ready
late12
t0=$(date +%s%N)
reload
ms=$((($(date +%s%N) - t0) / 1000000))
is "$RC" 0 "abandoned: reload exits 0"
like "$OUT" '^removed +slowstop$' "abandoned: the service is removed"
check "abandoned: its thread was abandoned" log_has 'error +slowstop: thread [0-9]+ did not stop within 0.3s; abandoned, still running$'
[ "$ms" -lt 1500 ]
ok $? "abandoned: the reload is over once the thread is abandoned (took $ms ms; stop_timeout 0.3 s, the thread ends after 2 s)"
check "abandoned: it is gone from status" eval '! tctl status slowstop'
check "abandoned: the thread ends later" wait_for 10 log_has "abandoned instance of 'slowstop' has ended"
finish abandoned

# ---------------------------------------------------------------------
# 13. Only root (or tendd's own user) may reload; anyone may --dry-run
if ! test_user; then
	echo "# skip: needs root and a user tendtest"
else
	as_user() { setpriv --reuid=tendtest --regid=tendtest --clear-groups "$@"; }
	CTL_MODE=0666 conf <<'EOF2'
services = (
  { name = "a"; plugin = "ticker.so"; executor = "async"; settings = { interval = 0.5; }; }
);
EOF2
	start_tendd || exit 1
	check "user: status works for another user" as_user "$TENDCTL" -s "$SOCK" status
	CTL_MODE=0666 conf <<'EOF2'
services = (
  { name = "a"; plugin = "ticker.so"; executor = "async"; settings = { interval = 0.5; }; },
  { name = "b"; plugin = "ticker.so"; executor = "async"; settings = { interval = 0.5; }; }
);
EOF2
	as_user "$TENDCTL" -s "$SOCK" reload >"$T/out" 2>"$T/err"
	is "$?" 1 "user: reload is refused"
	like "$(cat "$T/err")" "^tendctl: permission denied: 'reload' needs root or uid 0$" "user: permission denied"
	check "user: nothing was reloaded" eval '! log_has "reload [0-9]+ .*reading"'
	check "user: b was not added" eval '! tctl status b'
	as_user "$TENDCTL" -s "$SOCK" reload --dry-run >"$T/out" 2>"$T/err"
	is "$?" 0 "user: --dry-run is allowed"
	like "$(cat "$T/out")" '^added +b$' "user: and tells the plan"
	check "user: the dry run names the user" log_has "reload [0-9]+ \(tendctl, uid $(id -u tendtest)\), dry run"
	check "user: b is still not there" eval '! tctl status b'
	kill -HUP "$TENDD_PID"
	check "user: root's SIGHUP still works" wait_for 10 state_is b ready
	finish user
fi

done_testing
