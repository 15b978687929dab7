"""One S3 API server (moto, on loopback) per test process, for the suite runs that stage riva-lite's archive: the
first run of a process stages it, the later ones find it staged and verified (the suites' path for a team's bucket,
RIVA__BUCKET), instead of each run starting its own embedded server and uploading the archive again (about 1.5 s a
run). Stopped when the process exits."""

from __future__ import annotations

import atexit
from contextlib import ExitStack

_env: dict[str, str] | None = None


def env() -> dict[str, str]:
    """The settings that point a suite run at this process' server and bucket."""
    global _env
    if _env is None:
        from rivaverify.artifact import embedded_s3

        stack = ExitStack()
        target = stack.enter_context(embedded_s3("rivaverify-tests"))
        atexit.register(stack.close)
        key, secret = target.credentials or ("testing", "testing")
        _env = {"RIVA__BUCKET": target.bucket, "RIVA__S3_ENDPOINT_URL": target.endpoint_url or "",
                "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret,
                "AWS_DEFAULT_REGION": target.region or "us-east-1"}
    return _env
