"""``python -m conformance faults``: our provider on PostgreSQL under sustained load, through races and faults.

Loopback only. A private PostgreSQL cluster (:mod:`tests.support.postgres`) and ``idp serve --workers 2`` in test
mode (the TEST authenticator) on it; the client is ``rp-jwt`` (private_key_jwt) running complete flows
(:mod:`conformance.oidc_flow`) with ``--concurrency`` flows in flight for the whole run. While that load runs, the
scenarios run one after the other:

* ``code-race``: one authorization code redeemed by ``--racers`` concurrent token requests (each on its own
  connection, so both workers take part): exactly one 200, every other answer ``invalid_grant``, and the grant is
  revoked (RFC 6749 §4.1.2): gone from the database, and the winner's access token refused at userinfo;
* ``refresh-race``: one refresh token (``offline_access``) rotated by ``--racers`` concurrent requests: only 200 or
  ``invalid_grant``, every 200 the same answer (one successor, the grace period's identical retry: nothing issued
  twice), at most one live successor in the database, and it rotates once more unless the grant was revoked;
* ``credential-race``: one OpenID4VCI credential dataset asked for by ``--racers`` concurrent Credential Requests
  with the same DPoP-bound access token (obtained by the wallet with the test login, no card), half of them the same
  request and half with key proofs and ``c_nonce`` values of their own: one issuance, every 200 the same answer to
  the same request (the idempotent retry), every refusal ``credential_request_denied`` or ``invalid_nonce``, and in
  the database one issued credential and one ``credential_issued`` event;
* ``postgres-restart``: the cluster stopped as a crash would (``pg_ctl stop -m immediate``) for ``--down`` seconds
  and started again: meanwhile requests fail fast with 503 and ``Retry-After``, and the same workers (same PIDs)
  serve complete flows again within ``--recovery`` seconds;
* ``worker-kill``: one worker killed with SIGKILL while it serves requests: only the requests it held fail (at the
  connection, never with a 5xx), uvicorn starts a replacement, and flows keep completing;
* ``clock-step``: every worker's clock stepped forward by ``--step`` seconds (the test clock offset file,
  :data:`idp.runtime.CLOCK_OFFSET_FILE_ENV`; the client's clock follows) and back: a code issued before the step
  has expired, an access token issued before it is refused, a code redeemed while the clock was ahead stays used
  once the clock is back, and flows complete on both sides of each step.

Then, from the clients' side and from the database: every load flow outside the fault windows completed; no 5xx
but the 503s (with ``Retry-After``) of the restart window; no connection failures outside the kill window; no
access token (``jti``) and no code issued twice; the audit trail's ``token_issued`` events are at least the 200
token answers the clients saw (nothing lost) and at most those plus the token requests cut off by the kill.

Short form (the default, about a minute; CI runs it through ``tests/conformance/test_faults.py``); the nightly form
is ``python -m conformance faults --nightly`` (more racers, more flows in flight, longer load between faults, every
fault three times). Prints ``PASS``/``FAIL scenario: detail`` lines, then ``faults: N passed, M failed``; exits 1
when one failed.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import json
import os
import secrets
import signal
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final
from urllib.parse import parse_qs, urlencode

import httpx

from conformance.faults_wallet import WALLET, WalletToken
from conformance.oidc_browser import Browser
from conformance.oidc_clients import ACCOUNT, ClientSpec, standard_clients
from conformance.oidc_flow import Endpoints, FlowError, Relying, authorize, log_in, run_flow, token_form
from conformance.oidc_targets import Target, TargetError, ours, workdir
from idp.oauth.refresh import token_id
from idp.runtime import CLOCK_OFFSET_FILE_ENV
from tests.support.postgres import Cluster, install

WORKERS: Final = 2
#: Seconds after a fault's end during which its effects may still show (a response that was already on its way).
_SETTLE: Final = 1.0


@dataclass(frozen=True)
class Shape:
    """How hard the run pushes: flows in flight, racers, seconds of plain load between faults, repetitions."""

    concurrency: int
    racers: int
    between: float
    rounds: int
    down: float
    recovery: float
    step: float


SHORT: Final = Shape(concurrency=4, racers=20, between=2.0, rounds=1, down=1.5, recovery=20.0, step=900.0)
#: The nightly clock step stays within the browser session's lifetime (``session_ttl``, 3600 s: the load's logged-in
#: flows go on) and beyond the access token's, the code's and the interaction's (600, 60 and 900 s).
NIGHTLY: Final = Shape(concurrency=12, racers=100, between=30.0, rounds=3, down=5.0, recovery=30.0, step=3000.0)


@dataclass
class Seen:
    """One HTTP answer as a client saw it."""

    at: float
    path: str
    status: int
    retry_after: str | None
    seconds: float


@dataclass
class Ledger:
    """Everything the clients saw, and the fault windows (monotonic seconds)."""

    seen: list[Seen] = field(default_factory=list)
    cut: list[tuple[float, str]] = field(default_factory=list)  # connection failures: time, path
    failed_flows: list[tuple[float, str]] = field(default_factory=list)
    completed: list[float] = field(default_factory=list)
    windows: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    token_200: int = 0
    #: Each access token's jti and the answer that carried it: the same jti in another answer is issued twice,
    #: in the same answer again a re-delivery (the refresh grace period's identical retry).
    deliveries: dict[str, bytes] = field(default_factory=dict)
    redelivered: int = 0
    issued_twice: list[str] = field(default_factory=list)
    codes_200: Counter[str] = field(default_factory=Counter)
    successors: dict[str, set[str]] = field(default_factory=dict)

    def inside(self, kind: str, at: float) -> bool:
        return any(start <= at <= end + _SETTLE for start, end in self.windows.get(kind, ()))

    def open_window(self, kind: str) -> int:
        self.windows.setdefault(kind, []).append((time.monotonic(), float("inf")))
        return len(self.windows[kind]) - 1

    def close_window(self, kind: str, index: int) -> None:
        self.windows[kind][index] = (self.windows[kind][index][0], time.monotonic())

    async def on_request(self, request: httpx.Request) -> None:
        request.extensions["faults_started"] = time.monotonic()

    async def on_response(self, response: httpx.Response) -> None:
        if response.request.url.path.endswith("/token") and response.status_code == 200:
            await response.aread()
        self._note(response)

    def on_request_sync(self, request: httpx.Request) -> None:
        request.extensions["faults_started"] = time.monotonic()

    def on_response_sync(self, response: httpx.Response) -> None:
        if response.request.url.path.endswith("/token") and response.status_code == 200:
            response.read()
        self._note(response)

    def _note(self, response: httpx.Response) -> None:
        """Record one answer (a token answer's body has been read)."""
        request = response.request
        now = time.monotonic()
        self.seen.append(Seen(now, request.url.path, response.status_code, response.headers.get("retry-after"),
                              now - request.extensions.get("faults_started", now)))
        if request.url.path.endswith("/token") and response.status_code == 200:
            body = response.content
            self.token_200 += 1
            jti = _jti(response.json().get("access_token", ""))
            before = self.deliveries.setdefault(jti, body)
            if before is not body:
                self.redelivered += before == body
                self.issued_twice.extend([] if before == body else [f"access token {jti}"])
            form = parse_qs(request.content.decode())
            if form.get("grant_type") == ["authorization_code"]:
                self.codes_200[form["code"][0]] += 1
            elif form.get("grant_type") == ["refresh_token"]:
                self.successors.setdefault(form["refresh_token"][0], set()).add(response.json()["refresh_token"])

    def client(self, cookies: httpx.Cookies | None = None, *, fresh_connections: bool = False,
               connections: int = 64) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=connections,
                              max_keepalive_connections=0 if fresh_connections else connections)
        return httpx.AsyncClient(cookies=cookies, limits=limits, timeout=30,
                                 event_hooks={"request": [self.on_request], "response": [self.on_response]})

    def sync_client(self) -> httpx.Client:
        """A blocking client (the wallet library's) whose answers go to the ledger too."""
        return httpx.Client(timeout=30, follow_redirects=False,
                            event_hooks={"request": [self.on_request_sync], "response": [self.on_response_sync]})


def _jti(token: str) -> str:
    try:
        payload = token.split(".")[1]
        return str(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"])
    except (IndexError, ValueError, KeyError):
        return f"unparsed:{token[:16]}"


class Failed(Exception):
    """A scenario's expectation did not hold."""


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise Failed(message)


@dataclass
class Run:
    """What the scenarios share: the provider, the cluster, the client and the ledger."""

    target: Target
    cluster: Cluster
    database_url: str
    ep: Endpoints
    rp: Relying
    cookies: httpx.Cookies
    shape: Shape
    clock_file: Path
    ledger: Ledger = field(default_factory=Ledger)

    def sql(self, statement: str, **values: str) -> str:
        return self.cluster.sql(self.database_url, statement, **values)

    def workers(self) -> list[int]:
        return [pid for pid in self.target.worker_pids()
                if b"resource_tracker" not in _cmdline(pid) and _alive(pid)]

    async def until_flows_complete(self, after: float, limit: float) -> float:
        """Seconds until a load flow completes after ``after``; Failed after ``limit`` seconds."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if any(t > after for t in self.ledger.completed[-50:]):
                return time.monotonic() - after
            await asyncio.sleep(0.05)
        raise Failed(f"no flow completed within {limit:.0f} s")


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


async def _load(run: Run, stop: asyncio.Event) -> None:
    """``concurrency`` flows in flight until ``stop``; each outcome goes to the ledger."""
    ledger = run.ledger
    async with ledger.client(run.cookies) as http:
        async def loop() -> None:
            while not stop.is_set():
                try:
                    await run_flow(http, run.ep, run.rp)
                except FlowError as exc:
                    ledger.failed_flows.append((time.monotonic(), str(exc)[:160]))
                except httpx.TransportError as exc:
                    ledger.cut.append((time.monotonic(), type(exc).__name__))
                    ledger.failed_flows.append((time.monotonic(), f"connection: {type(exc).__name__}"))
                    await asyncio.sleep(0.05)
                else:
                    ledger.completed.append(time.monotonic())
        await asyncio.gather(*(loop() for _ in range(run.shape.concurrency)))


async def code_race(run: Run) -> str:
    async with run.ledger.client(run.cookies) as http:
        code, verifier = await authorize(http, run.ep, run.rp)
    grant_id = run.sql("SELECT grant_id FROM oidc_objects WHERE kind = 'AuthorizationCode' AND id = :'code'", code=code)
    _check(bool(grant_id), "the code's row was not found")
    async with run.ledger.client(fresh_connections=True, connections=run.shape.racers) as http:
        answers = await asyncio.gather(*(http.post(run.ep.token, data=token_form(run.ep, run.rp, code, verifier))
                                         for _ in range(run.shape.racers)))
        winners = [a for a in answers if a.status_code == 200]
        statuses = Counter(a.status_code for a in answers)
        _check(len(winners) == 1, f"{len(winners)} redemptions won (statuses {dict(statuses)})")
        losers = [a for a in answers if a is not winners[0]]
        _check(all(a.status_code == 400 and a.json().get("error") == "invalid_grant" for a in losers),
               f"the others answered {dict(Counter((a.status_code, a.text[:40]) for a in losers))}")
        _check(run.sql("SELECT count(*) FROM oidc_objects WHERE grant_id = :'grant'", grant=grant_id) == "0",
               "the grant's objects are still in the database")
        info = await http.get(run.ep.userinfo,
                              headers={"Authorization": f"Bearer {winners[0].json()['access_token']}"})
        _check(info.status_code == 401, f"the winner's access token still works at userinfo ({info.status_code})")
    return f"1 of {run.shape.racers} won, {len(losers)} invalid_grant, grant revoked, its access token refused"


async def refresh_race(run: Run) -> str:
    code, verifier = await asyncio.to_thread(_offline_code, run.ep, run.rp)
    async with run.ledger.client(fresh_connections=True, connections=run.shape.racers) as http:
        issued = await http.post(run.ep.token, data=token_form(run.ep, run.rp, code, verifier))
        _check(issued.status_code == 200 and "refresh_token" in issued.json(), f"no refresh token: {issued.text}")
        refresh_token = issued.json()["refresh_token"]
        grant_id = run.sql("SELECT grant_id FROM oidc_objects WHERE kind = 'RefreshToken' AND id = :'id'",
                           id=token_id(refresh_token))
        _check(bool(grant_id), "the refresh token's row was not found")

        def form(token: str) -> dict[str, str]:
            return {"grant_type": "refresh_token", "refresh_token": token, **run.rp.assertion(run.ep.issuer)}
        answers = await asyncio.gather(*(http.post(run.ep.token, data=form(refresh_token))
                                         for _ in range(run.shape.racers)))
        statuses = Counter(a.status_code for a in answers)
        _check(set(statuses) <= {200, 400}, f"statuses {dict(statuses)}")
        _check(all(a.json().get("error") == "invalid_grant" for a in answers if a.status_code == 400),
               "a refusal other than invalid_grant")
        bodies = {(a.json()["refresh_token"], a.json()["access_token"]) for a in answers if a.status_code == 200}
        _check(len(bodies) == 1, f"{len(bodies)} different successors issued")
        _check(statuses[200] <= 2, f"{statuses[200]} answers 200: more than the rotation and its one retry")
        live = int(run.sql("SELECT count(*) FROM oidc_objects WHERE kind = 'RefreshToken' AND grant_id = :'grant' "
                           "AND consumed_at IS NULL", grant=grant_id))
        again = await http.post(run.ep.token, data=form(next(iter(bodies))[0]))
        if statuses[400]:  # a replay beyond the one retry: the grant is revoked (RFC 9700 §4.14.2)
            _check(live == 0 and again.status_code == 400, f"replayed, yet the grant lives ({live} live tokens, "
                                                           f"the successor answered {again.status_code})")
            outcome = "the grant revoked"
        else:
            _check(live == 1 and again.status_code == 200, f"{live} live tokens; the successor: {again.text[:80]}")
            outcome = "the successor rotates once more"
    return (f"{statuses[200]} answered 200 with one successor (rotation + its grace retry), {statuses[400]} "
            f"invalid_grant, {outcome}")


async def credential_race(run: Run) -> str:
    """One credential dataset asked for by ``racers`` concurrent Credential Requests with the same DPoP-bound access
    token: half the same request (one key proof and ``c_nonce``), half each with a key proof and ``c_nonce`` of its
    own. One issuance (OpenID4VCI 1.0 §8); every other answer is either that answer again, byte for byte, to the
    same request (§8.2's idempotent retry, nothing issued twice) or ``credential_request_denied`` / ``invalid_nonce``
    (§8.3.1.2); the database holds one issued credential for the dataset and one ``credential_issued`` event more."""
    racers = run.shape.racers
    with run.ledger.sync_client() as http:
        wallet = await asyncio.to_thread(WalletToken.obtain, run.ep.issuer, http, f"faults-{secrets.token_hex(4)}")
        prepared = await asyncio.to_thread(wallet.requests, same=racers // 2, fresh=racers - racers // 2)
    audit_before = int(run.sql("SELECT count(*) FROM audit_log WHERE type = 'credential_issued'"))
    async with run.ledger.client(fresh_connections=True, connections=racers) as client:
        answers = await asyncio.gather(*(client.post(wallet.endpoint, json=p.body, headers=p.headers)
                                         for p in prepared))
    statuses = Counter(a.status_code for a in answers)
    _check(set(statuses) <= {200, 400}, f"statuses {dict(statuses)}: {[a.text[:80] for a in answers][:2]}")
    won = [(p, a) for p, a in zip(prepared, answers, strict=True) if a.status_code == 200]
    bodies = {a.content for _, a in won}
    _check(len(bodies) == 1, f"{len(bodies)} different credential answers")
    _check(len(won) == 1 or all(p.shared for p, _ in won), "answers 200 to different requests")
    errors = Counter(a.json().get("error") for a in answers if a.status_code == 400)
    _check(set(errors) <= {"credential_request_denied", "invalid_nonce"}, f"refusals {dict(errors)}")
    credentials = json.loads(next(iter(bodies)))["credentials"]
    _check(len(credentials) == 1, f"{len(credentials)} credentials in the answer")
    identifier = wallet.credential_identifier
    state = run.sql("SELECT state FROM credential_datasets WHERE identifier = :'id'", id=identifier)
    rows = int(run.sql("SELECT count(*) FROM issued_credentials WHERE dataset = :'id'", id=identifier))
    events = int(run.sql("SELECT count(*) FROM audit_log WHERE type = 'credential_issued'")) - audit_before
    _check(rows == 1 and events == 1, f"the database holds {rows} issued credentials and {events} new "
                                      f"credential_issued events for the dataset (state {state})")
    return (f"1 credential issued to {racers} racers: {len(won)} answers 200 (the same, to the same request), "
            f"refused {dict(errors)}; 1 row and 1 audit event in the database")


async def postgres_restart(run: Run) -> str:
    workers = sorted(run.workers())
    ledger = run.ledger
    window = ledger.open_window("restart")
    started = time.monotonic()
    await asyncio.to_thread(run.cluster.stop_server, "immediate")
    await asyncio.sleep(run.shape.down)
    await asyncio.to_thread(run.cluster.start_server)
    up = time.monotonic()
    recovered = await run.until_flows_complete(up, run.shape.recovery)
    ledger.close_window("restart", window)
    during = [s for s in ledger.seen if started <= s.at <= time.monotonic() and s.status >= 500]
    _check(bool(during), "no request failed while the database was down: the window was not exercised")
    _check(all(s.status == 503 and s.retry_after for s in during),
           f"other answers than 503 with Retry-After: {dict(Counter((s.status, s.retry_after) for s in during))}")
    slowest = max(s.seconds for s in during)
    _check(slowest < 6.0, f"a 503 took {slowest:.1f} s (not failing fast)")
    _check(sorted(run.workers()) == workers, "the workers were restarted")
    return (f"{len(during)} answers 503 with Retry-After (slowest {slowest * 1000:.0f} ms), "
            f"down {run.shape.down:.0f} s, flows complete {recovered:.1f} s after the restart, same workers")


async def worker_kill(run: Run) -> str:
    before = run.workers()
    _check(len(before) == WORKERS, f"{len(before)} workers before the kill")
    ledger = run.ledger
    window = ledger.open_window("kill")
    async with ledger.client(run.cookies, fresh_connections=True, connections=run.shape.racers) as http:
        burst = asyncio.gather(*(authorize(http, run.ep, run.rp) for _ in range(run.shape.racers)),
                               return_exceptions=True)  # requests in flight on both workers when the kill lands
        await asyncio.sleep(0.02)
        killed_at = time.monotonic()
        os.kill(before[0], signal.SIGKILL)
        outcomes = await burst
    cut_in_burst = [o for o in outcomes if isinstance(o, httpx.TransportError)]
    ledger.cut.extend((killed_at, type(o).__name__) for o in cut_in_burst)
    _check(all(isinstance(o, tuple | httpx.TransportError) for o in outcomes),
           f"the burst saw {[str(o)[:60] for o in outcomes if not isinstance(o, tuple | httpx.TransportError)][:2]}")
    deadline = killed_at + run.shape.recovery
    while time.monotonic() < deadline:
        now_workers = run.workers()
        if len(now_workers) == WORKERS and before[0] not in now_workers:
            break
        await asyncio.sleep(0.1)
    else:
        raise Failed(f"no replacement worker within {run.shape.recovery:.0f} s")
    replaced = time.monotonic() - killed_at
    await run.until_flows_complete(time.monotonic(), run.shape.recovery)
    ledger.close_window("kill", window)
    cut = [c for c in ledger.cut if c[0] >= killed_at]
    return (f"replaced in {replaced:.1f} s, {len(cut)} requests cut at the connection "
            f"({len(cut_in_burst)} of a burst of {run.shape.racers} in flight), the rest answered, flows complete")


async def clock_step(run: Run) -> str:
    ledger = run.ledger
    async with ledger.client(run.cookies) as http:
        old_code, old_verifier = await authorize(http, run.ep, run.rp)
        old_token = (await http.post(run.ep.token, data=token_form(
            run.ep, run.rp, *(await authorize(http, run.ep, run.rp))))).json()["access_token"]
        window = ledger.open_window("clock")
        _set_clock(run, run.shape.step)
        try:
            await run.until_flows_complete(time.monotonic(), run.shape.recovery)
            expired = await http.post(run.ep.token, data=token_form(run.ep, run.rp, old_code, old_verifier))
            _check(expired.status_code == 400 and expired.json().get("error") == "invalid_grant",
                   f"a code from before the step was answered {expired.status_code}")
            refused = await http.get(run.ep.userinfo, headers={"Authorization": f"Bearer {old_token}"})
            _check(refused.status_code == 401, f"an access token from before the step: {refused.status_code}")
            ahead_code, ahead_verifier = await authorize(http, run.ep, run.rp)
            ahead = await http.post(run.ep.token, data=token_form(run.ep, run.rp, ahead_code, ahead_verifier))
            _check(ahead.status_code == 200, f"a code redeemed while ahead: {ahead.status_code}")
        finally:
            _set_clock(run, 0.0)
        await run.until_flows_complete(time.monotonic(), run.shape.recovery)
        ledger.close_window("clock", window)
        replay = await http.post(run.ep.token, data=token_form(run.ep, run.rp, ahead_code, ahead_verifier))
        _check(replay.status_code == 400 and replay.json().get("error") == "invalid_grant",
               f"the code used while ahead, replayed after the step back: {replay.status_code}")
    return (f"+{run.shape.step:.0f} s: an older code expired and an older access token refused; back: a code used "
            "while ahead stays used; flows complete on both sides")


def _set_clock(run: Run, offset: float) -> None:
    run.clock_file.write_text(str(offset))
    run.rp.clock_offset = offset


Scenario = Callable[[Run], Awaitable[str]]
SCENARIOS: Final[list[tuple[str, Scenario, bool]]] = [  # name, scenario, repeated in every round
    ("code-race", code_race, True),
    ("refresh-race", refresh_race, True),
    ("credential-race", credential_race, True),
    ("postgres-restart", postgres_restart, True),
    ("worker-kill", worker_kill, True),
    ("clock-step", clock_step, False),
]


def ledger_checks(run: Run, issued_in_database: int) -> list[tuple[str, bool, str]]:
    """The run's totals, from the clients' side and from the database."""
    ledger = run.ledger

    def excused(at: float) -> bool:
        return any(ledger.inside(kind, at) for kind in ("restart", "kill", "clock"))

    unexplained = [f for f in ledger.failed_flows if not excused(f[0])]
    server_errors = [s for s in ledger.seen if s.status >= 500
                     and not (s.status == 503 and s.retry_after and ledger.inside("restart", s.at))]
    cut = [c for c in ledger.cut if not ledger.inside("kill", c[0])]
    twice = [*ledger.issued_twice, *(f"code {c}" for c, n in ledger.codes_200.items() if n > 1),
             *(f"successors of {r[:8]}" for r, found in ledger.successors.items() if len(found) > 1)]
    lost_token_requests = sum(1 for c in ledger.cut if c[1] and ledger.inside("kill", c[0]))
    return [
        ("load", not unexplained and len(ledger.completed) > 0,
         f"{len(ledger.completed)} flows completed, {len(ledger.failed_flows)} failed inside fault windows, "
         f"{len(unexplained)} outside" + (f" (first: {unexplained[0][1]})" if unexplained else "")),
        ("no-5xx", not server_errors and not cut,
         f"{sum(1 for s in ledger.seen if s.status == 503)} answers 503 inside the restart window; "
         f"{len(server_errors)} other 5xx, {len(cut)} connection failures outside the kill window"
         + (f" (first: {server_errors[0].status} {server_errors[0].path})" if server_errors else "")),
        ("nothing-twice", not twice, f"{len(ledger.deliveries)} access tokens, {len(ledger.codes_200)} codes "
                                     f"redeemed, {len(ledger.successors)} refresh tokens rotated, "
                                     f"{ledger.redelivered} identical re-deliveries (grace retry), "
                                     f"{len(twice)} issued twice" + (f" (first: {twice[0]})" if twice else "")),
        ("nothing-lost", ledger.token_200 <= issued_in_database <= ledger.token_200 + lost_token_requests,
         f"token_issued in the audit trail {issued_in_database}, 200 token answers seen {ledger.token_200}, "
         f"requests cut by the kill {lost_token_requests}"),
    ]


async def _scenarios(run: Run, only: str | None) -> list[tuple[str, bool, str]]:
    stop = asyncio.Event()
    load = asyncio.create_task(_load(run, stop))
    results: list[tuple[str, bool, str]] = []
    try:
        for round_ in range(run.shape.rounds):
            for name, scenario, repeated in SCENARIOS:
                if (only and only not in name) or (round_ and not repeated):
                    continue
                await asyncio.sleep(run.shape.between)
                label = name if run.shape.rounds == 1 else f"{name}#{round_ + 1}"
                try:
                    results.append((label, True, await scenario(run)))
                except Failed as exc:
                    results.append((label, False, str(exc)))
                except (FlowError, httpx.HTTPError, ValueError, KeyError, OSError) as exc:
                    results.append((label, False, f"{type(exc).__name__}: {str(exc)[:300]}"))
        await asyncio.sleep(run.shape.between)
    finally:
        stop.set()
        await load
    return results


def _offline_code(ep: Endpoints, rp: Relying) -> tuple[str, str]:
    """Log in with ``offline_access`` (consent asked and given): a code and its verifier."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    query = urlencode({"client_id": rp.client_id, "response_type": "code", "redirect_uri": rp.redirect_uri,
                       "scope": "openid offline_access", "prompt": "consent", "state": "s", "nonce": "n",
                       "code_challenge": challenge, "code_challenge_method": "S256"})
    with Browser(ACCOUNT) as browser:
        arrival = browser.go(f"{ep.authorization}?{query}", stop_at=(rp.redirect_uri,))
    if "code" not in arrival.params:
        raise Failed(f"login with offline_access failed: {arrival.describe()}")
    return arrival.params["code"], verifier


@contextlib.contextmanager
def _provider(base: Path, clients: dict[str, ClientSpec]) -> Iterator[tuple[Target, Cluster, str, Path]]:
    problem = install()
    if problem is not None:
        raise TargetError(problem)
    cluster = Cluster.start(settings=("synchronous_commit=on",))  # a crash keeps every commit it acknowledged
    try:
        url = cluster.create_database()
        clock_file = base / "clock-offset"
        clock_file.write_text("0")
        env = {"MYNACARD_LOGGING_REQUESTS": "false", CLOCK_OFFSET_FILE_ENV: str(clock_file)}
        with ours(clients, base / "ours", workers=WORKERS, database_url=url, extra_env=env) as target:
            yield target, cluster, url, clock_file
    finally:
        cluster.stop()


def run_suite(shape: Shape, *, keep: Path | None = None, only: str | None = None) -> list[tuple[str, bool, str]]:
    """Start the cluster and the provider, run the scenarios under load, then the ledger's checks."""
    clients = {**standard_clients(), WALLET.name: WALLET}
    spec = clients["jwt"]
    assert spec.private_jwk is not None
    with workdir(keep, "faults-") as base:
        (base / "ours").mkdir(parents=True, exist_ok=True)
        with _provider(base, clients) as (target, cluster, url, clock_file):
            rp = Relying(spec.client_id, spec.private_jwk, spec.redirect_uri)
            ep, cookies = log_in(target.issuers[0], rp)
            run = Run(target, cluster, url, ep, rp, cookies, shape, clock_file)
            marks = target.log_marks()
            results = asyncio.run(_scenarios(run, only))
            issued = int(run.sql("SELECT count(*) FROM audit_log WHERE type = 'token_issued'"))
            results.extend(ledger_checks(run, issued))
            errors = target.server_errors(marks)
            results.append(("server-log", not errors, f"{len(errors)} unhandled exceptions logged"
                            + (f" (first: {errors[0][:200]})" if errors else "")))
    return results


def main(argv: list[str]) -> int:
    """Run the suite; print one line per scenario and check, then the closing line."""
    parser = argparse.ArgumentParser(prog="python -m conformance faults", description=__doc__.splitlines()[0])
    parser.add_argument("--nightly", action="store_true", help="the longer form (a few minutes)")
    parser.add_argument("--only", help="run only the scenarios whose name contains this text (checks always run)")
    parser.add_argument("--keep", type=Path, help="work in this directory and keep it (server logs)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    try:
        results = run_suite(NIGHTLY if args.nightly else SHORT, keep=args.keep, only=args.only)
    except TargetError as exc:
        print(f"FAIL setup: {exc}")
        print("faults: 0 passed, 1 failed")
        return 1
    for name, passed, detail in results:
        print(f"{'PASS' if passed else 'FAIL'} {name}: {detail}")
    failed = sum(1 for _, passed, _ in results if not passed)
    print(f"({time.monotonic() - started:.0f} s)", file=sys.stderr)
    print(f"faults: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


__all__ = ["NIGHTLY", "SCENARIOS", "SHORT", "Shape", "main", "run_suite"]
