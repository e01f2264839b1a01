"""The credential issuer's plug-ins into the protocol layer, installed by the composition layer (:mod:`idp.app`):
the pre-authorized code grant (OpenID4VCI 1.0 §6.1) and the ``openid_credential`` authorization details type
(§5.1.1). Idempotent::

    from idp.vci.setup import install
    install()  # the token endpoint now takes urn:ietf:params:oauth:grant-type:pre-authorized_code
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from credentials.oid4vci.authorization_details import (
    OPENID_CREDENTIAL,
    InvalidAuthorizationDetails,
    parse_authorization_details,
)
from idp.oauth.authorization_request.details import (
    AuthorizationDetailsType,
    InvalidAuthorizationDetailsError,
    register_authorization_details_type,
)
from idp.oauth.grants import register_grant
from idp.vci import pre_authorized_code
from idp.vci.grant import begin_issuance


def parse_credential_entries(entries: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The ``openid_credential`` entries of a request, read as OpenID4VCI 1.0 §5.1.1 defines them."""
    try:
        return [d.to_json() for d in parse_authorization_details(list(entries), issuer=None)]
    except InvalidAuthorizationDetails as exc:
        raise InvalidAuthorizationDetailsError(str(exc)) from None


#: ``openid_credential`` (OpenID4VCI 1.0 §5.1.1): at code issuance, the approved facts become Credential Datasets.
OPENID_CREDENTIAL_TYPE = AuthorizationDetailsType(OPENID_CREDENTIAL, begin_issuance,
                                                  parse_credential_entries)


def install() -> None:
    """Register the issuer's grant type (and authorization details type) with :mod:`idp.oauth`."""
    register_grant(pre_authorized_code.GRANT)
    register_authorization_details_type(OPENID_CREDENTIAL_TYPE)


__all__ = ["install"]
