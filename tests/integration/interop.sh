#!/bin/sh
# The .proto files are the whole contract: Google's protoc and nngcat,
# with no offstat code, get answers and statuses from a real offstatd.
set -eu
OFFSTATD=$1
CALL=$2
dir=$(mktemp -d /tmp/offstat-interop-XXXXXX)
url="ipc://$dir/s.ipc"
"$OFFSTATD" --listen "$url" --db :memory: --log-level warn &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; rm -rf "$dir"; }
trap cleanup EXIT

# Wait until it answers.
i=0
until "$CALL" "$url" ServerInfo '' >/dev/null 2>&1; do
	i=$((i + 1))
	[ $i -lt 100 ] || { echo "offstatd did not answer"; exit 1; }
	sleep 0.1
done

fail() { echo "FAIL: $*"; exit 1; }

out=$("$CALL" "$url" GetCount 'area: "dorset" offence: "S15A" period { text: "2020/21" }')
echo "$out" | grep -q '^  count: 62$' || fail "GetCount: $out"
echo "$out" | grep -q 'source_id: "echo-2021"' || fail "GetCount source: $out"

out=$("$CALL" "$url" CompareTrend 'area: "E23000039" offence: "s15a" base_period { year: 2017 } end_period { year: 2020 }')
echo "$out" | grep -q 'percent_change: 67.56756756756' || fail "CompareTrend: $out"
echo "$out" | grep -q 'percent: 28.6' || fail "CompareTrend published change: $out"

# Errors come back as statuses, and the call exits 1.
if out=$("$CALL" "$url" GetCount 'area: "narnia" offence: "88A" period { text: "2024/25" }'); then
	fail "unknown area answered OK: $out"
fi
echo "$out" | grep -q 'code: NOT_FOUND' || fail "unknown area: $out"
if out=$("$CALL" "$url" Ingest 'open_label: "x"'); then
	fail "Ingest answered OK"
fi
echo "$out" | grep -q 'code: UNAUTHENTICATED' || fail "Ingest: $out"
out=$("$CALL" "$url" RankAreas 'offence: "88A" within: "south west" period { text: "2024/25" }')
echo "$out" | grep -q 'caution:' || fail "RankAreas: $out"

kill -TERM "$pid"
wait "$pid" || fail "offstatd exited $?"
echo "interop: ok"
