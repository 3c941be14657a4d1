/*
 * plugin/profiles/contention.h - /debug/pprof/mutex and /debug/pprof/block
 * as named profiles (named.h) over the contention tables
 * (capture/contention.h): Go's text and profile.proto. Their source
 * (prof_named.source) is the prof_contention.
 */
#ifndef TAKHIN_PLUGIN_PROFILES_CONTENTION_H
#define TAKHIN_PLUGIN_PROFILES_CONTENTION_H

#include "profiles/named.h"

extern const prof_kind prof_mutex_kind, prof_block_kind;

#endif
