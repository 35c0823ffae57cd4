/*
 * weighting.h: how interactions become a user's affinity for an item.
 *
 * For each event e of user u on item i (see docs/recipes.md):
 *   skipped   if the solution trains on one eventType and e is of another,
 *             or if eventValueThreshold is set and e's value is below it
 *             (or missing);
 *   b_e     = type_weight(e.type)                      (1 unless configured)
 *           * value_factor(e)                          (e.value / mean value of
 *                                                       e's type, when the type
 *                                                       has values; else 1)
 *           * 0.5 ^ ((t_last - e.ts) / half_life)      (when recency is on)
 *   w_ui    = log(1 + sum_e b_e)                       (repeats add, with
 *                                                       diminishing returns)
 * so raising EVENT_VALUE or repeating an event always raises w_ui.
 */
#ifndef SAVOR_WEIGHTING_H
#define SAVOR_WEIGHTING_H

#include "common/base.h"
#include "common/strmap.h"
#include "models/csr.h"
#include "store/store.h"

#define WEIGHTING_MAX_TYPES 64

struct weighting {
    char *event_type;         /* train on this EVENT_TYPE only; NULL = all (owned) */
    bool has_value_threshold; /* eventValueThreshold given */
    double value_threshold;
    bool use_values;                       /* scale by EVENT_VALUE (default true) */
    double half_life_days;                 /* recency decay; 0 = off (default) */
    size_t ntype_weights;                  /* per-event-type weights (default 1) */
    char *type_names[WEIGHTING_MAX_TYPES]; /* owned */
    double type_weights[WEIGHTING_MAX_TYPES];
};

void weighting_init(struct weighting *w);
void weighting_release(struct weighting *w);
/* Set the weight of one event type (copied name); RC_INVALID_INPUT if w < 0 or too many. */
enum rc weighting_set_type_weight(struct weighting *w, const char *type, double weight,
                                  struct err *e);

/*
 * The weighting as training applied it (type weights and mean values
 * resolved), kept in the model so that events recorded after training are
 * weighed exactly the same way when a user's history is folded in.
 */
struct event_weigher {
    uint32_t ntypes;   /* event types known at training */
    char **names;      /* their names, by index (owned) */
    double *weight;    /* ntypes + 1 entries; the last is for events without a type */
    double *mean;      /* mean EVENT_VALUE per type, 0 = none (values not used) */
    int64_t only_type; /* index of the eventType filter, -1 for all types */
    bool has_threshold;
    double threshold;
    bool use_values;
    double half_life_days;
    int64_t last_ts; /* newest training event: the reference for recency */
};

/*
 * b_e for one event: 'type' is its index in the group's event-type map
 * (EVENT_TYPE_NONE for none; an index >= ntypes is a type first seen after
 * training, weighed 1). Returns 0 for an event the filters drop.
 */
double event_weigher_weight(const struct event_weigher *w, uint32_t type, float value, int64_t ts);
/* JSON for the model file's meta, and back. */
char *event_weigher_to_json(const struct event_weigher *w);
enum rc event_weigher_from_json(const char *json, struct event_weigher *out, struct err *e);
void event_weigher_release(struct event_weigher *w);

/*
 * The training matrix of a dataset group's interactions: users x items of
 * w_ui, with the group's ID maps (dense indexes = matrix rows and columns).
 */
struct train_data {
    struct csr *ui;       /* owned */
    struct strmap *users; /* owned: index -> USER_ID */
    struct strmap *items; /* owned */
    uint64_t events_used; /* events that passed the filters */
    uint64_t events_total;
    int64_t last_ts;    /* newest event used */
    int64_t last_chunk; /* the newest interaction chunk read (store_interactions_last_id) */
    struct event_weigher weigher;
    uint32_t *type_masks; /* per entry of ui: the event types behind it (event_type_bit), owned */
    /*
     * Events left out (an evaluation split's held-out ones, eval/split.h):
     * a bitset by position in scan order up to last_chunk, borrowed; NULL
     * for none. Recipes that read the events themselves skip these too.
     */
    const uint64_t *skip;
};

/* The bit of event type index t in a type mask (types past 30 share bit 30; no type is bit 31). */
static inline uint32_t event_type_bit(uint32_t t)
{
    return t == EVENT_TYPE_NONE ? 1u << 31 : 1u << (t < 30 ? t : 30);
}

enum rc train_data_load(struct store *s, int64_t group_id, int64_t dataset_id,
                        const struct weighting *w, struct train_data *out, struct err *e);
/*
 * The same, from the chunks up to 'last_chunk' only (0: up to the newest),
 * without the events whose position in scan order is set in 'skip' (may be
 * NULL): the mean values and the recency reference come from the rest too,
 * so nothing about the left-out events reaches training.
 */
enum rc train_data_load_except(struct store *s, int64_t group_id, int64_t dataset_id,
                               const struct weighting *w, int64_t last_chunk, const uint64_t *skip,
                               struct train_data *out, struct err *e);
void train_data_release(struct train_data *d);

#endif
