/*
 * modelfile.c: write and validate trained-model files (format in modelfile.h).
 *
 * The writer keeps a copy of every section and writes header, table and data
 * in one pass to a temporary file that is then renamed into place. The reader
 * maps the file and validates it completely before handing it out; lookups
 * then cost a binary search over the section names.
 */
#include "common/base.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "models/modelfile.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#    error "model files store arrays in host order: savor supports little-endian hosts only"
#endif

/* Header field offsets (modelfile.h documents them). */
#define HDR_MAGIC        0
#define HDR_VERSION      8
#define HDR_FLAGS        12
#define HDR_KIND         16
#define HDR_KIND_VERSION 80
#define HDR_COUNT        84
#define HDR_FILE_SIZE    88
#define HDR_CRC          96
#define HDR_RESERVED     100
#define HDR_SIZE         128

#define KIND_SIZE 64

/* Section table entry field offsets. */
#define ENT_NAME     0
#define ENT_OFFSET   32
#define ENT_LENGTH   40
#define ENT_CRC      48
#define ENT_RESERVED 52
#define ENT_SIZE     64

#define NAME_SIZE 32

_Static_assert(HDR_SIZE % MODELFILE_ALIGN == 0, "the table must start aligned");
_Static_assert(ENT_SIZE % MODELFILE_ALIGN == 0, "the table must end aligned");
_Static_assert(MODELFILE_KIND_MAX + 1 == KIND_SIZE, "kind field size");
_Static_assert(MODELFILE_NAME_MAX + 1 == NAME_SIZE, "name field size");

/* ---- byte order and checksums ---- */

static void put_u32(unsigned char *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (unsigned char)(v >> (8 * i));
}

static uint32_t get_u32(const unsigned char *p)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v |= (uint32_t)p[i] << (8 * i);
    return v;
}

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)p[i] << (8 * i);
    return v;
}

/* zlib's crc32 over any length (its length parameter is an unsigned int). */
static uint32_t crc_update(uint32_t crc, const void *data, size_t len)
{
    const unsigned char *p = data;
    while (len > 0) {
        uInt n = len > (1u << 30) ? (1u << 30) : (uInt)len;
        crc = (uint32_t)crc32(crc, p, n);
        p += n;
        len -= n;
    }
    return crc;
}

/* CRC of the header (without its CRC field) and the section table. */
static uint32_t header_crc(const unsigned char *p, uint64_t table_end)
{
    uint32_t crc = crc_update(0, p, HDR_CRC);
    return crc_update(crc, p + HDR_RESERVED, (size_t)table_end - HDR_RESERVED);
}

static uint64_t align_up(uint64_t v)
{
    return (v + (MODELFILE_ALIGN - 1)) & ~(uint64_t)(MODELFILE_ALIGN - 1);
}

static bool all_zero(const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i]) return false;
    return true;
}

/* ---- writing ---- */

struct wsection {
    char name[NAME_SIZE];
    unsigned char *data; /* owned */
    size_t len;
    uint32_t crc;
};

struct modelfile_writer {
    char kind[KIND_SIZE];
    size_t kind_len; /* of the caller's string; invalid unless 1..MODELFILE_KIND_MAX */
    uint32_t kind_version;
    struct wsection *secs;
    uint32_t n, alloc;
};

struct modelfile_writer *modelfile_writer_new(const char *kind, uint32_t kind_version)
{
    struct modelfile_writer *w = xcalloc(1, sizeof(*w));
    if (kind) {
        w->kind_len = strlen(kind);
        strlcpy_(w->kind, kind, sizeof(w->kind));
    }
    w->kind_version = kind_version;
    return w;
}

void modelfile_writer_free(struct modelfile_writer *w)
{
    if (!w) return;
    for (uint32_t i = 0; i < w->n; i++)
        free(w->secs[i].data);
    free(w->secs);
    free(w);
}

static enum rc check_kind(const struct modelfile_writer *w, struct err *e)
{
    if (w->kind_len == 0 || w->kind_len > MODELFILE_KIND_MAX)
        return err_set(e, RC_INVALID_INPUT, "model kind must be 1..%d bytes, got %zu",
                       MODELFILE_KIND_MAX, w->kind_len);
    return RC_OK;
}

/* Add a section that takes ownership of 'data' (freed on failure too). */
static enum rc add_owned(struct modelfile_writer *w, const char *name, unsigned char *data,
                         size_t len, struct err *e)
{
    enum rc rc = check_kind(w, e);
    if (rc) goto fail;
    size_t nlen = name ? strlen(name) : 0;
    if (nlen == 0 || nlen > MODELFILE_NAME_MAX) {
        rc = err_set(e, RC_INVALID_INPUT, "model section name '%.40s' must be 1..%d bytes, got %zu",
                     name ? name : "", MODELFILE_NAME_MAX, nlen);
        goto fail;
    }
    for (uint32_t i = 0; i < w->n; i++) {
        if (strcmp(w->secs[i].name, name) == 0) {
            rc = err_set(e, RC_ALREADY_EXISTS, "model section '%s' was already added", name);
            goto fail;
        }
    }
    if (w->n == UINT32_MAX / ENT_SIZE) {
        rc =
            err_set(e, RC_LIMIT_EXCEEDED, "model section '%s': too many sections (%u)", name, w->n);
        goto fail;
    }
    if (w->n == w->alloc) {
        w->alloc = w->alloc ? w->alloc * 2 : 8;
        w->secs = xreallocarray(w->secs, w->alloc, sizeof(*w->secs));
    }
    struct wsection *s = &w->secs[w->n++];
    memset(s->name, 0, sizeof(s->name));
    memcpy(s->name, name, nlen);
    s->data = data;
    s->len = len;
    s->crc = crc_update(0, data, len);
    return RC_OK;
fail:
    free(data);
    return rc;
}

enum rc modelfile_add(struct modelfile_writer *w, const char *name, const void *data, size_t len,
                      struct err *e)
{
    if (!data && len > 0)
        return err_set(e, RC_INVALID_INPUT, "model section '%s': NULL data with length %zu",
                       name ? name : "", len);
    unsigned char *copy = xmalloc(len ? len : 1);
    if (len) memcpy(copy, data, len);
    return add_owned(w, name, copy, len, e);
}

enum rc modelfile_add_strmap(struct modelfile_writer *w, const char *name, const struct strmap *m,
                             struct err *e)
{
    uint32_t count = strmap_count(m);
    size_t total = 4;
    for (uint32_t i = 0; i < count; i++) {
        size_t klen;
        strmap_key(m, i, &klen);
        total += 4 + klen;
    }
    unsigned char *p = xmalloc(total);
    put_u32(p, count);
    size_t pos = 4;
    for (uint32_t i = 0; i < count; i++) {
        size_t klen;
        const char *key = strmap_key(m, i, &klen);
        put_u32(p + pos, (uint32_t)klen); /* strmap keys are shorter than 4 GB */
        memcpy(p + pos + 4, key, klen);
        pos += 4 + klen;
    }
    return add_owned(w, name, p, total, e);
}

enum rc modelfile_add_text(struct modelfile_writer *w, const char *name, const char *text,
                           struct err *e)
{
    if (!text)
        return err_set(e, RC_INVALID_INPUT, "model section '%s': NULL text", name ? name : "");
    return modelfile_add(w, name, text, strlen(text) + 1, e);
}

static enum rc write_all(int fd, const void *data, size_t len, const char *path, struct err *e)
{
    const unsigned char *p = data;
    while (len > 0) {
        ssize_t n = write(fd, p, MIN(len, (size_t)1 << 30));
        if (n < 0) {
            if (errno == EINTR) continue;
            return err_set(e, RC_IO, "%s: cannot write: %s", path, strerror(errno));
        }
        p += n;
        len -= (size_t)n;
    }
    return RC_OK;
}

/* fsync the directory holding 'path', so that a rename into it is durable. */
static enum rc sync_dir(const char *path, struct err *e)
{
    const char *slash = strrchr(path, '/');
    char *dir = slash ? xstrndup(path, slash == path ? 1 : (size_t)(slash - path)) : xstrdup(".");
    enum rc rc = RC_OK;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        rc = err_set(e, RC_IO, "%s: cannot open directory %s to sync it: %s", path, dir,
                     strerror(errno));
    } else {
        /* Some file systems cannot fsync a directory (EINVAL); nothing more can be done there. */
        if (fsync(fd) != 0 && errno != EINVAL)
            rc = err_set(e, RC_IO, "%s: cannot sync directory %s: %s", path, dir, strerror(errno));
        close(fd);
    }
    free(dir);
    return rc;
}

/*
 * Fill the header and section table at 'head' (zeroed, table_end bytes), each
 * section at the next aligned offset; returns the file size.
 */
static uint64_t fill_head(const struct modelfile_writer *w, unsigned char *head, uint64_t table_end)
{
    uint64_t pos = table_end;
    for (uint32_t i = 0; i < w->n; i++) {
        const struct wsection *s = &w->secs[i];
        unsigned char *ent = head + HDR_SIZE + (size_t)i * ENT_SIZE;
        pos = align_up(pos);
        memcpy(ent + ENT_NAME, s->name, NAME_SIZE);
        put_u64(ent + ENT_OFFSET, pos);
        put_u64(ent + ENT_LENGTH, s->len);
        put_u32(ent + ENT_CRC, s->crc);
        pos += s->len;
    }
    memcpy(head + HDR_MAGIC, MODELFILE_MAGIC, 8);
    put_u32(head + HDR_VERSION, MODELFILE_FORMAT_VERSION);
    put_u32(head + HDR_FLAGS, 0);
    memcpy(head + HDR_KIND, w->kind, KIND_SIZE);
    put_u32(head + HDR_KIND_VERSION, w->kind_version);
    put_u32(head + HDR_COUNT, w->n);
    put_u64(head + HDR_FILE_SIZE, pos);
    put_u32(head + HDR_CRC, header_crc(head, table_end));
    return pos;
}

enum rc modelfile_write(struct modelfile_writer *w, const char *path, struct err *e)
{
    enum rc rc = check_kind(w, e);
    if (rc) return rc;
    if (!path || !*path) return err_set(e, RC_INVALID_INPUT, "model file: empty path");

    uint64_t table_end = HDR_SIZE + (uint64_t)w->n * ENT_SIZE, pos;
    unsigned char *head = xcalloc(1, (size_t)table_end);
    fill_head(w, head, table_end);

    char *tmp = xasprintf("%s.tmp-%ld", path, (long)getpid());
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = err_set(e, RC_IO, "%s: cannot create: %s", tmp, strerror(errno));
        goto out;
    }
    rc = write_all(fd, head, (size_t)table_end, tmp, e);
    pos = table_end;
    static const unsigned char zeros[MODELFILE_ALIGN];
    for (uint32_t i = 0; i < w->n && !rc; i++) {
        uint64_t start = align_up(pos);
        rc = write_all(fd, zeros, (size_t)(start - pos), tmp, e);
        if (!rc) rc = write_all(fd, w->secs[i].data, w->secs[i].len, tmp, e);
        pos = start + w->secs[i].len;
    }
    if (!rc && fsync(fd) != 0) rc = err_set(e, RC_IO, "%s: cannot sync: %s", tmp, strerror(errno));
    if (close(fd) != 0 && !rc) rc = err_set(e, RC_IO, "%s: cannot close: %s", tmp, strerror(errno));
    if (!rc && rename(tmp, path) != 0)
        rc = err_set(e, RC_IO, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
    if (rc) {
        unlink(tmp);
        goto out;
    }
    rc = sync_dir(path, e);
out:
    free(tmp);
    free(head);
    return rc;
}

enum rc modelfile_write_memory(struct modelfile_writer *w, void **data, size_t *len, struct err *e)
{
    enum rc rc = check_kind(w, e);
    if (rc) return rc;
    uint64_t table_end = HDR_SIZE + (uint64_t)w->n * ENT_SIZE, pos = table_end;
    for (uint32_t i = 0; i < w->n; i++)
        pos = align_up(pos) + w->secs[i].len;
    void *buf;
    if (posix_memalign(&buf, MODELFILE_ALIGN, (size_t)pos) != 0)
        return err_set(e, RC_NOMEM, "model in memory: cannot allocate %llu bytes",
                       (unsigned long long)pos);
    unsigned char *head = buf;
    memset(head, 0, (size_t)pos);
    fill_head(w, head, table_end);
    pos = table_end;
    for (uint32_t i = 0; i < w->n; i++) {
        pos = align_up(pos);
        if (w->secs[i].len) memcpy(head + pos, w->secs[i].data, w->secs[i].len);
        pos += w->secs[i].len;
    }
    *data = buf;
    *len = (size_t)pos;
    return RC_OK;
}

/* ---- reading ---- */

struct rsection {
    char name[NAME_SIZE];
    uint64_t off, len;
};

struct modelfile {
    const unsigned char *base; /* the validated bytes */
    size_t size;
    void *map;   /* mmap'd file, or NULL */
    void *owned; /* aligned copy of a misaligned memory buffer, or NULL */
    char *name;  /* for error messages */
    char kind[KIND_SIZE];
    uint32_t kind_version;
    uint32_t n;
    struct rsection *secs;     /* in file order */
    struct rsection **by_name; /* sorted by name, for lookups */
};

void modelfile_close(struct modelfile *m)
{
    if (!m) return;
    if (m->map) munmap(m->map, m->size);
    free(m->owned);
    free(m->name);
    free(m->secs);
    free(m->by_name);
    free(m);
}

static int cmp_section_name(const void *a, const void *b)
{
    const struct rsection *const *x = a, *const *y = b;
    return strcmp((*x)->name, (*y)->name);
}

/* Check that a fixed-size string field is 1..size-1 bytes, NUL-terminated, zero after the NUL. */
static const char *check_cstr(const unsigned char *p, size_t size)
{
    const unsigned char *nul = memchr(p, 0, size);
    if (!nul) return "is not NUL-terminated";
    if (nul == p) return "is empty";
    if (!all_zero(nul, size - (size_t)(nul - p))) return "has non-zero bytes after its end";
    return NULL;
}

/* Validate m->base/m->size completely and fill in the rest of 'm'. */
static enum rc validate(struct modelfile *m, struct err *e)
{
    const unsigned char *p = m->base;
    size_t size = m->size;
    const char *fn = m->name;

    if (size == 0) return err_set(e, RC_INVALID_INPUT, "%s: empty file, not a savor model", fn);
    if (memcmp(p, MODELFILE_MAGIC, MIN(size, (size_t)8)) != 0)
        return err_set(e, RC_INVALID_INPUT, "%s: not a savor model file (bad magic)", fn);
    if (size < HDR_FILE_SIZE + 8)
        return err_set(e, RC_INVALID_INPUT,
                       "%s: truncated: expected at least %d bytes (the header), found %zu", fn,
                       HDR_SIZE, size);
    uint32_t version = get_u32(p + HDR_VERSION);
    if (version > MODELFILE_FORMAT_VERSION)
        return err_set(e, RC_INVALID_INPUT,
                       "%s: was written by a newer savor (model file format version %u; this "
                       "savor reads version %u)",
                       fn, version, MODELFILE_FORMAT_VERSION);
    if (version == 0)
        return err_set(e, RC_INVALID_INPUT, "%s: corrupt model file: format version 0", fn);
    uint64_t file_size = get_u64(p + HDR_FILE_SIZE);
    if (file_size > size)
        return err_set(e, RC_INVALID_INPUT, "%s: truncated: expected %llu bytes, found %zu", fn,
                       (unsigned long long)file_size, size);
    if (file_size < size)
        return err_set(e, RC_INVALID_INPUT,
                       "%s: corrupt model file: %zu bytes, but its header says %llu", fn, size,
                       (unsigned long long)file_size);
    if (size < HDR_SIZE)
        return err_set(e, RC_INVALID_INPUT,
                       "%s: corrupt model file: %zu bytes is less than the %d-byte header", fn,
                       size, HDR_SIZE);
    uint32_t n = get_u32(p + HDR_COUNT);
    uint64_t table_end = HDR_SIZE + (uint64_t)n * ENT_SIZE;
    if (table_end > size)
        return err_set(e, RC_INVALID_INPUT,
                       "%s: corrupt model file: a table of %u sections needs %llu bytes, the file "
                       "has %zu",
                       fn, n, (unsigned long long)table_end, size);
    uint32_t stored = get_u32(p + HDR_CRC), computed = header_crc(p, table_end);
    if (stored != computed)
        return err_set(e, RC_INVALID_INPUT,
                       "%s: corrupt model file: header checksum mismatch (stored 0x%08x, "
                       "computed 0x%08x)",
                       fn, stored, computed);

    /* The checksum matches: what follows catches files written wrongly, not damaged ones. */
    uint32_t flags = get_u32(p + HDR_FLAGS);
    if (flags)
        return err_set(e, RC_INVALID_INPUT, "%s: corrupt model file: unknown flags 0x%08x", fn,
                       flags);
    const char *why = check_cstr(p + HDR_KIND, KIND_SIZE);
    if (why) return err_set(e, RC_INVALID_INPUT, "%s: corrupt model file: the kind %s", fn, why);
    if (!all_zero(p + HDR_RESERVED, HDR_SIZE - HDR_RESERVED))
        return err_set(e, RC_INVALID_INPUT,
                       "%s: corrupt model file: reserved header bytes are not zero", fn);
    memcpy(m->kind, p + HDR_KIND, KIND_SIZE);
    m->kind_version = get_u32(p + HDR_KIND_VERSION);

    m->n = n;
    m->secs = xcalloc(n ? n : 1, sizeof(*m->secs));
    m->by_name = xcalloc(n ? n : 1, sizeof(*m->by_name));
    uint64_t pos = table_end; /* end of the previous section */
    for (uint32_t i = 0; i < n; i++) {
        const unsigned char *ent = p + HDR_SIZE + (size_t)i * ENT_SIZE;
        struct rsection *s = &m->secs[i];
        why = check_cstr(ent + ENT_NAME, NAME_SIZE);
        if (why)
            return err_set(e, RC_INVALID_INPUT, "%s: corrupt model file: section %u's name %s", fn,
                           i, why);
        memcpy(s->name, ent + ENT_NAME, NAME_SIZE);
        s->off = get_u64(ent + ENT_OFFSET);
        s->len = get_u64(ent + ENT_LENGTH);
        if (!all_zero(ent + ENT_RESERVED, ENT_SIZE - ENT_RESERVED))
            return err_set(e, RC_INVALID_INPUT,
                           "%s: corrupt model file: section %u ('%s') has non-zero reserved bytes",
                           fn, i, s->name);
        if (s->off > size || s->len > size - s->off)
            return err_set(e, RC_INVALID_INPUT,
                           "%s: corrupt model file: section %u ('%s') at offset %llu with %llu "
                           "bytes runs past the end of the file (%zu bytes)",
                           fn, i, s->name, (unsigned long long)s->off, (unsigned long long)s->len,
                           size);
        if (s->off % MODELFILE_ALIGN)
            return err_set(e, RC_INVALID_INPUT,
                           "%s: corrupt model file: section %u ('%s') at offset %llu is not "
                           "%d-byte aligned",
                           fn, i, s->name, (unsigned long long)s->off, MODELFILE_ALIGN);
        if (s->off < pos)
            return err_set(e, RC_INVALID_INPUT,
                           "%s: corrupt model file: section %u ('%s') at offset %llu overlaps "
                           "the %s (which ends at %llu)",
                           fn, i, s->name, (unsigned long long)s->off,
                           i ? "previous section" : "section table", (unsigned long long)pos);
        if (s->off != align_up(pos))
            return err_set(e, RC_INVALID_INPUT,
                           "%s: corrupt model file: section %u ('%s') at offset %llu, expected "
                           "%llu",
                           fn, i, s->name, (unsigned long long)s->off,
                           (unsigned long long)align_up(pos));
        if (!all_zero(p + pos, (size_t)(s->off - pos)))
            return err_set(e, RC_INVALID_INPUT,
                           "%s: corrupt model file: non-zero padding before section %u ('%s')", fn,
                           i, s->name);
        pos = s->off + s->len;
        m->by_name[i] = s;
    }
    if (pos != size)
        return err_set(e, RC_INVALID_INPUT,
                       "%s: corrupt model file: %llu bytes after the last section", fn,
                       (unsigned long long)(size - pos));
    if (n) qsort(m->by_name, n, sizeof(*m->by_name), cmp_section_name);
    for (uint32_t i = 1; i < n; i++)
        if (strcmp(m->by_name[i - 1]->name, m->by_name[i]->name) == 0)
            return err_set(e, RC_INVALID_INPUT,
                           "%s: corrupt model file: two sections are named '%s'", fn,
                           m->by_name[i]->name);

    /* Last, the one pass over all the data. */
    for (uint32_t i = 0; i < n; i++) {
        const struct rsection *s = &m->secs[i];
        const unsigned char *ent = p + HDR_SIZE + (size_t)i * ENT_SIZE;
        stored = get_u32(ent + ENT_CRC);
        computed = crc_update(0, p + s->off, (size_t)s->len);
        if (stored != computed)
            return err_set(e, RC_INVALID_INPUT,
                           "%s: corrupt model file: section %u ('%s') checksum mismatch (stored "
                           "0x%08x, computed 0x%08x)",
                           fn, i, s->name, stored, computed);
    }
    return RC_OK;
}

enum rc modelfile_open_memory(const void *data, size_t len, const char *name,
                              struct modelfile **out, struct err *e)
{
    *out = NULL;
    struct modelfile *m = xcalloc(1, sizeof(*m));
    m->name = xstrdup(name ? name : "<memory>");
    m->base = data;
    m->size = len;
    if (len > 0 && (uintptr_t)data % MODELFILE_ALIGN != 0) {
        if (posix_memalign(&m->owned, MODELFILE_ALIGN, len) != 0) {
            enum rc rc = err_set(e, RC_NOMEM, "%s: cannot allocate %zu bytes", m->name, len);
            modelfile_close(m);
            return rc;
        }
        memcpy(m->owned, data, len);
        m->base = m->owned;
    }
    enum rc rc = validate(m, e);
    if (rc) {
        modelfile_close(m);
        return rc;
    }
    *out = m;
    return RC_OK;
}

enum rc modelfile_open(const char *path, struct modelfile **out, struct err *e)
{
    *out = NULL;
    /* O_NONBLOCK: opening a FIFO must not hang; it is refused below. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        if (errno == ENOENT) return err_set(e, RC_NOT_FOUND, "%s: no such model file", path);
        return err_set(e, RC_IO, "%s: cannot open: %s", path, strerror(errno));
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        enum rc rc = err_set(e, RC_IO, "%s: cannot stat: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(e, RC_INVALID_INPUT, "%s: %s, not a savor model file", path,
                       S_ISDIR(st.st_mode) ? "is a directory" : "is not a regular file");
    }
    if (st.st_size == 0) {
        close(fd);
        return err_set(e, RC_INVALID_INPUT, "%s: empty file, not a savor model", path);
    }
    if ((uint64_t)st.st_size > SIZE_MAX) {
        close(fd);
        return err_set(e, RC_LIMIT_EXCEEDED, "%s: too large to map", path);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (map == MAP_FAILED)
        return err_set(e, RC_IO, "%s: cannot map %lld bytes: %s", path, (long long)st.st_size,
                       strerror(map_errno));

    struct modelfile *m = xcalloc(1, sizeof(*m));
    m->name = xstrdup(path);
    m->map = map;
    m->base = map;
    m->size = (size_t)st.st_size;
    enum rc rc = validate(m, e);
    if (rc) {
        modelfile_close(m);
        return rc;
    }
    *out = m;
    return RC_OK;
}

const char *modelfile_kind(const struct modelfile *m)
{
    return m->kind;
}

uint32_t modelfile_kind_version(const struct modelfile *m)
{
    return m->kind_version;
}

uint32_t modelfile_section_count(const struct modelfile *m)
{
    return m->n;
}

const char *modelfile_section_name(const struct modelfile *m, uint32_t i)
{
    return i < m->n ? m->secs[i].name : NULL;
}

enum rc modelfile_section(const struct modelfile *m, const char *name, size_t elem_size,
                          const void **data, size_t *len, struct err *e)
{
    *data = NULL;
    *len = 0;
    const struct rsection *s = NULL;
    size_t lo = 0, hi = m->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(m->by_name[mid]->name, name);
        if (c == 0) {
            s = m->by_name[mid];
            break;
        }
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (!s) return err_set(e, RC_NOT_FOUND, "%s: no section '%s'", m->name, name);
    if (elem_size && s->len % elem_size)
        return err_set(e, RC_INVALID_INPUT,
                       "%s: section '%s' is corrupt: %llu bytes is not a multiple of %zu-byte "
                       "elements",
                       m->name, name, (unsigned long long)s->len, elem_size);
    *data = m->base + s->off;
    *len = (size_t)s->len;
    return RC_OK;
}

enum rc modelfile_strmap(const struct modelfile *m, const char *name, struct strmap **out,
                         struct err *e)
{
    *out = NULL;
    const void *data;
    size_t len;
    enum rc rc = modelfile_section(m, name, 0, &data, &len, e);
    if (rc) return rc;
    const unsigned char *p = data;
    if (len < 4)
        return err_set(e, RC_INVALID_INPUT,
                       "%s: section '%s' is corrupt: %zu bytes is too short for a key map", m->name,
                       name, len);
    uint32_t count = get_u32(p);
    if (count > (len - 4) / 4)
        return err_set(e, RC_INVALID_INPUT,
                       "%s: section '%s' is corrupt: %u keys cannot fit in %zu bytes", m->name,
                       name, count, len);
    struct strmap *map = strmap_new();
    size_t pos = 4;
    for (uint32_t i = 0; i < count; i++) {
        if (len - pos < 4) {
            rc = err_set(e, RC_INVALID_INPUT,
                         "%s: section '%s' is corrupt: key %u's length runs past the end", m->name,
                         name, i);
            goto fail;
        }
        uint32_t klen = get_u32(p + pos);
        pos += 4;
        if (klen > len - pos || klen > UINT32_MAX - 8) {
            rc = err_set(e, RC_INVALID_INPUT,
                         "%s: section '%s' is corrupt: key %u (%u bytes) runs past the end",
                         m->name, name, i, klen);
            goto fail;
        }
        bool added;
        strmap_intern(map, (const char *)p + pos, klen, &added);
        if (!added) {
            rc = err_set(e, RC_INVALID_INPUT,
                         "%s: section '%s' is corrupt: key %u repeats an earlier key", m->name,
                         name, i);
            goto fail;
        }
        pos += klen;
    }
    if (pos != len) {
        rc = err_set(e, RC_INVALID_INPUT,
                     "%s: section '%s' is corrupt: %zu bytes after the last key", m->name, name,
                     len - pos);
        goto fail;
    }
    *out = map;
    return RC_OK;
fail:
    strmap_free(map);
    return rc;
}

enum rc modelfile_text(const struct modelfile *m, const char *name, const char **text, size_t *len,
                       struct err *e)
{
    *text = NULL;
    if (len) *len = 0;
    const void *data;
    size_t n;
    enum rc rc = modelfile_section(m, name, 0, &data, &n, e);
    if (rc) return rc;
    const char *p = data;
    if (n == 0 || p[n - 1] != '\0')
        return err_set(e, RC_INVALID_INPUT,
                       "%s: section '%s' is corrupt: text is not NUL-terminated", m->name, name);
    const char *nul = memchr(p, '\0', n - 1);
    if (nul)
        return err_set(e, RC_INVALID_INPUT,
                       "%s: section '%s' is corrupt: NUL byte inside the text at offset %zu",
                       m->name, name, (size_t)(nul - p));
    *text = p;
    if (len) *len = n - 1;
    return RC_OK;
}
