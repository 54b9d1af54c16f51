/* A deliberately badly behaved binary for the tests: argv[1] picks the behaviour.
 *
 *   echo                 copy stdin to stdout
 *   split                copy stdin to stdout one byte... in 7-byte writes
 *   stderr-ok            echo, and log three lines on stderr
 *   stderr-flood N       write N bytes of stderr lines while echoing stdin to stdout
 *   exit N [json]        read stdin, exit N (with a JSON error line last on stderr if "json")
 *   segv                 crash with SIGSEGV
 *   sleep SECONDS        read stdin, then sleep (log a line first)
 *   grandchild           fork a child that keeps stdout open and sleeps; print a reply and exit
 *   endless              write stdout forever
 *   invalid              print something that is not JSON
 *   empty                print nothing
 *   no-read              exit 0 without reading stdin, printing {"ok":true}
 *   env                  print a JSON object with the context variables, cwd and argv count
 *   bytes                print the 256 byte values 0..255 (not UTF-8)
 *   proxy [STATUS]       print a ready-made API Gateway proxy response
 */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void write_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0) exit(3);
        p += w;
        n -= (size_t)w;
    }
}

static size_t drain_stdin(int echo, size_t piece) {
    static char buffer[65536];
    size_t total = 0;
    ssize_t n;
    while ((n = read(0, buffer, sizeof buffer)) > 0) {
        total += (size_t)n;
        if (!echo) continue;
        for (ssize_t off = 0; off < n; off += (ssize_t)piece) {
            size_t len = (size_t)(n - off) < piece ? (size_t)(n - off) : piece;
            write_all(1, buffer + off, len);
        }
    }
    return total;
}

static void json_string(const char *s) {
    putchar('"');
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "echo";
    if (!strcmp(mode, "echo")) {
        drain_stdin(1, 65536);
    } else if (!strcmp(mode, "split")) {
        drain_stdin(1, 7);
    } else if (!strcmp(mode, "stderr-ok")) {
        fprintf(stderr, "first log line\nsecond log line\nthird, no newline");
        drain_stdin(1, 65536);
    } else if (!strcmp(mode, "stderr-flood")) {
        long want = argc > 2 ? atol(argv[2]) : 1 << 20;
        char line[100];
        memset(line, 'e', sizeof line - 1);
        line[sizeof line - 1] = '\n';
        for (long sent = 0; sent < want; sent += (long)sizeof line) write_all(2, line, sizeof line);
        drain_stdin(1, 65536);
        for (long sent = 0; sent < want; sent += (long)sizeof line) write_all(2, line, sizeof line);
    } else if (!strcmp(mode, "exit")) {
        drain_stdin(0, 0);
        fprintf(stderr, "something went wrong\n");
        if (argc > 3 && !strcmp(argv[3], "json"))
            fprintf(stderr, "{\"errorType\":\"PaymentDeclined\",\"errorMessage\":\"card 42 was declined\"}\n\n");
        return argc > 2 ? atoi(argv[2]) : 1;
    } else if (!strcmp(mode, "segv")) {
        drain_stdin(0, 0);
        fprintf(stderr, "about to crash\n");
        raise(SIGSEGV);
    } else if (!strcmp(mode, "sleep")) {
        drain_stdin(0, 0);
        fprintf(stderr, "going to sleep\n");
        sleep(argc > 2 ? (unsigned)atoi(argv[2]) : 60);
        printf("{\"slept\":true}");
    } else if (!strcmp(mode, "grandchild")) {
        drain_stdin(0, 0);
        if (fork() == 0) {
            sleep(60); /* holds stdout and stderr open */
            _exit(0);
        }
        printf("{\"parent\":\"done\"}");
        fflush(stdout);
    } else if (!strcmp(mode, "endless")) {
        static char block[65536];
        memset(block, '7', sizeof block);
        for (;;) write_all(1, block, sizeof block);
    } else if (!strcmp(mode, "invalid")) {
        drain_stdin(0, 0);
        printf("this is not JSON {");
    } else if (!strcmp(mode, "empty")) {
        drain_stdin(0, 0);
    } else if (!strcmp(mode, "no-read")) {
        printf("{\"ok\":true}");
    } else if (!strcmp(mode, "bytes")) {
        drain_stdin(0, 0);
        for (int c = 0; c < 256; c++) putchar(c);
    } else if (!strcmp(mode, "proxy")) {
        drain_stdin(0, 0);
        printf("{\"statusCode\":%s,\"headers\":{\"X-Made-By\":\"binary\"},\"body\":\"made\"}",
               argc > 2 ? argv[2] : "201");
    } else if (!strcmp(mode, "env")) {
        size_t got = drain_stdin(0, 0);
        char cwd[4096];
        const char *names[] = {"LAMBDA_REQUEST_ID", "LAMBDA_DEADLINE_MS", "LAMBDA_FUNCTION_ARN",
                               "_X_AMZN_TRACE_ID", "LAMBDA_INVOCATION_CONTEXT", "HOME", "TMPDIR",
                               "FUNCTION_SETTING", "AWS_LAMBDA_RUNTIME_API", "_HANDLER", "LAMBDA_TASK_ROOT",
                               "LAMBDA_TENANT_ID"};
        printf("{\"cwd\":");
        json_string(getcwd(cwd, sizeof cwd));
        printf(",\"argc\":%d,\"stdinBytes\":%zu", argc, got);
        for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
            printf(",\"%s\":", names[i]);
            if (getenv(names[i])) json_string(getenv(names[i]));
            else printf("null");
        }
        printf("}");
    } else {
        fprintf(stderr, "misbehave: unknown mode %s\n", mode);
        return 64;
    }
    return 0;
}
