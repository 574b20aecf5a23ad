/*
 * Fuzz target: EST response bodies (RFC 7030): whitespace-tolerant base64, then the PKCS#7/CMS
 * certs-only DER reader, then each certificate through mbedTLS and out as PEM.
 * The first byte picks the path: even = base64 body (as EST sends), odd = raw DER.
 */
#include <stdint.h>
#include <string.h>

#include "enroll/enroll_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    bool b64 = (data[0] & 1) == 0;
    const char *body = (const char *)data + 1;
    size_t len = size - 1;

    /* the DER reader alone, on exactly the given bytes */
    tw__der_span spans[TW__PKCS7_MAX_CERTS];
    size_t n = 0;
    const char *why = NULL;
    if (tw__pkcs7_certs((const unsigned char *)body, len, spans, TW__PKCS7_MAX_CERTS, &n, &why) ==
        TW_OK) {
        for (size_t i = 0; i < n; i++) {
            /* every span lies inside the input */
            if (spans[i].p < (const unsigned char *)body || spans[i].p + spans[i].len > (const unsigned char *)body + len)
                __builtin_trap();
        }
    }

    /* base64 alone: never writes past out_cap */
    unsigned char out[256];
    size_t olen = 0;
    if (tw__base64_decode(out, sizeof out, &olen, body, len) == TW_OK && olen > sizeof out) __builtin_trap();

    /* the whole response path */
    char *pem = NULL;
    size_t pem_len = 0, count = 0;
    if (tw__est_certs_to_pem(body, len, b64, &pem, &pem_len, &count, &why) == TW_OK) {
        if (!pem || strlen(pem) != pem_len || count == 0) __builtin_trap();
        tw__free(pem);
    }
    return 0;
}
