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
