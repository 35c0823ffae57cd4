/*
 * fuzz_hpo_config.c: the input as hpoConfig and autoMLConfig JSON (and as an
 * evaluationCutoff time). Parsing either succeeds with values that keep the
 * configuration's promises (ranges inside the recipe's limits, min <= max,
 * limits within Personalize's), or fails with RC_INVALID_INPUT and a message.
 */
#include "common/base.h"

#include "eval/hpo.h"
#include "eval/training.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "fuzz_hpo_config: check failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                                           \
        }                                                                                      \
    } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *j = json_loadb((const char *)data, size, JSON_DECODE_INT_AS_REAL, NULL);
    struct err e = ERR_INIT;
    struct hpo_config c;
    const struct recipe *r = &recipe_user_personalization;
    enum rc rc = hpo_config_parse(j, r, &c, &e);
    if (rc) {
        CHECK(rc == RC_INVALID_INPUT && e.msg[0]);
    } else {
        CHECK(c.nranges > 0 && c.max_jobs >= 1 && c.max_jobs <= HPO_MAX_JOBS);
        CHECK(c.max_parallel >= 1 && c.max_parallel <= HPO_MAX_PARALLEL);
        CHECK(c.metric >= 0 && c.metric < METRIC_COUNT);
        for (size_t i = 0; i < c.nranges; i++) {
            const struct hpo_range *h = &c.ranges[i];
            if (h->type == HPO_CATEGORICAL)
                CHECK(h->nvalues > 0);
            else
                CHECK(h->min <= h->max && h->scaling != HPO_SCALE_AUTO);
        }
        hpo_config_release(&c);
    }
    struct automl_config a;
    err_clear(&e);
    rc = automl_config_parse(j, &a, &e);
    if (rc) {
        CHECK(rc == RC_INVALID_INPUT && e.msg[0]);
    } else {
        CHECK(a.nrecipes > 0);
        for (size_t i = 0; i < a.nrecipes; i++)
            CHECK(a.recipes[i]->kind != RECIPE_RELATED_ITEMS);
        automl_config_release(&a);
    }
    json_decref(j);
    /* The same bytes as a cutoff time. */
    char text[64];
    size_t n = MIN(size, sizeof(text) - 1);
    memcpy(text, data, n);
    text[n] = '\0';
    int64_t t;
    (void)eval_parse_time(text, &t);
    return 0;
}
