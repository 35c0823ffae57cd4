/*
 * fuzz_modelfile.c: validate the input as a model file; when it is accepted,
 * every listed section must be found, 64-byte aligned and readable, and each
 * is also read as a strmap and as text (errors are fine, crashes are not).
 *
 * Random mutations almost never keep the CRCs right, which would leave the
 * checks after them unexercised; so the input is tried a second time with
 * every CRC that can be computed fixed up first.
 * Seeds: SAVOR_WRITE_CORPUS=fuzz/corpus/modelfile build/tests/test_modelfile
 */
#include "common/base.h"

#include <zlib.h>

#include "models/modelfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t get(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static void put32(uint8_t *p, uLong v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void try_open(const uint8_t *data, size_t size)
{
    struct err e = ERR_INIT;
    struct modelfile *m;
    if (modelfile_open_memory(data, size, "fuzz.mdl", &m, &e)) return;
    for (uint32_t i = 0; i < modelfile_section_count(m); i++) {
        const char *name = modelfile_section_name(m, i), *text;
        const void *p;
        size_t len;
        if (modelfile_section(m, name, 0, &p, &len, &e) || (uintptr_t)p % 64) abort();
        volatile unsigned sum = 0;
        for (size_t k = 0; k < len; k++)
            sum += ((const unsigned char *)p)[k];
        (void)sum;
        struct strmap *map;
        if (modelfile_strmap(m, name, &map, &e) == RC_OK) strmap_free(map);
        modelfile_text(m, name, &text, &len, &e);
    }
    modelfile_close(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    try_open(data, size);
    if (size < 128 || size > 1 << 20) return 0;
    uint64_t table_end = 128 + get(data + 84, 4) * 64;
    if (table_end > size) return 0;
    uint8_t *p = xmalloc(size);
    memcpy(p, data, size);
    for (uint64_t ent = 128; ent < table_end; ent += 64) {
        uint64_t off = get(p + ent + 32, 8), len = get(p + ent + 40, 8);
        if (off <= size && len <= size - off) put32(p + ent + 48, crc32(0, p + off, (uInt)len));
    }
    put32(p + 96, crc32(crc32(0, p, 96), p + 100, (uInt)(table_end - 100)));
    try_open(p, size);
    free(p);
    return 0;
}
