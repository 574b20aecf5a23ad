/* Private structures of the tag module. SPDX-License-Identifier: Apache-2.0 */
#ifndef TW_TAG_INTERNAL_H
#define TW_TAG_INTERNAL_H

#include <stdatomic.h>

#include "internal.h"
#include "tagwire/tag.h"

/*
 * The per-tag state word `state` is a seqlock, a writer lock and the change-set flag in one:
 *   bit 0  LOCK   a writer (or, for STRING/BYTES, a reader) holds the tag
 *   bit 1  DIRTY  the tag is in the change set (exactly one setter pushes it: the one that sets
 *                 DIRTY; the collector clears it with a CAS before reading the value)
 *   bits 2..63    version: +1 (i.e. += 4) for every update that passed; 0 = never set
 * Because the flag and the version share one word, a setter racing with the collector always
 * either sees DIRTY still set (and the collector then reads its value) or sees it cleared (and
 * pushes the tag again): no update can be lost, and no full memory fence is needed on the
 * setter's path.
 */
#define TW__TAG_LOCK 1u
#define TW__TAG_DIRTY 2u
#define TW__TAG_VINC 4u

#define TW__CACHELINE 64

/* A tag's entry in its set's change stack. The entries live in chunks (allocated by
 * tw_tagset_add, never moved), in the order the tags were added, so that the collector walking the
 * stack reads a few dense lines rather than one line of every tag (the tags' first lines were last
 * written by the setters' cores: a miss each, and a chain of them cannot overlap). */
typedef struct tw__tag_link {
    struct tw__tag_link *_Atomic next; /* written by the pusher */
    struct tw_tag *tag;                /* fixed after add */
} tw__tag_link;

#define TW__LINK_CHUNK 256
typedef struct tw__link_chunk {
    struct tw__link_chunk *prev;
    tw__tag_link l[TW__LINK_CHUNK];
} tw__link_chunk;

struct tw_tag {
    /* ---- hot: written by setters ---- */
    _Atomic uint64_t state;
    _Atomic uint64_t value;       /* bits of the current value (fixed-size types) */
    _Atomic int64_t ts;
    _Atomic uint32_t quality;
    uint32_t len;                 /* STRING/BYTES length, under LOCK */
    tw__tag_link *link;           /* change-set stack entry (fixed after add) */
    /* ---- read by setters, fixed after add ---- */
    tw_type type;
    uint8_t rbe;
    uint8_t has_range;
    uint8_t scaled;
    double deadband_abs;
    double scale, offset;
    struct tw_tagset *set;
    unsigned char *live;          /* STRING/BYTES: max_len + 1 bytes, under LOCK */
    size_t max_len;
    /* ---- collector-only ---- */
    uint64_t collected_version;   /* state >> 2 when last collected */
    uint64_t alias;               /* fixed after add; on the collector's line (read per change) */
    unsigned char *snap;          /* collector's copy of STRING/BYTES values */
    /* ---- metadata ---- */
    char *name;
    size_t name_len;
    uint64_t name_hash;
    char *unit;
    char *description;
    double min, max;
    tw_access access;
    tw_deadband_mode deadband_mode;
    double deadband;
    void *user_data;
    tw_tag_write_fn write_fn;
    void *write_ud;
    void *alloc_base;             /* what tw__malloc returned (the struct is cache-line aligned) */
};

struct tw_tagset {
    /* change set: Treiber stack pushed by setters, taken whole by the collector */
    tw__tag_link *_Atomic head;
    _Atomic size_t npending;
    int evfd_r, evfd_w;           /* eventfd (both the same) or a pipe */
    tw_tagset_notify_fn notify_fn;
    void *notify_ud;
    char pad_[TW__CACHELINE];     /* keeps the stack head off the tags' lines */
    /* collector-only: the tags taken from the stack and not yet reported, newest first
     * (reported from pending[npend - 1] down). A tag is at most once in the stack or here (it is
     * pushed only by the setter that turned DIRTY on, and DIRTY is cleared only after the
     * collector took it out), so cap_pend >= ntags is always enough; kept so by reserve_one(). */
    struct tw_tag **pending;
    size_t npend, cap_pend;
    tw__link_chunk *chunks;       /* newest first; chunk_used entries of the newest are taken */
    size_t chunk_used;
    /* registry (driving thread) */
    struct tw_tag **tags;
    size_t ntags, cap_tags;
    struct tw_tag **by_name;      /* open addressing, power-of-two capacity */
    size_t cap_name;
    struct tw_tag **by_alias;
    size_t cap_alias;
    uint64_t next_alias;
    tw_tag_write_fn write_fn;
    void *write_ud;
    tw__error err;
};

#endif
