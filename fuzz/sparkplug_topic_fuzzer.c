/* Fuzz target: the Sparkplug topic parser; a topic that parses rebuilds to the same bytes.
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>

#include "sparkplug/sp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dup_n(const char *s, size_t n)
{
    if (!s) return NULL;
    char *d = malloc(n + 1);
    if (!d) abort();
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tw_sp_topic t;
    tw_status st = tw_sp_topic_parse(&t, (const char *)data, size);
    if (st != TW_OK) {
        if (st != TW_ERR_SPARKPLUG_TOPIC) abort();
        return 0;
    }
    char *g = dup_n(t.group_id, t.group_id_len);
    char *e = dup_n(t.edge_node_id, t.edge_node_id_len);
    char *d = dup_n(t.device_id, t.device_id_len);
    size_t need = 0;
    if (tw_sp_topic_build(NULL, 0, &need, t.type, g, e, d) != TW_ERR_FULL || need != size) abort();
    char *buf = malloc(size + 1);
    size_t len = 0;
    if (!buf || tw_sp_topic_build(buf, size + 1, &len, t.type, g, e, d) != TW_OK) abort();
    if (len != size || memcmp(buf, data, size) != 0) abort();
    free(buf);
    free(g);
    free(e);
    free(d);
    return 0;
}
