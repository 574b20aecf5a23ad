/* Private structures of the node module. SPDX-License-Identifier: Apache-2.0 */
#ifndef TW_NODE_INTERNAL_H
#define TW_NODE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>

#include "internal.h"
#include "tagwire/node.h"

#define NODE_MOD "node"

/* lib/tls: takes a reference on a TLS config (dropped with tw_tls_config_free). */
tw_tls_config *tw__tls_config_ref(tw_tls_config *c);

/* One adapter-bound tag. */
typedef struct node_binding {
    tw_tag *tag;
    uint32_t item;
    uint32_t rate_ms;   /* 0: not polled (write-only) */
    tw_type item_type;
    int scaled;
    struct tw_node_device *dev;
} node_binding;

/* One poll group: the tags of one device polled at one rate (same order as the item ids). */
typedef struct node_group {
    struct tw_node_device *dev;
    uint32_t rate_ms;
    tw_tag **tags;
    node_binding **binds;
    uint32_t *ids;
    size_t n, cap;
} node_group;

struct tw_node_device {
    tw_node *node;
    char *id;
    tw_tagset *ts;
    tw_device *dev;           /* NULL: pushed device */
    pthread_mutex_t lock;     /* held around every read/write of dev */
    node_binding **binds;
    size_t nbinds, capbinds;
    node_group *groups;
    size_t ngroups;
    tw_poller *poller;
    pthread_t thread;
    int thread_running;
    /* reachability: set by the polling thread when a whole poll cycle answered
     * TW_QUALITY_BAD_NOT_CONNECTED (the device cannot be reached), cleared by any other answer;
     * the driving thread turns changes into DDEATH / DBIRTH */
    atomic_int unreachable;
    int reported_offline;     /* driving thread: what the edge session was told */
    /* statistics (poll thread writes, anyone reads) */
    _Atomic uint64_t polls, poll_errors;
    pthread_mutex_t stats_lock;  /* guards `dstats`, a copy refreshed after every poll cycle and
                                    write, so that readers never wait for a device */
    tw_device_stats dstats;
};


enum { NODE_SETUP = 0, NODE_STEPPING = 1, NODE_THREADED = 2 };

struct tw_node {
    tw__error err;
    char *group_id, *edge_node_id, *client_id, *primary_host_id;
    char *host;
    uint16_t port;
    int insecure;
    uint32_t keep_alive_s;
    tw_tls_config *tls;
    int qos0, protocol_version;
    size_t queue_bytes;
    char *state_dir;
    tw_store *store;           /* store_dir: the disk store handed to the edge session */
    size_t store_value_max;    /* longest STRING/BYTES value a store record holds (SIZE_MAX: no store) */
    uint32_t publish_interval_ms, max_metrics, shutdown_timeout_ms, stats_interval_ms;
    tw_node_poll_mode poll_mode;

    tw_tagset *ts;             /* node-level metrics */
    tw_node_device **devs;
    size_t ndevs, capdevs;

    int mode;                  /* NODE_SETUP / STEPPING / THREADED */
    int frozen;                /* pollers built */
    int poll_threads;          /* poll threads running */
    int wake_fd;               /* eventfd: wakes the driving thread */
    int stop_fd;               /* eventfd: written once to stop poll threads */
    pthread_t thread;
    atomic_int stop_req;

    int64_t publish_due_ns;    /* 0: no change pending (tag set descriptors armed) */
    int64_t next_stats_ns;
    int64_t started_ns;

    tw_edge *edge;
    int edge_started;
    int edge_registered;       /* node tags and devices registered with the edge */
    int wait_publish;          /* a tag change is waiting for publish_due_ns */

    /* statistics (mirrored from the edge session by the driving thread) */
    _Atomic int link;
    _Atomic uint64_t connects, disconnects, messages, births, metrics, historical, commands,
        commands_failed, refused, queue_depth, queue_dropped, unflushed, device_writes,
        device_write_errors, bd_seq, devices_offline, store_records, store_bytes, store_dropped,
        store_refused, store_acked_seq, store_last_seq;
    _Atomic int64_t store_oldest_ms;

    /* certificate renewal (node_renew.c); renew == NULL without options.enroll */
    struct node_renew *renew;
    _Atomic int64_t cert_not_after, cert_renew_at;
    _Atomic uint64_t cert_renewals, cert_renew_failures, cert_rollbacks;
    atomic_int cert_last_error;
};

/* ---- node.c ---- */
/* Number of changes waiting in every tag set. */
size_t tw__node_pending(const tw_node *n);
/* tw_node_new() / tw_node_add_device() that also copy the message (without the "node: " prefix)
 * into err (may be NULL), for tw_node_new_from_config(), which prefixes the configuration path. */
tw_status tw__node_new(tw_node **out, const tw_node_options *o, char *err, size_t errlen);
tw_status tw__node_add_device(tw_node *n, tw_node_device **out, const char *id,
                              const tw_node_device_options *o, char *err, size_t errlen);

/* ---- uplink (node_uplink.c): the Sparkplug edge session ---- */
tw_status tw__uplink_new(tw_node *n);
void tw__uplink_free(tw_node *n);
/* Registers the devices and starts the session (first connect attempt). */
tw_status tw__uplink_start(tw_node *n);
/* Descriptors of the uplink (0 or 1). */
int tw__uplink_fds(tw_node *n, int *fds, unsigned *events, int max);
/* ms until the uplink needs attention (-1 none). */
int tw__uplink_timeout_ms(tw_node *n);
/* Non-blocking progress: MQTT I/O, births, commands, and publishing pending changes. */
tw_status tw__uplink_process(tw_node *n);
/* Non-zero when connected and born. */
int tw__uplink_online(tw_node *n);
/* Publishes pending changes now. */
tw_status tw__uplink_publish(tw_node *n);
/* Publish, NDEATH, disconnect within timeout_ms. Sets n->unflushed. */
tw_status tw__uplink_shutdown(tw_node *n, int timeout_ms);
/* Mirrors the session's statistics into the node's atomics. */
void tw__uplink_sync_stats(tw_node *n);
/* Tells the session that a device went offline (DDEATH) or came back (DBIRTH). */
tw_status tw__uplink_device_online(tw_node *n, tw_node_device *d, int online);

/* ---- certificate renewal (node_renew.c) ---- */
/* Sets up renewal from o->enroll (when set): loads the credential directory's current (or
 * pending) key and chain into n->tls, creates the tw_enroll object. Called by tw_node_new() after
 * n->tls exists. */
tw_status tw__renew_new(tw_node *n, const tw_node_options *o);
void tw__renew_free(tw_node *n);
/* Starts / stops the renewal thread (idempotent). */
tw_status tw__renew_start(tw_node *n);
void tw__renew_stop(tw_node *n);
/* Driving thread, every round: a renewed credential waiting for the uplink -> reconnect. */
void tw__renew_poll(tw_node *n);
/* Driving thread (edge event callback): the session state changed (status = reason). */
void tw__renew_on_state(tw_node *n, tw_edge_state state, tw_status status);

#endif
