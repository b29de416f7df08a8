#!/usr/bin/env bash
# aws-cli against Spread: high-level `aws s3` (mb/cp/ls/sync/rm/rb, multipart for big files) and
# `aws s3api` (put/get with range/head/list-objects-v2/copy/delete-objects), default checksum
# settings as users run them; keys that are not ASCII or not URL-safe (UTF-8, RTL, emoji,
# combining characters, spaces, % + ? # quotes, a newline) through cp/ls/mv/rm, multipart and
# the s3api calls.
set -euo pipefail
. "$(dirname "$0")/common.sh"

command -v aws >/dev/null || fail "aws not found on PATH"
awsx() { aws --endpoint-url "$SPREAD_ENDPOINT" "$@"; }
step "$(aws --version 2>&1)"

b="$(unique_bucket awscli)"
step "bucket $b"
awsx s3 mb "s3://$b" >/dev/null
awsx s3api head-bucket --bucket "$b" >/dev/null || fail "head-bucket after mb"
awsx s3 ls | grep -q " $b\$" || fail "aws s3 ls does not list $b"

# A 100 MiB file: multipart upload (8 MiB parts) and a parallel ranged download.
make_file "$WORK/big.bin" $((100 * 1024 * 1024))
step "cp 100 MiB up (multipart)"
awsx s3 cp --no-progress "$WORK/big.bin" "s3://$b/big/big.bin" >/dev/null
step "cp 100 MiB down"
awsx s3 cp --no-progress "s3://$b/big/big.bin" "$WORK/big.down" >/dev/null
same_file "$WORK/big.bin" "$WORK/big.down" "aws s3 cp round trip of 100 MiB"
len="$(awsx s3api head-object --bucket "$b" --key big/big.bin --query ContentLength --output text)"
same_text "104857600" "$len" "head-object ContentLength"
etag="$(awsx s3api head-object --bucket "$b" --key big/big.bin --query ETag --output text)"
[[ "$etag" =~ ^\"[0-9a-f]{32}-13\"$ ]] || fail "multipart ETag should be \"md5-13\", got $etag"

# Ranged GET across a part boundary.
awsx s3api get-object --bucket "$b" --key big/big.bin --range bytes=8388000-8389999 "$WORK/range.out" >/dev/null
dd if="$WORK/big.bin" of="$WORK/range.want" iflag=skip_bytes,count_bytes skip=8388000 count=2000 status=none
same_file "$WORK/range.want" "$WORK/range.out" "get-object --range bytes=8388000-8389999"
awsx s3api get-object --bucket "$b" --key big/big.bin --range bytes=-1000 "$WORK/suffix.out" >/dev/null
tail -c 1000 "$WORK/big.bin" >"$WORK/suffix.want"
same_file "$WORK/suffix.want" "$WORK/suffix.out" "get-object --range bytes=-1000"

# s3api put-object / get-object with metadata and an odd key.
printf 'hello from aws-cli\n' >"$WORK/small.txt"
key='docs/small file+ü.txt'
awsx s3api put-object --bucket "$b" --key "$key" --body "$WORK/small.txt" \
    --content-type text/plain --metadata color=blue,owner=test >/dev/null
awsx s3api get-object --bucket "$b" --key "$key" "$WORK/small.out" >"$WORK/get.json"
same_file "$WORK/small.txt" "$WORK/small.out" "put-object/get-object"
meta="$(awsx s3api head-object --bucket "$b" --key "$key" --query Metadata.color --output text)"
same_text "blue" "$meta" "user metadata color"
ctype="$(awsx s3api head-object --bucket "$b" --key "$key" --query ContentType --output text)"
same_text "text/plain" "$ctype" "Content-Type"

# Server-side copy (CopyObject).
awsx s3 cp --no-progress "s3://$b/$key" "s3://$b/docs/copy.txt" >/dev/null
awsx s3 cp --no-progress "s3://$b/docs/copy.txt" "$WORK/copy.out" >/dev/null
same_file "$WORK/small.txt" "$WORK/copy.out" "server-side copy"

# CopyObject replacing the metadata.
awsx s3api copy-object --bucket "$b" --key docs/replaced.txt --copy-source "$b/docs/copy.txt" \
    --metadata-directive REPLACE --metadata color=red --content-type text/x-replaced >/dev/null
meta="$(awsx s3api head-object --bucket "$b" --key docs/replaced.txt --query Metadata.color --output text)"
same_text "red" "$meta" "metadata after copy-object REPLACE"
ctype="$(awsx s3api head-object --bucket "$b" --key docs/replaced.txt --query ContentType --output text)"
same_text "text/x-replaced" "$ctype" "Content-Type after copy-object REPLACE"
meta="$(awsx s3api head-object --bucket "$b" --key docs/copy.txt --query Metadata.color --output text)"
same_text "blue" "$meta" "metadata kept by copy (COPY directive)"
awsx s3api get-object --bucket "$b" --key docs/replaced.txt "$WORK/replaced.out" >/dev/null
same_file "$WORK/small.txt" "$WORK/replaced.out" "body of the REPLACE copy"
awsx s3api delete-object --bucket "$b" --key docs/replaced.txt >/dev/null

# GetBucketLocation.
loc="$(awsx s3api get-bucket-location --bucket "$b" --query LocationConstraint --output text)"
[[ "$loc" == "None" || "$loc" == "us-east-1" ]] || fail "get-bucket-location: $loc"

# Multipart by hand: list-parts, list-multipart-uploads, abort, and complete.
make_file "$WORK/part1" $((5 * 1024 * 1024))
make_file "$WORK/part2" 12345
uid="$(awsx s3api create-multipart-upload --bucket "$b" --key mpu/aborted --query UploadId --output text)"
awsx s3api upload-part --bucket "$b" --key mpu/aborted --upload-id "$uid" --part-number 1 --body "$WORK/part1" >/dev/null
n="$(awsx s3api list-parts --bucket "$b" --key mpu/aborted --upload-id "$uid" --query 'length(Parts)' --output text)"
same_text "1" "$n" "list-parts"
ids="$(awsx s3api list-multipart-uploads --bucket "$b" --query 'Uploads[].UploadId' --output text)"
same_text "$uid" "$ids" "list-multipart-uploads"
awsx s3api abort-multipart-upload --bucket "$b" --key mpu/aborted --upload-id "$uid" >/dev/null
ids="$(awsx s3api list-multipart-uploads --bucket "$b" --query 'Uploads[].UploadId' --output text)"
same_text "None" "$ids" "list-multipart-uploads after abort"
if awsx s3api head-object --bucket "$b" --key mpu/aborted >/dev/null 2>&1; then
    fail "aborted upload became an object"
fi
uid="$(awsx s3api create-multipart-upload --bucket "$b" --key mpu/done --query UploadId --output text)"
e1="$(awsx s3api upload-part --bucket "$b" --key mpu/done --upload-id "$uid" --part-number 1 --body "$WORK/part1" --query ETag --output text)"
e2="$(awsx s3api upload-part --bucket "$b" --key mpu/done --upload-id "$uid" --part-number 2 --body "$WORK/part2" --query ETag --output text)"
printf '{"Parts":[{"PartNumber":1,"ETag":%s},{"PartNumber":2,"ETag":%s}]}' \
    "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$e1")" \
    "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$e2")" >"$WORK/parts.json"
awsx s3api complete-multipart-upload --bucket "$b" --key mpu/done --upload-id "$uid" \
    --multipart-upload "file://$WORK/parts.json" >/dev/null
cat "$WORK/part1" "$WORK/part2" >"$WORK/mpu.want"
awsx s3api get-object --bucket "$b" --key mpu/done "$WORK/mpu.out" >/dev/null
same_file "$WORK/mpu.want" "$WORK/mpu.out" "completed multipart upload"

# list-objects-v2 with a prefix, and with a delimiter.
keys="$(awsx s3api list-objects-v2 --bucket "$b" --prefix docs/ --query 'Contents[].Key' --output text)"
same_text "docs/copy.txt	$key" "$keys" "list-objects-v2 --prefix docs/"
prefixes="$(awsx s3api list-objects-v2 --bucket "$b" --delimiter / --query 'CommonPrefixes[].Prefix' --output text)"
same_text "big/	docs/	mpu/" "$prefixes" "list-objects-v2 --delimiter /"
keys="$(awsx s3api list-objects-v2 --bucket "$b" --prefix docs/ --start-after docs/copy.txt --query 'Contents[].Key' --output text)"
same_text "$key" "$keys" "list-objects-v2 --start-after"
keys="$(awsx s3api list-objects --bucket "$b" --prefix docs/ --query 'Contents[].Key' --output text)"
same_text "docs/copy.txt	$key" "$keys" "list-objects (v1)"

# DeleteObjects with an explicit list.
awsx s3api delete-objects --bucket "$b" \
    --delete '{"Objects":[{"Key":"mpu/done"},{"Key":"docs/copy.txt"},{"Key":"no/such/key"}]}' >/dev/null
keys="$(awsx s3api list-objects-v2 --bucket "$b" --prefix docs/ --query 'Contents[].Key' --output text)"
same_text "$key" "$keys" "listing after delete-objects"
if awsx s3api head-object --bucket "$b" --key mpu/done >/dev/null 2>&1; then
    fail "mpu/done still there after delete-objects"
fi

# sync a tree up, down, then an update with --delete.
mkdir -p "$WORK/tree/a/b" "$WORK/tree/c"
for i in $(seq 1 30); do
    d="$WORK/tree"
    ((i % 3 == 1)) && d="$WORK/tree/a"
    ((i % 3 == 2)) && d="$WORK/tree/a/b"
    ((i % 5 == 0)) && d="$WORK/tree/c"
    make_file "$d/file-$i.dat" $((i * 1117))
done
step "sync up/down"
awsx s3 sync --no-progress "$WORK/tree" "s3://$b/tree" >/dev/null
awsx s3 sync --no-progress "s3://$b/tree" "$WORK/tree.down" >/dev/null
diff -r "$WORK/tree" "$WORK/tree.down" || fail "aws s3 sync round trip differs"
rm "$WORK/tree/a/file-1.dat"
make_file "$WORK/tree/c/new.dat" 4321
awsx s3 sync --no-progress --delete "$WORK/tree" "s3://$b/tree" >/dev/null
count="$(awsx s3 ls --recursive "s3://$b/tree/" | wc -l)"
same_text "30" "$count" "objects under tree/ after sync --delete"
rm -rf "$WORK/tree.down"
awsx s3 sync --no-progress "s3://$b/tree" "$WORK/tree.down" >/dev/null
diff -r "$WORK/tree" "$WORK/tree.down" || fail "aws s3 sync after --delete differs"

# Every name: keys that are not ASCII or not URL-safe, through aws s3 and s3api.
step "keys in UTF-8, RTL, emoji, combining characters, spaces, % + ? # quotes"
names=('names/Ünïcödé-容器' 'names/مرحبا بالعالم' 'names/😀📦' 'names/with space'
    'names/pct%41%zz' 'names/plus+q?h#frag' "names/quo'te\"d" $'names/e\u0301combining'
    'names/dir/sub dir/ü+%.txt')
# same_keys WHAT KEY...: the keys under names/ (list-objects-v2, JSON) are exactly KEY...
same_keys() {
    local what="$1"
    shift
    awsx s3api list-objects-v2 --bucket "$b" --prefix names/ --output json >"$WORK/names.json"
    python3 - "$WORK/names.json" "$@" <<'PY' || fail "$what: listed keys differ"
import json, sys
listed = sorted(o["Key"] for o in (json.load(open(sys.argv[1])) or {}).get("Contents", []))
want = sorted(sys.argv[2:])
if listed != want:
    print("listed:", listed, "\nwanted:", want, file=sys.stderr)
    sys.exit(1)
PY
}
for k in "${names[@]}"; do
    printf 'body of %s\n' "$k" >"$WORK/name.txt"
    awsx s3 cp --no-progress "$WORK/name.txt" "s3://$b/$k" >/dev/null
    awsx s3api head-object --bucket "$b" --key "$k" >/dev/null || fail "head-object of [$k]"
    awsx s3 cp --no-progress "s3://$b/$k" "$WORK/name.out" >/dev/null
    same_file "$WORK/name.txt" "$WORK/name.out" "aws s3 cp round trip of [$k]"
    awsx s3api copy-object --bucket "$b" --key "$k copy" --copy-source "$b/$k" >/dev/null
    awsx s3api get-object --bucket "$b" --key "$k copy" "$WORK/name.copy" >/dev/null
    same_file "$WORK/name.txt" "$WORK/name.copy" "copy-object of [$k]"
done
nl_key=$'names/line\nbreak ü'
awsx s3api put-object --bucket "$b" --key "$nl_key" --body "$WORK/small.txt" >/dev/null
awsx s3api get-object --bucket "$b" --key "$nl_key" "$WORK/nl.out" >/dev/null
same_file "$WORK/small.txt" "$WORK/nl.out" "put-object/get-object of a key with a newline"
copies=()
for k in "${names[@]}"; do copies+=("$k copy"); done
same_keys "list-objects-v2" "${names[@]}" "${copies[@]}" "$nl_key"
count="$(awsx s3 ls --recursive "s3://$b/names/" | wc -l)"
same_text "$((2 * ${#names[@]} + 2))" "$count" "aws s3 ls --recursive lines (one key holds a newline)"
listing="$(awsx s3 ls "s3://$b/names/")"
grep -q ' 😀📦$' <<<"$listing" || fail "aws s3 ls lacks the emoji key: $listing"
awsx s3 mv --no-progress "s3://$b/names/😀📦" "s3://$b/names/moved 📦 %41+" >/dev/null
awsx s3api head-object --bucket "$b" --key 'names/moved 📦 %41+' >/dev/null || fail "aws s3 mv target"
make_file "$WORK/name.big" $((9 * 1024 * 1024))
awsx s3 cp --no-progress "$WORK/name.big" "s3://$b/names/multipart ü 😀 %41+?#" >/dev/null
awsx s3 cp --no-progress "s3://$b/names/multipart ü 😀 %41+?#" "$WORK/name.big.out" >/dev/null
same_file "$WORK/name.big" "$WORK/name.big.out" "multipart upload of a UTF-8 key"
python3 - "$WORK/delete.json" "${copies[@]}" "$nl_key" <<'PY'
import json, sys
json.dump({"Objects": [{"Key": k} for k in sys.argv[2:]]}, open(sys.argv[1], "w"))
PY
awsx s3api delete-objects --bucket "$b" --delete "file://$WORK/delete.json" --output json >"$WORK/deleted.json"
python3 - "$WORK/deleted.json" "$((${#copies[@]} + 1))" <<'PY' || fail "delete-objects of the odd keys"
import json, sys
answer = json.load(open(sys.argv[1]))
sys.exit(0 if len(answer.get("Deleted", [])) == int(sys.argv[2]) and not answer.get("Errors") else 1)
PY
awsx s3 rm "s3://$b/names/with space" >/dev/null
rest=()
for k in "${names[@]}"; do
    [[ "$k" == 'names/😀📦' || "$k" == 'names/with space' ]] || rest+=("$k")
done
same_keys "listing after mv, delete-objects and rm" "${rest[@]}" 'names/moved 📦 %41+' \
    'names/multipart ü 😀 %41+?#'
awsx s3 rm --recursive "s3://$b/names/" >/dev/null
same_keys "listing after rm --recursive"

# Delete: one object, then everything (DeleteObjects), then the bucket.
awsx s3 rm "s3://$b/big/big.bin" >/dev/null
if awsx s3api head-object --bucket "$b" --key big/big.bin >/dev/null 2>&1; then
    fail "big/big.bin still there after rm"
fi
awsx s3 rm --recursive "s3://$b" >/dev/null
left="$(awsx s3 ls --recursive "s3://$b" | wc -l)"
same_text "0" "$left" "objects left after rm --recursive"
awsx s3 rb "s3://$b" >/dev/null
if awsx s3api head-bucket --bucket "$b" >/dev/null 2>&1; then
    fail "bucket $b still there after rb"
fi
step "ok"
