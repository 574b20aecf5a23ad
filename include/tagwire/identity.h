/*
 * tagwire/identity.h - this machine's identity: who the controller or gateway that links
 * tagwire is, validated.
 *
 * Naming: elsewhere in tagwire a "device" is a field device (a PLC or machine reached through an
 * adapter, tagwire/adapter.h), which is also a Sparkplug device. The identity here is the machine
 * that runs tagwire itself (in Sparkplug terms the edge node). It names that machine to the
 * plant's PKI. The enrollment module (tagwire/enroll.h)
 * turns it into a certificate request:
 *   subject   CN=<device_id>[, serialNumber=<serial>]
 *   SAN URI   urn:tagwire:<vendor>:<model>:<serial>      (only when all three are set)
 * The URN form is part of the public contract: a broker ACL or a CA policy may match on it.
 *
 * Field rules (checked by tw_identity_check()):
 *   device_id              required, 1..64 characters from A-Z a-z 0-9 . _ - , first one alphanumeric
 *   vendor, model, serial  optional, but all three or none; same alphabet and length as device_id
 *                          (':' is excluded because it separates the URN's parts)
 *   hw_revision,           optional, 1..32 characters from A-Z a-z 0-9 . _ - +
 *   fw_revision            (informational; not put into the certificate request)
 * Empty strings count as absent. Nothing is case-folded.
 *
 * Threading: every function here is TW_THREADSAFE (pure functions of their arguments).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_IDENTITY_H
#define TAGWIRE_IDENTITY_H

#include "core.h"

TW_BEGIN_DECLS

#define TW_IDENTITY_VERSION 1
#define TW_IDENTITY_FIELD_MAX 64    /* longest device_id, vendor, model, serial (characters) */
#define TW_IDENTITY_REVISION_MAX 32 /* longest hw_revision, fw_revision */
/* Buffer size that always holds tw_identity_urn()'s result with its terminating NUL. */
#define TW_IDENTITY_URN_MAX (12 + 3 * TW_IDENTITY_FIELD_MAX + 2 + 1)

typedef struct tw_identity {
    uint32_t version;        /* TW_IDENTITY_VERSION */
    const char *device_id;   /* required: the certificate's common name */
    const char *vendor;      /* manufacturer, e.g. "acme" */
    const char *model;       /* product, e.g. "press-7" */
    const char *serial;      /* serial number, e.g. "SN0042" */
    const char *hw_revision; /* e.g. "B2" */
    const char *fw_revision; /* e.g. "4.1.0" */
} tw_identity;

#define TW_IDENTITY_INIT { TW_IDENTITY_VERSION, NULL, NULL, NULL, NULL, NULL, NULL }

/*
 * Checks every field against the rules above. On failure writes a sentence naming the field and
 * the offending character or length into `err` (may be NULL; truncated to err_size), records it
 * for tw_last_error() too ("enroll: identity: ...") and returns TW_ERR_IDENTITY.
 * Errors: TW_ERR_INVALID_ARG (id NULL), TW_ERR_VERSION, TW_ERR_IDENTITY.
 */
TW_API TW_THREADSAFE tw_status tw_identity_check(const tw_identity *id, char *err, size_t err_size);

/*
 * Writes "urn:tagwire:<vendor>:<model>:<serial>" into buf. The identity is checked first.
 * Errors: TW_ERR_IDENTITY (invalid identity), TW_ERR_NOT_FOUND (vendor/model/serial not set),
 * TW_ERR_RANGE (buf_size too small; TW_IDENTITY_URN_MAX always suffices), TW_ERR_INVALID_ARG.
 */
TW_API TW_THREADSAFE tw_status tw_identity_urn(char *buf, size_t buf_size,
                                             const tw_identity *id);

TW_END_DECLS

#endif /* TAGWIRE_IDENTITY_H */
