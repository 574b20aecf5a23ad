/*
 * tagwire/tls.h - zero-trust mutual-TLS client transport (mbedTLS 3.6).
 *
 * A tw_tls_config holds the trust policy (trust anchors, optional CRL, pins, server name, protocol
 * versions, timeouts) and the client's own credentials (certificate chain + private key, or a
 * certificate + a signing callback for a key held by a secure element, TPM or PKCS#11 token).
 * tw_transport_new_tls() creates a tw_transport (tagwire/transport.h) that authenticates both
 * sides on every connection; it is used through the tw_transport_* calls like any transport.
 *
 * Policy that cannot be switched off: the peer's certificate chain is always verified (there is no
 * "verify none"), the server name is always checked, the minimum version is TLS 1.2 (TLS 1.3 is
 * preferred when both sides have it), and only ECDHE key exchange with AEAD ciphers
 * (AES-GCM, ChaCha20-Poly1305) is offered. Plaintext needs tw_transport_new_tcp_insecure().
 *
 * Credential reload: tw_tls_config_set_credentials_*() may be called at any time from any thread,
 * also while transports using the config are connected. The new certificate and key apply to the
 * next handshake of every transport using the config; connections already established keep the
 * credentials they were made with (each connection holds a reference to its credential snapshot).
 * A saved session made with the old credentials is not resumed, so the next handshake is a full
 * one that presents the new certificate.
 *
 * Threading: functions marked TW_THREADSAFE may be called from any thread at any time. The other
 * tw_tls_config_set_*() functions configure the trust policy: call them before the config is used
 * by a transport (they must not race with connects that use the config). A config may be shared
 * by transports driven by different threads. A transport itself is used by one thread at a time.
 *
 * Errors: the TW_ERR_TLS_* codes of tagwire/core.h; tw_transport_last_error() names the reason
 * (e.g. "server certificate expired (not after 2026-11-28 10:00:00 UTC)").
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_TLS_H
#define TAGWIRE_TLS_H

#include "transport.h"

TW_BEGIN_DECLS

typedef struct tw_tls_config tw_tls_config;

/* Protocol versions (the TLS wire values). */
#define TW_TLS_VERSION_1_2 0x0303u
#define TW_TLS_VERSION_1_3 0x0304u

/*
 * Creates an empty config with the default policy: TLS 1.2..1.3, AEAD + ECDHE suites, session
 * resumption on, handshake timeout 10 s, I/O timeout 30 s. A config is reference-counted: each
 * transport created with it holds a reference, so the caller may free it at any time.
 * Errors: TW_ERR_NOT_INITIALIZED, TW_ERR_INVALID_ARG, TW_ERR_NOMEM, TW_ERR_TLS (crypto init);
 * the reason in tw_last_error() on the calling thread.
 */
TW_API tw_status tw_tls_config_new(tw_tls_config **out);

/* Drops the caller's reference. NULL is ignored. TW_THREADSAFE. */
TW_API TW_THREADSAFE void tw_tls_config_free(tw_tls_config *cfg);

/*
 * Trust anchors: a CA bundle as a PEM file (one or more certificates) or DER file, or the same in
 * memory (`data` need not be NUL-terminated; PEM or DER is detected). Each call adds to the
 * anchors already loaded. Errors: TW_ERR_INVALID_ARG, TW_ERR_NOT_FOUND (file cannot be opened),
 * TW_ERR_IO, TW_ERR_PARSE (no certificate could be parsed). The reason (naming the file and the
 * system's error text) is in tw_tls_config_last_error() and tw_last_error().
 */
TW_API tw_status tw_tls_config_set_ca_file(tw_tls_config *cfg, const char *path);
TW_API tw_status tw_tls_config_set_ca_mem(tw_tls_config *cfg, const void *data, size_t len);

/*
 * Certificate revocation list(s) issued by the trust anchors (PEM or DER). Once set, a peer
 * certificate listed as revoked fails with TW_ERR_TLS_REVOKED, and an expired or untrusted CRL
 * fails with TW_ERR_TLS_CRL. Errors: as for the CA setters.
 */
TW_API tw_status tw_tls_config_set_crl_file(tw_tls_config *cfg, const char *path);
TW_API tw_status tw_tls_config_set_crl_mem(tw_tls_config *cfg, const void *data, size_t len);

/*
 * Own credentials: a certificate chain (leaf first, then intermediates; PEM or DER) and its
 * private key (PEM or DER, PKCS#8 or traditional; `key_password` NULL when not encrypted).
 * The key must match the leaf certificate. Replaces the credentials atomically; applies to the
 * next handshake (see "Credential reload" above). TW_THREADSAFE.
 * Errors: TW_ERR_INVALID_ARG, TW_ERR_NOT_FOUND, TW_ERR_TLS_CREDENTIALS (unparsable, key does not
 * match the certificate), TW_ERR_NOMEM. The reason (naming the file) is in
 * tw_tls_config_last_error() and, for the calling thread, tw_last_error().
 */
TW_API TW_THREADSAFE tw_status tw_tls_config_set_credentials_file(tw_tls_config *cfg,
                                                                  const char *cert_path,
                                                                  const char *key_path,
                                                                  const char *key_password);
TW_API TW_THREADSAFE tw_status tw_tls_config_set_credentials_mem(tw_tls_config *cfg,
                                                                 const void *cert, size_t cert_len,
                                                                 const void *key, size_t key_len,
                                                                 const char *key_password);

/* Hash algorithm of the digest handed to a signing callback. */
typedef enum tw_tls_hash {
    TW_TLS_HASH_SHA256 = 1,
    TW_TLS_HASH_SHA384 = 2,
    TW_TLS_HASH_SHA512 = 3
} tw_tls_hash;

/*
 * Signing callback for a private key that never leaves its token (secure element, TPM, PKCS#11).
 * It signs the already computed digest `hash` (hash_len bytes, algorithm `hash_alg`) with ECDSA
 * and writes the signature to `sig` (capacity sig_cap >= 144 bytes) and its length to *sig_len:
 * either DER (the X9.62 Ecdsa-Sig-Value SEQUENCE { r, s }) or the raw concatenation r || s of
 * exactly twice the curve's coordinate size (what PKCS#11 CKM_ECDSA returns); both are accepted.
 * Returns TW_OK or an error (the handshake then fails with TW_ERR_TLS_CREDENTIALS).
 * Runs on the thread that drives the handshake (inside tw_transport_connect()), possibly on
 * several threads at once when several transports share the config; it must not call into
 * tagwire. It must complete synchronously.
 */
typedef tw_status (*tw_tls_sign_fn)(tw_tls_hash hash_alg, const uint8_t *hash, size_t hash_len,
                                    uint8_t *sig, size_t sig_cap, size_t *sig_len, void *user_data);

/*
 * Own credentials with an opaque key: the certificate chain (as above; its leaf holds the public
 * key, which must be an EC key on P-256 or P-384) and a callback that signs with the matching
 * private key. `user_data` is passed to every call; it must stay valid as long as a connection or
 * the config may use these credentials (until the credentials are replaced and every transport
 * connected with them is closed, or the config is freed). The callback is tested once here (a
 * signature over a test digest must verify with the certificate's key). TW_THREADSAFE.
 * Errors: TW_ERR_INVALID_ARG, TW_ERR_TLS_CREDENTIALS (unparsable certificate, signature does not
 * verify), TW_ERR_UNSUPPORTED (not an EC certificate, or the mbedTLS build cannot host it).
 */
TW_API TW_THREADSAFE tw_status tw_tls_config_set_credentials_signer(tw_tls_config *cfg,
                                                                    const void *cert,
                                                                    size_t cert_len,
                                                                    tw_tls_sign_fn sign,
                                                                    void *user_data);

/*
 * The expiry (not-after, Unix seconds) of the own leaf certificate currently configured, for
 * renewal. TW_THREADSAFE. Errors: TW_ERR_INVALID_ARG, TW_ERR_NOT_FOUND (no credentials).
 */
TW_API TW_THREADSAFE tw_status tw_tls_config_own_not_after(const tw_tls_config *cfg,
                                                           int64_t *not_after);

/*
 * The name the server's certificate must match (DNS name or IP address in its subjectAltName).
 * NULL or never set: the host given to tw_transport_connect(). Also sent as SNI when a DNS name.
 * Errors: TW_ERR_INVALID_ARG, TW_ERR_NOMEM.
 */
TW_API tw_status tw_tls_config_set_server_name(tw_tls_config *cfg, const char *name);

/*
 * Adds a public-key pin "sha256/BASE64" (the SHA-256 of a certificate's DER SubjectPublicKeyInfo,
 * as in RFC 7469). With one or more pins, the verified chain must contain a certificate whose key
 * matches one of them (in addition to chaining to a trust anchor), else TW_ERR_TLS_PIN.
 * Errors: TW_ERR_INVALID_ARG, TW_ERR_PARSE (not "sha256/" + base64 of 32 bytes), TW_ERR_FULL
 * (more than 16 pins).
 */
TW_API tw_status tw_tls_config_add_pin(tw_tls_config *cfg, const char *pin);

/*
 * Allowed protocol versions (TW_TLS_VERSION_*). min_version below TLS 1.2 is refused.
 * max_version TW_TLS_VERSION_1_2 forces TLS 1.2. Errors: TW_ERR_INVALID_ARG,
 * TW_ERR_UNSUPPORTED (TLS 1.3 asked but not built in; see TW_FEATURE_TLS13).
 */
TW_API tw_status tw_tls_config_set_versions(tw_tls_config *cfg, unsigned min_version,
                                            unsigned max_version);

/*
 * Narrows the cipher suites offered to `suites` (IANA numbers, in order of preference), e.g.
 * {0x1302, 0xC02C} for AES-256-GCM only. Only members of the default set may be named (TLS 1.3:
 * 0x1301 0x1302 0x1303; TLS 1.2 ECDHE with AES-GCM or ChaCha20-Poly1305: 0xC02B 0xC02C 0xCCA9
 * 0xC02F 0xC030 0xCCA8): nothing weaker can be configured. n == 0 restores the default.
 * Errors: TW_ERR_INVALID_ARG, TW_ERR_UNSUPPORTED (a suite outside the default set; named in
 * tw_tls_config_last_error()).
 */
TW_API tw_status tw_tls_config_set_suites(tw_tls_config *cfg, const uint16_t *suites, size_t n);

/* Session resumption on reconnect (session tickets / session IDs; default on; enabled 0 = off). A
 * transport keeps the last session of its own connections, for the same host and port only.
 * Applies to connections made after the call. Errors: TW_ERR_INVALID_ARG (cfg NULL). */
TW_API tw_status tw_tls_config_set_resumption(tw_tls_config *cfg, int enabled);

/*
 * Timeouts: handshake_ms bounds TCP connect + TLS handshake (both for
 * tw_transport_connect_blocking() and for repeated non-blocking tw_transport_connect() calls,
 * counted from the first call); io_ms bounds the blocking helpers tw_transport_read_blocking()
 * and tw_transport_write_all(). 0 keeps the current value. post_handshake_ms: with TLS 1.3 a
 * server reports a rejected client certificate only after the client's handshake has completed;
 * the connect therefore waits up to this long for the server's first message (a session ticket,
 * data or an alert) before reporting success (default 500 ms; it is usually over in one round
 * trip; 0 keeps the current value). The values apply to transports created afterwards.
 * Errors: TW_ERR_INVALID_ARG (handshake_ms > 1 h, io_ms > 24 h, post_handshake_ms > 60 s).
 */
TW_API tw_status tw_tls_config_set_timeouts(tw_tls_config *cfg, uint32_t handshake_ms,
                                            uint32_t io_ms, uint32_t post_handshake_ms);

/* The last error message of a config call ("" when none). Valid until the next call on cfg. */
TW_API const char *tw_tls_config_last_error(const tw_tls_config *cfg);
/* The status that went with tw_tls_config_last_error() (TW_OK when none; TW_ERR_INVALID_ARG for
 * NULL). TW_THREADSAFE. */
TW_API TW_THREADSAFE tw_status tw_tls_config_last_status(const tw_tls_config *cfg);

#define TW_TLS_OPTIONS_VERSION 1
typedef struct tw_tls_options {
    uint32_t version;    /* TW_TLS_OPTIONS_VERSION */
    tw_transport *inner; /* the byte stream to run TLS over; NULL = plain TCP made by the TLS
                          * transport. When non-NULL, ownership passes to the TLS transport on
                          * success (it is freed with it), and stays with the caller on failure. */
    int tcp_nodelay;     /* for the default TCP stream: 0 = default (Nagle off, TCP_NODELAY set);
                          * TW_TCP_NAGLE = Nagle on (tagwire/transport.h) */
} tw_tls_options;
#define TW_TLS_OPTIONS_INIT { TW_TLS_OPTIONS_VERSION, NULL, TW_TCP_NODELAY_DEFAULT }

/*
 * Creates a mutual-TLS transport using `cfg` (which it references; the caller may free cfg
 * afterwards). `opts` may be NULL (plain TCP underneath). The config needs trust anchors and own
 * credentials by the time the transport connects (else TW_ERR_CONFIG at connect).
 * Non-blocking use: while tw_transport_connect() returns TW_ERR_AGAIN, call it again when the
 * descriptor is ready for tw_transport_events() or at the latest after 50 ms: the handshake
 * deadline and the post-handshake wait are timers that no descriptor signals.
 * After a write, tw_transport_events() may ask for TW_POLL_OUT: a record is queued inside the
 * transport; the next read or write call sends it.
 * Connect errors, each with a message naming the reason in tw_transport_last_error():
 * TW_ERR_TLS_UNKNOWN_CA, TW_ERR_TLS_CERT_EXPIRED, TW_ERR_TLS_CERT_NOT_YET_VALID,
 * TW_ERR_TLS_HOSTNAME, TW_ERR_TLS_PIN, TW_ERR_TLS_REVOKED, TW_ERR_TLS_CRL, TW_ERR_TLS_WEAK_KEY
 * (server side); TW_ERR_TLS_PEER_REFUSED (the server aborted the handshake with an alert, e.g. it
 * wants or rejects our certificate; with TLS 1.3 this is detected by the post-handshake wait),
 * TW_ERR_TLS_VERSION (no common version, e.g. a TLS 1.1 server), TW_ERR_TLS_CREDENTIALS (our key
 * could not sign), TW_ERR_TLS_HANDSHAKE (other negotiation failure), TW_ERR_TIMEOUT,
 * TW_ERR_CONN_REFUSED, TW_ERR_RESOLVE, TW_ERR_UNREACHABLE, TW_ERR_CONFIG (no trust anchors).
 * Errors of this call: TW_ERR_NOT_INITIALIZED, TW_ERR_INVALID_ARG, TW_ERR_VERSION, TW_ERR_NOMEM,
 * TW_ERR_TLS; detail in tw_last_error() on the calling thread.
 */
TW_API tw_status tw_transport_new_tls(tw_transport **out, tw_tls_config *cfg,
                                      const tw_tls_options *opts);

/* The X.509 extension in which Modbus/TCP Security carries a role (an ASN.1 UTF8String; defined by
 * the Modbus/TCP Security specification for client certificates, R-21/R-22). */
#define TW_TLS_MODBUS_ROLE_OID "1.3.6.1.4.1.50316.802.1"

/* Layout versions of tw_tls_info: 1 ends at handshake_us, 2 adds own_role and peer_role. A caller
 * that sets version 1 gets the version 1 fields only (nothing after handshake_us is written). */
#define TW_TLS_INFO_VERSION 2
typedef struct tw_tls_info {
    uint32_t version;          /* set by the caller: TW_TLS_INFO_VERSION */
    unsigned protocol;         /* TW_TLS_VERSION_1_2 or TW_TLS_VERSION_1_3 */
    char protocol_name[16];    /* "TLSv1.3" */
    uint16_t suite_id;         /* IANA cipher suite number, e.g. 0x1301 */
    char suite_name[64];       /* mbedTLS's name, e.g. "TLS1-3-AES-128-GCM-SHA256" */
    int resumed;               /* non-zero when the session was resumed (abbreviated handshake) */
    char peer_subject[256];    /* the server certificate's subject DN, e.g. "O=..., CN=localhost" */
    int64_t peer_not_after;    /* the server certificate's expiry, Unix seconds */
    int64_t own_not_after;     /* expiry of the certificate we presented, Unix seconds (0: none) */
    uint64_t handshake_us;     /* duration of the last connect (TCP + TLS), microseconds */
    /* version 2: the Modbus/TCP Security role (TW_TLS_MODBUS_ROLE_OID, first occurrence) of the
     * certificate we presented and of the server's certificate; "" when the certificate has none
     * or it is not a UTF8String. Control characters are replaced by '?'; a longer role is cut at a
     * character boundary. peer_role is "" after a resumed handshake (no certificate is sent). */
    char own_role[64];
    char peer_role[64];
} tw_tls_info;

/*
 * Describes the connection of a connected TLS transport. `info->version` must be set by the
 * caller (1 or 2; see TW_TLS_INFO_VERSION). Errors: TW_ERR_INVALID_ARG (not a TLS transport),
 * TW_ERR_VERSION, TW_ERR_BUSY (not connected).
 */
TW_API tw_status tw_transport_tls_info(const tw_transport *t, tw_tls_info *info);

TW_END_DECLS

#endif /* TAGWIRE_TLS_H */
