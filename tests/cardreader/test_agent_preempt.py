"""A reader that never gets stuck: the login page cancels its login when it is closed, and a new login pre-empts
one whose PIN prompt was left open; neither touches a login whose PIN was given. Real agent process, pcscd with the
virtual card, and the stand-in provider of test_agent.py."""

from __future__ import annotations

import httpx
import pytest

from .conftest import AUTH_PIN, Slot
from .test_agent import RunningAgent, StandInProvider, agent, login_with_pin, provider  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.pcsc]


def test_a_closed_page_cancels_its_login_and_frees_the_reader(reader: Slot, agent: RunningAgent,  # noqa: F811
                                                              provider: StandInProvider) -> None:  # noqa: F811
    token, _ = provider.add()
    started = agent.post("/v1/login", {"token": token}).json()
    agent.prompt()
    assert agent.post(f"/v1/login/{started['login']}/cancel", {}).json() == {"cancelled": True}
    view = agent.wait(started["login"])
    assert view["state"] == "failed"
    assert view["error"]["reason"] == "cancelled"
    assert agent.get("/v1/status").json()["state"] == "idle"
    assert agent.post(f"/v1/login/{'x' * 22}/cancel", {}).json() == {"cancelled": False}
    assert httpx_post_without_origin(agent, started["login"]) == 403  # only the provider's page may cancel
    view, _ = login_with_pin(agent, provider, AUTH_PIN)  # the next login runs at once
    assert view["state"] == "done"
    assert agent.post(f"/v1/login/{view['login']}/cancel", {}).json() == {"cancelled": False}  # done: untouched


def test_a_new_login_preempts_an_abandoned_pin_prompt(reader: Slot, agent: RunningAgent,  # noqa: F811
                                                      provider: StandInProvider) -> None:  # noqa: F811
    first_token, _ = provider.add()
    first = agent.post("/v1/login", {"token": first_token}).json()
    agent.prompt()  # the first person left at the PIN prompt
    view, pending = login_with_pin(agent, provider, AUTH_PIN)
    assert view["state"] == "done", view
    assert len(pending.verified) == 1
    ended = agent.get(f"/v1/login/{first['login']}").json()  # its page learns how it ended
    assert ended["state"] == "failed"
    assert ended["error"]["reason"] == "cancelled"


def httpx_post_without_origin(running: RunningAgent, login: str) -> int:
    return httpx.post(f"{running.url}/v1/login/{login}/cancel", timeout=10).status_code


def test_taking_the_card_out_at_the_pin_prompt_ends_the_login(reader: Slot, agent: RunningAgent,  # noqa: F811
                                                              provider: StandInProvider) -> None:  # noqa: F811
    token, pending = provider.add()
    started = agent.post("/v1/login", {"token": token}).json()
    agent.prompt()
    reader.pull()
    view = agent.wait(started["login"], timeout=5)  # well before the card or PIN prompt timeouts
    assert view["state"] == "failed"
    assert view["error"]["reason"] == "cancelled"
    assert agent.pad("/pinpad/state").json()["prompt"] is None
    assert pending.verified == []
