"""Benchmarks: each prints its figures beside the targets and never fails on time."""
