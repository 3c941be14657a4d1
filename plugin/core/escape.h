/*
 * plugin/core/escape.h - making text that came from a peer safe for the log.
 *
 * The log is one line per event, read in terminals and by log shippers: a
 * decoded path with %0a in it would forge a line of its own, %1b would
 * drive the reader's terminal. Every string a client chose (path, query,
 * method, header values, civetweb's messages about a request) goes
 * through prof_escape before it is logged.
 */
#ifndef TAKHIN_PLUGIN_ESCAPE_H
#define TAKHIN_PLUGIN_ESCAPE_H

#include "pf_util.h"

#include <stddef.h>

/* Copies in[0..len) into out (always NUL-terminated when outlen > 0)
 * with: a backslash doubled; a control character (C0, DEL, and the C1
 * range U+0080..U+009F) and every byte that is not part of well-formed
 * UTF-8 written as \xNN; other UTF-8 kept as it is. The result is one
 * line of valid UTF-8 with no control character, and the escaping can be
 * undone without ambiguity. When out is too small the result ends with
 * "..." at a character boundary. Returns out. */
char *prof_escape(char *out, size_t outlen, const char *in, size_t len);
/* The same for a C string; NULL gives "". */
char *prof_escape_str(char *out, size_t outlen, const char *in);

/* s as a JSON string, quotes included, appended to out (status JSON). */
void prof_json_string(pf_strbuf *out, const char *s);

/* A buffer for one escaped field of a log line. */
#define PROF_ESCAPED_MAX 512

#endif
