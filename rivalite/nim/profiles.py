"""NIM's profiles: the manifest, the profile NIM_TAGS_SELECTOR (or NIM_MODEL_PROFILE) picks, list-model-profiles.

A selector "name=whisper-tiny-en-us,mode=ofl" matches the profiles whose tags hold every pair; the first match in
manifest order wins (mode=all comes first). No match: NIM's `NIMProfileIDNotFound: Could not match a profile in
manifest`, then the profiles there are.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

from rivalite.nim import PROFILE_ENV, SELECTOR_ENV, NimError, default_manifest


@dataclass(frozen=True)
class Profile:
    id: str
    model: str
    release: str
    tags: dict

    def tag_text(self) -> str:
        """As list-model-profiles prints them: key:value pairs sorted by key, joined by |."""
        return "|".join(f"{k}:{v}" for k, v in sorted(self.tags.items()))


def load(path: Path | None = None) -> list[Profile]:
    import yaml

    path = Path(path or default_manifest())
    try:
        data = yaml.safe_load(path.read_text())
        profiles = [Profile(str(p["id"]), str(p["model"]), str(p.get("release", "")),
                            {str(k): str(v) for k, v in p["tags"].items()}) for p in data["profiles"]]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as e:
        raise NimError(f"cannot read the model manifest {path}: {e}; point NIM_MANIFEST_PATH at a valid "
                       "model_manifest.yaml (riva-lite ships one in rivalite/nim/)") from None
    if not profiles:
        raise NimError(f"the model manifest {path} lists no profiles")
    return profiles


def parse_selector(text: str) -> dict[str, str]:
    pairs = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise NimError(f"{SELECTOR_ENV}={text!r}: {part!r} is not key=value; write it as "
                           "name=whisper-tiny-en-us,mode=ofl")
        pairs[key.strip()] = value.strip()
    return pairs


def select(profiles: list[Profile], selector: str | None = None, profile_id: str | None = None) -> Profile:
    """The profile NIM_MODEL_PROFILE names, else the first NIM_TAGS_SELECTOR matches (unset: the first)."""
    selector = os.environ.get(SELECTOR_ENV, "") if selector is None else selector
    profile_id = os.environ.get(PROFILE_ENV, "") if profile_id is None else profile_id
    if profile_id:
        found = [p for p in profiles if p.id == profile_id]
        asked = f"{PROFILE_ENV}={profile_id}"
    else:
        wanted = parse_selector(selector)
        found = [p for p in profiles if all(p.tags.get(k) == v for k, v in wanted.items())]
        asked = f"{SELECTOR_ENV}={selector}"
    if found:
        return found[0]
    have = "\n".join(f"    - {p.id} - {p.tag_text()}" for p in profiles)
    raise NimError(f"NIMProfileIDNotFound: Could not match a profile in manifest ({asked})\n"
                   f"The manifest's profiles:\n{have}\n"
                   f"next step: set {SELECTOR_ENV} to tags one of them has (e.g. name=whisper-tiny-en-us,mode=ofl), "
                   f"or unset it; `list-model-profiles` prints them")


def system_info() -> list[str]:
    return ["SYSTEM INFO", "- Free GPUs: <None>", "- Non-free GPUs: <None>",
            f"- CPU: {platform.machine()}, {os.cpu_count()} cores (riva-lite's profiles run on the CPU)"]


def listing(profiles: list[Profile]) -> str:
    """What NIM's list-model-profiles prints; every riva-lite profile runs on a CPU, so all are compatible."""
    lines = [*system_info(), "MODEL PROFILES", "- Compatible with system:"]
    lines += [f"    - {p.id} - {p.tag_text()}" for p in profiles]
    lines += ["- Incompatible with system: <None>"]
    return "\n".join(lines)
