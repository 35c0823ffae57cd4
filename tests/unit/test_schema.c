/*
 * test_schema.c: unit tests for src/import/schema.c (Avro schema parsing,
 * Personalize validation, canonical JSON and inference from CSV samples).
 */
#include "common/base.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "dataset/schema.h"

/* ---- helpers ---- */

/* Fail unless 'msg' contains every string of the NULL-terminated list. */
static void assert_msg_has(const char *msg, ...)
{
    va_list ap;
    va_start(ap, msg);
    for (const char *k = va_arg(ap, const char *); k; k = va_arg(ap, const char *)) {
        if (!strstr(msg, k)) {
            va_end(ap);
            fail_msg("message \"%s\" does not contain \"%s\"", msg, k);
        }
    }
    va_end(ap);
}

#define EXPECT_PARSE_ERR(json, ...)  expect_parse_err((json), __VA_ARGS__, (const char *)NULL)
#define EXPECT_INVALID(json, t, ...) expect_invalid((json), (t), __VA_ARGS__, (const char *)NULL)

static struct schema *parse_ok(const char *json)
{
    struct err e = ERR_INIT;
    struct schema *s = NULL;
    enum rc rc = schema_parse(json, strlen(json), &s, &e);
    if (rc) fail_msg("schema_parse failed: %s\n  input: %s", e.msg, json);
    assert_non_null(s);
    return s;
}

static void validate_ok(const struct schema *s, enum dataset_type t)
{
    struct err e = ERR_INIT;
    enum rc rc = schema_validate(s, t, &e);
    if (rc) fail_msg("schema_validate(%s) failed: %s", dataset_type_name(t), e.msg);
}

/* Parse must fail with RC_INVALID_INPUT and a message containing the keys; *out untouched. */
static void expect_parse_err(const char *json, ...)
{
    struct err e = ERR_INIT;
    struct schema *sentinel = (struct schema *)(uintptr_t)0x1234;
    struct schema *s = sentinel;
    enum rc rc = schema_parse(json, strlen(json), &s, &e);
    if (rc == RC_OK) fail_msg("schema_parse accepted: %s", json);
    assert_int_equal(rc, RC_INVALID_INPUT);
    assert_int_equal(e.rc, RC_INVALID_INPUT);
    assert_ptr_equal(s, sentinel);
    assert_true(strncmp(e.msg, "schema: ", 8) == 0);
    va_list ap;
    va_start(ap, json);
    for (const char *k = va_arg(ap, const char *); k; k = va_arg(ap, const char *))
        if (!strstr(e.msg, k)) fail_msg("message \"%s\" does not contain \"%s\"", e.msg, k);
    va_end(ap);
}

/* Parse must succeed, validation for 't' must fail with the keys in the message. */
static void expect_invalid(const char *json, enum dataset_type t, ...)
{
    struct schema *s = parse_ok(json);
    struct err e = ERR_INIT;
    enum rc rc = schema_validate(s, t, &e);
    schema_free(s);
    if (rc == RC_OK) fail_msg("schema_validate(%s) accepted: %s", dataset_type_name(t), json);
    assert_int_equal(rc, RC_INVALID_INPUT);
    va_list ap;
    va_start(ap, t);
    for (const char *k = va_arg(ap, const char *); k; k = va_arg(ap, const char *))
        if (!strstr(e.msg, k)) fail_msg("message \"%s\" does not contain \"%s\"", e.msg, k);
    va_end(ap);
}

static const struct schema_field *field(const struct schema *s, const char *name)
{
    int i = schema_find(s, name);
    if (i < 0) fail_msg("no field %s", name);
    return &s->fields[i];
}

static void assert_field(const struct schema *s, const char *name, enum field_type type,
                         bool nullable, bool categorical, bool textual)
{
    const struct schema_field *f = field(s, name);
    if (f->type != type)
        fail_msg("%s: type %s, expected %s", name, field_type_name(f->type), field_type_name(type));
    if (f->nullable != nullable)
        fail_msg("%s: nullable %d, expected %d", name, f->nullable, nullable);
    if (f->categorical != categorical)
        fail_msg("%s: categorical %d, expected %d", name, f->categorical, categorical);
    if (f->textual != textual) fail_msg("%s: textual %d, expected %d", name, f->textual, textual);
}

/* The Personalize documentation's Interactions example (docs/personalize-api.md 5.1). */
static const char doc_interactions[] =
    "{\"type\":\"record\",\"name\":\"Interactions\",\"namespace\":"
    "\"com.amazonaws.personalize.schema\",\n"
    " \"fields\":[{\"name\":\"USER_ID\",\"type\":\"string\"},{\"name\":\"ITEM_ID\",\"type\":"
    "\"string\"},\n"
    "  {\"name\":\"EVENT_TYPE\",\"type\":\"string\"},{\"name\":\"EVENT_VALUE\",\"type\":"
    "[\"float\",\"null\"]},\n"
    "  {\"name\":\"LOCATION\",\"type\":\"string\",\"categorical\":true},\n"
    "  {\"name\":\"DEVICE\",\"type\":[\"string\",\"null\"],\"categorical\":true},\n"
    "  {\"name\":\"TIMESTAMP\",\"type\":\"long\"},{\"name\":\"IMPRESSION\",\"type\":\"string\"}],"
    "\"version\":\"1.0\"}";

static const char items_json[] =
    "{\"type\":\"record\",\"name\":\"Items\",\"namespace\":\"com.amazonaws.personalize.schema\","
    "\"fields\":[{\"name\":\"ITEM_ID\",\"type\":\"string\"},"
    "{\"name\":\"GENRES\",\"type\":[\"null\",\"string\"],\"categorical\":true},"
    "{\"name\":\"PRICE\",\"type\":\"double\"},"
    "{\"name\":\"IN_STOCK\",\"type\":[\"boolean\",\"null\"]},"
    "{\"name\":\"DESCRIPTION\",\"type\":[\"null\",\"string\"],\"textual\":true},"
    "{\"name\":\"CREATION_TIMESTAMP\",\"type\":\"long\"}],\"version\":\"1.0\"}";

static const char users_json[] =
    "{\"type\":\"record\",\"name\":\"Users\",\"namespace\":\"com.amazonaws.personalize.schema\","
    "\"fields\":[{\"name\":\"USER_ID\",\"type\":\"string\"},"
    "{\"name\":\"AGE\",\"type\":\"int\"},"
    "{\"name\":\"GENDER\",\"type\":[\"null\",\"string\"],\"categorical\":true}],"
    "\"version\":\"1.0\"}";

/* An Interactions schema with the given extra field objects (JSON text, leading comma). */
static char *interactions_with(const char *extra)
{
    return xasprintf("{\"type\":\"record\",\"name\":\"Interactions\",\"fields\":["
                     "{\"name\":\"USER_ID\",\"type\":\"string\"},"
                     "{\"name\":\"ITEM_ID\",\"type\":\"string\"},"
                     "{\"name\":\"TIMESTAMP\",\"type\":\"long\"}%s]}",
                     extra);
}

static void expect_interactions_invalid(const char *extra, const char *k1, const char *k2)
{
    char *json = interactions_with(extra);
    EXPECT_INVALID(json, DATASET_INTERACTIONS, k1, k2);
    free(json);
}

static void expect_field_parse_err(const char *field_json, const char *k1, const char *k2)
{
    char *json = xasprintf("{\"type\":\"record\",\"name\":\"Items\",\"fields\":["
                           "{\"name\":\"ITEM_ID\",\"type\":\"string\"},%s]}",
                           field_json);
    EXPECT_PARSE_ERR(json, k1, k2);
    free(json);
}

/* ---- names ---- */

static void test_type_names(void **state)
{
    UNUSED(state);
    assert_string_equal(dataset_type_record_name(DATASET_INTERACTIONS), "Interactions");
    assert_string_equal(dataset_type_record_name(DATASET_ITEMS), "Items");
    assert_string_equal(dataset_type_record_name(DATASET_USERS), "Users");
    assert_string_equal(dataset_type_name(DATASET_INTERACTIONS), "INTERACTIONS");
    assert_string_equal(dataset_type_name(DATASET_ITEMS), "ITEMS");
    assert_string_equal(dataset_type_name(DATASET_USERS), "USERS");

    enum dataset_type t = DATASET_USERS;
    assert_true(dataset_type_parse("Interactions", &t));
    assert_int_equal(t, DATASET_INTERACTIONS);
    assert_true(dataset_type_parse("ITEMS", &t));
    assert_int_equal(t, DATASET_ITEMS);
    assert_true(dataset_type_parse("users", &t));
    assert_int_equal(t, DATASET_USERS);
    t = DATASET_ITEMS;
    assert_false(dataset_type_parse("ACTIONS", &t));
    assert_false(dataset_type_parse("", &t));
    assert_false(dataset_type_parse("ITEM", &t));
    assert_int_equal(t, DATASET_ITEMS);

    assert_string_equal(field_type_name(FT_STRING), "string");
    assert_string_equal(field_type_name(FT_INT), "int");
    assert_string_equal(field_type_name(FT_LONG), "long");
    assert_string_equal(field_type_name(FT_FLOAT), "float");
    assert_string_equal(field_type_name(FT_DOUBLE), "double");
    assert_string_equal(field_type_name(FT_BOOLEAN), "boolean");
}

/* ---- valid schemas ---- */

static void test_doc_interactions_example(void **state)
{
    UNUSED(state);
    struct schema *s = parse_ok(doc_interactions);
    assert_string_equal(s->name, "Interactions");
    assert_string_equal(s->namespace_, "com.amazonaws.personalize.schema");
    assert_int_equal(s->nfields, 8);
    assert_field(s, "USER_ID", FT_STRING, false, false, false);
    assert_field(s, "ITEM_ID", FT_STRING, false, false, false);
    assert_field(s, "EVENT_TYPE", FT_STRING, false, false, false);
    assert_field(s, "EVENT_VALUE", FT_FLOAT, true, false, false);
    assert_field(s, "LOCATION", FT_STRING, false, true, false);
    assert_field(s, "DEVICE", FT_STRING, true, true, false);
    assert_field(s, "TIMESTAMP", FT_LONG, false, false, false);
    assert_field(s, "IMPRESSION", FT_STRING, false, false, false);
    assert_int_equal(schema_find(s, "USER_ID"), 0);
    assert_int_equal(schema_find(s, "IMPRESSION"), 7);
    assert_int_equal(schema_find(s, "impression"), -1);
    assert_int_equal(schema_find(s, "NOPE"), -1);
    validate_ok(s, DATASET_INTERACTIONS);
    schema_free(s);
}

static void test_valid_items(void **state)
{
    UNUSED(state);
    struct schema *s = parse_ok(items_json);
    assert_int_equal(s->nfields, 6);
    assert_field(s, "ITEM_ID", FT_STRING, false, false, false);
    assert_field(s, "GENRES", FT_STRING, true, true, false);
    assert_field(s, "PRICE", FT_DOUBLE, false, false, false);
    assert_field(s, "IN_STOCK", FT_BOOLEAN, true, false, false);
    assert_field(s, "DESCRIPTION", FT_STRING, true, false, true);
    assert_field(s, "CREATION_TIMESTAMP", FT_LONG, false, false, false);
    validate_ok(s, DATASET_ITEMS);
    schema_free(s);
}

static void test_valid_users(void **state)
{
    UNUSED(state);
    struct schema *s = parse_ok(users_json);
    assert_int_equal(s->nfields, 3);
    assert_field(s, "USER_ID", FT_STRING, false, false, false);
    assert_field(s, "AGE", FT_INT, false, false, false);
    assert_field(s, "GENDER", FT_STRING, true, true, false);
    validate_ok(s, DATASET_USERS);
    schema_free(s);
}

static void test_valid_variants(void **state)
{
    UNUSED(state);
    /* No namespace, no version, int TIMESTAMP, every EVENT_VALUE numeric type,
     * reserved optional strings nullable, doc and unknown attributes ignored. */
    const char *json =
        "{\"type\":\"record\",\"name\":\"Whatever_Name\",\"doc\":\"hello\",\"x-extra\":[1,2],"
        "\"fields\":[{\"name\":\"USER_ID\",\"type\":\"string\",\"doc\":\"user\"},"
        "{\"name\":\"ITEM_ID\",\"type\":\"string\",\"default\":\"x\"},"
        "{\"name\":\"TIMESTAMP\",\"type\":\"int\"},"
        "{\"name\":\"EVENT_VALUE\",\"type\":[\"null\",\"double\"]},"
        "{\"name\":\"EVENT_TYPE\",\"type\":[\"null\",\"string\"],\"categorical\":false},"
        "{\"name\":\"RECOMMENDATION_ID\",\"type\":[\"null\",\"string\"]},"
        "{\"name\":\"EVENT_ATTRIBUTION_SOURCE\",\"type\":[\"string\",\"null\"]},"
        "{\"name\":\"IMPRESSION\",\"type\":[\"null\",\"string\"]},"
        "{\"name\":\"_private1\",\"type\":\"boolean\",\"textual\":false}]}";
    struct schema *s = parse_ok(json);
    assert_string_equal(s->name, "Whatever_Name");
    assert_null(s->namespace_);
    assert_field(s, "TIMESTAMP", FT_INT, false, false, false);
    assert_field(s, "EVENT_VALUE", FT_DOUBLE, true, false, false);
    assert_field(s, "EVENT_TYPE", FT_STRING, true, false, false);
    assert_field(s, "EVENT_ATTRIBUTION_SOURCE", FT_STRING, true, false, false);
    assert_field(s, "_private1", FT_BOOLEAN, false, false, false);
    /* Any record name is accepted (Personalize's own examples disagree on it). */
    validate_ok(s, DATASET_INTERACTIONS);
    schema_free(s);

    const char *types[] = {"int", "long", "float", "double"};
    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        char *extra = xasprintf(",{\"name\":\"EVENT_VALUE\",\"type\":\"%s\"}", types[i]);
        char *j = interactions_with(extra);
        s = parse_ok(j);
        validate_ok(s, DATASET_INTERACTIONS);
        schema_free(s);
        free(j);
        free(extra);
    }

    /* Numeric version, null namespace, exactly 5 contextual metadata fields. */
    s = parse_ok("{\"type\":\"record\",\"name\":\"Interactions\",\"namespace\":null,\"version\":1,"
                 "\"fields\":[{\"name\":\"USER_ID\",\"type\":\"string\"},"
                 "{\"name\":\"ITEM_ID\",\"type\":\"string\"},{\"name\":\"TIMESTAMP\",\"type\":"
                 "\"long\"},{\"name\":\"M1\",\"type\":\"string\",\"categorical\":true},"
                 "{\"name\":\"M2\",\"type\":\"long\"},{\"name\":\"M3\",\"type\":\"float\"},"
                 "{\"name\":\"M4\",\"type\":\"boolean\"},{\"name\":\"M5\",\"type\":\"int\"}]}");
    assert_null(s->namespace_);
    validate_ok(s, DATASET_INTERACTIONS);
    schema_free(s);

    /* Items: CREATION_TIMESTAMP counts as item metadata; int and nullable are fine. */
    s = parse_ok("{\"type\":\"record\",\"name\":\"Items\",\"fields\":[{\"name\":\"ITEM_ID\","
                 "\"type\":\"string\"},{\"name\":\"CREATION_TIMESTAMP\",\"type\":[\"null\","
                 "\"int\"]}]}");
    validate_ok(s, DATASET_ITEMS);
    schema_free(s);
}

static void test_users_25_metadata_ok(void **state)
{
    UNUSED(state);
    char fields[4096] = "";
    size_t off = 0;
    for (int i = 0; i < 25; i++)
        off += (size_t)snprintf(fields + off, sizeof(fields) - off,
                                ",{\"name\":\"M%d\",\"type\":\"long\"}", i);
    char *json = xasprintf("{\"type\":\"record\",\"name\":\"Users\",\"fields\":[{\"name\":"
                           "\"USER_ID\",\"type\":\"string\"}%s]}",
                           fields);
    struct schema *s = parse_ok(json);
    validate_ok(s, DATASET_USERS);
    schema_free(s);
    free(json);

    /* 26 is one too many. */
    snprintf(fields + off, sizeof(fields) - off, ",{\"name\":\"M25\",\"type\":\"long\"}");
    json = xasprintf("{\"type\":\"record\",\"name\":\"Users\",\"fields\":[{\"name\":"
                     "\"USER_ID\",\"type\":\"string\"}%s]}",
                     fields);
    EXPECT_INVALID(json, DATASET_USERS, "USERS", "at most 25", "has 26");
    free(json);
}

static void test_items_99_metadata_ok(void **state)
{
    UNUSED(state);
    size_t cap = 8192, off = 0;
    char *fields = xmalloc(cap);
    fields[0] = '\0';
    for (int i = 0; i < 99; i++)
        off += (size_t)snprintf(fields + off, cap - off,
                                ",{\"name\":\"M%d\",\"type\":[\"null\",\"string\"],"
                                "\"categorical\":true}",
                                i);
    char *json = xasprintf("{\"type\":\"record\",\"name\":\"Items\",\"fields\":[{\"name\":"
                           "\"ITEM_ID\",\"type\":\"string\"}%s]}",
                           fields);
    struct schema *s = parse_ok(json);
    assert_int_equal(s->nfields, SCHEMA_MAX_FIELDS);
    validate_ok(s, DATASET_ITEMS);
    schema_free(s);
    free(json);
    free(fields);
}

/* ---- parse errors ---- */

static void test_parse_invalid_json(void **state)
{
    UNUSED(state);
    EXPECT_PARSE_ERR("{\"type\":\"record\",", "invalid JSON at line 1, column");
    EXPECT_PARSE_ERR("{\"type\":\"record\",\n\"name\": Items}", "invalid JSON at line 2, column 13",
                     "Items");
    EXPECT_PARSE_ERR("", "invalid JSON at line");
    EXPECT_PARSE_ERR("{\"type\":\"record\",\"type\":\"record\",\"name\":\"Items\",\"fields\":[]}",
                     "invalid JSON", "duplicate");
    /* Not NUL-terminated: only 'len' bytes are read. */
    struct err e = ERR_INIT;
    struct schema *s = NULL;
    const char *json = "{\"type\":\"record\"}garbage";
    assert_int_equal(schema_parse(json, 17, &s, &e), RC_INVALID_INPUT);
    assert_msg_has(e.msg, "\"name\" is missing", (const char *)NULL);
    assert_null(s);
}

static void test_parse_too_long(void **state)
{
    UNUSED(state);
    /* A valid schema padded with spaces past SCHEMA_MAX_JSON. */
    size_t n = strlen(users_json);
    char *big = xmalloc(SCHEMA_MAX_JSON + 2);
    memcpy(big, users_json, n);
    memset(big + n, ' ', SCHEMA_MAX_JSON + 1 - n);
    big[SCHEMA_MAX_JSON + 1] = '\0';
    EXPECT_PARSE_ERR(big, "20001 bytes", "limit of 20000");
    /* Exactly at the limit is fine. */
    struct err e = ERR_INIT;
    struct schema *s = NULL;
    assert_int_equal(schema_parse(big, SCHEMA_MAX_JSON, &s, &e), RC_OK);
    schema_free(s);
    free(big);
}

static void test_parse_top_level(void **state)
{
    UNUSED(state);
    EXPECT_PARSE_ERR("[1,2]", "top level must be a JSON object");
    EXPECT_PARSE_ERR("{\"name\":\"Items\",\"fields\":[{\"name\":\"A\",\"type\":\"string\"}]}",
                     "\"type\" is missing", "record");
    EXPECT_PARSE_ERR("{\"type\":\"enum\",\"name\":\"Items\",\"symbols\":[\"A\"]}",
                     "\"type\" is \"enum\"", "record");
    EXPECT_PARSE_ERR("{\"type\":7,\"name\":\"Items\"}", "\"type\" must be", "record");
    EXPECT_PARSE_ERR("{\"type\":\"record\",\"fields\":[{\"name\":\"A\",\"type\":\"string\"}]}",
                     "record \"name\" is missing");
    EXPECT_PARSE_ERR("{\"type\":\"record\",\"name\":3,\"fields\":[]}",
                     "record \"name\" must be a string");
    EXPECT_PARSE_ERR("{\"type\":\"record\",\"name\":\"My Items\",\"fields\":[]}",
                     "record name \"My Items\" is not valid");
    EXPECT_PARSE_ERR("{\"type\":\"record\",\"name\":\"Items\",\"namespace\":\"com..x\","
                     "\"fields\":[{\"name\":\"A\",\"type\":\"string\"}]}",
                     "namespace \"com..x\" is not valid");
    EXPECT_PARSE_ERR("{\"type\":\"record\",\"name\":\"Items\",\"namespace\":5,"
                     "\"fields\":[{\"name\":\"A\",\"type\":\"string\"}]}",
                     "\"namespace\" must be a string");
    EXPECT_PARSE_ERR("{\"type\":\"record\",\"name\":\"Items\",\"version\":[1],"
                     "\"fields\":[{\"name\":\"A\",\"type\":\"string\"}]}",
                     "\"version\" must be a string");
    EXPECT_PARSE_ERR("{\"type\":\"record\",\"name\":\"Items\"}", "\"fields\" is missing");
    EXPECT_PARSE_ERR("{\"type\":\"record\",\"name\":\"Items\",\"fields\":{}}",
                     "\"fields\" must be an array");
    EXPECT_PARSE_ERR("{\"type\":\"record\",\"name\":\"Items\",\"fields\":[]}",
                     "\"fields\" is empty");
}

static void test_parse_too_many_fields(void **state)
{
    UNUSED(state);
    size_t cap = 8192, off = 0;
    char *fields = xmalloc(cap);
    for (int i = 0; i <= SCHEMA_MAX_FIELDS; i++)
        off += (size_t)snprintf(fields + off, cap - off, "%s{\"name\":\"F%d\",\"type\":\"long\"}",
                                i ? "," : "", i);
    char *json = xasprintf("{\"type\":\"record\",\"name\":\"Items\",\"fields\":[%s]}", fields);
    EXPECT_PARSE_ERR(json, "101 fields", "limit of 100");
    free(json);
    free(fields);
}

static void test_parse_field_names(void **state)
{
    UNUSED(state);
    expect_field_parse_err("\"GENRE\"", "fields[1]", "JSON object");
    expect_field_parse_err("{\"type\":\"string\"}", "fields[1]", "\"name\" is missing");
    expect_field_parse_err("{\"name\":1,\"type\":\"string\"}", "fields[1].name", "string");
    expect_field_parse_err("{\"name\":\"1GENRE\",\"type\":\"string\"}", "fields[1].name",
                           "\"1GENRE\" is not a valid field name");
    expect_field_parse_err("{\"name\":\"GENRE-2\",\"type\":\"string\"}", "fields[1].name",
                           "\"GENRE-2\"");
    expect_field_parse_err("{\"name\":\"\",\"type\":\"string\"}", "fields[1].name", "empty");
    expect_field_parse_err("{\"name\":\"G\\u00e9NRE\",\"type\":\"string\"}", "fields[1].name",
                           "G\\xC3\\xA9NRE");

    char long_name[SCHEMA_MAX_NAME_LEN + 2];
    memset(long_name, 'A', sizeof(long_name) - 1);
    long_name[sizeof(long_name) - 1] = '\0';
    char *f = xasprintf("{\"name\":\"%s\",\"type\":\"string\"}", long_name);
    expect_field_parse_err(f, "fields[1].name", "longer than 127");
    free(f);
    long_name[SCHEMA_MAX_NAME_LEN] = '\0'; /* exactly 127: fine */
    char *json = xasprintf("{\"type\":\"record\",\"name\":\"Items\",\"fields\":["
                           "{\"name\":\"ITEM_ID\",\"type\":\"string\"},"
                           "{\"name\":\"%s\",\"type\":\"string\"}]}",
                           long_name);
    struct schema *s = parse_ok(json);
    assert_int_equal(strlen(s->fields[1].name), SCHEMA_MAX_NAME_LEN);
    schema_free(s);
    free(json);
}

static void test_parse_duplicate_names(void **state)
{
    UNUSED(state);
    expect_field_parse_err("{\"name\":\"GENRE\",\"type\":\"string\"},"
                           "{\"name\":\"GENRE\",\"type\":\"long\"}",
                           "fields[2] (\"GENRE\")", "duplicate field name");
    expect_field_parse_err("{\"name\":\"GENRES_FIELD_1\",\"type\":\"string\"},"
                           "{\"name\":\"GENRESFIELD1\",\"type\":\"string\"}",
                           "\"GENRES_FIELD_1\"", "\"GENRESFIELD1\"");
    expect_field_parse_err("{\"name\":\"genre\",\"type\":\"string\"},"
                           "{\"name\":\"GENRE\",\"type\":\"string\"}",
                           "fields[1] (\"genre\") and fields[2] (\"GENRE\")",
                           "ignoring case and underscores");
    expect_field_parse_err("{\"name\":\"Item_Id\",\"type\":\"string\"}", "fields[0] (\"ITEM_ID\")",
                           "fields[1] (\"Item_Id\")");
}

static void test_parse_types(void **state)
{
    UNUSED(state);
    expect_field_parse_err("{\"name\":\"G\"}", "fields[1] (\"G\")", "\"type\" is missing");
    expect_field_parse_err("{\"name\":\"G\",\"type\":\"null\"}", "fields[1] (\"G\").type",
                           "\"null\" alone");
    expect_field_parse_err("{\"name\":\"G\",\"type\":\"varchar\"}", "fields[1] (\"G\").type",
                           "unknown type \"varchar\"");
    expect_field_parse_err("{\"name\":\"G\",\"type\":\"bytes\"}", "(\"G\").type",
                           "bytes is not supported");
    expect_field_parse_err("{\"name\":\"G\",\"type\":\"record\"}", "(\"G\").type",
                           "nested records");
    expect_field_parse_err("{\"name\":\"G\",\"type\":5}", "(\"G\").type", "type name");
    expect_field_parse_err("{\"name\":\"G\",\"type\":{\"type\":\"record\",\"name\":\"R\","
                           "\"fields\":[{\"name\":\"A\",\"type\":\"string\"}]}}",
                           "(\"G\").type", "nested records are not supported");
    expect_field_parse_err("{\"name\":\"G\",\"type\":{\"type\":\"array\",\"items\":\"string\"}}",
                           "(\"G\").type", "arrays are not supported");
    expect_field_parse_err("{\"name\":\"G\",\"type\":{\"type\":\"map\",\"values\":\"long\"}}",
                           "(\"G\").type", "maps are not supported");
    expect_field_parse_err("{\"name\":\"G\",\"type\":{\"type\":\"enum\",\"name\":\"E\","
                           "\"symbols\":[\"A\"]}}",
                           "(\"G\").type", "enums are not supported");
    expect_field_parse_err("{\"name\":\"G\",\"type\":{\"type\":\"fixed\",\"name\":\"F\","
                           "\"size\":4}}",
                           "(\"G\").type", "fixed is not supported");
    expect_field_parse_err("{\"name\":\"G\",\"type\":{\"type\":\"long\",\"logicalType\":"
                           "\"timestamp-millis\"}}",
                           "(\"G\").type", "type object is not supported");
    /* Unions. */
    expect_field_parse_err("{\"name\":\"G\",\"type\":[\"null\",\"string\",\"long\"]}",
                           "(\"G\").type", "union has 3 members");
    expect_field_parse_err("{\"name\":\"G\",\"type\":[\"string\"]}", "(\"G\").type",
                           "union has 1 members");
    expect_field_parse_err("{\"name\":\"G\",\"type\":[]}", "(\"G\").type", "union has 0");
    expect_field_parse_err("{\"name\":\"G\",\"type\":[\"string\",\"long\"]}", "(\"G\").type",
                           "exactly one supported type plus \"null\"");
    expect_field_parse_err("{\"name\":\"G\",\"type\":[\"null\",\"null\"]}", "(\"G\").type",
                           "exactly one supported type plus \"null\"");
    expect_field_parse_err("{\"name\":\"G\",\"type\":[\"null\",{\"type\":\"array\",\"items\":"
                           "\"string\"}]}",
                           "(\"G\").type", "arrays are not supported");
    expect_field_parse_err("{\"name\":\"G\",\"type\":[\"null\",\"uuid\"]}", "(\"G\").type",
                           "unknown type \"uuid\"");
    expect_field_parse_err("{\"name\":\"G\",\"type\":[\"null\",[\"string\"]]}", "(\"G\").type",
                           "type name");
}

static void test_parse_flags(void **state)
{
    UNUSED(state);
    expect_field_parse_err("{\"name\":\"G\",\"type\":\"string\",\"categorical\":\"true\"}",
                           "fields[1] (\"G\").categorical", "true or false");
    expect_field_parse_err("{\"name\":\"G\",\"type\":\"string\",\"categorical\":1}",
                           "(\"G\").categorical", "true or false");
    expect_field_parse_err("{\"name\":\"G\",\"type\":\"string\",\"textual\":null}",
                           "(\"G\").textual", "true or false");
}

/* ---- validation errors ---- */

static void test_validate_interactions_reserved(void **state)
{
    UNUSED(state);
    expect_interactions_invalid(",{\"name\":\"EVENT_VALUE\",\"type\":\"string\"}",
                                "schema: fields[3] (\"EVENT_VALUE\"): type \"string\" is not "
                                "allowed for EVENT_VALUE; expected float, double, int or long",
                                NULL);
    expect_interactions_invalid(",{\"name\":\"EVENT_VALUE\",\"type\":[\"null\",\"boolean\"]}",
                                "(\"EVENT_VALUE\")", "type \"boolean\"");
    expect_interactions_invalid(",{\"name\":\"EVENT_TYPE\",\"type\":\"long\"}", "(\"EVENT_TYPE\")",
                                "expected string");
    expect_interactions_invalid(",{\"name\":\"EVENT_TYPE\",\"type\":\"string\","
                                "\"categorical\":true}",
                                "(\"EVENT_TYPE\")", "EVENT_TYPE must not be categorical");
    expect_interactions_invalid(",{\"name\":\"IMPRESSION\",\"type\":\"long\"}", "(\"IMPRESSION\")",
                                "expected string");
    expect_interactions_invalid(",{\"name\":\"RECOMMENDATION_ID\",\"type\":[\"null\",\"int\"]}",
                                "(\"RECOMMENDATION_ID\")", "expected string");
    expect_interactions_invalid(",{\"name\":\"EVENT_ATTRIBUTION_SOURCE\",\"type\":\"double\"}",
                                "(\"EVENT_ATTRIBUTION_SOURCE\")", "expected string");
    expect_interactions_invalid(",{\"name\":\"CONTEXT\",\"type\":\"long\",\"categorical\":true}",
                                "fields[3] (\"CONTEXT\")",
                                "\"categorical\" is only allowed on string fields, not long");
    expect_interactions_invalid(",{\"name\":\"NOTE\",\"type\":\"string\",\"textual\":true}",
                                "fields[3] (\"NOTE\")",
                                "\"textual\" is only allowed in an ITEMS dataset");
}

static void test_validate_interactions_required(void **state)
{
    UNUSED(state);
    const char *no_ts = "{\"type\":\"record\",\"name\":\"Interactions\",\"fields\":["
                        "{\"name\":\"USER_ID\",\"type\":\"string\"},"
                        "{\"name\":\"ITEM_ID\",\"type\":\"string\"}]}";
    EXPECT_INVALID(no_ts, DATASET_INTERACTIONS,
                   "schema: required field TIMESTAMP is missing for an INTERACTIONS dataset");
    const char *no_user = "{\"type\":\"record\",\"name\":\"Interactions\",\"fields\":["
                          "{\"name\":\"TIMESTAMP\",\"type\":\"long\"},"
                          "{\"name\":\"ITEM_ID\",\"type\":\"string\"}]}";
    EXPECT_INVALID(no_user, DATASET_INTERACTIONS, "required field USER_ID is missing",
                   "INTERACTIONS");
    const char *no_item = "{\"type\":\"record\",\"name\":\"Interactions\",\"fields\":["
                          "{\"name\":\"TIMESTAMP\",\"type\":\"long\"},"
                          "{\"name\":\"USER_ID\",\"type\":\"string\"}]}";
    EXPECT_INVALID(no_item, DATASET_INTERACTIONS, "required field ITEM_ID is missing");
    const char *lower = "{\"type\":\"record\",\"name\":\"Interactions\",\"fields\":["
                        "{\"name\":\"user_id\",\"type\":\"string\"},"
                        "{\"name\":\"ITEM_ID\",\"type\":\"string\"},"
                        "{\"name\":\"TIMESTAMP\",\"type\":\"long\"}]}";
    EXPECT_INVALID(lower, DATASET_INTERACTIONS, "required field USER_ID is missing");

    const char *ts_string = "{\"type\":\"record\",\"name\":\"Interactions\",\"fields\":["
                            "{\"name\":\"USER_ID\",\"type\":\"string\"},"
                            "{\"name\":\"ITEM_ID\",\"type\":\"string\"},"
                            "{\"name\":\"TIMESTAMP\",\"type\":\"string\"}]}";
    EXPECT_INVALID(ts_string, DATASET_INTERACTIONS, "fields[2] (\"TIMESTAMP\")",
                   "type \"string\" is not allowed for TIMESTAMP; expected long or int");
    const char *ts_double = "{\"type\":\"record\",\"name\":\"Interactions\",\"fields\":["
                            "{\"name\":\"USER_ID\",\"type\":\"string\"},"
                            "{\"name\":\"ITEM_ID\",\"type\":\"string\"},"
                            "{\"name\":\"TIMESTAMP\",\"type\":\"double\"}]}";
    EXPECT_INVALID(ts_double, DATASET_INTERACTIONS, "TIMESTAMP", "type \"double\"");
    const char *ts_null = "{\"type\":\"record\",\"name\":\"Interactions\",\"fields\":["
                          "{\"name\":\"USER_ID\",\"type\":\"string\"},"
                          "{\"name\":\"ITEM_ID\",\"type\":\"string\"},"
                          "{\"name\":\"TIMESTAMP\",\"type\":[\"null\",\"long\"]}]}";
    EXPECT_INVALID(ts_null, DATASET_INTERACTIONS, "(\"TIMESTAMP\")", "must not be nullable");
    const char *user_null = "{\"type\":\"record\",\"name\":\"Interactions\",\"fields\":["
                            "{\"name\":\"USER_ID\",\"type\":[\"string\",\"null\"]},"
                            "{\"name\":\"ITEM_ID\",\"type\":\"string\"},"
                            "{\"name\":\"TIMESTAMP\",\"type\":\"long\"}]}";
    EXPECT_INVALID(user_null, DATASET_INTERACTIONS, "fields[0] (\"USER_ID\")",
                   "USER_ID is required and must not be nullable");
    const char *item_long = "{\"type\":\"record\",\"name\":\"Interactions\",\"fields\":["
                            "{\"name\":\"USER_ID\",\"type\":\"string\"},"
                            "{\"name\":\"ITEM_ID\",\"type\":\"long\"},"
                            "{\"name\":\"TIMESTAMP\",\"type\":\"long\"}]}";
    EXPECT_INVALID(item_long, DATASET_INTERACTIONS, "fields[1] (\"ITEM_ID\")",
                   "type \"long\" is not allowed for ITEM_ID; expected string");
    const char *item_cat = "{\"type\":\"record\",\"name\":\"Interactions\",\"fields\":["
                           "{\"name\":\"USER_ID\",\"type\":\"string\"},"
                           "{\"name\":\"ITEM_ID\",\"type\":\"string\",\"categorical\":true},"
                           "{\"name\":\"TIMESTAMP\",\"type\":\"long\"}]}";
    EXPECT_INVALID(item_cat, DATASET_INTERACTIONS, "(\"ITEM_ID\")",
                   "ITEM_ID must not be categorical");
}

static void test_validate_interactions_metadata_limit(void **state)
{
    UNUSED(state);
    /* Reserved optional fields do not count; the sixth contextual field does. */
    expect_interactions_invalid(
        ",{\"name\":\"EVENT_TYPE\",\"type\":\"string\"},{\"name\":\"EVENT_VALUE\",\"type\":"
        "\"float\"},{\"name\":\"IMPRESSION\",\"type\":\"string\"},{\"name\":\"A1\",\"type\":"
        "\"long\"},{\"name\":\"A2\",\"type\":\"long\"},{\"name\":\"A3\",\"type\":\"long\"},"
        "{\"name\":\"A4\",\"type\":\"long\"},{\"name\":\"A5\",\"type\":\"long\"},{\"name\":\"A6\","
        "\"type\":\"long\"}",
        "INTERACTIONS dataset allows at most 5 metadata fields", "has 6");
}

static void test_validate_items(void **state)
{
    UNUSED(state);
    EXPECT_INVALID("{\"type\":\"record\",\"name\":\"Items\",\"fields\":["
                   "{\"name\":\"ITEM_ID\",\"type\":\"string\"}]}",
                   DATASET_ITEMS, "ITEMS dataset needs at least one metadata field");
    EXPECT_INVALID("{\"type\":\"record\",\"name\":\"Items\",\"fields\":["
                   "{\"name\":\"GENRE\",\"type\":\"string\",\"categorical\":true}]}",
                   DATASET_ITEMS, "required field ITEM_ID is missing for an ITEMS dataset");
    EXPECT_INVALID("{\"type\":\"record\",\"name\":\"Items\",\"fields\":["
                   "{\"name\":\"ITEM_ID\",\"type\":[\"null\",\"string\"]},"
                   "{\"name\":\"GENRE\",\"type\":\"string\"}]}",
                   DATASET_ITEMS, "(\"ITEM_ID\")", "must not be nullable");
    EXPECT_INVALID("{\"type\":\"record\",\"name\":\"Items\",\"fields\":["
                   "{\"name\":\"ITEM_ID\",\"type\":\"string\"},"
                   "{\"name\":\"CREATION_TIMESTAMP\",\"type\":\"string\"}]}",
                   DATASET_ITEMS, "fields[1] (\"CREATION_TIMESTAMP\")",
                   "not allowed for CREATION_TIMESTAMP; expected long or int");
    EXPECT_INVALID("{\"type\":\"record\",\"name\":\"Items\",\"fields\":["
                   "{\"name\":\"ITEM_ID\",\"type\":\"string\"},"
                   "{\"name\":\"PRICE\",\"type\":\"double\",\"textual\":true}]}",
                   DATASET_ITEMS, "fields[1] (\"PRICE\")",
                   "\"textual\" is only allowed on string fields, not double");
    EXPECT_INVALID("{\"type\":\"record\",\"name\":\"Items\",\"fields\":["
                   "{\"name\":\"ITEM_ID\",\"type\":\"string\"},"
                   "{\"name\":\"PRICE\",\"type\":\"float\",\"categorical\":true}]}",
                   DATASET_ITEMS, "(\"PRICE\")", "\"categorical\" is only allowed on string");
    EXPECT_INVALID("{\"type\":\"record\",\"name\":\"Items\",\"fields\":["
                   "{\"name\":\"ITEM_ID\",\"type\":\"string\"},"
                   "{\"name\":\"D1\",\"type\":\"string\",\"textual\":true},"
                   "{\"name\":\"D2\",\"type\":\"string\",\"textual\":true}]}",
                   DATASET_ITEMS, "fields[2] (\"D2\")",
                   "only one textual field is allowed; fields[1] (\"D1\")");
    EXPECT_INVALID("{\"type\":\"record\",\"name\":\"Items\",\"fields\":["
                   "{\"name\":\"ITEM_ID\",\"type\":\"string\"},"
                   "{\"name\":\"D1\",\"type\":\"string\",\"textual\":true,\"categorical\":true}]}",
                   DATASET_ITEMS, "(\"D1\")", "both categorical and textual");
    EXPECT_INVALID("{\"type\":\"record\",\"name\":\"Items\",\"fields\":["
                   "{\"name\":\"ITEM_ID\",\"type\":\"string\",\"textual\":true},"
                   "{\"name\":\"D1\",\"type\":\"string\"}]}",
                   DATASET_ITEMS, "(\"ITEM_ID\")", "must not be textual");
}

static void test_validate_users(void **state)
{
    UNUSED(state);
    EXPECT_INVALID("{\"type\":\"record\",\"name\":\"Users\",\"fields\":["
                   "{\"name\":\"USER_ID\",\"type\":\"string\"}]}",
                   DATASET_USERS, "USERS dataset needs at least one metadata field");
    EXPECT_INVALID("{\"type\":\"record\",\"name\":\"Users\",\"fields\":["
                   "{\"name\":\"AGE\",\"type\":\"int\"}]}",
                   DATASET_USERS, "required field USER_ID is missing for a USERS dataset");
    EXPECT_INVALID("{\"type\":\"record\",\"name\":\"Users\",\"fields\":["
                   "{\"name\":\"USER_ID\",\"type\":\"int\"},{\"name\":\"AGE\",\"type\":\"int\"}]}",
                   DATASET_USERS, "(\"USER_ID\")", "expected string");
    EXPECT_INVALID("{\"type\":\"record\",\"name\":\"Users\",\"fields\":["
                   "{\"name\":\"USER_ID\",\"type\":\"string\"},"
                   "{\"name\":\"BIO\",\"type\":\"string\",\"textual\":true}]}",
                   DATASET_USERS, "(\"BIO\")", "only allowed in an ITEMS dataset, not USERS");
    /* The Items and Users examples are not Interactions schemas. */
    EXPECT_INVALID(users_json, DATASET_INTERACTIONS, "required field ITEM_ID is missing");
    EXPECT_INVALID(items_json, DATASET_USERS, "(\"DESCRIPTION\")", "\"textual\"");
}

static void test_validate_bad_struct(void **state)
{
    UNUSED(state);
    struct err e = ERR_INIT;
    struct schema *s = parse_ok(users_json);
    assert_int_equal(schema_validate(s, (enum dataset_type)7, &e), RC_INVALID_INPUT);
    assert_msg_has(e.msg, "unknown dataset type", (const char *)NULL);
    /* A hand-built schema with clashing names is rejected by validate too. */
    free(s->fields[2].name);
    s->fields[2].name = xstrdup("A_G_E");
    assert_int_equal(schema_validate(s, DATASET_USERS, &e), RC_INVALID_INPUT);
    assert_msg_has(e.msg, "\"AGE\"", "\"A_G_E\"", (const char *)NULL);
    schema_free(s);
    struct schema empty = {NULL, NULL, NULL, 0};
    assert_int_equal(schema_validate(&empty, DATASET_USERS, &e), RC_INVALID_INPUT);
    assert_msg_has(e.msg, "no fields", (const char *)NULL);
    /* A NULL error record is allowed. */
    assert_int_equal(schema_validate(&empty, DATASET_USERS, NULL), RC_INVALID_INPUT);
}

/* ---- canonical JSON ---- */

static void test_to_json_canonical(void **state)
{
    UNUSED(state);
    struct schema *s = parse_ok(doc_interactions);
    char *json = schema_to_json(s);
    assert_string_equal(
        json,
        "{\"type\":\"record\",\"name\":\"Interactions\",\"namespace\":"
        "\"com.amazonaws.personalize.schema\",\"fields\":["
        "{\"name\":\"USER_ID\",\"type\":\"string\"},{\"name\":\"ITEM_ID\",\"type\":\"string\"},"
        "{\"name\":\"EVENT_TYPE\",\"type\":\"string\"},"
        "{\"name\":\"EVENT_VALUE\",\"type\":[\"null\",\"float\"]},"
        "{\"name\":\"LOCATION\",\"type\":\"string\",\"categorical\":true},"
        "{\"name\":\"DEVICE\",\"type\":[\"null\",\"string\"],\"categorical\":true},"
        "{\"name\":\"TIMESTAMP\",\"type\":\"long\"},{\"name\":\"IMPRESSION\",\"type\":\"string\"}],"
        "\"version\":\"1.0\"}");
    free(json);
    schema_free(s);

    /* No namespace: none written; textual written; false flags omitted. */
    s = parse_ok("{\"fields\":[{\"textual\":true,\"type\":\"string\",\"name\":\"D\"},"
                 "{\"name\":\"ITEM_ID\",\"type\":\"string\",\"categorical\":false}],"
                 "\"name\":\"Items\",\"type\":\"record\"}");
    json = schema_to_json(s);
    assert_string_equal(json, "{\"type\":\"record\",\"name\":\"Items\",\"fields\":["
                              "{\"name\":\"D\",\"type\":\"string\",\"textual\":true},"
                              "{\"name\":\"ITEM_ID\",\"type\":\"string\"}],\"version\":\"1.0\"}");
    free(json);
    schema_free(s);
}

static void assert_round_trip(const char *json)
{
    struct schema *a = parse_ok(json);
    char *ja = schema_to_json(a);
    struct schema *b = parse_ok(ja);
    char *jb = schema_to_json(b);
    assert_string_equal(ja, jb);
    assert_string_equal(a->name, b->name);
    if (a->namespace_)
        assert_string_equal(a->namespace_, b->namespace_);
    else
        assert_null(b->namespace_);
    assert_int_equal(a->nfields, b->nfields);
    for (size_t i = 0; i < a->nfields; i++) {
        assert_string_equal(a->fields[i].name, b->fields[i].name);
        assert_int_equal(a->fields[i].type, b->fields[i].type);
        assert_int_equal(a->fields[i].nullable, b->fields[i].nullable);
        assert_int_equal(a->fields[i].categorical, b->fields[i].categorical);
        assert_int_equal(a->fields[i].textual, b->fields[i].textual);
    }
    free(ja);
    free(jb);
    schema_free(a);
    schema_free(b);
}

static void test_round_trip(void **state)
{
    UNUSED(state);
    assert_round_trip(doc_interactions);
    assert_round_trip(items_json);
    assert_round_trip(users_json);
    assert_round_trip("{\"type\":\"record\",\"name\":\"X\",\"namespace\":\"\",\"fields\":["
                      "{\"name\":\"a\",\"type\":[\"int\",\"null\"]},"
                      "{\"name\":\"b\",\"type\":\"boolean\"}]}");
}

static void test_canonical_length_limit(void **state)
{
    UNUSED(state);
    /* A compact schema without "version" just under the limit: the canonical
     * form (which adds "version":"1.0") would not fit, so parse refuses it. */
    const char *head = "{\"type\":\"record\",\"name\":\"X\",\"namespace\":\"";
    const char *tail = "\",\"fields\":[{\"name\":\"A\",\"type\":\"long\"}]}";
    size_t want = SCHEMA_MAX_JSON - 2;
    size_t nslen = want - strlen(head) - strlen(tail);
    char *json = xmalloc(want + 1);
    size_t off = strlen(head);
    memcpy(json, head, off);
    memset(json + off, 'n', nslen);
    memcpy(json + off + nslen, tail, strlen(tail) + 1);
    assert_int_equal(strlen(json), want);
    EXPECT_PARSE_ERR(json, "canonical form", "limit of 20000");
    free(json);
}

/* ---- inference ---- */

static struct schema *infer_ok(enum dataset_type t, const char *const *names, size_t ncols,
                               const char *const *sample, size_t nrows)
{
    struct err e = ERR_INIT;
    struct schema *s = NULL;
    enum rc rc = schema_infer(t, names, ncols, sample, nrows, &s, &e);
    if (rc) fail_msg("schema_infer(%s) failed: %s", dataset_type_name(t), e.msg);
    assert_non_null(s);
    assert_string_equal(s->name, dataset_type_record_name(t));
    assert_string_equal(s->namespace_, "com.amazonaws.personalize.schema");
    assert_int_equal(s->nfields, ncols);
    for (size_t i = 0; i < ncols; i++)
        assert_string_equal(s->fields[i].name, names[i]);
    validate_ok(s, t);
    /* The inferred schema survives a trip through JSON. */
    char *json = schema_to_json(s);
    assert_round_trip(json);
    free(json);
    return s;
}

static void expect_infer_err(enum dataset_type t, const char *const *names, size_t ncols,
                             const char *const *sample, size_t nrows, const char *k1,
                             const char *k2)
{
    struct err e = ERR_INIT;
    struct schema *sentinel = (struct schema *)(uintptr_t)0x1234;
    struct schema *s = sentinel;
    enum rc rc = schema_infer(t, names, ncols, sample, nrows, &s, &e);
    if (rc == RC_OK) fail_msg("schema_infer accepted");
    assert_int_equal(rc, RC_INVALID_INPUT);
    assert_ptr_equal(s, sentinel);
    assert_msg_has(e.msg, "schema: ", k1, k2, (const char *)NULL);
}

static void test_infer_interactions(void **state)
{
    UNUSED(state);
    const char *names[] = {"USER_ID", "ITEM_ID",    "EVENT_TYPE", "EVENT_VALUE", "TIMESTAMP",
                           "DEVICE",  "IMPRESSION", "DISCOUNT",   "QTY",         "NOTE"};
    const char *sample[] = {
        "u1", "i1", "click", "1.5", "1596238243", "phone",  "i1|i2", "true",  "3",   "",
        "u2", "i2", "buy",   "",    "1596238244", "tablet", "",      "false", "-12", NULL,
        "u3", "i3", "click", "2",   "1596238245", "",       "i3",    "",      "",    "",
    };
    struct schema *s = infer_ok(DATASET_INTERACTIONS, names, ARRAY_SIZE(names), sample, 3);
    assert_field(s, "USER_ID", FT_STRING, false, false, false);
    assert_field(s, "ITEM_ID", FT_STRING, false, false, false);
    assert_field(s, "EVENT_TYPE", FT_STRING, false, false, false);
    assert_field(s, "EVENT_VALUE", FT_FLOAT, true, false, false);
    assert_field(s, "TIMESTAMP", FT_LONG, false, false, false);
    assert_field(s, "DEVICE", FT_STRING, true, true, false);
    assert_field(s, "IMPRESSION", FT_STRING, true, false, false);
    assert_field(s, "DISCOUNT", FT_BOOLEAN, true, false, false);
    assert_field(s, "QTY", FT_LONG, true, false, false);
    assert_field(s, "NOTE", FT_STRING, true, true, false); /* no samples */
    schema_free(s);

    /* The other reserved names; reserved types do not depend on the values. */
    const char *names2[] = {"TIMESTAMP", "ITEM_ID", "USER_ID", "RECOMMENDATION_ID",
                            "EVENT_ATTRIBUTION_SOURCE"};
    const char *sample2[] = {"x", "1", "2", "3", "4"};
    s = infer_ok(DATASET_INTERACTIONS, names2, ARRAY_SIZE(names2), sample2, 1);
    assert_field(s, "TIMESTAMP", FT_LONG, false, false, false);
    assert_field(s, "ITEM_ID", FT_STRING, false, false, false);
    assert_field(s, "USER_ID", FT_STRING, false, false, false);
    assert_field(s, "RECOMMENDATION_ID", FT_STRING, true, false, false);
    assert_field(s, "EVENT_ATTRIBUTION_SOURCE", FT_STRING, true, false, false);
    schema_free(s);
}

static void test_infer_numbers(void **state)
{
    UNUSED(state);
    const char *names[] = {"ITEM_ID", "L",         "D",   "BIG", "HEX", "INF",
                           "SPACE",   "TRUE_CASE", "MIX", "EXP", "PLUS"};
    const char *sample[] = {
        "a",    "9223372036854775807",
        "1",    "9223372036854775808",
        "0x10", "inf",
        " 5",   "True",
        "true", "1e5",
        "+1", //
        "b",    "-9223372036854775808",
        "2.5",  "1",
        "16",   "1",
        "5",    "False",
        "1",    "-2E-3",
        "2",
    };
    struct schema *s = infer_ok(DATASET_ITEMS, names, ARRAY_SIZE(names), sample, 2);
    assert_field(s, "L", FT_LONG, true, false, false);
    assert_field(s, "D", FT_DOUBLE, true, false, false);
    assert_field(s, "BIG", FT_DOUBLE, true, false, false); /* overflows int64 */
    assert_field(s, "HEX", FT_STRING, true, true, false);
    assert_field(s, "INF", FT_STRING, true, true, false);
    assert_field(s, "SPACE", FT_STRING, true, true, false);
    assert_field(s, "TRUE_CASE", FT_STRING, true, true, false); /* only lower case is boolean */
    assert_field(s, "MIX", FT_STRING, true, true, false);
    assert_field(s, "EXP", FT_DOUBLE, true, false, false);
    assert_field(s, "PLUS", FT_LONG, true, false, false); /* a sign is allowed */
    schema_free(s);
}

static void test_infer_items_textual(void **state)
{
    UNUSED(state);
    char long_text[160];
    memset(long_text, 'w', sizeof(long_text) - 1);
    long_text[sizeof(long_text) - 1] = '\0';
    const char *names[] = {
        "ITEM_ID", "GENRES", "SUMMARY", "PRODUCT_DESCRIPTION", "CREATION_TIMESTAMP", "PRICE"};
    const char *sample[] = {
        "i1", "Action|Crime", long_text, "short", "1596238243", "9.99",
        "i2", "Comedy",       long_text, "tiny",  "1596238244", "10",
    };
    struct schema *s = infer_ok(DATASET_ITEMS, names, ARRAY_SIZE(names), sample, 2);
    assert_field(s, "ITEM_ID", FT_STRING, false, false, false);
    assert_field(s, "GENRES", FT_STRING, true, true, false);
    /* The DESCRIPTION name wins over a long-text column; only one is textual. */
    assert_field(s, "PRODUCT_DESCRIPTION", FT_STRING, true, false, true);
    assert_field(s, "SUMMARY", FT_STRING, true, true, false);
    assert_field(s, "CREATION_TIMESTAMP", FT_LONG, false, false, false);
    assert_field(s, "PRICE", FT_DOUBLE, true, false, false);
    schema_free(s);

    /* Without a DESCRIPTION column the longest mean over 100 bytes wins. */
    char longer[300];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    char exactly100[101];
    memset(exactly100, 'y', 100);
    exactly100[100] = '\0';
    const char *names2[] = {"ITEM_ID", "A", "B", "C"};
    const char *sample2[] = {
        "i1", long_text, longer, exactly100, //
        "i2", long_text, "",     exactly100, //
    };
    s = infer_ok(DATASET_ITEMS, names2, ARRAY_SIZE(names2), sample2, 2);
    assert_field(s, "A", FT_STRING, true, true, false);
    assert_field(s, "B", FT_STRING, true, false, true); /* mean of non-empty samples: 299 */
    assert_field(s, "C", FT_STRING, true, true, false); /* mean 100 is not over 100 */
    schema_free(s);

    /* Long text is never textual outside ITEMS; lower-case "description" also counts. */
    const char *names3[] = {"USER_ID", "BIO"};
    const char *sample3[] = {"u1", longer};
    s = infer_ok(DATASET_USERS, names3, 2, sample3, 1);
    assert_field(s, "BIO", FT_STRING, true, true, false);
    schema_free(s);
    const char *names4[] = {"ITEM_ID", "description"};
    const char *sample4[] = {"i1", "red shoes"};
    s = infer_ok(DATASET_ITEMS, names4, 2, sample4, 1);
    assert_field(s, "description", FT_STRING, true, false, true);
    schema_free(s);
}

static void test_infer_users_and_no_samples(void **state)
{
    UNUSED(state);
    const char *names[] = {"USER_ID", "AGE", "GENDER", "VIP", "SCORE"};
    const char *sample[] = {
        "u1", "34", "F", "true",  "0.5", //
        "u2", "",   "M", "false", "1",   //
    };
    struct schema *s = infer_ok(DATASET_USERS, names, ARRAY_SIZE(names), sample, 2);
    assert_field(s, "USER_ID", FT_STRING, false, false, false);
    assert_field(s, "AGE", FT_LONG, true, false, false);
    assert_field(s, "GENDER", FT_STRING, true, true, false);
    assert_field(s, "VIP", FT_BOOLEAN, true, false, false);
    assert_field(s, "SCORE", FT_DOUBLE, true, false, false);
    schema_free(s);

    /* No sample rows at all: every non-reserved column is a nullable categorical string. */
    s = infer_ok(DATASET_USERS, names, ARRAY_SIZE(names), NULL, 0);
    assert_field(s, "USER_ID", FT_STRING, false, false, false);
    assert_field(s, "AGE", FT_STRING, true, true, false);
    assert_field(s, "VIP", FT_STRING, true, true, false);
    schema_free(s);
    const char *inames[] = {"ITEM_ID", "DESCRIPTION"};
    s = infer_ok(DATASET_ITEMS, inames, 2, NULL, 0);
    assert_field(s, "DESCRIPTION", FT_STRING, true, true, false);
    schema_free(s);

    /* A value longer than a category may be makes a plain string, so the import can take it. */
    char *bio = xmalloc(SCHEMA_CATEGORICAL_MAX_BYTES + 2);
    memset(bio, 'x', SCHEMA_CATEGORICAL_MAX_BYTES + 1);
    bio[SCHEMA_CATEGORICAL_MAX_BYTES + 1] = '\0';
    const char *bnames[] = {"USER_ID", "BIO", "CITY"};
    const char *bsample[] = {"u1", bio, "Seoul", "u2", "short", "Busan"};
    s = infer_ok(DATASET_USERS, bnames, 3, bsample, 2);
    assert_field(s, "BIO", FT_STRING, true, false, false);
    assert_field(s, "CITY", FT_STRING, true, true, false);
    schema_free(s);
    free(bio);
}

static void test_infer_errors(void **state)
{
    UNUSED(state);
    const char *no_user[] = {"ITEM_ID", "TIMESTAMP"};
    expect_infer_err(DATASET_INTERACTIONS, no_user, 2, NULL, 0, "required field USER_ID is missing",
                     "INTERACTIONS");
    const char *no_ts[] = {"USER_ID", "ITEM_ID", "EVENT_TYPE"};
    expect_infer_err(DATASET_INTERACTIONS, no_ts, 3, NULL, 0, "required field TIMESTAMP", NULL);
    const char *bad[] = {"USER_ID", "item id", "TIMESTAMP"};
    expect_infer_err(DATASET_INTERACTIONS, bad, 3, NULL, 0, "CSV column 2 (\"item id\")",
                     "not a valid field name");
    const char *digit[] = {"USER_ID", "2ND"};
    expect_infer_err(DATASET_USERS, digit, 2, NULL, 0, "column 2 (\"2ND\")", "valid field name");
    const char *empty[] = {"USER_ID", "AGE", ""};
    expect_infer_err(DATASET_USERS, empty, 3, NULL, 0, "column 3", "empty");
    const char *null_name[] = {NULL};
    expect_infer_err(DATASET_USERS, null_name, 1, NULL, 0, "column 1", "empty");
    const char *quote[] = {"USER_ID", "\"AGE\"\x01"};
    expect_infer_err(DATASET_USERS, quote, 2, NULL, 0, "column 2 (\"\\x22AGE\\x22\\x01\")",
                     "valid field name");
    const char *dup[] = {"USER_ID", "AGE", "AGE"};
    expect_infer_err(DATASET_USERS, dup, 3, NULL, 0, "columns 2 and 3", "same name \"AGE\"");
    const char *clash[] = {"USER_ID", "HOME_CITY", "HOMECITY"};
    expect_infer_err(DATASET_USERS, clash, 3, NULL, 0, "columns 2 (\"HOME_CITY\") and 3",
                     "ignoring case and underscores");
    expect_infer_err(DATASET_USERS, no_user, 0, NULL, 0, "no columns", NULL);
    const char *only_id[] = {"ITEM_ID"};
    expect_infer_err(DATASET_ITEMS, only_id, 1, NULL, 0, "at least one metadata field", NULL);
    const char *many[] = {"USER_ID", "ITEM_ID", "TIMESTAMP", "A", "B", "C", "D", "E", "F"};
    expect_infer_err(DATASET_INTERACTIONS, many, ARRAY_SIZE(many), NULL, 0, "at most 5", "has 6");

    const char *lots[SCHEMA_MAX_FIELDS + 1];
    for (size_t i = 0; i < ARRAY_SIZE(lots); i++)
        lots[i] = "X";
    expect_infer_err(DATASET_ITEMS, lots, ARRAY_SIZE(lots), NULL, 0, "101 columns", "at most 100");
    expect_infer_err((enum dataset_type)9, only_id, 1, NULL, 0, "unknown dataset type", NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_type_names),
        cmocka_unit_test(test_doc_interactions_example),
        cmocka_unit_test(test_valid_items),
        cmocka_unit_test(test_valid_users),
        cmocka_unit_test(test_valid_variants),
        cmocka_unit_test(test_users_25_metadata_ok),
        cmocka_unit_test(test_items_99_metadata_ok),
        cmocka_unit_test(test_parse_invalid_json),
        cmocka_unit_test(test_parse_too_long),
        cmocka_unit_test(test_parse_top_level),
        cmocka_unit_test(test_parse_too_many_fields),
        cmocka_unit_test(test_parse_field_names),
        cmocka_unit_test(test_parse_duplicate_names),
        cmocka_unit_test(test_parse_types),
        cmocka_unit_test(test_parse_flags),
        cmocka_unit_test(test_validate_interactions_reserved),
        cmocka_unit_test(test_validate_interactions_required),
        cmocka_unit_test(test_validate_interactions_metadata_limit),
        cmocka_unit_test(test_validate_items),
        cmocka_unit_test(test_validate_users),
        cmocka_unit_test(test_validate_bad_struct),
        cmocka_unit_test(test_to_json_canonical),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_canonical_length_limit),
        cmocka_unit_test(test_infer_interactions),
        cmocka_unit_test(test_infer_numbers),
        cmocka_unit_test(test_infer_items_textual),
        cmocka_unit_test(test_infer_users_and_no_samples),
        cmocka_unit_test(test_infer_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
