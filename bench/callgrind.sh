#!/usr/bin/env bash
# bench/callgrind.sh: instructions per request of each method, counted by
# valgrind's callgrind, which background load does not disturb.
#
# Uses the tree that run.sh builds (build-bench; run `make bench` or
# run.sh once first), writes the full-size dataset to a temporary folder,
# imports it, and for each method starts offstatd under callgrind, sends a
# fixed number of that method's requests one at a time, and counts the
# instructions of the server's request callback (dispatch, handlers,
# statistics, packing; not NNG's I/O threads). Each method runs twice: N
# requests (every request new, the statistics tables cold), then 2N (the
# same requests again); the difference is the cost of a request seen
# before, which is what a long benchmark run mostly measures. With the
# reply cache on, a request seen before is answered from the bytes of its
# first answer: CG_REPLY_CACHE=0 counts what working it out costs.
#
# Settings (environment):
#   BENCH_BUILD   build tree (default build-bench)
#   CG_REQUESTS   N, requests per method (default 1000: each once)
#   CG_METHODS    methods (default "GetCount GetSeries CompareTrend")
#   CG_KEEP       1: keep the temporary folder (profiles included)
#   CG_REPLY_CACHE  offstatd's --reply-cache BYTES (default: its own;
#                 0: no reply cache)
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
build=${BENCH_BUILD:-$root/build-bench}
n=${CG_REQUESTS:-1000}
methods=${CG_METHODS:-"GetCount GetSeries CompareTrend"}

die() {
	echo "callgrind: $*" >&2
	exit 1
}
command -v valgrind >/dev/null ||
	die "valgrind is not installed (apt-get install valgrind)"
command -v callgrind_annotate >/dev/null || die "callgrind_annotate is missing"
offstatd=$build/service/offstatd
loadgen=$build/bench/loadgen
[ -x "$offstatd" ] && [ -x "$loadgen" ] ||
	die "no $offstatd or $loadgen: run bench/run.sh (make bench) first"
srv_opts=()
if "$offstatd" --help 2>&1 | grep -q -- '--http'; then
	srv_opts+=(--http off)
fi
if [ -n "${CG_REPLY_CACHE:-}" ]; then
	"$offstatd" --help 2>&1 | grep -q -- '--reply-cache' ||
		die "this offstatd has no --reply-cache"
	srv_opts+=(--reply-cache "$CG_REPLY_CACHE")
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/offstat-callgrind.XXXXXX")
pid=0
cleanup() {
	if [ "$pid" != 0 ]; then
		kill "$pid" 2>/dev/null || true
		wait "$pid" 2>/dev/null || true
	fi
	if [ "${CG_KEEP:-0}" = 1 ]; then
		echo "callgrind: kept $tmp" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

python3 "$here/gen_fullsize.py" "$tmp/full.csv" --requests "$tmp/requests.tsv" \
	--data "$root/data" >/dev/null
head -n 1 "$tmp/full.csv" >"$tmp/header.csv"
"$offstatd" import --db "$tmp/offstat.db" "$tmp/header.csv" >/dev/null 2>&1
"$offstatd" import --db "$tmp/offstat.db" "$tmp/full.csv" >/dev/null

# Instructions of the request callback for count requests of method m.
profile() { # method count
	local out=$tmp/cg.$1.$2.out url=ipc://$tmp/cg.sock total
	valgrind --tool=callgrind --callgrind-out-file="$out" \
		--toggle-collect=worker_cb "$offstatd" --db "$tmp/offstat.db" \
		-l "$url" -L warn "${srv_opts[@]}" 2>/dev/null &
	pid=$!
	"$loadgen" --wait 300 -u "$url" >/dev/null
	"$loadgen" -u "$url" -r "$tmp/requests.tsv" -m "$1" -c 1 -n "$2" \
		--no-check -t 60000 >/dev/null
	kill "$pid"
	wait "$pid" 2>/dev/null || true
	pid=0
	total=$(callgrind_annotate "$out" 2>/dev/null |
		awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
	echo "${total:-0}"
}

printf "%-13s %14s %14s   (instructions per request, callback only)\n" \
	method "first pass" "seen before"
for m in $methods; do
	a=$(profile "$m" "$n")
	b=$(profile "$m" $((2 * n)))
	printf "%-13s %14d %14d\n" "$m" $((a / n)) $(((b - a) / n))
done
