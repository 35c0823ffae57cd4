/*
 * compile.c: a parsed filter checked against the dataset group's schemas
 * and compiled: the metadata its conditions read is loaded into columns
 * (one array per field over the group's item or user indexes), and item
 * conditions with literal values become bitsets.
 */
#include "common/base.h"
#include "common/vec.h"
#include "dataset/dataset.h"
#include "filter/filter.h"
#include "filter/filter_int.h"

#include <math.h>
#include <strings.h>

/* ---- Schema checks -------------------------------------------------------- */

struct schemas {
    struct schema *items, *users, *interactions;
};

static void schemas_release(struct schemas *sc)
{
    schema_free(sc->items);
    schema_free(sc->users);
    schema_free(sc->interactions);
}

static enum rc load_schemas(struct store *s, const struct resource *group, struct schemas *sc,
                            struct err *e)
{
    memset(sc, 0, sizeof(*sc));
    static const enum dataset_type types[] = {DATASET_ITEMS, DATASET_USERS, DATASET_INTERACTIONS};
    struct schema **slots[] = {&sc->items, &sc->users, &sc->interactions};
    for (size_t i = 0; i < ARRAY_SIZE(types); i++) {
        struct resource d = {0};
        if (dataset_find(s, group, types[i], &d, NULL) == RC_OK) {
            enum rc rc = dataset_load_schema(s, &d, slots[i], e);
            resource_release(&d);
            if (rc) {
                schemas_release(sc);
                return rc;
            }
        }
    }
    return RC_OK;
}

static enum fkind kind_of(enum field_type t)
{
    return t == FT_STRING ? FK_STRING : t == FT_BOOLEAN ? FK_BOOL : FK_NUMBER;
}

static const char *kind_name(enum fkind k)
{
    return k == FK_STRING ? "a string" : k == FK_BOOL ? "a boolean" : "a numeric";
}

static const char *source_name(enum filter_source s)
{
    return s == FSRC_ITEMS ? "Items" : s == FSRC_INTERACTIONS ? "Interactions" : "CurrentUser";
}

/* Find 'field' in 'sc' for dataset 'ds' ("Items", "CurrentUser"); errors name what is missing. */
static enum rc find_field(const struct schema *sc, const char *ds, const char *dataset_type,
                          const char *field, uint32_t col, const struct schema_field **out,
                          struct err *e)
{
    if (!sc)
        return err_set(e, RC_INVALID_INPUT,
                       "filter expression, column %u: %s.%s: the dataset group has no %s dataset",
                       col, ds, field, dataset_type);
    int i = schema_find(sc, field);
    if (i < 0) {
        char names[200] = "";
        size_t used = 0;
        for (size_t k = 0; k < sc->nfields && used < sizeof(names) - 1; k++)
            used += (size_t)snprintf(names + used, sizeof(names) - used, "%s%s", k ? ", " : "",
                                     sc->fields[k].name);
        return err_set(e, RC_INVALID_INPUT,
                       "filter expression, column %u: %s has no field '%s' (its fields: %s)", col,
                       ds, field, names);
    }
    if (sc->fields[i].textual)
        return err_set(e, RC_INVALID_INPUT,
                       "filter expression, column %u: %s.%s is a textual field; textual fields "
                       "cannot be filtered",
                       col, ds, field);
    *out = &sc->fields[i];
    return RC_OK;
}

static const char *op_name(enum filter_op op)
{
    static const char *const names[] = {"IN", "NOT IN", "=", "<", "<=", ">", ">="};
    return names[op];
}

/* Whether literal 'v' fits a field of kind 'k'. */
static bool value_fits(enum fkind k, const struct filter_value *v)
{
    switch (v->kind) {
    case FV_PARAM:
    case FV_STAR:
        return true;
    case FV_STRING:
        return k == FK_STRING ||
               (k == FK_BOOL && (!strcasecmp(v->text, "true") || !strcasecmp(v->text, "false")));
    case FV_NUMBER:
        return k == FK_NUMBER || (k == FK_BOOL && (v->number == 0 || v->number == 1));
    case FV_BOOL:
        return k == FK_BOOL;
    }
    return false;
}

static const char *value_kind_name(const struct filter_value *v)
{
    return v->kind == FV_STRING ? "the string" : v->kind == FV_NUMBER ? "the number" : "the value";
}

static enum rc check_cond(const struct schemas *sc, const struct filter_cond *c, struct err *e)
{
    const char *ds = source_name(c->source);
    enum fkind k = FK_STRING;
    if (c->source == FSRC_INTERACTIONS) {
        k = FK_STRING; /* EVENT_TYPE (the parser allows no other field) */
    } else {
        const struct schema_field *fd;
        enum rc rc = c->source == FSRC_ITEMS
                         ? find_field(sc->items, ds, "ITEMS", c->field, c->col, &fd, e)
                         : find_field(sc->users, ds, "USERS", c->field, c->col, &fd, e);
        if (rc) return rc;
        k = kind_of(fd->type);
    }
    if (k != FK_NUMBER && c->op >= FOP_LT)
        return err_set(e, RC_INVALID_INPUT,
                       "filter expression, column %u: %s.%s is %s field: %s needs a numeric field "
                       "(use IN, NOT IN or =)",
                       c->col, ds, c->field, kind_name(k), op_name(c->op));
    if (c->current_item) {
        if (c->source != FSRC_ITEMS)
            return err_set(e, RC_INVALID_INPUT,
                           "filter expression, column %u: CurrentItem compares with Items fields "
                           "only",
                           c->col);
        const struct schema_field *fd;
        enum rc rc = find_field(sc->items, "CurrentItem", "ITEMS", c->current_item, c->col, &fd, e);
        if (rc) return rc;
        if (kind_of(fd->type) != k)
            return err_set(e, RC_INVALID_INPUT,
                           "filter expression, column %u: %s.%s is %s field but CurrentItem.%s is "
                           "%s field",
                           c->col, ds, c->field, kind_name(k), c->current_item,
                           kind_name(kind_of(fd->type)));
    }
    for (size_t i = 0; i < c->nvalues; i++) {
        const struct filter_value *v = &c->values[i];
        if (value_fits(k, v)) continue;
        if (v->kind == FV_BOOL)
            return err_set(e, RC_INVALID_INPUT,
                           "filter expression, column %u: %s.%s is %s field, found %s", v->col, ds,
                           c->field, kind_name(k), v->number ? "true" : "false");
        if (v->kind == FV_STRING)
            return err_set(e, RC_INVALID_INPUT,
                           "filter expression, column %u: %s.%s is %s field, found %s \"%.80s\"",
                           v->col, ds, c->field, kind_name(k), value_kind_name(v), v->text);
        return err_set(e, RC_INVALID_INPUT,
                       "filter expression, column %u: %s.%s is %s field, found %s %g%s", v->col, ds,
                       c->field, kind_name(k), value_kind_name(v), v->number,
                       k == FK_STRING ? " (quote it to compare as a string)" : "");
    }
    return RC_OK;
}

static enum rc check_ast(const struct schemas *sc, const struct filter_ast *ast, struct err *e)
{
    for (size_t i = 0; i < ast->nexprs; i++) {
        const struct filter_expr *x = &ast->exprs[i];
        for (size_t k = 0; k < x->nconds; k++) {
            enum rc rc = check_cond(sc, &x->conds[k], e);
            if (rc) return rc;
        }
        for (size_t k = 0; k < x->nuser_conds; k++) {
            enum rc rc = check_cond(sc, &x->user_conds[k], e);
            if (rc) return rc;
        }
    }
    return RC_OK;
}

enum rc filter_validate(struct store *s, const struct resource *group, const struct filter_ast *ast,
                        struct err *e)
{
    struct schemas sc;
    enum rc rc = load_schemas(s, group, &sc, e);
    if (!rc) rc = check_ast(&sc, ast, e);
    schemas_release(&sc);
    return rc;
}

/* ---- Loading metadata columns --------------------------------------------- */

static void column_release(struct fcolumn *c)
{
    free(c->name);
    free(c->num);
    free(c->indptr);
    free(c->vals);
    strmap_free(c->dict);
}

/* The column for 'name' in cols (adding an empty one of kind 'k'). */
static struct fcolumn *column_for(struct fcolumn **cols, size_t *n, const char *name, enum fkind k)
{
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*cols)[i].name, name) == 0) return &(*cols)[i];
    *cols = xreallocarray(*cols, *n + 1, sizeof(**cols));
    struct fcolumn *c = &(*cols)[(*n)++];
    memset(c, 0, sizeof(*c));
    c->name = xstrdup(name);
    c->kind = k;
    return c;
}

/* Rows of one entity dataset, gathered before they become columns. */
struct loader {
    struct fcolumn *cols;
    size_t ncols;
    uint32_t n;              /* entities (the ID map's size) */
    VEC(uint32_t) * str_ent; /* per string column: (entity, value id) pairs */
    VEC(uint32_t) * str_val;
};

static void add_string(struct loader *l, size_t k, uint32_t idx, const char *s, size_t len)
{
    uint32_t id = strmap_intern(l->cols[k].dict, s, len, NULL);
    VEC_PUSH(&l->str_ent[k], idx);
    VEC_PUSH(&l->str_val[k], id);
}

static enum rc load_row(void *ctx, uint32_t idx, int64_t created_ts, const char *text,
                        struct err *e)
{
    UNUSED(e);
    struct loader *l = ctx;
    if (idx >= l->n) return RC_OK;
    json_t *o = json_loads(text, 0, NULL);
    for (size_t k = 0; k < l->ncols; k++) {
        struct fcolumn *c = &l->cols[k];
        json_t *v = json_object_get(o, c->name);
        if (!v && strcmp(c->name, "CREATION_TIMESTAMP") == 0 && created_ts >= 0 &&
            c->kind == FK_NUMBER) {
            c->num[idx] = (double)created_ts;
            continue;
        }
        if (c->kind == FK_STRING) {
            if (json_is_string(v)) {
                add_string(l, k, idx, json_string_value(v), json_string_length(v));
            } else if (json_is_array(v)) {
                size_t i;
                json_t *x;
                json_array_foreach(v, i, x)
                {
                    if (json_is_string(x))
                        add_string(l, k, idx, json_string_value(x), json_string_length(x));
                }
            }
        } else if (json_is_number(v)) {
            c->num[idx] = json_number_value(v);
        } else if (json_is_boolean(v)) {
            c->num[idx] = json_is_true(v) ? 1 : 0;
        }
    }
    json_decref(o);
    return RC_OK;
}

/* Turn the gathered (entity, value) pairs of string column k into CSR. */
static void finish_strings(struct loader *l, size_t k)
{
    struct fcolumn *c = &l->cols[k];
    size_t m = l->str_ent[k].n;
    c->indptr = xcalloc((size_t)l->n + 1, sizeof(uint64_t));
    c->vals = xmallocarray(m ? m : 1, sizeof(uint32_t));
    for (size_t i = 0; i < m; i++)
        c->indptr[l->str_ent[k].v[i] + 1]++;
    for (uint32_t i = 0; i < l->n; i++)
        c->indptr[i + 1] += c->indptr[i];
    uint64_t *fill = xmallocarray((size_t)l->n + 1, sizeof(uint64_t));
    memcpy(fill, c->indptr, ((size_t)l->n + 1) * sizeof(uint64_t));
    for (size_t i = 0; i < m; i++)
        c->vals[fill[l->str_ent[k].v[i]]++] = l->str_val[k].v[i];
    free(fill);
}

/*
 * Load 'cols' (names and kinds set) for every entity of the group's
 * 'space' from dataset 'type'. ITEM_ID / USER_ID columns are the IDs
 * themselves. *ids (may be NULL) receives the ID map.
 */
static enum rc load_columns(struct store *s, const struct resource *group, enum dataset_type type,
                            struct fcolumn *cols, size_t ncols, uint32_t *nout, struct strmap **ids,
                            struct err *e)
{
    enum id_space space = type == DATASET_ITEMS ? ID_ITEMS : ID_USERS;
    const char *id_field = type == DATASET_ITEMS ? "ITEM_ID" : "USER_ID";
    struct strmap *map = strmap_new();
    enum rc rc = store_idmap_load(s, group->id, space, map, e);
    if (rc) {
        strmap_free(map);
        return rc;
    }
    struct loader l = {cols, ncols, strmap_count(map), NULL, NULL};
    l.str_ent = xcalloc(ncols ? ncols : 1, sizeof(*l.str_ent));
    l.str_val = xcalloc(ncols ? ncols : 1, sizeof(*l.str_val));
    for (size_t k = 0; k < ncols; k++) {
        cols[k].n = l.n;
        if (cols[k].kind == FK_STRING) {
            cols[k].dict = strmap_new();
        } else {
            cols[k].num = xmallocarray(l.n ? l.n : 1, sizeof(double));
            for (uint32_t i = 0; i < l.n; i++)
                cols[k].num[i] = NAN;
        }
        if (strcmp(cols[k].name, id_field) == 0) {
            for (uint32_t i = 0; i < l.n; i++) {
                size_t len;
                const char *key = strmap_key(map, i, &len);
                add_string(&l, k, i, key, len);
            }
        }
    }
    struct resource d = {0};
    if (dataset_find(s, group, type, &d, NULL) == RC_OK)
        rc = store_entity_scan(s, d.id, load_row, &l, e);
    resource_release(&d);
    for (size_t k = 0; k < ncols; k++) {
        if (cols[k].kind == FK_STRING) finish_strings(&l, k);
        VEC_FREE(&l.str_ent[k]);
        VEC_FREE(&l.str_val[k]);
    }
    free(l.str_ent);
    free(l.str_val);
    *nout = l.n;
    if (ids)
        *ids = map;
    else
        strmap_free(map);
    return rc;
}

/* ---- Compiling ------------------------------------------------------------ */

void filter_free(struct filter *f)
{
    if (!f) return;
    for (size_t i = 0; i < f->nconds; i++)
        free(f->conds[i].bits);
    free(f->conds);
    for (size_t i = 0; i < f->nitem_cols; i++)
        column_release(&f->item_cols[i]);
    for (size_t i = 0; i < f->nuser_cols; i++)
        column_release(&f->user_cols[i]);
    free(f->item_cols);
    free(f->user_cols);
    strmap_free(f->users);
    for (uint32_t i = 0; f->cache_keys && i < strmap_count(f->cache_keys); i++)
        free(f->cache[i].bits);
    free(f->cache);
    strmap_free(f->cache_keys);
    pthread_mutex_destroy(&f->lock);
    filter_ast_free(f->ast);
    free(f);
}

static enum fkind field_kind(const struct schema *sc, const char *field)
{
    int i = sc ? schema_find(sc, field) : -1;
    return i < 0 ? FK_STRING : kind_of(sc->fields[i].type);
}

enum rc filter_compile(struct store *s, const struct resource *group, struct filter_ast *ast,
                       struct filter **out, struct err *e)
{
    struct schemas sc;
    enum rc rc = load_schemas(s, group, &sc, e);
    if (!rc) rc = check_ast(&sc, ast, e);
    if (rc) {
        schemas_release(&sc);
        filter_ast_free(ast);
        return rc;
    }
    struct filter *f = xcalloc(1, sizeof(*f));
    f->ast = ast;
    pthread_mutex_init(&f->lock, NULL);
    f->cache_keys = strmap_new();
    size_t total = 0;
    for (size_t i = 0; i < ast->nexprs; i++)
        total += ast->exprs[i].nconds + ast->exprs[i].nuser_conds;
    f->conds = xcalloc(total ? total : 1, sizeof(*f->conds));
    /* First the columns, then pointers into them (the arrays are final by then). */
    for (size_t i = 0; i < ast->nexprs; i++) {
        const struct filter_expr *x = &ast->exprs[i];
        for (size_t k = 0; k < x->nconds + x->nuser_conds; k++) {
            const struct filter_cond *c =
                k < x->nconds ? &x->conds[k] : &x->user_conds[k - x->nconds];
            if (c->source == FSRC_ITEMS)
                column_for(&f->item_cols, &f->nitem_cols, c->field, field_kind(sc.items, c->field));
            if (c->source == FSRC_CURRENT_USER)
                column_for(&f->user_cols, &f->nuser_cols, c->field, field_kind(sc.users, c->field));
            if (c->current_item)
                column_for(&f->item_cols, &f->nitem_cols, c->current_item,
                           field_kind(sc.items, c->current_item));
        }
    }
    schemas_release(&sc);
    uint32_t nusers = 0;
    /* Without item conditions only the item count is needed (no metadata scan). */
    rc = f->nitem_cols ? load_columns(s, group, DATASET_ITEMS, f->item_cols, f->nitem_cols,
                                      &f->nitems, NULL, e)
                       : store_idmap_count(s, group->id, ID_ITEMS, &f->nitems, e);
    if (!rc && f->nuser_cols)
        rc = load_columns(s, group, DATASET_USERS, f->user_cols, f->nuser_cols, &nusers, &f->users,
                          e);
    if (rc) {
        filter_free(f);
        return rc;
    }
    f->nwords = (f->nitems + 63) / 64;
    for (size_t i = 0; i < ast->nexprs; i++) {
        const struct filter_expr *x = &ast->exprs[i];
        for (size_t k = 0; k < x->nconds + x->nuser_conds; k++) {
            struct ccond *cc = &f->conds[f->nconds++];
            cc->c = k < x->nconds ? &x->conds[k] : &x->user_conds[k - x->nconds];
            cc->expr = (uint32_t)i;
            if (cc->c->source == FSRC_ITEMS)
                cc->col = column_for(&f->item_cols, &f->nitem_cols, cc->c->field, FK_STRING);
            if (cc->c->source == FSRC_CURRENT_USER)
                cc->col = column_for(&f->user_cols, &f->nuser_cols, cc->c->field, FK_STRING);
            if (cc->c->current_item)
                cc->rhs = column_for(&f->item_cols, &f->nitem_cols, cc->c->current_item, FK_STRING);
            for (size_t v = 0; v < cc->c->nvalues; v++)
                if (cc->c->values[v].kind == FV_PARAM) cc->has_param = true;
            if (cc->c->source == FSRC_ITEMS && !cc->has_param && !cc->rhs)
                cc->bits = filter__item_bits(f, cc, cc->c->values, cc->c->nvalues, &cc->others);
        }
    }
    f->simple = true;
    for (size_t i = 0; i < ast->nexprs; i++) {
        const struct filter_expr *x = &ast->exprs[i];
        if (x->nconds != 1 || x->nuser_conds || x->conds[0].current_item) f->simple = false;
    }
    *out = f;
    return RC_OK;
}

enum rc filter_inputs_read(struct store *s, const struct resource *group, struct filter_inputs *out,
                           struct err *e)
{
    memset(out, 0, sizeof(*out));
    static const enum dataset_type types[] = {DATASET_ITEMS, DATASET_USERS};
    int64_t *ids[] = {&out->items_dataset, &out->users_dataset};
    uint64_t *versions[] = {&out->items_version, &out->users_version};
    enum rc rc = RC_OK;
    for (size_t i = 0; i < ARRAY_SIZE(types) && !rc; i++) {
        struct resource d = {0};
        rc = dataset_find(s, group, types[i], &d, e);
        if (!rc) {
            *ids[i] = d.id;
            rc = store_entity_version(s, d.id, versions[i], e);
        } else if (rc == RC_NOT_FOUND) {
            rc = RC_OK; /* no such dataset (yet) */
        }
        resource_release(&d);
    }
    if (!rc) rc = store_idmap_count(s, group->id, ID_ITEMS, &out->nitems, e);
    if (!rc) rc = store_idmap_count(s, group->id, ID_USERS, &out->nusers, e);
    return rc;
}

void filter_inputs_keep_used(const struct filter *f, struct filter_inputs *in)
{
    /* Items conditions read the metadata and the item map (ITEM_ID, bitset sizes). */
    if (!f->nitem_cols) {
        in->items_dataset = 0;
        in->items_version = 0;
        in->nitems = 0;
    }
    if (!f->nuser_cols) {
        in->users_dataset = 0;
        in->users_version = 0;
        in->nusers = 0;
    }
}

enum rc filter_compile_text(struct store *s, const char *group_name, const char *text,
                            struct filter **out, struct err *e)
{
    struct filter_ast *ast;
    enum rc rc = filter_parse(text, strlen(text), &ast, e);
    if (rc) return rc;
    struct resource g = {0};
    rc = dataset_group_find(s, group_name, &g, e);
    if (rc) {
        filter_ast_free(ast);
        return rc;
    }
    rc = filter_compile(s, &g, ast, out, e);
    resource_release(&g);
    return rc;
}
