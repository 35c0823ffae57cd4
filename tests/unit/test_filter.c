/*
 * test_filter.c: the filter expression parser: every form of the language,
 * Personalize's limits, and every error message with its column.
 */
#include "common/base.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "filter/filter.h"

static struct filter_ast *parse_ok(const char *text)
{
    struct filter_ast *ast = NULL;
    struct err e = ERR_INIT;
    enum rc rc = filter_parse(text, strlen(text), &ast, &e);
    if (rc) fail_msg("'%s' should parse, got: %s", text, e.msg);
    return ast;
}

/* The parse must fail with exactly 'msg'. */
static void parse_fails(const char *text, const char *msg)
{
    struct filter_ast *ast = NULL;
    struct err e = ERR_INIT;
    enum rc rc = filter_parse(text, strlen(text), &ast, &e);
    if (rc == RC_OK) {
        filter_ast_free(ast);
        fail_msg("'%s' should not parse", text);
    }
    assert_int_equal(rc, RC_INVALID_INPUT);
    assert_string_equal(e.msg, msg);
    assert_null(ast);
}

static void test_simple_forms(void **state)
{
    UNUSED(state);
    struct filter_ast *a = parse_ok("EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"*\")");
    assert_int_equal(a->nexprs, 1);
    assert_int_equal(a->exprs[0].action, FILTER_EXCLUDE);
    assert_int_equal(a->exprs[0].nconds, 1);
    const struct filter_cond *c = &a->exprs[0].conds[0];
    assert_int_equal(c->source, FSRC_INTERACTIONS);
    assert_string_equal(c->field, "EVENT_TYPE");
    assert_int_equal(c->op, FOP_IN);
    assert_int_equal(c->nvalues, 1);
    assert_int_equal(c->values[0].kind, FV_STRING);
    assert_string_equal(c->values[0].text, "*");
    assert_true(filter_ast_needs_user(a));
    assert_false(filter_ast_needs_item(a));
    filter_ast_free(a);

    a = parse_ok("INCLUDE ItemID WHERE Items.PRICE <= $PRICE");
    c = &a->exprs[0].conds[0];
    assert_int_equal(a->exprs[0].action, FILTER_INCLUDE);
    assert_int_equal(c->source, FSRC_ITEMS);
    assert_int_equal(c->op, FOP_LE);
    assert_int_equal(c->values[0].kind, FV_PARAM);
    assert_string_equal(c->values[0].text, "PRICE");
    assert_int_equal(c->values[0].col, 37);
    assert_false(filter_ast_needs_user(a));
    filter_ast_free(a);
}

static void test_every_operator(void **state)
{
    UNUSED(state);
    static const struct {
        const char *text;
        enum filter_op op;
    } cases[] = {
        {"INCLUDE ItemID WHERE Items.A IN (1, 2)", FOP_IN},
        {"INCLUDE ItemID WHERE Items.A NOT IN (1)", FOP_NOT_IN},
        {"INCLUDE ItemID WHERE Items.A = 1", FOP_EQ},
        {"INCLUDE ItemID WHERE Items.A < 1", FOP_LT},
        {"INCLUDE ItemID WHERE Items.A <= 1", FOP_LE},
        {"INCLUDE ItemID WHERE Items.A > -1.5", FOP_GT},
        {"INCLUDE ItemID WHERE Items.A >= 1e3", FOP_GE},
        {"include itemid where items.A not in (true, false)", FOP_NOT_IN},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        struct filter_ast *a = parse_ok(cases[i].text);
        assert_int_equal(a->exprs[0].conds[0].op, cases[i].op);
        filter_ast_free(a);
    }
    struct filter_ast *a = parse_ok("INCLUDE ItemID WHERE Items.A > -1.5");
    assert_true(a->exprs[0].conds[0].values[0].number == -1.5);
    filter_ast_free(a);
    a = parse_ok("INCLUDE ItemID WHERE Items.A NOT IN (true, \"x\\\"y\", 7, $P)");
    const struct filter_cond *c = &a->exprs[0].conds[0];
    assert_int_equal(c->nvalues, 4);
    assert_int_equal(c->values[0].kind, FV_BOOL);
    assert_string_equal(c->values[1].text, "x\"y");
    assert_int_equal(c->values[2].kind, FV_NUMBER);
    assert_int_equal(c->values[3].kind, FV_PARAM);
    filter_ast_free(a);
}

static void test_and_or_if_current_item_and_chaining(void **state)
{
    UNUSED(state);
    struct filter_ast *a = parse_ok(
        "INCLUDE ItemID WHERE Items.CATEGORY IN (\"watch\") AND Items.PRICE > 10 OR Items.X = 1 "
        "IF CurrentUser.AGE > 18 AND CurrentUser.TIER IN ($T) | "
        "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"click\", \"stream\") | "
        "INCLUDE ItemID WHERE Items.PRICE < CurrentItem.PRICE AND Items.GENRE IN CurrentItem.GENRE");
    assert_int_equal(a->nexprs, 3);
    const struct filter_expr *x = &a->exprs[0];
    assert_int_equal(x->nconds, 3);
    assert_false(x->conds[1].or_before);
    assert_true(x->conds[2].or_before);
    assert_int_equal(x->nuser_conds, 2);
    assert_int_equal(x->user_conds[0].source, FSRC_CURRENT_USER);
    assert_string_equal(x->user_conds[1].field, "TIER");
    assert_int_equal(a->exprs[1].action, FILTER_EXCLUDE);
    assert_int_equal(a->exprs[1].conds[0].nvalues, 2);
    assert_string_equal(a->exprs[2].conds[0].current_item, "PRICE");
    assert_string_equal(a->exprs[2].conds[1].current_item, "GENRE");
    assert_true(filter_ast_needs_item(a));
    assert_true(filter_ast_needs_user(a));
    filter_ast_free(a);
}

static void test_errors_point_at_the_column(void **state)
{
    UNUSED(state);
    parse_fails("INCLUDE ItemID WHERE Items.GENRE LIKE (\"x\")",
                "filter expression, column 34: expected IN, NOT IN, =, <, <=, > or >=, found "
                "'LIKE'");
    parse_fails("", "filter expression is empty");
    parse_fails("   ", "filter expression, column 4: expected INCLUDE or EXCLUDE, found the end "
                       "of the expression");
    parse_fails("KEEP ItemID", "filter expression, column 1: expected INCLUDE or EXCLUDE, found "
                               "'KEEP'");
    parse_fails("INCLUDE Item WHERE", "filter expression, column 9: expected ItemID, found 'Item'");
    parse_fails(
        "INCLUDE UserID WHERE Users.X IN (1)",
        "filter expression, column 9: savor filters items: expected ItemID, found 'UserID'");
    parse_fails("INCLUDE ItemID Items.A IN (1)",
                "filter expression, column 16: expected WHERE, found 'Items'");
    parse_fails("INCLUDE ItemID WHERE Stuff.A IN (1)",
                "filter expression, column 22: expected Items.FIELD or Interactions.FIELD, found "
                "'Stuff'");
    parse_fails("INCLUDE ItemID WHERE Items A IN (1)",
                "filter expression, column 28: expected '.' after Items, found 'A'");
    parse_fails("INCLUDE ItemID WHERE Items.A IN 1",
                "filter expression, column 33: expected '(' and a list of values, or "
                "CurrentItem.FIELD, found '1'");
    parse_fails("INCLUDE ItemID WHERE Items.A IN (1 2)",
                "filter expression, column 36: expected ',' or ')', found '2'");
    parse_fails("INCLUDE ItemID WHERE Items.A IN (1,)",
                "filter expression, column 36: expected a value (a \"string\", a number, true, "
                "false or a $PARAMETER), found ')'");
    parse_fails("INCLUDE ItemID WHERE Items.A IN (\"open",
                "filter expression, column 34: unterminated string (a \" is missing): '\"open'");
    parse_fails("INCLUDE ItemID WHERE Items.A = 1 ; x",
                "filter expression, column 34: unexpected character: ';'");
    parse_fails("INCLUDE ItemID WHERE Items.A = 1 XOR Items.B = 2",
                "filter expression, column 34: expected AND, OR, IF, | or the end of the "
                "expression, found 'XOR'");
    parse_fails("INCLUDE ItemID WHERE Items.A NOT (1)",
                "filter expression, column 34: expected IN after NOT, found '('");
    parse_fails("INCLUDE ItemID WHERE Items.A = $",
                "filter expression, column 32: a parameter needs a name after '$': '$'");
    parse_fails("INCLUDE ItemID WHERE Items.A = 12abc",
                "filter expression, column 32: not a number: '12abc'");
    parse_fails("INCLUDE ItemID WHERE Items.A = 1 |",
                "filter expression, column 35: expected INCLUDE or EXCLUDE, found the end of the "
                "expression");
}

static void test_schema_free_rules(void **state)
{
    UNUSED(state);
    parse_fails("INCLUDE ItemID WHERE Items.A = 1 AND Interactions.EVENT_TYPE IN (\"x\")",
                "filter expression, column 38: the conditions of one expression use one dataset "
                "(Interactions here, Items before); join expressions on different datasets with |");
    parse_fails("EXCLUDE ItemID WHERE Interactions.EVENT_VALUE > 3",
                "filter expression, column 22: Interactions.EVENT_VALUE: savor filters "
                "interactions by EVENT_TYPE only");
    parse_fails("INCLUDE ItemID WHERE Items.A IN (*)",
                "filter expression, column 34: \"*\" (any event type) goes only in "
                "Interactions.EVENT_TYPE IN (...)");
    parse_fails("INCLUDE ItemID WHERE Users.AGE > 3",
                "filter expression, column 22: Users: conditions on the user go at the end, as IF "
                "CurrentUser.FIELD ...");
    parse_fails("INCLUDE ItemID WHERE Items.A = 1 IF Items.B = 2",
                "filter expression, column 37: expected CurrentUser.FIELD, found 'Items'");
    parse_fails("INCLUDE ItemID WHERE Items.A = 1 IF CurrentUser.B = 2 OR CurrentUser.C = 1",
                "filter expression, column 55: expected AND, | or the end of the expression, found "
                "'OR'");
    /* A bare * is fine for event types. */
    filter_ast_free(parse_ok("EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (*)"));
}

static void test_limits(void **state)
{
    UNUSED(state);
    /* 2500 characters parse; 2501 do not. */
    char *text = xmalloc(2600);
    strlcpy_(text, "INCLUDE ItemID WHERE Items.A IN (\"", 2600);
    size_t n = strlen(text);
    while (n < 2498)
        text[n++] = 'x';
    text[n++] = '"';
    text[n++] = ')';
    text[n] = 0;
    assert_int_equal(strlen(text), 2500);
    filter_ast_free(parse_ok(text));
    struct filter_ast *a;
    struct err e = ERR_INIT;
    text[2500] = ' ';
    text[2501] = 0;
    assert_int_equal(filter_parse(text, 2501, &a, &e), RC_INVALID_INPUT);
    assert_string_equal(e.msg, "filter expression is 2501 characters long; the limit is 2500");
    free(text);
    /* 10 distinct fields parse; the 11th does not (repeats count once). */
    struct buf {
        char s[1000];
    } b = {""};
    size_t used = 0;
    for (int i = 0; i < 11; i++)
        used += (size_t)snprintf(b.s + used, sizeof(b.s) - used, "%sItems.F%d = 1",
                                 i ? " AND " : "INCLUDE ItemID WHERE ", i % 11);
    assert_int_equal(filter_parse(b.s, strlen(b.s), &a, &e), RC_INVALID_INPUT);
    assert_non_null(strstr(e.msg, "more than 10 distinct dataset fields"));
    filter_ast_free(
        parse_ok("INCLUDE ItemID WHERE Items.F1 = 1 AND Items.F1 = 2 AND Items.F2 = 1 "
                 "AND Items.F3 = 1 AND Items.F4 = 1 AND Items.F5 = 1 AND Items.F6 = 1 "
                 "AND Items.F7 = 1 AND Items.F8 = 1 AND Items.F9 = 1 AND Items.F10 = 1"));
    /* Parameter names: at most 50 characters. */
    parse_fails(
        "INCLUDE ItemID WHERE Items.A IN ($P12345678901234567890123456789012345678901234567890)",
        "filter expression, column 34: parameter name "
        "'P12345678901234567890123456789012345678901234567890' is longer than 50 characters");
    /* NUL bytes are refused, not read past. */
    assert_int_equal(filter_parse("INCLUDE\0", 8, &a, &e), RC_INVALID_INPUT);
    assert_string_equal(e.msg, "filter expression, column 8: NUL character");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_simple_forms),
        cmocka_unit_test(test_every_operator),
        cmocka_unit_test(test_and_or_if_current_item_and_chaining),
        cmocka_unit_test(test_errors_point_at_the_column),
        cmocka_unit_test(test_schema_free_rules),
        cmocka_unit_test(test_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
