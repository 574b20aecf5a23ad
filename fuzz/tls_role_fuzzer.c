/*
 * Fuzz target: the Modbus/TCP Security role extraction (tw__tls_cert_role) on arbitrary bytes as a
 * DER certificate. The peer's certificate reaches it after the handshake has parsed it, but the
 * extension walk and the UTF8String decoding are ours. Byte 0 chooses the output capacity (1..64),
 * the rest is the certificate. The role written must be NUL-terminated within the capacity and
 * free of control characters. Must never crash or leak.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tagwire/tls.h"
#include "tls/tls_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    size_t cap = (size_t)(data[0] % 64) + 1;
    char out[66];
    memset(out, 'X', sizeof out);
    (void)tw__tls_cert_role(data + 1, size - 1, out, cap);
    size_t n = strnlen(out, cap);
    if (n >= cap) abort(); /* not terminated within the capacity */
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7F) abort();
    if (out[cap] != 'X') abort(); /* wrote beyond the capacity */
    return 0;
}
