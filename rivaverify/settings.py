"""Settings: environment variables (RIVA__*), `.env` and pytest options, validated before any test.

One class, `Settings`, read by the suites, the fixtures, `rivaverify stage` and the locust users alike.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

from pydantic import AliasChoices, BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ENV_PREFIX = "RIVA__"
DEFAULT_CORPUS = Path("audio/manifest.json")


class Target(StrEnum):
    local = "local"  # riva-lite as local processes
    docker = "docker"  # a Riva image through the Docker SDK
    endpoint = "endpoint"  # a running deployment at RIVA__HOST
    kubernetes = "kubernetes"  # a running deployment found through the Kubernetes API, every replica


class Flavor(StrEnum):
    classic = "classic"  # the riva-speech container: start-riva, gRPC 50051, Triton 8000-8002
    nim = "nim"  # a Riva ASR NIM: gRPC 50051, HTTP 9000 (health, transcriptions, metrics), a model cache


class DockerLaunch(StrEnum):
    start_riva = "start-riva"  # NVIDIA's quick start: the launcher starts tritonserver and Riva's API
    tritonserver = "tritonserver"  # Triton alone, started with --model-repository (no launcher, no shim)
    direct = "direct"  # tritonserver with --model-repository, then riva_server once Triton is ready: no start-riva


class Profile(StrEnum):
    dev = "dev"
    staging = "staging"
    production = "production"


# Each threshold's type, constraints and meaning; Thresholds requires them, Settings overrides them one by one.
MaxWer = Annotated[float, Field(ge=0, le=1, description="word error rate bound (0..1)")]
MaxResponseS = Annotated[float, Field(gt=0, description="one Recognize or stream final, seconds")]
MaxFinalP95Ms = Annotated[float, Field(gt=0, description="streaming final latency p95, ms")]
MaxPartialP95Ms = Annotated[float, Field(gt=0, description="streaming partial latency p95, ms")]
MinRtfx = Annotated[float, Field(ge=0, description="audio seconds / wall seconds, offline")]
Concurrency = Annotated[int, Field(ge=1, description="parallel streams in phase 060")]
MinFreeRamGb = Annotated[float, Field(ge=0, description="free RAM on the host, GiB")]
MinFreeDiskGb = Annotated[float, Field(ge=0, description="free disk for models, GiB")]
MinCpus = Annotated[int, Field(ge=1, description="CPU cores on the host")]
MinGpuMemoryGb = Annotated[float, Field(ge=0, description="memory per GPU, GiB")]
MinComputeCapability = Annotated[float, Field(ge=0, description="GPU compute capability")]
ReadyTimeoutS = Annotated[float, Field(gt=0, description="deadline for the deployment to be ready")]


class Thresholds(BaseModel):
    """Bounds the suites assert; a profile sets them all, each can be overridden alone."""

    max_wer: MaxWer
    max_response_s: MaxResponseS
    max_final_p95_ms: MaxFinalP95Ms
    max_partial_p95_ms: MaxPartialP95Ms
    min_rtfx: MinRtfx
    concurrency: Concurrency
    min_free_ram_gb: MinFreeRamGb
    min_free_disk_gb: MinFreeDiskGb
    min_cpus: MinCpus
    min_gpu_memory_gb: MinGpuMemoryGb
    min_compute_capability: MinComputeCapability
    ready_timeout_s: ReadyTimeoutS


# The seed's environment matrix. dev fits riva-lite on a 2-core laptop; production fits Riva on a GPU.
PROFILES: dict[Profile, Thresholds] = {
    Profile.dev: Thresholds(  # riva-lite, 2 cores: final p95 about 0.4 s for 1 stream, 1.8 s for 8 (benchmarks/)
        max_wer=0.25, max_response_s=10, max_final_p95_ms=5000, max_partial_p95_ms=5000, min_rtfx=1.0,
        concurrency=2, min_free_ram_gb=2, min_free_disk_gb=2, min_cpus=2, min_gpu_memory_gb=0,
        min_compute_capability=0, ready_timeout_s=120,
    ),
    # A "16 GB" GPU reports less: a T4 15360 MiB (15.0 GiB), a 16 GB V100 16160 MiB; the bound is 15 so that the
    # seed's T4 hosts pass.
    Profile.staging: Thresholds(
        max_wer=0.15, max_response_s=5, max_final_p95_ms=1000, max_partial_p95_ms=800, min_rtfx=10,
        concurrency=8, min_free_ram_gb=16, min_free_disk_gb=20, min_cpus=4, min_gpu_memory_gb=15,
        min_compute_capability=7.0, ready_timeout_s=600,
    ),
    Profile.production: Thresholds(
        max_wer=0.10, max_response_s=2, max_final_p95_ms=500, max_partial_p95_ms=300, min_rtfx=50,
        concurrency=32, min_free_ram_gb=32, min_free_disk_gb=50, min_cpus=8, min_gpu_memory_gb=15,
        min_compute_capability=7.0, ready_timeout_s=900,
    ),
}

SECRET_FIELDS = ("api_key", "gateway_api_key", "ngc_api_key", "model_key")

# A field whose variable and option have another name: grpc_address is RIVA__HOST and --riva-host.
PUBLIC_NAMES = {"grpc_address": "host"}

# The seed's variables (and AWS's endpoint name), read from the environment or .env for a setting whose RIVA__
# name is set in neither. The suites read these four; not the seed's model name, version or source: those
# would stage riva-lite's archive under the real model's path, or deploy the real model on riva-lite.
SEED_VARIABLES = {"bucket": "NVIDIA_DRIVERS_S3_BUCKET", "aws_region": "AWS_REGION",
                  "s3_endpoint_url": "AWS_ENDPOINT_URL_S3", "ngc_api_key": "NGC_API_KEY"}
# `rivaverify stage` (the seed's artifact staging script, riva-130) reads them all, as that script did.
STAGE_SEED_VARIABLES = {"artifact": "RIVA_ASR_MODEL_S3_URI", **SEED_VARIABLES, "artifact_name": "RIVA_ASR_MODEL_NAME",
                        "model_version": "MODEL_VERSION", "env": "ENV"}


class Settings(BaseSettings):
    """Every setting of a run; `load()` builds one with messages that name the variable or option."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX, env_file=".env", extra="ignore", case_sensitive=False, validate_default=True,
        env_ignore_empty=True, populate_by_name=True,
    )

    target: Target = Field(Target.local, description="local (riva-lite processes), docker (a Riva image), endpoint "
                         "(attach to RIVA__HOST), kubernetes (the pods RIVA__KUBE_SELECTOR picks, each replica)")
    flavor: Flavor = Field(Flavor.classic, description="classic (the riva-speech container, start-riva) or nim (a "
                           "Riva ASR NIM: NIM's run line, HTTP API and model cache; riva-lite's NIM face locally)")
    profile: Profile = Field(Profile.dev, description="thresholds: dev (riva-lite on a laptop), staging, "
                           "production (Riva on a GPU)")
    grpc_address: str = Field("localhost:50051", validation_alias=AliasChoices("grpc_address", "riva__host"),
                              description="Riva gRPC HOST:PORT to serve on or attach to")
    triton_http_port: int = Field(8000, ge=1, le=65535, description="Triton HTTP port")
    triton_grpc_port: int = Field(8001, ge=1, le=65535, description="Triton gRPC port")
    triton_metrics_port: int = Field(8002, ge=1, le=65535, description="Triton metrics port")
    metrics_url: str | None = Field(None, pattern=r"^https?://\S+$", description="Prometheus metrics to read "
                                    "around phases 040-080 (default: http://HOST:TRITON_METRICS_PORT/metrics, "
                                    "Triton's; a NIM image: http://HOST:9000/v1/metrics)")
    nim_http: str | None = Field(None, description="a NIM's HTTP API as HOST:PORT (default: the gRPC host, port "
                                 "9000)")
    nim_tags_selector: str | None = Field(None, description="NIM_TAGS_SELECTOR given to the NIM (name=…,mode=ofl|str): "
                                          "the profile it picks (unset: the NIM's default)")
    nim_release: str | None = Field(None, pattern=r"^\d+\.\d+\.\d+$", description="the NIM's release where its "
                                    "image tag does not name it (`:latest`, an endpoint): a Speech NIM YY.MM.n such "
                                    "as 26.10.0, or a Riva ASR NIM 1.x.y; it decides the version's rules "
                                    "(rivaverify/releases.py)")
    nim_cache: Path | None = Field(None, description="host folder for the NIM's model cache (/opt/nim/.cache in the "
                                   "container; unset: WORK_DIR/nim-cache); kept across runs, so later starts are warm")
    ngc_api_key: SecretStr | None = Field(None, description="NGC API key a NIM downloads its model with, passed in "
                                          "the container's environment only (secret: never on an argv or in a log)")
    host_url: str = Field("local://", description="testinfra host for facts: local://, ssh://, docker://")
    model_repo: Path | None = Field(None, description="an existing Triton model repository to check and deploy "
                                     "instead of riva-lite's")
    artifact: str | None = Field(None, description="the deployable archive to stage (path or s3:// URI), or a "
                                   "staged s3://…/ prefix (unset: riva-lite's)")
    image: str | None = Field(None, description="Riva image for target docker (unset: the riva-lite image, built "
                                "when missing)")
    shim: bool = Field(True, description="put the tritonserver shim first on PATH (false, or --no-shim, deploys "
                       "without it, to show the bug)")
    language_code: str = Field("en-US", description="language the ASR checks ask for")
    model_name: str | None = Field(None, description="ASR model the deployment must list")
    corpus: Path = Field(DEFAULT_CORPUS, description="corpus manifest (NeMo JSON lines: audio_filepath, text, "
                         "duration, lang); its first line is the smoke clip (also --corpus)")
    formats: Path = Field(Path("audio/formats.json"), description="manifest of encodings and rates to check")
    chunk_ms: int | None = Field(None, ge=10, le=2000, description="streaming chunk length, ms; unset: the "
                                 "server chunk the deployment lists (the online model's chunk_size), else 100")
    stream_utterances: int = Field(6, ge=0, description="corpus clips streamed at real time in 060 (0: all)")
    load_seconds: int = Field(20, ge=5, le=3600, description="how long phase 080's locust load runs, seconds")
    load_users: int = Field(4, ge=1, le=1000, description="real-time streams phase 080's load keeps open")
    baseline: Path | None = Field(None, description="an earlier state/060.json to flag regressions against")
    baseline_tolerance: float = Field(0.2, ge=0, description="allowed worsening vs the baseline (0.2 = 20 %)")
    reports_dir: Path = Field(Path("reports"), description="HTML, JUnit, JSON, logs, plan, bundles")
    state_dir: Path = Field(Path("state"), description="state/<phase>.json files")
    history_dir: Path | None = Field(None, description="where each run appends its record, <name>.jsonl, for "
                                     "the report's trends (unset: REPORTS_DIR/history; a lasting folder keeps "
                                     "them across clean checkouts)")
    work_dir: Path = Field(Path(".rivaverify"), description="built artifacts and repositories (cache)")
    report_name: str | None = Field(None, description="report file stem (default: the -m expression)")
    api_key: SecretStr | None = Field(None, description="API key sent to Riva in request metadata (secret: never "
                                      "printed, redacted everywhere)")
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
    docker_launch: DockerLaunch = Field(DockerLaunch.start_riva, description="start-riva (NVIDIA's quick start), "
                                        "direct (a fallback: tritonserver --model-repository, then riva_server, no "
                                        "launcher) or tritonserver (Triton alone: no Riva API)")
    docker_run_label: str | None = Field(None, description="value of the riva-verify.run label on this run's "
                                         "containers (default: random; every one also has riva-verify=1)")
    kube_namespace: str = Field("default", pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
                                description="target kubernetes: the namespace of the deployment's pods")
    kube_selector: str | None = Field(None, description="target kubernetes: label selector of the Riva pods "
                                      "(the riva-api chart: app=riva-api,release=RELEASE; a NIMService: "
                                      "app=NAME)")
    kubeconfig: Path | None = Field(None, description="target kubernetes: kubeconfig file (unset: $KUBECONFIG or "
                                    "~/.kube/config, or the pod's service account inside a cluster)")
    kube_context: str | None = Field(None, description="target kubernetes: kubeconfig context (unset: its current)")
    require_docker: bool = Field(False, description="docker-marked tests fail instead of skipping, and a run with "
                                 "none of them passing fails (CI sets it)")
    require_extras: bool = Field(False, description="a phase that cannot run because an extra (gateway) is not "
                                 "installed fails instead of skipping (the release and nightly workflows set it)")
    gateway_url: str | None = Field(None, pattern=r"^wss?://[^/\s]+(/\S*)?$", description="ws(s)://HOST:PORT of a "
                                    "running rivagateway for phase 070 to check (unset: the suite starts one in front "
                                    "of the deployment, targets local and docker)")
    gateway_api_key: SecretStr | None = Field(None, description="API key for RIVA__GATEWAY_URL (secret; a gateway the "
                                              "suite starts gets keys of its own)")
    gateway_ca_cert: Path | None = Field(None, description="root certificate to trust for a wss:// gateway")

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

    # conversion (`rivaverify convert`): the staged .riva -> riva-build -> riva-deploy, in a container
    convert: bool | None = Field(None, description="convert the staged .riva with riva-build and riva-deploy in "
                                 "RIVA__SERVICEMAKER_IMAGE (default: with target docker and flavor classic)")
    servicemaker_image: str | None = Field(None, description="image riva-build and riva-deploy run in (unset: the "
                                           "runtime image, RIVA__IMAGE or riva-lite's)")
    model_key: SecretStr | None = Field(None, description="encryption key of the .riva files (secret; passed to the "
                                        "conversion container in its environment only; unset: none)")

    # One optional override per threshold (RIVA__MAX_WER=0.2), constraints kept; unset: the profile's.
    max_wer: MaxWer | None = None
    max_response_s: MaxResponseS | None = None
    max_final_p95_ms: MaxFinalP95Ms | None = None
    max_partial_p95_ms: MaxPartialP95Ms | None = None
    min_rtfx: MinRtfx | None = None
    concurrency: Concurrency | None = None
    min_free_ram_gb: MinFreeRamGb | None = None
    min_free_disk_gb: MinFreeDiskGb | None = None
    min_cpus: MinCpus | None = None
    min_gpu_memory_gb: MinGpuMemoryGb | None = None
    min_compute_capability: MinComputeCapability | None = None
    ready_timeout_s: ReadyTimeoutS | None = None

    @field_validator("grpc_address", "nim_http")
    @classmethod
    def _host_port(cls, v: str | None) -> str | None:
        if v is None:
            return v
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

    @property
    def grpc_host(self) -> str:
        """The host part of grpc_address (brackets of an IPv6 literal kept)."""
        return self.grpc_address.rpartition(":")[0]

    @property
    def grpc_port(self) -> int:
        return int(self.grpc_address.rpartition(":")[2])

    @property
    def nim_http_address(self) -> str:
        """The NIM's HTTP HOST:PORT: RIVA__NIM_HTTP, else the gRPC host with NIM's port 9000."""
        return self.nim_http or f"{self.grpc_host}:9000"

    @property
    def nim_http_port(self) -> int:
        return int(self.nim_http_address.rpartition(":")[2])

    def triton_ports(self) -> dict[str, int]:
        """The deployment's ports by the names runtimes use: riva, triton_http, triton_grpc, triton_metrics."""
        return {"riva": self.grpc_port, "triton_http": self.triton_http_port, "triton_grpc": self.triton_grpc_port,
                "triton_metrics": self.triton_metrics_port}


def thresholds(settings: Settings) -> Thresholds:
    """The profile's thresholds with the overrides that are set."""
    base = PROFILES[settings.profile].model_dump()
    base.update({k: getattr(settings, k) for k in Thresholds.model_fields if getattr(settings, k) is not None})
    return Thresholds(**base)


def needs_gpu(settings: Settings) -> bool:
    """Whether a GPU is expected where the deployment runs: the target's answer (rivaverify/targets)."""
    from rivaverify import targets

    return targets.get(settings).needs_gpu


class SettingsError(ValueError):
    """Invalid settings, one line per problem: where it came from, the bad value, what is allowed."""


def env_name(field: str) -> str:
    return f"{ENV_PREFIX}{PUBLIC_NAMES.get(field, field).upper()}"


def option_name(field: str) -> str:
    return "--riva-" + PUBLIC_NAMES.get(field, field).replace("_", "-")


def description(field: str) -> str:
    """What a setting means (a threshold's from Thresholds)."""
    f = Thresholds.model_fields.get(field) or Settings.model_fields[field]
    return f.description or ""


def load(options: dict[str, Any] | None = None, seed: dict[str, str] = SEED_VARIABLES,
         env_file: str | os.PathLike = ".env", option_names: dict[str, str] | None = None) -> Settings:
    """Settings from options (given, not None) over env over `env_file` over the `seed` variables over defaults.
    A seed variable (environment, then env_file) fills a field whose RIVA__ name is set in neither.
    `option_names` names the options in messages (default: --riva-<name>)."""
    given = {k: v for k, v in (options or {}).items() if v is not None}
    seeded = _seed_values(seed, set(given), Path(env_file))
    try:
        return Settings(_env_file=env_file, **seeded, **given)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            field = _field_of(str(err["loc"][0]) if err["loc"] else "?")
            if field in given:
                where = (option_names or {}).get(field) or option_name(field)
            else:
                where = env_name(field) + (f" (or {seed[field]})" if field in seed else "")
            lines.append(f"{where}={err.get('input')!r}: {_allowed(field, err)}")
        raise SettingsError("invalid riva-verify settings:\n  " + "\n  ".join(lines)) from None


def _seed_values(seed: dict[str, str], given: set[str], env_file: Path) -> dict[str, str]:
    dotenv: dict[str, str | None] = {}
    if seed and env_file.is_file():
        from dotenv import dotenv_values

        dotenv = {k.upper(): v for k, v in dotenv_values(env_file).items()}
    environ = {k.upper(): v for k, v in os.environ.items()}
    out = {}
    for field, variable in seed.items():
        if field in given or environ.get(env_name(field)) or dotenv.get(env_name(field)):
            continue
        if value := environ.get(variable.upper()) or dotenv.get(variable.upper()):
            out[field] = value
    return out


def _field_of(loc: str) -> str:
    """The field a validation error's location names (an alias such as riva__host included)."""
    if loc in Settings.model_fields:
        return loc
    return next((f for f, public in PUBLIC_NAMES.items() if env_name(f).lower() == loc.lower()), loc)


def _allowed(field: str, err: dict) -> str:
    msg = err["msg"].removeprefix("Value error, ")
    hint = description(field) if field in Settings.model_fields else ""
    return msg + (f" ({hint})" if hint else "")


def public_dict(settings: Settings) -> dict[str, Any]:
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


def secret_values(settings: Settings) -> list[str]:
    """The values of settings marked secret, to scrub from any text."""
    values = []
    for name in SECRET_FIELDS:
        v = getattr(settings, name)
        if v is not None and v.get_secret_value():
            values.append(v.get_secret_value())
    return values


def _default_text(name: str) -> str:
    d = Settings.model_fields[name].default
    return "" if d is None else (str(d).lower() if isinstance(d, bool) else str(getattr(d, "value", d)))


def env_example() -> str:
    """The text of .env.example: every setting with its default, every threshold per profile."""
    lines = ["# riva-verify settings. Copy to .env (or export) and uncomment what you change.",
             "# Every one is also a pytest option: RIVA__NAME=value is --riva-name=value.",
             "# Never put a real secret in this file; .env is git-ignored.", ""]
    for name in Settings.model_fields:
        if name in Thresholds.model_fields:
            continue
        lines.append(f"# {description(name)}")
        if name in SEED_VARIABLES:
            lines.append(f"# {env_name(name)} unset: {SEED_VARIABLES[name]} is read (as by `rivaverify stage`)")
        lines.append(f"# {env_name(name)}={_default_text(name)}")
    lines += ["", "# Thresholds: the profile sets them all (dev / staging / production); each can be overridden alone."]
    for name in Thresholds.model_fields:
        values = ", ".join(f"{p.value} {getattr(t, name):g}" for p, t in PROFILES.items())
        lines += [f"# {description(name)} ({values})", f"# {env_name(name)}="]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Plain text in a Markdown table cell: `|` and `<` escaped (state/<phase>.json is no HTML tag)."""
    return text.replace("|", "\\|").replace("<", "&lt;")


def configuration_md() -> str:
    """The text of docs/configuration.md: every setting, its variable, option, default and meaning."""
    lines = [
        "# Configuration", "",
        "This page covers every setting of a run. It is generated from `rivaverify/settings.py` "
        "(`python -m rivaverify.settings markdown > docs/configuration.md`); `tests/test_settings.py` keeps it exact.",
        "",
        "A setting comes from, in this order (the first that sets it wins): a pytest option (`--riva-<name>`), a "
        f"`{ENV_PREFIX}<NAME>` environment variable, the same name in a `.env` file in the working directory, "
        "the seed's variable where one is listed, the default. `rivaverify stage` reads the same settings, its "
        "options first. Invalid settings stop the run before any test, naming the variable or option, the bad "
        "value and what is allowed. Secrets (`" + "`, `".join(SECRET_FIELDS) + "`) are never printed. "
        "[`.env.example`](../.env.example) lists every variable with its default.", "",
        "| variable | option | default | meaning |", "|---|---|---|---|",
    ]
    for name in Settings.model_fields:
        if name in Thresholds.model_fields:
            continue
        default = f"`{_default_text(name)}`" if _default_text(name) else "unset"
        meaning = description(name)
        if name in STAGE_SEED_VARIABLES:
            seed = f"`{STAGE_SEED_VARIABLES[name]}`"
            meaning += f"; unset: {seed} is read" + ("" if name in SEED_VARIABLES else " by `rivaverify stage`")
        lines.append(f"| `{env_name(name)}` | `{option_name(name)}` | {default} | {_cell(meaning)} |")
    lines += ["", "## Thresholds", "",
              f"The profile (`{env_name('profile')}`) sets them all; each can be overridden alone, e.g. "
              f"`{env_name('max_wer')}=0.2` or `{option_name('max_wer')}=0.2`.", "",
              "| variable | option | " + " | ".join(p.value for p in PROFILES) + " | meaning |",
              "|---|---|" + "---|" * len(PROFILES) + "---|"]
    for name in Thresholds.model_fields:
        values = " | ".join(f"{getattr(t, name):g}" for t in PROFILES.values())
        lines.append(f"| `{env_name(name)}` | `{option_name(name)}` | {values} | {_cell(description(name))} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":  # python -m rivaverify.settings [markdown] > .env.example | docs/configuration.md
    import sys

    print(configuration_md() if sys.argv[1:] == ["markdown"] else env_example(), end="")
