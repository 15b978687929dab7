"""Phase 040: the shim took (tritonserver's effective argv), and the deployment became ready stage by stage."""

from __future__ import annotations

import pytest

from rivaverify import shim
from rivaverify.readiness import WaitTimeout, wait_until

pytestmark = [pytest.mark.smoke, pytest.mark.production]


def _needs_runtime(deployment):
    if deployment.runtime is None:
        pytest.skip(f"target {deployment.target}: the launcher was not started by this run, its PATH is not visible")


def test_shim_is_first_on_path(deployment, target_host, record_fact):
    _needs_runtime(deployment)
    launcher = deployment.runtime.launcher()
    path, source = shim.launcher_path(target_host, launcher.pid if launcher else None,
                                      deployment.runtime.launch_env())
    first = shim.first_on_path(target_host, path)
    record_fact("launcher_path", {"PATH": path, "source": source, "tritonserver": first})
    assert first is not None, (
        f"no tritonserver on the launcher's PATH ({source}: {path}), so no shim either: start-riva falls back to "
        "a tritonserver of its own, started without --model-repository. Put `rivaverify shim install DIR "
        "--model-repository REPO`'s DIR/bin first on PATH")
    assert shim.is_shim(target_host, first), (
        f"the first tritonserver on the launcher's PATH is {first}, not the shim (read from {source}); "
        "start-riva will start it without --model-repository. Put `rivaverify shim install DIR "
        "--model-repository REPO`'s DIR/bin first on PATH" + (" (RIVA__SHIM=false left it out on purpose)"
                                                               if not deployment.shim else ""))


def test_tritonserver_argv_carries_the_model_repository_once(deployment, target_host, settings, record_fact):
    if deployment.runtime is not None:
        pids = [p.pid for p in deployment.runtime.find("tritonserver")]
    else:
        pids = shim.tritonservers_serving(target_host, settings.triton_http_port)
        if not pids:
            pytest.skip(f"no tritonserver process visible through {settings.host_url}: set RIVA__HOST_URL to "
                        "the host (ssh://…) or container (docker://…) where it runs")
    assert pids, (f"no tritonserver process is running; the launcher "
                  f"{'runs' if deployment.runtime.alive() else f'exited with {deployment.runtime.exit_code()}'}. "
                  f"Log tail:\n{deployment.log_tail(15)}")
    argv = shim.tritonserver_argv(target_host, pids[0])
    record_fact("tritonserver_argv", argv)
    values = shim.model_repository_values(argv)
    expected = deployment.model_repo or (str(settings.model_repo) if settings.model_repo else None)
    assert len(values) == 1, f"tritonserver (pid {pids[0]}) has {len(values)} --model-repository values: {argv}"
    if expected is not None:
        assert values == [expected], f"tritonserver serves {values[0]}, expected {expected}: {argv}"


def test_readiness_stages(deployment, record_figure, record_fact):
    result = deployment.readiness
    for r in result.results:
        record_figure(f"ready.{r.name.replace(' ', '_')}", round(r.elapsed_s, 3), "s", attempts=r.attempts)
    record_fact("readiness", [vars(r) for r in result.results])
    if deployment.ready_s is not None:
        record_figure("ready_total", round(deployment.ready_s, 3), "s")
    failed = result.failed
    assert result.ok, (
        f"readiness stage '{failed.name}' failed: {failed.detail}; last stage reached: {result.reached or 'none'}"
        f"\n{result.summary()}\nLog tail:\n{deployment.log_tail(15)}")


LAUNCHER_READY_GRACE_S = 15


def test_launcher_reports_ready(deployment):
    """The launcher's own line; it polls the API itself, so it may log a moment after our readiness passed."""
    _needs_runtime(deployment)
    rt = deployment.runtime
    try:  # a launcher that exited logs nothing more
        wait_until(lambda: "Riva server is ready" in rt.logs() or not rt.alive(), LAUNCHER_READY_GRACE_S,
                   "the launcher's ready line", interval_s=0.2)
    except WaitTimeout:
        pass
    assert "Riva server is ready" in rt.logs(), (
        "the launcher never logged 'Riva server is ready' "
        + (f"(waited {LAUNCHER_READY_GRACE_S} s after readiness passed)" if rt.alive()
           else f"(it exited with {rt.exit_code()})") + f". Log tail:\n{deployment.log_tail(15)}")
