#!/usr/bin/env bash
# Checks the deployment files in deploy/:
#   1. every systemd unit in deploy/systemd/ passes `systemd-analyze verify` with no message at
#      all (verify exits 0 on an unknown key, so any output fails), with the binary in place at
#      /usr/local/bin/spread, and `systemd-analyze security` rates its exposure 2.5 or less;
#      the sysusers file creates the user (in a temporary root);
#   2. every manifest in deploy/k8s/ validates against the Kubernetes schemas shipped by the
#      PyPI package kubernetes-validate, in strict mode (unknown fields fail);
#   3. the example configs (deploy/systemd/config/*.toml, and the ConfigMap rendered by the
#      pods' own start commands in deploy/k8s/) are run by the real binary: meta, a chunk
#      server and a gateway on loopback with only their addresses and paths replaced (and the
#      gateway's replicas set to 1, for the one chunk server), until all three answer ready,
#      the chunk server is registered with meta and an object is stored on it and read back;
#      the meta group of the Kubernetes manifests is formed by the join Job's own script.
# Each check is run once on a broken copy too (a typo in a unit, an unknown field in a
# manifest), which must fail: a check that cannot fail is no check.
#
# Usage: bash scripts/deploy-check.sh   (SPREAD_BIN: the binary, default target/release/spread;
#        VENV: the Python venv to install kubernetes-validate into, default .venv)
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT="$(pwd)"
BIN="$(realpath "${SPREAD_BIN:-$ROOT/target/release/spread}")"
VENV="${VENV:-$ROOT/.venv}"
KUBERNETES_VALIDATE_VERSION=1.37.0
WORK="$(mktemp -d "${TMPDIR:-/tmp}/spread-deploy-check.XXXXXX")"
PIDS=()
INSTALLED_LINK=""
FAILURES=0

say() { echo "deploy-check: $*"; }
fail() {
    echo "deploy-check: FAIL: $*" >&2
    FAILURES=$((FAILURES + 1))
}
stop_processes() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        for _ in $(seq 1 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    PIDS=()
}
cleanup() {
    stop_processes
    if [[ -n "$INSTALLED_LINK" ]]; then rm -f "$INSTALLED_LINK"; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

if [[ ! -x "$BIN" ]]; then
    echo "deploy-check: no spread binary at $BIN (cargo build --release first)" >&2
    exit 1
fi

# ---------------------------------------------------------------- 1. systemd units
if ! command -v systemd-analyze >/dev/null; then
    say "installing systemd (for systemd-analyze)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq systemd >/dev/null
fi

# The units start /usr/local/bin/spread: put this build there unless another binary is
# installed, in which case copies of the units name this build instead.
UNIT_DIR="$ROOT/deploy/systemd"
EXEC=/usr/local/bin/spread
if [[ ! -e "$EXEC" && ! -L "$EXEC" ]]; then
    mkdir -p /usr/local/bin
    ln -s "$BIN" "$EXEC"
    INSTALLED_LINK="$EXEC"
elif [[ "$(realpath "$EXEC")" != "$BIN" ]]; then
    say "$EXEC is another binary: verifying copies of the units that start $BIN"
    UNIT_DIR="$WORK/units"
    mkdir -p "$UNIT_DIR"
    for unit in "$ROOT"/deploy/systemd/*.service; do
        sed "s#$EXEC #$BIN #" "$unit" >"$UNIT_DIR/$(basename "$unit")"
    done
fi

# verify UNIT_FILE: succeeds only when systemd-analyze verify says nothing and exits 0.
verify_unit() {
    local out rc=0
    out="$(systemd-analyze verify "$1" 2>&1)" || rc=$?
    if [[ "$rc" != 0 || -n "$out" ]]; then
        printf '%s\n' "$out"
        return 1
    fi
}

units=("$UNIT_DIR"/*.service)
if [[ "${#units[@]}" -lt 3 ]]; then
    fail "expected the meta, chunkd and gateway units in deploy/systemd/, found ${#units[@]}"
fi
for unit in "${units[@]}"; do
    if out="$(verify_unit "$unit")"; then
        say "ok: systemd-analyze verify $(basename "$unit")"
    else
        fail "systemd-analyze verify $(basename "$unit"):"$'\n'"$out"
    fi
done

# Hardening: systemd's own exposure score (0 best .. 10) must stay at 2.5 or below.
security() {
    systemd-analyze security --offline=yes --threshold=25 --no-pager "$1" >/dev/null 2>&1
}
for unit in "${units[@]}"; do
    if security "$unit"; then
        say "ok: systemd-analyze security $(basename "$unit"): exposure at most 2.5"
    else
        fail "systemd-analyze security $(basename "$unit"): exposure above 2.5:"$'\n'"$(
            systemd-analyze security --offline=yes --no-pager "$unit" 2>&1 | tail -n 1)"
    fi
done

# The broken copies must fail: an unknown key, a bad value, a binary that is not there, a
# unit without its hardening.
mkdir -p "$WORK/broken"
broken="$WORK/broken/spread-meta.service"
sed 's/^Restart=on-failure/Restrat=on-failure/' "$UNIT_DIR/spread-meta.service" >"$broken"
if verify_unit "$broken" >/dev/null; then fail "a unit with the key Restrat= passed verify"; fi
sed 's/^ProtectSystem=strict/ProtectSystem=strictly/' "$UNIT_DIR/spread-meta.service" >"$broken"
if verify_unit "$broken" >/dev/null; then fail "a unit with ProtectSystem=strictly passed verify"; fi
sed "s#^ExecStart=[^ ]*#ExecStart=$WORK/no-such-binary#" "$UNIT_DIR/spread-meta.service" >"$broken"
if verify_unit "$broken" >/dev/null; then fail "a unit starting a missing binary passed verify"; fi
grep -v -E '^(Protect|Private|Restrict|NoNew|Lock|Memory|SystemCall|Capability)' \
    "$UNIT_DIR/spread-meta.service" >"$broken"
if security "$broken"; then fail "a unit without its hardening passed systemd-analyze security"; fi

mkdir -p "$WORK/sysroot/etc"
if systemd-sysusers --root="$WORK/sysroot" "$ROOT/deploy/systemd/spread.sysusers.conf" >/dev/null 2>&1 &&
    grep -q '^spread:' "$WORK/sysroot/etc/passwd"; then
    say "ok: spread.sysusers.conf creates the user spread"
else
    fail "systemd-sysusers did not create the user spread from spread.sysusers.conf"
fi

# ---------------------------------------------------------------- 2. Kubernetes manifests
if [[ ! -x "$VENV/bin/python" ]]; then
    python3 -m venv "$VENV"
fi
if ! "$VENV/bin/kubernetes-validate" --version 2>/dev/null | grep -q "$KUBERNETES_VALIDATE_VERSION"; then
    say "pip install kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check \
        "kubernetes-validate==$KUBERNETES_VALIDATE_VERSION"
fi
manifests=("$ROOT"/deploy/k8s/*.yaml)
for m in "${manifests[@]}"; do
    if out="$("$VENV/bin/kubernetes-validate" --strict --quiet "$m" 2>&1)" && [[ -z "$out" ]]; then
        say "ok: kubernetes-validate --strict $(basename "$m")"
    else
        fail "kubernetes-validate --strict $(basename "$m"):"$'\n'"$out"
    fi
done
sed 's/^\( *\)periodSeconds:/\1periodSecond:/' "$ROOT/deploy/k8s/gateway.yaml" >"$WORK/broken/gateway.yaml"
if "$VENV/bin/kubernetes-validate" --strict --quiet "$WORK/broken/gateway.yaml" >/dev/null 2>&1; then
    fail "a manifest with the unknown field periodSecond passed kubernetes-validate"
fi

# ---------------------------------------------------------------- 3. configs, run for real
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# set_keys FILE KEY VALUE...: replaces the line `KEY = ...` (or appends one); VALUE is TOML.
set_keys() {
    local file="$1" key value
    shift
    while [[ $# -ge 2 ]]; do
        key="$1" value="$2"
        shift 2
        if grep -q "^$key = " "$file"; then
            python3 - "$file" "$key" "$value" <<'PY'
import sys
path, key, value = sys.argv[1:]
lines = open(path).read().splitlines()
lines = [f"{key} = {value}" if l.startswith(f"{key} = ") else l for l in lines]
open(path, "w").write("\n".join(lines) + "\n")
PY
        else
            echo "$key = $value" >>"$file"
        fi
    done
}
# wait_http URL SECONDS PID LOG: until URL answers 200, the process dies, or time runs out.
wait_http() {
    local url="$1" secs="$2" pid="$3" log="$4"
    for _ in $(seq 1 $((secs * 5))); do
        if curl -fsS -o /dev/null --max-time 2 "$url" 2>/dev/null; then return 0; fi
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "--- the process exited; its log:" >&2
            tail -n 20 "$log" >&2
            return 1
        fi
        sleep 0.2
    done
    echo "--- $url did not answer 200 within ${secs}s; log:" >&2
    tail -n 20 "$log" >&2
    return 1
}

# run_trio NAME META_TOML CHUNKD_TOML GATEWAY_TOML: copies the three configs, points their
# addresses and paths at loopback ports and a temporary directory (every other key is kept),
# starts them, and waits until each answers ready and the chunk server shows in meta.
run_trio() {
    local name="$1" dir="$WORK/run-$1"
    mkdir -p "$dir/keys" "$dir/logs"
    "$BIN" keygen "$dir/keys/cluster.key" >/dev/null
    "$BIN" keygen "$dir/keys/admin.key" >/dev/null
    printf 'k1 %s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$dir/keys/master.key"
    chmod 600 "$dir/keys/master.key"
    local meta_port chunkd_port s3_port swift_port admin_port
    meta_port="$(free_port)" chunkd_port="$(free_port)" s3_port="$(free_port)"
    swift_port="$(free_port)" admin_port="$(free_port)"
    cp "$2" "$dir/meta.toml"
    cp "$3" "$dir/chunkd.toml"
    cp "$4" "$dir/gateway.toml"
    # Host names where the examples have them, so meta's address must be resolved.
    set_keys "$dir/meta.toml" listen "\"127.0.0.1:$meta_port\"" advertise "\"localhost:$meta_port\"" \
        data_dir "\"$dir/meta\"" cluster_key_file "\"$dir/keys/cluster.key\"" \
        admin_key_file "\"$dir/keys/admin.key\"" master_key_file "\"$dir/keys/master.key\"" \
        group_peers "[]"
    # (group_peers: the examples' other meta hosts are not on this machine, and the test
    # reaches loopback only.)
    set_keys "$dir/chunkd.toml" listen "\"127.0.0.1:$chunkd_port\"" \
        advertise "\"localhost:$chunkd_port\"" volume "\"$dir/chunkd\"" \
        meta "\"localhost:$meta_port\"" cluster_key_file "\"$dir/keys/cluster.key\""
    set_keys "$dir/gateway.toml" s3_listen "\"127.0.0.1:$s3_port\"" \
        swift_listen "\"127.0.0.1:$swift_port\"" meta "\"localhost:$meta_port\"" \
        admin_addr "\"127.0.0.1:$admin_port\"" access_log "\"$dir/logs/access.log\"" \
        cluster_key_file "\"$dir/keys/cluster.key\"" replicas 1

    "$BIN" meta --config "$dir/meta.toml" >"$dir/logs/meta.log" 2>&1 &
    PIDS+=($!)
    wait_http "http://127.0.0.1:$meta_port/ready" 30 "${PIDS[-1]}" "$dir/logs/meta.log" ||
        { fail "$name: meta did not start with its config"; stop_processes; return; }
    "$BIN" chunkd --config "$dir/chunkd.toml" >"$dir/logs/chunkd.log" 2>&1 &
    PIDS+=($!)
    wait_http "http://127.0.0.1:$chunkd_port/ready" 30 "${PIDS[-1]}" "$dir/logs/chunkd.log" ||
        { fail "$name: chunkd did not become ready with its config"; stop_processes; return; }
    "$BIN" gateway --config "$dir/gateway.toml" >"$dir/logs/gateway.log" 2>&1 &
    PIDS+=($!)
    wait_http "http://127.0.0.1:$admin_port/ready" 30 "${PIDS[-1]}" "$dir/logs/gateway.log" ||
        { fail "$name: the gateway did not become ready with its config"; stop_processes; return; }
    # The chunk server heartbeats with the cluster secret; an operator sees it (signed with
    # the admin secret, no cluster.toml) and can admit it.
    local listed=0
    for _ in $(seq 1 50); do
        if SPREAD_META="localhost:$meta_port" SPREAD_ADMIN_KEY_FILE="$dir/keys/admin.key" \
            "$BIN" admin --cluster "$dir/none.toml" cluster list 2>/dev/null |
            grep -q "localhost:$chunkd_port"; then
            listed=1
            break
        fi
        sleep 0.2
    done
    if [[ "$listed" != 1 ]]; then
        fail "$name: the chunk server never showed in \`spread admin cluster list\`"
        tail -n 20 "$dir/logs/chunkd.log" >&2
        stop_processes
        return
    fi
    # An object written and read back through the gateway (one copy: one chunk server here),
    # its chunk sent to the chunk server at the host name it announced.
    local admin=(env "SPREAD_META=localhost:$meta_port" "SPREAD_ADMIN_KEY_FILE=$dir/keys/admin.key"
        "$BIN" admin --cluster "$dir/none.toml")
    local aws=(env -u AWS_CA_BUNDLE -u AWS_PROFILE AWS_ACCESS_KEY_ID=DEPLOYCHECKACCESS001
        AWS_SECRET_ACCESS_KEY=deploy-check-secret-key-0123456789 AWS_DEFAULT_REGION=us-east-1
        AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
        "$VENV/bin/aws" --endpoint-url "http://127.0.0.1:$s3_port")
    head -c 300000 /dev/urandom >"$dir/object"
    local stored=0
    if "${admin[@]}" cluster unlock-all >/dev/null && "${admin[@]}" account create check >/dev/null &&
        "${admin[@]}" key create check --access-key DEPLOYCHECKACCESS001 \
            --secret-key deploy-check-secret-key-0123456789 >/dev/null &&
        "${aws[@]}" s3 mb s3://deploy-check >/dev/null; then
        # Until the admitted server's score has risen above 0 and the gateway has seen it.
        for _ in $(seq 1 30); do
            if "${aws[@]}" s3 cp "$dir/object" s3://deploy-check/object >/dev/null 2>&1; then
                stored=1
                break
            fi
            sleep 1
        done
    fi
    if [[ "$stored" == 1 ]] && "${aws[@]}" s3 cp s3://deploy-check/object "$dir/back" >/dev/null &&
        cmp -s "$dir/object" "$dir/back" &&
        [[ -n "$(find "$dir/chunkd" -path '*/[0-9a-f][0-9a-f][0-9a-f]/*' -type f -size +290k)" ]]; then
        say "ok: $name configs: meta, chunkd and gateway ready, an object stored on the chunk server and read back"
    else
        fail "$name: no object could be stored and read back through the example configs"
        tail -n 20 "$dir/logs/gateway.log" >&2
    fi
    stop_processes
}

run_trio systemd "$ROOT/deploy/systemd/config/meta.toml" \
    "$ROOT/deploy/systemd/config/chunkd-0.toml" "$ROOT/deploy/systemd/config/gateway.toml"

# The Kubernetes configs as the pods write them: a container's own start command, run with
# the ConfigMap's files in place and `exec spread ...` left out (render WORKLOAD POD OUT_DIR).
# The join Job's script is run as it is, against loopback nodes (render spread-meta-join -
# OUT_DIR, with META_ADDR_2 and META_ADDR_3 naming the nodes).
K8S="$WORK/k8s"
mkdir -p "$K8S/etc"
cat >"$K8S/render.py" <<'EOF'
import os, subprocess, sys, yaml

src, etc, workload, pod, out = sys.argv[1:]
docs = []
for name in sorted(os.listdir(src)):
    if name.endswith(".yaml"):
        with open(os.path.join(src, name)) as f:
            docs += [d for d in yaml.safe_load_all(f) if d]
config = next(d for d in docs if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "spread-config")
for key, text in config["data"].items():
    with open(os.path.join(etc, key), "w") as f:
        f.write(text)
d = next(d for d in docs if d["kind"] in ("StatefulSet", "Deployment", "Job")
         and d["metadata"]["name"] == workload)
script = d["spec"]["template"]["spec"]["containers"][0]["args"][0]
if d["kind"] == "Job":
    line = 'addr="spread-meta-$((id - 1)).spread-meta:6000"'
    if line not in script:
        sys.exit(f"the join Job no longer has the line {line}")
    script = script.replace(line, 'eval "addr=\\$META_ADDR_$id"').replace("/run/", out + "/")
    os.execvp("sh", ["sh", "-ec", script])
script = script.replace("/etc/spread/", etc + "/").replace("/run/spread/", out + "/")
script = script.replace("exec spread ", "true ")
env = dict(os.environ, POD_NAME=pod, NODE_NAME="node-a.zone.example")
subprocess.run(["sh", "-ec", script], env=env, check=True)
EOF
render() {
    mkdir -p "$3"
    "$VENV/bin/python" "$K8S/render.py" "$ROOT/deploy/k8s" "$K8S/etc" "$@"
}
if render spread-meta spread-meta-1 "$K8S/run" && render spread-chunkd spread-chunkd-2 "$K8S/run" &&
    render spread-gateway gw "$K8S/run"; then
    if grep -q '^node_id = 2$' "$K8S/run/meta.toml" && grep -q '^bootstrap = false$' "$K8S/run/meta.toml" &&
        grep -q '^advertise = "spread-meta-1.spread-meta:6000"$' "$K8S/run/meta.toml" &&
        grep -q '^location = "k8s.rack0.node-a-zone-example.spread-chunkd-2"$' "$K8S/run/chunkd.toml"; then
        say "ok: the pods' start commands write node_id, bootstrap, advertise and location"
    else
        fail "the pods' start commands wrote unexpected configs:"$'\n'"$(cat "$K8S"/run/*.toml)"
    fi
    # Node 2 does not bootstrap: run the rendered config as node 1 would be (alone here).
    set_keys "$K8S/run/meta.toml" node_id 1 bootstrap true
    run_trio k8s "$K8S/run/meta.toml" "$K8S/run/chunkd.toml" "$K8S/run/gateway.toml"
else
    fail "the Kubernetes pods' start commands did not write their configs"
fi

# The meta group as the StatefulSet makes it (pods 0, 1, 2 with their rendered configs) and
# the join Job's own script adding nodes 2 and 3, twice (a second run must succeed too).
join_group() {
    local dir="$K8S/group" i port run
    mkdir -p "$dir/keys"
    "$BIN" keygen "$dir/keys/cluster.key" >/dev/null
    "$BIN" keygen "$dir/keys/admin.key" >/dev/null
    printf 'k1 %s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$dir/keys/master.key"
    chmod 600 "$dir/keys/master.key"
    local addrs=()
    for i in 0 1 2; do
        render spread-meta "spread-meta-$i" "$dir/pod-$i" || return 1
        port="$(free_port)"
        addrs+=("127.0.0.1:$port")
        set_keys "$dir/pod-$i/meta.toml" listen "\"127.0.0.1:$port\"" advertise "\"127.0.0.1:$port\"" \
            data_dir "\"$dir/pod-$i/data\"" cluster_key_file "\"$dir/keys/cluster.key\"" \
            admin_key_file "\"$dir/keys/admin.key\"" master_key_file "\"$dir/keys/master.key\""
        "$BIN" meta --config "$dir/pod-$i/meta.toml" >"$dir/meta-$i.log" 2>&1 &
        PIDS+=($!)
    done
    local meta_list
    meta_list="$(IFS=,; echo "${addrs[*]}")"
    for run in 1 2; do
        mkdir -p "$dir/job-$run"
        if ! META_ADDR_2="${addrs[1]}" META_ADDR_3="${addrs[2]}" SPREAD_META="$meta_list" \
            SPREAD_ADMIN_KEY_FILE="$dir/keys/admin.key" PATH="$(dirname "$BIN"):$PATH" \
            timeout 300 "$VENV/bin/python" "$K8S/render.py" "$ROOT/deploy/k8s" "$K8S/etc" \
            spread-meta-join - "$dir/job-$run" >"$dir/job-$run.log" 2>&1; then
            echo "--- the join Job's output (run $run):" >&2
            cat "$dir/job-$run.log" >&2
            tail -n 20 "$dir"/meta-*.log >&2
            return 1
        fi
    done
    local voters
    voters="$(SPREAD_META="$meta_list" SPREAD_ADMIN_KEY_FILE="$dir/keys/admin.key" \
        "$BIN" admin --cluster "$dir/none.toml" meta status --json | grep -c '"voter": true' || true)"
    # Each of the three nodes' views lists three voters.
    if [[ "$voters" != 9 ]]; then
        echo "expected 3 voters in each of 3 views, counted $voters" >&2
        return 1
    fi
}
if join_group; then
    say "ok: the join Job's script makes a group of three voters of the StatefulSet's pods (twice)"
else
    fail "the meta group of the Kubernetes manifests did not form"
fi
stop_processes

if [[ "$FAILURES" != 0 ]]; then
    echo "deploy-check: $FAILURES check(s) failed" >&2
    exit 1
fi
say "every check passed"
