/*
 * control_import.c: dataset import jobs.
 *
 * CreateDatasetImportJob checks dataSource.dataLocation (a local path or a
 * file:// URI inside the allowed directories) at once, records the job
 * CREATE PENDING and queues it (jobs.h); the worker imports the CSV into the
 * dataset in one transaction (import.h) and records ACTIVE or CREATE FAILED.
 */
#include "common/base.h"
#include "api/control_int.h"
#include "api/jobs.h"

static json_t *job_json(const struct resource *r, bool full)
{
    json_t *o = json_object();
    json_object_set_new(o, "jobName", json_string(r->name));
    json_object_set_new(o, "datasetImportJobArn", json_string(r->arn));
    json_object_set_new(o, "status", json_string(r->status));
    if (r->failure_reason) json_object_set_new(o, "failureReason", json_string(r->failure_reason));
    json_object_set_new(o, "creationDateTime", ctl_time(r->created));
    json_object_set_new(o, "lastUpdatedDateTime", ctl_time(r->updated));
    json_t *a = ctl_attrs(r);
    json_object_set_new(o, "importMode",
                        json_string(json_string_value(json_object_get(a, "importMode"))
                                        ? json_string_value(json_object_get(a, "importMode"))
                                        : "FULL"));
    if (full) {
        const char *keys[] = {"datasetArn", "dataSource", "roleArn",
                              "publishAttributionMetricsToS3"};
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
            if (json_object_get(a, keys[i]))
                json_object_set(o, keys[i], json_object_get(a, keys[i]));
    }
    json_decref(a);
    return o;
}

static json_t *job_summary(const struct resource *r)
{
    return job_json(r, false);
}

CTL_OP(CreateDatasetImportJob)
{
    const char *name = ctl_str(req, "jobName");
    const char *loc =
        json_string_value(json_object_get(json_object_get(req, "dataSource"), "dataLocation"));
    if (!loc) return ctl_invalid(err, "dataSource.dataLocation is required");
    /* Refused now, not when the job runs: the caller learns at once. */
    char *path = NULL;
    enum rc rc = ctl_confine_path(ctx, loc, true, "dataSource.dataLocation", &path, err);
    if (rc) return rc;
    free(path);
    json_t *tags;
    rc = ctl_tags_from_request(req, &tags, err);
    if (rc) return rc;
    struct resource dataset = {0}, r = {0};
    ctl_lock(ctx);
    rc = ctl_get(ctx, ctl_str(req, "datasetArn"), KIND_DATASET, "dataset", &dataset, err);
    if (!rc) {
        const char *mode = ctl_str(req, "importMode");
        json_t *a = json_pack("{s:s,s:s,s:{s:s},s:s,s:O}", "jobName", name, "datasetArn",
                              dataset.arn, "dataSource", "dataLocation", loc, "importMode",
                              mode ? mode : "FULL", "tags", tags);
        const char *role = ctl_str(req, "roleArn");
        if (role) json_object_set_new(a, "roleArn", json_string(role));
        json_t *pub = json_object_get(req, "publishAttributionMetricsToS3");
        if (pub) json_object_set(a, "publishAttributionMetricsToS3", pub);
        ctl_resource_init(&r, store_arn(ctx->store, KIND_IMPORT_JOB, name), KIND_IMPORT_JOB, name,
                          dataset.id, STATUS_CREATE_PENDING, a);
        rc = ctl_insert(ctx, &r, "dataset import job", err);
    }
    ctl_unlock(ctx);
    if (!rc) {
        jobs_submit(ctx->jobs, JOB_IMPORT, r.arn);
        *resp = json_pack("{s:s}", "datasetImportJobArn", r.arn);
    }
    json_decref(tags);
    resource_release(&dataset);
    resource_release(&r);
    return rc;
}

CTL_OP(DescribeDatasetImportJob)
{
    struct resource r;
    ctl_lock(ctx);
    enum rc rc = ctl_get(ctx, ctl_str(req, "datasetImportJobArn"), KIND_IMPORT_JOB,
                         "dataset import job", &r, err);
    ctl_unlock(ctx);
    if (rc) return rc;
    *resp = json_pack("{s:o}", "datasetImportJob", job_json(&r, true));
    resource_release(&r);
    return RC_OK;
}

CTL_OP(ListDatasetImportJobs)
{
    return ctl_list_page(ctx, req, KIND_IMPORT_JOB, ctl_str(req, "datasetArn"), KIND_DATASET,
                         "dataset", job_summary, "datasetImportJobs", resp, err);
}
