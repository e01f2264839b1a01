"""The card agent's code page (``GET /``): a login shown on another device, started by its short code from the
agent's own page only — the provider's page, other pages and requests without an Origin cannot start one or read
its state."""

from __future__ import annotations

import httpx

from .test_agent import RunningAgent, agent, provider

__all__ = ["agent", "provider"]  # the fixtures, shared with test_agent


def test_the_code_page_is_the_agents_own(agent: RunningAgent) -> None:
    page = httpx.get(agent.url + "/", timeout=10)
    assert page.status_code == 200
    assert f'<link rel="stylesheet" href="{agent.origin}/assets/design.css">' in page.text
    policy = page.headers["Content-Security-Policy"]
    assert f"style-src {agent.origin} 'self';" in policy  # 'self': the PIN pad's own /pinpad.css
    assert "frame-ancestors 'none'" in policy
    assert "python -m" not in page.text
    assert agent.get("/").status_code == 403  # the provider's page cannot load it as its own


def test_only_the_agents_page_starts_a_login_by_code(agent: RunningAgent) -> None:
    code = {"code": "abcd-efgh"}
    assert agent.post("/code/login", code).status_code == 403  # the provider's origin
    assert httpx.post(agent.url + "/code/login", json=code, timeout=10).status_code == 403  # no Origin
    evil = httpx.post(agent.url + "/code/login", json=code, headers={"Origin": "https://evil.example"}, timeout=10)
    assert evil.status_code == 403
    bad = agent.pad("/code/login", {"code": "no"})
    assert (bad.status_code, bad.json()["reason"]) == (400, "bad_token")
    started = agent.pad("/code/login", code)
    assert started.status_code == 202, started.text
    login = started.json()["login"]
    assert agent.pad(f"/code/login/{login}").json()["login"] == login  # the page's own same-origin fetch
    assert httpx.get(f"{agent.url}/code/login/{login}", timeout=10).status_code == 403  # not from the page
    assert agent.get(f"/code/login/{login}").status_code == 403  # the provider's page reads /v1/ instead
