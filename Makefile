# Takhin profiler: reference host, host library, profiler plugin, CLIs, tests.
#   make                 developer build (warnings are errors) into build/
#   make DEV=0           release build (warnings stay warnings)
#   make SANITIZE=address,undefined   instrumented build
#   make test            unit + integration tests
#   make unit | integration
#   make check-layers   no include cycles, layers hold (tests/check_layers.py)

BUILD    ?= build
DEV      ?= 1
SANITIZE ?=
CC       ?= gcc

PKGS     := yaml-0.1 zlib libdw cmocka libcurl jansson libssl libcrypto
# Frame pointers and no sibling-call optimization: complete stacks in the
# profiles of our own code.
# takhin-profiler's folders include each other as "layer/file.h" (-Icli/profiler).
CPPFLAGS += -Ihost-api/include -Iprofile -Iplugin -Icli/profiler -D_GNU_SOURCE -MMD -MP
CFLAGS   += -std=gnu11 -g -O2 -fPIC -fno-omit-frame-pointer -fno-optimize-sibling-calls -fno-common \
            -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wvla \
            $(shell pkg-config --cflags $(PKGS))
ifeq ($(DEV),1)
CFLAGS   += -Werror
endif
ifneq ($(SANITIZE),)
CFLAGS   += -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
LDFLAGS  += -fsanitize=$(SANITIZE)
endif
LDFLAGS  += -rdynamic
PTHREAD  := -pthread

# ---- sources, by part of the architecture ----
HOSTLIB_SRC := $(wildcard host-api/lib/*.c)
SERVER_SRC  := $(wildcard server/*.c)
PROFILE_SRC := $(wildcard profile/*.c)
PLUGIN_SRC  := $(wildcard plugin/*.c plugin/*/*.c)
CLI_SRC     := $(wildcard cli/profiler/*/*.c)
CLI_MAIN    := cli/profiler/commands/main.c
UNIT_SRC    := $(wildcard tests/unit/test_*.c)
FAKE_SRC    := $(wildcard tests/unit/plugins/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
HOSTLIB_OBJ := $(call obj,$(HOSTLIB_SRC))
SERVER_OBJ  := $(call obj,$(SERVER_SRC))
PROFILE_OBJ := $(call obj,$(PROFILE_SRC))
PLUGIN_OBJ  := $(call obj,$(PLUGIN_SRC))
CLI_OBJ     := $(call obj,$(filter-out $(CLI_MAIN),$(CLI_SRC)))
UNIT_BIN    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FAKE_SO     := $(patsubst tests/unit/plugins/%.c,$(BUILD)/tests/plugins/%.so,$(FAKE_SRC))

HOSTLIB  := $(BUILD)/libtakhinhost.a
PROFLIB  := $(BUILD)/libtkprofile.a
PLUGLIB  := $(BUILD)/libtkplugin.a
CLILIB   := $(BUILD)/libtkcli.a
LIBS     := $(shell pkg-config --libs yaml-0.1 zlib libdw) -ldl -lm $(PTHREAD)
# libcurl: the plugin's push to Pyroscope (plugin/profiles/push.c) links it;
# takhin-profiler loads it at its first use (cli/profiler/transport/cli_curl.h),
# by the soname of the library built against.
CURL_LIBS   := $(shell pkg-config --libs libcurl)
CURL_SONAME := $(shell objdump -p $$(pkg-config --variable=libdir libcurl)/libcurl.so 2>/dev/null \
                 | sed -n 's/^ *SONAME *//p')
$(call obj,cli/profiler/transport/curl_load.c): \
    CPPFLAGS += $(if $(CURL_SONAME),-DCLI_CURL_SONAME='"$(CURL_SONAME)"')
# OpenSSL 3: the front terminates TLS on the profiler port (plugin/core/tls.c).
TLS_LIBS    := $(shell pkg-config --libs libssl libcrypto)
# watch (cli/profiler/commands/watch.c, webhook.c, store.c): civetweb serves the
# receiver, jansson reads the webhook and writes the index, libcrypto hashes.
WATCH_LIBS  := $(shell pkg-config --libs jansson libcrypto) -lcivetweb

all: $(BUILD)/takhind $(BUILD)/profiler.so $(BUILD)/takhin-admin $(BUILD)/takhin-profiler \
     $(BUILD)/takhin-kload
tests: $(UNIT_BIN) $(FAKE_SO) $(BUILD)/tests/noperf

# Every object depends on the flags it is built with (as git's GIT-CFLAGS):
# $(FLAGS) is rewritten only when CC, CPPFLAGS, CFLAGS or LDFLAGS change
# (DEV, SANITIZE), so `make` then `make SANITIZE=...` over one
# build/ rebuilds everything instead of linking stale objects.
FLAGS := $(BUILD)/flags
FLAGS_NOW = $(CC) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS)
$(FLAGS): FORCE
	@mkdir -p $(BUILD)
	@printf '%s\n' '$(subst ','\'',$(FLAGS_NOW))' >$@.new
	@if cmp -s $@.new $@; then rm -f $@.new; else mv -f $@.new $@; fi
FORCE:

$(BUILD)/obj/%.o: %.c $(FLAGS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

$(HOSTLIB): $(HOSTLIB_OBJ)
	rm -f $@ && ar rcs $@ $^
$(PROFLIB): $(PROFILE_OBJ)
	rm -f $@ && ar rcs $@ $^
# The plugin's objects as an archive, so unit tests can link its modules.
$(PLUGLIB): $(PLUGIN_OBJ)
	rm -f $@ && ar rcs $@ $^

# The reference server links tcmalloc from the start (heap profiling needs
# it as the process allocator); --no-as-needed keeps it although no symbol
# of it is named.
# TCMALLOC= (empty) drops it: sanitized builds do (see the block at the end).
TCMALLOC ?= -Wl,--no-as-needed -ltcmalloc -Wl,--as-needed
$(BUILD)/takhind: $(SERVER_OBJ) $(HOSTLIB)
	$(CC) $(LDFLAGS) -o $@ $(SERVER_OBJ) $(HOSTLIB) $(LIBS) $(TCMALLOC)

# The plugin exports only its entry symbol (plugin/exports.map).
$(BUILD)/profiler.so: $(PLUGIN_OBJ) $(PROFLIB) plugin/exports.map
	$(CC) -shared $(filter-out -rdynamic,$(LDFLAGS)) -Wl,--version-script=plugin/exports.map -Wl,-z,defs \
	    -o $@ $(PLUGIN_OBJ) $(PROFLIB) -lcivetweb $(LIBS) $(CURL_LIBS) $(TLS_LIBS) \
	    -Wl,--no-as-needed -lprofiler -Wl,--as-needed

$(BUILD)/takhin-admin: $(call obj,cli/admin/takhin-admin.c) $(HOSTLIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

# The Kafka load generator (tools/kload): librdkafka, Debian's librdkafka-dev.
$(BUILD)/takhin-kload: $(call obj,tools/kload/kload.c)
	$(CC) $(LDFLAGS) -o $@ $^ $(shell pkg-config --libs rdkafka) $(PTHREAD)

# takhin-profiler: its modules as an archive, so unit tests can link them.
$(CLILIB): $(CLI_OBJ)
	rm -f $@ && ar rcs $@ $^
# watch's webhook port goes through the profiler port's front (issue 23):
# these objects of the plugin's http/ and core/ layers, none of its top.
CLI_FRONT_OBJ := $(call obj,plugin/http/front.c plugin/http/front_head.c plugin/http/request.c \
                   plugin/http/metrics.c plugin/core/escape.c plugin/core/own_threads.c \
                   plugin/core/tls.c plugin/http/private_listener.c)
$(BUILD)/takhin-profiler: $(call obj,$(CLI_MAIN)) $(CLILIB) $(CLI_FRONT_OBJ) $(PROFLIB)
	$(CC) $(LDFLAGS) -o $@ $< $(CLILIB) $(CLI_FRONT_OBJ) $(PROFLIB) $(LIBS) $(WATCH_LIBS) $(TLS_LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(HOSTLIB) $(PLUGLIB) $(CLILIB) $(PROFLIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(filter %/fake_conn.o $(BUILD)/obj/server/%.o,$^) $(PLUGLIB) $(HOSTLIB) $(CLILIB) $(PROFLIB) $(LIBS) $(CURL_LIBS) $(WATCH_LIBS) $(TLS_LIBS) -lprofiler -lcmocka

# Unit tests that drive HTTP handlers on a fake civetweb connection
# (tests/unit/fake_conn.h): its mg_* functions, linked into the test
# executable, take precedence over libcivetweb's.
FAKE_CONN_TESTS := test_handlers
$(patsubst %,$(BUILD)/tests/%,$(FAKE_CONN_TESTS)): $(BUILD)/obj/tests/unit/fake_conn.o

# takhind as a host of API 1.1 (host.c and loader.c built with
# -DTKH_API_MINOR=1): the profiler must load in it without labels
# (tests/integration/test_labels.sh).
MINOR1_OBJ := $(patsubst %,$(BUILD)/obj/minor1/%.o,host loader)
$(BUILD)/obj/minor1/%.o: host-api/lib/%.c $(FLAGS)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -DTKH_API_MINOR=1 $(CFLAGS) -c $< -o $@
$(BUILD)/tests/takhind_minor1: $(SERVER_OBJ) $(MINOR1_OBJ) $(filter-out %/host.o %/loader.o,$(HOSTLIB_OBJ))
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) $(TCMALLOC)
tests: $(BUILD)/tests/takhind_minor1

# takhind's Kafka requests, tested without sockets: the server's modules
# that have no main.
KAFKA_OBJ := $(call obj,server/kafka_api.c server/kafka_wire.c server/klog.c server/crc32c.c)
$(BUILD)/tests/test_kafka_api: $(KAFKA_OBJ)

# Runs a program with perf_event_open refused (the CPU sampler's tests).
$(BUILD)/tests/noperf: tests/integration/tools/noperf/noperf.c $(FLAGS)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $<

# Plugins the loader tests load: well-formed and broken ones.
$(BUILD)/tests/plugins/%.so: tests/unit/plugins/%.c tests/unit/plugins/fake_plugin.h \
                            host-api/include/takhin/plugin.h $(FLAGS)
	@mkdir -p $(dir $@)
	$(CC) -Ihost-api/include $(CFLAGS) -shared -o $@ $<

unit: tests
	@BUILD=$(BUILD) tests/run.sh unit

integration: all
	@BUILD=$(BUILD) tests/run.sh integration

test: all tests
	@BUILD=$(BUILD) tests/run.sh unit integration

# The layers hold (issue 16): tests/check_layers.py fails on an include
# cycle between modules (a .c with its .h) and on an include against the
# layers of its LAYERS table. check-layers runs its self-test, then the
# check of the tree; `make test` runs both.
check-layers-selftest:
	@tests/layers/selftest.sh
check-layers: check-layers-selftest
	@python3 tests/check_layers.py
test: check-layers

# Benchmarks: bench/*.c are programs, bench/*.sh drive a real takhind.
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(PLUGLIB) $(HOSTLIB) $(PROFLIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(PLUGLIB) $(HOSTLIB) $(PROFLIB) $(LIBS) $(CURL_LIBS) $(TLS_LIBS) -lcivetweb -lprofiler

# bench_heap measures tcmalloc's hooks: it needs tcmalloc as its allocator.
$(BUILD)/bench/bench_heap: $(BUILD)/obj/bench/bench_heap.o $(HOSTLIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS) -Wl,--no-as-needed -ltcmalloc -Wl,--as-needed

bench-build: all $(BENCH_BIN)

clean:
	rm -rf $(BUILD)

.PHONY: all tests unit integration test clean bench-build check-layers check-layers-selftest FORCE
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
.SECONDARY:

# ==== Robustness and speed (issue 7): sanitizers, valgrind, fuzzing, soak, bench ====
# Everything below is this block's; see tests/sanitize/, tests/fuzz/,
# tests/valgrind/, tests/soak/ and bench/report.sh for what each runs.
#   make check-sanitize    every test under ASan+UBSan (build/asan, no tcmalloc)
#   make valgrind          plugin load/profile/unload cycles under memcheck
#   make fuzz [FUZZ_SECONDS=60] [FUZZ_TARGETS="config query"]   libFuzzer (clang)
#   make fuzz-regress      seeds and past crashes replayed (part of make test)
#   make soak              bounded soak of a real takhind on loopback
#   make bench             bench/REPORT.md
ifneq ($(SANITIZE),)
TCMALLOC := # tcmalloc's allocator cannot run under ASan's: heap endpoints answer 501
endif

# Fuzz targets: tests/fuzz/<name>/fuzz_<name>.c. The cli one reads with
# takhin-profiler's modules ($(CLILIB)).
FUZZ_NAMES   := config query symbol legacy decode admin request $(if $(wildcard cli/profiler/input/cli_prof.h),cli) \
                $(if $(wildcard cli/profiler/commands/cli_watch.h),webhook) kafka
FUZZ_TARGETS ?= $(FUZZ_NAMES)
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build/fuzz
FUZZ_CFLAGS   = $(filter-out -MMD -MP,$(CPPFLAGS)) -Itests/fuzz $(CFLAGS)
FUZZ_LINK     = $(if $(filter $(CLILIB),$^),$(CLILIB)) $(filter $(BUILD)/obj/server/%.o,$^) $(PLUGLIB) $(HOSTLIB) $(PROFLIB) $(CURL_LIBS) $(WATCH_LIBS) $(TLS_LIBS) \
                $(LIBS) -lcivetweb -lprofiler -lm
REPLAY_BIN   := $(patsubst %,$(BUILD)/fuzz-replay/fuzz_%,$(FUZZ_NAMES))

# The same target twice: with tests/fuzz/replay.c as main (the project's
# compiler; fuzz-regress), and with libFuzzer's main (clang, make fuzz).
define fuzz_rules
$$(BUILD)/fuzz-replay/fuzz_$(1): tests/fuzz/$(1)/fuzz_$(1).c tests/fuzz/replay.c tests/fuzz/fuzz.h \
                                 $$(PLUGLIB) $$(HOSTLIB) $$(PROFLIB) $$(FLAGS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(FUZZ_CFLAGS) $$(LDFLAGS) -o $$@ $$< tests/fuzz/replay.c $$(FUZZ_LINK)
$$(BUILD)/fuzzers/fuzz_$(1): tests/fuzz/$(1)/fuzz_$(1).c tests/fuzz/fuzz.h \
                             $$(PLUGLIB) $$(HOSTLIB) $$(PROFLIB) $$(FLAGS)
	@mkdir -p $$(dir $$@)
	$$(CC) $$(FUZZ_CFLAGS) -fsanitize=fuzzer $$(LDFLAGS) -o $$@ $$< $$(FUZZ_LINK)
endef
$(foreach n,$(FUZZ_NAMES),$(eval $(call fuzz_rules,$(n))))
$(BUILD)/fuzz-replay/fuzz_cli $(BUILD)/fuzzers/fuzz_cli: $(CLILIB)
$(BUILD)/fuzz-replay/fuzz_webhook $(BUILD)/fuzzers/fuzz_webhook: $(CLILIB)
$(BUILD)/fuzz-replay/fuzz_kafka $(BUILD)/fuzzers/fuzz_kafka: $(KAFKA_OBJ)

fuzz-replay: $(REPLAY_BIN)
fuzzers: $(patsubst %,$(BUILD)/fuzzers/fuzz_%,$(FUZZ_TARGETS))

fuzz-regress: $(REPLAY_BIN)
	@BUILD=$(BUILD) tests/fuzz/regress.sh
test: fuzz-regress

fuzz:
	scripts/deps.sh --extra fuzz
	$(MAKE) BUILD=$(FUZZ_BUILD) CC=clang DEV=0 SANITIZE=fuzzer-no-link,address,undefined \
	    FUZZ_TARGETS="$(FUZZ_TARGETS)" fuzzers
	FUZZ_BUILD=$(FUZZ_BUILD) FUZZ_SECONDS=$(FUZZ_SECONDS) tests/fuzz/run.sh $(FUZZ_TARGETS)

SAN_BUILD := build/asan
check-sanitize:
	$(MAKE) BUILD=$(SAN_BUILD) SANITIZE=address,undefined all tests fuzz-replay
	BUILD=$(SAN_BUILD) tests/sanitize/run.sh

# Soak: a host that unloads the plugin at run time (tests/soak/unload_host.c),
# linked like takhind (tcmalloc unless sanitized).
$(BUILD)/soak/unload_host: tests/soak/unload_host.c $(HOSTLIB) $(FLAGS)
	@mkdir -p $(dir $@)
	$(CC) $(filter-out -MMD -MP,$(CPPFLAGS)) $(CFLAGS) $(LDFLAGS) -o $@ $< $(HOSTLIB) $(LIBS) $(TCMALLOC)

# The long variants of default tests run here too: the flight recorder
# under churning stacks for 10 minutes (tests/soak/flight_soak.sh), the
# scrape replay at Alloy's and Parca's real intervals (15 s, 10 s) for 125 s.
soak: all $(BUILD)/soak/unload_host
	@BUILD=$(BUILD) tests/soak/soak.sh
	@BUILD=$(BUILD) bash tests/soak/flight_soak.sh
	@BUILD=$(BUILD) SCRAPE_SECONDS=125 SCRAPE_ALLOY_EVERY=15 SCRAPE_PARCA_EVERY=10 \
	    bash tests/integration/test_scrape.sh

valgrind: all $(BUILD)/soak/unload_host
	scripts/deps.sh --extra valgrind
	@BUILD=$(BUILD) tests/valgrind/run.sh

# One report, bench/REPORT.md, from every benchmark (bench/report.sh).
bench: bench-build
	scripts/deps.sh --extra bench
	BUILD=$(BUILD) bench/report.sh

.PHONY: fuzz fuzzers fuzz-replay fuzz-regress check-sanitize soak valgrind bench

# ==== Install ====
#   make install [PREFIX=/usr/local] [DESTDIR=]
# takhind, takhin-admin, takhin-profiler; profiler.so under lib/takhin/plugins;
# takhin/plugin.h and takhin-plugin.pc for plugin authors; the config under
# etc/takhin (the plugin path and admin socket set for the install); an
# example systemd unit.
PREFIX     ?= /usr/local
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
ABI_MAJOR   = $(shell sed -nE 's/^\#define TK_ABI_MAJOR ([0-9]+)/\1/p' host-api/include/takhin/plugin.h)
ABI_MINOR   = $(shell sed -nE 's/^\#define TK_ABI_MINOR ([0-9]+)/\1/p' host-api/include/takhin/plugin.h)
VERSION     = $(shell sed -nE 's/^\#define PROF_VERSION "([^"]+)"/\1/p' plugin/core/settings.h)
fill_in     = sed -e 's|@PREFIX@|$(PREFIX)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
                  -e 's|@ABI_MAJOR@|$(ABI_MAJOR)|g' -e 's|@ABI_MINOR@|$(ABI_MINOR)|g' \
                  -e 's|@VERSION@|$(VERSION)|g'
D           = $(DESTDIR)$(PREFIX)

install: all
	install -d $(D)/bin $(D)/lib/takhin/plugins $(D)/include/takhin $(D)/lib/pkgconfig \
	    $(D)/lib/systemd/system $(DESTDIR)$(SYSCONFDIR)/takhin
	install -m 0755 $(BUILD)/takhind $(BUILD)/takhin-admin $(BUILD)/takhin-profiler $(D)/bin/
	install -m 0644 $(BUILD)/profiler.so $(D)/lib/takhin/plugins/
	install -m 0644 host-api/include/takhin/plugin.h $(D)/include/takhin/
	$(fill_in) packaging/takhin-plugin.pc.in >$(D)/lib/pkgconfig/takhin-plugin.pc
	$(fill_in) packaging/takhind.service.in >$(D)/lib/systemd/system/takhind.service
	sed -e 's|path: ../build/profiler.so|path: $(PREFIX)/lib/takhin/plugins/profiler.so|' \
	    -e 's|socket: /tmp/takhind.sock|socket: /run/takhin/takhind.sock|' \
	    configs/takhin.yaml >$(DESTDIR)$(SYSCONFDIR)/takhin/takhin.yaml
	chmod 0644 $(DESTDIR)$(SYSCONFDIR)/takhin/takhin.yaml

.PHONY: install
