/* Fuzzes the address parsers (Modbus, sim) and the URI parser. */
#include <stdlib.h>
#include <string.h>

#include "adapter/adapter_internal.h"
#include "adapters/modbus/mb_codec.h"
#include "internal.h"
#include "tagwire/adapter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096) return 0;
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    char err[256];
    mb_addr a;
    if (mb_parse_address(s, &a, err, sizeof err) == TW_OK) {
        if (a.count == 0 || (uint32_t)a.offset + a.count > 65536u) abort();
        if (a.dtype == MB_DT_STRING && (a.strlen_ == 0 || a.strlen_ > 246)) abort();
        if (a.bit > 15) abort();
    } else if (!err[0]) {
        abort(); /* every rejection names the problem */
    }
    tw_type t;
    err[0] = '\0';
    if (tw_adapter_check_address("sim", s, &t, err, sizeof err) != TW_OK && !err[0]) abort();
    tw__uri u;
    if (tw__uri_parse(&u, s, err, sizeof err) == TW_OK) {
        if (!u.scheme || !u.host || !u.path || !u.rest) abort();
        for (size_t i = 0; i < u.n; i++)
            if (!u.keys[i] || !u.values[i]) abort();
        tw__uri_free(&u);
    }
    free(s);
    return 0;
}
