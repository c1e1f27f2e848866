/* The target of benches/compare.sh, run inside the benchmark's target namespace: a
 * thread per connection, whose first byte says what it wants:
 *   'r'  a 64-byte reply, then close (the connect-request-close rate);
 *   'b'  8 bytes of length (little-endian), then that many bytes, then close (download);
 *   'u'  8 bytes of length, then that many bytes from the client, then the count of
 *        them in 8 bytes (upload; no half-close, which SOCKS servers may not relay);
 *   'i'  nothing until the client closes (idle connections). */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char block[1 << 16];

static void *serve(void *arg) {
    int fd = (int)(intptr_t)arg;
    char c;
    if (read(fd, &c, 1) == 1) {
        if (c == 'r') {
            char reply[64];
            memset(reply, 'x', sizeof reply);
            (void)!write(fd, reply, sizeof reply);
        } else if (c == 'b') {
            uint64_t left = 0;
            if (read(fd, &left, 8) == 8) {
                while (left > 0) {
                    size_t n = left < sizeof block ? left : sizeof block;
                    ssize_t w = write(fd, block, n);
                    if (w <= 0) break;
                    left -= (uint64_t)w;
                }
            }
        } else if (c == 'u') {
            char *sink = malloc(1 << 17); /* not on the thread's 64 KiB stack */
            uint64_t len = 0, got = 0;
            ssize_t r = 0;
            if (read(fd, &len, 8) == 8)
                while (sink && got < len && (r = read(fd, sink, 1 << 17)) > 0) got += (uint64_t)r;
            free(sink);
            (void)!write(fd, &got, 8);
        } else if (c == 'i') {
            while (read(fd, &c, 1) > 0) {}
        }
    }
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    int port = argc > 1 ? atoi(argv[1]) : 7000;
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
    if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 4096)) { perror("bind"); return 1; }
    printf("listening\n");
    fflush(stdout);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 64 << 10);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    for (;;) {
        int fd = accept(s, NULL, NULL);
        if (fd < 0) continue;
        pthread_t t;
        if (pthread_create(&t, &attr, serve, (void *)(intptr_t)fd)) close(fd);
    }
}
