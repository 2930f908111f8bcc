/* A stand-in for systemd's notification socket, for tests: binds a unix datagram socket at PATH
 * and prints every message it receives on one line (newlines inside a message become '|'), until
 * it is sent SIGTERM or SECONDS pass.
 * Usage: notify_listener PATH SECONDS */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: notify_listener PATH SECONDS\n");
        return 2;
    }
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(argv[1]) >= sizeof addr.sun_path) {
        fprintf(stderr, "notify_listener: path longer than %zu bytes\n", sizeof addr.sun_path - 1);
        return 2;
    }
    memcpy(addr.sun_path, argv[1], strlen(argv[1]) + 1);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0 || bind(fd, (struct sockaddr *)&addr, sizeof addr) < 0) {
        perror("notify_listener: bind");
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    struct timeval tick = {.tv_sec = 1};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tick, sizeof tick);
    time_t end = time(NULL) + atoi(argv[2]);
    char buf[4096];
    while (time(NULL) < end) {
        ssize_t n = recv(fd, buf, sizeof buf - 1, 0);
        if (n <= 0) continue;
        for (ssize_t i = 0; i < n; i++)
            if (buf[i] == '\n') buf[i] = '|';
        buf[n] = '\0';
        printf("%s\n", buf);
    }
    close(fd);
    unlink(argv[1]);
    return 0;
}
