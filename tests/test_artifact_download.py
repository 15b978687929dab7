"""The download: parallel ranged parts, sha256 in the same pass, resume, retries, cache stamps."""

from __future__ import annotations

import os

import pytest

from rivaverify.artifact import ArtifactError
from rivaverify.artifact.download import check_sha256, download, mark_verified, verified_sha256
from rivaverify.artifact.retry import Backoff
from tests.test_artifact_support import PART, MemoryStore, sha

DATA = os.urandom(10 * PART + 123)  # 11 parts, the last one short
NO_WAIT = Backoff(sleep=lambda s: None)


@pytest.fixture
def store():
    s = MemoryStore()
    s.add("b", "src/a.tar.gz", DATA)
    return s


def test_parallel_download_is_whole_and_hashed(store, tmp_path):
    info = store.head("b", "src/a.tar.gz")
    got = download(store, "b", info, tmp_path / "a.tar.gz", part_size=PART, concurrency=4)
    assert got == sha(DATA)
    assert (tmp_path / "a.tar.gz").read_bytes() == DATA
    assert store.count("read_range") == 11
    assert sorted(p.name for p in tmp_path.iterdir()) == [".a.tar.gz.verified", "a.tar.gz"]


def test_sha256_is_computed_in_the_same_pass_never_reading_the_file(store, tmp_path, monkeypatch):
    def no_read(*args, **kwargs):
        raise AssertionError("the download read its own file back")

    monkeypatch.setattr(os, "pread", no_read)
    monkeypatch.setattr(os, "read", no_read)
    assert download(store, "b", store.head("b", "src/a.tar.gz"), tmp_path / "a", part_size=PART) == sha(DATA)


def test_interrupted_download_resumes_from_the_parts_on_disk(store, tmp_path):
    info = store.head("b", "src/a.tar.gz")
    seen = []

    def break_at_part_7(key):
        seen.append(key)
        return ArtifactError("connection lost for good") if len(seen) == 7 else None

    store.fail["read_range"] = break_at_part_7
    with pytest.raises(ArtifactError, match="connection lost"):
        download(store, "b", info, tmp_path / "a", part_size=PART, concurrency=1, backoff=NO_WAIT)
    assert not (tmp_path / "a").exists() and (tmp_path / "a.part").exists()
    on_disk = len((tmp_path / "a.part.log").read_text().splitlines()) - 1
    assert on_disk >= 6
    store.fail.clear()
    store.calls.clear()
    assert download(store, "b", info, tmp_path / "a", part_size=PART, concurrency=3) == sha(DATA)
    assert store.count("read_range") == 11 - on_disk  # the parts on disk are not fetched again
    assert (tmp_path / "a").read_bytes() == DATA
    assert not (tmp_path / "a.part").exists() and not (tmp_path / "a.part.log").exists()


def test_a_changed_source_starts_over(store, tmp_path):
    info = store.head("b", "src/a.tar.gz")
    store.fail["read_range"] = lambda key: ArtifactError("stop") if store.count("read_range") == 5 else None
    with pytest.raises(ArtifactError):
        download(store, "b", info, tmp_path / "a", part_size=PART, concurrency=1, backoff=NO_WAIT)
    store.fail.clear()
    new = os.urandom(len(DATA))
    info = store.add("b", "src/a.tar.gz", new)
    store.calls.clear()
    assert download(store, "b", info, tmp_path / "a", part_size=PART) == sha(new)
    assert store.count("read_range") == 11


def test_transient_part_errors_are_retried(store, tmp_path):
    flaky = {"n": 0}

    def reset_twice(key):
        flaky["n"] += 1
        return ArtifactError("connection reset", transient=True) if flaky["n"] in (2, 3) else None

    store.fail["read_range"] = reset_twice
    got = download(store, "b", store.head("b", "src/a.tar.gz"), tmp_path / "a", part_size=PART, backoff=NO_WAIT)
    assert got == sha(DATA) and store.count("read_range") == 13


def test_empty_object(tmp_path):
    store = MemoryStore()
    info = store.add("b", "empty", b"")
    assert download(store, "b", info, tmp_path / "e") == sha(b"")
    assert (tmp_path / "e").read_bytes() == b""


def test_stamp_is_void_once_the_file_changes(tmp_path):
    f = tmp_path / "m.riva"
    f.write_bytes(b"one")
    mark_verified(f, sha(b"one"), "s3://b/k#etag")
    assert verified_sha256(f, "s3://b/k#etag") == sha(b"one")
    assert verified_sha256(f, "s3://b/k#other") is None
    f.write_bytes(b"two!")
    assert verified_sha256(f, "s3://b/k#etag") is None


def test_checksum_mismatch_quarantines_the_copy(tmp_path):
    f = tmp_path / "cache" / "m.riva"
    f.parent.mkdir()
    f.write_bytes(b"bad")
    with pytest.raises(ArtifactError, match=r"sha256 .* expected 0{64}.*quarantined at .*nothing was marked complete"):
        check_sha256(f, sha(b"bad"), "0" * 64, "models/m.riva", tmp_path)
    assert not f.exists()
    moved = list((tmp_path / "quarantine").iterdir())
    assert sorted(p.suffix for p in moved) == [".riva", ".why"]


def test_a_full_disk_is_a_clear_error_and_keeps_the_parts(store, tmp_path, monkeypatch):
    import errno

    real, writes = os.pwrite, []

    def fill_up(fd, data, offset):
        writes.append(offset)
        if len(writes) > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", fill_up)
    with pytest.raises(ArtifactError, match="No space left on device.*free disk space.*parts already on disk"):
        download(store, "b", store.head("b", "src/a.tar.gz"), tmp_path / "a", part_size=PART, concurrency=1)
    assert (tmp_path / "a.part").exists() and len((tmp_path / "a.part.log").read_text().splitlines()) == 4


def test_stamps_and_journals_of_an_earlier_boot_count_for_nothing(store, tmp_path, monkeypatch):
    from rivaverify.artifact import download as dl

    f = tmp_path / "m.riva"
    f.write_bytes(b"one")
    mark_verified(f, sha(b"one"))
    info = store.head("b", "src/a.tar.gz")
    store.fail["read_range"] = lambda key: ArtifactError("stop") if store.count("read_range") == 4 else None
    with pytest.raises(ArtifactError):
        download(store, "b", info, tmp_path / "a", part_size=PART, concurrency=1, backoff=NO_WAIT)
    store.fail.clear()
    monkeypatch.setattr(dl, "BOOT", "another-boot")  # the machine rebooted: the page cache may be gone
    assert verified_sha256(f) is None
    store.calls.clear()
    assert download(store, "b", info, tmp_path / "a", part_size=PART) == sha(DATA)
    assert store.count("read_range") == 11  # the parts on disk were not trusted
