/* The profiler's config section: schema and copy-out. */
#include "profiler.h"

#include <stdio.h>

const tk_config_key prof_config_keys[] = {
    {"enabled", TK_CONFIG_BOOL, "false", 0, 0, "serve /debug/pprof/ (off by default)"},
    {"host", TK_CONFIG_HOST, "127.0.0.1", 0, 0, "address to bind (loopback by default)"},
    {"port", TK_CONFIG_INT, "6060", 0, 65535, "TCP port; 0 picks a free one"},
    {"cpu_hz", TK_CONFIG_INT, "100", 1, PROF_MAX_CPU_HZ,
     "CPU sampling rate asked of the kernel (the rate achieved is reported)"},
    {"max_duration", TK_CONFIG_INT, "120", 1, 3600,
     "longest CPU profile or trace, in seconds"},
    {"mutex_fraction", TK_CONFIG_INT, "0", 0, 1000000000,
     "report 1/N of mutex contention events (Go's SetMutexProfileFraction); 0 = off"},
    {"block_rate", TK_CONFIG_INT, "0", 0, 1000000000000LL,
     "sample one blocking event per N ns blocked (Go's SetBlockProfileRate); 0 = off"},
    {"heap_sample_bytes", TK_CONFIG_INT, "524288", 0, 1 << 30,
     "mean bytes between heap samples; 0 turns heap and allocs profiling off"},
    {0},
};

void prof_settings_read(const tk_host_api *api, const tk_config *cfg, prof_settings *out)
{
    *out = (prof_settings){
        .enabled = api->config_get(cfg, "enabled")->b,
        .port = (int)api->config_get(cfg, "port")->i,
        .cpu_hz = (int)api->config_get(cfg, "cpu_hz")->i,
        .max_duration = (long)api->config_get(cfg, "max_duration")->i,
        .heap_sample_bytes = (long)api->config_get(cfg, "heap_sample_bytes")->i,
        .mutex_fraction = (long)api->config_get(cfg, "mutex_fraction")->i,
        .block_rate = (int64_t)api->config_get(cfg, "block_rate")->i,
    };
    snprintf(out->host, sizeof out->host, "%s", api->config_get(cfg, "host")->s);
}
