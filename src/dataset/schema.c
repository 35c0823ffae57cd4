/*
 * schema.c: Personalize dataset schemas (Avro JSON records).
 *
 * Parsing (Avro structure only) and validation (Personalize's per-dataset
 * rules) are kept apart so that one parsed schema can be checked against the
 * dataset type it is attached to later (CreateSchema vs CreateDataset).
 *
 * Every error message starts with "schema: " and names the offending field as
 * fields[i] ("NAME") (0-based, like a JSON path) or, for inference, the CSV
 * column number (1-based, as a spreadsheet shows it) and its name. Names taken
 * from the input are shown escaped (non-printable and non-ASCII bytes as \xNN)
 * and truncated, so a message is always printable ASCII.
 */
#include "common/base.h"

#include <errno.h>
#include <math.h>
#include <strings.h>

#include <jansson.h>

#include "dataset/schema.h"

#define SCHEMA_NAMESPACE "com.amazonaws.personalize.schema"

/* Personalize limits on metadata fields (docs/personalize-api.md section 5.1). */
#define ITEMS_MAX_METADATA        100
#define USERS_MAX_METADATA        25
#define INTERACTIONS_MAX_METADATA 5

/* In ITEMS inference, a string column whose mean sample length exceeds this is textual. */
#define INFER_TEXTUAL_MEAN_LEN 100

#define TYPES_EXPECTED "string, int, long, float, double or boolean"

/* ---- dataset and field type names ---- */

static const char *const record_names[] = {"Interactions", "Items", "Users"};
static const char *const dataset_names[] = {"INTERACTIONS", "ITEMS", "USERS"};
static const char *const field_type_names[] = {"string", "int",    "long",
                                               "float",  "double", "boolean"};

const char *dataset_type_record_name(enum dataset_type t)
{
    if ((unsigned)t < ARRAY_SIZE(record_names)) return record_names[t];
    return "Unknown";
}

const char *dataset_type_name(enum dataset_type t)
{
    if ((unsigned)t < ARRAY_SIZE(dataset_names)) return dataset_names[t];
    return "UNKNOWN";
}

bool dataset_type_parse(const char *s, enum dataset_type *out)
{
    if (!s) return false;
    /* "Interactions" and "INTERACTIONS" differ only in case. */
    for (size_t i = 0; i < ARRAY_SIZE(dataset_names); i++) {
        if (strcasecmp(s, dataset_names[i]) == 0) {
            if (out) *out = (enum dataset_type)i;
            return true;
        }
    }
    return false;
}

const char *field_type_name(enum field_type t)
{
    if ((unsigned)t < ARRAY_SIZE(field_type_names)) return field_type_names[t];
    return "unknown";
}

static bool field_type_from_name(const char *s, enum field_type *out)
{
    for (size_t i = 0; i < ARRAY_SIZE(field_type_names); i++) {
        if (strcmp(s, field_type_names[i]) == 0) {
            *out = (enum field_type)i;
            return true;
        }
    }
    return false;
}

static bool dataset_type_valid(enum dataset_type t)
{
    return (unsigned)t < ARRAY_SIZE(dataset_names);
}

/* ---- helpers ---- */

/* Room for a shown name: up to SHOW_MAX input bytes, each at most 4 output bytes, plus "...". */
#define SHOW_MAX 64
#define SHOW_CAP (SHOW_MAX * 4 + 4)

/*
 * Copy 's' (len bytes) into 'dst' for an error message: printable ASCII kept,
 * everything else (and '"', '\' when 'quotes') as \xNN, cut at 'max' input bytes.
 */
static const char *show_n(char *dst, size_t cap, const char *s, size_t len, size_t max, bool quotes)
{
    size_t o = 0;
    if (!s) s = "", len = 0;
    for (size_t i = 0; i < len && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        bool plain = c >= 0x20 && c < 0x7f && !(quotes && (c == '"' || c == '\\'));
        if (o + 5 > cap) break;
        if (plain) {
            dst[o++] = (char)c;
        } else {
            snprintf(dst + o, cap - o, "\\x%02X", c);
            o += 4;
        }
    }
    if (len > max && o + 4 <= cap) {
        memcpy(dst + o, "...", 3);
        o += 3;
    }
    dst[o] = '\0';
    return dst;
}

static const char *show(char *dst, const char *s)
{
    return show_n(dst, SHOW_CAP, s, s ? strlen(s) : 0, SHOW_MAX, true);
}

/* Avro name: [A-Za-z_][A-Za-z0-9_]*, non-empty. */
static bool avro_name_valid(const char *s, size_t len)
{
    if (len == 0) return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool alpha = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
        bool digit = c >= '0' && c <= '9';
        if (!alpha && !(digit && i > 0)) return false;
    }
    return true;
}

/* Avro namespace: empty, or Avro names joined by dots. */
static bool avro_namespace_valid(const char *s, size_t len)
{
    size_t start = 0;
    if (len == 0) return true;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || s[i] == '.') {
            if (!avro_name_valid(s + start, i - start)) return false;
            start = i + 1;
        }
    }
    return true;
}

/*
 * Why 's' is not a usable field or record name, or NULL if it is. Personalize
 * limits names to SCHEMA_MAX_NAME_LEN bytes of Avro name characters.
 */
static const char *name_problem(const char *s, size_t len)
{
    if (len == 0) return "the name is empty";
    if (len > SCHEMA_MAX_NAME_LEN) return "the name is longer than 127 characters";
    if (!avro_name_valid(s, len))
        return "a name must start with a letter or underscore and contain only letters, digits "
               "and underscores";
    return NULL;
}

/* Equal ignoring ASCII case and underscores (Personalize: GENRES_FIELD_1 == GENRESFIELD1). */
static bool names_clash(const char *a, const char *b)
{
    for (;;) {
        while (*a == '_')
            a++;
        while (*b == '_')
            b++;
        unsigned char ca = (unsigned char)*a, cb = (unsigned char)*b;
        if (ca >= 'a' && ca <= 'z') ca = (unsigned char)(ca - 'a' + 'A');
        if (cb >= 'a' && cb <= 'z') cb = (unsigned char)(cb - 'a' + 'A');
        if (ca != cb) return false;
        if (ca == '\0') return true;
        a++;
        b++;
    }
}

/*
 * Find the first pair of names i < j that are equal or clash; *exact says
 * which. Returns false if all names are distinct.
 */
static bool find_name_conflict(const char *const *names, size_t n, size_t *pi, size_t *pj,
                               bool *exact)
{
    for (size_t j = 1; j < n; j++) {
        for (size_t i = 0; i < j; i++) {
            if (strcmp(names[i], names[j]) == 0 || names_clash(names[i], names[j])) {
                *pi = i;
                *pj = j;
                *exact = strcmp(names[i], names[j]) == 0;
                return true;
            }
        }
    }
    return false;
}

static enum rc check_field_names_unique(const struct schema *s, struct err *e)
{
    const char **names = xcalloc(s->nfields ? s->nfields : 1, sizeof(*names));
    for (size_t k = 0; k < s->nfields; k++)
        names[k] = s->fields[k].name;
    size_t i, j;
    bool exact;
    enum rc rc = RC_OK;
    if (find_name_conflict(names, s->nfields, &i, &j, &exact)) {
        char a[SHOW_CAP], b[SHOW_CAP];
        show(a, names[i]);
        show(b, names[j]);
        if (exact)
            rc = err_set(e, RC_INVALID_INPUT,
                         "schema: fields[%zu] (\"%s\"): duplicate field name; fields[%zu] has the "
                         "same name",
                         j, b, i);
        else
            rc =
                err_set(e, RC_INVALID_INPUT,
                        "schema: fields[%zu] (\"%s\") and fields[%zu] (\"%s\") have names that are "
                        "equal ignoring case and underscores; Personalize treats them as the same "
                        "field",
                        i, a, j, b);
    }
    free(names);
    return rc;
}

/* ---- schema_parse ---- */

/* Message for a complex Avro type name, or NULL if 'name' is not one. */
static const char *complex_type_problem(const char *name)
{
    static const struct {
        const char *name;
        const char *msg;
    } complex[] = {
        {"record", "nested records are not supported; a Personalize schema is flat"},
        {"array", "arrays are not supported; store multiple values as one string separated by "
                  "'|'"},
        {"map", "maps are not supported; a Personalize schema is flat"},
        {"enum", "enums are not supported; use a categorical string"},
        {"fixed", "fixed is not supported; use a string"},
        {"bytes", "bytes is not supported; use a string"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(complex); i++)
        if (strcmp(name, complex[i].name) == 0) return complex[i].msg;
    return NULL;
}

/*
 * Resolve one non-union type member (a JSON string or object) into a primitive.
 * 'where' is the message prefix naming the field. "null" is reported as
 * *is_null and left to the caller.
 */
static enum rc parse_type_member(const json_t *t, const char *where, enum field_type *ft,
                                 bool *is_null, struct err *e)
{
    *is_null = false;
    if (json_is_object(t)) {
        const json_t *inner = json_object_get(t, "type");
        const char *msg =
            json_is_string(inner) ? complex_type_problem(json_string_value(inner)) : NULL;
        if (msg) return err_set(e, RC_INVALID_INPUT, "%s.type: %s", where, msg);
        return err_set(
            e, RC_INVALID_INPUT,
            "%s.type: a type object is not supported; write the type as a name (" TYPES_EXPECTED
            ") or a union of one of them with \"null\"",
            where);
    }
    if (!json_is_string(t))
        return err_set(e, RC_INVALID_INPUT,
                       "%s.type: must be a type name (" TYPES_EXPECTED
                       ") or a union array such as [\"null\",\"string\"]",
                       where);
    const char *name = json_string_value(t);
    if (strcmp(name, "null") == 0) {
        *is_null = true;
        return RC_OK;
    }
    if (field_type_from_name(name, ft)) return RC_OK;
    const char *msg = complex_type_problem(name);
    if (msg) return err_set(e, RC_INVALID_INPUT, "%s.type: %s", where, msg);
    char shown[SHOW_CAP];
    return err_set(e, RC_INVALID_INPUT, "%s.type: unknown type \"%s\"; expected " TYPES_EXPECTED,
                   where, show(shown, name));
}

static enum rc parse_field_type(const json_t *t, const char *where, struct schema_field *f,
                                struct err *e)
{
    bool is_null;
    enum rc rc;
    if (!json_is_array(t)) {
        rc = parse_type_member(t, where, &f->type, &is_null, e);
        if (rc) return rc;
        if (is_null)
            return err_set(e, RC_INVALID_INPUT,
                           "%s.type: \"null\" alone is not allowed; use a union such as "
                           "[\"null\",\"string\"]",
                           where);
        f->nullable = false;
        return RC_OK;
    }
    static const char union_rule[] =
        "a union must be exactly one supported type plus \"null\", such as [\"null\",\"string\"]";
    if (json_array_size(t) != 2)
        return err_set(e, RC_INVALID_INPUT, "%s.type: union has %zu members; %s", where,
                       json_array_size(t), union_rule);
    bool null0, null1;
    enum field_type ft0 = FT_STRING, ft1 = FT_STRING;
    rc = parse_type_member(json_array_get(t, 0), where, &ft0, &null0, e);
    if (rc) return rc;
    rc = parse_type_member(json_array_get(t, 1), where, &ft1, &null1, e);
    if (rc) return rc;
    if (null0 == null1) return err_set(e, RC_INVALID_INPUT, "%s.type: %s", where, union_rule);
    f->type = null0 ? ft1 : ft0;
    f->nullable = true;
    return RC_OK;
}

static enum rc parse_bool_attr(const json_t *jf, const char *key, const char *where, bool *out,
                               struct err *e)
{
    const json_t *v = json_object_get(jf, key);
    *out = false;
    if (!v) return RC_OK;
    if (!json_is_boolean(v))
        return err_set(e, RC_INVALID_INPUT, "%s.%s: must be true or false", where, key);
    *out = json_is_true(v);
    return RC_OK;
}

static enum rc parse_field(const json_t *jf, size_t i, struct schema_field *f, struct err *e)
{
    char where[SHOW_CAP + 64];
    char shown[SHOW_CAP];
    if (!json_is_object(jf))
        return err_set(e, RC_INVALID_INPUT,
                       "schema: fields[%zu]: must be a JSON object with \"name\" and \"type\"", i);
    const json_t *jname = json_object_get(jf, "name");
    if (!jname) return err_set(e, RC_INVALID_INPUT, "schema: fields[%zu]: \"name\" is missing", i);
    if (!json_is_string(jname))
        return err_set(e, RC_INVALID_INPUT, "schema: fields[%zu].name: must be a string", i);
    const char *name = json_string_value(jname);
    size_t nlen = json_string_length(jname);
    const char *why = name_problem(name, nlen);
    if (why)
        return err_set(e, RC_INVALID_INPUT,
                       "schema: fields[%zu].name: \"%s\" is not a valid field name: %s", i,
                       show_n(shown, sizeof(shown), name, nlen, SHOW_MAX, true), why);
    snprintf(where, sizeof(where), "schema: fields[%zu] (\"%s\")", i, name);

    const json_t *jtype = json_object_get(jf, "type");
    if (!jtype) return err_set(e, RC_INVALID_INPUT, "%s: \"type\" is missing", where);
    enum rc rc = parse_field_type(jtype, where, f, e);
    if (rc) return rc;
    rc = parse_bool_attr(jf, "categorical", where, &f->categorical, e);
    if (rc) return rc;
    rc = parse_bool_attr(jf, "textual", where, &f->textual, e);
    if (rc) return rc;
    f->name = xstrndup(name, nlen);
    return RC_OK;
}

static enum rc parse_root(const json_t *root, struct schema *s, struct err *e)
{
    char shown[SHOW_CAP];
    if (!json_is_object(root))
        return err_set(e, RC_INVALID_INPUT,
                       "schema: the top level must be a JSON object (an Avro record schema)");

    const json_t *type = json_object_get(root, "type");
    if (!type)
        return err_set(e, RC_INVALID_INPUT, "schema: \"type\" is missing; expected \"record\"");
    if (!json_is_string(type))
        return err_set(e, RC_INVALID_INPUT, "schema: \"type\" must be the string \"record\"");
    if (strcmp(json_string_value(type), "record") != 0)
        return err_set(e, RC_INVALID_INPUT,
                       "schema: \"type\" is \"%s\"; a Personalize schema must be a \"record\"",
                       show(shown, json_string_value(type)));

    const json_t *name = json_object_get(root, "name");
    if (!name) return err_set(e, RC_INVALID_INPUT, "schema: the record \"name\" is missing");
    if (!json_is_string(name))
        return err_set(e, RC_INVALID_INPUT, "schema: the record \"name\" must be a string");
    const char *why = name_problem(json_string_value(name), json_string_length(name));
    if (why)
        return err_set(e, RC_INVALID_INPUT, "schema: record name \"%s\" is not valid: %s",
                       show_n(shown, sizeof(shown), json_string_value(name),
                              json_string_length(name), SHOW_MAX, true),
                       why);

    /* Avro allows a null namespace; treat it as absent. */
    const json_t *ns = json_object_get(root, "namespace");
    if (ns && !json_is_null(ns)) {
        if (!json_is_string(ns))
            return err_set(e, RC_INVALID_INPUT, "schema: \"namespace\" must be a string");
        if (!avro_namespace_valid(json_string_value(ns), json_string_length(ns)))
            return err_set(e, RC_INVALID_INPUT,
                           "schema: namespace \"%s\" is not valid: expected names separated by "
                           "dots, such as \"" SCHEMA_NAMESPACE "\"",
                           show_n(shown, sizeof(shown), json_string_value(ns),
                                  json_string_length(ns), SHOW_MAX, true));
    }

    /* "version" is informational ("1.0" in every Personalize example); "doc" and
     * other attributes are ignored, as Avro allows extra attributes. */
    const json_t *version = json_object_get(root, "version");
    if (version && !json_is_string(version) && !json_is_number(version))
        return err_set(e, RC_INVALID_INPUT, "schema: \"version\" must be a string such as \"1.0\"");

    const json_t *fields = json_object_get(root, "fields");
    if (!fields) return err_set(e, RC_INVALID_INPUT, "schema: \"fields\" is missing");
    if (!json_is_array(fields))
        return err_set(e, RC_INVALID_INPUT, "schema: \"fields\" must be an array of field objects");
    size_t n = json_array_size(fields);
    if (n == 0) return err_set(e, RC_INVALID_INPUT, "schema: \"fields\" is empty");
    if (n > SCHEMA_MAX_FIELDS)
        return err_set(e, RC_INVALID_INPUT, "schema: %zu fields is over the limit of %d", n,
                       SCHEMA_MAX_FIELDS);

    s->name = xstrndup(json_string_value(name), json_string_length(name));
    if (ns && json_is_string(ns))
        s->namespace_ = xstrndup(json_string_value(ns), json_string_length(ns));
    s->fields = xcalloc(n, sizeof(*s->fields));
    for (size_t i = 0; i < n; i++) {
        enum rc rc = parse_field(json_array_get(fields, i), i, &s->fields[i], e);
        if (rc) return rc;
        s->nfields = i + 1;
    }
    return check_field_names_unique(s, e);
}

enum rc schema_parse(const char *json, size_t len, struct schema **out, struct err *e)
{
    if (len > SCHEMA_MAX_JSON)
        return err_set(e, RC_INVALID_INPUT, "schema: %zu bytes is over the limit of %d bytes", len,
                       SCHEMA_MAX_JSON);
    json_error_t jerr;
    json_t *root =
        json_loadb(json && len ? json : "", json ? len : 0, JSON_REJECT_DUPLICATES, &jerr);
    if (!root) {
        char text[SHOW_CAP * 2];
        show_n(text, sizeof(text), jerr.text, strnlen(jerr.text, sizeof(jerr.text)), SHOW_MAX * 2,
               false);
        return err_set(e, RC_INVALID_INPUT, "schema: invalid JSON at line %d, column %d: %s",
                       jerr.line, jerr.column, text);
    }
    struct schema *s = xcalloc(1, sizeof(*s));
    enum rc rc = parse_root(root, s, e);
    json_decref(root);
    if (!rc) {
        /*
         * The canonical form can be a few bytes longer than the input (it adds
         * "version" when absent). Keep it within the limit so that what we
         * store can always be parsed again.
         */
        char *canon = schema_to_json(s);
        size_t clen = strlen(canon);
        free(canon);
        if (clen > SCHEMA_MAX_JSON)
            rc = err_set(e, RC_INVALID_INPUT,
                         "schema: the canonical form is %zu bytes, over the limit of %d bytes",
                         clen, SCHEMA_MAX_JSON);
    }
    if (rc) {
        schema_free(s);
        return rc;
    }
    *out = s;
    return RC_OK;
}

/* ---- schema_validate ---- */

#define T(ft) (1u << (ft))

/* A reserved field of one dataset type. */
struct reserved_rule {
    const char *name;
    unsigned types;       /* mask of T(field_type) allowed */
    const char *expected; /* the allowed types in words */
    bool required;        /* must be present and not nullable */
    bool categorical_ok;
};

static const struct reserved_rule interactions_rules[] = {
    {"USER_ID", T(FT_STRING), "string", true, false},
    {"ITEM_ID", T(FT_STRING), "string", true, false},
    {"TIMESTAMP", T(FT_LONG) | T(FT_INT), "long or int", true, false},
    {"EVENT_TYPE", T(FT_STRING), "string", false, false},
    {"EVENT_VALUE", T(FT_FLOAT) | T(FT_DOUBLE) | T(FT_INT) | T(FT_LONG),
     "float, double, int or long", false, false},
    {"IMPRESSION", T(FT_STRING), "string", false, true},
    {"RECOMMENDATION_ID", T(FT_STRING), "string", false, true},
    {"EVENT_ATTRIBUTION_SOURCE", T(FT_STRING), "string", false, true},
};

static const struct reserved_rule items_rules[] = {
    {"ITEM_ID", T(FT_STRING), "string", true, false},
    {"CREATION_TIMESTAMP", T(FT_LONG) | T(FT_INT), "long or int", false, false},
};

static const struct reserved_rule users_rules[] = {
    {"USER_ID", T(FT_STRING), "string", true, false},
};

static void rules_for(enum dataset_type t, const struct reserved_rule **rules, size_t *n)
{
    switch (t) {
    case DATASET_INTERACTIONS:
        *rules = interactions_rules;
        *n = ARRAY_SIZE(interactions_rules);
        return;
    case DATASET_ITEMS:
        *rules = items_rules;
        *n = ARRAY_SIZE(items_rules);
        return;
    case DATASET_USERS:
        *rules = users_rules;
        *n = ARRAY_SIZE(users_rules);
        return;
    }
    *rules = NULL;
    *n = 0;
}

static const struct reserved_rule *find_rule(const struct reserved_rule *rules, size_t n,
                                             const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(rules[i].name, name) == 0) return &rules[i];
    return NULL;
}

static enum rc check_reserved_field(const struct reserved_rule *r, const struct schema_field *f,
                                    const char *where, struct err *e)
{
    if (!(r->types & T(f->type)))
        return err_set(e, RC_INVALID_INPUT, "%s: type \"%s\" is not allowed for %s; expected %s",
                       where, field_type_name(f->type), r->name, r->expected);
    if (r->required && f->nullable)
        return err_set(e, RC_INVALID_INPUT,
                       "%s: %s is required and must not be nullable; use \"type\":\"%s\" without "
                       "\"null\"",
                       where, r->name, field_type_name(f->type));
    if (f->categorical && !r->categorical_ok && f->type == FT_STRING)
        return err_set(e, RC_INVALID_INPUT, "%s: %s must not be categorical", where, r->name);
    if (f->textual)
        return err_set(e, RC_INVALID_INPUT, "%s: %s is a reserved field and must not be textual",
                       where, r->name);
    return RC_OK;
}

enum rc schema_validate(const struct schema *s, enum dataset_type t, struct err *e)
{
    if (!dataset_type_valid(t))
        return err_set(e, RC_INVALID_INPUT, "schema: unknown dataset type %d", (int)t);
    if (!s || !s->fields || s->nfields == 0)
        return err_set(e, RC_INVALID_INPUT, "schema: the schema has no fields");
    if (s->nfields > SCHEMA_MAX_FIELDS)
        return err_set(e, RC_INVALID_INPUT, "schema: %zu fields is over the limit of %d",
                       s->nfields, SCHEMA_MAX_FIELDS);
    /*
     * Record name: Personalize says the record name "must match the dataset
     * type", but its own examples and the CLI accept other names (e.g.
     * "Interactions" vs "Item_Interactions", domain-specific names), so any
     * valid Avro name is accepted here; dataset_type_record_name() is what we
     * write when we create a schema ourselves.
     */
    enum rc rc = check_field_names_unique(s, e);
    if (rc) return rc;

    const struct reserved_rule *rules;
    size_t nrules;
    rules_for(t, &rules, &nrules);
    const char *dt = dataset_type_name(t);

    size_t nmeta = 0;   /* fields that are not reserved for this dataset type */
    size_t nothers = 0; /* fields other than the dataset's ID field */
    size_t textual_at = SIZE_MAX;
    for (size_t i = 0; i < s->nfields; i++) {
        const struct schema_field *f = &s->fields[i];
        char where[SHOW_CAP + 64], shown[SHOW_CAP];
        if (!f->name || name_problem(f->name, strlen(f->name)))
            return err_set(e, RC_INVALID_INPUT,
                           "schema: fields[%zu]: \"%s\" is not a valid field name", i,
                           show(shown, f->name));
        if ((unsigned)f->type >= ARRAY_SIZE(field_type_names))
            return err_set(e, RC_INVALID_INPUT, "schema: fields[%zu] (\"%s\"): unknown type %d", i,
                           f->name, (int)f->type);
        snprintf(where, sizeof(where), "schema: fields[%zu] (\"%s\")", i, f->name);

        const struct reserved_rule *r = find_rule(rules, nrules, f->name);
        if (r) {
            rc = check_reserved_field(r, f, where, e);
            if (rc) return rc;
            if (!r->required) nothers++;
        } else {
            nmeta++;
            nothers++;
        }
        if (f->categorical && f->type != FT_STRING)
            return err_set(e, RC_INVALID_INPUT,
                           "%s: \"categorical\" is only allowed on string fields, not %s", where,
                           field_type_name(f->type));
        if (f->textual) {
            if (t != DATASET_ITEMS)
                return err_set(e, RC_INVALID_INPUT,
                               "%s: \"textual\" is only allowed in an ITEMS dataset, not %s", where,
                               dt);
            if (f->type != FT_STRING)
                return err_set(e, RC_INVALID_INPUT,
                               "%s: \"textual\" is only allowed on string fields, not %s", where,
                               field_type_name(f->type));
            if (f->categorical)
                return err_set(e, RC_INVALID_INPUT,
                               "%s: a field cannot be both categorical and textual", where);
            if (textual_at != SIZE_MAX)
                return err_set(e, RC_INVALID_INPUT,
                               "%s: only one textual field is allowed; fields[%zu] (\"%s\") is "
                               "already textual",
                               where, textual_at, s->fields[textual_at].name);
            textual_at = i;
        }
    }

    for (size_t k = 0; k < nrules; k++) {
        if (rules[k].required && schema_find(s, rules[k].name) < 0)
            return err_set(e, RC_INVALID_INPUT,
                           "schema: required field %s is missing for %s %s dataset", rules[k].name,
                           t == DATASET_USERS ? "a" : "an", dt);
    }

    switch (t) {
    case DATASET_INTERACTIONS:
        if (nmeta > INTERACTIONS_MAX_METADATA)
            return err_set(e, RC_INVALID_INPUT,
                           "schema: an INTERACTIONS dataset allows at most %d metadata fields "
                           "besides the reserved ones (USER_ID, ITEM_ID, TIMESTAMP, EVENT_TYPE, "
                           "EVENT_VALUE, IMPRESSION, RECOMMENDATION_ID, EVENT_ATTRIBUTION_SOURCE); "
                           "this schema has %zu",
                           INTERACTIONS_MAX_METADATA, nmeta);
        break;
    case DATASET_ITEMS:
        if (nothers == 0)
            return err_set(e, RC_INVALID_INPUT,
                           "schema: an ITEMS dataset needs at least one metadata field besides "
                           "ITEM_ID");
        if (nothers > ITEMS_MAX_METADATA)
            return err_set(e, RC_INVALID_INPUT,
                           "schema: an ITEMS dataset allows at most %d metadata fields; this "
                           "schema has %zu",
                           ITEMS_MAX_METADATA, nothers);
        break;
    case DATASET_USERS:
        if (nothers == 0)
            return err_set(e, RC_INVALID_INPUT,
                           "schema: a USERS dataset needs at least one metadata field besides "
                           "USER_ID");
        if (nothers > USERS_MAX_METADATA)
            return err_set(e, RC_INVALID_INPUT,
                           "schema: a USERS dataset allows at most %d metadata fields; this schema "
                           "has %zu",
                           USERS_MAX_METADATA, nothers);
        break;
    }
    return RC_OK;
}

int schema_find(const struct schema *s, const char *name)
{
    if (!s || !name) return -1;
    for (size_t i = 0; i < s->nfields; i++)
        if (s->fields[i].name && strcmp(s->fields[i].name, name) == 0) return (int)i;
    return -1;
}

/* ---- schema_to_json ---- */

NORETURN static void json_failed(void)
{
    fprintf(stderr, "savor: schema_to_json: out of memory or invalid schema strings\n");
    abort();
}

static void set_or_die(json_t *obj, const char *key, json_t *value)
{
    if (!value || json_object_set_new(obj, key, value) != 0) json_failed();
}

char *schema_to_json(const struct schema *s)
{
    json_t *root = json_object();
    json_t *fields = json_array();
    if (!root || !fields) json_failed();
    set_or_die(root, "type", json_string("record"));
    set_or_die(root, "name", json_string(s->name ? s->name : ""));
    if (s->namespace_) set_or_die(root, "namespace", json_string(s->namespace_));
    for (size_t i = 0; i < s->nfields; i++) {
        const struct schema_field *f = &s->fields[i];
        json_t *jf = json_object();
        if (!jf) json_failed();
        set_or_die(jf, "name", json_string(f->name ? f->name : ""));
        const char *tn = field_type_name(f->type);
        set_or_die(jf, "type", f->nullable ? json_pack("[ss]", "null", tn) : json_string(tn));
        if (f->categorical) set_or_die(jf, "categorical", json_true());
        if (f->textual) set_or_die(jf, "textual", json_true());
        if (json_array_append_new(fields, jf) != 0) json_failed();
    }
    set_or_die(root, "fields", fields);
    set_or_die(root, "version", json_string("1.0"));
    char *txt = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(root);
    if (!txt) json_failed();
    /* jansson allocates with malloc unless json_set_alloc_funcs() is used; copy to be safe. */
    char *copy = xstrdup(txt);
    free(txt);
    return copy;
}

/* ---- schema_infer ---- */

struct infer_rule {
    const char *name;
    enum field_type type;
    bool nullable;
};

static const struct infer_rule infer_interactions[] = {
    {"USER_ID", FT_STRING, false},          {"ITEM_ID", FT_STRING, false},
    {"TIMESTAMP", FT_LONG, false},          {"EVENT_TYPE", FT_STRING, false},
    {"EVENT_VALUE", FT_FLOAT, true},        {"IMPRESSION", FT_STRING, true},
    {"RECOMMENDATION_ID", FT_STRING, true}, {"EVENT_ATTRIBUTION_SOURCE", FT_STRING, true},
};
static const struct infer_rule infer_items[] = {
    {"ITEM_ID", FT_STRING, false},
    {"CREATION_TIMESTAMP", FT_LONG, false},
};
static const struct infer_rule infer_users[] = {
    {"USER_ID", FT_STRING, false},
};

static const struct infer_rule *find_infer_rule(enum dataset_type t, const char *name)
{
    const struct infer_rule *r = NULL;
    size_t n = 0;
    switch (t) {
    case DATASET_INTERACTIONS:
        r = infer_interactions, n = ARRAY_SIZE(infer_interactions);
        break;
    case DATASET_ITEMS:
        r = infer_items, n = ARRAY_SIZE(infer_items);
        break;
    case DATASET_USERS:
        r = infer_users, n = ARRAY_SIZE(infer_users);
        break;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(r[i].name, name) == 0) return &r[i];
    return NULL;
}

static bool is_bool_text(const char *v)
{
    return strcmp(v, "true") == 0 || strcmp(v, "false") == 0;
}

/* Optional sign, then decimal digits only, fitting int64. */
static bool is_long_text(const char *v)
{
    const char *p = v + (*v == '-' || *v == '+');
    if (!*p) return false;
    for (; *p; p++)
        if (*p < '0' || *p > '9') return false;
    errno = 0;
    char *end;
    (void)strtoll(v, &end, 10);
    return errno != ERANGE && *end == '\0';
}

/* A finite decimal number (no hex, inf, nan or surrounding spaces). */
static bool is_double_text(const char *v)
{
    bool digit = false;
    for (const char *p = v; *p; p++) {
        if (*p >= '0' && *p <= '9')
            digit = true;
        else if (!strchr("+-.eE", *p))
            return false;
    }
    if (!digit) return false;
    char *end;
    double d = strtod(v, &end);
    return *end == '\0' && isfinite(d);
}

struct column_stats {
    size_t nonempty;
    size_t total_len;
    bool all_bool, all_long, all_double;
};

static void column_scan(const char *const *sample, size_t nrows, size_t ncols, size_t c,
                        struct column_stats *st)
{
    st->nonempty = st->total_len = 0;
    st->all_bool = st->all_long = st->all_double = true;
    for (size_t r = 0; r < nrows; r++) {
        const char *v = sample[r * ncols + c];
        if (!v || !*v) continue;
        st->nonempty++;
        st->total_len += strlen(v);
        if (st->all_bool && !is_bool_text(v)) st->all_bool = false;
        if (st->all_long && !is_long_text(v)) st->all_long = false;
        if (st->all_double && !is_double_text(v)) st->all_double = false;
    }
}

/*
 * Column typing for non-reserved columns (all nullable):
 *   - no non-empty sample: categorical string;
 *   - every non-empty sample "true"/"false": boolean; all int64 integers:
 *     long; all finite decimal numbers: double;
 *   - otherwise string: categorical, except in ITEMS, where one string column
 *     may become textual: the first whose name contains "DESCRIPTION" (any
 *     case), else the one with the longest mean sample length over 100 bytes
 *     (the first on a tie). Every other string column stays categorical.
 */
/* Whether column c has a sample value longer than a categorical value may be. */
static bool has_long_value(const char *const *sample, size_t nrows, size_t ncols, size_t c)
{
    for (size_t r = 0; r < nrows; r++) {
        const char *v = sample[r * ncols + c];
        if (v && strlen(v) > SCHEMA_CATEGORICAL_MAX_BYTES) return true;
    }
    return false;
}

enum rc schema_infer(enum dataset_type t, const char *const *names, size_t ncols,
                     const char *const *sample, size_t nrows, struct schema **out, struct err *e)
{
    char shown[SHOW_CAP], shown2[SHOW_CAP];
    if (!dataset_type_valid(t))
        return err_set(e, RC_INVALID_INPUT, "schema: unknown dataset type %d", (int)t);
    if (!names || ncols == 0)
        return err_set(e, RC_INVALID_INPUT, "schema: the CSV header has no columns");
    if (ncols > SCHEMA_MAX_FIELDS)
        return err_set(e, RC_INVALID_INPUT,
                       "schema: the CSV header has %zu columns; a schema allows at most %d fields",
                       ncols, SCHEMA_MAX_FIELDS);
    if (!sample) nrows = 0;

    for (size_t c = 0; c < ncols; c++) {
        const char *name = names[c] ? names[c] : "";
        const char *why = name_problem(name, strlen(name));
        if (why)
            return err_set(e, RC_INVALID_INPUT,
                           "schema: CSV column %zu (\"%s\"): not a valid field name: %s", c + 1,
                           show(shown, name), why);
    }
    size_t ci, cj;
    bool exact;
    if (find_name_conflict((const char *const *)names, ncols, &ci, &cj, &exact)) {
        if (exact)
            return err_set(e, RC_INVALID_INPUT,
                           "schema: CSV columns %zu and %zu have the same name \"%s\"", ci + 1,
                           cj + 1, names[ci]);
        return err_set(e, RC_INVALID_INPUT,
                       "schema: CSV columns %zu (\"%s\") and %zu (\"%s\") have names that are "
                       "equal ignoring case and underscores; Personalize treats them as the same "
                       "field",
                       ci + 1, show(shown, names[ci]), cj + 1, show(shown2, names[cj]));
    }

    struct schema *s = xcalloc(1, sizeof(*s));
    s->name = xstrdup(dataset_type_record_name(t));
    s->namespace_ = xstrdup(SCHEMA_NAMESPACE);
    s->fields = xcalloc(ncols, sizeof(*s->fields));
    s->nfields = ncols;

    size_t textual = SIZE_MAX;       /* chosen textual column */
    bool textual_by_name = false;    /* chosen for its name */
    size_t best_len = 0, best_n = 1; /* mean length of the chosen one as a fraction */
    for (size_t c = 0; c < ncols; c++) {
        struct schema_field *f = &s->fields[c];
        f->name = xstrdup(names[c]);
        const struct infer_rule *r = find_infer_rule(t, names[c]);
        if (r) {
            f->type = r->type;
            f->nullable = r->nullable;
            continue;
        }
        f->nullable = true;
        struct column_stats st;
        column_scan(sample, nrows, ncols, c, &st);
        if (st.nonempty == 0) {
            f->type = FT_STRING;
            f->categorical = true;
            continue;
        }
        if (st.all_bool) {
            f->type = FT_BOOLEAN;
            continue;
        }
        if (st.all_long) {
            f->type = FT_LONG;
            continue;
        }
        if (st.all_double) {
            f->type = FT_DOUBLE;
            continue;
        }
        f->type = FT_STRING;
        /* Values too long to be categories would fail the import: keep them as plain text. */
        f->categorical = !has_long_value(sample, nrows, ncols, c);
        if (t != DATASET_ITEMS || textual_by_name) continue;
        if (strcasestr(names[c], "DESCRIPTION")) {
            textual = c;
            textual_by_name = true;
            continue;
        }
        /* mean = total_len / nonempty; compare fractions without division. */
        bool long_text = st.total_len > (size_t)INFER_TEXTUAL_MEAN_LEN * st.nonempty;
        if (long_text && (textual == SIZE_MAX || (double)st.total_len * (double)best_n >
                                                     (double)best_len * (double)st.nonempty)) {
            textual = c;
            best_len = st.total_len;
            best_n = st.nonempty;
        }
    }
    if (textual != SIZE_MAX) {
        s->fields[textual].categorical = false;
        s->fields[textual].textual = true;
    }

    enum rc rc = schema_validate(s, t, e);
    if (rc) {
        schema_free(s);
        return rc;
    }
    *out = s;
    return RC_OK;
}

void schema_free(struct schema *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nfields; i++)
        free(s->fields[i].name);
    free(s->fields);
    free(s->name);
    free(s->namespace_);
    free(s);
}
