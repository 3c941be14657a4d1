/* The profiler's own threads: see own_threads.h. */
#include "core/own_threads.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

typedef struct {
    char name[16];
    void *(*fn)(void *);
    void *arg;
} spawn_call;

static void *spawn_main(void *arg)
{
    spawn_call call = *(spawn_call *)arg;
    free(arg);
    prctl(PR_SET_NAME, call.name);
    return call.fn(call.arg);
}

int prof_thread_spawn(pthread_t *t, const char *name, size_t stack_bytes, void *(*fn)(void *),
                      void *arg)
{
    spawn_call *call = malloc(sizeof *call);
    if (call == NULL)
        return ENOMEM;
    *call = (spawn_call){.fn = fn, .arg = arg};
    strncpy(call->name, name, sizeof call->name - 1);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (stack_bytes > 0)
        pthread_attr_setstacksize(&attr, stack_bytes);
    int rc = pthread_create(t, &attr, spawn_main, call);
    pthread_attr_destroy(&attr);
    if (rc != 0)
        free(call);
    return rc;
}

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
