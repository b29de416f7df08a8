#!/usr/bin/env python3
"""boto3 against Spread: UploadPartCopy (multi-MiB ranges, whole object, a named version,
bad ranges, copy conditions), listing XML details, the answers for object lock and encryption
that Spread does not implement, and request details (RequestId in error XML, UTF-8 metadata,
default Content-Type, empty Content-MD5, bucket names, duplicate parts in Complete)."""

import datetime
import hashlib
import secrets
import time

from s3common import fail, step, expect_error, client

MIB = 1024 * 1024


def header_hook(client, event, headers):
    def add(params, **_):
        params["headers"].update(headers)

    client.meta.events.register(event, add)
    return add


def object_lock(s3, bucket):
    """A bucket created with object lock: versioning on for good, a default retention applied
    to new versions, versions under retention or legal hold kept until the lock ends."""
    s3.create_bucket(Bucket=bucket, ObjectLockEnabledForBucket=True)
    if s3.get_bucket_versioning(Bucket=bucket).get("Status") != "Enabled":
        fail("object lock did not enable versioning")
    expect_error(
        "suspend versioning under object lock",
        409,
        "InvalidBucketState",
        s3.put_bucket_versioning,
        Bucket=bucket,
        VersioningConfiguration={"Status": "Suspended"},
    )
    conf = {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
    }
    s3.put_object_lock_configuration(Bucket=bucket, ObjectLockConfiguration=conf)
    if s3.get_object_lock_configuration(Bucket=bucket)["ObjectLockConfiguration"] != conf:
        fail("object lock configuration not kept")
    v = s3.put_object(Bucket=bucket, Key="k", Body=b"kept")["VersionId"]
    h = s3.head_object(Bucket=bucket, Key="k")
    if h.get("ObjectLockMode") != "GOVERNANCE" or "ObjectLockRetainUntilDate" not in h:
        fail(f"default retention not applied: {h.get('ObjectLockMode')}")
    expect_error(
        "delete a retained version",
        403,
        "AccessDenied",
        s3.delete_object,
        Bucket=bucket,
        Key="k",
        VersionId=v,
    )
    # A delete marker deletes no version: allowed, and the version is still there.
    s3.delete_object(Bucket=bucket, Key="k")
    if s3.get_object(Bucket=bucket, Key="k", VersionId=v)["Body"].read() != b"kept":
        fail("retained version lost")
    s3.delete_object(Bucket=bucket, Key="k", VersionId=v, BypassGovernanceRetention=True)
    expect_error(
        "version deleted with bypass",
        404,
        "NoSuchVersion",
        s3.get_object,
        Bucket=bucket,
        Key="k",
        VersionId=v,
    )

    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=2)
    c = s3.put_object(
        Bucket=bucket,
        Key="c",
        Body=b"c",
        ObjectLockMode="COMPLIANCE",
        ObjectLockRetainUntilDate=until,
        ObjectLockLegalHoldStatus="ON",
    )["VersionId"]
    shorter = {"Mode": "COMPLIANCE", "RetainUntilDate": until - datetime.timedelta(days=1)}
    expect_error(
        "shorten a compliance retention, even with bypass",
        403,
        "AccessDenied",
        s3.put_object_retention,
        Bucket=bucket,
        Key="c",
        VersionId=c,
        Retention=shorter,
        BypassGovernanceRetention=True,
    )
    if s3.get_object_legal_hold(Bucket=bucket, Key="c")["LegalHold"]["Status"] != "ON":
        fail("legal hold not set from the PUT header")
    expect_error(
        "delete under compliance and legal hold",
        403,
        "AccessDenied",
        s3.delete_object,
        Bucket=bucket,
        Key="c",
        VersionId=c,
        BypassGovernanceRetention=True,
    )
    r = s3.get_object_retention(Bucket=bucket, Key="c", VersionId=c)["Retention"]
    if r["Mode"] != "COMPLIANCE" or abs((r["RetainUntilDate"] - until).total_seconds()) > 1:
        fail(f"retention: {r}")


def main():
    s3 = client()
    bucket = f"misc-{int(time.time())}-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=bucket)
    step(f"bucket {bucket}")

    # ---------------------------------------------------------------- UploadPartCopy
    src = secrets.token_bytes(12 * MIB + 4321)
    s3.put_object(Bucket=bucket, Key="src", Body=src)
    up = s3.create_multipart_upload(Bucket=bucket, Key="dst", ContentType="text/plain")
    uid = up["UploadId"]
    ranges = [(0, 5 * MIB - 1), (5 * MIB, 11 * MIB - 1), (11 * MIB, len(src) - 1)]
    parts = []
    for n, (first, last) in enumerate(ranges, start=1):
        r = s3.upload_part_copy(
            Bucket=bucket,
            Key="dst",
            UploadId=uid,
            PartNumber=n,
            CopySource={"Bucket": bucket, "Key": "src"},
            CopySourceRange=f"bytes={first}-{last}",
        )
        tag = r["CopyPartResult"]["ETag"]
        want = hashlib.md5(src[first : last + 1]).hexdigest()
        if tag.strip('"') != want:
            fail(f"part {n}: ETag {tag} is not the MD5 of the range ({want})")
        parts.append({"ETag": tag, "PartNumber": n})
    listed = s3.list_parts(Bucket=bucket, Key="dst", UploadId=uid)["Parts"]
    sizes = [p["Size"] for p in listed]
    if sizes != [last - first + 1 for first, last in ranges]:
        fail(f"ListParts sizes {sizes}")
    s3.complete_multipart_upload(
        Bucket=bucket, Key="dst", UploadId=uid, MultipartUpload={"Parts": parts}
    )
    got = s3.get_object(Bucket=bucket, Key="dst")
    if got["Body"].read() != src:
        fail("object assembled from copied ranges differs from the source")
    if got["ContentType"] != "text/plain":
        fail(f"copied multipart object Content-Type {got['ContentType']}")
    step("UploadPartCopy: 3 ranges (5, 6 and 1 MiB) assembled byte-identical")

    # Without a range (the whole source), from another bucket.
    other = bucket + "-b"
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=other, Key="small src", Body=b"0123456789")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="whole")["UploadId"]
    r = s3.upload_part_copy(
        Bucket=bucket,
        Key="whole",
        UploadId=uid,
        PartNumber=1,
        CopySource={"Bucket": other, "Key": "small src"},
    )
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="whole",
        UploadId=uid,
        MultipartUpload={"Parts": [{"ETag": r["CopyPartResult"]["ETag"], "PartNumber": 1}]},
    )
    if s3.get_object(Bucket=bucket, Key="whole")["Body"].read() != b"0123456789":
        fail("UploadPartCopy without a range")

    # Bad ranges and failed conditions.
    uid = s3.create_multipart_upload(Bucket=bucket, Key="bad")["UploadId"]
    copy = dict(
        Bucket=bucket,
        Key="bad",
        UploadId=uid,
        PartNumber=1,
        CopySource={"Bucket": other, "Key": "small src"},
    )
    for rng in [
        "0-2",
        "bytes=0",
        "bytes=hello-world",
        "bytes=0-bar",
        "bytes=hello-",
        "bytes=0-2,3-5",
        "bytes=5-2",
    ]:
        expect_error(
            f"range {rng!r}",
            400,
            "InvalidArgument",
            s3.upload_part_copy,
            CopySourceRange=rng,
            **copy,
        )
    e = expect_error(
        "range past the end",
        416,
        "InvalidRange",
        s3.upload_part_copy,
        CopySourceRange="bytes=0-21",
        **copy,
    )
    expect_error(
        "If-Match",
        412,
        "PreconditionFailed",
        s3.upload_part_copy,
        CopySourceIfMatch='"0123"',
        **copy,
    )
    expect_error(
        "If-None-Match",
        412,
        "PreconditionFailed",
        s3.upload_part_copy,
        CopySourceIfNoneMatch="*",
        **copy,
    )
    expect_error(
        "missing source",
        404,
        "NoSuchKey",
        s3.upload_part_copy,
        **{**copy, "CopySource": {"Bucket": other, "Key": "nope"}},
    )
    s3.abort_multipart_upload(Bucket=bucket, Key="bad", UploadId=uid)
    step("UploadPartCopy: bad ranges 400/416, failed conditions 412")

    # A named version of a versioned source.
    s3.put_bucket_versioning(Bucket=other, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=other, Key="v", Body=b"first version")["VersionId"]
    s3.put_object(Bucket=other, Key="v", Body=b"second version")
    uid = s3.create_multipart_upload(Bucket=bucket, Key="fromv1")["UploadId"]
    r = s3.upload_part_copy(
        Bucket=bucket,
        Key="fromv1",
        UploadId=uid,
        PartNumber=1,
        CopySource={"Bucket": other, "Key": "v", "VersionId": v1},
        CopySourceRange="bytes=0-4",
    )
    if r.get("CopySourceVersionId") != v1:
        fail(f"CopySourceVersionId {r.get('CopySourceVersionId')} != {v1}")
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="fromv1",
        UploadId=uid,
        MultipartUpload={"Parts": [{"ETag": r["CopyPartResult"]["ETag"], "PartNumber": 1}]},
    )
    if s3.get_object(Bucket=bucket, Key="fromv1")["Body"].read() != b"first":
        fail("UploadPartCopy of a named version")
    step("UploadPartCopy: versionId honoured")

    # Duplicate PartNumber in Complete: the last entry wins.
    uid = s3.create_multipart_upload(Bucket=bucket, Key="dup")["UploadId"]
    a = s3.upload_part(Bucket=bucket, Key="dup", UploadId=uid, PartNumber=1, Body=b"A" * 8)
    b = s3.upload_part(Bucket=bucket, Key="dup", UploadId=uid, PartNumber=1, Body=b"B" * 8)
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="dup",
        UploadId=uid,
        MultipartUpload={
            "Parts": [{"ETag": a["ETag"], "PartNumber": 1}, {"ETag": b["ETag"], "PartNumber": 1}]
        },
    )
    if s3.get_object(Bucket=bucket, Key="dup")["Body"].read() != b"B" * 8:
        fail("duplicate PartNumber in Complete")

    # ---------------------------------------------------------------- listing details
    s3.put_object(Bucket=bucket, Key="\n", Body=b"")
    r = s3.list_objects(Bucket=bucket, Delimiter="")
    if "Delimiter" in r or r.get("Marker") != "":
        fail(f"v1 listing: Delimiter {r.get('Delimiter')!r}, Marker {r.get('Marker')!r}")
    if "Delimiter" in s3.list_objects_v2(Bucket=bucket, Delimiter=""):
        fail("v2 listing echoes an empty Delimiter")
    r = s3.list_objects(Bucket=bucket, Prefix="\n")
    if r.get("Prefix") != "\n" or [o["Key"] for o in r["Contents"]] != ["\n"]:
        fail(f"v1 listing of an unreadable prefix: {r.get('Prefix')!r}")
    step("listing: empty delimiter omitted, Marker always, v1 Prefix as sent")

    # ---------------------------------------------------------------- object lock
    object_lock(s3, bucket + "-lock")
    step("object lock: default retention, governance bypass, compliance, legal hold")

    # ---------------------------------------------------------------- buckets without object lock
    expect_error(
        "GetObjectLockConfiguration",
        404,
        "ObjectLockConfigurationNotFoundError",
        s3.get_object_lock_configuration,
        Bucket=bucket,
    )
    expect_error(
        "PutObjectLockConfiguration",
        409,
        "InvalidBucketState",
        s3.put_object_lock_configuration,
        Bucket=bucket,
        ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"},
    )
    expect_error(
        "GetObjectRetention",
        400,
        "InvalidRequest",
        s3.get_object_retention,
        Bucket=bucket,
        Key="src",
    )
    expect_error(
        "PutObjectLegalHold",
        400,
        "InvalidRequest",
        s3.put_object_legal_hold,
        Bucket=bucket,
        Key="src",
        LegalHold={"Status": "ON"},
    )
    expect_error(
        "GetBucketEncryption",
        404,
        "ServerSideEncryptionConfigurationNotFoundError",
        s3.get_bucket_encryption,
        Bucket=bucket,
    )
    # SSE-C, SSE-S3 and SSE-KMS work (boto3_sse.py); SSE-KMS without a key id (Spread has no
    # AWS-managed default key) and a key id without SSE-KMS are refused.
    for name, headers in [
        ("SSE-KMS without a key id", {"x-amz-server-side-encryption": "aws:kms"}),
        ("KMS key without SSE-KMS", {"x-amz-server-side-encryption-aws-kms-key-id": "k"}),
    ]:
        hook = header_hook(s3, "before-call.s3.PutObject", headers)
        expect_error(
            name,
            400,
            "InvalidArgument",
            s3.put_object,
            Bucket=bucket,
            Key="enc",
            Body=b"secret",
        )
        s3.meta.events.unregister("before-call.s3.PutObject", hook)
    expect_error(
        "object stored despite refused encryption",
        404,
        "NoSuchKey",
        s3.get_object,
        Bucket=bucket,
        Key="enc",
    )
    step("object lock on a bucket without it, bucket encryption, SSE-KMS refusals")

    # ---------------------------------------------------------------- request details
    e = expect_error("GET missing", 404, "NoSuchKey", s3.get_object, Bucket=bucket, Key="nope")
    rid = e.response["ResponseMetadata"].get("RequestId")
    if not rid or e.response["Error"].get("RequestId", rid) != rid:
        fail(f"error RequestId {e.response['Error'].get('RequestId')!r} vs header {rid!r}")
    # botocore refuses non-ASCII Metadata values; the header is set as the suite does.
    hook = header_hook(s3, "before-call.s3.PutObject", {"x-amz-meta-meta1": "Hello Worldé"})
    s3.put_object(Bucket=bucket, Key="meta", Body=b"x")
    s3.meta.events.unregister("before-call.s3.PutObject", hook)
    got = s3.head_object(Bucket=bucket, Key="meta")
    # The value comes back as raw UTF-8 bytes, which http.client reads as latin-1.
    meta1 = got["Metadata"].get("meta1", "").encode("raw_unicode_escape").decode()
    if meta1 != "Hello Worldé":
        fail(f"UTF-8 metadata came back as {got['Metadata']}")
    if got["ContentType"] != "binary/octet-stream":
        fail(f"default Content-Type {got['ContentType']!r}")
    hook = header_hook(s3, "before-call.s3.PutObject", {"Content-MD5": ""})
    expect_error(
        "empty Content-MD5",
        400,
        "InvalidDigest",
        s3.put_object,
        Bucket=bucket,
        Key="md5",
        Body=b"x",
    )
    s3.meta.events.unregister("before-call.s3.PutObject", hook)
    expect_error(
        "bucket foo-.bar",
        400,
        "InvalidBucketName",
        s3.create_bucket,
        Bucket=f"misc-{secrets.token_hex(3)}-.bar",
    )
    # Every error says what is wrong (aws-cli prints the message; "Unknown" when there is none).
    e = expect_error(
        "bucket Bad_Name",
        400,
        "InvalidBucketName",
        s3.create_bucket,
        Bucket="Bad_Name",
    )
    msg = e.response["Error"].get("Message", "")
    if "lowercase letters" not in msg or "Bad_Name" not in msg:
        fail(f"InvalidBucketName message does not say which rule: {msg!r}")
    wrong = client(sk="not-the-secret-key-at-all")
    e = expect_error("wrong secret", 403, "SignatureDoesNotMatch", wrong.list_buckets)
    if "signature" not in e.response["Error"].get("Message", ""):
        fail(f"SignatureDoesNotMatch without its message: {e.response['Error']}")
    step("RequestId in error XML, UTF-8 metadata, default Content-Type, empty MD5, names")

    # ---------------------------------------------------------------- cleanup
    s3.put_bucket_versioning(Bucket=other, VersioningConfiguration={"Status": "Suspended"})
    for b in (bucket, other):
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=b):
            for v in page.get("Versions", []) + page.get("DeleteMarkers", []):
                s3.delete_object(Bucket=b, Key=v["Key"], VersionId=v["VersionId"])
        s3.delete_bucket(Bucket=b)
    step("ok")


if __name__ == "__main__":
    main()
