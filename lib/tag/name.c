/* Tag name validation (tagwire/tag.h: the naming rules are documented there).
 * SPDX-License-Identifier: Apache-2.0 */
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "tagwire/tag.h"

static tw_status fail(char *err, size_t errlen, const char *what, size_t off)
{
    if (err && errlen) snprintf(err, errlen, "%s at byte %zu", what, off);
    return TW_ERR_PARSE;
}

/* Decodes one UTF-8 sequence at p[0..avail-1]. Returns its length (1..4) and the code point, or
 * 0 when malformed (overlong, surrogate, > U+10FFFF, truncated). */
static size_t utf8_next(const unsigned char *p, size_t avail, uint32_t *cp_out)
{
    unsigned c = p[0];
    size_t n;
    uint32_t cp, min;
    if (c < 0x80) { *cp_out = c; return 1; }
    if (c >= 0xC2 && c <= 0xDF) { n = 1; cp = c & 0x1F; min = 0x80; }
    else if (c >= 0xE0 && c <= 0xEF) { n = 2; cp = c & 0x0F; min = 0x800; }
    else if (c >= 0xF0 && c <= 0xF4) { n = 3; cp = c & 0x07; min = 0x10000; }
    else return 0;
    if (avail - 1 < n) return 0;
    for (size_t k = 1; k <= n; k++) {
        unsigned cc = p[k];
        if ((cc & 0xC0) != 0x80) return 0;
        cp = (cp << 6) | (cc & 0x3F);
    }
    if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    *cp_out = cp;
    return n + 1;
}

static tw_status check_segment(const unsigned char *seg, size_t len, size_t off, char *err,
                               size_t errlen)
{
    if (len == 0) return fail(err, errlen, "empty path segment (leading, trailing or double '/')", off);
    if (len > TW_TAG_SEGMENT_MAX) return fail(err, errlen, "path segment longer than 255 bytes", off);
    if (seg[0] == ' ') return fail(err, errlen, "path segment starts with a space", off);
    if (seg[len - 1] == ' ') return fail(err, errlen, "path segment ends with a space", off + len - 1);
    if ((len == 1 && seg[0] == '.') || (len == 2 && seg[0] == '.' && seg[1] == '.'))
        return fail(err, errlen, "path segment \".\" or \"..\"", off);
    return TW_OK;
}

static tw_status validate(const char *name, char *err, size_t errlen)
{
    size_t len = strnlen(name, TW_TAG_NAME_MAX);
    if (len == 0) return fail(err, errlen, "empty name", 0);
    if (len >= TW_TAG_NAME_MAX) return fail(err, errlen, "name longer than 1023 bytes", TW_TAG_NAME_MAX - 1);
    const unsigned char *p = (const unsigned char *)name;
    size_t seg_start = 0;
    size_t i = 0;
    while (i < len) {
        if (p[i] == '/') {
            tw_status st = check_segment(p + seg_start, i - seg_start, seg_start, err, errlen);
            if (st) return st;
            seg_start = ++i;
            continue;
        }
        uint32_t cp;
        size_t n = utf8_next(p + i, len - i, &cp);
        if (!n) return fail(err, errlen, "invalid UTF-8", i);
        if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F))
            return fail(err, errlen, "control character", i);
        if (cp == 0xFFFE || cp == 0xFFFF) return fail(err, errlen, "non-character U+FFFE/U+FFFF", i);
        i += n;
    }
    return check_segment(p + seg_start, len - seg_start, seg_start, err, errlen);
}

tw_status tw_tag_name_validate(const char *name, char *err, size_t err_size)
{
    if (err && err_size) err[0] = '\0';
    if (!name) {
        if (err && err_size) snprintf(err, err_size, "name is NULL");
        return TW_ERR_INVALID_ARG;
    }
    char msg[96];
    tw_status st = validate(name, msg, sizeof msg);
    if (st == TW_OK) return TW_OK;
    if (err && err_size) tw__strlcpy(err, msg, err_size);
    return tw__err(NULL, "tag", st, "invalid tag name: %s", msg);
}
