"""Scenarios driven by idpyoidc (PyPI), a second independent relying party: Python, but with its own JOSE stack
(cryptojwt) and its own HTTP client (requests), so it shares no code with the provider.

The four scenarios are steps of one session (discovery, then the code flow, then userinfo and refresh); a step
runs its predecessors if they have not run yet, so each scenario also works alone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final

from conformance.oidc_browser import Browser
from conformance.oidc_clients import ACCOUNT, ClientSpec
from conformance.oidc_scenarios import Failed, check
from conformance.oidc_targets import Target


class _Http:
    """idpyoidc's HTTP client (requests, as by default), remembering the last error answer so that a failure can
    say what the server said (idpyoidc keeps only the error code)."""

    def __init__(self) -> None:
        self.last_error = ""

    def __call__(self, method: str, url: str, **kwargs: Any) -> Any:
        import requests  # idpyoidc's own dependency

        timeout = kwargs.pop("timeout", 15)
        response = requests.request(method, url, timeout=timeout, **kwargs)
        if response.status_code >= 400:
            self.last_error = f"{method} {url} answered {response.status_code}: {response.text[:240]}"
        return response


def _client(spec: ClientSpec, issuer: str, http: _Http) -> Any:
    logging.getLogger("idpyoidc").setLevel(logging.CRITICAL)  # failures are reported by the scenarios
    try:
        from cryptojwt.key_jar import KeyJar
        from idpyoidc.client.client_auth import PrivateKeyJWT
        from idpyoidc.client.oauth2.stand_alone_client import StandAloneClient
    except ImportError as exc:
        raise Failed(f"idpyoidc is not installed ({exc}); pip install idpyoidc") from None

    class IssuerAudience(PrivateKeyJWT):  # type: ignore[misc]
        """private_key_jwt with the issuer as the only audience (draft-ietf-oauth-rfc7523bis §4), as the provider
        requires by default: idpyoidc 5 names the token endpoint URL at the token endpoint. Its own setting, the
        ``audience`` keyword, does not reach the token request from StandAloneClient."""

        def _get_audience_and_algorithm(self, context: Any, keyjar: Any, **kwargs: Any) -> tuple[str, str]:
            _, algorithm = super()._get_audience_and_algorithm(context, keyjar, **kwargs)
            return context.provider_info["issuer"], algorithm

    assert spec.private_jwk is not None
    keyjar = KeyJar()
    keyjar.import_jwks({"keys": [spec.private_jwk]}, "")
    config = {
        "client_id": spec.client_id, "client_type": "oidc", "issuer": issuer, "redirect_uris": [spec.redirect_uri],
        "client_authn_methods": {"private_key_jwt": IssuerAudience},
        "preference": {"token_endpoint_auth_methods_supported": ["private_key_jwt"],
                       "token_endpoint_auth_signing_alg_values_supported": ["ES256"],
                       "id_token_signing_alg_values_supported": ["ES256"], "subject_types_supported": ["pairwise"],
                       "response_types_supported": ["code"], "scopes_supported": ["openid"]},
        "add_ons": {"pkce": {"function": "idpyoidc.client.oauth2.add_on.pkce.add_support",
                             "kwargs": {"code_challenge_length": 64, "code_challenge_method": "S256"}}},
    }
    return StandAloneClient(keyjar=keyjar, config=config, httpc=http)


@dataclass
class IdpySession:
    """One idpyoidc relying party against the target, with the results of the steps run so far."""

    target: Target
    spec: ClientSpec
    stop_at: tuple[str, ...]
    client: Any = None
    http: _Http = field(default_factory=_Http)
    state: str = ""
    tokens: dict[str, Any] = field(default_factory=dict)

    def discover(self) -> dict[str, Any]:
        if self.client is None:
            client = _client(self.spec, self.target.issuer, self.http)
            issuer = client.do_provider_info()
            check(issuer == self.target.issuer, f"idpyoidc saw issuer {issuer}")
            client.do_client_registration()
            self.client = client
        info: dict[str, Any] = self.client.get_context().provider_info.to_dict()
        return info

    def code_flow(self) -> dict[str, Any]:
        if not self.tokens:
            self.discover()
            url = self.client.init_authorization(req_args={"scope": "openid offline_access", "prompt": "consent"})
            check("code_challenge_method=S256" in url, "idpyoidc did not add PKCE")
            with Browser(ACCOUNT) as browser:
                arrival = browser.go(url, stop_at=self.stop_at)
            check(arrival.arrived and "code" in arrival.params, f"no code: {arrival.describe()}")
            response = self.client.finalize_auth(arrival.params)
            check("error" not in response, f"authorization response refused: {response.to_dict()}")
            self.state = response["state"]
            result = self.call(self.client.get_access_and_id_token, response, state=self.state)
            check(isinstance(result, dict), f"token request failed: {result}")
            check(result["id_token"] is not None, "no verified ID token")
            stored = self.client.get_context().cstate.get_set(self.state, claim=["refresh_token"])
            self.tokens = {"access_token": result["access_token"], "id_token": result["id_token"].to_dict(),
                           "refresh_token": stored.get("refresh_token")}
        return self.tokens

    def call(self, method: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Run an idpyoidc step; on failure, say what the server answered."""
        self.http.last_error = ""
        try:
            return method(*args, **kwargs)
        except Exception as exc:
            said = f"; {self.http.last_error}" if self.http.last_error else ""
            raise Failed(f"{type(exc).__name__}: {exc}{said}") from exc


def discovery(session: IdpySession) -> str:
    info = session.discover()
    needed = ("authorization_endpoint", "token_endpoint", "jwks_uri", "userinfo_endpoint")
    missing = [member for member in needed if member not in info]
    check(not missing, f"missing {missing}")
    return f"issuer matches; {len(info)} members parsed by idpyoidc's ProviderConfigurationResponse"


def code_flow(session: IdpySession) -> str:
    tokens = session.code_flow()
    id_token = tokens["id_token"]
    check(id_token.get("aud") in (session.spec.client_id, [session.spec.client_id]), f"aud {id_token.get('aud')}")
    return f"PKCE S256 + private_key_jwt; ID token verified by cryptojwt (sub {id_token['sub'][:12]}…)"


def userinfo(session: IdpySession) -> str:
    tokens = session.code_flow()
    claims = session.call(session.client.get_user_info, state=session.state,
                          access_token=tokens["access_token"]).to_dict()
    check(claims.get("sub") == tokens["id_token"]["sub"], f"userinfo sub {claims.get('sub')} differs from the ID token")
    return "userinfo sub matches the ID token"


def refresh(session: IdpySession) -> str:
    tokens = session.code_flow()
    response = session.call(session.client.refresh_access_token, state=session.state).to_dict()
    check(response.get("access_token") and response["access_token"] != tokens["access_token"], "no new access token")
    check(tokens["refresh_token"], "no refresh token with the code")
    check(response.get("refresh_token") not in (None, tokens["refresh_token"]), "the refresh token was not rotated")
    return "new access token; refresh token rotated"


#: (name, scenario), in run order.
SCENARIOS: Final[tuple[tuple[str, Callable[[IdpySession], str]], ...]] = (
    ("idpyoidc discovery", discovery),
    ("idpyoidc code + PKCE + private_key_jwt", code_flow),
    ("idpyoidc userinfo", userinfo),
    ("idpyoidc refresh", refresh),
)

__all__ = ["SCENARIOS", "IdpySession"]
