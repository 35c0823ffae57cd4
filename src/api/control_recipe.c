/*
 * control_recipe.c: ListRecipes, DescribeRecipe, DescribeAlgorithm over
 * savor's recipe table (models/recipe.h). Recipes and algorithms keep
 * Personalize's ARNs (arn:aws:personalize:::recipe/NAME,
 * arn:aws:personalize:::algorithm/NAME).
 */
#include "common/base.h"
#include "api/control_int.h"
#include "models/recipe.h"

/* Recipes ship with the binary: one fixed date (2019-06-10, when Personalize became available). */
#define RECIPE_DATE 1560124800.0

static json_t *recipe_summary(const struct recipe *r)
{
    char *arn = xasprintf("arn:aws:personalize:::recipe/%s", r->name);
    json_t *o = json_pack("{s:s,s:s,s:s,s:o,s:o}", "name", r->name, "recipeArn", arn, "status",
                          STATUS_ACTIVE, "creationDateTime", ctl_time(RECIPE_DATE),
                          "lastUpdatedDateTime", ctl_time(RECIPE_DATE));
    free(arn);
    return o;
}

CTL_OP(ListRecipes)
{
    UNUSED(ctx);
    if (json_object_get(req, "domain")) {
        /* savor has no domain recipes. */
        json_t *o = json_object();
        enum rc rc = ctl_page(req, json_array(), "recipes", o, err);
        if (rc) {
            json_decref(o);
            return rc;
        }
        *resp = o;
        return RC_OK;
    }
    json_t *all = json_array();
    for (size_t i = 0; recipe_table[i]; i++)
        json_array_append_new(all, recipe_summary(recipe_table[i]));
    json_t *o = json_object();
    enum rc rc = ctl_page(req, all, "recipes", o, err);
    if (rc) {
        json_decref(o);
        return rc;
    }
    *resp = o;
    return RC_OK;
}

/* The recipe named by 'arn' (recipe/NAME or algorithm/NAME). */
static const struct recipe *find(const char *arn, const char *kind, struct api_error *err)
{
    const char *p = strstr(arn, kind);
    const struct recipe *r = NULL;
    if (p && strncmp(arn, "arn:", 4) == 0) {
        const char *name = p + strlen(kind);
        for (size_t i = 0; recipe_table[i] && !r; i++)
            if (strcmp(recipe_table[i]->name, name) == 0) r = recipe_table[i];
    }
    if (!r)
        ctl_not_found(err, "The %.*s %s does not exist (ListRecipes shows savor's recipes)",
                      (int)strlen(kind) - 1, kind, arn);
    return r;
}

CTL_OP(DescribeRecipe)
{
    UNUSED(ctx);
    const struct recipe *r = find(ctl_str(req, "recipeArn"), ":recipe/", err);
    if (!r) return RC_NOT_FOUND;
    json_t *o = recipe_summary(r);
    json_object_set_new(o, "algorithmArn",
                        json_sprintf("arn:aws:personalize:::algorithm/%s", r->name));
    json_object_set_new(o, "description", json_string(r->summary));
    json_object_set_new(o, "recipeType", json_string(recipe_kind_name(r->kind)));
    *resp = json_pack("{s:o}", "recipe", o);
    return RC_OK;
}

CTL_OP(DescribeAlgorithm)
{
    UNUSED(ctx);
    const struct recipe *r = find(ctl_str(req, "algorithmArn"), ":algorithm/", err);
    if (!r) return RC_NOT_FOUND;
    json_t *defaults = json_object(), *ints = json_array(), *conts = json_array(),
           *cats = json_array();
    for (const struct param_spec *p = r->params; p && p->name; p++) {
        const char *name = p->alias ? p->alias : p->name;
        json_object_set_new(defaults, name, json_string(p->def ? p->def : ""));
        switch (p->type) {
        case PARAM_INT:
            json_array_append_new(ints, json_pack("{s:s,s:I,s:I,s:b}", "name", name, "minValue",
                                                  (json_int_t)p->min, "maxValue",
                                                  (json_int_t)p->max, "isTunable", 1));
            break;
        case PARAM_FLOAT:
            json_array_append_new(conts, json_pack("{s:s,s:f,s:f,s:b}", "name", name, "minValue",
                                                   p->min, "maxValue", p->max, "isTunable", 1));
            break;
        case PARAM_BOOL:
            json_array_append_new(cats, json_pack("{s:s,s:[ss],s:b}", "name", name, "values",
                                                  "true", "false", "isTunable", 1));
            break;
        case PARAM_STRING:
            break;
        }
    }
    json_t *o = json_pack(
        "{s:s,s:o,s:{s:s},s:o,s:{s:o,s:o,s:o},s:s,s:o,s:o}", "name", r->name, "algorithmArn",
        json_sprintf("arn:aws:personalize:::algorithm/%s", r->name), "algorithmImage", "name",
        r->name, "defaultHyperParameters", defaults, "defaultHyperParameterRanges",
        "integerHyperParameterRanges", ints, "continuousHyperParameterRanges", conts,
        "categoricalHyperParameterRanges", cats, "trainingInputMode", "File", "creationDateTime",
        ctl_time(RECIPE_DATE), "lastUpdatedDateTime", ctl_time(RECIPE_DATE));
    *resp = json_pack("{s:o}", "algorithm", o);
    return RC_OK;
}
