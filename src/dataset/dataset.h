/*
 * dataset.h: dataset groups, schemas and datasets as Personalize resources.
 *
 * These sit on top of the store's generic resources: they know the ARN
 * shapes (dataset-group/NAME, schema/NAME, dataset/GROUP/TYPE), the status
 * strings and which attributes each kind carries.
 */
#ifndef SAVOR_DATASET_H
#define SAVOR_DATASET_H

#include "common/base.h"
#include "dataset/schema.h"
#include "store/store.h"

/* Personalize's resource name rule: 1..63 of [a-zA-Z0-9_-], starting alphanumeric. */
bool resource_name_valid(const char *name);

/* Find dataset group 'name'; RC_NOT_FOUND (with a message) if absent. */
enum rc dataset_group_find(struct store *s, const char *name, struct resource *out, struct err *e);
/* Create dataset group 'name' (ACTIVE). RC_ALREADY_EXISTS if taken. */
enum rc dataset_group_create(struct store *s, const char *name, struct resource *out,
                             struct err *e);

/* Find the group's dataset of type 't'; RC_NOT_FOUND if absent. */
enum rc dataset_find(struct store *s, const struct resource *group, enum dataset_type t,
                     struct resource *out, struct err *e);

/*
 * Create a schema resource named 'schema_name' holding 'schema' and the
 * group's dataset of type 't' using it (both ACTIVE).
 */
enum rc dataset_create(struct store *s, const struct resource *group, enum dataset_type t,
                       const char *schema_name, const struct schema *schema, struct resource *out,
                       struct err *e);

/*
 * How many FULL imports replaced the dataset's bulk data so far. A model
 * trained at generation g may add the events recorded after it only while
 * the generation is still g: after a FULL import, later rows are no longer
 * "new events" but a replacement of what the model learned from.
 */
int64_t dataset_generation(const struct resource *dataset);
/* Count one more FULL import (inside the import's transaction). */
enum rc dataset_bump_generation(struct store *s, struct resource *dataset, struct err *e);

/* Parse the schema the dataset uses. Caller frees *out with schema_free(). */
enum rc dataset_load_schema(struct store *s, const struct resource *dataset, struct schema **out,
                            struct err *e);

#endif
