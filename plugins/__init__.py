"""pytest plugins: how a riva-verify run behaves (registered by the root conftest.py)."""
