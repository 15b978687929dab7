"""Support bundle: logs, state, plan, redacted environment and settings, system facts, each log's diagnosis
(diagnosis.txt), in one .tar.gz."""

from __future__ import annotations

import io
import json
import os
import platform
import shutil
import subprocess
import tarfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from rivaverify.diagnostics import redact_mapping, redact_text
from rivaverify.diagnostics.render import to_text
from rivaverify.diagnostics.scan import scan

SYSTEM_COMMANDS = (
    ("uname -a", ["uname", "-a"]),
    ("os-release", ["cat", "/etc/os-release"]),
    ("free -m", ["free", "-m"]),
    ("df -h", ["df", "-h"]),
    ("nvidia-smi", ["nvidia-smi"]),
    ("docker version", ["docker", "version"]),
    ("ss -ltnp", ["ss", "-ltnp"]),
)
MAX_FILE_BYTES = 20 * 1024 * 1024


def system_facts(timeout: float = 10) -> str:
    out = [f"python {platform.python_version()} on {platform.platform()}"]
    for title, argv in SYSTEM_COMMANDS:
        if not shutil.which(argv[0]):
            out.append(f"== {title}\n(not installed)")
            continue
        try:
            r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
            out.append(f"== {title} (exit {r.returncode})\n{r.stdout}{r.stderr}")
        except (OSError, subprocess.TimeoutExpired) as exc:
            out.append(f"== {title}\n({exc})")
    return "\n".join(out) + "\n"


def _files(arcdir: str, path: Path) -> Iterable[tuple[str, Path]]:
    """(arcname, file) for a file (placed in arcdir) or every file under a directory."""
    if path.is_dir():
        for f in sorted(path.rglob("*")):
            if f.is_file() and not f.is_symlink():
                yield f"{arcdir}/{f.relative_to(path)}", f
    elif path.is_file():
        yield f"{arcdir}/{path.name}", path


def make_bundle(
    out: Path,
    include: Iterable[tuple[str, Path]],
    settings: Mapping[str, object],
    secrets: Iterable[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Path:
    """Write `out` (.tar.gz) with each (arcdir, file or dir) of `include`, every text redacted."""
    secrets = [s for s in secrets if s]
    environ = os.environ if environ is None else environ
    texts = {
        "environment.txt": "".join(f"{k}={v}\n" for k, v in sorted(redact_mapping(dict(environ)).items())),
        "settings.json": json.dumps(redact_mapping(dict(settings)), indent=2, default=str) + "\n",
        "system.txt": system_facts(),
    }
    diagnoses = []
    for arcdir, root in include:
        for name, f in _files(arcdir, Path(root)):
            if not f.name.endswith(".tar.gz"):
                texts[name] = f.read_bytes()[:MAX_FILE_BYTES].decode("utf-8", errors="replace")
            if f.name.endswith(".log"):
                with open(f, "rb") as stream:
                    diagnoses.append(to_text(scan(stream, name)))
    if diagnoses:  # what `rivaverify diagnose` says of each log, with the same catalogue
        texts["diagnosis.txt"] = "\n\n".join(diagnoses) + "\n"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with tarfile.open(tmp, "w:gz") as tar:
        for name, text in texts.items():
            data = redact_text(text, secrets).encode()
            info = tarfile.TarInfo(f"{out.name.removesuffix('.tar.gz')}/{name}")
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
            tar.addfile(info, io.BytesIO(data))
    os.replace(tmp, out)
    return out
