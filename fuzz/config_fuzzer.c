/* Fuzz target: gateway configuration JSON (json-c parsing, the duplicate-key scanner, every
 * validation rule, accessors). The scanner must never call a text invalid that json-c accepts
 * (apart from the key escapes it refuses on purpose): checked against json-c itself.
 * SPDX-License-Identifier: Apache-2.0 */
#include <json-c/json.h>
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
        if (st == TW_ERR_PARSE && !strstr(msg, "invalid JSON: object key with") && !strstr(msg, "NUL byte") &&
            !strstr(msg, "empty document") && size < 65536) {
            const char *text = (const char *)data;
            size_t len = size;
            if (len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3)) text += 3, len -= 3;
            struct json_tokener *tok = json_tokener_new_ex(32);
            if (!tok) abort();
            json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
            json_object *o = json_tokener_parse_ex(tok, text, (int)len);
            int whole = o && json_tokener_get_parse_end(tok) == len;
            json_object_put(o);
            json_tokener_free(tok);
            if (whole) abort(); /* json-c accepted all of it: the loader must not call it invalid */
        }
        /* every failure names the source */
        if (strncmp(msg, "fuzz.json", 9) != 0) abort();
        if (tw_config_is_loaded(cfg)) abort();
    }
    tw_config_free(cfg);
    return 0;
}
