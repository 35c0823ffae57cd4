/*
 * import.c: the import pipeline (rows -> checked values -> store, one tx).
 *
 * Interactions are buffered column by column into chunks of IMPORT_CHUNK
 * rows and written as blobs; items and users become one JSON row each.
 * Values are checked against the schema as they stream by, so the first bad
 * value stops the import with its file, line and field.
 */
#include "common/base.h"
#include "import/import.h"
#include "common/buf.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/progress.h"
#include "common/vec.h"
#include "dataset/dataset.h"
#include "import/csv.h"
#include "import/input.h"
#include "import/rowpipe.h"
#include "store/extra.h"

#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define IMPORT_CHUNK 65536

const char *import_mode_name(enum import_mode m)
{
    return m == IMPORT_INCREMENTAL ? "INCREMENTAL" : "FULL";
}

bool import_mode_parse(const char *s, enum import_mode *out)
{
    if (strcasecmp(s, "FULL") == 0) {
        *out = IMPORT_FULL;
        return true;
    }
    if (strcasecmp(s, "INCREMENTAL") == 0) {
        *out = IMPORT_INCREMENTAL;
        return true;
    }
    return false;
}

void import_report_release(struct import_report *r)
{
    if (!r) return;
    free(r->job_arn);
    free(r->dataset_arn);
    free(r->inferred_schema);
    interaction_stats_release(&r->stats);
    memset(r, 0, sizeof(*r));
}

/* ---- Value parsing -------------------------------------------------------- */

/* Parse a whole decimal integer. */
static bool parse_int64(const char *p, size_t len, int64_t *out)
{
    size_t i = 0;
    bool neg = false;
    if (len && (p[0] == '-' || p[0] == '+')) {
        neg = p[0] == '-';
        i = 1;
    }
    if (i == len) return false;
    uint64_t v = 0;
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    for (; i < len; i++) {
        unsigned d = (unsigned char)p[i] - '0';
        if (d > 9) return false;
        if (v > (limit - d) / 10) return false;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

/*
 * Parse a whole finite decimal number. Plain forms like "12.5" with at most
 * 15 significant digits take an exact fast path (both the digits and the
 * power of ten are exact doubles, so one division rounds correctly); the
 * rest go to strtod. 'p' must be NUL-terminated at p[len].
 */
static bool parse_double(const char *p, size_t len, double *out)
{
    static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    size_t i = 0;
    bool neg = false;
    if (len && (p[0] == '-' || p[0] == '+')) {
        neg = p[0] == '-';
        i = 1;
    }
    uint64_t mant = 0;
    int digits = 0, frac = 0;
    bool dot = false, any = false, simple = true;
    for (; i < len; i++) {
        char c = p[i];
        if (c >= '0' && c <= '9') {
            any = true;
            if (mant || c != '0') digits++;
            mant = mant * 10 + (uint64_t)(c - '0');
            if (dot) frac++;
            if (digits > 15) {
                simple = false;
                break;
            }
        } else if (c == '.' && !dot) {
            dot = true;
        } else {
            simple = false;
            break;
        }
    }
    if (simple && any && frac <= 15) {
        double v = (double)mant / pow10[frac];
        *out = neg ? -v : v;
        return true;
    }
    /* Decimal syntax only: strtod alone would also take hex, "inf" and "nan". */
    for (size_t k = 0; k < len; k++)
        if (!strchr("0123456789+-.eE", p[k])) return false;
    if (!len) return false;
    char *end;
    errno = 0;
    double v = strtod(p, &end);
    if (end != p + len || !isfinite(v)) return false;
    *out = v;
    return true;
}

/* A checked cell. */
struct value {
    bool is_null;
    int64_t i; /* FT_INT, FT_LONG, FT_BOOLEAN (0/1) */
    double d;  /* FT_FLOAT, FT_DOUBLE */
};

/*
 * Check one cell against its field. On failure writes what was expected
 * into 'why' and returns false.
 */
static bool check_value(const struct schema_field *f, const char *p, size_t len, struct value *v,
                        char *why, size_t whylen)
{
    v->is_null = false;
    if (len == 0) {
        if (f->nullable || (f->type == FT_STRING && !f->categorical)) {
            v->is_null = f->nullable;
            return true;
        }
        snprintf(why, whylen, "empty value, but the field is not nullable (type %s)",
                 field_type_name(f->type));
        return false;
    }
    switch (f->type) {
    case FT_STRING:
        if (f->categorical && len > SCHEMA_CATEGORICAL_MAX_BYTES) {
            snprintf(why, whylen, "categorical value of %zu bytes; the limit is %d", len,
                     SCHEMA_CATEGORICAL_MAX_BYTES);
            return false;
        }
        return true;
    case FT_INT:
    case FT_LONG:
        if (!parse_int64(p, len, &v->i) ||
            (f->type == FT_INT && (v->i < INT32_MIN || v->i > INT32_MAX))) {
            snprintf(why, whylen, "'%.40s%s' is not a whole number in the range of type %s", p,
                     len > 40 ? "..." : "", field_type_name(f->type));
            return false;
        }
        return true;
    case FT_FLOAT:
    case FT_DOUBLE:
        if (!parse_double(p, len, &v->d)) {
            snprintf(why, whylen, "'%.40s%s' is not a number (type %s)", p, len > 40 ? "..." : "",
                     field_type_name(f->type));
            return false;
        }
        if (f->type == FT_FLOAT && fabs(v->d) > FLT_MAX) {
            snprintf(why, whylen, "'%.40s%s' is out of range for type float (max %g)", p,
                     len > 40 ? "..." : "", (double)FLT_MAX);
            return false;
        }
        return true;
    case FT_BOOLEAN:
        if (len == 4 && memcmp(p, "true", 4) == 0) {
            v->i = 1;
            return true;
        }
        if (len == 5 && memcmp(p, "false", 5) == 0) {
            v->i = 0;
            return true;
        }
        snprintf(why, whylen, "'%.40s%s' is not a boolean; expected true or false", p,
                 len > 40 ? "..." : "");
        return false;
    }
    snprintf(why, whylen, "unsupported type");
    return false;
}

/* ---- The import state ----------------------------------------------------- */

enum role {
    ROLE_USER_ID,
    ROLE_ITEM_ID,
    ROLE_TIMESTAMP,
    ROLE_EVENT_TYPE,
    ROLE_EVENT_VALUE,
    ROLE_IMPRESSION,
    ROLE_CREATION_TS,
    ROLE_EXTRA, /* interactions: kept as text in the chunk's extra columns */
    ROLE_META,  /* items and users: a metadata field */
};

struct column {
    const char *name; /* the schema field's name */
    const struct schema_field *field;
    enum role role;
    int extra_slot; /* ROLE_EXTRA: index among extra columns */
};

struct importer {
    struct store *store;
    const struct import_opts *o;
    struct import_report *rep;
    struct schema *schema;
    const char *src; /* input name for messages */

    struct column *cols;
    size_t ncols;
    size_t nextra;
    char *extra_names; /* comma-separated */

    struct resource group, dataset;
    struct strmap *users, *items, *types;
    uint32_t users0, items0, types0; /* counts before the import */

    /* Interactions chunk being built. */
    uint32_t *c_users, *c_items, *c_types;
    int64_t *c_ts;
    float *c_values;
    uint32_t c_n;
    struct buf *c_extra; /* one stream per extra column */

    uint64_t rows;
    struct stats_acc acc; /* interactions: statistics of the dataset as it will be */
};

static enum rc bad_value(struct importer *im, uint64_t line, size_t col, const char *why,
                         struct err *e)
{
    return err_set(e, RC_INVALID_INPUT, "%s:%llu: field %zu (%s): %s", im->src,
                   (unsigned long long)line, col + 1, im->cols[col].name, why);
}

static enum rc check_id(struct importer *im, uint64_t line, size_t col, const char *p, size_t len,
                        struct err *e)
{
    UNUSED(p);
    if (len == 0) return bad_value(im, line, col, "empty ID", e);
    if (len > ID_MAX_LEN) {
        char why[96];
        snprintf(why, sizeof(why), "ID of %zu bytes; the limit is %d", len, ID_MAX_LEN);
        return bad_value(im, line, col, why, e);
    }
    return RC_OK;
}

static enum rc flush_chunk(struct importer *im, struct err *e)
{
    if (!im->c_n) return RC_OK;
    struct buf blob;
    buf_init(&blob, BUF_NO_CAP);
    for (size_t k = 0; k < im->nextra; k++) {
        extra_add_column(&blob, &im->c_extra[k]);
        buf_reset(&im->c_extra[k]);
    }
    struct interaction_chunk c = {
        .n = im->c_n,
        .users = im->c_users,
        .items = im->c_items,
        .ts = im->c_ts,
        .event_types = im->c_types,
        .event_values = im->c_values,
        .extra_columns = im->extra_names,
        .extra = blob.data,
        .extra_len = blob.len,
    };
    stats_acc_add_chunk(&im->acc, &c);
    enum rc rc = store_interactions_append(im->store, im->dataset.id, ORIGIN_BULK, &c, e);
    buf_release(&blob);
    im->c_n = 0;
    return rc;
}

static enum rc check_impression(struct importer *im, uint64_t line, size_t col, const char *p,
                                size_t len, struct err *e)
{
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || p[i] == '|') {
            if (i - start > ID_MAX_LEN) {
                char why[96];
                snprintf(why, sizeof(why), "an impression item ID of %zu bytes; the limit is %d",
                         i - start, ID_MAX_LEN);
                return bad_value(im, line, col, why, e);
            }
            start = i + 1;
        }
    }
    if (len > SCHEMA_CATEGORICAL_MAX_BYTES) {
        char why[96];
        snprintf(why, sizeof(why), "impression list of %zu bytes; the limit is %d", len,
                 SCHEMA_CATEGORICAL_MAX_BYTES);
        return bad_value(im, line, col, why, e);
    }
    return RC_OK;
}

static enum rc add_interaction(struct importer *im, const struct csv_field *f,
                               const uint32_t *hashes, uint64_t line, struct err *e)
{
    uint32_t n = im->c_n;
    im->c_types[n] = EVENT_TYPE_NONE;
    im->c_values[n] = NAN;
    char why[160];
    enum rc rc;
    for (size_t k = 0; k < im->ncols; k++) {
        const struct column *c = &im->cols[k];
        const char *p = f[k].p;
        size_t len = f[k].len;
        struct value v;
        switch (c->role) {
        case ROLE_USER_ID:
            if ((rc = check_id(im, line, k, p, len, e))) return rc;
            im->c_users[n] = hashes ? strmap_intern_hashed(im->users, p, len, hashes[k], NULL)
                                    : strmap_intern(im->users, p, len, NULL);
            break;
        case ROLE_ITEM_ID:
            if ((rc = check_id(im, line, k, p, len, e))) return rc;
            im->c_items[n] = hashes ? strmap_intern_hashed(im->items, p, len, hashes[k], NULL)
                                    : strmap_intern(im->items, p, len, NULL);
            break;
        case ROLE_TIMESTAMP:
            if (!check_value(c->field, p, len, &v, why, sizeof(why)))
                return bad_value(im, line, k, why, e);
            if (v.i < 0)
                return bad_value(im, line, k, "negative timestamp; expected Unix epoch seconds", e);
            if (v.i >= IMPORT_MS_TIMESTAMP && !im->rep->ms_timestamps++)
                im->rep->ms_first_line = line;
            im->c_ts[n] = v.i;
            break;
        case ROLE_EVENT_TYPE:
            if (len > ID_MAX_LEN) {
                snprintf(why, sizeof(why), "event type of %zu bytes; the limit is %d", len,
                         ID_MAX_LEN);
                return bad_value(im, line, k, why, e);
            }
            if (len) {
                im->c_types[n] = strmap_intern(im->types, p, len, NULL);
            } else if (!c->field->nullable) {
                return bad_value(im, line, k, "empty event type, but the field is not nullable", e);
            }
            break;
        case ROLE_EVENT_VALUE:
            if (!check_value(c->field, p, len, &v, why, sizeof(why)))
                return bad_value(im, line, k, why, e);
            if (!v.is_null)
                im->c_values[n] = c->field->type == FT_FLOAT || c->field->type == FT_DOUBLE
                                      ? (float)v.d
                                      : (float)v.i;
            break;
        case ROLE_IMPRESSION:
            if ((rc = check_impression(im, line, k, p, len, e))) return rc;
            FALLTHROUGH; /* kept as text */
        case ROLE_EXTRA:
            if (c->role == ROLE_EXTRA && !check_value(c->field, p, len, &v, why, sizeof(why)))
                return bad_value(im, line, k, why, e);
            if (extra_put(&im->c_extra[c->extra_slot], len || !c->field->nullable ? p : NULL, len))
                return err_set(e, RC_NOMEM, "%s:%llu: out of memory", im->src,
                               (unsigned long long)line);
            break;
        default:
            break;
        }
    }
    if (++im->c_n == IMPORT_CHUNK) return flush_chunk(im, e);
    return RC_OK;
}

/* Split a categorical value on '|' into a JSON array (empty parts dropped). */
static json_t *categorical_array(const char *p, size_t len)
{
    json_t *arr = json_array();
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i == len || p[i] == '|') {
            if (i > start) json_array_append_new(arr, json_stringn(p + start, i - start));
            start = i + 1;
        }
    }
    return arr;
}

static enum rc add_entity(struct importer *im, const struct csv_field *f, uint64_t line,
                          struct err *e)
{
    json_t *obj = json_object();
    uint32_t idx = 0;
    int64_t created = -1;
    char why[160];
    enum rc rc = RC_OK;
    for (size_t k = 0; k < im->ncols && !rc; k++) {
        const struct column *c = &im->cols[k];
        const char *p = f[k].p;
        size_t len = f[k].len;
        struct value v;
        if (c->role == ROLE_USER_ID || c->role == ROLE_ITEM_ID) {
            if ((rc = check_id(im, line, k, p, len, e))) break;
            idx = strmap_intern(c->role == ROLE_USER_ID ? im->users : im->items, p, len, NULL);
            continue;
        }
        if (!check_value(c->field, p, len, &v, why, sizeof(why))) {
            rc = bad_value(im, line, k, why, e);
            break;
        }
        if (v.is_null) continue;
        json_t *jv = NULL;
        switch (c->field->type) {
        case FT_STRING:
            jv = c->field->categorical ? categorical_array(p, len) : json_stringn(p, len);
            break;
        case FT_INT:
        case FT_LONG:
            jv = json_integer(v.i);
            break;
        case FT_FLOAT:
        case FT_DOUBLE:
            jv = json_real(v.d);
            break;
        case FT_BOOLEAN:
            jv = json_boolean(v.i);
            break;
        }
        if (c->role == ROLE_CREATION_TS) {
            if (v.i < 0) {
                json_decref(jv);
                rc = bad_value(im, line, k, "negative timestamp; expected Unix epoch seconds", e);
                break;
            }
            if (v.i >= IMPORT_MS_TIMESTAMP && !im->rep->ms_timestamps++)
                im->rep->ms_first_line = line;
            created = v.i;
        }
        json_object_set_new(obj, c->name, jv);
    }
    if (!rc) {
        char *text = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!text) {
            rc = err_set(e, RC_NOMEM, "%s:%llu: out of memory", im->src, (unsigned long long)line);
        } else {
            rc = store_entity_upsert(im->store, im->dataset.id, idx, ORIGIN_BULK, created, text,
                                     strlen(text), e);
            free(text);
        }
    }
    json_decref(obj);
    return rc;
}

/* ---- Header and schema ---------------------------------------------------- */

static enum role role_of(enum dataset_type t, const char *name)
{
    if (strcmp(name, "USER_ID") == 0) return ROLE_USER_ID;
    if (strcmp(name, "ITEM_ID") == 0) return ROLE_ITEM_ID;
    if (t == DATASET_INTERACTIONS) {
        if (strcmp(name, "TIMESTAMP") == 0) return ROLE_TIMESTAMP;
        if (strcmp(name, "EVENT_TYPE") == 0) return ROLE_EVENT_TYPE;
        if (strcmp(name, "EVENT_VALUE") == 0) return ROLE_EVENT_VALUE;
        if (strcmp(name, "IMPRESSION") == 0) return ROLE_IMPRESSION;
        return ROLE_EXTRA;
    }
    if (t == DATASET_ITEMS && strcmp(name, "CREATION_TIMESTAMP") == 0) return ROLE_CREATION_TS;
    return ROLE_META;
}

/*
 * The ID column of an entity dataset is its key; in interactions USER_ID and
 * ITEM_ID are both IDs. In ITEMS, a USER_ID column is plain metadata and vice
 * versa, which role_of() cannot know; fix that up here.
 */
static enum role entity_role(enum dataset_type t, enum role r)
{
    if (t == DATASET_ITEMS && r == ROLE_USER_ID) return ROLE_META;
    if (t == DATASET_USERS && r == ROLE_ITEM_ID) return ROLE_META;
    return r;
}

static enum rc map_columns(struct importer *im, const struct csv_row *header, struct err *e)
{
    const struct schema *s = im->schema;
    enum dataset_type t = im->o->type;
    im->ncols = header->n;
    im->cols = xcalloc(header->n, sizeof(*im->cols));
    struct buf names;
    buf_init(&names, BUF_NO_CAP);
    for (size_t k = 0; k < header->n; k++) {
        int fi = schema_find(s, header->fields[k].p);
        if (fi < 0) {
            struct buf list;
            buf_init(&list, 2048);
            for (size_t j = 0; j < s->nfields; j++)
                buf_addf(&list, "%s%s", j ? ", " : "", s->fields[j].name);
            err_set(e, RC_INVALID_INPUT,
                    "%s:%llu: column %zu '%s' is not a field of the schema (fields: %s)", im->src,
                    (unsigned long long)header->line, k + 1, header->fields[k].p, list.data);
            buf_release(&list);
            buf_release(&names);
            return RC_INVALID_INPUT;
        }
        struct column *c = &im->cols[k];
        c->field = &s->fields[fi];
        c->name = c->field->name;
        c->role = entity_role(t, role_of(t, c->name));
        if (c->role == ROLE_EXTRA || c->role == ROLE_IMPRESSION) {
            c->extra_slot = (int)im->nextra++;
            buf_addf(&names, "%s%s", names.len ? "," : "", c->name);
        }
    }
    for (size_t j = 0; j < s->nfields; j++) {
        const struct schema_field *f = &s->fields[j];
        bool present = false;
        for (size_t k = 0; k < header->n && !present; k++)
            present = im->cols[k].field == f;
        if (!present && !f->nullable) {
            buf_release(&names);
            return err_set(
                e, RC_INVALID_INPUT,
                "%s:%llu: required column %s is missing from the header (the schema's field %s is not nullable)",
                im->src, (unsigned long long)header->line, f->name, f->name);
        }
    }
    im->extra_names = buf_detach(&names, NULL);
    return RC_OK;
}

static enum rc check_header(const char *src, const struct csv_row *header, struct err *e)
{
    if (header->n == 0)
        return err_set(
            e, RC_INVALID_INPUT,
            "%s: empty input; expected a header row naming the columns (e.g. USER_ID,ITEM_ID,TIMESTAMP)",
            src);
    for (size_t k = 0; k < header->n; k++) {
        const char *name = header->fields[k].p;
        if (!header->fields[k].len)
            return err_set(e, RC_INVALID_INPUT, "%s:%llu: column %zu has an empty name", src,
                           (unsigned long long)header->line, k + 1);
        for (size_t j = 0; j < k; j++)
            if (strcmp(header->fields[j].p, name) == 0)
                return err_set(e, RC_INVALID_INPUT, "%s:%llu: column %zu '%s' repeats column %zu",
                               src, (unsigned long long)header->line, k + 1, name, j + 1);
    }
    return RC_OK;
}

static enum rc read_file(const char *path, char **out, size_t *len, struct err *e)
{
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(e, RC_IO, "%s: cannot open: %s", path, strerror(errno));
    struct buf b;
    buf_init(&b, SCHEMA_MAX_JSON + 1);
    char tmp[4096];
    size_t n;
    enum rc rc = RC_OK;
    while (!rc && (n = fread(tmp, 1, sizeof(tmp), f)) > 0)
        rc = buf_add(&b, tmp, n);
    if (!rc && ferror(f))
        rc = err_set(e, RC_IO, "%s: read error: %s", path, strerror(errno));
    else if (rc)
        rc = err_set(e, RC_INVALID_INPUT, "%s: schema longer than %d characters", path,
                     SCHEMA_MAX_JSON);
    fclose(f);
    if (rc) {
        buf_release(&b);
        return rc;
    }
    *out = buf_detach(&b, len);
    return RC_OK;
}

/* Rows kept while inferring a schema, replayed afterwards. */
struct sample {
    VEC(char *) cells; /* nrows * ncols, owned */
    VEC(uint64_t) lines;
    size_t ncols;
};

static void sample_release(struct sample *s)
{
    for (size_t i = 0; i < s->cells.n; i++)
        free(s->cells.v[i]);
    VEC_FREE(&s->cells);
    VEC_FREE(&s->lines);
}

/* ---- The pipeline --------------------------------------------------------- */

static uint64_t input_offset_fn(void *in)
{
    return input_offset(in);
}

static char *make_job_name(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    return xasprintf("import-%04d%02d%02d-%02d%02d%02d-%04lx", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                     (unsigned long)((ts.tv_nsec / 1000 + (long)getpid()) & 0xFFFF));
}

static char *data_location(const char *input)
{
    if (strcmp(input, "-") == 0) return xstrdup("stdin");
    char *abs = realpath(input, NULL);
    char *loc = xasprintf("file://%s", abs ? abs : input);
    free(abs);
    return loc;
}

static enum rc record_job(struct importer *im, const char *job_name, const char *status,
                          const char *failure, struct err *e)
{
    struct resource job = {0};
    if (im->o->job_exists) {
        /* Keep what the creator recorded (dataSource as given); add the outcome. */
        char *arn = store_arn(im->store, KIND_IMPORT_JOB, job_name);
        enum rc rc = store_resource_get(im->store, arn, &job, e);
        free(arn);
        if (rc) return rc;
        json_t *a = json_loads(job.attrs, 0, NULL);
        if (!a) a = json_object();
        json_object_set_new(a, "rowsImported", json_integer((json_int_t)(failure ? 0 : im->rows)));
        json_object_set_new(a, "newUsers", json_integer((json_int_t)im->rep->new_users));
        json_object_set_new(a, "newItems", json_integer((json_int_t)im->rep->new_items));
        char *text = json_dumps(a, JSON_COMPACT | JSON_PRESERVE_ORDER);
        json_decref(a);
        free(job.attrs);
        job.attrs = xstrdup(text ? text : "{}");
        free(text);
        free(job.status);
        job.status = xstrdup(status);
        free(job.failure_reason);
        job.failure_reason = failure ? xstrdup(failure) : NULL;
        rc = store_resource_update(im->store, &job, e);
        if (!rc) im->rep->job_arn = xstrdup(job.arn);
        resource_release(&job);
        return rc;
    }
    job.arn = store_arn(im->store, KIND_IMPORT_JOB, job_name);
    job.kind = xstrdup(KIND_IMPORT_JOB);
    job.name = xstrdup(job_name);
    job.parent_id = im->dataset.id;
    job.status = xstrdup(status);
    job.failure_reason = failure ? xstrdup(failure) : NULL;
    char *loc = data_location(im->o->input);
    json_t *attrs = json_pack(
        "{s:s,s:s,s:{s:s},s:s,s:I,s:I,s:I}", "jobName", job_name, "datasetArn", im->dataset.arn,
        "dataSource", "dataLocation", loc, "importMode", import_mode_name(im->o->mode),
        "rowsImported", (json_int_t)(failure ? 0 : im->rows), "newUsers",
        (json_int_t)im->rep->new_users, "newItems", (json_int_t)im->rep->new_items);
    free(loc);
    char *text = json_dumps(attrs, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(attrs);
    job.attrs = xstrdup(text ? text : "{}");
    free(text);
    enum rc rc = store_resource_insert(im->store, &job, e);
    if (!rc) im->rep->job_arn = xstrdup(job.arn);
    resource_release(&job);
    return rc;
}

static enum rc setup_dataset(struct importer *im, const struct csv_row *header,
                             struct sample *sample, struct csv_reader *r, struct err *e)
{
    const struct import_opts *o = im->o;
    enum rc rc = dataset_group_find(im->store, o->group, &im->group, NULL);
    if (rc == RC_NOT_FOUND) rc = dataset_group_create(im->store, o->group, &im->group, e);
    if (rc) return rc;

    struct schema *given = NULL;
    if (o->schema_path) {
        char *text = NULL;
        size_t len = 0;
        if ((rc = read_file(o->schema_path, &text, &len, e))) return rc;
        rc = schema_parse(text, len, &given, e);
        free(text);
        if (!rc) rc = schema_validate(given, o->type, e);
        if (rc) {
            schema_free(given);
            return err_prefix(e, "%s: ", o->schema_path);
        }
    }

    rc = dataset_find(im->store, &im->group, o->type, &im->dataset, NULL);
    if (rc == RC_OK) {
        rc = dataset_load_schema(im->store, &im->dataset, &im->schema, e);
        if (rc) {
            schema_free(given);
            return rc;
        }
        if (given) {
            char *a = schema_to_json(given), *b = schema_to_json(im->schema);
            bool same = strcmp(a, b) == 0;
            free(a);
            free(b);
            schema_free(given);
            if (!same)
                return err_set(
                    e, RC_INVALID_INPUT,
                    "%s: the %s dataset of %s already uses a different schema; schemas cannot change (import without --schema to use the stored one)",
                    o->schema_path, dataset_type_name(o->type), o->group);
        }
        return RC_OK;
    }
    if (rc != RC_NOT_FOUND) {
        schema_free(given);
        return rc;
    }

    /* A new dataset: use the given schema or infer one from the header and first rows. */
    if (given) {
        im->schema = given;
    } else {
        sample->ncols = header->n;
        struct csv_row row;
        while (sample->lines.n < IMPORT_INFER_SAMPLE_ROWS) {
            if ((rc = csv_next(r, &row, e))) return rc;
            if (!row.n) break;
            if ((rc = csv_expect_fields(r, &row, header->n, e))) return rc;
            for (size_t k = 0; k < row.n; k++)
                VEC_PUSH(&sample->cells, xstrndup(row.fields[k].p, row.fields[k].len));
            VEC_PUSH(&sample->lines, row.line);
        }
        const char **names = xcalloc(header->n, sizeof(*names));
        for (size_t k = 0; k < header->n; k++)
            names[k] = header->fields[k].p;
        rc = schema_infer(o->type, names, header->n, (const char *const *)sample->cells.v,
                          sample->lines.n, &im->schema, e);
        free(names);
        if (rc) return err_prefix(e, "%s: cannot infer a schema from the header: ", im->src);
        im->rep->inferred_schema = schema_to_json(im->schema);
    }
    char *lower = xstrdup(dataset_type_name(o->type));
    for (char *p = lower; *p; p++)
        *p = (char)(*p - 'A' + 'a');
    char *sname = xasprintf("%.50s-%s", o->group, lower);
    free(lower);
    rc = dataset_create(im->store, &im->group, o->type, sname, im->schema, &im->dataset, e);
    free(sname);
    if (!rc) im->rep->dataset_created = true;
    return rc;
}

static enum rc process_row(struct importer *im, const struct csv_field *f, const uint32_t *hashes,
                           uint64_t line, struct err *e)
{
    im->rows++;
    if (im->o->type == DATASET_INTERACTIONS) return add_interaction(im, f, hashes, line, e);
    return add_entity(im, f, line, e);
}

/* How far ahead to prefetch ID map slots: enough rows to cover a memory access. */
#define PREFETCH_ROWS 8

static void prefetch_ids(struct importer *im, const struct row_batch *b, size_t row)
{
    const uint32_t *h = b->hashes + row * b->ncols;
    for (size_t k = 0; k < im->ncols; k++) {
        if (im->cols[k].role == ROLE_USER_ID) strmap_prefetch(im->users, h[k]);
        if (im->cols[k].role == ROLE_ITEM_ID) strmap_prefetch(im->items, h[k]);
    }
}

static enum rc run(struct importer *im, struct csv_reader *r, struct input *in, struct err *e)
{
    const struct import_opts *o = im->o;
    struct csv_row header;
    enum rc rc = csv_next(r, &header, e);
    if (rc) return rc;
    if ((rc = check_header(im->src, &header, e))) return rc;
    /* Header fields live in the reader's buffer until the next row: keep copies. */
    struct csv_field *hf = xcalloc(header.n, sizeof(*hf));
    for (size_t k = 0; k < header.n; k++) {
        hf[k].p = xstrndup(header.fields[k].p, header.fields[k].len);
        hf[k].len = header.fields[k].len;
    }
    struct csv_row hdr = {hf, header.n, header.line};
    {
        const char **names = xcalloc(header.n, sizeof(*names));
        for (size_t k = 0; k < header.n; k++)
            names[k] = hf[k].p;
        csv_reader_set_names(r, names, header.n);
        free(names);
    }
    struct sample sample = {VEC_INIT, VEC_INIT, 0};

    rc = setup_dataset(im, &hdr, &sample, r, e);
    if (!rc) rc = map_columns(im, &hdr, e);
    if (rc) goto out;

    im->users = strmap_new();
    im->items = strmap_new();
    im->types = strmap_new();
    if ((rc = store_idmap_load(im->store, im->group.id, ID_USERS, im->users, e)) ||
        (rc = store_idmap_load(im->store, im->group.id, ID_ITEMS, im->items, e)) ||
        (rc = store_idmap_load(im->store, im->group.id, ID_EVENT_TYPES, im->types, e)))
        goto out;
    im->users0 = strmap_count(im->users);
    im->items0 = strmap_count(im->items);
    im->types0 = strmap_count(im->types);

    if (o->mode == IMPORT_FULL) {
        rc = o->type == DATASET_INTERACTIONS
                 ? store_interactions_delete(im->store, im->dataset.id, ORIGIN_BULK, e)
                 : store_entity_delete_all(im->store, im->dataset.id, ORIGIN_BULK, e);
        if (!rc && o->type == DATASET_INTERACTIONS)
            rc = dataset_bump_generation(im->store, &im->dataset, e);
        if (rc) goto out;
    }
    /*
     * Statistics start from the rows that stay (all of them for INCREMENTAL,
     * the individually recorded events for FULL) and take in the new rows as
     * they are written, so the dataset is never read back in full.
     */
    if (o->type == DATASET_INTERACTIONS &&
        (rc = stats_acc_scan(&im->acc, im->store, im->dataset.id, e)))
        goto out;
    if (o->type == DATASET_INTERACTIONS) {
        im->c_users = xmallocarray(IMPORT_CHUNK, sizeof(uint32_t));
        im->c_items = xmallocarray(IMPORT_CHUNK, sizeof(uint32_t));
        im->c_types = xmallocarray(IMPORT_CHUNK, sizeof(uint32_t));
        im->c_ts = xmallocarray(IMPORT_CHUNK, sizeof(int64_t));
        im->c_values = xmallocarray(IMPORT_CHUNK, sizeof(float));
        im->c_extra = xcalloc(im->nextra ? im->nextra : 1, sizeof(struct buf));
        for (size_t k = 0; k < im->nextra; k++)
            buf_init(&im->c_extra[k], BUF_NO_CAP);
        /* Absent nullable columns are simply absent; nothing to fill per row. */
    }

    /* Replay the rows read for inference, then stream the rest. */
    struct csv_field *sf = xcalloc(header.n, sizeof(*sf));
    for (size_t row = 0; row < sample.lines.n && !rc; row++) {
        for (size_t k = 0; k < header.n; k++) {
            sf[k].p = sample.cells.v[row * header.n + k];
            sf[k].len = strlen(sf[k].p);
        }
        rc = process_row(im, sf, NULL, sample.lines.v[row], e);
    }
    free(sf);
    if (rc) goto out;

    struct progress prog;
    progress_begin(&prog, o->progress, "import", "rows", input_size(in), o->force_progress);
    /* Interactions: the reader thread hashes the IDs, and the importer prefetches their slots. */
    bool *hash_cols = xcalloc(header.n, sizeof(bool));
    bool interactions = o->type == DATASET_INTERACTIONS;
    for (size_t k = 0; k < header.n; k++)
        hash_cols[k] =
            interactions && (im->cols[k].role == ROLE_USER_ID || im->cols[k].role == ROLE_ITEM_ID);
    struct rowpipe *pipe = rowpipe_start(r, header.n, hash_cols, input_offset_fn, in);
    free(hash_cols);
    const struct row_batch *b;
    while (!(rc = rowpipe_next(pipe, &b, e)) && b) {
        for (size_t i = 0; i < b->nrows && !rc; i++) {
            if (interactions && i + PREFETCH_ROWS < b->nrows)
                prefetch_ids(im, b, i + PREFETCH_ROWS);
            rc = process_row(im, b->fields + i * b->ncols,
                             interactions ? b->hashes + i * b->ncols : NULL, b->lines[i], e);
        }
        if (rc) break;
        progress_update(&prog, im->rows, b->input_offset);
    }
    rowpipe_stop(pipe);
    if (!rc)
        progress_end(&prog, im->rows, input_offset(in));
    else if (prog.drawn)
        fputc('\n', o->progress);
    if (rc) goto out;
    if (o->type == DATASET_INTERACTIONS && (rc = flush_chunk(im, e))) goto out;
    if (im->rows == 0 && o->mode == IMPORT_FULL && !im->rep->dataset_created) {
        /* A FULL import replaces everything: from a header-only file that is a wipe-out. */
        rc = err_set(
            e, RC_INVALID_INPUT,
            "%s: no data rows after the header; a FULL import would empty the %s dataset (use --mode INCREMENTAL for a no-op)",
            im->src, dataset_type_name(o->type));
        goto out;
    }

    if ((rc = store_idmap_append(im->store, im->group.id, ID_USERS, im->users, im->users0, e)) ||
        (rc = store_idmap_append(im->store, im->group.id, ID_ITEMS, im->items, im->items0, e)) ||
        (rc =
             store_idmap_append(im->store, im->group.id, ID_EVENT_TYPES, im->types, im->types0, e)))
        goto out;
    im->rep->rows = im->rows;
    im->rep->new_users = strmap_count(im->users) - im->users0;
    im->rep->new_items = strmap_count(im->items) - im->items0;
out:
    for (size_t k = 0; k < header.n; k++)
        free((char *)hf[k].p);
    free(hf);
    sample_release(&sample);
    return rc;
}

static void importer_release(struct importer *im)
{
    stats_acc_release(&im->acc);
    schema_free(im->schema);
    free(im->cols);
    free(im->extra_names);
    resource_release(&im->group);
    resource_release(&im->dataset);
    strmap_free(im->users);
    strmap_free(im->items);
    strmap_free(im->types);
    free(im->c_users);
    free(im->c_items);
    free(im->c_types);
    free(im->c_ts);
    free(im->c_values);
    if (im->c_extra)
        for (size_t k = 0; k < im->nextra; k++)
            buf_release(&im->c_extra[k]);
    free(im->c_extra);
}

enum rc import_run(struct store *s, const struct import_opts *o, struct import_report *rep,
                   struct err *e)
{
    memset(rep, 0, sizeof(*rep));
    double t0 = clock_monotonic();
    if (!resource_name_valid(o->group))
        return err_set(
            e, RC_INVALID_INPUT,
            "--dataset-group '%s' is invalid: use 1 to 63 letters, digits, '-' or '_', starting with a letter or digit",
            o->group);
    char *job_name = o->job_name ? xstrdup(o->job_name) : make_job_name();
    if (!resource_name_valid(job_name)) {
        err_set(e, RC_INVALID_INPUT, "job name '%s' is invalid", job_name);
        free(job_name);
        return RC_INVALID_INPUT;
    }

    if (!o->job_exists) {
        char *arn = store_arn(s, KIND_IMPORT_JOB, job_name);
        struct resource taken = {0};
        enum rc found = store_resource_get(s, arn, &taken, NULL);
        resource_release(&taken);
        free(arn);
        if (found == RC_OK) {
            err_set(e, RC_ALREADY_EXISTS, "an import job named '%s' already exists", job_name);
            free(job_name);
            return RC_ALREADY_EXISTS;
        }
    }
    struct input *in = NULL;
    enum rc rc = input_open(o->input, &in, e);
    if (rc) {
        free(job_name);
        return rc;
    }
    struct importer im = {0};
    im.store = s;
    im.o = o;
    im.rep = rep;
    im.src = input_name(in);
    struct csv_reader *r = csv_reader_new(input_read, in, input_name(in));

    bool existed = false;
    rc = store_begin(s, e);
    if (!rc) {
        /* Whether the dataset existed decides if a failed job can be recorded. */
        struct resource g = {0}, d = {0};
        if (dataset_group_find(s, o->group, &g, NULL) == RC_OK &&
            dataset_find(s, &g, o->type, &d, NULL) == RC_OK)
            existed = true;
        resource_release(&g);
        resource_release(&d);

        rc = run(&im, r, in, e);
        double t_rows = clock_monotonic();
        if (!rc) rc = record_job(&im, job_name, STATUS_ACTIVE, NULL, e);
        if (!rc && o->type == DATASET_INTERACTIONS) {
            rc = stats_acc_finish(&im.acc, im.types, &rep->stats, e);
            rep->dataset_rows = rep->stats.rows;
        } else if (!rc) {
            rc = store_entity_count(s, im.dataset.id, &rep->dataset_rows, e);
        }
        double t_stats = clock_monotonic();
        if (!rc) rc = store_commit(s, e);
        log_debug("import", "%s rows=%llu parse+write=%.3fs stats=%.3fs commit=%.3fs",
                  rc ? "failed" : "ok", (unsigned long long)im.rows, t_rows - t0, t_stats - t_rows,
                  clock_monotonic() - t_stats);
        if (!rc) rep->dataset_arn = xstrdup(im.dataset.arn);
        if (rc) store_rollback(s);
    }
    if (rc && existed) {
        /* Record the failure as Personalize does, in its own transaction. */
        struct err e2 = ERR_INIT;
        struct resource g = {0}, d = {0};
        if (store_begin(s, &e2) == RC_OK) {
            if (dataset_group_find(s, o->group, &g, NULL) == RC_OK &&
                dataset_find(s, &g, o->type, &d, NULL) == RC_OK) {
                resource_release(&im.dataset);
                im.dataset = d;
                memset(&d, 0, sizeof(d));
                free(rep->job_arn);
                rep->job_arn = NULL;
                if (record_job(&im, job_name, STATUS_CREATE_FAILED, e->msg, &e2) == RC_OK)
                    store_commit(s, &e2);
            }
            store_rollback(s);
        }
        resource_release(&g);
        resource_release(&d);
    }
    if (rc) {
        char *keep_job = rep->job_arn;
        rep->job_arn = NULL;
        import_report_release(rep);
        rep->job_arn = keep_job;
    }
    rep->seconds = clock_monotonic() - t0;
    csv_reader_free(r);
    input_close(in);
    importer_release(&im);
    free(job_name);
    return rc;
}
