#!/bin/sh
# Installs the project to a temporary prefix and builds the examples against
# the installed liboffstat both ways a user would: with pkg-config, and with
# a CMake project using find_package(offstat) (shared and static). Then runs
# each build against a real offstatd.
#
#     install_test.sh BUILD_DIR SOURCE_DIR OFFSTATD VERSION [SANITIZER_FLAGS]
set -eu

build=$1
src=$2
offstatd=$3
version=$4
sanitize=${5:-}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/offstat-install.XXXXXX")
server=
cleanup() {
	if [ -n "$server" ]; then
		kill "$server" 2>/dev/null || true
	fi
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

prefix=$tmp/prefix
cmake --install "$build" --prefix "$prefix" >"$tmp/install.log" ||
	{ cat "$tmp/install.log" >&2; fail "cmake --install"; }

test -f "$prefix/include/offstat/offstat.h" || fail "no installed header"
pc=$(find "$prefix" -name offstat.pc)
test -n "$pc" || fail "no offstat.pc"
libdir=$(dirname "$(dirname "$pc")")
for f in liboffstat.so liboffstat.a "liboffstat.so.${version%%.*}"; do
	test -e "$libdir/$f" || fail "no $libdir/$f"
done
test -f "$libdir/cmake/offstat/offstatConfig.cmake" || fail "no config"
test -f "$libdir/cmake/offstat/offstatConfigVersion.cmake" ||
	fail "no version file"

# Only offstat_* symbols leave the shared library.
leaks=$(nm -D --defined-only "$libdir/liboffstat.so" |
	awk '{ print $3 }' | grep -v '^offstat_' || true)
test -z "$leaks" || fail "liboffstat.so exports: $leaks"

# pkg-config, from a prefix it was not configured for.
export PKG_CONFIG_PATH="$libdir/pkgconfig"
got=$(pkg-config --modversion offstat)
test "$got" = "$version" || fail "pkg-config says $got, not $version"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror $sanitize "$src/clients/examples/count.c" \
	$(pkg-config --cflags --libs offstat) -Wl,-rpath,"$libdir" \
	-o "$tmp/count-pkgconfig" || fail "building with pkg-config"
# shellcheck disable=SC2046
cc -std=c11 -Wall -Wextra -Werror $sanitize "$src/clients/examples/ingest.c" \
	$(pkg-config --cflags --libs offstat) -Wl,-rpath,"$libdir" \
	-o "$tmp/ingest-pkgconfig" || fail "building ingest with pkg-config"

# CMake, with find_package.
mkdir "$tmp/project"
cp "$src/clients/examples/count.c" "$src/clients/examples/ingest.c" \
	"$tmp/project/"
cat >"$tmp/project/CMakeLists.txt" <<'CMAKE'
cmake_minimum_required(VERSION 3.18)
project(count_example C)
find_package(offstat 0.1 CONFIG REQUIRED)
add_executable(count-shared count.c)
target_link_libraries(count-shared PRIVATE offstat::client)
add_executable(count-static count.c)
target_link_libraries(count-static PRIVATE offstat::client_static)
add_executable(ingest-static ingest.c)
target_link_libraries(ingest-static PRIVATE offstat::client_static)
CMAKE
cmake -S "$tmp/project" -B "$tmp/project/build" \
	-DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="$sanitize" \
	-DCMAKE_EXE_LINKER_FLAGS="$sanitize" >"$tmp/cmake.log" 2>&1 ||
	{ cat "$tmp/cmake.log" >&2; fail "configuring with find_package"; }
cmake --build "$tmp/project/build" >"$tmp/build.log" 2>&1 ||
	{ cat "$tmp/build.log" >&2; fail "building with find_package"; }
if ldd "$tmp/project/build/count-static" | grep -q liboffstat; then
	fail "count-static needs liboffstat.so"
fi
ldd "$tmp/project/build/count-shared" | grep -q "$libdir/liboffstat.so" ||
	fail "count-shared does not use the installed liboffstat.so"

# A service to ask, with a writer token for the ingest example.
url="ipc://$tmp/offstatd.sock"
mkdir "$tmp/data"
token=$("$offstatd" token add --role writer --data-dir "$tmp/data") ||
	fail "token add"
"$offstatd" --listen "$url" --db :memory: --data-dir "$tmp/data" \
	>"$tmp/offstatd.log" 2>&1 &
server=$!
tries=0
until "$tmp/count-pkgconfig" "$url" >/dev/null 2>&1; do
	tries=$((tries + 1))
	test $tries -lt 200 || { cat "$tmp/offstatd.log" >&2; fail "no service"; }
	sleep 0.05
done

want="Dorset, S15A, 2020/21: 62 (source: Bournemouth Echo 2021 (NSPCC FOI data))"
for prog in count-pkgconfig project/build/count-shared \
	project/build/count-static; do
	out=$("$tmp/$prog" "$url") || fail "$prog exited $?"
	test "$out" = "$want" || fail "$prog printed '$out'"
	echo "ok $prog: $out"
done
# The installed command finds the installed library by itself.
out=$(env -u LD_LIBRARY_PATH "$prefix/bin/offstat" -u "$url" -o csv \
	count dorset s15a 2020/21) || fail "installed offstat exited $?"
echo "$out" | grep -q '^E23000039,Dorset,S15A,2020/21,2020,0,true,62,' ||
	fail "installed offstat printed '$out'"
echo "ok installed offstat"
out=$("$tmp/count-pkgconfig" "$url" narnia S15A 2020/21 2>&1) && rc=0 || rc=$?
test $rc -eq 25 || fail "unknown area exits $rc, not 25: $out"

# The ingest example, both builds: one release each.
printf '%s\n' \
	'Financial Year,Financial Quarter,Force Name,Offence Description,Offence Group,Offence Subgroup,Offence Code,Number of Offences' \
	'2023/24,1,Dorset,Sexual grooming,Sexual offences,Other sexual offences,88A,7' \
	>"$tmp/rows.csv"
release=2
for prog in ingest-pkgconfig project/build/ingest-static; do
	out=$(OFFSTAT_TOKEN=$token "$tmp/$prog" "$tmp/rows.csv" "$prog" \
		"$url" 2>/dev/null) || fail "$prog exited $?"
	want="release $release committed: 1 rows, $((3 - release)) figures changed"
	test "$out" = "$want" || fail "$prog printed '$out', not '$want'"
	echo "ok $prog: $out"
	release=$((release + 1))
done

kill -TERM "$server"
rc=0
wait "$server" || rc=$?
server=
test $rc -eq 0 || fail "offstatd exited $rc on SIGTERM"
echo "PASS: install"
