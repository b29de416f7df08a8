#!/usr/bin/env python3
"""boto3 against Spread: GetObjectAttributes (ETag, size, storage class, checksum, multipart
parts paged by MaxParts / PartNumberMarker, an old version by id) and its refusals."""

import os
import secrets

from botocore.exceptions import ClientError

from s3common import fail, step, check, client

MIB = 1024 * 1024


def main():
    s3 = client()
    bucket = f"boto3-attributes-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=bucket)
    every = ["ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize"]

    step("a single-part object with a SHA-256 checksum")
    body = os.urandom(1000)
    put = s3.put_object(Bucket=bucket, Key="one", Body=body, ChecksumAlgorithm="SHA256")
    a = s3.get_object_attributes(Bucket=bucket, Key="one", ObjectAttributes=every)
    # AWS answers this ETag without the quotes of PutObject's.
    check(a["ETag"] == put["ETag"].strip('"'), f"ETag {a.get('ETag')} vs {put['ETag']}")
    check(a["ObjectSize"] == 1000, f"ObjectSize {a.get('ObjectSize')}")
    check(a["StorageClass"] == "STANDARD", f"StorageClass {a.get('StorageClass')}")
    check(
        a["Checksum"].get("ChecksumSHA256") == put["ChecksumSHA256"],
        f"Checksum {a.get('Checksum')}",
    )
    check("ObjectParts" not in a, "a single-part object has no parts")
    only = s3.get_object_attributes(Bucket=bucket, Key="one", ObjectAttributes=["ObjectSize"])
    check("ETag" not in only and only["ObjectSize"] == 1000, f"only ObjectSize asked: {only}")

    step("a three-part object: parts paged by 2")
    up = s3.create_multipart_upload(Bucket=bucket, Key="multi")
    sizes = [5 * MIB, 5 * MIB, 123]
    parts = []
    for n, size in enumerate(sizes, start=1):
        r = s3.upload_part(
            Bucket=bucket, Key="multi", UploadId=up["UploadId"], PartNumber=n, Body=os.urandom(size)
        )
        parts.append({"PartNumber": n, "ETag": r["ETag"]})
    s3.complete_multipart_upload(
        Bucket=bucket, Key="multi", UploadId=up["UploadId"], MultipartUpload={"Parts": parts}
    )
    a = s3.get_object_attributes(Bucket=bucket, Key="multi", ObjectAttributes=every, MaxParts=2)
    p = a["ObjectParts"]
    check(p["TotalPartsCount"] == 3 and p["IsTruncated"], f"first page {p}")
    check([x["Size"] for x in p["Parts"]] == sizes[:2], f"first page sizes {p['Parts']}")
    check(a["ObjectSize"] == sum(sizes) and a["ETag"].endswith("-3") and '"' not in a["ETag"], f"multipart {a}")
    a = s3.get_object_attributes(
        Bucket=bucket,
        Key="multi",
        ObjectAttributes=["ObjectParts"],
        MaxParts=2,
        PartNumberMarker=p["NextPartNumberMarker"],
    )
    p = a["ObjectParts"]
    check(not p["IsTruncated"] and [x["PartNumber"] for x in p["Parts"]] == [3], f"page 2 {p}")

    step("an old version by id")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=bucket, Key="v", Body=b"12345")["VersionId"]
    s3.put_object(Bucket=bucket, Key="v", Body=b"123")
    a = s3.get_object_attributes(
        Bucket=bucket, Key="v", VersionId=v1, ObjectAttributes=["ObjectSize"]
    )
    check(a["ObjectSize"] == 5 and a.get("VersionId") == v1, f"old version {a}")

    step("refusals")
    try:
        s3.get_object_attributes(Bucket=bucket, Key="absent", ObjectAttributes=["ETag"])
        fail("attributes of a missing key")
    except ClientError as e:
        check(e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, f"missing key: {e}")
    step("ok")


if __name__ == "__main__":
    main()
