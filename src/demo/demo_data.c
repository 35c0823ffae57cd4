/*
 * demo_data.c: the generated demo dataset (see demo_data.h for the files).
 *
 * The model, so that a recommender has real structure to learn:
 *
 *   Creators have one or two focus genres, a main format, a language and a
 *   quality; the number of works per creator is Zipf-like (every creator has
 *   at least one). A work's primary genre comes from its creator's focus 85%
 *   of the time; extra genres come from the creator's second focus or from
 *   related genres (romance-drama, action-fantasy, ...). Work popularity is
 *   lognormal (heavy-tailed within each genre) times its creator's quality,
 *   with a boost for works created in the last two weeks.
 *
 *   Readers have an age group and a language; a Dirichlet-like taste over one
 *   to three genres (drawn from the platform's genre mix tilted by age group,
 *   the second often related to the first); zero to four favourite creators
 *   (working in their genres, mostly in their language); and a Pareto
 *   activity level, so most readers have 5-20 events and a few hundreds.
 *
 *   A reader's events come in sessions spread over their active part of the
 *   180-day window. Each engagement picks a work: 20% a work from their own
 *   history (continuing a series), otherwise 12% noise (uniform or by global
 *   popularity), 20% a favourite creator's work, else a work of a taste genre
 *   by popularity; only works created before that moment qualify. It yields
 *   one or more views (several episodes for webtoons and novels), then maybe
 *   a like (likelier the better the work matches the taste and the more of
 *   it was read) and rarely a subscribe, each at most once per reader and
 *   work. EVENT_VALUE of a view is the percent read, 1-100, higher for good
 *   matches; likes and subscribes have 1.
 *
 * Everything is drawn from xoshiro256** streams seeded by splitmix64 from
 * opts.seed (one for the catalog, one for the reader attributes, one per
 * reader), so the same options give byte-identical files on a given
 * platform. Events are collected in memory, radix-sorted by (timestamp,
 * generation order), which keeps each reader's session order, and written
 * through a 1 MiB stdio buffer.
 */
#include "common/base.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>

#include "common/vec.h"
#include "demo/demo_data.h"
#include "common/rng.h"

#define DAY          INT64_C(86400)
#define WINDOW_SECS  (180 * DAY)           /* interactions: the 180 days before end_time */
#define CATALOG_SECS (365 * DAY)           /* works: created over the year before end_time */
#define NEW_SECS     (14 * DAY)            /* "new" works: created in the last two weeks */
#define REL_TS_BITS  24                    /* WINDOW_SECS < 2^24 */
#define MIN_END_TIME INT64_C(63072000)     /* 1972-01-01 */
#define MAX_END_TIME INT64_C(253402300799) /* 9999-12-31T23:59:59 */
#define OUT_BUF_SIZE (1u << 20)

/* ---- PRNG helpers on common/rng.h ---- */

/* Uniform in [0, n); n >= 1. */
static inline uint32_t rng_below(struct rng *r, uint64_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * n) >> 32);
}

static inline bool rng_chance(struct rng *r, double p)
{
    return rng_unif(r) < p;
}

/* Exponential with mean 1. */
static double rng_exp(struct rng *r)
{
    return -log(1.0 - rng_unif(r));
}

/* Standard normal (Box-Muller). */
static double rng_normal(struct rng *r)
{
    double u1 = 1.0 - rng_unif(r);
    double u2 = rng_unif(r);
    return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Failures before a success of probability p, at most 'cap'. */
static unsigned rng_geom(struct rng *r, double p, unsigned cap)
{
    unsigned k = 0;
    while (k < cap && !rng_chance(r, p))
        k++;
    return k;
}

/* Index drawn with probability proportional to w[i] (some w[i] > 0). */
static unsigned pick_weighted(struct rng *r, const double *w, unsigned n)
{
    double total = 0;
    for (unsigned i = 0; i < n; i++)
        total += w[i];
    double x = rng_unif(r) * total;
    unsigned last = 0;
    for (unsigned i = 0; i < n; i++) {
        if (w[i] <= 0) continue;
        last = i;
        if (x < w[i]) return i;
        x -= w[i];
    }
    return last;
}

/* Index j in [0, k) drawn by the cumulative weights cum[0..k-1] (k >= 1). */
static size_t pick_cum(struct rng *r, const double *cum, size_t k)
{
    double x = rng_unif(r) * cum[k - 1];
    size_t lo = 0, hi = k - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* ---- vocabulary ---- */

enum { NGENRES = 12, NFORMATS = 4, NAGES = 5, NLANGS = 4 };
enum { FMT_WEBTOON, FMT_ILLUSTRATION, FMT_NOVEL, FMT_SHORT };
enum { EV_VIEW, EV_LIKE, EV_SUBSCRIBE };

static const char *const genre_names[NGENRES] = {
    "romance",       "fantasy", "action",   "comedy", "drama",   "horror",
    "slice-of-life", "sci-fi",  "thriller", "sports", "mystery", "historical",
};

/* The platform's genre mix (sums to 1). */
static const double genre_base[NGENRES] = {
    0.16, 0.15, 0.12, 0.10, 0.10, 0.06, 0.07, 0.05, 0.06, 0.04, 0.05, 0.04,
};

/* Genres that often go together with each genre. */
static const uint8_t genre_related[NGENRES][4] = {
    {4, 3, 1, 6},   /* romance: drama, comedy, fantasy, slice-of-life */
    {2, 0, 3, 11},  /* fantasy: action, romance, comedy, historical */
    {1, 7, 8, 9},   /* action: fantasy, sci-fi, thriller, sports */
    {0, 6, 9, 1},   /* comedy: romance, slice-of-life, sports, fantasy */
    {0, 6, 11, 10}, /* drama: romance, slice-of-life, historical, mystery */
    {8, 10, 1, 4},  /* horror: thriller, mystery, fantasy, drama */
    {3, 0, 4, 9},   /* slice-of-life: comedy, romance, drama, sports */
    {2, 8, 10, 1},  /* sci-fi: action, thriller, mystery, fantasy */
    {10, 5, 2, 4},  /* thriller: mystery, horror, action, drama */
    {3, 4, 2, 6},   /* sports: comedy, drama, action, slice-of-life */
    {8, 5, 4, 11},  /* mystery: thriller, horror, drama, historical */
    {0, 4, 1, 2},   /* historical: romance, drama, fantasy, action */
};

static const char *const format_names[NFORMATS] = {"webtoon", "illustration", "novel", "short"};
static const double format_share[NFORMATS] = {0.55, 0.20, 0.15, 0.10};
static const double format_pop[NFORMATS] = {1.3, 0.8, 0.9, 0.7};

static const char *const age_names[NAGES] = {"13-17", "18-24", "25-34", "35-44", "45+"};
static const double age_share[NAGES] = {0.14, 0.34, 0.28, 0.15, 0.09};

/* Taste tilt by age group, in genre order. */
static const double age_genre_mult[NAGES][NGENRES] = {
    {0.9, 1.3, 1.5, 1.4, 0.6, 1.2, 1.0, 1.1, 0.7, 1.5, 0.8, 0.4},
    {1.2, 1.2, 1.1, 1.2, 0.9, 1.1, 1.1, 1.0, 0.9, 1.0, 0.9, 0.6},
    {1.1, 1.0, 0.9, 1.0, 1.1, 0.9, 1.1, 1.1, 1.1, 0.9, 1.1, 1.0},
    {1.0, 0.8, 0.8, 0.8, 1.3, 0.8, 1.0, 1.0, 1.3, 0.8, 1.3, 1.5},
    {0.9, 0.7, 0.6, 0.8, 1.5, 0.6, 1.0, 0.9, 1.4, 0.9, 1.5, 2.0},
};

static const char *const lang_names[NLANGS] = {"en", "ko", "ja", "es"};
static const double lang_share[NLANGS] = {0.42, 0.26, 0.20, 0.12};

/* ---- generator state ---- */

struct creator {
    double quality;
    uint8_t focus[2];
    uint8_t nfocus;
    uint8_t format;
    uint8_t lang;
};

struct item {
    int64_t created;
    double pop;
    uint32_t creator;
    uint8_t genre[3];
    uint8_t ngenre;
    uint8_t format;
};

struct ev {
    uint32_t user;
    uint32_t item;
    uint8_t type;
    uint8_t value;
};

struct reader {
    double taste[NGENRES]; /* weight per genre, sums to 1 */
    double tw[3];          /* the nonzero weights, for picking */
    uint8_t tg[3];         /* and their genres */
    unsigned ntaste;
    uint32_t fav[4];
    unsigned nfav;
};

/* Item state per reader, valid while stamp[item] == the reader's stamp. */
enum { F_LIKED = 1, F_SUBSCRIBED = 2 };

struct gen {
    uint64_t seed;
    int64_t end; /* end_time */
    int64_t ws;  /* window start: end - WINDOW_SECS */
    uint32_t nusers, nitems, ncreators;
    uint64_t nevents;

    struct creator *creators;
    struct item *items;
    double *all_cum;     /* cumulative popularity over all works, by index */
    double *creator_cum; /* cumulative total popularity over creators */
    /* Works per genre and per creator, ascending index (so ascending creation). */
    size_t g_off[NGENRES + 1];
    uint32_t *g_item;
    double *g_cum;
    size_t *c_off; /* ncreators + 1 */
    uint32_t *c_item;
    double *c_cum;

    uint8_t *user_age, *user_lang;
    uint64_t *user_events;

    /* per-reader scratch */
    uint32_t *stamp;
    uint8_t *flags;
    VEC(uint32_t) hist;
    VEC(uint32_t) sess;
    VEC(double) gaps;

    struct ev *ev;
    uint64_t *key; /* rel_ts << idx_bits | idx */
    uint64_t nev;
    unsigned idx_bits;
    int64_t shift; /* added to every timestamp so the last event is at end_time */
};

static void gen_free(struct gen *g)
{
    free(g->creators);
    free(g->items);
    free(g->all_cum);
    free(g->creator_cum);
    free(g->g_item);
    free(g->g_cum);
    free(g->c_off);
    free(g->c_item);
    free(g->c_cum);
    free(g->user_age);
    free(g->user_lang);
    free(g->user_events);
    free(g->stamp);
    free(g->flags);
    VEC_FREE(&g->hist);
    VEC_FREE(&g->sess);
    VEC_FREE(&g->gaps);
    free(g->ev);
    free(g->key);
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* ---- catalog: creators and works ---- */

static void gen_creators(struct gen *g, struct rng *r)
{
    g->creators = xcalloc(g->ncreators, sizeof(*g->creators));
    for (uint32_t c = 0; c < g->ncreators; c++) {
        struct creator *cr = &g->creators[c];
        cr->focus[0] = (uint8_t)pick_weighted(r, genre_base, NGENRES);
        cr->nfocus = 1;
        if (rng_chance(r, 0.5)) {
            uint8_t second;
            if (rng_chance(r, 0.6)) {
                second = genre_related[cr->focus[0]][rng_below(r, 4)];
            } else {
                double w[NGENRES];
                memcpy(w, genre_base, sizeof(w));
                w[cr->focus[0]] = 0;
                second = (uint8_t)pick_weighted(r, w, NGENRES);
            }
            cr->focus[1] = second;
            cr->nfocus = 2;
        }
        cr->format = (uint8_t)pick_weighted(r, format_share, NFORMATS);
        cr->lang = (uint8_t)pick_weighted(r, lang_share, NLANGS);
        cr->quality = exp(0.6 * rng_normal(r));
    }
}

static bool item_has_genre(const struct item *it, uint8_t genre)
{
    for (unsigned j = 0; j < it->ngenre; j++)
        if (it->genre[j] == genre) return true;
    return false;
}

static void gen_item_genres(struct rng *r, const struct creator *cr, struct item *it)
{
    if (rng_chance(r, 0.85))
        it->genre[0] = cr->focus[cr->nfocus == 2 && rng_chance(r, 0.3) ? 1 : 0];
    else
        it->genre[0] = (uint8_t)pick_weighted(r, genre_base, NGENRES);
    it->ngenre = 1;

    double x = rng_unif(r);
    unsigned want = x < 0.4 ? 1 : x < 0.8 ? 2 : 3;
    for (unsigned tries = 0; it->ngenre < want && tries < 20; tries++) {
        uint8_t cand;
        if (cr->nfocus == 2 && rng_chance(r, 0.4))
            cand = cr->focus[0] == it->genre[0] ? cr->focus[1] : cr->focus[0];
        else if (rng_chance(r, 0.7))
            cand = genre_related[it->genre[0]][rng_below(r, 4)];
        else
            cand = (uint8_t)pick_weighted(r, genre_base, NGENRES);
        if (!item_has_genre(it, cand)) it->genre[it->ngenre++] = cand;
    }
}

static void gen_items(struct gen *g, struct rng *r)
{
    uint32_t n = g->nitems, nc = g->ncreators;

    /* Creation times, sorted: work IDs follow creation order. */
    int64_t *created = xmallocarray(n, sizeof(*created));
    for (uint32_t i = 0; i < n; i++) {
        if (rng_chance(r, 0.06))
            created[i] = g->end - NEW_SECS + (int64_t)(rng_unif(r) * (double)(NEW_SECS - DAY));
        else
            created[i] =
                g->end - CATALOG_SECS + (int64_t)(rng_unif(r) * (double)(CATALOG_SECS - NEW_SECS));
    }
    qsort(created, n, sizeof(*created), cmp_i64);
    /* Some work must exist when the interaction window opens. */
    if (created[0] >= g->ws) created[0] = g->end - CATALOG_SECS;

    /* Works per creator: one each, the rest Zipf-like over a random ranking. */
    uint32_t *rank = xmallocarray(nc, sizeof(*rank));
    for (uint32_t c = 0; c < nc; c++)
        rank[c] = c;
    for (uint32_t c = nc - 1; c > 0; c--) {
        uint32_t j = rng_below(r, (uint64_t)c + 1);
        uint32_t t = rank[c];
        rank[c] = rank[j];
        rank[j] = t;
    }
    double *zcum = xmallocarray(nc, sizeof(*zcum));
    double acc = 0;
    for (uint32_t c = 0; c < nc; c++) {
        acc += 1.0 / pow((double)rank[c] + 1.0, 0.8);
        zcum[c] = acc;
    }
    uint32_t *owner = xmallocarray(n, sizeof(*owner));
    for (uint32_t i = 0; i < n; i++)
        owner[i] = i < nc ? i : (uint32_t)pick_cum(r, zcum, nc);
    for (uint32_t i = n - 1; i > 0; i--) {
        uint32_t j = rng_below(r, (uint64_t)i + 1);
        uint32_t t = owner[i];
        owner[i] = owner[j];
        owner[j] = t;
    }

    g->items = xcalloc(n, sizeof(*g->items));
    for (uint32_t i = 0; i < n; i++) {
        struct item *it = &g->items[i];
        const struct creator *cr = &g->creators[owner[i]];
        it->created = created[i];
        it->creator = owner[i];
        gen_item_genres(r, cr, it);
        it->format =
            rng_chance(r, 0.75) ? cr->format : (uint8_t)pick_weighted(r, format_share, NFORMATS);
        it->pop = cr->quality * exp(1.1 * rng_normal(r)) * format_pop[it->format];
        if (it->created >= g->end - NEW_SECS) it->pop *= 2.0;
    }
    free(created);
    free(rank);
    free(zcum);
    free(owner);
}

/* Popularity-weighted lists of works: all, per genre, per creator. */
static void build_lists(struct gen *g)
{
    uint32_t n = g->nitems, nc = g->ncreators;

    g->all_cum = xmallocarray(n, sizeof(*g->all_cum));
    double acc = 0;
    for (uint32_t i = 0; i < n; i++) {
        acc += g->items[i].pop;
        g->all_cum[i] = acc;
    }

    size_t cnt[NGENRES] = {0};
    for (uint32_t i = 0; i < n; i++)
        for (unsigned j = 0; j < g->items[i].ngenre; j++)
            cnt[g->items[i].genre[j]]++;
    g->g_off[0] = 0;
    for (unsigned k = 0; k < NGENRES; k++)
        g->g_off[k + 1] = g->g_off[k] + cnt[k];
    size_t total = g->g_off[NGENRES];
    g->g_item = xmallocarray(total ? total : 1, sizeof(*g->g_item));
    g->g_cum = xmallocarray(total ? total : 1, sizeof(*g->g_cum));
    size_t pos[NGENRES];
    double gacc[NGENRES] = {0};
    memcpy(pos, g->g_off, sizeof(pos));
    for (uint32_t i = 0; i < n; i++) {
        const struct item *it = &g->items[i];
        for (unsigned j = 0; j < it->ngenre; j++) {
            unsigned k = it->genre[j];
            gacc[k] += it->pop * (j == 0 ? 1.0 : 0.5);
            g->g_item[pos[k]] = i;
            g->g_cum[pos[k]] = gacc[k];
            pos[k]++;
        }
    }

    g->c_off = xcalloc((size_t)nc + 1, sizeof(*g->c_off));
    for (uint32_t i = 0; i < n; i++)
        g->c_off[g->items[i].creator + 1]++;
    for (uint32_t c = 0; c < nc; c++)
        g->c_off[c + 1] += g->c_off[c];
    g->c_item = xmallocarray(n, sizeof(*g->c_item));
    g->c_cum = xmallocarray(n, sizeof(*g->c_cum));
    size_t *cpos = xmallocarray(nc, sizeof(*cpos));
    double *cacc = xcalloc(nc, sizeof(*cacc));
    memcpy(cpos, g->c_off, (size_t)nc * sizeof(*cpos));
    for (uint32_t i = 0; i < n; i++) {
        uint32_t c = g->items[i].creator;
        cacc[c] += g->items[i].pop;
        g->c_item[cpos[c]] = i;
        g->c_cum[cpos[c]] = cacc[c];
        cpos[c]++;
    }
    g->creator_cum = xmallocarray(nc, sizeof(*g->creator_cum));
    acc = 0;
    for (uint32_t c = 0; c < nc; c++) {
        acc += cacc[c];
        g->creator_cum[c] = acc;
    }
    free(cpos);
    free(cacc);
}

/* ---- readers ---- */

static void gen_users(struct gen *g, struct rng *r)
{
    uint32_t n = g->nusers;
    g->user_age = xmallocarray(n, sizeof(*g->user_age));
    g->user_lang = xmallocarray(n, sizeof(*g->user_lang));
    g->user_events = xcalloc(n, sizeof(*g->user_events));
    double *w = xmallocarray(n, sizeof(*w));
    double total = 0;
    for (uint32_t u = 0; u < n; u++) {
        g->user_age[u] = (uint8_t)pick_weighted(r, age_share, NAGES);
        g->user_lang[u] = (uint8_t)pick_weighted(r, lang_share, NLANGS);
        /* Pareto(1.25) activity with lognormal jitter, clipped so no reader dominates. */
        w[u] = pow(1.0 - rng_unif(r), -1.0 / 1.25) * exp(0.5 * rng_normal(r));
        if (w[u] > 60.0) w[u] = 60.0;
        total += w[u];
    }

    /*
     * Everyone gets one event when there are enough, the rest in proportion;
     * the rounding remainder goes out one by one.
     */
    uint64_t base = g->nevents >= n ? 1 : 0;
    uint64_t spread = g->nevents - base * n;
    uint64_t sum = 0;
    for (uint32_t u = 0; u < n; u++) {
        g->user_events[u] = base + (uint64_t)floor((double)spread * (w[u] / total));
        sum += g->user_events[u];
    }
    for (uint32_t u = 0; sum > g->nevents; u = (u + 1) % n) {
        if (g->user_events[u] > base) {
            g->user_events[u]--;
            sum--;
        }
    }
    if (sum < g->nevents) {
        for (uint32_t u = rng_below(r, n); sum < g->nevents; u = (u + 1) % n) {
            g->user_events[u]++;
            sum++;
        }
    }
    free(w);
}

static void gen_taste(struct rng *r, uint8_t age, struct reader *rd)
{
    double prior[NGENRES];
    for (unsigned k = 0; k < NGENRES; k++)
        prior[k] = genre_base[k] * age_genre_mult[age][k];
    double x = rng_unif(r);
    unsigned want = x < 0.3 ? 1 : x < 0.75 ? 2 : 3;

    memset(rd, 0, sizeof(*rd));
    double sum = 0;
    for (unsigned i = 0; i < want; i++) {
        unsigned k = NGENRES;
        if (i > 0 && rng_chance(r, 0.5)) {
            unsigned cand = genre_related[rd->tg[0]][rng_below(r, 4)];
            if (prior[cand] > 0) k = cand;
        }
        if (k == NGENRES) k = pick_weighted(r, prior, NGENRES);
        prior[k] = 0;
        rd->tg[i] = (uint8_t)k;
        rd->tw[i] = rng_exp(r) + (i == 0 ? 0.5 : 0.0);
        sum += rd->tw[i];
    }
    rd->ntaste = want;
    for (unsigned i = 0; i < want; i++) {
        rd->tw[i] /= sum;
        rd->taste[rd->tg[i]] = rd->tw[i];
    }
}

static void gen_favs(const struct gen *g, struct rng *r, uint8_t lang, struct reader *rd)
{
    static const double nfav_share[5] = {0.10, 0.30, 0.30, 0.20, 0.10};
    unsigned want = pick_weighted(r, nfav_share, 5);
    for (unsigned f = 0; f < want; f++) {
        for (unsigned tries = 0; tries < 40; tries++) {
            uint32_t c = (uint32_t)pick_cum(r, g->creator_cum, g->ncreators);
            bool dup = false;
            for (unsigned j = 0; j < rd->nfav; j++)
                dup |= rd->fav[j] == c;
            if (dup) continue;
            const struct creator *cr = &g->creators[c];
            bool genre_ok =
                rd->taste[cr->focus[0]] > 0 || (cr->nfocus == 2 && rd->taste[cr->focus[1]] > 0);
            bool lang_ok = cr->lang == lang || rng_chance(r, 0.35);
            if ((genre_ok && lang_ok) || tries == 39) {
                rd->fav[rd->nfav++] = c;
                break;
            }
        }
    }
}

static bool is_fav(const struct reader *rd, uint32_t creator)
{
    for (unsigned j = 0; j < rd->nfav; j++)
        if (rd->fav[j] == creator) return true;
    return false;
}

/* How well a work matches a reader, 0..1. */
static double match_score(const struct reader *rd, const struct item *it, bool fav)
{
    double m = 0;
    for (unsigned j = 0; j < it->ngenre; j++)
        m += rd->taste[it->genre[j]] * (j == 0 ? 1.0 : 0.5);
    if (fav) m += 0.35;
    return m > 1 ? 1 : m;
}

/* Number of leading entries of a list (NULL: all works) created before t. */
static size_t avail(const struct gen *g, const uint32_t *list, size_t n, int64_t t)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        uint32_t i = list ? list[mid] : (uint32_t)mid;
        if (g->items[i].created < t)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static bool is_series(const struct item *it)
{
    return it->format == FMT_WEBTOON || it->format == FMT_NOVEL;
}

/* The next work a reader engages with at time t (always created before t). */
static uint32_t pick_item(const struct gen *g, struct rng *r, const struct reader *rd, int64_t t)
{
    size_t nh = g->hist.n;
    if (nh && rng_chance(r, 0.20)) {
        /* Back to something read before, usually recent, preferably a series. */
        uint32_t it = 0;
        for (unsigned tries = 0; tries < 3; tries++) {
            size_t back = rng_chance(r, 0.6) ? MIN(nh, (size_t)8) : nh;
            it = g->hist.v[nh - 1 - rng_below(r, back)];
            if (is_series(&g->items[it])) break;
        }
        return it;
    }

    double x = rng_unif(r);
    if (x >= 0.12) {
        if (x < 0.32 && rd->nfav) {
            uint32_t c = rd->fav[rng_below(r, rd->nfav)];
            const uint32_t *list = g->c_item + g->c_off[c];
            size_t k = avail(g, list, g->c_off[c + 1] - g->c_off[c], t);
            if (k) return list[pick_cum(r, g->c_cum + g->c_off[c], k)];
        }
        unsigned genre = rd->tg[pick_weighted(r, rd->tw, rd->ntaste)];
        const uint32_t *list = g->g_item + g->g_off[genre];
        size_t k = avail(g, list, g->g_off[genre + 1] - g->g_off[genre], t);
        if (k) return list[pick_cum(r, g->g_cum + g->g_off[genre], k)];
    }

    /* Noise (12%, and the fallback): any available work, uniformly or by popularity. */
    size_t k = avail(g, NULL, g->nitems, t);
    if (rng_chance(r, 0.5)) return rng_below(r, k);
    return (uint32_t)pick_cum(r, g->all_cum, k);
}

static void emit(struct gen *g, uint32_t user, uint32_t item, uint8_t type, uint8_t value,
                 int64_t t)
{
    if (t > g->end) t = g->end;
    uint64_t idx = g->nev++;
    g->ev[idx] = (struct ev){user, item, type, value};
    g->key[idx] = ((uint64_t)(t - g->ws) << g->idx_bits) | idx;
}

static unsigned read_percent(struct rng *r, double m)
{
    if (rng_chance(r, 0.15 + 0.45 * m)) return 100;
    double p = 20.0 + 70.0 * m + 20.0 * rng_normal(r);
    if (p < 1) return 1;
    if (p > 100) return 100;
    return (unsigned)lround(p);
}

/* One engagement with a work: views, then maybe a like and a subscribe. */
static void engage(struct gen *g, struct rng *r, const struct reader *rd, uint32_t u, int64_t *tp,
                   uint32_t *slots)
{
    int64_t t = *tp;
    uint32_t iid = pick_item(g, r, rd, t);
    const struct item *it = &g->items[iid];
    bool fav = is_fav(rd, it->creator);
    double m = match_score(rd, it, fav);

    if (g->stamp[iid] != u + 1) {
        g->stamp[iid] = u + 1;
        g->flags[iid] = 0;
        VEC_PUSH(&g->hist, iid);
    }

    unsigned views = is_series(it) ? 1 + rng_geom(r, 0.55, 9) : 1u + (rng_chance(r, 0.1) ? 1u : 0u);
    unsigned pct = 0;
    for (unsigned v = 0; v < views && *slots; v++) {
        pct = read_percent(r, m);
        emit(g, u, iid, EV_VIEW, (uint8_t)pct, t);
        (*slots)--;
        t += 15 + 3 * (int64_t)pct + rng_below(r, 90);
    }
    double p_like = 0.02 + 0.55 * m * ((double)pct / 100.0) + (fav ? 0.05 : 0.0);
    if (*slots && !(g->flags[iid] & F_LIKED) && rng_chance(r, p_like)) {
        emit(g, u, iid, EV_LIKE, 1, t);
        (*slots)--;
        g->flags[iid] |= F_LIKED;
        t += 2 + rng_below(r, 15);
    }
    double p_sub = 0.004 + 0.05 * m + (fav ? 0.06 : 0.0) + (views >= 3 ? 0.03 : 0.0);
    if (*slots && !(g->flags[iid] & F_SUBSCRIBED) && rng_chance(r, p_sub)) {
        emit(g, u, iid, EV_SUBSCRIBE, 1, t);
        (*slots)--;
        g->flags[iid] |= F_SUBSCRIBED;
        t += 2 + rng_below(r, 15);
    }
    *tp = t;
}

static void gen_reader_events(struct gen *g, uint32_t u)
{
    uint64_t n = g->user_events[u];
    if (!n) return;
    struct rng r;
    rng_seed(&r, g->seed ^ (UINT64_C(0x632be59bd9b4e019) * ((uint64_t)u + 1)));

    struct reader rd;
    gen_taste(&r, g->user_age[u], &rd);
    gen_favs(g, &r, g->user_lang[u], &rd);

    /* Active from the window start, or from a later join date. */
    int64_t a = g->ws;
    if (rng_chance(&r, 0.35)) a += (int64_t)(rng_unif(&r) * (double)(WINDOW_SECS - 21 * DAY));
    int64_t b = g->end - 6 * 3600;

    /* Sessions of 1-30 events, starting at sorted uniform times in [a, b]. */
    g->sess.n = 0;
    g->gaps.n = 0;
    for (uint64_t left = n; left;) {
        uint64_t s = 1 + (uint64_t)rng_geom(&r, 0.2, 29);
        if (s > left) s = left;
        VEC_PUSH(&g->sess, (uint32_t)s);
        left -= s;
    }
    double span = 0;
    for (size_t k = 0; k <= g->sess.n; k++) {
        double e = rng_exp(&r);
        VEC_PUSH(&g->gaps, e);
        span += e;
    }

    g->hist.n = 0;
    int64_t t = a;
    double acc = 0;
    for (size_t k = 0; k < g->sess.n; k++) {
        acc += g->gaps.v[k];
        int64_t start = a + (int64_t)((double)(b - a) * (acc / span));
        if (start > t) t = start;
        uint32_t slots = g->sess.v[k];
        while (slots)
            engage(g, &r, &rd, u, &t, &slots);
    }
}

/* LSD radix sort of 'n' keys below 2^bits; 'tmp' has room for n. */
static void radix_sort(uint64_t *keys, uint64_t *tmp, size_t n, unsigned bits)
{
    size_t *count = xmallocarray(65536, sizeof(*count));
    uint64_t *src = keys, *dst = tmp;
    for (unsigned shift = 0; shift < bits; shift += 16) {
        memset(count, 0, 65536 * sizeof(*count));
        for (size_t i = 0; i < n; i++)
            count[(src[i] >> shift) & 0xffff]++;
        size_t pos = 0;
        for (size_t d = 0; d < 65536; d++) {
            size_t c = count[d];
            count[d] = pos;
            pos += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[(src[i] >> shift) & 0xffff]++] = src[i];
        uint64_t *s = src;
        src = dst;
        dst = s;
    }
    if (src != keys) memcpy(keys, src, n * sizeof(*keys));
    free(count);
}

/* ---- output ---- */

struct out {
    FILE *f;
    char *path;
    char *vbuf;
    int err; /* errno of the first failure, 0 if none */
};

static enum rc out_open(struct out *o, const char *dir, const char *name, struct err *e)
{
    o->path = xasprintf("%s/%s", dir, name);
    o->err = 0;
    o->vbuf = NULL;
    o->f = fopen(o->path, "w");
    if (!o->f) {
        enum rc rc = err_set(e, RC_IO, "demo: cannot create %s: %s", o->path, strerror(errno));
        free(o->path);
        o->path = NULL;
        return rc;
    }
    o->vbuf = xmalloc(OUT_BUF_SIZE);
    setvbuf(o->f, o->vbuf, _IOFBF, OUT_BUF_SIZE);
    return RC_OK;
}

static void out_put(struct out *o, const char *s, size_t n)
{
    if (o->err) return;
    errno = 0;
    if (fwrite(s, 1, n, o->f) != n) o->err = errno ? errno : EIO;
}

static enum rc out_close(struct out *o, struct err *e)
{
    errno = 0;
    if (!o->err && (fflush(o->f) != 0 || ferror(o->f))) o->err = errno ? errno : EIO;
    errno = 0;
    if (fclose(o->f) != 0 && !o->err) o->err = errno ? errno : EIO;
    enum rc rc = RC_OK;
    if (o->err) rc = err_set(e, RC_IO, "demo: writing %s: %s", o->path, strerror(o->err));
    free(o->vbuf);
    free(o->path);
    return rc;
}

/* Append 'v' in decimal, zero-padded to 'width' digits. */
static char *put_uint(char *p, uint64_t v, int width)
{
    char tmp[24];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n < width)
        tmp[n++] = '0';
    while (n)
        *p++ = tmp[--n];
    return p;
}

static char *put_str(char *p, const char *s)
{
    size_t n = strlen(s);
    memcpy(p, s, n);
    return p + n;
}

static enum rc write_items(const struct gen *g, const char *dir, struct err *e)
{
    struct out o;
    enum rc rc = out_open(&o, dir, "items.csv", e);
    if (rc) return rc;
    static const char header[] = "ITEM_ID,GENRES,CREATOR_ID,FORMAT,CREATION_TIMESTAMP\n";
    out_put(&o, header, sizeof(header) - 1);
    char line[256];
    for (uint32_t i = 0; i < g->nitems && !o.err; i++) {
        const struct item *it = &g->items[i];
        char *p = put_str(line, "work-");
        p = put_uint(p, (uint64_t)i + 1, 5);
        *p++ = ',';
        for (unsigned j = 0; j < it->ngenre; j++) {
            if (j) *p++ = '|';
            p = put_str(p, genre_names[it->genre[j]]);
        }
        p = put_str(p, ",creator-");
        p = put_uint(p, (uint64_t)it->creator + 1, 3);
        *p++ = ',';
        p = put_str(p, format_names[it->format]);
        *p++ = ',';
        p = put_uint(p, (uint64_t)it->created, 1);
        *p++ = '\n';
        out_put(&o, line, (size_t)(p - line));
    }
    return out_close(&o, e);
}

static enum rc write_users(const struct gen *g, const char *dir, struct err *e)
{
    struct out o;
    enum rc rc = out_open(&o, dir, "users.csv", e);
    if (rc) return rc;
    static const char header[] = "USER_ID,AGE_GROUP,PREFERRED_LANGUAGE\n";
    out_put(&o, header, sizeof(header) - 1);
    char line[128];
    for (uint32_t u = 0; u < g->nusers && !o.err; u++) {
        char *p = put_str(line, "user-");
        p = put_uint(p, (uint64_t)u + 1, 5);
        *p++ = ',';
        p = put_str(p, age_names[g->user_age[u]]);
        *p++ = ',';
        p = put_str(p, lang_names[g->user_lang[u]]);
        *p++ = '\n';
        out_put(&o, line, (size_t)(p - line));
    }
    return out_close(&o, e);
}

static enum rc write_interactions(const struct gen *g, const char *dir, struct err *e)
{
    static const char *const type_names[] = {"view", "like", "subscribe"};
    struct out o;
    enum rc rc = out_open(&o, dir, "interactions.csv", e);
    if (rc) return rc;
    static const char header[] = "USER_ID,ITEM_ID,EVENT_TYPE,EVENT_VALUE,TIMESTAMP\n";
    out_put(&o, header, sizeof(header) - 1);
    uint64_t mask = (UINT64_C(1) << g->idx_bits) - 1;
    char line[128];
    for (uint64_t k = 0; k < g->nev && !o.err; k++) {
        uint64_t key = g->key[k];
        const struct ev *ev = &g->ev[key & mask];
        char *p = put_str(line, "user-");
        p = put_uint(p, (uint64_t)ev->user + 1, 5);
        p = put_str(p, ",work-");
        p = put_uint(p, (uint64_t)ev->item + 1, 5);
        *p++ = ',';
        p = put_str(p, type_names[ev->type]);
        *p++ = ',';
        p = put_uint(p, ev->value, 1);
        *p++ = ',';
        p = put_uint(p, (uint64_t)(g->ws + g->shift + (int64_t)(key >> g->idx_bits)), 1);
        *p++ = '\n';
        out_put(&o, line, (size_t)(p - line));
    }
    return out_close(&o, e);
}

/* ---- entry points ---- */

void demo_opts_default(struct demo_opts *o)
{
    o->users = 5000;
    o->items = 2000;
    o->creators = 200;
    o->events = 200000;
    o->seed = 42;
    o->end_time = INT64_C(1767225600);
}

static enum rc validate(const struct demo_opts *o, struct err *e)
{
    if (o->users < 1 || o->users > DEMO_MAX_USERS)
        return err_set(e, RC_INVALID_INPUT,
                       "demo: users must be between 1 and %u (got %" PRIu32 ")", DEMO_MAX_USERS,
                       o->users);
    if (o->items < 1 || o->items > DEMO_MAX_ITEMS)
        return err_set(e, RC_INVALID_INPUT,
                       "demo: items must be between 1 and %u (got %" PRIu32 ")", DEMO_MAX_ITEMS,
                       o->items);
    if (o->creators < 1 || o->creators > o->items)
        return err_set(e, RC_INVALID_INPUT,
                       "demo: creators must be between 1 and items (%" PRIu32 ") (got %" PRIu32 ")",
                       o->items, o->creators);
    if (o->events < 1 || o->events > DEMO_MAX_EVENTS)
        return err_set(e, RC_INVALID_INPUT,
                       "demo: events must be between 1 and %u (got %" PRIu64 ")", DEMO_MAX_EVENTS,
                       o->events);
    if (o->end_time < MIN_END_TIME || o->end_time > MAX_END_TIME)
        return err_set(e, RC_INVALID_INPUT,
                       "demo: end_time must be between %" PRId64 " and %" PRId64 " (got %" PRId64
                       ")",
                       MIN_END_TIME, MAX_END_TIME, o->end_time);
    return RC_OK;
}

enum rc demo_generate(const char *dir, const struct demo_opts *o, struct err *e)
{
    if (!dir || !o) return err_set(e, RC_INVALID_INPUT, "demo: no directory or options given");
    enum rc rc = validate(o, e);
    if (rc) return rc;

    struct gen g;
    memset(&g, 0, sizeof(g));
    g.seed = o->seed;
    g.end = o->end_time;
    g.ws = o->end_time - WINDOW_SECS;
    g.nusers = o->users;
    g.nitems = o->items;
    g.ncreators = o->creators;
    g.nevents = o->events;
    g.idx_bits = 1;
    while ((UINT64_C(1) << g.idx_bits) < g.nevents)
        g.idx_bits++;

    struct rng r;
    rng_seed(&r, o->seed ^ UINT64_C(0x434154414c4f4721)); /* catalog stream */
    gen_creators(&g, &r);
    gen_items(&g, &r);
    build_lists(&g);
    rng_seed(&r, o->seed ^ UINT64_C(0x5553455253212121)); /* reader attributes stream */
    gen_users(&g, &r);

    g.ev = xmallocarray(g.nevents, sizeof(*g.ev));
    g.key = xmallocarray(g.nevents, sizeof(*g.key));
    g.stamp = xcalloc(g.nitems, sizeof(*g.stamp));
    g.flags = xcalloc(g.nitems, sizeof(*g.flags));
    for (uint32_t u = 0; u < g.nusers; u++)
        gen_reader_events(&g, u);
    if (g.nev != g.nevents) {
        rc = err_set(e, RC_INTERNAL, "demo: generated %" PRIu64 " events, wanted %" PRIu64, g.nev,
                     g.nevents);
        goto out;
    }
    uint64_t *tmp = xmallocarray(g.nev, sizeof(*tmp));
    radix_sort(g.key, tmp, g.nev, REL_TS_BITS + g.idx_bits);
    free(tmp);
    /* Move everything later (never earlier: works stay created before their
     * events) so that the last event falls exactly on end_time. */
    g.shift = g.end - (g.ws + (int64_t)(g.key[g.nev - 1] >> g.idx_bits));

    rc = write_items(&g, dir, e);
    if (!rc) rc = write_users(&g, dir, e);
    if (!rc) rc = write_interactions(&g, dir, e);
out:
    gen_free(&g);
    return rc;
}
