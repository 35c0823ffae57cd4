/*
 * control_batch.c: batch inference jobs (batch-inference-job/NAME) and the
 * runner the job workers call (batch_inference_run, jobs.h).
 *
 * Input is JSON Lines as Personalize's: {"userId": "u"}, {"itemId": "i"}, or
 * {"userId": "u", "itemList": [...]} for ranking recipes. Output is one line
 * per input, {"input": ..., "output": {"recommendedItems": [...], "scores":
 * [...]}, "error": null}, written to a temporary file and renamed, to the
 * output path (or DIR/<input name>.out when the path is a directory).
 * Filters (filterArn) need the filters module and are refused until then.
 */
#include "common/base.h"
#include "api/control_int.h"
#include "api/jobs.h"
#include "models/engine.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#define BATCH_DEFAULT_RESULTS 25
#define BATCH_MAX_RESULTS     500
#define BATCH_MAX_LINE        (1 << 20)

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
    if (ctl_str(req, "filterArn"))
        return ctl_invalid(err,
                           "filterArn: batch inference with filters is not available yet in savor");
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
    if (!rc) {
        json_t *a = json_pack("{s:s,s:s,s:I,s:O,s:O,s:O}", "jobName", name, "solutionVersionArn",
                              ver.arn, "numResults",
                              (json_int_t)(nr ? json_integer_value(nr) : BATCH_DEFAULT_RESULTS),
                              "jobInput", json_object_get(req, "jobInput"), "jobOutput",
                              json_object_get(req, "jobOutput"), "tags", tags);
        static const char *const keys[] = {"roleArn", "batchInferenceJobConfig"};
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

/* One input line's answer as Personalize's output object, or an error text. */
static json_t *answer(struct model *m, const json_t *in, size_t n, const struct exploration *x,
                      char *error, size_t error_len)
{
    const char *user = json_string_value(json_object_get(in, "userId"));
    const char *item = json_string_value(json_object_get(in, "itemId"));
    const json_t *list = json_object_get(in, "itemList");
    json_t *res = NULL;
    struct err e = ERR_INIT;
    enum rc rc;
    if (list) {
        if (!user || !json_is_array(list)) {
            snprintf(error, error_len, "ranking needs userId and an itemList array");
            return NULL;
        }
        size_t k = json_array_size(list);
        const char **items = xcalloc(k ? k : 1, sizeof(*items));
        for (size_t i = 0; i < k; i++) {
            items[i] = json_string_value(json_array_get(list, i));
            if (!items[i]) items[i] = "";
        }
        rc = model_rank(m, user, items, k, false, NULL, &res, &e);
        free(items);
    } else if (user || item) {
        rc = model_recommend(m, user, user ? NULL : item, n, false, x, NULL, &res, &e);
    } else {
        snprintf(error, error_len, "each line needs userId or itemId");
        return NULL;
    }
    if (rc) {
        snprintf(error, error_len, "%s", e.msg);
        return NULL;
    }
    json_t *ids = json_array(), *scores = json_array();
    const json_t *il = json_object_get(res, "personalizedRanking");
    if (!il) il = json_object_get(res, "itemList");
    size_t i;
    json_t *it;
    json_array_foreach(il, i, it)
    {
        json_array_append(ids, json_object_get(it, "itemId"));
        json_t *s = json_object_get(it, "score");
        json_array_append(scores, s ? s : json_null());
    }
    json_decref(res);
    return json_pack("{s:o,s:o}", "recommendedItems", ids, "scores", scores);
}

enum rc batch_inference_run(struct store *s, const char *job_arn, const char *input_path,
                            const char *output_path, struct err *e)
{
    struct resource job = {0};
    enum rc rc = store_resource_get(s, job_arn, &job, e);
    if (rc) return rc;
    json_t *a = ctl_attrs(&job);
    resource_release(&job);
    size_t n = (size_t)json_integer_value(json_object_get(a, "numResults"));
    if (!n) n = BATCH_DEFAULT_RESULTS;
    struct exploration x = {0.3, 30}, *xp = NULL;
    json_t *xc =
        json_object_get(json_object_get(a, "batchInferenceJobConfig"), "itemExplorationConfig");
    if (xc) {
        const char *w = json_string_value(json_object_get(xc, "explorationWeight"));
        const char *c = json_string_value(json_object_get(xc, "explorationItemAgeCutOff"));
        if (w) x.weight = strtod(w, NULL);
        if (c) x.age_cutoff_days = strtod(c, NULL);
        xp = &x;
    }
    struct model *m = NULL;
    rc = model_open_version(s, json_string_value(json_object_get(a, "solutionVersionArn")), &m, e);
    json_decref(a);
    if (rc) return rc;

    struct stat st;
    char *target;
    if (stat(output_path, &st) == 0 && S_ISDIR(st.st_mode)) {
        const char *base = strrchr(input_path, '/');
        target = xasprintf("%s/%s.out", output_path, base ? base + 1 : input_path);
    } else {
        target = xstrdup(output_path);
    }
    char *tmp = xasprintf("%s.tmp%d", target, (int)getpid());
    FILE *fin = fopen(input_path, "r");
    FILE *fout = fin ? fopen(tmp, "w") : NULL;
    if (!fin || !fout) {
        rc = err_set(e, RC_IO, "%s: %s", fin ? tmp : input_path, strerror(errno));
        goto out;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    size_t lineno = 0;
    while (!rc && (len = getline(&line, &cap, fin)) >= 0) {
        lineno++;
        if (len > BATCH_MAX_LINE) {
            rc = err_set(e, RC_INVALID_INPUT, "%s:%zu: line longer than %d bytes", input_path,
                         lineno, BATCH_MAX_LINE);
            break;
        }
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            line[--len] = '\0';
        if (len == 0) continue;
        json_error_t je;
        json_t *in = json_loadb(line, (size_t)len, 0, &je);
        if (!json_is_object(in)) {
            json_decref(in);
            rc = err_set(e, RC_INVALID_INPUT, "%s:%zu: not a JSON object: %s", input_path, lineno,
                         je.text);
            break;
        }
        char error[ERR_MSG_MAX] = "";
        json_t *o = answer(m, in, n, xp, error, sizeof(error));
        json_t *rec = json_pack("{s:O,s:o,s:o}", "input", in, "output", o ? o : json_null(),
                                "error", *error ? json_string(error) : json_null());
        char *text = json_dumps(rec, JSON_COMPACT | JSON_PRESERVE_ORDER);
        if (!text || fprintf(fout, "%s\n", text) < 0)
            rc = err_set(e, RC_IO, "%s: %s", tmp, strerror(errno));
        free(text);
        json_decref(rec);
        json_decref(in);
    }
    free(line);
    if (!rc && ferror(fin)) rc = err_set(e, RC_IO, "%s: read error", input_path);
    if (fflush(fout) != 0 || fsync(fileno(fout)) != 0)
        if (!rc) rc = err_set(e, RC_IO, "%s: %s", tmp, strerror(errno));
out:
    if (fin) fclose(fin);
    if (fout) fclose(fout);
    if (!rc && rename(tmp, target) != 0) rc = err_set(e, RC_IO, "%s: %s", target, strerror(errno));
    if (rc) unlink(tmp);
    free(tmp);
    free(target);
    model_close(m);
    return rc;
}
