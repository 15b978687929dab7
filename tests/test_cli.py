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
