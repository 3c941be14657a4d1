/* plugin/pages.h - the index page and the cmdline path. */
#ifndef TAKHIN_PLUGIN_PAGES_H
#define TAKHIN_PLUGIN_PAGES_H

#include "http.h"

void prof_page_index(prof_request *req);   /* /debug/pprof/ */
void prof_page_cmdline(prof_request *req); /* argv, NUL-separated */

#endif
