"""The log gate, run by pytester on small suites: after a phase's last test, the lines the deployment's logs
gained fail it (critical) or go into its facts (warnings); CUDA lines count only where a GPU is expected."""

from __future__ import annotations

import json

SUITE = """
import pathlib

def test_{name}():
    log = pathlib.Path("reports/logs/riva-local.log")
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:
        f.write({line!r} + "\\n")
    assert {ok}
"""
LOAD_FAILED = "E0101 00:00:00.000000 1 model_lifecycle.cc:596] failed to load model 'asr': BACKEND_FAILED"
CUDA = "W0101 pinned_memory_manager.cc:273] CUDA driver version is insufficient for CUDA runtime version"
CROSS = ("W0101 logging.cc:46] Using an engine plan file across different models of devices is not recommended "
         "and is likely to affect performance or even cause errors.")


def suite(pytester, order: str, name: str, line: str = "I0101 healthy", ok: bool = True) -> None:
    pytester.makepyfile(**{f"test_{order}_{name}": SUITE.format(name=name, line=line, ok=ok)})


def state(pytester, order: str) -> dict:
    return json.loads((pytester.path / "state" / f"{order}.json").read_text())


def test_a_critical_log_line_fails_a_passing_phase_and_stops_the_next(suite_dir):
    suite(suite_dir, "040", "deploy", line=LOAD_FAILED)
    suite(suite_dir, "050", "smoke")
    result = suite_dir.runpytest("-rs")
    result.assert_outcomes(passed=1, errors=1, skipped=1)
    result.stdout.fnmatch_lines([
        "*phase 040 deploy passed its tests, but the deployment's log *riva-local.log shows 1 critical*",
        "*- critical-log-line: " + LOAD_FAILED,
        "*  next step: the server logged a critical error*",
        "050 smoke*NOT_RUN*",
    ])
    assert state(suite_dir, "040")["status"] == "failed"


def test_warnings_go_into_the_phase_facts_and_it_passes(suite_dir):
    suite(suite_dir, "040", "deploy", line=CROSS)
    suite(suite_dir, "050", "smoke")
    result = suite_dir.runpytest()
    result.assert_outcomes(passed=2)
    facts = state(suite_dir, "040")["facts"]
    (warning,) = facts["log_warnings"]
    assert (warning["signature"], warning["line"]) == ("engine-other-device", CROSS)
    assert facts["log_gate"]["gpu_expected"] is False
    assert "log_warnings" not in state(suite_dir, "050")["facts"], "050 rescanned 040's lines"


def test_the_cuda_line_fails_only_where_a_gpu_is_expected(suite_dir, monkeypatch):
    suite(suite_dir, "040", "deploy", line=CUDA)
    suite_dir.runpytest().assert_outcomes(passed=1)  # target local: riva-lite on a CPU
    (suite_dir.path / "reports" / "logs" / "riva-local.log").unlink()
    monkeypatch.setenv("RIVA__REQUIRE_GPU", "true")
    result = suite_dir.runpytest()
    result.assert_outcomes(passed=1, errors=1)
    result.stdout.fnmatch_lines(["*- cuda-driver-too-old: " + CUDA])


def test_an_earlier_runs_log_is_not_held_against_this_run(suite_dir):
    logs = suite_dir.path / "reports" / "logs"
    logs.mkdir(parents=True)
    (logs / "riva-old.log").write_text(LOAD_FAILED + "\n")
    suite(suite_dir, "040", "deploy")
    suite_dir.runpytest().assert_outcomes(passed=1)


def test_a_failed_phase_keeps_its_own_failure(suite_dir):
    suite(suite_dir, "040", "deploy", line=LOAD_FAILED, ok=False)
    result = suite_dir.runpytest()
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*next step: the server logged a critical error*"])


def test_a_nim_whose_tritonserver_dies_after_ready_fails_a_passing_phase(suite_dir):
    """NIM's wording (a published log, tests/data/real-logs/nim-nemotron-asr-ucx-segfault.log), not start-riva's."""
    suite(suite_dir, "040", "deploy", line="tritonserver process has exited unexpectedly. Stopping container.")
    suite(suite_dir, "050", "smoke")
    result = suite_dir.runpytest()
    result.assert_outcomes(passed=1, errors=1, skipped=1)
    result.stdout.fnmatch_lines(["*- process-exited: tritonserver process has exited unexpectedly*"])
