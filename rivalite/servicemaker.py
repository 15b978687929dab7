"""`riva-build` and `riva-deploy` with NVIDIA ServiceMaker's argument shapes, doing what `rivalite pack`'s .riva and
`rivalite deploy` do:

    riva-build speech_recognition [-f] OUT.rmir[:KEY] IN.riva[:KEY] [--name=N] [--language_code=L]
               [--streaming=True|False | --offline] [--chunk_size=S] [--decoder_type=D] [--<component>.<option>=V]
    riva-deploy [-f] IN.rmir[:KEY] OUT_DIR

The .rmir riva-lite writes is a tar: rmir.json (format, pipeline, build options) then the .riva. riva-deploy
writes the Triton repository into OUT_DIR itself (as NVIDIA's does: /data/models), with riva-verify's build facts
(compute capability "cpu"). riva-lite's .riva files are not encrypted: a :KEY is accepted and not used. The build
options are recorded (in the .rmir and the build facts); riva-lite deploys its streaming and offline pipelines
under its own names whatever they say.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
import tarfile
import tempfile
from pathlib import Path

from rivalite.artifact import deploy
from rivalite.errors import RivaLiteError

RMIR_FORMAT = "rivalite-rmir/1"
PIPELINES = ("speech_recognition",)
# riva-build speech_recognition's top-level options riva-lite knows (NVIDIA's ASR pipeline configuration page);
# --<component>.<option>=V (featurizer., endpointing., nn., ...) are recorded as given.
OPTIONS = ("name", "language_code", "streaming", "offline", "chunk_size", "left_padding_size", "right_padding_size",
           "ms_per_timestep", "decoder_type", "max_batch_size", "acoustic_model_name", "featurizer_name",
           "wfst_tokenizer_model", "wfst_verbalizer_model", "greedy_decoder.asr_model_delay", "nn.use_trt_fp32")


def _path(spec: str) -> Path:
    """OUT.rmir:KEY -> OUT.rmir (the key is riva-lite's to ignore: its files are not encrypted)."""
    return Path(spec.split(":", 1)[0])


def _value(text: str):
    if text in ("True", "False"):
        return text == "True"
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        return text


def build_options(extra: list[str]) -> dict:
    """--key=value (or --flag) options as {key: value}; an unknown top-level option is refused."""
    options: dict = {}
    for item in extra:
        if not item.startswith("--"):
            raise RivaLiteError(f"riva-build: unexpected argument {item!r}: give OUT.rmir[:KEY] IN.riva[:KEY] then "
                                "--option=value options")
        key, sep, value = item[2:].partition("=")
        if key not in OPTIONS and "." not in key:
            raise RivaLiteError(f"riva-build: unknown option --{key}: riva-lite knows --{', --'.join(OPTIONS)} and "
                                "--<component>.<option>=value")
        options[key] = _value(value) if sep else True
    if options.pop("offline", False):
        options["streaming"] = False
    return options


def build(pipeline: str, rmir: Path, rivas: list[Path], options: dict, force: bool = False) -> Path:
    """Write the .rmir: rmir.json, then the .riva."""
    if pipeline not in PIPELINES:
        raise RivaLiteError(f"riva-build: riva-lite builds {', '.join(PIPELINES)} only, not {pipeline!r}")
    if len(rivas) != 1:
        raise RivaLiteError(f"riva-build: riva-lite builds from one .riva file, got {len(rivas)}")
    riva = rivas[0]
    if not riva.is_file():
        raise RivaLiteError(f"riva-build: {riva} not found: give the .riva file (`rivalite pack` makes one)")
    if rmir.exists() and not force:
        raise RivaLiteError(f"riva-build: {rmir} exists: pass -f to overwrite it")
    rmir.parent.mkdir(parents=True, exist_ok=True)
    head = json.dumps({"format": RMIR_FORMAT, "pipeline": pipeline, "build_options": options, "riva": riva.name},
                      indent=2, sort_keys=True).encode()
    with tempfile.NamedTemporaryFile(dir=rmir.parent, prefix=f".{rmir.name}.", delete=False) as part:
        try:
            with tarfile.open(fileobj=part, mode="w", format=tarfile.PAX_FORMAT) as tar:
                info = tarfile.TarInfo("rmir.json")
                info.size = len(head)
                tar.addfile(info, io.BytesIO(head))
                tar.add(riva, arcname=f"model/{riva.name}")
            part.flush()
            Path(part.name).replace(rmir)
        except BaseException:
            Path(part.name).unlink(missing_ok=True)
            raise
    return rmir


def deploy_rmir(rmir: Path, out_dir: Path, force: bool = False) -> Path:
    """The Triton repository of a riva-lite .rmir, written into OUT_DIR; refused over models unless `force`."""
    if not rmir.is_file():
        raise RivaLiteError(f"riva-deploy: {rmir} not found: build it with riva-build")
    if out_dir.is_dir() and any(p.is_dir() and not p.name.startswith(".") for p in out_dir.iterdir()) and not force:
        raise RivaLiteError(f"riva-deploy: {out_dir} already holds models: pass -f to overwrite them")
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".riva-deploy-", dir=out_dir) as tmp:
        try:
            with tarfile.open(rmir) as tar:
                head = json.load(tar.extractfile("rmir.json"))
                if head.get("format") != RMIR_FORMAT:
                    raise RivaLiteError(f"riva-deploy: {rmir} is not a riva-lite .rmir (format "
                                        f"{head.get('format')!r}): build it with riva-lite's riva-build")
                member = tar.getmember(f"model/{head['riva']}")
                riva = Path(tmp) / Path(member.name).name
                with tar.extractfile(member) as src, open(riva, "wb") as dst:
                    shutil.copyfileobj(src, dst)
        except (tarfile.TarError, KeyError, json.JSONDecodeError, OSError) as exc:
            raise RivaLiteError(f"riva-deploy: cannot read {rmir} ({exc}): build it again with riva-build") from exc
        models = deploy(riva, Path(tmp) / "out", build_options=head.get("build_options") or {})
        for item in sorted(models.iterdir()):
            target = out_dir / item.name
            if target.is_dir():
                shutil.rmtree(target)
            item.replace(target)
    return out_dir


def _split_force(argv: list[str]) -> tuple[list[str], bool]:
    force = any(a in ("-f", "--force") for a in argv)
    return [a for a in argv if a not in ("-f", "--force")], force


def build_main(argv: list[str] | None = None) -> int:
    argv, force = _split_force(list(sys.argv[1:] if argv is None else argv))
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.split("\n\n")[1])
        return 0 if argv else 2
    try:
        paths = [a for a in argv[1:] if not a.startswith("--")]
        if len(paths) < 2:
            raise RivaLiteError("riva-build: give PIPELINE OUT.rmir[:KEY] IN.riva[:KEY]")
        options = build_options([a for a in argv[1:] if a.startswith("--")])
        print(build(argv[0], _path(paths[0]), [_path(p) for p in paths[1:]], options, force))
    except RivaLiteError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0


def deploy_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="riva-deploy", description="riva-lite: deploy a .rmir as a Triton "
                                     "model repository in OUT_DIR")
    parser.add_argument("-f", "--force", action="store_true", help="overwrite models already in OUT_DIR")
    parser.add_argument("rmir", metavar="IN.rmir[:KEY]")
    parser.add_argument("out_dir", metavar="OUT_DIR")
    args = parser.parse_args(sys.argv[1:] if argv is None else argv)
    try:
        print(deploy_rmir(_path(args.rmir), Path(args.out_dir), args.force))
    except RivaLiteError as exc:
        print(exc, file=sys.stderr)
        return 1
    return 0
