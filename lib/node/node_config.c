/* tw_node_new_from_config: every field of a loaded tw_config mapped onto the node API.
 * SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <float.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "node_internal.h"
#include "tagwire/enroll.h"

#define MOD NODE_MOD

/* Records "node: <source>: <JSON path>: <problem>" for tw_last_error(). */
static tw_status cfg_err(tw_status st, const tw_config *cfg, const char *path, const char *problem)
{
    return tw__err(NULL, MOD, st, "%s: %s: %s", tw_config_source(cfg), path, problem);
}

static tw_status build_tls(tw_tls_config **out, const tw_config *cfg)
{
    tw_tls_config *t = NULL;
    tw_status st = tw_tls_config_new(&t);
    if (st) return cfg_err(st, cfg, "$.uplink.tls", tw__err_detail(st));
    char msg[700];
    const char *f;
    if ((f = tw_config_tls_ca_file(cfg)) && (st = tw_tls_config_set_ca_file(t, f))) {
        snprintf(msg, sizeof msg, "CA file '%s': %s", f, tw_tls_config_last_error(t));
        tw_tls_config_free(t);
        return cfg_err(st, cfg, "$.uplink.tls.ca", msg);
    }
    if (tw_config_tls_cert_file(cfg) &&
        (st = tw_tls_config_set_credentials_file(t, tw_config_tls_cert_file(cfg), tw_config_tls_key_file(cfg), NULL))) {
        snprintf(msg, sizeof msg, "certificate '%s' / key '%s': %s", tw_config_tls_cert_file(cfg),
                 tw_config_tls_key_file(cfg), tw_tls_config_last_error(t));
        tw_tls_config_free(t);
        return cfg_err(st, cfg, "$.uplink.tls.cert", msg);
    }
    if ((f = tw_config_tls_crl_file(cfg)) && (st = tw_tls_config_set_crl_file(t, f))) {
        snprintf(msg, sizeof msg, "CRL file '%s': %s", f, tw_tls_config_last_error(t));
        tw_tls_config_free(t);
        return cfg_err(st, cfg, "$.uplink.tls.crl", msg);
    }
    if ((f = tw_config_tls_server_name(cfg)) && (st = tw_tls_config_set_server_name(t, f))) {
        snprintf(msg, sizeof msg, "%s", tw_tls_config_last_error(t));
        tw_tls_config_free(t);
        return cfg_err(st, cfg, "$.uplink.tls.server_name", msg);
    }
    for (size_t i = 0; i < tw_config_tls_pin_count(cfg); i++) {
        if ((st = tw_tls_config_add_pin(t, tw_config_tls_pin(cfg, i)))) {
            char path[64];
            snprintf(path, sizeof path, "$.uplink.tls.pins[%zu]", i);
            snprintf(msg, sizeof msg, "%s", tw_tls_config_last_error(t));
            tw_tls_config_free(t);
            return cfg_err(st, cfg, path, msg);
        }
    }
    *out = t;
    return TW_OK;
}

static void tag_options(tw_tag_options *to, const tw_config_tag *ct)
{
    tw_tag_options d = TW_TAG_OPTIONS_INIT;
    *to = d;
    to->unit = tw_config_tag_unit(ct);
    to->description = tw_config_tag_description(ct);
    double mn = 0, mx = 0;
    int has_min = tw_config_tag_min(ct, &mn), has_max = tw_config_tag_max(ct, &mx);
    if (has_min || has_max) {
        /* the tag model wants both bounds: an open side becomes the widest double */
        to->min = has_min ? mn : -DBL_MAX;
        to->max = has_max ? mx : DBL_MAX;
    }
    double rmin, rmax, emin, emax;
    if (tw_config_tag_scaling(ct, &rmin, &rmax, &emin, &emax)) {
        to->scale = (emax - emin) / (rmax - rmin);
        to->offset = emin - rmin * to->scale;
        if (to->scale == 1.0 && to->offset == 0.0) to->scale = 0; /* identity: no scaling */
    }
    to->deadband_mode = tw_config_tag_deadband(ct, &to->deadband);
    to->access = tw_config_tag_access(ct);
}

static int mkdir_p(const char *dir)
{
    char tmp[4096];
    if (tw__strlcpy(tmp, dir, sizeof tmp) >= sizeof tmp) return -1;
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0700) && errno != EEXIST) return -1;
        *p = '/';
    }
    if (mkdir(tmp, 0700) && errno != EEXIST) return -1;
    return 0;
}

tw_status tw_node_new_from_config(tw_node **out, const tw_config *cfg)
{
    if (!out) return TW_ERR_INVALID_ARG;
    *out = NULL;
    tw_status st = tw__check_init();
    if (st) return st;
    if (!cfg || !tw_config_is_loaded(cfg))
        return tw__err(NULL, MOD, TW_ERR_INVALID_ARG, "the configuration is not loaded");
    tw_node_options o = TW_NODE_OPTIONS_INIT;
    tw_store_options so = TW_STORE_OPTIONS_INIT;
    o.group_id = tw_config_group_id(cfg);
    o.edge_node_id = tw_config_edge_node_id(cfg);
    o.primary_host_id = tw_config_primary_host_id(cfg);
    o.broker = tw_config_broker_uri(cfg);
    o.client_id = tw_config_client_id(cfg);
    o.keep_alive_s = tw_config_keep_alive_s(cfg);
    o.insecure = tw_config_insecure(cfg);
    tw_tls_config *tls = NULL;
    if (!o.insecure) {
        if ((st = build_tls(&tls, cfg))) return st;
        o.tls = tls;
    }
    if (tw_config_has_store(cfg)) {
        /* store-and-forward on disk: data and the session state (bdSeq) in one directory */
        const char *dir = tw_config_store_dir(cfg);
        if (mkdir_p(dir)) {
            char msg[600];
            snprintf(msg, sizeof msg, "cannot create directory '%s': %s", dir, strerror(errno));
            tw_tls_config_free(tls);
            return cfg_err(TW_ERR_IO, cfg, "$.store.dir", msg);
        }
        o.store_dir = dir;
        so.max_bytes = tw_config_store_max_bytes(cfg);
        so.max_age_ms = tw_config_store_max_age_s(cfg) * 1000u;
        so.sync = tw_config_store_fsync(cfg);
        so.sync_interval_ms = tw_config_store_fsync_interval_ms(cfg); /* 0 unless BATCH */
        so.overflow = tw_config_store_overflow(cfg);
        o.store_options = &so;
    }
    tw_enroll_options eo = TW_ENROLL_OPTIONS_INIT;
    if (tw_config_has_enroll(cfg)) {
        /* certificate renewal: the identity comes from the enrolled certificate */
        eo.server_url = tw_config_enroll_est_url(cfg);
        eo.server_ca_file = tw_config_enroll_server_ca_file(cfg);
        eo.credentials_dir = tw_config_enroll_credentials_dir(cfg);
        eo.renew_fraction = tw_config_enroll_renew_fraction(cfg);
        eo.backoff_cap_ms = tw_config_enroll_retry_max_s(cfg) * 1000u;
        o.enroll = &eo;
    }
    tw_node *n = NULL;
    char why[512] = "";
    st = tw__node_new(&n, &o, why, sizeof why);
    tw_tls_config_free(tls); /* the node holds its own reference */
    if (st) return cfg_err(st, cfg, o.enroll && strstr(why, "enroll") == why ? "$.enroll" : "$.uplink", why);

    for (size_t i = 0; i < tw_config_device_count(cfg); i++) {
        const tw_config_device *cd = tw_config_device_at(cfg, i);
        char path[256];
        tw_node_device_options dopts = TW_NODE_DEVICE_OPTIONS_INIT;
        dopts.adapter_uri = tw_config_device_adapter(cd);
        tw_node_device *dev = NULL;
        st = tw__node_add_device(n, &dev, tw_config_device_id(cd), &dopts, why, sizeof why);
        if (st) {
            snprintf(path, sizeof path, "%s%s", tw_config_device_path(cd), dopts.adapter_uri ? ".adapter" : ".id");
            cfg_err(st, cfg, path, why);
            tw_node_free(n);
            return st;
        }
        for (size_t j = 0; j < tw_config_device_tag_count(cd); j++) {
            const tw_config_tag *ct = tw_config_device_tag_at(cd, j);
            tw_tag_options to;
            tag_options(&to, ct);
            const char *addr = tw_config_tag_address(ct);
            st = tw_node_device_add_tag(dev, NULL, tw_config_tag_name(ct), tw_config_tag_type(ct), &to, addr,
                                        tw_config_tag_scan_rate_ms(ct));
            if (st) {
                int addr_err = st == TW_ERR_ADDRESS || st == TW_ERR_UNSUPPORTED;
                snprintf(path, sizeof path, "%s%s", tw_config_tag_path(ct), addr_err ? ".address" : "");
                char msg[700];
                const char *m = tw_node_last_error(n);
                /* the node's message starts with "tag 'NAME': "; the path already says which tag */
                const char *c = strstr(m, "': ");
                snprintf(msg, sizeof msg, "%s", c ? c + 3 : m);
                cfg_err(st, cfg, path, msg);
                tw_node_free(n);
                return st;
            }
        }
    }
    *out = n;
    return TW_OK;
}
