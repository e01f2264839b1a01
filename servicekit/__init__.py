"""The service shell shared by the provider (``idp``) and the verifier service (``credentials.verifier``).

It may import ``keys``; never ``idp``, ``credentials`` or ``cardreader``.
"""
