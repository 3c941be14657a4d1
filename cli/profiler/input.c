/*
 * input.c - reading a profile file of any supported format: format
 * detection, gunzip, the legacy CPU format (through the profile core),
 * offline symbolization and pprof's frame pruning.
 */
#include "cli.h"
#include "cli_prof.h"
#include "profile.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define MAX_FILE (1024u << 20)

/* pprof's cpuProfilerRxStr, for legacy CPU profiles. */
static const char cpu_rx[] =
    "ProfileData::Add|ProfileData::prof_handler|CpuProfiler::prof_handler|"
    "__pthread_sighandler|__restore";

int cli_read_file(const char *path, size_t max, uint8_t **out, size_t *len, char *err,
                  size_t errlen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "cannot open: %s", strerror(errno));
        return -1;
    }
    struct stat st;
    size_t cap = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536;
    uint8_t *buf = NULL;
    size_t n = 0;
    for (;;) {
        if (n == cap || buf == NULL) {
            cap = buf == NULL ? cap : cap * 2;
            uint8_t *b = cap > max + 1 ? NULL : realloc(buf, cap);
            if (b == NULL) {
                snprintf(err, errlen, cap > max + 1 ? "larger than %zu MiB" : "out of memory",
                         max >> 20);
                break;
            }
            buf = b;
            cli_hugepages(buf, cap);
        }
        ssize_t r = read(fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            if (r < 0)
                snprintf(err, errlen, "cannot read: %s", strerror(errno));
            else {
                close(fd);
                *out = buf;
                *len = n;
                return 0;
            }
            break;
        }
        n += (size_t)r;
    }
    close(fd);
    free(buf);
    return -1;
}

/* ---- gzip ---- */

static int inflate_member(z_stream *zs, uint8_t **buf, size_t *n, size_t *cap, size_t max,
                          char *err, size_t errlen)
{
    for (;;) {
        if (*n == *cap) {
            size_t nc = *cap * 2;
            uint8_t *b = nc > max + 1 ? NULL : realloc(*buf, nc);
            if (b == NULL) {
                snprintf(err, errlen, nc > max + 1 ? "gzip: more than %zu MiB uncompressed"
                                                   : "out of memory", max >> 20);
                return -1;
            }
            *buf = b;
            *cap = nc;
        }
        zs->next_out = *buf + *n;
        zs->avail_out = (uInt)(*cap - *n < (1u << 30) ? *cap - *n : (1u << 30));
        uInt before = zs->avail_out;
        int rc = inflate(zs, Z_NO_FLUSH);
        *n += before - zs->avail_out;
        if (rc == Z_STREAM_END)
            return 0;
        if (rc != Z_OK && !(rc == Z_BUF_ERROR && zs->avail_out == 0)) {
            snprintf(err, errlen, "gzip: %s", rc == Z_BUF_ERROR ? "truncated data"
                     : zs->msg ? zs->msg : "corrupt data");
            return -1;
        }
    }
}

int cli_gunzip(const uint8_t *data, size_t len, size_t max, uint8_t **out, size_t *out_len,
               char *err, size_t errlen)
{
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    /* The trailer's ISIZE (size mod 2^32 of the last member) sizes the
     * buffer at once when it is plausible; else grow from 8x. */
    size_t isize = len >= 18 ? (size_t)data[len - 4] | (size_t)data[len - 3] << 8 |
                               (size_t)data[len - 2] << 16 | (size_t)data[len - 1] << 24 : 0;
    size_t cap = len < max / 8 ? len * 8 + 4096 : max + 1, n = 0, pos = 0;
    if (isize >= len / 2 && isize <= max)
        cap = isize + 1;
    uint8_t *buf = malloc(cap);
    cli_hugepages(buf, cap);
    if (buf == NULL || inflateInit2(&zs, 15 + 16) != Z_OK) {
        free(buf);
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = 0;
    while (rc == 0 && pos < len) {
        if (pos > 0 && (len - pos < 2 || data[pos] != 0x1f || data[pos + 1] != 0x8b)) {
            snprintf(err, errlen, "gzip: garbage after the compressed data");
            rc = -1;
            break;
        }
        inflateReset(&zs);
        zs.next_in = (Bytef *)(uintptr_t)(data + pos);
        zs.avail_in = (uInt)(len - pos < (1u << 30) ? len - pos : (1u << 30));
        uInt before = zs.avail_in;
        rc = inflate_member(&zs, &buf, &n, &cap, max, err, errlen);
        pos += before - zs.avail_in;
    }
    inflateEnd(&zs);
    if (rc != 0) {
        free(buf);
        return -1;
    }
    *out = buf;
    *out_len = n;
    return 0;
}

/* ---- formats ---- */

static bool starts(const uint8_t *d, size_t len, const char *prefix)
{
    size_t i = 0, n = strlen(prefix);
    while (i < len && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r'))
        i++;
    return len - i >= n && memcmp(d + i, prefix, n) == 0;
}

static cli_prof *parse_legacy_cpu(const uint8_t *data, size_t len, char *err, size_t errlen)
{
    pf_err perr = {0, ""};
    pf_profile *pp = pf_legacy_cpu_parse(data, len, PF_MAPS_BUILD_ID_FILE, &perr);
    uint8_t *buf = NULL;
    size_t n = 0;
    cli_prof *p = NULL;
    if (pp != NULL && pf_profile_encode(pp, NULL, 0, &buf, &n, &perr) == PF_OK)
        p = cli_pb_parse(buf, n, err, errlen);
    else
        snprintf(err, errlen, "%s", perr.msg);
    free(buf);
    pf_profile_free(pp);
    if (p != NULL) {
        p->drop_frames = cpu_rx;
        p->format = "legacy gperftools CPU profile";
    }
    return p;
}

/* Mostly printable: text of an unknown kind rather than a binary. */
static bool looks_text(const uint8_t *d, size_t len)
{
    size_t n = len < 512 ? len : 512, bad = 0;
    for (size_t i = 0; i < n; i++)
        bad += d[i] < 0x09 || (d[i] > 0x0d && d[i] < 0x20);
    return bad == 0;
}

/* A message for inputs that are recognizably something else. */
static bool other_format(const uint8_t *d, size_t len, char *err, size_t errlen)
{
    if (!looks_text(d, len))
        return false;
    static const struct { const char *prefix, *what; } known[] = {
        {"{", "JSON (a trace? open it in ui.perfetto.dev or chrome://tracing)"},
        {"[", "JSON (a trace? open it in ui.perfetto.dev or chrome://tracing)"},
        {"<", "HTML or XML, not a profile (an error page?)"},
        {"goroutine profile:", "a text profile (debug=1); fetch it with debug=0"},
        {"--- mutex", "a text profile (debug=1); fetch it with debug=0"},
        {"--- contention", "a text profile (debug=1); fetch it with debug=0"},
        {"goroutine ", "a goroutine dump (debug=2); fetch it with debug=0"},
        {"thread ", "a thread dump (debug=2); fetch it with debug=0"},
    };
    for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
        if (starts(d, len, known[i].prefix)) {
            snprintf(err, errlen, "unsupported format: %s", known[i].what);
            return true;
        }
    }
    return false;
}

static cli_prof *parse_plain(const uint8_t *data, size_t len, char *err, size_t errlen)
{
    if (pf_legacy_is_cpu(data, len))
        return parse_legacy_cpu(data, len, err, errlen);
    if (cli_heap_text_is(data, len))
        return cli_heap_text_parse((const char *)data, len, err, errlen);
    if (other_format(data, len, err, errlen))
        return NULL;
    cli_prof *p = cli_pb_parse(data, len, err, errlen);
    if (p == NULL && looks_text(data, len))
        snprintf(err, errlen, "unknown format: text that is not a legacy heap profile; "
                 "expected profile.proto (gzipped or not) or a gperftools CPU or heap profile");
    return p;
}

cli_prof *cli_prof_parse(const uint8_t *data, size_t len, char *err, size_t errlen)
{
    if (len == 0) {
        snprintf(err, errlen, "empty file");
        return NULL;
    }
    if (len < 2 || data[0] != 0x1f || data[1] != 0x8b)
        return parse_plain(data, len, err, errlen);
    uint8_t *buf;
    size_t n;
    if (cli_gunzip(data, len, CLI_MAX_INFLATE, &buf, &n, err, errlen) != 0)
        return NULL;
    cli_prof *p = NULL;
    if (n == 0)
        snprintf(err, errlen, "empty after gunzip");
    else
        p = parse_plain(buf, n, err, errlen);
    free(buf);
    return p;
}

cli_prof *cli_prof_load(const char *path, char *err, size_t errlen)
{
    uint8_t *data;
    size_t len;
    if (cli_read_file(path, MAX_FILE, &data, &len, err, errlen) != 0)
        return NULL;
    if (len >= 2 && data[0] == 0x1f && data[1] == 0x8b) { /* free the compressed copy early */
        uint8_t *plain;
        size_t n;
        int rc = cli_gunzip(data, len, CLI_MAX_INFLATE, &plain, &n, err, errlen);
        free(data);
        if (rc != 0)
            return NULL;
        if (n == 0) {
            free(plain);
            snprintf(err, errlen, "empty after gunzip");
            return NULL;
        }
        data = plain;
        len = n;
    }
    cli_prof *p = cli_prof_parse(data, len, err, errlen);
    free(data);
    if (p == NULL)
        return NULL;
    if (cli_prof_needs_symbols(p)) {
        char warn[512] = "";
        cli_symbolize_offline(p, warn, sizeof warn);
        if (warn[0])
            cli_note("%s: %s", path, warn);
    }
    cli_prof_demangle(p);
    cli_prof_prune(p);
    return p;
}
