"""HTTP with DPoP for the wallet: a DPoP key per session, the server's DPoP nonce remembered per origin, one
retry on ``use_dpop_nonce`` (RFC 9449 §8, §9), and errors as :class:`WalletError` with the server's error code."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from credentials.wallet.keys import HolderKey, dpop_proof


class WalletError(Exception):
    """A step failed; ``error`` is the server's error code when it sent one."""

    def __init__(self, message: str, error: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.error = error
        self.status = status


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _error(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return str(body["error"])
    challenge = response.headers.get("www-authenticate", "")
    return "use_dpop_nonce" if 'error="use_dpop_nonce"' in challenge else None


@dataclass
class DpopSession:
    """Requests signed with one DPoP key."""

    key: HolderKey = field(default_factory=HolderKey.generate)
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30, follow_redirects=False))
    nonces: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, url: str, *, access_token: str | None = None, data: Mapping[str, str] | None = None,
                json: Any = None, headers: Mapping[str, str] | None = None) -> httpx.Response:
        """One request with a DPoP proof (and the DPoP access token when given), retried once with a fresh
        server nonce."""
        for attempt in range(2):
            proof = dpop_proof(self.key, method=method, url=url, at=dt.datetime.now(dt.UTC),
                               nonce=self.nonces.get(_origin(url)), access_token=access_token)
            sent = {"DPoP": proof, **(headers or {})}
            if access_token is not None:
                sent["Authorization"] = f"DPoP {access_token}"
            response = self.http.request(method, url, data=data, json=json, headers=sent)
            if "dpop-nonce" in response.headers:
                self.nonces[_origin(url)] = response.headers["dpop-nonce"]
            if attempt == 0 and response.status_code in (400, 401) and _error(response) == "use_dpop_nonce":
                continue
            return response
        return response

    def json(self, method: str, url: str, *, expect: tuple[int, ...] = (200,), **kwargs: Any) -> Any:
        """The JSON answer of a request that must succeed with one of ``expect``."""
        response = self.request(method, url, **kwargs)
        if response.status_code not in expect:
            raise WalletError(f"{method} {url}: {response.status_code} {response.text[:300]}", _error(response),
                              response.status_code)
        return response.json() if response.content else None


__all__ = ["DpopSession", "WalletError"]
