# tend: a supervisor daemon. `make run` and `make test` are all a fresh
# machine needs; both install missing build dependencies through apt-get.

PREFIX     ?= /usr/local
BINDIR     ?= $(PREFIX)/bin
SBINDIR    ?= $(PREFIX)/sbin
LIBDIR     ?= $(PREFIX)/lib
LIBEXECDIR ?= $(PREFIX)/libexec/tend
INCLUDEDIR ?= $(PREFIX)/include
SYSCONFDIR ?= $(PREFIX)/etc/tend
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
             -DTEND_SYSCONFDIR='"$(SYSCONFDIR)"' \
             -DTEND_PLUGINDIR='"$(PLUGINDIR)"' -DTEND_RUNDIR='"$(RUNDIR)"' \
             -DTEND_LIBEXECDIR='"$(LIBEXECDIR)"'
ALL_LDFLAGS = $(LDFLAGS) $(SANFLAGS)
LIBS = -lev -lconfig -ljansson -lm -ldl -lpthread

# The daemon, one file per concept (see README.md, "Source layout").
DAEMON = main host supervisor backoff exit events services reload notify \
         recent \
         config settings \
         plugin errors log clock control exec exec_async exec_thread \
         exec_thread_async exec_process proto cgroup utf8
# The child side of the process executors.
RUNNER = runner proto settings clock utf8
RUNNER_OBJS = $(RUNNER:%=$(BUILD)/daemon/%.o)
DAEMON_OBJS = $(DAEMON:%=$(BUILD)/daemon/%.o)
PLUGINS = ticker worker
TEST_PLUGINS = misbehave badabi shortdesc noentry
UNIT_TESTS = t-backoff t-config t-supervisor

PROGRAMS = $(BUILD)/tendd $(BUILD)/tendctl $(BUILD)/tend-runner
PLUGIN_SOS = $(PLUGINS:%=$(BUILD)/plugins/%.so)
TEST_SOS = $(TEST_PLUGINS:%=$(BUILD)/tests/plugins/%.so)
UNIT_BINS = $(UNIT_TESTS:%=$(BUILD)/tests/unit/%)

# Debian packages needed to build, and to run the tests.
BUILD_DEPS = libev-dev libconfig-dev libjansson-dev pkg-config gcc make
TEST_DEPS  = valgrind perl procps

.PHONY: all run test test-build deps test-deps clean install uninstall

all: $(PROGRAMS) $(PLUGIN_SOS)

$(BUILD)/daemon/%.o: daemon/%.c daemon/tendd.h daemon/proto.h include/tend/plugin.h
	@mkdir -p $(@D)
	@echo "  CC      $@"
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(BUILD)/tendd: $(DAEMON_OBJS)
	@echo "  LINK    $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tend-runner: $(RUNNER_OBJS)
	@echo "  LINK    $@"
	$(Q)$(CC) $(ALL_LDFLAGS) -o $@ $^ -lev -ljansson -ldl -lpthread

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
	$(BUILD)/daemon/supervisor.o $(BUILD)/daemon/backoff.o \
	$(BUILD)/daemon/settings.o $(UNIT_COMMON)
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

clean:
	rm -rf build conf/run

install: all
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) \
		$(DESTDIR)$(PLUGINDIR) $(DESTDIR)$(INCLUDEDIR)/tend \
		$(DESTDIR)$(SYSCONFDIR)/conf.d
	install -m 0755 $(BUILD)/tendd $(DESTDIR)$(SBINDIR)/tendd
	install -m 0755 $(BUILD)/tendctl $(DESTDIR)$(BINDIR)/tendctl
	install -m 0755 $(BUILD)/tend-runner $(DESTDIR)$(LIBEXECDIR)/tend-runner
	install -m 0644 $(PLUGIN_SOS) $(DESTDIR)$(PLUGINDIR)/
	install -m 0644 include/tend/plugin.h $(DESTDIR)$(INCLUDEDIR)/tend/

uninstall:
	rm -f $(DESTDIR)$(SBINDIR)/tendd $(DESTDIR)$(BINDIR)/tendctl \
		$(DESTDIR)$(LIBEXECDIR)/tend-runner \
		$(PLUGINS:%=$(DESTDIR)$(PLUGINDIR)/%.so) \
		$(DESTDIR)$(INCLUDEDIR)/tend/plugin.h
