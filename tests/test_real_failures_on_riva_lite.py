"""riva-lite failing the way real deployments fail (its real tritonserver, as an operator meets it): the phase's
next steps name that cause first, not a generic step, and `rivaverify diagnose` on its log says the same."""

from __future__ import annotations

import re
import shutil

import pytest

from rivaverify.diagnostics.render import exit_code
from rivaverify.diagnostics.scan import scan
from tests.test_suites_on_riva_lite import Run, work_dir  # noqa: F401 (the fixture)

pytestmark = pytest.mark.slow


def next_steps(out: str) -> list[str]:
    return [line.split("next step: ", 1)[1] for line in out.splitlines() if line.startswith("  next step: ")]


def test_a_model_that_cannot_load_names_its_own_reason_first(tmp_path, work_dir, rivalite_models):  # noqa: F811
    """A model asking for a GPU that tritonserver does not have (jetson-containers#450's KIND_GPU line): Triton's
    own reason, in its model table and its load error, is the next step; not the shim, not "read the log" alone."""
    repo = shutil.copytree(rivalite_models, tmp_path / "models")
    config = next(repo.glob("*-asr-streaming-am-streaming/config.pbtxt"))
    config.write_text(config.read_text().replace("kind: KIND_CPU", "kind: KIND_GPU"))
    run = Run(tmp_path, work_dir, {"RIVA__MODEL_REPO": str(repo)})
    result = run.pytest("-m", "smoke")
    out = result.stdout
    assert result.returncode == 1 and "040 deploy       FAILED" in out, out[-4000:]
    steps = next_steps(out)
    first = steps[0]
    assert first.startswith("a model asks for a GPU (instance_group KIND_GPU) and tritonserver sees none"), steps
    assert "UNAVAILABLE: Invalid argument: instance group" in first  # the line it was seen on
    assert not any("shim" in s for s in steps), "the shim step does not fit a model that cannot load"
    launcher = [i for i, s in enumerate(steps) if s.startswith("the launcher stopped")]
    assert launcher and launcher[0] > 0, "the launcher's exit is an effect, listed after its cause"
    log = run.reports / "logs" / "riva-local.log"
    assert any(s == f"the whole log, with how far the start got: `rivaverify diagnose {log}`" for s in steps)
    report = scan(open(log, "rb"), str(log), gpu=False)
    (row,) = [m for m in report.models if m.status == "UNAVAILABLE"]
    assert row.name == config.parent.name and "has kind KIND_GPU" in row.reason
    assert {f.signature for f in report.failures} >= {"kind-gpu-no-gpu", "model-unavailable", "process-exited"}
    assert exit_code(report) == 1 and run.leftovers() == []


def test_the_launcher_bug_is_named_and_nothing_unrelated(tmp_path, work_dir):  # noqa: F811
    run = Run(tmp_path, work_dir, {"RIVA__SHIM": "false"})
    result = run.pytest("-m", "smoke")
    steps = next_steps(result.stdout)
    assert result.returncode == 1 and steps, result.stdout[-4000:]
    assert steps[0].startswith("tritonserver started without --model-repository: the shim is not first on PATH")
    other = r"instance_group KIND_GPU|out of memory: free|NGC refused|a port is taken"  # other signatures' steps
    unrelated = [s for s in steps if re.search(other, s)]
    assert not unrelated, unrelated
    log = run.reports / "logs" / "riva-local.log"
    report = scan(open(log, "rb"), str(log), gpu=False)
    assert [f.signature for f in report.failures][:1] == ["no-model-repository"]
    assert run.leftovers() == []
