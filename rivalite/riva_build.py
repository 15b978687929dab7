"""`riva-build` (rivalite.servicemaker)."""

from rivalite.servicemaker import build_main as main

__all__ = ["main"]
