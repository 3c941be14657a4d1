/*
 * takhin-admin - sends one command to a running takhind's admin socket.
 *
 *   takhin-admin [-s SOCKET] [-t TIMEOUT_MS] COMMAND...
 *
 * The words are joined into one line, quoted where needed so that each
 * argument arrives as one word. Exit: 0 ok, 1 the command failed, 2 usage
 * error or no answer (cannot connect, timeout, protocol error).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "takhin/host/admin.h"

#define DEFAULT_SOCKET "takhind.sock"
#define DEFAULT_TIMEOUT_MS 5000
#define EXIT_USAGE 2

static void usage(FILE *out)
{
    fprintf(out,
            "usage: takhin-admin [-s SOCKET] [-t TIMEOUT_MS] COMMAND...\n"
            "Sends COMMAND to a running takhind over its admin socket and prints the reply.\n"
            "  -s SOCKET      the admin socket (default: $TAKHIN_ADMIN_SOCKET, else %s)\n"
            "  -t TIMEOUT_MS  gives up after this long (default %d)\n"
            "  -h             this help\n"
            "Run \"takhin-admin help\" for the server's commands.\n"
            "Exit status: 0 ok (reply on stdout), 1 the command failed (reply on stderr),\n"
            "2 usage error or no answer (cannot connect, timeout, protocol error).\n",
            DEFAULT_SOCKET, DEFAULT_TIMEOUT_MS);
}

/* Does the word need quotes to survive the server's split as one word? */
static int needs_quotes(const char *w)
{
    return !*w || strpbrk(w, " \t\"'\\") != NULL;
}

/* Appends word to line (at *len, capacity cap), in double quotes with
 * " and \ escaped when needed. -1 when it does not fit. */
static int append_word(char *line, size_t cap, size_t *len, const char *w)
{
    int quote = needs_quotes(w);
    size_t n = *len;

    if (n > 0 && n < cap)
        line[n++] = ' ';
    if (quote && n < cap)
        line[n++] = '"';
    for (; *w && n < cap; w++) {
        if (quote && (*w == '"' || *w == '\\'))
            line[n++] = '\\';
        if (n < cap)
            line[n++] = *w;
    }
    if (quote && n < cap)
        line[n++] = '"';
    if (n >= cap || *w)
        return -1;
    line[n] = '\0';
    *len = n;
    return 0;
}

/* Joins argv into line[TKH_ADMIN_MAX_LINE + 1]; 0, or -1 with a message. */
static int join_words(int argc, char **argv, char *line)
{
    size_t len = 0;

    line[0] = '\0';
    for (int i = 0; i < argc; i++) {
        for (const char *p = argv[i]; *p; p++) {
            if (((unsigned char)*p < ' ' && *p != '\t') || *p == 0x7f) {
                fprintf(stderr, "takhin-admin: argument %d contains a control character "
                        "(0x%02x): not allowed\n", i + 1, (unsigned char)*p);
                return -1;
            }
        }
        if (append_word(line, TKH_ADMIN_MAX_LINE + 1, &len, argv[i]) < 0) {
            fprintf(stderr, "takhin-admin: command too long: at most %d bytes\n",
                    TKH_ADMIN_MAX_LINE);
            return -1;
        }
    }
    return 0;
}

static int parse_timeout(const char *s, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (end == s || *end || v <= 0 || v > 3600 * 1000) {
        fprintf(stderr, "takhin-admin: bad timeout \"%s\": expected milliseconds, "
                "1 to 3600000\n", s);
        return -1;
    }
    *out = (int)v;
    return 0;
}

/* Prints text to out, ending in a newline when there is any text. */
static void print_text(FILE *out, const char *text)
{
    size_t n = strlen(text);

    fputs(text, out);
    if (n > 0 && text[n - 1] != '\n')
        fputc('\n', out);
}

int main(int argc, char **argv)
{
    const char *sock = getenv("TAKHIN_ADMIN_SOCKET");
    int timeout_ms = DEFAULT_TIMEOUT_MS, opt;
    char line[TKH_ADMIN_MAX_LINE + 1], err[512], *text = NULL;

    if (!sock || !*sock)
        sock = DEFAULT_SOCKET;
    while ((opt = getopt(argc, argv, "+s:t:h")) != -1) {
        if (opt == 's')
            sock = optarg;
        else if (opt == 't' && parse_timeout(optarg, &timeout_ms) < 0)
            return EXIT_USAGE;
        else if (opt == 'h') {
            usage(stdout);
            return 0;
        } else if (opt != 't') {
            usage(stderr);
            return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fprintf(stderr, "takhin-admin: no command given\n");
        usage(stderr);
        return EXIT_USAGE;
    }
    if (join_words(argc - optind, argv + optind, line) < 0)
        return EXIT_USAGE;
    int rc = tkh_admin_call(sock, line, timeout_ms, &text, err, sizeof(err));
    if (rc < 0) {
        fprintf(stderr, "takhin-admin: %s\n", err);
        return EXIT_USAGE;
    }
    print_text(rc == 0 ? stdout : stderr, text);
    free(text);
    if (fflush(stdout) != 0) {
        perror("takhin-admin: stdout");
        return EXIT_USAGE;
    }
    return rc == 0 ? 0 : 1;
}
