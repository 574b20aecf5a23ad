/*
 * bench_modbus_poll: 10,000 holding-register tags read from a loopback Modbus TCP server
 * (tw_mbserver, built on libmodbus), by
 *   1. a plain libmodbus client loop reading the same 125-register blocks (the reference),
 *   2. naive per-tag libmodbus reads (one request per tag; what coalescing avoids),
 *   3. tagwire tw_device_read() of all tags (coalesced), without and with pipelining.
 * Prints tags/s, requests/s, time per request, CPU (getrusage) and RSS, and the ratios.
 * Usage: bench_modbus_poll [rounds (default 100)] [tags (default 10000)]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <modbus.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "tagwire/adapter.h"

extern char **environ;

#define REPS 7

typedef struct phase {
    const char *name;
    double secs, cpu;
    uint64_t requests, tags;
    long rss_kb;
} phase;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double cpu_s(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + (double)r.ru_utime.tv_usec / 1e6 + (double)r.ru_stime.tv_sec +
           (double)r.ru_stime.tv_usec / 1e6;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    long pages = 0, res = 0;
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &res) != 2) res = 0;
        fclose(f);
    }
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static uint16_t free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &l);
    close(fd);
    return ntohs(a.sin_port);
}

static void report(const phase *p)
{
    printf("%-34s %8.3f s %12.0f tags/s %10.0f req/s %8.2f us/req  cpu %6.3f s (%3.0f%%)  rss %6ld KiB\n", p->name,
           p->secs, (double)p->tags / p->secs, (double)p->requests / p->secs, p->secs * 1e6 / (double)p->requests,
           p->cpu, 100.0 * p->cpu / p->secs, p->rss_kb);
}

int main(int argc, char **argv)
{
    int rounds = argc > 1 ? atoi(argv[1]) : 100;
    int ntags = argc > 2 ? atoi(argv[2]) : 10000;
    if (rounds < 1 || ntags < 1 || ntags > 20000) {
        fprintf(stderr, "usage: %s [rounds] [tags<=20000]\n", argv[0]);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    uint16_t port = free_port();
    char ps[16];
    snprintf(ps, sizeof ps, "%u", (unsigned)port);
    char *sargv[] = {(char *)TW_MBSERVER, "--port", ps, NULL};
    pid_t srv;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", 0x1 /* O_WRONLY */, 0);
    if (posix_spawn(&srv, TW_MBSERVER, &fa, NULL, sargv, environ) != 0) {
        perror("spawn server");
        return 1;
    }
    posix_spawn_file_actions_destroy(&fa);
    modbus_t *mb = modbus_new_tcp("127.0.0.1", port);
    int up = 0;
    for (int i = 0; i < 200 && !up; i++) {
        if (modbus_connect(mb) == 0) up = 1;
        else usleep(20000);
    }
    if (!up) {
        fprintf(stderr, "server did not come up\n");
        kill(srv, SIGKILL);
        return 1;
    }
    int nblocks = (ntags + 124) / 125;
    printf("bench_modbus_poll: %d holding-register tags (UINT16, offsets 0..%d), %d rounds per run, %d blocks of "
           "<=125 registers, loopback libmodbus %s server; %d runs per variant, interleaved; best run shown\n\n",
           ntags, ntags - 1, rounds, nblocks, LIBMODBUS_VERSION_STRING, REPS);
    uint16_t regs[125];
    uint64_t sum_ref = 0;
    for (int b = 0; b < nblocks; b++) {
        int start = b * 125, n = ntags - start < 125 ? ntags - start : 125;
        if (modbus_read_registers(mb, start, n, regs) != n) {
            fprintf(stderr, "libmodbus read: %s\n", modbus_strerror(errno));
            kill(srv, SIGKILL);
            return 1;
        }
        for (int i = 0; i < n; i++) sum_ref += regs[i];
    }

    tw_init_params ip = TW_INIT_PARAMS_INIT;
    ip.log_level = TW_LOG_ERROR;
    tw_init(&ip);
    static const char *const tv_name[] = {"tagwire, coalesced", "tagwire, coalesced, pipeline=4", "tagwire, coalesced, pipeline=16"};
    static const char *const tv_query[] = {"pipeline=1", "pipeline=4", "pipeline=16"};
    enum { NTV = 3 };
    tw_device *dev[NTV];
    uint32_t *ids = malloc((size_t)ntags * sizeof *ids);
    tw_sample *s = malloc((size_t)ntags * sizeof *s);
    for (int v = 0; v < NTV; v++) {
        char uri[128];
        snprintf(uri, sizeof uri, "modbus+tcp://127.0.0.1:%u?%s", (unsigned)port, tv_query[v]);
        if (tw_device_open(&dev[v], uri, NULL) != TW_OK) {
            fprintf(stderr, "%s\n", tw_last_error());
            return 1;
        }
        char a[32];
        for (int i = 0; i < ntags; i++) {
            snprintf(a, sizeof a, i > 9999 ? "holding-register:0x%X" : "holding-register:%d", i);
            uint32_t id;
            if (tw_device_add_item(dev[v], &id, a) != TW_OK) {
                fprintf(stderr, "add %s: %s\n", a, tw_device_last_error(dev[v]));
                return 1;
            }
            ids[i] = id;
        }
        if (tw_device_read(dev[v], ids, (size_t)ntags, s) != TW_OK) { /* connect + plan outside the timing */
            fprintf(stderr, "tagwire read: %s\n", tw_device_last_error(dev[v]));
            return 1;
        }
        uint64_t sum = 0;
        for (int i = 0; i < ntags; i++) sum += s[i].value.as.u;
        if (sum != sum_ref) {
            fprintf(stderr, "tagwire read different values (sum %llu vs %llu)\n", (unsigned long long)sum,
                    (unsigned long long)sum_ref);
            return 1;
        }
    }

    enum { NPH = 2 + NTV };
    phase best[NPH];
    memset(best, 0, sizeof best);
    const char *names[NPH] = {"libmodbus, 125-register blocks", "libmodbus, naive one request/tag", tv_name[0], tv_name[1], tv_name[2]};
    for (int rep = 0; rep < REPS; rep++) {
        for (int k = 0; k < NPH; k++) {
            int p = (k + rep) % NPH; /* rotate the order: no variant always runs first or last */
            double c0 = cpu_s(), t0 = now_s();
            uint64_t reqs = 0, tags = 0;
            if (p == 0) {
                for (int r = 0; r < rounds; r++)
                    for (int b = 0; b < nblocks; b++) {
                        int start = b * 125, n = ntags - start < 125 ? ntags - start : 125;
                        if (modbus_read_registers(mb, start, n, regs) != n) return 1;
                    }
                reqs = (uint64_t)rounds * nblocks;
                tags = (uint64_t)rounds * ntags;
            } else if (p == 1) {
                int n = ntags < 2000 ? ntags : 2000; /* one request per tag; a slice is enough */
                for (int i = 0; i < n; i++)
                    if (modbus_read_registers(mb, i, 1, regs) != 1) return 1;
                reqs = tags = (uint64_t)n;
            } else {
                tw_device *d = dev[p - 2];
                tw_device_stats st0, st1;
                memset(&st0, 0, sizeof st0);
                st0.version = TW_DEVICE_STATS_VERSION;
                st1 = st0;
                tw_device_stats_get(d, &st0);
                for (int r = 0; r < rounds; r++)
                    if (tw_device_read(d, ids, (size_t)ntags, s) != TW_OK) {
                        fprintf(stderr, "tagwire read: %s\n", tw_device_last_error(d));
                        return 1;
                    }
                tw_device_stats_get(d, &st1);
                reqs = st1.requests - st0.requests;
                tags = (uint64_t)rounds * ntags;
            }
            double secs = now_s() - t0, cpu = cpu_s() - c0;
            if (!best[p].secs || secs / (double)tags < best[p].secs / (double)best[p].tags)
                best[p] = (phase){names[p], secs, cpu, reqs, tags, rss_kb()};
        }
    }
    for (int v = 0; v < NTV; v++) tw_device_free(dev[v]);
    free(ids);
    free(s);
    tw_shutdown();
    modbus_close(mb);
    modbus_free(mb);
    kill(srv, SIGTERM);
    waitpid(srv, NULL, 0);
    phase *ph = best;
    int np = NPH;
    for (int i = 0; i < np; i++) report(&ph[i]);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("\npeak RSS of the benchmark process: %ld KiB\n", ru.ru_maxrss);
    double ref_us = ph[0].secs / (double)ph[0].requests;
    printf("\nratios (time per request relative to libmodbus; < 1.00 is faster):\n");
    for (int i = 2; i < np; i++)
        printf("  %-34s %.2fx per request, %.2fx tags/s, %.2fx CPU per tag\n", ph[i].name,
               (ph[i].secs / (double)ph[i].requests) / ref_us, ((double)ph[i].tags / ph[i].secs) / ((double)ph[0].tags / ph[0].secs),
               (ph[i].cpu / (double)ph[i].tags) / (ph[0].cpu / (double)ph[0].tags));
    printf("  %-34s %.1fx tags/s of naive per-tag reads\n", "tagwire, coalesced", ((double)ph[2].tags / ph[2].secs) / ((double)ph[1].tags / ph[1].secs));
    return 0;
}
