"""Failure signatures found in logs, turned into next steps; redaction of secrets."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Signature:
    name: str
    pattern: re.Pattern[str]
    next_step: str
    in_logs: bool = True  # False: a server logs it for every bad request; only a failure's own text counts


def _sig(name: str, pattern: str, next_step: str, in_logs: bool = True) -> Signature:
    return Signature(name, re.compile(pattern, re.IGNORECASE), next_step, in_logs)


SIGNATURES = (
    _sig("no-model-repository", r"--model-repository must be specified",
         "tritonserver started without --model-repository: the shim is not first on PATH. Put the DIR/bin of "
         "`rivaverify shim install DIR --model-repository REPO` first on PATH (docker: mount it read-only "
         "and overlay PATH), or run with the shim enabled (RIVA__SHIM=true)"),
    _sig("model-load-failed", r"failed to load all models|failed to load '",
         "a model failed to load: run phase 030 (`pytest suites/ -m modelrepo`) and read the model's load "
         "error in the Triton log (the line with \"failed to load\")"),
    _sig("unavailable-model", r"Unavailable model requested",
         "Riva has no model for the language or type asked: compare RIVA__LANGUAGE_CODE and "
         "RIVA__MODEL_NAME with the models `transcribe_file.py --list-models` shows", in_logs=False),
    _sig("port-in-use", r"address already in use|failed to (start|bind).*port|port \d+ is (in use|taken)",
         "a port is taken: `ss -ltnp` shows by whom; stop it or set RIVA__HOST / RIVA__TRITON_*_PORT"),
    _sig("out-of-memory", r"out of memory|CUDA_ERROR_OUT_OF_MEMORY|std::bad_alloc|MemoryError",
         "out of memory: free GPU memory (`nvidia-smi`), lower streams or batch size, or use a larger GPU"),
    _sig("no-gpu", r"no CUDA-capable device|could not select device driver|NVIDIA driver.*not",
         "no usable GPU: check `nvidia-smi` on the host and the NVIDIA Container Toolkit for containers"),
    _sig("python-backend-import", r"ModuleNotFoundError|No module named",
         "a Python-backend model misses a module: install it where the backend stub's python3 finds it"),
    _sig("process-exited", r"One of the processes has exited unexpectedly",
         "the launcher stopped because tritonserver or the Riva server died: read the log lines above it"),
    _sig("deadline-exceeded", r"DEADLINE_EXCEEDED",
         "Riva did not answer within the deadline: a server or Triton that hangs (a stopped process: `ps -o "
         "pid,stat,cmd -C tritonserver`; a stuck GPU: `nvidia-smi`), or a bound too tight for this machine "
         "(RIVA__MAX_RESPONSE_S)", in_logs=False),
    _sig("s3-server-error", r"\b5\d\d [A-Z][a-z]+|\b(InternalError|ServiceUnavailable|SlowDown)\b",
         "the S3 server failed (HTTP 5xx, after retries): check the endpoint's health and logs "
         "(RIVA__S3_ENDPOINT_URL, or AWS's status page), then rerun: staging resumes and verifies what it had",
         in_logs=False),
    _sig("disk-full", r"No space left on device|Errno 28",
         "the disk is full: free space where RIVA__WORK_DIR (and the staging's work dir) points, `df -h`, or point "
         "RIVA__WORK_DIR at a larger disk; a rerun resumes what was verified"),
)


@dataclass(frozen=True)
class Diagnosis:
    signature: str
    line: str
    next_step: str


def diagnose(text: str, log: bool = False) -> list[Diagnosis]:
    """Every signature found in `text` (a log's when `log`), once each, with the first line that matched."""
    found = []
    for sig in SIGNATURES:
        if log and not sig.in_logs:
            continue
        for line in text.splitlines():
            if sig.pattern.search(line):
                found.append(Diagnosis(sig.name, line.strip()[:300], sig.next_step))
                break
    return found


SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL", re.IGNORECASE)
MASK = "***"
_ASSIGNMENT = re.compile(
    r"(?P<name>[\w.-]*(?:KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL)[\w.-]*)(?P<sep>[\"']?\s*[=:]\s*[\"']?)"
    r"(?P<value>[^\s\"',;&]+)",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(Bearer\s+)[^\s\"']+", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    return bool(SECRET_NAME.search(name))


def redact_mapping(mapping: Mapping[str, object]) -> dict[str, object]:
    """A copy with the values of secret-looking names masked (nested mappings too)."""
    out: dict[str, object] = {}
    for k, v in mapping.items():
        if isinstance(v, Mapping):
            out[k] = redact_mapping(v)
        else:
            out[k] = MASK if is_secret_name(str(k)) and v not in (None, "") else v
    return out


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask known secret values anywhere, and the values of NAME=value pairs with secret-looking names."""
    for s in sorted({s for s in secrets if s}, key=len, reverse=True):
        text = text.replace(s, MASK)
    text = _ASSIGNMENT.sub(lambda m: m.group("name") + m.group("sep") + MASK, text)
    return _BEARER.sub(lambda m: m.group(1) + MASK, text)
