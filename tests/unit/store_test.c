/* Unit tests of the store module: CRC32C, memory and disk back ends, recovery (torn writes, bit
 * flips), bounds and overflow policies, disk full, kill -9 durability, lock, durable state. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "twtest.h"
#include "internal.h"
#include "store/store_internal.h"
#include "tagwire/store.h"

/* ---- helpers ---- */

/* Deterministic payload of record `seq` (length 8..71). */
static size_t payload_for(uint64_t seq, uint8_t *buf)
{
    size_t len = 8 + (size_t)(seq * 7919 % 64);
    for (size_t i = 0; i < len; i++) buf[i] = (uint8_t)(seq * 31 + i * 7 + (seq >> 8));
    return len;
}

static void check_payload(const tw_store_record *r)
{
    uint8_t want[128];
    size_t len = payload_for(r->seq, want);
    assert_int_equal(r->len, len);
    assert_memory_equal(r->data, want, len);
}

static void append_n(tw_store *s, uint64_t first_expected, int n)
{
    uint8_t buf[128];
    for (int i = 0; i < n; i++) {
        uint64_t seq = 0, want = first_expected + (uint64_t)i;
        size_t len = payload_for(want, buf);
        assert_int_equal(tw_store_append(s, &seq, buf, len), TW_OK);
        assert_int_equal(seq, want);
    }
}

/* Reads everything from the cursor; checks order and content; returns the count and the
 * first/last seqs. */
static uint64_t read_all(tw_store *s, uint64_t *first, uint64_t *last)
{
    tw_store_record r;
    uint64_t n = 0, prev = 0;
    if (first) *first = 0;
    tw_status st;
    while ((st = tw_store_read(s, &r)) == TW_OK) {
        assert_true(r.seq > prev);
        check_payload(&r);
        if (!n && first) *first = r.seq;
        prev = r.seq;
        n++;
    }
    assert_int_equal(st, TW_ERR_AGAIN);
    if (last) *last = prev;
    return n;
}

static tw_store_stats stats(tw_store *s)
{
    tw_store_stats st;
    memset(&st, 0, sizeof st);
    st.version = TW_STORE_STATS_VERSION;
    assert_int_equal(tw_store_stats_get(s, &st), TW_OK);
    return st;
}

static tw_store *open_disk(const char *dir, tw_store_sync_policy sync, uint64_t seg_bytes)
{
    tw_store_options o = TW_STORE_OPTIONS_INIT;
    o.backend = TW_STORE_DISK;
    o.dir = dir;
    o.sync = sync;
    o.segment_bytes = seg_bytes;
    tw_store *s = NULL;
    tw_status st = tw_store_new(&s, &o);
    if (st != TW_OK) fail_msg("tw_store_new(%s): %s", dir, tw_status_name(st));
    return s;
}

static void flip_bit(const char *path, long off, int bit);

static int64_t fake_now;
static int64_t fake_clock(void *ctx)
{
    (void)ctx;
    return fake_now;
}

static int setup(void **state)
{
    (void)state;
    return tw_init(NULL) == TW_OK ? 0 : -1;
}
static int teardown(void **state)
{
    (void)state;
    tw_shutdown();
    return 0;
}

static long file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (long)sb.st_size : -1;
}

/* ---- CRC32C (RFC 3720 appendix B.4) ---- */
static void test_crc32c_vectors(void **state)
{
    (void)state;
    uint8_t b[48];
    typedef uint32_t (*crc_fn)(uint32_t, const void *, size_t);
    crc_fn fns[2] = {tw_crc32c, tw__crc32c_sw};
    for (int f = 0; f < 2; f++) {
        memset(b, 0, 32);
        assert_int_equal(fns[f](0, b, 32), 0x8A9136AAu);
        memset(b, 0xff, 32);
        assert_int_equal(fns[f](0, b, 32), 0x62A8AB43u);
        for (int i = 0; i < 32; i++) b[i] = (uint8_t)i;
        assert_int_equal(fns[f](0, b, 32), 0x46DD794Eu);
        for (int i = 0; i < 32; i++) b[i] = (uint8_t)(31 - i);
        assert_int_equal(fns[f](0, b, 32), 0x113FDB5Cu);
        static const uint8_t pdu[48] = {
            0x01, 0xc0, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
            0x14, 0x00, 0x00, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x18,
            0x28, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
        assert_int_equal(fns[f](0, pdu, 48), 0xD9963A56u);
        assert_int_equal(fns[f](0, "123456789", 9), 0xE3069283u);
        /* incremental = one shot, at every split and misalignment */
        uint8_t big[300];
        for (int i = 0; i < 300; i++) big[i] = (uint8_t)(i * 13 + 5);
        uint32_t whole = fns[f](0, big, 300);
        for (int split = 0; split <= 300; split += 7)
            assert_int_equal(fns[f](fns[f](0, big, (size_t)split), big + split, 300 - (size_t)split), whole);
        for (int off = 1; off < 9; off++)
            assert_int_equal(tw_crc32c(0, big + off, 200), tw__crc32c_sw(0, big + off, 200));
    }
}

/* ---- memory back end ---- */
static void test_memory_basic(void **state)
{
    (void)state;
    tw_store_options o = TW_STORE_OPTIONS_INIT;
    tw_store *s;
    assert_int_equal(tw_store_new(&s, &o), TW_OK);
    append_n(s, 1, 100);
    assert_int_equal(tw_store_durable_seq(s), 100);
    uint64_t first, last;
    assert_int_equal(read_all(s, &first, &last), 100);
    assert_int_equal(first, 1);
    assert_int_equal(last, 100);
    assert_int_equal(tw_store_ack(s, 40), TW_OK);
    assert_int_equal(tw_store_ack(s, 101), TW_ERR_RANGE);
    assert_int_equal(tw_store_rewind(s), TW_OK);
    assert_int_equal(read_all(s, &first, &last), 60);
    assert_int_equal(first, 41);
    tw_store_stats st = stats(s);
    assert_int_equal(st.records, 60);
    assert_int_equal(st.oldest_seq, 41);
    assert_int_equal(st.newest_seq, 100);
    assert_int_equal(st.acked_seq, 40);
    /* data appended after the reader caught up is read next */
    append_n(s, 101, 5);
    assert_int_equal(read_all(s, &first, NULL), 5);
    assert_int_equal(first, 101);
    assert_int_equal(tw_store_ack(s, 105), TW_OK);
    st = stats(s);
    assert_int_equal(st.records, 0);
    assert_int_equal(st.bytes, 0);
    assert_int_equal(tw_store_append(s, NULL, "x", 0), TW_ERR_INVALID_ARG);
    tw_store_free(s);
}

static void test_memory_overflow(void **state)
{
    (void)state;
    uint8_t buf[128];
    /* drop oldest: the ring wraps many times; only the newest records stay, drops counted */
    tw_store_options o = TW_STORE_OPTIONS_INIT;
    o.max_bytes = 2000;
    tw_store *s;
    assert_int_equal(tw_store_new(&s, &o), TW_OK);
    uint64_t bytes_total = 0;
    for (uint64_t q = 1; q <= 1000; q++) bytes_total += TW_STORE_RECORD_OVERHEAD + payload_for(q, buf);
    append_n(s, 1, 1000);
    tw_store_stats st = stats(s);
    assert_true(st.bytes <= 2000);
    assert_true(st.records > 10);
    assert_int_equal(st.records + st.dropped_overflow, 1000);
    assert_int_equal(st.newest_seq, 1000);
    uint64_t first, last;
    assert_int_equal(read_all(s, &first, &last), st.records);
    assert_int_equal(first, 1001 - st.records);
    assert_int_equal(last, 1000);
    (void)bytes_total;
    tw_store_free(s);

    /* refuse new */
    o.overflow = TW_STORE_REFUSE_NEW;
    assert_int_equal(tw_store_new(&s, &o), TW_OK);
    int ok = 0, refused = 0;
    for (uint64_t q = 1; q <= 100; q++) {
        size_t len = payload_for((uint64_t)ok + 1, buf);
        tw_status r = tw_store_append(s, NULL, buf, len);
        if (r == TW_OK) ok++;
        else {
            assert_int_equal(r, TW_ERR_FULL);
            refused++;
        }
    }
    st = stats(s);
    assert_true(refused > 0);
    assert_int_equal(st.refused_full, (uint64_t)refused);
    assert_int_equal(st.records, (uint64_t)ok);
    assert_int_equal(st.dropped_overflow, 0);
    assert_int_equal(read_all(s, &first, NULL), (uint64_t)ok);
    assert_int_equal(first, 1);
    /* acknowledging makes room again */
    assert_int_equal(tw_store_ack(s, (uint64_t)ok), TW_OK);
    assert_int_equal(tw_store_append(s, NULL, buf, payload_for((uint64_t)ok + 1, buf)), TW_OK);
    /* a record larger than the store is out of range, not "full" */
    uint8_t huge[3000] = {0};
    assert_int_equal(tw_store_append(s, NULL, huge, sizeof huge), TW_ERR_RANGE);
    tw_store_free(s);
}

static void test_age_bound(void **state)
{
    (void)state;
    for (int backend = 0; backend < 2; backend++) {
        char *dir = twt_mkdtemp("store_age");
        tw_store_options o = TW_STORE_OPTIONS_INIT;
        o.backend = backend ? TW_STORE_DISK : TW_STORE_MEMORY;
        o.dir = dir;
        o.max_age_ms = 10000;
        o.segment_bytes = 4096;
        tw_store *s;
        assert_int_equal(tw_store_new(&s, &o), TW_OK);
        fake_now = 1700000000000;
        tw__store_set_clock(s, fake_clock, NULL);
        for (uint64_t q = 1; q <= 200; q++) {
            append_n(s, q, 1);
            fake_now += 100; /* 10 records a second */
        }
        /* now = start + 20 s: records appended more than 10 s ago (the first 100) expire */
        uint32_t next = 0;
        assert_int_equal(tw_store_poll(s, &next), TW_OK);
        tw_store_stats st = stats(s);
        assert_true(st.dropped_age >= 99 && st.dropped_age <= 101);
        assert_int_equal(st.records + st.dropped_age, 200);
        assert_true(st.oldest_time_ms >= fake_now - 10000);
        assert_true(next <= 10000);
        uint64_t first, last;
        assert_int_equal(read_all(s, &first, &last), st.records);
        assert_int_equal(first, 201 - st.records);
        fake_now += 60000;
        assert_int_equal(tw_store_poll(s, NULL), TW_OK);
        st = stats(s);
        assert_int_equal(st.records, 0);
        assert_int_equal(st.dropped_age, 200);
        tw_store_free(s);
        if (backend) {
            /* the drop counters survive a restart */
            s = open_disk(dir, TW_STORE_SYNC_EVERY_RECORD, 4096);
            st = stats(s);
            assert_int_equal(st.dropped_age, 200);
            assert_int_equal(st.records, 0);
            assert_int_equal(st.next_seq, 201);
            tw_store_free(s);
        }
        twt_rmtree(dir);
        free(dir);
    }
}

/* ---- disk back end ---- */
static void test_disk_reopen(void **state)
{
    (void)state;
    tw_store_sync_policy pols[3] = {TW_STORE_SYNC_EVERY_RECORD, TW_STORE_SYNC_BATCH, TW_STORE_SYNC_OS};
    for (int p = 0; p < 3; p++) {
        char *dir = twt_mkdtemp("store_reopen");
        tw_store *s = open_disk(dir, pols[p], 4096); /* small segments: many rotations */
        append_n(s, 1, 500);
        if (pols[p] == TW_STORE_SYNC_EVERY_RECORD || pols[p] == TW_STORE_SYNC_OS)
            assert_int_equal(tw_store_durable_seq(s), 500);
        assert_int_equal(tw_store_sync(s), TW_OK);
        assert_int_equal(tw_store_durable_seq(s), 500);
        tw_store_stats st = stats(s);
        assert_true(st.segments > 5);
        assert_int_equal(st.records, 500);
        uint64_t first, last;
        assert_int_equal(read_all(s, &first, &last), 500);
        assert_int_equal(tw_store_ack(s, 321), TW_OK);
        st = stats(s);
        assert_int_equal(st.records, 179);
        assert_int_equal(st.oldest_seq, 322);
        uint32_t segs_after_ack = st.segments;
        tw_store_free(s);

        /* restart: the acknowledged watermark holds, the rest replays, numbering continues */
        s = open_disk(dir, pols[p], 4096);
        st = stats(s);
        assert_int_equal(st.records, 179);
        assert_int_equal(st.acked_seq, 321);
        assert_int_equal(st.next_seq, 501);
        assert_int_equal(st.torn_records, 0);
        assert_int_equal(st.corrupt_regions, 0);
        assert_int_equal(st.segments, segs_after_ack);
        assert_int_equal(read_all(s, &first, &last), 179);
        assert_int_equal(first, 322);
        assert_int_equal(last, 500);
        /* reconnect: rewind replays everything unacknowledged */
        assert_int_equal(tw_store_ack(s, 400), TW_OK);
        assert_int_equal(tw_store_rewind(s), TW_OK);
        assert_int_equal(read_all(s, &first, &last), 100);
        assert_int_equal(first, 401);
        append_n(s, 501, 10);
        assert_int_equal(tw_store_ack(s, 510), TW_OK);
        st = stats(s);
        assert_int_equal(st.records, 0);
        assert_int_equal(st.segments, 1);
        tw_store_free(s);
        /* fully acknowledged: numbering still continues after restart */
        s = open_disk(dir, pols[p], 4096);
        append_n(s, 511, 1);
        tw_store_free(s);
        twt_rmtree(dir);
        free(dir);
    }
}

/* A damaged checkpoint costs duplicates (replay from the oldest record on disk), never data,
 * and never a reused sequence number. */
static void test_checkpoint_damage(void **state)
{
    (void)state;
    char *dir = twt_mkdtemp("store_ck");
    tw_store *s = open_disk(dir, TW_STORE_SYNC_EVERY_RECORD, 0);
    append_n(s, 1, 10);
    assert_int_equal(tw_store_ack(s, 5), TW_OK);
    tw_store_free(s);
    s = open_disk(dir, TW_STORE_SYNC_EVERY_RECORD, 0);
    assert_int_equal(stats(s).records, 5);
    tw_store_free(s);
    flip_bit(twt_path(0, dir, "checkpoint"), 10, 3);
    s = open_disk(dir, TW_STORE_SYNC_EVERY_RECORD, 0);
    tw_store_stats st = stats(s);
    assert_int_equal(st.records, 10);
    assert_int_equal(st.acked_seq, 0);
    uint64_t first, last;
    assert_int_equal(read_all(s, &first, &last), 10);
    assert_int_equal(first, 1);
    append_n(s, 11, 1);
    tw_store_free(s);
    twt_rmtree(dir);
    free(dir);
}

static void test_lock(void **state)
{
    (void)state;
    char *dir = twt_mkdtemp("store_lock");
    tw_store *a = open_disk(dir, TW_STORE_SYNC_EVERY_RECORD, 0), *b = NULL;
    tw_store_options o = TW_STORE_OPTIONS_INIT;
    o.backend = TW_STORE_DISK;
    o.dir = dir;
    assert_int_equal(tw_store_new(&b, &o), TW_ERR_STORE_LOCKED);
    assert_null(b);
    /* also from another process */
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        tw_store *c = NULL;
        _exit(tw_store_new(&c, &o) == TW_ERR_STORE_LOCKED ? 0 : 1);
    }
    int wst;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    /* read-only inspection does not need the lock and writes nothing */
    append_n(a, 1, 3);
    o.read_only = 1;
    assert_int_equal(tw_store_new(&b, &o), TW_OK);
    assert_int_equal(read_all(b, NULL, NULL), 3);
    assert_int_equal(tw_store_append(b, NULL, "x", 1), TW_ERR_BUSY);
    assert_int_equal(tw_store_ack(b, 1), TW_ERR_BUSY);
    tw_store_free(b);
    tw_store_free(a);
    o.read_only = 0;
    assert_int_equal(tw_store_new(&b, &o), TW_OK);
    tw_store_free(b);
    twt_rmtree(dir);
    free(dir);
}

static void test_state(void **state)
{
    (void)state;
    char *dir = twt_mkdtemp("store_state");
    for (int backend = 0; backend < 2; backend++) {
        tw_store_options o = TW_STORE_OPTIONS_INIT;
        o.backend = backend ? TW_STORE_DISK : TW_STORE_MEMORY;
        o.dir = dir;
        tw_store *s;
        assert_int_equal(tw_store_new(&s, &o), TW_OK);
        uint64_t v = 0;
        assert_int_equal(tw_store_state_get_u64(s, "bdSeq", &v), TW_ERR_NOT_FOUND);
        assert_int_equal(tw_store_state_set_u64(s, "bdSeq", 7), TW_OK);
        assert_int_equal(tw_store_state_set_u64(s, "bdSeq", 8), TW_OK);
        assert_int_equal(tw_store_state_get_u64(s, "bdSeq", &v), TW_OK);
        assert_int_equal(v, 8);
        assert_int_equal(tw_store_state_set(s, "name", "hello", 5), TW_OK);
        char buf[8];
        size_t n = 0;
        assert_int_equal(tw_store_state_get(s, "name", buf, 2, &n), TW_ERR_RANGE);
        assert_int_equal(n, 5);
        assert_int_equal(tw_store_state_get(s, "name", buf, sizeof buf, &n), TW_OK);
        assert_memory_equal(buf, "hello", 5);
        assert_int_equal(tw_store_state_get_u64(s, "name", &v), TW_ERR_CORRUPT);
        assert_int_equal(tw_store_state_set(s, "../x", "a", 1), TW_ERR_INVALID_ARG);
        assert_int_equal(tw_store_state_set(s, "a/b", "a", 1), TW_ERR_INVALID_ARG);
        assert_int_equal(tw_store_state_set(s, "", "a", 1), TW_ERR_INVALID_ARG);
        static uint8_t big[5000];
        assert_int_equal(tw_store_state_set(s, "big", big, sizeof big), TW_ERR_RANGE);
        tw_store_free(s);
    }
    /* disk: survives reopen; a damaged value is detected */
    tw_store *s = open_disk(dir, TW_STORE_SYNC_EVERY_RECORD, 0);
    uint64_t v = 0;
    assert_int_equal(tw_store_state_get_u64(s, "bdSeq", &v), TW_OK);
    assert_int_equal(v, 8);
    assert_int_equal(twt_sh("printf 'TWST\\010\\000\\000\\000xxxx12345678' > '%s/state/bdSeq'", dir), 0);
    assert_int_equal(tw_store_state_get_u64(s, "bdSeq", &v), TW_ERR_CORRUPT);
    assert_non_null(strstr(tw_store_last_error(s), "corrupt"));
    tw_store_free(s);
    twt_rmtree(dir);
    free(dir);
}

/* Torn writes: cut the last segment at every byte offset of its last record. */
static void test_torn_every_offset(void **state)
{
    (void)state;
    char *dir = twt_mkdtemp("store_torn");
    tw_store *s = open_disk(dir, TW_STORE_SYNC_EVERY_RECORD, 1 << 20);
    const int n = 20;
    append_n(s, 1, n);
    tw_store_free(s);
    const char *seg = twt_path(0, dir, "seg-00000000000000000001.twl");
    long full = file_size(seg);
    uint8_t buf[128];
    long last_len = (long)(TW_STORE_RECORD_OVERHEAD + payload_for((uint64_t)n, buf));
    long last_off = full - last_len;
    assert_true(last_off > 8);
    assert_int_equal(twt_sh("cp '%s' '%s.orig'", seg, seg), 0);
    for (long cut = last_off; cut < full; cut++) {
        assert_int_equal(twt_sh("cp '%s.orig' '%s' && truncate -s %ld '%s' && rm -f '%s/checkpoint'",
                                seg, seg, cut, seg, dir), 0);
        s = open_disk(dir, TW_STORE_SYNC_EVERY_RECORD, 1 << 20);
        tw_store_stats st = stats(s);
        assert_int_equal(st.records, (uint64_t)n - 1);
        assert_int_equal(st.torn_records, cut > last_off ? 1 : 0);
        assert_int_equal(st.torn_bytes, (uint64_t)(cut - last_off));
        assert_int_equal(st.corrupt_regions, 0);
        uint64_t first, last;
        assert_int_equal(read_all(s, &first, &last), (uint64_t)n - 1);
        assert_int_equal(first, 1);
        assert_int_equal(last, (uint64_t)n - 1);
        /* the torn tail was cut off: the next append lands right after the last complete record */
        assert_int_equal(file_size(seg), last_off);
        append_n(s, (uint64_t)n, 1);
        tw_store_free(s);
        s = open_disk(dir, TW_STORE_SYNC_EVERY_RECORD, 1 << 20);
        st = stats(s);
        assert_int_equal(st.records, (uint64_t)n);
        assert_int_equal(st.torn_records, 0);
        assert_int_equal(read_all(s, NULL, &last), (uint64_t)n);
        assert_int_equal(last, (uint64_t)n);
        tw_store_free(s);
    }
    /* the checkpoint written at close says seq n was handed out: after the tear, numbering
     * continues after n (never reused) in a new segment, and everything stays readable */
    assert_int_equal(twt_sh("cp '%s.orig' '%s' && truncate -s %ld '%s'", seg, seg, last_off + 5, seg), 0);
    s = open_disk(dir, TW_STORE_SYNC_EVERY_RECORD, 1 << 20);
    tw_store_stats st = stats(s);
    assert_int_equal(st.torn_records, 1);
    assert_int_equal(st.next_seq, (uint64_t)n + 1);
    append_n(s, (uint64_t)n + 1, 3);
    tw_store_free(s);
    s = open_disk(dir, TW_STORE_SYNC_EVERY_RECORD, 1 << 20);
    st = stats(s);
    assert_int_equal(st.torn_records, 0);
    assert_int_equal(st.corrupt_regions, 0);
    assert_int_equal(st.records, (uint64_t)n + 2);
    assert_int_equal(st.segments, 2);
    uint64_t first, last;
    assert_int_equal(read_all(s, &first, &last), (uint64_t)n + 2);
    assert_int_equal(first, 1);
    assert_int_equal(last, (uint64_t)n + 3);
    tw_store_free(s);
    twt_rmtree(dir);
    free(dir);
}

/* Flips one bit at `off` of the file. */
static void flip_bit(const char *path, long off, int bit)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, off), 1);
    b ^= (uint8_t)(1u << bit);
    assert_int_equal(pwrite(fd, &b, 1, off), 1);
    close(fd);
}

static void test_bit_flips(void **state)
{
    (void)state;
    uint8_t buf[128];
    const int n = 40, victim = 17;
    /* offset of record `victim` */
    long off = 8;
    for (int q = 1; q < victim; q++) off += (long)(TW_STORE_RECORD_OVERHEAD + payload_for((uint64_t)q, buf));
    long vlen = (long)(TW_STORE_RECORD_OVERHEAD + payload_for((uint64_t)victim, buf));
    /* a flip anywhere in the victim (length, CRC, seq, time, payload) loses that record only */
    long where[] = {0, 1, 3, 4, 7, 8, 12, 16, 23, 24, vlen - 1};
    for (size_t w = 0; w < TW__ARRAY_LEN(where); w++) {
        for (int bit = 0; bit < 8; bit += 7) {
            char *dir = twt_mkdtemp("store_flip");
            tw_store *s = open_disk(dir, TW_STORE_SYNC_OS, 1 << 20);
            append_n(s, 1, n);
            tw_store_free(s);
            flip_bit(twt_path(0, dir, "seg-00000000000000000001.twl"), off + where[w], bit);
            s = open_disk(dir, TW_STORE_SYNC_OS, 1 << 20);
            tw_store_stats st = stats(s);
            assert_int_equal(st.records, (uint64_t)n - 1);
            assert_int_equal(st.corrupt_regions, 1);
            assert_int_equal(st.corrupt_records, 1);
            assert_int_equal(st.corrupt_bytes, (uint64_t)vlen);
            assert_int_equal(st.torn_records, 0);
            tw_store_record r;
            uint64_t expect = 1;
            while (tw_store_read(s, &r) == TW_OK) {
                if (expect == (uint64_t)victim) expect++;
                assert_int_equal(r.seq, expect);
                check_payload(&r);
                expect++;
            }
            assert_int_equal(expect, (uint64_t)n + 1);
            /* appends continue after the last good record */
            append_n(s, (uint64_t)n + 1, 1);
            tw_store_free(s);
            twt_rmtree(dir);
            free(dir);
        }
    }
    /* damage across segments: garbage over a whole middle segment, flips in two others */
    char *dir = twt_mkdtemp("store_flip2");
    tw_store *s = open_disk(dir, TW_STORE_SYNC_OS, 4096);
    append_n(s, 1, 600);
    tw_store_stats st = stats(s);
    assert_true(st.segments >= 8);
    tw_store_free(s);
    assert_int_equal(twt_sh("cd '%s' && set -- seg-*.twl && head -c 3000 /dev/urandom | "
                            "dd of=\"$3\" bs=1 seek=8 conv=notrunc 2>/dev/null && "
                            "printf 'X' | dd of=\"$2\" bs=1 seek=100 conv=notrunc 2>/dev/null",
                            dir), 0);
    s = open_disk(dir, TW_STORE_SYNC_OS, 4096);
    st = stats(s);
    assert_true(st.corrupt_regions >= 2);
    assert_true(st.corrupt_records >= 2);
    uint64_t first, last;
    uint64_t got = read_all(s, &first, &last);
    assert_int_equal(got, st.records);
    assert_int_equal(got + st.corrupt_records, 600);
    assert_int_equal(first, 1);
    assert_int_equal(last, 600);
    tw_store_free(s);
    twt_rmtree(dir);
    free(dir);
}

static void test_disk_overflow(void **state)
{
    (void)state;
    char *dir = twt_mkdtemp("store_dover");
    tw_store_options o = TW_STORE_OPTIONS_INIT;
    o.backend = TW_STORE_DISK;
    o.dir = dir;
    o.max_bytes = 20000;
    o.segment_bytes = 4096;
    o.sync = TW_STORE_SYNC_OS;
    tw_store *s;
    assert_int_equal(tw_store_new(&s, &o), TW_OK);
    append_n(s, 1, 2000);
    tw_store_stats st = stats(s);
    assert_true(st.bytes <= 20000);
    assert_int_equal(st.records + st.dropped_overflow, 2000);
    assert_true(st.disk_bytes <= 20000 + 4096 + 8 * st.segments);
    uint64_t first, last;
    assert_int_equal(read_all(s, &first, &last), st.records);
    assert_int_equal(first, 2001 - st.records);
    uint64_t dropped = st.dropped_overflow;
    tw_store_free(s);
    assert_int_equal(tw_store_new(&s, &o), TW_OK);
    st = stats(s);
    assert_int_equal(st.dropped_overflow, dropped);
    assert_int_equal(st.oldest_seq, first);
    assert_int_equal(read_all(s, NULL, NULL), st.records);
    tw_store_free(s);

    o.overflow = TW_STORE_REFUSE_NEW;
    twt_rmtree(dir);
    assert_int_equal(tw_store_new(&s, &o), TW_OK);
    uint8_t buf[128];
    uint64_t ok = 0, refused = 0;
    for (int i = 0; i < 1000; i++) {
        tw_status r = tw_store_append(s, NULL, buf, payload_for(ok + 1, buf));
        if (r == TW_OK) ok++;
        else {
            assert_int_equal(r, TW_ERR_FULL);
            refused++;
        }
    }
    st = stats(s);
    assert_int_equal(st.refused_full, refused);
    assert_int_equal(st.records, ok);
    assert_int_equal(read_all(s, &first, NULL), ok);
    assert_int_equal(first, 1);
    tw_store_free(s);
    twt_rmtree(dir);
    free(dir);
}

/* ---- disk full ---- */
static int mount_small(const char *dir, const char *size)
{
    char opt[64];
    snprintf(opt, sizeof opt, "size=%s,mode=0700", size);
    return mount("tmpfs", dir, "tmpfs", 0, opt);
}

static void disk_full_scenarios(const char *dir)
{
    uint8_t buf[1200];
    memset(buf, 0xab, sizeof buf);
    /* refuse new: the store fills the filesystem, then reports NO_SPACE; nothing accepted is lost */
    tw_store_options o = TW_STORE_OPTIONS_INIT;
    o.backend = TW_STORE_DISK;
    o.dir = dir;
    o.segment_bytes = 16384;
    o.overflow = TW_STORE_REFUSE_NEW;
    tw_store *s;
    assert_int_equal(tw_store_new(&s, &o), TW_OK);
    uint64_t accepted = 0, refused = 0;
    for (int i = 0; i < 400; i++) {
        uint64_t seq;
        tw_status r = tw_store_append(s, &seq, buf, sizeof buf);
        if (r == TW_OK) {
            accepted++;
            assert_int_equal(seq, accepted);
        } else {
            assert_int_equal(r, TW_ERR_NO_SPACE);
            refused++;
        }
    }
    assert_true(accepted > 50);
    assert_true(refused > 0);
    tw_store_stats st = stats(s);
    assert_int_equal(st.refused_no_space, refused);
    assert_int_equal(st.records, accepted);
    /* acknowledging frees segments: appends work again */
    assert_int_equal(tw_store_ack(s, accepted / 2), TW_OK);
    uint64_t seq;
    assert_int_equal(tw_store_append(s, &seq, buf, sizeof buf), TW_OK);
    assert_int_equal(seq, accepted + 1);
    tw_store_free(s);
    assert_int_equal(tw_store_new(&s, &o), TW_OK);
    st = stats(s);
    assert_int_equal(st.records, accepted + 1 - accepted / 2);
    assert_int_equal(st.oldest_seq, accepted / 2 + 1);
    assert_int_equal(st.torn_records, 0);
    assert_int_equal(st.refused_no_space, refused);
    tw_store_record rec;
    uint64_t n = 0;
    while (tw_store_read(s, &rec) == TW_OK) {
        assert_int_equal(rec.len, sizeof buf);
        assert_memory_equal(rec.data, buf, sizeof buf);
        n++;
    }
    assert_int_equal(n, st.records);
    assert_int_equal(tw_store_ack(s, accepted + 1), TW_OK);
    tw_store_free(s);

    /* drop oldest: the store keeps accepting, dropping whole old segments, counted */
    o.overflow = TW_STORE_DROP_OLDEST;
    assert_int_equal(tw_store_new(&s, &o), TW_OK);
    uint64_t base = stats(s).next_seq, ok = 0, fail = 0;
    for (int i = 0; i < 600; i++) {
        tw_status r = tw_store_append(s, NULL, buf, sizeof buf);
        if (r == TW_OK) ok++;
        else {
            assert_int_equal(r, TW_ERR_NO_SPACE);
            fail++;
        }
    }
    st = stats(s);
    assert_true(ok >= 590);
    assert_true(st.dropped_no_space > 0);
    assert_int_equal(st.records + st.dropped_no_space, ok);
    assert_int_equal(st.newest_seq, base + ok - 1);
    uint64_t first = 0, cnt = 0, prev = 0;
    while (tw_store_read(s, &rec) == TW_OK) {
        if (!cnt) first = rec.seq;
        else assert_int_equal(rec.seq, prev + 1);
        prev = rec.seq;
        cnt++;
    }
    assert_int_equal(cnt, st.records);
    assert_int_equal(prev, base + ok - 1);
    (void)first;
    tw_store_free(s);
}

static char *full_mount; /* unmounted by the teardown, also when an assertion failed */
static int full_teardown(void **state)
{
    (void)state;
    if (full_mount) {
        umount2(full_mount, MNT_DETACH);
        twt_rmtree(full_mount);
        free(full_mount);
        full_mount = NULL;
    }
    return 0;
}

static void test_disk_full(void **state)
{
    (void)state;
    char *dir = twt_mkdtemp("store_full");
    /* TWT_STORE_NO_MOUNT=1 forces the fallback used without root */
    if (!getenv("TWT_STORE_NO_MOUNT") && mount_small(dir, "256k") == 0) {
        full_mount = dir;
        char *sub = strdup(twt_path(1, dir, "store"));
        disk_full_scenarios(sub);
        /* state writes on a full disk fail cleanly and keep the old value */
        tw_store *s = open_disk(sub, TW_STORE_SYNC_EVERY_RECORD, 16384);
        assert_int_equal(tw_store_state_set_u64(s, "bdSeq", 1), TW_OK);
        assert_int_equal(twt_sh("cat /dev/zero > '%s/filler' 2>/dev/null; true", dir), 0);
        static uint8_t val[4000];
        tw_status r = tw_store_state_set(s, "big", val, sizeof val);
        assert_int_equal(r, TW_ERR_NO_SPACE);
        uint64_t v = 0;
        assert_int_equal(tw_store_state_get_u64(s, "bdSeq", &v), TW_OK);
        assert_int_equal(v, 1);
        /* and appends on the full disk: refused or old data dropped, never a crash */
        uint8_t buf[1200] = {0};
        r = tw_store_append(s, NULL, buf, sizeof buf);
        assert_true(r == TW_OK || r == TW_ERR_NO_SPACE);
        tw_store_free(s);
        free(sub);
        assert_int_equal(umount(dir), 0);
        full_mount = NULL;
    } else {
        /* not allowed to mount (not root): a per-process file size limit in a child */
        print_message("no tmpfs mount (not root, or TWT_STORE_NO_MOUNT): using RLIMIT_FSIZE\n");
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            signal(SIGXFSZ, SIG_IGN);
            struct rlimit rl = {65536, 65536};
            setrlimit(RLIMIT_FSIZE, &rl);
            uint8_t buf[1200] = {0};
            tw_store_options o = TW_STORE_OPTIONS_INIT;
            o.backend = TW_STORE_DISK;
            o.dir = dir;
            o.segment_bytes = 1 << 20;
            tw_store *s;
            if (tw_store_new(&s, &o) != TW_OK) _exit(2);
            uint64_t ok = 0;
            tw_status r;
            while ((r = tw_store_append(s, NULL, buf, sizeof buf)) == TW_OK) ok++;
            tw_store_stats st;
            st.version = TW_STORE_STATS_VERSION;
            tw_store_stats_get(s, &st);
            int good = r == TW_ERR_NO_SPACE && st.refused_no_space == 1 && st.records == ok && ok > 10;
            tw_store_free(s);
            _exit(good ? 0 : 1);
        }
        int wst;
        assert_int_equal(waitpid(pid, &wst, 0), pid);
        assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
        tw_store *s = open_disk(dir, TW_STORE_SYNC_EVERY_RECORD, 1 << 20);
        assert_int_equal(stats(s).torn_records, 0);
        assert_true(stats(s).records > 10);
        tw_store_free(s);
    }
    twt_rmtree(dir);
    free(dir);
}

/* ---- kill -9 while appending with fsync per record ---- */
static void child_append(const char *dir, int wfd, int batch)
{
    tw_store_options o = TW_STORE_OPTIONS_INIT;
    o.backend = TW_STORE_DISK;
    o.dir = dir;
    o.segment_bytes = 8192;
    o.sync = batch ? TW_STORE_SYNC_BATCH : TW_STORE_SYNC_EVERY_RECORD;
    o.sync_records = 7;
    tw_store *s;
    if (tw_store_new(&s, &o) != TW_OK) _exit(3);
    uint8_t buf[128];
    uint64_t reported = tw_store_durable_seq(s); /* what recovery found is durable already */
    for (;;) {
        tw_store_stats st;
        st.version = TW_STORE_STATS_VERSION;
        tw_store_stats_get(s, &st);
        uint64_t seq = 0;
        if (tw_store_append(s, &seq, buf, payload_for(st.next_seq, buf)) != TW_OK) _exit(4);
        /* EVERY_RECORD: durable when append returns; BATCH: when the durable watermark says so */
        uint64_t durable = tw_store_durable_seq(s);
        if (!batch && durable != seq) _exit(6);
        if (durable > reported) {
            if (write(wfd, &durable, sizeof durable) != (ssize_t)sizeof durable) _exit(5);
            reported = durable;
        }
    }
}

static void test_kill9(void **state)
{
    (void)state;
    char *dir = twt_mkdtemp("store_kill");
    uint64_t max_reported = 0, reported = 0;
    srand((unsigned)time(NULL));
    for (int round = 0; round < 20; round++) {
        int p[2];
        assert_int_equal(pipe(p), 0);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(p[0]);
            child_append(dir, p[1], round % 2);
        }
        close(p[1]);
        int want = 1 + rand() % (round % 2 ? 40 : 300);
        uint64_t seq;
        for (int i = 0; i < want; i++) {
            if (read(p[0], &seq, sizeof seq) != (ssize_t)sizeof seq) break;
            assert_true(seq > max_reported);
            max_reported = seq;
            reported++;
        }
        if (round == 0) {
            /* the running child holds the lock */
            tw_store *x = NULL;
            tw_store_options o = TW_STORE_OPTIONS_INIT;
            o.backend = TW_STORE_DISK;
            o.dir = dir;
            assert_int_equal(tw_store_new(&x, &o), TW_ERR_STORE_LOCKED);
        }
        kill(pid, SIGKILL);
        while (read(p[0], &seq, sizeof seq) == (ssize_t)sizeof seq) {
            assert_true(seq > max_reported);
            max_reported = seq;
            reported++;
        }
        close(p[0]);
        int wst;
        assert_int_equal(waitpid(pid, &wst, 0), pid);
        assert_true(WIFSIGNALED(wst));

        /* every reported record is there, in order, intact */
        tw_store *s = open_disk(dir, TW_STORE_SYNC_EVERY_RECORD, 8192);
        uint64_t first, last;
        uint64_t n = read_all(s, &first, &last);
        tw_store_stats st = stats(s);
        assert_int_equal(st.corrupt_regions, 0);
        assert_int_equal(first, 1);
        assert_true(last >= max_reported);
        assert_int_equal(n, last); /* no gaps */
        tw_store_free(s);
    }
    assert_true(reported >= 20);
    twt_rmtree(dir);
    free(dir);
}

static void test_batch_policy(void **state)
{
    (void)state;
    char *dir = twt_mkdtemp("store_batch");
    tw_store_options o = TW_STORE_OPTIONS_INIT;
    o.backend = TW_STORE_DISK;
    o.dir = dir;
    o.sync = TW_STORE_SYNC_BATCH;
    o.sync_records = 10;
    o.sync_interval_ms = 1000; /* generous: nothing below may reach it by accident */
    tw_store *s;
    assert_int_equal(tw_store_new(&s, &o), TW_OK);
    append_n(s, 1, 9);
    assert_int_equal(tw_store_durable_seq(s), 0);
    append_n(s, 10, 1);
    assert_int_equal(tw_store_durable_seq(s), 10);
    append_n(s, 11, 3);
    assert_int_equal(tw_store_durable_seq(s), 10);
    uint32_t next = 0;
    assert_int_equal(tw_store_poll(s, &next), TW_OK);
    assert_true(next > 0 && next <= 1000);
    usleep((useconds_t)(next + 5) * 1000);
    assert_int_equal(tw_store_poll(s, &next), TW_OK);
    assert_int_equal(tw_store_durable_seq(s), 13);
    assert_int_equal(next, UINT32_MAX);
    tw_store_stats st = stats(s);
    assert_int_equal(st.syncs, 2);
    tw_store_free(s);
    twt_rmtree(dir);
    free(dir);
}

static void test_bad_args(void **state)
{
    (void)state;
    tw_store *s = NULL;
    tw_store_options o = TW_STORE_OPTIONS_INIT;
    assert_int_equal(tw_store_new(NULL, &o), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_store_new(&s, NULL), TW_ERR_INVALID_ARG);
    o.version = 99;
    assert_int_equal(tw_store_new(&s, &o), TW_ERR_VERSION);
    o.version = TW_STORE_OPTIONS_VERSION;
    o.backend = TW_STORE_DISK;
    assert_int_equal(tw_store_new(&s, &o), TW_ERR_INVALID_ARG); /* no dir */
    o.dir = "/nonexistent-parent/x/y";
    assert_int_not_equal(tw_store_new(&s, &o), TW_OK);
    assert_null(s);
    o.read_only = 1;
    o.dir = "/nonexistent-tagwire-store";
    assert_int_equal(tw_store_new(&s, &o), TW_ERR_NOT_FOUND);
    tw_store_stats st;
    st.version = 999;
    o = (tw_store_options)TW_STORE_OPTIONS_INIT;
    assert_int_equal(tw_store_new(&s, &o), TW_OK);
    assert_int_equal(tw_store_stats_get(s, &st), TW_ERR_VERSION);
    tw_store_free(s);
    tw_store_free(NULL);
}

/* A failed open says which option, which directory and why (tw_last_error(), "store: ..."). */
static void test_open_errors_name_the_problem(void **state)
{
    (void)state;
    char *dir = twt_mkdtemp("store_err");
    assert_int_equal(twt_sh("printf x > '%s/file'", dir), 0);
    char bad[600];
    snprintf(bad, sizeof bad, "%s/file/spool", dir); /* the parent is a regular file */
    tw_store *s = NULL;
    tw_store_options o = TW_STORE_OPTIONS_INIT;
    o.backend = TW_STORE_DISK;
    o.dir = bad;
    assert_int_equal(tw_store_new(&s, &o), TW_ERR_IO);
    assert_null(s);
    TWT_ASSERT_LAST_ERROR("store", bad);
    TWT_ASSERT_LAST_ERROR("store", "cannot create: Not a directory");
    assert_int_equal(tw_last_error_status(), TW_ERR_IO);
    /* read-only inspection of a directory that is not there */
    o.read_only = 1;
    snprintf(bad, sizeof bad, "%s/missing", dir);
    assert_int_equal(tw_store_new(&s, &o), TW_ERR_NOT_FOUND);
    TWT_ASSERT_LAST_ERROR("store", "No such file or directory");
    TWT_ASSERT_LAST_ERROR("store", bad);
    /* options: the message names the option */
    o = (tw_store_options)TW_STORE_OPTIONS_INIT;
    o.backend = TW_STORE_DISK;
    assert_int_equal(tw_store_new(&s, &o), TW_ERR_INVALID_ARG);
    TWT_ASSERT_LAST_ERROR("store", "dir: required");
    o.version = 99;
    assert_int_equal(tw_store_new(&s, &o), TW_ERR_VERSION);
    TWT_ASSERT_LAST_ERROR("store", "version 99");
    /* a second handle on a locked directory */
    tw_store *a = open_disk(dir, TW_STORE_SYNC_EVERY_RECORD, 0);
    o = (tw_store_options)TW_STORE_OPTIONS_INIT;
    o.backend = TW_STORE_DISK;
    o.dir = dir;
    assert_int_equal(tw_store_new(&s, &o), TW_ERR_STORE_LOCKED);
    TWT_ASSERT_LAST_ERROR("store", "locked by another process");
    /* the handle's own status follows its last error */
    assert_int_equal(tw_store_last_status(a), TW_OK);
    assert_int_equal(twt_sh("printf 'TWST\\010\\000\\000\\000xxxx12345678' > '%s/state/bdSeq'", dir), 0);
    uint64_t v;
    assert_int_equal(tw_store_state_get_u64(a, "bdSeq", &v), TW_ERR_CORRUPT);
    assert_int_equal(tw_store_last_status(a), TW_ERR_CORRUPT);
    assert_int_equal(tw_store_last_status(NULL), TW_ERR_INVALID_ARG);
    tw_store_free(a);
    twt_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc32c_vectors),
        cmocka_unit_test(test_memory_basic),
        cmocka_unit_test(test_memory_overflow),
        cmocka_unit_test(test_age_bound),
        cmocka_unit_test(test_disk_reopen),
        cmocka_unit_test(test_checkpoint_damage),
        cmocka_unit_test(test_lock),
        cmocka_unit_test(test_state),
        cmocka_unit_test(test_torn_every_offset),
        cmocka_unit_test(test_bit_flips),
        cmocka_unit_test(test_disk_overflow),
        cmocka_unit_test_teardown(test_disk_full, full_teardown),
        cmocka_unit_test(test_kill9),
        cmocka_unit_test(test_batch_policy),
        cmocka_unit_test(test_bad_args),
        cmocka_unit_test(test_open_errors_name_the_problem),
    };
    if (getenv("TWT_FILTER")) cmocka_set_test_filter(getenv("TWT_FILTER"));
    return cmocka_run_group_tests(tests, setup, teardown);
}
