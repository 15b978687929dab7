"""Phase 040: the shim took (tritonserver's effective argv), and the deployment became ready stage by stage."""

from __future__ import annotations

import time

import pytest

from rivaverify import shim

pytestmark = [pytest.mark.smoke, pytest.mark.production]


def _needs_runtime(deployment):
    if deployment.runtime is None:
        pytest.skip(f"target {deployment.target}: the launcher was not started by this run, its PATH is not visible")


def _path_of_launcher(deployment, target_host) -> tuple[str, str]:
    """The launcher's PATH, from /proc/<pid>/environ while it runs, else from what it was started with."""
    launcher = deployment.runtime.launcher()
    if launcher is not None:
        environ = target_host.file(f"/proc/{launcher.pid}/environ").content.split(b"\0")
        for entry in environ:
            if entry.startswith(b"PATH="):
                return entry[5:].decode(), f"/proc/{launcher.pid}/environ"
    return deployment.runtime.launch_env().get("PATH", ""), "the launch environment (launcher not running)"


def test_shim_is_first_on_path(deployment, target_host, record_fact):
    _needs_runtime(deployment)
    path, source = _path_of_launcher(deployment, target_host)
    candidates = [f"{d}/tritonserver" for d in path.split(":") if d]
    first = next((c for c in candidates if target_host.file(c).exists), None)
    record_fact("launcher_path", {"PATH": path, "source": source, "tritonserver": first})
    assert first is not None, (
        f"no tritonserver on the launcher's PATH ({source}: {path}), so no shim either: start-riva falls back to "
        "a tritonserver of its own, started without --model-repository. Put `rivaverify shim install DIR "
        "--model-repository REPO`'s DIR/bin first on PATH")
    text = target_host.file(first).content_string if target_host.file(first).size < 65536 else ""
    assert shim.LOG_PREFIX in text, (
        f"the first tritonserver on the launcher's PATH is {first}, not the shim (read from {source}); "
        "start-riva will start it without --model-repository. Put `rivaverify shim install DIR "
        "--model-repository REPO`'s DIR/bin first on PATH" + (" (RIVA__SHIM=false left it out on purpose)"
                                                               if not deployment.shim else ""))


def _endpoint_tritonservers(target_host, http_port: int) -> list[int]:
    """tritonserver processes on the endpoint's host serving its HTTP port (one host may run several)."""
    found = []
    for proc in target_host.process.filter(comm="tritonserver"):
        argv = shim.parse_cmdline(target_host.file(f"/proc/{proc.pid}/cmdline").content)
        ports = [a.split("=", 1)[1] for a in argv if a.startswith("--http-port=")]
        if ports == [str(http_port)] or (not ports and http_port == 8000):
            found.append(proc.pid)
    return found


def test_tritonserver_argv_carries_the_model_repository_once(deployment, target_host, settings, record_fact):
    if deployment.runtime is not None:
        pids = [p.pid for p in deployment.runtime.find("tritonserver")]
    else:
        pids = _endpoint_tritonservers(target_host, settings.triton_http_port)
        if not pids:
            pytest.skip(f"no tritonserver process visible through {settings.host_url}: set RIVA__HOST_URL to "
                        "the host (ssh://…) or container (docker://…) where it runs")
    assert pids, (f"no tritonserver process is running; the launcher "
                  f"{'runs' if deployment.runtime.alive() else f'exited with {deployment.runtime.exit_code()}'}. "
                  f"Log tail:\n{deployment.log_tail(15)}")
    argv = shim.parse_cmdline(target_host.file(f"/proc/{pids[0]}/cmdline").content)
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
    deadline = time.monotonic() + LAUNCHER_READY_GRACE_S
    while "Riva server is ready" not in deployment.runtime.logs() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert "Riva server is ready" in deployment.runtime.logs(), (
        f"the launcher never logged 'Riva server is ready' (waited {LAUNCHER_READY_GRACE_S} s after readiness "
        f"passed). Log tail:\n{deployment.log_tail(15)}")
