"""Where artifacts are staged: a configured bucket, or an embedded S3 API server (moto) on loopback."""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rivaverify.artifact.errors import ArtifactError
from rivaverify.artifact.s3 import MiB, S3Store

EMBEDDED_BUCKET = "rivaverify-artifacts"
EMBEDDED_CREDENTIALS = ("rivaverify-embedded", "not-a-secret")  # the embedded server accepts any


@dataclass(frozen=True)
class S3Target:
    bucket: str
    endpoint_url: str | None = None  # None: AWS
    region: str | None = None  # None: the AWS chain, else us-east-1
    credentials: tuple[str, str] | None = None  # None: the standard AWS chain
    embedded: bool = False

    def connect(self, concurrency: int = 10, part_size: int = 8 * MiB) -> S3Store:
        return S3Store.connect(endpoint_url=self.endpoint_url, region=self.region, credentials=self.credentials,
                               concurrency=concurrency, part_size=part_size)

    def describe(self) -> str:
        where = "embedded S3 server" if self.embedded else "S3"
        return f"s3://{self.bucket} ({where} {self.endpoint_url or 'AWS'})"


@contextmanager
def embedded_s3(bucket: str = EMBEDDED_BUCKET) -> Iterator[S3Target]:
    """moto's S3 server on 127.0.0.1 at a free port with `bucket` created; stopped (and emptied) on exit."""
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:
        raise ArtifactError("the embedded S3 server needs moto: pip install 'moto[server]', or set RIVA__BUCKET "
                            "to a bucket (and RIVA__S3_ENDPOINT_URL for an S3-compatible store)") from exc
    quiet = logging.getLogger("werkzeug")  # one line per request otherwise
    if quiet.level == logging.NOTSET:
        quiet.setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        target = S3Target(bucket, f"http://{host}:{port}", "us-east-1", EMBEDDED_CREDENTIALS, embedded=True)
        client = target.connect().client
        _create_bucket(client, bucket)
        try:
            yield target
        finally:
            _empty(client, bucket)
    finally:
        _stop(server)


def _stop(server: Any, timeout: float = 5) -> None:
    """server.stop() without waiting out werkzeug's half-second poll for the shutdown: connections wake its loop
    until it has seen the request (each ends at once: nothing is sent)."""
    stopper = threading.Thread(target=server.stop, name="embedded-s3-stop", daemon=True)
    stopper.start()
    address, deadline = server.get_host_and_port(), time.monotonic() + timeout
    while stopper.is_alive() and time.monotonic() < deadline:
        try:
            socket.create_connection(address, timeout=0.1).close()
        except OSError:
            pass  # closed already: the loop has ended
        stopper.join(0.02)
    stopper.join(timeout)


def _create_bucket(client: Any, bucket: str) -> None:
    try:
        client.create_bucket(Bucket=bucket)
    except client.exceptions.BucketAlreadyOwnedByYou:
        pass


def _empty(client: Any, bucket: str) -> None:
    """Free what the server holds (it lives in this process); best effort at teardown."""
    try:
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:
                client.delete_objects(Bucket=bucket, Delete={"Objects": keys, "Quiet": True})
        client.delete_bucket(Bucket=bucket)
    except Exception:  # teardown of a server about to stop: nothing to report
        pass

