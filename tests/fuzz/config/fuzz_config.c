/*
 * fuzz_config - the config loader: YAML text and TAKHIN_* environment.
 *
 * Input: YAML text, then optionally a NUL byte and environment entries
 * ("NAME=VALUE", one per line). The YAML goes through tkh_doc_parse_string
 * and tkh_doc_plugins; the document and the environment through
 * tkh_config_build against the profiler's real schema (prof_config_keys)
 * and a section with one key of each type; every value of a built config
 * is read back. Invariants: a failure always has a message; a success
 * gives every schema key a value with an origin.
 */
#include "fuzz.h"

#include "takhin/host/config.h"

#include <string.h>

extern const tk_config_key prof_config_keys[]; /* plugin/core/settings.c */

static const tk_config_key test_keys[] = {
    {"flag", TK_CONFIG_BOOL, "false", 0, 0, "a boolean"},
    {"count", TK_CONFIG_INT, "4", 1, 1000, "an integer"},
    {"name", TK_CONFIG_STRING, NULL, 0, 0, "a string, may be empty"},
    {"deep.name", TK_CONFIG_STRING, "x", 1, 0, "a nested string"},
    {"addr", TK_CONFIG_HOST, "127.0.0.1", 0, 0, "an address"},
    {0},
};

static void count_warning(void *ctx, const char *message)
{
    FUZZ_ASSERT(message != NULL, "NULL warning");
    (*(int *)ctx)++;
}

static void read_back(const tkh_config *cfg, const char *section, const tk_config_key *keys)
{
    const tk_config *view = tkh_config_section(cfg, section);
    FUZZ_ASSERT(view != NULL, "section %s missing", section);
    for (const tk_config_key *k = keys; k->name != NULL; k++) {
        const tk_config_value *v = tkh_config_get(view, k->name);
        FUZZ_ASSERT(v != NULL, "%s.%s missing", section, k->name);
        FUZZ_ASSERT(v->origin != NULL, "%s.%s has no origin", section, k->name);
        if (v->set && v->s != NULL)
            (void)strlen(v->s);
        char path[128];
        snprintf(path, sizeof path, "%s.%s", section, k->name);
        FUZZ_ASSERT(tkh_config_lookup(cfg, path) == v, "lookup of %s differs", path);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 64 * 1024)
        return 0;
    char *text = fuzz_cstr(data, size);
    size_t yaml_len = strlen(text);

    /* The environment: the lines after the first NUL. */
    char *envp[65];
    size_t nenv = 0;
    char *envtext = yaml_len < size ? fuzz_cstr(data + yaml_len + 1, size - yaml_len - 1) : NULL;
    for (char *line = envtext, *next; line != NULL && nenv < 64; line = next) {
        next = strchr(line, '\n');
        if (next != NULL)
            *next++ = '\0';
        if (line[0] != '\0')
            envp[nenv++] = line;
    }
    envp[nenv] = NULL;

    char err[1024];
    tkh_doc *doc = NULL;
    err[0] = '\0';
    if (tkh_doc_parse_string(&doc, text, "fuzz.yaml", err, sizeof err) != 0) {
        FUZZ_ASSERT(err[0] != '\0', "parse failed without a message");
        FUZZ_ASSERT(doc == NULL, "parse failed but returned a document");
    } else {
        tkh_plugin_spec *specs = NULL;
        size_t nspecs = 0;
        err[0] = '\0';
        if (tkh_doc_plugins(doc, &specs, &nspecs, err, sizeof err) == 0) {
            for (size_t i = 0; i < nspecs; i++)
                FUZZ_ASSERT(specs[i].name && specs[i].path && specs[i].origin,
                            "plugin spec %zu incomplete", i);
            tkh_plugin_specs_free(specs, nspecs);
        } else {
            FUZZ_ASSERT(err[0] != '\0', "plugins failed without a message");
        }
    }

    const tkh_section sections[] = {{"profiler", prof_config_keys}, {"test", test_keys}};
    tkh_config *cfg = NULL;
    int warnings = 0;
    err[0] = '\0';
    if (tkh_config_build(&cfg, doc, sections, 2, envp, count_warning, &warnings, err,
                         sizeof err) == 0) {
        read_back(cfg, "profiler", prof_config_keys);
        read_back(cfg, "test", test_keys);
        FUZZ_ASSERT(tkh_config_section(cfg, "nosuch") == NULL, "unknown section found");
        tkh_config_free(cfg);
    } else {
        FUZZ_ASSERT(err[0] != '\0', "build failed without a message");
    }
    tkh_doc_free(doc);
    free(envtext);
    free(text);
    return 0;
}
