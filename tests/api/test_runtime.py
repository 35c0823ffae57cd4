"""test_runtime.py: the runtime and events APIs end to end with the real boto3.

Run by tests/cli/t1100-runtime.sh, which starts `savor serve` with
--allow-path SAVOR_TMP and sets SAVOR_ENDPOINT. The fixture (runtime_fixture.py)
creates, through the control plane, a dataset group with two taste clusters,
imports it, trains user-personalization, deploys a campaign and an event
tracker. Then: get_recommendations and get_personalized_ranking answers and
errors; put_events for a known user, a brand-new user and an anonymous
session, each visible in the very next get_recommendations; put_items and
put_users against their schemas; update_campaign while requests run, none
failing.
"""

import json
import threading
import time
import unittest

import runtime_fixture as fx

RID = r"^RID-[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"


class Runtime(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.arns = fx.build("rt")
        cls.p = fx.client("personalize")
        cls.rt = fx.client("personalize-runtime")
        cls.ev = fx.client("personalize-events")

    def recommend(self, user, n=10, **kw):
        return self.rt.get_recommendations(campaignArn=self.arns["campaign"], userId=user,
                                           numResults=n, **kw)

    def put(self, items, user=None, session="s1", **extra):
        events = [dict({"eventType": "click", "itemId": it, "sentAt": fx.T0 + 50000 + k,
                        "eventValue": 2.0}, **extra) for k, it in enumerate(items)]
        kw = {"userId": user} if user else {}
        return self.ev.put_events(trackingId=self.arns["tracking_id"], sessionId=session,
                                  eventList=events, **kw)

    def clusters(self, resp, key="itemList"):
        return [fx.cluster(x["itemId"]) for x in resp[key]]

    # ---- GetRecommendations / GetPersonalizedRanking --------------------------------

    def test_recommendations(self):
        r = self.recommend("u3", 10)
        self.assertEqual(len(r["itemList"]), 10)
        self.assertEqual(set(self.clusters(r)), {0})  # a first-cluster user
        scores = [x["score"] for x in r["itemList"]]
        self.assertEqual(scores, sorted(scores, reverse=True))
        self.assertRegex(r["recommendationId"], RID)
        self.assertNotEqual(r["recommendationId"], self.recommend("u3")["recommendationId"])
        self.assertEqual(len(self.rt.get_recommendations(campaignArn=self.arns["campaign"],
                                                         userId="u3")["itemList"]), 25)

    def test_explanations_on_request(self):
        r = self.rt.get_recommendations(campaignArn=self.arns["campaign"], userId="u40",
                                        numResults=3, context={"savor:explain": "true"})
        # botocore drops members its model does not know; the raw body has them.
        raw = r["ResponseMetadata"]
        self.assertEqual(raw["HTTPStatusCode"], 200)
        import urllib.request
        req = urllib.request.Request(
            fx.ENDPOINT + "/recommendations", method="POST",
            data=json.dumps({"campaignArn": self.arns["campaign"], "userId": "u40",
                             "numResults": 3, "context": {"savor:explain": "true"}}).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as resp:
            body = json.loads(resp.read())
        first = body["itemList"][0]
        self.assertIn("explanation", first)
        self.assertTrue(all(fx.cluster(e["itemId"]) == 1 for e in first["explanation"]))

    def test_ranking(self):
        r = self.rt.get_personalized_ranking(campaignArn=self.arns["campaign"], userId="u45",
                                             inputList=["i1", "i30", "nope", "i2", "i31"])
        ids = [x["itemId"] for x in r["personalizedRanking"]]
        self.assertEqual(set(ids[:2]), {"i30", "i31"})
        self.assertEqual(ids[-1], "nope")
        self.assertNotIn("score", r["personalizedRanking"][-1])
        self.assertRegex(r["recommendationId"], RID)

    def test_errors(self):
        c = self.arns["campaign"]
        missing = c.rsplit("/", 1)[0] + "/no-such-campaign"
        with self.assertRaises(self.rt.exceptions.ResourceNotFoundException) as cm:
            self.rt.get_recommendations(campaignArn=missing, userId="u1")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)
        for kw, words in [({"numResults": 501}, "numResults"), ({"numResults": 0}, "numResults"),
                          ({"userId": "u1", "filterValues": {"X": "1"}}, "filterArn"),
                          ({"recommenderArn": c.replace("campaign", "recommender")},
                           "recommenderArn")]:
            args = dict({"campaignArn": c, "userId": "u1"}, **kw)
            if "recommenderArn" in kw:
                del args["campaignArn"]
            with self.assertRaises(self.rt.exceptions.InvalidInputException) as cm:
                self.rt.get_recommendations(**args)
            self.assertIn(words, cm.exception.response["Error"]["Message"])
        with self.assertRaises(self.rt.exceptions.InvalidInputException):
            self.rt.get_personalized_ranking(campaignArn=c, userId="u1", inputList=[])

    # ---- PutEvents -----------------------------------------------------------------

    def test_events_brand_new_user(self):
        before = self.recommend("brand-new-user")
        self.assertTrue(all(x.get("score") == 0 for x in before["itemList"]))  # popular items
        self.put(["i33", "i34", "i35"], user="brand-new-user")
        after = self.recommend("brand-new-user")
        self.assertTrue(all(x["score"] != 0 for x in after["itemList"]))
        self.assertGreaterEqual(sum(self.clusters(after)), 8)

    def test_events_known_user(self):
        before = self.recommend("u7")
        self.assertEqual(set(self.clusters(before)), {0})
        for _ in range(3):
            self.put(["i%d" % i for i in range(21, 31)], user="u7", session="s-u7")
        after = self.recommend("u7")
        self.assertGreater(sum(self.clusters(after)), 0)
        self.assertNotEqual([x["itemId"] for x in before["itemList"]],
                            [x["itemId"] for x in after["itemList"]])

    def test_events_anonymous_session(self):
        self.put(["i36", "i37"], session="anon-session-7")
        r = self.recommend("anon-session-7")
        self.assertTrue(all(x["score"] != 0 for x in r["itemList"]))
        self.assertGreaterEqual(sum(self.clusters(r)), 8)

    def test_events_all_fields(self):
        self.put(["i5"], user="u8", impression=["i5", "i6"], recommendationId="RID-1",
                 properties=json.dumps({"device": "tablet"}), eventId="e-1")
        self.put(["a-new-item"], user="u8")  # unknown to the model: stored, not scored yet

    def test_events_errors(self):
        tid = self.arns["tracking_id"]
        good = {"eventType": "click", "itemId": "i1", "sentAt": fx.T0}
        with self.assertRaises(self.ev.exceptions.ResourceNotFoundException):
            self.ev.put_events(trackingId="no-such-tracker", sessionId="s", eventList=[good])
        for ev, words in [(dict(good, properties='{"colour": "red"}'), "colour"),
                          (dict(good, properties="{not json"), "properties"),
                          (dict(good, itemId="x" * 300), "itemId")]:
            with self.assertRaises(self.ev.exceptions.InvalidInputException) as cm:
                self.ev.put_events(trackingId=tid, sessionId="s", eventList=[ev])
            self.assertIn(words, cm.exception.response["Error"]["Message"])
        with self.assertRaises(self.ev.exceptions.InvalidInputException):
            self.ev.put_events(trackingId=tid, sessionId="s", eventList=[good] * 11)

    # ---- PutItems / PutUsers ---------------------------------------------------------

    def test_put_items(self):
        self.ev.put_items(datasetArn=self.arns["items"], items=[
            {"itemId": "fresh-1", "properties": json.dumps({"genres": "comedy|satire",
                                                            "creationTimestamp": fx.T0})},
            {"itemId": "i1"}])
        with self.assertRaises(self.ev.exceptions.InvalidInputException) as cm:
            self.ev.put_items(datasetArn=self.arns["items"],
                              items=[{"itemId": "x", "properties": '{"price": 3}'}])
        self.assertIn("price", cm.exception.response["Error"]["Message"])
        with self.assertRaises(self.ev.exceptions.InvalidInputException):
            self.ev.put_users(datasetArn=self.arns["items"], users=[{"userId": "x"}])
        with self.assertRaises(self.ev.exceptions.ResourceNotFoundException):
            self.ev.put_items(datasetArn=self.arns["items"].replace("/rt/", "/nope/"),
                              items=[{"itemId": "x"}])

    # ---- UpdateCampaign while serving -------------------------------------------------

    def test_update_campaign_under_load(self):
        new_version = fx.train_version(self.p, self.arns["solution"])
        errors, done, calls = [], threading.Event(), [0]
        rt = fx.client("personalize-runtime")

        def hammer():
            while not done.is_set():
                try:
                    r = rt.get_recommendations(campaignArn=self.arns["campaign"], userId="u2",
                                               numResults=5)
                    assert len(r["itemList"]) == 5
                    calls[0] += 1
                except Exception as e:  # noqa: BLE001 - any failure is the finding
                    errors.append(repr(e))
        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.3)
        self.p.update_campaign(campaignArn=self.arns["campaign"], solutionVersionArn=new_version)
        fx.wait(self.p.describe_campaign, "campaign", "campaignArn", self.arns["campaign"])
        time.sleep(0.3)
        done.set()
        for t in threads:
            t.join()
        self.assertEqual(errors, [])
        self.assertGreater(calls[0], 0)
        d = self.p.describe_campaign(campaignArn=self.arns["campaign"])["campaign"]
        self.assertEqual(d["solutionVersionArn"], new_version)


if __name__ == "__main__":
    unittest.main(verbosity=2)
