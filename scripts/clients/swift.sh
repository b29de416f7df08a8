#!/usr/bin/env bash
# The real `swift` CLI (python-swiftclient) against Spread's Swift API: auth, stat,
# capabilities, list, upload/download of a tree, post -m, copy, `swift tempurl` URLs used by
# curl without a token (GET with each digest, ISO 8601 expiry, prefix-based, PUT), --use-slo
# and --use-dlo uploads of a 50 MiB file in 1 MiB segments, delete (segments removed too), and
# object versioning (`list --versions`, `download --version-id`, `delete --versions`), a
# cross-API check with aws-cli when it is available, and containers and objects whose names are
# not ASCII or not URL-safe (UTF-8, RTL, emoji, combining characters, spaces, % + ? # quotes):
# upload, list, download, stat with UTF-8 metadata, copy, SLO/DLO, TempURL, delete.
# Needs SPREAD_SWIFT_AUTH (http://127.0.0.1:PORT/auth/v1.0), SPREAD_SWIFT_USER, SPREAD_SWIFT_KEY
# (plus the S3 variables of common.sh).
set -euo pipefail
. "$(dirname "$0")/common.sh"

: "${SPREAD_SWIFT_AUTH:?set SPREAD_SWIFT_AUTH, e.g. http://127.0.0.1:8080/auth/v1.0}"
: "${SPREAD_SWIFT_USER:=dev:admin}"
: "${SPREAD_SWIFT_KEY:=$AWS_SECRET_ACCESS_KEY}"
command -v swift >/dev/null || fail "swift (python-swiftclient) not found on PATH"
sw() { swift -A "$SPREAD_SWIFT_AUTH" -U "$SPREAD_SWIFT_USER" -K "$SPREAD_SWIFT_KEY" "$@"; }
step "$(swift --version 2>&1 | head -n 1)"

step "auth, stat, capabilities"
sw auth | grep -q "OS_AUTH_TOKEN=AUTH_tk" || fail "swift auth printed no token"
sw stat | grep -q "Account: AUTH_" || fail "swift stat shows no account"
caps="$(sw capabilities)"
grep -q "slo" <<<"$caps" || fail "capabilities lack slo"
grep -q "max_file_size" <<<"$caps" || fail "capabilities lack swift constraints"

c="$(unique_bucket swift)"
step "container $c: upload and download a tree"
mkdir -p "$WORK/tree/sub/deeper"
printf 'alpha\n' >"$WORK/tree/a.txt"
make_file "$WORK/tree/sub/b.bin" 300000
printf 'gamma\n' >"$WORK/tree/sub/deeper/c.txt"
(cd "$WORK" && sw upload "$c" tree >/dev/null)
same_text "tree/a.txt
tree/sub/b.bin
tree/sub/deeper/c.txt" "$(sw list "$c")" "swift list"
sw list | grep -qx "$c" || fail "account listing lacks $c"
sw list "$c" --lh | grep -q "tree/sub/b.bin" || fail "swift list --lh"
mkdir -p "$WORK/down"
(cd "$WORK/down" && sw download "$c" >/dev/null)
for f in a.txt sub/b.bin sub/deeper/c.txt; do
    same_file "$WORK/tree/$f" "$WORK/down/tree/$f" "download of $f"
done
sw download "$c" tree/a.txt -o "$WORK/one.txt" >/dev/null
same_file "$WORK/tree/a.txt" "$WORK/one.txt" "download -o"

step "post -m (container and object), stat shows it"
sw post -m color:blue "$c"
sw stat "$c" | grep -qi "Meta Color: blue" || fail "container metadata not shown"
sw post -m shape:round "$c" tree/a.txt
sw stat "$c" tree/a.txt | grep -qi "Meta Shape: round" || fail "object metadata not shown"

step "copy"
sw copy -d "/$c/copied.txt" "$c" tree/a.txt >/dev/null
sw download "$c" copied.txt -o "$WORK/copied.txt" >/dev/null
same_file "$WORK/tree/a.txt" "$WORK/copied.txt" "copy"

step "tempurl: swift post -m Temp-URL-Key, swift tempurl, curl without a token"
command -v curl >/dev/null || fail "curl not found on PATH"
key="tempurl-key-$RANDOM$RANDOM"
base="${SPREAD_SWIFT_AUTH%/auth/v1.0}"
obj="/v1/AUTH_${SPREAD_SWIFT_USER%%:*}/$c/tree/sub/b.bin"
sw post -m "Temp-URL-Key:$key"
for digest in sha1 sha256 sha512; do
    url="$(sw tempurl --digest "$digest" GET 3600 "$obj" "$key")"
    curl -fsS -o "$WORK/tempurl.$digest" "$base$url" || fail "curl of the $digest TempURL $url"
    same_file "$WORK/tree/sub/b.bin" "$WORK/tempurl.$digest" "TempURL GET ($digest)"
done
url="$(sw tempurl --iso8601 GET 1h "$obj" "$key")"
grep -q "temp_url_expires=[0-9-]*T[0-9:]*Z" <<<"$url" || fail "no ISO 8601 expiry in $url"
curl -fsS -o "$WORK/tempurl.iso" "$base$url" || fail "curl of the ISO 8601 TempURL $url"
same_file "$WORK/tree/sub/b.bin" "$WORK/tempurl.iso" "TempURL GET (ISO 8601 expiry)"
url="$(sw tempurl --prefix-based GET 3600 "/v1/AUTH_${SPREAD_SWIFT_USER%%:*}/$c/tree/sub/" "$key")"
curl -fsS -o "$WORK/tempurl.prefix" "$base${url%%\?*}deeper/c.txt?${url#*\?}" ||
    fail "curl of the prefix-based TempURL $url"
same_file "$WORK/tree/sub/deeper/c.txt" "$WORK/tempurl.prefix" "prefix-based TempURL GET"
url="$(sw tempurl PUT 3600 "/v1/AUTH_${SPREAD_SWIFT_USER%%:*}/$c/via-tempurl.bin" "$key")"
curl -fsS -T "$WORK/tree/sub/b.bin" "$base$url" >/dev/null || fail "curl PUT to the TempURL $url"
sw download "$c" via-tempurl.bin -o "$WORK/via-tempurl.bin" >/dev/null
same_file "$WORK/tree/sub/b.bin" "$WORK/via-tempurl.bin" "TempURL PUT read back"
url="$(sw tempurl GET 3600 "$obj" "not-$key")"
status="$(curl -sS -o /dev/null -w '%{http_code}' "$base$url")"
[[ "$status" == 401 ]] || fail "TempURL signed with a wrong key answered $status"
sw post -m "Temp-URL-Key:"
status="$(curl -sS -o /dev/null -w '%{http_code}' "$base$(sw tempurl GET 3600 "$obj" "$key")")"
[[ "$status" == 401 ]] || fail "TempURL of a removed key answered $status"

if command -v aws >/dev/null; then
    step "cross-API: the Swift object through S3, with its metadata"
    aws --endpoint-url "$SPREAD_ENDPOINT" s3api head-object --bucket "$c" --key tree/a.txt \
        --output json | grep -q '"shape": "round"' || fail "S3 does not see the Swift metadata"
fi

step "--use-slo and --use-dlo: 50 MiB in 1 MiB segments"
make_file "$WORK/big.bin" $((50 * 1024 * 1024))
(cd "$WORK" && sw upload --use-slo --segment-size 1048576 "$c" big.bin >/dev/null)
cp "$WORK/big.bin" "$WORK/big2.bin"
(cd "$WORK" && sw upload --use-dlo --segment-size 1048576 "$c" big2.bin >/dev/null)
sw stat "$c" big.bin | grep -q "Content Length: 52428800" || fail "SLO size"
sw stat "$c" big2.bin | grep -q "Manifest: ${c}_segments/" || fail "DLO manifest header"
segments="$(sw list "${c}_segments" | wc -l)"
[[ "$segments" == 100 ]] || fail "expected 100 segments, found $segments"
sw download "$c" big.bin -o "$WORK/big.out" >/dev/null
same_file "$WORK/big.bin" "$WORK/big.out" "SLO download"
sw download "$c" big2.bin -o "$WORK/big2.out" >/dev/null
same_file "$WORK/big.bin" "$WORK/big2.out" "DLO download"

step "object versioning: X-Versions-Enabled, list --versions, download --version-id, delete --versions"
v="${c}-versions"
sw post -H "X-Versions-Enabled: true" "$v"
printf 'one\n' >"$WORK/ver.txt"
(cd "$WORK" && sw upload "$v" ver.txt >/dev/null)
printf 'two!\n' >"$WORK/ver.txt"
(cd "$WORK" && sw upload "$v" ver.txt >/dev/null)
sw delete "$v" ver.txt >/dev/null
# Lines: bytes, date, time, version id, content type, name; newest first.
listing="$(sw list --versions "$v")"
# The content type is guessed from the name's extension when the client sends none, as Swift does.
same_text "0 application/x-deleted;swift_versions_deleted=1 ver.txt
5 text/plain ver.txt
4 text/plain ver.txt" "$(awk '{print $1, $5, $6}' <<<"$listing")" "swift list --versions"
oldest="$(awk 'END {print $4}' <<<"$listing")"
[[ "$(sw download "$v" ver.txt --version-id "$oldest" -o -)" == one ]] ||
    fail "download --version-id $oldest is not the first version"
sw delete --versions "$v" >/dev/null
if sw list | grep -qx "$v"; then fail "delete --versions left container $v"; fi

step "every name: containers and objects in UTF-8, RTL, emoji, combining characters, % + ? # quotes"
u="$(date +%s)$RANDOM"
names=("Ünïcödé-容器-$u" "مرحبا بالعالم-$u" "😀📦-$u" "with space-$u" "pct%41%zz-$u"
    "plus+q?h#frag-$u" "quo'te\"d-$u" $'e\u0301combining-'"$u")
for n in "${names[@]}"; do
    printf 'body of %s\n' "$n" >"$WORK/name.txt"
    (cd "$WORK" && sw upload "$n" name.txt --object-name "dir $n/obj $n" \
        -H "X-Object-Meta-Label: Ünï 😀 مرحبا" >/dev/null)
    same_text "dir $n/obj $n" "$(sw list "$n")" "swift list of [$n]"
    sw download "$n" "dir $n/obj $n" -o "$WORK/name.out" >/dev/null
    same_file "$WORK/name.txt" "$WORK/name.out" "download from [$n]"
    sw stat "$n" "dir $n/obj $n" | grep -q "Meta Label: Ünï 😀 مرحبا" ||
        fail "UTF-8 metadata of [$n] not shown"
    sw copy -d "/${names[0]}/copy of $n" "$n" "dir $n/obj $n" >/dev/null
    sw download "${names[0]}" "copy of $n" -o "$WORK/name.copy" >/dev/null
    same_file "$WORK/name.txt" "$WORK/name.copy" "copy of [$n]"
done
listing="$(sw list)"
for n in "${names[@]}"; do
    grep -qxF -- "$n" <<<"$listing" || fail "account listing lacks [$n]"
done
sw post -m "Label:Ünï 😀" "${names[1]}"
sw stat "${names[1]}" | grep -q "Meta Label: Ünï 😀" || fail "UTF-8 container metadata not shown"
make_file "$WORK/name.big" $((3 * 1024 * 1024 + 5))
(cd "$WORK" && sw upload --use-slo --segment-size 1048576 "${names[2]}" name.big \
    --object-name "slo ü %41+ 📦" >/dev/null)
(cd "$WORK" && sw upload --use-dlo --segment-size 1048576 "${names[2]}" name.big \
    --object-name "dlo ü %41+ 📦" >/dev/null)
for o in "slo ü %41+ 📦" "dlo ü %41+ 📦"; do
    sw download "${names[2]}" "$o" -o "$WORK/name.big.out" >/dev/null
    same_file "$WORK/name.big" "$WORK/name.big.out" "download of [$o]"
done
sw delete "${names[2]}" "slo ü %41+ 📦" "dlo ü %41+ 📦" >/dev/null
left="$(sw list "${names[2]}_segments" | wc -l)"
[[ "$left" == 0 ]] || fail "$left segments left after deleting [slo/dlo ü %41+ 📦]"
# TempURL of a UTF-8 container and object (swift tempurl prints the path as it is; the URL
# is URL-encoded before use).
key="tempurl-key-$RANDOM$RANDOM"
sw post -m "Temp-URL-Key:$key"
url="$(sw tempurl GET 3600 "/v1/AUTH_${SPREAD_SWIFT_USER%%:*}/${names[0]}/dir ${names[0]}/obj ${names[0]}" "$key")"
quoted="$(python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1]))' "${url%%\?*}")"
curl -fsS -o "$WORK/name.tempurl" "$base$quoted?${url#*\?}" || fail "curl of the UTF-8 TempURL"
printf 'body of %s\n' "${names[0]}" >"$WORK/name.txt"
same_file "$WORK/name.txt" "$WORK/name.tempurl" "TempURL GET of a UTF-8 name"
sw post -m "Temp-URL-Key:"
if command -v aws >/dev/null; then
    odd="ü 😀 %41+?# \"quoted\""
    sw upload "$c" "$WORK/name.txt" --object-name "$odd" >/dev/null
    aws --endpoint-url "$SPREAD_ENDPOINT" s3api get-object --bucket "$c" --key "$odd" \
        "$WORK/name.s3" >/dev/null
    same_file "$WORK/name.txt" "$WORK/name.s3" "the Swift object [$odd] through S3"
    sw delete "$c" "$odd" >/dev/null
fi
for n in "${names[@]}"; do
    sw delete "$n" >/dev/null
done
sw delete "${names[2]}_segments" >/dev/null || true
listing="$(sw list)"
for n in "${names[@]}"; do
    if grep -qxF -- "$n" <<<"$listing"; then fail "container [$n] still listed"; fi
done

step "delete (segments too), then the containers"
sw delete "$c" big.bin big2.bin >/dev/null
left="$(sw list "${c}_segments" | wc -l)"
[[ "$left" == 0 ]] || fail "$left segments left after deleting the large objects"
sw delete "$c" >/dev/null
sw delete "${c}_segments" >/dev/null || true
if sw list | grep -qx "$c"; then fail "container $c still listed"; fi
step "ok"
