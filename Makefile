# Takhin profiler: reference host, host library, profiler plugin, CLIs, tests.
#   make                 developer build (warnings are errors) into build/
#   make DEV=0           release build (warnings stay warnings)
#   make SANITIZE=address,undefined   instrumented build
#   make test            unit + integration tests
#   make unit | integration

BUILD    ?= build
DEV      ?= 1
SANITIZE ?=
CC       ?= gcc

PKGS     := yaml-0.1 zlib libprotobuf-c libdw cmocka
# Frame pointers and no sibling-call optimization: complete stacks in the
# profiles of our own code.
CPPFLAGS += -Ihost-api/include -Iprofile -Iplugin -I$(BUILD)/gen -D_GNU_SOURCE -MMD -MP
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
PLUGIN_SRC  := $(wildcard plugin/*.c)
PROTO_SRC   := /usr/share/gocode/src/github.com/google/pprof/proto/profile.proto
PROTO_C     := $(BUILD)/gen/profile.pb-c.c
UNIT_SRC    := $(wildcard tests/unit/test_*.c)
FAKE_SRC    := $(wildcard tests/unit/plugins/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))
HOSTLIB_OBJ := $(call obj,$(HOSTLIB_SRC))
SERVER_OBJ  := $(call obj,$(SERVER_SRC))
PROFILE_OBJ := $(call obj,$(PROFILE_SRC)) $(BUILD)/obj/gen/profile.pb-c.o
PLUGIN_OBJ  := $(call obj,$(PLUGIN_SRC))
UNIT_BIN    := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
FAKE_SO     := $(patsubst tests/unit/plugins/%.c,$(BUILD)/tests/plugins/%.so,$(FAKE_SRC))

HOSTLIB  := $(BUILD)/libtakhinhost.a
PROFLIB  := $(BUILD)/libtkprofile.a
PLUGLIB  := $(BUILD)/libtkplugin.a
LIBS     := $(shell pkg-config --libs yaml-0.1 zlib libprotobuf-c libdw) -ldl $(PTHREAD)

all: $(BUILD)/takhind $(BUILD)/profiler.so $(BUILD)/takhin-admin
tests: $(UNIT_BIN) $(FAKE_SO)

$(BUILD)/obj/%.o: %.c | $(PROTO_C)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(CFLAGS) -c $< -o $@

# Generated code is not ours: compile it without our warning flags.
$(PROTO_C): $(PROTO_SRC)
	@mkdir -p $(BUILD)/gen
	protoc-c --proto_path=$(dir $(PROTO_SRC)) --c_out=$(BUILD)/gen $(PROTO_SRC)
$(BUILD)/obj/gen/profile.pb-c.o: $(PROTO_C)
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) -std=gnu11 -g -O2 -fPIC -fno-omit-frame-pointer $(filter -fsanitize=%,$(CFLAGS)) $(shell pkg-config --cflags libprotobuf-c) -c $< -o $@

$(HOSTLIB): $(HOSTLIB_OBJ)
	ar rcs $@ $^
$(PROFLIB): $(PROFILE_OBJ)
	ar rcs $@ $^
# The plugin's objects as an archive, so unit tests can link its modules.
$(PLUGLIB): $(PLUGIN_OBJ)
	ar rcs $@ $^

# The reference server links tcmalloc from the start (heap profiling needs
# it as the process allocator); --no-as-needed keeps it although no symbol
# of it is named.
$(BUILD)/takhind: $(SERVER_OBJ) $(HOSTLIB)
	$(CC) $(LDFLAGS) -o $@ $(SERVER_OBJ) $(HOSTLIB) $(LIBS) \
	    -Wl,--no-as-needed -ltcmalloc -Wl,--as-needed

# The plugin exports only its entry symbol (plugin/exports.map).
$(BUILD)/profiler.so: $(PLUGIN_OBJ) $(PROFLIB) plugin/exports.map
	$(CC) -shared $(filter-out -rdynamic,$(LDFLAGS)) -Wl,--version-script=plugin/exports.map -Wl,-z,defs \
	    -o $@ $(PLUGIN_OBJ) $(PROFLIB) -lcivetweb $(LIBS) \
	    -Wl,--no-as-needed -lprofiler -Wl,--as-needed

$(BUILD)/takhin-admin: $(call obj,cli/takhin-admin.c) $(HOSTLIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(HOSTLIB) $(PLUGLIB) $(PROFLIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(PLUGLIB) $(HOSTLIB) $(PROFLIB) $(LIBS) -lcivetweb -lprofiler -lcmocka

# Plugins the loader tests load: well-formed and broken ones.
$(BUILD)/tests/plugins/%.so: tests/unit/plugins/%.c tests/unit/plugins/fake_plugin.h
	@mkdir -p $(dir $@)
	$(CC) -Ihost-api/include $(CFLAGS) -shared -o $@ $<

unit: tests
	@BUILD=$(BUILD) tests/run.sh unit

integration: all
	@BUILD=$(BUILD) tests/run.sh integration

test: all tests
	@BUILD=$(BUILD) tests/run.sh unit integration

# Benchmarks: bench/*.c are programs, bench/*.sh drive a real takhind.
BENCH_BIN := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(PLUGLIB) $(HOSTLIB) $(PROFLIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(PLUGLIB) $(HOSTLIB) $(PROFLIB) $(LIBS) -lcivetweb -lprofiler

bench-build: all $(BENCH_BIN)

clean:
	rm -rf $(BUILD)

.PHONY: all tests unit integration test clean bench-build
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
.SECONDARY:
