"""What several test files share, and what the benchmarks use from the tests (the browser harness)."""
