"""Test support on real infrastructure, shared by the test suite and the benchmarks."""
