#!/bin/sh
# Soak test (not part of the test suite): a release build of offstatd under
# mixed load with malformed requests interleaved, for a given time. Reports
# requests served, statuses by kind of request, crashes (the daemon must be
# alive at every check and exit cleanly) and resident memory at start,
# after warm-up and at the end.
#
# usage: scripts/soak.sh [MINUTES]      (default 10)
# environment:
#   BUILD_SOAK    release build folder (default: build-soak in the tree)
#   SOAK_THREADS  concurrent clients (default 8)
#   CC            C compiler for the load driver (default: cc)
#
# Exits 0 when the daemon never died, exited cleanly, every request got the
# reply its kind expects, and memory grew under 5% from the end of warm-up
# (a tenth of the run, at least 30 s) to the end; 1 otherwise; 2 on a usage
# or build error.
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
MINUTES=${1:-10}
case $MINUTES in
'' | *[!0-9]*)
	echo "usage: $0 [MINUTES]" >&2
	exit 2
	;;
esac
BUILD=${BUILD_SOAK:-$SRC/build-soak}
THREADS=${SOAK_THREADS:-8}
CC=${CC:-cc}
SECS=$((MINUTES * 60))
WARM=$((SECS / 10))
[ "$WARM" -lt 30 ] && WARM=30
[ "$WARM" -ge "$SECS" ] && WARM=$((SECS / 2))

if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release \
	    -DOFFSTAT_TESTS=OFF >/dev/null ||
	    { echo "$0: configure failed" >&2; exit 2; }
fi
cmake --build "$BUILD" --target offstatd -j "$(nproc)" >/dev/null ||
	{ echo "$0: build failed" >&2; exit 2; }
# The load driver speaks the wire directly, built against this tree's
# generated protobuf-c code.
"$CC" -std=c11 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra \
    -I "$BUILD/proto/gen" "$SRC/tests/fuzz/soak_client.c" \
    "$BUILD/proto/liboffstat_proto.a" -lprotobuf-c -lnng -lpthread \
    -o "$BUILD/soak_client" ||
	{ echo "$0: building the load driver failed" >&2; exit 2; }

WORK=$(mktemp -d /tmp/offstat-soak-XXXXXX)
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=tcp://127.0.0.1:$PORT
"$BUILD/service/offstatd" --listen "$URL" --db "$WORK/offstat.db" \
    --tokens "$WORK/tokens" --log-level warn 2>"$WORK/offstatd.log" &
PID=$!
cleanup() {
	kill "$PID" 2>/dev/null || true
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

rss() { sed -n 's/^VmRSS:[[:space:]]*\([0-9]*\) kB/\1/p' "/proc/$PID/status"; }

# Ready when it answers; the driver's one-second run says so.
i=0
until "$BUILD/soak_client" "$URL" 1 1 >/dev/null 2>&1; do
	i=$((i + 1))
	if [ "$i" -ge 30 ] || ! kill -0 "$PID" 2>/dev/null; then
		echo "$0: offstatd did not start" >&2
		cat "$WORK/offstatd.log" >&2
		exit 1
	fi
	sleep 1
done
RSS_START=$(rss)
echo "offstatd pid $PID on $URL, $THREADS clients for ${MINUTES} min;" \
    "VmRSS at start ${RSS_START} kB"

"$BUILD/soak_client" "$URL" "$SECS" "$THREADS" >"$WORK/client.out" 2>&1 &
CLIENT=$!

# Alive at every second; memory every ten.
crashes=0
t=0
RSS_WARM=""
RSS_MAX=0
while kill -0 "$CLIENT" 2>/dev/null; do
	sleep 1
	t=$((t + 1))
	if ! kill -0 "$PID" 2>/dev/null; then
		crashes=1
		echo "offstatd died after ${t}s" >&2
		break
	fi
	r=$(rss)
	[ -n "$r" ] && [ "$r" -gt "$RSS_MAX" ] && RSS_MAX=$r
	if [ "$t" -eq "$WARM" ]; then
		RSS_WARM=$r
	fi
	if [ $((t % 60)) -eq 0 ]; then
		echo "  ${t}s: VmRSS ${r} kB"
	fi
done
client_rc=0
wait "$CLIENT" || client_rc=$?
RSS_END=$(rss || true)
[ -z "$RSS_WARM" ] && RSS_WARM=$RSS_START
cat "$WORK/client.out"

status=0
if [ "$crashes" -eq 0 ]; then
	kill -TERM "$PID"
	exit_rc=0
	wait "$PID" || exit_rc=$?
	echo "offstatd exit status after SIGTERM: $exit_rc"
	[ "$exit_rc" -ne 0 ] && status=1
else
	status=1
fi
echo "crashes: $crashes"
echo "VmRSS kB: start $RSS_START, after ${WARM}s warm-up $RSS_WARM," \
    "end ${RSS_END:-?}, peak $RSS_MAX"
if [ -n "$RSS_END" ]; then
	awk -v s="$RSS_START" -v w="$RSS_WARM" -v e="$RSS_END" 'BEGIN {
		printf "growth: %.1f%% from start, %.1f%% from warm-up\n",
		    100 * (e - s) / s, 100 * (e - w) / w
		exit (100 * (e - w) / w >= 5)
	}' || status=1
fi
echo "offstatd log: $(wc -l <"$WORK/offstatd.log") lines" \
    "($(grep -c 'level=error' "$WORK/offstatd.log" || true) errors)"
[ "$client_rc" -ne 0 ] && status=1
exit "$status"
