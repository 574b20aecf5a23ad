/* Fuzz target: gateway configuration JSON (json-c parsing + every validation rule + accessors).
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tagwire/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void walk(const tw_config *cfg)
{
    volatile size_t sink = 0;
    sink += strlen(tw_config_group_id(cfg)) + strlen(tw_config_edge_node_id(cfg));
    sink += strlen(tw_config_broker_host(cfg)) + strlen(tw_config_client_id(cfg));
    sink += tw_config_broker_port(cfg) + tw_config_keep_alive_s(cfg);
    if (tw_config_tls_server_name(cfg)) sink += strlen(tw_config_tls_server_name(cfg));
    for (size_t i = 0; i < tw_config_tls_pin_count(cfg); i++) sink += strlen(tw_config_tls_pin(cfg, i));
    if (tw_config_has_store(cfg)) sink += strlen(tw_config_store_dir(cfg));
    for (size_t i = 0; i < tw_config_device_count(cfg); i++) {
        const tw_config_device *d = tw_config_device_at(cfg, i);
        if (tw_config_device_find(cfg, tw_config_device_id(d)) != d) abort();
        for (size_t g = 0; g < tw_config_device_scan_group_count(d); g++)
            sink += strlen(tw_config_device_scan_group_name(d, g)) + tw_config_device_scan_group_rate_ms(d, g);
        for (size_t j = 0; j < tw_config_device_tag_count(d); j++) {
            const tw_config_tag *t = tw_config_device_tag_at(d, j);
            if (tw_config_device_tag_find(d, tw_config_tag_name(t)) != t) abort();
            if (tw_config_tag_device(t) != d) abort();
            double v, a, b, c, e;
            tw_deadband_mode k = tw_config_tag_deadband(t, &v);
            if (k == TW_DEADBAND_PERCENT && !(v >= 0 && v <= 100)) abort();
            if (tw_config_tag_scaling(t, &a, &b, &c, &e) && (a == b || c == e)) abort();
            if (tw_config_tag_min(t, &a) && tw_config_tag_max(t, &b) && !(a < b)) abort();
            if (tw_config_tag_address(t) && !tw_config_device_adapter(d)) abort();
            sink += strlen(tw_config_tag_path(t)) + (size_t)tw_config_tag_type(t);
        }
    }
    (void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialized;
    if (!initialized) {
        if (tw_init(NULL) != TW_OK) abort();
        tw_set_log(NULL, TW_LOG_ERROR, NULL);
        initialized = 1;
    }
    tw_config *cfg;
    if (tw_config_new(&cfg) != TW_OK) abort();
    tw_status st = tw_config_load_string(cfg, (const char *)data, size, "fuzz.json", "/base");
    const char *msg = tw_config_last_error(cfg);
    if (st == TW_OK) {
        if (msg[0] != '\0') abort();
        walk(cfg);
    } else {
        /* every failure names the source */
        if (strncmp(msg, "fuzz.json", 9) != 0) abort();
        if (tw_config_is_loaded(cfg)) abort();
    }
    tw_config_free(cfg);
    return 0;
}
