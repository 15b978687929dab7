"""Target docker: an image run through the Docker SDK (local engine or DOCKER_HOST=ssh://). Classic: NVIDIA's
quick start (the repository at MOUNT/models, the shim mounted read-only first on PATH); nim: NIM's documented run
line (cache, shm, open files, NGC_API_KEY and NIM_* in the environment)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rivaverify import gpu_requirements, preflight, releases
from rivaverify.targets.base import Launch, Target

if TYPE_CHECKING:
    from rivaverify.plan import Plan


class DockerTarget(Target):
    name = "docker"
    uses_docker = True

    @property
    def riva_lite(self) -> bool:
        image = self.settings.image or ""
        return not image or "riva-lite" in image

    @property
    def launches_start_riva(self) -> bool:
        return not self.nim and str(self.settings.docker_launch) == "start-riva"

    def ports(self) -> dict[str, int]:
        if self.nim:  # a NIM container publishes gRPC and HTTP, no Triton port
            return {"riva": self.settings.grpc_port, "nim_http": self.settings.nim_http_port}
        return super().ports()

    def refusal(self) -> str | None:
        s = self.settings
        if self.riva_lite or self.nim or s.model_repo is not None:
            return None
        from rivaverify.adapters import rivalite

        ours = rivalite.archive_prefix()
        if s.artifact and ours and s.artifact.rstrip("/").rpartition("/")[2].startswith(ours):
            return (f"RIVA__ARTIFACT={s.artifact} is riva-lite's own archive (Whisper on the CPU), which the real "
                    f"image RIVA__IMAGE={s.image} can neither build nor serve: set RIVA__ARTIFACT to the real model's "
                    "deployable archive (or RIVA__MODEL_REPO to a repository built for this GPU), or unset "
                    "RIVA__IMAGE to run riva-lite's image")
        if s.artifact:
            return None
        return (f"RIVA__IMAGE={s.image} is a real Riva image, and it has nothing to serve: neither RIVA__MODEL_REPO "
                "(a model repository built for this GPU) nor RIVA__ARTIFACT (a deployable .riva archive, or a staged "
                "s3:// prefix, to convert in the image) is set, and riva-lite's own archive is Whisper on the CPU, "
                "which riva-build cannot build: set one of them")

    def inputs(self) -> tuple[str, ...]:
        need = ("nim_cache",) if self.nim else ("model_repo", "container_shim_dir") if self.settings.shim else \
            ("model_repo",)
        gpus = ("host",) if gpu_requirements.is_nim(self.settings.image) else ()  # a NIM's GPU selection rule
        return ("riva_image", *need, *gpus)

    def launch(self, plan: Plan, inputs: dict[str, Any]) -> Launch:
        from rivaverify import deploy, modelrepo
        from rivaverify.runtime import container

        s, image = self.settings, inputs["riva_image"]
        log = s.reports_dir.resolve() / "logs" / "riva-docker.log"
        if "host" in inputs and not plan.dry_run:  # refused before it starts (010 says so too)
            gpus = preflight.gpus(inputs["host"]) or []
            problem = gpu_requirements.gpu_selection_problem(image, s.docker_gpus, len(gpus)) or \
                releases.profile_fit_problem(image, s.nim_tags_selector, preflight.largest_memory_gb(gpus))
            if problem:
                raise deploy.DeployError(problem)
        if self.nim:
            return self._nim(plan, image, inputs["nim_cache"], log)
        repo = inputs["model_repo"]
        spec = container.quickstart(
            image, repo, inputs.get("container_shim_dir"), log, s.triton_ports(), mount=s.docker_mount,
            launch=str(s.docker_launch), model_repos_env=s.docker_model_repos_env, shm_size=s.docker_shm_size,
            gpus=s.docker_gpus, run_label=s.docker_run_label, ready_timeout_s=self.ready_timeout_s)
        plan.command(container.docker_run_argv(spec), log=str(spec.log_path))
        if spec.api_argv:
            plan.command(container.api_exec_argv(spec), when="Triton is ready")
        expected = [] if plan.dry_run else sorted(modelrepo.read(repo).models)
        return Launch("docker", spec, f"{s.docker_mount}/models", expected)

    def _nim(self, plan: Plan, image: str, cache, log) -> Launch:
        from rivaverify import deploy, nim
        from rivaverify.runtime import container

        s = self.settings
        env = deploy.nim_env(s, nim.HTTP_PORT, nim.GRPC_PORT, riva_lite=self.riva_lite)
        if self.riva_lite:
            env[container.READY_TIMEOUT_ENV] = f"{self.ready_timeout_s:g}"  # riva-lite's NIM face reads it
        spec = container.nim_run(image, cache, log, self.ports(), env, gpus=s.docker_gpus,
                                 run_label=s.docker_run_label)
        plan.command(container.docker_run_argv(spec), log=str(spec.log_path))
        if not plan.dry_run and not cache.exists():  # NIM's docs: a host cache folder its user (UID 1000) can write
            cache.mkdir(parents=True)
            cache.chmod(0o777)
        return Launch("docker", spec, cache="warm" if nim.cache_filled(cache) else "cold")
