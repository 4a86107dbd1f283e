#!/bin/sh
# offstatd's command line: help, version, usage errors, a bad listener,
# and a clean exit on SIGINT as well as SIGTERM.
set -u
OFFSTATD=$1
VERSION=$2
fail() { echo "FAIL: $*"; exit 1; }

out=$("$OFFSTATD" --help) || fail "--help exited $?"
echo "$out" | grep -q -- '--listen URL' || fail "--help: $out"
[ "$("$OFFSTATD" --version)" = "offstatd $VERSION" ] || fail "--version"

for args in "--bogus" "--workers 0" "--workers many" "--max-request 10" \
    "--log-level loud" "extra" "--skip-bad" "import"; do
	# shellcheck disable=SC2086
	"$OFFSTATD" $args >/dev/null 2>/tmp/offstatd-args.$$
	rc=$?
	[ $rc -eq 2 ] || fail "'$args' exited $rc, not 2"
	grep -q "^offstatd: " /tmp/offstatd-args.$$ || fail "'$args': no message"
done
rm -f /tmp/offstatd-args.$$

# A listener that cannot start is an error with a message, exit 1.
out=$("$OFFSTATD" --db :memory: --listen "bogus://x" 2>&1)
rc=$?
[ $rc -eq 1 ] || fail "bad URL exited $rc"
echo "$out" | grep -q "listening on bogus://x" || fail "bad URL: $out"

# An unwritable database path is an error with a message, exit 1.
out=$("$OFFSTATD" --db /proc/nonexistent/x.db 2>&1)
[ $? -eq 1 ] || fail "bad --db exit"
echo "$out" | grep -q "offstatd: " || fail "bad --db: $out"

for sig in INT TERM; do
	dir=$(mktemp -d /tmp/offstat-args-XXXXXX)
	"$OFFSTATD" --db :memory: --listen "ipc://$dir/s.ipc" -L warn &
	pid=$!
	i=0
	until [ -S "$dir/s.ipc" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
	kill -$sig $pid
	wait $pid
	rc=$?
	rm -rf "$dir"
	[ $rc -eq 0 ] || fail "SIG$sig: exit $rc"
done
echo "daemon args: ok"
