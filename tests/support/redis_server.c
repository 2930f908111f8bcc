#include "redis_server.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define START_TIMEOUT_MS 5000
#define STOP_TIMEOUT_MS  5000

struct redis_server {
    pid_t pid; /* 0 when not running */
    int port;
    char dir[64];
    char socket_path[96];
    char conf_path[96];
    char log_path[96];
    char requirepass[128];
    int sentinel; /* runs with --sentinel */
};

void redis_server_sleep_ms(unsigned ms) {
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

long long redis_server_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Asks the kernel for a free loopback port by binding port 0; the tiny window before the server
 * binds it is covered by the retry in redis_server_start. */
static int free_port(px_error *err) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    socklen_t len = sizeof a;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) ||
        getsockname(fd, (struct sockaddr *)&a, &len)) {
        px_error_set(err, errno, "cannot find a free loopback port: %s", strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    close(fd);
    return ntohs(a.sin_port);
}

static int write_conf(const redis_server *srv, const redis_server_options *opt, px_error *err) {
    FILE *f = fopen(srv->conf_path, "w");
    if (!f) return px_error_set(err, errno, "cannot write %s: %s", srv->conf_path, strerror(errno));
    fprintf(f, "port %d\nbind 127.0.0.1\ndaemonize no\ndir %s\nlogfile %s\n", srv->port, srv->dir,
            srv->log_path);
    if (srv->sentinel) {
        const char *m = opt->sentinel_master;
        fprintf(f,
                "sentinel monitor %s 127.0.0.1 %d 2\nsentinel down-after-milliseconds %s 500\n"
                "sentinel failover-timeout %s 2000\nsentinel parallel-syncs %s 1\n",
                m, opt->sentinel_master_port, m, m, m);
    } else {
        fprintf(f, "save \"\"\nappendonly no\n");
    }
    if (opt && opt->replicaof_port) fprintf(f, "replicaof 127.0.0.1 %d\n", opt->replicaof_port);
    if (opt && opt->requirepass) fprintf(f, "requirepass %s\n", opt->requirepass);
    if (opt && opt->acl_user)
        fprintf(f, "user %s on >%s ~* &* +@all\n", opt->acl_user, opt->acl_password);
    if (srv->socket_path[0]) fprintf(f, "unixsocket %s\nunixsocketperm 700\n", srv->socket_path);
    if (fclose(f))
        return px_error_set(err, errno, "cannot write %s: %s", srv->conf_path, strerror(errno));
    return 0;
}

/* The end of the server's log, for an error message that says why it did not start. */
static void log_tail(const redis_server *srv, char *buf, size_t size) {
    buf[0] = '\0';
    FILE *f = fopen(srv->log_path, "r");
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long end = ftell(f);
    fseek(f, end > (long)size - 1 ? end - (long)size + 1 : 0, SEEK_SET);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
    for (char *p = buf; *p; p++)
        if (*p == '\n') *p = ' ';
}

static int reap(redis_server *srv, unsigned timeout_ms) {
    long long deadline = redis_server_now_ms() + timeout_ms;
    while (redis_server_now_ms() < deadline) {
        pid_t r = waitpid(srv->pid, NULL, WNOHANG);
        if (r == srv->pid || (r < 0 && errno == ECHILD)) {
            srv->pid = 0;
            return 0;
        }
        redis_server_sleep_ms(5);
    }
    return -1;
}

static int answers_ping(const redis_server *srv) {
    struct timeval tv = {.tv_sec = 0, .tv_usec = 200000};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", srv->port, tv);
    int ok = 0;
    if (c && !c->err) {
        redisSetTimeout(c, tv);
        redisReply *r = redisCommand(c, "PING");
        ok = r != NULL; /* PONG, or NOAUTH from a password-protected server: both prove it serves */
        freeReplyObject(r);
    }
    redisFree(c);
    return ok;
}

static int spawn(redis_server *srv, px_error *err) {
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid < 0) return px_error_set(err, errno, "fork: %s", strerror(errno));
    if (pid == 0) {
        /* Die with the test process, whatever way it ends. */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(127);
        int devnull = open("/dev/null", O_RDWR);
        if (devnull >= 0) {
            dup2(devnull, STDIN_FILENO);
            dup2(devnull, STDOUT_FILENO);
        }
        execlp("redis-server", "redis-server", srv->conf_path,
               srv->sentinel ? "--sentinel" : (char *)NULL, (char *)NULL);
        _exit(127);
    }
    srv->pid = pid;
    long long deadline = redis_server_now_ms() + START_TIMEOUT_MS;
    while (redis_server_now_ms() < deadline) {
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            char tail[300];
            srv->pid = 0;
            log_tail(srv, tail, sizeof tail);
            return px_error_set(err, ECHILD, "redis-server on port %d exited with status %d: %s",
                                srv->port, WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                                tail[0] ? tail : "(no log; is redis-server on PATH?)");
        }
        if (answers_ping(srv)) return 0;
        redis_server_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    reap(srv, STOP_TIMEOUT_MS);
    return px_error_set(err, ETIMEDOUT, "redis-server on port %d did not answer PING within %d ms",
                        srv->port, START_TIMEOUT_MS);
}

static void remove_dir(const redis_server *srv) {
    DIR *d = opendir(srv->dir);
    if (!d) return;
    struct dirent *e;
    char path[sizeof srv->dir + 260];
    while ((e = readdir(d)) != NULL) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", srv->dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(srv->dir);
}

redis_server *redis_server_start(const redis_server_options *opt, px_error *err) {
    if (opt && opt->acl_user && !opt->acl_password) {
        px_error_set(err, EINVAL, "redis_server: acl_user '%s' needs an acl_password",
                     opt->acl_user);
        return NULL;
    }
    if (opt && opt->requirepass &&
        strlen(opt->requirepass) >= sizeof((redis_server *)0)->requirepass) {
        px_error_set(err, EINVAL, "redis_server: requirepass is too long");
        return NULL;
    }
    redis_server *srv = calloc(1, sizeof *srv);
    if (!srv) {
        px_error_set(err, ENOMEM, "out of memory");
        return NULL;
    }
    strcpy(srv->dir, "/tmp/px-redis-XXXXXX");
    if (!mkdtemp(srv->dir)) {
        px_error_set(err, errno, "mkdtemp %s: %s", srv->dir, strerror(errno));
        free(srv);
        return NULL;
    }
    snprintf(srv->conf_path, sizeof srv->conf_path, "%s/redis.conf", srv->dir);
    snprintf(srv->log_path, sizeof srv->log_path, "%s/redis.log", srv->dir);
    if (opt && opt->unix_socket)
        snprintf(srv->socket_path, sizeof srv->socket_path, "%s/redis.sock", srv->dir);
    if (opt && opt->requirepass) strcpy(srv->requirepass, opt->requirepass);
    srv->sentinel = opt && opt->sentinel_master;
    /* A port found free may be taken by someone else before redis binds it: try a few. */
    for (int attempt = 0; attempt < 5; attempt++) {
        srv->port = free_port(err);
        if (srv->port < 0) break;
        if (write_conf(srv, opt, err)) break;
        if (spawn(srv, err) == 0) return srv;
    }
    redis_server_free(srv);
    return NULL;
}

int redis_server_port(const redis_server *srv) { return srv->port; }

const char *redis_server_socket_path(const redis_server *srv) { return srv->socket_path; }

void redis_server_url(const redis_server *srv, char *buf, size_t size) {
    snprintf(buf, size, "redis://127.0.0.1:%d", srv->port);
}

static int signal_server(redis_server *srv, int sig, const char *what, px_error *err) {
    if (!srv->pid)
        return px_error_set(err, ESRCH, "redis-server on port %d is not running (cannot %s it)",
                            srv->port, what);
    if (kill(srv->pid, sig))
        return px_error_set(err, errno, "cannot %s redis-server %d: %s", what, (int)srv->pid,
                            strerror(errno));
    return 0;
}

int redis_server_stop(redis_server *srv, px_error *err) {
    if (signal_server(srv, SIGTERM, "stop", err)) return -1;
    kill(srv->pid, SIGCONT); /* a paused server must run to act on SIGTERM */
    if (reap(srv, STOP_TIMEOUT_MS) == 0) return 0;
    kill(srv->pid, SIGKILL);
    return reap(srv, STOP_TIMEOUT_MS) == 0
               ? 0
               : px_error_set(err, ETIMEDOUT, "redis-server %d survived SIGKILL", (int)srv->pid);
}

int redis_server_restart(redis_server *srv, px_error *err) {
    if (srv->pid)
        return px_error_set(err, EBUSY, "redis-server on port %d is still running", srv->port);
    return spawn(srv, err);
}

int redis_server_pause(redis_server *srv, px_error *err) {
    return signal_server(srv, SIGSTOP, "pause", err);
}

int redis_server_resume(redis_server *srv, px_error *err) {
    return signal_server(srv, SIGCONT, "resume", err);
}

redisContext *redis_server_connect(const redis_server *srv, px_error *err) {
    struct timeval tv = {.tv_sec = 1, .tv_usec = 0};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", srv->port, tv);
    if (!c || c->err) {
        px_error_set(err, ECONNREFUSED, "cannot connect to redis-server on port %d: %s", srv->port,
                     c ? c->errstr : "out of memory");
        redisFree(c);
        return NULL;
    }
    redisSetTimeout(c, tv);
    if (srv->requirepass[0]) {
        redisReply *r = redisCommand(c, "AUTH %s", srv->requirepass);
        int ok = r && r->type == REDIS_REPLY_STATUS;
        freeReplyObject(r);
        if (!ok) {
            px_error_set(err, EACCES, "AUTH on redis-server port %d failed", srv->port);
            redisFree(c);
            return NULL;
        }
    }
    return c;
}

void redis_server_free(redis_server *srv) {
    if (!srv) return;
    if (srv->pid) {
        kill(srv->pid, SIGKILL);
        reap(srv, STOP_TIMEOUT_MS);
    }
    remove_dir(srv);
    free(srv);
}
