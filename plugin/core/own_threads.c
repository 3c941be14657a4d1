/* The profiler's own HTTP threads: see own_threads.h. */
#include "core/own_threads.h"

#include <pthread.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct {
    pthread_mutex_t lock;
    pid_t tid[PROF_OWN_THREADS_MAX];
    size_t n;
} own = {.lock = PTHREAD_MUTEX_INITIALIZER};

void prof_own_thread_mark(bool on)
{
    pid_t self = (pid_t)syscall(SYS_gettid);
    pthread_mutex_lock(&own.lock);
    size_t i = 0;
    while (i < own.n && own.tid[i] != self)
        i++;
    if (on && i == own.n && own.n < PROF_OWN_THREADS_MAX)
        own.tid[own.n++] = self;
    else if (!on && i < own.n)
        own.tid[i] = own.tid[--own.n];
    pthread_mutex_unlock(&own.lock);
}

bool prof_own_thread_is(pid_t tid)
{
    pthread_mutex_lock(&own.lock);
    bool found = false;
    for (size_t i = 0; i < own.n && !found; i++)
        found = own.tid[i] == tid;
    pthread_mutex_unlock(&own.lock);
    return found;
}
