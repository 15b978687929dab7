"""NIM_CACHE_PATH: the selected profile's Triton model repository, deployed on the first start and reused after.

    <cache>/riva-lite/<profile id>/models         the repository tritonserver loads (--model-repository)
    <cache>/riva-lite/<profile id>/profile.json   the profile it was made for

A NIM downloads its model from NGC into the cache on the first start, which needs NGC_API_KEY; riva-lite packs and
deploys the pinned Whisper model instead (no network), but refuses an empty cache without the key as NIM does,
so a run line that forgets the key fails here too. The folder appears whole or not at all (built aside, renamed).
The key is only checked for presence: it is never printed, logged or passed on.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
from pathlib import Path

from rivalite import model_names
from rivalite.nim import CACHE_ENV, IMAGE_CACHE, KEY_ENV, NimError
from rivalite.nim.profiles import Profile

MODES = {"all": (), "ofl": ("streaming", "acoustic_model"), "str": ("offline", "offline_acoustic_model"),
         "str-thr": ("offline", "offline_acoustic_model")}  # the same streaming pipeline as str


def default_path() -> Path:
    """$NIM_CACHE_PATH, else NIM's /opt/nim/.cache where it exists (the image), else the user's cache folder."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    if Path(IMAGE_CACHE).is_dir():
        return Path(IMAGE_CACHE)
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "rivalite" / "nim"


def check_writable(cache: Path) -> None:
    """A clear error when the cache folder cannot be made or written (a host folder owned by another UID)."""
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cache, prefix=".write-test-"):
            pass
    except OSError as e:
        raise NimError(
            f"cannot write the NIM cache {CACHE_ENV}={cache}: {e.strerror or e} (this process runs as UID "
            f"{os.getuid()}). next step: make the folder writable by that user (NIM's containers run as UID 1000: "
            f"`sudo chown -R 1000 HOST_FOLDER` before `docker run -v HOST_FOLDER:{IMAGE_CACHE}`, or `docker run "
            f"-u $(id -u)`), or point {CACHE_ENV} at a writable folder") from None


def profile_dir(cache: Path, profile: Profile) -> Path:
    return cache / "riva-lite" / profile.id


def cached(cache: Path, profile: Profile) -> Path | None:
    """The profile's repository when an earlier start left it complete."""
    folder = profile_dir(cache, profile)
    return folder / "models" if (folder / "profile.json").is_file() and (folder / "models").is_dir() else None


def check_key(cache: Path, profile: Profile) -> None:
    if not (os.environ.get(KEY_ENV) or "").strip():
        raise NimError(
            f"{KEY_ENV} is not set and the cache {cache} holds no model for profile {profile.id} "
            f"({profile.tag_text()}): the model cannot be downloaded (NGC answers an unauthenticated download with "
            f"an Authentication Error). next step: pass the key through the environment (`export {KEY_ENV}=...` "
            f"then `docker run -e {KEY_ENV} ...`, never its value on the command line), or mount a cache an "
            f"earlier start filled (`-v HOST_FOLDER:{IMAGE_CACHE}`)")


def fill(cache: Path, profile: Profile, log=print) -> Path:
    """Deploy riva-lite's repository for the profile into the cache (the slow first start)."""
    from rivalite import deploy, pack

    mode = profile.tags.get("mode", "all")
    if mode not in MODES:
        raise NimError(f"profile {profile.id} has mode {mode!r}: riva-lite deploys {', '.join(MODES)}")
    final = profile_dir(cache, profile)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{profile.id[:12]}-", dir=final.parent))
    try:
        log(f"riva-lite: deploying profile {profile.id} into {final} (first start: the cache was empty)")
        models = deploy(pack(tmp / "artifact"), tmp, layout="2.17")
        names = model_names(layout="2.17")
        for role in MODES[mode]:  # a NIM profile of one mode deploys that mode's pipeline alone
            shutil.rmtree(models / names[role])
        shutil.rmtree(tmp / "artifact")
        (tmp / "profile.json").write_text(json.dumps({"id": profile.id, "model": profile.model,
                                                      "release": profile.release, "tags": profile.tags}, indent=1))
        if final.exists():  # a damaged earlier fill (no profile.json): replaced
            shutil.rmtree(final)
        tmp.rename(final)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return final / "models"


def repository(cache: Path, profile: Profile, log=print) -> tuple[Path, bool]:
    """The profile's repository in the cache and whether it was reused; fills it (key required) when missing.
    Starts sharing a cache fill it one at a time (a lock per profile): the second one reuses the first's."""
    made = not cache.exists()
    check_writable(cache)
    found = cached(cache, profile)
    if found:
        return found, True
    try:
        check_key(cache, profile)
    except NimError:
        if made:  # refused: the folder this start made goes again
            cache.rmdir()
        raise
    lock = profile_dir(cache, profile).with_name(f".{profile.id}.lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        found = cached(cache, profile)  # filled while this start waited
        return (found, True) if found else (fill(cache, profile, log), False)
