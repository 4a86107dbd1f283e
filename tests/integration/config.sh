#!/bin/sh
# Configuration from an INI file, OFFSTAT_* variables and flags: flags beat
# the environment, which beats the file, in --print-config and in what the
# service does; bad configuration stops start-up with exit 2 and a message
# naming the key (and file:line); --print-config shows no secret.
set -u
OFFSTATD=$1
dir=$(mktemp -d /tmp/offstat-config-XXXXXX)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
# Variables from the caller's environment must not leak into the checks.
for v in LISTEN DB DATA_DIR TOKENS HTTP LOG_LEVEL WORKERS MAX_REQUEST \
    READ_AUTH INGEST_EXPIRY CONFIG; do
	unset "OFFSTAT_$v"
done

cat >"$dir/offstat.ini" <<INI
# offstatd settings
[offstatd]
workers = 8
max-request = 2048
log_level = warn
ingest_expiry = 60
listen = ipc://$dir/file.ipc
INI

# line KEY -> the --print-config line of KEY
line() { echo "$out" | grep "^$1 "; }

out=$("$OFFSTATD" --config "$dir/offstat.ini" --print-config) ||
	fail "--print-config exited $?"
line workers | grep -q "= 8 .*# file $dir/offstat.ini:3$" || fail "file: $(line workers)"
line max_request | grep -q "= 2048 .*# file $dir/offstat.ini:4$" || fail "$(line max_request)"
line read_auth | grep -q "= auto .*# default$" || fail "default: $(line read_auth)"
line http | grep -q "= 127.0.0.1:9355 .*# default$" || fail "default http: $(line http)"

out=$(OFFSTAT_WORKERS=16 "$OFFSTATD" --config "$dir/offstat.ini" --print-config) ||
	fail "--print-config with env"
line workers | grep -q "= 16 .*# env OFFSTAT_WORKERS$" || fail "env over file: $(line workers)"
line max_request | grep -q "= 2048 .*# file" || fail "$(line max_request)"

out=$(OFFSTAT_WORKERS=16 "$OFFSTATD" -w 32 --config "$dir/offstat.ini" \
    --print-config) || fail "--print-config with a flag"
line workers | grep -q "= 32 .*# flag --workers$" || fail "flag over env: $(line workers)"
# The order on the command line does not matter.
out=$(OFFSTAT_WORKERS=16 "$OFFSTATD" --print-config -c "$dir/offstat.ini" \
    --workers 32) || fail "--print-config, flags after"
line workers | grep -q "= 32 .*# flag --workers$" || fail "flag over env: $(line workers)"
# $OFFSTAT_CONFIG names the file when --config does not.
out=$(OFFSTAT_CONFIG="$dir/offstat.ini" "$OFFSTATD" --print-config) ||
	fail "OFFSTAT_CONFIG"
line ingest_expiry | grep -q "= 60 .*# file" || fail "OFFSTAT_CONFIG: $(line ingest_expiry)"

# Secrets: a CLI token in the environment is not configuration and never
# printed.
out=$(OFFSTAT_TOKEN=ost_00000000_secretsecret "$OFFSTATD" --print-config \
    -c "$dir/offstat.ini" 2>&1) || fail "--print-config with OFFSTAT_TOKEN"
echo "$out" | grep -q secretsecret && fail "--print-config shows a token"
[ "$(echo "$out" | wc -l)" -eq 16 ] || fail "--print-config: $out"
# The TLS key's password is configuration, and masked wherever it comes
# from.
out=$(OFFSTAT_TLS_KEY_PASSWORD=hunter2hunter2 "$OFFSTATD" --print-config \
    -c "$dir/offstat.ini" 2>&1) || fail "--print-config with a key password"
echo "$out" | grep -q hunter2 && fail "--print-config shows the key password"
line tls_key_password | grep -q "= \*\*\*\*\*\*\*\* .*# env OFFSTAT_TLS_KEY_PASSWORD$" ||
	fail "masked: $(line tls_key_password)"
out=$("$OFFSTATD" --print-config --tls-key-password hunter2hunter2 2>&1) ||
	fail "--print-config with --tls-key-password"
echo "$out" | grep -q hunter2 && fail "--print-config shows the flag's password"

# TLS settings that do not fit together stop start-up, naming the key.
err=$("$OFFSTATD" --db :memory: --http off -l tls+tcp://127.0.0.1:1 2>&1) &&
	fail "a TLS listener without a certificate started"
echo "$err" | grep -q "bad configuration: tls_cert:" || fail "no cert: $err"
err=$("$OFFSTATD" --db :memory: --http off -l tls+tcp://127.0.0.1:1 \
    --tls-cert "$dir/offstat.ini" 2>&1) && fail "a certificate without a key"
echo "$err" | grep -q "bad configuration: tls_key:" || fail "no key: $err"
err=$("$OFFSTATD" --db :memory: --http off -l "ipc://$dir/x.ipc" \
    --tls-cert "$dir/offstat.ini" --tls-key "$dir/offstat.ini" 2>&1) &&
	fail "TLS files without a TLS listener"
echo "$err" | grep -q "no listener is tls+tcp" || fail "no TLS listener: $err"
err=$("$OFFSTATD" --db :memory: --http off -l tls+tcp://127.0.0.1:1 \
    --tls-cert "$dir/offstat.ini" --tls-key "$dir/offstat.ini" 2>&1) &&
	fail "a certificate that is not PEM"
echo "$err" | grep -q "tls_cert $dir/offstat.ini: not a PEM file" || fail "not PEM: $err"
err=$(OFFSTAT_REPLY_CACHE=lots "$OFFSTATD" --print-config 2>&1) &&
	fail "a bad reply_cache"
echo "$err" | grep -q "OFFSTAT_REPLY_CACHE='lots' (key reply_cache)" || fail "reply_cache: $err"

# The layers decide what the service does: where it listens.
wait_sock() {
	i=0
	until [ -S "$1" ] || [ $i -ge 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -S "$1" ]
}
run() { # SOCKET ARGS... : starts, checks SOCKET appears, stops
	sock=$1
	shift
	"$OFFSTATD" --db :memory: --http off -c "$dir/offstat.ini" "$@" \
	    2>"$dir/log" &
	pid=$!
	wait_sock "$sock" || fail "no $sock ($*): $(cat "$dir/log")"
	kill -TERM "$pid"
	wait "$pid" || fail "exit $?"
	pid=
}
run "$dir/file.ipc"
[ -s "$dir/log" ] && fail "log_level=warn from the file ignored: $(cat "$dir/log")"
rm -f "$dir/file.ipc"
OFFSTAT_LISTEN="ipc://$dir/env.ipc" run "$dir/env.ipc"
[ -S "$dir/file.ipc" ] && fail "listened on the file's address beside env"
OFFSTAT_LISTEN="ipc://$dir/env.ipc" run "$dir/flag.ipc" -l "ipc://$dir/flag.ipc" -L info
grep -q "url=ipc://$dir/env.ipc" "$dir/log" && fail "env listener beside a flag"
grep -q "url=ipc://$dir/flag.ipc" "$dir/log" || fail "flag listener: $(cat "$dir/log")"

# Bad configuration: exit 2, a message naming the key and where it is.
bad() { # WHAT EXPECTED-MESSAGE COMMAND...
	what=$1
	want=$2
	shift 2
	"$@" >"$dir/out" 2>&1
	rc=$?
	[ $rc -eq 2 ] || fail "$what: exit $rc, not 2: $(cat "$dir/out")"
	grep -qF -- "$want" "$dir/out" || fail "$what: $(cat "$dir/out")"
}
printf '[offstatd]\nworkers = 4\nwrokers = 5\n' >"$dir/badkey.ini"
bad "unknown key" "offstatd: bad configuration: $dir/badkey.ini:3: unknown key 'wrokers'" \
    "$OFFSTATD" --config "$dir/badkey.ini"
printf 'workers = 4\n[server]\nlisten = ipc:///x\n' >"$dir/badsec.ini"
bad "unknown section" "$dir/badsec.ini:3: unknown section [server]" \
    "$OFFSTATD" --config "$dir/badsec.ini"
printf '\n\nmax_request = 12\n' >"$dir/badval.ini"
bad "bad value in file" "$dir/badval.ini:3: max_request '12'" \
    "$OFFSTATD" --config "$dir/badval.ini"
printf 'just words\n' >"$dir/junk.ini"
bad "not INI" "$dir/junk.ini:1:" "$OFFSTATD" --config "$dir/junk.ini"
bad "missing file" "$dir/none.ini: No such file" \
    "$OFFSTATD" --config "$dir/none.ini"
bad "a directory" "$dir: cannot read" "$OFFSTATD" --config "$dir"
bad "bad value in env" "OFFSTAT_WORKERS='lots' (key workers)" \
    env OFFSTAT_WORKERS=lots "$OFFSTATD" --db :memory:
bad "bad env http" "OFFSTAT_HTTP='9355'" \
    env OFFSTAT_HTTP=9355 "$OFFSTATD" --db :memory:
bad "bad env read_auth" "OFFSTAT_READ_AUTH='maybe'" \
    env OFFSTAT_READ_AUTH=maybe "$OFFSTATD" --print-config
bad "bad flag" "--http 'nowhere': give HOST:PORT" \
    "$OFFSTATD" --http nowhere
# A flag does not excuse a bad variable: the variable is still named.
bad "bad env under a flag" "OFFSTAT_LOG_LEVEL='loud'" \
    env OFFSTAT_LOG_LEVEL=loud "$OFFSTATD" -L info --print-config
# Subcommands read the same layers: token list finds the file's data dir.
printf 'data_dir = %s/data\n' "$dir" >"$dir/dd.ini"
mkdir -p "$dir/data"
"$OFFSTATD" token add --role reader -c "$dir/dd.ini" >/dev/null ||
	fail "token add with --config"
[ -s "$dir/data/tokens" ] || fail "token add ignored data_dir from the file"
echo "config: ok"
