/*
 * Base64 (RFC 4648 section 4, standard alphabet) for every module, and the "sha256/BASE64" public
 * key pins of tls and config. SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include "internal.h"

static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

static bool is_ws(unsigned char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

size_t tw__base64_decoded_max(size_t in_len) { return (in_len / 4) * 3 + 3; }

static tw_status decode(unsigned char *out, size_t out_cap, size_t *out_len, const char *in,
                        size_t in_len, bool strict)
{
    uint32_t acc = 0;
    unsigned nbits = 0, quad = 0, pad = 0;
    size_t o = 0;
    *out_len = 0;
    for (size_t i = 0; i < in_len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (!strict && is_ws(c)) continue;
        if (c == '=') {
            pad++;
            quad++;
            if (pad > 2) return TW_ERR_PARSE;
            continue;
        }
        if (pad) return TW_ERR_PARSE; /* data after padding */
        int v = b64_value(c);
        if (v < 0) return TW_ERR_PARSE;
        acc = (acc << 6) | (uint32_t)v;
        nbits += 6;
        quad++;
        if (nbits >= 8) {
            nbits -= 8;
            if (o >= out_cap) return TW_ERR_PARSE;
            out[o++] = (unsigned char)(acc >> nbits);
            acc &= (1u << nbits) - 1u;
        }
    }
    if (quad % 4 != 0) {
        /* Unpadded input is accepted when it is a valid length (2 or 3 characters in the last
         * group); a single dangling character is not. Strict: padding is required. */
        if (strict || pad || quad % 4 == 1) return TW_ERR_PARSE;
    }
    if (acc != 0) return TW_ERR_PARSE; /* non-canonical trailing bits */
    *out_len = o;
    return TW_OK;
}

tw_status tw__base64_decode(unsigned char *out, size_t out_cap, size_t *out_len, const char *in,
                            size_t in_len)
{
    return decode(out, out_cap, out_len, in, in_len, false);
}

tw_status tw__base64_decode_strict(unsigned char *out, size_t out_cap, size_t *out_len,
                                   const char *in, size_t in_len)
{
    return decode(out, out_cap, out_len, in, in_len, true);
}

tw_status tw__base64_encode(char *out, size_t out_cap, const unsigned char *in, size_t len)
{
    static const char tab[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t need = 4 * ((len + 2) / 3) + 1;
    if (out_cap < need) return TW_ERR_RANGE;
    size_t o = 0, i = 0;
    for (; i + 2 < len; i += 3) {
        uint32_t v = ((uint32_t)in[i] << 16) | ((uint32_t)in[i + 1] << 8) | in[i + 2];
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = tab[(v >> 6) & 63];
        out[o++] = tab[v & 63];
    }
    if (i < len) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len) v |= (uint32_t)in[i + 1] << 8;
        out[o++] = tab[(v >> 18) & 63];
        out[o++] = tab[(v >> 12) & 63];
        out[o++] = (i + 1 < len) ? tab[(v >> 6) & 63] : '=';
        out[o++] = '=';
    }
    out[o] = '\0';
    return TW_OK;
}

tw_status tw__pin_parse(const char *pin, uint8_t out[32])
{
    if (!pin || strncmp(pin, "sha256/", 7) != 0) return TW_ERR_PARSE;
    const char *b = pin + 7;
    size_t bl = strlen(b);
    if (bl != 44) return TW_ERR_PARSE; /* base64 of 32 bytes */
    unsigned char tmp[33];
    size_t n = 0;
    if (tw__base64_decode_strict(tmp, sizeof tmp, &n, b, bl) != TW_OK || n != 32) return TW_ERR_PARSE;
    if (out) memcpy(out, tmp, 32);
    return TW_OK;
}
