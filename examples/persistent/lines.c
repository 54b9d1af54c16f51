/* Persistent mode, BRIDGE_FRAMING=lines: read one line (an event), write one line (the response).
 * This one answers {"echo": <event>} and stays alive across invocations.
 * Build: musl-gcc -static -O2 -o lines examples/persistent/lines.c
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>

int main(void) {
    char *line = NULL;
    size_t size = 0;
    ssize_t n;
    while ((n = getline(&line, &size, stdin)) > 0) {
        if (line[n - 1] == '\n') line[--n] = 0;
        fprintf(stderr, "handling %zd bytes\n", n);
        printf("{\"echo\":%s}\n", line);
        fflush(stdout); /* the bridge waits for the newline: never leave a reply in the buffer */
    }
    free(line);
    return 0;
}
