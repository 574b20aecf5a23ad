/* OPC UA adapter configuration: URI parameters, certificates (PEM or DER), client set-up.
 * SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <psa/crypto.h>
#include <mbedtls/x509_crt.h>
#include <open62541/types.h>
#include <open62541/client_config_default.h>
#include <open62541/plugin/pki_default.h>
#include <stdio.h>
#include <string.h>

#include "adapter/adapter_internal.h"
#include "internal.h"
#include "opcua_internal.h"

#define MOD "opcua"
#define CERR(...) (snprintf(err, errlen, __VA_ARGS__), TW_ERR_CONFIG)

tw_status tw__opcua_status(UA_StatusCode sc)
{
    switch (sc) {
    case UA_STATUSCODE_GOOD: return TW_OK;
    case UA_STATUSCODE_BADTIMEOUT: return TW_ERR_TIMEOUT;
    case UA_STATUSCODE_BADCONNECTIONREJECTED: return TW_ERR_CONN_REFUSED;
    case UA_STATUSCODE_BADCONNECTIONCLOSED: case UA_STATUSCODE_BADSECURECHANNELCLOSED: case UA_STATUSCODE_BADSESSIONCLOSED:
    case UA_STATUSCODE_BADDISCONNECT: case UA_STATUSCODE_BADNOTCONNECTED: case UA_STATUSCODE_BADCOMMUNICATIONERROR:
    case UA_STATUSCODE_BADSERVERNOTCONNECTED: case UA_STATUSCODE_BADSESSIONIDINVALID: case UA_STATUSCODE_BADSHUTDOWN:
        return TW_ERR_CLOSED;
    case UA_STATUSCODE_BADCERTIFICATEUNTRUSTED: case UA_STATUSCODE_BADCERTIFICATECHAININCOMPLETE:
        return TW_ERR_TLS_UNKNOWN_CA;
    case UA_STATUSCODE_BADCERTIFICATEINVALID: case UA_STATUSCODE_BADCERTIFICATEURIINVALID:
    case UA_STATUSCODE_BADCERTIFICATEHOSTNAMEINVALID: case UA_STATUSCODE_BADCERTIFICATETIMEINVALID:
    case UA_STATUSCODE_BADCERTIFICATEUSENOTALLOWED: case UA_STATUSCODE_BADCERTIFICATEREVOKED:
        return TW_ERR_TLS_BAD_CERT;
    case UA_STATUSCODE_BADSECURITYCHECKSFAILED: case UA_STATUSCODE_BADSECURITYPOLICYREJECTED:
        return TW_ERR_TLS_HANDSHAKE;
    case UA_STATUSCODE_BADUSERACCESSDENIED: case UA_STATUSCODE_BADIDENTITYTOKENREJECTED:
    case UA_STATUSCODE_BADIDENTITYTOKENINVALID:
        return TW_ERR_PERMISSION;
    case UA_STATUSCODE_BADOUTOFMEMORY: return TW_ERR_NOMEM;
    default: return TW_ERR_ADAPTER;
    }
}

void tw__opcua_conf_free(tw__opcua_conf *c)
{
    tw__free(c->cert);
    tw__free(c->key);
    tw__free(c->app_uri);
    tw__free(c->user);
    tw__free_secret_str(c->password);
    for (size_t i = 0; i < c->ntrust; i++) tw__free(c->trust[i]);
    memset(c, 0, sizeof *c);
}

static tw_status dparam(const tw_adapter_uri *u, const char *key, double min, double max, double *out, char *err,
                        size_t errlen)
{
    const char *s = tw_adapter_uri_param(u, key);
    if (!s) return TW_OK;
    double v;
    if (tw__parse_double(s, &v) || v < min || v > max)
        return CERR("URI parameter %s=%s: expected a number in %g..%g", key, s, min, max);
    *out = v;
    return TW_OK;
}

static char *read_small_file(const char *path, size_t *len, size_t max)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = tw__malloc(max + 1);
    size_t n = buf ? fread(buf, 1, max + 1, f) : 0;
    fclose(f);
    if (!buf || n > max) {
        if (buf) tw__zeroize(buf, n); /* may be a key or a password */
        tw__free(buf);
        errno = buf ? EFBIG : ENOMEM;
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

tw_status tw__opcua_conf_parse(tw__opcua_conf *c, const tw_adapter_uri *u, const tw_device_options *o, char *err,
                               size_t errlen)
{
    memset(c, 0, sizeof *c);
    static const char *const known[] = {"security", "policy", "cert", "key", "trust", "insecure_trust_any", "app_uri",
                                        "user", "password_file", "publish_ms", "sampling_ms", "queue"};
    for (size_t i = 0; i < u->nparams; i++) {
        int ok = 0;
        for (size_t j = 0; j < TW__ARRAY_LEN(known); j++) ok |= !strcmp(u->keys[i], known[j]);
        if (!strcmp(u->keys[i], "password"))
            return CERR("password= is not accepted in an opcua:// URI (URIs end up in configuration files and logs): put "
                        "the password in a file only this process can read and give password_file=PATH");
        if (!ok)
            return CERR("unknown URI parameter '%s' for opcua (known: security, policy, cert, key, trust, "
                        "insecure_trust_any, app_uri, user, password_file, publish_ms, sampling_ms, queue)", u->keys[i]);
    }
    if (!u->host[0]) return CERR("opcua:// needs a host (opcua://HOST:PORT[/path])");
    const char *h = u->host;
    int v6 = strchr(h, ':') != NULL;
    int w = snprintf(c->endpoint, sizeof c->endpoint, "opc.tcp://%s%s%s:%u%s", v6 ? "[" : "", h, v6 ? "]" : "",
                     (unsigned)(u->port ? u->port : 4840), u->path);
    if (w < 0 || (size_t)w >= sizeof c->endpoint) return CERR("opcua:// URI too long");
    c->timeout_ms = o->timeout_ms > o->connect_timeout_ms ? o->timeout_ms : o->connect_timeout_ms;
    c->backoff_min_ms = o->reconnect_min_ms;
    c->backoff_max_ms = o->reconnect_max_ms;
    c->publish_ms = 100;
    c->sampling_ms = -1; /* = publishing interval */
    c->queue_size = 10;
    tw_status st;
    double q = 10;
    if ((st = dparam(u, "publish_ms", 1, 3600000, &c->publish_ms, err, errlen)) ||
        (st = dparam(u, "sampling_ms", 0, 3600000, &c->sampling_ms, err, errlen)) ||
        (st = dparam(u, "queue", 1, 10000, &q, err, errlen)))
        return st;
    c->queue_size = (uint32_t)q;
    if (c->sampling_ms < 0) c->sampling_ms = c->publish_ms;

    const char *cert = tw_adapter_uri_param(u, "cert"), *key = tw_adapter_uri_param(u, "key");
    const char *sec = tw_adapter_uri_param(u, "security"), *pol = tw_adapter_uri_param(u, "policy");
    const char *tr = tw_adapter_uri_param(u, "trust"), *tany = tw_adapter_uri_param(u, "insecure_trust_any");
    if (tr && !strcmp(tr, "any"))
        return CERR("trust=any is no longer accepted: give insecure_trust_any=1 to accept any server certificate (the "
                    "server is then not authenticated)");
    if (tany && strcmp(tany, "1") && strcmp(tany, "0"))
        return CERR("URI parameter insecure_trust_any=%s: expected 1 or 0", tany);
    c->trust_any = tany && !strcmp(tany, "1");
    /* No plaintext by accident: without security= the channel signs and encrypts. */
    c->mode = UA_MESSAGESECURITYMODE_SIGNANDENCRYPT;
    if (sec) {
        if (!strcmp(sec, "none")) c->mode = UA_MESSAGESECURITYMODE_NONE;
        else if (!strcmp(sec, "sign")) c->mode = UA_MESSAGESECURITYMODE_SIGN;
        else if (!strcmp(sec, "signandencrypt")) c->mode = UA_MESSAGESECURITYMODE_SIGNANDENCRYPT;
        else return CERR("URI parameter security=%s: expected none, sign or signandencrypt", sec);
    }
    c->policy_uri = "http://opcfoundation.org/UA/SecurityPolicy#None";
    if (c->mode != UA_MESSAGESECURITYMODE_NONE) {
        c->policy_uri = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256";
        if (pol) {
            if (!strcmp(pol, "basic256sha256")) c->policy_uri = "http://opcfoundation.org/UA/SecurityPolicy#Basic256Sha256";
            else if (!strcmp(pol, "aes128_sha256_rsaoaep"))
                c->policy_uri = "http://opcfoundation.org/UA/SecurityPolicy#Aes128_Sha256_RsaOaep";
            else if (!strcmp(pol, "aes256_sha256_rsapss"))
                c->policy_uri = "http://opcfoundation.org/UA/SecurityPolicy#Aes256_Sha256_RsaPss";
            else return CERR("URI parameter policy=%s: expected basic256sha256, aes128_sha256_rsaoaep or aes256_sha256_rsapss", pol);
        }
        if (tr && c->trust_any) return CERR("give trust= or insecure_trust_any=1, not both");
        char missing[64] = "";
        if (!cert) strcat(missing, " cert=");
        if (!key) strcat(missing, " key=");
        if (!tr && !c->trust_any) strcat(missing, " trust=");
        if (missing[0]) {
            if (!sec)
                return CERR("opcua:// without security= means security=signandencrypt; missing:%s (client certificate, "
                            "its key, the server's certificate or CA). For plaintext give security=none", missing);
            return CERR("security=%s; missing:%s (client certificate, its key, the server's certificate or CA)", sec,
                        missing);
        }
        if (tr) {
            const char *p = tr;
            while (*p) {
                const char *comma = strchr(p, ',');
                size_t l = comma ? (size_t)(comma - p) : strlen(p);
                if (!l) {
                    tw__opcua_conf_free(c);
                    return CERR("URI parameter trust: empty file name");
                }
                if (c->ntrust >= TW__UA_MAX_TRUST) {
                    tw__opcua_conf_free(c);
                    return CERR("URI parameter trust: more than %d files", TW__UA_MAX_TRUST);
                }
                char *f = tw__malloc(l + 1);
                if (!f) {
                    tw__opcua_conf_free(c);
                    return TW_ERR_NOMEM;
                }
                memcpy(f, p, l);
                f[l] = '\0';
                c->trust[c->ntrust++] = f;
                if (!comma) break;
                p = comma + 1;
            }
        }
    } else {
        if (pol && strcmp(pol, "none")) return CERR("policy=%s needs security=sign or signandencrypt", pol);
        if (cert || key || tr || tany)
            return CERR("security=none takes no cert=, key=, trust= or insecure_trust_any= (they apply to security=sign "
                        "and signandencrypt)");
    }
    const char *user = tw_adapter_uri_param(u, "user"), *pwf = tw_adapter_uri_param(u, "password_file");
    if (pwf && !user) {
        tw__opcua_conf_free(c);
        return CERR("password_file= needs user=");
    }
    if (user && c->mode == UA_MESSAGESECURITYMODE_NONE) {
        snprintf(err, errlen, "user= over security=none would send the password in clear: use security=sign or "
                 "signandencrypt (with cert=, key=, trust=)");
        return TW_ERR_TLS_INSECURE;
    }
    c->cert = tw__strdup(cert);
    c->key = tw__strdup(key);
    c->app_uri = tw__strdup(tw_adapter_uri_param(u, "app_uri"));
    if (user) {
        c->user = tw__strdup(user);
        if (pwf) {
            size_t n;
            c->password = read_small_file(pwf, &n, 4096);
            if (!c->password) {
                int e = errno;
                tw__opcua_conf_free(c);
                return CERR("password_file=%s: cannot read it (%s)", pwf, strerror(e));
            }
            while (n && (c->password[n - 1] == '\n' || c->password[n - 1] == '\r')) c->password[--n] = '\0';
        } else {
            c->password = tw__strdup("");
        }
    }
    return TW_OK;
}

/* Wipes (it may hold a private key) and frees a byte string. */
static void wipe_bs(UA_ByteString *b)
{
    if (b->data) tw__zeroize(b->data, b->length);
    UA_ByteString_clear(b);
}

/* PEM (one or more blocks) or DER file -> DER blobs. Returns the number of blobs or -1. The file
 * buffer and failed blobs are wiped before they are freed (a key file comes through here). */
static int load_der(const char *path, UA_ByteString *out, int max, char *err, size_t errlen)
{
    size_t n;
    char *buf = read_small_file(path, &n, 1 << 20);
    if (!buf) {
        snprintf(err, errlen, "cannot read '%s': %s", path, errno ? strerror(errno) : "too large");
        return -1;
    }
    int count = 0;
    if (!strstr(buf, "-----BEGIN")) {
        if (max < 1 || UA_ByteString_allocBuffer(&out[0], n) != UA_STATUSCODE_GOOD) goto fail;
        memcpy(out[0].data, buf, n);
        tw__zeroize(buf, n);
        tw__free(buf);
        return 1;
    }
    const char *p = buf;
    while ((p = strstr(p, "-----BEGIN")) != NULL) {
        const char *eol = strchr(p, '\n');
        const char *end = eol ? strstr(eol, "-----END") : NULL;
        if (!eol || !end) break;
        if (strstr(p, "ENCRYPTED") && strstr(p, "ENCRYPTED") < end) {
            snprintf(err, errlen, "'%s': encrypted PEM keys are not supported", path);
            goto fail_n;
        }
        if (count >= max) {
            snprintf(err, errlen, "'%s': more than %d PEM blocks", path, max);
            goto fail_n;
        }
        size_t b64len = (size_t)(end - (eol + 1)), dlen = 0;
        if (UA_ByteString_allocBuffer(&out[count], b64len) != UA_STATUSCODE_GOOD) goto fail_n;
        if (tw__base64_decode(out[count].data, b64len, &dlen, eol + 1, b64len) != TW_OK || !dlen) {
            wipe_bs(&out[count]);
            snprintf(err, errlen, "'%s': bad base64 in PEM block", path);
            goto fail_n;
        }
        out[count].length = dlen;
        count++;
        p = end + 8;
    }
    tw__zeroize(buf, n);
    tw__free(buf);
    if (!count) snprintf(err, errlen, "'%s': no PEM block", path);
    return count ? count : -1;
fail_n:
    for (int i = 0; i < count; i++) wipe_bs(&out[i]);
fail:
    if (!err[0]) snprintf(err, errlen, "'%s': out of memory", path);
    tw__zeroize(buf, n);
    tw__free(buf);
    return -1;
}

/* The application URI from the certificate's subjectAltName (OPC UA requires it there). */
static char *cert_app_uri(const UA_ByteString *der)
{
    mbedtls_x509_crt crt;
    mbedtls_x509_crt_init(&crt);
    char *res = NULL;
    if (mbedtls_x509_crt_parse_der(&crt, der->data, der->length) == 0) {
        for (const mbedtls_x509_sequence *s = &crt.subject_alt_names; s && !res; s = s->next) {
            mbedtls_x509_subject_alternative_name san;
            memset(&san, 0, sizeof san);
            if (!s->buf.p || mbedtls_x509_parse_subject_alt_name(&s->buf, &san) != 0) continue;
            if (san.type == MBEDTLS_X509_SAN_UNIFORM_RESOURCE_IDENTIFIER) {
                res = tw__malloc(san.san.unstructured_name.len + 1);
                if (res) {
                    memcpy(res, san.san.unstructured_name.p, san.san.unstructured_name.len);
                    res[san.san.unstructured_name.len] = '\0';
                }
            }
            mbedtls_x509_free_subject_alt_name(&san);
        }
    }
    mbedtls_x509_crt_free(&crt);
    return res;
}

/* ---- server certificate verification (our own, on mbedTLS: the trust list given by trust=) ---- */

typedef struct ua_verify {
    mbedtls_x509_crt trust;
} ua_verify;

/* Parses a DER certificate or a concatenation of DER certificates (an OPC UA chain). */
static int parse_chain(mbedtls_x509_crt *crt, const UA_ByteString *b)
{
    size_t off = 0;
    int n = 0;
    while (off + 4 <= b->length && n < 8) {
        const uint8_t *p = b->data + off;
        size_t len, hdr;
        if (p[0] != 0x30) break;
        if (p[1] < 0x80) { len = p[1]; hdr = 2; }
        else if (p[1] == 0x81) { len = p[2]; hdr = 3; }
        else if (p[1] == 0x82) { len = ((size_t)p[2] << 8) | p[3]; hdr = 4; }
        else if (p[1] == 0x83 && off + 5 <= b->length) { len = ((size_t)p[2] << 16) | ((size_t)p[3] << 8) | p[4]; hdr = 5; }
        else break;
        if (len > b->length - off - hdr) break;
        if (mbedtls_x509_crt_parse_der(crt, p, hdr + len) != 0) return -1;
        off += hdr + len;
        n++;
    }
    return n ? 0 : -1;
}

static UA_StatusCode v_verify(const UA_CertificateVerification *cv, const UA_ByteString *cert)
{
    ua_verify *v = cv->context;
    mbedtls_x509_crt chain;
    mbedtls_x509_crt_init(&chain);
    UA_StatusCode sc = UA_STATUSCODE_GOOD;
    if (parse_chain(&chain, cert) != 0) {
        sc = UA_STATUSCODE_BADCERTIFICATEINVALID;
    } else {
        uint32_t flags = 0;
        if (mbedtls_x509_crt_verify(&chain, &v->trust, NULL, NULL, &flags, NULL, NULL) != 0) {
            if (flags & (MBEDTLS_X509_BADCERT_EXPIRED | MBEDTLS_X509_BADCERT_FUTURE)) sc = UA_STATUSCODE_BADCERTIFICATETIMEINVALID;
            else if (flags & MBEDTLS_X509_BADCERT_NOT_TRUSTED) sc = UA_STATUSCODE_BADCERTIFICATEUNTRUSTED;
            else sc = UA_STATUSCODE_BADCERTIFICATEINVALID;
            char info[256];
            mbedtls_x509_crt_verify_info(info, sizeof info, "", flags);
            for (char *q = info; *q; q++)
                if (*q == '\n') *q = ' ';
            tw__log(TW_LOG_WARN, MOD, "server certificate rejected: %s", info);
        }
    }
    mbedtls_x509_crt_free(&chain);
    return sc;
}

static UA_StatusCode v_verify_uri(const UA_CertificateVerification *cv, const UA_ByteString *cert, const UA_String *uri)
{
    (void)cv;
    char *have = cert_app_uri(cert);
    UA_StatusCode sc = UA_STATUSCODE_BADCERTIFICATEURIINVALID;
    if (have && uri && strlen(have) == uri->length && !memcmp(have, uri->data, uri->length)) sc = UA_STATUSCODE_GOOD;
    if (sc != UA_STATUSCODE_GOOD)
        tw__log(TW_LOG_WARN, MOD, "server certificate URI '%s' does not match the application URI '%.*s'",
                have ? have : "(none)", uri ? (int)uri->length : 0, uri ? (const char *)uri->data : "");
    tw__free(have);
    return sc;
}

static UA_StatusCode v_expiry(UA_DateTime *out, UA_ByteString *cert)
{
    mbedtls_x509_crt c;
    mbedtls_x509_crt_init(&c);
    UA_StatusCode sc = UA_STATUSCODE_BADCERTIFICATEINVALID;
    if (parse_chain(&c, cert) == 0) {
        UA_DateTimeStruct ts;
        memset(&ts, 0, sizeof ts);
        ts.year = (UA_Int16)c.valid_to.year;
        ts.month = (UA_UInt16)c.valid_to.mon;
        ts.day = (UA_UInt16)c.valid_to.day;
        ts.hour = (UA_UInt16)c.valid_to.hour;
        ts.min = (UA_UInt16)c.valid_to.min;
        ts.sec = (UA_UInt16)c.valid_to.sec;
        *out = UA_DateTime_fromStruct(ts);
        sc = UA_STATUSCODE_GOOD;
    }
    mbedtls_x509_crt_free(&c);
    return sc;
}

static UA_StatusCode v_subject(UA_String *out, UA_ByteString *cert)
{
    mbedtls_x509_crt c;
    mbedtls_x509_crt_init(&c);
    UA_StatusCode sc = UA_STATUSCODE_BADCERTIFICATEINVALID;
    char buf[512];
    if (parse_chain(&c, cert) == 0 && mbedtls_x509_dn_gets(buf, sizeof buf, &c.subject) > 0) {
        *out = UA_STRING_ALLOC(buf);
        sc = out->data ? UA_STATUSCODE_GOOD : UA_STATUSCODE_BADOUTOFMEMORY;
    }
    mbedtls_x509_crt_free(&c);
    return sc;
}

static void v_clear(UA_CertificateVerification *cv)
{
    ua_verify *v = cv->context;
    if (v) {
        mbedtls_x509_crt_free(&v->trust);
        tw__free(v);
    }
    cv->context = NULL;
}

/* Replaces cv with our verifier trusting the given DER certificates (CA or server certificates). */
static UA_StatusCode install_verifier(UA_CertificateVerification *cv, const UA_ByteString *trust, size_t n)
{
    ua_verify *v = tw__calloc(1, sizeof *v);
    if (!v) return UA_STATUSCODE_BADOUTOFMEMORY;
    mbedtls_x509_crt_init(&v->trust);
    for (size_t i = 0; i < n; i++) {
        if (parse_chain(&v->trust, &trust[i]) != 0) {
            mbedtls_x509_crt_free(&v->trust);
            tw__free(v);
            return UA_STATUSCODE_BADCERTIFICATEINVALID;
        }
    }
    const UA_Logger *lg = cv->logging;
    if (cv->clear) cv->clear(cv);
    memset(cv, 0, sizeof *cv);
    cv->context = v;
    cv->verifyCertificate = v_verify;
    cv->verifyApplicationURI = v_verify_uri;
    cv->getExpirationDate = v_expiry;
    cv->getSubjectName = v_subject;
    cv->clear = v_clear;
    cv->logging = lg;
    return UA_STATUSCODE_GOOD;
}

tw_status tw__opcua_client_new(UA_Client **out, const tw__opcua_conf *c, UA_Logger *logger, void *context, char *err,
                               size_t errlen)
{
    *out = NULL;
    UA_ClientConfig cc;
    memset(&cc, 0, sizeof cc);
    cc.logging = logger;
    char *app_uri = NULL;
    UA_StatusCode sc;
    if (c->mode != UA_MESSAGESECURITYMODE_NONE) {
        /* mbedTLS 3.6 routes some digests through PSA: it must be initialised (idempotent) */
        if (psa_crypto_init() != PSA_SUCCESS) {
            snprintf(err, errlen, "psa_crypto_init failed");
            return TW_ERR_ADAPTER;
        }
        UA_ByteString cert[1], key[1], trust[TW__UA_MAX_TRUST * 4];
        size_t ntrust = 0;
        memset(cert, 0, sizeof cert);
        memset(key, 0, sizeof key);
        if (load_der(c->cert, cert, 1, err, errlen) < 0) return TW_ERR_CONFIG;
        if (load_der(c->key, key, 1, err, errlen) < 0) {
            UA_ByteString_clear(&cert[0]);
            return TW_ERR_CONFIG;
        }
        for (size_t i = 0; i < c->ntrust; i++) {
            int k = load_der(c->trust[i], trust + ntrust, (int)(TW__ARRAY_LEN(trust) - ntrust), err, errlen);
            if (k < 0) {
                for (size_t j = 0; j < ntrust; j++) UA_ByteString_clear(&trust[j]);
                UA_ByteString_clear(&cert[0]);
                wipe_bs(&key[0]);
                return TW_ERR_CONFIG;
            }
            ntrust += (size_t)k;
        }
        app_uri = c->app_uri ? tw__strdup(c->app_uri) : cert_app_uri(&cert[0]);
        sc = UA_ClientConfig_setDefaultEncryption(&cc, cert[0], key[0], NULL, 0, NULL, 0);
        /* the server's certificate is checked by our verifier (open62541 1.4.11's trust-list
         * verifier crashes on a CA-issued server certificate here) */
        if (sc == UA_STATUSCODE_GOOD && !c->trust_any) {
            sc = install_verifier(&cc.certificateVerification, trust, ntrust);
            if (sc != UA_STATUSCODE_GOOD) snprintf(err, errlen, "trust= files are not certificates");
        }
        for (size_t j = 0; j < ntrust; j++) UA_ByteString_clear(&trust[j]);
        UA_ByteString_clear(&cert[0]);
        wipe_bs(&key[0]);
        if (sc == UA_STATUSCODE_GOOD && c->trust_any) {
            if (cc.certificateVerification.clear) cc.certificateVerification.clear(&cc.certificateVerification);
            UA_CertificateVerification_AcceptAll(&cc.certificateVerification);
            tw__log(TW_LOG_WARN, MOD, "%s: insecure_trust_any=1: the server's certificate is not verified", c->endpoint);
        }
        if (sc != UA_STATUSCODE_GOOD) {
            tw__free(app_uri);
            UA_ClientConfig_clear(&cc);
            snprintf(err, errlen, "client certificate set-up failed: %s (cert=%s key=%s)", UA_StatusCode_name(sc), c->cert,
                     c->key);
            return TW_ERR_CONFIG;
        }
        if (!app_uri) {
            UA_ClientConfig_clear(&cc);
            snprintf(err, errlen, "cert=%s has no URI in its subjectAltName (OPC UA needs the application URI there; or "
                     "give app_uri=)", c->cert);
            return TW_ERR_CONFIG;
        }
    } else {
        sc = UA_ClientConfig_setDefault(&cc);
        if (sc != UA_STATUSCODE_GOOD) {
            UA_ClientConfig_clear(&cc);
            snprintf(err, errlen, "client set-up failed: %s", UA_StatusCode_name(sc));
            return TW_ERR_ADAPTER;
        }
        app_uri = tw__strdup(c->app_uri ? c->app_uri : "urn:tagwire:client");
    }
    cc.timeout = c->timeout_ms;
    cc.securityMode = c->mode;
    UA_String_clear(&cc.securityPolicyUri);
    cc.securityPolicyUri = UA_STRING_ALLOC(c->policy_uri);
    UA_String_clear(&cc.clientDescription.applicationUri);
    cc.clientDescription.applicationUri = UA_STRING_ALLOC(app_uri ? app_uri : "urn:tagwire:client");
    UA_LocalizedText_clear(&cc.clientDescription.applicationName);
    cc.clientDescription.applicationName = UA_LOCALIZEDTEXT_ALLOC("en-US", "tagwire");
    tw__free(app_uri);
    if (c->user) UA_ClientConfig_setAuthenticationUsername(&cc, c->user, c->password ? c->password : "");
    cc.clientContext = context;
    UA_Client *client = UA_Client_newWithConfig(&cc);
    if (!client) {
        UA_ClientConfig_clear(&cc);
        return TW_ERR_NOMEM;
    }
    *out = client;
    return TW_OK;
}

tw_status tw__opcua_addr_to_nodeid(const ua_addr *a, UA_NodeId *out)
{
    UA_NodeId_init(out);
    out->namespaceIndex = a->ns;
    switch (a->kind) {
    case UA_ADDR_NUMERIC:
        out->identifierType = UA_NODEIDTYPE_NUMERIC;
        out->identifier.numeric = a->numeric;
        return TW_OK;
    case UA_ADDR_GUID:
        out->identifierType = UA_NODEIDTYPE_GUID;
        out->identifier.guid.data1 = a->guid_d1;
        out->identifier.guid.data2 = a->guid_d2;
        out->identifier.guid.data3 = a->guid_d3;
        memcpy(out->identifier.guid.data4, a->guid_d4, 8);
        return TW_OK;
    case UA_ADDR_STRING:
    case UA_ADDR_BYTES: {
        out->identifierType = a->kind == UA_ADDR_STRING ? UA_NODEIDTYPE_STRING : UA_NODEIDTYPE_BYTESTRING;
        UA_String *s = &out->identifier.string;
        s->length = a->id_len;
        s->data = a->id_len ? UA_malloc(a->id_len) : NULL;
        if (a->id_len && !s->data) return TW_ERR_NOMEM;
        if (a->id_len) memcpy(s->data, a->id, a->id_len);
        return TW_OK;
    }
    }
    return TW_ERR_INVALID_ARG;
}
