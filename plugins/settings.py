"""Settings as pytest options; invalid settings stop the run before any test."""

from __future__ import annotations

import pytest

from rivaverify import targets
from rivaverify.settings import Settings, SettingsError, description, env_name, load, option_name

SETTINGS_KEY = pytest.StashKey[Settings]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("riva", "riva-verify settings (each also RIVA__<NAME> in the environment or .env)")
    for name in Settings.model_fields:
        group.addoption(option_name(name), dest=f"riva_{name}", default=None, metavar="VALUE",
                        help=f"{description(name)} [{env_name(name)}]".replace("%", "%%"))  # argparse formats %
    group.addoption("--no-shim", dest="riva_shim", action="store_const", const="false",
                    help="deploy without the tritonserver shim, to show the launcher bug [RIVA__SHIM=false]")
    group.addoption("--dry-run", dest="riva_dry_run", action="store_const", const="true",
                    help="print and write reports/plan.json of what fixtures would do; do nothing")
    group.addoption("--corpus", dest="riva_corpus", metavar="MANIFEST", help="same as --riva-corpus")


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config: pytest.Config) -> None:
    get_settings(config)


def get_settings(config: pytest.Config) -> Settings:
    """The run's settings, loaded and validated on first use (a UsageError names what is wrong), and a target
    that can work with them (a combination that cannot is refused before anything starts)."""
    if SETTINGS_KEY not in config.stash:
        options = {name: config.getoption(f"riva_{name}", None) for name in Settings.model_fields}
        try:
            settings = load(options)
        except SettingsError as exc:
            raise pytest.UsageError(f"{exc}\n(fix the variable, .env entry or option named above)") from None
        refused = targets.get(settings).refusal()
        if refused:
            raise pytest.UsageError(f"target {settings.target} refused: {refused}")
        config.stash[SETTINGS_KEY] = settings
    return config.stash[SETTINGS_KEY]
