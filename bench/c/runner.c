/* The benchmark's process runner, small and static so that its own memory
 * does not show in the children's peak RSS (a forked child starts with its
 * parent's resident pages, and ru_maxrss keeps them across exec).
 *
 *   runner time N BODY -- PROGRAM ARGS...
 *       Runs PROGRAM N times, one after another, each with BODY on stdin and
 *       stdout and stderr on /dev/null (stderr stays the runner's with
 *       RUNNER_STDERR=1). Prints one line per run:
 *       wall_ns user_us sys_us maxrss_kb minor_faults exit_status
 *   runner load SECONDS WRITERS BODY -- PROGRAM ARGS...
 *       WRITERS processes each run PROGRAM over and over for SECONDS.
 *       Prints: completed failed elapsed_ns
 *   runner append SECONDS WRITERS JOURNAL FSYNC LINEFILE
 *       WRITERS processes each append LINEFILE's one line to JOURNAL over and
 *       over for SECONDS, exactly as the C receiver does (hook_append_line).
 *       Prints: completed failed elapsed_ns
 *
 * The environment is passed to PROGRAM as it is.
 */
#define _GNU_SOURCE
#include "hook.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(2);
}

/* Runs argv once with body on stdin; fills wall time and rusage; returns the wait status. */
static int run_once(char **argv, const char *body, int devnull, int keep_stderr, long long *wall, struct rusage *ru) {
    int in = open(body, O_RDONLY | O_CLOEXEC);
    if (in < 0) die(body);
    long long start = now_ns();
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) {
        dup2(in, 0);
        dup2(devnull, 1);
        if (!keep_stderr) dup2(devnull, 2);
        execve(argv[0], argv, environ);
        _exit(127);
    }
    int status;
    while (wait4(pid, &status, 0, ru) < 0)
        if (errno != EINTR) die("wait4");
    *wall = now_ns() - start;
    close(in);
    return status;
}

static int exit_code(int status) {
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* WRITERS children each call work() until the deadline; shared counters in an anonymous mapping. */
struct tally {
    long completed, failed;
};

static void fan_out(int seconds, int writers, int (*work)(void *), void *arg) {
    struct tally *t = mmap(NULL, sizeof(struct tally) * (size_t)writers, PROT_READ | PROT_WRITE,
                           MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (t == MAP_FAILED) die("mmap");
    memset(t, 0, sizeof(struct tally) * (size_t)writers);
    long long start = now_ns(), deadline = start + (long long)seconds * 1000000000LL;
    for (int w = 0; w < writers; w++) {
        pid_t pid = fork();
        if (pid < 0) die("fork");
        if (pid == 0) {
            while (now_ns() < deadline) {
                if (work(arg) == 0) t[w].completed++;
                else t[w].failed++;
            }
            _exit(0);
        }
    }
    for (int w = 0; w < writers; w++) {
        int status;
        while (wait(&status) < 0)
            if (errno != EINTR) die("wait");
    }
    long long elapsed = now_ns() - start;
    long completed = 0, failed = 0;
    for (int w = 0; w < writers; w++) completed += t[w].completed, failed += t[w].failed;
    printf("%ld %ld %lld\n", completed, failed, elapsed);
}

struct program {
    char **argv;
    const char *body;
    int devnull;
};

static int run_program(void *arg) {
    struct program *p = arg;
    long long wall;
    struct rusage ru;
    int status = run_once(p->argv, p->body, p->devnull, 0, &wall, &ru);
    return exit_code(status) == 0 ? 0 : -1;
}

struct append {
    const char *journal;
    int fsync;
    char *line;
    size_t n;
};

static int append_one(void *arg) {
    struct append *a = arg;
    return hook_append_line(a->journal, a->line, a->n, a->fsync);
}

static char **after_dashes(int argc, char **argv, int from) {
    for (int i = from; i < argc; i++)
        if (!strcmp(argv[i], "--") && i + 1 < argc) return argv + i + 1;
    fprintf(stderr, "runner: no program after --\n");
    exit(2);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: see runner.c\n");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0) die("/dev/null");
    if (!strcmp(argv[1], "time") && argc >= 6) {
        int n = atoi(argv[2]);
        const char *body = argv[3];
        char **prog = after_dashes(argc, argv, 4);
        int keep_stderr = getenv("RUNNER_STDERR") != NULL;
        for (int i = 0; i < n; i++) {
            long long wall;
            struct rusage ru;
            int status = run_once(prog, body, devnull, keep_stderr, &wall, &ru);
            printf("%lld %ld %ld %ld %ld %d\n", wall, ru.ru_utime.tv_sec * 1000000L + ru.ru_utime.tv_usec,
                   ru.ru_stime.tv_sec * 1000000L + ru.ru_stime.tv_usec, ru.ru_maxrss, ru.ru_minflt,
                   exit_code(status));
        }
        return 0;
    }
    if (!strcmp(argv[1], "load") && argc >= 7) {
        struct program p = {after_dashes(argc, argv, 5), argv[4], devnull};
        fflush(stdout);
        fan_out(atoi(argv[2]), atoi(argv[3]), run_program, &p);
        return 0;
    }
    if (!strcmp(argv[1], "append") && argc == 7) {
        struct append a = {argv[4], !strcmp(argv[5], "1"), NULL, 0};
        FILE *f = fopen(argv[6], "rb");
        if (!f) die(argv[6]);
        a.line = malloc(1 << 20);
        a.n = fread(a.line, 1, 1 << 20, f);
        fclose(f);
        if (!a.n || a.line[a.n - 1] != '\n') {
            fprintf(stderr, "runner: %s must hold one line, newline included\n", argv[6]);
            return 2;
        }
        fflush(stdout);
        fan_out(atoi(argv[2]), atoi(argv[3]), append_one, &a);
        return 0;
    }
    fprintf(stderr, "runner: unknown mode or wrong arguments\n");
    return 2;
}
