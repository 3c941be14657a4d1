/*
 * fuzz_symbol - the body of POST /debug/pprof/symbol ("0xA+0xB+...").
 *
 * prof_symbol_parse with the handler's bound (len / 2 + 1 addresses) and
 * with tight bounds (0, 1, 3), then, as the handler does, the first
 * addresses parsed are looked up with pf_symbolize_name in this process
 * (arbitrary addresses from a client must never crash the server).
 * Invariants: a count never exceeds the bound; -1 comes with a message.
 */
#include "fuzz.h"

#include "pf_symbolize.h"
#include "profiles/symbol.h"

#include <string.h>

static pf_symbolizer *sym;

static long parse(const char *body, size_t len, uint64_t *addrs, size_t max)
{
    char err[256] = "";
    long n = prof_symbol_parse(body, len, addrs, max, err, sizeof err);
    FUZZ_ASSERT(n >= -1 && n <= (long)max, "count %ld for a bound of %zu", n, max);
    FUZZ_ASSERT(n >= 0 || err[0] != '\0', "refused without a message");
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    if (sym == NULL) {
        pf_err e = {0};
        sym = pf_symbolizer_new(&e);
        FUZZ_ASSERT(sym != NULL, "symbolizer: %s", e.msg);
    }
    const char *body = (const char *)data; /* not NUL-terminated, as from mg_read */
    size_t max = size / 2 + 1;
    uint64_t *addrs = malloc(max * sizeof *addrs);
    FUZZ_ASSERT(addrs != NULL, "out of memory");
    long n = parse(body, size, addrs, max);
    for (long i = 0; i < n && i < 8; i++) {
        char name[1024];
        if (pf_symbolize_name(sym, addrs[i], name, sizeof name))
            FUZZ_ASSERT(memchr(name, '\0', sizeof name) != NULL, "name not terminated");
    }
    parse(body, size, addrs, 0);
    parse(body, size, addrs, 1);
    if (max >= 3)
        parse(body, size, addrs, 3);
    free(addrs);
    return 0;
}
