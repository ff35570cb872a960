"""Benchmarks that print figures: ``python -m meshpose_core.bench model``."""
