#!/bin/bash
# Every kind of bad config is refused with exit status 78 (EX_CONFIG) and
# an error naming the file, the line and the key; nothing starts.
. "$(dirname "$0")/lib-tendd.sh"

# expect_error DESCRIPTION REGEX: tendd -t and tendd refuse $T/tend.conf
expect_error() {
	local out status
	out=$("$TENDD" -t -c "$T/tend.conf" 2>&1)
	status=$?
	is "$status" 78 "$1: tendd -t exits 78"
	like "$out" "$2" "$1: the error says where and what"
	out=$("$TENDD" -c "$T/tend.conf" 2>&1)
	status=$?
	is "$status" 78 "$1: tendd exits 78 without starting"
	like "$out" " error +config: ${2#^}" "$1: tendd logs the same error"
	[ -e "$SOCK" ]
	ok $((!$?)) "$1: no control socket was made"
}

C=$T/tend.conf

write_conf <<'EOF2'
services = ( { name = "a"; plugin = "ticker.so"; executor = "async"; } );
bogus = 1;
EOF2
expect_error "unknown top-level key" "^$C:8: bogus: unknown key$"

write_conf <<'EOF2'
services = ( { name = "a"; plugin = "ticker.so"; executor = "async";
               restart = { policy = "permanent"; colour = "red"; }; } );
EOF2
expect_error "unknown key in a service" "^$C:8: restart.colour: unknown key$"

write_conf <<'EOF2'
services = ( { name = "a"; plugin = "ticker.so"; executor = "async";
               restart = { delay = "soon"; }; } );
EOF2
expect_error "wrong type" "^$C:8: restart.delay: must be a number, not a string$"

write_conf <<'EOF2'
services = ( { name = "a"; plugin = "ticker.so"; executor = "async";
               restart = { jitter = 2.5; }; } );
EOF2
expect_error "out of range" "^$C:8: restart.jitter: must be at least 0 and at most 1, not 2.5$"

write_conf <<'EOF2'
services = ( { name = "a"; plugin = "ticker.so"; executor = "async";
               restart = { intensity = -1; }; } );
EOF2
expect_error "negative intensity" "^$C:8: restart.intensity: must be between 0 and 100, not -1$"

write_conf <<'EOF2'
services = ( { name = "a"; plugin = "ticker.so"; executor = "sideways"; } );
EOF2
expect_error "unknown executor" "^$C:7: executor: 'sideways' is not one of: async, thread, thread-async"

write_conf <<'EOF2'
services = ( { name = "a"; plugin = "ticker.so"; executor = "async";
               restart = { policy = "sometimes"; }; } );
EOF2
expect_error "unknown policy" "^$C:8: restart.policy: 'sometimes' is not one of: permanent, transient, temporary$"

write_conf <<'EOF2'
services = ( { plugin = "ticker.so"; executor = "async"; } );
EOF2
expect_error "missing name" "^$C:7: name: missing"

write_conf <<'EOF2'
services = ( { name = "a"; plugin = "nosuch.so"; executor = "async"; } );
EOF2
expect_error "missing plugin" "^$C:7: plugin: 'nosuch.so' not found in plugin_path \($B/plugins, $B/tests/plugins\)$"

write_conf <<'EOF2'
services = ( { name = "a"; plugin = "badabi.so"; executor = "thread"; } );
EOF2
expect_error "plugin built for another ABI" "^$C:7: plugin: '$B/tests/plugins/badabi.so' was built for plugin ABI 99, this tendd speaks ABI 1"

write_conf <<'EOF2'
services = ( { name = "a"; plugin = "shortdesc.so"; executor = "thread"; } );
EOF2
expect_error "descriptor too short" "^$C:7: plugin: .*shortdesc.so': plugin descriptor is 8 bytes"

write_conf <<'EOF2'
services = ( { name = "a"; plugin = "noentry.so"; executor = "thread"; } );
EOF2
expect_error "not a plugin" "^$C:7: plugin: .*noentry.so' is not a tend plugin: no 'tend_plugin' symbol"

: >"$T/garbage.so"
write_conf <<EOF2
services = ( { name = "a"; plugin = "$T/garbage.so"; executor = "thread"; } );
EOF2
expect_error "not a shared object" "^$C:7: plugin: cannot load '$T/garbage.so': "

write_conf <<'EOF2'
services = ( { name = "a"; plugin = "ticker.so"; executor = "thread"; } );
EOF2
expect_error "executor the plugin does not support" "^$C:7: executor: 'thread' is not supported by plugin 'ticker' \(it supports: async, thread-async, process-async\)$"

write_conf <<'EOF2'
services = ( { name = "a"; plugin = "ticker.so"; executor = "async"; },
             { name = "a"; plugin = "worker.so"; executor = "thread"; } );
EOF2
expect_error "duplicate names" "^$C:8: name: duplicate service 'a', first defined at $C:7$"

mkdir -p "$T/conf.d"
TEND_EXTRA='include_dir = "conf.d";' write_conf <<'EOF2'
services = ( { name = "a"; plugin = "ticker.so"; executor = "async"; } );
EOF2
printf 'services = (\n  { name = "a"; plugin = "ticker.so"; executor = "async"; }\n);\n' >"$T/conf.d/dup.conf"
expect_error "duplicate across a drop-in" "^$T/conf.d/dup.conf:2: name: duplicate service 'a', first defined at $C:7$"
printf 'services = (\n  { name = "b"; plugin = "ticker.so"; executor = "async";\n    watchdog = -1.0; }\n);\n' >"$T/conf.d/dup.conf"
expect_error "error inside a drop-in" "^$T/conf.d/dup.conf:3: watchdog: must be at least 0"
rm -rf "$T/conf.d"

write_conf <<'EOF2'
services = ( { name = "a"; plugin = "ticker.so"; executor = "async"; }
EOF2
expect_error "syntax error" "^$C:[0-9]+: syntax error: "

write_conf <<'EOF2'
services = ( { name = "a b"; plugin = "ticker.so"; executor = "async"; } );
EOF2
expect_error "bad service name" "^$C:7: name: 'a b' must be 1 to 64 letters"

TEND_EXTRA='log = { level = "loud"; };' write_conf <<'EOF2'
services = ( );
EOF2
expect_error "bad log level" "^$C:5: tend.log.level: 'loud' is not one of"

cat >"$C" <<EOF2
tend = {
  plugin_path = "$B/plugins";
  control = { socket = "$SOCK";
              mode = "0999"; };
};
EOF2
expect_error "bad socket mode" "^$C:4: tend.control.mode: '0999' is not an octal mode"

out=$("$TENDD" -t -c "$T/none.conf" 2>&1)
is "$?" 78 "a missing config file exits 78"
like "$out" "^$T/none.conf: cannot read" "a missing config file is named"

# many problems at once: all reported, not only the first
write_conf <<'EOF2'
services = ( { name = "a"; plugin = "nosuch.so"; executor = "async";
               watchdog = "x"; },
             { name = "b"; plugin = "ticker.so"; executor = "async";
               stop_timeout = 0.0; } );
EOF2
out=$("$TENDD" -t -c "$C" 2>&1)
is "$(printf '%s\n' "$out" | grep -c "^$C:")" 3 "every error is reported in one run"

# and a good config passes the check, loading its plugins
write_conf <<'EOF2'
services = ( { name = "a"; plugin = "ticker.so"; executor = "async"; },
             { name = "b"; plugin = "worker.so"; executor = "thread";
               instances = 2; } );
EOF2
out=$("$TENDD" -t -c "$C" 2>&1)
is "$?" 0 "a good config passes tendd -t"
like "$out" "config '$C' is ok: 3 services" "tendd -t says it is ok"

done_testing
