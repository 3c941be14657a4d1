/*
 * test_cli_watch.c - takhin-profiler watch's layers below the server:
 * the webhook reader (cli/profiler/commands/webhook.c) on Alertmanager's payload
 * and on broken ones (table), the annotation checks, and the storage
 * (store.c): layout, index line, names never clobbered, failed captures,
 * retention, sanitized names; the flight recorder's window (lookback.c):
 * startsAt read, the lookback checked, the past asked, the answers read,
 * and the window in the index line.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands/cli_watch.h"

static const char *am_payload =
    "{\"receiver\":\"watch\",\"status\":\"firing\",\"alerts\":[{\"status\":\"firing\","
    "\"labels\":{\"alertname\":\"HighCPU\",\"instance\":\"127.0.0.1:6060\",\"job\":\"t\"},"
    "\"annotations\":{\"takhin_profile_types\":\"cpu,mutex\",\"takhin_profile_seconds\":\"3\","
    "\"takhin_profile_lookback\":\"90s\"},"
    "\"startsAt\":\"2026-12-02T16:11:36.834Z\",\"endsAt\":\"0001-01-01T00:00:00Z\","
    "\"generatorURL\":\"http://x/graph\",\"fingerprint\":\"3c1d\"},"
    "{\"status\":\"resolved\",\"labels\":{\"alertname\":\"Other\"},\"annotations\":{},"
    "\"startsAt\":\"s\",\"endsAt\":\"e\",\"fingerprint\":\"ff\"}],"
    "\"groupLabels\":{},\"commonLabels\":{},\"commonAnnotations\":{},\"externalURL\":\"x\","
    "\"version\":\"4\",\"groupKey\":\"{}:{alertname=\\\"HighCPU\\\"}\",\"truncatedAlerts\":0,"
    "\"notification_reason\":\"new\"}";

static void test_alertmanager_payload(void **state)
{
    (void)state;
    cli_webhook wh;
    char err[256];
    assert_int_equal(cli_webhook_parse(am_payload, strlen(am_payload), &wh, err, sizeof err), 0);
    assert_string_equal(wh.group_key, "{}:{alertname=\"HighCPU\"}");
    assert_int_equal(wh.nalerts, 2);
    cli_wh_alert *a = &wh.alerts[0];
    assert_true(a->firing);
    assert_string_equal(a->alertname, "HighCPU");
    assert_string_equal(a->instance, "127.0.0.1:6060");
    assert_string_equal(a->fingerprint, "3c1d");
    assert_string_equal(a->starts_at, "2026-12-02T16:11:36.834Z");
    assert_string_equal(a->ann_types, "cpu,mutex");
    assert_string_equal(a->ann_seconds, "3");
    assert_string_equal(a->ann_lookback, "90s");
    assert_null(wh.alerts[1].ann_lookback);
    assert_string_equal(a->labels_json,
                        "{\"alertname\":\"HighCPU\",\"instance\":\"127.0.0.1:6060\",\"job\":\"t\"}");
    assert_false(wh.alerts[1].firing);
    assert_null(wh.alerts[1].instance);
    assert_null(wh.alerts[1].ann_types);
    cli_webhook_free(&wh);
}

static void test_bad_payloads(void **state)
{
    (void)state;
    static const struct { const char *body, *says; } cases[] = {
        {"", "malformed JSON"},
        {"{\"version\":\"4\",\"alerts\":[", "malformed JSON"},
        {"[]", "expected a JSON object"},
        {"{\"alerts\":[]}", "version missing"},
        {"{\"version\":4,\"alerts\":[]}", "version: expected a string"},
        {"{\"version\":\"3\",\"alerts\":[]}", "version \"3\""},
        {"{\"version\":\"4\"}", "alerts: missing"},
        {"{\"version\":\"4\",\"alerts\":{}}", "alerts: expected an array"},
        {"{\"version\":\"4\",\"alerts\":[1]}", "alerts[0]: expected an object"},
        {"{\"version\":\"4\",\"alerts\":[{}]}", "alerts[0].status: expected \"firing\""},
        {"{\"version\":\"4\",\"alerts\":[{\"status\":\"maybe\"}]}", "expected \"firing\""},
        {"{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":[]}]}",
         "alerts[0].labels: expected an object"},
        {"{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"a\":1}}]}",
         "alerts[0].labels.a: expected a string"},
        {"{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"annotations\":{\"a\":true}}]}",
         "alerts[0].annotations.a: expected a string"},
        {"{\"version\":\"4\",\"groupKey\":1,\"alerts\":[]}", "groupKey: expected a string"},
        {"{\"version\":\"4\",\"version\":\"4\",\"alerts\":[]}", "malformed JSON"},
        {"{\"version\":\"4\",\"alerts\":[{\"status\":\"firing\",\"labels\":{\"a\":\"\\u0000\"}}]}",
         "malformed JSON"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cli_webhook wh;
        char err[256] = "";
        int rc = cli_webhook_parse(cases[i].body, strlen(cases[i].body), &wh, err, sizeof err);
        if (rc == 0 || strstr(err, cases[i].says) == NULL)
            fail_msg("case %zu (%s): rc %d, err \"%s\", expected \"%s\"", i, cases[i].body, rc,
                     err, cases[i].says);
        assert_null(wh.alerts);
    }
}

static void test_limits(void **state)
{
    (void)state;
    cli_webhook wh;
    char err[256];
    size_t n = 40;
    char deep[100];
    memset(deep, '[', n);
    memset(deep + n, ']', n);
    assert_int_not_equal(cli_webhook_parse(deep, 2 * n, &wh, err, sizeof err), 0);
    assert_non_null(strstr(err, "nested more than 32"));
    /* brackets inside strings do not count */
    const char *s = "{\"version\":\"4\",\"x\":\"[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[\",\"alerts\":[]}";
    assert_int_equal(cli_webhook_parse(s, strlen(s), &wh, err, sizeof err), 0);
    cli_webhook_free(&wh);
    size_t big = CLI_WEBHOOK_MAX_BODY + 1;
    char *b = malloc(big);
    assert_non_null(b);
    memset(b, ' ', big);
    assert_int_not_equal(cli_webhook_parse(b, big, &wh, err, sizeof err), 0);
    assert_non_null(strstr(err, "at most 1048576"));
    free(b);
}

static void test_annotations(void **state)
{
    (void)state;
    cli_kinds k;
    long s;
    char err[256];
    assert_int_equal(cli_parse_kinds("cpu, heap ,mutex", &k, err, sizeof err), 0);
    assert_int_equal(k, CLI_KIND_BIT(CLI_CPU) | CLI_KIND_BIT(CLI_HEAP) | CLI_KIND_BIT(CLI_MUTEX));
    assert_int_equal(cli_parse_kinds("trace", &k, err, sizeof err), 0);
    assert_int_not_equal(cli_parse_kinds("cpu,all", &k, err, sizeof err), 0);
    assert_non_null(strstr(err, "\"all\" is not a profile type"));
    assert_int_not_equal(cli_parse_kinds("", &k, err, sizeof err), 0);
    assert_int_not_equal(cli_parse_kinds(",,", &k, err, sizeof err), 0);
    assert_int_equal(cli_parse_seconds("3", 120, &s, err, sizeof err), 0);
    assert_int_equal(s, 3);
    static const char *bad[] = {"0", "121", "-1", "3s", " 3", "", "1e2", "99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (cli_parse_seconds(bad[i], 120, &s, err, sizeof err) == 0)
            fail_msg("\"%s\" accepted as seconds", bad[i]);
}

static void test_rfc3339(void **state)
{
    (void)state;
    static const struct { const char *in; double want; } good[] = {
        {"2026-12-02T16:11:36.834Z", 1796227896.834},
        {"2026-12-02T16:11:36Z", 1796227896},
        {"2026-12-02T16:11:36.834271239Z", 1796227896.834271239},
        {"2026-12-02T18:11:36.5+02:00", 1796227896.5},
        {"2026-12-02T15:41:36-00:30", 1796227896},
        {"1970-01-01T00:00:00Z", 0},
    };
    double t;
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        if (cli_parse_rfc3339(good[i].in, &t) != 0)
            fail_msg("\"%s\" refused", good[i].in);
        assert_float_equal(t, good[i].want, 1e-3);
    }
    static const char *bad[] = {"", "0001-01-01T00:00:00Z", "2026-12-02", "2026-12-02T16:11:36",
                                "2026-12-02 16:11:36Z", "2026-13-02T16:11:36Z",
                                "2026-12-02T16:11:36.Z", "2026-12-02T16:11:36+0200",
                                "2026-12-02T16:11:36Zjunk", "2026-12-02T16:11", "s"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        if (cli_parse_rfc3339(bad[i], &t) == 0)
            fail_msg("\"%s\" accepted as a time", bad[i]);
}

static void test_lookback(void **state)
{
    (void)state;
    static const struct { const char *in; double want; } good[] = {
        {"60s", 60}, {"2m", 120}, {"0", 0}, {"1h", 3600}, {"90", 90}, {"1m30s", 90}};
    double v;
    char err[256];
    for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
        assert_int_equal(cli_parse_lookback(good[i].in, &v, err, sizeof err), 0);
        assert_float_equal(v, good[i].want, 1e-9);
    }
    static const char *bad[] = {"-1s", "61m", "1h1s", "abc", "", "60 s", "inf"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        if (cli_parse_lookback(bad[i], &v, err, sizeof err) == 0)
            fail_msg("\"%s\" accepted as a lookback", bad[i]);
        assert_non_null(strstr(err, "is not a duration from 0 to 3600s"));
    }
}

/* The past asked: from startsAt minus the lookback to now, rounded up,
 * capped; lookback 0 asks none. */
static void test_past_seconds(void **state)
{
    (void)state;
    static const struct { double now, starts, lookback; long want; } cases[] = {
        {1000.0, 990.2, 60, 70},     /* 9.8 s since the alert + 60: rounded up */
        {1000.0, 940.0, 60, 120},    /* exactly: no extra second */
        {1000.0, 990.0, 0, 0},       /* -lookback 0: off */
        {1000.0, -1, 60, 60},        /* no startsAt: the lookback from now */
        {1000.0, 1005.0, 60, 60},    /* startsAt ahead of this clock: from now */
        {1e9, 0, 60, CLI_PAST_MAX},  /* an alert of long ago: capped */
        {1000.0, 999.5, 0.2, 1},     /* under a second: one */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        long got = cli_past_seconds(cases[i].now, cases[i].starts, cases[i].lookback);
        if (got != cases[i].want)
            fail_msg("case %zu: past %ld, want %ld", i, got, cases[i].want);
    }
}

/* The answer to ?past=: asked again with what the ring holds, without the
 * past when it holds none or did not say, final otherwise. */
static void test_past_answer(void **state)
{
    (void)state;
    static const struct {
        long asked;
        int status;
        const char *hdr;
        int again;
        long got;
        bool shortened;
        const char *says;
    } cases[] = {
        {95, 200, "120", 0, 95, false, ""},          /* all of it */
        {95, 400, "45", 1, 45, true, "holds 45s, not the 95s asked: got its last 45s"},
        {95, 400, " 45", 1, 0, true, "400 without X-Takhin-Past-Available"}, /* as absent */
        {95, 400, "0", 1, 0, true, "flight recorder is off (X-Takhin-Past-Available: 0; its "
                                   "profiler.flight_recorder.seconds)"},
        {95, 400, "", 1, 0, true, "refused ?past=95 (400 without X-Takhin-Past-Available)"},
        {95, 400, NULL, 1, 0, true, "400 without"},
        {95, 400, "x12", 1, 0, true, "400 without"},
        {95, 400, "300", 1, 0, true, "refused ?past=95 though it holds 300s"},
        {95, 200, "", 0, 0, true, "ignored ?past=95 (no X-Takhin-Past-Available"},
        {95, 500, "120", 0, 95, false, ""},          /* a failure of its own */
        {95, 401, "", 0, 95, false, ""},
        {0, 400, "0", 0, 0, false, ""},              /* nothing asked */
        {95, 400, "99999999999999999999", 1, 0, true, "400 without"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        cli_past_result r = {cases[i].asked, cases[i].asked, false, ""};
        int again = cli_past_answer(&r, cases[i].status, cases[i].hdr,
                                    "profiler.flight_recorder.seconds");
        if (again != cases[i].again || r.got != cases[i].got ||
            r.shortened != cases[i].shortened || strstr(r.note, cases[i].says) == NULL)
            fail_msg("case %zu: again %d got %ld shortened %d note \"%s\"", i, again, r.got,
                     r.shortened, r.note);
    }
}

static void test_sanitize(void **state)
{
    (void)state;
    char out[64];
    cli_store_sanitize(out, sizeof out, "127.0.0.1:6060");
    assert_string_equal(out, "127.0.0.1_6060");
    cli_store_sanitize(out, sizeof out, "../../etc/passwd");
    assert_string_equal(out, "_._.._etc_passwd");
    cli_store_sanitize(out, sizeof out, "..");
    assert_string_equal(out, "_.");
    cli_store_sanitize(out, sizeof out, "");
    assert_string_equal(out, "_");
    cli_store_sanitize(out, sizeof out, "a\nb/c d");
    assert_string_equal(out, "a_b_c_d");
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL)
        n += e->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void test_store(void **state)
{
    (void)state;
    char root[] = "/tmp/tk-store-XXXXXX", err[512];
    assert_non_null(mkdtemp(root));
    cli_store *s = cli_store_open(root, NULL, NULL, err, sizeof err);
    assert_non_null(s);
    time_t when = 1764691896; /* 2025-12-02 16:11:36 UTC */
    cli_store_file f;
    uint64_t bytes;
    for (int i = 0; i < 2; i++) { /* the same second twice: the second gets _2 */
        assert_int_equal(cli_store_begin(s, &f, "127.0.0.1:6060", CLI_CPU, "HighCPU",
                                         "{\"alertname\":\"HighCPU\"}", when, err, sizeof err), 0);
        fputs("profile", f.f);
        assert_int_equal(cli_store_commit(s, &f, &bytes, err, sizeof err), 0);
        assert_int_equal(bytes, 7);
    }
    char path[4096];
    struct stat st;
    snprintf(path, sizeof path, "%s/127.0.0.1_6060/2025-12-02/161136_HighCPU_cpu.pb.gz", root);
    assert_int_equal(stat(path, &st), 0);
    snprintf(path, sizeof path, "%s/127.0.0.1_6060/2025-12-02/161136_HighCPU_cpu_2.pb.gz", root);
    assert_int_equal(stat(path, &st), 0);
    assert_string_equal(f.path, path);
    assert_int_equal(cli_store_begin(s, &f, "127.0.0.1:6060", CLI_TRACE, "periodic", NULL, when,
                                     err, sizeof err), 0);
    cli_store_fail(s, &f, "connection refused");
    snprintf(path, sizeof path, "%s/127.0.0.1_6060/2025-12-02", root);
    assert_int_equal(count_files(path), 3); /* two profiles and the index */
    snprintf(path, sizeof path, "%s/127.0.0.1_6060/2025-12-02/index.jsonl", root);
    FILE *in = fopen(path, "r");
    assert_non_null(in);
    char line[1024];
    assert_non_null(fgets(line, sizeof line, in));
    assert_non_null(strstr(line, "{\"time\":\"2025-12-02T16:11:36Z\",\"target\":"
                                 "\"127.0.0.1:6060\",\"type\":\"cpu\""));
    /* sha256("profile") */
    assert_non_null(strstr(line, "\"sha256\":"
                                 "\"1900eab6c028483d7126599ee6f50de0d27907b5c65fa90524580b4b0f9852b0\"}\n"));
    assert_non_null(strstr(line, "\"file\":\"161136_HighCPU_cpu.pb.gz\",\"bytes\":7"));
    assert_non_null(strstr(line, "\"reason\":\"HighCPU\",\"labels\":{\"alertname\":\"HighCPU\"}"));
    assert_non_null(fgets(line, sizeof line, in));
    assert_non_null(strstr(line, "_cpu_2.pb.gz"));
    assert_non_null(fgets(line, sizeof line, in));
    assert_non_null(strstr(line, "\"type\":\"trace\""));
    assert_non_null(strstr(line, "\"result\":\"failed\",\"error\":\"connection refused\""));
    assert_null(fgets(line, sizeof line, in));
    fclose(in);
    uint64_t total;
    /* a CPU capture's window: what it covers, the past asked and got */
    assert_int_equal(cli_store_begin(s, &f, "127.0.0.1:6060", CLI_CPU, "HighCPU", NULL, when,
                                     err, sizeof err), 0);
    f.starts_at = "2025-12-02T16:11:06.5Z";
    f.window = (cli_window){true, 1764691836123000000, 1764691898000000000,
                            {95, 45, true, "held 45s"}};
    fputs("profile", f.f);
    assert_int_equal(cli_store_commit(s, &f, &bytes, err, sizeof err), 0);
    in = fopen(path, "r");
    assert_non_null(in);
    for (int i = 0; i < 4; i++)
        assert_non_null(fgets(line, sizeof line, in));
    fclose(in);
    assert_non_null(strstr(line, "\"starts_at\":\"2025-12-02T16:11:06.5Z\",\"window\":{"
                                 "\"start\":\"2025-12-02T16:10:36.123Z\",\"end\":"
                                 "\"2025-12-02T16:11:38.000Z\",\"past_asked\":95,\"past\":45,"
                                 "\"shortened\":true,\"note\":\"held 45s\"}"));
    /* ls: the past got of what was asked */
    FILE *ls = tmpfile();
    assert_non_null(ls);
    assert_int_equal(cli_store_list(root, ls), 0);
    rewind(ls);
    char all[4096] = "";
    size_t n = fread(all, 1, sizeof all - 1, ls);
    all[n] = '\0';
    fclose(ls);
    assert_non_null(strstr(all, "cpu:7B,past=45s/95s"));
    assert_int_equal(cli_store_retain(s, 0, 14, &total, NULL), 1); /* the oldest of three goes */
    /* retention by bytes: the oldest go */
    assert_int_equal(cli_store_retain(s, 0, 10, &total, NULL), 1);
    assert_int_equal(total, 7);
    cli_store_close(s);
    char cmd[200];
    snprintf(cmd, sizeof cmd, "rm -rf %s", root);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_alertmanager_payload),
        cmocka_unit_test(test_bad_payloads),
        cmocka_unit_test(test_limits),
        cmocka_unit_test(test_annotations),
        cmocka_unit_test(test_rfc3339),
        cmocka_unit_test(test_lookback),
        cmocka_unit_test(test_past_seconds),
        cmocka_unit_test(test_past_answer),
        cmocka_unit_test(test_sanitize),
        cmocka_unit_test(test_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
