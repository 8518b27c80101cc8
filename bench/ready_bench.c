/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The readiness tracker alone (src/ready), as evercert serve uses it:
 * reports from N distinct addresses (the table fills to its cap, then
 * every new address forgets the least recently seen), then the same
 * addresses again (lookups that hit), then counts at the cap. Prints the
 * bytes one entry takes (its struct, and what the process grew by per
 * entry, allocator and buckets included), the peak RSS, ns per report and
 * ms per count.
 *
 *   ready_bench [ENTRIES [CAP]]   (default 131072 reports into a cap of 65536)
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>

#include "evercert/ready.h"
#include "ready/ready_int.h"

static double
now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Resident set now, in KiB (from /proc/self/statm). */
static long
rss_kib(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f != NULL) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) {
            resident = 0;
        }
        fclose(f);
    }
    return resident * 4;
}

static void
addr_of(size_t i, struct sockaddr_in *in)
{
    memset(in, 0, sizeof(*in));
    in->sin_family = AF_INET;
    in->sin_addr.s_addr = htonl((uint32_t)(0x0a000000u + i)); /* 10.0.0.0/8 */
}

int
main(int argc, char **argv)
{
    size_t n = argc > 1 ? strtoul(argv[1], NULL, 10) : 131072;
    size_t cap = argc > 2 ? strtoul(argv[2], NULL, 10) : 65536;
    struct evc_ready_opts o = {0, cap, 0};
    struct evc_ready *r = NULL;
    struct evc_ready_summary s;
    struct evc_err err = {0};
    struct sockaddr_in in;
    struct rusage ru;
    long rss0, rss1;
    double t0, t_new, t_hit, t_count;
    const evc_time at = 1796083200;

    rss0 = rss_kib();
    if (n == 0 || cap == 0 || evc_ready_new(&r, &o, &err) != 0) {
        fprintf(stderr, "ready_bench: %s\n", evc_err_message(&err));
        return 1;
    }
    t0 = now_s();
    for (size_t i = 0; i < n; i++) {
        addr_of(i, &in);
        evc_ready_observe(r, (struct sockaddr *)&in, i % 3 == 0 ? "agent" : NULL, i % 7,
                          EVC_READY_HELLO, at + (evc_time)(i / 1000));
    }
    t_new = now_s() - t0;
    rss1 = rss_kib();
    t0 = now_s();
    for (size_t i = n - (n < cap ? n : cap); i < n; i++) {
        addr_of(i, &in);
        evc_ready_observe(r, (struct sockaddr *)&in, i % 3 == 0 ? "agent" : NULL, 6, EVC_READY_ACK,
                          at + (evc_time)(n / 1000));
    }
    t_hit = now_s() - t0;
    t0 = now_s();
    for (int k = 0; k < 10; k++) {
        evc_ready_count(r, 6, at + (evc_time)(n / 1000) + 1, &s);
    }
    t_count = (now_s() - t0) / 10;
    getrusage(RUSAGE_SELF, &ru);
    printf("entries %zu (cap %zu, %llu forgotten), clients %zu, ready %zu\n", s.entries, cap,
           (unsigned long long)s.forgotten, s.clients, s.ready);
    printf("entry struct %zu bytes; process grew %.0f bytes per entry (allocator and buckets "
           "included); peak RSS %ld KiB\n",
           evc_ready_entry_size(), (double)(rss1 - rss0) * 1024.0 / (double)s.entries,
           ru.ru_maxrss);
    printf("observe: %.0f ns per report (new address, %s), %.0f ns (address seen)\n",
           t_new * 1e9 / (double)n, n > cap ? "past the cap: forgetting" : "filling",
           t_hit * 1e9 / (double)(n < cap ? n : cap));
    printf("count at the cap: %.1f ms\n", t_count * 1e3);
    evc_ready_free(r);
    return 0;
}
