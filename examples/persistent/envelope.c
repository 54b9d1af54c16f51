/* Persistent mode, BRIDGE_FRAMING=envelope. Each line in is
 *   {"id":<integer>,"context":{...},"event":<the event>}
 * with the keys always in that order (id first, event last), so this C program needs no JSON parser:
 * it reads the id, slices the event out, and answers {"id":<same>,"result":{"echo":<event>}}.
 * An event equal to "fail" gets a typed error instead: {"id":<same>,"error":{"errorType":...}}.
 * Build: musl-gcc -static -O2 -o envelope examples/persistent/envelope.c
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    char *line = NULL;
    size_t size = 0;
    ssize_t n;
    while ((n = getline(&line, &size, stdin)) > 0) {
        if (line[n - 1] == '\n') line[--n] = 0;
        long long id = strtoll(line + strlen("{\"id\":"), NULL, 10);
        fprintf(stderr, "handling message %lld\n", id);
        char *event = strstr(line, ",\"event\":");
        if (!event || line[n - 1] != '}') {
            printf("{\"id\":%lld,\"error\":{\"errorType\":\"BadEnvelope\",\"errorMessage\":\"no event\"}}\n", id);
        } else {
            event += strlen(",\"event\":");
            line[n - 1] = 0; /* drop the envelope's closing brace: what is left is the event */
            if (!strcmp(event, "\"fail\""))
                printf("{\"id\":%lld,\"error\":{\"errorType\":\"RequestedFailure\",\"errorMessage\":\"asked to fail\"}}\n", id);
            else
                printf("{\"id\":%lld,\"result\":{\"echo\":%s}}\n", id, event);
        }
        fflush(stdout);
    }
    free(line);
    return 0;
}
