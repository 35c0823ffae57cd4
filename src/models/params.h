/*
 * params.h: hyperparameters, as Personalize passes them (string values in
 * algorithmHyperParameters) and as savor's recipes declare them.
 *
 * Each recipe lists its parameters in a table of param_spec (name, type,
 * default, range, what it does); params_resolve() checks a user's key=value
 * pairs against the table, applies defaults and aliases (Personalize's
 * names such as hidden_dimension map to savor's own), and reports unknown
 * names or bad values naming the parameter.
 */
#ifndef SAVOR_PARAMS_H
#define SAVOR_PARAMS_H

#include "common/base.h"

enum param_type { PARAM_INT, PARAM_FLOAT, PARAM_BOOL, PARAM_STRING };

struct param_spec {
    const char *name;  /* savor's name, e.g. "factors" */
    const char *alias; /* Personalize's name mapped onto it, or NULL */
    enum param_type type;
    const char *def; /* default, as text */
    double min, max; /* numeric range (inclusive) */
    const char *doc;
};

#define PARAMS_MAX 32

struct param_value {
    const char *name; /* borrowed from the spec */
    enum param_type type;
    double num; /* PARAM_INT, PARAM_FLOAT, PARAM_BOOL (0/1) */
    char *str;  /* PARAM_STRING, owned */
    bool given; /* set by the user rather than defaulted */
};

struct params {
    size_t n;
    struct param_value v[PARAMS_MAX];
};

/* One user-supplied key=value pair. */
struct param_kv {
    const char *key;
    const char *value;
};

/*
 * Check 'kv' against 'specs' (terminated by a NULL name) and fill 'out'
 * with every spec's value. Keys the recipe does not take and values out of
 * range are RC_INVALID_INPUT naming the key, for example
 * "hyperparameter factors: 0 is below the minimum 1".
 */
enum rc params_resolve(const struct param_spec *specs, const struct param_kv *kv, size_t nkv,
                       struct params *out, struct err *e);
void params_release(struct params *p);

double params_num(const struct params *p, const char *name);
/* The number named 'name' if the recipe has such a parameter, else 'dflt'. */
double params_num_or(const struct params *p, const char *name, double dflt);
const char *params_str(const struct params *p, const char *name);

/* The resolved values as a JSON object text (for describe); caller frees. */
char *params_to_json(const struct params *p);

#endif
