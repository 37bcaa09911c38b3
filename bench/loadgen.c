/*
 * The benchmark's load generator: N chat clients in one process, one thread,
 * epoll and non-blocking sockets.
 *
 * --history H: first one more client ("seed") signs on alone, says H lines
 *
 *     @H <k> xxxx...
 *
 * and half-closes; once the server has closed the connection in turn, it has
 * handled every line, so the room has H lines of history before anyone else
 * connects. With --replay R (for a server that keeps history), every client
 * counts the @H lines it is shown and waits for the end of its replay
 * ("*** End of history") or an error ("*** Error: ..."), and the barrier
 * starts only when every replay has ended, so that no sync line is in one:
 * a replay is complete if it ended and showed R of the lines.
 *
 * Every client connects to 127.0.0.1 (at most --window connections in flight
 * at a time: connecting, or connected and waiting for the server's first
 * byte with --greeting), sends its nickname ("u<i>"), and joins a start barrier:
 * client 0 broadcasts sync lines until every other client has seen one, and
 * client 1 until client 0 has; a client that sees a sync is known to be in the
 * room. Then the first --senders clients send tagged messages
 *
 *     @T <sender> <seq> <send_ns> xxxx...      (padded to --size bytes)
 *
 * either all at once (--rate 0: --messages each, formatted and written in one
 * go) or at a steady --rate per sender, spread evenly over time. Every client
 * reads everything, finds tags anywhere in a line (servers prefix lines
 * differently) and ignores every other line. For every (receiver, sender) it
 * checks that messages arrive complete, once and in order, and it records
 * each delivery's latency from the sender's timestamp (one monotonic clock:
 * one process).
 *
 * --hold: after the barrier print {"event": "ready", ...} and wait for a line
 * on stdin before sending; after the result wait for another line (or EOF)
 * before closing the connections. A harness uses the pauses to read the
 * server's memory with every connection idle and its CPU time over exactly
 * the measured phase.
 *
 * --dialect irc: every client speaks IRC instead (to --port): it registers
 * (NICK u<i>, USER), waits for the end of registration (376, or 422 without a
 * MOTD; other numerics are ignored), JOINs --channel (#lobby) and is in the
 * room once it reads the end of NAMES (366) for it. It says each line above
 * as "PRIVMSG #lobby :<line>", finds tags only in the text of a PRIVMSG to
 * the channel (":nick!user@host PRIVMSG #lobby :@T ...", also behind IRCv3
 * tags "@a=b;c ..."), and answers every PING with a PONG. --dialect mixed:
 * even clients speak the line protocol to --port, odd ones IRC to --irc-port
 * (one server with two frontends, one room). The seed speaks IRC with
 * --dialect irc (and QUITs instead of half-closing), the line protocol
 * otherwise; replays are counted for line clients only (the IRC form of a
 * replay is the server's own). A numeric error (400-599, but 422) before a
 * client is in the room stops the run with the server's text; one after it is
 * counted ("irc_errors", the first quoted in "irc_error").
 *
 * --dialect ws: every client speaks chatsvc's WebSocket JSON protocol to
 * --ws-port (hello, sign-on, then "say" requests; deliveries are "message"
 * events). --dialect ws-readers: the senders speak the line protocol to
 * --port and every other client reads over WebSocket, so that a server's
 * fan-out to WebSocket is measured with the same requests as the line
 * protocol's.
 *
 * --second-port P: odd line-protocol clients connect to port P instead (a
 * second node of a chatsvc cluster, the same chat): one room over two servers.
 *
 * The result is one JSON object on stdout. Exit status 0 if the run completed
 * (all expected deliveries seen), 1 if deliveries were missing at the drain
 * timeout, 2 on a setup failure (could not connect, barrier timeout).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define READ_CHUNK (256 * 1024)
#define MAX_PARTIAL (4 * 1024 * 1024)
#define MIN_SIZE 48
#define STDIN_TAG ((void *)1)

enum state { IDLE, CONNECTING, GREETING, JOINED, CLOSED };
enum dialect { LINE, IRC, MIXED, WS, WS_READERS };
enum irc_state { IRC_REGISTERING, IRC_JOINING, IRC_IN };
enum ws_state { WS_HANDSHAKE, WS_SIGNING_ON, WS_IN };

struct client {
    int fd;
    int index;
    enum state state;
    int retries;
    int nonreader;
    int saw_sync;       /* client 0: saw a sync of client 1; others: of client 0 */
    int want_out;
    int dropped;        /* the server closed or reset the connection after the barrier */
    int64_t retry_at;   /* ns, when IDLE after a failed attempt */
    char *part;         /* a partial line carried over between reads */
    size_t part_len, part_cap;
    int part_overflow;
    int irc;            /* speaks IRC (--dialect irc, or an odd client with mixed) */
    int irc_state;      /* IRC_REGISTERING, IRC_JOINING, IRC_IN */
    int ws;             /* speaks WebSocket (--dialect ws) */
    int ws_state;       /* WS_HANDSHAKE, WS_SIGNING_ON, WS_IN */
    char ws_key[32];    /* its Sec-WebSocket-Key */
    long ws_id;         /* the id of its last request */
    char *msg;          /* a fragmented message being put together */
    size_t msg_len, msg_cap;
    int msg_open;
    int history_seen;   /* @H lines read (--history) */
    int replay_end;     /* read "*** End of history" */
    int replay_error;   /* read "*** Error: ..." */
    char *out;
    size_t out_off, out_len, out_cap;
};

static struct {
    const char *host;
    int port, irc_port, ws_port, second_port;
    enum dialect dialect;
    const char *channel;
    int clients, senders, nonreaders;
    long messages;
    double rate, duration;
    int size;
    int window;
    int greeting;
    int per_ip;
    int hold;
    int history, replay;
    double signon_timeout, drain_timeout, max_drain;
} opt = {
    .host = "127.0.0.1",
    .dialect = LINE,
    .channel = "#lobby",
    .clients = 10,
    .senders = 2,
    .messages = 0,
    .rate = 0,
    .duration = 10,
    .size = 100,
    .window = 256,
    .greeting = 0,
    .per_ip = 0,
    .hold = 0,
    .history = 0,
    .replay = -1,
    .signon_timeout = 120,
    .drain_timeout = 15,
    .max_drain = 120,
};

static int epfd;
static struct client *cl;
static int total;                  /* clients + nonreaders */
static struct sockaddr_in server, irc_server, ws_server, second_server;
static char privmsg[320];          /* "PRIVMSG <channel> :" */
static size_t privmsg_len;

/* Receive-side accounting. */
static uint8_t *seen_bits;         /* [receiver][sender][seq] */
static int32_t *max_seq;           /* [receiver][sender] */
static uint32_t *latency_us;
static uint64_t n_latency, cap_latency;
static uint64_t received, duplicated, out_of_order, corrupt, echoed;
static uint64_t expected;
static int64_t last_delivery_ns;

/* Connection counters. */
static int connected, in_flight, next_to_connect;
static long connect_retries;
static int waiting_to_retry;       /* clients IDLE after a failed attempt */
static int synced_others;          /* clients other than 0 that saw a sync of client 0 */
static int replays_ended;          /* clients that read the end of a replay, or an error */
static int64_t last_replay_ns;     /* the last replay's end (or error) */
static char replay_error_text[128]; /* the first error shown instead of a replay, JSON-safe */
static int replay_clients;         /* clients whose replay is counted: those on the line protocol */
static int irc_clients, irc_in;    /* IRC clients, and those of them in the room */
static uint64_t pings_answered, irc_errors;
static char irc_error_text[128];   /* the first numeric error after sign-on, JSON-safe */
static int ws_clients, ws_in;      /* WebSocket clients, and those of them in the room */
static uint64_t ws_errors;
static char ws_error_text[128];    /* the first error event after sign-on, JSON-safe */

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t cpu_us(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (int64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000 + ru.ru_utime.tv_usec +
           ru.ru_stime.tv_usec;
}

static void die(const char *fmt, ...)
{
    va_list ap;
    char msg[512];
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    printf("{\"event\": \"error\", \"error\": \"%s\", \"connected\": %d}\n", msg, connected);
    fflush(stdout);
    exit(2);
}

static void *grow(void *p, size_t *cap, size_t need, size_t item)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap : 64;
    while (n < need)
        n *= 2;
    p = realloc(p, n * item);
    if (p == NULL)
        die("out of memory");
    *cap = n;
    return p;
}

static void set_events(struct client *c, uint32_t events)
{
    struct epoll_event ev = {.events = events, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
}

static uint32_t read_events(const struct client *c)
{
    return (c->nonreader && c->state == JOINED && synced_others >= total - 1 && c->saw_sync)
               ? 0
               : EPOLLIN;
}

/* Output */

static void flush_out(struct client *c)
{
    while (c->out_off < c->out_len) {
        ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out_off += (size_t)n;
        } else if (n < 0 && errno == EINTR) {
            continue;
        } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!c->want_out) {
                c->want_out = 1;
                set_events(c, read_events(c) | EPOLLOUT);
            }
            return;
        } else {
            c->dropped = 1;
            return;
        }
    }
    c->out_off = c->out_len = 0;
    if (c->want_out) {
        c->want_out = 0;
        set_events(c, read_events(c));
    }
}

static void append_out(struct client *c, const char *data, size_t len)
{
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    c->out = grow(c->out, &c->out_cap, c->out_len + len, 1);
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
}

/* WebSocket output: client frames are masked (RFC 6455 5.3), each with a key of its own. */

static uint64_t rng = 0x9e3779b97f4a7c15u;

static uint32_t random32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static void ws_frame_out(struct client *c, int opcode, const char *payload, size_t len)
{
    size_t head = 2 + (len < 126 ? 0 : len < 65536 ? 2 : 8) + 4;
    if (c->out_off > 0 && c->out_off == c->out_len)
        c->out_off = c->out_len = 0;
    c->out = grow(c->out, &c->out_cap, c->out_len + head + len, 1);
    unsigned char *p = (unsigned char *)c->out + c->out_len;
    *p++ = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        *p++ = (unsigned char)(0x80 | len);
    } else if (len < 65536) {
        *p++ = 0x80 | 126;
        *p++ = (unsigned char)(len >> 8);
        *p++ = (unsigned char)len;
    } else {
        *p++ = 0x80 | 127;
        for (int i = 7; i >= 0; i--)
            *p++ = (unsigned char)((uint64_t)len >> (8 * i));
    }
    uint32_t key = random32();
    unsigned char mask[4];
    memcpy(mask, &key, 4);
    memcpy(p, mask, 4);
    p += 4;
    for (size_t i = 0; i < len; i++)
        p[i] = (unsigned char)payload[i] ^ mask[i & 3];
    c->out_len += head + len;
}

/* A request: {"type":"<type>","id":<n><fields>}, fields starting with a comma or empty. */
static void ws_request(struct client *c, const char *type, const char *fields, size_t len)
{
    static char buf[READ_CHUNK];
    int n = snprintf(buf, sizeof buf, "{\"type\":\"%s\",\"id\":%ld", type, ++c->ws_id);
    if ((size_t)n + len + 1 > sizeof buf)
        die("a request too long");
    memcpy(buf + n, fields, len);
    buf[(size_t)n + len] = '}';
    ws_frame_out(c, 1, buf, (size_t)n + len + 1);
}

/* A say request of text (which needs no JSON escapes: the tags and padding have none). */
static void ws_say(struct client *c, const char *text, size_t len)
{
    static char buf[READ_CHUNK];
    int n = snprintf(buf, sizeof buf, ",\"room\":\"%s\",\"text\":\"", opt.channel + 1);
    if ((size_t)n + len + 1 > sizeof buf)
        die("a message too long");
    memcpy(buf + n, text, len);
    buf[(size_t)n + len] = '"';
    ws_request(c, "say", buf, (size_t)n + len + 1);
}

static void append_message(struct client *c, long seq)
{
    char head[96];
    int n = snprintf(head, sizeof head, "@T %d %ld %" PRId64 " ", c->index, seq, now_ns());
    if (c->ws) {
        static char text[READ_CHUNK];
        memcpy(text, head, (size_t)n);
        memset(text + n, 'x', (size_t)(opt.size - n));
        ws_say(c, text, (size_t)opt.size);
        return;
    }
    if (c->irc) {
        c->out = grow(c->out, &c->out_cap, c->out_len + privmsg_len + (size_t)opt.size + 2, 1);
        memcpy(c->out + c->out_len, privmsg, privmsg_len);
        c->out_len += privmsg_len;
    } else {
        c->out = grow(c->out, &c->out_cap, c->out_len + (size_t)opt.size + 2, 1);
    }
    char *p = c->out + c->out_len;
    memcpy(p, head, (size_t)n);
    memset(p + n, 'x', (size_t)(opt.size - n));
    p[opt.size] = '\r';
    p[opt.size + 1] = '\n';
    c->out_len += (size_t)opt.size + 2;
}

/* A line to the room: as it is, or in a PRIVMSG to the channel for an IRC client. */
static void append_line(struct client *c, const char *line, size_t len)
{
    if (c->ws) {
        ws_say(c, line, len >= 2 && line[len - 2] == '\r' ? len - 2 : len);
        return;
    }
    if (c->irc)
        append_out(c, privmsg, privmsg_len);
    append_out(c, line, len);
}

/* JSON-safe copy of the first of some lines: printable ASCII, '?' for the rest. */
static void keep_text(char *into, size_t cap, const char *p, size_t len)
{
    if (into[0] != '\0')
        return;
    if (len > 0 && p[len - 1] == '\r')
        len--;
    if (len >= cap)
        len = cap - 1;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)p[i];
        into[i] = ch >= 0x20 && ch <= 0x7e && ch != '"' && ch != '\\' ? (char)ch : '?';
    }
    into[len] = '\0';
}

/* Input */

static int parse_uint(const char **p, const char *end, uint64_t *value)
{
    const char *s = *p;
    uint64_t v = 0;
    if (s >= end || *s < '0' || *s > '9')
        return 0;
    while (s < end && *s >= '0' && *s <= '9')
        v = v * 10 + (uint64_t)(*s++ - '0');
    if (s >= end || *s != ' ')
        return 0;
    *value = v;
    *p = s + 1;
    return 1;
}

static void on_tag(struct client *c, const char *tag, const char *eol, int64_t now)
{
    /* tag points at '@', eol at the '\n' ending its line. */
    const char *end = eol;
    if (end > tag && end[-1] == '\r')
        end--;
    if (end - tag < 4 || tag[2] != ' ')
        return;
    if (tag[1] == 'S') {
        uint64_t who = 0;
        const char *p = tag + 3;
        while (p < end && *p >= '0' && *p <= '9')
            who = who * 10 + (uint64_t)(*p++ - '0');
        if (p != end || c->saw_sync)
            return;
        if ((c->index == 0 && who == 1) || (c->index != 0 && who == 0)) {
            c->saw_sync = 1;
            if (c->index != 0)
                synced_others++;
        }
        return;
    }
    if (tag[1] == 'H') {
        c->history_seen++;
        return;
    }
    if (tag[1] != 'T')
        return;
    const char *p = tag + 3;
    uint64_t sender, seq, sent;
    if (end - tag != opt.size || !parse_uint(&p, end, &sender) || !parse_uint(&p, end, &seq) ||
        !parse_uint(&p, end, &sent) || end[-1] != 'x' || sender >= (uint64_t)opt.senders ||
        seq >= (uint64_t)opt.messages) {
        corrupt++;
        return;
    }
    if (c->nonreader || sender == (uint64_t)c->index) {
        echoed++;
        return;
    }
    size_t pair = (size_t)c->index * (size_t)opt.senders + (size_t)sender;
    size_t bit = pair * (size_t)opt.messages + (size_t)seq;
    uint8_t mask = (uint8_t)(1u << (bit & 7));
    if (seen_bits[bit >> 3] & mask) {
        duplicated++;
        return;
    }
    seen_bits[bit >> 3] |= mask;
    received++;
    if ((int32_t)seq < max_seq[pair])
        out_of_order++;
    else
        max_seq[pair] = (int32_t)seq;
    int64_t lat = (now - (int64_t)sent) / 1000;
    if (n_latency < cap_latency)
        latency_us[n_latency++] = (uint32_t)(lat < 0 ? 0 : lat > UINT32_MAX ? UINT32_MAX : lat);
    last_delivery_ns = now;
}

/* --replay: complete lines until the end of the client's replay, or an error instead. */
static void scan_replay(struct client *c, const char *p, const char *end, int64_t now)
{
    static const char done[] = "*** End of history", error[] = "*** Error: ";
    while (p < end && !c->replay_end && !c->replay_error) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        size_t len = (size_t)(eol - p);
        if (len >= sizeof done - 1 && memcmp(p, done, sizeof done - 1) == 0)
            c->replay_end = 1;
        else if (len >= sizeof error - 1 && memcmp(p, error, sizeof error - 1) == 0) {
            c->replay_error = 1;
            size_t n = len > 0 && p[len - 1] == '\r' ? len - 1 : len;
            if (n >= sizeof replay_error_text)
                n = sizeof replay_error_text - 1;
            for (size_t i = 0, first = replay_error_text[0] == '\0'; first && i < n; i++) {
                unsigned char ch = (unsigned char)p[i];
                int plain = ch >= 0x20 && ch <= 0x7e && ch != '"' && ch != '\\';
                replay_error_text[i] = plain ? (char)ch : '?';
            }
        }
        if (c->replay_end || c->replay_error) {
            replays_ended++;
            last_replay_ns = now;
        }
        p = eol + 1;
    }
}

static void scan_irc(struct client *c, const char *p, const char *end, int64_t now);

/* Complete lines in [p, end), end just past a '\n': find the tags in them. */
static void scan_lines(struct client *c, const char *p, const char *end, int64_t now)
{
    if (c->irc) {
        scan_irc(c, p, end, now);
        return;
    }
    if (opt.replay > 0 && !c->replay_end && !c->replay_error)
        scan_replay(c, p, end, now);
    while (p < end) {
        const char *at = memchr(p, '@', (size_t)(end - p));
        if (at == NULL)
            return;
        const char *eol = memchr(at, '\n', (size_t)(end - at));
        on_tag(c, at, eol, now);
        p = eol + 1;
    }
}

/* IRC */

static int is_channel(const char *p, const char *end)
{
    size_t n = strlen(opt.channel);
    return (size_t)(end - p) == n && strncasecmp(p, opt.channel, n) == 0;
}

/* The word at p, up to a space or end; *next: past it and the spaces after it. */
static const char *word_end(const char *p, const char *end, const char **next)
{
    const char *e = memchr(p, ' ', (size_t)(end - p));
    if (e == NULL)
        e = end;
    const char *n = e;
    while (n < end && *n == ' ')
        n++;
    *next = n;
    return e;
}

static void send_join(struct client *c)
{
    char line[256];
    int n = snprintf(line, sizeof line, "JOIN %s\r\n", opt.channel);
    append_out(c, line, (size_t)n);
    flush_out(c);
}

/* One IRC line [p, eol), eol at its '\n': a PRIVMSG to the channel, a PING, a numeric. */
static void on_irc_line(struct client *c, const char *p, const char *eol, int64_t now)
{
    const char *end = eol > p && eol[-1] == '\r' ? eol - 1 : eol;
    const char *s = p;
    if (s < end && *s == '@') /* IRCv3 message tags */
        word_end(s, end, &s);
    if (s < end && *s == ':') /* the source */
        word_end(s, end, &s);
    const char *cmd = s, *args;
    size_t len = (size_t)(word_end(s, end, &args) - cmd);
    if (len == 7 && memcmp(cmd, "PRIVMSG", 7) == 0) {
        const char *text;
        const char *target_end = word_end(args, end, &text);
        if (!is_channel(args, target_end))
            return;
        if (text < end && *text == ':')
            text++;
        if (text < end && *text == '@')
            on_tag(c, text, eol, now);
        return;
    }
    if (len == 4 && memcmp(cmd, "PING", 4) == 0) {
        append_out(c, "PONG ", 5);
        append_out(c, args, (size_t)(end - args));
        append_out(c, "\r\n", 2);
        flush_out(c);
        pings_answered++;
        return;
    }
    if (len != 3 || cmd[0] < '0' || cmd[0] > '9' || cmd[1] < '0' || cmd[1] > '9' ||
        cmd[2] < '0' || cmd[2] > '9')
        return;
    int code = (cmd[0] - '0') * 100 + (cmd[1] - '0') * 10 + (cmd[2] - '0');
    if ((code == 376 || code == 422) && c->irc_state == IRC_REGISTERING) {
        c->irc_state = IRC_JOINING;
        send_join(c);
    } else if (code == 366 && c->irc_state == IRC_JOINING) {
        const char *channel;
        word_end(args, end, &channel); /* past our own nickname */
        const char *rest;
        if (is_channel(channel, word_end(channel, end, &rest))) {
            c->irc_state = IRC_IN;
            irc_in++;
        }
    } else if (code >= 400 && code < 600 && code != 422) {
        if (c->irc_state != IRC_IN) {
            char text[160] = "";
            keep_text(text, sizeof text, p, (size_t)(eol - p));
            die("client %d (IRC) before joining %s: %s", c->index, opt.channel, text);
        }
        irc_errors++;
        keep_text(irc_error_text, sizeof irc_error_text, p, (size_t)(eol - p));
    }
}

static void scan_irc(struct client *c, const char *p, const char *end, int64_t now)
{
    while (p < end) {
        const char *eol = memchr(p, '\n', (size_t)(end - p));
        on_irc_line(c, p, eol, now);
        p = eol + 1;
    }
}

/* WebSocket */

static const char WS_GUID[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/* base64(SHA-1(key + GUID)): the Sec-WebSocket-Accept a server must answer key with. */
static void ws_accept_for(const char *key, char *accept)
{
    char joined[96];
    unsigned char digest[SHA_DIGEST_LENGTH];
    int n = snprintf(joined, sizeof joined, "%s%s", key, WS_GUID);
    SHA1((const unsigned char *)joined, (size_t)n, digest);
    EVP_EncodeBlock((unsigned char *)accept, digest, SHA_DIGEST_LENGTH);
}

static void send_handshake(struct client *c)
{
    unsigned char nonce[16];
    for (int i = 0; i < 16; i += 4) {
        uint32_t r = random32();
        memcpy(nonce + i, &r, 4);
    }
    EVP_EncodeBlock((unsigned char *)c->ws_key, nonce, 16);
    char request[512];
    int n = snprintf(request, sizeof request,
                     "GET /ws HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                     "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
                     "Sec-WebSocket-Version: 13\r\nOrigin: http://%s:%d\r\n\r\n",
                     opt.host, opt.ws_port, c->ws_key, opt.host, opt.ws_port);
    append_out(c, request, (size_t)n);
    flush_out(c);
}

/* The value of the header name (lower case, with its colon) in the response head, or NULL. */
static const char *http_header(const char *head, const char *end, const char *name, size_t *len)
{
    size_t n = strlen(name);
    for (const char *p = memchr(head, '\n', (size_t)(end - head)); p != NULL && p + 1 < end;
         p = memchr(p + 1, '\n', (size_t)(end - p - 1))) {
        const char *line = p + 1;
        if ((size_t)(end - line) > n && strncasecmp(line, name, n) == 0) {
            const char *v = line + n, *e = memchr(v, '\r', (size_t)(end - v));
            while (v < e && (*v == ' ' || *v == '\t'))
                v++;
            while (e > v && (e[-1] == ' ' || e[-1] == '\t'))
                e--;
            *len = (size_t)(e - v);
            return v;
        }
    }
    return NULL;
}

/* The server's answer to the upgrade: 101 and the right Sec-WebSocket-Accept, or the run stops. */
static void ws_check_handshake(struct client *c, const char *head, const char *end)
{
    char text[160] = "", accept[32];
    size_t len;
    if ((size_t)(end - head) < 12 || memcmp(head, "HTTP/1.1 101", 12) != 0) {
        const char *eol = memchr(head, '\r', (size_t)(end - head));
        keep_text(text, sizeof text, head, (size_t)((eol ? eol : end) - head));
        die("client %d: the WebSocket upgrade was answered %s", c->index, text);
    }
    ws_accept_for(c->ws_key, accept);
    const char *got = http_header(head, end, "sec-websocket-accept:", &len);
    if (got == NULL || len != strlen(accept) || memcmp(got, accept, len) != 0) {
        if (got != NULL)
            keep_text(text, sizeof text, got, len);
        die("client %d: Sec-WebSocket-Accept %s, not %s", c->index, got ? text : "missing",
            accept);
    }
}

/* A minimal JSON scan: enough to read the fields of the server's objects, in any order. */

struct jstr {
    const char *p; /* the raw contents, between the quotes */
    size_t len;
    int escaped;   /* has a backslash: decode before use */
};

static const char *jspace(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r'))
        p++;
    return p;
}

/* At a '"': the string, and past its closing quote (NULL if it has none). */
static const char *jstring(const char *p, const char *e, struct jstr *s)
{
    /* A key or a short value ends within a few characters; a message's text (every
       delivery's) is found with memchr rather than a loop a character. */
    s->p = ++p;
    s->escaped = 0;
    for (const char *stop = e - p > 24 ? p + 24 : e; p < stop && *p != '\\'; p++) {
        if (*p == '"') {
            s->len = (size_t)(p - s->p);
            return p + 1;
        }
    }
    for (;;) {
        const char *quote = p < e ? memchr(p, '"', (size_t)(e - p)) : NULL;
        if (quote == NULL)
            return NULL;
        const char *backslash = memchr(p, '\\', (size_t)(quote - p));
        if (backslash == NULL) {
            s->len = (size_t)(quote - s->p);
            return quote + 1;
        }
        s->escaped = 1;
        p = backslash + 2; /* past the backslash and what it escapes, a quote perhaps */
    }
}

/* Past the value at p (a string, number, literal, object or array); NULL if malformed. */
static const char *jskip(const char *p, const char *e)
{
    struct jstr s;
    if (p >= e)
        return NULL;
    if (*p == '"')
        return jstring(p, e, &s);
    if (*p != '{' && *p != '[') {
        while (p < e && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n')
            p++;
        return p;
    }
    int depth = 0;
    while (p < e) {
        if (*p == '"') {
            p = jstring(p, e, &s);
            if (p == NULL)
                return NULL;
            continue;
        }
        if (*p == '{' || *p == '[')
            depth++;
        else if ((*p == '}' || *p == ']') && --depth == 0)
            return p + 1;
        p++;
    }
    return NULL;
}

static size_t put_utf8(char *o, uint32_t cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | cp >> 6);
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | cp >> 12);
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | cp >> 18);
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

static uint32_t hex4(const char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        char ch = p[i];
        v = v * 16 + (uint32_t)(ch >= '0' && ch <= '9'   ? ch - '0'
                                : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                                : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                                         : 0);
    }
    return v;
}

/* The string's text, its escapes decoded (into buf if it has any), and its length. */
static const char *jtext(const struct jstr *s, char *buf, size_t cap, size_t *len)
{
    if (!s->escaped) {
        *len = s->len;
        return s->p;
    }
    size_t n = 0;
    for (const char *p = s->p, *e = s->p + s->len; p < e && n + 4 < cap; p++) {
        if (*p != '\\') {
            buf[n++] = *p;
            continue;
        }
        if (++p >= e)
            break;
        switch (*p) {
        case 'b': buf[n++] = '\b'; break;
        case 'f': buf[n++] = '\f'; break;
        case 'n': buf[n++] = '\n'; break;
        case 'r': buf[n++] = '\r'; break;
        case 't': buf[n++] = '\t'; break;
        case 'u':
            if (e - p >= 5) {
                uint32_t cp = hex4(p + 1);
                p += 4;
                if (cp >= 0xd800 && cp < 0xdc00 && e - p >= 7 && p[1] == '\\' && p[2] == 'u') {
                    uint32_t low = hex4(p + 3);
                    if (low >= 0xdc00 && low < 0xe000) {
                        cp = 0x10000 + ((cp - 0xd800) << 10) + (low - 0xdc00);
                        p += 6;
                    }
                }
                n += put_utf8(buf + n, cp);
            }
            break;
        default: buf[n++] = *p; /* " \ / */
        }
    }
    *len = n;
    return buf;
}

static int jis(const struct jstr *s, const char *word)
{
    size_t n = strlen(word);
    return s->p != NULL && !s->escaped && s->len == n && memcmp(s->p, word, n) == 0;
}

/* The top-level fields of an object the loadgen looks at. */
struct jobject {
    struct jstr type, nick, text, room, code, message, reason;
    const char *id, *id_end;      /* the raw value */
    const char *lines, *lines_end; /* the raw array */
    int joining;
};

/* Read the object at [p, e); 0 if it is not one. */
static int jobject(const char *p, const char *e, struct jobject *o)
{
    memset(o, 0, sizeof *o);
    p = jspace(p, e);
    if (p >= e || *p != '{')
        return 0;
    p = jspace(p + 1, e);
    if (p < e && *p == '}')
        return 1;
    while (p < e) {
        struct jstr key;
        if (*p != '"' || (p = jstring(p, e, &key)) == NULL)
            return 0;
        p = jspace(p, e);
        if (p >= e || *p != ':')
            return 0;
        p = jspace(p + 1, e);
        const char *value = p;
        struct jstr string;
        if ((p = *p == '"' ? jstring(p, e, &string) : jskip(p, e)) == NULL)
            return 0;
        struct jstr *into = jis(&key, "type")      ? &o->type
                            : jis(&key, "nick")    ? &o->nick
                            : jis(&key, "text")    ? &o->text
                            : jis(&key, "room")    ? &o->room
                            : jis(&key, "code")    ? &o->code
                            : jis(&key, "message") ? &o->message
                            : jis(&key, "reason")  ? &o->reason
                                                   : NULL;
        if (into != NULL && *value == '"')
            *into = string;
        else if (jis(&key, "id")) {
            o->id = value;
            o->id_end = p;
        } else if (jis(&key, "lines") && *value == '[') {
            o->lines = value;
            o->lines_end = p;
        } else if (jis(&key, "joining"))
            o->joining = p - value == 4 && memcmp(value, "true", 4) == 0;
        p = jspace(p, e);
        if (p < e && *p == '}')
            return 1;
        if (p >= e || *p != ',')
            return 0;
        p = jspace(p + 1, e);
    }
    return 0;
}

static int is_room(const struct jstr *room)
{
    static char buf[512];
    size_t len;
    const char *name = jtext(room, buf, sizeof buf, &len);
    return room->p != NULL && len == strlen(opt.channel + 1) &&
           strncasecmp(name, opt.channel + 1, len) == 0;
}

/* The @H lines among the lines of a history event. */
static int history_lines(const char *p, const char *e)
{
    static char buf[65536];
    int count = 0;
    p = jspace(p + 1, e);
    while (p < e && *p == '{') {
        const char *next = jskip(p, e);
        struct jobject line;
        if (next == NULL || !jobject(p, next, &line))
            break;
        size_t len;
        const char *text = jtext(&line.text, buf, sizeof buf, &len);
        count += line.text.p != NULL && len >= 3 && memcmp(text, "@H ", 3) == 0;
        p = jspace(next, e);
        if (p < e && *p == ',')
            p = jspace(p + 1, e);
    }
    return count;
}

/* "code: message" of an error (or goodbye), JSON-safe, for the report. */
static void keep_error(char *into, size_t cap, const struct jobject *o)
{
    static char buf[512], joined[512];
    size_t clen, mlen;
    const char *code = jtext(o->code.p ? &o->code : &o->reason, buf, sizeof buf, &clen);
    int n = snprintf(joined, sizeof joined, "%.*s: ", (int)clen, code);
    const char *message = jtext(&o->message, buf, sizeof buf, &mlen);
    snprintf(joined + n, sizeof joined - (size_t)n, "%.*s", (int)mlen, message);
    keep_text(into, cap, joined, strlen(joined));
}

/* One whole message from the server: a JSON object. */
static void ws_message(struct client *c, const char *p, size_t len, int64_t now)
{
    static char buf[65536];
    struct jobject o;
    if (!jobject(p, p + len, &o) || o.type.p == NULL) {
        corrupt++;
        return;
    }
    if (jis(&o.type, "message")) {
        size_t n;
        const char *text = jtext(&o.text, buf, sizeof buf, &n);
        if (o.text.p != NULL && n > 0 && text[0] == '@' && is_room(&o.room))
            on_tag(c, text, text + n, now);
        return;
    }
    if (jis(&o.type, "reply")) {
        return; /* to hello, sign-on, say */
    }
    if (jis(&o.type, "entered")) {
        /* The lobby, entered on signing on (the only room a client is put in unasked). */
        if (c->ws_state != WS_IN) {
            c->ws_state = WS_IN;
            ws_in++;
        }
        return;
    }
    if (jis(&o.type, "history")) {
        if (opt.replay > 0 && o.joining && !c->replay_end && !c->replay_error &&
            is_room(&o.room) && o.lines != NULL) {
            c->history_seen = history_lines(o.lines, o.lines_end);
            c->replay_end = 1;
            replays_ended++;
            last_replay_ns = now;
        }
        return;
    }
    if (jis(&o.type, "error") || jis(&o.type, "goodbye")) {
        char text[160] = "";
        keep_error(text, sizeof text, &o);
        int null_id = o.id != NULL && o.id_end - o.id == 4 && memcmp(o.id, "null", 4) == 0;
        if (jis(&o.type, "error") && null_id && opt.replay > 0 && c->ws_state == WS_IN &&
            !c->replay_end && !c->replay_error) {
            /* The replay on entering failed: the line protocol's "*** Error: ...". */
            c->replay_error = 1;
            replays_ended++;
            last_replay_ns = now;
            keep_text(replay_error_text, sizeof replay_error_text, text, strlen(text));
            return;
        }
        if (c->ws_state != WS_IN)
            die("client %d (WebSocket) before entering %s: %s %s", c->index, opt.channel + 1,
                jis(&o.type, "error") ? "error" : "goodbye", text);
        ws_errors++;
        keep_text(ws_error_text, sizeof ws_error_text, text, strlen(text));
    }
}

/* One frame from the server: hlen bytes of header, then plen of payload. */
static void ws_frame(struct client *c, const unsigned char *f, size_t hlen, size_t plen,
                     int64_t now)
{
    int fin = f[0] & 0x80, opcode = f[0] & 0x0f;
    const char *payload = (const char *)f + hlen;
    if (f[0] & 0x70)
        die("client %d: a WebSocket frame with reserved bits set (none was negotiated)",
            c->index);
    if (f[1] & 0x80)
        die("client %d: a masked WebSocket frame from the server", c->index);
    if (opcode >= 8 && (!fin || plen > 125))
        die("client %d: a fragmented or long WebSocket control frame", c->index);
    switch (opcode) {
    case 9: /* ping */
        ws_frame_out(c, 10, payload, plen);
        flush_out(c);
        pings_answered++;
        return;
    case 10: return; /* pong */
    case 8: {        /* close: answered with the same code */
        if (c->ws_state != WS_IN) {
            char text[160] = "";
            keep_text(text, sizeof text, plen > 2 ? payload + 2 : "", plen > 2 ? plen - 2 : 0);
            die("client %d: the server closed the WebSocket, code %d: %s", c->index,
                plen >= 2 ? (unsigned char)payload[0] << 8 | (unsigned char)payload[1] : 1005,
                text);
        }
        ws_frame_out(c, 8, payload, plen >= 2 ? 2 : 0);
        flush_out(c);
        return;
    }
    case 1:
    case 2:
        if (c->msg_open)
            die("client %d: a new WebSocket message inside a fragmented one", c->index);
        if (opcode == 2) {
            corrupt++; /* the protocol has text frames only */
            if (!fin)
                c->msg_open = 2;
            return;
        }
        if (fin) {
            ws_message(c, payload, plen, now);
            return;
        }
        c->msg_open = 1;
        c->msg_len = 0;
        break;
    case 0:
        if (!c->msg_open)
            die("client %d: a WebSocket continuation frame with nothing to continue", c->index);
        if (c->msg_open == 2) {
            c->msg_open = !fin ? 2 : 0;
            return;
        }
        break;
    default: die("client %d: a WebSocket frame of opcode %d", c->index, opcode);
    }
    if (c->msg_len + plen > MAX_PARTIAL)
        die("client %d: a WebSocket message over %d bytes", c->index, MAX_PARTIAL);
    c->msg = grow(c->msg, &c->msg_cap, c->msg_len + plen, 1);
    memcpy(c->msg + c->msg_len, payload, plen);
    c->msg_len += plen;
    if (fin) {
        c->msg_open = 0;
        ws_message(c, c->msg, c->msg_len, now);
    }
}

/* A frame's whole size if its header is all in [p, p + avail), else 0. */
static size_t ws_header(const unsigned char *p, size_t avail, size_t *hlen, size_t *plen)
{
    if (avail < 2)
        return 0;
    size_t h = 2;
    uint64_t n = p[1] & 0x7f;
    if (n == 126) {
        if (avail < 4)
            return 0;
        n = (uint64_t)p[2] << 8 | p[3];
        h = 4;
    } else if (n == 127) {
        if (avail < 10)
            return 0;
        n = 0;
        for (int i = 2; i < 10; i++)
            n = n << 8 | p[i];
        h = 10;
    }
    if (p[1] & 0x80)
        h += 4; /* a mask key: refused by ws_frame */
    if (n > MAX_PARTIAL)
        die("a WebSocket frame of %" PRIu64 " bytes", n);
    *hlen = h;
    *plen = (size_t)n;
    return h + (size_t)n;
}

/* The whole frames in [p, end); returns where the first incomplete one starts. */
static const unsigned char *ws_frames(struct client *c, const unsigned char *p,
                                      const unsigned char *end, int64_t now)
{
    size_t hlen, plen, total;
    while (p < end && (total = ws_header(p, (size_t)(end - p), &hlen, &plen)) != 0 &&
           total <= (size_t)(end - p)) {
        ws_frame(c, p, hlen, plen, now);
        p += total;
    }
    return p;
}

static void keep_part(struct client *c, const unsigned char *p, size_t len)
{
    c->part = grow(c->part, &c->part_cap, c->part_len + len, 1);
    memcpy(c->part + c->part_len, p, len);
    c->part_len += len;
}

static void on_ws_data(struct client *c, const char *buf, size_t len, int64_t now)
{
    const unsigned char *p = (const unsigned char *)buf, *end = p + len;
    if (c->ws_state == WS_HANDSHAKE) {
        keep_part(c, p, len);
        char *head_end = memmem(c->part, c->part_len, "\r\n\r\n", 4);
        if (head_end == NULL) {
            if (c->part_len > 16384)
                die("client %d: an HTTP response head over 16 KiB", c->index);
            return;
        }
        ws_check_handshake(c, c->part, head_end + 2);
        c->ws_state = WS_SIGNING_ON;
        char fields[128];
        static const char hello[] = ",\"versions\":[1],\"client\":\"chatsvc-bench-loadgen\"";
        ws_request(c, "hello", hello, sizeof hello - 1);
        int n = snprintf(fields, sizeof fields, ",\"nick\":\"u%d\"", c->index);
        ws_request(c, "sign-on", fields, (size_t)n);
        flush_out(c);
        size_t used = (size_t)(head_end + 4 - c->part);
        memmove(c->part, c->part + used, c->part_len - used);
        c->part_len -= used;
        const unsigned char *rest = (const unsigned char *)c->part;
        const unsigned char *left = ws_frames(c, rest, rest + c->part_len, now);
        c->part_len -= (size_t)(left - rest);
        memmove(c->part, left, c->part_len);
        return;
    }
    /* First complete a frame carried over from the last read, taking no more than it needs. */
    while (c->part_len > 0 && p < end) {
        size_t hlen, plen;
        size_t total = ws_header((unsigned char *)c->part, c->part_len, &hlen, &plen);
        size_t want = total ? total - c->part_len : 14;
        size_t take = want < (size_t)(end - p) ? want : (size_t)(end - p);
        keep_part(c, p, take);
        p += take;
        total = ws_header((unsigned char *)c->part, c->part_len, &hlen, &plen);
        if (total && c->part_len >= total) {
            p -= c->part_len - total; /* a header's worth taken past the frame */
            c->part_len = 0;
            ws_frame(c, (unsigned char *)c->part, hlen, plen, now);
        }
    }
    p = ws_frames(c, p, end, now);
    if (p < end)
        keep_part(c, p, (size_t)(end - p));
}

static void on_data(struct client *c, const char *buf, size_t len, int64_t now)
{
    if (c->ws) {
        on_ws_data(c, buf, len, now);
        return;
    }
    const char *p = buf, *end = buf + len;
    if (c->part_len > 0 || c->part_overflow) {
        const char *nl = memchr(p, '\n', len);
        if (nl == NULL) {
            if (c->part_len + len > MAX_PARTIAL) {
                c->part_overflow = 1;
                c->part_len = 0;
            } else if (!c->part_overflow) {
                c->part = grow(c->part, &c->part_cap, c->part_len + len, 1);
                memcpy(c->part + c->part_len, p, len);
                c->part_len += len;
            }
            return;
        }
        size_t piece = (size_t)(nl - p) + 1;
        if (!c->part_overflow) {
            c->part = grow(c->part, &c->part_cap, c->part_len + piece, 1);
            memcpy(c->part + c->part_len, p, piece);
            scan_lines(c, c->part, c->part + c->part_len + piece, now);
        }
        c->part_len = 0;
        c->part_overflow = 0;
        p = nl + 1;
    }
    const char *last = memrchr(p, '\n', (size_t)(end - p));
    if (last == NULL)
        last = p - 1;
    else
        scan_lines(c, p, last + 1, now);
    size_t rest = (size_t)(end - (last + 1));
    if (rest > 0) {
        c->part = grow(c->part, &c->part_cap, rest, 1);
        memcpy(c->part, last + 1, rest);
        c->part_len = rest;
    }
}

/* Connecting */

static void failed(struct client *c, int64_t now);

static void start_connect(struct client *c)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (c->nonreader) {
        int small = 4096;
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    if (opt.per_ip > 0) {
        /* Spread clients over 127.0.0.0/8, --per-ip of them to each source address. */
        uint32_t host = 0x7f000000u + 0x10000u + (uint32_t)(c->index / opt.per_ip) + 1;
        struct sockaddr_in src = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(host)};
        setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0)
            die("bind to a 127/8 source address: %s", strerror(errno));
    }
    c->fd = fd;
    c->state = CONNECTING;
    struct epoll_event ev = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    in_flight++;
    const struct sockaddr_in *to = c->ws    ? &ws_server
                                   : c->irc ? &irc_server
                                   : opt.second_port > 0 && c->index % 2 == 1 ? &second_server
                                                                              : &server;
    if (connect(fd, (const struct sockaddr *)to, sizeof *to) < 0 && errno != EINPROGRESS)
        failed(c, now_ns());
}

static void send_nick(struct client *c)
{
    if (c->ws) {
        send_handshake(c);
        return;
    }
    char line[96];
    int n = c->irc ? snprintf(line, sizeof line, "NICK u%d\r\nUSER u%d 0 * :u%d\r\n", c->index,
                              c->index, c->index)
                   : snprintf(line, sizeof line, "u%d\r\n", c->index);
    append_out(c, line, (size_t)n);
    flush_out(c);
}

static void accepted(struct client *c)
{
    c->state = JOINED;
    in_flight--;
    connected++;
}

static void failed(struct client *c, int64_t now)
{
    /* Refused, reset or closed before the barrier: try again a little later. */
    epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    c->fd = -1;
    if (c->state == CONNECTING || c->state == GREETING)
        in_flight--;
    else if (c->state == JOINED)
        connected--;
    c->state = IDLE;
    c->out_off = c->out_len = c->part_len = 0;
    c->saw_sync = 0;
    c->want_out = 0;
    if (c->replay_end || c->replay_error)
        replays_ended--;
    c->replay_end = c->replay_error = c->history_seen = 0;
    if (c->irc_state == IRC_IN)
        irc_in--;
    c->irc_state = IRC_REGISTERING;
    if (c->ws_state == WS_IN)
        ws_in--;
    c->ws_state = WS_HANDSHAKE;
    c->msg_open = 0;
    connect_retries++;
    if (++c->retries > 50)
        die("client %d could not connect (50 attempts)", c->index);
    c->retry_at = now + 100000000;
    waiting_to_retry++;
}

static void connect_more(int64_t now)
{
    for (int i = 0; waiting_to_retry > 0 && i < total && in_flight < opt.window; i++) {
        struct client *c = &cl[i];
        if (c->state == IDLE && c->retry_at <= now && c->fd < 0 && c->retries > 0) {
            waiting_to_retry--;
            start_connect(c);
        }
    }
    while (in_flight < opt.window && next_to_connect < total)
        start_connect(&cl[next_to_connect++]);
}

/* Reading */

static char rbuf[READ_CHUNK];

static void on_readable(struct client *c, int64_t before_barrier)
{
    ssize_t n = recv(c->fd, rbuf, sizeof rbuf, 0);
    int64_t now = now_ns();
    if (n > 0) {
        if (c->state == GREETING)
            accepted(c);
        on_data(c, rbuf, (size_t)n, now);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (before_barrier) {
        failed(c, now);
    } else {
        c->dropped = 1;
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
        c->fd = -1;
        c->state = CLOSED;
    }
}

static void handle_event(struct epoll_event *ev, int before_barrier)
{
    struct client *c = ev->data.ptr;
    int64_t now = now_ns();
    if (c->state == CONNECTING) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0 || (ev->events & (EPOLLERR | EPOLLHUP))) {
            failed(c, now);
            return;
        }
        if (!(ev->events & (EPOLLOUT | EPOLLIN)))
            return;
        c->state = GREETING;
        set_events(c, EPOLLIN);
        send_nick(c);
        if (!opt.greeting)
            accepted(c);
        if (!(ev->events & EPOLLIN))
            return;
    }
    if (c->state == CLOSED || c->fd < 0)
        return;
    if (c->nonreader && !before_barrier && read_events(c) == 0) {
        if (ev->events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP)) {
            c->dropped = 1;
            epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        }
        if (ev->events & EPOLLOUT)
            flush_out(c);
        return;
    }
    if (ev->events & EPOLLOUT)
        flush_out(c);
    if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR))
        on_readable(c, before_barrier);
}

/* Results */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static uint32_t percentile(double q)
{
    if (n_latency == 0)
        return 0;
    uint64_t i = (uint64_t)(q * (double)(n_latency - 1) + 0.5);
    return latency_us[i];
}

static void usage(int status)
{
    fputs(
        "usage: loadgen --port P [options]   (prints one JSON object)\n"
        "  --host A            server address (127.0.0.1)\n"
        "  --dialect D         line (the nickname-first line protocol), irc, mixed: even\n"
        "                      clients on the line protocol, odd ones on IRC; or ws: every client\n"
        "                      on the WebSocket JSON protocol, at ws://HOST:WS-PORT/ws; or\n"
        "                      ws-readers: the senders on the line protocol, the other clients\n"
        "                      on WebSocket (a fan-out to WebSocket of the line's requests)\n"
        "                      (line)\n"
        "  --irc-port P        with --dialect mixed: the server's IRC port\n"
        "  --ws-port P         with --dialect ws or ws-readers: the server's WebSocket (HTTP)\n"
        "                      port; --port is its line port, for the seed of --history\n"
        "  --second-port P     odd line clients connect to port P (a second node of a cluster)\n"
        "  --channel C         the IRC channel of the room (#lobby)\n"
        "  --clients N         clients in the room (10)\n"
        "  --senders S         the first S clients send (2)\n"
        "  --messages M        messages per sender (default: rate x duration, or 1)\n"
        "  --rate R            messages/s per sender, spread evenly; 0: all at once (0)\n"
        "  --duration D        seconds of sending at --rate (10)\n"
        "  --size B            bytes per message line, without its CRLF (100, at least 48)\n"
        "  --nonreaders K      extra clients that stop reading after the barrier (0)\n"
        "  --window W          connections in flight at once (256)\n"
        "  --history H         a client says H lines first; count each client's replay (0)\n"
        "  --replay R          with --history: lines a complete replay shows; the barrier\n"
        "                      waits for every replay to end (H; 0: the server keeps none)\n"
        "  --greeting          the server greets: a connection counts as accepted on its first byte\n"
        "  --per-ip K          bind K clients to each source address in 127.1.0.0/16 (0: none)\n"
        "  --hold              print a ready line after the barrier and wait for a stdin line;\n"
        "                      after the result, wait for another before closing\n"
        "  --signon-timeout S  longest connect and barrier phase (120)\n"
        "  --drain-timeout S   longest wait with no delivery after the last send (15)\n"
        "  --max-drain S       longest wait after the last send in all (120)\n",
        status ? stderr : stdout);
    exit(status);
}

static void parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"host", required_argument, 0, 'h'},
        {"dialect", required_argument, 0, 'L'},
        {"irc-port", required_argument, 0, 'P'},
        {"ws-port", required_argument, 0, 'W'},
        {"second-port", required_argument, 0, 'Q'},
        {"channel", required_argument, 0, 'C'},
        {"port", required_argument, 0, 'p'},
        {"clients", required_argument, 0, 'n'},
        {"senders", required_argument, 0, 's'},
        {"messages", required_argument, 0, 'm'},
        {"rate", required_argument, 0, 'r'},
        {"duration", required_argument, 0, 'd'},
        {"size", required_argument, 0, 'b'},
        {"nonreaders", required_argument, 0, 'k'},
        {"window", required_argument, 0, 'w'},
        {"greeting", no_argument, 0, 'g'},
        {"per-ip", required_argument, 0, 'i'},
        {"hold", no_argument, 0, 'H'},
        {"history", required_argument, 0, 'y'},
        {"replay", required_argument, 0, 'R'},
        {"signon-timeout", required_argument, 0, 'S'},
        {"drain-timeout", required_argument, 0, 'D'},
        {"max-drain", required_argument, 0, 'X'},
        {"help", no_argument, 0, 'u'},
        {0, 0, 0, 0},
    };
    int ch;
    while ((ch = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (ch) {
        case 'h': opt.host = optarg; break;
        case 'L':
            if (strcmp(optarg, "line") == 0)
                opt.dialect = LINE;
            else if (strcmp(optarg, "irc") == 0)
                opt.dialect = IRC;
            else if (strcmp(optarg, "mixed") == 0)
                opt.dialect = MIXED;
            else if (strcmp(optarg, "ws") == 0)
                opt.dialect = WS;
            else if (strcmp(optarg, "ws-readers") == 0)
                opt.dialect = WS_READERS;
            else
                usage(2);
            break;
        case 'P': opt.irc_port = atoi(optarg); break;
        case 'Q': opt.second_port = atoi(optarg); break;
        case 'W': opt.ws_port = atoi(optarg); break;
        case 'C': opt.channel = optarg; break;
        case 'p': opt.port = atoi(optarg); break;
        case 'n': opt.clients = atoi(optarg); break;
        case 's': opt.senders = atoi(optarg); break;
        case 'm': opt.messages = atol(optarg); break;
        case 'r': opt.rate = atof(optarg); break;
        case 'd': opt.duration = atof(optarg); break;
        case 'b': opt.size = atoi(optarg); break;
        case 'k': opt.nonreaders = atoi(optarg); break;
        case 'w': opt.window = atoi(optarg); break;
        case 'g': opt.greeting = 1; break;
        case 'i': opt.per_ip = atoi(optarg); break;
        case 'H': opt.hold = 1; break;
        case 'y': opt.history = atoi(optarg); break;
        case 'R': opt.replay = atoi(optarg); break;
        case 'S': opt.signon_timeout = atof(optarg); break;
        case 'D': opt.drain_timeout = atof(optarg); break;
        case 'X': opt.max_drain = atof(optarg); break;
        case 'u': usage(0); break;
        default: usage(2);
        }
    }
    if (optind != argc || opt.port <= 0 || opt.clients < 2 || opt.senders < 1 ||
        opt.senders > opt.clients || opt.size < MIN_SIZE || opt.window < 1 || opt.rate < 0 ||
        opt.nonreaders < 0 || opt.history < 0)
        usage(2);
    if (opt.dialect == MIXED && opt.irc_port <= 0) {
        fputs("loadgen: --dialect mixed needs --irc-port\n", stderr);
        usage(2);
    }
    if ((opt.dialect == WS || opt.dialect == WS_READERS) && opt.ws_port <= 0) {
        fputs(opt.dialect == WS ? "loadgen: --dialect ws needs --ws-port\n"
                                : "loadgen: --dialect ws-readers needs --ws-port\n",
              stderr);
        usage(2);
    }
    if ((opt.channel[0] != '#' && opt.channel[0] != '&') || strlen(opt.channel) > 200 ||
        strpbrk(opt.channel, " ,\r\n\a") != NULL) {
        fputs("loadgen: --channel must be an IRC channel name, such as #lobby\n", stderr);
        usage(2);
    }
    if ((opt.dialect == IRC || opt.dialect == MIXED) && opt.size > 400) {
        /* With the source prefix, a longer message would not fit in IRC's 512 bytes. */
        fputs("loadgen: with IRC, --size must be at most 400\n", stderr);
        usage(2);
    }
    if (opt.replay < 0 || opt.replay > opt.history)
        opt.replay = opt.history;
    if (opt.messages <= 0)
        opt.messages = opt.rate > 0 ? (long)(opt.rate * opt.duration + 0.5) : 1;
    if (opt.messages < 1)
        opt.messages = 1;
}

static void raise_fd_limit(int need)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rlim_t want = (rlim_t)need + 64;
    if (rl.rlim_cur >= want)
        return;
    if (rl.rlim_max < want)
        rl.rlim_max = want; /* allowed for root; otherwise the next call fails */
    rl.rlim_cur = want;
    if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
        getrlimit(RLIMIT_NOFILE, &rl);
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        if (rl.rlim_cur < want)
            die("need %d file descriptors, the limit is %lu", need, (unsigned long)rl.rlim_cur);
    }
}

/*
 * The seed has said everything: close our side, read (and drop) whatever the
 * server still sends until it closes too, so that its lines are handled.
 */
static void seed_finish(int fd)
{
    shutdown(fd, SHUT_WR);
    for (;;) {
        char sink[4096];
        ssize_t got = recv(fd, sink, sizeof sink, 0);
        if (got == 0 || (got < 0 && errno == ECONNRESET))
            break;
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            die("seeding the history: the server did not close: %s", strerror(errno));
    }
    close(fd);
}

/*
 * --history: one client signs on alone, says the lines and half-closes; when
 * the server closes in turn it has handled every line, so they are history.
 */
static void seed_history(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    struct timeval bound = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof bound);
    if (connect(fd, (struct sockaddr *)&server, sizeof server) < 0)
        die("seeding the history: connect: %s", strerror(errno));
    size_t cap = 16 + (size_t)opt.history * ((size_t)opt.size + 2), len = 0;
    char *buf = malloc(cap);
    if (buf == NULL)
        die("out of memory");
    len += (size_t)snprintf(buf, cap, "seed\r\n");
    for (int k = 0; k < opt.history; k++) {
        int n = snprintf(buf + len, cap - len, "@H %d ", k);
        memset(buf + len + (size_t)n, 'x', (size_t)(opt.size - n));
        memcpy(buf + len + (size_t)opt.size, "\r\n", 2);
        len += (size_t)opt.size + 2;
    }
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("seeding the history: send: %s", strerror(errno));
        off += (size_t)n;
    }
    free(buf);
    seed_finish(fd);
}

/*
 * --history with --dialect irc: the seed registers, joins the channel, says
 * the lines in PRIVMSGs and QUITs; the server closes once it has handled them.
 */
static void seed_send(int fd, const char *buf, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t n = send(fd, buf + off, len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("seeding the history: send: %s", strerror(errno));
        off += (size_t)n;
    }
}

/* Read lines until one whose command is one of the numerics (0-terminated list), answering PINGs. */
static void seed_wait(int fd, const int *codes, const char *what)
{
    static char buf[8192];
    static size_t have;
    for (;;) {
        char *nl;
        while ((nl = memchr(buf, '\n', have)) != NULL) {
            const char *p = buf, *end = nl, *cmd;
            if (end > p && end[-1] == '\r')
                end--;
            if (p < end && *p == '@')
                word_end(p, end, &p);
            if (p < end && *p == ':')
                word_end(p, end, &p);
            const char *args, *cmd_end = word_end(p, end, &args);
            cmd = p;
            int found = 0;
            if (cmd_end - cmd == 4 && memcmp(cmd, "PING", 4) == 0) {
                seed_send(fd, "PONG ", 5);
                seed_send(fd, args, (size_t)(end - args));
                seed_send(fd, "\r\n", 2);
            } else if (cmd_end - cmd == 3) {
                int code = atoi(cmd);
                for (const int *k = codes; *k; k++)
                    found |= code == *k;
                if (!found && code >= 400 && code < 600 && code != 422) {
                    char text[160] = "";
                    keep_text(text, sizeof text, buf, (size_t)(nl - buf));
                    die("seeding the history (IRC): %s", text);
                }
            }
            size_t used = (size_t)(nl + 1 - buf);
            memmove(buf, nl + 1, have - used);
            have -= used;
            if (found)
                return;
        }
        if (have == sizeof buf)
            have = 0; /* a line too long to be one we wait for */
        ssize_t n = recv(fd, buf + have, sizeof buf - have, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            die("seeding the history (IRC): no %s: %s", what, n == 0 ? "closed" : strerror(errno));
        have += (size_t)n;
    }
}

static void seed_history_irc(void)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    struct timeval bound = {.tv_sec = 10};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &bound, sizeof bound);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof bound);
    if (connect(fd, (struct sockaddr *)&irc_server, sizeof irc_server) < 0)
        die("seeding the history: connect: %s", strerror(errno));
    static const int registered[] = {376, 422, 0}, names[] = {366, 0};
    static const char hello[] = "NICK seed\r\nUSER seed 0 * :seed\r\n";
    seed_send(fd, hello, sizeof hello - 1);
    seed_wait(fd, registered, "end of registration");
    char line[600];
    int n = snprintf(line, sizeof line, "JOIN %s\r\n", opt.channel);
    seed_send(fd, line, (size_t)n);
    seed_wait(fd, names, "end of NAMES");
    for (int k = 0; k < opt.history; k++) {
        memcpy(line, privmsg, privmsg_len);
        int h = snprintf(line + privmsg_len, sizeof line - privmsg_len, "@H %d ", k);
        memset(line + privmsg_len + (size_t)h, 'x', (size_t)(opt.size - h));
        memcpy(line + privmsg_len + (size_t)opt.size, "\r\n", 2);
        seed_send(fd, line, privmsg_len + (size_t)opt.size + 2);
    }
    static const char quit[] = "QUIT :seeded\r\n";
    seed_send(fd, quit, sizeof quit - 1);
    seed_finish(fd);
}

/* Wait on stdin for a line (or EOF) while still reading every socket. */
static void wait_for_stdin(int before_barrier)
{
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = STDIN_TAG};
    epoll_ctl(epfd, EPOLL_CTL_ADD, STDIN_FILENO, &ev);
    static struct epoll_event events[1024];
    for (;;) {
        int n = epoll_wait(epfd, events, 1024, 1000);
        for (int i = 0; i < n; i++) {
            if (events[i].data.ptr == STDIN_TAG) {
                char line[256];
                ssize_t got = read(STDIN_FILENO, line, sizeof line);
                if (got <= 0 || memchr(line, '\n', (size_t)got) != NULL) {
                    epoll_ctl(epfd, EPOLL_CTL_DEL, STDIN_FILENO, NULL);
                    return;
                }
                continue;
            }
            handle_event(&events[i], before_barrier);
        }
    }
}

int main(int argc, char **argv)
{
    parse_args(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    total = opt.clients + opt.nonreaders;
    raise_fd_limit(total + 16);

    server.sin_family = AF_INET;
    server.sin_port = htons((uint16_t)opt.port);
    if (inet_pton(AF_INET, opt.host, &server.sin_addr) != 1)
        die("bad host %s", opt.host);
    irc_server = server;
    if (opt.dialect == MIXED)
        irc_server.sin_port = htons((uint16_t)opt.irc_port);
    ws_server = server;
    ws_server.sin_port = htons((uint16_t)opt.ws_port);
    second_server = server;
    second_server.sin_port = htons((uint16_t)opt.second_port);
    rng ^= (uint64_t)now_ns() ^ (uint64_t)getpid() << 32;
    privmsg_len = (size_t)snprintf(privmsg, sizeof privmsg, "PRIVMSG %s :", opt.channel);

    cl = calloc((size_t)total, sizeof *cl);
    size_t pairs = (size_t)opt.clients * (size_t)opt.senders;
    size_t bits = pairs * (size_t)opt.messages;
    if (bits / 8 > ((size_t)1 << 30))
        die("clients x senders x messages too large");
    seen_bits = calloc(bits / 8 + 1, 1);
    max_seq = malloc(pairs * sizeof *max_seq);
    for (size_t i = 0; i < pairs; i++)
        max_seq[i] = -1;
    expected = (uint64_t)opt.senders * (uint64_t)opt.messages * (uint64_t)(opt.clients - 1);
    cap_latency = expected;
    latency_us = malloc((size_t)(cap_latency + 1) * sizeof *latency_us);
    if (cl == NULL || seen_bits == NULL || max_seq == NULL || latency_us == NULL)
        die("out of memory");
    for (int i = 0; i < total; i++) {
        cl[i].fd = -1;
        cl[i].index = i;
        cl[i].nonreader = i >= opt.clients;
        cl[i].irc = opt.dialect == IRC || (opt.dialect == MIXED && i % 2 == 1);
        irc_clients += cl[i].irc;
        cl[i].ws = opt.dialect == WS || (opt.dialect == WS_READERS && i >= opt.senders);
        ws_clients += cl[i].ws;
    }
    replay_clients = total - irc_clients;
    epfd = epoll_create1(EPOLL_CLOEXEC);
    if (opt.history > 0) {
        if (opt.dialect == IRC)
            seed_history_irc();
        else
            seed_history();
        if (opt.hold) {
            printf("{\"event\": \"seeded\", \"history\": %d}\n", opt.history);
            fflush(stdout);
            wait_for_stdin(1);
        }
    }

    /* Connect and sign on, then the barrier. */
    static struct epoll_event events[1024];
    int64_t begin = now_ns();
    int64_t signon_deadline = begin + (int64_t)(opt.signon_timeout * 1e9);
    int64_t next_sync = 0, sync_gap = 100000000, all_connected_ns = 0;
    for (;;) {
        int64_t now = now_ns();
        if (now > signon_deadline)
            die("sign-on timed out: %d of %d connected, %d of %d IRC clients in %s, "
                "%d of %d WebSocket clients in the room, %d replays ended, %d synced",
                connected, total, irc_in, irc_clients, opt.channel, ws_in, ws_clients,
                replays_ended, synced_others + cl[0].saw_sync);
        connect_more(now);
        if (connected == total && irc_in == irc_clients && ws_in == ws_clients &&
            (opt.replay == 0 || replays_ended == replay_clients)) {
            if (all_connected_ns == 0)
                all_connected_ns = now;
            if (synced_others >= total - 1 && cl[0].saw_sync)
                break;
            if (now >= next_sync) {
                if (synced_others < total - 1) {
                    append_line(&cl[0], "@S 0\r\n", 6);
                    flush_out(&cl[0]);
                }
                if (!cl[0].saw_sync) {
                    append_line(&cl[1], "@S 1\r\n", 6);
                    flush_out(&cl[1]);
                }
                next_sync = now + sync_gap;
                sync_gap = sync_gap * 3 / 2 < 1000000000 ? sync_gap * 3 / 2 : 1000000000;
            }
        }
        int n = epoll_wait(epfd, events, 1024, 10);
        for (int i = 0; i < n; i++)
            handle_event(&events[i], 1);
    }
    int64_t barrier_ns = now_ns();
    for (int i = opt.clients; i < total; i++)
        set_events(&cl[i], cl[i].want_out ? EPOLLOUT : 0);

    if (opt.hold) {
        printf("{\"event\": \"ready\", \"connected\": %d, \"signon_s\": %.3f}\n", connected,
               (double)(barrier_ns - begin) / 1e9);
        fflush(stdout);
        wait_for_stdin(0);
    }

    /* The measured phase. */
    int64_t cpu0 = cpu_us();
    int64_t t0 = now_ns();
    last_delivery_ns = t0;
    uint64_t to_send = (uint64_t)opt.senders * (uint64_t)opt.messages, sent = 0;
    double gap_ns = opt.rate > 0 ? 1e9 / (opt.rate * opt.senders) : 0;
    int *touched = calloc((size_t)opt.senders, sizeof *touched);
    int *touched_list = malloc((size_t)opt.senders * sizeof *touched_list);
    if (opt.rate == 0) {
        for (int s = 0; s < opt.senders; s++) {
            for (long q = 0; q < opt.messages; q++)
                append_message(&cl[s], q);
            flush_out(&cl[s]);
        }
        sent = to_send;
    }
    int64_t sent_all_ns = opt.rate == 0 ? t0 : 0;
    for (;;) {
        int64_t now = now_ns();
        if (sent < to_send) {
            int n_touched = 0;
            while (sent < to_send && t0 + (int64_t)((double)sent * gap_ns) <= now) {
                int s = (int)(sent % (uint64_t)opt.senders);
                append_message(&cl[s], (long)(sent / (uint64_t)opt.senders));
                if (!touched[s]) {
                    touched[s] = 1;
                    touched_list[n_touched++] = s;
                }
                sent++;
            }
            for (int i = 0; i < n_touched; i++) {
                touched[touched_list[i]] = 0;
                if (cl[touched_list[i]].fd >= 0)
                    flush_out(&cl[touched_list[i]]);
            }
            if (sent == to_send)
                sent_all_ns = now;
        }
        if (sent == to_send && received >= expected)
            break;
        /* Drain: wait while deliveries keep coming, up to a bound. */
        int64_t quiet_since = last_delivery_ns > sent_all_ns ? last_delivery_ns : sent_all_ns;
        if (sent == to_send && (now - quiet_since > (int64_t)(opt.drain_timeout * 1e9) ||
                                now - sent_all_ns > (int64_t)(opt.max_drain * 1e9)))
            break;
        int timeout = 1000;
        if (sent < to_send) {
            int64_t due = t0 + (int64_t)((double)sent * gap_ns);
            timeout = due <= now ? 0 : (int)((due - now + 999999) / 1000000);
        }
        int n = epoll_wait(epfd, events, 1024, timeout);
        for (int i = 0; i < n; i++)
            handle_event(&events[i], 0);
    }
    int64_t t1 = last_delivery_ns; /* the last delivery, complete or not */
    int64_t cpu1 = cpu_us();

    qsort(latency_us, n_latency, sizeof *latency_us, cmp_u32);
    int dropped = 0, nonreaders_dropped = 0;
    int replayed = 0, replay_errors = 0, replay_short = 0;
    for (int i = 0; opt.replay > 0 && i < total; i++) {
        if (cl[i].irc)
            continue;
        if (cl[i].replay_error)
            replay_errors++;
        else if (cl[i].replay_end && cl[i].history_seen == opt.replay)
            replayed++;
        else
            replay_short++;
    }
    for (int i = 0; i < total; i++) {
        if (cl[i].dropped && cl[i].nonreader)
            nonreaders_dropped++;
        else if (cl[i].dropped)
            dropped++;
    }
    double elapsed = (double)(t1 - t0) / 1e9;
    printf("{\"event\": \"result\", \"clients\": %d, \"senders\": %d, \"nonreaders\": %d, "
           "\"messages_per_sender\": %ld, \"size\": %d, \"rate\": %g, "
           "\"expected\": %" PRIu64 ", \"delivered\": %" PRIu64 ", \"lost\": %" PRIu64 ", "
           "\"duplicated\": %" PRIu64 ", \"out_of_order\": %" PRIu64 ", \"corrupt\": %" PRIu64
           ", \"echoed\": %" PRIu64 ", "
           "\"latency_us\": {\"p50\": %u, \"p99\": %u, \"max\": %u}, "
           "\"elapsed_s\": %.6f, \"messages_per_s\": %.1f, \"signon_s\": %.3f, "
           "\"connect_s\": %.3f, \"connect_retries\": %ld, \"dropped\": %d, "
           "\"nonreaders_dropped\": %d, \"loadgen_cpu_us\": %" PRId64 ", "
           "\"window\": %d, \"history\": %d, \"replay\": %d, \"replayed\": %d, "
           "\"replay_errors\": %d, \"replay_short\": %d, \"replay_s\": %.3f, "
           "\"replay_error\": \"%s\", \"replay_clients\": %d, \"dialect\": \"%s\", "
           "\"irc_clients\": %d, \"pings_answered\": %" PRIu64 ", \"irc_errors\": %" PRIu64
           ", \"irc_error\": \"%s\", \"ws_clients\": %d, \"ws_errors\": %" PRIu64
           ", \"ws_error\": \"%s\", \"complete\": %s}\n",
           opt.clients, opt.senders, opt.nonreaders, opt.messages, opt.size, opt.rate, expected,
           received, expected - received, duplicated, out_of_order, corrupt, echoed, percentile(0.50),
           percentile(0.99), n_latency ? latency_us[n_latency - 1] : 0, elapsed,
           elapsed > 0 ? (double)received / elapsed : 0.0, (double)(barrier_ns - begin) / 1e9,
           (double)(all_connected_ns - begin) / 1e9, connect_retries, dropped,
           nonreaders_dropped, cpu1 - cpu0, opt.window, opt.history, opt.replay, replayed,
           replay_errors, replay_short,
           last_replay_ns ? (double)(last_replay_ns - begin) / 1e9 : 0.0, replay_error_text,
           opt.replay > 0 ? replay_clients : 0,
           opt.dialect == LINE  ? "line"
           : opt.dialect == IRC ? "irc"
           : opt.dialect == WS  ? "ws"
           : opt.dialect == WS_READERS ? "ws-readers"
                                : "mixed",
           irc_clients, pings_answered, irc_errors, irc_error_text, ws_clients, ws_errors,
           ws_error_text, received >= expected ? "true" : "false");
    fflush(stdout);
    if (opt.hold)
        wait_for_stdin(0);
    for (int i = 0; i < total; i++)
        if (cl[i].fd >= 0)
            close(cl[i].fd);
    return received >= expected ? 0 : 1;
}
