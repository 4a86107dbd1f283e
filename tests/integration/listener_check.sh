#!/bin/sh
# The listener check: offstatd asks each of its listeners, through a new
# connection, for an answer every --listener-check seconds, and starts a
# listener that misses two checks again on the same address. nng 1.5.2's
# own fault (a listener that stops serving new connections after a peer
# leaves mid-handshake) cannot be caused on demand, so this test breaks a
# listener the way an operator's clean-up can: it deletes the ipc socket
# file. New clients then find nothing; the check notices, the listener
# comes back with a new socket file, and the service answers again, with
# the restart logged and counted. A plain tcp listener beside it is not
# touched, and with --listener-check 0 nothing is restarted.
set -u
OFFSTATD=$1
CLI=$2
dir=$(mktemp -d /tmp/offstat-lcheck-XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	[ -f "$dir/log" ] && cat "$dir/log"
	exit 1
}
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
hport=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
sock="$dir/s.ipc"

# start CHECK: offstatd with that --listener-check, ready.
start() {
	"$OFFSTATD" --db :memory: --read-auth open --listener-check "$1" \
	    --http "127.0.0.1:$hport" -l "ipc://$sock" \
	    -l "tcp://127.0.0.1:$port" 2>"$dir/log" &
	pid=$!
	i=0
	until grep -q 'msg="ready"' "$dir/log"; do
		kill -0 "$pid" 2>/dev/null || fail "offstatd exited at start"
		[ $i -lt 300 ] || fail "offstatd not ready within 30 s"
		sleep 0.1
		i=$((i + 1))
	done
}
stop() {
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	pid=
	[ $rc -eq 0 ] || fail "offstatd exited $rc on SIGTERM"
}
restarts() {
	python3 - "$hport" <<'PY'
import sys, urllib.request
body = urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1],
                              timeout=5).read().decode()
for line in body.splitlines():
    if line.startswith("offstat_listener_restarts_total "):
        print(line.split()[1])
        break
else:
    print("missing")
PY
}
count() {
	"$CLI" -q -t 2s -u "$1" -o json count dorset S15A 2020/21 >"$dir/out" \
	    2>/dev/null && grep -q '"count": 62,' "$dir/out"
}

start 1
count "ipc://$sock" || fail "no answer over ipc at start"
[ "$(restarts)" = 0 ] || fail "restarts at start: $(restarts)"
rm -f "$sock"
count "ipc://$sock" && fail "answered with its socket file gone"
# Two missed checks a second apart, each waiting up to a second: back
# within a few seconds (30 s for slow sanitizer builds).
i=0
until count "ipc://$sock"; do
	[ $i -lt 60 ] || fail "the ipc listener did not come back in 30 s"
	sleep 0.5
	i=$((i + 1))
done
[ -S "$sock" ] || fail "no socket file after the restart"
grep -q "msg=\"listener stopped serving new connections; starting it again\" url=ipc://$sock" \
    "$dir/log" || fail "the restart is not logged"
grep -q "msg=\"listening\" url=ipc://$sock restarted=1" "$dir/log" ||
	fail "the new listener is not logged"
[ "$(restarts)" = 1 ] || fail "offstat_listener_restarts_total $(restarts), not 1"
grep -q "starting it again\" url=tcp://" "$dir/log" &&
	fail "the tcp listener was restarted too"
count "tcp://127.0.0.1:$port" || fail "no answer over tcp"
stop

# Off: the same loss stays lost, and nothing is restarted.
start 0
rm -f "$sock"
sleep 3
count "ipc://$sock" && fail "answered over ipc with the check off"
grep -q "starting it again" "$dir/log" && fail "restarted with the check off"
[ "$(restarts)" = 0 ] || fail "restarts with the check off: $(restarts)"
count "tcp://127.0.0.1:$port" || fail "no answer over tcp with the check off"
stop
echo "listener_check: ok"
