#!/bin/sh
# Soak test (not part of the test suite): a release build of offstatd under
# mixed load with malformed requests interleaved, for a given time. Reports
# requests served, statuses by kind of request (errors included), crashes
# (the daemon must be alive at every check and exit cleanly), resident
# memory (at rest at start, each minute and at the end; under load every
# second), and what the daemon logged; then a summary. docs/TESTING.md says how to read it.
#
# usage: scripts/soak.sh [MINUTES]      (default 10, at least 2)
# environment:
#   BUILD_SOAK    release build folder (default: build-soak in the tree)
#   SOAK_THREADS  concurrent clients (default 8)
#   SOAK_MALLOC   "steady" (default) or "plain": see below
#   CC            C compiler for the load driver (default: cc)
#
# Some requests are 1 MiB, and decoding one may take 16 MiB in many small
# blocks; glibc keeps such memory cached per thread arena and hands it back
# to the system when it pleases, so the daemon's VmRSS swings by tens of MiB
# from one second to the next whatever it holds. With SOAK_MALLOC=steady
# the daemon runs with two arenas and fixed mmap and trim thresholds of
# 128 KiB, so that VmRSS follows what it holds and a leak shows.
#
# VmRSS under load says little about leaks: 8 clients may each have a
# 1 MiB request and a 16 MiB decode in flight. So once a minute the load
# driver is stopped for 3 s and VmRSS is read at rest.
#
# Exits 0 when the daemon never died, exited cleanly, every request got the
# reply its kind expects, and VmRSS at rest grew under 5% from the first
# minutes after warm-up (a tenth of the run, at least 30 s) to the last
# ones (the lowest of three samples each); 1 otherwise; 2 on a usage or
# build error.
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
MINUTES=${1:-10}
case $MINUTES in
'' | *[!0-9]* | 0 | 1)
	echo "usage: $0 [MINUTES] (2 or more)" >&2
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
case ${SOAK_MALLOC:-steady} in
steady)
	MALLOC_SETTINGS="MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072"
	MALLOC_SETTINGS="$MALLOC_SETTINGS MALLOC_TRIM_THRESHOLD_=131072"
	;;
plain) MALLOC_SETTINGS="" ;;
*)
	echo "$0: SOAK_MALLOC is steady or plain" >&2
	exit 2
	;;
esac
# shellcheck disable=SC2086
env $MALLOC_SETTINGS "$BUILD/service/offstatd" --listen "$URL" \
    --db "$WORK/offstat.db" --tokens "$WORK/tokens" --log-level warn \
    2>"$WORK/offstatd.log" &
PID=$!
CLIENT=""
cleanup() {
	kill "$PID" 2>/dev/null || true
	# The load driver may be stopped: wake it so that it can die.
	if [ -n "$CLIENT" ]; then
		kill "$CLIENT" 2>/dev/null || true
		kill -CONT "$CLIENT" 2>/dev/null || true
	fi
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
echo "allocator: ${MALLOC_SETTINGS:-glibc defaults}"

"$BUILD/soak_client" "$URL" "$SECS" "$THREADS" >"$WORK/client.out" 2>&1 &
CLIENT=$!

# Alive at every second. Memory: VmRSS under load every second, and at
# rest once a minute: the load driver is stopped (SIGSTOP) for a few
# seconds, so that the requests in flight finish and what the daemon still
# holds is what it keeps. A leak shows as a rising line of those.
echo "VmRSS kB each minute: under load (min / median / max of the" \
    "samples), then at rest"
crashes=0
T0=$(date +%s)
t=0
next=60
RSS_MAX=0
: >"$WORK/rss"
: >"$WORK/rest"
while kill -0 "$CLIENT" 2>/dev/null; do
	sleep 1
	t=$(($(date +%s) - T0))
	if ! kill -0 "$PID" 2>/dev/null; then
		crashes=1
		echo "offstatd died after ${t}s" >&2
		break
	fi
	r=$(rss)
	[ -n "$r" ] || continue
	echo "$t $r" >>"$WORK/rss"
	[ "$r" -gt "$RSS_MAX" ] && RSS_MAX=$r
	if [ "$t" -ge "$next" ] && [ "$t" -le $((SECS - 10)) ]; then
		kill -STOP "$CLIENT"
		sleep 3
		rest=$(rss)
		kill -CONT "$CLIENT"
		[ -n "$rest" ] && echo "$t $rest" >>"$WORK/rest"
		awk -v a=$((next - 60)) '$1 > a { print $2 }' "$WORK/rss" |
		    sort -n | awk -v t="$t" -v r="$rest" '{ v[NR] = $1 } END {
			printf "  %4ds: %d / %d / %d, at rest %d\n", t, v[1],
			    v[int((NR + 1) / 2)], v[NR], r }'
		next=$((next + 60))
	fi
done
client_rc=0
wait "$CLIENT" || client_rc=$?
# After the load, with its connections closed.
sleep 3
RSS_END=$(rss || true)
# Growth at rest: the lowest of the first three samples after warm-up
# against the lowest of the last three. A client stopped half way through
# sending a 1 MiB request leaves its buffer in one sample; a leak raises
# them all.
GROWTH=$(awk -v w="$WARM" '$1 >= w { t[++n] = $1; v[n] = $2 } END {
	if (n == 0) exit
	k = n < 3 ? n : 3
	a = v[1]; b = v[n]
	for (i = 1; i <= k; i++) {
		if (v[i] < a) a = v[i]
		if (v[n + 1 - i] < b) b = v[n + 1 - i]
	}
	printf "%d %d %d %d %d %d\n", a, t[1], t[k], b, t[n + 1 - k], t[n]
}' "$WORK/rest")
echo
echo "== requests, by kind (statuses: what came back; wrong: not the" \
    "status the kind expects; none: no reply) =="
cat "$WORK/client.out"

status=0
exit_rc=-
if [ "$crashes" -eq 0 ]; then
	kill -TERM "$PID"
	exit_rc=0
	wait "$PID" || exit_rc=$?
	[ "$exit_rc" -ne 0 ] && status=1
	# A death by signal while stopping is a crash too.
	[ "$exit_rc" -gt 128 ] && crashes=1
else
	status=1
fi
[ "$client_rc" -ne 0 ] && status=1

log=$WORK/offstatd.log
served=$(sed -nE 's/^requests sent [0-9]+, answered ([0-9]+).*/\1/p' \
    "$WORK/client.out")
rate=$(sed -nE 's/^requests sent .*\(([0-9]+)\/s\).*/\1/p' "$WORK/client.out")
errors=$(sed -nE 's/^statuses: *//p' "$WORK/client.out" |
    tr ' ' '\n' | grep -v '^OK=' | grep . | tr '\n' ' ' || true)
problems=$(sed -nE 's/^(wrong status .*)/\1/p' "$WORK/client.out")
refused=$(grep -c 'msg="authentication failed"' "$log" || true)
suppressed=$(sed -nE 's/.*msg="authentication failures not logged" suppressed=([0-9]+).*/\1/p' \
    "$log" | awk '{ n += $1 } END { print n + 0 }')

echo
echo "== summary =="
echo "duration: ${MINUTES} min, $THREADS clients"
echo "requests served: ${served:-?} (${rate:-?}/s)"
echo "errors by status: ${errors:-none}"
echo "client checks: ${problems:-?}"
echo "crashes: $crashes (offstatd exit status after SIGTERM: $exit_rc)"
if [ -n "$RSS_END" ] && [ -n "$GROWTH" ]; then
	# shellcheck disable=SC2086
	set -- $GROWTH
	awk -v s="$RSS_START" -v e="$RSS_END" -v p="$RSS_MAX" -v a="$1" \
	    -v a1="$2" -v a2="$3" -v b="$4" -v b1="$5" -v b2="$6" 'BEGIN {
		printf "VmRSS kB at rest: start %d, end %d (%+.1f%%, after " \
		    "the load, its connections closed); peak under load " \
		    "%d\n", s, e, 100 * (e - s) / s, p
		printf "VmRSS growth after warm-up, at rest: %d kB (%ds-%ds)" \
		    " to %d kB (%ds-%ds): %+.1f%% (limit +5%%)\n", a, a1,
		    a2, b, b1, b2, 100 * (b - a) / a
		exit (100 * (b - a) / a >= 5)
	}' || { status=1; echo "memory grew 5% or more after warm-up"; }
else
	status=1
	echo "VmRSS kB: start $RSS_START, end ${RSS_END:-?} (offstatd gone" \
	    "or too few samples)"
fi
echo "offstatd log: $(wc -l <"$log") lines," \
    "$(grep -c 'level=error' "$log" || true) errors;" \
    "refused tokens: $refused logged, $suppressed left out by the rate limit"
if [ "$status" -eq 0 ]; then
	echo "result: PASS"
else
	echo "result: FAIL"
	echo "last lines of the offstatd log:"
	tail -n 20 "$log"
fi
exit "$status"
