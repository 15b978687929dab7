"""Triton Python-backend models that `rivalite deploy` copies as model.py (they run inside Triton)."""
