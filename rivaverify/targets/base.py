"""What every target answers: what is served, what can be seen from here, its ports, its one ready timeout, what
it needs before it starts, how it launches, and its readiness stages in order. One class per target (local, docker,
endpoint) in its own file; the flavor (classic or nim) is a property of each."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from rivaverify import gpu_requirements, preflight, readiness, releases
from rivaverify.runtime import LaunchSpec, Runtime
from rivaverify.settings import Flavor, Settings, thresholds

if TYPE_CHECKING:  # the rest is imported where it is used: every pytest start picks a target (plugins/settings.py)
    from rivaverify import deploy
    from rivaverify.plan import Plan

PORT_LABELS = {"riva": "riva grpc", "nim_http": "nim http"}  # the others read as they are named: triton http, ...


def port_label(name: str) -> str:
    """A port's name as messages say it: riva grpc, triton http, nim http, ..."""
    return PORT_LABELS.get(name, name.replace("_", " "))


@dataclass
class Launch:
    """What a target starts: a runtime by name with its spec, and what readiness then expects."""
    runtime: str  # "local" or "docker"
    spec: LaunchSpec
    model_repo: str | None = None  # the repository as tritonserver sees it
    expected_models: list[str] = field(default_factory=list)
    cache: str | None = None  # a NIM's cache when it starts: "cold" or "warm"


class Target:
    name = "?"
    deploys = True  # this run starts the deployment (not an endpoint attached to)
    uses_docker = False  # it runs in a container of a Docker engine (which 010 checks; it chooses the GPUs)
    repository_here = False  # the repository tritonserver serves is a folder of this host (the path it is given)

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.flavor = Flavor(settings.flavor)
        self.nim = self.flavor == Flavor.nim

    def __repr__(self) -> str:
        return f"<target {self.name}, flavor {self.flavor}>"

    # -- what is served, what can be seen ---------------------------------------------------------------
    @property
    def riva_lite(self) -> bool:
        """riva-lite serves the deployment (CPU, no GPU, its own image); otherwise it is taken for real Riva."""
        return False

    @property
    def image(self) -> str | None:
        """The image a container runs (RIVA__IMAGE; None: riva-lite's own, or no container)."""
        return self.settings.image

    @property
    def release(self) -> releases.Release:
        """Which Riva is verified (riva-speech 2.x, Riva ASR NIM 1.x, Speech NIM YY.MM.n): riva-lite's NIM face
        imitates a Speech NIM release; else RIVA__NIM_RELEASE or the image tag."""
        from rivaverify.adapters import rivalite

        if self.riva_lite and self.nim and rivalite.nim_release():
            return releases.Release(releases.SPEECH_NIM, rivalite.nim_release(), "riva-lite's NIM face imitates it")
        if self.riva_lite and not self.nim:
            return releases.Release("", "", "riva-lite, imitating riva-speech 2.17-2.19")
        return releases.of_image(self.settings.image, self.settings.nim_release if self.nim else None)

    @property
    def rules(self) -> releases.Rules:
        """What the release asks of the GPU and promises in its API (rivaverify/releases.py)."""
        return releases.rules(self.release)

    @property
    def needs_gpu(self) -> bool:
        """Whether a GPU is expected where the deployment runs (RIVA__REQUIRE_GPU decides when set)."""
        if self.settings.require_gpu is not None:
            return self.settings.require_gpu
        return self.deploys and not self.riva_lite

    @property
    def ready_timeout_s(self) -> float:
        """The one ready timeout: the profile's unless RIVA__READY_TIMEOUT_S overrides it; riva-lite's launchers get
        it too, so they give up when the suite does."""
        return float(thresholds(self.settings).ready_timeout_s)

    @property
    def triton_host(self) -> str:
        """Where Triton's HTTP and metrics ports answer: the gRPC address' host."""
        return self.settings.grpc_host

    def metrics_url(self) -> str:
        """RIVA__METRICS_URL, else Triton's metrics on the Triton host, or a NIM's /v1/metrics on its HTTP port."""
        from rivaverify import nim

        s = self.settings
        if s.metrics_url:
            return s.metrics_url
        if self.nim:
            return f"{nim.base_url(s.nim_http_address)}/v1/metrics"
        if gpu_requirements.is_nim(s.image):
            return f"http://{self.triton_host}:{nim.HTTP_PORT}/v1/metrics"  # a NIM serves them on its HTTP port
        return f"http://{self.triton_host}:{s.triton_metrics_port}/metrics"

    # -- ports ----------------------------------------------------------------------------------------------
    def ports(self) -> dict[str, int]:
        """The host ports the deployment serves on, by name (riva, triton_http, triton_grpc, triton_metrics,
        nim_http)."""
        ports = dict(self.settings.triton_ports())
        if self.nim:
            ports["nim_http"] = self.settings.nim_http_port
        return ports

    def port_problem(self, host: Any, listening: Mapping[str, bool] | None = None) -> str | None:
        """Before it starts: the ports it will bind that something holds, with the holder; None when all are free.
        `listening`: what is already known of them, by name (phase 010 read it)."""
        taken = {n: p for n, p in self.ports().items()
                 if (listening[n] if listening is not None else preflight.listening(host, p))}
        if not taken:
            return None
        return ("ports needed by the deployment are taken: "
                + ", ".join(f"{port_label(n)} {p} by {preflight.port_owner(host, p) or 'unknown'}"
                            for n, p in taken.items())
                + ": stop what holds them or set RIVA__HOST / RIVA__TRITON_*_PORT / RIVA__NIM_HTTP (the suite "
                  "never tests a server it did not start)")

    # -- before the start -----------------------------------------------------------------------------------
    @property
    def converts(self) -> bool:
        """The repository is converted in a container (riva-build, riva-deploy): RIVA__CONVERT, by default only a
        classic deployment in a container (a NIM converts inside itself; target local deploys riva-lite's)."""
        if self.settings.convert is not None:
            return self.settings.convert
        return self.uses_docker and not self.nim

    def nothing_staged(self) -> str | None:
        """Why no artifact is staged for this deployment (phase 020 skips, saying so); None when one is."""
        s = self.settings
        if s.artifact:
            return None
        if not self.deploys and not s.bucket:
            return (f"target {self.name}: nothing is deployed from a staged artifact here; set RIVA__ARTIFACT (and "
                    "RIVA__BUCKET) to check one")
        if self.nim:
            return ("flavor nim: the NIM deploys its model from NGC into its cache, nothing is staged; set "
                    "RIVA__ARTIFACT (and RIVA__BUCKET) to check an artifact")
        if s.model_repo is not None:
            return (f"RIVA__MODEL_REPO={s.model_repo} is given and RIVA__ARTIFACT is not: the deployment uses that "
                    "repository, nothing to stage; set RIVA__ARTIFACT (and RIVA__BUCKET) to check one")
        return None

    @property
    def launches_start_riva(self) -> bool:
        """NVIDIA's launcher starts tritonserver (so the shim must be first on its PATH): classic, started here."""
        return self.deploys and not self.nim

    def refusal(self) -> str | None:
        """A combination that cannot work, naming the setting to give; None when it can."""
        return None

    def replicas(self) -> list:
        """The replicas checked one by one at their own addresses (kubernetes: its pods); [] for one deployment."""
        return []

    def inside(self) -> list[tuple[str, str, bool | None, str]]:
        """(replica, check, passed, detail) of checks this target runs inside each replica itself (kubernetes,
        through exec); passed None: not possible there. Empty for the others: 040 reads their host directly."""
        return []

    def inputs(self) -> tuple[str, ...]:
        """The fixtures a launch needs (model_repo, shim_bin, riva_image, nim_cache, ...)."""
        return ()

    def launch(self, plan: Plan, inputs: dict[str, Any]) -> Launch | None:
        """Record (and, unless a dry run, prepare) what starts the deployment; None: nothing to start."""
        return None

    # -- ready --------------------------------------------------------------------------------------------
    def deployment(self, rt: Runtime | None, launch: Launch | None) -> deploy.Deployment:
        from rivaverify import deploy, nim

        s = self.settings
        nim_url = nim.base_url(s.nim_http_address) if self.nim else None
        triton = self.triton_host
        dep = deploy.Deployment(
            self.name, s.grpc_address, deploy.riva_auth(s), rt, launch.model_repo if launch else None,
            s.shim and not self.nim, None if nim_url else f"http://{triton}:{s.triton_http_port}", nim_url)
        dep.cache = launch.cache if launch else None
        return dep

    def stages(self, dep: deploy.Deployment, launch: Launch | None) -> list[readiness.Stage]:
        """In order: launcher alive (tritonserver started, for classic) -> Triton live, ready, every model ready ->
        [riva_server started (launch direct)] -> [a NIM's HTTP live, ready] -> gRPC health SERVING -> model listed."""
        from rivaverify import deploy, nim, probes

        s, rt, timeout = self.settings, dep.runtime, self.ready_timeout_s
        out = []
        if rt is not None:
            out.append(readiness.Stage("process alive", deploy.launcher_alive(rt, triton=not self.nim),
                                       min(timeout, 30)))
        if dep.triton_http:
            optional = rt is None  # an endpoint's Triton may not be reachable from here
            expected = launch.expected_models if launch else []
            out += [readiness.Stage(f"triton {w}", probes.triton_health(dep.triton_http, w, optional), timeout,
                                    optional) for w in ("live", "ready")]
            out.append(readiness.Stage("models ready", probes.triton_models_ready(dep.triton_http, expected, optional),
                                       timeout, optional))
        if rt is not None and launch is not None and getattr(launch.spec, "api_argv", None):  # launch direct
            out.append(readiness.Stage("riva_server started", deploy.api_started(rt), min(timeout, 30)))
        if dep.nim_url:
            out += [readiness.Stage(f"http {w}", nim.health(dep.nim_url, w), timeout) for w in ("live", "ready")]
        out += [readiness.Stage("grpc health serving", probes.riva_health(dep.auth), timeout),
                readiness.Stage("model listed", probes.riva_model_listed(dep.auth, s.language_code, s.model_name),
                                min(timeout, 30))]
        return out
