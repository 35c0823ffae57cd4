/*
 * extra.c: varint-framed text columns (see extra.h).
 */
#include "common/base.h"
#include "store/extra.h"

enum rc extra_put(struct buf *column, const char *value, size_t len)
{
    uint64_t v = value ? (uint64_t)len + 1 : 0;
    unsigned char tmp[10];
    size_t n = 0;
    do {
        unsigned char b = v & 0x7F;
        v >>= 7;
        tmp[n++] = b | (v ? 0x80 : 0);
    } while (v);
    enum rc rc = buf_add(column, tmp, n);
    if (!rc && value) rc = buf_add(column, value, len);
    return rc;
}

enum rc extra_add_column(struct buf *blob, const struct buf *column)
{
    uint32_t n = (uint32_t)column->len;
    unsigned char le[4] = {n & 0xFF, (n >> 8) & 0xFF, (n >> 16) & 0xFF, n >> 24};
    enum rc rc = buf_add(blob, le, 4);
    if (!rc) rc = buf_add(blob, column->data, column->len);
    return rc;
}

bool extra_column(const void *blob, size_t len, size_t k, const char **stream, size_t *stream_len)
{
    const unsigned char *p = blob;
    size_t off = 0;
    for (size_t i = 0;; i++) {
        if (len - off < 4) return false;
        uint32_t n = (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 |
                     (uint32_t)p[off + 3] << 24;
        off += 4;
        if (n > len - off) return false;
        if (i == k) {
            *stream = (const char *)p + off;
            *stream_len = n;
            return true;
        }
        off += n;
    }
}

bool extra_next(const char **p, const char *end, const char **value, size_t *len, bool *is_null)
{
    uint64_t v = 0;
    int shift = 0;
    const unsigned char *q = (const unsigned char *)*p;
    for (;;) {
        if ((const char *)q >= end || shift > 63) return false;
        unsigned char b = *q++;
        v |= (uint64_t)(b & 0x7F) << shift;
        if (!(b & 0x80)) break;
        shift += 7;
    }
    if (v == 0) {
        *is_null = true;
        *value = NULL;
        *len = 0;
        *p = (const char *)q;
        return true;
    }
    if (v - 1 > (uint64_t)(end - (const char *)q)) return false;
    *is_null = false;
    *value = (const char *)q;
    *len = (size_t)(v - 1);
    *p = (const char *)q + (v - 1);
    return true;
}
