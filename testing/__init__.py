"""What only the project's tests and benchmarks use: the fake Riva server and the local riva-lite harness.

Not installed with the products (pyproject's package list leaves it out); no product imports it."""
