"""riva-lite's repositories carry build facts (compute capability "cpu"), and its riva-build / riva-deploy take
NVIDIA's argument shapes: a .rmir from a .riva, then the repository written into OUT_DIR."""

from __future__ import annotations

import json
import tarfile

import pytest

from rivaverify import buildfacts, modelrepo

pytestmark = pytest.mark.slow  # packs riva-lite's archive (the Whisper weights)


@pytest.fixture(scope="module", name="staged_riva")
def staged_riva_fixture(rivalite_artifact, tmp_path_factory):
    """The .riva inside riva-lite's deployable archive."""
    out = tmp_path_factory.mktemp("riva")
    with tarfile.open(rivalite_artifact) as tar:
        (member,) = tar.getmembers()
        tar.extract(member, out, filter="data")
    return out / member.name


def test_rivalite_deploy_writes_cpu_build_facts(rivalite_models):
    record = buildfacts.read(rivalite_models)
    assert record["compute_capability"] == "cpu" and record["tensorrt"] is None
    assert record["build_options"]["name"] == "whisper-tiny-en-US" and record["build_options"]["layout"] == "2.17"
    assert sorted(record) == sorted(buildfacts.KEYS)
    assert buildfacts.check(record, buildfacts.RIVA_LITE, rivalite_models).refused == []


def test_riva_build_then_riva_deploy_make_a_repository_with_the_build_options(staged_riva, tmp_path):
    from rivalite import cli

    rmir, out = tmp_path / "asr.rmir", tmp_path / "models"
    argv = ["speech_recognition", f"{rmir}:tlt_encode", f"{staged_riva}:tlt_encode", "--name=parakeet-en-US",
            "--streaming=True", "--chunk_size=0.16", "--decoder_type=greedy", "--featurizer.max_batch_size=64"]
    assert cli.main(["riva-build", *argv]) == 0
    assert cli.main(["riva-build", *argv]) == 1  # exists: -f to overwrite
    assert cli.main(["riva-build", "-f", *argv]) == 0
    assert cli.main(["riva-deploy", f"{rmir}:tlt_encode", str(out)]) == 0
    repo = modelrepo.read(out)
    assert repo.problems == [] and len(repo.models) == 6
    options = buildfacts.read(out)["build_options"]
    assert options["chunk_size"] == 0.16 and options["streaming"] is True and options["decoder_type"] == "greedy"
    assert options["featurizer.max_batch_size"] == 64 and options["name"] == "parakeet-en-US"
    assert cli.main(["riva-deploy", str(rmir), str(out)]) == 1  # models there: -f to overwrite
    assert cli.main(["riva-deploy", "-f", str(rmir), str(out)]) == 0
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == [buildfacts.FILE]


def test_riva_build_refuses_what_it_cannot_build(staged_riva, tmp_path, capsys):
    from rivalite import cli

    rmir = tmp_path / "x.rmir"
    riva = str(staged_riva)
    for argv, says in ((["punctuation", str(rmir), riva], "speech_recognition only"),
                       (["speech_recognition", str(rmir), riva, "--wrong_option=1"], "unknown option --wrong"),
                       (["speech_recognition", str(rmir), str(tmp_path / "none.riva")], "none.riva not found")):
        assert cli.main(["riva-build", *argv]) == 1
        assert says in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
    (tmp_path / "bad.rmir").write_text("not a tar")
    assert cli.main(["riva-deploy", str(tmp_path / "bad.rmir"), str(tmp_path / "out")]) == 1
    assert "build it again with riva-build" in capsys.readouterr().err
    assert json.dumps(sorted(p.name for p in (tmp_path / "out").iterdir())) == "[]"
