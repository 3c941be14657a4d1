/* A realtime signal of the plugin's own: see rtsig.h. */
#include "core/rtsig.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

int prof_rtsig_claim(int offset, prof_rtsig_handler handler, struct sigaction *old, char *err,
                     size_t errlen)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | SA_RESTART;
    sigfillset(&sa.sa_mask);
    for (int sig = SIGRTMIN + offset; sig < SIGRTMAX; sig++) {
        struct sigaction cur;
        if (sigaction(sig, NULL, &cur) != 0 || (cur.sa_flags & SA_SIGINFO) ||
            cur.sa_handler != SIG_DFL)
            continue;
        if (sigaction(sig, &sa, old) != 0)
            break;
        return sig;
    }
    snprintf(err, errlen, "no free realtime signal from SIGRTMIN+%d to SIGRTMAX-1", offset);
    return 0;
}

static void sleep_us(long us)
{
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

void prof_rtsig_release(int sig, const struct sigaction *old, _Atomic int *inflight,
                        long grace_us)
{
    struct sigaction ign;
    memset(&ign, 0, sizeof ign);
    ign.sa_handler = SIG_IGN;
    sigaction(sig, &ign, NULL); /* drops every instance still pending */
    if (grace_us > 0)
        sleep_us(grace_us);
    while (atomic_load(inflight) > 0)
        sleep_us(20);
    sigaction(sig, old, NULL);
}
