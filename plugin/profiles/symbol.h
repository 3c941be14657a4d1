/* plugin/profiles/symbol.h - /debug/pprof/symbol: addresses to function names, for
 * pprof clients that got an unsymbolized profile. */
#ifndef TAKHIN_PLUGIN_SYMBOL_H
#define TAKHIN_PLUGIN_SYMBOL_H

#include "http/http.h"

#define PROF_SYMBOL_MAX_BODY (1 << 20) /* bytes of POST body read at most */

/* The handler; req->ctx is the pf_symbolizer. */
void prof_symbol_handle(prof_request *req);

/* Parses "0xA+0xB+..." (hex with 0x, or decimal) into addrs. Returns the
 * count, or -1 with err naming the bad word and its position. */
long prof_symbol_parse(const char *body, size_t len, uint64_t *addrs, size_t max,
                       char *err, size_t errlen);

#endif
