"""Benchmarks: numbers and ratios against a baseline measured in the same run (never asserts)."""
