/*
 * plugin/profiles/heap.h - /debug/pprof/heap and /debug/pprof/allocs: the
 * heap sampler's table (capture/heap.h) as named profiles (named.h), and
 * Go's legacy text for debug=1 (raw sample counts with "heap/2*rate", as
 * Go's, then the sampler's figures and the mappings). Source: NULL.
 */
#ifndef TAKHIN_PLUGIN_PROFILES_HEAP_H
#define TAKHIN_PLUGIN_PROFILES_HEAP_H

#include "profiles/named.h"

extern const prof_kind prof_heap_kind, prof_heap_allocs_kind;

#endif
