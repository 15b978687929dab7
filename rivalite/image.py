"""The riva-lite image, built here with no registry: debootstrap a Debian rootfs, install riva-lite into it
under chroot, `docker import` it with start-riva as the command.

Inside, NVIDIA's layout where it matters:
    /opt/riva-lite/bin        start-riva, rivalite, python3 (a venv with riva-lite and its runtime deps)
    /opt/tritonserver/bin     tritonserver (the triton home; backends/ is Triton's default backend folder)
    /data/models              where the model repository is mounted

Reuse: the image is tagged riva-lite:<key>, the key a hash of this recipe and of riva-lite's sources; an
image with that tag is used as it is. Under CACHE (~/.cache/rivalite/image) the debootstrap rootfs is kept
as a tarball and pip's cache is kept, so a rebuild after a source change is a pip install and an import.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from rivalite.errors import RivaLiteError

REPOSITORY = "riva-lite"
SUITE, MIRROR = "bookworm", "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-venv", "libpython3.11", "ca-certificates")  # the stub links libpython3.11
VENV, TRITON_HOME = "/opt/riva-lite", "/opt/tritonserver"
PATH = f"{VENV}/bin:{TRITON_HOME}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# riva-lite's runtime needs, from riva-verify's requirements (pinned to the versions installed here).
RUNTIME_DEPS = ("grpcio", "grpcio-tools", "protobuf", "numpy", "nvidia-riva-client", "tritonclient",
                "nvidia-pytriton", "faster-whisper", "av")
KEY_LABEL = "riva-lite.key"
RECIPE_VERSION = "1"  # bump when the steps below change
SCRIPT = "#!{venv}/bin/python3\nimport sys\nfrom {module} import main\nsys.exit(main())\n"


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "rivalite" / "image"


def requirements() -> list[str]:
    """riva-lite's runtime requirements: riva-verify's own specs, pinned to what is installed here."""
    out = []
    for req in metadata.requires("riva-verify") or []:
        spec, _, marker = req.partition(";")
        name = re.split(r"[<>=!~\[ ]", spec.strip(), maxsplit=1)[0]
        if name.lower() not in RUNTIME_DEPS or ("extra" in marker and '"lite"' not in marker):
            continue
        extras = re.search(r"\[[^\]]*\]", spec)
        try:
            out.append(f"{name}{extras.group(0) if extras else ''}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            out.append(spec.strip())
    return sorted(out)


def source_dir() -> Path:
    return Path(__file__).resolve().parent


def _sources() -> list[Path]:
    return sorted(p for p in source_dir().rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def key() -> str:
    """Hash of the recipe (steps, packages, requirements) and riva-lite's sources: the image's tag."""
    h = hashlib.sha256(f"{RECIPE_VERSION}|{SUITE}|{PACKAGES}|{PATH}|{requirements()}".encode())
    for p in _sources():
        h.update(str(p.relative_to(source_dir())).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:12]


def default_tag() -> str:
    return f"{REPOSITORY}:{key()}"


def find(client: Any, tag: str) -> Any:
    """The image tagged `tag`, or None."""
    import docker

    try:
        return client.images.get(tag)
    except docker.errors.ImageNotFound:
        return None


def is_current(client: Any, tag: str) -> bool:
    """Whether `tag` exists and was built from this recipe and these sources."""
    existing = find(client, tag)
    return existing is not None and (existing.labels or {}).get(KEY_LABEL) == key()


def _run(argv: list[str], log, env: dict[str, str] | None = None, what: str = "") -> None:
    log(f"+ {' '.join(argv)}")
    r = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if r.returncode != 0:
        tail = "\n".join(r.stdout.splitlines()[-25:])
        raise RivaLiteError(f"{what or argv[0]} failed (exit {r.returncode}):\n{tail}")


def _check_host() -> None:
    if os.geteuid() != 0:
        raise RivaLiteError("building the riva-lite image needs root (debootstrap and chroot): run it as root, "
                            "or build it on a machine where you are and move it with `docker save | docker load`")
    for tool, package in (("debootstrap", "debootstrap"), ("chroot", "coreutils"), ("tar", "tar")):
        if not shutil.which(tool):
            raise RivaLiteError(f"{tool} not found: apt-get install {package}")


@contextmanager
def _locked(cache: Path):
    """One build at a time per cache (parallel test runs wait, then reuse)."""
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def base_rootfs(cache: Path, log=print) -> Path:
    """The debootstrap rootfs as a tarball, made once per suite and package list."""
    name = hashlib.sha256(f"{SUITE}|{MIRROR}|{PACKAGES}".encode()).hexdigest()[:12]
    tarball = cache / f"base-{SUITE}-{name}.tar"
    if tarball.is_file():
        log(f"reusing the base rootfs {tarball}")
        return tarball
    with tempfile.TemporaryDirectory(prefix=".debootstrap-", dir=cache) as tmp:
        root = Path(tmp) / "root"
        _run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}", SUITE, str(root), MIRROR],
             log, what="debootstrap")
        for leftover in (root / "var/cache/apt/archives").glob("*.deb"):
            leftover.unlink()
        partial = tarball.with_suffix(".partial")
        _run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(partial), "."], log, what="tar")
        partial.rename(tarball)
    return tarball


def _chroot_env() -> dict[str, str]:
    """A clean environment: this machine's PIP_* variables name folders the chroot does not have."""
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8",
           "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    if os.environ.get("PIP_DEFAULT_TIMEOUT"):
        env["PIP_DEFAULT_TIMEOUT"] = os.environ["PIP_DEFAULT_TIMEOUT"]
    return env


def _install(root: Path, cache: Path, log) -> None:
    """riva-lite into ROOT/opt/riva-lite, pip's cache kept under CACHE/pip between builds."""
    env = _chroot_env()
    # Reach the package index as this machine does: its CA bundle, its pip.conf, its resolver.
    for host_file in ("/etc/ssl/certs/ca-certificates.crt", "/etc/pip.conf", "/etc/resolv.conf"):
        if Path(host_file).is_file():
            (root / host_file.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(host_file, root / host_file.lstrip("/"))
    pip_cache, inside = cache / "pip", root / "root/.cache/pip"
    pip_cache.mkdir(parents=True, exist_ok=True)
    inside.parent.mkdir(parents=True, exist_ok=True)
    pip_cache.rename(inside)  # same filesystem: moved in for the install, moved back after
    try:
        _run(["chroot", str(root), "python3", "-m", "venv", VENV], log, env, "python3 -m venv")
        _run(["chroot", str(root), f"{VENV}/bin/pip", "install", *requirements()], log, env, "pip install")
    finally:
        inside.rename(pip_cache)
    site = root / VENV.lstrip("/") / "lib" / "python3.11" / "site-packages"
    shutil.copytree(source_dir(), site / "rivalite", ignore=shutil.ignore_patterns("__pycache__"))
    for name, module in (("start-riva", "rivalite.launcher"), ("rivalite", "rivalite.cli")):
        script = root / VENV.lstrip("/") / "bin" / name
        script.write_text(SCRIPT.format(venv=VENV, module=module))
        script.chmod(0o755)
    _run(["chroot", str(root), f"{VENV}/bin/rivalite", "triton-home", "--home", TRITON_HOME], log, env,
         "rivalite triton-home")
    (root / "data" / "models").mkdir(parents=True, exist_ok=True)
    for f in ("etc/pip.conf", "etc/resolv.conf"):  # the build machine's, not the image's
        (root / f).unlink(missing_ok=True)


def build(tag: str | None = None, client: Any = None, cache: Path | None = None, force: bool = False,
          log=print) -> str:
    """Build the image (or reuse it when `tag` already exists with this recipe's key); return its tag."""
    tag = tag or default_tag()
    k = key()
    if client is None:
        import docker

        client = docker.from_env()
    if not force and is_current(client, tag):
        log(f"reusing the image {tag}")
        return tag
    _check_host()
    cache = cache or cache_dir()
    with _locked(cache):
        if not force and is_current(client, tag):  # another build finished while we waited
            log(f"reusing the image {tag}")
            return tag
        started = time.monotonic()
        base = base_rootfs(cache, log)
        with tempfile.TemporaryDirectory(prefix=".build-", dir=cache) as tmp:
            root = Path(tmp) / "root"
            root.mkdir()
            _run(["tar", "--numeric-owner", "-C", str(root), "-xf", str(base)], log, what="tar -x")
            _install(root, cache, log)
            rootfs = Path(tmp) / "rootfs.tar"
            _run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(rootfs), "."], log, what="tar")
            shutil.rmtree(root)
            replaced = {i.id for i in (find(client, tag), find(client, f"{REPOSITORY}:latest")) if i is not None}
            _import(client, rootfs, tag, k, log)
            _remove_untagged(client, replaced, log)
        log(f"built {tag} in {time.monotonic() - started:.0f} s")
    return tag


def _remove_untagged(client: Any, ids: set[str], log) -> None:
    """Images this build replaced, once nothing names them (a gigabyte each)."""
    import docker

    for image_id in ids:
        image = find(client, image_id)
        if image is not None and not image.tags:
            try:
                client.images.remove(image_id)
                log(f"removed the replaced image {image_id[:19]}")
            except docker.errors.APIError:  # a container still uses it
                pass


def changes(k: str) -> list[str]:
    """The image's config: start-riva as the command, PATH with the launcher and tritonserver, Riva's ports."""
    return [
        f"ENV PATH={PATH}",
        f"ENV RIVALITE_TRITON_HOME={TRITON_HOME}",
        "ENV LANG=C.UTF-8",
        "WORKDIR /",
        "EXPOSE 50051 8000 8001 8002",
        f"LABEL {KEY_LABEL}={k}",
        'CMD ["start-riva"]',
    ]


def _import(client: Any, rootfs: Path, tag: str, k: str, log) -> None:
    repository, _, version = tag.rpartition(":") if ":" in tag.rsplit("/", 1)[-1] else (tag, "", "latest")
    log(f"docker import {rootfs} {tag}")
    out = client.api.import_image_from_file(str(rootfs), repository=repository, tag=version, changes=changes(k))
    if "error" in str(out).lower() and find(client, tag) is None:
        raise RivaLiteError(f"docker import of {tag} failed: {out}")
    image = find(client, tag)
    if image is None:
        raise RivaLiteError(f"docker import reported {out!r} but {tag} is not on the engine")
    if repository == REPOSITORY:
        image.tag(repository, "latest")

