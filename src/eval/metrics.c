/*
 * metrics.c: the ranking metrics of metrics.h.
 */
#include "common/base.h"
#include "eval/metrics.h"

#include <math.h>

const char *const metric_names[METRIC_COUNT] = {
    [METRIC_COVERAGE] = "coverage",
    [METRIC_MRR_25] = "mean_reciprocal_rank_at_25",
    [METRIC_NDCG_5] = "normalized_discounted_cumulative_gain_at_5",
    [METRIC_NDCG_10] = "normalized_discounted_cumulative_gain_at_10",
    [METRIC_NDCG_25] = "normalized_discounted_cumulative_gain_at_25",
    [METRIC_PRECISION_5] = "precision_at_5",
    [METRIC_PRECISION_10] = "precision_at_10",
    [METRIC_PRECISION_25] = "precision_at_25",
    [METRIC_RECALL_10] = "recall_at_10",
    [METRIC_RECALL_25] = "recall_at_25",
};

int metric_find(const char *name)
{
    for (int i = 0; name && i < METRIC_COUNT; i++)
        if (strcmp(name, metric_names[i]) == 0) return i;
    return -1;
}

const char *metric_name_list(void)
{
    static char list[1024];
    if (!list[0]) {
        size_t used = 0;
        for (int i = 0; i < METRIC_COUNT; i++)
            used += (size_t)snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "",
                                     metric_names[i]);
    }
    return list;
}

static bool is_target(const uint32_t *t, size_t n, uint32_t item)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (t[mid] == item) return true;
        if (t[mid] < item)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

void metrics_user(const uint32_t *recs, size_t nrec, const uint32_t *targets, size_t ntargets,
                  double out[METRIC_COUNT])
{
    memset(out, 0, METRIC_COUNT * sizeof(double));
    if (nrec > METRICS_K) nrec = METRICS_K;
    double hits[METRICS_K + 1] = {0}, dcg[METRICS_K + 1] = {0}, idcg[METRICS_K + 1] = {0};
    double first = 0;
    for (size_t i = 0; i < METRICS_K; i++) {
        double disc = 1.0 / log2((double)i + 2.0);
        bool rel = i < nrec && is_target(targets, ntargets, recs[i]);
        if (rel && first == 0) first = 1.0 / ((double)i + 1.0);
        hits[i + 1] = hits[i] + (rel ? 1 : 0);
        dcg[i + 1] = dcg[i] + (rel ? disc : 0);
        idcg[i + 1] = idcg[i] + (i < ntargets ? disc : 0);
    }
    static const int ks[3] = {5, 10, 25};
    for (int j = 0; j < 3; j++) {
        int k = ks[j];
        out[METRIC_NDCG_5 + j] = idcg[k] > 0 ? dcg[k] / idcg[k] : 0;
        out[METRIC_PRECISION_5 + j] = hits[k] / k;
    }
    double nt = ntargets ? (double)ntargets : 1;
    out[METRIC_RECALL_10] = hits[10] / nt;
    out[METRIC_RECALL_25] = hits[25] / nt;
    out[METRIC_MRR_25] = first;
}

void metrics_mean(const double *per_user, size_t nusers, uint64_t ndistinct, uint64_t ncatalog,
                  double out[METRIC_COUNT])
{
    memset(out, 0, METRIC_COUNT * sizeof(double));
    for (size_t u = 0; u < nusers; u++)
        for (int m = 0; m < METRIC_COUNT; m++)
            out[m] += per_user[u * METRIC_COUNT + m];
    for (int m = 0; m < METRIC_COUNT; m++)
        out[m] = nusers ? out[m] / (double)nusers : 0;
    out[METRIC_COVERAGE] = ncatalog ? (double)ndistinct / (double)ncatalog : 0;
}
