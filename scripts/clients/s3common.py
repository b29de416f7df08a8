"""What every boto3 client script shares: reporting (step / check / fail, named after the
script), the S3 client for the endpoint under test, expected-error checks and `spread admin`.

The scripts run with this directory on sys.path (Python puts a script's own directory first),
so `from s3common import ...` works however they are started."""

import os
import subprocess
import sys

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

NAME = os.path.splitext(os.path.basename(sys.argv[0]))[0] or "client"


def fail(msg):
    print(f"FAIL: {NAME}: {msg}", file=sys.stderr)
    sys.exit(1)


def step(msg):
    print(f"[{NAME}] {msg}", flush=True)


def check(cond, msg):
    if not cond:
        fail(msg)


def client(ak=None, sk=None, unsigned=False, **config):
    """An S3 client for SPREAD_ENDPOINT, path-style, SigV4: with the environment's keys by
    default, other keys when given, or unsigned (anonymous). `config` adds botocore Config
    settings."""
    cfg = {"s3": {"addressing_style": "path"}, **config}
    cfg["signature_version"] = UNSIGNED if unsigned else "s3v4"
    return boto3.client(
        "s3",
        endpoint_url=os.environ["SPREAD_ENDPOINT"],
        aws_access_key_id=ak or os.environ.get("AWS_ACCESS_KEY_ID", "unused"),
        aws_secret_access_key=sk or os.environ.get("AWS_SECRET_ACCESS_KEY", "unused"),
        region_name=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        config=Config(**cfg),
    )


def expect_error(what, status, code, fn, *args, **kwargs):
    """Calls fn(*args, **kwargs), which must fail with HTTP `status` and S3 error `code`
    (None: any code); returns the ClientError."""
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        got_status = e.response["ResponseMetadata"]["HTTPStatusCode"]
        got_code = e.response["Error"].get("Code")
        if got_status != status or (code is not None and got_code != code):
            fail(f"{what}: expected {status} {code}, got {got_status} {got_code}")
        return e
    fail(f"{what}: expected {status} {code}, but it succeeded")


def admin(*args):
    """`spread admin` on the cluster under test (SPREAD_BIN, SPREAD_CLUSTER); "exists" is fine."""
    cmd = [os.environ["SPREAD_BIN"], "admin", "--cluster", os.environ["SPREAD_CLUSTER"], *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0 and "exists" not in r.stderr.lower():
        fail(f"{' '.join(args)}: {r.stderr.strip()}")
    return r.stdout
