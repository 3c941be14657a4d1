/*
 * cli_prof.h - reading, transforming and writing profiles in the CLI. The
 * model is the profile core's analysis form, pf_decoded (profile/
 * pf_decode.h: index-linked, identical stacks merged while reading), and
 * profile.proto and the legacy gperftools CPU format are read by its
 * decoder (pf_decode). The CLI adds the legacy heap text format ("heap
 * profile: ..."), format detection with messages for what is recognizably
 * something else, offline symbolization, pprof's frame pruning and C++
 * demangling; profiles are written by the core's encoder (pf_encode.h).
 * All readers are hardened for untrusted input: a malformed
 * file gives an error message with the place, never a crash.
 */
#ifndef CLI_PROF_H
#define CLI_PROF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pf_decode.h"

/* ---- reading ---- */
/* Uncompressed bytes of a gzipped profile at most: the profile core's
 * limit. A gzip bomb fails there before anything is allocated. */
#define CLI_MAX_INFLATE PF_DECODE_DEFAULT_MAX

/* Legacy heap text ("heap profile: ..."): pprof's semantics (sampled
 * heap_v2 values are unsampled, addresses are return addresses - 1). */
bool cli_heap_text_is(const uint8_t *data, size_t len);
pf_decoded *cli_heap_text_parse(const char *text, size_t len, char *err, size_t errlen);
/* Any supported format in memory. */
pf_decoded *cli_prof_parse(const uint8_t *data, size_t len, char *err, size_t errlen);
/* Reads a file of any supported format, symbolizes it offline when its
 * locations have addresses only and the mapped files exist here, and
 * prunes the frames its drop_frames names. NULL with err on error. */
pf_decoded *cli_prof_load(const char *path, char *err, size_t errlen);
/* cli_prof_load in two steps: reading and symbolizing (what -output
 * writes), then demangling and pruning (what the reports show). */
pf_decoded *cli_prof_read(const char *path, char *err, size_t errlen);
void cli_prof_finish(pf_decoded *p);
/* Reads a whole file (at most max bytes) with pf_read_fd; the messages
 * leave the path to the caller. 0 or -1 with err. */
int cli_read_file(const char *path, size_t max, uint8_t **out, size_t *len, char *err,
                  size_t errlen);

/* ---- symbolization settings (-symbolize, -debug-dir) ---- */
typedef enum cli_sym_mode {
    CLI_SYM_ON,    /* local files, debug directories, then debuginfod (default) */
    CLI_SYM_LOCAL, /* no debuginfod */
    CLI_SYM_NONE,  /* leave address-only locations as they are */
} cli_sym_mode;

typedef struct cli_sym_config {
    cli_sym_mode mode;
    const char *debug_dirs; /* ':'-separated roots, searched before /usr/lib/debug */
    bool quiet;             /* no progress line, no "from debuginfod" line */
} cli_sym_config;

/* Sets the process's symbolization settings (main, once, before any
 * profile is read; the strings must live as long as the process). */
void cli_symbolize_config(const cli_sym_config *c);
/* A debug file for build_id (hex) from debuginfod (DEBUGINFOD_URLS):
 * returns an fd and *path (malloc'd), or -1 after saying why on stderr
 * (once per call: the caller asks once per build ID). file names the
 * mapping in the messages. */
int cli_debuginfod_fetch(const char *build_id, const char *file, char **path, bool quiet);

/* ---- transforming ---- */
/* Resolves address-only locations with libdw over the mapped files (the
 * profiled program has exited) and debug files found by build ID (see
 * symoff.c), as cli_symbolize_config says. Returns the number of
 * locations named. */
size_t cli_symbolize_offline(pf_decoded *p, char *warn, size_t warnlen);
/* pprof's RemoveUninteresting: drops frames matching drop_frames (and not
 * keep_frames) and everything on the leaf side of them. */
void cli_prof_prune(pf_decoded *p);
/* A wall profile (/debug/pprof/wall: period type wall). */
bool cli_prof_is_wall(const pf_decoded *p);
/* Puts each sample's `state` label on top of its stack as a frame,
 * "(running)" or "(waiting: futex)" (wallstate.c); p was decoded with
 * PF_DECODE_RECORDS, and its samples lose their labels. 0 or -1. */
int cli_prof_wall_states(pf_decoded *p);
/* Demangles C++ names as pprof does by default (see demangle.c). */
void cli_prof_demangle(pf_decoded *p);

#endif
