/*
 * profile.h - the profile core shared by the profiler plugin and the CLI.
 * Include this one header; the modules:
 *
 *   pf_common.h     errors (pf_err, pf_code) and the output callback
 *   pf_maps.h       memory mappings and ELF build IDs
 *   pf_symbolize.h  in-process symbolization with libdw, cached
 *   pf_profile.h    the profile model, encoding to (gzipped) profile.proto
 *   pf_legacy.h     gperftools' legacy CPU profile -> model
 *   pf_decode.h     profile.proto (any producer, gzipped or not) and legacy
 *                   CPU profiles -> validated analysis form (pf_decoded),
 *                   a streaming reader
 *   pf_gzip.h       gzip framing (inflate every member, bounded; deflate)
 *
 * Link: build/libtkprofile.a with -lprotobuf-c -lz -ldw -lelf -pthread.
 */
#ifndef PF_PROFILE_ALL_H
#define PF_PROFILE_ALL_H

#include "pf_common.h"
#include "pf_decode.h"
#include "pf_gzip.h"
#include "pf_legacy.h"
#include "pf_maps.h"
#include "pf_profile.h"
#include "pf_symbolize.h"

#endif
