/*
 * units.c - values and percentages formatted exactly as pprof's
 * measurement package does (Scale, ScaledLabel, Percentage), so that the
 * report's numbers read the same as `go tool pprof -top`.
 */
#include "report/cli_report.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

typedef struct unitdef {
    const char *name;
    const char *alias[4];
    double factor;
} unitdef;

typedef struct unit_type {
    unitdef units[6];
    size_t n;
    unitdef dflt;
} unit_type;

static const unit_type types[] = {
    {{{"B", {"b", "byte"}, 1},
      {"kB", {"kb", "kbyte", "kilobyte"}, 1024.0},
      {"MB", {"mb", "mbyte", "megabyte"}, 1048576.0},
      {"GB", {"gb", "gbyte", "gigabyte"}, 1073741824.0},
      {"TB", {"tb", "tbyte", "terabyte"}, 1099511627776.0},
      {"PB", {"pb", "pbyte", "petabyte"}, 1125899906842624.0}},
     6, {"B", {"b", "byte"}, 1}},
    {{{"ns", {"ns", "nanosecond"}, 1},
      {"us", {"\xce\xbcs", "us", "microsecond"}, 1e3},
      {"ms", {"ms", "millisecond"}, 1e6},
      {"s", {"s", "sec", "second"}, 1e9},
      {"hrs", {"hour", "hr"}, 3600e9}},
     5, {"s", {NULL}, 1e9}},
};

/* pprof's sniffUnit: lower case, one trailing 's' off when longer than 2. */
static const unitdef *sniff(const unit_type *t, const char *name)
{
    char low[64];
    size_t n = 0;
    for (; name[n] && n < sizeof low - 1; n++)
        low[n] = (char)tolower((unsigned char)name[n]);
    low[n] = '\0';
    if (n > 2 && low[n - 1] == 's')
        low[n - 1] = '\0';
    for (size_t i = 0; i < t->n; i++) {
        for (size_t a = 0; a < 4 && t->units[i].alias[a]; a++) {
            if (strcmp(t->units[i].alias[a], low) == 0)
                return &t->units[i];
        }
    }
    return NULL;
}

static bool auto_scale(const unit_type *t, double v, double *out, const char **name)
{
    double f = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (t->units[i].factor >= f && v / t->units[i].factor >= 1.0) {
            f = t->units[i].factor;
            *name = t->units[i].name;
        }
    }
    if (f == 0)
        return false;
    *out = v / f;
    return true;
}

static bool convert(const unit_type *t, int64_t value, const char *from, const char *to,
                    double *out, const char **name)
{
    const unitdef *fu = sniff(t, from);
    if (fu == NULL)
        return false;
    double v = (double)value * fu->factor;
    if (strcmp(to, "minimum") == 0 || strcmp(to, "auto") == 0) {
        if (auto_scale(t, v, out, name))
            return true;
        *out = v / t->dflt.factor;
        *name = t->dflt.name;
        return true;
    }
    const unitdef *tu = sniff(t, to);
    if (tu == NULL)
        tu = &t->dflt;
    *out = v / tu->factor;
    *name = tu->name;
    return true;
}

double cli_scale(int64_t value, const char *from, const char *to, const char **unit)
{
    double out;
    if (value < 0 && -(uint64_t)value < (uint64_t)1 << 63) {
        double v = cli_scale(-value, from, to, unit);
        return -v;
    }
    for (size_t i = 0; i < sizeof types / sizeof *types; i++) {
        if (convert(&types[i], value, from, to, &out, unit))
            return out;
    }
    static const char *plain[] = {"count", "sample", "unit", "minimum", "auto"};
    *unit = to;
    for (size_t i = 0; i < sizeof plain / sizeof *plain; i++) {
        if (strcmp(to, plain[i]) == 0)
            *unit = "";
    }
    return (double)value;
}

void cli_scaled_label(char *buf, size_t len, int64_t value, const char *from, const char *to)
{
    const char *u;
    double v = cli_scale(value, from, to, &u);
    char num[64];
    snprintf(num, sizeof num, "%.2f", v);
    size_t n = strlen(num);
    if (n >= 3 && strcmp(num + n - 3, ".00") == 0)
        num[n - 3] = '\0';
    if (strcmp(num, "0") == 0 || strcmp(num, "-0") == 0)
        snprintf(buf, len, "0");
    else
        snprintf(buf, len, "%s%s", num, u);
}

void cli_percentage(char *buf, size_t len, int64_t value, int64_t total)
{
    double ratio = 0;
    if (total != 0)
        ratio = fabs((double)value / (double)total) * 100;
    if (ratio >= 99.95 && ratio <= 100.05)
        snprintf(buf, len, "  100%%");
    else if (ratio >= 1.0)
        snprintf(buf, len, "%5.2f%%", ratio);
    else
        snprintf(buf, len, "%5.2g%%", ratio);
}
