/*
 * evaluate.h: offline metrics of a recipe on a split (docs/evaluation.md).
 *
 * eval_model() trains the recipe on what a split leaves for training (in
 * memory: the model is thrown away), asks it for METRICS_K items for every
 * test user, as GetRecommendations would answer with the user's input as
 * history, and averages metrics.h's metrics over the test users. Training
 * time (engine.c), `savor eval`, HPO and AutoML (hpo.h) all go through it.
 */
#ifndef SAVOR_EVALUATE_H
#define SAVOR_EVALUATE_H

#include "common/base.h"
#include "eval/metrics.h"
#include "eval/split.h"
#include "models/recipe.h"
#include "models/weighting.h"
#include "store/store.h"

#include <jansson.h>
#include <signal.h>
#include <stdio.h>

/* Fewer users with interactions than this: no metrics (the version says why). */
#define EVAL_MIN_USERS 20

/* A dataset group's interactions, as every model compared on it sees them. */
struct eval_data {
    struct store *store;
    const struct resource *group; /* borrowed */
    int64_t dataset_id;
    int64_t last_chunk;            /* the chunks every split and training read (up to it) */
    uint32_t nusers, nitems;       /* the ID maps' sizes when the data was loaded */
    const struct event_weigher *w; /* which events count in splits (borrowed; may be NULL) */
    struct csr *item_features;     /* built the first time a recipe wants them (owned) */
    int threads;
    const volatile sig_atomic_t *cancel; /* may be NULL */
};

/* Borrow 'full' (a train_data_load of the group): its sizes, last chunk and weigher. */
void eval_data_init(struct eval_data *d, struct store *s, const struct resource *group,
                    int64_t dataset_id, const struct train_data *full, int threads);
void eval_data_release(struct eval_data *d);

/* split_make() over the group's interactions (see split.h). */
enum rc eval_split(struct eval_data *d, const struct split_opts *o, const struct split *base,
                   struct split *out, struct err *e);

struct eval_result {
    double metrics[METRIC_COUNT];
    uint32_t users;   /* test users scored */
    uint32_t catalog; /* items the model could recommend */
    double seconds;   /* training and scoring */
};

/*
 * Train 'r' with parameters 'p' and event weighting 'w' on the events 'sp'
 * does not hold out, then score sp's test users. With 'dump' (may be
 * NULL), one JSON line per test user: {"userId", "input": [...],
 * "targets": [...], "recommended": [...]} (item IDs). RC_INVALID_INPUT
 * when the training part has no usable interactions; RC_INTERNAL with
 * "cancelled" when d->cancel is set.
 */
enum rc eval_model(struct eval_data *d, const struct recipe *r, const struct params *p,
                   const struct weighting *w, const struct split *sp, struct eval_result *out,
                   FILE *dump, struct err *e);

/*
 * eval_model() for settings given as key=value: resolved against r's
 * parameter table and checked by r->validate first (their errors are the
 * result then).
 */
enum rc eval_settings(struct eval_data *d, const struct recipe *r, const struct param_kv *kv,
                      size_t n, const struct weighting *w, const struct split *sp,
                      struct eval_result *out, struct err *e);

/* {"coverage": ..., "precision_at_10": ...} in metric_names order. */
json_t *eval_metrics_json(const double m[METRIC_COUNT]);

#endif
