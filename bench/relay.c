/*
 * A minimal chat relay in C: the physical-limit reference of the benchmark.
 *
 * One process, one thread, epoll. Each connection's first line is its
 * nickname; every later line is relayed to every other signed-on connection
 * as "<nick> text\n", formatted once per message. Output is queued per
 * connection and flushed once per event-loop iteration (one write per
 * connection per iteration, however many lines arrived), with EPOLLOUT armed
 * only while a write is partial. A connection with more than MAX_QUEUED (4 MiB)
 * waiting is closed, so a peer that stops reading cannot grow the relay
 * without bound.
 *
 *     relay PORT [HOST]      (PORT 0: an ephemeral port; HOST default 127.0.0.1)
 *
 * Prints the bound port on stdout, then runs until killed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAX_LINE 4096
#define MAX_NICK 32
#define MAX_QUEUED (4 << 20)
#define READ_CHUNK (256 * 1024)

struct conn {
    int fd;
    int index;          /* position in the members array, -1 until signed on */
    int dirty;          /* listed in the dirty array this iteration */
    int dead;           /* closed at the end of this iteration */
    int want_out;       /* EPOLLOUT armed */
    int discarding;     /* inside an over-long line */
    char nick[MAX_NICK + 1];
    size_t nick_len;
    char *in;           /* a partial line carried over between reads */
    size_t in_len, in_cap;
    char *out;          /* bytes waiting to be written */
    size_t out_off, out_len, out_cap;
};

static int epfd;
static struct conn **members;   /* signed-on connections */
static size_t n_members, cap_members;
static struct conn **dirty;
static size_t n_dirty, cap_dirty;
static struct conn **dead;
static size_t n_dead, cap_dead;
static char line_out[MAX_NICK + MAX_LINE + 8];

static void *grow(void *p, size_t *cap, size_t need, size_t item)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap : 16;
    while (n < need)
        n *= 2;
    p = realloc(p, n * item);
    if (p == NULL) {
        perror("realloc");
        exit(1);
    }
    *cap = n;
    return p;
}

static void mark_dead(struct conn *c)
{
    if (c->dead)
        return;
    c->dead = 1;
    dead = grow(dead, &cap_dead, n_dead + 1, sizeof *dead);
    dead[n_dead++] = c;
}

static void set_out_interest(struct conn *c, int want)
{
    if (c->want_out == want)
        return;
    struct epoll_event ev = {.events = EPOLLIN | (want ? EPOLLOUT : 0), .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = want;
}

static void queue(struct conn *c, const char *data, size_t len)
{
    if (c->dead)
        return;
    if (c->out_len - c->out_off + len > MAX_QUEUED) {
        mark_dead(c);
        return;
    }
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    c->out = grow(c->out, &c->out_cap, c->out_len + len, 1);
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
    if (!c->dirty) {
        c->dirty = 1;
        dirty = grow(dirty, &cap_dirty, n_dirty + 1, sizeof *dirty);
        dirty[n_dirty++] = c;
    }
}

static void flush(struct conn *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            set_out_interest(c, 1);
            return;
        } else {
            mark_dead(c);
            return;
        }
    }
    c->out_off = c->out_len = 0;
    set_out_interest(c, 0);
}

static void relay_line(struct conn *from, const char *text, size_t len)
{
    size_t n = 0;
    line_out[n++] = '<';
    memcpy(line_out + n, from->nick, from->nick_len);
    n += from->nick_len;
    line_out[n++] = '>';
    line_out[n++] = ' ';
    memcpy(line_out + n, text, len);
    n += len;
    line_out[n++] = '\n';
    for (size_t i = 0; i < n_members; i++)
        if (members[i] != from)
            queue(members[i], line_out, n);
}

static void handle_line(struct conn *c, const char *line, size_t len)
{
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (c->index < 0) {
        if (len == 0)
            return;
        c->nick_len = len < MAX_NICK ? len : MAX_NICK;
        memcpy(c->nick, line, c->nick_len);
        c->nick[c->nick_len] = '\0';
        members = grow(members, &cap_members, n_members + 1, sizeof *members);
        c->index = (int)n_members;
        members[n_members++] = c;
    } else if (len > 0) {
        relay_line(c, line, len);
    }
}

static void handle_data(struct conn *c, const char *buf, size_t len)
{
    const char *p = buf, *end = buf + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        if (nl == NULL) {
            size_t rest = (size_t)(end - p);
            if (c->discarding)
                return;
            if (c->in_len + rest > MAX_LINE + 1) {
                c->in_len = 0;
                c->discarding = 1;
                return;
            }
            c->in = grow(c->in, &c->in_cap, c->in_len + rest, 1);
            memcpy(c->in + c->in_len, p, rest);
            c->in_len += rest;
            return;
        }
        size_t piece = (size_t)(nl - p);
        if (c->discarding) {
            c->discarding = 0;
        } else if (c->in_len > 0) {
            if (c->in_len + piece <= MAX_LINE + 1) {
                c->in = grow(c->in, &c->in_cap, c->in_len + piece, 1);
                memcpy(c->in + c->in_len, p, piece);
                handle_line(c, c->in, c->in_len + piece);
            }
            c->in_len = 0;
        } else if (piece <= MAX_LINE + 1) {
            handle_line(c, p, piece);
        }
        p = nl + 1;
    }
}

static void close_conn(struct conn *c)
{
    if (c->index >= 0) {
        struct conn *last = members[--n_members];
        members[c->index] = last;
        last->index = c->index;
    }
    close(c->fd);
    free(c->in);
    free(c->out);
    free(c);
}

static void accept_all(int lfd)
{
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            return;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        struct conn *c = calloc(1, sizeof *c);
        if (c == NULL) {
            close(fd);
            continue;
        }
        c->fd = fd;
        c->index = -1;
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            free(c);
        }
    }
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s PORT [HOST]\n", argv[0]);
        return 2;
    }
    const char *host = argc == 3 ? argv[2] : "127.0.0.1";
    signal(SIGPIPE, SIG_IGN);
    raise_fd_limit();

    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1]))};
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        fprintf(stderr, "relay: bad address %s\n", host);
        return 2;
    }
    if (bind(lfd, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(lfd, SOMAXCONN) < 0) {
        perror("relay: listen");
        return 1;
    }
    socklen_t alen = sizeof addr;
    getsockname(lfd, (struct sockaddr *)&addr, &alen);
    printf("%d\n", ntohs(addr.sin_port));
    fflush(stdout);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &lev);

    static struct epoll_event events[1024];
    static char buf[READ_CHUNK];
    for (;;) {
        int n = epoll_wait(epfd, events, 1024, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            perror("relay: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; i++) {
            struct conn *c = events[i].data.ptr;
            if (c == NULL) {
                accept_all(lfd);
                continue;
            }
            if (c->dead)
                continue;
            if (events[i].events & EPOLLOUT)
                flush(c);
            if (events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
                ssize_t got = recv(c->fd, buf, sizeof buf, 0);
                if (got > 0)
                    handle_data(c, buf, (size_t)got);
                else if (got == 0 || (errno != EAGAIN && errno != EINTR))
                    mark_dead(c);
            }
        }
        for (size_t i = 0; i < n_dirty; i++) {
            dirty[i]->dirty = 0;
            if (!dirty[i]->dead)
                flush(dirty[i]);
        }
        n_dirty = 0;
        for (size_t i = 0; i < n_dead; i++)
            close_conn(dead[i]);
        n_dead = 0;
    }
}
