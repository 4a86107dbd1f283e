#!/bin/sh
# The image's HEALTHCHECK, installed as /usr/local/bin/offstat-healthcheck:
# healthy when offstatd answers ServerInfo on its own listener, asked with
# the reader token that offstat-entrypoint made. The token travels in the
# environment, never on a command line.
set -eu

data=${OFFSTAT_DATA_DIR:-/var/lib/offstat}
tokens=${OFFSTAT_TOKENS:-$data/tokens}
listen=${OFFSTAT_LISTEN:-tcp://0.0.0.0:7355}

# A listener on every interface is asked on loopback.
url=${OFFSTAT_HEALTH_URL:-$(printf '%s\n' "$listen" | sed \
    -e 's#^tcp://0\.0\.0\.0:#tcp://127.0.0.1:#' \
    -e 's#^tcp://\*:#tcp://127.0.0.1:#' \
    -e 's#^tcp://:#tcp://127.0.0.1:#')}

OFFSTAT_TOKEN=$(cat "$(dirname "$tokens")/healthcheck.token")
export OFFSTAT_TOKEN
# --timeout bounds the wait for the reply, not the connection handshake,
# which a hung service can hold for 10 s: timeout(1) bounds the whole check
# to 5 s, within the HEALTHCHECK's 10 s. Exit 1 is "unhealthy".
timeout 5s offstat --quiet --timeout 4s --url "$url" info >/dev/null || exit 1
