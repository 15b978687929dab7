"""`rivaverify serve`: the smoke verdicts on an interval, for Prometheus (/metrics) and Kubernetes (/healthz)."""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from typing import Any

from rivaverify import settings as settings_mod
from rivaverify.asr.corpus import ManifestError

READY = "rivaverify serve: listening on"
OPTIONS = {"grpc_address": "--host", "flavor": "--flavor", "profile": "--profile", "corpus": "--corpus"}


def _address(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) < 65536:
        raise argparse.ArgumentTypeError(f"{text!r}: give HOST:PORT, e.g. 0.0.0.0:9410")
    return host.strip("[]") or "0.0.0.0", int(port)


def _interval(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give a number of seconds over 0")
    return value


async def _serve(serve: Any, host: str, port: int) -> None:
    from aiohttp import web

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(serve.app(), handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    bound = runner.addresses[0]
    print(f"{READY} http://{bound[0]}:{bound[1]} (every {serve.scheduler.interval_s:g} s; {serve.target}, "
          f"{serve.flavor})", flush=True)
    serve.scheduler.start()
    try:
        await stop.wait()
    finally:
        serve.scheduler.stop(1.0)  # a run in progress is left to its daemon thread
        await runner.cleanup()
    print("rivaverify serve: stopped", flush=True)


def _run(args: argparse.Namespace) -> int:
    from rivaverify.serve.app import Serve
    from rivaverify.serve.checks import Verifier
    from rivaverify.serve.scheduler import Scheduler

    options = {"grpc_address": args.host, "flavor": args.flavor, "profile": args.profile, "corpus": args.corpus}
    try:
        s = settings_mod.load(options, option_names=OPTIONS)
        verifier = Verifier(s)
    except (settings_mod.SettingsError, ManifestError, ValueError) as exc:
        print(f"rivaverify serve: {exc}", file=sys.stderr)
        return 2
    serve = Serve(Scheduler(verifier.run, args.interval), s.target.value, verifier.target.flavor.value)
    asyncio.run(_serve(serve, *args.listen))
    return 0


def add_parser(verbs: Any) -> None:
    p = verbs.add_parser(
        "serve", help="verify the deployment on an interval: /healthz, /metrics, a page",
        description="Every INTERVAL seconds (one run at a time), verify the deployment the RIVA__* settings name: gRPC "
        "health, the model listed, one Recognize and one real-time StreamingRecognize of the corpus' first clip "
        "within the profile's WER and latency bounds (a NIM: also /v1/health/ready and one HTTP transcription). "
        "GET /healthz: 200 when the last run passed and is younger than 2 intervals, else 503 (JSON); GET /metrics: "
        "Prometheus text; GET /: the last verdict and recent runs. SIGTERM stops it.")
    p.add_argument("--listen", type=_address, default=("127.0.0.1", 9410), metavar="HOST:PORT",
                   help="where to serve HTTP (default 127.0.0.1:9410; 0.0.0.0:9410 for a Kubernetes probe)")
    p.add_argument("--interval", type=_interval, default=60.0, metavar="SECONDS", help="between runs' starts (60)")
    p.add_argument("--host", metavar="HOST:PORT", help="Riva's gRPC address (RIVA__HOST)")
    p.add_argument("--flavor", choices=["classic", "nim"], help="classic or nim (RIVA__FLAVOR)")
    p.add_argument("--profile", choices=["dev", "staging", "production"], help="the bounds (RIVA__PROFILE)")
    p.add_argument("--corpus", metavar="MANIFEST", help="its first clip is verified (RIVA__CORPUS)")
    p.set_defaults(func=_run)
