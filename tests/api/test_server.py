"""test_server.py: `savor serve`'s HTTP front, with raw HTTP and the real boto3.

Run by tests/cli/t1000-serve.sh, which starts the server and sets:
  SAVOR_ENDPOINT    http://127.0.0.1:PORT of a running `savor serve`
  SAVOR_SERVER_LOG  its stderr (for the per-request log lines)
  SAVOR             the savor binary (tests that start a server of their own)
  SAVOR_IDLE_TIMEOUT  the --idle-timeout the server was started with (seconds)
  SAVOR_MAX_BODY    its --max-body-bytes
  SAVOR_REQUEST_TIMEOUT  its --request-timeout (seconds)

What it covers: /healthz and /metrics; unknown operations, wrong methods and
paths; malformed JSON, invalid UTF-8 and non-object bodies; oversized bodies
(declared and chunked); slow clients; the AWS error shapes as botocore reads
them (and the exception classes boto3 raises); request ids and log lines;
SIGTERM finishing a request in flight.
"""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

import boto3
import botocore.config
import botocore.exceptions
import botocore.parsers

ENDPOINT = os.environ.get("SAVOR_ENDPOINT", "http://127.0.0.1:8080")
SERVER_LOG = os.environ.get("SAVOR_SERVER_LOG")
SAVOR = os.environ.get("SAVOR")
IDLE_TIMEOUT = float(os.environ.get("SAVOR_IDLE_TIMEOUT", "30"))
MAX_BODY = int(os.environ.get("SAVOR_MAX_BODY", str(1 << 20)))
REQUEST_TIMEOUT = float(os.environ.get("SAVOR_REQUEST_TIMEOUT", "60"))

os.environ.setdefault("AWS_ACCESS_KEY_ID", "AKIDSAVORTEST")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "savor-test-secret")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")

HOST, PORT = urllib.parse.urlsplit(ENDPOINT).hostname, urllib.parse.urlsplit(ENDPOINT).port
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
CONTROL_CT = "application/x-amz-json-1.1"


def request(method, path, body=b"", headers=None, host=HOST, port=PORT, timeout=10):
    """One request on a fresh connection: (status, lowercased headers, body bytes)."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        conn.close()


def control(op, body, **kw):
    headers = {"X-Amz-Target": "AmazonPersonalize." + op, "Content-Type": CONTROL_CT}
    return request("POST", "/", body, headers, **kw)


def botocore_error(protocol, status, headers, body):
    """The error botocore makes of a response: (code, message)."""
    parser = botocore.parsers.create_parser(protocol)
    parsed = parser.parse({"status_code": status, "headers": headers, "body": body}, None)
    return parsed["Error"]["Code"], parsed["Error"]["Message"]


def client(service):
    cfg = botocore.config.Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=30)
    return boto3.client(service, endpoint_url=ENDPOINT, config=cfg)


def server_log():
    with open(SERVER_LOG, encoding="utf-8", errors="replace") as f:
        return f.read()


def parse_metrics(text):
    """Prometheus text format 0.0.4 into {series: value}; fails the test on a bad line."""
    series, types = {}, {}
    for line in text.splitlines():
        if not line:
            continue
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ")
            assert kind in ("counter", "gauge", "histogram"), line
            types[name] = kind
            continue
        if line.startswith("#"):
            continue
        m = re.match(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[a-zA-Z_]+="[^"]*"(,[a-zA-Z_]+="[^"]*")*\})? '
                     r'(-?[0-9.e+-]+|\+Inf)$', line)
        assert m, "bad metrics line: %r" % line
        name = m.group(1)
        base = re.sub(r"_(bucket|sum|count)$", "", name)
        assert name in types or base in types, "series %s without a TYPE line" % name
        series[name + (m.group(2) or "")] = float(m.group(4))
    return series, types


class Front(unittest.TestCase):
    """The server's own answers: health, metrics, routing, bodies, limits."""

    def test_healthz(self):
        st, h, body = request("GET", "/healthz")
        self.assertEqual(st, 200)
        self.assertEqual(json.loads(body), {"status": "ok"})
        self.assertRegex(h["x-amzn-requestid"], UUID_RE)
        st2, h2, _ = request("GET", "/healthz")
        self.assertNotEqual(h["x-amzn-requestid"], h2["x-amzn-requestid"])

    def test_metrics_format_and_counts(self):
        def count():
            st, h, body = request("GET", "/metrics")
            self.assertEqual(st, 200)
            self.assertTrue(h["content-type"].startswith("text/plain; version=0.0.4"))
            return parse_metrics(body.decode())

        before, _ = count()
        key = 'savor_requests_total{operation="healthz",status="200"}'
        for _ in range(3):
            request("GET", "/healthz")
        control("NoSuchOperation", b"{}")
        after, types = count()
        self.assertEqual(after[key] - before.get(key, 0), 3)
        unknown = 'savor_requests_total{operation="unknown",status="400"}'
        self.assertEqual(after[unknown] - before.get(unknown, 0), 1)
        self.assertEqual(types["savor_requests_total"], "counter")
        self.assertEqual(types["savor_request_duration_seconds"], "histogram")
        for name in ("savor_events_ingested_total", "savor_jobs_running", "savor_models_loaded"):
            self.assertIn(name, after)
        # Histogram buckets are cumulative and end at the count.
        lab = 'operation="healthz",status="200"'
        buckets = [(k, v) for k, v in after.items()
                   if k.startswith("savor_request_duration_seconds_bucket{" + lab)]
        self.assertGreater(len(buckets), 5)
        les = [(float(re.search(r'le="([^"]+)"', k).group(1).replace("+Inf", "inf")), v)
               for k, v in buckets]
        les.sort()
        vals = [v for _, v in les]
        self.assertEqual(vals, sorted(vals))
        self.assertEqual(vals[-1], after["savor_request_duration_seconds_count{%s}" % lab])
        self.assertGreaterEqual(vals[-1], 3)

    def test_unknown_operation(self):
        st, h, body = control("NoSuchOperation", b"{}")
        self.assertEqual(st, 400)
        self.assertEqual(h["x-amzn-errortype"], "UnknownOperationException")
        self.assertEqual(json.loads(body)["__type"], "UnknownOperationException")
        code, msg = botocore_error("json", st, h, body)
        self.assertEqual(code, "UnknownOperationException")
        self.assertIn("NoSuchOperation", msg)
        # A runtime operation is not a control-plane target, and the prefix matters.
        self.assertEqual(control("GetRecommendations", b"{}")[0], 400)
        st, h, _ = request("POST", "/", b"{}", {"X-Amz-Target": "AmazonS3.ListBuckets"})
        self.assertEqual((st, h["x-amzn-errortype"]), (400, "UnknownOperationException"))
        st, h, _ = request("POST", "/", b"{}")  # no X-Amz-Target at all
        self.assertEqual((st, h["x-amzn-errortype"]), (400, "UnknownOperationException"))

    def test_wrong_method_or_path(self):
        for method, path, want in [("GET", "/", 405), ("GET", "/recommendations", 405),
                                   ("PUT", "/events", 405), ("POST", "/healthz", 405),
                                   ("POST", "/nothing-here", 404), ("GET", "/../etc", 404)]:
            st, h, body = request(method, path, b"{}" if method != "GET" else b"")
            self.assertEqual(st, want, (method, path))
            self.assertEqual(h["x-amzn-errortype"], "UnknownOperationException", (method, path))
            self.assertEqual(json.loads(body)["__type"], "UnknownOperationException")
            self.assertRegex(h["x-amzn-requestid"], UUID_RE)

    def test_malformed_json(self):
        for path, headers, proto in [
                ("/", {"X-Amz-Target": "AmazonPersonalize.ListRecipes"}, "json"),
                ("/recommendations", {"Content-Type": "application/json"}, "rest-json")]:
            for body in [b"{", b'{"a": }', b"nul", b'{"a":1}{', b'{"a":1,"a":2}', b"[1,2]",
                         b'"text"', b"\x00{}"]:
                st, h, data = request("POST", path, body, headers)
                self.assertEqual(st, 400, (path, body))
                self.assertEqual(h["x-amzn-errortype"], "SerializationException", (path, body))
                self.assertEqual(botocore_error(proto, st, h, data)[0], "SerializationException")

    def test_invalid_utf8(self):
        for body in [b'{"userId": "\xff"}', b'{"userId": "\xc0\xaf"}', b'{"\xed\xa0\x80": 1}']:
            st, h, data = request("POST", "/recommendations", body)
            self.assertEqual((st, h["x-amzn-errortype"]), (400, "SerializationException"), body)
            json.loads(data.decode("utf-8"))  # the error itself is valid UTF-8 JSON

    def test_oversized_body(self):
        big = b'{"userId": "' + b"x" * (MAX_BODY + 10) + b'"}'
        st, h, data = request("POST", "/recommendations", big)
        self.assertEqual(st, 413)
        self.assertEqual(h["x-amzn-errortype"], "RequestEntityTooLargeException")
        self.assertEqual(botocore_error("rest-json", st, h, data)[0],
                         "RequestEntityTooLargeException")
        st, h, data = control("ListRecipes", big)
        self.assertEqual((st, json.loads(data)["__type"]), (413, "RequestEntityTooLargeException"))
        self.assertEqual(request("GET", "/healthz")[0], 200)

    def test_oversized_chunked_body(self):
        """Without a Content-Length the cap applies as the body arrives."""
        conn = http.client.HTTPConnection(HOST, PORT, timeout=10)
        chunk = b"x" * 65536
        n = MAX_BODY // len(chunk) + 2

        def gen():
            yield b'{"userId": "'
            for _ in range(n):
                yield chunk
            yield b'"}'
        conn.request("POST", "/recommendations", body=gen(), encode_chunked=True,
                     headers={"Transfer-Encoding": "chunked"})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        self.assertEqual(resp.status, 413)
        self.assertEqual(json.loads(data)["__type"], "RequestEntityTooLargeException")
        self.assertEqual(request("GET", "/healthz")[0], 200)

    def test_big_body_under_the_limit_is_read(self):
        """A body near the limit, arriving in many reads, still reaches JSON parsing whole."""
        body = b'{"pad": "' + b"y" * (MAX_BODY - 100) + b'"'  # unterminated: 400, not 413
        st, h, _ = request("POST", "/recommendations", body)
        self.assertEqual((st, h["x-amzn-errortype"]), (400, "SerializationException"))

    def test_slow_clients_do_not_block_others(self):
        """Clients that stall mid-headers or mid-body hold no thread: others are served."""
        stalled = []
        for i in range(8):
            s = socket.create_connection((HOST, PORT))
            if i % 2:
                s.sendall(b"POST /recommendations HTTP/1.1\r\nHost: x\r\nContent-Le")
            else:
                s.sendall(b"POST /recommendations HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Length: 50\r\n\r\n{\"us")
            stalled.append(s)
        try:
            t = time.monotonic()
            for _ in range(20):
                self.assertEqual(request("GET", "/healthz", timeout=5)[0], 200)
            self.assertLess(time.monotonic() - t, 5)
            # The stalled connections are closed once idle past --idle-timeout.
            deadline = time.monotonic() + IDLE_TIMEOUT + 5
            for s in stalled:
                s.settimeout(max(0.1, deadline - time.monotonic()))
                try:
                    data = s.recv(4096)
                except socket.timeout:
                    self.fail("a stalled connection was not closed after the idle timeout")
                except ConnectionResetError:
                    data = b""
                self.assertEqual(data, b"")
        finally:
            for s in stalled:
                s.close()
        self.assertEqual(request("GET", "/healthz")[0], 200)

    def test_trickling_body_is_cut_off(self):
        """A body dribbled in under the idle timeout still must arrive within --request-timeout."""
        s = socket.create_connection((HOST, PORT))
        s.sendall(b"POST /recommendations HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{")
        t0 = time.monotonic()
        closed = False
        while time.monotonic() - t0 < REQUEST_TIMEOUT + 10 and not closed:
            time.sleep(min(1.0, IDLE_TIMEOUT / 2))
            try:
                s.sendall(b" ")
            except OSError:
                closed = True
                break
            s.settimeout(0.01)
            try:
                closed = s.recv(4096) == b""
            except socket.timeout:
                pass
            except OSError:
                closed = True
        s.close()
        self.assertTrue(closed, "a trickling body was never cut off")
        self.assertGreaterEqual(time.monotonic() - t0, REQUEST_TIMEOUT - 0.5)
        self.assertEqual(request("GET", "/healthz")[0], 200)

    def test_header_too_large(self):
        st, _, _ = request("GET", "/healthz", headers={"X-Big": "z" * 100000})
        self.assertIn(st, (413, 431))
        self.assertEqual(request("GET", "/healthz")[0], 200)

    def test_keep_alive(self):
        conn = http.client.HTTPConnection(HOST, PORT, timeout=10)
        ids = set()
        for _ in range(5):
            conn.request("GET", "/healthz")
            r = conn.getresponse()
            r.read()
            self.assertEqual(r.status, 200)
            ids.add(r.getheader("x-amzn-RequestId"))
        conn.close()
        self.assertEqual(len(ids), 5)

    def test_log_line_per_request(self):
        st, h, _ = control("NoSuchOperation", b"{}")
        rid = h["x-amzn-requestid"]
        deadline = time.monotonic() + 5
        line = None
        while line is None and time.monotonic() < deadline:
            line = next((l for l in server_log().splitlines() if "req=" + rid in l), None)
            time.sleep(0.05)
        self.assertIsNotNone(line, "no log line for request " + rid)
        self.assertRegex(line, r"^\d{4}-\d\d-\d\dT[0-9:.]+Z info http req=%s op=unknown "
                               r"status=400 ms=[0-9.]+ error=UnknownOperationException$" % rid)


class Boto3Errors(unittest.TestCase):
    """Errors from real handlers come back as the exception classes boto3 defines."""

    @classmethod
    def setUpClass(cls):
        cls.p = client("personalize")
        cls.rt = client("personalize-runtime")
        cls.ev = client("personalize-events")

    def test_control_plane_not_found(self):
        arn = "arn:aws:personalize:us-east-1:000000000000:dataset-group/no-such-group"
        with self.assertRaises(self.p.exceptions.ResourceNotFoundException) as cm:
            self.p.describe_dataset_group(datasetGroupArn=arn)
        r = cm.exception.response
        self.assertEqual(r["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertRegex(r["ResponseMetadata"]["RequestId"], UUID_RE)

    def test_control_plane_invalid_input(self):
        with self.assertRaises(self.p.exceptions.InvalidInputException) as cm:
            self.p.create_dataset_group(name="not a valid name!")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    def test_control_plane_already_exists(self):
        name = "t-server-dup-%d" % os.getpid()
        self.p.create_dataset_group(name=name)
        with self.assertRaises(self.p.exceptions.ResourceAlreadyExistsException):
            self.p.create_dataset_group(name=name)

    def test_control_plane_in_use(self):
        name = "t-server-inuse-%d" % os.getpid()
        group = self.p.create_dataset_group(name=name)["datasetGroupArn"]
        schema = self.p.create_schema(name=name, schema=json.dumps({
            "type": "record", "name": "Interactions",
            "namespace": "com.amazonaws.personalize.schema", "version": "1.0",
            "fields": [{"name": "USER_ID", "type": "string"}, {"name": "ITEM_ID", "type": "string"},
                       {"name": "TIMESTAMP", "type": "long"}]}))["schemaArn"]
        self.p.create_dataset(name=name, datasetGroupArn=group, schemaArn=schema,
                              datasetType="Interactions")
        with self.assertRaises(self.p.exceptions.ResourceInUseException) as cm:
            self.p.delete_schema(schemaArn=schema)
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    def test_runtime_not_found_is_404(self):
        arn = "arn:aws:personalize:us-east-1:000000000000:campaign/no-such-campaign"
        with self.assertRaises(self.rt.exceptions.ResourceNotFoundException) as cm:
            self.rt.get_recommendations(campaignArn=arn, userId="u1")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)

    def test_runtime_invalid_input_is_400(self):
        arn = "arn:aws:personalize:us-east-1:000000000000:campaign/no-such-campaign"
        with self.assertRaises(self.rt.exceptions.InvalidInputException) as cm:
            self.rt.get_recommendations(campaignArn=arn, userId="u1", numResults=100000)
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    def test_events_invalid_input(self):
        with self.assertRaises(self.ev.exceptions.InvalidInputException) as cm:
            self.ev.put_events(trackingId="no-such-tracker", sessionId="s1",
                               eventList=[{"eventType": "click", "sentAt": 1700000000,
                                           "itemId": "x" * 300}])
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)

    def test_events_items_not_found(self):
        arn = "arn:aws:personalize:us-east-1:000000000000:dataset/no-such-group/ITEMS"
        with self.assertRaises((self.ev.exceptions.ResourceNotFoundException)) as cm:
            self.ev.put_items(datasetArn=arn, items=[{"itemId": "i1"}])
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)


def start_server(data_dir, *args, env=None):
    """Start `savor serve` on a free port: (process, port)."""
    proc = subprocess.Popen([SAVOR, "serve", "--listen", "127.0.0.1:0", "--data-dir", data_dir]
                            + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    line = proc.stdout.readline().decode()
    m = re.search(r"serving on http://127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        raise AssertionError("server did not start: %r %r" % (line, proc.stderr.read()))
    return proc, int(m.group(1))


def stop_server(proc):
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    proc.stdout.close()
    proc.stderr.close()


@unittest.skipUnless(SAVOR, "SAVOR (the binary) not set")
class Signed(unittest.TestCase):
    """With access keys configured, every operation needs a valid SigV4 signature."""

    KEY, SECRET = "AKIDSAVORSIGNED", "signed-secret-for-tests"

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        env = dict(os.environ, SAVOR_ACCESS_KEY_ID=cls.KEY, SAVOR_SECRET_ACCESS_KEY=cls.SECRET)
        cls.proc, cls.port = start_server(os.path.join(cls.tmp.name, "data"), env=env)
        cls.url = "http://127.0.0.1:%d" % cls.port

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGTERM)
        cls.proc.wait(timeout=20)
        stop_server(cls.proc)
        cls.tmp.cleanup()

    def client(self, service, key, secret):
        cfg = botocore.config.Config(retries={"max_attempts": 1})
        return boto3.client(service, endpoint_url=self.url, config=cfg, aws_access_key_id=key,
                            aws_secret_access_key=secret, region_name="eu-west-1")

    def test_right_key(self):
        got = self.client("personalize", self.KEY, self.SECRET).list_recipes()
        self.assertTrue(got["recipes"])

    def test_wrong_secret(self):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.client("personalize", self.KEY, "not-the-secret").list_recipes()
        err = cm.exception.response
        self.assertEqual(err["Error"]["Code"], "InvalidSignatureException")
        self.assertEqual(err["ResponseMetadata"]["HTTPStatusCode"], 403)

    def test_unknown_key(self):
        with self.assertRaises(botocore.exceptions.ClientError) as cm:
            self.client("personalize-runtime", "AKIDNOBODY", self.SECRET).get_recommendations(
                campaignArn="arn:aws:personalize:us-east-1:000000000000:campaign/x", userId="u")
        self.assertEqual(cm.exception.response["Error"]["Code"], "UnrecognizedClientException")

    def test_unsigned(self):
        st, h, body = control("ListRecipes", b"{}", port=self.port)
        self.assertEqual((st, h["x-amzn-errortype"]), (403, "MissingAuthenticationTokenException"))
        self.assertEqual(botocore_error("json", st, h, body)[0],
                         "MissingAuthenticationTokenException")

    def test_health_and_metrics_need_no_signature(self):
        self.assertEqual(request("GET", "/healthz", port=self.port)[0], 200)
        self.assertEqual(request("GET", "/metrics", port=self.port)[0], 200)


@unittest.skipUnless(SAVOR, "SAVOR (the binary) not set")
class Shutdown(unittest.TestCase):
    """SIGTERM: stop accepting, finish the request in flight, exit 0."""

    def start(self, data_dir):
        return start_server(data_dir, "--shutdown-grace", "20")

    def test_sigterm_finishes_request_in_flight(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc, port = self.start(os.path.join(tmp, "data"))
            try:
                body = b'{"maxResults": 5}'
                s = socket.create_connection(("127.0.0.1", port))
                s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AmazonPersonalize."
                          b"ListRecipes\r\nContent-Type: " + CONTROL_CT.encode() +
                          b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body[:5])
                time.sleep(0.3)  # the headers are in: the request is in flight
                proc.send_signal(signal.SIGTERM)
                # New connections are refused once the listening socket is closed.
                deadline = time.monotonic() + 10
                refused = False
                while time.monotonic() < deadline and not refused:
                    try:
                        socket.create_connection(("127.0.0.1", port), timeout=1).close()
                        time.sleep(0.05)
                    except OSError:
                        refused = True
                self.assertTrue(refused, "still accepting connections after SIGTERM")
                self.assertIsNone(proc.poll(), "exited with a request in flight")
                s.sendall(body[5:])
                s.settimeout(10)
                data = b""
                while True:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                s.close()
                head, _, payload = data.partition(b"\r\n\r\n")
                self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
                self.assertIn(b"connection: close", head.lower())
                self.assertIn("recipes", json.loads(payload))
                self.assertEqual(proc.wait(timeout=20), 0)
                err = proc.stderr.read().decode()
                self.assertIn("SIGTERM: stopping", err)
                self.assertIn("stopped", err)
            finally:
                stop_server(proc)

    def test_sigint_with_nothing_in_flight(self):
        with tempfile.TemporaryDirectory() as tmp:
            proc, port = self.start(os.path.join(tmp, "data"))
            try:
                self.assertEqual(request("GET", "/healthz", port=port)[0], 200)
                proc.send_signal(signal.SIGINT)
                self.assertEqual(proc.wait(timeout=20), 0)
            finally:
                stop_server(proc)


if __name__ == "__main__":
    unittest.main(verbosity=2)
