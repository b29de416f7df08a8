#!/usr/bin/env python3
"""boto3 against Spread: presigned PUT and GET URLs used with plain HTTP (requests), and
presigned URLs that must be refused (tampered signature, other key, expired) with 403;
presigned POST (browser form upload) with its policy's conditions enforced."""

import secrets
import time
import xml.etree.ElementTree as ET

import boto3
import requests

from s3common import fail, step, client


def error_code(resp):
    try:
        return ET.fromstring(resp.content).findtext("Code")
    except ET.ParseError:
        return None


def expect_403(resp, what, codes):
    if resp.status_code != 403:
        fail(f"{what}: expected 403, got {resp.status_code}: {resp.content[:200]!r}")
    code = error_code(resp)
    if code not in codes:
        fail(f"{what}: expected one of {codes}, got code {code!r}: {resp.content[:200]!r}")


def main():
    s3 = client()
    step(f"boto3 {boto3.__version__}")
    bucket = f"boto3-{int(time.time())}-{secrets.token_hex(4)}"
    s3.create_bucket(Bucket=bucket)
    step(f"bucket {bucket}")
    key = "presigned/hello world+é.bin"
    body = secrets.token_bytes(3 * 1024 * 1024 + 123)

    # Presigned PUT, then the object is readable through the API.
    put_url = s3.generate_presigned_url(
        "put_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300
    )
    r = requests.put(put_url, data=body, timeout=120)
    if r.status_code != 200:
        fail(f"presigned PUT: {r.status_code}: {r.text[:500]}")
    got = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    if got != body:
        fail(f"object written by presigned PUT differs ({len(got)} vs {len(body)} bytes)")

    # Presigned GET, whole and ranged.
    get_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=300
    )
    r = requests.get(get_url, timeout=120)
    if r.status_code != 200 or r.content != body:
        fail(f"presigned GET: {r.status_code}, {len(r.content)} bytes")
    r = requests.get(get_url, headers={"Range": "bytes=1048570-1048589"}, timeout=120)
    if r.status_code != 206 or r.content != body[1048570:1048590]:
        fail(f"presigned ranged GET: {r.status_code}, {r.content[:40]!r}")

    # A tampered signature is refused.
    sig_at = get_url.index("X-Amz-Signature=") + len("X-Amz-Signature=")
    sig = get_url[sig_at : sig_at + 64]
    flipped = "0" if sig[-1] != "0" else "1"
    bad_url = get_url[:sig_at] + sig[:-1] + flipped + get_url[sig_at + 64 :]
    expect_403(
        requests.get(bad_url, timeout=30),
        "GET with a tampered signature",
        ["SignatureDoesNotMatch"],
    )

    # The URL signed for one key does not open another.
    other_url = get_url.replace("presigned/", "presigned-other/", 1)
    expect_403(requests.get(other_url, timeout=30), "GET of another key", ["SignatureDoesNotMatch"])

    # A presigned PUT with a tampered signature stores nothing.
    sig_at = put_url.index("X-Amz-Signature=") + len("X-Amz-Signature=")
    sig = put_url[sig_at : sig_at + 64]
    bad_put = (
        put_url[:sig_at] + sig[:-1] + ("0" if sig[-1] != "0" else "1") + put_url[sig_at + 64 :]
    )
    bad_put = bad_put.replace("hello%20world", "forged", 1)
    expect_403(
        requests.put(bad_put, data=b"forged", timeout=30),
        "PUT with a tampered signature",
        ["SignatureDoesNotMatch"],
    )
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]
    if listed != [key]:
        fail(f"bucket holds {listed}, expected only {key!r}")

    # An expired URL is refused.
    short_url = s3.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=1
    )
    time.sleep(2.5)
    expect_403(
        requests.get(short_url, timeout=30),
        "GET with an expired URL",
        ["AccessDenied", "ExpiredToken", "RequestExpired"],
    )

    presigned_post(s3, bucket)

    s3.delete_object(Bucket=bucket, Key=key)
    s3.delete_bucket(Bucket=bucket)
    step("ok")


def presigned_post(s3, bucket):
    """A presigned POST form: what the policy allows lands, what it does not is refused, and a
    forged signature is refused, each leaving nothing behind."""
    form = s3.generate_presigned_post(
        Bucket=bucket,
        Key="uploads/${filename}",
        Fields={"Content-Type": "image/png"},
        Conditions=[
            ["starts-with", "$key", "uploads/"],
            {"Content-Type": "image/png"},
            ["content-length-range", 1, 4096],
        ],
        ExpiresIn=300,
    )
    fields = dict(form["fields"])
    fields["key"] = "uploads/pic.png"
    png = secrets.token_bytes(2000)
    r = requests.post(form["url"], data=fields, files={"file": ("pic.png", png)}, timeout=30)
    if r.status_code != 204:
        fail(f"presigned POST: expected 204, got {r.status_code}: {r.content[:300]!r}")
    got = s3.get_object(Bucket=bucket, Key="uploads/pic.png")
    if got["Body"].read() != png or got["ContentType"] != "image/png":
        fail("presigned POST stored something else")
    step("presigned POST within its policy: stored")

    too_big = secrets.token_bytes(5000)
    r = requests.post(form["url"], data=fields, files={"file": ("big.png", too_big)}, timeout=30)
    if r.status_code not in (400, 403):
        fail(f"POST above content-length-range: expected 400/403, got {r.status_code}")
    outside = dict(fields, key="elsewhere/pic.png")
    r = requests.post(form["url"], data=outside, files={"file": ("pic.png", png)}, timeout=30)
    expect_403(r, "POST to a key the policy does not allow", ["AccessDenied"])
    forged = dict(fields)
    sig_field = "x-amz-signature" if "x-amz-signature" in forged else "signature"
    forged[sig_field] = forged[sig_field][:-2] + (
        "00" if not forged[sig_field].endswith("00") else "11"
    )
    r = requests.post(form["url"], data=forged, files={"file": ("pic.png", png)}, timeout=30)
    expect_403(r, "POST with a forged signature", ["SignatureDoesNotMatch", "AccessDenied"])
    keys = [
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="uploads/").get("Contents", [])
    ]
    others = [
        o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="elsewhere/").get("Contents", [])
    ]
    if keys != ["uploads/pic.png"] or others:
        fail(f"refused POSTs left objects: {keys} {others}")
    s3.delete_object(Bucket=bucket, Key="uploads/pic.png")
    step("presigned POST outside its policy or forged: refused, nothing stored")


if __name__ == "__main__":
    main()
