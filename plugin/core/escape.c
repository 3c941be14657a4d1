/* Escaping peer-supplied text for the log: see escape.h. */
#include "core/escape.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* Length of the well-formed UTF-8 sequence at s[0..len) (RFC 3629: no
 * overlong form, no surrogate, nothing above U+10FFFF), or 0. Sets *cp. */
static size_t utf8_seq(const unsigned char *s, size_t len, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        n = 2, v = c & 0x1f, min = 0x80;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3, v = c & 0x0f, min = 0x800;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if (len < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
        return 0;
    *cp = v;
    return n;
}

/* The escaped form of the character at s[i..len) into piece (16 bytes at
 * most); returns its length and sets *used to the input bytes taken. */
static size_t piece_at(const unsigned char *s, size_t len, size_t i, char *piece, size_t *used)
{
    static const char hex[] = "0123456789abcdef";
    size_t pn = 0;
    uint32_t cp = 0;
    size_t n = utf8_seq(s + i, len - i, &cp);
    if (n == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f)) {
        n = n == 0 ? 1 : n; /* a control character: all its bytes */
        for (size_t k = 0; k < n; k++) {
            piece[pn++] = '\\';
            piece[pn++] = 'x';
            piece[pn++] = hex[s[i + k] >> 4];
            piece[pn++] = hex[s[i + k] & 15];
        }
    } else if (cp == '\\') {
        piece[pn++] = '\\';
        piece[pn++] = '\\';
    } else {
        memcpy(piece, s + i, n);
        pn = n;
    }
    *used = n;
    return pn;
}

char *prof_escape(char *out, size_t outlen, const char *in, size_t len)
{
    if (outlen == 0)
        return out;
    const unsigned char *s = (const unsigned char *)(in ? in : "");
    if (in == NULL)
        len = 0;
    char piece[16];
    size_t total = 0, used;
    for (size_t i = 0; i < len && total < outlen; i += used)
        total += piece_at(s, len, i, piece, &used);
    /* When it does not all fit, keep room for "..." after the last piece. */
    size_t room = total < outlen ? outlen - 1 : (outlen > 4 ? outlen - 4 : 0);
    size_t o = 0;
    for (size_t i = 0; i < len; i += used) {
        size_t pn = piece_at(s, len, i, piece, &used);
        if (o + pn > room)
            break;
        memcpy(out + o, piece, pn);
        o += pn;
    }
    if (total >= outlen && outlen > 4) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o] = '\0';
    return out;
}

char *prof_escape_str(char *out, size_t outlen, const char *in)
{
    return prof_escape(out, outlen, in, in ? strlen(in) : 0);
}

void prof_json_string(pf_strbuf *out, const char *s)
{
    pf_strbuf_printf(out, "\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            pf_strbuf_printf(out, "\\%c", c);
        else if (c < 0x20)
            pf_strbuf_printf(out, "\\u%04x", c);
        else
            pf_strbuf_printf(out, "%c", c);
    }
    pf_strbuf_printf(out, "\"");
}
