/* The index page and /debug/pprof/cmdline. */
#include "profiles/pages.h"

#include "pf_util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char index_style[] =
    "body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:60em}"
    "h1{font-size:1.4em}table{border-collapse:collapse;margin:1em 0}"
    "th,td{padding:.3em .8em;border-bottom:1px solid #ddd;text-align:left}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "code{background:#f4f4f4;padding:0 .2em}.d{color:#555}footer{color:#777;font-size:.9em}";

static void index_rows(pf_strbuf *sb, const prof_endpoint *eps, size_t n)
{
    pf_strbuf_printf(sb, "<table>\n<thead><tr><th>Count</th><th>Profile</th><th>Description</th>"
                  "</tr></thead>\n<tbody>\n");
    for (size_t i = 0; i < n; i++) {
        if (!eps[i].profile)
            continue;
        long count = eps[i].count ? eps[i].count(eps[i].ctx) : -1;
        char num[32] = "";
        if (count >= 0)
            snprintf(num, sizeof num, "%ld", count);
        /* Profiles with a count have a text form; the CPU profile is a
         * download that takes ?seconds. */
        pf_strbuf_printf(sb, "<tr><td class=\"n\">%s</td><td><a href=\"%s%s\">%s</a></td>"
                      "<td class=\"d\">%s</td></tr>\n",
                  num, eps[i].name, count >= 0 ? "?debug=1" : "", eps[i].name,
                  eps[i].description);
    }
    pf_strbuf_printf(sb, "</tbody>\n</table>\n");
    for (size_t i = 0; i < n; i++)
        if (strcmp(eps[i].name, "goroutine") == 0)
            pf_strbuf_printf(sb, "<p><a href=\"goroutine?debug=2\">full thread stack dump</a></p>\n");
}

static void index_others(pf_strbuf *sb, const prof_endpoint *eps, size_t n)
{
    pf_strbuf_printf(sb, "<h2>Other paths</h2>\n<ul>\n");
    for (size_t i = 0; i < n; i++)
        if (!eps[i].profile && eps[i].name[0] != '\0')
            pf_strbuf_printf(sb, "<li><a href=\"%s\">%s</a>: <span class=\"d\">%s</span></li>\n",
                      eps[i].name, eps[i].name, eps[i].description);
    pf_strbuf_printf(sb, "</ul>\n");
}

void prof_page_index(prof_request *req)
{
    size_t n;
    const prof_endpoint *eps = prof_http_endpoints(req->http, &n);
    pf_strbuf sb = {0};
    pf_strbuf_printf(&sb, "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                   "<title>/debug/pprof/</title>\n<style>%s</style>\n</head>\n<body>\n"
                   "<h1>/debug/pprof/</h1>\n<p>Profiles of this Takhin server:</p>\n",
              index_style);
    index_rows(&sb, eps, n);
    index_others(&sb, eps, n);
    pf_strbuf_printf(&sb, "<p>Read them with <code>go tool pprof http://HOST:PORT/debug/pprof/NAME"
                   "</code>.</p>\n"
                   "<footer>takhin profiler plugin %s</footer>\n</body>\n</html>\n",
              PROF_VERSION);
    if (sb.failed) {
        prof_http_error(req->conn, 500, "out of memory building the index page");
    } else {
        prof_http_send(req->conn, 200, "text/html; charset=utf-8", NULL, sb.s, sb.len);
    }
    free(sb.s);
}

void prof_page_cmdline(prof_request *req)
{
    const tk_process_info *info = req->ctx;
    pf_strbuf sb = {0};
    for (int i = 0; i < info->argc; i++) {
        pf_strbuf_put(&sb, info->argv[i], strlen(info->argv[i]));
        if (i + 1 < info->argc) /* NUL-separated, as Go's */
            pf_strbuf_put(&sb, "", 1);
    }
    if (sb.failed)
        prof_http_error(req->conn, 500, "out of memory");
    else
        prof_http_send(req->conn, 200, "text/plain; charset=utf-8", NULL, sb.s, sb.len);
    free(sb.s);
}
