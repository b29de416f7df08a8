#!/usr/bin/env python3
"""boto3 against Spread: object tagging (Put/Get/DeleteObjectTagging with versionId,
x-amz-tagging on PutObject / CreateMultipartUpload / CopyObject, x-amz-tagging-count, limits),
bucket tagging, bucket CORS (configuration, OPTIONS preflight, Access-Control-* headers on
actual requests) and lifecycle configuration (validation, x-amz-expiration)."""

import os
import secrets
import urllib.error
import urllib.request

from s3common import step, check, expect_error, client


def raw(method, url, headers):
    """An unsigned request; returns (status, headers) whatever the status."""
    req = urllib.request.Request(url, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers
    except urllib.error.HTTPError as e:
        return e.code, e.headers


def tagset(d):
    return [{"Key": k, "Value": v} for k, v in sorted(d.items())]


def main():
    endpoint = os.environ["SPREAD_ENDPOINT"]
    s3 = client(retries={"max_attempts": 1})
    bucket = f"cors-tag-lc-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=bucket)

    step("object tagging")
    s3.put_object(Bucket=bucket, Key="t", Body=b"x", Tagging="b=2&a=1&empty")
    r = s3.get_object_tagging(Bucket=bucket, Key="t")
    check(r["TagSet"] == tagset({"a": "1", "b": "2", "empty": ""}), f"tags from header: {r}")
    h = s3.head_object(Bucket=bucket, Key="t")
    check(h["ResponseMetadata"]["HTTPHeaders"].get("x-amz-tagging-count") == "3", "HEAD count")
    g = s3.get_object(Bucket=bucket, Key="t")
    check(g.get("TagCount") == 3, f"GET TagCount: {g.get('TagCount')}")
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": tagset({"k": "v"})})
    check(s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == tagset({"k": "v"}), "replace")
    r = s3.delete_object_tagging(Bucket=bucket, Key="t")
    check(r["ResponseMetadata"]["HTTPStatusCode"] == 204, "DeleteObjectTagging status")
    check(s3.get_object_tagging(Bucket=bucket, Key="t")["TagSet"] == [], "deleted tags")
    check(
        "x-amz-tagging-count"
        not in s3.head_object(Bucket=bucket, Key="t")["ResponseMetadata"]["HTTPHeaders"],
        "no count without tags",
    )

    step("tag limits")
    ten = {f"k{i}": "v" for i in range(10)}
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": tagset(ten)})
    eleven = dict(ten, k10="v")
    expect_error(
        "11 tags",
        400,
        "InvalidTag",
        lambda: s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": tagset(eleven)}),
    )
    expect_error(
        "long key",
        400,
        "InvalidTag",
        lambda: s3.put_object_tagging(
            Bucket=bucket, Key="t", Tagging={"TagSet": tagset({"k" * 129: "v"})}
        ),
    )
    expect_error(
        "long value",
        400,
        "InvalidTag",
        lambda: s3.put_object_tagging(
            Bucket=bucket, Key="t", Tagging={"TagSet": tagset({"k": "v" * 257})}
        ),
    )
    s3.put_object_tagging(
        Bucket=bucket, Key="t", Tagging={"TagSet": tagset({"k" * 128: "v" * 256})}
    )
    expect_error(
        "duplicate key in x-amz-tagging",
        400,
        "InvalidTag",
        lambda: s3.put_object(Bucket=bucket, Key="t2", Body=b"", Tagging="a=1&a=2"),
    )

    step("copy and multipart tagging")
    s3.put_object_tagging(Bucket=bucket, Key="t", Tagging={"TagSet": tagset({"src": "1"})})
    s3.copy_object(Bucket=bucket, Key="c1", CopySource={"Bucket": bucket, "Key": "t"})
    check(
        s3.get_object_tagging(Bucket=bucket, Key="c1")["TagSet"] == tagset({"src": "1"}),
        "COPY directive keeps tags",
    )
    s3.copy_object(
        Bucket=bucket,
        Key="c2",
        CopySource={"Bucket": bucket, "Key": "t"},
        TaggingDirective="REPLACE",
        Tagging="new=2",
    )
    check(
        s3.get_object_tagging(Bucket=bucket, Key="c2")["TagSet"] == tagset({"new": "2"}),
        "REPLACE directive",
    )
    up = s3.create_multipart_upload(Bucket=bucket, Key="mp", Tagging="mp=yes")
    part = s3.upload_part(
        Bucket=bucket, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"m" * 10
    )
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="mp",
        UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    check(
        s3.get_object_tagging(Bucket=bucket, Key="mp")["TagSet"] == tagset({"mp": "yes"}),
        "multipart tags",
    )

    step("tagging by version id")
    vb = bucket + "-v"
    s3.create_bucket(Bucket=vb)
    s3.put_bucket_versioning(Bucket=vb, VersioningConfiguration={"Status": "Enabled"})
    v1 = s3.put_object(Bucket=vb, Key="k", Body=b"1", Tagging="v=1")["VersionId"]
    v2 = s3.put_object(Bucket=vb, Key="k", Body=b"2")["VersionId"]
    s3.put_object_tagging(Bucket=vb, Key="k", VersionId=v1, Tagging={"TagSet": tagset({"v": "x"})})
    r = s3.get_object_tagging(Bucket=vb, Key="k", VersionId=v1)
    check(r["TagSet"] == tagset({"v": "x"}) and r.get("VersionId") == v1, f"version tags: {r}")
    check(s3.get_object_tagging(Bucket=vb, Key="k")["TagSet"] == [], "current version untagged")
    s3.delete_object(Bucket=vb, Key="k", VersionId=v1)
    s3.delete_object(Bucket=vb, Key="k", VersionId=v2)
    s3.delete_bucket(Bucket=vb)

    step("bucket tagging")
    expect_error("unset", 404, "NoSuchTagSet", lambda: s3.get_bucket_tagging(Bucket=bucket))
    s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": tagset({"team": "x"})})
    check(s3.get_bucket_tagging(Bucket=bucket)["TagSet"] == tagset({"team": "x"}), "bucket tags")
    s3.delete_bucket_tagging(Bucket=bucket)
    expect_error("deleted", 404, "NoSuchTagSet", lambda: s3.get_bucket_tagging(Bucket=bucket))

    step("CORS configuration")
    expect_error(
        "unset CORS", 404, "NoSuchCORSConfiguration", lambda: s3.get_bucket_cors(Bucket=bucket)
    )
    expect_error(
        "unsupported method",
        400,
        "InvalidRequest",
        lambda: s3.put_bucket_cors(
            Bucket=bucket,
            CORSConfiguration={
                "CORSRules": [{"AllowedMethods": ["PATCH"], "AllowedOrigins": ["*"]}]
            },
        ),
    )
    rules = [
        {
            "AllowedMethods": ["GET", "HEAD"],
            "AllowedOrigins": ["https://*.example.com"],
            "AllowedHeaders": ["x-amz-*"],
            "ExposeHeaders": ["ETag"],
            "MaxAgeSeconds": 60,
        },
        {"AllowedMethods": ["PUT"], "AllowedOrigins": ["*"]},
    ]
    s3.put_bucket_cors(Bucket=bucket, CORSConfiguration={"CORSRules": rules})
    got = s3.get_bucket_cors(Bucket=bucket)["CORSRules"]
    check(
        got[0]["AllowedOrigins"] == ["https://*.example.com"]
        and got[0]["MaxAgeSeconds"] == 60
        and got[1]["AllowedMethods"] == ["PUT"],
        f"GetBucketCors: {got}",
    )

    step("CORS preflight and headers")
    url = f"{endpoint}/{bucket}/t"
    st, h = raw(
        "OPTIONS",
        url,
        {
            "Origin": "https://a.example.com",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "X-Amz-Date",
        },
    )
    check(st == 200, f"preflight status {st}")
    check(h.get("Access-Control-Allow-Origin") == "https://a.example.com", f"allow-origin {h}")
    check(h.get("Access-Control-Allow-Methods") == "GET, HEAD", f"allow-methods {h}")
    check(h.get("Access-Control-Max-Age") == "60", f"max-age {h}")
    check((h.get("Access-Control-Allow-Headers") or "").lower() == "x-amz-date", "allow-headers")
    st, _ = raw(
        "OPTIONS",
        url,
        {"Origin": "https://a.example.com", "Access-Control-Request-Method": "DELETE"},
    )
    check(st == 403, f"preflight for a method no rule allows: {st}")
    st, _ = raw(
        "OPTIONS",
        url,
        {
            "Origin": "https://a.example.com",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    check(st == 403, f"preflight with a header no rule allows: {st}")
    st, _ = raw("OPTIONS", url, {"Origin": "https://a.example.com"})
    check(st == 400, f"preflight without a request method: {st}")
    st, h = raw("OPTIONS", url, {"Origin": "http://x", "Access-Control-Request-Method": "PUT"})
    check(st == 200 and h.get("Access-Control-Allow-Origin") == "*", "wildcard origin")

    def on_get(**kw):
        kw["params"]["headers"]["Origin"] = "https://b.example.com"

    s3.meta.events.register("before-call.s3.GetObject", on_get)
    g = s3.get_object(Bucket=bucket, Key="t")
    hh = g["ResponseMetadata"]["HTTPHeaders"]
    check(hh.get("access-control-allow-origin") == "https://b.example.com", f"GET CORS {hh}")
    check(hh.get("access-control-expose-headers") == "ETag", "expose headers")
    s3.meta.events.unregister("before-call.s3.GetObject", on_get)
    s3.delete_bucket_cors(Bucket=bucket)
    expect_error(
        "deleted CORS", 404, "NoSuchCORSConfiguration", lambda: s3.get_bucket_cors(Bucket=bucket)
    )
    st, _ = raw("OPTIONS", url, {"Origin": "http://x", "Access-Control-Request-Method": "PUT"})
    check(st == 403, f"preflight without CORS: {st}")

    step("lifecycle configuration")
    expect_error(
        "unset lifecycle",
        404,
        "NoSuchLifecycleConfiguration",
        lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket),
    )

    def put_lc(rules):
        return s3.put_bucket_lifecycle_configuration(
            Bucket=bucket, LifecycleConfiguration={"Rules": rules}
        )

    expect_error(
        "long ID",
        400,
        "InvalidArgument",
        lambda: put_lc(
            [
                {
                    "ID": "a" * 256,
                    "Filter": {"Prefix": ""},
                    "Status": "Enabled",
                    "Expiration": {"Days": 1},
                }
            ]
        ),
    )
    expect_error(
        "Days 0",
        400,
        "InvalidArgument",
        lambda: put_lc(
            [{"ID": "d", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 0}}]
        ),
    )
    expect_error(
        "same ID",
        400,
        "InvalidArgument",
        lambda: put_lc(
            [
                {
                    "ID": "s",
                    "Filter": {"Prefix": "a"},
                    "Status": "Enabled",
                    "Expiration": {"Days": 1},
                },
                {
                    "ID": "s",
                    "Filter": {"Prefix": "b"},
                    "Status": "Enabled",
                    "Expiration": {"Days": 1},
                },
            ]
        ),
    )
    put_lc(
        [
            {
                "ID": "logs",
                "Filter": {"And": {"Prefix": "logs/", "Tags": [{"Key": "t", "Value": "1"}]}},
                "Status": "Enabled",
                "Expiration": {"Days": 3},
            },
            {
                "Filter": {"Prefix": "tmp/"},
                "Status": "Enabled",
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
                "NoncurrentVersionExpiration": {"NoncurrentDays": 2},
            },
        ]
    )
    got = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    check(len(got) == 2 and got[0]["ID"] == "logs" and got[1].get("ID"), f"rules: {got}")
    check(got[0]["Expiration"]["Days"] == 3, "days kept")
    r = s3.put_object(Bucket=bucket, Key="logs/a", Body=b"l", Tagging="t=1")
    exp = r["ResponseMetadata"]["HTTPHeaders"].get("x-amz-expiration", "")
    check('rule-id="logs"' in exp and "expiry-date=" in exp, f"x-amz-expiration on PUT: {exp!r}")
    r = s3.put_object(Bucket=bucket, Key="logs/b", Body=b"l")
    check("x-amz-expiration" not in r["ResponseMetadata"]["HTTPHeaders"], "untagged: no expiry")
    h = s3.head_object(Bucket=bucket, Key="logs/a")
    check("Expiration" in h, "x-amz-expiration on HEAD")
    s3.delete_bucket_lifecycle(Bucket=bucket)
    expect_error(
        "deleted lifecycle",
        404,
        "NoSuchLifecycleConfiguration",
        lambda: s3.get_bucket_lifecycle_configuration(Bucket=bucket),
    )

    step("cleanup")
    for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=o["Key"])
    s3.delete_bucket(Bucket=bucket)
    step("ok")


if __name__ == "__main__":
    main()
