/*
 * test_modelfile.c: unit tests for src/models/modelfile (the trained-model
 * file: writing atomically, reading back mapped, and refusing every damaged
 * or hostile file with a clear message).
 *
 * Each test gets a fresh temporary directory. With SAVOR_WRITE_CORPUS=dir set,
 * test_corpus also writes the fuzz seeds (fuzz/corpus/modelfile/) into 'dir'.
 */
#include "common/base.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <ftw.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "common/strmap.h"
#include "models/modelfile.h"

/* ---- fixtures and helpers ---- */

struct fx {
    char tmp[64]; /* the mkdtemp directory */
};

static int setup(void **state)
{
    struct fx *f = xcalloc(1, sizeof(*f));
    strlcpy_(f->tmp, "/tmp/savor-test-modelfile.XXXXXX", sizeof(f->tmp));
    if (!mkdtemp(f->tmp)) return -1;
    *state = f;
    return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    UNUSED(sb);
    UNUSED(flag);
    UNUSED(ftw);
    return remove(path);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    nftw(f->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* 'call' must succeed; it reports through the 'e' in scope. */
#define OK(call)                                                           \
    do {                                                                   \
        enum rc ok__rc = (call);                                           \
        if (ok__rc) fail_msg("%s: %s: %s", #call, rc_name(ok__rc), e.msg); \
    } while (0)

/* 'call' must fail with 'want' and a message containing 'needle'. */
#define FAILS(call, want, needle)                                                           \
    do {                                                                                    \
        err_clear(&e);                                                                      \
        enum rc fails__rc = (call);                                                         \
        if (fails__rc != (want))                                                            \
            fail_msg("%s: got %s (%s), expected %s", #call, rc_name(fails__rc), e.msg,      \
                     rc_name(want));                                                        \
        if (!strstr(e.msg, (needle)))                                                       \
            fail_msg("%s: message \"%s\" does not contain \"%s\"", #call, e.msg, (needle)); \
    } while (0)

static void *aligned_copy(const void *data, size_t len)
{
    void *p = NULL;
    assert_int_equal(posix_memalign(&p, 64, len ? len : 1), 0);
    if (data && len) memcpy(p, data, len);
    return p;
}

/* Read a whole file into a 64-byte aligned buffer. */
static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n >= 0);
    rewind(fp);
    unsigned char *p = aligned_copy(NULL, (size_t)n);
    assert_int_equal(fread(p, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *len = (size_t)n;
    return p;
}

static void write_file(const char *path, const void *data, size_t len)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, len, fp), len);
    assert_int_equal(fclose(fp), 0);
}

/* Write 'w' to dir/name and return the file's bytes (aligned; caller frees). */
static unsigned char *write_bytes(struct modelfile_writer *w, const char *dir, const char *name,
                                  size_t *len)
{
    struct err e = ERR_INIT;
    char *path = xasprintf("%s/%s", dir, name);
    OK(modelfile_write(w, path, &e));
    unsigned char *p = read_file(path, len);
    free(path);
    return p;
}

static uint32_t rd32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void wr32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void wr64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

/* Recompute the header CRC after editing the header or table on purpose. */
static void fix_header_crc(unsigned char *p, size_t len)
{
    size_t table_end = 128 + (size_t)rd32(p + 84) * 64;
    if (table_end > len) return; /* the table does not fit: no CRC to compute */
    uLong crc = crc32(0, p, 96);
    crc = crc32(crc, p + 100, (uInt)(table_end - 100));
    wr32(p + 96, (uint32_t)crc);
}

static bool is_aligned(const void *p)
{
    return (uintptr_t)p % 64 == 0;
}

/* A small model: a strmap, floats, text, an empty section and odd lengths (so gaps exist). */
static struct modelfile_writer *small_model(void)
{
    struct err e = ERR_INIT;
    struct modelfile_writer *w = modelfile_writer_new("aws-user-personalization", 3);
    struct strmap *m = strmap_new();
    static const char *const keys[] = {"u1", "", "user-three", "\xff\x00z"};
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        strmap_intern(m, keys[i], i == 3 ? 3 : strlen(keys[i]), NULL);
    OK(modelfile_add_strmap(w, "users", m, &e));
    strmap_free(m);
    float v[5] = {1.5f, -2.0f, 0.0f, 3.25f, 1e-7f};
    OK(modelfile_add(w, "factors", v, sizeof(v), &e));
    OK(modelfile_add(w, "empty", NULL, 0, &e));
    OK(modelfile_add_text(w, "meta", "{\"factors\": 5}", &e));
    OK(modelfile_add(w, "b", "x", 1, &e));
    return w;
}

/* ---- round trip ---- */

static void test_round_trip(void **state)
{
    struct fx *f = *state;
    struct err e = ERR_INIT;

    enum { NF = 1000, NK = 10000 };
    float *floats = xmallocarray(NF, sizeof(float));
    for (int i = 0; i < NF; i++)
        floats[i] = (float)i * 0.5f - 7.0f;
    struct strmap *keys = strmap_new();
    strmap_intern(keys, "", 0, NULL); /* the empty key, index 0 */
    char kb[64];
    for (int i = 1; i < NK; i++) {
        size_t n;
        if (i % 3 == 0) { /* binary-ish: NUL, high bytes, newlines */
            n = (size_t)(i % 17) + 2;
            for (size_t k = 0; k < n; k++)
                kb[k] = (char)((i * 31 + (int)k * 7) & 0xff);
            kb[0] = (char)(i & 0xff);
            kb[1] = (char)((i >> 8) | 0x80);
        } else {
            n = (size_t)snprintf(kb, sizeof(kb), "user-%d", i);
        }
        strmap_intern(keys, kb, n, NULL);
    }
    uint32_t nkeys = strmap_count(keys);
    assert_int_equal(nkeys, NK); /* the binary keys differ in their first two bytes */
    static const char meta[] = "{\"recipe\": \"aws-user-personalization\", \"factors\": 64}";

    struct modelfile_writer *w = modelfile_writer_new("aws-user-personalization", 7);
    OK(modelfile_add(w, "item_factors", floats, NF * sizeof(float), &e));
    OK(modelfile_add_strmap(w, "users", keys, &e));
    OK(modelfile_add(w, "odd", "abc", 3, &e));
    OK(modelfile_add_text(w, "meta", meta, &e));
    OK(modelfile_add(w, "empty", NULL, 0, &e));
    /* The writer copied the data: changing the caller's array changes nothing. */
    floats[0] = 12345.0f;
    char *path = xasprintf("%s/model.mdl", f->tmp);
    OK(modelfile_write(w, path, &e));
    modelfile_writer_free(w);
    floats[0] = -7.0f;

    struct modelfile *mf = NULL;
    OK(modelfile_open(path, &mf, &e));
    assert_string_equal(modelfile_kind(mf), "aws-user-personalization");
    assert_int_equal(modelfile_kind_version(mf), 7);
    assert_int_equal(modelfile_section_count(mf), 5);
    static const char *const order[] = {"item_factors", "users", "odd", "meta", "empty"};
    for (uint32_t i = 0; i < 5; i++)
        assert_string_equal(modelfile_section_name(mf, i), order[i]);
    assert_null(modelfile_section_name(mf, 5));

    const void *data;
    size_t len;
    OK(modelfile_section(mf, "item_factors", sizeof(float), &data, &len, &e));
    assert_int_equal(len, NF * sizeof(float));
    assert_memory_equal(data, floats, len);
    for (uint32_t i = 0; i < 5; i++) {
        OK(modelfile_section(mf, order[i], 0, &data, &len, &e));
        if (!is_aligned(data)) fail_msg("section %s at %p is not 64-byte aligned", order[i], data);
    }
    OK(modelfile_section(mf, "odd", 0, &data, &len, &e));
    assert_int_equal(len, 3);
    assert_memory_equal(data, "abc", 3);
    OK(modelfile_section(mf, "empty", 0, &data, &len, &e));
    assert_int_equal(len, 0);
    OK(modelfile_section(mf, "empty", 8, &data, &len, &e)); /* 0 is a multiple of anything */

    const char *text;
    OK(modelfile_text(mf, "meta", &text, &len, &e));
    assert_string_equal(text, meta);
    assert_int_equal(len, strlen(meta));

    struct strmap *back = NULL;
    OK(modelfile_strmap(mf, "users", &back, &e));
    assert_int_equal(strmap_count(back), nkeys);
    for (uint32_t i = 0; i < nkeys; i++) {
        size_t l1, l2;
        const char *k1 = strmap_key(keys, i, &l1);
        const char *k2 = strmap_key(back, i, &l2);
        assert_int_equal(l1, l2);
        if (l1) assert_memory_equal(k1, k2, l1);
        uint32_t idx;
        assert_true(strmap_get(back, k1, l1, &idx));
        assert_int_equal(idx, i);
    }
    strmap_free(back);

    /* Missing sections, wrong element sizes, wrong section types. */
    FAILS(modelfile_section(mf, "nope", 0, &data, &len, &e), RC_NOT_FOUND, "no section 'nope'");
    assert_non_null(strstr(e.msg, path));
    assert_null(data);
    FAILS(modelfile_section(mf, "a-name-far-longer-than-thirty-one-bytes", 0, &data, &len, &e),
          RC_NOT_FOUND, "no section");
    FAILS(modelfile_strmap(mf, "nope", &back, &e), RC_NOT_FOUND, "nope");
    FAILS(modelfile_text(mf, "nope", &text, &len, &e), RC_NOT_FOUND, "nope");
    FAILS(modelfile_section(mf, "item_factors", 3, &data, &len, &e), RC_INVALID_INPUT, "corrupt");
    assert_non_null(strstr(e.msg, "item_factors"));
    FAILS(modelfile_section(mf, "odd", sizeof(float), &data, &len, &e), RC_INVALID_INPUT,
          "not a multiple");
    FAILS(modelfile_strmap(mf, "item_factors", &back, &e), RC_INVALID_INPUT, "corrupt");
    assert_null(back);
    FAILS(modelfile_text(mf, "item_factors", &text, &len, &e), RC_INVALID_INPUT, "corrupt");
    FAILS(modelfile_text(mf, "empty", &text, &len, &e), RC_INVALID_INPUT, "NUL-terminated");
    modelfile_close(mf);

    /* The same bytes from memory, aligned and not: section pointers are aligned either way. */
    unsigned char *bytes = read_file(path, &len);
    unsigned char *shifted = xmalloc(len + 1);
    memcpy(shifted + 1, bytes, len);
    const unsigned char *bufs[] = {bytes, shifted + 1};
    for (size_t b = 0; b < ARRAY_SIZE(bufs); b++) {
        OK(modelfile_open_memory(bufs[b], len, "mem.mdl", &mf, &e));
        const void *d;
        size_t n;
        OK(modelfile_section(mf, "item_factors", sizeof(float), &d, &n, &e));
        assert_true(is_aligned(d));
        assert_memory_equal(d, floats, n);
        /* Zero-copy from an aligned buffer; a misaligned one was copied. */
        bool inside =
            (const unsigned char *)d >= bufs[b] && (const unsigned char *)d < bufs[b] + len;
        assert_int_equal(inside, b == 0);
        OK(modelfile_strmap(mf, "users", &back, &e));
        assert_int_equal(strmap_count(back), nkeys);
        strmap_free(back);
        FAILS(modelfile_section(mf, "nope", 0, &d, &n, &e), RC_NOT_FOUND, "mem.mdl");
        modelfile_close(mf);
    }
    free(shifted);
    free(bytes);
    free(path);
    free(floats);
    strmap_free(keys);
}

/* A model with no sections, and an empty strmap. */
static void test_empty_model(void **state)
{
    struct fx *f = *state;
    struct err e = ERR_INIT;
    struct modelfile_writer *w = modelfile_writer_new("k", 0);
    size_t len;
    unsigned char *p = write_bytes(w, f->tmp, "none.mdl", &len);
    assert_int_equal(len, 128);
    struct modelfile *mf;
    OK(modelfile_open_memory(p, len, "none.mdl", &mf, &e));
    assert_int_equal(modelfile_section_count(mf), 0);
    assert_string_equal(modelfile_kind(mf), "k");
    const void *d;
    FAILS(modelfile_section(mf, "x", 0, &d, &len, &e), RC_NOT_FOUND, "none.mdl");
    modelfile_close(mf);
    free(p);

    struct strmap *m = strmap_new();
    OK(modelfile_add_strmap(w, "ids", m, &e));
    strmap_free(m);
    p = write_bytes(w, f->tmp, "one.mdl", &len);
    OK(modelfile_open_memory(p, len, "one.mdl", &mf, &e));
    OK(modelfile_strmap(mf, "ids", &m, &e));
    assert_int_equal(strmap_count(m), 0);
    strmap_free(m);
    modelfile_close(mf);
    free(p);
    modelfile_writer_free(w);
}

static void test_writer_errors(void **state)
{
    struct fx *f = *state;
    struct err e = ERR_INIT;
    char *path = xasprintf("%s/w.mdl", f->tmp);

    /* Bad kinds are reported by every call that follows. */
    char kind64[65];
    memset(kind64, 'k', 64);
    kind64[64] = '\0';
    const char *bad_kinds[] = {NULL, "", kind64};
    for (size_t i = 0; i < ARRAY_SIZE(bad_kinds); i++) {
        struct modelfile_writer *w = modelfile_writer_new(bad_kinds[i], 1);
        FAILS(modelfile_add(w, "a", "x", 1, &e), RC_INVALID_INPUT, "model kind");
        FAILS(modelfile_write(w, path, &e), RC_INVALID_INPUT, "model kind");
        modelfile_writer_free(w);
    }
    assert_int_equal(access(path, F_OK), -1);
    kind64[63] = '\0'; /* 63 bytes is the longest kind */
    struct modelfile_writer *w = modelfile_writer_new(kind64, 1);

    char name32[33];
    memset(name32, 'n', 32);
    name32[32] = '\0';
    FAILS(modelfile_add(w, name32, "x", 1, &e), RC_INVALID_INPUT, "1..31 bytes");
    FAILS(modelfile_add(w, "", "x", 1, &e), RC_INVALID_INPUT, "1..31 bytes");
    FAILS(modelfile_add(w, NULL, "x", 1, &e), RC_INVALID_INPUT, "1..31 bytes");
    FAILS(modelfile_add(w, "a", NULL, 4, &e), RC_INVALID_INPUT, "NULL data");
    FAILS(modelfile_add_text(w, "a", NULL, &e), RC_INVALID_INPUT, "NULL text");
    name32[31] = '\0';
    OK(modelfile_add(w, name32, "x", 1, &e));
    OK(modelfile_add(w, "a", "x", 1, &e));
    FAILS(modelfile_add(w, "a", "y", 1, &e), RC_ALREADY_EXISTS, "'a' was already added");
    FAILS(modelfile_add_text(w, name32, "t", &e), RC_ALREADY_EXISTS, "already added");
    FAILS(modelfile_write(w, "", &e), RC_INVALID_INPUT, "empty path");
    OK(modelfile_write(w, path, &e));
    modelfile_writer_free(w);

    struct modelfile *mf;
    OK(modelfile_open(path, &mf, &e));
    assert_string_equal(modelfile_kind(mf), kind64);
    assert_int_equal(modelfile_section_count(mf), 2);
    const void *d;
    size_t len;
    OK(modelfile_section(mf, name32, 1, &d, &len, &e));
    assert_int_equal(len, 1);
    modelfile_close(mf);
    free(path);
}

/* ---- atomic writes ---- */

/* The names in 'dir', sorted, joined with spaces. */
static char *list_dir(const char *dir)
{
    struct dirent **ents;
    int n = scandir(dir, &ents, NULL, alphasort);
    assert_true(n >= 0);
    char *out = xstrdup("");
    for (int i = 0; i < n; i++) {
        if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, "..")) {
            char *next = xasprintf("%s%s%s", out, *out ? " " : "", ents[i]->d_name);
            free(out);
            out = next;
        }
        free(ents[i]);
    }
    free(ents);
    return out;
}

static void test_atomic_write(void **state)
{
    struct fx *f = *state;
    struct err e = ERR_INIT;
    char *path = xasprintf("%s/m.mdl", f->tmp);

    struct modelfile_writer *w = small_model();
    OK(modelfile_write(w, path, &e));
    char *names = list_dir(f->tmp);
    assert_string_equal(names, "m.mdl");
    free(names);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);

    /* Overwriting replaces the file; an open mapping keeps the old contents. */
    struct modelfile *old;
    OK(modelfile_open(path, &old, &e));
    struct modelfile_writer *w2 = modelfile_writer_new("aws-similar-items", 9);
    OK(modelfile_add_text(w2, "meta", "second", &e));
    OK(modelfile_write(w2, path, &e));
    names = list_dir(f->tmp);
    assert_string_equal(names, "m.mdl");
    free(names);
    struct modelfile *mf;
    OK(modelfile_open(path, &mf, &e));
    assert_string_equal(modelfile_kind(mf), "aws-similar-items");
    assert_int_equal(modelfile_kind_version(mf), 9);
    const char *text;
    OK(modelfile_text(mf, "meta", &text, NULL, &e));
    assert_string_equal(text, "second");
    modelfile_close(mf);
    assert_string_equal(modelfile_kind(old), "aws-user-personalization");
    OK(modelfile_text(old, "meta", &text, NULL, &e));
    assert_string_equal(text, "{\"factors\": 5}");
    modelfile_close(old);

    /* A relative path (the directory to sync is "."). */
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(f->tmp), 0);
    OK(modelfile_write(w2, "rel.mdl", &e));
    assert_int_equal(chdir(cwd), 0);
    names = list_dir(f->tmp);
    assert_string_equal(names, "m.mdl rel.mdl");
    free(names);

    /* Failures leave nothing behind and name the file. */
    char *missing = xasprintf("%s/no-such-dir/m.mdl", f->tmp);
    FAILS(modelfile_write(w, missing, &e), RC_IO, "no-such-dir/m.mdl");
    char *sub = xasprintf("%s/subdir", f->tmp);
    assert_int_equal(mkdir(sub, 0755), 0);
    char *inner = xasprintf("%s/x", sub);
    write_file(inner, "x", 1);
    FAILS(modelfile_write(w, sub, &e), RC_IO, "cannot rename");
    assert_non_null(strstr(e.msg, sub));
    names = list_dir(f->tmp);
    assert_string_equal(names, "m.mdl rel.mdl subdir");
    free(names);
    names = list_dir(sub);
    assert_string_equal(names, "x");
    free(names);

    modelfile_writer_free(w);
    modelfile_writer_free(w2);
    free(inner);
    free(sub);
    free(missing);
    free(path);
}

/* ---- refusing bad files ---- */

static void test_open_errors(void **state)
{
    struct fx *f = *state;
    struct err e = ERR_INIT;
    struct modelfile *mf = (struct modelfile *)(uintptr_t)1;

    char *missing = xasprintf("%s/missing.mdl", f->tmp);
    FAILS(modelfile_open(missing, &mf, &e), RC_NOT_FOUND, missing);
    assert_non_null(strstr(e.msg, "no such model file"));
    assert_null(mf);

    FAILS(modelfile_open(f->tmp, &mf, &e), RC_INVALID_INPUT, "is a directory");
    assert_non_null(strstr(e.msg, f->tmp));

    char *fifo = xasprintf("%s/fifo", f->tmp);
    assert_int_equal(mkfifo(fifo, 0600), 0);
    FAILS(modelfile_open(fifo, &mf, &e), RC_INVALID_INPUT, "not a regular file");

    char *empty = xasprintf("%s/empty.mdl", f->tmp);
    write_file(empty, "", 0);
    FAILS(modelfile_open(empty, &mf, &e), RC_INVALID_INPUT, "empty file");
    assert_non_null(strstr(e.msg, empty));

    char *garbage = xasprintf("%s/garbage.mdl", f->tmp);
    static const char junk[] = "user_id,item_id,timestamp\nu1,i1,1\n";
    write_file(garbage, junk, sizeof(junk) - 1);
    FAILS(modelfile_open(garbage, &mf, &e), RC_INVALID_INPUT, "not a savor model file");
    assert_non_null(strstr(e.msg, garbage));

    if (geteuid() != 0) { /* root reads anything */
        char *locked = xasprintf("%s/locked.mdl", f->tmp);
        write_file(locked, junk, 4);
        assert_int_equal(chmod(locked, 0), 0);
        FAILS(modelfile_open(locked, &mf, &e), RC_IO, "cannot open");
        free(locked);
    }

    /* A valid file truncated on disk. */
    struct modelfile_writer *w = small_model();
    char *path = xasprintf("%s/t.mdl", f->tmp);
    OK(modelfile_write(w, path, &e));
    modelfile_writer_free(w);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(truncate(path, st.st_size - 1), 0);
    char want[128];
    snprintf(want, sizeof(want), "truncated: expected %lld bytes, found %lld",
             (long long)st.st_size, (long long)st.st_size - 1);
    FAILS(modelfile_open(path, &mf, &e), RC_INVALID_INPUT, want);
    assert_non_null(strstr(e.msg, path));
    assert_int_equal(truncate(path, 0), 0);
    FAILS(modelfile_open(path, &mf, &e), RC_INVALID_INPUT, "empty file");

    free(path);
    free(garbage);
    free(empty);
    free(fifo);
    free(missing);
}

/* Every bit flip anywhere in a small file is caught: each byte is under a CRC or checked zero. */
static void test_every_bit_flip(void **state)
{
    struct fx *f = *state;
    struct err e = ERR_INIT;
    struct modelfile_writer *w = small_model();
    size_t len;
    unsigned char *p = write_bytes(w, f->tmp, "flip.mdl", &len);
    modelfile_writer_free(w);

    /* The layout has padding between sections, or the test would prove less. */
    struct modelfile *mf;
    OK(modelfile_open_memory(p, len, "flip.mdl", &mf, &e));
    size_t data_bytes = 0;
    for (uint32_t i = 0; i < modelfile_section_count(mf); i++) {
        const void *d;
        size_t n;
        OK(modelfile_section(mf, modelfile_section_name(mf, i), 0, &d, &n, &e));
        data_bytes += n;
    }
    modelfile_close(mf);
    size_t table_end = 128 + 5 * 64;
    assert_true(len > table_end + data_bytes);

    size_t checked = 0;
    for (size_t pos = 0; pos < len; pos++) {
        for (int bit = 0; bit < 8; bit++) {
            p[pos] ^= (unsigned char)(1u << bit);
            err_clear(&e);
            mf = NULL;
            enum rc rc = modelfile_open_memory(p, len, "flip.mdl", &mf, &e);
            if (rc == RC_OK)
                fail_msg("flipping bit %d of byte %zu (of %zu) went unnoticed", bit, pos, len);
            assert_int_equal(rc, RC_INVALID_INPUT);
            assert_null(mf);
            if (strncmp(e.msg, "flip.mdl: ", 10) != 0 || strlen(e.msg) < 25)
                fail_msg("byte %zu bit %d: unclear message \"%s\"", pos, bit, e.msg);
            p[pos] ^= (unsigned char)(1u << bit);
            checked++;
        }
        /* And a whole-byte change. */
        p[pos] ^= 0xff;
        assert_int_not_equal(modelfile_open_memory(p, len, "flip.mdl", &mf, &e), RC_OK);
        p[pos] ^= 0xff;
    }
    assert_int_equal(checked, len * 8);
    OK(modelfile_open_memory(p, len, "flip.mdl", &mf, &e));
    modelfile_close(mf);
    free(p);
}

static void test_every_truncation(void **state)
{
    struct fx *f = *state;
    struct err e = ERR_INIT;
    struct modelfile_writer *w = small_model();
    size_t len;
    unsigned char *p = write_bytes(w, f->tmp, "trunc.mdl", &len);
    modelfile_writer_free(w);
    struct modelfile *mf;
    FAILS(modelfile_open_memory(p, 0, "trunc.mdl", &mf, &e), RC_INVALID_INPUT,
          "trunc.mdl: empty file");
    for (size_t n = 1; n < len; n++) {
        FAILS(modelfile_open_memory(p, n, "trunc.mdl", &mf, &e), RC_INVALID_INPUT,
              "trunc.mdl: truncated: expected ");
        assert_null(mf);
        if (n >= 96) {
            char want[96];
            snprintf(want, sizeof(want), "truncated: expected %zu bytes, found %zu", len, n);
            assert_non_null(strstr(e.msg, want));
        }
    }
    /* Trailing data is refused too. */
    unsigned char *longer = aligned_copy(NULL, len + 64);
    memcpy(longer, p, len);
    memset(longer + len, 0, 64);
    FAILS(modelfile_open_memory(longer, len + 1, "long.mdl", &mf, &e), RC_INVALID_INPUT,
          "but its header says");
    free(longer);
    free(p);
}

static void test_newer_version(void **state)
{
    struct fx *f = *state;
    struct err e = ERR_INIT;
    struct modelfile_writer *w = small_model();
    size_t len;
    unsigned char *p = write_bytes(w, f->tmp, "new.mdl", &len);
    modelfile_writer_free(w);
    struct modelfile *mf;
    wr32(p + 8, 2);
    fix_header_crc(p, len);
    FAILS(modelfile_open_memory(p, len, "new.mdl", &mf, &e), RC_INVALID_INPUT,
          "new.mdl: was written by a newer savor (model file format version 2");
    /* Even when a newer savor also changed the size or layout. */
    wr64(p + 88, 1u << 20);
    FAILS(modelfile_open_memory(p, len, "new.mdl", &mf, &e), RC_INVALID_INPUT, "newer savor");
    wr32(p + 8, 0);
    wr64(p + 88, len);
    fix_header_crc(p, len);
    FAILS(modelfile_open_memory(p, len, "new.mdl", &mf, &e), RC_INVALID_INPUT, "version 0");
    free(p);
}

/* Files that pass the header CRC but were built wrongly: each structural check fires. */
static void test_bad_structure(void **state)
{
    struct fx *f = *state;
    struct err e = ERR_INIT;
    struct modelfile_writer *w = small_model();
    size_t len;
    unsigned char *orig = write_bytes(w, f->tmp, "s.mdl", &len);
    modelfile_writer_free(w);
    unsigned char *p = aligned_copy(orig, len);
    struct modelfile *mf;
    /* Table entries: 0 users, 1 factors, 2 empty, 3 meta, 4 b. */
    unsigned char *ent1 = p + 128 + 64, *ent2 = p + 128 + 128, *ent4 = p + 128 + 256;
#define RESET() memcpy(p, orig, len)
#define EXPECT(needle)                                                                      \
    do {                                                                                    \
        fix_header_crc(p, len);                                                             \
        FAILS(modelfile_open_memory(p, len, "s.mdl", &mf, &e), RC_INVALID_INPUT, (needle)); \
        assert_non_null(strstr(e.msg, "s.mdl: corrupt model file: "));                      \
        RESET();                                                                            \
    } while (0)

    wr32(p + 12, 4);
    EXPECT("unknown flags 0x00000004");
    memset(p + 16, 'k', 64);
    EXPECT("the kind is not NUL-terminated");
    memset(p + 16, 0, 64);
    EXPECT("the kind is empty");
    p[16 + 62] = 'x';
    EXPECT("the kind has non-zero bytes after its end");
    p[127] = 1;
    EXPECT("reserved header bytes are not zero");
    wr32(p + 84, 1000);
    EXPECT("a table of 1000 sections needs");
    memset(ent1, 'n', 32);
    EXPECT("section 1's name is not NUL-terminated");
    ent1[0] = 0;
    EXPECT("section 1's name is empty");
    ent1[30] = 'z';
    EXPECT("section 1's name has non-zero bytes after its end");
    ent1[63] = 1;
    EXPECT("section 1 ('factors') has non-zero reserved bytes");
    wr64(ent1 + 40, len);
    EXPECT("section 1 ('factors') at offset");
    assert_non_null(strstr(e.msg, "runs past the end of the file"));
    wr64(ent1 + 32, UINT64_MAX - 8);
    EXPECT("runs past the end of the file");
    wr64(ent2 + 32, rd32(ent2 + 32) + 1);
    EXPECT("section 2 ('empty') at offset");
    assert_non_null(strstr(e.msg, "is not 64-byte aligned"));
    wr64(ent2 + 32, rd32(ent2 + 32) - 64);
    EXPECT("overlaps the previous section");
    wr64(p + 128 + 32, 64);
    EXPECT("overlaps the section table");
    /* Section 4 moved 64 bytes on, with the file grown to match: a gap, not a layout. */
    {
        unsigned char *big = aligned_copy(NULL, len + 64);
        uint64_t off4 = rd32(ent4 + 32);
        memcpy(big, p, (size_t)off4);
        memset(big + off4, 0, 64);
        memcpy(big + off4 + 64, p + off4, len - (size_t)off4);
        wr64(big + 128 + 256 + 32, off4 + 64);
        wr64(big + 88, len + 64);
        fix_header_crc(big, len + 64);
        FAILS(modelfile_open_memory(big, len + 64, "s.mdl", &mf, &e), RC_INVALID_INPUT,
              "section 4 ('b') at offset");
        assert_non_null(strstr(e.msg, "expected"));
        /* Or unaccounted bytes after the last section. */
        memcpy(big, p, len);
        memset(big + len, 0, 64);
        wr64(big + 88, len + 64);
        fix_header_crc(big, len + 64);
        FAILS(modelfile_open_memory(big, len + 64, "s.mdl", &mf, &e), RC_INVALID_INPUT,
              "64 bytes after the last section");
        free(big);
    }
    memcpy(ent4, "users", 6);
    EXPECT("two sections are named 'users'");
    /* Padding is checked even with every CRC right. */
    p[rd32(ent1 + 32) + 20 + 3] = 9;
    EXPECT("non-zero padding before section 2 ('empty')");
    /* A section whose CRC is wrong. */
    wr32(ent1 + 48, rd32(ent1 + 48) ^ 1);
    EXPECT("section 1 ('factors') checksum mismatch");
    /* The unchanged file still opens. */
    OK(modelfile_open_memory(p, len, "s.mdl", &mf, &e));
    modelfile_close(mf);
#undef EXPECT
#undef RESET
    free(p);
    free(orig);
}

/* Hostile strmap sections: each is refused, never trusted. */
static void test_bad_strmap(void **state)
{
    struct fx *f = *state;
    struct err e = ERR_INIT;
    struct modelfile_writer *w = modelfile_writer_new("k", 1);
    unsigned char b[32];
    wr32(b, 1);
    OK(modelfile_add(w, "short", b, 3, &e));
    OK(modelfile_add(w, "count", b, 4, &e)); /* 1 key, no room for it */
    wr32(b, 1);
    wr32(b + 4, 9);
    memcpy(b + 8, "abcd", 4);
    OK(modelfile_add(w, "keylen", b, 12, &e)); /* key of 9 bytes, 4 present */
    wr32(b + 4, 4);
    OK(modelfile_add(w, "ok", b, 12, &e));
    b[12] = 'z';
    OK(modelfile_add(w, "trailing", b, 13, &e));
    wr32(b, 2);
    wr32(b + 12, 4);
    memcpy(b + 16, "abcd", 4);
    OK(modelfile_add(w, "dup", b, 20, &e));
    wr32(b, 2);
    wr32(b + 12, 0xffffffffu);
    OK(modelfile_add(w, "huge", b, 20, &e));
    wr32(b, 3);
    wr32(b + 12, 0);
    wr32(b + 16, 0);
    OK(modelfile_add(w, "dup_empty", b, 20, &e));
    size_t len;
    unsigned char *p = write_bytes(w, f->tmp, "sm.mdl", &len);
    modelfile_writer_free(w);
    struct modelfile *mf;
    OK(modelfile_open_memory(p, len, "sm.mdl", &mf, &e));
    struct strmap *m = NULL;
    FAILS(modelfile_strmap(mf, "short", &m, &e), RC_INVALID_INPUT, "too short");
    FAILS(modelfile_strmap(mf, "count", &m, &e), RC_INVALID_INPUT, "1 keys cannot fit");
    FAILS(modelfile_strmap(mf, "keylen", &m, &e), RC_INVALID_INPUT, "key 0 (9 bytes)");
    FAILS(modelfile_strmap(mf, "trailing", &m, &e), RC_INVALID_INPUT, "1 bytes after the last");
    FAILS(modelfile_strmap(mf, "dup", &m, &e), RC_INVALID_INPUT, "key 1 repeats");
    FAILS(modelfile_strmap(mf, "huge", &m, &e), RC_INVALID_INPUT, "runs past the end");
    FAILS(modelfile_strmap(mf, "dup_empty", &m, &e), RC_INVALID_INPUT, "key 2 repeats");
    assert_null(m);
    assert_non_null(strstr(e.msg, "sm.mdl: section 'dup_empty' is corrupt"));
    OK(modelfile_strmap(mf, "ok", &m, &e));
    assert_int_equal(strmap_count(m), 1);
    size_t kl;
    assert_string_equal(strmap_key(m, 0, &kl), "abcd");
    strmap_free(m);
    modelfile_close(mf);

    /* Text with a NUL inside. */
    w = modelfile_writer_new("k", 1);
    OK(modelfile_add(w, "t", "ab\0c", 5, &e));
    free(p);
    p = write_bytes(w, f->tmp, "t.mdl", &len);
    modelfile_writer_free(w);
    OK(modelfile_open_memory(p, len, "t.mdl", &mf, &e));
    const char *text;
    FAILS(modelfile_text(mf, "t", &text, NULL, &e), RC_INVALID_INPUT, "NUL byte inside");
    assert_null(text);
    modelfile_close(mf);
    free(p);
}

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void test_garbage(void **state)
{
    UNUSED(state);
    struct err e = ERR_INIT;
    struct modelfile *mf;
    uint64_t seed = 0x5eed5eed12345ULL;
    unsigned char *buf = aligned_copy(NULL, 4096);
    for (int round = 0; round < 2000; round++) {
        size_t n = (size_t)(rng_next(&seed) % 4096);
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char)rng_next(&seed);
        if (round % 2 && n >= 8) memcpy(buf, "SAVORMDL", 8); /* get past the magic */
        if (round % 4 == 1 && n >= 12) wr32(buf + 8, 1);
        err_clear(&e);
        enum rc rc = modelfile_open_memory(buf, n, "junk", &mf, &e);
        if (rc == RC_OK) fail_msg("round %d: %zu random bytes accepted", round, n);
        assert_true(strncmp(e.msg, "junk: ", 6) == 0);
    }
    memset(buf, 0, 4096);
    FAILS(modelfile_open_memory(buf, 4096, "zeros", &mf, &e), RC_INVALID_INPUT, "bad magic");
    FAILS(modelfile_open_memory(buf, 1, "zeros", &mf, &e), RC_INVALID_INPUT, "bad magic");
    FAILS(modelfile_open_memory("SAV", 3, "m", &mf, &e), RC_INVALID_INPUT, "truncated");
    FAILS(modelfile_open_memory(NULL, 0, NULL, &mf, &e), RC_INVALID_INPUT, "<memory>: empty");
    free(buf);
}

/*
 * The fuzz seeds: small valid files. Written only with SAVOR_WRITE_CORPUS=dir
 * (regenerate fuzz/corpus/modelfile with it); otherwise just checks they are small.
 */
static void test_corpus(void **state)
{
    struct fx *f = *state;
    struct err e = ERR_INIT;
    const char *dir = getenv("SAVOR_WRITE_CORPUS");
    if (!dir) dir = f->tmp;

    struct modelfile_writer *ws[3];
    ws[0] = small_model();
    ws[1] = modelfile_writer_new("aws-similar-items", 1);
    ws[2] = modelfile_writer_new("aws-popularity-count", 2);
    struct strmap *m = strmap_new();
    char key[32];
    for (int i = 0; i < 40; i++) {
        int n = snprintf(key, sizeof(key), "item-%d", i * 7);
        strmap_intern(m, key, (size_t)n, NULL);
    }
    OK(modelfile_add_strmap(ws[1], "items", m, &e));
    strmap_free(m);
    uint32_t nbr[12] = {1, 2, 3, 0, 2, 5, 7, 9, 11, 4, 4, 4};
    OK(modelfile_add(ws[1], "sims_items", nbr, sizeof(nbr), &e));
    OK(modelfile_add_text(ws[1], "meta", "{\"k\": 3}", &e));
    float pop[3] = {10.0f, 5.5f, 0.25f};
    OK(modelfile_add(ws[2], "popularity", pop, sizeof(pop), &e));
    static const char *const names[] = {"user_personalization.mdl", "similar_items.mdl",
                                        "popularity.mdl"};
    for (size_t i = 0; i < ARRAY_SIZE(ws); i++) {
        char *path = xasprintf("%s/%s", dir, names[i]);
        OK(modelfile_write(ws[i], path, &e));
        struct stat st;
        assert_int_equal(stat(path, &st), 0);
        assert_true(st.st_size < 4096);
        struct modelfile *mf;
        OK(modelfile_open(path, &mf, &e));
        modelfile_close(mf);
        free(path);
        modelfile_writer_free(ws[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_model, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writer_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_atomic_write, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_bit_flip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_every_truncation, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_version, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_structure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_strmap, setup, teardown),
        cmocka_unit_test(test_garbage),
        cmocka_unit_test_setup_teardown(test_corpus, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
