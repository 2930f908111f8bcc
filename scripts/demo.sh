#!/usr/bin/env bash
# The main job, on the embedded default: installs the dependencies, builds, starts a local
# redis-server (unless PASSERELLE_REDIS_URL names one), publishes the ROME index, starts
# passerelled with its embedded Kafka broker, sends the profiles and skill confirmations of a few
# people with different pasts and constraints, and prints their suggestions readably.
#   PASSERELLE_ROME_DIR   the official ROME export (default: ../shared/data/rome4 beside the repo)
#   PASSERELLE_REDIS_URL  use this Redis instead of starting one
#   PASSERELLE_BUILD_DIR  an existing build to use (default: build/ beside the sources, built here)
# Every port is chosen free (Redis, metrics; the embedded broker takes ephemeral ones), so demos
# run side by side; the ports picked are printed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rome_dir=${PASSERELLE_ROME_DIR:-$root/../shared/data/rome4}
build=${PASSERELLE_BUILD_DIR:-$root/build}
work=$(mktemp -d)
daemon_pid= redis_pid=
cleanup() {
    [ -n "$daemon_pid" ] && kill -TERM "$daemon_pid" 2>/dev/null && wait "$daemon_pid" 2>/dev/null
    [ -n "$redis_pid" ] && kill "$redis_pid" 2>/dev/null && wait "$redis_pid" 2>/dev/null
    [ -n "${PASSERELLE_DEMO_KEEP:-}" ] && echo "demo files kept in $work" || rm -rf "$work"
}
trap cleanup EXIT
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null ||
              node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }

step "Dependencies and build"
bash "$root/deploy/install-deps.sh"
if [ -z "${PASSERELLE_BUILD_DIR:-}" ]; then
    mkdir -p "$build"
    # Two demos started together build one tree: the second waits for the first's build.
    (
        flock 9
        cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPASSERELLE_ROME_DIR="$rome_dir" >/dev/null
        cmake --build "$build" -j 2 --target passerelled passerelle-cli >/dev/null
    ) 9>"$build/.demo-build.lock"
fi
px=$build/passerelle

step "ROME index"
[ -r "$rome_dir/SOURCE.md" ] || { echo "no ROME export in $rome_dir (see README: getting the ROME data)" >&2; exit 1; }
"$px" rome build --rome "$rome_dir" -o "$work/rome.snap"
"$px" rome info --snapshot "$work/rome.snap"

if [ -n "${PASSERELLE_REDIS_URL:-}" ]; then
    redis_url=$PASSERELLE_REDIS_URL
else
    port=$(free_port)
    redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no --dir "$work" >"$work/redis.log" 2>&1 &
    redis_pid=$!
    redis_url=redis://127.0.0.1:$port/0
    for _ in $(seq 50); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done
fi
step "Publishing the index to $redis_url"
"$px" rome publish --redis "$redis_url" --snapshot "$work/rome.snap"

http_port=$(free_port)
step "Starting passerelled (embedded Kafka; metrics and health on port $http_port)"
# The example configuration with this demo's Redis and a free metrics port ([http] port).
sed -e "s|^url = .*|url = $redis_url|" \
    -e "/^\[http\]/,/^\[/s|^port = .*|port = $http_port|" "$root/config/passerelled.conf" >"$work/passerelled.conf"
"$build/passerelled" --config "$work/passerelled.conf" >"$work/daemon.out" 2>"$work/daemon.log" &
daemon_pid=$!
for _ in $(seq 200); do grep -q 'msg=ready' "$work/daemon.log" && break; sleep 0.1; done
grep -q 'msg=ready' "$work/daemon.log" || { cat "$work/daemon.log" >&2; exit 1; }
brokers=$(sed -n 's/.*bootstrap.servers=//p' "$work/daemon.out")
echo "broker at $brokers; Redis at $redis_url; metrics at http://127.0.0.1:$http_port/metrics"
echo "daemon log: $(grep -c . "$work/daemon.log") lines so far"

step "Five people send their profiles (one of them malformed)"
"$px" send --brokers "$brokers" --topic passerelle.profile.v1 "$root/scripts/demo/profiles.jsonl"
tail_suggestions() { # tail_suggestions COUNT: the first COUNT answers on the suggestions topic
    "$px" tail --brokers "$brokers" --topic passerelle.suggestions.v1 --from-beginning --count "$1" --timeout-ms 30000
}
step "What passerelle answered: competences to confirm, occupations to move to"
# 4 valid profiles × (skills.suggested + jobs.suggested)
tail_suggestions 8 >"$work/first.jsonl"
"$px" explain --snapshot "$work/rome.snap" --max 4 "$work/first.jsonl"

step "Amina and Chloé confirm or add competences; David asks to be forgotten"
"$px" send --brokers "$brokers" --topic passerelle.skills.v1 <(grep skills.confirmed "$root/scripts/demo/confirmations.jsonl")
"$px" send --brokers "$brokers" --topic passerelle.profile.v1 <(grep profile.erased "$root/scripts/demo/confirmations.jsonl")
step "The new answers: rankings with their decisions, and a tombstone"
tail_suggestions 11 | grep -E '"answers":"demo-(amina|chloe)-2"|"tombstone":true' >"$work/second.jsonl"
"$px" explain --snapshot "$work/rome.snap" --max 4 "$work/second.jsonl"

step "What went to the dead-letter queue (passerelle.dlq.v1)"
"$px" tail --brokers "$brokers" --topic passerelle.dlq.v1 --from-beginning --count 1 --timeout-ms 10000 >"$work/dlq.jsonl"
"$px" explain --snapshot "$work/rome.snap" "$work/dlq.jsonl"
step "Done"
echo "Source : France Travail, ROME 4.0 version 60 (Licence Ouverte ROME)"
