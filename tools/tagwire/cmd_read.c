/* tagwire read URI ADDRESS... SPDX-License-Identifier: Apache-2.0 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli_device.h"

extern const tw_cli_command tw_cli_cmd_read;

const char *tw_cli_quality_name(tw_quality q)
{
    switch (q) {
    case TW_QUALITY_GOOD: return "good";
    case TW_QUALITY_GOOD_LOCAL_OVERRIDE: return "good-local-override";
    case TW_QUALITY_UNCERTAIN_LAST_KNOWN: return "uncertain-last-known";
    case TW_QUALITY_UNCERTAIN_SUBSTITUTE: return "uncertain-substitute";
    case TW_QUALITY_UNCERTAIN_INITIAL: return "uncertain-initial";
    case TW_QUALITY_UNCERTAIN_SENSOR: return "uncertain-sensor";
    case TW_QUALITY_BAD_COMM_FAILURE: return "bad-comm-failure";
    case TW_QUALITY_BAD_TIMEOUT: return "bad-timeout";
    case TW_QUALITY_BAD_WAITING_FOR_INITIAL: return "bad-waiting-for-initial";
    case TW_QUALITY_BAD_OUT_OF_RANGE: return "bad-out-of-range";
    case TW_QUALITY_BAD_TYPE_MISMATCH: return "bad-type-mismatch";
    case TW_QUALITY_BAD_CONFIG: return "bad-config";
    case TW_QUALITY_BAD_NOT_CONNECTED: return "bad-not-connected";
    case TW_QUALITY_BAD_DEVICE_FAILURE: return "bad-device-failure";
    case TW_QUALITY_BAD_SENSOR_FAILURE: return "bad-sensor-failure";
    case TW_QUALITY_BAD_OUT_OF_SERVICE: return "bad-out-of-service";
    default: return TW_QUALITY_IS_GOOD(q) ? "good" : TW_QUALITY_IS_UNCERTAIN(q) ? "uncertain" : "bad";
    }
}

const char *tw_cli_type_name(tw_type t)
{
    static const char *const names[] = {"none",  "bool",   "int8",   "int16", "int32",  "int64",  "uint8",   "uint16",
                                        "uint32", "uint64", "float", "double", "string", "bytes", "datetime"};
    return (unsigned)t < sizeof names / sizeof names[0] ? names[t] : "?";
}

void tw_cli_format_value(const tw_value *v, char *buf, size_t len)
{
    switch (v->type) {
    case TW_TYPE_NONE: snprintf(buf, len, "-"); break;
    case TW_TYPE_BOOL: snprintf(buf, len, "%s", v->as.b ? "true" : "false"); break;
    case TW_TYPE_INT8: case TW_TYPE_INT16: case TW_TYPE_INT32: case TW_TYPE_INT64: case TW_TYPE_DATETIME:
        snprintf(buf, len, "%lld", (long long)v->as.i);
        break;
    case TW_TYPE_UINT8: case TW_TYPE_UINT16: case TW_TYPE_UINT32: case TW_TYPE_UINT64:
        snprintf(buf, len, "%llu", (unsigned long long)v->as.u);
        break;
    case TW_TYPE_FLOAT: snprintf(buf, len, "%.9g", (double)v->as.f); break;
    case TW_TYPE_DOUBLE: snprintf(buf, len, "%.17g", v->as.d); break;
    case TW_TYPE_STRING:
    case TW_TYPE_BYTES: {
        size_t o = 0;
        const unsigned char *p = v->as.buf.ptr;
        if (o + 1 < len) buf[o++] = '"';
        for (size_t i = 0; i < v->as.buf.len && o + 5 < len; i++) {
            if (p[i] >= 0x20 && p[i] < 0x7F && p[i] != '"' && p[i] != '\\') buf[o++] = (char)p[i];
            else o += (size_t)snprintf(buf + o, len - o, "\\x%02x", p[i]);
        }
        if (o + 1 < len) buf[o++] = '"';
        buf[o < len ? o : len - 1] = '\0';
        break;
    }
    default: snprintf(buf, len, "?"); break;
    }
}

void tw_cli_format_time(int64_t ns, char *buf, size_t len)
{
    time_t s = (time_t)(ns / 1000000000);
    struct tm tm;
    gmtime_r(&s, &tm);
    char b[32];
    strftime(b, sizeof b, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(buf, len, "%s.%03dZ", b, (int)((ns / 1000000) % 1000));
}

void tw_cli_print_sample(const char *address, const tw_sample *s)
{
    char v[600], t[64];
    tw_cli_format_value(&s->value, v, sizeof v);
    tw_cli_format_time(s->timestamp_ns, t, sizeof t);
    printf("%s\t%s\t%s\t%s\t%s\n", address, v, tw_cli_type_name(s->value.type), tw_cli_quality_name(s->quality), t);
}

int tw_cli_parse_u32(const char *s, uint32_t *out)
{
    char *end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*s || *end || v > 0xFFFFFFFFul) return -1;
    *out = (uint32_t)v;
    return 0;
}

int tw_cli_open_device(const tw_cli_command *cmd, tw_device **dev, const char *uri, uint32_t timeout_ms,
                       char **addresses, int naddr, uint32_t *ids)
{
    (void)cmd;
    tw_device_options o = TW_DEVICE_OPTIONS_INIT;
    o.timeout_ms = timeout_ms;
    o.connect_timeout_ms = timeout_ms ? timeout_ms : 0;
    tw_status st = tw_device_open(dev, uri, &o);
    if (st != TW_OK) return tw_cli_fail(uri, st, tw_last_error());
    for (int i = 0; i < naddr; i++) {
        st = tw_device_add_item(*dev, &ids[i], addresses[i]);
        if (st != TW_OK) {
            int rc = tw_cli_fail("address", st, tw_device_last_error(*dev));
            tw_device_free(*dev);
            *dev = NULL;
            return rc;
        }
    }
    return TW_EXIT_OK;
}

static int run(int argc, char **argv)
{
    uint32_t timeout = 0;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
        if (!strcmp(argv[i], "--timeout") && i + 1 < argc) {
            if (tw_cli_parse_u32(argv[++i], &timeout) || !timeout)
                return tw_cli_usage_error(&tw_cli_cmd_read, "--timeout needs milliseconds > 0");
        } else {
            return tw_cli_usage_error(&tw_cli_cmd_read, "unknown option '%s'", argv[i]);
        }
    }
    if (argc - i < 2) return tw_cli_usage_error(&tw_cli_cmd_read, "needs a URI and at least one address");
    const char *uri = argv[i++];
    int n = argc - i;
    uint32_t *ids = calloc((size_t)n, sizeof *ids);
    tw_sample *s = calloc((size_t)n, sizeof *s);
    if (!ids || !s) {
        free(ids);
        free(s);
        return TW_EXIT_ENV;
    }
    tw_device *d = NULL;
    int rc = tw_cli_open_device(&tw_cli_cmd_read, &d, uri, timeout, argv + i, n, ids);
    if (rc == TW_EXIT_OK) {
        tw_status st = tw_device_read(d, ids, (size_t)n, s);
        for (int k = 0; k < n; k++) tw_cli_print_sample(argv[i + k], &s[k]);
        if (st != TW_OK) rc = tw_cli_fail("read", st, tw_device_last_error(d));
        tw_device_free(d);
    }
    free(ids);
    free(s);
    return rc;
}

const tw_cli_command tw_cli_cmd_read = {
    "read", "read items from a device (Modbus, sim, ...) once",
    "tagwire read [--timeout MS] URI ADDRESS [ADDRESS...]\n\n"
    "Reads the items in one batch (coalesced into as few requests as possible) and prints one line\n"
    "per item: ADDRESS, VALUE, TYPE, QUALITY, TIMESTAMP (tab-separated). Exits 1 when any item is bad.\n\n"
    "URIs:      modbus+tcp://HOST[:PORT]?unit=1   modbus+rtu:///dev/ttyUSB0?baud=19200&parity=N&unit=1\n"
    "           'modbus+tls://HOST[:802]?unit=1&ca=CA.pem&cert=ME.pem&key=ME.key' (Modbus/TCP Security)\n"
    "           sim://\n"
    "Addresses: holding-register:40001:FLOAT32:CDAB  input-register:100  coil:5  discrete-input:7\n"
    "           holding-register:200:STRING[16]     sine:period=10s,amplitude=5 (sim)\n"
    "See docs/addresses.md for the full syntax.",
    run};
