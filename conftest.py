"""Registers riva-verify's plugins and fixtures, and nothing else."""

pytest_plugins = [
    "plugins.settings",
    "plugins.phases",
    "plugins.state",
    "plugins.dryrun",
    "plugins.reports",
    "plugins.history",
    "plugins.summary",
    "plugins.bundle",
    "plugins.diagnostics",
    "plugins.triton_metrics",
    "plugins.require_docker",
    "plugins.lean",
    "fixtures.settings",
    "fixtures.host",
    "fixtures.artifact",
    "fixtures.modelrepo",
    "fixtures.deployment",
    "fixtures.asr",
    "fixtures.gateway",
]
