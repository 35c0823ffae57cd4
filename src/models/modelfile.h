/*
 * modelfile.h: the trained-model file, a container of named byte sections.
 *
 * A trainer builds a model with a modelfile_writer (one section per array:
 * factors, ID maps, metadata) and writes it atomically; the server opens it
 * read-only, memory-mapped, and gets borrowed pointers straight into the
 * mapping. Opening validates the whole file, so a truncated, corrupted or
 * hostile file is refused with a message naming the file and what is wrong,
 * and never crashes the reader.
 *
 * File format, version 1. Integers are little-endian, written and read byte
 * by byte (never through struct layout). Offsets are from the file start.
 *
 *   header, 128 bytes:
 *      0  magic         8 bytes "SAVORMDL"
 *      8  version       u32  format version, 1
 *     12  flags         u32  0 (no flags are defined in version 1)
 *     16  kind          64 bytes: model kind, e.g. "aws-user-personalization",
 *                       1..63 bytes, NUL-terminated, the rest zero
 *     80  kind_version  u32  version of the kind's own section layout
 *     84  count         u32  number of sections
 *     88  file_size     u64  total file size in bytes
 *     96  header_crc    u32  zlib crc32 of bytes [0, 96) then [100, 128 + 64 * count):
 *                            the header without this field, and the section table
 *    100  reserved      28 bytes, zero
 *
 *   section table, 'count' entries of 64 bytes, at offset 128:
 *      0  name          32 bytes: 1..31 bytes, NUL-terminated, the rest zero; unique
 *     32  offset        u64  where the section's data starts
 *     40  length        u64  its length in bytes
 *     48  crc           u32  zlib crc32 of the data
 *     52  reserved      12 bytes, zero
 *
 *   section data, in table order: section i starts at the first multiple of
 *   64 at or after the end of section i-1 (for section 0, after the table,
 *   which ends on a multiple of 64); the gap bytes are zero. The file ends
 *   exactly where the last section ends (or the table, with no sections).
 *
 * Every byte of a valid file is therefore either covered by a CRC (header,
 * table, section data) or required to be zero (gaps), and any single-byte
 * change is detected at open. Section contents are the caller's bytes
 * as-is: savor writes arrays in host order and supports little-endian hosts
 * only (checked at compile time).
 *
 * Opening reads every section once to check its CRC: for a model of a few
 * hundred MB that is one sequential pass over the file (it also brings the
 * pages into the page cache, which the first queries would do anyway).
 */
#ifndef SAVOR_MODELFILE_H
#define SAVOR_MODELFILE_H

#include "common/base.h"
#include "common/strmap.h"

#define MODELFILE_MAGIC          "SAVORMDL"
#define MODELFILE_FORMAT_VERSION 1u
#define MODELFILE_KIND_MAX       63 /* bytes of kind, without the NUL */
#define MODELFILE_NAME_MAX       31 /* bytes of a section name, without the NUL */
#define MODELFILE_ALIGN          64 /* section data alignment in the file and in memory */

/* ---- writing ---- */

/*
 * Builds a model file in memory: each section is copied when added, and
 * modelfile_write() writes them all out. Not thread-safe.
 */
struct modelfile_writer;

/*
 * A writer for a model of 'kind' (1..63 bytes, e.g. "aws-user-personalization")
 * and 'kind_version'. Never fails: an invalid kind is reported by every later
 * modelfile_add*() and modelfile_write(). Free with modelfile_writer_free().
 */
struct modelfile_writer *modelfile_writer_new(const char *kind, uint32_t kind_version);
void modelfile_writer_free(struct modelfile_writer *w);

/*
 * Add a section named 'name' (1..31 bytes, unique in the file) holding a copy
 * of the 'len' bytes at 'data' (which may be NULL when len is 0). In the
 * file, and in memory once opened, the data starts on a 64-byte boundary.
 * RC_INVALID_INPUT for a bad name (or an invalid kind), RC_ALREADY_EXISTS
 * for a duplicate one. The CRC is computed here, as the data is copied.
 */
enum rc modelfile_add(struct modelfile_writer *w, const char *name, const void *data, size_t len,
                      struct err *e);

/*
 * Add a section holding the keys of 'm' in index order, so that
 * modelfile_strmap() rebuilds a map with the same indexes. Layout: u32 count,
 * then per key u32 length and the key's bytes (keys may be empty or hold any
 * bytes, NUL included).
 */
enum rc modelfile_add_strmap(struct modelfile_writer *w, const char *name, const struct strmap *m,
                             struct err *e);

/*
 * Add a text section (JSON metadata, hyperparameters...): the bytes of the
 * NUL-terminated 'text' followed by one NUL, so that modelfile_text() can hand
 * back a C string pointing into the mapping.
 */
enum rc modelfile_add_text(struct modelfile_writer *w, const char *name, const char *text,
                           struct err *e);

/*
 * Write the file to 'path' atomically: write 'path.tmp-<pid>', fsync it,
 * rename it over 'path' (replacing any existing file), then fsync the
 * directory. On failure the temporary file is removed and 'path' is left as
 * it was. RC_IO with the file name and the system error. The writer can be
 * written again, or freed.
 */
enum rc modelfile_write(struct modelfile_writer *w, const char *path, struct err *e);

/*
 * The same bytes in memory instead (for a model that is evaluated and
 * thrown away): *data (64-byte aligned; caller frees with free()) holds
 * *len bytes, ready for modelfile_open_memory().
 */
enum rc modelfile_write_memory(struct modelfile_writer *w, void **data, size_t *len, struct err *e);

/* ---- reading ---- */

/* An opened, validated, read-only model file. */
struct modelfile;

/*
 * Map 'path' read-only (mmap PROT_READ, MAP_PRIVATE) and validate it as
 * described above. Errors name the file: RC_NOT_FOUND when it does not exist,
 * RC_IO when it cannot be read, RC_INVALID_INPUT when it is not a regular file
 * (a directory), is empty, is not a model file, was written by a newer savor,
 * is truncated ("truncated: expected N bytes, found M") or is corrupt.
 * The file must not be modified in place while open (savor only ever
 * replaces model files by rename).
 */
enum rc modelfile_open(const char *path, struct modelfile **out, struct err *e);

/*
 * Validate 'len' bytes at 'data' as a model file; 'name' names it in errors.
 * The buffer must outlive the modelfile. When 'data' is not 64-byte aligned
 * it is copied into an aligned buffer the modelfile owns, so that section
 * pointers are always 64-byte aligned.
 */
enum rc modelfile_open_memory(const void *data, size_t len, const char *name,
                              struct modelfile **out, struct err *e);

/* Close (unmap) the file; every pointer obtained from it becomes invalid. NULL is a no-op. */
void modelfile_close(struct modelfile *m);

/* The kind and kind version from the header. The string lives as long as 'm'. */
const char *modelfile_kind(const struct modelfile *m);
uint32_t modelfile_kind_version(const struct modelfile *m);

/* The number of sections, and the name of section i < count (in file order). */
uint32_t modelfile_section_count(const struct modelfile *m);
const char *modelfile_section_name(const struct modelfile *m, uint32_t i);

/*
 * Borrow the section 'name': *data points into the mapping (64-byte aligned;
 * valid until modelfile_close) and *len is its length in bytes. RC_NOT_FOUND
 * if there is no such section. When elem_size is not 0, the length must be a
 * multiple of it, else RC_INVALID_INPUT ("corrupt").
 */
enum rc modelfile_section(const struct modelfile *m, const char *name, size_t elem_size,
                          const void **data, size_t *len, struct err *e);

/*
 * Rebuild the strmap stored by modelfile_add_strmap(): a fresh map, with the
 * same keys at the same indexes, that the caller frees with strmap_free().
 * RC_NOT_FOUND if absent; RC_INVALID_INPUT if the section is not a valid
 * strmap (bad lengths, trailing bytes, duplicate keys).
 */
enum rc modelfile_strmap(const struct modelfile *m, const char *name, struct strmap **out,
                         struct err *e);

/*
 * Borrow the text section stored by modelfile_add_text(): *text is a C string
 * inside the mapping and *len (may be NULL) its length without the NUL.
 * RC_NOT_FOUND if absent; RC_INVALID_INPUT if it is not NUL-terminated or
 * holds a NUL before its end.
 */
enum rc modelfile_text(const struct modelfile *m, const char *name, const char **text, size_t *len,
                       struct err *e);

#endif
