/* leak - keeps 1000 blocks of 4 KiB allocated by leaky() and frees
 * everything churn() allocates: a heap profile at exit shows leaky. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void *volatile keep[1000];

__attribute__((noinline)) static void *leaky(size_t n)
{
    void *p = malloc(n);
    memset(p, 1, n);
    return p;
}

__attribute__((noinline)) static void churn(void)
{
    for (int i = 0; i < 10000; i++) {
        char *volatile p = malloc(1000 + (size_t)(i % 100));
        p[0] = 2;
        free(p);
    }
}

int main(void)
{
    for (int i = 0; i < 1000; i++)
        keep[i] = leaky(4096);
    churn();
    printf("done\n");
    return 0;
}
