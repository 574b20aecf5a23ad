/* OPC UA adapter internals shared by the adapter and the browse helper. SPDX-License-Identifier: Apache-2.0 */
#ifndef TW_OPCUA_INTERNAL_H
#define TW_OPCUA_INTERNAL_H

#include <open62541/client.h>

#include "tagwire/sys/adapter.h"
#include "opcua_address.h"

#define TW__UA_MAX_TRUST 16

typedef struct tw__opcua_conf {
    char endpoint[600];               /* opc.tcp://host:port/path */
    UA_MessageSecurityMode mode;
    const char *policy_uri;           /* static */
    char *cert, *key, *app_uri, *user, *password;
    char *trust[TW__UA_MAX_TRUST];
    size_t ntrust;
    int trust_any;
    uint32_t timeout_ms, backoff_min_ms, backoff_max_ms;
    double publish_ms, sampling_ms;
    uint32_t queue_size;
} tw__opcua_conf;

/* Reads the URI parameters (docs/addresses.md). TW_ERR_CONFIG with a message on a bad one. */
tw_status tw__opcua_conf_parse(tw__opcua_conf *conf, const tw_adapter_uri *u, const tw_device_options *o, char *err,
                               size_t errlen);
void tw__opcua_conf_free(tw__opcua_conf *conf);

/* A client configured from conf (not connected). `context` becomes the client context. */
tw_status tw__opcua_client_new(UA_Client **out, const tw__opcua_conf *conf, UA_Logger *logger, void *context, char *err,
                               size_t errlen);

/* open62541 log output through tw__log. */
void tw__opcua_logger(UA_Logger *lg);

tw_status tw__opcua_addr_to_nodeid(const ua_addr *a, UA_NodeId *out);

/* A tw_status for an OPC UA status code that ended a service or a connect. */
tw_status tw__opcua_status(UA_StatusCode sc);

#endif
