/* Helpers shared by tagwire's tests (not part of the library). */
#ifndef TWTEST_H
#define TWTEST_H

#include <stdarg.h>
#include <stdlib.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdbool.h>
#include <sys/types.h>
#include <cmocka.h>

/* A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it, close). */
uint16_t twt_free_port(void);

/* Starts argv[0] (searched in PATH) with stdout+stderr appended to `log_path` (NULL: /dev/null)
 * and stdin from /dev/null. Returns the pid, or -1. */
pid_t twt_spawn(char *const argv[], const char *log_path);
/* As twt_spawn, but stdin is the read end of a pipe whose write end is returned in *stdin_fd
 * (keeps `openssl s_server` alive until the test closes it). */
pid_t twt_spawn_stdin(char *const argv[], const char *log_path, int *stdin_fd);

/* Waits until something listens on TCP `port` (IPv4 or IPv6), reading /proc/net/tcp{,6}, without
 * connecting. Returns true when listening, false after timeout_ms. */
bool twt_wait_listen(uint16_t port, int timeout_ms);

/* Sends SIGTERM, waits up to 3 s, then SIGKILL; reaps. Returns the exit status as waitpid gives. */
int twt_stop(pid_t pid);
/* SIGKILL and reap. */
void twt_kill9(pid_t pid);

/* Creates a fresh directory under $TMPDIR (or /tmp); returns a static-free malloc'd path. */
char *twt_mkdtemp(const char *prefix);
/* rm -rf of a directory made by twt_mkdtemp. */
void twt_rmtree(const char *path);

/* Runs a shell command; returns its exit status (0 = success), -1 on failure to run. */
int twt_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Generates the test PKI (tests/fixtures/make_pki.sh) into `dir`. Returns 0 on success. */
int twt_make_pki(const char *dir);

/* Joins a directory and a file name into a static thread-local buffer (valid until next call
 * with the same slot 0..7). */
const char *twt_path(int slot, const char *dir, const char *name);

/* Sleeps ms milliseconds. */
void twt_sleep_ms(int ms);
/* A file's whole content, NUL-terminated, malloc'd ("" when it cannot be read; NULL only when out
 * of memory). Free with free(). */
char *twt_slurp(const char *path);
/* True when the file contains `needle` within timeout_ms (polled every 20 ms: logs, peers' output). */
bool twt_file_wait(const char *path, const char *needle, int timeout_ms);

/* ---- Mosquitto 2 broker on 127.0.0.1, for tests and benchmarks ---- */
typedef struct twt_mosquitto_opts {
    uint16_t port;             /* 0: twt_free_port() */
    const char *name;          /* stem of the files in `dir`: NAME.conf, .log (the broker's log),
                                * .out (its stdout/stderr), .acl; NULL: "mosquitto" */
    const char *pki_dir;       /* non-NULL: the listener is TLS with PKI_DIR/ca.pem, server.pem,
                                * server.key (twt_make_pki) and require_certificate true */
    bool identity_as_username; /* use_identity_as_username true (the client certificate's CN) */
    const char *acl;           /* non-NULL: the ACL file's content (acl_file NAME.acl) */
    const char *extra;         /* further configuration lines (e.g. "allow_anonymous true") */
    bool quiet;                /* default log types only (benchmarks); else log_type all and
                                * connection_messages, so that tests can wait for log lines */
    int wait_ms;               /* how long to wait for the port; 0: 20000 */
} twt_mosquitto_opts;

typedef struct twt_mosquitto {
    pid_t pid; /* -1 when not running */
    uint16_t port;
    int wait_ms;
    char conf[1024], log[1024], out[1024];
} twt_mosquitto;

/* The broker executable (/usr/sbin/mosquitto, else mosquitto from PATH), or NULL. */
const char *twt_mosquitto_bin(void);
/* Writes DIR/NAME.conf (persistence false, max_queued_messages 0 so that QoS 0 messages are never
 * dropped for a slow subscriber, user root so that it can read the keys) and starts the broker,
 * waiting until it listens (without connecting). Returns 0, or -1 after printing why on stderr
 * with the end of the broker's log (the broker is stopped then). */
int twt_mosquitto_start(twt_mosquitto *m, const char *dir, const twt_mosquitto_opts *opts);
/* Starts it again from m->conf on m->port after a stop or kill; 0 or -1 as above. */
int twt_mosquitto_restart(twt_mosquitto *m);
/* SIGTERM (twt_stop) / SIGKILL; both no-ops when it is not running, and both set pid to -1. */
void twt_mosquitto_stop(twt_mosquitto *m);
void twt_mosquitto_kill(twt_mosquitto *m);

/* True when an executable is found in PATH. */
bool twt_have(const char *program);

/* Fails the calling cmocka test unless tw_last_error() starts with "<module>: " and contains
 * `what` (NULL: any detail, but not empty). */
#define TWT_ASSERT_LAST_ERROR(module, what) twt_assert_last_error((module), (what), __FILE__, __LINE__)
void twt_assert_last_error(const char *module, const char *what, const char *file, int line);

#endif
