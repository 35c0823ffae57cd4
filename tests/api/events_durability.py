"""events_durability.py: acknowledged PutEvents survive `kill -9` of the server.

Run by tests/cli/t1200-events-durability.sh in two phases:

  load PID OUT    build a campaign and tracker (runtime_fixture.py), then 16
                  threads send PutEvents (a fresh userId per call, two events
                  each) while the main thread kills the server (SIGKILL, PID)
                  after about a second. Every call that got its 200 is written
                  to OUT as JSON, with the fixture's ARNs.
  verify OUT DB   after a restart on the same data directory: every
                  acknowledged user's events are in the store (SQLite DB,
                  opened read-only: at least 2 rows per acknowledged call) and
                  in their next recommendations (scored, not popularity).
"""

import json
import os
import signal
import sqlite3
import sys
import threading
import time

import runtime_fixture as fx


def load(pid, out):
    arns = fx.build("dur")
    ev = fx.client("personalize-events")
    acked, lock, stop = [], threading.Lock(), threading.Event()

    def send(t):
        n = 0
        while not stop.is_set():
            user = "d-%d-%d" % (t, n)
            n += 1
            try:
                ev.put_events(trackingId=arns["tracking_id"], sessionId="s-" + user, userId=user,
                              eventList=[{"eventType": "click", "itemId": "i30", "sentAt": fx.T0},
                                         {"eventType": "click", "itemId": "i31",
                                          "sentAt": fx.T0 + 1}])
            except Exception:  # noqa: BLE001 - the server is gone: not acknowledged
                return
            with lock:
                acked.append(user)
    threads = [threading.Thread(target=send, args=(t,)) for t in range(16)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    os.kill(pid, signal.SIGKILL)
    stop.set()
    for t in threads:
        t.join()
    with open(out, "w") as f:
        json.dump({"arns": arns, "acked": acked}, f)
    print("# %d PutEvents calls acknowledged before kill -9" % len(acked))
    if not acked:
        sys.exit("no PutEvents call was acknowledged before the kill")


def verify(out, db):
    with open(out) as f:
        data = json.load(f)
    acked, arns = data["acked"], data["arns"]
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    rows = con.execute("SELECT coalesce(sum(nrows), 0) FROM interaction_chunks"
                       " WHERE origin = 1").fetchone()[0]
    con.close()
    if rows < 2 * len(acked):
        sys.exit("only %d event rows stored for %d acknowledged calls" % (rows, len(acked)))
    rt = fx.client("personalize-runtime")
    lost = []
    for user in acked:
        r = rt.get_recommendations(campaignArn=arns["campaign"], userId=user, numResults=5)
        if not r["itemList"] or any(x.get("score", 0) == 0 for x in r["itemList"]):
            lost.append(user)
    if lost:
        sys.exit("%d acknowledged users have no events after the restart: %s" %
                 (len(lost), lost[:10]))
    print("# all %d acknowledged calls are stored (%d event rows) and served" %
          (len(acked), rows))


if __name__ == "__main__":
    if sys.argv[1] == "load":
        load(int(sys.argv[2]), sys.argv[3])
    else:
        verify(sys.argv[2], sys.argv[3])
