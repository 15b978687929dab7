"""`rivaverify convert`: a staged .riva (or .rmir) -> riva-build -> riva-deploy -> a Triton model repository with its
build facts, in the conversion image through the Docker SDK (in place of riva-131, the seed's conversion script)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path
from typing import Any

from rivaverify import settings

DESCRIPTION = """\
Convert a .riva into a Triton model repository as NVIDIA's ServiceMaker does, in a container:
  riva-build speech_recognition OUT/rmir/NAME.rmir[:KEY] NAME.riva[:KEY] --name=... --language_code=... ...
  riva-deploy -f OUT/rmir/NAME.rmir[:KEY] OUT/models
The repository gets .rivaverify-build.json (the GPU, compute capability, driver, TensorRT, Triton, image, build
options and time it was built with), which phase 030 checks before anything starts. The key passes through the
container's environment only. Each step's log goes to LOG_DIR/NAME.<step>.log.
"""
EPILOG = """\
defaults: --image RIVA__SERVICEMAKER_IMAGE, else RIVA__IMAGE, else riva-lite's image (built when missing);
the key RIVA__MODEL_KEY; --gpus RIVA__DOCKER_GPUS.
exit status: 0 converted, 1 conversion failed (no OUT/models left half-written), 2 bad usage.
"""


def _value(text: str) -> Any:
    if text in ("True", "False", "true", "false"):
        return text.lower() == "true"
    try:
        return float(text) if "." in text else int(text)
    except ValueError:
        return text


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("riva", metavar="RIVA", type=Path, help="the .riva file (a staged artifact's models/*.riva) or an "
                   ".rmir (riva-build is skipped)")
    p.add_argument("--out", type=Path, metavar="OUT", help="where models/ and rmir/ go (default: "
                   "RIVA__WORK_DIR/convert/NAME)")
    p.add_argument("--image", help="the conversion image (see defaults below)")
    p.add_argument("--name", help="riva-build --name (default: the .riva's name)")
    p.add_argument("--language-code", metavar="CODE", help="riva-build --language_code (default: en-US)")
    p.add_argument("--offline", action="store_true", help="an offline pipeline: riva-build --streaming=False")
    p.add_argument("--chunk-size", type=float, metavar="S", help="riva-build --chunk_size (default: 0.16)")
    p.add_argument("--decoder-type", metavar="TYPE", help="riva-build --decoder_type (default: greedy)")
    p.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                   help="another riva-build option, e.g. --option endpointing.residue_blanks_at_start=-2 (repeatable)")
    p.add_argument("--gpus", help="GPUs for the container: auto, all, none, or ids 0,1 (default: RIVA__DOCKER_GPUS)")
    p.add_argument("--log-dir", type=Path, metavar="DIR", help="step logs (default: RIVA__REPORTS_DIR/convert)")
    p.add_argument("--timeout-s", type=float, default=3600, metavar="S", help="per step (default: 3600)")
    p.add_argument("--dry-run", action="store_true", help="print the docker run lines; run nothing")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("convert", help="riva-build and riva-deploy a .riva in a container (build facts "
                              "included)", description=DESCRIPTION, epilog=EPILOG,
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    _arguments(p)
    p.set_defaults(func=run)
    return p


class _Usage(Exception):
    pass


def options(args: argparse.Namespace) -> dict[str, Any]:
    """The riva-build options the arguments give (the rest are convert.DEFAULT_OPTIONS)."""
    out: dict[str, Any] = {}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise _Usage(f"--option {item!r}: give KEY=VALUE, e.g. --option chunk_size=0.16")
        out[key.strip().lstrip("-")] = _value(value)
    given = {"name": args.name, "language_code": args.language_code, "chunk_size": args.chunk_size,
             "decoder_type": args.decoder_type, "streaming": False if args.offline else None}
    return {**out, **{k: v for k, v in given.items() if v is not None}}


def request(args: argparse.Namespace, cfg: settings.Settings, image: str) -> Any:
    from rivaverify.artifact.convert import ConvertRequest

    riva = args.riva.resolve()
    if not riva.name.endswith((".riva", ".rmir")):
        raise _Usage(f"{args.riva} is not a .riva or .rmir file: give a staged artifact's models/*.riva")
    if args.timeout_s <= 0:
        raise _Usage("--timeout-s must be more than 0")
    gpus = args.gpus or cfg.docker_gpus
    if gpus not in ("auto", "all", "none") and not all(p.isdigit() for p in gpus.split(",")):
        raise _Usage(f"--gpus {gpus!r}: give auto, all, none or GPU ids such as 0,1")
    name = riva.name.rsplit(".", 1)[0]
    return ConvertRequest(riva, (args.out or cfg.work_dir / "convert" / name).resolve(), image, options(args), gpus,
                          cfg.model_key.get_secret_value() if cfg.model_key else None,
                          (args.log_dir or cfg.reports_dir / "convert").resolve(), args.timeout_s)


def _image(cfg: settings.Settings, given: str | None, dry_run: bool) -> str:
    """The conversion image; riva-lite's is built when missing (not in a dry run)."""
    image = given or cfg.servicemaker_image or cfg.image
    if image:
        return image
    from rivaverify.adapters import rivalite
    from rivaverify.runtime import docker_engine

    tag = rivalite.image_tag()
    if dry_run:
        return tag
    client = docker_engine.client()
    if rivalite.image_is_current(client, tag):
        return tag
    return rivalite.build_image(tag, client, log=lambda line: print(line, file=sys.stderr, flush=True))


def run(args: argparse.Namespace) -> int:
    def out(summary: dict[str, Any], text: str) -> None:
        print(json.dumps(summary, indent=2, sort_keys=True, default=str) if args.json else text, flush=True)

    def fail(message: str, status: int) -> int:
        print(f"rivaverify convert: error: {message}", file=sys.stderr, flush=True)
        if args.json:
            out({"status": "error", "error": message}, "")
        return status

    from rivaverify.adapters.rivalite import RivaLiteMissing
    from rivaverify.artifact import convert
    from rivaverify.runtime.docker_engine import DockerError, client

    try:
        cfg = settings.load()
        req = request(args, cfg, _image(cfg, args.image, args.dry_run))
    except (settings.SettingsError, _Usage) as exc:
        return fail(str(exc), 2)
    except (RivaLiteMissing, DockerError) as exc:
        return fail(str(exc), 1)
    if args.dry_run:
        lines = [convert.docker_argv(req, step) for step in convert.steps(req)]
        out({"status": "dry-run", "image": req.image, "build_options": req.options, "commands": lines},
            "dry run: nothing run\n" + "\n".join("  " + shlex.join(line) for line in lines))
        return 0
    if not req.riva.is_file():
        return fail(f"{req.riva} not found: stage the artifact (`rivaverify stage`) and give its models/*.riva", 2)
    try:
        done = convert.convert(client(), req, log=lambda line: print(line, file=sys.stderr, flush=True))
    except (convert.ConvertError, DockerError) as exc:
        return fail(str(exc), 1)
    except KeyboardInterrupt:
        return fail("interrupted: no repository was written; run it again", 130)
    facts = done.facts
    out(done.to_json(), f"converted {req.riva.name} into {done.repo} (compute capability "
                        f"{facts['compute_capability']}, TensorRT {facts['tensorrt'] or 'none'}) in "
                        + ", ".join(f"{step} {s:.1f} s" for step, s in done.seconds.items()))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rivaverify convert", description=DESCRIPTION, epilog=EPILOG,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
