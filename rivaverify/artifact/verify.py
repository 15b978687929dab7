"""The checks of phase 020 as functions: each returns the problems it found (empty: the check holds)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from rivaverify.artifact import manifest as mf
from rivaverify.artifact.fetch import StagedArtifact

SOURCE_RECORD = ".rivaverify-source.json"


def marker_problems(staged: StagedArtifact) -> list[str]:
    """staging_complete.txt is there and no object under the prefix is newer."""
    marker = staged.objects.get(mf.MARKER)
    if marker is None:
        return [f"{staged.uri}{mf.MARKER} is missing: the staging did not finish; rerun `rivaverify stage`"]
    newer = sorted(p for p, o in staged.objects.items() if p != mf.MARKER and o.last_modified and
                   marker.last_modified and o.last_modified > marker.last_modified)
    problems = [f"{p} ({staged.objects[p].last_modified}) is newer than {mf.MARKER} ({marker.last_modified}): "
                "the prefix changed after staging completed; restage it" for p in newer]
    vouched = dict(line.partition(": ")[::2] for line in staged.marker.splitlines()).get("artifact_json_sha256")
    actual = hashlib.sha256(staged.artifact_raw).hexdigest()
    if vouched and vouched != actual:
        problems.append(f"{mf.MARKER} was written for an artifact.json with sha256 {vouched}, the one there has "
                        f"{actual}: artifact.json changed after staging completed; restage it")
    return problems


def schema_problems(staged: StagedArtifact) -> list[str]:
    return [f"{staged.uri}{mf.ARTIFACT_JSON}: {p}" for p in mf.schema_problems(staged.artifact_raw)]


def model_problems(staged: StagedArtifact) -> list[str]:
    """models/*.riva in S3, in checksums.sha256, in artifact.json and on disk agree in names, sizes, sha256."""
    if staged.artifact.get("mode") == "reference-only":
        return [f"{staged.uri} is staged by reference only: no models/*.riva to deploy; stage it in full "
                "(`rivaverify stage` without --reference-only)"]
    problems = []
    listed = {p for p in staged.objects if p.startswith("models/") and p.endswith(".riva")}
    summed = {p for p in staged.checksums if p.startswith("models/") and p.endswith(".riva")}
    files = {f.get("path"): f for f in staged.artifact.get("files", []) if isinstance(f, dict)}
    if not summed:
        problems.append(f"{mf.CHECKSUMS} lists no models/*.riva")
    for p in sorted(listed - summed):
        problems.append(f"{p} is in S3 but not in {mf.CHECKSUMS}")
    for p in sorted(summed - listed):
        problems.append(f"{p} is in {mf.CHECKSUMS} but not in S3")
    for p in sorted(summed & listed):
        name, want, obj = p.removeprefix("models/"), staged.checksums[p], staged.objects[p]
        rec = files.get(p)
        if rec is None:
            problems.append(f"{p} is not in {mf.ARTIFACT_JSON} files")
        elif rec.get("sha256") != want or rec.get("size_bytes") != obj.size:
            problems.append(f"{p}: {mf.ARTIFACT_JSON} says {rec.get('size_bytes')} bytes sha256 {rec.get('sha256')}, "
                            f"S3 has {obj.size} bytes and {mf.CHECKSUMS} says {want}")
        if obj.sha256 is not None and obj.sha256 != want:
            problems.append(f"{p}: S3 object declares sha256 {obj.sha256}, {mf.CHECKSUMS} says {want}")
        local = staged.local_dir / "models" / name
        if staged.sha256.get(name) != want:
            problems.append(f"{p}: fetched copy has sha256 {staged.sha256.get(name)}, expected {want}")
        elif not local.is_file() or local.stat().st_size != obj.size:
            problems.append(f"{p}: fetched copy {local} is missing or not {obj.size} bytes: rerun to fetch again")
    return problems


def source_record_problems(repo: Path, staged: StagedArtifact) -> list[str]:
    """The model repository's .rivaverify-source.json names this artifact and its .riva sha256 ({"artifact_id",
    "sha256": {name: hex}}), or the one file it was built from ({"artifact", "sha256": hex})."""
    record = Path(repo) / SOURCE_RECORD
    try:
        data = json.loads(record.read_text())
    except FileNotFoundError:
        return [f"{record} is missing: the repository was not built from a staged artifact by riva-verify"]
    except ValueError as exc:
        return [f"{record} is not JSON ({exc})"]
    if "artifact_id" not in data and isinstance(data.get("sha256"), str):
        # {"artifact": path, "sha256": hex}: built from one file, the staged source or one of its .riva files
        known = {staged.artifact.get("source", {}).get("sha256"), *staged.sha256.values()} - {None}
        if data["sha256"] in known:
            return []
        return [f"{record}: built from {data.get('artifact')} (sha256 {data['sha256']}), which is neither the staged "
                f"source nor one of its .riva files ({', '.join(sorted(known))}): rebuild it from the staged artifact"]
    problems = []
    if data.get("artifact_id") != staged.artifact_id:
        problems.append(f"{record}: artifact_id {data.get('artifact_id')!r}, staged {staged.artifact_id!r}: "
                        "the repository was built from another artifact; rebuild it")
    if data.get("sha256") != staged.sha256:
        problems.append(f"{record}: sha256 {data.get('sha256')}, staged {staged.sha256}: rebuild the repository")
    return problems
