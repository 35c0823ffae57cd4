/* fuzz_schema.c: parse, validate for every dataset type, canonical JSON must re-parse. */
#include "common/base.h"

#include "dataset/schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct err e = ERR_INIT;
    struct schema *s = NULL, *again = NULL;
    if (schema_parse((const char *)data, size, &s, &e)) return 0;
    for (int t = DATASET_INTERACTIONS; t <= DATASET_USERS; t++)
        (void)schema_validate(s, (enum dataset_type)t, &e);
    char *json = schema_to_json(s);
    if (schema_parse(json, strlen(json), &again, &e)) abort(); /* canonical form must re-parse */
    char *json2 = schema_to_json(again);
    if (strcmp(json, json2) != 0) abort(); /* and be a fixed point */
    free(json2);
    free(json);
    schema_free(again);
    schema_free(s);
    return 0;
}
