/*
 * EST client (RFC 7030) over libcurl, the tw_enroll object, renewal and credential inspection.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <stdarg.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/psa_util.h>

#include "enroll_internal.h"

#define MOD "enroll"
#define EST_PREFIX "/.well-known/est"
#define MAX_BODY (256u * 1024u)
#define DEFAULT_RETRY_AFTER_S 60u

struct tw_enroll {
    tw__error err;
    char *server_url; /* without trailing '/' */
    char *label;
    char *server_ca_file;
    int use_system_trust;
    char *bootstrap_cert_file;
    char *bootstrap_key_file;
    char *username;
    char *password;
    char *dir;
    bool have_identity;
    tw_identity id;
    char *id_strings[6];
    uint32_t max_attempts, backoff_base_ms, backoff_cap_ms, max_retry_after_s, timeout_ms;
    double renew_fraction;
    tw_enroll_event_fn on_event;
    void *user_data;
    uint32_t retry_after_s;
    unsigned last_attempts;
    /* renewal pacing */
    int64_t next_attempt_s;
    uint32_t step_failures;
    int64_t notified_not_after;
    int64_t expired_notified_for;
};

unsigned tw__enroll_attempts(const tw_enroll *e) { return e ? e->last_attempts : 0; }

/* ---- small helpers ---- */

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;
static void curl_init_once(void) { curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

static void sleep_ms(uint32_t ms)
{
    struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static int64_t now_s(void) { return (int64_t)time(NULL); }

static bool has_prefix_ci(const char *s, const char *prefix)
{
    return strncasecmp(s, prefix, strlen(prefix)) == 0;
}

static void emit(tw_enroll *e, tw_enroll_event *ev)
{
    if (!ev->message) ev->message = "";
    tw_log_level lvl = ev->type == TW_ENROLL_EVENT_FAILED || ev->type == TW_ENROLL_EVENT_EXPIRED
                           ? TW_LOG_WARN
                           : TW_LOG_INFO;
    static const char *const names[] = {"?", "enrolled", "expiring", "renewed",
                                        "failed", "committed", "expired"};
    tw__log(lvl, MOD, "event %s: %s", names[(unsigned)ev->type < 7 ? ev->type : 0], ev->message);
    if (e->on_event) e->on_event(ev, e->user_data);
}

static void emit_failed(tw_enroll *e, tw_status st)
{
    tw_enroll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = TW_ENROLL_EVENT_FAILED;
    ev.status = st;
    ev.retriable = tw_enroll_status_retriable(st);
    ev.retry_after_s = st == TW_ERR_EST_RETRY_LATER ? e->retry_after_s : 0;
    ev.message = tw__err_msg(&e->err);
    emit(e, &ev);
}

int tw_enroll_status_retriable(tw_status st)
{
    switch (st) {
    case TW_ERR_EST_RETRY_LATER:
    case TW_ERR_EST_SERVER:
    case TW_ERR_CONN_REFUSED:
    case TW_ERR_RESOLVE:
    case TW_ERR_TIMEOUT:
    case TW_ERR_IO:
    case TW_ERR_UNREACHABLE:
    case TW_ERR_CLOSED:
    case TW_ERR_AGAIN:
        return 1;
    default:
        return 0;
    }
}

int64_t tw_enroll_renew_time(int64_t not_before, int64_t not_after, double fraction)
{
    if (!(fraction > 0.0 && fraction <= 1.0)) fraction = 2.0 / 3.0;
    if (not_after <= not_before) return not_before;
    double span = (double)(not_after - not_before);
    return not_before + (int64_t)(span * fraction);
}

/* ---- HTTP ---- */

typedef struct http_resp {
    long status;
    char *body;
    size_t len;
    bool too_large;
    char content_type[128];
    char cte[32];
    char retry_after[64];
} http_resp;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *ud)
{
    http_resp *r = ud;
    size_t n = size * nmemb;
    if (r->len + n > MAX_BODY) {
        r->too_large = true;
        return 0;
    }
    char *nb = tw__realloc(r->body, r->len + n + 1);
    if (!nb) return 0;
    memcpy(nb + r->len, ptr, n);
    r->body = nb;
    r->len += n;
    r->body[r->len] = '\0';
    return n;
}

static void header_value(char *dst, size_t cap, const char *v, size_t n)
{
    while (n && (*v == ' ' || *v == '\t')) v++, n--;
    while (n && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ' || v[n - 1] == '\t')) n--;
    if (n >= cap) n = cap - 1;
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *ud)
{
    http_resp *r = ud;
    size_t n = size * nitems;
    if (n >= 5 && !strncmp(buf, "HTTP/", 5)) { /* a new response (after 100 Continue, ...) */
        r->content_type[0] = r->cte[0] = r->retry_after[0] = '\0';
        return n;
    }
    static const struct {
        const char *name;
        size_t off, cap;
    } want[] = {
        {"content-type:", offsetof(http_resp, content_type), sizeof(((http_resp *)0)->content_type)},
        {"content-transfer-encoding:", offsetof(http_resp, cte), sizeof(((http_resp *)0)->cte)},
        {"retry-after:", offsetof(http_resp, retry_after), sizeof(((http_resp *)0)->retry_after)},
    };
    for (size_t i = 0; i < TW__ARRAY_LEN(want); i++) {
        size_t l = strlen(want[i].name);
        if (n > l && !strncasecmp(buf, want[i].name, l))
            header_value((char *)r + want[i].off, want[i].cap, buf + l, n - l);
    }
    return n;
}

static uint32_t parse_retry_after(const char *v)
{
    if (!v[0]) return DEFAULT_RETRY_AFTER_S;
    bool digits = true;
    for (const char *p = v; *p; p++)
        if (!isdigit((unsigned char)*p)) digits = false;
    if (digits) {
        unsigned long s = strtoul(v, NULL, 10);
        return s > 7u * 86400u ? 7u * 86400u : (uint32_t)s;
    }
    time_t t = curl_getdate(v, NULL);
    if (t == (time_t)-1) return DEFAULT_RETRY_AFTER_S;
    int64_t d = (int64_t)t - now_s();
    if (d < 0) d = 0;
    return d > 7 * 86400 ? 7u * 86400u : (uint32_t)d;
}

/* The first line of a text body, made printable, for error messages. */
static void body_snippet(char *dst, size_t cap, const http_resp *r)
{
    size_t o = 0;
    if (r->body && (has_prefix_ci(r->content_type, "text/") || !r->content_type[0])) {
        for (size_t i = 0; i < r->len && o + 1 < cap && o < 120; i++) {
            char c = r->body[i];
            if (c == '\r' || c == '\n') break;
            dst[o++] = (c >= 0x20 && c < 0x7f) ? c : '?';
        }
    }
    dst[o] = '\0';
}

static bool looks_like_cert_alert(const char *msg)
{
    /* OpenSSL reports a server's refusal of our certificate as an alert; the texts differ by
     * version ("alert bad certificate", "alert unknown ca", "certificate required", ...). */
    return strstr(msg, "alert") &&
           (strstr(msg, "certificate") || strstr(msg, "unknown ca") || strstr(msg, "access denied"));
}

static tw_status curl_status(tw_enroll *e, CURLcode rc, const char *errbuf, bool client_cert,
                             const char *url)
{
    const char *m = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    switch (rc) {
    case CURLE_COULDNT_CONNECT:
        return tw__err(&e->err, MOD, TW_ERR_CONN_REFUSED, "%s: cannot connect: %s", url, m);
    case CURLE_COULDNT_RESOLVE_HOST:
        return tw__err(&e->err, MOD, TW_ERR_RESOLVE, "%s: cannot resolve: %s", url, m);
    case CURLE_OPERATION_TIMEDOUT:
        return tw__err(&e->err, MOD, TW_ERR_TIMEOUT, "%s: timed out: %s", url, m);
    case CURLE_PEER_FAILED_VERIFICATION:
        return tw__err(&e->err, MOD, TW_ERR_TLS_UNKNOWN_CA,
                       "%s: the EST server's certificate is not trusted by the configured CA: %s",
                       url, m);
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CACERT_BADFILE:
        return tw__err(&e->err, MOD, TW_ERR_CONFIG, "%s: a certificate or key file is unusable: %s",
                       url, m);
    case CURLE_WRITE_ERROR:
        return tw__err(&e->err, MOD, TW_ERR_EST_BAD_RESPONSE, "%s: response too large", url);
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_SEND_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
        if (client_cert && looks_like_cert_alert(m))
            return tw__err(&e->err, MOD, TW_ERR_EST_AUTH,
                           "%s: the EST server refused our client certificate: %s", url, m);
        if (rc == CURLE_SSL_CONNECT_ERROR)
            return tw__err(&e->err, MOD, TW_ERR_TLS_HANDSHAKE, "%s: TLS handshake failed: %s", url, m);
        return tw__err(&e->err, MOD, TW_ERR_IO, "%s: connection failed: %s", url, m);
    default:
        return tw__err(&e->err, MOD, TW_ERR_EST, "%s: curl error %d: %s", url, (int)rc, m);
    }
}

typedef struct est_auth {
    const char *cert_file; /* NULL: none */
    const char *key_file;
    bool basic;
} est_auth;

/* The suite policy of tagwire/tls.h for libcurl's TLS back end (OpenSSL names): TLS 1.2 and 1.3,
 * ECDHE key exchange with AEAD ciphers only. */
#define EST_TLS12_CIPHERS                                                                          \
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:"   \
    "ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305"
#define EST_TLS13_CIPHERS "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"

/* Configures TLS on c. A back end that cannot take the cipher policy fails (no weaker fallback). */
static CURLcode set_tls(tw_enroll *e, CURL *c, const est_auth *auth)
{
    CURLcode rc;
    if ((rc = curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2)) != CURLE_OK ||
        (rc = curl_easy_setopt(c, CURLOPT_SSL_CIPHER_LIST, EST_TLS12_CIPHERS)) != CURLE_OK ||
        (rc = curl_easy_setopt(c, CURLOPT_TLS13_CIPHERS, EST_TLS13_CIPHERS)) != CURLE_OK)
        return rc;
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)e->timeout_ms);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)TW__MIN(e->timeout_ms, 10000u));
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (e->server_ca_file) curl_easy_setopt(c, CURLOPT_CAINFO, e->server_ca_file);
    if (!e->use_system_trust) curl_easy_setopt(c, CURLOPT_CAPATH, NULL);
    if (auth->cert_file) {
        curl_easy_setopt(c, CURLOPT_SSLCERT, auth->cert_file);
        curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
        curl_easy_setopt(c, CURLOPT_SSLKEY, auth->key_file);
        curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
    }
    return CURLE_OK;
}

/*
 * With TLS 1.3 a server checks our certificate after our side of the handshake has finished; when
 * it refuses, it sends an alert and closes, and a request already being written may only see a
 * connection reset, the alert lost. To tell "certificate refused" from a network failure, this
 * probe repeats just the handshake with TLS 1.2, where the server decides inside the handshake.
 * Returns true when the server refused our certificate (errbuf gets its words).
 */
static bool probe_cert_refused(tw_enroll *e, const char *url, const est_auth *auth, char *errbuf)
{
    CURL *c = curl_easy_init();
    if (!c) return false;
    errbuf[0] = '\0';
    if (set_tls(e, c, auth) != CURLE_OK) {
        curl_easy_cleanup(c);
        return false;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_SSLVERSION, (long)(CURL_SSLVERSION_TLSv1_2 | CURL_SSLVERSION_MAX_TLSv1_2));
    curl_easy_setopt(c, CURLOPT_CONNECT_ONLY, 1L);
    CURLcode rc = curl_easy_perform(c);
    curl_easy_cleanup(c);
    return rc != CURLE_OK && looks_like_cert_alert(errbuf);
}

/* One HTTP exchange. Transport failures return their status; any HTTP answer returns TW_OK. */
static tw_status http_once(tw_enroll *e, const char *op, const char *body, size_t body_len,
                           const est_auth *auth, http_resp *resp)
{
    char url[1024];
    int n = snprintf(url, sizeof url, "%s" EST_PREFIX "%s%s/%s", e->server_url, e->label ? "/" : "",
                     e->label ? e->label : "", op);
    if (n < 0 || (size_t)n >= sizeof url) return tw__err(&e->err, MOD, TW_ERR_CONFIG, "URL too long");
    CURL *c = curl_easy_init();
    if (!c) return tw__err(&e->err, MOD, TW_ERR_NOMEM, "curl_easy_init failed");
    char errbuf[CURL_ERROR_SIZE];
    errbuf[0] = '\0';
    static const char *const hdr_lines[] = {"Expect:", "Content-Type: application/pkcs10",
                                            "Content-Transfer-Encoding: base64"};
    struct curl_slist *hdrs = NULL;
    for (size_t i = 0; i < (body ? 3u : 1u); i++) {
        struct curl_slist *h = curl_slist_append(hdrs, hdr_lines[i]);
        if (!h) { /* the old list is left untouched on failure */
            curl_slist_free_all(hdrs);
            curl_easy_cleanup(c);
            return tw__err(&e->err, MOD, TW_ERR_NOMEM, "curl_slist_append failed");
        }
        hdrs = h;
    }
    CURLcode trc = set_tls(e, c, auth);
    if (trc != CURLE_OK) {
        curl_slist_free_all(hdrs);
        curl_easy_cleanup(c);
        return tw__err(&e->err, MOD, TW_ERR_UNSUPPORTED,
                       "libcurl's TLS back end does not take the TLS 1.2+/ECDHE+AEAD policy: %s",
                       curl_easy_strerror(trc));
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1); /* RFC 7030: HTTP/1.1 */
    if (auth->basic && e->username) {
        curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
        curl_easy_setopt(c, CURLOPT_USERNAME, e->username);
        curl_easy_setopt(c, CURLOPT_PASSWORD, e->password ? e->password : "");
    }
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, resp);
    if (body) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
    }
    tw__log(TW_LOG_DEBUG, MOD, "%s %s", body ? "POST" : "GET", url);
    CURLcode rc = curl_easy_perform(c);
    tw_status st = TW_OK;
    if (rc != CURLE_OK) {
        if (resp->too_large) rc = CURLE_WRITE_ERROR;
        bool transport = rc == CURLE_SEND_ERROR || rc == CURLE_RECV_ERROR || rc == CURLE_GOT_NOTHING ||
                         rc == CURLE_SSL_CONNECT_ERROR || rc == CURLE_HTTP2 || rc == CURLE_HTTP2_STREAM;
        if (auth->cert_file && transport && !looks_like_cert_alert(errbuf)) {
            char probe[CURL_ERROR_SIZE];
            if (probe_cert_refused(e, url, auth, probe)) {
                tw__log(TW_LOG_DEBUG, MOD, "%s; the TLS 1.2 probe says: %s", errbuf, probe);
                memcpy(errbuf, probe, sizeof probe);
            }
        }
        st = curl_status(e, rc, errbuf, auth->cert_file != NULL, url);
    } else {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &resp->status);
    }
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return st;
}

/* Maps an HTTP answer to a status (TW_OK only for 200, or 204/404 when allow_empty). */
static tw_status http_status(tw_enroll *e, const char *op, const http_resp *r, bool allow_empty)
{
    char snip[128];
    body_snippet(snip, sizeof snip, r);
    long s = r->status;
    if (s == 200) return TW_OK;
    if (allow_empty && (s == 204 || s == 404)) return TW_OK;
    if (s == 202 || (s == 503 && r->retry_after[0])) {
        e->retry_after_s = parse_retry_after(r->retry_after);
        return tw__err(&e->err, MOD, TW_ERR_EST_RETRY_LATER,
                       "/%s: HTTP %ld, retry after %u s%s%s", op, s, (unsigned)e->retry_after_s,
                       snip[0] ? ": " : "", snip);
    }
    if (s == 401 || s == 403)
        return tw__err(&e->err, MOD, TW_ERR_EST_AUTH,
                       "/%s: HTTP %ld: the EST server refused our credentials%s%s", op, s,
                       snip[0] ? ": " : "", snip);
    if (s >= 500)
        return tw__err(&e->err, MOD, TW_ERR_EST_SERVER, "/%s: HTTP %ld%s%s", op, s,
                       snip[0] ? ": " : "", snip);
    return tw__err(&e->err, MOD, TW_ERR_HTTP, "/%s: HTTP %ld%s%s", op, s, snip[0] ? ": " : "", snip);
}

static void resp_reset(http_resp *r)
{
    tw__free(r->body);
    memset(r, 0, sizeof *r);
}

/* An EST exchange with retries. On TW_OK, resp holds a 200 (or 204/404 when allow_empty). */
static tw_status est_exchange(tw_enroll *e, const char *op, const char *body, size_t body_len,
                              const est_auth *auth, bool allow_empty, http_resp *resp)
{
    if (pthread_once(&curl_once, curl_init_once) != 0 || curl_init_rc != CURLE_OK)
        return tw__err(&e->err, MOD, TW_ERR_GENERIC, "curl_global_init failed");
    e->retry_after_s = 0;
    e->last_attempts = 0;
    tw_status st = TW_OK;
    for (uint32_t attempt = 0;; attempt++) {
        resp_reset(resp);
        e->last_attempts = attempt + 1;
        st = http_once(e, op, body, body_len, auth, resp);
        if (st == TW_OK) st = http_status(e, op, resp, allow_empty);
        if (st == TW_OK) return TW_OK;
        if (!tw_enroll_status_retriable(st) || attempt + 1 >= e->max_attempts) break;
        uint32_t delay_ms;
        if (st == TW_ERR_EST_RETRY_LATER) {
            if (e->retry_after_s > e->max_retry_after_s) break;
            delay_ms = e->retry_after_s * 1000u;
        } else {
            delay_ms = tw__backoff_ms(attempt, e->backoff_base_ms, e->backoff_cap_ms, NULL, NULL);
        }
        tw__log(TW_LOG_INFO, MOD, "/%s attempt %u failed (%s: %s); retrying in %u ms", op,
                (unsigned)(attempt + 1), tw_status_name(st), tw__err_msg(&e->err), (unsigned)delay_ms);
        sleep_ms(delay_ms);
    }
    if (e->last_attempts > 1 && st != TW_OK) {
        char msg[TW__ERRMSG_MAX];
        tw__strlcpy(msg, tw__err_msg(&e->err), sizeof msg);
        tw__err(&e->err, MOD, st, "%s (after %u attempts)", msg, e->last_attempts);
    }
    resp_reset(resp);
    return st;
}

/* ---- object ---- */

static char *dup_opt(const char *s, bool *fail)
{
    if (!s) return NULL;
    char *d = tw__strdup(s);
    if (!d) *fail = true;
    return d;
}

/* NULL when `path` can be read, else the reason (strerror text). */
static const char *unreadable(const char *path)
{
    if (path && access(path, R_OK) == 0) return NULL;
    return strerror(path ? errno : EINVAL);
}

void tw_enroll_free(tw_enroll *e)
{
    if (!e) return;
    tw__free(e->server_url);
    tw__free(e->label);
    tw__free(e->server_ca_file);
    tw__free(e->bootstrap_cert_file);
    tw__free(e->bootstrap_key_file);
    tw__free(e->username);
    tw__free_secret_str(e->password);
    tw__free(e->dir);
    for (size_t i = 0; i < TW__ARRAY_LEN(e->id_strings); i++) tw__free(e->id_strings[i]);
    tw__free(e);
}

/* Records the reason for tw_last_error() ("enroll: ..."), frees `e` (may be NULL). */
static tw_status new_fail(tw_enroll *e, tw_status st, const char *fmt, ...) TW__PRINTF(3, 4);
static tw_status new_fail(tw_enroll *e, tw_status st, const char *fmt, ...)
{
    char msg[TW__ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    tw_enroll_free(e);
    return tw__err(NULL, MOD, st, "%s", msg);
}

tw_status tw_enroll_new(tw_enroll **out, const tw_enroll_options *o)
{
    if (!out) return TW_ERR_INVALID_ARG;
    *out = NULL;
    tw_status st = tw__check_init();
    if (st != TW_OK) return st;
    if (!o) return TW_ERR_INVALID_ARG;
    tw_enroll_options ocopy;
    if (TW__OPTS_COPY(ocopy, o, sizeof(tw_enroll_options)))
        return new_fail(NULL, TW_ERR_VERSION, "tw_enroll_options version %u is not supported",
                        (unsigned)o->version);
    o = &ocopy;
    char redacted[256]; /* a URL may carry a password */
    if (!o->server_url || !has_prefix_ci(o->server_url, "https://") || !o->server_url[8])
        return new_fail(NULL, TW_ERR_CONFIG,
                        "server_url: an https:// URL is required (got '%s')",
                        o->server_url ? tw__uri_redact(o->server_url, redacted, sizeof redacted) : "(null)");
    if (!o->server_ca_file && !o->use_system_trust)
        return new_fail(NULL, TW_ERR_CONFIG,
                        "server_ca_file: required (or set use_system_trust)");
    const char *why;
    if (o->server_ca_file && (why = unreadable(o->server_ca_file)))
        return new_fail(NULL, TW_ERR_CONFIG, "server_ca_file: cannot read %s: %s", o->server_ca_file, why);
    if (!o->bootstrap_cert_file != !o->bootstrap_key_file)
        return new_fail(NULL, TW_ERR_CONFIG,
                        "bootstrap_cert_file and bootstrap_key_file go together");
    if (o->bootstrap_cert_file && (why = unreadable(o->bootstrap_cert_file)))
        return new_fail(NULL, TW_ERR_CONFIG, "bootstrap_cert_file: cannot read %s: %s",
                        o->bootstrap_cert_file, why);
    if (o->bootstrap_key_file && (why = unreadable(o->bootstrap_key_file)))
        return new_fail(NULL, TW_ERR_CONFIG, "bootstrap_key_file: cannot read %s: %s",
                        o->bootstrap_key_file, why);
    if (o->username && strchr(o->username, ':'))
        return new_fail(NULL, TW_ERR_CONFIG,
                        "username: ':' is not allowed in HTTP basic credentials");
    if (!o->username != !o->password)
        return new_fail(NULL, TW_ERR_CONFIG, "username and password go together");
    if (o->label) {
        for (const char *p = o->label; *p; p++)
            if (!isalnum((unsigned char)*p) && !strchr("-._~", *p))
                return new_fail(NULL, TW_ERR_CONFIG,
                                "label: only A-Z a-z 0-9 - . _ ~ allowed (got '%s')", o->label);
        if (!o->label[0])
            return new_fail(NULL, TW_ERR_CONFIG, "label: empty");
    }
    if (!o->credentials_dir || !o->credentials_dir[0])
        return new_fail(NULL, TW_ERR_CONFIG, "credentials_dir: required");
    if (strlen(o->credentials_dir) > TW_CREDENTIAL_PATH_MAX - 32)
        return new_fail(NULL, TW_ERR_CONFIG, "credentials_dir: path too long");
    if (o->identity) {
        char w[160];
        st = tw_identity_check(o->identity, w, sizeof w);
        if (st != TW_OK) return new_fail(NULL, st, "identity: %s", w);
    }

    tw_enroll *e = tw__calloc(1, sizeof *e);
    if (!e) return new_fail(NULL, TW_ERR_NOMEM, "out of memory");
    bool fail = false;
    e->server_url = dup_opt(o->server_url, &fail);
    if (e->server_url) {
        size_t l = strlen(e->server_url);
        while (l > 8 && e->server_url[l - 1] == '/') e->server_url[--l] = '\0';
    }
    e->label = dup_opt(o->label, &fail);
    e->server_ca_file = dup_opt(o->server_ca_file, &fail);
    e->use_system_trust = o->use_system_trust;
    e->bootstrap_cert_file = dup_opt(o->bootstrap_cert_file, &fail);
    e->bootstrap_key_file = dup_opt(o->bootstrap_key_file, &fail);
    e->username = dup_opt(o->username, &fail);
    e->password = dup_opt(o->password, &fail);
    e->dir = dup_opt(o->credentials_dir, &fail);
    if (o->identity) {
        const tw_identity *s = o->identity;
        const char *src[6] = {s->device_id, s->vendor, s->model, s->serial, s->hw_revision, s->fw_revision};
        for (int i = 0; i < 6; i++) e->id_strings[i] = dup_opt(src[i], &fail);
        e->id.version = TW_IDENTITY_VERSION;
        e->id.device_id = e->id_strings[0];
        e->id.vendor = e->id_strings[1];
        e->id.model = e->id_strings[2];
        e->id.serial = e->id_strings[3];
        e->id.hw_revision = e->id_strings[4];
        e->id.fw_revision = e->id_strings[5];
        e->have_identity = true;
    }
    if (fail) return new_fail(e, TW_ERR_NOMEM, "out of memory");
    e->max_attempts = o->max_attempts ? o->max_attempts : 4;
    e->backoff_base_ms = o->backoff_base_ms ? o->backoff_base_ms : 500;
    e->backoff_cap_ms = o->backoff_cap_ms ? o->backoff_cap_ms : 30000;
    e->max_retry_after_s = o->max_retry_after_s ? o->max_retry_after_s : 30;
    e->timeout_ms = o->request_timeout_ms ? o->request_timeout_ms : 30000;
    e->renew_fraction = (o->renew_fraction > 0.0 && o->renew_fraction <= 1.0) ? o->renew_fraction
                                                                              : 2.0 / 3.0;
    e->on_event = o->on_event;
    e->user_data = o->user_data;
    st = tw__store_open(e->dir, &e->err);
    if (st != TW_OK) return new_fail(e, st, "credentials_dir: %s", tw__err_msg(&e->err));
    if (tw__crypto_init() != TW_OK)
        return new_fail(e, TW_ERR_GENERIC, "psa_crypto_init failed");
    *out = e;
    return TW_OK;
}

const char *tw_enroll_last_error(const tw_enroll *e)
{
    if (!e) return "";
    return e->err.code == TW_OK ? "" : tw__err_msg(&e->err);
}

tw_status tw_enroll_last_status(const tw_enroll *e) { return e ? e->err.code : TW_ERR_INVALID_ARG; }

uint32_t tw_enroll_retry_after(const tw_enroll *e) { return e ? e->retry_after_s : 0; }

/* ---- operations ---- */

static tw_status response_certs(tw_enroll *e, const char *op, const http_resp *r, char **pem,
                                size_t *pem_len)
{
    if (!has_prefix_ci(r->content_type, "application/pkcs7-mime"))
        return tw__err(&e->err, MOD, TW_ERR_EST_BAD_RESPONSE,
                       "/%s: Content-Type '%s' is not application/pkcs7-mime", op, r->content_type);
    bool b64 = !has_prefix_ci(r->cte, "binary"); /* RFC 8951: base64 regardless of the header */
    size_t count = 0;
    const char *why = NULL;
    tw_status st = tw__est_certs_to_pem(r->body ? r->body : "", r->len, b64, pem, pem_len, &count, &why);
    if (st == TW_ERR_NOMEM) return tw__err(&e->err, MOD, st, "out of memory");
    if (st != TW_OK)
        return tw__err(&e->err, MOD, TW_ERR_EST_BAD_RESPONSE, "/%s: malformed PKCS#7 response: %s",
                       op, why ? why : "unknown");
    tw__log(TW_LOG_DEBUG, MOD, "/%s: %zu certificate(s)", op, count);
    return TW_OK;
}

tw_status tw_enroll_get_cacerts(tw_enroll *e)
{
    if (!e) return TW_ERR_INVALID_ARG;
    tw__err_clear(&e->err);
    http_resp r;
    memset(&r, 0, sizeof r);
    est_auth auth = {e->bootstrap_cert_file, e->bootstrap_key_file, false};
    tw_status st = est_exchange(e, "cacerts", NULL, 0, &auth, false, &r);
    char *pem = NULL;
    size_t pem_len = 0;
    if (st == TW_OK) st = response_certs(e, "cacerts", &r, &pem, &pem_len);
    if (st == TW_OK) st = tw__write_file_atomic(e->dir, "cacerts.pem", pem, pem_len, &e->err);
    tw__free(pem);
    resp_reset(&r);
    if (st != TW_OK) emit_failed(e, st);
    return st;
}

tw_status tw_enroll_get_csrattrs(tw_enroll *e, unsigned char **der, size_t *len)
{
    if (!e || !der || !len) return TW_ERR_INVALID_ARG;
    *der = NULL;
    *len = 0;
    tw__err_clear(&e->err);
    http_resp r;
    memset(&r, 0, sizeof r);
    est_auth auth = {e->bootstrap_cert_file, e->bootstrap_key_file, true};
    tw_status st = est_exchange(e, "csrattrs", NULL, 0, &auth, true, &r);
    if (st == TW_OK && r.status == 200 && r.len > 0) {
        size_t cap = tw__base64_decoded_max(r.len);
        unsigned char *buf = tw__malloc(cap);
        size_t n = 0;
        if (!buf) {
            st = TW_ERR_NOMEM;
        } else if (tw__base64_decode(buf, cap, &n, r.body, r.len) != TW_OK || n == 0 || buf[0] != 0x30) {
            tw__free(buf);
            st = tw__err(&e->err, MOD, TW_ERR_EST_BAD_RESPONSE, "/csrattrs: body is not base64 DER");
        } else {
            *der = buf;
            *len = n;
        }
    }
    resp_reset(&r);
    return st;
}

/* Resolved paths of DIR/<link>/{key,chain}.pem. */
static tw_status link_paths(const char *dir, const char *link, char *key, char *chain, size_t cap)
{
    char lp[PATH_MAX], target[64];
    snprintf(lp, sizeof lp, "%s/%s", dir, link);
    ssize_t n = readlink(lp, target, sizeof target - 1);
    if (n < 0) return TW_ERR_NOT_FOUND;
    target[n] = '\0';
    if (strchr(target, '/')) return TW_ERR_CORRUPT;
    int a = snprintf(key, cap, "%s/%s/key.pem", dir, target);
    int b = snprintf(chain, cap, "%s/%s/chain.pem", dir, target);
    if (a < 0 || b < 0 || (size_t)a >= cap || (size_t)b >= cap) return TW_ERR_RANGE;
    return TW_OK;
}

/* Key, CSR, exchange, checks, store. */
static tw_status do_enroll(tw_enroll *e, bool reenroll)
{
    tw__err_clear(&e->err);
    e->retry_after_s = 0;
    if (!e->have_identity)
        return tw__err(&e->err, MOD, TW_ERR_CONFIG, "no device identity given in the options");
    tw_credential_info info;
    memset(&info, 0, sizeof info);
    info.version = TW_CREDENTIAL_INFO_VERSION;
    tw_credential_inspect(&info, e->dir, e->renew_fraction);
    est_auth auth = {e->bootstrap_cert_file, e->bootstrap_key_file, true};
    if (reenroll) {
        if (!info.has_current)
            return tw__err(&e->err, MOD, TW_ERR_NOT_FOUND,
                           "re-enroll: no usable current credential in %s", e->dir);
        if (info.has_pending)
            return tw__err(&e->err, MOD, TW_ERR_BUSY,
                           "re-enroll: a renewed credential awaits commit or rollback in %s", e->dir);
        auth.cert_file = info.chain_path;
        auth.key_file = info.key_path;
    }
    const char *op = reenroll ? "simplereenroll" : "simpleenroll";
    char *key_pem = NULL, *b64 = NULL, *chain = NULL, *ordered = NULL;
    size_t key_len = 0, chain_len = 0, ordered_len = 0;
    unsigned char *csr = NULL;
    size_t csr_len = 0;
    int64_t not_after = 0;
    http_resp r;
    memset(&r, 0, sizeof r);
    tw_status st = tw__key_generate_pem(&key_pem, &key_len);
    if (st != TW_OK) {
        tw__err(&e->err, MOD, st, "key generation failed");
        goto out;
    }
    st = tw__csr_build(&csr, &csr_len, key_pem, key_len, &e->id, &e->err);
    if (st != TW_OK) goto out;
    size_t b64cap = 4 * ((csr_len + 2) / 3) + 1;
    b64 = tw__malloc(b64cap);
    if (!b64) {
        st = TW_ERR_NOMEM;
        goto out;
    }
    tw__base64_encode(b64, b64cap, csr, csr_len);
    st = est_exchange(e, op, b64, strlen(b64), &auth, false, &r);
    if (st == TW_OK) st = response_certs(e, op, &r, &chain, &chain_len);
    if (st == TW_OK)
        st = tw__chain_for_key(&ordered, &ordered_len, &not_after, chain, chain_len, key_pem,
                               key_len, &e->err);
    if (st != TW_OK) goto out;
    bool make_current = !info.has_current;
    st = tw__store_put(e->dir, key_pem, key_len, ordered, ordered_len, make_current, &e->err);
    if (st != TW_OK) goto out;
    {
        char kp[TW_CREDENTIAL_PATH_MAX], cp[TW_CREDENTIAL_PATH_MAX], msg[TW__ERRMSG_MAX];
        link_paths(e->dir, make_current ? "current" : "pending", kp, cp, sizeof kp);
        snprintf(msg, sizeof msg, "%s: new credential stored as %s (%.160s)", op,
                 make_current ? "current" : "pending", cp);
        tw_enroll_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = make_current ? TW_ENROLL_EVENT_ENROLLED : TW_ENROLL_EVENT_RENEWED;
        ev.message = msg;
        ev.key_path = kp;
        ev.chain_path = cp;
        ev.key_pem = key_pem;
        ev.key_pem_len = key_len;
        ev.chain_pem = ordered;
        ev.chain_pem_len = ordered_len;
        ev.not_after = not_after;
        emit(e, &ev);
    }
out:
    if (st != TW_OK) emit_failed(e, st);
    resp_reset(&r);
    if (key_pem) tw__zeroize(key_pem, key_len);
    tw__free(key_pem);
    tw__free(csr);
    tw__free(b64);
    tw__free(chain);
    tw__free(ordered);
    return st;
}

tw_status tw_enroll_enroll(tw_enroll *e)
{
    if (!e) return TW_ERR_INVALID_ARG;
    return do_enroll(e, false);
}

tw_status tw_enroll_reenroll(tw_enroll *e)
{
    if (!e) return TW_ERR_INVALID_ARG;
    return do_enroll(e, true);
}

tw_status tw_enroll_commit(tw_enroll *e)
{
    if (!e) return TW_ERR_INVALID_ARG;
    tw__err_clear(&e->err);
    tw_status st = tw__store_commit(e->dir, &e->err);
    if (st != TW_OK) return st;
    tw_credential_info info;
    memset(&info, 0, sizeof info);
    info.version = TW_CREDENTIAL_INFO_VERSION;
    tw_credential_inspect(&info, e->dir, e->renew_fraction);
    e->next_attempt_s = 0;
    e->step_failures = 0;
    tw_enroll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.type = TW_ENROLL_EVENT_COMMITTED;
    ev.message = "the renewed credential is now current";
    ev.key_path = info.key_path;
    ev.chain_path = info.chain_path;
    ev.not_after = info.not_after;
    emit(e, &ev);
    return TW_OK;
}

tw_status tw_enroll_rollback(tw_enroll *e)
{
    if (!e) return TW_ERR_INVALID_ARG;
    tw__err_clear(&e->err);
    return tw__store_rollback(e->dir, &e->err);
}

tw_status tw_enroll_step(tw_enroll *e, int64_t now)
{
    if (!e) return TW_ERR_INVALID_ARG;
    if (now == 0) now = now_s();
    tw_credential_info info;
    memset(&info, 0, sizeof info);
    info.version = TW_CREDENTIAL_INFO_VERSION;
    tw_status st = tw_credential_inspect(&info, e->dir, e->renew_fraction);
    if (st == TW_ERR_NOT_FOUND)
        return tw__err(&e->err, MOD, st, "credential directory %s does not exist (removed?)", e->dir);
    if (st != TW_OK) return tw__err(&e->err, MOD, st, "cannot read %s: %s", e->dir, tw_strerror(st));
    if (!info.has_current)
        return tw__err(&e->err, MOD, TW_ERR_NOT_FOUND, "no current credential in %s: enroll first",
                       e->dir);
    if (info.has_pending || now < info.renew_at || now < e->next_attempt_s) return TW_OK;
    if (e->notified_not_after != info.not_after) {
        e->notified_not_after = info.not_after;
        char msg[400];
        snprintf(msg, sizeof msg, "certificate %s renewal point passed (notAfter in %lld s)",
                 info.subject, (long long)(info.not_after - now));
        tw_enroll_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = TW_ENROLL_EVENT_EXPIRING;
        ev.message = msg;
        ev.not_after = info.not_after;
        emit(e, &ev);
    }
    if (now >= info.not_after && e->expired_notified_for != info.not_after) {
        e->expired_notified_for = info.not_after;
        tw_enroll_event ev;
        memset(&ev, 0, sizeof ev);
        ev.type = TW_ENROLL_EVENT_EXPIRED;
        ev.message = "the current certificate has expired";
        ev.not_after = info.not_after;
        emit(e, &ev);
    }
    uint32_t saved = e->max_attempts;
    e->max_attempts = 1; /* pacing across steps instead of sleeping here */
    st = do_enroll(e, true);
    e->max_attempts = saved;
    if (st == TW_OK) {
        e->step_failures = 0;
        e->next_attempt_s = 0;
        return TW_OK;
    }
    int64_t delay;
    if (st == TW_ERR_EST_RETRY_LATER) {
        delay = e->retry_after_s;
    } else {
        delay = (tw__backoff_ms(e->step_failures, e->backoff_base_ms, e->backoff_cap_ms, NULL, NULL) + 999) / 1000;
        if (e->step_failures < 30) e->step_failures++;
    }
    if (delay < 1) delay = 1;
    e->next_attempt_s = now + delay;
    return st;
}

/* ---- inspection ---- */

static bool load_pair(const char *key_path, const char *chain_path, mbedtls_x509_crt *crt)
{
    char *key = NULL, *chain = NULL;
    size_t kl = 0, cl = 0;
    bool ok = false;
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    if (tw__read_file(key_path, 64 * 1024, &key, &kl) != TW_OK) goto out;
    if (tw__read_file(chain_path, 256 * 1024, &chain, &cl) != TW_OK) goto out;
    if (mbedtls_x509_crt_parse(crt, (const unsigned char *)chain, cl + 1) != 0) goto out;
    if (mbedtls_pk_parse_key(&pk, (const unsigned char *)key, kl + 1, NULL, 0, mbedtls_psa_get_random,
                             MBEDTLS_PSA_RANDOM_STATE) != 0)
        goto out;
    ok = mbedtls_pk_check_pair(&crt->pk, &pk, mbedtls_psa_get_random, MBEDTLS_PSA_RANDOM_STATE) == 0;
out:
    mbedtls_pk_free(&pk);
    if (key) tw__zeroize(key, kl);
    tw__free(key);
    tw__free(chain);
    return ok;
}

static tw_status credential_inspect(tw_credential_info *out, const char *dir, double fraction);

/* Fills a current-version struct; the caller's version gets only its fields (also on errors). */
tw_status tw_credential_inspect(tw_credential_info *out, const char *dir, double fraction)
{
    if (!out || !dir) return TW_ERR_INVALID_ARG;
    if (out->version < 1 || out->version > TW_CREDENTIAL_INFO_VERSION) return TW_ERR_VERSION;
    tw_credential_info ci;
    ci.version = TW_CREDENTIAL_INFO_VERSION;
    tw_status st = credential_inspect(&ci, dir, fraction);
    TW__STATS_PUT(out, &ci, sizeof(tw_credential_info));
    return st;
}

static tw_status credential_inspect(tw_credential_info *out, const char *dir, double fraction)
{
    if (!out || !dir) return TW_ERR_INVALID_ARG;
    if (out->version != TW_CREDENTIAL_INFO_VERSION) return TW_ERR_VERSION;
    memset(out, 0, sizeof *out);
    out->version = TW_CREDENTIAL_INFO_VERSION;
    if (access(dir, F_OK) != 0) return TW_ERR_NOT_FOUND;
    if (tw__crypto_init() != TW_OK) return TW_ERR_GENERIC;
    if (link_paths(dir, "pending", out->pending_key_path, out->pending_chain_path,
                   TW_CREDENTIAL_PATH_MAX) == TW_OK &&
        access(out->pending_key_path, R_OK) == 0 && access(out->pending_chain_path, R_OK) == 0)
        out->has_pending = 1;
    else
        out->pending_key_path[0] = out->pending_chain_path[0] = '\0';
    if (link_paths(dir, "current", out->key_path, out->chain_path, TW_CREDENTIAL_PATH_MAX) != TW_OK) {
        out->key_path[0] = out->chain_path[0] = '\0';
        return TW_OK;
    }
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    if (load_pair(out->key_path, out->chain_path, &crt)) {
        out->has_current = 1;
        mbedtls_x509_dn_gets(out->subject, sizeof out->subject, &crt.subject);
        mbedtls_x509_dn_gets(out->issuer, sizeof out->issuer, &crt.issuer);
        mbedtls_x509_serial_gets(out->serial, sizeof out->serial, &crt.serial);
        out->not_before = tw__x509_time(&crt.valid_from);
        out->not_after = tw__x509_time(&crt.valid_to);
        out->renew_at = tw_enroll_renew_time(out->not_before, out->not_after, fraction);
        for (const mbedtls_x509_sequence *s = &crt.subject_alt_names; s && s->buf.p; s = s->next) {
            mbedtls_x509_subject_alternative_name san;
            if (mbedtls_x509_parse_subject_alt_name(&s->buf, &san) != 0) continue;
            if (san.type == MBEDTLS_X509_SAN_UNIFORM_RESOURCE_IDENTIFIER) {
                size_t n = TW__MIN(san.san.unstructured_name.len, sizeof out->uri - 1);
                memcpy(out->uri, san.san.unstructured_name.p, n);
                out->uri[n] = '\0';
                mbedtls_x509_free_subject_alt_name(&san);
                break;
            }
            mbedtls_x509_free_subject_alt_name(&san);
        }
    }
    mbedtls_x509_crt_free(&crt);
    return TW_OK;
}
