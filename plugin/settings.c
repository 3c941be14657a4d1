/* The profiler's config section: schema and copy-out. */
#include "profiler.h"

#include <stdio.h>

const tk_config_key prof_config_keys[] = {
    {"enabled", TK_CONFIG_BOOL, "false", 0, 0, "serve /debug/pprof/ (off by default)"},
    {"host", TK_CONFIG_HOST, "127.0.0.1", 0, 0, "address to bind (loopback by default)"},
    {"port", TK_CONFIG_INT, "6060", 0, 65535, "TCP port; 0 picks a free one"},
    {0},
};

void prof_settings_read(const tk_host_api *api, const tk_config *cfg, prof_settings *out)
{
    *out = (prof_settings){
        .enabled = api->config_get(cfg, "enabled")->b,
        .port = (int)api->config_get(cfg, "port")->i,
    };
    snprintf(out->host, sizeof out->host, "%s", api->config_get(cfg, "host")->s);
}
