/*
 * Private helpers of the core module, shared by every other module (never installed).
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TW_CORE_INTERNAL_H
#define TW_CORE_INTERNAL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tagwire/core.h"

#if defined(__GNUC__) || defined(__clang__)
#define TW__PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#define TW__LIKELY(x) __builtin_expect(!!(x), 1)
#define TW__UNLIKELY(x) __builtin_expect(!!(x), 0)
#define TW__UNUSED __attribute__((unused))
#else
#define TW__PRINTF(fmt_idx, arg_idx)
#define TW__LIKELY(x) (x)
#define TW__UNLIKELY(x) (x)
#define TW__UNUSED
#endif

#define TW__ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define TW__MIN(a, b) ((a) < (b) ? (a) : (b))
#define TW__MAX(a, b) ((a) > (b) ? (a) : (b))

/* ---- allocation (through the hooks given to tw_init) ---- */
void *tw__malloc(size_t n);
void *tw__calloc(size_t count, size_t size); /* overflow-checked, zeroed */
void *tw__realloc(void *p, size_t n);
void tw__free(void *p);
char *tw__strdup(const char *s);           /* NULL in, NULL out */
char *tw__strndup(const char *s, size_t n);

/* TW_OK when tw_init() has been called, else TW_ERR_NOT_INITIALIZED. */
tw_status tw__check_init(void);

/* ---- logging ---- */
bool tw__log_enabled(tw_log_level level);
void tw__log(tw_log_level level, const char *module, const char *fmt, ...) TW__PRINTF(3, 4);
void tw__vlog(tw_log_level level, const char *module, const char *fmt, va_list ap)
    TW__PRINTF(3, 0);

/* ---- per-handle error detail ---- */
#define TW__ERRMSG_MAX 256
typedef struct tw__error {
    tw_status code;
    char msg[TW__ERRMSG_MAX];
} tw__error;

/*
 * Records `code` and a formatted message on `err` (may be NULL), logs it at debug level under
 * `module`, and returns `code` so callers can write `return tw__err(&h->err, ...)`.
 */
tw_status tw__err(tw__error *err, const char *module, tw_status code, const char *fmt, ...)
    TW__PRINTF(4, 5);
void tw__err_clear(tw__error *err);
/* The message (without its "<module>: " prefix) that a nested call returning `st` recorded on
 * this thread, or tw_strerror(st) when the thread's last error has another status (the callee
 * returned without a message). For wrapping a callee's failure:
 * tw__err(&h->err, MOD, st, "store: %s", tw__err_detail(st)). Valid until the next tw__err() on
 * this thread (tw__err formats its arguments before it overwrites the thread's message). */
const char *tw__err_detail(tw_status st);
/* The message, or tw_strerror(code) when none was recorded. Never NULL. */
const char *tw__err_msg(const tw__error *err);

/* ---- clocks ---- */
int64_t tw__mono_ns(void); /* CLOCK_MONOTONIC */
int64_t tw__mono_ms(void);

/* ---- strings ---- */
/* Copies with truncation and always terminates (dst_size > 0). Returns strlen(src). */
size_t tw__strlcpy(char *dst, const char *src, size_t dst_size);

/* ---- retry back-off ----
 * Exponential back-off with "full jitter": a uniform draw in [0, min(cap, base * 2^attempt)].
 * Pure: `rnd` supplies 32 random bits (NULL = an internal PRNG). attempt 0 is the first retry. */
typedef uint32_t (*tw__rand_fn)(void *ctx);
uint32_t tw__backoff_ms(uint32_t attempt, uint32_t base_ms, uint32_t cap_ms, tw__rand_fn rnd,
                        void *rnd_ctx);

/* Maps an errno value to the closest tw_status. */
tw_status tw__status_from_errno(int err);

/* ---- versioned structs (the rule is in tagwire/common.h) ----
 * `sizes` lists, for each version v = 1..nsizes, how many bytes version v of the struct has:
 * sizeof() for the current version, offsetof() of the first field added later for older ones.
 * Every such struct starts with `uint32_t version`.
 *
 * tw__opts_copy: copies a caller's options struct of any version 1..nsizes into `dst` (a
 * current-version struct of dst_size bytes): the fields that version had are copied, the later
 * ones are zero (= their default). TW_ERR_VERSION for version 0 or newer than the library.
 *
 * tw__stats_put: writes the current-version struct `src` into the caller's `out`, only the bytes
 * the caller's version (out->version, kept) has. TW_ERR_VERSION as above. */
tw_status tw__opts_copy(void *dst, size_t dst_size, const void *src, const size_t *sizes,
                        size_t nsizes);
tw_status tw__stats_put(void *out, const void *src, const size_t *sizes, size_t nsizes);
#define TW__VSIZES(...)                                                                            \
    ((const size_t[]){__VA_ARGS__}), (sizeof((const size_t[]){__VA_ARGS__}) / sizeof(size_t))
/* TW__OPTS_COPY(o, opts, sizeof(tw_x_options)) ; later: (o, opts, offsetof(tw_x_options, f), sizeof(tw_x_options)) */
#define TW__OPTS_COPY(dst, src, ...) tw__opts_copy(&(dst), sizeof(dst), (src), TW__VSIZES(__VA_ARGS__))
#define TW__STATS_PUT(out, src, ...) tw__stats_put((out), (src), TW__VSIZES(__VA_ARGS__))

/* ---- secrets (secret.c) ---- */
/* Overwrites n bytes with zeros through a volatile pointer, so the compiler cannot drop it as a
 * dead store before free(). NULL or n == 0: no-op. */
void tw__zeroize(void *p, size_t n);
/* tw__zeroize(s, strlen(s)) then tw__free(s). NULL: no-op. */
void tw__free_secret_str(char *s);
/* Copies `uri` to out (size n > 0, always terminated, truncated when too long) with secrets
 * replaced by "***": the password of a userinfo "user:pw@" and the values of the query parameters
 * password, pass, passwd, pwd, secret, key_password, token, psk (names compared case-insensitively,
 * percent-escapes decoded). Use it wherever a URI goes into a log line or an error message.
 * Returns out ("(null)" copied for a NULL uri). */
const char *tw__uri_redact(const char *uri, char *out, size_t n);

/* ---- base64 (base64.c): RFC 4648 standard alphabet ---- */
/* Decodes base64, skipping ASCII whitespace (CR, LF, space, tab) anywhere; '=' padding only at the
 * end, optional; the unused bits of the last character must be zero. Writes at most out_cap bytes.
 * Returns TW_OK and *out_len, or TW_ERR_PARSE (also when out_cap is too small). */
tw_status tw__base64_decode(unsigned char *out, size_t out_cap, size_t *out_len, const char *in,
                            size_t in_len);
/* The same without whitespace and with the padding required (a multiple of 4 characters). */
tw_status tw__base64_decode_strict(unsigned char *out, size_t out_cap, size_t *out_len,
                                   const char *in, size_t in_len);
/* Upper bound of the decoded size of in_len base64 characters. */
size_t tw__base64_decoded_max(size_t in_len);
/* Encodes without line breaks; out_cap >= 4 * ((len + 2) / 3) + 1 (NUL-terminated), else
 * TW_ERR_RANGE. */
tw_status tw__base64_encode(char *out, size_t out_cap, const unsigned char *in, size_t len);
/* A public key pin "sha256/" + the 44-character padded base64 of 32 bytes (strict) -> out (may be
 * NULL: validation only). TW_OK or TW_ERR_PARSE. */
tw_status tw__pin_parse(const char *pin, uint8_t out[32]);

/* ---- URIs (uri.c): scheme://host[:port][/path][?k=v&k2=v2][#fragment] ----
 * The scheme is lower-cased and must be a letter then letters, digits, '+', '-', '.' (shorter than
 * TW__URI_SCHEME_MAX); the authority ends at the first '/', '?' or '#'; an IPv6 literal is
 * bracketed ("[::1]:502": host "::1", ipv6 true); a port is 1..65535 in decimal digits; the path
 * and the query's names and values are percent-decoded (a bad escape or %00 is an error); at most
 * TW__URI_MAX_PARAMS parameters; the fragment is ignored; no user information is recognised (an
 * '@' stays in the host). Absent parts are "" (port 0). */
#define TW__URI_SCHEME_MAX 32
#define TW__URI_MAX_PARAMS 32
#define TW__URI_MAX_LEN 4096
typedef enum tw__uri_err {
    TW__URI_E_NONE = 0,
    TW__URI_E_SCHEME,     /* no "scheme://", or an invalid scheme */
    TW__URI_E_LENGTH,     /* longer than TW__URI_MAX_LEN */
    TW__URI_E_BRACKET,    /* '[' without ']' */
    TW__URI_E_AFTER_HOST, /* something other than ":port" after "]" */
    TW__URI_E_PORT,       /* empty, not a number, 0 or above 65535 */
    TW__URI_E_AFTER_PORT, /* a valid port followed by something else ("h:12x": err_at "x") */
    TW__URI_E_PATH,       /* bad percent-escape in the path */
    TW__URI_E_QUERY       /* bad parameter name or escape, too many parameters */
} tw__uri_err;
typedef struct tw__uri {
    const char *uri;    /* the whole URI as given (not copied) */
    const char *scheme; /* lower-case */
    const char *host;   /* without brackets */
    bool ipv6;          /* the host was bracketed */
    uint16_t port;      /* 0 when absent */
    const char *path;   /* decoded */
    const char *rest;   /* in `uri`: everything after the authority (path, query, fragment) */
    size_t n;           /* parameters */
    const char *keys[TW__URI_MAX_PARAMS];
    const char *values[TW__URI_MAX_PARAMS];
    char *storage;
    tw__uri_err why;    /* after TW_ERR_PARSE: what was wrong ... */
    const char *err_at; /* ... and where in `uri` (the '[', the ':' of the port, the text after
                         * ']' or the authority) */
} tw__uri;
/* Parses `uri` into *u (strings valid until tw__uri_free and while `uri` lives). TW_OK,
 * TW_ERR_PARSE (message in err, may be NULL, with secrets redacted; u->why and u->err_at set),
 * TW_ERR_NOMEM, TW_ERR_INVALID_ARG (NULL uri). Free with tw__uri_free (also after an error). */
tw_status tw__uri_parse(tw__uri *u, const char *uri, char *err, size_t errlen);
void tw__uri_free(tw__uri *u);
/* True for a valid (lower-case) scheme name. */
bool tw__uri_scheme_ok(const char *scheme);

/* ---- files (file.c) ----
 * Replaces DIR/NAME crash-safely: writes DIR/.tmp-NAME (mode 0600, O_NOFOLLOW, EINTR and short
 * writes handled), fsyncs it, renames it over DIR/NAME and fsyncs DIR. After a crash at any point
 * DIR/NAME holds either the old or the new content. Errors (recorded on `err` under `module`):
 * TW_ERR_RANGE (path too long), TW_ERR_NO_SPACE (ENOSPC, EDQUOT, EFBIG: a file size limit) or the
 * errno-mapped status. `stage` (may be NULL) is called with "file-synced" and "file-renamed"
 * (crash-point hooks for tests). */
tw_status tw__file_write_atomic(const char *dir, const char *name, const void *data, size_t len,
                                tw__error *err, const char *module, void (*stage)(const char *));
/* The same relative to an open directory: with dir_fd >= 0, `name` and its temporary file are
 * opened in dir_fd and dir_fd itself is fsynced (`dir` only names it in messages); dir_fd < 0 is
 * tw__file_write_atomic(). `flags`: TW__FILE_NO_SYNC skips both fsyncs (the rename still makes the
 * replacement atomic; durability across a power loss is left to the OS). */
#define TW__FILE_NO_SYNC 1u
tw_status tw__file_write_atomic_at(int dir_fd, const char *dir, const char *name, const void *data,
                                   size_t len, unsigned flags, tw__error *err, const char *module,
                                   void (*stage)(const char *));

#endif /* TW_CORE_INTERNAL_H */
