/*
 * plugin/profiles/named.h - the profiles served under Go's query contract: heap,
 * allocs, goroutine (alias threads), mutex, block.
 *
 * Each kind describes itself with a prof_kind and fills prof_records with
 * one record per stack; prof_named_handle does the rest, as Go does:
 *   debug=0 (default)  gzipped profile.proto, symbolized by the server
 *   debug=N>0          the kind's legacy text (kind->text)
 *   seconds=N          delta: collect, wait N s, collect, subtract
 *                      (filename "<name>-delta", DurationNanos = N s)
 * and Go's 400 answers for a bad seconds, seconds with debug, and seconds
 * on a kind that has no delta.
 */
#ifndef TAKHIN_PLUGIN_NAMED_H
#define TAKHIN_PLUGIN_NAMED_H

#include "capture/records.h"
#include "http/http.h"
#include "pf_profile.h"
#include "pf_symbolize.h"
#include "pf_util.h"

typedef struct prof_kind {
    const char *name;              /* path under /debug/pprof/ */
    const pf_value_type *types;    /* nvalues sample types */
    size_t nvalues;
    const char *default_type;      /* or NULL */
    pf_value_type period_type;     /* {NULL, NULL}: none */
    pf_pc_mode pc_mode;            /* what the stacks' pcs[0] is */
    bool delta;                    /* ?seconds=N allowed */
    /* Each callback gets the kind's source (prof_named.source): the
     * recorder it reads, of the kind's own type, or NULL. */
    /* Fills `out` (initialized with nvalues). 0, or an HTTP status (501,
     * 503, ...) with a message in err that says how to fix it. */
    int (*collect)(void *source, prof_records *out, char *err, size_t errlen);
    /* The period of the profile (bytes for heap, ...); may be NULL. */
    int64_t (*period)(void *source);
    /* Legacy text for debug >= 1 (goroutine's debug=2 may ignore `recs`
     * and dump on its own). 0, or an HTTP status with err. */
    int (*text)(void *source, pf_symbolizer *sym, const prof_records *recs, int debug,
                pf_strbuf *out, char *err, size_t errlen);
    /* The index's Count column; NULL: unknown. */
    long (*count)(void *source);
} prof_kind;

/* One named endpoint's context (prof_endpoint.ctx). */
typedef struct prof_named {
    const prof_kind *kind;
    void *source;          /* what the kind reads; see prof_kind */
    pf_symbolizer *sym;    /* names the profiles' and the text's frames */
} prof_named;

/* Serves one request; req->ctx is a prof_named. */
void prof_named_handle(prof_request *req);
/* The index's count for a prof_named (-1: unknown). */
long prof_named_count(void *ctx);

/* Builds the profile.proto of records (for kinds, push and tests). NULL
 * with err. The caller frees with pf_profile_free. */
pf_profile *prof_named_profile(const prof_kind *kind, void *source, const prof_records *recs,
                               int64_t duration_ns, char *err, size_t errlen);

/* The frame lines of Go's legacy text: the one writer for every kind. */
typedef enum prof_text_style {
    PROF_TEXT_DEBUG1, /* "#\t0xADDR\tfunction+0xOFF\tfile:line" (debug=1) */
    PROF_TEXT_DEBUG2, /* "function\n\tfile:line +0xOFF" (goroutine debug=2) */
} prof_text_style;

/* Writes the frames of one stack, one line (group) per inlined frame.
 * pcs as `mode` says; addresses print as Go's do (the call instruction
 * for a return address), the offset from the function's entry where the
 * unwind tables know it. An address no symbol covers prints with its
 * module and offset ("module+0xOFF"). */
void prof_named_text_frames(pf_strbuf *out, pf_symbolizer *sym, const uintptr_t *pcs,
                            size_t depth, pf_pc_mode mode, prof_text_style style);

#endif
