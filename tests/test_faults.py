"""The fault matrix (docs/faults.md): the suite run against riva-lite while something breaks. For each fault: the
right phase fails (or the run stops) with the right next step, nothing hangs past the phase's deadline, no
process is left behind, every state file is whole JSON, and no staging is marked complete that did not finish.

A fault is a plugin loaded into the suite's run (-p disrupt): at a test of the phase, at once or a moment into it,
it signals a process of the deployment (found by the run's ports) or the run itself."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import pytest

from tests.test_artifact_support import bucket_fixture, moto_s3_fixture  # noqa: F401 (fixtures bucket, moto_s3)
from tests.test_suites_on_riva_lite import Run, _plugin, short_corpus, work_dir  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.slow, pytest.mark.faults]

DISRUPT = """
import os, signal, threading, time, pytest
from rivaverify import procfs

WHERE, WHEN, DELAY, TARGET, SIG = {where!r}, {when!r}, {delay!r}, {target!r}, signal.{sig}
fired = []


def targets():
    if TARGET == "run":
        return [os.getpid()]
    http, riva = os.environ["RIVA__TRITON_HTTP_PORT"], os.environ["RIVA__HOST"].rpartition(":")[2]
    found = []
    for pid in procfs.pids():
        argv = procfs.cmdline(pid)
        if TARGET == "tritonserver" and argv and argv[0].endswith("tritonserver") and f"--http-port={{http}}" in argv:
            found.append(pid)
        if TARGET == "api" and "rivalite.server" in argv and any(a.endswith(f":{{riva}}") for a in argv):
            found.append(pid)
    return found


def act():
    time.sleep(DELAY)
    if TARGET == "run" and SIG == signal.SIGINT:  # a Ctrl-C, even where the caller ignores SIGINT (a background job)
        signal.signal(signal.SIGINT, signal.default_int_handler)
    for pid in targets():
        os.kill(pid, SIG)


def hook(item):
    if WHERE in item.nodeid and not fired:
        fired.append(item.nodeid)
        if DELAY:
            threading.Thread(target=act, daemon=True).start()
        else:
            act()


pytest_runtest_{when} = pytest.hookimpl(tryfirst=True)(hook)
"""


def disrupt(tmp_path: Path, run: Run, where: str, target: str, sig: str, when: str = "setup",
            delay: float = 0.0) -> None:
    _plugin(tmp_path, run, textwrap.dedent(DISRUPT.format(where=where, when=when, delay=delay, target=target,
                                                          sig=sig)))


def whole_state(run: Run) -> dict[str, dict]:
    """Every state file, each parsed whole (a half-written one fails here)."""
    out = {}
    for path in sorted(run.state.glob("*.json")):
        data = json.loads(path.read_text())
        assert {"schema_version", "status"} <= set(data), path
        out[path.stem] = data
    return out


def fast_run(tmp_path: Path, work_dir: Path, **env: str) -> Run:  # noqa: F811
    """A run on six short clips, one streamed, with the dev profile's deadlines shortened by `env`."""
    return Run(tmp_path, work_dir, {"RIVA__CORPUS": str(short_corpus(tmp_path)), "RIVA__STREAM_UTTERANCES": "1",
                                    **env}, shared_store=False)


def failures(run: Run, phase: str) -> list[str]:
    return [f["message"] for f in run.state_of(phase)["failures"]]


@pytest.mark.parametrize("target", ["tritonserver", "api"])
def test_a_server_killed_mid_stream_fails_060_with_the_launchers_next_step(tmp_path, work_dir, target):  # noqa: F811
    """1 s into phase 060's first real-time stream, tritonserver or riva-lite's API server is killed."""
    run = fast_run(tmp_path, work_dir)
    disrupt(tmp_path, run, "test_060_production.py::test_streaming_contract", target, "SIGKILL", "setup", 1.0)
    result = run.pytest("-m", "production and not gateway", "-p", "disrupt", timeout=300)
    out = result.stdout
    assert result.returncode == 1, out[-3000:]
    assert "050 smoke        PASSED" in out and "060 production   FAILED" in out
    assert any("stream failed: UNAVAILABLE" in m for m in failures(run, "060")), failures(run, "060")[:3]
    assert "next step: the launcher stopped because tritonserver or the Riva server died" in out
    assert "One of the processes has exited unexpectedly" in (run.reports / "logs" / "riva-local.log").read_text()
    assert whole_state(run)["060"]["status"] == "failed" and run.leftovers() == []


def test_a_stopped_triton_is_a_deadline_not_a_hang(tmp_path, work_dir):  # noqa: F811
    """SIGSTOP: Triton neither answers nor dies. Phase 050's calls end at their deadline (RIVA__MAX_RESPONSE_S x 3,
    plus the clip for the stream), 050 fails naming DEADLINE_EXCEEDED, and teardown stops the stopped process."""
    run = fast_run(tmp_path, work_dir, RIVA__MAX_RESPONSE_S="2")
    disrupt(tmp_path, run, "test_050_smoke.py::test_recognize", "tritonserver", "SIGSTOP")
    result = run.pytest("-m", "smoke", "-p", "disrupt", timeout=300)
    out = result.stdout
    assert result.returncode == 1, out[-3000:]
    assert [m for m in failures(run, "050") if "DEADLINE_EXCEEDED" in m], failures(run, "050")
    assert "next step: Riva did not answer within the deadline" in out
    assert whole_state(run)["050"]["status"] == "failed" and run.leftovers() == []


# Each phase run by its own marker (060: the release gate without 070), so that what comes before it is only what
# it needs: the interrupt lands in the phase, whatever a loaded machine does to the phases before.
PHASES = {"010": "preflight", "020": "artifact", "030": "modelrepo", "040": "deploy", "050": "smoke",
          "060": "production and not gateway", "070": "gateway"}


@pytest.mark.parametrize("order", sorted(PHASES))
def test_ctrl_c_in_each_phase_stops_the_run_and_leaves_nothing(tmp_path, work_dir, order):  # noqa: F811
    run = fast_run(tmp_path, work_dir)
    disrupt(tmp_path, run, f"suites/test_{order}_", "run", "SIGINT")
    result = run.pytest("-m", PHASES[order], "-p", "disrupt", timeout=300)
    assert result.returncode == 2, result.stdout[-3000:]  # pytest's "interrupted"
    assert "KeyboardInterrupt" in result.stdout
    state = {p: s["status"] for p, s in whole_state(run).items()}
    assert {s for p, s in state.items() if p < order} <= {"passed", "skipped"}, state  # what ran before it stands
    assert "passed" not in {s for p, s in state.items() if p >= order}, state  # nothing claims the cut phase passed
    assert run.leftovers() == []


def test_ctrl_c_during_staging_marks_nothing_complete_that_did_not_finish(tmp_path, work_dir, bucket):  # noqa: F811
    """Into a bucket that outlives the run: the staging is interrupted a moment into phase 020's fixtures. Either it
    finished first (then everything it marked complete verifies) or nothing is marked complete."""
    from rivaverify.artifact import MARKER, fetch
    from rivaverify.artifact.verify import marker_problems, model_problems, schema_problems

    run = fast_run(tmp_path, work_dir, RIVA__BUCKET=bucket.bucket, RIVA__S3_ENDPOINT_URL=bucket.endpoint_url,
                   AWS_ACCESS_KEY_ID=bucket.credentials[0], AWS_SECRET_ACCESS_KEY=bucket.credentials[1],
                   RIVA__WORK_DIR=str(tmp_path / "fresh-work"))
    disrupt(tmp_path, run, "suites/test_020_", "run", "SIGINT", "setup", 0.4)
    result = run.pytest("-m", "artifact", "-p", "disrupt", timeout=300)
    assert result.returncode in (0, 1, 2), result.stdout[-3000:]
    client = bucket.connect().client
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket.bucket)
            for o in page.get("Contents", [])]
    for marker in [k for k in keys if k.endswith(MARKER)]:
        staged = fetch(bucket.connect(), f"s3://{bucket.bucket}/{marker[: -len(MARKER)]}", tmp_path / "check")
        problems = marker_problems(staged) + schema_problems(staged) + model_problems(staged)
        assert problems == [], f"{staged.uri} is marked complete but does not verify: {problems}"
    whole_state(run)
    assert run.leftovers() == []


def test_a_full_disk_while_staging_fails_020_with_the_disk_next_step(tmp_path, work_dir):  # noqa: F811
    """RIVA__WORK_DIR on a 16 MiB tmpfs: riva-lite's 75 MB archive cannot be packed there."""
    tiny = tmp_path / "tiny"
    tiny.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(tiny)], capture_output=True).returncode:
        pytest.skip("cannot mount a tmpfs here (needs root): the full-disk fault runs in CI, as root")
    try:
        # preflight would refuse a disk this small (its free-disk bound): set to 0, the disk fills up mid-run
        run = fast_run(tmp_path, work_dir, RIVA__WORK_DIR=str(tiny), RIVA__MIN_FREE_DISK_GB="0")
        result = run.pytest("-m", "smoke", timeout=300)
    finally:
        subprocess.run(["umount", str(tiny)], check=False)
    out = result.stdout
    assert result.returncode == 1, out[-3000:]
    assert "020 artifact     FAILED" in out and "040 deploy       NOT_RUN" in out
    assert "No space left on device" in " ".join(failures(run, "020"))
    assert "next step: a filesystem is full: `df -h`" in out
    assert whole_state(run)["020"]["status"] == "failed" and run.leftovers() == []


def _bucket_keys(bucket) -> list[str]:
    client = bucket.connect().client
    return [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket.bucket)
            for o in page.get("Contents", [])]


def _through(proxy, bucket, tmp_path: Path, work_dir: Path) -> Run:  # noqa: F811
    return fast_run(tmp_path, work_dir, RIVA__BUCKET=bucket.bucket, RIVA__S3_ENDPOINT_URL=proxy.url,
                    AWS_ACCESS_KEY_ID=bucket.credentials[0], AWS_SECRET_ACCESS_KEY=bucket.credentials[1],
                    RIVA__WORK_DIR=str(tmp_path / "fresh-work"))


def test_s3_500s_then_a_stall_mid_download_are_retried_and_staging_completes(tmp_path, work_dir, bucket,  # noqa: F811
                                                                           rivalite_artifact):
    """The source archive is in S3. The server answers its first three requests with 500 InternalError, then stops
    3 s halfway through the first ranged GET of the source: the retries and the download carry on, phase 020
    passes, and the staging is marked complete."""
    from testing.faulty_s3 import FaultyS3

    source = f"sources/{Path(rivalite_artifact).name}"
    bucket.connect().client.upload_file(str(rivalite_artifact), bucket.bucket, source)
    with FaultyS3(bucket.endpoint_url, fail=3, stall_prefix="/sources/", stall_s=3) as proxy:
        run = _through(proxy, bucket, tmp_path, work_dir)
        run.env["RIVA__ARTIFACT"] = f"s3://{bucket.bucket}/{source}"
        result = run.pytest("-m", "artifact", timeout=300)
    assert result.returncode == 0, Run.why(result)
    assert proxy.count["failed"] == 3 and proxy.count["stalled"] == 1, proxy.count
    assert whole_state(run)["020"]["status"] == "passed"
    assert any(k.endswith("staging_complete.txt") for k in _bucket_keys(bucket))


def test_an_s3_server_that_keeps_failing_fails_020_and_marks_nothing(tmp_path, work_dir, bucket):  # noqa: F811
    from testing.faulty_s3 import FaultyS3

    with FaultyS3(bucket.endpoint_url, fail=1 << 30) as proxy:
        run = _through(proxy, bucket, tmp_path, work_dir)
        result = run.pytest("-m", "artifact", timeout=300)
    out = result.stdout
    assert result.returncode == 1, out[-3000:]
    assert "020 artifact     FAILED" in out
    assert [m for m in failures(run, "020") if "InternalError" in m or "500" in m], failures(run, "020")
    assert "next step: the S3 server failed" in out
    assert not any(k.endswith("staging_complete.txt") for k in _bucket_keys(bucket))
    assert whole_state(run)["020"]["status"] == "failed" and run.leftovers() == []
