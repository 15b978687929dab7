"""The serve image (deploy/monitoring/Dockerfile, `rivaverify serve` in a container) built where no registry
answers: on a local base image (the riva-lite-deps image: Debian bookworm with python3 and its venv module),
with every wheel it needs fetched on this machine and handed to the build in its context (pip reads nothing else
inside: --no-index).

    .venv/bin/python -m testing.serve_image [--base IMAGE]   # prints riva-verify:<key>

The build is the user's: `docker build -f deploy/monitoring/Dockerfile --build-arg BASE=... .` on a context
holding what the Dockerfile copies (pyproject.toml, README.md, the three packages, audio/) and wheels/.

Reuse: the image is tagged riva-verify:<key>, the key a hash of the Dockerfile, the base image's id, the
context's files and the wheels' names; an image with that tag (and label) is used as it is. The wheels are kept
under CACHE (~/.cache/riva-verify/serve-image), one folder per requirement set (pyproject's dependencies, the
serve extra, setuptools to build the project). A build removes the serve images it replaced.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCKERFILE = "deploy/monitoring/Dockerfile"
CONTEXT = ("pyproject.toml", "README.md", "rivaverify", "rivalite", "rivagateway", "audio")  # what it COPYs
EXTRA = "serve"
REPOSITORY = "riva-verify"
KEY_LABEL = "riva-verify.serve-image.key"
PORT = 9410  # the image's CMD: rivaverify serve --listen 0.0.0.0:9410
BUILD_TIMEOUT_S = 1800


class ServeImageError(RuntimeError):
    pass


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "riva-verify" / "serve-image"


def requirements(root: Path = ROOT) -> list[str]:
    """What `pip install '.[serve]'` needs with no index: the dependencies, the extra's, the build backend."""
    project = tomllib.loads((root / "pyproject.toml").read_text())
    return sorted({*project["project"]["dependencies"], *project["project"]["optional-dependencies"][EXTRA],
                   *project["build-system"]["requires"]})


def _run(argv: list[str], log: Callable[[str], None], what: str, timeout: float = BUILD_TIMEOUT_S) -> str:
    log(f"+ {' '.join(argv)}")
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout)
    if r.returncode != 0:
        tail = "\n".join(r.stdout.splitlines()[-30:])
        raise ServeImageError(f"{what} failed (exit {r.returncode}):\n{tail}")
    return r.stdout


def wheels(cache: Path, log: Callable[[str], None] = print, root: Path = ROOT) -> Path:
    """Every wheel of requirements(), built or downloaded here by `pip wheel` once per requirement set."""
    reqs = requirements(root)
    folder = cache / f"wheels-{hashlib.sha256(str(reqs).encode()).hexdigest()[:12]}"
    if folder.is_dir():
        log(f"reusing the wheels in {folder}")
        return folder
    partial = Path(tempfile.mkdtemp(prefix=".wheels-", dir=cache))
    try:
        _run([sys.executable, "-m", "pip", "wheel", "--disable-pip-version-check", "-w", str(partial), *reqs],
             log, "pip wheel")
        partial.rename(folder)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return folder


def _context_files(root: Path) -> list[Path]:
    out = []
    for name in CONTEXT:
        p = root / name
        out += [p] if p.is_file() else [f for f in p.rglob("*") if f.is_file() and "__pycache__" not in f.parts]
    return sorted(out)


def image_id(ref: str) -> str | None:
    r = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", ref], capture_output=True, text=True,
                       timeout=60)
    return r.stdout.strip() if r.returncode == 0 else None


def _label(ref: str) -> str | None:
    r = subprocess.run(["docker", "image", "inspect", "-f", f'{{{{index .Config.Labels "{KEY_LABEL}"}}}}', ref],
                       capture_output=True, text=True, timeout=60)
    return r.stdout.strip() if r.returncode == 0 else None


def key(base_id: str, wheel_dir: Path, root: Path = ROOT) -> str:
    h = hashlib.sha256(f"{(root / DOCKERFILE).read_text()}|{base_id}|{sorted(os.listdir(wheel_dir))}".encode())
    for p in _context_files(root):
        h.update(str(p.relative_to(root)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:12]


def _context(target: Path, wheel_dir: Path, root: Path) -> None:
    """The build context: what the Dockerfile copies, the Dockerfile at its path, wheels/ (hard links if can)."""
    for p in [*_context_files(root), root / DOCKERFILE]:
        dest = target / p.relative_to(root)
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(p, dest)
    (target / "wheels").mkdir()
    for w in wheel_dir.glob("*.whl"):
        try:
            os.link(w, target / "wheels" / w.name)
        except OSError:
            shutil.copy2(w, target / "wheels" / w.name)


def _remove_replaced(k: str, log: Callable[[str], None]) -> None:
    """Serve images of an older key (a container still using one keeps it)."""
    out = subprocess.run(["docker", "images", "--filter", f"label={KEY_LABEL}", "--format",
                          "{{.Repository}}:{{.Tag}}"], capture_output=True, text=True, timeout=60).stdout
    for ref in out.split():
        if not ref.endswith(f":{k}") and _label(ref) not in (None, k):
            if subprocess.run(["docker", "rmi", ref], capture_output=True, timeout=120).returncode == 0:
                log(f"removed the replaced image {ref}")


def build(base: str, cache: Path | None = None, force: bool = False, log: Callable[[str], None] = print,
          root: Path = ROOT) -> str:
    """riva-verify:<key> on the local image `base` with wheels from here (no index in the build); reused when
    an image of this key exists. Returns the tag."""
    base_id = image_id(base)
    if base_id is None:
        raise ServeImageError(f"the base image {base} is not on the engine (the riva-lite-deps image: "
                              "`rivalite image build` makes it)")
    cache = cache or cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time per cache (closing it unlocks): a parallel test reuses
        wheel_dir = wheels(cache, log, root)
        k = key(base_id, wheel_dir, root)
        tag = f"{REPOSITORY}:{k}"
        if not force and _label(tag) == k:
            log(f"reusing the image {tag}")
            return tag
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=".context-", dir=cache) as tmp:
            _context(Path(tmp), wheel_dir, root)
            _run(["docker", "build", "-f", str(Path(tmp) / DOCKERFILE), "--build-arg", f"BASE={base}",
                  "--label", f"{KEY_LABEL}={k}", "--force-rm", "-t", tag, tmp], log, "docker build")
        if _label(tag) != k:
            raise ServeImageError(f"docker build reported no error but {tag} is not on the engine with key {k}")
        log(f"built {tag} in {time.monotonic() - started:.0f} s")
        _remove_replaced(k, log)
    return tag


def local_base() -> str:
    """The riva-lite-deps image of this checkout, made (with the riva-lite image) when missing."""
    from rivalite import image

    image.build(log=lambda _: None)
    return f"{image.DEPS_REPOSITORY}:{image.deps_key()}"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m testing.serve_image", description=__doc__.split("\n\n")[0])
    p.add_argument("--base", help="a local image with python3 and its venv module (default: riva-lite-deps:<key>)")
    p.add_argument("--force", action="store_true", help="build even when an image of this key exists")
    args = p.parse_args(argv)
    try:
        tag = build(args.base or local_base(), force=args.force, log=lambda line: print(line, file=sys.stderr))
    except ServeImageError as e:
        print(f"serve image: {e}", file=sys.stderr)
        return 1
    print(tag)
    return 0


if __name__ == "__main__":
    sys.exit(main())
