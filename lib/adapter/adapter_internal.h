/* Private interface of the adapter module (never installed). SPDX-License-Identifier: Apache-2.0 */
#ifndef TW_ADAPTER_INTERNAL_H
#define TW_ADAPTER_INTERNAL_H

#include "tagwire/sys/adapter.h"

#include "internal.h"

/* The public view of a URI parsed by tw__uri_parse (lib/core): pointers into `u`. */
void tw__uri_to_adapter(const tw__uri *u, tw_adapter_uri *pub);

/* Built-in adapters register themselves through this (registry lock held). */
typedef tw_status (*tw__reg_add_fn)(const tw_adapter_ops *ops, void *reg_data);
void tw__opcua_register_builtins(tw__reg_add_fn add);
void tw__s7_register_builtins(tw__reg_add_fn add);
void tw__modbus_register_builtins(tw__reg_add_fn add);
void tw__sim_register_builtins(tw__reg_add_fn add);
/* The byte-stream transport of a device context when `ops` is a built-in Modbus adapter's, else
 * NULL (for tw_device_tls_info). */
tw_transport *tw__modbus_transport(const tw_adapter_ops *ops, void *ctx);

/* Helpers for adapters: strict number parsing. Return 0 on success. */
int tw__parse_u64(const char *s, uint64_t max, uint64_t *out);
int tw__parse_double(const char *s, double *out);
/* Parses a duration "10s", "250ms", "2m", "1h" or a bare number of seconds into ns. */
int tw__parse_duration_ns(const char *s, int64_t *out);

#endif
