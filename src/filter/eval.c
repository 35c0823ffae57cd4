/*
 * eval.c: binding a compiled filter to a request's filterValues, and
 * deciding which items pass.
 *
 * Every condition becomes a set of items (a bitset, plus one bit for items
 * past the bitset: those with no metadata and no interactions). Within an
 * expression, AND binds tighter than OR; an expression's IF CurrentUser
 * conditions, when false, switch the whole expression off. Across '|':
 * allowed = (union of INCLUDE sets, or every item without an INCLUDE)
 * minus the union of EXCLUDE sets.
 */
#include "common/base.h"
#include "common/buf.h"
#include "filter/filter.h"
#include "filter/filter_int.h"

#include <math.h>
#include <strings.h>

#define FCACHE_MAX 1024 /* bound value sets cached per filter */

/* ---- Matching values -------------------------------------------------------- */

/* A value as a number (NaN when it is not one). */
static double as_number(const struct filter_value *v)
{
    if (v->kind == FV_NUMBER || v->kind == FV_BOOL) return v->number;
    if (v->kind != FV_STRING) return NAN;
    if (!strcasecmp(v->text, "true")) return 1;
    if (!strcasecmp(v->text, "false")) return 0;
    char *end;
    double d = strtod(v->text, &end);
    return end != v->text && !*end ? d : NAN;
}

/* A value as a string ('buf' holds numbers' text). */
static const char *as_string(const struct filter_value *v, char *buf, size_t n)
{
    if (v->kind == FV_STRING) return v->text;
    if (v->kind == FV_BOOL) return v->number ? "true" : "false";
    if (v->kind == FV_NUMBER) {
        snprintf(buf, n, "%.17g", v->number);
        return buf;
    }
    return "";
}

static bool cmp_number(double x, enum filter_op op, double y)
{
    switch (op) {
    case FOP_IN:
    case FOP_NOT_IN:
    case FOP_EQ:
        return x == y;
    case FOP_LT:
        return x < y;
    case FOP_LE:
        return x <= y;
    case FOP_GT:
        return x > y;
    case FOP_GE:
        return x >= y;
    }
    return false;
}

bool filter__match(const struct fcolumn *col, uint32_t i, enum filter_op op,
                   const struct filter_value *values, size_t n)
{
    bool hit = false;
    if (i < col->n && col->kind == FK_STRING) {
        char buf[40];
        for (uint64_t k = col->indptr[i]; k < col->indptr[i + 1] && !hit; k++) {
            size_t len;
            const char *s = strmap_key(col->dict, col->vals[k], &len);
            for (size_t v = 0; v < n && !hit; v++) {
                const char *t = as_string(&values[v], buf, sizeof(buf));
                hit = strlen(t) == len && memcmp(s, t, len) == 0;
            }
        }
    } else if (i < col->n && !isnan(col->num[i])) {
        for (size_t v = 0; v < n && !hit; v++)
            hit = cmp_number(col->num[i], op, as_number(&values[v]));
    }
    return op == FOP_NOT_IN ? !hit : hit;
}

static void set_bit(uint64_t *w, uint32_t i)
{
    w[i >> 6] |= 1ull << (i & 63);
}

uint64_t *filter__item_bits(const struct filter *f, const struct ccond *cc,
                            const struct filter_value *values, size_t n, bool *others)
{
    const struct fcolumn *col = cc->col;
    enum filter_op op = cc->c->op;
    uint64_t *bits = xcalloc(f->nwords ? f->nwords : 1, sizeof(uint64_t));
    if (col->kind == FK_STRING && (op == FOP_IN || op == FOP_NOT_IN || op == FOP_EQ)) {
        /* Mark the listed values in the field's dictionary, then test each item's values. */
        uint32_t nd = strmap_count(col->dict);
        bool *marked = xcalloc(nd ? nd : 1, sizeof(bool));
        char buf[40];
        for (size_t v = 0; v < n; v++) {
            const char *t = as_string(&values[v], buf, sizeof(buf));
            uint32_t id;
            if (strmap_get(col->dict, t, strlen(t), &id)) marked[id] = true;
        }
        for (uint32_t i = 0; i < f->nitems && i < col->n; i++) {
            bool hit = false;
            for (uint64_t k = col->indptr[i]; k < col->indptr[i + 1] && !hit; k++)
                hit = marked[col->vals[k]];
            if (hit != (op == FOP_NOT_IN)) set_bit(bits, i);
        }
        free(marked);
    } else {
        for (uint32_t i = 0; i < f->nitems; i++)
            if (filter__match(col, i, op, values, n)) set_bit(bits, i);
    }
    *others = filter__match(col, UINT32_MAX, op, values, n);
    /* The bits past nitems in the last word stand for "others". */
    if (*others && (f->nitems & 63)) bits[f->nwords - 1] |= ~0ull << (f->nitems & 63);
    return bits;
}

/* ---- Binding ---------------------------------------------------------------- */

struct bcond {
    bool dropped; /* a missing EXCLUDE parameter: this condition is ignored */
    const struct filter_value *vals;
    size_t nvals;
    struct filter_value *owned_vals;
    const uint64_t *bits; /* Items conditions without CurrentItem */
    uint64_t *owned_bits;
    bool others;
};

struct filter_bound {
    struct filter *f;
    struct bcond *conds;
};

void filter_bound_free(struct filter_bound *b)
{
    if (!b) return;
    for (size_t i = 0; i < b->f->nconds; i++) {
        struct bcond *bc = &b->conds[i];
        for (size_t v = 0; bc->owned_vals && v < bc->nvals; v++)
            free(bc->owned_vals[v].text);
        free(bc->owned_vals);
        free(bc->owned_bits);
    }
    free(b->conds);
    free(b);
}

static bool param_name_ok(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > FILTER_MAX_PARAM_LEN) return false;
    for (size_t i = 0; i < n; i++)
        if (!(k[i] == '_' || (k[i] >= '0' && k[i] <= '9') || (k[i] >= 'a' && k[i] <= 'z') ||
              (k[i] >= 'A' && k[i] <= 'Z')))
            return false;
    return true;
}

static enum rc check_values(const json_t *values, struct err *e)
{
    if (!values) return RC_OK;
    if (!json_is_object(values))
        return err_set(e, RC_INVALID_INPUT, "filterValues: expected an object of strings");
    if (json_object_size(values) > FILTER_MAX_VALUES)
        return err_set(e, RC_INVALID_INPUT, "filterValues: %zu entries; the limit is %d",
                       json_object_size(values), FILTER_MAX_VALUES);
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)values, key, v)
    {
        if (!param_name_ok(key))
            return err_set(e, RC_INVALID_INPUT,
                           "filterValues: '%.60s' is not a parameter name (1 to 50 of "
                           "[A-Za-z0-9_])",
                           key);
        if (!json_is_string(v))
            return err_set(e, RC_INVALID_INPUT, "filterValues.%s: expected a string", key);
        if (json_string_length(v) > FILTER_MAX_VALUE_LEN)
            return err_set(e, RC_INVALID_INPUT, "filterValues.%s: %zu characters; the limit is %d",
                           key, json_string_length(v), FILTER_MAX_VALUE_LEN);
    }
    return RC_OK;
}

/* Append the comma-separated values of parameter text 's' to 'out'. */
static enum rc parse_param(const char *name, const char *s, struct filter_value **out, size_t *n,
                           struct err *e)
{
    char *wrapped = xasprintf("[%s]", s);
    json_error_t je;
    json_t *a = json_loads(wrapped, JSON_DECODE_ANY, &je);
    free(wrapped);
    if (!json_is_array(a)) {
        json_decref(a);
        return err_set(
            e, RC_INVALID_INPUT,
            "filterValues.%s: expected comma-separated values such as "
            "\"\\\"Action\\\",\\\"Comedy\\\"\" (quoted strings or numbers), found '%.80s'",
            name, s);
    }
    size_t i;
    json_t *x;
    json_array_foreach(a, i, x)
    {
        struct filter_value v = {0};
        if (json_is_string(x)) {
            v.kind = FV_STRING;
            v.text = xstrdup(json_string_value(x));
        } else if (json_is_number(x)) {
            v.kind = FV_NUMBER;
            v.number = json_number_value(x);
        } else if (json_is_boolean(x)) {
            v.kind = FV_BOOL;
            v.number = json_is_true(x);
        } else {
            json_decref(a);
            return err_set(e, RC_INVALID_INPUT,
                           "filterValues.%s: value %zu is not a string or a number", name, i + 1);
        }
        *out = xreallocarray(*out, *n + 1, sizeof(**out));
        (*out)[(*n)++] = v;
    }
    json_decref(a);
    return RC_OK;
}

/*
 * The cache key of Items condition i for this request (binary): its index and
 * the raw text of each of its parameters, length-prefixed (the literal values
 * are the condition's own). False when a parameter has no value.
 */
static bool cache_key(const struct ccond *cc, uint32_t i, const json_t *values, struct buf *key)
{
    buf_add(key, &i, sizeof(i));
    for (size_t k = 0; k < cc->c->nvalues; k++) {
        const struct filter_value *v = &cc->c->values[k];
        if (v->kind != FV_PARAM) continue;
        const json_t *s = values ? json_object_get(values, v->text) : NULL;
        if (!json_is_string(s)) return false;
        size_t len = json_string_length(s);
        buf_add(key, &len, sizeof(len));
        buf_add(key, json_string_value(s), len);
    }
    return true;
}

/* The cached bitset for 'key', into bc; false when there is none. */
static bool cache_find(struct filter *f, const struct buf *key, struct bcond *bc)
{
    uint32_t idx;
    pthread_mutex_lock(&f->lock);
    bool hit = strmap_get(f->cache_keys, key->data, key->len, &idx);
    if (hit) {
        bc->bits = f->cache[idx].bits;
        bc->others = f->cache[idx].others;
    }
    pthread_mutex_unlock(&f->lock);
    return hit;
}

/*
 * Item bits for condition i bound to 'bc's values: computed and cached under
 * 'key' (raw texts, so that the next request with them skips parsing too).
 */
static void bind_item_bits(struct filter *f, uint32_t i, struct bcond *bc, const struct buf *key)
{
    uint64_t *bits = filter__item_bits(f, &f->conds[i], bc->vals, bc->nvals, &bc->others);
    pthread_mutex_lock(&f->lock);
    uint32_t n = strmap_count(f->cache_keys), idx;
    if (strmap_get(f->cache_keys, key->data, key->len, &idx)) {
        /* Another request cached it meanwhile. */
        bc->bits = bc->owned_bits = bits;
    } else if (n < FCACHE_MAX) {
        /* Entries live as long as the filter, so bound filters may borrow them. */
        f->cache = xreallocarray(f->cache, n + 1, sizeof(*f->cache));
        strmap_intern(f->cache_keys, key->data, key->len, NULL);
        f->cache[n] = (struct fcache_entry){bits, bc->others};
        bc->bits = bits;
    } else {
        bc->bits = bc->owned_bits = bits;
    }
    pthread_mutex_unlock(&f->lock);
}

enum rc filter_bind(struct filter *f, const json_t *values, struct filter_bound **out,
                    struct err *e)
{
    enum rc rc = check_values(values, e);
    if (rc) return rc;
    struct filter_bound *b = xcalloc(1, sizeof(*b));
    b->f = f;
    b->conds = xcalloc(f->nconds ? f->nconds : 1, sizeof(*b->conds));
    struct buf key;
    buf_init(&key, SIZE_MAX);
    for (uint32_t i = 0; i < f->nconds && !rc; i++) {
        const struct ccond *cc = &f->conds[i];
        struct bcond *bc = &b->conds[i];
        if (!cc->has_param) {
            bc->vals = cc->c->values;
            bc->nvals = cc->c->nvalues;
            bc->bits = cc->bits;
            bc->others = cc->others;
            continue;
        }
        /* Items conditions: the bitset of these parameter texts, if cached (no parsing). */
        bool item_bits = cc->c->source == FSRC_ITEMS && !cc->rhs;
        buf_reset(&key);
        if (item_bits && cache_key(cc, i, values, &key) && cache_find(f, &key, bc)) continue;
        for (size_t k = 0; k < cc->c->nvalues && !rc && !bc->dropped; k++) {
            const struct filter_value *v = &cc->c->values[k];
            if (v->kind != FV_PARAM) {
                struct filter_value copy = *v;
                if (copy.text) copy.text = xstrdup(copy.text);
                bc->owned_vals = xreallocarray(bc->owned_vals, bc->nvals + 1, sizeof(copy));
                bc->owned_vals[bc->nvals++] = copy;
                continue;
            }
            json_t *s = values ? json_object_get(values, v->text) : NULL;
            if (s) {
                rc = parse_param(v->text, json_string_value(s), &bc->owned_vals, &bc->nvals, e);
            } else if (f->ast->exprs[cc->expr].action == FILTER_EXCLUDE) {
                bc->dropped = true; /* as Personalize: that part of an EXCLUDE is ignored */
            } else {
                rc = err_set(e, RC_INVALID_INPUT,
                             "filter parameter $%s has no value in filterValues (INCLUDE "
                             "expressions need all their parameters)",
                             v->text);
            }
        }
        bc->vals = bc->owned_vals;
        if (!rc && !bc->dropped && cc->c->source != FSRC_INTERACTIONS) {
            /* The values must fit the field, as literals must. */
            for (size_t k = 0; k < bc->nvals && !rc; k++) {
                bool number_field = cc->col->kind != FK_STRING;
                if (number_field && isnan(as_number(&bc->vals[k])))
                    rc = err_set(e, RC_INVALID_INPUT,
                                 "filterValues: %s.%s is %s field, found '%.80s'",
                                 cc->c->source == FSRC_ITEMS ? "Items" : "CurrentUser",
                                 cc->c->field, cc->col->kind == FK_BOOL ? "a boolean" : "a numeric",
                                 bc->vals[k].kind == FV_STRING ? bc->vals[k].text : "?");
            }
        }
        if (!rc && !bc->dropped && item_bits) bind_item_bits(f, i, bc, &key);
    }
    buf_release(&key);
    if (rc) {
        filter_bound_free(b);
        return rc;
    }
    *out = b;
    return RC_OK;
}

enum rc filter_bind_text(struct filter *f, const char *values_json, struct filter_bound **out,
                         struct err *e)
{
    if (!values_json || !*values_json) return filter_bind(f, NULL, out, e);
    json_error_t je;
    json_t *v = json_loads(values_json, 0, &je);
    if (!v)
        return err_set(e, RC_INVALID_INPUT, "filterValues: not JSON: %s at column %d", je.text,
                       je.column);
    enum rc rc = filter_bind(f, v, out, e);
    json_decref(v);
    return rc;
}

/* ---- Applying --------------------------------------------------------------- */

void filter_verdict_release(struct filter_verdict *v)
{
    free(v->allow);
    memset(v, 0, sizeof(*v));
}

/* The event types a condition's values name, as a mask of event_type_bit()s. */
static uint32_t type_mask(const struct filter_request *r, const struct filter_value *v, size_t n)
{
    uint32_t mask = 0;
    for (size_t k = 0; k < n; k++) {
        /* "*" (Personalize writes it quoted) is every event type. */
        if (v[k].kind == FV_STAR || (v[k].kind == FV_STRING && !strcmp(v[k].text, "*")))
            return UINT32_MAX;
        if (v[k].kind != FV_STRING) continue;
        /* Personalize matches event types without regard to case. */
        for (uint32_t t = 0; t < r->ntypes; t++)
            if (r->type_names[t] && !strcasecmp(r->type_names[t], v[k].text))
                mask |= 1u << (t < 30 ? t : 30);
    }
    return mask;
}

/*
 * Personalize's limit: per event type, only the user's latest
 * FILTER_RECENT_PER_TYPE interactions count. The history has one entry per
 * item (its types and its latest time), so for each type bit the items with
 * the latest times are kept (ties: the lower index). Returns the history's
 * type masks with the bits of older items cleared: r->history_types itself
 * when no type is over the limit, else a new array in *owned (caller frees).
 */
static int newest_first(const void *a, const void *b, void *ctx)
{
    const int64_t *last = ctx;
    size_t i = *(const size_t *)a, j = *(const size_t *)b;
    if (last[i] != last[j]) return last[i] > last[j] ? -1 : 1;
    return i < j ? -1 : i > j;
}

static const uint32_t *recent_types(const struct filter_request *r, uint32_t **owned)
{
    *owned = NULL;
    if (!r->history_last || r->history_n <= FILTER_RECENT_PER_TYPE) return r->history_types;
    size_t count[32] = {0};
    for (size_t k = 0; k < r->history_n; k++)
        for (uint32_t t = r->history_types[k]; t; t &= t - 1)
            count[__builtin_ctz(t)]++;
    uint32_t over = 0;
    for (int b = 0; b < 32; b++)
        if (count[b] > FILTER_RECENT_PER_TYPE) over |= 1u << b;
    if (!over) return r->history_types;
    uint32_t *types = xmallocarray(r->history_n, sizeof(uint32_t));
    memcpy(types, r->history_types, r->history_n * sizeof(uint32_t));
    size_t *idx = xmallocarray(r->history_n, sizeof(size_t));
    for (; over; over &= over - 1) {
        uint32_t bit = 1u << __builtin_ctz(over);
        size_t m = 0;
        for (size_t k = 0; k < r->history_n; k++)
            if (r->history_types[k] & bit) idx[m++] = k;
        qsort_r(idx, m, sizeof(*idx), newest_first, (void *)r->history_last);
        for (size_t i = FILTER_RECENT_PER_TYPE; i < m; i++)
            types[idx[i]] &= ~bit;
    }
    free(idx);
    *owned = types;
    return types;
}

/* One request being decided: the request, and its recent types once needed. */
struct apply_ctx {
    const struct filter_bound *b;
    const struct filter_request *r;
    const uint32_t *types; /* recent_types(), on first use */
    uint32_t *owned_types;
};

/* The event type bits whose history items Interactions condition i selects. */
static uint32_t interaction_want(struct apply_ctx *a, uint32_t i)
{
    const struct filter_cond *c = a->b->f->conds[i].c;
    const struct bcond *bc = &a->b->conds[i];
    if (!a->types) a->types = recent_types(a->r, &a->owned_types);
    uint32_t listed = type_mask(a->r, bc->vals, bc->nvals);
    return c->op == FOP_NOT_IN ? ~listed : listed;
}

/* Set (or with 'clear', clear) in 'set' of w words the history items of interaction condition i. */
static void interaction_bits(struct apply_ctx *a, uint32_t i, uint64_t *set, uint32_t w, bool clear)
{
    uint32_t want = interaction_want(a, i);
    const struct filter_request *r = a->r;
    for (size_t k = 0; k < r->history_n; k++) {
        uint32_t it = r->history_items[k];
        if (it >= (uint64_t)w * 64 || !(a->types[k] & want)) continue;
        if (clear)
            set[it >> 6] &= ~(1ull << (it & 63));
        else
            set_bit(set, it);
    }
}

/* Copy an item bitset of f->nwords into 'dst' of 'w' words, filling the rest with 'others'. */
static void copy_bits(uint64_t *dst, uint32_t w, const uint64_t *src, uint32_t nsrc, bool others)
{
    uint32_t n = MIN(w, nsrc);
    memcpy(dst, src, n * sizeof(uint64_t));
    for (uint32_t i = n; i < w; i++)
        dst[i] = others ? ~0ull : 0;
}

/* The items condition i selects for the request, into 'set' (w words); returns "others". */
static bool cond_set(struct apply_ctx *a, uint32_t i, uint64_t *set, uint32_t w)
{
    const struct filter *f = a->b->f;
    const struct ccond *cc = &f->conds[i];
    const struct bcond *bc = &a->b->conds[i];
    if (cc->c->source == FSRC_INTERACTIONS) {
        memset(set, 0, w * sizeof(uint64_t));
        interaction_bits(a, i, set, w, false);
        return false;
    }
    if (cc->rhs) {
        /* Items.F op CurrentItem.G: the current item's values, then as a literal list. */
        const struct fcolumn *rc = cc->rhs;
        uint32_t ci = a->r->current_item;
        if (ci == UINT32_MAX || ci >= rc->n) {
            memset(set, 0, w * sizeof(uint64_t));
            return false;
        }
        struct filter_value *vals = NULL;
        size_t n = 0;
        if (rc->kind == FK_STRING) {
            n = (size_t)(rc->indptr[ci + 1] - rc->indptr[ci]);
            vals = xcalloc(n ? n : 1, sizeof(*vals));
            for (size_t k = 0; k < n; k++) {
                vals[k].kind = FV_STRING;
                vals[k].text = (char *)strmap_key(rc->dict, rc->vals[rc->indptr[ci] + k], NULL);
            }
        } else if (!isnan(rc->num[ci])) {
            n = 1;
            vals = xcalloc(1, sizeof(*vals));
            vals[0].kind = FV_NUMBER;
            vals[0].number = rc->num[ci];
        }
        bool others = false;
        if (!n) {
            memset(set, 0, w * sizeof(uint64_t));
        } else {
            uint64_t *bits = filter__item_bits(f, cc, vals, n, &others);
            copy_bits(set, w, bits, f->nwords, others);
            free(bits);
        }
        free(vals);
        return others;
    }
    copy_bits(set, w, bc->bits, f->nwords, bc->others);
    return bc->others;
}

/*
 * The common shape, every expression one condition on Items (no CurrentItem)
 * or Interactions and no IF CurrentUser: the verdict is built in place, the
 * included sets OR-ed into it and the excluded ones cleared from it, with
 * interaction conditions touching only the history's items. Returns "others".
 */
static bool apply_simple(struct apply_ctx *a, uint64_t *allow, uint32_t w)
{
    const struct filter *f = a->b->f;
    uint32_t nw = MIN(w, f->nwords);
    bool any_incl = false, others = false;
    for (uint32_t i = 0; i < f->nconds; i++) {
        const struct bcond *bc = &a->b->conds[i];
        if (bc->dropped || f->ast->exprs[f->conds[i].expr].action != FILTER_INCLUDE) continue;
        if (!any_incl) memset(allow, 0, w * sizeof(uint64_t));
        any_incl = true;
        if (f->conds[i].c->source == FSRC_INTERACTIONS) {
            interaction_bits(a, i, allow, w, false);
            continue;
        }
        for (uint32_t j = 0; j < nw; j++)
            allow[j] |= bc->bits[j];
        if (bc->others)
            for (uint32_t j = nw; j < w; j++)
                allow[j] = ~0ull;
        others = others || bc->others;
    }
    if (!any_incl) {
        memset(allow, 0xff, w * sizeof(uint64_t));
        others = true;
    }
    for (uint32_t i = 0; i < f->nconds; i++) {
        const struct bcond *bc = &a->b->conds[i];
        if (bc->dropped || f->ast->exprs[f->conds[i].expr].action != FILTER_EXCLUDE) continue;
        if (f->conds[i].c->source == FSRC_INTERACTIONS) {
            interaction_bits(a, i, allow, w, true);
            continue;
        }
        for (uint32_t j = 0; j < nw; j++)
            allow[j] &= ~bc->bits[j];
        if (bc->others)
            for (uint32_t j = nw; j < w; j++)
                allow[j] = 0;
        others = others && !bc->others;
    }
    return others;
}

/* Any shape: AND-groups, OR, IF CurrentUser, CurrentItem. Returns "others". */
static bool apply_general(struct apply_ctx *a, uint64_t *incl, uint32_t w)
{
    const struct filter_bound *b = a->b;
    const struct filter *f = b->f;
    /* One block for the scratch sets: excl, expr, group, set. */
    uint64_t *scratch = xcalloc((size_t)4 * w, sizeof(uint64_t));
    uint64_t *excl = scratch, *expr = scratch + w, *group = scratch + 2 * (size_t)w,
             *set = scratch + 3 * (size_t)w;
    memset(incl, 0, w * sizeof(uint64_t));
    bool any_incl = false, incl_o = false, excl_o = false;
    uint32_t user = UINT32_MAX;
    const char *uid = a->r->user_id;
    if (uid && f->users) strmap_get(f->users, uid, strlen(uid), &user);
    uint32_t i = 0;
    for (uint32_t x = 0; x < f->ast->nexprs; x++) {
        const struct filter_expr *fx = &f->ast->exprs[x];
        uint32_t first = i, end = i + (uint32_t)(fx->nconds + fx->nuser_conds);
        i = end;
        /* IF CurrentUser...: all must hold, or the expression does not apply. */
        bool on = true;
        for (uint32_t k = first + (uint32_t)fx->nconds; k < end && on; k++) {
            const struct bcond *bc = &b->conds[k];
            if (!bc->dropped)
                on = filter__match(f->conds[k].col, user, f->conds[k].c->op, bc->vals, bc->nvals);
        }
        if (!on) continue;
        /* OR of AND-groups; dropped conditions leave their group, empty groups leave the OR. */
        bool have_expr = false, expr_o = false;
        memset(expr, 0, w * sizeof(uint64_t));
        uint32_t k = first;
        while (k < first + fx->nconds) {
            bool have_group = false, group_o = false;
            uint32_t g = k;
            do {
                if (!b->conds[g].dropped) {
                    bool o = cond_set(a, g, set, w);
                    if (!have_group) {
                        memcpy(group, set, w * sizeof(uint64_t));
                        group_o = o;
                    } else {
                        for (uint32_t j = 0; j < w; j++)
                            group[j] &= set[j];
                        group_o = group_o && o;
                    }
                    have_group = true;
                }
                g++;
            } while (g < first + fx->nconds && !f->conds[g].c->or_before);
            if (have_group) {
                for (uint32_t j = 0; j < w; j++)
                    expr[j] |= group[j];
                expr_o = expr_o || group_o;
                have_expr = true;
            }
            k = g;
        }
        if (!have_expr) continue;
        uint64_t *acc = fx->action == FILTER_INCLUDE ? incl : excl;
        for (uint32_t j = 0; j < w; j++)
            acc[j] |= expr[j];
        if (fx->action == FILTER_INCLUDE) {
            any_incl = true;
            incl_o = incl_o || expr_o;
        } else {
            excl_o = excl_o || expr_o;
        }
    }
    for (uint32_t j = 0; j < w; j++)
        incl[j] = (any_incl ? incl[j] : ~0ull) & ~excl[j];
    free(scratch);
    return (any_incl ? incl_o : true) && !excl_o;
}

enum rc filter_apply(const struct filter_bound *b, const struct filter_request *r, uint32_t nitems,
                     struct filter_verdict *v, struct err *e)
{
    UNUSED(e);
    const struct filter *f = b->f;
    uint32_t n = MAX(nitems, f->nitems);
    uint32_t w = (n + 63) / 64 + 1;
    struct apply_ctx a = {b, r, NULL, NULL};
    v->allow = xmallocarray(w, sizeof(uint64_t));
    v->nitems = n;
    v->allow_others = f->simple ? apply_simple(&a, v->allow, w) : apply_general(&a, v->allow, w);
    free(a.owned_types);
    return RC_OK;
}
