/*
 * json_text.h: compact JSON text of a jansson value, written directly.
 *
 * The same text as json_dumps(v, JSON_COMPACT | JSON_REAL_PRECISION(p)),
 * byte for byte, without going through printf for numbers: a runtime answer
 * is 25 items with a float score each, and glibc's "%.9g" was a tenth of a
 * GetRecommendations request's CPU time.
 */
#ifndef SAVOR_JSON_TEXT_H
#define SAVOR_JSON_TEXT_H

#include "common/base.h"
#include "common/buf.h"

#include <jansson.h>

/*
 * Append v's compact text to b, reals with 'precision' (1 to 17) significant
 * digits. Fails (RC_LIMIT_EXCEEDED) only when b's cap is reached, or
 * RC_INVALID_INPUT for a value jansson cannot encode either (NaN, infinity).
 */
enum rc json_text_append(struct buf *b, const json_t *v, int precision);

/* Append the JSON string of s[0..n) (UTF-8, not checked), as json_dumps() writes it. */
enum rc json_text_string(struct buf *b, const char *s, size_t n);

/* Append 'x' as json_dumps() prints a real with 'precision' significant digits. */
enum rc json_text_real(struct buf *b, double x, int precision);

#endif
