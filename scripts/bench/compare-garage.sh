#!/usr/bin/env bash
# Spread against Garage on this machine, in one sitting, alternating runs (A B A B ...), with the
# same number of copies on both sides and the same independent client workload
# (../shared/bench/s3-workload.sh, rclone). Prints one line per run; see docs/performance.md.
#
# usage: scripts/bench/compare-garage.sh [--copies 1|3] [--rounds N] [--setup-only] [--garage-fsync]
#   --garage-fsync  run Garage with metadata_fsync = true and data_fsync = true (Garage's defaults
#                   are false: it acknowledges writes it has not fsynced), for a comparison of
#                   durable against durable; Spread always fsyncs before it answers.
#   GARAGE_BIN   garage binary (default: garage on PATH, else /work/garage/bin/garage;
#                `cargo install --locked garage --root DIR` builds it)
#   SPREAD_BIN   spread binary (default: target/release/spread)
#   WORKLOAD     the workload script (default: ../shared/bench/s3-workload.sh)
# Loopback ports only; everything runs under a temporary directory removed at the end.
set -euo pipefail

cd "$(dirname "$0")/../.."
ROOT="$(pwd)"
COPIES=1
ROUNDS=2
SETUP_ONLY=0
GARAGE_FSYNC=false
while [[ $# -gt 0 ]]; do
    case "$1" in
    --copies) COPIES="$2"; shift 2 ;;
    --rounds) ROUNDS="$2"; shift 2 ;;
    --setup-only) SETUP_ONLY=1; shift ;;
    --garage-fsync) GARAGE_FSYNC=true; shift ;;
    *) echo "usage: $0 [--copies 1|3] [--rounds N] [--setup-only] [--garage-fsync]" >&2; exit 2 ;;
    esac
done
[[ "$COPIES" == 1 || "$COPIES" == 3 ]] || { echo "--copies must be 1 or 3" >&2; exit 2; }

GARAGE_BIN="${GARAGE_BIN:-$(command -v garage || echo /work/garage/bin/garage)}"
SPREAD_BIN="${SPREAD_BIN:-$ROOT/target/release/spread}"
WORKLOAD="${WORKLOAD:-$ROOT/../shared/bench/s3-workload.sh}"
for f in "$GARAGE_BIN" "$SPREAD_BIN"; do
    [[ -x "$f" ]] || { echo "not executable: $f" >&2; exit 2; }
done
[[ -f "$WORKLOAD" ]] || { echo "no workload script at $WORKLOAD" >&2; exit 2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/spread-vs-garage.XXXXXX")"
PIDS=()
cleanup() {
    local p
    for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do
        for _ in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$p" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
log() { echo "[compare] $*" >&2; }

# ---------------------------------------------------------------- Spread
S3_PORT=$(free_port)
SPREAD_AK="SPREADBENCHKEY000001"
SPREAD_SK="spread-bench-secret-$RANDOM$RANDOM"
"$SPREAD_BIN" dev --data-dir "$WORK/spread" --s3-listen "127.0.0.1:$S3_PORT" \
    --swift-listen "127.0.0.1:$(free_port)" --chunkd "$COPIES" --replicas "$COPIES" \
    --access-key "$SPREAD_AK" --secret-key "$SPREAD_SK" >"$WORK/spread.out" 2>"$WORK/spread.log" &
PIDS+=($!)
for _ in $(seq 1 300); do grep -q "S3 endpoint:" "$WORK/spread.out" 2>/dev/null && break; sleep 0.2; done
grep -q "S3 endpoint:" "$WORK/spread.out" || { echo "spread dev did not start" >&2; tail "$WORK/spread.log" >&2; exit 1; }
SPREAD_EP="http://127.0.0.1:$S3_PORT"
AWS_ACCESS_KEY_ID=$SPREAD_AK AWS_SECRET_ACCESS_KEY=$SPREAD_SK AWS_DEFAULT_REGION=us-east-1 \
    python3 - "$SPREAD_EP" <<'EOF'
import sys, boto3
boto3.client("s3", endpoint_url=sys.argv[1]).create_bucket(Bucket="bench")
EOF
log "spread: $SPREAD_EP, $COPIES copies"

# ---------------------------------------------------------------- Garage
SECRET="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
GARAGE_S3_PORT=""
for i in $(seq 1 "$COPIES"); do
    rpc=$(free_port) s3=$(free_port) admin=$(free_port)
    [[ -n "$GARAGE_S3_PORT" ]] || GARAGE_S3_PORT=$s3
    mkdir -p "$WORK/garage$i"
    cat >"$WORK/garage$i/garage.toml" <<EOF
metadata_dir = "$WORK/garage$i/meta"
data_dir = "$WORK/garage$i/data"
db_engine = "lmdb"
metadata_fsync = $GARAGE_FSYNC
data_fsync = $GARAGE_FSYNC
replication_factor = $COPIES
rpc_bind_addr = "127.0.0.1:$rpc"
rpc_public_addr = "127.0.0.1:$rpc"
rpc_secret = "$SECRET"

[s3_api]
s3_region = "us-east-1"
api_bind_addr = "127.0.0.1:$s3"
root_domain = ".s3.garage.localhost"

[admin]
api_bind_addr = "127.0.0.1:$admin"
EOF
    "$GARAGE_BIN" -c "$WORK/garage$i/garage.toml" server >"$WORK/garage$i/log" 2>&1 &
    PIDS+=($!)
done
G="$GARAGE_BIN -c $WORK/garage1/garage.toml"
for _ in $(seq 1 100); do $G status >/dev/null 2>&1 && break; sleep 0.2; done
node_ids=()
for i in $(seq 1 "$COPIES"); do
    id=$("$GARAGE_BIN" -c "$WORK/garage$i/garage.toml" node id -q 2>/dev/null)
    node_ids+=("$id")
done
for id in "${node_ids[@]:1}"; do $G node connect "$id" >/dev/null; done
for id in "${node_ids[@]}"; do $G layout assign -z dc1 -c 10G "${id%@*}" >/dev/null; done
$G layout apply --version 1 >/dev/null
key_out=$($G key create bench)
GARAGE_AK=$(echo "$key_out" | sed -n 's/^Key ID: *//p' | head -1)
GARAGE_SK=$(echo "$key_out" | sed -n 's/^Secret key: *//p' | head -1)
[[ -n "$GARAGE_AK" && -n "$GARAGE_SK" ]] || { echo "could not read Garage's key:" >&2; echo "$key_out" >&2; exit 1; }
$G bucket create bench >/dev/null
$G bucket allow --read --write --owner bench --key bench >/dev/null
GARAGE_EP="http://127.0.0.1:$GARAGE_S3_PORT"
log "garage: $GARAGE_EP, $COPIES node(s), replication_factor $COPIES, fsync $GARAGE_FSYNC"

if [[ "$SETUP_ONLY" == 1 ]]; then
    echo "spread $SPREAD_EP $SPREAD_AK $SPREAD_SK"
    echo "garage $GARAGE_EP $GARAGE_AK $GARAGE_SK"
    log "both clusters up; Ctrl-C (or SIGTERM to $$) stops them and removes $WORK"
    trap 'kill $! 2>/dev/null; exit 0' INT TERM
    while true; do sleep 3600 & wait $!; done
fi

echo "# $(date -u +%FT%TZ) copies=$COPIES rounds=$ROUNDS garage_fsync=$GARAGE_FSYNC load=$(cut -d' ' -f1-3 /proc/loadavg) $(nproc) cores; $(uname -r)"
for r in $(seq 1 "$ROUNDS"); do
    echo "spread round=$r $(bash "$WORKLOAD" "$SPREAD_EP" "$SPREAD_AK" "$SPREAD_SK" bench)"
    echo "garage round=$r $(bash "$WORKLOAD" "$GARAGE_EP" "$GARAGE_AK" "$GARAGE_SK" bench)"
done
