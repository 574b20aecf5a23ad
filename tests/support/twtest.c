#define _GNU_SOURCE
#include "twtest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "tagwire/core.h"

extern char **environ;

uint16_t twt_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return 0;
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    uint16_t port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static pid_t spawn_impl(char *const argv[], const char *log_path, int *stdin_fd)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    int pfd[2] = {-1, -1};
    if (stdin_fd) {
        if (pipe2(pfd, O_CLOEXEC) != 0) return -1;
        posix_spawn_file_actions_adddup2(&fa, pfd[0], 0);
    } else {
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    }
    const char *out = log_path ? log_path : "/dev/null";
    posix_spawn_file_actions_addopen(&fa, 1, out, O_WRONLY | O_CREAT | O_APPEND, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&at, 0);
    pid_t pid = -1;
    int rc = posix_spawnp(&pid, argv[0], &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (stdin_fd) {
        close(pfd[0]);
        if (rc != 0) {
            close(pfd[1]);
        } else {
            *stdin_fd = pfd[1];
        }
    }
    return rc == 0 ? pid : -1;
}

pid_t twt_spawn(char *const argv[], const char *log_path) { return spawn_impl(argv, log_path, NULL); }

pid_t twt_spawn_stdin(char *const argv[], const char *log_path, int *stdin_fd)
{
    return spawn_impl(argv, log_path, stdin_fd);
}

static bool listening_in(const char *file, uint16_t port)
{
    FILE *f = fopen(file, "r");
    if (!f) return false;
    char line[512];
    bool found = false;
    if (!fgets(line, sizeof line, f)) { fclose(f); return false; }
    while (fgets(line, sizeof line, f)) {
        char local[128];
        unsigned st;
        if (sscanf(line, " %*d: %127s %*s %x", local, &st) != 2) continue;
        char *colon = strrchr(local, ':');
        if (!colon) continue;
        unsigned p = (unsigned)strtoul(colon + 1, NULL, 16);
        if (p == port && st == 0x0A) { found = true; break; }
    }
    fclose(f);
    return found;
}

bool twt_wait_listen(uint16_t port, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 20) {
        if (listening_in("/proc/net/tcp", port) || listening_in("/proc/net/tcp6", port)) return true;
        struct timespec ts = {0, 20 * 1000000};
        nanosleep(&ts, NULL);
    }
    return false;
}

int twt_stop(pid_t pid)
{
    if (pid <= 0) return -1;
    int status = 0;
    kill(pid, SIGTERM);
    for (int i = 0; i < 300; i++) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) return status;
        if (r < 0) return -1;
        struct timespec ts = {0, 10 * 1000000};
        nanosleep(&ts, NULL);
    }
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    return status;
}

void twt_kill9(pid_t pid)
{
    if (pid <= 0) return;
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
}

char *twt_mkdtemp(const char *prefix)
{
    const char *tmp = getenv("TMPDIR");
    char buf[512];
    snprintf(buf, sizeof buf, "%s/%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", prefix ? prefix : "tw");
    if (!mkdtemp(buf)) return NULL;
    return strdup(buf);
}

int twt_sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st == -1) return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void twt_rmtree(const char *path)
{
    if (path && strlen(path) > 5) twt_sh("rm -rf '%s'", path);
}

int twt_make_pki(const char *dir)
{
    return twt_sh("sh '%s/tests/fixtures/make_pki.sh' '%s' >'%s/pki.log' 2>&1", TWT_SOURCE_DIR, dir, dir);
}

const char *twt_path(int slot, const char *dir, const char *name)
{
    static _Thread_local char bufs[8][1024];
    slot &= 7;
    snprintf(bufs[slot], sizeof bufs[slot], "%s/%s", dir, name);
    return bufs[slot];
}

bool twt_have(const char *program)
{
    return twt_sh("command -v '%s' >/dev/null 2>&1", program) == 0;
}

void twt_sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

char *twt_slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return calloc(1, 1);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = calloc(1, (size_t)(n > 0 ? n : 0) + 1);
    if (s && n > 0 && fread(s, 1, (size_t)n, f) != (size_t)n) s[0] = 0;
    fclose(f);
    return s;
}

bool twt_file_wait(const char *path, const char *needle, int timeout_ms)
{
    for (int t = 0; t <= timeout_ms; t += 20) {
        char *s = twt_slurp(path);
        bool found = s && strstr(s, needle) != NULL;
        free(s);
        if (found) return true;
        twt_sleep_ms(20);
    }
    return false;
}

/* ---- Mosquitto ---- */

const char *twt_mosquitto_bin(void)
{
    if (access("/usr/sbin/mosquitto", X_OK) == 0) return "/usr/sbin/mosquitto";
    return twt_have("mosquitto") ? "mosquitto" : NULL;
}

/* Prints the last `max` bytes of a file on stderr. */
static void print_tail(const char *path, long max)
{
    FILE *f = fopen(path, "rb");
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, n > max ? n - max : 0, SEEK_SET);
    fprintf(stderr, "---- %s (last %ld bytes) ----\n", path, n > max ? max : n);
    char buf[1024];
    size_t r;
    while ((r = fread(buf, 1, sizeof buf, f)) > 0) fwrite(buf, 1, r, stderr);
    fprintf(stderr, "---- end of %s ----\n", path);
    fclose(f);
}

static int mosquitto_spawn(twt_mosquitto *m)
{
    const char *bin = twt_mosquitto_bin();
    if (!bin) {
        fprintf(stderr, "mosquitto is not installed (scripts/deps/mqtt.apt)\n");
        return -1;
    }
    char *argv[] = {(char *)bin, "-c", m->conf, NULL};
    m->pid = twt_spawn(argv, m->out);
    const char *why = "could not be started";
    for (int waited = 0; m->pid > 0; waited += 100) {
        if (twt_wait_listen(m->port, 100)) return 0;
        int status;
        if (waitpid(m->pid, &status, WNOHANG) == m->pid) { /* a configuration error: no use waiting */
            m->pid = -1;
            why = "exited";
            break;
        }
        if (waited >= m->wait_ms) {
            why = "did not listen in time";
            break;
        }
    }
    fprintf(stderr, "mosquitto on port %u %s (wait %d ms; see %s)\n", (unsigned)m->port, why,
            m->wait_ms, m->log);
    print_tail(m->log, 2000);
    print_tail(m->out, 2000);
    twt_mosquitto_stop(m);
    return -1;
}

int twt_mosquitto_start(twt_mosquitto *m, const char *dir, const twt_mosquitto_opts *opts)
{
    static const twt_mosquitto_opts defaults = {0};
    const twt_mosquitto_opts *o = opts ? opts : &defaults;
    const char *name = o->name ? o->name : "mosquitto";
    memset(m, 0, sizeof *m);
    m->pid = -1;
    m->port = o->port ? o->port : twt_free_port();
    m->wait_ms = o->wait_ms > 0 ? o->wait_ms : 20000; /* generous: a loaded CI machine */
    if (!m->port) return -1;
    snprintf(m->conf, sizeof m->conf, "%s/%s.conf", dir, name);
    snprintf(m->log, sizeof m->log, "%s/%s.log", dir, name);
    snprintf(m->out, sizeof m->out, "%s/%s.out", dir, name);
    char acl[1024];
    snprintf(acl, sizeof acl, "%s/%s.acl", dir, name);
    if (o->acl) {
        FILE *a = fopen(acl, "w");
        if (!a || fputs(o->acl, a) < 0 || fclose(a) != 0) {
            fprintf(stderr, "cannot write %s\n", acl);
            return -1;
        }
    }
    FILE *f = fopen(m->conf, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", m->conf);
        return -1;
    }
    fprintf(f, "per_listener_settings false\nuser root\nmax_queued_messages 0\npersistence false\n"
               "log_dest file %s\n", m->log);
    if (!o->quiet) fprintf(f, "log_type all\nconnection_messages true\n");
    fprintf(f, "listener %u 127.0.0.1\n", (unsigned)m->port);
    if (o->pki_dir)
        fprintf(f, "cafile %s/ca.pem\ncertfile %s/server.pem\nkeyfile %s/server.key\n"
                   "require_certificate true\n", o->pki_dir, o->pki_dir, o->pki_dir);
    if (o->identity_as_username) fprintf(f, "use_identity_as_username true\n");
    if (o->acl) fprintf(f, "acl_file %s\n", acl);
    if (o->extra) fprintf(f, "%s\n", o->extra);
    if (fclose(f) != 0) return -1;
    return mosquitto_spawn(m);
}

int twt_mosquitto_restart(twt_mosquitto *m)
{
    if (m->pid > 0) return 0;
    return mosquitto_spawn(m);
}

void twt_mosquitto_stop(twt_mosquitto *m)
{
    if (m->pid > 0) twt_stop(m->pid);
    m->pid = -1;
}

void twt_mosquitto_kill(twt_mosquitto *m)
{
    if (m->pid > 0) twt_kill9(m->pid);
    m->pid = -1;
}

void twt_assert_last_error(const char *module, const char *what, const char *file, int line)
{
    const char *m = tw_last_error();
    size_t n = strlen(module);
    if (strncmp(m, module, n) != 0 || strncmp(m + n, ": ", 2) != 0 || !m[n + 2]) {
        print_error("tw_last_error() \"%s\" does not start with \"%s: \"\n", m, module);
        _fail(file, line);
    }
    if (what && !strstr(m, what)) {
        print_error("tw_last_error() \"%s\" does not name \"%s\"\n", m, what);
        _fail(file, line);
    }
}
