/*
 * cli_curl.h - libcurl, loaded at its first use (prefix cli_curl).
 *
 * takhin-profiler does not link libcurl: the commands that only read
 * files (analyze, diff, flame graphs) would pay for its thirty shared
 * libraries at every start, 8 ms against 1.7 and 6 MiB of RSS
 * (bench/REPORT.md). The transport and watch's S3 upload call libcurl
 * through this table instead.
 */
#ifndef CLI_CURL_H
#define CLI_CURL_H

#include <stddef.h>

#include <curl/curl.h>

/* The functions used, each member typed as libcurl declares it. */
#define CLI_CURL_FUNCS(X)                                                                  \
    X(global_init) X(easy_init) X(easy_setopt) X(easy_perform) X(easy_getinfo)            \
    X(easy_cleanup) X(easy_strerror) X(slist_append) X(slist_free_all) X(multi_init)      \
    X(multi_add_handle) X(multi_remove_handle) X(multi_perform) X(multi_poll)             \
    X(multi_info_read) X(multi_cleanup)

#define CLI_CURL_MEMBER(name) __typeof__(curl_##name) *name;
typedef struct cli_curl_api {
    CLI_CURL_FUNCS(CLI_CURL_MEMBER)
} cli_curl_api;
#undef CLI_CURL_MEMBER

/* The table, libcurl loaded and globally initialized by the first call
 * (any thread); the same table after. NULL when libcurl cannot be loaded,
 * with err (when not NULL) naming the library and what to install. */
const cli_curl_api *cli_curl(char *err, size_t errlen);

#endif
