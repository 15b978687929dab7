"""Session fixtures shared by the riva-lite tests: the default artifact is packed and deployed once."""

import shutil
import subprocess

import pytest


@pytest.fixture(scope="session")
def rivalite_artifact(tmp_path_factory):
    pytest.importorskip("pytriton", reason="riva-lite needs the lite extra: pip install -e '.[lite]'")
    import rivalite

    return rivalite.pack(tmp_path_factory.mktemp("artifact"))


@pytest.fixture(scope="session")
def rivalite_models(rivalite_artifact, tmp_path_factory):
    import rivalite

    return rivalite.deploy(rivalite_artifact, tmp_path_factory.mktemp("deploy"))


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory):
    """A self-signed certificate for localhost/127.0.0.1 and its key (PEM)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost"
    cmd += " -addext subjectAltName=DNS:localhost,IP:127.0.0.1"
    subprocess.run(
        [*cmd.split(), "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60
    )
    return cert, key
