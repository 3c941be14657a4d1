/* Routing: see router.h. */
#include "http/router.h"

#include <stdio.h>
#include <string.h>

const prof_endpoint *prof_route(const prof_endpoint *table, size_t n, const char *path)
{
    const char *name = NULL;
    size_t prefix = strlen(PROF_HTTP_PREFIX);
    if (strncmp(path, PROF_HTTP_PREFIX, prefix) == 0)
        name = path + prefix;
    else if (strcmp(path, "/debug/pprof") == 0)
        name = "";
    for (size_t i = 0; name != NULL && i < n; i++) {
        size_t len = strlen(table[i].name);
        if (table[i].prefix ? strncmp(table[i].name, name, len) == 0 && name[len] != '\0'
                            : strcmp(table[i].name, name) == 0)
            return &table[i];
    }
    return NULL;
}

bool prof_route_allows(const prof_endpoint *ep, const char *method)
{
    return strcmp(method, "GET") == 0 || (ep->post && strcmp(method, "POST") == 0);
}

const char *prof_route_allow_header(const prof_endpoint *ep)
{
    return ep->post ? "Allow: GET, POST\r\n" : "Allow: GET\r\n";
}

void prof_route_list(const prof_endpoint *table, size_t n, char *buf, size_t len)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n && used < len; i++) {
        int w = snprintf(buf + used, len - used, "  %s%s\n", PROF_HTTP_PREFIX, table[i].name);
        if (w < 0)
            break;
        used += (size_t)w;
    }
}
