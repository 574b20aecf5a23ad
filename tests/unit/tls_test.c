/* Unit tests of the tls module: plain TCP transport, blocking helpers, config validation, pins. */
#define _GNU_SOURCE
#include "twtest.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tagwire/tls.h"
#include "tls/tls_internal.h"

static int setup(void **s)
{
    (void)s;
    return tw_init(NULL) == TW_OK ? 0 : -1;
}

static int teardown(void **s)
{
    (void)s;
    tw_shutdown();
    return 0;
}

static int listener(uint16_t *port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t al = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &al), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

static int accept_one(int lfd)
{
    struct pollfd p = {lfd, POLLIN, 0};
    assert_int_equal(poll(&p, 1, 5000), 1);
    int fd = accept(lfd, NULL, NULL);
    assert_true(fd >= 0);
    return fd;
}

static void test_tcp_refused(void **s)
{
    (void)s;
    tw_transport *t;
    assert_int_equal(tw_transport_new_tcp_insecure(&t, NULL), TW_OK);
    assert_false(tw_transport_is_secure(t));
    tw_status st = tw_transport_connect_blocking(t, "127.0.0.1", twt_free_port());
    assert_int_equal(st, TW_ERR_CONN_REFUSED);
    assert_int_equal(tw_transport_last_status(t), TW_ERR_CONN_REFUSED);
    assert_non_null(strstr(tw_transport_last_error(t), "refused"));
    tw_transport_free(t);
}

static void test_tcp_resolve_error(void **s)
{
    (void)s;
    tw_transport *t;
    assert_int_equal(tw_transport_new_tcp_insecure(&t, NULL), TW_OK);
    assert_int_equal(tw_transport_connect_blocking(t, "no-such-host.invalid", 1883), TW_ERR_RESOLVE);
    tw_transport_free(t);
}

static void test_tcp_read_write_close_reconnect(void **s)
{
    (void)s;
    uint16_t port;
    int lfd = listener(&port);
    tw_transport *t;
    tw_transport_options o = TW_TRANSPORT_OPTIONS_INIT;
    o.io_timeout_ms = 300;
    assert_int_equal(tw_transport_new_tcp_insecure(&t, &o), TW_OK);
    char buf[64];
    size_t n = 0;
    assert_int_equal(tw_transport_read(t, buf, sizeof buf, &n), TW_ERR_CLOSED); /* not connected */
    assert_int_equal(tw_transport_fd(t), -1);

    for (int round = 0; round < 2; round++) {
        /* non-blocking connect driven by the caller's loop */
        tw_status st = TW_ERR_AGAIN;
        for (int i = 0; i < 100 && st == TW_ERR_AGAIN; i++) {
            st = tw_transport_connect(t, "127.0.0.1", port);
            if (st == TW_ERR_AGAIN) tw_transport_wait(t, tw_transport_events(t), 50);
        }
        assert_int_equal(st, TW_OK);
        assert_true(tw_transport_fd(t) >= 0);
        assert_int_equal(tw_transport_connect(t, "127.0.0.1", port), TW_ERR_BUSY);
        int pfd = accept_one(lfd);

        assert_int_equal(tw_transport_read(t, buf, sizeof buf, &n), TW_ERR_AGAIN);
        assert_int_equal(tw_transport_read_blocking(t, buf, sizeof buf, &n), TW_ERR_TIMEOUT);
        assert_int_equal(tw_transport_write_all(t, "ping", 4), TW_OK);
        char got[8] = {0};
        assert_int_equal(recv(pfd, got, 4, MSG_WAITALL), 4);
        assert_memory_equal(got, "ping", 4);
        assert_int_equal(send(pfd, "pong!", 5, 0), 5);
        size_t have = 0;
        while (have < 5) {
            assert_int_equal(tw_transport_read_blocking(t, buf + have, sizeof buf - have, &n), TW_OK);
            have += n;
        }
        assert_memory_equal(buf, "pong!", 5);
        close(pfd); /* peer closes: orderly end of stream */
        assert_int_equal(tw_transport_read_blocking(t, buf, sizeof buf, &n), TW_ERR_CLOSED);
        tw_transport_close(t);
        assert_int_equal(tw_transport_fd(t), -1);
        assert_int_equal(tw_transport_events(t), 0);
    }
    tw_transport_free(t);
    close(lfd);
}

static void test_pin_parse(void **s)
{
    (void)s;
    uint8_t h[32];
    assert_int_equal(tw__pin_parse("sha256/E4kg8L1gW7J+xEOZy4BNeMPmvk78qII/TsveDdDPSHk=", h), TW_OK);
    assert_int_equal(h[0], 0x13);
    assert_int_equal(tw__pin_parse("sha1/E4kg8L1gW7J+xEOZy4BNeMPmvk78qII/TsveDdDPSHk=", h), TW_ERR_PARSE);
    assert_int_equal(tw__pin_parse("sha256/E4kg8L1gW7J+xEOZy4BNeMPmvk78qII/TsveDdDPSH=", h), TW_ERR_PARSE);
    assert_int_equal(tw__pin_parse("sha256/!!!g8L1gW7J+xEOZy4BNeMPmvk78qII/TsveDdDPSHk=", h), TW_ERR_PARSE);
    assert_int_equal(tw__pin_parse("sha256/", h), TW_ERR_PARSE);
    assert_int_equal(tw__pin_parse(NULL, h), TW_ERR_PARSE);
}

static void test_x509_time(void **s)
{
    (void)s;
    mbedtls_x509_time t = {2026, 11, 29, 12, 0, 0};
    assert_int_equal(tw__tls_x509_time(&t), 1795953600);
    mbedtls_x509_time e = {1970, 1, 1, 0, 0, 0};
    assert_int_equal(tw__tls_x509_time(&e), 0);
    mbedtls_x509_time leap = {2000, 3, 1, 0, 0, 0};
    assert_int_equal(tw__tls_x509_time(&leap), 951868800);
}

static void test_config_validation(void **s)
{
    (void)s;
    char *dir = twt_mkdtemp("tw-tls-unit");
    assert_non_null(dir);
    assert_int_equal(twt_make_pki(dir), 0);
    tw_tls_config *cfg;
    assert_int_equal(tw_tls_config_new(&cfg), TW_OK);
    int64_t na = 0;
    assert_int_equal(tw_tls_config_own_not_after(cfg, &na), TW_ERR_NOT_FOUND);
    assert_int_equal(tw_tls_config_last_status(cfg), TW_OK);
    const char *missing = twt_path(0, dir, "missing.pem");
    assert_int_equal(tw_tls_config_set_ca_file(cfg, missing), TW_ERR_NOT_FOUND);
    /* the file and the system's reason, on the config and for the thread */
    assert_non_null(strstr(tw_tls_config_last_error(cfg), missing));
    assert_int_equal(tw_tls_config_last_status(cfg), TW_ERR_NOT_FOUND);
    TWT_ASSERT_LAST_ERROR("tls", missing);
    TWT_ASSERT_LAST_ERROR("tls", "No such file or directory");
    /* a directory given as the CA file opens, but cannot be read */
    assert_int_equal(tw_tls_config_set_ca_file(cfg, dir), TW_ERR_IO);
    TWT_ASSERT_LAST_ERROR("tls", "Is a directory");
    assert_int_equal(tw_tls_config_last_status(cfg), TW_ERR_IO);
    assert_int_equal(tw_tls_config_set_crl_file(cfg, twt_path(0, dir, "missing.crl")), TW_ERR_NOT_FOUND);
    TWT_ASSERT_LAST_ERROR("tls", "missing.crl: No such file or directory");
    assert_int_equal(tw_tls_config_set_credentials_file(cfg, twt_path(0, dir, "client.pem"),
                                                        twt_path(1, dir, "nokey.key"), NULL),
                     TW_ERR_NOT_FOUND);
    TWT_ASSERT_LAST_ERROR("tls", "nokey.key: No such file or directory");
    assert_int_equal(tw_tls_config_set_ca_mem(cfg, "garbage", 7), TW_ERR_PARSE);
    assert_int_equal(tw_tls_config_set_versions(cfg, 0x0302, TW_TLS_VERSION_1_3), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_tls_config_set_versions(cfg, TW_TLS_VERSION_1_3, TW_TLS_VERSION_1_2), TW_ERR_INVALID_ARG);
    assert_int_equal(tw_tls_config_add_pin(cfg, "md5/xyz"), TW_ERR_PARSE);
    assert_non_null(strstr(tw_tls_config_last_error(cfg), "pin"));
    /* key of another identity */
    assert_int_equal(tw_tls_config_set_credentials_file(cfg, twt_path(0, dir, "client.pem"),
                                                        twt_path(1, dir, "client2.key"), NULL),
                     TW_ERR_TLS_CREDENTIALS);
    assert_non_null(strstr(tw_tls_config_last_error(cfg), "does not match"));
    assert_int_equal(tw_tls_config_set_credentials_file(cfg, twt_path(0, dir, "client.pem"),
                                                        twt_path(1, dir, "client.key"), NULL),
                     TW_OK);
    assert_int_equal(tw_tls_config_own_not_after(cfg, &na), TW_OK);
    assert_true(na > 0);

    /* no trust anchors yet: refused at connect, never plaintext */
    tw_transport *t;
    assert_int_equal(tw_transport_new_tls(&t, cfg, NULL), TW_OK);
    assert_true(tw_transport_is_secure(t));
    assert_int_equal(tw_transport_connect(t, "127.0.0.1", 1), TW_ERR_CONFIG);
    tw_tls_info info;
    memset(&info, 0, sizeof info);
    info.version = TW_TLS_INFO_VERSION;
    assert_int_equal(tw_transport_tls_info(t, &info), TW_ERR_BUSY);
    info.version = 99;
    assert_int_equal(tw_transport_tls_info(t, &info), TW_ERR_VERSION);
    tw_transport_free(t);

    /* CA from memory (PEM without a terminating NUL) */
    FILE *f = fopen(twt_path(0, dir, "ca.pem"), "rb");
    assert_non_null(f);
    char pem[4096];
    size_t pl = fread(pem, 1, sizeof pem, f);
    fclose(f);
    assert_int_equal(tw_tls_config_set_ca_mem(cfg, pem, pl), TW_OK);

    tw_transport *tcp;
    assert_int_equal(tw_transport_new_tcp_insecure(&tcp, NULL), TW_OK);
    info.version = TW_TLS_INFO_VERSION;
    assert_int_equal(tw_transport_tls_info(tcp, &info), TW_ERR_INVALID_ARG);
    tw_transport_free(tcp);

    tw_tls_options o = TW_TLS_OPTIONS_INIT;
    o.version = 7;
    assert_int_equal(tw_transport_new_tls(&t, cfg, &o), TW_ERR_VERSION);
    assert_null(t);
    TWT_ASSERT_LAST_ERROR("tls", "tw_tls_options version 7");
    tw_transport_options to = TW_TRANSPORT_OPTIONS_INIT;
    to.version = 9;
    assert_int_equal(tw_transport_new_tcp_insecure(&tcp, &to), TW_ERR_VERSION);
    TWT_ASSERT_LAST_ERROR("transport", "tw_transport_options version 9");
    assert_int_equal(tw_tls_config_last_status(NULL), TW_ERR_INVALID_ARG);
    tw_tls_config_free(cfg);
    twt_rmtree(dir);
    free(dir);
}

static void test_not_initialized(void **s)
{
    (void)s;
    tw_shutdown();
    tw_tls_config *cfg = (tw_tls_config *)1;
    assert_int_equal(tw_tls_config_new(&cfg), TW_ERR_NOT_INITIALIZED);
    assert_null(cfg);
    TWT_ASSERT_LAST_ERROR("core", "tw_init() has not been called");
    assert_int_equal(tw_init(NULL), TW_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tcp_refused),
        cmocka_unit_test(test_tcp_resolve_error),
        cmocka_unit_test(test_tcp_read_write_close_reconnect),
        cmocka_unit_test(test_pin_parse),
        cmocka_unit_test(test_x509_time),
        cmocka_unit_test(test_config_validation),
        cmocka_unit_test(test_not_initialized),
    };
    return cmocka_run_group_tests_name("unit.tls", tests, setup, teardown);
}
