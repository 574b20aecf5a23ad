/* Benchmark peer: an open62541 1.4 server (not tagwire code) with N Double variables ns=1;s=B.<i>
 * (read benchmark) and M Int32 variables ns=1;s=S.<i> that all change every PERIOD ms
 * (subscription benchmark). usage: ua_bench_server PORT N M PERIOD_MS */
#include <open62541/server.h>
#include <open62541/server_config_default.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static volatile UA_Boolean g_running = true;
static void on_sig(int s) { (void)s; g_running = false; }

static UA_UInt32 g_m;
static UA_Int32 g_tick;

static void change_all(UA_Server *server, void *data)
{
    (void)data;
    g_tick++;
    char name[32];
    for (UA_UInt32 i = 0; i < g_m; i++) {
        snprintf(name, sizeof name, "S.%u", (unsigned)i);
        UA_Variant v;
        UA_Int32 x = g_tick;
        UA_Variant_setScalar(&v, &x, &UA_TYPES[UA_TYPES_INT32]);
        UA_Server_writeValue(server, UA_NODEID_STRING(1, name), v);
    }
}

int main(int argc, char **argv)
{
    if (argc < 5) return 2;
    UA_UInt16 port = (UA_UInt16)atoi(argv[1]);
    UA_UInt32 n = (UA_UInt32)atoi(argv[2]);
    g_m = (UA_UInt32)atoi(argv[3]);
    double period = atof(argv[4]);
    signal(SIGTERM, on_sig);
    signal(SIGINT, on_sig);
    UA_Server *server = UA_Server_new();
    UA_ServerConfig *cfg = UA_Server_getConfig(server);
    UA_ServerConfig_setMinimal(cfg, port, NULL);
    cfg->maxPublishReqPerSession = 100;
    char name[32];
    for (UA_UInt32 i = 0; i < n + g_m; i++) {
        int s = i >= n;
        snprintf(name, sizeof name, s ? "S.%u" : "B.%u", (unsigned)(s ? i - n : i));
        UA_VariableAttributes attr = UA_VariableAttributes_default;
        UA_Double d = (double)i;
        UA_Int32 z = 0;
        if (s) UA_Variant_setScalar(&attr.value, &z, &UA_TYPES[UA_TYPES_INT32]);
        else UA_Variant_setScalar(&attr.value, &d, &UA_TYPES[UA_TYPES_DOUBLE]);
        attr.accessLevel = UA_ACCESSLEVELMASK_READ | UA_ACCESSLEVELMASK_WRITE;
        UA_Server_addVariableNode(server, UA_NODEID_STRING(1, name), UA_NODEID_NUMERIC(0, UA_NS0ID_OBJECTSFOLDER),
                                  UA_NODEID_NUMERIC(0, UA_NS0ID_ORGANIZES), UA_QUALIFIEDNAME(1, name),
                                  UA_NODEID_NUMERIC(0, UA_NS0ID_BASEDATAVARIABLETYPE), attr, NULL, NULL);
    }
    if (g_m) UA_Server_addRepeatedCallback(server, change_all, NULL, period, NULL);
    fprintf(stderr, "ready\n");
    UA_StatusCode sc = UA_Server_run(server, &g_running);
    UA_Server_delete(server);
    return sc == UA_STATUSCODE_GOOD ? 0 : 1;
}
