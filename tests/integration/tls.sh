#!/bin/sh
# TLS: offstatd's tls+tcp:// listeners and the CLI's --tls-* options, with
# certificates openssl makes for the test. A client that does not trust
# the service's certificate, or that the service does not trust, fails
# with exit 13 (ETLS) and the service carries on; bad TLS files stop
# start-up with a message naming the key; TLS works beside a plain
# listener and across replicas.
set -eu
OFFSTATD=$1
CLI=$2
command -v openssl >/dev/null || { echo "FAIL: tls.sh needs openssl"; exit 1; }
# Variables from the caller's environment must not leak into the checks.
for v in URL TOKEN TLS_CA TLS_CERT TLS_KEY TLS_KEY_PASSWORD TLS_SERVER_NAME \
    LISTEN DB DATA_DIR TOKENS HTTP LOG_LEVEL WORKERS MAX_REQUEST READ_AUTH \
    INGEST_EXPIRY CONFIG TLS_CLIENT_CA REPLY_CACHE; do
	unset "OFFSTAT_$v"
done
dir=$(mktemp -d -t offstat-tls-XXXXXX)
pids=
cleanup() {
	for p in $pids; do kill -KILL "$p" 2>/dev/null || :; done
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' HUP INT TERM
fail() {
	echo "FAIL: $*"
	for f in "$dir"/*.log; do
		[ -f "$f" ] || continue
		echo "--- ${f##*/}"
		cat "$f"
	done
	exit 1
}

# ---- Certificates ----------------------------------------------------------
# EC P-256 keys: quick to make, and mbedTLS takes them.
cat >"$dir/openssl.cnf" <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost
[client_ext]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
EOF
ssl() { openssl "$@" >>"$dir/openssl.out" 2>&1 || {
	cat "$dir/openssl.out"; fail "openssl $*"; }; }
serial=1
key() { ssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
    -out "$dir/$1.key"; }
selfsigned() { # NAME CN EXTENSIONS
	key "$1"
	ssl req -new -x509 -config "$dir/openssl.cnf" -extensions "$3" \
	    -key "$dir/$1.key" -subj "/CN=$2" -days 2 -out "$dir/$1.pem"
}
signed() { # NAME CN EXTENSIONS CA
	key "$1"
	ssl req -new -config "$dir/openssl.cnf" -key "$dir/$1.key" \
	    -subj "/CN=$2" -out "$dir/$1.csr"
	serial=$((serial + 1))
	ssl x509 -req -in "$dir/$1.csr" -CA "$dir/$4.pem" \
	    -CAkey "$dir/$4.key" -set_serial "$serial" -days 2 \
	    -extfile "$dir/openssl.cnf" -extensions "$3" -out "$dir/$1.pem"
}
selfsigned ca "offstat test CA" ca_ext
selfsigned otherca "unrelated test CA" ca_ext
signed srv localhost server_ext ca
signed client "offstat test client" client_ext ca
signed stranger "client of another CA" client_ext otherca
selfsigned self "self-signed client" client_ext
key nomatch
pw="open s3same"
# Encrypted keys in the traditional PEM form (DEK-Info): mbedTLS 2.28
# cannot decrypt the PKCS#8 form (AES under PBES2) that OpenSSL 3 writes
# by default.
ssl pkey -in "$dir/srv.key" -traditional -aes256 -passout "pass:$pw" \
    -out "$dir/srv-enc.key"
ssl pkey -in "$dir/client.key" -traditional -aes256 -passout "pass:$pw" \
    -out "$dir/client-enc.key"
# A certificate, but DER: the likely mistake.
ssl x509 -in "$dir/srv.pem" -outform DER -out "$dir/srv.der"
echo "not a certificate" >"$dir/junk.txt"
grep -q "BEGIN ENCRYPTED\|Proc-Type: 4,ENCRYPTED" "$dir/srv-enc.key" ||
	fail "the key copy is not encrypted"

# ---- Helpers ---------------------------------------------------------------
# Free ports, all asked for at once: python3 starts slowly on a busy
# machine. Each is bound at the same time, so no two are the same.
ports=$(python3 -c '
import socket
ss = [socket.socket() for _ in range(24)]
for s in ss:
    s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))')
free_port() {
	[ -n "$ports" ] || fail "out of free ports"
	port=${ports%% *}
	ports=${ports#"$port"}
	ports=${ports# }
}
# start NAME ARGS... : offstatd with ARGS, logging to NAME.log; waits for
# msg="ready" (sanitizer builds take seconds); its pid is left in $pid.
start() {
	name=$1
	shift
	# Listeners checked every second: nng 1.5.2 can stop serving a
	# listener's new connections after a peer leaves mid-handshake (its
	# issue 1518), which this test's refused clients do; offstatd starts
	# such a listener again within a few seconds.
	"$OFFSTATD" --db :memory: --http off --read-auth open -L info \
	    --listener-check 1 "$@" 2>"$dir/$name.log" &
	pid=$!
	pids="$pids $pid"
	i=0
	until grep -q 'msg="ready"' "$dir/$name.log"; do
		kill -0 "$pid" 2>/dev/null || fail "$name: offstatd exited at start"
		[ $i -lt 300 ] || fail "$name: offstatd not ready within 30 s"
		sleep 0.1
		i=$((i + 1))
	done
}
# stop PID: SIGTERM, and offstatd exits 0.
stop() {
	kill -TERM "$1"
	rc=0
	wait "$1" || rc=$?
	[ $rc -eq 0 ] || fail "offstatd exited $rc on SIGTERM"
}
# cli ARGS... : runs offstat; exit code in $rc, output in out and err.
cli() {
	rc=0
	"$CLI" -t 5s "$@" >"$dir/out" 2>"$dir/err" </dev/null || rc=$?
}
# refused WHAT RC ARGS... : offstat ARGS info exits RC.
refused() {
	what=$1
	want=$2
	shift 2
	cli "$@" info
	[ $rc -eq "$want" ] ||
		fail "$what: exit $rc, not $want: $(cat "$dir/out" "$dir/err")"
	if [ "$want" -eq 13 ]; then
		grep -q "TLS handshake failed" "$dir/err" ||
			fail "$what: the message does not say TLS: $(cat "$dir/err")"
	fi
}
# answers WHAT ARGS... : offstat ARGS gets a real figure back: Dorset's
# s.15A count for 2020/21 in the bundled dataset is 62.
answers() {
	what=$1
	shift
	# Long enough for a listener check to start a stuck listener again.
	cli -t 12s "$@" -o json count dorset S15A 2020/21
	# nng 1.5.2 (its issue 1518): a peer that goes away during the
	# handshake can leave a listener handshaking new connections but
	# never handing them to the socket, so every later call times out
	# until offstatd's listener check starts it again.
	[ $rc -ne 6 ] || fail "$what: no reply (exit 6): the TLS listener" \
	    "accepts but does not serve, and was not started again:" \
	    "$(cat "$dir/err"; grep 'starting it again' "$dir"/*.log)"
	[ $rc -eq 0 ] || fail "$what: exit $rc: $(cat "$dir/err")"
	grep -q '"count": 62,' "$dir/out" ||
		fail "$what: not the figure: $(cat "$dir/out")"
	grep -q '"present": true' "$dir/out" ||
		fail "$what: not present: $(cat "$dir/out")"
	[ -s "$dir/err" ] && fail "$what: a success printed $(cat "$dir/err")"
	return 0
}

# ---- 1. Server-only TLS ----------------------------------------------------
free_port
url=tls+tcp://localhost:$port
start tls -l "tls+tcp://127.0.0.1:$port" --tls-cert "$dir/srv.pem" \
    --tls-key "$dir/srv.key"
tls=$pid
grep -q "msg=\"listening\" url=tls+tcp://127.0.0.1:$port tls=on client_certificates=no" \
    "$dir/tls.log" || fail "no TLS listening line"
cli -u "$url" --tls-ca "$dir/ca.pem" -o json info
[ $rc -eq 0 ] || fail "info over TLS: exit $rc: $(cat "$dir/err")"
grep -q '"api": "offstat.v1"' "$dir/out" ||
	fail "info over TLS: $(cat "$dir/out")"
grep -q '"counts": 66' "$dir/out" || fail "info over TLS: $(cat "$dir/out")"
answers "count over TLS" -u "$url" --tls-ca "$dir/ca.pem"
answers "an IP address with --tls-server-name" \
    -u "tls+tcp://127.0.0.1:$port" --tls-ca "$dir/ca.pem" \
    --tls-server-name localhost
refused "another CA" 13 -u "$url" --tls-ca "$dir/otherca.pem"
refused "the right CA, another name" 13 \
    -u "$url" --tls-ca "$dir/ca.pem" --tls-server-name other.example
refused "an IP address the certificate does not name" 13 \
    -u "tls+tcp://127.0.0.1:$port" --tls-ca "$dir/ca.pem"
# No --tls-ca: the system's CAs, none of which signed the test CA. (10
# where the system has no bundle to read.)
cli -u "$url" info
case $rc in
13) grep -q "TLS handshake failed" "$dir/err" || fail "system CAs: $(cat "$dir/err")" ;;
10) echo "note: no system CA bundle; checked only that it is not trusted" ;;
*) fail "the system CAs trusted the test CA: exit $rc: $(cat "$dir/out" "$dir/err")" ;;
esac
# Plain SP at a TLS port: refused, and the listener survives it.
cli -t 3s -u "tcp://localhost:$port" info
[ $rc -ne 0 ] || fail "plain tcp:// at a TLS port answered"
kill -0 "$tls" 2>/dev/null || fail "offstatd died after a plain client"
answers "TLS after a plain client" -u "$url" --tls-ca "$dir/ca.pem"
# Options that do not fit together: usage errors, before any dialling.
refused "--tls-cert without --tls-key" 2 -u "$url" --tls-ca "$dir/ca.pem" \
    --tls-cert "$dir/client.pem"
refused "--tls-key without --tls-cert" 2 -u "$url" --tls-ca "$dir/ca.pem" \
    --tls-key "$dir/client.key"
refused "--tls-ca with tcp://" 2 -u "tcp://localhost:$port" \
    --tls-ca "$dir/ca.pem"
refused "--tls-server-name with ipc://" 2 -u "ipc://$dir/none.ipc" \
    --tls-server-name localhost
# Files that cannot be used: EFILE.
refused "--tls-ca not PEM" 10 -u "$url" --tls-ca "$dir/junk.txt"
refused "--tls-ca DER" 10 -u "$url" --tls-ca "$dir/srv.der"
refused "--tls-ca missing" 10 -u "$url" --tls-ca "$dir/none.pem"
refused "--tls-key not a key" 10 -u "$url" --tls-ca "$dir/ca.pem" \
    --tls-cert "$dir/client.pem" --tls-key "$dir/client.pem"
# The environment stands in for the flags.
OFFSTAT_TLS_CA=$dir/ca.pem answers "OFFSTAT_TLS_CA" -u "$url"
OFFSTAT_TLS_CA=$dir/otherca.pem refused "OFFSTAT_TLS_CA, another CA" 13 \
    -u "$url"
OFFSTAT_TLS_CA=$dir/otherca.pem answers "--tls-ca over OFFSTAT_TLS_CA" \
    -u "$url" --tls-ca "$dir/ca.pem"
OFFSTAT_URL=$url OFFSTAT_TLS_CA=$dir/ca.pem answers "OFFSTAT_URL"
# A server that needs no client certificate does not mind one.
answers "an unasked-for client certificate" -u "$url" \
    --tls-ca "$dir/ca.pem" --tls-cert "$dir/client.pem" \
    --tls-key "$dir/client.key"
kill -0 "$tls" 2>/dev/null || fail "offstatd died during the refusals"
answers "TLS after the refusals" -u "$url" --tls-ca "$dir/ca.pem"
stop "$tls"

# ---- 2. Mutual TLS ---------------------------------------------------------
free_port
url=tls+tcp://localhost:$port
start mtls -l "tls+tcp://127.0.0.1:$port" --tls-cert "$dir/srv.pem" \
    --tls-key "$dir/srv.key" --tls-client-ca "$dir/ca.pem"
mtls=$pid
grep -q "url=tls+tcp://127.0.0.1:$port tls=on client_certificates=required" \
    "$dir/mtls.log" || fail "no mutual TLS listening line"
refused "no client certificate" 13 -u "$url" --tls-ca "$dir/ca.pem"
refused "a client certificate from another CA" 13 -u "$url" \
    --tls-ca "$dir/ca.pem" --tls-cert "$dir/stranger.pem" \
    --tls-key "$dir/stranger.key"
refused "a self-signed client certificate" 13 -u "$url" \
    --tls-ca "$dir/ca.pem" --tls-cert "$dir/self.pem" \
    --tls-key "$dir/self.key"
refused "the CA's own certificate as client" 13 -u "$url" \
    --tls-ca "$dir/ca.pem" --tls-cert "$dir/ca.pem" --tls-key "$dir/ca.key"
refused "a good client that does not trust the server" 13 -u "$url" \
    --tls-ca "$dir/otherca.pem" --tls-cert "$dir/client.pem" \
    --tls-key "$dir/client.key"
answers "a trusted client certificate" -u "$url" --tls-ca "$dir/ca.pem" \
    --tls-cert "$dir/client.pem" --tls-key "$dir/client.key"
OFFSTAT_TLS_CA=$dir/ca.pem OFFSTAT_TLS_CERT=$dir/client.pem \
    OFFSTAT_TLS_KEY=$dir/client.key answers "OFFSTAT_TLS_CERT/KEY" -u "$url"
# An encrypted client key: its password only from the environment.
OFFSTAT_TLS_KEY_PASSWORD=$pw answers "an encrypted client key" -u "$url" \
    --tls-ca "$dir/ca.pem" --tls-cert "$dir/client.pem" \
    --tls-key "$dir/client-enc.key"
OFFSTAT_TLS_KEY_PASSWORD=wrong refused "a client key's wrong password" 10 \
    -u "$url" --tls-ca "$dir/ca.pem" --tls-cert "$dir/client.pem" \
    --tls-key "$dir/client-enc.key"
refused "a client key's missing password" 10 -u "$url" \
    --tls-ca "$dir/ca.pem" --tls-cert "$dir/client.pem" \
    --tls-key "$dir/client-enc.key"
# A client key that is not its certificate's: the library does not check
# the pair as offstatd does, so the handshake fails (13); EFILE (10) would
# say it better. Either way the call fails.
cli -u "$url" --tls-ca "$dir/ca.pem" --tls-cert "$dir/client.pem" \
    --tls-key "$dir/nomatch.key" info
[ $rc -eq 10 ] || [ $rc -eq 13 ] ||
	fail "a client key that is not the certificate's: exit $rc: $(cat "$dir/err")"
kill -0 "$mtls" 2>/dev/null || fail "offstatd died refusing clients"
answers "mutual TLS after the refusals" -u "$url" --tls-ca "$dir/ca.pem" \
    --tls-cert "$dir/client.pem" --tls-key "$dir/client.key"
stop "$mtls"

# ---- 3. Start-up refusals --------------------------------------------------
# nostart WHAT RC MESSAGE ARGS... : offstatd ARGS exits RC (any non-zero
# when RC is -) within 30 s, saying MESSAGE.
nostart() {
	what=$1
	want=$2
	msg=$3
	shift 3
	free_port
	rc=0
	timeout 30 "$OFFSTATD" --db :memory: --http off --read-auth open \
	    -l "tls+tcp://127.0.0.1:$port" "$@" >"$dir/out" 2>&1 </dev/null ||
		rc=$?
	[ $rc -ne 124 ] || fail "$what: offstatd started"
	if [ "$want" = - ]; then
		[ $rc -ne 0 ] || fail "$what: exit 0: $(cat "$dir/out")"
	else
		[ $rc -eq "$want" ] || fail "$what: exit $rc, not $want: $(cat "$dir/out")"
	fi
	grep -qF -- "$msg" "$dir/out" || fail "$what: $(cat "$dir/out")"
	grep -q 'msg="ready"' "$dir/out" && fail "$what: ready: $(cat "$dir/out")"
	return 0
}
nostart "no certificate or key" 2 "bad configuration: tls_cert:"
nostart "no key" 2 "bad configuration: tls_key:" --tls-cert "$dir/srv.pem"
nostart "no certificate" 2 "bad configuration: tls_cert:" \
    --tls-key "$dir/srv.key"
nostart "a key that is not the certificate's" - \
    "tls_key $dir/nomatch.key is not the key of the certificate in tls_cert $dir/srv.pem" \
    --tls-cert "$dir/srv.pem" --tls-key "$dir/nomatch.key"
nostart "a DER certificate" - "tls_cert $dir/srv.der: not a PEM file" \
    --tls-cert "$dir/srv.der" --tls-key "$dir/srv.key"
nostart "a key that is not PEM" - "tls_key $dir/junk.txt: not a PEM file" \
    --tls-cert "$dir/srv.pem" --tls-key "$dir/junk.txt"
nostart "a missing certificate" - "tls_cert $dir/none.pem" \
    --tls-cert "$dir/none.pem" --tls-key "$dir/srv.key"
nostart "a missing client CA" - "tls_client_ca $dir/none.pem" \
    --tls-cert "$dir/srv.pem" --tls-key "$dir/srv.key" \
    --tls-client-ca "$dir/none.pem"
nostart "an encrypted key without its password" - "tls_key $dir/srv-enc.key" \
    --tls-cert "$dir/srv.pem" --tls-key "$dir/srv-enc.key"
OFFSTAT_TLS_KEY_PASSWORD=wrong nostart "a wrong password in the environment" - \
    "tls_key $dir/srv-enc.key" --tls-cert "$dir/srv.pem" \
    --tls-key "$dir/srv-enc.key"
nostart "a wrong --tls-key-password" - "tls_key $dir/srv-enc.key" \
    --tls-cert "$dir/srv.pem" --tls-key "$dir/srv-enc.key" \
    --tls-key-password wrong
# The right password: it serves, and the password reaches no log.
free_port
url=tls+tcp://localhost:$port
OFFSTAT_TLS_KEY_PASSWORD=$pw start enc -l "tls+tcp://127.0.0.1:$port" \
    --tls-cert "$dir/srv.pem" --tls-key "$dir/srv-enc.key"
answers "an encrypted server key" -u "$url" --tls-ca "$dir/ca.pem"
stop "$pid"
grep -q "s3same" "$dir/enc.log" && fail "the key password reached the log"

# ---- 4. TLS beside a plain listener ----------------------------------------
free_port
url=tls+tcp://localhost:$port
start both -l "ipc://$dir/s.ipc" -l "tls+tcp://127.0.0.1:$port" \
    --tls-cert "$dir/srv.pem" --tls-key "$dir/srv.key"
grep -q "url=ipc://$dir/s.ipc" "$dir/both.log" || fail "no ipc listener"
grep "url=ipc://$dir/s.ipc" "$dir/both.log" | grep -q "tls=on" &&
	fail "the ipc listener says tls=on"
answers "ipc:// beside TLS" -u "ipc://$dir/s.ipc"
answers "TLS beside ipc://" -u "$url" --tls-ca "$dir/ca.pem"
refused "TLS beside ipc://, another CA" 13 -u "$url" \
    --tls-ca "$dir/otherca.pem"
# One CLI, both addresses as replicas.
answers "ipc:// and TLS as replicas" -u "ipc://$dir/s.ipc,$url" \
    --tls-ca "$dir/ca.pem"
stop "$pid"

# ---- 5. TLS replicas -------------------------------------------------------
free_port
port1=$port
start replica1 -l "tls+tcp://127.0.0.1:$port1" --tls-cert "$dir/srv.pem" \
    --tls-key "$dir/srv.key"
r1=$pid
free_port
port2=$port
start replica2 -l "tls+tcp://127.0.0.1:$port2" --tls-cert "$dir/srv.pem" \
    --tls-key "$dir/srv.key"
r2=$pid
urls=tls+tcp://localhost:$port1,tls+tcp://localhost:$port2
answers "two TLS replicas" -u "$urls" --tls-ca "$dir/ca.pem"
answers "two TLS replicas, -u repeated" -u "tls+tcp://localhost:$port1" \
    -u "tls+tcp://localhost:$port2" --tls-ca "$dir/ca.pem"
refused "two TLS replicas, another CA" 13 -u "$urls" \
    --tls-ca "$dir/otherca.pem"
kill -KILL "$r1"
wait "$r1" 2>/dev/null || :
for n in 1 2 3; do
	answers "TLS replicas, the first killed (call $n)" -u "$urls" \
	    --tls-ca "$dir/ca.pem"
done
answers "TLS replicas, the first killed, listed last" \
    -u "tls+tcp://localhost:$port2,tls+tcp://localhost:$port1" \
    --tls-ca "$dir/ca.pem"
kill -KILL "$r2"
wait "$r2" 2>/dev/null || :
refused "TLS replicas, both killed" 5 -u "$urls" --tls-ca "$dir/ca.pem"
echo "tls: ok"
