/*
 * params.c: resolving hyperparameters against a recipe's table.
 */
#include "common/base.h"
#include "models/params.h"

#include <errno.h>
#include <jansson.h>
#include <assert.h>
#include <math.h>

static enum rc parse_value(const struct param_spec *s, const char *text, struct param_value *v,
                           struct err *e)
{
    v->name = s->name;
    v->type = s->type;
    char *end;
    switch (s->type) {
    case PARAM_INT:
    case PARAM_FLOAT:
        errno = 0;
        v->num = strtod(text, &end);
        if (errno || end == text || *end || !isfinite(v->num))
            return err_set(e, RC_INVALID_INPUT, "hyperparameter %s: '%s' is not a number", s->name,
                           text);
        if (s->type == PARAM_INT && v->num != floor(v->num))
            return err_set(e, RC_INVALID_INPUT, "hyperparameter %s: '%s' is not a whole number",
                           s->name, text);
        if (v->num < s->min)
            return err_set(e, RC_INVALID_INPUT, "hyperparameter %s: %s is below the minimum %g",
                           s->name, text, s->min);
        if (v->num > s->max)
            return err_set(e, RC_INVALID_INPUT, "hyperparameter %s: %s is above the maximum %g",
                           s->name, text, s->max);
        return RC_OK;
    case PARAM_BOOL:
        if (strcmp(text, "true") == 0)
            v->num = 1;
        else if (strcmp(text, "false") == 0)
            v->num = 0;
        else
            return err_set(e, RC_INVALID_INPUT,
                           "hyperparameter %s: '%s' is not a boolean; expected true or false",
                           s->name, text);
        return RC_OK;
    case PARAM_STRING:
        v->str = xstrdup(text);
        return RC_OK;
    }
    return RC_INTERNAL;
}

enum rc params_resolve(const struct param_spec *specs, const struct param_kv *kv, size_t nkv,
                       struct params *out, struct err *e)
{
    struct params p = {0};
    enum rc rc = RC_OK;
    for (size_t k = 0; k < nkv && !rc; k++) {
        bool known = false;
        for (const struct param_spec *s = specs; s->name; s++)
            if (strcmp(kv[k].key, s->name) == 0 || (s->alias && strcmp(kv[k].key, s->alias) == 0))
                known = true;
        if (!known) {
            char list[512] = "";
            size_t used = 0;
            for (const struct param_spec *s = specs; s->name && used < sizeof(list); s++)
                used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", used ? ", " : "",
                                         s->name);
            rc = err_set(e, RC_INVALID_INPUT,
                         "hyperparameter %s is not one this recipe takes (it takes: %s)", kv[k].key,
                         used ? list : "none");
        }
    }
    for (const struct param_spec *s = specs; s->name && !rc; s++) {
        if (p.n == PARAMS_MAX) {
            rc = err_set(e, RC_INTERNAL, "too many hyperparameters in a recipe table");
            break;
        }
        const char *text = s->def;
        bool given = false;
        /* The last occurrence wins, whichever of the two names it uses. */
        for (size_t k = 0; k < nkv; k++) {
            if (strcmp(kv[k].key, s->name) == 0 || (s->alias && strcmp(kv[k].key, s->alias) == 0)) {
                text = kv[k].value;
                given = true;
            }
        }
        struct param_value *v = &p.v[p.n];
        memset(v, 0, sizeof(*v));
        rc = parse_value(s, text, v, e);
        v->given = given;
        p.n++;
    }
    if (rc) {
        params_release(&p);
        return rc;
    }
    *out = p;
    return RC_OK;
}

void params_release(struct params *p)
{
    for (size_t i = 0; i < p->n; i++)
        free(p->v[i].str);
    memset(p, 0, sizeof(*p));
}

static const struct param_value *find(const struct params *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++)
        if (strcmp(p->v[i].name, name) == 0) return &p->v[i];
    return NULL;
}

double params_num(const struct params *p, const char *name)
{
    const struct param_value *v = find(p, name);
    assert(v && v->type != PARAM_STRING);
    return v ? v->num : 0;
}

double params_num_or(const struct params *p, const char *name, double dflt)
{
    const struct param_value *v = find(p, name);
    return v && v->type != PARAM_STRING ? v->num : dflt;
}

const char *params_str(const struct params *p, const char *name)
{
    const struct param_value *v = find(p, name);
    assert(v && v->type == PARAM_STRING);
    return v ? v->str : "";
}

char *params_to_json(const struct params *p)
{
    json_t *o = json_object();
    for (size_t i = 0; i < p->n; i++) {
        const struct param_value *v = &p->v[i];
        char buf[64];
        switch (v->type) {
        case PARAM_INT:
            snprintf(buf, sizeof(buf), "%.0f", v->num);
            json_object_set_new(o, v->name, json_string(buf));
            break;
        case PARAM_FLOAT:
            snprintf(buf, sizeof(buf), "%.17g",
                     v->num); /* exact: models rebuild their params from it */
            json_object_set_new(o, v->name, json_string(buf));
            break;
        case PARAM_BOOL:
            json_object_set_new(o, v->name, json_string(v->num ? "true" : "false"));
            break;
        case PARAM_STRING:
            json_object_set_new(o, v->name, json_string(v->str));
            break;
        }
    }
    char *text = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    char *copy = xstrdup(text ? text : "{}");
    free(text);
    return copy;
}
