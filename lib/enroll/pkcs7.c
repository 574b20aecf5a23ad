/*
 * A bounds-checked DER reader for PKCS#7/CMS certs-only SignedData (RFC 5652 5.1; RFC 8551
 * 3.2.2), as EST returns from /cacerts, /simpleenroll and /simplereenroll (base64: lib/core).
 * SPDX-License-Identifier: Apache-2.0
 */
#include <string.h>

#include <mbedtls/pem.h>
#include <mbedtls/x509_crt.h>

#include "enroll_internal.h"

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
