/* curl.c - takhin-profiler's transport on libcurl (see cli_http.h). */
#include "transport/cli_http.h"

#include "transport/cli_curl.h"

#include "pf_common.h"
#include "pf_util.h"
#include "util/cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 200
#define DEFAULT_PORT "6060"

/* ---- -remote ---- */

/* Percent-decodes s[0..n) into out. 0, or -1 (bad escape, NUL, too long). */
static int pct_decode(const char *s, size_t n, char *out, size_t outlen)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            if (i + 2 >= n)
                return -1;
            int h = pf_hex_digit(s[i + 1]), l = pf_hex_digit(s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0))
                return -1;
            c = h * 16 + l;
            i += 2;
        }
        if (o + 1 >= outlen)
            return -1;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return 0;
}

static bool host_ok(const char *h, size_t n, bool v6)
{
    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '.' || (v6 ? c == ':' : (c == '-' || c == '_'));
        if (!ok)
            return false;
    }
    return true;
}

/* Characters a path may hold as they are (RFC 3986 pchar and '/'). */
static bool path_ok(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~/%!$&'()*+,;=:@",
                   p[i]) == NULL || p[i] == '\0')
            return false;
    }
    return true;
}

/* The remote for messages: user:TOKEN@ shown as user:***@ (and a lone
 * userinfo, which may be a token, as ***@). */
static void masked(const char *remote, char *buf, size_t len)
{
    const char *scheme = strstr(remote, "://");
    const char *s = scheme ? scheme + 3 : remote;
    const char *at = NULL;
    for (const char *p = s; *p && *p != '/' && *p != '?' && *p != '#'; p++)
        if (*p == '@')
            at = p;
    if (at == NULL) {
        snprintf(buf, len, "%s", remote);
        return;
    }
    const char *colon = memchr(s, ':', (size_t)(at - s));
    const char *keep = colon ? colon : s;
    snprintf(buf, len, "%.*s%s***%s", (int)(keep - remote), remote, colon ? ":" : "", at);
}

int cli_parse_remote(const char *remote, cli_remote *r, char *err, size_t errlen)
{
    char shown[600];
    const char *why = "expected HOST:PORT (e.g. 127.0.0.1:6060, [::1]:6060) or a URL "
                      "http[s]://[user:TOKEN@]HOST:PORT[/PREFIX]";
    memset(r, 0, sizeof *r);
    const char *s = remote;
    const char *sep = strstr(s, "://");
    if (sep != NULL) {
        size_t sl = (size_t)(sep - s);
        if (sl == 4 && strncasecmp(s, "http", 4) == 0)
            r->tls = false;
        else if (sl == 5 && strncasecmp(s, "https", 5) == 0)
            r->tls = true;
        else {
            why = "only http:// and https:// are supported";
            goto bad;
        }
        r->url_form = true;
        s = sep + 3;
    }
    size_t n = strcspn(s, "/?#");
    const char *rest = s + n;
    /* user:TOKEN@ */
    const char *at = NULL;
    for (const char *p = s; p < s + n; p++)
        if (*p == '@')
            at = p;
    if (at != NULL) {
        if (!r->url_form) {
            why = "credentials need the URL form: http://user:TOKEN@HOST:PORT";
            goto bad;
        }
        const char *colon = memchr(s, ':', (size_t)(at - s));
        if (colon == NULL) {
            why = "credentials are user:TOKEN@ (the token is the password)";
            goto bad;
        }
        if (pct_decode(s, (size_t)(colon - s), r->user, sizeof r->user) != 0 ||
            pct_decode(colon + 1, (size_t)(at - colon - 1), r->password, sizeof r->password) != 0) {
            why = "bad user:TOKEN@ (use %XX for special characters)";
            goto bad;
        }
        r->has_user = true;
        n -= (size_t)(at + 1 - s);
        s = at + 1;
    }
    /* host[:port] */
    const char *h = s, *colon = NULL;
    size_t hl;
    bool v6 = *s == '[';
    if (v6) {
        const char *rb = memchr(s, ']', n);
        if (rb == NULL)
            goto bad;
        h = s + 1;
        hl = (size_t)(rb - h);
        if (rb + 1 < s + n && rb[1] != ':')
            goto bad;
        colon = rb + 1 < s + n ? rb + 1 : NULL;
    } else {
        colon = memchr(s, ':', n);
        hl = colon ? (size_t)(colon - s) : n;
        if (colon && memchr(colon + 1, ':', (size_t)(s + n - colon - 1))) {
            why = "an IPv6 address goes in brackets: [::1]:6060";
            goto bad;
        }
    }
    if (!host_ok(h, hl, v6) || hl >= sizeof r->host)
        goto bad;
    snprintf(r->host, sizeof r->host, "%.*s", (int)hl, h);
    if (colon != NULL) {
        const char *p = colon + 1;
        size_t pl = (size_t)(s + n - p);
        if (pl == 0 || pl > 5 || strspn(p, "0123456789") < pl)
            goto bad;
        snprintf(r->port, sizeof r->port, "%.*s", (int)pl, p);
    } else
        snprintf(r->port, sizeof r->port, "%s",
                 !r->url_form ? DEFAULT_PORT : r->tls ? "443" : "80");
    if (atoi(r->port) < 1 || atoi(r->port) > 65535)
        goto bad;
    /* /prefix */
    if (*rest == '?' || *rest == '#') {
        why = "no query or fragment: give the prefix the profiler is under, if any";
        goto bad;
    }
    if (*rest == '/' && !r->url_form) {
        why = "a path needs the URL form: http://HOST:PORT/PREFIX";
        goto bad;
    }
    size_t pl = strlen(rest);
    if (strcspn(rest, "?#") < pl) {
        why = "no query or fragment: give the prefix the profiler is under, if any";
        goto bad;
    }
    if (!path_ok(rest, pl) || pl >= sizeof r->prefix) {
        why = "the prefix has characters a URL path cannot hold (use %XX)";
        goto bad;
    }
    while (pl > 0 && rest[pl - 1] == '/')
        pl--;
    if (pl >= 12 && strncmp(rest + pl - 12, "/debug/pprof", 12) == 0)
        pl -= 12; /* the URL of the index page, as go tool pprof takes it */
    snprintf(r->prefix, sizeof r->prefix, "%.*s", (int)pl, rest);
    return 0;
bad:
    masked(remote, shown, sizeof shown);
    snprintf(err, errlen, "-remote %s: %s", shown, why);
    memset(r->password, 0, sizeof r->password);
    return -1;
}

void cli_remote_hostport(const cli_remote *r, char *buf, size_t len)
{
    bool v6 = strchr(r->host, ':') != NULL;
    snprintf(buf, len, "%s%s%s:%s", v6 ? "[" : "", r->host, v6 ? "]" : "", r->port);
}

/* ---- the plan ---- */

int cli_http_plan(const cli_remote *r, const cli_http_conf *c, const char *path,
                  cli_http_req *rq, char *err, size_t errlen)
{
    memset(rq, 0, sizeof *rq);
    if (!r->tls && (c->ca || c->cert || c->key || c->insecure)) {
        snprintf(err, errlen, "-ca, -cert, -key and -insecure are for https: give -remote as "
                 "https://HOST:PORT (or drop them)");
        return CLI_EXIT_USAGE;
    }
    if (c->key && !c->cert) {
        snprintf(err, errlen, "-key goes with -cert (the client certificate it belongs to)");
        return CLI_EXIT_USAGE;
    }
    if (r->has_user && c->token && !c->token_from_env) {
        snprintf(err, errlen, "two tokens: -token and user:TOKEN@ in -remote; give one of them");
        return CLI_EXIT_USAGE;
    }
    cli_remote_hostport(r, rq->hostport, sizeof rq->hostport);
    int n = snprintf(rq->url, sizeof rq->url, "%s://%s%s%s", r->tls ? "https" : "http",
                     rq->hostport, r->prefix, path);
    if (n < 0 || (size_t)n >= sizeof rq->url) {
        snprintf(err, errlen, "-remote: the URL is too long");
        return CLI_EXIT_USAGE;
    }
    rq->tls = r->tls;
    if (r->has_user) {
        rq->auth = CLI_AUTH_BASIC;
        rq->user = r->user;
        rq->secret = r->password;
    } else if (c->token && *c->token) {
        rq->auth = CLI_AUTH_BEARER;
        rq->secret = c->token;
    }
    rq->ca = c->ca;
    rq->cert = c->cert;
    rq->key = c->key;
    rq->verify = !c->insecure;
    rq->follow = c->follow;
    rq->max_redirs = c->follow ? 10 : 0;
    rq->connect_timeout_ms = (long)(c->connect_timeout * 1000 + 0.5);
    if (rq->connect_timeout_ms < 1)
        rq->connect_timeout_ms = 1;
    return CLI_OK;
}

static int check_file(const char *flag, const char *path, char *err, size_t errlen)
{
    FILE *f = path ? fopen(path, "r") : NULL;
    if (path == NULL)
        return CLI_OK;
    if (f == NULL) {
        snprintf(err, errlen, "%s %s: cannot read it: %s", flag, path, strerror(errno));
        return CLI_EXIT_USAGE;
    }
    fclose(f);
    return CLI_OK;
}

int cli_http_check_files(const cli_http_conf *c, char *err, size_t errlen)
{
    int rc = check_file("-ca", c->ca, err, errlen);
    if (rc == CLI_OK)
        rc = check_file("-cert", c->cert, err, errlen);
    if (rc == CLI_OK)
        rc = check_file("-key", c->key, err, errlen);
    return rc;
}

/* ---- messages ---- */

/* The proxy libcurl would take from the environment for this request
 * (no_proxy aside): its variable's name, its host (no brackets) and port
 * (libcurl's default 1080). */
static const char *proxy_from_env(bool tls, char *host, size_t hostlen, char *port,
                                  size_t portlen)
{
    static const char *http[] = {"http_proxy", "all_proxy", "ALL_PROXY", NULL};
    static const char *https[] = {"https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY", NULL};
    for (const char **v = tls ? https : http; *v; v++) {
        const char *val = getenv(*v);
        if (val == NULL || *val == '\0')
            continue;
        const char *s = strstr(val, "://");
        s = s ? s + 3 : val;
        const char *at = strchr(s, '@');
        if (at && at < s + strcspn(s, "/"))
            s = at + 1;
        bool v6 = *s == '[';
        size_t n = v6 ? strcspn(s, "]") : strcspn(s, ":/");
        snprintf(host, hostlen, "%.*s", (int)(v6 ? n - 1 : n), v6 ? s + 1 : s);
        const char *p = s + n + (v6 && s[n] == ']');
        snprintf(port, portlen, "%.*s", *p == ':' ? (int)strspn(p + 1, "0123456789") : 4,
                 *p == ':' ? p + 1 : "1080");
        return *v;
    }
    return NULL;
}

static bool has(const char *s, const char *part)
{
    return s != NULL && strcasestr(s, part) != NULL;
}

/* libcurl's text for code ("Couldn't connect to server"). */
static const char *curl_text(int code)
{
    const cli_curl_api *curl = cli_curl(NULL, 0);
    return curl != NULL ? curl->easy_strerror((CURLcode)code) : "libcurl error";
}

int cli_http_explain(const cli_http_req *rq, int code, long os_errno, const char *curl_msg,
                     bool connected, bool answered, char *err, size_t errlen)
{
    const char *hp = rq->hostport;
    char phost[300] = "", pport[16] = "", where[340];
    const char *pvar = proxy_from_env(rq->tls, phost, sizeof phost, pport, sizeof pport);
    const char *m = curl_msg && *curl_msg ? curl_msg : curl_text(code);
    /* Did it fail at the proxy? libcurl names the host and port it tried
     * ("Failed to connect to HOST port PORT"). */
    snprintf(where, sizeof where, "%s port %s", phost, pport);
    bool at_proxy = pvar != NULL && (code == CURLE_COULDNT_RESOLVE_PROXY ||
                                     (phost[0] && has(m, where)) ||
                                     has(m, "CONNECT tunnel") || has(m, "proxy"));
    switch (code) {
    case CURLE_COULDNT_RESOLVE_PROXY:
        snprintf(err, errlen, "unknown proxy host %s (from $%s): fix it, or unset %s "
                 "(or add the server to no_proxy)", phost, pvar, pvar);
        return CLI_EXIT_CONNECT;
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(err, errlen, "unknown host %s (no such name or address)", rq->hostport);
        return CLI_EXIT_CONNECT;
    case CURLE_COULDNT_CONNECT:
        if (at_proxy && has(m, "CONNECT tunnel"))
            snprintf(err, errlen, "the proxy %s (from $%s) would not open a tunnel to %s: %s "
                     "(does it allow this host and port? or add the server to no_proxy)",
                     phost, pvar, hp, m);
        else if (at_proxy)
            snprintf(err, errlen, "cannot connect to the proxy %s (from $%s): %s (is the "
                     "proxy running? unset %s or add the server to no_proxy to go direct)",
                     phost, pvar, m, pvar);
        else if (os_errno == ECONNREFUSED)
            snprintf(err, errlen, "connection to %s refused: nothing listens there (is takhind "
                     "running with the profiler on? takhin-admin profiler enable)", hp);
        else if (os_errno == EHOSTUNREACH || os_errno == ENETUNREACH)
            snprintf(err, errlen, "%s is unreachable: %s", hp, strerror((int)os_errno));
        else
            snprintf(err, errlen, "cannot connect to %s: %s", hp, m);
        return CLI_EXIT_CONNECT;
    case CURLE_OPERATION_TIMEDOUT:
        if (!connected) {
            snprintf(err, errlen, "no answer from %s%s within %gs (host down, wrong address, "
                     "or a firewall drops the packets; -connect-timeout)", at_proxy ? "the proxy " : "",
                     at_proxy ? phost : hp, (double)rq->connect_timeout_ms / 1000);
            return CLI_EXIT_CONNECT;
        }
        snprintf(err, errlen, "%s: %s", hp, m);
        return CLI_EXIT_SERVER;
    case CURLE_SSL_CACERT_BADFILE:
        snprintf(err, errlen, "-ca %s: no usable CA certificate in it (%s); give the PEM file "
                 "of the CA that signed the server's certificate", rq->ca ? rq->ca : "(system)", m);
        return CLI_EXIT_USAGE;
    case CURLE_SSL_CERTPROBLEM:
        snprintf(err, errlen, "-cert %s%s%s: the client certificate or key cannot be used (%s); "
                 "give PEM files, an unencrypted key that matches the certificate",
                 rq->cert ? rq->cert : "?", rq->key ? " -key " : "", rq->key ? rq->key : "", m);
        return CLI_EXIT_USAGE;
    case CURLE_PEER_FAILED_VERIFICATION:
        if (has(m, "subject name") || has(m, "does not match") || has(m, "no alternative"))
            snprintf(err, errlen, "the TLS certificate of %s is not for that name (%s): connect "
                     "by a name or address the certificate lists, or -insecure to skip the "
                     "check (trusted networks only)", hp, m);
        else
            snprintf(err, errlen, "the TLS certificate of %s is not trusted (%s): give the CA "
                     "that signed it with -ca FILE, or -insecure to skip the check (trusted "
                     "networks only)", hp, m);
        return CLI_EXIT_CONNECT;
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
        if (rq->tls && (has(m, "alert unknown ca") || has(m, "alert bad certificate") ||
                        has(m, "certificate required") || has(m, "alert handshake failure") ||
                        has(m, "alert certificate"))) {
            if (rq->cert)
                snprintf(err, errlen, "%s refused the client certificate %s (%s): it wants one "
                         "signed by a CA it trusts", hp, rq->cert, m);
            else
                snprintf(err, errlen, "%s wants a client certificate, give -cert FILE and "
                         "-key FILE (%s)", hp, m);
            return CLI_EXIT_CONNECT;
        }
        if (rq->tls && !answered && code != CURLE_SSL_CONNECT_ERROR) {
            /* TLS 1.3 checks the client's certificate after the handshake:
             * its refusal may come as an alert or as a connection reset. */
            if (rq->cert)
                snprintf(err, errlen, "%s dropped the TLS connection before answering (%s): "
                         "did it refuse the client certificate %s? it wants one signed by a "
                         "CA it trusts", hp, m, rq->cert);
            else
                snprintf(err, errlen, "%s dropped the TLS connection before answering (%s): "
                         "if it wants a client certificate, give -cert FILE and -key FILE",
                         hp, m);
            return CLI_EXIT_CONNECT;
        }
        if (code == CURLE_SSL_CONNECT_ERROR) {
            snprintf(err, errlen, "TLS handshake with %s failed (%s)%s", hp, m,
                     has(m, "wrong version") || has(m, "packet length")
                         ? ": is it serving plain http? try http://" : "");
            return CLI_EXIT_CONNECT;
        }
        snprintf(err, errlen, "%s: the connection broke: %s", hp, m);
        return CLI_EXIT_SERVER;
    case CURLE_GOT_NOTHING:
        snprintf(err, errlen, "%s closed the connection without answering (not an HTTP "
                 "server, or it refused the request)", hp);
        return CLI_EXIT_SERVER;
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_WEIRD_SERVER_REPLY:
        snprintf(err, errlen, "not an HTTP answer from %s (%s)%s", hp, m,
                 rq->tls ? "" : "; if it serves TLS, use https://");
        return CLI_EXIT_SERVER;
    case CURLE_PARTIAL_FILE:
        snprintf(err, errlen, "%s: the connection closed before the whole answer came (%s)",
                 hp, m);
        return CLI_EXIT_SERVER;
    case CURLE_TOO_MANY_REDIRECTS:
        snprintf(err, errlen, "%s: more than %ld redirects (a loop?)", hp, rq->max_redirs);
        return CLI_EXIT_SERVER;
    case CURLE_WRITE_ERROR:
        snprintf(err, errlen, "cannot store the answer: %s", strerror(os_errno ? (int)os_errno : EIO));
        return CLI_EXIT_FAIL;
    case CURLE_OUT_OF_MEMORY:
        snprintf(err, errlen, "out of memory");
        return CLI_EXIT_FAIL;
    case CURLE_URL_MALFORMAT:
        snprintf(err, errlen, "-remote: libcurl cannot use the URL (%s)", m);
        return CLI_EXIT_USAGE;
    default:
        if (at_proxy)
            snprintf(err, errlen, "%s, through the proxy %s (from $%s): %s", hp, phost, pvar, m);
        else
            snprintf(err, errlen, "%s: %s", hp, m);
        return CLI_EXIT_SERVER;
    }
}

/* ---- the transfer ---- */

typedef struct xfer {
    const cli_http_req *rq;
    cli_http_resp *rs;
    double last;       /* time of the last byte from the server */
    int sink_errno;
} xfer;

static size_t on_header(char *data, size_t size, size_t nitems, void *ctx)
{
    xfer *x = ctx;
    cli_http_resp *rs = x->rs;
    size_t n = size * nitems, l = n;
    x->last = pf_mono_s();
    while (l > 0 && (data[l - 1] == '\r' || data[l - 1] == '\n'))
        l--;
    char line[2048];
    snprintf(line, sizeof line, "%.*s", (int)(l < sizeof line ? l : sizeof line - 1), data);
    int st, k = 0;
    if (strncmp(line, "HTTP/", 5) == 0 && sscanf(line, "HTTP/%*s %3d%n", &st, &k) == 1) {
        /* a new answer (after a 1xx or a redirect): forget the last one */
        memset(rs, 0, sizeof *rs);
        rs->status = st;
        snprintf(rs->reason, sizeof rs->reason, "%s", line + k + strspn(line + k, " "));
        return n;
    }
    char *colon = strchr(line, ':');
    if (colon == NULL)
        return n;
    *colon = '\0';
    char *v = colon + 1 + strspn(colon + 1, " \t");
    if (strcasecmp(line, "Content-Type") == 0)
        snprintf(rs->content_type, sizeof rs->content_type, "%s", v);
    else if (strcasecmp(line, "X-Takhin-Cpu-Hz") == 0)
        snprintf(rs->cpu_hz, sizeof rs->cpu_hz, "%s", v);
    else if (strcasecmp(line, "X-Takhin-Past-Available") == 0)
        snprintf(rs->past_available, sizeof rs->past_available, "%s", v);
    else if (strcasecmp(line, "Location") == 0)
        snprintf(rs->location, sizeof rs->location, "%s", v);
    else if (strcasecmp(line, "X-Go-Pprof") == 0)
        rs->go_pprof = true;
    return n;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ctx)
{
    xfer *x = ctx;
    cli_http_resp *rs = x->rs;
    size_t n = size * nmemb;
    x->last = pf_mono_s();
    if (rs->status >= 200 && rs->status < 300) {
        if (x->rq->sink && x->rq->sink(x->rq->sink_ctx, data, n) != 0) {
            x->sink_errno = errno ? errno : EIO;
            return 0; /* CURLE_WRITE_ERROR */
        }
    } else if (rs->body_bytes < sizeof rs->body - 1) {
        size_t k = sizeof rs->body - 1 - rs->body_bytes;
        k = n < k ? n : k;
        memcpy(rs->body + rs->body_bytes, data, k);
        rs->body[rs->body_bytes + k] = '\0';
    }
    rs->body_bytes += n;
    return n;
}

static CURLcode setup(const cli_curl_api *curl, CURL *h, const cli_http_req *rq, xfer *x,
                      char *errbuf)
{
    CURLcode c = CURLE_OK;
    /* Through the table libcurl's type checks of setopt do not apply:
     * values are long, curl_off_t, a pointer or a callback, as each
     * option's documentation says. */
#define SET(opt, val) do { if (c == CURLE_OK) c = curl->easy_setopt(h, opt, val); } while (0)
    SET(CURLOPT_URL, rq->url);
    SET(CURLOPT_ERRORBUFFER, errbuf);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_USERAGENT, "takhin-profiler/1");
    SET(CURLOPT_CONNECTTIMEOUT_MS, rq->connect_timeout_ms);
    SET(CURLOPT_FOLLOWLOCATION, rq->follow ? 1L : 0L);
    SET(CURLOPT_MAXREDIRS, rq->max_redirs);
    SET(CURLOPT_HEADERFUNCTION, on_header);
    SET(CURLOPT_HEADERDATA, x);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, x);
    if (rq->auth == CLI_AUTH_BASIC) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        SET(CURLOPT_USERNAME, rq->user);
        SET(CURLOPT_PASSWORD, rq->secret);
    } else if (rq->auth == CLI_AUTH_BEARER) {
        SET(CURLOPT_HTTPAUTH, (long)CURLAUTH_BEARER);
        SET(CURLOPT_XOAUTH2_BEARER, rq->secret);
    }
    if (rq->tls) {
        if (rq->ca)
            SET(CURLOPT_CAINFO, rq->ca);
        if (rq->cert) {
            SET(CURLOPT_SSLCERT, rq->cert);
            SET(CURLOPT_SSLCERTTYPE, "PEM");
        }
        if (rq->key) {
            SET(CURLOPT_SSLKEY, rq->key);
            SET(CURLOPT_SSLKEYTYPE, "PEM");
        }
        SET(CURLOPT_SSL_VERIFYPEER, rq->verify ? 1L : 0L);
        SET(CURLOPT_SSL_VERIFYHOST, rq->verify ? 2L : 0L);
    }
#undef SET
    return c;
}

/* Runs the transfer, ticking and watching the idle time. Returns the
 * CURLcode, -1 when the server stayed silent past the idle timeout, -2
 * when rq->cancel asked to stop, or -3 past the total timeout. */
static int run(const cli_curl_api *curl, CURLM *m, CURL *h, const cli_http_req *rq, xfer *x)
{
    int running = 1;
    double last_tick = pf_mono_s(), start = last_tick;
    x->last = last_tick;
    while (running) {
        if (curl->multi_perform(m, &running) != CURLM_OK)
            return CURLE_FAILED_INIT;
        if (!running)
            break;
        if (curl->multi_poll(m, NULL, 0, TICK_MS, NULL) != CURLM_OK)
            return CURLE_FAILED_INIT;
        double t = pf_mono_s();
        if (rq->tick && t - last_tick >= TICK_MS / 1000.0 * 0.9) {
            rq->tick(rq->tick_ctx);
            last_tick = t;
        }
        if (rq->idle_timeout > 0 && t - x->last > rq->idle_timeout)
            return -1;
        if (rq->total_timeout > 0 && t - start > rq->total_timeout)
            return -3;
        if (rq->cancel && *rq->cancel)
            return -2;
    }
    int left;
    CURLMsg *msg;
    while ((msg = curl->multi_info_read(m, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == h)
            return (int)msg->data.result;
    }
    return CURLE_FAILED_INIT;
}

int cli_http_get(const cli_http_req *rq, cli_http_resp *rs, char *err, size_t errlen)
{
    memset(rs, 0, sizeof *rs);
    err[0] = '\0';
    const cli_curl_api *curl = cli_curl(err, errlen);
    if (curl == NULL)
        return CLI_EXIT_FAIL;
    char errbuf[CURL_ERROR_SIZE] = "";
    xfer x = {rq, rs, 0, 0};
    CURL *h = curl->easy_init();
    CURLM *m = curl->multi_init();
    int rc = CLI_OK;
    CURLcode sc = h && m ? setup(curl, h, rq, &x, errbuf) : CURLE_OUT_OF_MEMORY;
    if (sc != CURLE_OK) {
        snprintf(err, errlen, "libcurl: %s", curl->easy_strerror(sc));
        rc = CLI_EXIT_FAIL;
    } else if (curl->multi_add_handle(m, h) != CURLM_OK) {
        snprintf(err, errlen, "libcurl: cannot start the transfer");
        rc = CLI_EXIT_FAIL;
    } else {
        int code = run(curl, m, h, rq, &x);
        if (code == -2) {
            snprintf(err, errlen, "cancelled (shutting down)");
            rc = CLI_EXIT_FAIL;
        } else if (code == -3) {
            snprintf(err, errlen, "%s did not send the whole answer within %gs (the profile's "
                     "seconds + -timeout): cut off", rq->hostport, rq->total_timeout);
            rc = CLI_EXIT_SERVER;
        } else if (code == -1) {
            snprintf(err, errlen, "no data from %s for %gs (read timeout; -timeout)",
                     rq->hostport, rq->idle_timeout);
            rc = CLI_EXIT_SERVER;
        } else if (code != CURLE_OK) {
            long os_errno = 0;
            curl_off_t connect_us = 0;
            curl->easy_getinfo(h, CURLINFO_OS_ERRNO, &os_errno);
            /* connected: TCP, and TLS over it when https (a handshake
             * that stalls is a connect timeout too) */
            curl->easy_getinfo(h, rq->tls ? CURLINFO_APPCONNECT_TIME_T : CURLINFO_CONNECT_TIME_T,
                               &connect_us);
            if (code == CURLE_WRITE_ERROR)
                os_errno = x.sink_errno;
            rc = cli_http_explain(rq, code, os_errno, errbuf, connect_us > 0, rs->status != 0,
                                  err, errlen);
        }
        curl->multi_remove_handle(m, h);
    }
    curl->multi_cleanup(m);
    curl->easy_cleanup(h);
    return rc;
}
