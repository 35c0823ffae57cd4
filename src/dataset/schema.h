/*
 * schema.h: Personalize dataset schemas (Avro JSON records).
 *
 * A schema is parsed from Avro JSON (schema_parse), checked against the
 * rules of a dataset type (schema_validate), inferred from a CSV header and
 * sample values when the user gives none (schema_infer), and written back
 * as canonical Avro JSON (schema_to_json) to be stored and shown.
 */
#ifndef SAVOR_SCHEMA_H
#define SAVOR_SCHEMA_H

#include "common/base.h"

enum dataset_type { DATASET_INTERACTIONS = 0, DATASET_ITEMS, DATASET_USERS };

/* "Interactions", "Items", "Users" (as Personalize names the record). */
const char *dataset_type_record_name(enum dataset_type t);
/* "INTERACTIONS", "ITEMS", "USERS" (as in dataset ARNs and the CLI). */
const char *dataset_type_name(enum dataset_type t);
/* Case-insensitive parse of either spelling; false if unknown. */
bool dataset_type_parse(const char *s, enum dataset_type *out);

enum field_type { FT_STRING = 0, FT_INT, FT_LONG, FT_FLOAT, FT_DOUBLE, FT_BOOLEAN };

/* "string", "int", ... */
const char *field_type_name(enum field_type t);

/* Limits (documented in docs/datasets.md). */
#define SCHEMA_MAX_JSON              20000 /* CreateSchema.schema max length */
#define SCHEMA_MAX_FIELDS            100
#define SCHEMA_MAX_NAME_LEN          127
#define SCHEMA_CATEGORICAL_MAX_BYTES 1000 /* one categorical value (or IMPRESSION list) */

struct schema_field {
    char *name; /* owned */
    enum field_type type;
    bool nullable;    /* type was a union with "null" */
    bool categorical; /* "categorical": true */
    bool textual;     /* "textual": true (Items only) */
};

struct schema {
    char *name;                  /* record name, owned */
    char *namespace_;            /* may be NULL, owned */
    struct schema_field *fields; /* owned array of nfields */
    size_t nfields;
};

/*
 * Parse an Avro record schema from JSON text (not necessarily NUL-terminated).
 * Checks Avro structure only: a record with a non-empty "fields" array of
 * {name, type[, categorical, textual]} where type is one of the supported
 * primitive types or a union of one of them with "null"; field names unique
 * and matching [A-Za-z_][A-Za-z0-9_]*. On failure *out is untouched and 'e'
 * names the offending field ("fields[3].type: ...") or the JSON position.
 * On success *out is a new schema the caller frees with schema_free().
 */
enum rc schema_parse(const char *json, size_t len, struct schema **out, struct err *e);

/*
 * Check a parsed schema against Personalize's rules for dataset type 't':
 * required fields and their types (INTERACTIONS: USER_ID string, ITEM_ID
 * string, TIMESTAMP long/int; ITEMS: ITEM_ID string and at least one
 * metadata field; USERS: USER_ID string and at least one metadata field),
 * reserved fields' types (EVENT_TYPE string not categorical, EVENT_VALUE
 * float/double/int/long, IMPRESSION/RECOMMENDATION_ID/EVENT_ATTRIBUTION_SOURCE
 * string, CREATION_TIMESTAMP long/int), textual only in ITEMS and only on
 * strings, categorical only on strings, required fields not nullable.
 */
enum rc schema_validate(const struct schema *s, enum dataset_type t, struct err *e);

/* Index of the field named 'name' (exact match), or -1. */
int schema_find(const struct schema *s, const char *name);

/* Canonical Avro JSON of 's' (one line); the caller frees it. */
char *schema_to_json(const struct schema *s);

/*
 * Infer a schema for dataset type 't' from CSV column names and sample
 * values. 'sample' holds nrows*ncols values, row-major; NULL or "" means an
 * empty cell. Reserved names get their Personalize types; other columns
 * become boolean, long, double or (categorical) string from their values,
 * and are nullable. The result passes schema_validate() or an error says why
 * not (for example a missing USER_ID column). Caller frees *out.
 */
enum rc schema_infer(enum dataset_type t, const char *const *names, size_t ncols,
                     const char *const *sample, size_t nrows, struct schema **out, struct err *e);

void schema_free(struct schema *s);

#endif
