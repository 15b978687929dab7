"""Artifact staging in S3 (in place of riva-130, the seed's staging script: docs/architecture.md#the-seed) and
fetching for deployment.

    stage(store, StageRequest(...)) -> StageResult     full or reference-only staging, resumable
    fetch(store, uri, cache) -> StagedArtifact         the verified local .riva files of a staged prefix
    S3Target(...).connect() -> S3Store                 the boto3 store (the only Store implementation)
    embedded_s3()                                      moto's S3 server on loopback, for runs with no bucket
"""

from rivaverify.artifact.embedded import EMBEDDED_BUCKET, S3Target, embedded_s3
from rivaverify.artifact.errors import ArtifactError
from rivaverify.artifact.fetch import StagedArtifact, fetch
from rivaverify.artifact.manifest import ARTIFACT_JSON, CHECKSUMS, MARKER, ArtifactJson
from rivaverify.artifact.request import StageRequest, StageResult, plan, staging_uri
from rivaverify.artifact.s3 import S3Store
from rivaverify.artifact.staging import stage
from rivaverify.artifact.store import ObjectInfo, Store, parse_s3_uri, s3_uri

__all__ = [
    "ARTIFACT_JSON", "CHECKSUMS", "EMBEDDED_BUCKET", "MARKER", "ArtifactError", "ArtifactJson", "ObjectInfo",
    "S3Store", "S3Target", "StageRequest", "StageResult", "StagedArtifact", "Store", "embedded_s3", "fetch",
    "parse_s3_uri", "plan", "s3_uri", "stage", "staging_uri",
]
