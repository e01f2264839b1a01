"""Benchmarks: python -m bench verify|card|oidc|vc."""
