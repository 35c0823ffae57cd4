/*
 * strmap.c: open-addressing hash table (linear probing) over interned keys.
 *
 * Each slot holds the key's index + 1 (0 = empty), 32 bits of its hash and
 * a pointer to its bytes, so a lookup costs one cache miss for the slot and
 * one for the key; mismatched hashes never touch the key at all. Keys live in large blocks of
 * [u32 length][bytes][NUL], addressed by an offset array indexed by key index.
 */
#include "common/strmap.h"

#define STRMAP_BLOCK (1u << 20)

struct slot {
    uint32_t idx1;   /* key index + 1; 0 means empty */
    uint32_t hash;   /* low 32 bits of the key's hash */
    const char *key; /* the key's bytes (its length is in lens[idx1 - 1]) */
};

struct strmap {
    struct slot *slots;
    size_t nslots; /* power of two */
    uint32_t count;
    const char **keys; /* index -> key bytes (inside a block) */
    uint32_t *lens;
    size_t keys_alloc;
    char **blocks;
    size_t nblocks;
    size_t block_used; /* bytes used in the last block */
    size_t block_size;
};

static inline uint64_t load64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static inline uint64_t mix64(uint64_t x)
{
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    x *= 0xd6e8feb86659fd93ULL;
    x ^= x >> 32;
    return x;
}

uint64_t hash_bytes(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (len * 0xff51afd7ed558ccdULL);
    while (len >= 8) {
        h = (h ^ mix64(load64(p))) * 0x9fb21c651e98df25ULL;
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < len; i++)
        tail |= (uint64_t)p[i] << (8 * i);
    h = (h ^ mix64(tail + len)) * 0x9fb21c651e98df25ULL;
    return mix64(h);
}

struct strmap *strmap_new(void)
{
    struct strmap *m = xcalloc(1, sizeof(*m));
    m->nslots = 1024;
    m->slots = xcalloc(m->nslots, sizeof(*m->slots));
    return m;
}

void strmap_free(struct strmap *m)
{
    if (!m) return;
    for (size_t i = 0; i < m->nblocks; i++)
        free(m->blocks[i]);
    free(m->blocks);
    free(m->keys);
    free(m->lens);
    free(m->slots);
    free(m);
}

uint32_t strmap_count(const struct strmap *m)
{
    return m->count;
}

static inline bool key_equals(const struct strmap *m, const struct slot *s, const char *key,
                              size_t len)
{
    return m->lens[s->idx1 - 1] == len && memcmp(s->key, key, len) == 0;
}

bool strmap_get(const struct strmap *m, const char *key, size_t len, uint32_t *idx)
{
    uint64_t h = hash_bytes(key, len);
    uint32_t h32 = (uint32_t)h;
    size_t mask = m->nslots - 1;
    for (size_t i = (size_t)(h >> 32) & mask;; i = (i + 1) & mask) {
        const struct slot *s = &m->slots[i];
        if (!s->idx1) return false;
        if (s->hash == h32 && key_equals(m, s, key, len)) {
            *idx = s->idx1 - 1;
            return true;
        }
    }
}

static void rehash(struct strmap *m)
{
    size_t n = m->nslots * 2;
    struct slot *slots = xcalloc(n, sizeof(*slots));
    size_t mask = n - 1;
    for (uint32_t k = 0; k < m->count; k++) {
        uint64_t h = hash_bytes(m->keys[k], m->lens[k]);
        size_t i = (size_t)(h >> 32) & mask;
        while (slots[i].idx1)
            i = (i + 1) & mask;
        slots[i].idx1 = k + 1;
        slots[i].hash = (uint32_t)h;
        slots[i].key = m->keys[k];
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = n;
}

static const char *store_key(struct strmap *m, const char *key, size_t len)
{
    if (!m->nblocks || m->block_used + len + 1 > m->block_size) {
        size_t size = len + 1 > STRMAP_BLOCK ? len + 1 : STRMAP_BLOCK;
        m->blocks = xreallocarray(m->blocks, m->nblocks + 1, sizeof(*m->blocks));
        m->blocks[m->nblocks++] = xmalloc(size);
        m->block_size = size;
        m->block_used = 0;
    }
    char *p = m->blocks[m->nblocks - 1] + m->block_used;
    memcpy(p, key, len);
    p[len] = '\0';
    m->block_used += len + 1;
    return p;
}

uint32_t strmap_intern(struct strmap *m, const char *key, size_t len, bool *added)
{
    uint64_t h = hash_bytes(key, len);
    uint32_t h32 = (uint32_t)h;
    size_t mask = m->nslots - 1;
    size_t i = (size_t)(h >> 32) & mask;
    for (;; i = (i + 1) & mask) {
        struct slot *s = &m->slots[i];
        if (!s->idx1) break;
        if (s->hash == h32 && key_equals(m, s, key, len)) {
            if (added) *added = false;
            return s->idx1 - 1;
        }
    }
    if (m->count == UINT32_MAX - 1) {
        fprintf(stderr, "savor: more than 2^32 distinct IDs\n");
        abort();
    }
    uint32_t idx = m->count;
    if (idx == m->keys_alloc) {
        m->keys_alloc = m->keys_alloc ? m->keys_alloc * 2 : 1024;
        m->keys = xreallocarray(m->keys, m->keys_alloc, sizeof(*m->keys));
        m->lens = xreallocarray(m->lens, m->keys_alloc, sizeof(*m->lens));
    }
    m->keys[idx] = store_key(m, key, len);
    m->lens[idx] = (uint32_t)len;
    m->slots[i].idx1 = idx + 1;
    m->slots[i].hash = h32;
    m->slots[i].key = m->keys[idx];
    m->count++;
    if (added) *added = true;
    /* Keep the load factor at or below 1/2 so probes stay short. */
    if ((size_t)m->count * 2 > m->nslots) rehash(m);
    return idx;
}

const char *strmap_key(const struct strmap *m, uint32_t idx, size_t *len)
{
    if (idx >= m->count) return NULL;
    if (len) *len = m->lens[idx];
    return m->keys[idx];
}
