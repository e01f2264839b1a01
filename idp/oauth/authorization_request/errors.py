"""The errors of the authorization endpoint (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6, RFC 9126 §2.2; RFC 9396 §5's is
:class:`idp.oauth.authorization_request.details.InvalidAuthorizationDetailsError`),
and where they go: the client's redirect URI once it is verified (:class:`ResponseTarget`), else a page
(:class:`AuthorizationError` without a target)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from idp.errors import OAuthError


class ResponseMode(StrEnum):
    """How the response reaches the redirect URI (OAuth 2.0 Multiple Response Types §2.1, Form Post Response Mode)."""

    QUERY = "query"
    FORM_POST = "form_post"


RESPONSE_MODES: Final = tuple(mode.value for mode in ResponseMode)


class UnsupportedResponseType(OAuthError):
    """RFC 6749 §4.1.2.1 ``unsupported_response_type``: only ``code`` is supported."""

    error = "unsupported_response_type"
    status_code = 400


class AccessDenied(OAuthError):
    """RFC 6749 §4.1.2.1 ``access_denied``: the person refused, or cancelled the login."""

    error = "access_denied"
    status_code = 403


class LoginRequired(OAuthError):
    """OIDC Core §3.1.2.6 ``login_required``: ``prompt=none`` but a login is needed."""

    error = "login_required"
    status_code = 400


class ConsentRequired(OAuthError):
    """OIDC Core §3.1.2.6 ``consent_required``: ``prompt=none`` but consent is needed."""

    error = "consent_required"
    status_code = 400


class InvalidRequestUri(OAuthError):
    """OIDC Core §3.1.2.6 / RFC 9126 §4 ``invalid_request_uri``: unknown, expired, used or another client's."""

    error = "invalid_request_uri"
    status_code = 400


class UnmetAuthenticationRequirements(OAuthError):
    """``unmet_authentication_requirements`` (OpenID Connect Core Error Code): an essential ``acr`` was not met."""

    error = "unmet_authentication_requirements"
    status_code = 400


@dataclass(frozen=True, slots=True)
class ResponseTarget:
    """Where an authorization response goes: a redirect URI registered by the client, ``state``, the mode."""

    redirect_uri: str
    state: str | None
    response_mode: ResponseMode = ResponseMode.QUERY


class AuthorizationError(Exception):
    """An OAuth error at the authorization endpoint: redirected to ``target`` or, without one, shown as a page."""

    def __init__(self, error: OAuthError, target: ResponseTarget | None) -> None:
        super().__init__(str(error))
        self.error = error
        self.target = target



__all__ = ["RESPONSE_MODES", "AccessDenied", "AuthorizationError", "ConsentRequired",
           "InvalidRequestUri", "LoginRequired", "ResponseMode", "ResponseTarget",
           "UnmetAuthenticationRequirements", "UnsupportedResponseType"]
