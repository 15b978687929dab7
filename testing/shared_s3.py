"""One S3 API server (moto, on loopback) per test process: the tests' buckets (tests/test_artifact_support.py's
`moto_s3`) and the suite runs that stage riva-lite's archive. The first suite run of a process stages it, the later
ones find it staged and verified (the suites' path for a team's bucket, RIVA__BUCKET), instead of each run starting
its own embedded server and uploading the archive again (about 1.5 s a run). Stopped when the process exits."""

from __future__ import annotations

import atexit
from contextlib import ExitStack

from rivaverify.artifact import S3Target, embedded_s3

BUCKET = "rivaverify-tests"
_target: S3Target | None = None


def target() -> S3Target:
    """This process' server, with BUCKET created; started on first use."""
    global _target
    if _target is None:
        stack = ExitStack()
        _target = stack.enter_context(embedded_s3(BUCKET))
        atexit.register(stack.close)
    return _target


def env() -> dict[str, str]:
    """The settings that point a suite run at this process' server and BUCKET."""
    t = target()
    key, secret = t.credentials
    return {"RIVA__BUCKET": t.bucket, "RIVA__S3_ENDPOINT_URL": t.endpoint_url, "AWS_ACCESS_KEY_ID": key,
            "AWS_SECRET_ACCESS_KEY": secret, "AWS_DEFAULT_REGION": t.region}
