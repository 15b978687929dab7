"""`rivaverify serve` as a user runs it: the real command in front of riva-lite (real gRPC), its /healthz, /metrics
and page; a deployment that is down; SIGTERM."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from rivalite.launcher import free_port
from rivaverify import settings as settings_mod
from rivaverify.cli.serve import READY
from rivaverify.process import Child
from rivaverify.readiness import wait_until
from rivaverify.serve.checks import FAILED, NOT_RUN, PASSED, Verifier

pytestmark = pytest.mark.slow
CHECKS = ["grpc_health", "model_listed", "recognize", "streaming"]


class ServeProcess(Child):
    """`rivaverify serve` on a free port, against RIVA__HOST=`riva`; its output in a file."""

    def __init__(self, riva: str, workdir: Path, interval: float = 2, env: dict[str, str] | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        argv = [sys.executable, "-m", "rivaverify.cli", "serve", "--listen", f"127.0.0.1:{self.port}",
                "--interval", str(interval)]
        env = {**os.environ, "RIVA__TARGET": "endpoint", "RIVA__HOST": riva, **(env or {})}
        super().__init__(argv, workdir / f"serve-{self.port}.log", env=env, name="rivaverify serve")

    def start(self, ready: str | None = READY, timeout: float = 60) -> ServeProcess:
        super().start(ready, timeout)
        return self

    def healthz(self) -> tuple[int, dict]:
        r = requests.get(f"{self.url}/healthz", timeout=5)
        return r.status_code, r.json()

    def metrics(self) -> dict[str, list]:
        """Samples by name: [(labels, value), ...]."""
        text = requests.get(f"{self.url}/metrics", timeout=5).text
        out: dict[str, list] = {}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                out.setdefault(s.name, []).append((s.labels, s.value))
        return out

    def wait_health(self, status: int, timeout: float) -> dict:
        def seen() -> dict | None:
            code, body = self.healthz()
            return body if code == status and body["last_run"] else None  # "pending" is 503 too
        return wait_until(seen, timeout, f"/healthz of {self.url} answering {status} after a run", interval_s=0.2)


def by_check(samples: list) -> dict[str, float]:
    return {labels["check"]: value for labels, value in samples}


def test_a_run_on_riva_lite_passes_with_the_suites_verdicts(riva):
    run = Verifier(settings_mod.load({"grpc_address": riva.riva_uri, "target": "endpoint"})).run()
    assert [c.name for c in run.checks] == CHECKS, run.checks
    assert run.passed, [c for c in run.checks if c.status != PASSED]
    for c in run.checks[2:]:
        assert c.wer is not None and c.wer <= c.wer_bound, c
        assert 0 < c.latency_s <= c.latency_bound_s, c
    assert "whisper" in run.model, run.model


def test_a_transcript_over_the_wer_bound_fails_its_checks(riva, tmp_path):
    sample = Path(__file__).resolve().parents[1] / "audio" / "en-US_sample.wav"
    manifest = tmp_path / "manifest.json"
    line = {"audio_filepath": str(sample), "text": "nothing like what is said", "duration": 4.152, "lang": "en-US"}
    manifest.write_text(json.dumps(line))
    run = Verifier(settings_mod.load({"grpc_address": riva.riva_uri, "target": "endpoint", "corpus": manifest}),
                   realtime=False).run()
    checks = {c.name: c for c in run.checks}
    assert not run.passed and checks["model_listed"].status == PASSED
    for name in ("recognize", "streaming"):
        assert checks[name].status == FAILED and checks[name].wer > checks[name].wer_bound, checks[name]
        assert "over 0.25: heard" in checks[name].detail, checks[name]
        assert any("transcribe_file" in step for step in checks[name].next_steps), checks[name].next_steps


def test_a_call_past_its_deadline_fails_with_the_catalogue_next_step(riva):
    s = settings_mod.load({"grpc_address": riva.riva_uri, "target": "endpoint", "max_response_s": 0.001})
    recognize = {c.name: c for c in Verifier(s, realtime=False).run().checks}["recognize"]
    assert recognize.status == FAILED and "DEADLINE_EXCEEDED" in recognize.detail, recognize
    assert "RIVA__MAX_RESPONSE_S" in recognize.next_steps[0], recognize.next_steps


def test_serve_answers_healthz_metrics_and_page_and_stops_on_sigterm(riva, tmp_path):
    serve = ServeProcess(riva.riva_uri, tmp_path).start()
    try:
        body = serve.wait_health(200, 60)
        assert body["verdict"] == "passed" and body["healthy"], body
        assert [c["name"] for c in body["last_run"]["checks"]] == CHECKS
        rec = body["last_run"]["checks"][2]
        assert rec["wer"] <= rec["wer_bound"] and rec["latency_s"] <= rec["latency_bound_s"], rec
        m = serve.metrics()
        assert [v for _, v in m["rivaverify_probe_success"]] == [1.0], m["rivaverify_probe_success"]
        labels = m["rivaverify_probe_success"][0][0]
        assert labels["target"] == "endpoint" and labels["flavor"] == "classic" and "whisper" in labels["model"]
        assert by_check(m["rivaverify_check_success"]) == dict.fromkeys(CHECKS, 1.0)
        assert set(by_check(m["rivaverify_last_wer"])) == {"recognize", "streaming"}
        assert sum(v for labels, v in m["rivaverify_runs_total"] if labels["outcome"] == "passed") >= 1
        assert m["rivaverify_latency_seconds_count"], "no latency histogram"
        page = requests.get(serve.url + "/", timeout=5).text
        assert "Riva ASR: PASSED" in page and "streaming" in page
    finally:
        t0 = time.monotonic()
        rc = serve.stop(timeout=10)
        took = time.monotonic() - t0
    assert rc == 0, f"rivaverify serve exited with {rc} on SIGTERM (expected 0):\n{serve.tail()}"
    assert took < 10, f"rivaverify serve took {took:.1f} s to stop on SIGTERM (expected a second or two)"
    assert "rivaverify serve: stopped" in serve.tail()


def test_a_deployment_that_is_down_is_reported_not_crashed_on(tmp_path):
    serve = ServeProcess(f"127.0.0.1:{free_port()}", tmp_path, interval=0.5).start()
    try:
        body = serve.wait_health(503, 30)
        wait_until(lambda: serve.healthz()[1]["runs"] >= 3, 30, "three runs against nothing")
        code, body = serve.healthz()
        assert code == 503 and body["verdict"] == "failed" and serve.alive(), body
        first = body["last_run"]["checks"][0]
        assert first["name"] == "grpc_health" and first["status"] == FAILED, first
        assert "UNAVAILABLE" in first["detail"], first
        assert first["next_steps"][0].startswith("nothing answers at 127.0.0.1:"), first["next_steps"]
        assert {c["status"] for c in body["last_run"]["checks"][1:]} == {NOT_RUN}
        m = serve.metrics()
        assert [v for _, v in m["rivaverify_probe_success"]] == [0.0]
        assert "rivaverify_last_success_timestamp_seconds" not in m
        assert sum(v for labels, v in m["rivaverify_runs_total"] if labels["outcome"] == "failed") >= 3
    finally:
        assert serve.stop() == 0, serve.tail()


def test_listen_and_settings_are_checked_before_serving(tmp_path):
    bad = Child([sys.executable, "-m", "rivaverify.cli", "serve", "--profile", "dev"], tmp_path / "bad.log",
                env={**os.environ, "RIVA__MAX_WER": "2"})
    bad.start()
    assert bad.proc.wait(60) == 2
    assert re.search(r"RIVA__MAX_WER='2'", bad.tail()), bad.tail()
    listen = Child([sys.executable, "-m", "rivaverify.cli", "serve", "--listen", "9410"], tmp_path / "listen.log")
    listen.start()
    assert listen.proc.wait(60) == 2
    assert "'9410': give HOST:PORT" in listen.tail(), listen.tail()


def test_healthz_is_cached_and_json(riva, tmp_path):
    from rivaverify.serve.app import Serve
    from rivaverify.serve.scheduler import Scheduler

    verifier = Verifier(settings_mod.load({"grpc_address": riva.riva_uri, "target": "endpoint"}), realtime=False)
    sched = Scheduler(verifier.run, 3600)
    serve = Serve(sched, "endpoint", "classic", cache_s=3600)
    assert serve.health()[0] == 503 and json.loads(serve.health()[1])["verdict"] == "pending"
    sched.run()
    assert serve.health()[0] == 503, "a burst of probes within the cache is answered from it"
    serve.cache_s = 0
    assert serve.health()[0] == 200
    sched.clock = lambda: time.time() + 2 * 3600  # two intervals later, no run since
    assert serve.health()[0] == 503 and json.loads(serve.health()[1])["verdict"] == "stale"


def test_every_metric_the_alert_rules_read_is_served(riva):
    import yaml

    from rivaverify.serve.app import Serve
    from rivaverify.serve.scheduler import Scheduler

    verifier = Verifier(settings_mod.load({"grpc_address": riva.riva_uri, "target": "endpoint"}), realtime=False)
    serve = Serve(Scheduler(verifier.run, 60), "endpoint", "classic")
    serve.scheduler.run()
    served = {s.name for f in text_string_to_metric_families(serve.metrics.text().decode()) for s in f.samples}
    rules = yaml.safe_load((Path(__file__).resolve().parents[1] / "deploy/monitoring/riva-asr-alerts.yml").read_text())
    read = {name for g in rules["groups"] for r in g["rules"] for name in re.findall(r"\brivaverify_\w+", r["expr"])}
    assert read and not read - served, f"the rules read metrics serve does not serve: {sorted(read - served)}"
