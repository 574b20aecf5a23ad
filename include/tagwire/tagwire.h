/*
 * tagwire/tagwire.h - the umbrella header: includes every public module header.
 *
 * tagwire is an embeddable SDK for factory data connectivity. See each module's header for its
 * functions, their ownership rules, threading and errors.
 *
 * Threading contract (applies to every header): an object is driven by one thread at a time;
 * functions marked TW_THREADSAFE may be called from any thread at any time.
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef TAGWIRE_TAGWIRE_H
#define TAGWIRE_TAGWIRE_H

#include "common.h"
#include "core.h"
/* TW_UMBRELLA_INCLUDES: module headers are added below, one line each. */
#include "types.h"
#include "tag.h"
#include "sparkplug.h"
#include "config.h"
#include "mqtt.h"
#include "identity.h"
#include "enroll.h"
#include "transport.h"
#include "tls.h"
#include "adapter.h"
#include "store.h"
#include "edge.h"
#include "opcua.h"
#include "node.h"
#include "https.h"

#endif /* TAGWIRE_TAGWIRE_H */
