"""Small real Triton model repositories for tests, and ways to break them."""

from __future__ import annotations

from pathlib import Path

PYTHON_MODEL = """name: "{name}"
backend: "python"
max_batch_size: 0
input [ {{ name: "AUDIO" data_type: TYPE_FP32 dims: [ -1 ] }} ]
output [ {{ name: "TEXT" data_type: TYPE_STRING dims: [ 1 ] }} ]
instance_group [ {{ kind: KIND_CPU count: 1 }} ]
"""

ENSEMBLE = """name: "{name}"
platform: "ensemble"
max_batch_size: 0
input [ {{ name: "AUDIO" data_type: TYPE_FP32 dims: [ -1 ] }} ]
output [ {{ name: "TEXT" data_type: TYPE_STRING dims: [ 1 ] }} ]
ensemble_scheduling {{
  step [ {{ model_name: "{step}" model_version: -1
           input_map {{ key: "AUDIO" value: "AUDIO" }} output_map {{ key: "TEXT" value: "TEXT" }} }} ]
}}
"""


def make_repo(root: Path) -> Path:
    """asr-am (python backend, version 1 with model.py) and asr-ensemble (one step to asr-am)."""
    repo = root / "models"
    am = repo / "asr-am"
    (am / "1").mkdir(parents=True)
    (am / "config.pbtxt").write_text(PYTHON_MODEL.format(name="asr-am"))
    (am / "1" / "model.py").write_text("class TritonPythonModel:\n    pass\n")
    ens = repo / "asr-ensemble"
    (ens / "1").mkdir(parents=True)
    (ens / "config.pbtxt").write_text(ENSEMBLE.format(name="asr-ensemble", step="asr-am"))
    return repo


def break_repo(repo: Path, how: str) -> Path:
    """Break a repository made by make_repo; returns the file a validator must name."""
    am, ens = repo / "asr-am", repo / "asr-ensemble"
    if how == "missing-version":
        (am / "1" / "model.py").unlink()
        (am / "1").rmdir()
        return am
    if how == "name-mismatch":
        (am / "config.pbtxt").write_text(PYTHON_MODEL.format(name="asr-acoustic"))
        return am / "config.pbtxt"
    if how == "unparseable":
        (am / "config.pbtxt").write_text('name: "asr-am"\nbackend: "python"\ninput [ { name: "AUDIO" \n')
        return am / "config.pbtxt"
    if how == "missing-step":
        (ens / "config.pbtxt").write_text(ENSEMBLE.format(name="asr-ensemble", step="asr-decoder"))
        return ens / "config.pbtxt"
    raise ValueError(how)
