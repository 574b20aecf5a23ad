/*
 * Device identity validation and its URN.
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stdio.h>
#include <string.h>

#include "enroll_internal.h"

static bool is_alnum(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool present(const char *s) { return s && *s; }

/* Checks one field; returns true when valid, else writes the reason. */
static bool check_field(const char *name, const char *v, size_t max, const char *extra, char *why,
                        size_t why_size)
{
    size_t n = strlen(v);
    if (n > max) {
        if (why) snprintf(why, why_size, "%s: %zu characters, at most %zu allowed", name, n, max);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = v[i];
        if (is_alnum(c)) continue;
        if (i > 0 && strchr(extra, c) && c != '\0') continue;
        if (why) {
            if ((unsigned char)c >= 0x20 && (unsigned char)c < 0x7f)
                snprintf(why, why_size,
                         "%s: character '%c' at offset %zu is not allowed (allowed: A-Z a-z 0-9 %s%s)",
                         name, c, i, extra, i == 0 ? "; the first must be alphanumeric" : "");
            else
                snprintf(why, why_size,
                         "%s: byte 0x%02x at offset %zu is not allowed (allowed: A-Z a-z 0-9 %s)",
                         name, (unsigned)(unsigned char)c, i, extra);
        }
        return false;
    }
    return true;
}

static tw_status check(const tw_identity *id, char *why, size_t why_size)
{
    if (id->version < 1 || id->version > TW_IDENTITY_VERSION) {
        if (why) snprintf(why, why_size, "identity version %u unknown", (unsigned)id->version);
        return TW_ERR_VERSION;
    }
    static const char ids[] = "._-";
    static const char revs[] = "._-+";
    if (!present(id->device_id)) {
        if (why) snprintf(why, why_size, "device_id: required");
        return TW_ERR_IDENTITY;
    }
    if (!check_field("device_id", id->device_id, TW_IDENTITY_FIELD_MAX, ids, why, why_size))
        return TW_ERR_IDENTITY;
    int n = present(id->vendor) + present(id->model) + present(id->serial);
    if (n != 0 && n != 3) {
        if (why)
            snprintf(why, why_size, "vendor, model and serial: give all three or none (missing: %s%s%s)",
                     present(id->vendor) ? "" : "vendor ", present(id->model) ? "" : "model ",
                     present(id->serial) ? "" : "serial");
        return TW_ERR_IDENTITY;
    }
    if (n == 3) {
        if (!check_field("vendor", id->vendor, TW_IDENTITY_FIELD_MAX, ids, why, why_size) ||
            !check_field("model", id->model, TW_IDENTITY_FIELD_MAX, ids, why, why_size) ||
            !check_field("serial", id->serial, TW_IDENTITY_FIELD_MAX, ids, why, why_size))
            return TW_ERR_IDENTITY;
    }
    if (present(id->hw_revision) &&
        !check_field("hw_revision", id->hw_revision, TW_IDENTITY_REVISION_MAX, revs, why, why_size))
        return TW_ERR_IDENTITY;
    if (present(id->fw_revision) &&
        !check_field("fw_revision", id->fw_revision, TW_IDENTITY_REVISION_MAX, revs, why, why_size))
        return TW_ERR_IDENTITY;
    return TW_OK;
}

tw_status tw_identity_check(const tw_identity *id, char *err, size_t err_size)
{
    if (err && err_size) err[0] = '\0';
    if (!id) return TW_ERR_INVALID_ARG;
    char msg[200] = "";
    tw_status st = check(id, msg, sizeof msg);
    if (st == TW_OK) return TW_OK;
    if (err && err_size) tw__strlcpy(err, msg, err_size);
    return tw__err(NULL, "enroll", st, "identity: %s", msg);
}

tw_status tw_identity_urn(char *buf, size_t buf_size, const tw_identity *id)
{
    if (!buf || !buf_size || !id) return TW_ERR_INVALID_ARG;
    buf[0] = '\0';
    tw_status st = tw_identity_check(id, NULL, 0);
    if (st != TW_OK) return st;
    if (!present(id->vendor)) return TW_ERR_NOT_FOUND;
    int n = snprintf(buf, buf_size, "urn:tagwire:%s:%s:%s", id->vendor, id->model, id->serial);
    if (n < 0 || (size_t)n >= buf_size) {
        buf[0] = '\0';
        return TW_ERR_RANGE;
    }
    return TW_OK;
}
