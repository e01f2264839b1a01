"""``GET /sign/results``: the results of a ``jpki_sign`` authorization (:mod:`idp.sign.results`), for the access
token of its grant (Bearer or DPoP, :mod:`idp.oauth.access`), ONCE.

A token whose grant has no signing request (another authorization, another person's) is refused with
``insufficient_scope`` (RFC 6750 §3.1, 403), and so is every fetch after the first (the results, the certificate
included, are deleted when handed out): nothing is released twice.
"""

from __future__ import annotations

from typing import Any, Final

from litestar import Response, get
from litestar.di import NamedDependency

from idp.errors import InsufficientScope
from idp.metrics import Metrics
from idp.oauth.access import GUARD_PARAMETERS, GUARD_RESPONSES, AccessPolicy, Refused, challenge, guard
from idp.oauth.tokens import AccessToken
from idp.runtime import Services, utcnow
from idp.sign.details import signing_request_of
from idp.sign.requests import SigningRequests
from idp.sign.results import results_document
from idp.storage.audit import digest_ref, record
from idp.web.forms import AnyRequest
from idp.web.responses import NO_STORE, error_response
from servicekit.http import openapi as doc

PATH: Final = "/sign/results"


def _has_signing(access: AccessToken) -> None:
    if signing_request_of(access.grant) is None:
        raise InsufficientScope("the access token's grant has no signing results")


_POLICY: Final = AccessPolicy(PATH, check=_has_signing)


@get(PATH, summary="Signing results", tags=["Signing"])
async def sign_results(request: AnyRequest, services: NamedDependency[Services],
                       metrics: NamedDependency[Metrics]) -> Response[Any]:
    """The signatures, CMS, certificate and verification record of the token's signing grant (once)."""
    try:
        access = await guard(request, services, metrics, _POLICY)
    except Refused as refused:
        return refused.response
    now, request_id = utcnow(), signing_request_of(access.grant)
    granted = None if request_id is None else await SigningRequests(services.objects).take_results(request_id, now=now)
    if granted is None or granted.request.client_id != access.client_id:
        await record(services, "signing_results", now, outcome="refused", client_id=access.client_id,
                     request_ref=digest_ref(request_id or "none"))
        gone = InsufficientScope("the signing results were fetched already")
        scheme = "DPoP" if request.headers.get("authorization", "").lower().startswith("dpop ") else "Bearer"
        return error_response(gone, metrics, status=403,
                              headers={"WWW-Authenticate": challenge(scheme, services.settings, gone)})
    await record(services, "signing_results", now, outcome="fetched", client_id=access.client_id,
                 request_ref=digest_ref(granted.request.id))
    return Response(results_document(granted), headers=NO_STORE, media_type="application/json")


_DOCUMENT: Final = doc.obj({**doc.strings("label", "hashAlgorithmOID", "hash", "signatureFormat", "signature", "cms"),
                            "signing_time": {"type": "integer"}})
OPENAPI: Final = {PATH: {"get": doc.operation(parameters=GUARD_PARAMETERS, responses=doc.responses(
    doc.json_answer(200, "the signing results (once)", doc.obj({
        **doc.strings("signing_request", "certificate", "verification_record"),
        "documents": {"type": "array", "items": _DOCUMENT}},
        ("signing_request", "documents", "certificate", "verification_record"))),
    GUARD_RESPONSES))}}
ROUTES: Final = (sign_results,)

__all__ = ["PATH", "ROUTES"]
