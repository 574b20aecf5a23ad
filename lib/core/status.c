/* Status code names and descriptions. SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>

#include "internal.h"

#define TW__STATUS_LIST(X)                                                                   \
    X(TW_OK, "success")                                                                      \
    X(TW_ERR_GENERIC, "unspecified error")                                                   \
    X(TW_ERR_NOMEM, "out of memory")                                                         \
    X(TW_ERR_INVALID_ARG, "invalid argument")                                                \
    X(TW_ERR_NOT_INITIALIZED, "library not initialised (call tw_init)")                      \
    X(TW_ERR_NOT_FOUND, "not found")                                                         \
    X(TW_ERR_EXISTS, "already exists")                                                       \
    X(TW_ERR_TYPE_MISMATCH, "type mismatch")                                                 \
    X(TW_ERR_RANGE, "value out of range")                                                    \
    X(TW_ERR_BUSY, "busy or in the wrong state")                                             \
    X(TW_ERR_AGAIN, "operation would block; try again")                                      \
    X(TW_ERR_TIMEOUT, "operation timed out")                                                 \
    X(TW_ERR_IO, "input/output error")                                                       \
    X(TW_ERR_CLOSED, "connection closed")                                                    \
    X(TW_ERR_UNSUPPORTED, "not supported")                                                   \
    X(TW_ERR_VERSION, "unsupported options version")                                         \
    X(TW_ERR_PARSE, "malformed input")                                                       \
    X(TW_ERR_CONFIG, "invalid configuration")                                                \
    X(TW_ERR_PROTOCOL, "protocol violation by peer")                                         \
    X(TW_ERR_FULL, "queue or store full")                                                    \
    X(TW_ERR_CONN_REFUSED, "connection refused")                                             \
    X(TW_ERR_RESOLVE, "host name could not be resolved")                                     \
    X(TW_ERR_NO_SPACE, "no space left on device")                                            \
    X(TW_ERR_CORRUPT, "data corrupt")                                                        \
    X(TW_ERR_CANCELLED, "operation cancelled")                                               \
    X(TW_ERR_PERMISSION, "permission denied")                                                \
    X(TW_ERR_UNREACHABLE, "network or host unreachable")                                     \
    X(TW_ERR_TLS, "TLS error")                                                               \
    X(TW_ERR_TLS_UNKNOWN_CA, "peer certificate not issued by a trusted CA")                  \
    X(TW_ERR_TLS_CERT_EXPIRED, "peer certificate expired")                                   \
    X(TW_ERR_TLS_CERT_NOT_YET_VALID, "peer certificate not yet valid")                       \
    X(TW_ERR_TLS_HOSTNAME, "peer certificate does not match the server name")                \
    X(TW_ERR_TLS_PIN, "peer public key matches no configured pin")                           \
    X(TW_ERR_TLS_REVOKED, "peer certificate revoked")                                        \
    X(TW_ERR_TLS_PEER_REFUSED, "handshake refused by peer")                                  \
    X(TW_ERR_TLS_VERSION, "no common TLS protocol version")                                  \
    X(TW_ERR_TLS_WEAK_KEY, "key or signature too weak for the security policy")              \
    X(TW_ERR_TLS_CREDENTIALS, "own certificate or key cannot be used")                       \
    X(TW_ERR_TLS_INSECURE, "plaintext connection not explicitly allowed")                    \
    X(TW_ERR_TLS_BAD_CERT, "peer certificate malformed or unusable")                         \
    X(TW_ERR_TLS_HANDSHAKE, "TLS handshake failed")                                          \
    X(TW_ERR_TLS_CRL, "certificate revocation list expired or untrusted")                    \
    X(TW_ERR_MQTT_REFUSED, "MQTT connection refused by broker")                              \
    X(TW_ERR_MQTT_NOT_AUTHORIZED, "MQTT operation not authorised by broker")                 \
    X(TW_ERR_MQTT_MALFORMED, "malformed MQTT packet")                                        \
    X(TW_ERR_MQTT_TOO_LARGE, "MQTT packet too large")                                        \
    X(TW_ERR_MQTT_SUBSCRIBE_FAILED, "MQTT subscription refused")                             \
    X(TW_ERR_MQTT_KEEPALIVE, "MQTT keep-alive timed out")                                    \
    X(TW_ERR_MQTT_NOT_CONNECTED, "MQTT session not connected")                               \
    X(TW_ERR_MQTT_INFLIGHT_FULL, "MQTT in-flight window full")                               \
    X(TW_ERR_MQTT_REJECTED, "MQTT request rejected by broker")                               \
    X(TW_ERR_MODBUS_EXCEPTION, "Modbus exception response")                                  \
    X(TW_ERR_ADDRESS, "invalid tag address")                                                 \
    X(TW_ERR_ADAPTER, "adapter error")                                                       \
    X(TW_ERR_NO_ADAPTER, "no adapter registered for the URI scheme")                         \
    X(TW_ERR_CRC, "checksum mismatch")                                                       \
    X(TW_ERR_SPARKPLUG, "Sparkplug protocol error")                                          \
    X(TW_ERR_SPARKPLUG_DECODE, "Sparkplug payload could not be decoded")                     \
    X(TW_ERR_SPARKPLUG_TOPIC, "invalid Sparkplug topic")                                     \
    X(TW_ERR_STORE, "store error")                                                           \
    X(TW_ERR_STORE_LOCKED, "store directory locked by another process")                      \
    X(TW_ERR_EST, "EST error")                                                               \
    X(TW_ERR_EST_AUTH, "EST server refused the credentials")                                 \
    X(TW_ERR_EST_RETRY_LATER, "EST server asks to retry later")                              \
    X(TW_ERR_EST_BAD_RESPONSE, "malformed EST response")                                     \
    X(TW_ERR_EST_KEY_MISMATCH, "issued certificate does not match the key")                  \
    X(TW_ERR_HTTP, "HTTP request failed")                                                    \
    X(TW_ERR_IDENTITY, "invalid device identity")                                            \
    X(TW_ERR_EST_SERVER, "EST server error (retriable)")                                     \
    X(TW_ERR_NODE_STATE, "node not in a state that allows the call")

const char *tw_status_name(tw_status status)
{
    switch (status) {
#define X(code, text) case code: return #code;
        TW__STATUS_LIST(X)
#undef X
    default: return "TW_ERR_UNKNOWN";
    }
}

const char *tw_strerror(tw_status status)
{
    switch (status) {
#define X(code, text) case code: return text;
        TW__STATUS_LIST(X)
#undef X
    default: return "unknown status code";
    }
}

tw_status tw__status_from_errno(int err)
{
    switch (err) {
    case 0: return TW_OK;
    case ENOMEM: return TW_ERR_NOMEM;
    case EINVAL: return TW_ERR_INVALID_ARG;
    case ENOENT: return TW_ERR_NOT_FOUND;
    case EEXIST: return TW_ERR_EXISTS;
    case EAGAIN:
#if EWOULDBLOCK != EAGAIN
    case EWOULDBLOCK:
#endif
    case EINPROGRESS: return TW_ERR_AGAIN;
    case ETIMEDOUT: return TW_ERR_TIMEOUT;
    case ECONNREFUSED: return TW_ERR_CONN_REFUSED;
    case ECONNRESET:
    case EPIPE: return TW_ERR_CLOSED;
    case ENOSPC:
#ifdef EDQUOT
    case EDQUOT:
#endif
        return TW_ERR_NO_SPACE;
    case EACCES:
    case EPERM: return TW_ERR_PERMISSION;
    case ENETUNREACH:
    case EHOSTUNREACH: return TW_ERR_UNREACHABLE;
    case ECANCELED: return TW_ERR_CANCELLED;
    default: return TW_ERR_IO;
    }
}
