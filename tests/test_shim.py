"""rivaverify.shim and `rivaverify shim install`: the bash shim run against recording stand-ins."""

from __future__ import annotations

import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rivaverify import cli, procfs, shim
from rivaverify.readiness import wait_until

REPO = "/data/models"
RECORDER = """#!/bin/bash
# stand-in for the real tritonserver: records its PID and argv, NUL-separated
printf '%s\\0' "$$" "$@" > "$RECORD"
exit "${STANDIN_EXIT:-0}"
"""
SLEEPER = """#!/bin/bash
trap 'echo TERM > "$RECORD.signal"; exit 143' TERM
printf '%s\\0' "$$" "$@" > "$RECORD"
while :; do sleep 0.05; done
"""


def _exe(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o755)
    return path


@pytest.fixture(scope="module")
def layout(tmp_path_factory):
    """shim/bin/tritonserver (the shim) and real/bin/tritonserver (a recording stand-in)."""
    root = tmp_path_factory.mktemp("shim")
    real = _exe(root / "real" / "bin" / "tritonserver", RECORDER)
    return {"root": root, "shim": shim.install(root / "shim", REPO), "real": real, "record": root / "argv"}


def default_env(layout) -> dict[str, str]:
    path = f"{layout['shim'].parent}:{layout['real'].parent}:/usr/bin:/bin"
    return {"PATH": path, "RECORD": str(layout["record"])}


def run(layout, argv, path_dirs=None, extra_env=None, program="tritonserver"):
    dirs = path_dirs if path_dirs is not None else [layout["shim"].parent, layout["real"].parent]
    env = {
        "PATH": ":".join(map(str, dirs)) + ":/usr/bin:/bin",
        "RECORD": str(layout["record"]),
        **(extra_env or {}),
    }
    layout["record"].unlink(missing_ok=True)
    proc = subprocess.run([program, *argv], env=env, capture_output=True, timeout=10)
    recorded = None
    if layout["record"].exists():
        recorded = procfs.parse_cmdline(layout["record"].read_bytes())
    return proc, recorded


def expected_argv(argv: list[bytes], repo: str = REPO) -> list[bytes]:
    given_repo = any(
        a in (b"--model-repository", b"--model-store")
        or a.startswith((b"--model-repository=", b"--model-store="))
        for a in argv
    )
    return argv if given_repo else [b"--model-repository=" + repo.encode(), *argv]


# -- the script -------------------------------------------------------------------------------------------
def test_rendered_script_is_valid_bash():
    text = shim.render(REPO)
    assert text.startswith("#!/usr/bin/env bash\n")
    subprocess.run(["bash", "-n"], input=text.encode(), check=True)


def test_install_writes_an_executable_shim(tmp_path):
    path = shim.install(tmp_path / "x", REPO)
    assert path == tmp_path / "x" / "bin" / "tritonserver"
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert path.read_text() == shim.render(REPO)


@pytest.mark.parametrize("bad", ["", "models", "./models", "/a\nb"])
def test_render_rejects_unusable_repository(bad):
    with pytest.raises(shim.ShimError, match="model repository"):
        shim.render(bad)


def test_render_accepts_urls():
    assert "s3://bucket/models" in shim.render("s3://bucket/models")


def test_install_rejects_the_shim_as_its_own_real_binary(tmp_path):
    with pytest.raises(shim.ShimError, match="own path"):
        shim.install(tmp_path, REPO, real=str(tmp_path / "bin" / "tritonserver"))


# -- injection --------------------------------------------------------------------------------------------
def test_injects_when_no_repository_given(layout):
    proc, argv = run(layout, ["--http-port=8000", "--log-verbose=0"])
    assert proc.returncode == 0
    assert argv[1:] == [f"--model-repository={REPO}", "--http-port=8000", "--log-verbose=0"]
    assert f"[SHIM] Injected --model-repository={REPO}\n".encode() in proc.stderr  # the value ends the line


@pytest.mark.parametrize(
    "given_args",
    [
        ["--model-repository=/other"],
        ["--model-repository", "/other"],
        ["--model-store=/other"],
        ["--model-store", "/other"],
        ["--x", "1", "--model-repository=/other", "--y"],
    ],
)
def test_keeps_a_repository_the_caller_gave(layout, given_args):
    proc, argv = run(layout, given_args)
    assert argv[1:] == given_args
    assert b"Injected" not in proc.stderr
    assert shim.model_repository_values(argv[1:]) == ["/other"]


ODD_REPOS = ["/data/my models", "/d/it's", '/d/"q"', "/d/$HOME/`x`", "/d/back\\slash", "/d/ünï"]


@pytest.mark.parametrize("repo", ODD_REPOS)
def test_odd_repository_paths_arrive_intact(layout, tmp_path, repo):
    s = shim.install(tmp_path, repo)
    proc, argv = run({**layout, "shim": s}, ["-v"])
    assert argv[1:] == [f"--model-repository={repo}", "-v"], proc.stderr


def test_same_pid_and_exit_status_pass_through(layout):
    env = {**default_env(layout), "STANDIN_EXIT": "7"}
    proc = subprocess.Popen(["tritonserver", "--x"], env=env, stderr=subprocess.DEVNULL)
    assert proc.wait(10) == 7
    recorded = procfs.parse_cmdline(layout["record"].read_bytes())
    assert int(recorded[0]) == proc.pid  # exec: the real binary runs in the shim's process


def test_signals_reach_the_real_binary(tmp_path):
    real = _exe(tmp_path / "real" / "bin" / "tritonserver", SLEEPER)
    s = shim.install(tmp_path / "shim", REPO)
    record = tmp_path / "argv"
    proc = subprocess.Popen(
        ["tritonserver"],
        env={"PATH": f"{s.parent}:{real.parent}:/usr/bin:/bin", "RECORD": str(record)},
        stderr=subprocess.DEVNULL,
    )
    wait_until(record.exists, 10, "the real binary recording its argv", interval_s=0.02)
    assert procfs.cmdline(proc.pid)[2:] == [f"--model-repository={REPO}"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(10) == 143
    assert Path(f"{record}.signal").read_text().strip() == "TERM"


# -- finding the real binary --------------------------------------------------------------------------------
def test_takes_the_next_tritonserver_after_its_own_folder(layout, tmp_path):
    before = _exe(tmp_path / "before" / "tritonserver", "#!/bin/bash\nexit 99\n")
    after = _exe(tmp_path / "after" / "tritonserver", RECORDER)
    dirs = [before.parent, layout["shim"].parent, after.parent, layout["real"].parent]
    proc, argv = run(layout, ["a"], path_dirs=dirs, program=str(layout["shim"]))
    assert proc.returncode == 0 and argv is not None
    assert f"exec {after}".encode() in proc.stderr


def test_never_runs_itself(layout, tmp_path):
    link = tmp_path / "link"
    link.mkdir()
    (link / "tritonserver").symlink_to(layout["shim"])
    dirs = [link, layout["shim"].parent, layout["shim"].parent, link, layout["real"].parent]
    proc, argv = run(layout, ["a"], path_dirs=dirs)
    assert proc.returncode == 0
    assert argv[1:] == [f"--model-repository={REPO}", "a"]
    assert proc.stderr.count(b"[SHIM] Injected") == 1


def test_called_by_full_path_off_path_uses_first_on_path(layout):
    proc, argv = run(layout, ["a"], path_dirs=[layout["real"].parent], program=str(layout["shim"]))
    assert argv[1:] == [f"--model-repository={REPO}", "a"]


def test_configured_real_binary_wins(layout, tmp_path):
    other = _exe(tmp_path / "other" / "tritonserver", "#!/bin/bash\nexit 42\n")
    s = shim.install(tmp_path / "s", REPO, real=str(other))
    proc, _ = run({**layout, "shim": s}, [])
    assert proc.returncode == 42


def test_no_real_binary_is_a_clear_error(layout):
    proc, argv = run(layout, ["a"], path_dirs=[layout["shim"].parent])
    assert proc.returncode == 127 and argv is None
    assert b"no real tritonserver on PATH after" in proc.stderr and b"--real" in proc.stderr


# -- the property -------------------------------------------------------------------------------------------
ARG = st.one_of(
    st.binary(max_size=12).map(lambda b: b.replace(b"\0", b"")),
    st.text(max_size=12).map(lambda t: t.replace("\0", "").encode()),
    st.sampled_from(
        [
            b"--model-repository",
            b"--model-store",
            b"--model-repository=/x",
            b"--model-store=/y",
            b"--model-repository=",
            b"--model-repositoryX",
            b"-model-repository",
            b"--model-store-x=1",
            b"",
            b" ",
            b"'",
            b'"',
            b"\n",
            b"$PATH",
            b"*",
            b"\\",
            b"--",
            b"-e",
            b"a b",
        ]
    ),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=st.lists(ARG, max_size=8))
def test_property_argv_arrives_byte_for_byte(layout, argv):
    layout["record"].unlink(missing_ok=True)
    proc = subprocess.run([b"tritonserver", *argv], env=default_env(layout), capture_output=True, timeout=10)
    assert proc.returncode == 0, proc.stderr
    raw = layout["record"].read_bytes()
    recorded = raw[:-1].split(b"\0")
    assert recorded[1:] == expected_argv(argv)
    assert (b"[SHIM] Injected" in proc.stderr) == (recorded[1:] != argv)


# -- effective argv ----------------------------------------------------------------------------------------
def test_parse_cmdline_keeps_empty_and_odd_arguments():
    assert procfs.parse_cmdline(b"") == []
    assert procfs.parse_cmdline(b"tritonserver\0--a\0\0b c\0") == ["tritonserver", "--a", "", "b c"]
    assert procfs.parse_cmdline(b"x\0\0") == ["x", ""]
    odd = procfs.parse_cmdline(b"x\0\xff\xfe\0")
    assert os.fsencode(odd[1]) == b"\xff\xfe"


def test_model_repository_values_both_forms():
    argv = [
        "tritonserver",
        "--model-repository=/a",
        "--model-store",
        "/b",
        "--model-repository",
        "/c",
        "--model-store=/d",
        "--model-repository=",
        "--model-repositoryX=/no",
        "--log-file",
        "x",
    ]
    assert shim.model_repository_values(argv) == ["/a", "/b", "/c", "/d", ""]
    assert shim.model_repository_values(["--model-repository"]) == []
    assert shim.model_repository_values(["--model-repository", "--model-store=/v"]) == ["--model-store=/v"]


def test_read_cmdline_of_this_process():
    assert procfs.cmdline(os.getpid()) == procfs.parse_cmdline(Path("/proc/self/cmdline").read_bytes())


# -- the command -------------------------------------------------------------------------------------------
def test_cli_install_and_print(tmp_path, capsys):
    assert cli.main(["shim", "install", str(tmp_path), "--model-repository", REPO]) == 0
    assert (tmp_path / "bin" / "tritonserver").read_text() == shim.render(REPO)
    assert str(tmp_path / "bin") in capsys.readouterr().out
    assert cli.main(["shim", "install", str(tmp_path / "p"), "--model-repository", REPO, "--print"]) == 0
    assert capsys.readouterr().out == shim.render(REPO)
    assert not (tmp_path / "p").exists()


def test_cli_bad_input_names_the_problem(tmp_path, capsys):
    assert cli.main(["shim", "install", str(tmp_path), "--model-repository", "models"]) == 2
    assert "relative" in capsys.readouterr().err
    assert cli.main(["shim", "install", str(tmp_path), "--model-repository", REPO, "--real", "bin/x"]) == 2
    assert "absolute path" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main(["shim", "install", str(tmp_path)])


def test_console_script(tmp_path):
    exe = Path(sys.executable).parent / "rivaverify"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "rivaverify.cli"]
    out = subprocess.run(
        [*cmd, "shim", "install", str(tmp_path), "--model-repository", REPO, "--print"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0 and out.stdout == shim.render(REPO)
