/*
 * strmap.c: open-addressing hash table (linear probing) over interned keys.
 *
 * Each slot holds the key's index + 1 (0 = empty), 32 bits of its hash and
 * a pointer to its bytes, so a lookup costs one cache miss for the slot and
 * one for the key; a mismatched hash never touches the key. Keys live in
 * large blocks as [u32 length][bytes][NUL], so the length sits next to the
 * bytes. The slot's 32-bit hash also picks the slot, so growing the table
 * never rehashes a key.
 */
#include "common/strmap.h"

#define STRMAP_BLOCK (1u << 20)

struct slot {
    uint32_t idx1;   /* key index + 1; 0 means empty */
    uint32_t hash;   /* 32 bits of the key's hash; its low bits pick the slot */
    const char *key; /* the key's bytes, preceded by their u32 length */
};

struct strmap {
    struct slot *slots;
    size_t nslots; /* power of two */
    uint32_t count;
    const char **keys; /* index -> key bytes (inside a block) */
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
    free(m->slots);
    free(m);
}

uint32_t strmap_count(const struct strmap *m)
{
    return m->count;
}

static inline uint32_t key_len(const char *key)
{
    uint32_t n;
    memcpy(&n, key - 4, 4);
    return n;
}

uint32_t strmap_hash(const char *key, size_t len)
{
    uint64_t h = hash_bytes(key, len);
    return (uint32_t)(h ^ (h >> 32));
}

void strmap_prefetch(const struct strmap *m, uint32_t hash)
{
    __builtin_prefetch(&m->slots[hash & (m->nslots - 1)]);
}

static inline bool key_equals(const struct slot *s, const char *key, size_t len)
{
    return key_len(s->key) == len && memcmp(s->key, key, len) == 0;
}

/* The slot holding 'key', or the empty slot where it would go. */
static struct slot *find_slot(const struct strmap *m, const char *key, size_t len, uint32_t h)
{
    size_t mask = m->nslots - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct slot *s = &m->slots[i];
        if (!s->idx1 || (s->hash == h && key_equals(s, key, len))) return s;
    }
}

bool strmap_get(const struct strmap *m, const char *key, size_t len, uint32_t *idx)
{
    const struct slot *s = find_slot(m, key, len, strmap_hash(key, len));
    if (!s->idx1) return false;
    *idx = s->idx1 - 1;
    return true;
}

static void grow(struct strmap *m)
{
    size_t n = m->nslots * 2;
    struct slot *slots = xcalloc(n, sizeof(*slots));
    size_t mask = n - 1;
    for (size_t k = 0; k < m->nslots; k++) {
        const struct slot *old = &m->slots[k];
        if (!old->idx1) continue;
        size_t i = old->hash & mask;
        while (slots[i].idx1)
            i = (i + 1) & mask;
        slots[i] = *old;
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = n;
}

static const char *store_key(struct strmap *m, const char *key, size_t len)
{
    size_t need = len + 5;
    if (!m->nblocks || m->block_used + need > m->block_size) {
        size_t size = need > STRMAP_BLOCK ? need : STRMAP_BLOCK;
        m->blocks = xreallocarray(m->blocks, m->nblocks + 1, sizeof(*m->blocks));
        m->blocks[m->nblocks++] = xmalloc(size);
        m->block_size = size;
        m->block_used = 0;
    }
    char *p = m->blocks[m->nblocks - 1] + m->block_used;
    uint32_t n = (uint32_t)len;
    memcpy(p, &n, 4);
    memcpy(p + 4, key, len);
    p[4 + len] = '\0';
    m->block_used += need;
    return p + 4;
}

uint32_t strmap_intern(struct strmap *m, const char *key, size_t len, bool *added)
{
    return strmap_intern_hashed(m, key, len, strmap_hash(key, len), added);
}

uint32_t strmap_intern_hashed(struct strmap *m, const char *key, size_t len, uint32_t h,
                              bool *added)
{
    if (len > UINT32_MAX - 8) {
        fprintf(stderr, "savor: key of %zu bytes is too long for a strmap\n", len);
        abort();
    }
    struct slot *s = find_slot(m, key, len, h);
    if (s->idx1) {
        if (added) *added = false;
        return s->idx1 - 1;
    }
    if (m->count == UINT32_MAX - 1) {
        fprintf(stderr, "savor: more than 2^32 distinct IDs\n");
        abort();
    }
    uint32_t idx = m->count;
    if (idx == m->keys_alloc) {
        m->keys_alloc = m->keys_alloc ? m->keys_alloc * 2 : 1024;
        m->keys = xreallocarray(m->keys, m->keys_alloc, sizeof(*m->keys));
    }
    m->keys[idx] = store_key(m, key, len);
    s->idx1 = idx + 1;
    s->hash = h;
    s->key = m->keys[idx];
    m->count++;
    if (added) *added = true;
    /* Keep the load factor at or below 1/2 so probes stay short. */
    if ((size_t)m->count * 2 > m->nslots) grow(m);
    return idx;
}

const char *strmap_key(const struct strmap *m, uint32_t idx, size_t *len)
{
    if (idx >= m->count) return NULL;
    if (len) *len = key_len(m->keys[idx]);
    return m->keys[idx];
}
