# Sourced by the client scripts: environment checks and helpers.
# Needs SPREAD_ENDPOINT (http://127.0.0.1:PORT), AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.

: "${SPREAD_ENDPOINT:?set SPREAD_ENDPOINT, e.g. http://127.0.0.1:9000}"
: "${AWS_ACCESS_KEY_ID:?set AWS_ACCESS_KEY_ID}"
: "${AWS_SECRET_ACCESS_KEY:?set AWS_SECRET_ACCESS_KEY}"
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-us-east-1}"

SCRIPT_NAME="$(basename "$0" .sh)"
trap 'echo "FAIL: ${SCRIPT_NAME}: line ${LINENO}: command failed: ${BASH_COMMAND}" >&2' ERR

# fail MESSAGE...: print and exit non-zero.
fail() {
    echo "FAIL: ${SCRIPT_NAME}: $*" >&2
    exit 1
}

# step MESSAGE...: progress line.
step() {
    echo "[${SCRIPT_NAME}] $*"
}

# unique_bucket PREFIX: a fresh, valid bucket name.
unique_bucket() {
    printf '%s-%s-%05d%05d' "$1" "$(date +%s)" "$RANDOM" "$RANDOM"
}

# same_file EXPECTED ACTUAL WHAT: byte-identical or fail.
same_file() {
    cmp -s "$1" "$2" || fail "$3: $2 differs from $1 ($(wc -c <"$1") vs $(wc -c <"$2") bytes)"
}

# same_text EXPECTED ACTUAL WHAT
same_text() {
    [[ "$1" == "$2" ]] || fail "$3: expected [$1], got [$2]"
}

# make_file PATH BYTES: random content.
make_file() {
    head -c "$2" /dev/urandom >"$1"
}

# The host:port part of the endpoint.
endpoint_hostport() {
    local e="${SPREAD_ENDPOINT#http://}"
    echo "${e%/}"
}

# A scratch directory removed on exit.
WORK="$(mktemp -d "${TMPDIR:-/tmp}/spread-${SCRIPT_NAME}.XXXXXX")"
cleanup_work() { rm -rf "$WORK"; }
trap cleanup_work EXIT
