#!/usr/bin/env bash
# The operational surface of a running passerelled, end to end: the daemon is started on the
# embedded Kafka broker with Redis unreachable (so it is alive but not ready), then
#   - GET /healthz is 200, GET /readyz is 503 and names redis, GET /metrics is Prometheus text;
#   - every metric family it exposes is documented in docs/operations.md, and the runbook names
#     no passerelle_* metric that does not exist;
#   - every log line on stderr has a journald priority prefix and key=value fields;
#   - systemd notifications (to a stand-in NOTIFY_SOCKET): STATUS= lines, never READY=1 while not
#     ready, STOPPING=1 on SIGTERM, after which the daemon exits 0.
# Exit 77 (reported by ctest as skipped) when passerelled is not built.
# Usage: ops_scrape.sh SOURCE_DIR BUILD_DIR
set -uo pipefail
src=$(cd "${1:?source dir}" && pwd)
build=$(cd "${2:?build dir}" && pwd)
daemon="$build/passerelled"
[ -x "$daemon" ] || { echo "passerelled is not built: skipped"; exit 77; }

work=$(mktemp -d /tmp/px-scrape-XXXXXX)
daemon_pid="" listener_pid=""
cleanup() {
  [ -n "$daemon_pid" ] && kill "$daemon_pid" 2>/dev/null
  [ -n "$listener_pid" ] && kill "$listener_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
failures=0
fail() { echo "FAIL: $*"; failures=$((failures + 1)); }
ok() { echo "ok: $*"; }

# A port nobody listens on: bind-and-release is racy, so use one the kernel refuses (port 1 needs
# root to bind, and nothing here listens on it).
cat >"$work/passerelled.conf" <<CONF
[kafka]
bootstrap.servers = embedded
[redis]
url = redis://127.0.0.1:1/0
[http]
address = 127.0.0.1
port = 0
[log]
level = info
CONF

"$build/notify_listener" "$work/notify" 120 >"$work/notify.log" &
listener_pid=$!
for _ in $(seq 50); do [ -S "$work/notify" ] && break; sleep 0.1; done
NOTIFY_SOCKET="$work/notify" "$daemon" --config "$work/passerelled.conf" >"$work/stdout" 2>"$work/stderr" &
daemon_pid=$!

port=""
for _ in $(seq 200); do
  port=$(sed -n 's/.*msg="metrics and health listening".* port=\([0-9]*\).*/\1/p' "$work/stderr" | head -1)
  [ -n "$port" ] && break
  kill -0 "$daemon_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  cat "$work/stderr"
  echo "FAIL: passerelled did not report its HTTP port"
  exit 1
fi

# GET PATH → "$work/response" (status line, headers, body), via bash's /dev/tcp.
http_get() {
  exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
  printf 'GET %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' "$1" >&3
  timeout 10 cat <&3 >"$work/response"
  exec 3<&-
}
status_of() { head -1 "$work/response" | awk '{ print $2 }'; }
body_of() { sed '1,/^\r$/d' "$work/response"; }

http_get /healthz
[ "$(status_of)" = 200 ] && ok "/healthz 200" || fail "/healthz answered $(head -1 "$work/response")"
http_get /readyz
[ "$(status_of)" = 503 ] && body_of | grep -q redis && ok "/readyz 503: $(body_of | tr -d '\n')" ||
  fail "/readyz answered $(head -1 "$work/response") $(body_of)"
http_get /metrics
body_of >"$work/metrics"
if [ "$(status_of)" = 200 ] && grep -qi '^Content-Type: text/plain; version=0.0.4' "$work/response" &&
   grep -q '^# TYPE passerelle_' "$work/metrics"; then
  ok "/metrics 200, Prometheus text ($(grep -c '^# TYPE' "$work/metrics") families)"
else
  fail "/metrics answered $(head -1 "$work/response")"
fi

# The runbook documents exactly the metrics the daemon exposes.
doc="$src/docs/operations.md"
while read -r _ _ name type; do
  grep -q "\`$name\`" "$doc" && ok "documented: $name ($type)" || fail "docs/operations.md does not document $name"
done < <(grep '^# TYPE ' "$work/metrics")
for name in $(grep -o '`passerelle_[a-z_]*' "$doc" | tr -d '`' | sort -u); do
  base=$(echo "$name" | sed -E 's/_(bucket|sum|count)$//')
  grep -q "^# TYPE $name " "$work/metrics" || grep -q "^# TYPE $base histogram" "$work/metrics" ||
    fail "docs/operations.md names $name, which passerelled does not expose"
done

# Wait for at least one periodic STATUS= line, then stop.
for _ in $(seq 100); do grep -q 'STATUS=' "$work/notify.log" && break; sleep 0.1; done
kill -TERM "$daemon_pid"
rc=""
for _ in $(seq 300); do
  if ! kill -0 "$daemon_pid" 2>/dev/null; then wait "$daemon_pid"; rc=$?; break; fi
  sleep 0.1
done
daemon_pid_was=$daemon_pid
daemon_pid=""
[ "$rc" = 0 ] && ok "SIGTERM: exit status 0" || { kill -9 "$daemon_pid_was" 2>/dev/null; fail "SIGTERM: exit status '${rc:-still running after 30 s}'"; }
sleep 0.3
grep -q 'STATUS=' "$work/notify.log" && ok "STATUS= sent: $(grep -m1 -o 'STATUS=[^|]*' "$work/notify.log")" || fail "no STATUS= notification"
grep -q 'STOPPING=1' "$work/notify.log" && ok "STOPPING=1 sent on SIGTERM" || fail "no STOPPING=1 notification"
grep -q 'READY=1' "$work/notify.log" && fail "READY=1 sent although Redis was unreachable" || ok "no READY=1 while not ready"

bad=$(grep -vcE '^<[3467]>level=(err|warning|info|debug) msg=' "$work/stderr")
[ "$bad" = 0 ] && ok "all $(wc -l <"$work/stderr") log lines have a priority prefix and key=value fields" ||
  { grep -vE '^<[3467]>level=(err|warning|info|debug) msg=' "$work/stderr" | head -5; fail "$bad log line(s) without the format"; }

if [ $failures -ne 0 ]; then
  echo "--- stderr"; cat "$work/stderr"; echo "--- notifications"; cat "$work/notify.log"
  echo "$failures check(s) failed"
  exit 1
fi
echo "operational surface checks passed"
