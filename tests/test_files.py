"""Atomic state files: a crash mid-write leaves the old file whole and no temporary file; the file gets the mode
an ordinary open() gives it, or keeps its own."""

from __future__ import annotations

import json
import os
import stat

import pytest

from rivaverify import files
from rivaverify.report import history


def test_write_then_read(tmp_path):
    path = files.write_json_atomic(tmp_path / "state" / "040.json", {"status": "passed"})
    assert files.read_json(path) == {"status": "passed"}


def test_crash_mid_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = files.write_json_atomic(tmp_path / "040.json", {"status": "passed"})

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(json, "dump", crash)
    with pytest.raises(KeyboardInterrupt):
        files.write_json_atomic(path, {"status": "failed"})
    assert files.read_json(path) == {"status": "passed"}
    assert [p.name for p in tmp_path.iterdir()] == ["040.json"]


@pytest.fixture
def umask():
    old = os.umask(0o022)
    yield os.umask
    os.umask(old)


def test_a_new_file_gets_the_mode_open_gives_and_a_rewritten_one_keeps_its_own(tmp_path, umask):
    def mode(p):
        return stat.S_IMODE(p.stat().st_mode)

    json_file = files.write_json_atomic(tmp_path / "run.json", {})
    text_file = files.write_text_atomic(tmp_path / "run.txt", "a\n")
    assert mode(json_file) == mode(text_file) == 0o644  # as open(..., "w") makes it under umask 022
    umask(0o027)
    assert mode(files.write_text_atomic(tmp_path / "group.txt", "a\n")) == 0o640
    shared = tmp_path / "history.jsonl"
    shared.write_text("{}\n")
    shared.chmod(0o664)  # someone made it group-writable: a rewrite keeps that, whatever the umask
    history.append(shared, {"figures": {}})
    text_file.chmod(0o600)
    files.write_text_atomic(text_file, "b\n")
    assert (mode(shared), mode(text_file), text_file.read_text()) == (0o664, 0o600, "b\n")
