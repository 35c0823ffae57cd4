/*
 * strmap.h: interning map from byte strings to dense indexes 0..n-1.
 *
 * This is how savor turns string user and item IDs into the integer
 * indexes the engine works with: the first string interned gets 0, the
 * next new one 1, and so on; strmap_key() maps an index back to its string.
 * Keys are copied into blocks the map owns. Not thread-safe for writers.
 */
#ifndef SAVOR_STRMAP_H
#define SAVOR_STRMAP_H

#include "common/base.h"

struct strmap;

struct strmap *strmap_new(void);
void strmap_free(struct strmap *m);

/* Number of keys interned so far. */
uint32_t strmap_count(const struct strmap *m);

/* Look 'key' up; on success writes its index to *idx and returns true. */
bool strmap_get(const struct strmap *m, const char *key, size_t len, uint32_t *idx);

/*
 * Return the index of 'key', adding it with the next free index if absent.
 * *added (may be NULL) tells whether it was new.
 */
uint32_t strmap_intern(struct strmap *m, const char *key, size_t len, bool *added);

/*
 * Batched use: compute strmap_hash() early (another thread may), call
 * strmap_prefetch() a few keys ahead, then strmap_intern_hashed(). The
 * slot's cache miss then overlaps other work instead of stalling it.
 */
uint32_t strmap_hash(const char *key, size_t len);
void strmap_prefetch(const struct strmap *m, uint32_t hash);
uint32_t strmap_intern_hashed(struct strmap *m, const char *key, size_t len, uint32_t hash,
                              bool *added);

/* The key with index 'idx' (NUL-terminated, owned by the map), and its length. */
const char *strmap_key(const struct strmap *m, uint32_t idx, size_t *len);

/* 64-bit hash of a byte string (not cryptographic). */
uint64_t hash_bytes(const void *data, size_t len);

#endif
