#!/bin/sh
# t0300-import-atomic-kill: an import killed with SIGKILL at any point leaves
# the store as it was before that import (or, if the kill comes after the
# commit, as after it; never anything in between), the store opens and
# describes fine afterwards, and the next import works.
. "$(dirname "$0")/lib.sh"

DATA=$ROOT/tests/data
PY=/usr/bin/python3
N=3000000 # rows in the big file: an import of it takes about a second or more

# The big file: a 100k-row block repeated 30 times.
awk 'BEGIN { for (i = 0; i < 100000; i++)
                 printf "u%d,i%d,%d,%s\n", i % 20011, i % 5003, 1600000000 + i, (i % 7 ? "view" : "like") }' \
    >"$TMP/block.csv"
{
    echo "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE"
    i=0
    while [ $i -lt 30 ]; do
        cat "$TMP/block.csv"
        i=$((i + 1))
    done
} >"$TMP/big.csv"
rm -f "$TMP/block.csv"
check_eq "the big file has $N rows" $((N + 1)) "$(wc -l <"$TMP/big.csv" | tr -d ' ')"

D=$(new_data_dir)
check "first small import" "$SAVOR" import --data-dir "$D" -g shop -t interactions \
    "$DATA/interactions.csv"

# pct: the last percentage the background import's progress line showed.
pct() {
    tr '\r' '\n' <"$TMP/bg.err" | sed -n 's/^import \[.*\] *\([0-9][0-9]*\)%.*/\1/p' | tail -n 1
}

# post_state: "post" if the store holds exactly the big import (its commit
# went through before the kill), else a description of what it holds.
post_state() {
    "$SAVOR" describe --data-dir "$D" -g shop | "$PY" -c '
import json, sys
n = int(sys.argv[1])
d = json.load(sys.stdin)["datasetGroups"][0]["datasets"][0]
last = d["importJobs"][-1]
ok = (d["statistics"]["interactions"] == n and last["status"] == "ACTIVE"
      and last["rowsImported"] == n)
print("post" if ok else "interactions=%s last job=%s/%s" % (d["statistics"]["interactions"],
      last["status"], last["rowsImported"]))' "$N"
}

# kill_round LABEL WHEN ARG [DELAY]: start the big FULL import in the
# background and kill it with SIGKILL when WHEN is reached (time: after ARG
# seconds; pct: once the progress line shows ARG%, then DELAY seconds more),
# then check the store.
kill_round() {
    label=$1
    when=$2
    arg=$3
    delay=${4:-0}
    before=$(store_fingerprint "$D")
    "$SAVOR" import --data-dir "$D" -g shop -t interactions --progress "$TMP/big.csv" \
        >"$TMP/bg.out" 2>"$TMP/bg.err" &
    pid=$!
    if [ "$when" = time ]; then
        sleep "$arg"
    else
        tries=0
        p=0
        while kill -0 "$pid" 2>/dev/null && [ "$p" -lt "$arg" ] && [ $tries -lt 1500 ]; do
            sleep 0.02
            p=$(pct)
            p=${p:-0}
            tries=$((tries + 1))
        done
        sleep "$delay"
    fi
    at=$(pct)
    kill -9 "$pid" 2>/dev/null
    { wait "$pid"; } 2>/dev/null # (no "Killed" notice from the shell)
    rc=$?
    if [ "${at:-0}" -lt 100 ]; then
        check_eq "$label: the import was killed mid-way (progress ${at:-none}%)" 137 "$rc"
    else
        # After the last row the import may finish before the kill lands: 137 or 0.
        case "$rc" in
        137 | 0) _ok "$label: killed in the commit phase or finished first (exit $rc)" ;;
        *) _not_ok "$label: killed in the commit phase or finished first" "exit $rc" ;;
        esac
    fi

    check "$label: describe works after kill -9" "$SAVOR" describe --data-dir "$D"
    after=$(store_fingerprint "$D")
    if [ "${at:-0}" -lt 100 ]; then
        # Killed while reading rows: nothing can have been committed.
        check_eq "$label: store exactly as before the import" "$before" "$after"
    elif [ "$before" = "$after" ]; then
        _ok "$label: store exactly as before the import (killed before the commit)"
    else
        # Killed after the last row: all or nothing.
        check_eq "$label: store as before or with the whole import (killed after the commit)" \
            post "$(post_state)"
    fi
    check_eq "$label: SQLite integrity check" ok \
        "$("$PY" -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("pragma integrity_check").fetchone()[0])' "$D/savor.db")"
    check "$label: the next import succeeds" "$SAVOR" import --data-dir "$D" -g shop -t interactions \
        -m INCREMENTAL "$DATA/interactions-more.csv"
    check_contains "$label: the next import imported its rows" "imported 3 rows" "$TMP/out"
}

kill_round "kill after 0.3s" time 0.3
kill_round "kill at 40%" pct 40
kill_round "kill at 100% (commit phase)" pct 100
kill_round "kill at 100% + 0.2s (commit phase)" pct 100 0.2

check_eq "nothing of the killed imports counted: 12 + 4 x 3 rows (or the big file's + 3 x k)" ok \
    "$("$SAVOR" describe --data-dir "$D" -g shop | "$PY" -c '
import json, sys
d = json.load(sys.stdin)["datasetGroups"][0]["datasets"][0]
n = d["statistics"]["interactions"]
print("ok" if n == 12 + 4 * 3 or (n - int(sys.argv[1])) in (3, 6, 9) else n)' "$N")"

# Not killed, the big import completes.
check "the big import, not killed, completes" "$SAVOR" import --data-dir "$D" -g shop -t interactions \
    "$TMP/big.csv"
check_contains "... with all its rows" "dataset now:  $N interactions" "$TMP/out"

finish
