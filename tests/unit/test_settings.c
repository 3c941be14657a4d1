/*
 * The profiler's config section (plugin/core/settings.c), read as the host
 * reads it: YAML through the host library's config (tkh_config_build with
 * the plugin's schema prof_config_keys), then prof_settings_read (and
 * prof_push_settings_read) through a
 * tk_host_api whose config_get is the host's. Defaults, every key set,
 * each bad value an error that names its key, the token file,
 * prof_settings_check, and which changed keys take a new listener and
 * which apply to the next request. (The TLS files' own checks are
 * test_tls's.)
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/push_settings.h"
#include "core/settings.h"
#include "takhin/host/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const tkh_section sections[] = {{"profiler", prof_config_keys}};
static const tk_host_api api = {
    .abi_major = TK_ABI_MAJOR,
    .abi_minor = TK_ABI_MINOR,
    .size = sizeof(tk_host_api),
    .config_get = tkh_config_get,
};
static char *const no_env[] = {NULL};

/* Reads `yaml` with envp into *out: 0, or -1 with err from whichever
 * step refused it (the host's schema check, or prof_settings_read). */
static int read_with_env(const char *yaml, char *const *envp, prof_settings *out, char *err,
                         size_t errlen)
{
    tkh_doc *doc;
    tkh_config *cfg = NULL;
    err[0] = '\0';
    assert_int_equal(tkh_doc_parse_string(&doc, yaml, "t.yaml", err, errlen), 0);
    int rc = tkh_config_build(&cfg, doc, sections, 1, envp, NULL, NULL, err, errlen);
    tkh_doc_free(doc);
    if (rc != 0) {
        assert_true(err[0] != '\0');
        return -1;
    }
    const tk_config *section = tkh_config_section(cfg, "profiler");
    assert_non_null(section);
    rc = prof_settings_read(&api, section, out, err, errlen);
    prof_push_settings push;
    if (rc == 0)
        rc = prof_push_settings_read(&api, section, &push, err, errlen);
    tkh_config_free(cfg);
    if (rc != 0)
        assert_true(err[0] != '\0');
    return rc;
}

static int read_yaml(const char *yaml, prof_settings *out, char *err, size_t errlen)
{
    return read_with_env(yaml, no_env, out, err, errlen);
}

/* `yaml` is refused with an error that names `key` ("profiler.port"). */
static void assert_refused(const char *yaml, const char *key)
{
    prof_settings s;
    char err[1024];
    if (read_yaml(yaml, &s, err, sizeof err) == 0)
        fail_msg("accepted: %s", yaml);
    if (strstr(err, key) == NULL)
        fail_msg("the error for \"%s\" does not name %s: %s", yaml, key, err);
    if (getenv("TK_TEST_VERBOSE") != NULL)
        fprintf(stderr, "%s\n", err);
}

static void test_defaults(void **state)
{
    (void)state;
    prof_settings s;
    char err[512];
    assert_int_equal(read_yaml("profiler: {}\n", &s, err, sizeof err), 0);
    assert_false(s.enabled);
    assert_string_equal(s.host, "127.0.0.1");
    assert_int_equal(s.port, 6060);
    assert_int_equal(s.cpu_hz, 100);
    assert_int_equal(s.cpu_sampler, PROF_SAMPLER_AUTO);
    assert_int_equal(s.max_cpu_readers, 4);
    assert_int_equal(s.max_duration, 120);
    assert_int_equal(s.mutex_fraction, 0);
    assert_int_equal(s.block_rate, 0);
    assert_int_equal(s.heap_sample_bytes, 524288);
    assert_string_equal(s.token, "");
    assert_false(s.allow_unauthenticated_remote);
    assert_string_equal(s.tls_cert, "");
    assert_string_equal(s.tls_key, "");
    assert_string_equal(s.tls_client_ca, "");
    assert_false(prof_settings_tls(&s));
    assert_int_equal(s.max_requests, 8);
    assert_int_equal(s.max_queued, 16);
    assert_int_equal(s.max_header_bytes, 8192);
    assert_int_equal(s.request_timeout_ms, 10000);
    assert_int_equal(s.header_timeout_ms, 2000);
    assert_int_equal(s.max_conns_per_peer, 16);
    assert_int_equal(s.max_conns, 4096);
    /* the defaults pass the checks, serving or not */
    assert_int_equal(prof_settings_check(&s, true, err, sizeof err), 0);
}

static void test_every_key_set(void **state)
{
    (void)state;
    prof_settings s;
    char err[512];
    const char *yaml =
        "profiler:\n"
        "  enabled: yes\n"
        "  host: 10.1.2.3\n"
        "  port: 0\n"
        "  cpu_hz: 997\n"
        "  cpu_sampler: thread_timer\n"
        "  max_cpu_readers: 3\n"
        "  max_duration: 3600\n"
        "  mutex_fraction: 5\n"
        "  block_rate: 1000000000000\n"
        "  heap_sample_bytes: 0\n"
        "  auth:\n"
        "    token: s3cret\n"
        "  allow_unauthenticated_remote: on\n"
        "  tls:\n"
        "    cert: /etc/c.pem\n"
        "    key: /etc/k.pem\n"
        "    client_ca: /etc/ca.pem\n"
        "  max_requests: 256\n"
        "  max_queued: 1\n"
        "  max_header_bytes: 1024\n"
        "  request_timeout_ms: 100\n"
        "  header_timeout_ms: 600000\n"
        "  max_conns_per_peer: 65536\n"
        "  max_conns: 16\n";
    assert_int_equal(read_yaml(yaml, &s, err, sizeof err), 0);
    assert_true(s.enabled);
    assert_string_equal(s.host, "10.1.2.3");
    assert_int_equal(s.port, 0);
    assert_int_equal(s.cpu_hz, 997);
    assert_int_equal(s.cpu_sampler, PROF_SAMPLER_THREAD_TIMER);
    assert_int_equal(s.max_cpu_readers, 3);
    assert_int_equal(s.max_duration, 3600);
    assert_int_equal(s.mutex_fraction, 5);
    assert_int_equal(s.block_rate, 1000000000000LL);
    assert_int_equal(s.heap_sample_bytes, 0);
    assert_string_equal(s.token, "s3cret");
    assert_true(s.allow_unauthenticated_remote);
    assert_string_equal(s.tls_cert, "/etc/c.pem");
    assert_string_equal(s.tls_key, "/etc/k.pem");
    assert_string_equal(s.tls_client_ca, "/etc/ca.pem");
    assert_true(prof_settings_tls(&s));
    assert_int_equal(s.max_requests, 256);
    assert_int_equal(s.max_queued, 1);
    assert_int_equal(s.max_header_bytes, 1024);
    assert_int_equal(s.request_timeout_ms, 100);
    assert_int_equal(s.header_timeout_ms, 600000);
    assert_int_equal(s.max_conns_per_peer, 65536);
    assert_int_equal(s.max_conns, 16);
}

static void test_samplers(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        prof_sampler_mode mode;
    } names[] = {
        {"auto", PROF_SAMPLER_AUTO},
        {"perf", PROF_SAMPLER_PERF},
        {"thread_timer", PROF_SAMPLER_THREAD_TIMER},
        {"gperftools", PROF_SAMPLER_GPERFTOOLS},
    };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char yaml[128], err[512];
        prof_settings s;
        snprintf(yaml, sizeof yaml, "profiler:\n  cpu_sampler: %s\n", names[i].name);
        assert_int_equal(read_yaml(yaml, &s, err, sizeof err), 0);
        assert_int_equal(s.cpu_sampler, names[i].mode);
    }
}

static void test_bad_values_name_their_key(void **state)
{
    (void)state;
    /* refused by the schema (the host's check of prof_config_keys) */
    assert_refused("profiler:\n  enabled: maybe\n", "profiler.enabled");
    assert_refused("profiler:\n  host: my.host.example\n", "profiler.host");
    assert_refused("profiler:\n  port: 65536\n", "profiler.port");
    assert_refused("profiler:\n  port: -1\n", "profiler.port");
    assert_refused("profiler:\n  port: 80x\n", "profiler.port");
    assert_refused("profiler:\n  cpu_hz: 0\n", "profiler.cpu_hz");
    assert_refused("profiler:\n  cpu_hz: 1001\n", "profiler.cpu_hz");
    assert_refused("profiler:\n  max_cpu_readers: 65\n", "profiler.max_cpu_readers");
    assert_refused("profiler:\n  max_duration: 0\n", "profiler.max_duration");
    assert_refused("profiler:\n  max_duration: 3601\n", "profiler.max_duration");
    assert_refused("profiler:\n  mutex_fraction: -1\n", "profiler.mutex_fraction");
    assert_refused("profiler:\n  block_rate: 1000000000001\n", "profiler.block_rate");
    assert_refused("profiler:\n  heap_sample_bytes: 1073741825\n", "profiler.heap_sample_bytes");
    assert_refused("profiler:\n  allow_unauthenticated_remote: sure\n",
                   "profiler.allow_unauthenticated_remote");
    assert_refused("profiler:\n  max_requests: 0\n", "profiler.max_requests");
    assert_refused("profiler:\n  max_queued: 4097\n", "profiler.max_queued");
    assert_refused("profiler:\n  max_header_bytes: 1023\n", "profiler.max_header_bytes");
    assert_refused("profiler:\n  request_timeout_ms: 99\n", "profiler.request_timeout_ms");
    assert_refused("profiler:\n  header_timeout_ms: 600001\n", "profiler.header_timeout_ms");
    assert_refused("profiler:\n  max_conns_per_peer: 0\n", "profiler.max_conns_per_peer");
    assert_refused("profiler:\n  max_conns: 15\n", "profiler.max_conns");
    assert_refused("profiler:\n  no_such_key: 1\n", "profiler.no_such_key");
    /* refused by prof_settings_read */
    assert_refused("profiler:\n  cpu_sampler: fastest\n", "profiler.cpu_sampler");
    assert_refused("profiler:\n  debug_dirs: /opt/debug:relative\n", "profiler.debug_dirs");
    assert_refused("profiler:\n  serve_binaries: perhaps\n", "profiler.serve_binaries");
    assert_refused("profiler:\n  auth:\n    token: a\n    token_file: /etc/t\n",
                   "profiler.auth.token_file");
    char yaml[2048];
    snprintf(yaml, sizeof yaml, "profiler:\n  auth:\n    token: %0*d\n", PROF_TOKEN_MAX, 0);
    assert_refused(yaml, "profiler.auth.token");
    snprintf(yaml, sizeof yaml, "profiler:\n  auth:\n    token: %0*d\n", PROF_TOKEN_MAX - 1, 0);
    prof_settings s;
    char err[512];
    assert_int_equal(read_yaml(yaml, &s, err, sizeof err), 0); /* the longest allowed */
    assert_int_equal(strlen(s.token), PROF_TOKEN_MAX - 1);
    static const char *const tls_keys[] = {"cert", "key", "client_ca"};
    for (int i = 0; i < 3; i++) {
        char key[64];
        snprintf(yaml, sizeof yaml, "profiler:\n  tls:\n    %s: /%01100d\n", tls_keys[i], 0);
        snprintf(key, sizeof key, "profiler.tls.%s", tls_keys[i]);
        assert_refused(yaml, key);
    }
}

static void test_token_file(void **state)
{
    (void)state;
    char dir[] = "/tmp/tk-settings-XXXXXX", path[64], yaml[256], err[512];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/token", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("from-file\nsecond line\n", f);
    fclose(f);
    chmod(path, 0600);
    snprintf(yaml, sizeof yaml, "profiler:\n  auth:\n    token_file: %s\n", path);
    prof_settings s;
    assert_int_equal(read_yaml(yaml, &s, err, sizeof err), 0);
    assert_string_equal(s.token, "from-file");
    /* an empty auth.token is an error even beside the file (issue 23 #3) */
    snprintf(yaml, sizeof yaml, "profiler:\n  auth:\n    token: \"\"\n    token_file: %s\n",
             path);
    assert_int_equal(read_yaml(yaml, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "profiler.auth.token is set but empty"));
    /* a file whose first line is only blanks: no Bearer client can send it */
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("  \t \nsecond line\n", f);
    fclose(f);
    snprintf(yaml, sizeof yaml, "profiler:\n  auth:\n    token_file: %s\n", path);
    assert_int_equal(read_yaml(yaml, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "profiler.auth.token_file"));
    assert_non_null(strstr(err, "not only blanks"));
    /* a file that is not there: the error names it */
    unlink(path);
    snprintf(yaml, sizeof yaml, "profiler:\n  auth:\n    token_file: %s\n", path);
    assert_int_equal(read_yaml(yaml, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, path));
    rmdir(dir);
}

static void test_token_from_env(void **state)
{
    (void)state;
    char *const envp[] = {"TAKHIN_PROFILER_AUTH_TOKEN=from-env", "TAKHIN_PROFILER_PORT=7070",
                          NULL};
    prof_settings s;
    char err[512];
    assert_int_equal(read_with_env("profiler:\n  port: 6061\n", envp, &s, err, sizeof err), 0);
    assert_string_equal(s.token, "from-env");
    assert_int_equal(s.port, 7070); /* env over YAML */
    char *const both[] = {"TAKHIN_PROFILER_AUTH_TOKEN=a", "TAKHIN_PROFILER_AUTH_TOKEN_FILE=/x",
                          NULL};
    assert_int_equal(read_with_env("profiler: {}\n", both, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "profiler.auth.token_file"));
    assert_non_null(strstr(err, "env TAKHIN_PROFILER_AUTH_TOKEN")); /* where it came from */
}

/* Issue 23 #3: an empty or blank secret never removes authentication
 * quietly. Before, TAKHIN_PROFILER_AUTH_TOKEN= (set, empty) overrode the
 * YAML's token and every request was served without credentials. */
static void test_blank_secrets(void **state)
{
    (void)state;
    prof_settings s;
    char err[1024];
    char *const empty_env[] = {"TAKHIN_PROFILER_AUTH_TOKEN=", NULL};
    assert_int_equal(read_with_env("profiler:\n  auth:\n    token: tokY\n", empty_env, &s, err,
                                   sizeof err), -1);
    assert_non_null(strstr(err, "profiler.auth.token is set but empty"));
    assert_non_null(strstr(err, "env TAKHIN_PROFILER_AUTH_TOKEN")); /* its source */
    char *const empty_file_env[] = {"TAKHIN_PROFILER_AUTH_TOKEN_FILE=", NULL};
    assert_int_equal(read_with_env("profiler: {}\n", empty_file_env, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "profiler.auth.token_file is set but empty"));
    char *const blank_env[] = {"TAKHIN_PROFILER_AUTH_TOKEN=   ", NULL};
    assert_int_equal(read_with_env("profiler: {}\n", blank_env, &s, err, sizeof err), -1);
    assert_non_null(strstr(err, "profiler.auth.token is set but empty"));
    assert_refused("profiler:\n  auth:\n    token: \"\"\n", "profiler.auth.token");
    assert_refused("profiler:\n  auth:\n    token: \" \\t \"\n", "profiler.auth.token");
    assert_refused("profiler:\n  auth:\n    token_file: \"\"\n", "profiler.auth.token_file");
    /* the push's secrets share the reader */
    static const char *const push_keys[] = {"password", "token", "password_file",
                                            "token_file"};
    for (int i = 0; i < 4; i++) {
        char yaml[256], key[64];
        snprintf(yaml, sizeof yaml, "profiler:\n  push:\n    auth:\n      %s: \" \"\n",
                 push_keys[i]);
        snprintf(key, sizeof key, "profiler.push.auth.%s is set but empty", push_keys[i]);
        assert_refused(yaml, key);
    }
    /* a real token with blanks inside is fine */
    assert_int_equal(read_yaml("profiler:\n  auth:\n    token: \"a b\"\n", &s, err, sizeof err),
                     0);
    assert_string_equal(s.token, "a b");
}

static void test_check_public_bind(void **state)
{
    (void)state;
    prof_settings s;
    char err[1024];
    assert_int_equal(read_yaml("profiler:\n  host: 0.0.0.0\n", &s, err, sizeof err), 0);
    assert_int_equal(prof_settings_check(&s, true, err, sizeof err), -1);
    assert_non_null(strstr(err, "profiler.host = \"0.0.0.0\""));
    assert_non_null(strstr(err, "profiler.auth.token"));
    assert_int_equal(prof_settings_check(&s, false, err, sizeof err), 0); /* not serving */
    /* a token makes it safe */
    assert_int_equal(read_yaml("profiler:\n  host: 0.0.0.0\n  auth:\n    token: t\n", &s, err,
                               sizeof err), 0);
    assert_int_equal(prof_settings_check(&s, true, err, sizeof err), 0);
    /* and so does saying so, knowingly */
    assert_int_equal(read_yaml("profiler:\n  host: 10.0.0.1\n"
                               "  allow_unauthenticated_remote: true\n", &s, err, sizeof err), 0);
    assert_int_equal(prof_settings_check(&s, true, err, sizeof err), 0);
    /* localhost and 127.x are loopback */
    assert_int_equal(read_yaml("profiler:\n  host: localhost\n", &s, err, sizeof err), 0);
    assert_int_equal(prof_settings_check(&s, true, err, sizeof err), 0);
    assert_int_equal(read_yaml("profiler:\n  host: 127.0.0.2\n", &s, err, sizeof err), 0);
    assert_int_equal(prof_settings_check(&s, true, err, sizeof err), 0);
}

static void test_check_tls_files(void **state)
{
    (void)state;
    prof_settings s;
    char err[1024];
    assert_int_equal(read_yaml("profiler:\n  tls:\n    client_ca: /tmp/ca.pem\n", &s, err,
                               sizeof err), 0);
    assert_false(prof_settings_tls(&s));
    assert_int_equal(prof_settings_check(&s, false, err, sizeof err), -1);
    assert_non_null(strstr(err, "profiler.tls.client_ca"));
    assert_int_equal(read_yaml("profiler:\n  tls:\n    cert: /nonexistent/c.pem\n"
                               "    key: /nonexistent/k.pem\n", &s, err, sizeof err), 0);
    assert_true(prof_settings_tls(&s));
    assert_int_equal(prof_settings_check(&s, false, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/"));
    assert_non_null(strstr(err, "profiler.tls."));
    /* only one of the pair */
    assert_int_equal(read_yaml("profiler:\n  tls:\n    key: /nonexistent/k.pem\n", &s, err,
                               sizeof err), 0);
    assert_true(prof_settings_tls(&s));
    assert_int_equal(prof_settings_check(&s, false, err, sizeof err), -1);
    assert_non_null(strstr(err, "profiler.tls."));
}

/* Two settings from YAML, and the changes between them. */
static void changes(const char *a_yaml, const char *b_yaml, int *listener, char *lbuf,
                    int *live, char *vbuf, size_t len)
{
    prof_settings a, b;
    char err[512];
    assert_int_equal(read_yaml(a_yaml, &a, err, sizeof err), 0);
    assert_int_equal(read_yaml(b_yaml, &b, err, sizeof err), 0);
    *listener = prof_settings_listener_changes(&a, &b, lbuf, len);
    *live = prof_settings_live_changes(&a, &b, vbuf, len);
    /* symmetric */
    char other[512];
    assert_int_equal(prof_settings_listener_changes(&b, &a, other, sizeof other), *listener);
    assert_int_equal(prof_settings_live_changes(&b, &a, other, sizeof other), *live);
}

static void test_changes(void **state)
{
    (void)state;
    char l[512], v[512];
    int nl, nv;
    changes("profiler: {}\n", "profiler: {}\n", &nl, l, &nv, v, sizeof l);
    assert_int_equal(nl, 0);
    assert_string_equal(l, "");
    assert_int_equal(nv, 0);
    assert_string_equal(v, "");

    changes("profiler: {}\n",
            "profiler:\n  host: 0.0.0.0\n  port: 1\n  max_requests: 2\n  max_queued: 3\n"
            "  max_header_bytes: 2048\n  request_timeout_ms: 200\n  header_timeout_ms: 300\n"
            "  max_conns_per_peer: 4\n  max_conns: 32\n"
            "  tls:\n    cert: /c\n    key: /k\n    client_ca: /ca\n",
            &nl, l, &nv, v, sizeof l);
    assert_int_equal(nl, 12);
    assert_string_equal(l, "host, port, max_requests, max_queued, max_header_bytes, "
                           "request_timeout_ms, header_timeout_ms, max_conns_per_peer, "
                           "max_conns, tls.cert, tls.key, tls.client_ca");
    assert_int_equal(nv, 0);

    changes("profiler: {}\n",
            "profiler:\n  auth:\n    token: t\n  max_duration: 10\n  cpu_hz: 50\n"
            "  cpu_sampler: perf\n  max_cpu_readers: 2\n  allow_unauthenticated_remote: true\n",
            &nl, l, &nv, v, sizeof l);
    assert_int_equal(nl, 0);
    assert_int_equal(nv, 6);
    assert_string_equal(v, "auth.token, max_duration, cpu_hz, cpu_sampler, max_cpu_readers, "
                           "allow_unauthenticated_remote");

    /* neither: sampling that runs whether or not the port serves */
    changes("profiler: {}\n",
            "profiler:\n  enabled: true\n  heap_sample_bytes: 1\n  mutex_fraction: 1\n"
            "  block_rate: 1\n", &nl, l, &nv, v, sizeof l);
    assert_int_equal(nl, 0);
    assert_int_equal(nv, 0);

    /* a buffer too small: the count is still every key */
    changes("profiler: {}\n", "profiler:\n  port: 1\n  max_requests: 2\n  max_queued: 3\n",
            &nl, l, &nv, v, 8);
    assert_int_equal(nl, 3);
    assert_true(strlen(l) < 8);
    assert_true(strncmp(l, "port, m", strlen(l)) == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_key_set),
        cmocka_unit_test(test_samplers),
        cmocka_unit_test(test_bad_values_name_their_key),
        cmocka_unit_test(test_token_file),
        cmocka_unit_test(test_blank_secrets),
        cmocka_unit_test(test_token_from_env),
        cmocka_unit_test(test_check_public_bind),
        cmocka_unit_test(test_check_tls_files),
        cmocka_unit_test(test_changes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
