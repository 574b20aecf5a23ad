/* tw_opcua_browse(): children of a node, for `tagwire browse`. SPDX-License-Identifier: Apache-2.0 */
#include <open62541/client.h>
#include <open62541/client_highlevel.h>
#include <stdio.h>
#include <string.h>

#include "adapter/adapter_internal.h"
#include "internal.h"
#include "opcua_internal.h"
#include "tagwire/opcua.h"

#define MOD "opcua"

static const char *class_name(UA_NodeClass c)
{
    switch (c) {
    case UA_NODECLASS_OBJECT: return "Object";
    case UA_NODECLASS_VARIABLE: return "Variable";
    case UA_NODECLASS_METHOD: return "Method";
    case UA_NODECLASS_OBJECTTYPE: return "ObjectType";
    case UA_NODECLASS_VARIABLETYPE: return "VariableType";
    case UA_NODECLASS_REFERENCETYPE: return "ReferenceType";
    case UA_NODECLASS_DATATYPE: return "DataType";
    case UA_NODECLASS_VIEW: return "View";
    default: return "Unspecified";
    }
}

/* UA_String -> NUL-terminated copy in buf (truncated). */
static const char *cstr(const UA_String *s, char *buf, size_t len)
{
    size_t n = s->length < len - 1 ? s->length : len - 1;
    if (n) memcpy(buf, s->data, n);
    buf[n] = '\0';
    return buf;
}

typedef struct ref_rec {
    UA_ReferenceDescription rd;
} ref_rec;

static tw_status browse(const char *uri, const char *node_id, uint32_t timeout_ms, tw_opcua_browse_fn fn,
                        void *user_data, char *err, size_t errlen)
{
    tw_status st;
    tw__uri u;
    if ((st = tw__uri_parse(&u, uri, err, errlen))) return st;
    if (strcmp(u.scheme, "opcua")) {
        snprintf(err, errlen, "browse needs an opcua:// URI");
        tw__uri_free(&u);
        return TW_ERR_INVALID_ARG;
    }
    tw_device_options o = TW_DEVICE_OPTIONS_INIT;
    o.timeout_ms = timeout_ms ? timeout_ms : 5000;
    o.connect_timeout_ms = o.timeout_ms;
    o.reconnect_min_ms = 200;
    o.reconnect_max_ms = 200;
    tw__opcua_conf conf;
    tw_adapter_uri pub;
    tw__uri_to_adapter(&u, &pub);
    st = tw__opcua_conf_parse(&conf, &pub, &o, err, errlen);
    tw__uri_free(&u);
    if (st) return st;
    UA_NodeId start = UA_NODEID_NUMERIC(0, UA_NS0ID_OBJECTSFOLDER);
    if (node_id && *node_id) {
        ua_addr a;
        if ((st = tw__opcua_parse_address(node_id, &a, err, errlen))) {
            tw__opcua_conf_free(&conf);
            return st;
        }
        st = tw__opcua_addr_to_nodeid(&a, &start);
        tw__opcua_addr_free(&a);
        if (st) {
            tw__opcua_conf_free(&conf);
            return st;
        }
    }
    UA_Logger lg;
    tw__opcua_logger(&lg);
    UA_Client *client;
    if ((st = tw__opcua_client_new(&client, &conf, &lg, NULL, err, errlen))) {
        UA_NodeId_clear(&start);
        tw__opcua_conf_free(&conf);
        return st;
    }
    UA_StatusCode sc = UA_Client_connect(client, conf.endpoint);
    if (sc != UA_STATUSCODE_GOOD) {
        snprintf(err, errlen, "connect to %s failed: %s", conf.endpoint, UA_StatusCode_name(sc));
        st = tw__opcua_status(sc);
        goto out;
    }
    /* Browse (and BrowseNext) collecting every reference first: the data types of the variables
     * are then read in one request. */
    UA_ReferenceDescription *refs = NULL;
    size_t nrefs = 0, cap = 0;
    UA_BrowseRequest br;
    UA_BrowseRequest_init(&br);
    UA_BrowseDescription bd;
    UA_BrowseDescription_init(&bd);
    bd.nodeId = start;
    bd.browseDirection = UA_BROWSEDIRECTION_FORWARD;
    bd.referenceTypeId = UA_NODEID_NUMERIC(0, UA_NS0ID_HIERARCHICALREFERENCES);
    bd.includeSubtypes = true;
    bd.resultMask = UA_BROWSERESULTMASK_ALL;
    br.nodesToBrowse = &bd;
    br.nodesToBrowseSize = 1;
    br.requestedMaxReferencesPerNode = 1000;
    UA_BrowseResponse bresp = UA_Client_Service_browse(client, br);
    sc = bresp.responseHeader.serviceResult;
    if (sc == UA_STATUSCODE_GOOD && bresp.resultsSize == 1) sc = bresp.results[0].statusCode;
    UA_ByteString cont = UA_BYTESTRING_NULL;
    for (int round = 0; sc == UA_STATUSCODE_GOOD && round < 10000; round++) {
        UA_BrowseResult *r = round == 0 ? &bresp.results[0] : NULL;
        UA_BrowseNextResponse nresp;
        UA_BrowseNextResponse_init(&nresp);
        if (round > 0) {
            UA_BrowseNextRequest nr;
            UA_BrowseNextRequest_init(&nr);
            nr.continuationPoints = &cont;
            nr.continuationPointsSize = 1;
            nresp = UA_Client_Service_browseNext(client, nr);
            sc = nresp.responseHeader.serviceResult;
            if (sc == UA_STATUSCODE_GOOD && nresp.resultsSize == 1) sc = nresp.results[0].statusCode;
            if (sc != UA_STATUSCODE_GOOD || nresp.resultsSize != 1) {
                UA_BrowseNextResponse_clear(&nresp);
                break;
            }
            r = &nresp.results[0];
        }
        if (nrefs + r->referencesSize > cap) {
            size_t nc = (nrefs + r->referencesSize) * 2;
            UA_ReferenceDescription *nrp = tw__realloc(refs, nc * sizeof *nrp);
            if (!nrp) {
                sc = UA_STATUSCODE_BADOUTOFMEMORY;
                UA_BrowseNextResponse_clear(&nresp);
                break;
            }
            refs = nrp;
            cap = nc;
        }
        for (size_t i = 0; i < r->referencesSize; i++) UA_ReferenceDescription_copy(&r->references[i], &refs[nrefs++]);
        UA_ByteString_clear(&cont);
        if (r->continuationPoint.length) UA_ByteString_copy(&r->continuationPoint, &cont);
        UA_BrowseNextResponse_clear(&nresp);
        if (!cont.length) break;
    }
    UA_ByteString_clear(&cont);
    bd.nodeId = UA_NODEID_NULL; /* owned by `start` */
    br.nodesToBrowse = NULL;
    br.nodesToBrowseSize = 0;
    UA_BrowseResponse_clear(&bresp);
    if (sc != UA_STATUSCODE_GOOD) {
        snprintf(err, errlen, "Browse of %s failed: %s", node_id && *node_id ? node_id : "i=85", UA_StatusCode_name(sc));
        st = tw__opcua_status(sc);
    } else {
        /* data types of the variables, one Read */
        UA_ReadValueId *rv = nrefs ? tw__calloc(nrefs, sizeof *rv) : NULL;
        size_t nv = 0;
        UA_ReadResponse rresp;
        UA_ReadResponse_init(&rresp);
        if (rv) {
            for (size_t i = 0; i < nrefs; i++)
                if (refs[i].nodeClass == UA_NODECLASS_VARIABLE && refs[i].nodeId.serverIndex == 0) {
                    rv[nv].nodeId = refs[i].nodeId.nodeId; /* shallow */
                    rv[nv].attributeId = UA_ATTRIBUTEID_DATATYPE;
                    nv++;
                }
            if (nv) {
                UA_ReadRequest rr;
                UA_ReadRequest_init(&rr);
                rr.nodesToRead = rv;
                rr.nodesToReadSize = nv;
                rresp = UA_Client_Service_read(client, rr);
                if (rresp.responseHeader.serviceResult != UA_STATUSCODE_GOOD || rresp.resultsSize != nv)
                    UA_ReadResponse_clear(&rresp);
            }
        }
        size_t vi = 0;
        for (size_t i = 0; i < nrefs; i++) {
            UA_ReferenceDescription *d = &refs[i];
            UA_String ids = UA_STRING_NULL, dts = UA_STRING_NULL;
            UA_NodeId_print(&d->nodeId.nodeId, &ids);
            char idb[512], bnb[300], dnb[300], dtb[128] = "", bnfull[320];
            dtb[0] = '\0';
            if (d->nodeClass == UA_NODECLASS_VARIABLE && d->nodeId.serverIndex == 0) {
                if (vi < rresp.resultsSize && rresp.results[vi].hasValue &&
                    rresp.results[vi].value.type == &UA_TYPES[UA_TYPES_NODEID]) {
                    const UA_NodeId *dt = rresp.results[vi].value.data;
                    const UA_DataType *t = UA_findDataType(dt);
                    if (t && dt->namespaceIndex == 0) {
                        snprintf(dtb, sizeof dtb, "%s", t->typeName);
                    } else {
                        UA_NodeId_print(dt, &dts);
                        cstr(&dts, dtb, sizeof dtb);
                    }
                }
                vi++;
            }
            snprintf(bnfull, sizeof bnfull, "%u:%s", (unsigned)d->browseName.namespaceIndex,
                     cstr(&d->browseName.name, bnb, sizeof bnb));
            tw_opcua_ref ref;
            ref.node_id = cstr(&ids, idb, sizeof idb);
            ref.browse_name = bnfull;
            ref.display_name = cstr(&d->displayName.text, dnb, sizeof dnb);
            ref.node_class = class_name(d->nodeClass);
            ref.data_type = dtb;
            fn(&ref, user_data);
            UA_String_clear(&ids);
            UA_String_clear(&dts);
        }
        UA_ReadResponse_clear(&rresp);
        tw__free(rv);
        st = TW_OK;
    }
    for (size_t i = 0; i < nrefs; i++) UA_ReferenceDescription_clear(&refs[i]);
    tw__free(refs);
out:
    UA_Client_disconnect(client);
    UA_Client_delete(client);
    UA_NodeId_clear(&start);
    tw__opcua_conf_free(&conf);
    return st;
}

tw_status tw_opcua_browse(const char *uri, const char *node_id, uint32_t timeout_ms, tw_opcua_browse_fn fn,
                          void *user_data)
{
    if (!uri || !fn) return TW_ERR_INVALID_ARG;
    tw_status st = tw__check_init();
    if (st) return st;
    char msg[1024] = ""; /* room for the endpoint URL; tw__err() truncates */
    st = browse(uri, node_id, timeout_ms, fn, user_data, msg, sizeof msg);
    if (st == TW_OK) return TW_OK;
    return tw__err(NULL, MOD, st, "%s", msg[0] ? msg : tw_strerror(st));
}
