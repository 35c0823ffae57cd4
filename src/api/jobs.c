/*
 * jobs.c: background imports, trainings and batch inference (jobs.h).
 */
#include "common/base.h"
#include "api/jobs.h"
#include "api/control_int.h"
#include "common/log.h"
#include "dataset/dataset.h"
#include "import/import.h"
#include "models/engine.h"

#include <errno.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#define JOBS_DEFAULT_WORKERS 2
#define JOBS_MAX_WORKERS     16
#define JOBS_NICE            10

struct job {
    struct job *next;
    enum job_kind kind;
    char *arn;
    volatile sig_atomic_t cancel; /* a training's stop flag (engine train_request.cancel) */
    bool stopped_by_user;         /* StopSolutionVersionCreation, not shutdown */
};

struct jobs {
    struct api_ctx *ctx;
    pthread_mutex_t mu;
    pthread_cond_t cv;      /* work queued, or stopping */
    pthread_cond_t idle_cv; /* a job finished */
    struct job *head, *tail;
    struct job **running; /* per worker, or NULL */
    size_t nworkers;
    pthread_t *threads;
    bool stopping;
};

/* ---- Resource updates from a worker's own connection ------------------------ */

static void set_status(struct store *s, const char *arn, const char *status, const char *reason,
                       bool only_unfinished)
{
    struct err e = ERR_INIT;
    struct resource r = {0};
    if (store_begin(s, &e)) {
        log_error("jobs", "%s: cannot record status %s: %s", arn, status, e.msg);
        return;
    }
    enum rc rc = store_resource_get(s, arn, &r, &e);
    bool unfinished = !rc && (strcmp(r.status, STATUS_CREATE_PENDING) == 0 ||
                              strcmp(r.status, STATUS_CREATE_IN_PROGRESS) == 0);
    /* A stop may also turn the trainer's CREATE FAILED into its own status, never ACTIVE. */
    bool failed = !rc && (strcmp(r.status, STATUS_CREATE_FAILED) == 0 ||
                          strcmp(r.status, STATUS_CREATE_STOPPING) == 0 ||
                          strcmp(r.status, STATUS_CREATE_STOPPED) == 0);
    if (!rc && (unfinished || (!only_unfinished && failed))) {
        free(r.status);
        r.status = xstrdup(status);
        free(r.failure_reason);
        r.failure_reason = reason ? xstrdup(reason) : NULL;
        if (strcmp(status, STATUS_CREATE_IN_PROGRESS) == 0) {
            json_t *a = ctl_attrs(&r);
            json_object_set_new(a, "workerPid", json_integer((json_int_t)getpid()));
            ctl_set_attrs(&r, a);
        }
        rc = store_resource_update(s, &r, &e);
    }
    if (!rc) rc = store_commit(s, &e);
    if (rc && rc != RC_NOT_FOUND)
        log_error("jobs", "%s: cannot record status %s: %s", arn, status, e.msg);
    store_rollback(s);
    resource_release(&r);
}

/* ---- Imports ----------------------------------------------------------------- */

static enum rc run_import(struct jobs *j, struct store *s, const char *arn, struct err *e)
{
    struct resource job = {0}, dataset = {0}, group = {0};
    json_t *a = NULL, *da = NULL;
    enum rc rc = store_resource_get(s, arn, &job, e);
    if (rc) return rc;
    a = ctl_attrs(&job);
    const char *loc =
        json_string_value(json_object_get(json_object_get(a, "dataSource"), "dataLocation"));
    const char *mode = json_string_value(json_object_get(a, "importMode"));
    char *path = NULL;
    struct api_error aerr;
    /* Checked again now: a symbolic link could have been swapped since the request. */
    if (!loc || ctl_confine_path(j->ctx, loc, true, "dataSource.dataLocation", &path, &aerr)) {
        rc = err_set(e, RC_INVALID_INPUT, "%s", loc ? aerr.message : "no dataSource.dataLocation");
        goto out;
    }
    rc = store_resource_get_id(s, job.parent_id, &dataset, e);
    if (!rc) rc = store_resource_get_id(s, dataset.parent_id, &group, e);
    if (rc) goto out;
    da = ctl_attrs(&dataset);
    struct import_opts o = {0};
    o.group = group.name;
    if (!dataset_type_parse(json_string_value(json_object_get(da, "datasetType")), &o.type)) {
        rc = err_set(e, RC_INTERNAL, "dataset %s has no known datasetType", dataset.arn);
        goto out;
    }
    if (!mode || !import_mode_parse(mode, &o.mode)) o.mode = IMPORT_FULL;
    o.input = path;
    o.job_name = job.name;
    o.job_exists = true;
    set_status(s, arn, STATUS_CREATE_IN_PROGRESS, NULL, true);
    struct import_report rep;
    rc = import_run(s, &o, &rep, e);
    import_report_release(&rep);
out:
    free(path);
    json_decref(a);
    json_decref(da);
    resource_release(&job);
    resource_release(&dataset);
    resource_release(&group);
    return rc;
}

/* ---- Trainings --------------------------------------------------------------- */

static enum rc run_training(struct store *s, struct job *jb, struct err *e)
{
    struct resource ver = {0}, sol = {0}, group = {0};
    json_t *va = NULL, *sa = NULL;
    struct param_kv *kv = NULL;
    size_t nkv = 0;
    char *done_arn = NULL, *hpo = NULL, *automl = NULL;
    enum rc rc = store_resource_get(s, jb->arn, &ver, e);
    if (!rc) rc = store_resource_get_id(s, ver.parent_id, &sol, e);
    if (!rc) rc = store_resource_get_id(s, sol.parent_id, &group, e);
    if (rc) goto out;
    va = ctl_attrs(&ver);
    sa = ctl_attrs(&sol);
    rc = ctl_solution_kv(sa, &kv, &nkv, e);
    if (rc) goto out;
    struct train_request r = {0};
    r.group = group.name;
    r.recipe = json_string_value(json_object_get(sa, "recipeArn"));
    r.solution = sol.name;
    r.kv = kv;
    r.nkv = nkv;
    const char *mode = json_string_value(json_object_get(va, "trainingMode"));
    r.update = mode && strcmp(mode, "UPDATE") == 0;
    r.version_arn = jb->arn;
    r.cancel = &jb->cancel;
    /* HPO and AutoML (eval/): the solution's flags and configurations as JSON texts. */
    r.perform_hpo = json_is_true(json_object_get(sa, "performHPO"));
    r.perform_automl = json_is_true(json_object_get(sa, "performAutoML"));
    const json_t *cfg = json_object_get(sa, "solutionConfig");
    if (json_object_get(cfg, "hpoConfig"))
        hpo = json_dumps(json_object_get(cfg, "hpoConfig"), JSON_COMPACT);
    if (json_object_get(cfg, "autoMLConfig"))
        automl = json_dumps(json_object_get(cfg, "autoMLConfig"), JSON_COMPACT);
    r.hpo_config = hpo;
    r.automl_config = automl;
    rc = engine_train(s, &r, &done_arn, e);
out:
    free(done_arn);
    free(hpo);
    free(automl);
    free(kv);
    json_decref(va);
    json_decref(sa);
    resource_release(&ver);
    resource_release(&sol);
    resource_release(&group);
    return rc;
}

/* ---- Batch inference --------------------------------------------------------- */

static enum rc run_batch(struct jobs *j, struct store *s, struct job *jb, struct err *e)
{
    const char *arn = jb->arn;
    struct resource job = {0};
    enum rc rc = store_resource_get(s, arn, &job, e);
    if (rc) return rc;
    json_t *a = ctl_attrs(&job);
    const char *in = json_string_value(
        json_object_get(json_object_get(json_object_get(a, "jobInput"), "s3DataSource"), "path"));
    const char *out = json_string_value(json_object_get(
        json_object_get(json_object_get(a, "jobOutput"), "s3DataDestination"), "path"));
    char *in_path = NULL, *out_path = NULL;
    struct api_error aerr;
    if (!in || ctl_confine_path(j->ctx, in, true, "jobInput.s3DataSource.path", &in_path, &aerr) ||
        !out ||
        ctl_confine_path(j->ctx, out, false, "jobOutput.s3DataDestination.path", &out_path, &aerr))
        rc = err_set(e, RC_INVALID_INPUT, "%s",
                     (in && out) ? aerr.message : "no input or output path");
    if (!rc) {
        set_status(s, arn, STATUS_CREATE_IN_PROGRESS, NULL, true);
        rc = batch_inference_run(s, arn, in_path, out_path, &jb->cancel, e);
    }
    free(in_path);
    free(out_path);
    json_decref(a);
    resource_release(&job);
    return rc;
}

/* ---- Workers ----------------------------------------------------------------- */

static void job_free(struct job *jb)
{
    if (!jb) return;
    free(jb->arn);
    free(jb);
}

static void run_job(struct jobs *j, struct store *s, struct job *jb)
{
    struct err e = ERR_INIT;
    enum rc rc;
    switch (jb->kind) {
    case JOB_IMPORT:
        rc = run_import(j, s, jb->arn, &e);
        break;
    case JOB_TRAIN:
        rc = run_training(s, jb, &e);
        break;
    case JOB_BATCH:
        rc = run_batch(j, s, jb, &e);
        break;
    default:
        rc = err_set(&e, RC_INTERNAL, "unknown job kind %d", (int)jb->kind);
    }
    if (jb->kind == JOB_BATCH && jb->cancel) {
        /* Only shutdown stops a batch job: it runs again on the next start. */
        set_status(s, jb->arn, STATUS_CREATE_PENDING, NULL, false);
        return;
    }
    if (jb->kind == JOB_TRAIN && jb->cancel) {
        /* Stopped: by the user (CREATE STOPPED), or by shutdown (resumes on the next start). */
        if (jb->stopped_by_user)
            set_status(s, jb->arn, STATUS_CREATE_STOPPED, NULL, false);
        else
            set_status(s, jb->arn, STATUS_CREATE_PENDING, NULL, false);
        log_info("jobs", "%s stopped%s", jb->arn, jb->stopped_by_user ? "" : " by shutdown");
        return;
    }
    if (rc) {
        /* Whatever step failed, the job must not stay pending or in progress. */
        set_status(s, jb->arn, STATUS_CREATE_FAILED, e.msg, true);
        log_warn("jobs", "%s failed: %s", jb->arn, e.msg);
    } else {
        set_status(s, jb->arn, STATUS_ACTIVE, NULL, true);
        log_info("jobs", "%s done", jb->arn);
    }
}

struct worker_arg {
    struct jobs *j;
    size_t slot;
};

static void *worker(void *p)
{
    struct worker_arg *wa = p;
    struct jobs *j = wa->j;
    size_t slot = wa->slot;
    free(wa);
    /* Below serving: Linux applies nice per thread, and threads started from here inherit it. */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), JOBS_NICE) != 0)
        log_debug("jobs", "setpriority: %s", strerror(errno));
    struct store *s = NULL;
    struct err e = ERR_INIT;
    if (store_open(j->ctx->data_dir, &s, &e)) {
        log_error("jobs", "worker %zu cannot open the store: %s", slot, e.msg);
        s = NULL;
    }
    pthread_mutex_lock(&j->mu);
    for (;;) {
        while (!j->stopping && !j->head)
            pthread_cond_wait(&j->cv, &j->mu);
        if (j->stopping) break;
        struct job *jb = j->head;
        j->head = jb->next;
        if (!j->head) j->tail = NULL;
        j->running[slot] = jb;
        pthread_mutex_unlock(&j->mu);
        if (s) {
            run_job(j, s, jb);
        } else {
            log_error("jobs", "%s not run: no store connection", jb->arn);
        }
        pthread_mutex_lock(&j->mu);
        j->running[slot] = NULL;
        job_free(jb);
        pthread_cond_broadcast(&j->idle_cv);
    }
    pthread_mutex_unlock(&j->mu);
    store_close(s);
    return NULL;
}

/* ---- Recovery ------------------------------------------------------------------ */

/* Whether process 'pid' runs (other than us: a restarted server has a new pid). */
static bool pid_alive(long long pid)
{
    if (pid <= 0 || pid == (long long)getpid()) return false;
    return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

static enum rc recover(struct jobs *j, struct err *e)
{
    struct store *s = j->ctx->store;
    enum rc rc = engine_recover(s, e);
    if (rc) return rc;
    static const struct {
        const char *kind;
        enum job_kind job;
    } kinds[] = {{KIND_IMPORT_JOB, JOB_IMPORT},
                 {KIND_SOLUTION_VERSION, JOB_TRAIN},
                 {KIND_BATCH_INFERENCE, JOB_BATCH}};
    for (size_t k = 0; k < ARRAY_SIZE(kinds); k++) {
        struct resource *list;
        size_t n;
        rc = store_resource_list(s, kinds[k].kind, 0, &list, &n, e);
        if (rc) return rc;
        for (size_t i = 0; i < n; i++) {
            struct resource *r = &list[i];
            if (strcmp(r->status, STATUS_CREATE_STOPPING) == 0) {
                /* Its trainer died with the server: the stop is complete. */
                set_status(s, r->arn, STATUS_CREATE_STOPPED, NULL, false);
                continue;
            }
            if (strcmp(r->status, STATUS_CREATE_PENDING) == 0) {
                jobs_submit(j, kinds[k].job, r->arn);
                continue;
            }
            if (strcmp(r->status, STATUS_CREATE_IN_PROGRESS) != 0) continue;
            if (kinds[k].job == JOB_TRAIN) continue; /* engine_recover decided */
            json_t *a = ctl_attrs(r);
            long long pid = json_integer_value(json_object_get(a, "workerPid"));
            json_decref(a);
            if (pid_alive(pid)) continue;
            set_status(s, r->arn, STATUS_CREATE_FAILED,
                       "interrupted: the server stopped while this job ran; create the job again",
                       true);
        }
        resource_list_free(list, n);
    }
    return RC_OK;
}

/* ---- Public ---------------------------------------------------------------------- */

enum rc jobs_start(struct api_ctx *ctx, struct err *e)
{
    struct jobs *j = xcalloc(1, sizeof(*j));
    j->ctx = ctx;
    pthread_mutex_init(&j->mu, NULL);
    pthread_cond_init(&j->cv, NULL);
    pthread_cond_init(&j->idle_cv, NULL);
    j->nworkers = JOBS_DEFAULT_WORKERS;
    const char *env = getenv("SAVOR_JOB_WORKERS");
    if (env && *env) {
        char *end;
        long n = strtol(env, &end, 10);
        if (*end || n < 1 || n > JOBS_MAX_WORKERS) {
            free(j);
            return err_set(e, RC_INVALID_INPUT, "SAVOR_JOB_WORKERS '%s': expected 1 to %d", env,
                           JOBS_MAX_WORKERS);
        }
        j->nworkers = (size_t)n;
    }
    j->running = xcalloc(j->nworkers, sizeof(*j->running));
    j->threads = xcalloc(j->nworkers, sizeof(*j->threads));
    ctl_lock(ctx);
    enum rc rc = recover(j, e);
    ctl_unlock(ctx);
    if (rc) {
        jobs_stop(j);
        return rc;
    }
    for (size_t i = 0; i < j->nworkers; i++) {
        struct worker_arg *wa = xmalloc(sizeof(*wa));
        wa->j = j;
        wa->slot = i;
        if (pthread_create(&j->threads[i], NULL, worker, wa) != 0) {
            fprintf(stderr, "savor: cannot start a job worker thread\n");
            abort();
        }
    }
    ctx->jobs = j;
    return RC_OK;
}

void jobs_stop(struct jobs *j)
{
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    j->stopping = true;
    for (size_t i = 0; i < j->nworkers; i++)
        if (j->running[i] && j->running[i]->kind != JOB_IMPORT) j->running[i]->cancel = 1;
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&j->mu);
    for (size_t i = 0; i < j->nworkers; i++)
        if (j->threads[i]) pthread_join(j->threads[i], NULL);
    /* Queued jobs stay CREATE PENDING in the store: the next start queues them again. */
    while (j->head) {
        struct job *next = j->head->next;
        job_free(j->head);
        j->head = next;
    }
    if (j->ctx && j->ctx->jobs == j) j->ctx->jobs = NULL;
    pthread_mutex_destroy(&j->mu);
    pthread_cond_destroy(&j->cv);
    pthread_cond_destroy(&j->idle_cv);
    free(j->running);
    free(j->threads);
    free(j);
}

void jobs_submit(struct jobs *j, enum job_kind kind, const char *arn)
{
    if (!j) return; /* no workers (e.g. a test without jobs): stays CREATE PENDING */
    struct job *jb = xcalloc(1, sizeof(*jb));
    jb->kind = kind;
    jb->arn = xstrdup(arn);
    pthread_mutex_lock(&j->mu);
    if (j->tail)
        j->tail->next = jb;
    else
        j->head = jb;
    j->tail = jb;
    pthread_cond_signal(&j->cv);
    pthread_mutex_unlock(&j->mu);
}

enum jobs_cancel jobs_cancel(struct jobs *j, const char *arn)
{
    if (!j) return JOBS_CANCEL_NONE;
    enum jobs_cancel found = JOBS_CANCEL_NONE;
    pthread_mutex_lock(&j->mu);
    for (size_t i = 0; i < j->nworkers && !found; i++) {
        struct job *jb = j->running[i];
        if (jb && jb->kind == JOB_TRAIN && strcmp(jb->arn, arn) == 0) {
            jb->stopped_by_user = true;
            jb->cancel = 1;
            found = JOBS_CANCEL_RUNNING;
        }
    }
    /* Queued: take it out; the caller records CREATE STOPPED. */
    for (struct job **pp = &j->head; *pp && !found; pp = &(*pp)->next) {
        struct job *jb = *pp;
        if (jb->kind == JOB_TRAIN && strcmp(jb->arn, arn) == 0) {
            *pp = jb->next;
            if (j->tail == jb) {
                j->tail = NULL;
                for (struct job *t = j->head; t; t = t->next)
                    j->tail = t;
            }
            job_free(jb);
            found = JOBS_CANCEL_QUEUED;
            break; /* before the loop's step reads the entry just taken out */
        }
    }
    pthread_mutex_unlock(&j->mu);
    return found;
}

size_t jobs_pending(struct jobs *j)
{
    if (!j) return 0;
    size_t n = 0;
    pthread_mutex_lock(&j->mu);
    for (struct job *jb = j->head; jb; jb = jb->next)
        n++;
    for (size_t i = 0; i < j->nworkers; i++)
        n += j->running[i] != NULL;
    pthread_mutex_unlock(&j->mu);
    return n;
}

void jobs_wait_idle(struct jobs *j)
{
    if (!j) return;
    pthread_mutex_lock(&j->mu);
    for (;;) {
        bool busy = j->head != NULL;
        for (size_t i = 0; i < j->nworkers; i++)
            busy = busy || j->running[i] != NULL;
        if (!busy || j->stopping) break;
        pthread_cond_wait(&j->idle_cv, &j->mu);
    }
    pthread_mutex_unlock(&j->mu);
}
