/* The strict request checks on what civetweb parsed: see http_check.h. */
#include "http/http_check.h"

#include "http/request.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* True when civetweb's header h had spaces between its name and colon.
 * civetweb 1.15 accepts "Name : value" and overwrites those spaces and
 * the colon with NULs in its request buffer, where the value follows the
 * name: a NUL between the end of the name and the value is that gap (a
 * colon alone leaves one NUL, at name + strlen(name)). */
static bool header_gap(const struct mg_header *hd)
{
    if (hd->name == NULL || hd->value == NULL)
        return false;
    const char *p = hd->name + strlen(hd->name) + 1;
    if (hd->value < p || hd->value - p > 8192)
        return false;
    for (; p < hd->value; p++)
        if (*p == '\0')
            return true;
    return false;
}

/* True when the line after civetweb's last header hd starts with a space
 * or a tab: obs-fold, which civetweb takes for the end of the headers,
 * dropping the folded line and every header after it. civetweb ends a
 * value by overwriting its CR LF (or LF) with NULs; what follows is the
 * next line as received. (With bare LF line ends, a body that starts
 * with whitespace looks the same: no endpoint takes such a body.) */
static bool folded_after(const struct mg_header *hd)
{
    if (hd->value == NULL)
        return false;
    const char *p = hd->value + strlen(hd->value);
    for (int nuls = 0; nuls < 2 && *p == '\0'; nuls++)
        p++;
    return *p == ' ' || *p == '\t';
}

int prof_http_check_request(const struct mg_request_info *info, char *path, size_t pathlen,
                            char *why, size_t whylen)
{
    prof_request_header hd[MG_MAX_HEADERS];
    size_t n = 0;
    for (int i = 0; i < info->num_headers && i < MG_MAX_HEADERS; i++, n++)
        hd[n] = (prof_request_header){info->http_headers[i].name, info->http_headers[i].value,
                                      header_gap(&info->http_headers[i]), false};
    if (n > 0)
        hd[n - 1].folded = folded_after(&info->http_headers[n - 1]);
    const char *raw = info->local_uri_raw ? info->local_uri_raw : info->request_uri;
    path[0] = '\0';
    if (raw == NULL) {
        snprintf(why, whylen, "Bad request: no path");
        return -1;
    }
    if (prof_request_path(raw, path, pathlen, why, whylen) != 0 ||
        prof_request_query(info->query_string, why, whylen) != 0 ||
        prof_request_headers(hd, n, info->http_version, why, whylen) != 0) {
        path[0] = '\0';
        return -1;
    }
    return 0;
}
