/*
 * recipe.c: the recipe table.
 */
#include "common/base.h"
#include "models/recipe.h"

/* clang-format off: one recipe a line */
const struct recipe *const recipe_table[] = {
    &recipe_user_personalization,
    &recipe_user_personalization_v2,
    &recipe_personalized_ranking,
    &recipe_personalized_ranking_v2,
    &recipe_popularity_count,
    &recipe_trending_now,
    &recipe_sims,
    &recipe_similar_items,
    NULL,
};
/* clang-format on */

const struct recipe *recipe_find(const char *name_or_arn)
{
    const char *name = name_or_arn;
    static const char prefix[] = ":::recipe/";
    const char *p = strstr(name_or_arn, prefix);
    if (strncmp(name_or_arn, "arn:", 4) == 0 && p) name = p + strlen(prefix);
    for (size_t i = 0; recipe_table[i]; i++)
        if (strcmp(recipe_table[i]->name, name) == 0) return recipe_table[i];
    return NULL;
}

const char *recipe_kind_name(enum recipe_kind k)
{
    switch (k) {
    case RECIPE_USER_PERSONALIZATION:
        return "USER_PERSONALIZATION";
    case RECIPE_PERSONALIZED_RANKING:
        return "PERSONALIZED_RANKING";
    case RECIPE_RELATED_ITEMS:
        return "RELATED_ITEMS";
    case RECIPE_POPULAR_ITEMS:
        return "POPULAR_ITEMS";
    }
    return "UNKNOWN";
}
