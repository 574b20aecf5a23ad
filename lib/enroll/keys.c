/*
 * Keys and certificate requests with mbedTLS 3.6: ECDSA P-256 key generation, PKCS#10 CSR
 * (RFC 2986) with subject CN=<device_id>[,serialNumber=<serial>] and a URI SAN
 * urn:tagwire:<vendor>:<model>:<serial>, and the check that an issued certificate carries our key.
 *
 * Opaque keys (secure element, TPM): the hook is the mTLS module's signing callback; this file
 * would then take the public key and a sign function instead of key_pem. Not wired yet: keys are
 * generated here and stored in the credential directory.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ecp.h>
#include <mbedtls/error.h>
#include <mbedtls/pem.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>
#include <mbedtls/x509_csr.h>
#include <psa/crypto.h>
#include <mbedtls/psa_util.h>

#include "enroll_internal.h"

static pthread_once_t crypto_once = PTHREAD_ONCE_INIT;
static psa_status_t crypto_status = PSA_ERROR_BAD_STATE;

static void crypto_init_once(void) { crypto_status = psa_crypto_init(); }

tw_status tw__crypto_init(void)
{
    pthread_once(&crypto_once, crypto_init_once);
    return crypto_status == PSA_SUCCESS ? TW_OK : TW_ERR_GENERIC;
}

static int rng(void *ctx, unsigned char *out, size_t len)
{
    return mbedtls_psa_get_random(ctx, out, len);
}

tw_status tw__key_generate_pem(char **key_pem, size_t *key_pem_len)
{
    *key_pem = NULL;
    *key_pem_len = 0;
    if (tw__crypto_init() != TW_OK) return TW_ERR_GENERIC;
    mbedtls_pk_context pk;
    mbedtls_pk_init(&pk);
    tw_status st = TW_ERR_GENERIC;
    char *buf = NULL;
    if (mbedtls_pk_setup(&pk, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) != 0) goto out;
    if (mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(pk), rng,
                            MBEDTLS_PSA_RANDOM_STATE) != 0)
        goto out;
    buf = tw__malloc(1024);
    if (!buf) {
        st = TW_ERR_NOMEM;
        goto out;
    }
    if (mbedtls_pk_write_key_pem(&pk, (unsigned char *)buf, 1024) != 0) goto out;
    *key_pem_len = strlen(buf);
    *key_pem = buf;
    buf = NULL;
    st = TW_OK;
out:
    if (buf) {
        tw__zeroize(buf, 1024);
        tw__free(buf);
    }
    mbedtls_pk_free(&pk);
    return st;
}

static tw_status parse_key(mbedtls_pk_context *pk, const char *key_pem, size_t key_pem_len)
{
    /* mbedtls wants the NUL counted for PEM input */
    if (mbedtls_pk_parse_key(pk, (const unsigned char *)key_pem, key_pem_len + 1, NULL, 0, rng,
                             MBEDTLS_PSA_RANDOM_STATE) != 0)
        return TW_ERR_TLS_CREDENTIALS;
    return TW_OK;
}

tw_status tw__csr_build(unsigned char **der, size_t *der_len, const char *key_pem,
                        size_t key_pem_len, const tw_identity *id, tw__error *err)
{
    *der = NULL;
    *der_len = 0;
    char why[160];
    tw_status st = tw_identity_check(id, why, sizeof why);
    if (st != TW_OK) return tw__err(err, "enroll", st, "device identity: %s", why);
    if (tw__crypto_init() != TW_OK) return tw__err(err, "enroll", TW_ERR_GENERIC, "psa_crypto_init failed");

    mbedtls_pk_context pk;
    mbedtls_x509write_csr csr;
    mbedtls_pk_init(&pk);
    mbedtls_x509write_csr_init(&csr);
    unsigned char *buf = NULL;
    char subject[32 + 2 * TW_IDENTITY_FIELD_MAX];
    char urn[TW_IDENTITY_URN_MAX];
    mbedtls_x509_san_list san;
    bool have_urn = tw_identity_urn(urn, sizeof urn, id) == TW_OK;

    st = parse_key(&pk, key_pem, key_pem_len);
    if (st != TW_OK) {
        tw__err(err, "enroll", st, "the private key does not parse");
        goto out;
    }
    /* The alphabet of the identity excludes every character RFC 4514 would need escaped. */
    if (id->serial && *id->serial)
        snprintf(subject, sizeof subject, "CN=%s,serialNumber=%s", id->device_id, id->serial);
    else
        snprintf(subject, sizeof subject, "CN=%s", id->device_id);
    mbedtls_x509write_csr_set_key(&csr, &pk);
    mbedtls_x509write_csr_set_md_alg(&csr, MBEDTLS_MD_SHA256);
    int rc = mbedtls_x509write_csr_set_subject_name(&csr, subject);
    if (rc == 0) rc = mbedtls_x509write_csr_set_key_usage(&csr, MBEDTLS_X509_KU_DIGITAL_SIGNATURE);
    if (rc == 0 && have_urn) {
        memset(&san, 0, sizeof san);
        san.node.type = MBEDTLS_X509_SAN_UNIFORM_RESOURCE_IDENTIFIER;
        san.node.san.unstructured_name.tag = MBEDTLS_ASN1_CONTEXT_SPECIFIC | 6;
        san.node.san.unstructured_name.p = (unsigned char *)urn;
        san.node.san.unstructured_name.len = strlen(urn);
        san.next = NULL;
        rc = mbedtls_x509write_csr_set_subject_alternative_name(&csr, &san);
    }
    if (rc != 0) {
        st = tw__err(err, "enroll", TW_ERR_GENERIC, "CSR fields rejected by mbedTLS (-0x%04x)",
                     (unsigned)-rc);
        goto out;
    }
    size_t cap = 2048;
    buf = tw__malloc(cap);
    if (!buf) {
        st = TW_ERR_NOMEM;
        goto out;
    }
    /* mbedtls writes at the end of the buffer and returns the length */
    rc = mbedtls_x509write_csr_der(&csr, buf, cap, rng, MBEDTLS_PSA_RANDOM_STATE);
    if (rc <= 0) {
        st = tw__err(err, "enroll", TW_ERR_GENERIC, "CSR signing failed (-0x%04x)", (unsigned)-rc);
        goto out;
    }
    memmove(buf, buf + cap - (size_t)rc, (size_t)rc);
    *der = buf;
    *der_len = (size_t)rc;
    buf = NULL;
    st = TW_OK;
out:
    tw__free(buf);
    mbedtls_x509write_csr_free(&csr);
    mbedtls_pk_free(&pk);
    return st;
}

static int64_t x509_time_to_unix(const mbedtls_x509_time *t)
{
    /* days from civil (proleptic Gregorian), no time zone involved */
    int y = t->year, m = t->mon, d = t->day;
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    int64_t days = era * 146097 + doe - 719468;
    return days * 86400 + t->hour * 3600 + t->min * 60 + t->sec;
}

int64_t tw__x509_time(const mbedtls_x509_time *t) { return x509_time_to_unix(t); }

tw_status tw__chain_for_key(char **out, size_t *out_len, int64_t *not_after, const char *chain_pem,
                            size_t chain_len, const char *key_pem, size_t key_pem_len,
                            tw__error *err)
{
    *out = NULL;
    *out_len = 0;
    if (tw__crypto_init() != TW_OK) return TW_ERR_GENERIC;
    mbedtls_x509_crt chain;
    mbedtls_pk_context pk;
    mbedtls_x509_crt_init(&chain);
    mbedtls_pk_init(&pk);
    tw_status st;
    char *buf = NULL;
    if (mbedtls_x509_crt_parse(&chain, (const unsigned char *)chain_pem, chain_len + 1) != 0) {
        st = tw__err(err, "enroll", TW_ERR_EST_BAD_RESPONSE, "certificate chain does not parse");
        goto out;
    }
    st = parse_key(&pk, key_pem, key_pem_len);
    if (st != TW_OK) {
        tw__err(err, "enroll", st, "the private key does not parse");
        goto out;
    }
    const mbedtls_x509_crt *leaf = NULL;
    for (const mbedtls_x509_crt *c = &chain; c && c->raw.p; c = c->next) {
        if (mbedtls_pk_check_pair(&c->pk, &pk, rng, MBEDTLS_PSA_RANDOM_STATE) == 0) {
            leaf = c;
            break;
        }
    }
    if (!leaf) {
        st = tw__err(err, "enroll", TW_ERR_EST_KEY_MISMATCH,
                     "the issued certificate does not carry our public key: rejected");
        goto out;
    }
    size_t cap = 1;
    for (const mbedtls_x509_crt *c = &chain; c && c->raw.p; c = c->next)
        cap += c->raw.len * 4 / 3 + c->raw.len / 48 + 128;
    buf = tw__malloc(cap);
    if (!buf) {
        st = TW_ERR_NOMEM;
        goto out;
    }
    size_t o = 0;
    for (int pass = 0; pass < 2; pass++) {
        for (const mbedtls_x509_crt *c = &chain; c && c->raw.p; c = c->next) {
            if ((pass == 0) != (c == leaf)) continue;
            size_t olen = 0;
            if (mbedtls_pem_write_buffer("-----BEGIN CERTIFICATE-----\n", "-----END CERTIFICATE-----\n",
                                         c->raw.p, c->raw.len, (unsigned char *)buf + o, cap - o,
                                         &olen) != 0) {
                st = tw__err(err, "enroll", TW_ERR_GENERIC, "PEM encoding failed");
                goto out;
            }
            o += olen - 1;
        }
    }
    buf[o] = '\0';
    if (not_after) *not_after = x509_time_to_unix(&leaf->valid_to);
    *out = buf;
    *out_len = o;
    buf = NULL;
    st = TW_OK;
out:
    tw__free(buf);
    mbedtls_pk_free(&pk);
    mbedtls_x509_crt_free(&chain);
    return st;
}
