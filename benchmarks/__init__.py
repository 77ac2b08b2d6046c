"""Benchmarks for the project's performance targets (not tests): `python -m benchmarks.<name>`."""
