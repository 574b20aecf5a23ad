/* Fuzz target: the Sparkplug host STATE payload parser (JSON); what parses rebuilds and parses
 * back to the same values. SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>

#include "sparkplug/sp_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int online = -1, online2 = -1;
    uint64_t ts = 0, ts2 = 0;
    tw_status st = tw_sp_state_parse(&online, &ts, data, size);
    if (st != TW_OK) {
        if (st != TW_ERR_SPARKPLUG_DECODE) abort();
        return 0;
    }
    char buf[64];
    size_t len = 0;
    if (tw_sp_state_build(buf, sizeof(buf), &len, online, ts) != TW_OK) abort();
    if (tw_sp_state_parse(&online2, &ts2, buf, len) != TW_OK || online2 != online || ts2 != ts) abort();
    return 0;
}
