/* Loading one plugin library: dlopen, entry symbol, ABI check. */
#include "takhin/host/host.h"

#include <dlfcn.h>
#include <stdio.h>

/* Checks the descriptor a plugin returned against this host's ABI. */
static int check_abi(const char *path, const tk_plugin_def *def, char *err, size_t errlen)
{
    if (def == NULL) {
        snprintf(err, errlen, "plugin %s: %s() returned NULL", path, TK_PLUGIN_ENTRY_SYMBOL);
        return -1;
    }
    if (def->abi_major != TK_ABI_MAJOR) {
        snprintf(err, errlen,
                 "plugin %s is not binary compatible: it was built for host API %u.%u, "
                 "this host implements %u.%u (the major versions must match: rebuild the plugin)",
                 path, def->abi_major, def->abi_minor, TK_ABI_MAJOR, TKH_API_MINOR);
        return -1;
    }
    if (def->abi_minor > TKH_API_MINOR) {
        snprintf(err, errlen,
                 "plugin %s needs host API %u.%u, this host implements only %u.%u "
                 "(upgrade the host or use an older plugin)",
                 path, def->abi_major, def->abi_minor, TK_ABI_MAJOR, TKH_API_MINOR);
        return -1;
    }
    if (def->name == NULL || def->name[0] == '\0' || def->init == NULL || def->fini == NULL) {
        snprintf(err, errlen, "plugin %s: its descriptor lacks a name, init or fini", path);
        return -1;
    }
    return 0;
}

int tkh_plugin_open(const char *path, void **handle, const tk_plugin_def **def,
                    char *err, size_t errlen)
{
    dlerror();
    void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (h == NULL) {
        snprintf(err, errlen, "cannot load plugin: %s (check plugins[].path in the config)",
                 dlerror());
        return -1;
    }
    tk_plugin_entry_fn entry;
    *(void **)&entry = dlsym(h, TK_PLUGIN_ENTRY_SYMBOL);
    if (entry == NULL) {
        snprintf(err, errlen, "%s is not a Takhin plugin: it does not export %s()",
                 path, TK_PLUGIN_ENTRY_SYMBOL);
        dlclose(h);
        return -1;
    }
    const tk_plugin_def *d = entry();
    if (check_abi(path, d, err, errlen) != 0) {
        dlclose(h);
        return -1;
    }
    *handle = h;
    *def = d;
    return 0;
}
