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

/* True when an executable is found in PATH. */
bool twt_have(const char *program);

/* Fails the calling cmocka test unless tw_last_error() starts with "<module>: " and contains
 * `what` (NULL: any detail, but not empty). */
#define TWT_ASSERT_LAST_ERROR(module, what) twt_assert_last_error((module), (what), __FILE__, __LINE__)
void twt_assert_last_error(const char *module, const char *what, const char *file, int line);

/* Skips the calling cmocka test (with a message) when `program` is not in PATH. */
#define TWT_REQUIRE_PROGRAM(p)                                                                 \
    do {                                                                                      \
        if (!twt_have(p)) {                                                                   \
            print_message("skipping: %s not installed\n", p);                                \
            skip();                                                                           \
        }                                                                                     \
    } while (0)

#endif
