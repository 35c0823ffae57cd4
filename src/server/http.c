/*
 * http.c: libmicrohttpd glue: requests in, operations dispatched, AWS-shaped
 * answers out, one log line and one metrics sample per request.
 *
 * libmicrohttpd calls on_request() once when a request's headers are in,
 * once per chunk of body, and once more with no data when the body is
 * complete; on_completed() runs after the answer is sent (or the connection
 * dropped). A struct request lives between the two. Everything a request
 * needs is decided on the first call (route, declared body size), so a bad
 * request is refused before its body is read (and answered once the body
 * has been dropped, see refuse()).
 */
#include "common/base.h"
#include "server/http.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/json_text.h"
#include "common/log.h"
#include "api/events.h"
#include "api/jobs.h"
#include "server/metrics.h"
#include "server/model_cache.h"
#include "server/route.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define REQUEST_ID_LEN 36 /* 8-4-4-4-12 hex, as AWS's */

struct server {
    struct MHD_Daemon *daemon;
    struct api_ctx *ctx;
    struct server_opts opts;
    char address[INET6_ADDRSTRLEN + 8];
    uint64_t id_seed;          /* random per process: request ids differ across restarts */
    _Atomic uint64_t id_next;  /* counter behind the request ids */
    _Atomic unsigned inflight; /* requests between their headers and their completion */
    _Atomic bool stopping;
};

struct request {
    double t0;
    struct route route;
    struct buf body;
    int status;           /* 0 until an answer is queued */
    const char *err_type; /* static; NULL on success */
    bool refused;         /* 'refusal' is sent once the body is read (and dropped) */
    size_t discarded;     /* bytes of body dropped */
    struct api_error refusal;
    char id[REQUEST_ID_LEN + 1];
};

/* ---- request ids -------------------------------------------------------- */

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ull;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
    return x ^ (x >> 31);
}

/* A unique id: splitmix64 is a bijection, so distinct counters give distinct ids. */
static void request_id(struct server *s, char *dst)
{
    uint64_t n = atomic_fetch_add_explicit(&s->id_next, 1, memory_order_relaxed);
    uint64_t hi = s->id_seed, lo = splitmix64(n ^ s->id_seed);
    snprintf(dst, REQUEST_ID_LEN + 1, "%08x-%04x-%04x-%04x-%012llx", (unsigned)(hi >> 32),
             (unsigned)(lo >> 48), (unsigned)(lo >> 32) & 0xffff, (unsigned)(lo >> 16) & 0xffff,
             (unsigned long long)(((hi & 0xffffffffull) << 16) | (lo & 0xffff)));
}

/* ---- answers ------------------------------------------------------------ */

/* Queue 'body' (malloc'd, handed over) with 'status'. */
static enum MHD_Result answer(struct server *s, struct MHD_Connection *c, struct request *r,
                              int status, char *body, size_t len, const char *content_type)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(body);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    MHD_add_response_header(resp, "x-amzn-RequestId", r->id);
    if (r->err_type) MHD_add_response_header(resp, "X-Amzn-ErrorType", r->err_type);
    if (atomic_load_explicit(&s->stopping, memory_order_relaxed))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    r->status = status;
    enum MHD_Result ret = MHD_queue_response(c, (unsigned)status, resp);
    MHD_destroy_response(resp);
    return ret;
}

static enum MHD_Result answer_error(struct server *s, struct MHD_Connection *c, struct request *r,
                                    const struct api_error *err)
{
    size_t len;
    char *text = route_error_json(err, &len);
    r->err_type = err->type;
    return answer(s, c, r, err->status, text, len, route_content_type(r->route.plane));
}

static enum MHD_Result answer_text(struct server *s, struct MHD_Connection *c, struct request *r,
                                   const char *text, size_t len, const char *content_type)
{
    char *copy = xmalloc(len + 1);
    memcpy(copy, text, len + 1);
    return answer(s, c, r, 200, copy, len, content_type);
}

/* ---- the operation ------------------------------------------------------ */


static const char *view_header(const struct server_request_view *v, const char *name)
{
    return MHD_lookup_connection_value((struct MHD_Connection *)v->conn, MHD_HEADER_KIND, name);
}

/* A handler's failure: its AWS error, or InternalFailure if it set none. */
static enum MHD_Result answer_failure(struct server *s, struct MHD_Connection *c, struct request *r,
                                      enum rc rc, struct api_error *err)
{
    if (!err->type || err->status < 400) {
        log_error("http", "req=%s op=%s: handler failed (%s) without an AWS error", r->id,
                  r->route.name, rc_name(rc));
        route_internal_error(err, rc_name(rc));
    }
    return answer_error(s, c, r, err);
}

/* Authenticate, parse and run the operation; queue its answer. */
static enum MHD_Result run_operation(struct server *s, struct MHD_Connection *c, struct request *r,
                                     const char *method, const char *url)
{
    struct api_error err = {0};
    if (s->opts.auth) {
        struct server_request_view v = {
            .method = method,
            .path = url,
            .query = "",
            .body = r->body.data,
            .body_len = r->body.len,
            .get_header = view_header,
            .conn = c,
        };
        if (s->opts.auth(s->opts.auth_ctx, &v, &err)) {
            if (!err.type) route_internal_error(&err, "authentication failed without a reason");
            return answer_error(s, c, r, &err);
        }
    }
    json_t *req = NULL;
    if (route_parse_body(r->body.data, r->body.len, &req, &err)) return answer_error(s, c, r, &err);
    buf_release(&r->body); /* the JSON holds everything now */
    if (r->route.op->text_handler) {
        struct buf text;
        buf_init(&text, BUF_NO_CAP);
        enum rc rc = r->route.op->text_handler(s->ctx, req, &text, &err);
        json_decref(req);
        if (rc) {
            buf_release(&text);
            return answer_failure(s, c, r, rc, &err);
        }
        size_t len;
        char *body = buf_detach(&text, &len);
        return answer(s, c, r, 200, body, len, route_content_type(r->route.plane));
    }
    json_t *resp = NULL;
    enum rc rc = r->route.op->handler(s->ctx, req, &resp, &err);
    json_decref(req);
    if (rc) {
        json_decref(resp);
        return answer_failure(s, c, r, rc, &err);
    }
    /*
     * Runtime answers carry float32 scores: 9 significant digits print every
     * float exactly, and cost half of the default 17. (Elsewhere numbers such
     * as epoch seconds with fractions need all 17.) json_text writes what
     * json_dumps() would, without printf.
     */
    struct buf text;
    buf_init(&text, BUF_NO_CAP);
    enum rc trc = resp ? json_text_append(&text, resp, r->route.plane == API_RUNTIME ? 9 : 17)
                       : buf_addstr(&text, "{}");
    json_decref(resp);
    if (trc) {
        buf_release(&text);
        route_internal_error(&err, "answer could not be encoded");
        return answer_error(s, c, r, &err);
    }
    size_t len;
    char *body = buf_detach(&text, &len);
    return answer(s, c, r, 200, body, len, route_content_type(r->route.plane));
}

static enum MHD_Result answer_metrics(struct server *s, struct MHD_Connection *c, struct request *r)
{
    struct buf b;
    buf_init(&b, 16 << 20);
    server_metrics_set("savor_requests_in_flight",
                       (int64_t)atomic_load_explicit(&s->inflight, memory_order_relaxed));
    /* Gauges read from their owners at scrape time. */
    if (s->ctx->models)
        server_metrics_set("savor_models_loaded", (int64_t)model_cache_count(s->ctx->models));
    if (s->ctx->jobs) server_metrics_set("savor_jobs_running", (int64_t)jobs_pending(s->ctx->jobs));
    if (s->ctx->events) {
        struct event_writer_stats st;
        event_writer_stats(s->ctx->events, &st);
        server_metrics_set("savor_events_ingested_total", (int64_t)st.events);
        server_metrics_set("savor_entities_upserted_total", (int64_t)st.entities);
        server_metrics_set("savor_event_commits_total", (int64_t)st.commits);
        server_metrics_set("savor_event_commit_failures_total", (int64_t)st.failures);
    }
    if (server_metrics_render(&b)) {
        buf_release(&b);
        struct api_error err;
        route_internal_error(&err, "metrics too large");
        return answer_error(s, c, r, &err);
    }
    size_t len;
    char *text = buf_detach(&b, &len);
    return answer(s, c, r, 200, text, len, "text/plain; version=0.0.4; charset=utf-8");
}

/* ---- libmicrohttpd callbacks --------------------------------------------- */

static const char healthz_body[] = "{\"status\":\"ok\"}";

/*
 * How much of a refused request's body is read and dropped before the
 * connection is closed instead. Reading it lets the client, which may still
 * be sending, get the error: closing with unread data makes the kernel reset
 * the connection, and the client loses the answer.
 */
#define DISCARD_MAX (16u << 20)

/*
 * Refuse the request with 'err'. At once when no body follows (or the client
 * waits for "100 Continue", which it then never gets); otherwise after its
 * body has been read and dropped.
 */
static enum MHD_Result refuse(struct server *s, struct MHD_Connection *c, struct request *r,
                              const struct api_error *err)
{
    const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
    const char *te = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Transfer-Encoding");
    const char *expect = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Expect");
    bool body_follows = (cl && strcmp(cl, "0") != 0) || te;
    if (!body_follows || (expect && strcasecmp(expect, "100-continue") == 0))
        return answer_error(s, c, r, err);
    r->refused = true;
    r->refusal = *err;
    buf_release(&r->body);
    return MHD_YES;
}

static void set_too_large(struct server *s, struct api_error *err)
{
    err->status = 413;
    err->type = "RequestEntityTooLargeException";
    snprintf(err->message, sizeof(err->message), "request body is over the limit of %zu bytes",
             s->opts.limits.max_body);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    UNUSED(version);
    struct server *s = cls;
    struct request *r = *con_cls;

    if (!r) {
        /* First call: the headers are in. Decide everything that does not need the body. */
        r = xcalloc(1, sizeof(*r));
        r->t0 = clock_monotonic();
        buf_init(&r->body, s->opts.limits.max_body);
        request_id(s, r->id);
        *con_cls = r;
        atomic_fetch_add_explicit(&s->inflight, 1, memory_order_relaxed);

        struct api_error err = {0};
        const char *target = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "X-Amz-Target");
        if (route_find(method, url, target, &r->route, &err)) return refuse(s, c, r, &err);
        if (r->route.kind == ROUTE_HEALTHZ)
            return answer_text(s, c, r, healthz_body, sizeof(healthz_body) - 1, "application/json");
        if (r->route.kind == ROUTE_METRICS) return answer_metrics(s, c, r);
        const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > s->opts.limits.max_body) {
            set_too_large(s, &err);
            return refuse(s, c, r, &err);
        }
        return MHD_YES;
    }

    if (*upload_data_size) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->status) return MHD_YES; /* answered already: drop the rest */
        if (clock_monotonic() - r->t0 > s->opts.limits.max_request_s) {
            log_warn("http", "req=%s op=%s: body not received within %u s, closing", r->id,
                     r->route.name, s->opts.limits.max_request_s);
            return MHD_NO;
        }
        if (r->refused) {
            r->discarded += n;
            return r->discarded > DISCARD_MAX + s->opts.limits.max_body ? MHD_NO : MHD_YES;
        }
        if (buf_add(&r->body, upload_data, n)) {
            /* Over the cap (the body came without a Content-Length, or lied about it). */
            struct api_error err;
            set_too_large(s, &err);
            r->discarded = r->body.len + n;
            return refuse(s, c, r, &err);
        }
        return MHD_YES;
    }

    if (r->status) return MHD_YES;
    if (r->refused) return answer_error(s, c, r, &r->refusal);
    return run_operation(s, c, r, method, url);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    UNUSED(c);
    struct server *s = cls;
    struct request *r = *con_cls;
    if (!r) return;
    *con_cls = NULL;
    double secs = clock_monotonic() - r->t0;
    double ms = secs * 1e3;
    if (r->status && toe == MHD_REQUEST_TERMINATED_COMPLETED_OK) {
        server_metrics_request(r->route.name, r->status, secs);
        if (r->route.kind == ROUTE_OPERATION || r->err_type)
            LOG_AT(LOG_INFO, "http", "req=%s op=%s status=%d ms=%.3f%s%s", r->id, r->route.name,
                   r->status, ms, r->err_type ? " error=" : "", r->err_type ? r->err_type : "");
        else
            LOG_AT(LOG_DEBUG, "http", "req=%s op=%s status=%d ms=%.3f", r->id, r->route.name,
                   r->status, ms);
    } else {
        static const char *const why[] = {
            [MHD_REQUEST_TERMINATED_COMPLETED_OK] = "completed",
            [MHD_REQUEST_TERMINATED_WITH_ERROR] = "error",
            [MHD_REQUEST_TERMINATED_TIMEOUT_REACHED] = "timeout",
            [MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN] = "shutdown",
            [MHD_REQUEST_TERMINATED_READ_ERROR] = "read_error",
            [MHD_REQUEST_TERMINATED_CLIENT_ABORT] = "client_abort",
        };
        const char *w = (size_t)toe < ARRAY_SIZE(why) && why[toe] ? why[toe] : "other";
        server_metrics_add("savor_requests_dropped_total", 1);
        log_info("http", "req=%s op=%s status=%d ms=%.3f dropped=%s", r->id, r->route.name,
                 r->status, ms, w);
    }
    buf_release(&r->body);
    free(r);
    atomic_fetch_sub_explicit(&s->inflight, 1, memory_order_release);
}

static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    UNUSED(cls);
    UNUSED(c);
    UNUSED(socket_context);
    server_metrics_add("savor_connections_open", toe == MHD_CONNECTION_NOTIFY_STARTED ? 1 : -1);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    UNUSED(cls);
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
        msg[--n] = '\0';
    log_warn("http", "libmicrohttpd: %s", msg);
}

/* ---- the server ----------------------------------------------------------- */

void server_opts_default(struct server_opts *o)
{
    memset(o, 0, sizeof(*o));
    struct err e = ERR_INIT;
    server_parse_addr("127.0.0.1:8080", &o->addr, &e);
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    o->threads = n > 0 ? (unsigned)n : 2;
    o->limits.max_body = 1 << 20;
    o->limits.conn_memory = 32 << 10;
    o->limits.max_connections = 1000;
    o->limits.max_per_ip = 0;
    o->limits.idle_timeout_s = 30;
    o->limits.max_request_s = 60;
}

static bool addr_is_loopback(const struct sockaddr_storage *ss)
{
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
        return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
    }
    if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_LOOPBACK(&a->sin6_addr)) return true;
        if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) return a->sin6_addr.s6_addr[12] == 127;
    }
    return false;
}

enum rc server_parse_addr(const char *spec, struct server_addr *out, struct err *e)
{
    char host[256];
    const char *port;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (!close || close[1] != ':' || (size_t)(close - spec - 1) >= sizeof(host))
            return err_set(e, RC_INVALID_INPUT, "listen address '%s': expected [IPV6]:PORT", spec);
        memcpy(host, spec + 1, (size_t)(close - spec - 1));
        host[close - spec - 1] = '\0';
        port = close + 2;
    } else {
        const char *colon = strrchr(spec, ':');
        if (!colon || (size_t)(colon - spec) >= sizeof(host))
            return err_set(e, RC_INVALID_INPUT, "listen address '%s': expected HOST:PORT", spec);
        memcpy(host, spec, (size_t)(colon - spec));
        host[colon - spec] = '\0';
        port = colon + 1;
    }
    char *end;
    errno = 0;
    unsigned long p = strtoul(port, &end, 10);
    if (!*port || *end || errno || p > 65535 || port[0] == '-' || port[0] == '+')
        return err_set(e, RC_INVALID_INPUT, "listen address '%s': port '%s' is not 0-65535", spec,
                       port);
    struct addrinfo hints = {0}, *res = NULL;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    int gai = getaddrinfo(host[0] ? host : "0.0.0.0", port, &hints, &res);
    if (gai != 0 || !res)
        return err_set(e, RC_INVALID_INPUT, "listen address '%s': %s", spec, gai_strerror(gai));
    memset(out, 0, sizeof(*out));
    memcpy(&out->ss, res->ai_addr, res->ai_addrlen);
    out->len = res->ai_addrlen;
    out->loopback = addr_is_loopback(&out->ss);
    freeaddrinfo(res);
    return RC_OK;
}

static void format_address(const struct sockaddr_storage *ss, uint16_t port, char *dst, size_t n)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    if (ss->ss_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, ip, sizeof(ip));
        snprintf(dst, n, "%s:%u", ip, port);
    } else {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, ip, sizeof(ip));
        snprintf(dst, n, "[%s]:%u", ip, port);
    }
}

enum rc server_start(struct api_ctx *ctx, const struct server_opts *o, struct server **out,
                     struct err *e)
{
    struct server *s = xcalloc(1, sizeof(*s));
    s->ctx = ctx;
    s->opts = *o;
    if (s->opts.threads == 0) s->opts.threads = 1;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    s->id_seed = splitmix64((uint64_t)ts.tv_sec * 1000000007ull ^ (uint64_t)ts.tv_nsec ^
                            ((uint64_t)getpid() << 32));

    /* Series that exist before anything bumps them. */
    server_metrics_add("savor_events_ingested_total", 0);
    server_metrics_add("savor_jobs_running", 0);
    server_metrics_add("savor_models_loaded", 0);
    server_metrics_add("savor_connections_open", 0);
    server_metrics_add("savor_requests_dropped_total", 0);

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_TURBO | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;
    if (o->addr.ss.ss_family == AF_INET6) flags |= MHD_USE_IPv6;
    uint16_t port = ntohs(o->addr.ss.ss_family == AF_INET6
                              ? ((const struct sockaddr_in6 *)&o->addr.ss)->sin6_port
                              : ((const struct sockaddr_in *)&o->addr.ss)->sin_port);
    errno = 0;
    s->daemon = MHD_start_daemon(
        flags, port, NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_SOCK_ADDR, &s->opts.addr.ss, MHD_OPTION_THREAD_POOL_SIZE, s->opts.threads,
        MHD_OPTION_CONNECTION_LIMIT, s->opts.limits.max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, s->opts.limits.max_per_ip,
        MHD_OPTION_CONNECTION_TIMEOUT, s->opts.limits.idle_timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->opts.limits.conn_memory, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024, MHD_OPTION_END);
    if (!s->daemon) {
        int saved = errno;
        char want[INET6_ADDRSTRLEN + 8];
        format_address(&o->addr.ss, port, want, sizeof(want));
        free(s);
        return err_set(e, RC_IO, "cannot listen on %s: %s", want,
                       saved ? strerror(saved) : "libmicrohttpd refused the options");
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    if (info && info->port) port = info->port;
    format_address(&o->addr.ss, port, s->address, sizeof(s->address));
    *out = s;
    return RC_OK;
}

const char *server_address(const struct server *s)
{
    return s->address;
}

unsigned server_stop(struct server *s, double grace_s)
{
    if (!s) return 0;
    atomic_store(&s->stopping, true);
    MHD_socket lfd = MHD_quiesce_daemon(s->daemon);
    if (lfd != MHD_INVALID_SOCKET) close(lfd);
    double deadline = clock_monotonic() + grace_s;
    unsigned left;
    while ((left = atomic_load_explicit(&s->inflight, memory_order_acquire)) > 0 &&
           clock_monotonic() < deadline) {
        struct timespec nap = {0, 5 * 1000 * 1000};
        nanosleep(&nap, NULL);
    }
    MHD_stop_daemon(s->daemon);
    free(s);
    return left;
}
