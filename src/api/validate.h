/*
 * validate.h: server-side validation of control-plane requests.
 *
 * botocore checks only types and required members; savor checks every
 * field against the Personalize model (generated tables, validate_int.h):
 * types, required members, string lengths, patterns, enum values, list and
 * map sizes, number ranges. Members the model does not know are ignored,
 * as AWS does. Messages name the field by its path ("solutionConfig.hpoConfig
 * .hpoResourceConfig"), in AWS's wording.
 */
#ifndef SAVOR_VALIDATE_H
#define SAVOR_VALIDATE_H

#include "common/base.h"

#include <jansson.h>

/*
 * Check 'req' (may be NULL: an empty body) against operation 'op's input
 * shape. RC_INVALID_INPUT with the message in 'e'; RC_NOT_FOUND if the model
 * has no such operation.
 */
enum rc api_validate(const char *op, const json_t *req, struct err *e);

/* Personalize's resource name rule (pattern and 1..63 length). */
bool api_name_valid(const char *s);

#endif
