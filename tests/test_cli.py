"""The `rivaverify` console script has every verb."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_rivaverify_has_shim_install_and_stage():
    exe = Path(sys.executable).parent / "rivaverify"
    out = subprocess.run([str(exe), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "shim" in out.stdout and "stage" in out.stdout
    out = subprocess.run([str(exe), "stage", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--reference-only" in out.stdout and "--expected-sha256" in out.stdout


# A machine with only the core requirements (and serve's): the kube extra's package is not importable there.
WITHOUT_KUBE = """
import sys
sys.modules["kubernetes_validate"] = None  # `import kubernetes_validate` raises ImportError, as where it is absent
sys.argv = ["rivaverify", *sys.argv[1:]]
from rivaverify.cli import main
sys.exit(main())
"""


def test_every_other_command_runs_without_the_kube_extra(tmp_path):
    def run(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-c", WITHOUT_KUBE, *args], capture_output=True, text=True, timeout=60)

    assert run("serve", "--help").returncode == 0
    assert run("diagnose", "--help").returncode == 0
    manifest = tmp_path / "riva.yaml"
    manifest.write_text("apiVersion: v1\nkind: Service\nmetadata: {name: riva}\n")
    out = run("kube", "check", str(manifest))
    assert out.returncode == 2 and "pip install 'riva-verify[kube]'" in out.stderr, out.stderr
