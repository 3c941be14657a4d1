/*
 * localrun.c - profiling a command on this machine with gperftools:
 *   cpu:  LD_PRELOAD=libprofiler.so.0 CPUPROFILE=<tmp>/cpu.prof
 *         (CPUPROFILE_FREQUENCY from -sample-rate)
 *   heap: LD_PRELOAD=libtcmalloc.so.4 HEAPPROFILE=<tmp>/heap
 *         (every allocation is recorded; the last dump, written at exit,
 *         holds what was still allocated then and the totals)
 * then the legacy file is read, symbolized offline from the binaries named
 * in its maps (the command has exited), and written as gzipped
 * profile.proto, like the server's profiles. Ctrl-C goes to the command
 * (the profiler waits for it, then writes what was recorded).
 */
#include "commands/cli_commands.h"
#include "input/cli_prof.h"
#include "pf_encode.h"
#include "util/cli.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct run {
    const cli_opts *o;
    char dir[512];
    char file[1200]; /* the profile the command left */
    size_t extra;    /* profiles of child processes, not used */
    int status;
    struct timespec start, end;
} run;

static void child_env(const run *r)
{
    bool cpu = r->o->kind == CLI_CPU;
    const char *lib = cpu ? "libprofiler.so.0" : "libtcmalloc.so.4";
    const char *old = getenv("LD_PRELOAD");
    char preload[4096], path[600];
    snprintf(preload, sizeof preload, "%s%s%s", lib, old && *old ? ":" : "", old ? old : "");
    setenv("LD_PRELOAD", preload, 1);
    snprintf(path, sizeof path, "%s/%s", r->dir, cpu ? "cpu.prof" : "heap");
    setenv(cpu ? "CPUPROFILE" : "HEAPPROFILE", path, 1);
    if (cpu && r->o->sample_rate > 0) {
        char hz[32];
        snprintf(hz, sizeof hz, "%ld", r->o->sample_rate);
        setenv("CPUPROFILE_FREQUENCY", hz, 1);
    }
}

/* Runs the command; 0, or an exit code with the message printed. */
static int spawn(run *r)
{
    int fds[2];
    if (pipe2(fds, O_CLOEXEC) != 0) {
        cli_error("pipe: %s", strerror(errno));
        return CLI_EXIT_RUN;
    }
    struct sigaction ign = {.sa_handler = SIG_IGN}, oint, oquit;
    sigaction(SIGINT, &ign, &oint); /* like system(): the command gets Ctrl-C */
    sigaction(SIGQUIT, &ign, &oquit);
    clock_gettime(CLOCK_REALTIME, &r->start);
    pid_t pid = fork();
    if (pid == 0) {
        sigaction(SIGINT, &oint, NULL);
        sigaction(SIGQUIT, &oquit, NULL);
        child_env(r);
        execvp(r->o->command[0], r->o->command);
        int e = errno;
        (void)!write(fds[1], &e, sizeof e);
        _exit(127);
    }
    close(fds[1]);
    int e = 0;
    bool exec_failed = pid > 0 && read(fds[0], &e, sizeof e) == (ssize_t)sizeof e;
    close(fds[0]);
    while (pid > 0 && waitpid(pid, &r->status, 0) < 0 && errno == EINTR)
        ;
    clock_gettime(CLOCK_REALTIME, &r->end);
    sigaction(SIGINT, &oint, NULL);
    sigaction(SIGQUIT, &oquit, NULL);
    if (pid < 0 || exec_failed) {
        cli_error("cannot run %s: %s", r->o->command[0], strerror(pid < 0 ? errno : e));
        return CLI_EXIT_RUN;
    }
    return CLI_OK;
}

/* Finds the profile: cpu.prof (children write cpu.prof_<pid>), or the
 * highest-numbered heap.NNNN.heap dump. */
static int find_profile(run *r)
{
    DIR *d = opendir(r->dir);
    char best[256] = "";
    struct dirent *e;
    bool cpu = r->o->kind == CLI_CPU;
    while (d != NULL && (e = readdir(d)) != NULL) {
        const char *n = e->d_name;
        size_t l = strlen(n);
        if (cpu && strcmp(n, "cpu.prof") == 0)
            snprintf(best, sizeof best, "%s", n);
        else if (cpu && strncmp(n, "cpu.prof_", 9) == 0)
            r->extra++;
        else if (!cpu && strncmp(n, "heap.", 5) == 0 && l > 5 && strcmp(n + l - 5, ".heap") == 0) {
            if (best[0])
                r->extra++;
            if (strcmp(n, best) > 0)
                snprintf(best, sizeof best, "%s", n);
        }
    }
    if (d != NULL)
        closedir(d);
    if (best[0] == '\0')
        return -1;
    snprintf(r->file, sizeof r->file, "%s/%s", r->dir, best);
    return 0;
}

static void report_status(const run *r)
{
    if (WIFEXITED(r->status) && WEXITSTATUS(r->status) != 0)
        cli_note("%s exited with status %d", r->o->command[0], WEXITSTATUS(r->status));
    else if (WIFSIGNALED(r->status))
        cli_note("%s was killed by signal %d (%s)", r->o->command[0], WTERMSIG(r->status),
                 strsignal(WTERMSIG(r->status)));
}

static void no_profile(const run *r)
{
    cli_error("%s left no %s profile: it must end normally (return from main or exit(), not "
              "_exit or a fatal signal), be dynamically linked and not setuid (LD_PRELOAD), "
              "and the library %s must be installed (Debian: libgoogle-perftools4)",
              r->o->command[0], cli_kind_name(r->o->kind),
              r->o->kind == CLI_CPU ? "libprofiler.so.0" : "libtcmalloc.so.4");
}

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char path[1200];
    while (d != NULL && (e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    if (d != NULL)
        closedir(d);
    rmdir(dir);
}

static int64_t nanos(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* Records the command line as a comment of the profile. */
static void add_command(pf_decoded *p, char **argv)
{
    char line[1024] = "command:";
    size_t n = strlen(line);
    for (size_t i = 0; argv[i] && n < sizeof line - 1; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, " %s", argv[i]);
    const char **c = realloc(p->comments, (p->ncomments + 1) * sizeof *c);
    const char *s = pf_decoded_str(p, line, SIZE_MAX);
    if (c != NULL) {
        p->comments = c;
        if (s != NULL)
            c[p->ncomments++] = s;
    }
}

static int file_write(void *ctx, const void *data, size_t len)
{
    return fwrite(data, 1, len, ctx) == len ? 0 : -1;
}

int cli_write_profile_to(const pf_decoded *p, FILE *f, char *err, size_t errlen)
{
    pf_err perr = {0};
    pf_code rc = pf_decoded_write(p, PF_WRITE_GZIP, file_write, f, &perr);
    if (rc == PF_OK && fflush(f) == 0)
        return 0;
    if (rc == PF_ERR_NOMEM)
        snprintf(err, errlen, "out of memory encoding the profile");
    else
        snprintf(err, errlen, "%s", strerror(errno));
    return -1;
}

int cli_write_profile(const pf_decoded *p, const char *path, char *err, size_t errlen)
{
    char tmp[4200], why[256] = "";
    if ((size_t)snprintf(tmp, sizeof tmp, "%s.part%ld", path, (long)getpid()) >= sizeof tmp) {
        snprintf(err, errlen, "the path is too long: %.400s", path);
        return -1;
    }
    FILE *f = fopen(tmp, "wb");
    bool ok = f != NULL && cli_write_profile_to(p, f, why, sizeof why) == 0 &&
              fsync(fileno(f)) == 0;
    if (f != NULL && fclose(f) != 0)
        ok = false;
    if (ok && rename(tmp, path) != 0)
        ok = false;
    if (!ok) {
        snprintf(err, errlen, "cannot write %.400s: %s", path, why[0] ? why : strerror(errno));
        unlink(tmp);
    }
    return ok ? 0 : -1;
}

/* Legacy file -> symbolized profile.proto at out. */
static int convert(run *r, const char *out, size_t *samples)
{
    char err[512], warn[1024];
    uint8_t *data;
    size_t len = 1;
    pf_decoded *p = NULL;
    if (cli_read_file(r->file, 1u << 30, &data, &len, err, sizeof err) == 0) {
        p = cli_prof_parse(data, len, err, sizeof err);
        free(data);
    }
    if (p == NULL && len == 0) {
        cli_error("%s left an empty profile: the profiler writes it at exit(), and the "
                  "command ended with _exit() (as dash does) or was killed", r->o->command[0]);
        return CLI_EXIT_RUN;
    }
    if (p == NULL) {
        cli_error("the profile the command left (%s) is unreadable: %s", r->file, err);
        return CLI_EXIT_RUN;
    }
    cli_symbolize_offline(p, warn, sizeof warn);
    if (warn[0])
        cli_note("%s", warn);
    p->time_nanos = nanos(&r->start);
    p->duration_nanos = nanos(&r->end) - nanos(&r->start);
    add_command(p, r->o->command);
    *samples = (size_t)pf_decoded_samples(p);
    int rc = cli_write_profile(p, out, err, sizeof err) == 0 ? CLI_OK : CLI_EXIT_FAIL;
    if (rc != CLI_OK)
        cli_error("%s", err);
    pf_decoded_free(p);
    return rc;
}

static int finish(run *r, const char *out)
{
    size_t samples = 0;
    int rc = convert(r, out, &samples);
    if (rc != CLI_OK)
        return rc;
    FILE *f = fopen(out, "rb");
    long bytes = -1;
    if (f != NULL && fseek(f, 0, SEEK_END) == 0)
        bytes = ftell(f);
    if (f != NULL)
        fclose(f);
    bool folded = r->o->format && strcmp(r->o->format, "folded") == 0;
    fprintf(folded ? stderr : stdout, "%-9s %s  %ld bytes  %zu samples\n",
            cli_kind_name(r->o->kind), out, bytes, samples);
    if (r->extra > 0)
        cli_note("%zu more profile%s of child processes left out", r->extra,
                 r->extra > 1 ? "s" : "");
    if (r->o->mem_rate && r->o->kind == CLI_HEAP)
        cli_note("-mem-rate is unused: the local heap profiler records every allocation");
    if (r->o->analyze || r->o->flamegraph || folded)
        rc = cli_analyze_file(r->o, out, cli_kind_name(r->o->kind));
    return rc;
}

int cli_local_run(const cli_opts *o)
{
    run r = {.o = o};
    char out[4200];
    if (o->output)
        snprintf(out, sizeof out, "%s", o->output);
    else if (cli_make_dir(o->output_dir) != 0)
        return CLI_EXIT_FAIL;
    else
        cli_default_name(out, sizeof out, o->output_dir, cli_kind_name(o->kind), ".pb.gz",
                         time(NULL));
    const char *tmp = getenv("TMPDIR");
    snprintf(r.dir, sizeof r.dir, "%.400s/takhin-profiler-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (mkdtemp(r.dir) == NULL) {
        cli_error("cannot create a temporary directory %s: %s", r.dir, strerror(errno));
        return CLI_EXIT_FAIL;
    }
    int rc = spawn(&r);
    if (rc == CLI_OK) {
        report_status(&r);
        if (find_profile(&r) != 0) {
            no_profile(&r);
            rc = CLI_EXIT_RUN;
        } else
            rc = finish(&r, out);
    }
    remove_dir(r.dir);
    return rc;
}
