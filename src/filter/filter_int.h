/*
 * filter_int.h: shared inside src/filter/ (the lexer's tokens).
 */
#ifndef SAVOR_FILTER_INT_H
#define SAVOR_FILTER_INT_H

#include "common/base.h"

enum ftok {
    TK_END,
    TK_IDENT,  /* a word: keyword, dataset or field name */
    TK_STRING, /* "..." (value decoded into the token) */
    TK_NUMBER,
    TK_PARAM, /* $NAME */
    TK_DOT,
    TK_LPAREN,
    TK_RPAREN,
    TK_COMMA,
    TK_PIPE,
    TK_STAR,
    TK_EQ,
    TK_LT,
    TK_LE,
    TK_GT,
    TK_GE,
    TK_ERROR, /* a character that starts no token, or an unterminated string */
};

struct ftoken {
    enum ftok kind;
    const char *p; /* where it starts in the expression */
    size_t len;    /* its length in the expression */
    uint32_t col;  /* 1-based */
    double number;
    char *str;       /* TK_STRING: decoded value; TK_PARAM: name (owned by the lexer's caller) */
    const char *why; /* TK_ERROR: what is wrong */
};

struct flexer {
    const char *text;
    size_t len;
    size_t pos;
};

/* The next token; t->str is allocated for strings and parameters (the caller frees). */
void flexer_next(struct flexer *lx, struct ftoken *t);

/* ---- Compiled filters (compile.c builds them, eval.c uses them) ------------- */

#include "common/strmap.h"
#include "dataset/schema.h"
#include "filter/filter.h"

#include <pthread.h>

/* How a field's values compare. */
enum fkind { FK_STRING, FK_NUMBER, FK_BOOL };

/* One metadata field of every item (or user), loaded once. */
struct fcolumn {
    char *name;
    enum fkind kind;
    uint32_t n;       /* entities */
    double *num;      /* FK_NUMBER / FK_BOOL: per entity, NaN when missing */
    uint64_t *indptr; /* FK_STRING: entity i's values are vals[indptr[i] .. indptr[i+1]) */
    uint32_t *vals;   /* value ids in 'dict' */
    struct strmap *dict;
};

/* A condition, compiled. */
struct ccond {
    const struct filter_cond *c; /* in the filter's AST */
    uint32_t expr;               /* which expression */
    struct fcolumn *col; /* Items / CurrentUser: the field's values; NULL for Interactions */
    struct fcolumn *rhs; /* CurrentItem.FIELD's values, or NULL */
    bool has_param;
    uint64_t *bits; /* Items with literal values only: the matching items, computed once */
    bool others;    /* the verdict for an item with no metadata (with 'bits') */
};

/* An Items condition's bitset for one set of parameter values (see bind_item_bits). */
struct fcache_entry {
    uint64_t *bits;
    bool others;
};

struct filter {
    struct filter_ast *ast; /* owned */
    struct ccond *conds;    /* all conditions, expression by expression */
    size_t nconds;
    bool simple;     /* every expression one Items (no CurrentItem) or Interactions condition */
    uint32_t nitems; /* items in the group when compiled */
    uint32_t nwords; /* words of an item bitset */
    struct fcolumn *item_cols, *user_cols;
    size_t nitem_cols, nuser_cols;
    struct strmap *users;      /* user ID -> index, when CurrentUser is used */
    pthread_mutex_t lock;      /* guards the cache */
    struct strmap *cache_keys; /* condition and raw parameter texts -> index in 'cache' */
    struct fcache_entry *cache;
};

/* Item bitset of condition 'cc' for resolved 'values' (no parameters left); caller frees. */
uint64_t *filter__item_bits(const struct filter *f, const struct ccond *cc,
                            const struct filter_value *values, size_t n, bool *others);
/* Whether entity 'i' of 'col' satisfies op/values (i past the column: no metadata). */
bool filter__match(const struct fcolumn *col, uint32_t i, enum filter_op op,
                   const struct filter_value *values, size_t n);

#endif
