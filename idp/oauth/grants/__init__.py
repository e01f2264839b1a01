"""The token endpoint's grants: the registry (:mod:`idp.oauth.grants.registry`) and the protocol's own grant types,
one module each, registered here in the order discovery lists them: ``authorization_code``, ``refresh_token``,
``client_credentials``, ``device_code`` (RFC 8628), ``ciba`` (CIBA Core 1.0). Features register theirs from the
composition layer (:mod:`idp.app`)::

    from idp.oauth.grants import exchange, grant_types
    grant_types()  # ("authorization_code", "refresh_token", "client_credentials", ...)
"""

from idp.oauth.grants import authorization_code, ciba, client_credentials, device_code, refresh_token
from idp.oauth.grants.registry import (
    GrantType,
    TokenRequest,
    exchange,
    find_grant,
    grant_types,
    register_grant,
    registered_grants,
    require_dpop,
)

for _grant in (authorization_code.GRANT, refresh_token.GRANT, client_credentials.GRANT, device_code.GRANT,
               ciba.GRANT):
    register_grant(_grant)

__all__ = ["GrantType", "TokenRequest", "exchange", "find_grant", "grant_types", "register_grant",
           "registered_grants", "require_dpop"]
