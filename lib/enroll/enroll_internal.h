/*
 * Private interface of the enroll module (never installed).
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TW_ENROLL_INTERNAL_H
#define TW_ENROLL_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "internal.h"
#include "tagwire/identity.h"
#include "tagwire/enroll.h"

/* ---- PKCS#7 certs-only (pkcs7.c); base64 is the core's (internal.h) ---- */

#define TW__PKCS7_MAX_CERTS 16
typedef struct tw__der_span {
    const unsigned char *p;
    size_t len;
} tw__der_span;

/*
 * Parses a DER ContentInfo holding a certs-only (degenerate) SignedData (RFC 5652 5.1, RFC 8551
 * 3.2.2) and returns each certificate's DER (a span into `der`), in order. Rejects anything else
 * (another content type, indefinite lengths, trailing bytes, more than max certificates, none).
 * Signer infos, if any, are ignored (EST relies on TLS for authenticity). Returns TW_OK or
 * TW_ERR_EST_BAD_RESPONSE; `why` (may be NULL) gets a reason.
 */
tw_status tw__pkcs7_certs(const unsigned char *der, size_t der_len, tw__der_span *certs,
                          size_t max, size_t *count, const char **why);

/* base64 body -> DER -> certificates in PEM (concatenated, NUL-terminated, tw__malloc'ed).
 * Every certificate must parse with mbedTLS. */
tw_status tw__est_certs_to_pem(const char *body, size_t body_len, bool base64, char **pem,
                               size_t *pem_len, size_t *count, const char **why);

/* ---- keys and CSR (keys.c) ---- */

/* psa_crypto_init() once for the process; TW_OK or TW_ERR_GENERIC. */
tw_status tw__crypto_init(void);

/* A new ECDSA P-256 key as PEM (tw__malloc'ed, NUL-terminated). */
tw_status tw__key_generate_pem(char **key_pem, size_t *key_pem_len);

/* A PKCS#10 CSR (DER, tw__malloc'ed) for the identity, signed by key_pem (SHA-256). */
tw_status tw__csr_build(unsigned char **der, size_t *der_len, const char *key_pem,
                        size_t key_pem_len, const tw_identity *id, tw__error *err);

/*
 * Orders a PEM chain so that the certificate whose public key matches key_pem comes first
 * (the rest keep their order). TW_ERR_EST_KEY_MISMATCH when no certificate matches.
 * *out is tw__malloc'ed PEM. not_after (may be NULL) gets the leaf's notAfter (Unix seconds).
 */
tw_status tw__chain_for_key(char **out, size_t *out_len, int64_t *not_after, const char *chain_pem,
                            size_t chain_len, const char *key_pem, size_t key_pem_len,
                            tw__error *err);

/* An X.509 time as Unix seconds (UTC). */
struct mbedtls_x509_time;
int64_t tw__x509_time(const struct mbedtls_x509_time *t);

/* ---- credential store (store.c) ---- */

/* Crash injection for tests: when set, called at each named step of a store update. */
extern void (*tw__store_crash_hook)(const char *point);

/* Creates the directory (0700) when missing and removes unreferenced generations and temporary
 * files left by an interrupted update. */
tw_status tw__store_open(const char *dir, tw__error *err);
/* Writes a new generation and points `current` (make_current) or `pending` at it. */
tw_status tw__store_put(const char *dir, const char *key_pem, size_t key_len, const char *chain_pem,
                        size_t chain_len, bool make_current, tw__error *err);
tw_status tw__store_commit(const char *dir, tw__error *err);
tw_status tw__store_rollback(const char *dir, tw__error *err);
/* Atomic write of one file (temp, fsync, rename, fsync dir), mode 0600. */
tw_status tw__write_file_atomic(const char *dir, const char *name, const void *data, size_t len,
                                tw__error *err);
/* Reads a whole file (<= max bytes) into a NUL-terminated tw__malloc'ed buffer. */
tw_status tw__read_file(const char *path, size_t max, char **data, size_t *len);

/* ---- EST client (est.c) ---- */
/* HTTP attempts made by the last blocking EST call (for tests). */
unsigned tw__enroll_attempts(const tw_enroll *e);

#endif
