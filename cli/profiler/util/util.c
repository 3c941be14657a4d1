/* util.c - messages and file names shared by the modules. */
#include "util/cli.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <errno.h>
#include <sys/stat.h>
#include <time.h>

static void vmsg(const char *what, const char *fmt, va_list ap)
{
    char buf[4096];
    vsnprintf(buf, sizeof buf, fmt, ap);
    fprintf(stderr, "takhin-profiler: %s%s\n", what, buf);
}

void cli_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("", fmt, ap);
    va_end(ap);
}

void cli_note(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vmsg("note: ", fmt, ap);
    va_end(ap);
}

void cli_default_name(char *buf, size_t len, const char *dir, const char *kind,
                      const char *ext, time_t when)
{
    struct tm tm;
    char stamp[32] = "00000000_000000";
    if (localtime_r(&when, &tm) != NULL)
        strftime(stamp, sizeof stamp, "%Y%m%d_%H%M%S", &tm);
    size_t n = strlen(dir);
    snprintf(buf, len, "%s%stakhin_%s_%s%s", dir, n && dir[n - 1] == '/' ? "" : "/", kind, stamp,
             ext);
}

void cli_flame_path(char *buf, size_t len, const char *path)
{
    static const char *exts[] = {".pb.gz", ".pprof", ".prof", ".heap", ".pb", ".gz"};
    size_t n = strlen(path);
    for (size_t i = 0; i < sizeof exts / sizeof *exts; i++) {
        size_t e = strlen(exts[i]);
        if (n > e && strcmp(path + n - e, exts[i]) == 0) {
            n -= e;
            break;
        }
    }
    snprintf(buf, len, "%.*s.svg", (int)n, path);
}


int cli_make_dirs(const char *dir, char *err, size_t errlen)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *s = path + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (mkdir(path, 0755) != 0 && errno != EEXIST) {
                snprintf(err, errlen, "cannot create the directory %.3000s: %s", path,
                         strerror(errno));
                return -1;
            }
            *s = c;
            if (c == '\0')
                return 0;
        }
    }
}

int cli_make_dir(const char *dir)
{
    char err[3200];
    if (cli_make_dirs(dir, err, sizeof err) == 0)
        return 0;
    cli_error("%s", err);
    return -1;
}
