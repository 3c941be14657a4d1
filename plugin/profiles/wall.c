/* /debug/pprof/wall: see profiles/wall.h. */
#include "profiles/wall.h"

#include "http/conn.h"
#include "http/query.h"
#include "profiles/flight.h"

#include "pf_maps.h"

#include <stdio.h>
#include <stdlib.h>

#define WALL_DEFAULT_SECONDS 30

static void add_comments(const prof_wall_result *r)
{
    char text[512];
    const prof_wall_counts *c = &r->counts;
    snprintf(text, sizeof text, "wall sampler: %d Hz asked, %llu ticks, mean interval %.2f ms",
             r->hz, (unsigned long long)c->ticks, r->interval_ns / 1e6);
    pf_profile_add_comment(r->profile, text);
    snprintf(text, sizeof text, "wall signals: %llu sent (signal %d) to threads that ran and "
             "moved; %llu thread-ticks idle (CPU clock unchanged, last stack counted, no "
             "signal); %llu same call site (ran, but blocked where its stack was taken, no "
             "signal); %llu never signalled (the profiler's HTTP threads, threads that block "
             "the signal); %llu unanswered", (unsigned long long)c->signals, r->signal,
             (unsigned long long)c->idle, (unsigned long long)c->same_site,
             (unsigned long long)c->unsignalled, (unsigned long long)c->unanswered);
    pf_profile_add_comment(r->profile, text);
}

static int add_maps(pf_profile *p, char *err, size_t errlen)
{
    pf_err perr = {0};
    pf_maps *maps = pf_maps_read_self(0, &perr);
    if (maps == NULL || pf_profile_add_maps(p, maps) != PF_OK) {
        snprintf(err, errlen, "cannot read this process's mappings: %s", perr.msg);
        pf_maps_free(maps);
        return -1;
    }
    pf_maps_free(maps);
    return 0;
}

int prof_wall_finish(const prof_wall_result *r, char *err, size_t errlen)
{
    if (add_maps(r->profile, err, errlen) != 0)
        return -1;
    add_comments(r);
    pf_profile_set_time(r->profile, r->started_ns, (int64_t)(r->seconds * 1e9));
    return 0;
}

/* Encodes p (finished) and answers with it. */
static void send_wall(prof_request *req, pf_profile *p, const char *headers)
{
    const prof_wall_endpoint *ep = req->ctx;
    uint8_t *data = NULL;
    size_t len = 0;
    pf_err perr = {0};
    if (pf_profile_encode(p, ep->sym, PF_WRITE_GZIP, &data, &len, &perr) != PF_OK)
        prof_http_error(req->conn, 500, "could not encode the wall profile: %s", perr.msg);
    else
        prof_http_send(req->conn, 200, "application/octet-stream", headers, data, len);
    free(data);
}

/* ?past=N: the flight recorder's wall buckets (p freed). */
static void answer_past(prof_request *req, pf_profile *p, const prof_flight_span *span,
                        const char *hdr)
{
    char err[512], headers[256];
    if (add_maps(p, err, sizeof err) != 0) {
        prof_http_error(req->conn, 500, "could not finish the wall profile: %s", err);
        pf_profile_free(p);
        return;
    }
    prof_flight_describe(span, err, sizeof err);
    pf_profile_add_comment(p, err);
    pf_profile_set_default_type(p, "wall");
    pf_profile_set_time(p, span->from_ns, span->until_ns - span->from_ns);
    snprintf(headers, sizeof headers, "Content-Disposition: attachment; filename=\"wall\"\r\n"
             "%s", hdr);
    send_wall(req, p, headers);
    pf_profile_free(p);
}

static void answer(prof_request *req, prof_wall_result *r)
{
    char err[512];
    if (prof_wall_finish(r, err, sizeof err) != 0) {
        prof_http_error(req->conn, 500, "could not finish the wall profile: %s", err);
    } else {
        char headers[256];
        snprintf(headers, sizeof headers,
                 "Content-Disposition: attachment; filename=\"wall\"\r\n"
                 "X-Takhin-Wall: hz=%d ticks=%llu signals=%llu idle=%llu\r\n", r->hz,
                 (unsigned long long)r->counts.ticks, (unsigned long long)r->counts.signals,
                 (unsigned long long)r->counts.idle);
        send_wall(req, r->profile, headers);
    }
}

void prof_wall_handle(prof_request *req)
{
    const prof_wall_endpoint *ep = req->ctx;
    const prof_settings *s = req->settings;
    long seconds;
    char err[512];
    if (prof_flight_serve(req, ep->flight, PROF_FLIGHT_WALL, answer_past))
        return;
    if (prof_query_seconds(req->info->query_string, WALL_DEFAULT_SECONDS, s->max_duration,
                           &seconds, err, sizeof err) != 0) {
        prof_http_error(req->conn, 400, "%s", err);
        return;
    }
    prof_wall_reader *reader = NULL;
    int status = prof_wall_claim(ep->wall, seconds, s->wall_hz, s->max_wall_readers, true,
                                 &reader, err, sizeof err);
    if (status != 0) {
        prof_http_error(req->conn, status, "%s", err);
        return;
    }
    prof_wait_end how = prof_conn_wait(req, (double)seconds);
    prof_wall_result r;
    prof_wall_release(ep->wall, reader, true, &r);
    if (how == PROF_WAIT_DONE)
        answer(req, &r);
    else if (how == PROF_WAIT_STOPPING)
        prof_http_error(req->conn, 503, "wall profile aborted: the profiler was disabled "
                        "while it ran (profiler disable or config reload)");
    pf_profile_free(r.profile);
}

struct prof_wall_window {
    prof_wall *wall;
    prof_wall_reader *reader;
};

prof_wall_window *prof_wall_window_open(prof_wall *w, int hz, char *err, size_t errlen)
{
    prof_wall_window *ww = calloc(1, sizeof *ww);
    if (ww == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    ww->wall = w;
    if (prof_wall_claim(w, 0, hz, 0, false, &ww->reader, err, errlen) != 0) {
        free(ww);
        return NULL;
    }
    return ww;
}

pf_profile *prof_wall_window_next(prof_wall_window *ww, int64_t *from_ns, int64_t *until_ns,
                                  char *err, size_t errlen)
{
    prof_wall_result r;
    if (prof_wall_next(ww->wall, ww->reader, &r) != 0) {
        snprintf(err, errlen, "out of memory for a wall window");
        return NULL;
    }
    if (prof_wall_finish(&r, err, errlen) != 0) {
        pf_profile_free(r.profile);
        return NULL;
    }
    *from_ns = r.started_ns;
    *until_ns = r.started_ns + (int64_t)(r.seconds * 1e9);
    return r.profile;
}

void prof_wall_window_close(prof_wall_window *ww)
{
    if (ww == NULL)
        return;
    prof_wall_result r;
    prof_wall_release(ww->wall, ww->reader, false, &r);
    pf_profile_free(r.profile);
    free(ww);
}

void prof_wall_render_metrics(prof_wall *w, pf_strbuf *out)
{
    if (w == NULL)
        return;
    prof_wall_counts c;
    prof_wall_totals(w, &c);
    pf_strbuf_printf(out,
        "# HELP takhin_profiler_wall_ticks_total Ticks of the wall-clock sampler.\n"
        "# TYPE takhin_profiler_wall_ticks_total counter\n"
        "takhin_profiler_wall_ticks_total %llu\n"
        "# HELP takhin_profiler_wall_thread_ticks_total Threads looked at by the wall sampler, "
        "by how: signalled (ran and moved: its stack taken with a signal), idle (CPU clock "
        "unchanged), same_site (ran, blocked again where its stack was taken), unsignalled "
        "(never signalled: HTTP threads, threads that block the signal).\n"
        "# TYPE takhin_profiler_wall_thread_ticks_total counter\n"
        "takhin_profiler_wall_thread_ticks_total{how=\"signalled\"} %llu\n"
        "takhin_profiler_wall_thread_ticks_total{how=\"idle\"} %llu\n"
        "takhin_profiler_wall_thread_ticks_total{how=\"same_site\"} %llu\n"
        "takhin_profiler_wall_thread_ticks_total{how=\"unsignalled\"} %llu\n"
        "# HELP takhin_profiler_wall_readers Wall profiles running now.\n"
        "# TYPE takhin_profiler_wall_readers gauge\n"
        "takhin_profiler_wall_readers %d\n"
        "# HELP takhin_profiler_wall_unanswered_total Wall signals not answered in time.\n"
        "# TYPE takhin_profiler_wall_unanswered_total counter\n"
        "takhin_profiler_wall_unanswered_total %llu\n",
        (unsigned long long)c.ticks, (unsigned long long)c.signals,
        (unsigned long long)c.idle, (unsigned long long)c.same_site,
        (unsigned long long)c.unsignalled, prof_wall_readers(w),
        (unsigned long long)c.unanswered);
}
