"""HTTP endpoints, one module per endpoint (node-oidc-provider's ``lib/actions/``).

Each module holds its path, its handler and, when it belongs in the discovery documents, the metadata
members it contributes (``METADATA``).
"""
