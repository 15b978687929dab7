"""The real tritonserver from nvidia-pytriton, laid out as a "triton home" start-riva can run.

HOME/bin/tritonserver            -> pytriton's binary (start-riva appends HOME/bin to the END of PATH)
HOME/backends/python/...         -> the Python backend, plus the stub for this Python version
HOME/py/bin/python3              -> this interpreter; the stub embeds Python and finds its prefix by
                                    looking up `python3` on PATH (it ignores PYTHONPATH), so HOME/py/bin
                                    goes FIRST on tritonserver's PATH. It holds no tritonserver.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import shutil
import sys
import sysconfig
import tempfile
from pathlib import Path

from rivalite.errors import RivaLiteError

HOME_ENV = "RIVALITE_TRITON_HOME"
PY_VERSION = f"{sys.version_info.major}.{sys.version_info.minor}"
LIBPYTHON = f"libpython{PY_VERSION}.so.1.0"


def pytriton_server_dir() -> Path:
    """pytriton's bundled Triton (bin/, backends/, python_backend_stubs/), found without importing it."""
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise RivaLiteError(
            "nvidia-pytriton is not installed: it ships the real tritonserver riva-lite runs; "
            "install it with: pip install 'riva-verify[lite]'"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "tritonserver"
    if not (path / "bin" / "tritonserver").is_file():
        raise RivaLiteError(f"{path}/bin/tritonserver is missing: reinstall nvidia-pytriton (>=0.7)")
    return path


def _sources() -> dict[str, Path]:
    server = pytriton_server_dir()
    stub = server / "python_backend_stubs" / PY_VERSION / "triton_python_backend_stub"
    if not stub.is_file():
        have = sorted(p.name for p in (server / "python_backend_stubs").iterdir() if p.is_dir())
        raise RivaLiteError(
            f"nvidia-pytriton has no Python backend stub for Python {PY_VERSION} (it has "
            f"{', '.join(have)}): run riva-lite with one of those Python versions"
        )
    backend = server / "backends" / "python"
    return {
        "bin/tritonserver": server / "bin" / "tritonserver",
        "backends/python/libtriton_python.so": backend / "libtriton_python.so",
        "backends/python/triton_python_backend_utils.py": backend / "triton_python_backend_utils.py",
        "backends/python/triton_python_backend_stub": stub,
        "py/bin/python3": Path(os.path.realpath(sys.executable)),
        f"py/bin/python{PY_VERSION}": Path(os.path.realpath(sys.executable)),
    }


def default_home(links: dict[str, Path] | None = None) -> Path:
    """RIVALITE_TRITON_HOME, else a cache folder named by everything it links to (never changed in place)."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV])
    links = links or _sources()
    key = "|".join([sys.prefix, *(f"{k}={v}" for k, v in sorted(links.items()))]).encode()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "rivalite" / f"triton-py{PY_VERSION}-{hashlib.sha256(key).hexdigest()[:12]}"


def _is_current(home: Path, links: dict[str, Path]) -> bool:
    return all(
        (home / rel).is_symlink() and os.readlink(home / rel) == str(src) for rel, src in links.items()
    )


def prepare_home(home: str | os.PathLike | None = None) -> Path:
    """Create (or reuse) the triton home; idempotent and safe when several launchers race."""
    links = _sources()
    home = Path(home) if home else default_home(links)
    if _is_current(home, links):
        return home
    home.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".triton-home-", dir=home.parent))
    for rel, src in links.items():
        (tmp / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp / rel).symlink_to(src)
    if sys.prefix != sys.base_prefix:  # a venv: the stub's Python must see the venv's site-packages
        shutil.copy(Path(sys.prefix) / "pyvenv.cfg", tmp / "py" / "pyvenv.cfg")
        (tmp / "py" / "lib").symlink_to(Path(sys.prefix) / "lib")
    if _is_current(home, links):  # another launcher made it meanwhile
        shutil.rmtree(tmp, ignore_errors=True)
        return home
    if home.exists():  # damaged (its name is a hash of its content): replace it
        shutil.rmtree(home, ignore_errors=True)
    try:
        tmp.rename(home)
    except OSError:  # another launcher won the race
        shutil.rmtree(tmp, ignore_errors=True)
        if not _is_current(home, links):
            raise RivaLiteError(
                f"cannot prepare the triton home {home}: remove it, or set {HOME_ENV} to a writable folder"
            ) from None
    return home


def libpython_dirs() -> list[str]:
    """Folders for LD_LIBRARY_PATH so the stub finds libpythonX.Y.so.1.0 (pyenv/conda keep it private)."""
    libdir = sysconfig.get_config_var("LIBDIR") or ""
    return [libdir] if libdir and (Path(libdir) / LIBPYTHON).exists() else []


def check_libpython() -> None:
    import ctypes.util

    if libpython_dirs() or ctypes.util.find_library(f"python{PY_VERSION}"):
        return
    raise RivaLiteError(
        f"{LIBPYTHON} not found: Triton's Python backend stub links it. Install it "
        f"(Debian/Ubuntu: apt-get install libpython{PY_VERSION}) or use a Python built "
        "with --enable-shared"
    )


def env(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """tritonserver's environment: HOME/py/bin first (for the stub), the caller's PATH, HOME/bin last."""
    env = dict(os.environ if base is None else base)
    path = [str(home / "py" / "bin"), env.get("PATH") or os.defpath, str(home / "bin")]
    env["PATH"] = ":".join(path)
    libs = libpython_dirs() + [p for p in env.get("LD_LIBRARY_PATH", "").split(":") if p]
    if libs:
        env["LD_LIBRARY_PATH"] = ":".join(libs)
    return env
