"""The local S3 API server of the artifact benchmarks: moto's server in its own process, on a free port.

    python benchmarks/bench_artifact_server.py [--stock] [--serve]   self-check; --serve: until Ctrl-C

moto reads a whole object for every ranged GET and every part copy, so a ranged download of an object of
size S in parts of P costs S*S/P on the server. Unless --stock, the server keeps the bytes of the last two
large objects it read, so a range costs what it costs on S3. Every tool measured runs against the same
server. moto also keeps every object it ever stored until a reset (reset() between rounds), and the server
process may use at most MEMORY_LIMIT bytes of address space.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

PATCH = """
import weakref
from collections import OrderedDict
from moto.s3.models import FakeKey

_value, _cache = FakeKey.value, OrderedDict()  # id -> (key, bytes) of the two large objects read last


def _get(self):
    if self.contentsize < (64 << 20):
        return _value.fget(self)
    ref, data = _cache.get(id(self), (None, None))
    if ref is None or ref() is not self:
        data = _value.fget(self)
        _cache[id(self)] = (weakref.ref(self), data)
        while len(_cache) > 2:
            _cache.popitem(last=False)
    _cache.move_to_end(id(self))
    return data


def _set(self, new):
    _cache.pop(id(self), None)
    _value.fset(self, new)


FakeKey.value = property(_get, _set)
"""

SERVE = """
import logging, resource, sys
logging.getLogger("werkzeug").setLevel(logging.WARNING)
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))  # a MemoryError here, not the OOM killer elsewhere
{patch}
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print("ready", server.get_host_and_port()[1], flush=True)
sys.stdin.read()  # until the parent closes stdin
server.stop()
"""


@contextmanager
def s3_server(stock: bool = False) -> Iterator[str]:
    """A moto S3 server process on 127.0.0.1; yields its endpoint URL; stopped on exit."""
    code = SERVE.format(patch="" if stock else PATCH, limit=MEMORY_LIMIT)
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    word, _, port = proc.stdout.readline().partition(" ")
    if word != "ready":
        proc.kill()
        proc.wait()
        raise RuntimeError("the moto S3 server did not start (is moto[server] installed?)")
    port = port.strip()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.stdin.close()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


MEMORY_LIMIT = 10 << 30


def reset(endpoint: str) -> None:
    """Drop everything the server holds (moto keeps every object ever stored until then)."""
    import urllib.request

    urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST"), timeout=60).read()


def client(endpoint: str):
    import boto3
    from botocore.config import Config

    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="bench",
                        aws_secret_access_key="bench", config=Config(max_pool_connections=16))


def median(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2


def make_file(path, size: int) -> None:
    """A file of random bytes (reused when it already has the size)."""
    if os.path.exists(path) and os.path.getsize(path) == size:
        return
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 64 << 20)
            f.write(os.urandom(n))
            left -= n


if __name__ == "__main__":
    with s3_server(stock="--stock" in sys.argv) as url:
        c = client(url)
        c.create_bucket(Bucket="self-check")
        c.put_object(Bucket="self-check", Key="k", Body=b"0123456789")
        got = c.get_object(Bucket="self-check", Key="k", Range="bytes=2-4")["Body"].read()
        print(f"S3 API at {url}: ranged GET {'ok' if got == b'234' else 'WRONG'}", flush=True)
        if "--serve" in sys.argv:
            print("serving (any credentials); Ctrl-C stops it", flush=True)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                pass
