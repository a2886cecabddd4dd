#!/bin/bash
# A plugin builds with nothing but <tend/plugin.h>, and reads its settings
# through the host table, with typed errors naming file, line and key.
. "$(dirname "$0")/lib-tendd.sh"

# the README's example plugin, verbatim
sed -n '/^#include <poll.h>$/,/^            .run = hello_run);$/p' "$TOP/README.md" >"$T/hello.c"
check "the README's plugin is there" grep -q TEND_PLUGIN "$T/hello.c"
cc -std=c99 -Wall -Wextra -Werror -shared -fPIC -I"$TOP/include" -o "$T/hello.so" "$T/hello.c" 2>"$T/cc.log"
ok $? "it builds with only the header, -Wall -Wextra -Werror"
check "it needs no symbol from tendd" eval '! nm -D --undefined-only "$T/hello.so" | grep -q " tend_"'
cc -std=c99 -Wall -Wextra -Werror -pedantic -x c -fsyntax-only -I"$TOP/include" - <<'EOF2'
#include <tend/plugin.h>
EOF2
ok $? "the header is clean C99 on its own"
if command -v c++ >/dev/null; then
	printf '#include <tend/plugin.h>\nint main() { return 0; }\n' >"$T/x.cc"
	c++ -Wall -Wextra -Werror -fsyntax-only -I"$TOP/include" "$T/x.cc"
	ok $? "and compiles as C++"
fi

write_conf <<EOF2
services = (
  { name = "hello"; plugin = "$T/hello.so"; executor = "thread";
    settings = { who = "tend"; }; },
  { name = "typo"; plugin = "ticker.so"; executor = "async";
    restart = { policy = "temporary"; };
    settings = { interval = "fast"; }; }
);
EOF2
start_tendd || exit 1
check "the plugin runs and reads its settings" wait_for 10 log_has ' info +hello: hello, tend$'
check "a setting of the wrong type names file, line and key" \
	wait_for 10 log_has " error +typo: $T/tend.conf:12: settings.interval: must be a number, not a string$"
check "and the service fails to start" wait_for 10 state_is typo failed
like "$(field typo last_exit)" '^failed to start: init\(\) failed$' "with init's failure as the reason"
stop_tendd
is "$TENDD_STATUS" 0 "tendd exits 0"
check_clean_log
done_testing
