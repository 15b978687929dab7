"""Read and validate Triton model repositories: config.pbtxt parsed as ModelConfig, not grepped."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2

CONFIG = "config.pbtxt"
# The file Triton loads from a version folder when config.pbtxt names none (default_model_filename); backends
# not listed here (Riva's riva_asr_features, riva_asr_endpointing, riva_asr_decoder, ...) need no file there.
MODEL_FILES = {"tensorrt_plan": "model.plan", "tensorrt": "model.plan", "python": "model.py",
               "onnxruntime_onnx": "model.onnx", "onnxruntime": "model.onnx", "pytorch_libtorch": "model.pt",
               "pytorch": "model.pt"}


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
    elif (wanted := model_file(model)) is not None:
        missing = [v for v in model.versions if not (model.dir / v / wanted).exists()]
        problems += [Problem("version", model.dir / v, f"has no {wanted}, the file Triton loads for backend "
                             f"{model.config.backend or model.config.platform!r}") for v in missing]
    return problems


def model_file(model: Model) -> str | None:
    """The file each version folder must hold for the model's backend; None where Triton asks for none."""
    cfg = model.config
    if cfg is None or model.is_ensemble:
        return None
    kind = MODEL_FILES.get(cfg.platform) or MODEL_FILES.get(cfg.backend)
    return (cfg.default_model_filename or kind) if kind else None


def _check_ensembles(models: dict[str, Model]) -> list[Problem]:
    problems = []
    for model in models.values():
        if model.is_ensemble and not model.steps:
            problems.append(Problem("ensemble", model.dir / CONFIG, "ensemble has no steps"))
        for step in (model.config.ensemble_scheduling.step if model.is_ensemble else []):
            target = models.get(step.model_name)
            if target is None:
                problems.append(Problem("ensemble", model.dir / CONFIG,
                                        f"ensemble step {step.model_name!r} is not a model in the repository"))
            elif step.model_version >= 0 and str(step.model_version) not in target.versions:
                problems.append(Problem("ensemble", model.dir / CONFIG,
                                        f"ensemble step {step.model_name!r} asks for version {step.model_version}, "
                                        f"the repository has {target.versions}"))
    return problems


def parameters(model: Model) -> dict[str, str]:
    """A model's `parameters` map as plain strings."""
    if model.config is None:
        return {}
    return {k: v.string_value for k, v in model.config.parameters.items()}


def listed_parameters(repo: Path) -> dict[str, dict[str, str]]:
    """Each model's parameters, shaped as GetRivaSpeechRecognitionConfig lists them ({name: parameters}), so
    what a client reads from a server can be read from the repository's config.pbtxt files as well."""
    return {name: parameters(model) for name, model in read(repo).models.items()}


# Triton's own words (triton-inference-server/core, model_repository_manager.cc CheckNode; model_lifecycle.cc).
_DEPENDS = re.compile(r"ensemble '(?P<a>[^']+)' depends on '(?P<b>[^']+)' (?:which has no loaded version|"
                      r"which is not valid|whose required version -?\d+ is not loaded)")
_EMBEDDED = re.compile(r"Model '(?P<b>[^']+)' (?:loading )?failed with error: (?P<reason>.+)")
_FAILED = re.compile(r"failed to load '(?P<name>[^']+)' version -?\d+: (?P<reason>.+)")
_GLOG = re.compile(r"(?=\b[IWEF]\d{4} \d\d:\d\d:\d\d\.\d+ )")  # where a glog line starts


@dataclass(frozen=True)
class LoadFailure:
    model: str  # the root: a model that failed on its own, not through a dependency
    reason: str
    dependents: tuple[str, ...] = ()  # ensembles that failed because of it

    def __str__(self) -> str:
        out = f"model {self.model!r} failed to load: {self.reason}"
        if self.dependents:
            out += f" (and so {', '.join(repr(d) for d in self.dependents)}, which depend on it)"
        return out


def _index_rows(index) -> list[Mapping]:
    """tritonclient.http's list of {name, version, state, reason}, or tritonclient.grpc's as_json {"models": [...]}."""
    if isinstance(index, Mapping):
        index = index.get("models", [])
    return [row for row in index or [] if isinstance(row, Mapping) and row.get("name")]


def load_failures(index: Iterable[Mapping] | Mapping = (), log: str = "") -> list[LoadFailure]:
    """The models that failed to load on their own, each with its own reason and the ensembles it took down.
    `index`: Triton's repository index; `log`: Triton's log text. `ensemble 'A' depends on 'B' which has no loaded
    version` names B (with B's error), not A."""
    reasons: dict[str, str] = {}
    failed: set[str] = set()
    for row in _index_rows(index):
        if str(row.get("state", "")).upper() not in ("READY", ""):
            failed.add(row["name"])
            if row.get("reason"):
                reasons[row["name"]] = str(row["reason"]).strip()
    for entry in _GLOG.split(log):
        entry = " ".join(entry.split())
        if (m := _FAILED.search(entry)) is not None:
            failed.add(m["name"])
            reasons.setdefault(m["name"], m["reason"].strip())
        elif (m := _DEPENDS.search(entry)) is not None:
            failed.add(m["a"])
            reasons.setdefault(m["a"], entry[m.start():])
    depends: dict[str, str] = {}
    for name, reason in list(reasons.items()):
        if (m := _DEPENDS.search(reason)) is not None and m["a"] == name:
            depends[name] = m["b"]
            failed.add(m["b"])
            if (e := _EMBEDDED.search(reason)) is not None and e["b"] == m["b"]:
                reasons.setdefault(m["b"], e["reason"].strip())
    roots: dict[str, list[str]] = {}
    for name in sorted(failed):
        root, seen = name, {name}
        while root in depends and depends[root] not in seen:
            root = depends[root]
            seen.add(root)
        roots.setdefault(root, [])
        if root != name:
            roots[root].append(name)
    return [LoadFailure(m, reasons.get(m) or f"no load error in what was read: find \"failed to load '{m}'\" in "
                        "the Triton log", tuple(deps)) for m, deps in roots.items() if m not in depends]
