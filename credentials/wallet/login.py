"""The person's side of the authorization code flow: the wallet plays the browser at the provider.

:class:`UserAgent` follows the provider's redirects from the authorization request to the wallet's redirect URI,
through the login of a :class:`LoginDriver` and the consent page, where it approves the claims :attr:`UserAgent.
approve` picks (by default every claim offered except ``gender``: sex goes into a credential only when the
person opts in). Drivers:

* :class:`CardAgentLogin` does what the provider's login page script does: it hands the page's token to the card
  agent on this machine (``python -m cardreader agent``), follows the agent's progress — the PIN is entered in the
  agent's own terminal or PIN pad, never here — and finishes the login.
* :class:`TestLogin` fills the provider's test login form (test mode only): an account, claims and the four
  facts the credential issuer takes.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx

_TOKEN = re.compile(r'data-token="([A-Za-z0-9_-]{43})"')
_CLAIM = re.compile(r'name="claim" value="([^"]+)"')
_INTERACTION = re.compile(r"/interaction/([A-Za-z0-9_-]{43})(?:/.*)?$")


class LoginFailed(Exception):
    """The login or the authorization did not succeed; the message says why."""


class LoginDriver(Protocol):
    """Completes the login of one interaction; returns where the browser goes next."""

    def log_in(self, agent: UserAgent, uid: str) -> str:
        """Log in at interaction ``uid``."""
        ...


def default_approval(with_sex: bool) -> Callable[[Sequence[str]], list[str]]:
    """Approve every claim offered, ``gender`` only when ``with_sex``."""
    return lambda offered: [c for c in offered if c != "gender" or with_sex]


@dataclass
class UserAgent:
    """A cookie-keeping browser at ``provider`` that stops at ``redirect_uri``."""

    provider: str
    redirect_uri: str
    driver: LoginDriver
    approve: Callable[[Sequence[str]], list[str]] = field(default_factory=lambda: default_approval(False))
    http: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=30, follow_redirects=False))

    def post_form(self, path: str, fields: Sequence[tuple[str, str]]) -> httpx.Response:
        """A form POST from one of the provider's pages (``Origin`` the provider's, as a browser sends it)."""
        return self.http.post(urljoin(self.provider, path), content=urlencode(list(fields)),
                              headers={"Origin": self.provider, "Content-Type": "application/x-www-form-urlencoded"})

    def authorize(self, url: str) -> dict[str, str]:
        """Follow the authorization request at ``url`` to the redirect URI; its query parameters."""
        location = url
        for _ in range(20):
            if location.startswith(self.redirect_uri):
                query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
                if "error" in query:
                    raise LoginFailed(f"authorization refused: {query['error']}: {query.get('error_description')}")
                return query
            path = urlsplit(location).path
            if path.endswith("/consent"):
                location = self._consent(location)
                continue
            match = _INTERACTION.search(path)
            if match and path == f"/interaction/{match[1]}":
                page = self.http.get(urljoin(self.provider, location))
                if page.status_code in (302, 303):
                    location = page.headers["location"]
                    continue
                location = self.driver.log_in(self, match[1])
                continue
            answer = self.http.get(urljoin(self.provider, location))
            if answer.status_code not in (302, 303):
                raise LoginFailed(f"the provider answered {answer.status_code} at {path}")
            location = answer.headers["location"]
        raise LoginFailed("too many redirects")

    def _consent(self, location: str) -> str:
        page = self.http.get(urljoin(self.provider, location))
        if page.status_code != 200:
            raise LoginFailed(f"consent page: {page.status_code}")
        offered = _CLAIM.findall(page.text)
        fields = [("decision", "allow"), *(("claim", c) for c in self.approve(offered))]
        answer = self.post_form(urlsplit(location).path, fields)
        if answer.status_code not in (302, 303):
            raise LoginFailed(f"consent: {answer.status_code}")
        return str(answer.headers["location"])


@dataclass
class CardAgentLogin:
    """Log in with the card through the card agent at ``agent_url`` (the PIN is the agent's business)."""

    agent_url: str
    timeout: float = 180.0

    def log_in(self, agent: UserAgent, uid: str) -> str:
        """Token to the agent, wait for it, finish."""
        page = agent.http.get(urljoin(agent.provider, f"/interaction/{uid}"))
        token = _TOKEN.search(page.text)
        if token is None:
            raise LoginFailed("the login page has no card login token")
        origin = {"Origin": agent.provider}
        started = httpx.post(f"{self.agent_url}/v1/login", json={"token": token[1]}, headers=origin, timeout=30)
        if started.status_code != 202:
            raise LoginFailed(f"the card agent refused: {started.text[:200]}")
        login_id = started.json()["login"]
        deadline = time.monotonic() + self.timeout
        while True:
            view = httpx.get(f"{self.agent_url}/v1/login/{login_id}", headers=origin, timeout=30).json()
            if view["state"] == "done":
                break
            if view["state"] == "failed":
                raise LoginFailed(f"card login failed: {(view.get('error') or {}).get('reason')}")
            if time.monotonic() > deadline:
                raise LoginFailed("the card login took too long")
            time.sleep(0.1)
        finished = agent.post_form(f"/interaction/{uid}/card/finish", [])
        if finished.status_code != 303:
            raise LoginFailed(f"finishing the card login: {finished.status_code}")
        return str(finished.headers["location"])


@dataclass
class TestLogin:
    """The provider's test login (test mode only)."""

    account_id: str
    claims: Mapping[str, Any] = field(default_factory=dict)
    facts: Mapping[str, Any] | None = None

    def log_in(self, agent: UserAgent, uid: str) -> str:
        """Submit the test login form."""
        form = {"account_id": self.account_id, "claims": json.dumps(dict(self.claims), ensure_ascii=False)}
        if self.facts is not None:
            form["facts"] = json.dumps(dict(self.facts), ensure_ascii=False)
        answer = agent.post_form(f"/interaction/{uid}/test-login", list(form.items()))
        if answer.status_code != 303:
            raise LoginFailed(f"test login: {answer.status_code} {answer.text[:200]}")
        return str(answer.headers["location"])


__all__ = ["CardAgentLogin", "LoginDriver", "LoginFailed", "TestLogin", "UserAgent", "default_approval"]
