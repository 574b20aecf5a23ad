/*
 * Configuration: life cycle, file reading, the arena, the name index and the accessors.
 * The JSON walk and the validation rules are in parse.c.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "config_internal.h"

/* ---- arena --------------------------------------------------------------------------------- */

#define TW__CFG_CHUNK_MIN 8192u

/* `align` is a power of two no larger than _Alignof(max_align_t). */
static void *arena_alloc(tw__cfg_arena *a, size_t size, size_t align)
{
    if (size == 0) size = 1;
    if (size > SIZE_MAX / 2) return NULL;
    tw__cfg_chunk *c = a->head;
    size_t at = c ? (c->used + align - 1) & ~(align - 1) : 0;
    if (!c || at > c->cap || c->cap - at < size) {
        size_t cap = size > TW__CFG_CHUNK_MIN ? size : TW__CFG_CHUNK_MIN;
        tw__cfg_chunk *n = tw__malloc(sizeof(tw__cfg_chunk) + cap);
        if (!n) return NULL;
        n->used = 0;
        n->cap = cap;
        /* a big allocation gets its own chunk behind the current one, so that the current
         * chunk's free space stays usable */
        if (c && cap == size) {
            n->next = c->next;
            c->next = n;
        } else {
            n->next = c;
            a->head = n;
        }
        c = n;
        at = 0;
    }
    void *p = (char *)c->data + at;
    c->used = at + size;
    memset(p, 0, size);
    return p;
}

void *tw__cfg_alloc(tw__cfg_arena *a, size_t size)
{
    return arena_alloc(a, size, _Alignof(max_align_t));
}

char *tw__cfg_strndup(tw__cfg_arena *a, const char *s, size_t n)
{
    if (n == SIZE_MAX) return NULL;
    char *d = arena_alloc(a, n + 1, 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

void tw__cfg_arena_free(tw__cfg_arena *a)
{
    tw__cfg_chunk *c = a->head;
    while (c) {
        tw__cfg_chunk *n = c->next;
        tw__free(c);
        c = n;
    }
    a->head = NULL;
}

/* ---- name index ---------------------------------------------------------------------------- */

uint64_t tw__cfg_hash(const char *s)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

tw_status tw__cfg_index_init(tw__cfg_arena *a, tw__cfg_index *ix, size_t count)
{
    size_t cap = 8;
    while (cap < count * 2) {
        if (cap > SIZE_MAX / 4 || cap >= UINT32_MAX / 2) return TW_ERR_NOMEM;
        cap *= 2;
    }
    ix->slots = tw__cfg_alloc(a, cap * sizeof(uint32_t));
    if (!ix->slots) return TW_ERR_NOMEM;
    ix->mask = cap - 1;
    return TW_OK;
}

size_t tw__cfg_index_find(const tw__cfg_index *ix, const char *name,
                          const char *(*name_of)(const void *ctx, size_t i), const void *ctx)
{
    if (!ix->slots || !name) return SIZE_MAX;
    for (size_t k = (size_t)tw__cfg_hash(name) & ix->mask;; k = (k + 1) & ix->mask) {
        uint32_t s = ix->slots[k];
        if (s == 0) return SIZE_MAX;
        if (!strcmp(name_of(ctx, s - 1u), name)) return s - 1u;
    }
}

size_t tw__cfg_index_insert(tw__cfg_index *ix, size_t i,
                            const char *(*name_of)(const void *ctx, size_t i), const void *ctx)
{
    const char *name = name_of(ctx, i);
    for (size_t k = (size_t)tw__cfg_hash(name) & ix->mask;; k = (k + 1) & ix->mask) {
        uint32_t s = ix->slots[k];
        if (s == 0) {
            ix->slots[k] = (uint32_t)i + 1u;
            return SIZE_MAX;
        }
        if (!strcmp(name_of(ctx, s - 1u), name)) return s - 1u;
    }
}

/* ---- life cycle ---------------------------------------------------------------------------- */

tw_status tw_config_new(tw_config **out)
{
    if (!out) return TW_ERR_INVALID_ARG;
    *out = NULL;
    tw_status st = tw__check_init();
    if (st != TW_OK) return st;
    tw_config *c = tw__calloc(1, sizeof *c);
    if (!c) return tw__err(NULL, "config", TW_ERR_NOMEM, "out of memory");
    *out = c;
    return TW_OK;
}

void tw_config_free(tw_config *cfg)
{
    if (!cfg) return;
    tw__cfg_arena_free(&cfg->arena);
    tw__free(cfg);
}

static void reset(tw_config *cfg)
{
    tw__cfg_arena_free(&cfg->arena);
    tw__cfg_arena keep = cfg->arena;
    memset(cfg, 0, sizeof *cfg);
    cfg->arena = keep;
}

static tw_status fail(tw_config *cfg, tw_status st, const char *name, const char *what,
                      const char *detail)
{
    reset(cfg);
    cfg->err_code = st;
    snprintf(cfg->err, sizeof cfg->err, "%s: %s%s%s", name, what, detail ? ": " : "",
             detail ? detail : "");
    return tw__err(NULL, "config", st, "%s", cfg->err); /* for tw_last_error() too */
}

tw_status tw_config_load_string(tw_config *cfg, const char *json, size_t len, const char *name,
                                const char *base_dir)
{
    if (!cfg) return TW_ERR_INVALID_ARG;
    if (cfg->loaded) return TW_ERR_BUSY;
    if (!name) name = "<string>";
    if (!json) return fail(cfg, TW_ERR_INVALID_ARG, name, "no JSON text given", NULL);
    reset(cfg);
    tw_status st = tw__cfg_parse(cfg, json, len, name, base_dir);
    if (st != TW_OK) {
        /* keep the message, drop everything else */
        char msg[TW__CFG_ERR_MAX];
        memcpy(msg, cfg->err, sizeof msg);
        reset(cfg);
        cfg->err_code = st;
        memcpy(cfg->err, msg, sizeof msg);
        return tw__err(NULL, "config", st, "%s", cfg->err); /* for tw_last_error() too */
    }
    cfg->loaded = 1;
    tw__log(TW_LOG_DEBUG, "config", "%s: loaded %zu device(s)", cfg->source, cfg->n_devices);
    return TW_OK;
}

tw_status tw_config_load_file(tw_config *cfg, const char *path)
{
    if (!cfg) return TW_ERR_INVALID_ARG;
    if (cfg->loaded) return TW_ERR_BUSY;
    if (!path || !*path) return fail(cfg, TW_ERR_INVALID_ARG, "<file>", "no file name given", NULL);

    FILE *f = fopen(path, "rb");
    if (!f) {
        int e = errno;
        char eb[128];
        if (strerror_r(e, eb, sizeof eb) != 0) snprintf(eb, sizeof eb, "error %d", e);
        return fail(cfg, tw__status_from_errno(e), path, "cannot open", eb);
    }
    size_t cap = 64 * 1024, len = 0;
    char *buf = tw__malloc(cap);
    if (!buf) {
        fclose(f);
        return fail(cfg, TW_ERR_NOMEM, path, "out of memory", NULL);
    }
    tw_status st = TW_OK;
    for (;;) {
        if (len == cap) {
            /* read at most one byte more than the limit: enough to know it is exceeded */
            if (cap > TW_CONFIG_MAX_FILE_BYTES) {
                st = TW_ERR_RANGE;
                break;
            }
            size_t ncap = TW__MIN(cap * 2, (size_t)TW_CONFIG_MAX_FILE_BYTES + 1u);
            char *nb = tw__realloc(buf, ncap);
            if (!nb) {
                st = TW_ERR_NOMEM;
                break;
            }
            buf = nb;
            cap = ncap;
        }
        size_t n = fread(buf + len, 1, cap - len, f);
        len += n;
        if (n == 0) {
            if (ferror(f)) {
                int e = errno;
                char eb[128];
                if (strerror_r(e, eb, sizeof eb) != 0) snprintf(eb, sizeof eb, "error %d", e);
                fclose(f);
                tw__free(buf);
                return fail(cfg, e ? tw__status_from_errno(e) : TW_ERR_IO, path, "cannot read", eb);
            }
            break;
        }
    }
    fclose(f);
    if (st == TW_OK && len > TW_CONFIG_MAX_FILE_BYTES) st = TW_ERR_RANGE;
    if (st != TW_OK) {
        tw__free(buf);
        if (st == TW_ERR_NOMEM) return fail(cfg, st, path, "out of memory", NULL);
        char lim[96];
        snprintf(lim, sizeof lim, "larger than %u bytes", (unsigned)TW_CONFIG_MAX_FILE_BYTES);
        return fail(cfg, st, path, "file too large", lim);
    }

    /* relative paths in the file are relative to the file's directory */
    const char *slash = strrchr(path, '/');
    char *base = NULL;
    if (slash) {
        base = tw__strndup(path, slash == path ? 1 : (size_t)(slash - path));
        if (!base) {
            tw__free(buf);
            return fail(cfg, TW_ERR_NOMEM, path, "out of memory", NULL);
        }
    }
    st = tw_config_load_string(cfg, buf, len, path, base);
    tw__free(base);
    tw__free(buf);
    return st;
}

const char *tw_config_last_error(const tw_config *cfg) { return cfg ? cfg->err : ""; }
tw_status tw_config_last_status(const tw_config *cfg) { return cfg ? cfg->err_code : TW_ERR_INVALID_ARG; }
int tw_config_is_loaded(const tw_config *cfg) { return cfg && cfg->loaded; }

/* ---- accessors ----------------------------------------------------------------------------- */

#define LOADED(c) ((c) && (c)->loaded)

const char *tw_config_source(const tw_config *c) { return LOADED(c) ? c->source : NULL; }
const char *tw_config_group_id(const tw_config *c) { return LOADED(c) ? c->group_id : NULL; }
const char *tw_config_edge_node_id(const tw_config *c) { return LOADED(c) ? c->edge_node_id : NULL; }
const char *tw_config_primary_host_id(const tw_config *c) { return LOADED(c) ? c->primary_host_id : NULL; }

const char *tw_config_broker_uri(const tw_config *c) { return LOADED(c) ? c->broker_uri : NULL; }
const char *tw_config_broker_host(const tw_config *c) { return LOADED(c) ? c->broker_host : NULL; }
uint16_t tw_config_broker_port(const tw_config *c) { return LOADED(c) ? c->broker_port : 0; }
int tw_config_insecure(const tw_config *c) { return LOADED(c) ? c->insecure : 0; }
const char *tw_config_client_id(const tw_config *c) { return LOADED(c) ? c->client_id : NULL; }
uint32_t tw_config_keep_alive_s(const tw_config *c) { return LOADED(c) ? c->keep_alive_s : 0; }
const char *tw_config_tls_ca_file(const tw_config *c) { return LOADED(c) ? c->tls_ca : NULL; }
const char *tw_config_tls_cert_file(const tw_config *c) { return LOADED(c) ? c->tls_cert : NULL; }
const char *tw_config_tls_key_file(const tw_config *c) { return LOADED(c) ? c->tls_key : NULL; }
const char *tw_config_tls_crl_file(const tw_config *c) { return LOADED(c) ? c->tls_crl : NULL; }
const char *tw_config_tls_server_name(const tw_config *c) { return LOADED(c) ? c->tls_server_name : NULL; }
size_t tw_config_tls_pin_count(const tw_config *c) { return LOADED(c) ? c->n_pins : 0; }

const char *tw_config_tls_pin(const tw_config *c, size_t index)
{
    return LOADED(c) && index < c->n_pins ? c->pins[index] : NULL;
}

int tw_config_has_store(const tw_config *c) { return LOADED(c) ? c->has_store : 0; }

int tw_config_has_enroll(const tw_config *c) { return LOADED(c) ? c->has_enroll : 0; }
const char *tw_config_enroll_est_url(const tw_config *c) { return LOADED(c) && c->has_enroll ? c->enroll_url : NULL; }
const char *tw_config_enroll_server_ca_file(const tw_config *c) { return LOADED(c) && c->has_enroll ? c->enroll_ca : NULL; }
const char *tw_config_enroll_credentials_dir(const tw_config *c) { return LOADED(c) && c->has_enroll ? c->enroll_dir : NULL; }
double tw_config_enroll_renew_fraction(const tw_config *c) { return LOADED(c) && c->has_enroll ? c->enroll_fraction : 0.0; }
uint32_t tw_config_enroll_retry_max_s(const tw_config *c) { return LOADED(c) && c->has_enroll ? c->enroll_retry_max_s : 0; }
const char *tw_config_store_dir(const tw_config *c) { return LOADED(c) ? c->store_dir : NULL; }
uint64_t tw_config_store_max_bytes(const tw_config *c) { return LOADED(c) ? c->store_max_bytes : 0; }
uint64_t tw_config_store_max_age_s(const tw_config *c) { return LOADED(c) ? c->store_max_age_s : 0; }

tw_store_sync_policy tw_config_store_fsync(const tw_config *c)
{
    return LOADED(c) ? c->store_fsync : (tw_store_sync_policy)0;
}

uint32_t tw_config_store_fsync_interval_ms(const tw_config *c)
{
    return LOADED(c) ? c->store_fsync_interval_ms : 0;
}

tw_store_overflow tw_config_store_overflow(const tw_config *c)
{
    return LOADED(c) ? c->store_overflow : TW_STORE_DROP_OLDEST;
}

size_t tw_config_device_count(const tw_config *c) { return LOADED(c) ? c->n_devices : 0; }

const tw_config_device *tw_config_device_at(const tw_config *c, size_t index)
{
    return LOADED(c) && index < c->n_devices ? &c->devices[index] : NULL;
}

static const char *device_name_of(const void *ctx, size_t i)
{
    return ((const tw_config *)ctx)->devices[i].id;
}

const tw_config_device *tw_config_device_find(const tw_config *c, const char *device_id)
{
    if (!LOADED(c) || !device_id) return NULL;
    size_t i = tw__cfg_index_find(&c->device_index, device_id, device_name_of, c);
    return i == SIZE_MAX ? NULL : &c->devices[i];
}

const char *tw_config_device_id(const tw_config_device *d) { return d ? d->id : NULL; }
const char *tw_config_device_adapter(const tw_config_device *d) { return d ? d->adapter : NULL; }
const char *tw_config_device_scheme(const tw_config_device *d) { return d ? d->scheme : NULL; }
const char *tw_config_device_path(const tw_config_device *d) { return d ? d->path : NULL; }
size_t tw_config_device_scan_group_count(const tw_config_device *d) { return d ? d->n_groups : 0; }

const char *tw_config_device_scan_group_name(const tw_config_device *d, size_t index)
{
    return d && index < d->n_groups ? d->group_names[index] : NULL;
}

uint32_t tw_config_device_scan_group_rate_ms(const tw_config_device *d, size_t index)
{
    return d && index < d->n_groups ? d->group_rates[index] : 0;
}

size_t tw_config_device_tag_count(const tw_config_device *d) { return d ? d->n_tags : 0; }

const tw_config_tag *tw_config_device_tag_at(const tw_config_device *d, size_t index)
{
    return d && index < d->n_tags ? &d->tags[index] : NULL;
}

static const char *tag_name_of(const void *ctx, size_t i)
{
    return ((const tw_config_device *)ctx)->tags[i].name;
}

const tw_config_tag *tw_config_device_tag_find(const tw_config_device *d, const char *name)
{
    if (!d || !name) return NULL;
    size_t i = tw__cfg_index_find(&d->tag_index, name, tag_name_of, d);
    return i == SIZE_MAX ? NULL : &d->tags[i];
}

const tw_config_device *tw_config_tag_device(const tw_config_tag *t) { return t ? t->device : NULL; }
const char *tw_config_tag_name(const tw_config_tag *t) { return t ? t->name : NULL; }
const char *tw_config_tag_path(const tw_config_tag *t) { return t ? t->path : NULL; }
const char *tw_config_tag_address(const tw_config_tag *t) { return t ? t->address : NULL; }
tw_type tw_config_tag_type(const tw_config_tag *t) { return t ? t->type : TW_TYPE_NONE; }
const char *tw_config_tag_scan_group(const tw_config_tag *t) { return t ? t->scan_group : NULL; }
uint32_t tw_config_tag_scan_rate_ms(const tw_config_tag *t) { return t ? t->scan_rate_ms : 0; }
const char *tw_config_tag_unit(const tw_config_tag *t) { return t ? t->unit : NULL; }
const char *tw_config_tag_description(const tw_config_tag *t) { return t ? t->description : NULL; }

tw_access tw_config_tag_access(const tw_config_tag *t)
{
    return t ? t->access : (tw_access)0;
}

tw_deadband_mode tw_config_tag_deadband(const tw_config_tag *t, double *value)
{
    if (value) *value = t ? t->deadband : 0.0;
    return t ? t->deadband_mode : TW_DEADBAND_ABSOLUTE;
}

int tw_config_tag_scaling(const tw_config_tag *t, double *raw_min, double *raw_max,
                          double *eng_min, double *eng_max)
{
    if (!t || !t->has_scaling) return 0;
    if (raw_min) *raw_min = t->raw_min;
    if (raw_max) *raw_max = t->raw_max;
    if (eng_min) *eng_min = t->eng_min;
    if (eng_max) *eng_max = t->eng_max;
    return 1;
}

int tw_config_tag_min(const tw_config_tag *t, double *value)
{
    if (!t || !t->has_min) return 0;
    if (value) *value = t->min;
    return 1;
}

int tw_config_tag_max(const tw_config_tag *t, double *value)
{
    if (!t || !t->has_max) return 0;
    if (value) *value = t->max;
    return 1;
}
