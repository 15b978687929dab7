"""A phase's next steps fit its failure: the failed check's own message and the signatures found, and only those
of the phase's steps that fit the failure and the flavor (not every step the phase has)."""

from __future__ import annotations

from rivaverify.phases import BY_NAME, fitting_steps


def failure(nodeid: str, message: str) -> list[dict[str, str]]:
    return [{"nodeid": nodeid, "when": "call", "message": message}]


def test_an_endpoint_nothing_listens_on_gets_no_ram_port_or_gpu_step():
    steps = fitting_steps(BY_NAME["preflight"], failure(
        "suites/test_010_preflight.py::test_ports", "AssertionError: nothing listens on 127.0.0.1:1, the endpoint to "
        "attach to: start the deployment or fix RIVA__HOST"), "classic")
    assert steps == ["the failed check above names the fact, the expected and the actual value"]


def test_each_preflight_step_comes_with_the_failure_it_fits():
    cases = {
        ("test_free_ram", "1.2 GiB RAM available, profile needs 4 GiB"): "free RAM or disk",
        ("test_ports", "ports needed by the deployment are taken: riva grpc 50051 by nginx"): "stop what holds",
        ("test_gpu_driver_minimum", "ASR NIM 1.6.0 needs NVIDIA driver 535 or later"): "GPU: `nvidia-smi`",
    }
    for (test, message), expected in cases.items():
        steps = fitting_steps(BY_NAME["preflight"], failure(f"suites/test_010_preflight.py::{test}", message),
                              "classic")
        assert len(steps) == 2 and steps[1].startswith(expected), (test, steps)


def test_the_shim_step_fits_the_launcher_bug_on_classic_and_never_a_nim():
    bug = failure("suites/test_040_deploy.py::test_shim_is_first_on_path",  # the suite's own wording
                  "the first tritonserver on the launcher's PATH is /opt/tritonserver/bin/tritonserver, not the shim "
                  "(read from /proc/42/environ); start-riva will start it without --model-repository.")
    classic = fitting_steps(BY_NAME["deploy"], bug, "classic")
    assert any("rivaverify shim install" in s for s in classic)
    nim = fitting_steps(BY_NAME["deploy"], bug, "nim")
    assert not any("shim" in s for s in nim) and any("rivaverify diagnose --container" in s for s in nim)
    died = failure("suites/test_040_deploy.py::test_tritonserver_argv_carries_the_model_repository_once",
                   "no tritonserver process is running; the launcher exited with 1. Log tail:")
    assert not any("shim" in s for s in fitting_steps(BY_NAME["deploy"], died, "classic"))
