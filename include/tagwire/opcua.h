/*
 * tagwire/opcua.h - OPC UA helpers beyond the adapter (browsing a server's address space).
 *
 * The OPC UA adapter itself is used through tagwire/adapter.h with URIs such as
 *
 *   opcua://plc.local:4840?security=none                   plaintext, anonymous (explicit only)
 *   opcua://plc.local:4840/path?policy=basic256sha256      SignAndEncrypt (the default)
 *          &cert=client.der&key=client.key&trust=ca.der&user=op&password_file=/run/secrets/pw
 *
 * and item addresses that are NodeIds ("ns=2;s=Line1.Press7.Temp", "ns=3;i=1001", "g=", "b="),
 * optionally preceded by the tagwire type the item delivers ("type=INT32;ns=3;i=1001"; default
 * DOUBLE). See docs/addresses.md for every URI parameter. The adapter is built when open62541 1.4
 * is found: tw_features() & TW_FEATURE_OPCUA tells.
 *
 * Threading: tw_opcua_browse() is TW_THREADSAFE (it uses its own connection).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_OPCUA_H
#define TAGWIRE_OPCUA_H

#include "core.h"

TW_BEGIN_DECLS

/* One reference found by tw_opcua_browse(). Strings are valid during the callback only. */
typedef struct tw_opcua_ref {
    const char *node_id;      /* target NodeId, e.g. "ns=2;s=Line1.Temp" (usable as an item address) */
    const char *browse_name;  /* "2:Temp" (namespace index and name) */
    const char *display_name; /* localized text, may be "" */
    const char *node_class;   /* "Object", "Variable", "Method", "ObjectType", "VariableType",
                                 "ReferenceType", "DataType", "View" */
    const char *data_type;    /* Variables: the data type's name ("Double", "String", ...) or its
                                 NodeId for non-standard types; "" for other classes */
} tw_opcua_ref;

/* Called once per child, in the server's order, on the thread inside tw_opcua_browse(). */
typedef void (*tw_opcua_browse_fn)(const tw_opcua_ref *ref, void *user_data);

/*
 * Connects to the server of `uri` (an opcua:// device URI: same parameters, security and identity
 * as for tw_device_open()), lists the children of `node_id` over hierarchical references (NULL or
 * "": the Objects folder, i=85), calls fn for each, and disconnects. Blocks for at most about
 * timeout_ms per request (0 = 5000).
 * Errors: TW_ERR_NOT_INITIALIZED, TW_ERR_INVALID_ARG, TW_ERR_UNSUPPORTED (built without OPC UA),
 * TW_ERR_PARSE / TW_ERR_CONFIG (URI), TW_ERR_ADDRESS (node_id), TW_ERR_CONN_REFUSED,
 * TW_ERR_TIMEOUT, TW_ERR_ADAPTER (a service failed: the OPC UA status name is in the message).
 * Error detail: a one-line message in tw_last_error() on the calling thread ("opcua: ...").
 * TW_THREADSAFE.
 */
TW_API TW_THREADSAFE tw_status tw_opcua_browse(const char *uri, const char *node_id, uint32_t timeout_ms,
                                               tw_opcua_browse_fn fn, void *user_data);

TW_END_DECLS

#endif /* TAGWIRE_OPCUA_H */
