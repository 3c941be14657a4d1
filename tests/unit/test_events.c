/*
 * The plugin's event hooks (plugin/capture/events.c) against a fake host
 * that records what set_event_hooks installs and which admin commands are
 * registered: hooks installed iff contention sampling is on or a trace
 * runs, prof_events_set_contention turning them on and off, a host without
 * set_event_hooks, a host that refuses them, and "profiler set KEY VALUE"
 * (plugin/admin.c) called through the command the plugin registered.
 *
 * The events and the commands are set up as the plugin's init does, in
 * one place, new_events.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "capture/contention.h"
#include "capture/events.h"
#include "capture/trace.h"
#include "profiler.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a host that records ---- */

typedef struct fake_host {
    /* register_command */
    int register_rc;
    int commands;
    char prefix[32], word[32];
    tk_command_fn command;
    /* set_event_hooks */
    int hooks_rc;
    int hooks_calls;
    const tk_event_hooks *hooks; /* as last installed (NULL: removed) */
    void *hooks_ctx;
    /* log */
    int warnings;
    char last_log[512];
} fake_host;

typedef struct fake_reply {
    char text[2048];
} fake_reply;

static void host_log(tk_host *host, tk_log_level level, const char *fmt, ...)
{
    fake_host *h = (fake_host *)(void *)host;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(h->last_log, sizeof h->last_log, fmt, ap);
    va_end(ap);
    h->warnings += level >= TK_LOG_WARN;
}

static int host_register_command(tk_host *host, const char *prefix, const char *word,
                                 const char *usage, tk_command_fn fn)
{
    fake_host *h = (fake_host *)(void *)host;
    assert_non_null(usage);
    if (h->register_rc != 0)
        return h->register_rc;
    h->commands++;
    if (strcmp(word, "set") == 0) { /* the one these tests drive */
        snprintf(h->prefix, sizeof h->prefix, "%s", prefix);
        snprintf(h->word, sizeof h->word, "%s", word);
        h->command = fn;
    }
    return 0;
}

static void host_reply_printf(tk_reply *reply, const char *fmt, ...)
{
    fake_reply *r = (fake_reply *)(void *)reply;
    size_t n = strlen(r->text);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->text + n, sizeof r->text - n, fmt, ap);
    va_end(ap);
}

static int host_set_event_hooks(tk_host *host, const tk_event_hooks *hooks, void *ctx)
{
    fake_host *h = (fake_host *)(void *)host;
    h->hooks_calls++;
    if (h->hooks_rc != 0)
        return h->hooks_rc;
    h->hooks = hooks;
    h->hooks_ctx = ctx;
    return 0;
}

static const tk_host_api api_with_hooks = {
    .abi_major = TK_ABI_MAJOR,
    .abi_minor = TK_ABI_MINOR,
    .size = sizeof(tk_host_api),
    .log = host_log,
    .register_command = host_register_command,
    .reply_printf = host_reply_printf,
    .set_event_hooks = host_set_event_hooks,
};

static const tk_host_api api_without_hooks = {
    .abi_major = TK_ABI_MAJOR,
    .abi_minor = TK_ABI_MINOR,
    .size = sizeof(tk_host_api),
    .log = host_log,
    .register_command = host_register_command,
    .reply_printf = host_reply_printf,
    .set_event_hooks = NULL,
};

/* ---- the plugin side ---- */

typedef struct fixture {
    fake_host host;
    profiler p;
} fixture;

/* The events and the admin commands, as the plugin's init makes them,
 * from `api`, on `f`'s host, with these sampling settings. The events land
 * in f->p.events (where "profiler set" finds them). NULL with err when
 * either fails. */
static prof_events *new_events(fixture *f, const tk_host_api *api, long mutex_fraction,
                               int64_t block_rate, char *err, size_t errlen)
{
    f->p.ph = (prof_host){api, (tk_host *)(void *)&f->host};
    int rc = profiler_admin_register(&f->p);
    if (rc != 0) {
        snprintf(err, errlen, "cannot register admin commands: %s", strerror(rc));
        return NULL;
    }
    f->p.events = prof_events_new(&f->p.ph, mutex_fraction, block_rate, err, errlen);
    return f->p.events;
}

static fixture *fresh(void)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    return f;
}

static void done(fixture *f)
{
    prof_events_free(f->p.events);
    free(f);
}

/* Runs "profiler set ARGS..." through the command the plugin registered. */
static int command(fixture *f, fake_reply *r, int argc, const char *const *args)
{
    char *argv[4];
    assert_true(argc <= 4);
    for (int i = 0; i < argc; i++)
        argv[i] = (char *)args[i];
    memset(r, 0, sizeof *r);
    assert_non_null(f->host.command);
    return f->host.command(&f->p, argc, argv, (tk_reply *)(void *)r);
}

static void set(fixture *f, fake_reply *r, int expect_rc, const char *key, const char *value)
{
    const char *args[] = {key, value};
    int rc = command(f, r, 2, args);
    if (rc != expect_rc)
        fail_msg("profiler set %s %s: %d, expected %d (%s)", key, value, rc, expect_rc, r->text);
}

/* A prof_trace_sink into a fake_reply's text. */
static int to_text(void *ctx, const void *data, size_t len)
{
    fake_reply *r = ctx;
    size_t n = strlen(r->text);
    if (n + len >= sizeof r->text)
        return -1;
    memcpy(r->text + n, data, len);
    r->text[n + len] = '\0';
    return 0;
}

/* ---- tests ---- */

static void test_off_installs_nothing(void **state)
{
    (void)state;
    fixture *f = fresh();
    char err[256];
    prof_events *ev = new_events(f, &api_with_hooks, 0, 0, err, sizeof err);
    assert_non_null(ev);
    assert_int_equal(f->host.hooks_calls, 0);
    assert_false(ev->installed);
    /* and "profiler set" is registered */
    assert_int_equal(f->host.commands, 4); /* status, enable, disable, set */
    assert_string_equal(f->host.prefix, "profiler");
    assert_string_equal(f->host.word, "set");
    assert_non_null(f->host.command);
    assert_int_equal(prof_events_update(ev), 0);
    assert_int_equal(f->host.hooks_calls, 0);
    done(f);
}

static void test_sampling_on_installs(void **state)
{
    (void)state;
    static const struct {
        long fraction;
        int64_t rate;
    } on[] = {{5, 0}, {0, 1000}, {1, 1}};
    for (size_t i = 0; i < sizeof on / sizeof *on; i++) {
        fixture *f = fresh();
        char err[256];
        prof_events *ev = new_events(f, &api_with_hooks, on[i].fraction, on[i].rate, err,
                                     sizeof err);
        assert_non_null(ev);
        assert_int_equal(f->host.hooks_calls, 1);
        assert_true(ev->installed);
        assert_non_null(f->host.hooks);
        assert_ptr_equal(f->host.hooks_ctx, ev);
        assert_non_null(f->host.hooks->waited);
        assert_non_null(f->host.hooks->released);
        assert_null(f->host.hooks->span); /* no trace: spans are of no use */
        assert_int_equal(prof_contention_fraction(ev->contention), on[i].fraction);
        assert_int_equal(prof_contention_rate(ev->contention), on[i].rate);
        done(f);
    }
    /* freeing removes them */
    fixture *f = fresh();
    char err[256];
    assert_non_null(new_events(f, &api_with_hooks, 2, 0, err, sizeof err));
    prof_events_free(f->p.events);
    f->p.events = NULL;
    assert_int_equal(f->host.hooks_calls, 2);
    assert_null(f->host.hooks);
    done(f);
}

static void test_reconfigure(void **state)
{
    (void)state;
    fixture *f = fresh();
    char err[256];
    prof_events *ev = new_events(f, &api_with_hooks, 0, 0, err, sizeof err);
    assert_non_null(ev);
    prof_events_set_contention(ev, 10, 0);
    assert_int_equal(f->host.hooks_calls, 1);
    assert_non_null(f->host.hooks);
    assert_true(ev->installed);
    assert_int_equal(prof_contention_fraction(ev->contention), 10);
    /* still on: installed again (the host returns once the old ones are
     * out of use) */
    prof_events_set_contention(ev, 10, 500);
    assert_int_equal(f->host.hooks_calls, 2);
    assert_non_null(f->host.hooks);
    assert_int_equal(prof_contention_rate(ev->contention), 500);
    /* off: removed */
    prof_events_set_contention(ev, 0, 0);
    assert_int_equal(f->host.hooks_calls, 3);
    assert_null(f->host.hooks);
    assert_false(ev->installed);
    /* off again: nothing to do */
    prof_events_set_contention(ev, 0, 0);
    assert_int_equal(f->host.hooks_calls, 3);
    done(f);
}

static void test_trace_installs_with_spans(void **state)
{
    (void)state;
    fixture *f = fresh();
    char err[256];
    prof_events *ev = new_events(f, &api_with_hooks, 0, 0, err, sizeof err);
    assert_non_null(ev);
    long ends_in;
    assert_true(prof_trace_begin(ev->trace, 5, &ends_in));
    assert_int_equal(prof_events_trace_start(ev), 0);
    assert_true(ev->installed);
    assert_non_null(f->host.hooks);
    assert_non_null(f->host.hooks->span);
    /* what the host calls reaches the trace */
    f->host.hooks->span(f->host.hooks_ctx, "produce", 1000, 2000);
    f->host.hooks->waited(f->host.hooks_ctx, TK_WAIT_MUTEX, 1500, 300);
    /* the trace ends: removed, as sampling is off */
    prof_events_trace_end(ev);
    assert_false(ev->installed);
    assert_null(f->host.hooks);
    fake_reply json = {{0}};
    size_t len = 0;
    assert_int_equal(prof_trace_write(ev->trace, "t", 1, to_text, &json, &len), 0);
    assert_int_equal(strlen(json.text), len);
    assert_non_null(strstr(json.text, "\"produce\""));
    assert_non_null(strstr(json.text, "mutex wait"));
    prof_trace_discard(ev->trace);
    /* with sampling on, the end of a trace leaves the hooks without spans */
    prof_events_set_contention(ev, 1, 0);
    assert_true(prof_trace_begin(ev->trace, 5, &ends_in));
    assert_int_equal(prof_events_update(ev), 0);
    assert_non_null(f->host.hooks->span);
    prof_trace_stop(ev->trace);
    assert_int_equal(prof_events_update(ev), 0);
    assert_true(ev->installed);
    assert_non_null(f->host.hooks);
    assert_null(f->host.hooks->span);
    prof_trace_discard(ev->trace);
    done(f);
}

static void test_host_without_hooks(void **state)
{
    (void)state;
    fixture *f = fresh();
    char err[256];
    prof_events *ev = new_events(f, &api_without_hooks, 0, 0, err, sizeof err);
    assert_non_null(ev);
    assert_int_equal(f->host.warnings, 0); /* nothing asked for, nothing to say */
    assert_int_equal(prof_events_update(ev), ENOTSUP);
    done(f);

    f = fresh();
    ev = new_events(f, &api_without_hooks, 3, 0, err, sizeof err);
    assert_non_null(ev); /* the plugin runs on, with empty profiles */
    assert_false(ev->installed);
    assert_int_equal(f->host.warnings, 1);
    assert_non_null(strstr(f->host.last_log, "reports no events"));
    done(f);

    /* an older host's table, too short to hold set_event_hooks */
    tk_host_api old = api_with_hooks;
    old.size = offsetof(tk_host_api, set_event_hooks);
    f = fresh();
    ev = new_events(f, &old, 3, 0, err, sizeof err);
    assert_non_null(ev);
    assert_int_equal(f->host.hooks_calls, 0);
    assert_int_equal(prof_events_update(ev), ENOTSUP);
    done(f);
}

static void test_host_refuses(void **state)
{
    (void)state;
    fixture *f = fresh();
    f->host.hooks_rc = EPERM;
    char err[256];
    prof_events *ev = new_events(f, &api_with_hooks, 3, 0, err, sizeof err);
    assert_non_null(ev);
    assert_false(ev->installed);
    assert_int_equal(f->host.warnings, 1);
    assert_non_null(strstr(f->host.last_log, strerror(EPERM)));
    assert_int_equal(prof_events_update(ev), EPERM);
    done(f);

    /* the commands cannot be registered: no plugin */
    f = fresh();
    f->host.register_rc = EEXIST;
    assert_null(new_events(f, &api_with_hooks, 0, 0, err, sizeof err));
    assert_non_null(strstr(err, strerror(EEXIST)));
    assert_int_equal(f->host.hooks_calls, 0);
    free(f);
}

static void test_set_command(void **state)
{
    (void)state;
    fixture *f = fresh();
    char err[256];
    fake_reply r;
    prof_events *ev = new_events(f, &api_with_hooks, 0, 0, err, sizeof err);
    assert_non_null(ev);

    set(f, &r, 0, "mutex_fraction", "10");
    assert_string_equal(r.text, "profiler.mutex_fraction = 10 (was 0); mutex profile on "
                                "(1 in 10 contended unlocks), block profile off; until the "
                                "next config reload");
    assert_int_equal(prof_contention_fraction(ev->contention), 10);
    assert_true(ev->installed);
    assert_non_null(f->host.hooks);

    set(f, &r, 0, "block_rate", "1000000000000"); /* the maximum */
    assert_non_null(strstr(r.text, "profiler.block_rate = 1000000000000 (was 0)"));
    assert_non_null(strstr(r.text, "block profile on (one sample per 1000000000000 ns "
                                   "blocked)"));
    assert_int_equal(prof_contention_rate(ev->contention), 1000000000000LL);
    assert_int_equal(prof_contention_fraction(ev->contention), 10); /* the other one kept */

    set(f, &r, 0, "mutex_fraction", "0");
    assert_non_null(strstr(r.text, "(was 10)"));
    assert_true(ev->installed); /* block_rate still on */
    set(f, &r, 0, "block_rate", "0");
    assert_false(ev->installed);
    assert_null(f->host.hooks);
    assert_non_null(strstr(r.text, "mutex profile off, block profile off"));
    done(f);
}

static void test_set_command_refuses(void **state)
{
    (void)state;
    fixture *f = fresh();
    char err[256];
    fake_reply r;
    prof_events *ev = new_events(f, &api_with_hooks, 7, 0, err, sizeof err);
    assert_non_null(ev);
    int calls = f->host.hooks_calls;

    const char *one[] = {"mutex_fraction"};
    assert_int_equal(command(f, &r, 1, one), 1);
    assert_string_equal(r.text, "usage: profiler set mutex_fraction|block_rate VALUE");
    const char *three[] = {"mutex_fraction", "1", "2"};
    assert_int_equal(command(f, &r, 3, three), 1);
    assert_non_null(strstr(r.text, "usage:"));

    set(f, &r, 1, "cpu_hz", "10");
    assert_non_null(strstr(r.text, "unknown key \"cpu_hz\""));
    set(f, &r, 1, "heap_sample_bytes", "10");
    assert_non_null(strstr(r.text, "unknown key"));

    static const char *const bad[] = {"abc", "-1", "1000000001", " 5", "5 ", "", "0x10", "1e3"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        set(f, &r, 1, "mutex_fraction", bad[i]);
        if (strstr(r.text, "profiler.mutex_fraction = \"") == NULL ||
            strstr(r.text, "expected an integer from 0 to 1000000000") == NULL)
            fail_msg("\"%s\": %s", bad[i], r.text);
    }
    set(f, &r, 1, "block_rate", "1000000000001");
    assert_non_null(strstr(r.text, "expected an integer from 0 to 1000000000000"));
    /* nothing changed */
    assert_int_equal(prof_contention_fraction(ev->contention), 7);
    assert_int_equal(prof_contention_rate(ev->contention), 0);
    assert_int_equal(f->host.hooks_calls, calls);
    done(f);
}

static void test_set_command_without_hooks(void **state)
{
    (void)state;
    fixture *f = fresh();
    char err[256];
    fake_reply r;
    prof_events *ev = new_events(f, &api_without_hooks, 0, 0, err, sizeof err);
    assert_non_null(ev);
    set(f, &r, 1, "mutex_fraction", "2");
    assert_non_null(strstr(r.text, "profiler.mutex_fraction = 2 (was 0)"));
    assert_non_null(strstr(r.text, "but no events arrive: this host does not report them"));
    assert_int_equal(prof_contention_fraction(ev->contention), 2); /* set all the same */
    set(f, &r, 0, "mutex_fraction", "0"); /* off: nothing is missing */
    assert_null(strstr(r.text, "no events arrive"));
    done(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_off_installs_nothing),
        cmocka_unit_test(test_sampling_on_installs),
        cmocka_unit_test(test_reconfigure),
        cmocka_unit_test(test_trace_installs_with_spans),
        cmocka_unit_test(test_host_without_hooks),
        cmocka_unit_test(test_host_refuses),
        cmocka_unit_test(test_set_command),
        cmocka_unit_test(test_set_command_refuses),
        cmocka_unit_test(test_set_command_without_hooks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
