/*
 * tagwire/enroll.h - certificate enrollment and renewal over EST (RFC 7030), credential store.
 *
 * A tw_enroll object talks to one EST server over HTTPS (libcurl) and keeps the device's key and
 * certificate chain in a credential directory:
 *
 *   tw_enroll_enroll()     /simpleenroll: new ECDSA P-256 key, PKCS#10 CSR (see tagwire/identity.h
 *                          for subject and SAN), authenticated by a bootstrap certificate (mTLS,
 *                          IDevID style) and/or HTTP basic credentials.
 *   tw_enroll_reenroll()   /simplereenroll: a fresh key, authenticated by the current credential.
 *   tw_enroll_get_cacerts()  /cacerts, stored as DIR/cacerts.pem.
 *   tw_enroll_step()       renewal: re-enrolls once the configured fraction of the certificate's
 *                          lifetime has passed (default 2/3), paced by back-off.
 *
 * Trust: the EST server is verified against `server_ca_file` only (the system's trust store is
 * not used unless `use_system_trust` is set) and its name against the URL's host.
 *
 * TLS: EST runs over libcurl's TLS back end (OpenSSL on Debian), not over tagwire's mbedTLS
 * transport, with the same policy as tagwire/tls.h applied through libcurl options: TLS 1.2 or
 * 1.3 only, TLS 1.2 suites ECDHE-(ECDSA|RSA) with AES-GCM or ChaCha20-Poly1305, TLS 1.3 suites
 * TLS_AES_128_GCM_SHA256, TLS_AES_256_GCM_SHA384, TLS_CHACHA20_POLY1305_SHA256. A server offering
 * nothing of these fails the handshake; a libcurl back end that cannot take the policy makes every
 * request fail with TW_ERR_UNSUPPORTED instead of falling back to weaker settings.
 *
 * Credential directory (created 0700; every file 0600, written to a temporary name, fsync'ed,
 * renamed, and the directory fsync'ed):
 *   DIR/gen-<N>/key.pem     private key (PEM, SEC1 "EC PRIVATE KEY")
 *   DIR/gen-<N>/chain.pem   certificate chain (PEM, leaf first)
 *   DIR/current -> gen-<N>  symbolic link: the confirmed credential
 *   DIR/pending -> gen-<M>  symbolic link: a renewed credential not yet confirmed
 *   DIR/cacerts.pem         the EST server's CA certificates (/cacerts), when fetched
 * A renewed credential becomes `pending`; the previous one stays `current` until the caller
 * confirms that the new one completed a TLS handshake (tw_enroll_commit()), which atomically
 * replaces the link and then removes the old generation. tw_enroll_rollback() drops it instead.
 * The first credential, having no predecessor to protect, becomes `current` at once. At every
 * instant of a power loss the directory holds a usable, matching key and chain: on open,
 * unreferenced or incomplete generations are removed. Readers should resolve a link once
 * (tw_credential_inspect() returns resolved paths) so that key and chain come from one generation.
 * Updates are serialised between processes by flock() on DIR/.lock.
 *
 * Threading: a tw_enroll object is used by one thread at a time. tw_enroll_renew_time(),
 * tw_enroll_status_retriable() and tw_credential_inspect() are TW_THREADSAFE. The event callback
 * runs on the thread that called into the object, inside that call; it must not call functions of
 * the same tw_enroll object.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_ENROLL_H
#define TAGWIRE_ENROLL_H

#include "core.h"
#include "identity.h"

TW_BEGIN_DECLS

typedef struct tw_enroll tw_enroll;

#define TW_CREDENTIAL_PATH_MAX 512

/* ---- events -------------------------------------------------------------------------------------- */

typedef enum tw_enroll_event_type {
    TW_ENROLL_EVENT_ENROLLED = 1,  /* a first credential was stored and is current */
    TW_ENROLL_EVENT_EXPIRING = 2,  /* the renewal point of the current certificate has passed */
    TW_ENROLL_EVENT_RENEWED = 3,   /* a renewed credential was stored as pending: load it into
                                      the TLS configuration, and after a successful handshake
                                      call tw_enroll_commit() (or tw_enroll_rollback()) */
    TW_ENROLL_EVENT_FAILED = 4,    /* an enrollment or renewal attempt failed (status, retriable) */
    TW_ENROLL_EVENT_COMMITTED = 5, /* the pending credential became current; the old one is gone */
    TW_ENROLL_EVENT_EXPIRED = 6    /* the current certificate is past its notAfter */
} tw_enroll_event_type;

typedef struct tw_enroll_event {
    tw_enroll_event_type type;
    tw_status status;        /* FAILED: why; otherwise TW_OK */
    int retriable;           /* FAILED: non-zero when a later attempt may succeed */
    uint32_t retry_after_s;  /* FAILED with TW_ERR_EST_RETRY_LATER: the server's Retry-After */
    const char *message;     /* one line for humans; never NULL */
    /* ENROLLED, RENEWED, COMMITTED: the stored credential's files (resolved generation paths) and
     * its contents as PEM (NUL-terminated; lengths exclude the NUL). NULL for other events. */
    const char *key_path;
    const char *chain_path;
    const char *key_pem;
    size_t key_pem_len;
    const char *chain_pem;
    size_t chain_pem_len;
    int64_t not_after;       /* the certificate concerned, Unix seconds; 0 when none */
} tw_enroll_event;

/* Event callback: see "Threading" above. The event and its strings are valid during the call. */
typedef void (*tw_enroll_event_fn)(const tw_enroll_event *event, void *user_data);

/* ---- options --------------------------------------------------------------------------------------- */

#define TW_ENROLL_OPTIONS_VERSION 1

typedef struct tw_enroll_options {
    uint32_t version;                /* TW_ENROLL_OPTIONS_VERSION */
    const char *server_url;          /* "https://host[:port]"; the EST path prefix
                                        /.well-known/est is appended. Required. https only. */
    const char *label;               /* optional CA label (RFC 7030 3.2.2), e.g. "arbitraryLabel1" */
    const char *server_ca_file;      /* PEM trust anchors for the EST server's certificate.
                                        Required unless use_system_trust is set. */
    int use_system_trust;            /* non-zero: also trust the system's CA store */
    const char *bootstrap_cert_file; /* client certificate (PEM) for /simpleenroll, with its key */
    const char *bootstrap_key_file;
    const char *username;            /* HTTP basic credentials for /simpleenroll (and re-enroll, */
    const char *password;            /* where the server asks for them); never sent over plain HTTP */
    const char *credentials_dir;     /* required: the credential directory (created if missing) */
    const tw_identity *identity; /* required for enroll/reenroll; copied by tw_enroll_new */
    uint32_t max_attempts;           /* attempts per blocking call for transient failures; 0 = 4 */
    uint32_t backoff_base_ms;        /* back-off between attempts (full jitter); 0 = 500 */
    uint32_t backoff_cap_ms;         /* 0 = 30000 */
    uint32_t max_retry_after_s;      /* a 202/503 Retry-After up to this is waited for inside the
                                        call; a longer one returns TW_ERR_EST_RETRY_LATER; 0 = 30 */
    uint32_t request_timeout_ms;     /* per HTTP request; 0 = 30000 */
    double renew_fraction;           /* renew after this fraction of the lifetime; 0 = 2/3 */
    tw_enroll_event_fn on_event;     /* optional */
    void *user_data;
} tw_enroll_options;

#define TW_ENROLL_OPTIONS_INIT                                                                    \
    { TW_ENROLL_OPTIONS_VERSION, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL,          \
      0, 0, 0, 0, 0, 0.0, NULL, NULL }

/* ---- object ------------------------------------------------------------------------------------------ */

/*
 * Creates an enrollment client. Copies every string and the identity; opens (and tidies) the
 * credential directory. Does no network I/O.
 * Errors: TW_ERR_NOT_INITIALIZED, TW_ERR_INVALID_ARG, TW_ERR_VERSION, TW_ERR_CONFIG (missing or
 * contradictory options: the message names the field), TW_ERR_IDENTITY, TW_ERR_IO, TW_ERR_NOMEM.
 * On failure *out is NULL and the reason is in tw_last_error() on the calling thread
 * ("enroll: server_ca_file: cannot read /x/ca.pem: No such file or directory").
 */
TW_API tw_status tw_enroll_new(tw_enroll **out, const tw_enroll_options *options);

/* Frees the object (NULL is ignored). The credential directory is left as it is. */
TW_API void tw_enroll_free(tw_enroll *e);

/* The last error's message (or "" when none). Valid until the next call on the object. */
TW_API const char *tw_enroll_last_error(const tw_enroll *e);
/* The last error's status (TW_OK when none; TW_ERR_INVALID_ARG for NULL). */
TW_API tw_status tw_enroll_last_status(const tw_enroll *e);

/* The Retry-After (seconds) of the last TW_ERR_EST_RETRY_LATER, 0 when none. */
TW_API uint32_t tw_enroll_retry_after(const tw_enroll *e);

/*
 * /cacerts: fetches the CA certificates and stores them as DIR/cacerts.pem (replaced atomically).
 * Blocking; retries transient failures (see tw_enroll_enroll()). FAILED is emitted on failure.
 * Errors: TW_ERR_INVALID_ARG, TW_ERR_EST_BAD_RESPONSE (not a certs-only PKCS#7), TW_ERR_EST_AUTH,
 * TW_ERR_EST_RETRY_LATER, TW_ERR_EST_SERVER, TW_ERR_HTTP, TW_ERR_CONN_REFUSED, TW_ERR_RESOLVE,
 * TW_ERR_TIMEOUT, TW_ERR_TLS_* (server certificate not trusted, handshake), TW_ERR_IO (writing the
 * file), TW_ERR_NOMEM.
 */
TW_API tw_status tw_enroll_get_cacerts(tw_enroll *e);

/*
 * /csrattrs: fetches the server's CSR attributes (DER, RFC 7030 4.5.2) into a buffer the caller
 * releases with tw_free(). A server without attributes answers 204/404: *der = NULL, *len = 0, TW_OK.
 * Blocking, with retries as tw_enroll_get_cacerts(). On failure *der = NULL, *len = 0.
 * Errors: TW_ERR_INVALID_ARG, TW_ERR_EST_BAD_RESPONSE (body not base64 DER), TW_ERR_EST_AUTH,
 * TW_ERR_EST_RETRY_LATER, TW_ERR_EST_SERVER, TW_ERR_HTTP, TW_ERR_CONN_REFUSED, TW_ERR_RESOLVE,
 * TW_ERR_TIMEOUT, TW_ERR_TLS_*, TW_ERR_NOMEM.
 */
TW_API tw_status tw_enroll_get_csrattrs(tw_enroll *e, unsigned char **der, size_t *len);

/*
 * /simpleenroll: generates a key, sends the CSR, checks that the returned certificate carries our
 * public key, stores the credential (current when there is none, else pending) and emits
 * ENROLLED (or RENEWED). Blocking: transient failures (connection refused, timeout, HTTP 5xx,
 * 202/503 with a short Retry-After) are retried up to max_attempts with back-off; the same key
 * and CSR are resent. On any failure the credential directory is unchanged and FAILED is emitted.
 * Errors: TW_ERR_EST_AUTH (401/403 or the TLS client certificate refused), TW_ERR_EST_RETRY_LATER
 * (tw_enroll_retry_after() says when), TW_ERR_EST_BAD_RESPONSE, TW_ERR_EST_KEY_MISMATCH,
 * TW_ERR_EST_SERVER, TW_ERR_HTTP (other HTTP status), TW_ERR_CONN_REFUSED, TW_ERR_RESOLVE,
 * TW_ERR_TIMEOUT, TW_ERR_TLS_* (server certificate not trusted, handshake), TW_ERR_IO, TW_ERR_CONFIG.
 * Use tw_enroll_status_retriable() to tell which are worth another try.
 */
TW_API tw_status tw_enroll_enroll(tw_enroll *e);

/*
 * /simplereenroll: as tw_enroll_enroll, with a new key, authenticated by the current credential's
 * certificate (mTLS) and the basic credentials if set. The result is stored as pending (RENEWED).
 * Errors: as tw_enroll_enroll; TW_ERR_NOT_FOUND when there is no current credential,
 * TW_ERR_BUSY when a pending credential awaits commit or rollback.
 */
TW_API tw_status tw_enroll_reenroll(tw_enroll *e);

/*
 * Confirms the pending credential after it completed a TLS handshake: it becomes current, the
 * previous generation is removed, COMMITTED is emitted. Errors: TW_ERR_NOT_FOUND (no pending),
 * TW_ERR_IO.
 */
TW_API tw_status tw_enroll_commit(tw_enroll *e);

/* Drops the pending credential (e.g. its handshake failed). TW_ERR_NOT_FOUND when none. */
TW_API tw_status tw_enroll_rollback(tw_enroll *e);

/*
 * Renewal step, for the caller's own loop (cheap when nothing is due; call it every few seconds
 * or minutes). `now_s` is Unix time in seconds (0 = the clock). When the current certificate has
 * passed its renewal point, emits EXPIRING (once per certificate; EXPIRED too when past notAfter)
 * and makes ONE re-enroll attempt; a failure emits FAILED and schedules the next attempt after
 * back-off (or the server's Retry-After). Does nothing while a credential is pending.
 * Returns TW_OK when nothing was due, the attempt was paced out, or a renewal succeeded; the
 * attempt's error otherwise. TW_ERR_NOT_FOUND when there is no current credential.
 */
TW_API tw_status tw_enroll_step(tw_enroll *e, int64_t now_s);

/* ---- pure helpers and inspection -------------------------------------------------------------------- */

/*
 * The instant (Unix seconds) after which a certificate valid from not_before to not_after should
 * be renewed: not_before + fraction * (not_after - not_before). fraction outside (0, 1]
 * (including 0) means 2/3. Pure.
 */
TW_API TW_THREADSAFE int64_t tw_enroll_renew_time(int64_t not_before, int64_t not_after,
                                                  double fraction);

/* Non-zero when an operation that failed with `status` may succeed if simply tried again later
 * (network, timeout, HTTP 5xx, Retry-After); zero for authentication, malformed responses, key
 * mismatch, trust and configuration errors. */
TW_API TW_THREADSAFE int tw_enroll_status_retriable(tw_status status);

#define TW_CREDENTIAL_INFO_VERSION 1

typedef struct tw_credential_info {
    uint32_t version;               /* set by the caller: TW_CREDENTIAL_INFO_VERSION */
    int has_current;                /* a usable current credential exists */
    int has_pending;                /* a renewed credential awaits commit */
    char key_path[TW_CREDENTIAL_PATH_MAX];   /* current, resolved (DIR/gen-N/key.pem) */
    char chain_path[TW_CREDENTIAL_PATH_MAX];
    char pending_key_path[TW_CREDENTIAL_PATH_MAX];
    char pending_chain_path[TW_CREDENTIAL_PATH_MAX];
    char subject[256];              /* current leaf certificate, RFC 4514-like text */
    char issuer[256];
    char serial[128];               /* hex */
    char uri[256];                  /* the first URI SAN, "" when none */
    int64_t not_before;             /* Unix seconds */
    int64_t not_after;
    int64_t renew_at;               /* tw_enroll_renew_time(not_before, not_after, fraction) */
} tw_credential_info;

/*
 * Reads a credential directory without modifying it. `fraction` as tw_enroll_renew_time.
 * has_current is set only when the current key and leaf certificate parse and match.
 * Errors: TW_ERR_INVALID_ARG, TW_ERR_VERSION, TW_ERR_NOT_FOUND (no such directory).
 */
TW_API TW_THREADSAFE tw_status tw_credential_inspect(tw_credential_info *out, const char *dir,
                                                     double fraction);

TW_END_DECLS

#endif /* TAGWIRE_ENROLL_H */
