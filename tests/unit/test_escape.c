/*
 * prof_escape: what a client sends is logged on one line, printable,
 * and can be told apart from what the server writes (issue 17 #4).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/escape.h"

#include <string.h>

static const char *esc(const char *in, size_t len)
{
    static char out[256];
    return prof_escape(out, sizeof out, in, len);
}
#define ESC(lit) esc(lit, sizeof lit - 1)

static void test_controls_and_newlines(void **state)
{
    (void)state;
    assert_string_equal(ESC("/\n2026-01-01T00:00:00.000Z ERROR [host] forged\x1b[31m"),
                        "/\\x0a2026-01-01T00:00:00.000Z ERROR [host] forged\\x1b[31m");
    assert_string_equal(ESC("a\rb\tc\x7f"), "a\\x0db\\x09c\\x7f");
    assert_string_equal(ESC("nul\0tail"), "nul\\x00tail");
}

static void test_backslash_doubled(void **state)
{
    (void)state;
    /* "\x0a" sent literally must not read as an escaped newline. */
    assert_string_equal(ESC("a\\x0ab\\"), "a\\\\x0ab\\\\");
}

static void test_utf8_kept_bad_bytes_escaped(void **state)
{
    (void)state;
    assert_string_equal(ESC("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
                        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    assert_string_equal(ESC("\xff\xfe"), "\\xff\\xfe");
    assert_string_equal(ESC("\xc0\xaf"), "\\xc0\\xaf");           /* overlong '/' */
    assert_string_equal(ESC("\xed\xa0\x80"), "\\xed\\xa0\\x80");  /* a surrogate */
    assert_string_equal(ESC("\xe2\x82"), "\\xe2\\x82");           /* cut short */
    assert_string_equal(ESC("\xc2\x9b[2J"), "\\xc2\\x9b[2J");     /* C1 CSI */
}

static void test_truncation(void **state)
{
    (void)state;
    char out[8];
    memset(out, 'Z', sizeof out);
    prof_escape(out, 8, "abcdefghijkl", 12);
    assert_string_equal(out, "abcd...");
    prof_escape(out, 8, "ab\ncdef", 7);
    assert_string_equal(out, "ab...");
    prof_escape(out, 8, "abcdefg", 7);
    assert_string_equal(out, "abcdefg");
    assert_string_equal(prof_escape_str(out, sizeof out, NULL), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_controls_and_newlines),
        cmocka_unit_test(test_backslash_doubled),
        cmocka_unit_test(test_utf8_kept_bad_bytes_escaped),
        cmocka_unit_test(test_truncation),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
