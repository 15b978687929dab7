"""Target local: riva-lite as processes on this host. Classic: NVIDIA's start-riva (riva-lite's, launcher bug
included) behind the shim; nim: riva-lite's NIM face, configured as NIM's run line configures a NIM."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rivaverify.runtime import LaunchSpec
from rivaverify.targets.base import Launch, Target

if TYPE_CHECKING:
    from rivaverify.plan import Plan


class LocalTarget(Target):
    name = "local"
    repository_here = True

    @property
    def riva_lite(self) -> bool:
        return True

    @property
    def image(self) -> str | None:
        return None  # no container

    @property
    def triton_host(self) -> str:
        return "127.0.0.1"  # tritonserver binds all addresses here; the gRPC host may name another interface

    def inputs(self) -> tuple[str, ...]:
        if self.nim:
            return ("nim_cache",)
        return ("model_repo", "shim_bin") if self.settings.shim else ("model_repo",)

    def launch(self, plan: Plan, inputs: dict[str, Any]) -> Launch:
        from rivaverify import modelrepo, nim

        log = self.settings.reports_dir.resolve() / "logs" / ("riva-nim.log" if self.nim else "riva-local.log")
        if self.nim:
            cache = inputs["nim_cache"]
            spec = self.nim_spec(cache, log)
            plan.command(spec.argv, env={k: v for k, v in spec.env.items() if k.startswith("NIM_")}, log=str(log))
            return Launch("local", spec, cache="warm" if nim.cache_filled(cache) else "cold")
        repo: Path = inputs["model_repo"]
        spec = self.classic_spec(repo, inputs.get("shim_bin"), log)
        plan.command(spec.argv, env={"PATH": spec.env["PATH"], "RIVA_MODEL_REPO": str(repo)}, log=str(log))
        expected = [] if plan.dry_run else sorted(modelrepo.read(repo).models)
        return Launch("local", spec, str(repo), expected)

    def classic_spec(self, model_repo: Path, shim_bin: Path | None, log_path: Path) -> LaunchSpec:
        """start-riva as NVIDIA runs it; the shim's folder first on PATH when there is one."""
        from rivaverify import deploy

        s = self.settings
        env = dict(os.environ)
        path = env.get("PATH", "")
        env["PATH"] = f"{shim_bin}{os.pathsep}{path}" if shim_bin else path
        env["RIVA_MODEL_REPO"] = str(model_repo)
        argv = [
            deploy.riva_lite_command("start-riva"), f"--riva-uri={s.grpc_address}", "--asr_service=true",
            f"--triton-http-port={s.triton_http_port}", f"--triton-grpc-port={s.triton_grpc_port}",
            f"--triton-metrics-port={s.triton_metrics_port}", f"--triton-ready-timeout={self.ready_timeout_s:g}",
        ]
        return LaunchSpec(argv, env, log_path, s.triton_ports())

    def nim_spec(self, cache: Path, log_path: Path) -> LaunchSpec:
        """riva-lite's NIM face in the foreground; NIM_* from the settings only, as in docker."""
        from rivaverify import deploy

        s = self.settings
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("NIM_")}
        env = {**inherited, **deploy.nim_env(s, s.nim_http_port, s.grpc_port, riva_lite=True),
               "NIM_CACHE_PATH": str(cache)}
        argv = [deploy.riva_lite_command("rivalite"), "nim", f"--triton-http-port={s.triton_http_port}",
                f"--triton-grpc-port={s.triton_grpc_port}", f"--triton-metrics-port={s.triton_metrics_port}",
                f"--ready-timeout={self.ready_timeout_s:g}"]
        return LaunchSpec(argv, env, log_path, self.ports())
