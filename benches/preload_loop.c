/* N connects (or N getaddrinfo calls) in a loop, timed: the per-call cost of a preload
 * library against the same SOCKS server. */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    int n = atoi(argv[2]);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < n; i++) {
        if (!strcmp(argv[1], "connect")) {
            struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(80) };
            inet_pton(AF_INET, "192.0.2.1", &in.sin_addr);
            int fd = socket(AF_INET, SOCK_STREAM, 0);
            if (connect(fd, (struct sockaddr *)&in, sizeof in) != 0) { perror("connect"); return 1; }
            close(fd);
        } else {
            struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_STREAM }, *res;
            if (getaddrinfo("www.example.com", "80", &hints, &res) != 0) { fprintf(stderr, "gai\n"); return 1; }
            freeaddrinfo(res);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    double us = ((b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec)) / 1e3 / n;
    printf("%.1f\n", us);
    return 0;
}
