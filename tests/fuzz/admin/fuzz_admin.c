/*
 * fuzz_admin - the admin command line: tkh_admin_split on a copy, then
 * tkh_admin_execute on a registry like takhind's (profiler status, enable,
 * disable, set; workload status; config reload; plugins; the built-in
 * help), whose handlers check the words they get and echo them.
 * Input: one command line; as on the wire, it ends at the first newline
 * and is at most TKH_ADMIN_MAX_LINE bytes. Invariants: split gives at most
 * `max` words, each NUL-terminated inside the line; -1 comes with a
 * message; handlers get argc < TKH_ADMIN_MAX_ARGS.
 */
#include "fuzz.h"

#include "takhin/host/admin.h"

#include <string.h>

static tkh_admin *admin;
static int token;

static int echo(void *ctx, int argc, char **argv, tk_reply *reply)
{
    FUZZ_ASSERT(ctx == &token, "wrong ctx");
    FUZZ_ASSERT(argc >= 0 && argc < TKH_ADMIN_MAX_ARGS, "argc %d", argc);
    for (int i = 0; i < argc; i++)
        tkh_reply_printf(reply, "[%s]", argv[i]);
    FUZZ_ASSERT(argv[argc] == NULL || argc == 0, "argv not NULL-terminated");
    return argc > 3;
}

static void setup(void)
{
    admin = tkh_admin_new();
    FUZZ_ASSERT(admin != NULL, "tkh_admin_new");
    static const char *const cmds[][3] = {
        {"profiler", "status", "profiler status"},
        {"profiler", "enable", "profiler enable"},
        {"profiler", "disable", "profiler disable"},
        {"profiler", "set", "profiler set mutex_fraction|block_rate N"},
        {"workload", "status", "workload status"},
        {"config", "reload", "config reload"},
        {"plugins", NULL, "plugins"},
    };
    for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++)
        FUZZ_ASSERT(tkh_admin_register(admin, cmds[i][0], cmds[i][1], cmds[i][2], echo,
                                       &token) == 0, "register %s", cmds[i][2]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (admin == NULL)
        setup();
    if (size >= TKH_ADMIN_MAX_LINE)
        return 0;
    char *line = fuzz_cstr(data, size);
    line[strcspn(line, "\n")] = '\0';
    size_t len = strlen(line);

    char *copy = strdup(line);
    FUZZ_ASSERT(copy != NULL, "strdup");
    static const int maxes[] = {0, 1, 4, TKH_ADMIN_MAX_ARGS};
    for (size_t m = 0; m < sizeof maxes / sizeof *maxes; m++) {
        memcpy(copy, line, len + 1);
        char *argv[TKH_ADMIN_MAX_ARGS + 1];
        char err[256] = "";
        int n = tkh_admin_split(copy, argv, maxes[m], err, sizeof err);
        FUZZ_ASSERT(n >= -1 && n <= maxes[m], "%d words for a max of %d", n, maxes[m]);
        FUZZ_ASSERT(n >= 0 || err[0] != '\0', "split refused without a message");
        for (int i = 0; i < n; i++)
            FUZZ_ASSERT(argv[i] >= copy && argv[i] + strlen(argv[i]) <= copy + len,
                        "word %d outside the line", i);
    }
    free(copy);

    tk_reply *reply = tkh_reply_new();
    FUZZ_ASSERT(reply != NULL, "tkh_reply_new");
    (void)tkh_admin_execute(admin, line, reply);
    (void)strlen(tkh_reply_text(reply));
    tkh_reply_free(reply);
    free(line);
    return 0;
}
