#!/bin/bash
# make install and make uninstall, staged with DESTDIR in the test's own
# directory and built there too: every file in its place with its mode,
# the install's own paths in the programs, the unit, the manual pages and
# the example config; pkg-config for an out-of-tree plugin, which the
# installed tendd accepts; an admin's config is never overwritten; and
# uninstall leaves no file but the config under /etc.
. "$(dirname "$0")/lib-tendd.sh"

R=$T/root
# the make running the tests must not lend this one its flags or jobserver,
# nor the environment directories other than those given below
unset MAKEFLAGS MFLAGS MAKELEVEL BINDIR SBINDIR LIBDIR LIBEXECDIR INCLUDEDIR \
	PLUGINDIR RUNDIR MANDIR UNITDIR
VARS=(DESTDIR="$R" PREFIX=/usr SYSCONFDIR=/etc BUILD="$T/build")

# run_ok LOG DESCRIPTION COMMAND...: ok if COMMAND succeeds, else its output
run_ok() {
	local log=$1 desc=$2
	shift 2
	if "$@" >"$log" 2>&1; then
		ok 0 "$desc"
	else
		ok 1 "$desc"
		tail -30 "$log" | sed 's/^/#   /'
		return 1
	fi
}

run_ok "$T/install.log" "make install DESTDIR=... PREFIX=/usr SYSCONFDIR=/etc" \
	make -C "$TOP" -j4 "${VARS[@]}" install || { done_testing; exit 1; }

# what is where, and its mode
PLUGINS=
for d in "$TOP"/plugins/*/; do
	PLUGINS="$PLUGINS $(basename "$d")"
done
EXPECTED="755 /usr/sbin/tendd
755 /usr/bin/tendctl
755 /usr/libexec/tend/tend-runner
644 /usr/include/tend/plugin.h
644 /usr/lib/pkgconfig/tend.pc
644 /usr/lib/systemd/system/tend.service
644 /usr/share/man/man8/tendd.8
644 /usr/share/man/man8/tendctl.8
644 /usr/share/man/man5/tend.conf.5
644 /etc/tend/tend.conf
644 /etc/tend/conf.d/README"
for p in $PLUGINS; do
	EXPECTED="$EXPECTED
644 /usr/lib/tend/plugins/$p.so"
done
while read -r mode f; do
	is "$(stat -c '%F %a' "$R$f" 2>&1)" "regular file $mode" \
		"$f is installed, mode $mode"
done <<<"$EXPECTED"
is "$(cd "$R" && find . ! -type d -printf '%m /%P\n' | sort)" \
	"$(printf '%s\n' "$EXPECTED" | sort)" "and nothing else is installed"

# the programs know where they are installed
like "$("$R/usr/sbin/tendd" -h 2>&1)" "default /etc/tend/tend\.conf\)" \
	"the installed tendd reads /etc/tend/tend.conf by default"
check "it looks for tend-runner in /usr/libexec/tend" \
	grep -qa /usr/libexec/tend/tend-runner "$R/usr/sbin/tendd"
check "and for plugins in /usr/lib/tend/plugins" \
	grep -qa /usr/lib/tend/plugins "$R/usr/sbin/tendd"
check "no installed text names /usr/local" \
	eval "! grep -l /usr/local '$R/usr/lib/systemd/system/tend.service' \
		'$R'/usr/share/man/man*/* '$R/usr/lib/pkgconfig/tend.pc' \
		'$R/etc/tend/tend.conf'"

# the unit, for the install's paths
UNIT=$(cat "$R/usr/lib/systemd/system/tend.service")
like "$UNIT" "^ExecStartPre=/usr/sbin/tendd -t -c /etc/tend/tend\.conf$" \
	"the unit checks /etc/tend/tend.conf with /usr/sbin/tendd"
like "$UNIT" "^ExecStart=/usr/sbin/tendd -c /etc/tend/tend\.conf$" \
	"and runs it"

# the manual pages render without a warning, and name the install's paths
for f in "$R"/usr/share/man/man8/*.8 "$R"/usr/share/man/man5/*.5; do
	n=${f##*/}
	is "$(groff -mandoc -Tutf8 -ww -z "$f" 2>&1)" "" "$n renders without warnings"
	# plain text: no bold or underline by overstriking
	is "$(groff -mandoc -Tutf8 -P-cbu "$f" 2>/dev/null | grep -A1 '^NAME$' |
		tail -1 | awk '{ print $1 }')" "${n%.*}" "$n: NAME names ${n%.*}"
done
like "$(cat "$R/usr/share/man/man8/tendd.8")" "/etc/tend/tend\.conf" \
	"tendd(8) names /etc/tend/tend.conf"

# the example config, pointed at the installed plugins and socket
CONF=$(cat "$R/etc/tend/tend.conf")
like "$CONF" '^ *plugin_path = \[ "/usr/lib/tend/plugins" \];' \
	"the installed config looks for plugins in /usr/lib/tend/plugins only"
like "$CONF" 'socket = "/run/tend/tend\.sock"' \
	"and listens on /run/tend/tend.sock"
sed -e "s|\"/usr/lib/tend/plugins\"|\"$R/usr/lib/tend/plugins\"|" \
	-e "s|include_dir = \"conf.d\"|include_dir = \"$R/etc/tend/conf.d\"|" \
	"$R/etc/tend/tend.conf" >"$T/example.conf"
OUT=$("$R/usr/sbin/tendd" -t -c "$T/example.conf" 2>&1)
is $? 0 "the installed tendd accepts the installed example config and plugins"
like "$OUT" "is ok: [1-9][0-9]* services" "tendd -t says so"

# pkg-config, and an out-of-tree plugin built with it
export PKG_CONFIG_PATH=$R/usr/lib/pkgconfig PKG_CONFIG_LIBDIR=$R/usr/lib/pkgconfig
is "$(pkg-config --variable=plugindir tend)" /usr/lib/tend/plugins \
	"pkg-config --variable=plugindir tend"
is "$(pkg-config --modversion tend)" \
	"$("$R/usr/sbin/tendd" -V | cut -d' ' -f2)" "tend.pc has tendd's version"
is "$(echo $(PKG_CONFIG_SYSROOT_DIR=$R pkg-config --libs tend))" "" \
	"a plugin links nothing of tend's"
CFLAGS_TEND=$(PKG_CONFIG_SYSROOT_DIR=$R pkg-config --cflags tend)
ok $? "pkg-config --cflags tend"
is "$(echo $CFLAGS_TEND)" "-I$R/usr/include" "Cflags point at the installed header"
mkdir -p "$T/plug"
cat >"$T/hello.c" <<'EOF2'
#include <poll.h>
#include <tend/plugin.h>

static int hello_run(struct tend_ctx *ctx)
{
	struct pollfd stop = { .fd = tend_stop_fd(ctx), .events = POLLIN };

	while (!tend_stopping(ctx)) {
		tend_log(ctx, TEND_LOG_INFO, "hello");
		poll(&stop, 1, 1000);
	}
	return 0;
}

TEND_PLUGIN(.name = "hello", .version = "1.0",
            .executors = TEND_EXEC_THREAD | TEND_EXEC_PROCESS,
            .run = hello_run);
EOF2
# shellcheck disable=SC2086 # the flags are words
run_ok "$T/cc.log" "an out-of-tree plugin builds with pkg-config --cflags tend" \
	cc -shared -fPIC -Wall -Werror $CFLAGS_TEND -o "$T/plug/hello.so" "$T/hello.c"

cat >"$T/hello.conf" <<EOF2
tend = {
  plugin_path = [ "$T/plug", "$R/usr/lib/tend/plugins" ];
  control = { socket = "$T/tend.sock"; };
};
services = (
  { name = "hello"; plugin = "hello.so"; executor = "process"; },
  { name = "tick"; plugin = "ticker.so"; executor = "async"; }
);
EOF2
OUT=$("$R/usr/sbin/tendd" -t -c "$T/hello.conf" 2>&1)
is $? 0 "the installed tendd accepts a config using it"
like "$OUT" "is ok: 2 services" "with both services"
sed 's/hello\.so/nosuch.so/' "$T/hello.conf" >"$T/bad.conf"
"$R/usr/sbin/tendd" -t -c "$T/bad.conf" >/dev/null 2>&1
is $? 78 "and refuses one whose plugin is missing (78)"

# installing again keeps an admin's config
echo "# edited by the admin" >>"$R/etc/tend/tend.conf"
run_ok "$T/install2.log" "make install again" make -C "$TOP" "${VARS[@]}" install
check "the edited config is kept" grep -q "edited by the admin" "$R/etc/tend/tend.conf"
check "and install says so" grep -q "KEEP .*/etc/tend/tend.conf" "$T/install2.log"

# uninstall
run_ok "$T/uninstall.log" "make uninstall" make -C "$TOP" "${VARS[@]}" uninstall
LEFT=$(cd "$R" && find . ! -type d ! -path './etc/*' -printf '/%P\n')
is "$LEFT" "" "no installed file is left outside /etc"
check "the config under /etc is left alone" test -f "$R/etc/tend/tend.conf"
check "tend's own directories are gone" eval "test ! -e '$R/usr/lib/tend' &&
	test ! -e '$R/usr/libexec/tend' && test ! -e '$R/usr/include/tend'"

done_testing
