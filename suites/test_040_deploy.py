"""Phase 040: the shim took (tritonserver's effective argv), the deployment became ready stage by stage and
answers one inference, and the launcher's log shows no failure."""

from __future__ import annotations

import time

import grpc
import pytest

from rivaverify import gpu_requirements, modelrepo, nim, preflight, shim
from rivaverify.asr import client
from rivaverify.diagnostics import diagnose
from rivaverify.report import figures

pytestmark = [pytest.mark.smoke, pytest.mark.production]


def _inside(target, check: str, record_fact) -> bool:
    """Where the target checks inside each replica (kubernetes, through exec): its verdicts, one per replica; True
    when they decided the test."""
    found = [(replica, ok, detail) for replica, name, ok, detail in target.inside() if name == check]
    if not found:
        return False
    record_fact(f"inside: {check}", {r: {"passed": ok, "detail": d} for r, ok, d in found})
    failed = [f"{r}: {d}" for r, ok, d in found if ok is False]
    assert not failed, f"{check} fails in {len(failed)} of {len(found)} replicas:\n  " + "\n  ".join(failed)
    if all(ok is None for _, ok, _ in found):
        pytest.skip("; ".join(f"{r}: {d}" for r, _, d in found))
    return True


def _needs_runtime(deployment):
    if deployment.runtime is None:
        pytest.skip(f"target {deployment.target}: the launcher was not started by this run, its PATH is not visible")


def test_shim_is_first_on_path(deployment, target_host, settings, target, record_fact):
    if _inside(target, "shim first on PATH", record_fact):
        return
    _needs_runtime(deployment)
    if target.nim:
        pytest.skip("flavor nim: a NIM has no start-riva; it starts tritonserver with its cache's repository (the "
                    "next test reads its argv)")
    if not target.launches_start_riva:
        pytest.skip(f"RIVA__DOCKER_LAUNCH={settings.docker_launch}: no start-riva, tritonserver is started with "
                    "--model-repository on its own argv (the next test reads it)")
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


def _tritonserver_pids(deployment, target_host, settings) -> list[int]:
    """tritonserver's pids: the runtime's processes, or (an endpoint) whatever serves Triton's HTTP port."""
    if deployment.runtime is not None:
        return [p.pid for p in deployment.runtime.find("tritonserver")]
    return shim.tritonservers_serving(target_host, settings.triton_http_port)


def test_tritonserver_argv_carries_the_model_repository_once(deployment, target_host, settings, target,
                                                             record_fact):
    if _inside(target, "argv", record_fact):
        return
    pids = _tritonserver_pids(deployment, target_host, settings)
    if deployment.runtime is None and not pids:
        pytest.skip(f"no tritonserver process visible through {settings.host_url}: set RIVA__HOST_URL to "
                    "the host (ssh://…) or container (docker://…) where it runs")
    if deployment.nim_url and not pids:
        pytest.skip("flavor nim: no tritonserver process among the NIM's; nothing to read an argv from")
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


def test_the_repository_the_nim_serves_is_valid(deployment, target, request, record_fact):
    """A NIM deploys its profile's repository into its cache as it starts: phase 030's checks, on the repository its
    tritonserver serves (--model-repository, read from its argv)."""
    if not target.nim or deployment.runtime is None:
        pytest.skip("flavor classic: phase 030 checks the repository (where it is visible)" if not target.nim else
                    f"target {target.name}: the NIM's cache is not visible from here")
    cache = request.getfixturevalue("nim_cache")  # a NIM's only
    served = nim.served_repository([p.argv for p in deployment.runtime.find("tritonserver")], cache)
    if served is None:
        pytest.skip("no tritonserver argv names a --model-repository (the argv test above says why)")
    record_fact("nim_model_repo", str(served))
    repo = modelrepo.read(served)
    record_fact("models", sorted(repo.models))
    assert not repo.problems, f"the repository the NIM serves, {served}:\n  " + "\n  ".join(map(str, repo.problems))


def test_open_files_limit(deployment, target_host, settings, target, record_fact):
    """tritonserver's `Max open files` as the kernel keeps it. A NIM needs NIM_OPEN_FILES (its run line's --ulimit
    nofile=2048:2048, else `Too many open files`); riva-speech documents no minimum, so below it is a warning."""
    pids = _tritonserver_pids(deployment, target_host, settings)
    if not pids:
        where = deployment.runtime.host_url() if deployment.runtime else settings.host_url
        pytest.skip(f"no tritonserver process visible through {where}: the argv test above says why")
    pid = pids[0]
    limit = preflight.open_files_limit(target_host, pid)
    if limit is None:
        pytest.skip(f"/proc/{pid}/limits cannot be read here")
    soft, hard = limit
    record_fact("open_files_limit", {"pid": pid, "soft": soft, "hard": hard})
    need = gpu_requirements.NIM_OPEN_FILES
    low = soft is not None and soft < need
    if not (target.nim or gpu_requirements.is_nim(target.image)):
        if low:
            record_fact("open_files_warning", f"tritonserver may open {soft} files; NIM asks for {need} (riva-speech "
                        "documents no minimum): if the log says `Too many open files`, raise --ulimit nofile")
        return
    assert not low, (
        f"tritonserver (pid {pid}) may open {soft} files; the NIM needs {need} (NIM's docker run line has --ulimit "
        f"nofile={need}:{need}, else `Too many open files`): raise the container's nofile limit")


@pytest.mark.gpu
def test_gpu_visible_in_the_container(deployment, settings, target, record_fact):
    """nvidia-smi inside the container lists the GPUs it was given: the toolkit and --gpus worked."""
    rt = deployment.runtime
    if rt is None or rt.name != "docker":
        pytest.skip(f"target {deployment.target}: no container started by this run; 010 read the host's GPUs")
    if not target.needs_gpu:
        pytest.skip(f"image {target.image or 'riva-lite'} runs on the CPU: no GPU asked of the container")
    gpus, why = preflight.visible_gpus(
        rt.exec(["nvidia-smi", f"--query-gpu={preflight.GPU_QUERY}", "--format=csv,noheader,nounits"]))
    record_fact("container_gpus", gpus if gpus is not None else why)
    assert gpus, (
        f"the container ({rt.host_url()}) sees no GPU ({why or 'nvidia-smi lists none'}): install the NVIDIA "
        "Container Toolkit and configure Docker for it (`nvidia-ctk runtime configure --runtime=docker`, restart "
        f"dockerd), and check RIVA__DOCKER_GPUS ({settings.docker_gpus})")
    wanted = settings.docker_gpus.split(",") if settings.docker_gpus[0].isdigit() else None
    assert wanted is None or len(gpus) == len(wanted), (
        f"RIVA__DOCKER_GPUS={settings.docker_gpus} asked for {len(wanted)} GPUs, the container sees {len(gpus)}: "
        + ", ".join(f"{g['index']} {g['name']}" for g in gpus))


def test_readiness_stages(deployment, record_figure, record_fact):
    result = deployment.readiness
    for r in result.results:
        record_figure(figures.READY.format(r.name.replace(' ', '_')), round(r.elapsed_s, 3), "s", attempts=r.attempts)
    record_fact("readiness", [vars(r) for r in result.results])
    if deployment.ready_s is not None:
        record_figure(figures.READY_TOTAL, round(deployment.ready_s, 3), "s")
        if deployment.cache:  # a NIM: the first start fills its cache, later ones reuse it
            record_figure(figures.NIM_START.format(deployment.cache), round(deployment.ready_s, 3), "s")
    failed = result.failed
    assert result.ok, (
        f"readiness stage '{failed.name}' failed: {failed.detail}; last stage reached: {result.reached or 'none'}"
        f"\n{result.summary()}\nLog tail:\n{deployment.log_tail(15)}")


def test_first_inference_answers(riva, served, smoke_clip, settings, thresholds, record_figure):
    """Ready as NVIDIA's quick start means it: health SERVING and the model listed (the stages above), then
    one inference that answers (a server can be SERVING with no model behind it): a Recognize, or a stream where
    the deployment serves streaming only. Accuracy is phase 050's."""
    utt, audio = smoke_clip
    cfg = client.config(audio, utt.lang or settings.language_code, model=settings.model_name or "")
    rpc = "Recognize" if "offline" in served else "StreamingRecognize"
    try:
        if rpc == "Recognize":
            result = client.recognize(riva, audio, cfg, timeout=thresholds.max_response_s * 3)
            seconds, results = result.seconds, len(result.response.results)
        else:
            started = time.monotonic()
            streamed = client.stream(riva, audio, cfg, chunk_ms=100, interim=False,
                                     timeout=thresholds.max_response_s * 3 + audio.duration_s)
            seconds, results = time.monotonic() - started, len(streamed.finals)
    except grpc.RpcError as exc:
        pytest.fail(f"the first {rpc} ({utt.id}) failed with {exc.code().name}: {exc.details()}: health and "
                    "the model list said ready, inference did not")
    record_figure(figures.READY.format("first_inference"), round(seconds, 3), "s", results=results, rpc=rpc)


# What a healthy riva-speech container prints (NVIDIA's start-riva; riva_server's glog lines): recorded when
# present, never required. "Riva server is ready..." is not among them: only the quick start's host script
# riva_start.sh prints it, after grpc_health_probe passed (docs/riva-behaviour.md).
CONTAINER_LINES = {
    "triton_ready": "Triton server is ready",
    "riva_listening": "Riva Conversational AI Server listening on",
    "recognize_called": "ASRService.Recognize called.",
    **nim.READY_LINES,
}


def test_launcher_log_shows_no_failure(deployment, target, record_fact):
    """The launcher still runs, and its log holds no known failure signature (start-riva's child-exited line,
    a model that failed to load, ...): what a healthy deployment's log looks like, on Riva and riva-lite."""
    _needs_runtime(deployment)
    rt = deployment.runtime
    log = rt.logs()
    lines = log.splitlines()
    record_fact("container_lines", {key: next((line.rstrip() for line in lines if text in line), None)
                                    for key, text in CONTAINER_LINES.items()})
    if deployment.nim_url:
        record_fact("nim_profile", nim.profile_named(log))  # how a NIM words it is not confirmed: never required
    found = diagnose(log, log=True, gpu=target.needs_gpu)
    steps = "".join(f"\n- {d.signature}: {d.line}\n  next step: {d.next_step}" for d in found)
    assert rt.alive() and not found, (
        ("the launcher runs" if rt.alive() else f"the launcher exited with {rt.exit_code()}")
        + (f", and its log shows known failures:{steps}" if found else "")
        + f"\nLog tail:\n{deployment.log_tail(15)}")
