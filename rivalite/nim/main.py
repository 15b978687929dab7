"""`rivalite nim`: riva-lite as a Riva ASR NIM container runs, in the foreground.

1. the device and the profile (NIM_TAGS_SELECTOR / NIM_MODEL_PROFILE), logged as NIM logs them;
2. the cache (NIM_CACHE_PATH): the profile's repository, deployed on the first start (NGC_API_KEY needed then);
3. tritonserver --model-repository=<cache repository> and riva-lite's gRPC API on NIM_GRPC_API_PORT
   (rivalite.launcher, the classic face's launcher, without its start-riva bug);
4. NIM's HTTP API on NIM_HTTP_API_PORT, up while the models load (ready: 503 until the gRPC API serves).
SIGTERM/SIGINT stop the HTTP server, the gRPC API and tritonserver; nothing is left running. A refused start (no
profile, no key with an empty cache, an unwritable cache) says why and what to do, and exits 1.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import signal
import socket
import sys
import threading
import time
from datetime import datetime

from rivalite import launcher as launcher_mod
from rivalite.errors import RivaLiteError
from rivalite.nim import (
    DEFAULT_GRPC_PORT,
    DEFAULT_HTTP_PORT,
    GRPC_PORT_ENV,
    HTTP_PORT_ENV,
    KEY_ENV,
    NIM_RELEASE,
    PROFILE_ENV,
    SELECTOR_ENV,
    NimError,
    cache,
    port_from_env,
    profiles,
)

log = logging.getLogger("inference")  # NIM's start-up lines: `INFO:inference:...`
READY = "Riva gRPC Server is READY"  # NIM's line once riva_server serves
HTTP_STARTING = "Starting HTTP Inference server"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="rivalite nim", description="riva-lite as a Riva ASR NIM: gRPC and NIM's HTTP API, in the foreground.",
        epilog=f"environment: {HTTP_PORT_ENV} (default {DEFAULT_HTTP_PORT}), {GRPC_PORT_ENV} (default "
        f"{DEFAULT_GRPC_PORT}), NIM_TAGS_SELECTOR (e.g. name=whisper-tiny-en-us,mode=ofl), NIM_MODEL_PROFILE, "
        f"NIM_CACHE_PATH (default /opt/nim/.cache in the image, else ~/.cache/rivalite/nim), {KEY_ENV} (needed "
        "when the cache is empty; never pass it as an argument), NIM_MANIFEST_PATH")
    for name, default in (("http", 8000), ("grpc", 8001), ("metrics", 8002)):
        p.add_argument(f"--triton-{name}-port", type=launcher_mod._port, default=default,
                       help=f"tritonserver's {name} port inside (default {default}; 0 picks a free port)")
    p.add_argument("--ready-timeout", type=float, default=os.environ.get(launcher_mod.READY_TIMEOUT_ENV) or 180,
                   metavar="SECONDS", help="give up when Triton has not loaded the models by then (default "
                   f"{launcher_mod.READY_TIMEOUT_ENV}, else 180)")
    return p.parse_args(argv)


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(logging.Formatter("%(levelname)s:%(name)s:%(message)s"))
    for name in ("inference", "riva_http_server", "riva_realtime_server"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False


def _http_line(text: str) -> None:
    """NIM's HTTP server's line format: `INFO 2026-03-31 08:51:16.298 http_api.py:341] ...`."""
    when = datetime.now().strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    print(f"INFO {when} http_api.py:341] {text}", flush=True)


def check_port(port: int, name: str) -> None:
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("0.0.0.0", port))
        except OSError as e:
            raise NimError(f"cannot serve HTTP on port {port} ({name}): {e.strerror}; stop what holds it or set "
                           f"{name} to a free port") from None


def prepare(say=print) -> tuple[profiles.Profile, str]:
    """Profile and cache: the repository tritonserver will load. Raises NimError for what NIM refuses."""
    log.info("Detected cpu_device: %s cores: %s (riva-lite: no GPU, CPU profiles)", platform.machine(),
             os.cpu_count())
    if not os.environ.get(SELECTOR_ENV) and not os.environ.get(PROFILE_ENV):  # since ASR NIM 1.3.0
        log.info("No %s or %s given: selecting the profile automatically for this system (riva-lite %s: the first "
                 "compatible one, mode=all)", SELECTOR_ENV, PROFILE_ENV, NIM_RELEASE)
    profile = profiles.select(profiles.load())
    log.info("Matched profile_id with tags: %s", profile.tags)
    log.info("Selected profile: %s", profile.id)
    folder = cache.default_path()
    started = time.monotonic()
    repo, reused = cache.repository(folder, profile, log=say)
    say(f"riva-lite: model repository {repo} ({'reused from the cache' if reused else 'deployed into the cache'}"
        f" in {time.monotonic() - started:.1f} s)")
    return profile, str(repo)


class Nim:
    def __init__(self, args: argparse.Namespace, http_port: int, grpc_port: int, repo: str):
        self.http_port, self.grpc_port = http_port, grpc_port
        self.launcher = launcher_mod.Launcher(launcher_mod.parse_args([
            f"--riva-uri=0.0.0.0:{grpc_port}", f"--triton-http-port={args.triton_http_port}",
            f"--triton-grpc-port={args.triton_grpc_port}", f"--triton-metrics-port={args.triton_metrics_port}",
            f"--triton-ready-timeout={args.ready_timeout}"]))
        self.launcher.model_repository, self.launcher.waiting_line = repo, None
        self.code: int | None = None

    def _watch(self) -> None:
        try:
            self.code = self.launcher.watch()
        except BaseException:
            self.code = 1
            raise

    async def serve(self) -> int:
        from aiohttp import web

        from rivalite.nim import http_api

        lc = self.launcher
        metrics_url = f"http://127.0.0.1:{lc.args.triton_metrics_port}/metrics"
        backend = http_api.Backend(f"127.0.0.1:{self.grpc_port}", metrics_url, lambda: lc.serving)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            loop.add_signal_handler(sig, lambda: (lc.on_signal(None, None), stop.set()))
        watcher = threading.Thread(target=self._watch, name="riva-lite-launcher", daemon=True)
        watcher.start()
        runner = web.AppRunner(http_api.app(backend), access_log=None, handle_signals=False)
        await runner.setup()
        try:
            await web.TCPSite(runner, "0.0.0.0", self.http_port).start()
        except OSError as e:
            await runner.cleanup()
            lc.on_signal(None, None)
            await asyncio.to_thread(watcher.join)
            raise NimError(f"cannot serve HTTP on port {self.http_port} ({HTTP_PORT_ENV}): {e.strerror}; pick a "
                           "free port") from None
        _http_line(f"{HTTP_STARTING}, port: {self.http_port}, workers_count: 1, host: 0.0.0.0, log_level: info, "
                   "SSL: disabled")
        announced = False
        while not stop.is_set() and watcher.is_alive():
            if lc.serving and not announced:
                log.info(READY)
                _http_line("Welcome! Application is ready to receive API requests.")
                announced = True
            try:
                await asyncio.wait_for(stop.wait(), 0.1)
            except TimeoutError:
                pass
        await runner.cleanup()
        lc.on_signal(None, None)
        await asyncio.to_thread(watcher.join)
        return self.code if self.code is not None else 1


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _setup_logging()
    try:
        http_port = port_from_env(HTTP_PORT_ENV, DEFAULT_HTTP_PORT)
        grpc_port = port_from_env(GRPC_PORT_ENV, DEFAULT_GRPC_PORT)
        check_port(http_port, HTTP_PORT_ENV)  # before Triton loads for nothing
        _, repo = prepare(lambda line: print(line, flush=True))
    except RivaLiteError as e:
        print(f"ERROR:inference:{e}", file=sys.stderr, flush=True)
        return 1
    os.environ.pop(KEY_ENV, None)  # checked; tritonserver and the API server never see it
    nim = Nim(args, http_port, grpc_port, repo)
    try:
        nim.launcher.start()  # forks before this process loads gRPC (rivalite.launcher.spawn)
        return asyncio.run(nim.serve())
    except (RivaLiteError, OSError) as e:  # OSError: a file this user cannot read (the image runs as UID 1000)
        print(f"ERROR:inference:{e}", file=sys.stderr, flush=True)
        return 1
    finally:
        launcher_mod.stop(nim.launcher.procs, shm=tuple(nim.launcher.shm))


def list_model_profiles(argv: list[str] | None = None) -> int:
    try:
        print(profiles.listing(profiles.load()))
    except RivaLiteError as e:
        print(f"ERROR:inference:{e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
