/* Fuzzes tw__uri_redact (URIs from configuration files on their way into logs and errors): the
 * output is bounded and terminated, redaction is idempotent, and whenever the adapter URI parser
 * accepts the input, every parameter it would hand an adapter under a secret name reads "***"
 * after redaction (checked against the parser, not against the redactor's own scanning). */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "adapter/adapter_internal.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int secret_name(const char *k)
{
    static const char *const names[] = {"password", "pass", "passwd", "pwd", "secret", "key_password", "token", "psk"};
    char low[32];
    size_t n = strlen(k);
    if (n >= sizeof low) return 0;
    for (size_t i = 0; i <= n; i++) low[i] = (char)tolower((unsigned char)k[i]);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(low, names[i])) return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int inited;
    if (!inited) {
        tw_init_params ip = TW_INIT_PARAMS_INIT;
        ip.log_level = TW_LOG_ERROR;
        if (tw_init(&ip) != TW_OK) abort();
        inited = 1;
    }
    if (size > 4096) return 0;
    char *s = malloc(size + 1);
    if (!s) return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    /* small buffer: bounded and terminated */
    char small[24];
    memset(small, 'x', sizeof small);
    tw__uri_redact(s, small, sizeof small);
    if (!memchr(small, '\0', sizeof small)) abort();
    /* big enough never to truncate (each value grows by at most 3 bytes) */
    size_t cap = 4 * size + 64;
    char *r1 = malloc(cap), *r2 = malloc(cap);
    if (!r1 || !r2) abort();
    tw__uri_redact(s, r1, cap);
    if (strlen(r1) >= cap - 1) abort();
    tw__uri_redact(r1, r2, cap);
    if (strcmp(r1, r2)) abort(); /* idempotent */
    char err[256];
    tw__uri u, ur;
    if (tw__uri_parse(&u, s, err, sizeof err) == TW_OK) {
        if (tw__uri_parse(&ur, r1, err, sizeof err) != TW_OK) abort();
        if (u.n != ur.n) abort();
        for (size_t i = 0; i < ur.n; i++) {
            if (strcmp(u.keys[i], ur.keys[i])) abort();
            if (secret_name(ur.keys[i]) && u.values[i][0] && strcmp(ur.values[i], "***")) abort(); /* "" is no secret */
        }
        tw__uri_free(&ur);
        tw__uri_free(&u);
    }
    free(r1);
    free(r2);
    free(s);
    return 0;
}
