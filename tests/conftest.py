"""Session fixtures shared by the riva-lite tests: the default artifact is packed and deployed once."""

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
