/*
 * profile.h - the profile core shared by the profiler plugin and the CLI.
 * Include this one header; the modules:
 *
 *   pf_common.h     errors (pf_err, pf_code, pf_seterr), the output
 *                   callback, the whole-file reader (procfs too)
 *   pf_util.h       the small mechanisms: arena, growable arrays, hashing,
 *                   index map, string table, string builder, clock
 *   pf_maps.h       memory mappings and ELF build IDs
 *   pf_symbolize.h  in-process symbolization with libdw, cached (its
 *                   results: pf_symbol.h)
 *   pf_profile.h    the building model (samples added one by one, merged),
 *                   written through the encoder
 *   pf_legacy.h     gperftools' legacy CPU profile -> model
 *   pf_decoded.h    the analysis form (pf_decoded): validated, index-linked
 *   pf_decode.h     profile.proto (any producer, gzipped or not) and legacy
 *                   CPU profiles -> the analysis form, a streaming reader
 *   pf_encode.h     pf_decoded -> profile.proto (gzipped or not), streamed:
 *                   the one encoder
 *   pf_wire.h       protobuf wire format, writing: varints, fields, messages
 *   pf_gzip.h       gzip framing (inflate every member, bounded; deflate,
 *                   in one call or streamed)
 *
 * Link: build/libtkprofile.a with -lz -ldw -lelf -pthread.
 */
#ifndef PF_PROFILE_ALL_H
#define PF_PROFILE_ALL_H

#include "pf_common.h"
#include "pf_decode.h"
#include "pf_decoded.h"
#include "pf_encode.h"
#include "pf_gzip.h"
#include "pf_legacy.h"
#include "pf_maps.h"
#include "pf_profile.h"
#include "pf_symbol.h"
#include "pf_symbolize.h"
#include "pf_util.h"
#include "pf_wire.h"

#endif
