"""Target local with flavor nim: riva-lite's NIM face is configured by the settings alone, as on target docker
(a NIM_* variable inherited from the shell running the suite does not reach it)."""

from __future__ import annotations

from rivaverify.settings import load
from rivaverify.targets.local import LocalTarget

INHERITED = {"NIM_TAGS_SELECTOR": "name=other,mode=ofl", "NIM_MODEL_PROFILE": "abc123", "NIM_CACHE_PATH": "/old",
             "NIM_HTTP_API_PORT": "1", "NIM_GRPC_API_PORT": "2", "NIM_MANIFEST_PATH": "/elsewhere.yaml"}


def test_inherited_nim_variables_do_not_reach_riva_lites_nim(tmp_path, monkeypatch):
    for name, value in {**INHERITED, "RIVA_VERIFY_UNRELATED": "kept"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("RIVA__NIM_TAGS_SELECTOR", raising=False)
    settings = load({"target": "local", "flavor": "nim"})
    env = LocalTarget(settings).nim_spec(tmp_path / "cache", tmp_path / "nim.log").env
    assert env["NIM_CACHE_PATH"] == str(tmp_path / "cache")
    assert (env["NIM_HTTP_API_PORT"], env["NIM_GRPC_API_PORT"]) == (str(settings.nim_http_port),
                                                                     str(settings.grpc_port))
    assert not {"NIM_TAGS_SELECTOR", "NIM_MODEL_PROFILE", "NIM_MANIFEST_PATH"} & set(env)
    assert env["RIVA_VERIFY_UNRELATED"] == "kept"  # the rest of the environment (PATH, HOME) is passed on
    chosen = load({"target": "local", "flavor": "nim", "nim_tags_selector": "name=mine,mode=str"})
    assert LocalTarget(chosen).nim_spec(tmp_path, tmp_path / "nim.log").env["NIM_TAGS_SELECTOR"] == "name=mine,mode=str"
