"""Fuzz targets of JOSE: compact JWS, JWT claims (signed by a key the target trusts, so claim checks run), JWKs
and JWK Sets, and the base64url decoders. Errors let through: :class:`keys.errors.VerificationError` and
subclasses (``MalformedInput``, ``LimitExceeded``, ``InvalidSignature``, ``InvalidToken``)."""

from __future__ import annotations

import datetime as dt
import functools
import json
from contextlib import suppress

from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import strategies as st

from keys.errors import VerificationError
from keys.jose.b64 import b64_decode, b64url_decode, b64url_encode
from keys.jose.json import loads_object
from keys.jose.jwk import VerificationKey, jwk_thumbprint, parse_jwk, public_jwk, verification_keys
from keys.jose.jws import verify_jws
from keys.jose.jwt import verify_jwt
from keys.service.jws import compact_jws, json_bytes
from keys.service.signer import SoftwareSigner
from tests.fuzz.harness import json_values, target

AT = dt.datetime(2026, 11, 22, 12, 0, tzinfo=dt.UTC)
ISSUER = "https://id.example.jp"
AUDIENCE = "https://rp.example.jp"
ALGORITHMS = ("ES256", "RS256", "PS256", "EdDSA")


@functools.cache
def signer() -> SoftwareSigner:
    return SoftwareSigner(ec.generate_private_key(ec.SECP256R1()), "ES256", "fuzz-1")


@functools.cache
def verification_key() -> VerificationKey:
    return VerificationKey.from_jwk(public_jwk(signer()._key.public_key(), kid="fuzz-1", alg="ES256"))


def text(data: bytes) -> str:
    """Inputs that arrive as text (tokens, form values): bytes that are not UTF-8 become U+FFFD."""
    return data.decode("utf-8", errors="replace")


def claims() -> dict[str, object]:
    now = int(AT.timestamp())
    return {"iss": ISSUER, "aud": AUDIENCE, "sub": "s-1", "iat": now, "nbf": now - 5, "exp": now + 300,
            "nonce": "n-1", "cnf": {"jwk": public_jwk(signer()._key.public_key())}}


def _jws_seeds() -> dict[str, bytes]:
    key = signer()
    jwk = public_jwk(key._key.public_key())
    return {
        "jwt": compact_jws(key, json_bytes(claims())).encode(),
        "typed": compact_jws(key, json_bytes(claims()), typ="dpop+jwt", header={"jwk": jwk}).encode(),
        "crit": compact_jws(key, b"{}", header={"crit": ["b64"], "b64": False}).encode(),
        "x5c": compact_jws(key, b"{}", header={"x5c": ["MIIB"]}).encode(),
        "none": (b64url_encode(b'{"alg":"none"}') + "." + b64url_encode(b"{}") + ".").encode(),
    }


@st.composite
def compact_tokens(draw: st.DrawFn) -> bytes:
    """``header.payload.signature`` from JSON-shaped header and payload, sometimes a real signature."""
    header = draw(st.dictionaries(st.sampled_from(("alg", "kid", "typ", "crit", "jwk", "x5c", "b64", "cty")),
                                  json_values(8) | st.sampled_from(ALGORITHMS), max_size=5))
    if draw(st.booleans()):
        header["alg"] = draw(st.sampled_from((*ALGORITHMS, "none", "HS256")))
    payload = draw(json_values(20))
    signing_input = f"{b64url_encode(json.dumps(header).encode())}.{b64url_encode(json.dumps(payload).encode())}"
    signature = draw(st.binary(max_size=80))
    if draw(st.booleans()):
        signature = signer().sign(signing_input.encode())
    return f"{signing_input}.{b64url_encode(signature)}".encode()


@target("jws", seeds=_jws_seeds, shaped=compact_tokens)
def jws(data: bytes) -> None:
    """:func:`keys.jose.jws.verify_jws` with a caller key, and with an embedded ``jwk`` header allowed."""
    token = text(data)
    with suppress(VerificationError):
        verify_jws(token, algorithms=ALGORITHMS, typ=None, keys=(verification_key(),), understood_crit=("b64",))
    with suppress(VerificationError):
        verify_jws(token, algorithms=("ES256",), typ="dpop+jwt", allow_embedded_jwk=True)


def _claims_seeds() -> dict[str, bytes]:
    return {"claims.json": json_bytes(claims()), "aud_list.json": json_bytes(dict(claims(), aud=[AUDIENCE, "x"])),
            "floats.json": json_bytes(dict(claims(), exp=1e300, iat=-1.5, nbf=2**70))}


@target("jwt_claims", seeds=_claims_seeds, shaped=lambda: json_values(30).map(lambda v: json.dumps(v).encode()))
def jwt_claims(data: bytes) -> None:
    """:func:`keys.jose.jwt.verify_jwt` of ``data`` as the claims, signed by the trusted key: the claim checks
    (times, audience, issuer) meet arbitrary JSON."""
    token = compact_jws(signer(), data, typ="JWT")
    with suppress(VerificationError):
        verify_jwt(token, algorithms=("ES256",), typ="JWT", issuer=ISSUER, audience=AUDIENCE, at=AT,
                   required_claims=("exp", "iat"), max_age=dt.timedelta(minutes=5), keys=(verification_key(),))


def _jwk_seeds() -> dict[str, bytes]:
    from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

    ec_jwk = public_jwk(signer()._key.public_key(), kid="a", alg="ES256")
    rsa_jwk = public_jwk(rsa.generate_private_key(65537, 2048).public_key(), kid="b", alg="RS256")
    ed_jwk = public_jwk(ed25519.Ed25519PrivateKey.generate().public_key(), kid="c")
    return {"ec.json": json_bytes(ec_jwk), "rsa.json": json_bytes(rsa_jwk), "okp.json": json_bytes(ed_jwk),
            "oct.json": json_bytes({"kty": "oct", "k": "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LTEyMzQ", "alg": "HS256"}),
            "set.json": json_bytes({"keys": [ec_jwk, rsa_jwk, ed_jwk]})}


@target("jwk", seeds=_jwk_seeds, shaped=lambda: json_values(30).map(lambda v: json.dumps(v).encode()))
def jwk(data: bytes) -> None:
    """A JWK or JWK Set document: strict JSON, then :func:`parse_jwk`, :meth:`VerificationKey.from_jwk`,
    :func:`jwk_thumbprint` and :func:`verification_keys`."""
    with suppress(VerificationError):
        document = loads_object(data, what="JWK")
        with suppress(VerificationError):
            parse_jwk(document, allow_private=True, allow_symmetric=True)
        with suppress(VerificationError):
            VerificationKey.from_jwk(document, allow_symmetric=True)
        with suppress(VerificationError):
            jwk_thumbprint(document)
        with suppress(VerificationError):
            verification_keys(document, allow_symmetric=True)


@target("b64", seeds=lambda: {"url": b"c2VjcmV0LQ", "std": b"c2VjcmV0LQ==", "odd": b"a"})
def b64(data: bytes) -> None:
    """The strict base64url and base64 decoders (unpadded, canonical)."""
    value = text(data)
    with suppress(VerificationError):
        b64url_decode(value, "value")
    with suppress(VerificationError):
        b64_decode(value, "value")
