"""test_auth.py: SigV4 authentication of `savor serve`, with the real boto3 and raw HTTP.

Run by tests/cli/t1300-auth.sh, which starts a server with access keys and sets:
  SAVOR_ENDPOINT  http://127.0.0.1:PORT of the running server
  SAVOR_KEYS      the configured keys, "AKID:SECRET,AKID:SECRET,..." (credentials file and
                  environment)

What it covers: every configured key works on all three protocols (control plane, runtime,
events); a wrong secret, an unknown key, a clock 10 minutes off either way, an unsigned
request, a malformed Authorization header, a body changed after signing, and a request signed
for another service each get the error AWS sends (status, X-Amzn-ErrorType, __type, and the
code boto3 raises); /healthz and /metrics need no signature; refused requests change nothing.
"""

import datetime
import warnings
import http.client
import json
import os
import sys
import unittest
import urllib.parse
from unittest import mock

import boto3
import botocore.auth
import botocore.config
import botocore.exceptions
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ENDPOINT = os.environ.get("SAVOR_ENDPOINT", "http://127.0.0.1:8080")
KEYS = [tuple(k.split(":", 1)) for k in os.environ.get("SAVOR_KEYS", "").split(",") if k]
HOST = urllib.parse.urlsplit(ENDPOINT).hostname
PORT = urllib.parse.urlsplit(ENDPOINT).port
REGION = "us-east-1"
CONTROL_CT = "application/x-amz-json-1.1"
AUTH_CODES = {
    "MissingAuthenticationTokenException",
    "IncompleteSignatureException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
}

warnings.simplefilter("ignore", ResourceWarning)  # boto3 clients are not closed explicitly

# No user configuration may leak in.
for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN"):
    os.environ.pop(var, None)
os.environ["AWS_CONFIG_FILE"] = os.devnull
os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull


def client(service, akid, secret, region=REGION):
    cfg = botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30)
    return boto3.client(service, endpoint_url=ENDPOINT, region_name=region, config=cfg,
                        aws_access_key_id=akid, aws_secret_access_key=secret)


def raw(method, path, body=b"", headers=None):
    """One request on a fresh connection: (status, lowercased headers, parsed JSON or bytes)."""
    conn = http.client.HTTPConnection(HOST, PORT, timeout=10)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        hdrs = {k.lower(): v for k, v in resp.getheaders()}
        try:
            data = json.loads(data)
        except ValueError:
            pass
        return resp.status, hdrs, data
    finally:
        conn.close()


def signed_raw(method, path, body, headers, akid, secret, service="personalize"):
    """Sign with botocore's SigV4Auth and send exactly those bytes."""
    req = AWSRequest(method=method, url=ENDPOINT + path, data=body, headers=headers)
    SigV4Auth(Credentials(akid, secret), service, REGION).add_auth(req)
    hdrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in req.headers.items()}
    return raw(method, path, body, hdrs)


def control_headers(op):
    return {"X-Amz-Target": "AmazonPersonalize." + op, "Content-Type": CONTROL_CT}


class SkewedClock:
    """Make botocore sign as if the clock were 'minutes' off (both of its signers)."""

    def __init__(self, minutes):
        real = datetime.datetime
        offset = datetime.timedelta(minutes=minutes)

        class Skewed(real):
            @classmethod
            def utcnow(cls):
                return real.utcnow() + offset

            @classmethod
            def now(cls, tz=None):
                return real.now(tz) + offset

        self.patch = mock.patch.object(datetime, "datetime", Skewed)

    def __enter__(self):
        self.patch.start()

    def __exit__(self, *exc):
        self.patch.stop()


class AuthTest(unittest.TestCase):
    def assert_client_error(self, call, code, status, message_part=None):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            call()
        err = cm.exception.response
        self.assertEqual(err["Error"]["Code"], code, err)
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], status, err)
        if message_part:
            self.assertIn(message_part, err["Error"]["Message"])
        return err

    def assert_raw_error(self, result, code, status, message_part=None):
        st, hdrs, body = result
        self.assertEqual(st, status, body)
        self.assertEqual(hdrs.get("x-amzn-errortype"), code)
        self.assertIsInstance(body, dict, body)
        self.assertEqual(body.get("__type"), code)
        if message_part:
            self.assertIn(message_part, body.get("message", ""))

    def dataset_group_names(self):
        akid, secret = KEYS[0]
        groups = client("personalize", akid, secret).list_dataset_groups()["datasetGroups"]
        return sorted(g["name"] for g in groups)

    # ---- keys that work ----

    def test_every_key_works_on_the_control_plane(self):
        self.assertGreaterEqual(len(KEYS), 3, "t1300 configures two file keys and one env key")
        for i, (akid, secret) in enumerate(KEYS):
            c = client("personalize", akid, secret)
            name = "auth-ok-%d" % i
            arn = c.create_dataset_group(name=name)["datasetGroupArn"]
            self.assertEqual(c.describe_dataset_group(datasetGroupArn=arn)["datasetGroup"]["name"],
                             name)
        self.assertTrue({"auth-ok-0", "auth-ok-1", "auth-ok-2"} <= set(self.dataset_group_names()))

    def test_any_region_is_accepted(self):
        akid, secret = KEYS[0]
        for region in ("us-west-2", "eu-central-1", "ap-southeast-2"):
            client("personalize", akid, secret, region).list_dataset_groups()

    def test_runtime_and_events_are_signed_as_personalize(self):
        # A right key passes authentication: whatever comes back is not an auth error.
        akid, secret = KEYS[0]
        rt = client("personalize-runtime", akid, secret)
        ev = client("personalize-events", akid, secret)
        calls = [
            lambda: rt.get_recommendations(
                campaignArn="arn:aws:personalize:us-east-1:000000000000:campaign/none", userId="u"),
            lambda: rt.get_personalized_ranking(
                campaignArn="arn:aws:personalize:us-east-1:000000000000:campaign/none",
                userId="u", inputList=["a"]),
            lambda: ev.put_events(trackingId="no-such-tracker", sessionId="s",
                                  eventList=[{"eventType": "click", "sentAt": 1700000000}]),
        ]
        for call in calls:
            try:
                call()
            except botocore.exceptions.ClientError as e:
                self.assertNotIn(e.response["Error"]["Code"], AUTH_CODES, e.response)
        # A wrong secret is refused on those protocols too.
        rt_bad = client("personalize-runtime", akid, secret + "x")
        self.assert_client_error(
            lambda: rt_bad.get_recommendations(
                campaignArn="arn:aws:personalize:us-east-1:000000000000:campaign/none", userId="u"),
            "InvalidSignatureException", 403, "signature we calculated does not match")
        ev_bad = client("personalize-events", "AKIDNOBODY", secret)
        self.assert_client_error(
            lambda: ev_bad.put_events(trackingId="t", sessionId="s",
                                      eventList=[{"eventType": "click", "sentAt": 1700000000}]),
            "UnrecognizedClientException", 403)

    def test_health_and_metrics_need_no_signature(self):
        self.assertEqual(raw("GET", "/healthz")[0], 200)
        self.assertEqual(raw("GET", "/metrics")[0], 200)

    # ---- refusals, as boto3 sees them ----

    def test_wrong_secret(self):
        akid, secret = KEYS[0]
        before = self.dataset_group_names()
        c = client("personalize", akid, "not-" + secret)
        self.assert_client_error(lambda: c.list_dataset_groups(), "InvalidSignatureException", 403,
                                 "The request signature we calculated does not match")
        self.assert_client_error(lambda: c.create_dataset_group(name="auth-never-1"),
                                 "InvalidSignatureException", 403)
        self.assertEqual(self.dataset_group_names(), before)

    def test_unknown_access_key(self):
        c = client("personalize", "AKIDNOTCONFIGURED", KEYS[0][1])
        self.assert_client_error(lambda: c.list_dataset_groups(), "UnrecognizedClientException",
                                 403, "The security token included in the request is invalid")

    def test_stale_signature(self):
        akid, secret = KEYS[0]
        c = client("personalize", akid, secret)
        with SkewedClock(-10):
            self.assert_client_error(lambda: c.list_dataset_groups(), "InvalidSignatureException",
                                     403, "Signature expired")
        with SkewedClock(+10):
            self.assert_client_error(lambda: c.list_dataset_groups(), "InvalidSignatureException",
                                     403, "Signature not yet current")
        with SkewedClock(-3):  # inside the 5-minute window
            c.list_dataset_groups()
        c.list_dataset_groups()

    # ---- refusals on the wire ----

    def test_unsigned_request(self):
        before = self.dataset_group_names()
        self.assert_raw_error(
            raw("POST", "/", b'{"name": "auth-never-2"}', control_headers("CreateDatasetGroup")),
            "MissingAuthenticationTokenException", 403, "Missing Authentication Token")
        self.assert_raw_error(raw("POST", "/recommendations", b'{"campaignArn": "x"}',
                                  {"Content-Type": "application/json"}),
                              "MissingAuthenticationTokenException", 403)
        self.assertEqual(self.dataset_group_names(), before)

    def test_malformed_authorization(self):
        hdrs = control_headers("ListDatasetGroups")
        hdrs["X-Amz-Date"] = datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
        for value, part in [
            ("Bearer abc", "AWS4-HMAC-SHA256"),
            ("AWS4-HMAC-SHA256 Credential=%s/20240101/us-east-1/personalize/aws4_request"
             % KEYS[0][0], "'SignedHeaders'"),
            ("AWS4-HMAC-SHA256 Credential=a, SignedHeaders=host, Signature=00", "Credential"),
        ]:
            h = dict(hdrs, Authorization=value)
            self.assert_raw_error(raw("POST", "/", b"{}", h), "IncompleteSignatureException", 400,
                                  part)

    def test_body_changed_after_signing(self):
        akid, secret = KEYS[0]
        req = AWSRequest(method="POST", url=ENDPOINT + "/", data=b'{"name": "auth-never-3"}',
                         headers=control_headers("CreateDatasetGroup"))
        SigV4Auth(Credentials(akid, secret), "personalize", REGION).add_auth(req)
        hdrs = {k: (v.decode() if isinstance(v, bytes) else v) for k, v in req.headers.items()}
        self.assert_raw_error(raw("POST", "/", b'{"name": "auth-never-4"}', hdrs),
                              "InvalidSignatureException", 403, "does not match")
        # The same headers with the body as signed are accepted.
        st, _, body = raw("POST", "/", b'{"name": "auth-never-3"}', hdrs)
        self.assertEqual(st, 200, body)
        self.assertNotIn("auth-never-4", self.dataset_group_names())

    def test_other_service_scope(self):
        akid, secret = KEYS[0]
        self.assert_raw_error(
            signed_raw("POST", "/", b"{}", control_headers("ListDatasetGroups"), akid, secret,
                       service="s3"),
            "InvalidSignatureException", 403, "scoped to correct service: 'personalize'")
        st, _, body = signed_raw("POST", "/", b"{}", control_headers("ListDatasetGroups"), akid,
                                 secret)
        self.assertEqual(st, 200, body)


if __name__ == "__main__":
    unittest.main(verbosity=2, warnings="ignore")
