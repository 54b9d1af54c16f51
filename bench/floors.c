/* The floors exec-bridge is measured against, doing the same work in C.
 *   floors spawn BINARY PAYLOAD N   posix_spawn BINARY per round (stdin, stdout and stderr pipes, own
 *                                   process group, default signals: what a correct bridge must do),
 *                                   feed PAYLOAD while draining stdout and stderr with poll, reap it.
 *   floors line BINARY PAYLOAD N    one long-lived BINARY -l; per round write PAYLOAD (one line) and read
 *                                   the line back.
 * Prints the time of each of N rounds in microseconds, one per line, after N/10 warm-up rounds.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/wait.h>

extern char **environ;
static char *payload, *reply;
static size_t payload_size;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void spawn_round(char *binary) {
    int in[2], out[2], err[2];
    pipe2(in, O_CLOEXEC); pipe2(out, O_CLOEXEC); pipe2(err, O_CLOEXEC);
    if (payload_size > 65536) { fcntl(in[1], F_SETPIPE_SZ, 1 << 20); fcntl(out[1], F_SETPIPE_SZ, 1 << 20); }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], 0);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_adddup2(&actions, err[1], 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t defaults;
    sigemptyset(&defaults); sigaddset(&defaults, SIGPIPE); sigaddset(&defaults, SIGXFSZ);
    posix_spawnattr_setsigdefault(&attr, &defaults);
    posix_spawnattr_setpgroup(&attr, 0);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP);
    pid_t pid;
    char *argv[] = {binary, NULL};
    posix_spawn(&pid, binary, &actions, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    close(in[0]); close(out[1]); close(err[1]);
    fcntl(in[1], F_SETFL, O_NONBLOCK);
    size_t sent = 0, got = 0;
    struct pollfd fds[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0}, {in[1], POLLOUT, 0}};
    int open_fds = 3;
    while (open_fds > 0) {
        poll(fds, 3, -1);
        for (int i = 0; i < 3; i++) {
            if (!fds[i].revents) continue;
            if (i == 2) {
                ssize_t w = write(in[1], payload + sent, payload_size - sent);
                if (w > 0) sent += (size_t)w;
                if (w < 0 || sent == payload_size) { close(in[1]); fds[2].fd = -1; open_fds--; }
            } else {
                ssize_t r = read(fds[i].fd, reply + got, payload_size + 65536 - got);
                if (r <= 0) { close(fds[i].fd); fds[i].fd = -1; open_fds--; }
                else if (i == 0) got += (size_t)r;
            }
        }
    }
    waitpid(pid, NULL, 0);
}

static int line_in = -1, line_out = -1;

static void line_round(char *binary) {
    if (line_in < 0) {
        int in[2], out[2];
        pipe2(in, O_CLOEXEC); pipe2(out, O_CLOEXEC);
        fcntl(in[1], F_SETPIPE_SZ, 1 << 20); fcntl(out[1], F_SETPIPE_SZ, 1 << 20);
        posix_spawn_file_actions_t actions;
        posix_spawn_file_actions_init(&actions);
        posix_spawn_file_actions_adddup2(&actions, in[0], 0);
        posix_spawn_file_actions_adddup2(&actions, out[1], 1);
        pid_t pid;
        char *argv[] = {binary, "-l", NULL};
        posix_spawn(&pid, binary, &actions, NULL, argv, environ);
        close(in[0]); close(out[1]);
        line_in = in[1]; line_out = out[0];
        fcntl(line_in, F_SETFL, O_NONBLOCK);
    }
    size_t sent = 0, got = 0;
    struct pollfd fds[2] = {{line_out, POLLIN, 0}, {line_in, POLLOUT, 0}};
    for (;;) {
        if (sent < payload_size) {
            ssize_t w = write(line_in, payload + sent, payload_size - sent);
            if (w > 0) sent += (size_t)w;
        }
        fds[1].fd = sent < payload_size ? line_in : -1;
        poll(fds, 2, -1);
        if (fds[0].revents) {
            ssize_t r = read(line_out, reply + got, payload_size + 65536 - got);
            if (r <= 0) exit(2);
            got += (size_t)r;
            if (reply[got - 1] == '\n') return;
        }
    }
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: floors spawn|line BINARY PAYLOAD N\n"); return 64; }
    FILE *f = fopen(argv[3], "rb");
    struct stat st;
    fstat(fileno(f), &st);
    payload_size = (size_t)st.st_size;
    payload = malloc(payload_size);
    reply = malloc(payload_size + 65536);
    fread(payload, 1, payload_size, f);
    fclose(f);
    int n = atoi(argv[4]), warm = n / 10 + 1;
    void (*round)(char *) = strcmp(argv[1], "line") ? spawn_round : line_round;
    double *times = malloc(sizeof(double) * (size_t)n);
    for (int i = 0; i < warm + n; i++) {
        double start = now();
        round(argv[2]);
        if (i >= warm) times[i - warm] = now() - start;
    }
    for (int i = 0; i < n; i++) printf("%.2f\n", times[i] * 1e6);
    return 0;
}
