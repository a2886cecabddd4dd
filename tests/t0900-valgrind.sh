#!/bin/bash
# Crash-and-restart under valgrind: services that fail and restart on
# every executor, stopped by SIGTERM, leave no invalid access and no leak.
. "$(dirname "$0")/lib-tendd.sh"

B=$TOP/${TEND_VALGRIND_BUILD:-build/valgrind}
TENDD=$B/tendd
TENDCTL=$B/tendctl
if ! command -v valgrind >/dev/null || [ ! -x "$TENDD" ]; then
	echo "1..0 # SKIP valgrind or $TENDD missing"
	exit 0
fi

write_conf <<'EOF2'
services = (
  { name = "a"; plugin = "misbehave.so"; executor = "async";
    restart = { backoff = "immediate"; intensity = 100; };
    settings = { action = "fail"; after = 0.05; }; },
  { name = "t"; plugin = "misbehave.so"; executor = "thread";
    restart = { backoff = "immediate"; intensity = 100; };
    settings = { action = "error"; after = 0.05; }; },
  { name = "ta"; plugin = "misbehave.so"; executor = "thread-async";
    restart = { backoff = "fixed"; delay = 0.01; intensity = 100; };
    settings = { action = "fail"; after = 0.05; }; },
  { name = "p"; plugin = "misbehave.so"; executor = "process";
    restart = { backoff = "immediate"; intensity = 100; };
    settings = { action = "segv"; after = 0.05; }; },
  { name = "pa"; plugin = "misbehave.so"; executor = "process-async";
    restart = { backoff = "immediate"; intensity = 100; };
    settings = { action = "fail"; after = 0.05; }; },
  { name = "w"; plugin = "worker.so"; executor = "thread";
    settings = { interval = 0.05; }; }
);
EOF2

: >"$T/log"
valgrind --quiet --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \
	--log-file="$T/valgrind" "$TENDD" -c "$T/tend.conf" >>"$T/log" 2>&1 &
TENDD_PID=$!
check "tendd starts under valgrind" wait_for 60 tctl status
# it executes itself again for a smaller TLS reserve, but not here
exe=$(readlink "/proc/$TENDD_PID/exe")
like "$exe" 'memcheck' "tendd stays under valgrind ($exe)"
for s in a t ta p pa; do
	check "$s crashes and is restarted (3 times)" \
		wait_for 60 eval "[ \"\$(field $s restarts)\" -ge 3 ]"
done
stop_tendd TERM
is "$TENDD_STATUS" 0 "tendd exits 0 under valgrind: no errors, no leaks"
if [ -s "$T/valgrind" ]; then
	sed 's/^/#   /' "$T/valgrind" | head -60
fi
done_testing
