#!/bin/sh
# Builds the libFuzzer targets with clang in their own build folder and runs
# each for a while, then prints executions and coverage per target.
#
# usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#   SECONDS_PER_TARGET  default 60
#   TARGET              fuzz_dispatch fuzz_methods fuzz_csv fuzz_opendata
#                       fuzz_import fuzz_period fuzz_tokens fuzz_config
#                       (default: all of them)
# environment:
#   BUILD_FUZZ  build folder (default: build-fuzz in the source tree)
#   FUZZ_JOBS   targets run side by side (default 1)
#   FUZZ_KEEP_GOING=1  carry on after a crash (libFuzzer's fork mode) and
#               collect every crash; by default the first crash stops its
#               target and the script fails
#   FUZZ_CC     the clang to build with (default: $CC when that is a
#               clang, else clang)
#
# New inputs that reach new code go to $BUILD_FUZZ/corpus/<name>; the seed
# corpus in tests/fuzz/corpus/<name> is only read. A crash, leak or timeout
# leaves its input in $BUILD_FUZZ/artifacts/<name>/: copy it to
# tests/fuzz/regressions/<name>/ so unit.fuzz_replay keeps checking it.
# Exits 0 when no target found anything in this run, 1 when one did (or
# its fuzzer failed), 2 on a usage or build error. Inputs left in artifacts/
# by earlier runs are listed but do not fail this one.
set -eu

SRC=$(cd "$(dirname "$0")/.." && pwd)
SECS=${1:-60}
case $SECS in
'' | *[!0-9]*)
	echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2
	exit 2
	;;
esac
[ $# -gt 0 ] && shift
TARGETS=${*:-fuzz_dispatch fuzz_methods fuzz_csv fuzz_opendata fuzz_import \
	fuzz_period fuzz_tokens fuzz_config}
BUILD=${BUILD_FUZZ:-$SRC/build-fuzz}
JOBS=${FUZZ_JOBS:-1}
# A CC meant for the other builds (gcc) must not stop the fuzz build.
if [ -z "${FUZZ_CC:-}" ] && [ -n "${CC:-}" ] &&
    "$CC" --version 2>/dev/null | grep -q clang; then
	FUZZ_CC=$CC
fi
CC=${FUZZ_CC:-clang}
export CC

if ! "$CC" --version 2>/dev/null | grep -q clang; then
	echo "$0: $CC is not clang; libFuzzer needs clang (FUZZ_CC)" >&2
	exit 2
fi
mkdir -p "$BUILD/logs"
if [ ! -f "$BUILD/CMakeCache.txt" ]; then
	cmake -S "$SRC" -B "$BUILD" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	    -DOFFSTAT_FUZZ=ON -DOFFSTAT_TESTS=OFF >"$BUILD/logs/configure.log" \
	    2>&1 || { cat "$BUILD/logs/configure.log" >&2; exit 2; }
fi
cmake --build "$BUILD" --target fuzz -j "$(nproc)" >"$BUILD/logs/build.log" \
    2>&1 || { tail -n 30 "$BUILD/logs/build.log" >&2;
	echo "$0: build failed" >&2; exit 2; }
# Artifacts newer than this file are this run's findings.
START=$BUILD/logs/.start
: >"$START"

# Folder, dictionary and extra flags of each target.
corpus_of() { echo "${1#fuzz_}"; }
dict_of() {
	case $1 in
	fuzz_dispatch | fuzz_methods) echo requests.dict ;;
	fuzz_csv | fuzz_opendata | fuzz_import) echo opendata.dict ;;
	fuzz_period) echo period.dict ;;
	fuzz_tokens) echo tokens.dict ;;
	fuzz_config) echo config.dict ;;
	esac
}

run_one() {
	t=$1
	name=$(corpus_of "$t")
	work=$BUILD/corpus/$name
	art=$BUILD/artifacts/$name
	log=$BUILD/logs/$t.log
	mkdir -p "$work" "$art" "$BUILD/logs"
	mode=""
	if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then
		mode="-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1"
	fi
	# shellcheck disable=SC2086
	"$BUILD/tests/fuzz/$t" $mode -max_total_time="$SECS" -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 \
	    -dict="$SRC/tests/fuzz/$(dict_of "$t")" \
	    -artifact_prefix="$art/" "$work" "$SRC/tests/fuzz/corpus/$name" \
	    >"$log" 2>&1 && rc=0 || rc=$?
	echo "$rc" >"$log.rc"
}

# Runs the targets, at most $JOBS at a time.
running=0
for t in $TARGETS; do
	if [ ! -x "$BUILD/tests/fuzz/$t" ]; then
		echo "$0: no target $t" >&2
		exit 2
	fi
	echo "fuzzing $t for ${SECS}s" >&2
	run_one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$JOBS" ]; then
		wait
		running=0
	fi
done
wait

status=0
printf '%-14s %12s %8s %8s %8s %7s %6s  %s\n' target execs exec/s cov ft \
    corpus time found
for t in $TARGETS; do
	log=$BUILD/logs/$t.log
	art=$BUILD/artifacts/$(corpus_of "$t")
	rc=$(cat "$log.rc")
	# The last status line carries the totals, in plain or fork mode.
	last=$(grep -a -E '^#[0-9]+:?[[:space:]].*cov: ' "$log" | tail -n 1)
	execs=$(echo "$last" | sed -E 's/^#([0-9]+).*/\1/')
	cov=$(echo "$last" | sed -nE 's/.*cov: ([0-9]+).*/\1/p')
	ft=$(echo "$last" | sed -nE 's/.*ft: ([0-9]+).*/\1/p')
	corp=$(echo "$last" | sed -nE 's/.*corp: ([0-9]+).*/\1/p')
	secs=$(sed -nE 's/^Done [0-9]+ runs in ([0-9]+) second.*/\1/p' \
	    "$log" | tail -n 1)
	if [ -z "$secs" ]; then
		secs=$(echo "$last" | sed -nE 's/.*time: ([0-9]+)s.*/\1/p')
	fi
	rate=$(grep -a -E '^stat::average_exec_per_sec' "$log" |
	    sed -E 's/.*: //' | tail -n 1)
	if [ -z "$rate" ] && [ -n "$execs" ] && [ -n "$secs" ] &&
	    [ "$secs" -gt 0 ]; then
		rate=$((execs / secs))
	fi
	found=$(find "$art" -type f -newer "$START" | wc -l)
	old=$(find "$art" -type f ! -newer "$START" | wc -l)
	if [ "$old" -gt 0 ]; then
		echo "  $t: $old input(s) from earlier runs in $art" >&2
	fi
	printf '%-14s %12s %8s %8s %8s %7s %6s  %s\n' "$t" "${execs:-?}" \
	    "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${secs:-?}s" \
	    "$found"
	if [ "$found" -gt 0 ] || [ "$rc" != 0 ]; then
		status=1
		echo "  $t: exit $rc; inputs in $art; log $log" >&2
		grep -a -m 3 -E 'ERROR:|fuzz: |SUMMARY' "$log" | sed 's/^/  /' >&2 ||
		    true
	fi
done
exit "$status"
