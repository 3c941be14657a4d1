/* /debug/pprof/buildid/: see buildid.h. */
#include "profiles/buildid.h"

#include "pf_dwarf.h"
#include "pf_maps.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_ID_HEX 80

/* "<hex id>/executable" or "<hex id>/debuginfo" into id and *debuginfo. */
static bool parse(const char *rest, char *id, bool *debuginfo)
{
    size_t n = strspn(rest, "0123456789abcdef");
    if (n < 2 || n > MAX_ID_HEX || rest[n] != '/')
        return false;
    memcpy(id, rest, n);
    id[n] = '\0';
    *debuginfo = strcmp(rest + n + 1, "debuginfo") == 0;
    return *debuginfo || strcmp(rest + n + 1, "executable") == 0;
}

/* The file of mapping m, opened only if its build ID is id: the path, or
 * the mapping itself (/proc/self/map_files: needs CAP_SYS_ADMIN or
 * CAP_CHECKPOINT_RESTORE) when the file was replaced. fd or -1. */
static int open_mapped(const pf_mapping *m, const char *id)
{
    char maps_path[80];
    snprintf(maps_path, sizeof maps_path, "/proc/self/map_files/%" PRIx64 "-%" PRIx64,
             m->start, m->limit);
    const char *try[2] = {m->deleted ? NULL : m->path, maps_path};
    for (int i = 0; i < 2; i++) {
        char have[81] = "";
        int fd = try[i] != NULL ? open(try[i], O_RDONLY | O_CLOEXEC) : -1;
        if (fd >= 0 && pf_dw_elf_build_id(fd, have, sizeof have) == 0 && strcmp(have, id) == 0)
            return fd;
        if (fd >= 0)
            close(fd);
    }
    return -1;
}

static void send_file(struct mg_connection *conn, int fd)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        prof_http_error(conn, 500, "cannot read the file");
        return;
    }
    mg_printf(conn,
              "HTTP/1.1 200 OK\r\n"
              "Content-Type: application/octet-stream\r\n"
              "Content-Length: %lld\r\n"
              "X-Content-Type-Options: nosniff\r\n"
              "Cache-Control: no-store\r\n"
              "Connection: close\r\n\r\n",
              (long long)st.st_size);
    char buf[65536];
    size_t sent = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0 && mg_write(conn, buf, (size_t)n) == n)
        sent += (size_t)n;
    prof_http_record(conn, 200, sent);
}

/* The file to serve for id: the mapped object, or its debug file. */
static int open_for(const prof_settings *s, const pf_mapping *m, const char *id,
                    bool debuginfo)
{
    int fd = open_mapped(m, id);
    if (!debuginfo || fd < 0)
        return fd;
    pf_dw *d = pf_dw_new(s->debug_dirs);
    char *found = NULL;
    bool self = false;
    int dfd = d != NULL ? pf_dw_open_debug_of(d, fd, m->path, id, &found, &self) : -1;
    free(found);
    pf_dw_free(d);
    if (dfd >= 0 || !self) {
        close(fd);
        return dfd;
    }
    return fd; /* the object carries its own DWARF */
}

void prof_buildid_handle(prof_request *req)
{
    const char *uri = req->info->local_uri;
    const char *rest = strstr(uri, PROF_BUILDID_NAME);
    char id[MAX_ID_HEX + 1];
    bool debuginfo = false;
    if (!req->settings->serve_binaries) {
        prof_http_error(req->conn, 404, "not served: profiler.serve_binaries is off");
        return;
    }
    if (rest == NULL || !parse(rest + strlen(PROF_BUILDID_NAME), id, &debuginfo)) {
        prof_http_error(req->conn, 404, "expected /debug/pprof/buildid/<build ID, lowercase "
                        "hex>/executable or /debuginfo");
        return;
    }
    pf_err err = {0};
    pf_maps *maps = pf_maps_read_self(0, &err);
    const pf_mapping *m = NULL;
    for (size_t i = 0; maps != NULL && i < maps->len && m == NULL; i++) {
        if (maps->map[i].path[0] == '/' && strcmp(maps->map[i].build_id, id) == 0)
            m = &maps->map[i];
    }
    int fd = m != NULL ? open_for(req->settings, m, id, debuginfo) : -1;
    if (maps == NULL)
        prof_http_error(req->conn, 500, "cannot read /proc/self/maps: %s", err.msg);
    else if (m == NULL)
        prof_http_error(req->conn, 404, "build ID %s is not mapped in this process", id);
    else if (fd < 0)
        prof_http_error(req->conn, 404, "no %s here for build ID %s", debuginfo ?
                        "debug file" : "readable file with that build ID", id);
    else
        send_file(req->conn, fd);
    if (fd >= 0)
        close(fd);
    pf_maps_free(maps);
}
