"""Converted repositories staged beside their artifact (a sibling prefix: the artifact's own prefix holds only what
staging wrote, phase 020 checks that), under a key naming what they were built for:

    s3://BUCKET/<env>/<model>/<version>.converted/<.riva sha256[:16]>/compute-<cc>_tensorrt-<version>/<options hash>/
        models/...              the repository, file by file (its .rivaverify-build.json included)
        conversion.json         written last: the build facts, the sha256 of every file, every folder

The next run for the same .riva, compute capability, TensorRT and build options fetches it (each file verified) instead
of converting again; another kind of GPU or TensorRT has another key, so it converts. A TensorRT version that is not
known (an image that declares none) gives no key: such a run always converts.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rivaverify.artifact.download import check_sha256, download, sha256_file
from rivaverify.artifact.errors import ArtifactError
from rivaverify.artifact.store import Store, parse_s3_uri
from rivaverify.buildfacts import CPU, Here

MANIFEST = "conversion.json"


def prefix(artifact_uri: str, riva_sha256: str, where: Here, options: Mapping[str, Any]) -> str | None:
    """Where a repository of the .riva converted for `where` with `options` is staged; None when the TensorRT is not
    known (or the GPUs differ in compute capability)."""
    caps = sorted(set(where.capabilities))
    if len(caps) != 1 or (caps != [CPU] and not where.tensorrt):
        return None
    digest = hashlib.sha256(json.dumps(dict(options), sort_keys=True).encode()).hexdigest()[:12]
    return (f"{artifact_uri.rstrip('/')}.converted/{riva_sha256[:16]}/compute-{caps[0]}_tensorrt-"
            f"{where.tensorrt or 'none'}/{digest}/")


def upload(store: Store, uri: str, repo: Path, build_facts: Mapping[str, Any],
           log: Callable[[str], None] = lambda _: None) -> str:
    """Every file of `repo` under uri/models/, then the manifest (last: a complete upload)."""
    bucket, key = parse_s3_uri(uri)
    files = {}
    for path in sorted(p for p in repo.rglob("*") if p.is_file()):
        rel = path.relative_to(repo).as_posix()
        files[rel] = sha256_file(path, stamp=False)
        store.upload(path, bucket, f"{key}models/{rel}", files[rel])
    dirs = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_dir())  # empty ones count (1/)
    body = json.dumps({"build_facts": dict(build_facts), "files": files, "dirs": dirs}, indent=2,
                      sort_keys=True).encode()
    store.put(bucket, key + MANIFEST, body, hashlib.sha256(body).hexdigest())
    log(f"converted repository staged: {uri} ({len(files)} files)")
    return uri


def fetch(store: Store, uri: str, dest: Path, cache: Path,
          log: Callable[[str], None] = lambda _: None) -> dict[str, Any] | None:
    """The repository staged at `uri` into `dest` (replaced only once every file is verified); its build facts, or
    None when nothing complete is staged there."""
    bucket, key = parse_s3_uri(uri)
    objects = {o.key[len(key):]: o for o in store.list(bucket, key)}
    if MANIFEST not in objects:
        return None
    try:
        manifest = json.loads(store.read(bucket, key + MANIFEST))
        files = dict(manifest["files"])
    except (ValueError, KeyError, TypeError) as exc:
        raise ArtifactError(f"{uri}{MANIFEST} is not a conversion manifest ({exc}): delete {uri} to convert "
                            "again") from None
    # each file is fetched into a scratch folder (where download() keeps its stamps), then moved into place
    partial, scratch = dest.with_name(dest.name + ".fetching"), dest.with_name(dest.name + ".objects")
    try:
        for folder in (partial, scratch):
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir(parents=True)
        for rel in manifest.get("dirs") or []:  # an ensemble's version folder is empty
            (partial / rel).mkdir(parents=True, exist_ok=True)
        for n, (rel, want) in enumerate(sorted(files.items())):
            info = objects.get(f"models/{rel}")
            if info is None:
                raise ArtifactError(f"{uri}models/{rel} is listed in {MANIFEST} but missing: delete {uri} to "
                                    "convert again")
            got = scratch / str(n)
            check_sha256(got, download(store, bucket, info, got), want, f"{uri}models/{rel}", cache)
            (partial / rel).parent.mkdir(parents=True, exist_ok=True)
            got.replace(partial / rel)
        shutil.rmtree(dest, ignore_errors=True)
        partial.rename(dest)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    log(f"converted repository fetched: {uri} ({len(files)} files, sha256 verified)")
    return dict(manifest.get("build_facts") or {})
