/* Probe for the preload tests: sends, receives, inbound sockets, syscall(), execve()
 * and descriptor duplication. One scripted scenario per run, results as key=value.
 *
 *   misc udp IP PORT MODE        MODE: sendto sendto-null sendmsg sendmmsg (UDP socket)
 *   misc fastopen IP PORT TEXT   sendto(MSG_FASTOPEN) on TCP, then read the echo
 *   misc fastopen-msg IP PORT TEXT
 *   misc listen ADDR             ADDR: IPv4/IPv6 text, "unbound", "unix"
 *   misc accept MODE             MODE: localhost4 (pending connection) unbound
 *   misc recvmsg WHAT            WHAT: inet6 inet pipe unix empty dontwait notsock tcp
 *   misc syscall WHAT            WHAT: socket-dgram connect-localhost sendto getpid bind accept
 *   misc execve PATH
 *   misc dups IP PORT            torified fd, then dup family; close the original
 *   misc reuse IP PORT           close / close_range and reuse of a torified fd number
 *   misc isolate IP PORT         connect, fork, connect in the child too; print both pids
 *   misc onion NAME PORT         gethostbyname(NAME), connect to the cookie, getpeername
 *   misc forkstress IP PORT      fork repeatedly while another thread works the registry
 *   misc closelog PATH           close stderr, open PATH (it gets fd 2), provoke a warning
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
#include <sys/syscall.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *what, long rc) {
    printf("%s=%ld errno=%d\n", what, rc, rc < 0 ? errno : 0);
}

static socklen_t make_addr(struct sockaddr_storage *ss, const char *ip, int port) {
    memset(ss, 0, sizeof *ss);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        inet_pton(AF_INET6, ip, &in6->sin6_addr);
        return sizeof *in6;
    }
    struct sockaddr_in *in = (struct sockaddr_in *)ss;
    in->sin_family = AF_INET;
    in->sin_port = htons(port);
    inet_pton(AF_INET, ip, &in->sin_addr);
    return sizeof *in;
}

static void print_peer(const char *key, int fd) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getpeername(fd, (struct sockaddr *)&ss, &len) != 0) {
        printf("%s=error errno=%d\n", key, errno);
        return;
    }
    char text[INET6_ADDRSTRLEN] = "?";
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, text, sizeof text);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, text, sizeof text);
    printf("%s=%s\n", key, text);
}

static int udp(int argc, char **argv) {
    struct sockaddr_storage ss;
    socklen_t len = make_addr(&ss, argv[2], atoi(argv[3]));
    const char *mode = argv[4];
    int fd = socket(ss.ss_family, SOCK_DGRAM, 0);
    if (fd < 0) { report("socket", fd); return 0; }
    char payload[] = "datagram";
    struct iovec iov = { payload, sizeof payload - 1 };
    struct msghdr msg = { .msg_name = &ss, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1 };
    if (!strcmp(mode, "sendto")) {
        report("send", sendto(fd, payload, 8, 0, (struct sockaddr *)&ss, len));
    } else if (!strcmp(mode, "sendto-null")) {
        report("connect", connect(fd, (struct sockaddr *)&ss, len));
        report("send", sendto(fd, payload, 8, 0, NULL, 0));
    } else if (!strcmp(mode, "sendmsg")) {
        report("send", sendmsg(fd, &msg, 0));
    } else if (!strcmp(mode, "sendmmsg")) {
        struct sockaddr_storage local;
        socklen_t llen = make_addr(&local, "127.0.0.1", atoi(argv[3]));
        struct mmsghdr vec[2];
        memset(vec, 0, sizeof vec);
        vec[0].msg_hdr = msg;
        vec[0].msg_hdr.msg_name = &local;
        vec[0].msg_hdr.msg_namelen = llen;
        vec[1].msg_hdr = msg;
        report("send", sendmmsg(fd, vec, 2, 0));
    }
    return 0;
}

static int fastopen(char **argv, int use_msg) {
    struct sockaddr_storage ss;
    socklen_t len = make_addr(&ss, argv[2], atoi(argv[3]));
    int fd = socket(ss.ss_family, SOCK_STREAM, 0);
    const char *text = argv[4];
    long rc;
    if (use_msg) {
        struct iovec iov = { (void *)text, strlen(text) };
        struct msghdr msg = { .msg_name = &ss, .msg_namelen = len, .msg_iov = &iov, .msg_iovlen = 1 };
        rc = sendmsg(fd, &msg, MSG_FASTOPEN);
    } else {
        rc = sendto(fd, text, strlen(text), MSG_FASTOPEN, (struct sockaddr *)&ss, len);
    }
    report("send", rc);
    if (rc > 0) {
        char buf[256] = "";
        ssize_t got = 0, n;
        while (got < rc && (n = read(fd, buf + got, rc - got)) > 0) got += n;
        printf("echo=%s\n", buf);
    }
    return 0;
}

static int do_listen(const char *what) {
    int fd;
    if (!strcmp(what, "unix")) {
        fd = socket(AF_UNIX, SOCK_STREAM, 0);
        struct sockaddr_un un = { .sun_family = AF_UNIX };
        snprintf(un.sun_path, sizeof un.sun_path, "/tmp/tsrs-listen-%d", getpid());
        unlink(un.sun_path);
        bind(fd, (struct sockaddr *)&un, sizeof un);
        report("listen", listen(fd, 1));
        unlink(un.sun_path);
        return 0;
    }
    if (!strcmp(what, "unbound")) {
        fd = socket(AF_INET, SOCK_STREAM, 0);
        report("listen", listen(fd, 1));
        return 0;
    }
    struct sockaddr_storage ss;
    socklen_t len = make_addr(&ss, what, 0);
    fd = socket(ss.ss_family, SOCK_STREAM, 0);
    if (fd < 0) { report("socket", fd); return 0; }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) { report("bind", -1); return 0; }
    report("listen", listen(fd, 1));
    return 0;
}

static int local_listener(int *port) {
    struct sockaddr_in in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t len = sizeof in;
    bind(fd, (struct sockaddr *)&in, sizeof in);
    if (listen(fd, 4) != 0) return -1;
    getsockname(fd, (struct sockaddr *)&in, &len);
    *port = ntohs(in.sin_port);
    return fd;
}

static int do_accept(const char *mode) {
    if (!strcmp(mode, "unbound")) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        report("accept", accept(fd, NULL, NULL));
        report("accept4", accept4(fd, NULL, NULL, SOCK_CLOEXEC));
        return 0;
    }
    int port, lfd = local_listener(&port);
    if (lfd < 0) { report("listen", -1); return 0; }
    for (int i = 0; i < 2; i++) {
        /* A client from AF_UNIX-free, direct loopback: needs AllowOutboundLocalhost 1. */
        int c = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (connect(c, (struct sockaddr *)&to, sizeof to) != 0) { report("client", -1); return 0; }
    }
    report("accept", accept(lfd, NULL, NULL));
    report("accept4", accept4(lfd, NULL, NULL, SOCK_CLOEXEC));
    return 0;
}

static int send_fd(int sock, int passed) {
    char byte = 'x';
    struct iovec iov = { &byte, 1 };
    char control[CMSG_SPACE(sizeof(int))];
    memset(control, 0, sizeof control);
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &passed, sizeof(int));
    return sendmsg(sock, &msg, 0);
}

static int lowest_free_fd(void) {
    int fd = dup(0);
    close(fd);
    return fd;
}

static int do_recvmsg(const char *what) {
    int sv[2];
    char byte;
    struct iovec iov = { &byte, 1 };
    char control[256];
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control, .msg_controllen = sizeof control };
    if (!strcmp(what, "notsock")) {
        int p[2];
        pipe(p);
        report("recvmsg", recvmsg(p[0], &msg, 0));
        return 0;
    }
    if (!strcmp(what, "tcp")) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        report("recvmsg", recvmsg(fd, &msg, 0));
        return 0;
    }
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    if (!strcmp(what, "empty")) {
        fcntl(sv[1], F_SETFL, O_NONBLOCK);
        report("recvmsg", recvmsg(sv[1], &msg, 0));
        return 0;
    }
    if (!strcmp(what, "dontwait")) {
        report("recvmsg", recvmsg(sv[1], &msg, MSG_DONTWAIT));
        return 0;
    }
    int passed;
    if (!strcmp(what, "inet")) passed = socket(AF_INET, SOCK_STREAM, 0);
    else if (!strcmp(what, "inet6")) passed = socket(AF_INET6, SOCK_STREAM, 0);
    else if (!strcmp(what, "pipe")) { int p[2]; pipe(p); passed = p[0]; }
    else { int u[2]; socketpair(AF_UNIX, SOCK_STREAM, 0, u); passed = u[0]; }
    if (passed < 0) { report("socket", passed); return 0; }
    send_fd(sv[0], passed);
    close(passed);
    int before = lowest_free_fd();
    long rc = recvmsg(sv[1], &msg, 0);
    report("recvmsg", rc);
    if (rc > 0) {
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        int got = -1;
        if (c && c->cmsg_type == SCM_RIGHTS) memcpy(&got, CMSG_DATA(c), sizeof got);
        printf("received_fd=%d valid=%d\n", got, got >= 0 && fcntl(got, F_GETFD) >= 0);
        if (got >= 0) close(got);
    } else {
        printf("lowest_free_before=%d lowest_free_after=%d\n", before, lowest_free_fd());
        /* The message is still queued: a plain recv reads its byte. */
        char b = 0;
        long n = recv(sv[1], &b, 1, MSG_DONTWAIT);
        printf("still_queued=%d\n", n == 1 && b == 'x');
    }
    return 0;
}

static int do_syscall(const char *what) {
    if (!strcmp(what, "socket-dgram")) {
        report("syscall", syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0));
    } else if (!strcmp(what, "connect-localhost")) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_storage ss;
        socklen_t len = make_addr(&ss, "127.0.0.1", 80);
        report("syscall", syscall(SYS_connect, fd, &ss, len));
    } else if (!strcmp(what, "sendto")) {
        int fd = socket(AF_INET, SOCK_DGRAM, 0);
        struct sockaddr_storage ss;
        socklen_t len = make_addr(&ss, "192.0.2.1", 53);
        report("syscall", syscall(SYS_sendto, fd, "x", 1, 0, &ss, len));
    } else if (!strcmp(what, "getpid")) {
        long rc = syscall(SYS_getpid);
        printf("match=%d\n", rc == getpid());
    } else if (!strcmp(what, "bind")) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_storage ss;
        socklen_t len = make_addr(&ss, "127.0.0.1", 0);
        report("syscall", syscall(SYS_bind, fd, &ss, len));
    } else if (!strcmp(what, "accept")) {
        int port, lfd = local_listener(&port);
        int c = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (connect(c, (struct sockaddr *)&to, sizeof to) != 0) { report("client", -1); return 0; }
        struct sockaddr_in from;
        socklen_t len = sizeof from;
        memset(&from, 0, sizeof from);
        report("syscall", syscall(SYS_accept, lfd, &from, &len));
        char text[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &from.sin_addr, text, sizeof text);
        printf("from=%s len=%u family=%d\n", text, (unsigned)len, from.sin_family);
    }
    return 0;
}

static int dups(char **argv) {
    struct sockaddr_storage ss;
    socklen_t len = make_addr(&ss, argv[2], atoi(argv[3]));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    report("connect", connect(fd, (struct sockaddr *)&ss, len));
    int d1 = dup(fd);
    int d2 = dup2(fd, 100);
    int d3 = dup3(fd, 101, O_CLOEXEC);
    int d4 = fcntl(fd, F_DUPFD, 200);
    int d5 = fcntl(fd, F_DUPFD_CLOEXEC, 300);
    close(fd);
    print_peer("dup", d1);
    print_peer("dup2", d2);
    print_peer("dup3", d3);
    print_peer("dupfd", d4);
    print_peer("dupfd_cloexec", d5);
    return 0;
}

static int reuse(char **argv) {
    struct sockaddr_storage ss;
    socklen_t len = make_addr(&ss, argv[2], atoi(argv[3]));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    report("connect", connect(fd, (struct sockaddr *)&ss, len));
    close(fd);
    /* The same number, now a local connection of our own. */
    int again = socket(AF_INET, SOCK_STREAM, 0);
    int port, lfd = local_listener(&port);
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    printf("same_number=%d\n", again == fd);
    report("local", connect(again, (struct sockaddr *)&to, sizeof to));
    print_peer("peer_after_close", again);
    close(again);
    close(lfd);
    /* close_range bypasses close(): the stale entry must not cause EISCONN. */
    int t = socket(AF_INET, SOCK_STREAM, 0);
    report("connect2", connect(t, (struct sockaddr *)&ss, len));
    syscall(SYS_close_range, t, t, 0);
    int t2 = socket(AF_INET, SOCK_STREAM, 0);
    printf("same_number2=%d\n", t2 == t);
    report("connect3", connect(t2, (struct sockaddr *)&ss, len));
    return 0;
}

static int isolate(char **argv) {
    struct sockaddr_storage ss;
    socklen_t len = make_addr(&ss, argv[2], atoi(argv[3]));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    report("parent", connect(fd, (struct sockaddr *)&ss, len));
    printf("parent_pid=%d\n", getpid());
    pid_t child = fork();
    if (child == 0) {
        int cfd = socket(AF_INET, SOCK_STREAM, 0);
        report("child", connect(cfd, (struct sockaddr *)&ss, len));
        printf("child_pid=%d\n", getpid());
        fflush(stdout);
        _exit(0);
    }
    waitpid(child, NULL, 0);
    return 0;
}

static int onion(char **argv) {
    struct hostent *h = gethostbyname(argv[2]);
    if (!h) { printf("hostent=null h_errno=%d\n", h_errno); return 0; }
    char text[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, h->h_addr_list[0], text, sizeof text);
    printf("cookie=%s\n", text);
    struct sockaddr_storage ss;
    socklen_t len = make_addr(&ss, text, atoi(argv[3]));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    report("connect", connect(fd, (struct sockaddr *)&ss, len));
    print_peer("peer", fd);
    /* An address of the range that was never handed out is just localhost. */
    int other = socket(AF_INET, SOCK_STREAM, 0);
    len = make_addr(&ss, "127.42.42.200", atoi(argv[3]));
    report("unallocated", connect(other, (struct sockaddr *)&ss, len));
    return 0;
}

static volatile int stop_worker;

static void *registry_worker(void *arg) {
    int fd = *(int *)arg;
    while (!stop_worker) {
        int d = dup(fd);
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        getpeername(d, (struct sockaddr *)&ss, &len);
        close(d);
    }
    return NULL;
}

static int forkstress(char **argv) {
    struct sockaddr_storage ss;
    socklen_t len = make_addr(&ss, argv[2], atoi(argv[3]));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    report("connect", connect(fd, (struct sockaddr *)&ss, len));
    pthread_t worker;
    pthread_create(&worker, NULL, registry_worker, &fd);
    int done = 0;
    for (int i = 0; i < 200; i++) {
        pid_t child = fork();
        if (child == 0) {
            /* Would hang here if a torsocks lock was inherited held. */
            alarm(5);
            int d = dup(fd);
            close(d);
            _exit(0);
        }
        int status = 0;
        waitpid(child, &status, 0);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) break; /* a child hung */
        done++;
    }
    stop_worker = 1;
    pthread_join(worker, NULL);
    printf("forks=%d\n", done);
    return 0;
}

static int closelog_probe(const char *path) {
    close(2);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    printf("reused=%d\n", fd == 2);
    /* Would log a WARNING ("local address") on the old stderr. */
    struct sockaddr_storage ss;
    socklen_t len = make_addr(&ss, "127.0.0.1", 80);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    report("connect", connect(s, (struct sockaddr *)&ss, len));
    if (write(fd, "mine\n", 5) != 5) return 1;
    close(fd);
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) return 2;
    const char *cmd = argv[1];
    if (!strcmp(cmd, "udp") && argc == 5) return udp(argc, argv);
    if (!strcmp(cmd, "fastopen") && argc == 5) return fastopen(argv, 0);
    if (!strcmp(cmd, "fastopen-msg") && argc == 5) return fastopen(argv, 1);
    if (!strcmp(cmd, "listen")) return do_listen(argv[2]);
    if (!strcmp(cmd, "accept")) return do_accept(argv[2]);
    if (!strcmp(cmd, "recvmsg")) return do_recvmsg(argv[2]);
    if (!strcmp(cmd, "syscall")) return do_syscall(argv[2]);
    if (!strcmp(cmd, "execve")) {
        char *args[] = { argv[2], NULL };
        char *env[] = { NULL };
        report("execve", execve(argv[2], args, env));
        return 0;
    }
    if (!strcmp(cmd, "dups") && argc == 4) return dups(argv);
    if (!strcmp(cmd, "reuse") && argc == 4) return reuse(argv);
    if (!strcmp(cmd, "isolate") && argc == 4) return isolate(argv);
    if (!strcmp(cmd, "onion") && argc == 4) return onion(argv);
    if (!strcmp(cmd, "forkstress") && argc == 4) return forkstress(argv);
    if (!strcmp(cmd, "closelog") && argc == 3) return closelog_probe(argv[2]);
    fprintf(stderr, "misc: bad command\n");
    return 2;
}
