"""test_filters.py: filters through the API with the real boto3, end to end.

Run by tests/cli/t0860-filter-api.sh, which starts `savor serve` on a free
loopback port with a fresh data directory and sets:
  SAVOR_ENDPOINT   http://127.0.0.1:PORT
  SAVOR_INPUT_DIR  a directory the server may read and write (--allow-path),
                   holding interactions.csv and items.csv (made by the script)

What it covers: CreateFilter with valid and invalid expressions (the parser's
and the schema check's messages), GetRecommendations and
GetPersonalizedRanking with filterArn and filterValues, a filter that sees
events sent a moment ago with PutEvents, a cached filter that sees item
metadata changed by PutItems and by `savor import` run as another process
(and is not compiled again while nothing changes), and a batch inference job
with a filter.

Also uses, when set: SAVOR (the savor binary) and SAVOR_DATA_DIR (the
server's data directory), for the import by another process.
"""

import csv
import datetime
import json
import os
import re
import subprocess
import time
import unittest
import urllib.request

from botocore.exceptions import ClientError

from runtime_fixture import client, wait_done as wait

ENDPOINT = os.environ.get("SAVOR_ENDPOINT", "http://127.0.0.1:8080")
INPUT_DIR = os.environ["SAVOR_INPUT_DIR"]
os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIDSAVORTEST")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "savor-test-secret")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

ROLE = "arn:aws:iam::123456789012:role/PersonalizeRole"
UP = "arn:aws:personalize:::recipe/aws-user-personalization"
RANK = "arn:aws:personalize:::recipe/aws-personalized-ranking"
NS = "com.amazonaws.personalize.schema"
INTERACTIONS = json.dumps({
    "type": "record", "name": "Interactions", "namespace": NS,
    "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
               {"name": "EVENT_TYPE", "type": "string"}, {"name": "TIMESTAMP", "type": "long"}],
    "version": "1.0"})
ITEMS = json.dumps({
    "type": "record", "name": "Items", "namespace": NS,
    "fields": [{"name": "ITEM_ID", "type": "string"},
               {"name": "GENRE", "type": "string", "categorical": True},
               {"name": "PRICE", "type": "double"}],
    "version": "1.0"})


P = client("personalize")
RT = client("personalize-runtime")
EV = client("personalize-events")


def read_csv(name):
    with open(os.path.join(INPUT_DIR, name)) as fp:
        return list(csv.DictReader(fp))


ITEM_ROWS = {r["ITEM_ID"]: r for r in read_csv("items.csv")}
INTER_ROWS = read_csv("interactions.csv")


def genres(item):
    return ITEM_ROWS[item]["GENRE"].split("|")


def filter_compiles():
    with urllib.request.urlopen(ENDPOINT + "/metrics", timeout=10) as r:
        text = r.read().decode()
    m = re.search(r"^savor_filter_compiles_total (\d+)$", text, re.M)
    assert m, "no savor_filter_compiles_total in /metrics"
    return int(m.group(1))


def touched(user):
    return {r["ITEM_ID"] for r in INTER_ROWS if r["USER_ID"] == user}


class FilterTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        g = P.create_dataset_group(name="f")["datasetGroupArn"]
        cls.group = g
        for kind, schema, name in (("Interactions", INTERACTIONS, "interactions.csv"),
                                   ("Items", ITEMS, "items.csv")):
            s = P.create_schema(name="f-" + kind.lower(), schema=schema)["schemaArn"]
            d = P.create_dataset(name="f-" + kind.lower(), schemaArn=s, datasetGroupArn=g,
                                 datasetType=kind)["datasetArn"]
            j = P.create_dataset_import_job(
                jobName="f-" + kind.lower(), datasetArn=d, roleArn=ROLE,
                dataSource={"dataLocation": "file://" + os.path.join(INPUT_DIR, name)}
            )["datasetImportJobArn"]
            rec = wait(lambda: P.describe_dataset_import_job(datasetImportJobArn=j),
                       "datasetImportJob")
            assert rec["status"] == "ACTIVE", rec.get("failureReason")
        cls.versions, cls.campaigns = {}, {}
        for recipe, name in ((UP, "up"), (RANK, "rank")):
            sol = P.create_solution(name="f-" + name, datasetGroupArn=g, recipeArn=recipe,
                                    solutionConfig={"algorithmHyperParameters":
                                                    {"hidden_dimension": "8"}})["solutionArn"]
            ver = P.create_solution_version(solutionArn=sol)["solutionVersionArn"]
            rec = wait(lambda: P.describe_solution_version(solutionVersionArn=ver),
                       "solutionVersion")
            assert rec["status"] == "ACTIVE", rec.get("failureReason")
            cls.versions[name] = ver
            cfg = {"itemExplorationConfig": {"explorationWeight": "0"}} if name == "up" else {}
            c = P.create_campaign(name="f-" + name, solutionVersionArn=ver,
                                  campaignConfig=cfg)["campaignArn"]
            assert wait(lambda: P.describe_campaign(campaignArn=c), "campaign")["status"] == "ACTIVE"
            cls.campaigns[name] = c
        cls.filters = {}

    def filter(self, name, expression):
        if name not in self.filters:
            arn = P.create_filter(name="f-" + name, datasetGroupArn=self.group,
                                  filterExpression=expression)["filterArn"]
            rec = P.describe_filter(filterArn=arn)["filter"]
            self.assertEqual(rec["status"], "ACTIVE")
            self.assertEqual(rec["filterExpression"], expression)
            self.filters[name] = arn
        return self.filters[name]

    def recommend(self, user, n=25, **kw):
        r = RT.get_recommendations(campaignArn=self.campaigns["up"], userId=user, numResults=n,
                                   **kw)
        return [x["itemId"] for x in r["itemList"]]

    def assert_invalid(self, fn, **kw):
        with self.assertRaises(ClientError) as cm:
            fn(**kw)
        err = cm.exception.response["Error"]
        self.assertEqual(err["Code"], "InvalidInputException", err)
        return err["Message"]

    def test_create_filter_errors(self):
        msg = self.assert_invalid(P.create_filter, name="bad1", datasetGroupArn=self.group,
                                  filterExpression='INCLUDE ItemID WHERE Items.GENRE LIKE ("x")')
        self.assertIn("column 34: expected IN, NOT IN, =, <, <=, > or >=, found 'LIKE'", msg)
        msg = self.assert_invalid(P.create_filter, name="bad2", datasetGroupArn=self.group,
                                  filterExpression='INCLUDE ItemID WHERE Items.COLOUR IN ("x")')
        self.assertIn("Items has no field 'COLOUR'", msg)
        msg = self.assert_invalid(P.create_filter, name="bad3", datasetGroupArn=self.group,
                                  filterExpression='INCLUDE ItemID WHERE Items.GENRE > 3')
        self.assertIn("Items.GENRE is a string field", msg)
        msg = self.assert_invalid(P.create_filter, name="bad4", datasetGroupArn=self.group,
                                  filterExpression="INCLUDE ItemID WHERE Items.PRICE < 3 "
                                                   "IF CurrentUser.AGE > 18")
        self.assertIn("no USERS dataset", msg)

    def test_exclude_interacted(self):
        f = self.filter("seen", 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")')
        for user in ("u1", "u7", "u30"):
            got = self.recommend(user, filterArn=f)
            self.assertEqual(len(got), 25)
            self.assertFalse(set(got) & touched(user), user)
            # the unfiltered ranking, without the user's items
            full = self.recommend(user, n=100)
            self.assertEqual(got, [i for i in full if i not in touched(user)][:25])

    def test_include_genre_parameter(self):
        f = self.filter("genre", "INCLUDE ItemID WHERE Items.GENRE IN ($G)")
        got = self.recommend("u3", n=10, filterArn=f, filterValues={"G": '"jazz"'})
        self.assertEqual(len(got), 10)
        self.assertTrue(all("jazz" in genres(i) for i in got), got)
        got = self.recommend("u3", n=40, filterArn=f, filterValues={"G": '"jazz","rock"'})
        self.assertTrue(all(set(genres(i)) & {"jazz", "rock"} for i in got), got)
        msg = self.assert_invalid(RT.get_recommendations, campaignArn=self.campaigns["up"],
                                  userId="u3", filterArn=f)
        self.assertIn("$G has no value", msg)
        msg = self.assert_invalid(RT.get_recommendations, campaignArn=self.campaigns["up"],
                                  userId="u3", filterArn=f, filterValues={"G": "jazz"})
        self.assertIn("expected comma-separated values", msg)

    def test_numeric_and_chained(self):
        f = self.filter("cheap-new", "INCLUDE ItemID WHERE Items.PRICE < $MAX | "
                                     'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("buy")')
        got = self.recommend("u5", n=50, filterArn=f, filterValues={"MAX": "20"})
        bought = {r["ITEM_ID"] for r in INTER_ROWS if r["USER_ID"] == "u5" and
                  r["EVENT_TYPE"] == "buy"}
        self.assertTrue(got)
        self.assertTrue(all(float(ITEM_ROWS[i]["PRICE"]) < 20 and i not in bought for i in got))

    def test_ranking(self):
        f = self.filter("genre2", "EXCLUDE ItemID WHERE Items.GENRE IN ($G)")
        items = ["i%d" % k for k in range(12)]
        r = RT.get_personalized_ranking(campaignArn=self.campaigns["rank"], userId="u2",
                                        inputList=items, filterArn=f,
                                        filterValues={"G": '"jazz"'})
        got = [x["itemId"] for x in r["personalizedRanking"]]
        self.assertEqual(sorted(got), sorted(i for i in items if "jazz" not in genres(i)))

    def until(self, what, fn, timeout=15):
        """Poll fn() until it is true; fail with 'what' after 'timeout' seconds."""
        end = time.time() + timeout
        while not fn():
            if time.time() > end:
                self.fail("%s: not after %ss" % (what, timeout))
            time.sleep(0.1)

    def test_metadata_changes_seen(self):
        f = self.filter("genre-new", "INCLUDE ItemID WHERE Items.GENRE IN ($G)")

        def with_genre(g):
            return set(self.recommend("u4", n=60, filterArn=f, filterValues={"G": '"%s"' % g}))

        self.assertEqual(with_genre("folk"), set())
        # Nothing changes: the cached filter is not compiled again however long it is used.
        before = filter_compiles()
        end = time.time() + 6  # past six of the server's checks (one a second)
        while time.time() < end:
            self.assertEqual(with_genre("folk"), set())
            time.sleep(0.05)
        self.assertEqual(filter_compiles(), before)

        # PutItems: the filter sees the new genre (compiled again in the background).
        items = P.list_datasets(datasetGroupArn=self.group)["datasets"]
        items = [d["datasetArn"] for d in items if d["datasetType"].upper() == "ITEMS"][0]
        row = ITEM_ROWS["i5"]
        row["GENRE"] += "|folk"
        EV.put_items(datasetArn=items, items=[{"itemId": "i5", "properties": json.dumps(
            {"genre": row["GENRE"], "price": float(row["PRICE"])})}])
        self.until("i5 in folk after PutItems", lambda: with_genre("folk") == {"i5"})
        self.assertGreater(filter_compiles(), before)

        # `savor import` by another process, while the server runs.
        if not os.environ.get("SAVOR") or not os.environ.get("SAVOR_DATA_DIR"):
            self.skipTest("SAVOR and SAVOR_DATA_DIR not set")
        row = ITEM_ROWS["i6"]
        row["GENRE"] += "|blues"
        path = os.path.join(INPUT_DIR, "items-more.csv")
        with open(path, "w") as fp:
            fp.write("ITEM_ID,GENRE,PRICE\ni6,%s,%s\n" % (row["GENRE"], row["PRICE"]))
        self.assertEqual(with_genre("blues"), set())
        subprocess.run([os.environ["SAVOR"], "import", "--data-dir", os.environ["SAVOR_DATA_DIR"],
                        "-g", "f", "-t", "ITEMS", "--mode", "INCREMENTAL", path], check=True,
                       stdout=subprocess.DEVNULL)
        self.until("i6 in blues after savor import", lambda: with_genre("blues") == {"i6"})
        self.assertEqual(with_genre("folk"), {"i5"})

    def test_new_events_count_at_once(self):
        f = self.filter("seen2", 'EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")')
        t = P.create_event_tracker(name="f-tracker", datasetGroupArn=self.group)["trackingId"]
        user = "u9"
        top = self.recommend(user, n=1, filterArn=f)[0]
        EV.put_events(trackingId=t, userId=user, sessionId="s1",
                      eventList=[{"eventType": "click", "itemId": top,
                                  "sentAt": datetime.datetime.now()}])
        self.assertNotIn(top, self.recommend(user, n=25, filterArn=f))

    def test_batch_with_filter(self):
        f = self.filter("genre3", "INCLUDE ItemID WHERE Items.GENRE IN ($G)")
        inp = os.path.join(INPUT_DIR, "batch.jsonl")
        with open(inp, "w") as fp:
            fp.write('{"userId": "u1", "filterValues": {"G": "\\"rock\\""}}\n')
            fp.write('{"userId": "u2", "filterValues": {"G": "\\"jazz\\""}}\n')
            fp.write('{"userId": "u3"}\n')
        out = os.path.join(INPUT_DIR, "batch-out.jsonl")
        b = P.create_batch_inference_job(
            jobName="f-batch", solutionVersionArn=self.versions["up"], roleArn=ROLE,
            numResults=5, filterArn=f, jobInput={"s3DataSource": {"path": inp}},
            jobOutput={"s3DataDestination": {"path": out}})["batchInferenceJobArn"]
        rec = wait(lambda: P.describe_batch_inference_job(batchInferenceJobArn=b),
                   "batchInferenceJob")
        self.assertEqual(rec["status"], "ACTIVE", rec.get("failureReason"))
        self.assertEqual(rec.get("filterArn"), f)
        with open(out) as fp:
            lines = [json.loads(x) for x in fp]
        self.assertEqual(len(lines), 3)
        for line, genre in zip(lines[:2], ("rock", "jazz")):
            items = line["output"]["recommendedItems"]
            self.assertEqual(len(items), 5)
            self.assertTrue(all(genre in genres(i) for i in items), items)
        self.assertIsNone(lines[2]["output"])
        self.assertIn("$G has no value", lines[2]["error"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
