"""`rivaverify diagnose`: verdicts and exit codes on real logs, stdin, bundles, JSON; bad input (empty, binary,
not Riva, missing, huge) gets a clear message and bounded memory."""

from __future__ import annotations

import io
import json
import tracemalloc

from rivaverify.bundle import make_bundle
from rivaverify.cli import main
from rivaverify.diagnostics.scan import BLOCK, scan
from tests.conftest import ROOT

LOGS = ROOT / "tests" / "data" / "real-logs"


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["diagnose", *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_nim_that_dies_after_ready_fails_with_line_cause_next_step_and_source(capsys):
    code, out, _ = run(capsys, str(LOGS / "nim-nemotron-asr-ucx-segfault.log"))
    assert code == 1
    assert "yes  the NIM's gRPC server is READY (line 2)" in out
    assert "- segfault at line 3: [pod:34398:0:34398] Caught signal 11" in out
    assert "- process-exited at line 6: tritonserver process has exited unexpectedly. Stopping container." in out
    assert "UCX_TLS=cuda_ipc,sm,tcp" in out and "source: " in out and "cause: " in out
    assert out.rstrip().endswith("(exit 1)")


def test_a_healthy_streaming_only_nim_passes_with_its_warning(capsys):
    code, out, _ = run(capsys, str(LOGS / "nim-2.25-streaming-only-healthy.log"))
    assert code == 0
    assert "verdict: healthy, 1 warning(s) (exit 0)" in out and "no-offline-models at line 6" in out
    assert "yes  the NIM's HTTP server serves (line 7)" in out


def test_json_names_each_unavailable_model_with_its_reason(capsys):
    code, out, _ = run(capsys, "--json", str(LOGS / "triton-model-table-shm-unavailable.log"))
    body = json.loads(out)
    assert code == 1 == body["exit_code"]
    (row,) = body["models"]
    assert (row["name"], row["status"]) == ("pre_multi_skin", "UNAVAILABLE")
    assert row["reason"].startswith("Internal: Unable to initialize shared memory key")
    assert {f["signature"] for f in body["findings"]} == {"model-unavailable", "shm-too-small"}
    assert body["kinds"] == {"triton-table": 1}


def test_stdin(capsys, monkeypatch):
    data = (LOGS / "docker-run-driver-too-old.log").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(data)))
    code, out, _ = run(capsys, "-")
    assert code == 1 and "container-cli-requirement at line 1" in out and out.startswith("stdin:")


def test_a_support_bundle_is_diagnosed_log_by_log(capsys, tmp_path):
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "riva-docker.log").write_bytes((LOGS / "jetson-jp6-l4t-mismatch.log").read_bytes())
    (logs / "gateway.log").write_text("INFO:uvicorn.error:Application startup complete.\n")
    bundle = make_bundle(tmp_path / "support-bundle-x.tar.gz", [("logs", logs)], {})
    code, out, _ = run(capsys, str(bundle))
    assert code == 1
    assert "support-bundle-x.tar.gz:support-bundle-x/logs/riva-docker.log: 30 lines" in out
    assert "missing-library at line 19" in out and "gateway.log" in out


def test_bad_input_gets_a_clear_message_and_exit_2(capsys, tmp_path):
    empty, binary, nginx = tmp_path / "empty.log", tmp_path / "core.bin", tmp_path / "access.log"
    empty.write_bytes(b"")
    binary.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 64)
    nginx.write_text('127.0.0.1 - - [06/Dec/2026:08:00:00 +0000] "GET / HTTP/1.1" 200 612 "-" "curl/8.5.0"\n' * 50)
    cases = {empty: "it is empty", binary: "it is binary data, not a text log",
             nginx: "not a log this command knows", tmp_path / "missing.log": "cannot read",
             tmp_path: "is a folder"}
    for path, says in cases.items():
        code, out, err = run(capsys, str(path))
        assert code == 2, (path, out, err)
        assert says in out + err and "Traceback" not in out + err, (path, out, err)
    code, _, err = run(capsys)
    assert code == 2 and "give a log file" in err
    code, out, _ = run(capsys, "--json", str(tmp_path / "missing.log"))
    assert code == 2 and json.loads(out)["exit_code"] == 2 and "cannot read" in json.loads(out)["verdict"]
    code, out, _ = run(capsys, "--json", str(empty))
    assert code == 2 and json.loads(out)["verdict"].endswith("it is empty")


class LazyLog(io.RawIOBase):
    """A log of `size` bytes made up as it is read: a big file without the disk."""

    def __init__(self, size: int) -> None:
        self.left, self.reads = size, []
        self.line = b"I0120 04:42:37.068055   210 grpc_riva_asr.cc:1807] Using model conformer from Triton\n"

    def read(self, n: int = -1) -> bytes:
        n = min(n, self.left)
        self.reads.append(n)
        self.left -= n
        return (self.line * (n // len(self.line) + 1))[:n]


def test_a_big_log_is_read_in_blocks_with_bounded_memory():
    log = LazyLog(48 * 1024 * 1024)
    tracemalloc.start()
    report = scan(log, "big")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert max(log.reads) <= BLOCK and report.bytes == 48 * 1024 * 1024
    assert peak < 6 * BLOCK, f"peak {peak / 2**20:.0f} MiB for a 48 MiB log"
    assert report.failures == [] and report.kinds["riva-speech"] > 0


def test_a_line_without_end_is_cut_not_held_whole():
    log = LazyLog(20 * 1024 * 1024)
    log.line = b"x" * 1000  # no newline at all
    tracemalloc.start()
    report = scan(log, "one long line")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 6 * BLOCK and report.unreadable.startswith("no line of it")


class FakeContainers:
    def __init__(self, logs: dict[str, bytes]) -> None:
        self.logs = logs

    def get(self, name: str):
        import docker.errors

        if name not in self.logs:
            raise docker.errors.NotFound(f"No such container: {name}")
        data = self.logs[name]

        class Container:
            def logs(self, stream: bool = False):
                return iter([data[i:i + 100] for i in range(0, len(data), 100)])  # the engine's chunks
        return Container()


def test_a_containers_log_is_read_through_the_docker_engine(capsys, monkeypatch):
    from rivaverify.runtime import docker_engine

    data = (LOGS / "nim-nemotron-asr-ucx-segfault.log").read_bytes()
    monkeypatch.setattr(docker_engine, "client", lambda: type("C", (), {"containers": FakeContainers({"asr": data})})())
    code, out, _ = run(capsys, "--container", "asr")
    assert code == 1 and out.startswith("container asr: 7 lines") and "segfault at line 3" in out
    code, _, err = run(capsys, "--container", "gone")
    assert code == 2 and "no container named gone" in err

    def no_engine():
        raise docker_engine.DockerError("no Docker engine reachable at the local socket (refused): start dockerd")
    monkeypatch.setattr(docker_engine, "client", no_engine)
    code, _, err = run(capsys, "--container", "asr")
    assert code == 2 and "no Docker engine reachable" in err
