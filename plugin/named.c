/* Named profiles under Go's query contract: see named.h. */
#include "named.h"

#include "conn.h"
#include "query.h"

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

static int parse_debug(const char *query, long *debug, char *err, size_t errlen)
{
    char text[32];
    int found = prof_query_get(query, "debug", text, sizeof text);
    *debug = 0;
    if (found == 0)
        return 0;
    char *end = NULL;
    errno = 0;
    long v = found > 0 ? strtol(text, &end, 10) : -1;
    if (found < 0 || end == text || *end != '\0' || errno != 0 || v < 0) {
        snprintf(err, errlen, "invalid value for \"debug\" - must be 0 (protobuf), 1 (text) "
                 "or 2 (goroutine: full dump)");
        return -1;
    }
    *debug = v;
    return 0;
}

static int parse_query(const prof_request *req, const prof_kind *kind, named_query *q,
                       char *err, size_t errlen)
{
    const char *query = req->info->query_string;
    char ignored[32];
    if (parse_debug(query, &q->debug, err, errlen) != 0)
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
static int collect(prof_request *req, const prof_kind *kind, prof_records *out)
{
    char err[512] = "";
    prof_records_init(out, kind->nvalues);
    int status = kind->collect(req->ctx, out, err, sizeof err);
    if (status == 0)
        return 0;
    prof_records_free(out);
    prof_http_error(req->conn, status, "%s", err[0] ? err : "could not collect the profile");
    return -1;
}

/* p1 - p0 over q->seconds; on failure answers (or not, if the client
 * left) and returns -1. */
static int collect_delta(prof_request *req, const prof_kind *kind, long seconds,
                         prof_records *out)
{
    prof_records before;
    if (collect(req, kind, &before) != 0)
        return -1;
    prof_wait_end waited = prof_conn_wait(req, (double)seconds);
    if (waited == PROF_WAIT_STOPPING)
        prof_http_error(req->conn, 503, "%s profile aborted: the profiler was disabled while "
                        "it ran (profiler disable or config reload)", kind->name);
    if (waited != PROF_WAIT_DONE || collect(req, kind, out) != 0) {
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

static void send_text(prof_request *req, const prof_kind *kind, const prof_records *recs,
                      long debug)
{
    strbuf out = {0};
    char err[512] = "";
    int status = kind->text(req->ctx, recs, (int)debug, &out, err, sizeof err);
    if (status != 0)
        prof_http_error(req->conn, status, "%s", err);
    else if (out.failed)
        prof_http_error(req->conn, 500, "out of memory writing the %s profile", kind->name);
    else
        prof_http_send(req->conn, 200, "text/plain; charset=utf-8", NULL, out.data, out.len);
    free(out.data);
}

static void send_proto(prof_request *req, const prof_kind *kind, const prof_records *recs,
                       long seconds)
{
    profiler *p = req->ctx;
    char err[512];
    pf_profile *prof = prof_named_profile(kind, req->ctx, recs, seconds * 1000000000LL,
                                          err, sizeof err);
    if (prof == NULL) {
        prof_http_error(req->conn, 500, "could not build the %s profile: %s", kind->name, err);
        return;
    }
    uint8_t *data = NULL;
    size_t len = 0;
    pf_err perr = {0};
    if (pf_profile_encode(prof, p->sym, PF_WRITE_GZIP, &data, &len, &perr) != PF_OK) {
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

void prof_named_handle(prof_request *req, const prof_kind *kind)
{
    named_query q;
    char err[512];
    if (parse_query(req, kind, &q, err, sizeof err) != 0) {
        prof_http_error(req->conn, 400, "%s", err);
        return;
    }
    prof_records recs;
    int rc = q.seconds ? collect_delta(req, kind, q.seconds, &recs) : collect(req, kind, &recs);
    if (rc != 0)
        return;
    if (q.debug > 0)
        send_text(req, kind, &recs, q.debug);
    else
        send_proto(req, kind, &recs, q.seconds);
    prof_records_free(&recs);
}

/* ---- records to profile.proto ---- */

static int set_header(pf_profile *p, const prof_kind *kind, void *ctx, int64_t duration_ns,
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
                              kind->period ? kind->period(ctx) : 1) != PF_OK)
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
        pf_label label = {.key = "thread", .str = r->thread};
        if (pf_profile_add_sample(p, r->pcs, r->depth, r->values, r->thread ? &label : NULL,
                                  r->thread ? 1 : 0, perr) != PF_OK)
            return -1;
    }
    return 0;
}

pf_profile *prof_named_profile(const prof_kind *kind, void *ctx, const prof_records *recs,
                               int64_t duration_ns, char *err, size_t errlen)
{
    pf_err perr = {0};
    pf_profile *p = pf_profile_new(kind->types, kind->nvalues, &perr);
    if (p == NULL || set_header(p, kind, ctx, duration_ns, &perr) != 0 ||
        add_records(p, recs, &perr) != 0) {
        snprintf(err, errlen, "%s", perr.msg[0] ? perr.msg : "out of memory");
        pf_profile_free(p);
        return NULL;
    }
    return p;
}
