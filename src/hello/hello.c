/* hello: the smallest useful exec-bridge function, in C.
 *
 * Reads the event (JSON) from stdin, answers one JSON object on stdout. It does not parse the event:
 * it reports its size and the request id the bridge put in the environment.
 * Build: musl-gcc -static -O2 -o bin/hello src/hello/hello.c (./build.sh does it).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int main(void) {
    char buffer[65536];
    size_t total = 0;
    ssize_t n;
    while ((n = read(0, buffer, sizeof buffer)) > 0) total += (size_t)n;
    if (n < 0) {
        perror("hello: reading the event");
        return 1;
    }
    const char *request_id = getenv("LAMBDA_REQUEST_ID");
    /* The request id is a UUID: no character in it needs JSON escaping. */
    printf("{\"message\":\"Hello from C\",\"eventBytes\":%zu,\"requestId\":\"%s\"}\n",
           total, request_id ? request_id : "");
    return 0;
}
