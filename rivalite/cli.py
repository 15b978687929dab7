"""The `rivalite` command: pack, deploy, riva-build, riva-deploy, serve, nim, list-model-profiles, triton-home,
image build."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from rivalite import DEFAULT_LAYOUT, LAYOUT_ENV, LAYOUTS
from rivalite.errors import RivaLiteError


def _pack(args) -> int:
    from rivalite.artifact import pack

    print(pack(args.out_dir, args.model, name=args.name, version=args.version))
    return 0


def _deploy(args) -> int:
    from rivalite.artifact import deploy

    print(deploy(args.artifact, args.out_dir, cpu_threads=args.cpu_threads, layout=args.layout))
    return 0


def _triton_home(args) -> int:
    from rivalite import triton

    print(triton.prepare_home(args.home))
    return 0


def _list_model_profiles(args) -> int:
    from rivalite.nim.main import list_model_profiles

    return list_model_profiles()


def _image_build(args) -> int:
    from rivalite import image

    build = image.build_nim if args.nim else image.build
    print(build(args.tag, cache=args.cache, force=args.force, log=lambda line: print(line, file=sys.stderr)))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="rivalite", description="riva-lite, a CPU Riva-compatible ASR target."
    )
    verbs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = verbs.add_parser("pack", help="build <name>-deployable_v<N>.tar.gz from a Whisper model")
    p.add_argument("out_dir", metavar="OUT_DIR")
    p.add_argument(
        "--model",
        metavar="PATH",
        help="CTranslate2 Whisper model folder (default: $RIVALITE_MODEL, else the pinned tiny.en)",
    )
    p.add_argument("--name", help="artifact and model name prefix (default: whisper-tiny-en-US)")
    p.add_argument("--version", type=int, default=1, help="N in _v<N> (default 1)")
    p.set_defaults(func=_pack)

    p = verbs.add_parser(
        "deploy",
        help="write a Triton model repository to OUT_DIR/models",
        description="Write a Triton model repository laid out as riva-deploy lays out Riva's. Layout 2.17 "
        "(Riva 2.17+, the default): per pipeline a Python BLS model <name>-asr-streaming-asr-bls-ensemble "
        "(offline: <name>-asr-offline-asr-bls-ensemble) over riva-trt-<name>-asr-streaming-am-streaming "
        "(offline: ...-am-streaming-offline). Layout 2.16 (Riva <= 2.16): per pipeline an ensemble "
        "<name>-asr-streaming over its -feature-extractor-streaming, riva-trt-...-am-streaming, "
        "-endpointing-streaming and -ctc-decoder-cpu-streaming models. Both add riva-punctuation-en-US "
        "over riva-trt-riva-punctuation-en-US-nn-bert-base-uncased. The weights are Whisper's "
        "(parameter model_family: whisper).",
    )
    p.add_argument("artifact", metavar="ARTIFACT", help="the .tar.gz from `rivalite pack`, or its .riva file")
    p.add_argument("out_dir", metavar="OUT_DIR")
    p.add_argument("--cpu-threads", type=int, help="Whisper's CPU threads (default: cores, at most 4)")
    p.add_argument(
        "--layout",
        choices=LAYOUTS,
        help="repository layout: 2.17 (Riva 2.17+, BLS models) or 2.16 (Riva <= 2.16, ensembles) "
        f"(default: ${LAYOUT_ENV}, else {DEFAULT_LAYOUT})",
    )
    p.set_defaults(func=_deploy)

    p = verbs.add_parser("serve", add_help=False, help="Riva's gRPC API alone (start-riva runs it)")
    p.set_defaults(func=None)

    p = verbs.add_parser("nim", add_help=False, help="riva-lite as a Riva ASR NIM, in the foreground "
                         "(`rivalite nim --help`; docs/riva-lite.md)")
    p.set_defaults(func=None)

    for verb, what in (("riva-build", "ServiceMaker's riva-build: PIPELINE OUT.rmir[:KEY] IN.riva[:KEY] [--opt=V]"),
                       ("riva-deploy", "ServiceMaker's riva-deploy: [-f] IN.rmir[:KEY] OUT_DIR")):
        verbs.add_parser(verb, add_help=False, help=f"{what} (the image has it as {verb})").set_defaults(func=None)

    p = verbs.add_parser("list-model-profiles", help="the NIM face's profiles, as NIM's list-model-profiles prints")
    p.set_defaults(func=_list_model_profiles)

    p = verbs.add_parser("triton-home", help="prepare and print the folder start-riva runs Triton from")
    p.add_argument("--home", help="where (default: $RIVALITE_TRITON_HOME, else ~/.cache/rivalite/...)")
    p.set_defaults(func=_triton_home)

    p = verbs.add_parser("image", help="the riva-lite Docker image (built here: debootstrap, chroot, import)")
    image_verbs = p.add_subparsers(dest="image_command", required=True, metavar="IMAGE_COMMAND")
    p = image_verbs.add_parser("build", help="build riva-lite:<key> (reused when it exists); print its tag")
    p.add_argument("--tag", help="image tag (default: riva-lite:<hash of the recipe and sources>)")
    p.add_argument("--cache", type=Path, help="base rootfs and pip cache (default: ~/.cache/rivalite/image)")
    p.add_argument("--force", action="store_true", help="rebuild even when the tag exists")
    p.add_argument("--nim", action="store_true", help="the NIM image riva-lite-nim:<key> instead: `rivalite nim` "
                   "as its command, NIM's ports (9000, 50051), cache (/opt/nim/.cache, UID 1000) and manifest")
    p.set_defaults(func=_image_build)

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["serve"]:
        from rivalite.server import main as serve_main

        return serve_main(argv[1:])
    if argv[:1] in (["riva-build"], ["riva-deploy"]):  # ServiceMaker's commands, as the image names them
        from rivalite import servicemaker

        return (servicemaker.build_main if argv[0] == "riva-build" else servicemaker.deploy_main)(argv[1:])
    if argv[:1] == ["nim"]:
        from rivalite.nim.main import main as nim_main

        return nim_main(argv[1:])
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except RivaLiteError as e:
        print(f"rivalite: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
