/*
 * plugin/core/keys.h - the config keys that changed, as a reload's answer
 * lists them ("port, max_requests").
 */
#ifndef TAKHIN_PLUGIN_KEYS_H
#define TAKHIN_PLUGIN_KEYS_H

#include <stdbool.h>
#include <stddef.h>

/* A comma-separated list of the keys that changed, built in a caller's
 * buffer: prof_keys_start, then prof_keys_note per key. */
typedef struct prof_keys {
    char *buf;
    size_t len;
    int count; /* keys noted */
} prof_keys;
static inline prof_keys prof_keys_start(char *buf, size_t len)
{
    buf[0] = '\0';
    return (prof_keys){buf, len, 0};
}
void prof_keys_note(prof_keys *k, bool differs, const char *key);

#endif
