"""start-riva: riva-lite's launcher, shaped like NVIDIA's, bug included.

It starts the `tritonserver` found on PATH WITHOUT --model-repository (the repository is /data/models, or
RIVA_MODEL_REPO, but only a tritonserver shim on PATH passes it on), prints NVIDIA's `  > Riva waiting for Triton
server to load all models...retrying in 1 second` until Triton's /v2/health/ready answers, then `  > Triton
server is ready...`, and starts the Riva API (`python -m rivalite.server`), which logs riva_server's `Riva
Conversational AI Server listening on ...` (READY). Then it watches both: when one exits it prints NVIDIA's
`One of the processes has exited unexpectedly. Stopping container.`, stops the other (tritonserver answers
SIGTERM with its own `Signal (15) received.`) and exits 1; SIGTERM/SIGINT stop both and exit 0. Like NVIDIA's
launcher it never prints "Riva server is ready...": that is the quick start's host script (riva_start.sh), once
grpc_health_probe passes. riva-lite's own lines start with "riva-lite: ". Sources: docs/riva-behaviour.md.
Children run in their own process groups and get SIGTERM if the launcher dies, so nothing outlives it.
tritonserver's output passes through the launcher (unchanged, stdout to stdout, stderr to stderr) so that a stop
asked for knows when Triton has no inference in flight (its `All models are stopped, unloading models`): the
launcher stops it then, without waiting for its models to unload (Triton polls that once a second and Python
backend stubs take a second each to finish: about 2 s of riva-lite's stop for nothing).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request

from rivalite import glog, triton
from rivalite.errors import RivaLiteError

REPO_ENV, DEFAULT_REPO = "RIVA_MODEL_REPO", "/data/models"
# NVIDIA's start-riva prints these as they are, two spaces and '>' included (observed `docker logs riva-speech`)
WAITING = "  > Riva waiting for Triton server to load all models...retrying in 1 second"
TRITON_READY = "  > Triton server is ready..."
EXITED = "One of the processes has exited unexpectedly. Stopping container."
READY = glog.LISTENING  # riva_server's line (the API server child logs it): Riva's API serves
READY_TIMEOUT_ENV = "RIVALITE_TRITON_READY_TIMEOUT"  # default of --triton-ready-timeout, seconds
# tritonserver prints this on SIGTERM once no inference is in flight (server.cc; Triton waits for them first)
TRITON_DRAINED = b"All models are stopped, unloading models"


def say(text: str) -> None:
    """One line in one write: print() writes the text and its newline apart when stdout is unbuffered
    (PYTHONUNBUFFERED), and tritonserver's relayed lines (`relay`) would land in between."""
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def _bool(text: str) -> bool:
    if text.lower() not in ("true", "false", "1", "0"):
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return text.lower() in ("true", "1")


def _port(text: str) -> int:
    port = int(text)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is out of range (0 picks a free port)")
    return port


# Below Linux's ephemeral range (32768-60999): a port picked here is not handed out again by the kernel to
# the next process that binds port 0 (an embedded S3 server, a client socket) before our server takes it.
FREE_PORTS = range(20000, 32768)
# The range to pick from instead (FIRST-LAST): runs in parallel on one host each take their own (the project's
# tests give each xdist worker one), so two of them never pick the same port before either binds it.
PORTS_ENV = "RIVALITE_FREE_PORTS"


def port_range() -> range:
    """FREE_PORTS, or the range RIVALITE_FREE_PORTS names."""
    raw = os.environ.get(PORTS_ENV, "").strip()
    if not raw:
        return FREE_PORTS
    first, _, last = raw.partition("-")
    if not (first.isdigit() and last.isdigit() and 1024 <= int(first) < int(last) <= 65535):
        raise RivaLiteError(f"{PORTS_ENV}={raw!r} is not a port range: give FIRST-LAST within 1024-65535, such as "
                            "20000-23199, or unset it (20000-32767)")
    return range(int(first), int(last) + 1)


def free_port(taken: set[int] | None = None) -> int:
    """A port nothing listens on now, from port_range() (outside the ephemeral range), and not in `taken`."""
    ports = port_range()
    for _ in range(200):
        port = random.choice(ports)
        if taken and port in taken:
            continue
        with socket.socket() as s:
            try:
                s.bind(("0.0.0.0", port))
            except OSError:
                continue
            return port
    raise OSError(f"no free port found in {ports.start}-{ports.stop - 1}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="start-riva",
        description="Start riva-lite: tritonserver and Riva's API.",
        epilog="environment: RIVA_MODEL_REPO (default /data/models; only a tritonserver shim on PATH "
        "passes it to tritonserver, as with NVIDIA's start-riva), RIVA_API_KEY (require "
        "'authorization: Bearer KEY'), RIVALITE_TRITON_HOME (where the real tritonserver is laid out), "
        "RIVALITE_TRITON_READY_TIMEOUT (default of --triton-ready-timeout), RIVALITE_FREE_PORTS (FIRST-LAST: where "
        "ports given as 0 are picked; default 20000-32767)",
    )
    p.add_argument(
        "--riva-uri",
        "--riva_uri",
        dest="riva_uri",
        default="0.0.0.0:50051",
        help="HOST:PORT for Riva's gRPC API",
    )
    p.add_argument("--asr_service", type=_bool, default=True, metavar="true|false")
    for other in ("nlp_service", "tts_service", "nmt_service"):
        p.add_argument(f"--{other}", type=_bool, default=False, metavar="true|false", help="not in riva-lite")
    p.add_argument("--triton-http-port", type=_port, default=8000, help="0 picks a free port")
    p.add_argument("--triton-grpc-port", type=_port, default=8001, help="0 picks a free port")
    p.add_argument("--triton-metrics-port", type=_port, default=8002, help="0 picks a free port")
    # also from the environment, so a container runtime can set it without a flag NVIDIA's start-riva lacks
    p.add_argument("--triton-ready-timeout", type=float, metavar="SECONDS",
                   default=os.environ.get(READY_TIMEOUT_ENV) or "180")
    p.add_argument("--api-ready-timeout", type=float, default=30, metavar="SECONDS")
    p.add_argument("--ssl_server_cert", help="PEM certificate: Riva's API serves TLS")
    p.add_argument("--ssl_server_key", help="PEM private key for --ssl_server_cert")
    args = p.parse_args(argv)
    if bool(args.ssl_server_cert) != bool(args.ssl_server_key):
        p.error("TLS needs both --ssl_server_cert and --ssl_server_key")
    host, _, port = args.riva_uri.rpartition(":")
    if not host or not port.isdigit():
        p.error(f"--riva-uri {args.riva_uri!r} must be HOST:PORT, e.g. 0.0.0.0:50051")
    for name in ("triton_http_port", "triton_grpc_port", "triton_metrics_port"):
        if getattr(args, name) == 0:
            setattr(args, name, free_port())
    return args


def _die_with_parent() -> None:
    """In the child: SIGTERM when the launcher dies (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def spawn(cmd: list[str], env=None, executable: str | None = None, pass_fds=(), piped: bool = False
          ) -> subprocess.Popen:
    """A child in its own process group that dies with the launcher (`piped`: its stdout and stderr are pipes, for
    `relay`). Only before this process uses gRPC: preexec_fn makes Python fork(), and a fork() of a process with
    live gRPC can abort the child before exec (its post-fork handler restarts a poller whose epoll fd close_fds
    closes; grpc/grpc#43055)."""
    out = subprocess.PIPE if piped else None
    return subprocess.Popen(
        cmd, executable=executable, env=env, process_group=0, preexec_fn=_die_with_parent, pass_fds=pass_fds,
        stdout=out, stderr=out,
    )


def relay(pipe, fd: int, watch: bytes, seen: threading.Event) -> threading.Thread:
    """A thread that copies `pipe` line by line to `fd` as it comes (what the child would have written there) and
    sets `seen` at the first line holding `watch`; it ends at the pipe's end."""

    def copy() -> None:
        with pipe:
            for line in iter(pipe.readline, b""):
                if watch in line:
                    seen.set()
                try:
                    view = memoryview(line)
                    while view:
                        view = view[os.write(fd, view):]
                except OSError:
                    pass  # our output is gone: keep reading, so the child never blocks on a full pipe

    thread = threading.Thread(target=copy, name=f"relay-{fd}", daemon=True)
    thread.start()
    return thread


def _group_shm_regions(pgid: int) -> list[str]:
    """Shared-memory regions named on the command lines of Triton's backend stubs in this process group."""
    regions = []
    for entry in os.scandir("/proc"):
        try:
            if (
                entry.name.isdigit()
                and int(open(f"{entry.path}/stat").read().rsplit(")", 1)[1].split()[2]) == pgid
            ):
                args = open(f"{entry.path}/cmdline", "rb").read().split(b"\0")
                regions += [a.decode() for a in args if a.startswith(b"triton_python_backend_shm_region_")]
        except (OSError, ValueError, IndexError):
            pass
    return regions


def _exited_or_drained(proc: subprocess.Popen, drained: threading.Event, timeout: float) -> bool:
    """Wait until `proc` exits (False) or `drained` is set while it runs (True); TimeoutExpired at the deadline."""
    deadline = time.monotonic() + timeout
    while proc.poll() is None:
        if drained.wait(0.02):
            return True
        if time.monotonic() > deadline:
            raise subprocess.TimeoutExpired(proc.args, timeout)
    return False


def stop(procs: list[subprocess.Popen], timeout: float = 20, shm: tuple[str, ...] = (),
         drained: dict[int, threading.Event] | None = None) -> None:
    """SIGTERM all at once, wait for each, then SIGKILL its whole process group (Triton's backend stubs too);
    then remove the shared memory that killed stubs leave in /dev/shm (`shm`, and any the group names).
    `drained` maps a pid to an event set once that child has finished its work in flight: it is not waited for
    beyond that (tritonserver unloading its models)."""
    regions = list(shm)
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)  # together: they shut down side by side
    for proc in procs:
        if proc.poll() is None:
            try:
                event = (drained or {}).get(proc.pid)
                if event is not None and _exited_or_drained(proc, event, timeout):
                    say(f"riva-lite: tritonserver (pid {proc.pid}) has no inference in flight: stopped without "
                        "waiting for its models to unload")
                else:
                    proc.wait(timeout)
            except subprocess.TimeoutExpired:
                say(f"riva-lite: pid {proc.pid} ignored SIGTERM for {timeout:.0f}s: killing it")
        regions += _group_shm_regions(proc.pid)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        proc.wait()
    for name in regions:
        try:
            os.unlink(f"/dev/shm/{name}")
        except OSError:
            pass


class Launcher:
    def __init__(self, args: argparse.Namespace):
        self.args = args
        self.procs: list[subprocess.Popen] = []
        self.shm: list[str] = []  # Triton's backend stubs' shared memory, removed if they are killed
        self.stopping = False
        self.serving = False  # set once Riva's API answers (the NIM face's readiness reads it)
        self.model_repository: str | None = None  # passed to tritonserver when set (NIM runs it so)
        self.waiting_line: str | None = WAITING  # printed each second while Triton loads (None: silent)
        self.triton_drained = threading.Event()  # tritonserver said it has no inference in flight (on a stop)
        self.relays: list[threading.Thread] = []  # tritonserver's stdout and stderr, copied to ours

    def on_signal(self, signum, frame) -> None:
        self.stopping = True

    def alive(self) -> bool:
        """False once a child exited (logs it) or a stop was asked for."""
        if self.stopping:
            return False
        for proc in self.procs:
            if proc.poll() is not None:
                if proc is self.procs[0]:
                    for thread in self.relays:  # its last lines before ours, as when it writes to the container's
                        thread.join(2)  # output itself (a backend stub still holding the pipe: 2 s at most)
                say(EXITED)
                name = "tritonserver" if proc is self.procs[0] else "the Riva API server (rivalite.server)"
                say(f"riva-lite: {name} (pid {proc.pid}) exited with status {proc.returncode}")
                return False
        return True

    def wait_triton(self) -> bool:
        url = f"http://127.0.0.1:{self.args.triton_http_port}/v2/health/ready"
        deadline, next_log = time.monotonic() + self.args.triton_ready_timeout, 0.0
        while self.alive():
            now = time.monotonic()
            if now >= next_log and self.waiting_line:
                say(self.waiting_line)
                next_log = now + 1
            try:
                with urllib.request.urlopen(url, timeout=1) as r:
                    if r.status == 200:
                        return True
            except OSError:
                pass
            if now > deadline:
                say(
                    f"riva-lite: Triton was not ready at {url} within {self.args.triton_ready_timeout:.0f}s: "
                    "see tritonserver's log above (a model that failed to load?)"
                )
                return False
            time.sleep(0.05)
        return False

    def api_answers(self) -> bool:
        host, _, port = self.args.riva_uri.rpartition(":")
        host = "127.0.0.1" if host in ("0.0.0.0", "[::]", "::") else host.strip("[]")
        if self.args.ssl_server_cert:  # a TLS handshake answers; no client certificate to verify with
            try:
                ctx = ssl.create_default_context()
                ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
                ctx.set_alpn_protocols(["h2"])
                with socket.create_connection((host, int(port)), timeout=1) as s, ctx.wrap_socket(s):
                    return True
            except OSError:
                return False
        import grpc
        from riva.client.proto import health_pb2, health_pb2_grpc

        with grpc.insecure_channel(f"{host}:{port}") as channel:
            try:
                reply = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=1)
                return reply.status == health_pb2.HealthCheckResponse.SERVING
            except grpc.RpcError:
                return False

    def wait_api(self) -> bool:
        deadline = time.monotonic() + self.args.api_ready_timeout
        while self.alive():
            if self.api_answers():
                return True
            if time.monotonic() > deadline:
                say(
                    f"riva-lite: Riva's API did not answer on {self.args.riva_uri} within "
                    f"{self.args.api_ready_timeout:.0f}s"
                )
                return False
            time.sleep(0.05)
        return False

    def run(self) -> int:
        self.start()
        return self.watch()

    def start(self) -> None:
        """Spawn tritonserver and the API server (before this process loads gRPC: spawn forks)."""
        args = self.args
        for other in ("nlp_service", "tts_service", "nmt_service"):
            if getattr(args, other):
                say(f"riva-lite: --{other}=true ignored: riva-lite serves ASR only")
        home = triton.prepare_home()
        triton.check_libpython()
        env = triton.env(home)
        exe = shutil.which("tritonserver", path=env["PATH"])
        if self.model_repository:
            say(f"riva-lite: model repository {self.model_repository} (--model-repository)")
        else:
            repo = os.environ.get(REPO_ENV) or DEFAULT_REPO
            say(f"riva-lite: model repository {repo} (only a tritonserver shim on PATH passes it to tritonserver)")
        say(f"riva-lite: starting {exe}")
        repository = [f"--model-repository={self.model_repository}"] if self.model_repository else []
        self.procs.append(
            spawn(
                [
                    "tritonserver",
                    *repository,
                    "--log-verbose=0",
                    "--disable-auto-complete-config",
                    "--allow-gpu-metrics=false",
                    f"--http-port={args.triton_http_port}",
                    f"--grpc-port={args.triton_grpc_port}",
                    f"--metrics-port={args.triton_metrics_port}",
                    f"--backend-directory={home / 'backends'}",
                ],
                env=env,
                executable=exe,
                piped=True,
            )
        )
        # The API process starts now and imports while Triton loads; it serves once Triton is ready.
        go_read, go_write = os.pipe()
        api = [
            sys.executable,
            "-m",
            "rivalite.server",
            f"--riva_uri={args.riva_uri}",
            f"--triton_uri=127.0.0.1:{args.triton_grpc_port}",
            f"--asr_service={str(args.asr_service).lower()}",
            f"--start_fd={go_read}",
        ]
        if args.ssl_server_cert:
            api += [f"--ssl_server_cert={args.ssl_server_cert}", f"--ssl_server_key={args.ssl_server_key}"]
        self.procs.append(spawn(api, pass_fds=(go_read,)))
        os.close(go_read)
        self._go = go_write
        triton_proc = self.procs[0]  # its output relayed only now: no thread runs while spawn forks
        self.relays = [relay(triton_proc.stdout, 1, TRITON_DRAINED, self.triton_drained),  # our fds 1 and 2, as
                       relay(triton_proc.stderr, 2, TRITON_DRAINED, self.triton_drained)]  # it would inherit them

    def watch(self) -> int:
        """Wait for Triton, let the API server serve, then watch both until one exits or a stop is asked."""
        go_write = self._go
        try:
            if not self.wait_triton():
                return self.finish(1)
            self.shm = _group_shm_regions(self.procs[0].pid)
            say(TRITON_READY)
            os.write(go_write, b"1")  # the API server serves now and logs READY
        finally:
            os.close(go_write)
        if not self.wait_api():  # riva-lite's own check: says so when the API never answers
            return self.finish(1)
        self.serving = True
        while self.alive():
            time.sleep(0.1)
        return self.finish(0 if self.stopping else 1)

    def finish(self, code: int) -> int:
        if self.stopping:
            say("riva-lite: stopping Riva and Triton")
            code = 0
        # a stop asked for: Triton is not waited for once it says no inference is in flight
        drained = {self.procs[0].pid: self.triton_drained} if self.stopping and self.procs else None
        stop(list(reversed(self.procs)), shm=tuple(self.shm), drained=drained)
        for thread in self.relays:
            thread.join(5)  # tritonserver's last lines written before ours
        return code


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    launcher = Launcher(args)
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, launcher.on_signal)
    try:
        return launcher.run()
    except RivaLiteError as e:
        say(f"start-riva: error: {e}")
        return launcher.finish(2)
    finally:
        stop(launcher.procs)


if __name__ == "__main__":
    sys.exit(main())
