/* The client of benches/compare.sh: plain connect() to ADDR:PORT, or with --socks
 * HOST:PORT a SOCKS5 CONNECT of its own (no authentication), as a SOCKS-aware program
 * does. Modes:
 *   rate N     N connect-request-close in a row; prints connections per second
 *   bulk BYTES one download; prints Gbit/s
 *   upload BYTES one upload (until the server has counted every byte); prints Gbit/s
 *   idle N     prints "ready" and waits for a line on stdin; opens N connections that
 *              stay idle, prints "open" and waits for another line; then downloads
 *              2 GiB with them open and prints Gbit/s */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in target, proxy;
static int use_socks;

static int full(int fd, void *buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, (char *)buf + got, n - got);
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    return 0;
}

static int open_conn(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in *to = use_socks ? &proxy : &target;
    if (connect(fd, (struct sockaddr *)to, sizeof *to)) { perror("connect"); exit(1); }
    if (use_socks) {
        unsigned char hello[3] = {5, 1, 0}, choice[2], req[10] = {5, 1, 0, 1}, rep[10];
        memcpy(req + 4, &target.sin_addr, 4);
        memcpy(req + 8, &target.sin_port, 2);
        if (write(fd, hello, 3) != 3 || full(fd, choice, 2) || choice[1] != 0 ||
            write(fd, req, 10) != 10 || full(fd, rep, 10) || rep[1] != 0) {
            fprintf(stderr, "socks refused\n");
            exit(1);
        }
    }
    return fd;
}

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* One download of `n` bytes; prints Gbit/s. */
static int bulk(long long n) {
    int fd = open_conn();
    uint64_t len = (uint64_t)n;
    static char buf[1 << 17];
    double start = now();
    if (write(fd, "b", 1) != 1 || write(fd, &len, 8) != 8) return 1;
    uint64_t got = 0;
    ssize_t r;
    while ((r = read(fd, buf, sizeof buf)) > 0) got += (uint64_t)r;
    double secs = now() - start;
    close(fd);
    if (got != len) {
        fprintf(stderr, "short download: %llu of %llu\n", (unsigned long long)got, (unsigned long long)len);
        return 1;
    }
    printf("%.2f\n", got * 8 / secs / 1e9);
    fflush(stdout);
    return 0;
}

/* One upload of `n` bytes, done when the server reports their count; prints Gbit/s. */
static int upload(long long n) {
    int fd = open_conn();
    static char buf[1 << 16];
    double start = now();
    uint64_t len = (uint64_t)n;
    if (write(fd, "u", 1) != 1 || write(fd, &len, 8) != 8) return 1;
    for (long long left = n; left > 0;) {
        ssize_t w = write(fd, buf, left < (long long)sizeof buf ? (size_t)left : sizeof buf);
        if (w <= 0) { perror("upload"); return 1; }
        left -= w;
    }
    uint64_t counted = 0;
    if (full(fd, &counted, 8) || counted != (uint64_t)n) {
        fprintf(stderr, "short upload: the server counted %llu of %lld\n", (unsigned long long)counted, n);
        return 1;
    }
    double secs = now() - start;
    close(fd);
    printf("%.2f\n", n * 8 / secs / 1e9);
    fflush(stdout);
    return 0;
}

static void parse(struct sockaddr_in *a, const char *host, const char *port) {
    a->sin_family = AF_INET;
    a->sin_port = htons(atoi(port));
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) { fprintf(stderr, "bad address %s\n", host); exit(2); }
}

int main(int argc, char **argv) {
    int i = 1;
    if (argc > 2 && !strcmp(argv[1], "--socks")) {
        char *colon = strchr(argv[2], ':');
        *colon = 0;
        parse(&proxy, argv[2], colon + 1);
        use_socks = 1;
        i = 3;
    }
    if (argc < i + 4) { fprintf(stderr, "usage: [--socks H:P] rate|bulk|upload|idle N ADDR PORT\n"); return 2; }
    const char *mode = argv[i];
    long long n = atoll(argv[i + 1]);
    parse(&target, argv[i + 2], argv[i + 3]);
    if (!strcmp(mode, "rate")) {
        double start = now();
        for (long long k = 0; k < n; k++) {
            int fd = open_conn();
            char buf[64];
            if (write(fd, "r", 1) != 1 || full(fd, buf, 64)) { fprintf(stderr, "short reply\n"); return 1; }
            close(fd);
        }
        printf("%.0f\n", n / (now() - start));
    } else if (!strcmp(mode, "bulk")) {
        return bulk(n);
    } else if (!strcmp(mode, "upload")) {
        return upload(n);
    } else {
        struct rlimit l = { n + 64, n + 64 };
        setrlimit(RLIMIT_NOFILE, &l);
        char line[16];
        printf("ready\n");
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin)) return 1;
        for (long long k = 0; k < n; k++) {
            int fd = open_conn();
            if (write(fd, "i", 1) != 1) return 1;
        }
        printf("open\n");
        fflush(stdout);
        if (!fgets(line, sizeof line, stdin)) return 1;
        return bulk(2LL << 30);
    }
    return 0;
}
