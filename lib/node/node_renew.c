/* The node renews its own client certificate over EST (options.enroll): a renewal thread runs
 * tw_enroll_step(); a renewed credential is loaded into the uplink's TLS configuration, the
 * driving thread reconnects with it and the outcome of that connection commits or rolls it back.
 * See "Certificate renewal" in tagwire/node.h.
 *
 * Threads: the tw_enroll object is used by the renewal thread only (step, commit, rollback; its
 * events run there). The driving thread reconnects the uplink and judges the new connection; the
 * two meet through atomics (swap_req: renewal -> driving thread; verdict: driving -> renewal
 * thread) and wake-up descriptors.
 * SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "node_internal.h"

#define MOD NODE_MOD

/* Pause between the reconnect with a renewed certificate and the next one after a rollback. */
#define ROLLBACK_BACKOFF_BASE_MS 5000u
#define ROLLBACK_BACKOFF_CAP_MS 600000u

typedef struct node_renew {
    tw_enroll *e;
    char *dir;
    double fraction;
    tw_enroll_event_fn user_cb;
    void *user_ud;
    int fd;                 /* eventfd: wakes the renewal thread */
    pthread_t thread;
    int running;
    atomic_int stop;
    atomic_int swap_req;    /* renewal -> driving thread: the TLS config holds a renewed credential */
    atomic_int verdict;     /* driving -> renewal thread: 1 commit, -1 roll back */
    /* the current generation's files, to fall back on (written before swap_req is raised, read by
     * the driving thread after it saw it) */
    char cur_key[TW_CREDENTIAL_PATH_MAX], cur_chain[TW_CREDENTIAL_PATH_MAX];
    int64_t pending_not_after;
    /* driving thread */
    int trying;             /* the next connection that completes or is refused decides */
    int refusals;           /* while trying: connections refused in a way that names our
                             * certificate (TLS alert, not authorised), in a row */
    int odd_failures;       /* while trying: other failures after the TCP connect, in a row */
    /* renewal thread */
    int awaiting;           /* a pending credential waits for the verdict */
    uint32_t rollbacks_in_row;
    int64_t hold_until;     /* Unix seconds: no renewal before (after a rollback) */
    /* identity derived from the current certificate (when the options give none) */
    char id_buf[4][TW_IDENTITY_FIELD_MAX + 1];
} node_renew;

static void poke(int fd)
{
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof one);
    (void)r;
}

static void utc_text(char *buf, size_t n, int64_t t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (!t || !gmtime_r(&tt, &tm) || !strftime(buf, n, "%Y-%m-%d %H:%M:%S UTC", &tm)) snprintf(buf, n, "-");
}

static int inspect(const node_renew *r, tw_credential_info *ci)
{
    memset(ci, 0, sizeof *ci);
    ci->version = TW_CREDENTIAL_INFO_VERSION;
    return tw_credential_inspect(ci, r->dir, r->fraction) == TW_OK && ci->has_current;
}

/* A refusal that names our certificate (rather than a network problem or a broker that is away).
 * TW_ERR_TLS_PEER_REFUSED also covers a peer that closed the connection during the handshake (a
 * broker restarting), so one refusal is not a verdict: see RENEW_REFUSALS. */
static int credential_refused(tw_status st)
{
    return st == TW_ERR_TLS_PEER_REFUSED || st == TW_ERR_TLS_CREDENTIALS || st == TW_ERR_MQTT_NOT_AUTHORIZED;
}

/* A failure after the TCP connect that does not name the certificate: the connection closed or
 * failed during TLS/MQTT set-up, or the broker refused for another reason (busy, unavailable,
 * quota). A refusal of a TLS 1.3 client certificate can look like this (the alert arrives after the
 * handshake), so many of them in a row count as a refusal too; a broker that is simply unreachable
 * (connection refused, timeout) never does. */
static int odd_failure(tw_status st)
{
    return st == TW_ERR_CLOSED || st == TW_ERR_IO || st == TW_ERR_PROTOCOL || st == TW_ERR_TLS_HANDSHAKE ||
           st == TW_ERR_MQTT_REFUSED;
}

/* A renewed certificate is rolled back only after this many refusals in a row (or RENEW_ODD other
 * failures after the TCP connect), so that a broker restart during the first connection with it
 * never throws a good certificate away. */
#define RENEW_REFUSALS 3
#define RENEW_ODD 6

static void start_trying(node_renew *r)
{
    r->trying = 1;
    r->refusals = r->odd_failures = 0;
}

/* ---- events of the enrollment client (renewal thread) ------------------------------------------ */

static void on_enroll_event(const tw_enroll_event *ev, void *ud)
{
    tw_node *n = ud;
    node_renew *r = n->renew;
    char when[40];
    utc_text(when, sizeof when, ev->not_after);
    switch (ev->type) {
    case TW_ENROLL_EVENT_EXPIRING:
        tw__log(TW_LOG_WARN, MOD, "%s/%s: client certificate due for renewal (notAfter %s)", n->group_id,
                n->edge_node_id, when);
        break;
    case TW_ENROLL_EVENT_EXPIRED:
        tw__log(TW_LOG_ERROR, MOD, "%s/%s: client certificate expired (notAfter %s); still renewing",
                n->group_id, n->edge_node_id, when);
        break;
    case TW_ENROLL_EVENT_RENEWED: {
        tw_credential_info ci;
        tw_status st = TW_ERR_NOT_FOUND;
        if (inspect(r, &ci)) {
            tw__strlcpy(r->cur_key, ci.key_path, sizeof r->cur_key);
            tw__strlcpy(r->cur_chain, ci.chain_path, sizeof r->cur_chain);
            st = tw_tls_config_set_credentials_mem(n->tls, ev->chain_pem, ev->chain_pem_len, ev->key_pem,
                                                   ev->key_pem_len, NULL);
        }
        r->awaiting = 1;
        r->pending_not_after = ev->not_after;
        if (st) {
            /* cannot be used: dropped by the renewal thread right after the step */
            tw__log(TW_LOG_ERROR, MOD, "%s/%s: renewed certificate cannot be loaded: %s", n->group_id,
                    n->edge_node_id, st == TW_ERR_NOT_FOUND ? "no current credential" : tw_tls_config_last_error(n->tls));
            atomic_store(&n->cert_last_error, (int)(st ? st : TW_ERR_TLS_CREDENTIALS));
            atomic_store(&r->verdict, -1);
        } else {
            tw__log(TW_LOG_INFO, MOD, "%s/%s: certificate renewed (new notAfter %s); reconnecting with it",
                    n->group_id, n->edge_node_id, when);
            atomic_store(&r->swap_req, 1);
            poke(n->wake_fd);
        }
        break;
    }
    case TW_ENROLL_EVENT_COMMITTED:
        atomic_fetch_add(&n->cert_renewals, 1);
        tw__log(TW_LOG_INFO, MOD, "%s/%s: renewed certificate committed (notAfter %s)", n->group_id,
                n->edge_node_id, when);
        break;
    case TW_ENROLL_EVENT_FAILED:
        tw__log(TW_LOG_WARN, MOD, "%s/%s: certificate renewal failed%s: %s", n->group_id, n->edge_node_id,
                ev->retriable ? " (will retry)" : "", ev->message);
        break;
    default:
        break;
    }
    if (r->user_cb) r->user_cb(ev, r->user_ud);
}

/* ---- set-up ----------------------------------------------------------------------------------- */

/* "CN=dev-1, serialNumber=SN42" -> "dev-1". */
static int dn_value(char *out, size_t n, const char *dn, const char *attr)
{
    size_t la = strlen(attr);
    for (const char *p = dn; p && *p;) {
        if (!strncmp(p, attr, la) && p[la] == '=') {
            const char *v = p + la + 1;
            size_t lv = strcspn(v, ",");
            if (lv == 0 || lv >= n) return 0;
            memcpy(out, v, lv);
            out[lv] = 0;
            return 1;
        }
        p = strchr(p, ',');
        if (p) p += strspn(p, ", ");
    }
    return 0;
}

/* The identity of the current certificate: CN, and urn:tagwire:<vendor>:<model>:<serial>. */
static void identity_from_cert(node_renew *r, const tw_credential_info *ci, tw_identity *id)
{
    tw_identity d = TW_IDENTITY_INIT;
    *id = d;
    if (dn_value(r->id_buf[0], sizeof r->id_buf[0], ci->subject, "CN")) id->device_id = r->id_buf[0];
    static const char urn[] = "urn:tagwire:";
    if (strncmp(ci->uri, urn, sizeof urn - 1)) return;
    const char *p = ci->uri + sizeof urn - 1;
    for (int k = 1; k <= 3; k++) {
        size_t l = k < 3 ? strcspn(p, ":") : strlen(p);
        if (l == 0 || l >= sizeof r->id_buf[k] || (k < 3 && p[l] != ':')) return;
        memcpy(r->id_buf[k], p, l);
        r->id_buf[k][l] = 0;
        p += l + (k < 3);
    }
    id->vendor = r->id_buf[1];
    id->model = r->id_buf[2];
    id->serial = r->id_buf[3];
}

tw_status tw__renew_new(tw_node *n, const tw_node_options *o)
{
    if (!o->enroll) return TW_OK;
    tw_enroll_options eo;
    if (TW__OPTS_COPY(eo, o->enroll, sizeof(tw_enroll_options)))
        return tw__err(&n->err, MOD, TW_ERR_VERSION, "enroll: unknown tw_enroll_options version");
    if (!n->tls)
        return tw__err(&n->err, MOD, TW_ERR_INVALID_ARG, "enroll: certificate renewal needs an mqtts:// broker");
    if (o->tls_cert_file || o->tls_key_file)
        return tw__err(&n->err, MOD, TW_ERR_INVALID_ARG,
                       "enroll: tls_cert_file and tls_key_file are not used with enroll (the credential "
                       "comes from credentials_dir)");
    const char *dir = eo.credentials_dir ? eo.credentials_dir : o->credentials_dir;
    if (!dir)
        return tw__err(&n->err, MOD, TW_ERR_INVALID_ARG, "enroll: credentials_dir is required");
    if (eo.credentials_dir && o->credentials_dir && strcmp(eo.credentials_dir, o->credentials_dir))
        return tw__err(&n->err, MOD, TW_ERR_INVALID_ARG,
                       "enroll.credentials_dir '%s' and credentials_dir '%s' differ", eo.credentials_dir,
                       o->credentials_dir);
    node_renew *r = tw__calloc(1, sizeof *r);
    if (!r) return tw__err(&n->err, MOD, TW_ERR_NOMEM, "enroll: out of memory");
    n->renew = r;
    r->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    r->dir = tw__strdup(dir);
    if (r->fd < 0) return tw__err(&n->err, MOD, TW_ERR_IO, "eventfd: %s", strerror(errno));
    if (!r->dir) return tw__err(&n->err, MOD, TW_ERR_NOMEM, "enroll: out of memory");
    r->fraction = eo.renew_fraction;
    tw_credential_info ci;
    if (!inspect(r, &ci))
        return tw__err(&n->err, MOD, TW_ERR_NOT_FOUND,
                       "enroll: '%s' holds no usable enrolled key and certificate (enroll first, e.g. "
                       "`tagwire enroll`)", dir);
    tw__strlcpy(r->cur_key, ci.key_path, sizeof r->cur_key);
    tw__strlcpy(r->cur_chain, ci.chain_path, sizeof r->cur_chain);
    /* key and chain of one generation (resolved paths); a pending one is tried first */
    const char *key = ci.has_pending ? ci.pending_key_path : ci.key_path;
    const char *chain = ci.has_pending ? ci.pending_chain_path : ci.chain_path;
    tw_status st = tw_tls_config_set_credentials_file(n->tls, chain, key, NULL);
    int drop_pending = 0;
    if (st && ci.has_pending) {
        tw__log(TW_LOG_WARN, MOD, "enroll: pending credential in '%s' unusable (%s); using the current one", dir,
                tw_tls_config_last_error(n->tls));
        ci.has_pending = 0;
        drop_pending = 1; /* rolled back once the enrollment client exists (below) */
        st = tw_tls_config_set_credentials_file(n->tls, ci.chain_path, ci.key_path, NULL);
    }
    if (st)
        return tw__err(&n->err, MOD, st, "enroll: credential in '%s': %s", dir, tw_tls_config_last_error(n->tls));
    if (ci.has_pending) {
        /* a renewal cut short: the first connection decides, as after a renewal */
        start_trying(r);
        r->awaiting = 1;
        tw__log(TW_LOG_INFO, MOD, "enroll: trying the pending credential of '%s' first", dir);
    }
    tw_identity id;
    if (!eo.identity) {
        identity_from_cert(r, &ci, &id);
        eo.identity = &id;
    }
    r->user_cb = eo.on_event;
    r->user_ud = eo.user_data;
    eo.credentials_dir = dir;
    eo.on_event = on_enroll_event;
    eo.user_data = n;
    if ((st = tw_enroll_new(&r->e, &eo)))
        return tw__err(&n->err, MOD, st, "enroll: %s%s", tw__err_detail(st),
                       st == TW_ERR_IDENTITY && !o->enroll->identity
                           ? " (identity taken from the current certificate; give enroll->identity)" : "");
    if (drop_pending && (st = tw_enroll_rollback(r->e)))
        tw__log(TW_LOG_WARN, MOD, "enroll: cannot drop the unusable pending credential in '%s': %s", dir,
                tw_enroll_last_error(r->e));
    atomic_store(&n->cert_renew_at, ci.renew_at);
    return TW_OK;
}

void tw__renew_free(tw_node *n)
{
    node_renew *r = n->renew;
    if (!r) return;
    tw__renew_stop(n);
    tw_enroll_free(r->e);
    if (r->fd >= 0) close(r->fd);
    tw__free(r->dir);
    tw__free(r);
    n->renew = NULL;
}

/* ---- the renewal thread ------------------------------------------------------------------------ */

static void apply_verdict(tw_node *n, node_renew *r, int v)
{
    tw_status st;
    if (v > 0) {
        if ((st = tw_enroll_commit(r->e))) {
            /* the renewed credential works; keep trying to record it */
            tw__log(TW_LOG_ERROR, MOD, "%s/%s: cannot commit the renewed credential: %s", n->group_id,
                    n->edge_node_id, tw_enroll_last_error(r->e));
            atomic_store(&n->cert_last_error, (int)st);
            atomic_store(&r->verdict, 1);
            return;
        }
        r->rollbacks_in_row = 0;
    } else {
        if ((st = tw_enroll_rollback(r->e)) && st != TW_ERR_NOT_FOUND)
            tw__log(TW_LOG_ERROR, MOD, "%s/%s: cannot drop the refused credential: %s", n->group_id,
                    n->edge_node_id, tw_enroll_last_error(r->e));
        uint32_t ms = tw__backoff_ms(r->rollbacks_in_row, ROLLBACK_BACKOFF_BASE_MS, ROLLBACK_BACKOFF_CAP_MS, NULL, NULL);
        if (r->rollbacks_in_row < 30) r->rollbacks_in_row++;
        r->hold_until = (int64_t)time(NULL) + (ms + 999) / 1000 + 1;
    }
    r->awaiting = 0;
}

static void *renew_thread(void *arg)
{
    tw_node *n = arg;
    node_renew *r = n->renew;
    while (!atomic_load(&r->stop)) {
        int v = atomic_exchange(&r->verdict, 0);
        if (v) apply_verdict(n, r, v);
        int64_t now = (int64_t)time(NULL);
        if (!r->awaiting && now >= r->hold_until) {
            tw_status st = tw_enroll_step(r->e, now);
            if (st) {
                atomic_fetch_add(&n->cert_renew_failures, 1);
                atomic_store(&n->cert_last_error, (int)st);
            }
            if (atomic_load(&r->verdict)) continue; /* a renewed credential that cannot be loaded */
        }
        int wait_ms = 1000;
        tw_credential_info ci;
        if (!r->awaiting && !inspect(r, &ci)) {
            wait_ms = 60000; /* no usable current credential any more: nothing to renew from */
        } else if (!r->awaiting) {
            atomic_store(&n->cert_renew_at, ci.renew_at);
            int64_t due = ci.renew_at > r->hold_until ? ci.renew_at : r->hold_until;
            now = (int64_t)time(NULL);
            if (due > now) wait_ms = (int)(due - now > 60 ? 60000 : (due - now) * 1000);
        }
        struct pollfd pf = {.fd = r->fd, .events = POLLIN};
        if (poll(&pf, 1, wait_ms) > 0) {
            uint64_t x;
            ssize_t rd = read(r->fd, &x, sizeof x);
            (void)rd;
        }
    }
    return NULL;
}

tw_status tw__renew_start(tw_node *n)
{
    node_renew *r = n->renew;
    if (!r || r->running) return TW_OK;
    atomic_store(&r->stop, 0);
    if (pthread_create(&r->thread, NULL, renew_thread, n))
        return tw__err(&n->err, MOD, TW_ERR_IO, "cannot start the certificate renewal thread");
    r->running = 1;
    return TW_OK;
}

void tw__renew_stop(tw_node *n)
{
    node_renew *r = n->renew;
    if (!r || !r->running) return;
    atomic_store(&r->stop, 1);
    poke(r->fd);
    pthread_join(r->thread, NULL);
    r->running = 0;
}

/* ---- driving thread ------------------------------------------------------------------------------ */

void tw__renew_poll(tw_node *n)
{
    node_renew *r = n->renew;
    if (!r || !atomic_load(&r->swap_req)) return;
    atomic_store(&r->swap_req, 0);
    /* the TLS config already holds the renewed credential: end this session cleanly and connect
     * again with it (unconfirmed data stays queued / stored and is published after the births) */
    if (!n->edge_started) {
        start_trying(r); /* the next start connects with it */
        return;
    }
    tw_status st = tw_edge_stop(n->edge, 1000);
    start_trying(r);
    if (st && st != TW_ERR_TIMEOUT)
        tw__log(TW_LOG_WARN, MOD, "%s/%s: ending the session for the renewed certificate: %s", n->group_id,
                n->edge_node_id, tw_edge_last_error(n->edge));
    n->edge_started = 0;
    if ((st = tw__uplink_start(n))) {
        tw__log(TW_LOG_ERROR, MOD, "%s/%s: restarting the session: %s; retrying", n->group_id, n->edge_node_id,
                tw__err_msg(&n->err));
        atomic_store(&r->swap_req, 1); /* retried on the next round */
    }
}

void tw__renew_on_state(tw_node *n, tw_edge_state state, tw_status status)
{
    node_renew *r = n->renew;
    if (!r || !r->trying) return;
    if (state == TW_EDGE_ONLINE || state == TW_EDGE_WAITING_HOST) {
        r->trying = 0;
        tw__log(TW_LOG_INFO, MOD, "%s/%s: connected with the renewed certificate", n->group_id, n->edge_node_id);
        atomic_store(&r->verdict, 1);
        poke(r->fd);
    } else if (state == TW_EDGE_BACKOFF && (credential_refused(status) || odd_failure(status))) {
        if (credential_refused(status)) r->refusals++;
        else r->odd_failures++;
        if (r->refusals < RENEW_REFUSALS && r->odd_failures < RENEW_ODD) {
            tw__log(TW_LOG_INFO, MOD, "%s/%s: connection with the renewed certificate failed (%s); trying it again",
                    n->group_id, n->edge_node_id, tw_status_name(status));
            return;
        }
        r->trying = 0;
        tw_status st = tw_tls_config_set_credentials_file(n->tls, r->cur_chain, r->cur_key, NULL);
        tw__log(TW_LOG_WARN, MOD, "%s/%s: the broker refused the renewed certificate (%s); back to the current one%s",
                n->group_id, n->edge_node_id, tw_status_name(status), st ? " (which cannot be loaded either)" : "");
        atomic_fetch_add(&n->cert_rollbacks, 1);
        atomic_store(&n->cert_last_error, (int)status);
        atomic_store(&r->verdict, -1);
        poke(r->fd);
    }
}
