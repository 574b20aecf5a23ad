/* Simulator adapter "sim://": deterministic signals for demos, tests and benchmarks.
 * Address syntax (docs/addresses.md): SIGNAL[:key=value,key=value...]
 * SPDX-License-Identifier: Apache-2.0 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "adapter/adapter_internal.h"
#include "internal.h"

#define SIM_PI 3.14159265358979323846

typedef enum { SIG_SINE, SIG_RAMP, SIG_STEP, SIG_RANDOM, SIG_COUNTER, SIG_CONST, SIG_MEMORY } sig_kind;

typedef struct sim_item {
    sig_kind kind;
    double period, amplitude, offset, phase, min, max, low, high, duty, step, start, value;
    uint64_t seed, rng;
    double walk;
    int64_t count;
    int started;
} sim_item;

typedef struct sim_ctx {
    int virtual_clock;
    int64_t tick_ns;
    int64_t t0_ns;
    uint64_t reads;
    tw_device_stats st;
} sim_ctx;

static const struct {
    const char *name;
    sig_kind kind;
    const char *params;
} k_sigs[] = {
    {"sine", SIG_SINE, "period,amplitude,offset,phase"},
    {"ramp", SIG_RAMP, "period,min,max"},
    {"step", SIG_STEP, "period,low,high,duty"},
    {"random", SIG_RANDOM, "seed,step,start,min,max"},
    {"counter", SIG_COUNTER, "start,step,max"},
    {"const", SIG_CONST, "value"},
    {"memory", SIG_MEMORY, "value"},
};

static int param_allowed(const char *list, const char *key, size_t kl)
{
    const char *p = list;
    while (*p) {
        const char *c = strchr(p, ',');
        size_t l = c ? (size_t)(c - p) : strlen(p);
        if (l == kl && !strncmp(p, key, kl)) return 1;
        if (!c) break;
        p = c + 1;
    }
    return 0;
}

static uint64_t splitmix(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

#define SERR(...) (snprintf(err, errlen, __VA_ARGS__), TW_ERR_ADDRESS)

static tw_status op_parse(void *reg_data, const char *address, void **item, tw_adapter_item_info *info, char *err,
                          size_t errlen)
{
    (void)reg_data;
    if (!address || !*address) return SERR("sim address is empty (expected e.g. sine:period=10s,amplitude=5)");
    if (strlen(address) > 256) return SERR("sim address longer than 256 characters");
    sim_item it;
    memset(&it, 0, sizeof it);
    it.period = 10;
    it.amplitude = 1;
    it.max = 100;
    it.high = 1;
    it.duty = 0.5;
    it.step = 1;
    it.seed = 1;
    const char *colon = strchr(address, ':');
    size_t nl = colon ? (size_t)(colon - address) : strlen(address);
    int si = -1;
    for (size_t i = 0; i < TW__ARRAY_LEN(k_sigs); i++)
        if (strlen(k_sigs[i].name) == nl && !strncmp(k_sigs[i].name, address, nl)) si = (int)i;
    if (si < 0)
        return SERR("sim address '%s': unknown signal '%.*s' (expected sine, ramp, step, random, counter, const or "
                    "memory)", address, (int)nl, address);
    it.kind = k_sigs[si].kind;
    int have_min = 0, have_max = 0;
    if (it.kind == SIG_RANDOM) {
        it.min = -INFINITY;
        it.max = INFINITY;
    }
    if (colon) {
        const char *p = colon + 1;
        if (!*p) return SERR("sim address '%s': nothing after ':'", address);
        while (*p) {
            const char *comma = strchr(p, ',');
            size_t l = comma ? (size_t)(comma - p) : strlen(p);
            const char *eq = memchr(p, '=', l);
            if (!eq || eq == p) return SERR("sim address '%s': expected key=value, got '%.*s'", address, (int)l, p);
            size_t kl = (size_t)(eq - p);
            char val[64];
            size_t vl = l - kl - 1;
            if (vl == 0 || vl >= sizeof val) return SERR("sim address '%s': empty or too long value for '%.*s'", address, (int)kl, p);
            memcpy(val, eq + 1, vl);
            val[vl] = '\0';
            if (!param_allowed(k_sigs[si].params, p, kl))
                return SERR("sim address '%s': '%.*s' is not a parameter of %s (parameters: %s)", address, (int)kl, p,
                            k_sigs[si].name, k_sigs[si].params);
#define KEY(k) (kl == strlen(k) && !strncmp(p, k, kl))
            if (KEY("period")) {
                int64_t ns;
                if (tw__parse_duration_ns(val, &ns) || ns <= 0)
                    return SERR("sim address '%s': period '%s' is not a positive duration (e.g. 10s, 500ms)", address, val);
                it.period = (double)ns / 1e9;
            } else if (KEY("seed")) {
                if (tw__parse_u64(val, UINT64_MAX, &it.seed)) return SERR("sim address '%s': seed '%s' is not an unsigned integer", address, val);
            } else {
                double d;
                if (tw__parse_double(val, &d)) return SERR("sim address '%s': %.*s='%s' is not a number", address, (int)kl, p, val);
                if (KEY("amplitude")) it.amplitude = d;
                else if (KEY("offset")) it.offset = d;
                else if (KEY("phase")) it.phase = d;
                else if (KEY("min")) { it.min = d; have_min = 1; }
                else if (KEY("max")) { it.max = d; have_max = 1; }
                else if (KEY("low")) it.low = d;
                else if (KEY("high")) it.high = d;
                else if (KEY("duty")) {
                    if (d < 0 || d > 1) return SERR("sim address '%s': duty must be in 0..1", address);
                    it.duty = d;
                } else if (KEY("step")) it.step = d;
                else if (KEY("start")) it.start = d;
                else if (KEY("value")) it.value = d;
            }
#undef KEY
            if (!comma) break;
            p = comma + 1;
            if (!*p) return SERR("sim address '%s': trailing ','", address);
        }
    }
    if ((it.kind == SIG_RAMP || (it.kind == SIG_RANDOM && have_min && have_max)) && !(it.min < it.max))
        return SERR("sim address '%s': min must be less than max", address);
    if (it.kind == SIG_COUNTER) {
        if (it.start != floor(it.start) || it.step != floor(it.step) || fabs(it.start) > 9e15 || fabs(it.step) > 9e15)
            return SERR("sim address '%s': counter start and step must be integers", address);
        if (have_max && (it.max != floor(it.max) || it.max <= it.start))
            return SERR("sim address '%s': counter max must be an integer above start", address);
        if (!have_max) it.max = 0;
    }
    (void)have_min;
    info->type = it.kind == SIG_COUNTER ? TW_TYPE_INT64 : TW_TYPE_DOUBLE;
    info->max_bytes = 0;
    info->writable = it.kind == SIG_MEMORY;
    if (item) {
        sim_item *cp = tw__malloc(sizeof *cp);
        if (!cp) return TW_ERR_NOMEM;
        *cp = it;
        cp->rng = it.seed;
        cp->walk = it.start;
        cp->count = (int64_t)it.start;
        *item = cp;
    }
    return TW_OK;
}

static void op_free_item(void *reg_data, void *item)
{
    (void)reg_data;
    tw__free(item);
}

static tw_status op_open(void *reg_data, void **ctx, const tw_adapter_uri *u, const tw_device_options *o, char *err,
                         size_t errlen)
{
    (void)reg_data;
    if (o->transport) {
        snprintf(err, errlen, "sim:// does not take a transport");
        return TW_ERR_CONFIG;
    }
    sim_ctx *c = tw__calloc(1, sizeof *c);
    if (!c) return TW_ERR_NOMEM;
    c->tick_ns = 100000000;
    for (size_t i = 0; i < u->nparams; i++) {
        if (!strcmp(u->keys[i], "clock")) {
            if (!strcmp(u->values[i], "virtual")) c->virtual_clock = 1;
            else if (strcmp(u->values[i], "real")) {
                snprintf(err, errlen, "URI parameter clock=%s: expected real or virtual", u->values[i]);
                tw__free(c);
                return TW_ERR_CONFIG;
            }
        } else if (!strcmp(u->keys[i], "tick")) {
            if (tw__parse_duration_ns(u->values[i], &c->tick_ns) || c->tick_ns <= 0) {
                snprintf(err, errlen, "URI parameter tick=%s: expected a positive duration (e.g. 100ms)", u->values[i]);
                tw__free(c);
                return TW_ERR_CONFIG;
            }
        } else {
            snprintf(err, errlen, "unknown URI parameter '%s' for sim (known: clock=real|virtual, tick=DURATION)", u->keys[i]);
            tw__free(c);
            return TW_ERR_CONFIG;
        }
    }
    c->t0_ns = tw__mono_ns();
    c->st.connected = 1;
    c->st.connects = 1;
    *ctx = c;
    return TW_OK;
}

static void op_close(void *ctx) { tw__free(ctx); }

static double eval(sim_item *it, double t)
{
    switch (it->kind) {
    case SIG_SINE: return it->offset + it->amplitude * sin(2.0 * SIM_PI * t / it->period + it->phase * SIM_PI / 180.0);
    case SIG_RAMP: {
        double f = fmod(t, it->period) / it->period;
        return it->min + (it->max - it->min) * f;
    }
    case SIG_STEP: return fmod(t, it->period) < it->period * it->duty ? it->high : it->low;
    case SIG_RANDOM: {
        if (it->started) {
            double u = (double)(splitmix(&it->rng) >> 11) / 9007199254740992.0; /* [0,1) */
            it->walk += (2.0 * u - 1.0) * it->step;
            if (it->walk < it->min) it->walk = it->min;
            if (it->walk > it->max) it->walk = it->max;
        }
        it->started = 1;
        return it->walk;
    }
    case SIG_CONST:
    case SIG_MEMORY: return it->value;
    case SIG_COUNTER: return 0;
    }
    return 0;
}

static tw_status op_read(void *ctx, void *const *items, size_t n, tw_adapter_result *res, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    sim_ctx *c = ctx;
    double t = c->virtual_clock ? (double)c->reads * ((double)c->tick_ns / 1e9) : (double)(tw__mono_ns() - c->t0_ns) / 1e9;
    c->reads++;
    c->st.requests++;
    c->st.responses++;
    for (size_t i = 0; i < n; i++) {
        sim_item *it = items[i];
        if (it->kind == SIG_COUNTER) {
            if (it->started) {
                it->count += (int64_t)it->step;
                if (it->max != 0 && (double)it->count > it->max) it->count = (int64_t)it->start;
            }
            it->started = 1;
            res[i].value.type = TW_TYPE_INT64;
            res[i].value.as.i = it->count;
        } else {
            res[i].value.type = TW_TYPE_DOUBLE;
            res[i].value.as.d = eval(it, t);
        }
        res[i].quality = TW_QUALITY_GOOD;
    }
    return TW_OK;
}

static tw_status op_write(void *ctx, void *item, const tw_value *v, char *err, size_t errlen)
{
    (void)ctx;
    sim_item *it = item;
    double d;
    switch (v->type) {
    case TW_TYPE_BOOL: d = v->as.b; break;
    case TW_TYPE_INT8: case TW_TYPE_INT16: case TW_TYPE_INT32: case TW_TYPE_INT64: d = (double)v->as.i; break;
    case TW_TYPE_UINT8: case TW_TYPE_UINT16: case TW_TYPE_UINT32: case TW_TYPE_UINT64: d = (double)v->as.u; break;
    case TW_TYPE_FLOAT: d = v->as.f; break;
    case TW_TYPE_DOUBLE: d = v->as.d; break;
    default:
        snprintf(err, errlen, "sim memory items hold numbers");
        return TW_ERR_TYPE_MISMATCH;
    }
    it->value = d;
    return TW_OK;
}

static void op_stats(void *ctx, tw_device_stats *out)
{
    sim_ctx *c = ctx;
    uint32_t v = out->version;
    *out = c->st;
    out->version = v;
}

static const tw_adapter_ops k_sim_ops = {TW_ADAPTER_OPS_VERSION, "sim", "deterministic simulated signals",
                                         op_parse, op_free_item, op_open, op_close, op_read, op_write, op_stats,
                                         NULL, NULL, NULL};

void tw__sim_register_builtins(tw__reg_add_fn add) { (void)add(&k_sim_ops, NULL); }
