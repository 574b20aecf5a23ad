/* Mutual-TLS client transport on mbedTLS 3.6. SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <mbedtls/asn1.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/psa_util.h>
#include <mbedtls/sha256.h>
#include <mbedtls/ssl.h>
#include <mbedtls/version.h>
#include <mbedtls/x509_crl.h>
#include <mbedtls/x509_crt.h>
#include <psa/crypto.h>

#include "tagwire/tls.h"
#include "tls_internal.h"
#include "transport_internal.h"

#define MOD "tls"
#define MAX_PINS 16

/* ---- one-time PSA initialisation ---------------------------------------------------------------- */

static pthread_once_t psa_once = PTHREAD_ONCE_INIT;
static psa_status_t psa_init_status = PSA_ERROR_BAD_STATE;
static void psa_init_once(void) { psa_init_status = psa_crypto_init(); }

tw_status tw__tls_global_init(void)
{
    pthread_once(&psa_once, psa_init_once);
    return psa_init_status == PSA_SUCCESS ? TW_OK : TW_ERR_TLS;
}

static int rng(void *p, unsigned char *out, size_t len) { return mbedtls_psa_get_random(p, out, len); }

/* ---- helpers ------------------------------------------------------------------------------------ */

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

int64_t tw__tls_x509_time(const mbedtls_x509_time *t)
{
    if (t->mon < 1 || t->mon > 12) return 0;
    return days_from_civil(t->year, (unsigned)t->mon, (unsigned)t->day) * 86400 + t->hour * 3600 +
           t->min * 60 + t->sec;
}

static void fmt_time(char *buf, size_t n, const mbedtls_x509_time *t)
{
    snprintf(buf, n, "%04d-%02d-%02d %02d:%02d:%02d UTC", t->year, t->mon, t->day, t->hour, t->min,
             t->sec);
}

static void mbed_errstr(int ret, char *buf, size_t n)
{
    char tmp[160];
    mbedtls_strerror(ret, tmp, sizeof tmp);
    snprintf(buf, n, "%s (-0x%04x)", tmp, (unsigned)-ret);
}

/* Reads a whole file and appends a NUL (so PEM parsers see a terminated string). */
static tw_status read_file(const char *path, unsigned char **out, size_t *len, tw__error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return tw__err(err, MOD, TW_ERR_NOT_FOUND, "cannot open %s: %s", path, strerror(errno));
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n + 4096 + 1 > cap) {
            size_t nc = cap ? cap * 2 : 8192;
            if (nc > (64u << 20)) {
                tw__free(buf);
                fclose(f);
                return tw__err(err, MOD, TW_ERR_RANGE, "%s: file too large", path);
            }
            unsigned char *nb = tw__realloc(buf, nc);
            if (!nb) {
                tw__free(buf);
                fclose(f);
                return tw__err(err, MOD, TW_ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
            cap = nc;
        }
        size_t r = fread(buf + n, 1, cap - n - 1, f);
        n += r;
        if (r == 0) break;
    }
    int bad = ferror(f) ? errno : 0;
    fclose(f);
    if (bad) {
        tw__free(buf);
        return tw__err(err, MOD, TW_ERR_IO, "cannot read %s: %s", path, strerror(bad));
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    return TW_OK;
}

/* Copies memory into a NUL-terminated buffer; *plen becomes the length to give to mbedTLS parsers
 * (including the NUL for PEM, which mbedTLS requires). */
static unsigned char *pem_or_der(const void *data, size_t len, size_t *plen)
{
    unsigned char *b = tw__malloc(len + 1);
    if (!b) return NULL;
    memcpy(b, data, len);
    b[len] = 0;
    *plen = (len && strstr((const char *)b, "-----BEGIN ")) ? len + 1 : len;
    return b;
}

static void wipe_free(unsigned char *b, size_t n)
{
    if (!b) return;
    mbedtls_platform_zeroize(b, n);
    tw__free(b);
}

/* ---- credentials snapshot ----------------------------------------------------------------------- */

/* An opaque (callback) key: a copy of mbedTLS's EC key wrapper with the sign entry replaced.
 * mbedTLS 3.6 keeps the function table type private (library/pk_wrap.h); its layout for 3.6 is
 * reproduced here, and tw_tls_config_set_credentials_signer() proves at run time that a
 * signature made through it comes from the callback and verifies, else refuses the key. */
#if MBEDTLS_VERSION_NUMBER >= 0x03060000 && MBEDTLS_VERSION_NUMBER < 0x03070000 &&                 \
    !defined(MBEDTLS_USE_PSA_CRYPTO) && defined(MBEDTLS_ECDSA_C)
#define TW_HAVE_SIGNER 1
typedef void (*any_fn)(void);
typedef int (*sign_fn_t)(mbedtls_pk_context *pk, mbedtls_md_type_t md_alg, const unsigned char *hash,
                         size_t hash_len, unsigned char *sig, size_t sig_size, size_t *sig_len,
                         int (*f_rng)(void *, unsigned char *, size_t), void *p_rng);
typedef struct pk_info_36 {
    mbedtls_pk_type_t type;
    const char *name;
    any_fn get_bitlen;
    any_fn can_do;
    any_fn verify_func;
    sign_fn_t sign_func;
#if defined(MBEDTLS_ECP_RESTARTABLE)
    any_fn verify_rs_func;
    any_fn sign_rs_func;
#endif
    any_fn decrypt_func;
    any_fn encrypt_func;
    any_fn check_pair_func;
    any_fn ctx_alloc_func;
    any_fn ctx_free_func;
#if defined(MBEDTLS_ECP_RESTARTABLE)
    any_fn rs_alloc_func;
    any_fn rs_free_func;
#endif
    any_fn debug_func;
} pk_info_36;
#endif

typedef struct signer {
#ifdef TW_HAVE_SIGNER
    pk_info_36 info; /* first: mbedTLS hands its address back to sign_func */
#endif
    tw_tls_sign_fn fn;
    void *user_data;
    size_t bits;
    atomic_uint calls;
} signer;

struct tw__creds {
    atomic_int refs;
    mbedtls_x509_crt chain;
    mbedtls_pk_context key;
    signer *sig; /* opaque key, or NULL */
    int64_t not_after;
    uint64_t gen;
};

static void creds_unref(tw__creds *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
    mbedtls_pk_free(&c->key);
    mbedtls_x509_crt_free(&c->chain);
    tw__free(c->sig);
    tw__free(c);
}

static tw__creds *creds_new(void)
{
    tw__creds *c = tw__calloc(1, sizeof *c);
    if (!c) return NULL;
    atomic_init(&c->refs, 1);
    mbedtls_x509_crt_init(&c->chain);
    mbedtls_pk_init(&c->key);
    return c;
}

/* ---- config ------------------------------------------------------------------------------------- */

struct tw_tls_config {
    atomic_int refs;
    pthread_mutex_t mu; /* guards creds, creds_gen and err */
    mbedtls_x509_crt ca;
    int have_ca;
    mbedtls_x509_crl crl;
    int have_crl;
    tw__creds *creds;
    uint64_t creds_gen;
    char *server_name;
    uint8_t pins[MAX_PINS][32];
    int npins;
    uint16_t min_ver, max_ver;
    int suites[16]; /* 0-terminated; suites[0] == 0: the default list */
    int resumption;
    uint32_t hs_ms, io_ms, post_ms;
    tw__error err;
};

tw_status tw_tls_config_new(tw_tls_config **out)
{
    if (!out) return TW_ERR_INVALID_ARG;
    *out = NULL;
    tw_status st = tw__check_init();
    if (st) return st;
    if (tw__tls_global_init() != TW_OK) return tw__err(NULL, MOD, TW_ERR_TLS, "psa_crypto_init failed");
    tw_tls_config *c = tw__calloc(1, sizeof *c);
    if (!c) return tw__err(NULL, MOD, TW_ERR_NOMEM, "out of memory");
    atomic_init(&c->refs, 1);
    pthread_mutex_init(&c->mu, NULL);
    mbedtls_x509_crt_init(&c->ca);
    mbedtls_x509_crl_init(&c->crl);
    c->min_ver = TW_TLS_VERSION_1_2;
#ifdef MBEDTLS_SSL_PROTO_TLS1_3
    c->max_ver = TW_TLS_VERSION_1_3;
#else
    c->max_ver = TW_TLS_VERSION_1_2;
#endif
    c->resumption = 1;
    c->hs_ms = 10000;
    c->io_ms = 30000;
    c->post_ms = 500;
    *out = c;
    return TW_OK;
}

tw_tls_config *tw__tls_config_ref(tw_tls_config *c)
{
    atomic_fetch_add(&c->refs, 1);
    return c;
}

void tw_tls_config_free(tw_tls_config *c)
{
    if (!c || atomic_fetch_sub(&c->refs, 1) != 1) return;
    creds_unref(c->creds);
    mbedtls_x509_crt_free(&c->ca);
    mbedtls_x509_crl_free(&c->crl);
    tw__free(c->server_name);
    pthread_mutex_destroy(&c->mu);
    tw__free(c);
}

const char *tw_tls_config_last_error(const tw_tls_config *c)
{
    if (!c || c->err.code == TW_OK) return "";
    return tw__err_msg(&c->err);
}

tw_status tw_tls_config_last_status(const tw_tls_config *c)
{
    if (!c) return TW_ERR_INVALID_ARG;
    pthread_mutex_lock((pthread_mutex_t *)&c->mu);
    tw_status st = c->err.code;
    pthread_mutex_unlock((pthread_mutex_t *)&c->mu);
    return st;
}

static tw_status parse_ca(tw_tls_config *c, const unsigned char *buf, size_t plen, const char *what)
{
    int ret = mbedtls_x509_crt_parse(&c->ca, buf, plen);
    if (ret < 0) {
        char e[200];
        mbed_errstr(ret, e, sizeof e);
        return tw__err(&c->err, MOD, TW_ERR_PARSE, "%s: no CA certificate could be parsed: %s", what, e);
    }
    if (ret > 0)
        tw__log(TW_LOG_WARN, MOD, "%s: %d certificate(s) could not be parsed and were skipped", what, ret);
    c->have_ca = 1;
    return TW_OK;
}

/* A parser of a CA bundle or a CRL (PEM with its terminating NUL counted, or DER). */
typedef tw_status (*pem_der_parse_fn)(tw_tls_config *c, const unsigned char *buf, size_t plen, const char *what);

/* Reads a PEM or DER file and hands it to `parse` (`path` names it in messages). */
static tw_status load_file(tw_tls_config *c, const char *path, pem_der_parse_fn parse)
{
    if (!c || !path) return TW_ERR_INVALID_ARG;
    unsigned char *b;
    size_t n;
    tw_status st = read_file(path, &b, &n, &c->err);
    if (st) return st;
    size_t plen = strstr((char *)b, "-----BEGIN ") ? n + 1 : n;
    st = parse(c, b, plen, path);
    tw__free(b);
    return st;
}

/* The same for a caller's buffer (`what` names it in messages). */
static tw_status load_mem(tw_tls_config *c, const void *data, size_t len, const char *what,
                          pem_der_parse_fn parse)
{
    if (!c || !data || !len) return TW_ERR_INVALID_ARG;
    size_t plen;
    unsigned char *b = pem_or_der(data, len, &plen);
    if (!b) return TW_ERR_NOMEM;
    tw_status st = parse(c, b, plen, what);
    tw__free(b);
    return st;
}

tw_status tw_tls_config_set_ca_file(tw_tls_config *c, const char *path) { return load_file(c, path, parse_ca); }

tw_status tw_tls_config_set_ca_mem(tw_tls_config *c, const void *data, size_t len)
{
    return load_mem(c, data, len, "CA bundle", parse_ca);
}

static tw_status parse_crl(tw_tls_config *c, const unsigned char *buf, size_t plen, const char *what)
{
    int ret = mbedtls_x509_crl_parse(&c->crl, buf, plen);
    if (ret != 0) {
        char e[200];
        mbed_errstr(ret, e, sizeof e);
        return tw__err(&c->err, MOD, TW_ERR_PARSE, "%s: CRL could not be parsed: %s", what, e);
    }
    c->have_crl = 1;
    return TW_OK;
}

tw_status tw_tls_config_set_crl_file(tw_tls_config *c, const char *path) { return load_file(c, path, parse_crl); }

tw_status tw_tls_config_set_crl_mem(tw_tls_config *c, const void *data, size_t len)
{
    return load_mem(c, data, len, "CRL", parse_crl);
}

/* Installs a fully built snapshot (takes the caller's reference). */
static void install_creds(tw_tls_config *c, tw__creds *n)
{
    pthread_mutex_lock(&c->mu);
    n->gen = ++c->creds_gen;
    tw__creds *old = c->creds;
    c->creds = n;
    tw__err_clear(&c->err);
    pthread_mutex_unlock(&c->mu);
    creds_unref(old);
    char subj[256] = "";
    mbedtls_x509_dn_gets(subj, sizeof subj, &n->chain.subject);
    tw__log(TW_LOG_INFO, MOD, "client credentials installed (generation %llu, subject %s)",
            (unsigned long long)n->gen, subj);
}

static tw_status cred_err(tw_tls_config *c, tw_status st, int ret, const char *what)
{
    char e[200] = "";
    if (ret) mbed_errstr(ret, e, sizeof e);
    pthread_mutex_lock(&c->mu);
    tw__err(&c->err, MOD, st, "own credentials: %s%s%s", what, ret ? ": " : "", e);
    pthread_mutex_unlock(&c->mu);
    return st;
}

static tw_status creds_from_mem(tw_tls_config *c, const unsigned char *cert, size_t cert_plen,
                                const unsigned char *key, size_t key_plen, const char *pw)
{
    tw__creds *n = creds_new();
    if (!n) return TW_ERR_NOMEM;
    int ret = mbedtls_x509_crt_parse(&n->chain, cert, cert_plen);
    if (ret != 0) {
        creds_unref(n);
        return cred_err(c, TW_ERR_TLS_CREDENTIALS, ret, "certificate chain could not be parsed");
    }
    ret = mbedtls_pk_parse_key(&n->key, key, key_plen, (const unsigned char *)pw, pw ? strlen(pw) : 0,
                               rng, NULL);
    if (ret != 0) {
        creds_unref(n);
        return cred_err(c, TW_ERR_TLS_CREDENTIALS, ret, "private key could not be parsed");
    }
    ret = mbedtls_pk_check_pair(&n->chain.pk, &n->key, rng, NULL);
    if (ret != 0) {
        creds_unref(n);
        return cred_err(c, TW_ERR_TLS_CREDENTIALS, ret, "private key does not match the certificate");
    }
    n->not_after = tw__tls_x509_time(&n->chain.valid_to);
    install_creds(c, n);
    return TW_OK;
}

tw_status tw_tls_config_set_credentials_mem(tw_tls_config *c, const void *cert, size_t cert_len,
                                            const void *key, size_t key_len, const char *pw)
{
    if (!c || !cert || !cert_len || !key || !key_len) return TW_ERR_INVALID_ARG;
    size_t cp, kp;
    unsigned char *cb = pem_or_der(cert, cert_len, &cp);
    unsigned char *kb = pem_or_der(key, key_len, &kp);
    tw_status st = (cb && kb) ? creds_from_mem(c, cb, cp, kb, kp, pw) : TW_ERR_NOMEM;
    tw__free(cb);
    wipe_free(kb, key_len + 1);
    return st;
}

tw_status tw_tls_config_set_credentials_file(tw_tls_config *c, const char *cert_path,
                                             const char *key_path, const char *pw)
{
    if (!c || !cert_path || !key_path) return TW_ERR_INVALID_ARG;
    unsigned char *cb = NULL, *kb = NULL;
    size_t cn = 0, kn = 0;
    tw__error e = {0};
    tw_status st = read_file(cert_path, &cb, &cn, &e);
    if (!st) st = read_file(key_path, &kb, &kn, &e);
    if (st) {
        tw__free(cb);
        pthread_mutex_lock(&c->mu);
        c->err = e;
        pthread_mutex_unlock(&c->mu);
        return st;
    }
    st = creds_from_mem(c, cb, strstr((char *)cb, "-----BEGIN ") ? cn + 1 : cn, kb,
                        strstr((char *)kb, "-----BEGIN ") ? kn + 1 : kn, pw);
    tw__free(cb);
    wipe_free(kb, kn + 1);
    return st;
}

#ifdef TW_HAVE_SIGNER
static int signer_sign(mbedtls_pk_context *pk, mbedtls_md_type_t md_alg, const unsigned char *hash,
                       size_t hash_len, unsigned char *sig, size_t sig_size, size_t *sig_len,
                       int (*f_rng)(void *, unsigned char *, size_t), void *p_rng)
{
    (void)f_rng;
    (void)p_rng;
    const signer *s = (const signer *)(const void *)pk->MBEDTLS_PRIVATE(pk_info);
    tw_tls_hash h;
    switch (md_alg) {
    case MBEDTLS_MD_SHA256: h = TW_TLS_HASH_SHA256; break;
    case MBEDTLS_MD_SHA384: h = TW_TLS_HASH_SHA384; break;
    case MBEDTLS_MD_SHA512: h = TW_TLS_HASH_SHA512; break;
    default: return MBEDTLS_ERR_PK_BAD_INPUT_DATA;
    }
    atomic_fetch_add((atomic_uint *)&s->calls, 1);
    uint8_t out[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t n = 0;
    if (s->fn(h, hash, hash_len, out, sizeof out, &n, s->user_data) != TW_OK || n == 0 || n > sizeof out)
        return MBEDTLS_ERR_PK_BAD_INPUT_DATA;
    size_t coord = (s->bits + 7) / 8;
    if (n == 2 * coord) {
        int ret = mbedtls_ecdsa_raw_to_der(s->bits, out, n, sig, sig_size, sig_len);
        return ret ? MBEDTLS_ERR_PK_BAD_INPUT_DATA : 0;
    }
    if (n > sig_size || out[0] != 0x30) return MBEDTLS_ERR_PK_BAD_INPUT_DATA;
    memcpy(sig, out, n);
    *sig_len = n;
    return 0;
}
#endif

tw_status tw_tls_config_set_credentials_signer(tw_tls_config *c, const void *cert, size_t cert_len,
                                               tw_tls_sign_fn fn, void *user_data)
{
    if (!c || !cert || !cert_len || !fn) return TW_ERR_INVALID_ARG;
#ifndef TW_HAVE_SIGNER
    (void)user_data;
    return cred_err(c, TW_ERR_UNSUPPORTED, 0, "opaque keys need mbedTLS 3.6 without USE_PSA_CRYPTO");
#else
    size_t cp;
    unsigned char *cb = pem_or_der(cert, cert_len, &cp);
    if (!cb) return TW_ERR_NOMEM;
    tw__creds *n = creds_new();
    if (!n) {
        tw__free(cb);
        return TW_ERR_NOMEM;
    }
    int ret = mbedtls_x509_crt_parse(&n->chain, cb, cp);
    tw__free(cb);
    if (ret != 0) {
        creds_unref(n);
        return cred_err(c, TW_ERR_TLS_CREDENTIALS, ret, "certificate chain could not be parsed");
    }
    if (mbedtls_pk_get_type(&n->chain.pk) != MBEDTLS_PK_ECKEY) {
        creds_unref(n);
        return cred_err(c, TW_ERR_UNSUPPORTED, 0, "opaque keys must be EC keys (the certificate has another key type)");
    }
    /* Public key copy: the EC context mbedTLS reads (curve, point) while the callback signs. */
    unsigned char der[512];
    int dl = mbedtls_pk_write_pubkey_der(&n->chain.pk, der, sizeof der);
    if (dl <= 0 || mbedtls_pk_parse_public_key(&n->key, der + sizeof der - dl, (size_t)dl) != 0) {
        creds_unref(n);
        return cred_err(c, TW_ERR_TLS_CREDENTIALS, 0, "certificate public key unusable");
    }
    signer *s = tw__calloc(1, sizeof *s);
    if (!s) {
        creds_unref(n);
        return TW_ERR_NOMEM;
    }
    const mbedtls_pk_info_t *real = n->key.MBEDTLS_PRIVATE(pk_info);
    memcpy(&s->info, real, sizeof s->info);
    if (s->info.type != MBEDTLS_PK_ECKEY || s->info.name != mbedtls_pk_get_name(&n->key)) {
        tw__free(s);
        creds_unref(n);
        return cred_err(c, TW_ERR_UNSUPPORTED, 0, "this mbedTLS build's key table layout is unknown");
    }
    s->info.sign_func = signer_sign;
    s->fn = fn;
    s->user_data = user_data;
    s->bits = mbedtls_pk_get_bitlen(&n->key);
    atomic_init(&s->calls, 0);
    n->key.MBEDTLS_PRIVATE(pk_info) = (const mbedtls_pk_info_t *)(const void *)&s->info;
    n->sig = s;
    /* Self-test: a signature over a test digest goes through the callback and verifies. */
    unsigned char digest[32], sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
    size_t sl = 0;
    mbedtls_sha256((const unsigned char *)"tagwire signer self-test", 24, digest, 0);
    ret = mbedtls_pk_sign(&n->key, MBEDTLS_MD_SHA256, digest, 32, sig, sizeof sig, &sl, rng, NULL);
    if (ret != 0 || atomic_load(&s->calls) != 1 ||
        mbedtls_pk_verify(&n->chain.pk, MBEDTLS_MD_SHA256, digest, 32, sig, sl) != 0) {
        int called = (int)atomic_load(&s->calls);
        creds_unref(n);
        if (!called)
            return cred_err(c, TW_ERR_UNSUPPORTED, 0, "opaque key hook not effective in this mbedTLS build");
        return cred_err(c, TW_ERR_TLS_CREDENTIALS, 0,
                        "the signing callback's test signature does not verify with the certificate's key");
    }
    n->not_after = tw__tls_x509_time(&n->chain.valid_to);
    install_creds(c, n);
    return TW_OK;
#endif
}

tw_status tw_tls_config_own_not_after(const tw_tls_config *cc, int64_t *not_after)
{
    if (!cc || !not_after) return TW_ERR_INVALID_ARG;
    tw_tls_config *c = (tw_tls_config *)cc;
    pthread_mutex_lock(&c->mu);
    tw_status st = c->creds ? TW_OK : TW_ERR_NOT_FOUND;
    if (c->creds) *not_after = c->creds->not_after;
    pthread_mutex_unlock(&c->mu);
    return st;
}

tw_status tw_tls_config_set_server_name(tw_tls_config *c, const char *name)
{
    if (!c) return TW_ERR_INVALID_ARG;
    char *n = NULL;
    if (name && *name) {
        if (strlen(name) > 253) return tw__err(&c->err, MOD, TW_ERR_INVALID_ARG, "server name too long");
        if (!(n = tw__strdup(name))) return TW_ERR_NOMEM;
    }
    tw__free(c->server_name);
    c->server_name = n;
    return TW_OK;
}

tw_status tw_tls_config_add_pin(tw_tls_config *c, const char *pin)
{
    if (!c || !pin) return TW_ERR_INVALID_ARG;
    if (c->npins >= MAX_PINS) return tw__err(&c->err, MOD, TW_ERR_FULL, "more than %d pins", MAX_PINS);
    if (tw__pin_parse(pin, c->pins[c->npins]) != TW_OK)
        return tw__err(&c->err, MOD, TW_ERR_PARSE, "pin \"%.80s\" is not sha256/ + base64 of 32 bytes", pin);
    c->npins++;
    return TW_OK;
}

tw_status tw_tls_config_set_versions(tw_tls_config *c, unsigned min_version, unsigned max_version)
{
    if (!c) return TW_ERR_INVALID_ARG;
    if (min_version != TW_TLS_VERSION_1_2 && min_version != TW_TLS_VERSION_1_3)
        return tw__err(&c->err, MOD, TW_ERR_INVALID_ARG, "minimum version must be TLS 1.2 or 1.3");
    if ((max_version != TW_TLS_VERSION_1_2 && max_version != TW_TLS_VERSION_1_3) || max_version < min_version)
        return tw__err(&c->err, MOD, TW_ERR_INVALID_ARG, "maximum version must be TLS 1.2 or 1.3, >= minimum");
#ifndef MBEDTLS_SSL_PROTO_TLS1_3
    if (max_version == TW_TLS_VERSION_1_3)
        return tw__err(&c->err, MOD, TW_ERR_UNSUPPORTED, "TLS 1.3 is not built into mbedTLS");
#endif
    c->min_ver = (uint16_t)min_version;
    c->max_ver = (uint16_t)max_version;
    return TW_OK;
}

tw_status tw_tls_config_set_resumption(tw_tls_config *c, int enabled)
{
    if (!c) return TW_ERR_INVALID_ARG;
    c->resumption = enabled != 0;
    return TW_OK;
}

tw_status tw_tls_config_set_timeouts(tw_tls_config *c, uint32_t hs_ms, uint32_t io_ms, uint32_t post_ms)
{
    if (!c || hs_ms > 3600000u || io_ms > 86400000u || post_ms > 60000u) return TW_ERR_INVALID_ARG;
    if (hs_ms) c->hs_ms = hs_ms;
    if (io_ms) c->io_ms = io_ms;
    if (post_ms) c->post_ms = post_ms;
    return TW_OK;
}

/* ---- the TLS transport -------------------------------------------------------------------------- */

enum { ST_IDLE, ST_TCP, ST_HS, ST_POST, ST_OPEN };

static const int default_suites[] = {
#ifdef MBEDTLS_SSL_PROTO_TLS1_3
    MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
    MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
    MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,
#endif
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    0};

tw_status tw_tls_config_set_suites(tw_tls_config *c, const uint16_t *suites, size_t n)
{
    if (!c || (n && !suites) || n > 15) return TW_ERR_INVALID_ARG;
    for (size_t i = 0; i < n; i++) {
        int ok = 0;
        for (const int *d = default_suites; *d; d++) ok |= *d == suites[i];
        if (!ok)
            return tw__err(&c->err, MOD, TW_ERR_UNSUPPORTED,
                           "cipher suite 0x%04x is not an AEAD + ECDHE suite of the default set", suites[i]);
    }
    for (size_t i = 0; i < n; i++) c->suites[i] = suites[i];
    c->suites[n] = 0;
    return TW_OK;
}

static const uint16_t default_groups[] = {MBEDTLS_SSL_IANA_TLS_GROUP_X25519,
                                          MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
                                          MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1, 0};

typedef struct tls_conn {
    tw_transport *self;
    tw_tls_config *cfg;
    tw_transport *inner;
    tw__error *err;
    int st;
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    int have_conf, used;
    tw__creds *creds; /* snapshot the conf points to */
    /* saved session for resumption */
    mbedtls_ssl_session saved;
    int have_saved;
    uint64_t saved_gen;
    char saved_host[256];
    uint16_t saved_port;
    char saved_subject[256];
    char saved_role[64];
    int64_t saved_not_after;
    /* per handshake */
    int offered, verified, pin_match, pin_fail, sign_fail;
    char v_subject[200], v_issuer[200], v_key[48]; /* leaf seen by the verify callback */
    mbedtls_x509_time v_from, v_to;
    unsigned want;
    int64_t start_ns, hs_deadline, post_deadline;
    tw_status inner_st;
    char inner_msg[TW__ERRMSG_MAX];
    tw_status hs_send_st; /* a send that failed during the handshake (kept back: see bio_send) */
    char hs_send_msg[TW__ERRMSG_MAX];
    /* data path */
    size_t wpending;
    int has_stash;
    unsigned char stash;
    char host[256];
    uint16_t port;
    tw_tls_info info;
} tls_conn;

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
    tls_conn *c = ctx;
    size_t n = 0;
    if (c->hs_send_st && (c->st == ST_HS || c->st == ST_POST)) return (int)len;
    tw_status st = tw_transport_write(c->inner, buf, len, &n);
    if (st == TW_OK) return (int)n;
    if (st == TW_ERR_AGAIN) return MBEDTLS_ERR_SSL_WANT_WRITE;
    if (c->st == ST_HS || c->st == ST_POST) {
        /* A server that refuses our certificate sends an alert and closes while the rest of our
         * flight is still arriving, so our next write fails (EPIPE/ECONNRESET) although the alert
         * that says why is already in our receive queue. Drop the unsendable bytes and let the
         * handshake read on: it meets the alert (or the error); the send error is reported if
         * nothing better comes (never a success: see tls_connect). */
        c->hs_send_st = st;
        tw__strlcpy(c->hs_send_msg, tw_transport_last_error(c->inner), sizeof c->hs_send_msg);
        return (int)len;
    }
    c->inner_st = st;
    tw__strlcpy(c->inner_msg, tw_transport_last_error(c->inner), sizeof c->inner_msg);
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
    tls_conn *c = ctx;
    size_t n = 0;
    tw_status st = tw_transport_read(c->inner, buf, len, &n);
    if (st == TW_OK) return (int)n;
    if (st == TW_ERR_AGAIN) return MBEDTLS_ERR_SSL_WANT_READ;
    if (st == TW_ERR_CLOSED) return 0;
    c->inner_st = st;
    tw__strlcpy(c->inner_msg, tw_transport_last_error(c->inner), sizeof c->inner_msg);
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

static int verify_cb(void *ctx, mbedtls_x509_crt *crt, int depth, uint32_t *flags)
{
    tls_conn *c = ctx;
    c->verified = 1;
    if (depth == 0) { /* for error messages: the session's peer certificate is gone on failure */
        mbedtls_x509_dn_gets(c->v_subject, sizeof c->v_subject, &crt->subject);
        mbedtls_x509_dn_gets(c->v_issuer, sizeof c->v_issuer, &crt->issuer);
        c->v_from = crt->valid_from;
        c->v_to = crt->valid_to;
        snprintf(c->v_key, sizeof c->v_key, "%s-%u", mbedtls_pk_get_name(&crt->pk),
                 (unsigned)mbedtls_pk_get_bitlen(&crt->pk));
    }
    tw_tls_config *cfg = c->cfg;
    if (cfg->npins == 0) return 0;
    /* Called for each certificate from the trust anchor down to the leaf (depth 0, last). */
    unsigned char der[2048];
    int dl = mbedtls_pk_write_pubkey_der(&crt->pk, der, sizeof der);
    if (dl > 0) {
        unsigned char h[32];
        mbedtls_sha256(der + sizeof der - dl, (size_t)dl, h, 0);
        for (int i = 0; i < cfg->npins; i++)
            if (memcmp(h, cfg->pins[i], 32) == 0) c->pin_match = 1;
    }
    if (depth == 0 && !c->pin_match) {
        c->pin_fail = 1;
        *flags |= MBEDTLS_X509_BADCERT_OTHER;
    }
    return 0;
}

static const char *alert_name(int a)
{
    switch (a) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 86: return "inappropriate_fallback";
    case 90: return "user_canceled";
    case 109: return "missing_extension";
    case 110: return "unsupported_extension";
    case 112: return "unrecognized_name";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    default: return "unknown alert";
    }
}

static tw_status map_verify(tls_conn *c)
{
    uint32_t f = mbedtls_ssl_get_verify_result(&c->ssl);
    char when[40] = "?";
    const char *subj = c->verified ? c->v_subject : "?";
    const char *issuer = c->verified ? c->v_issuer : "?";
    const char *name = c->cfg->server_name ? c->cfg->server_name : c->host;
    if (f & MBEDTLS_X509_BADCERT_NOT_TRUSTED)
        return tw__err(c->err, MOD, TW_ERR_TLS_UNKNOWN_CA,
                       "unknown CA: server certificate \"%s\" (issuer \"%s\") does not chain to a trusted CA",
                       subj, issuer);
    if (f & MBEDTLS_X509_BADCERT_REVOKED)
        return tw__err(c->err, MOD, TW_ERR_TLS_REVOKED,
                       "revoked: server certificate \"%s\" (or its chain) is listed in the CRL", subj);
    if (f & MBEDTLS_X509_BADCERT_EXPIRED) {
        if (c->verified) fmt_time(when, sizeof when, &c->v_to);
        return tw__err(c->err, MOD, TW_ERR_TLS_CERT_EXPIRED,
                       "expired: server certificate \"%s\" (or its chain) expired (leaf not after %s)", subj, when);
    }
    if (f & MBEDTLS_X509_BADCERT_FUTURE) {
        if (c->verified) fmt_time(when, sizeof when, &c->v_from);
        return tw__err(c->err, MOD, TW_ERR_TLS_CERT_NOT_YET_VALID,
                       "not yet valid: server certificate \"%s\" (or its chain) is valid only from %s", subj, when);
    }
    if (f & MBEDTLS_X509_BADCERT_CN_MISMATCH)
        return tw__err(c->err, MOD, TW_ERR_TLS_HOSTNAME,
                       "hostname mismatch: server certificate \"%s\" is not valid for \"%s\"", subj, name);
    if (f & (MBEDTLS_X509_BADCERT_BAD_KEY | MBEDTLS_X509_BADCERT_BAD_PK | MBEDTLS_X509_BADCERT_BAD_MD)) {
        const char *k = c->verified ? c->v_key : "?";
        return tw__err(c->err, MOD, TW_ERR_TLS_WEAK_KEY,
                       "weak key: server chain \"%s\" uses a key or signature below policy (leaf key %s%s%s)",
                       subj, k, (f & MBEDTLS_X509_BADCERT_BAD_MD) ? ", weak hash" : "",
                       (f & MBEDTLS_X509_BADCERT_BAD_PK) ? ", disallowed key type" : "");
    }
    if (f & (MBEDTLS_X509_BADCRL_NOT_TRUSTED | MBEDTLS_X509_BADCRL_EXPIRED | MBEDTLS_X509_BADCRL_FUTURE |
             MBEDTLS_X509_BADCRL_BAD_MD | MBEDTLS_X509_BADCRL_BAD_PK | MBEDTLS_X509_BADCRL_BAD_KEY))
        return tw__err(c->err, MOD, TW_ERR_TLS_CRL, "CRL unusable: the configured CRL is %s",
                       (f & MBEDTLS_X509_BADCRL_EXPIRED) ? "expired (past nextUpdate)"
                       : (f & MBEDTLS_X509_BADCRL_FUTURE) ? "not yet valid"
                       : (f & MBEDTLS_X509_BADCRL_NOT_TRUSTED) ? "not signed by a trusted CA"
                                                            : "signed with a weak key or hash");
    if (c->pin_fail == 1)
        return tw__err(c->err, MOD, TW_ERR_TLS_PIN,
                       "pin mismatch: no key in the chain of \"%s\" matches a configured sha256 pin", subj);
    char info[256];
    mbedtls_x509_crt_verify_info(info, sizeof info, "", f);
    for (char *p = info; *p; p++)
        if (*p == '\n') *p = ';';
    return tw__err(c->err, MOD, TW_ERR_TLS_BAD_CERT, "bad certificate: \"%s\": %s", subj, info);
}

static tw_status map_ssl(tls_conn *c, int ret, int during_hs)
{
    char e[200];
    mbed_errstr(ret, e, sizeof e);
    switch (ret) {
    case MBEDTLS_ERR_X509_CERT_VERIFY_FAILED:
        return map_verify(c);
    case MBEDTLS_ERR_SSL_FATAL_ALERT_MESSAGE: {
        int a = c->ssl.MBEDTLS_PRIVATE(in_msg) ? c->ssl.MBEDTLS_PRIVATE(in_msg)[1] : -1;
        if (a == 70)
            return tw__err(c->err, MOD, TW_ERR_TLS_VERSION,
                           "version too old or no common version: %s:%u sent alert protocol_version (70)",
                           c->host, (unsigned)c->port);
        return tw__err(c->err, MOD, TW_ERR_TLS_PEER_REFUSED,
                       "handshake refused by peer: %s:%u sent alert %s (%d)%s", c->host, (unsigned)c->port,
                       alert_name(a), a,
                       (a == 116 || a == 42 || a == 46 || a == 48 || a == 43 || a == 45 || a == 44 || a == 49)
                           ? ": it did not accept our client certificate"
                       : a == 40 ? ": it rejected our client certificate (or has no parameters in common)"
                                 : "");
    }
    case MBEDTLS_ERR_SSL_BAD_PROTOCOL_VERSION:
        return tw__err(c->err, MOD, TW_ERR_TLS_VERSION,
                       "version too old: %s:%u offered a protocol version below TLS 1.2 (or above our maximum)",
                       c->host, (unsigned)c->port);
    case MBEDTLS_ERR_NET_SEND_FAILED:
    case MBEDTLS_ERR_NET_RECV_FAILED:
        return tw__err(c->err, MOD, c->inner_st ? c->inner_st : TW_ERR_IO, "%s", c->inner_msg);
    case MBEDTLS_ERR_SSL_CONN_EOF:
    case MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY:
        if (during_hs)
            return tw__err(c->err, MOD, TW_ERR_TLS_PEER_REFUSED,
                           "handshake refused by peer: %s:%u closed the connection during the handshake",
                           c->host, (unsigned)c->port);
        return tw__err(c->err, MOD, TW_ERR_CLOSED, "peer closed the connection");
    case MBEDTLS_ERR_SSL_ALLOC_FAILED:
        return tw__err(c->err, MOD, TW_ERR_NOMEM, "TLS: %s", e);
    default:
        break;
    }
    if (c->sign_fail)
        return tw__err(c->err, MOD, TW_ERR_TLS_CREDENTIALS, "own key could not sign: %s", e);
    if (ret == MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE || ret == MBEDTLS_ERR_SSL_HANDSHAKE_FAILURE)
        return tw__err(c->err, MOD, TW_ERR_TLS_HANDSHAKE, "handshake failed: no common cipher suite, group "
                       "or signature algorithm with %s:%u (%s)", c->host, (unsigned)c->port, e);
    return tw__err(c->err, MOD, during_hs ? TW_ERR_TLS_HANDSHAKE : TW_ERR_TLS, "TLS %s: %s",
                   during_hs ? "handshake failed" : "error", e);
}

/* The handshake completed on our side but part of our flight could not be sent. */
static tw_status hs_send_failed(tls_conn *c)
{
    return tw__err(c->err, MOD, c->hs_send_st, "%s:%u: sending the handshake failed: %s", c->host,
                   (unsigned)c->port, c->hs_send_msg[0] ? c->hs_send_msg : tw_strerror(c->hs_send_st));
}

static void drop_saved(tls_conn *c)
{
    if (!c->have_saved) return;
    mbedtls_ssl_session_free(&c->saved);
    mbedtls_ssl_session_init(&c->saved);
    c->have_saved = 0;
}

static void save_session(tls_conn *c)
{
    if (!c->cfg->resumption) return;
    mbedtls_ssl_session s;
    mbedtls_ssl_session_init(&s);
    if (mbedtls_ssl_get_session(&c->ssl, &s) != 0) {
        mbedtls_ssl_session_free(&s);
        return;
    }
    drop_saved(c);
    c->saved = s;
    c->have_saved = 1;
    c->saved_gen = c->creds ? c->creds->gen : 0;
    tw__strlcpy(c->saved_host, c->host, sizeof c->saved_host);
    c->saved_port = c->port;
    tw__strlcpy(c->saved_subject, c->info.peer_subject, sizeof c->saved_subject);
    tw__strlcpy(c->saved_role, c->info.peer_role, sizeof c->saved_role);
    c->saved_not_after = c->info.peer_not_after;
}

static void free_ssl(tls_conn *c)
{
    if (!c->have_conf) return;
    mbedtls_ssl_free(&c->ssl);
    mbedtls_ssl_config_free(&c->conf);
    creds_unref(c->creds);
    c->creds = NULL;
    c->have_conf = 0;
    c->used = 0;
}

/* Builds the mbedTLS config and context for the current credentials snapshot (or reuses them). */
static tw_status setup_ssl(tls_conn *c)
{
    tw_tls_config *cfg = c->cfg;
    pthread_mutex_lock(&cfg->mu);
    tw__creds *cur = cfg->creds;
    if (cur) atomic_fetch_add(&cur->refs, 1);
    pthread_mutex_unlock(&cfg->mu);
    if (!cur)
        tw__log(TW_LOG_WARN, MOD, "connecting to %s:%u without a client certificate", c->host, (unsigned)c->port);

    if (c->have_conf && c->creds == cur) {
        if (c->used && mbedtls_ssl_session_reset(&c->ssl) != 0) free_ssl(c);
    } else {
        free_ssl(c);
    }
    if (!c->have_conf) {
        if (cur) atomic_fetch_add(&cur->refs, 1);
        c->creds = cur;
        mbedtls_ssl_config_init(&c->conf);
        mbedtls_ssl_init(&c->ssl);
        c->have_conf = 1;
        int ret = mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT, MBEDTLS_SSL_TRANSPORT_STREAM,
                                              MBEDTLS_SSL_PRESET_DEFAULT);
        if (ret == 0) {
            mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
            mbedtls_ssl_conf_rng(&c->conf, rng, NULL);
            mbedtls_ssl_conf_ca_chain(&c->conf, &cfg->ca, cfg->have_crl ? &cfg->crl : NULL);
            mbedtls_ssl_conf_cert_profile(&c->conf, &mbedtls_x509_crt_profile_default);
            mbedtls_ssl_conf_verify(&c->conf, verify_cb, c);
            mbedtls_ssl_conf_min_tls_version(&c->conf, (mbedtls_ssl_protocol_version)cfg->min_ver);
            mbedtls_ssl_conf_max_tls_version(&c->conf, (mbedtls_ssl_protocol_version)cfg->max_ver);
            mbedtls_ssl_conf_ciphersuites(&c->conf, cfg->suites[0] ? cfg->suites : default_suites);
            mbedtls_ssl_conf_groups(&c->conf, default_groups);
#if defined(MBEDTLS_SSL_SESSION_TICKETS)
            mbedtls_ssl_conf_session_tickets(&c->conf, cfg->resumption ? MBEDTLS_SSL_SESSION_TICKETS_ENABLED
                                                                       : MBEDTLS_SSL_SESSION_TICKETS_DISABLED);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
            mbedtls_ssl_conf_tls13_enable_signal_new_session_tickets(
                &c->conf, MBEDTLS_SSL_TLS1_3_SIGNAL_NEW_SESSION_TICKETS_ENABLED);
#endif
#endif
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
            /* Forward secrecy: resumption still does an (EC)DHE exchange. */
            mbedtls_ssl_conf_tls13_key_exchange_modes(&c->conf,
                                                      MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL |
                                                          MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL);
#endif
            if (cur) ret = mbedtls_ssl_conf_own_cert(&c->conf, &cur->chain, &cur->key);
        }
        if (ret == 0) ret = mbedtls_ssl_setup(&c->ssl, &c->conf);
        if (ret != 0) {
            char e[200];
            mbed_errstr(ret, e, sizeof e);
            free_ssl(c);
            creds_unref(cur);
            return tw__err(c->err, MOD, ret == MBEDTLS_ERR_SSL_ALLOC_FAILED ? TW_ERR_NOMEM : TW_ERR_TLS,
                           "TLS setup failed: %s", e);
        }
        mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
    }
    creds_unref(cur);
    c->used = 1;
    const char *name = cfg->server_name ? cfg->server_name : c->host;
    char h[256];
    tw__strlcpy(h, name, sizeof h);
    size_t hl = strlen(h);
    if (hl > 2 && h[0] == '[' && h[hl - 1] == ']') {
        memmove(h, h + 1, hl - 2);
        h[hl - 2] = 0;
    }
    if (mbedtls_ssl_set_hostname(&c->ssl, h) != 0)
        return tw__err(c->err, MOD, TW_ERR_INVALID_ARG, "invalid server name \"%s\"", h);
    c->offered = 0;
    if (cfg->resumption && c->have_saved) {
        if (c->saved_port == c->port && strcmp(c->saved_host, c->host) == 0 &&
            c->saved_gen == (c->creds ? c->creds->gen : 0)) {
            if (mbedtls_ssl_set_session(&c->ssl, &c->saved) == 0) c->offered = 1;
        } else {
            drop_saved(c); /* other peer, or credentials rotated: a full handshake presents them */
        }
    }
    return TW_OK;
}

static void reset_conn(tls_conn *c)
{
    tw_transport_close(c->inner);
    c->st = ST_IDLE;
    c->wpending = 0;
    c->has_stash = 0;
    c->want = 0;
}

static tw_status fail(tls_conn *c, tw_status st)
{
    drop_saved(c);
    reset_conn(c);
    return st;
}

/* ---- Modbus/TCP Security role extension ---- */

/* 1.3.6.1.4.1.50316.802.1 in DER (base-128 arcs) */
#define ROLE_OID_DER "\x2b\x06\x01\x04\x01\x83\x89\x0c\x86\x22\x01"

typedef struct role_ctx {
    char *out;
    size_t cap;
    int seen;
} role_ctx;

/* Called by the parser for each extension mbedTLS does not know; p..end is the extnValue content. */
static int role_ext_cb(void *ctx, mbedtls_x509_crt const *crt, mbedtls_x509_buf const *oid, int critical,
                       const unsigned char *p, const unsigned char *end)
{
    role_ctx *r = ctx;
    (void)crt;
    (void)critical;
    if (r->seen || MBEDTLS_OID_CMP(ROLE_OID_DER, oid) != 0) return 0;
    r->seen = 1; /* only the first occurrence counts */
    unsigned char *q = (unsigned char *)(uintptr_t)p;
    size_t len;
    if (mbedtls_asn1_get_tag(&q, end, &len, MBEDTLS_ASN1_UTF8_STRING) != 0 || q + len != end) return 0;
    tw__role_copy(r->out, r->cap, q, len);
    return 0;
}

void tw__role_copy(char *out, size_t cap, const unsigned char *s, size_t len)
{
    if (!cap) return;
    size_t n = len < cap - 1 ? len : cap - 1;
    /* never end inside a UTF-8 sequence */
    if (n < len)
        while (n > 0 && (s[n] & 0xC0) == 0x80) n--;
    for (size_t i = 0; i < n; i++) out[i] = (s[i] < 0x20 || s[i] == 0x7F) ? '?' : (char)s[i];
    out[n] = '\0';
}

tw_status tw__tls_cert_role(const unsigned char *der, size_t len, char *out, size_t cap)
{
    if (!out || !cap) return TW_ERR_INVALID_ARG;
    out[0] = '\0';
    if (!der || !len) return TW_ERR_INVALID_ARG;
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    role_ctx r = {out, cap, 0};
    int ret = mbedtls_x509_crt_parse_der_with_ext_cb(&crt, der, len, 0, role_ext_cb, &r);
    mbedtls_x509_crt_free(&crt);
    if (ret != 0) {
        out[0] = '\0';
        return TW_ERR_PARSE;
    }
    return out[0] ? TW_OK : TW_ERR_NOT_FOUND;
}

static void fill_info(tls_conn *c)
{
    tw_tls_info *i = &c->info;
    memset(i, 0, sizeof *i);
    i->version = TW_TLS_INFO_VERSION;
    i->protocol = (unsigned)mbedtls_ssl_get_version_number(&c->ssl);
    tw__strlcpy(i->protocol_name, mbedtls_ssl_get_version(&c->ssl), sizeof i->protocol_name);
    i->suite_id = (uint16_t)mbedtls_ssl_get_ciphersuite_id_from_ssl(&c->ssl);
    const char *sn = mbedtls_ssl_get_ciphersuite(&c->ssl);
    tw__strlcpy(i->suite_name, sn ? sn : "?", sizeof i->suite_name);
    i->resumed = c->offered && !c->verified;
    const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&c->ssl);
    if (peer) {
        mbedtls_x509_dn_gets(i->peer_subject, sizeof i->peer_subject, &peer->subject);
        i->peer_not_after = tw__tls_x509_time(&peer->valid_to);
        (void)tw__tls_cert_role(peer->raw.p, peer->raw.len, i->peer_role, sizeof i->peer_role);
    } else if (i->resumed) {
        tw__strlcpy(i->peer_subject, c->saved_subject, sizeof i->peer_subject);
        tw__strlcpy(i->peer_role, c->saved_role, sizeof i->peer_role);
        i->peer_not_after = c->saved_not_after;
    }
    i->own_not_after = c->creds ? c->creds->not_after : 0;
    if (c->creds && c->creds->chain.raw.p)
        (void)tw__tls_cert_role(c->creds->chain.raw.p, c->creds->chain.raw.len, i->own_role, sizeof i->own_role);
}

static void finish_open(tls_conn *c)
{
    c->st = ST_OPEN;
    c->info.handshake_us = (uint64_t)((tw__mono_ns() - c->start_ns) / 1000);
    tw__log(TW_LOG_DEBUG, MOD, "connected to %s:%u: %s %s%s, peer \"%s\"", c->host, (unsigned)c->port,
            c->info.protocol_name, c->info.suite_name, c->info.resumed ? " (resumed)" : "", c->info.peer_subject);
}

static tw_status tls_connect(void *ctx, const char *host, uint16_t port)
{
    tls_conn *c = ctx;
    tw_status st;
    if (c->st == ST_OPEN) return TW_ERR_BUSY;
    if (c->st == ST_IDLE) {
        if (!c->cfg->have_ca)
            return tw__err(c->err, MOD, TW_ERR_CONFIG, "TLS config has no trust anchors (CA)");
        tw__strlcpy(c->host, host, sizeof c->host);
        c->port = port;
        c->start_ns = tw__mono_ns();
        c->hs_deadline = tw__mono_ms() + c->self->opts.connect_timeout_ms;
        c->verified = c->pin_match = c->pin_fail = c->sign_fail = 0;
        c->v_subject[0] = c->v_issuer[0] = c->v_key[0] = 0;
        c->inner_st = TW_OK;
        c->inner_msg[0] = 0;
        c->hs_send_st = TW_OK;
        c->hs_send_msg[0] = 0;
        c->st = ST_TCP;
    } else if (strcmp(host, c->host) != 0 || port != c->port) {
        return tw__err(c->err, MOD, TW_ERR_BUSY, "a connect to %s:%u is in progress", c->host, (unsigned)c->port);
    }
    if (c->st == ST_POST && tw__mono_ms() >= TW__MIN(c->post_deadline, c->hs_deadline)) {
        if (c->hs_send_st) return fail(c, hs_send_failed(c));
        finish_open(c); /* handshake complete and no verdict from a silent server: accepted */
        return TW_OK;
    }
    if (tw__mono_ms() >= c->hs_deadline) {
        static const char *const phase[] = {"", "TCP connect", "TLS handshake", "server's first message", ""};
        int ph = c->st;
        reset_conn(c);
        return tw__err(c->err, MOD, TW_ERR_TIMEOUT, "timeout: %s with %s:%u did not complete within %u ms",
                       phase[ph], host, (unsigned)port, (unsigned)c->self->opts.connect_timeout_ms);
    }
    if (c->st == ST_TCP) {
        st = tw_transport_connect(c->inner, host, port);
        if (st == TW_ERR_AGAIN) return st;
        if (st != TW_OK) {
            tw__err(c->err, MOD, st, "%s", tw_transport_last_error(c->inner));
            reset_conn(c);
            return st;
        }
        if ((st = setup_ssl(c)) != TW_OK) return fail(c, st);
        c->st = ST_HS;
    }
    if (c->st == ST_HS) {
        int ret, spins = 0;
        /* mbedTLS may return WANT_READ with a further record already buffered (two records in
         * one segment): the socket will not signal it, so go on while input is pending. */
        do {
            ret = mbedtls_ssl_handshake(&c->ssl);
        } while (ret == MBEDTLS_ERR_SSL_WANT_READ && mbedtls_ssl_check_pending(&c->ssl) && ++spins < 64);
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            c->want = ret == MBEDTLS_ERR_SSL_WANT_READ ? TW_POLL_IN : TW_POLL_OUT;
            return TW_ERR_AGAIN;
        }
        if (ret != 0) return fail(c, map_ssl(c, ret, 1));
        fill_info(c);
        if (c->info.protocol == TW_TLS_VERSION_1_3) {
            c->st = ST_POST;
            c->post_deadline = tw__mono_ms() + c->cfg->post_ms;
        } else if (c->hs_send_st) {
            return fail(c, hs_send_failed(c));
        } else {
            save_session(c);
            finish_open(c);
            return TW_OK;
        }
    }
    /* ST_POST (TLS 1.3): the server's verdict on our certificate arrives after our Finished. */
    for (int spins = 0;;) {
        int ret = mbedtls_ssl_read(&c->ssl, &c->stash, 1);
        if (ret == 1) {
            c->has_stash = 1;
            break;
        }
        if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
            save_session(c);
            break;
        }
        if (ret == MBEDTLS_ERR_SSL_WANT_READ && mbedtls_ssl_check_pending(&c->ssl) && ++spins < 64) continue;
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            if (tw__mono_ms() >= c->post_deadline) {
                if (c->hs_send_st) return fail(c, hs_send_failed(c)); /* our flight never arrived */
                break; /* silent server: accepted */
            }
            c->want = ret == MBEDTLS_ERR_SSL_WANT_READ ? TW_POLL_IN : TW_POLL_OUT;
            return TW_ERR_AGAIN;
        }
        if (ret == 0) ret = MBEDTLS_ERR_SSL_CONN_EOF;
        return fail(c, map_ssl(c, ret, 1));
    }
    finish_open(c);
    return TW_OK;
}

/* Sends a record accepted earlier but not yet taken by the socket. */
static tw_status flush_pending(tls_conn *c)
{
    if (!c->wpending) return TW_OK;
    if (c->ssl.MBEDTLS_PRIVATE(out_left) == 0) {
        c->wpending = 0;
        return TW_OK;
    }
    static const unsigned char unused[1];
    /* With output pending, mbedtls_ssl_write() only flushes; the data argument is not read. */
    int ret = mbedtls_ssl_write(&c->ssl, unused, 1);
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ) return TW_ERR_AGAIN;
    if (ret < 0) return map_ssl(c, ret, 0);
    c->wpending = 0;
    return TW_OK;
}

static tw_status tls_read(void *ctx, void *buf, size_t len, size_t *nread)
{
    tls_conn *c = ctx;
    if (c->st != ST_OPEN) return tw__err(c->err, MOD, TW_ERR_CLOSED, "read: not connected");
    if (c->has_stash) {
        ((unsigned char *)buf)[0] = c->stash;
        c->has_stash = 0;
        *nread = 1;
        return TW_OK;
    }
    tw_status st = flush_pending(c);
    if (st != TW_OK && st != TW_ERR_AGAIN) return fail(c, st);
    size_t n = len > (size_t)INT32_MAX ? (size_t)INT32_MAX : len;
    for (int spins = 0;;) {
        int ret = mbedtls_ssl_read(&c->ssl, buf, n);
        if (ret > 0) {
            *nread = (size_t)ret;
            return TW_OK;
        }
        if (ret == MBEDTLS_ERR_SSL_RECEIVED_NEW_SESSION_TICKET) {
            save_session(c);
            continue;
        }
        if (ret == MBEDTLS_ERR_SSL_WANT_READ && mbedtls_ssl_check_pending(&c->ssl) && ++spins < 64) continue;
        if (ret == MBEDTLS_ERR_SSL_WANT_READ || ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            c->want = ret == MBEDTLS_ERR_SSL_WANT_READ ? TW_POLL_IN : TW_POLL_OUT;
            return TW_ERR_AGAIN;
        }
        if (ret == 0 || ret == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
            tw__err(c->err, MOD, TW_ERR_CLOSED, "read: peer closed the TLS session");
            reset_conn(c);
            return TW_ERR_CLOSED;
        }
        if (ret == MBEDTLS_ERR_SSL_CONN_EOF) {
            tw__err(c->err, MOD, TW_ERR_CLOSED, "read: connection closed by peer without close_notify");
            reset_conn(c);
            return TW_ERR_CLOSED;
        }
        return fail(c, map_ssl(c, ret, 0));
    }
}

static tw_status tls_write(void *ctx, const void *buf, size_t len, size_t *nwritten)
{
    tls_conn *c = ctx;
    if (c->st != ST_OPEN) return tw__err(c->err, MOD, TW_ERR_CLOSED, "write: not connected");
    tw_status st = flush_pending(c);
    if (st == TW_ERR_AGAIN) return st;
    if (st != TW_OK) return fail(c, st);
    int maxp = mbedtls_ssl_get_max_out_record_payload(&c->ssl);
    size_t n = len;
    if (maxp > 0 && n > (size_t)maxp) n = (size_t)maxp;
    int ret = mbedtls_ssl_write(&c->ssl, buf, n);
    if (ret > 0) {
        *nwritten = (size_t)ret;
        return TW_OK;
    }
    if (ret == MBEDTLS_ERR_SSL_WANT_WRITE || ret == MBEDTLS_ERR_SSL_WANT_READ) {
        if (c->ssl.MBEDTLS_PRIVATE(out_left) > 0 && ret == MBEDTLS_ERR_SSL_WANT_WRITE) {
            /* The record is built and queued: the bytes are ours to deliver. */
            c->wpending = n;
            *nwritten = n;
            return TW_OK;
        }
        c->want = ret == MBEDTLS_ERR_SSL_WANT_READ ? TW_POLL_IN : TW_POLL_OUT;
        return TW_ERR_AGAIN;
    }
    return fail(c, map_ssl(c, ret, 0));
}

static int tls_fd(void *ctx) { return tw_transport_fd(((tls_conn *)ctx)->inner); }

static unsigned tls_events(void *ctx)
{
    tls_conn *c = ctx;
    switch (c->st) {
    case ST_TCP: return tw_transport_events(c->inner);
    case ST_HS:
    case ST_POST: return c->want ? c->want : TW_POLL_IN;
    case ST_OPEN: return TW_POLL_IN | (c->wpending || c->want == TW_POLL_OUT ? TW_POLL_OUT : 0);
    default: return 0;
    }
}

static size_t tls_pending(void *ctx)
{
    tls_conn *c = ctx;
    if (c->st != ST_OPEN) return 0;
    return (size_t)c->has_stash + mbedtls_ssl_get_bytes_avail(&c->ssl);
}

static void tls_close(void *ctx)
{
    tls_conn *c = ctx;
    if (c->st == ST_OPEN) (void)mbedtls_ssl_close_notify(&c->ssl);
    reset_conn(c);
}

static void tls_destroy(void *ctx)
{
    tls_conn *c = ctx;
    drop_saved(c);
    free_ssl(c);
    tw_transport_free(c->inner);
    tw_tls_config_free(c->cfg);
    tw__free(c);
}

static const tw_transport_ops tls_ops = {TW_TRANSPORT_OPS_VERSION, tls_connect, tls_read, tls_write, tls_fd,
                                         tls_events, tls_pending, tls_close, tls_destroy, 1};

tw_status tw_transport_new_tls(tw_transport **out, tw_tls_config *cfg, const tw_tls_options *opts)
{
    if (!out) return TW_ERR_INVALID_ARG;
    *out = NULL;
    tw_status st = tw__check_init();
    if (st) return st;
    if (!cfg) return TW_ERR_INVALID_ARG;
    tw_tls_options o = TW_TLS_OPTIONS_INIT;
    if (opts) {
        if (TW__OPTS_COPY(o, opts, sizeof(tw_tls_options)))
            return tw__err(NULL, MOD, TW_ERR_VERSION, "tw_tls_options version %u is not supported",
                           (unsigned)opts->version);
    }
    if (tw__tls_global_init() != TW_OK) return tw__err(NULL, MOD, TW_ERR_TLS, "psa_crypto_init failed");
    tw_transport_options to = TW_TRANSPORT_OPTIONS_INIT;
    to.connect_timeout_ms = cfg->hs_ms;
    to.io_timeout_ms = cfg->io_ms;
    to.tcp_nodelay = o.tcp_nodelay;
    tls_conn *c = tw__calloc(1, sizeof *c);
    if (!c) return tw__err(NULL, MOD, TW_ERR_NOMEM, "out of memory");
    mbedtls_ssl_session_init(&c->saved);
    tw_transport *t;
    if ((st = tw__transport_new(&t, &tls_ops, c, &to))) {
        tw__free(c);
        return st;
    }
    if (o.inner) {
        c->inner = o.inner;
    } else if ((st = tw__transport_new_tcp_inner(&c->inner, &to))) {
        tw__free(t);
        tw__free(c);
        return st;
    }
    c->self = t;
    c->err = tw__transport_err(t);
    c->cfg = tw__tls_config_ref(cfg);
    *out = t;
    return TW_OK;
}

tw_status tw_transport_tls_info(const tw_transport *t, tw_tls_info *info)
{
    if (!t || !info || t->ops != &tls_ops) return TW_ERR_INVALID_ARG;
    if (info->version < 1 || info->version > TW_TLS_INFO_VERSION) return TW_ERR_VERSION;
    const tls_conn *c = t->ctx;
    if (c->st != ST_OPEN) return TW_ERR_BUSY;
    /* version 1 ends at handshake_us */
    return TW__STATS_PUT(info, &c->info, offsetof(tw_tls_info, own_role), sizeof(tw_tls_info));
}
