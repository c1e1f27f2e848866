/* Resolver probe for the preload tests: one resolver call, results as key=value.
 *
 *   resolve ghbn NAME                  gethostbyname
 *   resolve ghbn2 NAME inet|inet6      gethostbyname2
 *   resolve ghbn_r NAME BUFLEN         gethostbyname_r
 *   resolve ghba IP [inet6]            gethostbyaddr
 *   resolve ghba_r IP BUFLEN           gethostbyaddr_r
 *   resolve gai NAME|- SERVICE|- FAMILY [canon] [numeric] [stream]
 *                                      getaddrinfo; FAMILY: unspec inet inet6 unix nullhints
 *   resolve gni IP PORT HOSTLEN [namereqd] [numerichost]   getnameinfo
 *   resolve gaia NAME                  getaddrinfo_a
 *   resolve cookie NAME                gethostbyname, then gethostbyaddr and getnameinfo
 *                                      of the answer
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void print_hostent(struct hostent *h) {
    if (!h) {
        printf("hostent=null h_errno=%d\n", h_errno);
        return;
    }
    int aliases = 0, addrs = 0;
    while (h->h_aliases && h->h_aliases[aliases]) aliases++;
    while (h->h_addr_list[addrs]) addrs++;
    char text[INET6_ADDRSTRLEN] = "-";
    if (addrs) inet_ntop(h->h_addrtype, h->h_addr_list[0], text, sizeof text);
    printf("hostent=ok name=%s addrtype=%d length=%d addrs=%d addr=%s aliases=%d\n", h->h_name,
           h->h_addrtype, h->h_length, addrs, text, aliases);
}

static int family_of(const char *s) {
    if (!strcmp(s, "inet")) return AF_INET;
    if (!strcmp(s, "inet6")) return AF_INET6;
    if (!strcmp(s, "unix")) return AF_UNIX;
    return AF_UNSPEC;
}

static int has(int argc, char **argv, int from, const char *word) {
    for (int i = from; i < argc; i++)
        if (!strcmp(argv[i], word)) return 1;
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) return 2;
    const char *cmd = argv[1];
    if (!strcmp(cmd, "ghbn")) {
        print_hostent(gethostbyname(argv[2]));
    } else if (!strcmp(cmd, "ghbn2") && argc == 4) {
        print_hostent(gethostbyname2(argv[2], family_of(argv[3])));
    } else if (!strcmp(cmd, "ghbn_r") && argc == 4) {
        size_t len = atoi(argv[3]);
        char *buf = malloc(len ? len : 1);
        struct hostent ret, *result = (struct hostent *)1;
        int herr = -99;
        int rc = gethostbyname_r(argv[2], &ret, buf, len, &result, &herr);
        printf("rc=%d h_errnop=%d result=%s\n", rc, herr, result ? "set" : "null");
        if (rc == 0 && result) print_hostent(result);
    } else if (!strcmp(cmd, "ghba")) {
        unsigned char addr[16];
        int af = argc > 3 ? AF_INET6 : AF_INET;
        inet_pton(strchr(argv[2], ':') ? AF_INET6 : AF_INET, argv[2], addr);
        print_hostent(gethostbyaddr(addr, af == AF_INET ? 4 : 16, af));
    } else if (!strcmp(cmd, "ghba_r") && argc == 4) {
        unsigned char addr[4];
        inet_pton(AF_INET, argv[2], addr);
        size_t len = atoi(argv[3]);
        char *buf = malloc(len ? len : 1);
        struct hostent ret, *result = (struct hostent *)1;
        int herr = -99;
        int rc = gethostbyaddr_r(addr, 4, AF_INET, &ret, buf, len, &result, &herr);
        printf("rc=%d h_errnop=%d result=%s\n", rc, herr, result ? "set" : "null");
        if (rc == 0 && result) print_hostent(result);
    } else if (!strcmp(cmd, "gai") && argc >= 5) {
        const char *node = strcmp(argv[2], "-") ? argv[2] : NULL;
        const char *service = strcmp(argv[3], "-") ? argv[3] : NULL;
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof hints);
        hints.ai_family = family_of(argv[4]);
        if (has(argc, argv, 5, "canon")) hints.ai_flags |= AI_CANONNAME;
        if (has(argc, argv, 5, "numeric")) hints.ai_flags |= AI_NUMERICHOST;
        if (has(argc, argv, 5, "stream")) hints.ai_socktype = SOCK_STREAM;
        int rc = getaddrinfo(node, service, strcmp(argv[4], "nullhints") ? &hints : NULL, &res);
        printf("rc=%d errno=%d\n", rc, rc == EAI_SYSTEM ? errno : 0);
        for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
            char text[INET6_ADDRSTRLEN] = "?";
            int port = 0;
            if (ai->ai_family == AF_INET) {
                struct sockaddr_in *in = (struct sockaddr_in *)ai->ai_addr;
                inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
                port = ntohs(in->sin_port);
            } else if (ai->ai_family == AF_INET6) {
                struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ai->ai_addr;
                inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
                port = ntohs(in6->sin6_port);
            }
            printf("entry family=%d addr=%s port=%d socktype=%d canon=%s\n", ai->ai_family, text,
                   port, ai->ai_socktype, ai->ai_canonname ? ai->ai_canonname : "-");
        }
        if (res) freeaddrinfo(res);
    } else if (!strcmp(cmd, "gni") && argc >= 5) {
        struct sockaddr_storage ss;
        memset(&ss, 0, sizeof ss);
        socklen_t len;
        if (strchr(argv[2], ':')) {
            struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
            in6->sin6_family = AF_INET6;
            in6->sin6_port = htons(atoi(argv[3]));
            inet_pton(AF_INET6, argv[2], &in6->sin6_addr);
            len = sizeof *in6;
        } else {
            struct sockaddr_in *in = (struct sockaddr_in *)&ss;
            in->sin_family = AF_INET;
            in->sin_port = htons(atoi(argv[3]));
            inet_pton(AF_INET, argv[2], &in->sin_addr);
            len = sizeof *in;
        }
        int flags = 0;
        if (has(argc, argv, 5, "namereqd")) flags |= NI_NAMEREQD;
        if (has(argc, argv, 5, "numerichost")) flags |= NI_NUMERICHOST;
        char host[1025] = "", serv[32] = "";
        int rc = getnameinfo((struct sockaddr *)&ss, len, host, atoi(argv[4]), serv, sizeof serv,
                             flags | NI_NUMERICSERV);
        printf("rc=%d host=%s serv=%s\n", rc, rc == 0 ? host : "-", rc == 0 ? serv : "-");
    } else if (!strcmp(cmd, "cookie")) {
        struct hostent *h = gethostbyname(argv[2]);
        if (!h) { printf("hostent=null\n"); return 0; }
        unsigned char addr[4];
        memcpy(addr, h->h_addr_list[0], 4);
        struct hostent *back = gethostbyaddr(addr, 4, AF_INET);
        printf("ghba=%s\n", back ? back->h_name : "null");
        struct sockaddr_in in = { .sin_family = AF_INET, .sin_port = htons(80) };
        memcpy(&in.sin_addr, addr, 4);
        char host[1025] = "";
        int rc = getnameinfo((struct sockaddr *)&in, sizeof in, host, sizeof host, NULL, 0, NI_NAMEREQD);
        printf("gni_rc=%d gni=%s\n", rc, host);
    } else if (!strcmp(cmd, "gaia")) {
        struct gaicb cb = { .ar_name = argv[2] };
        struct gaicb *list[1] = { &cb };
        errno = 0;
        int rc = getaddrinfo_a(GAI_WAIT, list, 1, NULL);
        printf("rc=%d errno=%d\n", rc, errno);
    } else {
        fprintf(stderr, "resolve: bad command\n");
        return 2;
    }
    return 0;
}
