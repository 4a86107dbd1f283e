#!/bin/bash
# Builds the container image (docker/Dockerfile) for real and checks it:
# podman and buildah with a debootstrapped Debian base (no Docker engine or
# image registry is needed), then starts the image on a named volume,
# queries it from this machine with build/clients/offstat, checks its health
# check, stops it with SIGTERM, and starts it again on the same volume to
# check that the data survived. Prints PASS or FAIL for every step and a
# summary; exits 1 when any step failed.
#
# Needs root (or sudo) to install podman, buildah, runc and debootstrap with
# apt when they are missing, and `make build` first (make container-test
# does both). Environment:
#   BUILD           build folder (default build): the CLI is taken from it,
#                   and container/ in it holds containers.conf and logs
#   OFFSTAT_IMAGE   the image's name (default localhost/offstat:test)
#   KEEP_IMAGE=0    remove the image at the end (default: kept, and its
#                   layers cached for the next run)
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in /*) ;; *) BUILD=$ROOT/$BUILD ;; esac
WORK=$BUILD/container
SUITE=trixie
BASE=localhost/debian:$SUITE
IMAGE=${OFFSTAT_IMAGE:-localhost/offstat:test}
CLI=$BUILD/clients/offstat
CTR=offstat-test-$$
CTR2=offstat-test-$$-again
VOL=offstat-test-data-$$
KILL_TIMEOUT=30 # podman stop's wait before SIGKILL
STOP_LIMIT=10   # a clean stop takes well under this many seconds

names=()
results=()
times=()
failed=0
t_all=$(date +%s)

# --- steps and their results ------------------------------------------------

step() {
	cur=$1
	t_step=$(date +%s.%N)
	printf '\n==> %s\n' "$cur"
}
record() {
	local st=$1 detail=$2 dt
	dt=$(awk -v a="$t_step" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
	names+=("$cur")
	results+=("$st")
	times+=("$dt")
	printf '%s: %s (%s s)%s\n' "$st" "$cur" "$dt" "${detail:+: $detail}"
}
pass() { record PASS "${1:-}"; }
fail() {
	record FAIL "${1:-}"
	failed=1
}
# A failure that leaves nothing further to check.
fatal() {
	fail "$@"
	exit 1
}

# shellcheck disable=SC2317 # called from the EXIT trap
summary() {
	local i
	printf '\n==> summary\n'
	for i in "${!names[@]}"; do
		printf '  %-4s %6s s  %s\n' "${results[$i]}" "${times[$i]}" "${names[$i]}"
	done
	printf '  %d steps, %d failed, %d s in all\n' "${#names[@]}" \
	    "$(printf '%s\n' "${results[@]}" | grep -c FAIL)" \
	    "$(($(date +%s) - t_all))"
	if [ "$failed" -eq 0 ]; then
		echo "container-test: PASS"
	else
		echo "container-test: FAIL (logs in $WORK)"
	fi
}

# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
	local rc=$?
	podman rm -f -t 0 "$CTR" "$CTR2" >/dev/null 2>&1
	podman volume rm -f "$VOL" >/dev/null 2>&1
	if [ "${KEEP_IMAGE:-1}" = 0 ]; then
		podman rmi -f "$IMAGE" >/dev/null 2>&1
	fi
	rm -rf "$WORK/rootfs-$SUITE" "$WORK/import.csv"
	summary
	[ "$failed" -eq 0 ] && [ "$rc" -eq 0 ] && exit 0
	exit 1
}

# --- helpers ------------------------------------------------------------------

# The Debian mirror apt already uses: the first URI of a deb source for
# this system's own suite, from deb822 .sources files or one-line .list files.
apt_mirror() {
	local codename f
	# shellcheck disable=SC1091
	codename=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
	for f in /etc/apt/sources.list.d/*.sources; do
		[ -r "$f" ] || continue
		awk -v want="$codename" 'BEGIN { RS = ""; FS = "\n" }
		{
			types = ""; uris = ""; suites = ""; enabled = "yes"
			for (i = 1; i <= NF; i++) {
				if ($i ~ /^#/) continue
				split($i, kv, ":")
				key = tolower(kv[1]); val = substr($i, length(kv[1]) + 2)
				gsub(/^[ \t]+|[ \t]+$/, "", val)
				if (key == "types") types = val
				else if (key == "uris") uris = val
				else if (key == "suites") suites = val
				else if (key == "enabled") enabled = tolower(val)
			}
			if (enabled == "no" || (" " types " ") !~ / deb /) next
			if ((" " suites " ") !~ (" " want " ")) next
			split(uris, u, " ")
			if (u[1] ~ /^https?:\/\//) { print u[1]; exit }
		}' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[ -r "$f" ] || continue
		awk -v want="$codename" '$1 == "deb" {
			i = 2
			if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
			if ($(i + 1) == want && $i ~ /^https?:\/\//) { print $i; exit }
		}' "$f"
	done
}

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Prints one field of the JSON on stdin, e.g. json_get value count.
json_get() {
	python3 -c 'import json, sys
d = json.load(sys.stdin)
for k in sys.argv[1:]:
    d = d[k]
print(d)' "$@"
}

# Runs the host's CLI against the container; the token comes from $TOKEN.
cli() {
	OFFSTAT_TOKEN=${TOKEN:-} "$CLI" --url "tcp://127.0.0.1:$PORT" \
	    --timeout 5s --output json "$@"
}

# Waits until the image's health check passes in container $1.
wait_healthy() {
	local i
	for i in $(seq 1 60); do
		if podman healthcheck run "$1" >/dev/null 2>&1; then
			return 0
		fi
		if [ "$(podman inspect -f '{{.State.Running}}' "$1" 2>/dev/null)" != true ]; then
			return 1
		fi
		sleep 0.5
	done
	return 1
}

# Stops container $1 with SIGTERM and checks a clean, quick exit.
stop_check() {
	local t0 t1 dt code
	t0=$(date +%s.%N)
	if ! podman stop -t "$KILL_TIMEOUT" "$1" >/dev/null 2>>"$WORK/podman.log"; then
		fail "podman stop failed"
		return
	fi
	t1=$(date +%s.%N)
	dt=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')
	code=$(podman inspect -f '{{.State.ExitCode}}' "$1")
	podman logs "$1" >"$WORK/$1.log" 2>&1
	if [ "$code" != 0 ]; then
		fail "exit code $code after SIGTERM (logs: $WORK/$1.log)"
	elif awk -v d="$dt" -v l="$STOP_LIMIT" 'BEGIN { exit !(d >= l) }'; then
		fail "took $dt s to stop (limit $STOP_LIMIT s, SIGKILL at $KILL_TIMEOUT s)"
	elif ! grep -q 'msg="stopped"' "$WORK/$1.log"; then
		fail "exit 0 but no 'stopped' line in its log"
	else
		pass "exit code 0 in $dt s (SIGKILL would have come at $KILL_TIMEOUT s); log: $(grep -o 'msg="stopping".*' "$WORK/$1.log" | head -1)"
	fi
}

# Container $1's log has a line matching $2. (Not podman logs | grep -q:
# with pipefail, grep's early exit fails the pipeline.)
log_has() {
	podman logs "$1" >"$WORK/$1.log" 2>&1
	grep -q -- "$2" "$WORK/$1.log"
}

# Starts a container named $1 on the volume; prints why it failed.
start_container() {
	podman run -d --name "$1" \
	    --volume "$VOL:/var/lib/offstat" \
	    --publish "127.0.0.1:$PORT:7355" \
	    "$IMAGE" >>"$WORK/podman.log" 2>&1 || return 1
	# Periodic checks need systemd timers, which this host may not have:
	# the checks below run the health check by hand.
	wait_healthy "$1"
}

trap cleanup EXIT
trap 'exit 1' INT TERM
mkdir -p "$WORK"
: >"$WORK/podman.log"

# --- 1. tools ----------------------------------------------------------------

step "tools: podman buildah runc debootstrap"
missing=""
for p in podman buildah runc debootstrap python3; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	SUDO=""
	[ "$(id -u)" -eq 0 ] || SUDO=sudo
	echo "installing:$missing"
	# shellcheck disable=SC2086
	{ $SUDO apt-get update -qq &&
	    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq \
	        --no-install-recommends $missing; } >"$WORK/apt.log" 2>&1 ||
	    fatal "apt-get install$missing failed (log: $WORK/apt.log)"
fi
[ -x "$CLI" ] || fatal "no $CLI: run 'make build' first"
pass "$(podman --version), $(buildah --version | cut -d' ' -f1-3), $(runc --version | head -1)"

# --- 2. containers.conf --------------------------------------------------------

step "containers.conf: runc, ulimits"
# crun fails on some hosts' cgroups; runc works. Only this script's podman
# and buildah read this file; the system's configuration is left alone.
export CONTAINERS_CONF=$WORK/containers.conf
cat >"$CONTAINERS_CONF" <<'EOF'
# Written by scripts/container-test.sh.
[containers]
default_ulimits = ["nofile=16384:16384", "nproc=4096:4096"]

[engine]
runtime = "runc"
EOF
rt=$(podman info --format '{{.Host.OCIRuntime.Name}}' 2>>"$WORK/podman.log")
if [ "$rt" = runc ]; then
	pass "$CONTAINERS_CONF (runtime $rt, $(podman info --format '{{.Store.GraphDriverName}}') storage)"
else
	fatal "podman uses runtime '$rt', not runc (log: $WORK/podman.log)"
fi

# --- 3. base image -----------------------------------------------------------

step "base image $BASE (debootstrap --variant=minbase)"
if podman image exists "$BASE"; then
	pass "cached: $(podman image inspect -f '{{.Created}}' "$BASE" | cut -d. -f1)"
else
	mirror=$(apt_mirror | head -1)
	[ -n "$mirror" ] || fatal "no Debian mirror found in the apt sources"
	echo "mirror from the apt sources: $mirror"
	script=$SUITE
	# An older debootstrap without a script for the suite: sid's fits.
	[ -e "/usr/share/debootstrap/scripts/$SUITE" ] ||
	    script=/usr/share/debootstrap/scripts/sid
	rootfs=$WORK/rootfs-$SUITE
	rm -rf "$rootfs"
	if ! debootstrap --variant=minbase "$SUITE" "$rootfs" "$mirror" \
	    "$script" >"$WORK/debootstrap.log" 2>&1; then
		tail -20 "$WORK/debootstrap.log"
		fatal "debootstrap failed (log: $WORK/debootstrap.log)"
	fi
	# What the official images drop: downloaded packages and lists.
	rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
	if tar --numeric-owner -C "$rootfs" -c . |
	    podman import --change 'CMD ["/bin/bash"]' - "$BASE" \
	        >>"$WORK/podman.log" 2>&1; then
		rm -rf "$rootfs"
		pass "imported, Debian $(podman run --rm "$BASE" cat /etc/debian_version 2>>"$WORK/podman.log")"
	else
		rm -rf "$rootfs"
		fatal "podman import failed (log: $WORK/podman.log)"
	fi
fi

# --- 4. build ----------------------------------------------------------------

step "build $IMAGE (buildah bud: compile and ctest on $SUITE, slim runtime)"
if buildah bud --isolation chroot --network host --pull-never --layers --force-rm \
    --format docker -f "$ROOT/docker/Dockerfile" -t "$IMAGE" "$ROOT" \
    >"$WORK/build.log" 2>&1; then
	tests=$(grep -E '^[0-9]+% tests passed' "$WORK/build.log" | tail -1)
	skipped=$(grep -c '\*\*\*Skipped' "$WORK/build.log")
	grep -E '^runtime packages:' "$WORK/build.log" | tail -1
	if grep -q -- '--> Using cache' "$WORK/build.log" && [ -z "$tests" ]; then
		tests="sources unchanged, ctest layer from the cache"
	fi
	pass "${tests:-no ctest summary in the log}${skipped:+, $skipped skipped}"
else
	grep -E 'tests passed|Failed|\*\*\*' "$WORK/build.log" | tail -20
	tail -30 "$WORK/build.log"
	fatal "buildah bud failed (log: $WORK/build.log)"
fi

step "image: non-root user, volume, port, health check, stop signal"
cfg=$(podman image inspect -f 'user={{.Config.User}} volumes={{range $k, $v := .Config.Volumes}}{{$k}} {{end}}ports={{range $k, $v := .Config.ExposedPorts}}{{$k}} {{end}}health={{.Config.Healthcheck.Test}} stop={{.Config.StopSignal}}' "$IMAGE")
size=$(podman image inspect -f '{{.Size}}' "$IMAGE")
echo "$cfg"
case $cfg in
user=root* | user=0* | "user= "*) fail "runs as root: $cfg" ;;
*"volumes=/var/lib/offstat "*"ports=7355/tcp "*"offstat-healthcheck"*"stop=SIGTERM"*)
	pass "$((size / 1000000)) MB" ;;
*) fail "unexpected configuration: $cfg" ;;
esac

# --- 5. run and query -------------------------------------------------------

PORT=$(free_port)
step "start on volume $VOL, port 127.0.0.1:$PORT -> 7355"
if start_container "$CTR"; then
	pass "$(podman logs "$CTR" 2>&1 | grep -o 'msg="ready".*' | head -1)"
else
	podman logs "$CTR" 2>&1 | tail -20
	fatal "container did not become healthy (log: $WORK/podman.log)"
fi

step "health check reports healthy"
if podman healthcheck run "$CTR" >>"$WORK/podman.log" 2>&1; then
	status=$(podman inspect -f '{{.State.Health.Status}}' "$CTR")
	if [ "$status" = healthy ]; then
		pass "podman healthcheck run: exit 0, status $status"
	else
		fail "podman healthcheck run: exit 0 but status '$status'"
	fi
else
	fail "podman healthcheck run failed"
fi

step "health check fails while offstatd does not answer (SIGSTOP)"
podman kill --signal STOP "$CTR" >>"$WORK/podman.log" 2>&1
t0=$(date +%s)
podman healthcheck run "$CTR" >>"$WORK/podman.log" 2>&1
rc=$?
podman kill --signal CONT "$CTR" >>"$WORK/podman.log" 2>&1
if [ "$rc" -ne 1 ]; then
	fail "podman healthcheck run: exit $rc for a stopped service, not 1 (unhealthy)"
elif ! wait_healthy "$CTR"; then
	fail "not healthy again after SIGCONT"
else
	pass "unhealthy (exit $rc) after $(($(date +%s) - t0)) s; healthy again after SIGCONT"
fi

step "offstatd is PID 1, not root, listening on 0.0.0.0"
pid1=$(podman exec "$CTR" cat /proc/1/comm 2>>"$WORK/podman.log")
uid1=$(podman exec "$CTR" awk '/^Uid:/ { print $2 }' /proc/1/status 2>>"$WORK/podman.log")
if [ "$pid1" = offstatd ] && [ -n "$uid1" ] && [ "$uid1" != 0 ] &&
    log_has "$CTR" 'msg="listening" url=tcp://0.0.0.0:7355'; then
	pass "PID 1 $pid1, uid $uid1"
else
	fail "PID 1 is '$pid1' with uid '$uid1'"
fi

step "from the host without a token: refused (reads need a reader token)"
TOKEN="" cli --quiet info >/dev/null 2>&1
rc=$?
# 36: UNAUTHENTICATED (16) + 20, see docs/CLI.md.
if [ "$rc" -eq 36 ]; then
	pass "offstat info: exit 36 (UNAUTHENTICATED)"
else
	fail "offstat info without a token: exit $rc, expected 36"
fi

step "reader token made in the container (offstatd token add)"
TOKEN=$(podman exec "$CTR" offstatd token add --role reader \
    --label container-test 2>>"$WORK/podman.log")
if [[ $TOKEN == ost_* ]]; then
	pass "token id ${TOKEN:4:8}"
else
	fatal "offstatd token add printed no token"
fi

step "from the host: offstat info and count dorset s15a 2020/21"
# The service re-reads the tokens file at most once a second.
for _ in $(seq 1 20); do
	info=$(cli info 2>"$WORK/cli.err") && break
	sleep 0.25
done
release=$(printf '%s' "${info:-}" | json_get release 2>/dev/null)
count=$(cli count dorset s15a 2020/21 2>>"$WORK/cli.err" | json_get value count 2>/dev/null)
if [ -n "$release" ] && [ "$count" = 62 ]; then
	pass "release '$release', Dorset S15A 2020/21 = $count"
else
	cat "$WORK/cli.err"
	fail "release '$release', count '$count' (expected 62)"
fi

step "offstatd import into the volume (new release)"
cat >"$WORK/import.csv" <<'EOF'
Financial Year,Financial Quarter,Force Name,Offence Description,Offence Group,Offence Subgroup,Offence Code,Number of Offences
2025/26,1,Dorset,Sexual grooming,Sexual offences,Other sexual offences,88A,17
EOF
if podman cp "$WORK/import.csv" "$CTR:/tmp/import.csv" 2>>"$WORK/podman.log" &&
    out=$(podman exec "$CTR" offstatd import --label container-test \
        /tmp/import.csv 2>&1) && [[ $out == *"release 2"* ]]; then
	pass "$out"
else
	fail "import: ${out:-podman cp failed}"
fi

# --- 6. stop and restart -------------------------------------------------------

step "SIGTERM (podman stop): clean exit"
stop_check "$CTR"

step "start again on the same volume, in a new container"
podman rm "$CTR" >>"$WORK/podman.log" 2>&1
if start_container "$CTR2"; then
	if log_has "$CTR2" "made the health check's reader token"; then
		fail "healthy, but the health check's token was made again"
	else
		pass "healthy; the health check's token was kept"
	fi
else
	podman logs "$CTR2" 2>&1 | tail -20
	fatal "container did not become healthy on the old volume"
fi

step "data survived: release, imported figure, token"
info=$(cli info 2>"$WORK/cli.err")
release2=$(printf '%s' "$info" | json_get release 2>/dev/null)
count2=$(cli count dorset 88A "2025/26 Q1" 2>>"$WORK/cli.err" | json_get value count 2>/dev/null)
count3=$(cli count dorset s15a 2020/21 2>>"$WORK/cli.err" | json_get value count 2>/dev/null)
if [[ $release2 == "2 (container-test)" ]] && [ "$count2" = 17 ] && [ "$count3" = 62 ]; then
	pass "release '$release2' (was '$release'), Dorset 88A 2025/26 Q1 = $count2, S15A 2020/21 = $count3, same token"
else
	cat "$WORK/cli.err"
	fail "release '$release2', 88A 2025/26 Q1 '$count2' (17), S15A '$count3' (62)"
fi

step "SIGTERM again: clean exit"
stop_check "$CTR2"

exit 0
