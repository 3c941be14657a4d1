/* Lists of changed keys: see keys.h. */
#include "core/keys.h"

#include <stdio.h>
#include <string.h>

void prof_keys_note(prof_keys *k, bool differs, const char *key)
{
    if (!differs)
        return;
    size_t n = strlen(k->buf);
    if (n < k->len)
        snprintf(k->buf + n, k->len - n, "%s%s", n ? ", " : "", key);
    k->count++;
}
