/* Secret handling: wiping buffers, redacting URIs for logs and error messages.
 * SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <string.h>

#include "internal.h"

void tw__zeroize(void *p, size_t n)
{
    if (!p) return;
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (n--) *v++ = 0;
}

void tw__free_secret_str(char *s)
{
    if (!s) return;
    tw__zeroize(s, strlen(s));
    tw__free(s);
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = tolower(c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Is the raw (maybe percent-escaped) parameter name k[0..len) one that carries a secret? */
static int secret_key(const char *k, size_t len)
{
    static const char *const names[] = {"password", "pass", "passwd", "pwd", "secret", "key_password", "token", "psk"};
    char d[32];
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)k[i];
        if (c == '%' && i + 2 < len && hexval(k[i + 1]) >= 0 && hexval(k[i + 2]) >= 0) {
            c = hexval(k[i + 1]) * 16 + hexval(k[i + 2]);
            i += 2;
        }
        if (o + 1 >= sizeof d) return 0; /* longer than any secret name */
        d[o++] = (char)tolower(c);
    }
    d[o] = '\0';
    for (size_t i = 0; i < TW__ARRAY_LEN(names); i++)
        if (!strcmp(d, names[i])) return 1;
    return 0;
}

typedef struct {
    char *out;
    size_t n, o;
} wbuf;

static void put(wbuf *w, const char *s, size_t len)
{
    for (size_t i = 0; i < len && w->o + 1 < w->n; i++) w->out[w->o++] = s[i];
    w->out[w->o] = '\0';
}

const char *tw__uri_redact(const char *uri, char *out, size_t n)
{
    if (!out || !n) return "";
    wbuf w = {out, n, 0};
    out[0] = '\0';
    if (!uri) {
        put(&w, "(null)", 6);
        return out;
    }
    const char *p = uri;
    const char *sep = strstr(uri, "://");
    const char *qm = strchr(uri, '?');
    if (sep && (!qm || sep < qm)) {
        const char *auth = sep + 3;
        const char *auth_end = auth + strcspn(auth, "/?#");
        put(&w, uri, (size_t)(auth - uri));
        /* userinfo: the last '@' of the authority ends it */
        const char *at = NULL;
        for (const char *q = auth; q < auth_end; q++)
            if (*q == '@') at = q;
        if (at) {
            const char *colon = memchr(auth, ':', (size_t)(at - auth));
            if (colon) {
                put(&w, auth, (size_t)(colon + 1 - auth));
                put(&w, "***", 3);
                put(&w, at, (size_t)(auth_end - at));
            } else {
                put(&w, auth, (size_t)(auth_end - auth));
            }
        } else {
            put(&w, auth, (size_t)(auth_end - auth));
        }
        p = auth_end;
    }
    const char *q = strchr(p, '?');
    if (!q) {
        put(&w, p, strlen(p));
        return out;
    }
    put(&w, p, (size_t)(q + 1 - p));
    p = q + 1;
    const char *q_end = p + strcspn(p, "#");
    while (p < q_end) {
        const char *amp = memchr(p, '&', (size_t)(q_end - p));
        const char *pe = amp ? amp : q_end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        if (eq && secret_key(p, (size_t)(eq - p))) {
            put(&w, p, (size_t)(eq + 1 - p));
            put(&w, "***", 3);
        } else {
            put(&w, p, (size_t)(pe - p));
        }
        if (amp) put(&w, "&", 1);
        p = amp ? amp + 1 : q_end;
    }
    put(&w, q_end, strlen(q_end));
    return out;
}
