/*
 * utf8.h: UTF-8 validation.
 */
#ifndef SAVOR_UTF8_H
#define SAVOR_UTF8_H

#include "common/base.h"

/*
 * Return the offset of the first byte of 's' that is not part of valid
 * UTF-8 (overlong forms, surrogates and code points above U+10FFFF are
 * invalid), or 'len' when all of it is valid.
 */
size_t utf8_invalid_at(const char *s, size_t len);

static inline bool utf8_valid(const char *s, size_t len)
{
    return utf8_invalid_at(s, len) == len;
}

#endif
