"""Which Riva a deployment is, and the rules that follow from its release, in one place: the GPU it needs (compute
capability, memory), the fields its API promises (usage), the profiles whose memory NVIDIA documents. Checks look
the rules up here instead of testing versions themselves. Every row names its page (docs/riva-behaviour.md).

Releases: riva-speech 2.x (the classic container; 2.19.0 the last for x86 data centers), Riva ASR NIM 1.x (container
tags 1.x.y), Speech NIM YY.MM.n (the collection that followed; its containers may keep semver tags, e.g. 26.10.0
ships nemotron-asr-streaming:1.4.0, and its docs run `:latest`, so RIVA__NIM_RELEASE names the release where the
tag does not).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

RIVA_SPEECH, ASR_NIM, SPEECH_NIM = "riva-speech", "asr-nim", "speech-nim"
SPEECH = "https://docs.nvidia.com/nim/speech/{}/"
ASR = "https://docs.nvidia.com/nim/riva/asr/{}/support-matrix.html"
# Container tags that a Speech NIM release notes page lists (tag -> collection release).
CONTAINER_RELEASES = {("nemotron-asr-streaming", "1.4.0"): "26.10.0"}
TAG = re.compile(r":(\d+)\.(\d+)\.(\d+)(?:[-.+].*)?$")


@dataclass(frozen=True)
class Release:
    kind: str  # riva-speech, asr-nim, speech-nim; "" when not known
    version: str  # x.y.z or YY.MM.n; "" when not known
    how: str  # where it was read: the tag, a release notes table, RIVA__NIM_RELEASE, or why it is not known

    def __str__(self) -> str:
        names = {RIVA_SPEECH: "riva-speech", ASR_NIM: "Riva ASR NIM", SPEECH_NIM: "Speech NIM"}
        return f"{names[self.kind]} {self.version}" if self.kind else f"unknown ({self.how})"


@dataclass(frozen=True)
class Rules:
    """What a release asks of the GPU and promises in its API. None: not stated by NVIDIA (not checked)."""
    min_compute_capability: float | None = None
    min_gpu_memory_gb: float | None = None
    memory_required: bool = False  # "at least" (refused below) rather than "recommended" (warned below)
    http_usage: bool = False  # /v1/audio/transcriptions JSON carries usage {type: duration, seconds}
    realtime_usage: bool = False  # realtime ...transcription.completed events carry usage
    source: str = ""


def _v(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in version.split("."))


# (kind, first version, rules): the row with the highest first version at or below the release applies.
TABLE: tuple[tuple[str, str, Rules], ...] = (
    (ASR_NIM, "1.0.0", Rules(7.0, 16, False, source=ASR.format("1.3.1") + " (Volta or later, CC >= 7.0; "
                                                      "16+ GB VRAM recommended)")),
    (ASR_NIM, "1.4.0", Rules(7.5, 16, False, source=ASR.format("1.4.0") + " (CC > 7.0; 16+ GB VRAM recommended; "
                                                      "also 1.5.0, 1.6.0)")),
    (SPEECH_NIM, "26.2.0", Rules(8.0, 16, True, source=SPEECH.format("26.05.0") + "reference/support-matrix/asr.html"
                                 " (CC 8.0 or higher and at least 16 GB of VRAM)")),
    (SPEECH_NIM, "26.10.0", Rules(8.0, 16, True, True, True, source=SPEECH.format("26.10.0") + "about/release-notes"
                                  ".html (usage.type=duration, usage.seconds; realtime completed events' usage)")),
)

# GPU memory NVIDIA documents per profile mode (model -> mode -> GiB before runtime overhead).
PROFILE_MEMORY_GB = {
    "parakeet-1-1b-rnnt-multilingual": {"all": 50.0, "ofl": 25.56, "str-thr": 14.75},
}
PROFILE_SOURCE = SPEECH.format("26.07.0") + "asr/deploy-asr-models/parakeet-rnnt.html"


def split(image: str) -> tuple[str, str]:
    """(repository, tag) of an image reference; the tag "" when there is none (a registry port is not one)."""
    repo, sep, tag = image.partition("@")[0].rpartition(":")
    return (repo, tag) if sep and "/" not in tag else (image.partition("@")[0], "")


def family(image: str | None) -> str | None:
    """riva-speech or nim from an image's name alone (any tag, `:latest` included), else None."""
    return _family(split(image)[0]) if image else None


def _family(repo: str) -> str | None:
    if repo.rsplit("/", 1)[-1] == "riva-speech":
        return "riva-speech"
    return "nim" if "/nim/" in f"/{repo}/" else None


def of_image(image: str | None, declared: str | None = None) -> Release:
    """The release of a Riva image: RIVA__NIM_RELEASE (`declared`) for a NIM, else its tag."""
    if not image:
        if declared:
            return Release(SPEECH_NIM if _v(declared)[0] >= 25 else ASR_NIM, declared, "RIVA__NIM_RELEASE")
        return Release("", "", "no RIVA__IMAGE, and RIVA__NIM_RELEASE unset")
    repo, tag = split(image)
    kind = _family(repo)
    m = TAG.fullmatch(":" + tag) if tag else None
    if declared and (kind == "nim" or not m):
        return Release(SPEECH_NIM if _v(declared)[0] >= 25 else ASR_NIM, declared, "RIVA__NIM_RELEASE")
    if not m:
        return Release("", "", f"the tag of {image} names no x.y.z release (set RIVA__NIM_RELEASE for a NIM)")
    version = ".".join(m.groups())
    if kind == "riva-speech":
        return Release(RIVA_SPEECH, version, "the image tag")
    if kind != "nim":
        return Release("", "", f"{image} is neither riva-speech nor an nvcr.io/nim/ image")
    name = repo.rsplit("/", 1)[-1]
    if (name, version) in CONTAINER_RELEASES:
        return Release(SPEECH_NIM, CONTAINER_RELEASES[(name, version)], f"{name}:{version} in its release notes")
    return Release(SPEECH_NIM if int(m.group(1)) >= 25 else ASR_NIM, version, "the image tag")


def rules(release: Release) -> Rules:
    """The rules of the release's row; an unknown release or kind gets none (nothing gated, every variant
    accepted)."""
    found = [r for kind, first, r in TABLE if kind == release.kind and release.version
             and _v(first) <= _v(release.version)]
    return found[-1] if found else Rules(source="no row for this release: nothing is gated by version")


def profile_memory_gb(image: str | None, selector: str | None) -> tuple[float | None, dict[str, float]]:
    """(GiB the selected profile's mode needs, every documented mode's GiB) for the image's model, where NVIDIA
    documents them; (None, {}) otherwise."""
    name = split(image)[0].rsplit("/", 1)[-1] if image else ""
    modes = PROFILE_MEMORY_GB.get(name, {})
    tags = dict(p.split("=", 1) for p in (selector or "").split(",") if "=" in p)
    return modes.get(tags.get("mode", "")), modes


def profile_fit_problem(image: str | None, selector: str | None, gpu_memory_gb: float | None) -> str | None:
    """Why the selected profile cannot fit this GPU's memory (naming both numbers and the modes that would), or
    None when it fits or nothing is documented."""
    need, modes = profile_memory_gb(image, selector)
    if need is None or gpu_memory_gb is None or gpu_memory_gb >= need:
        return None
    fits = [f"mode={m} ({gb:g} GiB)" for m, gb in modes.items() if gb <= gpu_memory_gb]
    return (f"NIM_TAGS_SELECTOR={selector} asks {image} for a profile that needs {need:g} GiB of GPU memory, and the "
            f"GPU has {gpu_memory_gb:g} GiB ({PROFILE_SOURCE}): select "
            + (" or ".join(fits) if fits else "no documented mode fits; use a larger GPU")
            + " (RIVA__NIM_TAGS_SELECTOR)")


def gpu_problems(gpus: list[dict], release: Release) -> tuple[list[str], list[str]]:
    """(failures, warnings) of these GPUs against the release's minimum: a compute capability below it fails;
    memory below it fails where the release requires it and is warned where it only recommends it."""
    from rivaverify.preflight import usable_memory_gb

    r, failures, warnings = rules(release), [], []
    for g in gpus:
        what = f"GPU {g['index']} {g['name']}"
        cc = g.get("compute_capability")
        if r.min_compute_capability is not None and cc is not None and cc < r.min_compute_capability:
            failures.append(f"{what} has compute capability {cc}; {release} needs {r.min_compute_capability} or "
                            f"newer ({r.source}): run it on a newer GPU, or an older release that supports this one")
        memory = usable_memory_gb(g)
        # "16 GB" cards report less (a T4 15.0 GiB): 10% under the figure still meets it
        if r.min_gpu_memory_gb is not None and memory is not None and memory < r.min_gpu_memory_gb * 0.9:
            line = (f"{what} has {memory} GiB; {release} {'needs at least' if r.memory_required else 'recommends'} "
                    f"{r.min_gpu_memory_gb:g} GB ({r.source})")
            (failures if r.memory_required else warnings).append(line)
    return failures, warnings
