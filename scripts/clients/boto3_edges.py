#!/usr/bin/env python3
"""boto3 against Spread, the S3 edges of issue #19: bucket ownership controls (ACLs off with
BucketOwnerEnforced), GetObject/HeadObject by partNumber, the delete-marker headers of a 404,
If-Match on a missing key, a CompleteMultipartUpload sent again, ListBuckets pages,
x-amz-expected-bucket-owner, the 2 KB user-metadata limit, an unknown storage policy, PUT
with chunked transfer encoding and aws-chunked content encoding."""

import hashlib
import os
import secrets
import urllib.parse

import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from s3common import admin, check, client, expect_error, fail, step

MIB = 1024 * 1024


def alt_client():
    alt = "edgesalt"
    admin("account", "create", alt)
    ak = "EDGESALT" + secrets.token_hex(6).upper()
    sk = secrets.token_hex(20)
    admin("key", "create", alt, "--access-key", ak, "--secret-key", sk)
    return client(ak, sk), alt


def ownership(s3, alt, me, tag):
    step("ownership controls: none set, then each kind, then removed")
    bucket = f"edges-own-{tag}"
    s3.create_bucket(Bucket=bucket)
    expect_error(
        "ownership controls never set",
        404,
        "OwnershipControlsNotFoundError",
        s3.get_bucket_ownership_controls,
        Bucket=bucket,
    )
    for kind in ["ObjectWriter", "BucketOwnerPreferred", "BucketOwnerEnforced"]:
        s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": kind}]}
        )
        got = s3.get_bucket_ownership_controls(Bucket=bucket)["OwnershipControls"]["Rules"]
        check(got == [{"ObjectOwnership": kind}], f"ownership {kind}: {got}")
    expect_error(
        "a rule that names no known ownership",
        400,
        None,
        s3.put_bucket_ownership_controls,
        Bucket=bucket,
        OwnershipControls={"Rules": [{"ObjectOwnership": "Nobody"}]},
    )
    expect_error(
        "only the owner manages them",
        403,
        "AccessDenied",
        alt.get_bucket_ownership_controls,
        Bucket=bucket,
    )

    step("BucketOwnerEnforced: ACLs off")
    expect_error(
        "PutBucketAcl public-read",
        400,
        "AccessControlListNotSupported",
        s3.put_bucket_acl,
        Bucket=bucket,
        ACL="public-read",
    )
    s3.put_bucket_acl(Bucket=bucket, ACL="private")
    expect_error(
        "PutObject with x-amz-acl public-read",
        400,
        "AccessControlListNotSupported",
        s3.put_object,
        Bucket=bucket,
        Key="k",
        Body=b"x",
        ACL="public-read",
    )
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    acl = s3.get_object_acl(Bucket=bucket, Key="k")
    check(
        acl["Owner"]["ID"] == me
        and [(g["Grantee"].get("ID"), g["Permission"]) for g in acl["Grants"]]
        == [(me, "FULL_CONTROL")],
        f"object ACL with ACLs off: {acl}",
    )
    expect_error(
        "PutObjectAcl public-read",
        400,
        "AccessControlListNotSupported",
        s3.put_object_acl,
        Bucket=bucket,
        Key="k",
        ACL="public-read",
    )

    step("a bucket ACL granting others keeps BucketOwnerEnforced out")
    s3.delete_bucket_ownership_controls(Bucket=bucket)
    expect_error(
        "ownership controls deleted",
        404,
        "OwnershipControlsNotFoundError",
        s3.get_bucket_ownership_controls,
        Bucket=bucket,
    )
    s3.put_bucket_acl(Bucket=bucket, ACL="public-read")
    expect_error(
        "BucketOwnerEnforced over a public bucket ACL",
        400,
        "InvalidBucketAclWithObjectOwnership",
        s3.put_bucket_ownership_controls,
        Bucket=bucket,
        OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]},
    )

    step("a bucket ACL grant stops counting once ACLs are off")
    shared = f"edges-shared-{tag}"
    s3.create_bucket(Bucket=shared)
    s3.put_bucket_acl(Bucket=shared, GrantWrite=f"id={alt_id(alt)}", GrantFullControl=f"id={me}")
    alt.put_object(Bucket=shared, Key="by-alt", Body=b"a")
    s3.put_bucket_acl(Bucket=shared, ACL="private")
    s3.put_bucket_ownership_controls(
        Bucket=shared, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    )
    # The owner now owns what alt wrote: it reads it without any grant from alt.
    check(s3.get_object(Bucket=shared, Key="by-alt")["Body"].read() == b"a", "owner reads")

    step("CreateBucket with x-amz-object-ownership")
    enforced = f"edges-enforced-{tag}"
    s3.create_bucket(Bucket=enforced, ObjectOwnership="BucketOwnerEnforced")
    got = s3.get_bucket_ownership_controls(Bucket=enforced)["OwnershipControls"]["Rules"]
    check(got == [{"ObjectOwnership": "BucketOwnerEnforced"}], f"created enforced: {got}")
    expect_error(
        "CreateBucket enforced with public-read",
        400,
        "InvalidBucketAclWithObjectOwnership",
        s3.create_bucket,
        Bucket=f"edges-bad-{tag}",
        ObjectOwnership="BucketOwnerEnforced",
        ACL="public-read",
    )

    step("BucketOwnerPreferred: bucket-owner-full-control hands the object to the bucket owner")
    preferred = f"edges-pref-{tag}"
    s3.create_bucket(Bucket=preferred, ObjectOwnership="BucketOwnerPreferred")
    s3.put_bucket_acl(Bucket=preferred, GrantWrite=f"id={alt_id(alt)}", GrantFullControl=f"id={me}")
    alt.put_object(Bucket=preferred, Key="given", Body=b"g", ACL="bucket-owner-full-control")
    alt.put_object(Bucket=preferred, Key="kept", Body=b"k")
    given = s3.get_object_acl(Bucket=preferred, Key="given")["Owner"]["ID"]
    check(given == me, f"owner of an object written bucket-owner-full-control: {given}")
    kept = alt.get_object_acl(Bucket=preferred, Key="kept")["Owner"]["ID"]
    check(kept == alt_id(alt), f"owner of an object written without it: {kept}")


_ALT_ID = {}


def alt_id(alt):
    if "id" not in _ALT_ID:
        _ALT_ID["id"] = alt.list_buckets()["Owner"]["ID"]
    return _ALT_ID["id"]


def part_number(s3, bucket):
    step("GetObject/HeadObject by partNumber")
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp")
    bodies = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(1234)]
    parts = []
    for n, body in enumerate(bodies, start=1):
        r = s3.upload_part(Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=n, Body=body)
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    done = s3.complete_multipart_upload(
        Bucket=bucket, Key="mp", UploadId=up["UploadId"], MultipartUpload={"Parts": parts}
    )
    total = sum(len(b) for b in bodies)
    start = 0
    for n, body in enumerate(bodies, start=1):
        g = s3.get_object(Bucket=bucket, Key="mp", PartNumber=n)
        got = g["Body"].read()
        check(got == body, f"part {n}: {len(got)} bytes, not its own {len(body)}")
        check(g["PartsCount"] == 3, f"part {n} parts count {g.get('PartsCount')}")
        want = f"bytes {start}-{start + len(body) - 1}/{total}"
        check(g["ContentRange"] == want, f"part {n} range {g.get('ContentRange')} != {want}")
        check(g["ETag"] == done["ETag"], f"part {n} ETag is the object's")
        h = s3.head_object(Bucket=bucket, Key="mp", PartNumber=n)
        check(h["ContentLength"] == len(body) and h["PartsCount"] == 3, f"HEAD part {n}: {h}")
        check(h["ResponseMetadata"]["HTTPStatusCode"] == 206, "HEAD of a part answers 206")
        start += len(body)
    expect_error("part past the last", 400, "InvalidPart", s3.get_object, Bucket=bucket, Key="mp", PartNumber=4)
    expect_error("HEAD part past the last", 400, None, s3.head_object, Bucket=bucket, Key="mp", PartNumber=4)
    expect_error(
        "partNumber with a Range",
        400,
        "InvalidRequest",
        s3.get_object,
        Bucket=bucket,
        Key="mp",
        PartNumber=1,
        Range="bytes=0-1",
    )
    s3.put_object(Bucket=bucket, Key="single", Body=b"0123456789")
    g = s3.get_object(Bucket=bucket, Key="single", PartNumber=1)
    check(g["Body"].read() == b"0123456789", "part 1 of a single-part object is all of it")
    check("PartsCount" not in g, f"single-part object has no parts count: {g.get('PartsCount')}")
    expect_error(
        "part 2 of a single-part object",
        400,
        "InvalidPart",
        s3.get_object,
        Bucket=bucket,
        Key="single",
        PartNumber=2,
    )


def delete_markers(s3, bucket):
    step("a 404 on a delete marker carries x-amz-delete-marker and its version id")
    for status in ["Enabled", "Suspended"]:
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})
        key = f"dm-{status}"
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
        marker = s3.delete_object(Bucket=bucket, Key=key)
        check(marker.get("DeleteMarker") is True, f"{status}: delete made a marker {marker}")
        for op in (s3.get_object, s3.head_object):
            e = expect_error(f"{status}: {op.__name__} on a marker", 404, None, op, Bucket=bucket, Key=key)
            h = e.response["ResponseMetadata"]["HTTPHeaders"]
            check(h.get("x-amz-delete-marker") == "true", f"{status} {op.__name__}: {h}")
            want = marker.get("VersionId", "null")
            check(h.get("x-amz-version-id") == want, f"{status} {op.__name__}: version {h} != {want}")
    e = expect_error("a key never written", 404, "NoSuchKey", s3.get_object, Bucket=bucket, Key="never")
    h = e.response["ResponseMetadata"]["HTTPHeaders"]
    check("x-amz-delete-marker" not in h, f"no marker header on a plain miss: {h}")

    step("If-Match on a missing key")
    expect_error(
        "PUT If-Match on a missing key",
        404,
        "NoSuchKey",
        s3.put_object,
        Bucket=bucket,
        Key="never",
        Body=b"x",
        IfMatch='"00000000000000000000000000000000"',
    )
    expect_error(
        "GET If-Match on a missing key",
        404,
        "NoSuchKey",
        s3.get_object,
        Bucket=bucket,
        Key="never",
        IfMatch='"00000000000000000000000000000000"',
    )


def complete_again(s3, bucket):
    step("CompleteMultipartUpload sent again answers the same object")
    up = s3.create_multipart_upload(Bucket=bucket, Key="again")
    r = s3.upload_part(Bucket=bucket, Key="again", UploadId=up["UploadId"], PartNumber=1, Body=b"once")
    parts = {"Parts": [{"PartNumber": 1, "ETag": r["ETag"]}]}
    first = s3.complete_multipart_upload(
        Bucket=bucket, Key="again", UploadId=up["UploadId"], MultipartUpload=parts
    )
    second = s3.complete_multipart_upload(
        Bucket=bucket, Key="again", UploadId=up["UploadId"], MultipartUpload=parts
    )
    check(second["ETag"] == first["ETag"], f"retry ETag {second['ETag']} != {first['ETag']}")
    # Once another object took the key, the old upload id is unknown again.
    s3.put_object(Bucket=bucket, Key="again", Body=b"newer")
    expect_error(
        "Complete again after the key was overwritten",
        404,
        "NoSuchUpload",
        s3.complete_multipart_upload,
        Bucket=bucket,
        Key="again",
        UploadId=up["UploadId"],
        MultipartUpload=parts,
    )


def list_buckets_pages(s3, tag):
    step("ListBuckets: max-buckets pages with a continuation token, prefix")
    names = sorted(f"edges-page-{tag}-{i}" for i in range(5))
    for n in names:
        s3.create_bucket(Bucket=n)
    seen = []
    token = None
    for _ in range(10):
        kw = {"MaxBuckets": 2, "Prefix": f"edges-page-{tag}-"}
        if token:
            kw["ContinuationToken"] = token
        page = s3.list_buckets(**kw)
        got = [b["Name"] for b in page["Buckets"]]
        check(len(got) <= 2, f"a page of {len(got)}")
        seen += got
        token = page.get("ContinuationToken")
        if not token:
            break
    check(seen == names, f"pages gave {seen}, not {names}")
    # botocore refuses max-buckets 0 itself: sent signed by hand.
    endpoint = os.environ["SPREAD_ENDPOINT"].rstrip("/")
    r = signed("GET", f"{endpoint}/?max-buckets=0", b"", {})
    check(r.status_code == 400 and "<Code>InvalidArgument</Code>" in r.text, f"max-buckets 0: {r.status_code} {r.text[:200]}")


def expected_owner(s3, bucket, me):
    step("x-amz-expected-bucket-owner")
    s3.put_object(Bucket=bucket, Key="o", Body=b"o", ExpectedBucketOwner=me)
    s3.head_object(Bucket=bucket, Key="o", ExpectedBucketOwner=me)
    expect_error(
        "another owner expected",
        403,
        None,
        s3.head_bucket,
        Bucket=bucket,
        ExpectedBucketOwner="someone-else",
    )
    expect_error(
        "another owner expected (object)",
        403,
        "AccessDenied",
        s3.get_object,
        Bucket=bucket,
        Key="o",
        ExpectedBucketOwner="someone-else",
    )


def metadata_limit(s3, bucket):
    step("user metadata up to 2 KB")
    s3.put_object(Bucket=bucket, Key="meta-ok", Body=b"m", Metadata={"k": "v" * 2047})
    h = s3.head_object(Bucket=bucket, Key="meta-ok")
    check(h["Metadata"].get("k") == "v" * 2047, "2 KB of metadata kept")
    expect_error(
        "metadata over 2 KB",
        400,
        "MetadataTooLarge",
        s3.put_object,
        Bucket=bucket,
        Key="meta-big",
        Body=b"m",
        Metadata={"k": "v" * 1024, "l": "w" * 1024},
    )
    expect_error(
        "metadata over 2 KB (multipart)",
        400,
        "MetadataTooLarge",
        s3.create_multipart_upload,
        Bucket=bucket,
        Key="meta-big",
        Metadata={"k": "v" * 2100},
    )


def unknown_policy(s3, tag):
    step("CreateBucket with an unknown x-spread-storage-policy")

    def add(params, **_):
        params["headers"]["x-spread-storage-policy"] = "no-such-policy"

    s3.meta.events.register("before-call.s3.CreateBucket", add)
    try:
        e = expect_error(
            "unknown storage policy", 400, None, s3.create_bucket, Bucket=f"edges-policy-{tag}"
        )
        check("no-such-policy" in e.response["Error"].get("Message", ""), f"message {e.response['Error']}")
    finally:
        s3.meta.events.unregister("before-call.s3.CreateBucket", add)
    expect_error("no bucket was made", 404, None, s3.head_bucket, Bucket=f"edges-policy-{tag}")


def signed(method, url, body, headers):
    """A SigV4-signed request of raw bytes (what boto3 will not send: a chunked body)."""
    creds = Credentials(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    req = AWSRequest(method=method, url=url, data=b"", headers=headers)
    req.headers["x-amz-content-sha256"] = headers.get("x-amz-content-sha256", "UNSIGNED-PAYLOAD")
    SigV4Auth(creds, "s3", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")).add_auth(req)
    return requests.request(method, url, data=body, headers=dict(req.headers), timeout=60)


def chunked(s3, bucket):
    step("PUT with Transfer-Encoding: chunked and no Content-Length")
    endpoint = os.environ["SPREAD_ENDPOINT"].rstrip("/")
    body = os.urandom(300_000)

    def pieces():
        for i in range(0, len(body), 65536):
            yield body[i : i + 65536]

    url = f"{endpoint}/{bucket}/{urllib.parse.quote('chunked')}"
    r = signed("PUT", url, pieces(), {})
    check(r.status_code == 200, f"chunked PUT: {r.status_code} {r.text[:300]}")
    check(
        r.headers.get("ETag") == f'"{hashlib.md5(body).hexdigest()}"',
        f"chunked PUT ETag {r.headers.get('ETag')}",
    )
    got = s3.get_object(Bucket=bucket, Key="chunked")["Body"].read()
    check(got == body, "chunked PUT stored the whole body")
    # Past chunked_put_max_bytes (16 MiB by default) it is refused, and nothing is stored.
    big = os.urandom(16 * MIB + 1)

    def big_pieces():
        for i in range(0, len(big), MIB):
            yield big[i : i + MIB]

    try:
        r = signed("PUT", f"{endpoint}/{bucket}/chunked-big", big_pieces(), {})
        status = r.status_code
        text = r.text
    except requests.exceptions.ConnectionError as e:
        # The gateway may close the connection while the rest of the body is still coming.
        status, text = None, str(e)
    check(
        status in (411, None) and (status is None or "MissingContentLength" in text),
        f"chunked PUT past the limit: {status} {text[:300]}",
    )
    expect_error("nothing stored", 404, None, s3.head_object, Bucket=bucket, Key="chunked-big")

    step("Content-Encoding aws-chunked is not stored; the client's gzip is")
    s3.put_object(Bucket=bucket, Key="gz", Body=b"not really gzip", ContentEncoding="gzip")
    # boto3 sends aws-chunked itself with a trailing checksum: it must not be kept.
    s3.put_object(
        Bucket=bucket, Key="trailer", Body=b"t" * 1000, ChecksumAlgorithm="CRC32"
    )
    check(
        "ContentEncoding" not in s3.head_object(Bucket=bucket, Key="trailer"),
        "aws-chunked was stored as the object's Content-Encoding",
    )

    def add(params, **_):
        params["headers"]["Content-Encoding"] = "aws-chunked,gzip"

    s3.meta.events.register("before-call.s3.PutObject", add)
    try:
        s3.put_object(Bucket=bucket, Key="both", Body=b"b" * 1000, ChecksumAlgorithm="CRC32")
    finally:
        s3.meta.events.unregister("before-call.s3.PutObject", add)
    enc = s3.head_object(Bucket=bucket, Key="both").get("ContentEncoding")
    check(enc == "gzip", f"aws-chunked,gzip stored as {enc!r}, not gzip")
    enc = s3.head_object(Bucket=bucket, Key="gz").get("ContentEncoding")
    check(enc == "gzip", f"gzip stored as {enc!r}")


def main():
    s3 = client()
    me = s3.list_buckets()["Owner"]["ID"]
    alt, _ = alt_client()
    tag = secrets.token_hex(4)
    bucket = f"edges-{tag}"
    s3.create_bucket(Bucket=bucket)

    ownership(s3, alt, me, tag)
    part_number(s3, bucket)
    complete_again(s3, bucket)
    list_buckets_pages(s3, tag)
    expected_owner(s3, bucket, me)
    metadata_limit(s3, bucket)
    unknown_policy(s3, tag)
    chunked(s3, bucket)
    # Last: it turns versioning on.
    delete_markers(s3, bucket)
    step("ok")


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        fail(str(e))
