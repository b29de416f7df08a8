#!/usr/bin/env bash
# Runs README.md as a newcomer would: starts a fresh `spread dev` exactly as the README's
# start command does (no flags, so the README's endpoints and keys), then runs every shell
# block of the README in order, in one bash with `set -e -o pipefail`, in a temporary working
# directory with a temporary HOME, `spread` and the venv's clients (aws, s3cmd, swift, python
# with boto3) on PATH, rclone from the system. Python blocks run with the venv's python.
#
# Shell blocks: fenced blocks marked sh, bash or shell, fenced blocks with no language, and
# indented (4-space) blocks. Blocks of other languages (text, toml, ini, python...) are not
# shell. A block right after `<!-- not-run: REASON -->` is skipped (the reason is printed).
# The start block is one of those: this script starts the cluster itself, the same way.
# It also checks that the banner the README shows (its "S3 endpoint:" and "Swift endpoint:"
# lines) is what `spread dev` prints.
#
# Exits non-zero, naming the block (its line in README.md and its text), when a block fails.
# As in any `set -e` script, a failure on the left of `&&` is not one unless the list is the
# block's last command.
#
# Usage: bash scripts/readme.sh   (SPREAD_BIN: the binary, default target/release/spread;
#        VENV: the Python venv with the clients, default .venv; README: default README.md)
# Needs the ports the README uses (127.0.0.1:9000 and 127.0.0.1:8080) free.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT="$(pwd)"
BIN="$(realpath "${SPREAD_BIN:-$ROOT/target/release/spread}")"
VENV="$(realpath "${VENV:-$ROOT/.venv}")"
README="$(realpath "${README:-$ROOT/README.md}")"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/spread-readme.XXXXXX")"
DEV_PID=""

say() { echo "readme: $*"; }

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
    DEV_PID=""
    # Children left behind by a dev process that could not stop them.
    local file="$WORK/work/spread-data/cluster.toml" pid
    if [[ -f "$file" ]]; then
        # shellcheck disable=SC2013 # one pid a line
        for pid in $(sed -n 's/^pid *= *\([0-9][0-9]*\).*/\1/p' "$file"); do
            kill -KILL "$pid" 2>/dev/null || true
        done
    fi
}
cleanup() {
    stop_cluster
    rm -rf "$WORK"
}
trap cleanup EXIT

for tool in "$BIN" "$VENV/bin/aws" "$VENV/bin/s3cmd" "$VENV/bin/swift" "$VENV/bin/python"; do
    if [[ ! -x "$tool" ]]; then
        echo "readme: $tool is missing (scripts/test.sh builds spread and makes the venv)" >&2
        exit 1
    fi
done
mkdir -p "$WORK/bin" "$WORK/home" "$WORK/work" "$WORK/blocks"
ln -s "$BIN" "$WORK/bin/spread"

# ---------------------------------------------------------------- the blocks
python3 - "$README" "$WORK/blocks" <<'PY'
import json, os, re, sys

readme, out = sys.argv[1:]
lines = open(readme, encoding="utf-8").read().split("\n")
SHELL = {"", "sh", "bash", "shell"}
PYTHON = {"python", "py", "python3"}
blocks = []  # (line, lang, text, skip reason or None)


def marker(i):
    """The not-run reason of a block starting at line index i, if the last non-blank line
    before it is the marker; a marker without a reason is an error."""
    j = i - 1
    while j >= 0 and not lines[j].strip():
        j -= 1
    if j < 0:
        return None
    m = re.fullmatch(r"\s*<!--\s*not-run:(.*?)-->\s*", lines[j])
    if not m:
        if "not-run" in lines[j]:
            sys.exit(f"README.md:{j + 1}: malformed marker (want <!-- not-run: REASON -->)")
        return None
    if not m.group(1).strip():
        sys.exit(f"README.md:{j + 1}: <!-- not-run: --> needs a reason")
    return m.group(1).strip()


i = 0
while i < len(lines):
    line = lines[i]
    fence = re.match(r"^(```+|~~~+)\s*([\w+-]*)", line)
    if fence:
        start, lang, close = i, fence.group(2).lower(), fence.group(1)
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith(close):
            body.append(lines[i])
            i += 1
        if i >= len(lines):
            sys.exit(f"README.md:{start + 1}: unclosed code fence")
        blocks.append((start + 1, lang, "\n".join(body), marker(start)))
        i += 1
        continue
    if line.startswith("    ") and line.strip() and (i == 0 or not lines[i - 1].strip()):
        start = i
        body = []
        while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
            body.append(lines[i][4:])
            i += 1
        while body and not body[-1].strip():
            body.pop()
        blocks.append((start + 1, "", "\n".join(body), marker(start)))
        continue
    i += 1

index = []
for n, (line, lang, text, skip) in enumerate(blocks, 1):
    kind = "sh" if lang in SHELL else "py" if lang in PYTHON else None
    if kind is None:
        continue
    path = os.path.join(out, f"{n:03}.{kind}")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    index.append({"n": n, "line": line, "kind": kind, "path": path, "skip": skip})
with open(os.path.join(out, "index.json"), "w") as f:
    json.dump(index, f)
PY

# ---------------------------------------------------------------- the cluster
for port in 9000 8080; do
    if ! python3 -c "import socket,sys; s=socket.socket(); s.bind(('127.0.0.1', $port))" 2>/dev/null; then
        echo "readme: 127.0.0.1:$port is taken; the README's commands need it" >&2
        exit 1
    fi
done
CLEAN_ENV=(env -i "HOME=$WORK/home" "PATH=$WORK/bin:$VENV/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    "LANG=C.UTF-8" "TERM=dumb" "USER=${USER:-root}" "TMPDIR=${TMPDIR:-/tmp}")
say "starting \`spread dev\` in $WORK/work"
(cd "$WORK/work" && exec "${CLEAN_ENV[@]}" spread dev) >"$WORK/dev.stdout" 2>"$WORK/dev.log" &
DEV_PID=$!
ready=0
for _ in $(seq 1 300); do
    if grep -q "^Gateway admin:" "$WORK/dev.stdout" 2>/dev/null; then
        ready=1
        break
    fi
    kill -0 "$DEV_PID" 2>/dev/null || break
    sleep 0.2
done
if [[ "$ready" != 1 ]]; then
    echo "readme: spread dev did not print its endpoints within 60 s; log:" >&2
    tail -n 40 "$WORK/dev.log" >&2 || true
    exit 1
fi

# The banner shown in the README is the one printed (the third line has a random port).
for prefix in "S3 endpoint:" "Swift endpoint:"; do
    shown="$(grep -m1 -h "^$prefix" "$README" || true)"
    printed="$(grep -m1 "^$prefix" "$WORK/dev.stdout")"
    if [[ "$shown" != "$printed" ]]; then
        echo "readme: README.md shows the line" >&2
        echo "    $shown" >&2
        echo "but spread dev prints" >&2
        echo "    $printed" >&2
        exit 1
    fi
done

# ---------------------------------------------------------------- run the blocks
# One bash runs them all, in order, like one terminal: exports and files carry over.
DRIVER="$WORK/driver.sh"
{
    echo 'set -eo pipefail'
    echo "cd $(printf %q "$WORK/work")"
    echo '__block=""'
    # shellcheck disable=SC2016 # the trap is expanded when it runs, in the driver
    echo 'trap '\''__rc=$?; if [ "$__rc" != 0 ] && [ -n "$__block" ]; then echo "$__block" > '"$(printf %q "$WORK/failed")"'; fi'\'' EXIT'
} >"$DRIVER"
count=0
while IFS=$'\t' read -r n line kind path skip; do
    if [[ -n "$skip" ]]; then
        say "skip block at README.md:$line (not-run: $skip)"
        continue
    fi
    count=$((count + 1))
    {
        echo "__block=$(printf %q "$n $line $path")"
        echo "echo $(printf %q "==> README.md:$line")"
        case "$kind" in
        sh) echo "source $(printf %q "$path")" ;;
        py) echo "python $(printf %q "$path")" ;;
        esac
    } >>"$DRIVER"
done < <("$VENV/bin/python" -c '
import json, sys
for b in json.load(open(sys.argv[1])):
    print(b["n"], b["line"], b["kind"], b["path"], b["skip"] or "", sep="\t")
' "$WORK/blocks/index.json")
echo '__block=""' >>"$DRIVER"

say "running $count README blocks"
set +e
timeout 900 "${CLEAN_ENV[@]}" bash "$DRIVER" </dev/null
rc=$?
set -e
if [[ "$rc" != 0 ]]; then
    if [[ -f "$WORK/failed" ]]; then
        read -r _ line path <"$WORK/failed"
        echo "readme: FAIL: the block at README.md:$line failed (exit $rc):" >&2
        sed 's/^/    /' "$path" >&2
    else
        echo "readme: FAIL: the README blocks did not finish (exit $rc)" >&2
    fi
    echo "--- last lines of the cluster log ---" >&2
    tail -n 20 "$WORK/dev.log" >&2 || true
    exit 1
fi
say "every README block ran ($count run)"
