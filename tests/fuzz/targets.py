"""Every fuzz target module; importing this registers them all in :data:`tests.fuzz.harness.TARGETS`."""

from tests.fuzz import card, cms, http, issuance, jose, oid4vp, pki, vc  # noqa: F401
