/* /debug/pprof/profile: see profiles/cpu.h. */
#include "profiles/cpu.h"

#include "capture/convert.h"
#include "http/conn.h"
#include "http/query.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define CPU_DEFAULT_SECONDS 30

typedef enum run_end { RUN_DONE, RUN_STOPPING, RUN_CLIENT_GONE, RUN_START_FAILED } run_end;

/* Waits out the profile; fills the CPU time the process used meanwhile. */
static run_end run_wait(prof_request *req, long seconds, prof_cpu_run *run)
{
    prof_wait_end waited = prof_conn_wait(req, (double)seconds);
    prof_cpu_run_end(run);
    return waited == PROF_WAIT_DONE ? RUN_DONE
         : waited == PROF_WAIT_STOPPING ? RUN_STOPPING : RUN_CLIENT_GONE;
}

/* Runs gperftools into `path` for up to `seconds`. */
static run_end run_gperftools(prof_request *req, const char *path, long seconds,
                              prof_cpu_run *run)
{
    prof_cpu_run_begin(run, run->requested_hz);
    if (!prof_cpu_gperftools_start(path, run->requested_hz))
        return RUN_START_FAILED;
    run_end how = run_wait(req, seconds, run);
    prof_cpu_gperftools_stop();
    return how;
}

/* Answers with an encoded profile, and says so when the rate fell short. */
static void send_profile(prof_request *req, const prof_blob *out, const prof_cpu_run *run,
                         const char *sampler, const char *extra)
{
    const prof_cpu_endpoint *ep = req->ctx;
    /* gperftools' samples are its signals; the plugin's weigh its signals. */
    double signals_hz = run->signals_hz > 0 ? run->signals_hz : out->achieved_hz;
    char headers[384];
    snprintf(headers, sizeof headers,
             "Content-Disposition: attachment; filename=\"profile\"\r\n"
             "X-Takhin-Cpu-Hz: requested=%d achieved=%.1f signals=%.1f sampler=%s\r\n%s",
             run->requested_hz, out->achieved_hz, signals_hz, sampler, extra);
    prof_http_send(req->conn, 200, "application/octet-stream", headers, out->data, out->len);
    prof_cpu_note_achieved(ep->cpu, signals_hz);
    /* Ten samples' worth of CPU time at least, or the rate says nothing. */
    if (signals_hz < 0.9 * run->requested_hz && run->cpu_seconds * run->requested_hz >= 10)
        prof_log(ep->ph, TK_LOG_INFO, "CPU profile: asked for %d Hz, the %s sampler delivered "
                 "%.1f signals per second of the %.2f s of CPU time (%s)", run->requested_hz,
                 sampler, signals_hz, run->cpu_seconds, run->sampler);
}

static void answer_failure(prof_request *req, run_end how)
{
    if (how == RUN_START_FAILED)
        prof_http_error(req->conn, 409, "Could not enable CPU profiling: gperftools' CPU "
                        "profiler is already in use in this process (is CPUPROFILE set in "
                        "the host's environment?)");
    else if (how == RUN_STOPPING)
        prof_http_error(req->conn, 503, "CPU profile aborted: the profiler was disabled "
                        "while it ran (profiler disable or config reload)");
    /* RUN_CLIENT_GONE: nobody to answer. */
}

/* Profiles with gperftools while holding the slot; answers every outcome. */
static void profile_gperftools(prof_request *req, long seconds, prof_cpu_run *run)
{
    const prof_cpu_endpoint *ep = req->ctx;
    char path[300], err[512];
    if (prof_cpu_temp_file(ep->cpu, path, sizeof path) != 0) {
        prof_http_error(req->conn, 500, "cannot create a temp file for gperftools (%s): %m",
                        path);
        return;
    }
    run_end how = run_gperftools(req, path, seconds, run);
    prof_blob out = {0};
    if (how != RUN_DONE)
        answer_failure(req, how);
    else if (prof_convert_cpu(path, run, ep->sym, &out, err, sizeof err))
        prof_http_error(req->conn, 500, "could not convert the CPU profile: %s", err);
    else
        send_profile(req, &out, run, "gperftools", "");
    free(out.data);
    unlink(path);
}

/* Profiles with the plugin's own sampler: the reader's window. */
static void profile_sampled(prof_request *req, const prof_cpu_slot *slot,
                            long seconds, prof_cpu_run *run)
{
    const prof_cpu_endpoint *ep = req->ctx;
    char err[512];
    prof_cpu_run_begin(run, slot->hz);
    run_end how = run_wait(req, seconds, run);
    prof_sampler_result r;
    if (prof_sampler_leave(slot->session, slot->reader, &r) != 0) {
        prof_http_error(req->conn, 500, "out of memory while collecting CPU samples");
        return;
    }
    prof_blob out = {0};
    run->signals_hz = run->cpu_seconds > 0 ? (double)r.signals / run->cpu_seconds : 0;
    prof_cpu_describe(&slot->choice, &r, run);
    if (how != RUN_DONE) {
        pf_profile_free(r.profile);
        answer_failure(req, how);
    } else if (prof_convert_samples(r.profile, r.samples, run, ep->sym,
                                    &out, err, sizeof err) != 0) {
        prof_http_error(req->conn, 500, "could not encode the CPU profile: %s", err);
    } else {
        send_profile(req, &out, run, prof_sampler_mode_name(slot->choice.mode), "");
    }
    free(out.data);
}

/* ?past=N: the flight recorder's buckets, encoded as any CPU profile (p freed). */
static void profile_past(prof_request *req, pf_profile *p, const prof_flight_span *span,
                         const char *hdr)
{
    const prof_cpu_endpoint *ep = req->ctx;
    prof_sampler_choice c = prof_cpu_sampler(ep->cpu);
    prof_cpu_run run = {
        .started = {span->from_ns / 1000000000, span->from_ns % 1000000000},
        .wall_seconds = (double)(span->until_ns - span->from_ns) / 1e9,
        .cpu_seconds = span->cpu_seconds,
        .requested_hz = req->settings->cpu_hz,
    };
    run.signals_hz = run.cpu_seconds > 0 ? (double)span->signals / run.cpu_seconds : 0;
    prof_flight_describe(span, run.sampler, sizeof run.sampler);
    prof_blob out = {0};
    char err[512];
    if (prof_convert_samples(p, span->samples, &run, ep->sym, &out, err, sizeof err) != 0)
        prof_http_error(req->conn, 500, "could not encode the CPU profile: %s", err);
    else
        send_profile(req, &out, &run, prof_sampler_mode_name(c.mode), hdr);
    free(out.data);
}

void prof_cpu_handle(prof_request *req)
{
    const prof_cpu_endpoint *ep = req->ctx;
    const prof_settings *s = req->settings;
    long seconds;
    char err[512];
    if (prof_flight_serve(req, ep->flight, PROF_FLIGHT_CPU, profile_past))
        return;
    if (prof_query_seconds(req->info->query_string, CPU_DEFAULT_SECONDS, s->max_duration,
                           &seconds, err, sizeof err) != 0) {
        prof_http_error(req->conn, 400, "%s", err);
        return;
    }
    prof_cpu_slot slot = {0};
    int status = prof_cpu_claim(ep->cpu, seconds, s->cpu_hz, s->max_cpu_readers, &slot, err,
                                sizeof err);
    if (status != 0) {
        prof_http_error(req->conn, status, "%s", err);
        return;
    }
    prof_cpu_run run = {.requested_hz = slot.hz};
    if (slot.reader == NULL) {
        snprintf(run.sampler, sizeof run.sampler, "cpu sampler: gperftools (process-wide "
                 "ITIMER_PROF, checked at the kernel tick: CPU spent in bursts shorter than "
                 "a tick is undersampled%s%s)", slot.choice.why[0] ? "; " : "", slot.choice.why);
        profile_gperftools(req, seconds, &run);
    } else {
        profile_sampled(req, &slot, seconds, &run);
    }
    prof_cpu_release(ep->cpu);
}

