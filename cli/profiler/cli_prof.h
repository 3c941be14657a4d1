/*
 * cli_prof.h - the CLI's profile model, built for fast analysis: identical
 * stacks are merged while reading (their values add up), every reference is
 * an array index, every string is NUL-terminated in one arena.
 *
 * Readers: profile.proto (gzipped or plain, any producer: Go, pprof, this
 * project), the legacy gperftools CPU format (through the profile core's
 * pf_legacy) and the legacy heap text format ("heap profile: ..."). All are
 * hardened for untrusted input: a malformed file gives an error message with
 * the place, never a crash.
 *
 * Ownership: a cli_prof owns everything reachable from it; free it with
 * cli_prof_free. Not thread-safe; read-only use from several threads is fine.
 */
#ifndef CLI_PROF_H
#define CLI_PROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cli_vtype {
    const char *type, *unit; /* never NULL */
} cli_vtype;

typedef struct cli_mapping {
    uint64_t id, start, limit, offset;
    const char *file, *build_id;
    bool has_functions, has_filenames, has_lines, has_inline;
} cli_mapping;

typedef struct cli_function {
    uint64_t id;
    const char *name, *system_name, *file;
    int64_t start_line;
} cli_function;

typedef struct cli_line {
    uint32_t func; /* index into funcs */
    int64_t line;
} cli_line;

typedef struct cli_location {
    uint64_t id, address;
    uint32_t mapping; /* index + 1 into maps; 0: none */
    uint32_t nlines;  /* 0: not symbolized */
    size_t line0;     /* first line in lines[], innermost (inlined) first */
} cli_location;

typedef struct cli_sample {
    uint32_t nlocs;
    size_t loc0; /* first location index in stack[], leaf first */
} cli_sample;

/* Growable memory for many small strings, freed at once. */
typedef struct cli_arena {
    struct cli_chunk *head;
} cli_arena;

typedef struct cli_prof {
    size_t ntypes;
    cli_vtype *types;
    size_t default_type; /* the named default, else the last (pprof's rule) */
    cli_vtype period_type;
    int64_t period, time_nanos, duration_nanos;
    const char *drop_frames, *keep_frames; /* "" when absent */
    const char **comments;
    size_t ncomments;
    cli_mapping *maps;
    size_t nmaps;
    cli_function *funcs;
    size_t nfuncs;
    cli_location *locs;
    size_t nlocs;
    cli_line *lines;
    size_t nlines;
    cli_sample *samples; /* distinct stacks */
    size_t nsamples;
    uint32_t *stack;     /* location indices of all samples */
    size_t nstack;
    int64_t *values;     /* nsamples * ntypes, saturating sums */
    size_t nrecords;     /* sample records read (before merging) */
    const char *format;  /* static: "profile.proto", "legacy heap", ... */
    cli_arena arena;
    /* private: growth and the stack hash */
    size_t cap_maps, cap_funcs, cap_locs, cap_lines, cap_samples, cap_stack;
    uint32_t *agg_idx;   /* sample index + 1; 0 empty */
    uint64_t *agg_hash;  /* per sample */
    size_t agg_cap;
} cli_prof;

/* ---- building (readers and tests) ---- */
cli_prof *cli_prof_new(void);
void cli_prof_free(cli_prof *p); /* NULL is fine */
/* Copies s (len bytes, or strlen when len is SIZE_MAX) into the arena. */
const char *cli_prof_str(cli_prof *p, const char *s, size_t len);
void *cli_arena_alloc(cli_arena *a, size_t size); /* zeroed; NULL if no memory */
void cli_arena_free(cli_arena *a);
/* Sets the sample types (copied); resets nothing else. 0 or -1. */
int cli_prof_set_types(cli_prof *p, const cli_vtype *types, size_t n);
/* Reserves room (upper bounds are fine: untouched memory costs nothing)
 * so that large profiles are read without copying arrays as they grow.
 * samples needs the sample types set first. 0 or -1. */
int cli_prof_reserve(cli_prof *p, size_t maps, size_t funcs, size_t locs, size_t lines,
                     size_t samples, size_t stack);
/* Asks for transparent huge pages on a large buffer (fewer page faults,
 * which cost much in VMs); harmless when refused. */
void cli_hugepages(void *p, size_t len);
/* Appends and returns the new element's index, or -1 when out of memory. */
int64_t cli_prof_add_mapping(cli_prof *p, const cli_mapping *m);
int64_t cli_prof_add_function(cli_prof *p, const cli_function *f);
int64_t cli_prof_add_location(cli_prof *p, const cli_location *l);
int64_t cli_prof_add_line(cli_prof *p, uint32_t func, int64_t line);
/* Adds a sample: locs (leaf first, valid indices), ntypes values. Merges
 * with an identical stack. 0 or -1 (out of memory). */
int cli_prof_add_sample(cli_prof *p, const uint32_t *locs, size_t n, const int64_t *values);
/* Frees the stack hash once no more samples come. */
void cli_prof_done(cli_prof *p);

/* ---- reading ---- */
#define CLI_MAX_INFLATE (1024u << 20) /* uncompressed bytes */

/* profile.proto, plain (already decompressed). NULL with err on error. */
cli_prof *cli_pb_parse(const uint8_t *data, size_t len, char *err, size_t errlen);
/* Legacy heap text ("heap profile: ..."): pprof's semantics (sampled
 * heap_v2 values are unsampled, addresses are return addresses - 1). */
bool cli_heap_text_is(const uint8_t *data, size_t len);
cli_prof *cli_heap_text_parse(const char *text, size_t len, char *err, size_t errlen);
/* Inflates gzip data (all members) up to max bytes. 0 or -1 with err. */
int cli_gunzip(const uint8_t *data, size_t len, size_t max, uint8_t **out, size_t *out_len,
               char *err, size_t errlen);
/* Any supported format in memory. */
cli_prof *cli_prof_parse(const uint8_t *data, size_t len, char *err, size_t errlen);
/* Reads a file of any supported format, symbolizes it offline when its
 * locations have addresses only and the mapped files exist here, and
 * prunes the frames its drop_frames names. NULL with err on error. */
cli_prof *cli_prof_load(const char *path, char *err, size_t errlen);
/* Reads a whole file (at most max bytes). 0 or -1 with err. */
int cli_read_file(const char *path, size_t max, uint8_t **out, size_t *len, char *err,
                  size_t errlen);

/* ---- transforming ---- */
/* Resolves address-only locations with libdw over the mapped files (the
 * profiled program has exited). Returns the number of locations named. */
size_t cli_symbolize_offline(cli_prof *p, char *warn, size_t warnlen);
/* pprof's RemoveUninteresting: drops frames matching drop_frames (and not
 * keep_frames) and everything on the leaf side of them. */
void cli_prof_prune(cli_prof *p);
/* Demangles C++ names as pprof does by default (see demangle.c). */
void cli_prof_demangle(cli_prof *p);
/* True if some location has an address but no function. */
bool cli_prof_needs_symbols(const cli_prof *p);

/* Samples in the sense of the profile: the sum of its samples/count value
 * when it has one (a CPU profile's records carry counts), else the number
 * of sample records. */
uint64_t cli_prof_samples(const cli_prof *p);

/* Index of the sample type named (or numbered) by `which`; NULL or "" =
 * the default. pprof's rules ("inuse_" may be left out). -1 if none. */
int cli_prof_type_index(const cli_prof *p, const char *which);

/* ---- writing ---- */
/* Writes p as gzipped profile.proto to path (through a temp file and
 * rename). 0 or -1 with err. */
int cli_pb_write_file(const cli_prof *p, const char *path, char *err, size_t errlen);
/* Encodes p as plain profile.proto into a malloc'd buffer. 0 or -1. */
int cli_pb_encode(const cli_prof *p, uint8_t **out, size_t *len);

#endif
