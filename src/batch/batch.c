/*
 * batch.c: batch inference (batch.h): input lines split in chunks across
 * worker threads sharing one model (answering is thread-safe); the calling
 * thread writes finished chunks in input order.
 */
#include "common/base.h"
#include "common/json_text.h"
#include "batch/batch.h"
#include "common/clock.h"
#include "common/progress.h"
#include "common/vec.h"
#include "dataset/dataset.h"
#include "filter/filter.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <libgen.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

/* OpenBLAS (not in its headers as Debian ships them without cblas.h's extras). */
int openblas_get_num_threads(void);
void openblas_set_num_threads(int num_threads);

void openblas_set_num_threads(int num_threads);

#define CHUNK_LINES 1024 /* lines a worker takes at a time */
#define AHEAD       8    /* chunks per thread that may wait to be written */

void batch_report_release(struct batch_report *r)
{
    free(r->output);
    memset(r, 0, sizeof(*r));
}

/* ---- One line ------------------------------------------------------------- */

static char *line_result(json_t *input, json_t *output, const char *error)
{
    json_t *o = json_object();
    json_object_set_new(o, "input", input ? input : json_null());
    json_object_set_new(o, "output", output ? output : json_null());
    json_object_set_new(o, "error", error ? json_string(error) : json_null());
    struct buf b;
    buf_init(&b, BUF_NO_CAP);
    enum rc rc = json_text_append(&b, o, 7); /* json_dumps()'s text, in insertion order */
    json_decref(o);
    if (rc) {
        buf_release(&b);
        return xstrdup("{\"input\":null,\"output\":null,\"error\":\"cannot encode\"}");
    }
    return buf_detach(&b, NULL);
}

/* {"itemList"|"personalizedRanking": [{"itemId","score"}...]} -> {recommendedItems, scores} */
static json_t *batch_output(json_t *answer)
{
    json_t *list = json_object_get(answer, "itemList");
    if (!list) list = json_object_get(answer, "personalizedRanking");
    json_t *items = json_array(), *scores = json_array();
    size_t i;
    json_t *x;
    json_array_foreach(list, i, x)
    {
        json_array_append(items, json_object_get(x, "itemId"));
        json_t *s = json_object_get(x, "score");
        json_array_append(scores, s ? s : json_null());
    }
    return json_pack("{s:o,s:o}", "recommendedItems", items, "scores", scores);
}

/* An optional string member; false (with *why) if present but not a non-empty string. */
static bool opt_string(json_t *o, const char *key, const char **out, char *why, size_t n)
{
    json_t *v = json_object_get(o, key);
    *out = NULL;
    if (!v) return true;
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > ID_MAX_LEN ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        snprintf(why, n, "%s: expected a string of 1 to %d characters", key, ID_MAX_LEN);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

/* One input line on its way to an output line. */
struct pending {
    json_t *in;              /* the parsed input (owned), or the raw line as a string */
    const char *user, *item; /* borrowed from 'in' */
    const char **items;      /* itemList (owned array of borrowed strings) */
    size_t nitems;
    struct filter_bound *fb; /* owned */
    json_t *answer;          /* the engine's answer (owned), NULL on error */
    struct rec_list list;    /* or, from model_recommend_many(), as a list (owned) */
    bool listed;             /* 'list' holds the answer */
    bool bad;
    char why[ERR_MSG_MAX];
};

static void pending_release(struct pending *p)
{
    json_decref(p->in);
    json_decref(p->answer);
    rec_list_release(&p->list);
    filter_bound_free(p->fb);
    free(p->items);
    memset(p, 0, sizeof(*p));
}

static void fail_line(struct pending *p, const char *fmt, ...) PRINTF_LIKE(2, 3);
static void fail_line(struct pending *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->why, sizeof(p->why), fmt, ap);
    va_end(ap);
    p->bad = true;
}

/* Parse and check one line, and bind its filter values. */
static void prepare_line(const struct recipe *r, struct filter *filter,
                         const json_t *default_values, const char *line, size_t len,
                         struct pending *p)
{
    memset(p, 0, sizeof(*p));
    json_error_t je;
    p->in = json_loadb(line, len, 0, &je);
    if (!p->in) {
        p->in = json_stringn(line, len); /* NULL when not UTF-8 */
        if (!p->in) p->in = json_string("(input line is not UTF-8)");
        fail_line(p, "not JSON: %s at column %d", je.text, je.column);
        return;
    }
    if (!json_is_object(p->in)) {
        fail_line(p, "expected a JSON object");
        return;
    }
    if (!opt_string(p->in, "userId", &p->user, p->why, sizeof(p->why)) ||
        !opt_string(p->in, "itemId", &p->item, p->why, sizeof(p->why))) {
        p->bad = true;
        return;
    }
    json_t *list = json_object_get(p->in, "itemList");
    if (r->kind == RECIPE_PERSONALIZED_RANKING) {
        if (!p->user || !json_is_array(list) || json_array_size(list) == 0) {
            fail_line(p, "a personalized-ranking batch needs \"userId\" and \"itemList\" (an "
                         "array of item IDs)");
            return;
        }
        if (json_array_size(list) > BATCH_MAX_RESULTS) {
            fail_line(p, "itemList has %zu items; the limit is %d", json_array_size(list),
                      BATCH_MAX_RESULTS);
            return;
        }
        p->nitems = json_array_size(list);
        p->items = xcalloc(p->nitems, sizeof(*p->items));
        for (size_t i = 0; i < p->nitems; i++) {
            p->items[i] = json_string_value(json_array_get(list, i));
            if (!p->items[i]) {
                fail_line(p, "itemList[%zu]: expected a string", i);
                return;
            }
        }
    } else if (r->kind == RECIPE_RELATED_ITEMS) {
        if (!p->item) {
            fail_line(p, "recipe %s needs \"itemId\" on each line", r->name);
            return;
        }
    } else if (!p->user) {
        fail_line(p, "recipe %s needs \"userId\" on each line", r->name);
        return;
    }
    if (filter) {
        struct err e = ERR_INIT;
        json_t *fv = json_object_get(p->in, "filterValues");
        if (filter_bind(filter, fv ? fv : default_values, &p->fb, &e)) fail_line(p, "%s", e.msg);
    }
}

/* Answer one prepared line on its own. */
static void answer_one(struct model *m, size_t num_results, const struct exploration *x,
                       struct pending *p)
{
    struct err e = ERR_INIT;
    const struct recipe *r = model_recipe(m);
    enum rc rc = r->kind == RECIPE_PERSONALIZED_RANKING
                     ? model_rank(m, p->user, p->items, p->nitems, false, p->fb, &p->answer, &e)
                     : model_recommend(m, p->user, r->kind == RECIPE_RELATED_ITEMS ? p->item : NULL,
                                       num_results, false, x, p->fb, &p->answer, &e);
    if (rc) fail_line(p, "%s", e.msg);
}

/*
 * The output line of an answer from model_recommend_many(), written
 * directly: line_result()'s text without building the JSON in between.
 */
static char *list_line(struct model *m, const json_t *in, const struct rec_list *l)
{
    struct buf b;
    buf_init(&b, BUF_NO_CAP);
    enum rc rc = buf_addstr(&b, "{\"input\":");
    if (!rc) rc = json_text_append(&b, in, 7);
    if (!rc) rc = buf_addstr(&b, ",\"output\":{\"recommendedItems\":[");
    for (size_t k = 0; k < l->n && !rc; k++) {
        if (k) rc = buf_addch(&b, ',');
        if (!rc) rc = model_item_id_text(m, l->v[k].item, &b);
    }
    if (!rc) rc = buf_addstr(&b, "],\"scores\":[");
    for (size_t k = 0; k < l->n && !rc; k++) {
        if (k) rc = buf_addch(&b, ',');
        if (!rc) rc = json_text_real(&b, l->v[k].score, 7);
    }
    if (!rc) rc = buf_addstr(&b, "]},\"error\":null}");
    if (rc) {
        buf_release(&b);
        return xstrdup("{\"input\":null,\"output\":null,\"error\":\"cannot encode\"}");
    }
    return buf_detach(&b, NULL);
}

/* The output line of a prepared and answered line; *failed tells whether it is an error. */
static char *finish_line(struct model *m, struct pending *p, bool *failed)
{
    *failed = p->bad;
    if (!p->bad && p->listed) return list_line(m, p->in, &p->list);
    json_t *in = p->in;
    p->in = NULL;
    if (p->bad) return line_result(in, NULL, p->why);
    return line_result(in, batch_output(p->answer), NULL);
}

/*
 * Answer lines [0, n) into 'out' (output lines); returns how many are
 * errors. The users of user recipes are scored together
 * (model_recommend_many()).
 */
static size_t answer_lines(struct model *m, struct filter *filter, const json_t *default_values,
                           const char *const *lines, const size_t *lens, size_t n,
                           size_t num_results, const struct exploration *x, char **out)
{
    const struct recipe *r = model_recipe(m);
    struct pending *p = xcalloc(n ? n : 1, sizeof(*p));
    for (size_t i = 0; i < n; i++)
        prepare_line(r, filter, default_values, lines[i], lens[i], &p[i]);
    if (r->kind == RECIPE_USER_PERSONALIZATION || r->kind == RECIPE_POPULAR_ITEMS) {
        const char **users = xcalloc(n ? n : 1, sizeof(*users));
        const struct filter_bound **fbs = xcalloc(n ? n : 1, sizeof(*fbs));
        size_t *which = xcalloc(n ? n : 1, sizeof(*which)), k = 0;
        for (size_t i = 0; i < n; i++) {
            if (p[i].bad) continue;
            users[k] = p[i].user;
            fbs[k] = p[i].fb;
            which[k++] = i;
        }
        struct rec_list *lists = xcalloc(k ? k : 1, sizeof(*lists));
        bool *ok = xcalloc(k ? k : 1, sizeof(*ok));
        struct err *errs = xcalloc(k ? k : 1, sizeof(*errs));
        model_recommend_many(m, users, k, num_results, x, fbs, lists, ok, errs);
        for (size_t i = 0; i < k; i++) {
            p[which[i]].list = lists[i];
            p[which[i]].listed = ok[i];
            if (!ok[i]) fail_line(&p[which[i]], "%s", errs[i].msg);
        }
        free(lists);
        free(ok);
        free(errs);
        free(users);
        free(fbs);
        free(which);
    } else {
        for (size_t i = 0; i < n; i++)
            if (!p[i].bad) answer_one(m, num_results, x, &p[i]);
    }
    size_t errors = 0;
    for (size_t i = 0; i < n; i++) {
        bool failed;
        out[i] = finish_line(m, &p[i], &failed);
        errors += failed;
        pending_release(&p[i]);
    }
    free(p);
    return errors;
}

char *batch_answer_line(struct model *m, struct filter *filter, const json_t *default_values,
                        const char *line, size_t len, size_t num_results,
                        const struct exploration *x)
{
    char *out;
    answer_lines(m, filter, default_values, &line, &len, 1, num_results, x, &out);
    return out;
}

/* ---- Paths ---------------------------------------------------------------- */

/* Strip file://; other schemes are refused. Returns a new string. */
static enum rc local_path(const char *what, const char *uri, char **out, struct err *e)
{
    if (strncmp(uri, "file://", 7) == 0) {
        *out = xstrdup(uri + 7);
        return RC_OK;
    }
    const char *colon = strstr(uri, "://");
    if (colon)
        return err_set(e, RC_INVALID_INPUT,
                       "%s %s: savor reads and writes local paths and file:// URIs only", what,
                       uri);
    *out = xstrdup(uri);
    return RC_OK;
}

/* DIR/ or an existing directory: DIR/<input name>.out, as Personalize names batch output. */
static char *output_file(const char *out, const char *in)
{
    struct stat st;
    size_t n = strlen(out);
    if ((n && out[n - 1] == '/') || (stat(out, &st) == 0 && S_ISDIR(st.st_mode))) {
        char *copy = xstrdup(in);
        char *path =
            xasprintf("%s%s%s.out", out, n && out[n - 1] == '/' ? "" : "/", basename(copy));
        free(copy);
        return path;
    }
    return xstrdup(out);
}

/* ---- Threads ---------------------------------------------------------------- */

struct chunk {
    char **lines; /* output lines, CHUNK_LINES at most */
    size_t n;
    size_t errors; /* lines with an error */
    bool done;
};

struct job {
    const struct batch_request *r;
    const char *text;     /* the whole input */
    const size_t *starts; /* non-blank lines: start offsets */
    const size_t *lens;
    size_t nlines;
    struct chunk *chunks;
    size_t nchunks;
    struct filter *filter;
    json_t *default_values;
    size_t num_results;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    size_t next;    /* next chunk to take */
    size_t written; /* chunks written so far */
    size_t window;  /* chunks that may be ahead of 'written' */
    bool stop;      /* cancelled or failed */
};

struct worker {
    struct job *job;
    struct model *model;
    pthread_t tid;
};

static bool cancelled(const struct job *j)
{
    return j->r->cancel && *j->r->cancel;
}

static void *work(void *arg)
{
    struct worker *w = arg;
    struct job *j = w->job;
    for (;;) {
        pthread_mutex_lock(&j->lock);
        while (!j->stop && j->next < j->nchunks && j->next >= j->written + j->window)
            pthread_cond_wait(&j->cond, &j->lock);
        if (j->stop || j->next >= j->nchunks) {
            pthread_mutex_unlock(&j->lock);
            return NULL;
        }
        size_t c = j->next++;
        pthread_mutex_unlock(&j->lock);
        struct chunk *ch = &j->chunks[c];
        size_t first = c * CHUNK_LINES;
        ch->n = MIN(CHUNK_LINES, j->nlines - first);
        ch->lines = xcalloc(ch->n, sizeof(char *));
        const char **lines = xcalloc(ch->n, sizeof(*lines));
        for (size_t i = 0; i < ch->n; i++)
            lines[i] = j->text + j->starts[first + i];
        if (!cancelled(j))
            ch->errors =
                answer_lines(w->model, j->filter, j->default_values, lines, j->lens + first, ch->n,
                             j->num_results, &j->r->exploration, ch->lines);
        free(lines);
        pthread_mutex_lock(&j->lock);
        ch->done = true;
        if (cancelled(j)) j->stop = true;
        pthread_cond_broadcast(&j->cond);
        pthread_mutex_unlock(&j->lock);
    }
}

/* ---- The job ---------------------------------------------------------------- */

static enum rc read_all(const char *path, char **out, size_t *len, struct err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(e, errno == ENOENT ? RC_NOT_FOUND : RC_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(e, RC_INVALID_INPUT, "%s: not a regular file", path);
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *buf = xmalloc(cap);
    for (;;) {
        if (n + 1 >= cap) buf = xrealloc(buf, cap *= 2);
        ssize_t got = read(fd, buf + n, cap - n - 1);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            enum rc rc = err_set(e, RC_IO, "%s: %s", path, strerror(errno));
            free(buf);
            close(fd);
            return rc;
        }
        if (got == 0) break;
        n += (size_t)got;
    }
    close(fd);
    buf[n] = 0;
    *out = buf;
    *len = n;
    return RC_OK;
}

static int cpu_count(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static enum rc write_all(int fd, const char *p, size_t n, const char *path, struct err *e)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return err_set(e, RC_IO, "%s: %s", path, strerror(errno));
        p += w;
        n -= (size_t)w;
    }
    return RC_OK;
}

enum rc batch_run(const struct batch_request *r, struct batch_report *rep, struct err *e)
{
    memset(rep, 0, sizeof(*rep));
    double t0 = clock_monotonic();
    size_t num_results = r->num_results ? r->num_results : 25;
    if (num_results > BATCH_MAX_RESULTS)
        return err_set(e, RC_INVALID_INPUT, "numResults %zu: at most %d", num_results,
                       BATCH_MAX_RESULTS);
    char *in_path = NULL, *out_arg = NULL, *out_path = NULL, *tmp_path = NULL, *text = NULL;
    size_t text_len = 0;
    struct job j = {.r = r, .num_results = num_results};
    pthread_mutex_init(&j.lock, NULL);
    pthread_cond_init(&j.cond, NULL);
    VEC(size_t) starts = VEC_INIT;
    VEC(size_t) lens = VEC_INIT;
    int nthreads = r->threads > 0 ? r->threads : cpu_count();
    struct worker *ws = xcalloc((size_t)nthreads, sizeof(*ws));
    int started = 0, fd = -1;
    struct store *store = NULL;
    struct model *model = NULL;
    enum rc rc = local_path("input", r->input, &in_path, e);
    if (!rc) rc = local_path("output", r->output, &out_arg, e);
    if (!rc) rc = read_all(in_path, &text, &text_len, e);
    if (rc) goto out;
    out_path = output_file(out_arg, in_path);

    /*
     * The workers are the parallelism: one OpenBLAS thread per call. (With
     * more, OpenBLAS's own threads spin after the model's load-time GEMMs,
     * taking CPU from the workers on a small machine.)
     */
    openblas_set_num_threads(1);
    /* The version, its dataset group and the filter, checked before any work. */
    if ((rc = store_open(r->data_dir, &store, e)) ||
        (rc = model_open_version(store, r->version_arn, &model, e)))
        goto out;
    if (r->filter_expression) {
        char *group = model_dataset_group(model);
        rc = group ? filter_compile_text(store, group, r->filter_expression, &j.filter, e)
                   : err_set(e, RC_INVALID_INPUT, "%s: the model names no dataset group",
                             r->version_arn);
        free(group);
        if (rc) goto out;
    }
    if (r->filter_values && *r->filter_values) {
        json_error_t je;
        j.default_values = json_loads(r->filter_values, 0, &je);
        if (!json_is_object(j.default_values)) {
            rc = err_set(e, RC_INVALID_INPUT, "filterValues: expected a JSON object of strings");
            goto out;
        }
    }

    /* Lines: blank ones are skipped; each other gets one output line. */
    for (size_t p = 0; p < text_len;) {
        const char *nl = memchr(text + p, '\n', text_len - p);
        size_t end = nl ? (size_t)(nl - text) : text_len;
        size_t a = p, b = end;
        while (a < b && (text[a] == ' ' || text[a] == '\t' || text[a] == '\r'))
            a++;
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r'))
            b--;
        if (b > a) {
            VEC_PUSH(&starts, a);
            VEC_PUSH(&lens, b - a);
        }
        p = end + 1;
    }
    j.text = text;
    j.starts = starts.v;
    j.lens = lens.v;
    j.nlines = starts.n;
    j.nchunks = (j.nlines + CHUNK_LINES - 1) / CHUNK_LINES;
    j.chunks = xcalloc(j.nchunks ? j.nchunks : 1, sizeof(*j.chunks));
    j.window = (size_t)nthreads * AHEAD;

    tmp_path = xasprintf("%s.tmp-%d", out_path, (int)getpid());
    fd = open(tmp_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) {
        rc = err_set(e, RC_IO, "%s: %s", out_path, strerror(errno));
        goto out;
    }

    if ((size_t)nthreads > j.nchunks) nthreads = j.nchunks ? (int)j.nchunks : 1;
    /* The workers are the parallelism: one OpenBLAS thread per call, as the server does. */
    int saved_blas = openblas_get_num_threads();
    openblas_set_num_threads(1);
    for (int t = 0; t < nthreads; t++) {
        ws[t].job = &j;
        ws[t].model = model;
        if (pthread_create(&ws[t].tid, NULL, work, &ws[t]) != 0) {
            rc = err_set(e, RC_INTERNAL, "cannot start a batch thread");
            break;
        }
        started++;
    }

    struct progress pg;
    progress_begin(&pg, r->progress, "batch", "lines", j.nlines, false);
    for (size_t c = 0; c < j.nchunks && !rc; c++) {
        pthread_mutex_lock(&j.lock);
        while (!j.chunks[c].done && !j.stop)
            pthread_cond_wait(&j.cond, &j.lock);
        bool stop = j.stop && !j.chunks[c].done;
        pthread_mutex_unlock(&j.lock);
        if (stop || cancelled(&j)) {
            rc = err_set(e, RC_CANCELLED, "batch cancelled after %llu lines",
                         (unsigned long long)rep->lines);
            break;
        }
        struct chunk *ch = &j.chunks[c];
        for (size_t i = 0; i < ch->n && !rc; i++) {
            const char *s = ch->lines[i];
            if (!s) continue;
            rc = write_all(fd, s, strlen(s), out_path, e);
            if (!rc) rc = write_all(fd, "\n", 1, out_path, e);
            rep->lines++;
        }
        rep->errors += ch->errors;
        for (size_t i = 0; i < ch->n; i++)
            free(ch->lines[i]);
        free(ch->lines);
        ch->lines = NULL;
        pthread_mutex_lock(&j.lock);
        j.written = c + 1;
        pthread_cond_broadcast(&j.cond);
        pthread_mutex_unlock(&j.lock);
        progress_update(&pg, rep->lines, rep->lines);
    }
    progress_end(&pg, rep->lines, rep->lines);
    openblas_set_num_threads(saved_blas > 0 ? saved_blas : 1);
    if (!rc && fsync(fd) != 0) rc = err_set(e, RC_IO, "%s: %s", out_path, strerror(errno));
    if (!rc && close(fd) != 0) rc = err_set(e, RC_IO, "%s: %s", out_path, strerror(errno));
    if (!rc) fd = -1;
    if (!rc && rename(tmp_path, out_path) != 0)
        rc = err_set(e, RC_IO, "%s: %s", out_path, strerror(errno));
    if (!rc) {
        rep->output = out_path;
        out_path = NULL;
        rep->seconds = clock_monotonic() - t0;
    }
out:
    pthread_mutex_lock(&j.lock);
    j.stop = true;
    pthread_cond_broadcast(&j.cond);
    pthread_mutex_unlock(&j.lock);
    for (int t = 0; t < started; t++)
        pthread_join(ws[t].tid, NULL);
    for (size_t c = 0; c < j.nchunks; c++) {
        for (size_t i = 0; j.chunks[c].lines && i < j.chunks[c].n; i++)
            free(j.chunks[c].lines[i]);
        free(j.chunks[c].lines);
    }
    if (fd >= 0) close(fd);
    if (rc && tmp_path) unlink(tmp_path);
    free(ws);
    free(j.chunks);
    VEC_FREE(&starts);
    VEC_FREE(&lens);
    filter_free(j.filter);
    json_decref(j.default_values);
    model_close(model);
    store_close(store);
    pthread_mutex_destroy(&j.lock);
    pthread_cond_destroy(&j.cond);
    free(text);
    free(in_path);
    free(out_arg);
    free(out_path);
    free(tmp_path);
    return rc;
}
