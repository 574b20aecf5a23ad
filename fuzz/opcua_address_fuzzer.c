/* Fuzzes the OPC UA address (NodeId) parser: validation and parsing agree, parsed identifiers are
 * bounded, and every rejection names the problem. */
#include <stdlib.h>
#include <string.h>

#include "adapters/opcua/opcua_address.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 16384) return 0;
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char err[256];
    err[0] = '\0';
    tw_status v = tw__opcua_parse_address(s, NULL, err, sizeof err);
    if (v != TW_OK && !err[0]) abort();
    ua_addr a;
    err[0] = '\0';
    tw_status p = tw__opcua_parse_address(s, &a, err, sizeof err);
    if ((v == TW_OK) != (p == TW_OK) && p != TW_ERR_NOMEM) abort();
    if (p == TW_OK) {
        if (a.id_len > UA_ADDR_MAX_ID + 4) abort();
        if ((a.kind == UA_ADDR_STRING || a.kind == UA_ADDR_BYTES) && (!a.id || !a.id_len)) abort();
        if (a.kind == UA_ADDR_STRING && !tw_utf8_valid(a.id, a.id_len)) abort();
        if ((a.type == TW_TYPE_STRING || a.type == TW_TYPE_BYTES) && (a.max_bytes == 0 || a.max_bytes > (1u << 20))) abort();
        if (a.type == TW_TYPE_NONE || a.type >= TW_TYPE_MAX_) abort();
        tw__opcua_addr_free(&a);
    } else if (!err[0]) {
        abort();
    }
    free(s);
    return 0;
}
