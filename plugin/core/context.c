/* The request context as the plugin reads it: see context.h. */
#include "core/context.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CPU_SLOTS 16384 /* > 1.5 * PROF_LABELS_MAX_SERIES, power of two */

typedef struct cpu_slot {
    _Atomic(const tk_context *) ctx; /* NULL: free; set once */
    _Atomic uint64_t ns;
} cpu_slot;

static struct {
    const tk_host_api *api; /* NULL: not initialized */
    tk_host *host;
    _Atomic(const tk_context *(*)(void)) current;
    bool available, hooked;
    char why[128];
    _Atomic long max_series;
    cpu_slot cpu[CPU_SLOTS];      /* the exact CPU per context */
    _Atomic long cpu_series;      /* slots taken */
    _Atomic uint64_t cpu_other_ns, folded_metrics, folded_profiles;
} G = {.max_series = 100};

static const tk_context other = {
    .id = UINT64_MAX - 1, .npairs = 1, .pairs = {{"other", "true"}},
};

static void on_change(void *ctx, const tk_context *out, int64_t cpu_ns);

void prof_context_init(const tk_host_api *api, tk_host *host)
{
    G.api = api;
    G.host = host;
    G.available = TK_API_HAS(api, context_current) && TK_API_HAS(api, context_of_thread) &&
                  TK_API_HAS(api, context_of_waiter) && TK_API_HAS(api, set_context_hook);
    if (G.available) {
        atomic_store(&G.current, api->context_current);
        G.why[0] = '\0';
        return;
    }
    snprintf(G.why, sizeof G.why, "the host implements API %u.%u; request context labels "
             "need 1.2", api->abi_major, api->abi_minor);
    api->log(host, TK_LOG_WARN, "labels unavailable: %s", G.why);
}

int prof_context_configure(long max_series, bool cpu_metrics)
{
    if (max_series < 1 || max_series > PROF_LABELS_MAX_SERIES)
        max_series = PROF_LABELS_MAX_SERIES;
    atomic_store(&G.max_series, max_series);
    if (!G.available)
        return cpu_metrics ? ENOTSUP : 0;
    if (cpu_metrics == G.hooked)
        return 0;
    int rc = G.api->set_context_hook(G.host, cpu_metrics ? on_change : NULL, NULL);
    if (rc == 0)
        G.hooked = cpu_metrics;
    return rc;
}

void prof_context_fini(void)
{
    if (G.hooked)
        G.api->set_context_hook(G.host, NULL, NULL);
    G.hooked = false;
    atomic_store(&G.current, NULL);
}

bool prof_context_available(void)
{
    return G.available;
}

const char *prof_context_why(void)
{
    return G.why;
}

/* ---- readers ---- */

const tk_context *prof_context_current(void)
{
    const tk_context *(*fn)(void) = atomic_load_explicit(&G.current, memory_order_relaxed);
    return fn != NULL ? fn() : NULL;
}

const tk_context *prof_context_of_thread(int tid)
{
    return G.available ? G.api->context_of_thread(tid) : NULL;
}

const tk_context *prof_context_of_waiter(void)
{
    return G.available ? G.api->context_of_waiter() : NULL;
}

size_t prof_context_labels(const tk_context *c, pf_label *labels, size_t room)
{
    size_t n = 0;
    for (uint32_t i = 0; c != NULL && i < c->npairs && n < room; i++)
        labels[n++] = (pf_label){.key = c->pairs[i].key, .str = c->pairs[i].value};
    return n;
}

/* ---- a bound per profile ---- */

void prof_context_fold_start(prof_context_fold *f)
{
    *f = (prof_context_fold){.max = (size_t)atomic_load(&G.max_series)};
}

const tk_context *prof_context_fold_one(prof_context_fold *f, const tk_context *c)
{
    if (c == NULL)
        return NULL;
    for (size_t i = 0; i < f->len; i++) /* a push holds few series: a scan will do */
        if (f->kept[i] == c)
            return c;
    if (f->len < f->max && pf_grow(&f->kept, &f->cap, f->len + 1, sizeof *f->kept) == 0) {
        f->kept[f->len++] = c;
        return c;
    }
    f->folded++;
    return &other;
}

void prof_context_fold_end(prof_context_fold *f)
{
    atomic_fetch_add(&G.folded_profiles, f->folded);
    free(f->kept);
    *f = (prof_context_fold){0};
}

/* ---- exact CPU per context: the host's hook ---- */

static void on_change(void *ctx, const tk_context *out, int64_t cpu_ns)
{
    (void)ctx;
    if (out == NULL || cpu_ns <= 0)
        return;
    for (size_t i = (size_t)(out->id * 0x9E3779B97F4A7C15ULL >> 50) % CPU_SLOTS, n = 0;
         n < CPU_SLOTS; i = (i + 1) % CPU_SLOTS, n++) {
        cpu_slot *s = &G.cpu[i];
        const tk_context *have = atomic_load_explicit(&s->ctx, memory_order_acquire);
        if (have == NULL) {
            if (atomic_fetch_add(&G.cpu_series, 1) >= atomic_load(&G.max_series)) {
                atomic_fetch_sub(&G.cpu_series, 1);
                break;
            }
            if (!atomic_compare_exchange_strong(&s->ctx, &have, out)) {
                atomic_fetch_sub(&G.cpu_series, 1);
                if (have != out)
                    continue;
            }
            have = out;
        }
        if (have == out) {
            atomic_fetch_add_explicit(&s->ns, (uint64_t)cpu_ns, memory_order_relaxed);
            return;
        }
    }
    atomic_fetch_add_explicit(&G.cpu_other_ns, (uint64_t)cpu_ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&G.folded_metrics, 1, memory_order_relaxed);
}

/* ---- /metrics and status ---- */

/* A Prometheus label name: [a-zA-Z_][a-zA-Z0-9_]*, others replaced by _. */
static void put_name(pf_strbuf *out, const char *k)
{
    for (size_t i = 0; k[i] != '\0'; i++) {
        char c = k[i];
        bool ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  (i > 0 && c >= '0' && c <= '9');
        pf_strbuf_put(out, ok ? &c : "_", 1);
    }
    if (k[0] == '\0')
        pf_strbuf_puts(out, "_");
}

static void put_value(pf_strbuf *out, const char *v)
{
    for (; *v != '\0'; v++)
        if (*v == '\\' || *v == '"')
            pf_strbuf_printf(out, "\\%c", *v);
        else if (*v == '\n')
            pf_strbuf_puts(out, "\\n");
        else
            pf_strbuf_put(out, v, 1);
}

static void put_series(pf_strbuf *out, const tk_context *c, uint64_t ns)
{
    pf_strbuf_puts(out, "takhin_profiler_label_cpu_seconds_total{");
    for (uint32_t i = 0; i < c->npairs; i++) {
        bool dup = false; /* Prometheus refuses a label twice: the first wins */
        for (uint32_t j = 0; j < i && !dup; j++)
            dup = strcmp(c->pairs[j].key, c->pairs[i].key) == 0;
        if (dup)
            continue;
        pf_strbuf_puts(out, i ? "," : "");
        put_name(out, c->pairs[i].key);
        pf_strbuf_puts(out, "=\"");
        put_value(out, c->pairs[i].value);
        pf_strbuf_puts(out, "\"");
    }
    pf_strbuf_printf(out, "} %.9f\n", (double)ns / 1e9);
}

void prof_context_render_metrics(pf_strbuf *out)
{
    if (G.hooked) {
        pf_strbuf_puts(out, "# HELP takhin_profiler_label_cpu_seconds_total CPU time of the "
                       "host's threads by request context (exact: the thread's CPU clock at "
                       "each change), at most profiler.labels.max_series series, the rest "
                       "under other=\"true\".\n"
                       "# TYPE takhin_profiler_label_cpu_seconds_total counter\n");
        for (size_t i = 0; i < CPU_SLOTS; i++) {
            const tk_context *c = atomic_load_explicit(&G.cpu[i].ctx, memory_order_acquire);
            if (c != NULL)
                put_series(out, c, atomic_load(&G.cpu[i].ns));
        }
        uint64_t rest = atomic_load(&G.cpu_other_ns);
        if (rest > 0)
            put_series(out, &other, rest);
    }
    pf_strbuf_printf(out, "# HELP takhin_profiler_label_folded_total Changes of context (in "
                     "/metrics) and samples (in pushed profiles) whose labels were folded "
                     "into other=\"true\" by profiler.labels.max_series.\n"
                     "# TYPE takhin_profiler_label_folded_total counter\n"
                     "takhin_profiler_label_folded_total{where=\"metrics\"} %llu\n"
                     "takhin_profiler_label_folded_total{where=\"push\"} %llu\n",
                     (unsigned long long)atomic_load(&G.folded_metrics),
                     (unsigned long long)atomic_load(&G.folded_profiles));
}

void prof_context_status_json(char *buf, size_t len)
{
    if (!G.available)
        snprintf(buf, len, ",\"labels\":{\"available\":false,\"why\":\"%s\"}", G.why);
    else
        snprintf(buf, len, ",\"labels\":{\"available\":true,\"max_series\":%ld,"
                 "\"cpu_metrics\":%s}", atomic_load(&G.max_series), G.hooked ? "true" : "false");
}
