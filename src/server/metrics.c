/*
 * metrics.c: fixed-size, lock-free-after-registration metric tables.
 *
 * Two open-addressing tables keyed by string: named series (counters and
 * gauges) and request series (operation x status, with a latency
 * histogram). A slot's key is published last, with release order, so a
 * reader that sees the key sees the initialised slot; registration itself
 * is serialised by one mutex. Tables never shrink; when one is full, new
 * names fold into an overflow series rather than failing.
 */
#include "common/base.h"
#include "server/metrics.h"

#include <pthread.h>
#include <stdatomic.h>

#define NAMED_SLOTS   256 /* power of two */
#define REQUEST_SLOTS 512 /* power of two */
#define NAME_MAX_LEN  200

/* Upper bounds of the latency buckets, in seconds (+Inf is implicit). */
static const double bucket_le[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                   0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
#define NBUCKETS (ARRAY_SIZE(bucket_le) + 1)

struct named_slot {
    _Atomic(const char *) name; /* owned copy; NULL while free */
    _Atomic int64_t value;
};

struct request_slot {
    _Atomic(const char *) op; /* owned copy; NULL while free */
    int status;
    _Atomic uint64_t count;
    _Atomic uint64_t sum_ns;
    _Atomic uint64_t buckets[NBUCKETS]; /* not cumulative; summed when rendered */
};

static struct named_slot named[NAMED_SLOTS];
static struct request_slot requests[REQUEST_SLOTS];
static pthread_mutex_t register_mu = PTHREAD_MUTEX_INITIALIZER;

static uint32_t hash_str(const char *s, uint32_t h)
{
    /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 16777619u;
    return h;
}

/* ---- named series ---------------------------------------------------------- */

static struct named_slot *named_find(const char *name, bool create)
{
    uint32_t h = hash_str(name, 2166136261u);
    for (;;) {
        for (uint32_t i = 0; i < NAMED_SLOTS; i++) {
            struct named_slot *s = &named[(h + i) & (NAMED_SLOTS - 1)];
            const char *k = atomic_load_explicit(&s->name, memory_order_acquire);
            if (!k) break;
            if (strcmp(k, name) == 0) return s;
        }
        if (!create || strlen(name) > NAME_MAX_LEN) return NULL;
        /* Not there: register it under the lock, then look again. */
        pthread_mutex_lock(&register_mu);
        bool placed = false;
        for (uint32_t i = 0; i < NAMED_SLOTS && !placed; i++) {
            struct named_slot *s = &named[(h + i) & (NAMED_SLOTS - 1)];
            const char *k = atomic_load_explicit(&s->name, memory_order_relaxed);
            if (k && strcmp(k, name) == 0) placed = true; /* another thread won */
            if (!k) {
                atomic_store_explicit(&s->name, xstrdup(name), memory_order_release);
                placed = true;
            }
        }
        pthread_mutex_unlock(&register_mu);
        if (!placed) return NULL; /* table full */
    }
}

void server_metrics_add(const char *name, int64_t n)
{
    struct named_slot *s = named_find(name, true);
    if (s) atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
}

void server_metrics_set(const char *name, int64_t v)
{
    struct named_slot *s = named_find(name, true);
    if (s) atomic_store_explicit(&s->value, v, memory_order_relaxed);
}

int64_t server_metrics_get(const char *name)
{
    struct named_slot *s = named_find(name, false);
    return s ? atomic_load_explicit(&s->value, memory_order_relaxed) : 0;
}

/* ---- request series -------------------------------------------------------- */

static struct request_slot *request_find(const char *op, int status)
{
    uint32_t h = hash_str(op, 2166136261u ^ (uint32_t)status * 2654435761u);
    for (;;) {
        for (uint32_t i = 0; i < REQUEST_SLOTS; i++) {
            struct request_slot *s = &requests[(h + i) & (REQUEST_SLOTS - 1)];
            const char *k = atomic_load_explicit(&s->op, memory_order_acquire);
            if (!k) break;
            if (s->status == status && strcmp(k, op) == 0) return s;
        }
        pthread_mutex_lock(&register_mu);
        bool placed = false;
        for (uint32_t i = 0; i < REQUEST_SLOTS && !placed; i++) {
            struct request_slot *s = &requests[(h + i) & (REQUEST_SLOTS - 1)];
            const char *k = atomic_load_explicit(&s->op, memory_order_relaxed);
            if (k && s->status == status && strcmp(k, op) == 0) placed = true;
            if (!k) {
                s->status = status;
                atomic_store_explicit(&s->op, xstrdup(op), memory_order_release);
                placed = true;
            }
        }
        pthread_mutex_unlock(&register_mu);
        if (!placed) return NULL;
    }
}

void server_metrics_request(const char *op, int status, double seconds)
{
    struct request_slot *s = request_find(op, status);
    if (!s) s = request_find("other", status);
    if (!s) return;
    size_t b = 0;
    while (b < ARRAY_SIZE(bucket_le) && seconds > bucket_le[b])
        b++;
    uint64_t ns = seconds > 0 ? (uint64_t)(seconds * 1e9) : 0;
    atomic_fetch_add_explicit(&s->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->sum_ns, ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
}

/* ---- rendering ------------------------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

struct req_row {
    const char *op;
    const struct request_slot *slot;
};

static int cmp_req(const void *a, const void *b)
{
    const struct req_row *x = a, *y = b;
    int c = strcmp(x->op, y->op);
    return c ? c : x->slot->status - y->slot->status;
}

/* The base name of a series ("a_total" for "a_total{k=\"v\"}") into dst. */
static void base_name(const char *series, char *dst, size_t n)
{
    size_t len = strcspn(series, "{");
    if (len >= n) len = n - 1;
    memcpy(dst, series, len);
    dst[len] = '\0';
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && strcmp(s + a - b, suffix) == 0;
}

enum rc server_metrics_render(struct buf *out)
{
    enum rc rc;
    /* Named series, sorted so that one TYPE line precedes all series of a name. */
    const char *names[NAMED_SLOTS];
    size_t nn = 0;
    for (size_t i = 0; i < NAMED_SLOTS; i++) {
        const char *k = atomic_load_explicit(&named[i].name, memory_order_acquire);
        if (k) names[nn++] = k;
    }
    qsort(names, nn, sizeof(names[0]), cmp_str);
    char prev[NAME_MAX_LEN + 1] = "";
    for (size_t i = 0; i < nn; i++) {
        char base[NAME_MAX_LEN + 1];
        base_name(names[i], base, sizeof(base));
        if (strcmp(base, prev) != 0) {
            rc = buf_addf(out, "# TYPE %s %s\n", base,
                          ends_with(base, "_total") ? "counter" : "gauge");
            if (rc) return rc;
            memcpy(prev, base, sizeof(prev));
        }
        struct named_slot *s = named_find(names[i], false);
        rc = buf_addf(out, "%s %lld\n", names[i],
                      (long long)atomic_load_explicit(&s->value, memory_order_relaxed));
        if (rc) return rc;
    }

    struct req_row rows[REQUEST_SLOTS];
    size_t nr = 0;
    for (size_t i = 0; i < REQUEST_SLOTS; i++) {
        const char *k = atomic_load_explicit(&requests[i].op, memory_order_acquire);
        if (k) rows[nr++] = (struct req_row){k, &requests[i]};
    }
    qsort(rows, nr, sizeof(rows[0]), cmp_req);
    rc = buf_addstr(out, "# HELP savor_requests_total Requests answered, by operation and HTTP "
                         "status.\n# TYPE savor_requests_total counter\n");
    if (rc) return rc;
    for (size_t i = 0; i < nr; i++) {
        rc = buf_addf(out, "savor_requests_total{operation=\"%s\",status=\"%d\"} %llu\n",
                      rows[i].op, rows[i].slot->status,
                      (unsigned long long)atomic_load_explicit(
                          (_Atomic uint64_t *)&rows[i].slot->count, memory_order_relaxed));
        if (rc) return rc;
    }
    rc = buf_addstr(out, "# HELP savor_request_duration_seconds Time from a request's headers "
                         "to its last byte sent.\n"
                         "# TYPE savor_request_duration_seconds histogram\n");
    if (rc) return rc;
    for (size_t i = 0; i < nr; i++) {
        struct request_slot *s = (struct request_slot *)rows[i].slot;
        uint64_t cum = 0;
        for (size_t b = 0; b < NBUCKETS; b++) {
            cum += atomic_load_explicit(&s->buckets[b], memory_order_relaxed);
            char le[32];
            if (b < ARRAY_SIZE(bucket_le))
                snprintf(le, sizeof(le), "%g", bucket_le[b]);
            else
                snprintf(le, sizeof(le), "+Inf");
            rc = buf_addf(out,
                          "savor_request_duration_seconds_bucket{operation=\"%s\",status=\"%d\","
                          "le=\"%s\"} %llu\n",
                          rows[i].op, s->status, le, (unsigned long long)cum);
            if (rc) return rc;
        }
        /* The count is the bucket total, so the series stay consistent under updates. */
        rc = buf_addf(out,
                      "savor_request_duration_seconds_sum{operation=\"%s\",status=\"%d\"} %.6f\n"
                      "savor_request_duration_seconds_count{operation=\"%s\",status=\"%d\"} "
                      "%llu\n",
                      rows[i].op, s->status,
                      (double)atomic_load_explicit(&s->sum_ns, memory_order_relaxed) / 1e9,
                      rows[i].op, s->status, (unsigned long long)cum);
        if (rc) return rc;
    }
    return RC_OK;
}
