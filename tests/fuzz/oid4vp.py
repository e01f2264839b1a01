"""Fuzz targets of the OpenID4VP verifier: the direct_post form, the direct_post.jwt encrypted response, and
``vp_token`` verification against a DCQL query.

Errors let through: :class:`servicekit.http.bodies.BodyError` (the form body),
:class:`credentials.oid4vp.errors.PresentationError` (every refusal of a response or presentation)."""

from __future__ import annotations

import functools
import json
from contextlib import suppress
from typing import Any

from hypothesis import strategies as st

from conformance.vc import load
from conformance.vp_modules import Holder, Request, age_query
from credentials.dcql import DcqlQuery
from credentials.oid4vp import ResponseKey
from credentials.oid4vp.encryption import encrypt_response
from credentials.oid4vp.errors import PresentationError
from credentials.oid4vp.presentation import verify_vp_token
from credentials.oid4vp.request import ResponseMode, client_metadata
from credentials.oid4vp.response import parse_response
from credentials.sdjwtvc import IssuerKeys
from credentials.verify import VerifierPolicy
from keys.errors import VerificationError
from keys.jose.json import loads_object
from servicekit.http.bodies import BodyError, parse_form
from tests.fuzz.harness import json_values, target
from tests.fuzz.jose import text
from tests.fuzz.vc import _private

MAX_FORM = 64 * 1024


@functools.cache
def spec_key() -> tuple[ResponseKey, tuple[str, ...], str]:
    """OpenID4VP 1.0 §8.3's example key, its ``enc`` values and its encrypted response."""
    example = load("oid4vp.json")["encrypted_response"]
    jwk = example["private_jwk"]
    return ResponseKey(jwk["kid"], _private(jwk, jwk["d"])), tuple(example["enc_values"]), example["response"]


@functools.cache
def live_key() -> ResponseKey:
    return ResponseKey.generate()


def _encrypted(payload: Any) -> bytes:
    document = payload if isinstance(payload, dict) else {"vp_token": payload}
    return encrypt_response(document, client_metadata(live_key())).encode()


def _form_seeds() -> dict[str, bytes]:
    return {"form": b'vp_token=%7B%22age%22%3A%5B%22eyJ.eyJ.sig~d~kb%22%5D%7D&state=s-1',
            "error": b"error=access_denied&error_description=no&state=s-1",
            "response": b"response=a.b.c.d.e"}


@target("oid4vp_form", seeds=_form_seeds)
def oid4vp_form(data: bytes) -> None:
    """The direct_post body: :func:`parse_form`, then :func:`parse_response` in both response modes."""
    with suppress(BodyError):
        form = parse_form(data, max_bytes=MAX_FORM, max_fields=32)
        with suppress(PresentationError):
            parse_response(form, mode=ResponseMode.DIRECT_POST, key=None)
        with suppress(PresentationError):
            parse_response(form, mode=ResponseMode.DIRECT_POST_JWT, key=live_key())


def _encrypted_seeds() -> dict[str, bytes]:
    return {"spec": spec_key()[2].encode(), "live": _encrypted({"vp_token": {"age": ["x~"]}, "state": "s"}),
            "live_error": _encrypted({"error": "access_denied"})}


@target("oid4vp_encrypted", seeds=_encrypted_seeds, shaped=lambda: json_values(20).map(_encrypted))
def oid4vp_encrypted(data: bytes) -> None:
    """:meth:`ResponseKey.decrypt` (§8.3: ECDH-ES, A128GCM/A256GCM) and the parameters inside, for the spec key
    and a live key (shaped inputs are real encryptions of JSON-shaped payloads)."""
    response = text(data)
    key, enc_values, _ = spec_key()
    with suppress(PresentationError):
        key.decrypt(response, enc_values=enc_values)
    with suppress(PresentationError):
        parse_response({"response": response}, mode=ResponseMode.DIRECT_POST_JWT, key=live_key())


@functools.cache
def holder() -> tuple[Holder, Request, str]:
    """A test issuer and holder (conformance.vp_modules), a request, and one valid presentation."""
    subject = Holder(status_uri="https://id.example.jp/status/1")
    request = Request("redirect_uri:https://verifier.example/response", "n-fuzz")
    return subject, request, subject.present(subject.credential(idx=None), request)


def _vp_token_seeds() -> dict[str, bytes]:
    _, _, presentation = holder()
    return {"vp_token.json": json.dumps({"age": [presentation]}).encode(),
            "two.json": json.dumps({"age": [presentation, presentation]}).encode()}


@st.composite
def vp_tokens(draw: st.DrawFn) -> bytes:
    """The valid presentation with one of its ``~`` components replaced by a JSON-shaped one."""
    parts = holder()[2].split("~")
    index = draw(st.integers(0, len(parts) - 1))
    parts[index] = draw(st.text(max_size=40) | json_values(5).map(json.dumps))
    return json.dumps({"age": ["~".join(parts)]}).encode()


@target("oid4vp_vp_token", seeds=_vp_token_seeds, shaped=vp_tokens)
def oid4vp_vp_token(data: bytes) -> None:
    """:func:`verify_vp_token` of ``data`` (a JSON ``vp_token``) for the age query, key binding required."""
    subject, request, _ = holder()
    policy = VerifierPolicy(issuer_keys=IssuerKeys(trust=subject.pki.trust_store()))
    with suppress(VerificationError):
        vp_token = loads_object(data, what="vp_token")
        with suppress(PresentationError):
            verify_vp_token(vp_token, query=DcqlQuery.parse(age_query()), policy=policy, client_id=request.client_id,
                            nonce=request.nonce, at=subject.at, status=None)
