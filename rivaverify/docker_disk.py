"""Disk for a pull: a NIM or riva-speech image is tens of GB, and its model cache more. Before a pull, the engine's
disk must hold what the profile asks (min_free_disk_gb); where Docker's reclaimable space (unused images, build
cache) is what stands between the host and a pull that fits, the next step is to prune, naming how much it frees."""

from __future__ import annotations

from typing import Any

GB = 1024**3


def reclaimable_gb(df: dict[str, Any]) -> float:
    """What `docker system df` counts as reclaimable, from the engine's df(): images no container uses (less the
    layers they share) and build cache not in use."""
    images = sum(max(0, (i.get("Size") or 0) - max(0, i.get("SharedSize") or 0))
                 for i in df.get("Images") or [] if not i.get("Containers"))
    cache = sum(c.get("Size") or 0 for c in df.get("BuildCache") or [] if not c.get("InUse") and not c.get("Shared"))
    return round((images + cache) / GB, 1)


def pull_space_problem(image: str, free_gb: float, reclaimable: float, need_gb: float, where: str) -> str | None:
    """Why the pull of `image` would not fit, with what to do; None when `need_gb` is free."""
    if free_gb >= need_gb:
        return None
    if free_gb + reclaimable >= need_gb:
        return (f"{free_gb:.1f} GiB free on {where}, the profile asks {need_gb:g} GiB for pulling {image} and its "
                f"model cache; Docker holds {reclaimable:.1f} GiB it can reclaim: `docker image prune -a` and `docker "
                "builder prune` (see `docker system df`), then rerun")
    return (f"{free_gb:.1f} GiB free on {where}, the profile asks {need_gb:g} GiB for pulling {image} and its model "
            f"cache (pruning would free only {reclaimable:.1f} GiB): free space on that disk or move Docker's "
            "data-root to a larger one (override RIVA__MIN_FREE_DISK_GB if the image is already elsewhere)")
