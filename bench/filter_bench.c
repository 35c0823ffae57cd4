/*
 * filter_bench.c: model_recommend() with and without filters, in one process.
 * Built and run by bench/filter_bench.py (see bench/filter.sh):
 *
 *   filter_bench DATA_DIR VERSION_ARN USERS_FILE REPS GENRE [CASE]
 *
 * For each repetition, runs every case over all users (one user per line of
 * USERS_FILE), in turn so that machine noise hits them alike; each request
 * binds its filter values (as the server does per request) and asks for 25
 * items. Prints one line per case and repetition:
 * "case wall-seconds cpu-seconds requests items-returned". With CASE, only
 * that case runs (for profiling one of them with perf).
 *
 * Then the filter's own fixed cost per request, without the model: bind the
 * values (parsed once, as the server has them from the request's JSON),
 * decide the verdict for a 30-item history (two event types), free both;
 * FIXED_ROUNDS times over the users. One line per filtered case:
 * "fixed case seconds requests".
 */
#include "common/base.h"
#include "common/clock.h"
#include "filter/filter.h"
#include "models/engine.h"

#include <jansson.h>
#include <time.h>

/* OpenBLAS: one thread per call, as the server runs it. */
void openblas_set_num_threads(int num_threads);

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

struct bench_case {
    const char *name;
    const char *expr; /* NULL: no filter */
    const char *values;
};

int main(int argc, char **argv)
{
    if (argc != 6 && argc != 7) {
        fprintf(stderr, "usage: filter_bench DATA_DIR VERSION_ARN USERS_FILE REPS GENRE [CASE]\n");
        return 2;
    }
    openblas_set_num_threads(1);
    struct err e = ERR_INIT;
    struct store *s;
    struct model *m;
    if (store_open(argv[1], &s, &e) || model_open_version(s, argv[2], &m, &e)) {
        fprintf(stderr, "filter_bench: %s\n", e.msg);
        return 1;
    }
    FILE *fp = fopen(argv[3], "r");
    if (!fp) return 1;
    char **users = NULL, line[512];
    size_t nusers = 0;
    while (fgets(line, sizeof(line), fp)) {
        line[strcspn(line, "\n")] = 0;
        users = xreallocarray(users, nusers + 1, sizeof(*users));
        users[nusers++] = xstrdup(line);
    }
    fclose(fp);
    int reps = (int)strtol(argv[4], NULL, 10);
    char *genre_values = xasprintf("{\"G\": \"\\\"%s\\\"\"}", argv[5]);
    struct bench_case cases[] = {
        {"unfiltered", NULL, NULL},
        {"exclude-interacted", "EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN (\"*\")", NULL},
        {"include-genre", "INCLUDE ItemID WHERE Items.GENRES IN ($G)", genre_values},
    };
    struct filter *f[ARRAY_SIZE(cases)] = {0};
    char *group = model_dataset_group(m);
    for (size_t c = 0; c < ARRAY_SIZE(cases); c++)
        if (cases[c].expr && filter_compile_text(s, group, cases[c].expr, &f[c], &e)) {
            fprintf(stderr, "filter_bench: %s\n", e.msg);
            return 1;
        }
    free(group);
    for (int r = 0; r < reps; r++) {
        for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
            if (argc == 7 && strcmp(argv[6], cases[c].name) != 0) continue;
            double t0 = clock_monotonic(), c0 = cpu_seconds();
            size_t items = 0;
            for (size_t u = 0; u < nusers; u++) {
                struct filter_bound *b = NULL;
                if (f[c] && filter_bind_text(f[c], cases[c].values, &b, &e)) return 1;
                json_t *doc;
                if (model_recommend(m, users[u], NULL, 25, false, NULL, b, &doc, &e)) {
                    fprintf(stderr, "filter_bench: %s\n", e.msg);
                    return 1;
                }
                items += json_array_size(json_object_get(doc, "itemList"));
                json_decref(doc);
                filter_bound_free(b);
            }
            printf("%s %.6f %.6f %zu %zu\n", cases[c].name, clock_monotonic() - t0,
                   cpu_seconds() - c0, nusers, items);
            fflush(stdout);
        }
    }
    /* The fixed cost: bind + apply + free, on a synthetic history. */
    enum { FIXED_ROUNDS = 20, HIST = 30 };
    uint32_t nitems = model_item_count(m), hist[HIST], types[HIST];
    int64_t last[HIST];
    const char *type_names[] = {"click", "view"};
    for (size_t c = 0; c < ARRAY_SIZE(cases); c++) {
        if (!f[c] || (argc == 7 && strcmp(argv[6], cases[c].name) != 0)) continue;
        json_t *values = cases[c].values ? json_loads(cases[c].values, 0, NULL) : NULL;
        double t0 = clock_monotonic();
        size_t reqs = 0;
        for (int r = 0; r < FIXED_ROUNDS; r++) {
            for (size_t u = 0; u < nusers; u++, reqs++) {
                for (uint32_t k = 0; k < HIST; k++) {
                    hist[k] = (uint32_t)(u * 7 % (nitems / HIST) + k * (nitems / HIST));
                    types[k] = 1u << (k & 1);
                    last[k] = 1700000000 + (int64_t)k;
                }
                struct filter_request fr = {users[u], UINT32_MAX, hist, types, last, HIST,
                                            type_names, 2};
                struct filter_bound *b = NULL;
                struct filter_verdict v;
                if (filter_bind(f[c], values, &b, &e) ||
                    filter_apply(b, &fr, nitems, &v, &e))
                    return 1;
                filter_verdict_release(&v);
                filter_bound_free(b);
            }
        }
        printf("fixed %s %.6f %zu\n", cases[c].name, clock_monotonic() - t0, reqs);
        json_decref(values);
    }
    for (size_t c = 0; c < ARRAY_SIZE(cases); c++)
        filter_free(f[c]);
    for (size_t u = 0; u < nusers; u++)
        free(users[u]);
    free(users);
    free(genre_values);
    model_close(m);
    store_close(s);
    return 0;
}
