/*
 * control_event_tracker.c: event trackers (event-tracker/ID), one per
 * dataset group as in Personalize. The trackingId (a UUID) is what
 * PutEvents callers send; attrs {"trackingId", "datasetGroupArn"}.
 */
#include "common/base.h"
#include "api/control_int.h"

static json_t *tracker_json(const struct resource *r, bool full)
{
    json_t *o = json_object();
    ctl_common_fields(o, r, "eventTrackerArn");
    if (!full) return o;
    json_t *a = ctl_attrs(r);
    json_object_set(o, "trackingId", json_object_get(a, "trackingId"));
    json_object_set(o, "datasetGroupArn", json_object_get(a, "datasetGroupArn"));
    json_decref(a);
    /* accountId: the account part of the ARN (arn:partition:personalize:region:ACCOUNT:...). */
    const char *p = r->arn;
    for (int i = 0; i < 4 && p; i++)
        p = strchr(p, ':') ? strchr(p, ':') + 1 : NULL;
    const char *end = p ? strchr(p, ':') : NULL;
    if (end) json_object_set_new(o, "accountId", json_stringn(p, (size_t)(end - p)));
    return o;
}

static json_t *tracker_summary(const struct resource *r)
{
    return tracker_json(r, false);
}

CTL_OP(CreateEventTracker)
{
    const char *name = ctl_str(req, "name");
    json_t *tags;
    enum rc rc = ctl_tags_from_request(req, &tags, err);
    if (rc) return rc;
    struct resource group = {0}, r = {0};
    struct resource *all = NULL;
    size_t n = 0;
    ctl_lock(ctx);
    rc = ctl_get(ctx, ctl_str(req, "datasetGroupArn"), KIND_DATASET_GROUP, "dataset group", &group,
                 err);
    if (!rc) rc = ctl_list(ctx, KIND_EVENT_TRACKER, 0, &all, &n, err);
    size_t in_group = 0;
    for (size_t i = 0; i < n && !rc; i++) {
        if (strcmp(all[i].name, name) == 0)
            rc = ctl_exists(err, "an event tracker named %s already exists (%s)", name, all[i].arn);
        in_group += all[i].parent_id == group.id;
    }
    if (!rc && in_group >= CTL_MAX_EVENT_TRACKERS)
        rc = ctl_limit(
            err, "dataset group %s already has an event tracker (at most %d per dataset group)",
            group.arn, CTL_MAX_EVENT_TRACKERS);
    if (!rc) {
        char id[9], uuid[37];
        ctl_random_hex(id, 8);
        ctl_uuid(uuid);
        json_t *a = json_pack("{s:s,s:s,s:O}", "trackingId", uuid, "datasetGroupArn", group.arn,
                              "tags", tags);
        ctl_resource_init(&r, store_arn(ctx->store, KIND_EVENT_TRACKER, id), KIND_EVENT_TRACKER,
                          name, group.id, STATUS_ACTIVE, a);
        rc = ctl_insert(ctx, &r, "event tracker", err);
        if (!rc) *resp = json_pack("{s:s,s:s}", "eventTrackerArn", r.arn, "trackingId", uuid);
    }
    ctl_unlock(ctx);
    json_decref(tags);
    resource_list_free(all, n);
    resource_release(&group);
    resource_release(&r);
    return rc;
}

CTL_OP(DescribeEventTracker)
{
    struct resource r;
    ctl_lock(ctx);
    enum rc rc =
        ctl_get(ctx, ctl_str(req, "eventTrackerArn"), KIND_EVENT_TRACKER, "event tracker", &r, err);
    ctl_unlock(ctx);
    if (rc) return rc;
    *resp = json_pack("{s:o}", "eventTracker", tracker_json(&r, true));
    resource_release(&r);
    return RC_OK;
}

CTL_OP(ListEventTrackers)
{
    return ctl_list_page(ctx, req, KIND_EVENT_TRACKER, ctl_str(req, "datasetGroupArn"),
                         KIND_DATASET_GROUP, "dataset group", tracker_summary, "eventTrackers",
                         resp, err);
}

CTL_OP(DeleteEventTracker)
{
    UNUSED(resp);
    struct resource r;
    ctl_lock(ctx);
    enum rc rc =
        ctl_get(ctx, ctl_str(req, "eventTrackerArn"), KIND_EVENT_TRACKER, "event tracker", &r, err);
    if (!rc) rc = ctl_delete(ctx, &r, err);
    ctl_unlock(ctx);
    resource_release(&r);
    return rc;
}
