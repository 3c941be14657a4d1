/*
 * debuginfod.c - debug files by build ID from debuginfod servers
 * (DEBUGINFOD_URLS) through elfutils' libdebuginfod, loaded at its first
 * use like libcurl (transport/curl_load.c): takhin-profiler starts without
 * it, and a machine without it still symbolizes from local files. The
 * client keeps its own cache (DEBUGINFOD_CACHE_PATH, by default
 * ~/.cache/debuginfod_client), misses included.
 */
#include "input/cli_prof.h"
#include "util/cli.h"

#include <dlfcn.h>
#include <elfutils/debuginfod.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEBUGINFOD_SONAME "libdebuginfod.so.1"

static struct {
    __typeof__(debuginfod_begin) *begin;
    __typeof__(debuginfod_end) *end;
    __typeof__(debuginfod_find_debuginfo) *find_debuginfo;
    __typeof__(debuginfod_set_progressfn) *set_progressfn;
    __typeof__(debuginfod_set_user_data) *set_user_data;
    __typeof__(debuginfod_get_user_data) *get_user_data;
} api;
static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static char load_error[300];

static void load(void)
{
    static const char *const names[] = {"debuginfod_begin", "debuginfod_end",
                                        "debuginfod_find_debuginfo",
                                        "debuginfod_set_progressfn",
                                        "debuginfod_set_user_data",
                                        "debuginfod_get_user_data"};
    void *f[6];
    void *lib = dlopen(DEBUGINFOD_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        snprintf(load_error, sizeof load_error, "cannot load %s (Debian: apt-get install "
                 "libdebuginfod1): %s", DEBUGINFOD_SONAME, dlerror());
        return;
    }
    for (size_t i = 0; i < 6; i++) {
        if ((f[i] = dlsym(lib, names[i])) == NULL) {
            snprintf(load_error, sizeof load_error, "%s has no %s: too old", DEBUGINFOD_SONAME,
                     names[i]);
            dlclose(lib);
            return;
        }
    }
    memcpy(&api.begin, &f[0], sizeof f[0]); /* POSIX: function pointers fit */
    memcpy(&api.end, &f[1], sizeof f[1]);
    memcpy(&api.find_debuginfo, &f[2], sizeof f[2]);
    memcpy(&api.set_progressfn, &f[3], sizeof f[3]);
    memcpy(&api.set_user_data, &f[4], sizeof f[4]);
    memcpy(&api.get_user_data, &f[5], sizeof f[5]);
}

/* libdebuginfod 0.188 leaves a server that takes the connection and never
 * answers to curl's low-speed check, which does not end it (seen: still
 * waiting after 30 s with DEBUGINFOD_TIMEOUT=1). The progress callback
 * ends it instead: no answer (no size known) within the timeout, or no
 * byte for the timeout once the download runs. */
#define DEFAULT_TIMEOUT_S 90 /* libdebuginfod's own default */

typedef struct progress {
    const char *id, *file;
    bool shown, quiet, gave_up;
    double timeout, started, last_change;
    long last_done;
} progress;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int on_progress(debuginfod_client *c, long done, long total)
{
    progress *pr = api.get_user_data(c);
    if (pr == NULL)
        return 0;
    double now = now_s();
    if (total > 0 && done != pr->last_done) {
        pr->last_done = done;
        pr->last_change = now;
    }
    if (now - (total > 0 ? pr->last_change : pr->started) > pr->timeout) {
        pr->gave_up = true;
        return 1;
    }
    if (pr->quiet || total <= 0 || !isatty(STDERR_FILENO))
        return 0;
    fprintf(stderr, "\rtakhin-profiler: debuginfod: %s (%s): %ld of %ld bytes ", pr->id,
            pr->file, done, total);
    pr->shown = true;
    return 0;
}

static double timeout_s(void)
{
    const char *t = getenv("DEBUGINFOD_TIMEOUT");
    long v = t != NULL ? strtol(t, NULL, 10) : 0;
    return v > 0 ? (double)v : DEFAULT_TIMEOUT_S;
}

static const char *base_name(const char *path)
{
    const char *s = path != NULL ? strrchr(path, '/') : NULL;
    return s != NULL ? s + 1 : path != NULL ? path : "?";
}

int cli_debuginfod_fetch(const char *build_id, const char *file, char **path, bool quiet)
{
    pthread_once(&load_once, load);
    const char *urls = getenv("DEBUGINFOD_URLS");
    if (urls == NULL || urls[0] == '\0') {
        cli_note("no debug info for build ID %s (%s): not in the debug directories, and "
                 "DEBUGINFOD_URLS is not set", build_id, base_name(file));
        return -1;
    }
    if (api.begin == NULL) {
        cli_note("no debug info for build ID %s (%s) from debuginfod: %s", build_id,
                 base_name(file), load_error);
        return -1;
    }
    debuginfod_client *c = api.begin();
    if (c == NULL) {
        cli_note("debuginfod: cannot start its client (out of memory?)");
        return -1;
    }
    double now = now_s();
    progress pr = {build_id, base_name(file), false, quiet, false, timeout_s(), now, now, -1};
    api.set_user_data(c, &pr);
    api.set_progressfn(c, on_progress);
    int fd = api.find_debuginfo(c, (const unsigned char *)build_id, 0, path);
    api.end(c);
    if (pr.shown)
        fputc('\n', stderr);
    if (fd >= 0) {
        if (!quiet)
            cli_note("debug info for build ID %s (%s) from debuginfod", build_id, pr.file);
        return fd;
    }
    if (pr.gave_up)
        cli_note("no debug info for build ID %s (%s) from debuginfod (%s): no answer for %gs "
                 "(DEBUGINFOD_TIMEOUT)", build_id, pr.file, urls, pr.timeout);
    else
        cli_note("no debug info for build ID %s (%s) from debuginfod (%s): %s", build_id,
                 pr.file, urls, fd == -ENOENT ? "not found" : strerror(-fd));
    *path = NULL;
    return -1;
}
