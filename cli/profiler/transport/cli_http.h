/*
 * cli_http.h - takhin-profiler's transport, on libcurl: -remote parsing
 * (HOST:PORT or http[s]://[user:TOKEN@]host[:port][/prefix], IPv6 in
 * brackets), the request plan the flags make (URL, Bearer or Basic
 * credentials, TLS files, redirects, timeouts), a GET that streams a 2xx
 * body to a sink with a tick for the progress bar and an idle timeout,
 * and plain-language messages and exit codes for libcurl's failures.
 * Proxies come from the environment as libcurl reads it (http_proxy,
 * https_proxy, all_proxy, no_proxy): nothing here overrides them.
 */
#ifndef CLI_HTTP_H
#define CLI_HTTP_H

#include <stdbool.h>
#include <stddef.h>

typedef int (*cli_sink_fn)(void *ctx, const void *data, size_t len); /* 0 ok */
typedef void (*cli_tick_fn)(void *ctx);

/* A parsed -remote. */
typedef struct cli_remote {
    bool tls;           /* https:// */
    bool url_form;      /* given as a URL (scheme://...) */
    char host[256];     /* IPv6 without its brackets */
    char port[8];
    char prefix[512];   /* "" or "/path" with no trailing slash */
    bool has_user;      /* user:TOKEN@ was given (percent-decoded below) */
    char user[128];
    char password[512];
} cli_remote;

/* Parses -remote: "HOST:PORT", "[V6]:PORT", "HOST" (port 6060), or
 * "http[s]://[USER:TOKEN@]HOST[:PORT][/PREFIX]" (ports 80 and 443 by
 * default; a trailing /debug/pprof[/] is dropped from the prefix). 0, or -1
 * with err (which never shows the password). */
int cli_parse_remote(const char *remote, cli_remote *r, char *err, size_t errlen);

/* "host:port" with IPv6 in brackets, for messages. */
void cli_remote_hostport(const cli_remote *r, char *buf, size_t len);

/* Transport options from the flags. */
typedef struct cli_http_conf {
    const char *token;          /* -token or $TAKHIN_PROFILER_TOKEN: Bearer */
    bool token_from_env;        /* token came from the environment */
    const char *ca, *cert, *key;/* PEM files */
    bool insecure, follow;
    double connect_timeout;     /* seconds */
} cli_http_conf;

enum cli_auth { CLI_AUTH_NONE, CLI_AUTH_BEARER, CLI_AUTH_BASIC };

/* One GET, as it will be handed to libcurl. */
typedef struct cli_http_req {
    char url[2048];
    char hostport[300];         /* for messages */
    bool tls;
    int auth;                   /* enum cli_auth */
    const char *user, *secret;  /* Basic: user and password; Bearer: secret */
    const char *ca, *cert, *key;
    bool verify;                /* check the server's certificate and name */
    bool follow;                /* follow redirects (at most max_redirs) */
    long max_redirs;
    long connect_timeout_ms;
    double idle_timeout;        /* seconds without a byte from the server */
    double total_timeout;       /* seconds for the whole transfer (0: no limit) */
    cli_sink_fn sink;           /* receives the body of a 2xx answer */
    void *sink_ctx;
    cli_tick_fn tick;           /* called about 5 times a second */
    void *tick_ctx;
    volatile int *cancel;       /* when set and *cancel != 0: the transfer ends */
} cli_http_req;

/* Fills rq for GET path (with its query) on r. Returns 0, or
 * CLI_EXIT_USAGE with err: TLS flags with an http remote, -key without
 * -cert, -token given next to user:TOKEN@ in the URL. A token from the
 * environment yields to the URL's credentials. */
int cli_http_plan(const cli_remote *r, const cli_http_conf *c, const char *path,
                  cli_http_req *rq, char *err, size_t errlen);

/* Checks that the -ca, -cert and -key files can be read. 0, or
 * CLI_EXIT_USAGE with err. */
int cli_http_check_files(const cli_http_conf *c, char *err, size_t errlen);

typedef struct cli_http_resp {
    int status;
    char reason[64];
    char content_type[128];
    char cpu_hz[128];   /* X-Takhin-Cpu-Hz, "" if absent */
    char past_available[32]; /* X-Takhin-Past-Available (the flight recorder's
                                seconds), "" if absent */
    char location[1024];/* Location of a 3xx */
    bool go_pprof;      /* X-Go-Pprof: the profiler's own error */
    size_t body_bytes;
    char body[4096];    /* the start of a non-2xx body (the server's message) */
} cli_http_resp;

/* GET. Returns 0 (any status: see rs->status), CLI_EXIT_CONNECT when the
 * server was not reached (unknown host, refused, unreachable, connect
 * timeout, proxy failure, TLS handshake or certificate refused),
 * CLI_EXIT_SERVER when the answer broke off, is not HTTP, stalled past
 * the idle timeout or took longer than the total timeout, CLI_EXIT_USAGE when a -ca, -cert or -key file is
 * unusable, or CLI_EXIT_FAIL when the sink failed; err says what happened
 * and what to do. */
int cli_http_get(const cli_http_req *rq, cli_http_resp *rs, char *err, size_t errlen);

/* What a libcurl failure means: exit code and message into err. code is
 * a CURLcode, os_errno CURLINFO_OS_ERRNO, curl_msg libcurl's error buffer,
 * connected whether a connection was made, answered whether a status line
 * came. Exposed for the unit tests. */
int cli_http_explain(const cli_http_req *rq, int code, long os_errno, const char *curl_msg,
                     bool connected, bool answered, char *err, size_t errlen);

#endif
