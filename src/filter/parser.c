/*
 * parser.c: filter expression tokens -> AST (recursive descent).
 *
 *   filter     = expression { "|" expression }
 *   expression = ("INCLUDE" | "EXCLUDE") "ItemID" "WHERE" condition
 *                { ("AND" | "OR") condition } [ "IF" user_cond { "AND" user_cond } ]
 *   condition  = ("Items" | "Interactions") "." FIELD operator operand
 *   user_cond  = "CurrentUser" "." FIELD operator operand
 *   operator   = "IN" | "NOT" "IN" | "=" | "<" | "<=" | ">" | ">="
 *   operand    = "(" value { "," value } ")" | "CurrentItem" "." FIELD | value   (lists only after
 * IN) value      = STRING | NUMBER | "true" | "false" | "*" | "$" NAME
 *
 * Keywords and dataset names are matched without regard to case; field and
 * parameter names are case-sensitive. Every error says the column, what was
 * expected and what was found.
 */
#include "common/base.h"
#include "common/vec.h"
#include "filter/filter.h"
#include "filter/filter_int.h"

#include <strings.h>

struct parser {
    struct flexer lx;
    struct ftoken tok; /* the current token */
    struct err *e;
    enum rc rc;
};

static bool is_word(const struct ftoken *t, const char *w)
{
    return t->kind == TK_IDENT && strlen(w) == t->len && strncasecmp(t->p, w, t->len) == 0;
}

static void advance(struct parser *ps)
{
    free(ps->tok.str);
    flexer_next(&ps->lx, &ps->tok);
}

/* Describe the current token for "found ...". */
static void describe(const struct ftoken *t, char *out, size_t n)
{
    if (t->kind == TK_END) {
        snprintf(out, n, "the end of the expression");
        return;
    }
    int len = (int)MIN(t->len, 40);
    snprintf(out, n, "'%.*s%s'", len, t->p, t->len > 40 ? "..." : "");
}

/* Record "column N: expected WHAT, found TOKEN" (the first error wins). */
static enum rc expected(struct parser *ps, const char *what)
{
    if (ps->rc) return ps->rc;
    char found[64];
    describe(&ps->tok, found, sizeof(found));
    if (ps->tok.kind == TK_ERROR)
        ps->rc = err_set(ps->e, RC_INVALID_INPUT, "filter expression, column %u: %s: %s",
                         ps->tok.col, ps->tok.why, found);
    else
        ps->rc =
            err_set(ps->e, RC_INVALID_INPUT, "filter expression, column %u: expected %s, found %s",
                    ps->tok.col, what, found);
    return ps->rc;
}

static enum rc fail_at(struct parser *ps, uint32_t col, const char *fmt, const char *a,
                       const char *b)
{
    if (ps->rc) return ps->rc;
    char msg[ERR_MSG_MAX];
    snprintf(msg, sizeof(msg), fmt, a, b);
    ps->rc = err_set(ps->e, RC_INVALID_INPUT, "filter expression, column %u: %s", col, msg);
    return ps->rc;
}

static char *take_word(struct parser *ps)
{
    char *w = xstrndup(ps->tok.p, ps->tok.len);
    advance(ps);
    return w;
}

/* ---- Freeing ---------------------------------------------------------------- */

static void cond_release(struct filter_cond *c)
{
    for (size_t i = 0; i < c->nvalues; i++)
        free(c->values[i].text);
    free(c->values);
    free(c->field);
    free(c->current_item);
}

static void expr_release(struct filter_expr *x)
{
    for (size_t i = 0; i < x->nconds; i++)
        cond_release(&x->conds[i]);
    for (size_t i = 0; i < x->nuser_conds; i++)
        cond_release(&x->user_conds[i]);
    free(x->conds);
    free(x->user_conds);
}

void filter_ast_free(struct filter_ast *ast)
{
    if (!ast) return;
    for (size_t i = 0; i < ast->nexprs; i++)
        expr_release(&ast->exprs[i]);
    free(ast->exprs);
    free(ast);
}

/* ---- Grammar ---------------------------------------------------------------- */

static const char ops_expected[] = "IN, NOT IN, =, <, <=, > or >=";

static enum rc parse_op(struct parser *ps, enum filter_op *op)
{
    switch (ps->tok.kind) {
    case TK_EQ:
        *op = FOP_EQ;
        break;
    case TK_LT:
        *op = FOP_LT;
        break;
    case TK_LE:
        *op = FOP_LE;
        break;
    case TK_GT:
        *op = FOP_GT;
        break;
    case TK_GE:
        *op = FOP_GE;
        break;
    default:
        if (is_word(&ps->tok, "IN")) {
            *op = FOP_IN;
        } else if (is_word(&ps->tok, "NOT")) {
            advance(ps);
            if (!is_word(&ps->tok, "IN")) return expected(ps, "IN after NOT");
            *op = FOP_NOT_IN;
        } else {
            return expected(ps, ops_expected);
        }
    }
    advance(ps);
    return RC_OK;
}

static enum rc parse_value(struct parser *ps, struct filter_value *v)
{
    memset(v, 0, sizeof(*v));
    v->col = ps->tok.col;
    switch (ps->tok.kind) {
    case TK_STRING:
    case TK_PARAM:
        v->kind = ps->tok.kind == TK_STRING ? FV_STRING : FV_PARAM;
        v->text = ps->tok.str;
        ps->tok.str = NULL;
        if (v->kind == FV_PARAM && strlen(v->text) > FILTER_MAX_PARAM_LEN)
            return fail_at(ps, v->col, "parameter name '%.60s' is longer than 50 characters%s",
                           v->text, "");
        break;
    case TK_NUMBER:
        v->kind = FV_NUMBER;
        v->number = ps->tok.number;
        break;
    case TK_STAR:
        v->kind = FV_STAR;
        break;
    default:
        if (is_word(&ps->tok, "true") || is_word(&ps->tok, "false")) {
            v->kind = FV_BOOL;
            v->number = is_word(&ps->tok, "true");
            break;
        }
        return expected(ps, "a value (a \"string\", a number, true, false or a $PARAMETER)");
    }
    advance(ps);
    return RC_OK;
}

/* DATASET "." FIELD, where the dataset word was checked by the caller. */
static enum rc parse_field_name(struct parser *ps, const char *dataset, char **field)
{
    advance(ps); /* the dataset word */
    if (ps->tok.kind != TK_DOT) {
        char what[64];
        snprintf(what, sizeof(what), "'.' after %s", dataset);
        return expected(ps, what);
    }
    advance(ps);
    if (ps->tok.kind != TK_IDENT) return expected(ps, "a field name");
    *field = take_word(ps);
    return RC_OK;
}

static enum rc parse_operand(struct parser *ps, struct filter_cond *c)
{
    if (is_word(&ps->tok, "CurrentItem")) {
        return parse_field_name(ps, "CurrentItem", &c->current_item);
    }
    bool list = c->op == FOP_IN || c->op == FOP_NOT_IN;
    VEC(struct filter_value) vals = VEC_INIT;
    enum rc rc = RC_OK;
    if (list) {
        if (ps->tok.kind != TK_LPAREN)
            return expected(ps, "'(' and a list of values, or CurrentItem.FIELD");
        advance(ps);
        for (;;) {
            struct filter_value v;
            rc = parse_value(ps, &v);
            if (rc) {
                free(v.text);
                break;
            }
            VEC_PUSH(&vals, v);
            if (ps->tok.kind == TK_RPAREN) break;
            if (ps->tok.kind != TK_COMMA) {
                rc = expected(ps, "',' or ')'");
                break;
            }
            advance(ps);
        }
        if (!rc) advance(ps); /* ')' */
    } else {
        struct filter_value v;
        rc = parse_value(ps, &v);
        if (rc)
            free(v.text);
        else
            VEC_PUSH(&vals, v);
    }
    c->values = vals.v;
    c->nvalues = vals.n;
    return rc;
}

/* A condition on the current dataset word; 'user' for IF CurrentUser conditions. */
static enum rc parse_cond(struct parser *ps, struct filter_cond *c, bool user)
{
    memset(c, 0, sizeof(*c));
    c->col = ps->tok.col;
    const char *dataset;
    if (user) {
        if (!is_word(&ps->tok, "CurrentUser")) return expected(ps, "CurrentUser.FIELD");
        c->source = FSRC_CURRENT_USER;
        dataset = "CurrentUser";
    } else if (is_word(&ps->tok, "Items")) {
        c->source = FSRC_ITEMS;
        dataset = "Items";
    } else if (is_word(&ps->tok, "Interactions")) {
        c->source = FSRC_INTERACTIONS;
        dataset = "Interactions";
    } else if (is_word(&ps->tok, "Users") || is_word(&ps->tok, "CurrentUser")) {
        return fail_at(ps, c->col,
                       "%s: conditions on the user go at the end, as IF CurrentUser.FIELD ...%s",
                       is_word(&ps->tok, "Users") ? "Users" : "CurrentUser", "");
    } else if (is_word(&ps->tok, "Actions") || is_word(&ps->tok, "Action_Interactions")) {
        return fail_at(ps, c->col,
                       "savor has no action datasets; expected Items or Interactions%s%s", "", "");
    } else {
        return expected(ps, "Items.FIELD or Interactions.FIELD");
    }
    enum rc rc = parse_field_name(ps, dataset, &c->field);
    if (!rc) rc = parse_op(ps, &c->op);
    if (!rc) rc = parse_operand(ps, c);
    if (rc) return rc;
    /* Checks that need no schema. */
    if (c->source == FSRC_INTERACTIONS && strcmp(c->field, "EVENT_TYPE") != 0)
        return fail_at(ps, c->col,
                       "Interactions.%.60s: savor filters interactions by EVENT_TYPE only%s",
                       c->field, "");
    if (c->current_item && c->source == FSRC_INTERACTIONS)
        return fail_at(ps, c->col, "CurrentItem compares with Items fields only%s%s", "", "");
    for (size_t i = 0; i < c->nvalues; i++) {
        bool event_type = c->source == FSRC_INTERACTIONS;
        if (c->values[i].kind == FV_STAR &&
            (!event_type || (c->op != FOP_IN && c->op != FOP_NOT_IN && c->op != FOP_EQ)))
            return fail_at(
                ps, c->values[i].col,
                "\"*\" (any event type) goes only in Interactions.EVENT_TYPE IN (...)%s%s", "", "");
    }
    return RC_OK;
}

static const char *dataset_name(enum filter_source s)
{
    return s == FSRC_ITEMS ? "Items" : s == FSRC_INTERACTIONS ? "Interactions" : "CurrentUser";
}

static enum rc parse_expr(struct parser *ps, struct filter_expr *x)
{
    memset(x, 0, sizeof(*x));
    x->col = ps->tok.col;
    if (is_word(&ps->tok, "INCLUDE"))
        x->action = FILTER_INCLUDE;
    else if (is_word(&ps->tok, "EXCLUDE"))
        x->action = FILTER_EXCLUDE;
    else
        return expected(ps, "INCLUDE or EXCLUDE");
    advance(ps);
    if (is_word(&ps->tok, "ActionID") || is_word(&ps->tok, "UserID"))
        return fail_at(ps, ps->tok.col, "savor filters items: expected ItemID, found '%s'%s",
                       is_word(&ps->tok, "UserID") ? "UserID" : "ActionID", "");
    if (!is_word(&ps->tok, "ItemID")) return expected(ps, "ItemID");
    advance(ps);
    if (!is_word(&ps->tok, "WHERE")) return expected(ps, "WHERE");
    advance(ps);
    VEC(struct filter_cond) conds = VEC_INIT;
    VEC(struct filter_cond) ucs = VEC_INIT;
    enum rc rc;
    bool or_before = false;
    for (;;) {
        struct filter_cond c;
        rc = parse_cond(ps, &c, false);
        c.or_before = or_before;
        VEC_PUSH(&conds, c);
        if (rc) break;
        if (conds.n > 1 && c.source != conds.v[0].source) {
            char first[16];
            snprintf(first, sizeof(first), "%s", dataset_name(conds.v[0].source));
            rc = fail_at(ps, c.col,
                         "the conditions of one expression use one dataset (%s here, %s before); "
                         "join expressions on different datasets with |",
                         dataset_name(c.source), first);
            break;
        }
        if (is_word(&ps->tok, "AND") || is_word(&ps->tok, "OR")) {
            or_before = is_word(&ps->tok, "OR");
            advance(ps);
            continue;
        }
        break;
    }
    if (!rc && is_word(&ps->tok, "IF")) {
        advance(ps);
        for (;;) {
            struct filter_cond c;
            rc = parse_cond(ps, &c, true);
            VEC_PUSH(&ucs, c);
            if (rc) break;
            if (!is_word(&ps->tok, "AND")) break;
            advance(ps);
        }
    }
    x->conds = conds.v;
    x->nconds = conds.n;
    x->user_conds = ucs.v;
    x->nuser_conds = ucs.n;
    if (!rc && ps->tok.kind != TK_PIPE && ps->tok.kind != TK_END)
        rc = expected(ps, x->nuser_conds ? "AND, | or the end of the expression"
                                         : "AND, OR, IF, | or the end of the expression");
    return rc;
}

/* Distinct DATASET.FIELD names the filter uses (CurrentItem.F counts as Items.F). */
static size_t count_fields(const struct filter_ast *ast, uint32_t *col_over)
{
    const char *seen[FILTER_MAX_FIELDS + 1][2];
    size_t n = 0;
    for (size_t i = 0; i < ast->nexprs; i++) {
        const struct filter_expr *x = &ast->exprs[i];
        for (size_t k = 0; k < x->nconds + x->nuser_conds; k++) {
            const struct filter_cond *c =
                k < x->nconds ? &x->conds[k] : &x->user_conds[k - x->nconds];
            for (int side = 0; side < 2; side++) {
                const char *ds = dataset_name(c->source);
                const char *f = side ? c->current_item : c->field;
                if (side) ds = "Items";
                if (!f) continue;
                bool found = false;
                for (size_t j = 0; j < n && !found; j++)
                    found = strcmp(seen[j][0], ds) == 0 && strcmp(seen[j][1], f) == 0;
                if (found) continue;
                if (n == FILTER_MAX_FIELDS) {
                    *col_over = c->col;
                    return n + 1;
                }
                seen[n][0] = ds;
                seen[n][1] = f;
                n++;
            }
        }
    }
    return n;
}

enum rc filter_parse(const char *text, size_t len, struct filter_ast **out, struct err *e)
{
    if (len == 0) return err_set(e, RC_INVALID_INPUT, "filter expression is empty");
    if (len > FILTER_MAX_LEN)
        return err_set(e, RC_INVALID_INPUT,
                       "filter expression is %zu characters long; the limit is %d", len,
                       FILTER_MAX_LEN);
    if (memchr(text, 0, len))
        return err_set(e, RC_INVALID_INPUT, "filter expression, column %zu: NUL character",
                       (size_t)((const char *)memchr(text, 0, len) - text) + 1);
    struct parser ps = {.lx = {text, len, 0}, .e = e};
    flexer_next(&ps.lx, &ps.tok);
    VEC(struct filter_expr) xs = VEC_INIT;
    for (;;) {
        struct filter_expr x;
        enum rc rc = parse_expr(&ps, &x);
        VEC_PUSH(&xs, x);
        if (rc) break;
        if (ps.tok.kind == TK_END) break;
        advance(&ps); /* '|' */
    }
    free(ps.tok.str);
    struct filter_ast *ast = xcalloc(1, sizeof(*ast));
    ast->exprs = xs.v;
    ast->nexprs = xs.n;
    uint32_t col = 0;
    if (!ps.rc && count_fields(ast, &col) > FILTER_MAX_FIELDS)
        ps.rc = err_set(e, RC_INVALID_INPUT,
                        "filter expression, column %u: more than %d distinct dataset fields in one "
                        "filter",
                        col, FILTER_MAX_FIELDS);
    if (ps.rc) {
        filter_ast_free(ast);
        return ps.rc;
    }
    *out = ast;
    return RC_OK;
}

static bool any_cond(const struct filter_ast *ast, bool (*pred)(const struct filter_cond *))
{
    for (size_t i = 0; i < ast->nexprs; i++) {
        const struct filter_expr *x = &ast->exprs[i];
        for (size_t k = 0; k < x->nconds; k++)
            if (pred(&x->conds[k])) return true;
        for (size_t k = 0; k < x->nuser_conds; k++)
            if (pred(&x->user_conds[k])) return true;
    }
    return false;
}

static bool needs_user(const struct filter_cond *c)
{
    return c->source != FSRC_ITEMS;
}

static bool needs_item(const struct filter_cond *c)
{
    return c->current_item != NULL;
}

bool filter_ast_needs_user(const struct filter_ast *ast)
{
    return any_cond(ast, needs_user);
}

bool filter_ast_needs_item(const struct filter_ast *ast)
{
    return any_cond(ast, needs_item);
}
