/*
 * takhin/host/config.h - the host's config hierarchy: compiled defaults,
 * then one YAML file (libyaml), then TAKHIN_* environment variables.
 *
 * Two steps, because the plugins to load are listed in the config and
 * their schemas are only known once they are loaded:
 *   1. tkh_doc_parse_*: read the YAML into a flat list of scalars with their
 *      file:line:column (no schema yet);
 *   2. tkh_config_build: check the document and the environment against the
 *      known sections' schemas and make the typed, immutable config.
 *
 * Env mapping: key path "profiler.port" <-> TAKHIN_PROFILER_PORT (TAKHIN_,
 * the path upper-cased, '.' -> '_'). Only keys of known sections are looked
 * up; other TAKHIN_* variables are reported through the warning callback.
 *
 * Relative paths: a plugin path written in the YAML file resolves against
 * the directory of that file.
 *
 * Errors: one message naming the key, the value, its origin and the form
 * expected, e.g.
 *   profiler.port = "70000" (env TAKHIN_PROFILER_PORT): expected an integer from 0 to 65535
 */
#ifndef TAKHIN_HOST_CONFIG_H
#define TAKHIN_HOST_CONFIG_H

#include "takhin/plugin.h"

typedef struct tkh_doc tkh_doc;       /* a parsed YAML document */
typedef struct tkh_config tkh_config; /* a validated config: every section */

/* A section's name ("profiler") and schema (ends with a zeroed key). */
typedef struct tkh_section {
    const char *name;
    const tk_config_key *keys;
} tkh_section;

/* One entry of the top-level `plugins:` list. */
typedef struct tkh_plugin_spec {
    char *name;
    char *path;   /* resolved: absolute, or relative to the cwd */
    char *origin; /* "configs/takhin.yaml:7:5" */
} tkh_plugin_spec;

typedef void (*tkh_warn_fn)(void *ctx, const char *message);

/* Parse YAML from a file or from a string (`name` is used in origins).
 * 0 on success (*out owned by the caller, free with tkh_doc_free);
 * -1 with a message in err. An empty document is valid. */
int tkh_doc_parse_file(tkh_doc **out, const char *path, char *err, size_t errlen);
int tkh_doc_parse_string(tkh_doc **out, const char *text, const char *name,
                         char *err, size_t errlen);
void tkh_doc_free(tkh_doc *doc);

/* The `plugins:` list (a sequence of {name, path} maps). Absent = none.
 * *specs is owned by the caller: tkh_plugin_specs_free. */
int tkh_doc_plugins(const tkh_doc *doc, tkh_plugin_spec **specs, size_t *count,
                    char *err, size_t errlen);
void tkh_plugin_specs_free(tkh_plugin_spec *specs, size_t count);

/* Validates `doc` (may be NULL: defaults and env only) and `envp` against
 * the sections. Unknown top-level keys other than `plugins`, and unknown
 * keys inside a known section, are errors. `warn` may be NULL.
 * 0 and *out (caller frees with tkh_config_free), or -1 and err. */
int tkh_config_build(tkh_config **out, const tkh_doc *doc,
                     const tkh_section *sections, size_t nsections,
                     char *const *envp, tkh_warn_fn warn, void *warn_ctx,
                     char *err, size_t errlen);
void tkh_config_free(tkh_config *cfg);

/* The view of one section handed to a plugin; owned by `cfg`. NULL if the
 * section is unknown. */
const tk_config *tkh_config_section(const tkh_config *cfg, const char *section);

/* A key of a section view; NULL if not in the schema. Owned by the config. */
const tk_config_value *tkh_config_get(const tk_config *section, const char *key);

/* Convenience for host code: "section.key" on the whole config. */
const tk_config_value *tkh_config_lookup(const tkh_config *cfg, const char *path);

/* Parses a boolean the way the config does (true/false, yes/no, on/off,
 * 1/0, any case). 0 on success, -1 if not a boolean. */
int tkh_parse_bool(const char *text, bool *out);

/* Writes the env var name for a key path into buf: "profiler.port" ->
 * "TAKHIN_PROFILER_PORT". */
void tkh_env_name(const char *path, char *buf, size_t len);

#endif
