/* Unit tests of the Modbus/TCP Security role extraction (tls module): the role extension
 * (1.3.6.1.4.1.50316.802.1, UTF8String) read from certificates made by openssl. */
#define _GNU_SOURCE
#include "twtest.h"

#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "tagwire/adapter.h"
#include "tagwire/tls.h"
#include "tls/tls_internal.h"

static char *g_dir;

static int setup(void **s)
{
    (void)s;
    if (tw_init(NULL) != TW_OK) return -1;
    g_dir = twt_mkdtemp("tw-mbtls-unit");
    if (!g_dir || twt_make_pki(g_dir) != 0) return -1;
    /* certificates whose role extension is of another kind (issued by the test CA) */
    return twt_sh("cd '%s' && openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out x.key 2>/dev/null && "
                  "openssl req -new -key x.key -subj /CN=x -out x.csr 2>/dev/null && "
                  "mk() { printf '%%s\\n' \"$2\" > x.ext && openssl x509 -req -in x.csr -CA ca.pem -CAkey ca.key "
                  "-CAcreateserial -days 1 -extfile x.ext -outform DER -out $1.der 2>/dev/null; } && "
                  "mk printable 1.3.6.1.4.1.50316.802.1=ASN1:PRINTABLESTRING:operator && "
                  "mk ctrl 1.3.6.1.4.1.50316.802.1=DER:0c:04:61:0a:1b:62 && "
                  "mk utf8 1.3.6.1.4.1.50316.802.1=DER:0c:06:c3:a9:c3:a9:c3:a9 && "
                  "mk trailing 1.3.6.1.4.1.50316.802.1=DER:0c:01:61:00 && "
                  "mk other 1.3.6.1.4.1.50316.802.2=ASN1:UTF8String:operator && "
                  "for c in client-role server-role client; do openssl x509 -in $c.pem -outform DER -out $c.der; done",
                  g_dir) == 0 ? 0 : -1;
}

static int teardown(void **s)
{
    (void)s;
    twt_rmtree(g_dir);
    free(g_dir);
    tw_shutdown();
    return 0;
}

static size_t load(const char *name, unsigned char *buf, size_t cap)
{
    FILE *f = fopen(twt_path(0, g_dir, name), "rb");
    if (!f) fail_msg("cannot open %s", name);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    assert_true(n > 0 && n < cap);
    return n;
}

static tw_status role_of(const char *name, char *out, size_t cap)
{
    unsigned char der[4096];
    size_t n = load(name, der, sizeof der);
    return tw__tls_cert_role(der, n, out, cap);
}

static void test_cert_role(void **state)
{
    (void)state;
    char r[64];
    assert_int_equal(role_of("client-role.der", r, sizeof r), TW_OK);
    assert_string_equal(r, "operator");
    assert_int_equal(role_of("server-role.der", r, sizeof r), TW_OK);
    assert_string_equal(r, "plc-server");
    /* no role, a role of another ASN.1 type, another OID, trailing bytes: none */
    assert_int_equal(role_of("client.der", r, sizeof r), TW_ERR_NOT_FOUND);
    assert_string_equal(r, "");
    assert_int_equal(role_of("printable.der", r, sizeof r), TW_ERR_NOT_FOUND);
    assert_int_equal(role_of("other.der", r, sizeof r), TW_ERR_NOT_FOUND);
    assert_int_equal(role_of("trailing.der", r, sizeof r), TW_ERR_NOT_FOUND);
    /* control characters are not passed on (logs, terminals) */
    assert_int_equal(role_of("ctrl.der", r, sizeof r), TW_OK);
    assert_string_equal(r, "a??b");
    /* UTF-8 kept whole, and cut only between characters */
    assert_int_equal(role_of("utf8.der", r, sizeof r), TW_OK);
    assert_string_equal(r, "\xc3\xa9\xc3\xa9\xc3\xa9");
    assert_int_equal(role_of("utf8.der", r, 6), TW_OK);
    assert_string_equal(r, "\xc3\xa9\xc3\xa9");
    assert_int_equal(role_of("utf8.der", r, 5), TW_OK);
    assert_string_equal(r, "\xc3\xa9\xc3\xa9");
    assert_int_equal(role_of("client-role.der", r, 4), TW_OK);
    assert_string_equal(r, "ope");
    /* not a certificate */
    unsigned char junk[64];
    memset(junk, 0x30, sizeof junk);
    assert_int_equal(tw__tls_cert_role(junk, sizeof junk, r, sizeof r), TW_ERR_PARSE);
    assert_string_equal(r, "");
    assert_int_equal(tw__tls_cert_role(NULL, 0, r, sizeof r), TW_ERR_INVALID_ARG);
    assert_int_equal(tw__tls_cert_role(junk, sizeof junk, NULL, 0), TW_ERR_INVALID_ARG);
}

static void test_role_copy(void **state)
{
    (void)state;
    char r[8];
    tw__role_copy(r, sizeof r, (const unsigned char *)"abc", 3);
    assert_string_equal(r, "abc");
    tw__role_copy(r, sizeof r, (const unsigned char *)"abcdefghij", 10);
    assert_string_equal(r, "abcdefg");
    tw__role_copy(r, sizeof r, (const unsigned char *)"a\x7f\x01", 3);
    assert_string_equal(r, "a??");
    /* 4-byte characters: "a" + U+1F600 + U+1F600 cut before the second one */
    tw__role_copy(r, sizeof r, (const unsigned char *)"a\xf0\x9f\x98\x80\xf0\x9f\x98\x80", 9);
    assert_string_equal(r, "a\xf0\x9f\x98\x80");
    tw__role_copy(r, 1, (const unsigned char *)"abc", 3);
    assert_string_equal(r, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cert_role),
        cmocka_unit_test(test_role_copy),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
