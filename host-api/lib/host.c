/* The host runtime: config, plugins, admin channel. See takhin/host/host.h. */
#include "takhin/host/host.h"
#include "takhin/host/context.h"
#include "takhin/host/log.h"
#include "takhin/host/sync.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* A command a plugin registered: the admin channel calls `dispatch_command`
 * with this binding as its context. */
typedef struct cmd_binding {
    struct tk_host *plugin;
    tk_command_fn fn;
    struct cmd_binding *next;
} cmd_binding;

/* The host's record of one loaded plugin (opaque `tk_host` to the plugin). */
struct tk_host {
    tkh_host *owner;
    const tk_plugin_def *def;
    void *dl;
    void *state;      /* the plugin's, from init to fini */
    bool in_init;     /* commands may be registered */
    bool initialized;
    bool started;
    bool reconfiguring; /* reload_note may add to the reload's answer */
    cmd_binding *commands;
};

struct tkh_host {
    tkh_host_options opt;
    pthread_mutex_t lock; /* serializes lifecycle calls and admin commands */
    tkh_config *config;
    tkh_plugin_spec *specs;
    size_t nplugins;
    struct tk_host *plugins;
    tkh_section *sections; /* host's, server's, then one per plugin */
    size_t nsections;
    tkh_admin *admin;
    tk_process_info info;
    tk_reply *notes; /* during a reload: its notes, for its answer */
};

/* ---- the host library's own config sections ---- */

static const tk_config_key admin_keys[] = {
    {"socket", TK_CONFIG_STRING, "takhind.sock", 1, 0,
     "admin Unix socket path (relative: to the working directory)"},
    {0},
};
static const tk_config_key log_keys[] = {
    {"level", TK_CONFIG_STRING, "info", 1, 0, "debug, info, warn or error"},
    {0},
};
static const tk_config_key no_keys[] = {{0}};

static const tk_host_api host_api; /* defined at the end */

/* ---- config ---- */

static void warn_config(void *ctx, const char *message)
{
    (void)ctx;
    tkh_log(TK_LOG_WARN, "config", "%s", message);
}

/* Checks what the host library itself reads from the config. */
static int check_host_keys(const tkh_config *cfg, char *err, size_t errlen)
{
    const tk_config_value *level = tkh_config_lookup(cfg, "log.level");
    tk_log_level parsed;
    if (tkh_log_parse_level(level->s, &parsed) != 0) {
        snprintf(err, errlen, "log.level = \"%s\" (%s): expected debug, info, warn or error",
                 level->s, level->origin);
        return -1;
    }
    return 0;
}

/* Applies what the host library reads from a config now in force. */
static void apply_host_keys(const tkh_config *cfg)
{
    tk_log_level level = TK_LOG_INFO;
    tkh_log_parse_level(tkh_config_lookup(cfg, "log.level")->s, &level);
    tkh_log_set_level(level);
}

/* Sections: the host's, the server's, then one per loaded plugin. */
static int make_sections(tkh_host *h)
{
    size_t n = 2 + h->opt.nsections + h->nplugins;
    h->sections = calloc(n, sizeof *h->sections);
    if (h->sections == NULL)
        return -1;
    h->sections[0] = (tkh_section){"admin", admin_keys};
    h->sections[1] = (tkh_section){"log", log_keys};
    if (h->opt.nsections > 0) /* memcpy from NULL is undefined even for 0 bytes */
        memcpy(h->sections + 2, h->opt.sections, h->opt.nsections * sizeof *h->sections);
    for (size_t i = 0; i < h->nplugins; i++) {
        const tk_plugin_def *def = h->plugins[i].def;
        h->sections[2 + h->opt.nsections + i] =
            (tkh_section){def->name, def->config_keys ? def->config_keys : no_keys};
    }
    h->nsections = n;
    return 0;
}

static int build_config(tkh_host *h, const tkh_doc *doc, tkh_config **out,
                        char *err, size_t errlen)
{
    if (tkh_config_build(out, doc, h->sections, h->nsections, h->opt.envp,
                         warn_config, NULL, err, errlen) != 0)
        return -1;
    if (check_host_keys(*out, err, errlen) != 0) {
        tkh_config_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

static int parse_doc(const tkh_host *h, tkh_doc **doc, char *err, size_t errlen)
{
    *doc = NULL;
    if (h->opt.config_path == NULL)
        return 0;
    return tkh_doc_parse_file(doc, h->opt.config_path, err, errlen);
}

/* ---- plugins ---- */

static int load_plugins(tkh_host *h, const tkh_doc *doc, char *err, size_t errlen)
{
    if (doc != NULL && tkh_doc_plugins(doc, &h->specs, &h->nplugins, err, errlen) != 0)
        return -1;
    h->plugins = calloc(h->nplugins ? h->nplugins : 1, sizeof *h->plugins);
    if (h->plugins == NULL) {
        snprintf(err, errlen, "out of memory loading plugins");
        return -1;
    }
    for (size_t i = 0; i < h->nplugins; i++) {
        struct tk_host *p = &h->plugins[i];
        const tkh_plugin_spec *spec = &h->specs[i];
        p->owner = h;
        if (tkh_plugin_open(spec->path, &p->dl, &p->def, err, errlen) != 0)
            return -1;
        if (strcmp(p->def->name, spec->name) != 0) {
            snprintf(err, errlen, "plugins: name \"%s\" (%s) does not match the plugin at %s, "
                     "which is \"%s\": set name: %s",
                     spec->name, spec->origin, spec->path, p->def->name, p->def->name);
            return -1;
        }
        tkh_log(TK_LOG_INFO, "host", "loaded plugin %s %s (host API %u.%u) from %s",
                p->def->name, p->def->version, p->def->abi_major, p->def->abi_minor,
                spec->path);
    }
    return 0;
}

static int init_plugin(tkh_host *h, struct tk_host *p, char *err, size_t errlen)
{
    const tk_config *view = tkh_config_section(h->config, p->def->name);
    char why[512] = "";
    p->in_init = true;
    int rc = p->def->init(&host_api, p, view, &p->state, why, sizeof why);
    p->in_init = false;
    if (rc != 0) {
        snprintf(err, errlen, "plugin %s failed to initialize: %s", p->def->name,
                 why[0] ? why : "no reason given");
        return -1;
    }
    p->initialized = true;
    return 0;
}

static void unregister_commands(tkh_host *h, struct tk_host *p)
{
    while (p->commands != NULL) {
        cmd_binding *b = p->commands;
        p->commands = b->next;
        if (h->admin != NULL)
            tkh_admin_unregister_ctx(h->admin, b);
        free(b);
    }
}

/* Stops, finalizes and unloads one plugin; safe on a partly loaded one. */
static void unload_plugin(tkh_host *h, struct tk_host *p)
{
    if (p->started && p->def->stop != NULL)
        p->def->stop(p->state);
    p->started = false;
    unregister_commands(h, p);
    if (p->initialized)
        p->def->fini(p->state);
    p->initialized = false;
    if (p->dl != NULL) {
        tkh_log(TK_LOG_INFO, "host", "unloaded plugin %s", p->def ? p->def->name : "?");
        dlclose(p->dl);
    }
    p->dl = NULL;
}

/* ---- host commands ---- */

static int cmd_config_reload(void *ctx, int argc, char **argv, tk_reply *reply)
{
    (void)argv;
    if (argc != 0) {
        tkh_reply_printf(reply, "usage: config reload");
        return 1;
    }
    return tkh_host_reload_report(ctx, reply) == 0 ? 0 : 1;
}

static int cmd_plugins(void *ctx, int argc, char **argv, tk_reply *reply)
{
    (void)argv;
    tkh_host *h = ctx;
    if (argc != 0) {
        tkh_reply_printf(reply, "usage: plugins");
        return 1;
    }
    for (size_t i = 0; i < h->nplugins; i++)
        tkh_reply_printf(reply, "%s %s %s\n", h->plugins[i].def->name,
                         h->plugins[i].def->version, h->specs[i].path);
    if (h->nplugins == 0)
        tkh_reply_printf(reply, "no plugins loaded");
    return 0;
}

/* Runs a plugin's command under the host lock. */
static int dispatch_command(void *ctx, int argc, char **argv, tk_reply *reply)
{
    cmd_binding *b = ctx;
    tkh_host *h = b->plugin->owner;
    pthread_mutex_lock(&h->lock);
    int rc = b->fn(b->plugin->state, argc, argv, reply);
    pthread_mutex_unlock(&h->lock);
    return rc;
}

/* ---- open, start, reload, close ---- */

static void fill_process_info(tkh_host *h)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    h->info = (tk_process_info){
        .argc = h->opt.argc,
        .argv = h->opt.argv,
        .pid = (int)getpid(),
        .host_name = h->opt.name,
        .host_version = h->opt.version,
        .start_unix_ns = (int64_t)now.tv_sec * 1000000000 + now.tv_nsec,
    };
}

static int open_admin(tkh_host *h, char *err, size_t errlen)
{
    h->admin = tkh_admin_new();
    if (h->admin == NULL) {
        snprintf(err, errlen, "out of memory creating the admin channel");
        return -1;
    }
    tkh_admin_register(h->admin, "config", "reload", "config reload    re-read YAML and env",
                       cmd_config_reload, h);
    tkh_admin_register(h->admin, "plugins", NULL, "plugins          list loaded plugins",
                       cmd_plugins, h);
    return 0;
}

static int open_steps(tkh_host *h, char *err, size_t errlen)
{
    tkh_doc *doc = NULL;
    int rc = -1;
    if (parse_doc(h, &doc, err, errlen) != 0 || load_plugins(h, doc, err, errlen) != 0)
        goto out;
    if (make_sections(h) != 0) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    if (build_config(h, doc, &h->config, err, errlen) != 0 || open_admin(h, err, errlen) != 0)
        goto out;
    apply_host_keys(h->config);
    for (size_t i = 0; i < h->nplugins; i++)
        if (init_plugin(h, &h->plugins[i], err, errlen) != 0)
            goto out;
    const char *sock = tkh_config_lookup(h->config, "admin.socket")->s;
    if (tkh_admin_listen(h->admin, sock, err, errlen) != 0)
        goto out;
    tkh_log(TK_LOG_INFO, "host", "admin channel on %s", sock);
    rc = 0;
out:
    tkh_doc_free(doc);
    return rc;
}

int tkh_host_open(tkh_host **out, const tkh_host_options *opt, char *err, size_t errlen)
{
    tkh_host *h = calloc(1, sizeof *h);
    if (h == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    h->opt = *opt;
    pthread_mutex_init(&h->lock, NULL);
    fill_process_info(h);
    if (open_steps(h, err, errlen) != 0) {
        tkh_host_close(h);
        return -1;
    }
    *out = h;
    return 0;
}

int tkh_host_start(tkh_host *h, char *err, size_t errlen)
{
    pthread_mutex_lock(&h->lock);
    int rc = 0;
    for (size_t i = 0; i < h->nplugins && rc == 0; i++) {
        struct tk_host *p = &h->plugins[i];
        char why[512] = "";
        if (p->def->start != NULL && p->def->start(p->state, why, sizeof why) != 0) {
            snprintf(err, errlen, "plugin %s failed to start: %s", p->def->name,
                     why[0] ? why : "no reason given");
            rc = -1;
        } else {
            p->started = true;
        }
    }
    pthread_mutex_unlock(&h->lock);
    return rc;
}

/* Asks every plugin whether it accepts `cfg`; 0 when all do. */
static int check_plugins(tkh_host *h, const tkh_config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < h->nplugins; i++) {
        struct tk_host *p = &h->plugins[i];
        const tk_config *view = tkh_config_section(cfg, p->def->name);
        char why[512] = "";
        if (p->def->check_config != NULL &&
            p->def->check_config(p->state, view, why, sizeof why) != 0) {
            snprintf(err, errlen, "%s: %s", p->def->name, why);
            return -1;
        }
    }
    return 0;
}

/* Hands the new config to each plugin; their notes go to h->notes, and
 * the failures, one line each, to `failed`. The number of failures. */
static int reconfigure_plugins(tkh_host *h, tk_reply *failed)
{
    int n = 0;
    for (size_t i = 0; i < h->nplugins; i++) {
        struct tk_host *p = &h->plugins[i];
        char why[1024] = "";
        if (p->def->reconfigure == NULL)
            continue;
        p->reconfiguring = true;
        int rc = p->def->reconfigure(p->state, tkh_config_section(h->config, p->def->name),
                                     why, sizeof why);
        p->reconfiguring = false;
        if (rc != 0) {
            tkh_reply_printf(failed, "%sexcept in plugin %s, which did not apply it: %s",
                             n ? "; " : "",
                             p->def->name, why[0] ? why : "no reason given");
            n++;
        }
    }
    return n;
}

/* Appends the "section.key" paths whose values differ between a and b,
 * comma-separated, to out; returns how many. Values are compared, never
 * written (a token is a value). */
static int changed_keys(const tkh_host *h, const tkh_config *a, const tkh_config *b,
                        tk_reply *out)
{
    int n = 0;
    for (size_t i = 0; i < h->nsections; i++) {
        const tkh_section *sec = &h->sections[i];
        for (const tk_config_key *k = sec->keys; k != NULL && k->name != NULL; k++) {
            char path[256];
            snprintf(path, sizeof path, "%s.%s", sec->name, k->name);
            const tk_config_value *x = tkh_config_lookup(a, path);
            const tk_config_value *y = tkh_config_lookup(b, path);
            if (x == NULL || y == NULL)
                continue;
            bool same = x->set == y->set;
            if (same && x->set) {
                if (k->type == TK_CONFIG_BOOL)
                    same = x->b == y->b;
                else if (k->type == TK_CONFIG_INT)
                    same = x->i == y->i;
                else
                    same = strcmp(x->s ? x->s : "", y->s ? y->s : "") == 0;
            }
            if (!same)
                tkh_reply_printf(out, "%s%s", n++ ? ", " : "", path);
        }
    }
    return n;
}

/* Notes what the host library itself did with its changed keys. */
static void note_host_keys(tkh_host *h, const tkh_config *old)
{
    if (strcmp(tkh_config_lookup(old, "log.level")->s,
               tkh_config_lookup(h->config, "log.level")->s) != 0)
        tkh_host_reload_note(h, "host", "applied at once: log.level");
    const char *was = tkh_config_lookup(old, "admin.socket")->s;
    if (strcmp(was, tkh_config_lookup(h->config, "admin.socket")->s) != 0)
        tkh_host_reload_note(h, "host", "needs a process restart, not applied: admin.socket "
                             "(the admin channel stays on %s)", was);
}

/* Logs a warning and notes it when the plugin list in the file changed:
 * plugins are loaded at start only. */
static void warn_plugin_list_change(tkh_host *h, const tkh_doc *doc)
{
    tkh_plugin_spec *specs = NULL;
    size_t n = 0;
    char err[256];
    if (doc == NULL || tkh_doc_plugins(doc, &specs, &n, err, sizeof err) != 0)
        return;
    bool same = n == h->nplugins;
    for (size_t i = 0; same && i < n; i++)
        same = strcmp(specs[i].name, h->specs[i].name) == 0 &&
               strcmp(specs[i].path, h->specs[i].path) == 0;
    if (!same) {
        tkh_log(TK_LOG_WARN, "host", "the plugins list changed: plugins are loaded at "
                "start only, restart takhind to apply it");
        tkh_host_reload_note(h, "host", "needs a process restart, not applied: plugins");
    }
    tkh_plugin_specs_free(specs, n);
}

/* Switches to `next` (validated and accepted) and writes the answer. */
static int switch_config(tkh_host *h, tkh_config *next, const tkh_doc *doc, tk_reply *out)
{
    tk_reply *changed = tkh_reply_new(), *failed = tkh_reply_new();
    h->notes = tkh_reply_new();
    if (changed == NULL || failed == NULL || h->notes == NULL) {
        tkh_reply_free(changed);
        tkh_reply_free(failed);
        tkh_reply_free(h->notes);
        h->notes = NULL;
        tkh_config_free(next);
        tkh_reply_printf(out, "config reload failed, the old config stays in force: "
                         "out of memory");
        return -1;
    }
    tkh_config *old = h->config;
    h->config = next;
    int nchanged = changed_keys(h, old, next, changed);
    warn_plugin_list_change(h, doc);
    apply_host_keys(h->config);
    note_host_keys(h, old);
    int nfailed = reconfigure_plugins(h, failed);
    if (h->opt.on_reload != NULL)
        h->opt.on_reload(h->opt.reload_ctx, h->config);
    tkh_config_free(old);
    const char *notes = tkh_reply_text(h->notes);
    if (nfailed > 0)
        tkh_reply_printf(out, "config reload partly failed: the new config is in force, %s",
                         tkh_reply_text(failed));
    else if (nchanged == 0 && notes[0] == '\0')
        tkh_reply_printf(out, "config reloaded: no key changed");
    else
        tkh_reply_printf(out, "config reloaded");
    /* One line each: the outcome (as answered so far), then the keys. */
    tkh_log(nfailed ? TK_LOG_ERROR : TK_LOG_INFO, "host", "%s", tkh_reply_text(out));
    if (nchanged > 0)
        tkh_reply_printf(out, "\nchanged: %s", tkh_reply_text(changed));
    if (notes[0] != '\0')
        tkh_reply_printf(out, "\n%.*s", (int)strlen(notes) - 1, notes); /* without its \n */
    if (nchanged > 0)
        tkh_log(TK_LOG_INFO, "host", "changed: %s", tkh_reply_text(changed));
    tkh_reply_free(changed);
    tkh_reply_free(failed);
    tkh_reply_free(h->notes);
    h->notes = NULL;
    return nfailed > 0 ? 1 : 0;
}

int tkh_host_reload_report(tkh_host *h, tk_reply *out)
{
    pthread_mutex_lock(&h->lock);
    tkh_doc *doc = NULL;
    tkh_config *next = NULL;
    char err[1024];
    int rc = -1;
    if (parse_doc(h, &doc, err, sizeof err) != 0 ||
        build_config(h, doc, &next, err, sizeof err) != 0 ||
        check_plugins(h, next, err, sizeof err) != 0) {
        tkh_config_free(next);
        tkh_reply_printf(out, "config reload failed, the old config stays in force: %s", err);
        tkh_log(TK_LOG_ERROR, "host", "%s", tkh_reply_text(out));
    } else {
        rc = switch_config(h, next, doc, out);
    }
    tkh_doc_free(doc);
    pthread_mutex_unlock(&h->lock);
    return rc;
}

int tkh_host_reload(tkh_host *h, char *err, size_t errlen)
{
    tk_reply *out = tkh_reply_new();
    if (out == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    int rc = tkh_host_reload_report(h, out);
    if (rc != 0)
        snprintf(err, errlen, "%s", tkh_reply_text(out));
    tkh_reply_free(out);
    return rc;
}

static void add_note(tkh_host *h, const char *component, const char *fmt, va_list ap)
{
    if (h->notes == NULL)
        return;
    tkh_reply_printf(h->notes, "%s: ", component);
    tkh_reply_vprintf(h->notes, fmt, ap);
    tkh_reply_printf(h->notes, "\n");
}

void tkh_host_reload_note(tkh_host *h, const char *component, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    add_note(h, component, fmt, ap);
    va_end(ap);
}

const tkh_config *tkh_host_config(const tkh_host *h)
{
    return h->config;
}

tkh_admin *tkh_host_admin(tkh_host *h)
{
    return h->admin;
}

void tkh_host_close(tkh_host *h)
{
    if (h == NULL)
        return;
    if (h->admin != NULL)
        tkh_admin_stop(h->admin); /* no command can run from here on */
    for (size_t i = h->nplugins; i-- > 0;)
        unload_plugin(h, &h->plugins[i]);
    tkh_admin_free(h->admin);
    tkh_config_free(h->config);
    tkh_plugin_specs_free(h->specs, h->nplugins);
    free(h->plugins);
    free(h->sections);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

/* ---- the table handed to plugins ---- */

static void api_log(tk_host *p, tk_log_level level, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    tkh_vlog(level, p->def->name, fmt, ap);
    va_end(ap);
}

static int api_register_command(tk_host *p, const char *prefix, const char *word,
                                const char *usage, tk_command_fn fn)
{
    if (!p->in_init)
        return EBUSY;
    if (fn == NULL)
        return EINVAL;
    cmd_binding *b = calloc(1, sizeof *b);
    if (b == NULL)
        return ENOMEM;
    *b = (cmd_binding){p, fn, p->commands};
    int rc = tkh_admin_register(p->owner->admin, prefix, word, usage, dispatch_command, b);
    if (rc != 0) {
        free(b);
        return rc;
    }
    p->commands = b;
    return 0;
}

static const tk_process_info *api_process_info(tk_host *p)
{
    return &p->owner->info;
}

static void api_reload_note(tk_host *p, const char *fmt, ...)
{
    if (!p->reconfiguring)
        return;
    va_list ap;
    va_start(ap, fmt);
    add_note(p->owner, p->def->name, fmt, ap);
    va_end(ap);
}

static int api_set_event_hooks(tk_host *p, const tk_event_hooks *hooks, void *ctx)
{
    (void)p;
    return tkh_set_event_hooks(hooks, ctx) == 0 ? 0 : ENOMEM;
}

#if TKH_API_MINOR >= 2
static int api_set_context_hook(tk_host *p, tk_context_hook hook, void *ctx)
{
    (void)p;
    return tkh_set_context_hook(hook, ctx) == 0 ? 0 : ENOMEM;
}
#endif

static const tk_host_api host_api = {
    .abi_major = TK_ABI_MAJOR,
    .abi_minor = TKH_API_MINOR,
#if TKH_API_MINOR >= 2
    .size = sizeof(tk_host_api),
    .context_current = tkh_context_current,
    .context_of_thread = tkh_context_of_thread,
    .context_of_waiter = tkh_context_of_waiter,
    .set_context_hook = api_set_context_hook,
#else
    .size = offsetof(tk_host_api, context_current),
#endif
    .log = api_log,
    .config_get = tkh_config_get,
    .register_command = api_register_command,
    .reply_printf = tkh_reply_printf,
    .process_info = api_process_info,
    .set_event_hooks = api_set_event_hooks,
    .reload_note = api_reload_note,
};
