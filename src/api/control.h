/*
 * control.h: the control-plane operation handlers (control_*.c), for the
 * operations table (ops.c). Each validates its request against the
 * Personalize model, then does the work; see api.h for the contract.
 */
#ifndef SAVOR_CONTROL_H
#define SAVOR_CONTROL_H

#include "common/base.h"
#include "api/api.h"

/* clang-format off */
#define CONTROL_OPS(X) \
    X(CreateDatasetGroup) \
    X(DescribeDatasetGroup) \
    X(ListDatasetGroups) \
    X(DeleteDatasetGroup) \
    X(CreateSchema) \
    X(DescribeSchema) \
    X(ListSchemas) \
    X(DeleteSchema) \
    X(CreateDataset) \
    X(DescribeDataset) \
    X(ListDatasets) \
    X(DeleteDataset) \
    X(CreateDatasetImportJob) \
    X(DescribeDatasetImportJob) \
    X(ListDatasetImportJobs) \
    X(CreateSolution) \
    X(DescribeSolution) \
    X(ListSolutions) \
    X(DeleteSolution) \
    X(CreateSolutionVersion) \
    X(DescribeSolutionVersion) \
    X(ListSolutionVersions) \
    X(StopSolutionVersionCreation) \
    X(GetSolutionMetrics) \
    X(CreateCampaign) \
    X(DescribeCampaign) \
    X(ListCampaigns) \
    X(UpdateCampaign) \
    X(DeleteCampaign) \
    X(CreateEventTracker) \
    X(DescribeEventTracker) \
    X(ListEventTrackers) \
    X(DeleteEventTracker) \
    X(CreateFilter) \
    X(DescribeFilter) \
    X(ListFilters) \
    X(DeleteFilter) \
    X(CreateBatchInferenceJob) \
    X(DescribeBatchInferenceJob) \
    X(ListBatchInferenceJobs) \
    X(ListRecipes) \
    X(DescribeRecipe) \
    X(DescribeAlgorithm) \
    X(TagResource) \
    X(UntagResource) \
    X(ListTagsForResource)
/* clang-format on */

#define CONTROL_DECLARE(Op) \
    enum rc ctl_##Op(struct api_ctx *ctx, const json_t *req, json_t **resp, struct api_error *err);
CONTROL_OPS(CONTROL_DECLARE)
#undef CONTROL_DECLARE

#endif
