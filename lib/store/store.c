/*
 * Store-and-forward log: memory ring and disk segments, recovery, acknowledgement watermark,
 * durable small state. See include/tagwire/store.h for the contract.
 *
 * On-disk record (little-endian), TW_STORE_RECORD_OVERHEAD = 24 bytes of header:
 *   u32 len      payload length
 *   u32 crc      CRC32C over bytes 8..24+len (seq, time, payload), continued over the 4 len bytes
 *   u64 seq      sequence number (strictly increasing through the log)
 *   i64 time_ms  wall-clock append time
 *   u8  payload[len]
 * Segment file: 8 bytes "TWLOG\0\1\0", then records. Name: seg-<20-digit first seq>.twl; the seq
 * in the name is the next sequence number when the segment was created (a floor for next_seq even
 * when the segment is empty).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "store_internal.h"
#include "tagwire/store.h"

#define MOD "store"
#define HDR TW_STORE_RECORD_OVERHEAD
#define SEG_HDR 8u
#define PARSE_MAX_RECORD (256u * 1024u * 1024u) /* hard cap when reading, whatever the options */
#define CUR_BUF 65536u           /* read-ahead of the read and head cursors */
#define RECOVERY_BUF (1u << 20)  /* read-ahead of the recovery scan (freed after open) */
#define SEQ_LIMIT (UINT64_C(1) << 62) /* sequence numbers stay below this (no wrap, ever) */
#define CK_SIZE 76u
#define STATE_MAX 4096u
#define STATE_KEY_MAX 64u

static const uint8_t seg_magic[SEG_HDR] = {'T', 'W', 'L', 'O', 'G', 0, 1, 0};

/* ---- little-endian helpers ---- */
static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t get64(const uint8_t *p) { return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32; }

typedef struct rec_hdr {
    uint32_t len;
    uint32_t crc;
    uint64_t seq;
    int64_t ts;
} rec_hdr;

static void hdr_parse(const uint8_t *p, rec_hdr *h)
{
    h->len = get32(p);
    h->crc = get32(p + 4);
    h->seq = get64(p + 8);
    h->ts = (int64_t)get64(p + 16);
}

static uint32_t rec_crc(const uint8_t *hdr16, const void *payload, size_t len, const uint8_t *len4)
{
    uint32_t c = tw_crc32c(0, hdr16, 16);
    c = tw_crc32c(c, payload, len);
    return tw_crc32c(c, len4, 4);
}

/* Builds the 24-byte header of a record. */
static void hdr_build(uint8_t *h, uint64_t seq, int64_t ts, const void *data, size_t len)
{
    put32(h, (uint32_t)len);
    put64(h + 8, seq);
    put64(h + 16, (uint64_t)ts);
    put32(h + 4, rec_crc(h + 8, data, len, h));
}

/* ---- data structures ---- */

typedef struct seg {
    uint64_t id;        /* seq in the file name */
    uint64_t size;      /* valid end of the file (end of the last complete record) */
    uint64_t nrec;      /* live records in this segment (segment 0: from the head on) */
    uint64_t rbytes;    /* their bytes */
    uint64_t last_seq;  /* last record's seq (0 = none) */
} seg;

typedef struct cursor {
    size_t seg;      /* disk: index into segs */
    uint64_t off;    /* disk: file offset of the next record; memory: logical ring offset */
    uint64_t last;   /* seq of the last record passed (records must have larger ones) */
    int fd;
    uint64_t fd_id;  /* segment id the fd belongs to */
    uint8_t *buf;
    size_t cap;
    uint64_t buf_off;
    size_t buf_len;
    int io_err;      /* errno of the last failed read (0 = none) */
    size_t chunk;    /* read-ahead size (0 = CUR_BUF) */
} cursor;

typedef struct mstate {
    struct mstate *next;
    char key[STATE_KEY_MAX + 1];
    size_t len;
    uint8_t val[];
} mstate;

struct tw_store {
    tw_store_options o;
    char *dir;
    tw__error err;
    int lock_fd;
    int dir_fd;

    /* disk */
    seg *segs;
    size_t nsegs, segcap;
    int tail_fd;

    /* memory ring */
    uint8_t *ring;
    uint64_t ring_cap;
    uint64_t m_head, m_tail; /* logical offsets */
    uint8_t *scratch;
    size_t scratch_cap;
    uint8_t *stage; /* disk: header + payload of a small record, written at once */
    size_t stage_cap;

    cursor head;  /* position of the oldest live record */
    cursor rd;    /* read cursor */

    uint64_t next_seq;
    uint64_t head_seq;  /* seq of the oldest live record; next_seq when empty */
    uint64_t acked;
    uint64_t durable;
    uint64_t live_records, live_bytes;
    int64_t newest_ts;
    uint64_t newest_seq; /* seq of the newest live record */
    uint64_t unsynced;
    int64_t unsynced_since_ms;
    int ck_dirty;
    int opened; /* recovery completed: close may write the checkpoint */

    tw_store_stats st;

    mstate *mstates;

    int64_t (*now_fn)(void *ctx);
    void *now_ctx;
};

/* ---- clocks ---- */
static int64_t wall_ms(tw_store *s)
{
    if (s->now_fn) return s->now_fn(s->now_ctx);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void tw__store_set_clock(tw_store *s, int64_t (*fn)(void *ctx), void *ctx)
{
    s->now_fn = fn;
    s->now_ctx = ctx;
}

/* ---- small file helpers ---- */
static int full_pwrite(int fd, const void *buf, size_t n, off_t off)
{
    const uint8_t *p = buf;
    while (n) {
        ssize_t w = pwrite(fd, p, n, off);
        if (w < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (w == 0) {
            errno = ENOSPC;
            return -1;
        }
        p += w;
        n -= (size_t)w;
        off += w;
    }
    return 0;
}

static ssize_t full_pread(int fd, void *buf, size_t n, off_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (uint8_t *)buf + got, n - got, off + (off_t)got);
        if (r < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (r == 0) break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static tw_status errno_status(int e)
{
    if (e == EFBIG) return TW_ERR_NO_SPACE; /* RLIMIT_FSIZE / file size limit: no room either */
    return tw__status_from_errno(e);
}

static void seg_name(char *buf, size_t n, uint64_t id) { snprintf(buf, n, "seg-%020" PRIu64 ".twl", id); }

static int fsync_policy(const tw_store *s) { return s->o.sync != TW_STORE_SYNC_OS; }

/* Atomically replaces dir_fd/name (dir_name in messages) with `data`: tw__file_write_atomic_at,
 * with both fsyncs unless do_fsync is 0. */
static tw_status atomic_write(tw_store *s, int dfd, const char *dir_name, const char *name,
                              const void *data, size_t len, int do_fsync)
{
    return tw__file_write_atomic_at(dfd, dir_name, name, data, len, do_fsync ? 0 : TW__FILE_NO_SYNC,
                                    &s->err, MOD, NULL);
}

/* ---- checkpoint ---- */
static tw_status ck_write(tw_store *s)
{
    if (!s->dir || s->o.read_only) return TW_OK;
    uint8_t b[CK_SIZE];
    memcpy(b, "TWCK", 4);
    put32(b + 4, 1);
    put64(b + 8, s->acked);
    put64(b + 16, s->head_seq);
    put64(b + 24, s->next_seq);
    put64(b + 32, s->st.dropped_overflow);
    put64(b + 40, s->st.dropped_age);
    put64(b + 48, s->st.dropped_no_space);
    put64(b + 56, s->st.refused_full);
    put64(b + 64, s->st.refused_no_space);
    put32(b + 72, tw_crc32c(0, b, 72));
    tw_status st = atomic_write(s, s->dir_fd, s->dir, "checkpoint", b, sizeof b, fsync_policy(s));
    if (st == TW_OK) s->ck_dirty = 0;
    return st;
}

typedef struct ck_data {
    uint64_t acked, head_seq, next_seq;
    uint64_t d_over, d_age, d_nospace, r_full, r_nospace;
} ck_data;

static int ck_read(tw_store *s, ck_data *ck)
{
    memset(ck, 0, sizeof *ck);
    int fd = openat(s->dir_fd, "checkpoint", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return 0;
    uint8_t b[CK_SIZE];
    ssize_t n = full_pread(fd, b, sizeof b, 0);
    close(fd);
    if (n != (ssize_t)sizeof b || memcmp(b, "TWCK", 4) != 0 || get32(b + 4) != 1 ||
        get32(b + 72) != tw_crc32c(0, b, 72)) {
        tw__log(TW_LOG_WARN, MOD, "%s: checkpoint unreadable or corrupt: ignored (records may be "
                "replayed again)", s->dir);
        return 0;
    }
    if (get64(b + 8) >= SEQ_LIMIT || get64(b + 16) >= SEQ_LIMIT || get64(b + 24) >= SEQ_LIMIT) {
        tw__log(TW_LOG_WARN, MOD, "%s: checkpoint holds impossible sequence numbers: ignored", s->dir);
        return 0;
    }
    ck->acked = get64(b + 8);
    ck->head_seq = get64(b + 16);
    ck->next_seq = get64(b + 24);
    ck->d_over = get64(b + 32);
    ck->d_age = get64(b + 40);
    ck->d_nospace = get64(b + 48);
    ck->r_full = get64(b + 56);
    ck->r_nospace = get64(b + 64);
    return 1;
}

/* ---- disk cursor ---- */
static void cur_close_fd(cursor *c)
{
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->buf_len = 0;
}

static void cur_free(cursor *c)
{
    cur_close_fd(c);
    tw__free(c->buf);
    c->buf = NULL;
    c->cap = 0;
}

/* Makes bytes [off, off+n) of segment c->seg available (bounded by `end`). NULL: not available
 * (I/O error: errno set; short file: errno 0). */
static const uint8_t *cur_fetch(tw_store *s, cursor *c, uint64_t off, size_t n, uint64_t end)
{
    if (off + n > end) {
        errno = 0;
        return NULL;
    }
    const seg *g = &s->segs[c->seg];
    if (c->fd >= 0 && c->fd_id == g->id && off >= c->buf_off && off + n <= c->buf_off + c->buf_len)
        return c->buf + (off - c->buf_off);
    if (c->fd < 0 || c->fd_id != g->id) {
        cur_close_fd(c);
        char name[48];
        seg_name(name, sizeof name, g->id);
        c->fd = openat(s->dir_fd, name, O_RDONLY | O_CLOEXEC);
        if (c->fd < 0) {
            c->io_err = errno;
            return NULL;
        }
        c->fd_id = g->id;
        if (c->chunk) (void)posix_fadvise(c->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    }
    size_t chunk = c->chunk ? c->chunk : CUR_BUF;
    size_t want = n > chunk ? n : chunk;
    if (want > end - off) want = (size_t)(end - off);
    if (c->cap < want) {
        uint8_t *nb = tw__realloc(c->buf, want);
        if (!nb) {
            errno = ENOMEM;
            return NULL;
        }
        c->buf = nb;
        c->cap = want;
    }
    ssize_t r = full_pread(c->fd, c->buf, want, (off_t)off);
    c->buf_len = 0;
    if (r < 0) {
        c->io_err = errno;
        return NULL;
    }
    c->buf_off = off;
    c->buf_len = (size_t)r;
    if ((size_t)r < n) {
        errno = 0;
        return NULL;
    }
    return c->buf;
}

/* Tries to parse a valid record at `off` (seq must exceed `after`). */
static int rec_at(tw_store *s, cursor *c, uint64_t off, uint64_t end, uint64_t after, rec_hdr *h,
                  const uint8_t **payload)
{
    const uint8_t *p = cur_fetch(s, c, off, HDR, end);
    if (!p) return 0;
    hdr_parse(p, h);
    /* plausibility before the CRC: a segment named `id` holds consecutive seqs from id on, so
     * record `seq` has at least seq - id records of >= HDR bytes before it */
    uint64_t id = s->segs[c->seg].id;
    if (off < SEG_HDR || h->len > PARSE_MAX_RECORD || h->seq <= after || h->seq < id ||
        h->seq - id > (off - SEG_HDR) / HDR ||
        off + HDR + h->len > end)
        return 0;
    p = cur_fetch(s, c, off, HDR + (size_t)h->len, end);
    if (!p) return 0;
    /* seq, time and payload are contiguous here: one pass, then the length */
    if (tw_crc32c(tw_crc32c(0, p + 8, 16 + (size_t)h->len), p, 4) != h->crc) return 0;
    *payload = p + HDR;
    return 1;
}

typedef struct scan_res {
    uint64_t off;     /* offset of the record found */
    uint64_t skipped; /* bytes skipped before it (corrupt) */
} scan_res;

/* Finds the next valid record in segment c->seg from c->off up to `end`, resynchronising over
 * corrupt bytes. Returns 1 and fills h/payload/r, or 0 when none is left (r->skipped = rest). */
static int scan_next(tw_store *s, cursor *c, uint64_t end, rec_hdr *h, const uint8_t **payload,
                     scan_res *r)
{
    c->io_err = 0;
    for (uint64_t off = c->off; off + HDR <= end; off++) {
        if (rec_at(s, c, off, end, c->last, h, payload)) {
            r->off = off;
            r->skipped = off - c->off;
            return 1;
        }
    }
    r->off = end;
    r->skipped = end > c->off ? end - c->off : 0;
    return 0;
}

/* ---- segments ---- */
static tw_status segs_push(tw_store *s, uint64_t id)
{
    if (s->nsegs == s->segcap) {
        size_t nc = s->segcap ? s->segcap * 2 : 8;
        seg *ns = tw__realloc(s->segs, nc * sizeof *ns);
        if (!ns) return tw__err(&s->err, MOD, TW_ERR_NOMEM, "out of memory");
        s->segs = ns;
        s->segcap = nc;
    }
    seg *g = &s->segs[s->nsegs++];
    memset(g, 0, sizeof *g);
    g->id = id;
    g->size = SEG_HDR;
    return TW_OK;
}

/* Deletes segment 0 (not the tail) and shifts cursors. The records it still held are counted by
 * the caller. */
static void seg_pop_front(tw_store *s)
{
    char name[48];
    seg_name(name, sizeof name, s->segs[0].id);
    if (!s->o.read_only && unlinkat(s->dir_fd, name, 0) != 0)
        tw__log(TW_LOG_WARN, MOD, "%s: cannot delete %s: %s", s->dir, name, strerror(errno));
    s->live_records -= s->segs[0].nrec;
    s->live_bytes -= s->segs[0].rbytes;
    memmove(s->segs, s->segs + 1, (s->nsegs - 1) * sizeof *s->segs);
    s->nsegs--;
    cursor *cs[2] = {&s->head, &s->rd};
    for (int i = 0; i < 2; i++) {
        if (cs[i]->seg > 0) {
            cs[i]->seg--;
        } else {
            cs[i]->seg = 0;
            cs[i]->off = SEG_HDR;
        }
    }
}

static tw_status seg_create(tw_store *s)
{
    char name[48];
    uint64_t id = s->next_seq;
    seg_name(name, sizeof name, id);
    int fd = openat(s->dir_fd, name, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        int e = errno;
        return tw__err(&s->err, MOD, errno_status(e), "create %s: %s", name, strerror(e));
    }
    if (full_pwrite(fd, seg_magic, SEG_HDR, 0) != 0 ||
        (fsync_policy(s) && (fdatasync(fd) != 0 || fsync(s->dir_fd) != 0))) {
        int e = errno;
        close(fd);
        unlinkat(s->dir_fd, name, 0);
        return tw__err(&s->err, MOD, errno_status(e), "initialise %s: %s", name, strerror(e));
    }
    tw_status st = segs_push(s, id);
    if (st != TW_OK) {
        close(fd);
        unlinkat(s->dir_fd, name, 0);
        return st;
    }
    if (s->tail_fd >= 0) close(s->tail_fd);
    s->tail_fd = fd;
    return TW_OK;
}

/* ---- sync ---- */
static tw_status do_sync(tw_store *s)
{
    if (s->o.backend == TW_STORE_MEMORY || s->o.read_only) return TW_OK;
    if (s->unsynced && s->tail_fd >= 0) {
        if (fdatasync(s->tail_fd) != 0) {
            int e = errno;
            return tw__err(&s->err, MOD, errno_status(e), "fdatasync: %s", strerror(e));
        }
        s->st.syncs++;
    }
    s->unsynced = 0;
    s->durable = s->next_seq - 1;
    if (s->ck_dirty) return ck_write(s);
    return TW_OK;
}

/* ---- head (oldest live record) ---- */

/* Peeks the oldest live record's header. Returns 0 when the store is empty. */
static int head_peek(tw_store *s, rec_hdr *h, uint64_t *total)
{
    if (!s->live_records) return 0;
    if (s->o.backend == TW_STORE_MEMORY) {
        uint8_t b[HDR];
        for (unsigned i = 0; i < HDR; i++) b[i] = s->ring[(s->m_head + i) % s->ring_cap];
        hdr_parse(b, h);
        *total = HDR + (uint64_t)h->len;
        return 1;
    }
    for (;;) {
        if (s->head.seg >= s->nsegs) return 0;
        seg *g = &s->segs[s->head.seg];
        const uint8_t *pl;
        scan_res r;
        if (g->nrec && scan_next(s, &s->head, g->size, h, &pl, &r)) {
            s->head.off = r.off;
            *total = HDR + (uint64_t)h->len;
            return 1;
        }
        /* segment 0 exhausted (or unreadable): its remaining counts are wrong; drop it */
        if (s->head.seg + 1 >= s->nsegs) {
            s->live_records -= g->nrec;
            s->live_bytes -= g->rbytes;
            g->nrec = g->rbytes = 0;
            return 0;
        }
        seg_pop_front(s);
    }
}

/* Removes the oldest live record (whose header head_peek returned). */
static void head_drop(tw_store *s, const rec_hdr *h, uint64_t total)
{
    s->live_records--;
    s->live_bytes -= total;
    s->head.last = h->seq;
    if (s->o.backend == TW_STORE_MEMORY) {
        s->m_head += total;
    } else {
        seg *g = &s->segs[s->head.seg];
        g->nrec--;
        g->rbytes -= total;
        s->head.off += total;
        if (g->nrec == 0 && s->head.seg + 1 < s->nsegs) seg_pop_front(s);
    }
    s->head_seq = h->seq + 1;
    if (!s->live_records) s->head_seq = s->next_seq;
    s->ck_dirty = 1;
}

/* Read cursor must not point before the head. */
static void rd_clamp(tw_store *s)
{
    if (s->o.backend == TW_STORE_MEMORY) {
        if (s->rd.off < s->m_head) {
            s->rd.off = s->m_head;
            s->rd.last = s->head_seq - 1;
        }
        return;
    }
    if (s->rd.seg < s->head.seg || (s->rd.seg == s->head.seg && s->rd.off < s->head.off) ||
        s->rd.last < s->head_seq - 1) {
        s->rd.seg = s->head.seg;
        s->rd.off = s->head.off;
        if (s->rd.last < s->head_seq - 1) s->rd.last = s->head_seq - 1;
    }
}

static uint64_t *drop_counter(tw_store *s, int reason)
{
    return reason == 0 ? &s->st.dropped_overflow
                       : reason == 1 ? &s->st.dropped_age : &s->st.dropped_no_space;
}

static int drop_oldest(tw_store *s, int reason)
{
    rec_hdr h;
    uint64_t total;
    if (!head_peek(s, &h, &total)) return 0;
    head_drop(s, &h, total);
    (*drop_counter(s, reason))++;
    rd_clamp(s);
    return 1;
}

static void expire_age(tw_store *s, int64_t now)
{
    if (!s->o.max_age_ms || s->o.read_only) return;
    rec_hdr h;
    uint64_t total, n = 0;
    while (head_peek(s, &h, &total) && h.ts < now - (int64_t)s->o.max_age_ms) {
        head_drop(s, &h, total);
        s->st.dropped_age++;
        n++;
    }
    if (n) {
        rd_clamp(s);
        tw__log(TW_LOG_WARN, MOD, "%s: dropped %" PRIu64 " records older than %" PRIu64 " ms",
                s->dir ? s->dir : "memory", n, s->o.max_age_ms);
    }
}

/* ---- memory ring ---- */
static void ring_put(tw_store *s, uint64_t at, const void *src, size_t n)
{
    const uint8_t *p = src;
    while (n) {
        uint64_t pos = at % s->ring_cap;
        size_t piece = (size_t)TW__MIN((uint64_t)n, s->ring_cap - pos);
        memcpy(s->ring + pos, p, piece);
        p += piece;
        at += piece;
        n -= piece;
    }
}

static void ring_get(const tw_store *s, uint64_t at, void *dst, size_t n)
{
    uint8_t *p = dst;
    while (n) {
        uint64_t pos = at % s->ring_cap;
        size_t piece = (size_t)TW__MIN((uint64_t)n, s->ring_cap - pos);
        memcpy(p, s->ring + pos, piece);
        p += piece;
        at += piece;
        n -= piece;
    }
}

static tw_status ring_reserve(tw_store *s, uint64_t need)
{
    if (need <= s->ring_cap) return TW_OK;
    uint64_t nc = s->ring_cap ? s->ring_cap : 4096;
    while (nc < need) nc *= 2;
    if (nc > s->o.max_bytes) nc = s->o.max_bytes;
    uint8_t *nb = tw__malloc((size_t)nc);
    if (!nb) return tw__err(&s->err, MOD, TW_ERR_NOMEM, "out of memory for a %" PRIu64 "-byte ring", nc);
    uint8_t *old = s->ring;
    uint64_t oc = s->ring_cap;
    s->ring = nb;
    s->ring_cap = nc;
    for (uint64_t at = s->m_head; at < s->m_tail;) {
        uint64_t pos = at % oc;
        size_t piece = (size_t)TW__MIN(s->m_tail - at, oc - pos);
        ring_put(s, at, old + pos, piece);
        at += piece;
    }
    tw__free(old);
    return TW_OK;
}

/* ---- open / recovery ---- */
static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static tw_status recover(tw_store *s)
{
    ck_data ck;
    int have_ck = ck_read(s, &ck);
    if (have_ck) {
        s->acked = ck.acked;
        s->st.dropped_overflow = ck.d_over;
        s->st.dropped_age = ck.d_age;
        s->st.dropped_no_space = ck.d_nospace;
        s->st.refused_full = ck.r_full;
        s->st.refused_no_space = ck.r_nospace;
    }
    uint64_t floor_seq = have_ck ? TW__MAX(ck.head_seq, ck.acked + 1) : 1;
    if (floor_seq == 0) floor_seq = 1;
    uint64_t next = TW__MAX(floor_seq, have_ck ? ck.next_seq : 1);

    /* list segments */
    int dfd = dup(s->dir_fd);
    DIR *d = dfd >= 0 ? fdopendir(dfd) : NULL;
    if (!d) {
        int e = errno;
        if (dfd >= 0) close(dfd); /* fdopendir failed: the dup is still ours */
        return tw__err(&s->err, MOD, errno_status(e), "%s: cannot list: %s", s->dir, strerror(e));
    }
    uint64_t *ids = NULL;
    size_t nids = 0, capids = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t id;
        char tail[8];
        if (strlen(e->d_name) != 28 || sscanf(e->d_name, "seg-%20" SCNu64 ".%3s", &id, tail) != 2 ||
            strcmp(tail, "twl") != 0 || id == 0 || id >= SEQ_LIMIT)
            continue;
        if (nids == capids) {
            capids = capids ? capids * 2 : 16;
            uint64_t *n2 = tw__realloc(ids, capids * sizeof *ids);
            if (!n2) {
                tw__free(ids);
                closedir(d);
                return tw__err(&s->err, MOD, TW_ERR_NOMEM, "out of memory");
            }
            ids = n2;
        }
        ids[nids++] = id;
    }
    closedir(d);
    if (nids) qsort(ids, nids, sizeof *ids, cmp_u64);

    tw_status st = TW_OK;
    uint64_t last_seq = 0;
    int head_found = 0;
    for (size_t i = 0; i < nids && st == TW_OK; i++) {
        char name[48];
        seg_name(name, sizeof name, ids[i]);
        struct stat sb;
        if (fstatat(s->dir_fd, name, &sb, 0) != 0) continue;
        uint64_t fsize = (uint64_t)sb.st_size;
        if (ids[i] + 1 > next) next = ids[i];
        if ((st = segs_push(s, ids[i])) != TW_OK) break;
        seg *g = &s->segs[s->nsegs - 1];
        cursor c = {.seg = s->nsegs - 1, .off = SEG_HDR, .last = last_seq, .fd = -1,
                    .chunk = RECOVERY_BUF};
        uint8_t mb[SEG_HDR];
        int fd = openat(s->dir_fd, name, O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            if (full_pread(fd, mb, SEG_HDR, 0) != (ssize_t)SEG_HDR || memcmp(mb, seg_magic, SEG_HDR)) {
                if (fsize > SEG_HDR) {
                    s->st.corrupt_regions++;
                    s->st.corrupt_bytes += SEG_HDR;
                    tw__log(TW_LOG_WARN, MOD, "%s: %s: bad segment header", s->dir, name);
                }
            }
            close(fd);
        }
        uint64_t valid_end = SEG_HDR;
        rec_hdr h;
        const uint8_t *pl;
        scan_res r;
        while (scan_next(s, &c, fsize, &h, &pl, &r)) {
            if (r.skipped) {
                uint64_t base = TW__MAX(c.last, g->id - 1);
                uint64_t lost = h.seq > base + 1 ? h.seq - base - 1 : 1;
                s->st.corrupt_regions++;
                s->st.corrupt_bytes += r.skipped;
                s->st.corrupt_records += lost;
                tw__log(TW_LOG_WARN, MOD,
                        "%s: %s: %" PRIu64 " corrupt bytes at offset %" PRIu64
                        " skipped (about %" PRIu64 " records lost); resumed at seq %" PRIu64,
                        s->dir, name, r.skipped, c.off, lost, h.seq);
            }
            uint64_t total = HDR + (uint64_t)h.len;
            c.off = r.off + total;
            c.last = h.seq;
            valid_end = c.off;
            g->last_seq = h.seq;
            if (h.seq >= floor_seq) {
                if (!head_found) {
                    head_found = 1;
                    s->head.seg = s->nsegs - 1;
                    s->head.off = r.off;
                    s->head.last = h.seq - 1;
                    s->head_seq = h.seq;
                }
                g->nrec++;
                g->rbytes += total;
                s->live_records++;
                s->live_bytes += total;
                s->newest_ts = h.ts;
                s->newest_seq = h.seq;
            }
        }
        cur_free(&c);
        if (c.last > last_seq) last_seq = c.last;
        uint64_t rest = fsize > valid_end ? fsize - valid_end : 0;
        if (fsize < SEG_HDR) rest = 0;
        if (rest) {
            s->st.torn_records++;
            s->st.torn_bytes += rest;
            tw__log(TW_LOG_WARN, MOD,
                    "%s: %s: torn tail of %" PRIu64 " bytes after offset %" PRIu64 " %s", s->dir,
                    name, rest, valid_end, s->o.read_only ? "(read-only: left)" : "truncated");
        }
        g->size = valid_end;
        if (!s->o.read_only && (rest || fsize < SEG_HDR)) {
            int wfd = openat(s->dir_fd, name, O_RDWR | O_CLOEXEC);
            if (wfd < 0 || ftruncate(wfd, (off_t)valid_end) != 0 ||
                (fsize < SEG_HDR && full_pwrite(wfd, seg_magic, SEG_HDR, 0) != 0) ||
                fsync(wfd) != 0) {
                int en = errno;
                if (wfd >= 0) close(wfd);
                st = tw__err(&s->err, MOD, errno_status(en), "%s: cannot repair %s: %s", s->dir,
                             name, strerror(en));
                break;
            }
            close(wfd);
        }
    }
    tw__free(ids);
    if (st != TW_OK) return st;
    if (last_seq + 1 > next) next = last_seq + 1;
    s->next_seq = next;
    if (!head_found) {
        s->head_seq = next;
        s->head.seg = s->nsegs ? s->nsegs - 1 : 0;
        s->head.off = s->nsegs ? s->segs[s->nsegs - 1].size : SEG_HDR;
        s->head.last = next - 1;
    }
    if (s->acked >= next) s->acked = next - 1;
    /* delete segments wholly before the head (acknowledged or dropped) */
    if (!s->o.read_only) {
        while (s->nsegs > 1 && s->head.seg > 0) seg_pop_front(s);
        /* non-tail segments without live records after the head */
        for (size_t i = 1; i + 1 < s->nsegs;) {
            if (s->segs[i].nrec == 0 && s->segs[i].size <= SEG_HDR) {
                char name[48];
                seg_name(name, sizeof name, s->segs[i].id);
                unlinkat(s->dir_fd, name, 0);
                memmove(s->segs + i, s->segs + i + 1, (s->nsegs - i - 1) * sizeof *s->segs);
                s->nsegs--;
            } else {
                i++;
            }
        }
    }
    s->rd.seg = s->head.seg;
    s->rd.off = s->head.off;
    s->rd.last = s->head_seq - 1;
    s->durable = s->next_seq - 1;

    if (s->o.read_only) return TW_OK;
    if (s->st.torn_records || s->st.corrupt_regions)
        tw__log(TW_LOG_WARN, MOD,
                "%s: recovered %" PRIu64 " records; torn %" PRIu64 " (%" PRIu64
                " bytes), corrupt regions %" PRIu64 " (%" PRIu64 " bytes)",
                s->dir, s->live_records, s->st.torn_records, s->st.torn_bytes,
                s->st.corrupt_regions, s->st.corrupt_bytes);
    /* what recovery found counts as durable: make it so (a killed process leaves dirty pages;
     * a previous run may have used SYNC_OS) */
    if (fsync_policy(s)) {
        for (size_t i = 0; i < s->nsegs; i++) {
            char name[48];
            seg_name(name, sizeof name, s->segs[i].id);
            int fd = openat(s->dir_fd, name, O_RDONLY | O_CLOEXEC);
            if (fd >= 0) {
                if (fdatasync(fd) != 0)
                    tw__log(TW_LOG_WARN, MOD, "%s: fdatasync %s: %s", s->dir, name, strerror(errno));
                close(fd);
            }
        }
    }
    /* A segment holds consecutive seqs from its name on. When the next seq does not continue the
     * tail (a checkpoint ahead of a torn tail), the next append goes to a new segment. */
    if (s->nsegs) {
        seg *t = &s->segs[s->nsegs - 1];
        uint64_t cont = t->last_seq ? t->last_seq + 1 : t->id;
        if (cont != s->next_seq) {
            if (t->size <= SEG_HDR && s->nsegs > 1) {
                char name[48];
                seg_name(name, sizeof name, t->id);
                unlinkat(s->dir_fd, name, 0);
                s->nsegs--;
            } else if (t->size <= SEG_HDR && s->nsegs == 1 && !t->nrec) {
                char name[48];
                seg_name(name, sizeof name, t->id);
                unlinkat(s->dir_fd, name, 0);
                s->nsegs = 0;
            }
            if ((st = seg_create(s)) != TW_OK) return st;
            if (!s->live_records) {
                s->head.seg = s->rd.seg = s->nsegs - 1;
                s->head.off = s->rd.off = SEG_HDR;
            }
            /* segments before an empty head are gone */
            while (!s->live_records && s->nsegs > 1) seg_pop_front(s);
            return TW_OK;
        }
    }
    /* open the tail for appending, or start a segment */
    if (s->nsegs) {
        char name[48];
        seg_name(name, sizeof name, s->segs[s->nsegs - 1].id);
        s->tail_fd = openat(s->dir_fd, name, O_RDWR | O_CLOEXEC);
        if (s->tail_fd < 0) {
            int en = errno;
            return tw__err(&s->err, MOD, errno_status(en), "%s: open %s: %s", s->dir, name, strerror(en));
        }
    } else {
        if ((st = seg_create(s)) != TW_OK) return st;
        s->head.seg = s->rd.seg = 0;
        s->head.off = s->rd.off = SEG_HDR;
    }
    return TW_OK;
}

/* A failed tw_store_new(): logs at ERROR (when `log`), records the message for tw_last_error()
 * ("store: ..."), frees `s` (may be NULL). */
static tw_status new_fail(tw_store *s, tw_status st, int log, const char *fmt, ...) TW__PRINTF(4, 5);
static tw_status new_fail(tw_store *s, tw_status st, int log, const char *fmt, ...)
{
    char msg[TW__ERRMSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (log) tw__log(TW_LOG_ERROR, MOD, "%s", msg);
    tw_store_free(s);
    return tw__err(NULL, MOD, st, "%s", msg);
}

tw_status tw_store_new(tw_store **out, const tw_store_options *opts)
{
    if (!out) return TW_ERR_INVALID_ARG;
    *out = NULL;
    tw_status st = tw__check_init();
    if (st != TW_OK) return st;
    if (!opts) return TW_ERR_INVALID_ARG;
    tw_store_options ocopy;
    if (TW__OPTS_COPY(ocopy, opts, sizeof(tw_store_options)))
        return new_fail(NULL, TW_ERR_VERSION, 0, "tw_store_options version %u is not supported",
                        (unsigned)opts->version);
    opts = &ocopy;
    if (opts->backend != TW_STORE_MEMORY && opts->backend != TW_STORE_DISK)
        return new_fail(NULL, TW_ERR_INVALID_ARG, 0, "backend: unknown value %d", (int)opts->backend);
    if (opts->backend == TW_STORE_DISK && (!opts->dir || !*opts->dir))
        return new_fail(NULL, TW_ERR_INVALID_ARG, 0, "dir: required for the disk backend");
    if ((unsigned)opts->sync > TW_STORE_SYNC_OS)
        return new_fail(NULL, TW_ERR_INVALID_ARG, 0, "sync: unknown value %d", (int)opts->sync);
    if ((unsigned)opts->overflow > TW_STORE_REFUSE_NEW)
        return new_fail(NULL, TW_ERR_INVALID_ARG, 0, "overflow: unknown value %d", (int)opts->overflow);

    tw_store *s = tw__calloc(1, sizeof *s);
    if (!s) return new_fail(NULL, TW_ERR_NOMEM, 0, "out of memory");
    s->o = *opts;
    s->o.dir = NULL;
    if (!s->o.max_bytes) s->o.max_bytes = 64u * 1024 * 1024;
    if (!s->o.sync_interval_ms) s->o.sync_interval_ms = 100;
    if (!s->o.sync_records) s->o.sync_records = 256;
    if (!s->o.segment_bytes) s->o.segment_bytes = 16u * 1024 * 1024;
    if (s->o.segment_bytes < 4096) s->o.segment_bytes = 4096;
    if (!s->o.max_record_bytes) s->o.max_record_bytes = 1024u * 1024;
    if (s->o.max_record_bytes > PARSE_MAX_RECORD) s->o.max_record_bytes = PARSE_MAX_RECORD;
    if (s->o.backend == TW_STORE_MEMORY) s->o.read_only = 0;
    s->lock_fd = s->dir_fd = s->tail_fd = -1;
    s->head.fd = s->rd.fd = -1;
    s->next_seq = s->head_seq = 1;

    if (s->o.backend == TW_STORE_MEMORY) {
        *out = s;
        return TW_OK;
    }
    s->dir = tw__strdup(opts->dir);
    if (!s->dir) return new_fail(s, TW_ERR_NOMEM, 0, "out of memory");
    if (!s->o.read_only && mkdir(s->dir, 0700) != 0 && errno != EEXIST) {
        int e = errno;
        return new_fail(s, errno_status(e), 1, "dir '%s': cannot create: %s", opts->dir, strerror(e));
    }
    s->dir_fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (s->dir_fd < 0) {
        int e = errno;
        return new_fail(s, errno_status(e), 1, "dir '%s': cannot open: %s", opts->dir, strerror(e));
    }
    if (!s->o.read_only) {
        s->lock_fd = openat(s->dir_fd, "lock", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
        if (s->lock_fd < 0 || flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            st = (s->lock_fd >= 0 && e == EWOULDBLOCK) ? TW_ERR_STORE_LOCKED : errno_status(e);
            if (st == TW_ERR_STORE_LOCKED)
                return new_fail(s, st, 1, "dir '%s': locked by another process or handle", opts->dir);
            return new_fail(s, st, 1, "dir '%s': cannot %s its lock file: %s", opts->dir,
                            s->lock_fd < 0 ? "create" : "lock", strerror(e));
        }
        if (mkdirat(s->dir_fd, "state", 0700) != 0 && errno != EEXIST) {
            int e = errno;
            return new_fail(s, errno_status(e), 1, "dir '%s': cannot create state/: %s", opts->dir,
                            strerror(e));
        }
    }
    st = recover(s);
    if (st != TW_OK) {
        char msg[TW__ERRMSG_MAX];
        tw__strlcpy(msg, tw__err_msg(&s->err), sizeof msg);
        return new_fail(s, st, 1, "dir '%s': recovery failed: %s", opts->dir, msg);
    }
    s->opened = 1;
    *out = s;
    return TW_OK;
}

void tw_store_free(tw_store *s)
{
    if (!s) return;
    if (s->opened && s->o.backend == TW_STORE_DISK && !s->o.read_only && s->tail_fd >= 0) {
        s->ck_dirty = 1;
        if (fsync_policy(s)) (void)do_sync(s);
        else (void)ck_write(s);
    }
    cur_free(&s->head);
    cur_free(&s->rd);
    if (s->tail_fd >= 0) close(s->tail_fd);
    if (s->lock_fd >= 0) close(s->lock_fd); /* releases the flock */
    if (s->dir_fd >= 0) close(s->dir_fd);
    tw__free(s->segs);
    tw__free(s->ring);
    tw__free(s->scratch);
    tw__free(s->stage);
    for (mstate *m = s->mstates, *n; m; m = n) {
        n = m->next;
        tw__free(m);
    }
    tw__free(s->dir);
    tw__free(s);
}

/* ---- append ---- */
#define STAGE_MAX 65536u

static int stage_grow(tw_store *s, size_t need)
{
    size_t nc = s->stage_cap ? s->stage_cap : 512;
    while (nc < need) nc *= 2;
    uint8_t *n = tw__realloc(s->stage, nc);
    if (!n) return 0;
    s->stage = n;
    s->stage_cap = nc;
    return 1;
}

/* Writes a (hlen bytes) then b (blen bytes, may be 0) at the end of the tail segment; a partial
 * write is cut off again. */
static tw_status disk_write(tw_store *s, const uint8_t *a, size_t hlen, const void *b, size_t blen)
{
    seg *g = &s->segs[s->nsegs - 1];
    size_t total = hlen + blen, done = 0;
    off_t at = (off_t)g->size;
    while (done < total) {
        ssize_t w;
        if (done < hlen && blen) {
            struct iovec v[2] = {{(void *)(a + done), hlen - done}, {(void *)b, blen}};
            w = pwritev(s->tail_fd, v, 2, at + (off_t)done);
        } else if (done < hlen) {
            w = pwrite(s->tail_fd, a + done, hlen - done, at + (off_t)done);
        } else {
            w = pwrite(s->tail_fd, (const uint8_t *)b + (done - hlen), total - done, at + (off_t)done);
        }
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            int e = w < 0 ? errno : ENOSPC;
            if (ftruncate(s->tail_fd, at) != 0)
                tw__log(TW_LOG_ERROR, MOD, "%s: cannot cut a failed write: %s", s->dir, strerror(errno));
            errno = e;
            return errno_status(e);
        }
        done += (size_t)w;
    }
    return TW_OK;
}

static tw_status rotate(tw_store *s)
{
    if (fsync_policy(s) && s->unsynced) {
        if (fdatasync(s->tail_fd) != 0) {
            int e = errno;
            return tw__err(&s->err, MOD, errno_status(e), "fdatasync: %s", strerror(e));
        }
        s->st.syncs++;
        s->unsynced = 0;
        s->durable = s->next_seq - 1;
    }
    return seg_create(s);
}

static tw_status mem_append(tw_store *s, uint64_t seq, int64_t ts, const void *data, size_t len)
{
    uint64_t total = HDR + len;
    tw_status st = ring_reserve(s, s->live_bytes + total);
    if (st != TW_OK) return st;
    uint8_t h[HDR];
    put32(h, (uint32_t)len);
    put32(h + 4, 0);
    put64(h + 8, seq);
    put64(h + 16, (uint64_t)ts);
    ring_put(s, s->m_tail, h, HDR);
    ring_put(s, s->m_tail + HDR, data, len);
    s->m_tail += total;
    return TW_OK;
}

tw_status tw_store_append(tw_store *s, uint64_t *seq_out, const void *data, size_t len)
{
    if (!s || !data || !len) return s ? tw__err(&s->err, MOD, TW_ERR_INVALID_ARG, "append: no data") : TW_ERR_INVALID_ARG;
    if (s->o.read_only) return tw__err(&s->err, MOD, TW_ERR_BUSY, "store opened read-only");
    if (len > s->o.max_record_bytes || HDR + (uint64_t)len > s->o.max_bytes)
        return tw__err(&s->err, MOD, TW_ERR_RANGE, "record of %zu bytes exceeds the limits", len);
    if (s->next_seq >= SEQ_LIMIT) return tw__err(&s->err, MOD, TW_ERR_RANGE, "sequence numbers exhausted");
    uint64_t total = HDR + (uint64_t)len;
    int64_t now = wall_ms(s);
    expire_age(s, now);

    if (s->live_bytes + total > s->o.max_bytes) {
        if (s->o.overflow == TW_STORE_REFUSE_NEW) {
            s->st.refused_full++;
            s->ck_dirty = 1;
            return tw__err(&s->err, MOD, TW_ERR_FULL, "store full (%" PRIu64 " of %" PRIu64 " bytes)",
                           s->live_bytes, s->o.max_bytes);
        }
        uint64_t n = 0;
        while (s->live_bytes + total > s->o.max_bytes && drop_oldest(s, 0)) n++;
        if (n)
            tw__log(TW_LOG_DEBUG, MOD, "%s: dropped %" PRIu64 " oldest records (max_bytes)",
                    s->dir ? s->dir : "memory", n);
    }

    uint64_t seq = s->next_seq;
    tw_status st;
    if (s->o.backend == TW_STORE_MEMORY) {
        st = mem_append(s, seq, now, data, len);
        if (st != TW_OK) return st;
        if (!s->live_records) {
            s->head_seq = seq;
        }
    } else {
        /* small records: header and payload in one buffer, one pwrite() */
        uint8_t hbuf[HDR], *h = hbuf;
        const void *tailp = data;
        size_t hlen = HDR, tlen = len;
        if (len <= STAGE_MAX && (s->stage_cap >= HDR + len || stage_grow(s, HDR + len))) {
            h = s->stage;
            memcpy(h + HDR, data, len);
            put32(h, (uint32_t)len);
            put64(h + 8, seq);
            put64(h + 16, (uint64_t)now);
            put32(h + 4, tw_crc32c(tw_crc32c(0, h + 8, 16 + len), h, 4));
            hlen = HDR + len;
            tailp = NULL;
            tlen = 0;
        } else {
            hdr_build(hbuf, seq, now, data, len);
        }
        for (int attempt = 0;; attempt++) {
            seg *tail = &s->segs[s->nsegs - 1];
            st = TW_OK;
            if (tail->size + total > s->o.segment_bytes && tail->size > SEG_HDR) st = rotate(s);
            if (st == TW_OK) st = disk_write(s, h, hlen, tailp, tlen);
            if (st == TW_OK) break;
            if (st != TW_ERR_NO_SPACE) {
                return tw__err(&s->err, MOD, st, "%s: append: %s", s->dir, strerror(errno));
            }
            /* disk full: only deleting whole segment files frees space */
            if (s->o.overflow == TW_STORE_DROP_OLDEST && s->nsegs > 1 && attempt < 64) {
                uint64_t n = s->segs[0].nrec;
                s->st.dropped_no_space += n;
                seg_pop_front(s);
                if (s->head.seg == 0 && s->nsegs) {
                    s->head.off = SEG_HDR;
                    rec_hdr hh;
                    uint64_t tt;
                    s->head_seq = head_peek(s, &hh, &tt) ? hh.seq : s->next_seq;
                    s->head.last = s->head_seq - 1;
                }
                rd_clamp(s);
                s->ck_dirty = 1;
                tw__log(TW_LOG_WARN, MOD, "%s: disk full: dropped the oldest segment (%" PRIu64
                        " records)", s->dir, n);
                continue;
            }
            s->st.refused_no_space++;
            s->ck_dirty = 1;
            return tw__err(&s->err, MOD, TW_ERR_NO_SPACE, "%s: disk full: record refused", s->dir);
        }
        seg *tail = &s->segs[s->nsegs - 1];
        uint64_t old_size = tail->size;
        tail->size += total;
        tail->nrec++;
        tail->rbytes += total;
        tail->last_seq = seq;
        s->unsynced++;
        if (s->unsynced == 1) s->unsynced_since_ms = tw__mono_ms();
        tw_status late = TW_OK;
        if (s->o.sync == TW_STORE_SYNC_EVERY_RECORD) {
            if (fdatasync(s->tail_fd) != 0) {
                int e = errno;
                /* not durable: take it back so that an error means "not accepted" */
                if (ftruncate(s->tail_fd, (off_t)old_size) == 0) {
                    tail->size = old_size;
                    tail->nrec--;
                    tail->rbytes -= total;
                    s->unsynced--;
                    if (e == ENOSPC || e == EDQUOT) s->st.refused_no_space++;
                    return tw__err(&s->err, MOD, errno_status(e), "%s: fdatasync: %s", s->dir,
                                   strerror(e));
                }
                /* cannot take it back: it stays (may be replayed) but is reported as not durable */
                late = tw__err(&s->err, MOD, errno_status(e), "%s: fdatasync: %s", s->dir,
                               strerror(e));
            } else {
                s->st.syncs++;
                s->unsynced = 0;
                s->durable = seq;
            }
        }
        if (!s->live_records) {
            s->head.seg = s->nsegs - 1;
            s->head.off = old_size;
            s->head_seq = seq;
            s->head.last = seq - 1;
        }
        if (late != TW_OK) {
            s->next_seq = seq + 1;
            s->live_records++;
            s->live_bytes += total;
            s->newest_ts = now;
            s->newest_seq = seq;
            s->st.appended++;
            return late;
        }
    }
    s->next_seq = seq + 1;
    s->live_records++;
    s->live_bytes += total;
    s->newest_ts = now;
    s->newest_seq = seq;
    s->st.appended++;
    if (seq_out) *seq_out = seq;

    if (s->o.backend == TW_STORE_MEMORY || s->o.sync == TW_STORE_SYNC_OS) {
        s->durable = seq;
    } else if (s->o.sync == TW_STORE_SYNC_BATCH) {
        if (s->unsynced >= s->o.sync_records ||
            tw__mono_ms() - s->unsynced_since_ms >= (int64_t)s->o.sync_interval_ms) {
            tw_status ss = do_sync(s);
            if (ss != TW_OK) tw__log(TW_LOG_WARN, MOD, "%s", tw__err_msg(&s->err));
        }
    }
    return TW_OK;
}

tw_status tw_store_sync(tw_store *s)
{
    if (!s) return TW_ERR_INVALID_ARG;
    if (s->o.backend == TW_STORE_MEMORY || s->o.read_only) return TW_OK;
    return do_sync(s);
}

uint64_t tw_store_durable_seq(const tw_store *s) { return s ? s->durable : 0; }

tw_status tw_store_poll(tw_store *s, uint32_t *next_ms)
{
    if (next_ms) *next_ms = UINT32_MAX;
    if (!s) return TW_ERR_INVALID_ARG;
    if (s->o.read_only) return TW_OK;
    expire_age(s, wall_ms(s));
    tw_status st = TW_OK;
    if (s->o.backend == TW_STORE_DISK) {
        if (s->unsynced && s->o.sync == TW_STORE_SYNC_BATCH) {
            int64_t due = s->unsynced_since_ms + (int64_t)s->o.sync_interval_ms - tw__mono_ms();
            if (due <= 0) {
                st = do_sync(s);
            } else if (next_ms) {
                *next_ms = (uint32_t)due;
            }
        }
        if (st == TW_OK && s->ck_dirty) st = ck_write(s);
        if (st != TW_OK && next_ms && *next_ms > 1000) *next_ms = 1000;
    }
    if (s->o.max_age_ms && s->live_records && next_ms) {
        rec_hdr h;
        uint64_t t;
        if (head_peek(s, &h, &t)) {
            int64_t left = h.ts + (int64_t)s->o.max_age_ms - wall_ms(s) + 1;
            if (left < 0) left = 0;
            if ((uint64_t)left < *next_ms) *next_ms = (uint32_t)left;
        }
    }
    return st;
}

/* ---- read / rewind / ack ---- */
tw_status tw_store_read(tw_store *s, tw_store_record *rec)
{
    if (!s || !rec) return TW_ERR_INVALID_ARG;
    rd_clamp(s);
    if (s->o.backend == TW_STORE_MEMORY) {
        if (s->rd.off >= s->m_tail) return TW_ERR_AGAIN;
        uint8_t b[HDR];
        ring_get(s, s->rd.off, b, HDR);
        rec_hdr h;
        hdr_parse(b, &h);
        if (s->scratch_cap < h.len) {
            uint8_t *n = tw__realloc(s->scratch, h.len);
            if (!n) return tw__err(&s->err, MOD, TW_ERR_NOMEM, "out of memory");
            s->scratch = n;
            s->scratch_cap = h.len;
        }
        ring_get(s, s->rd.off + HDR, s->scratch, h.len);
        s->rd.off += HDR + h.len;
        s->rd.last = h.seq;
        rec->seq = h.seq;
        rec->time_ms = h.ts;
        rec->data = s->scratch;
        rec->len = h.len;
        return TW_OK;
    }
    for (;;) {
        if (s->rd.seg >= s->nsegs) return TW_ERR_AGAIN;
        seg *g = &s->segs[s->rd.seg];
        rec_hdr h;
        const uint8_t *pl;
        scan_res r;
        if (scan_next(s, &s->rd, g->size, &h, &pl, &r)) {
            if (r.skipped) {
                s->st.corrupt_regions++;
                s->st.corrupt_bytes += r.skipped;
                s->st.corrupt_records += h.seq > s->rd.last + 1 ? h.seq - s->rd.last - 1 : 1;
                tw__log(TW_LOG_WARN, MOD, "%s: %" PRIu64 " corrupt bytes skipped while reading",
                        s->dir, r.skipped);
            }
            s->rd.off = r.off + HDR + h.len;
            s->rd.last = h.seq;
            rec->seq = h.seq;
            rec->time_ms = h.ts;
            rec->data = pl;
            rec->len = h.len;
            return TW_OK;
        }
        if (s->rd.io_err) {
            int e = s->rd.io_err;
            return tw__err(&s->err, MOD, errno_status(e), "%s: read: %s", s->dir, strerror(e));
        }
        if (r.skipped) {
            s->st.corrupt_regions++;
            s->st.corrupt_bytes += r.skipped;
            s->st.corrupt_records++;
            tw__log(TW_LOG_WARN, MOD, "%s: %" PRIu64 " corrupt bytes at the end of a segment skipped "
                    "while reading", s->dir, r.skipped);
        }
        if (s->rd.seg + 1 >= s->nsegs) {
            s->rd.off = g->size;
            return TW_ERR_AGAIN;
        }
        s->rd.seg++;
        s->rd.off = SEG_HDR;
    }
}

tw_status tw_store_rewind(tw_store *s)
{
    if (!s) return TW_ERR_INVALID_ARG;
    if (s->o.backend == TW_STORE_MEMORY) {
        s->rd.off = s->m_head;
    } else {
        s->rd.seg = s->head.seg;
        s->rd.off = s->head.off;
    }
    s->rd.last = s->head_seq - 1;
    return TW_OK;
}

tw_status tw_store_ack(tw_store *s, uint64_t seq)
{
    if (!s) return TW_ERR_INVALID_ARG;
    if (s->o.read_only) return tw__err(&s->err, MOD, TW_ERR_BUSY, "store opened read-only");
    if (seq >= s->next_seq)
        return tw__err(&s->err, MOD, TW_ERR_RANGE, "ack %" PRIu64 " beyond the newest record %" PRIu64,
                       seq, s->next_seq - 1);
    if (seq <= s->acked) return TW_OK;
    s->acked = seq;
    if (s->o.backend == TW_STORE_DISK) {
        int popped = 0;
        while (s->nsegs > 1 && s->head.seg == 0 && s->segs[0].last_seq <= seq) {
            seg_pop_front(s);
            popped = 1;
        }
        if (popped) {
            rec_hdr h;
            uint64_t t;
            s->head_seq = head_peek(s, &h, &t) ? h.seq : s->next_seq;
            s->head.last = s->head_seq - 1;
        }
    }
    rec_hdr h;
    uint64_t total;
    while (head_peek(s, &h, &total) && h.seq <= seq) head_drop(s, &h, total);
    if (s->head_seq <= seq) s->head_seq = seq + 1;
    if (!s->live_records) s->head_seq = s->next_seq;
    rd_clamp(s);
    s->ck_dirty = 1;
    return ck_write(s);
}

/* ---- stats ---- */
tw_status tw_store_stats_get(const tw_store *cs, tw_store_stats *out)
{
    if (!cs || !out) return TW_ERR_INVALID_ARG;
    if (out->version < 1 || out->version > TW_STORE_STATS_VERSION) return TW_ERR_VERSION;
    tw_store *s = (tw_store *)cs; /* head_peek caches buffers only */
    tw_store_stats st = s->st;
    st.version = TW_STORE_STATS_VERSION;
    st.records = s->live_records;
    st.bytes = s->live_bytes;
    st.next_seq = s->next_seq;
    st.acked_seq = s->acked;
    st.durable_seq = s->durable;
    st.read_seq = s->rd.last + 1 > s->head_seq ? s->rd.last + 1 : s->head_seq;
    if (s->o.backend == TW_STORE_MEMORY) {
        st.disk_bytes = s->ring_cap;
        st.segments = 0;
    } else {
        st.segments = (uint32_t)s->nsegs;
        st.disk_bytes = 0;
        for (size_t i = 0; i < s->nsegs; i++) st.disk_bytes += s->segs[i].size;
    }
    if (s->live_records) {
        rec_hdr h;
        uint64_t t;
        if (head_peek(s, &h, &t)) {
            st.oldest_seq = h.seq;
            st.oldest_time_ms = h.ts;
        }
        st.newest_seq = s->newest_seq;
        st.newest_time_ms = s->newest_ts;
    }
    return TW__STATS_PUT(out, &st, sizeof(tw_store_stats));
}

const char *tw_store_last_error(const tw_store *s)
{
    return s ? tw__err_msg(&s->err) : "no store";
}

tw_status tw_store_last_status(const tw_store *s) { return s ? s->err.code : TW_ERR_INVALID_ARG; }

/* ---- durable small state ---- */
static int key_ok(const char *k)
{
    if (!k || !*k) return 0;
    size_t n = 0;
    for (const char *p = k; *p; p++, n++) {
        char c = *p;
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
              c == '-' || c == '.'))
            return 0;
    }
    return n <= STATE_KEY_MAX && k[0] != '.';
}

tw_status tw_store_state_set(tw_store *s, const char *key, const void *value, size_t len)
{
    if (!s) return TW_ERR_INVALID_ARG;
    if (!key_ok(key) || (len && !value))
        return tw__err(&s->err, MOD, TW_ERR_INVALID_ARG, "invalid state key or value");
    if (len > STATE_MAX) return tw__err(&s->err, MOD, TW_ERR_RANGE, "state value over %u bytes", STATE_MAX);
    if (s->o.read_only) return tw__err(&s->err, MOD, TW_ERR_BUSY, "store opened read-only");
    if (s->o.backend == TW_STORE_MEMORY) {
        mstate **pp = &s->mstates;
        for (; *pp; pp = &(*pp)->next)
            if (!strcmp((*pp)->key, key)) break;
        mstate *m = tw__malloc(sizeof *m + (len ? len : 1));
        if (!m) return tw__err(&s->err, MOD, TW_ERR_NOMEM, "out of memory");
        tw__strlcpy(m->key, key, sizeof m->key);
        m->len = len;
        if (len) memcpy(m->val, value, len);
        if (*pp) {
            m->next = (*pp)->next;
            tw__free(*pp);
        } else {
            m->next = NULL;
        }
        *pp = m;
        return TW_OK;
    }
    uint8_t b[12 + STATE_MAX];
    memcpy(b, "TWST", 4);
    put32(b + 4, (uint32_t)len);
    if (len) memcpy(b + 12, value, len);
    put32(b + 8, tw_crc32c(tw_crc32c(0, b, 8), b + 12, len));
    int sfd = openat(s->dir_fd, "state", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sfd < 0) {
        int e = errno;
        return tw__err(&s->err, MOD, errno_status(e), "%s/state: %s", s->dir, strerror(e));
    }
    char sdir[PATH_MAX];
    snprintf(sdir, sizeof sdir, "%s/state", s->dir);
    tw_status st = atomic_write(s, sfd, sdir, key, b, 12 + len, 1);
    close(sfd);
    return st;
}

tw_status tw_store_state_get(tw_store *s, const char *key, void *buf, size_t cap, size_t *len_out)
{
    if (!s) return TW_ERR_INVALID_ARG;
    if (len_out) *len_out = 0;
    if (!key_ok(key) || (cap && !buf))
        return tw__err(&s->err, MOD, TW_ERR_INVALID_ARG, "invalid state key or buffer");
    if (s->o.backend == TW_STORE_MEMORY) {
        for (mstate *m = s->mstates; m; m = m->next) {
            if (strcmp(m->key, key)) continue;
            if (len_out) *len_out = m->len;
            if (m->len > cap) return tw__err(&s->err, MOD, TW_ERR_RANGE, "buffer too small");
            if (m->len) memcpy(buf, m->val, m->len);
            return TW_OK;
        }
        return tw__err(&s->err, MOD, TW_ERR_NOT_FOUND, "no state '%s'", key);
    }
    char path[STATE_KEY_MAX + 8];
    snprintf(path, sizeof path, "state/%s", key);
    int fd = openat(s->dir_fd, path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        return tw__err(&s->err, MOD, e == ENOENT ? TW_ERR_NOT_FOUND : errno_status(e),
                       "state '%s': %s", key, strerror(e));
    }
    uint8_t b[12 + STATE_MAX + 1];
    ssize_t n = full_pread(fd, b, sizeof b, 0);
    int e = errno;
    close(fd);
    if (n < 0) return tw__err(&s->err, MOD, errno_status(e), "state '%s': %s", key, strerror(e));
    uint32_t len = n >= 12 ? get32(b + 4) : 0;
    if (n < 12 || memcmp(b, "TWST", 4) != 0 || len > STATE_MAX || (size_t)n != 12 + len ||
        get32(b + 8) != tw_crc32c(tw_crc32c(0, b, 8), b + 12, len))
        return tw__err(&s->err, MOD, TW_ERR_CORRUPT, "state '%s' is corrupt", key);
    if (len_out) *len_out = len;
    if (len > cap) return tw__err(&s->err, MOD, TW_ERR_RANGE, "buffer too small for state '%s'", key);
    if (len) memcpy(buf, b + 12, len);
    return TW_OK;
}

tw_status tw_store_state_set_u64(tw_store *s, const char *key, uint64_t value)
{
    uint8_t b[8];
    put64(b, value);
    return tw_store_state_set(s, key, b, sizeof b);
}

tw_status tw_store_state_get_u64(tw_store *s, const char *key, uint64_t *value)
{
    if (!value) return TW_ERR_INVALID_ARG;
    uint8_t b[8];
    size_t n = 0;
    tw_status st = tw_store_state_get(s, key, b, sizeof b, &n);
    if (st == TW_ERR_RANGE || (st == TW_OK && n != 8))
        return tw__err(&s->err, MOD, TW_ERR_CORRUPT, "state '%s' is not an 8-byte integer", key);
    if (st != TW_OK) return st;
    *value = get64(b);
    return TW_OK;
}
