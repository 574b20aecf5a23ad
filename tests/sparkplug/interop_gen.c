/*
 * Writes Sparkplug payloads produced by tagwire's encoders into a directory, each with a manifest
 * of what was encoded (written from the input metric lists, not by decoding), for an independent
 * decoder to check: <dir>/<case>.bin and <dir>/<case>.expect.json.
 *   sparkplug_interop_gen DIR
 * SPDX-License-Identifier: Apache-2.0
 */
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sparkplug/sp_internal.h"

static void json_str(FILE *f, const char *s, size_t n)
{
    fputc('"', f);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void write_value(FILE *f, const tw_value *v)
{
    switch (v->type) {
    case TW_TYPE_BOOL: fprintf(f, "{\"kind\":\"bool\",\"v\":%s}", v->as.b ? "true" : "false"); break;
    case TW_TYPE_INT8:
    case TW_TYPE_INT16:
    case TW_TYPE_INT32:
    case TW_TYPE_INT64: fprintf(f, "{\"kind\":\"int\",\"v\":\"%" PRId64 "\"}", v->as.i); break;
    case TW_TYPE_UINT8:
    case TW_TYPE_UINT16:
    case TW_TYPE_UINT32:
    case TW_TYPE_UINT64: fprintf(f, "{\"kind\":\"uint\",\"v\":\"%" PRIu64 "\"}", v->as.u); break;
    case TW_TYPE_DATETIME: fprintf(f, "{\"kind\":\"datetime_ms\",\"v\":\"%" PRId64 "\"}", v->as.i / 1000000); break;
    case TW_TYPE_FLOAT: {
        uint32_t bits;
        memcpy(&bits, &v->as.f, 4);
        fprintf(f, "{\"kind\":\"float\",\"bits\":%" PRIu32 "}", bits);
        break;
    }
    case TW_TYPE_DOUBLE: {
        uint64_t bits;
        memcpy(&bits, &v->as.d, 8);
        fprintf(f, "{\"kind\":\"double\",\"bits\":\"%016" PRIx64 "\"}", bits);
        break;
    }
    case TW_TYPE_STRING:
        fprintf(f, "{\"kind\":\"string\",\"v\":");
        json_str(f, v->as.buf.ptr, v->as.buf.len);
        fputc('}', f);
        break;
    case TW_TYPE_BYTES:
        fprintf(f, "{\"kind\":\"bytes\",\"hex\":\"");
        for (size_t i = 0; i < v->as.buf.len; i++) fprintf(f, "%02x", ((const uint8_t *)v->as.buf.ptr)[i]);
        fprintf(f, "\"}");
        break;
    default: fprintf(f, "null"); break;
    }
}

/* kind: 0 data, 1 birth, 2 ndeath (no seq) */
static int emit(const char *dir, const char *name, int kind, int64_t ts, uint64_t seq,
                const tw_sp_metric *m, size_t n)
{
    static uint8_t buf[1 << 16];
    size_t len = 0;
    tw_status st;
    if (kind == 0) st = tw_sp_encode_data(buf, sizeof(buf), &len, ts, seq, m, n);
    else if (kind == 1) st = tw_sp_encode_birth(buf, sizeof(buf), &len, ts, seq, m, n);
    else st = tw__sp_encode_ndeath(buf, sizeof(buf), &len, ts, (uint8_t)m[0].value.as.i);
    if (st != TW_OK) {
        fprintf(stderr, "%s: %s\n", name, tw_status_name(st));
        return 1;
    }
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s.bin", dir, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(buf, 1, len, f) != len) return 1;
    fclose(f);
    snprintf(path, sizeof(path), "%s/%s.expect.json", dir, name);
    f = fopen(path, "w");
    if (!f) return 1;
    fprintf(f, "{\"timestamp\":\"%" PRId64 "\",", ts);
    if (kind != 2) fprintf(f, "\"seq\":\"%" PRIu64 "\",", seq);
    else fprintf(f, "\"seq\":null,");
    fprintf(f, "\"metrics\":[");
    for (size_t i = 0; i < n; i++) {
        const tw_sp_metric *x = &m[i];
        uint32_t fl = x->flags;
        if (i) fputc(',', f);
        fputc('{', f);
        if (x->name) {
            fprintf(f, "\"name\":");
            json_str(f, x->name, strlen(x->name));
            fputc(',', f);
        }
        if (!(fl & TW_SP_METRIC_NO_ALIAS)) fprintf(f, "\"alias\":\"%" PRIu64 "\",", x->alias);
        fprintf(f, "\"timestamp\":\"%" PRId64 "\",", x->ts_ms);
        fprintf(f, "\"datatype\":%" PRIu32 ",", tw_sp_datatype_from_type(x->value.type));
        fprintf(f, "\"is_historical\":%s,", (fl & TW_SP_METRIC_HISTORICAL) ? "true" : "false");
        fprintf(f, "\"is_null\":%s,", (fl & TW_SP_METRIC_NULL) ? "true" : "false");
        int32_t q = tw_quality_to_sparkplug(x->quality);
        if (kind == 1 || (fl & TW_SP_METRIC_QUALITY) || q != 192) fprintf(f, "\"quality\":%" PRId32 ",", q);
        else fprintf(f, "\"quality\":null,");
        if (kind == 1 && x->unit) {
            fprintf(f, "\"engUnit\":");
            json_str(f, x->unit, strlen(x->unit));
            fputc(',', f);
        }
        if (kind == 1 && x->description) {
            fprintf(f, "\"documentation\":");
            json_str(f, x->description, strlen(x->description));
            fputc(',', f);
        }
        fprintf(f, "\"value\":");
        if (fl & TW_SP_METRIC_NULL) fprintf(f, "null");
        else write_value(f, &x->value);
        fputc('}', f);
    }
    fprintf(f, "]}\n");
    fclose(f);
    return 0;
}

#define NM 40

int main(int argc, char **argv)
{
    if (argc != 2) return 2;
    if (tw_init(NULL) != TW_OK) return 1;
    const char *dir = argv[1];
    static const uint8_t bytes[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
    tw_sp_metric m[NM];
    memset(m, 0, sizeof(m));
    size_t n = 0;
    const int64_t t0 = 1764400000000;
#define ADD(t, field, v)                                                                        \
    do {                                                                                        \
        m[n].alias = 10 + n;                                                                    \
        m[n].ts_ms = t0 + (int64_t)n;                                                           \
        m[n].value.type = (t);                                                                  \
        m[n].value.as.field = (v);                                                              \
        n++;                                                                                    \
    } while (0)
    ADD(TW_TYPE_BOOL, b, 1);
    ADD(TW_TYPE_BOOL, b, 0);
    ADD(TW_TYPE_INT8, i, -128);
    ADD(TW_TYPE_INT8, i, 127);
    ADD(TW_TYPE_INT16, i, -32768);
    ADD(TW_TYPE_INT32, i, INT32_MIN);
    ADD(TW_TYPE_INT32, i, -1);
    ADD(TW_TYPE_INT64, i, INT64_MIN);
    ADD(TW_TYPE_INT64, i, -42);
    ADD(TW_TYPE_INT64, i, INT64_MAX);
    ADD(TW_TYPE_UINT8, u, 255);
    ADD(TW_TYPE_UINT16, u, 65535);
    ADD(TW_TYPE_UINT32, u, UINT32_MAX);
    ADD(TW_TYPE_UINT64, u, UINT64_MAX);
    ADD(TW_TYPE_FLOAT, f, 3.14159f);
    ADD(TW_TYPE_FLOAT, f, -0.0f);
    ADD(TW_TYPE_FLOAT, f, INFINITY);
    ADD(TW_TYPE_FLOAT, f, NAN);
    ADD(TW_TYPE_DOUBLE, d, -273.15);
    ADD(TW_TYPE_DOUBLE, d, 1e-310);
    ADD(TW_TYPE_DOUBLE, d, NAN);
    ADD(TW_TYPE_DOUBLE, d, -INFINITY);
    ADD(TW_TYPE_DATETIME, i, 1764400000123000000);
    m[n].alias = 10 + n;
    m[n].ts_ms = t0;
    m[n].value.type = TW_TYPE_STRING;
    m[n].value.as.buf.ptr = "Gr\xc3\xbc\xc3\x9f \"quoted\" \\ \xe6\x9d\xb1";
    m[n].value.as.buf.len = strlen(m[n].value.as.buf.ptr);
    n++;
    m[n].alias = 10 + n;
    m[n].ts_ms = t0;
    m[n].value.type = TW_TYPE_STRING;
    m[n].value.as.buf.ptr = "";
    n++;
    m[n].alias = 10 + n;
    m[n].ts_ms = t0;
    m[n].value.type = TW_TYPE_BYTES;
    m[n].value.as.buf.ptr = bytes;
    m[n].value.as.buf.len = sizeof(bytes);
    n++;
    /* flags, quality, large alias */
    size_t first_flagged = n;
    ADD(TW_TYPE_DOUBLE, d, 1.5);
    m[n - 1].flags = TW_SP_METRIC_HISTORICAL;
    m[n - 1].alias = UINT64_MAX;
    ADD(TW_TYPE_DOUBLE, d, 2.5);
    m[n - 1].quality = TW_QUALITY_BAD_COMM_FAILURE;
    ADD(TW_TYPE_INT32, i, 7);
    m[n - 1].quality = TW_QUALITY_UNCERTAIN_LAST_KNOWN;
    m[n - 1].flags = TW_SP_METRIC_HISTORICAL;
    ADD(TW_TYPE_UINT16, u, 9);
    m[n - 1].flags = TW_SP_METRIC_QUALITY;
    ADD(TW_TYPE_DOUBLE, d, 0);
    m[n - 1].flags = TW_SP_METRIC_NULL;
    (void)first_flagged;
    int rc = 0;
    rc |= emit(dir, "ddata_types", 0, t0 + 500, 7, m, n);
    /* the same metrics one per payload, with seq wrapping */
    for (size_t i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof(name), "ddata_single_%02zu", i);
        rc |= emit(dir, name, 0, t0 + 600, (uint64_t)(250 + i) % 256, &m[i], 1);
    }
    /* a birth: names, aliases, datatypes, units, descriptions, quality */
    tw_sp_metric b[4];
    memset(b, 0, sizeof(b));
    b[0].name = "bdSeq";
    b[0].alias = 0;
    b[0].ts_ms = t0;
    b[0].value.type = TW_TYPE_INT64;
    b[0].value.as.i = 3;
    b[1].name = "Node Control/Rebirth";
    b[1].alias = 1;
    b[1].ts_ms = t0;
    b[1].value.type = TW_TYPE_BOOL;
    b[2].name = "Hydraulics/OilTemp";
    b[2].alias = 2;
    b[2].ts_ms = t0;
    b[2].value.type = TW_TYPE_DOUBLE;
    b[2].value.as.d = 41.25;
    b[2].unit = "degC";
    b[2].description = "oil temperature at the pump";
    b[3].name = "Counters/Strokes";
    b[3].alias = 3;
    b[3].ts_ms = t0;
    b[3].value.type = TW_TYPE_UINT64;
    b[3].value.as.u = 9007199254740993ull; /* above 2^53: must not lose precision */
    b[3].quality = TW_QUALITY_BAD_NOT_CONNECTED;
    rc |= emit(dir, "nbirth", 1, t0, 0, b, 4);
    tw_sp_metric death = b[0]; /* NDEATH: the bdSeq metric by name, without alias */
    death.flags = TW_SP_METRIC_NO_ALIAS;
    rc |= emit(dir, "ndeath", 2, t0, 0, &death, 1);
    /* the benchmark's message: 100 doubles by alias */
    tw_sp_metric big[100];
    memset(big, 0, sizeof(big));
    for (int i = 0; i < 100; i++) {
        big[i].alias = (uint64_t)i + 1u;
        big[i].ts_ms = t0 + i;
        big[i].value.type = TW_TYPE_DOUBLE;
        big[i].value.as.d = 20.0 + i * 0.125;
    }
    rc |= emit(dir, "ddata_100", 0, t0 + 123, 42, big, 100);
    tw_shutdown();
    return rc;
}
