"""Phase 070 run as a user runs it: against riva-lite with the gateway the suite starts, attached to a running
gateway (RIVA__GATEWAY_URL), skipped with its reason, planned by --dry-run, and interrupted by Ctrl-C.
No gateway or riva-lite process is left behind."""

from __future__ import annotations

import secrets

import pytest

from rivaverify import procfs
from tests.test_suites_on_riva_lite import Run, _plugin

pytestmark = pytest.mark.slow
pytest.importorskip("aiohttp", reason="rivagateway needs the gateway extra: pip install -e '.[gateway]'")


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    pytest.importorskip("pytriton", reason="needs the lite extra: pip install -e '.[lite]'")
    return tmp_path_factory.mktemp("work")


def _gateways_of(run: Run) -> list[int]:
    """Live processes writing to a gateway log of this run (the fixture sends rivagateway's output there)."""
    logs = str(run.reports / "logs" / "gateway")
    return [pid for pid in procfs.pids() if procfs.fd_target(pid, 1).startswith(logs) and procfs.alive(pid)]


def test_phase_070_passes_on_riva_lite(tmp_path, work_dir):
    run = Run(tmp_path, work_dir)
    result = run.pytest("-m", "gateway")
    state = run.state_of("070")
    assert result.returncode == 0, f"{state['failures'][:2]}\n{result.stdout[-3000:]}{result.stderr[-2000:]}"
    assert state["status"] == "passed" and set(state["counts"]) == {"passed"}, state["counts"]  # none skipped
    assert state["figures"]["gateway.wer"]["value"] <= 0.25 and state["facts"]["gateway_health"]["status"] == "ok"
    logs = run.reports / "logs"
    assert "rivagateway listening on ws://127.0.0.1:" in (logs / "gateway.log").read_text()
    assert "closed 1011" in (logs / "gateway-riva-down.log").read_text()
    assert run.leftovers() == [] and _gateways_of(run) == []


def test_attaches_to_a_running_gateway(tmp_path, work_dir, rivalite_models):
    from rivaverify.gateway.process import GatewayProcess, command, write_keys
    from testing.local_riva import LocalRiva

    key = secrets.token_urlsafe(24)
    with LocalRiva(rivalite_models, tmp_path / "riva") as riva:
        riva.wait_ready()
        keys = write_keys(tmp_path / "keys", {"team": key})
        argv = command(riva.riva_uri, keys, args=("--rate-limit", "5", "--rate-window", "2"))
        proc = GatewayProcess(argv, tmp_path / "gw.log").start()
        try:
            run = Run(tmp_path, work_dir, {"RIVA__TARGET": "endpoint", "RIVA__GATEWAY_URL": proc.url,
                                           "RIVA__GATEWAY_API_KEY": key})
            result = run.pytest("-m", "gateway", "-rs")
        finally:
            proc.stop()
    assert proc.proc.returncode == 0
    out = result.stdout
    assert result.returncode == 0, Run.why(result)
    assert "the suite cannot take its Riva down" in out
    counts = run.state_of("070")["counts"]
    assert counts.get("skipped") == 1 and set(counts) == {"passed", "skipped"}, counts  # only Riva-down skipped
    assert key not in out and key not in (run.reports / "gateway.html").read_text()
    assert riva.leftovers() == []


def test_endpoint_without_a_gateway_skips_with_the_reason(tmp_path, work_dir):
    run = Run(tmp_path, work_dir, {"RIVA__TARGET": "endpoint"})
    result = run.pytest("-m", "gateway", "-rs")
    assert result.returncode == 0, Run.why(result)
    assert "no gateway configured" in result.stdout and "RIVA__GATEWAY_URL=ws://HOST:PORT" in result.stdout
    assert run.state_of("070")["status"] == "skipped"


def test_dry_run_plans_the_gateway_and_starts_nothing(tmp_path, work_dir):
    run = Run(tmp_path, work_dir)
    result = run.pytest("-m", "gateway", "--dry-run")
    assert result.returncode == 0, Run.why(result)
    out = result.stdout
    assert "rivagateway --riva localhost:" in out and "--listen 127.0.0.1:0 --keys" in out
    assert "API keys: suite, limits (values not recorded)" in (run.reports / "plan.json").read_text()
    assert not (run.reports / "logs" / "gateway.log").exists() and run.leftovers() == []


def test_ctrl_c_in_phase_070_stops_the_gateway_and_riva(tmp_path, work_dir):
    run = Run(tmp_path, work_dir)
    _plugin(tmp_path, run, """
        import os, signal, pytest

        @pytest.hookimpl(tryfirst=True)
        def pytest_runtest_setup(item):
            if "test_metrics_need_no_key" in item.nodeid:
                signal.signal(signal.SIGINT, signal.default_int_handler)  # even where the caller ignores it
                os.kill(os.getpid(), signal.SIGINT)
    """)
    result = run.pytest("-m", "gateway", "-p", "disrupt")
    assert result.returncode == 2, result.stdout[-3000:]
    assert "KeyboardInterrupt" in result.stdout
    assert (run.reports / "logs" / "gateway.log").is_file()  # it was started before the interrupt
    assert run.leftovers() == [] and _gateways_of(run) == []
