/* res_* probe for the preload tests.
 *
 *   res query FUNC NAME TYPE [CLASS]   FUNC: res_query res_search __res_query res_nquery
 *                                            res_nsearch res_querydomain(NAME=name,domain)
 *   res send FUNC NAME TYPE [ANSLEN]    FUNC: res_send res_nsend; the query has ID 0x4242
 *   res garbage                         res_send of a response message (not a query)
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <arpa/inet.h>
#include <arpa/nameser.h>
#include <errno.h>
#include <netdb.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int type_of(const char *s) {
    if (!strcmp(s, "A")) return ns_t_a;
    if (!strcmp(s, "AAAA")) return ns_t_aaaa;
    if (!strcmp(s, "PTR")) return ns_t_ptr;
    if (!strcmp(s, "MX")) return ns_t_mx;
    if (!strcmp(s, "TXT")) return ns_t_txt;
    if (!strcmp(s, "SRV")) return ns_t_srv;
    return atoi(s);
}

static void describe(const unsigned char *msg, int len) {
    ns_msg handle;
    if (ns_initparse(msg, len, &handle) != 0) {
        printf("parse=error\n");
        return;
    }
    printf("parse=ok id=%u rcode=%d ancount=%d qdcount=%d\n", ns_msg_id(handle),
           ns_msg_getflag(handle, ns_f_rcode), ns_msg_count(handle, ns_s_an),
           ns_msg_count(handle, ns_s_qd));
    ns_rr rr;
    if (ns_msg_count(handle, ns_s_an) > 0 && ns_parserr(&handle, ns_s_an, 0, &rr) == 0) {
        char text[1025] = "?";
        if (ns_rr_type(rr) == ns_t_a) inet_ntop(AF_INET, ns_rr_rdata(rr), text, sizeof text);
        else if (ns_rr_type(rr) == ns_t_aaaa) inet_ntop(AF_INET6, ns_rr_rdata(rr), text, sizeof text);
        else if (ns_rr_type(rr) == ns_t_ptr)
            ns_name_uncompress(ns_msg_base(handle), ns_msg_end(handle), ns_rr_rdata(rr), text, sizeof text);
        printf("answer_type=%d ttl=%u rdata=%s owner=%s\n", ns_rr_type(rr), ns_rr_ttl(rr), text, ns_rr_name(rr));
    }
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 2) return 2;
    unsigned char answer[4096];
    struct __res_state state;
    memset(&state, 0, sizeof state);
    res_ninit(&state);
    if (!strcmp(argv[1], "query") && argc >= 5) {
        const char *func = argv[2];
        int type = type_of(argv[4]);
        int class = argc > 5 ? atoi(argv[5]) : ns_c_in;
        int rc;
        state.res_h_errno = -77;
        if (!strcmp(func, "res_query")) rc = res_query(argv[3], class, type, answer, sizeof answer);
        else if (!strcmp(func, "__res_query")) {
            /* The old name exists only as a versioned symbol; look it up as a
             * program linked against an older glibc would find it. */
            int (*old)(const char *, int, int, unsigned char *, int) =
                (int (*)(const char *, int, int, unsigned char *, int))dlsym(RTLD_DEFAULT, "__res_query");
            if (!old) return 3;
            rc = old(argv[3], class, type, answer, sizeof answer);
        }
        else if (!strcmp(func, "res_search")) rc = res_search(argv[3], class, type, answer, sizeof answer);
        else if (!strcmp(func, "res_nquery")) rc = res_nquery(&state, argv[3], class, type, answer, sizeof answer);
        else if (!strcmp(func, "res_nsearch")) rc = res_nsearch(&state, argv[3], class, type, answer, sizeof answer);
        else if (!strcmp(func, "res_querydomain")) {
            char name[256];
            snprintf(name, sizeof name, "%s", argv[3]);
            char *comma = strchr(name, ',');
            *comma = 0;
            rc = res_querydomain(name, comma + 1, class, type, answer, sizeof answer);
        } else return 2;
        printf("rc=%d h_errno=%d res_h_errno=%d\n", rc, h_errno, state.res_h_errno);
        if (rc > 0) describe(answer, rc);
    } else if (!strcmp(argv[1], "send") && argc >= 5) {
        unsigned char q[512];
        int qlen = res_mkquery(ns_o_query, argv[3], ns_c_in, type_of(argv[4]), NULL, 0, NULL, q, sizeof q);
        q[0] = 0x42;
        q[1] = 0x42;
        int anslen = argc > 5 ? atoi(argv[5]) : (int)sizeof answer;
        int rc = !strcmp(argv[2], "res_nsend") ? res_nsend(&state, q, qlen, answer, anslen)
                                               : res_send(q, qlen, answer, anslen);
        printf("rc=%d errno=%d h_errno=%d\n", rc, rc < 0 ? errno : 0, h_errno);
        if (rc > 0) describe(answer, rc);
    } else if (!strcmp(argv[1], "garbage")) {
        unsigned char q[512];
        int qlen = res_mkquery(ns_o_query, "example.com", ns_c_in, ns_t_a, NULL, 0, NULL, q, sizeof q);
        q[2] |= 0x80; /* QR: a response, not a query */
        int rc = res_send(q, qlen, answer, sizeof answer);
        printf("rc=%d errno=%d h_errno=%d\n", rc, rc < 0 ? errno : 0, h_errno);
    } else {
        return 2;
    }
    return 0;
}
