/* The benchmark's binary: copy stdin to stdout (oneshot); with -l answer each line with itself; with -e
 * answer each envelope {"id":N,"context":...,"event":E} with {"id":N,"result":E}. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "-l")) {
        char *line = NULL;
        size_t size = 0;
        ssize_t n;
        while ((n = getline(&line, &size, stdin)) > 0) {
            fwrite(line, 1, (size_t)n, stdout);
            fflush(stdout);
        }
        return 0;
    }
    if (argc > 1 && !strcmp(argv[1], "-e")) {
        char *line = NULL;
        size_t size = 0;
        ssize_t n;
        while ((n = getline(&line, &size, stdin)) > 0) {
            long long id = strtoll(line + 6, NULL, 10);
            char *event = strstr(line, ",\"event\":") + 9;
            line[n - 2] = 0; /* drop "}\n" */
            printf("{\"id\":%lld,\"result\":", id);
            fwrite(event, 1, (size_t)(line + n - 2 - event), stdout);
            fputs("}\n", stdout);
            fflush(stdout);
        }
        return 0;
    }
    static char buffer[1 << 16];
    ssize_t n;
    while ((n = read(0, buffer, sizeof buffer)) > 0)
        for (ssize_t off = 0; off < n;) {
            ssize_t w = write(1, buffer + off, (size_t)(n - off));
            if (w < 0) return 1;
            off += w;
        }
    return 0;
}
