/* bench/bench_args.h - argument helpers shared by the bench programs. */
#ifndef TAKHIN_BENCH_ARGS_H
#define TAKHIN_BENCH_ARGS_H

#include <stdbool.h>
#include <string.h>

/* Whether `name` is one of the comma-separated `list`. */
static inline bool bench_listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p != NULL; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
        if (strncmp(p, name, n) == 0 && (p[n] == ',' || p[n] == '\0'))
            return true;
    return false;
}

#endif
