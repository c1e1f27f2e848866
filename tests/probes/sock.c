/* Socket probe for the preload tests: performs one scripted operation and prints the
 * results as key=value lines that the Rust tests parse.
 *
 *   sock socket DOMAIN TYPE                 socket(); DOMAIN: inet inet6 unix netlink packet
 *                                            TYPE: stream dgram raw seqpacket (+nonblock, +cloexec)
 *   sock socketpair DOMAIN
 *   sock connect IP PORT [OPTIONS...]        TCP connect; IP may be IPv4 or IPv6
 *        options: nonblock cloexec v6sock (AF_INET6 socket) read=N write=TEXT
 *                 again (a second connect) len=N (address length) badfd udp
 *   sock connect-unix PATH
 *   sock connect-null
 *   sock peer-pipe | peer-unconnected       getpeername on a pipe / an unconnected socket
 *   connect option peerchecks: getpeername with a NULL address, then a NULL length
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void report(const char *what, int rc) {
    printf("%s=%d errno=%d\n", what, rc, rc < 0 ? errno : 0);
}

static int domain_of(const char *s) {
    if (!strcmp(s, "inet")) return AF_INET;
    if (!strcmp(s, "inet6")) return AF_INET6;
    if (!strcmp(s, "unix")) return AF_UNIX;
    if (!strcmp(s, "netlink")) return AF_NETLINK;
    if (!strcmp(s, "packet")) return AF_PACKET;
    return atoi(s);
}

static int type_of(const char *s) {
    int t = 0;
    if (strstr(s, "stream")) t = SOCK_STREAM;
    else if (strstr(s, "seqpacket")) t = SOCK_SEQPACKET;
    else if (strstr(s, "dgram")) t = SOCK_DGRAM;
    else if (strstr(s, "raw")) t = SOCK_RAW;
    if (strstr(s, "+nonblock")) t |= SOCK_NONBLOCK;
    if (strstr(s, "+cloexec")) t |= SOCK_CLOEXEC;
    return t;
}

static void print_peer(int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int rc = getpeername(fd, (struct sockaddr *)&ss, &len);
    if (rc != 0) {
        printf("peer=error errno=%d\n", errno);
        return;
    }
    char text[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
        port = ntohs(in->sin_port);
    } else if (ss.ss_family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
        port = ntohs(in6->sin6_port);
    }
    printf("peer=%s port=%d len=%u\n", text, port, (unsigned)len);
}

static int cmd_connect(int argc, char **argv) {
    const char *ip = argv[2];
    int port = atoi(argv[3]);
    int nonblock = 0, cloexec = 0, v6sock = 0, again = 0, badfd = 0, udp = 0, peerchecks = 0;
    int readn = 0, forced_len = -1;
    const char *to_write = NULL;
    for (int i = 4; i < argc; i++) {
        if (!strcmp(argv[i], "nonblock")) nonblock = 1;
        else if (!strcmp(argv[i], "cloexec")) cloexec = 1;
        else if (!strcmp(argv[i], "v6sock")) v6sock = 1;
        else if (!strcmp(argv[i], "again")) again = 1;
        else if (!strcmp(argv[i], "badfd")) badfd = 1;
        else if (!strcmp(argv[i], "udp")) udp = 1;
        else if (!strcmp(argv[i], "peerchecks")) peerchecks = 1;
        else if (!strncmp(argv[i], "read=", 5)) readn = atoi(argv[i] + 5);
        else if (!strncmp(argv[i], "write=", 6)) to_write = argv[i] + 6;
        else if (!strncmp(argv[i], "len=", 4)) forced_len = atoi(argv[i] + 4);
    }
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t len;
    int family;
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        inet_pton(AF_INET6, ip, &in6->sin6_addr);
        len = sizeof *in6;
        family = AF_INET6;
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons(port);
        inet_pton(AF_INET, ip, &in->sin_addr);
        len = sizeof *in;
        family = AF_INET;
    }
    if (v6sock) family = AF_INET6;
    if (forced_len >= 0) len = forced_len;
    int type = (udp ? SOCK_DGRAM : SOCK_STREAM) | (nonblock ? SOCK_NONBLOCK : 0) | (cloexec ? SOCK_CLOEXEC : 0);
    int fd = badfd ? 999 : socket(family, type, 0);
    if (fd < 0) { report("socket", fd); return 0; }
    int rc = connect(fd, (struct sockaddr *)&ss, len);
    report("connect", rc);
    if (rc == 0 && !udp) {
        int fl = fcntl(fd, F_GETFL), fdfl = fcntl(fd, F_GETFD);
        printf("nonblock=%d cloexec=%d\n", !!(fl & O_NONBLOCK), !!(fdfl & FD_CLOEXEC));
        print_peer(fd);
    }
    if (again) report("again", connect(fd, (struct sockaddr *)&ss, len));
    if (peerchecks) {
        socklen_t plen = sizeof ss;
        report("peer_null_addr", getpeername(fd, NULL, &plen));
        report("peer_null_len", getpeername(fd, (struct sockaddr *)&ss, NULL));
    }
    if (rc == 0 && to_write) {
        if (write(fd, to_write, strlen(to_write)) < 0) report("write", -1);
    }
    if (rc == 0 && readn > 0) {
        char *buf = calloc(1, readn + 1);
        int got = 0;
        if (nonblock) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
        while (got < readn) {
            ssize_t n = read(fd, buf + got, readn - got);
            if (n <= 0) break;
            got += n;
        }
        printf("data=%s\n", buf);
        free(buf);
    }
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) return 2;
    const char *cmd = argv[1];
    if (!strcmp(cmd, "socket") && argc == 4) {
        int fd = socket(domain_of(argv[2]), type_of(argv[3]), 0);
        report("socket", fd);
    } else if (!strcmp(cmd, "socketpair") && argc == 3) {
        int sv[2];
        report("socketpair", socketpair(domain_of(argv[2]), SOCK_STREAM, 0, sv));
    } else if (!strcmp(cmd, "connect") && argc >= 4) {
        return cmd_connect(argc, argv);
    } else if (!strcmp(cmd, "connect-unix") && argc == 3) {
        int fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        strncpy(un.sun_path, argv[2], sizeof un.sun_path - 1);
        report("connect", connect(fd, (struct sockaddr *)&un, sizeof un));
    } else if (!strcmp(cmd, "peer-pipe") || !strcmp(cmd, "peer-unconnected")) {
        int fd, p[2];
        if (!strcmp(cmd, "peer-pipe")) { pipe(p); fd = p[0]; }
        else fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        report("peer", getpeername(fd, (struct sockaddr *)&ss, &len));
    } else if (!strcmp(cmd, "connect-null")) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        report("connect", connect(fd, NULL, 0));
    } else {
        fprintf(stderr, "sock: bad command\n");
        return 2;
    }
    return 0;
}
