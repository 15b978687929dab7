"""Atomic state files: a crash mid-write leaves the old file whole and no temporary file."""

from __future__ import annotations

import json

import pytest

from rivaverify import state


def test_write_then_read(tmp_path):
    path = state.write_json_atomic(tmp_path / "state" / "040.json", {"status": "passed"})
    assert state.read_json(path) == {"status": "passed"}


def test_crash_mid_write_keeps_the_old_file(tmp_path, monkeypatch):
    path = state.write_json_atomic(tmp_path / "040.json", {"status": "passed"})

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(json, "dump", crash)
    with pytest.raises(KeyboardInterrupt):
        state.write_json_atomic(path, {"status": "failed"})
    assert state.read_json(path) == {"status": "passed"}
    assert [p.name for p in tmp_path.iterdir()] == ["040.json"]
