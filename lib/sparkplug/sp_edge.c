/*
 * Sparkplug B 3.0 edge node session (tagwire/edge.h): the state machine over one MQTT client.
 *
 * One MQTT client per connection attempt: the NDEATH will carries the bdSeq of the session, and
 * bdSeq changes at every connect, so the client (whose will is fixed at creation) is created
 * for each attempt with automatic reconnect off; the edge does the back-off itself.
 *
 * Data path: tw_tagset_collect() -> (queue, when it cannot be published now) -> tw_sp_metric
 * array -> tw_sp_encode_data() into a preallocated buffer -> tw_mqtt_client_publish() (copied
 * into the client's output ring). Nothing on it allocates.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sp_edge_internal.h"
#include "sp_internal.h"
#include "tagwire/mqtt.h"

#define MOD "edge"
#define BDSEQ_FILE "sparkplug-bdseq"
#define TOPIC_MAX 1024

/* ---- the memory queue: a FIFO of variable-size records in one buffer ---------------------- */

typedef struct qrec {
    uint32_t size;     /* whole record, header included, multiple of 8 */
    uint32_t set_id;
    uint64_t alias;    /* the tag's alias in its set */
    int64_t ts_ns;
    uint64_t scalar;   /* value bits (scalars) or length (string/bytes; bytes follow) */
    uint64_t sseq;     /* store sequence number (durable history), 0 = memory only */
    uint64_t token;    /* memory only: MQTT token of its publish, awaiting confirmation */
    uint32_t quality;
    uint16_t type;
    uint8_t hist;
    uint8_t pad_;
} qrec;

/* Durable history: a history record in the tw_store (host byte order; the store is local). */
typedef struct srec_hdr {
    uint8_t ver;       /* 1 */
    uint8_t type;      /* tw_type */
    uint8_t hist;
    uint8_t devlen;    /* device id length; 0 = node tags */
    uint32_t quality;
    uint64_t alias;    /* the tag's alias in its set */
    int64_t ts_ns;
    uint64_t scalar;   /* value bits, or the length of the bytes after the device id */
} srec_hdr;

#define ACK_RING 1024 /* publishes of stored history awaiting confirmation */

typedef struct edge_set {
    char *device_id;  /* NULL: the node's own tags */
    tw_tagset *ts;
    uint32_t id;      /* stable id for queue records */
    int online;       /* device online (node set: always 1) */
    int born;         /* birth published in this session */
    int need_birth;
    int need_death;   /* DDEATH to publish */
    uint64_t hold_from; /* lowest store seq of this set held back (0 = none) */
    uint64_t base, span; /* wire alias = base + tag alias; tag alias < span */
    char *t_data, *t_birth, *t_death; /* topics */
} edge_set;

struct tw_edge {
    tw_edge_options o;
    char *group, *node, *host_id, *mqtt_host, *client_id, *username, *state_dir;
    uint8_t *password;
    tw_tls_config *tls;
    tw_transport *tls_keep; /* an idle transport: holds a reference on the TLS config */
    tw__error err;
    tw_status pending_status; /* first error seen in this step, returned by process */

    tw_edge_event_fn ev_fn;
    void *ev_ud;

    tw_mqtt_client *mc;
    tw_edge_state state;
    int started;
    int conn_up;          /* CONNACK received on mc */
    int conn_lost;        /* mc ended: free it in process */
    int window_full;      /* QoS 1 window full (the broker's Receive Maximum): wait for an ack */
    int ring_full;        /* MQTT output ring full: wait until it was written */
    tw_status lost_reason;
    int64_t next_attempt_ms;
    uint32_t attempt;

    int bdseq_valid;
    int first_saved;      /* tw_edge_start() saved the first bdSeq already */
    uint8_t bdseq;        /* current session */
    uint8_t seq;          /* next seq */
    int need_nbirth;
    int nborn;            /* NBIRTH published in this session */
    int ever_born;        /* an NBIRTH was published once: later outages are history */
    int host_online;      /* 1 when there is no primary host */
    int host_known;
    int host_terminate;   /* the host went offline: end this session (NDEATH + DISCONNECT) */
    uint64_t host_ts;

    edge_set node_set;    /* device_id NULL; ts may be NULL */
    edge_set **devs;
    size_t ndevs, devs_cap;
    uint32_t next_set_id;
    uint64_t next_base;

    /* data path buffers */
    uint8_t *pay;
    size_t pay_cap;
    tw_sp_metric *metrics;
    tw_tag_change *changes;
    size_t max_metrics;

    /* queue */
    uint8_t *q;
    size_t q_cap, q_head, q_tail, q_count;
    /* [q_head, q_pend): memory records published and awaiting the broker's confirmation (no
     * store); [q_pend, q_tail): records to publish. q_nunconf counts the first part. */
    size_t q_pend, q_nunconf;

    /* durable history (o.store) */
    uint8_t *sbuf;        /* serialisation buffer (max_payload bytes) */
    struct { uint64_t token, sseq; } acks[ACK_RING];
    size_t ack_head, ack_count;
    int store_more;       /* unread records may be in the store */
    uint64_t last_token;  /* token of the last publish */
    uint64_t hist_below;  /* store records with a lower seq predate the current session */
    uint64_t read_max;    /* highest store seq read so far */
    uint64_t delivered_max; /* highest store seq the broker confirmed */
    uint64_t rescan_upto; /* after a rewind: records <= this were read before */
    uint64_t hold_seq;    /* lowest store seq held back (device offline/unknown); 0 = none */
    int need_rescan;      /* a held device came back: read the store again from the watermark */
    tw_status refusing;   /* the store refuses appends (TW_ERR_FULL / TW_ERR_NO_SPACE) since
                             the last accepted one: reported once per episode; TW_OK = not */
    uint64_t refused_run; /* changes refused in the current episode */
    char **removed;       /* devices removed with tw_edge_remove_device(): their history goes */
    size_t nremoved;

    /* step */
    struct pollfd *pfds;
    size_t pfds_cap;

    char t_ncmd[TOPIC_MAX], t_dcmd[TOPIC_MAX], t_state[TOPIC_MAX], t_nbirth[TOPIC_MAX],
        t_ndata[TOPIC_MAX], t_ndeath[TOPIC_MAX];

    tw_edge_stats st;
};

/* ---- small helpers -------------------------------------------------------------------------- */

const char *tw_edge_state_name(tw_edge_state s)
{
    switch (s) {
    case TW_EDGE_STOPPED: return "stopped";
    case TW_EDGE_CONNECTING: return "connecting";
    case TW_EDGE_WAITING_HOST: return "waiting-host";
    case TW_EDGE_ONLINE: return "online";
    case TW_EDGE_BACKOFF: return "backoff";
    }
    return "unknown";
}

static void emit(tw_edge *e, tw_edge_event_type type, tw_status status, const char *device,
                 const char *metric, uint64_t alias, const char *msg)
{
    if (!e->ev_fn) return;
    tw_edge_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = type;
    ev.state = e->state;
    ev.status = status;
    ev.device_id = device;
    ev.metric = metric;
    ev.alias = alias;
    ev.message = msg ? msg : "";
    ev.host_online = e->host_online;
    ev.host_timestamp_ms = e->host_ts;
    e->ev_fn(e, &ev, e->ev_ud);
}

static void set_state(tw_edge *e, tw_edge_state s, tw_status reason)
{
    if (e->state == s) return;
    tw__log(TW_LOG_INFO, MOD, "%s/%s: %s -> %s", e->group, e->node, tw_edge_state_name(e->state),
            tw_edge_state_name(s));
    e->state = s;
    emit(e, TW_EDGE_EVENT_STATE, reason, NULL, NULL, 0,
         reason != TW_OK ? tw__err_msg(&e->err) : "");
}

/* Records an error the session survives: last error, pending status, log, event. */
static tw_status survive(tw_edge *e, tw_status code, const char *fmt, ...) TW__PRINTF(3, 4);
static tw_status survive(tw_edge *e, tw_status code, const char *fmt, ...)
{
    char buf[TW__ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    tw__err(&e->err, MOD, code, "%s", buf);
    tw__log(TW_LOG_WARN, MOD, "%s/%s: %s", e->group, e->node, buf);
    if (e->pending_status == TW_OK) e->pending_status = code;
    emit(e, TW_EDGE_EVENT_ERROR, code, NULL, NULL, 0, buf);
    return code;
}

static int64_t now_ms(void) { return tw_now_ns() / 1000000; }

static int64_t ts_to_ms(int64_t ts_ns)
{
    if (ts_ns <= 0) return now_ms();
    return ts_ns / 1000000;
}

static int qos_of(const tw_edge *e) { return e->o.qos; }

/* ---- bdSeq persistence ------------------------------------------------------------------------- */

/* Reads the bdSeq of the last session from state_dir. *found = 0 when there is none. */
#define BDSEQ_KEY "sparkplug-bdseq"

static tw_status bdseq_load(tw_edge *e, int *found, uint8_t *val)
{
    *found = 0;
    if (e->o.store) {
        uint64_t v = 0;
        tw_status st = tw_store_state_get_u64(e->o.store, BDSEQ_KEY, &v);
        if (st == TW_ERR_NOT_FOUND) return TW_OK;
        if (st != TW_OK)
            return tw__err(&e->err, MOD, st, "cannot read bdSeq from the store: %s",
                           tw_store_last_error(e->o.store));
        if (v > 255) return tw__err(&e->err, MOD, TW_ERR_CORRUPT, "stored bdSeq %llu is not 0..255",
                                    (unsigned long long)v);
        *found = 1;
        *val = (uint8_t)v;
        return TW_OK;
    }
    if (!e->state_dir) return TW_OK;
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", e->state_dir, BDSEQ_FILE);
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return TW_OK;
        return tw__err(&e->err, MOD, tw__status_from_errno(errno), "cannot read %s: %s", path,
                       strerror(errno));
    }
    char line[64];
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    char *end = NULL;
    errno = 0;
    unsigned long v = strtoul(line, &end, 10);
    if (end == line || errno || v > 255 || (*end != '\n' && *end != '\0'))
        return tw__err(&e->err, MOD, TW_ERR_CORRUPT, "%s is corrupt (expected a number 0..255)",
                       path);
    *found = 1;
    *val = (uint8_t)v;
    return TW_OK;
}

/* Atomically replaces the stored bdSeq: temp file, fsync, rename, fsync of the directory. */
static tw_status bdseq_save(tw_edge *e, uint8_t v)
{
    if (e->o.store) {
        tw_status st = tw_store_state_set_u64(e->o.store, BDSEQ_KEY, v);
        if (st != TW_OK)
            return tw__err(&e->err, MOD, st, "cannot save bdSeq in the store: %s",
                           tw_store_last_error(e->o.store));
        return TW_OK;
    }
    if (!e->state_dir) return TW_OK;
    char line[16];
    int n = snprintf(line, sizeof line, "%u\n", (unsigned)v);
    tw_status st = tw__file_write_atomic(e->state_dir, BDSEQ_FILE, line, (size_t)n, &e->err, MOD, NULL);
    if (st != TW_OK)
        tw__log(TW_LOG_ERROR, MOD, "cannot save bdSeq: %s", tw__err_msg(&e->err));
    return st;
}

/* ---- queue --------------------------------------------------------------------------------------- */

static size_t rec_size(const tw_value *v)
{
    size_t n = sizeof(qrec);
    if (v->type == TW_TYPE_STRING || v->type == TW_TYPE_BYTES) n += v->as.buf.len;
    return (n + 7u) & ~(size_t)7u;
}

/* The 64 bits stored for a value: its bits for scalars, its length for STRING/BYTES. */
static uint64_t value_bits(const tw_value *v)
{
    uint64_t b = 0;
    switch (v->type) {
    case TW_TYPE_STRING:
    case TW_TYPE_BYTES: b = v->as.buf.len; break;
    case TW_TYPE_BOOL: b = (uint64_t)(v->as.b ? 1 : 0); break;
    case TW_TYPE_FLOAT: memcpy(&b, &v->as.f, sizeof(float)); break;
    case TW_TYPE_DOUBLE: memcpy(&b, &v->as.d, sizeof(double)); break;
    default: memcpy(&b, &v->as.u, sizeof(uint64_t)); break;
    }
    return b;
}

/* Records waiting to be published (the unconfirmed ones excluded). */
static size_t q_todo(const tw_edge *e) { return e->q_count - e->q_nunconf; }

static void q_drop_head(tw_edge *e)
{
    qrec *r = (qrec *)(void *)(e->q + e->q_head);
    if (e->q_head < e->q_pend) e->q_nunconf--;
    e->q_head += r->size;
    e->q_count--;
    if (e->q_pend < e->q_head) e->q_pend = e->q_head;
    if (e->q_head == e->q_tail) e->q_head = e->q_tail = e->q_pend = 0;
}

/* Memory records the broker confirmed leave the queue (no store). */
static void q_confirm(tw_edge *e, uint64_t conf)
{
    while (e->q_nunconf) {
        qrec *r = (qrec *)(void *)(e->q + e->q_head);
        if (r->token > conf) break;
        q_drop_head(e);
    }
}

/* Appends a change. Drops the oldest records when the queue is full. */
static void q_push_raw(tw_edge *e, uint32_t set_id, uint64_t alias, const tw_value *v,
                       tw_quality q, int64_t ts_ns, int hist, uint64_t sseq)
{
    size_t need = rec_size(v);
    if (need > e->q_cap) {
        e->st.queue_dropped++;
        return;
    }
    if (e->q_tail + need > e->q_cap) {
        if (e->q_cap - (e->q_tail - e->q_head) < need) {
            /* full: drop the oldest, with some slack so that this does not repeat per record */
            size_t want = need + e->q_cap / 16u;
            if (want > e->q_cap) want = need;
            uint64_t dropped = 0;
            while (e->q_count && e->q_cap - (e->q_tail - e->q_head) < want) {
                q_drop_head(e);
                dropped++;
            }
            e->st.queue_dropped += dropped;
            if (dropped)
                survive(e, TW_ERR_FULL, "memory queue full: %llu oldest changes dropped",
                        (unsigned long long)dropped);
        }
        if (e->q_head) {
            memmove(e->q, e->q + e->q_head, e->q_tail - e->q_head);
            e->q_tail -= e->q_head;
            e->q_pend -= e->q_head;
            e->q_head = 0;
        }
    }
    qrec *r = (qrec *)(void *)(e->q + e->q_tail);
    memset(r, 0, sizeof *r);
    r->size = (uint32_t)need;
    r->set_id = set_id;
    r->alias = alias;
    r->ts_ns = ts_ns > 0 ? ts_ns : tw_now_ns();
    r->quality = q;
    r->type = (uint16_t)v->type;
    r->hist = (uint8_t)(hist ? 1 : 0);
    r->sseq = sseq;
    r->scalar = value_bits(v);
    if ((v->type == TW_TYPE_STRING || v->type == TW_TYPE_BYTES) && v->as.buf.len)
        memcpy(r + 1, v->as.buf.ptr, v->as.buf.len);
    e->q_tail += need;
    e->q_count++;
}

static void q_push(tw_edge *e, uint32_t set_id, const tw_tag_change *c, int hist)
{
    q_push_raw(e, set_id, tw_tag_alias(c->tag), &c->value, c->quality, c->ts_ns, hist, 0);
}

static void rec_value(const qrec *r, tw_value *v)
{
    memset(v, 0, sizeof *v);
    v->type = (tw_type)r->type;
    switch (v->type) {
    case TW_TYPE_STRING:
    case TW_TYPE_BYTES:
        v->as.buf.ptr = r + 1;
        v->as.buf.len = (size_t)r->scalar;
        break;
    case TW_TYPE_BOOL: v->as.b = r->scalar ? 1 : 0; break;
    case TW_TYPE_FLOAT: memcpy(&v->as.f, &r->scalar, sizeof(float)); break;
    case TW_TYPE_DOUBLE: memcpy(&v->as.d, &r->scalar, sizeof(double)); break;
    default: memcpy(&v->as.u, &r->scalar, sizeof(uint64_t)); break;
    }
}

/* ---- durable history in the tw_store --------------------------------------------------------- */

/* Appends one change (live or history) to the store: the single path of data with a store. */
static void store_push(tw_edge *e, const char *device, const tw_tag_change *c, int hist)
{
    size_t dl = device ? strlen(device) : 0;
    size_t vl = (c->value.type == TW_TYPE_STRING || c->value.type == TW_TYPE_BYTES) ? c->value.as.buf.len : 0;
    size_t n = sizeof(srec_hdr) + dl + vl;
    if (dl > 255 || n > e->pay_cap) {
        e->st.queue_dropped++;
        survive(e, TW_ERR_RANGE, "a change too large for the history store was dropped");
        return;
    }
    srec_hdr h;
    memset(&h, 0, sizeof h);
    h.ver = 1;
    h.type = (uint8_t)c->value.type;
    h.hist = (uint8_t)(hist ? 1 : 0);
    h.devlen = (uint8_t)dl;
    h.quality = c->quality;
    h.alias = tw_tag_alias(c->tag);
    h.ts_ns = c->ts_ns > 0 ? c->ts_ns : tw_now_ns();
    h.scalar = value_bits(&c->value);
    memcpy(e->sbuf, &h, sizeof h);
    if (dl) memcpy(e->sbuf + sizeof h, device, dl);
    if (vl) memcpy(e->sbuf + sizeof h + dl, c->value.as.buf.ptr, vl);
    tw_status st = tw_store_append(e->o.store, NULL, e->sbuf, n);
    if (st == TW_ERR_FULL || st == TW_ERR_NO_SPACE) {
        /* The store is full and keeps what it has (overflow policy refuse new, or a full disk):
         * this change is lost (counted in the store's refused_* and in queue_dropped; the tag's
         * current value goes out with the next birth). Reported once when it starts, not for
         * every change (a log line per refused value would bury the log), and once when the
         * store accepts again. */
        e->st.queue_dropped++;
        e->refused_run++;
        if (e->refusing != st) {
            e->refusing = st;
            survive(e, st, "history store full: new changes are refused and lost until the broker "
                    "confirms stored ones (%s); the tags' current values go out with the next birth",
                    tw_store_last_error(e->o.store));
        }
        return;
    }
    if (st != TW_OK) {
        e->st.queue_dropped++;
        survive(e, st, "history store: %s", tw_store_last_error(e->o.store));
        return;
    }
    if (e->refusing) {
        tw__log(TW_LOG_WARN, MOD, "%s/%s: history store accepts changes again; %llu change(s) were "
                "refused while it was full", e->group, e->node, (unsigned long long)e->refused_run);
        e->refusing = TW_OK;
        e->refused_run = 0;
    }
    e->store_more = 1;
}

static edge_set *dev_by_name(tw_edge *e, const char *id, size_t len);

/* Holds back store record `seq` of set s (NULL: a device not registered): it is neither published
 * nor acknowledged until its device is online again (then the store is read again from the
 * watermark) or removed. */
static void store_release(tw_edge *e);
static int removed_device(const tw_edge *e, const char *id, size_t len)
{
    for (size_t i = 0; i < e->nremoved; i++)
        if (strlen(e->removed[i]) == len && memcmp(e->removed[i], id, len) == 0) return 1;
    return 0;
}

static void store_hold(tw_edge *e, edge_set *s, uint64_t seq)
{
    if (!e->hold_seq || seq < e->hold_seq) e->hold_seq = seq;
    if (s && (!s->hold_from || seq < s->hold_from)) s->hold_from = seq;
}

/* Acknowledges up to seq, never at or beyond a held record. */
static void store_ack_upto(tw_edge *e, uint64_t seq)
{
    if (e->hold_seq && seq >= e->hold_seq) seq = e->hold_seq - 1;
    if (!seq) return;
    if (tw_store_ack(e->o.store, seq) != TW_OK)
        survive(e, TW_ERR_STORE, "store: %s", tw_store_last_error(e->o.store));
}

/* Loads stored records into the (empty) memory queue, oldest first, while it has room. */
static void store_refill(tw_edge *e)
{
    if (!e->o.store || !e->store_more || e->q_count) return;
    size_t room = sizeof(qrec) + e->pay_cap + 8;
    while (e->q_cap - (e->q_tail - e->q_head) >= room || !e->q_count) {
        if (e->ack_count == ACK_RING) return;
        tw_store_record r;
        tw_status st = tw_store_read(e->o.store, &r);
        if (st == TW_ERR_AGAIN) {
            e->store_more = 0;
            if (e->rescan_upto && e->read_max >= e->rescan_upto) {
                e->rescan_upto = 0;
                if (!e->hold_seq) { /* nothing held any more */
                    e->node_set.hold_from = 0;
                    for (size_t i = 0; i < e->ndevs; i++) e->devs[i]->hold_from = 0;
                }
            }
            return;
        }
        if (st != TW_OK) {
            survive(e, st, "store: %s", tw_store_last_error(e->o.store));
            return;
        }
        if (r.seq > e->read_max) e->read_max = r.seq;
        srec_hdr h;
        const uint8_t *d = r.data;
        int ok = r.len >= sizeof h;
        if (ok) {
            memcpy(&h, d, sizeof h);
            size_t rest = r.len - sizeof h;
            ok = h.ver == 1 && h.type > TW_TYPE_NONE && h.type < TW_TYPE_MAX_ && h.devlen <= rest;
            if (ok && (h.type == TW_TYPE_STRING || h.type == TW_TYPE_BYTES))
                ok = h.scalar == rest - h.devlen;
            else if (ok)
                ok = rest == h.devlen;
        }
        if (!ok) {
            /* malformed: skipped (acknowledged with the records after it) */
            survive(e, TW_ERR_CORRUPT, "store: malformed record %llu skipped",
                    (unsigned long long)r.seq);
            if (!e->q_count && !e->ack_count) store_ack_upto(e, r.seq);
            continue;
        }
        edge_set *s = h.devlen ? dev_by_name(e, (const char *)d + sizeof h, h.devlen)
                               : (e->node_set.ts ? &e->node_set : NULL);
        if (s && r.seq <= e->rescan_upto && r.seq <= e->delivered_max &&
            (!s->hold_from || r.seq < s->hold_from)) {
            /* read again after a rewind: the broker confirmed it before (it was not held back) */
            if (!e->q_count && !e->ack_count) store_ack_upto(e, r.seq);
            continue;
        }
        if (!s && h.devlen && removed_device(e, (const char *)d + sizeof h, h.devlen)) {
            /* its device was removed (tw_edge_remove_device): its history goes with it */
            if (!e->q_count && !e->ack_count) store_ack_upto(e, r.seq);
            continue;
        }
        if (!s || !s->online) {
            /* device offline or not registered: held back, never acknowledged */
            store_hold(e, s, r.seq);
            continue;
        }
        tw_value v;
        memset(&v, 0, sizeof v);
        v.type = (tw_type)h.type;
        if (v.type == TW_TYPE_STRING || v.type == TW_TYPE_BYTES) {
            v.as.buf.ptr = d + sizeof h + h.devlen;
            v.as.buf.len = (size_t)h.scalar;
        } else {
            qrec tmp;
            memset(&tmp, 0, sizeof tmp);
            tmp.type = h.type;
            tmp.scalar = h.scalar;
            rec_value(&tmp, &v);
        }
        /* older than the current session's births: historical */
        int hist = h.hist || r.seq < e->hist_below ||
                   (s->hold_from && r.seq >= s->hold_from && r.seq <= e->rescan_upto);
        q_push_raw(e, s->id, h.alias, &v, h.quality, h.ts_ns, hist, r.seq);
    }
}

/* Acknowledges what the broker confirmed: stored records up to their watermark (never past a held
 * record), memory records leave the queue. */
static void store_confirm(tw_edge *e)
{
    if (!e->mc) return;
    if (!e->o.store) {
        if (e->q_nunconf) q_confirm(e, tw_mqtt_client_confirmed(e->mc));
        return;
    }
    if (!e->ack_count) return;
    uint64_t conf = tw_mqtt_client_confirmed(e->mc);
    uint64_t seq = 0;
    while (e->ack_count && e->acks[e->ack_head].token <= conf) {
        seq = e->acks[e->ack_head].sseq;
        e->ack_head = (e->ack_head + 1) % ACK_RING;
        e->ack_count--;
    }
    if (seq > e->delivered_max) e->delivered_max = seq;
    if (seq) store_ack_upto(e, seq);
}

/* Reads the store again from its watermark: after a reconnect, or when a held device is back. */
static void store_rescan(tw_edge *e)
{
    while (e->q_count) {
        qrec *r = (qrec *)(void *)(e->q + e->q_head);
        if (!r->sseq) break;
        q_drop_head(e);
    }
    e->ack_head = e->ack_count = 0;
    e->rescan_upto = e->read_max;
    e->hold_seq = 0; /* found again while reading */
    e->need_rescan = 0;
    tw_store_rewind(e->o.store);
    e->store_more = 1;
}

/* The connection ended. Store: unconfirmed records are read again from the store after the next
 * births, flagged historical. Memory: unconfirmed records are published again, historical. */
static void store_rewind(tw_edge *e)
{
    if (e->o.store) {
        tw_store_stats st;
        memset(&st, 0, sizeof st);
        st.version = TW_STORE_STATS_VERSION;
        if (tw_store_stats_get(e->o.store, &st) == TW_OK) e->hist_below = st.next_seq;
        store_rescan(e);
        return;
    }
    e->q_pend = e->q_head;
    e->q_nunconf = 0;
}

/* A held device came back (online, registered) or was removed: read the store again. */
static void store_release(tw_edge *e)
{
    if (e->o.store && e->hold_seq) e->need_rescan = 1;
}

/* ---- sets ---------------------------------------------------------------------------------------- */

static edge_set *set_by_id(tw_edge *e, uint32_t id)
{
    if (e->node_set.ts && e->node_set.id == id) return &e->node_set;
    for (size_t i = 0; i < e->ndevs; i++)
        if (e->devs[i]->id == id) return e->devs[i];
    return NULL;
}

static edge_set *dev_by_name(tw_edge *e, const char *id, size_t len)
{
    for (size_t i = 0; i < e->ndevs; i++) {
        const char *d = e->devs[i]->device_id;
        if (strlen(d) == len && memcmp(d, id, len) == 0) return e->devs[i];
    }
    return NULL;
}

static uint64_t set_span(const edge_set *s)
{
    uint64_t mx = 0;
    size_t n = s->ts ? tw_tagset_count(s->ts) : 0;
    for (size_t i = 0; i < n; i++) {
        uint64_t a = tw_tag_alias(tw_tagset_at(s->ts, i));
        if (a + 1 > mx) mx = a + 1;
    }
    return mx;
}

static void free_set(edge_set *s)
{
    tw__free(s->device_id);
    tw__free(s->t_data);
    tw__free(s->t_birth);
    tw__free(s->t_death);
}

static char *build_topic(tw_edge *e, tw_sp_msg_type t, const char *device)
{
    char buf[TOPIC_MAX];
    if (tw_sp_topic_build(buf, sizeof buf, NULL, t, e->group, e->node, device) != TW_OK)
        return NULL;
    return tw__strdup(buf);
}

/* ---- publishing ----------------------------------------------------------------------------- */

static tw_status publish(tw_edge *e, const char *topic, const void *p, size_t n, int qos)
{
    tw_status st = tw_mqtt_client_publish(e->mc, topic, p, n, qos, 0, &e->last_token);
    if (st == TW_OK) e->st.messages_published++;
    else if (st == TW_ERR_MQTT_INFLIGHT_FULL)
        e->window_full = 1; /* until the next acknowledgement */
    else if (st == TW_ERR_FULL)
        e->ring_full = 1; /* until the client wrote to the transport */
    return st;
}

/* Room to publish a DATA message now (otherwise changes stay in the tag sets, coalescing). */
static int can_publish(const tw_edge *e)
{
    if (!e->mc || !e->conn_up || e->window_full || e->ring_full) return 0;
    if (qos_of(e) == 1 && tw_mqtt_client_inflight(e->mc) >= 250) return 0;
    size_t ring = e->pay_cap * 4u < 262144u ? 262144u : e->pay_cap * 4u;
    return tw_mqtt_client_pending_bytes(e->mc) + e->pay_cap + TOPIC_MAX + 16 <= ring;
}

/* The metric of a queued record, written in place (no tw_value built aside and copied: that copy
 * of freshly written bytes stalled on store forwarding, once per metric). */
static void fill_metric(tw_sp_metric *m, const edge_set *s, const qrec *r)
{
    memset(m, 0, sizeof *m);
    m->alias = s->base + r->alias;
    m->ts_ms = ts_to_ms(r->ts_ns);
    rec_value(r, &m->value);
    m->quality = r->quality;
    m->flags = r->hist ? TW_SP_METRIC_HISTORICAL : 0;
}

/*
 * Encodes metrics[0..n) as a DATA message of set s and publishes it. On TW_ERR_FULL from the
 * encoder (payload too large) *fit receives how many metrics would have fit (at least 1 is not
 * guaranteed: 0 means a single metric is too large).
 */
static tw_status publish_data(tw_edge *e, edge_set *s, size_t n, size_t *fit, int *nhist)
{
    size_t len = 0;
    *fit = n;
    uint64_t seq = e->seq;
    tw_status st;
    for (;;) {
        /* too large: for max_payload (the encoder's TW_ERR_FULL), or for the maximum packet size
         * the broker announced (the client's TW_ERR_MQTT_TOO_LARGE); the client's TW_ERR_FULL
         * (output buffer full for now) is transient and returned as it is */
        int too_large = 0;
        st = tw_sp_encode_data(e->pay, e->pay_cap, &len, now_ms(), seq, e->metrics, n);
        if (st == TW_ERR_FULL) {
            too_large = 1;
        } else if (st == TW_OK) {
            st = publish(e, s->t_data, e->pay, len, qos_of(e));
            too_large = st == TW_ERR_MQTT_TOO_LARGE;
        }
        if (!too_large) break;
        if (n == 1) {
            *fit = 0;
            return TW_ERR_FULL;
        }
        n /= 2;
    }
    if (st != TW_OK) return st;
    *fit = n;
    e->seq = (uint8_t)(e->seq + 1u);
    e->st.metrics_published += n;
    int h = 0;
    for (size_t i = 0; i < n; i++)
        if (e->metrics[i].flags & TW_SP_METRIC_HISTORICAL) h++;
    e->st.historical_published += (uint64_t)h;
    if (nhist) *nhist = h;
    return TW_OK;
}

/* Whether data may flow now: connected, host online, NBIRTH published and no birth pending. */
static int data_ready(const tw_edge *e)
{
    return e->conn_up && e->host_online && e->nborn && !e->need_nbirth;
}

/* Publishes queued records, oldest first, grouping consecutive records of one set. With a store,
 * a publish is acknowledged in the store once the broker confirmed it; without one, the records
 * stay in the queue (with the token of their publish) until then. */
static tw_status drain_queue(tw_edge *e)
{
    if (e->need_rescan && !e->q_count && !e->ack_count) store_rescan(e);
    store_refill(e);
    while (q_todo(e) && data_ready(e)) {
        if (!can_publish(e)) return TW_ERR_FULL;
        qrec *first = (qrec *)(void *)(e->q + e->q_pend);
        edge_set *s = set_by_id(e, first->set_id);
        if (!s || !s->online) {
            /* removed or offline device. Stored: held back in the store (not acknowledged).
             * Memory: dropped (its device is gone or offline; counted). */
            if (first->sseq) {
                if (s) store_hold(e, s, first->sseq);
            } else {
                e->st.queue_dropped++;
            }
            if (e->q_pend == e->q_head) {
                q_drop_head(e);
            } else { /* behind unconfirmed records: cut it out of the to-publish part */
                size_t sz = first->size;
                memmove(e->q + e->q_pend, e->q + e->q_pend + sz, e->q_tail - e->q_pend - sz);
                e->q_tail -= sz;
                e->q_count--;
            }
            continue;
        }
        if (!s->born) return TW_OK; /* its DBIRTH first */
        size_t n = 0, off = e->q_pend;
        while (off < e->q_tail && n < e->max_metrics) {
            qrec *r = (qrec *)(void *)(e->q + off);
            if (r->set_id != s->id) break;
            if (r->alias >= s->span) { /* a tag added after the birth */
                e->need_nbirth = 1;
                break;
            }
            fill_metric(&e->metrics[n], s, r);
            n++;
            off += r->size;
        }
        if (!n) return TW_OK;
        size_t fit = 0;
        tw_status st = publish_data(e, s, n, &fit, NULL);
        if (st == TW_ERR_FULL && fit == 0) { /* one record larger than max_payload */
            if (first->sseq) { /* acknowledged with later records: it can never be sent */
                if (!e->ack_count) store_ack_upto(e, first->sseq);
                q_drop_head(e);
            } else if (e->q_pend == e->q_head) {
                q_drop_head(e);
            } else {
                first->token = 0; /* leaves with the unconfirmed records */
                e->q_pend += first->size;
                e->q_nunconf++;
            }
            e->st.queue_dropped++;
            survive(e, TW_ERR_MQTT_TOO_LARGE, "a queued metric does not fit a DATA message (max_payload "
                    "%zu bytes, or the broker's maximum packet size): dropped", e->pay_cap);
            continue;
        }
        if (st != TW_OK) return st;
        uint64_t sseq = 0;
        for (size_t i = 0; i < fit; i++) {
            qrec *r = (qrec *)(void *)(e->q + e->q_pend);
            if (r->sseq) {
                sseq = r->sseq;
                q_drop_head(e);
            } else { /* kept until the broker confirmed its publish */
                r->token = e->last_token;
                e->q_pend += r->size;
                e->q_nunconf++;
            }
        }
        if (sseq) { /* acknowledged in the store once the broker confirmed this publish */
            e->acks[(e->ack_head + e->ack_count) % ACK_RING].token = e->last_token;
            e->acks[(e->ack_head + e->ack_count) % ACK_RING].sseq = sseq;
            e->ack_count++;
        }
        if (qos_of(e) == 0 && !q_todo(e)) tw_mqtt_client_ping(e->mc, NULL);
        store_refill(e);
    }
    return TW_OK;
}

/* Drains the tag set's descriptor without collecting anything (the changes stay pending). */
static void drain_fd(edge_set *s)
{
    if (!s->ts) return;
    size_t n = 0;
    int more = 0;
    tw_tagset_collect(s->ts, NULL, 0, &n, &more);
}

/* Collects every pending change of s into the queue. */
static void collect_to_queue(tw_edge *e, edge_set *s, int hist, int discard)
{
    if (!s->ts) return;
    int more = 1;
    while (more) {
        size_t n = 0;
        if (tw_tagset_collect(s->ts, e->changes, e->max_metrics, &n, &more) != TW_OK) return;
        if (!discard)
            for (size_t i = 0; i < n; i++) {
                if (e->o.store)
                    store_push(e, s->device_id, &e->changes[i], hist);
                else
                    q_push(e, s->id, &e->changes[i], hist);
            }
        if (!n) break;
    }
}

/* ---- births and deaths ------------------------------------------------------------------------- */

static tw_status encode_birth_of(tw_edge *e, edge_set *s, int node, uint64_t seq, uint8_t **out,
                                 size_t *out_len)
{
    size_t n = s->ts ? tw_tagset_count(s->ts) : 0;
    tw_sp_metric *m = tw__calloc(n ? n : 1, sizeof *m);
    tw_tag_change *c = tw__calloc(n ? n : 1, sizeof *c);
    tw_status st = TW_ERR_NOMEM;
    uint8_t *buf = NULL;
    if (!m || !c) goto done;
    int64_t now = now_ms();
    for (size_t i = 0; i < n; i++) {
        tw_tag *t = tw_tagset_at(s->ts, i);
        tw_tag_snapshot(t, &c[i]);
        m[i].name = tw_tag_name(t);
        m[i].alias = s->base + tw_tag_alias(t);
        m[i].ts_ms = c[i].ts_ns > 0 ? c[i].ts_ns / 1000000 : now;
        m[i].value = c[i].value;
        m[i].quality = c[i].quality;
        const char *u = tw_tag_unit(t), *d = tw_tag_description(t);
        m[i].unit = (u && *u) ? u : NULL;
        m[i].description = (d && *d) ? d : NULL;
    }
    size_t need = 0;
    st = node ? tw__sp_encode_nbirth(NULL, 0, &need, now, e->bdseq, 0, m, n)
              : tw_sp_encode_birth(NULL, 0, &need, now, seq, m, n);
    if (st != TW_ERR_FULL && st != TW_OK) goto done;
    buf = tw__malloc(need ? need : 1);
    if (!buf) {
        st = TW_ERR_NOMEM;
        goto done;
    }
    st = node ? tw__sp_encode_nbirth(buf, need, out_len, now, e->bdseq, 0, m, n)
              : tw_sp_encode_birth(buf, need, out_len, now, seq, m, n);
done:
    tw__free(m);
    tw__free(c);
    if (st != TW_OK) {
        tw__free(buf);
        buf = NULL;
    }
    *out = buf;
    return st;
}

/* Assigns alias ranges: node tags after aliases 0 (bdSeq) and 1 (Rebirth), then each device. */
static void assign_ranges(tw_edge *e)
{
    uint64_t b = 2;
    e->node_set.base = b;
    e->node_set.span = set_span(&e->node_set);
    b += e->node_set.span;
    for (size_t i = 0; i < e->ndevs; i++) {
        e->devs[i]->base = b;
        e->devs[i]->span = set_span(e->devs[i]);
        b += e->devs[i]->span;
    }
    e->next_base = b;
}

static tw_status do_nbirth(tw_edge *e)
{
    if (!can_publish(e)) return TW_ERR_FULL;
    assign_ranges(e);
    /* pending changes are carried by the birth's values */
    /* pending changes are carried by the birth's values (the node collects changes as they come,
     * so this is at most the latest value of a tag, and the birth is published at once) */
    collect_to_queue(e, &e->node_set, 0, 1);
    uint8_t *buf = NULL;
    size_t len = 0;
    tw_status st = encode_birth_of(e, &e->node_set, 1, 0, &buf, &len);
    if (st != TW_OK)
        return survive(e, st, "NBIRTH could not be encoded: %s", tw_strerror(st));
    st = publish(e, e->t_nbirth, buf, len, qos_of(e));
    tw__free(buf);
    if (st != TW_OK) return st;
    e->seq = 1; /* NBIRTH is seq 0 */
    e->need_nbirth = 0;
    e->nborn = 1;
    e->ever_born = 1;
    e->node_set.born = 1;
    e->st.births++;
    for (size_t i = 0; i < e->ndevs; i++) {
        e->devs[i]->born = 0;
        e->devs[i]->need_birth = e->devs[i]->online;
    }
    tw__log(TW_LOG_INFO, MOD, "%s/%s: NBIRTH bdSeq %u", e->group, e->node, (unsigned)e->bdseq);
    emit(e, TW_EDGE_EVENT_BIRTH, TW_OK, NULL, NULL, 0, "NBIRTH");
    return TW_OK;
}

static tw_status do_dbirth(tw_edge *e, edge_set *s)
{
    if (!can_publish(e)) return TW_ERR_FULL;
    if (s->base + s->span > e->next_base || set_span(s) > s->span) {
        /* range unknown or grown */
        if (s->base == 0 && s->span == 0 && set_span(s) > 0) {
            s->base = e->next_base;
            s->span = set_span(s);
            e->next_base += s->span;
        } else if (set_span(s) > s->span) {
            e->need_nbirth = 1;
            return TW_OK;
        }
    }
    collect_to_queue(e, s, 0, 1);
    uint8_t *buf = NULL;
    size_t len = 0;
    tw_status st = encode_birth_of(e, s, 0, e->seq, &buf, &len);
    if (st != TW_OK)
        return survive(e, st, "DBIRTH of %s could not be encoded: %s", s->device_id,
                       tw_strerror(st));
    st = publish(e, s->t_birth, buf, len, qos_of(e));
    tw__free(buf);
    if (st != TW_OK) return st;
    e->seq = (uint8_t)(e->seq + 1u);
    s->born = 1;
    s->need_birth = 0;
    e->st.births++;
    emit(e, TW_EDGE_EVENT_BIRTH, TW_OK, s->device_id, NULL, 0, "DBIRTH");
    return TW_OK;
}

static tw_status do_ddeath(tw_edge *e, edge_set *s)
{
    if (!can_publish(e)) return TW_ERR_FULL;
    size_t len = 0;
    tw_status st = tw_sp_encode_data(e->pay, e->pay_cap, &len, now_ms(), e->seq, NULL, 0);
    if (st != TW_OK) return st;
    st = publish(e, s->t_death, e->pay, len, qos_of(e));
    if (st != TW_OK) return st;
    e->seq = (uint8_t)(e->seq + 1u);
    s->need_death = 0;
    s->born = 0;
    emit(e, TW_EDGE_EVENT_DEATH, TW_OK, s->device_id, NULL, 0, "DDEATH");
    return TW_OK;
}

/* ---- MQTT callbacks ------------------------------------------------------------------------ */

static void on_state(tw_mqtt_client *c, tw_mqtt_state s, tw_status reason, void *ud)
{
    tw_edge *e = ud;
    (void)c;
    if (s == TW_MQTT_CONNECTED) {
        e->conn_up = 1;
        return;
    }
    if (s == TW_MQTT_WAITING || s == TW_MQTT_DISCONNECTED) {
        if (!e->conn_lost) {
            e->conn_lost = 1;
            e->lost_reason = reason != TW_OK ? reason : TW_ERR_CLOSED;
        }
        e->conn_up = 0;
    }
}

static void on_ack(tw_mqtt_client *c, const tw_mqtt_ack *a, void *ud)
{
    tw_edge *e = ud;
    (void)c;
    e->window_full = 0;
    if (a->status == TW_OK || a->status == TW_ERR_CLOSED) return;
    if (a->type == TW_MQTT_ACK_PUBACK) {
        e->st.refused++;
        survive(e, a->status, "the broker refused a publish (reason code 0x%02x%s)",
                (unsigned)(a->reason_code < 0 ? 0 : a->reason_code),
                a->status == TW_ERR_MQTT_NOT_AUTHORIZED ? ": not authorized by its ACL" : "");
    } else if (a->type == TW_MQTT_ACK_SUBACK) {
        survive(e, a->status, "the broker refused a subscription (reason code 0x%02x)",
                (unsigned)(a->reason_code < 0 ? 0 : a->reason_code));
    }
}

static void handle_state_msg(tw_edge *e, const tw_mqtt_message *m)
{
    int online = 0;
    uint64_t ts = 0;
    if (tw_sp_state_parse(&online, &ts, m->payload, m->payload_len) != TW_OK) {
        survive(e, TW_ERR_SPARKPLUG_DECODE, "malformed STATE message from %s ignored", e->host_id);
        return;
    }
    if (e->host_known && ts < e->host_ts) {
        tw__log(TW_LOG_INFO, MOD, "%s/%s: STATE with an older timestamp (%llu < %llu) ignored",
                e->group, e->node, (unsigned long long)ts, (unsigned long long)e->host_ts);
        return;
    }
    int was = e->host_online;
    e->host_known = 1;
    e->host_ts = ts;
    e->host_online = online ? 1 : 0;
    if (online && !was) e->need_nbirth = 1; /* births, then the queued history */
    if (!online && was) {
        /* Sparkplug 3.0: the edge node ends its session (NDEATH, disconnect), reconnects and
         * waits for the host to come back; meanwhile data goes to the queue */
        if (e->nborn) e->host_terminate = 1;
        e->nborn = 0;
        for (size_t i = 0; i < e->ndevs; i++) e->devs[i]->born = 0;
    }
    tw__log(TW_LOG_INFO, MOD, "%s/%s: primary host %s is %s", e->group, e->node, e->host_id,
            online ? "online" : "offline");
    emit(e, TW_EDGE_EVENT_HOST, TW_OK, NULL, NULL, 0, online ? "online" : "offline");
}

/* Finds the tag a command metric addresses in set s. */
static tw_tag *cmd_tag(edge_set *s, const tw_sp_metric *m, uint32_t present)
{
    if (!s || !s->ts) return NULL;
    if ((present & TW_SP_HAS_NAME) && m->name) return tw_tagset_find(s->ts, m->name);
    if ((present & TW_SP_HAS_ALIAS) && m->alias >= s->base && m->alias < s->base + s->span)
        return tw_tagset_find_alias(s->ts, m->alias - s->base);
    return NULL;
}

static void handle_cmd(tw_edge *e, const tw_mqtt_message *m, const tw_sp_topic *t)
{
    edge_set *s = &e->node_set;
    const char *dev = NULL;
    if (t->type == TW_SP_MSG_DCMD) {
        s = dev_by_name(e, t->device_id, t->device_id_len);
        if (!s) {
            survive(e, TW_ERR_NOT_FOUND, "DCMD for unknown device %.*s ignored",
                    (int)t->device_id_len, t->device_id);
            return;
        }
        dev = s->device_id;
    }
    tw_sp_payload *p = NULL;
    char why[128] = "";
    tw_status st = tw_sp_payload_decode(&p, m->payload, m->payload_len, why, sizeof why);
    if (st != TW_OK) {
        survive(e, st, "malformed %s ignored: %s", tw_sp_msg_type_name(t->type), why);
        return;
    }
    for (size_t i = 0; i < p->metric_count; i++) {
        const tw_sp_decoded_metric *dm = &p->metrics[i];
        const tw_sp_metric *mm = &dm->metric;
        const char *name = (dm->present & TW_SP_HAS_NAME) ? mm->name : NULL;
        uint64_t alias = (dm->present & TW_SP_HAS_ALIAS) ? mm->alias : 0;
        e->st.commands++;
        int rebirth_metric =
            dev ? (name && strcmp(name, "Device Control/Rebirth") == 0)
                : ((name && strcmp(name, TW__SP_METRIC_REBIRTH) == 0) ||
                   (!name && (dm->present & TW_SP_HAS_ALIAS) && alias == 1));
        tw_status r;
        char msg[160] = "";
        if (rebirth_metric) {
            int yes = mm->value.type == TW_TYPE_BOOL && mm->value.as.b;
            if (yes) {
                if (dev)
                    s->need_birth = s->online;
                else
                    e->need_nbirth = 1;
                r = TW_OK;
                snprintf(msg, sizeof msg, "rebirth requested");
            } else {
                r = TW_ERR_INVALID_ARG;
                snprintf(msg, sizeof msg, "rebirth metric without the value true");
            }
        } else {
            tw_tag *tag = cmd_tag(s, mm, dm->present);
            if (!tag) {
                r = TW_ERR_NOT_FOUND;
                snprintf(msg, sizeof msg, "no such metric");
            } else if (!(dm->present & TW_SP_HAS_VALUE) || mm->value.type == TW_TYPE_NONE) {
                r = TW_ERR_INVALID_ARG;
                snprintf(msg, sizeof msg, "command metric without a value");
            } else {
                r = tw_tag_write(tag, &mm->value);
                if (r != TW_OK) {
                    snprintf(msg, sizeof msg, "%s", tw_tagset_last_error(s->ts));
                    /* publish the tag's current value again: the host must not keep the
                     * value it asked for */
                    tw_tag_change c;
                    if (tw_tag_snapshot(tag, &c) == TW_OK) q_push(e, s->id, &c, 0);
                }
                if (!name) name = tw_tag_name(tag);
            }
        }
        if (r != TW_OK) e->st.command_errors++;
        tw__log(r == TW_OK ? TW_LOG_INFO : TW_LOG_WARN, MOD, "%s/%s: %s %s%s%s: %s%s%s",
                e->group, e->node, tw_sp_msg_type_name(t->type), dev ? dev : "",
                dev ? " " : "", name ? name : "(alias)", tw_status_name(r), msg[0] ? ": " : "",
                msg);
        emit(e, TW_EDGE_EVENT_COMMAND, r, dev, name, alias, msg);
    }
    tw_sp_payload_free(p);
}

static void on_message(tw_mqtt_client *c, const tw_mqtt_message *m, void *ud)
{
    tw_edge *e = ud;
    (void)c;
    tw_sp_topic t;
    if (tw_sp_topic_parse(&t, m->topic, m->topic_len) != TW_OK) return;
    if (t.type == TW_SP_MSG_STATE) {
        if (e->host_id && t.edge_node_id_len == strlen(e->host_id) &&
            memcmp(t.edge_node_id, e->host_id, t.edge_node_id_len) == 0)
            handle_state_msg(e, m);
        return;
    }
    if (t.type != TW_SP_MSG_NCMD && t.type != TW_SP_MSG_DCMD) return;
    if (t.group_id_len != strlen(e->group) || memcmp(t.group_id, e->group, t.group_id_len) ||
        t.edge_node_id_len != strlen(e->node) || memcmp(t.edge_node_id, e->node, t.edge_node_id_len))
        return;
    handle_cmd(e, m, &t);
}

/* ---- connection management ----------------------------------------------------------------- */

static void drop_client(tw_edge *e)
{
    if (e->mc) tw_mqtt_client_free(e->mc);
    e->mc = NULL;
    e->conn_up = 0;
    e->conn_lost = 0;
    e->window_full = e->ring_full = 0;
    e->host_terminate = 0;
    store_rewind(e);
    /* what waits in the memory queue will be older than the next births' values */
    for (size_t off = e->q_head; off < e->q_tail;) {
        qrec *r = (qrec *)(void *)(e->q + off);
        r->hist = 1;
        off += r->size;
    }
    e->nborn = 0;
    e->node_set.born = 0;
    for (size_t i = 0; i < e->ndevs; i++) e->devs[i]->born = 0;
    if (e->host_id) e->host_online = 0;
}

static void schedule_retry(tw_edge *e, tw_status reason)
{
    uint32_t d = tw__backoff_ms(e->attempt, e->o.reconnect_min_ms, e->o.reconnect_max_ms, NULL, NULL);
    if (e->attempt < 30) e->attempt++;
    e->next_attempt_ms = tw__mono_ms() + d;
    set_state(e, TW_EDGE_BACKOFF, reason);
}

static tw_status make_transport(tw_edge *e, tw_transport **out)
{
    if (e->o.transport_fn) return e->o.transport_fn(out, e->o.transport_user_data);
    if (e->tls) return tw_transport_new_tls(out, e->tls, NULL);
    return tw_transport_new_tcp_insecure(out, NULL);
}

static tw_status begin_connect(tw_edge *e)
{
    uint8_t next = e->bdseq_valid ? tw__sp_bdseq_next(e->bdseq) : 0;
    tw_status st = TW_OK;
    if (e->first_saved)
        e->first_saved = 0; /* tw_edge_start() saved it */
    else
        st = bdseq_save(e, next);
    if (st != TW_OK) {
        survive(e, st, "%s", tw__err_msg(&e->err));
        schedule_retry(e, st);
        return st;
    }
    e->bdseq = next;
    e->bdseq_valid = 1;
    e->st.bdseq = next;

    uint8_t will[64];
    size_t wlen = 0;
    st = tw__sp_encode_ndeath(will, sizeof will, &wlen, now_ms(), e->bdseq);
    if (st != TW_OK) {
        survive(e, st, "NDEATH could not be encoded");
        schedule_retry(e, st);
        return st;
    }

    tw_transport *tr = NULL;
    st = make_transport(e, &tr);
    if (st != TW_OK) {
        survive(e, st, "transport could not be created: %s", tw_strerror(st));
        schedule_retry(e, st);
        return st;
    }
    tw_mqtt_options mo = TW_MQTT_OPTIONS_INIT;
    mo.host = e->mqtt_host;
    mo.port = e->o.port;
    mo.client_id = e->client_id;
    mo.username = e->username;
    mo.password = e->password;
    mo.password_len = e->o.password_len;
    mo.keep_alive_s = e->o.keep_alive_s;
    mo.will_topic = e->t_ndeath;
    mo.will_payload = will;
    mo.will_payload_len = wlen;
    mo.will_qos = 1;
    mo.will_retain = 0;
    mo.max_packet_size = (uint32_t)(e->pay_cap * 4u < 262144u ? 262144u : e->pay_cap * 4u);
    mo.out_buffer_size = mo.max_packet_size;
    mo.max_inflight = 256;
    mo.connect_timeout_ms = e->o.connect_timeout_ms;
    mo.reconnect = TW_MQTT_RECONNECT_OFF;
    mo.protocol_version = e->o.protocol_version;
    st = tw_mqtt_client_new(&e->mc, tr, &mo);
    if (st != TW_OK) {
        tw_transport_free(tr);
        e->mc = NULL;
        survive(e, st, "MQTT client could not be created: %s", tw_strerror(st));
        schedule_retry(e, st);
        return st;
    }
    tw_mqtt_client_set_state_cb(e->mc, on_state, e);
    tw_mqtt_client_set_ack_cb(e->mc, on_ack, e);
    tw_mqtt_client_set_message_cb(e->mc, on_message, e);
    e->conn_up = 0;
    e->conn_lost = 0;
    set_state(e, TW_EDGE_CONNECTING, TW_OK);
    st = tw_mqtt_client_connect(e->mc);
    if (st != TW_OK) {
        tw__err(&e->err, MOD, st, "connect: %s", tw_mqtt_client_last_error(e->mc));
        drop_client(e);
        schedule_retry(e, st);
        return st;
    }
    tw__log(TW_LOG_INFO, MOD, "%s/%s: connecting to %s:%u (bdSeq %u)", e->group, e->node,
            e->mqtt_host, (unsigned)e->o.port, (unsigned)e->bdseq);
    return TW_OK;
}

static void on_connected(tw_edge *e)
{
    e->st.connects++;
    if (e->st.connects > 1) e->st.reconnects++;
    e->attempt = 0;
    tw_mqtt_client_subscribe(e->mc, e->t_ncmd, 1, NULL);
    tw_mqtt_client_subscribe(e->mc, e->t_dcmd, 1, NULL);
    if (e->host_id) {
        tw_mqtt_client_subscribe(e->mc, e->t_state, 1, NULL);
        /* a retained STATE (or the host's next one) decides */
        e->host_online = 0;
    } else {
        e->host_online = 1;
    }
    e->need_nbirth = 1;
    e->nborn = 0;
}

/* ---- public API ------------------------------------------------------------------------------ */

static tw_status publish_all(tw_edge *e);

/* An invalid option of tw_edge_new(): logged at ERROR and recorded for tw_last_error(). */
#define BADOPT(...)                                                                                \
    (tw__log(TW_LOG_ERROR, MOD, __VA_ARGS__), tw__err(NULL, MOD, TW_ERR_INVALID_ARG, __VA_ARGS__))
/* A failure of tw_edge_new() after the allocation: frees e, records the message. */
#define NEWFAIL(e, st, ...) (tw_edge_free(e), tw__err(NULL, MOD, (st), __VA_ARGS__))

static int id_ok(const char *id)
{
    char buf[TOPIC_MAX];
    return id && tw_sp_topic_build(buf, sizeof buf, NULL, TW_SP_MSG_STATE, NULL, id, NULL) == TW_OK;
}

static tw_status init_set(tw_edge *e, edge_set *s, const char *device, tw_tagset *ts)
{
    s->ts = ts;
    s->online = 1;
    s->id = ++e->next_set_id;
    if (device) {
        s->device_id = tw__strdup(device);
        s->t_data = build_topic(e, TW_SP_MSG_DDATA, device);
        s->t_birth = build_topic(e, TW_SP_MSG_DBIRTH, device);
        s->t_death = build_topic(e, TW_SP_MSG_DDEATH, device);
        if (!s->device_id || !s->t_data || !s->t_birth || !s->t_death) return TW_ERR_NOMEM;
    } else {
        s->t_data = tw__strdup(e->t_ndata);
        if (!s->t_data) return TW_ERR_NOMEM;
    }
    return TW_OK;
}

tw_status tw_edge_new(tw_edge **out, const tw_edge_options *opts)
{
    if (out) *out = NULL;
    tw_status st = tw__check_init();
    if (st != TW_OK) return st;
    if (!out || !opts) return TW_ERR_INVALID_ARG;
    tw_edge_options o;
    if (TW__OPTS_COPY(o, opts, sizeof(tw_edge_options)))
        return tw__err(NULL, MOD, TW_ERR_VERSION, "tw_edge_options version %u is not supported",
                       (unsigned)opts->version);
    if (!id_ok(o.group_id)) return BADOPT("edge options: invalid group_id");
    if (!id_ok(o.edge_node_id)) return BADOPT("edge options: invalid edge_node_id");
    if (o.primary_host_id && !id_ok(o.primary_host_id))
        return BADOPT("edge options: invalid primary_host_id");
    if (!o.host || !*o.host || !o.port) return BADOPT("edge options: host and port are required");
    if (o.password && !o.username) return BADOPT("edge options: a password needs a username");
    if (o.store && o.state_dir) return BADOPT("edge options: store and state_dir exclude each other");
    if (o.protocol_version == 0) o.protocol_version = 5;
    if (o.protocol_version != 4 && o.protocol_version != 5)
        return BADOPT("edge options: protocol_version must be 4 or 5");
    if (o.qos != TW_EDGE_QOS_DEFAULT && o.qos != TW_EDGE_QOS1 && o.qos != TW_EDGE_QOS0)
        return BADOPT("edge options: qos must be 0 (default), TW_EDGE_QOS1 or TW_EDGE_QOS0");
    o.qos = o.qos == TW_EDGE_QOS0 ? 0 : 1; /* from here on: the MQTT QoS */
    if (!o.tls && !o.transport_fn && !o.insecure) {
        tw__log(TW_LOG_ERROR, MOD, "edge options: no TLS configuration and insecure not set");
        return tw__err(NULL, MOD, TW_ERR_TLS_INSECURE,
                       "edge options: no TLS configuration and insecure not set");
    }
    if (o.password && o.insecure && !o.tls && !o.transport_fn) {
        /* The MQTT client refuses credentials over plaintext: refuse here, once, instead of
         * failing every connection attempt. */
        tw__log(TW_LOG_ERROR, MOD, "edge options: refusing a password over a plaintext (insecure) connection");
        return tw__err(NULL, MOD, TW_ERR_TLS_INSECURE,
                       "edge options: refusing a password over a plaintext (insecure) connection");
    }
    if (!o.keep_alive_s) o.keep_alive_s = 30;
    if (!o.queue_bytes) o.queue_bytes = 1u << 20;
    if (!o.max_payload) o.max_payload = 64u << 10;
    if (!o.max_metrics) o.max_metrics = 512;
    if (!o.connect_timeout_ms) o.connect_timeout_ms = 10000;
    if (!o.reconnect_min_ms) o.reconnect_min_ms = 500;
    if (!o.reconnect_max_ms) o.reconnect_max_ms = 30000;
    if (o.max_payload < 256 || o.max_payload > (64u << 20)) return BADOPT("edge options: max_payload out of range");
    if (o.max_metrics > 1000000) return BADOPT("edge options: max_metrics out of range");
    if (o.queue_bytes < 1024) return BADOPT("edge options: queue_bytes below 1024");
    if (o.queue_bytes > UINT32_MAX) o.queue_bytes = UINT32_MAX;

    tw_edge *e = tw__calloc(1, sizeof *e);
    if (!e) return tw__err(NULL, MOD, TW_ERR_NOMEM, "out of memory");
    e->o = o;
    e->group = tw__strdup(o.group_id);
    e->node = tw__strdup(o.edge_node_id);
    e->host_id = tw__strdup(o.primary_host_id);
    e->mqtt_host = tw__strdup(o.host);
    e->username = tw__strdup(o.username);
    e->state_dir = tw__strdup(o.state_dir);
    if (o.password) {
        e->password = tw__malloc(o.password_len ? o.password_len : 1);
        if (e->password && o.password_len) memcpy(e->password, o.password, o.password_len);
    }
    if (o.client_id) {
        e->client_id = tw__strdup(o.client_id);
    } else {
        char cid[TW_SP_CLIENT_ID_MAX + 1];
        if (tw_sp_default_client_id(cid, sizeof cid, o.group_id, o.edge_node_id) == TW_OK)
            e->client_id = tw__strdup(cid);
    }
    e->pay_cap = o.max_payload;
    e->max_metrics = o.max_metrics;
    e->pay = tw__malloc(e->pay_cap);
    e->metrics = tw__calloc(e->max_metrics, sizeof *e->metrics);
    e->changes = tw__calloc(e->max_metrics, sizeof *e->changes);
    e->q_cap = o.queue_bytes;
    e->q = tw__malloc(e->q_cap);
    if (o.store) {
        e->sbuf = tw__malloc(e->pay_cap);
        e->store_more = 1; /* history of an earlier run may be waiting */
        tw_store_stats ss;
        memset(&ss, 0, sizeof ss);
        ss.version = TW_STORE_STATS_VERSION;
        if (tw_store_stats_get(o.store, &ss) == TW_OK) e->hist_below = ss.next_seq; /* historical */
        if (!e->sbuf)
            return NEWFAIL(e, TW_ERR_NOMEM, "out of memory (max_payload %u)", (unsigned)o.max_payload);
    }
    if (!e->group || !e->node || (o.primary_host_id && !e->host_id) || !e->mqtt_host ||
        (o.username && !e->username) || (o.state_dir && !e->state_dir) ||
        (o.password && !e->password) || !e->client_id || !e->pay || !e->metrics ||
        !e->changes || !e->q) {
        return NEWFAIL(e, TW_ERR_NOMEM, "out of memory (max_payload %u, max_metrics %u, queue_bytes %u)",
                       (unsigned)o.max_payload, (unsigned)o.max_metrics, (unsigned)o.queue_bytes);
    }
    e->o.group_id = e->o.edge_node_id = e->o.primary_host_id = e->o.host = NULL;
    e->o.client_id = e->o.username = e->o.state_dir = NULL;
    e->o.password = NULL;
    if (tw_sp_topic_build(e->t_ncmd, TOPIC_MAX, NULL, TW_SP_MSG_NCMD, e->group, e->node, NULL) ||
        tw_sp_topic_build(e->t_nbirth, TOPIC_MAX, NULL, TW_SP_MSG_NBIRTH, e->group, e->node, NULL) ||
        tw_sp_topic_build(e->t_ndata, TOPIC_MAX, NULL, TW_SP_MSG_NDATA, e->group, e->node, NULL) ||
        tw_sp_topic_build(e->t_ndeath, TOPIC_MAX, NULL, TW_SP_MSG_NDEATH, e->group, e->node, NULL) ||
        snprintf(e->t_dcmd, TOPIC_MAX, "%s/%s/DCMD/%s/+", TW_SP_NAMESPACE, e->group, e->node) >=
            TOPIC_MAX ||
        (e->host_id &&
         tw_sp_topic_build(e->t_state, TOPIC_MAX, NULL, TW_SP_MSG_STATE, NULL, e->host_id, NULL))) {
        tw_edge_free(e);
        return BADOPT("edge options: identifiers too long for a topic");
    }
    if (init_set(e, &e->node_set, NULL, NULL) != TW_OK) return NEWFAIL(e, TW_ERR_NOMEM, "out of memory");
    int found = 0;
    uint8_t v = 0;
    st = bdseq_load(e, &found, &v);
    if (st != TW_OK) {
        char msg[TW__ERRMSG_MAX];
        tw__strlcpy(msg, tw__err_msg(&e->err), sizeof msg);
        tw__log(TW_LOG_ERROR, MOD, "%s", msg);
        return NEWFAIL(e, st, "%s", msg);
    }
    if (found) {
        e->bdseq = v;
        e->bdseq_valid = 1;
        e->st.bdseq = v;
    }
    if (o.tls && !o.transport_fn) {
        /* the config is reference-counted through its transports: an idle transport keeps it
         * alive for the edge's lifetime, so the caller may free its own reference */
        st = tw_transport_new_tls(&e->tls_keep, o.tls, NULL);
        if (st != TW_OK) return NEWFAIL(e, st, "TLS transport: %s", tw__err_detail(st));
        e->tls = o.tls;
    } else if (o.insecure && !o.transport_fn) {
        tw__log(TW_LOG_WARN, MOD, "%s/%s: INSECURE: plain TCP to %s:%u (no TLS)", e->group,
                e->node, e->mqtt_host, (unsigned)o.port);
    }
    e->host_online = e->host_id ? 0 : 1;
    e->state = TW_EDGE_STOPPED;
    *out = e;
    return TW_OK;
}

void tw_edge_free(tw_edge *e)
{
    if (!e) return;
    if (e->mc) tw_mqtt_client_free(e->mc);
    tw_transport_free(e->tls_keep);
    for (size_t i = 0; i < e->ndevs; i++) {
        free_set(e->devs[i]);
        tw__free(e->devs[i]);
    }
    free_set(&e->node_set);
    tw__free(e->devs);
    tw__free(e->group);
    tw__free(e->node);
    tw__free(e->host_id);
    tw__free(e->mqtt_host);
    tw__free(e->client_id);
    tw__free(e->username);
    if (e->password) tw__zeroize(e->password, e->o.password_len);
    tw__free(e->password);
    tw__free(e->state_dir);
    tw__free(e->pay);
    tw__free(e->metrics);
    tw__free(e->changes);
    tw__free(e->q);
    tw__free(e->sbuf);
    tw__free(e->pfds);
    for (size_t i = 0; i < e->nremoved; i++) tw__free(e->removed[i]);
    tw__free(e->removed);
    tw__free(e);
}

static int set_registered(const tw_edge *e, const tw_tagset *ts)
{
    if (e->node_set.ts == ts) return 1;
    for (size_t i = 0; i < e->ndevs; i++)
        if (e->devs[i]->ts == ts) return 1;
    return 0;
}

size_t tw_edge_max_value_len(const tw_edge *e)
{
    if (!e) return 0;
    size_t cap = e->pay_cap;
    if (e->q_cap - 64u < cap) cap = e->q_cap - 64u; /* a queue record: header + value */
    return cap > TW_EDGE_VALUE_OVERHEAD ? cap - TW_EDGE_VALUE_OVERHEAD : 0;
}

/* A STRING/BYTES tag whose values could never be published is refused when its set is
 * registered, not discovered at publish time. */
static tw_status check_value_lens(tw_edge *e, tw_tagset *ts, const char *device_id)
{
    size_t lim = tw_edge_max_value_len(e);
    for (size_t i = 0, n = tw_tagset_count(ts); i < n; i++) {
        tw_tag *t = tw_tagset_at(ts, i);
        if (tw_tag_max_len(t) <= lim) continue;
        return tw__err(&e->err, MOD, TW_ERR_RANGE,
                       "%s%s%stag '%s': max_len %zu bytes exceeds %zu, the longest %s value one DATA "
                       "message can carry (max_payload %zu bytes)", device_id ? "device '" : "",
                       device_id ? device_id : "", device_id ? "': " : "", tw_tag_name(t),
                       tw_tag_max_len(t), lim, tw_type_name(tw_tag_type(t)), e->pay_cap);
    }
    return TW_OK;
}

tw_status tw_edge_set_node_tags(tw_edge *e, tw_tagset *ts)
{
    if (!e) return TW_ERR_INVALID_ARG;
    if (ts && ts != e->node_set.ts && set_registered(e, ts)) return TW_ERR_EXISTS;
    if (ts && check_value_lens(e, ts, NULL) != TW_OK) return TW_ERR_RANGE;
    e->node_set.ts = ts;
    e->node_set.span = 0;
    if (e->nborn) e->need_nbirth = 1;
    return TW_OK;
}

tw_status tw_edge_add_device(tw_edge *e, const char *device_id, tw_tagset *ts)
{
    if (!e || !ts || !id_ok(device_id)) return TW_ERR_INVALID_ARG;
    if (dev_by_name(e, device_id, strlen(device_id)) || set_registered(e, ts))
        return TW_ERR_EXISTS;
    if (check_value_lens(e, ts, device_id) != TW_OK) return TW_ERR_RANGE;
    if (e->ndevs == e->devs_cap) {
        size_t nc = e->devs_cap ? e->devs_cap * 2 : 4;
        edge_set **nd = tw__realloc(e->devs, nc * sizeof *nd);
        if (!nd) return TW_ERR_NOMEM;
        e->devs = nd;
        e->devs_cap = nc;
    }
    edge_set *s = tw__calloc(1, sizeof *s);
    if (!s) return TW_ERR_NOMEM;
    if (init_set(e, s, device_id, ts) != TW_OK) {
        free_set(s);
        tw__free(s);
        return TW_ERR_NOMEM;
    }
    e->devs[e->ndevs++] = s;
    s->need_birth = 1;
    for (size_t i = 0; i < e->nremoved; i++)
        if (strcmp(e->removed[i], device_id) == 0) { /* added again: its history is kept */
            tw__free(e->removed[i]);
            e->removed[i] = e->removed[--e->nremoved];
            break;
        }
    if (e->hold_seq) s->hold_from = e->hold_seq; /* its history may be held back */
    store_release(e);
    if (e->nborn) {
        s->base = e->next_base;
        s->span = set_span(s);
        e->next_base += s->span;
        if (data_ready(e)) do_dbirth(e, s);
    }
    return TW_OK;
}

tw_status tw_edge_remove_device(tw_edge *e, const char *device_id)
{
    if (!e || !device_id) return TW_ERR_INVALID_ARG;
    for (size_t i = 0; i < e->ndevs; i++) {
        edge_set *s = e->devs[i];
        if (strcmp(s->device_id, device_id) != 0) continue;
        if (s->born && data_ready(e)) do_ddeath(e, s);
        if (e->o.store) { /* its stored history is dropped (acknowledged with later records) */
            char **nr = tw__realloc(e->removed, (e->nremoved + 1) * sizeof *nr);
            char *dup = tw__strdup(device_id);
            if (nr) e->removed = nr;
            if (nr && dup) e->removed[e->nremoved++] = dup;
            else tw__free(dup); /* no memory: its records stay held (never lost) */
            store_release(e);
        }
        free_set(s);
        tw__free(s);
        memmove(e->devs + i, e->devs + i + 1, (e->ndevs - i - 1) * sizeof *e->devs);
        e->ndevs--;
        return TW_OK;
    }
    return TW_ERR_NOT_FOUND;
}

tw_status tw_edge_device_set_online(tw_edge *e, const char *device_id, int online)
{
    if (!e || !device_id) return TW_ERR_INVALID_ARG;
    edge_set *s = dev_by_name(e, device_id, strlen(device_id));
    if (!s) return TW_ERR_NOT_FOUND;
    online = online ? 1 : 0;
    if (s->online == online) return TW_OK;
    s->online = online;
    if (online) {
        s->need_death = 0;
        s->need_birth = 1;
        if (s->hold_from) store_release(e);
        if (data_ready(e)) return do_dbirth(e, s) == TW_ERR_FULL ? TW_OK : TW_OK;
    } else {
        s->need_birth = 0;
        if (s->born) {
            s->need_death = 1;
            if (data_ready(e)) do_ddeath(e, s);
        }
    }
    return TW_OK;
}

void tw_edge_set_event_cb(tw_edge *e, tw_edge_event_fn fn, void *user_data)
{
    if (!e) return;
    e->ev_fn = fn;
    e->ev_ud = user_data;
}

tw_status tw_edge_start(tw_edge *e)
{
    if (!e) return TW_ERR_INVALID_ARG;
    if (e->started) return TW_ERR_BUSY;
    /* the first bdSeq must be durable before anything else happens */
    uint8_t next = e->bdseq_valid ? tw__sp_bdseq_next(e->bdseq) : 0;
    tw_status st = bdseq_save(e, next);
    if (st != TW_OK) {
        tw__log(TW_LOG_ERROR, MOD, "%s/%s: %s", e->group, e->node, tw__err_msg(&e->err));
        return st;
    }
    e->started = 1;
    e->attempt = 0;
    e->first_saved = 1;
    begin_connect(e); /* failures from here on are retried with back-off */
    return TW_OK;
}

tw_status tw_edge_stop(tw_edge *e, int timeout_ms)
{
    if (!e) return TW_ERR_INVALID_ARG;
    tw_status rc = TW_OK;
    if (e->mc && e->conn_up) {
        /* everything that can still go out, then NDEATH */
        if (data_ready(e)) publish_all(e);
        if (e->nborn) {
            uint8_t buf[64];
            size_t len = 0;
            if (tw__sp_encode_ndeath(buf, sizeof buf, &len, now_ms(), e->bdseq) == TW_OK) {
                tw_status st = tw_mqtt_client_publish(e->mc, e->t_ndeath, buf, len, 1, 0, NULL);
                if (st == TW_OK) {
                    e->st.messages_published++;
                    emit(e, TW_EDGE_EVENT_DEATH, TW_OK, NULL, NULL, 0, "NDEATH");
                }
            }
        }
        rc = tw_mqtt_client_flush(e->mc, timeout_ms < 0 ? 10000 : timeout_ms);
        if (rc != TW_OK && rc != TW_ERR_TIMEOUT) rc = TW_OK;
        store_confirm(e); /* what the flush confirmed leaves the queue / store */
        tw_mqtt_client_disconnect(e->mc, 1000);
    }
    if (e->mc) store_confirm(e);
    drop_client(e);
    e->started = 0;
    set_state(e, TW_EDGE_STOPPED, TW_OK);
    return rc;
}

static tw_status publish_all(tw_edge *e)
{
    tw_status rc = TW_OK;
    if (!data_ready(e)) {
        if (!e->ever_born && !e->o.store) {
            /* before the first NBIRTH: the births will carry the current values; changes stay
             * in the tag sets (only their descriptors are drained) */
            drain_fd(&e->node_set);
            for (size_t i = 0; i < e->ndevs; i++) drain_fd(e->devs[i]);
            return TW_OK;
        }
        /* offline: keep history (devices that are offline contribute nothing) */
        collect_to_queue(e, &e->node_set, 1, 0);
        for (size_t i = 0; i < e->ndevs; i++)
            collect_to_queue(e, e->devs[i], 1, !e->devs[i]->online);
        return TW_OK;
    }
    /* Live data takes the same path as history, behind it: with a store every change is
     * appended to the store first (then published and acknowledged once the broker confirmed
     * it); without one it goes through the memory queue and stays there until confirmed. Without
     * a store, changes are collected only when the queue has been handed out, so back-pressure
     * leaves them in the tag sets (coalescing) rather than overflowing the queue. */
    tw_status st = drain_queue(e);
    if (st != TW_OK && st != TW_ERR_FULL && st != TW_ERR_MQTT_INFLIGHT_FULL) rc = st;
    if (e->o.store || (!q_todo(e) && can_publish(e))) {
        collect_to_queue(e, &e->node_set, 0, 0);
        for (size_t i = 0; i < e->ndevs; i++) {
            edge_set *s = e->devs[i];
            if (!s->online) collect_to_queue(e, s, 0, 1);
            else if (s->born) collect_to_queue(e, s, 0, 0);
        }
        st = drain_queue(e);
        if (st != TW_OK && st != TW_ERR_FULL && st != TW_ERR_MQTT_INFLIGHT_FULL && rc == TW_OK)
            rc = st;
    } else {
        drain_fd(&e->node_set);
        for (size_t i = 0; i < e->ndevs; i++) drain_fd(e->devs[i]);
    }
    return rc;
}

/* Hands what was queued to the transport now (writes without waiting; also reads acks). */
static void flush_now(tw_edge *e)
{
    if (e->mc && tw_mqtt_client_pending_bytes(e->mc)) {
        tw_mqtt_client_process(e->mc);
        e->ring_full = 0;
    }
}

tw_status tw_edge_publish(tw_edge *e)
{
    if (!e) return TW_ERR_INVALID_ARG;
    tw_status rc = publish_all(e);
    /* batch small messages into larger TLS records; the caller's next step/process (POLLOUT is
     * asked for while bytes are pending) writes the rest */
    if (e->mc && tw_mqtt_client_pending_bytes(e->mc) >= 32768u) flush_now(e);
    return rc;
}

tw_status tw_edge_rebirth(tw_edge *e)
{
    if (!e) return TW_ERR_INVALID_ARG;
    e->need_nbirth = 1; /* done by the next process/step (tw_edge_timeout_ms() is then 0) */
    return TW_OK;
}

tw_status tw_edge_process(tw_edge *e)
{
    if (!e) return TW_ERR_INVALID_ARG;
    e->pending_status = TW_OK;
    if (!e->started) {
        publish_all(e);
        return TW_OK;
    }
    if (e->state == TW_EDGE_BACKOFF && !e->mc && tw__mono_ms() >= e->next_attempt_ms)
        begin_connect(e);
    if (e->mc) {
        int was_up = e->conn_up;
        tw_status st = tw_mqtt_client_process(e->mc);
        e->ring_full = 0;
        store_confirm(e);
        if (!was_up && e->conn_up) on_connected(e);
        if (e->conn_lost) {
            tw_status why = st != TW_OK ? st : e->lost_reason;
            tw__err(&e->err, MOD, why, "connection %s: %s", was_up ? "lost" : "failed",
                    tw_mqtt_client_last_error(e->mc));
            tw__log(TW_LOG_WARN, MOD, "%s/%s: %s", e->group, e->node, tw__err_msg(&e->err));
            if (e->pending_status == TW_OK) e->pending_status = why;
            drop_client(e);
            schedule_retry(e, why);
        }
    }
    if (e->mc && e->conn_up && e->host_terminate) {
        e->host_terminate = 0;
        uint8_t buf[64];
        size_t len = 0;
        if (tw__sp_encode_ndeath(buf, sizeof buf, &len, now_ms(), e->bdseq) == TW_OK &&
            tw_mqtt_client_publish(e->mc, e->t_ndeath, buf, len, 1, 0, NULL) == TW_OK) {
            e->st.messages_published++;
            emit(e, TW_EDGE_EVENT_DEATH, TW_OK, NULL, NULL, 0, "NDEATH (primary host offline)");
        }
        tw__log(TW_LOG_INFO, MOD, "%s/%s: primary host offline: session ended, reconnecting",
                e->group, e->node);
        tw_mqtt_client_disconnect(e->mc, 1000);
        drop_client(e);
        e->attempt = 0;
        e->next_attempt_ms = tw__mono_ms(); /* reconnect at once, then wait for the host */
        set_state(e, TW_EDGE_BACKOFF, TW_OK);
        begin_connect(e);
    }
    if (e->mc && e->conn_up) {
        if (!e->host_online) {
            set_state(e, TW_EDGE_WAITING_HOST, TW_OK);
        } else {
            if (e->need_nbirth) do_nbirth(e);
            if (e->nborn && !e->need_nbirth) {
                for (size_t i = 0; i < e->ndevs; i++) {
                    edge_set *s = e->devs[i];
                    if (s->need_death && do_ddeath(e, s) != TW_OK) break;
                    if (s->need_birth && s->online && do_dbirth(e, s) != TW_OK) break;
                }
                set_state(e, TW_EDGE_ONLINE, TW_OK);
            }
        }
    }
    publish_all(e);
    if (e->need_nbirth && data_ready(e) == 0 && e->conn_up && e->host_online && e->nborn) {
        /* a data path noticed a new tag: rebirth now */
        do_nbirth(e);
        publish_all(e);
    }
    flush_now(e);
    return e->pending_status;
}

int tw_edge_fd(const tw_edge *e) { return (e && e->mc) ? tw_mqtt_client_fd(e->mc) : -1; }

unsigned tw_edge_events(const tw_edge *e) { return (e && e->mc) ? tw_mqtt_client_events(e->mc) : 0; }

int tw_edge_timeout_ms(const tw_edge *e)
{
    if (!e || !e->started) return -1;
    if (e->state == TW_EDGE_BACKOFF && !e->mc) {
        int64_t d = e->next_attempt_ms - tw__mono_ms();
        return d < 0 ? 0 : (int)(d > 3600000 ? 3600000 : d);
    }
    if (e->conn_up && e->host_online) {
        if (e->need_nbirth) return 0;
        if ((q_todo(e) || (e->need_rescan && !e->q_count && !e->ack_count) ||
             (e->o.store && e->store_more && e->ack_count < ACK_RING)) &&
            can_publish(e) && e->nborn)
            return 0;
        for (size_t i = 0; i < e->ndevs; i++)
            if ((e->devs[i]->need_birth && e->devs[i]->online) || e->devs[i]->need_death)
                return 0;
    }
    /* back-pressure (window or ring full) resolves with an fd event: an ack or POLLOUT */
    return e->mc ? tw_mqtt_client_timeout_ms(e->mc) : -1;
}

tw_status tw_edge_step(tw_edge *e, int timeout_ms)
{
    if (!e) return TW_ERR_INVALID_ARG;
    size_t need = e->ndevs + 2;
    if (need > e->pfds_cap) {
        struct pollfd *p = tw__realloc(e->pfds, need * sizeof *p);
        if (!p) return TW_ERR_NOMEM;
        e->pfds = p;
        e->pfds_cap = need;
    }
    nfds_t n = 0;
    int fd = tw_edge_fd(e);
    if (fd >= 0) {
        unsigned ev = tw_edge_events(e);
        e->pfds[n].fd = fd;
        e->pfds[n].events = (short)(((ev & TW_POLL_IN) ? POLLIN : 0) | ((ev & TW_POLL_OUT) ? POLLOUT : 0));
        e->pfds[n++].revents = 0;
    }
    if (e->node_set.ts) {
        e->pfds[n].fd = tw_tagset_fd(e->node_set.ts);
        e->pfds[n].events = POLLIN;
        e->pfds[n++].revents = 0;
    }
    for (size_t i = 0; i < e->ndevs; i++) {
        e->pfds[n].fd = tw_tagset_fd(e->devs[i]->ts);
        e->pfds[n].events = POLLIN;
        e->pfds[n++].revents = 0;
    }
    int t = tw_edge_timeout_ms(e);
    int wait = timeout_ms;
    if (t >= 0 && (wait < 0 || t < wait)) wait = t;
    if (e->mc && tw_transport_pending(tw_mqtt_client_transport(e->mc))) wait = 0;
    if (n || wait != 0) {
        int r = poll(e->pfds, n, wait);
        (void)r;
    }
    return tw_edge_process(e);
}

tw_edge_state tw_edge_state_get(const tw_edge *e) { return e ? e->state : TW_EDGE_STOPPED; }

static tw_status edge_stats_fill(const tw_edge *e, tw_edge_stats *out);

/* Fills a current-version struct; the caller's version gets only its fields. */
tw_status tw_edge_stats_get(const tw_edge *e, tw_edge_stats *out)
{
    if (!e || !out) return TW_ERR_INVALID_ARG;
    if (out->version < 1 || out->version > TW_EDGE_STATS_VERSION) return TW_ERR_VERSION;
    tw_edge_stats s;
    s.version = TW_EDGE_STATS_VERSION;
    tw_status st = edge_stats_fill(e, &s);
    return st ? st : TW__STATS_PUT(out, &s, sizeof(tw_edge_stats));
}

static tw_status edge_stats_fill(const tw_edge *e, tw_edge_stats *out)
{
    if (!e || !out) return TW_ERR_INVALID_ARG;
    if (out->version != TW_EDGE_STATS_VERSION) return TW_ERR_VERSION;
    *out = e->st;
    out->version = TW_EDGE_STATS_VERSION;
    out->state = e->state;
    out->host_online = e->host_online;
    out->queue_depth = q_todo(e);
    out->queue_used_bytes = e->q_tail - e->q_head;
    out->last_status = e->err.code;
    return TW_OK;
}

const char *tw_edge_last_error(const tw_edge *e)
{
    if (!e || e->err.code == TW_OK) return "";
    return tw__err_msg(&e->err);
}

tw_status tw_edge_last_status(const tw_edge *e) { return e ? e->err.code : TW_ERR_INVALID_ARG; }

/* ---- private hooks ------------------------------------------------------------------------- */

void tw__edge_inject_message(tw_edge *e, const char *topic, size_t topic_len, const void *payload,
                             size_t len)
{
    if (!e || !topic) return;
    tw_mqtt_message m;
    memset(&m, 0, sizeof m);
    m.topic = topic;
    m.topic_len = topic_len;
    m.payload = payload;
    m.payload_len = len;
    on_message(NULL, &m, e);
}

uint64_t tw__edge_alias_base(const tw_edge *e, const char *device_id)
{
    if (!e) return 0;
    if (!device_id) return e->node_set.base;
    edge_set *s = dev_by_name((tw_edge *)(uintptr_t)e, device_id, strlen(device_id));
    return s ? s->base : 0;
}
