"""The `rivaverify` command: one subcommand a verb (`shim install`, `stage`, `convert`, `diagnose`, `signatures`,
`serve`; more are added with add_parser)."""

from __future__ import annotations

import argparse
import sys

from rivaverify import shim
from rivaverify.cli import convert, diagnose, kube, serve, stage


def _shim_install(args: argparse.Namespace) -> int:
    if args.print:
        sys.stdout.write(shim.render(args.model_repository, args.real))
        return 0
    path = shim.install(args.dir, args.model_repository, args.real)
    print(f"wrote {path}; put {path.parent} first on tritonserver's PATH")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rivaverify", description="Deploy and verify NVIDIA Riva ASR.")
    verbs = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    shim_cmd = verbs.add_parser("shim", help="the tritonserver PATH-overlay shim")
    shim_verbs = shim_cmd.add_subparsers(dest="shim_command", required=True, metavar="SHIM_COMMAND")
    inst = shim_verbs.add_parser(
        "install",
        help="write DIR/bin/tritonserver",
        description="Write DIR/bin/tritonserver, a bash shim that adds --model-repository=REPO when the "
        "caller gave none and execs the real tritonserver (the next one on PATH, or --real).",
    )
    inst.add_argument("dir", metavar="DIR", help="folder to install into (the shim goes to DIR/bin)")
    inst.add_argument("--model-repository", required=True, metavar="REPO", help="absolute path or URL")
    inst.add_argument("--real", metavar="PATH", help="the real tritonserver (default: next one on PATH)")
    inst.add_argument("--print", action="store_true", help="print the script instead of writing it")
    inst.set_defaults(func=_shim_install)
    stage.add_parser(verbs)
    convert.add_parser(verbs)
    diagnose.add_parser(verbs)
    serve.add_parser(verbs)
    kube.add_parser(verbs)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except shim.ShimError as e:
        print(f"rivaverify: error: {e}", file=sys.stderr)
        return 2

