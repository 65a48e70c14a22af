"""Benchmarks of ladasearch: ``python -m benchmarks.run --quick|--cpu|--full|--smoke``."""
