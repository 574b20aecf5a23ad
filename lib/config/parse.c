/*
 * Configuration: the JSON walk (json-c does the parsing) and every validation rule.
 *
 * Each check that fails writes "<file>: <JSON path>: <problem>" into cfg->err and returns
 * TW_ERR_CONFIG (TW_ERR_PARSE for JSON syntax, with line and column instead of a path). The first
 * error in document order wins; the walk stops there.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <float.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "config_internal.h"
#include "tagwire/adapter.h"
#include "tagwire/sparkplug.h"
#include "tagwire/tag.h"

#define TW__CFG_PATH_MAX 512  /* JSON path in messages (truncated beyond) */
#define TW__CFG_SHOW_CHARS 48 /* characters of a string value shown in a message */
#define TW__CFG_DEPTH 32      /* JSON nesting limit */

typedef struct pctx {
    tw_config *cfg;
    tw__cfg_arena *arena;
    const char *name;     /* file name for messages */
    const char *base_dir; /* NULL or "": relative paths stay relative */
    char path[TW__CFG_PATH_MAX];
    size_t plen;
} pctx;

/* snprintf without truncation warnings: messages are cut on purpose when they exceed a buffer. */
static void msgf(char *dst, size_t n, const char *fmt, ...) TW__PRINTF(3, 4);
static void msgf(char *dst, size_t n, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(dst, n, fmt, ap);
    va_end(ap);
}

/* ---- UTF-8 and escaping ------------------------------------------------------------------- */

/* Length (1..4) of the valid UTF-8 sequence at s (n bytes available), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
    unsigned char b = s[0];
    size_t len;
    uint32_t c, min;
    if (b < 0x80) {
        *cp = b;
        return 1;
    } else if ((b & 0xE0) == 0xC0) {
        len = 2, c = b & 0x1Fu, min = 0x80;
    } else if ((b & 0xF0) == 0xE0) {
        len = 3, c = b & 0x0Fu, min = 0x800;
    } else if ((b & 0xF8) == 0xF0) {
        len = 4, c = b & 0x07u, min = 0x10000;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) return 0;
        c = (c << 6) | (s[i] & 0x3Fu);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
    *cp = c;
    return len;
}

static int utf8_valid(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    uint32_t cp;
    for (size_t i = 0; i < n;) {
        size_t l = utf8_seq(p + i, n - i, &cp);
        if (!l) return 0;
        i += l;
    }
    return 1;
}

static int has_control(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 || ch == 0x7F) return 1;
    }
    return 0;
}

/* Appends to out (always terminated) the JSON-style escaped form of s, at most `max_chars`
 * characters of it, then "..." when cut. Invalid UTF-8 bytes are shown as \xNN. */
static void escape_into(char *out, size_t outsz, const char *s, size_t n, size_t max_chars)
{
    size_t o = strlen(out);
    const unsigned char *p = (const unsigned char *)s;
    size_t shown = 0, i = 0;
    while (i < n && o + 12 < outsz) {
        if (shown == max_chars) break;
        uint32_t cp;
        size_t l = utf8_seq(p + i, n - i, &cp);
        if (!l) {
            o += (size_t)snprintf(out + o, outsz - o, "\\x%02X", p[i]);
            i++;
        } else if (cp == '"' || cp == '\\') {
            out[o++] = '\\';
            out[o++] = (char)cp;
            i++;
        } else if (cp < 0x20 || cp == 0x7F) {
            if (cp == '\n') o += (size_t)snprintf(out + o, outsz - o, "\\n");
            else if (cp == '\t') o += (size_t)snprintf(out + o, outsz - o, "\\t");
            else o += (size_t)snprintf(out + o, outsz - o, "\\u%04X", (unsigned)cp);
            i++;
        } else {
            memcpy(out + o, p + i, l);
            o += l;
            i += l;
        }
        shown++;
        out[o] = '\0';
    }
    if (i < n && o + 4 < outsz) memcpy(out + o, "...", 4), o += 3;
    out[o] = '\0';
}

/* "got" part of messages: a short rendering of a JSON value. */
static void describe(json_object *v, char *buf, size_t n)
{
    buf[0] = '\0';
    switch (json_object_get_type(v)) {
    case json_type_null: snprintf(buf, n, "null"); break;
    case json_type_boolean: snprintf(buf, n, "%s", json_object_get_boolean(v) ? "true" : "false"); break;
    case json_type_int: {
        int64_t i = json_object_get_int64(v);
        if (i == INT64_MAX) snprintf(buf, n, "%" PRIu64, json_object_get_uint64(v));
        else snprintf(buf, n, "%" PRId64, i);
        break;
    }
    case json_type_double: {
        const char *t = json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN);
        escape_into(buf, n, t, strlen(t), 32);
        break;
    }
    case json_type_string:
        snprintf(buf, n, "\"");
        escape_into(buf, n > 1 ? n - 1 : n, json_object_get_string(v),
                    (size_t)json_object_get_string_len(v), TW__CFG_SHOW_CHARS);
        strncat(buf, "\"", n - strlen(buf) - 1);
        break;
    case json_type_object: snprintf(buf, n, "an object"); break;
    case json_type_array: snprintf(buf, n, "an array"); break;
    }
}

/* ---- JSON path and errors ----------------------------------------------------------------- */

static size_t push_key(pctx *c, const char *key)
{
    size_t mark = c->plen;
    size_t kl = strlen(key);
    int ident = kl > 0 && kl <= 64 && !(key[0] >= '0' && key[0] <= '9');
    for (size_t i = 0; ident && i < kl; i++) {
        char ch = key[i];
        ident = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                ch == '_';
    }
    if (ident) {
        snprintf(c->path + mark, sizeof c->path - mark, ".%s", key);
    } else {
        char esc[160] = "";
        escape_into(esc, sizeof esc, key, kl, 32);
        snprintf(c->path + mark, sizeof c->path - mark, "[\"%s\"]", esc);
    }
    c->plen = strlen(c->path);
    return mark;
}

static size_t push_index(pctx *c, size_t i)
{
    size_t mark = c->plen;
    snprintf(c->path + mark, sizeof c->path - mark, "[%zu]", i);
    c->plen = strlen(c->path);
    return mark;
}

static void pop(pctx *c, size_t mark)
{
    c->plen = mark;
    c->path[mark] = '\0';
}

static tw_status err(pctx *c, const char *fmt, ...) TW__PRINTF(2, 3);
static tw_status err(pctx *c, const char *fmt, ...)
{
    char problem[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    msgf(c->cfg->err, sizeof c->cfg->err, "%s: %s: %s", c->name, c->path, problem);
    c->cfg->err_code = TW_ERR_CONFIG;
    return TW_ERR_CONFIG;
}

/* An error about `key` of the current object. */
static tw_status err_key(pctx *c, const char *key, const char *fmt, ...) TW__PRINTF(3, 4);
static tw_status err_key(pctx *c, const char *key, const char *fmt, ...)
{
    char problem[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(problem, sizeof problem, fmt, ap);
    va_end(ap);
    size_t m = push_key(c, key);
    err(c, "%s", problem);
    pop(c, m);
    return TW_ERR_CONFIG;
}

static tw_status nomem(pctx *c)
{
    snprintf(c->cfg->err, sizeof c->cfg->err, "%s: out of memory", c->name);
    c->cfg->err_code = TW_ERR_NOMEM;
    return TW_ERR_NOMEM;
}

#define TRY(expr)                                                                                \
    do {                                                                                         \
        tw_status try_st_ = (expr);                                                              \
        if (try_st_ != TW_OK) return try_st_;                                                    \
    } while (0)

/* ---- keys --------------------------------------------------------------------------------- */

/* Lower-cased key without '_' and '-', for "did you mean". */
static size_t normalize(const char *s, char *out, size_t outsz)
{
    size_t o = 0;
    for (; *s && o + 1 < outsz; s++) {
        char ch = *s;
        if (ch == '_' || ch == '-') continue;
        if (ch >= 'A' && ch <= 'Z') ch = (char)(ch - 'A' + 'a');
        out[o++] = ch;
    }
    out[o] = '\0';
    return o;
}

/* Edit distance with adjacent transpositions (optimal string alignment); strings <= 64 bytes. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
    size_t d[65][65];
    for (size_t i = 0; i <= la; i++) d[i][0] = i;
    for (size_t j = 0; j <= lb; j++) d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
            if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    }
    return d[la][lb];
}

static const char *suggest(const char *key, const char *const *allowed, size_t n)
{
    if (strlen(key) > 64) return NULL;
    char nk[65], na[65];
    size_t lk = normalize(key, nk, sizeof nk);
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < n; i++) {
        size_t la = normalize(allowed[i], na, sizeof na);
        size_t d = edit_distance(nk, lk, na, la);
        if (d < best_d && d * 2 < la) {
            best = allowed[i];
            best_d = d;
        }
    }
    return best;
}

static tw_status check_keys(pctx *c, json_object *obj, const char *const *allowed, size_t n)
{
    json_object_object_foreach(obj, key, val) {
        (void)val;
        if (key[0] == '_') continue; /* comment keys */
        size_t i = 0;
        while (i < n && strcmp(key, allowed[i]) != 0) i++;
        if (i < n) continue;
        const char *s = suggest(key, allowed, n);
        if (s) return err_key(c, key, "unknown key (did you mean \"%s\"?)", s);
        char list[512] = "";
        for (i = 0; i < n; i++) {
            if (i) strncat(list, ", ", sizeof list - strlen(list) - 1);
            strncat(list, allowed[i], sizeof list - strlen(list) - 1);
        }
        return err_key(c, key, "unknown key (expected one of: %s)", list);
    }
    return TW_OK;
}

static tw_status need_object(pctx *c, json_object *v)
{
    if (json_object_is_type(v, json_type_object)) return TW_OK;
    char got[128];
    describe(v, got, sizeof got);
    return err(c, "must be an object (got %s)", got);
}

/* The value of `key`, or NULL when absent (an error when required). */
static tw_status member(pctx *c, json_object *obj, const char *key, int required, json_object **out)
{
    *out = NULL;
    if (json_object_object_get_ex(obj, key, out)) {
        /* json-c represents null as a NULL object: present, but no value */
        if (!*out) return err_key(c, key, "null is not allowed (give a value or leave the key out)");
        return TW_OK;
    }
    *out = NULL;
    if (required) return err(c, "missing required key \"%s\"", key);
    return TW_OK;
}

/* ---- typed getters ------------------------------------------------------------------------ */

enum str_kind {
    STR_TEXT,  /* any UTF-8 without NUL */
    STR_LINE,  /* no control characters */
    STR_ID,    /* Sparkplug id: no control characters, no '+', '#', '/' */
    STR_NAME   /* tag name: tw_tag_name_validate() */
};

/* Tag names follow the tag model's rule (tw_tag_name_validate, tagwire/tag.h), so that the loader
 * accepts exactly the names a tag set accepts. */
static tw_status check_tag_name(pctx *c, const char *s, json_object *v)
{
    char why[160], got[128];
    if (tw_tag_name_validate(s, why, sizeof why) == TW_OK) return TW_OK;
    describe(v, got, sizeof got);
    return err(c, "invalid tag name: %s (got %s)", why, got);
}

/* Reads an optional or required string; *out is set (arena copy) when present. */
static tw_status get_string(pctx *c, json_object *obj, const char *key, enum str_kind kind,
                            size_t max, int required, const char **out)
{
    json_object *v;
    TRY(member(c, obj, key, required, &v));
    if (!v) return TW_OK;
    size_t m = push_key(c, key);
    char got[128];
    const char *problem = NULL;
    const char *s = NULL;
    size_t n = 0;
    if (!json_object_is_type(v, json_type_string)) {
        problem = "must be a string";
    } else {
        s = json_object_get_string(v);
        n = (size_t)json_object_get_string_len(v);
        if (n == 0) return err(c, "must not be empty");
        if (n > max) return err(c, "must be at most %zu bytes long (got %zu bytes)", max, n);
        if (strlen(s) != n) problem = "must not contain a NUL character";
        else if (!utf8_valid(s, n)) problem = "must be valid UTF-8";
        else if (kind != STR_TEXT && kind != STR_NAME && has_control(s, n))
            problem = "must not contain control characters";
        else if (kind == STR_ID && strpbrk(s, "+#/")) problem = "must be a Sparkplug id: no '+', '#' or '/'";
    }
    if (problem) {
        describe(v, got, sizeof got);
        return err(c, "%s (got %s)", problem, got);
    }
    if (kind == STR_NAME) TRY(check_tag_name(c, s, v));
    pop(c, m);
    *out = tw__cfg_strndup(c->arena, s, n);
    return *out ? TW_OK : nomem(c);
}

static void range_text(char *buf, size_t n, uint64_t lo, uint64_t hi)
{
    if (hi == UINT64_MAX) snprintf(buf, n, ">= %" PRIu64, lo);
    else snprintf(buf, n, "%" PRIu64 "..%" PRIu64, lo, hi);
}

static tw_status get_uint(pctx *c, json_object *obj, const char *key, uint64_t lo, uint64_t hi,
                          int required, uint64_t *out, int *present)
{
    json_object *v;
    if (present) *present = 0;
    TRY(member(c, obj, key, required, &v));
    if (!v) return TW_OK;
    int ok = json_object_is_type(v, json_type_int);
    uint64_t u = 0;
    if (ok) {
        int64_t i = json_object_get_int64(v);
        if (i < 0) ok = 0;
        else u = i == INT64_MAX ? json_object_get_uint64(v) : (uint64_t)i;
        if (u < lo || u > hi) ok = 0;
    }
    if (!ok) {
        char got[128], r[64];
        describe(v, got, sizeof got);
        range_text(r, sizeof r, lo, hi);
        return err_key(c, key, "must be an integer %s (got %s)", r, got);
    }
    *out = u;
    if (present) *present = 1;
    return TW_OK;
}

/* A finite number in [lo, hi]; `what` describes the range for the message (e.g. " >= 0"). */
static tw_status get_number(pctx *c, json_object *obj, const char *key, double lo, double hi,
                            const char *what, int required, double *out, int *present)
{
    json_object *v;
    if (present) *present = 0;
    TRY(member(c, obj, key, required, &v));
    if (!v) return TW_OK;
    int ok = json_object_is_type(v, json_type_int) || json_object_is_type(v, json_type_double);
    double d = 0;
    if (ok) {
        d = json_object_get_double(v);
        ok = isfinite(d) && d >= lo && d <= hi;
    }
    if (!ok) {
        char got[128];
        describe(v, got, sizeof got);
        return err_key(c, key, "must be a number%s (got %s)", what, got);
    }
    *out = d;
    if (present) *present = 1;
    return TW_OK;
}

static tw_status get_bool(pctx *c, json_object *obj, const char *key, int *out)
{
    json_object *v;
    TRY(member(c, obj, key, 0, &v));
    if (!v) return TW_OK;
    if (!json_object_is_type(v, json_type_boolean)) {
        char got[128];
        describe(v, got, sizeof got);
        return err_key(c, key, "must be true or false (got %s)", got);
    }
    *out = json_object_get_boolean(v) ? 1 : 0;
    return TW_OK;
}

/* One of names[0..n) (exact); *out = values[i]. Absent: *out unchanged. */
static tw_status get_enum(pctx *c, json_object *obj, const char *key, const char *const *names,
                          const int *values, size_t n, int required, int *out, int *present)
{
    json_object *v;
    if (present) *present = 0;
    TRY(member(c, obj, key, required, &v));
    if (!v) return TW_OK;
    if (json_object_is_type(v, json_type_string)) {
        const char *s = json_object_get_string(v);
        size_t len = (size_t)json_object_get_string_len(v);
        for (size_t i = 0; i < n; i++) {
            if (names[i] && strlen(names[i]) == len && !memcmp(names[i], s, len)) {
                *out = values[i];
                if (present) *present = 1;
                return TW_OK;
            }
        }
    }
    char got[128], list[400] = "";
    describe(v, got, sizeof got);
    int first = 1;
    for (size_t i = 0; i < n; i++) {
        if (!names[i]) continue;
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s\"%s\"", first ? "" : ", ", names[i]);
        first = 0;
    }
    return err_key(c, key, "must be one of %s (got %s)", list, got);
}

/* A file or directory path: resolved against base_dir when relative. */
static tw_status get_path(pctx *c, json_object *obj, const char *key, int required, const char **out)
{
    const char *p = NULL;
    TRY(get_string(c, obj, key, STR_LINE, TW_CONFIG_MAX_STRING_BYTES, required, &p));
    if (!p) return TW_OK;
    if (p[0] == '/' || !c->base_dir || !c->base_dir[0]) {
        *out = p;
        return TW_OK;
    }
    size_t lb = strlen(c->base_dir), lp = strlen(p);
    int sep = c->base_dir[lb - 1] != '/';
    char *r = tw__cfg_alloc(c->arena, lb + (size_t)sep + lp + 1);
    if (!r) return nomem(c);
    memcpy(r, c->base_dir, lb);
    if (sep) r[lb] = '/';
    memcpy(r + lb + (size_t)sep, p, lp + 1);
    *out = r;
    return TW_OK;
}

/* ---- type names (the config's own table; tw_type_name() belongs to the tag module) ---------- */

static const char *const type_names[TW_TYPE_MAX_] = {
    NULL,     "bool",   "int8",   "int16",  "int32",  "int64",  "uint8",    "uint16",
    "uint32", "uint64", "float",  "double", "string", "bytes",  "datetime",
};

static int is_numeric(tw_type t) { return t >= TW_TYPE_INT8 && t <= TW_TYPE_DOUBLE; }

/* The type's value range for "min" / "max" checks; 0 when unbounded (double). */
static int type_range(tw_type t, double *lo, double *hi, const char **text)
{
    switch (t) {
    case TW_TYPE_INT8: *lo = -128.0, *hi = 127.0, *text = "-128..127"; return 1;
    case TW_TYPE_INT16: *lo = -32768.0, *hi = 32767.0, *text = "-32768..32767"; return 1;
    case TW_TYPE_INT32:
        *lo = -2147483648.0, *hi = 2147483647.0, *text = "-2147483648..2147483647";
        return 1;
    case TW_TYPE_INT64:
        *lo = -9223372036854775808.0, *hi = 9223372036854775807.0,
        *text = "-9223372036854775808..9223372036854775807";
        return 1;
    case TW_TYPE_UINT8: *lo = 0.0, *hi = 255.0, *text = "0..255"; return 1;
    case TW_TYPE_UINT16: *lo = 0.0, *hi = 65535.0, *text = "0..65535"; return 1;
    case TW_TYPE_UINT32: *lo = 0.0, *hi = 4294967295.0, *text = "0..4294967295"; return 1;
    case TW_TYPE_UINT64: *lo = 0.0, *hi = 18446744073709551615.0, *text = "0..18446744073709551615"; return 1;
    case TW_TYPE_FLOAT: *lo = -FLT_MAX, *hi = FLT_MAX, *text = "-3.4028235e38..3.4028235e38"; return 1;
    default: return 0;
    }
}

/* ---- sections ----------------------------------------------------------------------------- */

static tw_status parse_node(pctx *c, json_object *o)
{
    static const char *const keys[] = {"group_id", "edge_node_id", "primary_host_id"};
    TRY(need_object(c, o));
    TRY(check_keys(c, o, keys, TW__ARRAY_LEN(keys)));
    tw_config *cfg = c->cfg;
    TRY(get_string(c, o, "group_id", STR_ID, TW_CONFIG_MAX_ID_BYTES, 1, &cfg->group_id));
    TRY(get_string(c, o, "edge_node_id", STR_ID, TW_CONFIG_MAX_ID_BYTES, 1, &cfg->edge_node_id));
    TRY(get_string(c, o, "primary_host_id", STR_ID, TW_CONFIG_MAX_ID_BYTES, 0,
                   &cfg->primary_host_id));
    return TW_OK;
}

static int host_char(char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || ch == '.' || ch == '_';
}

/* An IPv6 literal's characters (hex digits, ':' and '.'), with at least one ':'. */
static int v6_ok(const char *s, size_t n)
{
    int colon = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == ':') colon = 1;
        else if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') || (ch >= 'A' && ch <= 'F') || ch == '.'))
            return 0;
    }
    return colon;
}

/* Splits "mqtts://host[:port]" / "mqtt://host[:port]" into the config. */
static tw_status parse_broker(pctx *c, json_object *uplink, const char *uri)
{
    tw_config *cfg = c->cfg;
    json_object *v = NULL;
    json_object_object_get_ex(uplink, "broker", &v);
    char got[128];
    describe(v, got, sizeof got);
    const char *rest;
    int secure;
    if (!strncmp(uri, "mqtts://", 8)) secure = 1, rest = uri + 8;
    else if (!strncmp(uri, "mqtt://", 7)) secure = 0, rest = uri + 7;
    else
        return err_key(c, "broker", "must be \"mqtts://host[:port]\" (or \"mqtt://host[:port]\" "
                                    "with \"insecure\": true) (got %s)", got);
    tw__uri u; /* lib/core's parser: [v6] hosts, ports 1..65535; the host's characters are ours */
    tw_status st = tw__uri_parse(&u, uri, NULL, 0);
    if (st == TW_ERR_NOMEM) return nomem(c);
    enum { OK, V6, HOST, PORT, SHAPE } bad = OK;
    if (*rest != '[') { /* a host name: its characters are checked first */
        size_t k = 0;
        while (host_char(rest[k])) k++;
        if (k == 0 || k > 253) bad = HOST;
        else if (rest[k] && rest[k] != ':' && strcmp(rest + k, "/")) bad = SHAPE; /* e.g. "user@host" */
    }
    if (bad == OK && st != TW_OK) {
        if (u.why == TW__URI_E_BRACKET) bad = V6;
        else if (u.why == TW__URI_E_AFTER_HOST) /* "[...]x": the address first, then the rest */
            bad = v6_ok(rest + 1, (size_t)(u.err_at - 1 - (rest + 1))) ? SHAPE : V6;
        else if (u.why == TW__URI_E_PORT) bad = PORT;
        else bad = SHAPE;
    } else if (bad == OK && u.ipv6 && !v6_ok(u.host, strlen(u.host))) {
        bad = V6;
    }
    if (bad == OK && *u.rest && strcmp(u.rest, "/")) bad = SHAPE; /* a lone trailing slash is harmless */
    if (bad == OK) {
        cfg->broker_host = tw__cfg_strndup(c->arena, u.host, strlen(u.host));
        cfg->broker_port = u.port ? u.port : (secure ? 8883u : 1883u);
    }
    tw__uri_free(&u);
    switch (bad) {
    case V6: return err_key(c, "broker", "invalid IPv6 address (got %s)", got);
    case HOST: return err_key(c, "broker", "invalid host name (got %s)", got);
    case PORT: return err_key(c, "broker", "port must be 1..65535 (got %s)", got);
    case SHAPE:
        return err_key(c, "broker", "must be \"mqtts://host[:port]\" with no path, query or "
                                    "user name (got %s)", got);
    case OK: break;
    }
    if (!cfg->broker_host) return nomem(c);
    cfg->insecure = !secure;
    return TW_OK;
}

static tw_status parse_tls(pctx *c, json_object *o)
{
    static const char *const keys[] = {"ca", "cert", "key", "crl", "server_name", "pins"};
    tw_config *cfg = c->cfg;
    TRY(need_object(c, o));
    TRY(check_keys(c, o, keys, TW__ARRAY_LEN(keys)));
    TRY(get_path(c, o, "ca", 1, &cfg->tls_ca));
    /* with "enroll", the client key and certificate come from its credential directory */
    for (int k = 0; cfg->has_enroll && k < 2; k++) {
        json_object *v;
        const char *key = k ? "key" : "cert";
        TRY(member(c, o, key, 0, &v));
        if (v) return err_key(c, key, "not allowed with \"enroll\": the client key and certificate "
                                      "come from enroll.credentials_dir");
    }
    TRY(get_path(c, o, "cert", !cfg->has_enroll, &cfg->tls_cert));
    TRY(get_path(c, o, "key", !cfg->has_enroll, &cfg->tls_key));
    TRY(get_path(c, o, "crl", 0, &cfg->tls_crl));
    TRY(get_string(c, o, "server_name", STR_LINE, 253, 0, &cfg->tls_server_name));
    if (cfg->tls_server_name) {
        for (const char *p = cfg->tls_server_name; *p; p++) {
            if (!host_char(*p) && *p != ':') {
                json_object *v = json_object_object_get(o, "server_name");
                char got[128];
                describe(v, got, sizeof got);
                return err_key(c, "server_name", "must be a host name (got %s)", got);
            }
        }
    } else {
        cfg->tls_server_name = cfg->broker_host;
    }
    json_object *pins;
    TRY(member(c, o, "pins", 0, &pins));
    if (pins) {
        size_t m = push_key(c, "pins");
        char got[128];
        if (!json_object_is_type(pins, json_type_array)) {
            describe(pins, got, sizeof got);
            return err(c, "must be an array of strings (got %s)", got);
        }
        size_t n = json_object_array_length(pins);
        cfg->pins = tw__cfg_alloc(c->arena, (n ? n : 1) * sizeof(char *));
        if (!cfg->pins) return nomem(c);
        for (size_t i = 0; i < n; i++) {
            json_object *p = json_object_array_get_idx(pins, i);
            size_t mi = push_index(c, i);
            describe(p, got, sizeof got);
            if (!json_object_is_type(p, json_type_string) ||
                strlen(json_object_get_string(p)) != (size_t)json_object_get_string_len(p) ||
                tw__pin_parse(json_object_get_string(p), NULL) != TW_OK)
                return err(c, "must be \"sha256/\" followed by the base64 SHA-256 of the "
                              "broker's public key, 44 characters (got %s)", got);
            cfg->pins[i] = tw__cfg_strndup(c->arena, json_object_get_string(p),
                                           (size_t)json_object_get_string_len(p));
            if (!cfg->pins[i]) return nomem(c);
            pop(c, mi);
        }
        cfg->n_pins = n;
        pop(c, m);
    }
    return TW_OK;
}

static tw_status parse_uplink(pctx *c, json_object *o)
{
    static const char *const keys[] = {"broker", "client_id", "keep_alive_s", "insecure", "tls"};
    tw_config *cfg = c->cfg;
    TRY(need_object(c, o));
    TRY(check_keys(c, o, keys, TW__ARRAY_LEN(keys)));
    TRY(get_string(c, o, "broker", STR_LINE, TW_CONFIG_MAX_STRING_BYTES, 1, &cfg->broker_uri));
    TRY(parse_broker(c, o, cfg->broker_uri));
    int insecure = 0;
    TRY(get_bool(c, o, "insecure", &insecure));
    json_object *tls;
    TRY(member(c, o, "tls", 0, &tls));
    if (cfg->insecure) {
        if (!insecure)
            return err_key(c, "broker", "plaintext \"mqtt://\" needs \"insecure\": true in the "
                                        "uplink (or use \"mqtts://\")");
        if (tls) return err_key(c, "tls", "not allowed with a plaintext \"mqtt://\" broker");
    } else {
        if (insecure)
            return err_key(c, "insecure", "true is only allowed with a plaintext \"mqtt://\" "
                                          "broker (\"mqtts://\" is always verified)");
        if (!tls) return err(c, cfg->has_enroll ? "missing required key \"tls\" (an \"mqtts://\" broker "
                                                  "needs at least ca)"
                                                : "missing required key \"tls\" (an \"mqtts://\" broker "
                                                  "needs ca, cert and key)");
        size_t m = push_key(c, "tls");
        TRY(parse_tls(c, tls));
        pop(c, m);
    }
    TRY(get_string(c, o, "client_id", STR_LINE, TW_CONFIG_MAX_STRING_BYTES, 0, &cfg->client_id));
    if (!cfg->client_id) {
        /* the edge's and the node's rule: at most 23 bytes, shortened stably when longer */
        char id[TW_SP_CLIENT_ID_MAX + 1];
        tw_status st = tw_sp_default_client_id(id, sizeof id, cfg->group_id, cfg->edge_node_id);
        if (st != TW_OK) return err_key(c, "client_id", "no default client id: %s", tw_strerror(st));
        cfg->client_id = tw__cfg_strndup(c->arena, id, strlen(id));
        if (!cfg->client_id) return nomem(c);
    }
    uint64_t ka = 30;
    TRY(get_uint(c, o, "keep_alive_s", 0, 65535, 0, &ka, NULL));
    cfg->keep_alive_s = (uint32_t)ka;
    return TW_OK;
}

static tw_status parse_store(pctx *c, json_object *o)
{
    static const char *const keys[] = {"dir", "max_bytes", "max_age_s", "fsync", "fsync_interval_ms",
                                       "overflow"};
    static const char *const fsync_names[] = {"always", "periodic", "never"};
    static const int fsync_values[] = {TW_STORE_SYNC_EVERY_RECORD, TW_STORE_SYNC_BATCH, TW_STORE_SYNC_OS};
    static const char *const ovf_names[] = {"drop_oldest", "drop_newest"};
    static const int ovf_values[] = {TW_STORE_DROP_OLDEST, TW_STORE_REFUSE_NEW};
    tw_config *cfg = c->cfg;
    TRY(need_object(c, o));
    TRY(check_keys(c, o, keys, TW__ARRAY_LEN(keys)));
    cfg->has_store = 1;
    TRY(get_path(c, o, "dir", 1, &cfg->store_dir));
    cfg->store_max_bytes = 64u * 1024u * 1024u;
    TRY(get_uint(c, o, "max_bytes", 65536, UINT64_MAX, 0, &cfg->store_max_bytes, NULL));
    cfg->store_max_age_s = 0;
    TRY(get_uint(c, o, "max_age_s", 0, UINT32_MAX, 0, &cfg->store_max_age_s, NULL));
    int fs = TW_STORE_SYNC_BATCH;
    TRY(get_enum(c, o, "fsync", fsync_names, fsync_values, 3, 0, &fs, NULL));
    cfg->store_fsync = (tw_store_sync_policy)fs;
    uint64_t iv = 1000;
    int have_iv = 0;
    TRY(get_uint(c, o, "fsync_interval_ms", 1, 3600000, 0, &iv, &have_iv));
    if (have_iv && fs != TW_STORE_SYNC_BATCH)
        return err_key(c, "fsync_interval_ms", "only applies with \"fsync\": \"periodic\"");
    cfg->store_fsync_interval_ms = fs == TW_STORE_SYNC_BATCH ? (uint32_t)iv : 0;
    int ov = TW_STORE_DROP_OLDEST;
    TRY(get_enum(c, o, "overflow", ovf_names, ovf_values, 2, 0, &ov, NULL));
    cfg->store_overflow = (tw_store_overflow)ov;
    return TW_OK;
}

static tw_status parse_enroll(pctx *c, json_object *o)
{
    static const char *const keys[] = {"est_url", "server_ca", "credentials_dir", "renew_fraction",
                                       "retry_max_s"};
    tw_config *cfg = c->cfg;
    TRY(need_object(c, o));
    TRY(check_keys(c, o, keys, TW__ARRAY_LEN(keys)));
    if (cfg->insecure)
        return err(c, "certificate renewal needs an \"mqtts://\" broker (the uplink is plaintext)");
    TRY(get_string(c, o, "est_url", STR_LINE, TW_CONFIG_MAX_STRING_BYTES, 1, &cfg->enroll_url));
    if (strncmp(cfg->enroll_url, "https://", 8) || !cfg->enroll_url[8] || cfg->enroll_url[8] == '/') {
        char got[128];
        describe(json_object_object_get(o, "est_url"), got, sizeof got);
        return err_key(c, "est_url", "must be an https:// URL of the EST server (got %s)", got);
    }
    TRY(get_path(c, o, "server_ca", 1, &cfg->enroll_ca));
    TRY(get_path(c, o, "credentials_dir", 1, &cfg->enroll_dir));
    cfg->enroll_fraction = 2.0 / 3.0;
    TRY(get_number(c, o, "renew_fraction", 0.05, 0.95, " from 0.05 to 0.95", 0, &cfg->enroll_fraction, NULL));
    uint64_t rm = 30;
    TRY(get_uint(c, o, "retry_max_s", 1, 86400, 0, &rm, NULL));
    cfg->enroll_retry_max_s = (uint32_t)rm;
    return TW_OK;
}

static tw_status parse_scan_groups(pctx *c, json_object *arr, tw_config_device *d)
{
    static const char *const keys[] = {"name", "rate_ms"};
    char got[128];
    if (!json_object_is_type(arr, json_type_array)) {
        describe(arr, got, sizeof got);
        return err(c, "must be an array of {\"name\", \"rate_ms\"} objects (got %s)", got);
    }
    size_t n = json_object_array_length(arr);
    if (n == 0) return err(c, "must contain at least one scan group");
    if (n > TW_CONFIG_MAX_SCAN_GROUPS)
        return err(c, "must contain at most %u scan groups (got %zu)", TW_CONFIG_MAX_SCAN_GROUPS, n);
    d->group_names = tw__cfg_alloc(c->arena, n * sizeof(char *));
    d->group_rates = tw__cfg_alloc(c->arena, n * sizeof(uint32_t));
    if (!d->group_names || !d->group_rates) return nomem(c);
    for (size_t i = 0; i < n; i++) {
        json_object *g = json_object_array_get_idx(arr, i);
        size_t m = push_index(c, i);
        TRY(need_object(c, g));
        TRY(check_keys(c, g, keys, TW__ARRAY_LEN(keys)));
        TRY(get_string(c, g, "name", STR_LINE, 64, 1, &d->group_names[i]));
        for (size_t j = 0; j < i; j++)
            if (!strcmp(d->group_names[j], d->group_names[i]))
                return err_key(c, "name", "duplicate scan group \"%s\" (first at index %zu)",
                               d->group_names[i], j);
        uint64_t rate = 0;
        TRY(get_uint(c, g, "rate_ms", 1, 86400000, 1, &rate, NULL));
        d->group_rates[i] = (uint32_t)rate;
        pop(c, m);
    }
    d->n_groups = n;
    return TW_OK;
}

static const char *tag_name_of(const void *ctx, size_t i)
{
    return ((const tw_config_device *)ctx)->tags[i].name;
}

static tw_status parse_scaling(pctx *c, json_object *o, tw_config_tag *t)
{
    static const char *const keys[] = {"raw_min", "raw_max", "eng_min", "eng_max"};
    TRY(need_object(c, o));
    TRY(check_keys(c, o, keys, TW__ARRAY_LEN(keys)));
    TRY(get_number(c, o, "raw_min", -DBL_MAX, DBL_MAX, "", 1, &t->raw_min, NULL));
    TRY(get_number(c, o, "raw_max", -DBL_MAX, DBL_MAX, "", 1, &t->raw_max, NULL));
    TRY(get_number(c, o, "eng_min", -DBL_MAX, DBL_MAX, "", 1, &t->eng_min, NULL));
    TRY(get_number(c, o, "eng_max", -DBL_MAX, DBL_MAX, "", 1, &t->eng_max, NULL));
    if (t->raw_min == t->raw_max) return err_key(c, "raw_max", "must differ from raw_min (both are %g)", t->raw_min);
    if (t->eng_min == t->eng_max) return err_key(c, "eng_max", "must differ from eng_min (both are %g)", t->eng_min);
    t->has_scaling = 1;
    return TW_OK;
}

/* A zero value of `type` (an empty string or byte string) for the convertibility probe. */
static tw_value zero_value(tw_type type)
{
    tw_value v;
    memset(&v, 0, sizeof v);
    v.type = type;
    if (type == TW_TYPE_STRING || type == TW_TYPE_BYTES) v.as.buf.ptr = "";
    return v;
}

/* Whether values convert between the two types (tw_value_convert's rule, which the node applies
 * between an adapter's item and its tag in both directions). Only the type matters here: range
 * errors of particular values are run-time qualities, not configuration mistakes. */
static int types_convertible(tw_type a, tw_type b)
{
    tw_value va = zero_value(a), vb = zero_value(b), out;
    return tw_value_convert(&out, &va, b) != TW_ERR_TYPE_MISMATCH &&
           tw_value_convert(&out, &vb, a) != TW_ERR_TYPE_MISMATCH;
}

/* The tag's address, checked by the device's adapter, and its "type" against the value type the
 * address gives. */
static tw_status check_address(pctx *c, json_object *o, const tw_config_device *d, const tw_config_tag *t)
{
    char why[512], got[128];
    tw_type natural = TW_TYPE_NONE;
    tw_status st = tw_adapter_check_address(d->scheme, t->address, &natural, why, sizeof why);
    if (st != TW_OK) {
        if (!why[0]) snprintf(why, sizeof why, "%s", tw_strerror(st));
        return err_key(c, "address", "refused by the \"%s\" adapter: %s", d->scheme, why);
    }
    if ((int)natural <= TW_TYPE_NONE || natural >= TW_TYPE_MAX_ || natural == t->type ||
        types_convertible(natural, t->type))
        return TW_OK;
    describe(json_object_object_get(o, "address"), got, sizeof got);
    return err_key(c, "type", "%s cannot hold the values of address %s, which are %s (choose a type "
                              "that converts from %s, or give the type in the address)",
                   type_names[t->type], got, type_names[natural], type_names[natural]);
}

static tw_status parse_tag(pctx *c, json_object *o, tw_config_device *d, size_t idx)
{
    static const char *const keys[] = {"name",  "address",     "type",    "scan_group",
                                       "deadband", "deadband_percent", "unit", "description",
                                       "scaling", "min", "max", "access"};
    static const char *const access_names[] = {"read", "write", "read-write"};
    static const int access_values[] = {TW_ACCESS_READ, TW_ACCESS_WRITE, TW_ACCESS_READ_WRITE};
    static const int type_values[TW_TYPE_MAX_] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14};

    tw_config_tag *t = &d->tags[idx];
    t->device = d;
    t->path = tw__cfg_strndup(c->arena, c->path, c->plen);
    if (!t->path) return nomem(c);
    TRY(need_object(c, o));
    TRY(check_keys(c, o, keys, TW__ARRAY_LEN(keys)));
    TRY(get_string(c, o, "name", STR_NAME, TW_CONFIG_MAX_NAME_BYTES, 1, &t->name));
    size_t first = tw__cfg_index_insert(&d->tag_index, idx, tag_name_of, d);
    if (first != SIZE_MAX)
        return err_key(c, "name", "duplicate tag name \"%s\" in device \"%s\" (first at %s)",
                       t->name, d->id, d->tags[first].path);
    int type = 0;
    TRY(get_enum(c, o, "type", type_names, type_values, TW_TYPE_MAX_, 1, &type, NULL));
    t->type = (tw_type)type;
    const char *tname = type_names[type];

    int access = TW_ACCESS_READ;
    TRY(get_enum(c, o, "access", access_names, access_values, 3, 0, &access, NULL));
    t->access = (tw_access)access;

    json_object *v;
    if (d->adapter) {
        TRY(get_string(c, o, "address", STR_LINE, TW_CONFIG_MAX_STRING_BYTES, 1, &t->address));
        TRY(check_address(c, o, d, t));
        TRY(get_string(c, o, "scan_group", STR_LINE, 64, 0, &t->scan_group));
        if (t->scan_group && t->access == TW_ACCESS_WRITE)
            return err_key(c, "scan_group", "not used by a write-only tag (\"access\": \"write\")");
        if (t->scan_group) {
            size_t g = 0;
            while (g < d->n_groups && strcmp(d->group_names[g], t->scan_group) != 0) g++;
            if (g == d->n_groups) {
                char list[300] = "";
                for (size_t k = 0; k < d->n_groups; k++) {
                    size_t l = strlen(list);
                    snprintf(list + l, sizeof list - l, "%s\"%s\"", k ? ", " : "", d->group_names[k]);
                }
                return err_key(c, "scan_group", "no scan group \"%s\" in device \"%s\" (it has %s)",
                               t->scan_group, d->id, list);
            }
            t->scan_rate_ms = d->group_rates[g];
        } else if (t->access != TW_ACCESS_WRITE) {
            t->scan_group = d->group_names[0];
            t->scan_rate_ms = d->group_rates[0];
        }
    } else {
        static const char *const adapter_only[] = {"address", "scan_group"};
        for (size_t k = 0; k < 2; k++) {
            TRY(member(c, o, adapter_only[k], 0, &v));
            if (v)
                return err_key(c, adapter_only[k], "device \"%s\" has no \"adapter\" (its values "
                               "are pushed by the application)", d->id);
        }
    }

    TRY(get_string(c, o, "unit", STR_LINE, 64, 0, &t->unit));
    TRY(get_string(c, o, "description", STR_TEXT, TW_CONFIG_MAX_STRING_BYTES, 0, &t->description));

    if (!is_numeric(t->type)) {
        static const char *const numeric_only[] = {"deadband", "deadband_percent", "scaling", "min",
                                                   "max"};
        for (size_t k = 0; k < TW__ARRAY_LEN(numeric_only); k++) {
            TRY(member(c, o, numeric_only[k], 0, &v));
            if (v)
                return err_key(c, numeric_only[k], "applies to numeric types only (type is %s)",
                               tname);
        }
        return TW_OK;
    }

    double lo, hi;
    const char *rtext = NULL;
    int bounded = type_range(t->type, &lo, &hi, &rtext);
    static const char *const mm[] = {"min", "max"};
    for (int k = 0; k < 2; k++) {
        double val = 0;
        int have = 0;
        TRY(get_number(c, o, mm[k], -DBL_MAX, DBL_MAX, "", 0, &val, &have));
        if (!have) continue;
        if (bounded && (val < lo || val > hi)) {
            char got[128];
            describe(json_object_object_get(o, mm[k]), got, sizeof got);
            return err_key(c, mm[k], "must be within the range of %s, %s (got %s)", tname, rtext, got);
        }
        if (k == 0) t->has_min = 1, t->min = val;
        else t->has_max = 1, t->max = val;
    }
    if (t->has_min && t->has_max && !(t->min < t->max)) {
        char got[128];
        describe(json_object_object_get(o, "max"), got, sizeof got);
        return err_key(c, "max", "must be greater than min (got %s, min is %g)", got, t->min);
    }

    int have_abs = 0, have_pct = 0;
    double db = 0;
    TRY(get_number(c, o, "deadband", 0.0, DBL_MAX, " >= 0", 0, &db, &have_abs));
    if (have_abs) t->deadband_mode = TW_DEADBAND_ABSOLUTE, t->deadband = db;
    TRY(get_number(c, o, "deadband_percent", 0.0, 100.0, " 0..100", 0, &db, &have_pct));
    if (have_pct) {
        if (have_abs)
            return err_key(c, "deadband_percent", "cannot be combined with \"deadband\" (choose one)");
        if (!t->has_min || !t->has_max)
            return err_key(c, "deadband_percent", "needs \"min\" and \"max\" on the tag (the "
                                                  "percentage is of max - min)");
        t->deadband_mode = TW_DEADBAND_PERCENT, t->deadband = db;
    }

    TRY(member(c, o, "scaling", 0, &v));
    if (v) {
        size_t m = push_key(c, "scaling");
        TRY(parse_scaling(c, v, t));
        pop(c, m);
    }
    return TW_OK;
}

/* "scheme://...": scheme = letter *(letter / digit / "+" / "-" / "."), RFC 3986. */
static tw_status check_adapter_uri(pctx *c, json_object *dev, tw_config_device *d)
{
    const char *u = d->adapter, *p = u;
    int ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
    if (ok) {
        for (p++; (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                  *p == '+' || *p == '-' || *p == '.';
             p++) {}
        ok = !strncmp(p, "://", 3) && !strchr(p, ' ');
    }
    if (!ok) {
        char got[128];
        describe(json_object_object_get(dev, "adapter"), got, sizeof got);
        return err_key(c, "adapter", "must be an adapter URI \"scheme://...\" such as "
                                     "\"modbus+tcp://127.0.0.1:502?unit=1\" or \"sim://\" (got %s)",
                       got);
    }
    char *s = tw__cfg_strndup(c->arena, u, (size_t)(p - u));
    if (!s) return nomem(c);
    for (char *q = s; *q; q++)
        if (*q >= 'A' && *q <= 'Z') *q = (char)(*q - 'A' + 'a');
    d->scheme = s;
    /* the adapter must be registered now: it checks every address of the device below */
    char list[512];
    tw_adapter_list(list, sizeof list);
    size_t ls = strlen(s);
    for (const char *p2 = list; *p2;) {
        const char *e = strchr(p2, ',');
        size_t l = e ? (size_t)(e - p2) : strlen(p2);
        if (l == ls && !memcmp(p2, s, ls)) return TW_OK;
        p2 += l + (e ? 1 : 0);
    }
    return err_key(c, "adapter", "no adapter for the scheme \"%s\" (registered: %s; an application's own "
                                 "adapter must be registered before the configuration is loaded)",
                   s, list[0] ? list : "none");
}

static const char *device_name_of(const void *ctx, size_t i)
{
    return ((const tw_config *)ctx)->devices[i].id;
}

static tw_status parse_device(pctx *c, json_object *o, size_t idx)
{
    static const char *const keys[] = {"id", "adapter", "scan_groups", "tags"};
    tw_config *cfg = c->cfg;
    tw_config_device *d = &cfg->devices[idx];
    d->path = tw__cfg_strndup(c->arena, c->path, c->plen);
    if (!d->path) return nomem(c);
    TRY(need_object(c, o));
    TRY(check_keys(c, o, keys, TW__ARRAY_LEN(keys)));
    TRY(get_string(c, o, "id", STR_ID, TW_CONFIG_MAX_ID_BYTES, 1, &d->id));
    size_t first = tw__cfg_index_insert(&cfg->device_index, idx, device_name_of, cfg);
    if (first != SIZE_MAX)
        return err_key(c, "id", "duplicate device id \"%s\" (first at %s)", d->id,
                       cfg->devices[first].path);
    TRY(get_string(c, o, "adapter", STR_LINE, TW_CONFIG_MAX_STRING_BYTES, 0, &d->adapter));
    if (d->adapter) TRY(check_adapter_uri(c, o, d));

    json_object *v;
    TRY(member(c, o, "scan_groups", 0, &v));
    if (v && !d->adapter)
        return err_key(c, "scan_groups", "needs an \"adapter\" (a device without one has its "
                                         "values pushed by the application)");
    if (v) {
        size_t m = push_key(c, "scan_groups");
        TRY(parse_scan_groups(c, v, d));
        pop(c, m);
    } else if (d->adapter) {
        d->group_names = tw__cfg_alloc(c->arena, sizeof(char *));
        d->group_rates = tw__cfg_alloc(c->arena, sizeof(uint32_t));
        if (!d->group_names || !d->group_rates) return nomem(c);
        d->group_names[0] = "default";
        d->group_rates[0] = 1000;
        d->n_groups = 1;
    }

    TRY(member(c, o, "tags", 1, &v));
    size_t m = push_key(c, "tags");
    if (!json_object_is_type(v, json_type_array)) {
        char got[128];
        describe(v, got, sizeof got);
        return err(c, "must be an array of tags (got %s)", got);
    }
    size_t n = json_object_array_length(v);
    if (n == 0) return err(c, "must contain at least one tag");
    if (n >= UINT32_MAX / 2) return err(c, "too many tags");
    d->tags = tw__cfg_alloc(c->arena, n * sizeof(tw_config_tag));
    if (!d->tags) return nomem(c);
    TRY(tw__cfg_index_init(c->arena, &d->tag_index, n) == TW_OK ? TW_OK : nomem(c));
    for (size_t i = 0; i < n; i++) {
        size_t mi = push_index(c, i);
        TRY(parse_tag(c, json_object_array_get_idx(v, i), d, i));
        pop(c, mi);
    }
    d->n_tags = n;
    pop(c, m);
    return TW_OK;
}

static tw_status parse_devices(pctx *c, json_object *arr)
{
    tw_config *cfg = c->cfg;
    if (!json_object_is_type(arr, json_type_array)) {
        char got[128];
        describe(arr, got, sizeof got);
        return err(c, "must be an array of devices (got %s)", got);
    }
    size_t n = json_object_array_length(arr);
    if (n == 0) return err(c, "must contain at least one device");
    if (n >= UINT32_MAX / 2) return err(c, "too many devices");
    cfg->devices = tw__cfg_alloc(c->arena, n * sizeof(tw_config_device));
    if (!cfg->devices) return nomem(c);
    TRY(tw__cfg_index_init(c->arena, &cfg->device_index, n) == TW_OK ? TW_OK : nomem(c));
    for (size_t i = 0; i < n; i++) {
        size_t m = push_index(c, i);
        TRY(parse_device(c, json_object_array_get_idx(arr, i), i));
        pop(c, m);
    }
    cfg->n_devices = n;
    return TW_OK;
}

static tw_status parse_root(pctx *c, json_object *root)
{
    static const char *const keys[] = {"version", "node", "uplink", "store", "enroll", "devices"};
    TRY(need_object(c, root));
    TRY(check_keys(c, root, keys, TW__ARRAY_LEN(keys)));
    json_object *v;
    TRY(member(c, root, "version", 0, &v));
    if (v && !(json_object_is_type(v, json_type_int) &&
               json_object_get_int64(v) == TW_CONFIG_FORMAT_VERSION)) {
        char got[128];
        describe(v, got, sizeof got);
        return err_key(c, "version", "unsupported format version (this library reads %d; got %s)",
                       TW_CONFIG_FORMAT_VERSION, got);
    }
    /* the uplink's TLS rules depend on whether "enroll" supplies the client credential */
    c->cfg->has_enroll = json_object_object_get_ex(root, "enroll", NULL);
    static const char *const sections[] = {"node", "uplink", "store", "enroll", "devices"};
    static const int required[] = {1, 1, 0, 0, 1};
    for (size_t k = 0; k < TW__ARRAY_LEN(sections); k++) {
        TRY(member(c, root, sections[k], required[k], &v));
        if (!v) continue;
        size_t m = push_key(c, sections[k]);
        switch (k) {
        case 0: TRY(parse_node(c, v)); break;
        case 1: TRY(parse_uplink(c, v)); break;
        case 2: TRY(parse_store(c, v)); break;
        case 3: TRY(parse_enroll(c, v)); break;
        default: TRY(parse_devices(c, v)); break;
        }
        pop(c, m);
    }
    return TW_OK;
}

/* ---- JSON syntax -------------------------------------------------------------------------- */

static const char *tokener_problem(enum json_tokener_error e)
{
    switch (e) {
    case json_tokener_error_depth: return "nested too deeply (at most 32 levels)";
    case json_tokener_error_parse_eof: return "unexpected end of input";
    case json_tokener_error_parse_unexpected: return "unexpected character";
    case json_tokener_error_parse_null: return "invalid literal (expected null)";
    case json_tokener_error_parse_boolean: return "invalid literal (expected true or false)";
    case json_tokener_error_parse_number: return "invalid number";
    case json_tokener_error_parse_array: return "expected ',' or ']' in an array";
    case json_tokener_error_parse_object_key_name: return "expected a string key in an object";
    case json_tokener_error_parse_object_key_sep: return "expected ':' after an object key";
    case json_tokener_error_parse_object_value_sep: return "expected ',' or '}' in an object";
    case json_tokener_error_parse_string: return "invalid string";
    case json_tokener_error_parse_comment: return "comments are not allowed (use a \"_comment\" key)";
    case json_tokener_error_parse_utf8_string: return "invalid UTF-8";
    default: return "invalid JSON";
    }
}

/* Number of whitespace bytes right before json[pos] (stops short of json[0]). */
static size_t strspn_back(const char *json, size_t pos)
{
    size_t k = 0;
    while (k + 1 < pos && strchr(" \t\r\n", json[pos - 1 - k])) k++;
    return k;
}

/* Line and column (from 1; columns count characters) of json[pos]. */
static void text_line_col(const char *json, size_t pos, size_t *line, size_t *col)
{
    *line = 1, *col = 1;
    for (size_t i = 0; i < pos; i++) {
        unsigned char ch = (unsigned char)json[i];
        if (ch == '\n') ++*line, *col = 1;
        else if ((ch & 0xC0) != 0x80) ++*col;
    }
}

static tw_status syntax_error(pctx *c, const char *json, size_t len, size_t pos, const char *problem)
{
    size_t line, col;
    if (pos > len) pos = len;
    text_line_col(json, pos, &line, &col);
    char found[40] = "";
    if (pos >= len) found[0] = '\0';
    else if (json[pos] > 0x20 && json[pos] < 0x7F) snprintf(found, sizeof found, " (found '%c')", json[pos]);
    else snprintf(found, sizeof found, " (found byte 0x%02X)", (unsigned char)json[pos]);
    msgf(c->cfg->err, sizeof c->cfg->err, "%s:%zu:%zu: invalid JSON: %s%s", c->name, line, col,
         problem, found);
    c->cfg->err_code = TW_ERR_PARSE;
    return TW_ERR_PARSE;
}

/* ---- duplicate keys ----------------------------------------------------------------------- */

/*
 * json-c keeps the last of two equal keys in an object and drops the first without a trace, so the
 * raw text is scanned once more, after json-c accepted it: every object's keys (decoded, so that
 * "a" and "\u0061" are the same key) go into a small hash set of their own; a key already in the
 * set is an error at its JSON path. The scanner bounds-checks everything itself: it never relies
 * on json-c having accepted the text, and reports TW_ERR_PARSE when the text is not what it
 * expects. Memory: the keys of the objects open at a time (at most the text's size).
 */

#define DUP_DEPTH (TW__CFG_DEPTH + 2)

typedef struct dup_frame {
    int is_object;
    int comment;     /* the container is (inside) the value of a comment key ("_...") */
    size_t index;    /* arrays: the current element */
    size_t key_mark; /* objects: keys[] length when the object opened */
    size_t path_mark;
    uint32_t *slots; /* objects: offsets + 1 into keys[] of the stored keys; 0 = empty */
    size_t mask, count;
} dup_frame;

typedef struct dup_scan {
    pctx *c;
    const char *s;
    size_t len, pos;
    char *keys; /* stored keys: 4-byte length, the bytes, a NUL */
    size_t klen, kcap;
    dup_frame st[DUP_DEPTH];
    int depth;
    int comment_value; /* the key just read begins with '_' or is inside a comment */
} dup_scan;

static int json_ws(char ch) { return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r'; }

static void dup_skip_ws(dup_scan *d)
{
    while (d->pos < d->len && json_ws(d->s[d->pos])) d->pos++;
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static int dup_hex4(dup_scan *d, size_t at, uint32_t *out)
{
    if (at > d->len || d->len - at < 4) return 0;
    uint32_t v = 0;
    for (size_t i = 0; i < 4; i++) {
        int h = hexval(d->s[at + i]);
        if (h < 0) return 0;
        v = (v << 4) | (uint32_t)h;
    }
    *out = v;
    return 1;
}

static tw_status dup_bad(dup_scan *d, const char *problem)
{
    return syntax_error(d->c, d->s, d->len, d->pos, problem);
}

static tw_status dup_reserve(dup_scan *d, size_t more)
{
    if (d->kcap - d->klen >= more) return TW_OK;
    size_t ncap = d->kcap ? d->kcap : 256;
    while (ncap - d->klen < more) {
        if (ncap > SIZE_MAX / 2) return nomem(d->c);
        ncap *= 2;
    }
    char *nk = tw__realloc(d->keys, ncap);
    if (!nk) return nomem(d->c);
    d->keys = nk;
    d->kcap = ncap;
    return TW_OK;
}

/* Decodes the string at d->pos (at its opening quote) into keys[] after a 4-byte length slot;
 * returns the decoded key's offset in *at. Keys with "\u0000" or an unpaired surrogate escape are
 * refused: json-c would cut or replace them, and no key of the format needs them. */
static tw_status dup_read_key(dup_scan *d, size_t *at)
{
    size_t start = d->pos;
    if (start >= d->len || d->s[start] != '"') return dup_bad(d, "expected a string key in an object");
    /* the decoded key is never longer than its text; room for length, key, NUL, text position */
    size_t end = start + 1;
    while (end < d->len && d->s[end] != '"') end += d->s[end] == '\\' ? 2 : 1;
    if (end >= d->len) return dup_bad(d, "unterminated string");
    TRY(dup_reserve(d, 4 + (end - start) + 1 + 4));
    *at = d->klen;
    char *o = d->keys + d->klen + 4;
    size_t n = 0;
    for (size_t i = start + 1; i < end;) {
        char ch = d->s[i];
        if (ch != '\\') {
            o[n++] = ch;
            i++;
            continue;
        }
        char e = d->s[i + 1]; /* i + 1 < end: escapes were skipped in pairs above */
        const char *simple = strchr("\"\\/bfnrt", e);
        if (e && simple) {
            static const char repl[] = "\"\\/\b\f\n\r\t";
            o[n++] = repl[simple - "\"\\/bfnrt"];
            i += 2;
            continue;
        }
        uint32_t cp, lo;
        d->pos = i;
        if (e != 'u' || !dup_hex4(d, i + 2, &cp) || i + 6 > end) return dup_bad(d, "invalid escape in a string");
        i += 6;
        if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (i + 6 > end || d->s[i] != '\\' || d->s[i + 1] != 'u' || !dup_hex4(d, i + 2, &lo) ||
                lo < 0xDC00 || lo > 0xDFFF)
                return dup_bad(d, "object key with an unpaired surrogate escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            i += 6;
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return dup_bad(d, "object key with an unpaired surrogate escape");
        } else if (cp == 0) {
            return dup_bad(d, "object key with a NUL character (\\u0000)");
        }
        if (cp < 0x80) {
            o[n++] = (char)cp;
        } else if (cp < 0x800) {
            o[n++] = (char)(0xC0 | (cp >> 6));
            o[n++] = (char)(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            o[n++] = (char)(0xE0 | (cp >> 12));
            o[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            o[n++] = (char)(0x80 | (cp & 0x3F));
        } else {
            o[n++] = (char)(0xF0 | (cp >> 18));
            o[n++] = (char)(0x80 | ((cp >> 12) & 0x3F));
            o[n++] = (char)(0x80 | ((cp >> 6) & 0x3F));
            o[n++] = (char)(0x80 | (cp & 0x3F));
        }
    }
    o[n] = '\0';
    uint32_t n32 = (uint32_t)n;
    memcpy(d->keys + d->klen, &n32, 4);
    d->pos = end + 1;
    return TW_OK;
}

static uint64_t dup_hash(const char *k, size_t n)
{
    uint64_t h = 14695981039346656037ull; /* FNV-1a */
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    return h;
}

static const char *dup_key_at(const dup_scan *d, size_t at, uint32_t *n)
{
    memcpy(n, d->keys + at, 4);
    return d->keys + at + 4;
}

/* Adds the key just decoded at `at` to the object `f`; returns 1 and *first (the position of the
 * earlier key in the text) when the object has it already. */
static tw_status dup_insert(dup_scan *d, dup_frame *f, size_t at, size_t text_pos, int *dup, size_t *first)
{
    uint32_t n;
    const char *k = dup_key_at(d, at, &n);
    *dup = 0;
    if (!f->slots || (f->count + 1) * 2 > f->mask + 1) {
        size_t cap = f->slots ? (f->mask + 1) * 2 : 8;
        if (cap > SIZE_MAX / 2 / sizeof(uint32_t)) return nomem(d->c);
        uint32_t *ns = tw__calloc(cap, sizeof *ns);
        if (!ns) return nomem(d->c);
        for (size_t i = 0; f->slots && i <= f->mask; i++) {
            if (!f->slots[i]) continue;
            uint32_t ln;
            const char *ok = dup_key_at(d, f->slots[i] - 1u, &ln);
            size_t j = (size_t)dup_hash(ok, ln) & (cap - 1);
            while (ns[j]) j = (j + 1) & (cap - 1);
            ns[j] = f->slots[i];
        }
        tw__free(f->slots);
        f->slots = ns;
        f->mask = cap - 1;
    }
    size_t j = (size_t)dup_hash(k, n) & f->mask;
    for (; f->slots[j]; j = (j + 1) & f->mask) {
        uint32_t ln;
        size_t oat = f->slots[j] - 1u;
        const char *ok = dup_key_at(d, oat, &ln);
        if (ln == n && !memcmp(ok, k, n)) {
            uint32_t tp;
            memcpy(&tp, d->keys + oat + 4 + ln + 1, 4);
            *dup = 1;
            *first = tp;
            return TW_OK;
        }
    }
    /* keep the key (length, bytes, NUL) and where it is in the text (room reserved by
     * dup_read_key) */
    uint32_t tp = (uint32_t)text_pos;
    memcpy(d->keys + at + 4 + n + 1, &tp, 4);
    d->klen = at + 4 + n + 1 + 4;
    f->slots[j] = (uint32_t)at + 1u;
    f->count++;
    return TW_OK;
}

/* Skips a scalar (string, number or literal) at d->pos. */
static tw_status dup_skip_scalar(dup_scan *d)
{
    if (d->pos >= d->len) return dup_bad(d, "unexpected end of input");
    if (d->s[d->pos] == '"') {
        size_t i = d->pos + 1;
        while (i < d->len && d->s[i] != '"') i += d->s[i] == '\\' ? 2 : 1;
        if (i >= d->len) return dup_bad(d, "unterminated string");
        d->pos = i + 1;
        return TW_OK;
    }
    size_t i = d->pos;
    while (i < d->len && !json_ws(d->s[i]) && !strchr(",:]}[{\"", d->s[i])) i++;
    if (i == d->pos) return dup_bad(d, "unexpected character");
    d->pos = i;
    return TW_OK;
}

static tw_status dup_walk(dup_scan *d)
{
    pctx *c = d->c;
    for (;;) {
        /* a value */
        dup_skip_ws(d);
        if (d->pos >= d->len) return dup_bad(d, "unexpected end of input");
        char ch = d->s[d->pos];
        if (ch == '{' || ch == '[') {
            if (d->depth == DUP_DEPTH) return dup_bad(d, "nested too deeply");
            const dup_frame *parent = d->depth ? &d->st[d->depth - 1] : NULL;
            int comment = parent && (parent->is_object ? d->comment_value : parent->comment);
            dup_frame *f = &d->st[d->depth++];
            memset(f, 0, sizeof *f);
            f->is_object = ch == '{';
            f->comment = comment;
            f->key_mark = d->klen;
            f->path_mark = c->plen;
            d->pos++;
            dup_skip_ws(d);
            char close = f->is_object ? '}' : ']';
            if (d->pos < d->len && d->s[d->pos] == close) {
                d->pos++;
                d->depth--;
                tw__free(f->slots);
                f->slots = NULL;
            } else if (f->is_object) {
                goto key;
            } else {
                push_index(c, 0);
                continue;
            }
        } else {
            TRY(dup_skip_scalar(d));
        }
        /* after a value: ',' or the end of the enclosing containers */
        for (;;) {
            if (d->depth == 0) {
                dup_skip_ws(d);
                if (d->pos != d->len) return dup_bad(d, "unexpected text after the end of the JSON value");
                return TW_OK;
            }
            dup_frame *f = &d->st[d->depth - 1];
            dup_skip_ws(d);
            if (d->pos >= d->len) return dup_bad(d, "unexpected end of input");
            ch = d->s[d->pos];
            if (ch == ',') {
                d->pos++;
                pop(c, f->path_mark);
                if (f->is_object) goto key;
                push_index(c, ++f->index);
                break;
            }
            if (ch != (f->is_object ? '}' : ']')) return dup_bad(d, "expected ',' or the end of the container");
            d->pos++;
            pop(c, f->path_mark);
            d->klen = f->key_mark;
            tw__free(f->slots);
            f->slots = NULL;
            d->depth--;
        }
        continue;
    key: {
        dup_frame *f = &d->st[d->depth - 1];
        dup_skip_ws(d);
        size_t kpos = d->pos, at = 0, first = 0;
        int dup = 0;
        TRY(dup_read_key(d, &at));
        uint32_t kl;
        const char *key = dup_key_at(d, at, &kl);
        /* comments may repeat: they are ignored, so the repetition cannot change a setting */
        d->comment_value = f->comment || key[0] == '_';
        if (!d->comment_value) TRY(dup_insert(d, f, at, kpos, &dup, &first));
        push_key(c, dup_key_at(d, at, &kl));
        if (dup) {
            size_t line, col;
            text_line_col(d->s, first, &line, &col);
            return err(c, "key given twice in the same object (first at line %zu, column %zu)", line,
                       col);
        }
        dup_skip_ws(d);
        if (d->pos >= d->len || d->s[d->pos] != ':') return dup_bad(d, "expected ':' after an object key");
        d->pos++;
    }
    }
}

static tw_status check_duplicate_keys(pctx *c, const char *json, size_t len)
{
    dup_scan d;
    memset(&d, 0, sizeof d);
    d.c = c;
    d.s = json;
    d.len = len;
    tw_status st = dup_walk(&d);
    for (int i = 0; i < d.depth; i++) tw__free(d.st[i].slots);
    tw__free(d.keys);
    pop(c, 1); /* back to "$" */
    return st;
}

tw_status tw__cfg_parse(tw_config *cfg, const char *json, size_t len, const char *name,
                        const char *base_dir)
{
    pctx c;
    memset(&c, 0, sizeof c);
    c.cfg = cfg;
    c.arena = &cfg->arena;
    c.name = name;
    c.base_dir = base_dir;
    c.path[0] = '$';
    c.plen = 1;

    cfg->source = tw__cfg_strndup(c.arena, name, strlen(name));
    if (!cfg->source) return nomem(&c);
    if (len > TW_CONFIG_MAX_FILE_BYTES) {
        snprintf(cfg->err, sizeof cfg->err, "%s: file too large: larger than %u bytes", name,
                 (unsigned)TW_CONFIG_MAX_FILE_BYTES);
        cfg->err_code = TW_ERR_RANGE;
        return TW_ERR_RANGE;
    }
    if (len >= 3 && !memcmp(json, "\xEF\xBB\xBF", 3)) json += 3, len -= 3; /* byte-order mark */
    const char *nul = memchr(json, '\0', len);
    if (nul) return syntax_error(&c, json, len, (size_t)(nul - json), "NUL byte in the text");
    size_t ws = 0;
    while (ws < len && strchr(" \t\r\n", json[ws])) ws++;
    if (ws == len) return syntax_error(&c, json, len, len, "empty document (expected an object)");

    struct json_tokener *tok = json_tokener_new_ex(TW__CFG_DEPTH);
    if (!tok) return nomem(&c);
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
    json_object *root = json_tokener_parse_ex(tok, json, (int)len);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t pos = json_tokener_get_parse_end(tok);
    if (!root && jerr == json_tokener_continue) {
        /* a top-level number needs a delimiter to end: give it one */
        root = json_tokener_parse_ex(tok, " ", 1);
        jerr = json_tokener_get_error(tok);
        pos = len;
        if (!root && jerr == json_tokener_continue) jerr = json_tokener_error_parse_eof;
    }
    json_tokener_free(tok);
    if (!root && jerr == json_tokener_success) /* the text is the literal null */
        return err(&c, "must be an object (got null)");
    if (!root) {
        const char *problem = tokener_problem(jerr);
        if (pos < len && json[pos] == '/' && pos + 1 < len && (json[pos + 1] == '/' || json[pos + 1] == '*')) {
            problem = "comments are not allowed (use a \"_comment\" key)";
        } else if (pos < len && (json[pos] == '}' || json[pos] == ']') && pos > 0 &&
                   json[pos - 1 - strspn_back(json, pos)] == ',') {
            problem = "trailing comma is not allowed";
        } else if (pos > 0 && pos < len && jerr == json_tokener_error_parse_unexpected) {
            /* complete JSON text followed by more text? */
            struct json_tokener *t2 = json_tokener_new_ex(TW__CFG_DEPTH);
            if (t2) {
                json_tokener_set_flags(t2, JSON_TOKENER_STRICT);
                json_object *head = json_tokener_parse_ex(t2, json, (int)pos);
                if (head) problem = "unexpected text after the end of the JSON value";
                json_object_put(head);
                json_tokener_free(t2);
            }
        }
        return syntax_error(&c, json, len, pos, problem);
    }

    tw_status st = check_duplicate_keys(&c, json, len);
    if (st == TW_OK) st = parse_root(&c, root);
    json_object_put(root);
    return st;
}
