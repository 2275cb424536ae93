"""Benchmarks: a large data set builder and timing scripts (run with ``python -m bench.pages``)."""
