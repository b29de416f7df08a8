#!/usr/bin/env bash
# s3cmd against Spread: mb/put/get/ls/info/del/sync/rb, path-style, SigV4, with a multipart put.
set -euo pipefail
. "$(dirname "$0")/common.sh"

command -v s3cmd >/dev/null || fail "s3cmd not found on PATH"
hp="$(endpoint_hostport)"
cat >"$WORK/s3cfg" <<CFG
[default]
access_key = $AWS_ACCESS_KEY_ID
secret_key = $AWS_SECRET_ACCESS_KEY
host_base = $hp
host_bucket = $hp
use_https = False
bucket_location = us-east-1
signature_v2 = False
CFG
s3() { s3cmd -c "$WORK/s3cfg" --no-progress "$@"; }
step "$(s3cmd --version)"

b="$(unique_bucket s3cmd)"
step "bucket $b"
s3 mb "s3://$b" >/dev/null
s3 ls | grep -q "s3://$b\$" || fail "s3cmd ls does not list $b"

# A small file and a 40 MiB file (multipart with the default 15 MiB chunks).
printf 'hello from s3cmd\n' >"$WORK/small.txt"
make_file "$WORK/big.bin" $((40 * 1024 * 1024))
s3 put "$WORK/small.txt" "s3://$b/small.txt" >/dev/null
s3 put "$WORK/big.bin" "s3://$b/dir/big.bin" >/dev/null
s3 get "s3://$b/small.txt" "$WORK/small.out" >/dev/null
s3 get "s3://$b/dir/big.bin" "$WORK/big.out" >/dev/null
same_file "$WORK/small.txt" "$WORK/small.out" "s3cmd put/get small"
same_file "$WORK/big.bin" "$WORK/big.out" "s3cmd put/get 40 MiB (multipart)"
size="$(s3 ls "s3://$b/dir/big.bin" | awk '{print $3}')"
same_text "41943040" "$size" "size listed by s3cmd ls"

listing="$(s3 ls "s3://$b/dir/")"
grep -q "s3://$b/dir/big.bin\$" <<<"$listing" || fail "s3cmd ls dir/: $listing"
listing="$(s3 ls "s3://$b/")"
grep -Eq "DIR +s3://$b/dir/\$" <<<"$listing" || fail "s3cmd ls shows no dir/ prefix: $listing"

# sync a tree up and down.
mkdir -p "$WORK/tree/x/y" "$WORK/tree/z"
for i in $(seq 1 20); do
    d="$WORK/tree/x"
    ((i % 2 == 0)) && d="$WORK/tree/x/y"
    ((i % 5 == 0)) && d="$WORK/tree/z"
    make_file "$d/f$i.bin" $((i * 997))
done
s3 sync "$WORK/tree/" "s3://$b/tree/" >/dev/null
mkdir -p "$WORK/tree.down"
s3 sync "s3://$b/tree/" "$WORK/tree.down/" >/dev/null
diff -r "$WORK/tree" "$WORK/tree.down" || fail "s3cmd sync round trip differs"

# Delete and remove the bucket.
s3 del "s3://$b/small.txt" >/dev/null
[[ -z "$(s3 ls "s3://$b/small.txt")" ]] || fail "small.txt still listed after del"
if s3 get "s3://$b/small.txt" "$WORK/gone.txt" >/dev/null 2>&1; then
    fail "small.txt still readable after del"
fi
if s3 rb "s3://$b" >/dev/null 2>&1; then
    fail "rb of a non-empty bucket succeeded"
fi
s3 del --recursive --force "s3://$b/" >/dev/null
s3 rb "s3://$b" >/dev/null
if s3 ls | grep -q "s3://$b\$"; then
    fail "bucket $b still listed after rb"
fi
step "ok"
