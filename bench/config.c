/* bench_config: loading a 10,000-tag gateway configuration (the node benchmark's scale).
 * Side by side in the same run: json-c alone parsing the same bytes (the floor any json-c based
 * loader pays) vs tw_config_load_string (json-c + every validation rule + the immutable copy).
 * Prints the times, their ratio and the memory the loaded config keeps.
 * SPDX-License-Identifier: Apache-2.0 */
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tagwire/config.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t g_live_bytes;
static void *b_malloc(size_t n, void *ctx)
{
    (void)ctx;
    size_t *p = malloc(n + sizeof(size_t) * 2);
    if (!p) return NULL;
    p[0] = n;
    g_live_bytes += n;
    return p + 2;
}
static void b_free(void *q, void *ctx)
{
    (void)ctx;
    if (!q) return;
    size_t *p = (size_t *)q - 2;
    g_live_bytes -= p[0];
    free(p);
}
static void *b_realloc(void *q, size_t n, void *ctx)
{
    if (!q) return b_malloc(n, ctx);
    size_t *p = (size_t *)q - 2;
    size_t old = p[0];
    size_t *r = realloc(p, n + sizeof(size_t) * 2);
    if (!r) return NULL;
    g_live_bytes = g_live_bytes - old + n;
    r[0] = n;
    return r + 2;
}

int main(int argc, char **argv)
{
    size_t ntags = argc > 1 ? (size_t)atol(argv[1]) : 10000;
    int rounds = argc > 2 ? atoi(argv[2]) : 20;
    tw_init_params ip = TW_INIT_PARAMS_INIT;
    ip.malloc_fn = b_malloc;
    ip.realloc_fn = b_realloc;
    ip.free_fn = b_free;
    if (tw_init(&ip) != TW_OK) return 1;

    size_t cap = ntags * 300 + 1024, len = 0;
    char *j = malloc(cap);
    if (!j) return 1;
    len += (size_t)snprintf(j + len, cap - len,
        "{\"node\":{\"group_id\":\"PlantA\",\"edge_node_id\":\"Press7\"},"
        "\"uplink\":{\"broker\":\"mqtts://broker:8883\",\"tls\":{\"ca\":\"ca.crt\",\"cert\":\"c.crt\",\"key\":\"c.key\"}},"
        "\"devices\":[{\"id\":\"Press\",\"adapter\":\"modbus+tcp://127.0.0.1:1502?unit=1\","
        "\"scan_groups\":[{\"name\":\"fast\",\"rate_ms\":100},{\"name\":\"slow\",\"rate_ms\":1000}],\"tags\":[");
    for (size_t i = 0; i < ntags; i++)
        len += (size_t)snprintf(j + len, cap - len,
            "%s{\"name\":\"Line%zu/Machine%zu/Value%zu\",\"address\":\"holding-register:%zu:FLOAT32:CDAB\","
            "\"type\":\"double\",\"scan_group\":\"%s\",\"deadband\":0.1,\"unit\":\"degC\",\"min\":-50,\"max\":150}",
            i ? "," : "", i % 10, i % 100, i, i * 2, i % 2 ? "fast" : "slow");
    len += (size_t)snprintf(j + len, cap - len, "]}]}");

    double t_json = 1e9, t_cfg = 1e9;
    size_t kept = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = now_s();
        struct json_tokener *tok = json_tokener_new();
        json_object *o = json_tokener_parse_ex(tok, j, (int)len);
        double t1 = now_s();
        if (!o) return 1;
        json_object_put(o);
        json_tokener_free(tok);
        if (t1 - t0 < t_json) t_json = t1 - t0;

        size_t before = g_live_bytes;
        tw_config *cfg;
        if (tw_config_new(&cfg) != TW_OK) return 1;
        t0 = now_s();
        if (tw_config_load_string(cfg, j, len, "bench.json", NULL) != TW_OK) {
            fprintf(stderr, "%s\n", tw_config_last_error(cfg));
            return 1;
        }
        t1 = now_s();
        kept = g_live_bytes - before;
        tw_config_free(cfg);
        if (t1 - t0 < t_cfg) t_cfg = t1 - t0;
    }
    printf("config: %zu tags, %zu bytes of JSON, best of %d rounds\n", ntags, len, rounds);
    printf("  json-c parse only         %8.2f ms  (%.0f ns/tag)\n", t_json * 1e3, t_json * 1e9 / (double)ntags);
    printf("  tw_config_load_string     %8.2f ms  (%.0f ns/tag)\n", t_cfg * 1e3, t_cfg * 1e9 / (double)ntags);
    printf("  ratio load / json-c       %8.2f\n", t_cfg / t_json);
    printf("  memory kept by the config %8zu bytes (%.0f bytes/tag; the JSON text is %.0f bytes/tag)\n", kept,
           (double)kept / (double)ntags, (double)len / (double)ntags);
    free(j);
    tw_shutdown();
    return 0;
}
