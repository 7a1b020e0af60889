"""Benchmarks: ``python -m benchmarks [--quick] [--scenario NAME ...]`` (see ``benchmarks/README.md``)."""
