#!/bin/sh
# Tokens with roles: made and revoked with `offstatd token`, kept hashed,
# checked on every call; missing or bad tokens are UNAUTHENTICATED, the
# wrong role PERMISSION_DENIED, and no token reaches the log.
set -u
OFFSTATD=$1
CALL=$2
dir=$(mktemp -d /tmp/offstat-auth-XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

writer=$("$OFFSTATD" token add --role writer --label "loader" -D "$dir") ||
	fail "token add writer"
reader=$("$OFFSTATD" token add --role reader -D "$dir") || fail "token add reader"
echo "$writer" | grep -Eq '^ost_[0-9a-f]{8}_[0-9a-f]{64}$' || fail "token shape: $writer"
grep -q "${writer#ost_????????_}" "$dir/tokens" && fail "the tokens file holds a secret"
grep -q "$writer" "$dir/tokens" && fail "the tokens file holds a token"
[ "$(stat -c %a "$dir/tokens")" = 600 ] || fail "tokens file mode"
"$OFFSTATD" token list -D "$dir" | grep -q "writer .*loader" || fail "token list"
# Expiry: a span or a UTC time; the past and nonsense are refused.
"$OFFSTATD" token add --role reader --label soon --expires 90d -D "$dir" >/dev/null ||
	fail "token add --expires 90d"
"$OFFSTATD" token list -D "$dir" | grep -Eq "reader .* [0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}Z +soon" ||
	fail "token list shows the expiry"
"$OFFSTATD" token list -D "$dir" | grep -Eq "writer .* never +loader" ||
	fail "token list shows never"
"$OFFSTATD" token add --role reader --expires 2020-01-01 -D "$dir" 2>/dev/null
[ $? = 1 ] || fail "an expiry in the past is refused"
"$OFFSTATD" token add --role reader --expires soon -D "$dir" 2>/dev/null
[ $? = 2 ] || fail "a bad --expires is a usage error"
"$OFFSTATD" token list --expires 1d -D "$dir" >/dev/null 2>&1
[ $? = 2 ] || fail "--expires outside token add"

start() {
	"$OFFSTATD" -D "$dir" --db :memory: --listen "ipc://$dir/s.ipc" \
	    -L info "$@" 2>"$dir/log" &
	pid=$!
	i=0
	until [ -S "$dir/s.ipc" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
	sleep 0.2
}
stop() { kill -TERM "$pid"; wait "$pid" || { rc=$?; cat "$dir/log" >&2; fail "exit $rc"; }; pid=; }
code() { # METHOD REQUEST [TOKEN] -> the status code name, or OK
	out=$(OFFSTAT_TOKEN=${3:-} "$CALL" "ipc://$dir/s.ipc" "$1" "$2")
	echo "$out" | sed -n 's/^  code: //p' | head -1 | grep . || echo OK
}

# Loopback only: reads are open, writes need a writer token.
start
[ "$(code ServerInfo '')" = OK ] || fail "open read"
[ "$(code Ingest 'open_label: "x"')" = UNAUTHENTICATED ] || fail "write without token"
[ "$(code Ingest 'open_label: "x"' "$reader")" = PERMISSION_DENIED ] || fail "write with reader"
[ "$(code Ingest 'open_label: "x"' "$writer")" = INVALID_ARGUMENT ] || fail "write with writer, no idempotency key"
[ "$(code Ingest 'open_label: "x" idempotency_key: "k1"' "$writer")" = OK ] || fail "write with writer"
# A token that is given must be valid even for an open read.
[ "$(code ServerInfo '' ost_00000000_bad)" = UNAUTHENTICATED ] || fail "bad token on open read"
stop

# Reads required: every call needs at least a reader token.
start --read-auth required
[ "$(code ServerInfo '')" = UNAUTHENTICATED ] || fail "read without token"
[ "$(code ServerInfo '' "$reader")" = OK ] || fail "read with reader"
[ "$(code ServerInfo '' "$writer")" = OK ] || fail "read with writer"
forged="ost_${reader#ost_}"
forged=$(echo "$forged" | sed 's/.$/0/;t' )
[ "$forged" != "$reader" ] || forged=$(echo "$reader" | sed 's/.$/1/')
[ "$(code ServerInfo '' "$forged")" = UNAUTHENTICATED ] || fail "forged token"
[ "$(code ServerInfo '' "Bearer")" = UNAUTHENTICATED ] || fail "junk token"
# Revoked while running: refused within a couple of seconds.
id=$(echo "$reader" | cut -c5-12)
"$OFFSTATD" token revoke "$id" -D "$dir" || fail "revoke"
sleep 1.2
[ "$(code ServerInfo '' "$reader")" = UNAUTHENTICATED ] || fail "revoked token"
stop
grep -q 'msg="authentication failed"' "$dir/log" || fail "failures not logged"
grep -q "${reader#ost_????????_}" "$dir/log" && fail "a token reached the log"
grep -q "${forged#ost_????????_}" "$dir/log" && fail "a token reached the log"

# Any listener beyond loopback makes reads need a token by default.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("",0)); print(s.getsockname()[1])')
"$OFFSTATD" -D "$dir" --db :memory: --listen "tcp://0.0.0.0:$port" -L info 2>"$dir/log" &
pid=$!
# Sanitizer builds take seconds to start: wait for the access line.
i=0
until grep -q 'msg="access"' "$dir/log" || [ $i -ge 300 ]; do sleep 0.1; i=$((i + 1)); done
grep -q 'reads=reader-token' "$dir/log" || fail "non-loopback reads open"
stop
echo "auth: ok"
