/*
 * test_json_text.c: json_text_append() writes what json_dumps() writes,
 * byte for byte (compact, reals at a given precision), for random and edge
 * values, and the scratch buffers of common/scratch.h.
 */
#include "common/base.h"

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "common/json_text.h"
#include "common/rng.h"
#include "common/scratch.h"

#include <math.h>
#include <pthread.h>

static char *ours(const json_t *v, int precision)
{
    struct buf b;
    buf_init(&b, BUF_NO_CAP);
    assert_int_equal(json_text_append(&b, v, precision), RC_OK);
    return buf_detach(&b, NULL);
}

static void assert_same(const json_t *v, int precision)
{
    char *want = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(precision));
    char *ordered = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY | JSON_PRESERVE_ORDER |
                                      JSON_REAL_PRECISION(precision));
    char *got = ours(v, precision);
    assert_non_null(ordered);
    assert_string_equal(ordered, want); /* objects keep insertion order either way */
    free(ordered);
    assert_non_null(want);
    if (strcmp(want, got) != 0)
        fprintf(stderr, "precision %d: want %s got %s\n", precision, want, got);
    assert_string_equal(got, want);
    free(want);
    free(got);
}

static void assert_real(double x, int precision)
{
    json_t *v = json_real(x);
    assert_non_null(v);
    assert_same(v, precision);
    json_decref(v);
}

static void test_reals_edges(void **state)
{
    UNUSED(state);
    const double xs[] = {0.0,
                         -0.0,
                         1.0,
                         -1.0,
                         0.5,
                         0.1,
                         0.25,
                         10.0,
                         100.0,
                         123456789.0,
                         999999999.0,
                         999999999.5,
                         1e9,
                         1e-4,
                         1e-5,
                         9.9999999e-5,
                         0.00012345,
                         1e17,
                         1e20,
                         1e-300,
                         5e-324,
                         1.7976931348623157e308,
                         0.393964618,
                         0.383189768,
                         2.5,
                         3.5,
                         0.125,
                         1.0000000005,
                         12345.678901234};
    for (size_t i = 0; i < ARRAY_SIZE(xs); i++)
        for (int p = 1; p <= 17; p++) {
            assert_real(xs[i], p);
            assert_real(-xs[i], p);
        }
}

/* Half-way cases at 9 digits: exactly representable values ending in 5 beyond the 9th digit. */
static void test_reals_ties(void **state)
{
    UNUSED(state);
    for (int k = 0; k < 2000; k++) {
        double x = ldexp((double)(2 * k + 1), -10); /* multiples of 1/1024: exact decimals */
        for (int p = 1; p <= 12; p++)
            assert_real(x, p);
    }
}

static void test_reals_random(void **state)
{
    UNUSED(state);
    struct rng r;
    rng_seed(&r, 42);
    for (int i = 0; i < 200000; i++) {
        /* Floats (as scores are) and doubles over many magnitudes. */
        double mag = pow(10.0, (double)(rng_next(&r) % 40) - 20.0);
        double x = ((double)rng_next(&r) / 18446744073709551616.0 - 0.5) * mag;
        if (i % 2) x = (double)(float)x;
        assert_real(x, i % 3 ? 9 : 1 + (int)(rng_next(&r) % 17));
    }
}

static void test_strings_and_structures(void **state)
{
    UNUSED(state);
    json_t *o =
        json_pack("{s:[{s:s,s:f,s:[s]},{s:s,s:f}],s:s,s:i,s:I,s:b,s:b,s:n,s:{}}", "itemList",
                  "itemId", "work-1", "score", 0.5, "reason", "Exploration", "itemId",
                  "a\"b\\c/d\n\t\x01\x1f\xc3\xa9", "score", -2.25, "recommendationId", "RID-1", "n",
                  -42, "big", (json_int_t)INT64_MIN, "t", 1, "f", 0, "z", "e");
    assert_non_null(o);
    assert_same(o, 9);
    assert_same(o, 17);
    json_decref(o);
    json_t *a = json_array();
    assert_same(a, 9);
    json_decref(a);
}

static void test_rejects_what_jansson_rejects(void **state)
{
    UNUSED(state);
    struct buf b;
    buf_init(&b, BUF_NO_CAP);
    assert_int_equal(json_text_real(&b, NAN, 9), RC_INVALID_INPUT);
    assert_int_equal(json_text_real(&b, INFINITY, 9), RC_INVALID_INPUT);
    buf_release(&b);
    buf_init(&b, 4); /* the cap is honoured */
    json_t *s = json_string("longer than four");
    assert_int_equal(json_text_append(&b, s, 9), RC_LIMIT_EXCEEDED);
    json_decref(s);
    buf_release(&b);
}

/* ---- scratch ---- */

static void *other_thread(void *arg)
{
    void **out = arg;
    *out = scratch_get(SCRATCH_SCORES, 100);
    memset(*out, 0x5a, 100);
    return NULL;
}

static void test_scratch(void **state)
{
    UNUSED(state);
    char *a = scratch_get(SCRATCH_SCORES, 100);
    assert_int_equal((uintptr_t)a % 64, 0);
    memset(a, 1, 100);
    /* The same slot again, no larger: the same buffer, contents kept. */
    assert_ptr_equal(scratch_get(SCRATCH_SCORES, 50), a);
    assert_int_equal(a[99], 1);
    /* Another slot: another buffer. */
    char *b = scratch_get(SCRATCH_BOUNDS, 100);
    assert_ptr_not_equal(a, b);
    /* Growing gives room for the new size. */
    char *c = scratch_get(SCRATCH_SCORES, 1 << 20);
    memset(c, 2, 1 << 20);
    /* Another thread has its own buffer (freed when it exits). */
    void *theirs = NULL;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, other_thread, &theirs), 0);
    pthread_join(t, NULL);
    assert_non_null(theirs);
    assert_int_equal(c[(1 << 20) - 1], 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reals_edges),
        cmocka_unit_test(test_reals_ties),
        cmocka_unit_test(test_reals_random),
        cmocka_unit_test(test_strings_and_structures),
        cmocka_unit_test(test_rejects_what_jansson_rejects),
        cmocka_unit_test(test_scratch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
