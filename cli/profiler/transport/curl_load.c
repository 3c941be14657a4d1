/* curl_load.c - libcurl loaded at its first use (see cli_curl.h). */
#include "transport/cli_curl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

/* The soname of the libcurl built against (the Makefile reads it). */
#ifndef CLI_CURL_SONAME
#define CLI_CURL_SONAME "libcurl.so.4"
#endif

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static cli_curl_api api;
static const cli_curl_api *loaded; /* &api once every function is found */
static char load_error[512];

#define CLI_CURL_SYMBOL(name) {"curl_" #name, offsetof(cli_curl_api, name)},
static const struct {
    const char *name;
    size_t offset;
} symbols[] = {CLI_CURL_FUNCS(CLI_CURL_SYMBOL)};
#undef CLI_CURL_SYMBOL

static void load(void)
{
    /* Once loaded whole, the library stays for the life of the process. */
    void *lib = dlopen(CLI_CURL_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (lib == NULL) {
        snprintf(load_error, sizeof load_error,
                 "cannot load libcurl (%s), which fetching needs: %s; install the "
                 "package that provides it (Debian: libcurl4 for libcurl.so.4, "
                 "libcurl3-gnutls for libcurl-gnutls.so.4)",
                 CLI_CURL_SONAME, dlerror());
        return;
    }
    for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
        void *f = dlsym(lib, symbols[i].name);
        if (f == NULL) {
            snprintf(load_error, sizeof load_error, "libcurl (%s) has no %s: too old",
                     CLI_CURL_SONAME, symbols[i].name);
            dlclose(lib);
            return;
        }
        memcpy((char *)&api + symbols[i].offset, &f, sizeof f); /* POSIX: fits */
    }
    CURLcode rc = api.global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
        snprintf(load_error, sizeof load_error, "libcurl: %s", api.easy_strerror(rc));
        dlclose(lib);
        return;
    }
    loaded = &api;
}

const cli_curl_api *cli_curl(char *err, size_t errlen)
{
    pthread_once(&load_once, load);
    if (loaded == NULL && err != NULL && errlen > 0)
        snprintf(err, errlen, "%s", load_error);
    return loaded;
}
