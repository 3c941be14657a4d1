/* CRC-32C: see crc32c.h. */
#include "crc32c.h"

#include <pthread.h>

static uint32_t crc32c_table[256];
static pthread_once_t crc32c_once = PTHREAD_ONCE_INIT;

static void crc32c_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0x82f63b78u ^ (c >> 1) : c >> 1;
        crc32c_table[i] = c;
    }
}

/* Out of line: profiles of the produce path show it by name. */
__attribute__((noinline)) uint32_t crc32c(const unsigned char *p, size_t len)
{
    pthread_once(&crc32c_once, crc32c_init);
    uint32_t crc = ~0u;
    while (len--)
        crc = crc32c_table[(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return ~crc;
}
