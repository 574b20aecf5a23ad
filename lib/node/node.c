/* The edge node runtime: devices, tags, adapter polling, the driving loop, statistics.
 * SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stddef.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "node_internal.h"
#include "tagwire/enroll.h"
#include "tagwire/sparkplug.h"

#define MOD NODE_MOD

/* ---- small helpers ----------------------------------------------------------------------------- */

static void wake(int fd)
{
    if (fd < 0) return;
    uint64_t one = 1;
    ssize_t r = write(fd, &one, sizeof one);
    (void)r;
}

static void drain(int fd)
{
    uint64_t v;
    ssize_t r = read(fd, &v, sizeof v);
    (void)r;
}

static void put_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen) tw__strlcpy(err, msg, errlen);
}

static int sp_id_ok(const char *id)
{
    if (!id || !*id || strlen(id) > TW_CONFIG_MAX_ID_BYTES) return 0;
    if (!tw_utf8_valid(id, strlen(id))) return 0;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++)
        if (*p == '+' || *p == '#' || *p == '/' || *p < 0x20 || *p == 0x7f) return 0;
    return 1;
}

static void on_change(tw_tagset *ts, void *ud)
{
    (void)ts;
    tw_node *n = ud;
    wake(n->wake_fd);
}

size_t tw__node_pending(const tw_node *n)
{
    size_t p = tw_tagset_pending(n->ts);
    for (size_t i = 0; i < n->ndevs; i++) p += tw_tagset_pending(n->devs[i]->ts);
    return p;
}

/* ---- broker URI --------------------------------------------------------------------------------- */

static tw_status parse_broker(tw_node *n, const char *uri, int insecure)
{
    const char *rest;
    int tls;
    if (!strncmp(uri, "mqtts://", 8)) {
        rest = uri + 8;
        tls = 1;
    } else if (!strncmp(uri, "mqtt://", 7)) {
        rest = uri + 7;
        tls = 0;
    } else {
        return tw__err(&n->err, MOD, TW_ERR_INVALID_ARG,
                       "broker '%s': the scheme must be mqtts:// (or mqtt:// with insecure)", uri);
    }
    if (!tls && !insecure)
        return tw__err(&n->err, MOD, TW_ERR_TLS_INSECURE,
                       "broker '%s': plaintext mqtt:// needs the insecure option", uri);
    tw__uri u; /* lib/core's parser: [v6] hosts, ports 1..65535 */
    tw_status st = tw__uri_parse(&u, uri, NULL, 0);
    if (st == TW_ERR_NOMEM) return st;
    const char *why = NULL, *after = NULL; /* `after` points into uri */
    if (*rest != '[' && strcspn(rest, ":/?") == 0) {
        why = "no host";
    } else if (st != TW_OK) {
        if (u.why == TW__URI_E_BRACKET) why = "unterminated '['";
        else if (u.why == TW__URI_E_PORT) why = "bad port";
        else if (u.why == TW__URI_E_LENGTH) why = "too long";
        else after = u.err_at;
    } else if (!*u.host) {
        why = "no host";
    } else if (*u.rest && strcmp(u.rest, "/")) {
        after = u.rest; /* a path, query or fragment */
    }
    if (why || after) {
        tw__uri_free(&u);
        if (why) return tw__err(&n->err, MOD, TW_ERR_INVALID_ARG, "broker '%s': %s", uri, why);
        return tw__err(&n->err, MOD, TW_ERR_INVALID_ARG, "broker '%s': unexpected '%s' after the port", uri,
                       after);
    }
    n->host = tw__strdup(u.host);
    n->port = u.port ? u.port : (tls ? 8883 : 1883);
    tw__uri_free(&u);
    if (!n->host) return TW_ERR_NOMEM;
    n->insecure = !tls;
    return TW_OK;
}

static tw_status setup_tls(tw_node *n, const tw_node_options *o)
{
    if (n->insecure) return TW_OK;
    if (o->tls) {
        /* the caller's config: the node takes its own reference */
        n->tls = tw__tls_config_ref(o->tls);
        return TW_OK;
    }
    tw_status st = tw_tls_config_new(&n->tls);
    if (st) return tw__err(&n->err, MOD, st, "TLS configuration: %s", tw_strerror(st));
    char cacerts[TW_CREDENTIAL_PATH_MAX + 32];
    const char *ca = o->tls_ca_file, *cert = o->tls_cert_file, *key = o->tls_key_file;
    tw_credential_info ci;
    if (o->credentials_dir && !o->enroll) {
        memset(&ci, 0, sizeof ci);
        ci.version = TW_CREDENTIAL_INFO_VERSION;
        st = tw_credential_inspect(&ci, o->credentials_dir, 0.66);
        if (st || !ci.has_current)
            return tw__err(&n->err, MOD, st ? st : TW_ERR_NOT_FOUND,
                           "credentials_dir '%s': no usable enrolled key and certificate",
                           o->credentials_dir);
        cert = ci.chain_path;
        key = ci.key_path;
    }
    if (o->credentials_dir && !ca) {
        snprintf(cacerts, sizeof cacerts, "%s/cacerts.pem", o->credentials_dir);
        ca = cacerts;
    }
    /* with enroll, tw__renew_new() loads the key and chain from the credential directory */
    if (!ca || (!o->enroll && (!cert || !key)))
        return tw__err(&n->err, MOD, TW_ERR_INVALID_ARG,
                       "mqtts:// needs a CA file, a certificate and a key (or a tw_tls_config)");
    if ((st = tw_tls_config_set_ca_file(n->tls, ca)))
        return tw__err(&n->err, MOD, st, "TLS CA file '%s': %s", ca, tw_tls_config_last_error(n->tls));
    if (!o->enroll && (st = tw_tls_config_set_credentials_file(n->tls, cert, key, NULL)))
        return tw__err(&n->err, MOD, st, "TLS certificate '%s' / key '%s': %s", cert, key,
                       tw_tls_config_last_error(n->tls));
    if (o->tls_crl_file && (st = tw_tls_config_set_crl_file(n->tls, o->tls_crl_file)))
        return tw__err(&n->err, MOD, st, "TLS CRL file '%s': %s", o->tls_crl_file,
                       tw_tls_config_last_error(n->tls));
    if (o->tls_server_name && (st = tw_tls_config_set_server_name(n->tls, o->tls_server_name)))
        return tw__err(&n->err, MOD, st, "TLS server name: %s", tw_tls_config_last_error(n->tls));
    return TW_OK;
}

/* ---- life cycle --------------------------------------------------------------------------------- */

static void node_destroy(tw_node *n);

tw_status tw__node_new(tw_node **out, const tw_node_options *o, char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    if (!out) return TW_ERR_INVALID_ARG;
    *out = NULL;
    tw_status st = tw__check_init();
    if (st) {
        put_err(err, errlen, "tw_init() has not been called");
        return st;
    }
    if (!o) {
        put_err(err, errlen, "options are required");
        return tw__err(NULL, MOD, TW_ERR_INVALID_ARG, "options are required");
    }
    tw_node_options ocopy;
    if (TW__OPTS_COPY(ocopy, o, offsetof(tw_node_options, store_options), offsetof(tw_node_options, enroll),
                      sizeof(tw_node_options))) {
        put_err(err, errlen, "unknown tw_node_options version");
        return tw__err(NULL, MOD, TW_ERR_VERSION, "tw_node_options version %u is not supported",
                       (unsigned)o->version);
    }
    /* renewal: the credential directory named in the enrollment options supplies the uplink's key */
    if (ocopy.enroll && ocopy.enroll->version >= 1 && !ocopy.credentials_dir)
        ocopy.credentials_dir = ocopy.enroll->credentials_dir;
    o = &ocopy;
    tw_node *n = tw__calloc(1, sizeof *n);
    if (!n) {
        put_err(err, errlen, "out of memory");
        return tw__err(NULL, MOD, TW_ERR_NOMEM, "out of memory");
    }
    n->wake_fd = n->stop_fd = -1;
    if (!sp_id_ok(o->group_id)) {
        st = tw__err(&n->err, MOD, TW_ERR_INVALID_ARG,
                     "group_id must be 1..128 bytes of UTF-8 without '+', '#', '/'");
        goto fail;
    }
    if (!sp_id_ok(o->edge_node_id)) {
        st = tw__err(&n->err, MOD, TW_ERR_INVALID_ARG,
                     "edge_node_id must be 1..128 bytes of UTF-8 without '+', '#', '/'");
        goto fail;
    }
    if (o->primary_host_id && !sp_id_ok(o->primary_host_id)) {
        st = tw__err(&n->err, MOD, TW_ERR_INVALID_ARG, "primary_host_id is not a valid Sparkplug id");
        goto fail;
    }
    if (!o->broker) {
        st = tw__err(&n->err, MOD, TW_ERR_INVALID_ARG, "a broker URI is required");
        goto fail;
    }
    if (o->store_dir && o->state_dir) {
        st = tw__err(&n->err, MOD, TW_ERR_INVALID_ARG,
                     "store_dir and state_dir exclude each other (the bdSeq lives in the store)");
        goto fail;
    }
    if (o->protocol_version != 0 && o->protocol_version != 4 && o->protocol_version != 5) {
        st = tw__err(&n->err, MOD, TW_ERR_INVALID_ARG, "protocol_version must be 4 or 5");
        goto fail;
    }
    if ((unsigned)o->poll_threads > TW_NODE_POLL_INLINE) {
        st = tw__err(&n->err, MOD, TW_ERR_INVALID_ARG, "poll_threads: unknown mode");
        goto fail;
    }
    if ((st = parse_broker(n, o->broker, o->insecure))) goto fail;
    n->group_id = tw__strdup(o->group_id);
    n->edge_node_id = tw__strdup(o->edge_node_id);
    n->primary_host_id = tw__strdup(o->primary_host_id);
    if (o->client_id && *o->client_id) {
        n->client_id = tw__strdup(o->client_id);
    } else {
        char cid[TW_SP_CLIENT_ID_MAX + 1];
        if (tw_sp_default_client_id(cid, sizeof cid, o->group_id, o->edge_node_id) == TW_OK)
            n->client_id = tw__strdup(cid);
    }
    if (!n->group_id || !n->edge_node_id || !n->client_id || (o->primary_host_id && !n->primary_host_id)) {
        st = TW_ERR_NOMEM;
        goto fail;
    }
    n->keep_alive_s = o->keep_alive_s ? o->keep_alive_s : 30;
    if (n->keep_alive_s > 65535) {
        st = tw__err(&n->err, MOD, TW_ERR_INVALID_ARG, "keep_alive_s must be at most 65535");
        goto fail;
    }
    n->qos0 = o->qos0;
    n->protocol_version = o->protocol_version;
    n->queue_bytes = o->queue_bytes;
    if (o->state_dir && !(n->state_dir = tw__strdup(o->state_dir))) {
        st = TW_ERR_NOMEM;
        goto fail;
    }
    n->publish_interval_ms = o->publish_interval_ms;
    n->max_metrics = o->max_metrics_per_message ? o->max_metrics_per_message : 512;
    n->shutdown_timeout_ms = o->shutdown_timeout_ms ? o->shutdown_timeout_ms : 2000;
    n->stats_interval_ms = o->stats_interval_ms ? o->stats_interval_ms : 10000;
    n->poll_mode = o->poll_threads;
    if ((st = setup_tls(n, o))) goto fail;
    if ((st = tw__renew_new(n, o))) goto fail;
    if ((st = tw_tagset_new(&n->ts))) goto fail;
    tw_tagset_set_notify(n->ts, on_change, n);
    n->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    n->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (n->wake_fd < 0 || n->stop_fd < 0) {
        st = tw__err(&n->err, MOD, TW_ERR_IO, "eventfd: %s", strerror(errno));
        goto fail;
    }
    if (o->store_dir) {
        tw_store_options so = TW_STORE_OPTIONS_INIT;
        if (o->store_options) { /* zero in a version 1 struct (TW__OPTS_COPY) */
            if (o->store_options->version != TW_STORE_OPTIONS_VERSION) { /* the only version so far */
                st = tw__err(&n->err, MOD, TW_ERR_VERSION, "unknown tw_store_options version");
                goto fail;
            }
            so = *o->store_options;
        }
        so.backend = TW_STORE_DISK;
        so.dir = o->store_dir;
        so.read_only = 0;
        /* a record: the history header, the device id and the value (tagwire/store.h defaults) */
        uint64_t rec = so.max_record_bytes ? so.max_record_bytes : 1u << 20;
        uint64_t room = (so.max_bytes ? so.max_bytes : (uint64_t)64 << 20) - TW_STORE_RECORD_OVERHEAD;
        if (room < rec) rec = room;
        n->store_value_max = rec > TW_EDGE_VALUE_OVERHEAD ? (size_t)(rec - TW_EDGE_VALUE_OVERHEAD) : 0;
        if ((st = tw_store_new(&n->store, &so))) {
            st = tw__err(&n->err, MOD, st, "store: %s", tw__err_detail(st));
            goto fail;
        }
    }
    if ((st = tw__uplink_new(n))) goto fail;
    *out = n;
    return TW_OK;
fail:
    /* a callee that failed without a node-level message (tag set, out of memory): wrap its detail */
    if (n->err.code != st) tw__err(&n->err, MOD, st, "%s", tw__err_detail(st));
    put_err(err, errlen, tw__err_msg(&n->err));
    node_destroy(n);
    return st;
}

tw_status tw_node_new(tw_node **out, const tw_node_options *opts) { return tw__node_new(out, opts, NULL, 0); }

static void device_free(tw_node_device *d)
{
    if (!d) return;
    tw_poller_free(d->poller);
    for (size_t g = 0; g < d->ngroups; g++) {
        tw__free(d->groups[g].tags);
        tw__free(d->groups[g].binds);
        tw__free(d->groups[g].ids);
    }
    tw__free(d->groups);
    for (size_t i = 0; i < d->nbinds; i++) tw__free(d->binds[i]);
    tw__free(d->binds);
    tw_device_free(d->dev);
    tw_tagset_free(d->ts);
    pthread_mutex_destroy(&d->lock);
    pthread_mutex_destroy(&d->stats_lock);
    tw__free(d->id);
    tw__free(d);
}

static void stop_poll_threads(tw_node *n)
{
    if (!n->poll_threads) return;
    wake(n->stop_fd);
    for (size_t i = 0; i < n->ndevs; i++) {
        tw_node_device *d = n->devs[i];
        if (d->thread_running) {
            pthread_join(d->thread, NULL);
            d->thread_running = 0;
        }
    }
    drain(n->stop_fd);
    n->poll_threads = 0;
}

static void node_destroy(tw_node *n)
{
    if (!n) return;
    tw__renew_free(n); /* its thread uses the TLS config and the wake-up descriptor */
    stop_poll_threads(n);
    tw__uplink_free(n);
    for (size_t i = 0; i < n->ndevs; i++) device_free(n->devs[i]);
    tw__free(n->devs);
    tw_tagset_free(n->ts);
    if (n->tls) tw_tls_config_free(n->tls);
    if (n->wake_fd >= 0) close(n->wake_fd);
    if (n->stop_fd >= 0) close(n->stop_fd);
    tw__free(n->group_id);
    tw__free(n->edge_node_id);
    tw__free(n->client_id);
    tw__free(n->primary_host_id);
    tw__free(n->host);
    tw__free(n->state_dir);
    tw__free(n);
}

void tw_node_free(tw_node *n)
{
    if (!n) return;
    if (n->mode == NODE_THREADED) tw_node_stop(n);
    else if (n->mode == NODE_STEPPING) tw_node_shutdown(n);
    node_destroy(n);
}

const char *tw_node_last_error(const tw_node *n) { return n ? (n->err.code ? tw__err_msg(&n->err) : "") : ""; }

tw_status tw_node_last_status(const tw_node *n) { return n ? n->err.code : TW_ERR_INVALID_ARG; }

const char *tw_node_group_id(const tw_node *n) { return n ? n->group_id : NULL; }
const char *tw_node_edge_node_id(const tw_node *n) { return n ? n->edge_node_id : NULL; }

/* ---- tags and devices --------------------------------------------------------------------------- */

/* A STRING/BYTES tag whose longest value (max_len) could never be published or stored is refused
 * when it is added, not discovered when a value is published. */
static tw_status check_value_len(tw_node *n, const char *name, tw_type type, const tw_tag_options *opts)
{
    if (type != TW_TYPE_STRING && type != TW_TYPE_BYTES) return TW_OK;
    size_t want = opts && opts->version && opts->max_len ? opts->max_len : TW_TAG_DEFAULT_MAX_LEN;
    size_t lim = tw_edge_max_value_len(n->edge), slim = n->store ? n->store_value_max : SIZE_MAX;
    if (want <= lim && want <= slim) return TW_OK;
    return tw__err(&n->err, MOD, TW_ERR_RANGE,
                   "tag '%s': max_len %zu bytes exceeds %zu, the longest %s value %s", name ? name : "(null)",
                   want, lim < slim ? lim : slim, tw_type_name(type),
                   lim <= slim ? "one Sparkplug DATA message of the node can carry"
                               : "one record of the store can hold (store max_record_bytes / max_bytes)");
}

tw_status tw_node_add_tag(tw_node *n, tw_tag **out, const char *name, tw_type type,
                          const tw_tag_options *opts)
{
    if (out) *out = NULL;
    if (!n) return TW_ERR_INVALID_ARG;
    if (n->mode != NODE_SETUP || n->frozen)
        return tw__err(&n->err, MOD, TW_ERR_NODE_STATE, "tags cannot be added once the node runs");
    tw_status st = check_value_len(n, name, type, opts);
    if (st) return st;
    st = tw_tagset_add(n->ts, out, name, type, opts);
    if (st) return tw__err(&n->err, MOD, st, "tag '%s': %s", name ? name : "(null)", tw_tagset_last_error(n->ts));
    return TW_OK;
}

tw_status tw__node_add_device(tw_node *n, tw_node_device **out, const char *id,
                              const tw_node_device_options *o, char *err, size_t errlen)
{
    if (err && errlen) err[0] = 0;
    if (out) *out = NULL;
    if (!n) return TW_ERR_INVALID_ARG;
    tw_status st;
    if (n->mode != NODE_SETUP || n->frozen) {
        st = tw__err(&n->err, MOD, TW_ERR_NODE_STATE, "devices cannot be added once the node runs");
        goto out_err;
    }
    if (!sp_id_ok(id)) {
        st = tw__err(&n->err, MOD, TW_ERR_INVALID_ARG,
                     "device id must be 1..128 bytes of UTF-8 without '+', '#', '/'");
        goto out_err;
    }
    tw_node_device_options ocopy;
    if (o && TW__OPTS_COPY(ocopy, o, sizeof(tw_node_device_options))) {
        st = tw__err(&n->err, MOD, TW_ERR_VERSION, "unknown tw_node_device_options version");
        goto out_err;
    }
    if (o) o = &ocopy;
    if (tw_node_find_device(n, id)) {
        st = tw__err(&n->err, MOD, TW_ERR_EXISTS, "device '%s' exists already", id);
        goto out_err;
    }
    if (o && o->adapter_uri && o->opened) {
        st = tw__err(&n->err, MOD, TW_ERR_INVALID_ARG, "device '%s': give adapter_uri or opened, not both", id);
        goto out_err;
    }
    tw_node_device *d = tw__calloc(1, sizeof *d);
    if (!d) {
        st = tw__err(&n->err, MOD, TW_ERR_NOMEM, "device '%s': out of memory", id);
        goto out_err;
    }
    pthread_mutex_init(&d->lock, NULL);
    pthread_mutex_init(&d->stats_lock, NULL);
    d->node = n;
    d->id = tw__strdup(id);
    if (!d->id) {
        device_free(d);
        st = tw__err(&n->err, MOD, TW_ERR_NOMEM, "device '%s': out of memory", id);
        goto out_err;
    }
    if ((st = tw_tagset_new(&d->ts))) {
        device_free(d);
        st = tw__err(&n->err, MOD, st, "device '%s': %s", id, tw__err_detail(st));
        goto out_err;
    }
    tw_tagset_set_notify(d->ts, on_change, n);
    if (o && o->adapter_uri) {
        st = tw_device_open(&d->dev, o->adapter_uri, o->device.version ? &o->device : NULL);
        if (st) {
            device_free(d);
            char redacted[512]; /* the URI may carry secrets (password=, token=, ...) */
            st = tw__err(&n->err, MOD, st, "device '%s': adapter '%s': %s", id,
                         tw__uri_redact(o->adapter_uri, redacted, sizeof redacted), tw__err_detail(st));
            goto out_err;
        }
    }
    if (n->ndevs == n->capdevs) {
        size_t nc = n->capdevs ? n->capdevs * 2 : 4;
        tw_node_device **nd = tw__realloc(n->devs, nc * sizeof *nd);
        if (!nd) {
            d->dev = NULL; /* the caller keeps an opened device on failure */
            device_free(d);
            st = tw__err(&n->err, MOD, TW_ERR_NOMEM, "device '%s': out of memory", id);
            goto out_err;
        }
        n->devs = nd;
        n->capdevs = nc;
    }
    if (o && o->opened) d->dev = o->opened;
    n->devs[n->ndevs++] = d;
    if (out) *out = d;
    return TW_OK;
out_err:
    put_err(err, errlen, tw__err_msg(&n->err));
    return st;
}

tw_status tw_node_add_device(tw_node *n, tw_node_device **out, const char *id,
                             const tw_node_device_options *opts)
{
    return tw__node_add_device(n, out, id, opts, NULL, 0);
}

tw_node_device *tw_node_find_device(const tw_node *n, const char *id)
{
    if (!n || !id) return NULL;
    for (size_t i = 0; i < n->ndevs; i++)
        if (!strcmp(n->devs[i]->id, id)) return n->devs[i];
    return NULL;
}
size_t tw_node_device_count(const tw_node *n) { return n ? n->ndevs : 0; }
tw_node_device *tw_node_device_at(const tw_node *n, size_t i) { return n && i < n->ndevs ? n->devs[i] : NULL; }
const char *tw_node_device_id(const tw_node_device *d) { return d ? d->id : NULL; }
tw_tagset *tw_node_device_tagset(const tw_node_device *d) { return d ? d->ts : NULL; }
tw_tagset *tw_node_tagset(const tw_node *n) { return n ? n->ts : NULL; }
tw_device *tw_node_device_adapter(const tw_node_device *d) { return d ? d->dev : NULL; }

static tw_status device_write_cb(tw_tag *tag, const tw_value *value, void *ud);

tw_status tw_node_device_add_tag(tw_node_device *d, tw_tag **out, const char *name, tw_type type,
                                 const tw_tag_options *opts, const char *address, uint32_t rate_ms)
{
    if (out) *out = NULL;
    if (!d) return TW_ERR_INVALID_ARG;
    tw_node *n = d->node;
    if (n->mode != NODE_SETUP || n->frozen)
        return tw__err(&n->err, MOD, TW_ERR_NODE_STATE, "tags cannot be added once the node runs");
    if (address && !d->dev)
        return tw__err(&n->err, MOD, TW_ERR_INVALID_ARG,
                       "tag '%s': an address needs a device with an adapter ('%s' has none)",
                       name ? name : "(null)", d->id);
    if (!address && d->dev)
        return tw__err(&n->err, MOD, TW_ERR_INVALID_ARG,
                       "tag '%s': device '%s' has an adapter: the tag needs an address",
                       name ? name : "(null)", d->id);
    tw_status st = check_value_len(n, name, type, opts);
    if (st) return st;
    node_binding *b = NULL;
    if (address) {
        if (d->nbinds == d->capbinds) {
            size_t nc = d->capbinds ? d->capbinds * 2 : 16;
            node_binding **nb = tw__realloc(d->binds, nc * sizeof *nb);
            if (!nb) return TW_ERR_NOMEM;
            d->binds = nb;
            d->capbinds = nc;
        }
        b = tw__calloc(1, sizeof *b);
        if (!b) return TW_ERR_NOMEM;
        if ((st = tw_device_add_item(d->dev, &b->item, address))) {
            tw__free(b);
            /* the adapter's message names the address already */
            return tw__err(&n->err, MOD, st, "tag '%s': %s", name ? name : "(null)", tw_device_last_error(d->dev));
        }
        /* an item cannot be removed again: if the tag is refused below, the item stays unused */
        b->item_type = tw_device_item_type(d->dev, b->item);
    }
    tw_tag *t = NULL;
    st = tw_tagset_add(d->ts, &t, name, type, opts);
    if (st) {
        tw__free(b);
        return tw__err(&n->err, MOD, st, "tag '%s': %s", name ? name : "(null)", tw_tagset_last_error(d->ts));
    }
    if (b) {
        double sc, off;
        tw_tag_scaling(t, &sc, &off);
        b->tag = t;
        b->dev = d;
        b->scaled = (sc != 1.0 || off != 0.0);
        b->rate_ms = tw_tag_access(t) == TW_ACCESS_WRITE ? 0 : (rate_ms ? rate_ms : 1000);
        d->binds[d->nbinds++] = b;
        if (tw_tag_access(t) != TW_ACCESS_READ) tw_tag_set_write_cb(t, device_write_cb, b);
    }
    if (out) *out = t;
    return TW_OK;
}

/* ---- adapter values into tags -------------------------------------------------------------------- */

static void apply_sample(node_binding *b, const tw_sample *s)
{
    tw_tag *t = b->tag;
    int64_t ts = s->timestamp_ns;
    if (TW_QUALITY_IS_BAD(s->quality) || s->value.type == TW_TYPE_NONE) {
        tw_tag_set_quality(t, TW_QUALITY_IS_BAD(s->quality) ? s->quality : TW_QUALITY_BAD, ts);
        return;
    }
    tw_status st;
    if (b->scaled && tw_type_is_numeric(tw_tag_type(t))) {
        tw_value d;
        st = tw_value_convert(&d, &s->value, TW_TYPE_DOUBLE);
        if (!st) st = tw_tag_set_raw_double(t, d.as.d, s->quality, ts);
    } else {
        st = tw_tag_set_value(t, &s->value, s->quality, ts);
    }
    if (st) tw_tag_set_quality(t, st == TW_ERR_RANGE ? TW_QUALITY_BAD_OUT_OF_RANGE : TW_QUALITY_BAD_TYPE_MISMATCH, ts);
}

/* Refreshes the device's statistics copy; called by the thread that holds d->lock. */
static void refresh_dstats(tw_node_device *d)
{
    tw_device_stats ds;
    memset(&ds, 0, sizeof ds);
    ds.version = TW_DEVICE_STATS_VERSION;
    if (tw_device_stats_get(d->dev, &ds) != TW_OK) return;
    pthread_mutex_lock(&d->stats_lock);
    d->dstats = ds;
    pthread_mutex_unlock(&d->stats_lock);
}

static void poll_cb(uint32_t group, const uint32_t *ids, const tw_sample *samples, size_t n, void *ud)
{
    (void)group;
    (void)ids;
    node_group *g = ud;
    int bad = 0, unreachable = n > 0;
    for (size_t i = 0; i < n && i < g->n; i++) {
        apply_sample(g->binds[i], &samples[i]);
        if (TW_QUALITY_IS_BAD(samples[i].quality)) bad = 1;
        if (samples[i].quality != TW_QUALITY_BAD_NOT_CONNECTED) unreachable = 0;
    }
    if (atomic_load_explicit(&g->dev->unreachable, memory_order_relaxed) != unreachable) {
        atomic_store(&g->dev->unreachable, unreachable);
        wake(g->dev->node->wake_fd);
    }
    atomic_fetch_add_explicit(&g->dev->polls, 1, memory_order_relaxed);
    if (bad) atomic_fetch_add_explicit(&g->dev->poll_errors, 1, memory_order_relaxed);
    refresh_dstats(g->dev);
}

static tw_status device_write_cb(tw_tag *tag, const tw_value *value, void *ud)
{
    node_binding *b = ud;
    tw_node_device *d = b->dev;
    tw_node *n = d->node;
    tw_value raw;
    tw_status st;
    if (b->scaled && tw_type_is_numeric(value->type)) {
        tw_value eng;
        st = tw_value_convert(&eng, value, TW_TYPE_DOUBLE);
        if (st) goto done;
        raw.type = TW_TYPE_DOUBLE;
        raw.as.d = tw_tag_eng_to_raw(tag, eng.as.d);
    } else {
        raw = *value;
    }
    if (b->item_type != TW_TYPE_NONE && raw.type != b->item_type) {
        st = tw_value_convert(&raw, &raw, b->item_type);
        if (st) goto done;
    }
    pthread_mutex_lock(&d->lock);
    st = tw_device_write(d->dev, b->item, &raw);
    if (st)
        tw__log(TW_LOG_WARN, MOD, "device '%s': write of '%s' failed: %s", d->id, tw_tag_name(tag),
                tw_device_last_error(d->dev));
    refresh_dstats(d);
    pthread_mutex_unlock(&d->lock);
done:
    atomic_fetch_add_explicit(&n->device_writes, 1, memory_order_relaxed);
    if (st) {
        atomic_fetch_add_explicit(&n->device_write_errors, 1, memory_order_relaxed);
        return st;
    }
    /* publish the new value at once when the tag is read back anyway */
    if (tw_tag_access(tag) == TW_ACCESS_READ_WRITE) tw_tag_set_value(tag, value, TW_QUALITY_GOOD, 0);
    return TW_OK;
}

/* Builds the poll groups of every adapter device (once, before the first run). */
static tw_status freeze(tw_node *n)
{
    if (n->frozen) return TW_OK;
    for (size_t i = 0; i < n->ndevs; i++) {
        tw_node_device *d = n->devs[i];
        if (!d->dev) continue;
        for (size_t k = 0; k < d->nbinds; k++) {
            node_binding *b = d->binds[k];
            if (!b->rate_ms) continue;
            node_group *g = NULL;
            for (size_t j = 0; j < d->ngroups; j++)
                if (d->groups[j].rate_ms == b->rate_ms) g = &d->groups[j];
            if (!g) {
                node_group *ng = tw__realloc(d->groups, (d->ngroups + 1) * sizeof *ng);
                if (!ng) return TW_ERR_NOMEM;
                d->groups = ng;
                g = &d->groups[d->ngroups++];
                memset(g, 0, sizeof *g);
                g->dev = d;
                g->rate_ms = b->rate_ms;
            }
            if (g->n == g->cap) {
                size_t nc = g->cap ? g->cap * 2 : 16;
                tw_tag **nt = tw__realloc(g->tags, nc * sizeof *nt);
                if (!nt) return TW_ERR_NOMEM;
                g->tags = nt;
                node_binding **nb = tw__realloc(g->binds, nc * sizeof *nb);
                if (!nb) return TW_ERR_NOMEM;
                g->binds = nb;
                uint32_t *ni = tw__realloc(g->ids, nc * sizeof *ni);
                if (!ni) return TW_ERR_NOMEM;
                g->ids = ni;
                g->cap = nc;
            }
            g->tags[g->n] = b->tag;
            g->binds[g->n] = b;
            g->ids[g->n] = b->item;
            g->n++;
        }
        if (!d->ngroups) continue;
        tw_status st = tw_poller_new(&d->poller);
        if (st) return st;
        for (size_t j = 0; j < d->ngroups; j++) {
            uint32_t gid;
            node_group *g = &d->groups[j];
            st = tw_poller_add_group(d->poller, &gid, d->dev, g->rate_ms, g->ids, g->n, poll_cb, g);
            if (st) return tw__err(&n->err, MOD, st, "device '%s': poll group: %s", d->id, tw_strerror(st));
        }
    }
    n->frozen = 1;
    n->started_ns = tw__mono_ns();
    n->next_stats_ns = n->started_ns + (int64_t)n->stats_interval_ms * 1000000;
    return TW_OK;
}

/* Before the first round (and again after a shutdown): poll groups, uplink session. */
static tw_status node_begin(tw_node *n)
{
    tw_status st = freeze(n);
    if (st) return st;
    if ((st = tw__uplink_start(n))) return st;
    return tw__renew_start(n);
}

static void *poll_thread(void *arg)
{
    tw_node_device *d = arg;
    tw_node *n = d->node;
    for (;;) {
        int64_t due = tw_poller_next_due_ms(d->poller);
        struct pollfd pf = {.fd = n->stop_fd, .events = POLLIN};
        int to = due < 0 ? 1000 : (due > 1000 ? 1000 : (int)due);
        int r = poll(&pf, 1, to);
        if (r > 0) break; /* stop requested (never drained while threads run) */
        pthread_mutex_lock(&d->lock);
        tw_poller_step(d->poller, 0);
        pthread_mutex_unlock(&d->lock);
    }
    return NULL;
}

static tw_status start_poll_threads(tw_node *n)
{
    for (size_t i = 0; i < n->ndevs; i++) {
        tw_node_device *d = n->devs[i];
        if (!d->poller) continue;
        if (pthread_create(&d->thread, NULL, poll_thread, d)) {
            stop_poll_threads(n);
            return tw__err(&n->err, MOD, TW_ERR_IO, "cannot start a poll thread");
        }
        d->thread_running = 1;
        n->poll_threads = 1;
    }
    return TW_OK;
}

/* Runs the inline polls that are due; returns ms until the next one (-1 none). */
static int64_t run_inline_polls(tw_node *n)
{
    int64_t next = -1;
    if (n->poll_threads) return -1;
    for (size_t i = 0; i < n->ndevs; i++) {
        tw_node_device *d = n->devs[i];
        if (!d->poller) continue;
        if (tw_poller_next_due_ms(d->poller) == 0) {
            pthread_mutex_lock(&d->lock);
            tw_poller_step(d->poller, 0);
            pthread_mutex_unlock(&d->lock);
        }
        int64_t due = tw_poller_next_due_ms(d->poller);
        if (due >= 0 && (next < 0 || due < next)) next = due;
    }
    return next;
}

static int64_t inline_next_due(tw_node *n)
{
    int64_t next = -1;
    if (n->poll_threads) return -1;
    for (size_t i = 0; i < n->ndevs; i++) {
        if (!n->devs[i]->poller) continue;
        int64_t due = tw_poller_next_due_ms(n->devs[i]->poller);
        if (due >= 0 && (next < 0 || due < next)) next = due;
    }
    return next;
}

/* ---- statistics ---------------------------------------------------------------------------------- */

const char *tw_node_link_name(tw_node_link l)
{
    switch (l) {
    case TW_NODE_LINK_OFFLINE: return "offline";
    case TW_NODE_LINK_CONNECTING: return "connecting";
    case TW_NODE_LINK_ONLINE: return "online";
    }
    return "unknown";
}

static tw_status node_stats_fill(const tw_node *cn, tw_node_stats *out);

/* Fills a current-version struct; the caller's version gets only its fields. */
tw_status tw_node_stats_get(const tw_node *cn, tw_node_stats *out)
{
    if (!cn || !out) return TW_ERR_INVALID_ARG;
    if (out->version < 1 || out->version > TW_NODE_STATS_VERSION) return TW_ERR_VERSION;
    tw_node_stats s;
    s.version = TW_NODE_STATS_VERSION;
    tw_status st = node_stats_fill(cn, &s);
    return st ? st : TW__STATS_PUT(out, &s, offsetof(tw_node_stats, store_records),
                                         offsetof(tw_node_stats, store_oldest_time_ms), sizeof(tw_node_stats));
}

static tw_status node_stats_fill(const tw_node *cn, tw_node_stats *out)
{
    if (!cn || !out) return TW_ERR_INVALID_ARG;
    if (out->version != TW_NODE_STATS_VERSION) return TW_ERR_VERSION;
    tw_node *n = (tw_node *)cn;
    memset(out, 0, sizeof *out);
    out->version = TW_NODE_STATS_VERSION;
    out->store_records = atomic_load(&n->store_records);
    out->store_bytes = atomic_load(&n->store_bytes);
    out->store_dropped = atomic_load(&n->store_dropped);
    out->store_refused = atomic_load(&n->store_refused);
    out->store_oldest_time_ms = atomic_load(&n->store_oldest_ms);
    out->store_acked_seq = atomic_load(&n->store_acked_seq);
    out->store_last_seq = atomic_load(&n->store_last_seq);
    if (n->tls && tw_tls_config_own_not_after(n->tls, &out->cert_not_after)) out->cert_not_after = 0;
    out->cert_renew_at = atomic_load(&n->cert_renew_at);
    out->cert_renewals = atomic_load(&n->cert_renewals);
    out->cert_renew_failures = atomic_load(&n->cert_renew_failures);
    out->cert_rollbacks = atomic_load(&n->cert_rollbacks);
    out->cert_last_error = (tw_status)atomic_load(&n->cert_last_error);
    out->link = (tw_node_link)atomic_load(&n->link);
    out->connects = atomic_load(&n->connects);
    out->disconnects = atomic_load(&n->disconnects);
    out->messages_published = atomic_load(&n->messages);
    out->births = atomic_load(&n->births);
    out->metrics_published = atomic_load(&n->metrics);
    out->historical_published = atomic_load(&n->historical);
    out->refused = atomic_load(&n->refused);
    out->queue_dropped = atomic_load(&n->queue_dropped);
    out->commands = atomic_load(&n->commands);
    out->commands_failed = atomic_load(&n->commands_failed);
    out->queue_depth = tw__node_pending(n) + atomic_load(&n->queue_depth);
    out->unflushed_metrics = atomic_load(&n->unflushed);
    out->device_writes = atomic_load(&n->device_writes);
    out->device_write_errors = atomic_load(&n->device_write_errors);
    out->bd_seq = atomic_load(&n->bd_seq);
    out->devices_offline = atomic_load(&n->devices_offline);
    out->uptime_ms = n->started_ns ? (tw__mono_ns() - n->started_ns) / 1000000 : 0;
    for (size_t i = 0; i < n->ndevs; i++) {
        tw_node_device *d = n->devs[i];
        out->polls += atomic_load(&d->polls);
        out->poll_errors += atomic_load(&d->poll_errors);
        if (d->dev) {
            pthread_mutex_lock(&d->stats_lock);
            tw_device_stats ds = d->dstats;
            pthread_mutex_unlock(&d->stats_lock);
            out->adapter_requests += ds.requests ? ds.requests : ds.reads;
            out->adapter_errors += ds.timeouts + ds.exceptions + ds.protocol_errors + ds.connect_failures;
        }
    }
    return TW_OK;
}

static void log_stats(tw_node *n)
{
    if (!tw__log_enabled(TW_LOG_DEBUG)) return;
    tw_node_stats s;
    s.version = TW_NODE_STATS_VERSION;
    if (tw_node_stats_get(n, &s)) return;
    tw__log(TW_LOG_DEBUG, MOD,
            "%s/%s: %s, %" PRIu64 " messages, %" PRIu64 " metrics, %" PRIu64 " births, queue %" PRIu64
            ", polls %" PRIu64 " (%" PRIu64 " with errors), adapter requests %" PRIu64 " errors %" PRIu64
            ", commands %" PRIu64 " (%" PRIu64 " failed), reconnects %" PRIu64,
            n->group_id, n->edge_node_id, tw_node_link_name(s.link), s.messages_published,
            s.metrics_published, s.births, s.queue_depth, s.polls, s.poll_errors, s.adapter_requests,
            s.adapter_errors, s.commands, s.commands_failed, s.disconnects);
}

/* ---- the driving loop ---------------------------------------------------------------------------- */

static int clamp_ms(int64_t v) { return v > 1000000 ? 1000000 : (int)v; }

/* The time to wait (ms) when nothing happens. */
static int node_wait_ms(tw_node *n)
{
    int64_t w = 1000;
    int64_t now = tw__mono_ns();
    int ut = tw__uplink_timeout_ms(n);
    if (ut >= 0 && ut < w) w = ut;
    int64_t pd = inline_next_due(n);
    if (pd >= 0 && pd < w) w = pd;
    if (n->wait_publish) {
        int64_t d = (n->publish_due_ns - now + 999999) / 1000000;
        if (d < 0) d = 0;
        if (d < w) w = d;
    }
    int64_t sd = (n->next_stats_ns - now + 999999) / 1000000;
    if (sd < 0) sd = 0;
    if (sd < w) w = sd;
    return clamp_ms(w);
}

/* Devices that became unreachable get a DDEATH; when they answer again, a DBIRTH. */
static void check_reachability(tw_node *n)
{
    uint64_t offline = 0;
    for (size_t i = 0; i < n->ndevs; i++) {
        tw_node_device *d = n->devs[i];
        int un = atomic_load(&d->unreachable);
        if (un != d->reported_offline && tw__uplink_device_online(n, d, !un) == TW_OK) d->reported_offline = un;
        offline += (uint64_t)d->reported_offline;
    }
    atomic_store(&n->devices_offline, offline);
}

/* One round of work. `woken`: the wake-up descriptor was readable (a tag change or tw_node_wakeup);
 * `io`: the uplink's descriptor was ready or its timer expired. Changes are gathered for
 * publish_interval_ms after the first one, so that a burst of changes goes out in few messages. */
static tw_status node_work(tw_node *n, int woken, int io)
{
    if (woken) drain(n->wake_fd);
    tw__renew_poll(n); /* a renewed certificate: reconnect with it */
    run_inline_polls(n);
    int64_t now = tw__mono_ns();
    if (!n->wait_publish && tw__node_pending(n) > 0) {
        n->wait_publish = 1;
        n->publish_due_ns = now + (int64_t)n->publish_interval_ms * 1000000;
    }
    int due = n->wait_publish && now >= n->publish_due_ns;
    tw_status st = TW_OK;
    if (io || due) {
        st = tw__uplink_process(n); /* also publishes what is pending */
        if (due) n->wait_publish = 0;
    }
    check_reachability(n);
    tw__uplink_sync_stats(n);
    if (now >= n->next_stats_ns) {
        log_stats(n);
        n->next_stats_ns = now + (int64_t)n->stats_interval_ms * 1000000;
    }
    if (st) tw__err(&n->err, MOD, st, "uplink: %s", tw_edge_last_error(n->edge));
    return st;
}

static tw_status node_wait_and_work(tw_node *n, int timeout_ms)
{
    int w = node_wait_ms(n);
    if (timeout_ms >= 0 && timeout_ms < w) w = timeout_ms;
    int ut = tw__uplink_timeout_ms(n);
    int64_t t0 = tw__mono_ns();
    struct pollfd pf[4];
    int fds[3];
    unsigned ev[3];
    int k = tw__uplink_fds(n, fds, ev, 3);
    int np = 0;
    for (int i = 0; i < k; i++) {
        pf[np].fd = fds[i];
        pf[np].events = (short)(((ev[i] & TW_POLL_IN) ? POLLIN : 0) | ((ev[i] & TW_POLL_OUT) ? POLLOUT : 0));
        pf[np].revents = 0;
        np++;
    }
    int wi = np;
    pf[np].fd = n->wake_fd;
    pf[np].events = POLLIN;
    pf[np].revents = 0;
    np++;
    int r = poll(pf, (nfds_t)np, w > 0 ? w : 0);
    if (r < 0 && errno != EINTR) return tw__err(&n->err, MOD, TW_ERR_IO, "poll: %s", strerror(errno));
    int io = 0;
    for (int i = 0; i < wi; i++)
        if (pf[i].revents) io = 1;
    if (ut >= 0 && (tw__mono_ns() - t0) / 1000000 >= ut) io = 1;
    return node_work(n, r > 0 && pf[wi].revents != 0, io);
}

tw_status tw_node_step(tw_node *n, int timeout_ms)
{
    if (!n) return TW_ERR_INVALID_ARG;
    if (n->mode == NODE_THREADED)
        return tw__err(&n->err, MOD, TW_ERR_NODE_STATE, "the node runs on its own thread");
    if (n->mode == NODE_SETUP) {
        tw_status st = node_begin(n);
        if (st) return st;
        if (n->poll_mode == TW_NODE_POLL_THREADS && (st = start_poll_threads(n))) return st;
        n->mode = NODE_STEPPING;
    }
    return node_wait_and_work(n, timeout_ms);
}

int tw_node_fds(tw_node *n, int *fds, unsigned *events, int max)
{
    if (!n || !fds || !events || max <= 0) return 0;
    int k = tw__uplink_fds(n, fds, events, max);
    if (k < max) {
        fds[k] = n->wake_fd;
        events[k] = TW_POLL_IN;
        k++;
    }
    return k;
}

int tw_node_timeout_ms(tw_node *n) { return n ? node_wait_ms(n) : -1; }

void tw_node_wakeup(tw_node *n)
{
    if (n) wake(n->wake_fd);
}

static void *node_thread(void *arg)
{
    tw_node *n = arg;
    while (!atomic_load(&n->stop_req)) node_wait_and_work(n, -1);
    return NULL;
}

tw_status tw_node_start(tw_node *n)
{
    if (!n) return TW_ERR_INVALID_ARG;
    if (n->mode != NODE_SETUP)
        return tw__err(&n->err, MOD, TW_ERR_NODE_STATE,
                       n->mode == NODE_THREADED ? "the node is already started" : "the node is stepped by its caller");
    tw_status st = node_begin(n);
    if (st) return st;
    if (n->poll_mode != TW_NODE_POLL_INLINE && (st = start_poll_threads(n))) return st;
    atomic_store(&n->stop_req, 0);
    n->mode = NODE_THREADED;
    if (pthread_create(&n->thread, NULL, node_thread, n)) {
        n->mode = NODE_SETUP;
        stop_poll_threads(n);
        return tw__err(&n->err, MOD, TW_ERR_IO, "cannot start the node thread");
    }
    return TW_OK;
}

tw_status tw_node_stop(tw_node *n)
{
    if (!n) return TW_ERR_INVALID_ARG;
    if (n->mode != NODE_THREADED) return tw__err(&n->err, MOD, TW_ERR_NODE_STATE, "the node is not started");
    atomic_store(&n->stop_req, 1);
    wake(n->wake_fd);
    pthread_join(n->thread, NULL);
    stop_poll_threads(n);
    tw_status st = tw__uplink_shutdown(n, (int)n->shutdown_timeout_ms);
    tw__renew_stop(n);
    n->mode = NODE_SETUP;
    return st;
}

tw_status tw_node_shutdown(tw_node *n)
{
    if (!n) return TW_ERR_INVALID_ARG;
    if (n->mode == NODE_THREADED) return tw__err(&n->err, MOD, TW_ERR_NODE_STATE, "use tw_node_stop()");
    stop_poll_threads(n);
    tw_status st = tw__uplink_shutdown(n, (int)n->shutdown_timeout_ms);
    tw__renew_stop(n);
    if (n->mode == NODE_STEPPING) n->mode = NODE_SETUP;
    return st;
}

tw_status tw_node_flush(tw_node *n, int timeout_ms)
{
    if (!n) return TW_ERR_INVALID_ARG;
    if (n->mode == NODE_THREADED) return tw__err(&n->err, MOD, TW_ERR_NODE_STATE, "the node runs on its own thread");
    if (n->mode == NODE_SETUP) {
        tw_status st = tw_node_step(n, 0);
        if (st && n->mode == NODE_SETUP) return st;
    }
    int64_t end = tw__mono_ms() + timeout_ms;
    for (;;) {
        n->wait_publish = 0;
        tw__uplink_process(n);
        tw__uplink_sync_stats(n);
        if (tw__uplink_online(n) && tw__node_pending(n) == 0 && atomic_load(&n->queue_depth) == 0)
            return TW_OK;
        int64_t left = end - tw__mono_ms();
        if (left <= 0) return TW_ERR_TIMEOUT;
        node_wait_and_work(n, (int)TW__MIN(left, 20));
    }
}
