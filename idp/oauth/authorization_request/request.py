"""The validated authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3, OIDC Core §3.1.2.1):
:class:`AuthorizationRequest` is what interactions, pushed requests and authorization codes store
(:meth:`AuthorizationRequest.to_payload`).

Credentials (OpenID4VCI 1.0 §5.1): a request asks for credential configurations by scope value (each
configuration's identifier) and/or by ``authorization_details`` of type ``openid_credential`` (RFC 9396; then
``scope`` may be absent); ``issuer_state`` from a Credential Offer is carried along (never trusted, §5.1.3). The
claims the person approves for them form a third target, ``credential`` (:meth:`AuthorizationRequest.
requested_claims`), which never reaches an ID token or UserInfo.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from credentials.oid4vci.authorization_details import OPENID_CREDENTIAL, CredentialAuthorization
from credentials.oid4vci.configurations import CONFIGURATIONS, CREDENTIAL_SCOPES, CredentialConfiguration
from idp.oauth.authorization_request.claims import (
    CLAIM_TARGETS,
    ClaimRequest,
    ClaimsRequest,
    claims_json,
    parse_claims,
)
from idp.oauth.authorization_request.errors import ResponseMode, ResponseTarget
from idp.oauth.pkce import S256
from idp.oauth.scope import format_scope

CODE: Final = "code"
OPENID: Final = "openid"
OFFLINE_ACCESS: Final = "offline_access"
PROMPTS: Final = ("none", "login", "consent", "select_account")
#: Claims each scope value asks for (OIDC Core §5.4, limited to what a card login can give; ``name``,
#: ``address``, ``birthdate`` and ``gender`` as single-claim scopes, as the Digital Agency's service has them).
SCOPE_CLAIMS: Final[Mapping[str, tuple[str, ...]]] = {
    "profile": ("name", "birthdate", "gender"),
    "address": ("address",),
    "name": ("name",),
    "birthdate": ("birthdate",),
    "gender": ("gender",),
}
#: ``sign``: a card signature over a registered sign transaction (the Digital Agency's scope; needs
#: ``sign_transaction_id``: :mod:`idp.oauth.authorization_request.sign_transaction`).
SCOPES: Final = (OPENID, OFFLINE_ACCESS, *SCOPE_CLAIMS, *CREDENTIAL_SCOPES, "sign")
#: Claims set by the provider itself; requesting them never asks the person for anything.
PROTOCOL_CLAIMS: Final = frozenset({"iss", "sub", "aud", "exp", "iat", "nbf", "jti", "auth_time", "nonce", "acr",
                                    "amr", "azp", "sid", "at_hash", "c_hash", "s_hash", "cnf"})
#: The target of the claims approved for credentials (never an ID token or UserInfo).
CREDENTIAL_TARGET: Final = "credential"


@dataclass(frozen=True, slots=True)
class AuthorizationRequest:
    """A validated authorization request for ``response_type=code`` with PKCE S256."""

    client_id: str
    redirect_uri: str
    scope: tuple[str, ...]
    code_challenge: str
    state: str | None = None
    nonce: str | None = None
    response_mode: ResponseMode = ResponseMode.QUERY
    prompt: tuple[str, ...] = ()
    max_age: int | None = None
    login_hint: str | None = None
    ui_locales: tuple[str, ...] = ()
    acr_values: tuple[str, ...] = ()
    claims: ClaimsRequest | None = None
    dpop_jkt: str | None = None
    #: The parsed entries (RFC 9396 §2), normalised by their types (:func:`..details.parse_details`).
    authorization_details: tuple[Mapping[str, Any], ...] = ()
    issuer_state: str | None = None

    @property
    def credential_requests(self) -> tuple[tuple[CredentialConfiguration, tuple[tuple[str, ...], ...] | None], ...]:
        """The credential configurations asked for, with the claim paths the wallet narrowed them to (``None``:
        all): authorization details first, then scope values (details win for the same configuration, §5.1.2)."""
        credentials = (CredentialAuthorization.from_json(d) for d in self.details_of(OPENID_CREDENTIAL))
        chosen = {d.credential_configuration_id: d.claims for d in credentials}
        for config in CONFIGURATIONS.values():
            if config.scope in self.scope:
                chosen.setdefault(config.id, None)
        return tuple((CONFIGURATIONS[i], paths) for i, paths in chosen.items())

    def details_of(self, details_type: str) -> tuple[Mapping[str, Any], ...]:
        """The ``authorization_details`` entries of type ``details_type``."""
        return tuple(d for d in self.authorization_details if d.get("type") == details_type)

    @property
    def target(self) -> ResponseTarget:
        """Where this request's response goes."""
        return ResponseTarget(self.redirect_uri, self.state, self.response_mode)

    @property
    def is_openid(self) -> bool:
        """Whether this is an OpenID Connect request (scope ``openid``)."""
        return OPENID in self.scope

    def requested_claims(self) -> dict[str, dict[str, ClaimRequest]]:
        """The claims asked for, per target (OIDC Core §5.4, §5.5): scope values and ``claims.userinfo`` for
        UserInfo, ``claims.id_token`` for the ID token; protocol claims (``sub``, ``acr``, …) left out."""
        userinfo: dict[str, ClaimRequest] = {name: ClaimRequest() for scope in self.scope
                                             for name in SCOPE_CLAIMS.get(scope, ())}
        requested: dict[str, dict[str, ClaimRequest]] = {"id_token": {}, "userinfo": userinfo}
        for target, members in (self.claims or {}).items():
            requested[target].update(members)
        credential = {name: ClaimRequest() for config, paths in self.credential_requests
                      for name in config.consent_for(paths)}
        if credential:
            requested[CREDENTIAL_TARGET] = credential
        return {target: {n: c for n, c in members.items() if n not in PROTOCOL_CLAIMS}
                for target, members in requested.items()}

    def essential_acr(self) -> tuple[str, ...]:
        """The ``acr`` values the ``claims`` parameter requires as essential (OIDC Core §5.5.1.1); empty if none."""
        acr = (self.claims or {}).get("id_token", {}).get("acr")
        if acr is None or not acr.essential or acr.values is None:
            return ()
        return tuple(str(v) for v in acr.values)

    def requested_sub(self) -> str | None:
        """The ``sub`` value the ``claims`` parameter names, if any (OIDC Core §3.1.2.2 / §5.5.1)."""
        for target in CLAIM_TARGETS:
            sub = (self.claims or {}).get(target, {}).get("sub")
            if sub is not None and sub.values is not None and len(sub.values) == 1:
                return str(sub.values[0])
        return None

    def to_payload(self) -> dict[str, Any]:
        """The request as stored (parameter names and wire forms: space-separated lists, claims as JSON)."""
        return {"client_id": self.client_id, "redirect_uri": self.redirect_uri, "response_type": CODE,
                "response_mode": self.response_mode, "scope": format_scope(self.scope), "state": self.state,
                "nonce": self.nonce, "code_challenge": self.code_challenge, "code_challenge_method": S256,
                "prompt": " ".join(self.prompt), "max_age": self.max_age, "login_hint": self.login_hint,
                "ui_locales": " ".join(self.ui_locales), "acr_values": " ".join(self.acr_values),
                "claims": None if self.claims is None else claims_json(self.claims), "dpop_jkt": self.dpop_jkt,
                "authorization_details": [dict(d) for d in self.authorization_details] or None,
                "issuer_state": self.issuer_state}

    @classmethod
    def from_payload(cls, payload: Mapping[str, Any]) -> AuthorizationRequest:
        """The request :meth:`to_payload` stored."""
        claims = payload.get("claims")
        return cls(client_id=payload["client_id"], redirect_uri=payload["redirect_uri"],
                   scope=tuple(payload["scope"].split()), code_challenge=payload["code_challenge"],
                   state=payload.get("state"), nonce=payload.get("nonce"),
                   response_mode=ResponseMode(payload.get("response_mode") or "query"),
                   prompt=tuple((payload.get("prompt") or "").split()), max_age=payload.get("max_age"),
                   login_hint=payload.get("login_hint"), ui_locales=tuple((payload.get("ui_locales") or "").split()),
                   acr_values=tuple((payload.get("acr_values") or "").split()),
                   claims=None if claims is None else parse_claims(claims), dpop_jkt=payload.get("dpop_jkt"),
                   authorization_details=tuple(payload.get("authorization_details") or ()),
                   issuer_state=payload.get("issuer_state"))



__all__ = ["CODE", "CREDENTIAL_TARGET", "OFFLINE_ACCESS", "OPENID", "PROMPTS", "PROTOCOL_CLAIMS", "SCOPES",
           "SCOPE_CLAIMS", "AuthorizationRequest"]
