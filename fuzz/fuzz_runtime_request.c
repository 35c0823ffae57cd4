/*
 * fuzz_runtime_request.c: the runtime and events handlers' field checks
 * (GetRecommendations, GetPersonalizedRanking, PutEvents, PutItems,
 * PutUsers) on any JSON object, against an empty data directory made once
 * (so requests that pass every check end at "not found", and nothing is
 * written). Every refusal must carry an AWS error type and a message.
 *
 * Input: one byte choosing the operation, then the JSON body.
 */
#include "common/base.h"
#include "api/events.h"
#include "api/runtime.h"

#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct api_ctx ctx;
static char dir[64];

static void cleanup(void)
{
    runtime_stop(&ctx);
    store_close(ctx.store);
    char *cmd = xasprintf("rm -rf '%s'", dir);
    if (system(cmd) != 0) {
    }
    free(cmd);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/savor-fuzz-rt.XXXXXX");
    struct err e = ERR_INIT;
    if (!mkdtemp(dir) || store_open(dir, &ctx.store, &e)) abort();
    pthread_mutex_init(&ctx.store_mu, NULL);
    ctx.data_dir = dir;
    if (runtime_start(&ctx, &e)) abort();
    atexit(cleanup);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const api_handler handlers[] = {api_get_recommendations, api_get_personalized_ranking,
                                           api_put_events, api_put_items, api_put_users};
    if (!ctx.store) setup();
    if (size < 1) return 0;
    api_handler h = handlers[data[0] % ARRAY_SIZE(handlers)];
    json_error_t je;
    json_t *req = json_loadb((const char *)data + 1, size - 1, JSON_REJECT_DUPLICATES, &je);
    if (!req) return 0;
    json_t *resp = NULL;
    struct api_error err = {0};
    enum rc rc = h(&ctx, req, &resp, &err);
    if (rc) {
        /* A refusal names its type, a 4xx/5xx status and what was wrong. */
        if (!err.type || err.status < 400 || !err.message[0] || resp) __builtin_trap();
    } else if (!resp) {
        __builtin_trap();
    }
    json_decref(resp);
    json_decref(req);
    return 0;
}
