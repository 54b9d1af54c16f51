/* A queue worker: run once per SQS message (BRIDGE_BATCH=records), the message body on stdin
 * (BRIDGE_STDIN=body). A message that mentions "poison" fails with a typed error, so Lambda retries that
 * message alone (ReportBatchItemFailures); any other is processed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(void) {
    static char body[1 << 20];
    size_t n = fread(body, 1, sizeof body - 1, stdin);
    body[n] = 0;
    if (strstr(body, "poison")) {
        fputs("{\"errorType\":\"PoisonMessage\",\"errorMessage\":\"this message cannot be processed\"}\n", stderr);
        return 1;
    }
    fprintf(stderr, "processed message %s (%zu bytes)\n", getenv("LAMBDA_REQUEST_ID"), n);
    puts("{\"processed\":true}");
    return 0;
}
