/*
 * test_config.c - the config hierarchy (host-api/lib/config*.c): YAML
 * parsing, defaults < YAML < env, validation messages, the plugins list.
 *
 * Fixtures live in tests/unit/data/config/. Paths to them are relative to
 * the repository root, where `make unit` runs this binary; build with
 * -DCONFIG_DATA='"/elsewhere/"' to run it from another directory. The
 * environment is always passed as an explicit envp array.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "takhin/host/config.h"

#ifndef CONFIG_DATA
#define CONFIG_DATA "tests/unit/data/config/"
#endif
#define FIXTURE(name) CONFIG_DATA name

/* The example schema: close to the real profiler's, plus two small
 * sections. admin.socket sets min 1 so that "" is refused. */
static const tk_config_key profiler_keys[] = {
    {"enabled", TK_CONFIG_BOOL, "false", 0, 0, "serve profiles"},
    {"host", TK_CONFIG_HOST, "127.0.0.1", 0, 0, "address to listen on"},
    {"port", TK_CONFIG_INT, "6060", 0, 65535, "port to listen on"},
    {"cpu_hz", TK_CONFIG_INT, "100", 1, 1000, "CPU samples per second"},
    {"auth.token", TK_CONFIG_STRING, NULL, 0, 0, "bearer token; unset: none"},
    {0},
};
static const tk_config_key admin_keys[] = {
    {"socket", TK_CONFIG_STRING, "takhind.sock", 1, 0, "admin socket path"},
    {0},
};
static const tk_config_key demo_keys[] = {
    {"producers", TK_CONFIG_INT, "2", 1, 64, "producer threads"},
    {0},
};
static const tkh_section sections[] = {
    {"profiler", profiler_keys},
    {"admin", admin_keys},
    {"demo", demo_keys},
};
#define NSECTIONS (sizeof sections / sizeof sections[0])

static char *const no_env[] = {NULL};

/* Warnings collected by the callback. */
typedef struct warnings {
    int n;
    char msg[8][256];
} warnings;

static void collect_warning(void *ctx, const char *message)
{
    warnings *w = ctx;

    assert_true(w->n < 8);
    snprintf(w->msg[w->n++], sizeof w->msg[0], "%s", message);
}

/* Parses `yaml` (named "t.yaml" in origins) and builds it with envp.
 * Returns the build's result; *cfg is set on success. */
static int build_yaml(const char *yaml, char *const *envp, tkh_config **cfg,
                      char *err, size_t errlen)
{
    tkh_doc *doc;
    int rc;

    assert_int_equal(tkh_doc_parse_string(&doc, yaml, "t.yaml", err, errlen), 0);
    rc = tkh_config_build(cfg, doc, sections, NSECTIONS, envp, NULL, NULL,
                          err, errlen);
    tkh_doc_free(doc);
    return rc;
}

/* Same, from a fixture file. */
static int build_file(const char *path, char *const *envp, tkh_config **cfg,
                      char *err, size_t errlen)
{
    tkh_doc *doc;
    int rc;

    assert_int_equal(tkh_doc_parse_file(&doc, path, err, errlen), 0);
    rc = tkh_config_build(cfg, doc, sections, NSECTIONS, envp, NULL, NULL,
                          err, errlen);
    tkh_doc_free(doc);
    return rc;
}

/* Expects the build of `yaml` with envp to fail with exactly `want`. */
static void expect_build_error(const char *yaml, char *const *envp, const char *want)
{
    tkh_config *cfg = (tkh_config *)1;
    char err[512] = "";

    assert_int_equal(build_yaml(yaml, envp, &cfg, err, sizeof err), -1);
    assert_null(cfg);
    assert_string_equal(err, want);
}

/* Expects parsing `yaml` to fail with exactly `want`. */
static void expect_parse_error(const char *yaml, const char *want)
{
    tkh_doc *doc = (tkh_doc *)1;
    char err[512] = "";

    assert_int_equal(tkh_doc_parse_string(&doc, yaml, "t.yaml", err, sizeof err), -1);
    assert_null(doc);
    assert_string_equal(err, want);
}

static void assert_value(const tkh_config *cfg, const char *path,
                         const char *text, const char *origin)
{
    const tk_config_value *v = tkh_config_lookup(cfg, path);

    assert_non_null(v);
    assert_true(v->set);
    assert_string_equal(v->s, text);
    assert_string_equal(v->origin, origin);
}

/* ---- precedence: defaults < YAML < env ---- */

static void test_defaults_only(void **state)
{
    tkh_config *cfg;
    const tk_config_value *v;
    char err[512];

    (void)state;
    assert_int_equal(tkh_config_build(&cfg, NULL, sections, NSECTIONS, no_env,
                                      NULL, NULL, err, sizeof err), 0);
    assert_value(cfg, "profiler.enabled", "false", "default");
    assert_false(tkh_config_lookup(cfg, "profiler.enabled")->b);
    assert_value(cfg, "profiler.host", "127.0.0.1", "default");
    assert_value(cfg, "profiler.port", "6060", "default");
    assert_int_equal(tkh_config_lookup(cfg, "profiler.port")->i, 6060);
    assert_value(cfg, "admin.socket", "takhind.sock", "default");
    v = tkh_config_lookup(cfg, "profiler.auth.token"); /* no default */
    assert_non_null(v);
    assert_false(v->set);
    assert_null(v->s);
    assert_int_equal(v->type, TK_CONFIG_STRING);
    tkh_config_free(cfg);
}

static void test_yaml_overrides_defaults(void **state)
{
    tkh_config *cfg;
    char err[512];

    (void)state;
    assert_int_equal(build_file(FIXTURE("full.yaml"), no_env, &cfg, err, sizeof err), 0);
    assert_value(cfg, "profiler.enabled", "yes", FIXTURE("full.yaml:3:12"));
    assert_true(tkh_config_lookup(cfg, "profiler.enabled")->b);
    assert_value(cfg, "profiler.host", "0.0.0.0", FIXTURE("full.yaml:4:9"));
    assert_value(cfg, "profiler.port", "7070", FIXTURE("full.yaml:5:9"));
    assert_int_equal(tkh_config_lookup(cfg, "profiler.port")->i, 7070);
    assert_int_equal(tkh_config_lookup(cfg, "profiler.cpu_hz")->i, 250);
    assert_value(cfg, "profiler.auth.token", "s3cret", FIXTURE("full.yaml:8:12"));
    assert_value(cfg, "admin.socket", "/run/takhind.sock", FIXTURE("full.yaml:10:11"));
    assert_value(cfg, "demo.producers", "2", "default"); /* not in the file */
    tkh_config_free(cfg);
}

static void test_env_overrides_yaml(void **state)
{
    char *const envp[] = {
        "TAKHIN_PROFILER_ENABLED=off", "TAKHIN_PROFILER_HOST=localhost",
        "TAKHIN_PROFILER_PORT=+8080", "TAKHIN_PROFILER_AUTH_TOKEN=from-env",
        "TAKHIN_ADMIN_SOCKET=/tmp/a.sock", NULL,
    };
    tkh_config *cfg;
    char err[512];

    (void)state;
    assert_int_equal(build_file(FIXTURE("full.yaml"), envp, &cfg, err, sizeof err), 0);
    assert_value(cfg, "profiler.enabled", "off", "env TAKHIN_PROFILER_ENABLED");
    assert_false(tkh_config_lookup(cfg, "profiler.enabled")->b);
    assert_value(cfg, "profiler.host", "localhost", "env TAKHIN_PROFILER_HOST");
    assert_value(cfg, "profiler.port", "+8080", "env TAKHIN_PROFILER_PORT");
    assert_int_equal(tkh_config_lookup(cfg, "profiler.port")->i, 8080);
    assert_value(cfg, "profiler.auth.token", "from-env", "env TAKHIN_PROFILER_AUTH_TOKEN");
    assert_value(cfg, "admin.socket", "/tmp/a.sock", "env TAKHIN_ADMIN_SOCKET");
    /* not overridden: the file still wins over the default */
    assert_value(cfg, "profiler.cpu_hz", "250", FIXTURE("full.yaml:6:11"));
    tkh_config_free(cfg);
}

static void test_env_overrides_default_without_doc(void **state)
{
    char *const envp[] = {"TAKHIN_DEMO_PRODUCERS=8", "TAKHIN_PROFILER_ENABLED=1", NULL};
    tkh_config *cfg;
    char err[512];

    (void)state;
    assert_int_equal(tkh_config_build(&cfg, NULL, sections, NSECTIONS, envp,
                                      NULL, NULL, err, sizeof err), 0);
    assert_value(cfg, "demo.producers", "8", "env TAKHIN_DEMO_PRODUCERS");
    assert_int_equal(tkh_config_lookup(cfg, "demo.producers")->i, 8);
    assert_true(tkh_config_lookup(cfg, "profiler.enabled")->b);
    tkh_config_free(cfg);
}

static void test_first_env_entry_wins(void **state)
{
    char *const envp[] = {"TAKHIN_PROFILER_PORT=1", "TAKHIN_PROFILER_PORT=2", NULL};
    tkh_config *cfg;
    char err[512];

    (void)state;
    assert_int_equal(tkh_config_build(&cfg, NULL, sections, NSECTIONS, envp,
                                      NULL, NULL, err, sizeof err), 0);
    assert_int_equal(tkh_config_lookup(cfg, "profiler.port")->i, 1); /* as getenv */
    tkh_config_free(cfg);
}

/* ---- booleans ---- */

static const char *const true_words[] = {
    "true", "TRUE", "True", "tRuE", "yes", "YES", "Yes", "on", "ON", "On", "1",
};
static const char *const false_words[] = {
    "false", "FALSE", "False", "fAlSe", "no", "NO", "No", "off", "OFF", "Off", "0",
};
#define NWORDS (sizeof true_words / sizeof true_words[0])

static void test_parse_bool(void **state)
{
    static const char *const bad[] = {"maybe", "", "2", "y", "n", "t", "tru",
                                      " true", "true ", "yess", "10", "-1"};
    bool b;

    (void)state;
    for (size_t i = 0; i < NWORDS; i++) {
        b = false;
        assert_int_equal(tkh_parse_bool(true_words[i], &b), 0);
        assert_true(b);
        b = true;
        assert_int_equal(tkh_parse_bool(false_words[i], &b), 0);
        assert_false(b);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        b = true;
        assert_int_equal(tkh_parse_bool(bad[i], &b), -1);
        assert_true(b); /* untouched on failure */
    }
}

/* Builds profiler.enabled = word from YAML or from env; returns its bool. */
static bool enabled_from(const char *word, bool from_env)
{
    char yaml[128], var[128], err[512];
    char *const envp[] = {var, NULL};
    tkh_config *cfg;
    bool b;

    snprintf(yaml, sizeof yaml, "profiler:\n  enabled: %s\n", from_env ? "no" : word);
    snprintf(var, sizeof var, "TAKHIN_PROFILER_ENABLED=%s", word);
    assert_int_equal(build_yaml(yaml, from_env ? envp : no_env, &cfg, err, sizeof err), 0);
    b = tkh_config_lookup(cfg, "profiler.enabled")->b;
    assert_string_equal(tkh_config_lookup(cfg, "profiler.enabled")->s, word);
    tkh_config_free(cfg);
    return b;
}

static void test_bool_spellings_from_yaml(void **state)
{
    (void)state;
    for (size_t i = 0; i < NWORDS; i++) {
        assert_true(enabled_from(true_words[i], false));
        assert_false(enabled_from(false_words[i], false));
    }
}

static void test_bool_spellings_from_env(void **state)
{
    (void)state;
    for (size_t i = 0; i < NWORDS; i++) {
        assert_true(enabled_from(true_words[i], true));
        assert_false(enabled_from(false_words[i], true));
    }
}

static void test_enabled_maybe_from_file(void **state)
{
    tkh_config *cfg;
    char err[512];

    (void)state;
    assert_int_equal(build_file(FIXTURE("bad_bool.yaml"), no_env, &cfg, err, sizeof err), -1);
    assert_null(cfg);
    assert_string_equal(err, "profiler.enabled = \"maybe\" (" FIXTURE("bad_bool.yaml")
                        ":3:12): expected a boolean: true/false, yes/no, on/off or 1/0");
}

static void test_enabled_maybe_from_env(void **state)
{
    char *const envp[] = {"TAKHIN_PROFILER_ENABLED=maybe", NULL};

    (void)state;
    expect_build_error("", envp, "profiler.enabled = \"maybe\" (env TAKHIN_PROFILER_ENABLED)"
                       ": expected a boolean: true/false, yes/no, on/off or 1/0");
}

/* ---- integers ---- */

static void test_port_70000_from_env(void **state)
{
    char *const envp[] = {"TAKHIN_PROFILER_PORT=70000", NULL};

    (void)state;
    expect_build_error("", envp, "profiler.port = \"70000\" (env TAKHIN_PROFILER_PORT)"
                       ": expected an integer from 0 to 65535");
}

static void test_port_70000_from_file(void **state)
{
    tkh_config *cfg;
    char err[512];

    (void)state;
    assert_int_equal(build_file(FIXTURE("bad_port.yaml"), no_env, &cfg, err, sizeof err), -1);
    assert_string_equal(err, "profiler.port = \"70000\" (" FIXTURE("bad_port.yaml")
                        ":4:9): expected an integer from 0 to 65535");
}

/* profiler.port from env: 0 and its value if accepted, else -1. */
static int port_from_env(const char *text, int64_t *out)
{
    char var[128], err[512];
    char *const envp[] = {var, NULL};
    tkh_config *cfg;

    snprintf(var, sizeof var, "TAKHIN_PROFILER_PORT=%s", text);
    if (tkh_config_build(&cfg, NULL, sections, NSECTIONS, envp, NULL, NULL,
                         err, sizeof err) < 0) {
        assert_non_null(strstr(err, "expected an integer from 0 to 65535"));
        return -1;
    }
    *out = tkh_config_lookup(cfg, "profiler.port")->i;
    tkh_config_free(cfg);
    return 0;
}

static void test_int_forms(void **state)
{
    static const char *const bad[] = {
        "", "-1", "65536", "12abc", " 80", "80 ", "0x50", "1.5", "+", "-",
        "99999999999999999999", "-99999999999999999999", "eighty",
    };
    int64_t v = -7;

    (void)state;
    assert_int_equal(port_from_env("0", &v), 0);
    assert_int_equal(v, 0);
    assert_int_equal(port_from_env("65535", &v), 0);
    assert_int_equal(v, 65535);
    assert_int_equal(port_from_env("+80", &v), 0);
    assert_int_equal(v, 80);
    assert_int_equal(port_from_env("0080", &v), 0);
    assert_int_equal(v, 80);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(port_from_env(bad[i], &v), -1);
}

static void test_int_lower_bound(void **state)
{
    (void)state;
    expect_build_error("profiler:\n  cpu_hz: 0\n", no_env,
                       "profiler.cpu_hz = \"0\" (t.yaml:2:11): expected an integer from 1 to 1000");
}

/* ---- strings and hosts ---- */

static void test_string_empty(void **state)
{
    tkh_config *cfg;
    char err[512];

    (void)state;
    expect_build_error("admin:\n  socket: \"\"\n", no_env,
                       "admin.socket = \"\" (t.yaml:2:11): expected a non-empty string");
    /* min 0: "" is a value, and it is set */
    assert_int_equal(build_yaml("profiler:\n  auth:\n    token: ''\n", no_env, &cfg,
                                err, sizeof err), 0);
    assert_value(cfg, "profiler.auth.token", "", "t.yaml:3:12");
    tkh_config_free(cfg);
}

static void test_host_forms(void **state)
{
    tkh_config *cfg;
    char err[512];

    (void)state;
    assert_int_equal(build_yaml("profiler:\n  host: 10.1.2.3\n", no_env, &cfg, err,
                                sizeof err), 0);
    assert_value(cfg, "profiler.host", "10.1.2.3", "t.yaml:2:9");
    tkh_config_free(cfg);
    expect_build_error("profiler:\n  host: example.com\n", no_env,
                       "profiler.host = \"example.com\" (t.yaml:2:9): expected an IPv4 "
                       "address such as 127.0.0.1, or localhost");
    expect_build_error("profiler:\n  host: 256.1.1.1\n", no_env,
                       "profiler.host = \"256.1.1.1\" (t.yaml:2:9): expected an IPv4 "
                       "address such as 127.0.0.1, or localhost");
}

static void test_host_ipv6_hint(void **state)
{
    char *const envp[] = {"TAKHIN_PROFILER_HOST=::1", NULL};

    (void)state;
    expect_build_error("", envp, "profiler.host = \"::1\" (env TAKHIN_PROFILER_HOST): "
                       "expected an IPv4 address or localhost (civetweb has no IPv6 support)");
}

/* ---- every layer is checked ---- */

static void test_bad_yaml_value_overridden_by_env_is_an_error(void **state)
{
    char *const envp[] = {"TAKHIN_PROFILER_PORT=8080", NULL};
    tkh_config *cfg;
    char err[512];

    (void)state;
    assert_int_equal(build_file(FIXTURE("bad_port.yaml"), envp, &cfg, err, sizeof err), -1);
    assert_non_null(strstr(err, "profiler.port = \"70000\" (" FIXTURE("bad_port.yaml") ":4:9)"));
}

static void test_bad_default(void **state)
{
    static const tk_config_key keys[] = {
        {"n", TK_CONFIG_INT, "ten", 0, 100, "a number"},
        {0},
    };
    static const tkh_section secs[] = {{"x", keys}};
    tkh_config *cfg;
    char err[512];

    (void)state;
    assert_int_equal(tkh_config_build(&cfg, NULL, secs, 1, no_env, NULL, NULL,
                                      err, sizeof err), -1);
    assert_string_equal(err, "x.n = \"ten\" (default): expected an integer from 0 to 100");
}

/* ---- keys, sections and shapes ---- */

static void test_unknown_key_from_file(void **state)
{
    tkh_config *cfg;
    char err[512];

    (void)state;
    assert_int_equal(build_file(FIXTURE("unknown_key.yaml"), no_env, &cfg, err, sizeof err), -1);
    assert_string_equal(err, "unknown key profiler.potr (" FIXTURE("unknown_key.yaml")
                        ":4:3): expected one of auth.token, cpu_hz, enabled, host, port");
}

static void test_unknown_nested_key(void **state)
{
    (void)state;
    expect_build_error("profiler:\n  auth:\n    tokn: x\n", no_env,
                       "unknown key profiler.auth.tokn (t.yaml:3:5): expected one of "
                       "auth.token, cpu_hz, enabled, host, port");
}

static void test_unknown_section(void **state)
{
    (void)state;
    expect_build_error("profiler:\n  port: 1\nfoo:\n  bar: 1\n", no_env,
                       "unknown section \"foo\" (t.yaml:3:1): expected one of "
                       "admin, demo, profiler, plugins");
}

static void test_map_where_scalar_expected(void **state)
{
    (void)state;
    expect_build_error("profiler:\n  port:\n    number: 1\n", no_env,
                       "profiler.port (t.yaml:2:3): expected an integer from 0 to "
                       "65535, not a map");
}

static void test_scalar_where_section_expected(void **state)
{
    (void)state;
    expect_build_error("profiler: on\n", no_env,
                       "profiler = \"on\" (t.yaml:1:11): expected a map of keys: "
                       "auth.token, cpu_hz, enabled, host, port");
}

static void test_scalar_where_nested_map_expected(void **state)
{
    (void)state;
    expect_build_error("profiler:\n  auth: x\n", no_env,
                       "profiler.auth = \"x\" (t.yaml:2:9): expected a map of keys: token");
}

static void test_empty_section_is_allowed(void **state)
{
    tkh_config *cfg;
    char err[512];

    (void)state;
    assert_int_equal(build_yaml("profiler:\nadmin: ~\n", no_env, &cfg, err, sizeof err), 0);
    assert_value(cfg, "profiler.port", "6060", "default");
    tkh_config_free(cfg);
}

static void test_nested_key_from_yaml_and_env(void **state)
{
    char *const envp[] = {"TAKHIN_PROFILER_AUTH_TOKEN=t2", NULL};
    tkh_config *cfg;
    char err[512];

    (void)state;
    assert_int_equal(build_yaml("profiler:\n  auth: {token: t1}\n", no_env, &cfg,
                                err, sizeof err), 0);
    assert_value(cfg, "profiler.auth.token", "t1", "t.yaml:2:17");
    tkh_config_free(cfg);
    assert_int_equal(build_yaml("profiler:\n  auth: {token: t1}\n", envp, &cfg,
                                err, sizeof err), 0);
    assert_value(cfg, "profiler.auth.token", "t2", "env TAKHIN_PROFILER_AUTH_TOKEN");
    tkh_config_free(cfg);
}

/* ---- YAML syntax and document shape ---- */

static void test_malformed_file(void **state)
{
    tkh_doc *doc;
    char err[512];

    (void)state;
    assert_int_equal(tkh_doc_parse_file(&doc, FIXTURE("malformed.yaml"), err, sizeof err), -1);
    assert_null(doc);
    /* libyaml's own words, then where the enclosing map started, then a hint */
    assert_string_equal(err, FIXTURE("malformed.yaml") ":3:2: malformed YAML: did not "
                        "find expected key (while parsing a block mapping at line 1, "
                        "column 1); check the indentation (spaces, not tabs) and quote "
                        "values that contain \": \" or \" #\"");
}

static void test_malformed_string(void **state)
{
    tkh_doc *doc;
    char err[512];

    (void)state;
    assert_int_equal(tkh_doc_parse_string(&doc, "profiler:\n  host: a: b\n", "t.yaml",
                                          err, sizeof err), -1);
    assert_non_null(strstr(err, "t.yaml:2:10: malformed YAML: mapping values are not "
                                "allowed in this context; check the indentation"));
    assert_int_equal(tkh_doc_parse_string(&doc, "a: \"open\n", "t.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "t.yaml:2:1: malformed YAML: found unexpected end of stream"));
}

static void test_invalid_utf8_is_placed(void **state)
{
    tkh_doc *doc;
    char err[512];

    (void)state;
    assert_int_equal(tkh_doc_parse_string(&doc, "a: 1\nb: \xff\n", "t.yaml", err,
                                          sizeof err), -1);
    assert_non_null(strstr(err, "t.yaml:2:4: malformed YAML: invalid leading UTF-8 octet"));
}

static void test_duplicate_key_from_file(void **state)
{
    tkh_doc *doc;
    char err[512];

    (void)state;
    assert_int_equal(tkh_doc_parse_file(&doc, FIXTURE("duplicate.yaml"), err, sizeof err), -1);
    assert_string_equal(err, "duplicate key profiler.port (" FIXTURE("duplicate.yaml")
                        ":4:3): already set at " FIXTURE("duplicate.yaml") ":2:3; "
                        "expected each key once");
}

static void test_duplicate_section(void **state)
{
    (void)state;
    expect_parse_error("profiler:\n  port: 1\nprofiler:\n  host: localhost\n",
                       "duplicate key profiler (t.yaml:3:1): already set at "
                       "t.yaml:1:1; expected each key once");
}

static void test_list_outside_plugins(void **state)
{
    (void)state;
    expect_parse_error("profiler:\n  host: [a, b]\n",
                       "profiler.host (t.yaml:2:3): a list is not allowed here; only "
                       "the top-level \"plugins:\" is a list");
    expect_parse_error("profiler:\n  plugins:\n    - x\n",
                       "profiler.plugins (t.yaml:2:3): a list is not allowed here; "
                       "only the top-level \"plugins:\" is a list");
}

static void test_top_level_not_a_map(void **state)
{
    (void)state;
    expect_parse_error("- profiler\n", "t.yaml:1:1: expected a map of sections at the "
                       "top level (such as \"profiler:\"), not a list");
    expect_parse_error("profiler\n", "t.yaml:1:1: expected a map of sections at the "
                       "top level (such as \"profiler:\"), not a scalar");
}

static void test_dotted_key_rejected(void **state)
{
    (void)state;
    expect_parse_error("profiler:\n  auth.token: x\n",
                       "key \"auth.token\" in profiler (t.yaml:2:3): expected a name "
                       "without '.' (write nested maps instead of dotted keys)");
}

static void test_alias_and_second_document_rejected(void **state)
{
    (void)state;
    expect_parse_error("demo:\n  producers: &n 3\nadmin:\n  socket: *n\n",
                       "admin.socket (t.yaml:4:11): aliases (*n) are not supported; "
                       "write the value out");
    expect_parse_error("demo: {producers: 3}\n---\ndemo: {producers: 4}\n",
                       "t.yaml:2:1: a second YAML document; expected one document "
                       "(remove the \"---\")");
}

static void test_deep_nesting_rejected(void **state)
{
    char yaml[512] = "profiler: ", err[512];
    tkh_doc *doc;

    (void)state;
    for (int i = 0; i < 40; i++)
        strcat(yaml, "{a: ");
    strcat(yaml, "1");
    for (int i = 0; i < 40; i++)
        strcat(yaml, "}");
    assert_int_equal(tkh_doc_parse_string(&doc, yaml, "t.yaml", err, sizeof err), -1);
    assert_non_null(strstr(err, "maps nested more than 32 levels deep"));
}

static void test_missing_file(void **state)
{
    tkh_doc *doc;
    char err[512];

    (void)state;
    assert_int_equal(tkh_doc_parse_file(&doc, FIXTURE("no-such.yaml"), err, sizeof err), -1);
    assert_null(doc);
    assert_string_equal(err, "cannot open config file " FIXTURE("no-such.yaml")
                        ": No such file or directory");
}

static void test_empty_file(void **state)
{
    tkh_plugin_spec *specs;
    tkh_config *cfg;
    tkh_doc *doc;
    size_t n = 99;
    char err[512];

    (void)state;
    assert_int_equal(tkh_doc_parse_file(&doc, FIXTURE("empty.yaml"), err, sizeof err), 0);
    assert_int_equal(tkh_doc_plugins(doc, &specs, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
    assert_null(specs);
    assert_int_equal(tkh_config_build(&cfg, doc, sections, NSECTIONS, no_env,
                                      NULL, NULL, err, sizeof err), 0);
    assert_value(cfg, "profiler.port", "6060", "default");
    tkh_config_free(cfg);
    tkh_doc_free(doc);
}

static void test_empty_and_comment_only_strings(void **state)
{
    static const char *const empties[] = {"", "# nothing\n\n", "---\n", "~\n"};
    tkh_config *cfg;
    char err[512];

    (void)state;
    for (size_t i = 0; i < sizeof empties / sizeof empties[0]; i++) {
        assert_int_equal(build_yaml(empties[i], no_env, &cfg, err, sizeof err), 0);
        assert_value(cfg, "admin.socket", "takhind.sock", "default");
        tkh_config_free(cfg);
    }
}

/* ---- plugins ---- */

static void test_plugins_from_file(void **state)
{
    tkh_plugin_spec *specs;
    tkh_config *cfg;
    tkh_doc *doc;
    size_t n;
    char err[512];

    (void)state;
    assert_int_equal(tkh_doc_parse_file(&doc, FIXTURE("plugins.yaml"), err, sizeof err), 0);
    assert_int_equal(tkh_doc_plugins(doc, &specs, &n, err, sizeof err), 0);
    assert_int_equal(n, 2);
    assert_string_equal(specs[0].name, "profiler");
    /* relative: against the directory of the YAML file */
    assert_string_equal(specs[0].path, FIXTURE("lib/profiler.so"));
    assert_string_equal(specs[0].origin, FIXTURE("plugins.yaml:2:5"));
    assert_string_equal(specs[1].name, "other");
    assert_string_equal(specs[1].path, "/opt/takhin/other.so"); /* absolute: as is */
    assert_string_equal(specs[1].origin, FIXTURE("plugins.yaml:4:5"));
    tkh_plugin_specs_free(specs, n);
    /* the list is not a section: the build ignores it */
    assert_int_equal(tkh_config_build(&cfg, doc, sections, NSECTIONS, no_env,
                                      NULL, NULL, err, sizeof err), 0);
    assert_true(tkh_config_lookup(cfg, "profiler.enabled")->b);
    tkh_config_free(cfg);
    tkh_doc_free(doc);
}

static void test_plugins_from_string_keep_relative_paths(void **state)
{
    tkh_plugin_spec *specs;
    tkh_doc *doc;
    size_t n;
    char err[512];

    (void)state;
    assert_int_equal(tkh_doc_parse_string(&doc, "plugins:\n- {name: p, path: lib/p.so}\n",
                                          "t.yaml", err, sizeof err), 0);
    assert_int_equal(tkh_doc_plugins(doc, &specs, &n, err, sizeof err), 0);
    assert_int_equal(n, 1);
    assert_string_equal(specs[0].path, "lib/p.so");
    assert_string_equal(specs[0].origin, "t.yaml:2:3");
    tkh_plugin_specs_free(specs, n);
    tkh_doc_free(doc);
}

static void test_plugins_missing_path(void **state)
{
    tkh_plugin_spec *specs = (tkh_plugin_spec *)1;
    tkh_doc *doc;
    size_t n = 99;
    char err[512];

    (void)state;
    assert_int_equal(tkh_doc_parse_file(&doc, FIXTURE("plugins_no_path.yaml"), err,
                                        sizeof err), 0);
    assert_int_equal(tkh_doc_plugins(doc, &specs, &n, err, sizeof err), -1);
    assert_null(specs);
    assert_int_equal(n, 0);
    assert_string_equal(err, "plugins.1 (" FIXTURE("plugins_no_path.yaml")
                        ":4:5): missing path; expected a map with name and path");
    tkh_doc_free(doc);
}

/* Expects tkh_doc_plugins on `yaml` to fail with exactly `want`. */
static void expect_plugins_error(const char *yaml, const char *want)
{
    tkh_plugin_spec *specs;
    tkh_doc *doc;
    size_t n;
    char err[512];

    assert_int_equal(tkh_doc_parse_string(&doc, yaml, "t.yaml", err, sizeof err), 0);
    assert_int_equal(tkh_doc_plugins(doc, &specs, &n, err, sizeof err), -1);
    assert_string_equal(err, want);
    tkh_doc_free(doc);
}

static void test_plugins_bad_items(void **state)
{
    (void)state;
    expect_plugins_error("plugins:\n  - name: p\n    path: p.so\n    version: 2\n",
                         "unknown key plugins.0.version (t.yaml:4:5): expected one of "
                         "name, path");
    expect_plugins_error("plugins:\n  - p.so\n",
                         "plugins.0 = \"p.so\" (t.yaml:2:5): expected a map with name and path");
    expect_plugins_error("plugins:\n  - {name: '', path: p.so}\n",
                         "plugins.0.name = \"\" (t.yaml:2:12): expected a non-empty name");
    expect_plugins_error("plugins: {name: p, path: p.so}\n",
                         "plugins (t.yaml:1:1): expected a list of maps with name and path");
    expect_plugins_error("plugins:\n- {name: p, path: a.so}\n- {name: p, path: b.so}\n",
                         "plugins.1.name = \"p\" (t.yaml:3:3): expected a unique name; "
                         "plugins.0 (t.yaml:2:3) has it too");
}

static void test_plugins_absent_or_empty(void **state)
{
    static const char *const yamls[] = {"profiler: {port: 1}\n", "plugins:\n", "plugins: []\n"};
    tkh_plugin_spec *specs;
    tkh_doc *doc;
    size_t n;
    char err[512];

    (void)state;
    for (size_t i = 0; i < sizeof yamls / sizeof yamls[0]; i++) {
        assert_int_equal(tkh_doc_parse_string(&doc, yamls[i], "t.yaml", err, sizeof err), 0);
        n = 99;
        assert_int_equal(tkh_doc_plugins(doc, &specs, &n, err, sizeof err), 0);
        assert_int_equal(n, 0);
        assert_null(specs);
        tkh_doc_free(doc);
    }
    assert_int_equal(tkh_doc_plugins(NULL, &specs, &n, err, sizeof err), 0);
    assert_int_equal(n, 0);
}

/* ---- the environment ---- */

static void test_unknown_env_warns(void **state)
{
    char *const envp[] = {
        "PATH=/usr/bin", "TAKHIN_PROFILER_POTR=7000", "TAKHIN_PROFILER_TOKEN=abc",
        "TAKHIN_PROFILER_PORT=7001", "TAKHINX=1", NULL,
    };
    warnings w = {0};
    tkh_config *cfg;
    char err[512];

    (void)state;
    assert_int_equal(tkh_config_build(&cfg, NULL, sections, NSECTIONS, envp,
                                      collect_warning, &w, err, sizeof err), 0);
    assert_int_equal(w.n, 2);
    assert_string_equal(w.msg[0], "ignoring TAKHIN_PROFILER_POTR: no such config key "
                        "(did you mean TAKHIN_PROFILER_PORT?)");
    /* the CLI's variable: too far from any key for a suggestion, never an error */
    assert_string_equal(w.msg[1], "ignoring TAKHIN_PROFILER_TOKEN: no such config key");
    assert_int_equal(tkh_config_lookup(cfg, "profiler.port")->i, 7001);
    tkh_config_free(cfg);
    /* without a callback the same env is fine too */
    assert_int_equal(tkh_config_build(&cfg, NULL, sections, NSECTIONS, envp,
                                      NULL, NULL, err, sizeof err), 0);
    tkh_config_free(cfg);
}

static void test_env_name(void **state)
{
    char buf[64];

    (void)state;
    tkh_env_name("profiler.port", buf, sizeof buf);
    assert_string_equal(buf, "TAKHIN_PROFILER_PORT");
    tkh_env_name("profiler.auth.token", buf, sizeof buf);
    assert_string_equal(buf, "TAKHIN_PROFILER_AUTH_TOKEN");
    tkh_env_name("profiler.cpu_hz", buf, sizeof buf);
    assert_string_equal(buf, "TAKHIN_PROFILER_CPU_HZ");
    tkh_env_name("profiler.port", buf, 10); /* truncated, still terminated */
    assert_string_equal(buf, "TAKHIN_PR");
}

/* ---- reading the config ---- */

static void test_section_get_lookup(void **state)
{
    const tk_config *prof;
    tkh_config *cfg;
    char err[512];

    (void)state;
    assert_int_equal(tkh_config_build(&cfg, NULL, sections, NSECTIONS, no_env,
                                      NULL, NULL, err, sizeof err), 0);
    prof = tkh_config_section(cfg, "profiler");
    assert_non_null(prof);
    assert_null(tkh_config_section(cfg, "nosuch"));
    assert_ptr_equal(tkh_config_get(prof, "port"), tkh_config_lookup(cfg, "profiler.port"));
    assert_non_null(tkh_config_get(prof, "auth.token"));
    assert_null(tkh_config_get(prof, "potr"));
    assert_null(tkh_config_get(prof, "auth")); /* a map on the way, not a key */
    assert_null(tkh_config_lookup(cfg, "profiler"));
    assert_null(tkh_config_lookup(cfg, "nosuch.port"));
    assert_null(tkh_config_lookup(cfg, "admin.port"));
    tkh_config_free(cfg);
}

/* Values must not point into the document: the config outlives it. */
static void test_values_outlive_the_document(void **state)
{
    const tk_config_value *v;
    tkh_config *cfg;
    tkh_doc *doc;
    char err[512];

    (void)state;
    assert_int_equal(tkh_doc_parse_file(&doc, FIXTURE("full.yaml"), err, sizeof err), 0);
    assert_int_equal(tkh_config_build(&cfg, doc, sections, NSECTIONS, no_env,
                                      NULL, NULL, err, sizeof err), 0);
    v = tkh_config_lookup(cfg, "admin.socket");
    tkh_doc_free(doc);
    assert_string_equal(v->s, "/run/takhind.sock");
    assert_string_equal(v->origin, FIXTURE("full.yaml:10:11"));
    assert_ptr_equal(v, tkh_config_lookup(cfg, "admin.socket"));
    tkh_config_free(cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_only),
        cmocka_unit_test(test_yaml_overrides_defaults),
        cmocka_unit_test(test_env_overrides_yaml),
        cmocka_unit_test(test_env_overrides_default_without_doc),
        cmocka_unit_test(test_first_env_entry_wins),
        cmocka_unit_test(test_parse_bool),
        cmocka_unit_test(test_bool_spellings_from_yaml),
        cmocka_unit_test(test_bool_spellings_from_env),
        cmocka_unit_test(test_enabled_maybe_from_file),
        cmocka_unit_test(test_enabled_maybe_from_env),
        cmocka_unit_test(test_port_70000_from_env),
        cmocka_unit_test(test_port_70000_from_file),
        cmocka_unit_test(test_int_forms),
        cmocka_unit_test(test_int_lower_bound),
        cmocka_unit_test(test_string_empty),
        cmocka_unit_test(test_host_forms),
        cmocka_unit_test(test_host_ipv6_hint),
        cmocka_unit_test(test_bad_yaml_value_overridden_by_env_is_an_error),
        cmocka_unit_test(test_bad_default),
        cmocka_unit_test(test_unknown_key_from_file),
        cmocka_unit_test(test_unknown_nested_key),
        cmocka_unit_test(test_unknown_section),
        cmocka_unit_test(test_map_where_scalar_expected),
        cmocka_unit_test(test_scalar_where_section_expected),
        cmocka_unit_test(test_scalar_where_nested_map_expected),
        cmocka_unit_test(test_empty_section_is_allowed),
        cmocka_unit_test(test_nested_key_from_yaml_and_env),
        cmocka_unit_test(test_malformed_file),
        cmocka_unit_test(test_malformed_string),
        cmocka_unit_test(test_invalid_utf8_is_placed),
        cmocka_unit_test(test_duplicate_key_from_file),
        cmocka_unit_test(test_duplicate_section),
        cmocka_unit_test(test_list_outside_plugins),
        cmocka_unit_test(test_top_level_not_a_map),
        cmocka_unit_test(test_dotted_key_rejected),
        cmocka_unit_test(test_alias_and_second_document_rejected),
        cmocka_unit_test(test_deep_nesting_rejected),
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_empty_and_comment_only_strings),
        cmocka_unit_test(test_plugins_from_file),
        cmocka_unit_test(test_plugins_from_string_keep_relative_paths),
        cmocka_unit_test(test_plugins_missing_path),
        cmocka_unit_test(test_plugins_bad_items),
        cmocka_unit_test(test_plugins_absent_or_empty),
        cmocka_unit_test(test_unknown_env_warns),
        cmocka_unit_test(test_env_name),
        cmocka_unit_test(test_section_get_lookup),
        cmocka_unit_test(test_values_outlive_the_document),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
