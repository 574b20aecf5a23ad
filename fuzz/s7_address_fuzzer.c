/* Fuzzes the S7 address parser and the value codec: "ADDRESS\nDATA" -> parse, decode DATA as the
 * item's bytes (as a PLC answer would carry them), re-encode and compare. */
#include <stdlib.h>
#include <string.h>

#include "adapters/s7/s7_address.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 8192) return 0;
    const uint8_t *nl = memchr(data, '\n', size);
    size_t alen = nl ? (size_t)(nl - data) : size;
    char *s = malloc(alen + 1);
    if (!s) return 0;
    memcpy(s, data, alen);
    s[alen] = '\0';
    const uint8_t *d = nl ? nl + 1 : data + size;
    size_t dlen = (size_t)(data + size - d);
    char err[256];
    err[0] = '\0';
    s7_addr a;
    if (tw__s7_parse_address(s, &a, err, sizeof err) != TW_OK) {
        if (!err[0]) abort(); /* every rejection names the problem */
        free(s);
        return 0;
    }
    if (a.size == 0 || a.size > 256 || a.byte + a.size > 65536u) abort();
    if (a.dtype == S7_DT_BOOL && (a.bit < 0 || a.bit > 7)) abort();
    if (a.dtype == S7_DT_STRING && (a.strmax == 0 || a.strmax > 254 || a.size != a.strmax + 2)) abort();
    size_t mb = tw__s7_max_bytes(&a);
    char *buf = malloc(mb ? mb : 1);
    tw_value v;
    memset(&v, 0, sizeof v);
    tw_status st = tw__s7_decode(&a, d, dlen, &v, buf, mb, err, sizeof err);
    if (st == TW_OK) {
        if (dlen != a.size || v.type != a.type) abort();
        if ((v.type == TW_TYPE_STRING) && (v.as.buf.len > mb || !tw_utf8_valid(v.as.buf.ptr, v.as.buf.len))) abort();
        uint8_t out[260];
        size_t olen = 0;
        st = tw__s7_encode(&a, &v, out, &olen, err, sizeof err);
        if (st != TW_OK) abort(); /* what we decoded we can write back */
        if (olen > a.size) abort();
        int integral = v.type != TW_TYPE_STRING && v.type != TW_TYPE_BOOL && v.type != TW_TYPE_FLOAT && v.type != TW_TYPE_DOUBLE;
        if (integral && memcmp(out, d, a.size) != 0) abort();
        if (a.dtype == S7_DT_STRING && (out[1] != d[1] || memcmp(out + 2, d + 2, d[1]) != 0)) abort();
    }
    free(buf);
    free(s);
    return 0;
}
