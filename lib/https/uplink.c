/*
 * HTTPS batch uplink: drains a tw_store through libcurl's multi interface (see tagwire/https.h).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <zlib.h>

#include "https_internal.h"

#define MOD "https"
#define STATE_INSTANCE "https.instance"
#define STATE_INFLIGHT "https.inflight"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;
static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

struct tw_https_uplink {
    tw__error err;
    tw_store *store;
    char *url, *ca_file, *cert_file, *key_file, *key_password, *park_dir;
    int use_system_trust;
    tw_https_format format;
    int gzip;
    uint32_t max_records, max_bytes, timeout_ms, connect_timeout_ms, backoff_base_ms,
        backoff_cap_ms, max_retry_after_s, historical_ms;
    tw_https_reject_policy on_reject;
    tw_https_reject_fn reject_fn;
    void *reject_ud;
    char instance[72];

    CURLM *multi;
    CURL *easy;
    struct curl_slist *hdrs;
    char errbuf[CURL_ERROR_SIZE];
    char retry_after[64];

    /* the batch */
    bool have_batch;
    bool bad_batch;        /* the batch is one record that does not parse */
    bool need_rewind;      /* the cursor read past the batch's end */
    uint64_t pend_first, pend_last; /* in flight before a restart (from the durable state) */
    uint64_t first, last, nrec, nvals;
    char key[128];
    tw__hbuf body, gz, scratch;
    z_stream z;
    bool z_ready;
    bool in_flight;
    uint32_t attempt;
    int64_t next_at_ms;    /* monotonic time of the next attempt */
    bool held;
    long held_status;

    tw_https_stats st;
};

static const char *ctype_of(tw_https_format f)
{
    return f == TW_HTTPS_FORMAT_PROTOBUF ? "application/x-protobuf" : "application/x-ndjson";
}

static bool valid_instance(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '.' || c == '-'))
            return false;
    }
    return true;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint64_t get_le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

static tw_status load_instance(tw_https_uplink *u, const char *given)
{
    if (given) {
        if (!valid_instance(given))
            return tw__err(&u->err, MOD, TW_ERR_CONFIG, "instance_id must be 1..64 of [A-Za-z0-9_.-]");
        tw__strlcpy(u->instance, given, sizeof u->instance);
        return TW_OK;
    }
    char buf[72];
    size_t len = 0;
    tw_status st = tw_store_state_get(u->store, STATE_INSTANCE, buf, sizeof buf - 1, &len);
    if (st == TW_OK) {
        buf[len] = '\0';
        if (valid_instance(buf)) {
            tw__strlcpy(u->instance, buf, sizeof u->instance);
            return TW_OK;
        }
    } else if (st != TW_ERR_NOT_FOUND && st != TW_ERR_CORRUPT && st != TW_ERR_RANGE) {
        return tw__err(&u->err, MOD, st, "cannot read the store's instance id: %s",
                       tw_store_last_error(u->store));
    }
    uint8_t rnd[16];
    size_t got = 0;
    while (got < sizeof rnd) {
        ssize_t r = getrandom(rnd + got, sizeof rnd - got, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return tw__err(&u->err, MOD, TW_ERR_IO, "getrandom: %s", strerror(errno));
        }
        got += (size_t)r;
    }
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < sizeof rnd; i++) {
        u->instance[2 * i] = hex[rnd[i] >> 4];
        u->instance[2 * i + 1] = hex[rnd[i] & 15];
    }
    u->instance[32] = '\0';
    st = tw_store_state_set(u->store, STATE_INSTANCE, u->instance, 32);
    if (st != TW_OK)
        return tw__err(&u->err, MOD, st, "cannot keep the instance id in the store: %s",
                       tw_store_last_error(u->store));
    return TW_OK;
}

tw_status tw_https_uplink_new(tw_https_uplink **out, tw_store *store, const tw_https_options *o)
{
    if (out) *out = NULL;
    tw_status st = tw__check_init();
    if (st != TW_OK) return st;
    if (!out || !store || !o) return TW_ERR_INVALID_ARG;
    if (o->version != TW_HTTPS_OPTIONS_VERSION)
        return tw__err(NULL, MOD, TW_ERR_VERSION, "tw_https_options version %u is not supported",
                       (unsigned)o->version);
    char why[TW__ERRMSG_MAX] = "";
    char url[256];
    if (!o->url || strncmp(o->url, "https://", 8) != 0 || !o->url[8])
        snprintf(why, sizeof why, "url: an https:// URL is required (got '%s')",
                 o->url ? tw__uri_redact(o->url, url, sizeof url) : "(null)");
    else if (!o->ca_file && !o->use_system_trust)
        snprintf(why, sizeof why, "ca_file: no trust anchor (set ca_file or use_system_trust)");
    else if ((o->cert_file == NULL) != (o->key_file == NULL))
        snprintf(why, sizeof why, "cert_file and key_file go together");
    else if (o->format != TW_HTTPS_FORMAT_JSONL && o->format != TW_HTTPS_FORMAT_PROTOBUF)
        snprintf(why, sizeof why, "format: unknown value %d", (int)o->format);
    else if (o->on_reject != TW_HTTPS_REJECT_HOLD && o->on_reject != TW_HTTPS_REJECT_PARK &&
             o->on_reject != TW_HTTPS_REJECT_DROP)
        snprintf(why, sizeof why, "on_reject: unknown value %d", (int)o->on_reject);
    else if (o->on_reject == TW_HTTPS_REJECT_PARK) {
        struct stat sb;
        if (!o->park_dir)
            snprintf(why, sizeof why, "park_dir: required by the PARK reject policy");
        else if (stat(o->park_dir, &sb) != 0)
            snprintf(why, sizeof why, "park_dir '%s': %s", o->park_dir, strerror(errno));
        else if (!S_ISDIR(sb.st_mode))
            snprintf(why, sizeof why, "park_dir '%s': not a directory", o->park_dir);
    }
    if (why[0]) {
        tw__log(TW_LOG_ERROR, MOD, "%s", why);
        return tw__err(NULL, MOD, TW_ERR_CONFIG, "%s", why);
    }
    if (pthread_once(&curl_once, curl_init_once) != 0 || curl_init_rc != CURLE_OK) {
        tw__log(TW_LOG_ERROR, MOD, "curl_global_init failed");
        return tw__err(NULL, MOD, TW_ERR_GENERIC, "curl_global_init failed");
    }
    tw_https_uplink *u = tw__calloc(1, sizeof *u);
    if (!u) return tw__err(NULL, MOD, TW_ERR_NOMEM, "out of memory");
    u->store = store;
    u->url = tw__strdup(o->url);
    u->ca_file = tw__strdup(o->ca_file);
    u->cert_file = tw__strdup(o->cert_file);
    u->key_file = tw__strdup(o->key_file);
    u->key_password = tw__strdup(o->key_password);
    u->park_dir = tw__strdup(o->park_dir);
    u->use_system_trust = o->use_system_trust;
    u->format = o->format;
    u->gzip = o->gzip;
    u->max_records = o->max_batch_records ? o->max_batch_records : 500;
    u->max_bytes = o->max_batch_bytes ? o->max_batch_bytes : (1u << 20);
    u->timeout_ms = o->timeout_ms ? o->timeout_ms : 30000;
    u->connect_timeout_ms = o->connect_timeout_ms ? o->connect_timeout_ms : 10000;
    u->backoff_base_ms = o->backoff_base_ms ? o->backoff_base_ms : 250;
    u->backoff_cap_ms = o->backoff_cap_ms ? o->backoff_cap_ms : 30000;
    u->max_retry_after_s = o->max_retry_after_s ? o->max_retry_after_s : 3600;
    u->historical_ms = o->historical_ms ? o->historical_ms : 10000;
    u->on_reject = o->on_reject;
    u->reject_fn = o->reject_fn;
    u->reject_ud = o->reject_user_data;
    u->st.version = TW_HTTPS_STATS_VERSION;
    st = TW_ERR_NOMEM;
    if (!u->url || (o->ca_file && !u->ca_file) || (o->cert_file && !u->cert_file) ||
        (o->key_file && !u->key_file) || (o->key_password && !u->key_password) ||
        (o->park_dir && !u->park_dir))
        goto fail;
    u->multi = curl_multi_init();
    u->easy = curl_easy_init();
    if (!u->multi || !u->easy) goto fail;
    st = load_instance(u, o->instance_id);
    if (st != TW_OK) goto fail;
    uint8_t inflight[16];
    size_t ilen = 0;
    if (tw_store_state_get(store, STATE_INFLIGHT, inflight, sizeof inflight, &ilen) == TW_OK &&
        ilen == 16) {
        u->pend_first = get_le64(inflight);
        u->pend_last = get_le64(inflight + 8);
        tw_store_stats ss = {.version = TW_STORE_STATS_VERSION};
        if (tw_store_stats_get(store, &ss) != TW_OK || u->pend_last <= ss.acked_seq ||
            u->pend_first > u->pend_last)
            u->pend_first = u->pend_last = 0; /* already delivered */
    }
    st = tw_store_rewind(store);
    if (st != TW_OK) {
        tw__err(&u->err, MOD, st, "store rewind: %s", tw_store_last_error(store));
        goto fail;
    }
    *out = u;
    return TW_OK;
fail:;
    char msg[TW__ERRMSG_MAX];
    tw__strlcpy(msg, u->err.code == st ? tw__err_msg(&u->err) : tw_strerror(st), sizeof msg);
    tw__log(TW_LOG_ERROR, MOD, "%s", msg);
    tw_https_uplink_free(u);
    return tw__err(NULL, MOD, st, "%s", msg);
}

static void abort_request(tw_https_uplink *u)
{
    if (u->in_flight) {
        curl_multi_remove_handle(u->multi, u->easy);
        u->in_flight = false;
    }
}

void tw_https_uplink_free(tw_https_uplink *u)
{
    if (!u) return;
    if (u->multi && u->easy) abort_request(u);
    if (u->easy) curl_easy_cleanup(u->easy);
    if (u->multi) curl_multi_cleanup(u->multi);
    curl_slist_free_all(u->hdrs);
    if (u->z_ready) deflateEnd(&u->z);
    tw__hbuf_free(&u->body);
    tw__hbuf_free(&u->gz);
    tw__hbuf_free(&u->scratch);
    tw__free(u->url);
    tw__free(u->ca_file);
    tw__free(u->cert_file);
    tw__free(u->key_file);
    tw__free(u->key_password);
    tw__free(u->park_dir);
    tw__free(u);
}

/* ---- batches ---- */

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static tw_status compress_body(tw_https_uplink *u)
{
    if (!u->z_ready) {
        memset(&u->z, 0, sizeof u->z);
        if (deflateInit2(&u->z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
            return tw__err(&u->err, MOD, TW_ERR_NOMEM, "deflateInit2 failed");
        u->z_ready = true;
    } else {
        deflateReset(&u->z);
    }
    u->gz.len = 0;
    uLong bound = deflateBound(&u->z, (uLong)u->body.len);
    if (!tw__hbuf_reserve(&u->gz, bound)) return tw__err(&u->err, MOD, TW_ERR_NOMEM, "out of memory");
    u->z.next_in = u->body.p;
    u->z.avail_in = (uInt)u->body.len;
    u->z.next_out = u->gz.p;
    u->z.avail_out = (uInt)bound;
    int zr = deflate(&u->z, Z_FINISH);
    if (zr != Z_STREAM_END) return tw__err(&u->err, MOD, TW_ERR_GENERIC, "deflate failed (%d)", zr);
    u->gz.len = bound - u->z.avail_out;
    return TW_OK;
}

/* Reads the next batch from the store. Sets have_batch when there is one. */
static tw_status build_batch(tw_https_uplink *u)
{
    tw_status st;
    if (u->need_rewind) {
        st = tw_store_rewind(u->store);
        if (st != TW_OK)
            return tw__err(&u->err, MOD, st, "store rewind: %s", tw_store_last_error(u->store));
        u->need_rewind = false;
    }
    u->body.len = 0;
    u->nrec = u->nvals = 0;
    u->first = u->last = 0;
    u->bad_batch = false;
    int64_t now = wall_ms();
    bool pb = u->format == TW_HTTPS_FORMAT_PROTOBUF;
    for (;;) {
        if (u->nrec >= u->max_records || (u->nrec && u->body.len >= u->max_bytes)) break;
        if (u->pend_last && u->nrec && u->last >= u->pend_last) break;
        tw_store_record rec;
        st = tw_store_read(u->store, &rec);
        if (st == TW_ERR_AGAIN) break;
        if (st != TW_OK)
            return tw__err(&u->err, MOD, st, "store read: %s", tw_store_last_error(u->store));
        /* check the record before framing it */
        size_t off = 0, n = 0;
        tw_https_entry e;
        while ((st = tw_https_record_next(rec.data, rec.len, &off, &e)) == TW_OK) n++;
        if (st != TW_ERR_AGAIN || n == 0) {
            tw__log(TW_LOG_ERROR, MOD, "store record %llu (%zu bytes) is not a valid entry list",
                    (unsigned long long)rec.seq, rec.len);
            if (u->nrec == 0) {
                /* the batch is this record alone; the reject policy deals with it */
                u->body.len = 0;
                tw__hbuf_put(&u->body, rec.data, rec.len);
                u->first = u->last = rec.seq;
                u->nrec = 1;
                u->bad_batch = true;
            } else {
                u->need_rewind = true; /* it starts the next batch */
            }
            break;
        }
        if (u->nrec == 0) {
            u->first = rec.seq;
            if (pb) tw__https_pb_begin(&u->body, (uint64_t)(now < 0 ? 0 : now));
        }
        u->last = rec.seq;
        u->nrec++;
        bool hist = pb && now - rec.time_ms > (int64_t)u->historical_ms;
        off = 0;
        while (tw_https_record_next(rec.data, rec.len, &off, &e) == TW_OK) {
            if (pb) tw__https_pb_metric(&u->body, &u->scratch, &e, hist);
            else tw__https_jsonl_entry(&u->body, &e, rec.seq);
            u->nvals++;
        }
    }
    if (u->body.oom || u->scratch.oom) {
        u->body.oom = u->scratch.oom = false;
        u->need_rewind = true;
        return tw__err(&u->err, MOD, TW_ERR_NOMEM, "out of memory building a batch");
    }
    if (u->nrec == 0) return TW_OK;
    snprintf(u->key, sizeof u->key, "%s-%llu-%llu", u->instance, (unsigned long long)u->first,
             (unsigned long long)u->last);
    if (!(u->pend_last && u->first <= u->pend_last)) {
        uint8_t rec16[16];
        put_le64(rec16, u->first);
        put_le64(rec16 + 8, u->last);
        st = tw_store_state_set(u->store, STATE_INFLIGHT, rec16, sizeof rec16);
        if (st != TW_OK) {
            u->need_rewind = true;
            return tw__err(&u->err, MOD, st, "cannot record the batch in flight: %s",
                           tw_store_last_error(u->store));
        }
    }
    u->pend_first = u->pend_last = 0;
    if (u->gzip && !u->bad_batch) {
        st = compress_body(u);
        if (st != TW_OK) {
            u->need_rewind = true;
            return st;
        }
    }
    u->have_batch = true;
    u->attempt = 0;
    u->next_at_ms = 0;
    return TW_OK;
}

/* ---- requests ---- */

static size_t on_header(char *buf, size_t size, size_t n, void *ud)
{
    tw_https_uplink *u = ud;
    size_t len = size * n;
    static const char name[] = "retry-after:";
    if (len > sizeof name - 1 && strncasecmp(buf, name, sizeof name - 1) == 0) {
        size_t vl = len - (sizeof name - 1);
        const char *v = buf + sizeof name - 1;
        while (vl && (*v == ' ' || *v == '\t')) {
            v++;
            vl--;
        }
        while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' ')) vl--;
        if (vl >= sizeof u->retry_after) vl = sizeof u->retry_after - 1;
        memcpy(u->retry_after, v, vl);
        u->retry_after[vl] = '\0';
    }
    return len;
}

static size_t on_body(char *buf, size_t size, size_t n, void *ud)
{
    (void)buf;
    (void)ud;
    return size * n; /* the response body is not needed */
}

static tw_status start_request(tw_https_uplink *u)
{
    CURL *c = u->easy;
    curl_easy_reset(c);
    curl_slist_free_all(u->hdrs);
    u->hdrs = NULL;
    char h[200];
    struct curl_slist *l = curl_slist_append(NULL, "Expect:");
    snprintf(h, sizeof h, "Content-Type: %s", ctype_of(u->format));
    if (l) l = curl_slist_append(l, h);
    if (l && u->gzip) l = curl_slist_append(l, "Content-Encoding: gzip");
    snprintf(h, sizeof h, "Idempotency-Key: %s", u->key);
    if (l) l = curl_slist_append(l, h);
    snprintf(h, sizeof h, "X-Tagwire-Records: %llu", (unsigned long long)u->nrec);
    if (l) l = curl_slist_append(l, h);
    if (!l) return tw__err(&u->err, MOD, TW_ERR_NOMEM, "out of memory");
    u->hdrs = l;
    const tw__hbuf *b = u->gzip ? &u->gz : &u->body;
    u->errbuf[0] = '\0';
    u->retry_after[0] = '\0';
    curl_easy_setopt(c, CURLOPT_URL, u->url);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, u->errbuf);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)u->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)u->connect_timeout_ms);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (u->ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, u->ca_file);
    else curl_easy_setopt(c, CURLOPT_CAINFO, NULL);
    if (!u->use_system_trust) curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
    if (u->cert_file) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, u->cert_file);
        curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(c, CURLOPT_SSLKEY, u->key_file);
        curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
        if (u->key_password) curl_easy_setopt(c, CURLOPT_KEYPASSWD, u->key_password);
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, u->hdrs);
    curl_easy_setopt(c, CURLOPT_POST, 1L);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, (const char *)b->p);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b->len);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, u);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, u);
    CURLMcode mc = curl_multi_add_handle(u->multi, c);
    if (mc != CURLM_OK)
        return tw__err(&u->err, MOD, TW_ERR_GENERIC, "curl_multi_add_handle: %s", curl_multi_strerror(mc));
    u->in_flight = true;
    u->st.requests++;
    if (u->attempt > 0) u->st.retries++;
    tw__log(TW_LOG_DEBUG, MOD, "POST %s key %s (%llu records, %zu bytes, attempt %u)", u->url, u->key,
            (unsigned long long)u->nrec, b->len, u->attempt + 1);
    return TW_OK;
}

static tw_status transport_status(tw_https_uplink *u, CURLcode rc)
{
    const char *m = u->errbuf[0] ? u->errbuf : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        return tw__err(&u->err, MOD, TW_ERR_CONN_REFUSED, "%s: cannot connect: %s", u->url, m);
    case CURLE_COULDNT_RESOLVE_HOST:
        return tw__err(&u->err, MOD, TW_ERR_RESOLVE, "%s: cannot resolve: %s", u->url, m);
    case CURLE_OPERATION_TIMEDOUT:
        return tw__err(&u->err, MOD, TW_ERR_TIMEOUT, "%s: timed out: %s", u->url, m);
    case CURLE_PEER_FAILED_VERIFICATION:
        return tw__err(&u->err, MOD, TW_ERR_TLS_UNKNOWN_CA,
                       "%s: TLS: the server's certificate is not trusted (ca_file %s) or does not "
                       "match the host: %s",
                       u->url, u->ca_file ? u->ca_file : "(system)", m);
    case CURLE_SSL_CERTPROBLEM:
        return tw__err(&u->err, MOD, TW_ERR_TLS_CREDENTIALS,
                       "%s: TLS: our client certificate or key cannot be used: %s", u->url, m);
    case CURLE_SSL_CACERT_BADFILE:
        return tw__err(&u->err, MOD, TW_ERR_CONFIG, "%s: TLS: the CA file cannot be used: %s", u->url, m);
    case CURLE_SSL_CONNECT_ERROR:
        return tw__err(&u->err, MOD, TW_ERR_TLS_HANDSHAKE, "%s: TLS handshake failed: %s", u->url, m);
    default:
        return tw__err(&u->err, MOD, TW_ERR_IO, "%s: %s", u->url, m);
    }
}

static void schedule_retry(tw_https_uplink *u, uint32_t delay_ms)
{
    u->next_at_ms = tw__mono_ms() + delay_ms;
    u->attempt++;
}

static uint32_t backoff(tw_https_uplink *u)
{
    return tw__backoff_ms(u->attempt, u->backoff_base_ms, u->backoff_cap_ms, NULL, NULL);
}

static tw_status finish_batch(tw_https_uplink *u, bool delivered)
{
    tw_status st = tw_store_ack(u->store, u->last);
    if (st != TW_OK && st != TW_ERR_IO && st != TW_ERR_NO_SPACE)
        return tw__err(&u->err, MOD, st, "store ack %llu: %s", (unsigned long long)u->last,
                       tw_store_last_error(u->store));
    if (st != TW_OK) /* trimmed in memory, checkpoint retried by the store later */
        tw__log(TW_LOG_WARN, MOD, "store ack: %s", tw_store_last_error(u->store));
    if (delivered) {
        u->st.batches++;
        u->st.records += u->nrec;
        u->st.values += u->nvals;
        u->st.bytes += u->gzip ? u->gz.len : u->body.len;
    }
    u->st.acked_seq = u->last;
    u->have_batch = false;
    u->held = false;
    u->attempt = 0;
    return TW_OK;
}

static tw_status park_batch(tw_https_uplink *u, long status)
{
    char path[4096], tmp[4200];
    int n = snprintf(path, sizeof path, "%s/%s.batch", u->park_dir, u->key);
    if (n < 0 || (size_t)n >= sizeof path) return TW_ERR_RANGE;
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return tw__status_from_errno(errno);
    char hdr[512];
    int hl = snprintf(hdr, sizeof hdr,
                      "Idempotency-Key: %s\nHTTP-Status: %ld\nContent-Type: %s\nRecords: %llu\n\n",
                      u->key, status, u->bad_batch ? "application/octet-stream" : ctype_of(u->format),
                      (unsigned long long)u->nrec);
    bool ok = hl > 0 && write(fd, hdr, (size_t)hl) == hl;
    size_t off = 0;
    while (ok && off < u->body.len) {
        ssize_t w = write(fd, u->body.p + off, u->body.len - off);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) ok = false;
        else off += (size_t)w;
    }
    int err = errno;
    if (ok && fsync(fd) != 0) {
        ok = false;
        err = errno;
    }
    close(fd);
    if (ok && rename(tmp, path) != 0) {
        ok = false;
        err = errno;
    }
    if (!ok) {
        unlink(tmp);
        return tw__status_from_errno(err);
    }
    int dfd = open(u->park_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        (void)fsync(dfd);
        close(dfd);
    }
    return TW_OK;
}

/* A permanent refusal (status 0: the records do not parse). */
static tw_status reject(tw_https_uplink *u, long status)
{
    if (status)
        tw__log(TW_LOG_ERROR, MOD, "batch %s (%llu records) refused permanently: HTTP %ld", u->key,
                (unsigned long long)u->nrec, status);
    else
        tw__log(TW_LOG_ERROR, MOD, "batch %s: store record does not parse", u->key);
    u->held_status = status;
    if (u->reject_fn) u->reject_fn(status, u->key, u->body.p, u->body.len, u->nrec, u->reject_ud);
    switch (u->on_reject) {
    case TW_HTTPS_REJECT_PARK: {
        tw_status st = park_batch(u, status);
        if (st != TW_OK) {
            tw__log(TW_LOG_ERROR, MOD, "cannot park batch %s in %s (%s): holding it", u->key,
                    u->park_dir, tw_strerror(st));
            u->held = true;
            return TW_OK;
        }
        u->st.parked_batches++;
        u->st.rejected_batches++;
        u->st.rejected_records += u->nrec;
        return finish_batch(u, false);
    }
    case TW_HTTPS_REJECT_DROP:
        u->st.rejected_batches++;
        u->st.rejected_records += u->nrec;
        return finish_batch(u, false);
    default:
        u->held = true;
        return TW_OK;
    }
}

static tw_status on_done(tw_https_uplink *u, CURLcode rc)
{
    curl_multi_remove_handle(u->multi, u->easy);
    u->in_flight = false;
    if (rc != CURLE_OK) {
        u->st.last_http_status = 0;
        u->st.last_status = transport_status(u, rc);
        u->st.failures++;
        tw__log(u->attempt == 0 ? TW_LOG_WARN : TW_LOG_DEBUG, MOD, "batch %s (attempt %u): %s", u->key,
                u->attempt + 1, tw__err_msg(&u->err));
        schedule_retry(u, backoff(u));
        return TW_OK;
    }
    long code = 0;
    curl_easy_getinfo(u->easy, CURLINFO_RESPONSE_CODE, &code);
    u->st.last_http_status = code;
    u->st.last_retry_after_s = 0;
    if (code >= 200 && code < 300) {
        u->st.last_status = TW_OK;
        tw__log(TW_LOG_DEBUG, MOD, "batch %s: HTTP %ld", u->key, code);
        return finish_batch(u, true);
    }
    if (code == 429 || code == 503) {
        uint32_t secs = 0;
        bool has = tw__https_retry_after(u->retry_after, (int64_t)time(NULL), &secs);
        if (has && secs > u->max_retry_after_s) secs = u->max_retry_after_s;
        u->st.last_retry_after_s = has ? secs : 0;
        u->st.last_status = tw__err(&u->err, MOD, TW_ERR_HTTP, "HTTP %ld%s%s", code,
                                    has ? ", Retry-After: " : "", has ? u->retry_after : "");
        u->st.failures++;
        tw__log(TW_LOG_INFO, MOD, "batch %s: HTTP %ld, retrying in %s%u %s", u->key, code,
                has ? "" : "~", has ? secs : backoff(u), has ? "s" : "ms (back-off)");
        schedule_retry(u, has ? secs * 1000u : backoff(u));
        return TW_OK;
    }
    if (code == 408 || code >= 500) {
        u->st.last_status = tw__err(&u->err, MOD, TW_ERR_HTTP, "HTTP %ld (retriable)", code);
        u->st.failures++;
        tw__log(u->attempt == 0 ? TW_LOG_WARN : TW_LOG_DEBUG, MOD, "batch %s: HTTP %ld, retrying", u->key,
                code);
        schedule_retry(u, backoff(u));
        return TW_OK;
    }
    u->st.last_status = tw__err(&u->err, MOD, TW_ERR_HTTP, "HTTP %ld: batch %s refused permanently",
                                code, u->key);
    return reject(u, code);
}

/* Runs libcurl and handles a completed transfer. */
static tw_status drive(tw_https_uplink *u, bool *done)
{
    int running = 0;
    CURLMcode mc = curl_multi_perform(u->multi, &running);
    if (mc != CURLM_OK)
        return tw__err(&u->err, MOD, TW_ERR_GENERIC, "curl_multi_perform: %s", curl_multi_strerror(mc));
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(u->multi, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == u->easy && u->in_flight) {
            *done = true;
            return on_done(u, msg->data.result);
        }
    }
    return TW_OK;
}

tw_status tw_https_uplink_step(tw_https_uplink *u, uint32_t timeout_ms)
{
    if (!u) return TW_ERR_INVALID_ARG;
    int64_t deadline = tw__mono_ms() + timeout_ms;
    for (;;) {
        if (u->held)
            return tw__err(&u->err, MOD, TW_ERR_BUSY, "batch %s held after refusal (HTTP %ld)", u->key,
                           u->held_status);
        tw_status st;
        if (!u->have_batch) {
            st = build_batch(u);
            if (st != TW_OK) return st;
            if (!u->have_batch) return TW_OK; /* drained */
        }
        if (!u->in_flight && u->bad_batch) {
            u->st.last_status = tw__err(&u->err, MOD, TW_ERR_PARSE,
                                        "store record %llu does not parse", (unsigned long long)u->first);
            st = reject(u, 0);
            if (st != TW_OK) return st;
            continue;
        }
        int64_t now = tw__mono_ms();
        if (!u->in_flight) {
            if (now < u->next_at_ms) {
                int64_t wait = TW__MIN(u->next_at_ms, deadline) - now;
                if (wait <= 0) return TW_OK;
                poll(NULL, 0, (int)wait);
                continue;
            }
            st = start_request(u);
            if (st != TW_OK) return st;
        }
        bool done = false;
        st = drive(u, &done);
        if (st != TW_OK) return st;
        if (done) {
            /* start the next batch right away (pipelining the loop), then return */
            if (!u->have_batch && !u->held) {
                st = build_batch(u);
                if (st != TW_OK) return st;
                if (u->have_batch && !u->bad_batch) {
                    st = start_request(u);
                    if (st != TW_OK) return st;
                    bool d2 = false;
                    st = drive(u, &d2);
                }
            }
            return st;
        }
        now = tw__mono_ms();
        if (now >= deadline) return TW_OK;
        int numfds = 0;
        long cto = -1;
        curl_multi_timeout(u->multi, &cto);
        int64_t wait = deadline - now;
        if (cto >= 0 && cto < wait) wait = cto;
        if (wait > 0) curl_multi_poll(u->multi, NULL, 0, (int)wait, &numfds);
    }
}

tw_https_state tw_https_uplink_state(const tw_https_uplink *u)
{
    if (!u || !u->have_batch) return TW_HTTPS_IDLE;
    if (u->held) return TW_HTTPS_HELD;
    if (u->in_flight) return TW_HTTPS_SENDING;
    return TW_HTTPS_BACKOFF;
}

uint32_t tw_https_uplink_next_ms(tw_https_uplink *u)
{
    if (!u || u->held) return UINT32_MAX;
    if (!u->have_batch) {
        tw_store_stats s = {.version = TW_STORE_STATS_VERSION};
        if (tw_store_stats_get(u->store, &s) == TW_OK && s.read_seq < s.next_seq) return 0;
        return UINT32_MAX;
    }
    if (!u->in_flight) {
        int64_t d = u->next_at_ms - tw__mono_ms();
        return d <= 0 ? 0 : d > (int64_t)UINT32_MAX - 1 ? UINT32_MAX - 1 : (uint32_t)d;
    }
    long cto = -1;
    curl_multi_timeout(u->multi, &cto);
    return cto < 0 ? UINT32_MAX : (uint32_t)cto;
}

tw_status tw_https_uplink_fds(tw_https_uplink *u, int *fds, int *events, size_t cap, size_t *n)
{
    if (!u || !n || (cap && (!fds || !events))) return TW_ERR_INVALID_ARG;
    *n = 0;
    if (!u->in_flight) return TW_OK;
    fd_set r, w, x;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_ZERO(&x);
    int maxfd = -1;
    if (curl_multi_fdset(u->multi, &r, &w, &x, &maxfd) != CURLM_OK) return TW_ERR_GENERIC;
    for (int fd = 0; fd <= maxfd; fd++) {
        int ev = (FD_ISSET(fd, &r) ? TW_HTTPS_FD_READ : 0) | (FD_ISSET(fd, &w) ? TW_HTTPS_FD_WRITE : 0);
        if (!ev) continue;
        if (*n < cap) {
            fds[*n] = fd;
            events[*n] = ev;
        }
        (*n)++;
    }
    return TW_OK;
}

tw_status tw_https_uplink_release(tw_https_uplink *u, int drop)
{
    if (!u) return TW_ERR_INVALID_ARG;
    if (!u->held) return tw__err(&u->err, MOD, TW_ERR_BUSY, "no batch is held");
    if (drop) {
        u->st.rejected_batches++;
        u->st.rejected_records += u->nrec;
        return finish_batch(u, false);
    }
    if (u->bad_batch) return tw__err(&u->err, MOD, TW_ERR_PARSE, "the held record does not parse: drop it");
    u->held = false;
    u->attempt = 0;
    u->next_at_ms = 0;
    return TW_OK;
}

void tw_https_uplink_retry_now(tw_https_uplink *u)
{
    if (!u || !u->have_batch || u->held) return;
    if (u->in_flight) u->attempt++; /* the abandoned request counts as an attempt */
    abort_request(u);
    u->next_at_ms = 0;
}

tw_status tw_https_uplink_stats_get(const tw_https_uplink *u, tw_https_stats *st)
{
    if (!u || !st) return TW_ERR_INVALID_ARG;
    if (st->version != TW_HTTPS_STATS_VERSION) return TW_ERR_VERSION;
    *st = u->st;
    return TW_OK;
}

const char *tw_https_uplink_last_error(const tw_https_uplink *u)
{
    return u ? tw__err_msg(&u->err) : "invalid argument";
}

tw_status tw_https_uplink_last_status(const tw_https_uplink *u)
{
    return u ? u->err.code : TW_ERR_INVALID_ARG;
}
