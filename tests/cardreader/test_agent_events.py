"""The agent pushes a login's progress (issue 14: push, not poll): ``GET /v1/login/{id}/events`` (server-sent
events) and the long poll ``GET /v1/login/{id}?wait=&after=``, with a real agent process, the real pcscd with the
virtual card and the stand-in provider of :mod:`tests.cardreader.test_agent`. Checked: the gates of every ``/v1/``
route hold (Origin, Host, CORS for the provider's origin only), each state arrives as an event with the view's JSON,
the stream ends once the login is over (in kiosk mode: once the card is out, ``card_removed``), the long poll
answers at a change and not before."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cardreader.virtual.lab import PcscLab
from cardreader.virtual.profile import CardProfile

from . import test_agent
from .conftest import AUTH_PIN, Slot
from .test_agent import RunningAgent, StandInProvider, start_agent, stop

pytestmark = pytest.mark.pcsc
agent, provider = test_agent.agent, test_agent.provider  # the agent module's fixtures


def events(agent: RunningAgent, login: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """The event stream of ``login`` as the provider's page reads it: (id, view) per event, until it ends."""
    with httpx.stream("GET", f"{agent.url}/v1/login/{login}/events", headers={"Origin": agent.origin},
                      timeout=httpx.Timeout(30)) as stream:
        assert stream.status_code == 200, stream.read()
        assert stream.headers["Content-Type"].startswith("text/event-stream")
        assert stream.headers["Access-Control-Allow-Origin"] == agent.origin
        fields: dict[str, str] = {}
        for line in stream.iter_lines():
            if line == "" and "data" in fields:
                yield fields["id"], json.loads(fields["data"])
                fields = {}
            elif line and not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value


def answer_pin(agent: RunningAgent, delay: float = 0.0) -> threading.Thread:
    """The person types the PIN into the PIN pad (after ``delay`` seconds), in a thread."""
    def type_pin() -> None:
        time.sleep(delay)
        prompt = agent.prompt()
        assert agent.pad("/pinpad/answer", {"prompt": prompt["prompt"], "pin": AUTH_PIN}).status_code == 200

    typing = threading.Thread(target=type_pin, daemon=True)
    typing.start()
    return typing


def start(agent: RunningAgent, provider: StandInProvider) -> str:
    token, _ = provider.add()
    started = agent.post("/v1/login", {"token": token})
    assert started.status_code == 202, started.text
    return str(started.json()["login"])


def test_the_new_routes_keep_the_gates(reader: Slot, agent: RunningAgent, provider: StandInProvider) -> None:
    login = start(agent, provider)
    agent.prompt()
    port = agent.url.rsplit(":", 1)[1]
    for path in (f"/v1/login/{login}/events", f"/v1/login/{login}?wait=1&after=100"):
        for headers in ({}, {"Origin": "https://evil.example"}, {"Origin": agent.url}, {"Origin": "null"},
                        {"Origin": agent.origin + ".evil.example"}):
            refused = httpx.get(agent.url + path, headers=headers, timeout=10)
            assert refused.status_code == 403, (path, headers, refused.text)
            assert refused.headers["Content-Type"].startswith("application/json")
            assert "state" not in refused.json()
            assert "Access-Control-Allow-Origin" not in refused.headers
        for host in (f"rebound.evil.example:{port}", f"127.0.0.1:{int(port) + 1}", "127.0.0.1"):
            refused = agent.get(path, Host=host)
            assert refused.status_code == 421, host
            assert "state" not in refused.json()
    assert agent.get("/v1/login/" + "A" * 22 + "/events").json()["reason"] == "unknown_login"
    assert agent.get(f"/v1/login/{login}?wait=x").status_code == 400
    answer_pin(agent).join(20)
    agent.wait(login)


def test_each_state_is_pushed_until_the_login_is_over(reader: Slot, agent: RunningAgent,
                                                       provider: StandInProvider) -> None:
    login = start(agent, provider)
    typing = answer_pin(agent, delay=0.5)
    seen = list(events(agent, login))  # ends by itself once the login is over
    typing.join(20)
    states = [view["state"] for _, view in seen]
    assert states[-1] == "done", seen
    assert "waiting_for_pin" in states
    assert states.index("waiting_for_pin") < states.index("signing") < states.index("sending") < len(states) - 1
    assert len(set(states)) == len(states)  # each state once
    ids = [int(event_id) for event_id, _ in seen]
    assert ids == sorted(ids)
    assert [view["revision"] for _, view in seen] == ids
    assert seen[-1][1] == agent.get(f"/v1/login/{login}").json()  # the same JSON as the view
    assert set(seen[0][1]) == {"login", "state", "error", "remove_card", "card_removed", "revision"}


def test_the_long_poll_answers_at_a_change(reader: Slot, agent: RunningAgent, provider: StandInProvider) -> None:
    login = start(agent, provider)
    agent.prompt()
    view = agent.get(f"/v1/login/{login}").json()
    assert view["state"] == "waiting_for_pin"
    started = time.monotonic()
    unchanged = agent.get(f"/v1/login/{login}?wait=1&after={view['revision']}").json()
    assert time.monotonic() - started >= 0.9  # nothing changed: it waited
    assert unchanged == view
    typing = answer_pin(agent, delay=0.3)
    changed = agent.get(f"/v1/login/{login}?wait=25&after={view['revision']}").json()
    assert changed["revision"] > view["revision"]
    assert changed["state"] != "waiting_for_pin"
    typing.join(20)
    done = agent.wait(login)
    assert agent.get(f"/v1/login/{login}?wait=25&after={done['revision']}").json() == done  # over: at once


def test_kiosk_events_end_once_the_card_is_out(slot: Slot, card_profile: CardProfile, lab: PcscLab,
                                               provider: StandInProvider, tmp_path: Path) -> None:
    slot.use(card_profile)
    kiosk = start_agent(lab, provider, tmp_path, "--kiosk")
    try:
        login = start(kiosk, provider)
        typing = answer_pin(kiosk)
        seen: list[dict[str, Any]] = []
        for _, view in events(kiosk, login):
            seen.append(view)
            if view["state"] == "done" and view["remove_card"]:
                slot.pull()  # the person takes the card
        typing.join(20)
        assert seen[-1]["state"] == "done", seen
        assert (seen[-1]["remove_card"], seen[-1]["card_removed"]) == (False, True)
        assert [v for v in seen if v["remove_card"]], seen  # the page was told to take the card out first
    finally:
        stop(kiosk)
