"""Real Riva repository layouts (tests/repos/, sources in its README) pass phase 030's checks; a model that failed
to load is named as the root, not the ensembles it took down (Triton's own log and index text)."""

from __future__ import annotations

import shutil

import pytest

import rivalite
from rivalite import repository as rivalite_repository
from rivaverify import modelrepo
from tests.conftest import ROOT

REPOS = ROOT / "tests" / "repos"
LAYOUTS = sorted(p.name for p in REPOS.iterdir() if p.is_dir())
LOG = (REPOS / "triton-load-errors.log").read_text()


@pytest.mark.parametrize("layout", LAYOUTS)
def test_each_real_layout_has_no_problems(layout):
    repo = modelrepo.read(REPOS / layout)
    assert repo.problems == [], [str(p) for p in repo.problems]
    assert all(m.config is not None for m in repo.models.values())


def test_what_a_naive_check_trips_on_is_accepted():
    repo = modelrepo.read(REPOS / "riva-2.14-conformer-streaming")
    am = repo.models["riva-trt-conformer-en-US-asr-streaming-am-streaming"]
    assert am.config.platform == "tensorrt_plan" and not am.config.backend and am.config.max_batch_size > 0
    assert modelrepo.model_file(am) == "model.plan"
    assert [c.name for c in am.config.sequence_batching.control_input] == ["START", "READY", "END", "CORRID"]
    ensemble = repo.models["conformer-en-US-asr-streaming"]
    assert {s.model_version for s in ensemble.config.ensemble_scheduling.step} == {-1} and len(ensemble.steps) == 4
    bls = modelrepo.read(REPOS / "riva-2.19-parakeet-streaming-bls").models
    assert not any(m.is_ensemble for m in bls.values())  # the BLS names its acoustic model in no ensemble step


def test_a_missing_model_file_and_a_missing_step_version_are_found(tmp_path):
    repo_dir = shutil.copytree(REPOS / "riva-2.14-conformer-streaming", tmp_path / "repo")
    am = repo_dir / "riva-trt-conformer-en-US-asr-streaming-am-streaming"
    (am / "1" / "model.plan").unlink()
    ens = repo_dir / "conformer-en-US-asr-streaming" / "config.pbtxt"
    ens.write_text(ens.read_text().replace("model_version: -1", "model_version: 2", 1))
    problems = [(p.check, p.path, p.reason) for p in modelrepo.read(repo_dir).problems]
    assert (("version", am / "1", "has no model.plan, the file Triton loads for backend 'tensorrt_plan'")
            in problems)
    assert ("ensemble", ens, "ensemble step 'conformer-en-US-asr-streaming-feature-extractor-streaming' asks for "
            "version 2, the repository has ['1']") in problems
    assert len(problems) == 2


def test_the_log_names_the_root_model_not_the_ensemble():
    failures = {f.model: f for f in modelrepo.load_failures(log=LOG)}
    assert "conformer-en-US-asr-streaming" not in failures
    am = failures["riva-trt-conformer-en-US-asr-streaming-am-streaming"]
    assert am.dependents == ("conformer-en-US-asr-streaming",) and "failed to load" in am.reason
    post = failures["tts_postprocessor-English-US"]
    assert post.reason.startswith("Not found: unable to load shared library") and "GLIBCXX_3.4.29" in post.reason
    assert post.dependents == ("fastpitch_hifigan_ensemble-English-US",)
    # two glog entries on one line (as the log was pasted) stay two failures
    intent = failures["riva-trt-riva_intent_misty-nn-bert-base-uncased"]
    assert intent.dependents == ("riva_intent_misty",) and "riva_intent_misty-nn" not in intent.reason
    assert "KIND_GPU but no GPUs are available" in failures["spectrogram_chunker-English-US"].reason
    assert str(post).startswith("model 'tts_postprocessor-English-US' failed to load: Not found")


def test_the_repository_index_names_the_root_with_its_own_reason():
    am, ens = "riva-trt-parakeet-0.6b-en-US-asr-streaming-am-streaming", "parakeet-0.6b-en-US-asr-streaming"
    index = [  # tritonclient.http get_model_repository_index(): name, version, state, reason
        {"name": ens, "version": "1", "state": "UNAVAILABLE",
         "reason": f"ensemble '{ens}' depends on '{am}' which has no loaded version. Model '{am}' loading failed "
                   "with error: version 1 is at UNAVAILABLE state: Internal: unable to create TensorRT engine"},
        {"name": am, "version": "1", "state": "UNAVAILABLE",
         "reason": "version 1 is at UNAVAILABLE state: Internal: unable to create TensorRT engine"},
        {"name": "riva-punctuation-en-US", "version": "1", "state": "READY", "reason": ""},
    ]
    for shape in (index, {"models": index}):  # http's list, grpc's as_json
        (only,) = modelrepo.load_failures(shape)
        assert (only.model, only.dependents) == (am, (ens,))
        assert only.reason == "version 1 is at UNAVAILABLE state: Internal: unable to create TensorRT engine"
    (embedded,) = modelrepo.load_failures(index[:1])  # B absent from the index: its error from A's reason
    assert embedded.model == am and embedded.reason.endswith("unable to create TensorRT engine")
    assert modelrepo.load_failures(index[2:]) == []


@pytest.mark.parametrize("layout", rivalite.LAYOUTS)
def test_rivalite_repository_passes_in_both_layouts(tmp_path, layout):
    weights = tmp_path / "weights"
    weights.mkdir()
    (weights / "model.bin").write_text("x")
    rivalite_repository.write(tmp_path / "models", rivalite.DEFAULT_NAME, weights, 1, layout)
    repo = modelrepo.read(tmp_path / "models")
    assert repo.problems == [] and len(repo.models) >= 4, [str(p) for p in repo.problems]


def test_phase_030_passes_on_a_real_layout_without_a_deployment(pytester, monkeypatch):
    monkeypatch.setenv("RIVA__TARGET", "endpoint")
    monkeypatch.setenv("RIVA__MODEL_REPO", str(REPOS / "riva-2.14-conformer-streaming"))
    monkeypatch.setenv("RIVA__STATE_DIR", str(pytester.path / "state"))
    monkeypatch.setenv("RIVA__REPORTS_DIR", str(pytester.path / "reports"))
    monkeypatch.chdir(ROOT)
    result = pytester.runpytest_subprocess(str(ROOT / "suites" / "test_030_modelrepo.py"), "-p", "no:cacheprovider")
    assert result.parseoutcomes() == {"passed": 7, "warnings": 1}, result.stdout.str()[-2000:]


def test_readiness_probe_names_the_root_model(tmp_path):
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from rivaverify import probes

    am, ens = "riva-trt-conformer-en-US-asr-streaming-am-streaming", "conformer-en-US-asr-streaming"
    index = json.dumps([{"name": ens, "version": "1", "state": "UNAVAILABLE",
                         "reason": f"ensemble '{ens}' depends on '{am}' which has no loaded version"},
                        {"name": am, "version": "1", "state": "UNAVAILABLE",
                         "reason": "Internal: unable to load plan file"}]).encode()

    class Index(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("Content-Length", str(len(index)))
            self.end_headers()
            self.wfile.write(index)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        ok, detail = probes.triton_models_ready(f"http://127.0.0.1:{server.server_port}", [ens])()
    finally:
        server.shutdown()
    assert not ok
    assert detail.startswith(f"model '{am}' failed to load: Internal: unable to load plan file (and so '{ens}'")


def test_the_server_chunk_from_a_real_streaming_config():
    """Where GetRivaSpeechRecognitionConfig does not list chunk_size, the suite reads the pipeline's config."""
    from rivaverify.asr.client import server_chunk_ms
    from rivaverify.modelrepo import listed_parameters

    found = {d.name: server_chunk_ms(listed_parameters(d), "en-US") for d in sorted(REPOS.iterdir()) if d.is_dir()}
    assert found["riva-2.19-parakeet-streaming-bls"] == 160.0, found
