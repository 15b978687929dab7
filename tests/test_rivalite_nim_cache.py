"""riva-lite's NIM face and its cache: a profile's repository deployed into it (an offline profile: the offline
pipeline alone), and a warm start that reuses a filled cache without NGC_API_KEY, stopped by Ctrl-C."""

from __future__ import annotations

import signal

import pytest
import requests

pytestmark = pytest.mark.slow


def test_an_offline_profile_deploys_the_offline_pipeline_alone(tmp_path):
    pytest.importorskip("pytriton", reason="riva-lite needs the lite extra: pip install -e '.[lite]'")
    from rivalite import model_names
    from rivalite.nim import cache, profiles

    offline = profiles.select(profiles.load(), "mode=ofl", "")
    repo = cache.fill(tmp_path, offline, log=lambda _: None)
    names = model_names()
    have = {p.name for p in repo.iterdir()}
    assert names["offline"] in have and names["offline_acoustic_model"] in have
    assert names["streaming"] not in have and names["acoustic_model"] not in have
    assert cache.cached(tmp_path, offline) == repo
    assert [p.name for p in (tmp_path / "riva-lite").iterdir()] == [offline.id]  # nothing half-written beside it


def test_warm_start_reuses_the_cache_and_ctrl_c_stops_it(tmp_path):
    pytest.importorskip("pytriton", reason="riva-lite needs the lite extra: pip install -e '.[lite]'")
    pytest.importorskip("aiohttp", reason="the NIM face needs the lite extra: pip install -e '.[lite]'")
    from rivalite.nim import cache, profiles
    from testing.local_nim import LocalNim

    offline = profiles.select(profiles.load(), "mode=ofl", "")
    cache.fill(tmp_path / "cache", offline, log=lambda _: None)  # what a first start leaves
    warm = LocalNim(tmp_path / "cache", tmp_path, env={"NGC_API_KEY": None, "NIM_TAGS_SELECTOR": "mode=ofl",
                                                       "NIM_MODEL_PROFILE": None})  # a filled cache needs no key
    warm.start().wait_ready(120)
    try:
        assert "reused from the cache" in warm.output()
        assert requests.get(f"{warm.base_url}/v1/health/ready", timeout=5).status_code == 200
        listed = requests.get(f"{warm.base_url}/v1/models", timeout=10).json()["data"]
        assert [m["type"] for m in listed] == ["offline"]  # the offline profile serves offline alone
        warm.signal(signal.SIGINT)
        warm.proc.wait(60)
    finally:
        rc = warm.stop(10)
    assert rc == 0, warm.tail(30)
    assert warm.kill_leftovers() == [], "processes outlived rivalite nim after Ctrl-C"


def test_two_starts_on_one_empty_cache_fill_it_once(tmp_path, monkeypatch):
    pytest.importorskip("pytriton", reason="riva-lite needs the lite extra: pip install -e '.[lite]'")
    from concurrent.futures import ThreadPoolExecutor

    from rivalite.nim import cache, profiles

    monkeypatch.setenv("NGC_API_KEY", "k")
    profile = profiles.select(profiles.load(), "mode=str", "")
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: cache.repository(tmp_path, profile, log=lambda _: None), range(2)))
    assert results[0][0] == results[1][0] and sorted(reused for _, reused in results) == [False, True]
    assert cache.cached(tmp_path, profile) == results[0][0]
    assert sorted(p.name for p in (tmp_path / "riva-lite").iterdir()) == [f".{profile.id}.lock", profile.id]
