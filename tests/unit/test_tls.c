/*
 * The profiler port's TLS files (plugin/core/tls.c) and the settings rules
 * around them (plugin/core/settings.c): a good pair loads; each bad file is an
 * error naming the key, the file and the fix; a key readable by others is
 * a warning; mTLS counts as authentication off loopback. Keys and
 * certificates are made here with libcrypto, in a temporary directory.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "profiler.h"
#include "core/tls.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void path(char *out, size_t len, const char *name)
{
    snprintf(out, len, "%s/%s", dir, name);
}

/* Writes a fresh P-256 key and a self-signed certificate of it. */
static void make_pair(const char *cert_name, const char *key_name)
{
    EVP_PKEY *key = EVP_EC_gen("P-256");
    X509 *x = X509_new();
    assert_non_null(key);
    assert_non_null(x);
    X509_set_version(x, 2);
    ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 3600);
    X509_NAME *name = X509_get_subject_name(x);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)"test", -1, -1, 0);
    X509_set_issuer_name(x, name);
    X509_set_pubkey(x, key);
    assert_true(X509_sign(x, key, EVP_sha256()) > 0);
    char p[128];
    path(p, sizeof p, cert_name);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    PEM_write_X509(f, x);
    fclose(f);
    path(p, sizeof p, key_name);
    f = fopen(p, "w");
    assert_non_null(f);
    PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
    fclose(f);
    chmod(p, 0600);
    X509_free(x);
    EVP_PKEY_free(key);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/tk-tls-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    make_pair("a.pem", "a.key");
    make_pair("b.pem", "b.key");
    char p[128];
    path(p, sizeof p, "garbage.pem");
    FILE *f = fopen(p, "w");
    fputs("not a PEM file\n", f);
    fclose(f);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* prof_tls_ctx_new on files of dir: NULL for none. Returns the context
 * (freed here) as a bool, with err and warn filled. */
static bool load(const char *cert, const char *key, const char *ca, char *err, char *warn)
{
    char c[128] = "", k[128] = "", a[128] = "";
    if (cert)
        path(c, sizeof c, cert);
    if (key)
        path(k, sizeof k, key);
    if (ca)
        path(a, sizeof a, ca);
    err[0] = '\0';
    prof_tls_ctx *ctx = prof_tls_ctx_new(c, k, a, err, 512, warn, 512);
    prof_tls_ctx_free(ctx);
    return ctx != NULL;
}

static void test_good_pair(void **state)
{
    (void)state;
    char err[512], warn[512];
    assert_true(load("a.pem", "a.key", NULL, err, warn));
    assert_string_equal(warn, "");
    assert_true(load("a.pem", "a.key", "b.pem", err, warn)); /* any CA certificate */
}

static void test_bad_files(void **state)
{
    (void)state;
    char err[512], warn[512];
    assert_false(load("a.pem", "missing.key", NULL, err, warn));
    assert_non_null(strstr(err, "profiler.tls.key = \""));
    assert_non_null(strstr(err, "missing.key\": cannot read it: No such file"));

    assert_false(load("a.pem", "b.key", NULL, err, warn));
    assert_non_null(strstr(err, "b.key\" does not match the certificate of profiler.tls.cert"));
    assert_non_null(strstr(err, "a.pem"));

    assert_false(load("garbage.pem", "a.key", NULL, err, warn));
    assert_non_null(strstr(err, "profiler.tls.cert = \""));
    assert_non_null(strstr(err, "garbage.pem\": no usable PEM certificate"));

    assert_false(load("a.pem", "garbage.pem", NULL, err, warn));
    assert_non_null(strstr(err, "garbage.pem\": no usable PEM private key"));

    assert_false(load("a.pem", "a.key", "garbage.pem", err, warn));
    assert_non_null(strstr(err, "profiler.tls.client_ca = \""));

    assert_false(load("a.pem", NULL, NULL, err, warn));
    assert_non_null(strstr(err, "profiler.tls.cert is set without profiler.tls.key"));
}

static void test_open_key_warns(void **state)
{
    (void)state;
    char err[512], warn[512], p[128];
    path(p, sizeof p, "a.key");
    chmod(p, 0644);
    assert_true(load("a.pem", "a.key", NULL, err, warn));
    assert_non_null(strstr(warn, "a.key\" is readable by others (mode 0644)"));
    chmod(p, 0640); /* a group (Debian's ssl-cert) is not "others" */
    assert_true(load("a.pem", "a.key", NULL, err, warn));
    assert_string_equal(warn, "");
    chmod(p, 0600);
}

static void test_settings_rules(void **state)
{
    (void)state;
    char err[512];
    prof_settings s = {.port = 0};
    snprintf(s.host, sizeof s.host, "0.0.0.0");
    path(s.tls_cert, sizeof s.tls_cert, "a.pem");
    path(s.tls_key, sizeof s.tls_key, "a.key");
    assert_true(prof_settings_tls(&s));
    /* TLS alone is no authentication off loopback */
    assert_int_equal(prof_settings_check(&s, true, err, sizeof err), -1);
    assert_non_null(strstr(err, "is not a loopback address"));
    assert_non_null(strstr(err, "profiler.tls.client_ca"));
    /* mTLS is */
    path(s.tls_client_ca, sizeof s.tls_client_ca, "a.pem");
    assert_int_equal(prof_settings_check(&s, true, err, sizeof err), 0);
    /* files are checked even when not serving */
    path(s.tls_key, sizeof s.tls_key, "b.key");
    assert_int_equal(prof_settings_check(&s, false, err, sizeof err), -1);
    assert_non_null(strstr(err, "does not match"));
    /* client_ca without TLS */
    prof_settings plain = {.port = 0};
    snprintf(plain.host, sizeof plain.host, "127.0.0.1");
    path(plain.tls_client_ca, sizeof plain.tls_client_ca, "a.pem");
    assert_int_equal(prof_settings_check(&plain, true, err, sizeof err), -1);
    assert_non_null(strstr(err, "client_ca is set without profiler.tls.cert"));
}

static void test_listener_changes(void **state)
{
    (void)state;
    prof_settings a = {.port = 1}, b = {.port = 1};
    char buf[256];
    snprintf(b.tls_cert, sizeof b.tls_cert, "x.pem");
    snprintf(b.tls_client_ca, sizeof b.tls_client_ca, "ca.pem");
    assert_int_equal(prof_settings_listener_changes(&a, &b, buf, sizeof buf), 2);
    assert_string_equal(buf, "tls.cert, tls.client_ca");
    assert_int_equal(prof_settings_live_changes(&a, &b, buf, sizeof buf), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_pair),
        cmocka_unit_test(test_bad_files),
        cmocka_unit_test(test_open_key_warns),
        cmocka_unit_test(test_settings_rules),
        cmocka_unit_test(test_listener_changes),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
