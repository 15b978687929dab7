"""Settings: environment variables (RIVA__*), `.env` and pytest options, validated before any test."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, Field, SecretStr, ValidationError, create_model, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

ENV_PREFIX = "RIVA__"


DEFAULT_CORPUS = Path("audio/manifest.json")


class Target(StrEnum):
    local = "local"  # riva-lite as local processes
    docker = "docker"  # a Riva image through the Docker SDK
    endpoint = "endpoint"  # a running deployment at RIVA__HOST


class DockerLaunch(StrEnum):
    start_riva = "start-riva"  # NVIDIA's quick start: the launcher starts tritonserver and Riva's API
    tritonserver = "tritonserver"  # Triton alone, started with --model-repository (no launcher, no shim)


class Profile(StrEnum):
    dev = "dev"
    staging = "staging"
    production = "production"


class Thresholds(BaseModel):
    """Bounds the suites assert; a profile sets them all, each can be overridden alone."""

    max_wer: Annotated[float, Field(ge=0, le=1, description="word error rate bound (0..1)")]
    max_response_s: Annotated[float, Field(gt=0, description="one Recognize or stream final, seconds")]
    max_final_p95_ms: Annotated[float, Field(gt=0, description="streaming final latency p95, ms")]
    max_partial_p95_ms: Annotated[float, Field(gt=0, description="streaming partial latency p95, ms")]
    min_rtfx: Annotated[float, Field(ge=0, description="audio seconds / wall seconds, offline")]
    concurrency: Annotated[int, Field(ge=1, description="parallel streams in phase 060")]
    min_free_ram_gb: Annotated[float, Field(ge=0, description="free RAM on the host, GiB")]
    min_free_disk_gb: Annotated[float, Field(ge=0, description="free disk for models, GiB")]
    min_cpus: Annotated[int, Field(ge=1, description="CPU cores on the host")]
    min_gpu_memory_gb: Annotated[float, Field(ge=0, description="memory per GPU, GiB")]
    min_compute_capability: Annotated[float, Field(ge=0, description="GPU compute capability")]
    ready_timeout_s: Annotated[float, Field(gt=0, description="deadline for the deployment to be ready")]


# The seed's environment matrix. dev fits riva-lite on a 2-core laptop; production fits Riva on a GPU.
PROFILES: dict[Profile, Thresholds] = {
    Profile.dev: Thresholds(  # riva-lite, 2 cores: p95 about 2.5 s for 1 stream, 3.3 s for 2 (benchmarks/)
        max_wer=0.25, max_response_s=10, max_final_p95_ms=5000, max_partial_p95_ms=5000, min_rtfx=1.0,
        concurrency=2, min_free_ram_gb=2, min_free_disk_gb=2, min_cpus=2, min_gpu_memory_gb=0,
        min_compute_capability=0, ready_timeout_s=120,
    ),
    Profile.staging: Thresholds(
        max_wer=0.15, max_response_s=5, max_final_p95_ms=1000, max_partial_p95_ms=800, min_rtfx=10,
        concurrency=8, min_free_ram_gb=16, min_free_disk_gb=20, min_cpus=4, min_gpu_memory_gb=16,
        min_compute_capability=7.0, ready_timeout_s=600,
    ),
    Profile.production: Thresholds(
        max_wer=0.10, max_response_s=2, max_final_p95_ms=500, max_partial_p95_ms=300, min_rtfx=50,
        concurrency=32, min_free_ram_gb=32, min_free_disk_gb=50, min_cpus=8, min_gpu_memory_gb=16,
        min_compute_capability=7.0, ready_timeout_s=900,
    ),
}

SECRET_FIELDS = ("api_key", "gateway_api_key")

# The seed's variables (and AWS's endpoint name), read from the environment or .env for a setting whose RIVA__
# name is set in neither, as `rivaverify stage` reads them. Not the seed's model name, version or source: those
# would stage riva-lite's archive under the real model's path, or deploy the real model on riva-lite.
SEED_VARIABLES = {"bucket": "NVIDIA_DRIVERS_S3_BUCKET", "aws_region": "AWS_REGION",
                  "s3_endpoint_url": "AWS_ENDPOINT_URL_S3"}


class _SeedVariables(PydanticBaseSettingsSource):
    """The last source: SEED_VARIABLES from the environment or the .env file."""

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # unused: __call__ returns them all

    def __call__(self) -> dict[str, Any]:
        env_file = self.config.get("env_file")
        dotenv: dict[str, str | None] = {}
        if env_file and Path(env_file).is_file():
            from dotenv import dotenv_values

            dotenv = dict(dotenv_values(env_file))
        found = {field: os.environ.get(name) or dotenv.get(name) for field, name in SEED_VARIABLES.items()}
        return {field: value for field, value in found.items() if value}


class _Base(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", case_sensitive=False, validate_default=True,
        env_ignore_empty=True,
    )

    target: Target = Field(Target.local, description="local (riva-lite), docker or endpoint")
    profile: Profile = Field(Profile.dev, description="dev, staging or production thresholds")
    host: str = Field("localhost:50051", description="Riva gRPC HOST:PORT to serve on or attach to")
    triton_http_port: int = Field(8000, ge=1, le=65535, description="Triton HTTP port")
    triton_grpc_port: int = Field(8001, ge=1, le=65535, description="Triton gRPC port")
    triton_metrics_port: int = Field(8002, ge=1, le=65535, description="Triton metrics port")
    host_url: str = Field("local://", description="testinfra host for facts: local://, ssh://, docker://")
    model_repo: Path | None = Field(None, description="an existing Triton model repository to deploy")
    artifact: str | None = Field(None, description="model artifact: a path or s3:// URI")
    image: str | None = Field(None, description="Riva image for target docker (default: riva-lite)")
    shim: bool = Field(True, description="put the tritonserver shim first on PATH (false shows the bug)")
    language_code: str = Field("en-US", description="language the ASR checks ask for")
    model_name: str | None = Field(None, description="ASR model the deployment must list")
    corpus: Path = Field(DEFAULT_CORPUS, description="corpus manifest (NeMo JSON lines)")
    formats: Path = Field(Path("audio/formats.json"), description="manifest of encodings and rates to check")
    chunk_ms: int = Field(100, ge=10, le=2000, description="streaming chunk length, ms (as the server's)")
    stream_utterances: int = Field(6, ge=0, description="corpus clips streamed at real time in 060 (0: all)")
    baseline: Path | None = Field(None, description="an earlier state/060.json to flag regressions against")
    baseline_tolerance: float = Field(0.2, ge=0, description="allowed worsening vs the baseline (0.2 = 20 %)")
    reports_dir: Path = Field(Path("reports"), description="HTML, JUnit, JSON, logs, plan, bundles")
    state_dir: Path = Field(Path("state"), description="state/<phase>.json files")
    work_dir: Path = Field(Path(".rivaverify"), description="built artifacts and repositories (cache)")
    report_name: str | None = Field(None, description="report file stem (default: the -m expression)")
    api_key: SecretStr | None = Field(None, description="API key sent to Riva in request metadata")
    ssl_cert: Path | None = Field(None, description="root certificate for TLS to Riva")
    require_gpu: bool | None = Field(None, description="fail GPU checks without a GPU (default: by target)")
    dry_run: bool = Field(False, description="record what fixtures would do, do nothing")
    docker_gpus: str = Field("auto", pattern=r"^(auto|all|none|\d+(,\d+)*)$",
                             description="GPUs for target docker: auto (when the engine has the nvidia runtime), "
                             "all, none, or device ids like 0,1")
    docker_shm_size: str = Field("1g", pattern=r"^\d+[bkmgBKMG]?$", description="container shared memory (--shm-size)")
    docker_mount: str = Field("/data", pattern=r"^/", description="where the model repository goes in the container: "
                              "MOUNT/models (Riva's /data/models)")
    docker_model_repos_env: bool = Field(False, description="also set MODEL_REPOS=--model-repository=REPO in the "
                                         "container, for launchers that read it (a fallback to the shim)")
    docker_launch: DockerLaunch = Field(DockerLaunch.start_riva, description="start-riva (NVIDIA's quick start) or "
                                        "tritonserver (a fallback: Triton alone with --model-repository, no launcher)")
    docker_run_label: str | None = Field(None, description="value of the riva-verify.run label on this run's "
                                         "containers (default: random)")
    require_docker: bool = Field(False, description="docker-marked tests fail instead of skipping, and a run with "
                                 "none of them passing fails (CI sets it)")
    gateway_url: str | None = Field(None, pattern=r"^wss?://[^/\s]+(/\S*)?$", description="ws(s)://HOST:PORT of a "
                                    "running rivagateway for phase 070 to check (unset: the suite starts one in front "
                                    "of the deployment, targets local and docker)")
    gateway_api_key: SecretStr | None = Field(None, description="API key for RIVA__GATEWAY_URL (secret; a gateway the "
                                              "suite starts gets keys of its own)")
    gateway_ca_cert: Path | None = Field(None, description="root certificate to trust for a wss:// gateway")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: Any, env_settings: Any,
                                   dotenv_settings: Any, file_secret_settings: Any) -> tuple[Any, ...]:
        return init_settings, env_settings, dotenv_settings, file_secret_settings, _SeedVariables(settings_cls)

    @field_validator("host")
    @classmethod
    def _host_port(cls, v: str) -> str:
        host, sep, port = v.rpartition(":")
        if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError("must be HOST:PORT, e.g. localhost:50051")
        return v

    @field_validator("corpus")
    @classmethod
    def _corpus(cls, v: Path) -> Path:  # checked when given; the default is the project's own
        if v != DEFAULT_CORPUS and not v.is_file():
            raise ValueError(f"no such file (from {Path.cwd()}): give a NeMo JSON-lines manifest such as "
                             "audio/manifest.json")
        return v

    @field_validator("host_url")
    @classmethod
    def _host_url(cls, v: str) -> str:
        if "://" not in v:
            raise ValueError("must be a testinfra URL: local://, ssh://user@host, docker://container")
        return v

    # artifact staging in S3 (phase 020, `rivaverify stage`); RIVA__ARTIFACT is the source, or a staged prefix
    bucket: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$",
                               description="S3 bucket of staged artifacts (unset: an embedded S3 server on loopback)")
    s3_endpoint_url: str | None = Field(None, pattern=r"^https?://",
                                        description="S3 API endpoint of an S3-compatible store (unset: AWS)")
    aws_region: str | None = Field(None, description="region of the bucket (unset: the AWS chain, else us-east-1)")
    env: str = Field("dev", pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$",
                     description="environment in the staging path <env>/<model>/<version>/")
    artifact_name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$",
                                      description="model name in the staging path (default: from the archive name)")
    model_version: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$",
                                      description="version in the staging path (default: from the archive name)")


# One optional override per threshold (RIVA__MAX_WER=0.2), constraints kept.
Settings = create_model(
    "Settings",
    __base__=_Base,
    **{
        name: (Annotated[f.annotation, *f.metadata] | None, Field(None, description=f.description))
        for name, f in Thresholds.model_fields.items()
    },
)


def thresholds(settings: Any) -> Thresholds:
    """The profile's thresholds with the overrides that are set."""
    base = PROFILES[settings.profile].model_dump()
    base.update({k: getattr(settings, k) for k in Thresholds.model_fields if getattr(settings, k) is not None})
    return Thresholds(**base)


def needs_gpu(settings: Any) -> bool:
    """riva-lite runs on CPU; any other image is taken for real Riva, which needs a GPU."""
    if settings.require_gpu is not None:
        return settings.require_gpu
    return settings.target == Target.docker and bool(settings.image) and "riva-lite" not in settings.image


class SettingsError(ValueError):
    """Invalid settings, one line per problem: where it came from, the bad value, what is allowed."""


def env_name(field: str) -> str:
    return f"{ENV_PREFIX}{field.upper()}"


def option_name(field: str) -> str:
    return "--riva-" + field.replace("_", "-")


def load(options: dict[str, Any] | None = None) -> Any:
    """Settings from pytest options (given, not None) over env over `.env` over defaults."""
    options = {k: v for k, v in (options or {}).items() if v is not None}
    try:
        return Settings(**options)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = str(err["loc"][0]) if err["loc"] else "?"
            where = option_name(field) if field in options else env_name(field)
            if field in SEED_VARIABLES and field not in options:
                where += f" (or {SEED_VARIABLES[field]})"
            lines.append(f"{where}={err.get('input')!r}: {_allowed(field, err)}")
        raise SettingsError("invalid riva-verify settings:\n  " + "\n  ".join(lines)) from None


def _allowed(field: str, err: dict) -> str:
    f = Settings.model_fields.get(field)
    msg = err["msg"].removeprefix("Value error, ")
    hint = f" ({f.description})" if f is not None and f.description else ""
    return msg + hint


def public_dict(settings: Any) -> dict[str, Any]:
    """Settings as JSON-able values, secrets shown as '***' (or null when unset)."""
    out = {}
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = "***"
        elif isinstance(value, Path | StrEnum):
            value = str(value)
        out[name] = value
    return out


def secret_values(settings: Any) -> list[str]:
    """The values of settings marked secret, to scrub from any text."""
    values = []
    for name in SECRET_FIELDS:
        v = getattr(settings, name)
        if v is not None and v.get_secret_value():
            values.append(v.get_secret_value())
    return values


def env_example() -> str:
    """The text of .env.example: every setting with its default, every threshold per profile."""
    lines = ["# riva-verify settings. Copy to .env (or export) and uncomment what you change.",
             "# Every one is also a pytest option: RIVA__NAME=value is --riva-name=value.",
             "# Never put a real secret in this file; .env is git-ignored.", ""]
    for name, f in Settings.model_fields.items():
        if name in Thresholds.model_fields:
            continue
        d = f.default
        d = "" if d is None else (str(d).lower() if isinstance(d, bool) else str(getattr(d, "value", d)))
        lines.append(f"# {f.description}")
        if name in SEED_VARIABLES:
            lines.append(f"# {env_name(name)} unset: {SEED_VARIABLES[name]} is read (as by `rivaverify stage`)")
        lines.append(f"# {env_name(name)}={d}")
    lines += ["", "# Thresholds: the profile sets them all (dev / staging / production); each can be overridden alone."]
    for name, f in Thresholds.model_fields.items():
        values = ", ".join(f"{p.value} {getattr(t, name):g}" for p, t in PROFILES.items())
        lines += [f"# {f.description} ({values})", f"# {env_name(name)}="]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m rivaverify.settings > .env.example
    print(env_example(), end="")
