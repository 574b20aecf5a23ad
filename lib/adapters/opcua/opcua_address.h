/* OPC UA item addresses: NodeIds with an optional declared type (private; no open62541 types so
 * that the parser is fuzzed and unit-tested on its own). SPDX-License-Identifier: Apache-2.0 */
#ifndef TW_OPCUA_ADDRESS_H
#define TW_OPCUA_ADDRESS_H

#include <stddef.h>
#include <stdint.h>

#include "tagwire/core.h"
#include "tagwire/types.h"

typedef enum { UA_ADDR_NUMERIC, UA_ADDR_STRING, UA_ADDR_GUID, UA_ADDR_BYTES } ua_addr_kind;

#define UA_ADDR_MAX_ID 4096 /* bytes of a string or opaque identifier */

typedef struct ua_addr {
    uint16_t ns;
    ua_addr_kind kind;
    uint32_t numeric;
    uint32_t guid_d1;   /* GUID fields as written: Data1-Data2-Data3-Data4[0..1]-Data4[2..7] */
    uint16_t guid_d2, guid_d3;
    uint8_t guid_d4[8];
    uint8_t *id;        /* string (UTF-8, not NUL-terminated) or opaque bytes: owned, tw__free */
    size_t id_len;
    tw_type type;       /* declared type (default DOUBLE) */
    size_t max_bytes;   /* STRING/BYTES: largest value */
} ua_addr;

/*
 * Parses "[type=T;]NODEID" where NODEID is "[ns=N;]i=123", "[ns=N;]s=Text", "[ns=N;]g=GUID" or
 * "[ns=N;]b=BASE64", and T a tagwire type name (DOUBLE, FLOAT, INT32, BOOL, STRING[n], BYTES[n],
 * DATETIME, ...). Returns TW_OK or TW_ERR_ADDRESS (TW_ERR_UNSUPPORTED for nsu=) with a message.
 * With out == NULL it only validates. Free with tw__opcua_addr_free().
 */
tw_status tw__opcua_parse_address(const char *s, ua_addr *out, char *err, size_t errlen);
void tw__opcua_addr_free(ua_addr *a);

#endif
