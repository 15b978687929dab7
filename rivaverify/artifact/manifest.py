"""artifact.json and its schema, checksums.sha256, and the names in s3://<bucket>/<env>/<model>/<version>/."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rivaverify.artifact.errors import ArtifactError

SCHEMA_VERSION = 1
ARTIFACT_JSON = "artifact.json"
CHECKSUMS = "checksums.sha256"
MARKER = "staging_complete.txt"
TOOL = "riva-verify"

Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$", description="lowercase hex sha256")]
SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
ARCHIVE_NAME = re.compile(r"^(?P<name>.+?)[-_]deployable[-_]v(?P<version>\d[\w.+-]*?)(?:\.tar\.gz|\.tgz|\.tar)$")
LANGUAGE = re.compile(r"(?<![A-Za-z])([a-z]{2})[-_]([A-Z]{2})(?![A-Za-z])", re.IGNORECASE)
ARCHITECTURES = ("rnnt", "tdt", "ctc", "whisper", "canary", "conformer", "citrinet", "quartznet", "jasper")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ModelInfo(_Strict):
    name: str = Field(pattern=SEGMENT.pattern)
    language_code: str = Field(pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
    architecture: str = Field(min_length=1)


class SourceInfo(_Strict):
    uri: str = Field(min_length=1)
    size_bytes: int = Field(ge=0)
    etag: str | None = None
    sha256: Sha256 | None = None
    sha256_from: Literal["computed", "store", "declared"] | None = Field(
        None, description="computed while staging, declared by the store, or given by --expected-sha256")
    last_modified: datetime | None = None


class DeploymentInfo(_Strict):
    environment: str = Field(pattern=SEGMENT.pattern)
    s3_bucket: str = Field(min_length=3)
    s3_prefix: str = Field(pattern=r"^[^/].*/$")
    region: str | None = None
    endpoint_url: str | None = None


class FileInfo(_Strict):
    path: str = Field(pattern=r"^(source|models)/[^/]+$", description="relative to the staging prefix")
    size_bytes: int = Field(ge=0)
    sha256: Sha256


class ToolInfo(_Strict):
    name: Literal["riva-verify"] = TOOL
    version: str


class ArtifactJson(_Strict):
    """The artifact.json of a staging prefix."""

    schema_version: Literal[1] = SCHEMA_VERSION
    artifact_id: str = Field(min_length=1)
    mode: Literal["full", "reference-only"]
    model: ModelInfo
    source: SourceInfo
    deployment: DeploymentInfo
    files: list[FileInfo] = Field(default_factory=list)
    staging_started_at: datetime
    created_at: datetime
    tool: ToolInfo

    @model_validator(mode="after")
    def _files_fit_mode(self) -> ArtifactJson:
        models = [f for f in self.files if f.path.startswith("models/") and f.path.endswith(".riva")]
        if self.mode == "full" and not models:
            raise ValueError("mode full lists no models/*.riva file")
        if self.mode == "reference-only" and self.files:
            raise ValueError("mode reference-only lists files")
        return self

    def models(self) -> dict[str, FileInfo]:
        return {f.path.removeprefix("models/"): f for f in self.files if f.path.startswith("models/")}

    def to_bytes(self) -> bytes:
        return (json.dumps(self.model_dump(mode="json"), indent=2, sort_keys=True) + "\n").encode()


def parse_artifact_json(data: bytes, where: str) -> ArtifactJson:
    """The parsed artifact.json, or an ArtifactError listing each problem as field: reason."""
    try:
        return ArtifactJson.model_validate(json.loads(data))
    except (ValueError, ValidationError) as exc:
        raise ArtifactError(f"{where} is not a valid artifact.json: {'; '.join(schema_problems(data))}; "
                            "restage with `rivaverify stage`") from exc


def schema_problems(data: bytes) -> list[str]:
    """Each way `data` breaks the artifact.json schema, as 'field: reason'; empty when valid."""
    try:
        doc: Any = json.loads(data)
    except ValueError as exc:
        return [f"not JSON ({exc})"]
    try:
        ArtifactJson.model_validate(doc)
    except ValidationError as exc:
        return [f"{'.'.join(str(p) for p in e['loc']) or '(root)'}: {e['msg']}" for e in exc.errors()]
    return []


def json_schema() -> dict[str, Any]:
    return ArtifactJson.model_json_schema()


# checksums.sha256: `sha256sum -c` reads it after `aws s3 sync` of the prefix -----------------------------

def render_checksums(files: dict[str, str]) -> bytes:
    return "".join(f"{sha}  {path}\n" for path, sha in sorted(files.items())).encode()


def parse_checksums(data: bytes, where: str) -> dict[str, str]:
    out = {}
    for n, line in enumerate(data.decode(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        m = re.fullmatch(r"([0-9a-fA-F]{64}) [ *](.+)", line)
        if not m:
            raise ArtifactError(f"{where} line {n} is not '<sha256>  <path>': {line[:80]!r}; restage the artifact")
        out[m.group(2)] = m.group(1).lower()
    return out


# names -----------------------------------------------------------------------------------------------

def names_from_archive(filename: str) -> tuple[str | None, str | None]:
    """(model name, version) of '<name>-deployable_v<version>.tar.gz'; None for what it does not say."""
    m = ARCHIVE_NAME.match(filename)
    return (m.group("name"), m.group("version")) if m else (None, None)


def language_from(name: str) -> str | None:
    m = LANGUAGE.search(name)
    return f"{m.group(1).lower()}-{m.group(2).upper()}" if m else None


def architecture_from(name: str) -> str:
    tokens = set(re.split(r"[^a-z0-9]+", name.lower()))
    return next((a for a in ARCHITECTURES if a in tokens), "unknown")


def segment(value: str | None, what: str, how: str) -> str:
    """A valid path segment, or an ArtifactError naming the setting (`how`) to fix."""
    if not value:
        raise ArtifactError(f"no {what}: pass {how}")
    if not SEGMENT.match(value):
        raise ArtifactError(f"{what} {value!r} is not usable in an S3 path (letters, digits, '.', '_', '+', '-'; "
                            f"no '/' or '..'): pass {how}")
    return value


def staging_prefix(env: str, model: str, version: str) -> str:
    return f"{env}/{model}/{version}/"


def artifact_id(model: str, version: str, digest: str) -> str:
    return f"{model}-{version}-{re.sub(r'[^0-9a-f]', '', digest.lower())[:12]}"
