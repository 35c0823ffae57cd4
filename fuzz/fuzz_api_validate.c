/*
 * fuzz_api_validate.c: the control-plane request validator on any JSON.
 * The first byte picks the operation; the rest is the request body.
 */
#include "common/base.h"

#include "api/validate.h"
#include "api/validate_int.h"

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *op = api_model_ops[data[0] % api_model_nops].name;
    json_t *req = json_loadb((const char *)data + 1, size - 1, 0, NULL);
    struct err e = ERR_INIT;
    enum rc rc = api_validate(op, json_is_object(req) ? req : NULL, &e);
    if (rc != RC_OK && rc != RC_INVALID_INPUT) abort();
    if (rc && !e.msg[0]) abort(); /* every refusal says why */
    json_decref(req);
    return 0;
}
