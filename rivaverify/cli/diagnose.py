"""`rivaverify diagnose`: what a log says about a deployment; `rivaverify signatures`: the catalogue as markdown."""

from __future__ import annotations

import argparse
import json
import sys
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rivaverify.diagnostics.render import UNREADABLE, exit_code, signatures_markdown, to_json, to_text
from rivaverify.diagnostics.scan import Report, scan


class Unreadable(Exception):
    """The input could not be read: the message names it and why."""


class _Chunks:
    """A file-like read() over an iterator of byte chunks (a container's log stream)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self.chunks, self.buf = chunks, b""

    def read(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = next(self.chunks, None)
            if chunk is None:
                break
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out


def _container(name: str, gpu: bool | None) -> list[Report]:
    from rivaverify.runtime.docker_engine import DockerError, client

    try:
        c = client()
    except DockerError as exc:
        raise Unreadable(str(exc)) from None
    import docker.errors

    try:
        logs = c.containers.get(name).logs(stream=True)
    except docker.errors.NotFound:
        raise Unreadable(f"no container named {name} on this Docker engine (`docker ps -a` lists them)") from None
    return [scan(_Chunks(logs), f"container {name}", gpu)]  # type: ignore[arg-type]


def _bundle(path: Path, gpu: bool | None) -> list[Report]:
    reports = []
    with tarfile.open(path) as tar:
        for member in tar.getmembers():
            if member.isfile() and (member.name.endswith(".log") or "/logs/" in member.name):
                f = tar.extractfile(member)
                if f is not None:
                    reports.append(scan(f, f"{path.name}:{member.name}", gpu))
    if not reports:
        raise Unreadable(f"{path} is a tar archive with no log in it (a support bundle has logs/*.log)")
    return reports


def reports_for(source: str, container: str | None, gpu: bool | None) -> list[Report]:
    if container:
        return _container(container, gpu)
    if source == "-":
        return [scan(sys.stdin.buffer, "stdin", gpu)]
    path = Path(source)
    if path.is_dir():
        raise Unreadable(f"{source} is a folder: give a log file, a support bundle, - for stdin, or --container")
    try:
        if tarfile.is_tarfile(path):
            return _bundle(path, gpu)
        with open(path, "rb") as f:
            return [scan(f, source, gpu)]
    except (OSError, tarfile.TarError) as exc:
        raise Unreadable(f"cannot read {source}: {exc.strerror if isinstance(exc, OSError) else exc}") from None


def _run(args: argparse.Namespace) -> int:
    if not args.container and not args.log:
        print("rivaverify diagnose: give a log file, - for stdin, a support bundle, or --container NAME",
              file=sys.stderr)
        return UNREADABLE
    try:
        reports = reports_for(args.log, args.container, args.gpu)
    except Unreadable as exc:
        print(f"rivaverify diagnose: {exc}", file=sys.stderr)
        if args.json:  # machines get the verdict too
            print(json.dumps({"source": args.container or args.log, "exit_code": UNREADABLE,
                              "verdict": f"cannot diagnose: {exc}"}, indent=2))
        return UNREADABLE
    code = max(exit_code(r) for r in reports)
    if args.json:
        body: Any = [to_json(r) for r in reports] if len(reports) > 1 else to_json(reports[0])
        print(json.dumps(body, indent=2))
    else:
        print("\n\n".join(to_text(r) for r in reports))
    return code


def _signatures(args: argparse.Namespace) -> int:
    sys.stdout.write(signatures_markdown())
    return 0


def add_parser(verbs: Any) -> None:
    p = verbs.add_parser(
        "diagnose", help="what a Riva, NIM or Triton log says: how far the start got, each failure's cause",
        description="Read a log (the host's riva_start.sh output, a riva-speech or NIM container's log, NVIDIA's "
        "clients' output, a Triton model table), a support bundle (every log in it) or a container's log, and say "
        "how far the start got and each known failure: its line, cause, next step and source. Exit 0 healthy "
        "(warnings may be listed), 1 a failure found, 2 the input could not be read.")
    p.add_argument("log", nargs="?", metavar="LOG", help="a log file, - for stdin, or a support bundle (.tar.gz)")
    p.add_argument("--container", metavar="NAME", help="read this container's log through Docker (DOCKER_HOST)")
    p.add_argument("--json", action="store_true", help="print JSON for machines")
    gpu = p.add_mutually_exclusive_group()
    gpu.add_argument("--gpu", dest="gpu", action="store_true", default=None,
                     help="a GPU is expected (the default, unless the log is riva-lite's)")
    gpu.add_argument("--no-gpu", dest="gpu", action="store_false",
                     help="no GPU is expected: CUDA lines a CPU tritonserver prints do not count")
    p.set_defaults(func=_run)
    s = verbs.add_parser("signatures", help="print the failure signature catalogue as markdown (docs/signatures.md)")
    s.set_defaults(func=_signatures)
