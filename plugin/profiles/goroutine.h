/*
 * plugin/profiles/goroutine.h - /debug/pprof/goroutine (alias threads):
 * the thread dump (capture/threads.h) as a named profile (named.h):
 * sample type goroutine/count, one record per thread with value 1 and a
 * "thread" label (the thread's name); a thread without a stack is a
 * record of depth 0 labelled "<name> (tid N): no stack, <reason>".
 * debug=1 is Go's count text, debug=2 a full dump with TIDs, names and
 * scheduler states. Source: NULL; count: the threads of the process.
 */
#ifndef TAKHIN_PLUGIN_GOROUTINE_H
#define TAKHIN_PLUGIN_GOROUTINE_H

#include "profiles/named.h"

extern const prof_kind prof_threads_goroutine_kind, prof_threads_alias_kind;

#endif
