/* burn - a small CPU-bound program for takhin-profiler's local-run tests:
 * a recursive function (fib) and a loop (spin), 3:1, returning from main
 * so that gperftools writes its profile at exit. */
#include <stdio.h>

static volatile unsigned long sink;

__attribute__((noinline)) static unsigned long fib(unsigned n)
{
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

__attribute__((noinline)) static void spin(unsigned long n)
{
    for (unsigned long i = 0; i < n; i++)
        sink += i * 2654435761u;
}

int main(void)
{
    for (int round = 0; round < 6; round++) {
        sink += fib(32);
        spin(60000000);
    }
    printf("%lu\n", sink);
    return 0;
}
