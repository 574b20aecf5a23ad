/* Private: TLS helpers shared inside the tls module and its unit tests. */
#ifndef TW_TLS_INTERNAL_H
#define TW_TLS_INTERNAL_H

#include <mbedtls/x509.h>

#include "internal.h"
#include "tagwire/tls.h"

typedef struct tw__creds tw__creds;

/* psa_crypto_init() exactly once per process (pthread_once). TW_OK or TW_ERR_TLS. */
tw_status tw__tls_global_init(void);
/* Parses "sha256/BASE64" into 32 bytes. TW_OK or TW_ERR_PARSE. */
tw_status tw__tls_parse_pin(const char *pin, uint8_t out[32]);
/* An X.509 time as Unix seconds. */
int64_t tw__tls_x509_time(const mbedtls_x509_time *t);
/* Takes a reference on a config (dropped with tw_tls_config_free). */
tw_tls_config *tw__tls_config_ref(tw_tls_config *c);

#endif
