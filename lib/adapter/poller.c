/* Poll scheduler: groups of items at fixed scan rates, drift-free, skip instead of pile-up.
 * SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "adapter_internal.h"
#include "internal.h"

#define MOD "poller"

typedef struct poll_group {
    tw_device *dev;
    uint32_t *ids;
    tw_sample *samples;
    size_t n;
    int64_t period_ns;
    int64_t next_due_ns; /* monotonic */
    tw_poll_fn fn;
    void *user_data;
    tw_poll_group_stats st;
    double mean_acc; /* running mean of durations */
} poll_group;

struct tw_poller {
    poll_group *groups;
    size_t n, cap;
};

tw_status tw_poller_new(tw_poller **out)
{
    if (!out) return TW_ERR_INVALID_ARG;
    *out = NULL;
    tw_status st = tw__check_init();
    if (st) return st;
    tw_poller *p = tw__calloc(1, sizeof *p);
    if (!p) return tw__err(NULL, MOD, TW_ERR_NOMEM, "out of memory");
    *out = p;
    return TW_OK;
}

void tw_poller_free(tw_poller *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) {
        tw__free(p->groups[i].ids);
        tw__free(p->groups[i].samples);
    }
    tw__free(p->groups);
    tw__free(p);
}

tw_status tw_poller_add_group(tw_poller *p, uint32_t *group_out, tw_device *dev, uint32_t rate_ms,
                              const uint32_t *ids, size_t n, tw_poll_fn fn, void *user_data)
{
    if (!p || !group_out || !dev || !rate_ms || !ids || !n) return TW_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++)
        if (ids[i] >= tw_device_item_count(dev)) return TW_ERR_INVALID_ARG;
    if (p->n == p->cap) {
        size_t nc = p->cap ? p->cap * 2 : 4;
        poll_group *ng = tw__realloc(p->groups, nc * sizeof *ng);
        if (!ng) return TW_ERR_NOMEM;
        p->groups = ng;
        p->cap = nc;
    }
    poll_group *g = &p->groups[p->n];
    memset(g, 0, sizeof *g);
    g->ids = tw__malloc(n * sizeof *g->ids);
    g->samples = tw__calloc(n, sizeof *g->samples);
    if (!g->ids || !g->samples) {
        tw__free(g->ids);
        tw__free(g->samples);
        return TW_ERR_NOMEM;
    }
    memcpy(g->ids, ids, n * sizeof *ids);
    g->dev = dev;
    g->n = n;
    g->period_ns = (int64_t)rate_ms * 1000000;
    g->next_due_ns = tw__mono_ns();
    g->fn = fn;
    g->user_data = user_data;
    g->st.version = TW_POLL_GROUP_STATS_VERSION;
    g->st.rate_ms = rate_ms;
    *group_out = (uint32_t)p->n;
    p->n++;
    return TW_OK;
}

static int64_t earliest_due(const tw_poller *p)
{
    int64_t e = INT64_MAX;
    for (size_t i = 0; i < p->n; i++)
        if (p->groups[i].next_due_ns < e) e = p->groups[i].next_due_ns;
    return e;
}

int64_t tw_poller_next_due_ms(const tw_poller *p)
{
    if (!p || !p->n) return -1;
    int64_t d = earliest_due(p) - tw__mono_ns();
    return d <= 0 ? 0 : (d + 999999) / 1000000;
}

static void sleep_ns(int64_t ns)
{
    if (ns <= 0) return;
    struct timespec ts = {(time_t)(ns / 1000000000), (long)(ns % 1000000000)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void run_group(uint32_t gi, poll_group *g, int64_t now)
{
    int64_t late = now - g->next_due_ns;
    if (late > g->st.max_lateness_ns) g->st.max_lateness_ns = late;
    int64_t t0 = tw__mono_ns();
    (void)tw_device_read(g->dev, g->ids, g->n, g->samples);
    int64_t t1 = tw__mono_ns();
    int64_t dur = t1 - t0;
    g->st.cycles++;
    g->st.last_duration_ns = dur;
    if (dur > g->st.max_duration_ns) g->st.max_duration_ns = dur;
    g->mean_acc += ((double)dur - g->mean_acc) / (double)g->st.cycles;
    g->st.mean_duration_ns = (int64_t)g->mean_acc;
    uint64_t bad = 0;
    for (size_t i = 0; i < g->n; i++)
        if (TW_QUALITY_IS_BAD(g->samples[i].quality)) bad++;
    g->st.items_bad += bad;
    if (bad) g->st.failed_cycles++;
    /* Drift-free: the next cycle is due one period after this one was due, not after it ran.
     * Cycles whose due time already passed are skipped (counted), never run in a burst. */
    int64_t next = g->next_due_ns + g->period_ns;
    if (next <= t1) {
        int64_t missed = (t1 - next) / g->period_ns + 1;
        g->st.skipped += (uint64_t)missed;
        next += missed * g->period_ns;
    }
    g->next_due_ns = next;
    if (g->fn) g->fn(gi, g->ids, g->samples, g->n, g->user_data);
}

tw_status tw_poller_step(tw_poller *p, int max_wait_ms)
{
    if (!p) return TW_ERR_INVALID_ARG;
    if (!p->n) {
        if (max_wait_ms > 0) sleep_ns((int64_t)max_wait_ms * 1000000);
        return TW_ERR_TIMEOUT;
    }
    int64_t now = tw__mono_ns();
    int64_t due = earliest_due(p);
    if (due > now) {
        int64_t wait = due - now;
        if (max_wait_ms >= 0 && wait > (int64_t)max_wait_ms * 1000000) {
            sleep_ns((int64_t)max_wait_ms * 1000000);
            return TW_ERR_TIMEOUT;
        }
        sleep_ns(wait);
        now = tw__mono_ns();
    }
    int ran = 0;
    for (size_t i = 0; i < p->n; i++) {
        poll_group *g = &p->groups[i];
        if (g->next_due_ns <= now) {
            run_group((uint32_t)i, g, now);
            ran = 1;
            now = tw__mono_ns();
        }
    }
    return ran ? TW_OK : TW_ERR_TIMEOUT;
}

tw_status tw_poller_group_stats_get(const tw_poller *p, uint32_t group, tw_poll_group_stats *out)
{
    if (!p || !out || group >= p->n) return TW_ERR_INVALID_ARG;
    return TW__STATS_PUT(out, &p->groups[group].st, sizeof(tw_poll_group_stats));
}
