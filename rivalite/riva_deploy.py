"""`riva-deploy` (rivalite.servicemaker)."""

from rivalite.servicemaker import deploy_main as main

__all__ = ["main"]
