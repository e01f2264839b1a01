"""The ``urn:ietf:params:oauth:grant-type:device_code`` grant (RFC 8628 §3.4-§3.5): the device polls with its
``device_code``; the polling rules are :func:`idp.oauth.decoupled.redeem`'s."""

from __future__ import annotations

from typing import Any, Final

from idp.oauth import decoupled
from idp.oauth.grants.registry import GrantType, TokenRequest
from idp.runtime import Services

DEVICE_CODE: Final = "urn:ietf:params:oauth:grant-type:device_code"


async def redeem_device_code(services: Services, request: TokenRequest) -> dict[str, Any]:
    """RFC 8628 §3.4: tokens once the person approved; §3.5's errors until then."""
    return await decoupled.redeem(services, request.client, request.params["device_code"], "device",
                                  jkt=None if request.dpop is None else request.dpop.jkt, now=request.now)


GRANT: Final = GrantType(DEVICE_CODE, redeem_device_code, required=("device_code",))

__all__ = ["DEVICE_CODE", "GRANT", "redeem_device_code"]
