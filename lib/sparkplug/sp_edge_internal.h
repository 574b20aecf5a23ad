/*
 * Private hooks of the edge node session (never installed): unit tests and the fuzz target of
 * incoming command handling reach them through the static library.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TW_SP_EDGE_INTERNAL_H
#define TW_SP_EDGE_INTERNAL_H

#include "internal.h"
#include "tagwire/edge.h"

/*
 * Delivers an incoming MQTT message to the edge as if its client had received it (topic parse,
 * NCMD/DCMD handling: rebirth, writes through tw_tag_write; STATE of the primary host). Works
 * without a connection (nothing is published; resulting data waits in the tag sets / queue).
 */
void tw__edge_inject_message(tw_edge *e, const char *topic, size_t topic_len, const void *payload,
                             size_t len);

/* Alias base of a registered tag set (node tags: device NULL) as assigned at the last birth. */
uint64_t tw__edge_alias_base(const tw_edge *e, const char *device_id);

#endif
