"""Benchmarks and tuning scripts, run from the project root as `python -m bench.<name>` (see each one's --help)."""
