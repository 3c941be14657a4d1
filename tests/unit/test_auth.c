/*
 * Who may read profiles (plugin/core/auth.c): Bearer and Basic, wrong and
 * malformed credentials, loopback addresses (secrets and their files:
 * test_settings).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/auth.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void test_no_token_lets_everyone_in(void **state)
{
    (void)state;
    assert_true(prof_auth_check("", NULL));
    assert_true(prof_auth_check("", "Bearer anything"));
}

static void test_bearer(void **state)
{
    (void)state;
    assert_true(prof_auth_check("s3cret", "Bearer s3cret"));
    assert_true(prof_auth_check("s3cret", "bearer s3cret")); /* the scheme is case-blind */
    assert_false(prof_auth_check("s3cret", "Bearer s3cre"));
    assert_false(prof_auth_check("s3cret", "Bearer s3cret2"));
    assert_false(prof_auth_check("s3cret", "Bearer "));
    assert_false(prof_auth_check("s3cret", NULL));
    assert_false(prof_auth_check("s3cret", "s3cret"));
    assert_false(prof_auth_check("s3cret", "Token s3cret"));
}

static void test_basic_takes_the_password(void **state)
{
    (void)state;
    /* base64("user:s3cret"), base64(":s3cret"), base64("s3cret:user") */
    assert_true(prof_auth_check("s3cret", "Basic dXNlcjpzM2NyZXQ="));
    assert_true(prof_auth_check("s3cret", "Basic OnMzY3JldA=="));
    assert_false(prof_auth_check("s3cret", "Basic czNjcmV0OnVzZXI="));
    assert_false(prof_auth_check("s3cret", "Basic not*base64"));
    assert_false(prof_auth_check("s3cret", "Basic czNjcmV0")); /* "s3cret": no colon */
    assert_false(prof_auth_check("s3cret", "Basic "));
}

static void test_loopback(void **state)
{
    (void)state;
    assert_true(prof_auth_is_loopback("127.0.0.1"));
    assert_true(prof_auth_is_loopback("127.255.0.9"));
    assert_true(prof_auth_is_loopback("localhost"));
    assert_false(prof_auth_is_loopback("0.0.0.0"));
    assert_false(prof_auth_is_loopback("10.0.0.1"));
    assert_false(prof_auth_is_loopback("128.0.0.1"));
    assert_false(prof_auth_is_loopback("localhost.example"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_token_lets_everyone_in),
        cmocka_unit_test(test_bearer),
        cmocka_unit_test(test_basic_takes_the_password),
        cmocka_unit_test(test_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
