"""The PATH-overlay shim for tritonserver, and reading tritonserver's effective argv.

NVIDIA's `start-riva` launcher runs `tritonserver` from PATH without `--model-repository`. The shim is a
bash script named `tritonserver`, placed in a folder ahead of the real binary on PATH: it adds
`--model-repository=<repo>` when the caller gave neither that option nor its alias `--model-store`, keeps
every other argument as is, and `exec`s the real binary (same PID, signals and exit status pass through).
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

from rivaverify.procfs import parse_cmdline, read_on

SHIM_NAME = "tritonserver"
REPO_OPTIONS = ("--model-repository", "--model-store")
LOG_PREFIX = "[SHIM]"

_URL = re.compile(r"^[a-z][a-z0-9+.-]*://", re.IGNORECASE)

_TEMPLATE = """#!/usr/bin/env bash
# tritonserver shim rendered by rivaverify.shim: adds --model-repository when the caller gave none.
REPO={repo}
REAL={real}
self="${{BASH_SOURCE[0]}}"
if [ -z "$REAL" ]; then
  # The next tritonserver on PATH after this shim's own folder; never this file itself.
  IFS=: read -r -a dirs <<< "$PATH"
  seen_self=0 first=""
  for d in "${{dirs[@]}}"; do
    c="${{d:-.}}/tritonserver"
    if [ "$c" -ef "$self" ]; then seen_self=1; continue; fi
    [ -f "$c" ] && [ -x "$c" ] || continue
    [ -z "$first" ] && first="$c"
    if [ "$seen_self" = 1 ]; then REAL="$c"; break; fi
  done
  # Called by its full path from outside PATH: the first tritonserver on PATH.
  [ "$seen_self" = 0 ] && REAL="$first"
fi
if [ -z "$REAL" ]; then
  echo "{log} error: no real tritonserver on PATH after $(dirname -- "$self") (PATH=$PATH)." \\
    "Put the real binary's folder after the shim's on PATH, or reinstall the shim with --real PATH." >&2
  exit 127
fi
for a in "$@"; do
  case "$a" in
    --model-repository|--model-repository=*|--model-store|--model-store=*)
      echo "{log} --model-repository/--model-store given by the caller; not injecting" >&2
      echo "{log} exec $REAL" >&2
      exec "$REAL" "$@" ;;
  esac
done
echo "{log} Injected --model-repository=$REPO" >&2
echo "{log} exec $REAL" >&2
exec "$REAL" "--model-repository=$REPO" "$@"
"""


class ShimError(ValueError):
    """Bad input to the shim: the message names the thing and the next step."""


def _check_repository(model_repository: str) -> str:
    repo = os.fspath(model_repository)
    if not repo or "\0" in repo or "\n" in repo:
        raise ShimError(
            f"model repository {repo!r} is empty or holds NUL/newline: pass a folder path, e.g. "
            "--model-repository /data/models"
        )
    if not (repo.startswith("/") or _URL.match(repo)):
        raise ShimError(
            f"model repository {repo!r} is relative: tritonserver would resolve it from its own "
            "working directory; pass an absolute path (or an s3:// / gs:// URL)"
        )
    return repo


def render(model_repository: str, real: str | None = None) -> str:
    """The shim as bash script text; `real` pins the real binary instead of searching PATH."""
    repo = _check_repository(model_repository)
    if real is not None:
        real = os.fspath(real)
        if not real.startswith("/") or "\0" in real or "\n" in real:
            raise ShimError(
                f"real tritonserver {real!r} must be an absolute path to the binary, e.g. "
                "--real /opt/tritonserver/bin/tritonserver"
            )
    return _TEMPLATE.format(repo=shlex.quote(repo), real=shlex.quote(real or ""), log=LOG_PREFIX)


def install(dir: str | os.PathLike, model_repository: str, real: str | None = None) -> Path:
    """Write DIR/bin/tritonserver (mode 0755) and return its path; put DIR/bin first on PATH."""
    text = render(model_repository, real)
    target = Path(dir) / "bin" / SHIM_NAME
    if real is not None and Path(real).resolve() == target.resolve():
        raise ShimError(f"--real {real} is the shim's own path {target}: point it at the real binary")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{SHIM_NAME}.{os.getpid()}.tmp")
        tmp.write_text(text)
        tmp.chmod(0o755)
        tmp.replace(target)
    except OSError as e:
        raise ShimError(f"cannot write the shim to {target}: {e.strerror}; pick a writable DIR") from e
    return target


def model_repository_values(argv: list[str]) -> list[str]:
    """Every --model-repository/--model-store value in argv, in order, both `--x=v` and `--x v` forms."""
    values, i = [], 0
    while i < len(argv):
        arg = argv[i]
        if arg in REPO_OPTIONS and i + 1 < len(argv):
            values.append(argv[i + 1])
            i += 1  # the value is consumed, as getopt does
        else:
            for opt in REPO_OPTIONS:
                if arg.startswith(opt + "="):
                    values.append(arg[len(opt) + 1 :])
        i += 1
    return values


# Reading a deployment's processes through a testinfra host (local://, ssh://, docker://): the launcher's PATH,
# the tritonserver it finds there, the tritonserver processes and their effective argv.

def tritonserver_argv(host: Any, pid: int) -> list[str]:
    """tritonserver's effective argv, read from /proc/<pid>/cmdline on `host` ([] when it is gone)."""
    return parse_cmdline(read_on(host, pid, "cmdline"))


def launcher_path(host: Any, launcher_pid: int | None, launch_env: dict[str, str]) -> tuple[str, str]:
    """The launcher's PATH and where it was read: /proc/<pid>/environ while it runs, else what it was started
    with."""
    if launcher_pid is not None:
        for entry in read_on(host, launcher_pid, "environ").split(b"\0"):
            if entry.startswith(b"PATH="):
                return entry[5:].decode(), f"/proc/{launcher_pid}/environ"
    return launch_env.get("PATH", ""), "the launch environment (launcher not running)"


def first_on_path(host: Any, path: str) -> str | None:
    """The tritonserver the launcher runs: the first on `path` that exists on `host`."""
    return next((f"{d}/{SHIM_NAME}" for d in path.split(":") if d and host.file(f"{d}/{SHIM_NAME}").exists), None)


def is_shim(host: Any, file: str) -> bool:
    """Whether `file` on `host` is a shim that this module rendered (it logs with LOG_PREFIX)."""
    f = host.file(file)
    return f.size < 65536 and LOG_PREFIX in f.content_string


def tritonservers_serving(host: Any, http_port: int) -> list[int]:
    """tritonserver processes on `host` serving `http_port` (one host may run several; 8000 when not given)."""
    found = []
    for proc in host.process.filter(comm="tritonserver"):
        argv = tritonserver_argv(host, proc.pid)
        if not argv:  # it exited (or is a zombie) between the listing and the read: it serves nothing
            continue
        ports = [a.split("=", 1)[1] for a in argv if a.startswith("--http-port=")]
        if ports == [str(http_port)] or (not ports and http_port == 8000):
            found.append(proc.pid)
    return found
