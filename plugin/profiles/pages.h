/* plugin/profiles/pages.h - the index page and the cmdline path. */
#ifndef TAKHIN_PLUGIN_PAGES_H
#define TAKHIN_PLUGIN_PAGES_H

#include "http/http.h"

/* /debug/pprof/: the server's endpoints (prof_http_endpoints), the
 * profiles with their counts. No context. */
void prof_page_index(prof_request *req);
/* argv, NUL-separated; req->ctx is the host's tk_process_info. */
void prof_page_cmdline(prof_request *req);

#endif
