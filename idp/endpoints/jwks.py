"""``GET /jwks``: the provider's public signing keys (RFC 7517 §5, OIDC Discovery ``jwks_uri``).

Next, current and retired-but-unexpired keys, each with ``kid``, ``alg`` and ``use``; cacheable for
``keys.jwks_max_age`` (the publish lead is at least that long, so a cached set always holds the key
of any token a relying party receives).
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Response, get
from litestar.di import NamedDependency

from idp.runtime import Services, utcnow
from servicekit.http import openapi as doc

PATH: Final = "/jwks"
METADATA: Final = {"jwks_uri": PATH}
MEDIA_TYPE: Final = "application/jwk-set+json"


@get(PATH, media_type=MEDIA_TYPE, summary="JSON Web Key Set", tags=["OpenID Connect"])
async def jwks(services: NamedDependency[Services]) -> Response[dict[str, Any]]:
    """The JWK Set used to verify ID tokens and other JWTs the provider signs."""
    document = await services.keyset.jwks(utcnow())
    max_age = int(services.settings.keys.jwks_max_age)
    return Response(document, media_type=MEDIA_TYPE, headers={"Cache-Control": f"public, max-age={max_age}"})


OPENAPI: Final = {PATH: {"get": doc.operation(responses=doc.json_answer(
    200, "the JWK Set (RFC 7517 §5)", doc.obj({"keys": {"type": "array", "items": {"type": "object"}}}, ("keys",)),
    media_type=MEDIA_TYPE))}}

ROUTES: Final = (jwks,)
