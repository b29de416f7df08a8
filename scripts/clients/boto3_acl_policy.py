#!/usr/bin/env python3
"""boto3 against Spread: canned ACLs and grants on buckets and objects, what a second account
and anonymous (unsigned) clients may then do, and bucket policies (Allow / explicit Deny,
MalformedPolicy, NoSuchBucketPolicy). Needs SPREAD_BIN and SPREAD_CLUSTER to create the
second account."""

import json
import os
import secrets

from s3common import fail, step, expect_error, client, admin


def grants_of(resp):
    out = set()
    for g in resp["Grants"]:
        who = g["Grantee"].get("ID") or g["Grantee"].get("URI")
        out.add((who, g["Permission"]))
    return out


def main():
    for var in ("SPREAD_BIN", "SPREAD_CLUSTER"):
        if not os.environ.get(var):
            fail(f"{var} is not set (scripts/test.sh exports it)")
    main_c = client(os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"])
    me = main_c.list_buckets()["Owner"]["ID"]
    alt = "aclalt"
    admin("account", "create", alt)
    alt_ak = "ACLALT" + secrets.token_hex(6).upper()
    alt_sk = secrets.token_hex(20)
    admin("key", "create", alt, "--access-key", alt_ak, "--secret-key", alt_sk)
    alt_c = client(alt_ak, alt_sk)
    anon = client(unsigned=True)
    bucket = f"acl-{secrets.token_hex(4)}"

    step("private bucket: default ACL, others denied")
    main_c.create_bucket(Bucket=bucket)
    main_c.put_object(Bucket=bucket, Key="priv", Body=b"secret")
    acl = main_c.get_bucket_acl(Bucket=bucket)
    if acl["Owner"]["ID"] != me or grants_of(acl) != {(me, "FULL_CONTROL")}:
        fail(f"default bucket ACL: {acl['Owner']} {acl['Grants']}")
    expect_error(
        "alt GET private", 403, "AccessDenied", alt_c.get_object, Bucket=bucket, Key="priv"
    )
    expect_error(
        "anon GET private", 403, "AccessDenied", anon.get_object, Bucket=bucket, Key="priv"
    )
    expect_error("anon LIST private", 403, "AccessDenied", anon.list_objects, Bucket=bucket)
    expect_error(
        "alt PUT private", 403, "AccessDenied", alt_c.put_object, Bucket=bucket, Key="x", Body=b""
    )
    expect_error(
        "anon missing bucket",
        404,
        "NoSuchBucket",
        anon.get_object,
        Bucket=bucket + "-gone",
        Key="k",
    )
    expect_error(
        "bad canned ACL",
        400,
        "InvalidArgument",
        main_c.put_bucket_acl,
        Bucket=bucket,
        ACL="public-ready",
    )

    step("public-read object: anonymous GET")
    main_c.put_object(Bucket=bucket, Key="pub", Body=b"hello", ACL="public-read")
    if anon.get_object(Bucket=bucket, Key="pub")["Body"].read() != b"hello":
        fail("anonymous GET of a public-read object")
    oacl = main_c.get_object_acl(Bucket=bucket, Key="pub")
    if grants_of(oacl) != {
        (me, "FULL_CONTROL"),
        ("http://acs.amazonaws.com/groups/global/AllUsers", "READ"),
    }:
        fail(f"public-read object ACL: {oacl['Grants']}")
    main_c.put_object_acl(Bucket=bucket, Key="pub", ACL="private")
    expect_error(
        "anon GET after private", 403, "AccessDenied", anon.get_object, Bucket=bucket, Key="pub"
    )

    step("grants: alt READ on the bucket, then public-read-write")
    main_c.put_bucket_acl(Bucket=bucket, GrantRead=f'id="{alt}"')
    keys = [o["Key"] for o in alt_c.list_objects_v2(Bucket=bucket).get("Contents", [])]
    if keys != ["priv", "pub"]:
        fail(f"alt listing with READ: {keys}")
    expect_error(
        "alt PUT with READ only",
        403,
        "AccessDenied",
        alt_c.put_object,
        Bucket=bucket,
        Key="x",
        Body=b"",
    )
    expect_error(
        "unknown grantee",
        400,
        "InvalidArgument",
        main_c.put_bucket_acl,
        Bucket=bucket,
        GrantRead='id="no-such-account-xyz"',
    )
    main_c.put_bucket_acl(Bucket=bucket, ACL="public-read-write")
    alt_c.put_object(Bucket=bucket, Key="by-alt", Body=b"alt", ACL="bucket-owner-full-control")
    oacl = alt_c.get_object_acl(Bucket=bucket, Key="by-alt")
    if oacl["Owner"]["ID"] != alt or grants_of(oacl) != {
        (alt, "FULL_CONTROL"),
        (me, "FULL_CONTROL"),
    }:
        fail(f"bucket-owner-full-control ACL: {oacl['Owner']} {oacl['Grants']}")
    if main_c.get_object(Bucket=bucket, Key="by-alt")["Body"].read() != b"alt":
        fail("owner GET of an object alt wrote with bucket-owner-full-control")
    anon.put_object(Bucket=bucket, Key="by-anon", Body=b"anon")
    main_c.put_bucket_acl(Bucket=bucket, ACL="private")

    step("bucket policy: validation, Allow for everyone, explicit Deny")
    expect_error("no policy", 404, "NoSuchBucketPolicy", main_c.get_bucket_policy, Bucket=bucket)
    expect_error(
        "malformed policy",
        400,
        "MalformedPolicy",
        main_c.put_bucket_policy,
        Bucket=bucket,
        Policy="{not json",
    )
    expect_error(
        "foreign resource",
        400,
        "MalformedPolicy",
        main_c.put_bucket_policy,
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:GetObject",
                        "Resource": "arn:aws:s3:::some-other-bucket/*",
                    }
                ],
            }
        ),
    )
    policy = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                },
                {
                    "Effect": "Deny",
                    "Principal": {"AWS": [f"arn:aws:iam::{alt}:root"]},
                    "Action": "s3:GetObject",
                    "Resource": f"arn:aws:s3:::{bucket}/priv*",
                },
            ],
        }
    )
    main_c.put_bucket_policy(Bucket=bucket, Policy=policy)
    if json.loads(main_c.get_bucket_policy(Bucket=bucket)["Policy"]) != json.loads(policy):
        fail("GetBucketPolicy does not return the policy put")
    if not main_c.get_bucket_policy_status(Bucket=bucket)["PolicyStatus"]["IsPublic"]:
        fail("policy status of a public policy")
    if anon.get_object(Bucket=bucket, Key="priv")["Body"].read() != b"secret":
        fail("anonymous GET allowed by the policy")
    anon.list_objects(Bucket=bucket)
    expect_error(
        "alt GET denied by policy", 403, "AccessDenied", alt_c.get_object, Bucket=bucket, Key="priv"
    )
    expect_error(
        "anon PUT not in policy",
        403,
        "AccessDenied",
        anon.put_object,
        Bucket=bucket,
        Key="y",
        Body=b"",
    )
    expect_error(
        "alt PutBucketPolicy",
        403,
        "AccessDenied",
        alt_c.put_bucket_policy,
        Bucket=bucket,
        Policy=policy,
    )
    main_c.delete_bucket_policy(Bucket=bucket)
    expect_error(
        "anon GET after policy delete",
        403,
        "AccessDenied",
        anon.get_object,
        Bucket=bucket,
        Key="priv",
    )

    step("public access block")
    main_c.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": False,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": False,
        },
    )
    pab = main_c.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    if not pab["BlockPublicAcls"] or pab["IgnorePublicAcls"]:
        fail(f"public access block: {pab}")
    expect_error(
        "public ACL blocked",
        403,
        "AccessDenied",
        main_c.put_bucket_acl,
        Bucket=bucket,
        ACL="public-read",
    )
    expect_error(
        "public policy blocked",
        403,
        "AccessDenied",
        main_c.put_bucket_policy,
        Bucket=bucket,
        Policy=policy,
    )
    main_c.delete_public_access_block(Bucket=bucket)

    for key in ("priv", "pub", "by-alt", "by-anon"):
        main_c.delete_object(Bucket=bucket, Key=key)
    main_c.delete_bucket(Bucket=bucket)
    step("ok")


if __name__ == "__main__":
    main()
