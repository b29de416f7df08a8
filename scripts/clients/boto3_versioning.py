#!/usr/bin/env python3
"""boto3 against Spread: bucket versioning (versions, delete markers, GET/DELETE by version id,
ListObjectVersions paging, suspended `null` versions) and conditional writes (If-None-Match: *,
If-Match on PutObject and CompleteMultipartUpload, copy of an old version)."""

import secrets

from s3common import step, check, expect_error, client


def body(s3, bucket, key, **kw):
    return s3.get_object(Bucket=bucket, Key=key, **kw)["Body"].read()


def all_versions(s3, bucket, prefix="", page=1000):
    """Every version and delete marker, following NextKeyMarker / NextVersionIdMarker."""
    versions, markers, pages = [], [], 0
    kw = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": page}
    while True:
        pages += 1
        check(pages < 1000, "ListObjectVersions does not end")
        r = s3.list_object_versions(**kw)
        versions += r.get("Versions", [])
        markers += r.get("DeleteMarkers", [])
        if not r.get("IsTruncated"):
            return versions, markers, pages
        kw["KeyMarker"] = r["NextKeyMarker"]
        kw["VersionIdMarker"] = r.get("NextVersionIdMarker", "")


def main():
    s3 = client()
    bucket = f"boto3-versioning-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=bucket)

    step("an object written before versioning becomes the null version")
    s3.put_object(Bucket=bucket, Key="k", Body=b"v0")
    check("Status" not in s3.get_bucket_versioning(Bucket=bucket), "new bucket has a Status")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    check(s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled", "not Enabled")

    step("three versions, each readable by id")
    ids = []
    for i in range(1, 4):
        r = s3.put_object(Bucket=bucket, Key="k", Body=f"v{i}".encode())
        check(r.get("VersionId") not in (None, "", "null"), f"PUT {i} has no version id")
        ids.append(r["VersionId"])
    check(len(set(ids)) == 3, f"version ids repeat: {ids}")
    check(body(s3, bucket, "k") == b"v3", "current is not the last PUT")
    for i, vid in enumerate(ids, start=1):
        check(body(s3, bucket, "k", VersionId=vid) == f"v{i}".encode(), f"version {i} wrong")
    check(body(s3, bucket, "k", VersionId="null") == b"v0", "null version lost")
    head = s3.head_object(Bucket=bucket, Key="k", VersionId=ids[0])
    check(head["ContentLength"] == 2 and head.get("VersionId") == ids[0], "HEAD by version")

    versions, markers, _ = all_versions(s3, bucket)
    got = [(v["VersionId"], v["IsLatest"]) for v in versions]
    want = [(ids[2], True), (ids[1], False), (ids[0], False), ("null", False)]
    check(got == want, f"versions listed {got}, expected {want}")
    check(markers == [], "unexpected delete markers")

    step("DELETE adds a delete marker; the versions stay")
    r = s3.delete_object(Bucket=bucket, Key="k")
    check(r.get("DeleteMarker") is True and r.get("VersionId"), f"no marker: {r}")
    marker_id = r["VersionId"]
    expect_error(
        "GET after delete", 404, "NoSuchKey", lambda: s3.get_object(Bucket=bucket, Key="k")
    )
    expect_error(
        "GET of a delete marker",
        405,
        "MethodNotAllowed",
        lambda: s3.get_object(Bucket=bucket, Key="k", VersionId=marker_id),
    )
    check("Contents" not in s3.list_objects_v2(Bucket=bucket), "deleted key still listed")
    versions, markers, _ = all_versions(s3, bucket)
    check(len(versions) == 4 and not any(v["IsLatest"] for v in versions), "versions after delete")
    check(
        [m["VersionId"] for m in markers] == [marker_id] and markers[0]["IsLatest"], "marker list"
    )

    step("removing the marker brings the object back; removing a version frees it")
    r = s3.delete_object(Bucket=bucket, Key="k", VersionId=marker_id)
    check(r.get("DeleteMarker") is True and r.get("VersionId") == marker_id, f"marker delete: {r}")
    check(body(s3, bucket, "k") == b"v3", "object did not come back")
    s3.delete_object(Bucket=bucket, Key="k", VersionId=ids[2])
    check(body(s3, bucket, "k") == b"v2", "previous version did not become current")
    expect_error(
        "GET of a deleted version",
        404,
        "NoSuchVersion",
        lambda: s3.get_object(Bucket=bucket, Key="k", VersionId=ids[2]),
    )

    step("copy of an old version")
    r = s3.copy_object(
        Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "k", "VersionId": ids[0]}
    )
    check(r.get("CopySourceVersionId") == ids[0], f"CopySourceVersionId: {r}")
    check(body(s3, bucket, "copy") == b"v1", "copy of version 1 has other bytes")

    step("suspended: writes replace the null version")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    check(s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Suspended", "not Suspended")
    s3.put_object(Bucket=bucket, Key="k", Body=b"s1")
    s3.put_object(Bucket=bucket, Key="k", Body=b"s2")
    versions, _, _ = all_versions(s3, bucket, prefix="k")
    nulls = [v for v in versions if v["VersionId"] == "null"]
    check(len(nulls) == 1 and nulls[0]["IsLatest"], f"null versions: {nulls}")
    check(body(s3, bucket, "k", VersionId="null") == b"s2", "null version is not the last PUT")
    check(body(s3, bucket, "k", VersionId=ids[1]) == b"v2", "suspension lost a version")

    step("paging through 25 versions of 5 keys, 4 per page")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    for n in range(5):
        for i in range(5):
            s3.put_object(Bucket=bucket, Key=f"page/{n}", Body=f"{n}-{i}".encode())
    versions, _, pages = all_versions(s3, bucket, prefix="page/", page=4)
    check(len(versions) == 25 and pages == 7, f"{len(versions)} versions in {pages} pages")
    seen = [(v["Key"], v["VersionId"]) for v in versions]
    check(len(set(seen)) == 25, "a version was listed twice")
    check(sum(v["IsLatest"] for v in versions) == 5, "one latest per key expected")
    r = s3.list_object_versions(Bucket=bucket, Prefix="page", Delimiter="/")
    check([p["Prefix"] for p in r.get("CommonPrefixes", [])] == ["page/"], "delimiter roll-up")

    step("conditional writes")
    s3.put_object(Bucket=bucket, Key="cond", Body=b"first", IfNoneMatch="*")
    expect_error(
        "If-None-Match: * on an existing key",
        412,
        "PreconditionFailed",
        lambda: s3.put_object(Bucket=bucket, Key="cond", Body=b"second", IfNoneMatch="*"),
    )
    etag = s3.head_object(Bucket=bucket, Key="cond")["ETag"]
    expect_error(
        "If-Match with another ETag",
        412,
        "PreconditionFailed",
        lambda: s3.put_object(Bucket=bucket, Key="cond", Body=b"x", IfMatch='"' + "0" * 32 + '"'),
    )
    s3.put_object(Bucket=bucket, Key="cond", Body=b"third", IfMatch=etag)
    check(body(s3, bucket, "cond") == b"third", "If-Match write did not land")
    expect_error(
        "If-Match on a missing key",
        404,
        "NoSuchKey",
        lambda: s3.put_object(Bucket=bucket, Key="absent", Body=b"x", IfMatch=etag),
    )
    up = s3.create_multipart_upload(Bucket=bucket, Key="cond")
    part = s3.upload_part(
        Bucket=bucket, Key="cond", UploadId=up["UploadId"], PartNumber=1, Body=b"mp"
    )
    parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}
    expect_error(
        "Complete with If-None-Match: * on an existing key",
        412,
        "PreconditionFailed",
        lambda: s3.complete_multipart_upload(
            Bucket=bucket,
            Key="cond",
            UploadId=up["UploadId"],
            MultipartUpload=parts,
            IfNoneMatch="*",
        ),
    )
    check(body(s3, bucket, "cond") == b"third", "a refused Complete changed the object")

    step("a bucket with versions is not empty; removing every version empties it")
    expect_error("delete bucket", 409, "BucketNotEmpty", lambda: s3.delete_bucket(Bucket=bucket))
    s3.abort_multipart_upload(Bucket=bucket, Key="cond", UploadId=up["UploadId"])
    versions, markers, _ = all_versions(s3, bucket)
    objs = [{"Key": v["Key"], "VersionId": v["VersionId"]} for v in versions + markers]
    for i in range(0, len(objs), 1000):
        r = s3.delete_objects(Bucket=bucket, Delete={"Objects": objs[i : i + 1000], "Quiet": True})
        check(not r.get("Errors"), f"batch delete errors: {r.get('Errors')}")
    versions, markers, _ = all_versions(s3, bucket)
    check(versions == [] and markers == [], "versions left after deleting them all")
    s3.delete_bucket(Bucket=bucket)
    step("ok")


if __name__ == "__main__":
    main()
