#!/usr/bin/env bash
# rclone against Spread: sync a tree of 500 small files in nested folders up, check it, sync it
# back down into a new directory and compare.
set -euo pipefail
. "$(dirname "$0")/common.sh"

command -v rclone >/dev/null || fail "rclone not found on PATH"
export RCLONE_CONFIG_SPREAD_TYPE=s3
export RCLONE_CONFIG_SPREAD_PROVIDER=Other
export RCLONE_CONFIG_SPREAD_ENDPOINT="$SPREAD_ENDPOINT"
export RCLONE_CONFIG_SPREAD_ACCESS_KEY_ID="$AWS_ACCESS_KEY_ID"
export RCLONE_CONFIG_SPREAD_SECRET_ACCESS_KEY="$AWS_SECRET_ACCESS_KEY"
export RCLONE_CONFIG_SPREAD_REGION=us-east-1
export RCLONE_CONFIG_SPREAD_FORCE_PATH_STYLE=true
# rclone 1.60 fails with LoadCustomCABundleError when AWS_CA_BUNDLE is set.
rc() { env -u AWS_CA_BUNDLE rclone --config /dev/null --retries 1 --low-level-retries 2 "$@"; }
step "$(rc version | head -n 1)"

b="$(unique_bucket rclone)"
step "bucket $b"
rc mkdir "spread:$b"

# 500 files of 0..~4 KiB in 3 levels of folders.
n=0
for top in $(seq 0 9); do
    for sub in $(seq 0 4); do
        d="$WORK/up/top-$top/sub $sub"
        mkdir -p "$d"
        for f in $(seq 0 9); do
            make_file "$d/file-$f.txt" $(((n * 37) % 4096))
            n=$((n + 1))
        done
    done
done
same_text "500" "$(find "$WORK/up" -type f | wc -l)" "generated files"

step "sync up"
rc sync "$WORK/up" "spread:$b/tree"
count="$(rc lsf -R --files-only "spread:$b/tree" | wc -l)"
same_text "500" "$count" "objects listed by rclone lsf"
step "check"
rc check "$WORK/up" "spread:$b/tree" || fail "rclone check reports differences"
step "sync down"
rc sync "spread:$b/tree" "$WORK/down"
diff -r "$WORK/up" "$WORK/down" || fail "tree synced down differs from the one synced up"

# A change, a deletion and a second sync are mirrored.
make_file "$WORK/up/top-3/sub 2/file-5.txt" 999
rm "$WORK/up/top-7/sub 1/file-0.txt"
rc sync "$WORK/up" "spread:$b/tree"
rc check "$WORK/up" "spread:$b/tree" || fail "rclone check after the second sync"
count="$(rc lsf -R --files-only "spread:$b/tree" | wc -l)"
same_text "499" "$count" "objects after deleting one file"

rc purge "spread:$b"
if rc lsd spread: | grep -q " $b\$"; then
    fail "bucket $b still there after purge"
fi
step "ok"
