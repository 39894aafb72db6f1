"""Benchmarks of the package: ``python -m sdakd_basicsr.benchmarks.<inference|training|backends> --help``."""
