/*
 * demangle.c - C++ names as pprof shows them by default: demangled, then
 * simplified to no parameters, no template arguments, no return type, no
 * clone suffix ("tcmalloc::CentralFreeList::Populate"). Demangling uses
 * libstdc++'s __cxa_demangle, looked up at run time (the tool stays a C
 * program; without libstdc++ names stay mangled). Like pprof, a function
 * whose name differs from its system name is taken as already demangled,
 * and names that already look like C++ get the same simplification.
 */
#include "input/cli_prof.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef char *(*cxa_demangle_fn)(const char *, char *, size_t *, int *);

static cxa_demangle_fn cxa;
static pthread_once_t cxa_once = PTHREAD_ONCE_INIT;

static void load_cxa(void)
{
    void *h = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_LOCAL);
    if (h != NULL)
        *(void **)&cxa = dlsym(h, "__cxa_demangle");
}

/* Tokens whose brackets are not parameter or template lists. */
static const char *const keep[] = {"(anonymous namespace)", "operator()", "operator<<=",
                                   "operator>>=", "operator<=>", "operator<<", "operator>>",
                                   "operator<=", "operator>=", "operator->*", "operator->",
                                   "operator<", "operator>"};

/* Length of a token at s to copy as is: a keep token, or a {...} group
 * ("{lambda()#1}" keeps its parameters in pprof's output); 1 otherwise. */
static size_t token(const char *s)
{
    for (size_t k = 0; k < sizeof keep / sizeof *keep; k++) {
        if (strncmp(s, keep[k], strlen(keep[k])) == 0)
            return strlen(keep[k]);
    }
    if (*s != '{')
        return 1;
    int depth = 0;
    for (size_t i = 0; s[i]; i++) {
        depth += s[i] == '{' ? 1 : s[i] == '}' ? -1 : 0;
        if (depth == 0)
            return i + 1;
    }
    return 1;
}

/* pprof's removeMatching, skipping the tokens above. In place. */
static void remove_matching(char *s, char open, char close)
{
    int nest = 0;
    size_t first = 0, w = 0;
    for (size_t r = 0; s[r];) {
        size_t n = token(s + r);
        if (n == 1 && s[r] == open && nest++ == 0)
            first = w;
        if (n == 1 && s[r] == close && --nest < 0) { /* mismatch: stop, as pprof */
            memmove(s + w, s + r, strlen(s + r) + 1);
            return;
        }
        memmove(s + w, s + r, n);
        w += n;
        r += n;
        if (n == 1 && s[r - 1] == close && nest == 0)
            w = first;
    }
    s[w] = '\0';
}

/* Drops a template function's return type: text before the first space
 * outside brackets that is not part of "operator ..." or a keep token. */
static void drop_return_type(char *s)
{
    int depth = 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] == '(' || s[i] == '<' || s[i] == '[' || s[i] == '{')
            depth++;
        else if (s[i] == ')' || s[i] == '>' || s[i] == ']' || s[i] == '}')
            depth--;
        else if (s[i] == ' ' && depth == 0) {
            if (i >= 8 && strncmp(s + i - 8, "operator", 8) == 0)
                return;
            memmove(s, s + i + 1, strlen(s + i + 1) + 1);
            return;
        }
    }
}

static void strip_suffix(char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    if (n > m && strcmp(s + n - m, suffix) == 0)
        s[n - m] = '\0';
}

/* Full demangled text -> pprof's simplified form. In place. */
static void simplify(char *s, bool drop_ret)
{
    char *clone = strstr(s, " [clone ");
    if (clone != NULL)
        *clone = '\0';
    remove_matching(s, '(', ')');
    remove_matching(s, '<', '>');
    strip_suffix(s, " &&");
    strip_suffix(s, " &");
    strip_suffix(s, " volatile");
    strip_suffix(s, " const");
    if (drop_ret)
        drop_return_type(s);
}

static bool looks_demangled(const char *s)
{
    if (strstr(s, ".<") != NULL || strstr(s, "]).") != NULL)
        return false;
    return strpbrk(s, "<>[]") != NULL || strstr(s, "::") != NULL;
}

/* The display name of one function; NULL when unchanged. */
static const char *display_name(pf_decoded *p, const pf_dfunction *f)
{
    const char *sys = f->system_name;
    char *out = NULL;
    if (strncmp(sys, "_Z", 2) == 0 && cxa != NULL) {
        int status = -1;
        out = cxa(sys, NULL, NULL, &status);
        if (status != 0) {
            free(out);
            out = NULL;
        }
    }
    if (out != NULL)
        simplify(out, true);
    else if (looks_demangled(sys) && (out = strdup(sys)) != NULL) {
        remove_matching(out, '(', ')');
        remove_matching(out, '<', '>');
    }
    const char *r = out ? pf_decoded_str(p, out, SIZE_MAX) : sys;
    free(out);
    return r;
}

void cli_prof_demangle(pf_decoded *p)
{
    pthread_once(&cxa_once, load_cxa);
    for (size_t i = 0; i < p->nfuncs; i++) {
        pf_dfunction *f = &p->funcs[i];
        if (f->name[0] != '\0' && strcmp(f->name, f->system_name) != 0)
            continue;
        const char *n = display_name(p, f);
        if (n != NULL)
            f->name = n;
    }
}
