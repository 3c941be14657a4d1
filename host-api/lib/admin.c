/*
 * admin.c - the admin command channel, server side: the command registry,
 * the line splitter, dispatch, the built-in "help", and the listener thread.
 *
 * Threads:
 *  - The registry is guarded by a recursive mutex. tkh_admin_execute holds
 *    it while a handler runs, so handlers run one at a time, and once
 *    tkh_admin_unregister_ctx returns no handler of that ctx is running
 *    (unless it was called from that very handler). Recursive, so a handler
 *    may itself register or unregister commands (e.g. a plugin reload).
 *  - tkh_admin_listen, tkh_admin_stop and tkh_admin_free belong to the
 *    owner's thread (the host's main thread): they are not safe against
 *    each other and must not be called from a command handler (stop joins
 *    the admin thread, which would then wait for itself).
 *
 * One connection at a time: a client has TKH_ADMIN_IO_MS to send its line
 * and to take the reply, so a silent or stuck client holds the channel for
 * at most that long. Stop interrupts a connection in progress.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "takhin/host/admin.h"
#include "takhin/host/log.h"

#define TKH_ADMIN_IO_MS 2000 /* per connection: to read the line, to send the reply */
#define TKH_ADMIN_BACKLOG 16

struct command {
    char *prefix;
    char *word; /* NULL: a one-word command */
    char *usage;
    tkh_command_fn fn;
    void *ctx;
};

struct tkh_admin {
    pthread_mutex_t lock;  /* recursive; guards cmds, held while a handler runs */
    struct command *cmds;  /* sorted by prefix, then word */
    size_t ncmds, cap;
    /* The listener: touched by the owner's thread only (see above). */
    bool running;
    pthread_t thread;
    int listen_fd, stop_fd; /* stop_fd: an eventfd, readable once stop is asked */
    char *path;
    dev_t dev; /* the socket file we created, so stop removes only that */
    ino_t ino;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- the registry ---- */

static int help_cmd(void *ctx, int argc, char **argv, tk_reply *reply);

tkh_admin *tkh_admin_new(void)
{
    tkh_admin *a = calloc(1, sizeof(*a));
    pthread_mutexattr_t attr;

    if (!a)
        return NULL;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
    pthread_mutex_init(&a->lock, &attr);
    pthread_mutexattr_destroy(&attr);
    a->listen_fd = a->stop_fd = -1;
    /* ctx = the admin itself: no plugin's unregister_ctx can remove it. */
    if (tkh_admin_register(a, "help", NULL, "help [PREFIX]: list the admin commands",
                           help_cmd, a) != 0) {
        tkh_admin_free(a);
        return NULL;
    }
    return a;
}

static void free_command(struct command *c)
{
    free(c->prefix);
    free(c->word);
    free(c->usage);
}

void tkh_admin_free(tkh_admin *admin)
{
    if (!admin)
        return;
    tkh_admin_stop(admin);
    for (size_t i = 0; i < admin->ncmds; i++)
        free_command(&admin->cmds[i]);
    free(admin->cmds);
    pthread_mutex_destroy(&admin->lock);
    free(admin);
}

/* A name must be one word: non-empty, no blanks, no control characters. */
static bool valid_name(const char *s)
{
    if (!s || !*s)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s <= ' ' || *s == 0x7f)
            return false;
    return true;
}

/* Order: by prefix, then word (a one-word command first). */
static int command_cmp(const char *prefix, const char *word, const struct command *c)
{
    int r = strcmp(prefix, c->prefix);
    if (r != 0 || (!word && !c->word))
        return r;
    if (!word || !c->word)
        return word ? 1 : -1;
    return strcmp(word, c->word);
}

/* Taken: the same name, or a one-word command and a "prefix word" command
 * with the same prefix (dispatch could not tell them apart). */
static bool taken(const tkh_admin *a, const char *prefix, const char *word)
{
    for (size_t i = 0; i < a->ncmds; i++) {
        const struct command *c = &a->cmds[i];
        if (strcmp(c->prefix, prefix) == 0 &&
            (!word || !c->word || strcmp(word, c->word) == 0))
            return true;
    }
    return false;
}

/* Inserts *c in order; 0 or ENOMEM. Called with the lock held. */
static int insert_command(tkh_admin *a, const struct command *c)
{
    size_t i = 0;

    if (a->ncmds == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 16;
        struct command *p = realloc(a->cmds, cap * sizeof(*p));
        if (!p)
            return ENOMEM;
        a->cmds = p;
        a->cap = cap;
    }
    while (i < a->ncmds && command_cmp(c->prefix, c->word, &a->cmds[i]) > 0)
        i++;
    memmove(&a->cmds[i + 1], &a->cmds[i], (a->ncmds - i) * sizeof(*c));
    a->cmds[i] = *c;
    a->ncmds++;
    return 0;
}

int tkh_admin_register(tkh_admin *admin, const char *prefix, const char *word,
                       const char *usage, tkh_command_fn fn, void *ctx)
{
    if (!admin || !fn || !valid_name(prefix) || (word && !valid_name(word)))
        return EINVAL;
    struct command c = {
        .prefix = strdup(prefix),
        .word = word ? strdup(word) : NULL,
        .usage = usage ? strdup(usage) : NULL,
        .fn = fn,
        .ctx = ctx,
    };
    int rc = ENOMEM;
    if (c.prefix && (c.word || !word) && (c.usage || !usage)) {
        pthread_mutex_lock(&admin->lock);
        rc = taken(admin, prefix, word) ? EEXIST : insert_command(admin, &c);
        pthread_mutex_unlock(&admin->lock);
    }
    if (rc != 0)
        free_command(&c);
    return rc;
}

void tkh_admin_unregister_ctx(tkh_admin *admin, void *ctx)
{
    size_t kept = 0;

    if (!admin)
        return;
    pthread_mutex_lock(&admin->lock);
    for (size_t i = 0; i < admin->ncmds; i++) {
        if (admin->cmds[i].ctx == ctx)
            free_command(&admin->cmds[i]);
        else
            admin->cmds[kept++] = admin->cmds[i];
    }
    admin->ncmds = kept;
    pthread_mutex_unlock(&admin->lock);
}

/* ---- dispatch ---- */

/* s past the word w it starts with, or NULL. */
static const char *skip_word(const char *s, const char *w)
{
    size_t n = strlen(w);
    return strncmp(s, w, n) == 0 ? s + n : NULL;
}

/* Does the usage text begin with the command's name? */
static bool usage_names(const struct command *c)
{
    const char *p = skip_word(c->usage, c->prefix);

    if (p && c->word)
        p = *p == ' ' ? skip_word(p + 1, c->word) : NULL;
    return p && (*p == '\0' || *p == ' ' || *p == ':');
}

/* One help line: the usage when it starts with the command's name,
 * else "name: usage", or the bare name without usage. */
static void reply_usage(tk_reply *reply, const char *indent, const struct command *c)
{
    if (c->usage && *c->usage && usage_names(c))
        tkh_reply_printf(reply, "%s%s\n", indent, c->usage);
    else
        tkh_reply_printf(reply, "%s%s%s%s%s%s\n", indent, c->prefix, c->word ? " " : "",
                         c->word ? c->word : "", c->usage && *c->usage ? ": " : "",
                         c->usage ? c->usage : "");
}

/* Index range [*first, *last) of the commands with this prefix. */
static void find_prefix(const tkh_admin *a, const char *prefix, size_t *first, size_t *last)
{
    size_t i = 0;

    while (i < a->ncmds && strcmp(a->cmds[i].prefix, prefix) != 0)
        i++;
    *first = i;
    while (i < a->ncmds && strcmp(a->cmds[i].prefix, prefix) == 0)
        i++;
    *last = i;
}

/* "help [PREFIX]": every command's usage, sorted. Runs with the lock held. */
static int help_cmd(void *ctx, int argc, char **argv, tk_reply *reply)
{
    const tkh_admin *a = ctx;
    size_t first = 0, last = a->ncmds;

    if (argc > 1) {
        tkh_reply_printf(reply, "usage: help [PREFIX]\n");
        return 1;
    }
    if (argc == 1) {
        find_prefix(a, argv[0], &first, &last);
        if (first == last) {
            tkh_reply_printf(reply, "no commands start with \"%s\": run \"help\" for the list\n",
                             argv[0]);
            return 1;
        }
    }
    for (size_t i = first; i < last; i++)
        reply_usage(reply, "", &a->cmds[i]);
    return 0;
}

/* A known prefix with a missing or unknown word. */
static int unknown_word(const tkh_admin *a, size_t first, size_t last, int argc,
                        char **argv, tk_reply *reply)
{
    tkh_reply_printf(reply, "unknown command \"%s%s%s\": expected one of: ", argv[0],
                     argc > 1 ? " " : "", argc > 1 ? argv[1] : "");
    for (size_t i = first; i < last; i++)
        tkh_reply_printf(reply, "%s%s %s", i > first ? ", " : "", a->cmds[i].prefix,
                         a->cmds[i].word);
    tkh_reply_printf(reply, "\n");
    for (size_t i = first; i < last; i++)
        reply_usage(reply, "  ", &a->cmds[i]);
    return 1;
}

/* Finds the command for argv and runs it. Called with the lock held. */
static int dispatch(tkh_admin *a, int argc, char **argv, tk_reply *reply)
{
    size_t first, last;

    find_prefix(a, argv[0], &first, &last);
    if (first == last) {
        tkh_reply_printf(reply, "unknown command \"%s\": run \"help\" for the list\n", argv[0]);
        return 1;
    }
    const struct command *c = &a->cmds[first];
    if (!c->word)
        return c->fn(c->ctx, argc - 1, argv + 1, reply);
    for (size_t i = first; argc > 1 && i < last; i++) {
        c = &a->cmds[i];
        if (strcmp(c->word, argv[1]) == 0)
            return c->fn(c->ctx, argc - 2, argv + 2, reply);
    }
    return unknown_word(a, first, last, argc, argv, reply);
}

int tkh_admin_execute(tkh_admin *admin, const char *line, tk_reply *reply)
{
    char buf[TKH_ADMIN_MAX_LINE + 1], err[128];
    char *argv[TKH_ADMIN_MAX_ARGS + 1];

    if (strnlen(line, sizeof(buf)) >= sizeof(buf)) {
        tkh_reply_printf(reply, "command too long: at most %d bytes\n", TKH_ADMIN_MAX_LINE);
        return 1;
    }
    strcpy(buf, line);
    int argc = tkh_admin_split(buf, argv, TKH_ADMIN_MAX_ARGS, err, sizeof(err));
    if (argc < 0) {
        tkh_reply_printf(reply, "%s\n", err);
        return 1;
    }
    if (argc == 0) {
        tkh_reply_printf(reply, "empty command: run \"help\"\n");
        return 1;
    }
    argv[argc] = NULL;
    pthread_mutex_lock(&admin->lock);
    int rc = dispatch(admin, argc, argv, reply);
    pthread_mutex_unlock(&admin->lock);
    if (rc != 0 && !*tkh_reply_text(reply))
        tkh_reply_printf(reply, "command \"%s\" failed (status %d)\n", line, rc);
    return rc;
}

/* ---- splitting ---- */

static int check_controls(const char *line, char *err, size_t errlen)
{
    for (const char *p = line; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if ((c < ' ' && c != '\t') || c == 0x7f) {
            set_err(err, errlen, "control character 0x%02x at byte %zu: not allowed",
                    c, (size_t)(p - line) + 1);
            return -1;
        }
    }
    return 0;
}

int tkh_admin_split(char *line, char **argv, int max, char *err, size_t errlen)
{
    char *r, *w = line, quote = 0;
    size_t quote_at = 0;
    int n = 0;
    bool in_word = false;

    if (check_controls(line, err, errlen) < 0)
        return -1;
    for (r = line; *r; r++) {
        if (quote) { /* inside '...' or "...": only the closing quote and \ in "" */
            if (*r == quote)
                quote = 0;
            else
                *w++ = (*r == '\\' && quote == '"' && r[1]) ? *++r : *r;
            continue;
        }
        if (*r == ' ' || *r == '\t') {
            if (in_word)
                *w++ = '\0';
            in_word = false;
            continue;
        }
        if (!in_word) {
            if (n >= max) {
                set_err(err, errlen, "too many words: at most %d", max);
                return -1;
            }
            argv[n++] = w;
            in_word = true;
        }
        if (*r == '"' || *r == '\'') {
            quote = *r;
            quote_at = (size_t)(r - line) + 1;
        } else if (*r == '\\' && !r[1]) {
            set_err(err, errlen, "backslash at the end of the line: nothing to escape");
            return -1;
        } else {
            *w++ = *r == '\\' ? *++r : *r;
        }
    }
    if (quote) {
        set_err(err, errlen, "unterminated %c quote starting at byte %zu", quote, quote_at);
        return -1;
    }
    *w = '\0';
    if (n < max)
        argv[n] = NULL;
    return n;
}

/* ---- the listener ---- */

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd has `events`: 1, 0 at the deadline, -1 when stop was
 * asked (and fd is not ready) or poll failed. */
static int wait_fd(const tkh_admin *a, int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - now_ms();
        if (left <= 0)
            return 0;
        struct pollfd p[2] = {{fd, events, 0}, {a->stop_fd, POLLIN, 0}};
        int n = poll(p, 2, (int)left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        if (p[0].revents)
            return 1;
        if (p[1].revents)
            return -1;
    }
}

enum { LINE_OK, LINE_NONE, LINE_ERROR };

/* Checks a received line: a NUL inside, a '\r' before the '\n'. */
static int finish_line(char *buf, size_t len, tk_reply *reply)
{
    char *nul = memchr(buf, '\0', len);

    if (nul) {
        tkh_reply_printf(reply, "control character 0x00 at byte %zu: not allowed\n",
                         (size_t)(nul - buf) + 1);
        return LINE_ERROR;
    }
    if (len > 0 && buf[len - 1] == '\r')
        len--;
    buf[len] = '\0';
    return LINE_OK;
}

/* Reads one line (up to '\n' or EOF) into buf[TKH_ADMIN_MAX_LINE + 2].
 * LINE_NONE: nothing to answer (client gone, stop). LINE_ERROR: reply set. */
static int read_line(const tkh_admin *a, int fd, char *buf, tk_reply *reply)
{
    int64_t deadline = now_ms() + TKH_ADMIN_IO_MS;
    size_t len = 0;

    for (;;) {
        int w = wait_fd(a, fd, POLLIN, deadline);
        if (w == 0) {
            tkh_reply_printf(reply, "timed out after %d ms waiting for the command line\n",
                             TKH_ADMIN_IO_MS);
            return LINE_ERROR;
        }
        if (w < 0)
            return LINE_NONE;
        ssize_t n = recv(fd, buf + len, TKH_ADMIN_MAX_LINE + 1 - len, 0);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n < 0 || (n == 0 && len == 0))
            return LINE_NONE;
        if (n == 0) /* EOF ends the line too */
            return finish_line(buf, len, reply);
        char *nl = memchr(buf + len, '\n', (size_t)n);
        len += (size_t)n;
        if (nl)
            return finish_line(buf, (size_t)(nl - buf), reply);
        if (len > TKH_ADMIN_MAX_LINE) {
            tkh_reply_printf(reply, "command too long: at most %d bytes\n", TKH_ADMIN_MAX_LINE);
            return LINE_ERROR;
        }
    }
}

/* Sends all of buf before the deadline; -1 when the client is gone or slow. */
static int send_all(const tkh_admin *a, int fd, const char *buf, size_t len, int64_t deadline)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EAGAIN && wait_fd(a, fd, POLLOUT, deadline) > 0)
            continue;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        buf += n;
        len -= (size_t)n;
    }
    return 0;
}

/* One connection: a line in, "ok\n" or "error\n" and the text out. */
static void serve(tkh_admin *a, int fd)
{
    char line[TKH_ADMIN_MAX_LINE + 2];
    tk_reply *reply = tkh_reply_new();

    if (!reply) {
        tkh_log(TK_LOG_ERROR, "admin", "out of memory: connection dropped");
        return;
    }
    int got = read_line(a, fd, line, reply);
    if (got != LINE_NONE) {
        int rc = got == LINE_OK ? tkh_admin_execute(a, line, reply) : 1;
        const char *head = rc == 0 ? "ok\n" : "error\n", *text = tkh_reply_text(reply);
        int64_t deadline = now_ms() + TKH_ADMIN_IO_MS;
        if (send_all(a, fd, head, strlen(head), deadline) == 0)
            send_all(a, fd, text, strlen(text), deadline);
    }
    tkh_reply_free(reply);
}

/* Accepts and serves one connection. Logs each new kind of accept failure
 * once, and backs off a little when out of descriptors or memory. */
static void accept_one(tkh_admin *a, int *last_errno)
{
    int fd = accept4(a->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

    if (fd < 0) {
        int e = errno;
        if (e == EAGAIN || e == EINTR || e == ECONNABORTED)
            return;
        if (e != *last_errno)
            tkh_log(TK_LOG_ERROR, "admin", "accept on %s failed: %s", a->path, strerror(e));
        *last_errno = e;
        struct pollfd p = {a->stop_fd, POLLIN, 0};
        poll(&p, 1, 100);
        return;
    }
    *last_errno = 0;
    serve(a, fd);
    close(fd);
}

static void *admin_thread(void *arg)
{
    tkh_admin *a = arg;
    int last_errno = 0;

    for (;;) {
        struct pollfd p[2] = {{a->listen_fd, POLLIN, 0}, {a->stop_fd, POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            tkh_log(TK_LOG_ERROR, "admin", "poll failed: %s; admin channel stopped",
                    strerror(errno));
            break;
        }
        if (p[1].revents)
            break;
        if (p[0].revents)
            accept_one(a, &last_errno);
    }
    return NULL;
}

/* The path exists: replace it only when it is a socket nobody listens on. */
static int clear_stale(const char *path, const struct sockaddr_un *sa, char *err, size_t errlen)
{
    struct stat st;

    if (lstat(path, &st) < 0) {
        if (errno == ENOENT)
            return 0; /* gone meanwhile: bind again */
        set_err(err, errlen, "cannot check %s: %s", path, strerror(errno));
        return -1;
    }
    if (!S_ISSOCK(st.st_mode)) {
        set_err(err, errlen, "%s exists and is not a socket: refusing to replace it "
                "(remove it, or set admin.socket to another path)", path);
        return -1;
    }
    int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (probe < 0) {
        set_err(err, errlen, "cannot create a socket: %s", strerror(errno));
        return -1;
    }
    int rc = connect(probe, (const struct sockaddr *)sa, sizeof(*sa)), e = errno;
    close(probe);
    if (rc == 0 || e == EAGAIN) { /* EAGAIN: alive, its backlog is full */
        set_err(err, errlen, "another server is listening on %s", path);
        return -1;
    }
    if (e != ECONNREFUSED) {
        set_err(err, errlen, "cannot check the existing socket %s: %s", path, strerror(e));
        return -1;
    }
    if (unlink(path) < 0 && errno != ENOENT) {
        set_err(err, errlen, "cannot remove the stale socket %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* bind(), replacing a stale socket once. The socket's mode is set to 0600
 * before bind: Linux creates the file with that mode (less the umask), so
 * it is never open to others, and the process-wide umask stays untouched. */
static int bind_path(int fd, const char *path, const struct sockaddr_un *sa,
                     char *err, size_t errlen)
{
    if (fchmod(fd, 0600) < 0) {
        set_err(err, errlen, "cannot set the admin socket's mode: %s", strerror(errno));
        return -1;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0)
            return 0;
        if (errno != EADDRINUSE || attempt > 0)
            break;
        if (clear_stale(path, sa, err, errlen) < 0)
            return -1;
    }
    set_err(err, errlen, "cannot bind the admin socket %s: %s", path, strerror(errno));
    return -1;
}

/* A listening socket at path, or -1. Records the file's identity in a. */
static int open_listener(tkh_admin *a, const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct stat st;

    if (!path || !*path) {
        set_err(err, errlen, "the admin socket path is empty");
        return -1;
    }
    if (strlen(path) >= sizeof(sa.sun_path)) {
        set_err(err, errlen, "admin socket path too long (%zu bytes, at most %zu): %s",
                strlen(path), sizeof(sa.sun_path) - 1, path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) {
        set_err(err, errlen, "cannot create the admin socket: %s", strerror(errno));
        return -1;
    }
    if (bind_path(fd, path, &sa, err, errlen) < 0) {
        close(fd);
        return -1;
    }
    if (listen(fd, TKH_ADMIN_BACKLOG) < 0 || lstat(path, &st) < 0) {
        set_err(err, errlen, "cannot listen on the admin socket %s: %s", path, strerror(errno));
        unlink(path);
        close(fd);
        return -1;
    }
    a->dev = st.st_dev;
    a->ino = st.st_ino;
    return fd;
}

/* Starts the thread with the termination signals blocked, so they go to
 * the host's own threads; other signals (profilers', stack dumps') reach it. */
static int start_thread(tkh_admin *a, char *err, size_t errlen)
{
    sigset_t block, old;

    sigemptyset(&block);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGHUP);
    sigaddset(&block, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &block, &old);
    int rc = pthread_create(&a->thread, NULL, admin_thread, a);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (rc != 0) {
        set_err(err, errlen, "cannot start the admin thread: %s", strerror(rc));
        return -1;
    }
    return 0;
}

int tkh_admin_listen(tkh_admin *admin, const char *path, char *err, size_t errlen)
{
    if (!admin) {
        set_err(err, errlen, "no admin channel");
        return -1;
    }
    if (admin->running) {
        set_err(err, errlen, "the admin channel already listens on %s", admin->path);
        return -1;
    }
    admin->listen_fd = open_listener(admin, path, err, errlen);
    if (admin->listen_fd < 0)
        return -1;
    admin->path = strdup(path);
    admin->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!admin->path || admin->stop_fd < 0) {
        set_err(err, errlen, "cannot start the admin channel: %s", strerror(errno));
    } else if (start_thread(admin, err, errlen) == 0) {
        admin->running = true;
        return 0;
    }
    unlink(path);
    close(admin->listen_fd);
    if (admin->stop_fd >= 0)
        close(admin->stop_fd);
    free(admin->path);
    admin->path = NULL;
    admin->listen_fd = admin->stop_fd = -1;
    return -1;
}

void tkh_admin_stop(tkh_admin *admin)
{
    uint64_t one = 1;
    struct stat st;

    if (!admin || !admin->running)
        return;
    while (write(admin->stop_fd, &one, sizeof(one)) < 0 && errno == EINTR)
        ;
    pthread_join(admin->thread, NULL);
    /* Remove the file only if it is still ours (not a successor's). */
    if (lstat(admin->path, &st) == 0 && st.st_dev == admin->dev && st.st_ino == admin->ino)
        unlink(admin->path);
    close(admin->listen_fd);
    close(admin->stop_fd);
    free(admin->path);
    admin->path = NULL;
    admin->listen_fd = admin->stop_fd = -1;
    admin->running = false;
}
