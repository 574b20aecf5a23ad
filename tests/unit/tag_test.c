/* Unit tests of the tag module: types, quality, names, tag sets, deadband, change sets, writes,
 * concurrency and the no-allocation promise of the setters. */
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "twtest.h"
#include "internal.h"
#include "tagwire/tag.h"

#define Q_GOOD TW_QUALITY_GOOD

static int setup_init(void **state)
{
    (void)state;
    return tw_init(NULL) == TW_OK ? 0 : -1;
}

static int teardown_init(void **state)
{
    (void)state;
    tw_shutdown();
    return 0;
}

/* Collects everything (asserting it fits) and returns the count. */
static size_t collect_all(tw_tagset *ts, tw_tag_change *out, size_t cap)
{
    size_t n = 0;
    int more = 1;
    assert_int_equal(tw_tagset_collect(ts, out, cap, &n, &more), TW_OK);
    assert_int_equal(more, 0);
    return n;
}

/* ---- types and quality ---- */

static void test_type_names(void **state)
{
    (void)state;
    for (int t = TW_TYPE_BOOL; t < TW_TYPE_MAX_; t++) {
        const char *n = tw_type_name((tw_type)t);
        assert_non_null(n);
        assert_int_equal(tw_type_from_name(n), t);
    }
    assert_string_equal(tw_type_name(TW_TYPE_DOUBLE), "double");
    assert_string_equal(tw_type_name(TW_TYPE_UINT16), "uint16");
    assert_null(tw_type_name(TW_TYPE_MAX_));
    assert_null(tw_type_name((tw_type)-1));
    assert_int_equal(tw_type_from_name("FLOAT64"), TW_TYPE_DOUBLE);
    assert_int_equal(tw_type_from_name("float32"), TW_TYPE_FLOAT);
    assert_int_equal(tw_type_from_name("Real"), TW_TYPE_FLOAT);
    assert_int_equal(tw_type_from_name("int"), TW_TYPE_INT32);
    assert_int_equal(tw_type_from_name("uint"), TW_TYPE_UINT32);
    assert_int_equal(tw_type_from_name("none"), TW_TYPE_NONE);
    assert_int_equal(tw_type_from_name("int128"), TW_TYPE_NONE);
    assert_int_equal(tw_type_from_name(NULL), TW_TYPE_NONE);
    assert_true(tw_type_is_numeric(TW_TYPE_INT8));
    assert_true(tw_type_is_numeric(TW_TYPE_DOUBLE));
    assert_false(tw_type_is_numeric(TW_TYPE_BOOL));
    assert_false(tw_type_is_numeric(TW_TYPE_STRING));
    assert_false(tw_type_is_numeric(TW_TYPE_DATETIME));
}

static void test_quality(void **state)
{
    (void)state;
    /* the codes are OPC UA StatusCodes (OPC 10000-6 numeric values) */
    assert_int_equal(TW_QUALITY_BAD_COMM_FAILURE, 0x80050000u);
    assert_int_equal(TW_QUALITY_BAD_NOT_CONNECTED, 0x808A0000u);
    assert_int_equal(TW_QUALITY_UNCERTAIN_LAST_KNOWN, 0x40900000u);
    assert_true(TW_QUALITY_IS_GOOD(TW_QUALITY_GOOD_LOCAL_OVERRIDE));
    assert_true(TW_QUALITY_IS_UNCERTAIN(TW_QUALITY_UNCERTAIN_SENSOR));
    assert_true(TW_QUALITY_IS_BAD(TW_QUALITY_BAD_CONFIG));
    assert_true(TW_QUALITY_IS_BAD(0xC0000000u)); /* reserved severity 11 counts as bad */

    assert_string_equal(tw_quality_name(TW_QUALITY_GOOD), "good");
    assert_string_equal(tw_quality_name(TW_QUALITY_BAD_COMM_FAILURE), "bad-comm-failure");
    assert_string_equal(tw_quality_name(TW_QUALITY_BAD_NOT_CONNECTED), "bad-not-connected");
    assert_string_equal(tw_quality_name(TW_QUALITY_BAD_CONFIG), "bad-config");
    assert_string_equal(tw_quality_name(TW_QUALITY_BAD_OUT_OF_RANGE), "bad-out-of-range");
    assert_string_equal(tw_quality_name(TW_QUALITY_UNCERTAIN_LAST_KNOWN), "uncertain-last-known");
    /* info bits in the low 16 bits keep the sub-code's name */
    assert_string_equal(tw_quality_name(TW_QUALITY_BAD_TIMEOUT | 0x0400u), "bad-timeout");
    /* unnamed codes fall back to the severity */
    assert_string_equal(tw_quality_name(0x00A20000u), "good");
    assert_string_equal(tw_quality_name(0x40AB0000u), "uncertain");
    assert_string_equal(tw_quality_name(0x80FF0000u), "bad");

    /* Sparkplug B "Quality" property: 192 good, 500 stale, 0 bad */
    assert_int_equal(tw_quality_to_sparkplug(TW_QUALITY_GOOD), 192);
    assert_int_equal(tw_quality_to_sparkplug(TW_QUALITY_GOOD_LOCAL_OVERRIDE), 192);
    assert_int_equal(tw_quality_to_sparkplug(TW_QUALITY_UNCERTAIN), 500);
    assert_int_equal(tw_quality_to_sparkplug(TW_QUALITY_UNCERTAIN_LAST_KNOWN), 500);
    assert_int_equal(tw_quality_to_sparkplug(TW_QUALITY_BAD), 0);
    assert_int_equal(tw_quality_to_sparkplug(TW_QUALITY_BAD_COMM_FAILURE), 0);
    assert_int_equal(tw_quality_from_sparkplug(192), TW_QUALITY_GOOD);
    assert_int_equal(tw_quality_from_sparkplug(0), TW_QUALITY_BAD);
    assert_int_equal(tw_quality_from_sparkplug(500), TW_QUALITY_UNCERTAIN_LAST_KNOWN);
    assert_int_equal(tw_quality_from_sparkplug(7), TW_QUALITY_UNCERTAIN);
    assert_int_equal(tw_quality_from_sparkplug(-1), TW_QUALITY_UNCERTAIN);
    /* round trip of the three Sparkplug values */
    int32_t sp[] = {0, 192, 500};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(tw_quality_to_sparkplug(tw_quality_from_sparkplug(sp[i])), sp[i]);
}

static tw_value mk_i(tw_type t, int64_t i) { tw_value v; v.type = t; v.as.i = i; return v; }
static tw_value mk_u(tw_type t, uint64_t u) { tw_value v; v.type = t; v.as.u = u; return v; }
static tw_value mk_d(double d) { tw_value v; v.type = TW_TYPE_DOUBLE; v.as.d = d; return v; }
static tw_value mk_s(tw_type t, const char *s, size_t n) { tw_value v; v.type = t; v.as.buf.ptr = s; v.as.buf.len = n; return v; }

static void test_value_convert(void **state)
{
    (void)state;
    tw_value in, out;
    in = mk_i(TW_TYPE_INT64, 127);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_INT8), TW_OK);
    assert_int_equal(out.type, TW_TYPE_INT8);
    assert_int_equal(out.as.i, 127);
    in.as.i = 128;
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_INT8), TW_ERR_RANGE);
    in.as.i = -1;
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_UINT64), TW_ERR_RANGE);
    in = mk_u(TW_TYPE_UINT64, UINT64_MAX);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_INT64), TW_ERR_RANGE);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_UINT64), TW_OK);
    assert_true(out.as.u == UINT64_MAX);
    in = mk_u(TW_TYPE_UINT32, 4000000000u);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_INT64), TW_OK);
    assert_true(out.as.i == 4000000000LL);
    /* floating -> integer rounds half away from zero */
    in = mk_d(2.5);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_INT16), TW_OK);
    assert_int_equal(out.as.i, 3);
    in = mk_d(-2.5);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_INT16), TW_OK);
    assert_int_equal(out.as.i, -3);
    in = mk_d(-0.4);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_UINT8), TW_OK); /* rounds to 0 */
    assert_int_equal(out.as.u, 0);
    in = mk_d(255.6);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_UINT8), TW_ERR_RANGE);
    in = mk_d(NAN);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_INT32), TW_ERR_RANGE);
    in = mk_d(INFINITY);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_INT64), TW_ERR_RANGE);
    in = mk_d(9223372036854775808.0); /* 2^63 */
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_INT64), TW_ERR_RANGE);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_UINT64), TW_OK);
    assert_true(out.as.u == 9223372036854775808ull);
    in = mk_d(-9223372036854775808.0);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_INT64), TW_OK);
    assert_true(out.as.i == INT64_MIN);
    in = mk_d(1e300);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_FLOAT), TW_ERR_RANGE);
    in = mk_d(NAN);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_FLOAT), TW_OK);
    assert_true(isnan(out.as.f));
    /* bool */
    in.type = TW_TYPE_BOOL;
    in.as.b = 1;
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_DOUBLE), TW_OK);
    assert_true(out.as.d == 1.0);
    in = mk_i(TW_TYPE_INT32, 1);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_BOOL), TW_OK);
    assert_int_equal(out.as.b, 1);
    in.as.i = 2;
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_BOOL), TW_ERR_RANGE);
    /* datetime only with integers */
    in = mk_i(TW_TYPE_DATETIME, 1700000000000000000LL);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_INT64), TW_OK);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_DOUBLE), TW_ERR_TYPE_MISMATCH);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_INT32), TW_ERR_RANGE);
    /* strings */
    in = mk_s(TW_TYPE_STRING, "abc", 3);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_DOUBLE), TW_ERR_TYPE_MISMATCH);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_BYTES), TW_OK);
    assert_ptr_equal(out.as.buf.ptr, in.as.buf.ptr);
    in = mk_s(TW_TYPE_BYTES, "\xff\xfe", 2);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_STRING), TW_ERR_PARSE);
    in = mk_d(1.0);
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_STRING), TW_ERR_TYPE_MISMATCH);
    in.type = TW_TYPE_NONE;
    assert_int_equal(tw_value_convert(&out, &in, TW_TYPE_DOUBLE), TW_ERR_TYPE_MISMATCH);
    assert_int_equal(tw_value_convert(&out, NULL, TW_TYPE_DOUBLE), TW_ERR_INVALID_ARG);
    /* equality */
    tw_value a = mk_d(NAN), b = mk_d(NAN);
    assert_true(tw_value_equal(&a, &b));
    b = mk_d(1.0);
    assert_false(tw_value_equal(&a, &b));
    a = mk_s(TW_TYPE_STRING, "x1", 2);
    b = mk_s(TW_TYPE_STRING, "x1yz", 2);
    assert_true(tw_value_equal(&a, &b));
    b.type = TW_TYPE_BYTES;
    assert_false(tw_value_equal(&a, &b));
    /* UTF-8 */
    assert_true(tw_utf8_valid("gr\xc3\xbc\xc3\x9f", 6));
    assert_false(tw_utf8_valid("\xc0\xaf", 2));          /* overlong '/' */
    assert_false(tw_utf8_valid("\xed\xa0\x80", 3));      /* surrogate */
    assert_false(tw_utf8_valid("\xf4\x90\x80\x80", 4));  /* > U+10FFFF */
    assert_false(tw_utf8_valid("\xe2\x82", 2));          /* truncated */
    assert_true(tw_utf8_valid("\xf0\x9f\x98\x80", 4));
}

/* ---- names ---- */

static void test_names(void **state)
{
    (void)state;
    const char *good[] = {
        "Temperature", "Line1/Press7/Temperature", "Folder 1/Folder 2/Metric Name",
        "a", "Motor#1/Speed+", "K\xc3\xbchlung/Temperatur", "x.y/z-1_2", "...", "a/.b/c.",
        "\xe6\xb8\xa9\xe5\xba\xa6",
    };
    for (size_t i = 0; i < TW__ARRAY_LEN(good); i++) {
        char err[128];
        tw_status st = tw_tag_name_validate(good[i], err, sizeof err);
        if (st) fail_msg("'%s' rejected: %s", good[i], err);
    }
    struct {
        const char *name;
        const char *why;
    } bad[] = {
        {"", "empty name"},
        {"/a", "empty path segment"},
        {"a/", "empty path segment"},
        {"a//b", "empty path segment"},
        {"a/ b", "starts with a space"},
        {"a /b", "ends with a space"},
        {"a/./b", "\".\" or \"..\""},
        {"../x", "\".\" or \"..\""},
        {"tab\there", "control character"},
        {"del\x7f", "control character"},
        {"c1\xc2\x85", "control character"},
        {"bad\xff", "invalid UTF-8"},
        {"over\xc0\xaf", "invalid UTF-8"},
        {"nc\xef\xbf\xbf", "non-character"},
    };
    for (size_t i = 0; i < TW__ARRAY_LEN(bad); i++) {
        char err[128];
        assert_int_equal(tw_tag_name_validate(bad[i].name, err, sizeof err), TW_ERR_PARSE);
        if (!strstr(err, bad[i].why)) fail_msg("'%s': reason '%s' lacks '%s'", bad[i].name, err, bad[i].why);
        assert_non_null(strstr(err, "at byte"));
    }
    char err[64];
    assert_int_equal(tw_tag_name_validate("a//b", err, sizeof err), TW_ERR_PARSE);
    assert_non_null(strstr(err, "byte 2"));
    /* the reason is also the thread's last error, with or without a buffer */
    TWT_ASSERT_LAST_ERROR("tag", "invalid tag name: empty path segment");
    TWT_ASSERT_LAST_ERROR("tag", err);
    assert_int_equal(tw_tag_name_validate(NULL, err, sizeof err), TW_ERR_INVALID_ARG);
    tw_last_error_clear();
    assert_int_equal(tw_tag_name_validate("a//b", NULL, 0), TW_ERR_PARSE);
    TWT_ASSERT_LAST_ERROR("tag", "byte 2");
    assert_int_equal(tw_last_error_status(), TW_ERR_PARSE);
    char tiny[4];
    assert_int_equal(tw_tag_name_validate("a//b", tiny, sizeof tiny), TW_ERR_PARSE);
    assert_int_equal(strlen(tiny), 3);
    /* length limits */
    static char longname[TW_TAG_NAME_MAX + 10];
    memset(longname, 'a', sizeof longname - 1);
    for (size_t i = 200; i < sizeof longname - 1; i += 201) longname[i] = '/';
    longname[TW_TAG_NAME_MAX] = '\0';
    assert_int_equal(tw_tag_name_validate(longname, NULL, 0), TW_ERR_PARSE); /* 1024 bytes */
    longname[TW_TAG_NAME_MAX - 1] = '\0';
    assert_int_equal(tw_tag_name_validate(longname, NULL, 0), TW_OK); /* 1023 bytes */
    char seg[300];
    memset(seg, 'b', sizeof seg);
    seg[255] = '\0';
    assert_int_equal(tw_tag_name_validate(seg, NULL, 0), TW_OK);
    seg[255] = 'b';
    seg[256] = '\0';
    assert_int_equal(tw_tag_name_validate(seg, NULL, 0), TW_ERR_PARSE);
}

/* ---- tag sets ---- */

static void test_not_initialized(void **state)
{
    (void)state;
    tw_tagset *ts = (tw_tagset *)0x1;
    assert_int_equal(tw_tagset_new(&ts), TW_ERR_NOT_INITIALIZED);
    assert_null(ts);
    TWT_ASSERT_LAST_ERROR("core", "tw_init() has not been called");
}

static void test_add_and_lookup(void **state)
{
    (void)state;
    tw_tagset *ts;
    assert_int_equal(tw_tagset_new(&ts), TW_OK);
    tw_tag *a, *b, *c, *x;
    int ud = 42;
    assert_int_equal(tw_tagset_add(ts, &a, "Line1/Press7/Temperature", TW_TYPE_DOUBLE,
                                   &(tw_tag_options){TW_TAG_OPTIONS_VERSION, .unit = "degC",
                                                     .description = "Oil temperature", .min = -20,
                                                     .max = 180, .deadband = 0.5,
                                                     .user_data = &ud}),
                     TW_OK);
    assert_int_equal(tw_tagset_add(ts, &b, "Line1/Press7/Strokes", TW_TYPE_UINT64, NULL), TW_OK);
    tw_tag_options o = TW_TAG_OPTIONS_INIT;
    o.alias = 2; /* taken by b's automatic alias */
    assert_int_equal(tw_tagset_last_status(ts), TW_OK);
    assert_int_equal(tw_tagset_add(ts, &x, "Other", TW_TYPE_INT32, &o), TW_ERR_EXISTS);
    assert_null(x);
    assert_non_null(strstr(tw_tagset_last_error(ts), "alias 2"));
    assert_int_equal(tw_tagset_last_status(ts), TW_ERR_EXISTS);
    TWT_ASSERT_LAST_ERROR("tag", "alias 2");
    assert_int_equal(tw_tagset_last_status(NULL), TW_ERR_INVALID_ARG);
    o.alias = 100;
    assert_int_equal(tw_tagset_add(ts, &c, "Setpoint", TW_TYPE_FLOAT, &o), TW_OK);
    assert_int_equal(tw_tagset_add(ts, &x, "Line1/Press7/Temperature", TW_TYPE_INT32, NULL), TW_ERR_EXISTS);
    assert_int_equal(tw_tagset_add(ts, &x, "Line1//Temp", TW_TYPE_INT32, NULL), TW_ERR_PARSE);
    assert_non_null(strstr(tw_tagset_last_error(ts), "empty path segment"));
    assert_int_equal(tw_tagset_add(ts, &x, "T", TW_TYPE_NONE, NULL), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_tagset_add(ts, &x, "T", (tw_type)(TW_TYPE_ARRAY_FLAG | TW_TYPE_INT8), NULL), TW_ERR_INVALID_ARG);
    o = (tw_tag_options)TW_TAG_OPTIONS_INIT;
    o.version = 99;
    assert_int_equal(tw_tagset_add(ts, &x, "T", TW_TYPE_INT32, &o), TW_ERR_VERSION);
    o = (tw_tag_options)TW_TAG_OPTIONS_INIT;
    o.min = 10; o.max = 5;
    assert_int_equal(tw_tagset_add(ts, &x, "T", TW_TYPE_INT32, &o), TW_ERR_INVALID_ARG);
    o = (tw_tag_options)TW_TAG_OPTIONS_INIT;
    o.deadband = -1;
    assert_int_equal(tw_tagset_add(ts, &x, "T", TW_TYPE_INT32, &o), TW_ERR_INVALID_ARG);
    o.deadband = 1;
    assert_int_equal(tw_tagset_add(ts, &x, "T", TW_TYPE_STRING, &o), TW_ERR_INVALID_ARG);
    o.deadband_mode = TW_DEADBAND_PERCENT;
    assert_int_equal(tw_tagset_add(ts, &x, "T", TW_TYPE_DOUBLE, &o), TW_ERR_INVALID_ARG);
    o = (tw_tag_options)TW_TAG_OPTIONS_INIT;
    o.scale = 2;
    assert_int_equal(tw_tagset_add(ts, &x, "T", TW_TYPE_BOOL, &o), TW_ERR_INVALID_ARG);
    o.scale = NAN;
    assert_int_equal(tw_tagset_add(ts, &x, "T", TW_TYPE_DOUBLE, &o), TW_ERR_INVALID_ARG);

    assert_int_equal(tw_tagset_count(ts), 3);
    assert_ptr_equal(tw_tagset_at(ts, 0), a);
    assert_ptr_equal(tw_tagset_at(ts, 1), b);
    assert_ptr_equal(tw_tagset_at(ts, 2), c);
    assert_null(tw_tagset_at(ts, 3));
    assert_ptr_equal(tw_tagset_find(ts, "Line1/Press7/Strokes"), b);
    assert_null(tw_tagset_find(ts, "Line1/Press7"));
    assert_null(tw_tagset_find(ts, "line1/press7/strokes")); /* case-sensitive */
    assert_int_equal(tw_tag_alias(a), 1);
    assert_int_equal(tw_tag_alias(b), 2);
    assert_int_equal(tw_tag_alias(c), 100);
    assert_ptr_equal(tw_tagset_find_alias(ts, 100), c);
    assert_ptr_equal(tw_tagset_find_alias(ts, 1), a);
    assert_null(tw_tagset_find_alias(ts, 0));
    assert_null(tw_tagset_find_alias(ts, 3));

    assert_string_equal(tw_tag_name(a), "Line1/Press7/Temperature");
    assert_string_equal(tw_tag_unit(a), "degC");
    assert_string_equal(tw_tag_description(a), "Oil temperature");
    assert_string_equal(tw_tag_unit(b), "");
    assert_int_equal(tw_tag_type(b), TW_TYPE_UINT64);
    assert_int_equal(tw_tag_access(a), TW_ACCESS_READ);
    assert_string_equal(tw_access_name(tw_tag_access(a)), "read");
    assert_ptr_equal(tw_tag_user_data(a), &ud);
    assert_ptr_equal(tw_tag_tagset(a), ts);
    double mn, mx, sc, of, dbv, dba;
    tw_deadband_mode m;
    assert_true(tw_tag_range(a, &mn, &mx));
    assert_true(mn == -20 && mx == 180);
    assert_false(tw_tag_range(b, NULL, NULL));
    tw_tag_scaling(a, &sc, &of);
    assert_true(sc == 1 && of == 0);
    tw_tag_deadband(a, &m, &dbv, &dba);
    assert_int_equal(m, TW_DEADBAND_ABSOLUTE);
    assert_true(dbv == 0.5 && dba == 0.5);
    assert_true(tw_tag_rbe(a));

    /* initial state */
    tw_value v;
    tw_quality q;
    int64_t t;
    assert_int_equal(tw_tag_get(a, &v, &q, &t), TW_OK);
    assert_int_equal(v.type, TW_TYPE_DOUBLE);
    assert_int_equal(q, TW_QUALITY_BAD_WAITING_FOR_INITIAL);
    assert_int_equal(t, 0);
    size_t n;
    tw_tag_change ch[4];
    assert_int_equal(tw_tagset_collect(ts, ch, 4, &n, NULL), TW_OK);
    assert_int_equal(n, 0);

    /* many tags: hash tables grow, lookups stay right */
    char name[64];
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof name, "Bulk/Group%d/Tag%d", i % 17, i);
        assert_int_equal(tw_tagset_add(ts, NULL, name, TW_TYPE_INT32, NULL), TW_OK);
    }
    for (int i = 0; i < 2000; i++) {
        snprintf(name, sizeof name, "Bulk/Group%d/Tag%d", i % 17, i);
        tw_tag *f = tw_tagset_find(ts, name);
        assert_non_null(f);
        assert_string_equal(tw_tag_name(f), name);
        assert_ptr_equal(tw_tagset_find_alias(ts, tw_tag_alias(f)), f);
        assert_ptr_equal(tw_tagset_at(ts, 3 + (size_t)i), f);
    }
    /* aliases are unique */
    for (size_t i = 0; i < tw_tagset_count(ts); i++)
        assert_ptr_equal(tw_tagset_find_alias(ts, tw_tag_alias(tw_tagset_at(ts, i))), tw_tagset_at(ts, i));
    tw_tagset_free(ts);
}

static void test_deadband_absolute(void **state)
{
    (void)state;
    tw_tagset *ts;
    tw_tag *t;
    tw_tag_change ch[4];
    assert_int_equal(tw_tagset_new(&ts), TW_OK);
    assert_int_equal(tw_tagset_add(ts, &t, "Oil", TW_TYPE_DOUBLE,
                                   &(tw_tag_options){TW_TAG_OPTIONS_VERSION, .deadband = 0.2}), TW_OK);
    assert_int_equal(tw_tag_set_double(t, 10.0, Q_GOOD, 1000), TW_OK);
    assert_int_equal(collect_all(ts, ch, 4), 1);
    assert_ptr_equal(ch[0].tag, t);
    assert_true(ch[0].value.as.d == 10.0);
    assert_int_equal(ch[0].ts_ns, 1000);
    assert_int_equal(ch[0].quality, Q_GOOD);
    /* within the deadband of the last passing value (10.0): dropped, repeatedly */
    assert_int_equal(tw_tag_set_double(t, 10.1, Q_GOOD, 2000), TW_OK);
    assert_int_equal(tw_tag_set_double(t, 10.2, Q_GOOD, 3000), TW_OK); /* |0.2| is not > 0.2 */
    assert_int_equal(tw_tag_set_double(t, 9.85, Q_GOOD, 4000), TW_OK);
    assert_int_equal(collect_all(ts, ch, 4), 0);
    double d;
    int64_t tsn;
    assert_int_equal(tw_tag_get_double(t, &d, NULL, &tsn), TW_OK);
    assert_true(d == 10.0);
    assert_int_equal(tsn, 1000);
    /* beyond it: reported, and becomes the new reference */
    assert_int_equal(tw_tag_set_double(t, 10.25, Q_GOOD, 5000), TW_OK);
    assert_int_equal(collect_all(ts, ch, 4), 1);
    assert_true(ch[0].value.as.d == 10.25);
    assert_int_equal(ch[0].ts_ns, 5000);
    assert_int_equal(tw_tag_set_double(t, 10.4, Q_GOOD, 6000), TW_OK); /* 0.15 from 10.25 */
    assert_int_equal(collect_all(ts, ch, 4), 0);
    assert_int_equal(tw_tag_set_double(t, 10.0, Q_GOOD, 6500), TW_OK); /* -0.25 */
    assert_int_equal(collect_all(ts, ch, 4), 1);
    /* a quality change always counts, even with the same value */
    assert_int_equal(tw_tag_set_double(t, 10.0, TW_QUALITY_UNCERTAIN_LAST_KNOWN, 7000), TW_OK);
    assert_int_equal(collect_all(ts, ch, 4), 1);
    assert_int_equal(ch[0].quality, TW_QUALITY_UNCERTAIN_LAST_KNOWN);
    assert_int_equal(tw_tag_set_quality(t, TW_QUALITY_BAD_COMM_FAILURE, 8000), TW_OK);
    assert_int_equal(tw_tag_set_quality(t, TW_QUALITY_BAD_COMM_FAILURE, 9000), TW_OK);
    assert_int_equal(collect_all(ts, ch, 4), 1);
    assert_int_equal(ch[0].quality, TW_QUALITY_BAD_COMM_FAILURE);
    assert_true(ch[0].value.as.d == 10.0); /* value kept */
    assert_int_equal(ch[0].ts_ns, 8000);
    /* NaN <-> number is a change; NaN -> NaN is not */
    assert_int_equal(tw_tag_set_double(t, NAN, TW_QUALITY_BAD_COMM_FAILURE, 1), TW_OK);
    assert_int_equal(tw_tag_set_double(t, NAN, TW_QUALITY_BAD_COMM_FAILURE, 2), TW_OK);
    assert_int_equal(collect_all(ts, ch, 4), 1);
    assert_true(isnan(ch[0].value.as.d));
    assert_int_equal(ch[0].coalesced, 0);
    /* timestamp 0 = now */
    int64_t before = tw_now_ns();
    assert_int_equal(tw_tag_set_double(t, 50, Q_GOOD, 0), TW_OK);
    assert_int_equal(collect_all(ts, ch, 4), 1);
    assert_true(ch[0].ts_ns >= before && ch[0].ts_ns <= tw_now_ns());

    /* integer deadband (exact arithmetic on 64-bit values) */
    tw_tag *c;
    assert_int_equal(tw_tagset_add(ts, &c, "Count", TW_TYPE_INT64,
                                   &(tw_tag_options){TW_TAG_OPTIONS_VERSION, .deadband = 5}), TW_OK);
    assert_int_equal(tw_tag_set_int64(c, INT64_MAX - 3, Q_GOOD, 1), TW_OK);
    assert_int_equal(tw_tag_set_int64(c, INT64_MAX, Q_GOOD, 1), TW_OK);     /* +3 */
    assert_int_equal(tw_tag_set_int64(c, INT64_MAX - 8, Q_GOOD, 1), TW_OK); /* -5 */
    assert_int_equal(collect_all(ts, ch, 4), 1);
    assert_true(ch[0].value.as.i == INT64_MAX - 3);
    assert_int_equal(tw_tag_set_int64(c, INT64_MIN, Q_GOOD, 1), TW_OK);
    assert_int_equal(collect_all(ts, ch, 4), 1);
    assert_true(ch[0].value.as.i == INT64_MIN);
    tw_tagset_free(ts);
}

static void test_deadband_percent_and_rbe_off(void **state)
{
    (void)state;
    tw_tagset *ts;
    tw_tag *p, *e, *s;
    tw_tag_change ch[8];
    assert_int_equal(tw_tagset_new(&ts), TW_OK);
    assert_int_equal(tw_tagset_add(ts, &p, "Level", TW_TYPE_FLOAT,
                                   &(tw_tag_options){TW_TAG_OPTIONS_VERSION, .min = 0, .max = 200,
                                                     .deadband_mode = TW_DEADBAND_PERCENT, .deadband = 1}),
                     TW_OK);
    double abs_db;
    tw_tag_deadband(p, NULL, NULL, &abs_db);
    assert_true(abs_db == 2.0); /* 1 % of 200 */
    assert_int_equal(tw_tag_set_float(p, 100.0f, Q_GOOD, 1), TW_OK);
    assert_int_equal(tw_tag_set_float(p, 101.5f, Q_GOOD, 2), TW_OK);
    assert_int_equal(tw_tag_set_float(p, 98.5f, Q_GOOD, 3), TW_OK);
    assert_int_equal(collect_all(ts, ch, 8), 1);
    assert_true(ch[0].value.as.f == 100.0f);
    assert_int_equal(tw_tag_set_float(p, 102.5f, Q_GOOD, 4), TW_OK);
    assert_int_equal(collect_all(ts, ch, 8), 1);
    assert_true(ch[0].value.as.f == 102.5f);

    /* report_every_sample: every set passes, even an identical one */
    assert_int_equal(tw_tagset_add(ts, &e, "Every", TW_TYPE_INT32,
                                   &(tw_tag_options){TW_TAG_OPTIONS_VERSION, .report_every_sample = 1,
                                                     .deadband = 100}),
                     TW_OK);
    assert_false(tw_tag_rbe(e));
    for (int round = 0; round < 3; round++) {
        assert_int_equal(tw_tag_set_int64(e, 7, Q_GOOD, 10 + round), TW_OK);
        assert_int_equal(collect_all(ts, ch, 8), 1);
        assert_int_equal(ch[0].value.as.i, 7);
        assert_int_equal(ch[0].ts_ns, 10 + round);
    }
    /* three samples between collections: the last one, once, with the count of the others */
    tw_tag_set_int64(e, 7, Q_GOOD, 20);
    tw_tag_set_int64(e, 7, Q_GOOD, 21);
    tw_tag_set_int64(e, 7, Q_GOOD, 22);
    assert_int_equal(collect_all(ts, ch, 8), 1);
    assert_int_equal(ch[0].ts_ns, 22);
    assert_int_equal(ch[0].coalesced, 2);

    /* RBE on a string: equal strings are not reported */
    assert_int_equal(tw_tagset_add(ts, &s, "State", TW_TYPE_STRING, NULL), TW_OK);
    assert_int_equal(tw_tag_set_string(s, "RUN", Q_GOOD, 1), TW_OK);
    assert_int_equal(tw_tag_set_string(s, "RUN", Q_GOOD, 2), TW_OK);
    assert_int_equal(collect_all(ts, ch, 8), 1);
    assert_int_equal(ch[0].ts_ns, 1);
    assert_int_equal(tw_tag_set_string(s, "RUN", Q_GOOD, 3), TW_OK);
    assert_int_equal(collect_all(ts, ch, 8), 0);
    assert_int_equal(tw_tag_set_string(s, "STOP", Q_GOOD, 4), TW_OK);
    assert_int_equal(collect_all(ts, ch, 8), 1);
    assert_int_equal(ch[0].value.as.buf.len, 4);
    assert_memory_equal(ch[0].value.as.buf.ptr, "STOP", 5); /* NUL-terminated */
    tw_tagset_free(ts);
}

static void test_scaling(void **state)
{
    (void)state;
    tw_tagset *ts;
    tw_tag *t, *i, *plain;
    tw_tag_change ch[4];
    assert_int_equal(tw_tagset_new(&ts), TW_OK);
    /* a 4..20 mA input on 0..32000 counts mapped to 0..100 % */
    assert_int_equal(tw_tagset_add(ts, &t, "Valve/Position", TW_TYPE_DOUBLE,
                                   &(tw_tag_options){TW_TAG_OPTIONS_VERSION, .unit = "%",
                                                     .scale = 100.0 / 32000.0, .offset = 0}),
                     TW_OK);
    assert_int_equal(tw_tag_set_raw_int64(t, 16000, Q_GOOD, 1), TW_OK);
    assert_int_equal(collect_all(ts, ch, 4), 1);
    assert_true(fabs(ch[0].value.as.d - 50.0) < 1e-12);
    assert_true(fabs(tw_tag_eng_to_raw(t, 25.0) - 8000.0) < 1e-9);
    assert_true(fabs(tw_tag_raw_to_eng(t, 32000.0) - 100.0) < 1e-12);
    /* integer tag with scale and offset: rounded */
    assert_int_equal(tw_tagset_add(ts, &i, "Temp10", TW_TYPE_INT16,
                                   &(tw_tag_options){TW_TAG_OPTIONS_VERSION, .scale = 0.1, .offset = -40}),
                     TW_OK);
    assert_int_equal(tw_tag_set_raw_double(i, 655.0, Q_GOOD, 1), TW_OK); /* 25.5 -> 26 */
    assert_int_equal(collect_all(ts, ch, 4), 1);
    assert_int_equal(ch[0].value.as.i, 26);
    assert_int_equal(tw_tag_set_raw_double(i, 1e9, Q_GOOD, 1), TW_ERR_RANGE); /* too big for int16 */
    double sc, of;
    tw_tag_scaling(i, &sc, &of);
    assert_true(sc == 0.1 && of == -40);
    /* no scaling: raw int64 keeps 64-bit precision */
    assert_int_equal(tw_tagset_add(ts, &plain, "Big", TW_TYPE_INT64, NULL), TW_OK);
    assert_int_equal(tw_tag_set_raw_int64(plain, INT64_MAX - 1, Q_GOOD, 1), TW_OK);
    assert_int_equal(collect_all(ts, ch, 4), 1);
    assert_true(ch[0].value.as.i == INT64_MAX - 1);
    tw_tagset_free(ts);
}

static void test_types_and_mismatch(void **state)
{
    (void)state;
    tw_tagset *ts;
    tw_tag *d, *u8, *f, *s, *b, *dt, *by, *bo;
    assert_int_equal(tw_tagset_new(&ts), TW_OK);
    assert_int_equal(tw_tagset_add(ts, &d, "d", TW_TYPE_DOUBLE, NULL), TW_OK);
    assert_int_equal(tw_tagset_add(ts, &u8, "u8", TW_TYPE_UINT8, NULL), TW_OK);
    assert_int_equal(tw_tagset_add(ts, &f, "f", TW_TYPE_FLOAT, NULL), TW_OK);
    assert_int_equal(tw_tagset_add(ts, &s, "s", TW_TYPE_STRING,
                                   &(tw_tag_options){TW_TAG_OPTIONS_VERSION, .max_len = 8}), TW_OK);
    assert_int_equal(tw_tagset_add(ts, &b, "b", TW_TYPE_BYTES, NULL), TW_OK);
    assert_int_equal(tw_tagset_add(ts, &dt, "dt", TW_TYPE_DATETIME, NULL), TW_OK);
    assert_int_equal(tw_tagset_add(ts, &by, "by", TW_TYPE_BYTES, NULL), TW_OK);
    assert_int_equal(tw_tagset_add(ts, &bo, "bo", TW_TYPE_BOOL, NULL), TW_OK);
    assert_int_equal(tw_tag_max_len(s), 8);
    assert_int_equal(tw_tag_max_len(b), TW_TAG_DEFAULT_MAX_LEN);
    assert_int_equal(tw_tag_max_len(d), 0);

    assert_int_equal(tw_tag_set_string(d, "1.0", Q_GOOD, 1), TW_ERR_TYPE_MISMATCH);
    assert_int_equal(tw_tag_set_double(s, 1.0, Q_GOOD, 1), TW_ERR_TYPE_MISMATCH);
    assert_int_equal(tw_tag_set_double(dt, 1.0, Q_GOOD, 1), TW_ERR_TYPE_MISMATCH);
    assert_int_equal(tw_tag_set_bool(s, 1, Q_GOOD, 1), TW_ERR_TYPE_MISMATCH);
    assert_int_equal(tw_tag_set_int64(u8, 256, Q_GOOD, 1), TW_ERR_RANGE);
    assert_int_equal(tw_tag_set_int64(u8, -1, Q_GOOD, 1), TW_ERR_RANGE);
    assert_int_equal(tw_tag_set_double(f, 1e300, Q_GOOD, 1), TW_ERR_RANGE);
    assert_int_equal(tw_tag_set_double(u8, NAN, Q_GOOD, 1), TW_ERR_RANGE);
    assert_int_equal(tw_tag_set_string(s, "123456789", Q_GOOD, 1), TW_ERR_RANGE);
    assert_int_equal(tw_tag_set_bytes(s, "\xff", 1, Q_GOOD, 1), TW_ERR_PARSE);
    assert_int_equal(tw_tag_set_string(s, NULL, Q_GOOD, 1), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_tag_set_bytes(b, NULL, 3, Q_GOOD, 1), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_tag_set_double(NULL, 1.0, Q_GOOD, 1), TW_ERR_INVALID_ARG);
    /* none of those changed anything */
    tw_tag_change ch[16];
    assert_int_equal(collect_all(ts, ch, 16), 0);

    /* valid conversions */
    assert_int_equal(tw_tag_set_int64(d, 3, Q_GOOD, 1), TW_OK);
    assert_int_equal(tw_tag_set_double(u8, 254.6, Q_GOOD, 1), TW_OK);
    assert_int_equal(tw_tag_set_uint64(f, 5, Q_GOOD, 1), TW_OK);
    assert_int_equal(tw_tag_set_string(s, "ok", Q_GOOD, 1), TW_OK);
    assert_int_equal(tw_tag_set_bytes(b, "\x00\xff\x01", 3, Q_GOOD, 1), TW_OK);
    assert_int_equal(tw_tag_set_datetime(dt, 1700000000123456789LL, Q_GOOD, 1), TW_OK);
    assert_int_equal(tw_tag_set_string(by, "as bytes", Q_GOOD, 1), TW_OK);
    assert_int_equal(tw_tag_set_bool(bo, 5, Q_GOOD, 1), TW_OK);
    tw_value sv = mk_s(TW_TYPE_BYTES, "hi", 2);
    assert_int_equal(tw_tag_set_value(s, &sv, Q_GOOD, 2), TW_OK);
    assert_int_equal(collect_all(ts, ch, 16), 8);
    for (size_t k = 0; k < 8; k++) {
        tw_tag_change *c = &ch[k];
        assert_int_equal(c->value.type, tw_tag_type(c->tag));
        if (c->tag == d) assert_true(c->value.as.d == 3.0);
        else if (c->tag == u8) assert_int_equal(c->value.as.u, 255);
        else if (c->tag == f) assert_true(c->value.as.f == 5.0f);
        else if (c->tag == s) { assert_int_equal(c->value.as.buf.len, 2); assert_memory_equal(c->value.as.buf.ptr, "hi", 2); assert_int_equal(c->coalesced, 1); }
        else if (c->tag == b) { assert_int_equal(c->value.as.buf.len, 3); assert_memory_equal(c->value.as.buf.ptr, "\x00\xff\x01", 3); }
        else if (c->tag == dt) assert_true(c->value.as.i == 1700000000123456789LL);
        else if (c->tag == by) assert_int_equal(c->value.as.buf.len, 8);
        else if (c->tag == bo) assert_int_equal(c->value.as.b, 1);
        else fail();
    }
    /* get: strings are a caller-owned copy */
    tw_value v;
    assert_int_equal(tw_tag_get(s, &v, NULL, NULL), TW_OK);
    assert_int_equal(v.type, TW_TYPE_STRING);
    assert_string_equal((const char *)v.as.buf.ptr, "hi");
    tw_value_clear(&v);
    assert_int_equal(v.type, TW_TYPE_NONE);
    char buf[8];
    size_t len;
    tw_quality q;
    assert_int_equal(tw_tag_get_buf(b, buf, sizeof buf, &len, &q, NULL), TW_OK);
    assert_int_equal(len, 3);
    assert_memory_equal(buf, "\x00\xff\x01", 3);
    assert_int_equal(tw_tag_get_buf(by, buf, 4, &len, NULL, NULL), TW_ERR_RANGE);
    assert_int_equal(len, 8);
    assert_int_equal(tw_tag_get_buf(d, buf, sizeof buf, &len, NULL, NULL), TW_ERR_TYPE_MISMATCH);
    double dd;
    assert_int_equal(tw_tag_get_double(s, &dd, NULL, NULL), TW_ERR_TYPE_MISMATCH);
    assert_int_equal(tw_tag_get_double(u8, &dd, NULL, NULL), TW_OK);
    assert_true(dd == 255.0);
    /* snapshot does not consume the change set */
    tw_tag_set_double(d, 4.0, Q_GOOD, 5);
    tw_tag_change snap;
    assert_int_equal(tw_tag_snapshot(d, &snap), TW_OK);
    assert_true(snap.value.as.d == 4.0);
    assert_int_equal(collect_all(ts, ch, 16), 1);
    tw_tagset_free(ts);
}

static void test_change_set(void **state)
{
    (void)state;
    tw_tagset *ts;
    tw_tag *t[5];
    tw_tag_change ch[5];
    assert_int_equal(tw_tagset_new(&ts), TW_OK);
    for (int i = 0; i < 5; i++) {
        char name[16];
        snprintf(name, sizeof name, "T%d", i);
        assert_int_equal(tw_tagset_add(ts, &t[i], name, TW_TYPE_DOUBLE, NULL), TW_OK);
    }
    /* set twice between collections: the last passing value, once */
    tw_tag_set_double(t[3], 1.0, Q_GOOD, 1);
    tw_tag_set_double(t[1], 5.0, Q_GOOD, 2);
    tw_tag_set_double(t[3], 2.0, Q_GOOD, 3);
    tw_tag_set_double(t[0], 9.0, Q_GOOD, 4);
    assert_int_equal(tw_tagset_pending(ts), 3);
    assert_int_equal(collect_all(ts, ch, 5), 3);
    /* in the order the tags first changed */
    assert_ptr_equal(ch[0].tag, t[3]);
    assert_true(ch[0].value.as.d == 2.0);
    assert_int_equal(ch[0].ts_ns, 3);
    assert_int_equal(ch[0].coalesced, 1);
    assert_ptr_equal(ch[1].tag, t[1]);
    assert_ptr_equal(ch[2].tag, t[0]);
    assert_int_equal(tw_tagset_pending(ts), 0);
    assert_int_equal(collect_all(ts, ch, 5), 0);

    /* a small array: "more" until everything is out, nothing lost or doubled */
    for (int i = 0; i < 5; i++) tw_tag_set_double(t[i], 100 + i, Q_GOOD, 10);
    size_t n;
    int more;
    assert_int_equal(tw_tagset_collect(ts, ch, 2, &n, &more), TW_OK);
    assert_int_equal(n, 2);
    assert_true(more);
    /* a tag not yet collected changes again meanwhile: reported once with its newest value */
    tw_tag_set_double(t[4], 200, Q_GOOD, 11);
    assert_int_equal(tw_tagset_collect(ts, ch + 2, 2, &n, &more), TW_OK);
    assert_int_equal(n, 2);
    assert_true(more);
    assert_int_equal(tw_tagset_collect(ts, ch + 4, 1, &n, &more), TW_OK);
    assert_int_equal(n, 1);
    assert_false(more);
    int seen[5] = {0};
    for (int k = 0; k < 5; k++) {
        for (int i = 0; i < 5; i++)
            if (ch[k].tag == t[i]) seen[i]++;
    }
    for (int i = 0; i < 5; i++) assert_int_equal(seen[i], 1);
    assert_true(ch[4].value.as.d == 200);
    /* a tag collected in the first batch and changed again shows up in the next collection */
    tw_tag_set_double(t[0], 300, Q_GOOD, 12);
    assert_int_equal(collect_all(ts, ch, 5), 1);
    assert_true(ch[0].value.as.d == 300);
    assert_int_equal(tw_tagset_collect(ts, NULL, 0, &n, &more), TW_OK);
    assert_int_equal(tw_tagset_collect(ts, NULL, 1, &n, &more), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_tagset_collect(NULL, ch, 1, &n, &more), TW_ERR_INVALID_ARG);
    tw_tagset_free(ts);
}

static int g_notified;
static void on_notify(tw_tagset *ts, void *ud)
{
    (void)ts;
    (*(int *)ud)++;
}

static int fd_readable(int fd)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static void test_wakeup(void **state)
{
    (void)state;
    tw_tagset *ts;
    tw_tag *a, *b;
    tw_tag_change ch[4];
    assert_int_equal(tw_tagset_new(&ts), TW_OK);
    assert_int_equal(tw_tagset_add(ts, &a, "a", TW_TYPE_INT32, NULL), TW_OK);
    assert_int_equal(tw_tagset_add(ts, &b, "b", TW_TYPE_INT32, NULL), TW_OK);
    int fd = tw_tagset_fd(ts);
    assert_true(fd >= 0);
    g_notified = 0;
    tw_tagset_set_notify(ts, on_notify, &g_notified);
    assert_false(fd_readable(fd));
    tw_tag_set_int64(a, 1, Q_GOOD, 1);
    assert_true(fd_readable(fd));
    assert_int_equal(g_notified, 1);
    tw_tag_set_int64(b, 1, Q_GOOD, 1); /* not empty any more: no second signal */
    tw_tag_set_int64(a, 2, Q_GOOD, 1);
    assert_int_equal(g_notified, 1);
    assert_int_equal(collect_all(ts, ch, 4), 2);
    assert_false(fd_readable(fd));
    tw_tag_set_int64(a, 1, Q_GOOD, 1); /* 2 -> 1: a change */
    assert_true(fd_readable(fd));
    assert_int_equal(g_notified, 2);
    assert_int_equal(collect_all(ts, ch, 4), 1);
    tw_tag_set_int64(a, 1, Q_GOOD, 1); /* same value: no change, no wake */
    assert_false(fd_readable(fd));
    assert_int_equal(g_notified, 2);
    assert_int_equal(tw_tagset_fd(NULL), -1);
    tw_tagset_free(ts);
}

/* ---- writes ---- */

typedef struct {
    int calls;
    tw_tag *tag;
    tw_value value;
    tw_status ret;
} write_rec;

static tw_status on_write(tw_tag *tag, const tw_value *v, void *ud)
{
    write_rec *r = ud;
    r->calls++;
    r->tag = tag;
    r->value = *v;
    if (r->ret == TW_OK) tw_tag_set_value(tag, v, Q_GOOD, 0); /* allowed from the callback */
    return r->ret;
}

static void test_write_callback(void **state)
{
    (void)state;
    tw_tagset *ts;
    tw_tag *ro, *sp, *cmd;
    assert_int_equal(tw_tagset_new(&ts), TW_OK);
    assert_int_equal(tw_tagset_add(ts, &ro, "Temp", TW_TYPE_DOUBLE, NULL), TW_OK);
    assert_int_equal(tw_tagset_add(ts, &sp, "Setpoint", TW_TYPE_INT16,
                                   &(tw_tag_options){TW_TAG_OPTIONS_VERSION, .access = TW_ACCESS_READ_WRITE,
                                                     .min = 0, .max = 100}),
                     TW_OK);
    assert_int_equal(tw_tagset_add(ts, &cmd, "Reset", TW_TYPE_BOOL,
                                   &(tw_tag_options){TW_TAG_OPTIONS_VERSION, .access = TW_ACCESS_WRITE}),
                     TW_OK);
    assert_string_equal(tw_access_name(tw_tag_access(sp)), "read-write");
    write_rec rec = {0}, dflt = {0};
    tw_tag_set_write_cb(sp, on_write, &rec);
    tw_value v = mk_d(42.4);
    tw_value bv;
    bv.type = TW_TYPE_BOOL;
    bv.as.b = 1;
    assert_int_equal(tw_tag_write(ro, &v), TW_ERR_PERMISSION);
    assert_non_null(strstr(tw_tagset_last_error(ts), "read-only"));
    assert_int_equal(tw_tag_write(cmd, &bv), TW_ERR_UNSUPPORTED); /* no callback yet */
    assert_int_equal(tw_tag_write(cmd, &v), TW_ERR_RANGE);        /* 42.4 is no bool */
    assert_int_equal(tw_tag_write(sp, &v), TW_OK);
    assert_int_equal(rec.calls, 1);
    assert_ptr_equal(rec.tag, sp);
    assert_int_equal(rec.value.type, TW_TYPE_INT16); /* converted to the tag's type */
    assert_int_equal(rec.value.as.i, 42);
    tw_value got;
    assert_int_equal(tw_tag_get(sp, &got, NULL, NULL), TW_OK);
    assert_int_equal(got.as.i, 42);
    v = mk_d(100.4); /* rounds to 100: inside */
    assert_int_equal(tw_tag_write(sp, &v), TW_OK);
    v = mk_d(101);
    assert_int_equal(tw_tag_write(sp, &v), TW_ERR_RANGE);
    assert_non_null(strstr(tw_tagset_last_error(ts), "outside"));
    v = mk_s(TW_TYPE_STRING, "7", 1);
    assert_int_equal(tw_tag_write(sp, &v), TW_ERR_TYPE_MISMATCH);
    assert_int_equal(rec.calls, 2);
    rec.ret = TW_ERR_MODBUS_EXCEPTION;
    v = mk_d(3);
    assert_int_equal(tw_tag_write(sp, &v), TW_ERR_MODBUS_EXCEPTION);
    assert_int_equal(rec.calls, 3);
    /* the set's default callback serves tags without their own */
    tw_tagset_set_write_cb(ts, on_write, &dflt);
    assert_int_equal(tw_tag_write(cmd, &bv), TW_OK);
    assert_int_equal(dflt.calls, 1);
    assert_ptr_equal(dflt.tag, cmd);
    assert_int_equal(tw_tag_write(sp, &v), TW_ERR_MODBUS_EXCEPTION); /* own callback wins */
    assert_int_equal(dflt.calls, 1);
    assert_int_equal(tw_tag_write(sp, NULL), TW_ERR_INVALID_ARG);
    tw_tagset_free(ts);
}

/* ---- concurrency ----
 * Two setter threads update their own tags (and one shared tag) in rounds while a collector
 * thread collects without pause. After each round the collector drains and checks that its last
 * view of every tag is the last value set: a final update lost in a race with the collector
 * (neither reported nor left pending) shows up here. Values of one tag only grow, so the
 * collector must never see an older value after a newer one. */

#define CONC_TAGS 8
#define CONC_ROUNDS 4000
#define CONC_PER_ROUND 600

typedef struct conc conc;

typedef struct {
    conc *c;
    tw_tag **tags; /* CONC_TAGS own tags */
    int id;
    double final[CONC_TAGS];
    double shared_final;
} setter_arg;

struct conc {
    tw_tagset *ts;
    tw_tag *shared;
    pthread_barrier_t start;
    atomic_int done;
    setter_arg *setters[2];
    double last[2 * CONC_TAGS + 1]; /* last value seen per tag index */
    int decreases, lost;
    size_t collections;
    char first_failure[160];
};

static void *setter_main(void *p)
{
    setter_arg *a = p;
    for (int r = 0; r < CONC_ROUNDS; r++) {
        pthread_barrier_wait(&a->c->start);
        for (int i = 1; i <= CONC_PER_ROUND; i++) {
            double v = (double)r * CONC_PER_ROUND + i;
            int k = (i * 5 + r) % CONC_TAGS;
            tw_tag_set_double(a->tags[k], v, Q_GOOD, (int64_t)v);
            a->final[k] = v;
            if (i % 16 == 0) {
                double sv = (double)a->id * 1e9 + v;
                tw_tag_set_double(a->c->shared, sv, Q_GOOD, (int64_t)v);
                a->shared_final = sv;
            }
        }
        atomic_fetch_add(&a->c->done, 1); /* releases final[] to the collector */
    }
    return NULL;
}

static size_t tag_index(tw_tagset *ts, tw_tag *t)
{
    for (size_t i = 0; i < tw_tagset_count(ts); i++)
        if (tw_tagset_at(ts, i) == t) return i;
    return (size_t)-1;
}

static void drain_into(conc *c)
{
    tw_tag_change ch[5];
    size_t n;
    int more;
    do {
        tw_tagset_collect(c->ts, ch, 5, &n, &more);
        for (size_t k = 0; k < n; k++) {
            size_t i = tag_index(c->ts, ch[k].tag);
            if (i >= 2 * CONC_TAGS + 1) { c->lost++; continue; }
            if (i < 2 * CONC_TAGS && ch[k].value.as.d < c->last[i]) c->decreases++;
            c->last[i] = ch[k].value.as.d;
        }
        c->collections++;
    } while (more);
}

static void *collector_main(void *p)
{
    conc *c = p;
    for (int r = 0; r < CONC_ROUNDS; r++) {
        pthread_barrier_wait(&c->start);
        while (atomic_load(&c->done) < 2 * (r + 1)) drain_into(c);
        drain_into(c);
        for (int s = 0; s < 2; s++) {
            for (int k = 0; k < CONC_TAGS; k++) {
                double want = c->setters[s]->final[k];
                if (c->last[s * CONC_TAGS + k] != want) {
                    if (!c->lost)
                        snprintf(c->first_failure, sizeof c->first_failure,
                                 "round %d tag %d: collector saw %g last, final value %g", r,
                                 s * CONC_TAGS + k, c->last[s * CONC_TAGS + k], want);
                    c->lost++;
                }
            }
        }
        double sh0 = c->setters[0]->shared_final, sh1 = c->setters[1]->shared_final;
        if (c->last[2 * CONC_TAGS] != sh0 && c->last[2 * CONC_TAGS] != sh1) c->lost++;
    }
    return NULL;
}

static void test_concurrent_setters(void **state)
{
    (void)state;
    tw_tag *tags[2 * CONC_TAGS];
    conc c;
    memset(&c, 0, sizeof c);
    assert_int_equal(tw_tagset_new(&c.ts), TW_OK);
    for (int i = 0; i < 2 * CONC_TAGS; i++) {
        char name[32];
        snprintf(name, sizeof name, "Conc/T%d", i);
        assert_int_equal(tw_tagset_add(c.ts, &tags[i], name, TW_TYPE_DOUBLE,
                                       &(tw_tag_options){TW_TAG_OPTIONS_VERSION, .deadband = 0.5}),
                         TW_OK);
    }
    assert_int_equal(tw_tagset_add(c.ts, &c.shared, "Conc/Shared", TW_TYPE_DOUBLE, NULL), TW_OK);
    atomic_init(&c.done, 0);
    assert_int_equal(pthread_barrier_init(&c.start, NULL, 3), 0);
    setter_arg s1, s2;
    memset(&s1, 0, sizeof s1);
    memset(&s2, 0, sizeof s2);
    s1.c = s2.c = &c;
    s1.tags = tags;
    s2.tags = tags + CONC_TAGS;
    s1.id = 1;
    s2.id = 2;
    c.setters[0] = &s1;
    c.setters[1] = &s2;
    pthread_t th1, th2, thc;
    assert_int_equal(pthread_create(&thc, NULL, collector_main, &c), 0);
    assert_int_equal(pthread_create(&th1, NULL, setter_main, &s1), 0);
    assert_int_equal(pthread_create(&th2, NULL, setter_main, &s2), 0);
    pthread_join(th1, NULL);
    pthread_join(th2, NULL);
    pthread_join(thc, NULL);
    pthread_barrier_destroy(&c.start);
    if (c.lost) fail_msg("%d lost final values; first: %s", c.lost, c.first_failure);
    assert_int_equal(c.decreases, 0);
    for (int i = 0; i < 2 * CONC_TAGS; i++) {
        double got;
        assert_int_equal(tw_tag_get_double(tags[i], &got, NULL, NULL), TW_OK);
        assert_true(got == c.last[i]);
    }
    assert_int_equal(tw_tagset_pending(c.ts), 0);
    print_message("concurrency: %d rounds, %zu collections\n", CONC_ROUNDS, c.collections);
    tw_tagset_free(c.ts);
}

/* ---- no allocation on the update path ---- */

static atomic_long g_allocs;
static void *cnt_malloc(size_t n, void *ctx) { (void)ctx; atomic_fetch_add(&g_allocs, 1); return malloc(n); }
static void *cnt_realloc(void *p, size_t n, void *ctx) { (void)ctx; atomic_fetch_add(&g_allocs, 1); return realloc(p, n); }
static void cnt_free(void *p, void *ctx) { (void)ctx; free(p); }

static void test_no_allocation(void **state)
{
    (void)state;
    tw_init_params p = TW_INIT_PARAMS_INIT;
    p.malloc_fn = cnt_malloc;
    p.realloc_fn = cnt_realloc;
    p.free_fn = cnt_free;
    assert_int_equal(tw_init(&p), TW_OK);
    tw_tagset *ts;
    tw_tag *d, *i, *s;
    assert_int_equal(tw_tagset_new(&ts), TW_OK);
    assert_int_equal(tw_tagset_add(ts, &d, "d", TW_TYPE_DOUBLE,
                                   &(tw_tag_options){TW_TAG_OPTIONS_VERSION, .deadband = 0.5}), TW_OK);
    assert_int_equal(tw_tagset_add(ts, &i, "i", TW_TYPE_INT64, NULL), TW_OK);
    assert_int_equal(tw_tagset_add(ts, &s, "s", TW_TYPE_STRING, NULL), TW_OK);
    long setup = atomic_load(&g_allocs);
    assert_true(setup > 0); /* the hooks are really in use */
    tw_tag_change ch[4];
    size_t n;
    for (int k = 0; k < 10000; k++) {
        assert_int_equal(tw_tag_set_double(d, k * 0.3, Q_GOOD, 0), TW_OK); /* some pass, some not */
        assert_int_equal(tw_tag_set_int64(i, k, Q_GOOD, k + 1), TW_OK);
        assert_int_equal(tw_tag_set_raw_double(d, k * 0.3, Q_GOOD, 1), TW_OK);
        if (k % 10 == 0) assert_int_equal(tw_tag_set_string(s, k % 20 ? "a" : "b", Q_GOOD, 1), TW_OK);
        if (k % 7 == 0) assert_int_equal(tw_tagset_collect(ts, ch, 4, &n, NULL), TW_OK);
    }
    assert_int_equal(atomic_load(&g_allocs), setup);
    tw_tagset_free(ts);
    tw_shutdown();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_quality),
        cmocka_unit_test(test_value_convert),
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_not_initialized),
        cmocka_unit_test(test_no_allocation),
        cmocka_unit_test_setup_teardown(test_add_and_lookup, setup_init, teardown_init),
        cmocka_unit_test_setup_teardown(test_deadband_absolute, setup_init, teardown_init),
        cmocka_unit_test_setup_teardown(test_deadband_percent_and_rbe_off, setup_init, teardown_init),
        cmocka_unit_test_setup_teardown(test_scaling, setup_init, teardown_init),
        cmocka_unit_test_setup_teardown(test_types_and_mismatch, setup_init, teardown_init),
        cmocka_unit_test_setup_teardown(test_change_set, setup_init, teardown_init),
        cmocka_unit_test_setup_teardown(test_wakeup, setup_init, teardown_init),
        cmocka_unit_test_setup_teardown(test_write_callback, setup_init, teardown_init),
        cmocka_unit_test_setup_teardown(test_concurrent_setters, setup_init, teardown_init),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
