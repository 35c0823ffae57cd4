/*
 * control_batch.c: batch inference jobs (batch-inference-job/NAME) and the
 * runner the job workers call (batch_inference_run, jobs.h).
 *
 * Input is JSON Lines as Personalize's: {"userId": "u"}, {"itemId": "i"}, or
 * {"userId": "u", "itemList": [...]} for ranking recipes. Output is one line
 * per input, {"input": ..., "output": {"recommendedItems": [...], "scores":
 * [...]}, "error": null}, written to a temporary file and renamed, to the
 * output path (or DIR/<input name>.out when the path is a directory):
 * batch_run() (batch/batch.h) does the work, with the job's filter.
 */
#include "common/base.h"
#include "api/control_int.h"
#include "api/jobs.h"
#include "batch/batch.h"
#include "models/engine.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH_DEFAULT_RESULTS 25

static json_t *job_json(const struct resource *r, bool full)
{
    json_t *o = json_object();
    json_object_set_new(o, "jobName", json_string(r->name));
    json_object_set_new(o, "batchInferenceJobArn", json_string(r->arn));
    json_object_set_new(o, "status", json_string(r->status));
    if (r->failure_reason) json_object_set_new(o, "failureReason", json_string(r->failure_reason));
    json_object_set_new(o, "creationDateTime", ctl_time(r->created));
    json_object_set_new(o, "lastUpdatedDateTime", ctl_time(r->updated));
    json_t *a = ctl_attrs(r);
    json_object_set(o, "solutionVersionArn", json_object_get(a, "solutionVersionArn"));
    if (full) {
        static const char *const keys[] = {"filterArn", "numResults", "jobInput",
                                           "jobOutput", "roleArn",    "batchInferenceJobConfig"};
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

CTL_OP(CreateBatchInferenceJob)
{
    const char *name = ctl_str(req, "jobName");
    const char *in = json_string_value(
        json_object_get(json_object_get(json_object_get(req, "jobInput"), "s3DataSource"), "path"));
    const char *out = json_string_value(json_object_get(
        json_object_get(json_object_get(req, "jobOutput"), "s3DataDestination"), "path"));
    json_t *nr = json_object_get(req, "numResults");
    if (nr && (json_integer_value(nr) < 1 || json_integer_value(nr) > BATCH_MAX_RESULTS))
        return ctl_invalid(err, "numResults %lld: expected 1 to %d",
                           (long long)json_integer_value(nr), BATCH_MAX_RESULTS);
    char *p = NULL;
    enum rc rc = ctl_confine_path(ctx, in, true, "jobInput.s3DataSource.path", &p, err);
    free(p);
    p = NULL;
    if (!rc) rc = ctl_confine_path(ctx, out, false, "jobOutput.s3DataDestination.path", &p, err);
    free(p);
    if (rc) return rc;
    json_t *tags;
    rc = ctl_tags_from_request(req, &tags, err);
    if (rc) return rc;
    struct resource ver = {0}, r = {0};
    ctl_lock(ctx);
    rc = ctl_get(ctx, ctl_str(req, "solutionVersionArn"), KIND_SOLUTION_VERSION, "solution version",
                 &ver, err);
    if (!rc && strcmp(ver.status, STATUS_ACTIVE) != 0)
        rc = ctl_invalid(err, "solution version %s is %s; batch inference needs an ACTIVE version",
                         ver.arn, ver.status);
    if (!rc && ctl_str(req, "filterArn")) {
        struct resource fr;
        rc = ctl_get(ctx, ctl_str(req, "filterArn"), KIND_FILTER, "filter", &fr, err);
        resource_release(&fr);
    }
    if (!rc) {
        json_t *a = json_pack("{s:s,s:s,s:I,s:O,s:O,s:O}", "jobName", name, "solutionVersionArn",
                              ver.arn, "numResults",
                              (json_int_t)(nr ? json_integer_value(nr) : BATCH_DEFAULT_RESULTS),
                              "jobInput", json_object_get(req, "jobInput"), "jobOutput",
                              json_object_get(req, "jobOutput"), "tags", tags);
        static const char *const keys[] = {"roleArn", "batchInferenceJobConfig", "filterArn"};
        for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
            if (json_object_get(req, keys[i]))
                json_object_set(a, keys[i], json_object_get(req, keys[i]));
        ctl_resource_init(&r, store_arn(ctx->store, KIND_BATCH_INFERENCE, name),
                          KIND_BATCH_INFERENCE, name, ver.id, STATUS_CREATE_PENDING, a);
        rc = ctl_insert(ctx, &r, "batch inference job", err);
    }
    ctl_unlock(ctx);
    if (!rc) {
        jobs_submit(ctx->jobs, JOB_BATCH, r.arn);
        *resp = json_pack("{s:s}", "batchInferenceJobArn", r.arn);
    }
    json_decref(tags);
    resource_release(&ver);
    resource_release(&r);
    return rc;
}

CTL_OP(DescribeBatchInferenceJob)
{
    struct resource r;
    ctl_lock(ctx);
    enum rc rc = ctl_get(ctx, ctl_str(req, "batchInferenceJobArn"), KIND_BATCH_INFERENCE,
                         "batch inference job", &r, err);
    ctl_unlock(ctx);
    if (rc) return rc;
    *resp = json_pack("{s:o}", "batchInferenceJob", job_json(&r, true));
    resource_release(&r);
    return RC_OK;
}

CTL_OP(ListBatchInferenceJobs)
{
    return ctl_list_page(ctx, req, KIND_BATCH_INFERENCE, ctl_str(req, "solutionVersionArn"),
                         KIND_SOLUTION_VERSION, "solution version", job_summary,
                         "batchInferenceJobs", resp, err);
}

/* ---- The runner ------------------------------------------------------------------ */

enum rc batch_inference_run(struct store *s, const char *job_arn, const char *input_path,
                            const char *output_path, const volatile sig_atomic_t *cancel,
                            struct err *e)
{
    struct resource job = {0}, filter = {0};
    enum rc rc = store_resource_get(s, job_arn, &job, e);
    if (rc) return rc;
    json_t *a = ctl_attrs(&job), *fa = NULL;
    resource_release(&job);
    struct batch_request r = {0};
    r.data_dir = store_dir(s);
    r.version_arn = json_string_value(json_object_get(a, "solutionVersionArn"));
    r.input = input_path;
    r.output = output_path;
    r.num_results = (size_t)json_integer_value(json_object_get(a, "numResults"));
    r.threads = 1; /* a background job: leave the other cores to serving */
    r.cancel = cancel;
    const char *farn = json_string_value(json_object_get(a, "filterArn"));
    if (farn) {
        rc = store_resource_get(s, farn, &filter, e);
        if (rc) {
            json_decref(a);
            return err_prefix(e, "filterArn");
        }
        fa = ctl_attrs(&filter);
        r.filter_expression = json_string_value(json_object_get(fa, "filterExpression"));
    }
    json_t *xc =
        json_object_get(json_object_get(a, "batchInferenceJobConfig"), "itemExplorationConfig");
    if (xc) {
        const char *w = json_string_value(json_object_get(xc, "explorationWeight"));
        const char *c = json_string_value(json_object_get(xc, "explorationItemAgeCutOff"));
        r.exploration.weight = w ? strtod(w, NULL) : 0.3;
        r.exploration.age_cutoff_days = c ? strtod(c, NULL) : 30;
    }
    struct batch_report rep = {0};
    if (!r.version_arn)
        rc = err_set(e, RC_INTERNAL, "batch inference job %s has no solutionVersionArn", job_arn);
    else
        rc = batch_run(&r, &rep, e);
    batch_report_release(&rep);
    json_decref(a);
    json_decref(fa);
    resource_release(&filter);
    return rc;
}
