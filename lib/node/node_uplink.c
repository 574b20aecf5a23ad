/* The node's uplink: the Sparkplug edge session of tagwire/edge.h over MQTT (mutual TLS).
 * SPDX-License-Identifier: Apache-2.0 */
#include <string.h>

#include "node_internal.h"

#define MOD NODE_MOD

static void on_event(tw_edge *e, const tw_edge_event *ev, void *ud)
{
    (void)e;
    tw_node *n = ud;
    switch (ev->type) {
    case TW_EDGE_EVENT_STATE:
        tw__renew_on_state(n, ev->state, ev->status);
        tw__log(ev->state == TW_EDGE_ONLINE ? TW_LOG_INFO : TW_LOG_DEBUG, MOD, "%s/%s: uplink %s%s%s",
                n->group_id, n->edge_node_id, tw_edge_state_name(ev->state),
                ev->message && *ev->message ? ": " : "", ev->message ? ev->message : "");
        break;
    case TW_EDGE_EVENT_COMMAND:
        tw__log(ev->status ? TW_LOG_WARN : TW_LOG_DEBUG, MOD, "command %s%s%s: %s", ev->device_id ? ev->device_id : "",
                ev->device_id ? "/" : "", ev->metric ? ev->metric : "(by alias)",
                ev->status ? tw_strerror(ev->status) : "done");
        break;
    case TW_EDGE_EVENT_ERROR:
        tw__log(TW_LOG_WARN, MOD, "uplink: %s", ev->message ? ev->message : tw_strerror(ev->status));
        break;
    default:
        break;
    }
}

tw_status tw__uplink_new(tw_node *n)
{
    tw_edge_options eo = TW_EDGE_OPTIONS_INIT;
    eo.group_id = n->group_id;
    eo.edge_node_id = n->edge_node_id;
    eo.primary_host_id = n->primary_host_id;
    eo.host = n->host;
    eo.port = n->port;
    eo.client_id = n->client_id;
    eo.keep_alive_s = (uint16_t)n->keep_alive_s;
    eo.protocol_version = n->protocol_version;
    eo.qos = n->qos0 ? TW_EDGE_QOS0 : TW_EDGE_QOS1;
    eo.tls = n->insecure ? NULL : n->tls;
    eo.insecure = n->insecure;
    eo.state_dir = n->store ? NULL : n->state_dir;
    eo.store = n->store; /* data and bdSeq in the disk store (store_dir) */
    eo.queue_bytes = n->queue_bytes;
    eo.max_metrics = n->max_metrics;
    tw_status st = tw_edge_new(&n->edge, &eo);
    if (st) return tw__err(&n->err, MOD, st, "Sparkplug session: %s", tw__err_detail(st));
    tw_edge_set_event_cb(n->edge, on_event, n);
    return TW_OK;
}

void tw__uplink_free(tw_node *n)
{
    tw_edge_free(n->edge);
    n->edge = NULL;
    tw_store_free(n->store); /* after the session that uses it */
    n->store = NULL;
}

tw_status tw__uplink_start(tw_node *n)
{
    tw_status st;
    if (n->edge_started) return TW_OK;
    if (n->edge_registered) goto start;
    if (tw_tagset_count(n->ts) > 0 && (st = tw_edge_set_node_tags(n->edge, n->ts)))
        return tw__err(&n->err, MOD, st, "node tags: %s", tw_edge_last_error(n->edge));
    for (size_t i = 0; i < n->ndevs; i++) {
        if ((st = tw_edge_add_device(n->edge, n->devs[i]->id, n->devs[i]->ts)))
            return tw__err(&n->err, MOD, st, "device '%s': %s", n->devs[i]->id, tw_edge_last_error(n->edge));
    }
    n->edge_registered = 1;
start:
    if ((st = tw_edge_start(n->edge))) return tw__err(&n->err, MOD, st, "start: %s", tw_edge_last_error(n->edge));
    n->edge_started = 1;
    return TW_OK;
}

int tw__uplink_fds(tw_node *n, int *fds, unsigned *events, int max)
{
    if (!n->edge_started || max < 1) return 0;
    int fd = tw_edge_fd(n->edge);
    if (fd < 0) return 0;
    fds[0] = fd;
    events[0] = tw_edge_events(n->edge);
    return 1;
}

int tw__uplink_timeout_ms(tw_node *n)
{
    int t = n->edge_started ? tw_edge_timeout_ms(n->edge) : -1;
    if (n->store) { /* the store's group commit and age bound are due then */
        uint32_t next = UINT32_MAX;
        tw_store_poll(n->store, &next);
        if (next != UINT32_MAX && (t < 0 || next < (uint32_t)t)) t = next > 3600000u ? 3600000 : (int)next;
    }
    return t;
}

tw_status tw__uplink_process(tw_node *n)
{
    if (n->store) {
        tw_status sst = tw_store_poll(n->store, NULL);
        if (sst) tw__log(TW_LOG_WARN, MOD, "store: %s", tw_store_last_error(n->store));
    }
    if (!n->edge_started) return TW_OK;
    return tw_edge_process(n->edge);
}

int tw__uplink_online(tw_node *n) { return n->edge_started && tw_edge_state_get(n->edge) == TW_EDGE_ONLINE; }

tw_status tw__uplink_publish(tw_node *n) { return n->edge_started ? tw_edge_publish(n->edge) : TW_OK; }

void tw__uplink_sync_stats(tw_node *n)
{
    tw_edge_stats es;
    memset(&es, 0, sizeof es);
    es.version = TW_EDGE_STATS_VERSION;
    if (!n->edge || tw_edge_stats_get(n->edge, &es)) return;
    tw_node_link l = TW_NODE_LINK_OFFLINE;
    if (n->edge_started) l = es.state == TW_EDGE_ONLINE ? TW_NODE_LINK_ONLINE
                             : es.state == TW_EDGE_STOPPED ? TW_NODE_LINK_OFFLINE : TW_NODE_LINK_CONNECTING;
    atomic_store(&n->link, (int)l);
    atomic_store(&n->connects, es.connects);
    atomic_store(&n->disconnects, es.reconnects);
    atomic_store(&n->messages, es.messages_published);
    atomic_store(&n->births, es.births);
    atomic_store(&n->metrics, es.metrics_published);
    atomic_store(&n->historical, es.historical_published);
    atomic_store(&n->commands, es.commands);
    atomic_store(&n->commands_failed, es.command_errors);
    atomic_store(&n->refused, es.refused);
    atomic_store(&n->queue_depth, es.queue_depth);
    atomic_store(&n->queue_dropped, es.queue_dropped);
    atomic_store(&n->bd_seq, es.bdseq);
    if (n->store) {
        tw_store_stats ss;
        memset(&ss, 0, sizeof ss);
        ss.version = TW_STORE_STATS_VERSION;
        if (tw_store_stats_get(n->store, &ss) == TW_OK) {
            atomic_store(&n->store_records, ss.records);
            atomic_store(&n->store_bytes, ss.bytes);
            atomic_store(&n->store_dropped, ss.dropped_overflow + ss.dropped_age + ss.dropped_no_space);
            atomic_store(&n->store_refused, ss.refused_full + ss.refused_no_space);
            atomic_store(&n->store_oldest_ms, ss.records ? ss.oldest_time_ms : 0);
            atomic_store(&n->store_acked_seq, ss.acked_seq);
            atomic_store(&n->store_last_seq, ss.next_seq ? ss.next_seq - 1 : 0);
        }
    }
}

tw_status tw__uplink_shutdown(tw_node *n, int timeout_ms)
{
    if (!n->edge_started) return TW_OK;
    int64_t end = tw__mono_ms() + timeout_ms;
    /* publish what is pending while time is left (the session may need a few rounds to drain) */
    while (tw__uplink_online(n) && tw__node_pending(n) > 0 && tw__mono_ms() < end) {
        tw_edge_publish(n->edge);
        tw_edge_step(n->edge, 10);
    }
    int64_t left = end - tw__mono_ms();
    tw_status st = tw_edge_stop(n->edge, (int)(left > 0 ? left : 0));
    tw__uplink_sync_stats(n);
    uint64_t left_over = tw__node_pending(n) + atomic_load(&n->queue_depth);
    atomic_store(&n->unflushed, left_over);
    atomic_store(&n->link, (int)TW_NODE_LINK_OFFLINE);
    n->edge_started = 0;
    if (left_over) {
        tw__log(TW_LOG_WARN, MOD, "%s/%s: stopped with %llu change(s) not published", n->group_id,
                n->edge_node_id, (unsigned long long)left_over);
        if (!st) st = TW_ERR_TIMEOUT;
    }
    return st;
}

tw_status tw__uplink_device_online(tw_node *n, tw_node_device *d, int online)
{
    if (!n->edge_registered) return TW_OK;
    tw_status st = tw_edge_device_set_online(n->edge, d->id, online);
    tw__log(online ? TW_LOG_INFO : TW_LOG_WARN, MOD, "device '%s' %s", d->id,
            online ? "reachable again: DBIRTH" : "unreachable: DDEATH");
    return st;
}
