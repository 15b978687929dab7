"""`list-model-profiles` (alias `nim_list_model_profiles`) in the NIM image: NIM's utility, riva-lite's profiles."""

from rivalite.nim.main import list_model_profiles as main

__all__ = ["main"]
