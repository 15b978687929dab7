"""The suites run against riva-lite, as a user runs them: the fix, the bug, a taken port, a server killed
mid-run, Ctrl-C. After every one, no process of the deployment is left behind."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from rivalite.launcher import free_port
from rivaverify import procfs
from testing import shared_s3
from tests.conftest import ROOT

pytestmark = pytest.mark.slow


def free_ports(n: int) -> list[int]:
    """n distinct free ports, outside the ephemeral range (rivalite.launcher.free_port)."""
    ports: set[int] = set()
    while len(ports) < n:
        ports.add(free_port(ports))
    return sorted(ports)


@pytest.fixture(scope="module")
def work_dir(tmp_path_factory):
    """One artifact and model repository for every run of this module (riva-lite packs it once)."""
    pytest.importorskip("pytriton", reason="needs the lite extra: pip install -e '.[lite]'")
    return tmp_path_factory.mktemp("work")


class Run:
    """A suite run as a user starts it. `shared_store`: stage into this test process' S3 server (testing.shared_s3),
    where the archive is staged once, not into an embedded server of the run's own (the default with no bucket)."""

    def __init__(self, tmp_path: Path, work_dir: Path, extra_env: dict[str, str] | None = None,
                 shared_store: bool = True):
        riva, http, grpc_, metrics = free_ports(4)
        self.ports = {"riva": riva, "http": http, "grpc": grpc_, "metrics": metrics}
        self.reports, self.state = tmp_path / "reports", tmp_path / "state"
        self.env = {k: v for k, v in os.environ.items() if not k.upper().startswith("RIVA__")}
        self.env.update({
            "RIVA__HOST": f"localhost:{riva}", "RIVA__TRITON_HTTP_PORT": str(http),
            "RIVA__TRITON_GRPC_PORT": str(grpc_), "RIVA__TRITON_METRICS_PORT": str(metrics),
            "RIVA__REPORTS_DIR": str(self.reports), "RIVA__STATE_DIR": str(self.state),
            "RIVA__WORK_DIR": str(work_dir), **(shared_s3.env() if shared_store else {}), **(extra_env or {}),
        })

    def pytest(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "pytest", "suites/", "-p", "no:cacheprovider", *args]
        return subprocess.run(cmd, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)

    @staticmethod
    def why(result: subprocess.CompletedProcess, limit: int = 6000) -> str:
        """What a failed run says: its FAILURES and ERRORS sections first (a long skip summary pushes them out of a
        plain tail), then the output's last lines and stderr's."""
        out = result.stdout
        found = re.search(r"^=+ (FAILURES|ERRORS) =+$.*?(?=^=+ short test summary)", out, re.M | re.S)
        head = found.group(0)[-limit:] if found else ""
        return f"{head}\n...\n{out[-2000:]}\n{result.stderr[-1500:]}"

    def state_of(self, phase: str) -> dict:
        return json.loads((self.state / f"{phase}.json").read_text())

    def leftovers(self) -> list[str]:
        """Processes that still carry one of this run's ports in their command line."""
        marks = [f"={p}" for p in self.ports.values()] + [f":{self.ports['riva']}"]
        found = []
        for pid in procfs.pids():
            cmd = " ".join(procfs.cmdline(pid))
            if pid != os.getpid() and procfs.alive(pid) and any(m in cmd for m in marks) and "pytest" not in cmd:
                found.append(f"{pid}: {cmd[:200]}")
        return found


def test_the_fix_smoke_passes_through_the_shim(tmp_path, work_dir):
    run = Run(tmp_path, work_dir, shared_store=False)  # the README's run: no bucket, an embedded S3 server
    result = run.pytest("-m", "smoke")
    assert result.returncode == 0, run.why(result)
    for phase in ("010", "030", "040", "050"):
        assert run.state_of(phase)["status"] == "passed"
    argv = run.state_of("040")["facts"]["tritonserver_argv"]
    repo_args = [a for a in argv if a.startswith("--model-repository")]
    assert len(repo_args) == 1 and repo_args[0].startswith(f"--model-repository={work_dir}/deploy/"), argv
    figures = run.state_of("050")["figures"]
    assert figures["recognize.wer"]["transcript"] == "what is natural language processing"
    assert (run.reports / "smoke.html").is_file() and (run.reports / "logs" / "riva-local.log").is_file()
    log = (run.reports / "logs" / "riva-local.log").read_text()
    assert "  > Triton server is ready..." in log and "Riva Conversational AI Server listening on" in log
    assert "Riva server is ready" not in log  # NVIDIA's host script prints that, not the container
    assert run.state_of("040")["facts"]["container_lines"]["riva_listening"]
    assert run.leftovers() == []


def test_the_bug_without_the_shim_fails_040_with_the_shim_next_step(tmp_path, work_dir):
    run = Run(tmp_path, work_dir, {"RIVA__SHIM": "false"})
    result = run.pytest("-m", "smoke")
    assert result.returncode == 1
    out = result.stdout
    assert "040 deploy       FAILED" in out and "050 smoke        NOT_RUN" in out
    assert "next step: tritonserver started without --model-repository: the shim is not first on PATH" in out
    assert "--model-repository must be specified" in (run.reports / "logs" / "riva-local.log").read_text()
    assert run.state_of("050")["status"] == "not_run"
    assert "the shim is not first on PATH" in (run.reports / "smoke.html").read_text()
    assert list(run.reports.glob("support-bundle-*.tar.gz"))
    assert run.leftovers() == []


def test_a_taken_port_fails_preflight_naming_it_and_runs_nothing_else(tmp_path, work_dir):
    run = Run(tmp_path, work_dir)
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", run.ports["http"]))
        holder.listen()
        result = run.pytest("-m", "smoke")
    assert result.returncode == 1
    assert f"triton http {run.ports['http']} by" in result.stdout
    assert run.state_of("040")["status"] == "not_run"
    assert run.leftovers() == []


KILLER = """
import os, signal, pytest

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if "test_050_smoke" in item.nodeid and not item.config.stash.get(KEY, False):
        item.config.stash[KEY] = True
        for pid in os.listdir("/proc"):
            try:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read()
            except OSError:
                continue
            if b"tritonserver" in cmd.split(b"\\0")[0] and MARK in cmd:
                os.kill(int(pid), signal.%s)

KEY = pytest.StashKey[bool]()
MARK = b"--http-port=%d"
"""


CTRL_C = """
import os, signal, pytest

@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    if "test_050_smoke" in item.nodeid:
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a Ctrl-C, even where the caller ignores SIGINT
        os.kill(os.getpid(), signal.SIGINT)
"""


def _plugin(tmp_path: Path, run: Run, source: str) -> None:
    (tmp_path / "plug").mkdir()
    (tmp_path / "plug" / "disrupt.py").write_text(textwrap.dedent(source))
    run.env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "plug"), run.env.get("PYTHONPATH", "")])


def test_a_server_killed_mid_run_fails_with_a_clear_error_and_leaves_nothing(tmp_path, work_dir):
    run = Run(tmp_path, work_dir)
    _plugin(tmp_path, run, KILLER % ("SIGKILL", run.ports["http"]))
    result = run.pytest("-m", "smoke", "-p", "disrupt")
    assert result.returncode == 1, result.stdout[-3000:]
    assert "050 smoke        FAILED" in result.stdout
    failures = [f["message"] for f in run.state_of("050")["failures"]]
    assert failures and all("failed with UNAVAILABLE" in m for m in failures), failures
    assert "One of the processes has exited unexpectedly" in (run.reports / "logs" / "riva-local.log").read_text()
    assert run.leftovers() == []


def test_ctrl_c_mid_run_stops_the_deployment(tmp_path, work_dir):
    run = Run(tmp_path, work_dir)
    _plugin(tmp_path, run, CTRL_C)
    result = run.pytest("-m", "smoke", "-p", "disrupt")
    assert result.returncode == 2, result.stdout[-3000:]
    assert "KeyboardInterrupt" in result.stdout
    assert run.leftovers() == []


def test_endpoint_target_attaches_and_skips_what_it_cannot_see(tmp_path, work_dir, rivalite_models):
    """riva-lite started outside the suite (as a team's deployment would be); the suite only attaches."""
    from testing.local_riva import LocalRiva

    repo = rivalite_models
    with LocalRiva(repo, tmp_path / "riva") as riva:
        riva.wait_ready()
        run = Run(tmp_path, work_dir, {"RIVA__TARGET": "endpoint"})
        run.env.update({"RIVA__HOST": riva.riva_uri, "RIVA__TRITON_HTTP_PORT": str(riva.http_port),
                        "RIVA__TRITON_GRPC_PORT": str(riva.grpc_port),
                        "RIVA__TRITON_METRICS_PORT": str(riva.metrics_port)})
        result = run.pytest("-m", "smoke", "-rs")
        out = result.stdout
        assert result.returncode == 0, run.why(result)
        assert "target endpoint" in out and "model repository is not visible from here" in out
        assert "the launcher was not started by this run" in out
        assert run.state_of("050")["status"] == "passed"
        argv = run.state_of("040")["facts"]["tritonserver_argv"]
        assert f"--model-repository={repo.resolve()}" in argv
        assert run.state_of("050")["figures"]["triton.success_per_recognize"]["value"] >= 1
        # Metrics of another Triton (they never move): 050's request count says these are not the deployment's.
        with StaticMetrics() as url:
            wrong = Run(tmp_path / "wrong", work_dir, {**{k: v for k, v in run.env.items() if k.startswith("RIVA__")},
                                                       "RIVA__METRICS_URL": url,
                                                       "RIVA__STATE_DIR": str(tmp_path / "wrong" / "state"),
                                                       "RIVA__REPORTS_DIR": str(tmp_path / "wrong" / "reports")})
            result = wrong.pytest("-m", "smoke")
        assert result.returncode == 1 and "050 smoke        FAILED" in result.stdout, result.stdout[-3000:]
        assert "no model's nv_inference_request_success at " + url in result.stdout
    assert riva.leftovers() == []


class StaticMetrics:
    """An HTTP server answering Triton-style metrics that never change (a Triton that is not the deployment's)."""

    TEXT = b'nv_inference_request_success{model="other-triton-model",version="1"} 7\n'

    def __enter__(self) -> str:
        import http.server
        import threading

        text = self.TEXT

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args):
                pass

        self.server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_port}/metrics"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_load_phase_runs_locust_and_its_statistics_add_up(tmp_path, work_dir):
    run = Run(tmp_path, work_dir, {"RIVA__LOAD_SECONDS": "6", "RIVA__CORPUS": str(short_corpus(tmp_path))})
    result = run.pytest("-m", "load")
    assert result.returncode == 0, Run.why(result)
    state = run.state_of("080")
    assert state["status"] == "passed" and state["figures"]["load.stream.requests"]["value"] >= 4
    assert (run.reports / "load-suite_stats.csv").is_file() and run.leftovers() == []


def test_dry_run_plans_the_load_run_and_runs_nothing(tmp_path, work_dir):
    run = Run(tmp_path, work_dir)
    result = run.pytest("-m", "load", "--dry-run")
    assert result.returncode == 0, Run.why(result)
    assert "-m locust -f" in result.stdout and "RivaStreamingUser" in result.stdout
    assert not list(run.reports.glob("load-suite*")) and run.leftovers() == []


def corpus_subset(out: Path, pick: Callable[[list[dict]], list[dict]]) -> Path:
    """A manifest at `out` of the corpus' rows that `pick` keeps of them all, their audio paths absolute."""
    rows = [json.loads(line) for line in (ROOT / "audio" / "manifest.json").read_text().splitlines()]
    out.write_text("".join(json.dumps({**r, "audio_filepath": str(ROOT / "audio" / r["audio_filepath"])}) + "\n"
                           for r in pick(rows)))
    return out


def short_corpus(tmp_path: Path, n: int = 6, max_s: float = 5.0) -> Path:
    """The corpus' first clip and the next ones of at most `max_s` seconds, `n` in all, as a manifest."""
    return corpus_subset(tmp_path / "short-corpus.json",
                         lambda rows: [rows[0]] + [r for r in rows[1:] if r["duration"] <= max_s][: n - 1])


@pytest.mark.heavy  # the whole release gate (about 35 s; smoke's phases are proven above): CI's heavy lane
def test_production_gate_passes_on_riva_lite(tmp_path, work_dir):
    """The release gate on the default target, kept short: six clips of at most 5 s, two of them streamed at
    real time; phase 070 has its own tests (tests/test_gateway_suite.py)."""
    run = Run(tmp_path, work_dir, {"RIVA__STREAM_UTTERANCES": "2", "RIVA__CORPUS": str(short_corpus(tmp_path)),
                                   "RIVA__REPORT_NAME": "production"})
    result = run.pytest("-m", "production and not gateway")
    assert result.returncode == 0, Run.why(result)
    figures = run.state_of("060")["figures"]
    assert figures["corpus.wer"]["value"] <= 0.25 and figures["latency.final"]["n"] >= 2
    assert set(run.state_of("060")["facts"]["bad_input"]) >= {"unknown language", "empty audio"}
    html = (run.reports / "production.html").read_text()
    assert "Latency per response" in html and "WER per utterance" in html
    assert run.leftovers() == []
