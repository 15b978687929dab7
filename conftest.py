"""Registers riva-verify's plugins and fixtures, and nothing else."""

pytest_plugins = [
    "plugins.settings",
    "plugins.phases",
    "plugins.state",
    "plugins.dryrun",
    "plugins.reports",
    "plugins.bundle",
    "plugins.diagnostics",
    "fixtures.settings",
    "fixtures.host",
    "fixtures.modelrepo",
    "fixtures.deployment",
    "fixtures.asr",
]
