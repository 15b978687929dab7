"""`rivaverify kube check FILE... | -`: Riva's needs checked in Kubernetes manifests (exit 0 clean, 1 findings,
2 unreadable input)."""

from __future__ import annotations

import argparse
import json
import sys

from rivaverify.kube import findings as out
from rivaverify.kube.manifests import Unreadable, load


def _check(args: argparse.Namespace) -> int:
    try:  # kubernetes-validate is the kube extra's: every other command runs without it
        from rivaverify.kube.check import check
    except ImportError as e:
        print(f"rivaverify kube check: needs the kube extra ({e.name or e}): pip install 'riva-verify[kube]'",
              file=sys.stderr)
        return 2
    try:
        objects = load(args.files)
    except Unreadable as e:
        print(f"rivaverify kube check: unreadable input: {e}", file=sys.stderr)
        return 2
    if not objects:
        print("rivaverify kube check: unreadable input: no Kubernetes objects", file=sys.stderr)
        return 2
    res = check(objects, args.kubernetes_version)
    if args.json:
        doc = json.loads(out.to_json(res.findings, res.checked))
        doc.update(skipped=res.skipped, servers=res.servers)
        print(json.dumps(doc, indent=2))
    else:
        print(out.to_text(res.findings, res.checked))
        print("riva servers: " + (", ".join(res.servers) or "none found"))
        for s in res.skipped:
            print(f"not validated: {s}")
    return out.exit_code(res.findings, args.strict)


def add_parser(verbs: argparse._SubParsersAction) -> None:
    kube = verbs.add_parser("kube", help="Riva on Kubernetes")
    kverbs = kube.add_subparsers(dest="kube_command", required=True, metavar="KUBE_COMMAND")
    p = kverbs.add_parser(
        "check", help="check manifests for what a Riva deployment needs",
        description="Read manifests (multi-document YAML as helm template or kubectl get -o yaml writes them; '-' "
        "reads stdin), validate them against Kubernetes' schemas, then check GPU limits, the startup budget "
        "against the cold start, ReadWriteOnce volumes under several replicas, the tritonserver shim (classic), "
        "a NIM's /dev/shm and NGC key, and probes that never send audio. Exit 0 clean, 1 findings, 2 unreadable.")
    p.add_argument("files", nargs="+", metavar="FILE", help="manifest files, or - for stdin")
    p.add_argument("--json", action="store_true", help="findings as JSON")
    p.add_argument("--strict", action="store_true", help="advice fails the check too (exit 1)")
    p.add_argument("--kubernetes-version", metavar="X.Y.Z", help="schemas of this Kubernetes version (default: "
                   "the newest kubernetes-validate ships)")
    p.set_defaults(func=_check)
