/*
 * ops_stub.c: TEMPORARY stand-in for the operation table until branch
 * `control` lands src/api/ops.c; delete this file at that merge.
 */
#include "common/base.h"
#include "api/api.h"

const struct api_op *api_find(const char *name)
{
    UNUSED(name);
    return NULL;
}
