"""The boto3 store: AWS S3 or any S3-compatible endpoint; credentials from the standard AWS chain."""

from __future__ import annotations

import base64
import binascii
import functools
from pathlib import Path
from typing import Any

from rivaverify.artifact.errors import ArtifactError
from rivaverify.artifact.store import Bar, ObjectInfo, s3_uri

MiB = 1 << 20
TRANSIENT_CODES = {
    "RequestTimeout", "InternalError", "ServiceUnavailable", "SlowDown", "Throttling", "ThrottlingException",
    "RequestLimitExceeded", "RequestThrottled", "TooManyRequestsException", "BadDigest", "IncompleteBody",
}
DENIED_CODES = {
    "AccessDenied", "403", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken",
    "InvalidToken", "AllAccessDisabled", "AccountProblem",
}
NOT_FOUND_CODES = {"NoSuchKey", "404", "NotFound"}


class S3Store:
    """One boto3 client; uploads and copies through boto3's transfer manager (multipart, parallel)."""

    def __init__(self, client: Any, transfer: Any, *, endpoint_url: str | None, region: str,
                 session: Any = None) -> None:
        self.client, self.transfer, self.endpoint_url, self.region = client, transfer, endpoint_url, region
        self.session = session

    @classmethod
    def connect(cls, *, endpoint_url: str | None = None, region: str | None = None,
                credentials: tuple[str, str] | None = None, concurrency: int = 10,
                part_size: int = 8 * MiB) -> S3Store:
        """A store for AWS (endpoint_url None) or an S3-compatible endpoint; credentials None: the AWS chain."""
        import boto3
        import botocore.session
        from boto3.s3.transfer import TransferConfig
        from botocore.config import Config

        keys = {"aws_access_key_id": credentials[0], "aws_secret_access_key": credentials[1]} if credentials else {}
        core = botocore.session.get_session()
        core.register_component("data_loader", _loader())  # service models parsed once per process
        session = boto3.session.Session(botocore_session=core, region_name=region, **keys)
        region = session.region_name or "us-east-1"
        config = Config(
            region_name=region, retries={"mode": "standard", "max_attempts": 5},  # backoff with jitter
            max_pool_connections=concurrency + 4, connect_timeout=10, read_timeout=60,
            s3={"addressing_style": "path"} if endpoint_url else None, user_agent_extra="riva-verify",
        )
        client = session.client("s3", endpoint_url=endpoint_url, config=config)
        transfer = TransferConfig(multipart_threshold=part_size, multipart_chunksize=part_size,
                                  max_concurrency=concurrency)
        return cls(client, transfer, endpoint_url=endpoint_url, region=region, session=session)

    def describe(self) -> str:
        return f"S3 endpoint {self.endpoint_url}" if self.endpoint_url else f"AWS S3 ({self.region})"

    # errors ------------------------------------------------------------------------------------------

    def _credentials_from(self) -> str:
        try:
            creds = self.session.get_credentials() if self.session is not None else None
        except Exception:  # any failure here only changes the wording of a message
            creds = None
        return f"from {creds.method}" if creds is not None else "none found"

    def _error(self, exc: Exception, action: str, uri: str) -> ArtifactError:
        from botocore import exceptions as be

        if isinstance(exc, ArtifactError):
            return exc
        cause = exc.__cause__ or exc.__context__  # boto3's transfer manager wraps the ClientError
        if not isinstance(exc, be.ClientError) and isinstance(cause, be.ClientError):
            exc = cause
        if isinstance(exc, be.ClientError):
            err = exc.response.get("Error", {})
            code = str(err.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            detail = f"{code} {err.get('Message', '')}".strip()
            if code == "NoSuchBucket":
                return ArtifactError(f"bucket of {uri} does not exist at {self.describe()} ({action}): "
                                     "create it or fix --bucket / the URI")
            if code in NOT_FOUND_CODES:
                return ArtifactError(f"{uri} not found at {self.describe()} ({action}): check the URI "
                                     "(and that its bucket exists)")
            if code in DENIED_CODES or status == 403:
                return ArtifactError(f"access denied to {uri} ({action}: {detail}); credentials "
                                     f"{self._credentials_from()}: check AWS_PROFILE / the keys, and that their "
                                     "policy allows this action on the bucket")
            if code in ("PreconditionFailed", "412") or status == 412:
                return ArtifactError(f"{uri} changed during {action} (its ETag no longer matches): rerun; the "
                                     "new object is fetched from the start")
            if code in TRANSIENT_CODES or status >= 500 or status == 429:
                return ArtifactError(f"{action} {uri}: {detail or status} (transient)", transient=True)
            return ArtifactError(f"{action} {uri} failed: {detail or status}")
        if isinstance(exc, be.NoCredentialsError | be.PartialCredentialsError):
            return ArtifactError("no AWS credentials found in the standard chain (AWS_ACCESS_KEY_ID/"
                                 "AWS_SECRET_ACCESS_KEY, AWS_PROFILE and ~/.aws, SSO, container or instance "
                                 f"role) for {action} {uri}: configure one of them")
        if isinstance(exc, be.EndpointConnectionError | be.ConnectTimeoutError):
            return ArtifactError(f"cannot reach {self.describe()} for {action} {uri} ({exc}): check "
                                 "--endpoint-url and the network", transient=True)
        if isinstance(exc, be.ConnectionError | be.HTTPClientError | be.ResponseStreamingError
                      | be.IncompleteReadError | ConnectionError | TimeoutError):
            return ArtifactError(f"connection to {self.describe()} broke during {action} {uri}: {exc}",
                                 transient=True)
        return ArtifactError(f"{action} {uri} failed: {type(exc).__name__}: {exc}")

    def _call(self, action: str, uri: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Exception as exc:  # translated: every failure becomes an ArtifactError with a next step
            raise self._error(exc, action, uri) from exc

    # the Store interface -----------------------------------------------------------------------------

    def check_bucket(self, bucket: str) -> None:
        from botocore.exceptions import ClientError

        try:
            self.client.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in NOT_FOUND_CODES | {"NoSuchBucket"}:
                raise ArtifactError(f"bucket {bucket} does not exist at {self.describe()}: create it or fix "
                                    "--bucket (NVIDIA_DRIVERS_S3_BUCKET / RIVA__BUCKET)") from exc
            raise self._error(exc, "HeadBucket", s3_uri(bucket)) from exc
        except Exception as exc:
            raise self._error(exc, "HeadBucket", s3_uri(bucket)) from exc

    def head(self, bucket: str, key: str) -> ObjectInfo | None:
        from botocore.exceptions import ClientError

        try:
            r = self.client.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        except ClientError as exc:
            if str(exc.response.get("Error", {}).get("Code")) in NOT_FOUND_CODES:
                return None
            raise self._error(exc, "HeadObject", s3_uri(bucket, key)) from exc
        except Exception as exc:
            raise self._error(exc, "HeadObject", s3_uri(bucket, key)) from exc
        return ObjectInfo(key, r["ContentLength"], r.get("ETag", "").strip('"'), _declared_sha256(r),
                          r.get("LastModified"))

    def read_range(self, bucket: str, key: str, start: int, end: int, etag: str) -> bytes:
        uri = s3_uri(bucket, key)

        def get() -> bytes:
            r = self.client.get_object(Bucket=bucket, Key=key, Range=f"bytes={start}-{end}", IfMatch=f'"{etag}"')
            return r["Body"].read()

        data = self._call(f"GetObject bytes {start}-{end}", uri, get)
        if len(data) != end - start + 1:
            raise ArtifactError(f"short read of {uri} bytes {start}-{end}: got {len(data)}", transient=True)
        return data

    def read(self, bucket: str, key: str) -> bytes:
        return self._call("GetObject", s3_uri(bucket, key),
                          lambda: self.client.get_object(Bucket=bucket, Key=key)["Body"].read())

    def put(self, bucket: str, key: str, data: bytes, sha256: str) -> None:
        self._call("PutObject", s3_uri(bucket, key), self.client.put_object, Bucket=bucket, Key=key, Body=data,
                   Metadata={"sha256": sha256}, ChecksumSHA256=_b64(sha256))

    def upload(self, path: Path, bucket: str, key: str, sha256: str, bar: Bar | None = None) -> None:
        """Each request (PutObject, or UploadPart per part) carries its body's SHA-256 for the store to check."""
        self._call("upload", s3_uri(bucket, key), self.client.upload_file, str(path), bucket, key,
                   ExtraArgs={"Metadata": {"sha256": sha256}, "ChecksumAlgorithm": "SHA256"}, Config=self.transfer,
                   Callback=bar.update if bar is not None else None)

    def copy(self, src_bucket: str, src_key: str, etag: str, bucket: str, key: str, sha256: str,
             bar: Bar | None = None) -> None:
        extra = {"Metadata": {"sha256": sha256}, "MetadataDirective": "REPLACE", "CopySourceIfMatch": f'"{etag}"'}
        self._call("copy", f"{s3_uri(src_bucket, src_key)} -> {s3_uri(bucket, key)}", self.client.copy,
                   {"Bucket": src_bucket, "Key": src_key}, bucket, key, ExtraArgs=extra, Config=self.transfer,
                   Callback=bar.update if bar is not None else None)

    def list(self, bucket: str, prefix: str) -> list[ObjectInfo]:
        def pages() -> list[ObjectInfo]:
            out = []
            for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
                for o in page.get("Contents", []):
                    out.append(ObjectInfo(o["Key"], o["Size"], o.get("ETag", "").strip('"'), None,
                                          o.get("LastModified")))
            return out

        return self._call("ListObjectsV2", s3_uri(bucket, prefix), pages)

    def delete(self, bucket: str, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[i:i + 1000]]
            r = self._call("DeleteObjects", s3_uri(bucket, keys[i]), self.client.delete_objects, Bucket=bucket,
                           Delete={"Objects": batch, "Quiet": True})
            if r.get("Errors"):
                e = r["Errors"][0]
                raise ArtifactError(f"could not delete {s3_uri(bucket, e.get('Key', ''))}: {e.get('Code')} "
                                    f"{e.get('Message', '')}; check the credentials' s3:DeleteObject permission")


@functools.cache
def _loader() -> Any:
    from botocore.loaders import create_loader

    return create_loader()


def _b64(sha256_hex: str) -> str:
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()


def _declared_sha256(head: dict[str, Any]) -> str | None:
    """sha256 the writer declared (x-amz-meta-sha256), or S3's full-object ChecksumSHA256."""
    meta = (head.get("Metadata") or {}).get("sha256")
    if meta:
        return meta.lower()
    checksum = head.get("ChecksumSHA256")
    if checksum and "-" not in checksum:  # "-N": a checksum of part checksums, not of the object
        try:
            return base64.b64decode(checksum).hex()
        except (binascii.Error, ValueError):
            return None
    return None
