/*
 * takhin/plugin.h - the contract between a Takhin host and its plugins.
 *
 * This is the only header a plugin includes. Everything the host offers
 * reaches the plugin through the function table `tk_host_api`; the plugin
 * has no link-time dependency on host symbols.
 *
 * Versioning: TK_ABI_MAJOR changes break compatibility and must match
 * exactly; TK_ABI_MINOR changes only append members at the end of
 * `tk_host_api` and `tk_plugin_def`. A plugin checks
 * `api->abi_minor` (or TK_API_HAS) before using a member newer than 1.0.
 * History: 1.1 added tk_host_api.reload_note (what a reload did); 1.2
 * the request context (context_current, context_of_thread,
 * context_of_waiter, set_context_hook; see "Request context" below).
 *
 * Threads: the host calls a plugin's lifecycle callbacks and its admin
 * command handlers one at a time, never concurrently. The host API
 * functions themselves are thread-safe and may be called from any thread
 * the plugin creates.
 *
 * Ownership, at every hand-off:
 *  - `tk_host_api`, `tk_host` and `tk_process_info`: owned by the host, valid
 *    from init until fini returns.
 *  - `tk_config`: owned by the host, valid only during the callback that
 *    receives it (init, reconfigure). Copy what you keep; strings returned
 *    by config reads die with the config.
 *  - `tk_plugin_def`: owned by the plugin, static, valid while it is loaded.
 *  - The plugin's `state` pointer: created by init, owned by the plugin,
 *    freed by fini. The host only passes it back.
 *  - `tk_reply`: owned by the host, valid during one command handler call.
 *
 * Signals a host must tolerate: a plugin may interrupt host threads with a
 * realtime signal (the profiler's thread dumps and wall profiles do, with
 * SIGRTMIN+11 or the next free one, installed with SA_RESTART). System
 * calls that SA_RESTART restarts resume transparently (read, write,
 * accept, connect, recv, send, wait4, futex waits: pthread_mutex_lock,
 * pthread_cond_wait). Per signal(7) these never restart and fail with
 * EINTR (sleep returns the time left): nanosleep, clock_nanosleep, poll,
 * ppoll, select, pselect, epoll_wait, epoll_pwait, sigtimedwait,
 * sigwaitinfo, io_getevents, semop, semtimedop, msgrcv, msgsnd, and socket
 * calls with SO_RCVTIMEO/SO_SNDTIMEO. Retry them on EINTR against an
 * absolute deadline. The wall profile signals a thread parked in one of
 * them only when it first sees it there (its CPU clock then stops moving,
 * or it comes back to the same call site): a thread looping on the same
 * nanosleep gets no EINTR while a profile runs after that. A thread that
 * must never be interrupted blocks the signal (pthread_sigmask): it is
 * then never signalled, and profiles show it without a stack or from its
 * state in /proc.
 */
#ifndef TAKHIN_PLUGIN_H
#define TAKHIN_PLUGIN_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TK_ABI_MAJOR 1
#define TK_ABI_MINOR 2

/* The one symbol a plugin exports: `const tk_plugin_def *takhin_plugin_entry(void)`. */
#define TK_PLUGIN_ENTRY_SYMBOL "takhin_plugin_entry"

/* Opaque handles. */
typedef struct tk_host tk_host;     /* the host's record of one plugin */
typedef struct tk_config tk_config; /* one validated config snapshot */
typedef struct tk_reply tk_reply;   /* the reply to one admin command */

typedef enum tk_log_level {
    TK_LOG_DEBUG,
    TK_LOG_INFO,
    TK_LOG_WARN,
    TK_LOG_ERROR,
} tk_log_level;

/* ---- Config schema: a plugin declares its keys, the host validates. ---- */

typedef enum tk_config_type {
    TK_CONFIG_BOOL,   /* true/false/yes/no/on/off/1/0, any case */
    TK_CONFIG_INT,    /* decimal integer within [min, max] */
    TK_CONFIG_STRING, /* any scalar; non-empty unless min == 0 */
    TK_CONFIG_HOST,   /* an IPv4 address or "localhost" (civetweb has no IPv6) */
} tk_config_type;

/* One key of a plugin's config section; arrays end with a zeroed entry. */
typedef struct tk_config_key {
    const char *name;          /* relative to the section: "port", "auth.token" */
    tk_config_type type;
    const char *default_value; /* as it would be written in YAML; NULL = unset */
    int64_t min, max;          /* INT: bounds; STRING: min 0 allows "" */
    const char *help;          /* one line, for docs and listings */
} tk_config_key;

/* A value as read: typed, with the text it came from and its origin. */
typedef struct tk_config_value {
    tk_config_type type;
    bool set;            /* false: no default and not configured */
    bool b;              /* BOOL */
    int64_t i;           /* INT */
    const char *s;       /* the text; STRING and HOST read it here */
    const char *origin;  /* "default", "configs/takhin.yaml:12:9" or "env TAKHIN_PROFILER_PORT" */
} tk_config_value;

/* ---- Process information ---- */

typedef struct tk_process_info {
    int argc;
    char *const *argv;       /* the host's argv, as started */
    int pid;
    const char *host_name;   /* "takhind" */
    const char *host_version;
    int64_t start_unix_ns;   /* when the host process started */
} tk_process_info;

/* ---- Events from the host's instrumented primitives and spans ---- */

typedef enum tk_wait_kind {
    TK_WAIT_MUTEX, /* waited to lock a mutex */
    TK_WAIT_COND,  /* waited on a condition variable */
} tk_wait_kind;

/* Hooks the host calls in the thread where the event happened, after it
 * happened (a backtrace taken inside shows where). Times are
 * CLOCK_MONOTONIC nanoseconds. Hooks must be thread-safe, must not block,
 * and must not use the host's instrumented primitives. */
typedef struct tk_event_hooks {
    /* A thread waited from `start_ns` for `delay_ns`. */
    void (*waited)(void *ctx, tk_wait_kind kind, int64_t start_ns, int64_t delay_ns);
    /* A thread released a mutex others were waiting for; they had waited
     * `delay_ns` in all so far (Go's mutex profile: the holder's stack). */
    void (*released)(void *ctx, int64_t delay_ns);
    /* A span of work the host marked ("produce") ended in this thread. */
    void (*span)(void *ctx, const char *name, int64_t start_ns, int64_t end_ns);
} tk_event_hooks;

/* ---- Request context (1.2) ----
 *
 * What a host thread is working for ("kafka_api=Produce topic=orders
 * client_id=producer-0"): the host sets it when a thread starts work on a
 * request and clears it when the work is done; the plugin reads it,
 * including from a signal handler that interrupted that thread, and puts
 * it on what it records (pprof sample labels).
 *
 * Contexts are interned: the host copies the pairs into an immutable
 * tk_context and hands out that pointer, the same pointer for the same
 * pairs. Ownership: a tk_context belongs to the host and is never changed
 * nor freed while the process lives, so a plugin may keep the pointer (in
 * a heap sample, a trace event) past its unload and compare contexts by
 * pointer or id. The host's buffers given to set may be freed after the
 * call.
 *
 * Threads: a host thread sets only its own context, with
 * takhin/host/context.h (set, enter, restore, clear: a pointer store into
 * that thread's slot, after the pairs were interned); the readers below
 * run on any thread and never wait for a writer.
 *
 * Bounds: at most TK_CONTEXT_MAX_PAIRS pairs (further ones are dropped),
 * keys and values at most TK_CONTEXT_MAX_BYTES - 1 bytes (longer ones are
 * cut); either sets TK_CONTEXT_TRUNCATED. The host interns a bounded
 * number of distinct contexts (takhin/host/context.h says how many); past
 * that, set gives the one context {context=overflow} with
 * TK_CONTEXT_OVERFLOW. */
#define TK_CONTEXT_MAX_PAIRS 8
#define TK_CONTEXT_MAX_BYTES 64 /* a key or a value, with its NUL */
#define TK_CONTEXT_TRUNCATED 1u
#define TK_CONTEXT_OVERFLOW 2u

typedef struct tk_context_pair {
    const char *key, *value;
} tk_context_pair;

typedef struct tk_context {
    uint64_t id;     /* 1, 2, ... in order of interning, never reused;
                        UINT64_MAX for the overflow context */
    uint32_t npairs; /* <= TK_CONTEXT_MAX_PAIRS */
    uint32_t flags;  /* TK_CONTEXT_TRUNCATED, TK_CONTEXT_OVERFLOW */
    tk_context_pair pairs[TK_CONTEXT_MAX_PAIRS]; /* in the order set; NUL-terminated */
} tk_context;

/* Called by the host in a thread whose context changes (set or clear)
 * while installed: `outgoing` (NULL: none) was the thread's context for
 * the `cpu_ns` of the thread's CPU clock since its previous change (or
 * since the hook was installed). Must be thread-safe and must not block,
 * set a context, or use the host's instrumented primitives. */
typedef void (*tk_context_hook)(void *ctx, const tk_context *outgoing, int64_t cpu_ns);

/* An admin command handler. argv[0] is the first word after the
 * registered prefix. Write the answer with api->reply_printf and return 0,
 * or write the error and return non-zero. */
typedef int (*tk_command_fn)(void *state, int argc, char **argv, tk_reply *reply);

/* ---- What the host gives a plugin ---- */

typedef struct tk_host_api {
    uint32_t abi_major, abi_minor;
    size_t size; /* sizeof(tk_host_api) as the host compiled it */

    /* Logs one line to the host's log, prefixed with the plugin's name. */
    void (*log)(tk_host *host, tk_log_level level, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

    /* Reads a key of the plugin's own section. NULL when the key is not
     * in the plugin's schema. The value lives as long as `cfg`. */
    const tk_config_value *(*config_get)(const tk_config *cfg, const char *key);

    /* Registers an admin command, such as "profiler status" for prefix
     * "profiler" and word "status". Allowed only during init.
     * Returns 0, or EBUSY (not during init), EEXIST (taken), EINVAL. */
    int (*register_command)(tk_host *host, const char *prefix, const char *word,
                            const char *usage, tk_command_fn fn);

    /* Appends text to the reply of the command being handled. */
    void (*reply_printf)(tk_reply *reply, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

    /* The host process. */
    const tk_process_info *(*process_info)(tk_host *host);

    /* Installs hooks for the host's instrumented primitives and spans
     * (NULL removes them). One set per process: the last call wins. Returns
     * once no thread is inside the hooks replaced, so the plugin may free
     * or unload what they use. 0, or ENOTSUP for a host without them. */
    int (*set_event_hooks)(tk_host *host, const tk_event_hooks *hooks, void *ctx);

    /* ---- 1.1 ---- */

    /* During reconfigure only (elsewhere it does nothing): adds one line,
     * prefixed with the plugin's name, to the answer of the reload, which
     * tells the operator how the new config took effect. Say which keys
     * applied at once, which restarted something (and its new state), and
     * which wait for a restart of the process: "applied at once:
     * auth.token, max_duration". Name keys, never secret values. */
    void (*reload_note)(tk_host *host, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

    /* ---- 1.2: the request context (see "Request context" above) ---- */

    /* The calling thread's context, NULL when none. Async-signal-safe: a
     * single atomic load of a thread-local pointer (no lock, no
     * allocation, no system call), so a signal handler reads the context
     * of the thread it interrupted, never a torn one. */
    const tk_context *(*context_current)(void);
    /* The current context of thread `tid` (a Linux TID of this process),
     * NULL when none or unknown. Lock-free, async-signal-safe, from any
     * thread; the thread may change it right after. */
    const tk_context *(*context_of_thread)(int tid);
    /* During a `released` event hook only (elsewhere NULL): the context
     * the oldest waiter of that mutex had when it began waiting (with
     * waiters left, the next one inherits it: the host records one). */
    const tk_context *(*context_of_waiter)(void);
    /* Installs the hook called at every context change (NULL removes it):
     * one per process, the last call wins. Returns once no thread is
     * inside the hook replaced. While one is installed, each change reads
     * the thread's CPU clock (a system call: see the README for the
     * cost). 0, or ENOTSUP. */
    int (*set_context_hook)(tk_host *host, tk_context_hook hook, void *ctx);
} tk_host_api;

/* True when the host's table has member `m` (for members newer than 1.0). */
#define TK_API_HAS(api, m) \
    ((api)->size >= offsetof(tk_host_api, m) + sizeof((api)->m) && (api)->m != NULL)

/* ---- What a plugin gives the host ---- */

typedef struct tk_plugin_def {
    /* TK_ABI_MAJOR, and the oldest minor of a host it runs in (TK_ABI_MINOR
     * unless it checks newer members with TK_API_HAS): a host refuses a
     * plugin that names a newer minor than its own. */
    uint32_t abi_major, abi_minor;
    const char *name;              /* also its config section and log prefix */
    const char *version;
    const char *description;
    const tk_config_key *config_keys; /* its section's schema */

    /* Creates the plugin's state from a validated config; registers
     * commands. On failure writes `err` (NUL-terminated) and returns -1;
     * the host then unloads the plugin without calling fini. */
    int (*init)(const tk_host_api *api, tk_host *host, const tk_config *cfg,
                void **state, char *err, size_t errlen);
    /* Starts serving (the host is up). -1 with `err` on failure. */
    int (*start)(void *state, char *err, size_t errlen);
    /* Stops serving: no plugin thread may run host code after this returns. */
    void (*stop)(void *state);
    /* Optional (NULL accepts every config that passed the schema): may the
     * host switch to `cfg`? -1 with `err` refuses the whole reload, and the
     * old config stays in force everywhere. Must not change any state. */
    int (*check_config)(void *state, const tk_config *cfg, char *err, size_t errlen);
    /* A new config was validated and is now in force. Apply all of it or
     * none: -1 with `err` when it cannot be applied, and the plugin then
     * keeps running with its previous settings; `err` says the state the
     * plugin is in (the host answers the reload with it). From 1.1, say
     * how a success took effect with api->reload_note. */
    int (*reconfigure)(void *state, const tk_config *cfg, char *err, size_t errlen);
    /* Frees the state; the host unloads the library next. */
    void (*fini)(void *state);
} tk_plugin_def;

typedef const tk_plugin_def *(*tk_plugin_entry_fn)(void);

#ifdef __cplusplus
}
#endif
#endif /* TAKHIN_PLUGIN_H */
