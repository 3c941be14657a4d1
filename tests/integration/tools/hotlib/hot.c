/* hot.c - a library that burns some CPU in a static function from a
 * thread its constructor starts; test_symbols.sh builds it once per
 * variant (-DHOT=name gives each copy its own function and build ID),
 * strips it and preloads the copies into takhind. */
#include <pthread.h>
#include <time.h>

#ifndef HOT
#define HOT tk_hot
#endif

static volatile unsigned long sink;

/* Static: not in .dynsym, so only a symbol table names it. */
__attribute__((noinline)) static unsigned long HOT(unsigned long x)
{
    for (int i = 0; i < 1000000; i++)
        x = x * 6364136223846793005UL + 1442695040888963407UL;
    return x;
}

/* About 5 % of a core: work, then sleep. */
static void *burn(void *arg)
{
    struct timespec pause = {0, 19 * 1000 * 1000};
    for (;;) {
        sink = HOT(sink);
        nanosleep(&pause, NULL);
    }
    return arg;
}

__attribute__((constructor)) static void start(void)
{
    pthread_t t;
    if (pthread_create(&t, NULL, burn, NULL) == 0)
        pthread_detach(t);
}
