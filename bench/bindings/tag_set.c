/* bench_bindings_c: the C baseline of bench/bindings/run.sh: tw_tag_set_double through the shared
 * library (the same entry point the bindings call), every value passing (deadband 0, changing
 * values), collected every 4096 updates. Prints "c <ns per update> <updates per second>".
 * Usage: bench_bindings_c [iterations]   (default 20000000) */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <tagwire/tagwire.h>

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 20000000L;
    tw_tagset *ts;
    tw_tag *tag;
    static tw_tag_change buf[16];
    size_t got;
    if (tw_init(NULL) != TW_OK || tw_tagset_new(&ts) != TW_OK ||
        tw_tagset_add(ts, &tag, "Bench/Value", TW_TYPE_DOUBLE, NULL) != TW_OK) {
        fprintf(stderr, "set-up failed\n");
        return 1;
    }
    double best = 1e9;
    for (int r = 0; r < 3; r++) {
        double t0 = now_s();
        for (long i = 0; i < n; i++) {
            if (tw_tag_set_double(tag, (double)i, TW_QUALITY_GOOD, 0) != TW_OK) return 1;
            if ((i & 4095) == 0) tw_tagset_collect(ts, buf, 16, &got, NULL);
        }
        double ns = (now_s() - t0) * 1e9 / (double)n;
        if (ns < best) best = ns;
    }
    printf("c %.1f %.0f\n", best, 1e9 / best);
    tw_tagset_free(ts);
    tw_shutdown();
    return 0;
}
