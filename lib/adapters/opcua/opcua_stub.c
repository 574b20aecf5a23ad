/* tw_opcua_browse() when the library is built without open62541. SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>

#include "internal.h"
#include "tagwire/opcua.h"

tw_status tw_opcua_browse(const char *uri, const char *node_id, uint32_t timeout_ms, tw_opcua_browse_fn fn,
                          void *user_data)
{
    (void)uri;
    (void)node_id;
    (void)timeout_ms;
    (void)fn;
    (void)user_data;
    return tw__err(NULL, "opcua", TW_ERR_UNSUPPORTED,
                   "this tagwire was built without OPC UA (open62541 not found)");
}
