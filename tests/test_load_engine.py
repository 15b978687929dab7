"""rivaverify.load.engine in a gevent-patched process, as locust runs it: results and errors come back to the
calling greenlet, greenlets wait together, a killed greenlet cancels its coroutine, gRPC's poller is an OS thread."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = r"""
from gevent import monkey; monkey.patch_all()
import asyncio, json, threading, time
import gevent
from rivaverify.load.engine import engine

out = {}
e = engine()
out["same"] = engine() is e
out["result"] = e.run(lambda: asyncio.sleep(0, result=42))

async def boom():
    raise ValueError("no such model")
try:
    e.run(boom)
except ValueError as exc:
    out["error"] = str(exc)

started = time.monotonic()
waits = [gevent.spawn(e.run, lambda: asyncio.sleep(0.5, result=1)) for _ in range(20)]
gevent.joinall(waits)
out["together_s"] = time.monotonic() - started
out["together"] = sum(g.value for g in waits)

cancelled = []
async def long():
    try:
        await asyncio.sleep(30)
    except asyncio.CancelledError:
        e.to_hub(cancelled.append, True)
        raise
g = gevent.spawn(e.run, long)
gevent.sleep(0.2)
g.kill()
gevent.sleep(0.3)
out["cancelled"] = cancelled

import grpc
async def call():
    async with grpc.aio.insecure_channel("127.0.0.1:1") as ch:
        try:
            await ch.unary_unary("/x.Y/Z")(b"", timeout=2)
        except grpc.RpcError as exc:
            return exc.code().name
out["grpc"] = e.run(call)
out["native"] = sorted({t.name for t in threading.enumerate()} & {"grpc-aio-poller"})
print(json.dumps(out))
"""


def test_engine_in_a_patched_process():
    r = subprocess.run([sys.executable, "-c", SCRIPT], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-3000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["same"] and out["result"] == 42 and out["error"] == "no such model"
    assert out["together"] == 20 and out["together_s"] < 5  # 20 waits of 0.5 s at once, not one after another
    assert out["cancelled"] == [True]
    assert out["grpc"] == "UNAVAILABLE"
    assert out["native"] == []  # the poller is not a (patched) threading.Thread, gevent would run it as a greenlet
