"""A Riva ASR NIM from the outside: its HTTP API (health, models, transcriptions), its run line's environment,
its cache and the lines its log names a profile with. Facts and sources: docs/riva-behaviour.md (NIM)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from rivaverify.gpu_requirements import NIM_OPEN_FILES
from rivaverify.readiness import Check
from rivaverify.shim import model_repository_values

HTTP_PORT, GRPC_PORT = 9000, 50051  # NIM_HTTP_API_PORT, NIM_GRPC_API_PORT defaults
CACHE_IN_CONTAINER = "/opt/nim/.cache"  # NIM_CACHE_PATH's default
CACHE_UID = 1000  # NIM's containers run as this user: a host cache folder must be writable by it
OPEN_FILES = NIM_OPEN_FILES  # NIM's run line: --ulimit nofile=2048:2048
SHM_SIZE = "8GB"  # NIM's run line: --shm-size=8GB
# How a NIM's log names the profile it selected; wording not confirmed for ASR NIM, so it is recorded, never required.
PROFILE_LINE = re.compile(r"(?:Selected profile|Matched profile_id[^:]*|Using profile)[:=]?\s*(?P<what>.+)$",
                          re.IGNORECASE)
READY_LINES = {"grpc_ready": "Riva gRPC Server is READY", "http_starting": "Starting HTTP Inference server"}


class NimError(RuntimeError):
    """A NIM call that did not answer as NIM documents; the message names the URL and what came back."""


def base_url(address: str) -> str:
    return address if address.startswith(("http://", "https://")) else f"http://{address}"


def health(base: str, which: str) -> Check:
    """GET /v1/health/live or /v1/health/ready: 200 (ready also says {"status": "ready"})."""

    def check() -> tuple[bool, str]:
        r = requests.get(f"{base}/v1/health/{which}", timeout=5)
        body = r.text.strip()[:120]
        if which == "ready" and r.status_code == 200:
            try:
                status = r.json().get("status")
            except ValueError:
                status = None
            return status in (None, "ready"), f"HTTP 200 {body}"
        return r.status_code == 200, f"HTTP {r.status_code} {body}"

    return check


def models(base: str, timeout: float = 10) -> list[str]:
    """The model ids GET /v1/models lists (OpenAI's shape: {"data": [{"id": ...}]})."""
    r = requests.get(f"{base}/v1/models", timeout=timeout)
    if r.status_code != 200:
        raise NimError(f"GET {base}/v1/models answered HTTP {r.status_code}: {r.text[:200]}")
    return [m.get("id", "") for m in r.json().get("data", [])]


@dataclass
class Transcription:
    text: str
    seconds: float
    raw: dict[str, Any]


def transcribe(base: str, audio: bytes, filename: str, language: str, timeout: float,
               model: str | None = None) -> Transcription:
    """POST /v1/audio/transcriptions, multipart as NIM takes it (file, language[, model])."""
    data = {"language": language, **({"model": model} if model else {})}
    r = requests.post(f"{base}/v1/audio/transcriptions", files={"file": (filename, audio)}, data=data,
                      timeout=timeout)
    if r.status_code != 200:
        raise NimError(f"POST {base}/v1/audio/transcriptions of {filename} answered HTTP {r.status_code}: "
                       f"{r.text[:300]}")
    body = r.json()
    return Transcription(body.get("text", ""), r.elapsed.total_seconds(), body)


USAGE_SLACK_S = 0.25  # seconds (plus 2 %) a usage figure may differ from the audio's duration: not confirmed how a
# NIM rounds what it counts (Riva counts whole frames and server chunks elsewhere)


def usage_problem(body: dict, audio_s: float, promised: bool, where: str) -> str | None:
    """Why the `usage` of a NIM's answer (Speech NIM 26.10: {type: duration, seconds}) is wrong for `audio_s`
    seconds of audio, or None: missing only where the release promises it, else the right shape and duration."""
    usage = body.get("usage")
    if usage is None:
        return (f"{where} carries no usage, which this release promises (usage.type=duration, usage.seconds: "
                "Speech NIM 26.10.0 release notes): check RIVA__NIM_RELEASE") if promised else None
    seconds = usage.get("seconds") if isinstance(usage, dict) else None
    if not isinstance(usage, dict) or usage.get("type") != "duration" or not isinstance(seconds, int | float):
        return f"{where} has usage {usage!r}; expected {{'type': 'duration', 'seconds': <number>}}"
    if abs(seconds - audio_s) > USAGE_SLACK_S + 0.02 * audio_s:
        return f"{where} counts usage.seconds {seconds:g} for {audio_s:.2f} s of audio"
    return None


def profile_named(log: str) -> str | None:
    """The profile a NIM's log says it selected (the last such line), or None."""
    found = [m.group("what").strip() for line in log.splitlines() if (m := PROFILE_LINE.search(line))]
    return found[-1] if found else None


def cache_problem(folder: Path, uid: int = CACHE_UID) -> str | None:
    """Why a host cache folder will not do for a NIM running as `uid`, or None. A missing folder is made by the
    fixture (and owned by whoever runs it); an existing one must be writable by the NIM's user."""
    if not folder.exists():
        return None
    if not folder.is_dir():
        return f"{folder} is not a folder"
    st = folder.stat()
    writable = (st.st_uid == uid and st.st_mode & 0o200) or st.st_mode & 0o002 or (
        st.st_gid == uid and st.st_mode & 0o020)
    if not writable:
        return (f"{folder} is owned by UID {st.st_uid} (mode {oct(st.st_mode & 0o777)}): the NIM runs as UID {uid} "
                f"and cannot write its cache there; `sudo chown -R {uid} {folder}` (or `chmod a+rwx`)")
    return None


def repositories_in_cache(folder: Path, depth: int = 5) -> list[Path]:
    """The Triton model repositories a NIM deployed into its cache (one per profile it ran): folders, `depth`
    levels down at most, holding model folders with a config.pbtxt. Where a NIM puts them is not documented, so they
    are searched for."""
    found, level = [], [folder] if folder.is_dir() else []
    for _ in range(depth):
        below = []
        for d in level:
            children = sorted(c for c in d.iterdir() if c.is_dir() and not c.is_symlink())
            if any((c / "config.pbtxt").is_file() for c in children):
                found.append(d)
            else:
                below += children
        level = below
    return sorted(found)


def served_repository(argvs: list[list[str]], cache: Path) -> Path | None:
    """The cache's repository the NIM's tritonserver serves, from its argv (--model-repository): a path inside the
    container (/opt/nim/.cache/...) is that path under the host's cache folder. None when no argv names one."""
    for argv in argvs:
        for value in model_repository_values(argv):
            inside = Path(value)
            if inside.is_relative_to(CACHE_IN_CONTAINER):
                return cache / inside.relative_to(CACHE_IN_CONTAINER)
            return inside
    return None


def cache_filled(folder: Path) -> bool:
    """Whether an earlier start left anything in the cache (this start is then warm)."""
    return folder.is_dir() and any(folder.iterdir())
