/*
 * Base64 (RFC 4648, whitespace-tolerant as RFC 7030/8951 bodies need) and a bounds-checked DER
 * reader for PKCS#7/CMS certs-only SignedData (RFC 5652 5.1; RFC 8551 3.2.2), as EST returns
 * from /cacerts, /simpleenroll and /simplereenroll.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include <mbedtls/pem.h>
#include <mbedtls/x509_crt.h>

#include "enroll_internal.h"

/* ---- base64 ---- */

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

tw_status tw__base64_decode(unsigned char *out, size_t out_cap, size_t *out_len, const char *in,
                            size_t in_len)
{
    uint32_t acc = 0;
    unsigned nbits = 0, quad = 0, pad = 0;
    size_t o = 0;
    *out_len = 0;
    for (size_t i = 0; i < in_len; i++) {
        unsigned char c = (unsigned char)in[i];
        if (is_ws(c)) continue;
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
         * group); a single dangling character is not. */
        if (pad || quad % 4 == 1) return TW_ERR_PARSE;
    }
    if (pad && (quad % 4 != 0)) return TW_ERR_PARSE;
    if (acc != 0) return TW_ERR_PARSE; /* non-canonical trailing bits */
    *out_len = o;
    return TW_OK;
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

/* ---- DER ---- */

typedef struct der_rd {
    const unsigned char *p;
    const unsigned char *end;
} der_rd;

/* Reads one TLV. Only low tag numbers and definite lengths (DER). */
static bool der_next(der_rd *r, unsigned char *tag, der_rd *val, const unsigned char **tlv_start)
{
    const unsigned char *p = r->p;
    if (p >= r->end) return false;
    if (tlv_start) *tlv_start = p;
    unsigned char t = *p++;
    if ((t & 0x1f) == 0x1f) return false; /* high tag number form: not used here */
    if (p >= r->end) return false;
    size_t len;
    unsigned char l0 = *p++;
    if (l0 < 0x80) {
        len = l0;
    } else {
        unsigned n = l0 & 0x7f;
        if (n == 0 || n > 4) return false; /* indefinite, or absurdly long */
        if ((size_t)(r->end - p) < n) return false;
        len = 0;
        for (unsigned i = 0; i < n; i++) len = (len << 8) | *p++;
        if (len < 0x80) return false; /* not minimal: DER forbids */
    }
    if ((size_t)(r->end - p) < len) return false;
    *tag = t;
    val->p = p;
    val->end = p + len;
    r->p = p + len;
    return true;
}

static const unsigned char OID_SIGNED_DATA[] = {0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02};

static tw_status bad(const char **why, const char *msg)
{
    if (why) *why = msg;
    return TW_ERR_EST_BAD_RESPONSE;
}

tw_status tw__pkcs7_certs(const unsigned char *der, size_t der_len, tw__der_span *certs,
                          size_t max, size_t *count, const char **why)
{
    *count = 0;
    if (why) *why = NULL;
    if (!der || der_len == 0) return bad(why, "empty PKCS#7");
    der_rd top = {der, der + der_len}, ci, v, sd, set;
    unsigned char tag;
    if (!der_next(&top, &tag, &ci, NULL) || tag != 0x30) return bad(why, "ContentInfo is not a SEQUENCE");
    if (top.p != top.end) return bad(why, "bytes after the ContentInfo");
    if (!der_next(&ci, &tag, &v, NULL) || tag != 0x06) return bad(why, "ContentInfo has no contentType");
    if ((size_t)(v.end - v.p) != sizeof OID_SIGNED_DATA || memcmp(v.p, OID_SIGNED_DATA, sizeof OID_SIGNED_DATA))
        return bad(why, "contentType is not signedData");
    der_rd expl;
    if (!der_next(&ci, &tag, &expl, NULL) || tag != 0xa0) return bad(why, "no [0] content");
    if (ci.p != ci.end) return bad(why, "bytes after the content");
    if (!der_next(&expl, &tag, &sd, NULL) || tag != 0x30 || expl.p != expl.end)
        return bad(why, "SignedData is not a SEQUENCE");
    if (!der_next(&sd, &tag, &v, NULL) || tag != 0x02 || v.p == v.end || v.end - v.p > 1)
        return bad(why, "SignedData version missing or malformed");
    if (!der_next(&sd, &tag, &v, NULL) || tag != 0x31) return bad(why, "digestAlgorithms missing");
    if (!der_next(&sd, &tag, &v, NULL) || tag != 0x30) return bad(why, "encapContentInfo missing");
    bool have_certs = false, have_signers = false;
    while (sd.p < sd.end) {
        const unsigned char *start;
        if (!der_next(&sd, &tag, &set, &start)) return bad(why, "truncated SignedData field");
        if (tag == 0xa0 && !have_certs && !have_signers) {
            have_certs = true;
            while (set.p < set.end) {
                der_rd c;
                const unsigned char *cs;
                if (!der_next(&set, &tag, &c, &cs)) return bad(why, "truncated certificate");
                if (tag != 0x30) continue; /* other CertificateChoices: not used by EST */
                if (*count >= max) return bad(why, "too many certificates");
                certs[*count].p = cs;
                certs[*count].len = (size_t)(c.end - cs);
                (*count)++;
            }
        } else if (tag == 0xa1 && !have_signers) {
            /* crls: ignored */
        } else if (tag == 0x31 && !have_signers) {
            have_signers = true; /* signerInfos: empty in certs-only; ignored */
        } else {
            return bad(why, "unexpected field in SignedData");
        }
    }
    if (!have_signers) return bad(why, "signerInfos missing");
    if (*count == 0) return bad(why, "no certificate in the PKCS#7");
    return TW_OK;
}

tw_status tw__est_certs_to_pem(const char *body, size_t body_len, bool base64, char **pem,
                               size_t *pem_len, size_t *count, const char **why)
{
    *pem = NULL;
    *pem_len = 0;
    *count = 0;
    if (why) *why = NULL;
    const unsigned char *der = (const unsigned char *)body;
    size_t der_len = body_len;
    unsigned char *buf = NULL;
    if (base64) {
        size_t cap = tw__base64_decoded_max(body_len);
        buf = tw__malloc(cap ? cap : 1);
        if (!buf) return TW_ERR_NOMEM;
        if (tw__base64_decode(buf, cap, &der_len, body, body_len) != TW_OK) {
            tw__free(buf);
            return bad(why, "body is not valid base64");
        }
        der = buf;
    }
    tw__der_span spans[TW__PKCS7_MAX_CERTS];
    size_t n = 0;
    tw_status st = tw__pkcs7_certs(der, der_len, spans, TW__PKCS7_MAX_CERTS, &n, why);
    if (st != TW_OK) {
        tw__free(buf);
        return st;
    }
    size_t cap = 1;
    for (size_t i = 0; i < n; i++) cap += spans[i].len * 4 / 3 + spans[i].len / 48 + 128;
    char *out = tw__malloc(cap);
    if (!out) {
        tw__free(buf);
        return TW_ERR_NOMEM;
    }
    size_t o = 0;
    for (size_t i = 0; i < n && st == TW_OK; i++) {
        mbedtls_x509_crt crt;
        mbedtls_x509_crt_init(&crt);
        if (mbedtls_x509_crt_parse_der(&crt, spans[i].p, spans[i].len) != 0) {
            st = bad(why, "a certificate in the PKCS#7 does not parse");
        } else {
            size_t olen = 0;
            if (mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----\n",
                                         spans[i].p, spans[i].len, (unsigned char *)out + o,
                                         cap - o, &olen) != 0)
                st = bad(why, "certificate too large");
            else
                o += olen - 1; /* olen counts the NUL */
        }
        mbedtls_x509_crt_free(&crt);
    }
    tw__free(buf);
    if (st != TW_OK) {
        tw__free(out);
        return st;
    }
    out[o] = '\0';
    *pem = out;
    *pem_len = o;
    *count = n;
    return TW_OK;
}
