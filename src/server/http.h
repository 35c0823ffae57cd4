/*
 * http.h: `savor serve`'s HTTP server: libmicrohttpd with a pool of epoll
 * threads, one port for the control plane, runtime and events protocols
 * (route.h), /healthz and /metrics.
 *
 * Each request is read (body capped), routed, authenticated, parsed, and
 * handed to its api_op handler on the pool thread that read it; the answer
 * or AWS-shaped error goes back with an x-amzn-RequestId header, and one
 * log line records the operation, status and latency. Handlers run
 * concurrently on the pool's threads and share the api_ctx.
 */
#ifndef SAVOR_SERVER_HTTP_H
#define SAVOR_SERVER_HTTP_H

#include "common/base.h"
#include "api/api.h"

#include <sys/socket.h>

/* Limits on what a client may send (docs/serve.md explains each). */
struct server_limits {
    size_t max_body;          /* bytes of one request body; more is 413 (default 1 MiB) */
    size_t conn_memory;       /* per-connection buffer: the request line and headers
                                 must fit in it, else 431 (default 32 KiB) */
    unsigned max_connections; /* open connections at once; more wait in the backlog (1000) */
    unsigned max_per_ip;      /* per client address, 0 for no limit (default 0) */
    unsigned idle_timeout_s;  /* close a connection silent this long (default 30 s) */
    unsigned max_request_s;   /* a request must be read within this (default 60 s) */
};

/* A listen address, parsed. */
struct server_addr {
    struct sockaddr_storage ss;
    socklen_t len;
    bool loopback; /* 127.0.0.0/8 or ::1 */
};

/*
 * Authentication hook, called for every operation request (never /healthz
 * or /metrics) once its body is read. Return RC_OK to let it through, or
 * fill 'err' (403 and an AWS error type) to refuse it. Header lookups go
 * through 'get_header' (case-insensitive; NULL when absent).
 */
struct server_request_view {
    const char *method;
    const char *path;  /* without the query string */
    const char *query; /* raw query string, "" when none */
    const char *body;
    size_t body_len;
    const char *(*get_header)(const struct server_request_view *v, const char *name);
    void *conn; /* opaque, for get_header */
};
typedef enum rc (*server_auth_fn)(void *auth_ctx, const struct server_request_view *req,
                                  struct api_error *err);

struct server_opts {
    struct server_addr addr;
    unsigned threads; /* pool threads (default: online CPUs) */
    struct server_limits limits;
    server_auth_fn auth; /* NULL: every request is accepted */
    void *auth_ctx;
};

struct server;

/* Defaults everywhere; addr is 127.0.0.1:8080. */
void server_opts_default(struct server_opts *o);

/*
 * Parse "HOST:PORT", "[V6]:PORT" or ":PORT" (all interfaces, IPv4) into
 * 'out'. HOST is a numeric address or a name resolved once now.
 */
enum rc server_parse_addr(const char *spec, struct server_addr *out, struct err *e);

/* Start serving 'ctx' (borrowed; must outlive the server). */
enum rc server_start(struct api_ctx *ctx, const struct server_opts *o, struct server **out,
                     struct err *e);

/* The bound address, e.g. "127.0.0.1:41234" (the real port when 0 was asked). */
const char *server_address(const struct server *s);

/*
 * Stop: close the listening socket, let requests in flight finish (for up
 * to 'grace_s' seconds; answers now carry "Connection: close"), then close
 * every connection and free 's'. Returns the number of requests that were
 * still in flight when the grace period ran out (0 on a clean stop).
 */
unsigned server_stop(struct server *s, double grace_s);

#endif
