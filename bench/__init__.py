"""Benchmarks: each module measures a stage and a baseline in the same run."""
