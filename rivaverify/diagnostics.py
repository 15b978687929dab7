"""Failure signatures found in logs, turned into next steps; the log gate after a phase; redaction of secrets."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

# How a signature counts when a server log has it (a failure's own text always counts):
FAIL = "fail"  # the deployment is broken: it fails even a phase whose tests passed
WARN = "warn"  # worth the report, not a failure
SKIP = "skip"  # a server logs it for every bad request (phase 060 sends some on purpose)


@dataclass(frozen=True)
class Signature:
    name: str
    pattern: re.Pattern[str]
    next_step: str  # may name the pattern's groups: {model}
    in_logs: str = FAIL
    gpu_only: bool = False  # in a log, it means something only where a GPU is expected (a CPU Triton prints it)

    def step(self, match: re.Match[str]) -> str:
        groups = {k: v for k, v in match.groupdict().items() if v is not None}
        return self.next_step.format_map(groups) if groups else self.next_step


def _sig(name: str, pattern: str, next_step: str, in_logs: str = FAIL, gpu_only: bool = False) -> Signature:
    return Signature(name, re.compile(pattern, re.IGNORECASE), next_step, in_logs, gpu_only)


# Riva's and Triton's own wording; the operators' signatures and their sources are in docs/riva-behaviour.md.
SIGNATURES = (
    _sig("no-model-repository", r"--model-repository must be specified",
         "tritonserver started without --model-repository: the shim is not first on PATH. Put the DIR/bin of "
         "`rivaverify shim install DIR --model-repository REPO` first on PATH (docker: mount it read-only "
         "and overlay PATH), or run with the shim enabled (RIVA__SHIM=true)"),
    _sig("engine-other-gpu", r"engine plan file is generated on an incompatible device|Invalid TensorRT engine",
         "the TensorRT engines were built on another GPU (in `expecting compute X got compute Y`, X is this GPU, Y "
         "the one they were built on; often a repository cached from an H100 run on a T4): riva-deploy the .rmir "
         "again on this GPU (`riva-deploy -f MODEL.rmir /data/models`), or stage a repository built for it"),
    _sig("engine-other-tensorrt", r"engine plan file is not compatible with this version of TensorRT",
         "the engines were built with another TensorRT (the image was upgraded, the engines kept): riva-deploy the "
         ".rmir again with this image"),
    _sig("triton-died-before-ready", r"Triton server died before reaching ready state",
         "tritonserver exited while it loaded the models: read the lines above it; on a cached repository the "
         "usual cause is engines built on another GPU or TensorRT (riva-deploy again on this GPU with this image)"),
    _sig("engine-other-device", r"Using an engine plan file across different models of devices is not recommended",
         "the engines were built on another model of GPU: they run, but latency and capacity figures are not "
         "comparable; riva-deploy on this GPU model for figures that are", in_logs=WARN),
    _sig("ensemble-dependency",
         r"ensemble '(?P<ensemble>[^']+)' depends on '(?P<model>[^']+)' which has no loaded version",
         "the model {model} did not load, and the ensemble {ensemble} fails because of it: read {model}'s own load "
         "error in the Triton log (`failed to load '{model}'`) and fix {model}, not the ensemble"),
    _sig("model-load-failed", r"failed to load all models|failed to load '",
         "a model failed to load: run phase 030 (`pytest suites/ -m modelrepo`) and read the model's load "
         "error in the Triton log (the line with \"failed to load\")"),
    _sig("unavailable-model", r"Unavailable model requested",
         "Riva has no model for the language or type asked: compare RIVA__LANGUAGE_CODE and "
         "RIVA__MODEL_NAME with the models `transcribe_file.py --list-models` shows", in_logs=SKIP),
    _sig("port-in-use", r"address already in use|failed to (start|bind).*port|port \d+ is (in use|taken)",
         "a port is taken: `ss -ltnp` shows by whom; stop it or set RIVA__HOST / RIVA__TRITON_*_PORT"),
    _sig("out-of-memory", r"out of memory|CUDA_ERROR_OUT_OF_MEMORY|std::bad_alloc|MemoryError",
         "out of memory: free GPU memory (`nvidia-smi`), lower streams or batch size, or use a larger GPU"),
    _sig("cuda-driver-too-old", r"CUDA driver version is insufficient for CUDA runtime version",
         "the NVIDIA driver is older than the image's CUDA needs: `nvidia-smi` shows the driver; upgrade it to the "
         "image's minimum (its release notes) or use an image built for this driver", gpu_only=True),
    _sig("kind-gpu-no-gpu", r"has kind KIND_GPU but (no GPUs are available|server does not support GPUs)",
         "a model asks for a GPU (instance_group KIND_GPU) and tritonserver sees none: give the container GPUs "
         "(`docker run --gpus`, RIVA__DOCKER_GPUS; the NVIDIA Container Toolkit), and check `nvidia-smi` inside it"),
    _sig("no-gpu", r"no CUDA-capable device|CUDA_ERROR_NO_DEVICE|could not select device driver|NVIDIA driver.*not",
         "no usable GPU: check `nvidia-smi` on the host and the NVIDIA Container Toolkit for containers",
         gpu_only=True),
    _sig("python-backend-import", r"ModuleNotFoundError|No module named",
         "a Python-backend model misses a module: install it where the backend stub's python3 finds it"),
    _sig("too-many-open-files", r"Too many open files",
         "a process ran out of file descriptors: raise the limit (a NIM: `docker run --ulimit nofile=2048:2048`, "
         "as NVIDIA runs it; local processes: `ulimit -n`)"),
    _sig("frames-mismatch", r"Frames expected \d+ got \d+",
         "the pipeline was built with a --ms_per_timestep that does not match the acoustic model (40 for Conformer, "
         "80 for Parakeet/FastConformer): riva-build again with the model's value, then riva-deploy"),
    _sig("nim-profile-not-found", r"NIMProfileIDNotFound|Could not match a profile in manifest",
         "NIM_TAGS_SELECTOR matches no profile of this NIM for this GPU: list them (`docker run --rm -e "
         "NGC_API_KEY IMAGE list-model-profiles`) and pick one: for the suite RIVA__NIM_TAGS_SELECTOR="
         "name=...,mode=ofl|str (passed to the NIM as NIM_TAGS_SELECTOR), by hand `docker run -e "
         "NIM_TAGS_SELECTOR=name=...,mode=ofl|str`"),
    _sig("ngc-auth", r"Authentication Error",
         "NGC refused the model download: NGC_API_KEY must be in the container's environment, a valid key with "
         "access to the model: for the suite set RIVA__NGC_API_KEY (or NGC_API_KEY), which it passes in; by hand "
         "`docker run -e NGC_API_KEY` (`docker login nvcr.io` covers the image, not the model)"),
    _sig("process-exited", r"One of the processes has exited unexpectedly",
         "the launcher stopped because tritonserver or the Riva server died: read the log lines above it"),
    _sig("sequence-idle", r"must specify the START flag on the first request of the sequence",
         "a stream sent nothing for longer than the acoustic model's max_sequence_idle_microseconds (60 s by "
         "default) and Triton dropped its sequence: keep sending audio at real-time pace, close idle streams, or "
         "raise max_sequence_idle_microseconds in the model's config.pbtxt", in_logs=WARN),
    _sig("inference-failed", r"Triton model failed during inference",
         "a Triton model failed on a request: read the server log around the line, and check whether tritonserver "
         "restarted (the container's restart count, `docker inspect`; a crash after the first request)",
         in_logs=WARN),
    _sig("audio-encoding-mismatch",
         r"config format doesn't match with header format|could not detect encoding from audio content",
         "the request's encoding or sample rate disagrees with the audio: send the WAV header's encoding and rate "
         "(or leave the rate 0 for the header to decide), or LINEAR_PCM at the audio's real rate for raw audio",
         in_logs=SKIP),
    _sig("critical-log-line",
         r"failed to load model|BACKEND_FAILED|CUDA_ERROR(?!_NO_DEVICE)|CUBLAS_STATUS_(?!SUCCESS)"
         r"|UNAVAILABLE: all backends failed",
         "the server logged a critical error (a model that failed to load, a backend or CUDA/cuBLAS failure): "
         "read the lines around it in the log; a phase that passed with it is not a healthy deployment"),
    _sig("deadline-exceeded", r"DEADLINE_EXCEEDED",
         "Riva did not answer within the deadline: a server or Triton that hangs (a stopped process: `ps -o "
         "pid,stat,cmd -C tritonserver`; a stuck GPU: `nvidia-smi`), or a bound too tight for this machine "
         "(RIVA__MAX_RESPONSE_S)", in_logs=SKIP),
    _sig("s3-server-error", r"\b5\d\d [A-Z][a-z]+|\b(InternalError|ServiceUnavailable|SlowDown)\b",
         "the S3 server failed (HTTP 5xx, after retries): check the endpoint's health and logs "
         "(RIVA__S3_ENDPOINT_URL, or AWS's status page), then rerun: staging resumes and verifies what it had",
         in_logs=SKIP),
    _sig("disk-full", r"No space left on device|Errno 28",
         "the disk is full: free space where RIVA__WORK_DIR (and the staging's work dir) points, `df -h`, or point "
         "RIVA__WORK_DIR at a larger disk; a rerun resumes what was verified"),
)


@dataclass(frozen=True)
class Diagnosis:
    signature: str
    line: str
    next_step: str
    level: str = FAIL  # FAIL or WARN (as the signature counts in a log)


def diagnose(text: str, log: bool = False, gpu: bool = False, warnings: bool = False) -> list[Diagnosis]:
    """Every signature found in `text`, once each, with the first line that matched. For a log (`log`): no
    request errors, warnings only when asked, and the GPU-only ones only where a GPU is expected (`gpu`)."""
    found = []
    for sig in SIGNATURES:
        if log and (sig.in_logs == SKIP or (sig.in_logs == WARN and not warnings) or (sig.gpu_only and not gpu)):
            continue
        for line in text.splitlines():
            m = sig.pattern.search(line)
            if m:
                level = sig.in_logs if log else FAIL
                found.append(Diagnosis(sig.name, line.strip()[:300], sig.step(m), level))
                break
    return found


@dataclass(frozen=True)
class LogVerdict:
    """What a phase's log lines say: failures fail even a passing phase; warnings go into its report."""
    failures: list[Diagnosis]
    warnings: list[Diagnosis]

    def message(self, where: str) -> str:
        lines = [f"the deployment's log {where} shows {len(self.failures)} critical signature(s) "
                 "(expected: none in a healthy deployment's log):"]
        for d in self.failures:
            lines += [f"- {d.signature}: {d.line}", f"  next step: {d.next_step}"]
        return "\n".join(lines)


def log_verdict(text: str, gpu_expected: bool) -> LogVerdict:
    found = diagnose(text, log=True, gpu=gpu_expected, warnings=True)
    return LogVerdict([d for d in found if d.level == FAIL], [d for d in found if d.level == WARN])


class LogCursor:
    """What each *.log of a folder gained since the last read, whole lines only. A log already there when the
    cursor was made (an earlier run's) counts once it is rewritten: the runtimes start one log per deployment."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.offsets: dict[Path, int] = {}
        self.stale = {p: p.stat().st_mtime_ns for p in self._logs()}

    def _logs(self) -> list[Path]:
        return sorted(self.folder.glob("*.log")) if self.folder.is_dir() else []

    def read_new(self) -> dict[str, str]:
        out = {}
        for path in self._logs():
            st = path.stat()
            if path in self.stale:
                if st.st_mtime_ns == self.stale[path]:
                    continue
                del self.stale[path]
            start = self.offsets.get(path, 0)
            if st.st_size < start:  # truncated: a new deployment's log
                start = 0
            with open(path, "rb") as f:
                f.seek(start)
                data = f.read()
            end = data.rfind(b"\n") + 1
            self.offsets[path] = start + end
            if end:
                out[str(path)] = data[:end].decode(errors="replace")
        return out


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
