#!/bin/sh
# The image's entrypoint, installed as /usr/local/bin/offstat-entrypoint.
#
# With no arguments, or only options, it serves: it makes sure the health
# check has a reader token, then replaces itself with offstatd, so offstatd
# is PID 1 and gets SIGTERM itself. Anything else runs as given, e.g.
#   offstatd token add --role reader --label NAME
#   offstat --url tcp://offstatd:7355 info
#
# Environment (the image sets the first):
#   OFFSTAT_DATA_DIR   database and tokens (the volume), /var/lib/offstat
#   OFFSTAT_LISTEN     the listener, default tcp://0.0.0.0:7355
#   OFFSTAT_TOKENS     the tokens file, default $OFFSTAT_DATA_DIR/tokens;
#                      replicas that accept the same tokens share its folder
set -eu

case "${1:-}" in
"" | -*) ;;
*) exec "$@" ;;
esac

say() { echo "offstat-entrypoint: $*" >&2; }

data=${OFFSTAT_DATA_DIR:-/var/lib/offstat}
tokens=${OFFSTAT_TOKENS:-$data/tokens}
tokdir=$(dirname "$tokens")
health=$tokdir/healthcheck.token

for d in "$data" "$tokdir"; do
	mkdir -p "$d" 2>/dev/null || true
	if [ ! -w "$d" ]; then
		say "$d is not writable by uid $(id -u): use a named volume," \
		    "or chown a host folder to $(id -u):$(id -g)"
		exit 1
	fi
done

# The health check asks the service with a reader token of its own, made
# once and kept beside the tokens file (mode 0600). It is made again when it
# was revoked. Replicas sharing the tokens folder take turns (flock).
health_token_valid() {
	[ -s "$health" ] || return 1
	id=$(sed -n 's/^ost_\([0-9a-f]*\)_.*$/\1/p' "$health")
	[ -n "$id" ] || return 1
	offstatd token list --tokens "$tokens" |
	    awk -v id="$id" '$1 == id { found = 1 } END { exit !found }'
}
(
	flock 9
	if ! health_token_valid; then
		umask 077
		offstatd token add --role reader --label healthcheck \
		    --tokens "$tokens" >"$health.tmp"
		mv "$health.tmp" "$health"
		say "made the health check's reader token"
	fi
) 9<"$tokdir"

# A --listen among the arguments replaces the default listener.
listen="--listen ${OFFSTAT_LISTEN:-tcp://0.0.0.0:7355}"
for a in "$@"; do
	case "$a" in
	-l | -l* | --listen | --listen=*) listen="" ;;
	esac
done

# shellcheck disable=SC2086
exec offstatd $listen --tokens "$tokens" "$@"
