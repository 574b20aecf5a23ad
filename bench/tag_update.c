/* Benchmark: cost of tw_tag_set_double (with its deadband check) against a plain store of value,
 * quality and timestamp into a struct, side by side in one run; single thread and two threads
 * setting different tags. Also counts allocations made on the update path (allocator hooks).
 * Usage: bench_tag_update [iterations]   (default 20000000) */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tagwire/tag.h"

#define BARRIER() __asm__ __volatile__("" ::: "memory")
#define REPEATS 5

typedef struct plain_value {
    double v;
    uint32_t q;
    int64_t ts;
} plain_value;

/* two per cache line pair, so that the two-thread baseline does not share a line either */
typedef struct {
    _Alignas(64) plain_value pv;
    atomic_flag lock;
} padded_plain;

static atomic_long g_allocs;
static void *cnt_malloc(size_t n, void *ctx) { (void)ctx; atomic_fetch_add(&g_allocs, 1); return malloc(n); }
static void *cnt_realloc(void *p, size_t n, void *ctx) { (void)ctx; atomic_fetch_add(&g_allocs, 1); return realloc(p, n); }
static void cnt_free(void *p, void *ctx) { (void)ctx; free(p); }

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The workloads. `step` is how much the value moves per iteration; with the tag's deadband of
 * 0.5, step 1.0 makes every update pass and step 0.001 (wrapping) keeps most inside. */
typedef struct {
    int kind;          /* 0 plain store, 1 tw_tag_set_double, 2 plain store + clock, 3 set with ts 0,
                          4 plain store under a spin lock (the cheapest thread-safe store) */
    plain_value *pv;
    atomic_flag *lock;
    tw_tag *tag;
    long iters;
    double step;
    double secs;
} work;

static void run(work *w)
{
    long n = w->iters;
    double step = w->step;
    double t0 = now_s();
    switch (w->kind) {
    case 0:
        for (long i = 0; i < n; i++) {
            double v = (double)(i & 1023) * step;
            w->pv->v = v;
            w->pv->q = TW_QUALITY_GOOD;
            w->pv->ts = i + 1;
            BARRIER();
        }
        break;
    case 1:
        for (long i = 0; i < n; i++) {
            double v = (double)(i & 1023) * step;
            tw_tag_set_double(w->tag, v, TW_QUALITY_GOOD, i + 1);
            BARRIER();
        }
        break;
    case 2:
        for (long i = 0; i < n; i++) {
            double v = (double)(i & 1023) * step;
            w->pv->v = v;
            w->pv->q = TW_QUALITY_GOOD;
            w->pv->ts = tw_now_ns();
            BARRIER();
        }
        break;
    case 3:
        for (long i = 0; i < n; i++) {
            double v = (double)(i & 1023) * step;
            tw_tag_set_double(w->tag, v, TW_QUALITY_GOOD, 0);
            BARRIER();
        }
        break;
    case 4:
        for (long i = 0; i < n; i++) {
            double v = (double)(i & 1023) * step;
            while (atomic_flag_test_and_set_explicit(w->lock, memory_order_acquire)) {
            }
            w->pv->v = v;
            w->pv->q = TW_QUALITY_GOOD;
            w->pv->ts = i + 1;
            atomic_flag_clear_explicit(w->lock, memory_order_release);
            BARRIER();
        }
        break;
    }
    w->secs = now_s() - t0;
}

static void *thread_main(void *p)
{
    run(p);
    return NULL;
}

/* A node-like consumer: sleeps on the tag set's descriptor and collects every millisecond. */
static atomic_int g_collector_stop;
static atomic_long g_collected;
static void *collector_main(void *p)
{
    tw_tagset *ts = p;
    tw_tag_change ch[16];
    while (!atomic_load(&g_collector_stop)) {
        struct pollfd pf = {.fd = tw_tagset_fd(ts), .events = POLLIN};
        poll(&pf, 1, 10);
        struct timespec ms = {0, 1000000};
        nanosleep(&ms, NULL); /* a publish cycle of ~1 ms */
        size_t n;
        int more;
        do {
            tw_tagset_collect(ts, ch, 16, &n, &more);
            atomic_fetch_add(&g_collected, (long)n);
        } while (more);
    }
    return NULL;
}

/* Best (lowest) ns/op over REPEATS runs, with `threads` threads each doing its own work. */
static double measure(int kind, int threads, tw_tag **tags, padded_plain *pp, long iters, double step)
{
    double best = 1e30;
    for (int r = 0; r < REPEATS; r++) {
        work w[2];
        pthread_t th[2];
        for (int k = 0; k < threads; k++) {
            w[k] = (work){kind, &pp[k].pv, &pp[k].lock, tags[k], iters, step, 0};
            if (threads > 1) pthread_create(&th[k], NULL, thread_main, &w[k]);
            else run(&w[k]);
        }
        double worst = 0;
        for (int k = 0; k < threads; k++) {
            if (threads > 1) pthread_join(th[k], NULL);
            if (w[k].secs > worst) worst = w[k].secs;
        }
        double ns = worst * 1e9 / (double)iters; /* per operation, per thread */
        if (ns < best) best = ns;
    }
    return best;
}

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 20000000L;
    if (iters <= 0) iters = 20000000L;
    tw_init_params p = TW_INIT_PARAMS_INIT;
    p.malloc_fn = cnt_malloc;
    p.realloc_fn = cnt_realloc;
    p.free_fn = cnt_free;
    if (tw_init(&p) != TW_OK) return 1;
    tw_tagset *ts;
    tw_tag *tags[2];
    if (tw_tagset_new(&ts) != TW_OK) return 1;
    for (int k = 0; k < 2; k++) {
        char name[32];
        snprintf(name, sizeof name, "Bench/Tag%d", k);
        if (tw_tagset_add(ts, &tags[k], name, TW_TYPE_DOUBLE,
                          &(tw_tag_options){TW_TAG_OPTIONS_VERSION, .unit = "degC", .deadband = 0.5}) != TW_OK)
            return 1;
    }
    static padded_plain plain[2] = {{.lock = ATOMIC_FLAG_INIT}, {.lock = ATOMIC_FLAG_INIT}};
    long allocs_before = atomic_load(&g_allocs);

    printf("tag_update: %ld iterations per run, best of %d runs, ns per update (per thread)\n", iters, REPEATS);
    printf("%-48s %7s %8s %7s %10s %7s\n", "case", "plain", "tagwire", "ratio", "spinlocked", "ratio");
    struct {
        const char *name;
        int plain_kind, tag_kind, threads;
        double step;
    } cases[] = {
        {"1 thread, every value passes the deadband", 0, 1, 1, 1.0},
        {"1 thread, values inside the deadband", 0, 1, 1, 0.0004},
        {"1 thread, every value passes, ts = now (clock)", 2, 3, 1, 1.0},
        {"2 threads, different tags, every value passes", 0, 1, 2, 1.0},
        {"2 threads, different tags, inside the deadband", 0, 1, 2, 0.0004},
    };
    double worst_ratio = 0;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        double base = measure(cases[c].plain_kind, cases[c].threads, tags, plain, iters, cases[c].step);
        double tw = measure(cases[c].tag_kind, cases[c].threads, tags, plain, iters, cases[c].step);
        double ratio = tw / base;
        if (ratio > worst_ratio) worst_ratio = ratio;
        if (cases[c].plain_kind == 0) {
            double locked = measure(4, cases[c].threads, tags, plain, iters, cases[c].step);
            printf("%-48s %7.2f %8.2f %6.1fx %10.2f %6.1fx\n", cases[c].name, base, tw, ratio, locked,
                   tw / locked);
        } else {
            printf("%-48s %7.2f %8.2f %6.1fx %10s %7s\n", cases[c].name, base, tw, ratio, "-", "-");
        }
    }
    /* the same single-thread case while a collector thread drains the change set every ~1 ms */
    {
        pthread_t col;
        atomic_store(&g_collector_stop, 0);
        pthread_create(&col, NULL, collector_main, ts);
        double base = measure(0, 1, tags, plain, iters, 1.0);
        double tw = measure(1, 1, tags, plain, iters, 1.0);
        atomic_store(&g_collector_stop, 1);
        pthread_join(col, NULL);
        printf("%-48s %7.2f %8.2f %6.1fx   (%ld changes collected)\n",
               "1 thread, every value passes, collector running", base, tw, tw / base,
               atomic_load(&g_collected));
    }
    long allocs = atomic_load(&g_allocs) - allocs_before;
    size_t pending = tw_tagset_pending(ts);
    printf("allocations on the update path: %ld (over all runs above)\n", allocs);
    printf("worst ratio: %.1fx (goal: within 3x of the plain store, zero allocations)\n", worst_ratio);
    printf("(tags still pending collection: %zu)\n", pending);
    tw_tagset_free(ts);
    tw_shutdown();
    return allocs == 0 ? 0 : 1;
}
