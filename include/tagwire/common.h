/*
 * tagwire/common.h - export macros and basic types shared by every tagwire header.
 *
 * Versioned structs (the ABI rule for every options, params, stats and info struct):
 *  1. Every such struct starts with `uint32_t version` (TW_<X>_VERSION, from its header). Fields
 *     are only ever appended at the end, and every addition bumps TW_<X>_VERSION; no field is
 *     removed, reordered, retyped or given a new meaning within a major version.
 *  2. The library accepts every version from 1 to its own TW_<X>_VERSION (TW_ERR_VERSION for 0 or
 *     for a newer one). From an options struct it reads only the fields the caller's version
 *     has; fields added later take their defaults. Into a stats/info struct (the caller sets
 *     `version`) it writes only the fields of the caller's version, never past its end.
 *  3. Zero means "the default": a struct with only `version` set and every other field 0/NULL
 *     behaves exactly like its TW_<X>_INIT. Every field says what 0 means; non-default choices
 *     that would naturally be 0 ("off", "none", QoS 0) have named constants instead
 *     (e.g. TW_MQTT_KEEPALIVE_OFF, TW_EDGE_QOS0, TW_TCP_NAGLE).
 *  4. Tables of callbacks that an extension provides (tw_adapter_ops, tw_transport_ops in
 *     tagwire/sys/) follow the same rule the other way round: the library accepts every version
 *     >= 1 and uses only the entries the table's version has (an absent entry = not provided).
 *  5. Applications start from TW_<X>_INIT (or `{ .version = TW_<X>_VERSION }` with designated
 *     fields) and set only the fields they need; an application compiled against an older header keeps
 *     working, unchanged, with a newer library of the same major version.
 *
 * Error detail (the ABI rule for every fallible call):
 *  1. Every fallible call returns a tw_status (tagwire/core.h). A call on a handle records the
 *     detail on that handle: tw_<obj>_last_error() (the message, "" when none) and
 *     tw_<obj>_last_status() (its status, TW_OK when none).
 *  2. Every recorded message is also kept for the calling thread as "<module>: <message>":
 *     tw_last_error() / tw_last_error_status(). Constructors (tw_<obj>_new*, tw_device_open) and
 *     one-shot calls without a handle (tw_opcua_browse, ...) report their detail only there; the
 *     message names the problem: the option, the file and the system's error text.
 *  3. No constructor takes an error buffer. Only pure validators that are naturally called in
 *     loops take an optional `char *err, size_t err_size` (NULL/0: none) and fill it as well as
 *     tw_last_error(): tw_tag_name_validate(), tw_identity_check(), tw_adapter_check_address(),
 *     tw_sp_payload_decode().
 *  4. A call that fails only because a required pointer is NULL may return TW_ERR_INVALID_ARG
 *     without a message. Each function's comment says where its detail goes.
 *  Why both: the handle is the place of record (it survives thread switches, so a Go goroutine
 *  may read it from any OS thread); the per-thread copy exists for the moment when no handle
 *  exists yet. Language bindings that move work between OS threads run a constructor and the
 *  read of tw_last_error() on one thread (the Go binding locks the OS thread for that call only).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_COMMON_H
#define TAGWIRE_COMMON_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32) && defined(TW_BUILDING_LIBRARY) && !defined(TW_STATIC)
#define TW_API __declspec(dllexport)
#elif defined(_WIN32) && !defined(TW_STATIC)
#define TW_API __declspec(dllimport)
#elif defined(__GNUC__) || defined(__clang__)
#define TW_API __attribute__((visibility("default")))
#else
#define TW_API
#endif

/*
 * TW_THREADSAFE marks a function that may be called from any thread at any time, concurrently
 * with the thread that drives the object it belongs to. Functions without the mark must not be
 * called concurrently on the same object.
 */
#define TW_THREADSAFE

#if defined(__GNUC__) || defined(__clang__)
#define TW_DEPRECATED __attribute__((deprecated))
#else
#define TW_DEPRECATED
#endif

#ifdef __cplusplus
#define TW_BEGIN_DECLS extern "C" {
#define TW_END_DECLS }
#else
#define TW_BEGIN_DECLS
#define TW_END_DECLS
#endif

#endif /* TAGWIRE_COMMON_H */
