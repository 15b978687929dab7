"""The Triton model repository `rivalite deploy` writes, laid out as `riva-deploy` lays out Riva's.

Riva 2.17+ (layout "2.17", the default), per pipeline (streaming and offline):
    <name>-asr-streaming-asr-bls-ensemble       Python BLS: resample, then call the acoustic model
    riva-trt-<name>-asr-streaming-am-streaming  Whisper (offline: ...-asr-offline-am-streaming-offline)
Riva <= 2.16 (layout "2.16"), per pipeline:
    <name>-asr-streaming                        ensemble: feature extractor -> acoustic model -> endpointing
                                                -> decoder (offline: <name>-asr-offline, steps ...-streaming-offline)
Both: riva-punctuation-en-US (ensemble) over riva-trt-riva-punctuation-en-US-nn-bert-base-uncased.

The models clients ask for (the BLS models, or the 2.16 ensembles) carry Riva's parameters (language_code,
type, sample_rate, streaming, chunk_size, ...). The acoustic models, and the BLS models, are sequence batched
(max_sequence_idle_microseconds 60 s, control inputs START/READY/END/CORRID), so every request to them carries a
correlation ID, as riva_server's do.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import UTC, datetime
from importlib import metadata, resources
from pathlib import Path

from google.protobuf import text_format
from tritonclient.grpc import model_config_pb2 as mc

from rivalite import LANGUAGE_CODE, LAYOUTS, SAMPLE_RATE, model_names

FORMAT = "rivalite-repository/3"  # changes whenever the files deploy writes change (3: build facts)
# riva-verify's build facts at the repository's root: what its engines were built for (riva-lite builds none).
BUILD_FACTS = ".rivaverify-build.json"
STREAMING_CHUNK_S = 0.16  # Parakeet streaming's server chunk (riva-build --chunk_size=0.16)
PADDING_S = 1.92  # riva-build --left_padding_size / --right_padding_size of Parakeet streaming
OFFLINE_CHUNK_S = 30.0  # Whisper's window
MS_PER_TIMESTEP = 80  # Parakeet's output grid (riva-build --ms_per_timestep=80)
MAX_IDLE_US = 60_000_000  # Triton sequence_batching.max_sequence_idle_microseconds in Riva's models
WEIGHTS = "whisper"


def _param(config: mc.ModelConfig, key: str, value) -> None:
    config.parameters[key].string_value = str(value)


def _io(message, name: str, dtype: str, dims=(-1,)) -> None:
    entry = message.add()
    entry.name, entry.data_type = name, mc.DataType.Value(dtype)
    entry.dims.extend(dims)


def _python(name: str, inputs, outputs, params: dict | None = None) -> mc.ModelConfig:
    config = mc.ModelConfig(name=name, backend="python", max_batch_size=0)
    for args in inputs:
        _io(config.input, *args)
    for args in outputs:
        _io(config.output, *args)
    config.instance_group.add(count=1, kind=mc.ModelInstanceGroup.KIND_CPU)
    for key, value in (params or {}).items():
        _param(config, key, value)
    return config


def _sequence_batching(config: mc.ModelConfig) -> None:
    """Riva's streaming models' scheduler: oldest-first sequences, idle ones dropped after 60 s."""
    seq = config.sequence_batching
    seq.max_sequence_idle_microseconds = MAX_IDLE_US
    seq.oldest.max_candidate_sequences = 1024
    kinds = mc.ModelSequenceBatching.Control
    for name, kind in (("START", kinds.CONTROL_SEQUENCE_START), ("READY", kinds.CONTROL_SEQUENCE_READY),
                       ("END", kinds.CONTROL_SEQUENCE_END)):
        seq.control_input.add(name=name).control.add(kind=kind, int32_false_true=[0, 1])
    seq.control_input.add(name="CORRID").control.add(kind=kinds.CONTROL_SEQUENCE_CORRID,
                                                     data_type=mc.TYPE_UINT64)


def pipeline_parameters(kind: str) -> dict:
    """What GetRivaSpeechRecognitionConfig lists for a pipeline (kind "streaming" or "offline")."""
    streaming = kind == "streaming"
    return {
        "language_code": LANGUAGE_CODE,
        "type": "online" if streaming else "offline",
        "sample_rate": SAMPLE_RATE,
        "streaming": str(streaming),  # "True" / "False", as riva-build writes Python booleans
        "chunk_size": STREAMING_CHUNK_S if streaming else OFFLINE_CHUNK_S,
        "left_padding_size": PADDING_S if streaming else 0.0,
        "right_padding_size": PADDING_S if streaming else 0.0,
        "ms_per_timestep": MS_PER_TIMESTEP,
        "model_family": "whisper",  # honest: the weights are Whisper's, whatever the names imitate
    }


def _acoustic_model(name: str, cpu_threads: int) -> mc.ModelConfig:
    am = _python(name, [("AUDIO_16K", "TYPE_FP32"), ("OPTIONS", "TYPE_STRING", (1,))],
                 [("TRANSCRIPT", "TYPE_STRING", (1,))],
                 {"model_dir": WEIGHTS, "compute_type": "int8", "cpu_threads": cpu_threads, "beam_size": 5,
                  "language": LANGUAGE_CODE.split("-")[0], "model_family": "whisper"})
    _sequence_batching(am)
    return am


ASR_INPUTS = [("AUDIO_SIGNAL", "TYPE_FP32"), ("SAMPLE_RATE", "TYPE_INT32", (1,)), ("OPTIONS", "TYPE_STRING", (1,))]
ASR_OUTPUTS = [("TRANSCRIPT", "TYPE_STRING", (1,))]


def _step(ens: mc.ModelConfig, model: str, inputs: dict, outputs: dict) -> None:
    step = ens.ensemble_scheduling.step.add(model_name=model, model_version=-1)
    step.input_map.update(inputs)
    step.output_map.update(outputs)


def _ensemble(name: str, inputs, outputs) -> mc.ModelConfig:
    ens = mc.ModelConfig(name=name, platform="ensemble", max_batch_size=0)
    for args in inputs:
        _io(ens.input, *args)
    for args in outputs:
        _io(ens.output, *args)
    return ens


def _punctuation(names: dict) -> dict:
    nn = _python(names["punctuation_nn"], [("TEXT", "TYPE_STRING")], [("PUNCTUATED_TEXT", "TYPE_STRING")],
                 {"language_code": LANGUAGE_CODE, "model_family": "rule-based"})
    ens = _ensemble(names["punctuation"], [("TEXT", "TYPE_STRING")], [("PUNCTUATED_TEXT", "TYPE_STRING")])
    _step(ens, nn.name, {"TEXT": "TEXT"}, {"PUNCTUATED_TEXT": "PUNCTUATED_TEXT"})
    _param(ens, "language_code", LANGUAGE_CODE)
    return {nn.name: (nn, {"model.py": "punctuation.py"}), ens.name: (ens, {})}


def models(name: str, cpu_threads: int, layout: str = "2.17") -> dict[str, tuple[mc.ModelConfig, dict]]:
    """{model name: (its ModelConfig, {file in its version folder: source})}; a source is a file of
    rivalite/triton_models, or "@weights" (the Whisper folder) or text to write."""
    names = model_names(name, layout)
    out = _punctuation(names)
    for kind in ("streaming", "offline"):
        prefix = "" if kind == "streaming" else "offline_"
        am = _acoustic_model(names[f"{prefix}acoustic_model"], cpu_threads)
        out[am.name] = (am, {"model.py": "acoustic_model.py", WEIGHTS: "@weights"})
        if layout == "2.17":
            bls = _python(names[kind], ASR_INPUTS, ASR_OUTPUTS, pipeline_parameters(kind))
            _sequence_batching(bls)
            settings = f"acoustic_model_name: {am.name}\nsample_rate: {SAMPLE_RATE}\n"
            out[bls.name] = (bls, {"model.py": "asr_bls.py", "resample.py": "resample.py",
                                   "riva_bls_config.yaml": "=" + settings})
            continue
        fe = _python(names[f"{prefix}feature_extractor"], ASR_INPUTS[:2], [("AUDIO_16K", "TYPE_FP32")],
                     {"sample_rate": SAMPLE_RATE})
        endpointing = _python(names[f"{prefix}endpointing"], [("AM_TRANSCRIPT", "TYPE_STRING", (1,))],
                              [("ENDPOINTED_TRANSCRIPT", "TYPE_STRING", (1,))], {"role": "endpointing"})
        decoder = _python(names[f"{prefix}decoder"], [("ENDPOINTED_TRANSCRIPT", "TYPE_STRING", (1,))],
                          ASR_OUTPUTS, {"role": "decoder"})
        ens = _ensemble(names[kind], ASR_INPUTS, ASR_OUTPUTS)
        _step(ens, fe.name, {"AUDIO_SIGNAL": "AUDIO_SIGNAL", "SAMPLE_RATE": "SAMPLE_RATE"},
              {"AUDIO_16K": "audio_16k"})
        _step(ens, am.name, {"AUDIO_16K": "audio_16k", "OPTIONS": "OPTIONS"}, {"TRANSCRIPT": "am_transcript"})
        _step(ens, endpointing.name, {"AM_TRANSCRIPT": "am_transcript"}, {"ENDPOINTED_TRANSCRIPT": "endpointed"})
        _step(ens, decoder.name, {"ENDPOINTED_TRANSCRIPT": "endpointed"}, {"TRANSCRIPT": "TRANSCRIPT"})
        for key, value in pipeline_parameters(kind).items():
            _param(ens, key, value)
        out[fe.name] = (fe, {"model.py": "feature_extractor.py", "resample.py": "resample.py"})
        out[endpointing.name] = (endpointing, {"model.py": "json_step.py"})
        out[decoder.name] = (decoder, {"model.py": "json_step.py"})
        out[ens.name] = (ens, {})
    return out


def known_names(name: str) -> set[str]:
    """Every model name a riva-lite deploy of `name` has written, in any layout or release (to replace)."""
    legacy = {f"{name}-asr-offline", f"{name}-asr-streaming", f"{name}-feature-extractor", f"riva-ct2-{name}-am"}
    return legacy.union(*(model_names(name, layout).values() for layout in LAYOUTS))


def _link_tree(src: Path, dst: Path) -> None:
    """A copy of the weights that costs no disk where hard links work."""
    dst.mkdir()
    for f in src.iterdir():
        try:
            os.link(f, dst / f.name)
        except OSError:
            shutil.copy2(f, dst / f.name)


def write(root: Path, name: str, weights: Path, cpu_threads: int, layout: str = "2.17") -> list[str]:
    """Write every model folder under `root`; return their names. `weights` is linked, never moved."""
    sources = resources.files("rivalite.triton_models")
    written = []
    for model, (config, files) in models(name, cpu_threads, layout).items():
        version = root / model / "1"
        version.mkdir(parents=True)
        (root / model / "config.pbtxt").write_text(text_format.MessageToString(config))
        for fname, source in files.items():
            if source == "@weights":
                _link_tree(weights, version / fname)
            elif source.startswith("="):
                (version / fname).write_text(source[1:])
            else:
                (version / fname).write_text(sources.joinpath(source).read_text())
        written.append(model)
    return written


def build_facts(options: dict) -> dict:
    """riva-verify's build facts for a riva-lite repository: no GPU ("cpu"), no TensorRT, the build options."""
    try:
        triton = f"nvidia-pytriton {metadata.version('nvidia-pytriton')}"
    except metadata.PackageNotFoundError:
        triton = None
    return {"gpu_name": None, "compute_capability": "cpu", "driver": None, "tensorrt": None, "triton": triton,
            "image": None, "build_options": options, "built_at": datetime.now(UTC).isoformat(timespec="seconds")}


def write_build_facts(folder: Path, options: dict) -> Path:
    """BUILD_FACTS in `folder` (a staging folder, renamed into the repository by the caller)."""
    path = folder / BUILD_FACTS
    path.write_text(json.dumps(build_facts(options), indent=2, sort_keys=True) + "\n")
    return path
