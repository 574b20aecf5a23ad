/*
 * The one URI parser of the library: scheme://host[:port][/path][?k=v&...] (adapter device URIs,
 * MQTT broker URIs). Strict and bounds-checked; fuzzed through the adapter and uri_redact fuzzers.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

bool tw__uri_scheme_ok(const char *s)
{
    if (!s || !*s || strlen(s) >= TW__URI_SCHEME_MAX) return false;
    if (!islower((unsigned char)s[0])) return false;
    for (; *s; s++)
        if (!(islower((unsigned char)*s) || isdigit((unsigned char)*s) || *s == '+' || *s == '-' || *s == '.'))
            return false;
    return true;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Percent-decodes s[0..n) into dst (at most n+1 bytes); returns 0 on a bad escape or NUL. */
static int pct_decode(char *dst, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '%') {
            if (i + 2 >= n) return 0;
            int h = hexval((unsigned char)s[i + 1]), l = hexval((unsigned char)s[i + 2]);
            if (h < 0 || l < 0 || (h == 0 && l == 0)) return 0;
            dst[o++] = (char)(h * 16 + l);
            i += 2;
        } else {
            dst[o++] = s[i];
        }
    }
    dst[o] = '\0';
    return 1;
}

void tw__uri_free(tw__uri *u)
{
    if (!u) return;
    tw__free(u->storage);
    memset(u, 0, sizeof *u);
}

/* Records why and where parsing failed, frees what was built, returns TW_ERR_PARSE. */
static tw_status fail(tw__uri *u, tw__uri_err why, const char *at)
{
    const char *uri = u->uri;
    tw__free(u->storage);
    memset(u, 0, sizeof *u);
    u->uri = uri;
    u->why = why;
    u->err_at = at ? at : uri;
    return TW_ERR_PARSE;
}

tw_status tw__uri_parse(tw__uri *u, const char *uri, char *err, size_t errlen)
{
    char dummy[8];
    if (!err || !errlen) {
        err = dummy;
        errlen = sizeof dummy;
    }
    memset(u, 0, sizeof *u);
    if (!uri) return TW_ERR_INVALID_ARG;
    u->uri = uri;
    char rbuf[512]; /* the URI for messages, secrets redacted */
#define RURI tw__uri_redact(uri, rbuf, sizeof rbuf)
    const char *sep = strstr(uri, "://");
    if (!sep || sep == uri) {
        snprintf(err, errlen, "URI '%s' has no scheme (expected scheme://...)", RURI);
        return fail(u, TW__URI_E_SCHEME, uri);
    }
    size_t slen = (size_t)(sep - uri);
    if (slen >= TW__URI_SCHEME_MAX) {
        snprintf(err, errlen, "URI scheme too long");
        return fail(u, TW__URI_E_SCHEME, uri);
    }
    size_t ulen = strlen(uri);
    if (ulen > TW__URI_MAX_LEN) {
        snprintf(err, errlen, "URI longer than %d characters", TW__URI_MAX_LEN);
        return fail(u, TW__URI_E_LENGTH, uri);
    }
    /* One block holds every decoded string (each at most as long as the URI). */
    size_t cap = 4 * (ulen + 1);
    u->storage = tw__malloc(cap);
    if (!u->storage) return TW_ERR_NOMEM;
    char *w = u->storage;
    for (size_t i = 0; i < slen; i++) w[i] = (char)tolower((unsigned char)uri[i]);
    w[slen] = '\0';
    u->scheme = w;
    if (!tw__uri_scheme_ok(w)) {
        snprintf(err, errlen, "URI scheme '%s' is not valid", w);
        return fail(u, TW__URI_E_SCHEME, uri);
    }
    w += slen + 1;
    const char *p = sep + 3;
    const char *auth_end = p + strcspn(p, "/?#");
    /* host[:port], host may be [v6] */
    const char *h = p, *he, *colon = NULL;
    if (*h == '[') {
        he = memchr(h, ']', (size_t)(auth_end - h));
        if (!he) {
            snprintf(err, errlen, "URI '%s': unterminated '[' in host", RURI);
            return fail(u, TW__URI_E_BRACKET, h);
        }
        h++;
        u->ipv6 = true;
        if (he + 1 < auth_end) {
            if (he[1] != ':') {
                snprintf(err, errlen, "URI '%s': garbage after ']'", RURI);
                return fail(u, TW__URI_E_AFTER_HOST, he + 1);
            }
            colon = he + 1;
        }
    } else {
        colon = memchr(h, ':', (size_t)(auth_end - h));
        he = colon ? colon : auth_end;
    }
    memcpy(w, h, (size_t)(he - h));
    w[he - h] = '\0';
    u->host = w;
    w += (he - h) + 1;
    if (colon) {
        const char *ps = colon + 1;
        unsigned long port = 0;
        if (ps == auth_end) {
            snprintf(err, errlen, "URI '%s': empty port", RURI);
            return fail(u, TW__URI_E_PORT, colon);
        }
        const char *q = ps;
        for (; q < auth_end && isdigit((unsigned char)*q); q++)
            if (port <= 65535) port = port * 10 + (unsigned long)(*q - '0');
        if (q == ps || port == 0 || port > 65535 || q < auth_end) {
            snprintf(err, errlen, "URI '%s': port is not a number in 1..65535", RURI);
            /* digits of a valid port, then something else: that is what is wrong */
            bool after = q > ps && port >= 1 && port <= 65535;
            return fail(u, after ? TW__URI_E_AFTER_PORT : TW__URI_E_PORT, after ? q : colon);
        }
        u->port = (uint16_t)port;
    }
    p = auth_end;
    u->rest = auth_end;
    const char *path_end = p + strcspn(p, "?#");
    if (!pct_decode(w, p, (size_t)(path_end - p))) {
        snprintf(err, errlen, "URI '%s': bad percent-escape in path", RURI);
        return fail(u, TW__URI_E_PATH, auth_end);
    }
    u->path = w;
    w += strlen(w) + 1;
    p = path_end;
    if (*p == '?') {
        p++;
        const char *q_end = p + strcspn(p, "#");
        while (p < q_end) {
            const char *amp = memchr(p, '&', (size_t)(q_end - p));
            const char *pe = amp ? amp : q_end;
            if (pe > p) {
                if (u->n >= TW__URI_MAX_PARAMS) {
                    snprintf(err, errlen, "URI '%s': more than %d parameters", RURI, TW__URI_MAX_PARAMS);
                    return fail(u, TW__URI_E_QUERY, auth_end);
                }
                const char *eq = memchr(p, '=', (size_t)(pe - p));
                const char *ke = eq ? eq : pe;
                if (!pct_decode(w, p, (size_t)(ke - p)) || !*w) {
                    snprintf(err, errlen, "URI '%s': bad parameter name", RURI);
                    return fail(u, TW__URI_E_QUERY, auth_end);
                }
                u->keys[u->n] = w;
                w += strlen(w) + 1;
                const char *vs = eq ? eq + 1 : pe;
                if (!pct_decode(w, vs, (size_t)(pe - vs))) {
                    snprintf(err, errlen, "URI '%s': bad percent-escape in parameter '%s'", RURI, u->keys[u->n]);
                    return fail(u, TW__URI_E_QUERY, auth_end);
                }
                u->values[u->n] = w;
                w += strlen(w) + 1;
                u->n++;
            }
            p = amp ? amp + 1 : q_end;
        }
    }
    return TW_OK;
#undef RURI
}
