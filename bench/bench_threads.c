/* bench_threads.c - latency of a capture of every thread's stack
 * (plugin/capture/threads.c) at 10, 100 and 1000 threads.
 *
 * The threads wait as a server's do, a few calls deep: half in
 * pthread_cond_wait, half in nanosleep (cut short by each capture, as in
 * the reference server's producers). After two warm-up captures, each
 * size is captured `rounds` times; printed: the minimum, median and maximum
 * of the whole call (listing /proc/self/task, signalling, waiting, copying)
 * and of the signal round trip alone, and the mean depth of the stacks.
 *
 * Usage: bench_threads [rounds (default 11)] [sizes... (default 10 100 1000)]
 */
#include "capture/threads.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static _Atomic bool stop;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static __attribute__((noinline)) void wait_cond(void)
{
    pthread_mutex_lock(&lock);
    while (!atomic_load(&stop))
        pthread_cond_wait(&cond, &lock);
    pthread_mutex_unlock(&lock);
}

static __attribute__((noinline)) void wait_sleep(void)
{
    while (!atomic_load(&stop)) {
        struct timespec ts = {0, 200 * 1000000L};
        nanosleep(&ts, NULL);
    }
}

static __attribute__((noinline)) void serve(long i)
{
    if (i % 2)
        wait_sleep();
    else
        wait_cond();
}

static void *thread_main(void *arg)
{
    serve((long)(intptr_t)arg);
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One size: `n` threads of ours, `rounds` captures. */
static int run(int n, int rounds)
{
    pthread_t *th = calloc((size_t)n, sizeof *th);
    double *total = calloc((size_t)rounds, sizeof *total);
    double *trip = calloc((size_t)rounds, sizeof *trip);
    if (th == NULL || total == NULL || trip == NULL)
        return -1;
    atomic_store(&stop, false);
    for (int i = 0; i < n; i++)
        if (pthread_create(&th[i], NULL, thread_main, (void *)(intptr_t)i) != 0)
            return -1;
    struct timespec settle = {0, 100 * 1000000L};
    nanosleep(&settle, NULL);
    char err[256];
    prof_threads_dump d;
    size_t frames = 0, threads = 0, missing = 0;
    for (int r = -2; r < rounds; r++) {
        double t0 = now_ms();
        if (prof_threads_capture(&d, false, err, sizeof err) != 0) {
            fprintf(stderr, "capture: %s\n", err);
            return -1;
        }
        if (r >= 0) {
            total[r] = now_ms() - t0;
            trip[r] = d.capture_ms;
            for (size_t i = 0; i < d.len; i++) {
                frames += d.thread[i].depth;
                missing += d.thread[i].status != PROF_THREAD_OK;
            }
            threads += d.len;
        }
        prof_threads_dump_free(&d);
    }
    qsort(total, (size_t)rounds, sizeof *total, cmp_double);
    qsort(trip, (size_t)rounds, sizeof *trip, cmp_double);
    printf("%5d threads  capture min %7.2f median %7.2f ms  max %7.2f ms   signal round trip "
           "median %7.2f ms  max %7.2f ms   %.1f frames/thread, %zu without stack\n",
           n, total[0], total[rounds / 2], total[rounds - 1], trip[rounds / 2], trip[rounds - 1],
           (double)frames / (double)threads, missing);
    atomic_store(&stop, true);
    pthread_mutex_lock(&lock);
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < n; i++)
        pthread_join(th[i], NULL);
    free(th);
    free(total);
    free(trip);
    return 0;
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 11;
    char err[256];
    if (rounds < 1 || prof_threads_init(err, sizeof err) != 0) {
        fprintf(stderr, "usage: bench_threads [rounds] [sizes...]; init: %s\n",
                rounds < 1 ? "bad rounds" : err);
        return 2;
    }
    printf("signal %d, timeout %d ms, max depth %d, %ld CPUs\n", prof_threads_signal(),
           PROF_THREADS_TIMEOUT_MS, PROF_THREADS_MAX_DEPTH, sysconf(_SC_NPROCESSORS_ONLN));
    static const int sizes[] = {10, 100, 1000};
    int rc = 0;
    if (argc > 2)
        for (int i = 2; i < argc && rc == 0; i++)
            rc = run(atoi(argv[i]), rounds);
    else
        for (size_t i = 0; i < sizeof sizes / sizeof *sizes && rc == 0; i++)
            rc = run(sizes[i], rounds);
    prof_threads_fini();
    return rc == 0 ? 0 : 1;
}
