/*
 * tagwire/common.h - export macros and basic types shared by every tagwire header.
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
