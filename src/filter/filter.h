/*
 * filter.h: Personalize's filter expressions, parsed, checked, compiled and
 * applied to recommendations.
 *
 *     INCLUDE ItemID WHERE Items.GENRE IN ($GENRE) | EXCLUDE ItemID WHERE
 *         Interactions.EVENT_TYPE IN ("*")
 *
 * The life of a filter (docs/filters.md has the language for users,
 * docs/internals/filters.md the design):
 *
 * 1. filter_parse(): text -> AST. Pure (no I/O), fuzzed. Errors name the
 *    column and what was expected. CreateFilter calls it, then
 *    filter_validate() against the dataset group's schemas.
 * 2. filter_compile(): AST + store + dataset group -> a compiled filter: the
 *    item and user metadata its conditions need, loaded once. Conditions with
 *    literal values become item bitsets now; conditions with $PARAMs become
 *    bitsets when first bound to a set of values, and are cached per set.
 *    A compiled filter is immutable apart from that cache (mutex-guarded), so
 *    threads share it.
 * 3. filter_bind(): compiled filter + filterValues -> a bound filter (one
 *    request's parameter values; missing EXCLUDE parameters drop their
 *    condition, missing INCLUDE parameters are an error).
 * 4. filter_apply(): bound filter + the request (user, history, current
 *    item) -> the set of items that may be returned. The engine consults it
 *    during top-k selection, so a filter never shortens a list that enough
 *    items could fill.
 */
#ifndef SAVOR_FILTER_H
#define SAVOR_FILTER_H

#include "common/base.h"
#include "store/store.h"

#include <jansson.h>

#define KIND_FILTER "filter"

/* Personalize's limits. */
#define FILTER_MAX_LEN         2500 /* filterExpression length */
#define FILTER_MAX_FIELDS      10   /* distinct dataset fields in one filter */
#define FILTER_MAX_VALUES      25   /* filterValues entries */
#define FILTER_MAX_VALUE_LEN   1000 /* one filterValues value */
#define FILTER_MAX_PARAM_LEN   50   /* a parameter name */
#define FILTER_RECENT_PER_TYPE 100  /* interactions per user and event type considered */

/* ---- AST ------------------------------------------------------------------ */

enum filter_action { FILTER_INCLUDE, FILTER_EXCLUDE };

/* Where a condition's field lives. */
enum filter_source {
    FSRC_ITEMS,        /* Items.FIELD: the candidate item's metadata */
    FSRC_INTERACTIONS, /* Interactions.EVENT_TYPE: the user's interactions with the item */
    FSRC_CURRENT_USER, /* IF CurrentUser.FIELD: the requesting user's metadata */
};

enum filter_op { FOP_IN, FOP_NOT_IN, FOP_EQ, FOP_LT, FOP_LE, FOP_GT, FOP_GE };

enum filter_value_kind {
    FV_STRING, /* "text" */
    FV_NUMBER, /* 12, -3.5 */
    FV_BOOL,   /* true, false */
    FV_STAR,   /* "*" (any event type), only with Interactions.EVENT_TYPE */
    FV_PARAM,  /* $NAME, filled from filterValues */
};

struct filter_value {
    enum filter_value_kind kind;
    char *text;    /* FV_STRING: the string; FV_PARAM: the name without '$' (owned) */
    double number; /* FV_NUMBER, and FV_BOOL as 0/1 */
    uint32_t col;  /* 1-based column in the expression */
};

struct filter_cond {
    enum filter_source source;
    char *field; /* GENRE, EVENT_TYPE, ... (owned) */
    uint32_t col;
    enum filter_op op;
    struct filter_value *values; /* the right-hand side (owned); NULL with current_item */
    size_t nvalues;
    char *current_item; /* right-hand side CurrentItem.FIELD (owned), or NULL */
    bool or_before;     /* joined to the previous condition by OR (else AND) */
};

struct filter_expr {
    enum filter_action action;
    uint32_t col;
    struct filter_cond *conds; /* WHERE ... (AND binds tighter than OR) */
    size_t nconds;
    struct filter_cond *user_conds; /* IF CurrentUser... AND ... (all must hold) */
    size_t nuser_conds;
};

/* A parsed filter: its '|'-separated expressions. */
struct filter_ast {
    struct filter_expr *exprs;
    size_t nexprs;
};

/*
 * Parse 'len' bytes of filter expression text. On success *out is a new AST
 * (free with filter_ast_free()); on failure 'e' (RC_INVALID_INPUT) reads like
 * "filter expression, column 23: expected IN, NOT IN, =, <, <=, > or >=,
 * found 'LIKE'". Checks what needs no schema: grammar, length, one dataset
 * per expression, "*" only for EVENT_TYPE, the number of fields.
 */
enum rc filter_parse(const char *text, size_t len, struct filter_ast **out, struct err *e);
void filter_ast_free(struct filter_ast *ast);

/* Whether the filter needs a user (interaction or CurrentUser conditions). */
bool filter_ast_needs_user(const struct filter_ast *ast);
/* Whether it uses CurrentItem (related-items requests only). */
bool filter_ast_needs_item(const struct filter_ast *ast);

/* ---- Schema checks -------------------------------------------------------- */

/*
 * Check every field against the dataset group 'group' (a dataset group
 * resource): the dataset exists, it has the field, the field can be filtered
 * (not textual) and its type fits the operator and values ("Items.GENRE is a
 * string field: <, <=, > and >= need a numeric field"). RC_INVALID_INPUT
 * with the column on failure. CreateFilter calls this.
 */
enum rc filter_validate(struct store *s, const struct resource *group, const struct filter_ast *ast,
                        struct err *e);

/* ---- Compiled and bound filters ------------------------------------------- */

struct filter;

/*
 * Compile 'ast' (validated here too) against the current metadata of
 * 'group': item indexes are the group's dense item indexes, as in its models.
 * Takes ownership of 'ast' (freed on failure too); the store is used only
 * during the call. The caller frees *out with filter_free(). Metadata
 * changed later (PutItems, imports) is seen by compiling again.
 */
enum rc filter_compile(struct store *s, const struct resource *group, struct filter_ast *ast,
                       struct filter **out, struct err *e);
void filter_free(struct filter *f);

/*
 * What a filter compiled against 'group' now would be built from: its Items
 * and Users datasets, their metadata versions (store_entity_version) and
 * the sizes of the group's item and user ID maps. A few indexed reads. Read
 * it before filter_compile(); when a later read differs (memcmp), the
 * compiled filter is stale.
 */
struct filter_inputs {
    int64_t items_dataset, users_dataset; /* 0 when absent */
    uint64_t items_version, users_version;
    uint32_t nitems, nusers;
};
enum rc filter_inputs_read(struct store *s, const struct resource *group, struct filter_inputs *out,
                           struct err *e);
/*
 * Zero the parts of 'in' that compiled filter 'f' does not read (the Users
 * side of a filter without CurrentUser conditions; both sides of one on
 * Interactions only), so that changes there do not make it stale.
 */
void filter_inputs_keep_used(const struct filter *f, struct filter_inputs *in);

/* Parse and compile in one step: for the CLI and the batch runner. */
enum rc filter_compile_text(struct store *s, const char *group_name, const char *text,
                            struct filter **out, struct err *e);

struct filter_bound;

/*
 * Bind parameter values. 'values' is the request's filterValues: a JSON
 * object mapping a name (without '$') to a string of comma-separated values,
 * each a JSON string or a bare number ("\"Action\",\"Comedy\"", "10"); NULL
 * means none. Errors (RC_INVALID_INPUT): not an object or not strings, over
 * Personalize's limits, a value that does not parse, a missing INCLUDE
 * parameter. 'f' must outlive *out; free with filter_bound_free().
 */
enum rc filter_bind(struct filter *f, const json_t *values, struct filter_bound **out,
                    struct err *e);
/* The same with filterValues as JSON text (NULL or "" for none). */
enum rc filter_bind_text(struct filter *f, const char *values_json, struct filter_bound **out,
                         struct err *e);
void filter_bound_free(struct filter_bound *b);

/*
 * One request, as the engine knows it. The history is the user's items
 * (ascending indexes) with a mask of the event types behind each
 * (event_type_bit() of models/weighting.h: bit t for type index t < 30,
 * bit 30 for the rest, bit 31 for events without a type) and the time of
 * the user's latest event on each; type_names are the model's event type
 * names by index. Interaction conditions see, per event type (mask bit),
 * only the FILTER_RECENT_PER_TYPE items with the latest times (all of them
 * when history_last is NULL).
 */
struct filter_request {
    const char *user_id;   /* may be NULL */
    uint32_t current_item; /* related items: the request's item; UINT32_MAX for none */
    const uint32_t *history_items;
    const uint32_t *history_types;
    const int64_t *history_last; /* may be NULL */
    size_t history_n;
    const char *const *type_names;
    uint32_t ntypes;
};

/* The outcome of filter_apply(): which items may be returned. */
struct filter_verdict {
    uint64_t *allow;   /* bit j set: item j may be returned (owned) */
    uint32_t nitems;   /* bits in 'allow' */
    bool allow_others; /* the verdict for items past nitems (no metadata, no interactions) */
};

/*
 * Decide which items pass for one request. *v is filled (release with
 * filter_verdict_release()); 'nitems' is at least the model's item count.
 * Safe to call from several threads on the same bound filter.
 */
enum rc filter_apply(const struct filter_bound *b, const struct filter_request *r, uint32_t nitems,
                     struct filter_verdict *v, struct err *e);
void filter_verdict_release(struct filter_verdict *v);

static inline bool filter_allows(const struct filter_verdict *v, uint32_t item)
{
    if (item >= v->nitems) return v->allow_others;
    return (v->allow[item >> 6] >> (item & 63)) & 1;
}

#endif
