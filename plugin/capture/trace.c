/* /debug/pprof/trace: see trace.h. */
#include "capture/trace.h"

#include "core/context.h"

#include "pf_util.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

typedef enum trace_kind { EV_SPAN, EV_MUTEX_WAIT, EV_COND_WAIT, EV_UNLOCK } trace_kind;

/* One event; for EV_UNLOCK `dur` is the waiters' delay (an instant). */
typedef struct trace_event {
    const char *name; /* a span's name: a literal of the host */
    int64_t start, dur; /* CLOCK_MONOTONIC ns */
    trace_kind kind;
    const tk_context *ctx; /* the thread's request context at the event */
} trace_event;

/* One thread's events; written only by that thread during the trace. */
typedef struct trace_buf {
    int tid;
    char name[16]; /* the thread's name when it first recorded */
    size_t len;
    uint64_t dropped; /* events beyond the buffer */
    trace_event ev[TRACE_EVENTS_PER_THREAD];
} trace_buf;

struct prof_trace {
    pthread_mutex_t lock; /* guards busy and ends */
    bool busy;
    int64_t ends;
    _Atomic bool active;
    _Atomic unsigned gen;     /* this trace's generation, see tls_buf */
    _Atomic int claimed;      /* buffer slots claimed (may pass the limit) */
    _Atomic uint64_t lost;    /* events of threads without a buffer */
    _Atomic(trace_buf *) slot[TRACE_MAX_THREADS]; /* owned; NULL: none */
    int64_t begun, ended;     /* CLOCK_MONOTONIC ns */
    _Atomic uint64_t dropped_total; /* over all traces, counted at discard */
    double requested;         /* seconds */
};

/* Every trace of the process gets a new generation: a thread's buffer
 * pointer is valid only while its generation is the running trace's. */
static _Atomic unsigned generations;
static __thread struct {
    trace_buf *buf;
    unsigned gen;
} tls_buf;

prof_trace *prof_trace_new(void)
{
    prof_trace *t = calloc(1, sizeof *t);
    if (t != NULL)
        pthread_mutex_init(&t->lock, NULL);
    return t;
}

void prof_trace_free(prof_trace *t)
{
    if (t == NULL)
        return;
    prof_trace_discard(t);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

bool prof_trace_active(const prof_trace *t)
{
    return atomic_load(&t->active);
}

/* ---- recording (in the host's threads) ---- */

/* Claims a slot and allocates this thread's buffer; NULL past the limit. */
static trace_buf *new_buf(prof_trace *t)
{
    int i = atomic_fetch_add(&t->claimed, 1);
    if (i >= TRACE_MAX_THREADS)
        return NULL;
    trace_buf *b = malloc(sizeof *b);
    if (b != NULL) {
        b->tid = (int)gettid();
        b->len = 0;
        b->dropped = 0;
        memset(b->name, 0, sizeof b->name);
        prctl(PR_GET_NAME, b->name);
    }
    atomic_store(&t->slot[i], b);
    return b;
}

static trace_buf *thread_buf(prof_trace *t)
{
    unsigned gen = atomic_load_explicit(&t->gen, memory_order_acquire);
    if (tls_buf.gen != gen) {
        tls_buf.gen = gen;
        tls_buf.buf = new_buf(t);
    }
    return tls_buf.buf;
}

static void add(prof_trace *t, trace_kind kind, const char *name, int64_t start, int64_t dur)
{
    if (!atomic_load_explicit(&t->active, memory_order_acquire))
        return;
    trace_buf *b = thread_buf(t);
    if (b == NULL)
        atomic_fetch_add_explicit(&t->lost, 1, memory_order_relaxed);
    else if (b->len == TRACE_EVENTS_PER_THREAD)
        b->dropped++;
    else
        b->ev[b->len++] = (trace_event){name, start, dur, kind, prof_context_current()};
}

void prof_trace_span(prof_trace *t, const char *name, int64_t start_ns, int64_t end_ns)
{
    add(t, EV_SPAN, name, start_ns, end_ns - start_ns);
}

void prof_trace_waited(prof_trace *t, tk_wait_kind kind, int64_t start_ns, int64_t delay_ns)
{
    add(t, kind == TK_WAIT_COND ? EV_COND_WAIT : EV_MUTEX_WAIT, NULL, start_ns, delay_ns);
}

void prof_trace_released(prof_trace *t, int64_t delay_ns)
{
    if (atomic_load_explicit(&t->active, memory_order_relaxed))
        add(t, EV_UNLOCK, NULL, pf_mono_ns(), delay_ns);
}

/* ---- one trace's life ---- */

/* Counts over the buffers, for otherData and the metrics. */
typedef struct trace_totals {
    uint64_t events, dropped;
    int threads, unrecorded;
} trace_totals;

bool prof_trace_begin(prof_trace *t, double seconds, long *ends_in)
{
    pthread_mutex_lock(&t->lock);
    bool free_slot = !t->busy;
    int64_t now = pf_mono_ns();
    if (free_slot) {
        t->busy = true;
        t->ends = now + (int64_t)(seconds * 1e9);
        t->requested = seconds;
        atomic_store(&t->claimed, 0);
        atomic_store(&t->lost, 0);
        atomic_store(&t->gen, atomic_fetch_add(&generations, 1) + 1);
        t->begun = now;
        atomic_store_explicit(&t->active, true, memory_order_release);
    } else {
        *ends_in = (long)((t->ends - now) / 1000000000) + 1;
    }
    pthread_mutex_unlock(&t->lock);
    return free_slot;
}

void prof_trace_stop(prof_trace *t)
{
    atomic_store(&t->active, false);
    t->ended = pf_mono_ns();
}

static trace_totals totals(const prof_trace *t);

void prof_trace_discard(prof_trace *t)
{
    atomic_store(&t->active, false);
    atomic_fetch_add(&t->dropped_total, totals(t).dropped);
    for (int i = 0; i < TRACE_MAX_THREADS; i++)
        free(atomic_exchange(&t->slot[i], NULL));
    atomic_store(&t->claimed, 0);
    pthread_mutex_lock(&t->lock);
    t->busy = false;
    pthread_mutex_unlock(&t->lock);
}

/* ---- JSON ---- */

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s)
{
    size_t n = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
             : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
    if (n <= 1)
        return n;
    static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
    uint32_t cp = s[0] & (0x7fu >> n);
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (s[i] & 0x3fu);
    }
    bool valid = cp >= least[n] && cp <= 0x10ffff && (cp < 0xd800 || cp > 0xdfff);
    return valid ? n : 0;
}

/* The JSON form of the character at s into unit; returns the bytes of s
 * it stands for. */
static size_t json_char(const unsigned char *s, char unit[8], size_t *unit_len)
{
    size_t n = utf8_len(s);
    if (n == 0) {
        *unit_len = (size_t)snprintf(unit, 8, "\\ufffd");
        return 1;
    }
    if (*s == '"' || *s == '\\')
        *unit_len = (size_t)snprintf(unit, 8, "\\%c", *s);
    else if (*s < 0x20)
        *unit_len = (size_t)snprintf(unit, 8, "\\u%04x", *s);
    else
        memcpy(unit, s, *unit_len = n);
    return n;
}

size_t prof_trace_json_string(const char *s, char *out, size_t outlen)
{
    if (outlen < 3) {
        if (outlen > 0)
            out[0] = '\0';
        return 0;
    }
    size_t len = 0;
    out[len++] = '"';
    const unsigned char *p = (const unsigned char *)(s ? s : "");
    while (*p != '\0') {
        char unit[8];
        size_t unit_len = 0, used = json_char(p, unit, &unit_len);
        if (len + unit_len + 2 > outlen)
            break;
        memcpy(out + len, unit, unit_len);
        len += unit_len;
        p += used;
    }
    out[len++] = '"';
    out[len] = '\0';
    return len;
}

/* Buffered output to a sink, counting bytes. */
typedef struct json_out {
    prof_trace_sink sink;
    void *ctx;
    size_t len, total;
    bool failed;
    char buf[1 << 16];
} json_out;

static void out_flush(json_out *o)
{
    if (o->len > 0 && !o->failed && o->sink(o->ctx, o->buf, o->len) != 0)
        o->failed = true;
    o->total += o->len;
    o->len = 0;
}

static void out_bytes(json_out *o, const char *s, size_t n)
{
    while (n > 0) {
        if (o->len == sizeof o->buf)
            out_flush(o);
        size_t k = sizeof o->buf - o->len < n ? sizeof o->buf - o->len : n;
        memcpy(o->buf + o->len, s, k);
        o->len += k;
        s += k;
        n -= k;
    }
}

static void out_printf(json_out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void out_printf(json_out *o, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n > 0)
        out_bytes(o, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

static void out_string(json_out *o, const char *s)
{
    char quoted[256];
    out_bytes(o, quoted, prof_trace_json_string(s, quoted, sizeof quoted));
}

/* ns as microseconds with three decimals ("12.345"); ns >= 0. */
static const char *micros(int64_t ns, char buf[32])
{
    snprintf(buf, 32, "%lld.%03lld", (long long)(ns / 1000), (long long)(ns % 1000));
    return buf;
}

static const char *event_name(const trace_event *e)
{
    switch (e->kind) {
    case EV_MUTEX_WAIT: return "mutex wait";
    case EV_COND_WAIT: return "cond wait";
    case EV_UNLOCK: return "contended unlock";
    default: return e->name ? e->name : "span";
    }
}

/* ",\"args\":{...}}": `first` (or nothing), then the context's pairs. */
static void write_args(json_out *o, const trace_event *e, const char *first)
{
    const tk_context *c = e->ctx;
    if (first[0] == '\0' && (c == NULL || c->npairs == 0)) {
        out_bytes(o, "}", 1);
        return;
    }
    out_printf(o, ",\"args\":{%s", first);
    for (uint32_t i = 0; c != NULL && i < c->npairs; i++) {
        out_bytes(o, i || first[0] ? "," : "", i || first[0] ? 1 : 0);
        out_string(o, c->pairs[i].key);
        out_bytes(o, ":", 1);
        out_string(o, c->pairs[i].value);
    }
    out_bytes(o, "}}", 2);
}

static void write_event(json_out *o, const prof_trace *t, int pid, int tid,
                        const trace_event *e)
{
    char ts[32], dur_text[32];
    int64_t start = e->start - t->begun;
    out_bytes(o, ",\n{\"name\":", 10);
    out_string(o, event_name(e));
    if (e->kind == EV_UNLOCK) {
        char first[64];
        snprintf(first, sizeof first, "\"waiters_delay_ns\":%lld", (long long)e->dur);
        out_printf(o, ",\"cat\":\"contention\",\"ph\":\"i\",\"s\":\"t\",\"ts\":%s,\"pid\":%d,"
                   "\"tid\":%d", micros(start > 0 ? start : 0, ts), pid, tid);
        write_args(o, e, first);
        return;
    }
    /* Clipped to the trace: a wait may have begun long before. */
    int64_t dur = start < 0 ? e->dur + start : e->dur;
    out_printf(o, ",\"cat\":\"%s\",\"ph\":\"X\",\"ts\":%s,\"dur\":%s,\"pid\":%d,\"tid\":%d",
               e->kind == EV_SPAN ? "span" : "wait", micros(start > 0 ? start : 0, ts),
               micros(dur > 0 ? dur : 0, dur_text), pid, tid);
    write_args(o, e, start < 0 ? "\"began_before_trace\":true" : "");
}

static void write_thread(json_out *o, const prof_trace *t, int pid, const trace_buf *b)
{
    char fallback[32];
    snprintf(fallback, sizeof fallback, "thread %d", b->tid);
    out_printf(o, ",\n{\"name\":\"thread_name\",\"ph\":\"M\",\"pid\":%d,\"tid\":%d,"
               "\"args\":{\"name\":", pid, b->tid);
    out_string(o, b->name[0] ? b->name : fallback);
    out_bytes(o, "}}", 2);
    for (size_t i = 0; i < b->len; i++)
        write_event(o, t, pid, b->tid, &b->ev[i]);
}

static trace_totals totals(const prof_trace *t)
{
    trace_totals n = {0, atomic_load(&t->lost), 0, 0};
    int claimed = atomic_load(&t->claimed);
    for (int i = 0; i < TRACE_MAX_THREADS && i < claimed; i++) {
        const trace_buf *b = atomic_load(&t->slot[i]);
        if (b == NULL) {
            n.unrecorded++;
            continue;
        }
        n.threads++;
        n.events += b->len;
        n.dropped += b->dropped;
    }
    if (claimed > TRACE_MAX_THREADS)
        n.unrecorded += claimed - TRACE_MAX_THREADS;
    return n;
}

static void write_tail(json_out *o, const prof_trace *t)
{
    trace_totals n = totals(t);
    out_printf(o, "\n],\n\"displayTimeUnit\":\"ns\",\n\"otherData\":{\"source\":\"takhin profiler "
               PROF_VERSION "\",\"clock\":\"CLOCK_MONOTONIC, ts from the start of the trace\","
               "\"seconds_requested\":%g,\"seconds\":%.6f,", t->requested,
               (double)(t->ended - t->begun) / 1e9);
    out_printf(o, "\"events\":%llu,\"dropped_events\":%llu,\"threads\":%d,"
               "\"threads_not_recorded\":%d,\"events_per_thread_limit\":%d,"
               "\"thread_limit\":%d}}\n",
               (unsigned long long)n.events, (unsigned long long)n.dropped, n.threads,
               n.unrecorded, TRACE_EVENTS_PER_THREAD, TRACE_MAX_THREADS);
}

int prof_trace_write(const prof_trace *t, const char *process_name, int pid,
                     prof_trace_sink sink, void *ctx, size_t *total)
{
    json_out *o = malloc(sizeof *o);
    if (o == NULL)
        return -1;
    o->sink = sink;
    o->ctx = ctx;
    o->len = o->total = 0;
    o->failed = false;
    out_printf(o, "{\"traceEvents\":[\n{\"name\":\"process_name\",\"ph\":\"M\",\"pid\":%d,"
               "\"tid\":%d,\"args\":{\"name\":", pid, pid);
    out_string(o, process_name);
    out_bytes(o, "}}", 2);
    int claimed = atomic_load(&t->claimed);
    for (int i = 0; i < TRACE_MAX_THREADS && i < claimed; i++) {
        const trace_buf *b = atomic_load(&t->slot[i]);
        if (b != NULL)
            write_thread(o, t, pid, b);
    }
    write_tail(o, t);
    out_flush(o);
    int rc = o->failed ? -1 : 0;
    *total = o->total;
    free(o);
    return rc;
}

uint64_t prof_trace_dropped(const prof_trace *t)
{
    return atomic_load(&t->dropped_total);
}
