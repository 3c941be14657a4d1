/*
 * test_cli_flags.c - takhin-profiler's command line (cli/profiler/util/flags.c):
 * the original tool's flag names and defaults, Go's flag syntax, durations,
 * the transport's flags, the checks that make a usage error (exit 2), and the
 * default file names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/cli.h"

static int parse(cli_opts *o, const char *const *args)
{
    char *argv[32];
    int argc = 0;
    argv[argc++] = "takhin-profiler";
    for (size_t i = 0; args[i]; i++)
        argv[argc++] = (char *)args[i];
    argv[argc] = NULL;
    return cli_parse_flags(argc, argv, o);
}

static void test_defaults(void **state)
{
    (void)state;
    cli_opts o;
    unsetenv("TAKHIN_PROFILER_TOKEN");
    assert_int_equal(parse(&o, (const char *[]){"-remote", "h:1", NULL}), CLI_OK);
    assert_int_equal(o.kind, CLI_CPU);
    assert_true(o.duration == 30);
    assert_string_equal(o.output_dir, "/tmp");
    assert_null(o.output);
    assert_int_equal(o.top, 20);
    assert_null(o.token);
    assert_false(o.analyze);
    assert_false(o.flamegraph);
}

static void test_go_syntax(void **state)
{
    (void)state;
    cli_opts o;
    assert_int_equal(parse(&o, (const char *[]){"--remote=h:1", "-type=heap", "-duration", "1m30s",
                                                "-analyze", "-flamegraph", "out.svg", "-top=5",
                                                "-token", "s3cret", "-sample-rate", "250", NULL}),
                     CLI_OK);
    assert_int_equal(o.kind, CLI_HEAP);
    assert_true(o.duration == 90);
    assert_true(o.analyze);
    assert_true(o.flamegraph);
    assert_string_equal(o.flame_file, "out.svg");
    assert_int_equal(o.top, 5);
    assert_string_equal(o.token, "s3cret");
    assert_int_equal(o.sample_rate, 250);
    assert_int_equal(parse(&o, (const char *[]){"-input", "x", "-flamegraph", "-analyze", NULL}),
                     CLI_OK);
    assert_null(o.flame_file);
    assert_true(o.analyze);
}

static void test_token_from_env(void **state)
{
    (void)state;
    cli_opts o;
    setenv("TAKHIN_PROFILER_TOKEN", "fromenv", 1);
    assert_int_equal(parse(&o, (const char *[]){"-remote", "h:1", NULL}), CLI_OK);
    assert_string_equal(o.token, "fromenv");
    assert_true(o.token_from_env);
    assert_int_equal(parse(&o, (const char *[]){"-remote", "h:1", "-token", "flag", NULL}), CLI_OK);
    assert_string_equal(o.token, "flag");
    assert_false(o.token_from_env);
    unsetenv("TAKHIN_PROFILER_TOKEN");
}

static void test_command(void **state)
{
    (void)state;
    cli_opts o;
    assert_int_equal(parse(&o, (const char *[]){"-type", "heap", "--", "ls", "-l", NULL}), CLI_OK);
    assert_non_null(o.command);
    assert_string_equal(o.command[0], "ls");
    assert_string_equal(o.command[1], "-l");
    assert_null(o.command[2]);
}

/* -symbolize alone is on, =local and =none as given (false is none);
 * -debug-dir repeats. */
static void test_symbolize_flags(void **state)
{
    (void)state;
    cli_opts o;
    assert_int_equal(parse(&o, (const char *[]){"-input", "x", NULL}), CLI_OK);
    assert_null(o.symbolize);
    assert_int_equal(o.ndebug_dirs, 0);
    assert_int_equal(parse(&o, (const char *[]){"-symbolize", "-input", "x", NULL}), CLI_OK);
    assert_string_equal(o.symbolize, "on");
    assert_string_equal(o.input, "x");
    assert_int_equal(parse(&o, (const char *[]){"-input", "x", "-symbolize=local", NULL}), CLI_OK);
    assert_string_equal(o.symbolize, "local");
    assert_int_equal(parse(&o, (const char *[]){"-input", "x", "-symbolize=false", NULL}), CLI_OK);
    assert_string_equal(o.symbolize, "none");
    assert_int_equal(parse(&o, (const char *[]){"-input", "x", "-debug-dir", "/a", "-debug-dir=/b",
                                                NULL}), CLI_OK);
    assert_int_equal(o.ndebug_dirs, 2);
    assert_string_equal(o.debug_dirs[0], "/a");
    assert_string_equal(o.debug_dirs[1], "/b");
}

static void test_usage_errors(void **state)
{
    (void)state;
    const char *const *bad[] = {
        (const char *[]){NULL},
        (const char *[]){"-remote", "h:1", "-type", "cpuu", NULL},
        (const char *[]){"-remote", "h:1", "-duration", "soon", NULL},
        (const char *[]){"-remote", "h:1", "-duration", "0s", NULL},
        (const char *[]){"-remote", "h:1", "-type", "all", "-output", "x", NULL},
        (const char *[]){"-remote", "h:1", "-input", "x", NULL},
        (const char *[]){"-remote", NULL},
        (const char *[]){"-bogus", NULL},
        (const char *[]){"stray", NULL},
        (const char *[]){"-input", "x", "-format", "dot", NULL},
        (const char *[]){"-input", "x", "-top", "-3", NULL},
        (const char *[]){"-type", "mutex", "--", "ls", NULL},
        (const char *[]){"-remote", "h:1", "--", "ls", NULL},
        (const char *[]){"-sample-rate", "9999", "--", "ls", NULL},
        (const char *[]){"--", NULL},
        (const char *[]){"-input", "x", "-ca", "ca.pem", NULL},
        (const char *[]){"-input", "x", "-follow", NULL},
        (const char *[]){"-remote", "h:1", "-ca", NULL},
        (const char *[]){"-input", "x", "-symbolize=maybe", NULL},
        (const char *[]){"-input", "x", "-debug-dir", "relative/dir", NULL},
        (const char *[]){"-input", "x", "-debug-dir", "/a:/b", NULL},
    };
    FILE *saved = stderr;
    stderr = fopen("/dev/null", "w");
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cli_opts o;
        if (parse(&o, bad[i]) != CLI_EXIT_USAGE)
            fail_msg("case %zu was accepted", i);
    }
    fclose(stderr);
    stderr = saved;
}

static void test_durations(void **state)
{
    (void)state;
    static const struct { const char *s; double v; } ok[] = {
        {"30s", 30}, {"500ms", 0.5}, {"1m30s", 90}, {"2h", 7200}, {"1.5s", 1.5}, {"45", 45},
        {"100us", 1e-4}};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        double d;
        assert_int_equal(cli_parse_duration(ok[i].s, &d), 0);
        assert_true(d > ok[i].v - 1e-9 && d < ok[i].v + 1e-9);
    }
    static const char *bad[] = {"", "s", "10x", "-5s", "1m-2s", "abc"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        double d;
        assert_int_not_equal(cli_parse_duration(bad[i], &d), 0);
    }
}

/* The transport's flags (-remote's own forms: test_cli_transport.c). */
static void test_transport_flags(void **state)
{
    (void)state;
    cli_opts o;
    unsetenv("TAKHIN_PROFILER_TOKEN");
    assert_int_equal(parse(&o, (const char *[]){"-remote", "https://[::1]:6443/p", "-ca", "ca.pem",
                                                "-cert=c.pem", "-key", "k.pem", "-insecure",
                                                "-follow", NULL}), CLI_OK);
    assert_string_equal(o.remote, "https://[::1]:6443/p");
    assert_string_equal(o.ca, "ca.pem");
    assert_string_equal(o.cert, "c.pem");
    assert_string_equal(o.key, "k.pem");
    assert_true(o.insecure);
    assert_true(o.follow);
    assert_int_equal(parse(&o, (const char *[]){"-remote", "h:1", NULL}), CLI_OK);
    assert_null(o.ca);
    assert_false(o.insecure);
    assert_false(o.follow);
}

static void test_default_name(void **state)
{
    (void)state;
    char buf[256];
    setenv("TZ", "UTC", 1);
    cli_default_name(buf, sizeof buf, "/tmp", "cpu", ".pb.gz", 1700000000);
    assert_string_equal(buf, "/tmp/takhin_cpu_20231114_221320.pb.gz");
    cli_default_name(buf, sizeof buf, "out/", "trace", ".json", 1700000000);
    assert_string_equal(buf, "out/takhin_trace_20231114_221320.json");
    cli_flame_path(buf, sizeof buf, "/tmp/takhin_cpu_x.pb.gz");
    assert_string_equal(buf, "/tmp/takhin_cpu_x.svg");
    cli_flame_path(buf, sizeof buf, "a.heap");
    assert_string_equal(buf, "a.svg");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_go_syntax),
        cmocka_unit_test(test_token_from_env),
        cmocka_unit_test(test_command),
        cmocka_unit_test(test_symbolize_flags),
        cmocka_unit_test(test_usage_errors),
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_transport_flags),
        cmocka_unit_test(test_default_name),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
