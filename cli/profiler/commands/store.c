/*
 * store.c - where watch and periodic capture put profiles.
 *
 *   DIR/<target>/<YYYY-MM-DD>/<HHMMSS>_<reason>_<type>.pb.gz   (.json: trace)
 *   DIR/<target>/<YYYY-MM-DD>/index.jsonl                      one line a file
 *
 * Dates and times are UTC. A capture is written to ".<name>.part<pid>" in
 * the same directory, fsynced, then linked to its name (link(2) fails
 * rather than replace another file: the name gets _2, _3, ...), the temp
 * name removed and the directory fsynced; only then is its index line
 * appended (one write(2), O_APPEND, fsynced). So a killed process leaves
 * at most a dot-file ending in .part<pid>, never a file that looks whole;
 * those of dead processes are removed when a store is opened.
 *
 * S3 (-output s3://bucket/prefix): the same layout under the prefix. A
 * file is staged in a local spool directory as above, then PUT with
 * libcurl's CURLOPT_AWS_SIGV4 (credentials from AWS_ACCESS_KEY_ID,
 * AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN), and the day's index.jsonl is
 * PUT again whole after each line. Retention is local only.
 */
#include "commands/cli_watch.h"
#include "transport/cli_curl.h"
#include "pf_util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct cli_store {
    char root[4096];
    pthread_mutex_t lock;
    bool s3;
    char bucket[256], prefix[1024], endpoint[1024], region[64];
    char access_key[256], secret_key[512], session_token[4096];
};

void cli_store_sanitize(char *out, size_t len, const char *in)
{
    size_t o = 0;
    for (; *in && o + 1 < len && o < 100; in++) {
        char c = *in;
        bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                  c == '.' || c == '-';
        out[o++] = ok ? c : '_';
    }
    if (o == 0 && len > 1)
        out[o++] = '_';
    if (o > 0 && out[0] == '.') /* never a dot-file (temp names are) or ".." */
        out[0] = '_';
    out[o] = '\0';
}


static void fsync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Temp files of processes that are gone. */
static int sweep_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    const char *base = path + ftw->base;
    const char *part = strstr(base, ".part");
    if (flag == FTW_F && base[0] == '.' && part) {
        long pid = strtol(part + 5, NULL, 10);
        if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH))
            unlink(path);
    }
    return 0;
}

static int parse_s3(cli_store *s, const char *out, const char *endpoint, const char *region,
                    char *err, size_t errlen)
{
    const char *b = out + 5, *slash = strchr(b, '/');
    size_t bl = slash ? (size_t)(slash - b) : strlen(b);
    if (bl == 0 || bl >= sizeof s->bucket) {
        snprintf(err, errlen, "expected s3://BUCKET/PREFIX");
        return -1;
    }
    snprintf(s->bucket, sizeof s->bucket, "%.*s", (int)bl, b);
    snprintf(s->prefix, sizeof s->prefix, "%s", slash ? slash + 1 : "");
    size_t pl = strlen(s->prefix);
    while (pl && s->prefix[pl - 1] == '/')
        s->prefix[--pl] = '\0';
    if (endpoint == NULL || *endpoint == '\0') {
        snprintf(err, errlen, "needs -s3-endpoint URL (e.g. http://127.0.0.1:4569, or "
                 "https://s3.REGION.amazonaws.com)");
        return -1;
    }
    snprintf(s->endpoint, sizeof s->endpoint, "%s", endpoint);
    size_t el = strlen(s->endpoint);
    while (el && s->endpoint[el - 1] == '/')
        s->endpoint[--el] = '\0';
    const char *r = region && *region ? region : getenv("AWS_REGION");
    if (r == NULL || *r == '\0')
        r = getenv("AWS_DEFAULT_REGION");
    snprintf(s->region, sizeof s->region, "%s", r && *r ? r : "us-east-1");
    const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
    const char *st = getenv("AWS_SESSION_TOKEN");
    if (!ak || !*ak || !sk || !*sk) {
        snprintf(err, errlen, "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in the "
                 "environment");
        return -1;
    }
    snprintf(s->access_key, sizeof s->access_key, "%s", ak);
    snprintf(s->secret_key, sizeof s->secret_key, "%s", sk);
    snprintf(s->session_token, sizeof s->session_token, "%s", st ? st : "");
    s->s3 = true;
    return 0;
}

cli_store *cli_store_open(const char *out, const char *s3_endpoint, const char *s3_region,
                          char *err, size_t errlen)
{
    cli_store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&s->lock, NULL);
    if (strncmp(out, "s3://", 5) == 0) {
        if (parse_s3(s, out, s3_endpoint, s3_region, err, errlen) != 0) {
            free(s);
            return NULL;
        }
        const char *tmp = getenv("TMPDIR");
        snprintf(s->root, sizeof s->root, "%s/takhin-profiler-spool-%ld",
                 tmp && *tmp ? tmp : "/tmp", (long)getpid());
    } else
        snprintf(s->root, sizeof s->root, "%s", out);
    if (strlen(s->root) > 2000) {
        snprintf(err, errlen, "the path is too long (at most 2000 bytes)");
        free(s);
        return NULL;
    }
    if (cli_make_dirs(s->root, err, errlen) != 0 || access(s->root, W_OK) != 0) {
        if (errno && !err[0])
            snprintf(err, errlen, "cannot write in %.3000s: %s", s->root, strerror(errno));
        free(s);
        return NULL;
    }
    nftw(s->root, sweep_one, 16, FTW_PHYS);
    return s;
}

void cli_store_close(cli_store *s)
{
    if (s == NULL)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

bool cli_store_is_s3(const cli_store *s)
{
    return s->s3;
}

const char *cli_store_root(const cli_store *s)
{
    return s->root;
}

static void utc(time_t t, const char *fmt, char *buf, size_t len)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, fmt, &tm);
}

int cli_store_begin(cli_store *s, cli_store_file *f, const char *target, cli_kind kind,
                    const char *reason, const char *labels_json, time_t when,
                    char *err, size_t errlen)
{
    memset(f, 0, sizeof *f);
    char t[128], r[128], day[16], hms[16];
    cli_store_sanitize(t, sizeof t, target);
    cli_store_sanitize(r, sizeof r, reason && *reason ? reason : "alert");
    utc(when, "%Y-%m-%d", day, sizeof day);
    utc(when, "%H%M%S", hms, sizeof hms);
    f->when = when;
    f->labels_json = labels_json;
    snprintf(f->target, sizeof f->target, "%s", target);
    snprintf(f->type, sizeof f->type, "%s", cli_kind_name(kind));
    snprintf(f->reason, sizeof f->reason, "%s", reason && *reason ? reason : "alert");
    snprintf(f->day_dir, sizeof f->day_dir, "%.2048s/%.127s/%.15s", s->root, t, day);
    snprintf(f->rel, sizeof f->rel, "%s/%s/%s_%s_%s%s", t, day, hms, r, f->type,
             kind == CLI_TRACE ? ".json" : ".pb.gz");
    snprintf(f->path, sizeof f->path, "%.2048s/%.1023s", s->root, f->rel);
    snprintf(f->tmp, sizeof f->tmp, "%.2200s/.%.15s_%.127s_%.15s.%ld.%p.part%ld", f->day_dir, hms, r, f->type,
             (long)when, (void *)f, (long)getpid());
    if (cli_make_dirs(f->day_dir, err, errlen) != 0)
        return -1;
    int fd = open(f->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0 || (f->f = fdopen(fd, "wb")) == NULL) {
        snprintf(err, errlen, "cannot create %.3000s: %s", f->tmp, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return 0;
}

static int sha256_file(const char *path, char hex[65], uint64_t *bytes)
{
    FILE *in = fopen(path, "rb");
    if (in == NULL)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char buf[65536], md[32];
    unsigned mdlen = 0;
    size_t n;
    int rc = ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 ? 0 : -1;
    *bytes = 0;
    while (rc == 0 && (n = fread(buf, 1, sizeof buf, in)) > 0) {
        *bytes += n;
        rc = EVP_DigestUpdate(ctx, buf, n) == 1 ? 0 : -1;
    }
    if (rc == 0 && (ferror(in) || EVP_DigestFinal_ex(ctx, md, &mdlen) != 1))
        rc = -1;
    for (unsigned i = 0; rc == 0 && i < mdlen; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    EVP_MD_CTX_free(ctx);
    fclose(in);
    return rc;
}

/* ---- S3 ---- */

typedef struct upload {
    FILE *in;
} upload;

static size_t read_cb(char *buf, size_t size, size_t n, void *ctx)
{
    return fread(buf, size, n, ((upload *)ctx)->in);
}

static size_t drop_cb(char *buf, size_t size, size_t n, void *ctx)
{
    (void)buf;
    (void)ctx;
    return size * n;
}

/* PUT the file at path to key. 0, or -1 with err. */
static int s3_put(cli_store *s, const char *path, const char *key, const char *ctype,
                  char *err, size_t errlen)
{
    struct stat st;
    upload u = {fopen(path, "rb")};
    if (u.in == NULL || fstat(fileno(u.in), &st) != 0) {
        snprintf(err, errlen, "cannot read %.2000s: %s", path, strerror(errno));
        if (u.in)
            fclose(u.in);
        return -1;
    }
    char url[4096], sigv4[128], userpwd[1024], ebuf[CURL_ERROR_SIZE] = "", ct[160];
    snprintf(url, sizeof url, "%s/%s/%s%s%s", s->endpoint, s->bucket, s->prefix,
             s->prefix[0] ? "/" : "", key);
    snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", s->region);
    snprintf(userpwd, sizeof userpwd, "%s:%s", s->access_key, s->secret_key);
    snprintf(ct, sizeof ct, "Content-Type: %s", ctype);
    /* S3 wants the payload's hash in a header; libcurl 7.88 signs the
     * headers given (later libcurls add this one themselves). */
    char sha[65] = "", shah[100];
    uint64_t n;
    if (sha256_file(path, sha, &n) != 0) {
        snprintf(err, errlen, "cannot read %.2000s: %s", path, strerror(errno));
        fclose(u.in);
        return -1;
    }
    snprintf(shah, sizeof shah, "x-amz-content-sha256: %s", sha);
    const cli_curl_api *curl = cli_curl(err, errlen);
    if (curl == NULL) {
        fclose(u.in);
        return -1;
    }
    struct curl_slist *hdr = curl->slist_append(NULL, ct);
    hdr = curl->slist_append(hdr, shah);
    char tokh[4200];
    if (s->session_token[0]) {
        snprintf(tokh, sizeof tokh, "x-amz-security-token: %s", s->session_token);
        hdr = curl->slist_append(hdr, tokh);
    }
    CURL *h = curl->easy_init();
    long status = 0;
    CURLcode c = h ? CURLE_OK : CURLE_OUT_OF_MEMORY;
    /* long, curl_off_t, pointers and callbacks only: see setup() in curl.c */
#define SET(opt, val) do { if (c == CURLE_OK) c = curl->easy_setopt(h, opt, val); } while (0)
    SET(CURLOPT_URL, url);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_ERRORBUFFER, ebuf);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_UPLOAD, 1L);
    SET(CURLOPT_READFUNCTION, read_cb);
    SET(CURLOPT_READDATA, &u);
    SET(CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
    SET(CURLOPT_WRITEFUNCTION, drop_cb);
    SET(CURLOPT_AWS_SIGV4, sigv4);
    SET(CURLOPT_USERPWD, userpwd);
    SET(CURLOPT_HTTPHEADER, hdr);
    SET(CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    SET(CURLOPT_TIMEOUT_MS, 120000L);
#undef SET
    if (c == CURLE_OK)
        c = curl->easy_perform(h);
    if (c == CURLE_OK)
        curl->easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    int rc = 0;
    if (c != CURLE_OK) {
        snprintf(err, errlen, "S3 PUT %.1000s: %s", url, ebuf[0] ? ebuf : curl->easy_strerror(c));
        rc = -1;
    } else if (status < 200 || status > 299) {
        snprintf(err, errlen, "S3 PUT %.1000s: the server answered %ld", url, status);
        rc = -1;
    }
    curl->easy_cleanup(h);
    curl->slist_free_all(hdr);
    fclose(u.in);
    return rc;
}

/* ---- the index ---- */

void cli_store_utc_ns(int64_t ns, char *buf, size_t len)
{
    char s[32];
    utc((time_t)(ns / 1000000000), "%Y-%m-%dT%H:%M:%S", s, sizeof s);
    snprintf(buf, len, "%s.%03dZ", s, (int)(ns % 1000000000 / 1000000));
}

static json_t *utc_ns(int64_t ns)
{
    char buf[40];
    cli_store_utc_ns(ns, buf, sizeof buf);
    return json_string(buf);
}

/* What a CPU or wall capture covers: its start and end, the past asked
 * and got, whether that was less, and why. */
static json_t *window_json(const cli_window *w)
{
    json_t *o = json_pack("{s:o, s:o, s:I, s:I, s:b}", "start", utc_ns(w->start_ns),
                          "end", utc_ns(w->end_ns), "past_asked", (json_int_t)w->past.asked,
                          "past", (json_int_t)w->past.got, "shortened", w->past.shortened);
    if (o && w->past.shortened)
        json_object_set_new(o, "note", json_string(w->past.note));
    return o;
}

/* Appends one line to the day's index (and uploads it, S3). Holds s->lock. */
static int index_append(cli_store *s, const cli_store_file *f, const char *file, uint64_t bytes,
                        const char *sha, const char *error, char *err, size_t errlen)
{
    char when[32];
    utc(f->when, "%Y-%m-%dT%H:%M:%SZ", when, sizeof when);
    json_t *labels = f->labels_json ? json_loads(f->labels_json, 0, NULL) : NULL;
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:o, s:s}", "time", when, "target", f->target,
                          "type", f->type, "reason", f->reason,
                          "labels", labels ? labels : json_object(),
                          "result", error ? "failed" : "ok");
    if (o && file) {
        json_object_set_new(o, "file", json_string(file));
        json_object_set_new(o, "bytes", json_integer((json_int_t)bytes));
        json_object_set_new(o, "sha256", json_string(sha));
    }
    if (o && f->starts_at && f->starts_at[0])
        json_object_set_new(o, "starts_at", json_string(f->starts_at));
    if (o && f->window.set)
        json_object_set_new(o, "window", window_json(&f->window));
    if (o && error)
        json_object_set_new(o, "error", json_string(error));
    char *line = o ? json_dumps(o, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
    json_decref(o);
    if (line == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/index.jsonl", f->day_dir);
    size_t n = strlen(line);
    line[n] = '\n'; /* over the NUL: written with its length */
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644), rc = 0;
    ssize_t w = fd >= 0 ? write(fd, line, n + 1) : -1;
    if (fd < 0 || w != (ssize_t)(n + 1) || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0 && w > 0 && w != (ssize_t)(n + 1)) /* never half a line */
            if (ftruncate(fd, lseek(fd, 0, SEEK_END) - w) != 0)
                e = errno;
        snprintf(err, errlen, "cannot append to %.3000s: %s", path, strerror(e ? e : ENOSPC));
        rc = -1;
    }
    if (fd >= 0)
        close(fd);
    free(line);
    if (rc == 0 && s->s3) {
        char key[1100], rel[1100];
        snprintf(rel, sizeof rel, "%s", f->rel);
        char *slash = strrchr(rel, '/');
        if (slash)
            *slash = '\0';
        snprintf(key, sizeof key, "%.1000s/index.jsonl", rel);
        rc = s3_put(s, path, key, "application/x-ndjson", err, errlen);
    }
    return rc;
}

int cli_store_commit(cli_store *s, cli_store_file *f, uint64_t *bytes, char *err, size_t errlen)
{
    *bytes = 0;
    int rc = 0;
    if (fflush(f->f) != 0 || fsync(fileno(f->f)) != 0) {
        snprintf(err, errlen, "cannot write %.3000s: %s", f->tmp, strerror(errno));
        rc = -1;
    }
    if (fclose(f->f) != 0 && rc == 0) {
        snprintf(err, errlen, "cannot write %.3000s: %s", f->tmp, strerror(errno));
        rc = -1;
    }
    f->f = NULL;
    char sha[65] = "";
    if (rc == 0 && sha256_file(f->tmp, sha, bytes) != 0) {
        snprintf(err, errlen, "cannot read back %.3000s: %s", f->tmp, strerror(errno));
        rc = -1;
    }
    if (rc != 0) {
        unlink(f->tmp);
        return -1;
    }
    pthread_mutex_lock(&s->lock);
    char final[4200];
    snprintf(final, sizeof final, "%s", f->path);
    size_t ext = strlen(f->path) - (strcmp(f->type, "trace") == 0 ? 5 : 6);
    for (int i = 2; link(f->tmp, final) != 0; i++) {
        if (errno != EEXIST || i > 99) {
            snprintf(err, errlen, "cannot name %.3000s: %s", final, strerror(errno));
            rc = -1;
            break;
        }
        snprintf(final, sizeof final, "%.*s_%d%s", (int)ext, f->path, i, f->path + ext);
    }
    unlink(f->tmp);
    if (rc == 0) {
        fsync_dir(f->day_dir);
        snprintf(f->path, sizeof f->path, "%.4000s", final);
        snprintf(f->rel, sizeof f->rel, "%s", final + strlen(s->root) + 1);
        const char *base = strrchr(final, '/') + 1;
        if (s->s3 && s3_put(s, final, f->rel, "application/octet-stream", err, errlen) != 0) {
            unlink(final);
            rc = -1;
        }
        if (rc == 0 && index_append(s, f, base, *bytes, sha, NULL, err, errlen) != 0) {
            unlink(final); /* a file the index does not name is no capture */
            fsync_dir(f->day_dir);
            rc = -1;
        }
        if (rc == 0 && s->s3)
            unlink(final); /* uploaded: the spool keeps the index only */
    }
    pthread_mutex_unlock(&s->lock);
    return rc;
}

void cli_store_fail(cli_store *s, cli_store_file *f, const char *why)
{
    char err[256];
    if (f->f) {
        fclose(f->f);
        f->f = NULL;
    }
    if (f->tmp[0])
        unlink(f->tmp);
    pthread_mutex_lock(&s->lock);
    index_append(s, f, NULL, 0, NULL, why, err, sizeof err);
    pthread_mutex_unlock(&s->lock);
}

/* ---- retention ---- */

typedef struct sfile {
    char *path;
    time_t mtime;
    uint64_t size;
} sfile;

static struct {
    sfile *v;
    size_t n, cap;
} walk_acc;
static pthread_mutex_t walk_lock = PTHREAD_MUTEX_INITIALIZER;

static bool capture_name(const char *base)
{
    size_t n = strlen(base);
    return base[0] != '.' && ((n > 6 && strcmp(base + n - 6, ".pb.gz") == 0) ||
                              (n > 5 && strcmp(base + n - 5, ".json") == 0));
}

static int walk_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    if (flag != FTW_F || !capture_name(path + ftw->base) || ftw->level != 3)
        return 0;
    if (pf_grow(&walk_acc.v, &walk_acc.cap, walk_acc.n + 1, sizeof *walk_acc.v) != 0)
        return 1;
    char *p = strdup(path);
    if (p == NULL)
        return 1;
    walk_acc.v[walk_acc.n++] = (sfile){p, st->st_mtime, (uint64_t)st->st_size};
    return 0;
}

static int by_age(const void *a, const void *b)
{
    const sfile *x = a, *y = b;
    if (x->mtime != y->mtime)
        return x->mtime < y->mtime ? -1 : 1;
    return strcmp(x->path, y->path);
}

int cli_store_retain(cli_store *s, double max_age, uint64_t max_bytes, uint64_t *total,
                     cli_log_fn log_fn)
{
    pthread_mutex_lock(&walk_lock);
    walk_acc.n = 0;
    nftw(s->root, walk_one, 16, FTW_PHYS);
    if (walk_acc.n > 1) /* qsort wants a non-NULL array even for none */
        qsort(walk_acc.v, walk_acc.n, sizeof *walk_acc.v, by_age);
    uint64_t sum = 0;
    for (size_t i = 0; i < walk_acc.n; i++)
        sum += walk_acc.v[i].size;
    time_t now = time(NULL);
    int deleted = 0;
    for (size_t i = 0; i < walk_acc.n; i++) {
        sfile *f = &walk_acc.v[i];
        bool old = max_age > 0 && difftime(now, f->mtime) > max_age;
        bool over = max_bytes > 0 && sum > max_bytes;
        if ((old || over) && unlink(f->path) == 0) {
            sum -= f->size;
            deleted++;
            if (log_fn)
                log_fn("retention: deleted %s (%llu bytes, %s)", f->path,
                       (unsigned long long)f->size, old ? "older than -retain"
                                                        : "over -max-bytes");
        }
        free(f->path);
    }
    walk_acc.n = 0;
    pthread_mutex_unlock(&walk_lock);
    *total = sum;
    return deleted;
}

/* ---- ls ---- */

typedef struct row {
    char *target, *time, *reason, *types;
} row;

static struct {
    row *v;
    size_t n, cap;
} ls_acc;

static int by_row(const void *a, const void *b)
{
    const row *x = a, *y = b;
    int c = strcmp(x->target, y->target);
    if (c == 0)
        c = strcmp(x->time, y->time);
    return c ? c : strcmp(x->reason, y->reason);
}

static void human(uint64_t b, char *buf, size_t len)
{
    if (b < 1024)
        snprintf(buf, len, "%lluB", (unsigned long long)b);
    else if (b < 1024 * 1024)
        snprintf(buf, len, "%.1fKiB", (double)b / 1024);
    else
        snprintf(buf, len, "%.1fMiB", (double)b / 1048576);
}

static void ls_add(const char *dir, json_t *o)
{
    const char *target = json_string_value(json_object_get(o, "target"));
    const char *when = json_string_value(json_object_get(o, "time"));
    const char *reason = json_string_value(json_object_get(o, "reason"));
    const char *type = json_string_value(json_object_get(o, "type"));
    const char *result = json_string_value(json_object_get(o, "result"));
    const char *file = json_string_value(json_object_get(o, "file"));
    if (!target || !when || !reason || !type || !result)
        return;
    char item[256], size[32] = "";
    if (strcmp(result, "ok") != 0)
        snprintf(item, sizeof item, "%s:failed", type);
    else {
        char path[8192];
        struct stat st;
        snprintf(path, sizeof path, "%s/%s", dir, file ? file : "");
        human((uint64_t)json_integer_value(json_object_get(o, "bytes")), size, sizeof size);
        snprintf(item, sizeof item, "%s:%s%s", type, size,
                 file && stat(path, &st) != 0 ? "(deleted)" : "");
        json_t *w = json_object_get(o, "window");
        json_int_t got = json_integer_value(json_object_get(w, "past"));
        json_int_t asked = json_integer_value(json_object_get(w, "past_asked"));
        size_t n = strlen(item);
        if (asked > 0 && got == asked) /* the flight recorder's seconds before the capture */
            snprintf(item + n, sizeof item - n, ",past=%llds", (long long)got);
        else if (asked > 0)
            snprintf(item + n, sizeof item - n, ",past=%llds/%llds", (long long)got,
                     (long long)asked);
    }
    for (size_t i = 0; i < ls_acc.n; i++) {
        row *r = &ls_acc.v[i];
        if (!strcmp(r->target, target) && !strcmp(r->time, when) && !strcmp(r->reason, reason)) {
            char *t;
            if (asprintf(&t, "%s %s", r->types, item) > 0) {
                free(r->types);
                r->types = t;
            }
            return;
        }
    }
    if (pf_grow(&ls_acc.v, &ls_acc.cap, ls_acc.n + 1, sizeof *ls_acc.v) != 0)
        return;
    row r = {strdup(target), strdup(when), strdup(reason), strdup(item)};
    for (char *p = r.reason; p && *p; p++) /* alert names are anyone's: no terminal escapes */
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    for (char *p = r.target; p && *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    ls_acc.v[ls_acc.n++] = r;
}

static int ls_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    if (flag != FTW_F || strcmp(path + ftw->base, "index.jsonl") != 0)
        return 0;
    FILE *in = fopen(path, "r");
    if (in == NULL)
        return 0;
    char dir[4096];
    snprintf(dir, sizeof dir, "%.*s", (int)ftw->base - 1, path);
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, in) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        if (o && json_is_object(o))
            ls_add(dir, o);
        json_decref(o);
    }
    free(line);
    fclose(in);
    return 0;
}

int cli_store_list(const char *dir, FILE *out)
{
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        cli_error("ls %s: %s", dir, errno ? strerror(errno) : "not a directory");
        return CLI_EXIT_USAGE;
    }
    ls_acc.n = 0;
    nftw(dir, ls_one, 16, FTW_PHYS);
    qsort(ls_acc.v, ls_acc.n, sizeof *ls_acc.v, by_row);
    fprintf(out, "%-22s %-20s %-24s %s\n", "TARGET", "TIME (UTC)", "REASON", "TYPES:SIZE");
    for (size_t i = 0; i < ls_acc.n; i++) {
        row *r = &ls_acc.v[i];
        fprintf(out, "%-22s %-20s %-24s %s\n", r->target, r->time, r->reason, r->types);
        free(r->target);
        free(r->time);
        free(r->reason);
        free(r->types);
    }
    if (ls_acc.n == 0)
        fprintf(out, "(no captures under %s)\n", dir);
    free(ls_acc.v);
    ls_acc.v = NULL;
    ls_acc.n = ls_acc.cap = 0;
    return CLI_OK;
}
