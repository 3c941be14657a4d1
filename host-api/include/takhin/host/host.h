/*
 * takhin/host/host.h - the host library a Takhin server embeds: it reads
 * the config hierarchy, loads the plugins it lists, serves the admin
 * channel and drives every plugin's lifecycle.
 *
 *   tkh_host_open   config -> plugins loaded and initialized -> admin up
 *   tkh_host_start  every plugin's start
 *   tkh_host_reload re-read YAML and env; swap only if all of it is valid
 *   tkh_host_close  admin down -> plugins stopped, fini'd, unloaded
 *
 * The embedding server owns the tkh_host; the host owns the config, the
 * plugins and the admin channel. Lifecycle calls and admin commands are
 * serialized by one lock: a plugin never sees two at once.
 */
#ifndef TAKHIN_HOST_HOST_H
#define TAKHIN_HOST_HOST_H

#include "takhin/host/admin.h"
#include "takhin/host/config.h"

typedef struct tkh_host tkh_host;

/* The host API minor this library presents to plugins: TK_ABI_MINOR,
 * unless built with -DTKH_API_MINOR=N to act as a host of an older minor
 * (the test host of tests/integration/test_labels.sh). */
#ifndef TKH_API_MINOR
#define TKH_API_MINOR TK_ABI_MINOR
#endif

/* Called with the new config after a successful reload (the server's own
 * sections); the config lives until the next reload completes. */
typedef void (*tkh_reload_fn)(void *ctx, const tkh_config *cfg);

typedef struct tkh_host_options {
    const char *config_path;       /* NULL: defaults and env only */
    int argc;
    char **argv;
    char *const *envp;             /* read at open and at every reload */
    const char *name, *version;    /* the server's, for process_info */
    const tkh_section *sections;   /* the server's own config sections */
    size_t nsections;
    tkh_reload_fn on_reload;       /* may be NULL */
    void *reload_ctx;
} tkh_host_options;

/* 0 and *out, or -1 with err (bad config, plugin load or init failure);
 * nothing is left loaded on failure. `opt` is copied (its strings and
 * arrays must outlive the host). */
int tkh_host_open(tkh_host **out, const tkh_host_options *opt, char *err, size_t errlen);
/* Starts every plugin. -1 with err when one fails to start. */
int tkh_host_start(tkh_host *host, char *err, size_t errlen);
/* Re-reads the config and writes into `out` what happened, the answer to
 * "config reload": its first line is "config reloaded" (then
 * ": no key changed" when nothing did), "config reload failed, the old
 * config stays in force: WHY" (invalid or refused: nothing changed), or
 * "config reload partly failed: ..." (in force, but a plugin could not
 * apply it and says in what state it is). Then "changed: KEYS" and one
 * line per note from the host, the server (tkh_host_reload_note) and the
 * plugins (reload_note): what applied at once, what restarted, what waits
 * for a process restart. Returns 0, -1 (refused) or 1 (partly failed). */
int tkh_host_reload_report(tkh_host *host, tk_reply *out);
/* The same, with only the answer of a failure in err. */
int tkh_host_reload(tkh_host *host, char *err, size_t errlen);
/* From the server's on_reload only (elsewhere nothing): adds a line
 * "COMPONENT: TEXT" to the reload's answer. */
void tkh_host_reload_note(tkh_host *host, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The config in force; valid until the next reload. */
const tkh_config *tkh_host_config(const tkh_host *host);
tkh_admin *tkh_host_admin(tkh_host *host);
void tkh_host_close(tkh_host *host);

/* Loads one plugin without a host around it (tests, tools): dlopen,
 * entry symbol, ABI check. 0 and *handle and *def, or -1 with err. */
int tkh_plugin_open(const char *path, void **handle, const tk_plugin_def **def,
                    char *err, size_t errlen);

#endif
