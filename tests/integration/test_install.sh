#!/usr/bin/env bash
# make install into a DESTDIR: what lands where; a tiny plugin built
# against the installed takhin-plugin.pc alone; the installed takhind
# started with the installed profiler.so and that plugin.
source "$(dirname "$0")/lib.sh"

stage=$TK_TMP/stage
prefix=/usr/local
root=$stage$prefix
make -s install BUILD="$BUILD" DESTDIR="$stage" PREFIX="$prefix" >"$TK_TMP/install.log" 2>&1
check "make install DESTDIR=... succeeds" test $? -eq 0
for f in bin/takhind bin/takhin-admin bin/takhin-profiler lib/takhin/plugins/profiler.so \
         include/takhin/plugin.h lib/pkgconfig/takhin-plugin.pc \
         lib/systemd/system/takhind.service etc/takhin/takhin.yaml; do
    check "installed: $prefix/$f" test -s "$root/$f"
done
check "the installed config loads the installed plugin" \
    grep -q "path: $prefix/lib/takhin/plugins/profiler.so" "$root/etc/takhin/takhin.yaml"
unit=$(cat "$root/lib/systemd/system/takhind.service")
for want in "ExecStart=$prefix/bin/takhind -c $prefix/etc/takhin/takhin.yaml" \
            "AmbientCapabilities=CAP_PERFMON" "NoNewPrivileges=yes" "RuntimeDirectory=takhin"; do
    check "the unit has $want" contains "$unit" "$want"
done

# A plugin built against the installed .pc alone.
pc() { PKG_CONFIG_SYSROOT_DIR=$stage PKG_CONFIG_LIBDIR=$root/lib/pkgconfig pkg-config "$@"; }
check "pkg-config knows takhin-plugin" pc --exists takhin-plugin
check "its plugindir is $prefix/lib/takhin/plugins" \
    test "$(PKG_CONFIG_LIBDIR=$root/lib/pkgconfig pkg-config --variable=plugindir takhin-plugin)" = "$prefix/lib/takhin/plugins"
cat >"$TK_TMP/hello.c" <<'C'
#include <takhin/plugin.h>

static const tk_host_api *api;

static int hello(void *state, int argc, char **argv, tk_reply *reply)
{
    (void)state;
    api->reply_printf(reply, "hello %s", argc > 0 ? argv[0] : "nobody");
    return 0;
}

static int init(const tk_host_api *a, tk_host *host, const tk_config *cfg, void **state,
                char *err, size_t errlen)
{
    (void)cfg, (void)err, (void)errlen;
    api = a;
    *state = NULL;
    return a->register_command(host, "hello", "say", "hello say NAME", hello);
}

static void fini(void *state) { (void)state; }

static const tk_config_key keys[] = {{0}};
static const tk_plugin_def def = {
    .abi_major = TK_ABI_MAJOR, .abi_minor = TK_ABI_MINOR, .name = "hello", .version = "1",
    .description = "built against the installed takhin-plugin.pc", .config_keys = keys,
    .init = init, .fini = fini,
};

__attribute__((visibility("default"))) const tk_plugin_def *takhin_plugin_entry(void)
{
    return &def;
}
C
cc -shared -fPIC -Wall -Werror $(pc --cflags takhin-plugin) -o "$TK_TMP/hello.so" "$TK_TMP/hello.c" \
    2>"$TK_TMP/cc.log"
check "the tiny plugin builds with the installed header only ($(head -c 200 "$TK_TMP/cc.log"))" \
    test -s "$TK_TMP/hello.so"

cat >"$TK_TMP/installed.yaml" <<YAML
plugins:
  - name: profiler
    path: $root/lib/takhin/plugins/profiler.so
  - name: hello
    path: $TK_TMP/hello.so
profiler:
  enabled: true
  port: 0
demo:
  rate: 100
YAML
if TK_BIN=$root/bin/takhind start_server installed "$TK_TMP/installed.yaml"; then
    check "the installed takhind runs the tiny plugin's command" \
        test "$("$root/bin/takhin-admin" -s "$SERVER_SOCK" hello say world)" = "hello world"
    check "and serves the installed profiler" test "$(http_status /debug/pprof/)" = 200
    check "whose maps show the installed profiler.so" \
        grep -q "$root/lib/takhin/plugins/profiler.so" "/proc/$SERVER_PID/maps"
    check "the installed takhind exits cleanly" stop_server
else
    not_ok "the installed takhind starts with the installed profiler.so"
fi
finish
