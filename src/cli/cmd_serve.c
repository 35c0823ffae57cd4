/*
 * cmd_serve.c: `savor serve`, the Personalize API on one HTTP port.
 *
 * Opens the data directory, builds the api_ctx every handler shares, starts
 * the server (src/server/http.h) and waits for SIGTERM or SIGINT; then stops
 * accepting, lets requests in flight finish, and shuts the rest down in
 * order (background jobs, then the store). `savor demo` serves through the
 * same cli_serve().
 */
#include "common/base.h"
#include "cli/cli.h"
#include "common/log.h"
#include "api/jobs.h"
#include "api/runtime.h"
#include "models/blas.h"
#include "server/auth_hook.h"
#include "server/http.h"

#include <errno.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <unistd.h>

static const char usage[] =
    "usage: savor serve [--listen HOST:PORT] [--threads N] [--allow-path DIR]...\n"
    "                   [--credentials FILE]\n"
    "                   [--max-body-bytes N] [--max-connections N] [--idle-timeout SEC]\n"
    "                   [--request-timeout SEC] [--shutdown-grace SEC]\n"
    "\n"
    "Serve the data directory over Amazon Personalize's API on one port: the control\n"
    "plane (AWS JSON 1.1, POST / with X-Amz-Target), the runtime (POST /recommendations,\n"
    "/personalize-ranking) and events (POST /events, /items, /users), plus GET /healthz\n"
    "and GET /metrics. Point boto3's endpoint_url or the AWS CLI's --endpoint-url at it.\n"
    "SIGTERM or SIGINT stops it after the requests in flight are answered.\n"
    "\n"
    "      --listen HOST:PORT     address to listen on (default 127.0.0.1:8080; port 0\n"
    "                             picks a free one; [::1]:PORT for IPv6)\n"
    "      --threads N            server threads (default: online CPUs)\n"
    "      --allow-path DIR       a directory import and batch jobs may read and write,\n"
    "                             besides the working and data directories; repeatable\n"
    "      --credentials FILE     access keys for SigV4 (AWS credentials-file format;\n"
    "                             default DATA_DIR/credentials if it exists), besides\n"
    "                             SAVOR_ACCESS_KEY_ID/SAVOR_SECRET_ACCESS_KEY. Without\n"
    "                             keys requests are not checked, and only a loopback\n"
    "                             address may be used (docs/security.md)\n"
    "      --max-body-bytes N     largest request body (default 1048576)\n"
    "      --max-connections N    open connections at once (default 1000)\n"
    "      --idle-timeout SEC     close a connection idle this long (default 30)\n"
    "      --request-timeout SEC  a request body must arrive within this (default 60)\n"
    "      --shutdown-grace SEC   on SIGTERM, wait this long for requests in flight\n"
    "                             (default 10)\n" CLI_COMMON_HELP;

static int signal_pipe[2] = {-1, -1};

static void on_stop_signal(int sig)
{
    unsigned char b = (unsigned char)sig;
    int saved = errno;
    if (write(signal_pipe[1], &b, 1) < 0) {
        /* Nothing to do: a full pipe already holds a stop request. */
    }
    errno = saved;
}

/* Realpath of 'dir' (must exist and be a directory) or die naming 'what'. */
static char *resolve_dir(const char *what, const char *dir)
{
    char *abs = realpath(dir, NULL);
    if (!abs) cli_die("%s '%s': %s", what, dir, strerror(errno));
    return abs;
}

static void add_allowed(struct api_ctx *ctx, char *abs)
{
    for (size_t i = 0; i < ctx->nallowed; i++) {
        if (strcmp(ctx->allowed_paths[i], abs) == 0) {
            free(abs);
            return;
        }
    }
    ctx->allowed_paths = xreallocarray(ctx->allowed_paths, ctx->nallowed + 1, sizeof(char *));
    ctx->allowed_paths[ctx->nallowed++] = abs;
}

int cli_serve(struct serve_config *cfg)
{
    struct api_ctx ctx = {0};
    ctx.store = cli_open_store();
    pthread_mutex_init(&ctx.store_mu, NULL);
    char *data_dir = resolve_dir("data directory", store_dir(ctx.store));
    ctx.data_dir = data_dir;
    char cwd[PATH_MAX];
    if (!getcwd(cwd, sizeof(cwd))) cli_die("working directory: %s", strerror(errno));
    add_allowed(&ctx, resolve_dir("working directory", cwd));
    add_allowed(&ctx, xstrdup(data_dir));
    for (size_t i = 0; i < cfg->nallow; i++)
        add_allowed(&ctx, resolve_dir("--allow-path", cfg->allow[i]));

    /*
     * Access keys: every request but /healthz and /metrics must be signed
     * with one. Without keys nothing is checked, so only loopback is allowed;
     * the check is on the numeric address the server will bind.
     */
    struct auth_keys *keys = NULL;
    struct err ke = ERR_INIT;
    if (auth_keys_load(cfg->credentials, data_dir, &keys, &ke)) cli_die("%s", ke.msg);
    char host[NI_MAXHOST];
    if (getnameinfo((const struct sockaddr *)&cfg->server.addr.ss, cfg->server.addr.len, host,
                    sizeof(host), NULL, 0, NI_NUMERICHOST) != 0)
        snprintf(host, sizeof(host), "%s", cfg->server.addr.loopback ? "127.0.0.1" : "0.0.0.0");
    if (auth_check_listen(keys, host, &ke) ||
        (!cfg->server.addr.loopback && !auth_keys_count(keys)))
        cli_die("%s", ke.msg[0]
                          ? ke.msg
                          : "refusing to listen on a non-loopback address without access keys");
    if (auth_keys_count(keys)) {
        cfg->server.auth = auth_hook;
        cfg->server.auth_ctx = keys;
    }

    /*
     * Signals: a handler that writes the signal's number to a pipe, which the
     * main thread waits on. (Blocking them and calling sigwait() is not
     * enough: OpenBLAS starts its threads before main(), with the signals
     * unblocked, and one of them would take the default action.)
     */
    if (pipe(signal_pipe) != 0) cli_die("pipe: %s", strerror(errno));
    struct sigaction sa = {0};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    struct server *srv;
    struct err e = ERR_INIT;
    /* The runtime: campaign models (loaded now) and the durable event writer. */
    if (runtime_start(&ctx, &e)) cli_die("%s", e.msg);
    /* Background jobs: recovers what a previous process left pending or in progress. */
    if (jobs_start(&ctx, &e)) cli_die("%s", e.msg);
    if (server_start(&ctx, &cfg->server, &srv, &e)) cli_die("%s", e.msg);
    log_info("serve", "listening on http://%s threads=%u data_dir=%s access_keys=%zu%s",
             server_address(srv), cfg->server.threads, data_dir, auth_keys_count(keys),
             auth_keys_count(keys) ? "" : " (requests are not authenticated)");
    if (cfg->on_ready) cfg->on_ready(server_address(srv), cfg->on_ready_arg);
    printf("savor: serving on http://%s\n", server_address(srv));
    fflush(stdout);

    unsigned char sig = 0;
    while (read(signal_pipe[0], &sig, 1) != 1 && errno == EINTR) {
    }
    log_info("serve", "%s: stopping (grace %.0f s for requests in flight)",
             sig == SIGTERM ? "SIGTERM" : "SIGINT", cfg->grace_s);
    unsigned left = server_stop(srv, cfg->grace_s);
    if (left) log_warn("serve", "%u requests were still in flight and were cut off", left);
    /* Running trainings go back to CREATE PENDING and resume on the next start. */
    jobs_stop(ctx.jobs);
    ctx.jobs = NULL;
    /* Queued events are written and answered before the writer stops. */
    runtime_stop(&ctx);

    pthread_mutex_lock(&ctx.store_mu);
    store_close(ctx.store);
    pthread_mutex_unlock(&ctx.store_mu);
    pthread_mutex_destroy(&ctx.store_mu);
    auth_keys_free(keys);
    for (size_t i = 0; i < ctx.nallowed; i++)
        free(ctx.allowed_paths[i]);
    free(ctx.allowed_paths);
    free(data_dir);
    close(signal_pipe[0]);
    close(signal_pipe[1]);
    log_info("serve", "stopped");
    return 0;
}

void serve_config_default(struct serve_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    server_opts_default(&cfg->server);
    cfg->grace_s = 10;
}

/* Parse --OPT SECONDS (1..86400). */
static unsigned parse_seconds(const char *opt, const char *arg)
{
    uint64_t v = cli_parse_count("serve", opt, arg, 86400);
    if (v == 0) cli_usage_error("serve", "--%s must be at least 1 second", opt);
    return (unsigned)v;
}

int cmd_serve(int argc, char **argv)
{
    blas_select_kernels(cli_argv);
    enum { O_LISTEN = 1, O_THREADS, O_ALLOW, O_BODY, O_CONNS, O_IDLE, O_REQ, O_GRACE, O_CREDS };
    static const struct option opts[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"threads", required_argument, NULL, O_THREADS},
        {"allow-path", required_argument, NULL, O_ALLOW},
        {"max-body-bytes", required_argument, NULL, O_BODY},
        {"max-connections", required_argument, NULL, O_CONNS},
        {"idle-timeout", required_argument, NULL, O_IDLE},
        {"request-timeout", required_argument, NULL, O_REQ},
        {"shutdown-grace", required_argument, NULL, O_GRACE},
        {"credentials", required_argument, NULL, O_CREDS},
        CLI_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    struct serve_config cfg;
    serve_config_default(&cfg);
    const char **allow = xcalloc((size_t)argc + 1, sizeof(*allow));
    struct err e = ERR_INIT;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_LISTEN:
            if (server_parse_addr(optarg, &cfg.server.addr, &e))
                cli_usage_error("serve", "--listen: %s", e.msg);
            break;
        case O_THREADS:
            cfg.server.threads = (unsigned)cli_parse_count("serve", "threads", optarg, 256);
            if (cfg.server.threads == 0) cli_usage_error("serve", "--threads must be at least 1");
            break;
        case O_ALLOW:
            allow[cfg.nallow++] = optarg;
            break;
        case O_BODY:
            cfg.server.limits.max_body =
                (size_t)cli_parse_count("serve", "max-body-bytes", optarg, 1ull << 30);
            break;
        case O_CONNS:
            cfg.server.limits.max_connections =
                (unsigned)cli_parse_count("serve", "max-connections", optarg, 100000);
            if (cfg.server.limits.max_connections == 0)
                cli_usage_error("serve", "--max-connections must be at least 1");
            break;
        case O_IDLE:
            cfg.server.limits.idle_timeout_s = parse_seconds("idle-timeout", optarg);
            break;
        case O_REQ:
            cfg.server.limits.max_request_s = parse_seconds("request-timeout", optarg);
            break;
        case O_GRACE:
            cfg.grace_s = (double)cli_parse_count("serve", "shutdown-grace", optarg, 3600);
            break;
        case O_CREDS:
            cfg.credentials = optarg;
            break;
        default:
            if (!cli_common_option(c, optarg, usage)) cli_bad_option("serve", argv);
        }
    }
    if (optind != argc) cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    cfg.allow = allow;
    int rc = cli_serve(&cfg);
    free(allow);
    return rc;
}
