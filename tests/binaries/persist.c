/* A long-lived test binary for persistent mode. argv[1] is the framing: "lines" or "envelope".
 * It echoes each event, except when the event contains one of these words:
 *   pid       reply with this process's pid               crash     abort() before replying
 *   sleep     sleep 60 before replying                    exit      reply, then exit 0 (between calls)
 *   garbage   reply with a line that is not JSON          partial   write half a reply, then exit
 *   huge      reply with an endless line                  two       reply twice (a stray extra line)
 *   stderr    reply, then write 1 MB of stderr lines      wrongid   (envelope) reply with another id
 *   typed     (envelope) reply with a typed error
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int envelope;
static long long id;

static void reply(const char *result) {
    if (envelope) printf("{\"id\":%lld,\"result\":%s}\n", id, result);
    else printf("%s\n", result);
    fflush(stdout);
}

int main(int argc, char **argv) {
    envelope = argc > 1 && !strcmp(argv[1], "envelope");
    char *line = NULL;
    size_t size = 0;
    ssize_t n;
    while ((n = getline(&line, &size, stdin)) > 0) {
        if (line[n - 1] == '\n') line[--n] = 0;
        char *event = line;
        if (envelope) {
            id = strtoll(line + strlen("{\"id\":"), NULL, 10);
            event = strstr(line, ",\"event\":") + strlen(",\"event\":");
            line[n - 1] = 0;
        }
        if (strstr(event, "\"pid\"")) {
            char text[64];
            snprintf(text, sizeof text, "{\"pid\":%d}", (int)getpid());
            reply(text);
        } else if (strstr(event, "\"crash\"")) {
            fprintf(stderr, "crashing now\n");
            abort();
        } else if (strstr(event, "\"sleep\"")) {
            sleep(60);
            reply("\"woke\"");
        } else if (strstr(event, "\"exit\"")) {
            reply("\"bye\"");
            fprintf(stderr, "exiting between calls\n");
            return 0;
        } else if (strstr(event, "\"garbage\"")) {
            printf("this is not json\n");
            fflush(stdout);
        } else if (strstr(event, "\"partial\"")) {
            printf("{\"half\":");
            fflush(stdout);
            return 0;
        } else if (strstr(event, "\"huge\"")) {
            static char block[65536];
            memset(block, 'h', sizeof block);
            printf("\"");
            for (;;) fwrite(block, 1, sizeof block, stdout);
        } else if (strstr(event, "\"two\"")) {
            printf(envelope ? "{\"id\":%lld,\"result\":1}\n{\"id\":%lld,\"result\":2}\n" : "1\n2\n", id, id);
            fflush(stdout); /* both lines in one write: the stray one is already there at the next call */
        } else if (strstr(event, "\"stderr\"")) {
            reply("\"logged\"");
            char text[100];
            memset(text, 's', sizeof text - 1);
            text[sizeof text - 1] = '\n';
            for (int i = 0; i < 1048576 / 100; i++) fwrite(text, 1, sizeof text, stderr);
            fflush(stderr);
        } else if (envelope && strstr(event, "\"wrongid\"")) {
            printf("{\"id\":%lld,\"result\":\"late\"}\n", id + 1000);
            fflush(stdout);
        } else if (envelope && strstr(event, "\"typed\"")) {
            printf("{\"id\":%lld,\"error\":{\"errorType\":\"OrderRejected\",\"errorMessage\":\"out of stock\"}}\n", id);
            fflush(stdout);
        } else {
            reply(event);
        }
    }
    free(line);
    return 0;
}
