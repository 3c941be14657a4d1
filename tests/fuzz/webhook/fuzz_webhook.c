/*
 * fuzz_webhook - takhin-profiler watch's reader of Alertmanager's webhook
 * (cli/profiler/commands/webhook.c): cli_webhook_parse on the body as sent, then
 * the annotation checks (cli_parse_kinds, cli_parse_seconds) on what it
 * kept, and store.c's name sanitizer on the alert name and instance.
 * Invariants: a refusal has a message; an accepted payload has its
 * strings set; a sanitized name is never empty, never a dot-file, and
 * holds only [A-Za-z0-9._-].
 */
#include "fuzz.h"

#include "commands/cli_watch.h"

#include <string.h>

static void sane_name(const char *in)
{
    char out[128];
    cli_store_sanitize(out, sizeof out, in);
    FUZZ_ASSERT(out[0] != '\0' && out[0] != '.', "bad name \"%s\"", out);
    FUZZ_ASSERT(strspn(out, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") ==
                    strlen(out), "bad character in \"%s\"", out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512] = "";
    cli_webhook wh;
    if (cli_webhook_parse((const char *)data, size, &wh, err, sizeof err) != 0) {
        FUZZ_ASSERT(err[0] != '\0', "refused without a message");
        FUZZ_ASSERT(wh.alerts == NULL && wh.nalerts == 0, "refused but not freed");
        return 0;
    }
    FUZZ_ASSERT(wh.group_key && wh.status, "accepted without groupKey/status strings");
    for (size_t i = 0; i < wh.nalerts; i++) {
        cli_wh_alert *a = &wh.alerts[i];
        FUZZ_ASSERT(a->alertname && a->fingerprint && a->starts_at && a->labels_json,
                    "alert %zu lacks a string", i);
        cli_kinds k;
        long s;
        if (a->ann_types && cli_parse_kinds(a->ann_types, &k, err, sizeof err) == 0)
            FUZZ_ASSERT(k != 0 && k < CLI_KIND_BIT(CLI_NKINDS), "kinds %#x", k);
        if (a->ann_seconds && cli_parse_seconds(a->ann_seconds, 120, &s, err, sizeof err) == 0)
            FUZZ_ASSERT(s >= 1 && s <= 120, "seconds %ld", s);
        double back = 60, at = -1;
        if (a->ann_lookback && cli_parse_lookback(a->ann_lookback, &back, err, sizeof err) == 0)
            FUZZ_ASSERT(back >= 0 && back <= CLI_LOOKBACK_MAX, "lookback %g", back);
        if (cli_parse_rfc3339(a->starts_at, &at) != 0)
            at = -1;
        long past = cli_past_seconds(1.8e9, at, back);
        FUZZ_ASSERT(past >= 0 && past <= CLI_PAST_MAX, "past %ld", past);
        sane_name(a->alertname);
        if (a->instance)
            sane_name(a->instance);
    }
    cli_webhook_free(&wh);
    return 0;
}
