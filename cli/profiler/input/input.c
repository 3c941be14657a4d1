/*
 * input.c - reading a profile file of any supported format: format
 * detection, gunzip, the legacy CPU format (through the profile core),
 * offline symbolization and pprof's frame pruning.
 */
#include "input/cli_prof.h"
#include "pf_gzip.h"
#include "profile.h"
#include "util/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
    pf_err perr = {0, ""};
    char *data;
    pf_code rc = pf_read_fd(fd, "the file", max, &data, len, &perr);
    close(fd);
    if (rc != PF_OK) {
        snprintf(err, errlen, "%s", perr.msg);
        return -1;
    }
    *out = (uint8_t *)data;
    return 0;
}

/* Inflates a gzipped input up to CLI_MAX_INFLATE. 0 or -1 with err. */
static int gunzip(const uint8_t *data, size_t len, uint8_t **out, size_t *out_len, char *err,
                  size_t errlen)
{
    pf_err perr = {0, ""};
    if (pf_gunzip(data, len, CLI_MAX_INFLATE, out, out_len, &perr) == PF_OK)
        return 0;
    snprintf(err, errlen, "%s", perr.msg);
    return -1;
}

/* ---- formats ---- */

static bool starts(const uint8_t *d, size_t len, const char *prefix)
{
    size_t i = 0, n = strlen(prefix);
    while (i < len && (d[i] == ' ' || d[i] == '\t' || d[i] == '\n' || d[i] == '\r'))
        i++;
    return len - i >= n && memcmp(d + i, prefix, n) == 0;
}

static pf_decoded *parse_legacy_cpu(const uint8_t *data, size_t len, char *err, size_t errlen)
{
    pf_err perr = {0, ""};
    pf_decoded *p = pf_decode_plain(data, len, PF_DECODE_BUILD_IDS, &perr);
    if (p == NULL)
        snprintf(err, errlen, "%s", perr.msg);
    else
        p->drop_frames = cpu_rx;
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

static pf_decoded *parse_plain(const uint8_t *data, size_t len, char *err, size_t errlen)
{
    if (pf_legacy_is_cpu(data, len))
        return parse_legacy_cpu(data, len, err, errlen);
    if (cli_heap_text_is(data, len))
        return cli_heap_text_parse((const char *)data, len, err, errlen);
    if (other_format(data, len, err, errlen))
        return NULL;
    pf_err perr = {0, ""};
    pf_decoded *p = pf_decode_plain(data, len, 0, &perr);
    if (p != NULL && cli_prof_is_wall(p)) { /* again with its labels: the states */
        pf_decoded_free(p);
        p = pf_decode_plain(data, len, PF_DECODE_RECORDS, &perr);
        if (p != NULL && cli_prof_wall_states(p) != 0) {
            pf_decoded_free(p);
            p = NULL;
            snprintf(perr.msg, sizeof perr.msg, "out of memory for the states of a wall profile");
        }
    }
    if (p == NULL)
        snprintf(err, errlen, "%s", perr.msg);
    if (p == NULL && looks_text(data, len))
        snprintf(err, errlen, "unknown format: text that is not a legacy heap profile; "
                 "expected profile.proto (gzipped or not) or a gperftools CPU or heap profile");
    return p;
}

pf_decoded *cli_prof_parse(const uint8_t *data, size_t len, char *err, size_t errlen)
{
    if (len == 0) {
        snprintf(err, errlen, "empty file");
        return NULL;
    }
    if (!pf_is_gzip(data, len))
        return parse_plain(data, len, err, errlen);
    uint8_t *buf;
    size_t n;
    if (gunzip(data, len, &buf, &n, err, errlen) != 0)
        return NULL;
    pf_decoded *p = NULL;
    if (n == 0)
        snprintf(err, errlen, "empty after gunzip");
    else
        p = parse_plain(buf, n, err, errlen);
    free(buf);
    return p;
}

pf_decoded *cli_prof_read(const char *path, char *err, size_t errlen)
{
    uint8_t *data;
    size_t len;
    if (cli_read_file(path, MAX_FILE, &data, &len, err, errlen) != 0)
        return NULL;
    if (pf_is_gzip(data, len)) { /* free the compressed copy early */
        uint8_t *plain;
        size_t n;
        int rc = gunzip(data, len, &plain, &n, err, errlen);
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
    pf_decoded *p = cli_prof_parse(data, len, err, errlen);
    free(data);
    if (p == NULL)
        return NULL;
    if (pf_decoded_needs_symbols(p)) {
        char warn[512] = "";
        cli_symbolize_offline(p, warn, sizeof warn);
        if (warn[0])
            cli_note("%s: %s", path, warn);
    }
    return p;
}

void cli_prof_finish(pf_decoded *p)
{
    cli_prof_demangle(p);
    cli_prof_prune(p);
}

pf_decoded *cli_prof_load(const char *path, char *err, size_t errlen)
{
    pf_decoded *p = cli_prof_read(path, err, errlen);
    if (p != NULL)
        cli_prof_finish(p);
    return p;
}
