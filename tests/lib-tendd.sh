# lib-tendd.sh: sourced by every integration test (tests/tNNNN-*.sh).
#
# Gives a TAP vocabulary (ok, is, like, wait_for, done_testing), a
# temporary directory $T with a config writer, and start/stop of the real
# tendd in the foreground with its log in $T/log. Waiting is always
# polling with a deadline, never a bare sleep.

set -u
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=${TEND_BUILD:-build/asan}
case $B in /*) ;; *) B=$TOP/$B ;; esac
TENDD=$B/tendd
TENDCTL=$B/tendctl
T=$(mktemp -d "${TMPDIR:-/tmp}/tend-test.XXXXXX")
SOCK=$T/tend.sock
TENDD_PID=
# leaks are bugs: LeakSanitizer makes the exit status non-zero
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

_n=0
_failed=0

ok() { # ok CONDITION-STATUS DESCRIPTION
	_n=$((_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_n - $2"
	else
		echo "not ok $_n - $2"
		_failed=$((_failed + 1))
	fi
}

check() { # check DESCRIPTION COMMAND...: ok if COMMAND succeeds
	local desc=$1
	shift
	"$@" >/dev/null 2>&1
	ok $? "$desc"
}

is() { # is GOT WANT DESCRIPTION
	if [ "$1" = "$2" ]; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "#   got:  '$1'"
		echo "#   want: '$2'"
	fi
}

like() { # like TEXT EXTENDED-REGEX DESCRIPTION
	if printf '%s\n' "$1" | grep -Eq -- "$2"; then
		ok 0 "$3"
	else
		ok 1 "$3"
		echo "#   '$1'"
		echo "#   does not match /$2/"
	fi
}

diag() { printf '# %s\n' "$@"; }

# wait_for SECONDS COMMAND...: poll COMMAND until it succeeds or time is up
wait_for() {
	local deadline=$(($(date +%s%N) + ${1%.*} * 1000000000)) 
	shift
	while :; do
		"$@" >/dev/null 2>&1 && return 0
		[ "$(date +%s%N)" -ge "$deadline" ] && return 1
		sleep 0.02
	done
}

# log_has REGEX: the daemon's log has a matching line
log_has() { grep -Eq -- "$1" "$T/log"; }
log_count() { grep -Ec -- "$1" "$T/log"; }

# write_conf: the config from stdin, after a header every test shares
write_conf() {
	{
		cat <<-CONF
		tend = {
		  plugin_path = [ "$B/plugins", "$B/tests/plugins" ];
		  control = { socket = "$SOCK"; };
		  stop_timeout = ${STOP_TIMEOUT:-5.0};
		  ${TEND_EXTRA:-}
		};
		CONF
		cat
	} >"$T/tend.conf"
}

# start_tendd [ARGS]: run tendd on $T/tend.conf until it answers
start_tendd() {
	: >"$T/log"
	"$TENDD" -c "$T/tend.conf" "$@" >>"$T/log" 2>&1 &
	TENDD_PID=$!
	if ! wait_for 20 tctl status; then
		diag "tendd did not become ready; log:"
		sed 's/^/#   /' "$T/log"
		return 1
	fi
}

# stop_tendd [SIGNAL]: stop it and set TENDD_STATUS to its exit status
stop_tendd() {
	kill -"${1:-TERM}" "$TENDD_PID" 2>/dev/null
	wait "$TENDD_PID"
	TENDD_STATUS=$?
	TENDD_PID=
}

# no sanitizer or UBSan report in the log
check_clean_log() {
	if grep -Eq 'ERROR: (Address|Leak)Sanitizer|runtime error:' "$T/log"; then
		ok 1 "no sanitizer reports"
		grep -E -A30 'Sanitizer|runtime error' "$T/log" | sed 's/^/#   /' | head -60
	else
		ok 0 "no sanitizer reports"
	fi
}

tctl() { "$TENDCTL" -s "$SOCK" "$@"; }

# test_user: make sure the unprivileged user tendtest exists (root only);
# sets TEST_UID and TEST_GID, and lets that user into $T. Fails otherwise.
test_user() {
	[ "$(id -u)" = 0 ] || return 1
	id tendtest >/dev/null 2>&1 ||
		useradd --system --no-create-home --shell /usr/sbin/nologin \
			tendtest 2>/dev/null || return 1
	TEST_UID=$(id -u tendtest)
	TEST_GID=$(id -g tendtest)
	chmod 0755 "$T"
}

# field NAME KEY: one field of a service in `tendctl status --json`
field() {
	tctl --json status "$1" 2>/dev/null | KEY=$2 perl -MJSON::PP -0777 -ne '
		binmode(STDOUT, ":encoding(UTF-8)");
		my $r = decode_json($_);
		my $v = $r->{services}[0]{$ENV{KEY}};
		print defined $v ? (JSON::PP::is_bool($v) ? ($v ? "true" : "false") : $v) : "null";
	'
}

state_is() { [ "$(field "$1" state)" = "$2" ]; }

# show the log when a test failed, to say why
_finish() {
	if [ -n "$TENDD_PID" ]; then
		kill -KILL "$TENDD_PID" 2>/dev/null
		wait "$TENDD_PID" 2>/dev/null
	fi
	if [ "$_failed" -gt 0 ] && [ -f "$T/log" ]; then
		diag "last lines of the daemon's log:"
		tail -40 "$T/log" | sed 's/^/#   /'
	fi
	rm -rf "$T"
}
trap _finish EXIT

done_testing() {
	echo "1..$_n"
	[ "$_failed" -eq 0 ]
}
