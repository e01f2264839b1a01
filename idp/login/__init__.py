"""Logging in with a My Number card: the card authenticator (registered as ``"card"``), its pages, its state in
the objects table, the verifier (pinned roots and CRLs) and the claims a signing certificate gives. The HTTP
contract is in :mod:`idp.endpoints.card_login`; the verification itself is :mod:`keys.cardlogin`."""
