/*
 * EST response parsing, side by side: a /simpleenroll answer (base64 with line breaks of a
 * certs-only PKCS#7 holding the device certificate and its CA, made by the openssl CLI) turned
 * into a PEM chain
 *   tagwire: tw__est_certs_to_pem (own base64 + DER reader, mbedTLS X.509 parse, PEM write)
 *   OpenSSL: BIO base64 -> d2i_PKCS7 -> PEM_write_bio_X509 for each certificate
 * Prints ns per response for each and the ratio. (mbedTLS 3.6's own pkcs7 module is not a
 * candidate: it refuses certs-only SignedData, whose digestAlgorithms set is empty.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>

#include "enroll/enroll_internal.h"

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static size_t openssl_parse(const char *b64, size_t len)
{
    BIO *src = BIO_new_mem_buf(b64, (int)len);
    BIO *dec = BIO_new(BIO_f_base64());
    BIO_push(dec, src);
    PKCS7 *p7 = d2i_PKCS7_bio(dec, NULL);
    size_t out = 0;
    if (p7 && PKCS7_type_is_signed(p7) && p7->d.sign && p7->d.sign->cert) {
        BIO *mem = BIO_new(BIO_s_mem());
        STACK_OF(X509) *certs = p7->d.sign->cert;
        for (int i = 0; i < sk_X509_num(certs); i++) PEM_write_bio_X509(mem, sk_X509_value(certs, i));
        out = (size_t)BIO_pending(mem);
        BIO_free(mem);
    }
    PKCS7_free(p7);
    BIO_free_all(dec);
    return out;
}

int main(int argc, char **argv)
{
    int iters = argc > 1 ? atoi(argv[1]) : 20000;
    char dir[] = "/tmp/tw-bench-enroll-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "sh '%s/tests/fixtures/make_pki.sh' '%s' >/dev/null && cd '%s' && cat client.pem ca.pem > chain.pem && "
             "openssl crl2pkcs7 -nocrl -certfile chain.pem -outform DER | openssl base64 > resp.b64",
             TW_SOURCE_DIR, dir, dir);
    if (system(cmd) != 0) return 1;
    snprintf(cmd, sizeof cmd, "%s/resp.b64", dir);
    char *b64 = NULL;
    size_t len = 0;
    if (tw__read_file(cmd, 1 << 20, &b64, &len) != TW_OK) return 1;

    /* same output from both, once */
    char *pem = NULL;
    size_t pem_len = 0, count = 0;
    const char *why = NULL;
    if (tw__est_certs_to_pem(b64, len, true, &pem, &pem_len, &count, &why) != TW_OK) return 1;
    size_t ossl_len = openssl_parse(b64, len);
    printf("response: %zu bytes base64, %zu certificates, PEM %zu bytes (tagwire) / %zu (OpenSSL)\n", len,
           count, pem_len, ossl_len);
    tw__free(pem);
    if (pem_len != ossl_len) return 1;

    double best_tw = 1e30, best_os = 1e30;
    for (int round = 0; round < 5; round++) {
        double t0 = now_ns();
        for (int i = 0; i < iters; i++) {
            tw__est_certs_to_pem(b64, len, true, &pem, &pem_len, &count, &why);
            tw__free(pem);
        }
        double t1 = now_ns();
        for (int i = 0; i < iters; i++) openssl_parse(b64, len);
        double t2 = now_ns();
        if ((t1 - t0) / iters < best_tw) best_tw = (t1 - t0) / iters;
        if ((t2 - t1) / iters < best_os) best_os = (t2 - t1) / iters;
    }
    printf("tagwire tw__est_certs_to_pem : %8.0f ns/response\n", best_tw);
    printf("OpenSSL d2i_PKCS7 + PEM      : %8.0f ns/response (OpenSSL %s)\n", best_os,
           OpenSSL_version(OPENSSL_VERSION));
    printf("ratio tagwire/OpenSSL        : %.2f (best of 5 rounds x %d)\n", best_tw / best_os, iters);
    tw__free(b64);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : 1;
}
