/* Fuzz target: incoming messages of the edge node session (tagwire/edge.h): topic matching,
 * NCMD/DCMD handling (rebirth requests, metric lookup by name and alias, writes through
 * tw_tag_write with conversion and range checks, refused writes re-queued) and STATE of the
 * primary host. Input: byte 0 selects the topic (own NCMD, own DCMD, unknown device, another
 * node, the host's STATE, or a topic taken from the input: byte 1 = its length), the rest is the
 * payload. The edge is never connected, so everything stays in memory.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "sparkplug/sp_edge_internal.h"
#include "tagwire/tag.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tw_edge *g_edge;
static tw_tagset *g_ns, *g_ds;

static tw_status accept_write(tw_tag *tag, const tw_value *v, void *ud)
{
    (void)ud;
    return tw_tag_set_value(tag, v, TW_QUALITY_GOOD, 0);
}

static tw_status refuse_write(tw_tag *tag, const tw_value *v, void *ud)
{
    (void)tag;
    (void)v;
    (void)ud;
    return TW_ERR_RANGE;
}

static void add(tw_tagset *ts, const char *name, tw_type type, tw_access access, uint64_t alias,
                tw_tag_write_fn fn, double min, double max)
{
    tw_tag_options o = TW_TAG_OPTIONS_INIT;
    o.access = access;
    o.alias = alias;
    o.min = min;
    o.max = max;
    o.max_len = 16;
    tw_tag *t = NULL;
    if (tw_tagset_add(ts, &t, name, type, &o) != TW_OK) abort();
    if (fn) tw_tag_set_write_cb(t, fn, NULL);
}

static void setup(void)
{
    tw_init_params p = TW_INIT_PARAMS_INIT;
    p.log_level = TW_LOG_ERROR;
    if (tw_init(&p) != TW_OK) abort();
    if (tw_tagset_new(&g_ns) != TW_OK || tw_tagset_new(&g_ds) != TW_OK) abort();
    add(g_ns, "Setpoint", TW_TYPE_DOUBLE, TW_ACCESS_READ_WRITE, 0, accept_write, -100, 100);
    add(g_ns, "Mode", TW_TYPE_STRING, TW_ACCESS_READ_WRITE, 0, refuse_write, 0, 0);
    add(g_ns, "Counter", TW_TYPE_INT64, TW_ACCESS_READ, 0, NULL, 0, 0);
    add(g_ns, "Flag", TW_TYPE_BOOL, TW_ACCESS_WRITE, 0, accept_write, 0, 0);
    add(g_ns, "Small", TW_TYPE_INT8, TW_ACCESS_READ_WRITE, 0, accept_write, 0, 0);
    add(g_ns, "NoCallback", TW_TYPE_UINT32, TW_ACCESS_READ_WRITE, 0, NULL, 0, 0);
    add(g_ds, "Speed", TW_TYPE_FLOAT, TW_ACCESS_READ_WRITE, 7, accept_write, 0, 0);
    add(g_ds, "Blob", TW_TYPE_BYTES, TW_ACCESS_READ_WRITE, 0, accept_write, 0, 0);
    add(g_ds, "When", TW_TYPE_DATETIME, TW_ACCESS_READ_WRITE, 0, accept_write, 0, 0);
    tw_edge_options o = TW_EDGE_OPTIONS_INIT;
    o.group_id = "G";
    o.edge_node_id = "E";
    o.primary_host_id = "H";
    o.host = "127.0.0.1";
    o.port = 1;
    o.insecure = 1;
    o.queue_bytes = 4096; /* small: the overflow path runs too */
    if (tw_edge_new(&g_edge, &o) != TW_OK) abort();
    if (tw_edge_set_node_tags(g_edge, g_ns) != TW_OK) abort();
    if (tw_edge_add_device(g_edge, "D", g_ds) != TW_OK) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_edge) setup();
    if (size < 1) return 0;
    static const char *const topics[] = {"spBv1.0/G/NCMD/E", "spBv1.0/G/DCMD/E/D",
                                         "spBv1.0/G/DCMD/E/X", "spBv1.0/G/NCMD/F",
                                         "spBv1.0/STATE/H"};
    char topic[300];
    size_t tl;
    uint8_t sel = data[0];
    data++;
    size--;
    if (sel % 6 < 5) {
        tl = strlen(topics[sel % 6]);
        memcpy(topic, topics[sel % 6], tl + 1);
    } else {
        if (size < 1) return 0;
        tl = data[0] % 256u;
        data++;
        size--;
        if (tl > size) tl = size;
        memcpy(topic, data, tl);
        topic[tl] = '\0';
        data += tl;
        size -= tl;
    }
    tw_edge_stats before, after;
    memset(&before, 0, sizeof before);
    before.version = TW_EDGE_STATS_VERSION;
    after = before;
    if (tw_edge_stats_get(g_edge, &before) != TW_OK) abort();
    tw__edge_inject_message(g_edge, topic, tl, data, size);
    if (tw_edge_publish(g_edge) != TW_OK) abort(); /* not connected: nothing is sent */
    if (tw_edge_stats_get(g_edge, &after) != TW_OK) abort();
    if (after.commands < before.commands || after.command_errors > after.commands) abort();
    if (after.queue_used_bytes > 4096 || after.messages_published != 0) abort();
    if (tw_edge_state_get(g_edge) != TW_EDGE_STOPPED) abort();
    return 0;
}
