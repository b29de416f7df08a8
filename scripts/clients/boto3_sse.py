#!/usr/bin/env python3
"""boto3 against Spread, server-side encryption (issue #19): SSE-C put/get/range/head/copy/
multipart (parts and part copies) with the key checks AWS makes, wrong or missing keys refused;
SSE-S3 (`AES256`) put/get/head/copy, read through Swift as plaintext; SSE-KMS (`aws:kms`) with
keys of the built-in key store (`spread admin kms key create|list|disable|enable`):
put/get/head/range/copy/multipart, unknown keys, a disabled key refused within the gateway's key
cache bound, the key id and bucket-key headers, the encryption context stored and answered by
HEAD/GET (a copy takes its own, a multipart object its upload's); bucket default encryption
(Put/Get/DeleteBucketEncryption, AES256 and aws:kms) applied to writes without headers; a bucket policy denying unencrypted PUTs and other KMS
keys; conflicting headers refused; and the bytes on disk (chunk files and meta's data) never
holding the plaintext of an encrypted object."""

import base64
import hashlib
import json
import os
import secrets
import time

from botocore.exceptions import ClientError

from s3common import admin, check, client, expect_error, fail, step

MIB = 1024 * 1024
BUCKET = f"sse-{secrets.token_hex(4)}"


def sse_c_headers(key, prefix="x-amz-server-side-encryption-customer-"):
    return {
        f"{prefix}algorithm": "AES256",
        f"{prefix}key": base64.b64encode(key).decode(),
        f"{prefix}key-md5": base64.b64encode(hashlib.md5(key).digest()).decode(),
    }


def ssec_args(key):
    """boto3's own SSE-C parameters (it computes the key's MD5)."""
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key}


def marker_body(marker, size):
    """`size` bytes of a repeated marker: found by a plain byte search if stored in clear."""
    reps = size // len(marker) + 1
    return (marker * reps)[:size]


def on_disk(needle):
    """Files under the cluster's data dir holding `needle` (chunk files, meta's LMDB)."""
    data_dir = os.path.dirname(os.environ["SPREAD_CLUSTER"])
    found = []
    for root, _, files in os.walk(data_dir):
        for name in files:
            path = os.path.join(root, name)
            try:
                with open(path, "rb") as f:
                    tail = b""
                    while True:
                        block = f.read(4 * MIB)
                        if not block:
                            break
                        if needle in tail + block:
                            found.append(path)
                            break
                        tail = block[-len(needle):]
            except OSError:
                continue
    return found


def sse_c(s3):
    step("SSE-C: put, get, range, head, with the key checks")
    key = secrets.token_bytes(32)
    other = secrets.token_bytes(32)
    marker = b"SSEC-PLAINTEXT-" + secrets.token_hex(8).encode() + b"|"
    body = marker_body(marker, 3 * MIB + 12345)
    put = s3.put_object(Bucket=BUCKET, Key="c", Body=body, **ssec_args(key))
    check(put.get("SSECustomerAlgorithm") == "AES256", f"put answers the algorithm: {put}")
    check(
        put.get("SSECustomerKeyMD5") == base64.b64encode(hashlib.md5(key).digest()).decode(),
        "put answers the key's MD5",
    )
    check(
        put["ETag"].strip('"') != hashlib.md5(body).hexdigest(),
        "an SSE-C ETag is not the plaintext's MD5",
    )
    got = s3.get_object(Bucket=BUCKET, Key="c", **ssec_args(key))
    check(got["Body"].read() == body, "SSE-C round trip")
    check(got["ContentLength"] == len(body), "plaintext size answered")
    check(got.get("SSECustomerAlgorithm") == "AES256", "get answers the algorithm")
    # Ranges within a segment, across segment edges (64 KiB) and at the end.
    for first, last in [(0, 0), (65535, 65536), (65530, 200000), (len(body) - 5, len(body) - 1), (1000, 3 * MIB)]:
        r = s3.get_object(Bucket=BUCKET, Key="c", Range=f"bytes={first}-{last}", **ssec_args(key))
        check(r["Body"].read() == body[first : last + 1], f"SSE-C range {first}-{last}")
    head = s3.head_object(Bucket=BUCKET, Key="c", **ssec_args(key))
    check(head["ContentLength"] == len(body), "head answers the plaintext size")
    expect_error("get without the key", 400, "InvalidRequest", s3.get_object, Bucket=BUCKET, Key="c")
    expect_error("head without the key", 400, None, s3.head_object, Bucket=BUCKET, Key="c")
    expect_error(
        "get with another key", 400, "InvalidRequest", s3.get_object, Bucket=BUCKET, Key="c", **ssec_args(other)
    )
    # Malformed key headers, sent as raw headers (boto3 would compute a right MD5).
    bad_md5 = dict(sse_c_headers(key))
    bad_md5["x-amz-server-side-encryption-customer-key-md5"] = "AAAAAAAAAAAAAAAAAAAAAA=="
    no_key = {"x-amz-server-side-encryption-customer-algorithm": "AES256"}
    for what, headers in [("a wrong key MD5", bad_md5), ("no key", no_key)]:
        hook = hooked(s3, "before-call.s3.PutObject", headers)
        expect_error(f"put with {what}", 400, "InvalidArgument", s3.put_object, Bucket=BUCKET, Key="bad", Body=b"x")
        s3.meta.events.unregister("before-call.s3.PutObject", hook)
    conflict = dict(sse_c_headers(key))
    conflict["x-amz-server-side-encryption"] = "AES256"
    hook = hooked(s3, "before-call.s3.PutObject", conflict)
    expect_error("SSE-C with SSE-S3", 400, "InvalidArgument", s3.put_object, Bucket=BUCKET, Key="bad", Body=b"x")
    s3.meta.events.unregister("before-call.s3.PutObject", hook)
    expect_error("nothing stored by refused puts", 404, None, s3.head_object, Bucket=BUCKET, Key="bad")
    # A plain object read with a key.
    s3.put_object(Bucket=BUCKET, Key="plain", Body=b"plain")
    expect_error(
        "a key for a plain object", 400, "InvalidRequest", s3.get_object, Bucket=BUCKET, Key="plain", **ssec_args(key)
    )

    step("SSE-C: copy (source key, destination key, to plain, to SSE-S3)")
    s3.copy_object(
        Bucket=BUCKET,
        Key="c-copy",
        CopySource={"Bucket": BUCKET, "Key": "c"},
        CopySourceSSECustomerAlgorithm="AES256",
        CopySourceSSECustomerKey=key,
        **ssec_args(other),
    )
    got = s3.get_object(Bucket=BUCKET, Key="c-copy", **ssec_args(other))["Body"].read()
    check(got == body, "SSE-C copy under another key")
    expect_error(
        "copy without the source key",
        400,
        "InvalidRequest",
        s3.copy_object,
        Bucket=BUCKET,
        Key="c-copy2",
        CopySource={"Bucket": BUCKET, "Key": "c"},
    )
    s3.copy_object(
        Bucket=BUCKET,
        Key="c-to-s3",
        CopySource={"Bucket": BUCKET, "Key": "c"},
        CopySourceSSECustomerAlgorithm="AES256",
        CopySourceSSECustomerKey=key,
        ServerSideEncryption="AES256",
    )
    got = s3.get_object(Bucket=BUCKET, Key="c-to-s3")
    check(got.get("ServerSideEncryption") == "AES256", "copy to SSE-S3 answers AES256")
    check(got["Body"].read() == body, "SSE-C to SSE-S3 copy")
    return marker


def hooked(s3, event, headers):
    def add(params, **_):
        params["headers"].update(headers)

    s3.meta.events.register(event, add)
    return add


def multipart(s3):
    step("SSE-C multipart: parts with the upload's key, part copy, ranges across parts")
    key = secrets.token_bytes(32)
    parts_data = [secrets.token_bytes(5 * MIB + 17), secrets.token_bytes(5 * MIB), secrets.token_bytes(1234)]
    up = s3.create_multipart_upload(Bucket=BUCKET, Key="mp", **ssec_args(key))
    check(up.get("SSECustomerAlgorithm") == "AES256", "create answers the algorithm")
    uid = up["UploadId"]
    expect_error(
        "a part with another key",
        400,
        "InvalidRequest",
        s3.upload_part,
        Bucket=BUCKET,
        Key="mp",
        UploadId=uid,
        PartNumber=1,
        Body=parts_data[0],
        **ssec_args(secrets.token_bytes(32)),
    )
    expect_error(
        "a part without the key",
        400,
        "InvalidRequest",
        s3.upload_part,
        Bucket=BUCKET,
        Key="mp",
        UploadId=uid,
        PartNumber=1,
        Body=parts_data[0],
    )
    parts = []
    for n, data in enumerate(parts_data[:2], start=1):
        r = s3.upload_part(Bucket=BUCKET, Key="mp", UploadId=uid, PartNumber=n, Body=data, **ssec_args(key))
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    # Part 3 copied from an SSE-S3 object.
    s3.put_object(Bucket=BUCKET, Key="mp-src", Body=b"\0" * 100 + parts_data[2], ServerSideEncryption="AES256")
    r = s3.upload_part_copy(
        Bucket=BUCKET,
        Key="mp",
        UploadId=uid,
        PartNumber=3,
        CopySource={"Bucket": BUCKET, "Key": "mp-src"},
        CopySourceRange=f"bytes=100-{100 + len(parts_data[2]) - 1}",
        **ssec_args(key),
    )
    parts.append({"PartNumber": 3, "ETag": r["CopyPartResult"]["ETag"]})
    s3.complete_multipart_upload(Bucket=BUCKET, Key="mp", UploadId=uid, MultipartUpload={"Parts": parts})
    whole = b"".join(parts_data)
    got = s3.get_object(Bucket=BUCKET, Key="mp", **ssec_args(key))
    check(got["ContentLength"] == len(whole), f"multipart size {got['ContentLength']} != {len(whole)}")
    check(got["Body"].read() == whole, "SSE-C multipart round trip")
    edge = len(parts_data[0])
    for first, last in [(edge - 10, edge + 10), (0, len(whole) - 1), (edge * 2 - 3, len(whole) - 1), (70000, 70001)]:
        r = s3.get_object(Bucket=BUCKET, Key="mp", Range=f"bytes={first}-{last}", **ssec_args(key))
        check(r["Body"].read() == whole[first : last + 1], f"multipart range {first}-{last}")
    r = s3.get_object(Bucket=BUCKET, Key="mp", PartNumber=2, **ssec_args(key))
    check(r["Body"].read() == parts_data[1], "multipart partNumber=2")
    expect_error("multipart without the key", 400, "InvalidRequest", s3.get_object, Bucket=BUCKET, Key="mp")


def sse_s3(s3):
    step("SSE-S3: put, get, head, range, copy to plain")
    marker = b"SSES3-PLAINTEXT-" + secrets.token_hex(8).encode() + b"|"
    body = marker_body(marker, 2 * MIB + 3)
    put = s3.put_object(Bucket=BUCKET, Key="s", Body=body, ServerSideEncryption="AES256")
    check(put.get("ServerSideEncryption") == "AES256", f"put answers AES256: {put}")
    check(put["ETag"].strip('"') == hashlib.md5(body).hexdigest(), "an SSE-S3 ETag is the MD5")
    got = s3.get_object(Bucket=BUCKET, Key="s")
    check(got.get("ServerSideEncryption") == "AES256", "get answers AES256")
    check(got["Body"].read() == body, "SSE-S3 round trip")
    check(s3.head_object(Bucket=BUCKET, Key="s").get("ServerSideEncryption") == "AES256", "head answers AES256")
    r = s3.get_object(Bucket=BUCKET, Key="s", Range="bytes=65530-65545")
    check(r["Body"].read() == body[65530:65546], "SSE-S3 range across a segment edge")
    expect_error(
        "an SSE-C key for an SSE-S3 object",
        400,
        "InvalidRequest",
        s3.get_object,
        Bucket=BUCKET,
        Key="s",
        **ssec_args(secrets.token_bytes(32)),
    )
    swift_reads(body)
    s3.copy_object(Bucket=BUCKET, Key="s-plain", CopySource={"Bucket": BUCKET, "Key": "s"})
    got = s3.get_object(Bucket=BUCKET, Key="s-plain")
    check("ServerSideEncryption" not in got, "a copy without encryption headers is plain")
    check(got["Body"].read() == body, "SSE-S3 to plain copy")
    expect_error(
        "SSE-KMS without a key id refused (no AWS-managed default key)",
        400,
        "InvalidArgument",
        s3.put_object,
        Bucket=BUCKET,
        Key="kms",
        Body=b"x",
        ServerSideEncryption="aws:kms",
    )
    return marker


def answered_context(resp):
    """The encryption context a HEAD or GET answers (boto3's model has no field for it)."""
    raw = resp["ResponseMetadata"]["HTTPHeaders"].get("x-amz-server-side-encryption-context")
    return None if raw is None else json.loads(base64.b64decode(raw))


def kms_args(key_id):
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id}


def sse_kms(s3, k1, k2):
    step("SSE-KMS: put, get, head, range, context and bucket-key headers")
    marker = b"SSEKMS-PLAINTEXT-" + secrets.token_hex(8).encode() + b"|"
    body = marker_body(marker, 2 * MIB + 70000)
    context = base64.b64encode(b'{"app":"spread"}').decode()
    put = s3.put_object(
        Bucket=BUCKET,
        Key="k",
        Body=body,
        SSEKMSEncryptionContext=context,
        BucketKeyEnabled=True,
        **kms_args(k1),
    )
    check(put.get("ServerSideEncryption") == "aws:kms", f"put answers aws:kms: {put}")
    check(put.get("SSEKMSKeyId") == k1, f"put answers the key id: {put.get('SSEKMSKeyId')}")
    check(put.get("SSEKMSEncryptionContext") == context, "put answers the context back")
    check(put.get("BucketKeyEnabled") is True, "put answers the bucket key flag back")
    got = s3.get_object(Bucket=BUCKET, Key="k")
    check(got.get("ServerSideEncryption") == "aws:kms" and got.get("SSEKMSKeyId") == k1, "get answers aws:kms and the key")
    check(got["Body"].read() == body, "SSE-KMS round trip")
    head = s3.head_object(Bucket=BUCKET, Key="k")
    check(head.get("ServerSideEncryption") == "aws:kms" and head.get("SSEKMSKeyId") == k1, "head answers aws:kms and the key")
    check(head["ContentLength"] == len(body), "head answers the plaintext size")
    check(answered_context(head) == {"app": "spread"}, f"head answers the stored context: {answered_context(head)}")
    check(answered_context(got) == {"app": "spread"}, "get answers the stored context")
    r = s3.get_object(Bucket=BUCKET, Key="k", Range="bytes=65530-131080")
    check(r["Body"].read() == body[65530:131081], "SSE-KMS range across segment edges")
    arn = f"arn:aws:kms:us-east-1:000000000000:key/{k2}"
    put = s3.put_object(Bucket=BUCKET, Key="k-arn", Body=b"by arn", **kms_args(arn))
    check(put.get("SSEKMSKeyId") == k2, f"a key ARN names the key: {put.get('SSEKMSKeyId')}")
    check(s3.get_object(Bucket=BUCKET, Key="k-arn")["Body"].read() == b"by arn", "round trip under the ARN's key")
    expect_error(
        "an unknown key", 400, "KMS.NotFoundException", s3.put_object, Bucket=BUCKET, Key="k-bad", Body=b"x", **kms_args("no-such-key-" + secrets.token_hex(4))
    )
    bad_context = {"x-amz-server-side-encryption-context": base64.b64encode(b"not json").decode()}
    hook = hooked(s3, "before-call.s3.PutObject", bad_context)
    expect_error("a context that is not JSON", 400, "InvalidArgument", s3.put_object, Bucket=BUCKET, Key="k-bad", Body=b"x", **kms_args(k1))
    s3.meta.events.unregister("before-call.s3.PutObject", hook)
    expect_error(
        "an SSE-C key for an SSE-KMS object",
        400,
        "InvalidRequest",
        s3.get_object,
        Bucket=BUCKET,
        Key="k",
        **ssec_args(secrets.token_bytes(32)),
    )
    expect_error("nothing stored by refused puts", 404, None, s3.head_object, Bucket=BUCKET, Key="k-bad")

    step("SSE-KMS: copy to another key, to plain, from SSE-S3; Swift reads the plaintext")
    c = s3.copy_object(Bucket=BUCKET, Key="k-copy", CopySource={"Bucket": BUCKET, "Key": "k"}, **kms_args(k2))
    check(c.get("SSEKMSKeyId") == k2, "copy answers the destination key")
    got = s3.get_object(Bucket=BUCKET, Key="k-copy")
    check(got.get("SSEKMSKeyId") == k2 and got["Body"].read() == body, "copy under another KMS key")
    check(answered_context(got) is None, "a copy does not take the source's context (as AWS)")
    copy_context = base64.b64encode(json.dumps({"copy": "yes", "app": "other"}).encode()).decode()
    c = s3.copy_object(
        Bucket=BUCKET, Key="k-copy-ctx", CopySource={"Bucket": BUCKET, "Key": "k"}, SSEKMSEncryptionContext=copy_context, **kms_args(k1)
    )
    check(c.get("SSEKMSEncryptionContext") == copy_context, "copy answers its context back")
    got = s3.get_object(Bucket=BUCKET, Key="k-copy-ctx")
    check(answered_context(got) == {"app": "other", "copy": "yes"}, f"a copy keeps the copy request's context: {answered_context(got)}")
    check(got["Body"].read() == body, "copy with a context reads back")
    s3.copy_object(Bucket=BUCKET, Key="k-plain", CopySource={"Bucket": BUCKET, "Key": "k"})
    got = s3.get_object(Bucket=BUCKET, Key="k-plain")
    check("ServerSideEncryption" not in got and got["Body"].read() == body, "SSE-KMS to plain copy")
    s3.copy_object(Bucket=BUCKET, Key="s-to-kms", CopySource={"Bucket": BUCKET, "Key": "s"}, **kms_args(k1))
    check(s3.head_object(Bucket=BUCKET, Key="s-to-kms").get("SSEKMSKeyId") == k1, "SSE-S3 to SSE-KMS copy")
    swift_get("k", body)

    step("SSE-KMS multipart: parts under the upload's key, ranges across parts")
    parts_data = [secrets.token_bytes(5 * MIB + 3), secrets.token_bytes(777)]
    mp_context = base64.b64encode(b'{"upload":"kmp"}').decode()
    up = s3.create_multipart_upload(Bucket=BUCKET, Key="kmp", SSEKMSEncryptionContext=mp_context, **kms_args(k1))
    check(up.get("SSEKMSEncryptionContext") == mp_context, "create answers the upload's context")
    check(up.get("ServerSideEncryption") == "aws:kms" and up.get("SSEKMSKeyId") == k1, f"create answers the key: {up}")
    parts = []
    for n, data in enumerate(parts_data, start=1):
        r = s3.upload_part(Bucket=BUCKET, Key="kmp", UploadId=up["UploadId"], PartNumber=n, Body=data)
        check(r.get("SSEKMSKeyId") == k1, "a part answers the upload's key")
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    done = s3.complete_multipart_upload(
        Bucket=BUCKET, Key="kmp", UploadId=up["UploadId"], MultipartUpload={"Parts": parts}
    )
    check(done.get("SSEKMSKeyId") == k1, "complete answers the key")
    whole = b"".join(parts_data)
    got = s3.get_object(Bucket=BUCKET, Key="kmp")
    check(got.get("SSEKMSKeyId") == k1 and got["Body"].read() == whole, "SSE-KMS multipart round trip")
    check(answered_context(got) == {"upload": "kmp"}, "the completed object keeps the upload's context")
    edge = len(parts_data[0])
    r = s3.get_object(Bucket=BUCKET, Key="kmp", Range=f"bytes={edge - 5}-{edge + 5}")
    check(r["Body"].read() == whole[edge - 5 : edge + 6], "SSE-KMS multipart range across parts")
    expect_error(
        "an upload under an unknown key", 400, "KMS.NotFoundException", s3.create_multipart_upload, Bucket=BUCKET, Key="kmp2", **kms_args("no-such-key-" + secrets.token_hex(4))
    )

    step("SSE-KMS: a disabled key refuses writes and reads once the gateway's key cache lets go of it")
    # The gateway keeps an opened key for kms_cache_secs (10 by default): a new key, first
    # used now, is fresh in the cache, so it still serves just after being disabled, and is
    # refused within the bound.
    bound = float(os.environ.get("SPREAD_GATEWAY_KMS_CACHE_SECS", "10"))
    k3 = f"kms-{secrets.token_hex(4)}"
    check(f"created KMS key {k3}" in admin("kms", "key", "create", k3), f"kms key create {k3}")
    listed = admin("kms", "key", "list")
    check(any(line.split()[:2] == [k3, "enabled"] for line in listed.splitlines()), f"key listed enabled: {listed}")
    opened = time.monotonic()
    s3.put_object(Bucket=BUCKET, Key="k3", Body=body, **kms_args(k3))
    admin("kms", "key", "disable", k3)
    disabled = time.monotonic()
    check(
        any(line.split()[:2] == [k3, "disabled"] for line in admin("kms", "key", "list").splitlines()),
        "key listed disabled",
    )
    if bound >= 2 and time.monotonic() - opened < bound - 1:
        got = s3.get_object(Bucket=BUCKET, Key="k3")["Body"].read()
        check(got == body, f"a key disabled {time.monotonic() - disabled:.1f} s ago still serves from the gateway's cache (bound {bound:g} s)")
    refused = None
    while time.monotonic() - disabled < bound + 5:
        try:
            s3.get_object(Bucket=BUCKET, Key="k3")["Body"].read()
        except ClientError as e:
            if e.response["Error"]["Code"] != "KMS.DisabledException":
                raise
            refused = time.monotonic() - disabled
            break
        time.sleep(0.25)
    if refused is None:
        fail(f"a disabled key still serves {bound + 5:g} s later (kms_cache_secs {bound:g})")
    print(f"  disabled key refused {refused:.1f} s after `kms key disable` (kms_cache_secs {bound:g})")
    expect_error("a write with a disabled key", 400, "KMS.DisabledException", s3.put_object, Bucket=BUCKET, Key="k-off", Body=b"x", **kms_args(k3))
    expect_error("a read under a disabled key", 400, "KMS.DisabledException", s3.get_object, Bucket=BUCKET, Key="k3")
    head = s3.head_object(Bucket=BUCKET, Key="k3")
    check(head.get("SSEKMSKeyId") == k3, "HEAD answers under a disabled key (it opens no key, as AWS's calls no KMS)")
    check(s3.get_object(Bucket=BUCKET, Key="k")["Body"].read() == body, "objects under other keys still read")
    admin("kms", "key", "enable", k3)
    check(s3.get_object(Bucket=BUCKET, Key="k3")["Body"].read() == body, "read again at once when the key is enabled (refusals are not cached)")
    return marker


def swift_session():
    """The Swift storage URL and a token for the test user."""
    import requests

    auth = requests.get(
        os.environ["SPREAD_SWIFT_AUTH"],
        headers={"X-Auth-User": os.environ["SPREAD_SWIFT_USER"], "X-Auth-Key": os.environ["SPREAD_SWIFT_KEY"]},
        timeout=30,
    )
    check(auth.status_code in (200, 204), f"swift auth: {auth.status_code}")
    return auth.headers["X-Storage-Url"], auth.headers["X-Auth-Token"]


def swift_get(key, body):
    """A Swift GET of `key` (SSE-S3 or SSE-KMS) answers its plaintext."""
    import requests

    url, token = swift_session()
    r = requests.get(f"{url}/{BUCKET}/{key}", headers={"X-Auth-Token": token}, timeout=60)
    check(r.status_code == 200 and r.content == body, f"swift GET of {key}: {r.status_code}")


def kms_default_and_policy(s3, k2):
    step("bucket default encryption with aws:kms; a policy denying unencrypted PUTs and other keys")
    b = BUCKET + "-kms"
    s3.create_bucket(Bucket=b)
    expect_error(
        "aws:kms default without a key id",
        400,
        "InvalidArgument",
        s3.put_bucket_encryption,
        Bucket=b,
        ServerSideEncryptionConfiguration={"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]},
    )
    conf = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": k2}}]}
    s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=conf)
    got = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]["Rules"][0]
    check(got["ApplyServerSideEncryptionByDefault"].get("KMSMasterKeyID") == k2, f"default read back: {got}")
    s3.put_object(Bucket=b, Key="d", Body=b"kms default")
    got = s3.get_object(Bucket=b, Key="d")
    check(got.get("ServerSideEncryption") == "aws:kms" and got.get("SSEKMSKeyId") == k2, "a PUT without headers gets the KMS default")
    check(got["Body"].read() == b"kms default", "KMS default round trip")
    s3.delete_bucket_encryption(Bucket=b)
    import json

    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{b}/*",
                "Condition": {"Null": {"s3:x-amz-server-side-encryption": "true"}},
            },
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{b}/*",
                "Condition": {
                    "StringEquals": {"s3:x-amz-server-side-encryption": "aws:kms"},
                    "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": k2},
                },
            },
        ],
    }
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps(policy))
    expect_error("an unencrypted PUT denied by the policy", 403, "AccessDenied", s3.put_object, Bucket=b, Key="p", Body=b"x")
    expect_error(
        "a PUT under another KMS key denied by the policy",
        403,
        "AccessDenied",
        s3.put_object,
        Bucket=b,
        Key="p",
        Body=b"x",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId="testkey-other",
    )
    s3.put_object(Bucket=b, Key="p1", Body=b"x", ServerSideEncryption="AES256")
    s3.put_object(Bucket=b, Key="p2", Body=b"x", **kms_args(k2))
    check(s3.head_object(Bucket=b, Key="p2").get("SSEKMSKeyId") == k2, "the allowed KMS PUT went through")
    s3.delete_bucket_policy(Bucket=b)


def swift_reads(sse_s3_body):
    """Swift, which has no encryption headers: an SSE-S3 object reads as its plaintext, an SSE-C
    one is refused (403) before any byte."""
    step("Swift GET: SSE-S3 plaintext, SSE-C refused")
    import requests

    url, token = swift_session()
    r = requests.get(f"{url}/{BUCKET}/s", headers={"X-Auth-Token": token}, timeout=60)
    check(r.status_code == 200 and r.content == sse_s3_body, f"swift GET of SSE-S3: {r.status_code}")
    r = requests.get(f"{url}/{BUCKET}/c", headers={"X-Auth-Token": token}, timeout=60)
    check(r.status_code == 403, f"swift GET of SSE-C: {r.status_code}")


def bucket_default(s3):
    step("bucket default encryption: put, get, applied, deleted")
    b = BUCKET + "-def"
    s3.create_bucket(Bucket=b)
    expect_error(
        "no default yet", 404, "ServerSideEncryptionConfigurationNotFoundError", s3.get_bucket_encryption, Bucket=b
    )
    conf = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}
    s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration=conf)
    got = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]
    check(
        got["Rules"][0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256",
        f"default read back: {got}",
    )
    s3.put_object(Bucket=b, Key="d", Body=b"defaulted")
    got = s3.get_object(Bucket=b, Key="d")
    check(got.get("ServerSideEncryption") == "AES256", "a PUT without headers gets the default")
    check(got["Body"].read() == b"defaulted", "defaulted round trip")
    key = secrets.token_bytes(32)
    s3.put_object(Bucket=b, Key="dc", Body=b"customer", **ssec_args(key))
    got = s3.get_object(Bucket=b, Key="dc", **ssec_args(key))
    check("ServerSideEncryption" not in got and got["Body"].read() == b"customer", "SSE-C overrides the default")
    expect_error(
        "KMS default refused",
        400,
        "InvalidArgument",
        s3.put_bucket_encryption,
        Bucket=b,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}}]
        },
    )
    r = s3.delete_bucket_encryption(Bucket=b)
    check(r["ResponseMetadata"]["HTTPStatusCode"] == 204, "delete answers 204")
    expect_error(
        "default removed", 404, "ServerSideEncryptionConfigurationNotFoundError", s3.get_bucket_encryption, Bucket=b
    )
    s3.put_object(Bucket=b, Key="p", Body=b"plain again")
    check("ServerSideEncryption" not in s3.head_object(Bucket=b, Key="p"), "no default: stored as sent")


def main():
    s3 = client()
    s3.create_bucket(Bucket=BUCKET)
    markers = [sse_c(s3)]
    multipart(s3)
    markers.append(sse_s3(s3))
    k1, k2 = f"kms-{secrets.token_hex(4)}", f"kms-{secrets.token_hex(4)}"
    for k in (k1, k2):
        check(f"created KMS key {k}" in admin("kms", "key", "create", k), f"kms key create {k}")
    markers.append(sse_kms(s3, k1, k2))
    bucket_default(s3)
    kms_default_and_policy(s3, k2)
    step("the plaintext of encrypted objects is nowhere in the data dir")
    # The markers of the plain copy `s-plain` are on disk: proof the search finds plaintext.
    # (`s-plain` of SSE-S3's marker, `k-plain` of SSE-KMS's.)
    plain_s3, plain_kms = on_disk(markers[1]), on_disk(markers[2])
    check(plain_s3 and plain_kms, "the search finds the plain copies' bytes (else it proves nothing)")
    found_plain = plain_s3 + plain_kms
    s3.delete_object(Bucket=BUCKET, Key="s-plain")
    s3.delete_object(Bucket=BUCKET, Key="k-plain")
    for m in markers:
        # The plain copy's chunks may linger until GC: only files other than those count.
        hits = [p for p in on_disk(m) if p not in found_plain]
        if hits:
            fail(f"plaintext marker {m!r} found on disk in {hits[:3]}")
    step("ok")


if __name__ == "__main__":
    main()
