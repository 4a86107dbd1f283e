#!/bin/sh
# Metrics and health over HTTP: /healthz, /readyz, 404, 405, 413, and
# /metrics scraped from a running offstatd after real calls, with counters
# that moved and output that Prometheus's own promtool accepts.
set -u
OFFSTATD=$1
CALL=$2
dir=$(mktemp -d /tmp/offstat-metrics-XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

# Not a skip: without promtool the output is not validated.
command -v promtool >/dev/null 2>&1 ||
	fail "promtool not found (Debian package prometheus)"

# get METHOD PATH [BODY] -> the status on stdout, the body in $dir/body
get() {
	python3 - "$port" "$@" >"$dir/status" <<'PY' || return 1
import os, sys, urllib.request, urllib.error
port, method, path = sys.argv[1], sys.argv[2], sys.argv[3]
data = sys.argv[4].encode() if len(sys.argv) > 4 else None
req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data,
                             method=method)
try:
    with urllib.request.urlopen(req, timeout=10) as r:
        status, body = r.status, r.read()
        ctype = r.headers.get("Content-Type", "")
except urllib.error.HTTPError as e:
    status, body, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
print(status)
sys.stderr.write(ctype + "\n")
with open(os.environ["BODY"], "wb") as f:
    f.write(body)
PY
	cat "$dir/status"
}
export BODY="$dir/body"
# value NAME_WITH_LABELS -> the sample's value, 0 when absent
value() {
	awk -v k="$1" '$1 == k { print $2; f = 1 } END { if (!f) print 0 }' \
	    "$dir/metrics"
}
scrape() {
	[ "$(get GET /metrics 2>"$dir/ctype")" = 200 ] || fail "/metrics status"
	cp "$dir/body" "$dir/metrics"
}

writer=$("$OFFSTATD" token add --role writer -D "$dir") || fail "token add"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$OFFSTATD" -D "$dir" --db :memory: --listen "ipc://$dir/s.ipc" \
    --http "127.0.0.1:$port" -L info 2>"$dir/log" &
pid=$!
i=0
until [ "$(get GET /readyz 2>/dev/null)" = 200 ] || [ $i -ge 100 ]; do
	sleep 0.1
	i=$((i + 1))
done

[ "$(get GET /healthz 2>/dev/null)" = 200 ] || fail "/healthz"
[ "$(cat "$dir/body")" = ok ] || fail "/healthz body: $(cat "$dir/body")"
[ "$(get GET /readyz 2>/dev/null)" = 200 ] || fail "/readyz"
[ "$(get HEAD /healthz 2>/dev/null)" = 200 ] || fail "HEAD /healthz"
[ "$(get GET /nope 2>/dev/null)" = 404 ] || fail "unknown path not 404"
[ "$(get GET /metricsx 2>/dev/null)" = 404 ] || fail "/metricsx not 404"
[ "$(get POST /metrics x 2>/dev/null)" = 405 ] || fail "POST not 405"
[ "$(get DELETE /healthz 2>/dev/null)" = 405 ] || fail "DELETE not 405"
[ "$(get GET /metrics body 2>/dev/null)" = 413 ] || fail "a body not refused"

scrape
grep -q "version=0.0.4" "$dir/ctype" || fail "content type: $(cat "$dir/ctype")"
ok0=$(value 'offstat_requests_total{method="ServerInfo",code="OK"}')

for _ in 1 2 3 4 5; do
	"$CALL" "ipc://$dir/s.ipc" ServerInfo '' >/dev/null || fail "ServerInfo"
done
"$CALL" "ipc://$dir/s.ipc" GetCount \
    'area: "nowhere" offence: "S15A" period { text: "2020/21" }' >/dev/null &&
	fail "GetCount nowhere succeeded"
OFFSTAT_TOKEN=ost_00000000_bad "$CALL" "ipc://$dir/s.ipc" ServerInfo '' \
    >/dev/null && fail "bad token accepted"
out=$(OFFSTAT_TOKEN=$writer "$CALL" "ipc://$dir/s.ipc" Ingest \
    'open_label: "m" idempotency_key: "m1"') || fail "Ingest open: $out"
rel=$(echo "$out" | sed -n 's/^ *release: \([0-9]*\)$/\1/p' | head -1)
[ -n "$rel" ] || fail "no release in: $out"
OFFSTAT_TOKEN=$writer "$CALL" "ipc://$dir/s.ipc" Ingest \
    "abort_release: $rel idempotency_key: \"m2\"" >/dev/null || fail "abort"

scrape
promtool check metrics <"$dir/metrics" || fail "promtool check metrics"
ok1=$(value 'offstat_requests_total{method="ServerInfo",code="OK"}')
[ $((ok1 - ok0)) -eq 5 ] || fail "ServerInfo OK moved $ok0 -> $ok1"
[ "$(value 'offstat_requests_total{method="GetCount",code="NOT_FOUND"}')" = 1 ] ||
	fail "GetCount NOT_FOUND"
[ "$(value 'offstat_requests_total{method="ServerInfo",code="UNAUTHENTICATED"}')" = 1 ] ||
	fail "ServerInfo UNAUTHENTICATED"
[ "$(value 'offstat_requests_total{method="Ingest",code="OK"}')" = 2 ] ||
	fail "Ingest OK"
[ "$(value offstat_auth_failures_total)" = 1 ] || fail "auth failures"
[ "$(value offstat_ingest_aborts_total)" = 1 ] || fail "ingest aborts"
[ "$(value offstat_ingest_commits_total)" = 0 ] || fail "ingest commits"
[ "$(value 'offstat_request_duration_seconds_count{method="ServerInfo"}')" = 6 ] ||
	fail "ServerInfo histogram count"
[ "$(value 'offstat_request_duration_seconds_bucket{method="ServerInfo",le="+Inf"}')" = 6 ] ||
	fail "ServerInfo +Inf bucket"
[ "$(value offstat_snapshot_release)" -ge 1 ] || fail "snapshot release"
[ "$(value offstat_snapshot_counts)" -gt 0 ] || fail "snapshot counts"
[ "$(value offstat_ready)" = 1 ] || fail "offstat_ready"
# Nothing is being answered while the scrape is (it is not an NNG call).
[ "$(value offstat_requests_in_flight)" = 0 ] || fail "requests in flight"
# The listener checks ran (the service is up more than a check's interval
# by now in most runs) and found nothing to restart; they are not requests.
[ "$(value offstat_listener_restarts_total)" = 0 ] || fail "listener restarts"
[ "$(value process_resident_memory_bytes)" != 0 ] || fail "resident memory"
start=$(value process_start_time_seconds)
now=$(date +%s)
python3 -c "import sys; sys.exit(not ($now - 600 < $start <= $now + 1))" ||
	fail "process_start_time_seconds $start, now $now"
# Every metric family has HELP and TYPE.
for m in offstat_requests_total offstat_request_duration_seconds \
    offstat_snapshot_release offstat_snapshot_counts \
    offstat_ingest_batches_total offstat_ingest_rows_total \
    offstat_ingest_commits_total offstat_ingest_aborts_total \
    offstat_ingest_expired_total offstat_ingest_replays_total \
    offstat_ingest_rejected_total offstat_auth_failures_total \
    offstat_requests_in_flight offstat_listener_restarts_total \
    process_start_time_seconds; do
	grep -q "^# HELP $m " "$dir/metrics" || fail "no HELP for $m"
	grep -q "^# TYPE $m " "$dir/metrics" || fail "no TYPE for $m"
done

# An address asked for and taken is an error, exit 1.
"$OFFSTATD" --db :memory: --listen "ipc://$dir/t.ipc" \
    --http "127.0.0.1:$port" >"$dir/out2" 2>&1
[ $? -eq 1 ] || fail "a taken --http address did not exit 1"
grep -q "HTTP listener on 127.0.0.1:$port" "$dir/out2" || fail "$(cat "$dir/out2")"

kill -TERM "$pid"
wait "$pid" || fail "exit $?"
pid=

# --http off: no listener at all.
"$OFFSTATD" --db :memory: --listen "ipc://$dir/u.ipc" --http off 2>"$dir/log" &
pid=$!
i=0
until [ -S "$dir/u.ipc" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
get GET /healthz >/dev/null 2>&1 && fail "--http off still serves"
grep -q "http listening" "$dir/log" && fail "--http off logged a listener"
kill -TERM "$pid"
wait "$pid" || fail "exit $?"
pid=
echo "metrics: ok"
