"""The harness's user agent: follows redirects with a cookie jar and completes the scripted login over plain HTTP.

The scripted login is the TEST authenticator's contract (notes/contracts.md, "Interaction and login"): an HTML
form with an ``account_id`` field, posted to ``/interaction/{uid}/test-login``. Any other form on the way (a
consent page, a logout confirmation) is submitted with its first submit button and every checkbox ticked: the
person approves everything. The walk ends when a redirect leaves for one of the ``stop_at`` URIs (the relying
party's redirect URIs, never contacted) or when a page has no form to submit.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser
from typing import Final
from urllib.parse import parse_qsl, urljoin, urlsplit

import httpx

_MAX_STEPS: Final = 25
_MAX_FORMS: Final = 4


@dataclass
class Form:
    """One HTML form: where it posts and its successful controls (HTML §4.10.21.4, simplified)."""

    action: str
    method: str
    fields: list[tuple[str, str]] = field(default_factory=list)
    names: set[str] = field(default_factory=set)
    submit: tuple[str, str] | None = None
    has_submit: bool = False


class _FormParser(HTMLParser):
    """Collects forms and their controls, including controls outside a form that name it with ``form=``."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[Form] = []
        self._by_id: dict[str, Form] = {}
        self._controls: list[tuple[str, dict[str, str], Form | None]] = []
        self._current: Form | None = None
        self._textarea: tuple[Form | None, dict[str, str], list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._current = Form(a.get("action", ""), a.get("method", "get").lower())
            self.forms.append(self._current)
            if a.get("id"):
                self._by_id[a["id"]] = self._current
        elif tag == "textarea":
            self._textarea = (self._current, a, [])
        elif tag in ("input", "button"):
            self._controls.append((tag, a, self._current))

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[2].append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._current = None
        elif tag == "textarea" and self._textarea is not None:
            form, a, text = self._textarea
            self._controls.append(("textarea", {**a, "value": "".join(text)}, form))
            self._textarea = None

    def close(self) -> None:
        super().close()
        for tag, a, enclosing in self._controls:
            owner = self._by_id.get(a["form"]) if a.get("form") else enclosing
            if owner is None:
                continue
            kind, name, value = a.get("type", "").lower(), a.get("name", ""), a.get("value", "")
            if tag == "button" or kind in ("submit", "image"):
                if (tag == "input" or kind in ("", "submit")) and not owner.has_submit:
                    owner.has_submit = True
                    owner.submit = (name, value) if name else None
                continue
            if not name or kind in ("reset", "file", "button") or (kind == "radio" and "checked" not in a):
                continue
            owner.fields.append((name, (value or "on") if kind == "checkbox" else value))
            owner.names.add(name)


def parse_forms(html: str) -> list[Form]:
    """The forms of an HTML page."""
    parser = _FormParser()
    parser.feed(html)
    parser.close()
    return parser.forms


@dataclass
class Arrival:
    """Where the walk ended. ``url`` is the redirect to a ``stop_at`` URI (``arrived``), or the last page."""

    url: str
    arrived: bool
    status: int
    logins: int
    forms: int
    body: str = ""
    hops: list[str] = field(default_factory=list)

    @property
    def params(self) -> dict[str, str]:
        """The query parameters of the final URL (the authorization or logout response)."""
        return dict(parse_qsl(urlsplit(self.url).query))

    def describe(self) -> str:
        """A short account for failure messages."""
        if self.arrived:
            return f"redirected to {self.url}"
        text = " ".join(self.body.split())[:160]
        return f"stopped at {self.url} with HTTP {self.status}: {text!r}"


class Browser:
    """One user agent (one cookie jar) signing in as ``account``."""

    def __init__(self, account: str, *, timeout: float = 15.0) -> None:
        self.account = account
        self.http = httpx.Client(follow_redirects=False, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def go(self, url: str, *, stop_at: tuple[str, ...], login: bool = True) -> Arrival:
        """Open ``url`` and walk on until a redirect leaves for a ``stop_at`` URI. With ``login`` false the walk
        stops at a login form instead of submitting it."""
        method, data, logins, forms, hops = "GET", None, 0, 0, []
        for _ in range(_MAX_STEPS):
            hops.append(f"{method} {url}")
            response = self.http.request(method, url, data=data)
            if response.is_redirect:
                location = urljoin(url, response.headers["location"])
                if location.startswith(stop_at):
                    return Arrival(location, True, response.status_code, logins, forms, hops=hops)
                keep = response.status_code in (307, 308)
                method, data, url = (method, data, location) if keep else ("GET", None, location)
                continue
            page = Arrival(url, False, response.status_code, logins, forms, response.text, hops)
            if response.status_code != 200 or "html" not in response.headers.get("content-type", ""):
                return page
            step = self.login_step(url, response.text) if login else None
            if step is not None:
                (method, url), data, logins = step, None, logins + 1
                continue
            candidates = [f for f in parse_forms(response.text) if f.has_submit or f.fields]
            if not candidates or forms >= _MAX_FORMS:
                return page
            form = next((f for f in candidates if "account_id" in f.names), candidates[0])
            fields = list(form.fields)
            if "account_id" in form.names:
                if not login:
                    return page
                fields = [(k, self.account if k == "account_id" else v) for k, v in fields]
                logins += 1
            else:
                forms += 1
            if form.submit is not None:
                fields.append(form.submit)
            method = "POST" if form.method == "post" else "GET"
            target = urljoin(url, form.action or url)
            if method == "GET":
                url, data = str(httpx.URL(target).copy_merge_params(dict(fields))), None
            else:
                url, data = target, _multi(fields)
        raise RuntimeError(f"more than {_MAX_STEPS} steps: {' -> '.join(hops[-5:])}")


    def login_step(self, url: str, html: str) -> tuple[str, str] | None:
        """A login this user agent completes by itself on ``url`` (none here: the scripted form is a form); the
        request that follows it (method, URL)."""
        return None


def _multi(fields: list[tuple[str, str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for name, value in fields:
        out.setdefault(name, []).append(value)
    return out


__all__ = ["Arrival", "Browser", "Form", "parse_forms"]
