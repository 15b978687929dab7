"""Read and validate Triton model repositories: config.pbtxt parsed as ModelConfig, not grepped."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

CONFIG = "config.pbtxt"


@dataclass(frozen=True)
class Problem:
    check: str  # parse, name, backend, version, ensemble, repository
    path: Path
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


@dataclass
class Model:
    name: str
    dir: Path
    config: model_config_pb2.ModelConfig | None = None
    versions: list[str] = field(default_factory=list)

    @property
    def is_ensemble(self) -> bool:
        return self.config is not None and self.config.platform == "ensemble"

    @property
    def steps(self) -> list[str]:
        if not self.is_ensemble:
            return []
        return [s.model_name for s in self.config.ensemble_scheduling.step]


@dataclass
class Repository:
    path: Path
    models: dict[str, Model]
    problems: list[Problem]

    def problems_of(self, check: str) -> list[Problem]:
        return [p for p in self.problems if p.check == check]


def parse_config(path: Path) -> model_config_pb2.ModelConfig:
    """Parse a config.pbtxt; raises ValueError naming the file and the protobuf error."""
    try:
        return text_format.Parse(path.read_text(), model_config_pb2.ModelConfig())
    except (text_format.ParseError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not a valid ModelConfig: {exc}") from None


def read(repo: Path) -> Repository:
    """Every model directory of `repo` with its parsed config and the problems found."""
    repo = Path(repo)
    problems: list[Problem] = []
    models: dict[str, Model] = {}
    if not repo.is_dir():
        return Repository(repo, {}, [Problem("repository", repo, "is not a directory")])
    for d in sorted(p for p in repo.iterdir() if p.is_dir() and not p.name.startswith(".")):
        model = models[d.name] = Model(d.name, d)
        problems += _check_model(model)
    if not models:
        problems.append(Problem("repository", repo, "holds no model directory"))
    problems += _check_ensembles(models)
    return Repository(repo, models, problems)


def _check_model(model: Model) -> list[Problem]:
    problems = []
    cfg_path = model.dir / CONFIG
    if not cfg_path.is_file():
        problems.append(Problem("parse", cfg_path, "missing"))
    else:
        try:
            model.config = parse_config(cfg_path)
        except ValueError as exc:
            problems.append(Problem("parse", cfg_path, str(exc).split(": ", 1)[1]))
    cfg = model.config
    if cfg is not None:
        if cfg.name and cfg.name != model.name:
            problems.append(Problem("name", cfg_path, f"name {cfg.name!r} does not match its folder {model.name!r}"))
        if not cfg.backend and not cfg.platform:
            problems.append(Problem("backend", cfg_path, "sets neither backend nor platform"))
    model.versions = sorted((p.name for p in model.dir.iterdir() if p.is_dir() and p.name.isdigit()), key=int)
    if not model.versions:
        problems.append(Problem("version", model.dir, "has no numeric version directory (e.g. 1/)"))
    elif not model.is_ensemble:
        empty = [v for v in model.versions if not any((model.dir / v).iterdir())]
        problems += [Problem("version", model.dir / v, "version directory is empty") for v in empty]
    return problems


def _check_ensembles(models: dict[str, Model]) -> list[Problem]:
    problems = []
    for model in models.values():
        if model.is_ensemble and not model.steps:
            problems.append(Problem("ensemble", model.dir / CONFIG, "ensemble has no steps"))
        for step in model.steps:
            if step not in models:
                problems.append(Problem("ensemble", model.dir / CONFIG,
                                        f"ensemble step {step!r} is not a model in the repository"))
    return problems


def parameters(model: Model) -> dict[str, str]:
    """A model's `parameters` map as plain strings."""
    if model.config is None:
        return {}
    return {k: v.string_value for k, v in model.config.parameters.items()}
