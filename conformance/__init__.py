"""Runners for outside test suites: python -m conformance wycheproof|limbo|opensc|oidc|vc."""
