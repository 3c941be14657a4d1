/* plugin/profiles/buildid.h - /debug/pprof/buildid/<id>/executable and
 * /debuginfo: the files mapped in this process, by GNU build ID, in
 * debuginfod's URL scheme (DEBUGINFOD_URLS=http://HOST:PORT/debug/pprof),
 * when profiler.serve_binaries is on. Only a file mapped now whose build ID
 * is the one asked is served (checked on the file opened), or the debug
 * file the symbolizer would use for it (profiler.debug_dirs,
 * /usr/lib/debug, .gnu_debuglink, checked by build ID); nothing a request
 * names beyond the build ID reaches the file system. */
#ifndef TAKHIN_PLUGIN_BUILDID_H
#define TAKHIN_PLUGIN_BUILDID_H

#include "http/http.h"

#define PROF_BUILDID_NAME "buildid/" /* the endpoint: a prefix (router.h) */

/* The handler; no context (it reads req->settings). */
void prof_buildid_handle(prof_request *req);

#endif
