"""Benchmarks: each module prints a table. Run with `python -m bench.<name>`."""
