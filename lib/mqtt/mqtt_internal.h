/* Private: test hooks of the MQTT client (unit tests reach them through the static library). */
#ifndef TW_MQTT_INTERNAL_H
#define TW_MQTT_INTERNAL_H

#include "internal.h"
#include "tagwire/mqtt.h"

/* Replaces the random source of the reconnect back-off (NULL = the internal PRNG). */
void tw__mqtt_client_set_rand(tw_mqtt_client *c, tw__rand_fn fn, void *ctx);

/* Replaces the monotonic millisecond clock (NULL = tw__mono_ms). */
typedef int64_t (*tw__mqtt_clock_fn)(void *ctx);
void tw__mqtt_client_set_clock(tw_mqtt_client *c, tw__mqtt_clock_fn fn, void *ctx);

/* The delay (ms) chosen for the pending reconnect, valid in state TW_MQTT_WAITING. */
uint32_t tw__mqtt_client_reconnect_delay(const tw_mqtt_client *c);

#endif
