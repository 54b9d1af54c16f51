/* An adversarial binary for tests/test_hostile.py: argv[1] picks the attack, argv[2..] its arguments.
 *
 *   print TEXT            read stdin, print TEXT as the reply (big integers, NaN, 1e400 ...)
 *   nested N              read stdin, print N nested arrays: [[[...]]]
 *   error-type TYPE       read stdin, write {"errorType":TYPE,"errorMessage":"typed"} on stderr, exit 1
 *                         (TYPE is JSON string content, escapes included)
 *   long-error BYTES      read stdin, write an error line with a BYTES-long message on stderr, exit 1
 *   no-newline BYTES      read stdin, write BYTES of "\rprogress" to stderr with no newline, reply {}
 *   escape HOW PIDFILE    read stdin, start a descendant that leaves the process group (HOW: setsid,
 *                         setpgid or daemon: setsid after a double fork), write its pid to PIDFILE,
 *                         reply {} and exit while it sleeps on
 *   reply-bytes N         read stdin, reply with a JSON string of exactly N bytes (quotes included)
 *   signals               read stdin, reply {"ignored": SigIgn, "blocked": SigBlk}: the signal masks the
 *                         process started with, in /proc/self/status's hex
 *   record                a batch record's run: the reply {} unless stdin holds "poison" (a typed error,
 *                         exit 1), "crash" (abort), "garbage" (a reply that is not JSON); "sleep=MS" sleeps
 *                         first; with BATCH_TRACE set, appends "start NS" and "end NS" lines to that file
 *   log-mix N             read stdin, log N plain lines, JSON lines at each level, an Embedded Metric
 *                         Format object, and a last line without newline on stderr; reply {}
 *   persist HOW           long-lived, one line in, the same line out; HOW: exit-after-reply (exit at
 *                         once after each reply), close-then-exit (close stdin, then exit),
 *                         ignore-eof (keep running, and ignore SIGTERM, when stdin ends),
 *                         escape PIDFILE (first start a setsid descendant, as "escape setsid" does)
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

static char input[1 << 20];

static void drain_stdin(void) {
    size_t used = 0;
    ssize_t n;
    while ((n = read(0, input + used, sizeof input - 1 - used)) > 0) {
        used += (size_t)n;
        if (used == sizeof input - 1) used = 0; /* keep the last megabyte only */
    }
    input[used] = 0;
}

static void trace(const char *what) {
    const char *path = getenv("BATCH_TRACE");
    if (!path) return;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    char line[64];
    int n = snprintf(line, sizeof line, "%s %lld\n", what, (long long)now.tv_sec * 1000000000LL + now.tv_nsec);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0644);
    write(fd, line, (size_t)n);
    close(fd);
}

static void repeat(FILE *out, const char *text, long count) {
    for (long i = 0; i < count; i++) fputs(text, out);
}

static void sleep_forever(void) {
    for (;;) pause();
}

static void escape(const char *how, const char *pidfile) {
    int ready[2];
    if (pipe(ready) != 0) exit(3);
    pid_t child = fork();
    if (child < 0) exit(3);
    if (child == 0) {
        close(ready[0]);
        if (!strcmp(how, "setpgid")) {
            setpgid(0, 0);
        } else {
            setsid();
            if (!strcmp(how, "daemon") && fork() > 0) _exit(0); /* the grandchild is orphaned */
        }
        FILE *f = fopen(pidfile, "w");
        fprintf(f, "%d\n", (int)getpid());
        fclose(f);
        write(ready[1], "!", 1);
        close(0);
        close(1);
        close(2);
        sleep_forever();
    }
    close(ready[1]);
    char byte;
    read(ready[0], &byte, 1); /* the pid file is written */
}

static int persist(const char *how, const char *pidfile) {
    char *line = NULL;
    size_t size = 0;
    ssize_t n;
    if (!strcmp(how, "ignore-eof")) signal(SIGTERM, SIG_IGN);
    if (!strcmp(how, "escape")) escape("setsid", pidfile);
    while ((n = getline(&line, &size, stdin)) > 0) {
        fwrite(line, 1, (size_t)n, stdout);
        fflush(stdout);
        if (!strcmp(how, "exit-after-reply")) return 0;
        if (!strcmp(how, "close-then-exit")) {
            close(0);
            usleep(20000);
            return 0;
        }
    }
    if (!strcmp(how, "ignore-eof")) sleep_forever();
    return 0;
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "";
    const char *arg = argc > 2 ? argv[2] : "";
    if (!strcmp(mode, "persist")) return persist(arg, argc > 3 ? argv[3] : "/dev/null");
    drain_stdin();
    if (!strcmp(mode, "print")) {
        fputs(arg, stdout);
    } else if (!strcmp(mode, "nested")) {
        long depth = atol(arg);
        repeat(stdout, "[", depth);
        repeat(stdout, "]", depth);
    } else if (!strcmp(mode, "error-type")) {
        fprintf(stderr, "{\"errorType\":\"%s\",\"errorMessage\":\"typed\"}\n", arg);
        return 1;
    } else if (!strcmp(mode, "long-error")) {
        fputs("{\"errorType\":\"VeryLongError\",\"errorMessage\":\"", stderr);
        repeat(stderr, "m", atol(arg));
        fputs("\"}\n", stderr);
        return 1;
    } else if (!strcmp(mode, "no-newline")) {
        long total = atol(arg);
        for (long written = 0; written < total; written += 10) fputs("\rprogress ", stderr);
        fputs("{}", stdout);
    } else if (!strcmp(mode, "escape")) {
        escape(arg, argc > 3 ? argv[3] : "/dev/null");
        fputs("{}", stdout);
    } else if (!strcmp(mode, "record")) {
        trace("start");
        const char *sleep_at = strstr(input, "sleep=");
        if (sleep_at) usleep((useconds_t)atol(sleep_at + 6) * 1000);
        trace("end");
        if (strstr(input, "poison")) {
            fputs("{\"errorType\":\"Poisoned\",\"errorMessage\":\"the record was poisoned\"}\n", stderr);
            return 1;
        }
        if (strstr(input, "crash")) abort();
        fputs(strstr(input, "garbage") ? "not json" : "{}", stdout);
    } else if (!strcmp(mode, "log-mix")) {
        long count = atol(arg);
        for (long i = 0; i < count; i++) fprintf(stderr, "plain line %ld\n", i);
        fputs("{\"level\":\"debug\",\"msg\":\"a debug line\"}\n", stderr);
        fputs("{\"Level\":\"TRACE\",\"msg\":\"a trace line\"}\n", stderr);
        fputs("{\"severity\":\"WARN\",\"message\":\"careful\",\"code\":7}\n", stderr);
        fputs("{\"levelname\":\"Error\",\"msg\":\"bad\",\"errorType\":\"Custom\",\"requestId\":\"forged\"}\n", stderr);
        fputs("{\"_aws\":{\"Timestamp\":1700000000000,\"CloudWatchMetrics\":[{\"Namespace\":\"exec-bridge\","
              "\"Dimensions\":[[\"fn\"]],\"Metrics\":[{\"Name\":\"Hits\",\"Unit\":\"Count\"}]}]},"
              "\"fn\":\"f\",\"Hits\":1}\n", stderr);
        fputs("the tail, without newline", stderr);
        fputs("{}", stdout);
    } else if (!strcmp(mode, "reply-bytes")) {
        long total = atol(arg);
        putchar('"');
        repeat(stdout, "r", total - 2);
        putchar('"');
    } else if (!strcmp(mode, "signals")) {
        char line[256], ignored[64] = "?", blocked[64] = "?";
        FILE *status = fopen("/proc/self/status", "r");
        while (status && fgets(line, sizeof line, status)) {
            sscanf(line, "SigIgn: %63s", ignored);
            sscanf(line, "SigBlk: %63s", blocked);
        }
        printf("{\"ignored\":\"%s\",\"blocked\":\"%s\"}", ignored, blocked);
    } else {
        fprintf(stderr, "unknown mode %s\n", mode);
        return 2;
    }
    return 0;
}
