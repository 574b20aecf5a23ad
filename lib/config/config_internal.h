/*
 * Private declarations of the config module: the loaded representation and the arena it lives in.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TW_CONFIG_INTERNAL_H
#define TW_CONFIG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "tagwire/config.h"

/* Error messages: file name + JSON path + problem. Longer than tw__error's buffer on purpose. */
#define TW__CFG_ERR_MAX 1024

/* Every allocation of a loaded config comes from one arena, released at once. */
typedef struct tw__cfg_chunk {
    struct tw__cfg_chunk *next;
    size_t used, cap;
    max_align_t data[]; /* cap bytes */
} tw__cfg_chunk;

typedef struct tw__cfg_arena {
    tw__cfg_chunk *head;
} tw__cfg_arena;

void *tw__cfg_alloc(tw__cfg_arena *a, size_t size); /* zeroed; NULL on overflow / NOMEM */
char *tw__cfg_strndup(tw__cfg_arena *a, const char *s, size_t n);
void tw__cfg_arena_free(tw__cfg_arena *a);

/* Open-addressing index of names (tag names, device ids): slots hold index + 1, 0 is empty. */
typedef struct tw__cfg_index {
    uint32_t *slots;
    size_t mask; /* capacity - 1 (capacity is a power of two) */
} tw__cfg_index;

struct tw_config_tag {
    const tw_config_device *device;
    const char *name;
    const char *path;
    const char *address;
    const char *unit;
    const char *description;
    const char *scan_group;
    uint32_t scan_rate_ms;
    tw_type type;
    tw_access access;
    tw_deadband_mode deadband_mode;
    double deadband;
    int has_scaling;
    double raw_min, raw_max, eng_min, eng_max;
    int has_min, has_max;
    double min, max;
};

struct tw_config_device {
    const char *id;
    const char *path;
    const char *adapter;
    const char *scheme;
    size_t n_groups;
    const char **group_names;
    uint32_t *group_rates;
    size_t n_tags;
    tw_config_tag *tags;
    tw__cfg_index tag_index;
};

struct tw_config {
    tw__cfg_arena arena;
    int loaded;
    tw_status err_code;
    char err[TW__CFG_ERR_MAX];
    const char *source;

    const char *group_id, *edge_node_id, *primary_host_id;

    const char *broker_uri, *broker_host;
    uint16_t broker_port;
    int insecure;
    const char *client_id;
    uint32_t keep_alive_s;
    const char *tls_ca, *tls_cert, *tls_key, *tls_crl, *tls_server_name;
    size_t n_pins;
    const char **pins;

    int has_store;
    const char *store_dir;
    uint64_t store_max_bytes, store_max_age_s;
    tw_store_sync_policy store_fsync;
    uint32_t store_fsync_interval_ms;
    tw_store_overflow store_overflow;

    int has_enroll;
    const char *enroll_url, *enroll_ca, *enroll_dir;
    double enroll_fraction;
    uint32_t enroll_retry_max_s;

    size_t n_devices;
    tw_config_device *devices;
    tw__cfg_index device_index;
};

/* Parses and validates `len` bytes into cfg (which must be empty); on failure cfg->err holds the
 * message and the arena still holds partial allocations (the caller releases them). */
tw_status tw__cfg_parse(tw_config *cfg, const char *json, size_t len, const char *name,
                        const char *base_dir);

/* Index helpers. */
uint64_t tw__cfg_hash(const char *s);
tw_status tw__cfg_index_init(tw__cfg_arena *a, tw__cfg_index *ix, size_t count);
/* Lookup: `name_of(ctx, i)` gives the name of entry i. Returns the entry index or SIZE_MAX. */
size_t tw__cfg_index_find(const tw__cfg_index *ix, const char *name,
                          const char *(*name_of)(const void *ctx, size_t i), const void *ctx);
/* Inserts entry i unless an entry of the same name exists: returns that entry's index, or
 * SIZE_MAX when i was inserted. */
size_t tw__cfg_index_insert(tw__cfg_index *ix, size_t i,
                            const char *(*name_of)(const void *ctx, size_t i), const void *ctx);

#endif /* TW_CONFIG_INTERNAL_H */
