"""runtime_fixture.py: a trained campaign and an event tracker, made with boto3.

Shared by tests/api/test_runtime.py and tests/cli/t1200-events-durability.sh;
client() and wait_done() by tests/api/test_control.py and test_filters.py too.
Everything goes through the public API of a running `savor serve`
(SAVOR_ENDPOINT); the CSV is written under SAVOR_TMP, which the server must
allow (--allow-path).
"""

import json
import os
import time

import boto3
import botocore.config

ENDPOINT = os.environ.get("SAVOR_ENDPOINT", "http://127.0.0.1:8080")
TMP = os.environ.get("SAVOR_TMP", "/tmp")

os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIDSAVORTEST")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "savor-test-secret")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

NUSERS, NITEMS, T0 = 60, 40, 1700000000

SCHEMA = {
    "type": "record", "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "USER_ID", "type": "string"},
        {"name": "ITEM_ID", "type": "string"},
        {"name": "TIMESTAMP", "type": "long"},
        {"name": "EVENT_TYPE", "type": "string"},
        {"name": "EVENT_VALUE", "type": ["null", "float"]},
        {"name": "DEVICE", "type": ["null", "string"], "categorical": True},
    ],
    "version": "1.0",
}

ITEMS_SCHEMA = {
    "type": "record", "name": "Items",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [
        {"name": "ITEM_ID", "type": "string"},
        {"name": "GENRES", "type": ["null", "string"], "categorical": True},
        {"name": "CREATION_TIMESTAMP", "type": ["null", "long"]},
    ],
    "version": "1.0",
}


def client(service, retries=1):
    cfg = botocore.config.Config(retries={"max_attempts": retries}, connect_timeout=5,
                                 read_timeout=60, max_pool_connections=64)
    return boto3.client(service, endpoint_url=ENDPOINT, config=cfg)


def cluster(item_id):
    """0 for items i0..i19 (the first users' taste), 1 for i20..i39."""
    return 0 if int(item_id[1:]) < NITEMS // 2 else 1


def interactions_csv(path):
    """Two taste clusters: users 0..29 like items 0..19, users 30..59 items 20..39."""
    with open(path, "w") as f:
        f.write("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE,DEVICE\n")
        for u in range(NUSERS):
            base = 0 if u < NUSERS // 2 else NITEMS // 2
            for k in range(8):
                item = base + (u * 7 + k * 3) % (NITEMS // 2)
                f.write("u%d,i%d,%d,%s,%d,%s\n" % (u, item, T0 + u * 100 + k,
                                                    "view" if k % 3 == 0 else "click",
                                                    1 + k % 2, "phone" if k % 2 else ""))


def wait_done(describe, key, timeout=120):
    """Poll describe() until resp[key].status leaves the CREATE states; return that record."""
    end = time.time() + timeout
    while True:
        rec = describe()[key]
        if rec["status"] not in ("CREATE PENDING", "CREATE IN_PROGRESS", "CREATE STOPPING"):
            return rec
        if time.time() > end:
            raise AssertionError("%s still %s after %ss" % (key, rec["status"], timeout))
        time.sleep(0.2)


def wait(describe, key, arn_name, arn, timeout=120):
    """Poll describe_X until the resource is ACTIVE; fail on CREATE FAILED."""
    deadline = time.time() + timeout
    while True:
        r = describe(**{arn_name: arn})[key]
        status = r["status"]
        if status == "ACTIVE":
            return r
        if "FAILED" in status:
            raise AssertionError("%s %s: %s" % (arn, status, r.get("failureReason")))
        if time.time() > deadline:
            raise AssertionError("%s still %s after %ds" % (arn, status, timeout))
        time.sleep(0.2)


def train_version(p, solution_arn):
    v = p.create_solution_version(solutionArn=solution_arn)["solutionVersionArn"]
    wait(p.describe_solution_version, "solutionVersion", "solutionVersionArn", v)
    return v


def build(name):
    """Dataset group NAME with interactions and items, a user-personalization
    campaign (exploration off), an event tracker. Returns a dict of ARNs."""
    p = client("personalize")
    out = {}
    g = p.create_dataset_group(name=name)["datasetGroupArn"]
    wait(p.describe_dataset_group, "datasetGroup", "datasetGroupArn", g)
    out["group"] = g
    for kind, schema in (("INTERACTIONS", SCHEMA), ("ITEMS", ITEMS_SCHEMA)):
        s = p.create_schema(name="%s-%s" % (name, kind.lower()),
                            schema=json.dumps(schema))["schemaArn"]
        d = p.create_dataset(name="%s-%s" % (name, kind.lower()), schemaArn=s,
                             datasetGroupArn=g, datasetType=kind)["datasetArn"]
        wait(p.describe_dataset, "dataset", "datasetArn", d)
        out[kind.lower()] = d
    csv = os.path.join(TMP, "%s-interactions.csv" % name)
    interactions_csv(csv)
    job = p.create_dataset_import_job(jobName="%s-import" % name, datasetArn=out["interactions"],
                                      dataSource={"dataLocation": csv},
                                      roleArn="arn:aws:iam::000000000000:role/savor")
    wait(p.describe_dataset_import_job, "datasetImportJob", "datasetImportJobArn",
         job["datasetImportJobArn"])
    sol = p.create_solution(name="%s-up" % name, datasetGroupArn=g,
                            recipeArn="arn:aws:personalize:::recipe/aws-user-personalization",
                            solutionConfig={"algorithmHyperParameters": {
                                "hidden_dimension": "8"}})["solutionArn"]
    out["solution"] = sol
    out["version"] = train_version(p, sol)
    c = p.create_campaign(name="%s-c" % name, solutionVersionArn=out["version"],
                          campaignConfig={"itemExplorationConfig": {"explorationWeight": "0"}})
    out["campaign"] = c["campaignArn"]
    wait(p.describe_campaign, "campaign", "campaignArn", out["campaign"])
    t = p.create_event_tracker(name="%s-t" % name, datasetGroupArn=g)
    out["tracker"] = t["eventTrackerArn"]
    out["tracking_id"] = t["trackingId"]
    wait(p.describe_event_tracker, "eventTracker", "eventTrackerArn", out["tracker"])
    return out
