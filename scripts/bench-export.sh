#!/usr/bin/env bash
# Measures a large HTTP export end to end: ingests N events (default 1,000,000) into a fresh
# release server, then times CSV and NDJSON exports of all of them and reports the server's
# resident memory before and its peak (VmHWM) after. Usage: scripts/bench-export.sh [N]
# With SEALTRAIL_BENCH_DATABASE=postgres://… the server keeps the log in that (empty)
# PostgreSQL database instead of the embedded one.
set -euo pipefail
cd "$(dirname "$0")/.."
N="${1:-1000000}"
cargo build --release --quiet
BIN="$PWD/target/release/sealtrail"
WORK="$(mktemp -d)"
trap 'kill "$SERVER" 2>/dev/null || true; rm -rf "$WORK"' EXIT

DB_ARGS=()
if [ -n "${SEALTRAIL_BENCH_DATABASE:-}" ]; then DB_ARGS=(--database "$SEALTRAIL_BENCH_DATABASE"); fi
"$BIN" serve --listen 127.0.0.1:0 --data-dir "$WORK/data" --no-nightly-prune "${DB_ARGS[@]}" >"$WORK/out" 2>"$WORK/err" &
SERVER=$!
for _ in $(seq 100); do grep -q SEALTRAIL_KEY "$WORK/out" 2>/dev/null && break; sleep 0.1; done
eval "$(grep export "$WORK/out")"

python3 - "$N" >"$WORK/events.ndjson" <<'PY'
import json, sys, random
random.seed(7)
n = int(sys.argv[1])
actions = ["user.created", "user.updated", "doc.viewed", "doc.deleted", "invoice.approved", "auth.login"]
for i in range(n):
    print(json.dumps({
        "action": actions[i % len(actions)],
        "channel": ["web", "api", "cli"][i % 3],
        "description": f"Event {i} on record {random.randrange(100000)} by Zoë Martin",
        "actor": {"id": f"u{i % 997}", "email": f"user{i % 997}@example.com", "name": f"User {i % 997}"},
        "targets": [{"type": "document", "id": str(i % 50000), "name": f"Doc {i % 50000}"}],
        "context": {"ip": f"10.0.{i % 256}.{(i // 256) % 256}"},
        "properties": {"site": ["Berlin", "Paris", "Lisbon"][i % 3], "n": i},
    }, separators=(",", ":")))
PY

t0=$(date +%s.%N)
"$BIN" ingest "$WORK/events.ndjson" --batch-size 1000 --no-idempotency 2>"$WORK/ingest.log" || true
t1=$(date +%s.%N)
rss() { awk -v k="$1" '$1 == k":" {print $2}' "/proc/$SERVER/status"; }
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {print int($2/1024)" MiB"}' /proc/meminfo)"
echo "ingest: $N events in $(echo "$t1 - $t0" | bc) s ($(tail -1 "$WORK/ingest.log"))"
echo "server RSS after ingest: $(( $(rss VmRSS) / 1024 )) MiB, peak so far $(( $(rss VmHWM) / 1024 )) MiB"
for format in csv ndjson; do
    before=$(rss VmRSS)
    # Sample the server's resident memory while the export runs; the maximum is the figure.
    ( max=0; while kill -0 "$SERVER" 2>/dev/null; do r=$(rss VmRSS); [ "$r" -gt "$max" ] && max=$r && echo "$max" >"$WORK/max"; sleep 0.05; done ) &
    SAMPLER=$!
    t0=$(date +%s.%N)
    "$BIN" export --format "$format" -o "$WORK/export.$format" 2>/dev/null
    t1=$(date +%s.%N)
    kill "$SAMPLER"; wait "$SAMPLER" 2>/dev/null || true
    peak=$(cat "$WORK/max")
    size=$(stat -c %s "$WORK/export.$format")
    rows=$(wc -l <"$WORK/export.$format")
    echo "export $format: $(echo "$t1 - $t0" | bc) s, $((size / 1024 / 1024)) MiB, $rows lines; server RSS before $((before / 1024)) MiB, max during $((peak / 1024)) MiB (+$(( (peak - before) / 1024 )) MiB)"
    rm -f "$WORK/export.$format"
done
