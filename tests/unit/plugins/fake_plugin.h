/* Shared body of the test plugins: each file sets the macros it needs and
 * includes this. Built into build/tests/plugins/NAME.so. */
#include "takhin/plugin.h"

#include <stdio.h>
#include <string.h>

#ifndef FAKE_MAJOR
#define FAKE_MAJOR TK_ABI_MAJOR
#endif
#ifndef FAKE_MINOR
#define FAKE_MINOR TK_ABI_MINOR
#endif
#ifndef FAKE_INIT_FAILS
#define FAKE_INIT_FAILS 0
#endif

static const tk_config_key fake_keys[] = {
    {"greeting", TK_CONFIG_STRING, "hello", 1, 0, "a test key"},
    {0},
};

static int fake_seen;

static int fake_cmd(void *state, int argc, char **argv, tk_reply *reply);

static const tk_host_api *fake_api;
static tk_host *fake_host;
static char fake_greeting[64]; /* the greeting in force */

static int fake_cmd(void *state, int argc, char **argv, tk_reply *reply)
{
    (void)state;
    fake_api->reply_printf(reply, "fake %d %s", argc, argc > 0 ? argv[0] : "-");
    return 0;
}

static int fake_init(const tk_host_api *api, tk_host *host, const tk_config *cfg,
                     void **state, char *err, size_t errlen)
{
    fake_api = api;
    fake_host = host;
    if (FAKE_INIT_FAILS) {
        snprintf(err, errlen, "the fake plugin refuses to start (greeting %s)",
                 api->config_get(cfg, "greeting")->s);
        return -1;
    }
    snprintf(fake_greeting, sizeof fake_greeting, "%s", api->config_get(cfg, "greeting")->s);
    api->register_command(host, FAKE_NAME, "ping", FAKE_NAME " ping  answers", fake_cmd);
    *state = &fake_seen;
    return 0;
}

/* Refuses greeting "fail"; says what changed through reload_note. */
static int fake_reconfigure(void *state, const tk_config *cfg, char *err, size_t errlen)
{
    (void)state;
    const char *greeting = fake_api->config_get(cfg, "greeting")->s;
    if (strcmp(greeting, "fail") == 0) {
        snprintf(err, errlen, "the fake plugin keeps its old greeting");
        return -1;
    }
    if (strcmp(greeting, fake_greeting) != 0 && TK_API_HAS(fake_api, reload_note))
        fake_api->reload_note(fake_host, "greeting is now %s", greeting);
    snprintf(fake_greeting, sizeof fake_greeting, "%s", greeting);
    return 0;
}

static void fake_fini(void *state)
{
    (void)state;
}

static const tk_plugin_def fake_def = {
    .abi_major = FAKE_MAJOR,
    .abi_minor = FAKE_MINOR,
    .name = FAKE_NAME,
    .version = "test",
    .description = "a plugin for the loader tests",
    .config_keys = fake_keys,
    .init = fake_init,
    .reconfigure = fake_reconfigure,
    .fini = fake_fini,
};

#ifndef FAKE_NO_ENTRY
const tk_plugin_def *takhin_plugin_entry(void);
const tk_plugin_def *takhin_plugin_entry(void)
{
    return &fake_def;
}
#else
const tk_plugin_def *some_other_symbol(void);
const tk_plugin_def *some_other_symbol(void)
{
    return &fake_def;
}
#endif
