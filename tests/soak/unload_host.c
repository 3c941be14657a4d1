/*
 * unload_host - a minimal Takhin host that loads the profiler, uses it,
 * unloads it, and then checks that the process is unharmed. takhind loads
 * plugins at start only; this host does what a host that unloads at run
 * time would, with the host library (tkh_host_open ... tkh_host_close).
 *
 *   unload_host CONFIG [CYCLES]
 *
 * CONFIG lists the profiler plugin with the profiler enabled on port 0.
 * Each cycle: open and start the host (plugin loaded, HTTP up), take a
 * 1 s CPU profile, thread dumps, heap, allocs, a trace, the index and
 * /metrics over loopback, then close the host (plugin stopped, fini'd,
 * dlclose'd).
 *
 * After the last cycle, with the plugin closed (tkh_host_close returned:
 * stopped, fini'd, dlclose'd; the plugin pins its own code and
 * libprofiler, so their mappings may stay):
 *  1. each of the plugin's realtime signals (found while it was loaded:
 *     the stack-dump signal, plugin/capture/threads.c, and the CPU sampler's,
 *     plugin/capture/sampler.c) has the action it had before the first load;
 *  2. a copy of each queued while the plugin was loaded to a thread that
 *     blocks them (what a dump leaves behind in a thread that never
 *     answers, or a sample signal still on its way) was dropped at unload:
 *     unblocking them later is harmless;
 *  3. SIGPROF's handler is mapped code (gperftools', pinned by the
 *     plugin), and 100 SIGPROFs raised at the host do no harm;
 *  4. each of those signals, raised after unload, meets the host's own
 *     action and nothing of the plugin: with the default action (SIG_DFL,
 *     restored at unload) a forked child raising it dies of that very
 *     signal, not of a fault in a handler left in unmapped code; once the
 *     host sets SIG_IGN, 200 copies raised at the host do nothing;
 *  5. the process keeps allocating (the heap hooks are gone).
 * Prints one "ok"/"not ok" line per check and "unload_host: N cycles,
 * survived" on success; exit 0 only if every check passed.
 */
#include "takhin/host/host.h"

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static int failures;

static void check(bool ok, const char *what)
{
    printf("%s - %s\n", ok ? "ok" : "not ok", what);
    fflush(stdout);
    if (!ok)
        failures++;
}

/* GET path from 127.0.0.1:port; returns the HTTP status, 0 on failure.
 * The body is read and dropped; *bytes gets its size, and `why` the start
 * of the body of an answer other than 200. */
static int http_get(int port, const char *path, size_t *bytes, char *why, size_t whylen)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0)
        return 0;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct timeval tv = {.tv_sec = 30};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char req[512], buf[65536];
    int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
    int status = 0;
    size_t total = 0;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0 && write(fd, req, (size_t)n) == n) {
        ssize_t r;
        /* A thread dump signals this thread too: with SO_RCVTIMEO set, the
         * kernel does not restart an interrupted read (signal(7)). */
        while ((r = read(fd, buf, sizeof buf)) > 0 || (r < 0 && errno == EINTR)) {
            if (r < 0)
                continue;
            if (total == 0 && r > 12 && strncmp(buf, "HTTP/1.", 7) == 0) {
                status = atoi(buf + 9);
                const char *body = memmem(buf, (size_t)r, "\r\n\r\n", 4);
                if (body != NULL && status != 200)
                    snprintf(why, whylen, ": %.*s", (int)(buf + r - body - 4), body + 4);
            }
            total += (size_t)r;
        }
    }
    close(fd);
    if (bytes)
        *bytes = total;
    return status;
}

/* True if /proc/self/maps names a file whose path contains `part`. */
static bool mapped_file(const char *part)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[4096];
    bool found = false;
    while (f && !found && fgets(line, sizeof line, f))
        found = strstr(line, part) != NULL;
    if (f)
        fclose(f);
    return found;
}

/* The port the profiler listens on, from "profiler status". */
static int profiler_port(tkh_host *h)
{
    tk_reply *reply = tkh_reply_new();
    int port = 0;
    if (tkh_admin_execute(tkh_host_admin(h), "profiler status", reply) == 0) {
        const char *listen = strstr(tkh_reply_text(reply), "\"listen\":\"");
        const char *colon = listen ? strchr(listen + 10, ':') : NULL;
        if (colon)
            port = atoi(colon + 1);
    }
    tkh_reply_free(reply);
    return port;
}

/* The realtime signals with a SA_SIGINFO handler from SIGRTMIN+11 up (the
 * plugin's: stack dumps, plugin/capture/threads.c, and the CPU sampler,
 * plugin/capture/sampler.c), at most max. How many. */
#define MAX_SIGS 4
static int find_plugin_signals(int *sigs)
{
    int n = 0;
    for (int sig = SIGRTMIN + 11; sig < SIGRTMAX && n < MAX_SIGS; sig++) {
        struct sigaction cur;
        if (sigaction(sig, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO))
            sigs[n++] = sig;
    }
    return n;
}

/* A thread that blocks the plugin's signals until told to unblock them. */
static int blocker_sigs[MAX_SIGS], blocker_nsigs;
static _Atomic int blocker_phase; /* 1 ready, 2 unblock, 3 done */
static _Atomic pid_t blocker_tid;

static void *blocker_main(void *arg)
{
    (void)arg;
    sigset_t set;
    sigemptyset(&set);
    for (int i = 0; i < blocker_nsigs; i++)
        sigaddset(&set, blocker_sigs[i]);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    atomic_store(&blocker_tid, (pid_t)syscall(SYS_gettid));
    atomic_store(&blocker_phase, 1);
    while (atomic_load(&blocker_phase) != 2)
        usleep(1000);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL); /* a pending copy would run now */
    atomic_store(&blocker_phase, 3);
    return NULL;
}

/* Queues a copy of each signal to a new thread that blocks them: left
 * pending. */
static void leave_pending(const int *sigs, int n, pthread_t *blocker)
{
    memcpy(blocker_sigs, sigs, (size_t)n * sizeof *sigs);
    blocker_nsigs = n;
    pthread_create(blocker, NULL, blocker_main, NULL);
    while (atomic_load(&blocker_phase) != 1)
        usleep(1000);
    for (int i = 0; i < n; i++) {
        siginfo_t si;
        memset(&si, 0, sizeof si);
        si.si_signo = sigs[i];
        si.si_code = SI_QUEUE;
        si.si_pid = getpid();
        si.si_uid = getuid();
        long rc = syscall(SYS_rt_tgsigqueueinfo, getpid(), atomic_load(&blocker_tid), sigs[i],
                          &si);
        char what[160];
        snprintf(what, sizeof what, "a copy of signal %d is pending in a thread that blocks it",
                 sigs[i]);
        check(rc == 0, what);
    }
}

static const char *const paths[] = {
    "/debug/pprof/profile?seconds=1", "/debug/pprof/goroutine?debug=2",
    "/debug/pprof/goroutine",         "/debug/pprof/heap",
    "/debug/pprof/allocs?debug=1",    "/debug/pprof/",
    "/debug/pprof/trace?seconds=0.2", "/metrics",
};

/* One load, use, unload cycle. 0, or -1 when the host did not start. */
static int cycle(const char *config, int n, int *sigs, int *nsigs, pthread_t *blocker)
{
    char err[1024], what[256];
    char *argv[] = {"unload_host", NULL};
    tkh_host_options opt = {
        .config_path = config, .argc = 1, .argv = argv, .envp = environ,
        .name = "unload_host", .version = "1",
    };
    tkh_host *h = NULL;
    if (tkh_host_open(&h, &opt, err, sizeof err) != 0) {
        fprintf(stderr, "unload_host: cycle %d: %s\n", n, err);
        return -1;
    }
    if (tkh_host_start(h, err, sizeof err) != 0) {
        fprintf(stderr, "unload_host: cycle %d: %s\n", n, err);
        tkh_host_close(h);
        return -1;
    }
    int port = profiler_port(h);
    snprintf(what, sizeof what, "cycle %d: the profiler listens (port %d)", n, port);
    check(port > 0, what);
    int found[MAX_SIGS], nfound = find_plugin_signals(found);
    snprintf(what, sizeof what, "cycle %d: the plugin's two signals are installed (%d: %d, %d)",
             n, nfound, nfound > 0 ? found[0] : 0, nfound > 1 ? found[1] : 0);
    check(nfound == 2 && (*nsigs == 0 || memcmp(found, sigs, sizeof found[0] * 2) == 0), what);
    memcpy(sigs, found, sizeof found);
    *nsigs = nfound;
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        size_t bytes = 0;
        char why[160] = "";
        int status = http_get(port, paths[i], &bytes, why, sizeof why);
        /* heap and allocs: 501 when the host does not run on tcmalloc */
        bool heap = strstr(paths[i], "/heap") != NULL || strstr(paths[i], "/allocs") != NULL;
        why[strcspn(why, "\r\n")] = '\0';
        snprintf(what, sizeof what, "cycle %d: GET %s -> %d (%zu bytes)%s", n, paths[i], status,
                 bytes, why);
        check(status == 200 || (heap && status == 501), what);
    }
    if (blocker != NULL && nfound > 0)
        leave_pending(found, nfound, blocker);
    tkh_host_close(h);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: unload_host CONFIG [CYCLES]\n");
        return 2;
    }
    int cycles = argc > 2 ? atoi(argv[2]) : 3;
    struct sigaction before[MAX_SIGS + 2];
    for (int i = 0; i < MAX_SIGS + 2; i++)
        sigaction(SIGRTMIN + 11 + i, NULL, &before[i]);
    int sigs[MAX_SIGS], nsigs = 0;
    pthread_t blocker;
    for (int i = 1; i <= cycles; i++)
        if (cycle(argv[1], i, sigs, &nsigs, i == cycles ? &blocker : NULL) != 0)
            return 1;
    if (nsigs == 0)
        return 1;

    /* The plugin is unloaded now. */
    char what[256];
    /* Not a check: the plugin pins itself and libprofiler (a late SIGPROF,
     * malloc hook or signal of its own then runs valid code), so the
     * mapping may stay; what matters is what runs when a signal comes. */
    printf("# after unload: profiler.so %s, libprofiler %s\n",
           mapped_file("/profiler.so") ? "still mapped (pinned)" : "unmapped",
           mapped_file("/libprofiler.so") ? "still mapped (pinned)" : "unmapped");
    for (int i = 0; i < nsigs; i++) {
        struct sigaction after;
        sigaction(sigs[i], NULL, &after);
        int k = sigs[i] - (SIGRTMIN + 11);
        snprintf(what, sizeof what, "signal %d's action is the host's again", sigs[i]);
        check(!(after.sa_flags & SA_SIGINFO) &&
                  after.sa_handler == (k < MAX_SIGS + 2 ? before[k].sa_handler : SIG_DFL), what);
    }
    atomic_store(&blocker_phase, 2);
    pthread_join(blocker, NULL);
    check(atomic_load(&blocker_phase) == 3, "the copies left pending at unload were dropped");

    struct sigaction prof;
    sigaction(SIGPROF, NULL, &prof);
    void *handler = (prof.sa_flags & SA_SIGINFO) ? (void *)prof.sa_sigaction
                                                 : (void *)prof.sa_handler;
    Dl_info info = {0};
    bool special = handler == (void *)SIG_DFL || handler == (void *)SIG_IGN;
    bool mapped = !special && dladdr(handler, &info) != 0 && info.dli_fname != NULL;
    snprintf(what, sizeof what, "SIGPROF's handler is mapped code (%s)",
             handler == (void *)SIG_DFL ? "SIG_DFL" : handler == (void *)SIG_IGN ? "SIG_IGN"
             : mapped ? info.dli_fname : "unmapped!");
    check(mapped || handler == (void *)SIG_IGN, what);
    for (int i = 0; i < 100; i++)
        raise(SIGPROF);
    check(true, "raised SIGPROF 100 times at the host: survived");

    /* Each signal's action is the host's again (SIG_DFL here, as for a host
     * that never loaded the plugin). A child raising it must die of the
     * signal itself, not of a fault in a handler left behind. */
    for (int i = 0; i < nsigs; i++) {
        pid_t child = fork();
        if (child == 0) {
            raise(sigs[i]);
            _exit(0);
        }
        int status = 0;
        waitpid(child, &status, 0);
        snprintf(what, sizeof what, "a child raising signal %d gets the default action "
                 "(%s %d)", sigs[i], WIFSIGNALED(status) ? "signal" : "exit",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
        check(WIFSIGNALED(status) && WTERMSIG(status) == sigs[i], what);
        /* A host that ignores the signals it does not use survives any copy. */
        struct sigaction ign;
        memset(&ign, 0, sizeof ign);
        ign.sa_handler = SIG_IGN;
        sigaction(sigs[i], &ign, NULL);
        for (int j = 0; j < 100; j++) {
            raise(sigs[i]);
            kill(getpid(), sigs[i]);
        }
        snprintf(what, sizeof what, "with SIG_IGN, raised signal %d 200 times at the host: "
                 "survived", sigs[i]);
        check(true, what);
    }

    size_t total = 0;
    for (int i = 0; i < 100000; i++) {
        volatile char *p = malloc((size_t)(i % 4096) + 1);
        if (p == NULL)
            break;
        p[0] = (char)(i | 1);
        total += (size_t)(unsigned char)p[0];
        free((void *)p);
    }
    check(total > 0, "100,000 allocations after unload");
    if (failures == 0)
        printf("unload_host: %d cycles, survived\n", cycles);
    return failures ? 1 : 0;
}
