/* Tags and tag sets: registry, lock-free value updates, deadband, change sets, writes.
 * The concurrency scheme is described in tag_internal.h.
 * SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <sched.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/eventfd.h>
#endif

#include "tag_internal.h"

#define MOD "tag"

#define ST_LOCK TW__TAG_LOCK
#define ST_DIRTY TW__TAG_DIRTY
#define ST_VINC TW__TAG_VINC
#define MAX_BUF_LEN (16u * 1024u * 1024u)

/* ---- small helpers ---- */

static inline void cpu_relax(unsigned *spins)
{
    if (++*spins < 64) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#elif defined(__aarch64__)
        __asm__ __volatile__("yield");
#endif
    } else {
        sched_yield(); /* the holder was preempted: let it run */
    }
}

static inline uint64_t d2bits(double d) { uint64_t b; memcpy(&b, &d, sizeof b); return b; }
static inline double bits2d(uint64_t b) { double d; memcpy(&d, &b, sizeof d); return d; }
static inline uint64_t f2bits(float f) { uint32_t b; memcpy(&b, &f, sizeof b); return b; }
static inline float bits2f(uint64_t b) { uint32_t u = (uint32_t)b; float f; memcpy(&f, &u, sizeof f); return f; }

static inline int is_buf_type(tw_type t) { return t == TW_TYPE_STRING || t == TW_TYPE_BYTES; }
static inline int is_uint_type(tw_type t) { return t >= TW_TYPE_UINT8 && t <= TW_TYPE_UINT64; }

/* tw_value (already of the tag's fixed-size type) -> stored bits, and back. */
static uint64_t value_to_bits(const tw_value *v)
{
    switch (v->type) {
    case TW_TYPE_BOOL: return v->as.b ? 1u : 0u;
    case TW_TYPE_FLOAT: return f2bits(v->as.f);
    case TW_TYPE_DOUBLE: return d2bits(v->as.d);
    default: return is_uint_type(v->type) ? v->as.u : (uint64_t)v->as.i;
    }
}

static void bits_to_value(tw_type type, uint64_t bits, tw_value *v)
{
    v->type = type;
    switch (type) {
    case TW_TYPE_BOOL: v->as.b = bits ? 1 : 0; break;
    case TW_TYPE_FLOAT: v->as.f = bits2f(bits); break;
    case TW_TYPE_DOUBLE: v->as.d = bits2d(bits); break;
    default:
        if (is_uint_type(type)) v->as.u = bits;
        else v->as.i = (int64_t)bits;
        break;
    }
}

static inline int dbl_passes(double a, double b, double db)
{
    if (isnan(a) || isnan(b)) return isnan(a) != isnan(b);
    double d = b - a;
    return (d < 0 ? -d : d) > db; /* inf - inf is NaN: an unchanged infinity does not pass */
}

/* Does the new value pass the deadband against the old one (report-by-exception)? */
static inline int value_passes(const tw_tag *t, uint64_t oldb, uint64_t newb)
{
    double db = t->deadband_abs;
    switch (t->type) {
    case TW_TYPE_DOUBLE: return dbl_passes(bits2d(oldb), bits2d(newb), db);
    case TW_TYPE_FLOAT: return dbl_passes((double)bits2f(oldb), (double)bits2f(newb), db);
    case TW_TYPE_BOOL:
    case TW_TYPE_DATETIME: return oldb != newb;
    default: {
        if (oldb == newb) return 0;
        if (db == 0) return 1;
        uint64_t d;
        if (is_uint_type(t->type)) d = newb > oldb ? newb - oldb : oldb - newb;
        else {
            int64_t a = (int64_t)oldb, b = (int64_t)newb;
            d = b > a ? (uint64_t)b - (uint64_t)a : (uint64_t)a - (uint64_t)b;
        }
        return (double)d > db;
    }
    }
}

/* ---- per-tag lock and seqlock ---- */

static inline uint64_t tag_lock(tw_tag *t)
{
    unsigned spins = 0;
    uint64_t s = atomic_load_explicit(&t->state, memory_order_relaxed);
    for (;;) {
        if (!(s & ST_LOCK)) {
            if (atomic_compare_exchange_weak_explicit(&t->state, &s, s | ST_LOCK,
                                                      memory_order_acquire, memory_order_relaxed))
                break;
            continue;
        }
        cpu_relax(&spins);
        s = atomic_load_explicit(&t->state, memory_order_relaxed);
    }
    atomic_thread_fence(memory_order_release); /* data stores stay after the LOCK bit */
    return s;
}

static inline void tag_unlock(tw_tag *t, uint64_t new_state)
{
    atomic_store_explicit(&t->state, new_state, memory_order_release);
}

/* Consistent read of a fixed-size tag without taking the lock. Returns the state word. */
static uint64_t tag_read(const tw_tag *t, uint64_t *bits, uint32_t *q, int64_t *ts)
{
    tw_tag *mt = (tw_tag *)(uintptr_t)t;
    unsigned spins = 0;
    for (;;) {
        uint64_t s1 = atomic_load_explicit(&mt->state, memory_order_acquire);
        if (s1 & ST_LOCK) { cpu_relax(&spins); continue; }
        uint64_t b = atomic_load_explicit(&mt->value, memory_order_relaxed);
        uint32_t qq = atomic_load_explicit(&mt->quality, memory_order_relaxed);
        int64_t tt = atomic_load_explicit(&mt->ts, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        uint64_t s2 = atomic_load_explicit(&mt->state, memory_order_relaxed);
        if ((s1 | ST_DIRTY) == (s2 | ST_DIRTY)) {
            *bits = b;
            *q = qq;
            *ts = tt;
            return s1;
        }
    }
}

/* ---- change-set signalling ---- */

static void wake(tw_tagset *set)
{
    if (set->evfd_w >= 0) {
#ifdef __linux__
        uint64_t one = 1;
        ssize_t r = write(set->evfd_w, &one, sizeof one);
#else
        char one = 1;
        ssize_t r = write(set->evfd_w, &one, 1);
#endif
        (void)r; /* EAGAIN: already signalled */
    }
    tw_tagset_notify_fn fn = set->notify_fn;
    if (fn) fn(set, set->notify_ud);
}

static void drain(tw_tagset *set)
{
    if (set->evfd_r < 0) return;
    char buf[64];
    while (read(set->evfd_r, buf, sizeof buf) > 0) {
    }
}

/* Called by the one setter that turned DIRTY on. */
static void push_changed(tw_tag *t)
{
    tw_tagset *set = t->set;
    tw__tag_link *l = t->link;
    tw__tag_link *h = atomic_load_explicit(&set->head, memory_order_relaxed);
    do {
        atomic_store_explicit(&l->next, h, memory_order_relaxed);
    } while (!atomic_compare_exchange_weak_explicit(&set->head, &h, l, memory_order_release,
                                                    memory_order_relaxed));
    atomic_fetch_add_explicit(&set->npending, 1, memory_order_relaxed);
    if (!h) wake(set);
}

/* ---- setters ---- */

/* bits: the value, already of the tag's fixed-size type. */
static tw_status set_bits(tw_tag *t, uint64_t bits, tw_quality q, int64_t ts_ns)
{
    if (t->rbe) {
        /* fast path: a value inside the deadband costs only loads */
        uint64_t s1 = atomic_load_explicit(&t->state, memory_order_acquire);
        if (!(s1 & ST_LOCK) && s1 >= ST_VINC) {
            uint64_t old = atomic_load_explicit(&t->value, memory_order_relaxed);
            uint32_t oq = atomic_load_explicit(&t->quality, memory_order_relaxed);
            atomic_thread_fence(memory_order_acquire);
            uint64_t s2 = atomic_load_explicit(&t->state, memory_order_relaxed);
            if ((s1 | ST_DIRTY) == (s2 | ST_DIRTY) && oq == q && !value_passes(t, old, bits))
                return TW_OK;
        }
    }
    if (!ts_ns) ts_ns = tw_now_ns();
    uint64_t s = tag_lock(t);
    if (t->rbe && s >= ST_VINC &&
        atomic_load_explicit(&t->quality, memory_order_relaxed) == q &&
        !value_passes(t, atomic_load_explicit(&t->value, memory_order_relaxed), bits)) {
        tag_unlock(t, s);
        return TW_OK;
    }
    atomic_store_explicit(&t->value, bits, memory_order_relaxed);
    atomic_store_explicit(&t->quality, q, memory_order_relaxed);
    atomic_store_explicit(&t->ts, ts_ns, memory_order_relaxed);
    tag_unlock(t, (s + ST_VINC) | ST_DIRTY);
    if (!(s & ST_DIRTY)) push_changed(t);
    return TW_OK;
}

static tw_status set_buf(tw_tag *t, const void *data, size_t len, tw_quality q, int64_t ts_ns)
{
    if (len > t->max_len) return TW_ERR_RANGE;
    if (!ts_ns) ts_ns = tw_now_ns();
    uint64_t s = tag_lock(t);
    if (t->rbe && s >= ST_VINC && atomic_load_explicit(&t->quality, memory_order_relaxed) == q &&
        t->len == len && (len == 0 || !memcmp(t->live, data, len))) {
        tag_unlock(t, s);
        return TW_OK;
    }
    if (len) memcpy(t->live, data, len);
    t->live[len] = '\0';
    t->len = (uint32_t)len;
    atomic_store_explicit(&t->quality, q, memory_order_relaxed);
    atomic_store_explicit(&t->ts, ts_ns, memory_order_relaxed);
    tag_unlock(t, (s + ST_VINC) | ST_DIRTY);
    if (!(s & ST_DIRTY)) push_changed(t);
    return TW_OK;
}

/* Sets a value of any type: converts it to the tag's type first. */
static tw_status set_any(tw_tag *t, const tw_value *in, tw_quality q, int64_t ts_ns)
{
    tw_value v;
    tw_status st = tw_value_convert(&v, in, t->type);
    if (st) return st;
    if (is_buf_type(t->type)) {
        if (!v.as.buf.ptr && v.as.buf.len) return TW_ERR_INVALID_ARG;
        return set_buf(t, v.as.buf.ptr, v.as.buf.len, q, ts_ns);
    }
    return set_bits(t, value_to_bits(&v), q, ts_ns);
}

/* The common case of a DOUBLE tag whose new value stays inside the deadband: decided with loads
 * only. Returns non-zero when the value is filtered out; 0 sends it down the full path (which
 * also settles NaN and every other undecided case). */
static inline int double_filtered(tw_tag *t, double v, tw_quality q)
{
    uint64_t s1 = atomic_load_explicit(&t->state, memory_order_acquire);
    if ((s1 & ST_LOCK) || s1 < ST_VINC) return 0;
    double old = bits2d(atomic_load_explicit(&t->value, memory_order_relaxed));
    uint32_t oq = atomic_load_explicit(&t->quality, memory_order_relaxed);
    atomic_thread_fence(memory_order_acquire);
    uint64_t s2 = atomic_load_explicit(&t->state, memory_order_relaxed);
    double d = v - old;
    double db = t->deadband_abs;
    return (s1 | ST_DIRTY) == (s2 | ST_DIRTY) && oq == q && d <= db && d >= -db;
}

tw_status tw_tag_set_double(tw_tag *tag, double value, tw_quality q, int64_t ts_ns)
{
    if (TW__UNLIKELY(!tag)) return TW_ERR_INVALID_ARG;
    if (TW__LIKELY(tag->type == TW_TYPE_DOUBLE)) {
        if (TW__LIKELY(tag->rbe) && double_filtered(tag, value, q)) return TW_OK;
        return set_bits(tag, d2bits(value), q, ts_ns);
    }
    tw_value v;
    v.type = TW_TYPE_DOUBLE;
    v.as.d = value;
    return set_any(tag, &v, q, ts_ns);
}

tw_status tw_tag_set_float(tw_tag *tag, float value, tw_quality q, int64_t ts_ns)
{
    if (!tag) return TW_ERR_INVALID_ARG;
    if (tag->type == TW_TYPE_FLOAT) return set_bits(tag, f2bits(value), q, ts_ns);
    tw_value v;
    v.type = TW_TYPE_FLOAT;
    v.as.f = value;
    return set_any(tag, &v, q, ts_ns);
}

tw_status tw_tag_set_int64(tw_tag *tag, int64_t value, tw_quality q, int64_t ts_ns)
{
    if (TW__UNLIKELY(!tag)) return TW_ERR_INVALID_ARG;
    if (TW__LIKELY(tag->type == TW_TYPE_INT64)) return set_bits(tag, (uint64_t)value, q, ts_ns);
    tw_value v;
    v.type = TW_TYPE_INT64;
    v.as.i = value;
    return set_any(tag, &v, q, ts_ns);
}

tw_status tw_tag_set_uint64(tw_tag *tag, uint64_t value, tw_quality q, int64_t ts_ns)
{
    if (!tag) return TW_ERR_INVALID_ARG;
    if (tag->type == TW_TYPE_UINT64) return set_bits(tag, value, q, ts_ns);
    tw_value v;
    v.type = TW_TYPE_UINT64;
    v.as.u = value;
    return set_any(tag, &v, q, ts_ns);
}

tw_status tw_tag_set_bool(tw_tag *tag, int value, tw_quality q, int64_t ts_ns)
{
    if (!tag) return TW_ERR_INVALID_ARG;
    tw_value v;
    v.type = TW_TYPE_BOOL;
    v.as.b = value ? 1 : 0;
    return set_any(tag, &v, q, ts_ns);
}

tw_status tw_tag_set_datetime(tw_tag *tag, int64_t value_ns, tw_quality q, int64_t ts_ns)
{
    if (!tag) return TW_ERR_INVALID_ARG;
    tw_value v;
    v.type = TW_TYPE_DATETIME;
    v.as.i = value_ns;
    return set_any(tag, &v, q, ts_ns);
}

tw_status tw_tag_set_string(tw_tag *tag, const char *value, tw_quality q, int64_t ts_ns)
{
    if (!tag || !value) return TW_ERR_INVALID_ARG;
    tw_value v;
    v.type = TW_TYPE_STRING;
    v.as.buf.ptr = value;
    v.as.buf.len = strlen(value);
    return set_any(tag, &v, q, ts_ns);
}

tw_status tw_tag_set_bytes(tw_tag *tag, const void *data, size_t len, tw_quality q, int64_t ts_ns)
{
    if (!tag || (!data && len)) return TW_ERR_INVALID_ARG;
    tw_value v;
    v.type = TW_TYPE_BYTES;
    v.as.buf.ptr = data;
    v.as.buf.len = len;
    if (tag->type == TW_TYPE_STRING) v.type = TW_TYPE_STRING; /* checked as UTF-8 */
    return set_any(tag, &v, q, ts_ns);
}

tw_status tw_tag_set_value(tw_tag *tag, const tw_value *value, tw_quality q, int64_t ts_ns)
{
    if (!tag || !value) return TW_ERR_INVALID_ARG;
    return set_any(tag, value, q, ts_ns);
}

tw_status tw_tag_set_quality(tw_tag *tag, tw_quality q, int64_t ts_ns)
{
    if (!tag) return TW_ERR_INVALID_ARG;
    if (!ts_ns) ts_ns = tw_now_ns();
    uint64_t s = tag_lock(tag);
    if (tag->rbe && s >= ST_VINC && atomic_load_explicit(&tag->quality, memory_order_relaxed) == q) {
        tag_unlock(tag, s);
        return TW_OK;
    }
    atomic_store_explicit(&tag->quality, q, memory_order_relaxed);
    atomic_store_explicit(&tag->ts, ts_ns, memory_order_relaxed);
    tag_unlock(tag, (s + ST_VINC) | ST_DIRTY);
    if (!(s & ST_DIRTY)) push_changed(tag);
    return TW_OK;
}

double tw_tag_raw_to_eng(const tw_tag *tag, double raw)
{
    if (!tag) return raw;
    return raw * tag->scale + tag->offset;
}

double tw_tag_eng_to_raw(const tw_tag *tag, double eng)
{
    if (!tag) return eng;
    return (eng - tag->offset) / tag->scale;
}

tw_status tw_tag_set_raw_double(tw_tag *tag, double raw, tw_quality q, int64_t ts_ns)
{
    if (!tag) return TW_ERR_INVALID_ARG;
    return tw_tag_set_double(tag, raw * tag->scale + tag->offset, q, ts_ns);
}

tw_status tw_tag_set_raw_int64(tw_tag *tag, int64_t raw, tw_quality q, int64_t ts_ns)
{
    if (!tag) return TW_ERR_INVALID_ARG;
    if (!tag->scaled) return tw_tag_set_int64(tag, raw, q, ts_ns);
    return tw_tag_set_double(tag, (double)raw * tag->scale + tag->offset, q, ts_ns);
}

/* ---- reading ---- */

tw_status tw_tag_get(const tw_tag *tag, tw_value *out, tw_quality *q, int64_t *ts_ns)
{
    if (!tag) return TW_ERR_INVALID_ARG;
    tw_tag *t = (tw_tag *)(uintptr_t)tag;
    if (is_buf_type(t->type)) {
        unsigned char *copy = NULL;
        if (out) {
            copy = tw__malloc(t->max_len + 1);
            if (!copy) return TW_ERR_NOMEM;
        }
        uint64_t s = tag_lock(t);
        size_t len = t->len;
        if (copy) memcpy(copy, t->live, len + 1);
        tw_quality qq = atomic_load_explicit(&t->quality, memory_order_relaxed);
        int64_t tt = atomic_load_explicit(&t->ts, memory_order_relaxed);
        tag_unlock(t, s);
        if (out) {
            out->type = t->type;
            out->as.buf.ptr = copy;
            out->as.buf.len = len;
        }
        if (q) *q = qq;
        if (ts_ns) *ts_ns = tt;
        return TW_OK;
    }
    uint64_t bits;
    uint32_t qq;
    int64_t tt;
    tag_read(t, &bits, &qq, &tt);
    if (out) bits_to_value(t->type, bits, out);
    if (q) *q = qq;
    if (ts_ns) *ts_ns = tt;
    return TW_OK;
}

tw_status tw_tag_get_buf(const tw_tag *tag, void *buf, size_t cap, size_t *len, tw_quality *q,
                         int64_t *ts_ns)
{
    if (!tag || !len || (!buf && cap)) return TW_ERR_INVALID_ARG;
    tw_tag *t = (tw_tag *)(uintptr_t)tag;
    if (!is_buf_type(t->type)) return TW_ERR_TYPE_MISMATCH;
    uint64_t s = tag_lock(t);
    size_t n = t->len;
    tw_status st = TW_OK;
    if (n > cap) {
        st = TW_ERR_RANGE;
    } else {
        if (n) memcpy(buf, t->live, n);
        if (n < cap) ((unsigned char *)buf)[n] = '\0';
    }
    tw_quality qq = atomic_load_explicit(&t->quality, memory_order_relaxed);
    int64_t tt = atomic_load_explicit(&t->ts, memory_order_relaxed);
    tag_unlock(t, s);
    *len = n;
    if (st == TW_OK) {
        if (q) *q = qq;
        if (ts_ns) *ts_ns = tt;
    }
    return st;
}

tw_status tw_tag_get_double(const tw_tag *tag, double *out, tw_quality *q, int64_t *ts_ns)
{
    if (!tag || !out) return TW_ERR_INVALID_ARG;
    if (!tw_type_is_numeric(tag->type) && tag->type != TW_TYPE_BOOL) return TW_ERR_TYPE_MISMATCH;
    tw_value v, d;
    tw_tag_get(tag, &v, q, ts_ns);
    if (tw_value_convert(&d, &v, TW_TYPE_DOUBLE) != TW_OK) return TW_ERR_TYPE_MISMATCH;
    *out = d.as.d;
    return TW_OK;
}

/* ---- change sets ---- */

/* Reads the tag's current value into `out` using the collector's string buffer. Clears DIRTY
 * when clear_dirty. Returns the version read. */
static uint64_t read_for_collector(tw_tag *t, tw_tag_change *out, int clear_dirty)
{
    uint64_t s;
    out->tag = t;
    if (is_buf_type(t->type)) {
        s = tag_lock(t);
        size_t len = t->len;
        memcpy(t->snap, t->live, len + 1);
        out->quality = atomic_load_explicit(&t->quality, memory_order_relaxed);
        out->ts_ns = atomic_load_explicit(&t->ts, memory_order_relaxed);
        tag_unlock(t, clear_dirty ? (s & ~(uint64_t)ST_DIRTY) : s);
        out->value.type = t->type;
        out->value.as.buf.ptr = t->snap;
        out->value.as.buf.len = len;
        return s >> 2;
    }
    if (clear_dirty) {
        unsigned spins = 0;
        s = atomic_load_explicit(&t->state, memory_order_relaxed);
        for (;;) {
            if (s & ST_LOCK) {
                cpu_relax(&spins);
                s = atomic_load_explicit(&t->state, memory_order_relaxed);
                continue;
            }
            /* From here on, a setter sees DIRTY off and pushes the tag again. */
            if (atomic_compare_exchange_weak_explicit(&t->state, &s, s & ~(uint64_t)ST_DIRTY,
                                                      memory_order_acq_rel, memory_order_relaxed))
                break;
        }
    }
    uint64_t bits;
    uint32_t q;
    int64_t ts;
    s = tag_read(t, &bits, &q, &ts);
    bits_to_value(t->type, bits, &out->value);
    out->quality = q;
    out->ts_ns = ts;
    return s >> 2;
}

/* Takes the whole change stack into ts->pending (newest first). Returns 0 when the array could
 * not hold it (only if the invariant documented at tw_tagset.pending were broken and growing
 * failed): the stack is then left as it was. */
static int take_stack(tw_tagset *ts)
{
    tw__tag_link *first = atomic_exchange_explicit(&ts->head, NULL, memory_order_acquire);
    tw__tag_link *h = first;
    size_t n = 0;
    while (h) {
        if (n == ts->cap_pend) {
            size_t nc = ts->cap_pend ? ts->cap_pend * 2 : 16;
            tw_tag **np = tw__realloc(ts->pending, nc * sizeof *np);
            if (!np) {
                /* put back what was taken: the chain from `first` is intact */
                tw__tag_link *last = h;
                while (atomic_load_explicit(&last->next, memory_order_relaxed))
                    last = atomic_load_explicit(&last->next, memory_order_relaxed);
                tw__tag_link *cur = atomic_load_explicit(&ts->head, memory_order_relaxed);
                do {
                    atomic_store_explicit(&last->next, cur, memory_order_relaxed);
                } while (!atomic_compare_exchange_weak_explicit(&ts->head, &cur, first, memory_order_release,
                                                                memory_order_relaxed));
                return 0;
            }
            ts->pending = np;
            ts->cap_pend = nc;
        }
        ts->pending[n++] = h->tag;
        h = atomic_load_explicit(&h->next, memory_order_relaxed);
    }
    ts->npend = n;
    return 1;
}

tw_status tw_tagset_collect(tw_tagset *ts, tw_tag_change *out, size_t cap, size_t *n, int *more)
{
    if (!ts || !n || (!out && cap)) return TW_ERR_INVALID_ARG;
    *n = 0;
    if (more) *more = 0;
    if (!ts->npend) {
        drain(ts);
        if (!take_stack(ts)) return TW_ERR_NOMEM;
    }
    size_t k = 0, taken = 0;
    /* oldest first: the array is newest first */
    while (ts->npend && k < cap) {
        tw_tag *t = ts->pending[--ts->npend]; /* out of the list before DIRTY is cleared */
        taken++;
#if defined(__GNUC__) || defined(__clang__)
        /* the tags are spread over memory and their first line was last written by a setter's
         * core: ask for a few ahead so that the misses overlap */
        if (ts->npend >= 8) {
            tw_tag *a = ts->pending[ts->npend - 8];
            __builtin_prefetch(a, 1, 3);
            __builtin_prefetch((const char *)a + TW__CACHELINE, 1, 3);
        }
#endif
        uint64_t ver = read_for_collector(t, &out[k], 1);
        if (ver == t->collected_version) continue; /* already reported this version */
        uint64_t c = ver - t->collected_version - 1;
        out[k].coalesced = c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
        t->collected_version = ver;
        k++;
    }
    /* one update of the counter the setters also update, not one per tag */
    if (taken) atomic_fetch_sub_explicit(&ts->npending, taken, memory_order_relaxed);
    *n = k;
    if (more)
        *more = ts->npend != 0 || atomic_load_explicit(&ts->head, memory_order_relaxed) != NULL;
    return TW_OK;
}

tw_status tw_tag_snapshot(tw_tag *tag, tw_tag_change *out)
{
    if (!tag || !out) return TW_ERR_INVALID_ARG;
    read_for_collector(tag, out, 0);
    out->coalesced = 0;
    return TW_OK;
}

size_t tw_tagset_pending(const tw_tagset *ts)
{
    if (!ts) return 0;
    return atomic_load_explicit(&((tw_tagset *)(uintptr_t)ts)->npending, memory_order_relaxed);
}

int tw_tagset_fd(const tw_tagset *ts) { return ts ? ts->evfd_r : -1; }

void tw_tagset_set_notify(tw_tagset *ts, tw_tagset_notify_fn fn, void *user_data)
{
    if (!ts) return;
    ts->notify_fn = fn;
    ts->notify_ud = user_data;
}

/* ---- tag sets: registry ---- */

static uint64_t hash_name(const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t hash_alias(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ull;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebull;
    x ^= x >> 31;
    return x;
}

static tw_tag *lookup_name(const tw_tagset *ts, const char *name, size_t len, uint64_t h)
{
    if (!ts->cap_name) return NULL;
    size_t mask = ts->cap_name - 1;
    for (size_t i = (size_t)h & mask;; i = (i + 1) & mask) {
        tw_tag *t = ts->by_name[i];
        if (!t) return NULL;
        if (t->name_hash == h && t->name_len == len && !memcmp(t->name, name, len)) return t;
    }
}

static tw_tag *lookup_alias(const tw_tagset *ts, uint64_t alias)
{
    if (!ts->cap_alias || !alias) return NULL;
    size_t mask = ts->cap_alias - 1;
    for (size_t i = (size_t)hash_alias(alias) & mask;; i = (i + 1) & mask) {
        tw_tag *t = ts->by_alias[i];
        if (!t) return NULL;
        if (t->alias == alias) return t;
    }
}

static void insert_name(tw_tag **tab, size_t cap, tw_tag *t)
{
    size_t mask = cap - 1;
    size_t i = (size_t)t->name_hash & mask;
    while (tab[i]) i = (i + 1) & mask;
    tab[i] = t;
}

static void insert_alias(tw_tag **tab, size_t cap, tw_tag *t)
{
    size_t mask = cap - 1;
    size_t i = (size_t)hash_alias(t->alias) & mask;
    while (tab[i]) i = (i + 1) & mask;
    tab[i] = t;
}

/* Makes room for one more tag in the vector and both hash tables (load factor <= 1/2). */
static tw_status reserve_one(tw_tagset *ts)
{
    if (ts->ntags == ts->cap_tags) {
        size_t nc = ts->cap_tags ? ts->cap_tags * 2 : 16;
        tw_tag **nv = tw__realloc(ts->tags, nc * sizeof *nv);
        if (!nv) return TW_ERR_NOMEM;
        ts->tags = nv;
        ts->cap_tags = nc;
    }
    if (!ts->chunks || ts->chunk_used == TW__LINK_CHUNK) {
        tw__link_chunk *c = tw__calloc(1, sizeof *c);
        if (!c) return TW_ERR_NOMEM;
        c->prev = ts->chunks;
        ts->chunks = c;
        ts->chunk_used = 0;
    }
    if (ts->cap_pend < ts->cap_tags) { /* see tw_tagset.pending */
        tw_tag **np = tw__realloc(ts->pending, ts->cap_tags * sizeof *np);
        if (!np) return TW_ERR_NOMEM;
        ts->pending = np;
        ts->cap_pend = ts->cap_tags;
    }
    if ((ts->ntags + 1) * 2 > ts->cap_name) {
        size_t nc = ts->cap_name ? ts->cap_name * 2 : 32;
        tw_tag **nn = tw__calloc(nc, sizeof *nn);
        tw_tag **na = tw__calloc(nc, sizeof *na);
        if (!nn || !na) {
            tw__free(nn);
            tw__free(na);
            return TW_ERR_NOMEM;
        }
        for (size_t i = 0; i < ts->ntags; i++) {
            insert_name(nn, nc, ts->tags[i]);
            insert_alias(na, nc, ts->tags[i]);
        }
        tw__free(ts->by_name);
        tw__free(ts->by_alias);
        ts->by_name = nn;
        ts->by_alias = na;
        ts->cap_name = ts->cap_alias = nc;
    }
    return TW_OK;
}

tw_status tw_tagset_new(tw_tagset **out)
{
    if (!out) return TW_ERR_INVALID_ARG;
    *out = NULL;
    tw_status st = tw__check_init();
    if (st) return st;
    tw_tagset *ts = tw__calloc(1, sizeof *ts);
    if (!ts) return tw__err(NULL, MOD, TW_ERR_NOMEM, "tag set: out of memory");
    atomic_init(&ts->head, NULL);
    atomic_init(&ts->npending, 0);
    ts->next_alias = 1;
#ifdef __linux__
    ts->evfd_r = ts->evfd_w = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (ts->evfd_r < 0) {
        int e = errno;
        tw__free(ts);
        tw__log(TW_LOG_ERROR, MOD, "eventfd: %s", strerror(e));
        return tw__err(NULL, MOD, TW_ERR_IO, "tag set: eventfd: %s", strerror(e));
    }
#else
    int p[2];
    if (pipe(p) != 0) {
        int e = errno;
        tw__free(ts);
        return tw__err(NULL, MOD, TW_ERR_IO, "tag set: pipe: %s", strerror(e));
    }
    for (int i = 0; i < 2; i++) {
        fcntl(p[i], F_SETFL, fcntl(p[i], F_GETFL) | O_NONBLOCK);
        fcntl(p[i], F_SETFD, FD_CLOEXEC);
    }
    ts->evfd_r = p[0];
    ts->evfd_w = p[1];
#endif
    *out = ts;
    return TW_OK;
}

static void tag_destroy(tw_tag *t)
{
    if (!t) return;
    tw__free(t->name);
    tw__free(t->unit);
    tw__free(t->description);
    tw__free(t->live);
    tw__free(t->snap);
    tw__free(t->alloc_base);
}

void tw_tagset_free(tw_tagset *ts)
{
    if (!ts) return;
    for (size_t i = 0; i < ts->ntags; i++) tag_destroy(ts->tags[i]);
    tw__free(ts->tags);
    tw__free(ts->pending);
    while (ts->chunks) {
        tw__link_chunk *c = ts->chunks;
        ts->chunks = c->prev;
        tw__free(c);
    }
    tw__free(ts->by_name);
    tw__free(ts->by_alias);
    if (ts->evfd_r >= 0) close(ts->evfd_r);
    if (ts->evfd_w >= 0 && ts->evfd_w != ts->evfd_r) close(ts->evfd_w);
    tw__free(ts);
}

const char *tw_tagset_last_error(const tw_tagset *ts)
{
    if (!ts) return "";
    return ts->err.code ? tw__err_msg(&ts->err) : "";
}

tw_status tw_tagset_last_status(const tw_tagset *ts) { return ts ? ts->err.code : TW_ERR_INVALID_ARG; }

static int finite_d(double d) { return isfinite(d); }

tw_status tw_tagset_add(tw_tagset *ts, tw_tag **out, const char *name, tw_type type,
                        const tw_tag_options *opts)
{
    if (out) *out = NULL;
    if (!ts) return TW_ERR_INVALID_ARG;
    tw__err_clear(&ts->err);
    if (!name) return tw__err(&ts->err, MOD, TW_ERR_INVALID_ARG, "tag name is NULL");
    tw_tag_options o = TW_TAG_OPTIONS_INIT;
    if (opts) {
        if (TW__OPTS_COPY(o, opts, sizeof(tw_tag_options)))
            return tw__err(&ts->err, MOD, TW_ERR_VERSION, "tag options version %u (this library: 1..%u)",
                           (unsigned)opts->version, (unsigned)TW_TAG_OPTIONS_VERSION);
    }
    char why[160];
    tw_status st = tw_tag_name_validate(name, why, sizeof why);
    if (st) return tw__err(&ts->err, MOD, st, "invalid tag name: %s", why);
    if ((int)type <= TW_TYPE_NONE || type >= TW_TYPE_MAX_)
        return tw__err(&ts->err, MOD, TW_ERR_INVALID_ARG, "tag '%s': unsupported type %d", name, (int)type);
    int numeric = tw_type_is_numeric(type);
    if (!finite_d(o.min) || !finite_d(o.max) || !finite_d(o.scale) || !finite_d(o.offset) ||
        !finite_d(o.deadband))
        return tw__err(&ts->err, MOD, TW_ERR_INVALID_ARG, "tag '%s': non-finite option value", name);
    int has_range = !(o.min == 0 && o.max == 0);
    if (has_range && !(o.min < o.max))
        return tw__err(&ts->err, MOD, TW_ERR_INVALID_ARG, "tag '%s': min must be below max", name);
    if (o.scale == 0) o.scale = 1;
    int scaled = o.scale != 1 || o.offset != 0;
    if (scaled && !numeric)
        return tw__err(&ts->err, MOD, TW_ERR_INVALID_ARG, "tag '%s': scaling needs a numeric type", name);
    if (o.deadband < 0)
        return tw__err(&ts->err, MOD, TW_ERR_INVALID_ARG, "tag '%s': negative deadband", name);
    if (o.deadband_mode != TW_DEADBAND_ABSOLUTE && o.deadband_mode != TW_DEADBAND_PERCENT)
        return tw__err(&ts->err, MOD, TW_ERR_INVALID_ARG, "tag '%s': unknown deadband mode", name);
    if (o.deadband > 0 && !numeric)
        return tw__err(&ts->err, MOD, TW_ERR_INVALID_ARG, "tag '%s': deadband on a non-numeric type", name);
    if (o.deadband_mode == TW_DEADBAND_PERCENT && !has_range)
        return tw__err(&ts->err, MOD, TW_ERR_INVALID_ARG, "tag '%s': percent deadband needs min and max", name);
    if ((int)o.access < TW_ACCESS_DEFAULT || o.access > TW_ACCESS_READ_WRITE)
        return tw__err(&ts->err, MOD, TW_ERR_INVALID_ARG, "tag '%s': unknown access", name);
    if (o.access == TW_ACCESS_DEFAULT) o.access = TW_ACCESS_READ;
    size_t max_len = 0;
    if (is_buf_type(type)) {
        max_len = o.max_len ? o.max_len : TW_TAG_DEFAULT_MAX_LEN;
        if (max_len > MAX_BUF_LEN)
            return tw__err(&ts->err, MOD, TW_ERR_INVALID_ARG, "tag '%s': max_len above %u", name, MAX_BUF_LEN);
    }
    size_t len = strlen(name);
    uint64_t h = hash_name(name, len);
    if (lookup_name(ts, name, len, h))
        return tw__err(&ts->err, MOD, TW_ERR_EXISTS, "tag '%s' already exists", name);
    if (o.alias && lookup_alias(ts, o.alias))
        return tw__err(&ts->err, MOD, TW_ERR_EXISTS, "tag '%s': alias %llu already used by '%s'", name,
                       (unsigned long long)o.alias, lookup_alias(ts, o.alias)->name);
    if (reserve_one(ts)) return tw__err(&ts->err, MOD, TW_ERR_NOMEM, "out of memory");

    void *base = tw__malloc(sizeof(tw_tag) + TW__CACHELINE - 1);
    if (!base) return tw__err(&ts->err, MOD, TW_ERR_NOMEM, "out of memory");
    tw_tag *t = (tw_tag *)(((uintptr_t)base + TW__CACHELINE - 1) & ~(uintptr_t)(TW__CACHELINE - 1));
    memset(t, 0, sizeof *t);
    t->alloc_base = base;
    t->name = tw__strndup(name, len);
    t->unit = tw__strdup(o.unit ? o.unit : "");
    t->description = tw__strdup(o.description ? o.description : "");
    if (max_len) {
        t->live = tw__calloc(1, max_len + 1);
        t->snap = tw__calloc(1, max_len + 1);
    }
    if (!t->name || !t->unit || !t->description || (max_len && (!t->live || !t->snap))) {
        tag_destroy(t);
        return tw__err(&ts->err, MOD, TW_ERR_NOMEM, "out of memory");
    }
    atomic_init(&t->state, 0);
    atomic_init(&t->value, 0);
    atomic_init(&t->ts, 0);
    atomic_init(&t->quality, TW_QUALITY_BAD_WAITING_FOR_INITIAL);
    t->link = &ts->chunks->l[ts->chunk_used++];
    t->link->tag = t;
    atomic_init(&t->link->next, NULL);
    t->type = type;
    t->rbe = o.report_every_sample ? 0 : 1;
    t->has_range = (uint8_t)has_range;
    t->scaled = (uint8_t)scaled;
    t->deadband_abs = o.deadband_mode == TW_DEADBAND_PERCENT ? o.deadband / 100.0 * (o.max - o.min)
                                                             : o.deadband;
    t->scale = o.scale;
    t->offset = o.offset;
    t->set = ts;
    t->max_len = max_len;
    t->name_len = len;
    t->name_hash = h;
    t->min = has_range ? o.min : 0;
    t->max = has_range ? o.max : 0;
    t->access = o.access;
    t->deadband_mode = o.deadband_mode;
    t->deadband = o.deadband;
    t->user_data = o.user_data;
    if (o.alias) {
        t->alias = o.alias;
    } else {
        while (lookup_alias(ts, ts->next_alias)) ts->next_alias++;
        t->alias = ts->next_alias++;
    }
    ts->tags[ts->ntags++] = t;
    insert_name(ts->by_name, ts->cap_name, t);
    insert_alias(ts->by_alias, ts->cap_alias, t);
    if (out) *out = t;
    return TW_OK;
}

tw_tag *tw_tagset_find(const tw_tagset *ts, const char *name)
{
    if (!ts || !name) return NULL;
    size_t len = strnlen(name, TW_TAG_NAME_MAX);
    if (len >= TW_TAG_NAME_MAX) return NULL;
    return lookup_name(ts, name, len, hash_name(name, len));
}

tw_tag *tw_tagset_find_alias(const tw_tagset *ts, uint64_t alias)
{
    return ts ? lookup_alias(ts, alias) : NULL;
}

size_t tw_tagset_count(const tw_tagset *ts) { return ts ? ts->ntags : 0; }

tw_tag *tw_tagset_at(const tw_tagset *ts, size_t index)
{
    return ts && index < ts->ntags ? ts->tags[index] : NULL;
}

/* ---- writes ---- */

void tw_tag_set_write_cb(tw_tag *tag, tw_tag_write_fn fn, void *user_data)
{
    if (!tag) return;
    tag->write_fn = fn;
    tag->write_ud = user_data;
}

void tw_tagset_set_write_cb(tw_tagset *ts, tw_tag_write_fn fn, void *user_data)
{
    if (!ts) return;
    ts->write_fn = fn;
    ts->write_ud = user_data;
}

tw_status tw_tag_write(tw_tag *tag, const tw_value *value)
{
    if (!tag) return TW_ERR_INVALID_ARG;
    tw_tagset *ts = tag->set;
    tw__err_clear(&ts->err);
    if (!value) return tw__err(&ts->err, MOD, TW_ERR_INVALID_ARG, "write to '%s': no value", tag->name);
    if (!(tag->access & TW_ACCESS_WRITE))
        return tw__err(&ts->err, MOD, TW_ERR_PERMISSION, "write to '%s' refused: the tag is read-only",
                       tag->name);
    tw_value v;
    tw_status st = tw_value_convert(&v, value, tag->type);
    if (st)
        return tw__err(&ts->err, MOD, st, "write to '%s': a %s value does not convert to %s (%s)",
                       tag->name, tw_type_name(value->type) ? tw_type_name(value->type) : "?",
                       tw_type_name(tag->type), tw_strerror(st));
    if (is_buf_type(tag->type) && v.as.buf.len > tag->max_len)
        return tw__err(&ts->err, MOD, TW_ERR_RANGE, "write to '%s': %zu bytes exceed max_len %zu",
                       tag->name, v.as.buf.len, tag->max_len);
    if (tag->has_range) {
        tw_value d;
        if (tw_value_convert(&d, &v, TW_TYPE_DOUBLE) == TW_OK &&
            (!(d.as.d >= tag->min) || !(d.as.d <= tag->max)))
            return tw__err(&ts->err, MOD, TW_ERR_RANGE, "write to '%s': %g outside [%g, %g]", tag->name,
                           d.as.d, tag->min, tag->max);
    }
    tw_tag_write_fn fn = tag->write_fn ? tag->write_fn : ts->write_fn;
    void *ud = tag->write_fn ? tag->write_ud : ts->write_ud;
    if (!fn)
        return tw__err(&ts->err, MOD, TW_ERR_UNSUPPORTED, "write to '%s': no write callback", tag->name);
    st = fn(tag, &v, ud);
    if (st) return tw__err(&ts->err, MOD, st, "write to '%s' failed: %s", tag->name, tw_strerror(st));
    return TW_OK;
}

/* ---- metadata ---- */

const char *tw_tag_name(const tw_tag *tag) { return tag ? tag->name : NULL; }
uint64_t tw_tag_alias(const tw_tag *tag) { return tag ? tag->alias : 0; }
tw_type tw_tag_type(const tw_tag *tag) { return tag ? tag->type : TW_TYPE_NONE; }
const char *tw_tag_unit(const tw_tag *tag) { return tag ? tag->unit : ""; }
const char *tw_tag_description(const tw_tag *tag) { return tag ? tag->description : ""; }
tw_access tw_tag_access(const tw_tag *tag) { return tag ? tag->access : TW_ACCESS_READ; }
int tw_tag_rbe(const tw_tag *tag) { return tag ? tag->rbe : 1; }
size_t tw_tag_max_len(const tw_tag *tag) { return tag ? tag->max_len : 0; }
void *tw_tag_user_data(const tw_tag *tag) { return tag ? tag->user_data : NULL; }
tw_tagset *tw_tag_tagset(const tw_tag *tag) { return tag ? tag->set : NULL; }

int tw_tag_range(const tw_tag *tag, double *min, double *max)
{
    if (!tag || !tag->has_range) return 0;
    if (min) *min = tag->min;
    if (max) *max = tag->max;
    return 1;
}

void tw_tag_scaling(const tw_tag *tag, double *scale, double *offset)
{
    if (scale) *scale = tag ? tag->scale : 1;
    if (offset) *offset = tag ? tag->offset : 0;
}

void tw_tag_deadband(const tw_tag *tag, tw_deadband_mode *mode, double *value, double *absolute)
{
    if (mode) *mode = tag ? tag->deadband_mode : TW_DEADBAND_ABSOLUTE;
    if (value) *value = tag ? tag->deadband : 0;
    if (absolute) *absolute = tag ? tag->deadband_abs : 0;
}

const char *tw_access_name(tw_access a)
{
    switch (a) {
    case TW_ACCESS_DEFAULT:
    case TW_ACCESS_READ: return "read";
    case TW_ACCESS_WRITE: return "write";
    case TW_ACCESS_READ_WRITE: return "read-write";
    default: return "unknown";
    }
}
