"""Phase 010: facts about the host the deployment runs on, checked against the profile."""

from __future__ import annotations

import pytest

from rivaverify import docker_disk, gpu_requirements, nim, preflight, releases
from rivaverify.runtime import docker_engine
from rivaverify.runtime.docker_engine import DockerError
from rivaverify.targets.base import port_label

pytestmark = [pytest.mark.smoke, pytest.mark.production]


def test_os_and_kernel(host, record_fact):
    facts = preflight.os_facts(host)
    record_fact("os", facts)
    assert facts["os"] == "linux", f"host OS is {facts['os']!r}, expected linux: Riva runs on Linux only"


def test_cpu_count(host, thresholds, record_fact):
    cpus = preflight.os_facts(host)["cpus"]
    record_fact("cpus", cpus)
    assert cpus >= thresholds.min_cpus, (
        f"host has {cpus} CPU cores, profile needs at least {thresholds.min_cpus}: use a larger host "
        "or override RIVA__MIN_CPUS")


def test_free_ram(host, thresholds, record_fact):
    mem = preflight.memory(host)
    record_fact("memory_gb", {k: round(v, 2) for k, v in mem.items()})
    assert mem["available_gb"] >= thresholds.min_free_ram_gb, (
        f"{mem['available_gb']:.1f} GiB RAM available, profile needs {thresholds.min_free_ram_gb} GiB: "
        "stop other workloads or override RIVA__MIN_FREE_RAM_GB")


def test_free_disk(host, settings, thresholds, record_fact):
    path = str((settings.model_repo or settings.work_dir).absolute())
    where, free = preflight.disk_free_gb(host, path)
    record_fact("disk_free_gb", {"path": where, "free_gb": round(free, 2)})
    assert free >= thresholds.min_free_disk_gb, (
        f"{free:.1f} GiB free on {where}, profile needs {thresholds.min_free_disk_gb} GiB for models: "
        "free space or override RIVA__MIN_FREE_DISK_GB")


def test_ports(host, settings, target, record_fact):
    ports = target.ports()
    state = {name: preflight.listening(host, port) for name, port in ports.items()}
    record_fact("ports_listening", {f"{port_label(n)} {ports[n]}": v for n, v in state.items()})
    if not target.deploys:
        hostname = settings.grpc_host
        if hostname not in ("localhost", "127.0.0.1", "::1", "[::1]") or settings.host_url != "local://":
            pytest.skip(f"endpoint {settings.grpc_address} is not on the host whose sockets this run can see")
        assert state["riva"], (
            f"nothing listens on {settings.grpc_address}, the endpoint to attach to: start the deployment or fix "
            "RIVA__HOST")
        owner = preflight.port_owner(host, ports["riva"])
        record_fact("riva_port_owner", owner or "unknown")
        assert not owner or preflight.is_riva_process(owner, preflight.owner_argv(host, owner)), (
            f"{settings.grpc_address} is held by {owner}, not a Riva server (riva_server, riva-lite, tritonserver or "
            "a container's docker-proxy): fix RIVA__HOST")
        return
    problem = target.port_problem(host, state)
    assert not problem, problem


@pytest.mark.docker
def test_docker_engine(target, plan, record_fact):
    if not target.uses_docker:
        pytest.skip(f"target {target.name} does not need Docker")
    if plan.dry_run:
        pytest.skip("dry run")
    try:
        engine, problem = preflight.docker_engine(), None
    except DockerError as exc:  # its message names the engine and the next step
        problem = str(exc)
    except Exception as exc:  # the SDK raises several kinds; all mean "no engine reached"
        problem = f"no Docker engine reachable ({exc}): start dockerd or set DOCKER_HOST (ssh:// works)"
    if problem:
        pytest.fail(problem, pytrace=False)
    record_fact("docker", engine)
    assert engine["os"] == "linux", f"Docker engine runs {engine['os']}, expected linux"


@pytest.mark.docker
def test_disk_fits_the_images_pull(target, host, thresholds, plan, record_fact):
    """A real image not on the engine yet is pulled (tens of GB, and a NIM's cache beside it): the engine's disk holds
    the profile's min_free_disk_gb, or the next step says what pruning would free."""
    if not target.uses_docker or target.riva_lite:
        pytest.skip(f"target {target.name}: no image is pulled (riva-lite's is built here)")
    if plan.dry_run:
        pytest.skip("dry run")
    engine, image = docker_engine.client(), target.image
    if docker_engine.image_present(engine, image):
        pytest.skip(f"{image} is on the engine: nothing to pull")
    where, free = preflight.disk_free_gb(host, engine.info().get("DockerRootDir") or "/var/lib/docker")
    reclaimable = docker_disk.reclaimable_gb(engine.df())
    record_fact("docker_disk", {"data_root": where, "free_gb": round(free, 1), "reclaimable_gb": reclaimable})
    problem = docker_disk.pull_space_problem(image, free, reclaimable, thresholds.min_free_disk_gb, where)
    assert not problem, problem


def _needs_nim(target):
    if not target.nim:
        pytest.skip("flavor classic: no NIM to run (RIVA__FLAVOR=nim)")
    if not target.deploys:
        pytest.skip(f"target {target.name}: the NIM runs already; its run line is not this run's")


def test_nim_key_in_the_environment(settings, target, record_fact):
    """A NIM downloads its model with NGC_API_KEY from its own environment; `docker login` only pulls the image."""
    _needs_nim(target)
    riva_lite = target.riva_lite
    record_fact("ngc_api_key", "set" if settings.ngc_api_key else "riva-lite's stand-in" if riva_lite else "missing")
    assert settings.ngc_api_key is not None or riva_lite, (
        f"NGC_API_KEY is not set, and the NIM {settings.image} downloads its model from NGC with it (a `docker login "
        "nvcr.io` lets Docker pull the image, not the NIM fetch its model): export NGC_API_KEY=<your key> (or "
        "RIVA__NGC_API_KEY); the suite passes it in the container's environment only")


@pytest.mark.docker
def test_nim_cache_folder_is_writable_by_the_nim(target, request, record_fact):
    """NIM's containers run as UID 1000: a host cache folder they cannot write fails the first start."""
    _needs_nim(target)
    if not target.uses_docker:
        pytest.skip(f"target {target.name}: riva-lite's NIM face runs as this user")
    cache = request.getfixturevalue("nim_cache")  # only for a NIM in a container: a fixture skipped otherwise
    record_fact("nim_cache", {"path": str(cache), "filled": nim.cache_filled(cache)})
    problem = nim.cache_problem(cache)
    assert problem is None, f"the NIM cache (RIVA__NIM_CACHE): {problem}"


@pytest.fixture(scope="module")
def gpu_list(host, settings, target):
    found = preflight.gpus(host)
    if not found:
        if target.needs_gpu:
            pytest.fail(f"no NVIDIA GPU found (nvidia-smi {'missing' if found is None else 'lists none'}), but "
                        f"target {target.name} with image {target.image or 'riva-lite'} needs one: install the "
                        "driver" + (" (or unset RIVA__REQUIRE_GPU)" if settings.require_gpu else ""))
        if not target.deploys:
            pytest.skip("no GPU visible on the host checked; target endpoint: set RIVA__HOST_URL to the server's "
                        "host (ssh://...) to check its GPUs, and RIVA__REQUIRE_GPU=true to make this a failure")
        pytest.skip(f"no GPU on this host; target {target.name} ({target.image or 'riva-lite'}) runs on the CPU")
    return found


@pytest.mark.gpu
def test_gpu_driver_and_memory(gpu_list, thresholds, record_fact):
    record_fact("gpus", gpu_list)
    # memory_gb None: nvidia-smi reports [N/A] on unified-memory GPUs (GB10), so there is no total to check
    # MIG: the largest slice is what one Riva server can get (Riva's support matrix: MIG works given the memory)
    size = {g["index"]: preflight.usable_memory_gb(g) for g in gpu_list}
    small = [g for g in gpu_list if size[g["index"]] is not None and size[g["index"]] < thresholds.min_gpu_memory_gb]
    assert not small, (
        f"GPUs with less than {thresholds.min_gpu_memory_gb} GiB: "
        + ", ".join(f"{g['index']} {g['name']} {size[g['index']]} GiB{' (largest MIG slice)' if 'mig' in g else ''}"
                    for g in small)
        + ": use a larger GPU or override RIVA__MIN_GPU_MEMORY_GB")


@pytest.mark.gpu
def test_gpu_driver_minimum(gpu_list, settings, target, record_fact):
    release = target.release
    row, reason = gpu_requirements.driver_minimum(release)
    if row is None:
        pytest.skip(reason)
    record_fact("driver_minimum", {"image": settings.image, "release": str(release), "min_branch": row.min_major,
                                   "source": row.source})
    old = preflight.old_drivers(gpu_list, row.min_major)
    assert not old, (
        f"{release} needs NVIDIA driver {row.min_major} or later ({row.source}); found "
        + ", ".join(f"GPU {g['index']} {g['name']} driver {g['driver_version']}" for g in old)
        + ": upgrade the driver or use an image this driver supports")


FREE_SHARE = 0.9  # of the memory bound: an idle GPU shows a few hundred MiB in use (driver, context)


@pytest.mark.gpu
def test_gpu_free_memory(gpu_list, target, thresholds, record_fact):
    if not target.deploys:
        pytest.skip("target endpoint: the running deployment holds its GPU memory, so free memory says nothing")
    if not any("memory_free_gb" in g for g in gpu_list):
        pytest.skip("nvidia-smi's answer has no memory.free column")
    record_fact("gpu_memory_free_gb", {g["index"]: g.get("memory_free_gb") for g in gpu_list})
    need = round(thresholds.min_gpu_memory_gb * FREE_SHARE, 1)  # an idle GPU keeps a little for the driver
    low = preflight.low_free_memory(gpu_list, need)
    assert not low, (
        f"GPUs with less than {need} GiB free ({FREE_SHARE:.0%} of the profile's {thresholds.min_gpu_memory_gb} GiB): "
        + ", ".join(f"{g['index']} {g['name']} {g['memory_free_gb']} of {g['memory_gb']} GiB free" for g in low)
        + ": stop what uses the GPU (nvidia-smi lists the processes) or override RIVA__MIN_GPU_MEMORY_GB")


@pytest.mark.gpu
def test_gpu_selection(gpu_list, settings, target):
    """A NIM takes one GPU on a host with two or more: --gpus all is not supported there (NIM's configuration)."""
    if not target.uses_docker:
        pytest.skip(f"target {target.name}: this run does not choose the deployment's GPUs")
    problem = gpu_requirements.gpu_selection_problem(settings.image, settings.docker_gpus, len(gpu_list))
    assert problem is None, problem


@pytest.mark.gpu
def test_gpu_meets_the_releases_minimum(gpu_list, target, record_fact):
    """Which Riva this is (riva-speech 2.x, Riva ASR NIM 1.x, Speech NIM YY.MM.n), and the GPU its release asks for:
    compute capability and memory, required from Speech NIM 26.x, recommended by ASR NIM 1.x (rivaverify/releases)."""
    release = target.release
    record_fact("release", {"kind": release.kind, "version": release.version, "how": release.how})
    if target.rules.min_compute_capability is None:
        pytest.skip(f"{release}: no GPU minimum is tabled for it ({target.rules.source}); for a NIM whose tag names "
                    "no release, set RIVA__NIM_RELEASE (e.g. 26.10.0)")
    failures, warnings = releases.gpu_problems(gpu_list, release)
    if warnings:
        record_fact("release_gpu_warnings", warnings)
    assert not failures, "\n".join(failures)


@pytest.mark.gpu
def test_the_nim_profile_fits_the_gpu(gpu_list, settings, target, record_fact):
    """A profile NVIDIA documents the memory of (Parakeet RNNT multilingual: mode=all 50 GB) fits the largest GPU,
    else it is refused before `docker run`, naming both numbers and the modes that would fit."""
    if not target.nim or not target.deploys:
        pytest.skip("no NIM started by this run: its profile is not this run's choice")
    need, _ = releases.profile_memory_gb(target.image, settings.nim_tags_selector)
    if need is None:
        pytest.skip(f"NVIDIA documents no GPU memory for {target.image or 'riva-lite'}'s profile "
                    f"({settings.nim_tags_selector or 'the default'}): not checked")
    largest = preflight.largest_memory_gb(gpu_list)
    record_fact("nim_profile_memory_gb", {"needs": need, "gpu": largest})
    problem = releases.profile_fit_problem(target.image, settings.nim_tags_selector, largest)
    assert problem is None, problem


@pytest.mark.gpu
def test_gpu_compute_capability(gpu_list, thresholds):
    old = [g for g in gpu_list if (g["compute_capability"] or 0) < thresholds.min_compute_capability]
    assert not old, (
        f"GPUs below compute capability {thresholds.min_compute_capability}: "
        + ", ".join(f"{g['index']} {g['name']} {g['compute_capability']}" for g in old))


@pytest.mark.gpu
def test_nvlink_topology(gpu_list, host, record_fact):
    if len(gpu_list) < 2:
        pytest.skip(f"{len(gpu_list)} GPU: no NVLink topology to check")
    links = preflight.nvlink_topology(host)
    record_fact("gpu_links", links)
    assert links, "nvidia-smi topo -m listed no GPU pairs"
