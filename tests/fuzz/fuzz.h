/*
 * tests/fuzz/fuzz.h - what every fuzz target in tests/fuzz/<name>/ defines.
 *
 * Built two ways (see the Makefile's robustness block):
 *  - with clang -fsanitize=fuzzer,address into build/fuzz/fuzz_<name>:
 *    libFuzzer drives it (make fuzz FUZZ_SECONDS=N);
 *  - with the project's compiler and tests/fuzz/replay.c as main into
 *    $(BUILD)/fuzz-replay/fuzz_<name>: replays the seeds and every input
 *    that once crashed (tests/fuzz/<name>/seeds/, make fuzz-regress, run by
 *    make test and, under ASan+UBSan, by make check-sanitize).
 * A target returns 0, and aborts on a broken invariant (libFuzzer reports
 * the abort as a crash; the replay exits non-zero).
 */
#ifndef TK_FUZZ_H
#define TK_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Aborts with a message when `cond` is false: a finding. */
#define FUZZ_ASSERT(cond, ...)                                                     \
    do {                                                                           \
        if (!(cond)) {                                                             \
            fprintf(stderr, "%s:%d: invariant broken: %s: ", __FILE__, __LINE__, #cond); \
            fprintf(stderr, __VA_ARGS__);                                          \
            fputc('\n', stderr);                                                   \
            abort();                                                               \
        }                                                                          \
    } while (0)

/* A NUL-terminated copy of data[0..size) (the parsers under test take C
 * strings); the caller frees it. */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    if (s == NULL)
        abort();
    for (size_t i = 0; i < size; i++)
        s[i] = (char)data[i];
    s[size] = '\0';
    return s;
}

#endif
