"""test_control.py: the control plane with the real boto3, end to end.

Run by tests/cli/t1110-control-api.sh, which starts `savor serve` on a free
loopback port with a fresh data directory and sets:
  SAVOR_ENDPOINT   http://127.0.0.1:PORT
  SAVOR_INPUT_DIR  a directory the server may read (--allow-path), holding
                   interactions.csv
  SAVOR_OUTSIDE    a directory the server may not read

What it covers: the whole workflow (dataset group, schema, dataset, import
job, solution, version, metrics, campaign, event tracker, recommendations,
update, deletes in dependency order and ResourceInUseException on the way),
every error class boto3 raises, pagination, and path confinement.
"""

import datetime
import json
import os
import time
import unittest

from botocore.exceptions import ClientError

from runtime_fixture import client, wait_done as wait

ENDPOINT = os.environ.get("SAVOR_ENDPOINT", "http://127.0.0.1:8080")
INPUT_DIR = os.environ["SAVOR_INPUT_DIR"]
OUTSIDE = os.environ["SAVOR_OUTSIDE"]
os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIDSAVORTEST")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "savor-test-secret")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

SUFFIX = os.environ.get("SAVOR_TEST_SUFFIX", "")  # to rerun a test on the same server
ROLE = "arn:aws:iam::123456789012:role/PersonalizeRole"
UP = "arn:aws:personalize:::recipe/aws-user-personalization"
POP = "arn:aws:personalize:::recipe/aws-popularity-count"
SCHEMA = json.dumps({
    "type": "record", "name": "Interactions",
    "namespace": "com.amazonaws.personalize.schema",
    "fields": [{"name": "USER_ID", "type": "string"},
               {"name": "ITEM_ID", "type": "string"},
               {"name": "TIMESTAMP", "type": "long"}],
    "version": "1.0"})


P = client("personalize")
RT = client("personalize-runtime")


class ControlTest(unittest.TestCase):
    def assert_error(self, code, fn, *args, **kw):
        with self.assertRaises(ClientError) as cm:
            fn(*args, **kw)
        err = cm.exception.response["Error"]
        self.assertEqual(err["Code"], code, err)
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertTrue(err["Message"])
        return err["Message"]

    def group_with_data(self, name):
        g = P.create_dataset_group(name=name)["datasetGroupArn"]
        s = P.create_schema(name=name + "-schema", schema=SCHEMA)["schemaArn"]
        d = P.create_dataset(name=name + "-interactions", schemaArn=s, datasetGroupArn=g,
                             datasetType="Interactions")["datasetArn"]
        j = P.create_dataset_import_job(
            jobName=name + "-import", datasetArn=d, roleArn=ROLE,
            dataSource={"dataLocation": "file://" + os.path.join(INPUT_DIR, "interactions.csv")}
        )["datasetImportJobArn"]
        rec = wait(lambda: P.describe_dataset_import_job(datasetImportJobArn=j),
                   "datasetImportJob")
        self.assertEqual(rec["status"], "ACTIVE", rec.get("failureReason"))
        return g, s, d, j

    def test_workflow(self):
        g, s, d, j = self.group_with_data("wf")
        dg = P.describe_dataset_group(datasetGroupArn=g)["datasetGroup"]
        self.assertEqual(dg["status"], "ACTIVE")
        self.assertIsInstance(dg["creationDateTime"], datetime.datetime)
        self.assertEqual(P.describe_dataset(datasetArn=d)["dataset"]["datasetType"],
                         "Interactions")
        self.assertIn("USER_ID", P.describe_schema(schemaArn=s)["schema"]["schema"])
        jobs = P.list_dataset_import_jobs(datasetArn=d)["datasetImportJobs"]
        self.assertEqual([x["datasetImportJobArn"] for x in jobs], [j])

        sol = P.create_solution(name="wf-up", datasetGroupArn=g, recipeArn=UP,
                                solutionConfig={"algorithmHyperParameters":
                                                {"hidden_dimension": "16"}})["solutionArn"]
        self.assertEqual(P.describe_solution(solutionArn=sol)["solution"]["recipeArn"], UP)
        ver = P.create_solution_version(solutionArn=sol)["solutionVersionArn"]
        self.assertTrue(ver.startswith(sol + "/"))
        self.assert_error("ResourceInUseException", P.create_solution_version, solutionArn=sol)
        rec = wait(lambda: P.describe_solution_version(solutionVersionArn=ver), "solutionVersion")
        self.assertEqual(rec["status"], "ACTIVE", rec.get("failureReason"))
        self.assertEqual(rec["trainingMode"], "FULL")
        m = P.get_solution_metrics(solutionVersionArn=ver)
        self.assertEqual(m["solutionVersionArn"], ver)
        self.assertIsInstance(m["metrics"], dict)
        for v in m["metrics"].values():
            self.assertIsInstance(v, float)
        vs = P.list_solution_versions(solutionArn=sol)["solutionVersions"]
        self.assertEqual([x["solutionVersionArn"] for x in vs], [ver])

        camp = P.create_campaign(name="wf-campaign", solutionVersionArn=ver,
                                 minProvisionedTPS=1)["campaignArn"]
        c = wait(lambda: P.describe_campaign(campaignArn=camp), "campaign")
        self.assertEqual(c["status"], "ACTIVE")
        self.assertEqual(c["campaignConfig"]["itemExplorationConfig"]["explorationWeight"], "0.3")
        items = RT.get_recommendations(campaignArn=camp, userId="u1", numResults=5)["itemList"]
        self.assertEqual(len(items), 5)
        P.update_campaign(campaignArn=camp, campaignConfig={
            "itemExplorationConfig": {"explorationWeight": "0", "explorationItemAgeCutOff": "10"}})
        c = P.describe_campaign(campaignArn=camp)["campaign"]
        self.assertEqual(c["campaignConfig"]["itemExplorationConfig"]["explorationWeight"], "0")
        self.assertEqual(c["latestCampaignUpdate"]["status"], "ACTIVE")

        t = P.create_event_tracker(name="wf-tracker", datasetGroupArn=g)
        self.assertRegex(t["trackingId"], r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-")
        self.assert_error("LimitExceededException", P.create_event_tracker, name="wf-tracker2",
                          datasetGroupArn=g)
        f = P.create_filter(name="wf-filter", datasetGroupArn=g,
                            filterExpression='EXCLUDE ItemID WHERE Interactions.EVENT_TYPE IN ("*")'
                            )["filterArn"]
        self.assertEqual(P.describe_filter(filterArn=f)["filter"]["status"], "ACTIVE")

        # Deletes in dependency order; each dependency refuses first.
        self.assert_error("ResourceInUseException", P.delete_solution, solutionArn=sol)
        self.assert_error("ResourceInUseException", P.delete_dataset_group, datasetGroupArn=g)
        self.assert_error("ResourceInUseException", P.delete_schema, schemaArn=s)
        P.delete_campaign(campaignArn=camp)
        self.assert_error("ResourceNotFoundException", P.describe_campaign, campaignArn=camp)
        P.delete_solution(solutionArn=sol)
        self.assert_error("ResourceNotFoundException", P.describe_solution_version,
                          solutionVersionArn=ver)
        P.delete_event_tracker(eventTrackerArn=t["eventTrackerArn"])
        P.delete_filter(filterArn=f)
        self.assert_error("ResourceInUseException", P.delete_dataset_group, datasetGroupArn=g)
        P.delete_dataset(datasetArn=d)
        P.delete_schema(schemaArn=s)
        P.delete_dataset_group(datasetGroupArn=g)
        self.assert_error("ResourceNotFoundException", P.describe_dataset_group, datasetGroupArn=g)

    def test_stop_and_batch(self):
        g, s, d, j = self.group_with_data("sb" + SUFFIX)
        sol = P.create_solution(name="sb-pop" + SUFFIX, datasetGroupArn=g,
                                recipeArn=POP)["solutionArn"]
        ver = P.create_solution_version(solutionArn=sol)["solutionVersionArn"]
        try:
            P.stop_solution_version_creation(solutionVersionArn=ver)
        except ClientError as e:
            # A tiny training may finish before the stop reaches it: then it is refused.
            self.assertEqual(e.response["Error"]["Code"], "InvalidInputException")
            self.assertIn("ACTIVE", e.response["Error"]["Message"])
        rec = wait(lambda: P.describe_solution_version(solutionVersionArn=ver), "solutionVersion")
        # A tiny training may finish before the stop reaches it.
        self.assertIn(rec["status"], ("CREATE STOPPED", "ACTIVE"), rec.get("failureReason"))
        if rec["status"] != "ACTIVE":
            ver = P.create_solution_version(solutionArn=sol)["solutionVersionArn"]
            rec = wait(lambda: P.describe_solution_version(solutionVersionArn=ver),
                       "solutionVersion")
            self.assertEqual(rec["status"], "ACTIVE", rec.get("failureReason"))
        inp = os.path.join(INPUT_DIR, "batch.jsonl")
        with open(inp, "w") as fp:
            fp.write('{"userId": "u1"}\n{"userId": "u2"}\n')
        out = os.path.join(INPUT_DIR, "batch-out.jsonl")
        b = P.create_batch_inference_job(
            jobName="sb-batch" + SUFFIX, solutionVersionArn=ver, roleArn=ROLE, numResults=4,
            jobInput={"s3DataSource": {"path": inp}},
            jobOutput={"s3DataDestination": {"path": out}})["batchInferenceJobArn"]
        rec = wait(lambda: P.describe_batch_inference_job(batchInferenceJobArn=b),
                   "batchInferenceJob")
        self.assertEqual(rec["status"], "ACTIVE", rec.get("failureReason"))
        with open(out) as fp:
            lines = [json.loads(x) for x in fp]
        self.assertEqual(len(lines), 2)
        self.assertEqual(len(lines[0]["output"]["recommendedItems"]), 4)
        self.assert_error("InvalidInputException", P.create_batch_inference_job,
                          jobName="sb-batch2" + SUFFIX, solutionVersionArn=ver, roleArn=ROLE,
                          jobInput={"s3DataSource": {"path": inp}},
                          jobOutput={"s3DataDestination": {"path": OUTSIDE + "/out.jsonl"}})

    def test_errors(self):
        msg = self.assert_error("InvalidInputException", P.create_dataset_group, name="bad name")
        self.assertIn("name", msg)
        self.assert_error("InvalidInputException", P.create_dataset_group, name="x" * 64)
        self.assert_error("InvalidInputException", P.list_dataset_groups, maxResults=1000)
        self.assert_error("InvalidInputException", P.describe_dataset_group,
                          datasetGroupArn="not:an:arn")
        self.assert_error("ResourceNotFoundException", P.describe_dataset_group,
                          datasetGroupArn="arn:aws:personalize:us-east-1:000000000000:"
                                          "dataset-group/missing")
        P.create_dataset_group(name="err-g")
        self.assert_error("ResourceAlreadyExistsException", P.create_dataset_group, name="err-g")
        self.assert_error("InvalidNextTokenException", P.list_dataset_groups, nextToken="forged")
        arn = P.list_dataset_groups()["datasetGroups"][0]["datasetGroupArn"]
        self.assert_error("TooManyTagsException", P.tag_resource, resourceArn=arn,
                          tags=[{"tagKey": "k%d" % i, "tagValue": "v"} for i in range(51)])
        self.assert_error("ResourceNotFoundException", P.describe_recipe,
                          recipeArn="arn:aws:personalize:::recipe/aws-nothing")
        with self.assertRaises(ClientError) as cm:
            P.list_recommenders()
        self.assertEqual(cm.exception.response["Error"]["Code"], "UnsupportedOperationException")

    def test_pagination_and_tags(self):
        names = ["page-%d" % i for i in range(7)]
        for n in names:
            P.create_dataset_group(name=n, tags=[{"tagKey": "suite", "tagValue": "pages"}])
        first = P.list_dataset_groups(maxResults=3)
        self.assertEqual(len(first["datasetGroups"]), 3)
        self.assertIn("nextToken", first)
        seen = []
        for page in P.get_paginator("list_dataset_groups").paginate(PaginationConfig={"PageSize": 3}):
            self.assertLessEqual(len(page["datasetGroups"]), 3)
            seen += [x["name"] for x in page["datasetGroups"]]
        self.assertEqual(len(seen), len(set(seen)))
        self.assertTrue(set(names) <= set(seen))
        arn = [x for x in P.list_dataset_groups(maxResults=100)["datasetGroups"]
               if x["name"] == "page-0"][0]["datasetGroupArn"]
        self.assertEqual(P.list_tags_for_resource(resourceArn=arn)["tags"],
                         [{"tagKey": "suite", "tagValue": "pages"}])
        P.tag_resource(resourceArn=arn, tags=[{"tagKey": "team", "tagValue": "recs"}])
        P.untag_resource(resourceArn=arn, tagKeys=["suite"])
        self.assertEqual(P.list_tags_for_resource(resourceArn=arn)["tags"],
                         [{"tagKey": "team", "tagValue": "recs"}])
        recipes = [r["recipeArn"] for r in P.list_recipes()["recipes"]]
        self.assertIn(UP, recipes)
        self.assertEqual(P.describe_recipe(recipeArn=UP)["recipe"]["recipeType"],
                         "USER_PERSONALIZATION")
        alg = P.describe_algorithm(
            algorithmArn="arn:aws:personalize:::algorithm/aws-user-personalization")["algorithm"]
        self.assertTrue(alg["defaultHyperParameters"])

    def test_path_confinement(self):
        g = P.create_dataset_group(name="paths")["datasetGroupArn"]
        s = P.create_schema(name="paths-schema", schema=SCHEMA)["schemaArn"]
        d = P.create_dataset(name="paths-i", schemaArn=s, datasetGroupArn=g,
                             datasetType="Interactions")["datasetArn"]
        link = os.path.join(INPUT_DIR, "link-to-passwd.csv")
        if not os.path.lexists(link):
            os.symlink("/etc/passwd", link)
        outside_csv = os.path.join(OUTSIDE, "secret.csv")
        with open(outside_csv, "w") as fp:
            fp.write("USER_ID,ITEM_ID,TIMESTAMP\nu,i,1\n")
        for i, loc in enumerate(["/etc/passwd", "file:///etc/shadow",
                                 INPUT_DIR + "/../" + os.path.basename(OUTSIDE) + "/secret.csv",
                                 INPUT_DIR + "/../../../../../etc/passwd", link, outside_csv,
                                 "s3://bucket/interactions.csv"]):
            msg = self.assert_error("InvalidInputException", P.create_dataset_import_job,
                                    jobName="paths-%d" % i, datasetArn=d, roleArn=ROLE,
                                    dataSource={"dataLocation": loc})
            self.assertIn("dataLocation", msg)
        self.assertEqual(P.list_dataset_import_jobs(datasetArn=d)["datasetImportJobs"], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
