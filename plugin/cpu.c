/* /debug/pprof/profile: see cpu.h. */
#include "cpu.h"

#include "conn.h"
#include "convert.h"
#include "query.h"

#include <gperftools/profiler.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define CPU_DEFAULT_SECONDS 30

struct prof_cpu {
    char dir[256];        /* private, mode 0700 */
    pthread_mutex_t lock; /* guards the fields below */
    bool busy;
    struct timespec ends; /* CLOCK_MONOTONIC, when busy */
};

prof_cpu *prof_cpu_new(char *err, size_t errlen)
{
    prof_cpu *cpu = calloc(1, sizeof *cpu);
    if (cpu == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(cpu->dir, sizeof cpu->dir, "%s/takhin-profiler-XXXXXX",
             tmp && tmp[0] ? tmp : "/tmp");
    if (mkdtemp(cpu->dir) == NULL) { /* mkdtemp makes it 0700 */
        snprintf(err, errlen, "cannot create a private directory for CPU profiles in %s: %m "
                 "(set TMPDIR to a writable directory)", tmp && tmp[0] ? tmp : "/tmp");
        free(cpu);
        return NULL;
    }
    pthread_mutex_init(&cpu->lock, NULL);
    return cpu;
}

void prof_cpu_free(prof_cpu *cpu)
{
    if (cpu == NULL)
        return;
    rmdir(cpu->dir);
    pthread_mutex_destroy(&cpu->lock);
    free(cpu);
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double process_cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Takes the one CPU-profile slot, or says when the running one ends. */
static bool claim(prof_cpu *cpu, long seconds, long *ends_in)
{
    pthread_mutex_lock(&cpu->lock);
    bool free_slot = !cpu->busy;
    if (free_slot) {
        cpu->busy = true;
        clock_gettime(CLOCK_MONOTONIC, &cpu->ends);
        cpu->ends.tv_sec += seconds;
    } else {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        *ends_in = (long)(cpu->ends.tv_sec - now.tv_sec) + 1;
    }
    pthread_mutex_unlock(&cpu->lock);
    return free_slot;
}

static void release(prof_cpu *cpu)
{
    pthread_mutex_lock(&cpu->lock);
    cpu->busy = false;
    pthread_mutex_unlock(&cpu->lock);
}

/* gperftools arms ITIMER_PROF at its own frequency (read once, from
 * CPUPROFILE_FREQUENCY); re-arming it sets the rate we were asked for. */
static void set_rate(int hz)
{
    long us = 1000000L / hz;
    struct itimerval it = {{us / 1000000, us % 1000000}, {us / 1000000, us % 1000000}};
    setitimer(ITIMER_PROF, &it, NULL);
}

typedef enum run_end { RUN_DONE, RUN_STOPPING, RUN_CLIENT_GONE, RUN_START_FAILED } run_end;

/* Runs gperftools into `path` for up to `seconds`; fills the CPU time the
 * process used meanwhile. */
static run_end run_profile(prof_request *req, const char *path, long seconds, int hz,
                           prof_cpu_run *run)
{
    run->cpu_seconds = process_cpu_seconds();
    run->wall_seconds = mono_now();
    clock_gettime(CLOCK_REALTIME, &run->started);
    if (!ProfilerStart(path))
        return RUN_START_FAILED;
    set_rate(hz);
    prof_wait_end waited = prof_conn_wait(req, (double)seconds);
    ProfilerStop();
    run->cpu_seconds = process_cpu_seconds() - run->cpu_seconds;
    run->wall_seconds = mono_now() - run->wall_seconds;
    run->requested_hz = hz;
    return waited == PROF_WAIT_DONE ? RUN_DONE
         : waited == PROF_WAIT_STOPPING ? RUN_STOPPING : RUN_CLIENT_GONE;
}

static void send_profile(prof_request *req, const char *path, const prof_cpu_run *run)
{
    profiler *p = req->ctx;
    prof_blob out = {0};
    char err[512];
    if (prof_convert_cpu(path, run, p->sym, &out, err, sizeof err) != 0) {
        prof_http_error(req->conn, 500, "could not convert the CPU profile: %s", err);
        return;
    }
    char headers[256];
    snprintf(headers, sizeof headers,
             "Content-Disposition: attachment; filename=\"profile\"\r\n"
             "X-Takhin-Cpu-Hz: requested=%d achieved=%.1f\r\n",
             run->requested_hz, out.achieved_hz);
    prof_http_send(req->conn, 200, "application/octet-stream", headers, out.data, out.len);
    /* Ten samples' worth of CPU time at least, or the rate says nothing. */
    if (out.achieved_hz < 0.9 * run->requested_hz && run->cpu_seconds * run->requested_hz >= 10)
        prof_log(&p->ph, TK_LOG_INFO, "CPU profile: asked for %d Hz, the kernel delivered "
                 "%.1f Hz over %.2f s of CPU time (ITIMER_PROF is checked at the kernel "
                 "tick: it is bounded by the tick rate, and CPU spent in bursts shorter "
                 "than a tick between sleeps is undersampled)",
                 run->requested_hz, out.achieved_hz, run->cpu_seconds);
    free(out.data);
}

static int make_temp(prof_cpu *cpu, char *path, size_t len)
{
    snprintf(path, len, "%s/cpu-XXXXXX", cpu->dir);
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

/* Profiles while holding the slot; answers every outcome. */
static void profile_and_answer(prof_request *req, prof_cpu *cpu, long seconds, int hz)
{
    char path[300];
    if (make_temp(cpu, path, sizeof path) != 0) {
        prof_http_error(req->conn, 500, "cannot create a temp file in %s: %m", cpu->dir);
        return;
    }
    prof_cpu_run run = {0};
    run_end how = run_profile(req, path, seconds, hz, &run);
    if (how == RUN_START_FAILED)
        prof_http_error(req->conn, 409, "Could not enable CPU profiling: gperftools' CPU "
                        "profiler is already in use in this process (is CPUPROFILE set in "
                        "the host's environment?)");
    else if (how == RUN_STOPPING)
        prof_http_error(req->conn, 503, "CPU profile aborted: the profiler was disabled "
                        "while it ran (profiler disable or config reload)");
    else if (how == RUN_DONE)
        send_profile(req, path, &run);
    /* RUN_CLIENT_GONE: nobody to answer. */
    unlink(path);
}

void prof_cpu_handle(prof_request *req)
{
    profiler *p = req->ctx;
    const prof_settings *s = req->settings;
    long seconds, ends_in = 0;
    char err[256];
    if (prof_query_seconds(req->info->query_string, CPU_DEFAULT_SECONDS, s->max_duration,
                           &seconds, err, sizeof err) != 0) {
        prof_http_error(req->conn, 400, "%s", err);
        return;
    }
    if (!claim(p->cpu, seconds, &ends_in)) {
        prof_http_error(req->conn, 409, "Could not enable CPU profiling: a CPU profile is "
                        "already running; it ends in about %ld s, retry then", ends_in);
        return;
    }
    profile_and_answer(req, p->cpu, seconds, s->cpu_hz);
    release(p->cpu);
}
