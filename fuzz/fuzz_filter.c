/* fuzz_filter.c: parse filter expressions; columns stay in the text, errors always say why. */
#include "common/base.h"

#include "filter/filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_cond(const struct filter_cond *c, size_t size)
{
    if (c->col == 0 || c->col > size || !c->field || !*c->field) abort();
    if (!c->current_item && c->nvalues == 0) abort();
    for (size_t k = 0; k < c->nvalues; k++) {
        if (c->values[k].col == 0 || c->values[k].col > size) abort();
        if ((c->values[k].kind == FV_STRING || c->values[k].kind == FV_PARAM) && !c->values[k].text)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err e = ERR_INIT;
    struct filter_ast *ast = NULL;
    if (filter_parse((const char *)data, size, &ast, &e)) {
        if (!e.msg[0] || ast) abort();
        return 0;
    }
    if (ast->nexprs == 0) abort();
    for (size_t i = 0; i < ast->nexprs; i++) {
        const struct filter_expr *x = &ast->exprs[i];
        if (x->nconds == 0) abort();
        for (size_t k = 0; k < x->nconds; k++)
            check_cond(&x->conds[k], size);
        for (size_t k = 0; k < x->nuser_conds; k++)
            check_cond(&x->user_conds[k], size);
    }
    (void)filter_ast_needs_user(ast);
    (void)filter_ast_needs_item(ast);
    filter_ast_free(ast);
    return 0;
}
