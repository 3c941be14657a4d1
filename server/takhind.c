/*
 * takhind - the reference Takhin server: the host library (config, admin
 * channel, plugins) around a Kafka listener (kafka.h) that real clients
 * produce to and consume from, and an in-process workload modelled on
 * Takhin's produce path (workload.h).
 *
 *   takhind [-c CONFIG]     runs in the foreground, logs to stderr;
 *                           SIGINT/SIGTERM stop it cleanly, SIGHUP reloads.
 * Exit codes: 0 clean stop, 1 start-up failure (config, plugin), 2 usage.
 */
#include "takhin/host/host.h"
#include "takhin/host/log.h"
#include "kafka.h"
#include "workload.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TAKHIND_VERSION "0.1.0"

extern char **environ;

typedef struct server {
    tkh_host *host;
    workload *wl;
    kafka *kafka;
} server;

static const tkh_section server_sections[] = {
    {"demo", workload_config_keys},
    {"kafka", kafka_config_keys},
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: takhind [-c CONFIG]\n"
            "  -c CONFIG  YAML config (default: none, compiled defaults and TAKHIN_* env)\n"
            "  -V         print the version\n"
            "Signals: SIGINT/SIGTERM stop, SIGHUP reloads the config.\n"
            "Exit codes: 0 clean stop, 1 start-up failure, 2 usage.\n");
}

static void on_reload(void *ctx, const tkh_config *cfg)
{
    server *s = ctx;
    char applied[256], pending[256];
    if (s->wl == NULL || s->kafka == NULL)
        return;
    workload_reconfigure(s->wl, cfg, applied, pending, sizeof applied);
    char kafka_keys[256];
    kafka_changed_keys(s->kafka, cfg, kafka_keys, sizeof kafka_keys);
    size_t n = strlen(pending), more = strlen(kafka_keys);
    if (more > 0 && n + more + 3 < sizeof pending) {
        memcpy(pending + n, ", ", n ? 2 : 0);
        memcpy(pending + n + (n ? 2 : 0), kafka_keys, more + 1);
    }
    if (applied[0] != '\0')
        tkh_host_reload_note(s->host, "takhind", "applied at once: %s", applied);
    if (pending[0] != '\0')
        tkh_host_reload_note(s->host, "takhind", "needs a process restart, not applied: %s",
                             pending);
}

/* A status command: no arguments, one line of JSON from `status`. */
static int reply_status(int argc, const char *usage, tk_reply *reply,
                        void (*status)(void *obj, char *buf, size_t len), void *obj)
{
    if (argc != 0) {
        tkh_reply_printf(reply, "usage: %s", usage);
        return 1;
    }
    char line[2048];
    status(obj, line, sizeof line);
    tkh_reply_printf(reply, "%s", line);
    return 0;
}

static void workload_line(void *wl, char *buf, size_t len) { workload_status(wl, buf, len); }
static void kafka_line(void *k, char *buf, size_t len) { kafka_status(k, buf, len); }

static int cmd_workload_status(void *ctx, int argc, char **argv, tk_reply *reply)
{
    (void)argv;
    return reply_status(argc, "workload status", reply, workload_line, ((server *)ctx)->wl);
}

static int cmd_workload_hold_mutex(void *ctx, int argc, char **argv, tk_reply *reply)
{
    server *s = ctx;
    char *end = NULL, err[256];
    long ms = argc == 1 ? strtol(argv[0], &end, 10) : -1;
    if (argc != 1 || *end != '\0' || ms < 1 || ms > 600000) {
        tkh_reply_printf(reply, "usage: workload hold_mutex MS (1 to 600000): a thread holds "
                         "a mutex MS ms while another waits for it");
        return 1;
    }
    if (workload_hold_mutex(s->wl, ms, err, sizeof err) != 0) {
        tkh_reply_printf(reply, "%s", err);
        return 1;
    }
    tkh_reply_printf(reply, "holding a mutex for %ld ms", ms);
    return 0;
}

static int cmd_kafka_status(void *ctx, int argc, char **argv, tk_reply *reply)
{
    (void)argv;
    return reply_status(argc, "kafka status", reply, kafka_line, ((server *)ctx)->kafka);
}

/* Waits for signals in the main thread; every other thread has them
 * blocked (the mask is set before any thread starts). */
static void wait_for_stop(server *s, const sigset_t *set)
{
    for (;;) {
        int sig = 0;
        if (sigwait(set, &sig) != 0)
            continue;
        if (sig != SIGHUP) {
            tkh_log(TK_LOG_INFO, "takhind", "%s received, stopping", strsignal(sig));
            return;
        }
        char err[1024]; /* the host has logged how the reload went */
        if (tkh_host_reload(s->host, err, sizeof err) != 0)
            tkh_log(TK_LOG_DEBUG, "takhind", "the reload on SIGHUP did not fully succeed");
    }
}

static int run(server *s, const char *config_path, int argc, char **argv, const sigset_t *set)
{
    char err[1024];
    tkh_host_options opt = {
        .config_path = config_path, .argc = argc, .argv = argv, .envp = environ,
        .name = "takhind", .version = TAKHIND_VERSION,
        .sections = server_sections, .nsections = 2,
        .on_reload = on_reload, .reload_ctx = s,
    };
    if (tkh_host_open(&s->host, &opt, err, sizeof err) != 0) {
        fprintf(stderr, "takhind: %s\n", err);
        return 1;
    }
    s->wl = workload_start(tkh_host_config(s->host), err, sizeof err);
    if (s->wl != NULL)
        s->kafka = kafka_start(tkh_host_config(s->host), err, sizeof err);
    if (s->wl == NULL || s->kafka == NULL || tkh_host_start(s->host, err, sizeof err) != 0) {
        fprintf(stderr, "takhind: %s\n", err);
        return 1;
    }
    /* `workload status` last: tests take it as the sign that takhind is up. */
    tkh_admin_register(tkh_host_admin(s->host), "kafka", "status",
                       "kafka status  the Kafka listener: address, connections, requests, "
                       "problems (JSON)", cmd_kafka_status, s);
    tkh_admin_register(tkh_host_admin(s->host), "workload", "status",
                       "workload status  records produced and consumed (JSON)",
                       cmd_workload_status, s);
    tkh_admin_register(tkh_host_admin(s->host), "workload", "hold_mutex",
                       "workload hold_mutex MS  a thread holds a mutex MS ms, another waits",
                       cmd_workload_hold_mutex, s);
    tkh_log(TK_LOG_INFO, "takhind", "takhind %s running, pid %d", TAKHIND_VERSION,
            (int)getpid());
    wait_for_stop(s, set);
    return 0;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    int opt;
    while ((opt = getopt(argc, argv, "c:Vh")) != -1) {
        switch (opt) {
        case 'c': config_path = optarg; break;
        case 'V': printf("takhind %s\n", TAKHIND_VERSION); return 0;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);

    server s = {0};
    int rc = run(&s, config_path, argc, argv, &set);
    /* Plugins stop first (they may sample the workload), then the workload. */
    tkh_host_close(s.host);
    kafka_stop(s.kafka);
    workload_stop(s.wl);
    if (rc == 0)
        tkh_log(TK_LOG_INFO, "takhind", "stopped");
    return rc;
}
