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

# Versioning: rclone turns it on, lists old versions with --s3-versions and reads one back.
v="$(unique_bucket rclone-versions)"
rc mkdir "spread:$v"
step "versioning on $v"
rc backend versioning "spread:$v" Enabled >/dev/null
same_text "Enabled" "$(rc backend versioning "spread:$v")" "versioning state"
echo "first version" >"$WORK/doc.txt"
rc copyto "$WORK/doc.txt" "spread:$v/doc.txt"
sleep 1.1 # version names carry a one-second timestamp
echo "second version, longer" >"$WORK/doc.txt"
rc copyto "$WORK/doc.txt" "spread:$v/doc.txt"
listing="$(rc lsf --s3-versions "spread:$v")"
same_text "2" "$(echo "$listing" | wc -l)" "objects listed with --s3-versions ($listing)"
old="$(echo "$listing" | grep -v '^doc.txt$' || true)"
[[ "$old" == doc-v*.txt ]] || fail "no old version in the listing: $listing"
same_text "first version" "$(rc cat --s3-versions "spread:$v/$old")" "old version's content"
same_text "second version, longer" "$(rc cat "spread:$v/doc.txt")" "current version"
same_text "1" "$(rc lsf "spread:$v" | wc -l)" "objects listed without --s3-versions"
step "ok"
