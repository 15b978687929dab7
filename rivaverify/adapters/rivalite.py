"""riva-lite as the default target: its deployable archive, the repository it deploys, its image."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from rivaverify.artifact.errors import ArtifactError

INSTALL = "pip install -e '.[lite]'"


class RivaLiteMissing(RuntimeError):
    """riva-lite is not installed, or cannot do what was asked; the message says what to do."""


def _rivalite() -> Any:
    try:
        import rivalite
    except ImportError as exc:
        raise RivaLiteMissing(f"riva-lite is not installed ({INSTALL})") from exc
    return rivalite


def archive(out_dir: Path) -> Path:
    """riva-lite's deployable archive (rivalite.pack), the artifact of the embedded default."""
    try:
        rivalite = _rivalite()
    except RivaLiteMissing as exc:
        raise ArtifactError("no artifact to stage: RIVA__ARTIFACT is unset and riva-lite is not installed "
                            f"({INSTALL}); set RIVA__ARTIFACT to a deployable archive (path or "
                            "s3:// URI) or to a staged s3:// prefix") from exc
    try:
        return Path(rivalite.pack(out_dir))
    except OSError as exc:  # a full disk, a folder it may not write
        raise ArtifactError(f"riva-lite cannot pack its archive into {out_dir}: {exc.strerror or exc}; free space "
                            "there or point RIVA__WORK_DIR at a disk with room (`df -h`), then rerun") from exc
    except rivalite.RivaLiteError as exc:  # e.g. the lite extra (its pinned model) is not installed
        raise ArtifactError(f"no artifact to stage: RIVA__ARTIFACT is unset and riva-lite cannot pack its own "
                            f"({exc}); set RIVA__ARTIFACT to a deployable archive (path or s3:// URI) or a staged "
                            "s3:// prefix (RIVA__BUCKET: the bucket to stage into), set RIVA__MODEL_REPO to "
                            "deploy a repository with nothing to stage, or install the lite extra "
                            f"({INSTALL})") from exc


def deploy(riva: Path, out_dir: Path) -> Path:
    """`rivalite deploy`: the Triton model repository (out_dir/models) of a .riva file."""
    rivalite = _rivalite()
    try:
        return Path(rivalite.deploy(riva, out_dir))
    except rivalite.RivaLiteError as exc:
        raise RivaLiteMissing(f"rivalite deploy {riva} failed: {exc}") from exc


def archive_prefix() -> str | None:
    """How riva-lite's own deployable archives are named (`<name>-deployable_v<N>.tar.gz`); None without riva-lite."""
    try:
        return f"{_rivalite().DEFAULT_NAME}-deployable"
    except RivaLiteMissing:
        return None


def nim_release() -> str | None:
    """The Speech NIM release riva-lite's NIM face imitates (YY.MM.n); None without riva-lite."""
    try:
        _rivalite()
    except RivaLiteMissing:
        return None
    from rivalite.nim import NIM_RELEASE

    return NIM_RELEASE


def repository_key() -> str:
    """What `rivalite deploy` would write, apart from the artifact: its repository format and layout (a repository
    deployed under another key is stale)."""
    rivalite = _rivalite()
    from rivalite import repository

    try:
        return f"{repository.FORMAT} layout {rivalite.layout_of()}"
    except rivalite.RivaLiteError as exc:
        raise RivaLiteMissing(str(exc)) from exc


def image_tag() -> str:
    """The tag of the riva-lite image of this source tree."""
    _rivalite()
    from rivalite import image

    return image.default_tag()


def image_is_current(client: Any, tag: str) -> bool:
    from rivalite import image

    return image.is_current(client, tag)


def build_image(tag: str, client: Any, log: Callable[[str], None]) -> str:
    """`rivalite image build --tag TAG`; RivaLiteMissing naming what failed."""
    rivalite = _rivalite()
    from rivalite import image

    try:
        return image.build(tag, client=client, log=log)
    except rivalite.RivaLiteError as exc:
        raise RivaLiteMissing(str(exc)) from exc


def build_nim_image(client: Any, log: Callable[[str], None]) -> str:
    """`rivalite image build --nim`: riva-lite's NIM image, built when missing or stale, else reused; its tag."""
    rivalite = _rivalite()
    from rivalite import image

    try:
        return image.build_nim(client=client, log=log)
    except rivalite.RivaLiteError as exc:
        raise RivaLiteMissing(str(exc)) from exc


def nim_image_tag() -> str:
    """The tag of riva-lite's NIM image of this source tree (what build_nim_image builds)."""
    _rivalite()
    from rivalite import image

    return f"{image.NIM_REPOSITORY}:{image.nim_key()}"
