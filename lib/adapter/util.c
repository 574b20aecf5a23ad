/* Strict number and duration parsing for adapters. SPDX-License-Identifier: Apache-2.0 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "adapter_internal.h"
#include "internal.h"

int tw__parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s) return -1;
    uint64_t v = 0;
    int base = 10;
    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        s += 2;
        if (!*s) return -1;
    }
    for (; *s; s++) {
        int d;
        if (isdigit((unsigned char)*s)) d = *s - '0';
        else if (base == 16 && isxdigit((unsigned char)*s)) d = tolower((unsigned char)*s) - 'a' + 10;
        else return -1;
        if (v > (UINT64_MAX - (uint64_t)d) / (uint64_t)base) return -1;
        v = v * (uint64_t)base + (uint64_t)d;
    }
    if (v > max) return -1;
    *out = v;
    return 0;
}

int tw__parse_double(const char *s, double *out)
{
    if (!s || !*s || isspace((unsigned char)*s)) return -1;
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end || errno == ERANGE || !isfinite(v)) return -1;
    *out = v;
    return 0;
}

int tw__parse_duration_ns(const char *s, int64_t *out)
{
    if (!s || !*s) return -1;
    size_t n = strlen(s);
    double mult = 1e9;
    size_t unit = 0;
    if (n > 2 && !strcmp(s + n - 2, "ms")) { mult = 1e6; unit = 2; }
    else if (n > 2 && !strcmp(s + n - 2, "us")) { mult = 1e3; unit = 2; }
    else if (n > 1 && s[n - 1] == 's') { mult = 1e9; unit = 1; }
    else if (n > 1 && s[n - 1] == 'm') { mult = 60e9; unit = 1; }
    else if (n > 1 && s[n - 1] == 'h') { mult = 3600e9; unit = 1; }
    char buf[64];
    if (n - unit >= sizeof buf) return -1;
    memcpy(buf, s, n - unit);
    buf[n - unit] = '\0';
    double v;
    if (tw__parse_double(buf, &v) || v < 0) return -1;
    double ns = v * mult;
    if (ns > 9.2e18) return -1;
    *out = (int64_t)ns;
    return 0;
}
