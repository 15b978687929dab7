"""The report's summary and history, computed from recorded run data (rivaverify.report): key figures against
their bounds, the verdict of a failed run, history records and the regression rule."""

from __future__ import annotations

import json
import re
import threading

import pytest

from rivaverify import releases, targets
from rivaverify.report import charts, history, summary
from rivaverify.settings import PROFILES, Profile, load

BOUNDS = PROFILES[Profile.dev].model_dump()


def phase(order, name, status="passed", figures=None, **extra):
    figs = {k: {"key": k, "value": v, "unit": u} for k, (v, u) in (figures or {}).items()}
    return {"phase": order, "name": name, "status": status, "counts": {status: 1}, "figures": figs, "facts": {},
            "failures": [], **extra}


PASSED = [
    phase("040", "deploy", figures={"ready.triton_live": (3.5, "s"), "ready_total": (3.7, "s"),
                                    "triton.failure": (0.0, "requests")}),
    phase("050", "smoke", figures={"recognize.seconds": (1.2, "s"), "recognize.wer": (0.0, "")}),
    phase("060", "production", figures={"corpus.wer": (0.31, ""), "offline.rtfx": (0.5, "x"),
                                        "concurrent2.final": (900.0, "ms"), "corpus.per_utterance": ([], "")}),
]


def by_id(figures):
    return {f["id"]: f for f in figures}


def test_key_figures_carry_their_bound_and_verdict():
    figs = by_id(summary.key_figures(PASSED, BOUNDS))
    assert figs["050 recognize.seconds"]["bound"] == BOUNDS["max_response_s"]
    assert figs["050 recognize.seconds"]["verdict"] == "ok"
    assert figs["060 corpus.wer"]["verdict"] == "over"  # 0.31 against dev's 0.25
    assert figs["060 offline.rtfx"]["verdict"] == "under"  # 0.5x against dev's 1.0x: higher is better
    assert figs["060 concurrent2.final"]["label"] == "final latency p95, 2 streams"
    assert figs["040 ready.triton_live"]["label"] == "ready: triton live"
    assert figs["040 ready.triton_live"]["verdict"] == ""  # no bound
    assert figs["040 triton.failure"]["label"] == "Triton request failures in 040 deploy"
    assert "060 corpus.per_utterance" not in figs  # not a number
    order = [f["id"] for f in summary.key_figures(PASSED, BOUNDS)]
    assert order.index("050 recognize.seconds") < order.index("060 corpus.wer") < order.index("040 ready_total")


def test_a_failed_phase_gives_the_verdict_its_message_and_next_steps():
    failing = phase("040", "deploy", "failed", figures={"ready_total": (0.3, "s")},
                    failures=[{"nodeid": "suites/test_040_deploy.py::test_argv", "message": "no --model-repository"}],
                    next_steps=["put the shim first on PATH"])
    phases = [phase("010", "preflight"), failing, phase("050", "smoke", "not_run")]
    v = summary.verdict(1, phases)
    assert (v["status"], v["phase"], v["message"]) == ("failed", "040 deploy", "no --model-repository")
    assert v["next_steps"] == ["put the shim first on PATH"] and v["not_run"] == ["050 smoke"]
    assert summary.verdict(0, phases[:1]) == {"status": "passed", "exit": "passed", "not_run": []}
    assert summary.verdict(2, phases[:1])["exit"] == "interrupted"
    # a readiness time of a deployment that never got ready is not "ok"
    assert by_id(summary.key_figures(phases, BOUNDS))["040 ready_total"]["verdict"] == "phase failed"


def test_figures_read_as_a_person_reads_them():
    assert summary.fmt(0.052, "", percent=True) == "5.2 %"
    assert summary.fmt(353.21, "ms") == "353 ms"
    assert summary.fmt(1.2345, "s") == "1.23 s"
    assert summary.fmt(2 * 2**30, "bytes") == "2.00 GiB"
    assert summary.fmt(12.34, "x") == "12.3x"
    assert summary.fmt(None) == "—"


def test_what_was_verified_names_image_kind_model_and_duration():
    run = {"target": "docker", "profile": "production", "started_at": "2026-12-02T02:30:00.000+00:00",
           "finished_at": "2026-12-02T02:41:40.500+00:00", "settings": {"target": "docker"},
           "phases": [{"facts": {"artifact": {"artifact_id": "parakeet-1-abc"}}}]}
    image = "nvcr.io/nvidia/riva/riva-speech:2.19.0"
    got = summary.verified(run, image, "sha256:0123", "gpu-1 (localhost:50051)", releases.family(image))
    assert got["flavor"] == "classic" and got["model"] == "parakeet-1-abc" and got["took"] == "700.5 s"
    assert got["when"] == "2026-12-02 02:30:00 UTC" and got["digest"] == "sha256:0123"
    assert releases.family("nvcr.io/nim/nvidia/parakeet-1-1b-ctc-en-us:1.3.0") == "nim"
    assert summary.flavor({"flavor": "nim"}, None, None) == "nim"  # RIVA__FLAVOR, where set, wins
    assert summary.flavor({"flavor": "nim", "target": "local"}, None, None) == "nim (riva-lite)"


def figure(value, unit="s", **kw):
    return {"id": "050 recognize.seconds", "phase": "050", "label": "smoke: Recognize response", "value": value,
            "unit": unit, "higher_is_better": False, "verdict": "ok", **kw}


def records(*values, failed_at=()):
    return [{"time": f"t{i}", "failed_phase": "050 smoke" if i in failed_at else None,
             "figures": {"050 recognize.seconds": {"value": v, "unit": "s"}}} for i, v in enumerate(values)]


def test_a_figure_worse_than_the_median_beyond_the_tolerance_is_a_regression():
    t = history.trend(records(1.0, 1.1, 0.9, 1.5), figure(1.5), tolerance=0.2)
    assert t["values"] == [1.0, 1.1, 0.9, 1.5] and t["median"] == 1.0
    assert "1.5 against a median of 1 over the 3 earlier run(s), beyond 20%" in t["regression"]
    assert history.trend(records(1.0, 1.1, 0.9, 1.15), figure(1.15), tolerance=0.2)["regression"] == ""
    # a readiness stage of 1 ms that took 2 ms is timer noise, not a regression; 0 -> 1 failed request is one
    assert not history.trend(records(0.001, 0.001, 0.002), figure(0.002), tolerance=0.2)["regression"]
    fails = dict(figure(1.0, "requests"), id="050 triton.failure")
    fail_records = [{"figures": {"050 triton.failure": {"value": v}}} for v in (0.0, 0.0, 1.0)]
    assert history.trend(fail_records, fails, tolerance=0.2)["regression"]
    # higher is better (RTFx): a drop is the regression
    rtfx = figure(40, "x", higher_is_better=True)
    assert history.trend(records(60, 62, 40), rtfx, tolerance=0.2)["regression"]
    assert not history.trend(records(60, 62, 80), rtfx, tolerance=0.2)["regression"]


def test_trend_keeps_the_window_and_leaves_failed_phases_out_of_the_median():
    t = history.trend(records(*range(30)), figure(29), tolerance=0.2)
    assert t["values"] == list(range(10, 30))  # the last 20 runs
    # the one earlier run whose phase failed (a short meaningless time) is not what this run is judged against
    t = history.trend(records(1.0, 0.1, 1.1), figure(1.1), tolerance=0.2)
    assert t["median"] == 0.55
    t = history.trend(records(1.0, 0.1, 1.1, failed_at=(1,)), figure(1.1), tolerance=0.2)
    assert t["median"] == 1.0 and t["values"] == [1.0, 0.1, 1.1] and not t["regression"]
    first = history.trend(records(1.0), figure(1.0), tolerance=0.2)
    assert first == {"values": [1.0], "times": ["t0"], "regression": ""}


def test_history_appends_whole_lines_atomically_and_skips_what_is_not_a_record(tmp_path):
    path = tmp_path / "history" / "smoke.jsonl"
    path.parent.mkdir()
    path.write_text('{"figures": {}, "time": "old"}\nnot json\n')

    def add(n):
        for i in range(n):
            history.append(path, {"time": f"{threading.get_ident()}-{i}", "figures": {}})

    threads = [threading.Thread(target=add, args=(25,)) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = path.read_text().splitlines()
    assert len(lines) == 101 and all(json.loads(line)["figures"] == {} for line in lines)  # no run lost
    assert [p.name for p in path.parent.iterdir()] == ["smoke.jsonl"]  # no temporary file left
    assert len(history.append(path, {"figures": {}}, keep=10)) == 10 == len(history.read(path))


def test_a_record_holds_what_the_trend_needs():
    run = {"finished_at": "2026-12-02T02:41:40+00:00", "started_at": "2026-12-02T02:30:00+00:00"}
    figs = summary.key_figures(PASSED, BOUNDS)
    verified = {"target": "docker", "image": "riva-speech:2.19.0", "digest": "sha256:0", "flavor": "riva-speech"}
    rec = history.record(run, "nightly", verified, {"status": "failed", "phase": "060 production"}, figs)
    assert (rec["name"], rec["verdict"], rec["failed_phase"], rec["image"]) == (
        "nightly", "failed", "060 production", "riva-speech:2.19.0")
    assert rec["figures"]["060 corpus.wer"] == {"value": 0.31, "unit": ""}


def test_latencies_of_ms_and_seconds_share_a_readable_histogram():
    svg = charts.histogram({"partial": [2, 3, 4, 5], "final": [2000, 2500]}, "Latency per response")
    assert "Latency per response (log scale)" in svg
    counts = [int(n) for n in re.findall(r"<title>(?:partial|final): (\d+)</title>", svg)]
    assert sum(counts) == 6 and max(counts) < 4  # spread over bins, not all partials in the first one
    assert "(log scale)" not in charts.histogram({"final": [300, 350, 900]}, "Latency")


def test_a_sparkline_marks_its_last_point():
    assert charts.sparkline([]) == ""
    line = charts.sparkline([1.0, 1.1, 2.0], "smoke", bad=True)
    assert line.count(",") == 3 and 'fill="#e15759"' in line and "<title>smoke</title>" in line
    assert 'fill="#4e79a7"' in charts.sparkline([1.0])


@pytest.mark.docker
def test_target_docker_reports_the_image_and_its_digest_from_the_engine(docker_engine):
    from plugins.reports import deployed_image

    tagged = [i for i in docker_engine.images.list() if i.tags]
    if not tagged:
        pytest.skip("no tagged image on the Docker engine")
    name = tagged[0].tags[0]
    image, digest, _ = deployed_image(targets.get(load({"target": "docker", "image": name})))
    digests = [d.rpartition("@")[2] for d in tagged[0].attrs.get("RepoDigests") or []]
    assert image == name and digest in digests + [tagged[0].id]
    assert summary.image_digest("riva-verify-no-such-image:0") == "unknown (ImageNotFound)"


def test_target_docker_with_flavor_nim_reports_riva_lite_nim_image():
    """Without RIVA__IMAGE, flavor nim runs riva-lite's NIM image (build_nim's tag), not the classic one."""
    from plugins.reports import deployed_image
    from rivaverify.adapters import rivalite

    image, digest, kind = deployed_image(targets.get(load({"target": "docker", "flavor": "nim"})))
    assert image == rivalite.nim_image_tag() and image.startswith("riva-lite-nim:") and kind is None
    assert image != rivalite.image_tag() and digest == summary.image_digest(image)
    assert deployed_image(targets.get(load({"target": "docker", "flavor": "classic"})))[0] == rivalite.image_tag()


NIM = [
    phase("040", "deploy", figures={"nim.start_cold": (95.0, "s"), "nim.start_warm": (130.0, "s"),
                                    "ready_total": (130.0, "s")}),
    phase("050", "smoke", figures={"http.wer": (0.0, ""), "http.seconds": (11.0, "s"),
                                   "http.grpc_disagreement": (0.3, "")}),
    phase("060", "production", figures={"realtime.en_clip_1": (0.1, ""), "realtime.en_clip_2": (0.4, "")}),
]


def test_nim_figures_are_key_figures_with_their_bounds():
    figs = by_id(summary.key_figures(NIM, BOUNDS))
    expect = {"040 nim.start_cold": ("ready_timeout_s", "ok"), "040 nim.start_warm": ("ready_timeout_s", "over"),
              "050 http.wer": ("max_wer", "ok"), "050 http.seconds": ("max_response_s", "over"),
              "050 http.grpc_disagreement": ("max_wer", "over"), "060 realtime.en_clip_1": ("max_wer", "ok"),
              "060 realtime.en_clip_2": ("max_wer", "over")}  # dev: ready 120 s, response 10 s, WER 0.25
    assert {k: (figs[k]["bound_name"], figs[k]["verdict"]) for k in expect} == expect
    assert figs["060 realtime.en_clip_1"]["label"] == "realtime WER, en clip 1" and figs["050 http.wer"]["percent"]
    assert figs["040 nim.start_cold"]["bound"] == BOUNDS["ready_timeout_s"]
    # they have a trend like any key figure, and a classic run (none recorded) lists none of them
    records = [{"figures": {"050 http.seconds": {"value": v, "unit": "s"}}} for v in (1.0, 1.1, 11.0)]
    assert history.trend(records, figs["050 http.seconds"], tolerance=0.2)["regression"]
    assert not [f for f in summary.key_figures(PASSED, BOUNDS) if f["key"].startswith(("http.", "realtime.", "nim."))]
