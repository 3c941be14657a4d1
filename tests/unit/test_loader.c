/*
 * Loader and ABI tests: the host refuses bad plugins with a clear message
 * and never crashes. The fake plugins are built into $TK_TEST_PLUGIN_DIR
 * (build/tests/plugins by default) from tests/unit/plugins/.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "takhin/host/host.h"

#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char plugin_path[512];

static const char *fake(const char *name)
{
    const char *dir = getenv("TK_TEST_PLUGIN_DIR");
    snprintf(plugin_path, sizeof plugin_path, "%s/%s.so", dir ? dir : "build/tests/plugins", name);
    return plugin_path;
}

static void assert_contains(const char *text, const char *part)
{
    if (strstr(text, part) == NULL)
        fail_msg("expected \"%s\" in \"%s\"", part, text);
}

static void expect_open_error(const char *path, const char *part)
{
    void *handle = NULL;
    const tk_plugin_def *def = NULL;
    char err[512] = "";
    assert_int_equal(tkh_plugin_open(path, &handle, &def, err, sizeof err), -1);
    assert_null(handle);
    assert_contains(err, part);
}

static void test_missing_file(void **state)
{
    (void)state;
    expect_open_error("/nonexistent/profiler.so", "cannot load plugin");
    expect_open_error("/nonexistent/profiler.so", "/nonexistent/profiler.so");
}

static void test_missing_entry_symbol(void **state)
{
    (void)state;
    expect_open_error(fake("no_entry"), "is not a Takhin plugin: it does not export "
                                        "takhin_plugin_entry()");
}

static void test_wrong_major(void **state)
{
    (void)state;
    char want[128];
    snprintf(want, sizeof want, "built for host API %d.%d, this host implements %d.%d",
             TK_ABI_MAJOR + 1, TK_ABI_MINOR, TK_ABI_MAJOR, TK_ABI_MINOR);
    expect_open_error(fake("bad_major"), "not binary compatible");
    expect_open_error(fake("bad_major"), want);
}

static void test_newer_minor(void **state)
{
    (void)state;
    char want[64];
    snprintf(want, sizeof want, "needs host API %d.%d", TK_ABI_MAJOR, TK_ABI_MINOR + 1);
    expect_open_error(fake("newer_minor"), want);
}

static void test_good_plugin(void **state)
{
    (void)state;
    void *handle = NULL;
    const tk_plugin_def *def = NULL;
    char err[512] = "";
    assert_int_equal(tkh_plugin_open(fake("good"), &handle, &def, err, sizeof err), 0);
    assert_non_null(handle);
    assert_string_equal(def->name, "good");
    assert_int_equal(def->abi_major, TK_ABI_MAJOR);
    dlclose(handle);
}

static void test_older_minor_loads(void **state)
{
    (void)state;
    void *handle = NULL;
    const tk_plugin_def *def = NULL;
    char err[512] = "";
    assert_int_equal(tkh_plugin_open(fake("minor_zero"), &handle, &def, err, sizeof err), 0);
    assert_int_equal(def->abi_minor, 0);
    assert_true(def->abi_minor < TK_ABI_MINOR);
    dlclose(handle);
}

/* ---- through a whole host: config file, init, commands ---- */

typedef struct host_fixture {
    char dir[64];
    char yaml[128];
    char sock_env[160];
    char *envp[2];
} host_fixture;

static int host_setup(void **state)
{
    host_fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/tk-loader-XXXXXX");
    if (mkdtemp(f->dir) == NULL)
        return -1;
    snprintf(f->yaml, sizeof f->yaml, "%s/takhin.yaml", f->dir);
    snprintf(f->sock_env, sizeof f->sock_env, "TAKHIN_ADMIN_SOCKET=%s/admin.sock", f->dir);
    f->envp[0] = f->sock_env;
    *state = f;
    return 0;
}

static int host_teardown(void **state)
{
    host_fixture *f = *state;
    unlink(f->yaml);
    rmdir(f->dir);
    free(f);
    return 0;
}

static int open_host_with(host_fixture *f, const char *name, const char *plugin,
                          tkh_host **out, char *err, size_t errlen)
{
    FILE *fp = fopen(f->yaml, "w");
    assert_non_null(fp);
    /* Absolute: a relative path would resolve against the YAML's directory. */
    char *abs = realpath(fake(plugin), NULL);
    assert_non_null(abs);
    fprintf(fp, "plugins:\n  - name: %s\n    path: %s\n", name, abs);
    free(abs);
    fclose(fp);
    static char *argv[] = {"test_loader", NULL};
    tkh_host_options opt = {.config_path = f->yaml, .argc = 1, .argv = argv,
                            .envp = f->envp, .name = "test", .version = "0"};
    return tkh_host_open(out, &opt, err, errlen);
}

static void test_init_failure(void **state)
{
    tkh_host *host = NULL;
    char err[512] = "";
    assert_int_equal(open_host_with(*state, "init_fails", "init_fails", &host, err, sizeof err), -1);
    assert_null(host);
    assert_contains(err, "plugin init_fails failed to initialize: the fake plugin refuses "
                         "to start (greeting hello)");
}

static void test_name_mismatch(void **state)
{
    tkh_host *host = NULL;
    char err[512] = "";
    assert_int_equal(open_host_with(*state, "other", "good", &host, err, sizeof err), -1);
    assert_contains(err, "name \"other\"");
    assert_contains(err, "which is \"good\"");
}

static void test_bad_major_through_host(void **state)
{
    tkh_host *host = NULL;
    char err[512] = "";
    assert_int_equal(open_host_with(*state, "bad_major", "bad_major", &host, err, sizeof err), -1);
    assert_contains(err, "not binary compatible");
}

static void test_plugin_command_runs(void **state)
{
    tkh_host *host = NULL;
    char err[512] = "";
    assert_int_equal(open_host_with(*state, "good", "good", &host, err, sizeof err), 0);
    tk_reply *reply = tkh_reply_new();
    assert_int_equal(tkh_admin_execute(tkh_host_admin(host), "good ping x", reply), 0);
    assert_string_equal(tkh_reply_text(reply), "fake 1 x");
    tkh_reply_free(reply);
    tkh_host_close(host);
}

/* Rewrites the config: the plugins list as open_host_with wrote it, then
 * `extra`. */
static void rewrite_yaml(const host_fixture *f, const char *plugins, const char *extra)
{
    FILE *fp = fopen(f->yaml, "w");
    assert_non_null(fp);
    fprintf(fp, "%s%s", plugins, extra);
    fclose(fp);
}

/* Reloads and checks the answer's text and return code. */
static void expect_reload(tkh_host *host, int rc, const char *text)
{
    tk_reply *reply = tkh_reply_new();
    int got = tkh_host_reload_report(host, reply);
    if (strcmp(tkh_reply_text(reply), text) != 0)
        fail_msg("reload answered \"%s\", expected \"%s\"", tkh_reply_text(reply), text);
    assert_int_equal(got, rc);
    tkh_reply_free(reply);
}

/* The answer to config reload says what happened, never more. */
static void test_reload_answer(void **state)
{
    host_fixture *f = *state;
    tkh_host *host = NULL;
    char err[512] = "", plugins[1024] = "";
    assert_int_equal(open_host_with(f, "good", "good", &host, err, sizeof err), 0);
    FILE *fp = fopen(f->yaml, "r");
    assert_non_null(fp);
    size_t n = fread(plugins, 1, sizeof plugins - 1, fp);
    plugins[n] = '\0';
    fclose(fp);

    expect_reload(host, 0, "config reloaded: no key changed");
    rewrite_yaml(f, plugins, "good:\n  greeting: bonjour\n");
    expect_reload(host, 0, "config reloaded\nchanged: good.greeting\n"
                           "good: greeting is now bonjour");
    rewrite_yaml(f, plugins, "good:\n  greeting: bonjour\nlog:\n  level: warn\n");
    expect_reload(host, 0, "config reloaded\nchanged: log.level\n"
                           "host: applied at once: log.level");
    rewrite_yaml(f, plugins, "good:\n  greeting: fail\nlog:\n  level: warn\n");
    expect_reload(host, 1, "config reload partly failed: the new config is in force, except "
                           "in plugin good, which did not apply it: the fake plugin keeps its "
                           "old greeting\nchanged: good.greeting");
    rewrite_yaml(f, plugins, "good:\n  greeting: \"\"\n");
    tk_reply *reply = tkh_reply_new();
    assert_int_equal(tkh_host_reload_report(host, reply), -1);
    assert_contains(tkh_reply_text(reply), "config reload failed, the old config stays in "
                                           "force: good.greeting");
    tkh_reply_free(reply);
    tkh_host_close(host);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_missing_entry_symbol),
        cmocka_unit_test(test_wrong_major),
        cmocka_unit_test(test_newer_minor),
        cmocka_unit_test(test_good_plugin),
        cmocka_unit_test(test_older_minor_loads),
        cmocka_unit_test_setup_teardown(test_init_failure, host_setup, host_teardown),
        cmocka_unit_test_setup_teardown(test_name_mismatch, host_setup, host_teardown),
        cmocka_unit_test_setup_teardown(test_bad_major_through_host, host_setup, host_teardown),
        cmocka_unit_test_setup_teardown(test_plugin_command_runs, host_setup, host_teardown),
        cmocka_unit_test_setup_teardown(test_reload_answer, host_setup, host_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
