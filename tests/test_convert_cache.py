"""Converted repositories staged to S3 under a key naming compute capability, TensorRT and build options: fetched
(each file verified) by the next run of the same kind, never for another kind; a partial upload is not used."""

from __future__ import annotations

import pytest

from rivaverify import buildfacts
from rivaverify.artifact import ArtifactError, converted
from tests.repos import make_repo
from tests.test_artifact_support import MemoryStore

URI = "s3://bucket/dev/parakeet/8.1/"
SHA = "ab" * 32
OPTIONS = {"name": "parakeet", "chunk_size": 0.16}
A10G = buildfacts.here([{"name": "NVIDIA A10G", "compute_capability": 8.6}], "10.3.0")


def test_the_key_names_the_kind_and_changes_with_it():
    key = converted.prefix(URI, SHA, A10G, OPTIONS)
    assert key.startswith(f"s3://bucket/dev/parakeet/8.1.converted/{'ab' * 8}/compute-8.6_tensorrt-10.3.0/")
    assert key.endswith("/") and converted.prefix(URI, "cd" * 32, A10G, OPTIONS) != key
    t4 = buildfacts.here([{"name": "Tesla T4", "compute_capability": 7.5}], "10.3.0")
    other_trt = buildfacts.here([{"compute_capability": 8.6}], "10.4.0")
    assert len({key, converted.prefix(URI, SHA, t4, OPTIONS), converted.prefix(URI, SHA, other_trt, OPTIONS),
                converted.prefix(URI, SHA, A10G, {**OPTIONS, "chunk_size": 0.32})}) == 4
    assert converted.prefix(URI, SHA, buildfacts.RIVA_LITE, OPTIONS).startswith(
        f"s3://bucket/dev/parakeet/8.1.converted/{'ab' * 8}/compute-cpu_tensorrt-none/")
    unknown = buildfacts.here([{"compute_capability": 8.6}], None, "no TRT_VERSION")
    assert converted.prefix(URI, SHA, unknown, OPTIONS) is None


def test_upload_then_fetch_gives_the_same_files(tmp_path):
    store, repo = MemoryStore(), make_repo(tmp_path / "built")
    (repo / "asr-ensemble" / "1").mkdir(exist_ok=True)
    facts = buildfacts.facts("8.6", gpu_name="NVIDIA A10G", tensorrt="10.3.0", build_options=OPTIONS)
    buildfacts.write(repo, facts)
    key = converted.prefix(URI, SHA, A10G, OPTIONS)
    assert converted.fetch(store, key, tmp_path / "got", tmp_path / "cache") is None  # nothing staged yet
    converted.upload(store, key, repo, facts)
    assert converted.fetch(store, key, tmp_path / "got", tmp_path / "cache") == facts
    files = sorted(p.relative_to(repo) for p in repo.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(tmp_path / "got") for p in (tmp_path / "got").rglob("*") if p.is_file())
    assert all((repo / f).read_bytes() == (tmp_path / "got" / f).read_bytes() for f in files)
    assert (tmp_path / "got" / "asr-ensemble" / "1").is_dir()  # an empty version folder comes back too
    assert buildfacts.read(tmp_path / "got")["gpu_name"] == "NVIDIA A10G"


def test_a_partial_upload_is_not_used_and_a_corrupt_file_is_refused(tmp_path):
    store, repo = MemoryStore(), make_repo(tmp_path / "built")
    key = converted.prefix(URI, SHA, A10G, OPTIONS)
    converted.upload(store, key, repo, {})
    (manifest_key,) = [k for (b, k) in store.objects if k.endswith(converted.MANIFEST)]
    body = store.objects.pop(("bucket", manifest_key))
    assert converted.fetch(store, key, tmp_path / "got", tmp_path / "cache") is None  # no manifest: not complete
    store.objects[("bucket", manifest_key)] = body
    victim = next(k for (b, k) in store.objects if k.endswith("config.pbtxt"))
    store.objects[("bucket", victim)] = (b"changed", None)
    with pytest.raises(ArtifactError, match="sha256"):
        converted.fetch(store, key, tmp_path / "got", tmp_path / "cache")
    assert not (tmp_path / "got").exists() and not list(tmp_path.glob("got.*"))  # no half-fetched repository
