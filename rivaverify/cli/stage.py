"""`rivaverify stage`: stage a Riva model artifact in S3 (in place of riva-130, the seed's staging
script: docs/architecture.md#the-seed), in full or by reference.

Each option defaults to its RIVA__ setting, else to the variable the seed's script read (from the environment or
./.env), so existing .env files keep working.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rivaverify import settings

# option -> the setting it defaults to (RIVA__<NAME>, then the seed's variable: settings.STAGE_SEED_VARIABLES)
SETTINGS = {"source_uri": "artifact", "bucket": "bucket", "model_name": "artifact_name", "version": "model_version",
            "env": "env", "region": "aws_region", "endpoint_url": "s3_endpoint_url", "work_dir": "work_dir"}
MiB = 1 << 20

DESCRIPTION = """\
Stage a Riva deployable archive under s3://BUCKET/ENV/MODEL/VERSION/.

Full (default): download the source (parallel, resumable, sha256 in the same pass), verify it, extract
its .riva files safely, put source/, models/, checksums.sha256 and artifact.json, verify them, and write
staging_complete.txt last. A failed run leaves no marker; rerun it to finish without redoing verified work.
--reference-only: write artifact.json (size, ETag, sha256 when the store knows it) and the marker only.
"""



def _epilog() -> str:
    pairs = []
    for dest, field in SETTINGS.items():
        names = [settings.env_name(field)] + ([settings.STAGE_SEED_VARIABLES[field]]
                                              if field in settings.STAGE_SEED_VARIABLES else [])
        pairs.append(f"  --{dest.replace('_', '-')} {', '.join(names)}")
    return ("defaults: each option falls back to its RIVA__ setting, then to the variable the old staging script "
            "(riva-130) read (environment or ./.env):\n" + "\n".join(pairs) + "\n"
            "credentials: the standard AWS chain (AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, SSO, instance "
            "role).\nexit status: 0 staged (or already staged), 1 staging failed (nothing marked complete), "
            "2 bad usage.\n")


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--source-uri", metavar="URI", help="the deployable archive: s3://BUCKET/KEY or a local path")
    p.add_argument("--bucket", help="bucket to stage into")
    p.add_argument("--model-name", metavar="NAME", help="model in the path (default: from the archive name)")
    p.add_argument("--version", "--model-version", dest="version", metavar="VERSION",
                   help="version in the path (default: from the archive name, '..._v8.1.tar.gz' is 8.1)")
    p.add_argument("--env", metavar="ENV", help="environment in the path (default: dev)")
    p.add_argument("--region", help="AWS region of the bucket (default: the AWS chain, else us-east-1)")
    p.add_argument("--endpoint-url", metavar="URL", help="S3-compatible endpoint (MinIO, Ceph, a local server)")
    p.add_argument("--reference-only", action="store_true", help="no download: artifact.json and the marker only")
    p.add_argument("--expected-sha256", metavar="HEX", help="fail (and quarantine the copy) unless the source has it")
    p.add_argument("--language-code", metavar="CODE", help="artifact.json model.language_code (default: from name)")
    p.add_argument("--architecture", metavar="ARCH", help="artifact.json model.architecture (default: from name)")
    p.add_argument("--work-dir", metavar="DIR", type=Path, help="local scratch (default: .rivaverify)")
    p.add_argument("--keep-local", action="store_true", help="keep the downloaded source and .riva files")
    p.add_argument("--concurrency", type=int, default=10, metavar="N", help="parallel transfers (default: 10)")
    p.add_argument("--part-size-mib", type=int, default=8, metavar="MIB", help="transfer part size (default: 8)")
    p.add_argument("--dry-run", action="store_true", help="print what would be done; contact nothing")
    p.add_argument("--json", action="store_true", help="print a JSON summary on stdout")
    p.add_argument("--no-progress", action="store_true", help="no progress bars (default: on a terminal only)")
    p.add_argument("--print-schema", action="store_true", help="print the JSON schema of artifact.json and exit")


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    p = subparsers.add_parser("stage", help="stage a Riva model artifact in S3 (full or reference-only)",
                              description=DESCRIPTION, epilog=_epilog(),
                              formatter_class=argparse.RawDescriptionHelpFormatter)
    _arguments(p)
    p.set_defaults(func=run)
    return p


def resolve(args: argparse.Namespace, dotenv_path: Path = Path(".env")) -> argparse.Namespace:
    """Fill unset options from the settings: RIVA__ names, then the seed's variables (environment, then .env).
    Invalid values raise SettingsError naming the option or variable."""
    options = {field: getattr(args, dest, None) for dest, field in SETTINGS.items()}
    names = {field: f"--{dest.replace('_', '-')}" for dest, field in SETTINGS.items()}
    cfg = settings.load({k: v for k, v in options.items() if v not in (None, "")},
                        seed=settings.STAGE_SEED_VARIABLES, env_file=dotenv_path, option_names=names)
    out = argparse.Namespace(**vars(args))
    for dest, field in SETTINGS.items():
        setattr(out, dest, getattr(cfg, field))
    return out


class _Usage(Exception):
    pass


def _request(args: argparse.Namespace) -> Any:
    from rivaverify.artifact import StageRequest

    if not args.source_uri:
        raise _Usage("no source: pass --source-uri (or set RIVA_ASR_MODEL_S3_URI / RIVA__ARTIFACT)")
    if not args.bucket:
        raise _Usage("no bucket: pass --bucket (or set NVIDIA_DRIVERS_S3_BUCKET / RIVA__BUCKET)")
    if args.concurrency < 1 or args.part_size_mib < 5:
        raise _Usage("--concurrency must be 1 or more and --part-size-mib 5 or more (S3's smallest part)")
    return StageRequest(
        source=args.source_uri, bucket=args.bucket, env=args.env, model_name=args.model_name, version=args.version,
        language_code=args.language_code, architecture=args.architecture, expected_sha256=args.expected_sha256,
        reference_only=args.reference_only, work_dir=args.work_dir, keep_local=args.keep_local,
        part_size=args.part_size_mib * MiB, concurrency=args.concurrency)


def _bars(args: argparse.Namespace) -> Any:
    if args.no_progress or args.json or not sys.stderr.isatty():
        return None
    from tqdm import tqdm

    return lambda label, total: tqdm(total=total, desc=label[:40], unit="B", unit_scale=True, unit_divisor=1024,
                                     file=sys.stderr, leave=False, mininterval=0.5)


def _size(n: int) -> str:
    return f"{n / (1 << 30):.2f} GiB" if n >= 1 << 30 else f"{n / MiB:.1f} MiB"


def run(args: argparse.Namespace) -> int:
    """Run `rivaverify stage` with parsed arguments; return the exit status."""
    def out(summary: dict[str, Any], text: str) -> None:
        print(json.dumps(summary, indent=2, sort_keys=True) if args.json else text, flush=True)

    def fail(message: str, status: int) -> int:
        print(f"rivaverify stage: error: {message}", file=sys.stderr, flush=True)
        if args.json:
            out({"status": "error", "error": message}, "")
        return status

    try:
        args = resolve(args)
    except settings.SettingsError as exc:
        return fail(str(exc), 2)
    if args.print_schema:
        from rivaverify.artifact.manifest import json_schema

        print(json.dumps(json_schema(), indent=2, sort_keys=True))
        return 0
    try:
        req = _request(args)
    except _Usage as exc:
        return fail(str(exc), 2)
    from rivaverify.artifact import ArtifactError, S3Target, plan, stage

    if args.dry_run:
        actions = plan(req)
        out({"status": "dry-run", "actions": actions},
            "dry run: nothing contacted, nothing changed\n" + "\n".join(f"  {a}" for a in actions))
        return 0
    try:
        store = S3Target(req.bucket, args.endpoint_url, args.region).connect(req.concurrency, req.part_size)
        result = stage(store, req, log=lambda line: print(line, file=sys.stderr, flush=True), bars=_bars(args))
    except ArtifactError as exc:
        return fail(str(exc), 1)
    except OSError as exc:
        return fail(f"{exc}: check free disk space and the permissions of {req.work_dir}, then rerun", 1)
    except KeyboardInterrupt:
        return fail("interrupted: nothing was marked complete; rerun to finish (verified parts are kept)", 130)
    summary = result.to_json()
    words = {"download": "downloaded", "upload": "uploaded", "copy": "copied"}
    moved = ", ".join(f"{words[k]} {_size(v)}" for k, v in summary["bytes"].items() if v)
    out(summary, f"{result.status} {result.uri} (artifact_id {result.artifact.artifact_id}, mode "
                 f"{result.artifact.mode}) in {result.seconds:.2f} s" + (f": {moved}" if moved else ""))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rivaverify stage", description=DESCRIPTION, epilog=_epilog(),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    _arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
