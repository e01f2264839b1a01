"""The credential issuer's plug-ins into the protocol layer, installed by the composition layer (:mod:`idp.app`):
the pre-authorized code grant (OpenID4VCI 1.0 §6.1) and the ``openid_credential`` authorization details type
(§5.1.1). Idempotent::

    from idp.vci.setup import install
    install()  # the token endpoint now takes urn:ietf:params:oauth:grant-type:pre-authorized_code
"""

from __future__ import annotations

from idp.oauth.grants import register_grant
from idp.vci import pre_authorized_code


def install() -> None:
    """Register the issuer's grant type (and authorization details type) with :mod:`idp.oauth`."""
    register_grant(pre_authorized_code.GRANT)


__all__ = ["install"]
