/* The smallest image of notebook 04: a static HTTP server for a FROM scratch image.
 * No libraries at run time, no shell, no files: one binary that answers every request
 * with one line, and exits at once on SIGTERM (it is PID 1 in its container). */
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void stop(int signal_number) {
    (void)signal_number;
    _exit(0);
}

int main(void) {
    const char *body = "Hello from a FROM scratch image\n";
    char reply[256];
    int length = snprintf(reply, sizeof reply,
                          "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\n\r\n%s",
                          strlen(body), body);

    signal(SIGTERM, stop);
    signal(SIGINT, stop);

    int listener = socket(AF_INET, SOCK_STREAM, 0);
    int on = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
    struct sockaddr_in address = {0};
    address.sin_family = AF_INET;
    address.sin_port = htons(8080);
    address.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(listener, (struct sockaddr *)&address, sizeof address) < 0 || listen(listener, 16) < 0) {
        perror("server: cannot listen on port 8080");
        return 1;
    }
    printf("server: listening on port 8080\n");
    fflush(stdout);

    for (;;) {
        int client = accept(listener, NULL, NULL);
        if (client < 0) {
            continue;
        }
        char request[1024];
        if (read(client, request, sizeof request) >= 0) { /* the request itself is not used */
            ssize_t written = write(client, reply, (size_t)length);
            (void)written;
        }
        close(client);
    }
}
