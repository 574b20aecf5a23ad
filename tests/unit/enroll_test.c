/*
 * Unit tests of the enroll module: identity rules, base64, PKCS#7 certs-only parsing (against
 * structures made by the openssl CLI), CSR contents (checked by openssl), key/certificate
 * matching, renewal arithmetic, error classification, and the credential store including
 * power-loss safety (a child process killed at every step of an update).
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <dirent.h>

#include <mbedtls/x509_csr.h>

#include "twtest.h"
#include "enroll/enroll_internal.h"

static char *g_dir; /* PKI and scratch files */

static int group_setup(void **state)
{
    (void)state;
    if (tw_init(NULL) != TW_OK) return -1;
    g_dir = twt_mkdtemp("tw-enroll-unit");
    if (!g_dir || twt_make_pki(g_dir) != 0) return -1;
    /* certs-only PKCS#7 made by openssl: one certificate, and leaf + CA */
    if (twt_sh("cd '%s' && openssl crl2pkcs7 -nocrl -certfile client.pem -outform DER -out one.p7b && "
               "cat client.pem ca.pem > chain2.pem && "
               "openssl crl2pkcs7 -nocrl -certfile chain2.pem -outform DER -out two.p7b && "
               "openssl base64 -in two.p7b -out two.b64",
               g_dir) != 0)
        return -1;
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    if (g_dir) twt_rmtree(g_dir);
    free(g_dir);
    tw_shutdown();
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    char *d = NULL;
    size_t n = 0;
    assert_int_equal(tw__read_file(path, 1 << 20, &d, &n), TW_OK);
    if (len) *len = n;
    return d;
}

/* ---- identity ---- */

static void test_identity_rules(void **state)
{
    (void)state;
    char why[200];
    tw_identity id = TW_IDENTITY_INIT;
    assert_int_equal(tw_identity_check(&id, why, sizeof why), TW_ERR_IDENTITY);
    assert_non_null(strstr(why, "device_id"));
    id.device_id = "press-7";
    assert_int_equal(tw_identity_check(&id, why, sizeof why), TW_OK);
    id.device_id = "press 7";
    assert_int_equal(tw_identity_check(&id, why, sizeof why), TW_ERR_IDENTITY);
    assert_non_null(strstr(why, "' '"));
    assert_non_null(strstr(why, "offset 5"));
    TWT_ASSERT_LAST_ERROR("enroll", why); /* recorded for the thread too */
    assert_int_equal(tw_identity_check(&id, NULL, 0), TW_ERR_IDENTITY);
    TWT_ASSERT_LAST_ERROR("enroll", "offset 5");
    id.device_id = "-press";
    assert_int_equal(tw_identity_check(&id, why, sizeof why), TW_ERR_IDENTITY);
    id.device_id = "pr\xc3\xa9ss";
    assert_int_equal(tw_identity_check(&id, why, sizeof why), TW_ERR_IDENTITY);
    assert_non_null(strstr(why, "0xc3"));
    char longid[TW_IDENTITY_FIELD_MAX + 2];
    memset(longid, 'a', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    id.device_id = longid;
    assert_int_equal(tw_identity_check(&id, why, sizeof why), TW_ERR_IDENTITY);
    assert_non_null(strstr(why, "at most 64"));
    longid[TW_IDENTITY_FIELD_MAX] = '\0';
    assert_int_equal(tw_identity_check(&id, why, sizeof why), TW_OK);

    id.device_id = "press-7";
    id.vendor = "acme";
    assert_int_equal(tw_identity_check(&id, why, sizeof why), TW_ERR_IDENTITY);
    assert_non_null(strstr(why, "all three"));
    id.model = "p7";
    id.serial = "SN:42"; /* ':' would break the URN */
    assert_int_equal(tw_identity_check(&id, why, sizeof why), TW_ERR_IDENTITY);
    assert_non_null(strstr(why, "serial"));
    id.serial = "SN42";
    id.fw_revision = "4.1.0+build7";
    id.hw_revision = "B2";
    assert_int_equal(tw_identity_check(&id, why, sizeof why), TW_OK);
    id.fw_revision = "4.1 beta";
    assert_int_equal(tw_identity_check(&id, why, sizeof why), TW_ERR_IDENTITY);
    assert_non_null(strstr(why, "fw_revision"));
    id.fw_revision = NULL;

    char urn[TW_IDENTITY_URN_MAX];
    assert_int_equal(tw_identity_urn(urn, sizeof urn, &id), TW_OK);
    assert_string_equal(urn, "urn:tagwire:acme:p7:SN42");
    assert_int_equal(tw_identity_urn(urn, 10, &id), TW_ERR_RANGE);
    tw_identity bare = TW_IDENTITY_INIT;
    bare.device_id = "x";
    assert_int_equal(tw_identity_urn(urn, sizeof urn, &bare), TW_ERR_NOT_FOUND);
    bare.version = 99;
    assert_int_equal(tw_identity_check(&bare, NULL, 0), TW_ERR_VERSION);
    assert_int_equal(tw_identity_check(NULL, NULL, 0), TW_ERR_INVALID_ARG);
}

/* ---- base64 ---- */

static void test_base64(void **state)
{
    (void)state;
    unsigned char out[64];
    size_t n;
    assert_int_equal(tw__base64_decode(out, sizeof out, &n, "aGVs\r\nbG8=\n", 11), TW_OK);
    assert_int_equal(n, 5);
    assert_memory_equal(out, "hello", 5);
    assert_int_equal(tw__base64_decode(out, sizeof out, &n, "aGVsbG8", 7), TW_OK); /* unpadded */
    assert_int_equal(n, 5);
    assert_int_equal(tw__base64_decode(out, sizeof out, &n, "aGVs*G8=", 8), TW_ERR_PARSE);
    assert_int_equal(tw__base64_decode(out, sizeof out, &n, "aG=Vs", 5), TW_ERR_PARSE);
    assert_int_equal(tw__base64_decode(out, sizeof out, &n, "a", 1), TW_ERR_PARSE);
    assert_int_equal(tw__base64_decode(out, sizeof out, &n, "aGVsbG8===", 10), TW_ERR_PARSE);
    assert_int_equal(tw__base64_decode(out, 3, &n, "aGVsbG8=", 8), TW_ERR_PARSE); /* no room */
    char enc[16];
    assert_int_equal(tw__base64_encode(enc, sizeof enc, (const unsigned char *)"hello", 5), TW_OK);
    assert_string_equal(enc, "aGVsbG8=");
    assert_int_equal(tw__base64_encode(enc, 8, (const unsigned char *)"hello", 5), TW_ERR_RANGE);
    /* round trip of every length 0..40 */
    unsigned char src[40], back[64];
    for (size_t i = 0; i < sizeof src; i++) src[i] = (unsigned char)(i * 37 + 1);
    for (size_t len = 0; len <= sizeof src; len++) {
        char e[80];
        assert_int_equal(tw__base64_encode(e, sizeof e, src, len), TW_OK);
        assert_int_equal(tw__base64_decode(back, sizeof back, &n, e, strlen(e)), TW_OK);
        assert_int_equal(n, len);
        assert_memory_equal(back, src, len);
    }
}

/* ---- PKCS#7 ---- */

static void test_pkcs7_openssl(void **state)
{
    (void)state;
    size_t len;
    char *one = slurp(twt_path(0, g_dir, "one.p7b"), &len);
    tw__der_span spans[4];
    size_t n = 0;
    const char *why = NULL;
    assert_int_equal(tw__pkcs7_certs((unsigned char *)one, len, spans, 4, &n, &why), TW_OK);
    assert_int_equal(n, 1);
    /* the span is exactly the certificate: compare with openssl's DER of client.pem */
    assert_int_equal(twt_sh("openssl x509 -in '%s' -outform DER -out '%s'", twt_path(0, g_dir, "client.pem"),
                            twt_path(1, g_dir, "client.der")), 0);
    size_t dlen;
    char *der = slurp(twt_path(1, g_dir, "client.der"), &dlen);
    assert_int_equal(spans[0].len, dlen);
    assert_memory_equal(spans[0].p, der, dlen);

    /* every truncation is rejected, never read past the end (ASan watches) */
    for (size_t cut = 0; cut < len; cut++) {
        unsigned char *copy = malloc(cut ? cut : 1);
        memcpy(copy, one, cut);
        assert_int_not_equal(tw__pkcs7_certs(copy, cut, spans, 4, &n, &why), TW_OK);
        free(copy);
    }
    /* trailing byte, wrong content type */
    unsigned char *copy = malloc(len + 1);
    memcpy(copy, one, len);
    copy[len] = 0;
    assert_int_equal(tw__pkcs7_certs(copy, len + 1, spans, 4, &n, &why), TW_ERR_EST_BAD_RESPONSE);
    memcpy(copy, one, len);
    copy[14] ^= 0x01; /* inside the OID 1.2.840.113549.1.7.2 */
    assert_int_equal(tw__pkcs7_certs(copy, len, spans, 4, &n, &why), TW_ERR_EST_BAD_RESPONSE);
    free(copy);
    /* room for fewer certificates than present */
    size_t l2;
    char *two = slurp(twt_path(0, g_dir, "two.p7b"), &l2);
    assert_int_equal(tw__pkcs7_certs((unsigned char *)two, l2, spans, 1, &n, &why), TW_ERR_EST_BAD_RESPONSE);
    assert_int_equal(tw__pkcs7_certs((unsigned char *)two, l2, spans, 4, &n, &why), TW_OK);
    assert_int_equal(n, 2);

    /* base64 with openssl's line breaks -> PEM chain in order */
    size_t blen;
    char *b64 = slurp(twt_path(0, g_dir, "two.b64"), &blen);
    assert_non_null(strchr(b64, '\n'));
    char *pem = NULL;
    size_t pem_len = 0, count = 0;
    assert_int_equal(tw__est_certs_to_pem(b64, blen, true, &pem, &pem_len, &count, &why), TW_OK);
    assert_int_equal(count, 2);
    size_t clen, calen;
    char *client = slurp(twt_path(0, g_dir, "client.pem"), &clen);
    char *ca = slurp(twt_path(1, g_dir, "ca.pem"), &calen);
    assert_int_equal(pem_len, clen + calen);
    assert_memory_equal(pem, client, clen);
    assert_memory_equal(pem + clen, ca, calen);
    tw__free(pem);
    /* not base64; base64 of something else */
    assert_int_equal(tw__est_certs_to_pem("MII!!", 5, true, &pem, &pem_len, &count, &why),
                     TW_ERR_EST_BAD_RESPONSE);
    assert_int_equal(tw__est_certs_to_pem("aGVsbG8=", 8, true, &pem, &pem_len, &count, &why),
                     TW_ERR_EST_BAD_RESPONSE);
    assert_null(pem);
    tw__free(one);
    tw__free(der);
    tw__free(two);
    tw__free(b64);
    tw__free(client);
    tw__free(ca);
}

/* ---- key, CSR, key matching ---- */

static void test_csr(void **state)
{
    (void)state;
    char *key = NULL;
    size_t klen = 0;
    assert_int_equal(tw__key_generate_pem(&key, &klen), TW_OK);
    assert_non_null(strstr(key, "BEGIN EC PRIVATE KEY"));
    tw_identity id = TW_IDENTITY_INIT;
    id.device_id = "press-7";
    id.vendor = "acme";
    id.model = "p7";
    id.serial = "SN42";
    unsigned char *csr = NULL;
    size_t csr_len = 0;
    tw__error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(tw__csr_build(&csr, &csr_len, key, klen, &id, &err), TW_OK);
    mbedtls_x509_csr parsed;
    mbedtls_x509_csr_init(&parsed);
    assert_int_equal(mbedtls_x509_csr_parse_der(&parsed, csr, csr_len), 0);
    char dn[256];
    assert_true(mbedtls_x509_dn_gets(dn, sizeof dn, &parsed.subject) > 0);
    assert_string_equal(dn, "CN=press-7, serialNumber=SN42");
    mbedtls_x509_csr_free(&parsed);
    /* openssl verifies the self-signature and shows the URI SAN */
    FILE *f = fopen(twt_path(0, g_dir, "csr.der"), "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(csr, 1, csr_len, f), csr_len);
    fclose(f);
    assert_int_equal(twt_sh("openssl req -inform DER -in '%s' -verify -noout -text 2>&1 | tee '%s' | "
                            "grep -q 'URI:urn:tagwire:acme:p7:SN42'",
                            twt_path(0, g_dir, "csr.der"), twt_path(1, g_dir, "csr.txt")),
                     0);
    assert_int_equal(twt_sh("grep -q 'verify OK' '%s' && grep -q 'prime256v1' '%s'",
                            twt_path(0, g_dir, "csr.txt"), twt_path(1, g_dir, "csr.txt")),
                     0);
    tw__free(csr);

    /* an invalid identity never reaches mbedTLS */
    id.serial = "bad serial";
    assert_int_equal(tw__csr_build(&csr, &csr_len, key, klen, &id, &err), TW_ERR_IDENTITY);
    assert_non_null(strstr(tw__err_msg(&err), "serial"));

    /* the chain check: client.pem with client.key matches, with our fresh key does not */
    size_t cl, kl2, cal;
    char *client = slurp(twt_path(0, g_dir, "client.pem"), &cl);
    char *ckey = slurp(twt_path(0, g_dir, "client.key"), &kl2);
    char *ca = slurp(twt_path(0, g_dir, "ca.pem"), &cal);
    char *chain = malloc(cl + cal + 1);
    memcpy(chain, ca, cal); /* CA first: the function must put the leaf first */
    memcpy(chain + cal, client, cl + 1);
    char *ordered = NULL;
    size_t olen = 0;
    int64_t not_after = 0;
    assert_int_equal(tw__chain_for_key(&ordered, &olen, &not_after, chain, cl + cal, ckey, kl2, &err), TW_OK);
    assert_int_equal(olen, cl + cal);
    assert_memory_equal(ordered, client, cl);
    assert_true(not_after > (int64_t)time(NULL));
    tw__free(ordered);
    assert_int_equal(tw__chain_for_key(&ordered, &olen, &not_after, chain, cl + cal, key, klen, &err),
                     TW_ERR_EST_KEY_MISMATCH);
    assert_null(ordered);
    free(chain);
    tw__free(client);
    tw__free(ckey);
    tw__free(ca);
    tw__free(key);
}

/* ---- renewal arithmetic and classification ---- */

static void test_renew_time(void **state)
{
    (void)state;
    assert_int_equal(tw_enroll_renew_time(1000, 4000, 0.0), 3000);      /* default 2/3 */
    assert_int_equal(tw_enroll_renew_time(1000, 4000, 0.5), 2500);
    assert_int_equal(tw_enroll_renew_time(1000, 4000, 1.0), 4000);
    assert_int_equal(tw_enroll_renew_time(1000, 4000, 1.5), 3000);      /* out of range -> 2/3 */
    assert_int_equal(tw_enroll_renew_time(1000, 4000, -0.2), 3000);
    assert_int_equal(tw_enroll_renew_time(5000, 4000, 0.5), 5000);      /* inverted: renew now */
    /* a 2-minute certificate is renewed after 80 s */
    assert_int_equal(tw_enroll_renew_time(1700000000, 1700000120, 0.0), 1700000080);
    assert_true(tw_enroll_status_retriable(TW_ERR_EST_RETRY_LATER));
    assert_true(tw_enroll_status_retriable(TW_ERR_CONN_REFUSED));
    assert_true(tw_enroll_status_retriable(TW_ERR_EST_SERVER));
    assert_true(tw_enroll_status_retriable(TW_ERR_TIMEOUT));
    assert_false(tw_enroll_status_retriable(TW_ERR_EST_AUTH));
    assert_false(tw_enroll_status_retriable(TW_ERR_EST_BAD_RESPONSE));
    assert_false(tw_enroll_status_retriable(TW_ERR_EST_KEY_MISMATCH));
    assert_false(tw_enroll_status_retriable(TW_ERR_TLS_UNKNOWN_CA));
    assert_false(tw_enroll_status_retriable(TW_ERR_HTTP));
    assert_string_equal(tw_status_name(TW_ERR_EST_SERVER), "TW_ERR_EST_SERVER");
}

static void test_options(void **state)
{
    (void)state;
    tw_enroll *e = NULL;
    tw_enroll_options o = TW_ENROLL_OPTIONS_INIT;
    o.server_url = "http://127.0.0.1:1";
    o.server_ca_file = twt_path(0, g_dir, "ca.pem");
    o.credentials_dir = twt_path(1, g_dir, "opt-creds");
    assert_int_equal(tw_enroll_new(&e, &o), TW_ERR_CONFIG);
    TWT_ASSERT_LAST_ERROR("enroll", "server_url: an https:// URL is required (got 'http://127.0.0.1:1')");
    assert_null(e);
    o.server_url = "https://127.0.0.1:1";
    o.server_ca_file = NULL;
    assert_int_equal(tw_enroll_new(&e, &o), TW_ERR_CONFIG);
    TWT_ASSERT_LAST_ERROR("enroll", "server_ca_file: required");
    /* an unreadable CA file: the option, the file and the system's reason */
    o.server_ca_file = twt_path(0, g_dir, "no-such-ca.pem");
    assert_int_equal(tw_enroll_new(&e, &o), TW_ERR_CONFIG);
    TWT_ASSERT_LAST_ERROR("enroll", "server_ca_file: cannot read ");
    TWT_ASSERT_LAST_ERROR("enroll", "no-such-ca.pem: No such file or directory");
    assert_int_equal(tw_last_error_status(), TW_ERR_CONFIG);
    o.server_ca_file = twt_path(0, g_dir, "ca.pem");
    o.bootstrap_cert_file = twt_path(2, g_dir, "client.pem");
    assert_int_equal(tw_enroll_new(&e, &o), TW_ERR_CONFIG);
    o.bootstrap_key_file = twt_path(3, g_dir, "no-such.key");
    assert_int_equal(tw_enroll_new(&e, &o), TW_ERR_CONFIG);
    TWT_ASSERT_LAST_ERROR("enroll", "bootstrap_key_file: cannot read ");
    TWT_ASSERT_LAST_ERROR("enroll", "no-such.key: No such file or directory");
    o.bootstrap_key_file = twt_path(3, g_dir, "client.key");
    o.username = "a:b";
    o.password = "x";
    assert_int_equal(tw_enroll_new(&e, &o), TW_ERR_CONFIG);
    o.username = "dev";
    tw_identity id = TW_IDENTITY_INIT;
    id.device_id = "bad id";
    o.identity = &id;
    assert_int_equal(tw_enroll_new(&e, &o), TW_ERR_IDENTITY);
    TWT_ASSERT_LAST_ERROR("enroll", "identity: device_id");
    id.device_id = "good";
    o.version = 7;
    assert_int_equal(tw_enroll_new(&e, &o), TW_ERR_VERSION);
    TWT_ASSERT_LAST_ERROR("enroll", "tw_enroll_options version 7");
    o.version = TW_ENROLL_OPTIONS_VERSION;
    /* a credentials_dir that cannot be created */
    o.credentials_dir = twt_path(1, g_dir, "ca.pem/creds");
    assert_int_equal(tw_enroll_new(&e, &o), TW_ERR_IO);
    TWT_ASSERT_LAST_ERROR("enroll", "credentials_dir: ");
    TWT_ASSERT_LAST_ERROR("enroll", "Not a directory");
    o.credentials_dir = twt_path(1, g_dir, "opt-creds");
    assert_int_equal(tw_enroll_new(&e, &o), TW_OK);
    assert_non_null(e);
    assert_int_equal(tw_enroll_last_status(e), TW_OK);
    /* nothing enrolled yet: the renewal step says so, re-enroll too */
    assert_int_equal(tw_enroll_step(e, 0), TW_ERR_NOT_FOUND);
    assert_int_equal(tw_enroll_last_status(e), TW_ERR_NOT_FOUND);
    assert_int_equal(tw_enroll_last_status(NULL), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_enroll_reenroll(e), TW_ERR_NOT_FOUND);
    assert_int_equal(tw_enroll_commit(e), TW_ERR_NOT_FOUND);
    tw_enroll_free(e);
}

/* ---- credential store ---- */

typedef struct cred {
    char *key, *chain;
    size_t kl, cl;
} cred;

static cred load_cred(const char *name)
{
    char k[64], c[64];
    snprintf(k, sizeof k, "%s.key", name);
    snprintf(c, sizeof c, "%s.pem", name);
    cred r;
    r.key = slurp(twt_path(0, g_dir, k), &r.kl);
    r.chain = slurp(twt_path(1, g_dir, c), &r.cl);
    return r;
}

static void free_cred(cred *c)
{
    tw__free(c->key);
    tw__free(c->chain);
}

static int count_gens(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL)
        if (!strncmp(de->d_name, "gen-", 4) || !strncmp(de->d_name, ".tmp", 4)) n++;
    closedir(d);
    return n;
}

/* Which credential is current: 'A', 'B', 0 for none; fails the test on an unusable one. */
static char current_is(const char *dir, const cred *a, const cred *b)
{
    tw_credential_info info;
    memset(&info, 0, sizeof info);
    info.version = TW_CREDENTIAL_INFO_VERSION;
    assert_int_equal(tw_credential_inspect(&info, dir, 0), TW_OK);
    if (!info.has_current) {
        assert_int_equal(info.key_path[0], '\0'); /* a link to an unusable pair never exists */
        return 0;
    }
    size_t cl;
    char *chain = slurp(info.chain_path, &cl);
    char r = 0;
    if (cl == a->cl && !memcmp(chain, a->chain, cl)) r = 'A';
    if (cl == b->cl && !memcmp(chain, b->chain, cl)) r = 'B';
    tw__free(chain);
    assert_true(r != 0);
    return r;
}

static void test_store_basic(void **state)
{
    (void)state;
    cred a = load_cred("client"), b = load_cred("client2");
    char *dir = twt_mkdtemp("tw-store");
    tw__error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(tw__store_open(dir, &err), TW_OK);
    assert_int_equal(current_is(dir, &a, &b), 0);
    assert_int_equal(tw__store_put(dir, a.key, a.kl, a.chain, a.cl, true, &err), TW_OK);
    assert_int_equal(current_is(dir, &a, &b), 'A');
    /* modes: 0600 files, 0700 directories */
    tw_credential_info info;
    memset(&info, 0, sizeof info);
    info.version = TW_CREDENTIAL_INFO_VERSION;
    assert_int_equal(tw_credential_inspect(&info, dir, 0), TW_OK);
    struct stat st;
    assert_int_equal(stat(info.key_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(info.chain_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(stat(dir, &st), 0);
    assert_string_equal(info.subject, "O=tagwire test, CN=device-1");
    assert_true(info.renew_at > info.not_before && info.renew_at < info.not_after);

    /* pending: current stays A until commit */
    assert_int_equal(tw__store_put(dir, b.key, b.kl, b.chain, b.cl, false, &err), TW_OK);
    assert_int_equal(current_is(dir, &a, &b), 'A');
    assert_int_equal(tw_credential_inspect(&info, dir, 0), TW_OK);
    assert_true(info.has_pending);
    assert_int_equal(count_gens(dir), 2);
    assert_int_equal(tw__store_rollback(dir, &err), TW_OK);
    assert_int_equal(count_gens(dir), 1);
    assert_int_equal(tw__store_rollback(dir, &err), TW_ERR_NOT_FOUND);
    assert_int_equal(tw__store_put(dir, b.key, b.kl, b.chain, b.cl, false, &err), TW_OK);
    assert_int_equal(tw__store_commit(dir, &err), TW_OK);
    assert_int_equal(current_is(dir, &a, &b), 'B');
    assert_int_equal(count_gens(dir), 1); /* the old generation is gone */
    assert_int_equal(tw__store_commit(dir, &err), TW_ERR_NOT_FOUND);

    /* a key that does not match the chain is not reported usable */
    assert_int_equal(tw__store_put(dir, a.key, a.kl, b.chain, b.cl, true, &err), TW_OK);
    assert_int_equal(tw_credential_inspect(&info, dir, 0), TW_OK);
    assert_false(info.has_current);
    twt_rmtree(dir);
    free(dir);
    free_cred(&a);
    free_cred(&b);
}

/* Crash injection: the child is SIGKILLed at the n-th time `point` is reached. */
static const char *g_crash_point;
static int g_crash_nth;
static void crash_hook(const char *point)
{
    if (!strcmp(point, g_crash_point) && --g_crash_nth == 0) raise(SIGKILL);
}

static void test_store_power_loss(void **state)
{
    (void)state;
    cred a = load_cred("client"), b = load_cred("client2");
    static const struct {
        const char *point;
        int nth;
    } points[] = {
        {"gen-created", 1},  {"file-synced", 1},  {"file-renamed", 1}, {"key-written", 1},
        {"file-synced", 2},  {"file-renamed", 2}, {"chain-written", 1}, {"link-created", 1},
        {"link-set", 1},     {"commit-begin", 1}, {"committed", 1},     {"old-removed", 1},
    };
    int killed = 0;
    for (int first = 0; first < 2; first++) {
        for (size_t i = 0; i < TW__ARRAY_LEN(points); i++) {
            char *dir = twt_mkdtemp("tw-crash");
            tw__error err;
            memset(&err, 0, sizeof err);
            if (!first) assert_int_equal(tw__store_put(dir, a.key, a.kl, a.chain, a.cl, true, &err), TW_OK);
            pid_t pid = fork();
            assert_true(pid >= 0);
            if (pid == 0) {
                g_crash_point = points[i].point;
                g_crash_nth = points[i].nth;
                tw__store_crash_hook = crash_hook;
                /* first enrollment: straight to current; renewal: pending, then commit */
                if (first) {
                    tw__store_put(dir, b.key, b.kl, b.chain, b.cl, true, NULL);
                } else if (tw__store_put(dir, b.key, b.kl, b.chain, b.cl, false, NULL) == TW_OK) {
                    tw__store_commit(dir, NULL);
                }
                _exit(0);
            }
            int status = 0;
            assert_int_equal(waitpid(pid, &status, 0), pid);
            bool died = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
            killed += died;
            /* the next start tidies up; a usable credential must remain */
            assert_int_equal(tw__store_open(dir, &err), TW_OK);
            char cur = current_is(dir, &a, &b);
            tw_credential_info info;
            memset(&info, 0, sizeof info);
            info.version = TW_CREDENTIAL_INFO_VERSION;
            assert_int_equal(tw_credential_inspect(&info, dir, 0), TW_OK);
            if (first) {
                /* nothing to protect: either nothing or the complete new credential */
                assert_true(cur == 0 || cur == 'B');
                if (!died) assert_int_equal(cur, 'B');
            } else {
                assert_true(cur == 'A' || cur == 'B');
                bool past_commit = !strcmp(points[i].point, "committed") ||
                                   !strcmp(points[i].point, "old-removed");
                if (died) assert_int_equal(cur, past_commit ? 'B' : 'A');
                else assert_int_equal(cur, 'B');
                /* a pending survives only when it was complete; it must then be B */
                if (info.has_pending) {
                    size_t pl;
                    char *pc = slurp(info.pending_chain_path, &pl);
                    assert_int_equal(pl, b.cl);
                    assert_memory_equal(pc, b.chain, pl);
                    tw__free(pc);
                }
            }
            /* no leftovers: one generation per link */
            assert_int_equal(count_gens(dir), (cur ? 1 : 0) + (info.has_pending ? 1 : 0));
            twt_rmtree(dir);
            free(dir);
        }
    }
    /* every point was actually reached (renewal: all 12; first enrollment: 9 before commit) */
    assert_int_equal(killed, 12 + 9);
    free_cred(&a);
    free_cred(&b);
}

/* Two processes renewing the same directory at once: every update succeeds, the result is tidy. */
static void test_store_two_processes(void **state)
{
    (void)state;
    cred a = load_cred("client"), b = load_cred("client2");
    char *dir = twt_mkdtemp("tw-store2");
    tw__error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(tw__store_put(dir, a.key, a.kl, a.chain, a.cl, true, &err), TW_OK);
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        assert_true(kids[k] >= 0);
        if (kids[k] == 0) {
            const cred *c = k ? &b : &a;
            int bad = 0;
            for (int i = 0; i < 15; i++) {
                if (tw__store_put(dir, c->key, c->kl, c->chain, c->cl, false, NULL) != TW_OK) bad++;
                tw_status st = tw__store_commit(dir, NULL); /* the other may have committed ours */
                if (st != TW_OK && st != TW_ERR_NOT_FOUND) bad++;
            }
            _exit(bad ? 1 : 0);
        }
    }
    for (int k = 0; k < 2; k++) {
        int status = 0;
        assert_int_equal(waitpid(kids[k], &status, 0), kids[k]);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_int_equal(tw__store_open(dir, &err), TW_OK);
    char cur = current_is(dir, &a, &b);
    assert_true(cur == 'A' || cur == 'B');
    assert_int_equal(count_gens(dir), 1);
    twt_rmtree(dir);
    free(dir);
    free_cred(&a);
    free_cred(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_rules), cmocka_unit_test(test_base64),
        cmocka_unit_test(test_pkcs7_openssl),  cmocka_unit_test(test_csr),
        cmocka_unit_test(test_renew_time),     cmocka_unit_test(test_options),
        cmocka_unit_test(test_store_basic),    cmocka_unit_test(test_store_power_loss),
        cmocka_unit_test(test_store_two_processes),
    };
    return cmocka_run_group_tests_name("enroll", tests, group_setup, group_teardown);
}
