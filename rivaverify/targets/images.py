"""The image target docker runs when RIVA__IMAGE is unset: riva-lite's (classic or NIM face), built when missing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rivaverify.adapters import rivalite
from rivaverify.deploy import DeployError
from rivaverify.plan import Plan
from rivaverify.runtime import docker_engine


def riva_lite_image(plan: Plan, nim: bool, log: Path, say: Callable[[str], None] = print) -> str:
    """riva-lite's image tag, built (once; minutes the first time, `say` tells so) when the engine lacks it."""
    argv = ["rivalite", "image", "build", "--nim"] if nim else None
    try:
        tag = "riva-lite-nim" if nim else rivalite.image_tag()
        argv = argv or ["rivalite", "image", "build", "--tag", tag]
        if plan.dry_run:
            plan.command(argv)
            return tag
        client = docker_engine.client()
        if not nim and rivalite.image_is_current(client, tag):
            return tag
        plan.command(argv, log=str(log))
        log.parent.mkdir(parents=True, exist_ok=True)
        say(f"building the riva-lite image {tag} (once; minutes the first time), log: {log}")
        with open(log, "w") as out:
            def write(line: str) -> None:
                print(line, file=out, flush=True)

            return rivalite.build_nim_image(client, log=write) if nim else rivalite.build_image(tag, client, log=write)
    except (rivalite.RivaLiteMissing, docker_engine.DockerError) as exc:
        raise DeployError(f"no RIVA__IMAGE, and the riva-lite {'NIM ' if nim else ''}image cannot be had: {exc} "
                          f"(log: {log}); set RIVA__IMAGE to a Riva {'NIM ' if nim else ''}image") from exc
