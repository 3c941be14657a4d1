/*
 * takhin/host/admin.h - the admin command channel.
 *
 * A Unix stream socket (mode 0600). Wire protocol, one command per
 * connection: the client writes one line (at most TKH_ADMIN_MAX_LINE bytes,
 * ending in '\n'); the server answers "ok\n" or "error\n", then the reply
 * text, and closes. Words are split on blanks; "double" or 'single' quotes
 * group words, and backslash escapes the next character except inside
 * 'single' quotes. Control characters other than tab are rejected.
 *
 * Commands are "<prefix> <word> [args...]" (e.g. "profiler status") or a
 * bare prefix with word NULL (e.g. "help"). Handlers run one at a time on
 * the admin thread. "help" is built in and lists every command's usage.
 */
#ifndef TAKHIN_HOST_ADMIN_H
#define TAKHIN_HOST_ADMIN_H

#include "takhin/plugin.h"

#define TKH_ADMIN_MAX_LINE 4096
#define TKH_ADMIN_MAX_ARGS 32

typedef struct tkh_admin tkh_admin;

/* A handler: argv[0] is the first word after the command; ctx as registered. */
typedef int (*tkh_command_fn)(void *ctx, int argc, char **argv, tk_reply *reply);

tkh_admin *tkh_admin_new(void);
/* Stops the listener if running, unlinks the socket, frees everything. */
void tkh_admin_free(tkh_admin *admin);

/* Registers "prefix word" (word may be NULL for a one-word command).
 * 0, or EEXIST when taken, EINVAL for an empty or blank name. */
int tkh_admin_register(tkh_admin *admin, const char *prefix, const char *word,
                       const char *usage, tkh_command_fn fn, void *ctx);
/* Removes every command registered with `ctx` (a plugin being unloaded). */
void tkh_admin_unregister_ctx(tkh_admin *admin, void *ctx);

/* Creates the socket at `path` with mode 0600 and starts the admin thread.
 * A stale socket file (nobody listening) is replaced; a live one, or any
 * other file at that path, is an error. 0, or -1 with err. */
int tkh_admin_listen(tkh_admin *admin, const char *path, char *err, size_t errlen);
/* Stops the admin thread and removes the socket file. Idempotent. */
void tkh_admin_stop(tkh_admin *admin);

/* Parses one command line and runs it; what the admin thread does for
 * each connection. Returns the handler's status (0 = ok). */
int tkh_admin_execute(tkh_admin *admin, const char *line, tk_reply *reply);

/* Splits `line` in place into words. Returns the word count, or -1 with
 * err (unterminated quote, too many words, a control character). */
int tkh_admin_split(char *line, char **argv, int max, char *err, size_t errlen);

/* Replies: a growable text buffer. */
tk_reply *tkh_reply_new(void);
void tkh_reply_free(tk_reply *reply);
void tkh_reply_printf(tk_reply *reply, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void tkh_reply_vprintf(tk_reply *reply, const char *fmt, va_list ap);
const char *tkh_reply_text(const tk_reply *reply); /* never NULL */

/* Client side: sends `line` to the socket at `path`, stores the reply text
 * in *text (malloc'd, caller frees). Returns 0 (ok), 1 (the command failed),
 * or -1 with err (cannot connect, protocol error). `timeout_ms` bounds
 * connect, send and receive. */
int tkh_admin_call(const char *path, const char *line, int timeout_ms,
                   char **text, char *err, size_t errlen);

#endif
