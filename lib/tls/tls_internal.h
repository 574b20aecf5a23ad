/* Private: TLS helpers shared inside the tls module and its unit tests. */
#ifndef TW_TLS_INTERNAL_H
#define TW_TLS_INTERNAL_H

#include <mbedtls/x509.h>

#include "internal.h"
#include "tagwire/tls.h"

typedef struct tw__creds tw__creds;

/* psa_crypto_init() exactly once per process (pthread_once). TW_OK or TW_ERR_TLS. */
tw_status tw__tls_global_init(void);
/* An X.509 time as Unix seconds. */
int64_t tw__tls_x509_time(const mbedtls_x509_time *t);
/* The Modbus/TCP Security role (TW_TLS_MODBUS_ROLE_OID, a UTF8String; first occurrence) of a DER
 * certificate, sanitised into out (cap >= 1). TW_OK, TW_ERR_NOT_FOUND (no role extension, or not a
 * UTF8String), TW_ERR_PARSE (not a certificate), TW_ERR_INVALID_ARG. */
tw_status tw__tls_cert_role(const unsigned char *der, size_t len, char *out, size_t cap);
/* Copies a role of `len` bytes into out: control characters become '?', cut at a UTF-8 boundary. */
void tw__role_copy(char *out, size_t cap, const unsigned char *s, size_t len);
/* Takes a reference on a config (dropped with tw_tls_config_free). */
tw_tls_config *tw__tls_config_ref(tw_tls_config *c);

#endif
