/*
 * Sparkplug B 3.0 edge node session (tagwire/edge.h). Work in progress: API stubs.
 * SPDX-License-Identifier: Apache-2.0
 */
#include "tagwire/edge.h"

#include "sp_internal.h"

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

tw_status tw_edge_new(tw_edge **out, const tw_edge_options *opts)
{
    (void)opts;
    if (out) *out = NULL;
    return TW_ERR_UNSUPPORTED;
}
void tw_edge_free(tw_edge *e) { (void)e; }
tw_status tw_edge_set_node_tags(tw_edge *e, tw_tagset *ts) { (void)e; (void)ts; return TW_ERR_UNSUPPORTED; }
tw_status tw_edge_add_device(tw_edge *e, const char *d, tw_tagset *ts) { (void)e; (void)d; (void)ts; return TW_ERR_UNSUPPORTED; }
tw_status tw_edge_remove_device(tw_edge *e, const char *d) { (void)e; (void)d; return TW_ERR_UNSUPPORTED; }
tw_status tw_edge_device_set_online(tw_edge *e, const char *d, int on) { (void)e; (void)d; (void)on; return TW_ERR_UNSUPPORTED; }
void tw_edge_set_event_cb(tw_edge *e, tw_edge_event_fn fn, void *u) { (void)e; (void)fn; (void)u; }
tw_status tw_edge_start(tw_edge *e) { (void)e; return TW_ERR_UNSUPPORTED; }
tw_status tw_edge_stop(tw_edge *e, int t) { (void)e; (void)t; return TW_ERR_UNSUPPORTED; }
tw_status tw_edge_step(tw_edge *e, int t) { (void)e; (void)t; return TW_ERR_UNSUPPORTED; }
int tw_edge_fd(const tw_edge *e) { (void)e; return -1; }
unsigned tw_edge_events(const tw_edge *e) { (void)e; return 0; }
int tw_edge_timeout_ms(const tw_edge *e) { (void)e; return -1; }
tw_status tw_edge_process(tw_edge *e) { (void)e; return TW_ERR_UNSUPPORTED; }
tw_status tw_edge_publish(tw_edge *e) { (void)e; return TW_ERR_UNSUPPORTED; }
tw_status tw_edge_rebirth(tw_edge *e) { (void)e; return TW_ERR_UNSUPPORTED; }
tw_edge_state tw_edge_state_get(const tw_edge *e) { (void)e; return TW_EDGE_STOPPED; }
tw_status tw_edge_stats_get(const tw_edge *e, tw_edge_stats *out) { (void)e; (void)out; return TW_ERR_UNSUPPORTED; }
const char *tw_edge_last_error(const tw_edge *e) { (void)e; return ""; }
tw_status tw_edge_last_status(const tw_edge *e) { (void)e; return TW_OK; }
