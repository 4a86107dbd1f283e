#!/bin/sh
# Installs, with apt, whatever offstat needs to build and test that is not
# installed yet (Debian bookworm package names). Safe to run repeatedly:
# it does nothing when everything is present.
set -eu

# gcc brings the ASan, UBSan and TSan runtimes (libasan8, libubsan1,
# libtsan2) that `make test-asan` and `make test-tsan` link. The fuzz
# targets need clang and libFuzzer, whose runtime (libclang_rt.fuzzer) is
# in libclang-rt-14-dev, which clang-14 does not pull in; llvm brings
# llvm-symbolizer, without which sanitizer reports have no line numbers.
PACKAGES="gcc make cmake pkg-config
libnng-dev libprotobuf-c-dev protobuf-c-compiler
libcmocka-dev libsqlite3-dev libgsl-dev
python3 sqlite3 protobuf-compiler nng-utils
libmicrohttpd-dev libinih-dev prometheus
clang libclang-rt-14-dev llvm
openssl ca-certificates"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
	    grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

echo "install-deps: installing$missing" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO="sudo"
	else
		echo "install-deps: need root (or sudo) to install:$missing" >&2
		exit 1
	fi
fi
export DEBIAN_FRONTEND=noninteractive
# Package lists may be missing on a fresh machine; refresh them once.
$SUDO apt-get update -qq || true
# shellcheck disable=SC2086
$SUDO apt-get install -y -qq --no-install-recommends $missing
