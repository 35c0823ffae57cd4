/*
 * metrics.h: offline ranking metrics, as Personalize names them.
 *
 * For one test user: 'recs' is the ranked list the model returns (at most
 * METRICS_K items, already without the user's input items), 'targets' the
 * distinct items of the user's held-out interactions (at least one). With
 * binary relevance rel(i) = 1 when recs[i] is a target:
 *
 *   precision_at_k  = sum_{i<k} rel(i) / k              (k even if recs is shorter)
 *   recall_at_k     = sum_{i<k} rel(i) / |targets|
 *   normalized_discounted_cumulative_gain_at_k
 *                   = DCG / IDCG, DCG = sum_{i<k} rel(i) / log2(i + 2),
 *                     IDCG = sum_{i < min(k, |targets|)} 1 / log2(i + 2)
 *   mean_reciprocal_rank_at_25 = 1 / (i + 1) for the first i with rel(i), 0 without a hit
 *
 * Each is averaged over the test users. coverage is over all of them at once:
 * the number of distinct items in all the lists / the number of items the
 * model can recommend (its catalog). docs/evaluation.md has the protocol.
 */
#ifndef SAVOR_METRICS_H
#define SAVOR_METRICS_H

#include "common/base.h"

#define METRICS_K 25 /* the list length every metric is computed on */

enum metric_id {
    METRIC_COVERAGE,
    METRIC_MRR_25,
    METRIC_NDCG_5,
    METRIC_NDCG_10,
    METRIC_NDCG_25,
    METRIC_PRECISION_5,
    METRIC_PRECISION_10,
    METRIC_PRECISION_25,
    METRIC_RECALL_10,
    METRIC_RECALL_25,
    METRIC_COUNT
};

/* Personalize's names ("normalized_discounted_cumulative_gain_at_10"), by id. */
extern const char *const metric_names[METRIC_COUNT];

/* The id of metric 'name', or -1 when there is none by that name. */
int metric_find(const char *name);

/* The comma-separated list of every metric name (static), for error messages. */
const char *metric_name_list(void);

/*
 * The per-user metrics of one list into out[] (out[METRIC_COVERAGE] is left
 * 0: coverage is not per user). 'targets' is sorted ascending and distinct;
 * ntargets >= 1. Only the first METRICS_K of 'recs' count.
 */
void metrics_user(const uint32_t *recs, size_t nrec, const uint32_t *targets, size_t ntargets,
                  double out[METRIC_COUNT]);

/*
 * Averages over users. 'per_user' holds nusers rows of METRIC_COUNT values
 * (from metrics_user), summed in row order so the result does not depend
 * on how users were split among threads. coverage = ndistinct / ncatalog.
 */
void metrics_mean(const double *per_user, size_t nusers, uint64_t ndistinct, uint64_t ncatalog,
                  double out[METRIC_COUNT]);

#endif
