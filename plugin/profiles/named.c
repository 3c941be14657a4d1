/* Named profiles under Go's query contract: see named.h. */
#include "profiles/named.h"

#include "http/conn.h"
#include "http/query.h"
#include "capture/unwinder.h"

#include <dlfcn.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The request's parameters, checked as Go checks them. */
typedef struct named_query {
    long debug;
    long seconds; /* 0: not a delta */
} named_query;

static int parse_query(const prof_request *req, const prof_kind *kind, named_query *q,
                       char *err, size_t errlen)
{
    const char *query = req->info->query_string;
    char ignored[32];
    if (prof_query_debug(query, &q->debug, err, errlen) != 0)
        return -1;
    q->seconds = 0;
    if (prof_query_get(query, "seconds", ignored, sizeof ignored) == 0)
        return 0;
    if (!kind->delta) {
        snprintf(err, errlen, "\"seconds\" parameter is not supported for this profile type");
        return -1;
    }
    if (q->debug != 0) {
        snprintf(err, errlen, "seconds and debug params are incompatible");
        return -1;
    }
    long max = req->settings->max_duration;
    return prof_query_seconds(query, 0, max, &q->seconds, err, errlen);
}

/* Collects into *out; on failure answers the request and returns -1. */
static int collect(prof_request *req, const prof_named *named, prof_records *out)
{
    const prof_kind *kind = named->kind;
    char err[512] = "";
    prof_records_init(out, kind->nvalues);
    int status = kind->collect(named->source, out, err, sizeof err);
    if (status == 0)
        return 0;
    prof_records_free(out);
    prof_http_error(req->conn, status, "%s", err[0] ? err : "could not collect the profile");
    return -1;
}

/* p1 - p0 over q->seconds; on failure answers (or not, if the client
 * left) and returns -1. */
static int collect_delta(prof_request *req, const prof_named *named, long seconds,
                         prof_records *out)
{
    prof_records before;
    if (collect(req, named, &before) != 0)
        return -1;
    prof_wait_end waited = prof_conn_wait(req, (double)seconds);
    if (waited == PROF_WAIT_STOPPING)
        prof_http_error(req->conn, 503, "%s profile aborted: the profiler was disabled while "
                        "it ran (profiler disable or config reload)", named->kind->name);
    if (waited != PROF_WAIT_DONE || collect(req, named, out) != 0) {
        prof_records_free(&before);
        return -1;
    }
    int rc = prof_records_subtract(out, &before);
    prof_records_free(&before);
    if (rc != 0) {
        prof_records_free(out);
        prof_http_error(req->conn, 500, "out of memory computing the delta profile");
    }
    return rc;
}

static void send_text(prof_request *req, const prof_named *named, const prof_records *recs,
                      long debug)
{
    const prof_kind *kind = named->kind;
    pf_strbuf out = {0};
    char err[512] = "";
    int status = kind->text(named->source, named->sym, recs, (int)debug, &out, err, sizeof err);
    if (status != 0)
        prof_http_error(req->conn, status, "%s", err);
    else if (out.failed)
        prof_http_error(req->conn, 500, "out of memory writing the %s profile", kind->name);
    else
        prof_http_send(req->conn, 200, "text/plain; charset=utf-8", NULL, out.s, out.len);
    free(out.s);
}

static void send_proto(prof_request *req, const prof_named *named, const prof_records *recs,
                       long seconds)
{
    const prof_kind *kind = named->kind;
    char err[512];
    pf_profile *prof = prof_named_profile(kind, named->source, recs, seconds * 1000000000LL,
                                          err, sizeof err);
    if (prof == NULL) {
        prof_http_error(req->conn, 500, "could not build the %s profile: %s", kind->name, err);
        return;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    pf_err perr = {0};
    if (pf_profile_encode(prof, named->sym, PF_WRITE_GZIP, &data, &len, &perr) != PF_OK) {
        prof_http_error(req->conn, 500, "could not encode the %s profile: %s", kind->name,
                        perr.msg);
    } else {
        char headers[160];
        snprintf(headers, sizeof headers, "Content-Disposition: attachment; "
                 "filename=\"%s%s\"\r\n", kind->name, seconds ? "-delta" : "");
        prof_http_send(req->conn, 200, "application/octet-stream", headers, data, len);
    }
    free(data);
    pf_profile_free(prof);
}

void prof_named_handle(prof_request *req)
{
    const prof_named *named = req->ctx;
    named_query q;
    char err[512];
    if (parse_query(req, named->kind, &q, err, sizeof err) != 0) {
        prof_http_error(req->conn, 400, "%s", err);
        return;
    }
    prof_records recs;
    int rc = q.seconds ? collect_delta(req, named, q.seconds, &recs)
                       : collect(req, named, &recs);
    if (rc != 0)
        return;
    if (q.debug > 0)
        send_text(req, named, &recs, q.debug);
    else
        send_proto(req, named, &recs, q.seconds);
    prof_records_free(&recs);
}

long prof_named_count(void *ctx)
{
    const prof_named *named = ctx;
    return named->kind->count ? named->kind->count(named->source) : -1;
}

/* ---- records to profile.proto ---- */

static int set_header(pf_profile *p, const prof_kind *kind, void *source, int64_t duration_ns,
                      pf_err *perr)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    pf_profile_set_time(p, (int64_t)now.tv_sec * 1000000000 + now.tv_nsec - duration_ns,
                        duration_ns);
    pf_profile_set_pc_mode(p, kind->pc_mode);
    if (kind->default_type && pf_profile_set_default_type(p, kind->default_type) != PF_OK)
        return -1;
    if (kind->period_type.type != NULL &&
        pf_profile_set_period(p, kind->period_type.type, kind->period_type.unit,
                              kind->period ? kind->period(source) : 1) != PF_OK)
        return -1;
    pf_maps *maps = pf_maps_read_self(PF_MAPS_EXEC_ONLY, perr);
    int rc = maps != NULL && pf_profile_add_maps(p, maps) == PF_OK ? 0 : -1;
    pf_maps_free(maps);
    return rc;
}

static int add_records(pf_profile *p, const prof_records *recs, pf_err *perr)
{
    for (size_t i = 0; i < recs->len; i++) {
        const prof_record *r = &recs->rec[i];
        pf_label labels[PROF_RECORD_MAX_LABELS];
        size_t n = prof_record_labels(r, r->ctx, labels);
        if (pf_profile_add_sample(p, r->pcs, r->depth, r->values, labels, n, perr) != PF_OK)
            return -1;
    }
    return 0;
}

pf_profile *prof_named_profile(const prof_kind *kind, void *source, const prof_records *recs,
                               int64_t duration_ns, char *err, size_t errlen)
{
    pf_err perr = {0};
    pf_profile *p = pf_profile_new(kind->types, kind->nvalues, &perr);
    if (p == NULL || set_header(p, kind, source, duration_ns, &perr) != 0 ||
        add_records(p, recs, &perr) != 0) {
        snprintf(err, errlen, "%s", perr.msg[0] ? perr.msg : "out of memory");
        pf_profile_free(p);
        return NULL;
    }
    return p;
}

/* ---- Go's legacy text ---- */

/* An address no symbol covers: "module+0xOFFSET", or "?". */
static void unknown_frame(uintptr_t addr, char *buf, size_t len)
{
    Dl_info info;
    if (dladdr((void *)addr, &info) == 0 || info.dli_fname == NULL) {
        snprintf(buf, len, "?");
        return;
    }
    const char *base = strrchr(info.dli_fname, '/');
    snprintf(buf, len, "%s+%#lx", base ? base + 1 : info.dli_fname,
             (unsigned long)(addr - (uintptr_t)info.dli_fbase));
}

/* One frame line in `style`; off is the offset from the function's
 * entry, or -1 when unknown. */
static void frame_line(pf_strbuf *out, prof_text_style style, uintptr_t addr, const char *function,
                       const char *file, long long line, long off)
{
    if (style == PROF_TEXT_DEBUG1) {
        pf_strbuf_printf(out, "#\t%#lx\t%s", (unsigned long)addr, function);
        if (off >= 0)
            pf_strbuf_printf(out, "+%#lx", (unsigned long)off);
        pf_strbuf_printf(out, "\t%s:%lld\n", file, line);
    } else {
        pf_strbuf_printf(out, "%s\n\t%s:%lld", function, file, line);
        if (off >= 0)
            pf_strbuf_printf(out, " +%#lx", (unsigned long)off);
        pf_strbuf_printf(out, "\n");
    }
}

void prof_named_text_frames(pf_strbuf *out, pf_symbolizer *sym, const uintptr_t *pcs,
                            size_t depth, pf_pc_mode mode, prof_text_style style)
{
    for (size_t i = 0; i < depth; i++) {
        bool exact = i == 0 && mode == PF_PCS_LEAF_EXACT;
        uintptr_t addr = exact ? pcs[i] : pcs[i] - 1; /* a return address: the call */
        uintptr_t entry = prof_unwind_func_start(addr);
        long off = entry != 0 ? (long)(addr - entry) : -1; /* inlined frames too, as Go */
        pf_symbol s;
        if (sym == NULL || !pf_symbolize(sym, addr, &s)) {
            char where[160];
            unknown_frame(addr, where, sizeof where);
            if (style == PROF_TEXT_DEBUG1)
                pf_strbuf_printf(out, "#\t%#lx\t?\t%s\n", (unsigned long)addr, where);
            else
                pf_strbuf_printf(out, "?\n\t%s pc=%#lx\n", where, (unsigned long)addr);
            continue;
        }
        for (size_t k = 0; k < s.nframes; k++) {
            const pf_sym_frame *f = &s.frame[k];
            frame_line(out, style, addr, f->function ? f->function : "?", f->file ? f->file : "?",
                       (long long)f->line, off);
        }
    }
}
