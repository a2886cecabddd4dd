# tend: a supervisor daemon. `make run` and `make test` are all a fresh
# machine needs; both install missing build dependencies through apt-get.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
LIBDIR     ?= $(PREFIX)/lib
LIBEXECDIR ?= $(PREFIX)/libexec/tend
INCLUDEDIR ?= $(PREFIX)/include
SYSCONFDIR ?= $(PREFIX)/etc
PLUGINDIR  ?= $(LIBDIR)/tend/plugins
RUNDIR     ?= /run/tend
VERSION    := 0.1.0

BUILD ?= build
CC    ?= cc
# `make V=1` shows the full commands
ifndef V
Q = @
endif
CFLAGS ?= -O2 -g

WARNINGS = -Wall -Wextra -Wshadow -Wpointer-arith -Wformat=2 \
           -Wmissing-prototypes -Wstrict-prototypes -Wmissing-declarations \
           -Wno-unused-parameter
ifdef DEVELOPER
WARNINGS += -Werror
endif
ifdef SANITIZE
SANFLAGS = -fsanitize=$(SANITIZE) -fno-sanitize-recover=all \
           -fno-omit-frame-pointer
endif

ALL_CFLAGS = -std=gnu11 $(CFLAGS) $(WARNINGS) $(SANFLAGS) -Iinclude \
             -D_GNU_SOURCE -DTEND_VERSION='"$(VERSION)"' \
             -DTEND_SYSCONFDIR='"$(SYSCONFDIR)/tend"' \
             -DTEND_PLUGINDIR='"$(PLUGINDIR)"' -DTEND_RUNDIR='"$(RUNDIR)"' \
             -DTEND_LIBEXECDIR='"$(LIBEXECDIR)"'
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)
LIBS = -lev -lconfig -ljansson -lm -ldl -lpthread

# The daemon, one file per concept (see README.md, "Source layout").
DAEMON = main host supervisor backoff exit events services reload notify \
         recent \
         config settings \
         plugin errors log clock control exec exec_async exec_thread \
         exec_thread_async exec_process spawn proto cgroup utf8 mailbox \
         ev_alloc reexec
# The child side of the process executors.
RUNNER = runner launcher proto settings clock utf8
RUNNER_OBJS = $(RUNNER:%=$(BUILD)/daemon/%.o)
DAEMON_OBJS = $(DAEMON:%=$(BUILD)/daemon/%.o)
PLUGINS = ticker worker relay counter exec
TEST_PLUGINS = misbehave badabi shortdesc noentry reloadrc msgtest threadctor \
               bigtls
UNIT_TESTS = t-backoff t-config t-supervisor t-mailbox t-proto t-ev_alloc

PROGRAMS = $(BUILD)/tendd $(BUILD)/tendctl $(BUILD)/tend-runner
PLUGIN_SOS = $(PLUGINS:%=$(BUILD)/plugins/%.so)
TEST_SOS = $(TEST_PLUGINS:%=$(BUILD)/tests/plugins/%.so)
UNIT_BINS = $(UNIT_TESTS:%=$(BUILD)/tests/unit/%)

# Debian packages needed to build, and to run the tests.
BUILD_DEPS = libev-dev libconfig-dev libjansson-dev pkg-config gcc make
TEST_DEPS  = valgrind perl procps systemd

.PHONY: all run test test-build deps test-deps clean install uninstall

all: $(PROGRAMS) $(PLUGIN_SOS)

$(BUILD)/daemon/%.o: daemon/%.c daemon/tendd.h daemon/proto.h include/tend/plugin.h
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tendd: $(DAEMON_OBJS)
	@echo "  LINK    $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# -z now: the launcher binds every symbol once, not each runner it forks
$(BUILD)/tend-runner: $(RUNNER_OBJS)
	@echo "  LINK    $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -Wl,-z,now -o $@ $^ -lev -ljansson -ldl -lpthread

$(BUILD)/tendctl: daemon/tendctl.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< -ljansson -lconfig

# A bundled plugin is plugins/NAME/NAME.c, built with nothing but its header.
.SECONDEXPANSION:
$(BUILD)/plugins/%.so: plugins/$$*/$$*.c include/tend/plugin.h
	@mkdir -p $(@D)
	@echo "  PLUGIN  $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -fPIC -shared -o $@ $< -lev

$(BUILD)/tests/plugins/%.so: tests/plugins/%.c include/tend/plugin.h
	@mkdir -p $(@D)
	@echo "  PLUGIN  $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -fPIC -shared -o $@ $< -lev

# Unit tests link the daemon files they test; t-supervisor mocks the rest.
UNIT_COMMON = $(BUILD)/daemon/log.o $(BUILD)/daemon/clock.o \
              $(BUILD)/daemon/errors.o $(BUILD)/daemon/exit.o
$(BUILD)/tests/unit/t-backoff: tests/unit/t-backoff.c $(BUILD)/daemon/backoff.o $(UNIT_COMMON)
$(BUILD)/tests/unit/t-config: tests/unit/t-config.c $(BUILD)/daemon/config.o \
	$(BUILD)/daemon/settings.o $(UNIT_COMMON)
$(BUILD)/tests/unit/t-supervisor: tests/unit/t-supervisor.c \
	$(BUILD)/daemon/supervisor.o $(BUILD)/daemon/backoff.o $(BUILD)/daemon/mailbox.o \
	$(BUILD)/daemon/settings.o $(UNIT_COMMON)
$(BUILD)/tests/unit/t-mailbox: tests/unit/t-mailbox.c $(BUILD)/daemon/mailbox.o $(UNIT_COMMON)
$(BUILD)/tests/unit/t-proto: tests/unit/t-proto.c $(BUILD)/daemon/proto.o $(UNIT_COMMON)
$(BUILD)/tests/unit/t-ev_alloc: tests/unit/t-ev_alloc.c $(BUILD)/daemon/ev_alloc.o $(UNIT_COMMON)
$(BUILD)/tests/unit/%: tests/unit/tap.h
	@mkdir -p $(@D)
	@echo "  TEST    $@"
	$(Q)$(CC) $(ALL_CFLAGS) -Idaemon $(ALL_LDFLAGS) -o $@ \
		$(filter %.c %.o,$^) $(LIBS)

test-build: all $(TEST_SOS) $(UNIT_BINS)

deps:
	@missing=; for p in $(BUILD_DEPS) $(EXTRA_DEPS); do \
		dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

test-deps:
	@$(MAKE) --no-print-directory deps EXTRA_DEPS="$(TEST_DEPS)"

run: deps
	@$(MAKE) --no-print-directory all
	@mkdir -p conf/run
	exec $(BUILD)/tendd -c conf/tend.conf

# Every test runs against a build with AddressSanitizer and UBSan; the
# valgrind test uses a plain -O0 build of its own (the two don't mix).
test: test-deps
	@$(MAKE) --no-print-directory BUILD=build/asan \
		SANITIZE=address,undefined DEVELOPER=1 CFLAGS="-O1 -g" test-build
	@$(MAKE) --no-print-directory BUILD=build/valgrind DEVELOPER=1 \
		CFLAGS="-O0 -g" test-build
	TEND_BUILD=build/asan TEND_VALGRIND_BUILD=build/valgrind \
		prove -j2 build/asan/tests/unit/t-* tests/t[0-9]*.sh

# libFuzzer on the control socket's request parser (clang only; see
# tests/fuzz/control_fuzz.c). `make fuzz` runs it for FUZZ_TIME seconds;
# what it finds goes under $(BUILD)/tests/fuzz (crashes, and new inputs in
# corpus/), the seeds in tests/fuzz/corpus are only read. FUZZ_ARGS adds
# libFuzzer options (-jobs=N, -seed=N...). The sanitizer build of
# `make test` builds it too, and tests/t0610-fuzz-control.sh runs it
# briefly. It includes daemon/control.c and compiles the daemon files it
# links itself, with clang: no gcc object is reused.
FUZZ_CC   ?= clang
FUZZ_TIME ?= 60
FUZZ_ARGS ?=
FUZZ_DEPS  = clang
TEST_DEPS += $(FUZZ_DEPS)
FUZZ_BIN   = $(BUILD)/tests/fuzz/control_fuzz
FUZZ_LINKS = log recent utf8 exit errors clock mailbox
FUZZ_CFLAGS = -std=gnu11 -O1 -g -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=all -fno-omit-frame-pointer \
              $(filter-out -Werror,$(WARNINGS)) -Iinclude -D_GNU_SOURCE

$(FUZZ_BIN): tests/fuzz/control_fuzz.c daemon/control.c \
	$(FUZZ_LINKS:%=daemon/%.c) daemon/tendd.h include/tend/plugin.h
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ tests/fuzz/control_fuzz.c \
		$(FUZZ_LINKS:%=daemon/%.c) -lev -ljansson -lpthread

ifneq ($(SANITIZE),)
ifneq ($(shell sh -c 'command -v $(FUZZ_CC)' 2>/dev/null),)
test-build: $(FUZZ_BIN)
endif
endif

.PHONY: fuzz
fuzz:
	@$(MAKE) --no-print-directory deps EXTRA_DEPS="$(FUZZ_DEPS)"
	@$(MAKE) --no-print-directory $(FUZZ_BIN)
	@mkdir -p $(BUILD)/tests/fuzz/corpus
	$(FUZZ_BIN) -max_total_time=$(FUZZ_TIME) -timeout=10 \
		-print_final_stats=1 -dict=tests/fuzz/control.dict \
		-artifact_prefix=$(BUILD)/tests/fuzz/ $(FUZZ_ARGS) \
		$(BUILD)/tests/fuzz/corpus tests/fuzz/corpus

# `make bench`: an optimised build of its own (BENCH_BUILD, no sanitizers),
# the bench plugins and programs of tests/bench, then tests/bench/run,
# which measures the real tendd and prints one table (README.md,
# "Performance"). A few minutes; not part of `make test`. BENCH_ARGS goes
# to the driver (--quick: fewer runs; --only=restart,startup,...).
BENCH_BUILD  ?= build/bench
BENCH_CFLAGS ?= -O2 -g -DNDEBUG
BENCH_ARGS   ?=
BENCH_BINS = $(BUILD)/tests/bench/crasher.so $(BUILD)/tests/bench/pingpong.so \
             $(BUILD)/tests/bench/crashprog $(BUILD)/tests/bench/loopfloor

$(BUILD)/tests/bench/%.so: tests/bench/%.c tests/bench/bench.h include/tend/plugin.h
	@mkdir -p $(@D)
	@echo "  PLUGIN  $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -fPIC -shared -o $@ $< -lev

# static: no dynamic linker in the exec plugin's restart figure
$(BUILD)/tests/bench/crashprog: tests/bench/crashprog.c tests/bench/bench.h
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -static -o $@ $<

$(BUILD)/tests/bench/loopfloor: tests/bench/loopfloor.c
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< -lev -lpthread

.PHONY: bench bench-build
bench-build: all $(BENCH_BINS)

bench: deps
	@$(MAKE) --no-print-directory BUILD=$(BENCH_BUILD) SANITIZE= \
		CFLAGS="$(BENCH_CFLAGS)" bench-build
	BENCH_CFLAGS="$(BENCH_CFLAGS)" tests/bench/run $(BENCH_ARGS) $(BENCH_BUILD)

# `make bench-compare`: the same build, then tests/bench/compare, which
# measures tend beside s6, runit and supervisord with the same program
# (README.md, "Performance"). tests/bench/install-peers installs the three
# from Debian if missing, starting none of them system-wide. A few
# minutes; COMPARE_ARGS goes to the driver (--quick).
COMPARE_ARGS ?=

.PHONY: bench-compare
bench-compare: deps
	@tests/bench/install-peers
	@$(MAKE) --no-print-directory BUILD=$(BENCH_BUILD) SANITIZE= \
		CFLAGS="$(BENCH_CFLAGS)" bench-build
	BENCH_CFLAGS="$(BENCH_CFLAGS)" tests/bench/compare $(COMPARE_ARGS) \
		$(BENCH_BUILD)

clean:
	rm -rf build conf/run

# The paths compiled into the programs: whatever uses them is rebuilt when
# they change, so `make install PREFIX=/usr` after a plain `make` installs
# programs that look in /usr, not in /usr/local.
COMPILED_PATHS = $(SYSCONFDIR)/tend $(PLUGINDIR) $(RUNDIR) $(LIBEXECDIR)
$(BUILD)/paths: FORCE
	@mkdir -p $(@D)
	@echo '$(COMPILED_PATHS)' | cmp -s - $@ || echo '$(COMPILED_PATHS)' >$@
$(DAEMON_OBJS) $(RUNNER_OBJS) $(BUILD)/tendctl: $(BUILD)/paths
.PHONY: FORCE
FORCE:

# Where `make install` also puts the manual pages and the systemd unit.
MANDIR  ?= $(PREFIX)/share/man
UNITDIR ?= $(PREFIX)/lib/systemd/system
MAN8 = daemon/tendd.8 daemon/tendctl.8
MAN5 = daemon/tend.conf.5
# tests/t0800-install.sh renders them with groff
TEST_DEPS += groff-base

# The unit, the manual pages and the example config name the default
# paths (PREFIX=/usr/local); their installed copies name the install's.
# The installed config also loses the build tree from its plugin_path and
# has its control socket in RUNDIR.
INSTALL_SED = sed -e 's|/usr/local/sbin/tendd|$(SBINDIR)/tendd|g' \
	-e 's|/usr/local/etc/tend|$(SYSCONFDIR)/tend|g' \
	-e 's|/usr/local/libexec/tend|$(LIBEXECDIR)|g' \
	-e 's|/usr/local/lib/tend/plugins|$(PLUGINDIR)|g' \
	-e 's|/run/tend/tend.sock|$(RUNDIR)/tend.sock|g'
CONF_SED = -e 's|"\.\./build/plugins", *||' \
	-e 's|socket = "run/tend.sock"|socket = "$(RUNDIR)/tend.sock"|'
PC_SED = -e 's|@prefix@|$(PREFIX)|' \
	-e 's|@includedir@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|' \
	-e 's|@plugindir@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(PLUGINDIR))|' \
	-e 's|@version@|$(VERSION)|'
# $(call install_new,FILE,DEST): FILE as DEST, unless DEST exists: an
# admin's config is never overwritten.
install_new = if [ -e $(2) ]; then echo "  KEEP    $(2)"; else \
	echo "  INSTALL $(2)"; install -m 0644 $(1) $(2); fi

install: all
	$(Q)install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) \
		$(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(PLUGINDIR) \
		$(DESTDIR)$(INCLUDEDIR)/tend $(DESTDIR)$(LIBDIR)/pkgconfig \
		$(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man8 \
		$(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(SYSCONFDIR)/tend/conf.d \
		$(BUILD)/install
	@echo "  INSTALL $(DESTDIR)$(SBINDIR)/tendd"
	$(Q)install -m 0755 $(BUILD)/tendd $(DESTDIR)$(SBINDIR)/tendd
	@echo "  INSTALL $(DESTDIR)$(BINDIR)/tendctl"
	$(Q)install -m 0755 $(BUILD)/tendctl $(DESTDIR)$(BINDIR)/tendctl
	@echo "  INSTALL $(DESTDIR)$(LIBEXECDIR)/tend-runner"
	$(Q)install -m 0755 $(BUILD)/tend-runner $(DESTDIR)$(LIBEXECDIR)/tend-runner
	@echo "  INSTALL $(PLUGINS:%=$(DESTDIR)$(PLUGINDIR)/%.so)"
	$(Q)install -m 0644 $(PLUGIN_SOS) $(DESTDIR)$(PLUGINDIR)/
	@echo "  INSTALL $(DESTDIR)$(INCLUDEDIR)/tend/plugin.h"
	$(Q)install -m 0644 include/tend/plugin.h $(DESTDIR)$(INCLUDEDIR)/tend/plugin.h
	@echo "  INSTALL $(DESTDIR)$(LIBDIR)/pkgconfig/tend.pc"
	$(Q)sed $(PC_SED) tend.pc.in >$(BUILD)/install/tend.pc
	$(Q)install -m 0644 $(BUILD)/install/tend.pc $(DESTDIR)$(LIBDIR)/pkgconfig/tend.pc
	@echo "  INSTALL $(DESTDIR)$(UNITDIR)/tend.service"
	$(Q)$(INSTALL_SED) systemd/tend.service >$(BUILD)/install/tend.service
	$(Q)install -m 0644 $(BUILD)/install/tend.service $(DESTDIR)$(UNITDIR)/tend.service
	@echo "  INSTALL $(MAN8:daemon/%=$(DESTDIR)$(MANDIR)/man8/%) $(MAN5:daemon/%=$(DESTDIR)$(MANDIR)/man5/%)"
	$(Q)for f in $(MAN8) $(MAN5); do \
		$(INSTALL_SED) $$f >$(BUILD)/install/$${f##*/} || exit 1; done
	$(Q)install -m 0644 $(MAN8:daemon/%=$(BUILD)/install/%) $(DESTDIR)$(MANDIR)/man8/
	$(Q)install -m 0644 $(MAN5:daemon/%=$(BUILD)/install/%) $(DESTDIR)$(MANDIR)/man5/
	$(Q)$(INSTALL_SED) $(CONF_SED) conf/tend.conf >$(BUILD)/install/tend.conf
	@$(call install_new,$(BUILD)/install/tend.conf,$(DESTDIR)$(SYSCONFDIR)/tend/tend.conf)
	@$(call install_new,conf/conf.d/README,$(DESTDIR)$(SYSCONFDIR)/tend/conf.d/README)

# Removes what install installed, and the directories of tend's own once
# empty; but it leaves SYSCONFDIR alone: the config there is the admin's,
# even the example install wrote (it may have been edited since).
uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/tendd $(DESTDIR)$(BINDIR)/tendctl \
		$(DESTDIR)$(LIBEXECDIR)/tend-runner \
		$(PLUGINS:%=$(DESTDIR)$(PLUGINDIR)/%.so) \
		$(DESTDIR)$(INCLUDEDIR)/tend/plugin.h \
		$(DESTDIR)$(LIBDIR)/pkgconfig/tend.pc \
		$(DESTDIR)$(UNITDIR)/tend.service \
		$(MAN8:daemon/%=$(DESTDIR)$(MANDIR)/man8/%) \
		$(MAN5:daemon/%=$(DESTDIR)$(MANDIR)/man5/%)
	@rmdir $(addprefix $(DESTDIR),$(filter %/tend %/tend/plugins,$(PLUGINDIR) \
		$(LIBDIR)/tend $(LIBEXECDIR) $(INCLUDEDIR)/tend)) 2>/dev/null || true
