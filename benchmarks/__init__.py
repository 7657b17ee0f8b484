"""Benchmarks of diffmig (run with `.venv/bin/python -m benchmarks.sync_benchmark`)."""
