"""Benchmarks: scripts that print numbers and ratios (never timed assertions)."""
